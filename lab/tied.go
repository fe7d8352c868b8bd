package lab

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"time"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/engine/data"
	"github.com/paramshare/paramshare/viz"
)

// The tied-embeddings lesson (13): a small word-level language model on
// data.WordCorpus, built twice from one seed — with its output layer tied
// to the input embedding (Press & Wolf 2017; Inan et al. 2017) and with an
// output matrix of its own — and trained side by side on the same batches.
//
// The model is
//
//	embedding(V, d) · positional_encoding (sinusoidal) · transformer_block(d, 2 heads, 2d, causal) · linear d→V
//
// with cross-entropy at every position of windows of TiedT words. Both
// embeddings are drawn from N(0, 1/d) (the engine's N(0, 1), scaled by
// 1/√d as engine.NewTransformer does for a tied output), so that the two
// models differ only in the tying: with the same seed they start from the
// same embedding and block; the untied output weight is PyTorch's default
// U(±1/√d).

// Sizes of the word model.
const (
	TiedT      = 16 // words per training window
	tiedHeads  = 2
	MinTiedD   = 8
	MaxTiedD   = 64
	MaxTiedLR  = 0.05
	MaxTiedB   = 32
	MaxTiedSt  = 5000
	tiedStream = 0x6c61622d74696564 // "lab-tied": the training batches
	tiedProbe  = 0x6c61622d74696570 // "lab-tiep": the probe batch of step 0
)

// The two models of the race, in the order results list them.
const (
	Tied   = "tied"
	Untied = "untied"
)

// TiedModels lists the race's models.
func TiedModels() []string { return []string{Tied, Untied} }

// TiedConfig is one race: both models with the same d, batch, Adam
// learning rate and seed (weights and batches).
type TiedConfig struct {
	D     int     `json:"d"`
	Batch int     `json:"batch"`
	LR    float64 `json:"lr"`
	Seed  uint64  `json:"seed"`
}

// DefaultTiedConfig is the lesson's starting point: d = 32, windows of 16
// words in batches of 16, Adam at 3e-3, seed 1.
func DefaultTiedConfig() TiedConfig { return TiedConfig{D: 32, Batch: 16, LR: 3e-3, Seed: 1} }

// Validate returns an error naming the first field outside its range.
func (c TiedConfig) Validate() error {
	switch {
	case c.D < MinTiedD || c.D > MaxTiedD || c.D%tiedHeads != 0:
		return fmt.Errorf("lab: d %d: want an even number in %d…%d", c.D, MinTiedD, MaxTiedD)
	case c.Batch < 1 || c.Batch > MaxTiedB:
		return fmt.Errorf("lab: batch %d: want 1…%d", c.Batch, MaxTiedB)
	case !(c.LR > 0 && c.LR <= MaxTiedLR):
		return fmt.Errorf("lab: lr %g: want (0, %g]", c.LR, MaxTiedLR)
	}
	return nil
}

// WordLM is one of the race's models and the layers that hold its word
// matrices.
type WordLM struct {
	Model *engine.Model
	Embed *engine.Embedding
	Out   *engine.Linear
}

// NewWordLM builds the word model over vocab words with d features from
// seed, its output tied to the embedding or not.
func NewWordLM(tied bool, vocab, d int, seed uint64) (*WordLM, error) {
	name := Untied
	if tied {
		name = Tied
	}
	rng := engine.NewRand(seed)
	embed, err := engine.NewEmbedding("embed", vocab, d, rng)
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	scale := 1 / math.Sqrt(float64(d))
	for i := range embed.Weight.Value.Data {
		embed.Weight.Value.Data[i] *= scale
	}
	pos, err := engine.NewPositionalEncoding("pos", engine.PositionsSinusoidal, TiedT, d, rng)
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	block, err := engine.NewTransformerBlock("block", d, tiedHeads, 2*d, true, rng)
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	var out *engine.Linear
	if tied {
		out, err = engine.NewLinearShared("out", embed.Weight, rng)
	} else {
		out, err = engine.NewLinear("out", d, vocab, rng)
	}
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	m, err := engine.NewModel(name, []int{TiedT}, engine.NewCrossEntropy(), embed, pos, block, out)
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	return &WordLM{Model: m, Embed: embed, Out: out}, nil
}

