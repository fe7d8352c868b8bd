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
	for _, f := range []string{"board.json", "board.csv", "board.svg", "board.png"} {
		resp, body := fetch(t, srv.URL+"/class/"+code+"/"+f)
		if resp.StatusCode != http.StatusOK || len(body) == 0 {
			t.Errorf("%s: %d (%d bytes), want the board", f, resp.StatusCode, len(body))
		}
		if f != "board.png" && (bytes.Contains(body, []byte("Ada")) || bytes.Contains(body, []byte("Grace"))) {
			t.Errorf("%s names students", f)
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
	live, srv := classServer(t, t.TempDir(), LiveOptions{})
	code, _ := openRoom(t, srv)
	token := join(t, srv, code, "Ada")
	a := sit(t, srv, code, token)
	a.send(`{"v":1,"type":"start","widget":"w1","experiment":"stepper","params":{"total":1000,"costMs":1}}`)
	a.send(`{"v":1,"type":"step","widget":"w1","n":30}`)
	a.frameAt("w1", 30)
	a.conn.Close()
	// The server notices the page is gone (a browser's reload closes the
	// socket long before the new page connects).
	for parked := 0; parked == 0; time.Sleep(5 * time.Millisecond) {
		live.class.mu.Lock()
		for _, rm := range live.class.rooms {
			rm.mu.Lock()
			parked += len(rm.parked)
			rm.mu.Unlock()
		}
		live.class.mu.Unlock()
	}

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
	_, srv := classServer(t, t.TempDir(), LiveOptions{MaxSessionsPerIP: 2, Class: ClassOptions{
		RoomSeats: 3, RoomSessions: 5, JoinFailures: 4, RoomsPerHour: 3,
	}})
	code, secret := openRoom(t, srv)

	// Rooms count pages by seat, not address: more than the address's cap.
	for i := range 3 {
		sit(t, srv, code, join(t, srv, code, fmt.Sprint("S", i)))
	}
	teach(t, srv, code, secret)
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

	// Nicknames, and a body over the limit.
	for _, nick := range []string{"", strings.Repeat("n", class.MaxNick+1), "a\nb", "\u202eevil", strings.Repeat("x", maxJoinBody)} {
		body, _ := json.Marshal(map[string]string{"code": code, "nick": nick})
		if status, m := post(t, srv.URL+"/class/join", string(body)); status != http.StatusBadRequest || m["error"] == "" {
			t.Errorf("nick %.30q: %d %v, want 400 with a reason", nick, status, m)
		}
	}

	// Guessing codes, by any road: the address is stopped after
	// JoinFailures unknown codes, for every lookup, right codes too.
	if status, _ := post(t, srv.URL+"/class/join", `{"code":"ZZZZZ2","nick":"G"}`); status != http.StatusNotFound {
		t.Fatalf("guess by join: %d, want 404", status)
	}
	if resp, _ := fetch(t, srv.URL+"/class/ZZZZZ3/qr.svg"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("guess by QR: %d, want 404", resp.StatusCode)
	}
	if resp, _ := fetch(t, srv.URL+"/class/ZZZZZ4/board.csv"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("guess by board: %d, want 404", resp.StatusCode)
	}
	g := dialRoom(t, srv, "", `{"v":1,"type":"watch","room":"ZZZZZ5"}`)
	g.errorCode(codeNoSeat)
	if resp, _ := fetch(t, srv.URL+"/class/"+code+"/qr.svg"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("the right code's QR after 4 wrong codes: %d, want 404 (no road tells codes apart)", resp.StatusCode)
	}
	if status, m := post(t, srv.URL+"/class/join", fmt.Sprintf(`{"code":%q,"nick":"G"}`, code)); status != http.StatusTooManyRequests || !strings.Contains(m["error"], "-join-failures") {
		t.Errorf("after 4 wrong codes: %d %v, want 429 naming -join-failures, even for the right code", status, m)
	}
	// Rooms per hour per address (one opened above).
	for range 2 {
		openRoom(t, srv)
	}
	if status, m := post(t, srv.URL+"/class/rooms", ""); status != http.StatusTooManyRequests || !strings.Contains(m["error"], "-rooms-per-hour") {
		t.Errorf("room 4 within the hour: %d %v, want 429 naming -rooms-per-hour", status, m)
	}
	// Another site's page cannot open rooms or seats.
	for _, path := range []string{"/class/join", "/class/rooms"} {
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(`{"code":"AAAAAA","nick":"x"}`))
		req.Header.Set("Origin", "https://evil.example")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site %s: %d, want 403", path, resp.StatusCode)
		}
	}
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
		if e := p.until("an error", func(m map[string]any) bool { return m["type"] == "error" }); e["code"] != codeRoomAuth && e["code"] != codeNoSeat && e["code"] != codeRoomMoved {
			t.Errorf("%s: %v, want room-auth, no-seat or room-moved", first, e)
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

// TestClassSpotlight: a student's run shown in place of the teacher's, to
// the followers and on the teacher's own widget (which then refuses
// commands), named to the teacher only; a second spotlight gives the first
// widget back; unspotlight gives the teacher's run back.
func TestClassSpotlight(t *testing.T) {
	_, srv := classServer(t, t.TempDir(), LiveOptions{})
	code, secret := openRoom(t, srv)
	teacher := teach(t, srv, code, secret)
	token := join(t, srv, code, "Ada")
	a := sit(t, srv, code, token)
	b := sit(t, srv, code, join(t, srv, code, "Grace"))
	seat := a.roomState(func(map[string]any) bool { return true })["you"].(map[string]any)["id"].(string)
	for _, w := range []string{"w1", "w2"} {
		teacher.send(fmt.Sprintf(`{"v":1,"type":"start","widget":%q,"experiment":"stepper","params":{"total":90}}`, w))
		teacher.frameAt(w, 0)
		a.send(fmt.Sprintf(`{"v":1,"type":"start","widget":%q,"experiment":"stepper","params":{"total":77}}`, w))
		a.send(fmt.Sprintf(`{"v":1,"type":"step","widget":%q,"n":3}`, w))
		a.frameAt(w, 3)
	}
	b.send(`{"v":1,"type":"start","widget":"w1","experiment":"stepper","follow":true}`)
	b.frameAt("w1", 0)

	teacher.send(fmt.Sprintf(`{"v":1,"type":"room-cmd","cmd":"spotlight","seat":%q,"widget":"w1"}`, seat))
	b.frameAt("w1", 3) // the student's run, on the follower's screen
	st := b.roomState(func(m map[string]any) bool { return m["spotlight"] != nil })
	if sp := st["spotlight"].(map[string]any); sp["seat"] != nil {
		t.Errorf("a student is told whose run is in the spotlight: %v", sp)
	}
	teacher.frameAt("w1", 3)
	teacher.send(`{"v":1,"type":"step","widget":"w1"}`)
	teacher.errorCode(codeFollowing)

	teacher.send(fmt.Sprintf(`{"v":1,"type":"room-cmd","cmd":"spotlight","seat":%q,"widget":"w2"}`, seat))
	teacher.roomState(func(m map[string]any) bool {
		sp, _ := m["spotlight"].(map[string]any)
		return sp != nil && sp["widget"] == "w2" && sp["seat"] == seat
	})
	teacher.send(`{"v":1,"type":"step","widget":"w1","n":2}`) // w1 is the teacher's again
	teacher.frameAt("w1", 2)
	b.frameAt("w1", 2)

	teacher.send(`{"v":1,"type":"room-cmd","cmd":"unspotlight"}`)
	teacher.roomState(func(m map[string]any) bool { return m["spotlight"] == nil })
	teacher.send(`{"v":1,"type":"step","widget":"w2","n":1}`)
	teacher.frameAt("w2", 1)

	teacher.send(`{"v":1,"type":"room-cmd","cmd":"spotlight","seat":"s99","widget":"w1"}`)
	teacher.errorCode("bad-params")
}

// TestClassPauseStopsEveryone: pause all pauses the students' own runs
// too and refuses their commands until the teacher resumes.
func TestClassPauseStopsEveryone(t *testing.T) {
	_, srv := classServer(t, t.TempDir(), LiveOptions{})
	code, secret := openRoom(t, srv)
	teacher := teach(t, srv, code, secret)
	a := sit(t, srv, code, join(t, srv, code, "Ada"))
	a.send(`{"v":1,"type":"start","widget":"w1","experiment":"stepper","params":{"costMs":20,"total":100000}}`)
	a.send(`{"v":1,"type":"play","widget":"w1"}`)
	a.state("w1", "running")
	teacher.send(`{"v":1,"type":"room-cmd","cmd":"pause-all","message":"Look up"}`)
	a.state("w1", "paused")
	a.send(`{"v":1,"type":"play","widget":"w1"}`)
	a.errorCode(codePaused)
	teacher.send(`{"v":1,"type":"room-cmd","cmd":"resume-all"}`)
	a.state("w1", "running") // what played before the pause plays again
	a.roomState(func(m map[string]any) bool { return m["paused"] == false })
}

// TestClassModesAndWatch: free and follow reach every page; a projector
// page (watch) gets the room and the board but not the roster, and
// cannot follow; a pushed lesson must be a slug.
func TestClassModesAndWatch(t *testing.T) {
	_, srv := classServer(t, t.TempDir(), LiveOptions{})
	code, secret := openRoom(t, srv)
	teacher := teach(t, srv, code, secret)
	a := sit(t, srv, code, join(t, srv, code, "Ada"))
	proj := dialRoom(t, srv, code, fmt.Sprintf(`{"v":1,"type":"watch","room":%q}`, code))
	proj.roomState(func(m map[string]any) bool { return m["you"] == nil })
	proj.until("the board", func(m map[string]any) bool { return m["type"] == "board" })
	teacher.send(`{"v":1,"type":"room-cmd","cmd":"free"}`)
	a.roomState(func(m map[string]any) bool { return m["mode"] == "free" })
	proj.roomState(func(m map[string]any) bool { return m["mode"] == "free" })
	teacher.send(`{"v":1,"type":"room-cmd","cmd":"follow"}`)
	a.roomState(func(m map[string]any) bool { return m["mode"] == "follow" })
	teacher.send(`{"v":1,"type":"room-cmd","cmd":"lesson","lesson":"../etc"}`)
	teacher.errorCode("bad-params")
	proj.send(`{"v":1,"type":"start","widget":"w1","experiment":"stepper","follow":true}`)
	proj.errorCode(codeNoSeat)
	proj.send(`{"v":1,"type":"room-cmd","cmd":"lock"}`)
	if e := proj.until("a refusal", func(m map[string]any) bool { return m["type"] == "error" || m["type"] == "roster" }); e["type"] != "error" || e["code"] != codeNotTeacher {
		t.Errorf("the projector got %v, want not-teacher and never a roster", e)
	}
}

// TestClassDelete: deleting a room tells every page, forgets its data and
// closes its runs — the teacher's too (its memory is given back).
func TestClassDelete(t *testing.T) {
	live, srv := classServer(t, t.TempDir(), LiveOptions{})
	code, secret := openRoom(t, srv)
	teacher := teach(t, srv, code, secret)
	a := sit(t, srv, code, join(t, srv, code, "Ada"))
	teacher.send(`{"v":1,"type":"start","widget":"w1","experiment":"stepper"}`)
	teacher.frameAt("w1", 0)
	a.send(`{"v":1,"type":"start","widget":"w1","experiment":"stepper"}`)
	a.frameAt("w1", 0)
	teacher.send(`{"v":1,"type":"room-cmd","cmd":"delete"}`)
	a.until("room-ended", func(m map[string]any) bool { return m["type"] == "room-ended" && m["message"] != "" })
	if resp, _ := fetch(t, srv.URL+"/class/"+code+"/board.json"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("the deleted room's board: %d, want 404", resp.StatusCode)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		live.mu.Lock()
		held := live.mem
		live.mu.Unlock()
		if held == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes still reserved by the deleted room's runs", held)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClassParkAndIdle: a parked run ends parkFor after its page left; a
// room without pages leaves memory after roomIdle (its board saved); the
// server holds at most MaxRooms rooms, saying which flag.
func TestClassParkAndIdle(t *testing.T) {
	defer func(p, i time.Duration) { parkFor, roomIdle = p, i }(parkFor, roomIdle)
	parkFor, roomIdle = 200*time.Millisecond, 400*time.Millisecond
	live, srv := classServer(t, t.TempDir(), LiveOptions{Class: ClassOptions{MaxRooms: 1}})
	code, _ := openRoom(t, srv)
	other, _ := openRoom(t, srv)
	a := sit(t, srv, code, join(t, srv, code, "Ada"))
	conn, _, err := websocket.DefaultDialer.Dial(wsURL(srv, "en")+"&room="+other, nil)
	if err != nil {
		t.Fatal(err)
	}
	full := &wsClient{t: t, conn: conn}
	if e := full.errorCode(codeBusy); !strings.Contains(e["message"].(string), "-rooms") {
		t.Errorf("a second room of one: %v, want the -rooms flag named", e)
	}
	conn.Close()
	a.send(`{"v":1,"type":"start","widget":"w1","experiment":"stepper"}`)
	a.frameAt("w1", 0)
	a.conn.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		live.mu.Lock()
		held := live.mem
		live.mu.Unlock()
		live.class.mu.Lock()
		rooms := len(live.class.rooms)
		live.class.mu.Unlock()
		if held == 0 && rooms == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the page left: %d bytes reserved, %d rooms in memory; want the park and the room gone", held, rooms)
		}
		time.Sleep(20 * time.Millisecond)
	}
	sit(t, srv, other, join(t, srv, other, "Bob")) // the slot is free again
}

// TestClassServerCaps: pages of a class count against the server's cap
// too (-max-sessions, named), and a class's runs against its memory
// (-room-memory, named).
func TestClassServerCaps(t *testing.T) {
	_, srv := classServer(t, t.TempDir(), LiveOptions{MaxSessions: 2, Class: ClassOptions{RoomMemory: 150 << 20}})
	code, _ := openRoom(t, srv)
	a := sit(t, srv, code, join(t, srv, code, "Ada"))
	sit(t, srv, code, join(t, srv, code, "Grace"))
	conn, _, err := websocket.DefaultDialer.Dial(wsURL(srv, "en")+"&room="+code, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	full := &wsClient{t: t, conn: conn}
	if e := full.errorCode(codeBusy); !strings.Contains(e["message"].(string), "-max-sessions") {
		t.Errorf("a third page of two: %v, want the -max-sessions flag named", e)
	}
	// The stepper declares 100 MB: one run fits the room's 150, a second
	// does not.
	a.send(`{"v":1,"type":"start","widget":"w1","experiment":"stepper"}`)
	a.frameAt("w1", 0)
	a.send(`{"v":1,"type":"start","widget":"w2","experiment":"stepper"}`)
	if e := a.errorCode(codeTooManyRuns); !strings.Contains(e["message"].(string), "-room-memory") {
		t.Errorf("a run over the room's memory: %v, want the -room-memory flag named", e)
	}
}

// TestClassNewCodeWhileAway: a page that was away while the teacher made a
// new code comes back with the old one; its seat token (or the teacher's
// key) finds the room, the page is told the new code and closed, and sits
// down under the new code.
func TestClassNewCodeWhileAway(t *testing.T) {
	_, srv := classServer(t, t.TempDir(), LiveOptions{})
	code, secret := openRoom(t, srv)
	token := join(t, srv, code, "Ada")
	teacher := teach(t, srv, code, secret)
	teacher.send(`{"v":1,"type":"room-cmd","cmd":"new-code"}`)
	nc := teacher.roomState(func(m map[string]any) bool { return m["code"] != code })["code"].(string)
	for _, first := range []string{
		fmt.Sprintf(`{"v":1,"type":"seat","room":%q,"seat":%q,"lesson":""}`, code, token),
		fmt.Sprintf(`{"v":1,"type":"teach","room":%q,"secret":%q,"lesson":""}`, code, secret),
	} {
		p := dialRoom(t, srv, code, first)
		moved := p.until("room-moved", func(m map[string]any) bool { return m["type"] == "room-moved" })
		if moved["code"] != nc {
			t.Errorf("%s: told %v, want the new code %s", first, moved, nc)
		}
		p.errorCode(codeRoomMoved)
		if _, err := p.read(); err == nil {
			t.Errorf("%s: the page stays open after room-moved", first)
		}
	}
	sit(t, srv, nc, token)
	teach(t, srv, nc, secret)
}

// TestClassJoinBurst: a class joining at the same instant from one address
// (a school's NAT) is not taken for guessing: only unknown codes count.
func TestClassJoinBurst(t *testing.T) {
	_, srv := classServer(t, t.TempDir(), LiveOptions{Class: ClassOptions{JoinFailures: 3}})
	code, _ := openRoom(t, srv)
	const n = 60
	errs := make(chan string, n)
	for i := range n {
		go func() {
			status, m := post(t, srv.URL+"/class/join", fmt.Sprintf(`{"code":%q,"nick":"S%d"}`, code, i))
			if status != http.StatusOK {
				errs <- fmt.Sprintf("%d %v", status, m)
				return
			}
			errs <- ""
		}()
	}
	for range n {
		if e := <-errs; e != "" {
			t.Errorf("a join of the burst: %s", e)
		}
	}
}

// TestClassBoardExportGated: drawing the board is a download like the
// others: one at a time per address (503 with Retry-After, in the page's
// language, while another is being computed).
func TestClassBoardExportGated(t *testing.T) {
	live, srv := classServer(t, t.TempDir(), LiveOptions{})
	code, _ := openRoom(t, srv)
	if !live.exports.enter("127.0.0.1") {
		t.Fatal("the address has a download already")
	}
	resp, body := fetch(t, srv.URL+"/class/"+code+"/board.png?lang=zh")
	live.exports.leave("127.0.0.1")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "正忙") {
		t.Errorf("board while another download computes: %d %q (Retry-After %q), want 503 in Chinese", resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
	if resp, _ := fetch(t, srv.URL+"/class/"+code+"/board.png"); resp.StatusCode != http.StatusConflict {
		t.Errorf("the empty board afterwards: %d, want 409", resp.StatusCode)
	}
}
