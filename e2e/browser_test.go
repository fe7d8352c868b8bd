package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	_ "github.com/paramshare/paramshare/experiments/all"
	"github.com/paramshare/paramshare/lessons"
	"github.com/paramshare/paramshare/web"
)

// The browser tests share one set of helpers, kept here: requireBrowser
// finds Chromium (or skips), startSite serves every lesson on an httptest
// server whose Live can be restarted, newBrowser opens a headless Chromium,
// browserSession does all three; pollJS and evalJS wait for and read the
// page, setSlider drags a range input, focusWidget puts the keyboard in a
// widget, and saveScreenshots / screenshots write PNGs for a reader to look
// at.

// findChromium returns a Chromium-family browser, or "" when none is found.
func findChromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// requireBrowser returns the Chromium to run, or skips the test: always
// under -short (CI's race pass: Chromium under the race detector is slow
// and flaky), even when PARAMSHARE_REQUIRE_BROWSER=1; otherwise a missing
// Chromium skips the test, or fails it when PARAMSHARE_REQUIRE_BROWSER=1.
func requireBrowser(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		if os.Getenv("PARAMSHARE_REQUIRE_BROWSER") == "1" {
			t.Skip("browser test skipped under -short, although PARAMSHARE_REQUIRE_BROWSER=1: the -short (race) pass never runs Chromium; run without -short to execute it")
		}
		t.Skip("browser test skipped under -short")
	}
	chrome := findChromium()
	if chrome == "" {
		if os.Getenv("PARAMSHARE_REQUIRE_BROWSER") == "1" {
			t.Fatal("no Chromium found (looked for chromium, chromium-browser, google-chrome) and PARAMSHARE_REQUIRE_BROWSER=1")
		}
		t.Skip("no Chromium found (looked for chromium, chromium-browser, google-chrome); set PARAMSHARE_REQUIRE_BROWSER=1 to make this a failure")
	}
	return chrome
}

// site is the whole course on an httptest server, as cmd/web serves it:
// every lesson (widget parameters checked at load), every experiment, one
// Live. restartLive replaces the Live as a restarted server would.
type site struct {
	URL  string
	set  *lessons.Set
	opts web.LiveOptions

	mu      sync.Mutex
	live    *web.Live
	handler atomic.Pointer[http.Handler]
}

// startSite serves the course with a Live made with opts until the test
// ends.
func startSite(t *testing.T, opts web.LiveOptions) *site {
	t.Helper()
	set, err := lessons.Loader{ValidateWidget: web.ValidateWidget}.Load(lessons.Embedded)
	if err != nil {
		t.Fatal(err)
	}
	s := &site{set: set, opts: opts}
	s.serve(web.NewLive(opts, nil))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*s.handler.Load()).ServeHTTP(w, r)
	}))
	s.URL = srv.URL
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.mu.Lock()
		live := s.live
		s.mu.Unlock()
		live.Shutdown(ctx)
		srv.Close()
	})
	return s
}

// serve makes live the one that new requests reach.
func (s *site) serve(live *web.Live) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.live = live
	h := web.NewServer(nil, s.set, live)
	s.handler.Store(&h)
}

// restartLive puts a new Live in place and shuts the old one down: its
// sockets are closed with 1001 (going away), as when the server restarts,
// and the pages' next connections reach the new one.
func (s *site) restartLive(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	old := s.live
	s.mu.Unlock()
	s.serve(web.NewLive(s.opts, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := old.Shutdown(ctx); err != nil {
		t.Fatalf("shut the old Live down: %v", err)
	}
}

// newBrowser starts a headless Chromium (1280×1000) and returns a browser
// context (its first tab) that expires after timeout; it is closed when
// the test ends. The page's uncaught exceptions fail the test; its console
// errors are logged.
func newBrowser(t *testing.T, chrome string, timeout time.Duration) context.Context {
	t.Helper()
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
	ctx, cancelC := context.WithTimeout(ctx, timeout)
	// Cleanups run last-in first-out: this one runs before the server's.
	t.Cleanup(func() { cancelC(); cancelB(); cancelA() })
	watchConsole(t, ctx, "")
	return ctx
}

// newTab opens another tab of the browser of ctx, closed when the test
// ends; name labels its console messages.
func newTab(t *testing.T, ctx context.Context, name string) context.Context {
	t.Helper()
	tab, cancel := chromedp.NewContext(ctx)
	t.Cleanup(func() { cancel() })
	watchConsole(t, tab, name)
	return tab
}

// watchConsole collects the console of the tab of ctx: when the test ends,
// errors are logged and uncaught exceptions fail it (a widget that threw
// has stopped drawing, whatever its last frame shows).
func watchConsole(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	var mu sync.Mutex
	var errs, exceptions []string
	msgs := chromedp.Console(ctx) // subscribes now, before the first navigation
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Type != chromedp.ConsoleError && !m.IsException() {
				continue
			}
			line := m.String()
			if m.URL != "" {
				line += fmt.Sprintf(" (%s:%d)", m.URL, m.Line+1)
			}
			mu.Lock()
			if m.IsException() {
				exceptions = append(exceptions, line)
			} else {
				errs = append(errs, line)
			}
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		prefix := "page console"
		if name != "" {
			prefix += " (" + name + ")"
		}
		for _, e := range errs {
			t.Logf("%s: %s", prefix, e)
		}
		for _, e := range exceptions {
			t.Errorf("%s: uncaught %s", prefix, e)
		}
	})
}