// Ledger is one backward pass of the tied model split by use of the tied
// matrix W [V, d]: InSide is what the embedding (the input side, every
// position reading a row) added to W's gradient, OutSide what the output
// layer (the output side, every position scoring every word) added — the
// engine's UseLayer contributions, reported by engine.Model.Backward —
// and DW the gradient the engine left in W.Grad. InSide + OutSide = DW.
type Ledger struct {
	Step                int // the training step whose batch this is (0: the probe batch)
	InSide, OutSide, DW *engine.Tensor
	InputRows, OutRows  int     // rows with a non-zero part
	MaxErr              float64 // max |InSide + OutSide − DW|
	InNorm, OutNorm     float64
	SumNorm, DWNorm     float64 // ‖InSide + OutSide‖, ‖DW‖
	Loss                float64
	inputSeen, outSeen  bool
	embedName, outName  string
	param               *engine.Param
}

// Output is not needed: the ledger keeps contributions only.
func (l *Ledger) Output(engine.Layer, *engine.Tensor, *engine.Tensor) {}

// Contribute copies the tied matrix's UseLayer contributions into Input or
// Output by the layer that made them.
func (l *Ledger) Contribute(c engine.Contribution) {
	if c.Param != l.param || c.Kind != engine.UseLayer {
		return
	}
	switch c.Layer {
	case l.embedName:
		copy(l.InSide.Data, c.Grad.Data)
		l.inputSeen = true
	case l.outName:
		copy(l.OutSide.Data, c.Grad.Data)
		l.outSeen = true
	}
}

// finish fills the summary numbers after the backward pass.
func (l *Ledger) finish() error {
	if !l.inputSeen || !l.outSeen {
		return fmt.Errorf("lab: the engine reported no input-side or output-side contribution to the tied matrix")
	}
	copy(l.DW.Data, l.param.Grad.Data)
	d := l.param.Grad.Shape[1]
	var in, out, sum, dw, maxErr float64
	l.InputRows, l.OutRows = 0, 0
	for r := 0; r < len(l.DW.Data)/d; r++ {
		var ni, no float64
		for j := r * d; j < (r+1)*d; j++ {
			a, b, g := l.InSide.Data[j], l.OutSide.Data[j], l.DW.Data[j]
			ni += a * a
			no += b * b
			sum += (a + b) * (a + b)
			dw += g * g
			maxErr = math.Max(maxErr, math.Abs(a+b-g))
		}
		in += ni
		out += no
		if ni > 0 {
			l.InputRows++
		}
		if no > 0 {
			l.OutRows++
		}
	}
	l.InNorm, l.OutNorm, l.SumNorm, l.DWNorm, l.MaxErr = math.Sqrt(in), math.Sqrt(out), math.Sqrt(sum), math.Sqrt(dw), maxErr
	return nil
}

// RowNorms returns, for word k, the norms of row k of Input, Output,
// Input + Output and DW.
func (l *Ledger) RowNorms(k int) (in, out, sum, dw float64) {
	d := l.DW.Shape[1]
	for j := k * d; j < (k+1)*d; j++ {
		a, b, g := l.InSide.Data[j], l.OutSide.Data[j], l.DW.Data[j]
		in += a * a
		out += b * b
		sum += (a + b) * (a + b)
		dw += g * g
	}
	return math.Sqrt(in), math.Sqrt(out), math.Sqrt(sum), math.Sqrt(dw)
}

// TiedRace is the two models trained side by side on the same batches of
// data.WordCorpus's training split, and the ledger of the tied model's
// last backward pass.
type TiedRace struct {
	cfg    TiedConfig
	corpus *data.WordLang
	models [2]*WordLM // TiedModels order
	opts   [2]engine.Optimizer
	rng    *rand.Rand
	steps  int
	ledger *Ledger
	// noLedger makes Step train the tied model without the ledger's tap
	// (SetLedger): the engine then skips the per-use bookkeeping.
	noLedger bool
	// spent is each model's time in Step (its forward, backward and
	// update) and Perplexity since the last Reset: the models train in
	// lockstep, so a wall clock around Step would time both together.
	spent [2]time.Duration
	// diverged is set by the first step whose loss or gradient is not
	// finite; every later Step returns it.
	diverged error
}

// NewTiedRace builds both models from cfg.Seed and measures the ledger on
// the probe batch (step 0).
func NewTiedRace(cfg TiedConfig) (*TiedRace, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &TiedRace{cfg: cfg, corpus: data.WordCorpus()}
	return r, r.Reset()
}

