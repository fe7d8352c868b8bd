package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/paramshare/paramshare/class"
)

// classServer is a live server with a classroom whose store is in dir.
func classServer(t *testing.T, dir string, opts LiveOptions) (*Live, *httptest.Server) {
	t.Helper()
	st, err := class.Open(filepath.Join(dir, "class.db"))
	if err != nil {
		t.Fatal(err)
	}
	opts.Class.Store = st
	live := NewLive(opts, nil)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws", live.ServeWS)
	mux.HandleFunc("POST /class/rooms", live.class.ServeNewRoom)
	mux.HandleFunc("POST /class/join", live.class.ServeJoin)
	mux.HandleFunc("GET /class/{code}/qr.svg", live.class.ServeQR)
	mux.HandleFunc("GET /class/{code}/{file}", live.class.ServeBoard)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		live.Shutdown(t.Context())
		srv.Close()
		st.Close()
	})
	return live, srv
}

// post sends body as JSON and decodes the JSON answer.
func post(t *testing.T, url, body string) (int, map[string]string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]string
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func openRoom(t *testing.T, srv *httptest.Server) (code, secret string) {
	t.Helper()
	status, m := post(t, srv.URL+"/class/rooms", "")
	if status != http.StatusCreated || m["code"] == "" || m["secret"] == "" {
		t.Fatalf("open a room: %d %v", status, m)
	}
	return m["code"], m["secret"]
}

func join(t *testing.T, srv *httptest.Server, code, nick string) (token string) {
	t.Helper()
	status, m := post(t, srv.URL+"/class/join", fmt.Sprintf(`{"code":%q,"nick":%q}`, code, nick))
	if status != http.StatusOK || m["seat"] == "" {
		t.Fatalf("join %s as %s: %d %v", code, nick, status, m)
	}
	return m["seat"]
}

// dialRoom opens a page of room code and sends first (seat, teach or watch).
func dialRoom(t *testing.T, srv *httptest.Server, code, first string) *wsClient {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial(wsURL(srv, "en")+"&room="+code, nil)
	if err != nil {
		t.Fatalf("dial room: %v (%v)", err, resp)
	}
	t.Cleanup(func() { conn.Close() })
	c := &wsClient{t: t, conn: conn}
	if c.hello = c.next(); c.hello["type"] != "hello" {
		t.Fatalf("first message %v, want hello", c.hello)
	}
	if first != "" {
		c.send(first)
	}
	return c
}

func (c *wsClient) roomState(ok func(map[string]any) bool) map[string]any {
	c.t.Helper()
	return c.until("room state", func(m map[string]any) bool { return m["type"] == "room" && ok(m) })
}

func teach(t *testing.T, srv *httptest.Server, code, secret string) *wsClient {
	t.Helper()
	c := dialRoom(t, srv, code, fmt.Sprintf(`{"v":1,"type":"teach","room":%q,"secret":%q,"lesson":"train"}`, code, secret))
	c.roomState(func(m map[string]any) bool { return m["you"].(map[string]any)["role"] == "teacher" })
	return c
}

func sit(t *testing.T, srv *httptest.Server, code, token string) *wsClient {
	t.Helper()
	c := dialRoom(t, srv, code, fmt.Sprintf(`{"v":1,"type":"seat","room":%q,"seat":%q,"lesson":"train"}`, code, token))
	c.roomState(func(m map[string]any) bool { return m["you"] != nil })
	return c
}