// browserSession starts the course with the default limits and a headless
// Chromium on it (or skips, see requireBrowser), and returns the server's
// URL and a browser context that expires after timeout.
func browserSession(t *testing.T, timeout time.Duration) (string, context.Context) {
	t.Helper()
	chrome := requireBrowser(t)
	s := startSite(t, web.LiveOptions{})
	return s.URL, newBrowser(t, chrome, timeout)
}

// pollJS waits until the page expression expr is true, for at most
// timeout. An expression that throws (an element not made yet) counts as
// false; on timeout the error says what expr last gave.
func pollJS(expr string, timeout time.Duration) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		safe := `(() => { try { return !!(` + expr + `); } catch { return false; } })()`
		_, err := chromedp.Poll[bool](safe, chromedp.WithPollingTimeout(timeout))(ctx, t)
		if err != nil {
			last, lerr := chromedp.Evaluate[any](`(() => { try { return (`+expr+`); } catch (e) { return "throws " + e; } })()`)(ctx, t)
			return fmt.Errorf("%w: %s is %v (%v)", err, expr, last, lerr)
		}
		return nil
	})
}

// evalJS runs expr in the page and returns its value; an error fails the test.
func evalJS[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// do runs the actions; an error fails the test with what it was doing.
func do(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("browser: %s: %v", what, err)
	}
}

// textOf returns the rendered text of the element selector finds.
func textOf(t *testing.T, ctx context.Context, selector string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(selector)))
	if err != nil {
		t.Fatalf("text of %s: %v", selector, err)
	}
	return s
}

// attrOf returns attribute name of the element selector finds; a missing
// element or attribute fails the test.
func attrOf(t *testing.T, ctx context.Context, selector, name string) string {
	t.Helper()
	r, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(selector), name))
	if err != nil || !r.Exists {
		t.Fatalf("%s %s: %v (exists %v)", selector, name, err, r.Exists)
	}
	return r.Value
}

// widgetIs waits until the widget's root attribute data-NAME is value.
func widgetIs(widget, name, value string, timeout time.Duration) chromedp.Action[chromedp.Void] {
	return pollJS(fmt.Sprintf(`document.querySelector(%q).dataset[%q] === %q`, widget, name, value), timeout)
}

// stepIs waits until the widget shows step n.
func stepIs(widget string, n int, timeout time.Duration) chromedp.Action[chromedp.Void] {
	return widgetIs(widget, "step", strconv.Itoa(n), timeout)
}

// stateIs waits until the widget's run is in state s.
func stateIs(widget, s string, timeout time.Duration) chromedp.Action[chromedp.Void] {
	return widgetIs(widget, "state", s, timeout)
}

// connected waits until the widget's connection is open (the server's
// hello has come and its controls are built).
func connected(widget string, timeout time.Duration) chromedp.Action[chromedp.Void] {
	return widgetIs(widget, "connection", "open", timeout)
}

// setSlider moves a range input as a user's drag ends: value, then input
// and change events.
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

// topSpeed drags the speed slider of widget to its top and waits for the
// widget to have sent it (the slider sends after 150 ms at most), so that a
// run takes seconds, not minutes.
func topSpeed(t *testing.T, ctx context.Context, widget string) {
	t.Helper()
	evalJS[bool](t, ctx, fmt.Sprintf(`(() => {
		const s = document.querySelector(%q);
		s.value = s.max;
		s.dispatchEvent(new Event("input", {bubbles: true}));
		return true;
	})()`, widget+` .live-speed input`))
	do(t, ctx, "speed", chromedp.Sleep(300*time.Millisecond))
}

// focusWidget puts the keyboard focus on the widget's card, as a click on
// it does: keys act only while focus is inside a widget.
func focusWidget(t *testing.T, ctx context.Context, widget string) {
	t.Helper()
	ok := evalJS[bool](t, ctx, fmt.Sprintf(`(() => {
		const w = document.querySelector(%q);
		w.focus({preventScroll: true});
		return document.activeElement === w;
	})()`, widget))
	if !ok {
		t.Fatalf("%s does not take the focus", widget)
	}
}

// blurAll takes the focus out of every widget (to the page's body).
func blurAll(t *testing.T, ctx context.Context) {
	t.Helper()
	evalJS[bool](t, ctx, `(() => { document.activeElement?.blur(); return document.activeElement === document.body; })()`)
}

