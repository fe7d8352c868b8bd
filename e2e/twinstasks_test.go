package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/lab"
	"github.com/paramshare/paramshare/viz"
)

// The two widgets of "Twins and tasks".
const (
	twinsWidget = `[data-widget="siamese-twins"]`
	tasksWidget = `[data-widget="multitask-trunk"]`
)

// openTwinsTasks opens the lesson in lang and waits for both widgets'
// first frames (the parameter counts come with them).
func openTwinsTasks(t *testing.T, ctx context.Context, url, lang string) {
	t.Helper()
	do(t, ctx, "open twins-and-tasks ("+lang+")",
		chromedp.Navigate(url+"/"+lang+"/lessons/twins-and-tasks"),
		chromedp.WaitVisible(chromedp.CSS(twinsWidget+` [data-testid="play"]`)),
		connected(twinsWidget, 20*time.Second),
		connected(tasksWidget, 20*time.Second),
		pollJS(`document.querySelector('`+twinsWidget+` [data-testid="params-twins"]').dataset.value !== undefined`, 20*time.Second),
		pollJS(`document.querySelector('`+tasksWidget+` [data-testid="params-shared"]').dataset.value !== undefined`, 20*time.Second),
	)
}

// cellValue reads a cell's full-precision value (data-value).
func cellValue(t *testing.T, ctx context.Context, sel string) float64 {
	t.Helper()
	s := attrOf(t, ctx, sel, "data-value")
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%s: data-value %q: %v", sel, s, err)
	}
	return v
}

// cellIs waits until the cell shows want (the tables are drawn on the
// animation frame after the step arrives).
func cellIs(sel string, want float64) chromedp.Action[chromedp.Void] {
	return pollJS(fmt.Sprintf(`Math.abs(Number(document.querySelector('%s').dataset.value) - %v) <= 1e-12 * Math.max(1, Math.abs(%v))`, sel, want, want), 10*time.Second)
}

