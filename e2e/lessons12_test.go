package e2e

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/paramshare/paramshare/lab"
	"github.com/paramshare/paramshare/run"
)

// calcBuildLimit is the largest layer param-calc builds to ask the
// engine's Count (2²⁰ parameters); larger ones it counts by the formula.
const calcBuildLimit = 1 << 20

// TestBrowserParamCalc moves the image-size slider of "Why share?" and
// checks that the convolution's count stays while the dense layer's
// changes to exactly what the engine counts (lab.CountLayer builds it and
// asks Model.Count; beyond the build limit, the formula, which must also
// be in·out + out).
func TestBrowserParamCalc(t *testing.T) {
	url, ctx := browserSession(t, 120*time.Second)
	const widget = `[data-widget="param-calc"]`
	value := func(kind, layer string) (int, string) {
		t.Helper()
		sel := fmt.Sprintf(`%s [data-testid="%s-%s"]`, widget, kind, layer)
		v := evalJS[string](t, ctx, fmt.Sprintf(`document.querySelector(%q).dataset.value || ""`, sel))
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("%s: data-value %q", sel, v)
		}
		return n, evalJS[string](t, ctx, fmt.Sprintf(`document.querySelector(%q).dataset.source`, sel))
	}
	do(t, ctx, "open why-share",
		chromedp.Navigate(url+"/en/lessons/why-share"),
		chromedp.WaitVisible(chromedp.CSS(widget+` [data-testid="slider-size"]`)),
		pollJS(`document.querySelector('`+widget+` [data-testid="params-conv"]').dataset.value === "10"`, 20*time.Second),
	)
	if d, src := value("params", "dense"); d != 615440 || src != "engine" {
		t.Fatalf("dense at 28×28: %d (%s), want 615440 from the engine", d, src)
	}
	if l, src := value("params", "locally-connected"); l != 7840 || src != "engine" {
		t.Fatalf("locally connected at 28×28: %d (%s), want 7840 from the engine", l, src)
	}
	for _, size := range []int{20, 64} {
		calcSlider(t, ctx, widget, "size", size)
		do(t, ctx, fmt.Sprintf("size %d shown", size), widgetIs(widget, "size", strconv.Itoa(size), 10*time.Second))
		cfg := lab.ParamsConfig{Sizes: []int{size}, InChannels: 1, OutChannels: 1, Kernel: 3, Padding: 1}
		row, err := lab.CountLayer(cfg, size, lab.LayerDense, calcBuildLimit)
		if err != nil {
			t.Fatal(err)
		}
		wantSource := "computed"
		if row.Source == "built" {
			wantSource = "engine"
		}
		n := size * size
		if row.Params != n*n+n {
			t.Fatalf("size %d: lab counts the dense layer %d (%s), the formula gives %d", size, row.Params, row.Source, n*n+n)
		}
		dense, src := value("params", "dense")
		conv, _ := value("params", "conv")
		convUses, _ := value("uses", "conv")
		if dense != row.Params || src != wantSource {
			t.Fatalf("size %d: page shows dense %d (%s), want %d (%s)", size, dense, src, row.Params, wantSource)
		}
		if conv != 10 || convUses != 9*size*size {
			t.Fatalf("size %d: conv %d params, %d uses; want 10 and %d", size, conv, convUses, 9*size*size)
		}
		t.Logf("size %d: dense %d (%s), conv %d params / %d uses", size, dense, src, conv, convUses)
	}
	screenshots(t, ctx, "why-share", widget)
}

// calcSlider drags param-calc's slider of the field name to value: the
// slider's positions are the field's values Min, Min+Step, … (from the
// spec, as the page builds it), and the slider's output must then show
// value.
func calcSlider(t *testing.T, ctx context.Context, widget, name string, value int) {
	t.Helper()
	spec, _ := run.Lookup("param-calc")
	var f run.Field
	for _, x := range spec.Fields {
		if x.Name == name {
			f = x
		}
	}
	step := max(f.Step, 1)
	setSlider(t, ctx, widget+` [data-testid="slider-`+name+`"]`, (value-int(f.Min))/step)
	if shown := textOf(t, ctx, widget+` [data-testid="value-`+name+`"]`); shown != groupThousands(value) {
		t.Fatalf("slider %s moved to %d shows %q", name, value, shown)
	}
}

