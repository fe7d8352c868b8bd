package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/engine/data"
	"github.com/paramshare/paramshare/viz"
)

// This file is the bptt-contributions experiment (lesson 8, "Vanishing and
// exploding") and the measurements the grad-flow widget shares with it:
// the largest singular value of a recurrent weight, its rescaling, and one
// recorded BPTT pass read as Pascanu, Mikolov & Bengio's (2013, eq. 4–5)
// temporal contributions: step t's part of dW_hh (the engine's UseStep
// contribution with Index [t]) and ‖∂L/∂h_t‖ (the hidden.grad internal).

// LargestSingularValue returns λ₁, the largest singular value (the
// spectral norm ‖W‖₂) of the rows×cols row-major matrix w, by gonum's SVD.
// It panics if len(w) ≠ rows·cols.
func LargestSingularValue(w []float64, rows, cols int) float64 {
	var svd mat.SVD
	if !svd.Factorize(mat.NewDense(rows, cols, slices.Clone(w)), mat.SVDNone) {
		return math.NaN() // gonum's SVD did not converge: no value to show
	}
	return svd.Values(nil)[0]
}

// SpectralRadius returns ρ, the largest modulus of an eigenvalue of the
// n×n row-major matrix w, by gonum's eigendecomposition. ρ ≤ λ₁ always;
// the norm of W^t grows or shrinks like ρ^t for long products (Gelfand's
// formula), so a W with λ₁ > 1 but ρ < 1 still shrinks what it multiplies
// many times over. It panics if len(w) ≠ n·n.
func SpectralRadius(w []float64, n int) float64 {
	var eig mat.Eigen
	if !eig.Factorize(mat.NewDense(n, n, slices.Clone(w)), mat.EigenNone) {
		return math.NaN() // no convergence: no value to show
	}
	var rho float64
	for _, v := range eig.Values(nil) {
		rho = math.Max(rho, cmplx.Abs(v))
	}
	return rho
}

// RecurrentBlocks returns the largest singular value of each H×H gate
// block of a recurrent weight_hh [G·H, H] (G = 1 rnn, 4 lstm i f g o, 3
// gru r z n), in PyTorch's gate order.
func RecurrentBlocks(whh *engine.Param) []float64 {
	gh, h := whh.Value.Shape[0], whh.Value.Shape[1]
	var out []float64
	for g := 0; g < gh/h; g++ {
		out = append(out, LargestSingularValue(whh.Value.Data[g*h*h:(g+1)*h*h], h, h))
	}
	return out
}

// RecurrentRadii returns the spectral radius ρ of each H×H gate block of
// a recurrent weight_hh [G·H, H], in PyTorch's gate order.
func RecurrentRadii(whh *engine.Param) []float64 {
	gh, h := whh.Value.Shape[0], whh.Value.Shape[1]
	var out []float64
	for g := 0; g < gh/h; g++ {
		out = append(out, SpectralRadius(whh.Value.Data[g*h*h:(g+1)*h*h], h))
	}
	return out
}

// ScaleRecurrent multiplies each H×H gate block of weight_hh [G·H, H] by
// the factor that makes the block's largest singular value lambda1. For an
// RNN (one block) that is W_hh itself; for an LSTM each of W_hi, W_hf,
// W_hg, W_ho and for a GRU each of W_hr, W_hz, W_hn is scaled on its own,
// so every product of a gate with h_{t−1} has spectral norm lambda1.
// lambda1 must be positive; a zero block stays zero.
func ScaleRecurrent(whh *engine.Param, lambda1 float64) {
	h := whh.Value.Shape[1]
	for g, s := range RecurrentBlocks(whh) {
		if !(s > 0) {
			continue
		}
		for i := range whh.Value.Data[g*h*h : (g+1)*h*h] {
			whh.Value.Data[g*h*h+i] *= lambda1 / s
		}
	}
}

// BPTTPass is one recorded forward and backward pass of a recurrent model
// whose loss is read at the last step, with steps t = 0 … T−1 as the
// engine numbers them.
type BPTTPass struct {
	Loss float64
	// Contrib[t] is ‖step t's contribution to dW_hh‖ (Frobenius): the
	// engine's UseStep contribution with Index [t]. Contrib[0] is 0, as
	// h_{−1} = 0. Their sum is dW_hh.
	Contrib []float64
	// HiddenGrad[t] is ‖∂L/∂h_t‖ over the batch (Frobenius), from the
	// cell's hidden.grad internal.
	HiddenGrad []float64
	// Diverged: the loss or a gradient was not finite (the pass's numbers
	// are what the engine produced before it stopped, maybe none).
	Diverged bool
}

