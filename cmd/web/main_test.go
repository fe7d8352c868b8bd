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

var listenLine = regexp.MustCompile(`listening on (http://\S+)`)

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
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-bogus"}, "flag provided but not defined"},
		{[]string{"-allow-origin", "ftp://x"}, `origin "ftp://x" must look like https://host[:port]`},
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
