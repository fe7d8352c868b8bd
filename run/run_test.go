package run

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/paramshare/paramshare/engine"
)

func startConv(t *testing.T, params string) *Run {
	t.Helper()
	r, err := Start(ConvSlideName, json.RawMessage(params))
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(r.Close)
	return r
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var re *Error
	if !errors.As(err, &re) || re.Code != code {
		t.Fatalf("error %v, want code %q", err, code)
	}
}

func TestControlStateMachine(t *testing.T) {
	r := startConv(t, `{"digit":3,"preset":"blur","stride":3,"padding":0,"dilation":1}`)
	u := r.Snapshot()
	if u.State != Paused || u.Step != 0 || u.Total != 9*9 {
		t.Fatalf("start: state %s step %d/%d, want paused 0/81", u.State, u.Step, u.Total)
	}
	if err := r.Step(5); err != nil {
		t.Fatal(err)
	}
	if u := r.Snapshot(); u.Step != 5 || u.State != Paused {
		t.Fatalf("after step 5: %s %d", u.State, u.Step)
	}
	wantCode(t, r.Step(0), CodeBadParams)
	wantCode(t, r.Step(MaxStepN+1), CodeBadParams)
	if err := r.Step(1000); err != nil { // more than is left: stops at the end
		t.Fatal(err)
	}
	if u := r.Snapshot(); u.Step != 81 || u.State != Done {
		t.Fatalf("after stepping past the end: %s %d, want done 81", u.State, u.Step)
	}
	wantCode(t, r.Step(1), CodeDone)
	if err := r.Reset(); err != nil {
		t.Fatal(err)
	}
	if u := r.Snapshot(); u.Step != 0 || u.State != Paused {
		t.Fatalf("after reset: %s %d", u.State, u.Step)
	}

	// Play advances on the run's own ticker; pause stops it where it is.
	if err := r.SetSpeed(MaxSpeed); err != nil {
		t.Fatal(err)
	}
	if err := r.Play(); err != nil {
		t.Fatal(err)
	}
	if r.Snapshot().State != Running {
		t.Fatal("not running after play")
	}
	deadline := time.Now().Add(5 * time.Second)
	for r.Snapshot().Step < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := r.Pause(); err != nil {
		t.Fatal(err)
	}
	at := r.Snapshot()
	if at.State != Paused || at.Step < 3 {
		t.Fatalf("after play+pause: %s at %d, want paused at ≥ 3", at.State, at.Step)
	}
	time.Sleep(50 * time.Millisecond) // > 5 periods at 120 steps/s
	if got := r.Snapshot().Step; got != at.Step {
		t.Fatalf("paused run moved from %d to %d", at.Step, got)
	}

	// Playing to the end finishes the run; playing a finished run restarts it.
	if err := r.Step(81 - at.Step); err != nil {
		t.Fatal(err)
	}
	if err := r.Play(); err != nil {
		t.Fatal(err)
	}
	if u := r.Snapshot(); u.State != Running || u.Step != 0 {
		t.Fatalf("play on done: %s at %d, want running from 0", u.State, u.Step)
	}
	deadline = time.Now().Add(5 * time.Second)
	for r.Snapshot().State != Done && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if u := r.Snapshot(); u.State != Done || u.Step != 81 {
		t.Fatalf("played to the end: %s at %d", u.State, u.Step)
	}
	r.Close()
	wantCode(t, r.Play(), CodeClosed)
}

func TestSpeedBounds(t *testing.T) {
	r := startConv(t, `{}`)
	for _, sps := range []float64{0, MinSpeed / 2, MaxSpeed + 1, math.NaN(), math.Inf(1), -3} {
		wantCode(t, r.SetSpeed(sps), CodeBadParams)
	}
	if got := r.Snapshot().Speed; got != DefaultSpeed {
		t.Fatalf("speed %g after refused changes, want %g", got, float64(DefaultSpeed))
	}
	if err := r.SetSpeed(MinSpeed); err != nil {
		t.Fatal(err)
	}
}

