package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/engine/data"
	"github.com/paramshare/paramshare/experiments/gradflow"
	"github.com/paramshare/paramshare/lab"
)

// flowWidget is the grad-flow widget of "Vanishing and exploding".
const flowWidget = `[data-widget="grad-flow"]`

// flowRun is the lesson's run rebuilt here from the engine alone: the
// remember-first RNN (one_hot 8, rnn, last step, linear) with W_hh scaled
// to lambda1, batch k drawn as the README says, SGD with lr. after(k)
// returns λ₁ of W_hh (gonum's SVD), its spectral radius ρ (the largest
// |eigenvalue|, gonum's Eigen) and each step's contribution norm to dW_hh
// for the pass of training step k.
func flowRun(t *testing.T, act string, lambda1 float64, steps, hidden, seed int, lr float64) func(k int) (float64, float64, []float64) {
	t.Helper()
	rng := engine.NewRand(uint64(seed))
	oh, err := engine.NewOneHot("onehot", 8)
	if err != nil {
		t.Fatal(err)
	}
	cell, err := engine.NewRNNWith("rnn", 8, hidden, engine.Nonlinearity(act), rng)
	if err != nil {
		t.Fatal(err)
	}
	fc, err := engine.NewLinear("out", hidden, 8, rng)
	if err != nil {
		t.Fatal(err)
	}
	m, err := engine.NewModel("check", []int{steps}, engine.NewCrossEntropy(), oh, cell, engine.NewLastStep("last"), fc)
	if err != nil {
		t.Fatal(err)
	}
	var svd mat.SVD
	svd.Factorize(mat.NewDense(hidden, hidden, append([]float64(nil), cell.WeightHH.Value.Data...)), mat.SVDNone)
	scale := lambda1 / svd.Values(nil)[0]
	for i := range cell.WeightHH.Value.Data {
		cell.WeightHH.Value.Data[i] *= scale
	}
	opt := engine.NewSGD(lr, 0)
	done := -1
	return func(k int) (float64, float64, []float64) {
		var lambda, rho float64
		var norms []float64
		for done < k {
			if done >= 0 {
				opt.Step(m.Params())
			}
			done++
			x, y := data.RememberFirst(rand.New(rand.NewPCG(uint64(seed)<<16+uint64(done), gradflow.DataStream)), 16, steps-1, 8)
			rec := engine.NewRecorder(engine.RecordFilter{Params: []*engine.Param{cell.WeightHH}, Kinds: []engine.UseKind{engine.UseStep}})
			if _, err := m.ComputeGrad(x, y, rec); err != nil {
				t.Fatal(err)
			}
			svd.Factorize(mat.NewDense(hidden, hidden, append([]float64(nil), cell.WeightHH.Value.Data...)), mat.SVDNone)
			lambda = svd.Values(nil)[0]
			var eig mat.Eigen
			if !eig.Factorize(mat.NewDense(hidden, hidden, append([]float64(nil), cell.WeightHH.Value.Data...)), mat.EigenNone) {
				t.Fatal("Eigen did not converge")
			}
			rho = 0
			for _, v := range eig.Values(nil) {
				rho = math.Max(rho, cmplx.Abs(v))
			}
			norms = norms[:0]
			for _, c := range rec.Uses(cell.WeightHH, engine.UseStep) {
				norms = append(norms, floats.Norm(c.Grad.Data, 2))
			}
		}
		return lambda, rho, norms
	}
}

// openFlow opens the lesson in lang and waits for the widget's first frame.
func openFlow(t *testing.T, ctx context.Context, url, lang string) {
	t.Helper()
	do(t, ctx, "open vanishing-and-exploding ("+lang+")",
		chromedp.Navigate(url+"/"+lang+"/lessons/vanishing-and-exploding"),
		chromedp.WaitVisible(chromedp.CSS(flowWidget+` [data-testid="play"]`)),
		connected(flowWidget, 20*time.Second),
		pollJS(`document.querySelector('`+flowWidget+` [data-testid="lambda"]').dataset.value !== undefined`, 20*time.Second),
	)
}

// checkFlow waits until the widget shows λ₁, ρ and the contributions of
// the engine's pass (4 significant digits in the frame).
func checkFlow(t *testing.T, ctx context.Context, lambda, rho float64, contrib []float64) {
	t.Helper()
	w := flowWidget
	want, _ := json.Marshal(contrib)
	match := fmt.Sprintf(`(() => {
		const l = Number(document.querySelector(%q).dataset.value);
		const r = Number(document.querySelector(%q).dataset.value);
		const c = JSON.parse(document.querySelector(%q).dataset.values || "[]");
		const want = %s;
		const near = (a, b) => Math.abs(a - b) <= 6e-4 * Math.abs(b) + 1e-300;
		return near(l, %v) && near(r, %v) && c.length === want.length && c.every((v, i) => near(v, want[i]));
	})()`, w+` [data-testid="lambda"]`, w+` [data-testid="rho"]`, w+` [data-testid="contrib-chart"]`, want, lambda, rho)
	if err := chromedp.Do(ctx, pollJS(match, 10*time.Second)); err != nil {
		got := evalJS[string](t, ctx, fmt.Sprintf(`document.querySelector(%q).dataset.value + " " + document.querySelector(%q).dataset.value + " " + document.querySelector(%q).dataset.values`, w+` [data-testid="lambda"]`, w+` [data-testid="rho"]`, w+` [data-testid="contrib-chart"]`))
		t.Fatalf("page shows %s; engine λ₁ %v, ρ %v, contributions %v", got, lambda, rho, contrib)
	}
}

