package e2e

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/paramshare/paramshare/lessons"
	"github.com/paramshare/paramshare/web"
)

// The widgets' settings live in the page's address (app.js and ui.js's
// "Settings in the page's address"): w1.stride=2 opens widget w1 with
// stride 2. These tests open lessons with such links and check the
// widgets' controls, the server's runs (the parameters its frames carry,
// and the engine's numbers), the address as settings change, and what a
// bad link gets.

// trackURLRuns is run in every new document before the page's scripts:
// it records, per widget, the server's last frame (window.__urlFrames[id]
// = {static, data}, static the last one sent), the parameters its frames
// carry (static.params or data.params: the run's own, __urlParams), every
// error message (__urlErrors) and every start the page sends
// (__urlStarts).
const trackURLRuns = `(() => {
	const Native = window.WebSocket;
	window.__urlParams = {};
	window.__urlFrames = {};
	window.__urlErrors = [];
	window.__urlStarts = [];
	window.WebSocket = class extends Native {
		send(data) {
			try {
				const m = JSON.parse(data);
				if (m.type === "start") window.__urlStarts.push(m);
			} catch {}
			return super.send(data);
		}
		constructor(...args) {
			super(...args);
			this.addEventListener("message", (ev) => {
				try {
					const m = JSON.parse(ev.data);
					if (m.type === "frame") {
						const f = window.__urlFrames[m.widget] ?? {};
						window.__urlFrames[m.widget] = { static: m.static ?? f.static, data: m.data };
						const p = m.static?.params ?? m.data?.params;
						if (p) window.__urlParams[m.widget] = { ...window.__urlParams[m.widget], ...p };
					} else if (m.type === "error") window.__urlErrors.push(m);
				} catch {}
			});
		}
	};
})();`

// urlSession is browserSession with trackURLRuns installed.
func urlSession(t *testing.T, timeout time.Duration) (string, context.Context) {
	t.Helper()
	base, ctx := browserSession(t, timeout)
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: trackURLRuns}); err != nil {
		t.Fatalf("install the run tracker: %v", err)
	}
	return base, ctx
}

// runHas waits until the server's frames for widget id carry field = value
// (compared as text).
func runHas(id, field, value string, timeout time.Duration) chromedp.Action[chromedp.Void] {
	return pollJS(fmt.Sprintf(`String(window.__urlParams[%q][%q]) === %q`, id, field, value), timeout)
}

// addressHas reports the page's query setting key (or "" and false).
func addressHas(t *testing.T, ctx context.Context, key string) (string, bool) {
	t.Helper()
	q, err := url.ParseQuery(strings.TrimPrefix(evalJS[string](t, ctx, `location.search`), "?"))
	if err != nil {
		t.Fatalf("the address's query: %v", err)
	}
	v, ok := q[key]
	if !ok {
		return "", false
	}
	return v[0], true
}

// settingCase is one widget opened with one link: query holds its
// settings; want, the parameters the server's run must have (in its
// frames' params; where a frame carries a setting elsewhere, run is a page
// expression over the last frame f = {static, data} that must give ran);
// control, a page expression (r is the widget's root) giving what the
// widget's controls for the settings show, and shown, what they must show.
type settingCase struct {
	slug, id, query string
	want            map[string]string
	control, shown  string
	run, ran        string
}

