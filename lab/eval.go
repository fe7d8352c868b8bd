package lab

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/engine/data"
	"gonum.org/v1/gonum/stat/distuv"
)

// Lesson 17's comparisons ("Does sharing help?"): each runs one of the
// lab's comparisons over seeds at a named budget and reports every model
// in the same terms — a test measure, the training measure and their gap
// where the comparison measures one, parameters, training time, memory —
// with the mean, the sample standard deviation and a 95 % interval over
// seeds. The numbers are the comparisons' own (CompareCNN, RNNVsUnshared,
// TiedVsUntied, AlbertModes, SiameseVsTowers); Eval only translates and
// summarises.

// Comparison names.
const (
	EvalCNN    = "cnn-lc-mlp"   // CompareCNN: cnn, lc, mlp, mlp-wide
	EvalGAP    = "global-pool"  // CompareCNN: cnn, cnn-gap, cnn-gap-wide at GAPLR
	EvalRNN    = "rnn-unshared" // RNNVsUnshared: rnn, unshared
	EvalTied   = "tied-untied"  // TiedVsUntied
	EvalAlbert = "albert-modes" // AlbertModes: all, attention, ffn, none
	EvalTwins  = "twins-towers" // SiameseVsTowers
)

// Budget names, cheapest first.
const (
	EvalSmall  = "small"
	EvalMedium = "medium"
	EvalLarge  = "large"
)

// MaxEvalSeeds bounds EvalConfig.Seeds.
const MaxEvalSeeds = 10

// EvalComparisons lists the comparisons, in the order a page offers them.
func EvalComparisons() []string {
	return []string{EvalCNN, EvalGAP, EvalRNN, EvalTied, EvalAlbert, EvalTwins}
}

// EvalSizes lists the budgets, cheapest first.
func EvalSizes() []string { return []string{EvalSmall, EvalMedium, EvalLarge} }

// EvalConfig is one question: which comparison, at which budget, over
// seeds 1…Seeds.
type EvalConfig struct {
	Comparison string `json:"comparison"`
	Size       string `json:"size"`
	Seeds      int    `json:"seeds"`
	// TrainSize, for cnn-lc-mlp only, sets the training digits apart from
	// the steps: the budget's steps on TrainSize digits (EvalTrainSizes),
	// so that a learning curve has matched steps. 0: the budget's digits.
	TrainSize int `json:"trainSize,omitempty"`
}

// EvalTrainSizes are the training-set sizes EvalConfig.TrainSize may
// name.
func EvalTrainSizes() []int { return []int{100, 300, 1000, 2000, 5000} }

// Validate names the first value out of range.
func (c EvalConfig) Validate() error {
	switch {
	case !slices.Contains(EvalComparisons(), c.Comparison):
		return fmt.Errorf("lab: comparison %q: want one of %v", c.Comparison, EvalComparisons())
	case !slices.Contains(EvalSizes(), c.Size):
		return fmt.Errorf("lab: size %q: want one of %v", c.Size, EvalSizes())
	case c.Seeds < 1 || c.Seeds > MaxEvalSeeds:
		return fmt.Errorf("lab: seeds %d: want 1…%d", c.Seeds, MaxEvalSeeds)
	case c.TrainSize != 0 && c.Comparison != EvalCNN:
		return fmt.Errorf("lab: train size %d: only %s sets it apart from the budget", c.TrainSize, EvalCNN)
	case c.TrainSize != 0 && !slices.Contains(EvalTrainSizes(), c.TrainSize):
		return fmt.Errorf("lab: train size %d: want 0 (the budget's) or one of %v", c.TrainSize, EvalTrainSizes())
	}
	return nil
}