// TestClassFollowForkBoard: students follow the teacher's run (one run,
// its frames to everyone), cannot drive it, fork it into a run of their own
// that continues from the same step, and each fork draws a curve on the
// board the teacher sees and the exports give — without names.
func TestClassFollowForkBoard(t *testing.T) {
	_, srv := classServer(t, t.TempDir(), LiveOptions{})
	code, secret := openRoom(t, srv)
	teacher := teach(t, srv, code, secret)
	a := sit(t, srv, code, join(t, srv, code, "Ada"))
	b := sit(t, srv, code, join(t, srv, code, "Grace"))

	// Before the teacher starts it, a follower waits.
	a.send(`{"v":1,"type":"start","widget":"w1","experiment":"stepper","follow":true}`)
	a.errorCode(codeNotStarted)

	teacher.send(`{"v":1,"type":"start","widget":"w1","experiment":"stepper","params":{"total":40,"costMs":2}}`)
	teacher.frameAt("w1", 0)
	a.frameAt("w1", 0) // bound as soon as the teacher started it
	b.send(`{"v":1,"type":"start","widget":"w1","experiment":"stepper","follow":true}`)
	st := b.until("follow state", func(m map[string]any) bool { return m["type"] == "state" && m["follow"] == true })
	if p := st["params"].(map[string]any); p["total"] != 40.0 {
		t.Errorf("a follower's state carries params %v, want the teacher's (total 40)", p)
	}
	b.send(`{"v":1,"type":"play","widget":"w1"}`)
	b.errorCode(codeFollowing)

	teacher.send(`{"v":1,"type":"step","widget":"w1","n":5}`)
	a.frameAt("w1", 5)
	b.frameAt("w1", 5)

	// Fork: the teacher's parameters at its step, then on with a change.
	for i, c := range []*wsClient{a, b} {
		c.send(`{"v":1,"type":"start","widget":"w1","experiment":"stepper","params":{"total":40,"costMs":2}}`)
		c.send(`{"v":1,"type":"seek","widget":"w1","to":5}`)
		c.frameAt("w1", 5)
		c.send(fmt.Sprintf(`{"v":1,"type":"set-params","widget":"w1","params":{"preset":%q,"costMs":60}}`, []string{"a", "b"}[i]))
		c.send(`{"v":1,"type":"speed","widget":"w1","speed":30}`)
		c.send(`{"v":1,"type":"play","widget":"w1"}`) // the board draws what plays, not replays
		c.frameAt("w1", 15)
		c.send(`{"v":1,"type":"pause","widget":"w1"}`)
	}
	// The board and the roster come as they change: wait for both.
	var bm, roster map[string]any
	teacher.until("a board of two runs and a roster with two forks", func(m map[string]any) bool {
		switch m["type"] {
		case "board":
			if len(m["runs"].([]any)) == 2 {
				bm = m
			}
		case "roster":
			forks := 0
			for _, s := range m["seats"].([]any) {
				for _, r := range s.(map[string]any)["runs"].([]any) {
					if r.(map[string]any)["forked"] == true {
						forks++
					}
				}
			}
			if forks == 2 {
				roster = m
			}
		}
		return bm != nil && roster != nil
	})
	if s := fmt.Sprint(bm); strings.Contains(s, "Ada") || strings.Contains(s, "Grace") {
		t.Errorf("the board names students: %s", s)
	}
	if !strings.Contains(fmt.Sprint(roster), "Ada") {
		t.Errorf("the teacher's roster has no names: %v", roster)
	}
	time.Sleep(boardSave + roomTick) // the board reaches the store
	for _, f := range []string{"board.json", "board.csv", "board.png", "board.svg"} {
		resp, body := fetch(t, srv.URL+"/class/"+code+"/"+f)
		if resp.StatusCode != http.StatusOK || bytes.Contains(body, []byte("Ada")) {
			t.Errorf("%s: %d (%d bytes), names in it: %v", f, resp.StatusCode, len(body), bytes.Contains(body, []byte("Ada")))
		}
	}
}

