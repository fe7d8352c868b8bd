package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/paramshare/paramshare/class"
)

// TestMain keeps the tests' classroom data out of the user's state
// directory: -data defaults to $XDG_STATE_HOME/paramshare.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "paramshare-cmd-web")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_STATE_HOME", dir)
	// The servers these tests start share the test process: leave its
	// memory limit alone (-memory-base is a production setting).
	os.Setenv("GOMEMLIMIT", "off")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestDeleteRoom: -delete-room removes a room and its seats from -data and
// exits; an unknown code is an error naming it.
func TestDeleteRoom(t *testing.T) {
	dir := t.TempDir()
	st, err := class.Open(filepath.Join(dir, "class.db"))
	if err != nil {
		t.Fatal(err)
	}
	rec, _, err := st.CreateRoom(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Join(rec.Code, "Ada", 10, time.Now()); err != nil {
		t.Fatal(err)
	}
	st.Close()

	var out syncBuffer
	if err := run(context.Background(), []string{"web", "-data", dir, "-delete-room", strings.ToLower(rec.Code)}, func(string) string { return "" }, &out); err != nil {
		t.Fatalf("-delete-room: %v", err)
	}
	if !strings.Contains(out.String(), rec.Code+" and its data deleted") {
		t.Errorf("output %q does not say the room was deleted", out.String())
	}
	st, err = class.Open(filepath.Join(dir, "class.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.RoomByCode(rec.Code); err == nil {
		t.Errorf("room %s is still there", rec.Code)
	}
	err = run(context.Background(), []string{"web", "-data", dir, "-delete-room", "ZZZZZZ"}, func(string) string { return "" }, &out)
	if err == nil || !strings.Contains(err.Error(), "ZZZZZZ") {
		t.Errorf("deleting an unknown room: %v, want an error naming it", err)
	}
}

// TestClassFlags: the classroom's caps refuse nonsense.
func TestClassFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-rooms", "0"}, {"-room-seats", "-1"}, {"-room-sessions", "0"}, {"-room-memory", "0"}, {"-retention", "1m"},
		{"-delete-room", "ABCDEF", "-data", "off"},
	} {
		var out syncBuffer
		err := run(context.Background(), append([]string{"web", "-data", t.TempDir()}, args...), func(string) string { return "" }, &out)
		if err == nil {
			t.Errorf("run %q succeeded, want an error", args)
		}
	}
}

// TestDebugAddr: the profiles are served on loopback only.
func TestDebugAddr(t *testing.T) {
	var out syncBuffer
	err := run(context.Background(), []string{"web", "-data", "off", "-debug-addr", "0.0.0.0:0"}, func(string) string { return "" }, &out)
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("-debug-addr 0.0.0.0:0: %v, want a refusal naming loopback", err)
	}
	base, stop, _, out2 := start(t, "-data", "off", "-debug-addr", "127.0.0.1:0")
	defer stop()
	_ = base
	m := regexp.MustCompile(`profiles on (http://\S+/debug/pprof/)`).FindStringSubmatch(out2.String())
	if m == nil {
		t.Fatalf("no profiles line in %q", out2.String())
	}
	resp, err := http.Get(m[1] + "goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "goroutine profile: total") {
		t.Errorf("goroutine profile: %d %.100s", resp.StatusCode, b)
	}
}

// TestMemoryLimit: -memory-base's limit follows the declared memory.
func TestMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1)) // put back what the test found
	set := memoryLimit(64 << 20)
	set(30 * 15 << 20)
	if got, want := debug.SetMemoryLimit(-1), int64(64<<20+30*15<<20); got != want {
		t.Errorf("limit with 30 forks declared: %d, want %d", got, want)
	}
	set(0)
	if got := debug.SetMemoryLimit(-1); got != 64<<20 {
		t.Errorf("limit with nothing declared: %d, want %d", got, 64<<20)
	}
}
