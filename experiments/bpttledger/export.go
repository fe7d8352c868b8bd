package bpttledger

import (
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/run"
	"github.com/paramshare/paramshare/viz"
)

// preciseData is the data part at full precision, with the heat map as
// plain log₁₀ values (null: exact zero or not added yet), for the JSON
// export.
type preciseData struct {
	dataPart
	Heat preciseHeat `json:"heat"`
}

type preciseHeat struct {
	Steps int        `json:"steps"`
	Every int        `json:"every"`
	Min   float64    `json:"min"` // the colour range, log₁₀
	Max   float64    `json:"max"`
	Rows  int        `json:"rows"`
	Cols  int        `json:"cols"`
	Log10 []*float64 `json:"log10"`
}

// writeJSON writes the frame at full precision, with the parameters and
// the position.
func writeJSON(w io.Writer, exp run.Experiment, _ string) error {
	l := exp.(*ledger)
	every, rows, vals := l.heatGrid()
	lo, hi := l.heatRange()
	h := preciseHeat{Steps: l.cur.k + 1, Every: every, Min: lo, Max: hi, Rows: rows, Cols: l.p.T, Log10: make([]*float64, len(vals))}
	for i, v := range vals {
		if !math.IsNaN(v) {
			h.Log10[i] = &vals[i]
		}
	}
	d := preciseData{dataPart: l.data(exact), Heat: h}
	return run.WriteFrameJSON(w, name, l.v, l.Pos(), l.Total(), run.Frame{StaticRev: l.rev, Static: l.static(), Data: d})
}

// writeTrace writes the step trace (engine.WriteTrace) of the training
// step on screen: the weights before its update, its batch, its loss and
// the gradient — the dW the ledger adds up to.
func writeTrace(w io.Writer, exp run.Experiment, _ string) error {
	l := exp.(*ledger)
	if l.next != nil {
		// Only a run that went back holds weights one update ahead; an
		// export replays a fresh run, which never does.
		return errors.New("bpttledger: trace of a rewound run")
	}
	return engine.WriteTrace(w, l.model, uint64(l.p.Seed), l.x, l.y)
}

// writeFigure returns the export that draws the ledger (Σ, the engine's dW,
// the inspected contribution), the heat map of contribution norms, ‖∂L/∂h_t‖
// and the contribution norms against t on a log scale, and the loss.
func writeFigure(format string) func(io.Writer, run.Experiment, string) error {
	return func(w io.Writer, exp run.Experiment, lang string) error {
		return exp.(*ledger).figure(w, format, lang)
	}
}

// figureText is the figure's wording in both languages.
var figureText = struct {
	title, sum, engine, contrib, heat, heatX, heatY, curves, t, norm, hgrad, cnorm, loss, step, lossY run.Text
}{
	title: run.Text{
		En: "Backprop through time — %s, T = %d, hidden %d, seed %d — training step %d, %d of %d time steps added",
		Zh: "沿时间反向传播 — %s，T = %d，隐藏维数 %d，种子 %d — 第 %d 个训练步，已加入 %d / %d 个时间步",
	},
	sum:     run.Text{En: "Σ of %d contributions to d%s", Zh: "d%[2]s 的 %[1]d 个贡献之和 Σ"},
	engine:  run.Text{En: "engine's d%s", Zh: "引擎算出的 d%s"},
	contrib: run.Text{En: "contribution of t = %d", Zh: "t = %d 的贡献"},
	heat:    run.Text{En: "log10 ‖contribution‖, training steps 1–%d (a row: %d steps; the last row: step %d)", Zh: "log10 ‖贡献‖，训练步 1–%d（每行 %d 步；最后一行：第 %d 步）"},
	heatX:   run.Text{En: "time step t − 1", Zh: "时间步 t − 1"},
	heatY:   run.Text{En: "row (0: the first training steps)", Zh: "行（第 0 行：最早的训练步）"},
	curves:  run.Text{En: "Training step %d: gradient sizes along the sequence", Zh: "第 %d 个训练步：沿序列的梯度大小"},
	t:       run.Text{En: "time step t", Zh: "时间步 t"},
	norm:    run.Text{En: "norm (log scale)", Zh: "范数（对数刻度）"},
	hgrad:   run.Text{En: "‖∂L/∂h_t‖", Zh: "‖∂L/∂h_t‖"},
	cnorm:   run.Text{En: "‖contribution of t to d%s‖", Zh: "‖t 对 d%s 的贡献‖"},
	loss:    run.Text{En: "Loss per training step", Zh: "每个训练步的损失"},
	step:    run.Text{En: "training step", Zh: "训练步"},
	lossY:   run.Text{En: "loss", Zh: "损失"},
}