// EvalBudget is what a budget means for one comparison: every model of the
// comparison trains on the same data for the same steps.
type EvalBudget struct {
	// TrainSize is how many training examples the runs draw from (digits,
	// or words of the corpus); 0 where the task generates its sequences.
	TrainSize int `json:"trainSize"`
	Steps     int `json:"steps"` // optimizer steps per model and seed
	Batch     int `json:"batch"`
	// LR is Adam's learning rate, the same for every model.
	LR float64 `json:"lr"`
	// Eval is how many test examples the test measure uses (digits, pairs,
	// windows of words, sequences).
	Eval int `json:"eval"`
}

// cnnConfig is the CompareCNN budget of size: the cnn, the lc, the mlp and
// the wide mlp (ModelMLPWide, the lc's parameter count without locality),
// Adam 3e-3, batch 32, accuracies on the first 500 test digits (and as
// many training digits), shift test 0, 2 and 4 pixels.
func cnnConfig(size string, seeds int) CompareConfig {
	c := DefaultCompareConfig()
	c.Models = append(Models(), ModelMLPWide)
	c.Seeds, c.Eval, c.Shifts = seeds, 500, []int{0, 2, 4}
	switch size {
	case EvalSmall:
		c.TrainSize, c.Epochs = 300, 3
	case EvalMedium:
		c.TrainSize, c.Epochs = 1000, 5
	default:
		c.TrainSize, c.Epochs = 5000, 2
	}
	return c
}

// cnnConfigOf is cnnConfig for the question c: with c.TrainSize set, the
// budget's steps on that many digits.
func cnnConfigOf(c EvalConfig) CompareConfig {
	k := cnnConfig(c.Size, c.Seeds)
	if c.TrainSize > 0 {
		k.Steps = k.Epochs * (k.TrainSize / k.Batch)
		k.TrainSize = c.TrainSize
	}
	return k
}

// gapConfig is the global-pool budget of size: DefaultGAPCompareConfig's
// models and learning rate (GAPLR for all three) on the first 1,000
// training digits, for 10, 30 (DefaultGAPCompareConfig's) or 60 epochs,
// measured as cnnConfig measures. The pooled models learn slowly: after
// 3 epochs they are near a quarter of the digits.
func gapConfig(size string, seeds int) CompareConfig {
	c := DefaultGAPCompareConfig()
	c.Seeds, c.Eval, c.Shifts = seeds, 500, []int{0, 2, 4}
	c.TrainSize = 1000
	c.Epochs = map[string]int{EvalSmall: 10, EvalMedium: 30, EvalLarge: 60}[size]
	return c
}

// rnnConfig is the rnn-unshared budget of size: DefaultUnsharedConfig's
// task (remember the first symbol at distance 10) on 200 training
// sequences for 1,000 steps, 1,000 for 3,000 (the default), or 5,000 for
// 6,000.
func rnnConfig(size string, seeds int) UnsharedConfig {
	c := DefaultUnsharedConfig()
	c.Seeds = seeds
	switch size {
	case EvalSmall:
		c.TrainSize, c.Steps = 200, 1000
	case EvalMedium:
		c.TrainSize, c.Steps = 1000, 3000
	default:
		c.TrainSize, c.Steps = 5000, 6000
	}
	return c
}

func tiedConfig(size string, seeds int) TiedCompareConfig {
	c := DefaultTiedCompareConfig()
	c.Seeds = seeds
	c.Steps = map[string]int{EvalSmall: 300, EvalMedium: 1500, EvalLarge: 3000}[size]
	return c
}

func albertConfig(size string, seeds int) AlbertModesConfig {
	c := DefaultAlbertModesConfig()
	c.Seeds = seeds
	c.Steps = map[string]int{EvalSmall: 100, EvalMedium: 400, EvalLarge: 1200}[size]
	return c
}

func twinsConfig(size string, seeds int) TwinsCompareConfig {
	c := DefaultTwinsCompareConfig()
	c.Seeds = seeds
	switch size {
	case EvalSmall:
		c.Steps, c.TrainSize = 100, 500
	case EvalMedium:
		c.Steps, c.TrainSize = 200, 1000
	default:
		c.Steps, c.TrainSize = 600, 5000
	}
	return c
}

