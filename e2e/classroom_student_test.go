package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"

	"github.com/paramshare/paramshare/class"
	"github.com/paramshare/paramshare/web"
)

// studentClassSite serves the course with a classroom (a store in the test's
// temporary directory).
func studentClassSite(t *testing.T) *site {
	t.Helper()
	return studentClassSiteWith(t, web.ClassOptions{})
}

// studentClassSiteWith is studentClassSite with the room caps of opts.
func studentClassSiteWith(t *testing.T, opts web.ClassOptions) *site {
	t.Helper()
	store, err := class.Open(filepath.Join(t.TempDir(), "class.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	opts.Store = store
	return startSite(t, web.LiveOptions{Class: opts})
}

// studentPost posts body to url and decodes the answer into out; a status
// other than want fails the test.
func studentPost(t *testing.T, url string, body any, want int, out any) {
	t.Helper()
	b, _ := json.Marshal(body)
	res, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != want {
		t.Fatalf("POST %s: %d, want %d", url, res.StatusCode, want)
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}

// studentRoom opens a room and seats nick in it: the code, the teacher's
// secret and the seat's localStorage value.
func studentRoom(t *testing.T, base, nick string) (code, secret, seat string) {
	t.Helper()
	var room struct{ Code, Secret string }
	studentPost(t, base+"/class/rooms?lang=en", nil, http.StatusCreated, &room)
	return room.Code, room.Secret, studentSeat(t, base, room.Code, nick)
}

// studentSeat seats nick in room code: the seat's localStorage value.
func studentSeat(t *testing.T, base, code, nick string) string {
	t.Helper()
	var s struct{ Room, Seat, Nick, ID string }
	studentPost(t, base+"/class/join?lang=en", map[string]string{"code": code, "nick": nick}, http.StatusOK, &s)
	v, _ := json.Marshal(map[string]string{"room": code, "seat": s.Seat, "nick": s.Nick})
	return string(v)
}

// wsTeacher is a lesson page of a class (the teacher's, or a student's),
// played by the test over a plain websocket: it starts runs, steps them
// and sends room commands.
type wsTeacher struct {
	t    *testing.T
	conn *websocket.Conn
	mu   sync.Mutex
	log  []map[string]any // every message but frames and hello
	wmu  sync.Mutex
}

func dialWSTeacher(t *testing.T, base, code, secret, lesson string) *wsTeacher {
	t.Helper()
	return dialWSPage(t, base, code, map[string]any{"type": "teach", "room": code, "secret": secret, "lesson": lesson})
}

// dialWSPage opens a page of room code that sits down with first (seat or
// teach) and waits for the room's answer.
func dialWSPage(t *testing.T, base, code string, first map[string]any) *wsTeacher {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/ws?lang=en&room="+code, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := &wsTeacher{t: t, conn: conn}
	t.Cleanup(func() { conn.Close() })
	var hello map[string]any
	if err := conn.ReadJSON(&hello); err != nil || hello["type"] != "hello" {
		t.Fatalf("teacher: first message %v (%v)", hello, err)
	}
	go func() {
		for {
			var m map[string]any
			if err := conn.ReadJSON(&m); err != nil {
				return
			}
			if m["type"] == "frame" {
				continue
			}
			ts.mu.Lock()
			ts.log = append(ts.log, m)
			ts.mu.Unlock()
		}
	}()
	ts.send(first)
	ts.wait("the room", func(m map[string]any) bool { return m["type"] == "room" })
	return ts
}

func (ts *wsTeacher) send(m map[string]any) {
	ts.t.Helper()
	m["v"] = 1
	ts.wmu.Lock()
	defer ts.wmu.Unlock()
	if err := ts.conn.WriteJSON(m); err != nil {
		ts.t.Fatalf("teacher: send %v: %v", m, err)
	}
}

// cmd sends a room command and waits for the room message that follows.
func (ts *wsTeacher) cmd(m map[string]any) {
	ts.t.Helper()
	ts.mu.Lock()
	from := len(ts.log)
	ts.mu.Unlock()
	m["type"] = "room-cmd"
	ts.send(m)
	ts.waitFrom(from, fmt.Sprintf("the room after %v", m["cmd"]), func(m map[string]any) bool { return m["type"] == "room" })
}

// wait waits for a message that ok accepts, among all received.
func (ts *wsTeacher) wait(what string, ok func(map[string]any) bool) {
	ts.t.Helper()
	ts.waitFrom(0, what, ok)
}

func (ts *wsTeacher) waitFrom(from int, what string, ok func(map[string]any) bool) {
	ts.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		ts.mu.Lock()
		for _, m := range ts.log[from:] {
			if m["type"] == "error" {
				ts.mu.Unlock()
				ts.t.Fatalf("teacher: error %v", m)
			}
			if ok(m) {
				ts.mu.Unlock()
				return
			}
		}
		ts.mu.Unlock()
	}
	ts.t.Fatalf("teacher: no %s within 20 s", what)
}

// wsPausedAt accepts the state of widget paused at step.
func wsPausedAt(widget string, step int) func(map[string]any) bool {
	return func(m map[string]any) bool {
		return m["type"] == "state" && m["widget"] == widget && m["state"] == "paused" && m["step"] == float64(step)
	}
}

const studentSlide = `#w1`

// pressKey presses the button selector finds from the keyboard (focus, then
// Enter), as a keyboard user does; a pointer click could miss a button
// while a reloaded page is still restoring its scroll position.
func pressKey(selector string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		ok, err := chromedp.Evaluate[bool](fmt.Sprintf(`(() => { const b = document.querySelector(%q); b.focus(); return document.activeElement === b; })()`, selector))(ctx, t)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%s does not take the focus", selector)
		}
		_, err = chromedp.KeyEvent("\r")(ctx, t)
		return err
	})
}

