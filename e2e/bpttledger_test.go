package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/engine/data"
)

// ledgerWidget is the bptt-ledger widget of "Backprop through time".
const ledgerWidget = `[data-widget="bptt-ledger"]`

// firstPass computes, with the engine directly, the lesson's first
// training step at its defaults (remember-first, T = 10, hidden 6, seed 1,
// 16 sequences from the PCG stream "bptt" of experiments/bpttledger):
// the W_hh contributions of t = 1…10 and the engine's dW_hh.
func firstPass(t *testing.T) (contribs [][]float64, dW []float64) {
	t.Helper()
	m, err := engine.NewSeqModel("bptt-ledger", engine.SeqConfig{Cell: "rnn", Vocab: 5, Hidden: 6, T: 10}, 1)
	if err != nil {
		t.Fatal(err)
	}
	cell := m.Layers[1].(*engine.RNN)
	x, y := data.RememberFirst(rand.New(rand.NewPCG(1, 0x62707474)), 16, 9, 5)
	rec := engine.NewRecorder(engine.RecordFilter{Params: []*engine.Param{cell.WeightHH}})
	if _, err := m.ComputeGrad(x, y, rec); err != nil {
		t.Fatal(err)
	}
	for _, c := range rec.Uses(cell.WeightHH, engine.UseStep) {
		contribs = append(contribs, c.Grad.Data)
	}
	return contribs, cell.WeightHH.Grad.Data
}

func frobenius(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}

// openLedger opens the lesson in lang and waits for the widget's first
// frame (the header is filled in from it).
func openLedger(t *testing.T, ctx context.Context, url, lang string) {
	t.Helper()
	do(t, ctx, "open backprop-through-time ("+lang+")",
		chromedp.Navigate(url+"/"+lang+"/lessons/backprop-through-time"),
		chromedp.WaitVisible(chromedp.CSS(ledgerWidget+` [data-testid="play"]`)),
		connected(ledgerWidget, 20*time.Second),
		pollJS(`document.querySelector('`+ledgerWidget+` [data-testid="header"]').textContent.length > 0`, 20*time.Second),
	)
}

