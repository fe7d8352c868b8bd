package e2e

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

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
	{"a-character-model", "w1", "w1.cell=lstm&w1.temperature=1.3", map[string]string{"cell": "lstm"},
		`r.querySelector('[data-testid="cell"]').value + "," + r.querySelector('[data-testid="slider-temperature"]').value`, "lstm,1.3",
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
