package tiedembed

import (
	"math"
	"slices"

	"github.com/paramshare/paramshare/lab"
	"github.com/paramshare/paramshare/run"
	"github.com/paramshare/paramshare/viz"
)

// staticFrame changes only with the parameters.
type staticFrame struct {
	Params      run.Values  `json:"params"`
	Total       int         `json:"total"`
	Window      int         `json:"window"` // words per window, lab.TiedT
	Vocab       int         `json:"vocab"`
	TrainTokens int         `json:"trainTokens"`
	ValidTokens int         `json:"validTokens"`
	EvalEvery   int         `json:"evalEvery"`
	EvalWindows int         `json:"evalWindows"`
	Models      []modelInfo `json:"models"`
	Saved       int         `json:"saved"` // untied − tied parameters (V·d)
	Bands       [][2]int    `json:"bands"` // rank ranges [lo, hi)
	Words       []wordInfo  `json:"words"`
	Sample      string      `json:"sample"` // the training split's first 40 words
}

// modelInfo is one model's parameter count (engine.Model.Count).
type modelInfo struct {
	Name   string `json:"name"`
	Params int    `json:"params"`
	Embed  int    `json:"embed"`  // the embedding's
	Output int    `json:"output"` // the output layer's own (its bias only when tied)
}

// wordInfo is one of the words whose ledger rows are shown.
type wordInfo struct {
	Word  string `json:"word"`
	Rank  int    `json:"rank"`  // 0 = the most frequent
	Count int    `json:"count"` // in the training split
}

// dataFrame changes with each step.
type dataFrame struct {
	Step     int          `json:"step"`
	Total    int          `json:"total"`
	Loss     [2]*float64  `json:"loss"` // the last batch's (null at step 0)
	Curves   curveFrame   `json:"curves"`
	Evals    []evaluation `json:"evals"` // 4 significant digits
	Ledger   ledgerFrame  `json:"ledger"`
	Diverged *run.Text    `json:"diverged,omitempty"`
}

// curveFrame is both models' batch loss since step 1, quantized: point i
// is the mean of steps i·Every+1 … min((i+1)·Every, step).
type curveFrame struct {
	Every int             `json:"every"`
	Loss  []viz.Quantized `json:"loss"`
}

// ledgerFrame is the tied matrix's gradient of the last step split by
// side. Norms keep 6 significant digits; MaxErr is exact.
type ledgerFrame struct {
	Step      int       `json:"step"` // the training step (0: the probe batch)
	In        float64   `json:"in"`   // ‖input side‖
	Out       float64   `json:"out"`  // ‖output side‖
	Sum       float64   `json:"sum"`  // ‖input + output‖
	DW        float64   `json:"dw"`   // ‖dW‖ as the engine left it
	MaxErr    float64   `json:"maxErr"`
	InRows    int       `json:"inRows"`  // rows the input side touched
	OutRows   int       `json:"outRows"` // rows the output side touched
	BandIn    []float64 `json:"bandIn"`  // mean row norm per band, input side
	BandOut   []float64 `json:"bandOut"` // …output side
	WordIn    []float64 `json:"wordIn"`  // row norms of Words
	WordOut   []float64 `json:"wordOut"`
	WordSum   []float64 `json:"wordSum"`
	WordDW    []float64 `json:"wordDW"`
	BatchLoss float64   `json:"batchLoss"` // the tied model's loss on that batch
}

// Frame returns the static part and the step's data.
func (r *race) Frame() run.Frame {
	return run.Frame{StaticRev: r.rev, Static: r.staticFrame(), Data: r.dataFrame()}
}

