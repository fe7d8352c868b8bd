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

// albertWidget is the albert-share widget of "Share across layers".
const albertWidget = `[data-widget="albert-share"]`

func openAlbert(t *testing.T, ctx context.Context, url, lang string) {
	t.Helper()
	do(t, ctx, "open share-across-layers ("+lang+")",
		chromedp.Navigate(url+"/"+lang+"/lessons/share-across-layers"),
		chromedp.WaitVisible(chromedp.CSS(albertWidget+` [data-testid="play"]`)),
		connected(albertWidget, 20*time.Second),
		pollJS(`document.querySelector('`+albertWidget+` [data-testid="params-all"]').dataset.value !== undefined`, 20*time.Second),
	)
}

// albertLossIs waits until the all-shared loss cell holds want.
func albertLossIs(want float64) chromedp.Action[chromedp.Void] {
	return pollJS(fmt.Sprintf(`Math.abs(Number(document.querySelector('%s [data-testid="loss-all"]').dataset.value) - %v) < 1e-12`, albertWidget, want), 10*time.Second)
}

func albertValue(t *testing.T, ctx context.Context, testid string) float64 {
	t.Helper()
	s := attrOf(t, ctx, albertWidget+` [data-testid="`+testid+`"]`, "data-value")
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%s: data-value %q: %v", testid, s, err)
	}
	return v
}