// studentShot is a screenshot of the viewport scrolled to the top (the class
// bar) or, with selector, of that element.
func studentShot(t *testing.T, ctx context.Context, selector string) []byte {
	t.Helper()
	if selector != "" {
		return shoot(t, ctx, selector)
	}
	evalJS[bool](t, ctx, `(window.scrollTo({top: 0, behavior: "instant"}), true)`)
	b, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBrowserStudentInClass is a student's page in a class, against the
// real server: the class bar; the conv-slide widget waiting for the
// teacher, then following the teacher's run (greyed-out controls, a
// set-params refused as following); Fork (an own run with the teacher's
// parameters at the teacher's step, written to the address, kept forked
// over a reload that takes the parked run back); Back to the teacher; the
// pause overlay (focus inside, the rest inert, then given back); free mode
// (an own run, no navigation); a pushed lesson (the page goes there); a
// restarted server (the bar says reconnecting, the seat is sent again);
// and removal (the seat forgotten, the widget on its own run). Screenshots
// at desktop and phone width, in English and Chinese.
func TestBrowserStudentInClass(t *testing.T) {
	chrome := requireBrowser(t)
	s := studentClassSite(t)
	ctx := newBrowser(t, chrome, 240*time.Second)
	code, secret, seat := studentRoom(t, s.URL, "Ada")
	lesson := "one-kernel-many-places"
	shots := map[string][]byte{}
	shotDir := os.Getenv("PARAMSHARE_SCREENSHOT_DIR")

	// The seat as the join page leaves it: the course index says to wait
	// for the teacher's lesson (none sent yet). Then the lesson.
	do(t, ctx, "seat the browser",
		chromedp.Navigate(s.URL+"/en/"),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`localStorage.setItem("paramshare.seat", %q)`, seat)),
		chromedp.Navigate(s.URL+"/en/"),
		pollJS(`document.querySelector('[data-testid="class-mode"]')?.textContent === "Following the teacher"`, 20*time.Second),
		pollJS(`document.querySelector('[data-testid="class-note"]').textContent === "Wait here: your teacher will send a lesson." && !document.querySelector('[data-testid="class-note"]').hidden`, 5*time.Second),
	)
	shots["class-student-wait-lesson-phone.png"] = func() []byte {
		desktop := phoneViewport(t, ctx)
		defer desktop()
		return studentShot(t, ctx, "")
	}()
	do(t, ctx, "the lesson",
		chromedp.Navigate(s.URL+"/en/lessons/"+lesson),
		pollJS(`document.querySelector('[data-testid="class-code"]').textContent === `+fmt.Sprintf("%q", code), 20*time.Second),
		pollJS(`document.querySelector('[data-testid="class-mode"]').textContent === "Following the teacher"`, 20*time.Second),
		widgetIs(studentSlide, "follow", "following", 20*time.Second),
		pollJS(`document.querySelector('#w1 [data-testid="widget-error"]').textContent.includes("Waiting for the teacher")`, 20*time.Second),
		// A lesson page's widgets say what they wait for: no note.
		pollJS(`document.querySelector('[data-testid="class-note"]').hidden`, 5*time.Second),
	)
	if nick := textOf(t, ctx, `[data-testid="class-nick"]`); nick != "Ada" {
		t.Errorf("class bar nickname %q, want Ada", nick)
	}
	// The bar is in the flow at the top of main, not over the content.
	if ok := evalJS[bool](t, ctx, `(() => {
		const bar = document.querySelector('[data-testid="class-bar"]');
		let el = bar.nextElementSibling;
		while (el.hidden) el = el.nextElementSibling; // the note under the bar, when it says nothing
		const next = el.getBoundingClientRect();
		return bar.parentElement.tagName === "MAIN" && bar === bar.parentElement.firstElementChild && bar.getBoundingClientRect().bottom <= next.top;
	})()`); !ok {
		t.Error("the class bar is not the first thing in <main>, above the content")
	}

	// The teacher starts the widget (stride 2) and steps it to 5: the
	// student's widget is bound to that run.
	teacher := dialWSTeacher(t, s.URL, code, secret, lesson)
	teacher.send(map[string]any{"type": "start", "widget": "w1", "experiment": "conv-slide", "params": map[string]any{"stride": 2}})
	teacher.send(map[string]any{"type": "step", "widget": "w1", "n": 5})
	teacher.wait("the teacher's step 5", wsPausedAt("w1", 5))
	do(t, ctx, "follow the teacher's run",
		stepIs(studentSlide, 5, 20*time.Second),
		pollJS(`document.querySelector('#w1 [data-testid="widget-error"]').hidden`, 5*time.Second),
		pollJS(`document.querySelector('#w1 [data-testid="play"]').getAttribute("aria-disabled") === "true"`, 5*time.Second),
		pollJS(`document.querySelector('#w1 [data-testid="fork"]').getAttribute("aria-disabled") === null`, 5*time.Second),
	)
	if q := evalJS[string](t, ctx, `location.search`); q != "" {
		t.Errorf("following wrote the teacher's settings into the address: %q", q)
	}
	// Step does nothing while following; a setting is refused by the server.
	do(t, ctx, "step while following", pressKey(`#w1 [data-testid="step"]`), chromedp.Sleep(500*time.Millisecond))
	if k := attrOf(t, ctx, studentSlide, "data-step"); k != "5" {
		t.Errorf("Step moved a followed run to %s", k)
	}
	evalJS[bool](t, ctx, `(() => { const s = document.querySelector('#w1 .cs-settings select'); s.value = s.options[0].value === s.value ? s.options[1].value : s.options[0].value; s.dispatchEvent(new Event("change")); return true; })()`)
	do(t, ctx, "refused as following", pollJS(`document.querySelector('#w1 [data-testid="widget-error"]').textContent.includes("following the teacher")`, 10*time.Second))
	shots["class-student-following-desktop.png"] = studentShot(t, ctx, "")
	shots["class-student-following-widget-desktop.png"] = studentShot(t, ctx, studentSlide)
	desktop := phoneViewport(t, ctx)
	pageFits(t, ctx, studentSlide)
	shots["class-student-following-phone.png"] = studentShot(t, ctx, "")
	shots["class-student-following-widget-phone.png"] = studentShot(t, ctx, studentSlide)
	desktop()

	// Fork: an own run with stride 2 at step 5, the focus on "Back".
	do(t, ctx, "fork",
		pressKey(`#w1 [data-testid="fork"]`),
		widgetIs(studentSlide, "follow", "forked", 10*time.Second),
		stepIs(studentSlide, 5, 20*time.Second),
		stateIs(studentSlide, "paused", 10*time.Second),
		pollJS(`location.search.includes("w1.stride=2")`, 5*time.Second),
		pollJS(`document.activeElement?.dataset.testid === "back-to-teacher"`, 5*time.Second),
		pollJS(`document.querySelector('#w1 [data-testid="play"]').getAttribute("aria-disabled") === null`, 5*time.Second),
	)
	// conv-slide trains nothing (hello: trains false): no warning that a
	// training setting restarts the run.
	forkLine := `document.querySelector('#w1 [data-testid="follow-line"]').textContent.includes("Your own run, forked from the teacher’s at step 5.") &&
		document.querySelector('#w1 [data-testid="fork-note"]').hidden`
	do(t, ctx, "the fork line", pollJS(forkLine, 5*time.Second))
	do(t, ctx, "step the fork",
		pressKey(`#w1 [data-testid="step"]`),
		stepIs(studentSlide, 6, 10*time.Second),
		stateIs(studentSlide, "paused", 10*time.Second),
	)
	shots["class-student-forked-desktop.png"] = studentShot(t, ctx, studentSlide)
	desktop = phoneViewport(t, ctx)
	shots["class-student-forked-phone.png"] = studentShot(t, ctx, studentSlide)
	desktop()
	// A reload keeps the fork and takes the parked run back at step 6.
	do(t, ctx, "reload the fork",
		chromedp.Reload(),
		widgetIs(studentSlide, "follow", "forked", 20*time.Second),
		stepIs(studentSlide, 6, 20*time.Second),
		pollJS(forkLine, 5*time.Second),
	)
	// Back to the teacher's run at step 5.
	do(t, ctx, "back to the teacher",
		pressKey(`#w1 [data-testid="back-to-teacher"]`),
		widgetIs(studentSlide, "follow", "following", 10*time.Second),
		stepIs(studentSlide, 5, 20*time.Second),
		pollJS(`document.activeElement?.dataset.testid === "fork"`, 5*time.Second),
	)

	// Pause: the overlay with the teacher's words, the focus in it, the
	// page behind inert; resume gives the focus back.
	teacher.cmd(map[string]any{"cmd": "pause-all", "message": "Look at the board <b>now</b>"})
	do(t, ctx, "paused",
		pollJS(`document.querySelector('[data-testid="class-pause-message"]').textContent === "Look at the board <b>now</b>"`, 10*time.Second),
		pollJS(`document.querySelector('[data-testid="class-pause"]').contains(document.activeElement)`, 5*time.Second),
		pollJS(`document.querySelector("main").closest("[inert]") !== null || document.querySelector("main").inert`, 5*time.Second),
	)
	shots["class-student-paused-desktop.png"] = studentShot(t, ctx, "")
	desktop = phoneViewport(t, ctx)
	shots["class-student-paused-phone.png"] = studentShot(t, ctx, "")
	desktop()
	teacher.cmd(map[string]any{"cmd": "resume-all"})
	do(t, ctx, "resumed",
		pollJS(`!document.querySelector('[data-testid="class-pause"]')`, 10*time.Second),
		pollJS(`!document.querySelector("main").closest("[inert]")`, 5*time.Second),
		pollJS(`document.activeElement?.dataset.testid === "fork"`, 5*time.Second),
	)

	// Free: the widget runs its own run, the controls work.
	teacher.cmd(map[string]any{"cmd": "free"})
	do(t, ctx, "free",
		pollJS(`document.querySelector('[data-testid="class-mode"]').textContent === "Free to explore"`, 10*time.Second),
		widgetIs(studentSlide, "follow", "", 10*time.Second),
		stepIs(studentSlide, 0, 20*time.Second),
		pressKey(`#w1 [data-testid="step"]`),
		stepIs(studentSlide, 1, 10*time.Second),
	)
	if !strings.HasSuffix(evalJS[string](t, ctx, `location.pathname`), lesson) {
		t.Error("free mode left the page")
	}

	// A restarted server: the bar says so, and the seat comes back.
	s.restartLive(t)
	do(t, ctx, "reconnect",
		pollJS(`document.querySelector('[data-testid="class-connection"]').hidden === false`, 10*time.Second),
		pollJS(`document.querySelector('[data-testid="class-connection"]').hidden === true`, 20*time.Second),
		pollJS(`document.querySelector('[data-testid="class-mode"]').textContent === "Free to explore"`, 10*time.Second),
		connected(studentSlide, 20*time.Second),
	)
	teacher = dialWSTeacher(t, s.URL, code, secret, lesson)

	// The teacher pushes another lesson: the page goes there.
	teacher.cmd(map[string]any{"cmd": "lesson", "lesson": "how-a-shared-kernel-learns"})
	// The page goes away under the poll: read its address until it is there.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		p, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname`))
		if err == nil && p == "/en/lessons/how-a-shared-kernel-learns" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page did not go to the teacher's lesson: at %q (%v)", p, err)
		}
	}
	do(t, ctx, "at the teacher's lesson",
		chromedp.WaitReady(chromedp.CSS("main")),
		pollJS(`document.querySelector('[data-testid="class-mode"]').textContent === "Following the teacher"`, 20*time.Second),
	)

	// In Chinese.
	do(t, ctx, "zh",
		chromedp.Navigate(s.URL+"/zh/lessons/how-a-shared-kernel-learns"),
		pollJS(`document.querySelector('[data-testid="class-mode"]').textContent === "正在跟随老师"`, 20*time.Second),
		pollJS(`document.querySelector('[data-testid="follow-line"]')?.textContent.includes("正在跟随老师的运行")`, 20*time.Second),
	)
	shots["class-student-following-zh-desktop.png"] = studentShot(t, ctx, "")
	desktop = phoneViewport(t, ctx)
	shots["class-student-following-zh-phone.png"] = studentShot(t, ctx, "")
	desktop()

	// Removed: the seat is forgotten, the page says so, the widgets run
	// on their own.
	teacher.cmd(map[string]any{"cmd": "remove", "seat": "s1"})
	do(t, ctx, "removed",
		pollJS(`document.querySelector('[data-testid="class-notice"]').textContent.includes("移出")`, 10*time.Second),
		pollJS(`localStorage.getItem("paramshare.seat") === null`, 5*time.Second),
		pollJS(`[...document.querySelectorAll("[data-widget]")].every(w => w.dataset.follow === "" && w.dataset.connection === "open")`, 20*time.Second),
	)
	shots["class-student-removed-zh-desktop.png"] = studentShot(t, ctx, "")

	if shotDir != "" {
		saveScreenshots(t, shots)
	}
}

