package lessons

import (
	"errors"
	"strings"
	"testing"
)

// inner strips the fixed <math><semantics><mrow> … </mrow><annotation>
// wrapper so the tests compare only the converted formula.
func inner(t *testing.T, tex string) string {
	t.Helper()
	got, err := TeXToMathML(tex, false)
	if err != nil {
		t.Fatalf("TeXToMathML(%q): %v", tex, err)
	}
	const pre = "<math><semantics><mrow>"
	i := strings.Index(got, "</mrow><annotation")
	if !strings.HasPrefix(got, pre) || i < 0 {
		t.Fatalf("TeXToMathML(%q) = %q: unexpected wrapper", tex, got)
	}
	return got[len(pre):i]
}

func TestTeXToMathML(t *testing.T) {
	tests := []struct{ tex, want string }{
		{`x`, `<mi>x</mi>`},
		{`ab`, `<mi>a</mi><mi>b</mi>`},
		{`3.14`, `<mn>3.14</mn>`},
		{`a+b-c`, `<mi>a</mi><mo>+</mo><mi>b</mi><mo>−</mo><mi>c</mi>`},
		{`x^2`, `<msup><mi>x</mi><mn>2</mn></msup>`},
		{`x_{i,j}`, `<msub><mi>x</mi><mrow><mi>i</mi><mo>,</mo><mi>j</mi></mrow></msub>`},
		{`x_i^2`, `<msubsup><mi>x</mi><mi>i</mi><mn>2</mn></msubsup>`},
		{`x^2_i`, `<msubsup><mi>x</mi><mi>i</mi><mn>2</mn></msubsup>`},
		{`\frac{a}{b}`, `<mfrac><mrow><mi>a</mi></mrow><mrow><mi>b</mi></mrow></mfrac>`},
		{`\sqrt{x}`, `<msqrt><mrow><mi>x</mi></mrow></msqrt>`},
		{`\bar d`, `<mover accent="true"><mi>d</mi><mo>¯</mo></mover>`},
		{`\hat{y}`, `<mover accent="true"><mrow><mi>y</mi></mrow><mo>^</mo></mover>`},
		{`\sqrt[3]{x}`, `<mroot><mrow><mi>x</mi></mrow><mrow><mn>3</mn></mrow></mroot>`},
		{`\sum_{i=1}^{n} x_i`, `<munderover><mo>∑</mo><mrow><mi>i</mi><mo>=</mo><mn>1</mn></mrow><mrow><mi>n</mi></mrow></munderover><msub><mi>x</mi><mi>i</mi></msub>`},
		{`\prod_k`, `<munder><mo>∏</mo><mi>k</mi></munder>`},
		{`a \cdot b \times c`, `<mi>a</mi><mo>⋅</mo><mi>b</mi><mo>×</mo><mi>c</mi>`},
		{`a \le b \ge c \ne d \approx e`, `<mi>a</mi><mo>≤</mo><mi>b</mi><mo>≥</mo><mi>c</mi><mo>≠</mo><mi>d</mi><mo>≈</mo><mi>e</mi>`},
		{`x \to y \in S`, `<mi>x</mi><mo>→</mo><mi>y</mi><mo>∈</mo><mi>S</mi>`},
		{`a < b`, `<mi>a</mi><mo>&lt;</mo><mi>b</mi>`},
		{`\alpha\Omega`, `<mi>α</mi><mi mathvariant="normal">Ω</mi>`},
		{`\mathbf{W1}`, `<mrow><mi>𝐖</mi><mn>𝟏</mn></mrow>`},
		{`\mathbf{a<b}`, `<mrow><mi>𝐚</mi><mo>&lt;</mo><mi>𝐛</mi></mrow>`},
		{`\text{out put}`, `<mtext>out put</mtext>`},
		{`\text{a<b}`, `<mtext>a&lt;b</mtext>`},
		{`\partial L / \partial w`, `<mi>∂</mi><mi>L</mi><mo>/</mo><mi>∂</mi><mi>w</mi>`},
		{`\nabla f`, `<mi>∇</mi><mi>f</mi>`},
		{`(a)[b]`, `<mo stretchy="false">(</mo><mi>a</mi><mo stretchy="false">)</mo><mo stretchy="false">[</mo><mi>b</mi><mo stretchy="false">]</mo>`},
		{`\left( x \right)`, `<mrow><mo fence="true" stretchy="true">(</mo><mi>x</mi><mo fence="true" stretchy="true">)</mo></mrow>`},
		{`\left\lfloor x \right.`, `<mrow><mo fence="true" stretchy="true">⌊</mo><mi>x</mi></mrow>`},
		{`\lfloor 27/2 \rfloor`, `<mo>⌊</mo><mn>27</mn><mo>/</mo><mn>2</mn><mo>⌋</mo>`},
		{`a\,b`, `<mi>a</mi><mspace width="0.1667em"></mspace><mi>b</mi>`},
		{`f'`, `<msup><mi>f</mi><mo>′</mo></msup>`},
	}
	for _, tt := range tests {
		if got := inner(t, tt.tex); got != tt.want {
			t.Errorf("TeXToMathML(%q)\n got %s\nwant %s", tt.tex, got, tt.want)
		}
	}
}

