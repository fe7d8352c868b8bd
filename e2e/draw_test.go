package e2e

import (
	"encoding/base64"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/paramshare/paramshare/run"
)

// TestBrowserDrawDigit opens the draw-a-digit lesson in headless Chromium,
// waits for the models to train, draws a stroke on the canvas with real
// mouse events (Chromium turns them into pointer events), and checks that
// the prediction the page shows is the engine's for the 28×28 input the page
// sent. Then it moves the drawing with the arrow keys and checks again, and
// takes desktop and phone screenshots.
func TestBrowserDrawDigit(t *testing.T) {
	url, ctx := browserSession(t, 150*time.Second)
	const widget = `[data-widget="draw-digit"]`
	poll := pollJS
	eval := func(expr string) string {
		t.Helper()
		return evalJS[string](t, ctx, expr)
	}
	err := chromedp.Do(ctx,
		chromedp.Navigate(url+"/en/lessons/draw-a-digit"),
		chromedp.WaitVisible(chromedp.CSS(widget+` [data-testid="draw-canvas"]`)),
	)
	if err != nil {
		t.Fatalf("browser: open the lesson: %v", err)
	}
	// The training (shared by the test binary) may already be done; if not,
	// the page shows its progress meanwhile.
	if eval(`document.querySelector('`+widget+`').dataset.ready || ""`) != "true" {
		if err := chromedp.Do(ctx, poll(`document.querySelector('[data-testid="training"]').textContent.length > 0`, 20*time.Second)); err != nil {
			t.Fatalf("no training progress shown: %v", err)
		}
		t.Logf("while training, the page says %q", eval(`document.querySelector('[data-testid="training"]').textContent`))
	}
	if err := chromedp.Do(ctx, poll(`document.querySelector('`+widget+`').dataset.ready === "true"`, 120*time.Second)); err != nil {
		t.Fatalf("models never became ready: %v", err)
	}
	if h := eval(`document.querySelector('[data-testid="empty-hint"]').hidden ? "hidden" : "shown"`); h != "shown" {
		t.Errorf("empty hint %s before drawing", h)
	}

	// A 7: across the top, then down to the lower left, with real mouse
	// events in the canvas's page coordinates.
	var box []float64
	box, err = chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => {
		const c = document.querySelector('[data-testid="draw-canvas"]');
		c.scrollIntoView({block: "center", behavior: "instant"});
		const r = c.getBoundingClientRect();
		return [r.left, r.top, r.width, r.height];
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	at := func(fx, fy float64) (float64, float64) { return box[0] + fx*box[2], box[1] + fy*box[3] }
	stroke := [][2]float64{{0.28, 0.22}, {0.45, 0.22}, {0.62, 0.22}, {0.72, 0.23}, {0.66, 0.38}, {0.58, 0.52}, {0.5, 0.66}, {0.44, 0.8}}
	x0, y0 := at(stroke[0][0], stroke[0][1])
	actions := []chromedp.Action[chromedp.Void]{chromedp.MouseEvent(chromedp.MousePressed, x0, y0, chromedp.ButtonLeft)}
	for _, p := range stroke[1:] {
		x, y := at(p[0], p[1])
		actions = append(actions, chromedp.MouseEvent(chromedp.MouseMoved, x, y, chromedp.ButtonLeft), chromedp.Sleep(30*time.Millisecond))
	}
	xe, ye := at(stroke[len(stroke)-1][0], stroke[len(stroke)-1][1])
	actions = append(actions, chromedp.MouseEvent(chromedp.MouseReleased, xe, ye, chromedp.ButtonLeft))
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("browser: draw: %v", err)
	}

	// check waits until the page's CNN prediction is the engine's for the
	// last pixels the page sent, preprocessed with center and shift.
	check := func(center bool, shift int) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			pixels := eval(`document.querySelector('` + widget + `').dataset.pixels || ""`)
			px, err := base64.StdEncoding.DecodeString(pixels)
			if err != nil || len(px) != run.DigitPixels {
				t.Fatalf("page's data-pixels is not 784 bytes of base64: %q (%v)", pixels, err)
			}
			in := run.PrepareDigit(px, center, shift)
			var mismatch string
			for _, model := range run.DigitModelNames() {
				want := digitProbs(t, model, in)
				top := slices.Index(want, slices.Max(want))
				cls := eval(`document.querySelector('[data-testid="prediction-` + model + `"]').dataset.class || ""`)
				p, _ := strconv.ParseFloat(eval(`document.querySelector('[data-testid="prediction-`+model+`"]').dataset.p || "NaN"`), 64)
				if cls != strconv.Itoa(top) || math.Abs(p-want[top]) > 1e-12 {
					mismatch = fmt.Sprintf("%s: page shows %s (p %v), engine %d (p %v)", model, cls, p, top, want[top])
					break
				}
				if model == "cnn" {
					t.Logf("shift %+d: page and engine agree: cnn says %d with p %.4f; ink %d", shift, top, want[top], inkSum(px))
				}
			}
			if mismatch == "" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("shift %+d: %s", shift, mismatch)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	check(true, 0)
	if h := eval(`document.querySelector('[data-testid="empty-hint"]').hidden ? "hidden" : "shown"`); h != "hidden" {
		t.Errorf("empty hint %s after drawing", h)
	}
	if n := eval(`String(document.querySelectorAll('[data-testid="maps-conv1"] canvas').length)`); n != "8" {
		t.Errorf("%s conv1 maps, want 8", n)
	}

	// The SVG export of what the page shows is an SVG document.
	svgType, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(async () => {
		const a = document.querySelector('[data-testid="download-svg"]');
		const r = await fetch(a.href);
		const body = await r.text();
		return r.status + " " + r.headers.get("content-type") + " " + body.includes("<svg");
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(svgType, "200 image/svg+xml") || !strings.HasSuffix(svgType, " true") {
		t.Errorf("download-svg: %s", svgType)
	}

	// Arrow keys on the canvas move the drawing sideways.
	desktop := shoot(t, ctx, "")
	err = chromedp.Do(ctx,
		chromedp.Focus(chromedp.CSS(`[data-testid="draw-canvas"]`)),
		chromedp.KeyEvent(kb.ArrowRight), chromedp.KeyEvent(kb.ArrowRight), chromedp.KeyEvent(kb.ArrowRight),
		poll(`document.querySelector('[data-testid="shift"]').value === "3"`, 5*time.Second),
	)
	if err != nil {
		t.Fatalf("browser: shift with arrow keys: %v", err)
	}
	check(true, 3)

	// Dragging the digit the models read moves it too: about four cells of
	// the 28-cell preview to the left takes the shift from +3 to −1.
	var seen []float64
	seen, err = chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => {
		const r = document.querySelector('[data-testid="input-canvas"]').getBoundingClientRect();
		return [r.left, r.top, r.width, r.height];
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	cell := seen[2] / 28
	sx, sy := seen[0]+seen[2]/2, seen[1]+seen[3]/2
	err = chromedp.Do(ctx,
		chromedp.MouseEvent(chromedp.MousePressed, sx, sy, chromedp.ButtonLeft),
		chromedp.MouseEvent(chromedp.MouseMoved, sx-2*cell, sy, chromedp.ButtonLeft),
		chromedp.MouseEvent(chromedp.MouseMoved, sx-4*cell, sy, chromedp.ButtonLeft),
		chromedp.MouseEvent(chromedp.MouseReleased, sx-4*cell, sy, chromedp.ButtonLeft),
		poll(`document.querySelector('[data-testid="shift"]').value === "-1"`, 5*time.Second),
	)
	if err != nil {
		t.Fatalf("browser: drag the digit sideways: %v", err)
	}
	check(true, -1)
	widgetShot := shoot(t, ctx, widget)

	// A phone: narrow viewport with touch; the page must lay the widget out
	// in one column and keep the canvas usable.
	err = chromedp.Do(ctx,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch),
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS(widget+` [data-testid="draw-canvas"]`)),
		poll(`document.querySelector('`+widget+`').dataset.ready === "true"`, 30*time.Second),
		chromedp.Click(chromedp.CSS(`[data-testid="load-digit"]`)),
		poll(`(document.querySelector('[data-testid="prediction-cnn"]').dataset.class || "") !== ""`, 15*time.Second),
	)
	if err != nil {
		t.Fatalf("browser: phone layout: %v", err)
	}
	// Neither the page nor the widget may be wider than the phone (the
	// sweep table scrolls inside its own box).
	overflow := eval(`(() => {
		const w = document.querySelector('` + widget + `');
		return [document.documentElement.scrollWidth, window.innerWidth, w.scrollWidth, w.clientWidth].join(" ");
	})()`)
	var pageW, viewW, widgetScroll, widgetW int
	fmt.Sscan(overflow, &pageW, &viewW, &widgetScroll, &widgetW)
	if pageW > viewW+1 || widgetScroll > widgetW+1 {
		t.Errorf("the phone layout overflows sideways: page %d px in a %d px viewport, widget content %d px in %d px", pageW, viewW, widgetScroll, widgetW)
	}
	saveScreenshots(t, map[string][]byte{
		"paramshare-draw-digit-page.png":   desktop,
		"paramshare-draw-digit-widget.png": widgetShot,
		"paramshare-draw-digit-phone.png":  shoot(t, ctx, widget),
	})
}

func inkSum(px []byte) int {
	s := 0
	for _, v := range px {
		s += int(v)
	}
	return s
}
