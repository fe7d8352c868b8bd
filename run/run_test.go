package run

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestControlStateMachine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, _ := newCounter(t, 81, time.Millisecond, Options{})
		defer closeAll(r)
		if u := r.Snapshot(); u.State != Paused || u.Step != 0 || u.Total != 81 {
			t.Fatalf("start: %s %d/%d, want paused 0/81", u.State, u.Step, u.Total)
		}
		if err := r.Step(5); err != nil {
			t.Fatal(err)
		}
		if u := settle(t, r); u.Step != 5 || u.State != Paused || stepOf(u) != 5 {
			t.Fatalf("after step 5: %s %d", u.State, u.Step)
		}
		wantCode(t, r.Step(0), CodeBadParams)
		wantCode(t, r.Step(MaxStepN+1), CodeBadParams)
		if err := r.Step(1000); err != nil { // more than is left: stops at the end
			t.Fatal(err)
		}
		if u := settle(t, r); u.Step != 81 || u.State != Done {
			t.Fatalf("after stepping past the end: %s %d, want done 81", u.State, u.Step)
		}
		wantCode(t, r.Step(1), CodeDone)
		if err := r.Reset(); err != nil {
			t.Fatal(err)
		}
		if u := settle(t, r); u.Step != 0 || u.State != Paused {
			t.Fatalf("after reset: %s %d", u.State, u.Step)
		}

		// Play advances at the run's speed; pause stops it where it is.
		if err := r.SetSpeed(10); err != nil {
			t.Fatal(err)
		}
		if err := r.Play(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(550 * time.Millisecond) // steps at 0, 100, …, 500 ms
		if err := r.Pause(); err != nil {
			t.Fatal(err)
		}
		at := settle(t, r)
		if at.State != Paused || at.Step != 6 {
			t.Fatalf("after 0.55 s of play at 10 steps/s: %s at %d, want paused at 6", at.State, at.Step)
		}
		time.Sleep(time.Second)
		if u := r.Snapshot(); u.Step != at.Step {
			t.Fatalf("paused run moved from %d to %d", at.Step, u.Step)
		}

		// Seek forwards, backwards (restart and replay) and out of range.
		for _, k := range []int{40, 10, 81, 0} {
			if err := r.Seek(k); err != nil {
				t.Fatal(err)
			}
			if u := settle(t, r); u.Step != k || stepOf(u) != k {
				t.Fatalf("seek %d: at %d", k, u.Step)
			}
		}
		before := r.Snapshot()
		wantCode(t, r.Seek(82), CodeBadParams)
		wantCode(t, r.Seek(-1), CodeBadParams)
		if u := r.Snapshot(); u.Seq != before.Seq {
			t.Fatal("a refused seek published an update")
		}
		// Playing a finished run starts again from 0.
		r.Seek(81)
		settle(t, r)
		r.Play()
		time.Sleep(50 * time.Millisecond)
		if u := r.Snapshot(); u.State != Running || u.Step > 2 {
			t.Fatalf("play after done: %s at %d, want running from 0", u.State, u.Step)
		}
	})
}

// TestLongSeekIsInterruptible: a seek of 4,000 steps of 10 ms (40 s of
// work) does not hold up a subscribe, a pause or a close: each is served
// at once, the pause stops the work within 100 ms, and the worker of a
// closed run ends within a second.
func TestLongSeekIsInterruptible(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, _ := newCounter(t, 4000, 10*time.Millisecond, Options{})
		defer closeAll(r)
		if err := r.Seek(4000); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		t0 := time.Now()
		sub := r.Subscribe(nil)
		u, ok := sub.Latest()
		if !ok || u.State != Working || u.Target != 4000 || u.Step == 0 {
			t.Fatalf("subscribe during the seek: %v %+v", ok, u)
		}
		if err := r.Pause(); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(t0); d != 0 {
			t.Fatalf("subscribe and pause waited %v for the worker", d)
		}
		time.Sleep(100 * time.Millisecond)
		at := r.Snapshot()
		if at.State != Paused {
			t.Fatalf("100 ms after pause: %s", at.State)
		}
		time.Sleep(2 * time.Second)
		if u := r.Snapshot(); u.Step != at.Step || u.Step >= 4000 {
			t.Fatalf("paused seek went on: %d → %d", at.Step, u.Step)
		}

		// Seeking elsewhere cancels the seek under way.
		r.Seek(4000)
		time.Sleep(500 * time.Millisecond)
		r.Seek(3)
		if u := settle(t, r); u.Step != 3 {
			t.Fatalf("second seek: at %d, want 3", u.Step)
		}

		r.Seek(4000)
		time.Sleep(time.Second)
		r.Close()
		select {
		case <-r.Done():
		case <-time.After(time.Second):
			t.Fatal("worker of a closed run still running a second later")
		}
		wantCode(t, r.Play(), CodeClosed)
		if _, ok := sub.Latest(); ok {
			t.Fatal("closed run still delivers")
		}
	})
}

