package e2e

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/paramshare/paramshare/lab"
)

// evalWidget is the sharing-eval widget of "Does sharing help?".
const evalWidget = `[data-widget="sharing-eval"]`

func openEval(t *testing.T, ctx context.Context, url, lang string) {
	t.Helper()
	do(t, ctx, "open does-sharing-help ("+lang+")",
		chromedp.Navigate(url+"/"+lang+"/lessons/does-sharing-help"),
		chromedp.WaitVisible(chromedp.CSS(evalWidget+` [data-testid="run"]`)),
		connected(evalWidget, 20*time.Second),
		pollJS(`document.querySelector('`+evalWidget+` [data-testid="budget"]').textContent.length > 0`, 20*time.Second),
	)
}

// evalCell returns the numbers of a table cell's data-value.
func evalCell(t *testing.T, ctx context.Context, testid string) []float64 {
	t.Helper()
	s := attrOf(t, ctx, evalWidget+` [data-testid="`+testid+`"]`, "data-value")
	var out []float64
	for _, f := range strings.Fields(s) {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			t.Fatalf("%s: data-value %q: %v", testid, s, err)
		}
		out = append(out, v)
	}
	return out
}

// near reports whether a and b agree to 1e-12 (the page shows the
// server's float64s through JSON: they should be equal).
func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b)) }

