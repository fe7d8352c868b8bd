package cliff

import (
	"fmt"
	"io"
	"math"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/run"
	"github.com/paramshare/paramshare/viz"
)

// writeJSON writes the frame at full precision: the surface as sent (its
// log-loss quantized: it is drawn, and any of its values is re-computable
// from the engine at (w, b)) and every point of the paths unrounded.
func writeJSON(w io.Writer, exp run.Experiment, _ string) error {
	c := exp.(*cliff)
	st, err := theStatic()
	if err != nil {
		return err
	}
	return run.WriteFrameJSON(w, name, c.v, c.Pos(), c.Total(), run.Frame{StaticRev: 1, Static: st, Data: c.data(true)})
}

// writeTrace writes the step trace (engine.WriteTrace) at the current
// point of the path with clipping (of the path without it when clip is
// "off"): the model elman_rnn(2 → 1, sigmoid), last_step, MSE against
// 0.7 on the k + 1 input steps of model.go. Its gradients are the
// engine's before clipping, for all four tensors; the lesson trains only
// weight_hh (w) and weight_ih[0][1] (b).
func writeTrace(w io.Writer, exp run.Experiment, _ string) error {
	c := exp.(*cliff)
	pa := c.paths[len(c.paths)-1]
	cur := pa.pts[len(pa.pts)-1]
	nt, err := newNet(c.p.K, 1)
	if err != nil {
		return err
	}
	full := pa.full
	nt.set(cur.W, cur.B, start(full, cur.W, cur.B, c.p.K))
	return engine.WriteTrace(w, nt.model, 0, nt.x, nt.y)
}

// writeFigure returns the export that draws the surface with the paths
// and, beside it, ‖g‖ and the loss against the step (log scales).
func writeFigure(format string) func(io.Writer, run.Experiment, string) error {
	return func(w io.Writer, exp run.Experiment, lang string) error {
		return exp.(*cliff).figure(w, format, lang)
	}
}

// figureText is the figure's wording in both languages.
var figureText = struct {
	title, full, trunc, surface, loss, norm, step, noClip, clip, colour run.Text
}{
	title: run.Text{
		En: "Pascanu's cliff — x_t = w·σ(x_{t−1}) + b, x_0 = 0.5, E = (σ(x_50) − 0.7)² — %s, lr %s, step %d of %d",
		Zh: "Pascanu 的悬崖 — x_t = w·σ(x_{t−1}) + b，x_0 = 0.5，E = (σ(x_50) − 0.7)² — %s，学习率 %s，第 %d / %d 步",
	},
	full:    run.Text{En: "full BPTT", Zh: "完整 BPTT"},
	trunc:   run.Text{En: "BPTT truncated to %d steps", Zh: "BPTT 截断为 %d 步"},
	surface: run.Text{En: "Loss surface and gradient-descent paths", Zh: "损失曲面与梯度下降路径"},
	loss:    run.Text{En: "loss E", Zh: "损失 E"},
	norm:    run.Text{En: "‖g‖ before clipping", Zh: "裁剪前的 ‖g‖"},
	step:    run.Text{En: "step", Zh: "步"},
	noClip:  run.Text{En: "without clipping", Zh: "不裁剪"},
	clip:    run.Text{En: "clipped at ‖g‖ = %s", Zh: "在 ‖g‖ = %s 处裁剪"},
	colour:  run.Text{En: "loss E (log scale)", Zh: "损失 E（对数刻度）"},
}

// pathStyle gives the path without clipping vermillion with long dashes
// and the clipped one solid blue, as the widget draws them.
func pathStyle(clip bool) *viz.Style {
	if clip {
		return &viz.Style{Color: 0, Dash: 0, Marker: 1}
	}
	return &viz.Style{Color: 1, Dash: 1, Marker: 0}
}

func num(v float64) string { return fmt.Sprintf("%.4g", v) }

// figure draws c in format and lang.
func (c *cliff) figure(w io.Writer, format, lang string) error {
	s, err := theSurface()
	if err != nil {
		return err
	}
	ft := figureText
	how := ft.full.In(lang)
	if c.p.K < T {
		how = fmt.Sprintf(ft.trunc.In(lang), c.p.K)
	}
	var paths, norms, losses []viz.Series
	for _, pa := range c.paths {
		nm := ft.noClip.In(lang)
		if pa.clip {
			nm = fmt.Sprintf(ft.clip.In(lang), num(c.p.Threshold))
		}
		var ws, bs, steps, ns, ls []float64
		for i, pt := range pa.pts {
			ws, bs = append(ws, pt.W), append(bs, pt.B)
			steps = append(steps, float64(i))
			ns, ls = append(ns, pt.Norm), append(ls, pt.Loss)
		}
		st := pathStyle(pa.clip)
		paths = append(paths, viz.Series{Name: nm, X: ws, Y: bs, Style: st})
		norms = append(norms, viz.Series{Name: nm, X: steps, Y: ns, Style: st})
		losses = append(losses, viz.Series{Name: nm, X: steps, Y: ls, Style: st})
	}
	hi := math.Inf(-1)
	for _, l := range s.Loss {
		hi = math.Max(hi, l)
	}
	title := fmt.Sprintf(ft.title.In(lang), how, num(c.p.LR), c.Pos(), c.Total())
	return viz.Write(w, format, lang, viz.Figure{Title: title, Cols: 2, Charts: []viz.Chart{
		viz.Surface{
			Title: ft.surface.In(lang), XLabel: "w", YLabel: "b",
			XMin: wMin, XMax: wMax, YMin: bMin, YMax: bMax,
			Grid:      viz.Grid{Rows: s.N, Cols: s.N, Values: s.logLoss()},
			LogValues: true, ColorLabel: ft.colour.In(lang),
			Min: math.Log10(logFloor), Max: math.Log10(hi),
			Paths: paths,
		},
		viz.Figure{Cols: 1, Charts: []viz.Chart{
			viz.LineChart{Title: ft.norm.In(lang), XLabel: ft.step.In(lang), YLabel: "‖g‖", LogY: true, Series: norms},
			viz.LineChart{Title: ft.loss.In(lang), XLabel: ft.step.In(lang), YLabel: "E", LogY: true, Series: losses},
		}},
	}})
}
