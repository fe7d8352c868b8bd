package gradflow

import (
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/run"
	"github.com/paramshare/paramshare/viz"
)

// writeJSON writes the frame at full precision, with the parameters and
// the step.
func writeJSON(w io.Writer, exp run.Experiment, _ string) error {
	f := exp.(*flow)
	return run.WriteFrameJSON(w, name, f.v, f.pos, total, run.Frame{StaticRev: f.rev, Static: f.static(), Data: f.data(0)})
}

// writeTrace writes the step trace (engine.WriteTrace) of the step on
// screen: the weights after Pos updates, batch Pos, the loss and every
// gradient, before the update. A non-tanh cell is traced as elman_rnn.
func writeTrace(w io.Writer, exp run.Experiment, _ string) error {
	f := exp.(*flow)
	return engine.WriteTrace(w, f.model, uint64(f.p.Seed), f.x, f.y)
}

// writeFigure returns the export that draws the step's four charts.
func writeFigure(format string) func(io.Writer, run.Experiment, string) error {
	return func(w io.Writer, exp run.Experiment, lang string) error {
		return viz.Write(w, format, lang, exp.(*flow).figure(lang))
	}
}

// figureText is the figure's wording in both languages.
var figureText = struct {
	title, contrib, contribX, contribY, grad, gradX, gradY, measured, bound,
	lambda, lambdaY, line, lambdaS, rhoS, loss, lossY, steps run.Text
}{
	title: run.Text{
		En: "Gradient flow through time — %s RNN, λ₁ %s at the start, T = %d, hidden %d, %s, lr %s, seed %d — step %d of %d",
		Zh: "梯度沿时间的流动 — %s RNN，开始时 λ_1 = %s，T = %d，隐藏维数 %d，%s，学习率 %s，种子 %d — 第 %d / %d 步",
	},
	contrib:  run.Text{En: "Each step's contribution to dW_hh", Zh: "每一步对 dW_hh 的贡献"},
	contribX: run.Text{En: "steps before the loss (T − t)", Zh: "距损失的步数（T − t）"},
	contribY: run.Text{En: "log10 ‖contribution‖", Zh: "log10 ‖贡献‖"},
	grad:     run.Text{En: "‖∂L/∂h_t‖ and its bound (γλ₁)^(T−t)·‖∂L/∂h_T‖", Zh: "‖∂L/∂h_t‖ 及其上界 (γλ_1)^(T−t)·‖∂L/∂h_T‖"},
	gradX:    run.Text{En: "time step t", Zh: "时间步 t"},
	gradY:    run.Text{En: "log10 norm", Zh: "log10 范数"},
	measured: run.Text{En: "‖∂L/∂h_t‖ (engine)", Zh: "‖∂L/∂h_t‖（引擎）"},
	bound:    run.Text{En: "bound", Zh: "上界"},
	lambda:   run.Text{En: "λ₁ and ρ of W_hh as training goes", Zh: "训练过程中 W_hh 的 λ_1 与 ρ"},
	lambdaY:  run.Text{En: "largest singular value, spectral radius", Zh: "最大奇异值、谱半径"},
	line:     run.Text{En: "1/γ = %s", Zh: "1/γ = %s"},
	lambdaS:  run.Text{En: "λ₁", Zh: "λ_1"},
	rhoS:     run.Text{En: "ρ (spectral radius)", Zh: "ρ（谱半径）"},
	loss:     run.Text{En: "Loss (one batch per step)", Zh: "损失（每步一个批次）"},
	lossY:    run.Text{En: "loss", Zh: "损失"},
	steps:    run.Text{En: "training step", Zh: "训练步"},
}

// taskNames are the tasks as the figure names them.
var taskNames = map[string]run.Text{
	taskRemember: {En: "remember the first symbol", Zh: "记住第一个符号"},
	taskAdding:   {En: "adding problem", Zh: "加法问题"},
}

// figure is the step's figure in lang: the contributions by distance and
// ‖∂L/∂h_t‖ with its bound, λ₁ and ρ, and the loss over the steps so far. The
// norms are drawn as their log₁₀ on a linear axis: they span tens of
// decades, and an exploding run's reach 10⁵⁰ and beyond.
func (f *flow) figure(lang string) viz.Figure {
	t := figureText
	p := f.p
	d := f.data(0)
	contrib := viz.Series{Name: t.contribY.In(lang)}
	for i, c := range d.Contrib {
		contrib.X = append(contrib.X, float64(p.T-1-i))
		contrib.Y = append(contrib.Y, log10(float64(c)))
	}
	grad, bound := viz.Series{Name: t.measured.In(lang)}, viz.Series{Name: t.bound.In(lang)}
	for i := range d.HGrad {
		grad.X = append(grad.X, float64(i+1))
		grad.Y = append(grad.Y, log10(float64(d.HGrad[i])))
		bound.X = append(bound.X, float64(i+1))
		bound.Y = append(bound.Y, log10(float64(d.HBound[i])))
	}
	if len(contrib.X) == 0 { // a diverged pass: nothing to draw, one gap
		contrib.X, contrib.Y = []float64{0}, []float64{math.NaN()}
		grad.X, grad.Y, bound.X, bound.Y = []float64{1}, []float64{math.NaN()}, []float64{1}, []float64{math.NaN()}
	}
	steps := make([]float64, f.pos+1)
	for i := range steps {
		steps[i] = float64(i)
	}
	st := f.static()
	lambda := viz.Series{Name: t.lambdaS.In(lang), X: steps, Y: finiteOrNaN(f.lambdas)}
	rho := viz.Series{Name: t.rhoS.In(lang), X: steps, Y: finiteOrNaN(f.rhos), Style: &viz.Style{Color: 2, Dash: 2, Marker: 2}}
	line := viz.Series{Name: fmt.Sprintf(t.line.In(lang), strconv.FormatFloat(st.Bound, 'g', 3, 64)),
		X: []float64{0, math.Max(1, float64(f.pos))}, Y: []float64{st.Bound, st.Bound}, Style: &viz.Style{Color: 1, Dash: 1, Marker: 1}}
	loss := viz.Series{Name: t.lossY.In(lang), X: steps, Y: finiteOrNaN(f.losses)}
	title := fmt.Sprintf(t.title.In(lang), p.Act, strconv.FormatFloat(p.Lambda1, 'g', 3, 64), p.T, p.Hidden, taskNames[p.Task].In(lang), strconv.FormatFloat(p.LR, 'g', 3, 64), p.Seed, f.pos, total)
	return viz.Figure{Title: title, Cols: 2, Charts: []viz.Chart{
		viz.LineChart{Title: t.contrib.In(lang), XLabel: t.contribX.In(lang), YLabel: t.contribY.In(lang), Series: []viz.Series{contrib}},
		viz.LineChart{Title: t.grad.In(lang), XLabel: t.gradX.In(lang), YLabel: t.gradY.In(lang), Series: []viz.Series{grad, bound}},
		viz.LineChart{Title: t.lambda.In(lang), XLabel: t.steps.In(lang), YLabel: t.lambdaY.In(lang), Series: []viz.Series{lambda, rho, line}},
		viz.LineChart{Title: t.loss.In(lang), XLabel: t.steps.In(lang), YLabel: t.lossY.In(lang), Series: []viz.Series{loss}},
	}}
}

// log10 is log₁₀ v, NaN (a gap) where v is 0 or not finite.
func log10(v float64) float64 {
	if !(v > 0) || math.IsInf(v, 0) {
		return math.NaN()
	}
	return math.Log10(v)
}
