package lab

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/paramshare/paramshare/engine"
)

// CompareConfig is the budget of the cnn-vs-unshared experiment. Every
// model gets the same optimizer, batch, training subset, number of epochs
// and seeds; with the same seed every model also sees the digits in the
// same order (a trainer's order depends on the seed and the subset only).
type CompareConfig struct {
	Models []string `json:"models"` // of Models() or ControlModels(); Models() by default
	Seeds  int      `json:"seeds"`  // seeds 1…Seeds, 1…20
	Epochs int      `json:"epochs"` // passes over the training subset, 1…100
	// Steps, when not 0, is the number of training steps instead of
	// Epochs passes: the same steps on training sets of any size (a
	// learning curve with matched steps). 1…MaxCompareSteps.
	Steps     int                `json:"steps,omitempty"`
	TrainSize int                `json:"trainSize"` // as TrainConfig
	Batch     int                `json:"batch"`     // as TrainConfig
	Optimizer string             `json:"optimizer"` // as TrainConfig
	LR        map[string]float64 `json:"lr"`        // per model; a model left out gets DefaultTrainConfig's
	Shifts    []int              `json:"shifts"`    // pixels to the right, for the shift test, each −27…27
	// Eval is how many digits the accuracies are measured on (train, test
	// and each shift): all of them (TrainSize train, 1,000 test) when 0.
	Eval int `json:"eval"`
}

// DefaultCompareConfig is the budget `lab cnn-vs-unshared` runs by default:
// Adam at DefaultTrainConfig's learning rate (3e-3), batch 32, 10 epochs over
// the first 1,000 training digits (310 steps), accuracy measured on all of
// them and all 1,000 test digits, shifts 0…6 pixels. On 1,000 digits the
// models can fit their training set, so the train/test gap shows; lc, the
// slowest, takes about 55 ms a step on one core.
func DefaultCompareConfig() CompareConfig {
	lr := map[string]float64{}
	for _, m := range Models() {
		lr[m] = DefaultTrainConfig(m).LR
	}
	return CompareConfig{
		Models: Models(), Seeds: 3, Epochs: 10, TrainSize: 1000, Batch: 32, Optimizer: "adam",
		LR: lr, Shifts: []int{0, 1, 2, 3, 4, 5, 6},
	}
}

// Limits of a CompareConfig beyond TrainConfig's.
const (
	MaxSeeds  = 20
	MaxEpochs = 100
	MaxShift  = 27
	// MaxCompareSteps bounds CompareConfig.Steps: MaxEpochs passes over
	// the largest training set in batches of 32.
	MaxCompareSteps = MaxEpochs * MaxTrainSize / 32
)

// trainConfig is the TrainConfig of model at seed under c.
func (c CompareConfig) trainConfig(model string, seed uint64) TrainConfig {
	tc := DefaultTrainConfig(model)
	if lr, ok := c.LR[model]; ok {
		tc.LR = lr
	}
	tc.Optimizer, tc.Batch, tc.TrainSize, tc.Seed = c.Optimizer, c.Batch, c.TrainSize, seed
	return tc
}

// Validate returns an error naming the first field outside its range, or
// nil.
func (c CompareConfig) Validate() error {
	switch {
	case len(c.Models) == 0:
		return errors.New("lab: models: want at least one of cnn, lc, mlp")
	case c.Seeds < 1 || c.Seeds > MaxSeeds:
		return fmt.Errorf("lab: seeds %d: want 1…%d", c.Seeds, MaxSeeds)
	case c.Epochs < 1 || c.Epochs > MaxEpochs:
		return fmt.Errorf("lab: epochs %d: want 1…%d", c.Epochs, MaxEpochs)
	case c.Steps < 0 || c.Steps > MaxCompareSteps:
		return fmt.Errorf("lab: steps %d: want 0 (epochs decide) or 1…%d", c.Steps, MaxCompareSteps)
	case len(c.Shifts) == 0:
		return errors.New("lab: shifts: want at least one shift")
	case c.Eval < 0:
		return fmt.Errorf("lab: eval %d: want ≥ 0 (0: every digit)", c.Eval)
	}
	for _, s := range c.Shifts {
		if s < -MaxShift || s > MaxShift {
			return fmt.Errorf("lab: shift %d: want −%d…%d", s, MaxShift, MaxShift)
		}
	}
	for m := range c.LR {
		if !slices.Contains(c.Models, m) {
			return fmt.Errorf("lab: lr given for model %q, which is not compared (models %v)", m, c.Models)
		}
	}
	seen := map[string]bool{}
	for _, m := range c.Models {
		if seen[m] {
			return fmt.Errorf("lab: model %q listed twice", m)
		}
		seen[m] = true
		if err := c.trainConfig(m, 1).Validate(); err != nil {
			return err
		}
	}
	return nil
}