// TestInvalidSetParamsChangesNothing checks that each refused set-params
// leaves the run exactly as it was: state, step, speed, sequence number and
// frame, paused and while running.
func TestInvalidSetParamsChangesNothing(t *testing.T) {
	bad := map[string]string{
		"stride 0":          `{"stride":0}`,
		"stride 4":          `{"stride":4}`,
		"padding 3":         `{"padding":3}`,
		"padding -1":        `{"padding":-1}`,
		"dilation 3":        `{"dilation":3}`,
		"digit -1":          `{"digit":-1}`,
		"digit too big":     `{"digit":100000}`,
		"preset":            `{"preset":"emboss"}`,
		"stride as string":  `{"stride":"2"}`,
		"stride fraction":   `{"stride":1.5}`,
		"unknown parameter": `{"stride":2,"kernel":[1,2,3]}`,
		"not an object":     `[1,2]`,
		"two objects":       `{"stride":2}{"stride":3}`,
		"good then bad":     `{"stride":2,"padding":9}`,
		"malformed":         `{"stride":`,
	}
	r := startConv(t, `{"digit":7,"preset":"sharpen","stride":1,"padding":1,"dilation":2}`)
	if err := r.Step(40); err != nil {
		t.Fatal(err)
	}
	if err := r.SetSpeed(3); err != nil {
		t.Fatal(err)
	}
	before := r.Snapshot()
	for name, raw := range bad {
		err := r.SetParams(json.RawMessage(raw))
		wantCode(t, err, CodeBadParams)
		if after := r.Snapshot(); !reflect.DeepEqual(before, after) {
			t.Errorf("%s: run changed after refused set-params %s", name, raw)
		}
	}
	// A valid change is taken and keeps the step.
	if err := r.SetParams(json.RawMessage(`{"preset":"identity"}`)); err != nil {
		t.Fatal(err)
	}
	after := r.Snapshot()
	if after.Step != 40 || after.Frame.StaticRev == before.Frame.StaticRev {
		t.Fatalf("valid set-params: step %d rev %d→%d", after.Step, before.Frame.StaticRev, after.Frame.StaticRev)
	}
	if p := after.Frame.Static.(ConvSlideStatic).Params; p.Preset != "identity" || p.Dilation != 2 || p.Digit != 7 {
		t.Fatalf("merged params %+v", p)
	}
}

// TestMailboxNeverGrows publishes many updates to a subscriber that does
// not read: it holds one update, the latest, and its notify channel one
// signal.
func TestMailboxNeverGrows(t *testing.T) {
	r := startConv(t, `{"stride":1,"padding":2}`)
	notify := make(chan struct{}, 1)
	sub := r.Subscribe(notify)
	first, ok := sub.Latest()
	if !ok || first.Step != 0 {
		t.Fatalf("subscription starts with %+v %v", first.Step, ok)
	}
	for range r.Snapshot().Total {
		if err := r.Step(1); err != nil {
			t.Fatal(err)
		}
		if len(notify) > 1 {
			t.Fatalf("notify holds %d signals", len(notify))
		}
	}
	u, ok := sub.Latest()
	if !ok || u.Step != u.Total || u.State != Done {
		t.Fatalf("latest: step %d/%d %s", u.Step, u.Total, u.State)
	}
	if _, ok := sub.Latest(); ok {
		t.Fatal("a second Latest returned an update again")
	}
	if u.Seq <= first.Seq {
		t.Fatalf("seq %d after %d", u.Seq, first.Seq)
	}
	sub.Unsubscribe()
	if err := r.Reset(); err != nil {
		t.Fatal(err)
	}
	if _, ok := sub.Latest(); ok {
		t.Fatal("update after Unsubscribe")
	}
}