// settingCases covers every lesson widget: a setting the lesson does not
// use, where possible a value that no select offers by default.
var settingCases = []settingCase{
	{"share-across-layers", "w1", "w1.d=16&w1.blocks=3", map[string]string{"d": "16", "blocks": "3"},
		`r.querySelector('[data-testid="set-d"]').value + "," + r.querySelector('[data-testid="set-blocks"]').value`, "16,3", "", ""},
	{"watch-attention-learn", "w1", "w1.heads=2&w1.positions=learned", map[string]string{"heads": "2", "positions": "learned"},
		`r.querySelector('[data-testid="set-heads"]').value + "," + r.querySelector('[data-testid="set-positions"]').value`, "2,learned", "", ""},
	{"attention-shares-its-projections", "w1", "w1.param=w_v&w1.dModel=6", map[string]string{"param": "w_v", "dModel": "6"},
		`r.querySelector('[data-testid="param-select"]').value + "," + r.querySelector('[data-testid="dModel-input"]').value`, "w_v,6", "", ""},
	{"backprop-through-time", "w1", "w1.T=12&w1.optimizer=sgd", map[string]string{"T": "12", "optimizer": "sgd"},
		`r.querySelector('[data-testid="T-input"]').value + "," + r.querySelector('[data-testid="optimizer-select"]').value`, "12,sgd", "", ""},
	{"a-character-model", "w1", "w1.cell=lstm&w1.temperature=1.3&w1.measure=hgrad", map[string]string{"cell": "lstm"},
		`r.querySelector('[data-testid="cell"]').value + "," + r.querySelector('[data-testid="slider-temperature"]').value + "," + r.querySelector('[data-testid="measure"]').value`, "lstm,1.3,hgrad",
		`f.data.sample.temperature`, "1.3"},
	{"vanishing-and-exploding", "w2", "w2.clip=off&w2.w0=5.5", map[string]string{"clip": "off", "w0": "5.5"},
		`r.querySelector('[data-testid="field-clip"]').value + "," + r.querySelector('[data-testid="field-w0"]').value`, "off,5.5", "", ""},
	{"train-a-cnn-live", "w1", "w1.batch=48&w1.optimizer=sgd", map[string]string{"batch": "48", "optimizer": "sgd"},
		`r.querySelector('[data-testid="set-batch"]').value + "," + r.querySelector('[data-testid="set-optimizer"]').value`, "48,sgd", "", ""},
	{"how-a-shared-kernel-learns", "w1", "w1.kernel=blur&w1.digit=7", map[string]string{"kernel": "blur", "digit": "7"},
		`r.querySelector('[data-testid="kernel-select"]').value + "," + r.querySelector('[data-testid="digit-input"]').value`, "blur,7", "", ""},
	{"one-kernel-many-places", "w1", "w1.stride=2&w1.preset=blur", map[string]string{"stride": "2", "preset": "blur"},
		`[...r.querySelectorAll(".cs-settings select")].map((s) => s.value).slice(0, 2).join(",")`, "blur,2", "", ""},
	{"draw-a-digit", "w1", "w1.shift=3&w1.center=false", nil,
		`r.querySelector('[data-testid="shift"]').value + "," + r.querySelector('[data-testid="center"]').checked`, "3,false",
		`f.data.shift + "," + f.data.center`, "3,false"},
	{"gates-help", "w1", "w1.hidden=24&w1.task=remember-first", map[string]string{"hidden": "24", "task": "remember-first"},
		`r.querySelector('[data-testid="set-hidden"]').value + "," + r.querySelector('[data-testid="set-task"]').value`, "24,remember-first", "", ""},
	{"vanishing-and-exploding", "w1", "w1.act=relu&w1.lr=0.07&w1.hidden=12", map[string]string{"act": "relu", "lr": "0.07", "hidden": "12"},
		`r.querySelector('[data-testid="act"]').value + "," + r.querySelector('[data-testid="lr"]').value + "," + r.querySelector('[data-testid="hidden"]').value`, "relu,0.07,12", "", ""},
	{"twins-and-tasks", "w2", "w2.lr=0.01&w2.batch=8", map[string]string{"lr": "0.01", "batch": "8"},
		`r.querySelector('[data-testid="set-lr"]').value + "," + r.querySelector('[data-testid="set-batch"]').value`, "0.01,8", "", ""},
	{"why-share", "w1", "w1.kernel=5&w1.inChannels=3", map[string]string{"kernel": "5", "inChannels": "3"},
		`r.querySelector('[data-testid="value-kernel"]').textContent + "," + r.querySelector('[data-testid="value-inChannels"]').textContent`, "5×5,3", "", ""},
	{"one-cell-many-time-steps", "w1", "w1.word=cell&w1.T=7", map[string]string{"word": "cell"},
		`r.querySelector('[data-testid="word"]').value + "," + r.querySelector('[data-testid="slider-T"]').value`, "cell,7",
		`f.data.counts.T`, "7"},
	{"twins-and-tasks", "w1", "w1.batch=8&w1.seed=5", map[string]string{"batch": "8", "seed": "5"},
		`r.querySelector('[data-testid="set-batch"]').value + "," + r.querySelector('[data-testid="set-seed"]').value`, "8,5", "", ""},
	{"count-a-real-model", "w1", "w1.preset=gpt2&w1.tie=false", map[string]string{"preset": "gpt2", "tie": "false"},
		`r.querySelector('[data-testid="set-preset"]').value + "," + r.querySelector('[data-testid="set-tie"]').checked`, "gpt2,false", "", ""},
	{"does-sharing-help", "w1", "w1.comparison=tied-untied&w1.seeds=2", nil,
		`r.querySelector('[data-testid="set-comparison"]').value + "," + r.querySelector('[data-testid="set-seeds"]').value`, "tied-untied,2",
		`f.static.config.comparison + "," + f.static.config.seeds`, "tied-untied,2"},
	{"tied-embeddings", "w1", "w1.d=24", map[string]string{"d": "24"},
		`r.querySelector('[data-testid="set-d"]').value`, "24", "", ""},
}