// TestClassTeacherCommands: pause all reaches every page with its
// message and pauses the room's runs; only the teacher may command; a
// removed student is told, closed, and cannot sit again.
func TestClassTeacherCommands(t *testing.T) {
	_, srv := classServer(t, t.TempDir(), LiveOptions{})
	code, secret := openRoom(t, srv)
	teacher := teach(t, srv, code, secret)
	token := join(t, srv, code, "Ada")
	a := sit(t, srv, code, token)

	a.send(`{"v":1,"type":"room-cmd","cmd":"pause-all"}`)
	a.errorCode(codeNotTeacher)

	teacher.send(`{"v":1,"type":"start","widget":"w1","experiment":"stepper","params":{"costMs":20}}`)
	teacher.send(`{"v":1,"type":"play","widget":"w1"}`)
	teacher.state("w1", "running")
	teacher.send(`{"v":1,"type":"room-cmd","cmd":"pause-all","message":"Eyes on me"}`)
	a.roomState(func(m map[string]any) bool { return m["paused"] == true && m["message"] == "Eyes on me" })
	teacher.state("w1", "paused")
	teacher.send(fmt.Sprintf(`{"v":1,"type":"room-cmd","cmd":"pause-all","message":%q}`, strings.Repeat("x", class.MaxMessage+1)))
	teacher.errorCode("bad-params")
	teacher.send(`{"v":1,"type":"room-cmd","cmd":"resume-all"}`)
	a.roomState(func(m map[string]any) bool { return m["paused"] == false })

	teacher.send(`{"v":1,"type":"room-cmd","cmd":"lesson","lesson":"train"}`)
	a.roomState(func(m map[string]any) bool { return m["lesson"] == "train" && m["mode"] == "follow" })

	teacher.send(`{"v":1,"type":"room-cmd","cmd":"lock"}`)
	teacher.roomState(func(m map[string]any) bool { return m["locked"] == true })
	if status, m := post(t, srv.URL+"/class/join?lang=zh", fmt.Sprintf(`{"code":%q,"nick":"Late"}`, code)); status != http.StatusLocked || !strings.Contains(m["error"], "锁定") {
		t.Errorf("joining a locked room: %d %v, want 423 in Chinese", status, m)
	}

	seat := a.roomState(func(map[string]any) bool { return true })["you"].(map[string]any)["id"].(string)
	teacher.send(fmt.Sprintf(`{"v":1,"type":"room-cmd","cmd":"remove","seat":%q}`, seat))
	a.until("removed", func(m map[string]any) bool { return m["type"] == "removed" && m["message"] != "" })
	again := dialRoom(t, srv, code, fmt.Sprintf(`{"v":1,"type":"seat","room":%q,"seat":%q,"lesson":""}`, code, token))
	again.errorCode(codeRemoved)

	// A new code: the old one admits no one.
	teacher.send(`{"v":1,"type":"room-cmd","cmd":"new-code"}`)
	nc := teacher.roomState(func(m map[string]any) bool { return m["code"] != code })["code"].(string)
	teacher.send(`{"v":1,"type":"room-cmd","cmd":"unlock"}`)
	teacher.roomState(func(m map[string]any) bool { return m["locked"] == false })
	if status, _ := post(t, srv.URL+"/class/join", fmt.Sprintf(`{"code":%q,"nick":"Bob"}`, code)); status != http.StatusNotFound {
		t.Errorf("joining with the old code: %d, want 404", status)
	}
	join(t, srv, nc, "Bob")
}

// TestClassSeatComesBack: a student's page that goes away leaves its run
// parked; the seat's next page starting the same widget with the same
// parameters gets it back at its step, with no replay.
func TestClassSeatComesBack(t *testing.T) {
	_, srv := classServer(t, t.TempDir(), LiveOptions{})
	code, _ := openRoom(t, srv)
	token := join(t, srv, code, "Ada")
	a := sit(t, srv, code, token)
	a.send(`{"v":1,"type":"start","widget":"w1","experiment":"stepper","params":{"total":1000,"costMs":1}}`)
	a.send(`{"v":1,"type":"step","widget":"w1","n":30}`)
	a.frameAt("w1", 30)
	a.conn.Close()

	b := sit(t, srv, code, token)
	b.send(`{"v":1,"type":"start","widget":"w1","experiment":"stepper","params":{"total":1000,"costMs":1}}`)
	if f := b.until("first frame", func(m map[string]any) bool { return m["type"] == "frame" }); f["step"] != 30.0 {
		t.Errorf("the seat's new page starts at step %v, want its parked run at 30", f["step"])
	}
	// Other parameters: a fresh run.
	b.send(`{"v":1,"type":"start","widget":"w2","experiment":"stepper","params":{"total":999}}`)
	b.frameAt("w2", 0)
}

