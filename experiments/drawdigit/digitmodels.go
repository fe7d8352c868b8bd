package run

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/lab"
)

// The draw-digit models are trained once per server process, in the
// background, and shared read-only by every session: the first draw-digit
// run (or export) starts the training, later ones wait on the same training
// and only watch its progress. A session still needs models of its own to
// run Forward on, because engine layers keep the activations of their last
// pass; NewDigitModel builds one and copies the trained weights into it.

// DigitModelNames are the models the draw-digit experiment compares, in the
// order they are trained and shown: the lessons' CNN, its locally connected
// twin (the same shapes, a kernel of its own at every position) and the MLP
// with about the CNN's parameter count.
func DigitModelNames() []string { return []string{"cnn", "lc", "mlp"} }

// DigitTraining is the budget the draw-digit models are trained with.
type DigitTraining struct {
	TrainSize int `json:"trainSize"` // the first TrainSize embedded training digits, lab.MinTrainSize…lab.MaxTrainSize
	Epochs    int `json:"epochs"`    // passes over them, ≥ 1
	EvalSize  int `json:"evalSize"`  // test digits the accuracies are measured on, 1…1000
}

// DefaultDigitTraining is the server's budget: two epochs over all 5,000
// embedded training digits (Adam, batch 32, the lab's learning rates),
// measured on all 1,000 test digits.
func DefaultDigitTraining() DigitTraining {
	return DigitTraining{TrainSize: lab.MaxTrainSize, Epochs: 2, EvalSize: 1000}
}

// DigitShiftTest are the shifts (pixels to the right) at which a trained
// model's test accuracy is measured, to put the translation claim to the
// test on real digits.
var digitShiftTest = []int{0, 2, 4, 6, 8}

// ErrDigitTraining is returned while the draw-digit models are still being
// trained.
var ErrDigitTraining = errors.New("run: the digit models are still training")

// DigitModelInfo describes one trained model.
type DigitModelInfo struct {
	Name          string    `json:"name"`
	Params        int       `json:"params"`       // unique parameters (engine Count)
	Steps         int       `json:"steps"`        // training steps taken
	Seconds       float64   `json:"seconds"`      // training time, evaluation excluded
	TestAccuracy  float64   `json:"testAccuracy"` // on EvalSize test digits, unshifted
	Shifts        []int     `json:"shifts"`       // pixels to the right
	ShiftAccuracy []float64 `json:"shiftAccuracy"`
}

// DigitProgress is how far the training is.
type DigitProgress struct {
	Started  bool    `json:"started"`
	Done     bool    `json:"done"`
	Model    string  `json:"model"`    // the model being trained (or evaluated) now; "" when done
	Fraction float64 `json:"fraction"` // 0…1 over all three models, weighted by their cost
	Error    string  `json:"error,omitempty"`
}

// stepCost is the measured cost of one training step of each model
// relative to the CNN's (batch 32 on a shared 2-core machine: cnn 312 steps
// in 2.9 s, lc in 15.3 s, mlp in 0.04 s), so that the progress fraction
// moves at about an even pace while the slow model trains.
var stepCost = map[string]float64{"cnn": 1, "lc": 5.3, "mlp": 0.02}

// digitCache is the process's one training of the draw-digit models.
var digitCache = struct {
	mu       sync.Mutex
	budget   DigitTraining
	started  bool
	done     chan struct{} // closed when training ended (models or err set)
	progress DigitProgress
	weights  map[string][][]float64 // per model, its Params' values in model order
	info     []DigitModelInfo
	err      error
}{budget: DefaultDigitTraining(), done: make(chan struct{})}

// SetDigitTraining sets the training budget. It is meant for tests, which
// train smaller models to stay fast, and must be called before anything
// starts the training (an init function of a test file is a good place):
// it panics if the training has started or b is out of range.
func SetDigitTraining(b DigitTraining) {
	if b.TrainSize < lab.MinTrainSize || b.TrainSize > lab.MaxTrainSize || b.Epochs < 1 || b.EvalSize < 1 || b.EvalSize > 1000 {
		panic(fmt.Sprintf("run: SetDigitTraining: budget %+v out of range", b))
	}
	digitCache.mu.Lock()
	defer digitCache.mu.Unlock()
	if digitCache.started {
		panic("run: SetDigitTraining after the digit models started training")
	}
	digitCache.budget = b
}

// StartDigitTraining starts training the draw-digit models in the
// background unless that has been done already. It returns at once.
func StartDigitTraining() {
	digitCache.mu.Lock()
	defer digitCache.mu.Unlock()
	if digitCache.started {
		return
	}
	digitCache.started = true
	digitCache.progress = DigitProgress{Started: true, Model: DigitModelNames()[0]}
	go trainDigitModels(digitCache.budget)
}

// DigitTrainingProgress returns how far the training is.
func DigitTrainingProgress() DigitProgress {
	digitCache.mu.Lock()
	defer digitCache.mu.Unlock()
	return digitCache.progress
}

