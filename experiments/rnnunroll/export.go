package rnnunroll

import (
	"fmt"
	"io"
	"math"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/run"
	"github.com/paramshare/paramshare/viz"
)

// writeJSON writes the frame at full precision, with the parameters and
// the step.
func writeJSON(w io.Writer, exp run.Experiment, _ string) error {
	u := exp.(*unroll)
	return run.WriteFrameJSON(w, name, u.v, u.pos, u.Total(), run.Frame{StaticRev: u.rev, Static: u.static(-1), Data: u.data(-1)})
}

// writeTrace writes the step trace (engine.WriteTrace) of the cell on the
// word, with the experiment's seed: the parameters, the input, and the
// gradient of the MSE of every h_t against 0 — a loss chosen only so that
// the trace shows the shared cell's gradient summed over every step (the
// lesson trains nothing). It is the same at every step.
func writeTrace(w io.Writer, exp run.Experiment, _ string) error {
	u := exp.(*unroll)
	target := engine.NewTensor(1, u.Total(), u.p.Hidden)
	return engine.WriteTrace(w, u.model, uint64(u.p.Seed), u.x, target)
}

// writeFigure returns the export that draws the shared W_ih, W_hh and
// bias, and the hidden states h_1 … h_L (steps not computed yet are grey),
// as heat maps on the widget's colour scales.
func writeFigure(format string) func(io.Writer, run.Experiment, string) error {
	return func(w io.Writer, exp run.Experiment, lang string) error {
		return exp.(*unroll).figure(w, format, lang)
	}
}

// figureText is the figure's wording in both languages.
var figureText = struct {
	title, wih, whh, bias, hidden run.Text
}{
	title: run.Text{
		En: "One cell, many time steps — “%s”, hidden size %d, seed %d — step %d of %d — the same %d parameters at every step",
		Zh: "一个单元，许多时间步 — “%s”，隐藏维数 %d，种子 %d — 第 %d / %d 步 — 每一步都用同样的 %d 个参数",
	},
	wih:    run.Text{En: "W_ih (columns a…z)", Zh: "W_ih（各列依次为 a…z）"},
	whh:    run.Text{En: "W_hh", Zh: "W_hh"},
	bias:   run.Text{En: "b_ih + b_hh", Zh: "b_ih + b_hh"},
	hidden: run.Text{En: "hidden states h_t (column t − 1)", Zh: "隐藏状态 h_t（第 t − 1 列）"},
}

// figure draws u in format and lang.
func (u *unroll) figure(w io.Writer, format, lang string) error {
	hid, in, steps := u.p.Hidden, len(alphabet), u.Total()
	st := u.static(-1)
	wlim := st.WAbsMax
	if wlim == 0 {
		wlim = 1
	}
	bias := make([]float64, hid)
	for j := range bias {
		bias[j] = st.BIH[j] + st.BHH[j]
	}
	hs := make([]float64, hid*steps)
	for j := range hid {
		for t := range steps {
			hs[j*steps+t] = math.NaN() // not computed yet: drawn grey
			if t < u.pos {
				hs[j*steps+t] = u.hs[t][j]
			}
		}
	}
	small := hid <= 6
	t := figureText
	title := fmt.Sprintf(t.title.In(lang), u.p.Word, hid, u.p.Seed, u.pos, steps, u.counts.Params)
	return viz.Write(w, format, lang, viz.Heatmaps{Title: title, Panels: []viz.Panel{
		{Title: t.wih.In(lang), Grid: viz.Grid{Rows: hid, Cols: in, Values: u.cell.WeightIH.Value.Clone().Data}, Diverging: true, Min: -wlim, Max: wlim, XLabel: "i", YLabel: "j"},
		{Title: t.whh.In(lang), Grid: viz.Grid{Rows: hid, Cols: hid, Values: u.cell.WeightHH.Value.Clone().Data}, Diverging: true, Annotate: small, Min: -wlim, Max: wlim, XLabel: "k", YLabel: "j"},
		{Title: t.bias.In(lang), Grid: viz.Grid{Rows: hid, Cols: 1, Values: bias}, Diverging: true, Annotate: small, YLabel: "j"},
		{Title: t.hidden.In(lang), Grid: viz.Grid{Rows: hid, Cols: steps, Values: hs}, Diverging: true, Annotate: small && steps <= 8, Min: -1, Max: 1, XLabel: "t − 1", YLabel: "j"},
	}})
}