// TestClassLimits: what a room refuses, each with a clear reason.
func TestClassLimits(t *testing.T) {
	_, srv := classServer(t, t.TempDir(), LiveOptions{MaxSessionsPerIP: 2, Class: ClassOptions{RoomSeats: 3, RoomSessions: 5}})
	code, secret := openRoom(t, srv)

	// Rooms count pages by seat, not address: more than the address's cap.
	var pages []*wsClient
	for i := range 4 {
		pages = append(pages, sit(t, srv, code, join(t, srv, code, fmt.Sprint("S", i))[:]))
		if i == 2 {
			break
		}
	}
	pages = append(pages, teach(t, srv, code, secret))
	if status, m := post(t, srv.URL+"/class/join", fmt.Sprintf(`{"code":%q,"nick":"Fourth"}`, code)); status != http.StatusConflict || !strings.Contains(m["error"], "-room-seats") {
		t.Errorf("a fourth seat of three: %d %v, want 409 naming -room-seats", status, m)
	}
	// The room's page cap (5): a fifth page is admitted, a sixth refused.
	dialRoom(t, srv, code, "")
	conn, _, err := websocket.DefaultDialer.Dial(wsURL(srv, "en")+"&room="+code, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	refused := &wsClient{t: t, conn: conn}
	if e := refused.errorCode(codeRoomFull); !strings.Contains(e["message"].(string), "-room-sessions") {
		t.Errorf("room full: %v, want the flag named", e)
	}
	if ce := refused.closeOf(); ce.Code != websocket.CloseTryAgainLater {
		t.Errorf("room full closes with %d, want 1013", ce.Code)
	}

	// Nicknames.
	for _, nick := range []string{"", strings.Repeat("n", class.MaxNick+1), "a\nb", "\u202eevil"} {
		body, _ := json.Marshal(map[string]string{"code": code, "nick": nick})
		if status, m := post(t, srv.URL+"/class/join", string(body)); status != http.StatusBadRequest || m["error"] == "" {
			t.Errorf("nick %q: %d %v, want 400 with a reason", nick, status, m)
		}
	}

	// Guessing codes: the address is stopped after joinFailures misses.
	for i := range joinFailures {
		if status, _ := post(t, srv.URL+"/class/join", fmt.Sprintf(`{"code":"ZZZZZ%d","nick":"G"}`, i%10)); status != http.StatusNotFound {
			t.Fatalf("guess %d: %d, want 404", i, status)
		}
	}
	if status, m := post(t, srv.URL+"/class/join", fmt.Sprintf(`{"code":%q,"nick":"G"}`, code)); status != http.StatusTooManyRequests || m["error"] == "" {
		t.Errorf("after %d wrong codes: %d %v, want 429 even for the right code", joinFailures, status, m)
	}
	// Rooms per hour per address (one opened above).
	for range roomsPerHour - 1 {
		openRoom(t, srv)
	}
	if status, m := post(t, srv.URL+"/class/rooms", ""); status != http.StatusTooManyRequests || m["error"] == "" {
		t.Errorf("room %d within the hour: %d %v, want 429", roomsPerHour+1, status, m)
	}
	// Another site's page cannot open rooms or seats.
	req, _ := http.NewRequest("POST", srv.URL+"/class/join", strings.NewReader(`{"code":"AAAAAA","nick":"x"}`))
	req.Header.Set("Origin", "https://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site join: %d, want 403", resp.StatusCode)
	}
	_ = pages
}

// TestClassAuth: a page of a class that has not sat down may do nothing;
// a wrong teacher secret and a seat of another room are refused.
func TestClassAuth(t *testing.T) {
	_, srv := classServer(t, t.TempDir(), LiveOptions{})
	code, _ := openRoom(t, srv)
	other, _ := openRoom(t, srv)
	p := dialRoom(t, srv, code, `{"v":1,"type":"start","widget":"w1","experiment":"stepper"}`)
	p.errorCode(codeRoomAuth)
	p.send(`{"v":1,"type":"room-cmd","cmd":"lock"}`)
	p.errorCode(codeNotTeacher)
	// A wrong key or a seat of another room: told why, then closed.
	for _, first := range []string{
		fmt.Sprintf(`{"v":1,"type":"teach","room":%q,"secret":"wrong","lesson":""}`, code),
		fmt.Sprintf(`{"v":1,"type":"seat","room":%q,"seat":%q,"lesson":""}`, code, join(t, srv, other, "Ada")),
	} {
		p := dialRoom(t, srv, code, first)
		if e := p.until("an error", func(m map[string]any) bool { return m["type"] == "error" }); e["code"] != codeRoomAuth && e["code"] != codeNoSeat {
			t.Errorf("%s: %v, want room-auth or no-seat", first, e)
		}
		if _, err := p.read(); err == nil {
			t.Errorf("%s: the page stays open, want it closed", first)
		}
	}
}

