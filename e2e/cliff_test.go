package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/paramshare/paramshare/engine"
)

// cliffWidget is the cliff widget of "Vanishing and exploding".
const cliffWidget = `[data-widget="cliff"]`

// cliffLoss computes Pascanu's loss (σ(x_50) − 0.7)² at (w, b) with an
// engine RNN built differently from the experiment's: one input, b as
// bias_ih, and step 0's input 0.5 − b so that its pre-activation is x_0.
func cliffLoss(t *testing.T, w, b float64) float64 {
	t.Helper()
	cell, err := engine.NewRNNWith("check", 1, 1, engine.ActSigmoid, engine.NewRand(1))
	if err != nil {
		t.Fatal(err)
	}
	cell.WeightIH.Value.Data[0] = 1
	cell.WeightHH.Value.Data[0] = w
	cell.BiasIH.Value.Data[0] = b
	cell.BiasHH.Value.Data[0] = 0
	x := engine.NewTensor(1, 51, 1)
	x.Data[0] = 0.5 - b
	h := cell.Forward(x, nil).Data[50]
	return (h - 0.7) * (h - 0.7)
}

// openCliff opens the lesson in lang and waits for the widget's readout.
func openCliff(t *testing.T, ctx context.Context, url, lang string) {
	t.Helper()
	do(t, ctx, "open vanishing-and-exploding ("+lang+")",
		chromedp.Navigate(url+"/"+lang+"/lessons/vanishing-and-exploding"),
		chromedp.WaitVisible(chromedp.CSS(cliffWidget+` [data-testid="play"]`)),
		connected(cliffWidget, 20*time.Second),
		pollJS(`document.querySelector('`+cliffWidget+` [data-testid="loss-on"]').dataset.value`, 20*time.Second),
	)
}