// TestFrameEncodedOnce: 50 viewers of one run get the same bytes, encoded
// once per update.
func TestFrameEncodedOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, c := newCounter(t, 10, time.Millisecond, Options{})
		defer closeAll(r)
		subs := make([]*Subscription, 50)
		for i := range subs {
			subs[i] = r.Subscribe(nil)
		}
		before := c.encodings.Load()
		for range 10 {
			r.Step(1)
			settle(t, r)
		}
		if n := c.encodings.Load() - before; n > 10 {
			t.Fatalf("10 steps watched by 50 viewers encoded the frame %d times, want ≤ 10", n)
		}
		first, _ := subs[0].Latest()
		for _, s := range subs[1:] {
			u, ok := s.Latest()
			if !ok || &u.Data[0] != &first.Data[0] {
				t.Fatal("viewers got different frame bytes")
			}
		}
		if stepOf(first) != 10 {
			t.Fatalf("last frame at %d", stepOf(first))
		}
	})
}

// TestFairShareByAddress: with one CPU slot, an address playing one run
// gets as much of it as an address seeking with eight, and within an
// address a session with one run as much as a session with seven.
func TestFairShareByAddress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewScheduler(1)
		var greedy []*Run
		for i := range 8 {
			r, _ := newCounter(t, 100000, 10*time.Millisecond, Options{Sched: s, Owner: Owner{Addr: "10.0.0.1", Session: fmt.Sprint(min(i, 1))}})
			greedy = append(greedy, r)
		}
		lone, _ := newCounter(t, 100000, 10*time.Millisecond, Options{Sched: s, Owner: Owner{Addr: "10.0.0.2", Session: "x"}})
		for _, r := range greedy {
			r.Seek(100000)
		}
		lone.Seek(100000)
		time.Sleep(20 * time.Second)
		var a int
		for _, r := range greedy {
			a += r.Snapshot().Step
		}
		b := lone.Snapshot().Step
		t.Logf("20 s of one slot at 10 ms a step: greedy address %d steps, lone address %d", a, b)
		if b < 800 || a > 1200 {
			t.Fatalf("lone address got %d of %d steps, want about half", b, a+b)
		}
		// Session "0" of the greedy address has one run, session "1" seven.
		if one := greedy[0].Snapshot().Step; one < a*2/5 {
			t.Fatalf("the one-run session got %d of its address's %d steps, want about half", one, a)
		}
		closeAll(append(greedy, lone)...)
	})
}

func TestSpeedBounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, _ := newCounter(t, 10, 0, Options{})
		defer closeAll(r)
		for _, sps := range []float64{0, MinSpeed / 2, MaxSpeed + 1, -1} {
			wantCode(t, r.SetSpeed(sps), CodeBadParams)
		}
		if err := r.SetSpeed(MaxSpeed); err != nil {
			t.Fatal(err)
		}
		if r.Snapshot().Speed != MaxSpeed {
			t.Fatal("speed not taken")
		}
	})
}

func TestSetParams(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, _ := newCounter(t, 100, time.Millisecond, Options{})
		defer closeAll(r)
		r.Step(50)
		before := settle(t, r)
		for _, raw := range []string{`{"total":0}`, `{"TOTAL":5}`, `{"total":"5"}`, `{"total":5.5}`, `[1]`, `{"total":5}{}`, `{"preset":"d"}`} {
			if err := r.SetParams(json.RawMessage(raw)); err == nil {
				t.Fatalf("%s accepted", raw)
			} else if pe, ok := AsParamError(err); !ok || pe.Text.Zh == "" {
				t.Fatalf("%s: %v is not a ParamError in both languages", raw, err)
			}
		}
		if u := r.Snapshot(); u.Seq != before.Seq || !u.Params.Equal(before.Params) {
			t.Fatal("refused parameters changed the run")
		}
		// null keeps a value; a smaller total keeps as many steps as fit.
		if err := r.SetParams(json.RawMessage(`{"total":30,"costMs":null,"shift":true}`)); err != nil {
			t.Fatal(err)
		}
		u := settle(t, r)
		if u.Step != 30 || u.Total != 30 || u.Params.Int("costMs") != 1 || !u.Params.Bool("shift") || u.State != Done {
			t.Fatalf("after set-params: %+v", u)
		}
		// New parameters interrupt a long move.
		r.SetParams(json.RawMessage(`{"total":100000}`))
		settle(t, r)
		r.Seek(100000)
		time.Sleep(time.Second)
		r.SetParams(json.RawMessage(`{"total":20}`))
		if u := settle(t, r); u.State != Done || u.Step != 20 {
			t.Fatalf("set-params during a seek: %s at %d", u.State, u.Step)
		}
	})
}

func TestPanicsFailOnlyTheirRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bad, c := newCounter(t, 10, time.Millisecond, Options{})
		good, _ := newCounter(t, 10, time.Millisecond, Options{})
		defer closeAll(bad, good)
		c.panicAt = 3
		bad.SetSpeed(MaxSpeed)
		bad.Play()
		good.Step(10)
		u := settle(t, bad)
		for u.State == Running {
			time.Sleep(10 * time.Millisecond)
			u = bad.Snapshot()
		}
		if u.State != Failed || !strings.Contains(u.Err.En, "crashed") || u.Step != 3 {
			t.Fatalf("bad run: %s at %d: %q", u.State, u.Step, u.Err.En)
		}
		if g := settle(t, good); g.State != Done || g.Step != 10 {
			t.Fatalf("good run: %s at %d", g.State, g.Step)
		}
		wantCode(t, bad.Step(1), CodeDone)
		c.panicAt = -1
		bad.Reset()
		if u := settle(t, bad); u.State != Paused || u.Step != 0 || u.Err.En != "" {
			t.Fatalf("after reset: %+v", u)
		}

		// A frame that cannot be drawn fails the run; viewers keep the last
		// picture.
		bad.Step(2)
		last := settle(t, bad)
		c.framePanics = true
		bad.Step(1)
		u = settle(t, bad)
		if u.State != Failed || string(u.Data) != string(last.Data) {
			t.Fatalf("frame panic: %s, data %s (last %s)", u.State, u.Data, last.Data)
		}
	})
}

func TestDivergedRunSeeksBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, c := newCounter(t, 10, time.Millisecond, Options{})
		defer closeAll(r)
		c.divergeAt = 5
		r.Step(10)
		if u := settle(t, r); u.State != Diverged || u.Step != 5 {
			t.Fatalf("%s at %d, want diverged at 5", u.State, u.Step)
		}
		wantCode(t, r.Step(1), CodeDone)
		r.Seek(2)
		if u := settle(t, r); u.State != Paused || u.Step != 2 || u.Err.En != "" {
			t.Fatalf("seek back: %+v", u)
		}
	})
}

func TestStartDecodesParams(t *testing.T) {
	r, err := Start("test-counter", json.RawMessage(`{"total":7}`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if u := r.Snapshot(); u.Total != 7 || u.Params.Int("total") != 7 {
		t.Fatalf("%+v", u)
	}
	if _, err := Start("test-counter", json.RawMessage(`{"total":-7}`), Options{}); err == nil {
		t.Fatal("bad params accepted")
	}
	_, err = Start("nope", nil, Options{})
	wantCode(t, err, CodeUnknownExperiment)
	if code, msg := Message(err, "zh"); code != CodeUnknownExperiment || !strings.Contains(msg, "没有") {
		t.Fatalf("zh message: %s %s", code, msg)
	}
}

// TestPlayDuringSeek: a page reconnecting mid-run sends start, seek to its
// step and play: the run arrives at the step, then plays on from there.
func TestPlayDuringSeek(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, _ := newCounter(t, 1000, 10*time.Millisecond, Options{})
		defer closeAll(r)
		r.Seek(300)
		r.Play()
		if u := r.Snapshot(); u.State != Working || u.Target != 300 {
			t.Fatalf("play during a seek: %s to %d", u.State, u.Target)
		}
		time.Sleep(3100 * time.Millisecond) // the seek: 300 steps of 10 ms
		u := r.Snapshot()
		if u.State != Running || u.Step < 300 || u.Step > 310 {
			t.Fatalf("after the seek: %s at %d, want running from 300", u.State, u.Step)
		}
		// A pause during the seek cancels the play that waited for it.
		r.Seek(0)
		settle(t, r)
		r.Seek(300)
		r.Play()
		time.Sleep(time.Second)
		r.Pause()
		if u := settle(t, r); u.State != Paused || u.Step >= 300 {
			t.Fatalf("pause during the seek: %s at %d", u.State, u.Step)
		}
	})
}