// TestBrowserURLSettingsEveryWidget opens every lesson widget with a link
// carrying two settings the lesson does not use, and checks that the
// server's run has them, that the widget's controls show them, and that
// the address keeps them.
func TestBrowserURLSettingsEveryWidget(t *testing.T) {
	base, ctx := urlSession(t, 400*time.Second)
	seen := map[string]bool{}
	for _, c := range settingCases {
		seen[c.slug+"#"+c.id] = true
		t.Run(c.slug+"/"+c.id, func(t *testing.T) {
			sel := "#" + c.id
			do(t, ctx, "open "+c.slug+"?"+c.query,
				chromedp.Navigate(base+"/en/lessons/"+c.slug+"?"+c.query),
				connected(sel, 20*time.Second),
			)
			for field, value := range c.want {
				do(t, ctx, fmt.Sprintf("the run has %s = %s", field, value), runHas(c.id, field, value, 30*time.Second))
			}
			if c.run != "" {
				do(t, ctx, "the run has "+c.ran, pollJS(fmt.Sprintf(`(() => { const f = window.__urlFrames[%q]; return String(%s); })() === %q`, c.id, c.run, c.ran), 30*time.Second))
			}
			expr := `(() => { const r = document.querySelector("` + sel + `"); return ` + c.control + `; })()`
			do(t, ctx, "the controls show the link's settings", pollJS(expr+` === `+fmt.Sprintf("%q", c.shown), 10*time.Second))
			if u := attrOf(t, ctx, sel, "data-url-settings"); u != "applied" {
				t.Errorf("data-url-settings = %q, want applied", u)
			}
			q, err := url.ParseQuery(c.query)
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(600 * time.Millisecond) // past the address's quiet spell
			for key, v := range q {
				if got, ok := addressHas(t, ctx, key); !ok || got != v[0] {
					t.Errorf("address %s: %s = %q (present %v), want %q", evalJS[string](t, ctx, `location.search`), key, got, ok, v[0])
				}
			}
			if n := evalJS[int](t, ctx, `document.querySelectorAll('[data-testid="url-settings-note"]').length`); n != 0 {
				t.Errorf("%d notes about the address's settings; want none: %s", n, textOf(t, ctx, `[data-testid="url-settings-note"]`))
			}
		})
	}
	// A lesson opened plainly keeps a bare address: no widget writes a
	// setting it was not given (a value the server fills in, a view the
	// widget derives).
	plain := map[string]bool{}
	for _, c := range settingCases {
		if plain[c.slug] {
			continue
		}
		plain[c.slug] = true
		do(t, ctx, "open "+c.slug+" plainly",
			chromedp.Navigate(base+"/en/lessons/"+c.slug),
			connected("#"+c.id, 20*time.Second),
			pollJS(`document.querySelectorAll("[data-widget]").length === Object.keys(window.__urlFrames).length`, 30*time.Second),
			chromedp.Sleep(700*time.Millisecond),
		)
		if q := evalJS[string](t, ctx, `location.search`); q != "" {
			t.Errorf("%s opened plainly: the address became %q", c.slug, q)
		}
	}
	// Every widget of every lesson is covered.
	set, err := lessons.Loader{ValidateWidget: web.ValidateWidget}.Load(lessons.Embedded)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range set.Lessons("en") {
		for _, w := range l.Widgets {
			if !seen[l.Slug+"#"+w.ID] {
				t.Errorf("lesson %s widget %s (%s) has no case here", l.Slug, w.ID, w.Name)
			}
		}
	}
}

