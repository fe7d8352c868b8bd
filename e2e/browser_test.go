package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/paramshare/paramshare/lessons"
	"github.com/paramshare/paramshare/run"
)

// The browser tests share one set of helpers, kept here: browserSession
// starts the site and a headless Chromium on it (or skips), pollJS and
// evalJS wait for and read the page, setSlider drags a range input, and
// saveScreenshots / screenshots write PNGs for a reader to look at.

// findChromium returns a Chromium-family browser, or "" when none is found.
func findChromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browserSession starts the site with every lesson on an httptest server
// and a headless Chromium (1280×1000) on it, and returns the server's URL
// and a browser context that expires after timeout; both are closed when
// the test ends. It skips the test under -short (CI's race pass: Chromium
// under the race detector is slow and flaky), even when
// PARAMSHARE_REQUIRE_BROWSER=1; otherwise a missing Chromium skips the test,
// or fails it when PARAMSHARE_REQUIRE_BROWSER=1.
func browserSession(t *testing.T, timeout time.Duration) (string, context.Context) {
	t.Helper()
	if testing.Short() {
		if os.Getenv("PARAMSHARE_REQUIRE_BROWSER") == "1" {
			t.Skip("browser test skipped under -short, although PARAMSHARE_REQUIRE_BROWSER=1: the -short (race) pass never runs Chromium; run without -short to execute it")
		}
		t.Skip("browser test skipped under -short")
	}
	chrome := findChromium()
	if chrome == "" {
		if os.Getenv("PARAMSHARE_REQUIRE_BROWSER") == "1" {
			t.Fatal("no Chromium found (looked for chromium, chromium-browser, google-chrome) and PARAMSHARE_REQUIRE_BROWSER=1")
		}
		t.Skip("no Chromium found (looked for chromium, chromium-browser, google-chrome); set PARAMSHARE_REQUIRE_BROWSER=1 to make this a failure")
	}
	set, err := lessons.Load(lessons.Embedded)
	if err != nil {
		t.Fatal(err)
	}
	live := NewLive(LiveOptions{}, nil)
	srv := httptest.NewServer(NewServer(nil, set, live))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		live.Shutdown(ctx)
		srv.Close()
	})
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	ctx, cancelC := context.WithTimeout(ctx, timeout)
	// Cleanups run last-in first-out: this one runs before the server's.
	t.Cleanup(func() { cancelC(); cancelB(); cancelA() })
	return srv.URL, ctx
}

// pollJS waits until the page expression expr is true, for at most timeout.
func pollJS(expr string, timeout time.Duration) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(timeout))(ctx, t)
		return err
	})
}

// evalJS runs expr in the page and returns its value; an error fails the test.
func evalJS[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// attrOf returns attribute name of the element selector finds; a missing
// element or attribute fails the test.
func attrOf(t *testing.T, ctx context.Context, selector, name string) string {
	t.Helper()
	r, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(selector), name))
	if err != nil || !r.Exists {
		t.Fatalf("%s %s: %v (exists %v)", selector, name, err, r.Exists)
	}
	return r.Value
}

// setSlider moves a range input as a user's drag ends: value, then input
// and change events.
func setSlider(t *testing.T, ctx context.Context, selector string, value int) {
	t.Helper()
	evalJS[bool](t, ctx, fmt.Sprintf(`(() => {
		const s = document.querySelector(%q);
		s.value = %q;
		s.dispatchEvent(new Event("input", {bubbles: true}));
		s.dispatchEvent(new Event("change", {bubbles: true}));
		return true;
	})()`, selector, strconv.Itoa(value)))
}