// WaitDigitModels starts the training if needed and waits until it has
// ended or ctx is done. It returns the training's error, or ctx's.
func WaitDigitModels(ctx context.Context) error {
	StartDigitTraining()
	select {
	case <-digitCache.done:
		return digitCache.err // written before done was closed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// DigitModels returns what was measured of each trained model, in
// DigitModelNames order, or ErrDigitTraining (or the training's error)
// when they are not ready.
func DigitModels() ([]DigitModelInfo, error) {
	if err := digitReady(); err != nil {
		return nil, err
	}
	return slices.Clone(digitCache.info), nil
}

// digitReady returns nil when the models are trained, ErrDigitTraining
// while they train, and the training's error if it failed. After it
// returns nil, digitCache.weights and info may be read without the lock:
// they never change again.
func digitReady() error {
	select {
	case <-digitCache.done:
		return digitCache.err
	default:
		return ErrDigitTraining
	}
}

// NewDigitModel returns a fresh instance of the named trained model (one of
// DigitModelNames) holding a copy of the trained weights, for one caller's
// own Forward passes. It returns ErrDigitTraining while the models train.
func NewDigitModel(name string) (*engine.Model, error) {
	if err := digitReady(); err != nil {
		return nil, err
	}
	w, ok := digitCache.weights[name]
	if !ok {
		return nil, fmt.Errorf("run: no digit model named %q (have %v)", name, DigitModelNames())
	}
	m, err := engine.BuildModel(name, lab.DefaultTrainConfig(name).Seed)
	if err != nil {
		return nil, fmt.Errorf("run: %w", err)
	}
	ps := m.Params()
	if len(ps) != len(w) {
		panic(fmt.Sprintf("run: digit model %q has %d params, trained %d", name, len(ps), len(w)))
	}
	for i, p := range ps {
		if len(p.Value.Data) != len(w[i]) {
			panic(engine.ShapeError{Op: "run: NewDigitModel " + p.Name, Want: []int{len(w[i])}, Got: p.Value.Shape})
		}
		copy(p.Value.Data, w[i])
	}
	return m, nil
}

// trainDigitModels trains every model in turn with lab.Trainer and
// publishes the result (or the first error) in digitCache.
func trainDigitModels(b DigitTraining) {
	weights := map[string][][]float64{}
	var info []DigitModelInfo
	// Each model's share of the progress bar: its steps times its cost,
	// plus its evaluation (about a third of a step per 32 digits).
	names := DigitModelNames()
	share := map[string]float64{}
	var whole float64
	for _, name := range names {
		steps := b.Epochs * (b.TrainSize / lab.DefaultTrainConfig(name).Batch)
		evals := float64(b.EvalSize*(len(digitShiftTest)+1)) / 32 / 3
		share[name] = (float64(steps) + evals) * stepCost[name]
		whole += share[name]
	}
	var before float64 // the shares of the models already trained
	report := func(name string, f float64) {
		digitCache.mu.Lock()
		digitCache.progress.Model = name
		digitCache.progress.Fraction = min((before+f*share[name])/whole, 1)
		digitCache.mu.Unlock()
	}
	finished := false
	finish := func(err error) {
		digitCache.mu.Lock()
		defer digitCache.mu.Unlock()
		finished = true
		if err != nil {
			digitCache.err = err
			digitCache.progress = DigitProgress{Started: true, Done: true, Error: err.Error()}
		} else {
			digitCache.weights, digitCache.info = weights, info
			digitCache.progress = DigitProgress{Started: true, Done: true, Fraction: 1}
		}
		close(digitCache.done)
	}
	// This is the training's own goroutine: a panic in a model must not end
	// the process; it becomes the training's error, which the draw-digit
	// runs and exports report.
	defer func() {
		if p := recover(); p != nil {
			err := recovered("draw-digit model training", p)
			if !finished {
				finish(err)
			}
		}
	}()
	for _, name := range names {
		cfg := lab.DefaultTrainConfig(name)
		cfg.TrainSize = b.TrainSize
		tr, err := lab.NewTrainer(cfg)
		if err != nil {
			finish(fmt.Errorf("run: training %s: %w", name, err))
			return
		}
		steps := b.Epochs * tr.StepsPerEpoch()
		evals := float64(b.EvalSize*(len(digitShiftTest)+1)) / 32 / 3
		start := time.Now()
		for i := range steps {
			if _, err := tr.Step(); err != nil {
				finish(fmt.Errorf("run: training %s: %w", name, err))
				return
			}
			report(name, float64(i+1)/(float64(steps)+evals))
		}
		secs := time.Since(start).Seconds()
		acc := tr.TestAccuracy(b.EvalSize)
		shifted := tr.ShiftAccuracy(digitShiftTest, b.EvalSize)
		m := tr.Model()
		var w [][]float64
		for _, p := range m.Params() {
			w = append(w, slices.Clone(p.Value.Data))
		}
		weights[name] = w
		info = append(info, DigitModelInfo{
			Name: name, Params: m.Count().Params, Steps: steps, Seconds: secs,
			TestAccuracy: acc, Shifts: slices.Clone(digitShiftTest), ShiftAccuracy: shifted,
		})
		before += share[name]
		report(name, 0)
	}
	finish(nil)
}
