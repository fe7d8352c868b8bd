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

// slideWidget is the conv-slide widget of "One kernel, many places".
const slideWidget = `[data-widget="conv-slide"]`

// lessonSlide is the lesson's widget: vertical edge on test digit 0,
// stride 1, padding 1, dilation 1 (784 cells).
var lessonSlide = slideParams{Digit: 0, Preset: "vertical-edge", Stride: 1, Padding: 1, Dilation: 1}

// openSlide opens "One kernel, many places" and waits for the widget's
// first frame (the sharing line is filled in from it).
func openSlide(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	do(t, ctx, "open one-kernel-many-places",
		chromedp.Navigate(url+"/en/lessons/one-kernel-many-places"),
		chromedp.WaitVisible(chromedp.CSS(slideWidget+` [data-testid="play"]`)),
		connected(slideWidget, 20*time.Second),
		pollJS(`document.querySelector('`+slideWidget+` [data-testid="sharing-line"]').textContent.length > 0`, 20*time.Second),
	)
}

// checkSlideCell waits until the cell readout shows the cell of step k
// (raster order, 1-based) and compares it, as text and at full precision,
// with the engine's Forward y. It returns the engine's value.
func checkSlideCell(t *testing.T, ctx context.Context, y *engine.Tensor, k int) float64 {
	t.Helper()
	ow := y.Shape[3]
	cell := slideWidget + ` [data-testid="cell-value"]`
	do(t, ctx, fmt.Sprintf("readout of step %d", k), pollJS(fmt.Sprintf(`(() => { const c = document.querySelector(%q).dataset; return c.oy * %d + c.ox * 1 + 1 === %d; })()`, cell, ow, k), 10*time.Second))
	oy, _ := strconv.Atoi(attrOf(t, ctx, cell, "data-oy"))
	ox, _ := strconv.Atoi(attrOf(t, ctx, cell, "data-ox"))
	exact, err := strconv.ParseFloat(attrOf(t, ctx, cell, "data-value"), 64)
	if err != nil {
		t.Fatal(err)
	}
	shown := textOf(t, ctx, cell)
	text, err := strconv.ParseFloat(strings.ReplaceAll(shown, "−", "-"), 64)
	if err != nil {
		t.Fatalf("readout %q is not a number: %v", shown, err)
	}
	want := y.Data[oy*ow+ox]
	if math.Abs(exact-want) > 1e-12 || math.Abs(text-want) > 0.5e-4+1e-12 {
		t.Fatalf("page shows cell (%d,%d) = %q (exact %g); engine Forward gives %g", oy, ox, shown, exact, want)
	}
	t.Logf("step %d: page cell (%d,%d) = %s; engine Forward = %.6f", k, oy, ox, shown, want)
	return want
}