// Reset rebuilds both models from the seed: step 0.
func (r *TiedRace) Reset() error {
	v := len(r.corpus.Words)
	for i, name := range TiedModels() {
		m, err := NewWordLM(name == Tied, v, r.cfg.D, r.cfg.Seed)
		if err != nil {
			return err
		}
		r.models[i] = m
		r.opts[i] = engine.NewAdam(r.cfg.LR, 0.9, 0.999, 1e-8)
	}
	r.rng = rand.New(rand.NewPCG(r.cfg.Seed, tiedStream))
	r.steps, r.diverged, r.spent = 0, nil, [2]time.Duration{}
	w := r.models[0].Embed.Weight
	r.ledger = &Ledger{InSide: engine.NewTensor(w.Grad.Shape...), OutSide: engine.NewTensor(w.Grad.Shape...), DW: engine.NewTensor(w.Grad.Shape...),
		embedName: "embed", outName: "out", param: w}
	x, y := data.WordBatch(rand.New(rand.NewPCG(r.cfg.Seed, tiedProbe)), r.corpus.Train, r.cfg.Batch, TiedT)
	if err := r.measure(x, y); err != nil {
		return err
	}
	r.models[0].Model.ZeroGrad()
	return nil
}

// measure runs the tied model's forward and backward on x, y with the
// ledger as tap and fills it.
func (r *TiedRace) measure(x, y *engine.Tensor) error {
	l := r.ledger
	l.inputSeen, l.outSeen, l.Step = false, false, r.steps
	loss, err := r.models[0].Model.ComputeGrad(x, y, l)
	l.Loss = loss
	if err != nil {
		return err
	}
	return l.finish()
}

// SetLedger turns the ledger on (the default) or off. Off, Step trains
// the tied model without the ledger's tap, so the engine skips the per-use
// bookkeeping (about 15 % of a step) and Ledger keeps the probe batch's:
// for runs that only measure perplexity (TiedVsUntied, the claims tests).
func (r *TiedRace) SetLedger(on bool) { r.noLedger = !on }

// Config returns the race's configuration.
func (r *TiedRace) Config() TiedConfig { return r.cfg }

// Corpus returns the shared corpus the race reads.
func (r *TiedRace) Corpus() *data.WordLang { return r.corpus }

// Model returns the race's model name (Tied or Untied).
func (r *TiedRace) Model(name string) *WordLM {
	if name == Tied {
		return r.models[0]
	}
	return r.models[1]
}

// Steps returns the steps taken since the last Reset.
func (r *TiedRace) Steps() int { return r.steps }

// Ledger returns the tied matrix's ledger of the last step (of the probe
// batch at step 0). It belongs to the race and changes with every Step.
func (r *TiedRace) Ledger() *Ledger { return r.ledger }

// Step trains both models on the next batch (the same windows for both):
// forward, loss, backward (the tied model with the ledger as its tap), one
// Adam update each. It returns the two batch losses. When a loss or
// gradient is not finite it makes no update and returns an error wrapping
// engine.ErrDiverged, and so does every later Step until Reset.
func (r *TiedRace) Step() ([2]float64, error) {
	var losses [2]float64
	if r.diverged != nil {
		return losses, r.diverged
	}
	x, y := data.WordBatch(r.rng, r.corpus.Train, r.cfg.Batch, TiedT)
	r.steps++
	var err error
	t0 := time.Now()
	if r.noLedger {
		losses[0], err = r.models[0].Model.ComputeGrad(x, y, nil)
	} else {
		err = r.measure(x, y)
		losses[0] = r.ledger.Loss
	}
	if err != nil {
		r.diverged = fmt.Errorf("lab: tied at step %d: %w", r.steps, err)
		return losses, r.diverged
	}
	t1 := time.Now()
	l, err := r.models[1].Model.ComputeGrad(x, y, nil)
	losses[1] = l
	if err != nil {
		r.diverged = fmt.Errorf("lab: untied at step %d: %w", r.steps, err)
		return losses, r.diverged
	}
	t2 := time.Now()
	r.spent[1] += t2.Sub(t1)
	r.opts[0].Step(r.models[0].Model.Params())
	t3 := time.Now()
	r.opts[1].Step(r.models[1].Model.Params())
	r.spent[0] += t1.Sub(t0) + t3.Sub(t2)
	r.spent[1] += time.Since(t3)
	return losses, nil
}

