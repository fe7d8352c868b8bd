package drawdigit

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/engine/data"
	"github.com/paramshare/paramshare/lab"
	"github.com/paramshare/paramshare/run"
)

// The three models are trained once per server process and shared
// read-only by every run: the trained weights are shared data, as the
// digits are. The training is bounded — a fixed budget (training below)
// cut into pieces of about pieceTime — and it never runs on its own: each
// piece holds a slot of the run scheduler, lent by a run that waits for
// the models. A draw-digit run lends its owner's CPU from Attach to Close
// (the driver goroutine takes the lenders in turn, through their
// Host.Compute), and a run or an export that advances to step 1 runs
// pieces itself in its Advance, inside its own slot. Every frame carries
// the training's progress, and lenders are told to publish as it moves.
//
// Runs need instances of the models to run Forward on (engine layers keep
// the activations of their last pass). Instances are pooled: at most one
// per CPU, built from the shared weights when first needed, taken for one
// computation and given back, so a run holds none of them.

// pieceTime is about how long one piece of training runs: training steps
// or evaluation chunks until this much time has passed (a step of the
// locally connected twin alone takes ~50 ms on the development machine).
const pieceTime = 20 * time.Millisecond

// evalChunk is how many test digits one evaluation chunk runs through a
// model.
const evalChunk = 100

// notifyEvery is how often lenders are told the progress moved.
const notifyEvery = 200 * time.Millisecond

// shiftTest are the shifts (pixels to the right) at which a trained model's
// test accuracy is measured, to put the translation claim to the test on
// real digits; shift 0 is the plain test accuracy.
var shiftTest = []int{0, 2, 4, 6, 8}

// stepCost is the measured cost of one training step of each model
// relative to the CNN's (batch 32 on a shared 2-core machine: cnn 312 steps
// in 2.9 s, lc in 15.3 s, mlp in 0.04 s), so that the progress fraction
// moves at about an even pace while the slow model trains.
var stepCost = map[string]float64{"cnn": 1, "lc": 5.3, "mlp": 0.02}

// training is the budget the models are trained with.
type training struct {
	TrainSize int `json:"trainSize"` // the first TrainSize embedded training digits
	Epochs    int `json:"epochs"`    // passes over them
	EvalSize  int `json:"evalSize"`  // test digits the accuracies are measured on
}

// budget is the server's training: two epochs over all 5,000 embedded
// training digits (Adam, batch 32, the lab's learning rate), measured on
// all 1,000 test digits — about 20 s of one core. Test binaries train one
// epoch over 1,000 digits measured on 200 (a few seconds) unless
// PARAMSHARE_DRAW_FULL=1 asks for the server's.
func budget() training {
	if testing.Testing() && os.Getenv("PARAMSHARE_DRAW_FULL") == "" {
		return training{TrainSize: 1000, Epochs: 1, EvalSize: 200}
	}
	return training{TrainSize: lab.MaxTrainSize, Epochs: 2, EvalSize: lab.TestSet().N}
}

// modelInfo describes one trained model.
type modelInfo struct {
	Name          string    `json:"name"`
	Params        int       `json:"params"`       // unique parameters (engine Count)
	Steps         int       `json:"steps"`        // training steps taken
	Seconds       float64   `json:"seconds"`      // training time, evaluation excluded
	TestAccuracy  float64   `json:"testAccuracy"` // on EvalSize test digits, unshifted
	Shifts        []int     `json:"shifts"`       // pixels to the right
	ShiftAccuracy []float64 `json:"shiftAccuracy"`
}

// progress is how far the training is.
type progress struct {
	Started  bool    `json:"started"`
	Done     bool    `json:"done"`
	Model    string  `json:"model"`    // the model being trained (or evaluated) now; "" when done
	Fraction float64 `json:"fraction"` // 0…1 over all three models, weighted by their cost
	Error    string  `json:"error,omitempty"`
	ErrorZh  string  `json:"errorZh,omitempty"`
}

// shared is the process's one training of the three models.
var shared = struct {
	budget training
	ready  chan struct{} // closed when the training has ended (models or err set)

	// mu is held while a piece trains; it guards the training's state.
	mu    sync.Mutex
	model int          // index in lab.Models() of the model in training
	tr    *lab.Trainer // nil before the model's first piece
	step  int          // training steps taken of tr
	steps int          // training steps tr takes
	sets  []*data.Images
	unit  int   // evaluation chunks done of the current model
	hits  []int // per shift
	spent time.Duration
	share []float64 // each model's part of the progress bar
	done  float64   // the parts of the models finished
	info  []modelInfo
	wts   map[string][][]float64

	// Set before ready is closed, read-only after.
	weights map[string][][]float64 // per model, its Params' values in model order
	infos   []modelInfo
	err     *run.Error

	progMu   sync.Mutex
	progress progress
}{budget: budget(), ready: make(chan struct{})}