func TestTeXOutputSizeFormula(t *testing.T) {
	got := inner(t, `H_{\text{out}} = \left\lfloor \frac{H + 2p - d(k-1) - 1}{s} \right\rfloor + 1`)
	want := `<msub><mi>H</mi><mrow><mtext>out</mtext></mrow></msub><mo>=</mo>` +
		`<mrow><mo fence="true" stretchy="true">⌊</mo><mfrac><mrow><mi>H</mi><mo>+</mo><mn>2</mn><mi>p</mi><mo>−</mo><mi>d</mi>` +
		`<mo stretchy="false">(</mo><mi>k</mi><mo>−</mo><mn>1</mn><mo stretchy="false">)</mo><mo>−</mo><mn>1</mn></mrow><mrow><mi>s</mi></mrow></mfrac>` +
		`<mo fence="true" stretchy="true">⌋</mo></mrow><mo>+</mo><mn>1</mn>`
	if got != want {
		t.Errorf("output size formula\n got %s\nwant %s", got, want)
	}
}

func TestTeXDisplayAndAnnotation(t *testing.T) {
	got, err := TeXToMathML(`a<b`, true)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got, `<math display="block">`) {
		t.Errorf("display formula starts %q", got)
	}
	if !strings.Contains(got, `<annotation encoding="application/x-tex">a&lt;b</annotation>`) {
		t.Errorf("annotation missing or unescaped in %q", got)
	}
}

func TestTeXErrors(t *testing.T) {
	tests := []struct{ tex, want string }{
		{`\foo x`, `unknown command \foo`},
		{`\frac{a}`, `missing argument at end`},
		{`{a`, `missing }`},
		{`a}`, `unexpected "}"`},
		{`x^2^3`, `double superscript`},
		{`x_1_2`, `double subscript`},
		{`^2`, `^ without a base`},
		{`\left( x`, `\left without \right`},
		{`x \right)`, `\right without \left`},
		{`\left\foo x \right)`, `bad delimiter`},
		{`\text x`, `\text needs a {…} group`},
		{`a\`, `lone backslash`},
		{`\sqrt[3`, `missing ] after \sqrt[`},
	}
	for _, tt := range tests {
		_, err := TeXToMathML(tt.tex, false)
		var te *TeXError
		if !errors.As(err, &te) {
			t.Errorf("TeXToMathML(%q) error = %v, want a *TeXError", tt.tex, err)
			continue
		}
		if !strings.Contains(te.Msg, tt.want) || te.TeX != tt.tex {
			t.Errorf("TeXToMathML(%q) error = %q, want it to contain %q", tt.tex, err, tt.want)
		}
	}
}