// topSpeed drags the speed slider of widget to its top and waits for the
// widget to have sent it (the slider sends after 150 ms at most), so that a
// run takes seconds, not minutes.
func topSpeed(t *testing.T, ctx context.Context, widget string) {
	t.Helper()
	evalJS[bool](t, ctx, `(() => {
		const s = document.querySelector('`+widget+` .live-speed input');
		s.value = s.max;
		s.dispatchEvent(new Event("input", {bubbles: true}));
		return true;
	})()`)
	if err := chromedp.Do(ctx, chromedp.Sleep(300*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
}

// waitCells waits until the cells selector finds carry, in data-value, the
// numbers want (each within tol): widgets record a frame's step when it
// arrives but draw it at the next animation frame, so a test must wait for
// what it reads, not for the step counter. It fails the test after timeout,
// naming the first cell that differs.
func waitCells(t *testing.T, ctx context.Context, selector string, want []float64, tol float64, timeout time.Duration) {
	t.Helper()
	w, _ := json.Marshal(want)
	read := fmt.Sprintf(`[...document.querySelectorAll(%q)].map(c => Number(c.dataset.value ?? "NaN"))`, selector)
	match := fmt.Sprintf(`(() => { const want = %s, got = %s; return got.length === want.length && got.every((g, i) => Math.abs(g - want[i]) <= %g); })()`, w, read, tol)
	if err := chromedp.Do(ctx, pollJS(match, timeout)); err != nil {
		got := evalJS[[]float64](t, ctx, `(`+read+`).map(v => Number.isFinite(v) ? v : -1e300)`)
		if len(got) != len(want) {
			t.Fatalf("%s: %d cells on the page, want %d (%v)", selector, len(got), len(want), err)
		}
		for i := range want {
			if math.Abs(got[i]-want[i]) > tol {
				t.Fatalf("%s: cell %d shows %g, want %g (waited %v: %v)", selector, i, got[i], want[i], timeout, err)
			}
		}
		t.Fatalf("%s: cells never matched: %v", selector, err)
	}
}

// screenshotDir is where browser tests save screenshots: the directory
// PARAMSHARE_SCREENSHOT_DIR names, or else the test's own temporary
// directory (so that parallel or repeated runs never overwrite each other).
func screenshotDir(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("PARAMSHARE_SCREENSHOT_DIR"); dir != "" {
		return dir
	}
	return t.TempDir()
}

// saveScreenshots writes each named PNG into screenshotDir and logs its path.
func saveScreenshots(t *testing.T, shots map[string][]byte) {
	t.Helper()
	dir := screenshotDir(t)
	for name, b := range shots {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}
}

// shoot takes a screenshot of the element selector finds, or of the whole
// page when selector is "".
func shoot(t *testing.T, ctx context.Context, selector string) []byte {
	t.Helper()
	var b []byte
	var err error
	if selector == "" {
		b, err = chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100 gives a PNG
	} else {
		b, err = chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(selector)))
	}
	if err != nil {
		t.Fatalf("screenshot %q: %v", selector, err)
	}
	return b
}

// phoneViewport emulates a 390×844 phone (scale 2, touch) until the
// returned function puts the 1280×1000 desktop back.
func phoneViewport(t *testing.T, ctx context.Context) (desktop func()) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch), chromedp.Sleep(400*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	return func() {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.EmulateReset(), chromedp.EmulateViewport(1280, 1000)); err != nil {
			t.Fatal(err)
		}
	}
}

// screenshots saves the page and the first widget at desktop and phone
// width as paramshare-NAME-{page,widget}-{desktop,phone}.png.
func screenshots(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	shots := map[string][]byte{
		"paramshare-" + name + "-page-desktop.png":   shoot(t, ctx, ""),
		"paramshare-" + name + "-widget-desktop.png": shoot(t, ctx, `[data-widget]`),
	}
	desktop := phoneViewport(t, ctx)
	shots["paramshare-"+name+"-page-phone.png"] = shoot(t, ctx, "")
	shots["paramshare-"+name+"-widget-phone.png"] = shoot(t, ctx, `[data-widget]`)
	desktop()
	saveScreenshots(t, shots)
}