// TestBrowserTeacherLessonBar is the teacher's lesson page: the bar
// names the room with the dashboard and projector links, no overlay when
// the class is paused but a line under the bar that says so (with the way
// to the dashboard), and the teacher's widget runs as usual; deleting the
// room tells this page that the teacher did it, in the first person.
func TestBrowserTeacherLessonBar(t *testing.T) {
	chrome := requireBrowser(t)
	s := studentClassSite(t)
	ctx := newBrowser(t, chrome, 90*time.Second)
	code, secret, _ := studentRoom(t, s.URL, "Ada")
	v, _ := json.Marshal(map[string]string{"room": code, "secret": secret})
	do(t, ctx, "the teacher's lesson page",
		chromedp.Navigate(s.URL+"/en/"),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`localStorage.setItem("paramshare.teacher", %q)`, string(v))),
		chromedp.Navigate(s.URL+"/en/lessons/one-kernel-many-places"),
		pollJS(`document.querySelector('[data-testid="class-bar"]').textContent.includes("Teaching `+code+`")`, 20*time.Second),
		pollJS(`document.querySelector('[data-testid="class-projector"]').getAttribute("href") === "/en/class/`+code+`/show"`, 5*time.Second),
		connected(studentSlide, 20*time.Second),
		widgetIs(studentSlide, "follow", "", 5*time.Second),
		pressKey(`#w1 [data-testid="step"]`),
		stepIs(studentSlide, 1, 10*time.Second),
	)
	// A pause from another teacher page (the dashboard) leaves this one be.
	dash := dialWSTeacher(t, s.URL, code, secret, "")
	dash.cmd(map[string]any{"cmd": "pause-all", "message": "hands up"})
	time.Sleep(500 * time.Millisecond)
	if evalJS[bool](t, ctx, `!!document.querySelector('[data-testid="class-pause"]')`) {
		t.Error("the teacher's page got the pause overlay")
	}
	do(t, ctx, "the paused note",
		pollJS(`!document.querySelector('[data-testid="class-note"]').hidden && document.querySelector('[data-testid="class-note"]').textContent === "The class is paused — Resume on the dashboard"`, 10*time.Second),
		pollJS(`document.querySelector('[data-testid="class-resume"]').getAttribute("href") === "/en/class/teach"`, 5*time.Second),
	)
	shots := map[string][]byte{"class-teacher-bar-desktop.png": studentShot(t, ctx, "")}
	desktop := phoneViewport(t, ctx)
	shots["class-teacher-bar-phone.png"] = studentShot(t, ctx, "")
	desktop()
	dash.cmd(map[string]any{"cmd": "resume-all"})
	do(t, ctx, "resumed", pollJS(`document.querySelector('[data-testid="class-note"]').hidden`, 10*time.Second))
	dash.send(map[string]any{"type": "room-cmd", "cmd": "delete"})
	do(t, ctx, "deleted",
		pollJS(`document.querySelector('[data-testid="class-notice"]')?.textContent.includes("You ended class `+code+` and deleted its data.")`, 10*time.Second),
		pollJS(`!document.querySelector('[data-testid="class-notice"]').textContent.includes("The teacher")`, time.Second),
		pollJS(`localStorage.getItem("paramshare.teacher") === null`, 5*time.Second),
	)
	if os.Getenv("PARAMSHARE_SCREENSHOT_DIR") != "" {
		saveScreenshots(t, shots)
	}
}