// TestConvSlideMatchesForward checks every cell the experiment computes,
// and its terms, against the engine's Forward on the same digit.
func TestConvSlideMatchesForward(t *testing.T) {
	for _, p := range []ConvSlideParams{
		{Digit: 0, Preset: "vertical-edge", Stride: 1, Padding: 1, Dilation: 1},
		{Digit: 11, Preset: "sharpen", Stride: 2, Padding: 2, Dilation: 2},
		{Digit: 999, Preset: "blur", Stride: 3, Padding: 0, Dilation: 1},
		{Digit: 5, Preset: "horizontal-edge", Stride: 1, Padding: 0, Dilation: 2},
	} {
		s, err := NewConvSlide(p)
		if err != nil {
			t.Fatal(err)
		}
		conv, err := engine.NewConv2d("check", engine.Conv2dConfig{InChannels: 1, OutChannels: 1, KernelSize: 3, Stride: p.Stride, Padding: p.Padding, Dilation: p.Dilation}, engine.NewRand(9))
		if err != nil {
			t.Fatal(err)
		}
		k, _ := ConvPreset(p.Preset)
		copy(conv.Weight.Value.Data, k[:])
		conv.Bias.Value.Data[0] = 0
		y := conv.Forward(mnistTest().Image(p.Digit), nil)
		oh, ow := s.OutSize()
		if want := []int{1, 1, oh, ow}; !reflect.DeepEqual(y.Shape, want) {
			t.Fatalf("%+v: forward shape %v, experiment %v", p, y.Shape, want)
		}
		st := s.StaticFrame()
		if st.Counts.Params != 10 || st.Counts.Positions != oh*ow || st.Counts.MultiplyAdds != 9*oh*ow {
			t.Errorf("%+v: counts %+v", p, st.Counts)
		}
		for i := range s.Total() {
			if err := s.Advance(); err != nil {
				t.Fatal(err)
			}
			d := s.DataFrame(-1)
			c := d.Cell
			if c.OY != i/ow || c.OX != i%ow || d.Step != i+1 || len(c.Terms) != 9 {
				t.Fatalf("%+v: step %d cell (%d,%d) step %d terms %d", p, i, c.OY, c.OX, d.Step, len(c.Terms))
			}
			var sum float64
			for j, term := range c.Terms {
				if term.Product != term.Input*term.Weight || term.Weight != k[j] {
					t.Fatalf("%+v cell %d term %d: %+v", p, i, j, term)
				}
				if !term.Padding && term.Input != mnistTest().Image(p.Digit).Data[term.Y*28+term.X] {
					t.Fatalf("%+v cell %d term %d: input %g", p, i, j, term.Input)
				}
				sum += term.Product
			}
			want := y.Data[i]
			if math.Abs(c.Out-want) > 1e-12 || math.Abs(d.Map[i]-want) > 1e-12 || math.Abs(sum+c.Bias-want) > 1e-12 {
				t.Fatalf("%+v cell (%d,%d): out %g map %g Σ+b %g, forward %g", p, c.OY, c.OX, c.Out, d.Map[i], sum+c.Bias, want)
			}
			if c.Window.Top != c.Terms[0].Y || c.Window.Left != c.Terms[0].X || c.Window.Bottom != c.Terms[8].Y || c.Window.Right != c.Terms[8].X {
				t.Fatalf("%+v: window %+v vs terms %+v … %+v", p, c.Window, c.Terms[0], c.Terms[8])
			}
		}
		if err := s.Advance(); err == nil {
			t.Fatal("Advance past the end succeeded")
		}
	}
}

func TestUnknownExperiment(t *testing.T) {
	_, err := Start("no-such-thing", nil)
	wantCode(t, err, CodeUnknownExperiment)
	_, err = Start(ConvSlideName, json.RawMessage(`{"stride":9}`))
	wantCode(t, err, CodeBadParams)
}

func TestSeekBackAndForth(t *testing.T) {
	r := startConv(t, `{"digit":1,"preset":"sharpen","stride":2,"padding":1,"dilation":1}`)
	total := r.Snapshot().Total
	if err := r.Step(20); err != nil {
		t.Fatal(err)
	}
	at20 := r.Snapshot().Frame.Data
	if err := r.Seek(7); err != nil {
		t.Fatal(err)
	}
	if u := r.Snapshot(); u.Step != 7 || u.State != Paused {
		t.Fatalf("after seek 7: %s at %d", u.State, u.Step)
	}
	if err := r.Seek(20); err != nil {
		t.Fatal(err)
	}
	if got := r.Snapshot().Frame.Data; !reflect.DeepEqual(got, at20) {
		t.Fatal("seeking back to step 20 gave a different frame than stepping there")
	}
	if err := r.Seek(total); err != nil {
		t.Fatal(err)
	}
	if u := r.Snapshot(); u.State != Done || u.Step != total {
		t.Fatalf("seek to the end: %s at %d, want done", u.State, u.Step)
	}
	before := r.Snapshot()
	wantCode(t, r.Seek(-1), CodeBadParams)
	wantCode(t, r.Seek(total+1), CodeBadParams)
	if after := r.Snapshot(); after.Step != before.Step || after.State != before.State {
		t.Fatal("an out-of-range seek changed the run")
	}
}
