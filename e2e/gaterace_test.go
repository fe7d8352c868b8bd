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

// gateWidget is the gate-race widget of "Gates help".
const gateWidget = `[data-widget="gate-race"]`

// openGates opens the lesson in lang and waits for the widget's first
// frame (the table's counts are filled in from it).
func openGates(t *testing.T, ctx context.Context, url, lang string) {
	t.Helper()
	do(t, ctx, "open gates-help ("+lang+")",
		chromedp.Navigate(url+"/"+lang+"/lessons/gates-help"),
		chromedp.WaitVisible(chromedp.CSS(gateWidget+` [data-testid="play"]`)),
		connected(gateWidget, 20*time.Second),
		pollJS(`document.querySelector('`+gateWidget+` [data-testid="cellParams-rnn"]').dataset.value !== undefined`, 20*time.Second),
	)
}

// lossIs waits until the widget's LSTM loss cell holds want (the table is
// drawn on the animation frame after the step arrives).
func lossIs(want float64) chromedp.Action[chromedp.Void] {
	return pollJS(fmt.Sprintf(`Math.abs(Number(document.querySelector('%s [data-testid="loss-lstm"]').dataset.value) - %v) < 1e-12`, gateWidget, want), 10*time.Second)
}

// dataValue reads a table cell's full-precision value.
func dataValue(t *testing.T, ctx context.Context, testid string) float64 {
	t.Helper()
	s := attrOf(t, ctx, gateWidget+` [data-testid="`+testid+`"]`, "data-value")
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%s: data-value %q: %v", testid, s, err)
	}
	return v
}