// TestBrowserURLSettings checks the address's settings end to end:
//
//   - a link with settings for both widgets of "Vanishing and exploding"
//     starts each with its own (controls and the server's runs), and a
//     setting changed in one widget follows into the address (the other's
//     kept, no new history entry), and goes again once set back to the
//     lesson's value;
//   - conv-slide opened with stride 2, padding 0 and the blur kernel shows
//     the engine's Forward at those settings, cell by cell;
//   - a bad link (unknown key, value out of range, wrong type, a widget the
//     lesson does not have) gets a note in the page's language naming the
//     problem, the lesson's own run, an address without the bad settings,
//     and exactly one more start (no loop); in English and in Chinese, with
//     screenshots at desktop and phone width.
func TestBrowserURLSettings(t *testing.T) {
	base, ctx := urlSession(t, 300*time.Second)

	// Two widgets, each with its own settings.
	do(t, ctx, "open vanishing-and-exploding with settings for w1 and w2",
		chromedp.Navigate(base+"/en/lessons/vanishing-and-exploding?w1.act=relu&w1.T=12&w2.clip=off&w2.threshold=2.5"),
		connected("#w1", 20*time.Second), connected("#w2", 20*time.Second),
		runHas("w1", "act", "relu", 20*time.Second), runHas("w1", "T", "12", 5*time.Second),
		runHas("w2", "clip", "off", 20*time.Second), runHas("w2", "threshold", "2.5", 5*time.Second),
		runHas("w2", "w0", "6", 5*time.Second), // the lesson's, untouched
		pollJS(`document.querySelector('#w1 [data-testid="act"]').value === "relu"`, 5*time.Second),
		pollJS(`document.querySelector('#w1 [data-testid="value-T"]').textContent === "12"`, 5*time.Second),
		pollJS(`document.querySelector('#w2 [data-testid="field-clip"]').value === "off"`, 5*time.Second),
		pollJS(`document.querySelector('#w2 [data-testid="field-threshold"]').value === "2.5"`, 5*time.Second),
	)
	history := evalJS[int](t, ctx, `history.length`)
	// Change w2's w0 as a reader does (a typed value, then change).
	evalJS[bool](t, ctx, `(() => { const i = document.querySelector('#w2 [data-testid="field-w0"]'); i.value = "4"; i.dispatchEvent(new Event("change")); return true; })()`)
	do(t, ctx, "w2's new setting reaches the run and the address",
		runHas("w2", "w0", "4", 10*time.Second),
		pollJS(`new URLSearchParams(location.search).get("w2.w0") === "4"`, 5*time.Second),
	)
	if got := evalJS[string](t, ctx, `location.search`); got != "?w1.act=relu&w1.T=12&w2.w0=4&w2.clip=off&w2.threshold=2.5" {
		t.Errorf("address %q, want both widgets' settings, in the page's and the fields' order", got)
	}
	if n := evalJS[int](t, ctx, `history.length`); n != history {
		t.Errorf("history has %d entries after a change of setting, had %d: a setting must not add one", n, history)
	}
	// w1's act back to the lesson's tanh: the key leaves the address.
	evalJS[bool](t, ctx, `(() => { const s = document.querySelector('#w1 [data-testid="act"]'); s.value = "tanh"; s.dispatchEvent(new Event("change")); return true; })()`)
	do(t, ctx, "w1.act leaves the address",
		runHas("w1", "act", "tanh", 10*time.Second),
		pollJS(`location.search === "?w1.T=12&w2.w0=4&w2.clip=off&w2.threshold=2.5"`, 5*time.Second),
	)
	// A slider dragged through 20 values: the run follows it, the address
	// is written once, at the end (replaceState counted in the page).
	evalJS[bool](t, ctx, `(() => {
		window.__urlReplaces = 0;
		const replace = history.replaceState.bind(history);
		history.replaceState = (...a) => { window.__urlReplaces++; return replace(...a); };
		return true;
	})()`)
	evalJSAsync[bool](t, ctx, `(async () => {
		const s = document.querySelector('#w1 [data-testid="slider-T"]');
		for (let v = 13; v <= 32; v++) {
			s.value = String(v);
			s.dispatchEvent(new Event("input"));
			await new Promise((r) => setTimeout(r, 30));
		}
		s.dispatchEvent(new Event("change"));
		return true;
	})()`)
	do(t, ctx, "the drag's end reaches the run and the address",
		runHas("w1", "T", "32", 10*time.Second),
		pollJS(`new URLSearchParams(location.search).get("w1.T") === "32"`, 5*time.Second),
		chromedp.Sleep(800*time.Millisecond),
	)
	if n := evalJS[int](t, ctx, `window.__urlReplaces`); n < 1 || n > 2 {
		t.Errorf("a 20-value drag wrote the address %d times; want once (twice at most, if a frame came after a quiet spell)", n)
	} else {
		t.Logf("a 20-value slider drag (30 ms apart) wrote the address %d time(s)", n)
	}
	if n := evalJS[int](t, ctx, `history.length`); n != history {
		t.Errorf("history has %d entries after the drag, had %d", n, history)
	}
	evalJSAsync[bool](t, ctx, `(async () => {
		const s = document.querySelector('#w1 [data-testid="slider-T"]');
		s.value = "12";
		s.dispatchEvent(new Event("input"));
		s.dispatchEvent(new Event("change"));
		return true;
	})()`)
	do(t, ctx, "T back to 12", runHas("w1", "T", "12", 10*time.Second),
		pollJS(`new URLSearchParams(location.search).get("w1.T") === "12"`, 5*time.Second))

	// The copy-link button gives the address with the widget's fragment.
	do(t, ctx, "copy a link to w2", chromedp.Click(chromedp.CSS(`#w2 + .widget-share [data-testid="copy-link"]`)),
		pollJS(`document.querySelector('#w2 + .widget-share').dataset.url === location.origin + location.pathname + "?w1.T=12&w2.w0=4&w2.clip=off&w2.threshold=2.5#w2"`, 5*time.Second),
		pollJS(`document.querySelector('#w2 + .widget-share .widget-share-status').textContent.length > 0`, 5*time.Second),
	)

	// The language switch takes the settings along.
	do(t, ctx, "switch to Chinese",
		chromedp.Click(chromedp.CSS(`[data-testid="lang-switch"] a`)),
		chromedp.Sleep(1500*time.Millisecond), // the redirect and the new page
		pollJS(`document.documentElement.lang.startsWith("zh")`, 10*time.Second),
		connected("#w2", 20*time.Second),
		runHas("w1", "T", "12", 20*time.Second), runHas("w2", "w0", "4", 20*time.Second), runHas("w2", "clip", "off", 5*time.Second),
		pollJS(`location.pathname === "/zh/lessons/vanishing-and-exploding" && location.search === "?w1.T=12&w2.w0=4&w2.clip=off&w2.threshold=2.5"`, 5*time.Second),
	)
	do(t, ctx, "back to English", chromedp.Click(chromedp.CSS(`[data-testid="lang-switch"] a`)),
		chromedp.Sleep(1500*time.Millisecond),
		pollJS(`document.documentElement.lang === "en"`, 10*time.Second), connected("#w2", 20*time.Second))

	// conv-slide at the link's settings against the engine.
	p := slideParams{Digit: 0, Preset: "blur", Stride: 2, Padding: 0, Dilation: 1}
	do(t, ctx, "open conv-slide with stride 2, padding 0, blur",
		chromedp.Navigate(base+"/en/lessons/one-kernel-many-places?w1.stride=2&w1.padding=0&w1.preset=blur"),
		connected(slideWidget, 20*time.Second),
		runHas("w1", "stride", "2", 20*time.Second), runHas("w1", "padding", "0", 5*time.Second), runHas("w1", "preset", "blur", 5*time.Second),
	)
	y := forward(t, p)
	if n := len(y.Data); n != 13*13 {
		t.Fatalf("Forward at stride 2, padding 0 gives %d cells, want 169", n)
	}
	if s := textOf(t, ctx, slideWidget+` [data-testid="progress"]`); !strings.HasSuffix(s, "169 cells") {
		t.Errorf("progress line %q: the page's map is not 13×13", s)
	}
	focusWidget(t, ctx, slideWidget)
	for k := 1; k <= 3; k++ {
		do(t, ctx, "→", chromedp.KeyEvent(kb.ArrowRight))
		checkSlideCell(t, ctx, y, k)
	}
	// The whole map: play to the end and compare every cell of the last
	// frame (4 decimals) with Forward.
	topSpeed(t, ctx, slideWidget)
	do(t, ctx, "play to the end", chromedp.Click(chromedp.CSS(slideWidget+` [data-testid="play"]`)),
		stepIs(slideWidget, 169, 30*time.Second), stateIs(slideWidget, "done", 10*time.Second))
	got := evalJS[[]float64](t, ctx, `window.__urlFrames.w1.data.map`)
	if len(got) != len(y.Data) {
		t.Fatalf("the page's last frame has %d cells, Forward %d", len(got), len(y.Data))
	}
	inked := 0
	for i, v := range y.Data {
		if math.Abs(got[i]-v) > 0.5e-4+1e-12 {
			t.Fatalf("cell %d: page %g, engine Forward %g", i, got[i], v)
		}
		if math.Abs(v) > 1e-3 {
			inked++
		}
	}
	if inked < 20 {
		t.Fatalf("only %d cells of Forward are not ~0: nothing to compare", inked)
	}
	t.Logf("conv-slide at stride 2, padding 0, blur: all 169 cells match Forward (%d not ~0)", inked)

	// A Chinese page takes the same link.
	do(t, ctx, "open the zh conv-slide with stride 3",
		chromedp.Navigate(base+"/zh/lessons/one-kernel-many-places?w1.stride=3&w1.dilation=2"),
		connected(slideWidget, 20*time.Second),
		runHas("w1", "stride", "3", 20*time.Second), runHas("w1", "dilation", "2", 5*time.Second),
		pollJS(`[...document.querySelectorAll("#w1 .cs-settings select")].map((s) => s.value).slice(1, 4).join() === "3,1,2"`, 5*time.Second),
	)

	// Bad links, in both languages.
	// starts is what the page sends for w1: the link's (refused by the
	// server) and the lesson's, or only the lesson's when ui.js refuses
	// an unknown key itself.
	bad := []struct {
		lang, query, want string
		starts            int
		shots             bool
	}{
		{"en", "w1.stride=9", `parameter "stride" must be a whole number from 1 to 3; got 9`, 2, true},
		{"en", "w1.strid=2", `unknown setting "strid" (this widget has digit, preset, stride, padding, dilation)`, 1, false},
		{"en", "w1.stride=two", `parameter "stride" must be a whole number from 1 to 3; got "two"`, 2, false},
		{"zh", "w1.stride=two", `参数 "stride" 必须是 1 到 3 之间的整数；收到的是 "two"`, 2, true},
		{"zh", "w1.dilaton=2", `没有名为 "dilaton" 的设置（此组件的设置有 digit、preset、stride、padding、dilation）`, 1, false},
	}
	for _, b := range bad {
		do(t, ctx, "open conv-slide with "+b.query+" ("+b.lang+")",
			chromedp.Navigate(base+"/"+b.lang+"/lessons/one-kernel-many-places?"+b.query+"&w7.k=1&other=kept"),
			pollJS(`document.querySelectorAll('[data-testid="url-settings-note"]').length === 2`, 20*time.Second),
			connected(slideWidget, 20*time.Second),
			runHas("w1", "stride", "1", 20*time.Second), runHas("w1", "preset", "vertical-edge", 5*time.Second),
		)
		notes := evalJS[[]string](t, ctx, `[...document.querySelectorAll('[data-testid="url-settings-note"] p')].map((p) => p.textContent)`)
		want := []string{"The link has settings for a widget “w7” that this lesson does not have; they were ignored.", "The link’s settings for this widget could not be used ("}
		if b.lang == "zh" {
			want = []string{"链接中有本课没有的组件“w7”的设置，已忽略。", "链接中此组件的设置无法使用（"}
		}
		if len(notes) != 2 || notes[0] != want[0] || !strings.HasPrefix(notes[1], want[1]) || !strings.Contains(notes[1], b.want) {
			t.Errorf("%s %s: notes %q; want %q and one starting %q naming %q", b.lang, b.query, notes, want[0], want[1], b.want)
		}
		t.Logf("%s ?%s: %s", b.lang, b.query, notes[1])
		time.Sleep(1500 * time.Millisecond) // a loop would have started again by now
		if n := evalJS[int](t, ctx, `window.__urlStarts.filter((m) => m.widget === "w1").length`); n != b.starts {
			t.Errorf("%s %s: the page sent %d starts for w1, want %d", b.lang, b.query, n, b.starts)
		}
		if got := evalJS[string](t, ctx, `location.search`); got != "?other=kept" {
			t.Errorf("%s %s: address %q after the refusal; want only the key that is not a setting", b.lang, b.query, got)
		}
		if errs := evalJS[string](t, ctx, `[...document.querySelectorAll('#w1 [data-testid="widget-error"]')].filter((e) => !e.hidden).map((e) => e.textContent).join(" | ")`); errs != "" {
			t.Errorf("%s %s: the widget shows an error %q; the note says it all", b.lang, b.query, errs)
		}
		stride := evalJS[string](t, ctx, `[...document.querySelectorAll("#w1 .cs-settings select")][1].value`)
		if stride != "1" {
			t.Errorf("%s %s: stride control shows %q, want the lesson's 1", b.lang, b.query, stride)
		}
		if b.shots {
			urlShots(t, ctx, b.lang)
		}
		// The note can be dismissed.
		do(t, ctx, "dismiss the notes",
			chromedp.Click(chromedp.CSS(`[data-testid="url-settings-note"] button`)),
			chromedp.Click(chromedp.CSS(`[data-testid="url-settings-note"] button`)),
			pollJS(`document.querySelectorAll('[data-testid="url-settings-note"]').length === 0`, 5*time.Second),
		)
	}
	checkDrawDigitUnknown(t, ctx, base)
	checkViewSetting(t, ctx, base)
}

