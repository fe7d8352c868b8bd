package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/paramshare/paramshare/lab"
)

// drawWidget is the draw-digit widget of "Draw a digit".
const drawWidget = `[data-widget="draw-digit"]`

// checkDrawing waits until every model's prediction on the page is the
// engine's for the drawing the page last sent (its data-pixels), read as
// the models read it (centred when center, moved by shift): the top class,
// its probability and the ten bars, to 1e-12. The models are trained here
// with lab, as the server trains them.
func checkDrawing(t *testing.T, ctx context.Context, center bool, shift int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		pixels := evalJS[string](t, ctx, `document.querySelector('`+drawWidget+`').dataset.pixels || ""`)
		px, err := base64.StdEncoding.DecodeString(pixels)
		if err != nil || len(px) != 28*28 {
			t.Fatalf("page's data-pixels is not 784 bytes of base64: %q (%v)", pixels, err)
		}
		in := digitInput(t, pixels, center, shift)
		var page map[string]struct {
			Class string    `json:"class"`
			P     string    `json:"p"`
			Bars  []float64 `json:"bars"`
		}
		raw := evalJS[string](t, ctx, `(() => {
			const out = {};
			for (const m of ["cnn", "lc", "mlp"]) {
				const v = document.querySelector('`+drawWidget+` [data-testid="prediction-' + m + '"]').dataset;
				const bars = [];
				for (let k = 0; k < 10; k++) bars.push(Number(document.querySelector('`+drawWidget+` [data-testid="prob-' + m + '-' + k + '"]').dataset.p ?? "NaN"));
				out[m] = {class: v.class ?? "", p: v.p ?? "", bars: bars.map((b) => Number.isFinite(b) ? b : -1)};
			}
			return JSON.stringify(out);
		})()`)
		if err := json.Unmarshal([]byte(raw), &page); err != nil {
			t.Fatal(err)
		}
		var mismatch string
		for _, model := range lab.Models() {
			want := digitProbs(t, model, in)
			top := slices.Index(want, slices.Max(want))
			got := page[model]
			p, _ := strconv.ParseFloat(got.P, 64)
			if got.Class != strconv.Itoa(top) || math.Abs(p-want[top]) > 1e-12 {
				mismatch = fmt.Sprintf("%s: page shows %s (p %s), engine %d (p %v)", model, got.Class, got.P, top, want[top])
				break
			}
			for k := range want {
				if math.Abs(got.Bars[k]-want[k]) > 1e-12 {
					mismatch = fmt.Sprintf("%s: bar %d shows p %v, engine %v", model, k, got.Bars[k], want[k])
					break
				}
			}
			if mismatch != "" {
				break
			}
			if model == "cnn" {
				t.Logf("center %v, shift %+d: page and engine agree: cnn says %d with p %.4f; ink %d", center, shift, top, want[top], inkSum(px))
			}
		}
		if mismatch == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("center %v, shift %+d: %s", center, shift, mismatch)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestBrowserDrawDigit opens the draw-a-digit lesson in headless Chromium,
// waits for the models to train, draws a stroke on the canvas with real
// mouse events (Chromium turns them into pointer events), and checks that
// the predictions the page shows are the engine's for the 28×28 input the
// page sent. Then it moves the drawing with the arrow keys and by dragging
// the digit the models read, checks again, fetches the SVG export, loads a
// test digit at phone width, and takes desktop and phone screenshots.
func TestBrowserDrawDigit(t *testing.T) {
	url, ctx := browserSession(t, 180*time.Second)
	const widget = drawWidget
	// The models trained here, meanwhile: they are needed to check.
	go digitModels()
	eval := func(expr string) string {
		t.Helper()
		return evalJS[string](t, ctx, expr)
	}
	do(t, ctx, "open draw-a-digit",
		chromedp.Navigate(url+"/en/lessons/draw-a-digit"),
		chromedp.WaitVisible(chromedp.CSS(widget+` [data-testid="draw-canvas"]`)),
		connected(widget, 20*time.Second),
	)
	// The training (shared by the test binary) may already be done; if not,
	// the page shows its progress meanwhile.
	if eval(`document.querySelector('`+widget+`').dataset.ready || ""`) != "true" {
		do(t, ctx, "training progress shown", pollJS(`document.querySelector('`+widget+` [data-testid="training"]').textContent.length > 0 || document.querySelector('`+widget+`').dataset.ready === "true"`, 20*time.Second))
		t.Logf("while training, the page says %q", eval(`document.querySelector('`+widget+` [data-testid="training"]').textContent`))
	}
	do(t, ctx, "models ready", widgetIs(widget, "ready", "true", 150*time.Second))
	if h := eval(`document.querySelector('` + widget + ` [data-testid="empty-hint"]').hidden ? "hidden" : "shown"`); h != "shown" {
		t.Errorf("empty hint %s before drawing", h)
	}
	size, epochs := digitBudget()
	acc := eval(`document.querySelector('` + widget + ` [data-testid="accuracy"]').textContent`)
	if wantAcc := fmt.Sprintf("Trained on %s digits for ", groupThousands(size)); !strings.Contains(acc, wantAcc) {
		t.Errorf("accuracy box %q does not say %q (%d epochs): the models on the page are not trained as the test's", acc, wantAcc, epochs)
	}

	// A 7: across the top, then down to the lower left, with real mouse
	// events in the canvas's page coordinates.
	box, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => {
		const c = document.querySelector('`+widget+` [data-testid="draw-canvas"]');
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
	do(t, ctx, "draw", actions...)

	checkDrawing(t, ctx, true, 0)
	if h := eval(`document.querySelector('` + widget + ` [data-testid="empty-hint"]').hidden ? "hidden" : "shown"`); h != "hidden" {
		t.Errorf("empty hint %s after drawing", h)
	}
	if n := eval(`String(document.querySelectorAll('` + widget + ` [data-testid="maps-conv1"] canvas').length)`); n != "8" {
		t.Errorf("%s conv1 maps, want 8", n)
	}

	// The SVG export of what the page shows is an SVG document; its link
	// carries the drawing (digit −1) and the step of the loaded models.
	href := attrOf(t, ctx, widget+` [data-testid="download-svg"]`, "href")
	for _, part := range []string{"/export/draw-digit.svg?", "pixels=", "digit=-1", "center=true", "shift=0", "step=1", "lang=en"} {
		if !strings.Contains(href, part) {
			t.Errorf("download-svg link lacks %q", part)
		}
	}
	svgType := evalJSAsync[string](t, ctx, `(async () => {
		const a = document.querySelector('`+widget+` [data-testid="download-svg"]');
		const r = await fetch(a.href);
		const body = await r.text();
		return r.status + " " + r.headers.get("content-type") + " " + body.includes("<svg");
	})()`)
	if !strings.HasPrefix(svgType, "200 image/svg+xml") || !strings.HasSuffix(svgType, " true") {
		t.Errorf("download-svg: %s", svgType)
	}

	// Arrow keys on the canvas move the drawing sideways.
	desktop := shoot(t, ctx, "")
	do(t, ctx, "shift with arrow keys",
		chromedp.Focus(chromedp.CSS(widget+` [data-testid="draw-canvas"]`)),
		chromedp.KeyEvent(kb.ArrowRight), chromedp.KeyEvent(kb.ArrowRight), chromedp.KeyEvent(kb.ArrowRight),
		pollJS(`document.querySelector('`+widget+` [data-testid="shift"]').value === "3"`, 5*time.Second),
	)
	checkDrawing(t, ctx, true, 3)

	// Dragging the digit the models read moves it too: about four cells of
	// the 28-cell preview to the left takes the shift from +3 to −1.
	seen, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => {
		const r = document.querySelector('`+widget+` [data-testid="input-canvas"]').getBoundingClientRect();
		return [r.left, r.top, r.width, r.height];
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	cell := seen[2] / 28
	sx, sy := seen[0]+seen[2]/2, seen[1]+seen[3]/2
	do(t, ctx, "drag the digit sideways",
		chromedp.MouseEvent(chromedp.MousePressed, sx, sy, chromedp.ButtonLeft),
		chromedp.MouseEvent(chromedp.MouseMoved, sx-2*cell, sy, chromedp.ButtonLeft),
		chromedp.MouseEvent(chromedp.MouseMoved, sx-4*cell, sy, chromedp.ButtonLeft),
		chromedp.MouseEvent(chromedp.MouseReleased, sx-4*cell, sy, chromedp.ButtonLeft),
		pollJS(`document.querySelector('`+widget+` [data-testid="shift"]').value === "-1"`, 5*time.Second),
	)
	checkDrawing(t, ctx, true, -1)

	// Without centring the models read the drawing as drawn.
	do(t, ctx, "untick centre", chromedp.Click(chromedp.CSS(widget+` [data-testid="center"]`)))
	checkDrawing(t, ctx, false, -1)
	widgetShot := shoot(t, ctx, widget)

	// A phone: narrow viewport with touch; the page must lay the widget out
	// in one column and keep the canvas usable. A test digit loads without
	// a pointer, and its prediction is the engine's too.
	do(t, ctx, "phone layout",
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch),
		chromedp.Navigate(url+"/en/lessons/draw-a-digit"), // not a reload: the address keeps the unticked centre (w1.center=false)
		chromedp.WaitVisible(chromedp.CSS(widget+` [data-testid="draw-canvas"]`)),
		widgetIs(widget, "ready", "true", 30*time.Second),
		chromedp.Click(chromedp.CSS(widget+` [data-testid="load-digit"]`)),
		pollJS(`(document.querySelector('`+widget+` [data-testid="prediction-cnn"]').dataset.class || "") !== ""`, 15*time.Second),
	)
	want := base64.StdEncoding.EncodeToString(lab.TestSet().Pixels[:28*28])
	do(t, ctx, "the test digit is painted", widgetIs(widget, "pixels", want, 10*time.Second))
	checkDrawing(t, ctx, true, 0)
	if name := textOf(t, ctx, widget+` [data-testid="digit-name"]`); name != fmt.Sprintf("MNIST test digit #0, a %d", lab.TestSet().Labels[0]) {
		t.Errorf("digit name %q", name)
	}
	// Neither the page nor the widget may be wider than the phone (the
	// sweep table scrolls inside its own box).
	pageFits(t, ctx, widget)
	saveScreenshots(t, map[string][]byte{
		"paramshare-draw-digit-page-desktop.png":   desktop,
		"paramshare-draw-digit-widget-desktop.png": widgetShot,
		"paramshare-draw-digit-widget-phone.png":   shoot(t, ctx, widget),
		"paramshare-draw-digit-page-phone.png":     shoot(t, ctx, ""),
	})
}

func inkSum(px []byte) int {
	s := 0
	for _, v := range px {
		s += int(v)
	}
	return s
}

// groupThousands writes n with commas, as the English page does.
func groupThousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