// trained returns nil once the models are trained, errTraining while they
// train, and the training's failure.
func trained() error {
	select {
	case <-shared.ready:
		if shared.err != nil {
			return shared.err
		}
		return nil
	default:
		return errTraining
	}
}

// errTraining is trained's answer while the models train.
var errTraining = errors.New("drawdigit: the models are still training")

// currentProgress returns how far the training is.
func currentProgress() progress {
	shared.progMu.Lock()
	defer shared.progMu.Unlock()
	return shared.progress
}

// trainPiece runs the next piece of the training: training steps or
// evaluation chunks for about pieceTime (at least one). It returns the
// training's failure, if it has failed; nil while it goes on and once the
// models are trained.
func trainPiece() (err error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if err := trained(); err != errTraining {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			finish(run.Recovered(name+" model training", p))
			err = shared.err
		}
	}()
	start := time.Now()
	for time.Since(start) < pieceTime {
		if err := trainUnit(); err != nil {
			finish(err)
			return shared.err
		}
		if trained() != errTraining {
			return trained()
		}
	}
	return nil
}

// trainUnit takes one training step or runs one evaluation chunk of the
// current model, and finishes the training after the last model's last
// chunk. shared.mu must be held.
func trainUnit() error {
	s := &shared
	b := s.budget
	names := lab.Models()
	if s.share == nil { // the first unit: plan the bar and the test sets
		sub := lab.TestSet().Subset(b.EvalSize)
		s.sets = []*data.Images{sub}
		for _, dx := range shiftTest[1:] {
			s.sets = append(s.sets, data.Shift(sub, dx, 0))
		}
		var whole float64
		for _, n := range names {
			s.share = append(s.share, modelCost(n, b))
			whole += s.share[len(s.share)-1]
		}
		for i := range s.share {
			s.share[i] /= whole
		}
		s.wts = map[string][][]float64{}
	}
	name := names[s.model]
	if s.tr == nil {
		cfg := lab.DefaultTrainConfig(name)
		cfg.TrainSize = b.TrainSize
		tr, err := lab.NewTrainer(cfg)
		if err != nil {
			return fmt.Errorf("training %s: %w", name, err)
		}
		s.tr, s.step, s.steps, s.unit, s.spent = tr, 0, b.Epochs*tr.StepsPerEpoch(), 0, 0
		s.hits = make([]int, len(shiftTest))
	}
	chunks := (b.EvalSize + evalChunk - 1) / evalChunk
	switch {
	case s.step < s.steps:
		t0 := time.Now()
		if _, err := s.tr.Step(); err != nil {
			return fmt.Errorf("training %s: %w", name, err)
		}
		s.spent += time.Since(t0)
		s.step++
	case s.unit < chunks*len(shiftTest):
		set, lo := s.unit/chunks, (s.unit%chunks)*evalChunk
		s.hits[set] += s.tr.Hits(s.sets[set], lo, min(lo+evalChunk, b.EvalSize))
		s.unit++
	}
	if s.step < s.steps || s.unit < chunks*len(shiftTest) {
		evalDone := min(s.unit*evalChunk, b.EvalSize*len(shiftTest))
		f := (float64(s.step) + evalCost(evalDone)) / (float64(s.steps) + evalCost(b.EvalSize*len(shiftTest)))
		setProgress(progress{Started: true, Model: name, Fraction: min(s.done+f*s.share[s.model], 1)})
		return nil
	}
	// The model is trained and measured: keep its weights and numbers.
	m := s.tr.Model()
	var w [][]float64
	for _, p := range m.Params() {
		w = append(w, slices.Clone(p.Value.Data))
	}
	s.wts[name] = w
	acc := make([]float64, len(shiftTest))
	for i, h := range s.hits {
		acc[i] = float64(h) / float64(b.EvalSize)
	}
	s.info = append(s.info, modelInfo{
		Name: name, Params: m.Count().Params, Steps: s.steps, Seconds: s.spent.Seconds(),
		TestAccuracy: acc[0], Shifts: slices.Clone(shiftTest), ShiftAccuracy: acc,
	})
	s.done += s.share[s.model]
	s.tr = nil
	if s.model++; s.model < len(names) {
		setProgress(progress{Started: true, Model: names[s.model], Fraction: min(s.done, 1)})
		return nil
	}
	s.sets = nil
	finish(nil)
	return nil
}

// evalCost is the cost of evaluating n digits in training steps: about a
// third of a step per 32 digits.
func evalCost(n int) float64 { return float64(n) / 32 / 3 }

// modelCost is a model's training and evaluation cost, in CNN steps.
func modelCost(name string, b training) float64 {
	steps := b.Epochs * (b.TrainSize / lab.DefaultTrainConfig(name).Batch)
	return (float64(steps) + evalCost(b.EvalSize*len(shiftTest))) * stepCost[name]
}

func setProgress(p progress) {
	shared.progMu.Lock()
	shared.progress = p
	shared.progMu.Unlock()
}

