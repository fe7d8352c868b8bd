package lessons

import (
	"fmt"
	"html"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file converts the small subset of TeX that lessons use into MathML
// Core, which browsers render natively without any script. The converter is a
// recursive-descent parser over a token stream; it writes MathML as it goes.
//
// Supported: letters (one <mi> each, as TeX treats them), numbers, operator
// characters, ^ and _ with {…} groups, \frac, \sqrt (and \sqrt[n]), \sum and
// \prod with limits, relations and binary operators listed in texSymbols,
// Greek letters, \mathbf, \mathrm, \text, \left…\right, floor/ceiling
// brackets, a few function names and spacing commands. Anything else is an
// error, so a typo in a lesson fails at load time instead of showing raw TeX.

// TeXError reports TeX the converter cannot handle.
type TeXError struct {
	TeX string // the whole formula; only its start, ending in "…", when it is longer than MaxTeXBytes
	Msg string // what is wrong, e.g. `unknown command \foo`
}

func (e *TeXError) Error() string {
	return fmt.Sprintf("lessons: TeX %q: %s", e.TeX, e.Msg)
}

// TeXToMathML converts one formula (without its $ delimiters) to a <math>
// element. display selects a display (block) formula. The returned string is
// safe to place in HTML: every piece of source text is escaped. A formula
// longer than MaxTeXBytes, or nested deeper than MaxTeXDepth, is an error:
// the work is then bounded by their product.
func TeXToMathML(tex string, display bool) (string, error) {
	if len(tex) > MaxTeXBytes {
		return "", &TeXError{TeX: texStart(tex),
			Msg: fmt.Sprintf("the formula is %d bytes long; one formula may be at most %d", len(tex), MaxTeXBytes)}
	}
	p := &texParser{src: tex}
	p.tokenize()
	if p.err != nil {
		return "", p.err
	}
	var b strings.Builder
	if display {
		b.WriteString(`<math display="block">`)
	} else {
		b.WriteString(`<math>`)
	}
	// The annotation keeps the TeX source for copy-paste and assistive
	// tools; browsers do not render it.
	b.WriteString(`<semantics><mrow>`)
	p.out = &b
	p.parseSequence("")
	if p.err != nil {
		return "", p.err
	}
	if p.pos < len(p.toks) {
		return "", p.errorf("unexpected %q", p.toks[p.pos].text)
	}
	b.WriteString(`</mrow><annotation encoding="application/x-tex">`)
	b.WriteString(html.EscapeString(tex))
	b.WriteString(`</annotation></semantics></math>`)
	return b.String(), nil
}

type texTokKind int

const (
	tokChar    texTokKind = iota // a single character: letter, operator, bracket
	tokNumber                    // digits with an optional decimal point
	tokCommand                   // \name or \, (text holds the name without the backslash)
	tokOpen                      // {
	tokClose                     // }
	tokSup                       // ^
	tokSub                       // _
)

type texTok struct {
	kind texTokKind
	text string
	off  int // byte offset of the token in the source
}

type texParser struct {
	src   string
	toks  []texTok
	pos   int
	out   *strings.Builder
	err   error
	depth int // levels entered and not left (see enter)
}

// enter starts one level of nesting: a braced group, a command's argument,
// a script, \left…\right or a root's index. Every recursion of the parser
// passes through one of them, so MaxTeXDepth bounds the recursion (and the
// copying of each level's output into the one around it). It reports false,
// with an error, when the level would be too deep; otherwise the caller
// must call leave when the level ends.
func (p *texParser) enter() bool {
	if p.depth >= MaxTeXDepth {
		p.errorf("nested more than %d deep", MaxTeXDepth)
		return false
	}
	p.depth++
	return true
}

func (p *texParser) leave() { p.depth-- }

// texStart is the start of a formula too long to quote whole in an error.
func texStart(tex string) string {
	const n = 40
	if len(tex) <= n {
		return tex
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(tex[cut]) {
		cut--
	}
	return tex[:cut] + "…"
}

func (p *texParser) errorf(format string, args ...any) error {
	if p.err == nil {
		p.err = &TeXError{TeX: p.src, Msg: fmt.Sprintf(format, args...)}
	}
	return p.err
}

func (p *texParser) tokenize() {
	s := p.src
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++ // TeX ignores spaces in math mode
		case c == '{':
			p.toks = append(p.toks, texTok{tokOpen, "{", i})
			i++
		case c == '}':
			p.toks = append(p.toks, texTok{tokClose, "}", i})
			i++
		case c == '^':
			p.toks = append(p.toks, texTok{tokSup, "^", i})
			i++
		case c == '_':
			p.toks = append(p.toks, texTok{tokSub, "_", i})
			i++
		case c == '\\':
			j := i + 1
			for j < len(s) && isASCIILetter(s[j]) {
				j++
			}
			if j == i+1 { // a control symbol such as \, \{ \| \\
				if j >= len(s) {
					p.errorf("lone backslash at end")
					return
				}
				_, w := utf8.DecodeRuneInString(s[j:])
				j += w
			}
			p.toks = append(p.toks, texTok{tokCommand, s[i+1 : j], i})
			i = j
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			j := i
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.' && j+1 < len(s) && s[j+1] >= '0' && s[j+1] <= '9') {
				j++
			}
			p.toks = append(p.toks, texTok{tokNumber, s[i:j], i})
			i = j
		default:
			r, w := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && w == 1 {
				p.errorf("invalid UTF-8")
				return
			}
			p.toks = append(p.toks, texTok{tokChar, s[i : i+w], i})
			i += w
		}
	}
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func (p *texParser) peek() (texTok, bool) {
	if p.pos >= len(p.toks) {
		return texTok{}, false
	}
	return p.toks[p.pos], true
}

