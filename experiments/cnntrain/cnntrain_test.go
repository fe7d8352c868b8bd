package cnntrain

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/lab"
	"github.com/paramshare/paramshare/run"
)

// skipTrainingInShort skips a test that trains for seconds (ten times as
// long under -race) when -short asks for the quick suite.
func skipTrainingInShort(t *testing.T, what string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("-short: skipped, this test %s; the full suite runs it", what)
	}
}

func spec(t *testing.T) *run.Spec {
	t.Helper()
	s, ok := run.Lookup(Name)
	if !ok {
		t.Fatal("cnn-train is not registered")
	}
	return s
}

// values decodes raw onto the defaults, as a start message does.
func values(t *testing.T, raw string) run.Values {
	t.Helper()
	v, err := spec(t).Decode(nil, []byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// fastRace is a small race for tests: 10 steps an epoch, two epochs.
const fastRace = `{"trainSize":320,"epochs":2}`

func newTestRace(t *testing.T, raw string) *race {
	t.Helper()
	r, err := newRace(values(t, raw))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// advanceTo advances r until Pos is k (gates on the way run inside
// Advance: the race has no host).
func advanceTo(t *testing.T, r *race, k int) {
	t.Helper()
	for r.Pos() < k {
		if err := r.Advance(); err != nil {
			t.Fatal(err)
		}
	}
}

func frameJSON(t *testing.T, r *race) string {
	t.Helper()
	f := r.Frame()
	b, err := json.Marshal(struct{ Static, Data any }{f.Static, f.Data})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRaceMatchesLab trains the race 10 steps and checks every number a
// frame carries against three lab.Trainers stepped directly with the
// race's configuration, and that the CNN's loss went down.
func TestRaceMatchesLab(t *testing.T) {
	skipTrainingInShort(t, "trains a race of 10 steps")
	v := values(t, fastRace)
	const steps = 10
	r := newTestRace(t, fastRace)
	advanceTo(t, r, steps)
	r.settle()
	if r.Total() != 20 || EvalEvery(v) != 5 {
		t.Fatalf("total %d, eval every %d; want 20 and 5", r.Total(), EvalEvery(v))
	}
	f := r.Frame()
	d, st := f.Data.(dataFrame), f.Static.(staticFrame)
	if d.Step != steps || len(d.Evals) != 2 || d.Evals[0].Step != 5 || d.Evals[1].Step != 10 {
		t.Fatalf("step %d, evals %+v", d.Step, d.Evals)
	}
	for i, m := range Models() {
		tr, err := lab.NewTrainer(Config(v, m))
		if err != nil {
			t.Fatal(err)
		}
		if st.Models[i].Params != tr.Count().Params {
			t.Errorf("%s: %d parameters in the frame, engine counts %d", m, st.Models[i].Params, tr.Count().Params)
		}
		var last lab.StepResult
		for k := 1; k <= steps; k++ {
			if last, err = tr.Step(); err != nil {
				t.Fatal(err)
			}
			if r.loss[i][k-1] != last.Loss {
				t.Fatalf("%s step %d: race loss %v, direct %v", m, k, r.loss[i][k-1], last.Loss)
			}
			for _, e := range d.Evals {
				if e.Step != k {
					continue
				}
				if test := tr.TestAccuracy(EvalImages); e.Test[i] != test {
					t.Errorf("%s: test accuracy at step %d: frame %v, direct %v", m, k, e.Test[i], test)
				}
				if train := tr.TrainAccuracy(EvalImages); e.Train[i] != train {
					t.Errorf("%s: train accuracy at step %d: frame %v, direct %v", m, k, e.Train[i], train)
				}
			}
		}
		now := d.Models[i]
		if *now.Loss != last.Loss || *now.BatchAcc != last.Accuracy {
			t.Errorf("%s: frame loss %v acc %v, direct %v %v", m, *now.Loss, *now.BatchAcc, last.Loss, last.Accuracy)
		}
		for j, layer := range st.Models[i].Layers {
			if now.GradNorms[j] != last.GradNorms[layer] {
				t.Errorf("%s %s: gradient norm %v, direct %v", m, layer, now.GradNorms[j], last.GradNorms[layer])
			}
		}
		if want := d.Evals[1].Train[i] - d.Evals[1].Test[i]; *now.Gap != want || now.EvalStep != 10 {
			t.Errorf("%s: gap %v at %d, want %v at 10", m, *now.Gap, now.EvalStep, want)
		}
		if m == "cnn" {
			// The filters in the frame are the CNN's conv1 weights.
			w := tr.Model().Layers[0].(*engine.Conv2d).Weight.Value.Data
			got, err := d.Filters.Values()
			if err != nil {
				t.Fatal(err)
			}
			step := (d.Filters.Max - d.Filters.Min) / 254
			for k := range w {
				if diff := got[k] - w[k]; diff > step || diff < -step {
					t.Fatalf("filter value %d: frame %v, engine %v", k, got[k], w[k])
				}
			}
		}
	}
	first, recent := r.loss[0][0], (r.loss[0][steps-1]+r.loss[0][steps-2]+r.loss[0][steps-3])/3
	t.Logf("cnn loss: step 1 %.3f, mean of steps 8–10 %.3f", first, recent)
	if recent > first-0.1 {
		t.Errorf("the CNN's loss did not go down: %.3f at step 1, %.3f over steps 8–10", first, recent)
	}
	b, _ := json.Marshal(f.Data)
	s, _ := json.Marshal(f.Static)
	t.Logf("frame JSON: data %d bytes, static %d bytes", len(b), len(s))
}

// TestMicroBatchesAddUp checks that training in passes of one example
// takes the step a single pass over the batch takes, up to rounding: the
// passes' gradients, weighted by their share, add up to the batch's.
func TestMicroBatchesAddUp(t *testing.T) {
	for _, m := range Models() {
		cfg := Config(values(t, `{"batch":8,"trainSize":64}`), m)
		a, err := lab.NewTrainer(cfg)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Micro = 0
		b, _ := lab.NewTrainer(cfg)
		for k := 1; k <= 3; k++ {
			ra, err := a.Step()
			if err != nil {
				t.Fatal(err)
			}
			rb, _ := b.Step()
			if math.Abs(ra.Loss-rb.Loss) > 1e-12*rb.Loss || ra.Accuracy != rb.Accuracy {
				t.Errorf("%s step %d: loss %v acc %v in passes of one, %v %v in one pass", m, k, ra.Loss, ra.Accuracy, rb.Loss, rb.Accuracy)
			}
			for name, n := range rb.GradNorms {
				if math.Abs(ra.GradNorms[name]-n) > 1e-9*n {
					t.Errorf("%s step %d %s: gradient norm %v in passes, %v in one", m, k, name, ra.GradNorms[name], n)
				}
			}
		}
	}
}

// TestReplayIsDeterministic checks what the run's seek back relies on: a
// race that went 3 steps further and was restarted and replayed to k shows
// the frame of a fresh race at k, byte for byte, gates included (step 4 of
// the fast race owes nothing; step 5 owes an evaluation; 7 a shift test),
// before and after the step's gate has run.
func TestReplayIsDeterministic(t *testing.T) {
	skipTrainingInShort(t, "trains three short races")
	for _, k := range []int{4, 5, 7} {
		fresh := newTestRace(t, fastRace)
		advanceTo(t, fresh, k)
		back := newTestRace(t, fastRace)
		advanceTo(t, back, k+3)
		back.settle()
		if err := back.Restart(); err != nil {
			t.Fatal(err)
		}
		// The replay takes the gates' results it found on the way out:
		// one Advance a step.
		for n := 1; n <= k; n++ {
			if err := back.Advance(); err != nil || back.Pos() != n {
				t.Fatalf("replay: Advance %d: %v, at step %d", n, err, back.Pos())
			}
		}
		if a, b := frameJSON(t, fresh), frameJSON(t, back); a != b {
			t.Errorf("step %d: a fresh race and a replayed one differ:\n%.300s\n%.300s", k, a, b)
		}
		// Settled, both show the step's gate done, the same way.
		fresh.settle()
		back.settle()
		if a, b := frameJSON(t, fresh), frameJSON(t, back); a != b {
			t.Errorf("step %d settled: a fresh race and a replayed one differ", k)
		}
	}
}

// TestGateHoldsTraining checks that a step owing an evaluation or a shift
// test does not train until it is done: Advance runs a piece of it instead,
// and the frame of the next step carries the result.
func TestGateHoldsTraining(t *testing.T) {
	r := newTestRace(t, `{"trainSize":96,"epochs":2,"batch":16}`) // 12 steps: evaluations at 5, 10, 12; shift tests at 4, 8, 12
	advanceTo(t, r, 4)
	if r.gate == nil || r.gate.shiftHits == nil || r.gate.evalPieces != 0 {
		t.Fatalf("step 4 owes a shift test alone: gate %+v", r.gate)
	}
	pieces := len(r.gate.pieces)
	// 7 shifts × (cnn 1 + lc 5 + mlp 1) pieces.
	if pieces != 7*7 {
		t.Errorf("shift test in %d pieces, want 49", pieces)
	}
	sh := r.Frame().Data.(dataFrame).Shift
	if sh.Done != nil || sh.Running == nil || sh.Running.Step != 4 || sh.Running.Done != 0 {
		t.Fatalf("step 4's frame before its shift test: %+v %+v", sh.Done, sh.Running)
	}
	for range pieces {
		if err := r.Advance(); err != nil || r.Pos() != 4 {
			t.Fatalf("a gate piece: %v, at %d", err, r.Pos())
		}
	}
	if r.gate != nil {
		t.Fatal("the gate is still open after its pieces")
	}
	sh = r.Frame().Data.(dataFrame).Shift
	if sh.Running != nil || sh.Done == nil || sh.Done.Step != 4 {
		t.Fatalf("step 4's frame after its shift test: %+v %+v", sh.Done, sh.Running)
	}
	if err := r.Advance(); err != nil || r.Pos() != 5 || r.gate == nil || r.gate.evalPieces != len(r.gate.pieces) {
		t.Fatalf("step 5: %v, at %d, gate %+v", err, r.Pos(), r.gate)
	}
}

// wait polls the run until it is neither working nor stepping towards a
// target, and returns its update.
func wait(t *testing.T, r *run.Run, cond func(run.Update) bool) run.Update {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if u := r.Snapshot(); cond(u) {
			return u
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("the run did not get there: %+v", r.Snapshot().State)
	return run.Update{}
}

func idle(u run.Update) bool { return u.State != run.Working && u.State != run.Running }

func decodeData(t *testing.T, u run.Update) dataFrame {
	t.Helper()
	var d dataFrame
	if err := json.Unmarshal(u.Data, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestDivergesAndRecovers sets lr 1 (Adam): the race diverges within a few
// steps, the run says so and refuses to step, and reset or new parameters
// bring it back. The step the message names is the step the run shows (a
// learner saw "blew up at step 3" under a header saying step 2).
func TestDivergesAndRecovers(t *testing.T) {
	r, err := run.Start(Name, json.RawMessage(`{"lr":1,"trainSize":320,"epochs":2}`), run.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	if err := r.Step(10); err != nil {
		t.Fatal(err)
	}
	u := wait(t, r, idle)
	if u.State != run.Diverged || !strings.Contains(u.Err.En, "lower the learning rate") || !strings.Contains(u.Err.Zh, "请降低学习率") {
		t.Fatalf("after 10 steps at lr 1: %s %q, want diverged in both languages", u.State, u.Err)
	}
	d := decodeData(t, u)
	i := slices.IndexFunc(d.Models, func(m modelNow) bool { return m.Diverged != "" })
	if i < 0 || d.Step >= 10 || u.Step != d.Step {
		t.Fatalf("frame: step %d (run at %d), models %+v", d.Step, u.Step, d.Models)
	}
	m := d.Models[i]
	if !strings.Contains(u.Err.En, m.Diverged) || !strings.Contains(u.Err.Zh, m.DivergedZh) {
		t.Errorf("run error %q does not carry the model's reason %q", u.Err, m.Diverged)
	}
	if at := fmt.Sprintf("at step %d:", u.Step); m.DivergedStep != u.Step || !strings.Contains(m.Diverged, at) || !strings.Contains(u.Err.En, at) {
		t.Errorf("the run shows step %d; the model diverged at %d and says %q", u.Step, m.DivergedStep, m.Diverged)
	}
	t.Logf("diverged at step %d: %s / %s", u.Step, u.Err.En, u.Err.Zh)
	var re *run.Error
	if err := r.Step(1); !errors.As(err, &re) || re.Code != run.CodeDone {
		t.Errorf("step after divergence: %v", err)
	}
	if err := r.Reset(); err != nil {
		t.Fatal(err)
	}
	u = wait(t, r, func(u run.Update) bool { return idle(u) && u.Step == 0 })
	if u.State != run.Paused || decodeData(t, u).Models[0].Diverged != "" {
		t.Fatalf("after reset: %s at %d", u.State, u.Step)
	}
	if err := r.SetParams(json.RawMessage(`{"lr":0.003}`)); err != nil {
		t.Fatal(err)
	}
	if err := r.Step(2); err != nil {
		t.Fatal(err)
	}
	if u := wait(t, r, func(u run.Update) bool { return idle(u) && u.Step == 2 }); u.State != run.Paused {
		t.Fatalf("after a lower lr: %s at %d, want paused at 2", u.State, u.Step)
	}
}

// TestSetParams checks that a digit change keeps the race and any other
// change restarts it, and that the batch may not exceed the training set.
func TestSetParams(t *testing.T) {
	r := newTestRace(t, fastRace)
	advanceTo(t, r, 3)
	rev := r.rev
	if err := r.SetParams(values(t, `{"trainSize":320,"epochs":2,"digit":7}`)); err != nil || r.Pos() != 3 || r.rev == rev {
		t.Fatalf("digit change: %v, at %d", err, r.Pos())
	}
	if st := r.Frame().Static.(staticFrame); st.Digit.Label != int(lab.TestSet().Labels[7]) || st.Digit.Index != 7 {
		t.Errorf("digit 7: static %+v", st.Digit)
	}
	if err := r.SetParams(values(t, `{"trainSize":320,"epochs":2,"digit":7,"seed":2}`)); err != nil || r.Pos() != 0 || r.v.Int("digit") != 7 {
		t.Fatalf("seed change: %v, at %d", err, r.Pos())
	}
	_, err := spec(t).Decode(nil, []byte(`{"batch":64,"trainSize":32}`))
	pe, ok := run.AsParamError(err)
	if !ok || pe.Field != "batch" || !strings.Contains(pe.Text.En, "trainSize") || pe.Text.Zh == "" {
		t.Errorf("batch 64 over 32 digits: %v", err)
	}
	if _, err := spec(t).Decode(nil, []byte(`{"batch":32,"trainSize":32}`)); err != nil {
		t.Errorf("batch equal to trainSize: %v", err)
	}
}

// TestShiftTest runs a three-step race in a Run, so the shift tests run in
// the background: progress shows in frames, and the finished result equals
// lab's ShiftAccuracy of a trainer stepped directly.
func TestShiftTest(t *testing.T) {
	skipTrainingInShort(t, "runs three shift tests")
	v := values(t, `{"trainSize":96,"epochs":1}`) // three steps; shift tests after 1, 2 and 3
	raw, _ := json.Marshal(v)
	r, err := run.Start(Name, raw, run.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	notify := make(chan struct{}, 1)
	sub := r.Subscribe(notify)
	if err := r.Step(3); err != nil {
		t.Fatal(err)
	}
	var progress []int
	var done *shiftResult
	deadline := time.After(60 * time.Second)
	for done == nil || done.Step != 3 {
		select {
		case <-notify:
		case <-deadline:
			t.Fatalf("no shift test of step 3 within 60 s (progress seen %v)", progress)
		}
		u, ok := sub.Latest()
		if !ok {
			continue
		}
		sh := decodeData(t, u).Shift
		if sh.Running != nil {
			progress = append(progress, sh.Running.Done)
		}
		done = sh.Done
	}
	t.Logf("progress reports seen: %v", progress)
	if len(progress) < 5 {
		t.Errorf("only %d progress reports", len(progress))
	}
	for _, i := range []int{0, 2} { // lc's direct check would add a second
		tr, _ := lab.NewTrainer(Config(v, Models()[i]))
		for range 3 {
			if _, err := tr.Step(); err != nil {
				t.Fatal(err)
			}
		}
		if want := tr.ShiftAccuracy(shiftAmounts(), EvalImages); !reflect.DeepEqual(done.Acc[i], want) {
			t.Errorf("%s: shift test %v, lab %v", Models()[i], done.Acc[i], want)
		}
	}
	// Shift 0 is the unshifted test subset: lc's equals its evaluation.
	ev := decodeData(t, r.Snapshot()).Evals
	if got, want := done.Acc[1][0], ev[len(ev)-1].Test[1]; got != want {
		t.Errorf("lc shift 0 = %v, test accuracy %v", got, want)
	}
	t.Logf("shift test at step 3: %v", done.Acc)
}

// TestCloseStopsBackground closes a run while its shift test runs in the
// background: the worker ends within a piece, and nothing is published
// afterwards.
func TestCloseStopsBackground(t *testing.T) {
	r, err := run.Start(Name, json.RawMessage(`{"trainSize":96,"epochs":1}`), run.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Step(1); err != nil { // step 1 is the first checkpoint
		t.Fatal(err)
	}
	u := wait(t, r, func(u run.Update) bool { return idle(u) && u.Step == 1 })
	if sh := decodeData(t, u).Shift; sh.Running == nil || sh.Running.Step != 1 {
		t.Fatalf("no shift test running after step 1: %+v", sh)
	}
	// A second at full speed; the race detector slows the piece in flight
	// (a slice of the shift test) up to tenfold, and CI runs it on a busy
	// machine.
	limit := time.Second
	if raceEnabled {
		limit = 5 * time.Second
	}
	start := time.Now()
	r.Close()
	select {
	case <-r.Done():
	case <-time.After(limit):
		t.Fatalf("the run's worker did not end within %v of Close", limit)
	}
	t.Logf("the worker and the background work ended %v after Close", time.Since(start).Round(time.Millisecond))
	seq := r.Snapshot().Seq
	time.Sleep(200 * time.Millisecond)
	if r.Snapshot().Seq != seq {
		t.Fatal("the closed run published after its worker ended")
	}
}

// TestDivergedStepIsRecorded races at lr 0.1 (Adam), where lc alone
// diverges, and checks the state it leaves: the step counts for every model
// (Pos equals every trainer's step count, every history has Pos entries),
// the diverged model's entry says why with its loss and step, the error
// is a run.Error wrapping engine.ErrDiverged whose text does not claim a
// NaN for a finite loss, and the frame still encodes as JSON.
func TestDivergedStepIsRecorded(t *testing.T) {
	r := newTestRace(t, `{"trainSize":320,"epochs":2,"lr":0.1}`)
	var err error
	for err == nil && r.Pos() < r.Total() {
		err = r.Advance()
	}
	var re *run.Error
	if !errors.As(err, &re) || !errors.Is(err, engine.ErrDiverged) {
		t.Fatalf("after %d steps at lr 0.1: %v, want a run.Error wrapping engine.ErrDiverged", r.Pos(), err)
	}
	for i, m := range Models() {
		if got := r.trainers[i].Steps(); got != r.Pos() {
			t.Errorf("%s trainer at step %d, race at %d", m, got, r.Pos())
		}
		if len(r.loss[i]) != r.Pos() || len(r.smooth[i]) != r.Pos() {
			t.Errorf("%s: %d losses and %d accuracies after %d steps", m, len(r.loss[i]), len(r.smooth[i]), r.Pos())
		}
	}
	d := r.Frame().Data.(dataFrame)
	var diverged int
	for i, mn := range d.Models {
		last := r.loss[i][len(r.loss[i])-1]
		if mn.Diverged == "" {
			if mn.DivergedLoss != nil || mn.DivergedStep != 0 {
				t.Errorf("%s: divergedLoss %v, step %d without a reason", mn.Name, mn.DivergedLoss, mn.DivergedStep)
			}
			if mn.Loss == nil || *mn.Loss != last || len(mn.GradNorms) == 0 {
				t.Errorf("%s (healthy): loss %v, last %v, gradNorms %v", mn.Name, mn.Loss, last, mn.GradNorms)
			}
			continue
		}
		diverged++
		if !strings.Contains(re.Text.En, mn.Diverged) || !strings.Contains(mn.Diverged, "lower the learning rate") ||
			!strings.Contains(re.Text.Zh, mn.DivergedZh) || mn.DivergedStep != r.Pos() {
			t.Errorf("%s: reason %q at %d, error %q", mn.Name, mn.Diverged, mn.DivergedStep, re.Text)
		}
		if math.IsNaN(last) || math.IsInf(last, 0) {
			if mn.DivergedLoss != nil {
				t.Errorf("%s: non-finite loss %v sent as %v", mn.Name, last, *mn.DivergedLoss)
			}
			continue
		}
		if mn.DivergedLoss == nil || *mn.DivergedLoss != last || last <= divergeLoss {
			t.Errorf("%s: divergedLoss %v, the step's loss %v (limit %v)", mn.Name, mn.DivergedLoss, last, divergeLoss)
		}
		if strings.Contains(err.Error(), "NaN") {
			t.Errorf("error %q speaks of NaN for a finite loss %v", err, last)
		}
	}
	if diverged == 0 || diverged == len(Models()) {
		t.Fatalf("%d of %d models marked diverged; this setting should stop only some", diverged, len(Models()))
	}
	if _, err := json.Marshal(r.Frame().Data); err != nil {
		t.Errorf("frame after divergence: %v", err)
	}
	t.Logf("at step %d: %v", r.Pos(), err)
	pos := r.Pos()
	if err := r.Advance(); !errors.Is(err, engine.ErrDiverged) || r.Pos() != pos {
		t.Errorf("step after divergence: %v, at %d (was %d)", err, r.Pos(), pos)
	}
}

// TestDivergenceMessages checks the reason given for each way a step can
// diverge: a finite loss over the limit, a loss that is not finite, and a
// gradient that is not finite (lab's error names the layer).
func TestDivergenceMessages(t *testing.T) {
	labErr := fmt.Errorf("lab: lc (adam, lr 1) at step 4: layer conv1 gradient norm NaN — lower the learning rate: %w", engine.ErrDiverged)
	for _, c := range []struct {
		res  lab.StepResult
		err  error
		want []string
		not  string
	}{
		{lab.StepResult{Step: 2, Loss: 13090.4}, nil, []string{"lc diverged at step 2", "13090", "ten times the loss of guessing", "lower the learning rate"}, "NaN"},
		{lab.StepResult{Step: 3, Loss: math.NaN()}, labErr, []string{"lc diverged at step 3", "loss NaN", "lower the learning rate"}, "infinite"},
		{lab.StepResult{Step: 4, Loss: 2.5}, labErr, []string{"lc diverged at step 4", "gradient norm NaN", "lower the learning rate"}, "engine:"},
		{lab.StepResult{Step: 5, Loss: 2.2}, nil, nil, ""},
	} {
		d, ok := diverges(1, c.res, c.err)
		if c.want == nil {
			if ok {
				t.Errorf("loss %v: %q, want no divergence", c.res.Loss, d.text)
			}
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(d.text.En, w) {
				t.Errorf("loss %v: %q lacks %q", c.res.Loss, d.text.En, w)
			}
		}
		if strings.Contains(d.text.En, c.not) || !strings.Contains(d.text.Zh, fmt.Sprintf("第 %d 步", c.res.Step)) || d.step != c.res.Step {
			t.Errorf("loss %v: %q / %q at %d", c.res.Loss, d.text.En, d.text.Zh, d.step)
		}
	}
}

// TestCloneContinuesExactly: a race copied at step k — with its gate owed
// or not — goes on exactly as the original; the copy shares nothing it
// could change. (The original goes on as a fresh race would: the replay
// test.)
func TestCloneContinuesExactly(t *testing.T) {
	skipTrainingInShort(t, "trains short races")
	// Step 7 owes a gate (its shift test: copied as owed), step 4 none.
	for _, k := range []int{4, 7} {
		orig := newTestRace(t, fastRace)
		advanceTo(t, orig, k)
		if owes := orig.gate != nil; owes != (k == 7) {
			t.Fatalf("step %d owes a gate: %v; the test's steps no longer cover both cases", k, owes)
		}
		c, err := orig.Clone()
		if err != nil {
			t.Fatal(err)
		}
		clone := c.(*race)
		if a, b := frameJSON(t, orig), frameJSON(t, clone); a != b {
			t.Errorf("step %d: the copy's frame differs from the original's", k)
		}
		// The copy first: were anything shared, the original's steps after
		// it would differ.
		advanceTo(t, clone, k+4)
		advanceTo(t, orig, k+4)
		clone.settle()
		orig.settle()
		if got, want := frameJSON(t, clone), frameJSON(t, orig); got != want {
			t.Errorf("copied at %d, at %d the copy and the original differ:\n%.300s\n%.300s", k, k+4, got, want)
		}
	}
}