// MeasureBPTT runs one ComputeGrad of m on x and target with a Recorder
// that keeps cell's UseStep contributions to whh and its ∂L/∂h_t, and
// returns their norms. The gradients stay in m's Params (an optimizer may
// step with them unless the pass diverged). Norms are gonum's scaled
// Euclidean norms, which do not overflow for an exploding gradient.
func MeasureBPTT(m *engine.Model, cell engine.Layer, whh *engine.Param, x, target *engine.Tensor) (BPTTPass, error) {
	rec := engine.NewRecorder(engine.RecordFilter{
		Params: []*engine.Param{whh}, Kinds: []engine.UseKind{engine.UseStep},
		Layers: []string{cell.Spec().Name}, Internals: []string{engine.InternalHiddenGrad},
	})
	loss, err := m.ComputeGrad(x, target, rec)
	p := BPTTPass{Loss: loss}
	if errors.Is(err, engine.ErrDiverged) {
		p.Diverged = true
	} else if err != nil {
		return p, err
	}
	for _, c := range rec.Uses(whh, engine.UseStep) {
		p.Contrib = append(p.Contrib, floats.Norm(c.Grad.Data, 2))
	}
	for _, v := range rec.Values(cell, engine.InternalHiddenGrad) {
		p.HiddenGrad = append(p.HiddenGrad, floats.Norm(v.Value.Data, 2))
	}
	return p, nil
}

// BPTTConfig is the bptt-contributions experiment: for each cell and each
// largest singular value, models with weights drawn from seeds 1…Seeds,
// their weight_hh gate blocks rescaled (ScaleRecurrent), measured at
// initialisation on one batch of remember-the-first-symbol at distance T−1
// (vocabulary 8, one-hot input, loss at the last step).
type BPTTConfig struct {
	Cells   []string  `json:"cells"`   // of "rnn", "lstm", "gru"
	Lambdas []float64 `json:"lambdas"` // λ₁, the largest singular value of each gate block of W_hh, each in (0, 10]
	T       int       `json:"T"`       // sequence length, 2…200
	Hidden  int       `json:"hidden"`  // 1…128
	Batch   int       `json:"batch"`   // 1…256
	Seeds   int       `json:"seeds"`   // 1…MaxSeeds
	// Act is the RNN cell's activation (tanh, sigmoid or relu); the gated
	// cells have theirs fixed.
	Act string `json:"act"`
	// ForgetBias is the LSTM forget gate's starting bias_ih, as
	// engine.SeqConfig's (0: torch's init).
	ForgetBias float64 `json:"forgetBias"`
}

// DefaultBPTTConfig measures a tanh RNN, an LSTM (forget bias 2, the
// course's default) and a GRU with 32 hidden units over 50 steps, batch
// 16, at λ₁ = 0.5, 1, 2 and 4, over 5 seeds.
func DefaultBPTTConfig() BPTTConfig {
	return BPTTConfig{
		Cells: []string{"rnn", "lstm", "gru"}, Lambdas: []float64{0.5, 1, 2, 4},
		T: 50, Hidden: 32, Batch: 16, Seeds: 5, Act: "tanh", ForgetBias: 2,
	}
}

// Limits of a BPTTConfig.
const (
	MaxBPTTLambda = 10
	MaxBPTTT      = 200
	MaxBPTTHid    = 128
)

// bpttVocab is the remember-first vocabulary (chance 1/7).
const bpttVocab = 8

// bpttDataStream is the PCG stream of the batches ("lab-bptt").
const bpttDataStream = 0x6c61622d62707474