// TestBrowserStudentLeavesClass is Leave on a student's page: after the
// confirmation the seat is forgotten, the bar says so, and the widget,
// which waited for the teacher, runs on its own.
func TestBrowserStudentLeavesClass(t *testing.T) {
	chrome := requireBrowser(t)
	s := studentClassSite(t)
	ctx := newBrowser(t, chrome, 60*time.Second)
	_, _, seat := studentRoom(t, s.URL, "Grace")
	do(t, ctx, "a seated page",
		chromedp.Navigate(s.URL+"/zh/"),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`localStorage.setItem("paramshare.seat", %q)`, seat)),
		chromedp.Navigate(s.URL+"/zh/lessons/one-kernel-many-places"),
		widgetIs(studentSlide, "follow", "following", 20*time.Second),
		pollJS(`document.querySelector('#w1 [data-testid="widget-error"]').textContent === "等待老师启动此组件。"`, 10*time.Second),
		// The confirmation says what leaving does; the reader agrees.
		chromedp.Evaluate[chromedp.Void](`window.confirm = (q) => { window.__asked = q; return true; }`),
		pressKey(`[data-testid="class-leave"]`),
		pollJS(`document.querySelector('[data-testid="class-notice"]').textContent.includes("此浏览器已离开该课堂")`, 5*time.Second),
		pollJS(`localStorage.getItem("paramshare.seat") === null`, 5*time.Second),
		widgetIs(studentSlide, "follow", "", 10*time.Second),
		connected(studentSlide, 10*time.Second),
		pressKey(`#w1 [data-testid="step"]`),
		stepIs(studentSlide, 1, 10*time.Second),
	)
	if q := evalJS[string](t, ctx, `window.__asked`); !strings.Contains(q, "离开课堂") {
		t.Errorf("Leave asked %q", q)
	}
	if evalJS[bool](t, ctx, `!!document.querySelector('#w1 [data-testid="follow-line"]:not([hidden])')`) {
		t.Error("the widget still says it follows the teacher")
	}
}