// parseSequence parses atoms (each with optional scripts) until the end, a
// closing brace, or — when stopAt is non-empty — the command \stopAt
// (used for \right). It does not consume the terminator.
func (p *texParser) parseSequence(stopAt string) {
	for p.err == nil {
		t, ok := p.peek()
		if !ok || t.kind == tokClose {
			return
		}
		if stopAt != "" && t.kind == tokCommand && t.text == stopAt {
			return
		}
		p.parseScripted()
	}
}

// parseScripted parses one atom and any ^/_ that follow it.
func (p *texParser) parseScripted() {
	var base strings.Builder
	saved := p.out
	p.out = &base
	limits := p.parseAtom()
	p.out = saved
	if p.err != nil {
		return
	}

	var sub, sup string
	var haveSub, haveSup bool
	for p.err == nil {
		t, ok := p.peek()
		if !ok || (t.kind != tokSub && t.kind != tokSup && !(t.kind == tokChar && t.text == "'")) {
			break
		}
		p.pos++
		switch {
		case t.kind == tokChar: // prime: x' is x^{\prime}
			if haveSup {
				p.errorf("double superscript")
				return
			}
			sup, haveSup = "<mo>′</mo>", true
		case t.kind == tokSub && haveSub, t.kind == tokSup && haveSup:
			p.errorf("double %s", map[texTokKind]string{tokSub: "subscript", tokSup: "superscript"}[t.kind])
			return
		default:
			arg := p.captureArgument()
			if t.kind == tokSub {
				sub, haveSub = arg, true
			} else {
				sup, haveSup = arg, true
			}
		}
	}
	if p.err != nil {
		return
	}
	b := base.String()
	under, over := "msub", "msup"
	both := "msubsup"
	if limits {
		under, over, both = "munder", "mover", "munderover"
	}
	switch {
	case haveSub && haveSup:
		fmt.Fprintf(p.out, "<%s>%s%s%s</%s>", both, b, sub, sup, both)
	case haveSub:
		fmt.Fprintf(p.out, "<%s>%s%s</%s>", under, b, sub, under)
	case haveSup:
		fmt.Fprintf(p.out, "<%s>%s%s</%s>", over, b, sup, over)
	default:
		p.out.WriteString(b)
	}
}