// TestBrowserSharingEval runs lesson 17's default question (CNN vs locally
// connected vs MLP, small budget, 3 seeds) end to end in headless
// Chromium: the progress bar while it trains, then every number of the
// table against lab.Eval run here with the same config (training is
// deterministic; only the times differ); the PNG, SVG and JSON exports
// (status, content type, the JSON's numbers) and the CSV (status, type,
// its rows against lab's);
// a second tab asking the same question gets it from the cache at once;
// Cancel stops a long question; a second question (the twins, one seed);
// the Chinese page; screenshots at desktop and phone width.
func TestBrowserSharingEval(t *testing.T) {
	url, ctx := browserSession(t, 240*time.Second)
	w := evalWidget
	cfg := lab.EvalConfig{Comparison: lab.EvalCNN, Size: lab.EvalSmall, Seeds: 3}

	// lab's own answer, computed while the page computes the server's.
	type labAnswer struct {
		res *lab.EvalResult
		err error
	}
	mine := make(chan labAnswer, 1)
	go func() {
		r, err := lab.Eval(context.Background(), cfg, nil)
		mine <- labAnswer{r, err}
	}()

	openEval(t, ctx, url, "en")
	// No answer yet: no downloads offered (they are drawn from the cached
	// answer only), and an export of a long unanswered question is refused
	// at once instead of training in the request.
	if off := evalJS[bool](t, ctx, `document.querySelector('`+w+` .se-exports').hidden`); !off {
		t.Errorf("the downloads are offered before the answer")
	}
	type refusal struct {
		Status int
		Ms     float64
		Text   string // the reason, in the page's language
	}
	ref := evalJSAsync[string](t, ctx, `(async () => {
		const t0 = performance.now();
		const r = await fetch("/export/sharing-eval.csv?comparison=cnn-lc-mlp&size=large&seeds=10&step=1");
		return JSON.stringify({Status: r.status, Ms: performance.now() - t0, Text: await r.text()});
	})()`)
	var rf refusal
	if err := json.Unmarshal([]byte(ref), &rf); err != nil || rf.Status != http.StatusConflict || rf.Text == "" || rf.Ms > 3000 {
		t.Errorf("export of an unanswered large question: %s (%v); want a refusal at once", ref, err)
	}
	// Run from the keyboard: Run is disabled while the models train, so the
	// focus moves to Cancel (not to <body>), and to the table's caption
	// once the answer is drawn.
	do(t, ctx, "run the comparison with Enter; the progress bar shows, then the table",
		chromedp.Focus(chromedp.CSS(w+` [data-testid="run"]`)), chromedp.KeyEvent(kb.Enter),
		pollJS(`!document.querySelector('`+w+` [data-testid="progress"]').hidden && document.querySelector('`+w+`').dataset.progress`, 30*time.Second),
	)
	if f := evalJS[string](t, ctx, `document.activeElement.dataset.testid ?? document.activeElement.tagName`); f != "cancel" {
		t.Errorf("focus while working: %s, want Cancel", f)
	}
	prog := attrOf(t, ctx, w, "data-progress")
	status := textOf(t, ctx, w+` [data-testid="status"]`)
	if !strings.Contains(status, "seed") || !strings.Contains(status, "step") {
		t.Errorf("status while working: %q", status)
	}
	t.Logf("progress seen: %s (%q)", prog, status)
	do(t, ctx, "the answer", stepIs(w, 1, 90*time.Second), widgetIs(w, "progressSeen", "1", time.Second))
	if err := chromedp.Do(ctx, pollJS(`document.activeElement?.dataset.testid === "results-caption"`, 2*time.Second)); err != nil {
		t.Fatalf("after the answer the focus is on %s, want the results' caption",
			evalJS[string](t, ctx, `(() => { const a = document.activeElement; return a ? a.tagName + " " + (a.dataset.testid ?? "") + " state=" + document.querySelector('`+w+`').dataset.state : "null"; })()`))
	}
	// Run is greyed out, and says why.
	if note := textOf(t, ctx, w+` [data-testid="run-note"]`); !evalJS[bool](t, ctx, `document.querySelector('`+w+` [data-testid="run"]').disabled`) ||
		!evalJS[bool](t, ctx, `document.querySelector('`+w+` [data-testid="run-note"]').checkVisibility()`) || !strings.Contains(note, "change the question") {
		t.Errorf("after the answer: Run not disabled, or its note %q not shown", note)
	}
	// What the ◆ and the gap are, and the MLP set aside from the CNN's
	// count in the chart (with its line to its true count).
	if h := textOf(t, ctx, w+` [data-testid="gap-head"]`); h != "Gap (train − test, points)" {
		t.Errorf("gap header %q", h)
	}
	if n := textOf(t, ctx, w+` [data-testid="front-note"]`); !strings.HasPrefix(n, "◆ Pareto front: no other model has at most as many parameters") {
		t.Errorf("front note %q", n)
	}
	if l := textOf(t, ctx, w+` [data-testid="legend"]`); !strings.Contains(l, "Pareto front (◆ in the table): no other model") {
		t.Errorf("chart legend %q does not say what the front is", l)
	}
	if n := attrOf(t, ctx, w, "data-nudged"); n == "" {
		t.Errorf("no model set aside in the chart (the CNN's 9,098 and the MLP's 9,550 parameters are close)")
	} else {
		t.Logf("set aside in the chart: %s", n)
	}
	if src := attrOf(t, ctx, w+` [data-testid="status"]`, "data-source"); src != "fresh" {
		t.Errorf("first answer's source %q, want fresh", src)
	}

	want := <-mine
	if want.err != nil {
		t.Fatal(want.err)
	}
	for _, m := range want.res.Models {
		check := func(testid string, want ...float64) {
			t.Helper()
			got := evalCell(t, ctx, testid+"-"+m.Model)
			if len(got) != len(want) {
				t.Errorf("%s-%s: %v, want %v", testid, m.Model, got, want)
				return
			}
			for i := range got {
				if !near(got[i], want[i]) {
					t.Errorf("%s-%s: %v, want %v (lab)", testid, m.Model, got, want)
					return
				}
			}
		}
		check("params", float64(m.Params))
		check("memory", float64(m.Memory))
		check("test", m.Test.Mean, m.Test.SD)
		check("ci", m.Test.Lo, m.Test.Hi)
		check("train", m.Train.Mean)
		check("gap", m.Gap.Mean)
		if m.Model == want.res.Ref {
			check("diff")
		} else {
			check("diff", m.Diff.Mean)
			check("diffci", m.Diff.Lo, m.Diff.Hi)
		}
		var seeds []float64
		for _, r := range m.Runs {
			seeds = append(seeds, r.Test)
		}
		check("seeds", seeds...)
		last := m.Shifted[len(m.Shifted)-1]
		check("shifted", last.Mean, last.SD)
		// The interval is mean ± t(0.975, 2)·sd/√3; for 2 degrees of freedom
		// t(p) = (2p − 1)·√(2 / (4p(1 − p))) = 4.3027.
		if h := (m.Test.Hi - m.Test.Lo) / 2; math.Abs(h-0.95*math.Sqrt(2/0.0975)*m.Test.SD/math.Sqrt(3)) > 1e-12 {
			t.Errorf("%s: interval half-width %v, want 4.3027·sd/√3", m.Model, h)
		}
		t.Logf("%s: %d params, test %.4f ± %.4f [%.4f, %.4f], gap %+.4f, pareto %v", m.Model, m.Params, m.Test.Mean, m.Test.SD, m.Test.Lo, m.Test.Hi, m.Gap.Mean, m.Pareto)
	}

	// The exports of the answer on screen.
	var ex struct {
		PNG, SVG, JSON       int
		PNGType, SVGType     string
		Means                []float64
		CSV, CSVType         string
		CSVStatus            int
		PNGSize, SVGHasTitle int
	}
	raw := evalJSAsync[string](t, ctx, fmt.Sprintf(`(async () => {
		const q = (id) => document.querySelector(%q + ' [data-testid="' + id + '"]').href;
		const png = await fetch(q("download-png"));
		const pb = await png.arrayBuffer();
		const svg = await fetch(q("download-svg"));
		const st = await svg.text();
		const js = await fetch(q("export-json"));
		const j = await js.json();
		const c = await fetch(q("export-csv"));
		const csv = await c.text(), csvStatus = c.status, csvType = c.headers.get("content-type");
		return JSON.stringify({PNG: png.status, PNGType: png.headers.get("content-type"), PNGSize: pb.byteLength,
			SVG: svg.status, SVGType: svg.headers.get("content-type"), SVGHasTitle: st.includes("<svg") ? 1 : 0,
			JSON: js.status, Means: j.data.answer.models.map((m) => m.test.mean), CSV: csv, CSVStatus: csvStatus, CSVType: csvType});
	})()`, w))
	if err := json.Unmarshal([]byte(raw), &ex); err != nil {
		t.Fatalf("exports: %v (%s)", err, raw)
	}
	if ex.PNG != 200 || ex.PNGType != "image/png" || ex.PNGSize < 1000 {
		t.Errorf("PNG: status %d, type %q, %d bytes", ex.PNG, ex.PNGType, ex.PNGSize)
	}
	if ex.SVG != 200 || ex.SVGType != "image/svg+xml" || ex.SVGHasTitle != 1 {
		t.Errorf("SVG: status %d, type %q, has <svg> %d", ex.SVG, ex.SVGType, ex.SVGHasTitle)
	}
	if ex.JSON != 200 || len(ex.Means) != len(want.res.Models) {
		t.Errorf("JSON: status %d, means %v", ex.JSON, ex.Means)
	}
	for i, m := range want.res.Models {
		if i < len(ex.Means) && !near(ex.Means[i], m.Test.Mean) {
			t.Errorf("JSON %s mean %v, lab %v", m.Model, ex.Means[i], m.Test.Mean)
		}
	}
	if ex.CSVStatus != 200 || !strings.HasPrefix(ex.CSVType, "text/csv") {
		t.Errorf("CSV: status %d, type %q", ex.CSVStatus, ex.CSVType)
	}
	rows, err := csv.NewReader(strings.NewReader(ex.CSV)).ReadAll()
	if err != nil {
		t.Fatalf("CSV: %v\n%s", err, ex.CSV)
	}
	if n := 1 + len(want.res.Models)*(cfg.Seeds+1); len(rows) != n {
		t.Fatalf("CSV has %d rows, want %d (header, a row per model per seed, a mean per model):\n%s", len(rows), n, ex.CSV)
	}
	k := 1
	for _, m := range want.res.Models {
		for _, r := range m.Runs {
			row := rows[k]
			k++
			test, _ := strconv.ParseFloat(row[5], 64)
			if row[0] != "run" || row[1] != m.Model || row[2] != fmt.Sprint(r.Seed) || row[3] != fmt.Sprint(m.Params) || !near(test, r.Test) {
				t.Errorf("CSV row %v, want run %s seed %d params %d test %v", row, m.Model, r.Seed, m.Params, r.Test)
			}
		}
	}
	for _, m := range want.res.Models {
		row := rows[k]
		k++
		mean, _ := strconv.ParseFloat(row[5], 64)
		lo, _ := strconv.ParseFloat(row[11], 64)
		if row[0] != "mean" || row[1] != m.Model || !near(mean, m.Test.Mean) || !near(lo, m.Test.Lo) || row[13] != fmt.Sprint(m.Pareto) {
			t.Errorf("CSV summary %v, want mean %s %v lo %v pareto %v", row, m.Model, m.Test.Mean, m.Test.Lo, m.Pareto)
		}
	}
	shots := map[string][]byte{"sharingeval-en-desktop.png": shoot(t, ctx, w)}
	desktop := phoneViewport(t, ctx)
	pageFits(t, ctx, w)
	shots["sharingeval-en-phone.png"] = shoot(t, ctx, w)
	desktop()

	// A second visitor asking the same question: from the cache, at once.
	tab := newTab(t, ctx, "second visitor")
	openEval(t, tab, url, "en")
	do(t, tab, "the cache says it has the answer", pollJS(`document.querySelector('`+w+` [data-testid="budget"]').textContent.includes("cache")`, 10*time.Second))
	start := time.Now()
	do(t, tab, "run: the answer from the cache",
		chromedp.Click(chromedp.CSS(w+` [data-testid="run"]`)), stepIs(w, 1, 5*time.Second))
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the cached answer took %v", d)
	}
	if src := attrOf(t, tab, w+` [data-testid="status"]`, "data-source"); src != "cache" {
		t.Errorf("second answer's source %q, want cache", src)
	}
	if got := evalCell(t, tab, "test-cnn"); !near(got[0], want.res.Model("cnn").Test.Mean) {
		t.Errorf("cached cnn test %v, lab %v", got, want.res.Model("cnn").Test.Mean)
	}

	// Training digits apart from the steps: 1,000 digits, still the small
	// budget's 27 steps (the budget line says so before anything runs).
	evalJS[bool](t, tab, fmt.Sprintf(`(() => {
		const s = document.querySelector(%q + ' [data-testid="set-digits"]');
		if (s.closest('label').hidden) return false;
		s.value = "1000"; s.dispatchEvent(new Event("change", {bubbles: true}));
		return true;
	})()`, w))
	do(t, tab, "1,000 digits, 27 steps", stepIs(w, 0, 5*time.Second),
		pollJS(`document.querySelector('`+w+` [data-testid="budget"]').textContent.includes("1,000 training digits, 27 steps")`, 5*time.Second))
	evalJS[bool](t, tab, fmt.Sprintf(`(() => { const s = document.querySelector(%q + ' [data-testid="set-digits"]'); s.value = "budget"; s.dispatchEvent(new Event("change", {bubbles: true})); return true; })()`, w))

	// Cancel: a long question (the large budget, 10 seeds: minutes) stops
	// when asked, and nobody computes it any more (no flight in the frame).
	evalJS[bool](t, tab, fmt.Sprintf(`(() => {
		const set = (id, v) => { const s = document.querySelector(%q + ' [data-testid="' + id + '"]'); s.value = v; s.dispatchEvent(new Event("change", {bubbles: true})); };
		set("set-size", "large");
		set("set-seeds", "10");
		return true;
	})()`, w))
	do(t, tab, "a long question", stepIs(w, 0, 5*time.Second),
		pollJS(`document.querySelector('`+w+` [data-testid="budget"]').textContent.includes("5,000 training digits")`, 5*time.Second),
		chromedp.Sleep(300*time.Millisecond),
		chromedp.Click(chromedp.CSS(w+` [data-testid="run"]`)),
		pollJS(`!document.querySelector('`+w+` [data-testid="progress"]').hidden`, 30*time.Second),
		chromedp.Focus(chromedp.CSS(w+` [data-testid="cancel"]`)), chromedp.KeyEvent(kb.Enter),
		stateIs(w, "paused", 5*time.Second),
		pollJS(`document.querySelector('`+w+` [data-testid="progress"]').hidden && document.querySelector('`+w+` [data-testid="cancel"]').hidden`, 5*time.Second),
		// Cancel is hidden: the focus goes back to Run, not to <body>.
		pollJS(`document.activeElement?.dataset.testid === "run"`, 2*time.Second))
	if s := textOf(t, tab, w+` [data-testid="status"]`); !strings.HasPrefix(s, "Press") {
		t.Errorf("status after Cancel: %q", s)
	}

	// Another question: the twins with one seed — its train measure, gap
	// and each model's time, but no interval.
	evalJS[bool](t, tab, fmt.Sprintf(`(() => {
		const set = (id, v) => { const s = document.querySelector(%q + ' [data-testid="' + id + '"]'); s.value = v; s.dispatchEvent(new Event("change", {bubbles: true})); };
		set("set-comparison", "twins-towers");
		set("set-size", "small");
		return true;
	})()`, w))
	do(t, tab, "twins question", stepIs(w, 0, 5*time.Second),
		pollJS(`document.querySelector('`+w+` [data-testid="budget"]').textContent.includes("test pairs")`, 5*time.Second))
	if !evalJS[bool](t, tab, `document.querySelector('`+w+` [data-testid="set-digits"]').closest('label').hidden`) {
		t.Errorf("the training-digits field shows for the twins; only the CNN comparison takes it")
	}
	evalJS[bool](t, tab, fmt.Sprintf(`(() => { const i = document.querySelector(%q); i.value = "1"; i.dispatchEvent(new Event("change", {bubbles: true})); return true; })()`, w+` [data-testid="set-seeds"]`))
	do(t, tab, "run the twins", pollJS(`document.querySelector('`+w+` [data-testid="budget"]').textContent.includes("test pairs")`, 5*time.Second),
		chromedp.Sleep(300*time.Millisecond),
		chromedp.Click(chromedp.CSS(w+` [data-testid="run"]`)), stepIs(w, 1, 60*time.Second))
	twins, err := lab.Eval(context.Background(), lab.EvalConfig{Comparison: lab.EvalTwins, Size: lab.EvalSmall, Seeds: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range twins.Models {
		if got := evalCell(t, tab, "test-"+m.Model); len(got) != 2 || !near(got[0], m.Test.Mean) || got[1] != 0 {
			t.Errorf("twins %s: test %v, lab %v", m.Model, got, m.Test.Mean)
		}
		if v := attrOf(t, tab, w+` [data-testid="ci-`+m.Model+`"]`, "data-value"); v != "" {
			t.Errorf("twins %s: one seed shows an interval %q", m.Model, v)
		}
		if got := evalCell(t, tab, "train-"+m.Model); len(got) != 1 || !near(got[0], m.Train.Mean) {
			t.Errorf("twins %s: train %v, lab %v", m.Model, got, m.Train.Mean)
		}
		if got := evalCell(t, tab, "time-"+m.Model); len(got) != 1 || !(got[0] > 0) {
			t.Errorf("twins %s: time %v", m.Model, got)
		}
	}
	if n := textOf(t, tab, w+` [data-testid="notes"]`); !strings.Contains(n, "lockstep") || !strings.Contains(n, "Δ vs twins") {
		t.Errorf("notes %q do not say how the lockstep models are timed and what Δ is", n)
	}
	shots["sharingeval-twins-en-desktop.png"] = shoot(t, tab, w)

	// A perplexity (tied vs untied embeddings, 2 seeds): each mean written
	// with as many decimals as its sd, and the gap's sign named for it.
	evalJS[bool](t, tab, fmt.Sprintf(`(() => {
		const set = (id, v) => { const s = document.querySelector(%q + ' [data-testid="' + id + '"]'); s.value = v; s.dispatchEvent(new Event("change", {bubbles: true})); };
		set("set-comparison", "tied-untied");
		set("set-seeds", "2");
		return true;
	})()`, w))
	do(t, tab, "run tied vs untied", pollJS(`document.querySelector('`+w+` [data-testid="budget"]').textContent.includes("windows of 16 words")`, 5*time.Second),
		chromedp.Sleep(300*time.Millisecond),
		chromedp.Click(chromedp.CSS(w+` [data-testid="run"]`)), stepIs(w, 1, 90*time.Second))
	if h := textOf(t, tab, w+` [data-testid="gap-head"]`); h != "Gap (test − train perplexity)" {
		t.Errorf("perplexity gap header %q", h)
	}
	decimals := func(s string) int {
		if i := strings.LastIndexAny(s, "."); i >= 0 {
			return len(s) - i - 1
		}
		return 0
	}
	for _, m := range []string{"tied", "untied"} {
		cell := textOf(t, tab, w+` [data-testid="test-`+m+`"]`)
		parts := strings.Split(cell, " ± ")
		if len(parts) != 2 || decimals(parts[0]) != decimals(parts[1]) || decimals(parts[0]) < 1 {
			t.Errorf("%s perplexity %q: mean and sd with different decimals", m, cell)
		}
		for _, id := range []string{"ci", "seeds", "train", "gap"} {
			for _, v := range strings.FieldsFunc(textOf(t, tab, w+` [data-testid="`+id+`-`+m+`"]`), func(r rune) bool { return r == ' ' || r == '·' || r == '–' }) {
				if decimals(v) != decimals(parts[0]) {
					t.Errorf("%s %s: %q has %d decimals, the mean %q %d", m, id, v, decimals(v), parts[0], decimals(parts[0]))
				}
			}
		}
		t.Logf("%s: test %s", m, cell)
	}
	shots["sharingeval-tied-en-desktop.png"] = shoot(t, tab, w)

	// The Chinese page, from the cache too.
	openEval(t, tab, url, "zh")
	if o := textOf(t, tab, w+` [data-testid="set-size"]`); !strings.Contains(o, "小（最快）") || strings.Contains(o, "small") {
		t.Errorf("zh budget choices %q", o)
	}
	do(t, tab, "zh: run", chromedp.Click(chromedp.CSS(w+` [data-testid="run"]`)), stepIs(w, 1, 5*time.Second))
	if s := textOf(t, tab, w+` [data-testid="status"]`); !strings.Contains(s, "缓存") {
		t.Errorf("zh status %q lacks 缓存", s)
	}
	if c := textOf(t, tab, w+` [data-testid="results"] caption`); !strings.Contains(c, "种子") {
		t.Errorf("zh caption %q", c)
	}
	for id, want := range map[string]string{"run-note": "已回答", "gap-head": "差距（训练 − 测试，百分点）", "front-note": "◆ 帕累托前沿"} {
		if s := textOf(t, tab, w+` [data-testid="`+id+`"]`); !strings.Contains(s, want) {
			t.Errorf("zh %s %q lacks %q", id, s, want)
		}
	}
	shots["sharingeval-zh-desktop.png"] = shoot(t, tab, w)
	desktop = phoneViewport(t, tab)
	pageFits(t, tab, w)
	shots["sharingeval-zh-phone.png"] = shoot(t, tab, w)
	desktop()
	saveScreenshots(t, shots)
}