// TestBrowserStudentQueued is a student's training play waiting for its
// turn: with one training run allowed per room, another student's run
// plays, and this page's Play is queued — the working line says the place
// (en, then zh), the play button pauses; Pause leaves the line; when the
// other run pauses, the queued play starts.
func TestBrowserStudentQueued(t *testing.T) {
	chrome := requireBrowser(t)
	s := studentClassSiteWith(t, web.ClassOptions{RoomTraining: 1})
	ctx := newBrowser(t, chrome, 120*time.Second)
	code, secret, seat := studentRoom(t, s.URL, "Ada")
	lesson := "train-a-cnn-live"
	const w = "#w1"
	teacher := dialWSTeacher(t, s.URL, code, secret, "")
	teacher.cmd(map[string]any{"cmd": "free"})

	// Another student's run takes the room's one place, slowly.
	var other struct{ Room, Seat string }
	studentPost(t, s.URL+"/class/join?lang=en", map[string]string{"code": code, "nick": "Bo"}, http.StatusOK, &other)
	bo := dialWSPage(t, s.URL, code, map[string]any{"type": "seat", "room": code, "seat": other.Seat, "lesson": lesson})
	bo.send(map[string]any{"type": "start", "widget": "w1", "experiment": "cnn-train", "params": map[string]any{}})
	bo.send(map[string]any{"type": "speed", "widget": "w1", "speed": 0.25})
	bo.send(map[string]any{"type": "play", "widget": "w1"})
	bo.wait("the other student's run playing", func(m map[string]any) bool { return m["type"] == "state" && m["state"] == "running" })

	working := w + ` [data-testid="working"]`
	play := w + ` [data-testid="play"]`
	do(t, ctx, "queued",
		chromedp.Navigate(s.URL+"/en/"),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`localStorage.setItem("paramshare.seat", %q)`, seat)),
		chromedp.Navigate(s.URL+"/en/lessons/"+lesson),
		pollJS(`document.querySelector('[data-testid="class-mode"]').textContent === "Free to explore"`, 20*time.Second),
		connected(w, 20*time.Second),
		stateIs(w, "paused", 20*time.Second),
		pressKey(play),
		widgetIs(w, "queue", "1", 10*time.Second),
		pollJS(`document.querySelector('`+working+`').textContent.includes("Waiting for a turn on the server: place 1 of 1")`, 5*time.Second),
		pollJS(`!document.querySelector('`+working+`').hidden`, 5*time.Second),
		pollJS(`document.querySelector('`+play+`').getAttribute("aria-pressed") === "true"`, 5*time.Second),
		stateIs(w, "paused", 5*time.Second),
	)
	shots := map[string][]byte{"class-student-queued-desktop.png": studentShot(t, ctx, w)}
	desktop := phoneViewport(t, ctx)
	shots["class-student-queued-phone.png"] = studentShot(t, ctx, w)
	desktop()
	// The play button now pauses: that leaves the line.
	do(t, ctx, "left the line",
		pressKey(play),
		pollJS(`document.querySelector('`+w+`').dataset.queue === undefined`, 10*time.Second),
		pollJS(`document.querySelector('`+working+`').hidden`, 5*time.Second),
		pollJS(`document.querySelector('`+play+`').getAttribute("aria-pressed") === "false"`, 5*time.Second),
	)

	// In Chinese, queued again; the other run pauses and this one plays.
	do(t, ctx, "queued in zh",
		chromedp.Navigate(s.URL+"/zh/lessons/"+lesson),
		connected(w, 20*time.Second),
		stateIs(w, "paused", 20*time.Second),
		pressKey(play),
		widgetIs(w, "queue", "1", 10*time.Second),
		pollJS(`document.querySelector('`+working+`').textContent.includes("正在排队等待服务器：第 1 位，共 1 位")`, 5*time.Second),
	)
	shots["class-student-queued-zh-desktop.png"] = studentShot(t, ctx, w)
	bo.send(map[string]any{"type": "pause", "widget": "w1"})
	do(t, ctx, "its turn",
		stateIs(w, "running", 10*time.Second),
		pollJS(`document.querySelector('`+w+`').dataset.queue === undefined`, 5*time.Second),
		pollJS(`document.querySelector('`+working+`').hidden`, 5*time.Second),
		pollJS(`document.querySelector('`+play+`').getAttribute("aria-pressed") === "true"`, 5*time.Second),
		pressKey(play),
		stateIs(w, "paused", 10*time.Second),
	)
	if os.Getenv("PARAMSHARE_SCREENSHOT_DIR") != "" {
		saveScreenshots(t, shots)
	}
}

