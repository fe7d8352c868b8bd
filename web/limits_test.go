package web

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestNumberBoundsMessages: a number that does not fit a whole-number
// field is refused with the field's real bounds; the exact messages are the
// protocol's.
func TestNumberBoundsMessages(t *testing.T) {
	_, srv := liveServer(t, LiveOptions{})
	c := dial(t, srv, "")
	c.send(`{"v":1,"type":"start","widget":"w1","experiment":"conv-slide","params":{"stride":2}}`)
	c.frameAt("w1", 0)
	for _, tc := range []struct{ msg, code, want string }{
		{`{"v":1,"type":"step","widget":"w1","n":99999999999999999999}`, "bad-params", `field "n" must be a whole number between 1 and 10000, got 99999999999999999999`},
		{`{"v":1,"type":"step","widget":"w1","n":2.5}`, "bad-params", `field "n" must be a whole number between 1 and 10000, got 2.5`},
		{`{"v":1,"type":"step","widget":"w1","n":0}`, "bad-params", `step count must be between 1 and 10000, got 0`},
		{`{"v":1,"type":"step","widget":"w1","n":"three"}`, "bad-field-type", `field "n" must be a number, got string`},
		// stride 2 with padding 1: a 14×14 map, so seek goes up to 196.
		{`{"v":1,"type":"seek","widget":"w1","to":1e30}`, "bad-params", `field "to" must be a whole number between 0 and 196, got 1e30`},
		{`{"v":1,"type":"seek","widget":"w1","to":197}`, "bad-params", `seek position must be between 0 and 196, got 197`},
		{`{"v":1,"type":"speed","widget":"w1","speed":1e400}`, "bad-params", `field "speed" must be a number between 0.25 and 120, got 1e400`},
		{`{"v":1e9,"type":"step","widget":"w1"}`, "bad-version", `protocol version 1e9 is not supported; this server speaks v1`},
		{`{"v":1,"type":"set-params","widget":"w1","params":{"digit":1e9}}`, "bad-params", `parameter "digit" must be a whole number between 0 and 999, got 1e9`},
	} {
		c.send(tc.msg)
		m := c.errorCode(tc.code)
		if m["message"] != tc.want {
			t.Errorf("%s:\n got  %q\n want %q", tc.msg, m["message"], tc.want)
		}
	}
	// Whole numbers in exponent form are accepted, null means absent.
	c.send(`{"v":1,"type":"step","widget":"w1","n":1e1}`)
	c.frameAt("w1", 10)
	c.send(`{"v":1,"type":"step","widget":"w1","n":null}`)
	c.frameAt("w1", 11)
}

// dialStatus opens /ws and returns the HTTP status (101 on success) and
// the body of a refusal; a successful connection is returned open.
func dialStatus(t *testing.T, url string) (int, string, *websocket.Conn) {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if resp == nil {
		t.Fatalf("dial: no response: %v", err)
	}
	if conn != nil {
		t.Cleanup(func() { conn.Close() })
		return resp.StatusCode, "", conn
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
		t.Errorf("503 without Retry-After")
	}
	return resp.StatusCode, string(b), nil
}

// waitOpen waits until the server counts n open sessions (a closed
// connection's session ends when its reader notices).
func waitOpen(t *testing.T, l *Live, n int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		l.mu.Lock()
		open := l.open
		l.mu.Unlock()
		if open == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions open, want %d", open, n)
		}
	}
}