// TestBrowserConvSlide opens the lesson in a real headless Chromium, checks
// that Space does nothing while focus is outside the widget and plays it
// once the widget has the focus, waits for the whole output map to fill,
// compares every cell drawn on the page's output canvas with the engine's
// Forward (on the widget's colour scale) and the cell readout with Forward
// at that cell, then checks the keys with focus on a button (→ and R act,
// Space presses the button once), that the JSON export of the step on
// screen carries the engine's cell, and saves screenshots.
func TestBrowserConvSlide(t *testing.T) {
	url, ctx := browserSession(t, 150*time.Second)

	const total = 784 // 28×28 cells at stride 1, padding 1
	widget := slideWidget
	openSlide(t, ctx, url)
	if sharing := textOf(t, ctx, widget+` [data-testid="sharing-line"]`); sharing != "10 parameters, used at 784 positions: 7,056 multiply-adds" {
		t.Errorf("sharing line %q", sharing)
	}
	topSpeed(t, ctx, widget)

	// Keys act only while focus is inside the widget: Space on the page
	// scrolls it and leaves the run alone.
	blurAll(t, ctx)
	do(t, ctx, "Space outside the widget",
		chromedp.KeyEvent(" "),
		chromedp.Sleep(600*time.Millisecond),
		stateIs(widget, "paused", time.Second),
		stepIs(widget, 0, time.Second),
	)
	focusWidget(t, ctx, widget)
	do(t, ctx, "play with Space (focus in the widget)",
		chromedp.KeyEvent(" "),
		stateIs(widget, "running", 10*time.Second),
	)
	// Wait for the output map to fill: the run ends at the last cell.
	do(t, ctx, "the map fills",
		stepIs(widget, total, 60*time.Second),
		stateIs(widget, "done", 10*time.Second),
	)

	y := forward(t, lessonSlide)
	if len(y.Data) != total {
		t.Fatalf("Forward gives %d cells, want %d", len(y.Data), total)
	}
	// Every cell of the output canvas must have the colour of the engine's
	// value on the widget's scale (the page's own palette module colours
	// Go's numbers; the page drew from the server's 4-decimal frames, so a
	// channel may differ by rounding).
	var lim float64
	nonZero := 0
	for _, v := range y.Data {
		lim = math.Max(lim, math.Abs(v))
		if v != 0 {
			nonZero++
		}
	}
	if nonZero == 0 {
		t.Fatal("the engine's map is all zero: nothing to compare")
	}
	values, _ := json.Marshal(y.Data)
	type canvasCheck struct {
		Bad     int    `json:"bad"`
		First   string `json:"first"`
		Checked int    `json:"checked"`
		// Inked counts the cells whose colour differs from that of 0: a
		// page that drew nothing but zeros would fail on those.
		Inked int `json:"inked"`
	}
	// The widget draws the last frame at the next animation frame after
	// data-step says 784, so the check looks again at each animation frame
	// for up to 10 s before it reports the cells that differ.
	res, err := chromedp.Run(ctx, chromedp.Evaluate[canvasCheck](fmt.Sprintf(`(async () => {
		const { divergingAt } = await import("/static/widgets/palette.js");
		const want = %s, lim = %v, H = %d, W = %d;
		const c = document.querySelector('%s [data-testid="output-canvas"]');
		const zero = divergingAt(0, lim);
		const compare = () => {
			const px = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
			let bad = 0, first = "", checked = 0, inked = 0;
			for (let oy = 0; oy < H; oy++) for (let ox = 0; ox < W; ox++) {
				const x = Math.floor((ox + 0.5) * c.width / W), y = Math.floor((oy + 0.5) * c.height / H);
				const at = 4 * (y * c.width + x);
				const got = [px[at], px[at + 1], px[at + 2]], exp = divergingAt(want[oy * W + ox], lim);
				checked++;
				if (exp.some((e, k) => Math.abs(e - zero[k]) > 2)) inked++;
				if (got.some((g, k) => Math.abs(g - exp[k]) > 2)) {
					if (!bad) first = "cell (" + oy + "," + ox + "): canvas " + got + ", engine " + want[oy * W + ox] + " → " + exp;
					bad++;
				}
			}
			return { bad, first, checked, inked };
		};
		const until = performance.now() + 10000;
		let r = compare();
		while (r.bad > 0 && performance.now() < until) {
			await new Promise((done) => requestAnimationFrame(done));
			r = compare();
		}
		return r;
	})()`, values, lim, 28, 28, widget), chromedp.EvalAsValue, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if res.Checked != total || res.Bad > 0 || res.Inked == 0 {
		t.Fatalf("output canvas: %d of %d cells differ from the engine's Forward (%d visibly non-zero); first: %s", res.Bad, res.Checked, res.Inked, res.First)
	}
	t.Logf("output canvas: all %d cells match the engine's Forward (%d non-zero, %d of them visibly)", res.Checked, nonZero, res.Inked)
	done := shoot(t, ctx, widget)
	checkSlideCell(t, ctx, y, total)

	// The JSON export names the state on screen (its link carries the
	// parameters and the step) and gives the whole map, which must be the
	// engine's.
	href := attrOf(t, ctx, widget+` [data-testid="export-json"]`, "href")
	for _, part := range []string{"/export/conv-slide.json?", "digit=0", "preset=vertical-edge", "stride=1", "padding=1", "dilation=1", "step=784", "lang=en"} {
		if !strings.Contains(href, part) {
			t.Errorf("export-json link %q lacks %q", href, part)
		}
	}
	var export struct {
		Status int       `json:"status"`
		Step   int       `json:"step"`
		Map    []float64 `json:"map"`
	}
	raw := evalJSAsync[string](t, ctx, fmt.Sprintf(`(async () => {
		const r = await fetch(document.querySelector(%q).href);
		if (!r.ok) return JSON.stringify({status: r.status});
		const j = await r.json();
		return JSON.stringify({status: r.status, step: j.step, map: j.data.map});
	})()`, widget+` [data-testid="export-json"]`))
	if err := json.Unmarshal([]byte(raw), &export); err != nil {
		t.Fatalf("export: %.200s: %v", raw, err)
	}
	if export.Status != 200 || export.Step != total || len(export.Map) != total {
		t.Fatalf("conv-slide.json: status %d, step %d, %d cells; want 200, %d, %d", export.Status, export.Step, len(export.Map), total, total)
	}
	for i, v := range export.Map {
		if math.Abs(v-y.Data[i]) > 1e-12 {
			t.Fatalf("conv-slide.json: cell %d is %v, engine Forward %v", i, v, y.Data[i])
		}
	}
	t.Logf("conv-slide.json at step %d: all %d cells are the engine's", export.Step, total)

	// Keys with focus on a button. Clicking Reset leaves focus on it; →
	// must still step and R reset. Space on a focused Step button presses
	// it once (a step), and must not also toggle play.
	resetButton := chromedp.CSS(widget + ` [data-testid="reset"]`)
	stepButton := chromedp.CSS(widget + ` [data-testid="step"]`)
	do(t, ctx, "click Reset", chromedp.Click(resetButton), stepIs(widget, 0, 10*time.Second), stateIs(widget, "paused", 10*time.Second))
	do(t, ctx, "→ with focus on the Reset button", chromedp.KeyEvent(kb.ArrowRight), stepIs(widget, 1, 10*time.Second))
	checkSlideCell(t, ctx, y, 1)
	do(t, ctx, "→ right after clicking Step", chromedp.Click(stepButton), stepIs(widget, 2, 10*time.Second), chromedp.KeyEvent(kb.ArrowRight), stepIs(widget, 3, 10*time.Second))
	checkSlideCell(t, ctx, y, 3)
	do(t, ctx, "Space on the focused Step button must step once and not play",
		chromedp.KeyEvent(" "), stepIs(widget, 4, 10*time.Second),
		chromedp.Sleep(500*time.Millisecond), stateIs(widget, "paused", time.Second), stepIs(widget, 4, time.Second))
	checkSlideCell(t, ctx, y, 4)

	saveScreenshots(t, map[string][]byte{"paramshare-conv-slide-widget-done.png": done})
	screenshots(t, ctx, "conv-slide", widget)
	do(t, ctx, "R with focus on the Step button", chromedp.Focus(stepButton), chromedp.KeyEvent("r"), stepIs(widget, 0, 10*time.Second))
}

// evalJSAsync runs an async expression in the page, waits for its promise
// and returns its value; an error fails the test.
func evalJSAsync[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}