// TestBrowserTwinsTasks drives both widgets in headless Chromium: the
// parameter counts against the engine's; three twins steps, the twins'
// loss and the ledger's ‖dW‖ against a lab.TwinsTrainer run on its own
// and the ledger's sum − dW within 1e-12; ← back; a new batch; the
// multi-task race stepped, played and sought back with the slider, its
// trunk cosine the trainer's at each step; the exports; the Chinese page;
// screenshots at desktop and phone width in both languages.
func TestBrowserTwinsTasks(t *testing.T) {
	url, ctx := browserSession(t, 180*time.Second)
	openTwinsTasks(t, ctx, url, "en")
	w := twinsWidget

	// Counts: the engine's, the towers exactly twice the twins.
	sm, err := engine.NewSiameseCNN("twins", engine.DefaultSiameseConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := cellValue(t, ctx, w+` [data-testid="params-twins"]`); got != float64(sm.Count().Params) {
		t.Errorf("twins show %v parameters, engine %d", got, sm.Count().Params)
	}
	if got := cellValue(t, ctx, w+` [data-testid="params-towers"]`); got != float64(2*sm.Count().Params) {
		t.Errorf("towers show %v parameters, want %d", got, 2*sm.Count().Params)
	}

	// Three steps against an independent trainer.
	tr, err := lab.NewTwinsTrainer(lab.DefaultTwinsConfig())
	if err != nil {
		t.Fatal(err)
	}
	var losses []float64
	var dw float64
	for range 3 {
		r, err := tr.Step()
		if err != nil {
			t.Fatal(err)
		}
		losses = append(losses, viz.Sig(r.Loss[0], 4))
		dw = viz.Sig(lab.Norm(tr.Twins().Params()[0].Grad), 4)
	}
	for k := 1; k <= 3; k++ {
		do(t, ctx, fmt.Sprintf("twins step %d", k), chromedp.Click(chromedp.CSS(w+` [data-testid="step"]`)), stepIs(w, k, 10*time.Second))
	}
	do(t, ctx, "twins loss after 3 steps = lab.TwinsTrainer's", cellIs(w+` [data-testid="loss-twins"]`, losses[2]),
		cellIs(w+` [data-testid="ledger-conv1.weight-dw"]`, dw))
	for _, name := range []string{"conv1.weight", "conv2.weight", "embed.weight", "embed.bias"} {
		if d := cellValue(t, ctx, w+` [data-testid="ledger-`+name+`-diff"]`); d > 1e-12 {
			t.Errorf("%s: the ledger's sum is %g off dW", name, d)
		}
	}
	if n := evalJS[int](t, ctx, `document.querySelectorAll('`+w+` canvas.tt-kernel').length`); n != 4*3 {
		t.Errorf("%d kernel cells drawn, want 4 kernels × (two sides and the sum)", n)
	}
	focusWidget(t, ctx, w)
	do(t, ctx, "← steps back", chromedp.KeyEvent(kb.ArrowLeft), stepIs(w, 2, 10*time.Second),
		cellIs(w+` [data-testid="loss-twins"]`, losses[1]))
	blurAll(t, ctx)

	// A new batch restarts the race.
	evalJS[bool](t, ctx, fmt.Sprintf(`(() => {
		const s = document.querySelector(%q);
		s.value = "8";
		s.dispatchEvent(new Event("change", {bubbles: true}));
		return true;
	})()`, w+` [data-testid="set-batch"]`))
	do(t, ctx, "batch = 8", stepIs(w, 0, 10*time.Second),
		pollJS(`document.querySelector('`+w+` [data-testid="set-batch"]').value === "8"`, 10*time.Second))
	cfg8 := lab.DefaultTwinsConfig()
	cfg8.Batch = 8
	tr8, err := lab.NewTwinsTrainer(cfg8)
	if err != nil {
		t.Fatal(err)
	}
	r8, err := tr8.Step()
	if err != nil {
		t.Fatal(err)
	}
	do(t, ctx, "batch 8: one step", chromedp.Click(chromedp.CSS(w+` [data-testid="step"]`)), stepIs(w, 1, 10*time.Second),
		cellIs(w+` [data-testid="loss-twins"]`, viz.Sig(r8.Loss[0], 4)))

	// The twins' charts as PNG and SVG, the trace.
	for _, e := range []struct{ testid, path, ctype, magic string }{
		{"download-png", "/export/siamese-twins.png?", "image/png", "PNG"},
		{"download-svg", "/export/siamese-twins.svg?", "image/svg+xml", "<svg"},
		{"export-trace", "/export/siamese-twins.trace.json?", "application/json", engine.TraceFormat},
	} {
		href := attrOf(t, ctx, w+` [data-testid="`+e.testid+`"]`, "href")
		for _, part := range []string{e.path, "batch=8", "step=1"} {
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
		if got.Status != 200 || !strings.HasPrefix(got.Type, e.ctype) || got.Size < 5_000 || !got.Magic {
			t.Errorf("%s: status %d, type %q, %d bytes, magic %v", e.testid, got.Status, got.Type, got.Size, got.Magic)
		}
	}
	screenshots(t, ctx, "siamese-twins-en", w)

	// The multi-task race: two steps, play, seek back; the trunk cosine is
	// an independent trainer's.
	w = tasksWidget
	tt, err := lab.NewTasksTrainer(lab.DefaultTwinsConfig())
	if err != nil {
		t.Fatal(err)
	}
	var cos []float64
	for range 40 {
		r, err := tt.Step()
		if err != nil {
			t.Fatal(err)
		}
		cos = append(cos, viz.Sig(r.Cos, 4))
	}
	if got := cellValue(t, ctx, w+` [data-testid="params-shared"]`); got != float64(tt.Shared().Count().Params) {
		t.Errorf("shared model shows %v parameters, engine %d", got, tt.Shared().Count().Params)
	}
	for k := 1; k <= 2; k++ {
		do(t, ctx, fmt.Sprintf("tasks step %d", k), chromedp.Click(chromedp.CSS(w+` [data-testid="step"]`)), stepIs(w, k, 10*time.Second))
	}
	do(t, ctx, "trunk cosine after 2 steps", cellIs(w+` [data-testid="cos-shared"]`, cos[1]))
	topSpeed(t, ctx, w)
	do(t, ctx, "play to step 30",
		chromedp.Click(chromedp.CSS(w+` [data-testid="play"]`)),
		pollJS(`Number(document.querySelector('`+w+`').dataset.step) >= 30`, 40*time.Second),
		chromedp.Click(chromedp.CSS(w+` [data-testid="play"]`)), stateIs(w, "paused", 10*time.Second))
	// The last frame after the pause may arrive after the state: wait for
	// the step on screen and the export link to agree.
	do(t, ctx, "export link at the step on screen", pollJS(`(() => {
		const href = document.querySelector('`+w+` [data-testid="export-json"]').href;
		return new URL(href).searchParams.get("step") === document.querySelector('`+w+`').dataset.step;
	})()`, 10*time.Second), chromedp.Sleep(300*time.Millisecond))
	step := settledStep(t, ctx, w)
	raw := evalJSAsync[string](t, ctx, fmt.Sprintf(`(async () => {
		const r = await fetch(document.querySelector(%q).href);
		if (!r.ok) return JSON.stringify({Status: r.status});
		const j = await r.json();
		return JSON.stringify({Status: r.status, Step: j.step, Cos: j.data.cos});
	})()`, w+` [data-testid="export-json"]`))
	var export struct {
		Status, Step int
		Cos          []float64
	}
	if err := json.Unmarshal([]byte(raw), &export); err != nil {
		t.Fatalf("export: %.200s: %v", raw, err)
	}
	if export.Status != 200 || export.Step != step || len(export.Cos) != step {
		t.Fatalf("multitask-trunk.json: status %d, step %d (want %d), %d cosines", export.Status, export.Step, step, len(export.Cos))
	}
	for k := range min(step, len(cos)) {
		if viz.Sig(export.Cos[k], 4) != cos[k] {
			t.Fatalf("multitask-trunk.json: cosine at step %d %v, lab.TasksTrainer %v", k+1, export.Cos[k], cos[k])
		}
	}
	const back = 10
	setSlider(t, ctx, w+` [data-testid="seek"]`, back)
	do(t, ctx, fmt.Sprintf("seek to %d", back), stepIs(w, back, 20*time.Second), stateIs(w, "paused", 10*time.Second),
		cellIs(w+` [data-testid="cos-shared"]`, cos[back-1]))
	screenshots(t, ctx, "multitask-trunk-en", w)

	// Chinese.
	openTwinsTasks(t, ctx, url, "zh")
	do(t, ctx, "zh: twins step", chromedp.Click(chromedp.CSS(twinsWidget+` [data-testid="step"]`)), stepIs(twinsWidget, 1, 10*time.Second),
		cellIs(twinsWidget+` [data-testid="loss-twins"]`, losses[0]))
	do(t, ctx, "zh: tasks step", chromedp.Click(chromedp.CSS(tasksWidget+` [data-testid="step"]`)), stepIs(tasksWidget, 1, 10*time.Second),
		cellIs(tasksWidget+` [data-testid="cos-shared"]`, cos[0]))
	for _, c := range []struct {
		w      string
		zh, en []string
	}{
		{twinsWidget, []string{"播放", "孪生网络（一个编码器）", "两座塔", "比赛设置"}, []string{"Play", "Two towers", "Race settings"}},
		{tasksWidget, []string{"共享主干，两个头", "两个独立网络", "数字（测试）"}, []string{"Shared trunk", "separate networks", "Digit (test)"}},
	} {
		text := textOf(t, ctx, c.w)
		for _, s := range c.zh {
			if !strings.Contains(text, s) {
				t.Errorf("%s: the Chinese widget lacks %q", c.w, s)
			}
		}
		for _, s := range c.en {
			if strings.Contains(text, s) {
				t.Errorf("%s: the Chinese widget shows %q", c.w, s)
			}
		}
	}
	screenshots(t, ctx, "siamese-twins-zh", twinsWidget)
	screenshots(t, ctx, "multitask-trunk-zh", tasksWidget)
}