// Stat is the mean and sample standard deviation (n − 1; 0 for one value)
// of a measurement over seeds.
type Stat struct {
	Mean float64 `json:"mean"`
	SD   float64 `json:"sd"`
}

// newStat summarises xs (at least one value).
func newStat(xs []float64) Stat {
	var s Stat
	for _, x := range xs {
		s.Mean += x
	}
	s.Mean /= float64(len(xs))
	if len(xs) > 1 {
		var ss float64
		for _, x := range xs {
			ss += (x - s.Mean) * (x - s.Mean)
		}
		s.SD = math.Sqrt(ss / float64(len(xs)-1))
	}
	return s
}

// RunResult is one model trained from one seed.
type RunResult struct {
	Seed      uint64  `json:"seed"`
	Steps     int     `json:"steps"`
	FinalLoss float64 `json:"finalLoss"` // mean loss of the last epoch's (finite) steps
	// Diverged runs stopped at the step whose loss or gradient was not
	// finite; they are measured with the weights they had then.
	Diverged bool      `json:"diverged"`
	TrainAcc float64   `json:"trainAcc"`
	TestAcc  float64   `json:"testAcc"`
	Gap      float64   `json:"gap"`      // TrainAcc − TestAcc
	ShiftAcc []float64 `json:"shiftAcc"` // per CompareConfig.Shifts
	// Seconds is the time spent training (each step) and measuring, not
	// the run's wall time: a caller's progress callback may pause the run
	// between steps (a server waiting for a CPU slot), and that is not
	// the model's cost.
	Seconds float64 `json:"seconds"`
}

// ModelResult is one model over every seed.
type ModelResult struct {
	Model    string      `json:"model"`
	LR       float64     `json:"lr"`
	Params   int         `json:"params"`   // unique parameters
	Unshared int         `json:"unshared"` // if no weight were shared
	Uses     int         `json:"uses"`     // multiply-adds per example
	Runs     []RunResult `json:"runs"`     // one per seed, in seed order
	TrainAcc Stat        `json:"trainAcc"`
	TestAcc  Stat        `json:"testAcc"`
	Gap      Stat        `json:"gap"`
	ShiftAcc []Stat      `json:"shiftAcc"` // per CompareConfig.Shifts
}

// CompareResult is the cnn-vs-unshared table.
type CompareResult struct {
	Config  CompareConfig `json:"config"`
	Models  []ModelResult `json:"models"`
	Seconds float64       `json:"seconds"`
}

// Progress is where a CompareCNN run is.
type Progress struct {
	Model string `json:"model"`
	Seed  uint64 `json:"seed"`
	Run   int    `json:"run"`  // this training run, from 1
	Runs  int    `json:"runs"` // models × seeds
	Step  int    `json:"step"` // steps done in this run
	Steps int    `json:"steps"`
	// Phase is "train" while stepping and "measure" while the accuracies
	// are measured after the last step.
	Phase   string        `json:"phase"`
	Elapsed time.Duration `json:"elapsed"` // since CompareCNN started
}

