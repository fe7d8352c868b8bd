package web

import (
	"context"
	"fmt"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/paramshare/paramshare/lessons"
	"github.com/paramshare/paramshare/run"
)

// browserSession starts the site with every lesson and a headless Chromium
// on it (the same setup as TestBrowserConvSlide) and returns the server's
// URL and a browser context. It skips the test when no Chromium is found,
// unless PARAMSHARE_REQUIRE_BROWSER=1.
func browserSession(t *testing.T) (string, context.Context) {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	chrome := findChromium()
	if chrome == "" {
		if os.Getenv("PARAMSHARE_REQUIRE_BROWSER") == "1" {
			t.Fatal("no Chromium found and PARAMSHARE_REQUIRE_BROWSER=1")
		}
		t.Skip("no Chromium found (looked for chromium, chromium-browser, google-chrome)")
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
	ctx, cancelC := context.WithTimeout(ctx, 120*time.Second)
	t.Cleanup(func() { cancelC(); cancelB(); cancelA() })
	return srv.URL, ctx
}

func pollJS(expr string, timeout time.Duration) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(timeout))(ctx, t)
		return err
	})
}

// evalJS runs expr in the page and returns its value.
func evalJS[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// screenshots saves full-page screenshots at desktop and phone width into
// screenshotDir (PARAMSHARE_SCREENSHOT_DIR, or the test's temporary directory).
func screenshots(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := screenshotDir(t)
	for _, vp := range []struct {
		suffix string
		w, h   int64
		mobile bool
	}{{"desktop", 1280, 1000, false}, {"phone", 390, 844, true}} {
		var opts []chromedp.EmulateViewportOption
		if vp.mobile {
			opts = append(opts, chromedp.EmulateScale(2), chromedp.EmulateMobile)
		}
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(vp.w, vp.h, opts...), chromedp.Sleep(400*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		w, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(`[data-widget]`)))
		if err != nil {
			t.Fatal(err)
		}
		for kind, img := range map[string][]byte{"page": b, "widget": w} {
			path := filepath.Join(dir, fmt.Sprintf("paramshare-%s-%s-%s.png", name, kind, vp.suffix))
			if err := os.WriteFile(path, img, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("screenshot: %s", path)
		}
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 1000)); err != nil {
		t.Fatal(err)
	}
}

// setSlider moves a range input as a user's drag ends: value, then input.
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