// captureArgument parses one argument (a braced group or a single atom) and
// returns its MathML as exactly one element, as script and fraction
// elements require.
func (p *texParser) captureArgument() string {
	if !p.enter() {
		return ""
	}
	defer p.leave()
	var b strings.Builder
	saved := p.out
	p.out = &b
	defer func() { p.out = saved }()
	t, ok := p.peek()
	if !ok {
		p.errorf("missing argument at end")
		return ""
	}
	switch t.kind {
	case tokOpen:
		p.pos++
		b.WriteString("<mrow>")
		p.parseSequence("")
		p.expectClose()
		b.WriteString("</mrow>")
	case tokClose, tokSub, tokSup:
		p.errorf("missing argument before %q", t.text)
	default:
		p.parseAtom()
	}
	return b.String()
}

func (p *texParser) expectClose() {
	if p.err != nil {
		return
	}
	t, ok := p.peek()
	if !ok || t.kind != tokClose {
		p.errorf("missing }")
		return
	}
	p.pos++
}

// rawGroup reads a braced group as plain source text (for \text), so
// spaces inside it survive. Nested braces are kept balanced.
func (p *texParser) rawGroup() string {
	t, ok := p.peek()
	if !ok || t.kind != tokOpen {
		p.errorf("\\text needs a {…} group")
		return ""
	}
	open := t
	depth := 0
	for ; p.pos < len(p.toks); p.pos++ {
		switch p.toks[p.pos].kind {
		case tokOpen:
			depth++
		case tokClose:
			depth--
		}
		if depth == 0 {
			break
		}
	}
	if depth != 0 {
		p.errorf("missing }")
		return ""
	}
	closing := p.toks[p.pos]
	p.pos++
	return p.src[open.off+1 : closing.off]
}

// parseAtom writes one atom and reports whether it takes limits (under and
// over scripts) instead of sub/superscripts.
func (p *texParser) parseAtom() (limits bool) {
	t, ok := p.peek()
	if !ok {
		p.errorf("unexpected end")
		return false
	}
	p.pos++
	switch t.kind {
	case tokOpen:
		if !p.enter() {
			return false
		}
		defer p.leave()
		p.out.WriteString("<mrow>")
		p.parseSequence("")
		p.expectClose()
		p.out.WriteString("</mrow>")
	case tokClose:
		p.errorf("unexpected }")
	case tokSub, tokSup:
		p.errorf("%s without a base", t.text)
	case tokNumber:
		fmt.Fprintf(p.out, "<mn>%s</mn>", t.text)
	case tokChar:
		p.writeChar(t.text)
	case tokCommand:
		return p.parseCommand(t.text)
	}
	return false
}

func (p *texParser) writeChar(c string) {
	r, _ := utf8.DecodeRuneInString(c)
	switch {
	case unicode.IsLetter(r):
		fmt.Fprintf(p.out, "<mi>%s</mi>", html.EscapeString(c))
	case strings.ContainsRune("()[]|", r):
		// Brackets written directly do not stretch; \left…\right do.
		fmt.Fprintf(p.out, `<mo stretchy="false">%s</mo>`, c)
	case r == '-':
		p.out.WriteString("<mo>−</mo>") // U+2212 MINUS SIGN, as TeX prints it
	case r == '*':
		p.out.WriteString("<mo>∗</mo>")
	case strings.ContainsRune("+=<>,;:!/", r) || unicode.IsSymbol(r) || unicode.IsPunct(r):
		fmt.Fprintf(p.out, "<mo>%s</mo>", html.EscapeString(c))
	case unicode.IsDigit(r):
		fmt.Fprintf(p.out, "<mn>%s</mn>", c)
	default:
		p.errorf("unsupported character %q", c)
	}
}

