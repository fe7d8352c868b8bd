package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/engine/data"
)

// charWidget is the char-model widget of "A character model".
const charWidget = `[data-widget="char-model"]`

// charLosses trains the lesson's default model (a GRU of 64 on windows of
// 32, batch 16, Adam at 0.01, gradients clipped to norm 5, seed 1) with the
// engine, independently of the experiment package, and returns the batch
// loss of steps 1…k. The training text is the corpus up to the first line
// break after nine tenths; the windows come from PCG(seed, "char").
func charLosses(t *testing.T, k int) []float64 {
	t.Helper()
	text := data.Corpus()
	runes, index := data.CharVocab(text)
	cut := len(text) * 9 / 10
	cut += strings.IndexByte(text[cut:], '\n') + 1
	m, err := engine.NewSeqModel("check", engine.SeqConfig{Cell: "gru", Vocab: len(runes), Hidden: 64, T: 32, EveryStep: true}, 1)
	if err != nil {
		t.Fatal(err)
	}
	opt := engine.NewAdam(0.01, 0.9, 0.999, 1e-8)
	rng := rand.New(rand.NewPCG(1, 0x63686172))
	losses := make([]float64, k)
	for i := range losses {
		x, y := data.CharBatch(rng, text[:cut], index, 16, 32)
		if losses[i], err = m.ComputeGrad(x, y, nil); err != nil {
			t.Fatal(err)
		}
		engine.ClipGradNorm(m.Params(), 5)
		opt.Step(m.Params())
	}
	return losses
}

// openChar opens the lesson in lang and waits for the widget's first frame.
func openChar(t *testing.T, ctx context.Context, url, lang string) {
	t.Helper()
	do(t, ctx, "open a-character-model ("+lang+")",
		chromedp.Navigate(url+"/"+lang+"/lessons/a-character-model"),
		chromedp.WaitVisible(chromedp.CSS(charWidget+` [data-testid="play"]`)),
		connected(charWidget, 20*time.Second),
		pollJS(`document.querySelectorAll('`+charWidget+` [data-testid="reach-cell"]').length === 50`, 20*time.Second),
	)
}

// checkCharLoss waits until the widget shows step k's training loss and
// compares it (data-value at full precision, the text to 3 decimals) with
// the independent engine training's.
func checkCharLoss(t *testing.T, ctx context.Context, want []float64, k int) {
	t.Helper()
	sel := charWidget + ` [data-testid="loss-now"]`
	waitCells(t, ctx, sel, []float64{want[k-1]}, 1e-12, 15*time.Second)
	text := textOf(t, ctx, sel)
	if !strings.Contains(text, fmt.Sprintf("training loss %.3f", want[k-1])) && !strings.Contains(text, fmt.Sprintf("训练损失 %.3f", want[k-1])) {
		t.Errorf("step %d: the page says %q; the engine's loss is %.6f", k, text, want[k-1])
	}
	t.Logf("step %d: page %q; engine %.6f", k, text, want[k-1])
}

// setTemperature moves the temperature slider to tau, as a drag ends.
func setTemperature(t *testing.T, ctx context.Context, tau float64) {
	t.Helper()
	evalJS[bool](t, ctx, fmt.Sprintf(`(() => {
		const s = document.querySelector(%q);
		s.value = %q;
		s.dispatchEvent(new Event("input", {bubbles: true}));
		s.dispatchEvent(new Event("change", {bubbles: true}));
		return true;
	})()`, charWidget+` [data-testid="slider-temperature"]`, strconv.FormatFloat(tau, 'f', -1, 64)))
}

