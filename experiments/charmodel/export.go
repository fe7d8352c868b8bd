package charmodel

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/engine/data"
	"github.com/paramshare/paramshare/run"
	"github.com/paramshare/paramshare/viz"
)

// The exports replay the run to their step (training is deterministic
// given the seed, so the URL names the state on screen).

func asCharModel(exp run.Experiment) (*charModel, error) {
	c, ok := exp.(*charModel)
	if !ok {
		return nil, fmt.Errorf("charmodel: export of a %T", exp)
	}
	return c, nil
}

// writeJSON writes the frame at full precision.
func writeJSON(w io.Writer, exp run.Experiment, _ string) error {
	c, err := asCharModel(exp)
	if err != nil {
		return err
	}
	return run.WriteFrameJSON(w, Name, c.v, c.pos, total, run.Frame{StaticRev: c.rev, Static: c.static(), Data: c.data(0)})
}

// writeTrace writes the engine's step trace of the next training step:
// the current weights (before that step's update), the batch that step
// draws (from a copy of the windows' random source, so the run is not
// moved), its loss and gradients (before clipping).
func writeTrace(w io.Writer, exp run.Experiment, _ string) error {
	c, err := asCharModel(exp)
	if err != nil {
		return err
	}
	src := *c.src
	x, y := data.CharBatch(rand.New(&src), trainText, vocabIndex, batch, c.p.SeqLen)
	copyWeights(c.probe, c.model) // the reach keeps its own numbers
	return engine.WriteTrace(w, c.probe, uint64(c.p.Seed), x, y)
}

// figureText is the figure's wording in both languages (Sprintf formats).
var figureText = struct {
	title, loss, step, lossAxis, train, held, uniform, reach, back, relAxis, pieces, hgrad run.Text
}{
	title: run.Text{
		En: "A character model — %s, hidden %d, windows of %d, Adam lr %g, seed %d — step %d of %d",
		Zh: "字符级语言模型 — %s，隐藏维数 %d，窗口 %d 个字符，Adam 学习率 %g，种子 %d — 第 %d / %d 步",
	},
	loss:     run.Text{En: "Loss", Zh: "损失"},
	step:     run.Text{En: "step", Zh: "步"},
	lossAxis: run.Text{En: "cross-entropy (nats per character)", Zh: "交叉熵（每字符，nat）"},
	train:    run.Text{En: "training batch", Zh: "训练批次"},
	held:     run.Text{En: "held-out text (%d characters)", Zh: "留出文本（%d 个字符）"},
	uniform:  run.Text{En: "uniform guess, ln %d", Zh: "均匀猜测，ln %d"},
	reach: run.Text{
		En: "How far back one prediction reaches — “%s” after “…%s”",
		Zh: "一次预测能回溯多远 — “…%s”之后的“%s”",
	},
	back:    run.Text{En: "characters back", Zh: "往回的字符数"},
	relAxis: run.Text{En: "relative to the largest (log scale)", Zh: "相对于最大值（对数刻度）"},
	pieces:  run.Text{En: "‖step's piece of dW_hh‖", Zh: "‖该步对 dW_hh 的贡献‖"},
	hgrad:   run.Text{En: "‖∂L/∂h_t‖", Zh: "‖∂L/∂h_t‖"},
}

// writeFigure returns the export that draws the loss curves and the reach
// (each step's piece of dW_hh and ‖∂L/∂h_t‖ against the distance back,
// relative to their largest, on a log scale) side by side.
func writeFigure(format string) func(io.Writer, run.Experiment, string) error {
	return func(w io.Writer, exp run.Experiment, lang string) error {
		c, err := asCharModel(exp)
		if err != nil {
			return err
		}
		return c.figure(w, format, lang)
	}
}

// shown is a character as the figure names it: a line break as ↵.
func shown(s string) string {
	out := []rune{}
	for _, r := range s {
		if r == '\n' {
			r = '↵'
		}
		out = append(out, r)
	}
	return string(out)
}

func (c *charModel) figure(w io.Writer, format, lang string) error {
	t := figureText
	in := func(tx run.Text, a ...any) string { return fmt.Sprintf(tx.In(lang), a...) }
	st := c.static()
	V := len(vocab)

	var loss []viz.Series
	if c.pos > 0 {
		xs := make([]float64, c.pos)
		for i := range xs {
			xs[i] = float64(i + 1)
		}
		loss = append(loss, viz.Series{Name: in(t.train), X: xs, Y: c.train, Style: &viz.Style{Color: 0, Dash: 0, Marker: 0}})
	}
	hx := make([]float64, len(c.heldSteps))
	for i, s := range c.heldSteps {
		hx[i] = float64(s)
	}
	loss = append(loss,
		viz.Series{Name: in(t.held, len(heldText)), X: hx, Y: c.held, Style: &viz.Style{Color: 1, Dash: 1, Marker: 1}},
		viz.Series{Name: in(t.uniform, V), X: []float64{0, total}, Y: []float64{st.Uniform, st.Uniform}, Style: &viz.Style{Color: 6, Dash: 2, Marker: 2}},
	)

	r := c.currentReach()
	back := make([]float64, reachLen)
	for i := range back {
		back[i] = float64(reachLen - i)
	}
	rel := func(v []float64) []float64 {
		top := 0.0
		for _, x := range v {
			top = math.Max(top, x)
		}
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = math.NaN() // a zero has no place on a log scale: a gap
			if top > 0 && x > 0 {
				out[i] = x / top
			}
		}
		return out
	}
	ctx := []rune(st.Context)
	tail := string(ctx[len(ctx)-20:])
	var reachTitle string
	if lang == "zh" {
		reachTitle = in(t.reach, shown(tail), shown(st.Next))
	} else {
		reachTitle = in(t.reach, shown(st.Next), shown(tail))
	}
	charts := []viz.Chart{
		viz.LineChart{Title: in(t.loss), XLabel: in(t.step), YLabel: in(t.lossAxis), Series: loss},
		viz.LineChart{Title: reachTitle, XLabel: in(t.back), YLabel: in(t.relAxis), LogY: true, Series: []viz.Series{
			{Name: in(t.pieces), X: back, Y: rel(r.Pieces), Style: &viz.Style{Color: 0, Dash: 0, Marker: 0}},
			{Name: in(t.hgrad), X: back, Y: rel(r.HGrad), Style: &viz.Style{Color: 3, Dash: 1, Marker: 1}},
		}},
	}
	title := in(t.title, c.p.Cell, c.p.Hidden, c.p.SeqLen, c.p.LR, c.p.Seed, c.pos, total)
	return viz.Write(w, format, lang, viz.Figure{Title: title, Cols: 2, Charts: charts})
}