// taskText names a task in lang.
func taskText(task, lang string) string {
	if task == taskAdding {
		return run.Text{En: "adding problem", Zh: "加法问题"}.In(lang)
	}
	return run.Text{En: "remember the first symbol", Zh: "记住第一个符号"}.In(lang)
}

// paramText is the shown parameter's name in figures.
func paramText(param string) string {
	switch param {
	case paramHH:
		return "W_hh"
	case paramIH:
		return "W_ih"
	}
	return "b (b_ih | b_hh)"
}

// figure draws l in format and lang.
func (l *ledger) figure(w io.Writer, format, lang string) error {
	ft := figureText
	T, i, ps := l.p.T, shownIndex(l.p.Param), l.cur
	rows, cols := l.shape()
	pname := paramText(l.p.Param)
	small := rows*cols <= 64
	lim := 0.0
	for _, v := range ps.grad[i] {
		lim = math.Max(lim, math.Abs(v))
	}
	sum := l.sum(l.j)
	for _, v := range sum {
		lim = math.Max(lim, math.Abs(v))
	}
	if lim == 0 {
		lim = 1
	}
	panels := []viz.Panel{
		{Title: fmt.Sprintf(ft.sum.In(lang), l.j, pname), Grid: viz.Grid{Rows: rows, Cols: cols, Values: sum}, Diverging: true, Annotate: small, Min: -lim, Max: lim},
		{Title: fmt.Sprintf(ft.engine.In(lang), pname), Grid: viz.Grid{Rows: rows, Cols: cols, Values: ps.grad[i]}, Diverging: true, Annotate: small, Min: -lim, Max: lim},
	}
	d := l.data(exact)
	if d.Inspect != nil {
		panels = append(panels, viz.Panel{Title: fmt.Sprintf(ft.contrib.In(lang), d.Inspect.T), Grid: viz.Grid{Rows: rows, Cols: cols, Values: d.Inspect.Contribution}, Diverging: true, Annotate: small})
	}
	every, hrows, vals := l.heatGrid()
	lo, hi := l.heatRange()
	heatPanel := viz.Panel{
		Title: fmt.Sprintf(ft.heat.In(lang), ps.k+1, every, ps.k+1),
		Grid:  viz.Grid{Rows: hrows, Cols: T, Values: vals}, XLabel: ft.heatX.In(lang), YLabel: ft.heatY.In(lang), Min: lo, Max: hi,
	}
	ts := make([]float64, T)
	for t := range ts {
		ts[t] = float64(t + 1)
	}
	// Time steps not added yet leave a gap in the contribution curve, as
	// exact zeros do on a log axis.
	added := make([]float64, T)
	for t := range added {
		added[t] = math.NaN()
		if t >= T-l.j {
			added[t] = ps.norms[i][t]
		}
	}
	steps := make([]float64, len(d.Losses))
	for s := range steps {
		steps[s] = float64(s*d.Every + 1)
	}
	title := fmt.Sprintf(ft.title.In(lang), taskText(l.p.Task, lang), T, l.p.Hidden, l.p.Seed, ps.k+1, l.j, T)
	return viz.Write(w, format, lang, viz.Figure{Title: title, Cols: 2, Charts: []viz.Chart{
		viz.Heatmaps{Panels: panels},
		viz.Heatmaps{Panels: []viz.Panel{heatPanel}},
		viz.LineChart{Title: fmt.Sprintf(ft.curves.In(lang), ps.k+1), XLabel: ft.t.In(lang), YLabel: ft.norm.In(lang), LogY: true, Series: []viz.Series{
			{Name: ft.hgrad.In(lang), X: ts, Y: ps.hgrad},
			{Name: fmt.Sprintf(ft.cnorm.In(lang), pname), X: ts, Y: added},
		}},
		viz.LineChart{Title: ft.loss.In(lang), XLabel: ft.step.In(lang), YLabel: ft.lossY.In(lang), Series: []viz.Series{
			{Name: ft.lossY.In(lang), X: steps, Y: d.Losses},
		}},
	}})
}
