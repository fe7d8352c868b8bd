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

// unrollWidget is the rnn-unroll widget of "One cell, many time steps".
const unrollWidget = `[data-widget="rnn-unroll"]`

// rnnForward runs word (one-hot over a–z) through an engine RNN with the
// lesson's init (hidden size, seed) and returns h_1 … h_L.
func rnnForward(t *testing.T, word string, hidden, seed int) [][]float64 {
	t.Helper()
	cell, err := engine.NewRNN("check", 26, hidden, engine.NewRand(uint64(seed)))
	if err != nil {
		t.Fatal(err)
	}
	x := engine.NewTensor(1, len(word), 26)
	for i, c := range word {
		x.Data[i*26+int(c-'a')] = 1
	}
	y := cell.Forward(x, nil)
	hs := make([][]float64, len(word))
	for i := range hs {
		hs[i] = y.Data[i*hidden : (i+1)*hidden]
	}
	return hs
}

// openUnroll opens the lesson in lang and waits for the widget's first
// frame (the sharing line is filled in from it).
func openUnroll(t *testing.T, ctx context.Context, url, lang string) {
	t.Helper()
	do(t, ctx, "open one-cell-many-time-steps ("+lang+")",
		chromedp.Navigate(url+"/"+lang+"/lessons/one-cell-many-time-steps"),
		chromedp.WaitVisible(chromedp.CSS(unrollWidget+` [data-testid="play"]`)),
		connected(unrollWidget, 20*time.Second),
		pollJS(`document.querySelector('`+unrollWidget+` [data-testid="sharing-line"]').textContent.length > 0`, 20*time.Second),
	)
}

// chooseWord picks word in the widget's word select, as a reader does.
func chooseWord(t *testing.T, ctx context.Context, word string) {
	t.Helper()
	evalJS[bool](t, ctx, fmt.Sprintf(`(() => {
		const s = document.querySelector(%q);
		s.value = %q;
		s.dispatchEvent(new Event("change", {bubbles: true}));
		return s.value === %q;
	})()`, unrollWidget+` [data-testid="word"]`, word, word))
}

// checkHidden waits until the step table shows h_t of step k, then
// compares each shown h_t[j] (its text to 4 decimals, its data-value at
// full precision) with the engine's.
func checkHidden(t *testing.T, ctx context.Context, want [][]float64, k int) {
	t.Helper()
	sel := unrollWidget + ` [data-testid="h-value"]`
	waitCells(t, ctx, sel, want[k-1], 1e-12, 10*time.Second)
	texts := evalJS[[]string](t, ctx, fmt.Sprintf(`[...document.querySelectorAll(%q)].map(c => c.textContent)`, sel))
	for j, s := range texts {
		v, err := strconv.ParseFloat(strings.ReplaceAll(s, "−", "-"), 64)
		if err != nil || math.Abs(v-want[k-1][j]) > 0.5e-4+1e-12 {
			t.Fatalf("step %d: h[%d] shows %q; engine Forward %.6f (%v)", k, j, s, want[k-1][j], err)
		}
	}
	t.Logf("step %d: page h_t = %v; engine Forward = %v", k, texts, want[k-1])
}

