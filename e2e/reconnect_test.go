package e2e

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/gorilla/websocket"

	"github.com/paramshare/paramshare/web"
)

// trackSockets is run in every new document before the page's scripts: it
// keeps each WebSocket the page opens in window.__e2eSockets, each with
// the steps of the frames it received (e2eSteps), so that a test can close
// the page's socket as a network failure would and see what the new one
// brought; and it records each change of a widget's data-connection in
// window.__e2eConnections ("widget-id:state"), so that a test sees the
// states a page went through, however briefly.
const trackSockets = `(() => {
	const Native = window.WebSocket;
	const sockets = [];
	window.__e2eSockets = sockets;
	window.WebSocket = class extends Native {
		send(data) {
			this.e2eLog?.push("→ " + String(data).slice(0, 160));
			return super.send(data);
		}
		constructor(...args) {
			super(...args);
			this.e2eSteps = [];
			this.e2eLog = [];
			this.addEventListener("message", (ev) => {
				try {
					const m = JSON.parse(ev.data);
					if (m.type === "frame") this.e2eSteps.push(m.step);
					else if (m.type !== "hello") this.e2eLog.push("← " + ev.data.slice(0, 160));
				} catch {}
			});
			sockets.push(this);
		}
	};
	const seen = [];
	window.__e2eConnections = seen;
	new MutationObserver((records) => {
		for (const r of records) seen.push((r.target.id || r.target.dataset.widget) + ":" + r.target.dataset.connection);
	}).observe(document, {subtree: true, attributes: true, attributeFilter: ["data-connection"]});
})();`