// Validate returns an error naming the first field outside its range, or
// nil.
func (c BPTTConfig) Validate() error {
	switch {
	case len(c.Cells) == 0:
		return errors.New("lab: cells: want at least one of rnn, lstm, gru")
	case len(c.Lambdas) == 0:
		return errors.New("lab: lambdas: want at least one")
	case c.T < 2 || c.T > MaxBPTTT:
		return fmt.Errorf("lab: T %d: want 2…%d", c.T, MaxBPTTT)
	case c.Hidden < 1 || c.Hidden > MaxBPTTHid:
		return fmt.Errorf("lab: hidden %d: want 1…%d", c.Hidden, MaxBPTTHid)
	case c.Batch < 1 || c.Batch > MaxBatch:
		return fmt.Errorf("lab: batch %d: want 1…%d", c.Batch, MaxBatch)
	case c.Seeds < 1 || c.Seeds > MaxSeeds:
		return fmt.Errorf("lab: seeds %d: want 1…%d", c.Seeds, MaxSeeds)
	case !slices.Contains(engine.Nonlinearities(), engine.Nonlinearity(c.Act)):
		return fmt.Errorf("lab: act %q: want tanh, sigmoid or relu", c.Act)
	case math.IsNaN(c.ForgetBias) || math.IsInf(c.ForgetBias, 0):
		return fmt.Errorf("lab: forget bias %v: want a finite number", c.ForgetBias)
	}
	seen := map[string]bool{}
	for _, cell := range c.Cells {
		if cell != "rnn" && cell != "lstm" && cell != "gru" {
			return fmt.Errorf("lab: cell %q: want rnn, lstm or gru", cell)
		}
		if seen[cell] {
			return fmt.Errorf("lab: cell %q listed twice", cell)
		}
		seen[cell] = true
	}
	for _, s := range c.Lambdas {
		if !(s > 0 && s <= MaxBPTTLambda) {
			return fmt.Errorf("lab: λ₁ %v: want 0 < λ₁ ≤ %d", s, MaxBPTTLambda)
		}
	}
	return nil
}

// BPTTModel builds cell's remember-first model (engine.NewSeqModel: one_hot,
// CELL, last_step, linear) for c at seed, rescales its weight_hh blocks to
// λ₁ = lambda1 and returns it with the cell layer and its weight_hh.
func (c BPTTConfig) BPTTModel(cell string, lambda1 float64, seed uint64) (*engine.Model, engine.Layer, *engine.Param, error) {
	sc := engine.SeqConfig{Cell: cell, Vocab: bpttVocab, Hidden: c.Hidden, T: c.T}
	if cell == "rnn" {
		sc.Nonlinearity = engine.Nonlinearity(c.Act)
	}
	if cell == "lstm" {
		sc.ForgetBias = c.ForgetBias
	}
	m, err := engine.NewSeqModel(cell, sc, seed)
	if err != nil {
		return nil, nil, nil, err
	}
	layer := m.Layers[1]
	var whh *engine.Param
	for _, np := range layer.Params() {
		if np.Local == "weight_hh" {
			whh = np.Param
		}
	}
	ScaleRecurrent(whh, lambda1)
	return m, layer, whh, nil
}

// batch returns seed's remember-first batch.
func (c BPTTConfig) batch(seed uint64) (x, y *engine.Tensor) {
	return data.RememberFirst(rand.New(rand.NewPCG(seed, bpttDataStream)), c.Batch, c.T-1, bpttVocab)
}

// BPTTRun is one cell at one λ₁ over every seed.
type BPTTRun struct {
	Cell    string  `json:"cell"`
	Lambda1 float64 `json:"lambda1"`
	// Rho is, over seeds, the spectral radius ρ (largest |eigenvalue|)
	// of W_hh after scaling, the largest over its gate blocks. ρ ≤ λ₁, and
	// a product of t copies of a matrix grows like ρ^t, not λ₁^t.
	Rho Stat `json:"rho"`
	// Ratio[d] is, over seeds, the norm of the contribution to dW_hh of
	// the step d steps before the last, divided by the last step's:
	// d = 0 … T−2 (the first step, d = T−1, contributes 0 as h_{−1} = 0).
	Ratio []Stat `json:"ratio"`
	// GradRatio[d] is ‖∂L/∂h_{T−1−d}‖ / ‖∂L/∂h_{T−1}‖, d = 0 … T−1.
	GradRatio []Stat `json:"gradRatio"`
	Diverged  int    `json:"diverged"` // seeds whose pass was not finite (left out)
}

// BPTTResult is the bptt-contributions table.
type BPTTResult struct {
	Config  BPTTConfig `json:"config"`
	Runs    []BPTTRun  `json:"runs"` // cells × lambdas, in that order
	Seconds float64    `json:"seconds"`
}