// TestBrowserConvSlide opens the lesson in a real headless Chromium, presses
// Space to play the conv-slide widget, waits for the whole output map to
// fill, compares every cell drawn on the page's output canvas with the
// engine's Forward (on the widget's colour scale) and the cell readout with
// Forward at that cell, then checks the keys with focus on a button (→ and
// R act, Space presses the button once) and saves screenshots.
func TestBrowserConvSlide(t *testing.T) {
	url, ctx := browserSession(t, 90*time.Second)

	const total = 784 // 28×28 cells at stride 1, padding 1
	widget := `[data-widget="conv-slide"]`
	poll := pollJS
	stepIs := func(n int) chromedp.Action[chromedp.Void] {
		return poll(fmt.Sprintf(`document.querySelector('%s').dataset.step === "%d"`, widget, n), 10*time.Second)
	}
	stateIs := func(s string) chromedp.Action[chromedp.Void] {
		return poll(fmt.Sprintf(`document.querySelector('%s').dataset.state === %q`, widget, s), 10*time.Second)
	}
	err := chromedp.Do(ctx,
		chromedp.Navigate(url+"/en/lessons/one-kernel-many-places"),
		chromedp.WaitVisible(chromedp.CSS(widget+` [data-testid="play"]`)),
		// The first frame has arrived when the sharing line is filled in.
		poll(`document.querySelector('[data-testid="sharing-line"]').textContent.length > 0`, 20*time.Second),
	)
	if err != nil {
		t.Fatalf("browser: open the lesson: %v", err)
	}
	sharing, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[data-testid="sharing-line"]`)))
	if err != nil {
		t.Fatal(err)
	}
	if sharing != "10 parameters, used at 784 positions: 7,056 multiply-adds" {
		t.Errorf("sharing line %q", sharing)
	}
	topSpeed(t, ctx, widget)
	err = chromedp.Do(ctx,
		// Space with focus on the page (not in a field) plays the widget.
		chromedp.Blur(chromedp.CSS(`.live-speed input`)),
		chromedp.KeyEvent(" "),
		stateIs("running"),
	)
	if err != nil {
		t.Fatalf("browser: play with Space: %v", err)
	}
	// Wait for the output map to fill: the run ends at the last cell.
	err = chromedp.Do(ctx,
		poll(fmt.Sprintf(`document.querySelector('%s').dataset.step === "%d"`, widget, total), 60*time.Second),
		stateIs("done"),
	)
	if err != nil {
		t.Fatalf("browser: the map never filled: %v", err)
	}

	y := forward(t, run.ConvSlideParams{Digit: 0, Preset: "vertical-edge", Stride: 1, Padding: 1, Dilation: 1})
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

	readout := chromedp.CSS(`[data-testid="cell-value"]`)
	// check reads the cell the page shows and compares it with Forward.
	check := func(wantStep int) float64 {
		t.Helper()
		if err := chromedp.Do(ctx, poll(fmt.Sprintf(`document.querySelector('[data-testid="cell-value"]').dataset.oy * 28 + document.querySelector('[data-testid="cell-value"]').dataset.ox * 1 + 1 === %d`, wantStep), 10*time.Second)); err != nil {
			t.Fatalf("readout never reached step %d: %v", wantStep, err)
		}
		attr := func(name string) string { return attrOf(t, ctx, `[data-testid="cell-value"]`, name) }
		oy, _ := strconv.Atoi(attr("data-oy"))
		ox, _ := strconv.Atoi(attr("data-ox"))
		exact, err := strconv.ParseFloat(attr("data-value"), 64)
		if err != nil {
			t.Fatal(err)
		}
		shown, err := chromedp.Run(ctx, chromedp.Text(readout))
		if err != nil {
			t.Fatal(err)
		}
		text, err := strconv.ParseFloat(strings.ReplaceAll(shown, "−", "-"), 64)
		if err != nil {
			t.Fatalf("readout %q is not a number: %v", shown, err)
		}
		want := y.Data[oy*y.Shape[3]+ox]
		if math.Abs(exact-want) > 1e-12 || math.Abs(text-want) > 0.5e-4+1e-12 {
			t.Fatalf("page shows cell (%d,%d) = %q (exact %g); engine Forward gives %g", oy, ox, shown, exact, want)
		}
		t.Logf("page cell (%d,%d) = %s; engine Forward = %.6f", oy, ox, shown, want)
		return want
	}
	check(total)

	// Keys with focus on a button. Clicking Reset leaves focus on it; →
	// must still step and R reset. Space on a focused Step button presses
	// it once (a step), and must not also toggle play.
	resetButton := chromedp.CSS(widget + ` [data-testid="reset"]`)
	stepButton := chromedp.CSS(widget + ` [data-testid="step"]`)
	if err := chromedp.Do(ctx, chromedp.Click(resetButton), stepIs(0), stateIs("paused")); err != nil {
		t.Fatalf("browser: click Reset: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.ArrowRight), stepIs(1)); err != nil {
		t.Fatalf("browser: → with focus on the Reset button: %v", err)
	}
	check(1)
	if err := chromedp.Do(ctx, chromedp.Click(stepButton), stepIs(2), chromedp.KeyEvent(kb.ArrowRight), stepIs(3)); err != nil {
		t.Fatalf("browser: → right after clicking Step: %v", err)
	}
	check(3)
	if err := chromedp.Do(ctx, chromedp.KeyEvent(" "), stepIs(4), chromedp.Sleep(500*time.Millisecond), stateIs("paused"), stepIs(4)); err != nil {
		t.Fatalf("browser: Space on the focused Step button must step once and not play: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.KeyEvent("r"), stepIs(0)); err != nil {
		t.Fatalf("browser: R with focus on the Step button: %v", err)
	}
	saveScreenshots(t, map[string][]byte{"paramshare-conv-slide-page.png": shoot(t, ctx, ""), "paramshare-conv-slide-widget-done.png": done})
}
