package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// syncBuffer is stdout for run: written by the server's goroutines, read
// by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var listenLine = regexp.MustCompile(`listening on (https?://\S+)`)

// start runs the server with args on a free port and returns its base URL,
// the cancel function that stops it and a channel with run's result.
func start(t *testing.T, args ...string) (base string, stop context.CancelFunc, done <-chan error, out *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out = &syncBuffer{}
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, append([]string{"web", "-addr", "127.0.0.1:0"}, args...), func(string) string { return "" }, out)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := listenLine.FindStringSubmatch(out.String()); m != nil {
			t.Cleanup(cancel)
			return m[1], cancel, errc, out
		}
		select {
		case err := <-errc:
			cancel()
			t.Fatalf("run returned before listening: %v\n%s", err, out.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	t.Fatalf("no listening line within 10s:\n%s", out.String())
	return
}

func waitStopped(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v, want nil after a graceful shutdown", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return within 5s of cancelling its context")
	}
}

func getBody(t *testing.T, url string) (int, string) {
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
	return resp.StatusCode, string(b)
}

func TestRunStartStop(t *testing.T) {
	base, stop, done, out := start(t)
	if code, body := getBody(t, base+"/healthz"); code != 200 || body != "ok" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, body := getBody(t, base+"/en/lessons/one-kernel-many-places"); code != 200 || !strings.Contains(body, "One kernel, many places") {
		t.Errorf("lesson page = %d", code)
	}
	stop()
	waitStopped(t, done)
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("server still answers after shutdown")
	}
	log := out.String()
	for _, want := range []string{"level=INFO msg=request method=GET path=/healthz status=200", "msg=\"shutting down\"", "msg=stopped"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

// TestRunWebsocketOutlivesWriteTimeout checks that the server's
// WriteTimeout does not cut an open websocket, and that shutdown sends it a
// close frame instead of dropping the connection.
func TestRunWebsocketOutlivesWriteTimeout(t *testing.T) {
	saved := serverTimeouts
	serverTimeouts.write = 200 * time.Millisecond
	t.Cleanup(func() { serverTimeouts = saved })

	base, stop, done, _ := start(t)
	wsURL := "ws" + strings.TrimPrefix(base, "http") + "/ws"
	conn, _, err := websocket.DefaultDialer.Dial(wsURL, http.Header{"Origin": {base}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()

	time.Sleep(3 * serverTimeouts.write) // well past the deadline net/http set before the upgrade
	msg := `{"v":1,"type":"start","widget":"w1","experiment":"conv-slide","params":{"digit":0,"preset":"vertical-edge","stride":1,"padding":1,"dilation":1}}`
	if err := conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatalf("write after WriteTimeout: %v", err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := conn.ReadMessage(); err != nil {
		t.Fatalf("no reply after WriteTimeout passed: %v", err)
	}

	stop()
	var closeErr *websocket.CloseError
	for {
		_, _, err := conn.ReadMessage()
		if err == nil {
			continue // frames already in flight before the close
		}
		if !errors.As(err, &closeErr) {
			t.Fatalf("connection ended with %v, want a close frame", err)
		}
		break
	}
	if closeErr.Code != websocket.CloseGoingAway && closeErr.Code != websocket.CloseNormalClosure {
		t.Errorf("close code %d, want going away (1001) or normal (1000)", closeErr.Code)
	}
	waitStopped(t, done)
}

func TestRunServesLessonsDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "en"), 0o755); err != nil {
		t.Fatal(err)
	}
	lesson := "---\ntitle: My own lesson\nslug: mine\norder: 1\nsummary: Written by a teacher.\n---\nHello, class: $a^2$.\n"
	if err := os.WriteFile(filepath.Join(dir, "en", "mine.md"), []byte(lesson), 0o644); err != nil {
		t.Fatal(err)
	}
	base, stop, done, _ := start(t, "-lessons", dir, "-allow-origin", "https://a.example, https://b.example:8443", "-allow-origin", "http://c.example")
	if code, body := getBody(t, base+"/en/lessons/mine"); code != 200 || !strings.Contains(body, "Hello, class") {
		t.Errorf("teacher's lesson = %d", code)
	}
	if code, _ := getBody(t, base+"/en/lessons/one-kernel-many-places"); code != 404 {
		t.Errorf("built-in lesson served from a -lessons dir: status %d", code)
	}
	stop()
	waitStopped(t, done)
}

func TestRunRejectsBadConfiguration(t *testing.T) {
	badDir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(badDir, "en"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(badDir, "en", "x.md"), []byte("---\ntitle: X\nslug: x\norder: 1\nsummary: S\n---\n$\\nope$\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	widgetDir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(widgetDir, "en"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(widgetDir, "en", "w.md"), []byte("---\ntitle: W\nslug: w\norder: 1\nsummary: S\n---\n```widget conv-slide\n{\"stride\": 99, \"bogus\": 1}\n```\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-bogus"}, "flag provided but not defined"},
		{[]string{"-lessons", widgetDir}, `widget conv-slide: run: unknown parameter "bogus"`},
		{[]string{"-compute-slots", "-1"}, "-compute-slots must be between 0"},
		{[]string{"-allow-origin", "ftp://x"}, `web: -allow-origin "ftp://x": the scheme must be http or https; an origin is scheme://host[:port]`},
		{[]string{"-allow-origin", "https://class.example.org/course"}, `web: -allow-origin "https://class.example.org/course": it must not have a path, query or fragment`},
		{[]string{"-allow-origin", "https://a.example,https://b.example/x"}, `web: -allow-origin "https://b.example/x": it must not have a path`},
		{[]string{"-allow-origin", "https://x.example?a=1"}, `it must not have a path, query or fragment`},
		{[]string{"-allow-origin", "class.example.org"}, `web: -allow-origin "class.example.org": the scheme must be http or https`},
		{[]string{"-allow-origin", "https://"}, `the host is missing`},
		{[]string{"-allow-origin", "https://user@x.example"}, `must not carry a user name`},
		{[]string{"-allow-origin", "https://x.example:99999"}, `the port must be 1 to 65535`},
		{[]string{"-max-sessions", "0"}, "web: -max-sessions must be at least 1, got 0"},
		{[]string{"-max-sessions-per-ip", "0"}, "web: -max-sessions-per-ip must be between 1 and -max-sessions (1000), got 0"},
		{[]string{"-max-sessions", "10", "-max-sessions-per-ip", "11"}, "web: -max-sessions-per-ip must be between 1 and -max-sessions (10), got 11"},
		{[]string{"-lessons", filepath.Join(badDir, "missing")}, "reading the en directory"},
		{[]string{"-lessons", badDir}, `en/x.md: line 7: formula "\\nope": unknown command \nope`},
		{[]string{"extra"}, "unexpected arguments"},
		{[]string{"-addr", "127.0.0.1:-1"}, "web: listen"},
	}
	for _, tt := range tests {
		var out syncBuffer
		args := append([]string{"web"}, tt.args...)
		err := run(context.Background(), args, func(string) string { return "" }, &out)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("run %q = %v, want an error containing %q", tt.args, err, tt.want)
		}
	}
}

func TestRunAddrFromEnvironment(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	errc := make(chan error, 1)
	getenv := func(k string) string {
		if k == "PARAMSHARE_ADDR" {
			return "127.0.0.1:0"
		}
		return ""
	}
	go func() { errc <- run(ctx, []string{"web"}, getenv, &out) }()
	deadline := time.Now().Add(10 * time.Second)
	for !listenLine.MatchString(out.String()) {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("not listening:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(out.String(), "listening on http://127.0.0.1:") {
		t.Errorf("PARAMSHARE_ADDR not used: %s", out.String())
	}
	cancel()
	waitStopped(t, errc)
}

// TestRunSessionFlags: -max-sessions-per-ip and -allow-origin reach the live
// server: a second page from the same address is told why it is refused
// (close 1013), and an allowed origin given with a trailing slash matches
// the browser's Origin.
func TestRunSessionFlags(t *testing.T) {
	base, stop, done, _ := start(t, "-max-sessions", "5", "-max-sessions-per-ip", "1", "-allow-origin", "https://class.example.org/")
	wsURL := "ws" + strings.TrimPrefix(base, "http") + "/ws"
	conn, _, err := websocket.DefaultDialer.Dial(wsURL, http.Header{"Origin": {"https://class.example.org"}})
	if err != nil {
		t.Fatalf("dial from the allowed origin: %v", err)
	}
	defer conn.Close()
	second, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
	if err != nil {
		t.Fatalf("second page from one address: %v, want a socket that says why", err)
	}
	defer second.Close()
	_, body, err := second.ReadMessage()
	if err != nil || !strings.Contains(string(body), "at most 1") || !strings.Contains(string(body), `"too-many-sessions"`) {
		t.Errorf("refusal %q (%v) does not give the cap", body, err)
	}
	if _, _, err := second.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseTryAgainLater) {
		t.Errorf("after the refusal: %v, want close 1013", err)
	}
	conn.Close()
	stop()
	waitStopped(t, done)
}

// TestShutdownCancelsHeavyExport: SIGTERM (here: the context) while a
// download re-trains a race cancels the download with a 503, and run
// returns nil (exit status 0) well within the shutdown deadline.
func TestShutdownCancelsHeavyExport(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	base, stop, done, _ := start(t)
	status := make(chan int, 1)
	go func() {
		resp, err := http.Get(base + "/export/cnn-train.png?epochs=50&trainSize=5000&batch=256")
		if err != nil {
			status <- 0
			return
		}
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	time.Sleep(500 * time.Millisecond) // the export is training
	stopped := time.Now()
	stop()
	waitStopped(t, done)
	if code := <-status; code != http.StatusServiceUnavailable {
		t.Fatalf("export in flight at shutdown: %d, want 503", code)
	}
	t.Logf("stopped %v after the signal", time.Since(stopped).Round(time.Millisecond))
}