// TestBrowserCharModel opens the lesson in a real headless Chromium: steps,
// plays and pauses the training; checks the shown training loss against an
// independent engine training at several steps, after a seek back and ←;
// changes the temperature (the sample is re-drawn, the step stays); checks
// the JSON export and the step trace; changes the cell (training starts
// again); then the Chinese page. Screenshots at desktop and phone width,
// both languages.
func TestBrowserCharModel(t *testing.T) {
	url, ctx := browserSession(t, 150*time.Second)
	w := charWidget
	want := charLosses(t, 40)
	openChar(t, ctx, url, "en")
	if s := textOf(t, ctx, w+` [data-testid="head"]`); !strings.Contains(s, "One GRU cell of") {
		t.Errorf("head %q", s)
	}
	do(t, ctx, "step", chromedp.Click(chromedp.CSS(w+` [data-testid="step"]`)), stepIs(w, 1, 15*time.Second))
	checkCharLoss(t, ctx, want, 1)

	topSpeed(t, ctx, w)
	do(t, ctx, "play to 40 and pause",
		chromedp.Click(chromedp.CSS(w+` [data-testid="play"]`)),
		pollJS(`Number(document.querySelector('`+w+`').dataset.step) >= 40`, 30*time.Second),
		chromedp.Click(chromedp.CSS(w+` [data-testid="play"]`)),
		stateIs(w, "paused", 10*time.Second))
	setSlider(t, ctx, w+` [data-testid="seek"]`, 40)
	do(t, ctx, "seek to 40", stepIs(w, 40, 20*time.Second))
	checkCharLoss(t, ctx, want, 40)
	do(t, ctx, "the sample of step 40", pollJS(`document.querySelector('`+w+` [data-testid="sample-caption"]').textContent.includes("step 40 at temperature 0.80")`, 10*time.Second))
	played := shoot(t, ctx, w)

	// Back: the position slider, then ← with the focus in the widget.
	setSlider(t, ctx, w+` [data-testid="seek"]`, 3)
	do(t, ctx, "seek back to 3", stepIs(w, 3, 20*time.Second))
	checkCharLoss(t, ctx, want, 3)
	focusWidget(t, ctx, w)
	do(t, ctx, "← steps back", chromedp.KeyEvent(kb.ArrowLeft), stepIs(w, 2, 15*time.Second))
	checkCharLoss(t, ctx, want, 2)

	// The temperature re-draws the sample of the same step.
	setSlider(t, ctx, w+` [data-testid="seek"]`, 20)
	do(t, ctx, "seek to 20", stepIs(w, 20, 20*time.Second),
		pollJS(`document.querySelector('`+w+` [data-testid="sample-caption"]').textContent.includes("step 20 at temperature 0.80")`, 10*time.Second))
	before := attrOf(t, ctx, w+` [data-testid="sample"]`, "data-text")
	setTemperature(t, ctx, 1.5)
	do(t, ctx, "temperature 1.5", pollJS(`document.querySelector('`+w+` [data-testid="sample-caption"]').textContent.includes("temperature 1.50")`, 10*time.Second))
	after := attrOf(t, ctx, w+` [data-testid="sample"]`, "data-text")
	if after == before || len([]rune(after)) != 120 {
		t.Errorf("τ 1.5 sample %q, τ 0.8 sample %q", after, before)
	}
	do(t, ctx, "the step stays at 20", stepIs(w, 20, time.Second))
	checkCharLoss(t, ctx, want, 20)

	// The exports of the state on screen.
	href := attrOf(t, ctx, w+` [data-testid="export-json"]`, "href")
	for _, part := range []string{"/export/char-model.json?", "cell=gru", "temperature=1.5", "step=20", "lang=en"} {
		if !strings.Contains(href, part) {
			t.Errorf("export-json link %q lacks %q", href, part)
		}
	}
	var export struct {
		Status, Step, Trace int
		Last                float64
		Tau                 float64
		Text                string
		Pieces              int
		Format              string
	}
	raw := evalJSAsync[string](t, ctx, fmt.Sprintf(`(async () => {
		const r = await fetch(document.querySelector(%q).href);
		if (!r.ok) return JSON.stringify({Status: r.status});
		const j = await r.json();
		const tr = await fetch(document.querySelector(%q).href);
		const tj = tr.ok ? await tr.json() : {};
		return JSON.stringify({Status: r.status, Step: j.step, Last: j.data.last, Tau: j.data.sample.temperature, Text: j.data.sample.text,
			Pieces: j.data.reach.pieces.length, Trace: tr.status, Format: tj.format});
	})()`, w+` [data-testid="export-json"]`, w+` [data-testid="export-trace"]`))
	if err := json.Unmarshal([]byte(raw), &export); err != nil {
		t.Fatalf("export: %.200s: %v", raw, err)
	}
	if export.Status != 200 || export.Step != 20 || export.Tau != 1.5 || export.Text != after || export.Pieces != 50 || export.Trace != 200 || export.Format != engine.TraceFormat {
		t.Fatalf("exports: %+v", export)
	}
	if math.Abs(export.Last-want[19]) > 1e-12 {
		t.Fatalf("char-model.json: step 20's loss %v, engine %v", export.Last, want[19])
	}
	for _, f := range []string{"png", "svg"} {
		status := evalJSAsync[int](t, ctx, fmt.Sprintf(`(async () => (await fetch(document.querySelector(%q).href)).status)()`, w+` [data-testid="download-`+f+`"]`))
		if status != 200 {
			t.Errorf("%s export: HTTP %d", f, status)
		}
	}

	// Hover a character of the strip: its numbers.
	evalJS[bool](t, ctx, `(() => { document.querySelectorAll('`+w+` [data-testid="reach-cell"]')[49].focus(); return true; })()`)
	if s := textOf(t, ctx, w+` [data-testid="reach-detail"]`); !strings.HasPrefix(s, "1 character back: “e”") {
		t.Errorf("detail %q", s)
	}
	reach := shoot(t, ctx, w)

	// A new cell trains a new model from step 0.
	evalJS[bool](t, ctx, fmt.Sprintf(`(() => {
		const s = document.querySelector(%q);
		s.value = "rnn";
		s.dispatchEvent(new Event("change", {bubbles: true}));
		return true;
	})()`, w+` [data-testid="cell"]`))
	do(t, ctx, "cell rnn", stepIs(w, 0, 15*time.Second),
		pollJS(`document.querySelector('`+w+` [data-testid="head"]').textContent.includes("One RNN (tanh) cell")`, 10*time.Second))
	saveScreenshots(t, map[string][]byte{"paramshare-char-model-widget-played.png": played, "paramshare-char-model-widget-reach.png": reach})
	screenshots(t, ctx, "char-model-en", w)

	// Chinese.
	openChar(t, ctx, url, "zh")
	do(t, ctx, "zh: step", chromedp.Click(chromedp.CSS(w+` [data-testid="step"]`)), stepIs(w, 1, 15*time.Second))
	checkCharLoss(t, ctx, want, 1)
	text := textOf(t, ctx, w)
	for _, s := range []string{"播放", "单步", "一次预测能回溯多远", "温度 τ", "留出文本"} {
		if !strings.Contains(text, s) {
			t.Errorf("the Chinese widget lacks %q", s)
		}
	}
	for _, s := range []string{"Play", "Temperature", "held-out", "characters back"} {
		if strings.Contains(text, s) {
			t.Errorf("the Chinese widget shows %q", s)
		}
	}
	screenshots(t, ctx, "char-model-zh", w)
}