// texSymbols maps commands that stand for one operator or identifier.
var texSymbols = map[string]struct {
	tag, text string
}{
	"cdot": {"mo", "⋅"}, "times": {"mo", "×"}, "div": {"mo", "÷"}, "pm": {"mo", "±"}, "mp": {"mo", "∓"},
	"le": {"mo", "≤"}, "leq": {"mo", "≤"}, "ge": {"mo", "≥"}, "geq": {"mo", "≥"},
	"ne": {"mo", "≠"}, "neq": {"mo", "≠"}, "approx": {"mo", "≈"}, "sim": {"mo", "∼"}, "equiv": {"mo", "≡"},
	"to": {"mo", "→"}, "rightarrow": {"mo", "→"}, "leftarrow": {"mo", "←"}, "mapsto": {"mo", "↦"},
	"in": {"mo", "∈"}, "notin": {"mo", "∉"}, "subset": {"mo", "⊂"}, "cup": {"mo", "∪"}, "cap": {"mo", "∩"},
	"odot": {"mo", "⊙"}, "otimes": {"mo", "⊗"}, "circ": {"mo", "∘"}, "ast": {"mo", "∗"},
	"ldots": {"mo", "…"}, "cdots": {"mo", "⋯"}, "dots": {"mo", "…"},
	"partial": {"mi", "∂"}, "nabla": {"mi", "∇"}, "infty": {"mi", "∞"}, "ell": {"mi", "ℓ"},
	"lfloor": {"mo", "⌊"}, "rfloor": {"mo", "⌋"}, "lceil": {"mo", "⌈"}, "rceil": {"mo", "⌉"},
	"{": {"mo", "{"}, "}": {"mo", "}"}, "|": {"mo", "‖"}, "langle": {"mo", "⟨"}, "rangle": {"mo", "⟩"},
	"prime": {"mo", "′"},
}

// texGreek maps Greek letter commands to their characters. Lower-case
// letters are italic by default (single-character <mi>); upper-case ones
// are upright in TeX, so they get mathvariant="normal".
var texGreek = map[string]string{
	"alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ϵ", "varepsilon": "ε",
	"zeta": "ζ", "eta": "η", "theta": "θ", "vartheta": "ϑ", "iota": "ι", "kappa": "κ",
	"lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ", "pi": "π", "rho": "ρ", "sigma": "σ",
	"tau": "τ", "upsilon": "υ", "phi": "ϕ", "varphi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω",
	"Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ", "Pi": "Π",
	"Sigma": "Σ", "Upsilon": "Υ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω",
}

// texFunctions are written upright, as TeX's \log, \max, ….
var texFunctions = map[string]bool{
	"log": true, "ln": true, "exp": true, "max": true, "min": true, "sin": true, "cos": true,
	"tanh": true, "det": true, "dim": true,
}

// texSpaces maps spacing commands to em widths.
var texSpaces = map[string]string{
	",": "0.1667em", ":": "0.2222em", ";": "0.2778em", " ": "0.3333em", "quad": "1em", "qquad": "2em",
}

// parseCommand handles \name (already consumed).
func (p *texParser) parseCommand(name string) (limits bool) {
	if s, ok := texSymbols[name]; ok {
		fmt.Fprintf(p.out, "<%s>%s</%s>", s.tag, html.EscapeString(s.text), s.tag)
		return false
	}
	if g, ok := texGreek[name]; ok {
		if unicode.IsUpper([]rune(name)[0]) {
			fmt.Fprintf(p.out, `<mi mathvariant="normal">%s</mi>`, g)
		} else {
			fmt.Fprintf(p.out, "<mi>%s</mi>", g)
		}
		return false
	}
	if texFunctions[name] {
		fmt.Fprintf(p.out, "<mi>%s</mi>", name) // multi-letter <mi> is upright
		return false
	}
	if w, ok := texSpaces[name]; ok {
		fmt.Fprintf(p.out, `<mspace width="%s"></mspace>`, w)
		return false
	}
	switch name {
	case "sum", "prod":
		op := map[string]string{"sum": "∑", "prod": "∏"}[name]
		// <munderover> with the operator dictionary's movablelimits makes
		// the browser put limits below/above in display formulas and to the
		// side inline, as TeX does.
		fmt.Fprintf(p.out, "<mo>%s</mo>", op)
		return true
	case "frac":
		num := p.captureArgument()
		den := p.captureArgument()
		fmt.Fprintf(p.out, "<mfrac>%s%s</mfrac>", num, den)
	case "sqrt":
		if t, ok := p.peek(); ok && t.kind == tokChar && t.text == "[" {
			if !p.enter() {
				return false
			}
			defer p.leave()
			p.pos++
			var idx strings.Builder
			saved := p.out
			p.out = &idx
			for p.err == nil {
				t, ok := p.peek()
				if !ok {
					p.errorf("missing ] after \\sqrt[")
					break
				}
				if t.kind == tokChar && t.text == "]" {
					p.pos++
					break
				}
				p.parseScripted()
			}
			p.out = saved
			arg := p.captureArgument()
			fmt.Fprintf(p.out, "<mroot>%s<mrow>%s</mrow></mroot>", arg, idx.String())
			return false
		}
		fmt.Fprintf(p.out, "<msqrt>%s</msqrt>", p.captureArgument())
	case "bar", "hat":
		// An accent over its argument: a mean (\bar d), an estimate (\hat y).
		accent := map[string]string{"bar": "¯", "hat": "^"}[name]
		fmt.Fprintf(p.out, `<mover accent="true">%s<mo>%s</mo></mover>`, p.captureArgument(), accent)
	case "mathbf", "mathrm":
		p.styledGroup(name)
	case "text":
		txt := p.rawGroup()
		fmt.Fprintf(p.out, "<mtext>%s</mtext>", html.EscapeString(txt))
	case "left":
		if !p.enter() {
			return false
		}
		defer p.leave()
		open := p.delimiter()
		p.out.WriteString("<mrow>")
		if open != "" {
			fmt.Fprintf(p.out, `<mo fence="true" stretchy="true">%s</mo>`, html.EscapeString(open))
		}
		p.parseSequence("right")
		if p.err != nil {
			return false
		}
		if t, ok := p.peek(); !ok || t.kind != tokCommand || t.text != "right" {
			p.errorf("\\left without \\right")
			return false
		}
		p.pos++
		closing := p.delimiter()
		if closing != "" {
			fmt.Fprintf(p.out, `<mo fence="true" stretchy="true">%s</mo>`, html.EscapeString(closing))
		}
		p.out.WriteString("</mrow>")
	case "right":
		p.errorf("\\right without \\left")
	default:
		p.errorf("unknown command \\%s", name)
	}
	return false
}