// TestBrowserRNNUnroll opens the lesson in a real headless Chromium: the
// sharing and count lines at the defaults, play to the end of "share" and
// h_5 against the engine's Forward, step back with ← and seek with the
// position slider, Reset and Step, the word "sequence" refused by the
// unshared RNN built for T = 5 (read by the shared one) and accepted at
// T = 8, T = 200, the JSON export against Forward and the trace link;
// then the Chinese page. Screenshots at desktop and phone width, both
// languages.
func TestBrowserRNNUnroll(t *testing.T) {
	url, ctx := browserSession(t, 150*time.Second)
	w := unrollWidget
	openUnroll(t, ctx, url, "en")
	if s := textOf(t, ctx, w+` [data-testid="sharing-line"]`); s != "The same 93 parameters (W_ih, W_hh, b_ih, b_hh) at every one of the 5 steps of “share”" {
		t.Errorf("sharing line %q", s)
	}
	if s := textOf(t, ctx, w+` [data-testid="count-shared"]`); s != "Shared RNN: 93 parameters for every T; at T = 5 each weight is used 5 times (435 multiply-adds)." {
		t.Errorf("count line %q", s)
	}
	if s := textOf(t, ctx, w+` [data-testid="count-unshared"]`); s != "Unshared RNN (its own weights at each step): 93 × 5 = 465 parameters." {
		t.Errorf("unshared line %q", s)
	}
	if v := attrOf(t, ctx, w+` [data-testid="unshared-verdict"]`, "data-refused"); v != "false" {
		t.Errorf("the unshared RNN refuses the default word: %q", v)
	}

	share := rnnForward(t, "share", 3, 1)
	topSpeed(t, ctx, w)
	do(t, ctx, "play to the end",
		chromedp.Click(chromedp.CSS(w+` [data-testid="play"]`)),
		stepIs(w, 5, 20*time.Second), stateIs(w, "done", 10*time.Second))
	checkHidden(t, ctx, share, 5)
	if n := evalJS[int](t, ctx, `document.querySelectorAll('`+w+` .ru-step.ru-done').length`); n != 5 {
		t.Errorf("%d steps drawn as computed, want 5", n)
	}
	done := shoot(t, ctx, w)

	// Back: ← (focus in the widget) and the position slider.
	focusWidget(t, ctx, w)
	do(t, ctx, "← steps back", chromedp.KeyEvent(kb.ArrowLeft), stepIs(w, 4, 10*time.Second))
	checkHidden(t, ctx, share, 4)
	setSlider(t, ctx, w+` [data-testid="seek"]`, 2)
	do(t, ctx, "seek to 2", stepIs(w, 2, 10*time.Second))
	checkHidden(t, ctx, share, 2)
	do(t, ctx, "reset and step",
		chromedp.Click(chromedp.CSS(w+` [data-testid="reset"]`)), stepIs(w, 0, 10*time.Second),
		chromedp.Click(chromedp.CSS(w+` [data-testid="step"]`)), stepIs(w, 1, 10*time.Second))
	checkHidden(t, ctx, share, 1)

	// A longer word: the shared cell reads it, the unshared RNN built for
	// T = 5 refuses it.
	chooseWord(t, ctx, "sequence")
	do(t, ctx, "choose sequence",
		pollJS(`document.querySelector('`+w+` [data-testid="unshared-verdict"]').dataset.refused === "true"`, 10*time.Second))
	if s := textOf(t, ctx, w+` [data-testid="unshared-verdict"]`); s != "The unshared RNN was built for T = 5 steps and cannot read “sequence” (8 characters): it has no weights for step 6–8." {
		t.Errorf("refusal %q", s)
	}
	if n := evalJS[int](t, ctx, `document.querySelectorAll('`+w+` .ru-missing').length`); n != 3 {
		t.Errorf("%d steps drawn without weights, want 3", n)
	}
	sequence := rnnForward(t, "sequence", 3, 1)
	do(t, ctx, "play sequence", chromedp.Click(chromedp.CSS(w+` [data-testid="play"]`)), stepIs(w, 8, 20*time.Second))
	checkHidden(t, ctx, sequence, 8)
	refused := shoot(t, ctx, w)

	// The JSON export of the state on screen carries the engine's h_8.
	href := attrOf(t, ctx, w+` [data-testid="export-json"]`, "href")
	for _, part := range []string{"/export/rnn-unroll.json?", "word=sequence", "T=5", "hidden=3", "seed=1", "step=8", "lang=en"} {
		if !strings.Contains(href, part) {
			t.Errorf("export-json link %q lacks %q", href, part)
		}
	}
	var export struct {
		Status int       `json:"status"`
		Step   int       `json:"step"`
		H      []float64 `json:"h"`
		Trace  int       `json:"trace"`
		Format string    `json:"format"`
	}
	raw := evalJSAsync[string](t, ctx, fmt.Sprintf(`(async () => {
		const r = await fetch(document.querySelector(%q).href);
		if (!r.ok) return JSON.stringify({status: r.status});
		const j = await r.json();
		const tr = await fetch(document.querySelector(%q).href);
		const tj = tr.ok ? await tr.json() : {};
		return JSON.stringify({status: r.status, step: j.step, h: j.data.cur.h, trace: tr.status, format: tj.format});
	})()`, w+` [data-testid="export-json"]`, w+` [data-testid="export-trace"]`))
	if err := json.Unmarshal([]byte(raw), &export); err != nil {
		t.Fatalf("export: %.200s: %v", raw, err)
	}
	if export.Status != 200 || export.Step != 8 || len(export.H) != 3 || export.Trace != 200 || export.Format != engine.TraceFormat {
		t.Fatalf("exports: %+v", export)
	}
	for j, v := range export.H {
		if math.Abs(v-sequence[7][j]) > 1e-12 {
			t.Fatalf("rnn-unroll.json: h_8[%d] = %v, engine Forward %v", j, v, sequence[7][j])
		}
	}

	// T = 8: the unshared RNN can read the word, with 8 × 93 parameters;
	// T = 200: 18,600, the shared cell still 93.
	setSlider(t, ctx, w+` [data-testid="slider-T"]`, 8)
	do(t, ctx, "T = 8", pollJS(`document.querySelector('`+w+` [data-testid="unshared-verdict"]').dataset.refused === "false"`, 10*time.Second))
	if v := attrOf(t, ctx, w+` [data-testid="count-unshared"]`, "data-value"); v != "744" {
		t.Errorf("unshared at T = 8: %s", v)
	}
	setSlider(t, ctx, w+` [data-testid="slider-T"]`, 200)
	do(t, ctx, "T = 200", pollJS(`document.querySelector('`+w+` [data-testid="count-unshared"]').dataset.value === "18600"`, 10*time.Second))
	if v := attrOf(t, ctx, w+` [data-testid="count-shared"]`, "data-value"); v != "93" {
		t.Errorf("shared at T = 200: %s", v)
	}
	do(t, ctx, "the step stays where it was", stepIs(w, 8, time.Second))
	checkHidden(t, ctx, sequence, 8)

	saveScreenshots(t, map[string][]byte{"paramshare-rnn-unroll-widget-done.png": done, "paramshare-rnn-unroll-widget-refused.png": refused})
	screenshots(t, ctx, "rnn-unroll-en", w)

	// Chinese: the widget speaks Chinese and shows the engine's numbers.
	openUnroll(t, ctx, url, "zh")
	if s := textOf(t, ctx, w+` [data-testid="sharing-line"]`); s != "“share”的 5 个时间步，每一步都用同样的 93 个参数（W_ih、W_hh、b_ih、b_hh）" {
		t.Errorf("zh sharing line %q", s)
	}
	do(t, ctx, "zh: step twice",
		chromedp.Click(chromedp.CSS(w+` [data-testid="step"]`)), stepIs(w, 1, 10*time.Second),
		chromedp.Click(chromedp.CSS(w+` [data-testid="step"]`)), stepIs(w, 2, 10*time.Second))
	checkHidden(t, ctx, share, 2)
	text := textOf(t, ctx, w)
	for _, s := range []string{"播放", "单步", "共享的权重", "不共享的 RNN", "序列长度 T"} {
		if !strings.Contains(text, s) {
			t.Errorf("the Chinese widget lacks %q", s)
		}
	}
	for _, s := range []string{"Play", "Shared RNN", "multiply-adds", "Sequence length", "Hidden size"} {
		if strings.Contains(text, s) {
			t.Errorf("the Chinese widget shows %q", s)
		}
	}
	chooseWord(t, ctx, "sequence")
	do(t, ctx, "zh: sequence",
		pollJS(`document.querySelector('`+w+` [data-testid="unshared-verdict"]').dataset.refused === "true"`, 10*time.Second))
	if s := textOf(t, ctx, w+` [data-testid="unshared-verdict"]`); s != "不共享的 RNN 按 T = 5 个时间步构建，读不了“sequence”（8 个字符）：第 6–8 步没有权重。" {
		t.Errorf("zh refusal %q", s)
	}
	screenshots(t, ctx, "rnn-unroll-zh", w)
}