// Perplexity returns exp(mean cross-entropy) of each model (TiedModels
// order) on the n fixed windows of text data.WordWindows picks, in passes
// of the batch size. It changes neither weights nor gradients.
func (r *TiedRace) Perplexity(text []int, n int) [2]float64 {
	x, y := data.WordWindows(text, n, TiedT)
	var out [2]float64
	for i, m := range r.models {
		t0 := time.Now()
		out[i] = math.Exp(meanLoss(m.Model, x, y, r.cfg.Batch))
		r.spent[i] += time.Since(t0)
	}
	return out
}

// Spent returns each model's time (TiedModels order) in Step and
// Perplexity since the last Reset: its own forward, backward, update and
// measurement, not the other model's.
func (r *TiedRace) Spent() [2]time.Duration { return r.spent }

// meanLoss is the model's mean loss on x, y in passes of at most batch.
func meanLoss(m *engine.Model, x, y *engine.Tensor, batch int) float64 {
	n, w := x.Shape[0], x.Shape[1]
	var total float64
	for lo := 0; lo < n; lo += batch {
		k := min(batch, n-lo)
		xb := engine.TensorFrom(x.Data[lo*w:(lo+k)*w], k, w)
		yb := engine.TensorFrom(y.Data[lo*w:(lo+k)*w], k, w)
		total += m.Loss.Forward(m.Forward(xb, nil), yb) * float64(k)
	}
	return total / float64(n)
}

// TiedCompareConfig is the budget of `lab tied-vs-untied`: the race at
// TiedConfig (its Seed ignored) from seeds 1…Seeds, Steps steps each,
// perplexities on Eval windows of each split.
type TiedCompareConfig struct {
	TiedConfig
	Seeds int `json:"seeds"`
	Steps int `json:"steps"`
	Eval  int `json:"eval"` // windows of TiedT words per split
}

// DefaultTiedCompareConfig is what `lab tied-vs-untied` runs by default:
// the lesson's race (d 32, batch 16, Adam 3e-3) for its default 1,500
// steps, 3 seeds, perplexities on 512 windows (8,192 words) of each split.
func DefaultTiedCompareConfig() TiedCompareConfig {
	return TiedCompareConfig{TiedConfig: DefaultTiedConfig(), Seeds: 3, Steps: DefaultTiedSteps, Eval: 512}
}

// DefaultTiedSteps is the lesson race's length.
const DefaultTiedSteps = 1500

// Validate returns an error naming the first field outside its range.
func (c TiedCompareConfig) Validate() error {
	switch {
	case c.Seeds < 1 || c.Seeds > MaxSeeds:
		return fmt.Errorf("lab: seeds %d: want 1…%d", c.Seeds, MaxSeeds)
	case c.Steps < 1 || c.Steps > MaxTiedSt:
		return fmt.Errorf("lab: steps %d: want 1…%d", c.Steps, MaxTiedSt)
	case c.Eval < 1 || c.Eval > 2000:
		return fmt.Errorf("lab: eval %d: want 1…2000 windows", c.Eval)
	}
	return c.TiedConfig.Validate()
}

// TiedRun is one model from one seed after the race.
type TiedRun struct {
	Seed     uint64  `json:"seed"`
	TrainPPL float64 `json:"trainPPL"`
	ValidPPL float64 `json:"validPPL"`
	Gap      float64 `json:"gap"` // ValidPPL − TrainPPL
	Diverged bool    `json:"diverged"`
	// Seconds is this model's own time training and measuring
	// (TiedRace.Spent), not the race's.
	Seconds float64 `json:"seconds"`
}

// TiedModelResult is one model over every seed.
type TiedModelResult struct {
	Model    string    `json:"model"`
	Params   int       `json:"params"` // engine.Model.Count().Params
	Runs     []TiedRun `json:"runs"`
	TrainPPL Stat      `json:"trainPPL"`
	ValidPPL Stat      `json:"validPPL"`
	Gap      Stat      `json:"gap"`
}

// TiedResult is the tied-vs-untied table.
type TiedResult struct {
	Config      TiedCompareConfig `json:"config"`
	Vocab       int               `json:"vocab"`
	TrainTokens int               `json:"trainTokens"`
	ValidTokens int               `json:"validTokens"`
	Saved       int               `json:"saved"` // untied − tied parameters: V·d
	Models      []TiedModelResult `json:"models"`
	// TrainHigher and ValidLower count the seeds where the tied model's
	// training perplexity is above the untied one's, and its validation
	// perplexity below: the published effect, seed by seed.
	TrainHigher int     `json:"trainHigher"`
	ValidLower  int     `json:"validLower"`
	Seconds     float64 `json:"seconds"`
}