// TestBrowserParamCalc moves the image-size slider of "Why share?" and
// checks that the convolution's count stays while the dense layer's
// changes to exactly what the engine counts.
func TestBrowserParamCalc(t *testing.T) {
	url, ctx := browserSession(t)
	value := func(kind, layer string) (int, string) {
		t.Helper()
		sel := fmt.Sprintf(`[data-testid="%s-%s"]`, kind, layer)
		v := evalJS[string](t, ctx, fmt.Sprintf(`document.querySelector('%s').dataset.value || ""`, sel))
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("%s: data-value %q", sel, v)
		}
		return n, evalJS[string](t, ctx, fmt.Sprintf(`document.querySelector('%s').dataset.source`, sel))
	}
	err := chromedp.Do(ctx,
		chromedp.Navigate(url+"/en/lessons/why-share"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="slider-size"]`)),
		pollJS(`document.querySelector('[data-testid="params-conv"]').dataset.value === "10"`, 20*time.Second),
	)
	if err != nil {
		t.Fatalf("open the lesson: %v", err)
	}
	if d, src := value("params", "dense"); d != 615440 || src != "engine" {
		t.Fatalf("dense at 28×28: %d (%s), want 615440 from the engine", d, src)
	}
	for _, size := range []int{20, 64} {
		setSlider(t, ctx, `[data-testid="slider-size"]`, size)
		if err := chromedp.Do(ctx, pollJS(fmt.Sprintf(`document.querySelector('.pc').dataset.size === "%d"`, size), 10*time.Second)); err != nil {
			t.Fatalf("size %d never shown: %v", size, err)
		}
		p := run.DefaultParamCalcParams()
		p.Size = size
		want := run.CalcFormula(run.CalcDense, p)
		wantSource := "computed"
		if n, built, err := run.CalcEngine(run.CalcDense, p); err != nil {
			t.Fatal(err)
		} else if built {
			want, wantSource = n, "engine"
		}
		dense, src := value("params", "dense")
		conv, _ := value("params", "conv")
		convUses, _ := value("uses", "conv")
		if dense != want.Params || src != wantSource {
			t.Fatalf("size %d: page shows dense %d (%s), want %d (%s)", size, dense, src, want.Params, wantSource)
		}
		if conv != 10 || convUses != 9*size*size {
			t.Fatalf("size %d: conv %d params, %d uses; want 10 and %d", size, conv, convUses, 9*size*size)
		}
		t.Logf("size %d: dense %d (%s), conv %d params / %d uses", size, dense, src, conv, convUses)
	}
	screenshots(t, ctx, "why-share")
}

// TestBrowserConvGrad plays "How a shared kernel learns" to the end and
// checks the page's accumulated kernel gradient against the engine's dW,
// then steps back with ← and seeks with the position slider.
func TestBrowserConvGrad(t *testing.T) {
	url, ctx := browserSession(t)
	widget := `[data-widget="conv-grad"]`
	err := chromedp.Do(ctx,
		chromedp.Navigate(url+"/en/lessons/how-a-shared-kernel-learns"),
		chromedp.WaitVisible(chromedp.CSS(widget+` [data-testid="play"]`)),
		pollJS(`document.querySelector('[data-testid="header"]').textContent.length > 0`, 20*time.Second),
	)
	if err != nil {
		t.Fatalf("open the lesson: %v", err)
	}
	setSlider(t, ctx, widget+` .live-speed input`, 100)
	err = chromedp.Do(ctx,
		chromedp.Sleep(300*time.Millisecond),
		chromedp.Blur(chromedp.CSS(widget+` .live-speed input`)),
		chromedp.KeyEvent(" "),
		pollJS(fmt.Sprintf(`document.querySelector('%s').dataset.step === "120"`, widget)+` || Number(document.querySelector('`+widget+`').dataset.step) > 120`, 20*time.Second),
	)
	if err != nil {
		t.Fatalf("play with Space: %v", err)
	}
	screenshots(t, ctx, "how-a-shared-kernel-learns-midrun")
	if err := chromedp.Do(ctx, pollJS(fmt.Sprintf(`document.querySelector('%s').dataset.step === "784"`, widget), 40*time.Second)); err != nil {
		t.Fatalf("never reached the last position: %v", err)
	}
	g, err := run.NewConvGrad(run.DefaultConvGradParams())
	if err != nil {
		t.Fatal(err)
	}
	dW, _ := g.EngineGrad()
	cells := func(testid string) []float64 {
		t.Helper()
		vs := evalJS[[]string](t, ctx, fmt.Sprintf(`[...document.querySelectorAll('[data-testid="%s"] .cg-cell')].map(c => c.dataset.value || "")`, testid))
		out := make([]float64, len(vs))
		for i, v := range vs {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s cell %d: %q", testid, i, v)
			}
			out[i] = f
		}
		return out
	}
	if err := chromedp.Do(ctx, pollJS(`document.querySelector('[data-testid="verdict"]').classList.contains("cg-ok")`, 5*time.Second)); err != nil {
		t.Fatalf("no verdict at the end: %v", err)
	}
	sum, eng := cells("sum-grid"), cells("engine-grid")
	if len(sum) != 9 || len(eng) != 9 {
		t.Fatalf("%d sum cells, %d engine cells", len(sum), len(eng))
	}
	for i := range dW {
		if math.Abs(sum[i]-dW[i]) > 1e-12 || math.Abs(eng[i]-dW[i]) > 1e-12 {
			t.Fatalf("cell %d: page Σ %g, page engine %g, engine dW %g", i, sum[i], eng[i], dW[i])
		}
	}
	t.Logf("page Σ of 784 contributions = engine dW to 1e-12: %v", sum)
	screenshots(t, ctx, "how-a-shared-kernel-learns")

	// ← steps back one position; the position slider seeks.
	err = chromedp.Do(ctx,
		chromedp.KeyEvent(kb.ArrowLeft),
		pollJS(fmt.Sprintf(`document.querySelector('%s').dataset.step === "783"`, widget), 10*time.Second),
	)
	if err != nil {
		t.Fatalf("← did not step back: %v", err)
	}
	setSlider(t, ctx, widget+` [data-testid="seek"]`, 100)
	if err := chromedp.Do(ctx, pollJS(fmt.Sprintf(`document.querySelector('%s').dataset.step === "100"`, widget), 10*time.Second)); err != nil {
		t.Fatalf("seek slider did not go to 100: %v", err)
	}
	sum = cells("sum-grid")
	g.Seek(100)
	want, _ := g.Sum()
	for i := range want {
		if math.Abs(sum[i]-want[i]) > 1e-12 {
			t.Fatalf("after seek to 100, cell %d: page %g, run %g", i, sum[i], want[i])
		}
	}
}
