package web

import (
	"context"
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

// findChromium returns a Chromium-family browser, or "" when none is found.
func findChromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestBrowserConvSlide opens the lesson in a real headless Chromium, presses
// Space to play the conv-slide widget, waits for cells to fill in, then
// compares the cell value shown on the page with the engine's Forward at
// that cell and saves a screenshot.
func TestBrowserConvSlide(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
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
	defer srv.Close()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		live.Shutdown(ctx)
	}()

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
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	const cellsWanted = 300
	widget := `[data-widget="conv-slide"]`
	poll := func(expr string, timeout time.Duration) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(timeout))(ctx, t)
			return err
		})
	}
	err = chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/en/lessons/one-kernel-many-places"),
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
	// Move the speed slider to its top (as a user drags it), so that a few
	// hundred cells take seconds, not minutes.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
		const s = document.querySelector('`+widget+` .live-speed input');
		s.value = s.max;
		s.dispatchEvent(new Event("input", {bubbles: true}));
		return true;
	})()`)); err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(ctx,
		chromedp.Sleep(300*time.Millisecond), // the slider sends after 150 ms at most
		// Space with focus on the page (not in a field) plays the widget.
		chromedp.Blur(chromedp.CSS(`.live-speed input`)),
		chromedp.KeyEvent(" "),
		poll(fmt.Sprintf(`document.querySelector('%s').dataset.state === "running"`, widget), 10*time.Second),
		poll(fmt.Sprintf(`Number(document.querySelector('%s').dataset.step || 0) >= %d`, widget, cellsWanted), 40*time.Second),
	)
	if err != nil {
		t.Fatalf("browser: play with Space: %v", err)
	}
	midRun, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(widget)))
	if err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(ctx,
		chromedp.KeyEvent(" "), // pause, so that the readout stops moving
		poll(fmt.Sprintf(`document.querySelector('%s').dataset.state === "paused"`, widget), 10*time.Second),
	)
	if err != nil {
		t.Fatalf("browser: pause with Space: %v", err)
	}

	y := forward(t, run.ConvSlideParams{Digit: 0, Preset: "vertical-edge", Stride: 1, Padding: 1, Dilation: 1})
	readout := chromedp.CSS(`[data-testid="cell-value"]`)
	// check reads the cell the page shows and compares it with Forward.
	check := func(wantStep int) float64 {
		t.Helper()
		if err := chromedp.Do(ctx, poll(fmt.Sprintf(`document.querySelector('[data-testid="cell-value"]').dataset.oy * 28 + document.querySelector('[data-testid="cell-value"]').dataset.ox * 1 + 1 === %d`, wantStep), 10*time.Second)); err != nil {
			t.Fatalf("readout never reached step %d: %v", wantStep, err)
		}
		attr := func(name string) string {
			r, err := chromedp.Run(ctx, chromedp.AttributeValue(readout, name))
			if err != nil || !r.Exists {
				t.Fatalf("cell readout attribute %s: %v (exists %v)", name, err, r.Exists)
			}
			return r.Value
		}
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
	stepAttr, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(widget), "data-step"))
	if err != nil {
		t.Fatal(err)
	}
	step, _ := strconv.Atoi(stepAttr.Value)
	if step < cellsWanted {
		t.Fatalf("paused at step %d, want ≥ %d", step, cellsWanted)
	}
	// Step with → until a cell with ink under the kernel (a non-zero value),
	// checking every cell on the way.
	v := check(step)
	for i := 0; v == 0 && i < 60 && step < 784; i++ {
		if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.ArrowRight)); err != nil {
			t.Fatal(err)
		}
		step++
		v = check(step)
	}
	if v == 0 {
		t.Fatalf("no non-zero cell by step %d", step)
	}
	screenshot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100 gives a PNG
	if err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("PARAMSHARE_SCREENSHOT_DIR")
	if dir == "" {
		dir = os.TempDir()
	}
	for name, b := range map[string][]byte{"paramshare-conv-slide-page.png": screenshot, "paramshare-conv-slide-widget.png": midRun} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}

}