// TestBrowserGradFlow opens lesson 8 in a real headless Chromium: λ₁ and
// every step's contribution to dW_hh at step 0 and step 3 against the
// engine rebuilt here, play, ← and the position slider back, λ₁ = 5 (the
// verdict turns), sigmoid (1/γ = 4), T = 60, the JSON, trace and PNG
// exports; then the Chinese page. Screenshots at desktop and phone width,
// both languages.
func TestBrowserGradFlow(t *testing.T) {
	url, ctx := browserSession(t, 150*time.Second)
	w := flowWidget
	openFlow(t, ctx, url, "en")
	eng := flowRun(t, "tanh", 0.9, 30, 16, 1, 0.1)
	l0, r0, c0 := eng(0)
	checkFlow(t, ctx, l0, r0, c0)
	if s := textOf(t, ctx, w+` [data-testid="lambda"]`); s != "λ₁ of W_hh = 0.9" {
		t.Errorf("λ₁ line %q", s)
	}
	if s := textOf(t, ctx, w+` [data-testid="bound"]`); s != "1/γ = 1 (tanh: γ = 1)" {
		t.Errorf("bound line %q", s)
	}
	if !strings.Contains(textOf(t, ctx, w+` [data-testid="verdict"]`), "vanishing is certain") {
		t.Errorf("verdict at λ₁ = 0.9: %q", textOf(t, ctx, w+` [data-testid="verdict"]`))
	}
	for k := 1; k <= 3; k++ {
		do(t, ctx, "step", chromedp.Click(chromedp.CSS(w+` [data-testid="step"]`)), stepIs(w, k, 10*time.Second))
	}
	l3, r3, c3 := eng(3)
	checkFlow(t, ctx, l3, r3, c3)
	t.Logf("step 3: engine λ₁ %.6f, last contribution %.4g, oldest %.4g", l3, c3[29], c3[1])

	topSpeed(t, ctx, w)
	do(t, ctx, "play", chromedp.Click(chromedp.CSS(w+` [data-testid="play"]`)),
		pollJS(`Number(document.querySelector('`+w+`').dataset.step) >= 40`, 30*time.Second),
		chromedp.Click(chromedp.CSS(w+` [data-testid="play"]`)), stateIs(w, "paused", 10*time.Second))
	at := settledStep(t, ctx, w)
	focusWidget(t, ctx, w)
	do(t, ctx, "← steps back", chromedp.KeyEvent(kb.ArrowLeft), stepIs(w, at-1, 10*time.Second))
	setSlider(t, ctx, w+` [data-testid="seek"]`, 3)
	do(t, ctx, "seek to 3", stepIs(w, 3, 20*time.Second))
	checkFlow(t, ctx, l3, r3, c3)
	trained := shoot(t, ctx, w)

	// λ₁ = 5: a new start; the verdict turns.
	evalJS[bool](t, ctx, `(() => {
		const s = document.querySelector('`+w+` [data-testid="slider-lambda1"]');
		const pos = Math.round((Math.log(5) - Math.log(0.05)) / (Math.log(8) - Math.log(0.05)) * Number(s.max));
		s.value = String(pos);
		s.dispatchEvent(new Event("input", {bubbles: true}));
		return true;
	})()`)
	// the slider's position nearest 5 holds a value rounded to 2 digits
	lambda1 := evalJS[float64](t, ctx, `Number(document.querySelector('`+w+` [data-testid="value-lambda1"]').textContent)`)
	if math.Abs(lambda1-5) > 0.15 {
		t.Fatalf("the λ₁ slider shows %v, not about 5", lambda1)
	}
	do(t, ctx, "λ₁ = 5", stepIs(w, 0, 10*time.Second),
		pollJS(fmt.Sprintf(`Math.abs(Number(document.querySelector('`+w+` [data-testid="lambda"]').dataset.value) - %v) < 1e-9`, lambda1), 10*time.Second))
	l5, r5, c5 := flowRun(t, "tanh", lambda1, 30, 16, 1, 0.1)(0)
	checkFlow(t, ctx, l5, r5, c5)
	if !strings.Contains(textOf(t, ctx, w+` [data-testid="verdict"]`), "exploding is possible") {
		t.Errorf("verdict at λ₁ = 5: %q", textOf(t, ctx, w+` [data-testid="verdict"]`))
	}
	exploding := shoot(t, ctx, w)

	// sigmoid: 1/γ = 4, so λ₁ = 5 is above the line; T = 60.
	evalJS[bool](t, ctx, `(() => {
		const s = document.querySelector('`+w+` [data-testid="act"]');
		s.value = "sigmoid";
		s.dispatchEvent(new Event("change", {bubbles: true}));
		return true;
	})()`)
	do(t, ctx, "sigmoid", pollJS(`document.querySelector('`+w+` [data-testid="bound"]').textContent === "1/γ = 4 (sigmoid: γ = 0.25)"`, 10*time.Second))
	setSlider(t, ctx, w+` [data-testid="slider-T"]`, 60)
	do(t, ctx, "T = 60", pollJS(`JSON.parse(document.querySelector('`+w+` [data-testid="contrib-chart"]').dataset.values).length === 60`, 10*time.Second))
	ls, rs, cs := flowRun(t, "sigmoid", lambda1, 60, 16, 1, 0.1)(0)
	checkFlow(t, ctx, ls, rs, cs)

	// The exports of the state on screen.
	href := attrOf(t, ctx, w+` [data-testid="export-json"]`, "href")
	for _, part := range []string{"/export/grad-flow.json?", fmt.Sprintf("lambda1=%v", lambda1), "act=sigmoid", "T=60", "step=0", "lang=en"} {
		if !strings.Contains(href, part) {
			t.Errorf("export-json link %q lacks %q", href, part)
		}
	}
	var export struct {
		Status, Trace, PNG int
		Lambda             float64
		Contrib            []float64
		Format             string
	}
	raw := evalJSAsync[string](t, ctx, fmt.Sprintf(`(async () => {
		const r = await fetch(document.querySelector(%q).href);
		if (!r.ok) return JSON.stringify({Status: r.status});
		const j = await r.json();
		const tr = await fetch(document.querySelector(%q).href);
		const tj = tr.ok ? await tr.json() : {};
		const png = await fetch(document.querySelector(%q).href);
		return JSON.stringify({Status: r.status, Lambda: j.data.lambda, Contrib: j.data.contrib, Trace: tr.status, Format: tj.format, PNG: png.status});
	})()`, w+` [data-testid="export-json"]`, w+` [data-testid="export-trace"]`, w+` [data-testid="download-png"]`))
	if err := json.Unmarshal([]byte(raw), &export); err != nil {
		t.Fatalf("export: %.200s: %v", raw, err)
	}
	if export.Status != 200 || export.Trace != 200 || export.PNG != 200 || export.Format != engine.TraceFormat {
		t.Fatalf("exports: %+v", export)
	}
	if math.Abs(export.Lambda-ls) > 1e-12*ls || len(export.Contrib) != 60 || math.Abs(export.Contrib[59]-cs[59]) > 1e-12*cs[59] {
		t.Errorf("grad-flow.json: λ₁ %v, last contribution %v; engine %v, %v", export.Lambda, export.Contrib[59], ls, cs[59])
	}
	if math.Abs(lab.LargestSingularValue([]float64{3, 0, 0, 4}, 2, 2)-4) > 1e-12 {
		t.Error("lab.LargestSingularValue of diag(3, 4) is not 4")
	}

	saveScreenshots(t, map[string][]byte{"paramshare-grad-flow-widget-trained.png": trained, "paramshare-grad-flow-widget-exploding.png": exploding})
	screenshots(t, ctx, "grad-flow-en", w)

	// Chinese: the widget speaks Chinese and shows the engine's numbers.
	openFlow(t, ctx, url, "zh")
	checkFlow(t, ctx, l0, r0, c0)
	if s := textOf(t, ctx, w+` [data-testid="lambda"]`); s != "W_hh 的 λ₁ = 0.9" {
		t.Errorf("zh λ₁ line %q", s)
	}
	do(t, ctx, "zh: step", chromedp.Click(chromedp.CSS(w+` [data-testid="step"]`)), stepIs(w, 1, 10*time.Second))
	text := textOf(t, ctx, w)
	for _, s := range []string{"播放", "单步", "每个时间步对共享的 dW_hh 的贡献", "梯度必然消失", "序列长度 T", "激活函数"} {
		if !strings.Contains(text, s) {
			t.Errorf("the Chinese widget lacks %q", s)
		}
	}
	for _, s := range []string{"Play", "contribution", "Sequence length", "Hidden size", "vanishing"} {
		if strings.Contains(text, s) {
			t.Errorf("the Chinese widget shows %q", s)
		}
	}
	screenshots(t, ctx, "grad-flow-zh", w)
}