// TestBrowserStudentStaleSeat is a browser whose seat (or teacher key) the
// server refuses: the server says why and closes the socket; the page
// forgets the seat, says so, and its widget runs as a plain page's — it
// does not keep reconnecting with the refused token.
func TestBrowserStudentStaleSeat(t *testing.T) {
	chrome := requireBrowser(t)
	s := studentClassSite(t)
	ctx := newBrowser(t, chrome, 60*time.Second)
	code, _, _ := studentRoom(t, s.URL, "Ada")
	for _, c := range []struct{ key, value, notice string }{
		{"paramshare.seat", fmt.Sprintf(`{"room":%q,"seat":"not-a-seat","nick":"Ada"}`, code), "seat in class " + code + " is no longer valid"},
		{"paramshare.teacher", fmt.Sprintf(`{"room":%q,"secret":"not-the-key"}`, code), "can no longer teach class " + code},
	} {
		do(t, ctx, "refused "+c.key,
			chromedp.Navigate(s.URL+"/en/"),
			chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`localStorage.clear(), localStorage.setItem(%q, %q)`, c.key, c.value)),
			chromedp.Navigate(s.URL+"/en/lessons/one-kernel-many-places"),
			pollJS(`document.querySelector('[data-testid="class-notice"]').textContent.includes(`+jsString(c.notice)+`)`, 20*time.Second),
			pollJS(`localStorage.getItem(`+jsString(c.key)+`) === null`, 5*time.Second),
			connected(studentSlide, 20*time.Second),
			widgetIs(studentSlide, "follow", "", 5*time.Second),
		)
		// A second later the page is still a plain, connected page: no
		// reconnection with the refused token.
		time.Sleep(time.Second)
		do(t, ctx, "stays a plain page",
			connected(studentSlide, time.Second),
			pollJS(`document.querySelectorAll('[data-testid="class-bar"]').length === 1 && !!document.querySelector('[data-testid="class-notice"]')`, time.Second),
			pressKey(`#w1 [data-testid="step"]`),
			stepIs(studentSlide, 1, 10*time.Second),
		)
	}
}