// waitCells waits until the cells selector finds carry, in data-value, the
// numbers want (each within tol): widgets record a frame's step when it
// arrives but draw it at the next animation frame, so a test must wait for
// what it reads, not for the step counter. It fails the test after timeout,
// naming the first cell that differs.
func waitCells(t *testing.T, ctx context.Context, selector string, want []float64, tol float64, timeout time.Duration) {
	t.Helper()
	w, _ := json.Marshal(want)
	read := fmt.Sprintf(`[...document.querySelectorAll(%q)].map(c => Number(c.dataset.value ?? "NaN"))`, selector)
	match := fmt.Sprintf(`(() => { const want = %s, got = %s; return got.length === want.length && got.every((g, i) => Math.abs(g - want[i]) <= %g); })()`, w, read, tol)
	if err := chromedp.Do(ctx, pollJS(match, timeout)); err != nil {
		got := evalJS[[]float64](t, ctx, `(`+read+`).map(v => Number.isFinite(v) ? v : -1e300)`)
		if len(got) != len(want) {
			t.Fatalf("%s: %d cells on the page, want %d (%v)", selector, len(got), len(want), err)
		}
		for i := range want {
			if math.Abs(got[i]-want[i]) > tol {
				t.Fatalf("%s: cell %d shows %g, want %g (waited %v: %v)", selector, i, got[i], want[i], timeout, err)
			}
		}
		t.Fatalf("%s: cells never matched: %v", selector, err)
	}
}

// pageFits reports an error when the page or the widget is wider than the
// viewport (a phone must not scroll sideways; wide tables scroll inside
// their own boxes).
func pageFits(t *testing.T, ctx context.Context, widget string) {
	t.Helper()
	var m struct {
		Page, View, Widget, WidgetBox int
	}
	raw := evalJS[string](t, ctx, fmt.Sprintf(`(() => {
		const w = document.querySelector(%q);
		return JSON.stringify({Page: document.documentElement.scrollWidth, View: window.innerWidth, Widget: w.scrollWidth, WidgetBox: w.clientWidth});
	})()`, widget))
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatal(err)
	}
	if m.Page > m.View+1 || m.Widget > m.WidgetBox+1 {
		t.Errorf("%s: the layout overflows sideways: page %d px in a %d px viewport, widget content %d px in %d px", widget, m.Page, m.View, m.Widget, m.WidgetBox)
	}
}

// screenshotDir is where browser tests save screenshots: the directory
// PARAMSHARE_SCREENSHOT_DIR names (made if missing), or else the test's own
// temporary directory (so that parallel or repeated runs never overwrite
// each other).
func screenshotDir(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("PARAMSHARE_SCREENSHOT_DIR"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

// saveScreenshots writes each named PNG into screenshotDir and logs its path.
func saveScreenshots(t *testing.T, shots map[string][]byte) {
	t.Helper()
	dir := screenshotDir(t)
	for name, b := range shots {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}
}

// shoot takes a screenshot of the element selector finds, or of the whole
// page when selector is "".
func shoot(t *testing.T, ctx context.Context, selector string) []byte {
	t.Helper()
	var b []byte
	var err error
	if selector == "" {
		b, err = chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100 gives a PNG
	} else {
		b, err = chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(selector)))
	}
	if err != nil {
		t.Fatalf("screenshot %q: %v", selector, err)
	}
	return b
}

// phoneViewport emulates a 390×844 phone (scale 2, touch) until the
// returned function puts the 1280×1000 desktop back.
func phoneViewport(t *testing.T, ctx context.Context) (desktop func()) {
	t.Helper()
	do(t, ctx, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch), chromedp.Sleep(400*time.Millisecond))
	return func() {
		t.Helper()
		do(t, ctx, "desktop viewport", chromedp.EmulateReset(), chromedp.EmulateViewport(1280, 1000), chromedp.Sleep(200*time.Millisecond))
	}
}

// screenshots saves the page and the widget at desktop and phone width as
// paramshare-NAME-{page,widget}-{desktop,phone}.png, and checks that the
// phone layout does not overflow sideways.
func screenshots(t *testing.T, ctx context.Context, name, widget string) {
	t.Helper()
	shots := map[string][]byte{
		"paramshare-" + name + "-page-desktop.png":   shoot(t, ctx, ""),
		"paramshare-" + name + "-widget-desktop.png": shoot(t, ctx, widget),
	}
	desktop := phoneViewport(t, ctx)
	pageFits(t, ctx, widget)
	shots["paramshare-"+name+"-page-phone.png"] = shoot(t, ctx, "")
	shots["paramshare-"+name+"-widget-phone.png"] = shoot(t, ctx, widget)
	desktop()
	saveScreenshots(t, shots)
}

// settledStep returns the step a paused widget shows once it has stopped
// changing: the frame of a step taken as the pause arrived may still come
// after the paused state, and an export fetched for the step read before
// it would be one step behind the link.
func settledStep(t *testing.T, ctx context.Context, widget string) int {
	t.Helper()
	read := func() int { return evalJS[int](t, ctx, `Number(document.querySelector('`+widget+`').dataset.step)`) }
	last, same := read(), 0
	for deadline := time.Now().Add(10 * time.Second); same < 3; {
		if time.Now().After(deadline) {
			t.Fatalf("%s: the step kept changing after the pause (last %d)", widget, last)
		}
		time.Sleep(200 * time.Millisecond)
		if k := read(); k == last {
			same++
		} else {
			last, same = k, 0
		}
	}
	return last
}
