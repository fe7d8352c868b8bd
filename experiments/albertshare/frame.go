package albertshare

import (
	"math"
	"slices"

	"github.com/paramshare/paramshare/lab"
	"github.com/paramshare/paramshare/run"
	"github.com/paramshare/paramshare/viz"
)

// staticFrame changes only with the parameters.
type staticFrame struct {
	Params    run.Values `json:"params"`
	Total     int        `json:"total"`
	EvalEvery int        `json:"evalEvery"`
	EvalSize  int        `json:"evalSize"`
	Blocks    int        `json:"blocks"`
	D         int        `json:"d"`
	DFF       int        `json:"dff"`
	Heads     int        `json:"heads"`
	T         int        `json:"T"`
	Vocab     int        `json:"vocab"`
	Batch     int        `json:"batch"`
	// AttnPart and FFNPart are one block's parts counted by hand
	// (lab.AlbertPartParams); Embed and Out the embedding's V·d and the
	// output layer's d·V + V.
	AttnPart int         `json:"attnPart"`
	FFNPart  int         `json:"ffnPart"`
	Embed    int         `json:"embed"`
	Out      int         `json:"out"`
	Chance   float64     `json:"chance"` // 1/V
	Modes    []raceModel `json:"modes"`
}

// raceModel is one mode's counts.
type raceModel struct {
	Share       string `json:"share"`
	Params      int    `json:"params"`      // engine Model.Count().Params
	Hand        int    `json:"hand"`        // lab.AlbertParams, by hand
	BlockParams int    `json:"blockParams"` // the blocks' rows of the engine count
	// Uses is the multiply-adds per sequence of the parameters (engine
	// Count.Uses): the same in every mode — sharing saves parameters,
	// not arithmetic.
	Uses   int    `json:"uses"`
	Ledger string `json:"ledger"` // the ledger's parameter (local name)
}

// dataFrame changes with each step.
type dataFrame struct {
	Step     int          `json:"step"`
	Total    int          `json:"total"`
	Models   []modelNow   `json:"models"`
	Curves   curveFrame   `json:"curves"`
	Evals    []evaluation `json:"evals"`
	Diverged *run.Text    `json:"diverged,omitempty"`
}

// modelNow is a mode's numbers at the frame's step.
type modelNow struct {
	Share string   `json:"share"`
	Loss  *float64 `json:"loss"` // the last batch's loss (null at step 0)
	Acc   *float64 `json:"acc"`  // the smoothed batch accuracy
	Probe probeNow `json:"probe"`
}

// probeNow is lab.AlbertProbe at the digits a widget shows.
type probeNow struct {
	Loss   float64     `json:"loss"`
	Shared []bool      `json:"shared"` // [attention, ffn]
	Parts  [][]float64 `json:"parts"`  // [part][block] norms, 3 digits
	Total  []float64   `json:"total"`  // [part]
	SumErr float64     `json:"sumErr"` // max |Σ contributions − dW|, 2 digits
	L2     []float64   `json:"l2"`     // [block]
	Angle  []float64   `json:"angle"`  // [block], degrees
	// Ledger is the bias's rows (blocks, then Σ and dW when shared) in
	// one quantized grid, so the rows share one colour scale.
	Ledger       viz.Quantized `json:"ledger"`
	LedgerShared bool          `json:"ledgerShared"`
}

// curveFrame is every mode's batch loss and smoothed accuracy since step 1,
// quantized: point i is the mean of steps i·Every+1 … min((i+1)·Every, step).
type curveFrame struct {
	Every int             `json:"every"`
	Loss  []viz.Quantized `json:"loss"`
	Acc   []viz.Quantized `json:"acc"`
}

// Frame returns the static part and the step's data; nothing returned is
// shared with the race.
func (r *race) Frame() run.Frame {
	return run.Frame{StaticRev: r.rev, Static: r.staticFrame(), Data: r.dataFrame()}
}

func (r *race) staticFrame() staticFrame {
	c := Config(r.v, "all")
	mc := c.Model()
	attn, ffn := lab.AlbertPartParams(mc.D, mc.DFF)
	s := staticFrame{
		Params: r.v, Total: r.Total(), EvalEvery: EvalEvery(r.Total()), EvalSize: lab.AlbertEvalSize,
		Blocks: c.Blocks, D: c.D, DFF: mc.DFF, Heads: mc.Heads, T: c.T, Vocab: c.Vocab, Batch: c.Batch,
		AttnPart: attn, FFNPart: ffn, Embed: c.Vocab * c.D, Out: c.D*c.Vocab + c.Vocab, Chance: 1 / float64(c.Vocab),
	}
	for i, m := range Modes() {
		rm := raceModel{Share: m, Params: r.counts[i].Params, Hand: lab.AlbertParams(r.trainers[i].Config()), Uses: r.counts[i].Uses, Ledger: lab.LedgerParam(m)}
		for _, row := range r.counts[i].Layers {
			if row.Type == "transformer_block" {
				rm.BlockParams += row.Params
			}
		}
		s.Modes = append(s.Modes, rm)
	}
	return s
}

func (r *race) models() []modelNow {
	var out []modelNow
	for i, m := range Modes() {
		mn := modelNow{Share: m, Probe: probeFrame(r.probes[i])}
		if n := len(r.loss[i]); n > 0 {
			mn.Loss, mn.Acc = finitePtr(r.loss[i][n-1]), finitePtr(r.smooth[i][n-1])
		}
		out = append(out, mn)
	}
	return out
}

// LedgerRows returns the ledger's rows in the frame's order: each block,
// then, when the parameter is shared, Σ and dW. With nothing shared the
// blocks' rows are gradients of four different parameters: no sum.
func LedgerRows(lg lab.AlbertLedger) [][]float64 {
	rows := slices.Clone(lg.Rows)
	if lg.Shared {
		rows = append(rows, lg.Sum, lg.Grad)
	}
	return rows
}

func probeFrame(p lab.AlbertProbe) probeNow {
	pn := probeNow{Loss: viz.Sig(p.Loss, 4), Shared: p.Shared, Total: viz.SigAll(p.Total, 3), SumErr: viz.Sig(p.SumErr, 2),
		L2: viz.SigAll(p.L2, 3), Angle: viz.SigAll(p.Angle, 3), LedgerShared: p.Ledger.Shared}
	for _, part := range p.Parts {
		pn.Parts = append(pn.Parts, viz.SigAll(part, 3))
	}
	rows := LedgerRows(p.Ledger)
	var flat []float64
	for _, row := range rows {
		flat = append(flat, row...)
	}
	pn.Ledger = viz.Quantize(flat, len(rows), len(rows[0]))
	return pn
}

func (r *race) dataFrame() dataFrame {
	d := dataFrame{Step: r.pos, Total: r.Total(), Models: r.models(), Evals: slices.Clone(r.evals)}
	every := max(1, (r.pos+curvePoints-1)/curvePoints)
	d.Curves.Every = every
	for i := range Modes() {
		loss, acc := downsample(r.loss[i], every), downsample(r.smooth[i], every)
		d.Curves.Loss = append(d.Curves.Loss, viz.Quantize(loss, len(loss)))
		d.Curves.Acc = append(d.Curves.Acc, viz.Quantize(acc, len(acc)))
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

// downsample averages v over runs of every values (the last run may be
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
