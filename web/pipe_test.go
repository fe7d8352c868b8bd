package web

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Sessions on fake time: a test inside a testing/synctest bubble talks to
// Live over an in-memory pipe instead of a TCP socket, so that every timer
// of the session (pacing, pings) and of its runs (ticks, steps that take
// time) runs on the bubble's clock and timing assertions are exact.

// hijackWriter is the server side of a piped request: Upgrade hijacks it.
type hijackWriter struct {
	http.ResponseWriter // nil: Upgrade hijacks before writing anything
	conn                net.Conn
	header              http.Header
}

func (h *hijackWriter) Header() http.Header { return h.header }

func (h *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return h.conn, bufio.NewReadWriter(bufio.NewReader(h.conn), bufio.NewWriter(h.conn)), nil
}

// pipeDial opens a session of live over a pipe, from address ip, with
// the page language lang, and returns the client after its hello. The
// session ends when the client closes.
func pipeDial(t *testing.T, live *Live, ip, lang string) *wsClient {
	t.Helper()
	client, server := net.Pipe()
	go func() {
		req, err := http.ReadRequest(bufio.NewReader(server))
		if err != nil {
			server.Close()
			return
		}
		req.RemoteAddr = ip + ":1234"
		live.ServeWS(&hijackWriter{conn: server, header: http.Header{}}, req)
	}()
	d := websocket.Dialer{NetDialContext: func(context.Context, string, string) (net.Conn, error) { return client, nil }}
	u := "ws://paramshare.test/ws"
	if lang != "" {
		u += "?lang=" + lang
	}
	conn, _, err := d.Dial(u, nil)
	if err != nil {
		t.Fatalf("pipe dial: %v", err)
	}
	c := &wsClient{t: t, conn: conn, inbox: make(chan inboxItem, 100000)}
	go func() {
		for {
			_, b, err := conn.ReadMessage()
			c.inbox <- inboxItem{b, err}
			if err != nil {
				return
			}
		}
	}()
	if c.hello = c.next(); c.hello["type"] != "hello" {
		t.Fatalf("first message %v, want hello", c.hello)
	}
	return c
}

// fakeLive returns a Live for a synctest bubble; stop shuts it down and
// waits for its sessions, then (on the bubble's clock, so at no cost) for
// the runs to finish the step they were taking: a bubble may end only when
// every goroutine it started has.
func fakeLive(t *testing.T, opts LiveOptions) (live *Live, stop func()) {
	live = NewLive(opts, nil)
	return live, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := live.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		time.Sleep(10 * time.Second)
	}
}
