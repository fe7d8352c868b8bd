package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/lab"
)

// skipTrainingInShort skips a test that trains for several seconds (ten
// times as long under -race) when -short asks for the quick suite: CI's
// race pass runs with -short, after the full suite has run these.
func skipTrainingInShort(t *testing.T, what string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("-short: skipped, this test %s (minutes under -race); the full suite runs it", what)
	}
}

// fastRace is a small race for tests: 10 steps an epoch, two epochs.
func fastRace() CNNTrainParams {
	p := DefaultCNNTrainParams()
	p.TrainSize, p.Epochs = 320, 2
	return p
}

// TestCNNTrainMatchesLab trains the race 10 steps and checks every number a
// frame carries against three lab.Trainers stepped directly with the same
// configuration; a second race with the same parameters gives the same
// frame (determinism); and the CNN's loss went down.
func TestCNNTrainMatchesLab(t *testing.T) {
	skipTrainingInShort(t, "trains two races of 10 steps")
	p := fastRace()
	const steps = 10
	race := func(k int) *CNNTrain {
		c, err := NewCNNTrain(p)
		if err != nil {
			t.Fatal(err)
		}
		c.skipShift = true // the shift test is checked in TestCNNTrainShiftTest
		if err := c.Seek(k); err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := race(5)
	at5 := c.DataFrame()
	if err := c.Seek(steps); err != nil {
		t.Fatal(err)
	}
	if c.Total() != 20 || p.EvalEvery() != 5 {
		t.Fatalf("total %d, eval every %d; want 20 and 5", c.Total(), p.EvalEvery())
	}
	d := c.DataFrame()
	if d.Step != steps || len(d.Evals) != 2 || d.Evals[0].Step != 5 || d.Evals[1].Step != 10 {
		t.Fatalf("step %d, evals %+v", d.Step, d.Evals)
	}
	st := c.StaticFrame()
	for i, m := range RaceModels {
		tr, err := lab.NewTrainer(p.Config(m))
		if err != nil {
			t.Fatal(err)
		}
		if st.Models[i].Params != tr.Count().Params {
			t.Errorf("%s: %d parameters in the frame, engine counts %d", m, st.Models[i].Params, tr.Count().Params)
		}
		var last lab.StepResult
		losses, _ := c.History(i)
		for k := 1; k <= steps; k++ {
			if last, err = tr.Step(); err != nil {
				t.Fatal(err)
			}
			if losses[k-1] != last.Loss {
				t.Fatalf("%s step %d: race loss %v, direct %v", m, k, losses[k-1], last.Loss)
			}
			for _, e := range d.Evals {
				if e.Step != k {
					continue
				}
				if test := tr.Evaluate(evalTest(), 0); e.Test[i] != test {
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
	losses, _ := c.History(0)
	first, recent := losses[0], (losses[steps-1]+losses[steps-2]+losses[steps-3])/3
	t.Logf("cnn loss: step 1 %.3f, mean of steps 8–10 %.3f", first, recent)
	if recent > first-0.1 {
		t.Errorf("the CNN's loss did not go down: %.3f at step 1, %.3f over steps 8–10", first, recent)
	}
	if again := race(5).DataFrame(); !reflect.DeepEqual(again, at5) {
		t.Error("two races with the same parameters gave different frames")
	}
	b, _ := json.Marshal(c.Frame().Data)
	s, _ := json.Marshal(c.Frame().Static)
	t.Logf("frame JSON: data %d bytes, static %d bytes", len(b), len(s))
}

// TestCNNTrainDivergesAndRecovers sets lr 1 (Adam): the race diverges
// within a few steps, the run says so and refuses to step, and reset or new
// parameters bring it back.
func TestCNNTrainDivergesAndRecovers(t *testing.T) {
	r, err := Start(CNNTrainName, json.RawMessage(`{"lr":1,"trainSize":320,"epochs":2}`))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	if err := r.Step(10); err != nil {
		t.Fatal(err)
	}
	u := r.Snapshot()
	if u.State != Diverged || !strings.Contains(u.Err, "lower the learning rate") {
		t.Fatalf("after 10 steps at lr 1: %s %q, want diverged", u.State, u.Err)
	}
	d := u.Frame.Data.(CNNTrainData)
	i := slices.IndexFunc(d.Models, func(m ModelNow) bool { return m.Diverged != "" })
	if i < 0 || d.Step >= 10 || u.Step != d.Step {
		t.Fatalf("frame: step %d (run at %d), models %+v", d.Step, u.Step, d.Models)
	}
	if !strings.Contains(u.Err, d.Models[i].Diverged) {
		t.Errorf("run error %q does not carry the model's reason %q", u.Err, d.Models[i].Diverged)
	}
	t.Logf("diverged at step %d: %s", d.Step, u.Err)
	wantCode(t, r.Step(1), CodeDone)
	if err := r.Reset(); err != nil {
		t.Fatal(err)
	}
	if u := r.Snapshot(); u.State != Paused || u.Step != 0 || u.Frame.Data.(CNNTrainData).Models[0].Diverged != "" {
		t.Fatalf("after reset: %s at %d", u.State, u.Step)
	}
	if err := r.Step(10); err != nil { // diverges again: same lr, same seed
		t.Fatal(err)
	}
	if err := r.SetParams(json.RawMessage(`{"lr":0.003}`)); err != nil {
		t.Fatal(err)
	}
	if err := r.Step(2); err != nil {
		t.Fatal(err)
	}
	if u := r.Snapshot(); u.State != Paused || u.Step != 2 {
		t.Fatalf("after a lower lr: %s at %d, want paused at 2", u.State, u.Step)
	}
}

// TestCNNTrainInvalidParams checks that refused parameters and a backward
// seek leave the race exactly as it was, that a digit change keeps the
// race, and that any other change restarts it.
func TestCNNTrainInvalidParams(t *testing.T) {
	r, err := Start(CNNTrainName, json.RawMessage(`{"trainSize":320,"epochs":1}`))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	if err := r.Step(3); err != nil {
		t.Fatal(err)
	}
	before := r.Snapshot()
	for _, raw := range []string{
		`{"lr":0}`, `{"lr":2}`, `{"lr":"0.1"}`, `{"batch":0}`, `{"batch":257}`, `{"batch":400}`,
		`{"batch":1.5}`, `{"optimizer":"rmsprop"}`, `{"trainSize":9}`, `{"trainSize":5001}`,
		`{"seed":-1}`, `{"seed":1000001}`, `{"epochs":0}`, `{"epochs":51}`, `{"digit":1000}`,
		`{"digit":-1}`, `{"colour":"red"}`, `[1]`, `{"lr":0.1}{}`, `{"lr":`, `{"lr":null}`,
		`{"lr":0.01,"batch":0}`,
	} {
		err := r.SetParams(json.RawMessage(raw))
		wantCode(t, err, CodeBadParams)
		if after := r.Snapshot(); !reflect.DeepEqual(before, after) {
			t.Fatalf("%s changed the run", raw)
		}
		t.Logf("%-28s → %v", raw, err)
	}
	c, err := NewCNNTrain(fastRace())
	if err != nil {
		t.Fatal(err)
	}
	c.skipShift = true
	if err := c.Seek(3); err != nil {
		t.Fatal(err)
	}
	var re *Error
	if err := c.Seek(1); !errors.As(err, &re) || c.Pos() != 3 {
		t.Fatalf("backward seek: %v, at %d", err, c.Pos())
	}
	if err := c.SetParams(json.RawMessage(`{"digit":7}`)); err != nil || c.Pos() != 3 || c.StaticFrame().Digit.Label != int(lab.TestSet().Labels[7]) {
		t.Fatalf("digit change: %v, at %d", err, c.Pos())
	}
	if err := c.SetParams(json.RawMessage(`{"seed":2}`)); err != nil || c.Pos() != 0 || c.Params().Digit != 7 {
		t.Fatalf("seed change: %v, at %d, params %+v", err, c.Pos(), c.Params())
	}
}

// TestCNNTrainShiftTest runs a three-step race in a Run, so the shift
// tests run in the background: progress shows in frames, and the finished
// result equals lab's ShiftAccuracy of a trainer stepped directly.
func TestCNNTrainShiftTest(t *testing.T) {
	skipTrainingInShort(t, "runs three shift tests of ~3 s each")
	p := DefaultCNNTrainParams()
	p.TrainSize, p.Epochs = 96, 1 // three steps; shift tests after 1, 2 and 3
	raw, _ := json.Marshal(p)
	r, err := Start(CNNTrainName, raw)
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
	var done *ShiftResult
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
		sh := u.Frame.Data.(CNNTrainData).Shift
		if sh.Running != nil {
			progress = append(progress, sh.Running.Done)
		}
		done = sh.Done
	}
	t.Logf("progress reports seen: %v", progress)
	if len(progress) < 5 {
		t.Errorf("only %d progress reports", len(progress))
	}
	for i, m := range []string{"cnn", "mlp"} { // lc's direct check would add ~3 s
		idx := map[string]int{"cnn": 0, "mlp": 2}[m]
		tr, _ := lab.NewTrainer(p.Config(m))
		for range 3 {
			if _, err := tr.Step(); err != nil {
				t.Fatal(err)
			}
		}
		want := tr.ShiftAccuracy(ShiftAmounts(), EvalImages)
		if !reflect.DeepEqual(done.Acc[idx], want) {
			t.Errorf("%d %s: shift test %v, lab %v", i, m, done.Acc[idx], want)
		}
	}
	// Shift 0 is the unshifted test subset: lc's equals its evaluation.
	ev := r.Snapshot().Frame.Data.(CNNTrainData).Evals
	if got, want := done.Acc[1][0], ev[len(ev)-1].Test[1]; got != want {
		t.Errorf("lc shift 0 = %v, test accuracy %v", got, want)
	}
	t.Logf("shift test at step 3: %v", done.Acc)
}

// TestCNNTrainCloseStopsShiftTest closes a run while its shift test runs
// in the background: Close waits for it to stop, which takes at most one
// evaluation, and nothing is published afterwards.
func TestCNNTrainCloseStopsShiftTest(t *testing.T) {
	r, err := Start(CNNTrainName, json.RawMessage(`{"trainSize":96,"epochs":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Step(1); err != nil { // step 1 is the first checkpoint
		t.Fatal(err)
	}
	if sh := r.Snapshot().Frame.Data.(CNNTrainData).Shift; sh.Running == nil || sh.Running.Step != 1 {
		t.Fatalf("no shift test running after step 1: %+v", sh)
	}
	start := time.Now()
	r.Close()
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Close took %v", d)
	}
	t.Logf("Close waited %v for the shift test to stop", time.Since(start).Round(time.Millisecond))
	seq := r.Snapshot().Seq
	time.Sleep(300 * time.Millisecond)
	if r.Snapshot().Seq != seq {
		t.Fatal("the closed run published after Close returned")
	}
}

// TestCNNTrainReplay checks that an export's replay reaches the same
// numbers as a live race, and that it stops when its context is cancelled.
func TestCNNTrainReplay(t *testing.T) {
	p := fastRace()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ReplayCNNTrain(ctx, p, 5); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled replay: %v", err)
	}
	if _, err := ReplayCNNTrain(context.Background(), p, p.Total()+1); err == nil {
		t.Fatal("replay past the budget accepted")
	}
}

// TestCNNTrainFullBudget trains the default race to the end and logs the
// numbers the lesson quotes. It takes ~20 s, so it runs only with
// PARAMSHARE_FULL_RACE=1.
func TestCNNTrainFullBudget(t *testing.T) {
	if os.Getenv("PARAMSHARE_FULL_RACE") == "" {
		t.Skip("set PARAMSHARE_FULL_RACE=1 to train the default race to the end (~20 s)")
	}
	for _, raw := range []string{`{}`, `{"trainSize":100,"epochs":30}`} {
		p := DefaultCNNTrainParams()
		if err := decodeCNNTrainParams(json.RawMessage(raw), &p); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		c, err := ReplayCNNTrain(context.Background(), p, p.Total())
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d steps in %v", raw, p.Total(), time.Since(start).Round(time.Millisecond))
		d := c.DataFrame()
		for i, m := range d.Models {
			t.Logf("  %-3s params %7d  loss %.3f  train %.3f  test %.3f  gap %+.3f  shift %v",
				m.Name, c.counts[i].Params, *m.Loss, *m.Train, *m.Test, *m.Gap, c.Shift().Acc[i])
			if *m.Test < 0.5 {
				t.Errorf("%s: test accuracy %.3f after the full budget", m.Name, *m.Test)
			}
		}
	}
}

// TestCNNTrainDivergedStepIsRecorded races at lr 0.1 (Adam), where lc
// alone diverges (at step 2), and checks the state it leaves: the step
// counts for every model
// (Pos equals every trainer's step count, every history has Pos entries),
// the diverged model's entry says why with its loss, the error is a
// *DivergedError that a Run recognises, its text does not claim a NaN for
// a finite loss, and the frame still encodes as JSON.
func TestCNNTrainDivergedStepIsRecorded(t *testing.T) {
	p := fastRace()
	p.LR = 0.1
	c, err := NewCNNTrain(p)
	if err != nil {
		t.Fatal(err)
	}
	for err == nil && c.Pos() < c.Total() {
		err = c.Advance()
	}
	var de *DivergedError
	if !errors.As(err, &de) || !errors.Is(err, engine.ErrDiverged) {
		t.Fatalf("after %d steps at lr 1: %v, want a *DivergedError wrapping engine.ErrDiverged", c.Pos(), err)
	}
	for i, m := range RaceModels {
		if got := c.Trainer(i).Steps(); got != c.Pos() {
			t.Errorf("%s trainer at step %d, race at %d", m, got, c.Pos())
		}
		if loss, acc := c.History(i); len(loss) != c.Pos() || len(acc) != c.Pos() {
			t.Errorf("%s: %d losses and %d accuracies after %d steps", m, len(loss), len(acc), c.Pos())
		}
	}
	d := c.DataFrame()
	if d.Step != c.Pos() {
		t.Errorf("frame at step %d, race at %d", d.Step, c.Pos())
	}
	var diverged int
	for i, mn := range d.Models {
		if mn.Diverged == "" {
			if mn.DivergedLoss != nil {
				t.Errorf("%s: divergedLoss %v without a reason", mn.Name, *mn.DivergedLoss)
			}
			// A healthy model shows the step it took with the others.
			loss, _ := c.History(i)
			if mn.Loss == nil || *mn.Loss != loss[len(loss)-1] || len(mn.GradNorms) == 0 {
				t.Errorf("%s (healthy): loss %v, history %v, gradNorms %v", mn.Name, mn.Loss, loss, mn.GradNorms)
			}
			continue
		}
		diverged++
		loss, _ := c.History(i)
		last := loss[len(loss)-1]
		if !strings.Contains(err.Error(), mn.Diverged) || !strings.Contains(mn.Diverged, "lower the learning rate") {
			t.Errorf("%s: reason %q, error %q", mn.Name, mn.Diverged, err)
		}
		if math.IsNaN(last) || math.IsInf(last, 0) {
			if mn.DivergedLoss != nil {
				t.Errorf("%s: non-finite loss %v sent as %v", mn.Name, last, *mn.DivergedLoss)
			}
			continue
		}
		if mn.DivergedLoss == nil || *mn.DivergedLoss != last || last <= DivergeLoss {
			t.Errorf("%s: divergedLoss %v, the step's loss %v (limit %v)", mn.Name, mn.DivergedLoss, last, DivergeLoss)
		}
		if strings.Contains(err.Error(), "NaN") {
			t.Errorf("error %q speaks of NaN for a finite loss %v", err, last)
		}
	}
	if diverged == 0 || diverged == len(RaceModels) {
		t.Fatalf("%d of %d models marked diverged; this setting should stop only some", diverged, len(RaceModels))
	}
	if _, err := json.Marshal(c.Frame().Data); err != nil {
		t.Errorf("frame after divergence: %v", err)
	}
	t.Logf("at step %d: %v", c.Pos(), err)

	// The race refuses to go on, still as a divergence, and stays put.
	pos := c.Pos()
	if err := c.Advance(); !errors.Is(err, engine.ErrDiverged) || c.Pos() != pos {
		t.Errorf("step after divergence: %v, at %d (was %d)", err, c.Pos(), pos)
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
		got := divergence(1, c.res, c.err)
		if c.want == nil {
			if got != "" {
				t.Errorf("loss %v: %q, want no divergence", c.res.Loss, got)
			}
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("loss %v: %q lacks %q", c.res.Loss, got, w)
			}
		}
		if strings.Contains(got, c.not) {
			t.Errorf("loss %v: %q contains %q", c.res.Loss, got, c.not)
		}
	}
	e := &DivergedError{Msg: "run: cnn-train: x"}
	if e.Error() != "run: cnn-train: x" || !errors.Is(e, engine.ErrDiverged) {
		t.Errorf("DivergedError: %q, Is ErrDiverged %v", e, errors.Is(e, engine.ErrDiverged))
	}
}