// cliffValue returns the data-value of the readout's cell (loss, norm) of
// the path (row-off: without clipping, row-on: with).
func cliffValue(t *testing.T, ctx context.Context, row, cell string) float64 {
	t.Helper()
	s := attrOf(t, ctx, cliffWidget+` [data-testid="`+cell+`-`+strings.TrimPrefix(row, "row-")+`"]`, "data-value")
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// setCliffField sets a field's input as a reader does.
func setCliffField(t *testing.T, ctx context.Context, name, value string) {
	t.Helper()
	evalJS[bool](t, ctx, fmt.Sprintf(`(() => {
		const s = document.querySelector(%q);
		s.value = %q;
		s.dispatchEvent(new Event("change", {bubbles: true}));
		return true;
	})()`, cliffWidget+` [data-testid="field-`+name+`"]`, value))
}

// TestBrowserCliff opens the lesson in headless Chromium: the loss at the
// start point against an engine computed here, play to the end (the path
// without clipping thrown onto the plateau, the clipped one in the
// valley), ← and the position slider, clipping off, truncation to k = 5,
// a click on the surface, the exports; then the Chinese page.
// Screenshots at desktop and phone width, both languages.
func TestBrowserCliff(t *testing.T) {
	url, ctx := browserSession(t, 150*time.Second)
	w := cliffWidget
	openCliff(t, ctx, url, "en")

	want := cliffLoss(t, 6, -2.9)
	for _, row := range []string{"row-off", "row-on"} {
		if got := cliffValue(t, ctx, row, "loss"); math.Abs(got-want) > 1e-12 {
			t.Errorf("%s: start loss %v, engine %v", row, got, want)
		}
	}
	if s := textOf(t, ctx, w+` [data-testid="loss-on"]`); s != strconv.FormatFloat(want, 'g', 3, 64) {
		t.Errorf("start loss shown %q, engine %v", s, want)
	}

	topSpeed(t, ctx, w)
	do(t, ctx, "play to the end",
		chromedp.Click(chromedp.CSS(w+` [data-testid="play"]`)),
		stepIs(w, 100, 30*time.Second), stateIs(w, "done", 10*time.Second))
	if l := cliffValue(t, ctx, "row-off", "loss"); l < 0.085 || l > 0.09 {
		t.Errorf("the unclipped path ends at loss %v, not on the plateau", l)
	}
	if l := cliffValue(t, ctx, "row-on", "loss"); l > 0.01 {
		t.Errorf("the clipped path ends at loss %v", l)
	}
	readout := textOf(t, ctx, w+` [data-testid="readout"]`)
	if !strings.Contains(readout, "5.24 (step 59)") || !strings.Contains(readout, "1 (step 59)") {
		t.Errorf("readout %q lacks the longest steps", readout)
	}
	done := shoot(t, ctx, w)

	focusWidget(t, ctx, w)
	do(t, ctx, "← steps back", chromedp.KeyEvent(kb.ArrowLeft), stepIs(w, 99, 10*time.Second))
	setSlider(t, ctx, w+` [data-testid="seek"]`, 0)
	do(t, ctx, "seek to 0", stepIs(w, 0, 10*time.Second),
		pollJS(`document.querySelector('`+w+` [data-testid="progress"]').textContent === "step 0 of 100"`, 10*time.Second))
	if got := cliffValue(t, ctx, "row-off", "loss"); math.Abs(got-want) > 1e-12 {
		t.Errorf("back at step 0: loss %v, engine %v", got, want)
	}
	do(t, ctx, "step", chromedp.Click(chromedp.CSS(w+` [data-testid="step"]`)), stepIs(w, 1, 10*time.Second))

	setCliffField(t, ctx, "clip", "off")
	do(t, ctx, "clipping off", pollJS(`!document.querySelector('`+w+` [data-testid="col-on"]') && document.querySelector('`+w+` [data-testid="col-off"]')`, 10*time.Second))
	setCliffField(t, ctx, "clip", "both")
	setCliffField(t, ctx, "k", "5")
	do(t, ctx, "k = 5", pollJS(`document.querySelector('`+w+` [data-testid="how"]').textContent.includes("last 5 of 50") && document.querySelector('`+w+` [data-testid="col-on"]')`, 10*time.Second))
	if h := textOf(t, ctx, w+` [data-testid="readout"] tbody`); !strings.Contains(h, "cos") {
		t.Errorf("truncated readout head %q lacks the cosine", h)
	}
	do(t, ctx, "the step stays", stepIs(w, 1, time.Second))

	// A click in the middle of the surface starts near (4, −1).
	do(t, ctx, "click the surface", chromedp.ScrollIntoView(chromedp.CSS(w+` [data-testid="surface"]`)), chromedp.Click(chromedp.CSS(w+` [data-testid="surface"]`)),
		pollJS(`Math.abs(document.querySelector('`+w+` [data-testid="field-w0"]').value - 4) < 0.1 && document.querySelector('`+w+` [data-testid="field-w0"]').value !== "6"`, 10*time.Second))
	w0 := evalJS[string](t, ctx, `document.querySelector('`+w+` [data-testid="field-w0"]').value`)
	b0 := evalJS[string](t, ctx, `document.querySelector('`+w+` [data-testid="field-b0"]').value`)
	wv, _ := strconv.ParseFloat(w0, 64)
	bv, _ := strconv.ParseFloat(b0, 64)
	if math.Abs(bv+1) > 0.1 {
		t.Errorf("clicked start (%s, %s), want about (4, -1)", w0, b0)
	}

	// The exports of the state on screen.
	href := attrOf(t, ctx, w+` [data-testid="export-json"]`, "href")
	for _, part := range []string{"/export/cliff.json?", "w0=" + w0, "b0=" + b0, "k=5", "step=1", "lang=en"} {
		if !strings.Contains(href, part) {
			t.Errorf("export-json link %q lacks %q", href, part)
		}
	}
	var export struct {
		Status, PNG, Trace int
		Step               int
		Loss               float64
		Format             string
	}
	raw := evalJSAsync[string](t, ctx, fmt.Sprintf(`(async () => {
		const q = (s) => document.querySelector(%q + ' [data-testid="' + s + '"]').href;
		const r = await fetch(q("export-json"));
		if (!r.ok) return JSON.stringify({Status: r.status});
		const j = await r.json();
		const p = await fetch(q("download-png"));
		const tr = await fetch(q("export-trace"));
		const tj = tr.ok ? await tr.json() : {};
		return JSON.stringify({Status: r.status, Step: j.step, Loss: j.data.paths[0].loss[0], PNG: p.status, Trace: tr.status, Format: tj.format});
	})()`, w))
	if err := json.Unmarshal([]byte(raw), &export); err != nil {
		t.Fatalf("export: %.200s: %v", raw, err)
	}
	if export.Status != 200 || export.Step != 1 || export.PNG != 200 || export.Trace != 200 || export.Format != engine.TraceFormat {
		t.Fatalf("exports: %+v", export)
	}
	if l := cliffLoss(t, wv, bv); math.Abs(export.Loss-l) > 1e-12 {
		t.Errorf("cliff.json: start loss %v, engine %v", export.Loss, l)
	}

	saveScreenshots(t, map[string][]byte{"paramshare-cliff-widget-done.png": done})
	do(t, ctx, "back to the defaults", chromedp.Navigate(url+"/en/lessons/vanishing-and-exploding"))
	openCliff(t, ctx, url, "en")
	topSpeed(t, ctx, w)
	do(t, ctx, "play", chromedp.Click(chromedp.CSS(w+` [data-testid="play"]`)), stepIs(w, 100, 30*time.Second))
	blurAll(t, ctx)
	do(t, ctx, "scroll to the widget", chromedp.ScrollIntoView(chromedp.CSS(w)))
	screenshots(t, ctx, "cliff-en", w)

	// Chinese.
	openCliff(t, ctx, url, "zh")
	if got := cliffValue(t, ctx, "row-on", "loss"); math.Abs(got-want) > 1e-12 {
		t.Errorf("zh: start loss %v, engine %v", got, want)
	}
	text := textOf(t, ctx, w)
	for _, s := range []string{"播放", "不裁剪", "裁剪（‖g‖ ≤ 1）", "学习率", "点击即从该处出发"} {
		if !strings.Contains(text, s) {
			t.Errorf("the Chinese widget lacks %q", s)
		}
	}
	for _, s := range []string{"Play", "without clipping", "learning rate"} {
		if strings.Contains(text, s) {
			t.Errorf("the Chinese widget shows %q", s)
		}
	}
	topSpeed(t, ctx, w)
	do(t, ctx, "zh: play", chromedp.Click(chromedp.CSS(w+` [data-testid="play"]`)), stepIs(w, 100, 30*time.Second))
	blurAll(t, ctx)
	do(t, ctx, "scroll to the widget", chromedp.ScrollIntoView(chromedp.CSS(w)))
	screenshots(t, ctx, "cliff-zh", w)
}