// TestBrowserGateRace drives the race in a real headless Chromium: the
// parameter counts against the engine's, three steps and the LSTM's loss
// against a lab.SeqTrainer run on its own, ← back one step, a new T,
// play, the JSON and trace exports, a seek back with the position slider
// (the loss again the trainer's), the PNG and SVG exports, then the
// Chinese page; screenshots at desktop and phone width in both languages.
func TestBrowserGateRace(t *testing.T) {
	url, ctx := browserSession(t, 150*time.Second)
	w := gateWidget
	openGates(t, ctx, url, "en")

	// The counts are the engine's: Model.Count of the models lab builds.
	for _, cell := range lab.SeqCells() {
		m, err := lab.NewSeqTaskModel(lab.DefaultSeqTrainConfig(cell, lab.TaskAdding))
		if err != nil {
			t.Fatal(err)
		}
		c := m.Count()
		if got := dataValue(t, ctx, "cellParams-"+cell); got != float64(lab.CellParams(c)) {
			t.Errorf("%s: recurrent layer shows %v, engine %d", cell, got, lab.CellParams(c))
		}
		if got := dataValue(t, ctx, "params-"+cell); got != float64(c.Params) {
			t.Errorf("%s: model shows %v, engine %d", cell, got, c.Params)
		}
	}
	if s := textOf(t, ctx, w+` [data-testid="times-lstm"]`); s != "4×" {
		t.Errorf("lstm × rnn %q", s)
	}
	if s := textOf(t, ctx, w+` [data-testid="times-gru"]`); s != "3×" {
		t.Errorf("gru × rnn %q", s)
	}

	// Three steps; the LSTM's batch loss is an independent trainer's.
	tr, err := lab.NewSeqTrainer(lab.DefaultSeqTrainConfig("lstm", lab.TaskAdding))
	if err != nil {
		t.Fatal(err)
	}
	var losses []float64
	for range 3 {
		r, err := tr.Step()
		if err != nil {
			t.Fatal(err)
		}
		losses = append(losses, r.Loss)
	}
	for k := 1; k <= 3; k++ {
		do(t, ctx, fmt.Sprintf("step %d", k), chromedp.Click(chromedp.CSS(w+` [data-testid="step"]`)), stepIs(w, k, 10*time.Second))
	}
	do(t, ctx, fmt.Sprintf("LSTM loss after 3 steps = lab.SeqTrainer's %v", losses[2]), lossIs(losses[2]))
	focusWidget(t, ctx, w)
	do(t, ctx, "← steps back", chromedp.KeyEvent(kb.ArrowLeft), stepIs(w, 2, 10*time.Second),
		lossIs(losses[1]))
	blurAll(t, ctx)

	// A new T restarts the race; play it for a while.
	evalJS[bool](t, ctx, fmt.Sprintf(`(() => {
		const s = document.querySelector(%q);
		s.value = "10";
		s.dispatchEvent(new Event("change", {bubbles: true}));
		return true;
	})()`, w+` [data-testid="set-T"]`))
	do(t, ctx, "T = 10", stepIs(w, 0, 10*time.Second),
		pollJS(`document.querySelector('`+w+` [data-testid="step-line"]').textContent.includes("T = 10")`, 10*time.Second))
	topSpeed(t, ctx, w)
	do(t, ctx, "play to step 60",
		chromedp.Click(chromedp.CSS(w+` [data-testid="play"]`)),
		pollJS(`Number(document.querySelector('`+w+`').dataset.step) >= 60`, 30*time.Second),
		chromedp.Click(chromedp.CSS(w+` [data-testid="play"]`)), stateIs(w, "paused", 10*time.Second),
		pollJS(`Number(document.querySelector('`+w+` [data-testid="t-chart"]').dataset.points) === 1`, 10*time.Second))
	step := settledStep(t, ctx, w)

	// The JSON export of the state on screen, and the trace.
	href := attrOf(t, ctx, w+` [data-testid="export-json"]`, "href")
	for _, part := range []string{"/export/gate-race.json?", "T=10", "task=adding", fmt.Sprintf("step=%d", step)} {
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
		return JSON.stringify({Status: r.status, Step: j.step, Loss: j.data.loss[1], Trace: tr.status, Format: tj.format});
	})()`, w+` [data-testid="export-json"]`, w+` [data-testid="export-trace"]`))
	if err := json.Unmarshal([]byte(raw), &export); err != nil {
		t.Fatalf("export: %.200s: %v", raw, err)
	}
	if export.Status != 200 || export.Step != step || len(export.Loss) != step || export.Trace != 200 || export.Format != engine.TraceFormat {
		t.Fatalf("exports: status %d step %d (want %d) %d losses, trace %d %q", export.Status, export.Step, step, len(export.Loss), export.Trace, export.Format)
	}
	c := lab.DefaultSeqTrainConfig("lstm", lab.TaskAdding)
	c.T = 10
	tr10, err := lab.NewSeqTrainer(c)
	if err != nil {
		t.Fatal(err)
	}
	losses10 := make([]float64, step)
	for k := range step {
		r, err := tr10.Step()
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(r.Loss-export.Loss[k]) > 1e-12 {
			t.Fatalf("gate-race.json: LSTM loss at step %d %v, lab.SeqTrainer %v", k+1, export.Loss[k], r.Loss)
		}
		losses10[k] = r.Loss
	}

	// Back with the position slider: the race replays to the step, and
	// the loss shown is the independent trainer's there.
	const back = 25
	setSlider(t, ctx, w+` [data-testid="seek"]`, back)
	do(t, ctx, fmt.Sprintf("seek to %d", back), stepIs(w, back, 20*time.Second), stateIs(w, "paused", 10*time.Second),
		lossIs(losses10[back-1]))

	// The charts of the state on screen as PNG and SVG.
	for _, e := range []struct{ testid, path, ctype, magic string }{
		{"download-png", "/export/gate-race.png?", "image/png", "PNG"},
		{"download-svg", "/export/gate-race.svg?", "image/svg+xml", "<svg"},
	} {
		href := attrOf(t, ctx, w+` [data-testid="`+e.testid+`"]`, "href")
		for _, part := range []string{e.path, "T=10", fmt.Sprintf("step=%d", back), "lang=en"} {
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
			t.Errorf("%s: status %d, type %q, %d bytes, starts as %s: %v; want 200, %s, ≥ 10 kB", e.testid, got.Status, got.Type, got.Size, e.ctype, got.Magic, e.ctype)
		}
		t.Logf("%s at step %d: %d bytes, %s", e.testid, back, got.Size, got.Type)
	}
	screenshots(t, ctx, "gate-race-en", w)

	// Chinese.
	openGates(t, ctx, url, "zh")
	do(t, ctx, "zh: step", chromedp.Click(chromedp.CSS(w+` [data-testid="step"]`)), stepIs(w, 1, 10*time.Second))
	do(t, ctx, "zh: LSTM loss after 1 step", lossIs(losses[0]))
	text := textOf(t, ctx, w)
	for _, s := range []string{"播放", "循环层参数", "加法问题", "比赛设置"} {
		if !strings.Contains(text, s) {
			t.Errorf("the Chinese widget lacks %q", s)
		}
	}
	for _, s := range []string{"Play", "Recurrent layer", "Adding problem", "Race settings"} {
		if strings.Contains(text, s) {
			t.Errorf("the Chinese widget shows %q", s)
		}
	}
	screenshots(t, ctx, "gate-race-zh", w)
}
