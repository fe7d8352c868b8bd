package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gorilla/websocket"

	"github.com/paramshare/paramshare/run"
)

// stepper is the web tests' experiment: Total steps, each taking cost of
// real time (a sleep: it stands for a training step without using a core).
// Its exports write the step as text; the heavy one counts its builds.
type stepper struct {
	total, pos int
	cost       time.Duration
}

var (
	stepperBuilds  atomic.Int64
	stepperRunning atomic.Int64 // workers inside Advance now
	exportGate     chan struct{}
	exportsAtGate  atomic.Int64 // exports waiting at exportGate
)

func (s *stepper) Total() int { return s.total }
func (s *stepper) Pos() int   { return s.pos }
func (s *stepper) Advance() error {
	stepperRunning.Add(1)
	defer stepperRunning.Add(-1)
	time.Sleep(s.cost)
	s.pos++
	return nil
}
func (s *stepper) Restart() error { s.pos = 0; return nil }
func (s *stepper) SetParams(v run.Values) error {
	s.total, s.cost = v.Int("total"), time.Duration(v.Int("costMs"))*time.Millisecond
	s.pos = min(s.pos, s.total)
	return nil
}
func (s *stepper) Frame() run.Frame {
	return run.Frame{StaticRev: s.total, Static: map[string]int{"total": s.total}, Data: map[string]int{"pos": s.pos}}
}

func init() {
	fields := []run.Field{
		{Name: "total", Kind: run.Int, Default: 100, Min: 1, Max: 100000, Desc: run.Text{En: "number of steps", Zh: "步数"}},
		{Name: "costMs", Kind: run.Int, Default: 0, Min: 0, Max: 1000, Desc: run.Text{En: "milliseconds a step", Zh: "每步毫秒数"}},
		{Name: "preset", Kind: run.Choice, Default: "a", Choices: []string{"a", "b"}, Desc: run.Text{En: "preset", Zh: "预设"}},
	}
	build := func(v run.Values) (run.Experiment, error) {
		stepperBuilds.Add(1)
		s := &stepper{}
		s.SetParams(v)
		return s, nil
	}
	text := func(w io.Writer, exp run.Experiment, lang string) error {
		_, err := fmt.Fprintf(w, "%s step %d of %d", lang, exp.Pos(), exp.Total())
		return err
	}
	gated := func(w io.Writer, exp run.Experiment, lang string) error {
		if exportGate != nil {
			exportsAtGate.Add(1)
			<-exportGate
			exportsAtGate.Add(-1)
		}
		return text(w, exp, lang)
	}
	// The csv export refuses, with its reason, until the run has a step.
	notYet := func(w io.Writer, exp run.Experiment, lang string) error {
		if exp.Pos() == 0 {
			return run.NewError("not-ready", "nothing to tabulate at step 0: take a step first", "第 0 步还没有可列的表：请先走一步")
		}
		return text(w, exp, lang)
	}
	run.Register(run.Spec{
		Name: "stepper", Title: run.Text{En: "Stepper", Zh: "步进"}, Fields: fields, New: build,
		Exports: []run.Export{{Format: "json", Write: text}, {Format: "svg", Write: gated}, {Format: "png", Heavy: true, Write: gated}, {Format: "csv", Write: notYet}},
		Widget:  fstest.MapFS{"stepper.js": {Data: []byte("export default function mount() {}\n")}},
		Budget:  run.Budget{Step: time.Second, Memory: 100 << 20, FrameBytes: 100, StaticBytes: 100},
	})
}

// liveServer serves Live on its own mux, as routes.go registers it.
func liveServer(t *testing.T, opts LiveOptions) (*Live, *httptest.Server) {
	t.Helper()
	live := NewLive(opts, nil)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws", live.ServeWS)
	mux.HandleFunc("GET /export/{file}", live.ServeExport)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		live.Shutdown(ctx)
		srv.Close()
	})
	return live, srv
}