// Budget returns what c's budget means for its comparison. c must be
// valid.
func (c EvalConfig) Budget() EvalBudget {
	switch c.Comparison {
	case EvalCNN:
		k := cnnConfigOf(c)
		steps := k.Steps
		if steps == 0 {
			steps = k.Epochs * (k.TrainSize / k.Batch)
		}
		return EvalBudget{TrainSize: k.TrainSize, Steps: steps, Batch: k.Batch, Eval: k.Eval, LR: k.LR["cnn"]}
	case EvalGAP:
		k := gapConfig(c.Size, c.Seeds)
		return EvalBudget{TrainSize: k.TrainSize, Steps: k.Epochs * (k.TrainSize / k.Batch), Batch: k.Batch, Eval: k.Eval, LR: k.LR["cnn"]}
	case EvalRNN:
		k := rnnConfig(c.Size, c.Seeds)
		return EvalBudget{TrainSize: k.TrainSize, Steps: k.Steps, Batch: k.Batch, Eval: SeqEvalSize, LR: k.LR}
	case EvalTied:
		k := tiedConfig(c.Size, c.Seeds)
		return EvalBudget{TrainSize: len(data.WordCorpus().Train), Steps: k.Steps, Batch: k.Batch, Eval: k.Eval, LR: k.LR}
	case EvalAlbert:
		k := albertConfig(c.Size, c.Seeds)
		return EvalBudget{Steps: k.Steps, Batch: k.Batch, Eval: AlbertEvalSize, LR: k.LR}
	default:
		k := twinsConfig(c.Size, c.Seeds)
		return EvalBudget{TrainSize: k.TrainSize, Steps: k.Steps, Batch: k.Batch, Eval: TwinsEvalPairs, LR: k.LR}
	}
}

// EvalStat is a measurement over seeds: mean, sample standard deviation
// (n − 1), and the 95 % interval of the mean, mean ± t·sd/√n with t the
// 97.5 % quantile of Student's t with n − 1 degrees of freedom. With one
// seed there is no interval: Lo = Hi = Mean and HasCI is false.
type EvalStat struct {
	N     int     `json:"n"`
	Mean  float64 `json:"mean"`
	SD    float64 `json:"sd"`
	Lo    float64 `json:"lo"`
	Hi    float64 `json:"hi"`
	HasCI bool    `json:"hasCI"`
}

// NewEvalStat summarises xs (at least one value).
func NewEvalStat(xs []float64) EvalStat {
	s := newStat(xs)
	e := EvalStat{N: len(xs), Mean: s.Mean, SD: s.SD, Lo: s.Mean, Hi: s.Mean}
	if len(xs) > 1 {
		h := TQuantile975(len(xs)-1) * s.SD / math.Sqrt(float64(len(xs)))
		e.Lo, e.Hi, e.HasCI = s.Mean-h, s.Mean+h, true
	}
	return e
}

// TQuantile975 is the 97.5 % quantile of Student's t with df degrees of
// freedom (gonum's distuv), the factor of a two-sided 95 % interval.
func TQuantile975(df int) float64 {
	return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(df)}.Quantile(0.975)
}

// EvalRun is one model trained from one seed.
type EvalRun struct {
	Model    string  `json:"model"`
	Seed     uint64  `json:"seed"`
	Test     float64 `json:"test"`
	Train    float64 `json:"train"`   // 0 unless EvalResult.HasTrain
	Gap      float64 `json:"gap"`     // generalisation gap, oriented so that larger is worse; 0 unless HasTrain
	Seconds  float64 `json:"seconds"` // 0 unless EvalResult.HasTime
	Diverged bool    `json:"diverged"`
	// Shifted is the test measure on the test set moved EvalResult.Shifts
	// pixels right, one per shift (digit comparisons only).
	Shifted []float64 `json:"shifted,omitempty"`
}