// BPTTContributions measures every cell of cfg at every λ₁ from seeds
// 1…cfg.Seeds. progress (may be nil) is called after each pass with the
// passes done and their number. It returns cfg.Validate's error, or ctx's
// when it is cancelled.
func BPTTContributions(ctx context.Context, cfg BPTTConfig, progress func(done, total int)) (*BPTTResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if progress == nil {
		progress = func(int, int) {}
	}
	start := time.Now()
	res := &BPTTResult{Config: cfg}
	total, done := len(cfg.Cells)*len(cfg.Lambdas)*cfg.Seeds, 0
	for _, cell := range cfg.Cells {
		for _, lambda1 := range cfg.Lambdas {
			r := BPTTRun{Cell: cell, Lambda1: lambda1}
			var rhos []float64
			ratios := make([][]float64, cfg.T-1)
			grads := make([][]float64, cfg.T)
			for seed := uint64(1); seed <= uint64(cfg.Seeds); seed++ {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				m, layer, whh, err := cfg.BPTTModel(cell, lambda1, seed)
				if err != nil {
					return nil, err
				}
				rhos = append(rhos, slices.Max(RecurrentRadii(whh)))
				x, y := cfg.batch(seed)
				p, err := MeasureBPTT(m, layer, whh, x, y)
				if err != nil {
					return nil, err
				}
				done++
				progress(done, total)
				if p.Diverged {
					r.Diverged++
					continue
				}
				last := cfg.T - 1
				for d := range cfg.T - 1 {
					ratios[d] = append(ratios[d], p.Contrib[last-d]/p.Contrib[last])
				}
				for d := range cfg.T {
					grads[d] = append(grads[d], p.HiddenGrad[last-d]/p.HiddenGrad[last])
				}
			}
			r.Rho = newStat(rhos)
			if r.Diverged < cfg.Seeds {
				for _, xs := range ratios {
					r.Ratio = append(r.Ratio, newStat(xs))
				}
				for _, xs := range grads {
					r.GradRatio = append(r.GradRatio, newStat(xs))
				}
			}
			res.Runs = append(res.Runs, r)
		}
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// Run returns the result's run of cell at λ₁ = lambda1, or nil.
func (res *BPTTResult) Run(cell string, lambda1 float64) *BPTTRun {
	for i := range res.Runs {
		if res.Runs[i].Cell == cell && res.Runs[i].Lambda1 == lambda1 {
			return &res.Runs[i]
		}
	}
	return nil
}

// BPTTDistances are the distances the table shows: 1, 2, 5, 10, 20, 50,
// … below T−1, and T−2, the farthest step that contributes.
func BPTTDistances(T int) []int {
	var ds []int
	for e := 1; e < T-1; e *= 10 {
		for _, m := range []int{1, 2, 5} {
			if d := m * e; d < T-1 {
				ds = append(ds, d)
			}
		}
	}
	return append(ds, T-2)
}

// cellLabel names a cell for a chart: the rnn with its activation.
func (c BPTTConfig) cellLabel(cell string) string {
	if cell == "rnn" {
		return "RNN (" + c.Act + ")"
	}
	return strings.ToUpper(cell)
}

// BPTTCharts returns one chart per cell: the mean contribution ratio
// against the distance from the loss, on a log scale, one curve per λ₁.
func BPTTCharts(res *BPTTResult) []Chart {
	c := res.Config
	seeds := fmt.Sprintf("mean of %d seeds", c.Seeds)
	if c.Seeds == 1 {
		seeds = "1 seed"
	}
	var charts []Chart
	for _, cell := range c.Cells {
		charts = append(charts, Chart{Name: "contributions-" + cell, Write: func(w io.Writer, format string) error {
			var series []viz.Series
			for _, lambda1 := range c.Lambdas {
				r := res.Run(cell, lambda1)
				s := viz.Series{Name: "λ₁ = " + strconv.FormatFloat(lambda1, 'g', 4, 64) + ", ρ ≈ " + strconv.FormatFloat(r.Rho.Mean, 'g', 2, 64)}
				for d, st := range r.Ratio {
					s.X = append(s.X, float64(d))
					s.Y = append(s.Y, st.Mean)
				}
				if len(s.X) == 0 { // every seed diverged: nothing to draw
					s.X, s.Y = []float64{0}, []float64{math.NaN()}
				}
				series = append(series, s)
			}
			title := fmt.Sprintf("%s: step contributions to dW_hh, T = %d, hidden %d (%s)", c.cellLabel(cell), c.T, c.Hidden, seeds)
			return viz.WriteLines(w, format, title, "steps before the last (distance from the loss)", "‖contribution‖ / last step's", true, series...)
		}})
	}
	return charts
}
