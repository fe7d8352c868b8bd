package run

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// panicky is a fake experiment of 10 steps whose Advance panics at step
// panicAt, and whose Frame panics when framePanics is set.
type panicky struct {
	pos, panicAt int
	framePanics  bool
}

func (e *panicky) Total() int { return 10 }
func (e *panicky) Pos() int   { return e.pos }
func (e *panicky) Advance() error {
	if e.pos == e.panicAt {
		var m map[string]int
		m["boom"]++ // a real runtime panic: assignment to a nil map
	}
	e.pos++
	return nil
}
func (e *panicky) Seek(k int) error                { e.pos = k; return nil }
func (e *panicky) SetParams(json.RawMessage) error { return nil }
func (e *panicky) Frame() Frame {
	if e.framePanics {
		panic("frame: cannot draw")
	}
	return Frame{Data: e.pos}
}

// waitState waits (up to a generous deadline, not a timing assertion) for
// the subscription to show state want, and returns that update.
func waitState(t *testing.T, sub *Subscription, notify <-chan struct{}, want State) Update {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		if u, ok := sub.Latest(); ok && u.State == want {
			return u
		}
		select {
		case <-notify:
		case <-deadline:
			t.Fatalf("run never reached state %q", want)
		}
	}
}

// TestPanicWhilePlayingFailsOnlyThatRun plays a run whose experiment panics
// on its own ticker goroutine: the process survives (the test would die
// otherwise), the run is Failed with a readable message, another run keeps
// working, and the failed run recovers on reset.
func TestPanicWhilePlayingFailsOnlyThatRun(t *testing.T) {
	bad := New(&panicky{panicAt: 3})
	t.Cleanup(bad.Close)
	good := New(&panicky{panicAt: -1})
	t.Cleanup(good.Close)
	notify := make(chan struct{}, 1)
	sub := bad.Subscribe(notify)
	if err := bad.SetSpeed(MaxSpeed); err != nil {
		t.Fatal(err)
	}
	if err := bad.Play(); err != nil {
		t.Fatal(err)
	}
	u := waitState(t, sub, notify, Failed)
	if u.Step != 3 || !strings.Contains(u.Err, "*run.panicky crashed") || !strings.Contains(u.Err, "nil map") {
		t.Fatalf("failed update: step %d, error %q", u.Step, u.Err)
	}
	t.Logf("failed run says: %s", u.Err)
	wantCode(t, bad.Step(1), CodeDone)

	if err := good.Step(10); err != nil {
		t.Fatal(err)
	}
	if s := good.Snapshot(); s.State != Done || s.Step != 10 {
		t.Fatalf("the other run: %s at %d", s.State, s.Step)
	}
	if err := bad.Reset(); err != nil {
		t.Fatal(err)
	}
	if err := bad.Step(2); err != nil {
		t.Fatal(err)
	}
	if s := bad.Snapshot(); s.State != Paused || s.Step != 2 || s.Err != "" {
		t.Fatalf("after reset: %+v", s)
	}
}

// TestPanicInCommandFailsTheRun: a panic inside Step (on the caller's
// goroutine) is returned as a step-failed error and leaves the run Failed.
func TestPanicInCommandFailsTheRun(t *testing.T) {
	r := New(&panicky{panicAt: 1})
	t.Cleanup(r.Close)
	err := r.Step(5)
	wantCode(t, err, CodeStepFailed)
	if s := r.Snapshot(); s.State != Failed || s.Step != 1 {
		t.Fatalf("after the panic: %s at %d (%s)", s.State, s.Step, s.Err)
	}
}

// TestPanicInFrameKeepsLastPicture: an experiment that panics while drawing
// fails the run; viewers keep the last picture drawn.
func TestPanicInFrameKeepsLastPicture(t *testing.T) {
	e := &panicky{panicAt: -1}
	r := New(e)
	t.Cleanup(r.Close)
	sub := r.Subscribe(nil) // a viewer, which has seen every picture
	if err := r.Step(4); err != nil {
		t.Fatal(err)
	}
	e.framePanics = true
	// The step itself succeeds; drawing it fails the run, which is what
	// the state message then reports.
	if err := r.Step(1); err != nil {
		t.Fatal(err)
	}
	s, ok := sub.Latest()
	if !ok || s.State != Failed || s.Frame.Data != 4 || !strings.Contains(s.Err, "frame: cannot draw") {
		t.Fatalf("after a panic in Frame: %s, frame %v, error %q", s.State, s.Frame.Data, s.Err)
	}
}

// TestCNNTrainBackgroundPanic makes the background shift test panic (a job
// whose weight snapshot is missing) and checks that the goroutine recovers,
// the run fails with the message, and a reset clears it.
func TestCNNTrainBackgroundPanic(t *testing.T) {
	r, err := Start(CNNTrainName, json.RawMessage(`{"trainSize":96,"epochs":1}`))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	notify := make(chan struct{}, 1)
	sub := r.Subscribe(notify)
	c := r.exp.(*CNNTrain)
	job := &shiftJob{step: 1} // no weights: runShift indexes past the end
	c.mu.Lock()
	c.job = job
	c.jobsDone.Add(1)
	c.mu.Unlock()
	go c.background(job, c.p)
	u := waitState(t, sub, notify, Failed)
	if !strings.Contains(u.Err, "cnn-train shift test crashed") || !strings.Contains(u.Err, "index out of range") {
		t.Fatalf("failure message %q", u.Err)
	}
	c.WaitShift()
	if err := r.Reset(); err != nil {
		t.Fatal(err)
	}
	if err := r.Step(1); err != nil {
		t.Fatal(err)
	}
	if s := r.Snapshot(); s.State == Failed || s.Step != 1 {
		t.Fatalf("after reset and a step: %s at %d (%s)", s.State, s.Step, s.Err)
	}
}