// wsClient is a test client that reads messages as generic JSON.
type wsClient struct {
	t     *testing.T
	conn  *websocket.Conn
	hello map[string]any
	// inbox, when set, holds what a reader goroutine took off the
	// connection: a pipe, unlike a TCP socket, buffers nothing, and a
	// server's write would otherwise wait for the test to read.
	inbox chan inboxItem
}

type inboxItem struct {
	b   []byte
	err error
}

func wsURL(srv *httptest.Server, lang string) string {
	u := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
	if lang != "" {
		u += "?lang=" + lang
	}
	return u
}

func dial(t *testing.T, srv *httptest.Server, origin string) *wsClient {
	t.Helper()
	return dialLang(t, srv, origin, "")
}

func dialLang(t *testing.T, srv *httptest.Server, origin, lang string) *wsClient {
	t.Helper()
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	conn, resp, err := websocket.DefaultDialer.Dial(wsURL(srv, lang), h)
	if err != nil {
		t.Fatalf("dial: %v (response %v)", err, resp)
	}
	t.Cleanup(func() { conn.Close() })
	c := &wsClient{t: t, conn: conn}
	if c.hello = c.next(); c.hello["type"] != "hello" {
		t.Fatalf("first message %v, want hello", c.hello)
	}
	return c
}

func (c *wsClient) send(msg string) {
	c.t.Helper()
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		c.t.Fatalf("send %s: %v", msg, err)
	}
}

func (c *wsClient) next() map[string]any {
	c.t.Helper()
	m, err := c.read()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return m
}

func (c *wsClient) read() (map[string]any, error) {
	var b []byte
	var err error
	if c.inbox != nil {
		select {
		case it := <-c.inbox:
			b, err = it.b, it.err
		case <-time.After(30 * time.Second):
			err = errors.New("no message within 30 s")
		}
	} else {
		c.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, b, err = c.conn.ReadMessage()
	}
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("server sent bad JSON %s: %v", b, err)
	}
	if m["v"] != 1.0 {
		return nil, fmt.Errorf("message without v=1: %s", b)
	}
	return m, nil
}

// until reads messages until one satisfies ok and returns it.
func (c *wsClient) until(what string, ok func(map[string]any) bool) map[string]any {
	c.t.Helper()
	for range 5000 {
		if m := c.next(); ok(m) {
			return m
		}
	}
	c.t.Fatalf("no %s within 5000 messages", what)
	return nil
}

func (c *wsClient) frameAt(widget string, step int) map[string]any {
	c.t.Helper()
	return c.until(fmt.Sprintf("frame of %s at step %d", widget, step), func(m map[string]any) bool {
		return m["type"] == "frame" && m["widget"] == widget && int(m["step"].(float64)) == step
	})
}

func (c *wsClient) state(widget, state string) map[string]any {
	c.t.Helper()
	return c.until("state "+state, func(m map[string]any) bool {
		return m["type"] == "state" && m["widget"] == widget && m["state"] == state
	})
}

func (c *wsClient) errorCode(code string) map[string]any {
	c.t.Helper()
	m := c.until("error "+code, func(m map[string]any) bool { return m["type"] == "error" })
	if m["code"] != code || m["message"] == "" {
		c.t.Fatalf("error %v, want code %q with a message", m, code)
	}
	return m
}

// closeOf reads until the connection closes and returns the close error.
func (c *wsClient) closeOf() *websocket.CloseError {
	c.t.Helper()
	for {
		_, err := c.read()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			c.t.Fatalf("read: %v, want a close frame", err)
		}
		return ce
	}
}

// fetch GETs url and returns the response (its body already read and
// closed) and the body.
func fetch(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// Score makes the stepper a trainer for the class board: its loss falls
// as 1/(step+1); it measures no accuracy.
func (s *stepper) Score() run.Score {
	return run.Score{Loss: 1 / float64(s.pos+1), Accuracy: math.NaN()}
}