// gradWidget is the conv-grad widget of "How a shared kernel learns".
const gradWidget = `[data-widget="conv-grad"]`

// TestBrowserConvGrad plays "How a shared kernel learns" to the end with
// Space (focus in the widget) and checks the page's accumulated kernel
// gradient and the engine grid against the engine's dW, then steps back
// with ← and seeks with the position slider, where the running sum must be
// the engine's first contributions added up.
func TestBrowserConvGrad(t *testing.T) {
	url, ctx := browserSession(t, 120*time.Second)
	widget := gradWidget
	do(t, ctx, "open how-a-shared-kernel-learns",
		chromedp.Navigate(url+"/en/lessons/how-a-shared-kernel-learns"),
		chromedp.WaitVisible(chromedp.CSS(widget+` [data-testid="play"]`)),
		pollJS(`document.querySelector('`+widget+` [data-testid="header"]').textContent.length > 0`, 20*time.Second),
	)
	topSpeed(t, ctx, widget)
	focusWidget(t, ctx, widget)
	do(t, ctx, "play with Space",
		chromedp.KeyEvent(" "),
		pollJS(`Number(document.querySelector('`+widget+`').dataset.step) >= 120`, 20*time.Second),
	)
	screenshots(t, ctx, "how-a-shared-kernel-learns-midrun", widget)
	do(t, ctx, "reach the last position", stepIs(widget, 784, 40*time.Second))
	g := convGrad(t, 0, "vertical-edge", 1)
	do(t, ctx, "verdict at the end", pollJS(`document.querySelector('`+widget+` [data-testid="verdict"]').classList.contains("cg-ok")`, 5*time.Second))
	// The widget draws a frame at the next animation frame after it
	// records its step: wait for the cells themselves.
	waitCells(t, ctx, widget+` [data-testid="sum-grid"] .cg-cell`, g.dW[:], 1e-12, 10*time.Second)
	waitCells(t, ctx, widget+` [data-testid="engine-grid"] .cg-cell`, g.dW[:], 1e-12, 10*time.Second)
	if d, err := strconv.ParseFloat(attrOf(t, ctx, widget, "data-max-diff"), 64); err != nil || d > 1e-12 {
		t.Errorf("data-max-diff %v (%v), want ≤ 1e-12", d, err)
	}
	var norm float64
	for _, v := range g.dW {
		norm += v * v
	}
	if norm == 0 {
		t.Fatal("the engine's dW is zero: the comparison proves nothing")
	}
	t.Logf("page Σ of 784 contributions = engine dW to 1e-12: %v (‖dW‖ = %.3g)", g.dW, math.Sqrt(norm))
	screenshots(t, ctx, "how-a-shared-kernel-learns", widget)

	// ← steps back one position (focus is still in the widget); the
	// position slider seeks.
	focusWidget(t, ctx, widget)
	do(t, ctx, "← steps back", chromedp.KeyEvent(kb.ArrowLeft), stepIs(widget, 783, 10*time.Second))
	waitCells(t, ctx, widget+` [data-testid="sum-grid"] .cg-cell`, g.sum(783), 1e-12, 10*time.Second)
	setSlider(t, ctx, widget+` [data-testid="seek"]`, 100)
	do(t, ctx, "seek slider to 100", stepIs(widget, 100, 10*time.Second))
	waitCells(t, ctx, widget+` [data-testid="sum-grid"] .cg-cell`, g.sum(100), 1e-12, 10*time.Second)
	t.Logf("after seeking to 100 the page's Σ is the engine's first 100 contributions: %v", g.sum(100))
}