// checkViewSetting: char-model's measure is a setting of the widget's view,
// not of its run; it follows into the address the same way, and a bad
// value gets the same note.
func checkViewSetting(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	sel := `#w1 [data-testid="measure"]`
	do(t, ctx, "open a-character-model plainly",
		chromedp.Navigate(base+"/en/lessons/a-character-model"),
		connected("#w1", 20*time.Second), pollJS(`window.__urlFrames.w1`, 20*time.Second),
	)
	evalJS[bool](t, ctx, `(() => { const s = document.querySelector('`+sel+`'); s.value = "hgrad"; s.dispatchEvent(new Event("change")); return true; })()`)
	do(t, ctx, "measure=hgrad reaches the address", pollJS(`location.search === "?w1.measure=hgrad"`, 5*time.Second))
	evalJS[bool](t, ctx, `(() => { const s = document.querySelector('`+sel+`'); s.value = "pieces"; s.dispatchEvent(new Event("change")); return true; })()`)
	do(t, ctx, "measure=pieces (the widget's own) leaves it", pollJS(`location.search === ""`, 5*time.Second))
	do(t, ctx, "open a-character-model with measure=foo",
		chromedp.Navigate(base+"/en/lessons/a-character-model?w1.measure=foo&w1.cell=rnn"),
		pollJS(`document.querySelectorAll('[data-testid="url-settings-note"]').length === 1`, 20*time.Second),
		connected("#w1", 20*time.Second),
		runHas("w1", "cell", "gru", 20*time.Second),
		pollJS(`document.querySelector('`+sel+`').value === "pieces"`, 5*time.Second),
	)
	if note := textOf(t, ctx, `[data-testid="url-settings-note"] p`); !strings.Contains(note, `setting "measure" must be one of pieces, hgrad; got "foo"`) {
		t.Errorf("char-model: note %q", note)
	}
	if q := evalJS[string](t, ctx, `location.search`); q != "" {
		t.Errorf("char-model: address %q after the refusal", q)
	}
}