// TestSessionCaps: past MaxSessions (and past MaxSessionsPerIP, here the
// same address for every client) a websocket is refused with 503 and a
// reason before any upgrade; closing a session frees its slot.
func TestSessionCaps(t *testing.T) {
	for _, tc := range []struct {
		name     string
		opts     LiveOptions
		cap      int
		inReason string
	}{
		{"total", LiveOptions{MaxSessions: 3, MaxSessionsPerIP: 100}, 3, "too many open sessions (the server allows 3 at once)"},
		{"per-ip", LiveOptions{MaxSessions: 100, MaxSessionsPerIP: 2}, 2, "too many open sessions from your address (at most 2)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			live, srv := liveServer(t, tc.opts)
			url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
			var conns []*websocket.Conn
			for range tc.cap {
				code, body, conn := dialStatus(t, url)
				if code != http.StatusSwitchingProtocols {
					t.Fatalf("session %d refused: %d %s", len(conns)+1, code, body)
				}
				conns = append(conns, conn)
			}
			code, body, _ := dialStatus(t, url)
			if code != http.StatusServiceUnavailable || !strings.Contains(body, tc.inReason) {
				t.Fatalf("one over the cap: %d %q, want 503 saying %q", code, body, tc.inReason)
			}
			t.Logf("refusal: %s", strings.TrimSpace(body))
			conns[0].Close()
			waitOpen(t, live, tc.cap-1)
			if code, body, _ := dialStatus(t, url); code != http.StatusSwitchingProtocols {
				t.Fatalf("after closing one: %d %s", code, body)
			}
		})
	}
}

// TestAdmitPerIP: the per-address cap counts each address on its own, and
// release frees exactly one slot of its address.
func TestAdmitPerIP(t *testing.T) {
	l := NewLive(LiveOptions{MaxSessions: 5, MaxSessionsPerIP: 2}, nil)
	for _, ip := range []string{"10.0.0.1", "10.0.0.1", "10.0.0.2", "10.0.0.2"} {
		if err := l.admit(ip); err != nil {
			t.Fatalf("admit %s: %v", ip, err)
		}
	}
	if err := l.admit("10.0.0.1"); err == nil || !strings.Contains(err.Error(), "from your address") {
		t.Fatalf("third from 10.0.0.1: %v", err)
	}
	if err := l.admit("10.0.0.3"); err != nil {
		t.Fatalf("another address: %v", err)
	}
	if err := l.admit("10.0.0.4"); err == nil || !strings.Contains(err.Error(), "allows 5 at once") {
		t.Fatalf("sixth session: %v", err)
	}
	l.release("10.0.0.1")
	if err := l.admit("10.0.0.4"); err != nil {
		t.Fatalf("after a release: %v", err)
	}
	if err := l.admit("10.0.0.1"); err == nil {
		t.Fatal("the total cap is full again, yet a session was admitted")
	}
	if got := l.opts; got.MaxSessions != 5 || got.MaxSessionsPerIP != 2 {
		t.Fatalf("options %+v", got)
	}
	if d := NewLive(LiveOptions{}, nil).opts; d.MaxSessions != DefaultMaxSessions || d.MaxSessionsPerIP != DefaultMaxSessionsPerIP {
		t.Fatalf("defaults %+v", d)
	}
}

// TestExportLimiter: with every export slot taken, conv-slide, conv-grad
// and param-calc exports are 503 with Retry-After and a reason; once a slot
// is free they are served again.
func TestExportLimiter(t *testing.T) {
	live, srv := liveServer(t, LiveOptions{})
	for range exportSlots {
		live.export <- struct{}{} // exports in progress
	}
	paths := []string{"/export/conv-slide.png", "/export/conv-grad.svg", "/export/param-calc.json"}
	for _, p := range paths {
		resp, b := fetch(t, srv.URL+p)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != exportRetryAfter || !strings.Contains(string(b), "export: busy") {
			t.Fatalf("%s with every slot taken: %d, Retry-After %q, %q", p, resp.StatusCode, resp.Header.Get("Retry-After"), b)
		}
	}
	// The exports finish. (With one slot free, not two, a request could
	// arrive before the previous handler's deferred release has run.)
	for range exportSlots {
		<-live.export
	}
	for _, p := range paths {
		if resp, _ := fetch(t, srv.URL+p); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s with a slot free: %d", p, resp.StatusCode)
		}
	}
	// Each export released its slot (the last one may still be releasing).
	for deadline := time.Now().Add(10 * time.Second); len(live.export) != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d export slots still taken after the exports", len(live.export))
		}
	}
}