// TestBrowserBPTTLedger drives the lesson in a real headless Chromium:
// step through one backward pass and check the shown contribution norm,
// Σ and max |Σ − dW| against the engine computed here; ← and the position
// slider go back; a click on the chain inspects a time step; play crosses
// training steps; a new ledger parameter keeps the position; the JSON and
// trace exports answer; then the Chinese page. Screenshots at desktop and
// phone width, both languages.
func TestBrowserBPTTLedger(t *testing.T) {
	url, ctx := browserSession(t, 150*time.Second)
	w := ledgerWidget
	contribs, dW := firstPass(t)
	openLedger(t, ctx, url, "en")
	if s := textOf(t, ctx, w+` [data-testid="header"]`); !strings.HasPrefix(s, "Training step 1 of 200 · loss ") {
		t.Errorf("header %q", s)
	}

	// One time step: t = 10's contribution, its norm as the engine's.
	do(t, ctx, "step", chromedp.Click(chromedp.CSS(w+` [data-testid="step"]`)), stepIs(w, 1, 10*time.Second))
	norm := evalJS[string](t, ctx, `document.querySelector('`+w+` [data-testid="chain"] [data-t="10"]').dataset.norm`)
	var shown float64
	fmt.Sscan(norm, &shown)
	if want := frobenius(contribs[9]); math.Abs(shown-want) > 5e-3*want {
		t.Errorf("t = 10's contribution norm shows %s; engine %v", norm, want)
	}
	ins := evalJS[string](t, ctx, `document.querySelector('`+w+` [data-testid="contribution"]').dataset.norm`)
	fmt.Sscan(ins, &shown)
	if want := frobenius(contribs[9]); math.Abs(shown-want) > 1e-12 {
		t.Errorf("the inspected contribution's norm is %s; engine %v", ins, want)
	}

	// The rest of the pass, by keyboard: Σ reaches dW, max |Σ − dW| = 0
	// exactly, as the lesson says.
	focusWidget(t, ctx, w)
	for k := 2; k <= 10; k++ {
		do(t, ctx, "→", chromedp.KeyEvent(kb.ArrowRight), stepIs(w, k, 10*time.Second))
	}
	do(t, ctx, "pass complete", pollJS(`document.querySelector('`+w+`').dataset.maxDiff !== undefined`, 10*time.Second))
	var d float64
	fmt.Sscan(attrOf(t, ctx, w, "data-max-diff"), &d)
	if d != 0 {
		t.Errorf("max |Σ − dW| shown %v, want exactly 0", d)
	}
	if s := textOf(t, ctx, w+` [data-testid="verdict"]`); s != "Σ of all 10 contributions = the engine's dW_hh: largest difference 0." {
		t.Errorf("verdict %q", s)
	}
	waitCells(t, ctx, w+` [data-testid="sum-grid"] [role="cell"]`, dW, 5e-3*frobenius(dW), 5*time.Second)
	waitCells(t, ctx, w+` [data-testid="engine-grid"] [role="cell"]`, dW, 5e-3*frobenius(dW), 5*time.Second)
	complete := shoot(t, ctx, w)

	// Back: ← and the position slider.
	do(t, ctx, "← steps back", chromedp.KeyEvent(kb.ArrowLeft), stepIs(w, 9, 10*time.Second),
		pollJS(`document.querySelector('`+w+`').dataset.maxDiff === undefined`, 5*time.Second))
	setSlider(t, ctx, w+` [data-testid="seek"]`, 3)
	do(t, ctx, "seek to 3", stepIs(w, 3, 10*time.Second))
	if s := textOf(t, ctx, w+` [data-testid="progress"]`); s != "3 of 10 time steps added" {
		t.Errorf("progress %q", s)
	}

	// Click time step 9 on the chain: its contribution, the engine's.
	do(t, ctx, "inspect t = 9", chromedp.Click(chromedp.CSS(w+` [data-testid="chain"] [data-t="9"]`)),
		pollJS(`document.querySelector('`+w+` [data-testid="contribution"]').dataset.t === "9"`, 10*time.Second))
	fmt.Sscan(attrOf(t, ctx, w+` [data-testid="contribution"]`, "data-norm"), &shown)
	if want := frobenius(contribs[8]); math.Abs(shown-want) > 1e-12 {
		t.Errorf("t = 9's contribution norm %v; engine %v", shown, want)
	}
	waitCells(t, ctx, w+` [data-testid="contribution"] [role="cell"]`, contribs[8], 5e-3*frobenius(contribs[8]), 5*time.Second)

	// Play across training steps at top speed, counting the frames drawn
	// in 3 s (docs/perf.md), then pause: the header names the training
	// step of the position on screen.
	topSpeed(t, ctx, w)
	evalJS[bool](t, ctx, `(() => {
		const w = document.querySelector('`+w+`');
		window.blFrames = 0;
		new MutationObserver(() => window.blFrames++).observe(w, {attributes: true, attributeFilter: ["data-step"]});
		return true;
	})()`)
	do(t, ctx, "play", chromedp.Click(chromedp.CSS(w+` [data-testid="play"]`)),
		pollJS(`Number(document.querySelector('`+w+`').dataset.step) >= 13`, 30*time.Second))
	evalJS[int](t, ctx, `window.blFrames = 0`)
	do(t, ctx, "play 3 s", chromedp.Sleep(3*time.Second))
	t.Logf("playing at top speed: %.1f frames/s", float64(evalJS[int](t, ctx, `window.blFrames`))/3)
	do(t, ctx, "pause", chromedp.Click(chromedp.CSS(w+` [data-testid="play"]`)), stateIs(w, "paused", 10*time.Second))
	pos := settledStep(t, ctx, w)
	step := fmt.Sprint(pos)
	want := fmt.Sprintf("Training step %d of 200", (pos-1)/10+1)
	do(t, ctx, "header after playing", pollJS(`document.querySelector('`+w+` [data-testid="header"]').textContent.startsWith(`+fmt.Sprintf("%q", want)+`)`, 5*time.Second))

	// A new ledger parameter: W_ih (6×5), the same position.
	evalJS[bool](t, ctx, `(() => {
		const s = document.querySelector('`+w+` [data-testid="param-select"]');
		s.value = "weight_ih";
		s.dispatchEvent(new Event("change", {bubbles: true}));
		return true;
	})()`)
	do(t, ctx, "W_ih", pollJS(`document.querySelectorAll('`+w+` [data-testid="sum-grid"] [role="cell"]').length === 30`, 10*time.Second))
	if k := evalJS[int](t, ctx, `Number(document.querySelector('`+w+`').dataset.step)`); k != pos {
		t.Errorf("changing the ledger's parameter moved the run from %d to %d", pos, k)
	}

	// The exports of the state on screen.
	href := attrOf(t, ctx, w+` [data-testid="export-json"]`, "href")
	for _, part := range []string{"/export/bptt-ledger.json?", "param=weight_ih", "T=10", "step=" + step, "lang=en"} {
		if !strings.Contains(href, part) {
			t.Errorf("export-json link %q lacks %q", href, part)
		}
	}
	var export struct {
		Status int    `json:"status"`
		Step   int    `json:"step"`
		Sum    int    `json:"sum"`
		Trace  int    `json:"trace"`
		Format string `json:"format"`
		PNG    int    `json:"png"`
	}
	raw := evalJSAsync[string](t, ctx, fmt.Sprintf(`(async () => {
		const r = await fetch(document.querySelector(%q).href);
		if (!r.ok) return JSON.stringify({status: r.status});
		const j = await r.json();
		const tr = await fetch(document.querySelector(%q).href);
		const tj = tr.ok ? await tr.json() : {};
		const png = await fetch(document.querySelector(%q).href);
		return JSON.stringify({status: r.status, step: j.step, sum: j.data.sum.length, trace: tr.status, format: tj.format, png: png.status});
	})()`, w+` [data-testid="export-json"]`, w+` [data-testid="export-trace"]`, w+` [data-testid="download-png"]`))
	if err := json.Unmarshal([]byte(raw), &export); err != nil {
		t.Fatalf("export: %.200s: %v", raw, err)
	}
	if fmt.Sprint(export.Step) != step || export.Status != 200 || export.Sum != 30 || export.Trace != 200 || export.Format != engine.TraceFormat || export.PNG != 200 {
		t.Fatalf("exports: %+v (step %s)", export, step)
	}

	saveScreenshots(t, map[string][]byte{"paramshare-bptt-ledger-widget-complete.png": complete})
	screenshots(t, ctx, "bptt-ledger-en", w)

	// Chinese: the same pass, the verdict in Chinese.
	openLedger(t, ctx, url, "zh")
	if s := textOf(t, ctx, w+` [data-testid="header"]`); !strings.HasPrefix(s, "第 1 / 200 个训练步") {
		t.Errorf("zh header %q", s)
	}
	setSlider(t, ctx, w+` [data-testid="seek"]`, 10)
	do(t, ctx, "zh: seek to 10", stepIs(w, 10, 10*time.Second),
		pollJS(`document.querySelector('`+w+`').dataset.maxDiff !== undefined`, 10*time.Second))
	if s := textOf(t, ctx, w+` [data-testid="verdict"]`); s != "全部 10 个贡献之和 Σ = 引擎的 dW_hh：最大差 0。" {
		t.Errorf("zh verdict %q", s)
	}
	screenshots(t, ctx, "bptt-ledger-zh", w)
}