// TiedVsUntied runs the race from seeds 1…Seeds and measures both models'
// perplexities. progress (may be nil) is told each step with Model "race".
// It returns cfg.Validate's error, or ctx's error when cancelled between
// steps. A diverged race is measured with the weights it had.
func TiedVsUntied(ctx context.Context, cfg TiedCompareConfig, progress func(Progress)) (*TiedResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if progress == nil {
		progress = func(Progress) {}
	}
	start := time.Now()
	c := data.WordCorpus()
	res := &TiedResult{Config: cfg, Vocab: len(c.Words), TrainTokens: len(c.Train), ValidTokens: len(c.Valid)}
	for _, m := range TiedModels() {
		res.Models = append(res.Models, TiedModelResult{Model: m})
	}
	for seed := uint64(1); seed <= uint64(cfg.Seeds); seed++ {
		tc := cfg.TiedConfig
		tc.Seed = seed
		race, err := NewTiedRace(tc)
		if err != nil {
			return nil, err
		}
		race.SetLedger(false)
		diverged := false
		for step := 1; step <= cfg.Steps; step++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if _, err := race.Step(); err != nil {
				diverged = true
				break
			}
			if step%20 == 0 || step == cfg.Steps {
				progress(Progress{Model: "race", Seed: seed, Run: int(seed), Runs: cfg.Seeds, Step: step, Steps: cfg.Steps, Phase: "train", Elapsed: time.Since(start)})
			}
		}
		progress(Progress{Model: "race", Seed: seed, Run: int(seed), Runs: cfg.Seeds, Step: cfg.Steps, Steps: cfg.Steps, Phase: "measure", Elapsed: time.Since(start)})
		tr, va := race.Perplexity(c.Train, cfg.Eval), race.Perplexity(c.Valid, cfg.Eval)
		spent := race.Spent()
		for i, m := range TiedModels() {
			res.Models[i].Params = race.Model(m).Model.Count().Params
			res.Models[i].Runs = append(res.Models[i].Runs, TiedRun{Seed: seed, TrainPPL: tr[i], ValidPPL: va[i], Gap: va[i] - tr[i], Diverged: diverged, Seconds: spent[i].Seconds()})
		}
		if tr[0] > tr[1] {
			res.TrainHigher++
		}
		if va[0] < va[1] {
			res.ValidLower++
		}
	}
	for i := range res.Models {
		mr := &res.Models[i]
		var tr, va, gap []float64
		for _, r := range mr.Runs {
			tr, va, gap = append(tr, r.TrainPPL), append(va, r.ValidPPL), append(gap, r.Gap)
		}
		mr.TrainPPL, mr.ValidPPL, mr.Gap = newStat(tr), newStat(va), newStat(gap)
	}
	res.Saved = res.Models[1].Params - res.Models[0].Params
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// TiedCharts returns the tied-vs-untied figures: training and validation
// perplexity per model (mean over seeds) and the parameter counts.
func TiedCharts(res *TiedResult) []Chart {
	seeds := fmt.Sprintf("mean of %d seeds", res.Config.Seeds)
	if res.Config.Seeds == 1 {
		seeds = "1 seed"
	}
	names := TiedModels()
	return []Chart{
		{Name: "perplexity", Write: func(w io.Writer, format string) error {
			train, valid := viz.BarGroup{Label: "training"}, viz.BarGroup{Label: "validation"}
			for _, m := range res.Models {
				train.Values = append(train.Values, m.TrainPPL.Mean)
				valid.Values = append(valid.Values, m.ValidPPL.Mean)
			}
			title := fmt.Sprintf("Perplexity after %d steps, d = %d (%s)", res.Config.Steps, res.Config.D, seeds)
			return viz.WriteBars(w, format, title, "perplexity", names, false, train, valid)
		}},
		{Name: "params", Write: func(w io.Writer, format string) error {
			g := viz.BarGroup{Label: "unique parameters"}
			for _, m := range res.Models {
				g.Values = append(g.Values, float64(m.Params))
			}
			return viz.WriteBars(w, format, fmt.Sprintf("Parameters (tying saves V·d = %d)", res.Saved), "parameters", names, false, g)
		}},
	}
}