// TestBrowserAlbertShare drives the race in headless Chromium: the counts
// against the engine's, three steps and the all-shared loss against a
// lab.AlbertTrainer of its own, ← back, the Σ − dW check on a card, a new
// block count, play, the JSON and trace exports (the trace's same_as
// ties), then the Chinese page; screenshots at desktop and phone width.
func TestBrowserAlbertShare(t *testing.T) {
	url, ctx := browserSession(t, 150*time.Second)
	w := albertWidget
	openAlbert(t, ctx, url, "en")

	for _, share := range lab.AlbertShares() {
		c := lab.DefaultAlbertConfig(share)
		m, err := engine.NewTransformer("m", c.Model(), c.Seed)
		if err != nil {
			t.Fatal(err)
		}
		if got := albertValue(t, ctx, "params-"+share); got != float64(m.Count().Params) {
			t.Errorf("%s: shows %v parameters, engine %d", share, got, m.Count().Params)
		}
		if got := albertValue(t, ctx, "hand-"+share); got != float64(lab.AlbertParams(c)) {
			t.Errorf("%s: by hand shows %v, lab %d", share, got, lab.AlbertParams(c))
		}
	}

	tr, err := lab.NewAlbertTrainer(lab.DefaultAlbertConfig("all"))
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
	do(t, ctx, "all-shared loss after 3 steps = lab's", albertLossIs(losses[2]))
	if e := albertValue(t, ctx, "sumerr-all"); !(e <= 1e-12) {
		t.Errorf("card shows max |Σ − dW| = %g", e)
	}
	// Nothing shared: the ledger is the blocks' rows only (four biases, no
	// sum); a shared card goes on to Σ and dW. d = 64 is not offered.
	if none, all := attrOf(t, ctx, w+` [data-testid="ledger-none"]`, "aria-label"), attrOf(t, ctx, w+` [data-testid="ledger-all"]`, "aria-label"); strings.Contains(none, "Σ") || !strings.Contains(all, "Σ") {
		t.Errorf("ledger labels: nothing shared %q, all shared %q", none, all)
	}
	if n := evalJS[[]int](t, ctx, fmt.Sprintf(`[%q, %q].map((q) => document.querySelectorAll(q).length)`,
		w+` [data-testid="set-d"] option[value="32"]`, w+` [data-testid="set-d"] option[value="64"]`)); n[0] != 1 || n[1] != 0 {
		t.Errorf("d options: %d of 32, %d of 64; want 1 and 0", n[0], n[1])
	}
	focusWidget(t, ctx, w)
	do(t, ctx, "← steps back", chromedp.KeyEvent(kb.ArrowLeft), stepIs(w, 2, 10*time.Second), albertLossIs(losses[1]))
	blurAll(t, ctx)

	evalJS[bool](t, ctx, fmt.Sprintf(`(() => {
		const s = document.querySelector(%q);
		s.value = "3";
		s.dispatchEvent(new Event("change", {bubbles: true}));
		return true;
	})()`, w+` [data-testid="set-blocks"]`))
	do(t, ctx, "blocks = 3", stepIs(w, 0, 10*time.Second),
		pollJS(`document.querySelector('`+w+` [data-testid="step-line"]').textContent.includes("N = 3")`, 10*time.Second))
	topSpeed(t, ctx, w)
	do(t, ctx, "play to step 40",
		chromedp.Click(chromedp.CSS(w+` [data-testid="play"]`)),
		pollJS(`Number(document.querySelector('`+w+`').dataset.step) >= 40`, 30*time.Second),
		chromedp.Click(chromedp.CSS(w+` [data-testid="play"]`)), stateIs(w, "paused", 10*time.Second))
	// The export links name the step on screen (the last frame may land
	// just after the pause is read).
	href := attrOf(t, ctx, w+` [data-testid="export-json"]`, "href")
	for _, part := range []string{"/export/albert-share.json?", "blocks=3"} {
		if !strings.Contains(href, part) {
			t.Errorf("export-json link %q lacks %q", href, part)
		}
	}

	var export struct {
		Status, Step, Trace int
		Loss                []float64
		Format              string
		Ties                int
	}
	raw := evalJSAsync[string](t, ctx, fmt.Sprintf(`(async () => {
		const r = await fetch(document.querySelector(%q).href);
		if (!r.ok) return JSON.stringify({Status: r.status});
		const j = await r.json();
		const tr = await fetch(document.querySelector(%q).href);
		const tj = tr.ok ? await tr.json() : {};
		return JSON.stringify({Status: r.status, Step: j.step, Loss: j.data.loss[1], Trace: tr.status, Format: tj.format, Ties: (tj.tied || []).length});
	})()`, w+` [data-testid="export-json"]`, w+` [data-testid="export-trace"]`))
	if err := json.Unmarshal([]byte(raw), &export); err != nil {
		t.Fatalf("export: %.200s: %v", raw, err)
	}
	step := export.Step
	if export.Status != 200 || step < 40 || len(export.Loss) != step || export.Trace != 200 || export.Format != engine.TraceFormat || export.Ties == 0 {
		t.Fatalf("exports: status %d step %d (want %d) %d losses, trace %d %q, %d ties", export.Status, export.Step, step, len(export.Loss), export.Trace, export.Format, export.Ties)
	}
	c := lab.DefaultAlbertConfig("all")
	c.Blocks = 3
	tr3, err := lab.NewAlbertTrainer(c)
	if err != nil {
		t.Fatal(err)
	}
	for k := range step {
		r, err := tr3.Step()
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(r.Loss-export.Loss[k]) > 1e-12 {
			t.Fatalf("albert-share.json: all-shared loss at step %d %v, lab %v", k+1, export.Loss[k], r.Loss)
		}
	}
	screenshots(t, ctx, "albert-share-en", w)

	openAlbert(t, ctx, url, "zh")
	do(t, ctx, "zh: step", chromedp.Click(chromedp.CSS(w+` [data-testid="step"]`)), stepIs(w, 1, 10*time.Second))
	do(t, ctx, "zh: all-shared loss after 1 step", albertLossIs(losses[0]))
	text := textOf(t, ctx, w)
	for _, s := range []string{"播放", "全部共享", "不共享", "比赛设置"} {
		if !strings.Contains(text, s) {
			t.Errorf("the Chinese widget lacks %q", s)
		}
	}
	for _, s := range []string{"Play", "All shared", "Race settings"} {
		if strings.Contains(text, s) {
			t.Errorf("the Chinese widget shows %q", s)
		}
	}
	screenshots(t, ctx, "albert-share-zh", w)
}