// checkDrawDigitUnknown: a widget that sends only the fields it knows
// (draw-digit) still says that a key of the link names none.
func checkDrawDigitUnknown(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	do(t, ctx, "open draw-a-digit with an unknown key",
		chromedp.Navigate(base+"/en/lessons/draw-a-digit?w1.shiftt=2"),
		pollJS(`document.querySelectorAll('[data-testid="url-settings-note"]').length === 1`, 20*time.Second),
		connected("#w1", 20*time.Second),
		pollJS(`window.__urlFrames.w1.data.shift === 0`, 20*time.Second),
	)
	if note := textOf(t, ctx, `[data-testid="url-settings-note"] p`); !strings.Contains(note, `unknown setting "shiftt" (this widget has pixels, digit, center, shift)`) {
		t.Errorf("draw-digit: note %q", note)
	}
	if q := evalJS[string](t, ctx, `location.search`); q != "" {
		t.Errorf("draw-digit: address %q after the refusal", q)
	}
}

// urlShots saves the page with the notes at the top of the screen, at
// desktop and phone width, as url-bad-LANG-{desktop,phone}.png.
func urlShots(t *testing.T, ctx context.Context, lang string) {
	t.Helper()
	top := `window.scrollTo(0, document.querySelector('[data-testid="url-settings-note"]').getBoundingClientRect().top + scrollY - 16)`
	shot := func() []byte {
		evalJS[any](t, ctx, top)
		time.Sleep(300 * time.Millisecond)
		b, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		return b
	}
	shots := map[string][]byte{"url-bad-" + lang + "-desktop.png": shot()}
	desktop := phoneViewport(t, ctx)
	pageFits(t, ctx, slideWidget)
	shots["url-bad-"+lang+"-phone.png"] = shot()
	desktop()
	saveScreenshots(t, shots)
}