// delimiter reads the delimiter after \left or \right; "." means none.
func (p *texParser) delimiter() string {
	t, ok := p.peek()
	if !ok {
		p.errorf("missing delimiter after \\left or \\right")
		return ""
	}
	p.pos++
	switch {
	case t.kind == tokChar && strings.Contains("()[]|", t.text):
		return t.text
	case t.kind == tokChar && t.text == ".":
		return ""
	case t.kind == tokCommand:
		if s, ok := texSymbols[t.text]; ok && strings.Contains("⌊⌋⌈⌉{}‖⟨⟩", s.text) {
			return s.text
		}
	}
	p.errorf("bad delimiter %q after \\left or \\right", t.text)
	return ""
}

// styledGroup handles \mathbf{…} and \mathrm{…}. MathML Core renders only
// mathvariant="normal", so bold letters use the Unicode Mathematical Bold
// characters (which is what the mathvariant attribute maps to anyway).
func (p *texParser) styledGroup(name string) {
	s := p.captureArgument()
	if p.err != nil {
		return
	}
	if name == "mathrm" {
		s = strings.ReplaceAll(s, "<mi>", `<mi mathvariant="normal">`)
	} else {
		s = mapMathBold(s)
	}
	p.out.WriteString(s)
}

// mapMathBold replaces ASCII letters and digits inside <mi> and <mn>
// elements of already generated MathML with their bold mathematical
// counterparts. Tags and attributes are left alone. It works on bytes, and
// copies the runs between letters whole: nested \mathbf map their text
// once per level.
func mapMathBold(s string) string {
	var b strings.Builder
	b.Grow(len(s) + len(s)/2)
	inTag, inEntity := false, false
	last := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '<':
			inTag = true
			continue
		case c == '>':
			inTag = false
			continue
		case c == '&':
			inEntity = true
			continue
		case c == ';' && inEntity:
			inEntity = false
			continue
		case inTag || inEntity:
			continue
		}
		var r rune
		switch {
		case c >= 'A' && c <= 'Z':
			r = 0x1D400 + rune(c-'A')
		case c >= 'a' && c <= 'z':
			r = 0x1D41A + rune(c-'a')
		case c >= '0' && c <= '9':
			r = 0x1D7CE + rune(c-'0')
		default:
			continue
		}
		b.WriteString(s[last:i])
		b.WriteRune(r)
		last = i + 1
	}
	b.WriteString(s[last:])
	return b.String()
}