// TestBrowserStudentForkReconnect is a Wi-Fi drop under a playing fork:
// the page's socket closes (not the page), the server parks the seat's run
// paused, and the page that comes back takes it again and plays on from
// where it was, without a press of Play.
func TestBrowserStudentForkReconnect(t *testing.T) {
	chrome := requireBrowser(t)
	s := studentClassSite(t)
	ctx := newBrowser(t, chrome, 120*time.Second)
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: trackSockets}); err != nil {
		t.Fatalf("install the socket tracker: %v", err)
	}
	code, secret, seat := studentRoom(t, s.URL, "Ada")
	lesson := "one-kernel-many-places"
	teacher := dialWSTeacher(t, s.URL, code, secret, lesson)
	teacher.send(map[string]any{"type": "start", "widget": "w1", "experiment": "conv-slide", "params": map[string]any{"stride": 1}})
	teacher.send(map[string]any{"type": "step", "widget": "w1", "n": 3})
	teacher.wait("the teacher's step 3", wsPausedAt("w1", 3))
	do(t, ctx, "a playing fork",
		chromedp.Navigate(s.URL+"/en/"),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`localStorage.setItem("paramshare.seat", %q)`, seat)),
		chromedp.Navigate(s.URL+"/en/lessons/"+lesson),
		widgetIs(studentSlide, "follow", "following", 20*time.Second),
		stepIs(studentSlide, 3, 20*time.Second),
		pollJS(`document.querySelector('#w1 [data-testid="fork"]').getAttribute("aria-disabled") === null`, 5*time.Second),
		pressKey(`#w1 [data-testid="fork"]`),
		widgetIs(studentSlide, "follow", "forked", 10*time.Second),
		stepIs(studentSlide, 3, 20*time.Second),
		pressKey(`#w1 [data-testid="play"]`),
		stateIs(studentSlide, "running", 10*time.Second),
		pollJS(`Number(document.querySelector('#w1').dataset.step) >= 6`, 20*time.Second),
	)
	sockets := evalJS[int](t, ctx, `window.__e2eSockets.length`)
	before := evalJS[int](t, ctx, `(window.__e2eSockets.at(-1).close(), Number(document.querySelector('#w1').dataset.step))`)
	do(t, ctx, "reconnected",
		pollJS(fmt.Sprintf(`window.__e2eSockets.length > %d`, sockets), 10*time.Second),
		connected(studentSlide, 20*time.Second),
		widgetIs(studentSlide, "follow", "forked", 5*time.Second),
		stateIs(studentSlide, "running", 10*time.Second),
		pollJS(fmt.Sprintf(`Number(document.querySelector('#w1').dataset.step) >= %d`, before+3), 20*time.Second),
		pollJS(`document.querySelector('#w1 [data-testid="play"]').getAttribute("aria-pressed") === "true"`, 5*time.Second),
	)
	// The new socket took the parked run back: its first frame is not a
	// replay from step 0.
	if first := evalJS[int](t, ctx, `window.__e2eSockets.at(-1).e2eSteps[0] ?? -1`); first < before-1 {
		t.Errorf("after the drop the first frame was step %d, the page showed %d: the run was not taken back where it was", first, before)
	}
}
