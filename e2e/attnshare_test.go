package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/paramshare/paramshare/engine"
)

// attnWidget is the attention-share widget of "Attention shares its
// projections".
const attnWidget = `[data-widget="attention-share"]`

// attnPass computes, with the engine directly, the lesson's pass at its
// defaults ("attention", d_model 4, one head, causal, seed 1): the loss,
// dW_Q and dW_V, built layer by layer here as experiments/attnshare does.
func attnPass(t *testing.T) (loss float64, dWQ, dWV []float64) {
	t.Helper()
	rng := engine.NewRand(1)
	emb, err := engine.NewEmbedding("embed", 27, 4, rng)
	if err != nil {
		t.Fatal(err)
	}
	pos, err := engine.NewPositionalEncoding("pos", engine.PositionsSinusoidal, 12, 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	attn, err := engine.NewSelfAttention("attn", 4, 1, true, rng)
	if err != nil {
		t.Fatal(err)
	}
	out, err := engine.NewLinear("out", 4, 27, rng)
	if err != nil {
		t.Fatal(err)
	}
	m, err := engine.NewModel("attention-share", []int{9}, engine.NewCrossEntropy(), emb, pos, attn, out)
	if err != nil {
		t.Fatal(err)
	}
	word := "attention"
	x, y := engine.NewTensor(1, 9), engine.NewTensor(1, 9)
	for i := range 9 {
		x.Data[i] = float64(word[i] - 'a')
		y.Data[i] = 26 // the end mark after the last letter
		if i < 8 {
			y.Data[i] = float64(word[i+1] - 'a')
		}
	}
	loss, err = m.ComputeGrad(x, y, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, np := range attn.Params() {
		switch np.Local {
		case "w_q":
			dWQ = np.Param.Grad.Data
		case "w_v":
			dWV = np.Param.Grad.Data
		}
	}
	return loss, dWQ, dWV
}

func openAttn(t *testing.T, ctx context.Context, url, lang string) {
	t.Helper()
	do(t, ctx, "open attention-shares-its-projections ("+lang+")",
		chromedp.Navigate(url+"/"+lang+"/lessons/attention-shares-its-projections"),
		chromedp.WaitVisible(chromedp.CSS(attnWidget+` [data-testid="play"]`)),
		connected(attnWidget, 20*time.Second),
		pollJS(`document.querySelector('`+attnWidget+` [data-testid="header"]').textContent.length > 0`, 20*time.Second),
	)
}

func maxAbs(v []float64) float64 {
	var m float64
	for _, x := range v {
		m = math.Max(m, math.Abs(x))
	}
	return m
}

// TestBrowserAttentionShare drives lesson 11 in headless Chromium: step
// and → through the projections, seek to the loss and check it against
// the engine computed here, seek to the end of the ledger (Σ = dW_Q, the
// engine's, max |Σ − dW| ≤ 1e-12), ← back, a new projection keeps the
// step, the length slider's count, a typed word, the exports; then the
// Chinese page. Screenshots at desktop and phone width, both languages.
func TestBrowserAttentionShare(t *testing.T) {
	url, ctx := browserSession(t, 150*time.Second)
	w := attnWidget
	loss, dWQ, dWV := attnPass(t)
	openAttn(t, ctx, url, "en")
	if s := textOf(t, ctx, w+` [data-testid="header"]`); !strings.HasPrefix(s, "Step 0: each token is its embedding row") {
		t.Errorf("header %q", s)
	}

	do(t, ctx, "step", chromedp.Click(chromedp.CSS(w+` [data-testid="step"]`)), stepIs(w, 1, 10*time.Second))
	if s := textOf(t, ctx, w+` [data-testid="header"]`); !strings.HasPrefix(s, "Token 1 “a”: Q_1 = x_1 W_Qᵀ") {
		t.Errorf("step 1 header %q", s)
	}
	focusWidget(t, ctx, w)
	do(t, ctx, "→", chromedp.KeyEvent(kb.ArrowRight), stepIs(w, 2, 10*time.Second))
	shots := map[string][]byte{"paramshare-attention-share-widget-project.png": shoot(t, ctx, w)}

	// The loss after the output projection: the engine's, to the digit.
	setSlider(t, ctx, w+` [data-testid="seek"]`, 13)
	do(t, ctx, "seek to the output", stepIs(w, 13, 10*time.Second), widgetIs(w, "phase", "output", 5*time.Second))
	var shown float64
	fmt.Sscan(attrOf(t, ctx, w+` [data-testid="loss"]`, "data-value"), &shown)
	if math.Abs(shown-loss) > 1e-12 {
		t.Errorf("loss shown %v, engine %v", shown, loss)
	}
	if n := evalJS[int](t, ctx, `document.querySelectorAll('`+w+` [data-testid="map-grid-1"] [role="cell"]').length`); n != 81 {
		t.Errorf("the attention map has %d cells, want 9×9", n)
	}

	// The end of the ledger: Σ of the nine token contributions = dW_Q.
	setSlider(t, ctx, w+` [data-testid="seek"]`, 22)
	do(t, ctx, "ledger complete", stepIs(w, 22, 10*time.Second),
		pollJS(`document.querySelector('`+w+`').dataset.maxDiff !== undefined`, 10*time.Second))
	var d float64
	fmt.Sscan(attrOf(t, ctx, w, "data-max-diff"), &d)
	if d > 1e-12 {
		t.Errorf("max |Σ − dW| shown %v", d)
	}
	waitCells(t, ctx, w+` [data-testid="sum-grid"] [role="cell"]`, dWQ, 5e-3*maxAbs(dWQ), 5*time.Second)
	waitCells(t, ctx, w+` [data-testid="engine-grid"] [role="cell"]`, dWQ, 5e-3*maxAbs(dWQ), 5*time.Second)
	if s := textOf(t, ctx, w+` [data-testid="verdict"]`); !strings.HasPrefix(s, "Σ of all 9 token contributions = the engine's dW_Q: largest difference ") {
		t.Errorf("verdict %q", s)
	}
	// Token 1's piece of dW_Q is exactly zero (the causal mask), as the lesson says.
	do(t, ctx, "inspect token 1", chromedp.Click(chromedp.CSS(w+` [data-testid="tokens"] [data-t="1"]`)),
		pollJS(`document.querySelector('`+w+` [data-testid="contribution"]').dataset.t === "1"`, 5*time.Second))
	waitCells(t, ctx, w+` [data-testid="contribution"] [role="cell"]`, make([]float64, 16), 0, 5*time.Second)
	shots["paramshare-attention-share-widget-complete.png"] = shoot(t, ctx, w)

	focusWidget(t, ctx, w)
	do(t, ctx, "← steps back", chromedp.KeyEvent(kb.ArrowLeft), stepIs(w, 21, 10*time.Second),
		pollJS(`document.querySelector('`+w+`').dataset.maxDiff === undefined`, 5*time.Second))

	// A new projection: W_V, the same step; at the end Σ = dW_V.
	evalJS[bool](t, ctx, `(() => {
		const s = document.querySelector('`+w+` [data-testid="param-select"]');
		s.value = "w_v";
		s.dispatchEvent(new Event("change", {bubbles: true}));
		return true;
	})()`)
	do(t, ctx, "W_V", pollJS(`document.querySelector('`+w+` [data-testid="verdict"]').textContent !== "" && document.querySelector('`+w+` [data-testid="progress"]').textContent === "8 of 9 tokens added"`, 10*time.Second))
	waitCells(t, ctx, w+` [data-testid="engine-grid"] [role="cell"]`, dWV, 5e-3*maxAbs(dWV), 10*time.Second)
	if s := evalJS[string](t, ctx, `document.querySelector('`+w+`').dataset.step`); s != "21" {
		t.Errorf("changing the projection moved the run to %s", s)
	}

	// The count at T = 512: 80 parameters, 262,144 map entries.
	setSlider(t, ctx, w+` [data-testid="length-range"]`, 512)
	do(t, ctx, "length 512", pollJS(`document.querySelector('`+w+` [data-testid="count-entries"]').dataset.value === "262144"`, 10*time.Second))
	if s := attrOf(t, ctx, w+` [data-testid="count-params"]`, "data-value"); s != "80" {
		t.Errorf("parameters shown %s, want 80", s)
	}

	// The exports of the state on screen.
	href := attrOf(t, ctx, w+` [data-testid="export-json"]`, "href")
	for _, part := range []string{"/export/attention-share.json?", "param=w_v", "length=512", "step=21", "lang=en"} {
		if !strings.Contains(href, part) {
			t.Errorf("export-json link %q lacks %q", href, part)
		}
	}
	var export struct {
		Status, Step, Grad, Trace, PNG, SVG int
		Format                              string
	}
	raw := evalJSAsync[string](t, ctx, fmt.Sprintf(`(async () => {
		const r = await fetch(document.querySelector(%q).href);
		if (!r.ok) return JSON.stringify({Status: r.status});
		const j = await r.json();
		const tr = await fetch(document.querySelector(%q).href);
		const tj = tr.ok ? await tr.json() : {};
		const png = await fetch(document.querySelector(%q).href);
		const svg = await fetch(document.querySelector(%q).href);
		return JSON.stringify({Status: r.status, Step: j.step, Grad: j.static.grad.length, Trace: tr.status, Format: tj.format, PNG: png.status, SVG: svg.status});
	})()`, w+` [data-testid="export-json"]`, w+` [data-testid="export-trace"]`, w+` [data-testid="download-png"]`, w+` [data-testid="download-svg"]`))
	if err := json.Unmarshal([]byte(raw), &export); err != nil {
		t.Fatalf("export: %.200s: %v", raw, err)
	}
	if export.Status != 200 || export.Step != 21 || export.Grad != 16 || export.Trace != 200 || export.Format != engine.TraceFormat || export.PNG != 200 || export.SVG != 200 {
		t.Fatalf("exports: %+v", export)
	}

	// A typed word: "banana" has 6 tokens, so 16 positions.
	evalJS[bool](t, ctx, `(() => {
		const i = document.querySelector('`+w+` [data-testid="word-input"]');
		i.value = "Banana";
		return i.dispatchEvent(new Event("change", {bubbles: true}));
	})()`)
	do(t, ctx, "banana's tokens", pollJS(`document.querySelectorAll('`+w+` [data-testid="tokens"] button').length === 6`, 10*time.Second))
	if s := evalJS[string](t, ctx, `document.querySelector('`+w+` [data-testid="seek"]').max`); s != "16" {
		t.Errorf("banana's run has %s positions, want 16", s)
	}

	// Play banana's run from 0 at top speed, counting the frames drawn
	// (docs/perf.md).
	do(t, ctx, "reset", chromedp.Click(chromedp.CSS(w+` [data-testid="reset"]`)), stepIs(w, 0, 10*time.Second))
	topSpeed(t, ctx, w)
	evalJS[bool](t, ctx, `(() => {
		const w = document.querySelector('`+w+`');
		window.asFrames = 0;
		window.asStart = performance.now();
		new MutationObserver(() => { window.asFrames++; window.asEnd = performance.now(); }).observe(w, {attributes: true, attributeFilter: ["data-step"]});
		return true;
	})()`)
	do(t, ctx, "play to the end", chromedp.Click(chromedp.CSS(w+` [data-testid="play"]`)), stepIs(w, 16, 20*time.Second))
	t.Logf("playing at top speed: %d frames in %.0f ms", evalJS[int](t, ctx, `window.asFrames`), evalJS[float64](t, ctx, `window.asEnd - window.asStart`))

	saveScreenshots(t, shots)
	screenshots(t, ctx, "attention-share-en", w)

	// Chinese: the ledger's verdict in Chinese.
	openAttn(t, ctx, url, "zh")
	if s := textOf(t, ctx, w+` [data-testid="header"]`); !strings.HasPrefix(s, "第 0 步：") {
		t.Errorf("zh header %q", s)
	}
	setSlider(t, ctx, w+` [data-testid="seek"]`, 22)
	do(t, ctx, "zh: seek to 22", stepIs(w, 22, 10*time.Second),
		pollJS(`document.querySelector('`+w+`').dataset.maxDiff !== undefined`, 10*time.Second))
	if s := textOf(t, ctx, w+` [data-testid="verdict"]`); !strings.HasPrefix(s, "全部 9 个词元贡献之和 Σ = 引擎的 dW_Q：最大差 ") {
		t.Errorf("zh verdict %q", s)
	}
	screenshots(t, ctx, "attention-share-zh", w)
}