// finish ends the training with its models, or with err. shared.mu must
// be held.
func finish(err error) {
	if trained() != errTraining {
		return
	}
	if err != nil {
		shared.err = run.NewError(run.CodeStepFailed,
			"the digit models could not be trained: "+err.Error(),
			"数字模型训练失败："+err.Error())
		setProgress(progress{Started: true, Done: true, Error: shared.err.Text.En, ErrorZh: shared.err.Text.Zh})
	} else {
		shared.weights, shared.infos = shared.wts, shared.info
		setProgress(progress{Started: true, Done: true, Fraction: 1})
	}
	shared.tr, shared.sets, shared.wts = nil, nil, nil
	close(shared.ready)
}

// startProgress marks the training as asked for, so that frames say it
// has started before its first piece has run.
func startProgress() {
	shared.progMu.Lock()
	defer shared.progMu.Unlock()
	if !shared.progress.Started {
		shared.progress = progress{Started: true, Model: lab.Models()[0]}
	}
}

// lenders are the attached runs that lend their owners' CPU to the
// training, and the one driver goroutine that uses it.
var lenders = struct {
	mu         sync.Mutex
	list       []*digit
	next       int
	driving    bool
	lastNotify time.Time
}{}

// lend adds d (attached, with its host and context) to the lenders and
// starts the driver if the models still need training.
func lend(d *digit) {
	lenders.mu.Lock()
	defer lenders.mu.Unlock()
	if trained() != errTraining {
		return
	}
	startProgress()
	lenders.list = append(lenders.list, d)
	if !lenders.driving {
		lenders.driving = true
		go drive()
	}
}

// unlend removes d from the lenders and waits until the driver no longer
// uses its host (at most the end of the piece it runs).
func unlend(d *digit) {
	lenders.mu.Lock()
	if i := slices.Index(lenders.list, d); i >= 0 {
		lenders.list = slices.Delete(lenders.list, i, i+1)
	}
	lenders.mu.Unlock()
	d.cancel()
	d.busy.Wait()
}

// drive trains piece after piece on the lenders' CPU, taking them in turn,
// until the models are trained or nobody waits for them.
func drive() {
	for {
		lenders.mu.Lock()
		if trained() != errTraining || len(lenders.list) == 0 {
			lenders.driving = false
			lenders.mu.Unlock()
			return
		}
		d := lenders.list[lenders.next%len(lenders.list)]
		lenders.next++
		d.busy.Add(1)
		lenders.mu.Unlock()
		err := d.host.Compute(d.ctx, func() { trainPiece() })
		d.busy.Done()
		if err == nil {
			notifyLenders()
		}
	}
}

// notifyLenders tells the lenders' runs to publish the training's progress,
// at most every notifyEvery, and always once it has ended.
func notifyLenders() {
	lenders.mu.Lock()
	defer lenders.mu.Unlock()
	if trained() == errTraining && time.Since(lenders.lastNotify) < notifyEvery {
		return
	}
	lenders.lastNotify = time.Now()
	for _, d := range lenders.list {
		d.host.Changed()
	}
}

// nets is one instance of each trained model, for one computation.
type nets map[string]*engine.Model

// pool holds the instances: at most one set per CPU.
var pool = struct {
	sem  chan struct{}
	mu   sync.Mutex
	free []nets
}{sem: make(chan struct{}, runtime.GOMAXPROCS(0))}

// takeNets returns a set of instances of the trained models, waiting while
// every set is in use; the caller gives it back with putNets. The models
// must be trained.
func takeNets() nets {
	pool.sem <- struct{}{}
	pool.mu.Lock()
	defer pool.mu.Unlock()
	if n := len(pool.free); n > 0 {
		s := pool.free[n-1]
		pool.free = pool.free[:n-1]
		return s
	}
	s := nets{}
	for _, name := range lab.Models() {
		s[name] = newTrained(name)
	}
	return s
}

func putNets(s nets) {
	pool.mu.Lock()
	pool.free = append(pool.free, s)
	pool.mu.Unlock()
	<-pool.sem
}

// newTrained returns a fresh instance of the named model holding a copy of
// the trained weights. The models must be trained.
func newTrained(name string) *engine.Model {
	w := shared.weights[name]
	m, err := engine.BuildModel(name, lab.DefaultTrainConfig(name).Seed)
	if err != nil {
		panic(fmt.Sprintf("drawdigit: %v", err)) // lab trained it: a bug
	}
	ps := m.Params()
	if len(ps) != len(w) {
		panic(fmt.Sprintf("drawdigit: model %q has %d params, trained %d", name, len(ps), len(w)))
	}
	for i, p := range ps {
		if len(p.Value.Data) != len(w[i]) {
			panic(engine.ShapeError{Op: "drawdigit: newTrained " + p.Name, Want: []int{len(w[i])}, Got: p.Value.Shape})
		}
		copy(p.Value.Data, w[i])
	}
	return m
}