func (r *race) staticFrame() staticFrame {
	c := r.r.Corpus()
	s := staticFrame{
		Params: r.v, Total: r.Total(), Window: lab.TiedT, Vocab: len(c.Words), TrainTokens: len(c.Train), ValidTokens: len(c.Valid),
		EvalEvery: EvalEvery(r.Total()), EvalWindows: EvalWindows, Sample: info().sample,
	}
	for i, m := range lab.TiedModels() {
		mi := modelInfo{Name: m, Params: r.counts[i].Params}
		for _, row := range r.counts[i].Layers {
			switch row.Name {
			case "embed":
				mi.Embed = row.Params
			case "out":
				mi.Output = row.Params
			}
		}
		s.Models = append(s.Models, mi)
	}
	s.Saved = s.Models[1].Params - s.Models[0].Params
	for _, b := range bands(len(c.Words)) {
		s.Bands = append(s.Bands, b)
	}
	for _, rk := range SampleRanks {
		k := info().ranks[rk]
		s.Words = append(s.Words, wordInfo{Word: c.Words[k], Rank: rk, Count: c.Freq[k]})
	}
	return s
}

// bands returns Bands with the open end closed at v.
func bands(v int) [][2]int {
	out := slices.Clone(Bands)
	for i := range out {
		if out[i][1] == 0 || out[i][1] > v {
			out[i][1] = v
		}
	}
	return out
}

// ledger summarises the race's ledger at n significant digits (0: exact).
func (r *race) ledger(n int) ledgerFrame {
	l := r.r.Ledger()
	sig := func(x float64) float64 {
		if n == 0 {
			return x
		}
		return viz.Sig(x, n)
	}
	f := ledgerFrame{Step: l.Step, In: sig(l.InNorm), Out: sig(l.OutNorm), Sum: sig(l.SumNorm), DW: sig(l.DWNorm), MaxErr: l.MaxErr,
		InRows: l.InputRows, OutRows: l.OutRows, BatchLoss: sig(l.Loss)}
	ranks := info().ranks
	for _, b := range bands(len(ranks)) {
		var si, so float64
		for _, k := range ranks[b[0]:b[1]] {
			in, out, _, _ := l.RowNorms(k)
			si += in
			so += out
		}
		cnt := float64(b[1] - b[0])
		f.BandIn, f.BandOut = append(f.BandIn, sig(si/cnt)), append(f.BandOut, sig(so/cnt))
	}
	for _, rk := range SampleRanks {
		in, out, sum, dw := l.RowNorms(ranks[rk])
		f.WordIn, f.WordOut, f.WordSum, f.WordDW = append(f.WordIn, sig(in)), append(f.WordOut, sig(out)), append(f.WordSum, sig(sum)), append(f.WordDW, sig(dw))
	}
	return f
}

func (r *race) dataFrame() dataFrame {
	d := dataFrame{Step: r.pos, Total: r.Total(), Ledger: r.ledger(6)}
	for i := range d.Loss {
		if n := len(r.loss[i]); n > 0 {
			d.Loss[i] = finitePtr(r.loss[i][n-1])
		}
	}
	for _, e := range r.evals {
		for i := range 2 {
			e.Train[i], e.Valid[i] = viz.Sig(e.Train[i], 4), viz.Sig(e.Valid[i], 4)
		}
		d.Evals = append(d.Evals, e)
	}
	every := max(1, (r.pos+curvePoints-1)/curvePoints)
	d.Curves.Every = every
	for i := range 2 {
		loss := downsample(r.loss[i], every)
		d.Curves.Loss = append(d.Curves.Loss, viz.Quantize(loss, len(loss)))
	}
	if r.diverged != nil {
		d.Diverged = &r.diverged.Text
	}
	return d
}

func finitePtr(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// downsample averages v over runs of every values (the last may be
// shorter).
func downsample(v []float64, every int) []float64 {
	if every <= 1 {
		return slices.Clone(v)
	}
	out := make([]float64, 0, (len(v)+every-1)/every)
	for lo := 0; lo < len(v); lo += every {
		hi := min(lo+every, len(v))
		var s float64
		for _, x := range v[lo:hi] {
			s += x
		}
		out = append(out, s/float64(hi-lo))
	}
	return out
}