// EvalModel is one model over every seed.
type EvalModel struct {
	Model  string `json:"model"`
	Params int    `json:"params"` // unique parameters, engine Count
	// Memory is the bytes the training holds for the parameters: each
	// parameter's value and gradient and Adam's two moment estimates, 8
	// bytes (float64) each — 32 bytes a parameter. Activations are not
	// counted (they depend on the batch, not on sharing).
	Memory  int64      `json:"memory"`
	Runs    []EvalRun  `json:"runs"`
	Test    EvalStat   `json:"test"`
	Train   EvalStat   `json:"train"`
	Gap     EvalStat   `json:"gap"`
	Seconds EvalStat   `json:"seconds"`
	Shifted []EvalStat `json:"shifted,omitempty"` // per EvalResult.Shifts
	// Diff is the paired difference to the reference model
	// (EvalResult.Ref): per seed, this model's test measure minus the
	// reference's on the same seed (the same initial-weight draw and data
	// order), summarised over seeds. Its interval is the paired t
	// interval, mean ± t·sd_d/√n. Zero for the reference itself.
	Diff EvalStat `json:"diff"`
	// Pareto is true when no other model has at most as many parameters
	// and a mean test measure at least as good, one of the two strictly.
	Pareto bool `json:"pareto"`
}

// BytesPerParam is what EvalModel.Memory counts per parameter: value,
// gradient and Adam's first and second moments, float64 each.
const BytesPerParam = 4 * 8

// EvalResult is a comparison's answer.
type EvalResult struct {
	Config EvalConfig `json:"config"`
	Budget EvalBudget `json:"budget"`
	// Measure names the test measure: "accuracy" (digits, verification
	// pairs, sequence tokens) or "perplexity" (words); HigherBetter tells
	// which way is better.
	Measure      string `json:"measure"`
	HigherBetter bool   `json:"higherBetter"`
	// HasTrain is true when the comparison measures the training set too
	// (then Train and Gap are set); HasTime when it times each model (its
	// own steps and measurements, not the waits between them).
	HasTrain bool `json:"hasTrain"`
	HasTime  bool `json:"hasTime"`
	// Shifts are the pixels the test digits were moved right for the
	// shift test (Shifted), when the comparison runs one.
	Shifts []int `json:"shifts,omitempty"`
	// Ref is the model the paired differences (EvalModel.Diff) are taken
	// against: the comparison's first, the one that shares.
	Ref     string      `json:"ref"`
	Models  []EvalModel `json:"models"`
	Seconds float64     `json:"seconds"` // the whole comparison, wall time
}

// Model returns the named model's result, or nil.
func (r *EvalResult) Model(name string) *EvalModel {
	for i := range r.Models {
		if r.Models[i].Model == name {
			return &r.Models[i]
		}
	}
	return nil
}