// TestBrowserReconnect checks that a page that loses its connection comes
// back to the step it showed, as ui.js promises for every widget. First
// the page's own socket is closed (as a network failure would): the
// conv-slide widget, stepped to cell 12 with →, says it is reconnecting,
// reconnects, and shows cell 12 again with the engine's value; a playing
// run keeps playing after a second failure. Then the server's Live is
// restarted (every socket closed with 1001, as a restarted server does):
// the conv-grad widget, sought to position 100, says the server is going
// away, reconnects to the new Live and shows position 100 again with the
// engine's running sum.
func TestBrowserReconnect(t *testing.T) {
	chrome := requireBrowser(t)
	s := startSite(t, web.LiveOptions{})
	ctx := newBrowser(t, chrome, 150*time.Second)
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: trackSockets}); err != nil {
		t.Fatalf("install the socket tracker: %v", err)
	}
	widget := slideWidget
	openSlide(t, ctx, s.URL)
	if n := evalJS[int](t, ctx, `window.__e2eSockets.length`); n != 1 {
		t.Fatalf("the page opened %d sockets, want 1 (is the tracker installed?)", n)
	}
	// Into the digit: play fast to the middle rows, pause, then → to a
	// cell where the engine's value is not 0 (a restored page showing
	// zeros would prove little).
	topSpeed(t, ctx, widget)
	focusWidget(t, ctx, widget)
	do(t, ctx, "play to the middle of the map",
		chromedp.KeyEvent(" "),
		pollJS(`Number(document.querySelector('`+widget+`').dataset.step) >= 350`, 30*time.Second),
		chromedp.KeyEvent(" "),
		stateIs(widget, "paused", 10*time.Second),
	)
	k := evalJS[int](t, ctx, `Number(document.querySelector('`+widget+`').dataset.step)`)
	y := forward(t, lessonSlide)
	for tries := 0; y.Data[k-1] == 0; tries++ {
		if tries == 30 || k == len(y.Data) {
			t.Fatalf("no cell with a value after step %d", k)
		}
		k++
		do(t, ctx, "→", chromedp.KeyEvent(kb.ArrowRight), stepIs(widget, k, 10*time.Second))
	}
	want := checkSlideCell(t, ctx, y, k)

	// The page's socket breaks (a client-side close, as a dropped network
	// gives): the widget says so, reconnects, starts its run again and
	// seeks back to the cell it showed.
	evalJS[bool](t, ctx, `(() => { window.__e2eConnections.length = 0; window.__e2eSockets.at(-1).close(4000, "e2e: network lost"); return true; })()`)
	// The new socket must bring a frame of step k: the server's new run is
	// back there (the page's own attributes could still be the old ones).
	do(t, ctx, "reconnect after the socket broke",
		pollJS(fmt.Sprintf(`window.__e2eSockets.length === 2 && window.__e2eSockets[1].e2eSteps.includes(%d)`, k), 10*time.Second),
		connected(widget, 10*time.Second),
		stepIs(widget, k, 10*time.Second),
		stateIs(widget, "paused", 10*time.Second),
	)
	states := evalJS[[]string](t, ctx, `window.__e2eConnections.filter((s) => s.endsWith(":reconnecting") || s.endsWith(":open"))`)
	if len(states) < 2 || !strings.HasSuffix(states[0], ":reconnecting") || !strings.HasSuffix(states[len(states)-1], ":open") {
		t.Errorf("the widget's connection went through %v; want reconnecting, then open", states)
	}
	if got := checkSlideCell(t, ctx, y, k); got != want {
		t.Fatalf("after reconnecting the page shows %g at step %d, before %g", got, k, want)
	}
	t.Logf("socket closed at step %d: the widget went %v; the new socket brought frames of steps %v; it shows step %d again", k, states,
		evalJS[[]int](t, ctx, `window.__e2eSockets[1].e2eSteps`), k)
	// The new run answers: → takes the next step from there.
	focusWidget(t, ctx, widget)
	do(t, ctx, "→ after reconnecting", chromedp.KeyEvent(kb.ArrowRight), stepIs(widget, k+1, 10*time.Second))
	checkSlideCell(t, ctx, y, k+1)

	// A playing run plays on after a reconnection (at about 10 steps a
	// second, far from the end).
	setSlider(t, ctx, widget+` .live-speed input`, 60)
	focusWidget(t, ctx, widget)
	do(t, ctx, "play", chromedp.KeyEvent(" "), stateIs(widget, "running", 10*time.Second),
		pollJS(`Number(document.querySelector('`+widget+`').dataset.step) >= `+fmt.Sprint(k+4), 10*time.Second))
	at := evalJS[int](t, ctx, `(() => { const s = window.__e2eSockets.at(-1); s.close(4000, "e2e: network lost"); return s.e2eSteps.at(-1); })()`)
	// Generous waits: under CI's load (every package testing at once) a
	// reconnection and its replay take seconds.
	if err := chromedp.Do(ctx,
		pollJS(`window.__e2eSockets.length === 3 && window.__e2eSockets[2].e2eSteps.length > 0`, 20*time.Second),
		connected(widget, 20*time.Second),
		stateIs(widget, "running", 20*time.Second),
	); err != nil {
		t.Fatalf("browser: reconnect while playing at step %d: %v; the widget is %q; the new socket said %q and brought steps %v", at, err,
			evalJS[string](t, ctx, `document.querySelector('`+widget+`').dataset.state`),
			evalJS[[]string](t, ctx, `window.__e2eSockets.at(-1).e2eLog`),
			evalJS[[]int](t, ctx, `window.__e2eSockets.at(-1).e2eSteps`))
	}
	resumed := fmt.Sprintf(`window.__e2eSockets[2].e2eSteps.some((s) => s >= %d)`, at+3)
	if err := chromedp.Do(ctx, pollJS(resumed, 10*time.Second)); err != nil {
		steps := evalJS[[]int](t, ctx, `window.__e2eSockets[2].e2eSteps`)
		log := evalJS[[]string](t, ctx, `window.__e2eSockets[2].e2eLog`)
		if slices.Max(steps) < at && evalJS[string](t, ctx, `document.querySelector('`+widget+`').dataset.state`) == "running" {
			// The page sent start, speed, seek to the step and play; the
			// server's Play interrupts the seek's work (run.Run.Play on a
			// Working run), so the run plays on from where the seek had
			// got to: step 0 or 1.
			t.Errorf("a page playing at step %d when its socket broke plays on from step %d after reconnecting, not from %d: play interrupted the seek (sent %q)", at, steps[0], at, log)
		} else {
			t.Fatalf("closed while playing at step %d: the new socket brought steps %v, never past %d (%v); it said %q", at, steps, at+2, err, log)
		}
	} else {
		t.Logf("closed while playing at step %d: the new socket brought steps %v", at, evalJS[[]int](t, ctx, `window.__e2eSockets[2].e2eSteps.slice(0, 12)`))
	}
	do(t, ctx, "pause", chromedp.Click(chromedp.CSS(widget+` [data-testid="play"]`)), stateIs(widget, "paused", 10*time.Second))

	// The server restarts: a new Live takes the requests and the old one
	// closes every socket with 1001. conv-grad, at position 100, comes back
	// there on the new server.
	widget = gradWidget
	do(t, ctx, "open how-a-shared-kernel-learns",
		chromedp.Navigate(s.URL+"/en/lessons/how-a-shared-kernel-learns"),
		chromedp.WaitVisible(chromedp.CSS(widget+` [data-testid="seek"]`)),
		connected(widget, 20*time.Second),
		pollJS(`document.querySelector('`+widget+` [data-testid="header"]').textContent.length > 0`, 20*time.Second),
	)
	setSlider(t, ctx, widget+` [data-testid="seek"]`, 100)
	do(t, ctx, "seek to 100", stepIs(widget, 100, 10*time.Second))
	g := convGrad(t, 0, "vertical-edge", 1)
	waitCells(t, ctx, widget+` [data-testid="sum-grid"] .cg-cell`, g.sum(100), 1e-12, 10*time.Second)
	evalJS[bool](t, ctx, `(() => { window.__e2eConnections.length = 0; return true; })()`)
	s.restartLive(t)
	do(t, ctx, "the page hears the server go away", pollJS(`window.__e2eConnections.some((s) => s.endsWith(":going-away"))`, 10*time.Second))
	going := textOf(t, ctx, widget+` [data-testid="connection-status"]`)
	do(t, ctx, "reconnect to the restarted server",
		pollJS(`window.__e2eSockets.length === 2 && window.__e2eSockets[1].e2eSteps.includes(100)`, 15*time.Second),
		connected(widget, 15*time.Second),
		stepIs(widget, 100, 10*time.Second),
		stateIs(widget, "paused", 10*time.Second),
	)
	waitCells(t, ctx, widget+` [data-testid="sum-grid"] .cg-cell`, g.sum(100), 1e-12, 10*time.Second)
	if !strings.Contains(going, "The server is shutting down or restarting") {
		t.Errorf("while the server restarted the widget said %q", going)
	}
	t.Logf("server restarted at position 100: the widget said %q, went %v and shows position 100 with the engine's Σ again",
		going, evalJS[[]string](t, ctx, `window.__e2eConnections`))
}

