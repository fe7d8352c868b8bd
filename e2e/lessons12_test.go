package e2e

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/paramshare/paramshare/run"
)

// TestBrowserParamCalc moves the image-size slider of "Why share?" and
// checks that the convolution's count stays while the dense layer's
// changes to exactly what the engine counts.
func TestBrowserParamCalc(t *testing.T) {
	url, ctx := browserSession(t, 120*time.Second)
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
	url, ctx := browserSession(t, 120*time.Second)
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
	if err := chromedp.Do(ctx, pollJS(`document.querySelector('[data-testid="verdict"]').classList.contains("cg-ok")`, 5*time.Second)); err != nil {
		t.Fatalf("no verdict at the end: %v", err)
	}
	// The widget draws a frame at the next animation frame after it
	// records its step: wait for the cells themselves.
	waitCells(t, ctx, `[data-testid="sum-grid"] .cg-cell`, dW[:], 1e-12, 10*time.Second)
	waitCells(t, ctx, `[data-testid="engine-grid"] .cg-cell`, dW[:], 1e-12, 10*time.Second)
	t.Logf("page Σ of 784 contributions = engine dW to 1e-12: %v", dW)
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
	g.Seek(100)
	want, _ := g.Sum()
	waitCells(t, ctx, `[data-testid="sum-grid"] .cg-cell`, want[:], 1e-12, 10*time.Second)
	t.Logf("after seeking to 100 the page's Σ is the run's: %v", want)
}
