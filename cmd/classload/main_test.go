package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/paramshare/paramshare/lessons"
)

// TestTinyClass runs every phase with a class of three against a server
// built from this repository, in a temporary data directory: the harness
// must seat everyone, see frames in every phase and leave no session behind.
func TestTinyClass(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and spawns the server")
	}
	cfg := config{
		students: 3, baseline: true, conv: time.Second, cnn: 2 * time.Second, speed: 8, cnnEpochs: 20,
		forks: 1, forkTime: 2 * time.Second, forkMode: forkCopy, storm: true, stormJitter: 300 * time.Millisecond,
		cycles: 4, cycleWorkers: 2, settle: time.Second, dump: true,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var out bytes.Buffer
	res, err := run(ctx, cfg, &out)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	if res.burst.ok != 3 || res.burst.failed != 0 {
		t.Errorf("join burst: %d in, %d failed; want 3 in", res.burst.ok, res.burst.failed)
	}
	for _, name := range []string{"follow conv-slide", "follow cnn-train"} {
		if st := res.follow[name]; st.withFrames != 3 {
			t.Errorf("%s: %d of 3 students had frames", name, st.withFrames)
		}
	}
	if res.baselineFPS["cnn-train"] <= 0 || res.baselineFPS["conv-slide"] <= 0 {
		t.Errorf("baseline frame rates %v: want both above 0", res.baselineFPS)
	}
	if len(res.forkRates) != 1 || res.forkRates[0] <= 0 {
		t.Errorf("fork rates %v: want one above 0", res.forkRates)
	}
	// The fork is a copy: its first own frame is at the teacher's step (or
	// past it, the teacher's race moving on while the copy is made), not 0.
	if f := res.fork; f.teacherStep <= 0 || len(f.firstSteps) != 1 || f.firstSteps[0] < f.teacherStep || f.atTeacherStep != 1 {
		t.Errorf("fork: teacher at step %d, the fork's first own frame at step %v; want a copy at the teacher's step", f.teacherStep, f.firstSteps)
	}
	if res.goroutinesBefore <= 0 || res.goroutinesAfter <= 0 {
		t.Errorf("goroutines %d → %d from the server's profiles: want both counted", res.goroutinesBefore, res.goroutinesAfter)
	}
	if res.stormFailed != 0 || len(res.stormBack) != 3 {
		t.Errorf("storm: %d back, %d failed", len(res.stormBack), res.stormFailed)
	}
	if res.cyclesOK != 4 {
		t.Errorf("cycles: %d ok, %d failed; want 4 ok", res.cyclesOK, res.cyclesBad)
	}
	// Three students and the teacher are open at the end: one reader each.
	if n := res.goroutines["web.(*session).readPump"]; n != 4 {
		t.Errorf("%d session readers in the server's dump, want 4 (goroutines: %v)", n, res.goroutines)
	}
	for k := range res.refusals {
		if !strings.Contains(k, "not-started") {
			t.Errorf("unexpected refusal or error: %q", k)
		}
	}
	if !strings.Contains(out.String(), "Targets") {
		t.Error("no targets table printed")
	}
}

func TestFindWidget(t *testing.T) {
	set, err := lessons.Load(lessons.Embedded)
	if err != nil {
		t.Fatal(err)
	}
	for exp, lesson := range map[string]string{"conv-slide": "one-kernel-many-places", "cnn-train": "train-a-cnn-live"} {
		w, err := findWidget(set, exp)
		if err != nil {
			t.Fatal(err)
		}
		if w.lesson != lesson || len(w.params) == 0 {
			t.Errorf("%s: lesson %q params %v; want lesson %q with its params", exp, w.lesson, w.params, lesson)
		}
	}
	if _, err := findWidget(set, "no-such-widget"); err == nil {
		t.Error("an unknown widget was found")
	}
}

func TestScanInt(t *testing.T) {
	for in, want := range map[string]int{
		`{"v":1,"type":"frame","widget":"w1","seq":17,"step":240,"total":600,"data":{}}`: 240,
		`{"v":1,"type":"frame","widget":"w1","seq":1,"step":0,`:                          0,
		`{"v":1,"type":"frame"`: 0,
	} {
		if got := scanInt([]byte(in), stepKey); got != want {
			t.Errorf("scanInt(%s) = %d, want %d", in, got, want)
		}
	}
}

func TestCountGoroutines(t *testing.T) {
	dump := `SIGQUIT: quit
PC=0x4770e1 m=0 sigcode=0

goroutine 0 gp=0x1 m=0 mp=0x2 [idle]:
runtime.futex(0x1, 0x80)
	/usr/local/go/src/runtime/sys_linux_amd64.s:557 +0x21

goroutine 7 gp=0x3 m=nil [IO wait]:
runtime.gopark(0x0?, 0x0?, 0x0?)
	/usr/local/go/src/runtime/proc.go:435 +0xce
internal/poll.(*FD).Read(0xc0001a2000, {0xc000})
	/usr/local/go/src/internal/poll/fd_unix.go:165 +0x27a
github.com/gorilla/websocket.(*Conn).NextReader(0xc000)
	/root/go/pkg/mod/github.com/gorilla/websocket@v1.5.3/conn.go:1000 +0x2a
github.com/paramshare/paramshare/web.(*session).readPump(0xc000)
	/work/main/web/session.go:271 +0x8c
github.com/paramshare/paramshare/web.(*Live).ServeWS(0xc000)
	/work/main/web/live.go:340 +0x6d
created by net/http.(*Server).Serve in goroutine 1

goroutine 9 gp=0x4 m=nil [select]:
runtime.gopark(0x0?)
	/usr/local/go/src/runtime/proc.go:435 +0xce
net/http.(*persistConn).writeLoop(0xc000)
	/usr/local/go/src/net/http/transport.go:2600 +0xe7
`
	got := countGoroutines([]byte(dump))
	want := map[string]int{"runtime.futex": 1, "web.(*session).readPump": 1, "http.(*persistConn).writeLoop": 1}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
}