// TestBrowserURLSettingsMountFails: a widget that throws while mounting
// with the link's settings (here conv-slide, served wrapped so that it
// throws for stride 2: no shipped widget does, which is the point of the
// fallback) is mounted again with the lesson's settings, with a note, and
// works.
func TestBrowserURLSettingsMountFails(t *testing.T) {
	base, ctx := urlSession(t, 90*time.Second)
	const wrapper = `import real from "/static/widgets/conv-slide.js?real";
export default function mount(root, params, o) {
  if (params.stride === 2) throw new Error("e2e: this conv-slide refuses stride 2");
  return real(root, params, o);
}`
	paused := chromedp.Events(ctx, fetch.RequestPaused)
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*/static/widgets/conv-slide.js*"}}}); err != nil {
		t.Fatalf("intercept conv-slide.js: %v", err)
	}
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			if strings.HasSuffix(ev.Request.URL, "?real") {
				chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
				continue
			}
			chromedp.Call(ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{RequestID: ev.RequestID, ResponseCode: 200,
				ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "text/javascript; charset=utf-8"}}, Body: []byte(wrapper)})
		}
	}()
	do(t, ctx, "open conv-slide with stride 2 (the wrapped widget throws)",
		chromedp.Navigate(base+"/zh/lessons/one-kernel-many-places?w1.stride=2"),
		pollJS(`document.querySelectorAll('[data-testid="url-settings-note"]').length === 1`, 20*time.Second),
		connected(slideWidget, 20*time.Second),
		runHas("w1", "stride", "1", 20*time.Second),
		pollJS(`document.querySelector('#w1').dataset.mount === "ready"`, 5*time.Second),
	)
	if note := textOf(t, ctx, `[data-testid="url-settings-note"] p`); note != "此组件无法按链接中的设置启动，因此显示本课自己的设置。" {
		t.Errorf("note %q", note)
	}
	if q := evalJS[string](t, ctx, `location.search`); q != "" {
		t.Errorf("address %q after the fallback", q)
	}
	if n := evalJS[int](t, ctx, `window.__urlStarts.filter((m) => m.widget === "w1").length`); n != 1 {
		t.Errorf("%d starts for w1; want 1 (the lesson's)", n)
	}
	do(t, ctx, "the widget works: a step", chromedp.Click(chromedp.CSS(slideWidget+` [data-testid="step"]`)), stepIs(slideWidget, 1, 10*time.Second))
}