// TestClassBoardSurvivesRestart: the board and the seats are in the store:
// a new server on the same data directory has them.
func TestClassBoardSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	live, srv := classServer(t, dir, LiveOptions{})
	code, secret := openRoom(t, srv)
	token := join(t, srv, code, "Ada")
	a := sit(t, srv, code, token)
	a.send(`{"v":1,"type":"start","widget":"w1","experiment":"stepper","params":{"total":50,"costMs":20}}`)
	a.send(`{"v":1,"type":"speed","widget":"w1","speed":30}`)
	a.send(`{"v":1,"type":"play","widget":"w1"}`)
	a.frameAt("w1", 20)
	// No wait for the periodic save: shutting down saves the board.
	live.Shutdown(t.Context())
	srv.Close()
	live.opts.Class.Store.Close()

	_, srv2 := classServer(t, dir, LiveOptions{})
	resp, body := fetch(t, srv2.URL+"/class/"+code+"/board.json")
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"points"`)) {
		t.Fatalf("board after restart: %d %s", resp.StatusCode, body)
	}
	sit(t, srv2, code, token) // the seat is still there
	teach(t, srv2, code, secret)
}

// TestClassPageMustSitDown: a page admitted into a room (not counted
// against its address) that never says who it is is closed.
func TestClassPageMustSitDown(t *testing.T) {
	defer func(d time.Duration) { authWait = d }(authWait)
	authWait = 300 * time.Millisecond
	_, srv := classServer(t, t.TempDir(), LiveOptions{})
	code, _ := openRoom(t, srv)
	p := dialRoom(t, srv, code, "")
	start := time.Now()
	if _, err := p.read(); err == nil {
		t.Fatal("a page that never sat down got a message, want the connection closed")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("closed after %v, want about %v", d, authWait)
	}
}

// TestClassTrainingQueue: beyond RoomTraining playing training runs, a
// student's play waits in line with its place shown, and plays as soon as
// one of the others stops; pausing leaves the line.
func TestClassTrainingQueue(t *testing.T) {
	_, srv := classServer(t, t.TempDir(), LiveOptions{Class: ClassOptions{RoomTraining: 1}})
	code, _ := openRoom(t, srv)
	a := sit(t, srv, code, join(t, srv, code, "Ada"))
	b := sit(t, srv, code, join(t, srv, code, "Grace"))
	c := sit(t, srv, code, join(t, srv, code, "Linus"))
	for _, p := range []*wsClient{a, b, c} {
		p.send(`{"v":1,"type":"start","widget":"w1","experiment":"stepper","params":{"total":100000,"costMs":5}}`)
		p.frameAt("w1", 0)
	}
	a.send(`{"v":1,"type":"play","widget":"w1"}`)
	a.state("w1", "running")
	place := func(p *wsClient, want int) {
		t.Helper()
		p.until(fmt.Sprintf("queue place %d", want), func(m map[string]any) bool {
			return m["type"] == "queue" && m["widget"] == "w1" && m["place"] == float64(want)
		})
	}
	b.send(`{"v":1,"type":"play","widget":"w1"}`)
	place(b, 1)
	c.send(`{"v":1,"type":"play","widget":"w1"}`)
	place(c, 2)
	c.send(`{"v":1,"type":"pause","widget":"w1"}`) // leaves the line
	place(c, 0)
	a.send(`{"v":1,"type":"pause","widget":"w1"}`)
	place(b, 0) // (its "running" state may come before this)
	b.until("b's run stepping", func(m map[string]any) bool { return m["type"] == "frame" && m["step"].(float64) > 0 })
}

// TestClassForkMessage: start with fork makes the followed run the page's
// own at the teacher's step (a replay for an experiment that cannot be
// copied), which it may then drive; only a following widget can fork.
func TestClassForkMessage(t *testing.T) {
	_, srv := classServer(t, t.TempDir(), LiveOptions{})
	code, secret := openRoom(t, srv)
	teacher := teach(t, srv, code, secret)
	a := sit(t, srv, code, join(t, srv, code, "Ada"))
	a.send(`{"v":1,"type":"start","widget":"w1","experiment":"stepper","fork":true}`)
	a.errorCode(codeNoSeat)
	teacher.send(`{"v":1,"type":"start","widget":"w1","experiment":"stepper","params":{"total":50}}`)
	teacher.send(`{"v":1,"type":"step","widget":"w1","n":6}`)
	teacher.frameAt("w1", 6)
	a.send(`{"v":1,"type":"start","widget":"w1","experiment":"stepper","follow":true}`)
	a.frameAt("w1", 6)
	a.send(`{"v":1,"type":"start","widget":"w1","experiment":"stepper","fork":true}`)
	a.until("its own run at the teacher's step", func(m map[string]any) bool {
		return m["type"] == "state" && m["follow"] == nil && m["state"] == "paused" && m["step"] == 6.0
	})
	a.send(`{"v":1,"type":"step","widget":"w1","n":2}`)
	a.frameAt("w1", 8)
	teacher.send(`{"v":1,"type":"step","widget":"w1","n":1}`)
	teacher.frameAt("w1", 7) // the teacher's run went on its own way
}
