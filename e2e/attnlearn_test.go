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
	"github.com/paramshare/paramshare/lab"
)

// learnWidget is the attention-learn widget of "Watch attention learn".
const learnWidget = `[data-widget="attention-learn"]`

// openLearn opens the lesson in lang and waits for the widget's first frame
// (the map of block 1, head 1 gets its mass from it).
func openLearn(t *testing.T, ctx context.Context, url, lang string) {
	t.Helper()
	do(t, ctx, "open watch-attention-learn ("+lang+")",
		chromedp.Navigate(url+"/"+lang+"/lessons/watch-attention-learn"),
		chromedp.WaitVisible(chromedp.CSS(learnWidget+` [data-testid="play"]`)),
		connected(learnWidget, 20*time.Second),
		pollJS(`document.querySelector('`+learnWidget+` [data-testid="mass-0-0"]')?.dataset.value !== undefined`, 20*time.Second),
	)
}

// learnLossIs waits until the readout's batch loss holds want exactly.
func learnLossIs(want float64) chromedp.Action[chromedp.Void] {
	return pollJS(fmt.Sprintf(`Math.abs(Number(document.querySelector('%s [data-testid="loss"]').dataset.value) - %v) === 0`, learnWidget, want), 10*time.Second)
}

// learnHandLosses trains the page's model with the engine directly (not
// through the experiment): engine.NewTransformer from the seed, the
// batches of lab.AttnBatch from the run's stream, Adam, clipping at 1.
// It returns each step's batch loss.
func learnHandLosses(t *testing.T, c lab.AttnTrainConfig, steps int) []float64 {
	t.Helper()
	m, err := engine.NewTransformer("hand", c.Model(), c.Seed)
	if err != nil {
		t.Fatal(err)
	}
	opt := engine.NewAdam(c.LR, 0.9, 0.999, 1e-8)
	rng := lab.AttnTrainRand(c.Seed)
	var out []float64
	for range steps {
		x, y := lab.AttnBatch(c.Task, rng, c.Batch, c.Len, c.Vocab)
		m.ZeroGrad()
		loss := m.Loss.Forward(m.Forward(x, nil), y)
		m.Backward(m.Loss.Backward(), nil)
		engine.ClipGradNorm(m.Params(), c.Clip)
		opt.Step(m.Params())
		out = append(out, loss)
	}
	return out
}