// TestBrowserSessionCap runs a server that admits one lesson page per
// address and opens two: the second is turned away, and its widget shows
// the server's reason (in the page's language) with the time of the next
// try, not "reconnecting"; the first page keeps working.
func TestBrowserSessionCap(t *testing.T) {
	chrome := requireBrowser(t)
	s := startSite(t, web.LiveOptions{MaxSessionsPerIP: 1})
	first := newBrowser(t, chrome, 90*time.Second)
	do(t, first, "open the first page",
		chromedp.Navigate(s.URL+"/en/lessons/why-share"),
		connected(`[data-widget="param-calc"]`, 20*time.Second),
		pollJS(`document.querySelector('[data-widget="param-calc"] [data-testid="params-conv"]').dataset.value === "10"`, 20*time.Second),
	)
	for _, c := range []struct {
		lang, limit string
		not         []string
	}{
		{"en", "at most 1", []string{"reconnecting", "Connection lost"}},
		{"zh", "最多 1 个", []string{"正在重新连接", "连接已断开"}},
	} {
		t.Run(c.lang, func(t *testing.T) {
			// What the server says to a page turned away, in the page's
			// language: asked here over a socket of our own (from the same
			// address, so also over the cap).
			want := refusal(t, s.URL, c.lang)
			if !strings.Contains(want, c.limit) {
				t.Errorf("the server's refusal %q does not give the cap (%q)", want, c.limit)
			}
			second := newTab(t, first, "second page "+c.lang)
			widget := slideWidget
			do(t, second, "open a second page",
				chromedp.Navigate(s.URL+"/"+c.lang+"/lessons/one-kernel-many-places"),
				chromedp.WaitVisible(chromedp.CSS(widget+` [data-testid="connection-status"]`)),
				widgetIs(widget, "connection", "refused", 20*time.Second),
				pollJS(`document.querySelector('`+widget+` [data-testid="connection-status"]').textContent.length > 0`, 5*time.Second),
			)
			status := textOf(t, second, widget+` [data-testid="connection-status"]`)
			if !strings.Contains(status, want) {
				t.Errorf("the refused page says %q; want the server's reason %q", status, want)
			}
			for _, s := range c.not {
				if strings.Contains(status, s) {
					t.Errorf("the refused page says %q, which contains %q", status, s)
				}
			}
			if c.lang == "en" && !strings.Contains(status, "Next try in") {
				t.Errorf("the refused page says %q: it does not say when it tries again", status)
			}
			if c.lang == "zh" && !strings.Contains(status, "秒后再试") {
				t.Errorf("the refused page says %q: it does not say when it tries again", status)
			}
			if n := evalJS[int](t, second, `document.querySelectorAll('`+widget+` [data-testid="play"]').length`); n != 0 {
				t.Errorf("the refused page built %d play buttons before any hello", n)
			}
			t.Logf("refused page (%s): %q", c.lang, status)
			saveScreenshots(t, map[string][]byte{"paramshare-refused-" + c.lang + "-widget-desktop.png": shoot(t, second, widget)})
		})
	}
	// The admitted page still answers (in front again: a background tab
	// draws nothing).
	if _, err := chromedp.Call(first, page.BringToFront, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	calcSlider(t, first, `[data-widget="param-calc"]`, "size", 20)
	do(t, first, "the first page still works", widgetIs(`[data-widget="param-calc"]`, "size", "20", 10*time.Second))
}

// refusal opens a socket of its own on the server at url, in language
// lang, and returns the message of the session-level too-many-sessions
// error the server sends before it closes with 1013 (try again later).
func refusal(t *testing.T, url, lang string) string {
	t.Helper()
	h := http.Header{"Origin": {url}}
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(url, "http")+"/ws?lang="+lang, h)
	if err != nil {
		t.Fatalf("dial the server: %v", err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var m struct {
		Type, Code, Message, Widget string
	}
	if err := conn.ReadJSON(&m); err != nil {
		t.Fatalf("read the server's first message: %v", err)
	}
	if m.Type != "error" || m.Code != "too-many-sessions" || m.Widget != "" || m.Message == "" {
		t.Fatalf("over the cap the server said %+v; want a session-level too-many-sessions error with a message", m)
	}
	_, _, err = conn.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseTryAgainLater {
		t.Errorf("after the refusal the server closed with %v; want 1013", err)
	}
	return m.Message
}