// CompareCNN trains every model of cfg from seeds 1…cfg.Seeds on the same
// budget and measures its parameters, train and test accuracy, their gap
// and the accuracy on test digits shifted by each of cfg.Shifts pixels,
// with the mean and standard deviation over seeds. progress (may be nil)
// is called after every step and before each measurement, from the calling
// goroutine. It returns cfg.Validate's error for a bad budget, and ctx's
// error, with no result, when ctx is cancelled (checked between steps).
func CompareCNN(ctx context.Context, cfg CompareConfig, progress func(Progress)) (*CompareResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if progress == nil {
		progress = func(Progress) {}
	}
	start := time.Now()
	res := &CompareResult{Config: cfg}
	runs := len(cfg.Models) * cfg.Seeds
	run := 0
	for _, model := range cfg.Models {
		mr := ModelResult{Model: model, LR: cfg.trainConfig(model, 1).LR}
		for seed := uint64(1); seed <= uint64(cfg.Seeds); seed++ {
			run++
			p := Progress{Model: model, Seed: seed, Run: run, Runs: runs}
			rr, count, err := compareRun(ctx, cfg, cfg.trainConfig(model, seed), func(step, steps int, phase string) {
				p.Step, p.Steps, p.Phase, p.Elapsed = step, steps, phase, time.Since(start)
				progress(p)
			})
			if err != nil {
				return nil, err
			}
			mr.Params, mr.Unshared, mr.Uses = count.Params, count.Unshared, count.Uses
			mr.Runs = append(mr.Runs, rr)
		}
		mr.summarise(len(cfg.Shifts))
		res.Models = append(res.Models, mr)
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// compareRun trains one model for cfg.Epochs epochs (or cfg.Steps steps)
// and measures it.
func compareRun(ctx context.Context, cfg CompareConfig, tc TrainConfig, report func(step, steps int, phase string)) (RunResult, engine.Count, error) {
	var spent time.Duration // in Step and the measurements, not in report
	t, err := NewTrainer(tc)
	if err != nil {
		return RunResult{}, engine.Count{}, err
	}
	steps := cfg.Epochs * t.StepsPerEpoch()
	if cfg.Steps > 0 {
		steps = cfg.Steps
	}
	rr := RunResult{Seed: tc.Seed}
	var epochLoss float64
	for i := range steps {
		if err := ctx.Err(); err != nil {
			return RunResult{}, engine.Count{}, err
		}
		t0 := time.Now()
		r, err := t.Step()
		spent += time.Since(t0)
		if errors.Is(err, engine.ErrDiverged) {
			rr.Diverged = true // FinalLoss keeps the steps before
			break
		}
		if err != nil {
			return RunResult{}, engine.Count{}, err
		}
		if i%t.StepsPerEpoch() == 0 {
			epochLoss = 0
		}
		epochLoss += r.Loss
		rr.FinalLoss = epochLoss / float64(i%t.StepsPerEpoch()+1)
		report(i+1, steps, "train")
	}
	rr.Steps = t.Steps()
	report(rr.Steps, steps, "measure")
	if err := ctx.Err(); err != nil {
		return RunResult{}, engine.Count{}, err
	}
	// Each measurement is reported before it starts: a caller that pauses
	// in report (a server's piece of work) gets the three as separate
	// stretches, not one long one.
	t0 := time.Now()
	rr.TrainAcc = t.TrainAccuracy(cfg.Eval)
	spent += time.Since(t0)
	report(rr.Steps, steps, "measure")
	if err := ctx.Err(); err != nil {
		return RunResult{}, engine.Count{}, err
	}
	t0 = time.Now()
	rr.TestAcc = t.TestAccuracy(cfg.Eval)
	rr.Gap = rr.TrainAcc - rr.TestAcc
	spent += time.Since(t0)
	report(rr.Steps, steps, "measure")
	if err := ctx.Err(); err != nil {
		return RunResult{}, engine.Count{}, err
	}
	t0 = time.Now()
	rr.ShiftAcc = t.ShiftAccuracy(cfg.Shifts, cfg.Eval)
	rr.Seconds = (spent + time.Since(t0)).Seconds()
	return rr, t.Count(), nil
}

// summarise fills the statistics over mr.Runs.
func (mr *ModelResult) summarise(shifts int) {
	col := func(f func(RunResult) float64) Stat {
		xs := make([]float64, len(mr.Runs))
		for i, r := range mr.Runs {
			xs[i] = f(r)
		}
		return newStat(xs)
	}
	mr.TrainAcc = col(func(r RunResult) float64 { return r.TrainAcc })
	mr.TestAcc = col(func(r RunResult) float64 { return r.TestAcc })
	mr.Gap = col(func(r RunResult) float64 { return r.Gap })
	mr.ShiftAcc = make([]Stat, shifts)
	for k := range shifts {
		mr.ShiftAcc[k] = col(func(r RunResult) float64 { return r.ShiftAcc[k] })
	}
}

// Diverged counts the runs of mr that diverged.
func (mr *ModelResult) Diverged() int {
	n := 0
	for _, r := range mr.Runs {
		if r.Diverged {
			n++
		}
	}
	return n
}