// Eval runs c's comparison. progress (may be nil) is called from the
// calling goroutine as the comparison goes (after training steps, and
// before measurements). It returns c.Validate's error, or ctx's error
// when ctx is cancelled.
func Eval(ctx context.Context, c EvalConfig, progress func(Progress)) (*EvalResult, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	res := &EvalResult{Config: c, Budget: c.Budget(), Measure: "accuracy", HigherBetter: true}
	add := func(model string, params int, runs []EvalRun) {
		res.Models = append(res.Models, EvalModel{Model: model, Params: params, Memory: int64(params) * BytesPerParam, Runs: runs})
	}
	switch c.Comparison {
	case EvalCNN, EvalGAP:
		cfg := cnnConfigOf(c)
		if c.Comparison == EvalGAP {
			cfg = gapConfig(c.Size, c.Seeds)
		}
		r, err := CompareCNN(ctx, cfg, progress)
		if err != nil {
			return nil, err
		}
		res.HasTrain, res.HasTime, res.Shifts = true, true, slices.Clone(cfg.Shifts)
		for _, m := range r.Models {
			var runs []EvalRun
			for _, x := range m.Runs {
				runs = append(runs, EvalRun{Model: m.Model, Seed: x.Seed, Test: x.TestAcc, Train: x.TrainAcc, Gap: x.Gap, Seconds: x.Seconds, Diverged: x.Diverged, Shifted: x.ShiftAcc})
			}
			add(m.Model, m.Params, runs)
		}
	case EvalRNN:
		r, err := RNNVsUnshared(ctx, rnnConfig(c.Size, c.Seeds), progress)
		if err != nil {
			return nil, err
		}
		res.HasTrain, res.HasTime = true, true
		for _, m := range r.Models {
			var runs []EvalRun
			for _, x := range m.Runs {
				runs = append(runs, EvalRun{Model: m.Model, Seed: x.Seed, Test: x.TestAcc, Train: x.TrainAcc, Gap: x.Gap, Seconds: x.Seconds, Diverged: x.Diverged})
			}
			add(m.Model, m.Params, runs)
		}
	case EvalTied:
		r, err := TiedVsUntied(ctx, tiedConfig(c.Size, c.Seeds), progress)
		if err != nil {
			return nil, err
		}
		res.Measure, res.HigherBetter, res.HasTrain, res.HasTime = "perplexity", false, true, true
		for _, m := range r.Models {
			var runs []EvalRun
			for _, x := range m.Runs {
				runs = append(runs, EvalRun{Model: m.Model, Seed: x.Seed, Test: x.ValidPPL, Train: x.TrainPPL, Gap: x.Gap, Seconds: x.Seconds, Diverged: x.Diverged})
			}
			add(m.Model, m.Params, runs)
		}
	case EvalAlbert:
		cfg := albertConfig(c.Size, c.Seeds)
		r, err := AlbertModes(ctx, cfg, progress)
		if err != nil {
			return nil, err
		}
		res.HasTime = true
		for _, m := range r.Modes {
			var runs []EvalRun
			for _, x := range m.Runs {
				runs = append(runs, EvalRun{Model: m.Share, Seed: x.Seed, Test: x.Acc, Seconds: x.StepMS * float64(cfg.Steps) / 1000, Diverged: x.Diverged})
			}
			add(m.Share, m.Params, runs)
		}
	case EvalTwins:
		// Without the branch recorder: the twins' time is their training's.
		r, err := siameseVsTowers(ctx, twinsConfig(c.Size, c.Seeds), progress, false)
		if err != nil {
			return nil, err
		}
		res.HasTrain, res.HasTime = true, true
		for _, row := range r.Rows {
			var runs []EvalRun
			for i, acc := range row.Runs["accuracy"] {
				tr := row.Runs["train-accuracy"][i]
				runs = append(runs, EvalRun{Model: row.Model, Seed: uint64(i + 1), Test: acc, Train: tr, Gap: tr - acc, Seconds: row.Runs["seconds"][i]})
			}
			add(row.Model, row.Params, runs)
		}
	}
	if len(res.Models) == 0 {
		return nil, errors.New("lab: the comparison returned no models")
	}
	for i := range res.Models {
		res.Models[i].summarise()
	}
	res.pair()
	res.markPareto()
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

func (m *EvalModel) summarise() {
	col := func(f func(EvalRun) float64) EvalStat {
		xs := make([]float64, len(m.Runs))
		for i, r := range m.Runs {
			xs[i] = f(r)
		}
		return NewEvalStat(xs)
	}
	m.Test = col(func(r EvalRun) float64 { return r.Test })
	m.Train = col(func(r EvalRun) float64 { return r.Train })
	m.Gap = col(func(r EvalRun) float64 { return r.Gap })
	m.Seconds = col(func(r EvalRun) float64 { return r.Seconds })
	m.Shifted = nil
	for k := range m.Runs[0].Shifted {
		m.Shifted = append(m.Shifted, col(func(r EvalRun) float64 { return r.Shifted[k] }))
	}
}

// pair sets Ref to the first model and each model's Diff: the per-seed
// differences of its test measure to the first model's. Runs of one seed
// share the data order and the draw of initial weights, so much of what
// moves both with the seed cancels in the difference: its interval is
// narrower than the two means' intervals suggest when the models move
// together.
func (r *EvalResult) pair() {
	ref := &r.Models[0]
	r.Ref = ref.Model
	for i := range r.Models {
		m := &r.Models[i]
		d := make([]float64, len(m.Runs))
		for k := range m.Runs {
			d[k] = m.Runs[k].Test - ref.Runs[k].Test
		}
		m.Diff = NewEvalStat(d)
	}
}

// better reports whether test measure a beats b in r's direction.
func (r *EvalResult) better(a, b float64) bool {
	if r.HigherBetter {
		return a > b
	}
	return a < b
}

// markPareto sets each model's Pareto flag: on the front of fewest
// parameters and best mean test measure.
func (r *EvalResult) markPareto() {
	for i := range r.Models {
		a := &r.Models[i]
		a.Pareto = true
		for j := range r.Models {
			b := &r.Models[j]
			if i == j {
				continue
			}
			noWorse := b.Params <= a.Params && !r.better(a.Test.Mean, b.Test.Mean)
			strictly := b.Params < a.Params || r.better(b.Test.Mean, a.Test.Mean)
			if noWorse && strictly {
				a.Pareto = false
				break
			}
		}
	}
}

// Front returns the Pareto models, fewest parameters first.
func (r *EvalResult) Front() []EvalModel {
	var out []EvalModel
	for _, m := range r.Models {
		if m.Pareto {
			out = append(out, m)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Params < out[j].Params })
	return out
}

// evalParams memoises EvalParams per comparison.
var evalParams sync.Map // comparison → []int

// EvalParams returns the unique parameters (engine Count) of each model of
// comparison, in the order Eval reports them: built from seed 1 as the
// comparison builds them, without training (the counts depend on neither
// the budget nor the seed).
func EvalParams(comparison string) ([]int, error) {
	if v, ok := evalParams.Load(comparison); ok {
		return slices.Clone(v.([]int)), nil
	}
	var out []int
	switch comparison {
	case EvalCNN:
		for _, m := range cnnConfig(EvalSmall, 1).Models {
			mod, err := buildDigitModel(m, 1)
			if err != nil {
				return nil, err
			}
			out = append(out, mod.Count().Params)
		}
	case EvalGAP:
		for _, m := range gapConfig(EvalSmall, 1).Models {
			mod, err := buildDigitModel(m, 1)
			if err != nil {
				return nil, err
			}
			out = append(out, mod.Count().Params)
		}
	case EvalRNN:
		c := rnnConfig(EvalSmall, 1)
		for _, m := range c.Models {
			mod, err := NewUnsharedTaskModel(c, m, 1)
			if err != nil {
				return nil, err
			}
			out = append(out, mod.Count().Params)
		}
	case EvalTied:
		c := tiedConfig(EvalSmall, 1)
		for _, m := range TiedModels() {
			lm, err := NewWordLM(m == Tied, len(data.WordCorpus().Words), c.D, 1)
			if err != nil {
				return nil, err
			}
			out = append(out, lm.Model.Count().Params)
		}
	case EvalAlbert:
		c := albertConfig(EvalSmall, 1)
		for _, s := range AlbertShares() {
			m, err := engine.NewTransformer("albert-"+s, c.config(s, 1).Model(), 1)
			if err != nil {
				return nil, err
			}
			out = append(out, m.Count().Params)
		}
	case EvalTwins:
		tr, err := NewTwinsTrainer(twinsConfig(EvalSmall, 1).run(1))
		if err != nil {
			return nil, err
		}
		tw := tr.Towers()
		out = append(out, tr.Twins().Count().Params, tw[0].Count().Params+tw[1].Count().Params)
	default:
		return nil, fmt.Errorf("lab: comparison %q: want one of %v", comparison, EvalComparisons())
	}
	evalParams.Store(comparison, slices.Clone(out))
	return out, nil
}