// TestBrowserAttentionLearn drives lesson 12 in a headless Chromium: three
// steps with the loss against the engine trained here, ← back one, ↑/↓ on
// a map (the row readout), play and pause, a seek back with the slider,
// positions "none" (the run restarts; its loss the engine's), the JSON,
// trace, PNG and SVG exports, then the Chinese page; screenshots at
// desktop and phone width in both languages.
func TestBrowserAttentionLearn(t *testing.T) {
	url, ctx := browserSession(t, 150*time.Second)
	w := learnWidget
	openLearn(t, ctx, url, "en")

	c := lab.DefaultAttnTrainConfig(lab.TaskReverse)
	c.MaxLen = 16
	if got := attrOf(t, ctx, w+` [data-testid="maps"] canvas`, "data-testid"); got != "map-0-0" {
		t.Fatalf("first map %q", got)
	}
	if n := evalJS[int](t, ctx, `document.querySelectorAll('`+w+` [data-testid="maps"] canvas').length`); n != 4 {
		t.Errorf("%d maps, want 4 (1 block of 4 heads)", n)
	}
	losses := learnHandLosses(t, c, 60)
	for k := 1; k <= 3; k++ {
		do(t, ctx, fmt.Sprintf("step %d", k), chromedp.Click(chromedp.CSS(w+` [data-testid="step"]`)), stepIs(w, k, 10*time.Second))
	}
	do(t, ctx, fmt.Sprintf("loss after 3 steps = the engine's %v", losses[2]), learnLossIs(losses[2]))
	focusWidget(t, ctx, w)
	do(t, ctx, "← steps back", chromedp.KeyEvent(kb.ArrowLeft), stepIs(w, 2, 10*time.Second), learnLossIs(losses[1]))

	// ↓ on a focused map moves the row readout to output 1.
	do(t, ctx, "focus map and ↓", chromedp.Focus(chromedp.CSS(w+` [data-testid="map-0-3"]`)), chromedp.KeyEvent(kb.ArrowDown),
		pollJS(`document.querySelector('`+w+` [data-testid="row-readout"]').textContent.includes("Output 1 ")`, 5*time.Second))
	if s := textOf(t, ctx, w+` [data-testid="row-readout"]`); !strings.Contains(s, "Block 1, head 4") || !strings.Contains(s, "its answer is at input 6") {
		t.Errorf("row readout %q", s)
	}
	blurAll(t, ctx)

	// Play past step 150, pause: the fixed set at length 8 is solved.
	topSpeed(t, ctx, w)
	do(t, ctx, "play to step 160",
		chromedp.Click(chromedp.CSS(w+` [data-testid="play"]`)),
		pollJS(`Number(document.querySelector('`+w+`').dataset.step) >= 160`, 40*time.Second),
		chromedp.Click(chromedp.CSS(w+` [data-testid="play"]`)), stateIs(w, "paused", 10*time.Second),
		// The last frame may follow the pause: wait until the export link names the step shown.
		pollJS(`document.querySelector('`+w+` [data-testid="export-json"]').href.includes("step=" + document.querySelector('`+w+`').dataset.step + "&")`, 10*time.Second))
	step := settledStep(t, ctx, w)
	if v := attrOf(t, ctx, w+` [data-testid="acc-8"]`, "data-value"); v != "1" {
		t.Errorf("fixed-set accuracy at length 8 after step %d: %s, want 1", step, v)
	}
	if v, _ := strconv.ParseFloat(attrOf(t, ctx, w+` [data-testid="acc-16"]`, "data-value"), 64); v > 0.2 {
		t.Errorf("fixed-set accuracy at length 16: %v, want near chance", v)
	}

	// The JSON export of the state on screen, and the trace.
	href := attrOf(t, ctx, w+` [data-testid="export-json"]`, "href")
	for _, part := range []string{"/export/attention-learn.json?", "task=reverse", "positions=sinusoidal", fmt.Sprintf("step=%d", step)} {
		if !strings.Contains(href, part) {
			t.Errorf("export-json link %q lacks %q", href, part)
		}
	}
	var export struct {
		Status, Step, Trace int
		Loss                []float64
		Format              string
	}
	raw := evalJSAsync[string](t, ctx, fmt.Sprintf(`(async () => {
		const r = await fetch(document.querySelector(%q).href);
		if (!r.ok) return JSON.stringify({Status: r.status});
		const j = await r.json();
		const tr = await fetch(document.querySelector(%q).href);
		const tj = tr.ok ? await tr.json() : {};
		return JSON.stringify({Status: r.status, Step: j.step, Loss: j.data.loss, Trace: tr.status, Format: tj.format});
	})()`, w+` [data-testid="export-json"]`, w+` [data-testid="export-trace"]`))
	if err := json.Unmarshal([]byte(raw), &export); err != nil {
		t.Fatalf("export: %.200s: %v", raw, err)
	}
	if export.Status != 200 || export.Step != step || len(export.Loss) != step || export.Trace != 200 || export.Format != engine.TraceFormat {
		t.Fatalf("exports: status %d step %d (want %d) %d losses, trace %d %q", export.Status, export.Step, step, len(export.Loss), export.Trace, export.Format)
	}
	for k, l := range learnHandLosses(t, c, step) {
		if l != export.Loss[k] {
			t.Fatalf("attention-learn.json: loss at step %d %v, the engine's %v", k+1, export.Loss[k], l)
		}
	}

	// Back with the position slider.
	const back = 40
	setSlider(t, ctx, w+` [data-testid="seek"]`, back)
	do(t, ctx, fmt.Sprintf("seek to %d", back), stepIs(w, back, 20*time.Second), stateIs(w, "paused", 10*time.Second), learnLossIs(losses[back-1]))

	// The maps and charts as PNG and SVG.
	for _, e := range []struct{ testid, path, ctype, magic string }{
		{"download-png", "/export/attention-learn.png?", "image/png", "PNG"},
		{"download-svg", "/export/attention-learn.svg?", "image/svg+xml", "<svg"},
	} {
		href := attrOf(t, ctx, w+` [data-testid="`+e.testid+`"]`, "href")
		for _, part := range []string{e.path, fmt.Sprintf("step=%d", back), "lang=en"} {
			if !strings.Contains(href, part) {
				t.Errorf("%s link %q lacks %q", e.testid, href, part)
			}
		}
		var got struct {
			Status int
			Type   string
			Size   int
			Magic  bool
		}
		raw := evalJSAsync[string](t, ctx, fmt.Sprintf(`(async () => {
			const r = await fetch(document.querySelector(%q).href);
			const b = new Uint8Array(await r.arrayBuffer());
			const head = new TextDecoder("latin1").decode(b.slice(0, 400));
			return JSON.stringify({Status: r.status, Type: r.headers.get("content-type"), Size: b.length, Magic: head.includes(%q)});
		})()`, w+` [data-testid="`+e.testid+`"]`, e.magic))
		if err := json.Unmarshal([]byte(raw), &got); err != nil {
			t.Fatalf("%s: %.200s: %v", e.testid, raw, err)
		}
		if got.Status != 200 || !strings.HasPrefix(got.Type, e.ctype) || got.Size < 10_000 || !got.Magic {
			t.Errorf("%s: status %d, type %q, %d bytes, magic %v", e.testid, got.Status, got.Type, got.Size, got.Magic)
		}
	}
	screenshots(t, ctx, "attention-learn-en", w)

	// Positions "none": the run restarts, and its loss is the engine's.
	evalJS[bool](t, ctx, fmt.Sprintf(`(() => {
		const s = document.querySelector(%q);
		s.value = "none";
		s.dispatchEvent(new Event("change", {bubbles: true}));
		return true;
	})()`, w+` [data-testid="set-positions"]`))
	do(t, ctx, "positions none", stepIs(w, 0, 10*time.Second),
		pollJS(`document.querySelector('`+w+` [data-testid="step-line"]').textContent.includes("None")`, 10*time.Second))
	cn := c
	cn.Positions = engine.PositionsNone
	ln := learnHandLosses(t, cn, 2)
	do(t, ctx, "two steps without positions",
		chromedp.Click(chromedp.CSS(w+` [data-testid="step"]`)), stepIs(w, 1, 10*time.Second),
		chromedp.Click(chromedp.CSS(w+` [data-testid="step"]`)), stepIs(w, 2, 10*time.Second), learnLossIs(ln[1]))
	if math.IsNaN(ln[1]) {
		t.Fatal("NaN loss")
	}

	// Chinese.
	openLearn(t, ctx, url, "zh")
	do(t, ctx, "zh: step", chromedp.Click(chromedp.CSS(w+` [data-testid="step"]`)), stepIs(w, 1, 10*time.Second), learnLossIs(losses[0]))
	text := textOf(t, ctx, w)
	for _, s := range []string{"播放", "注意力图", "反转", "位置编码", "答案处"} {
		if !strings.Contains(text, s) {
			t.Errorf("the Chinese widget lacks %q", s)
		}
	}
	for _, s := range []string{"Play", "Attention maps", "Reverse", "Positional encoding", "on the answer"} {
		if strings.Contains(text, s) {
			t.Errorf("the Chinese widget shows %q", s)
		}
	}
	topSpeed(t, ctx, w)
	do(t, ctx, "zh: play to step 120",
		chromedp.Click(chromedp.CSS(w+` [data-testid="play"]`)),
		pollJS(`Number(document.querySelector('`+w+`').dataset.step) >= 120`, 40*time.Second),
		chromedp.Click(chromedp.CSS(w+` [data-testid="play"]`)), stateIs(w, "paused", 10*time.Second))
	screenshots(t, ctx, "attention-learn-zh", w)
}
