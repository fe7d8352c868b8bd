package convgrad

import (
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/experiments/convslide"
	"github.com/paramshare/paramshare/run"
	"github.com/paramshare/paramshare/viz"
)

// preciseStatic is the static part with the quantized maps at full
// precision, for the JSON export: Upstream and Norms are [OH, OW] and
// Unshared [OH·OW, 9], row-major.
type preciseStatic struct {
	staticPart
	Upstream []float64 `json:"upstream"`
	Norms    []float64 `json:"norms"`
	Unshared []float64 `json:"unshared"`
}

// writeJSON writes the frame at full precision, with the parameters and
// the step.
func writeJSON(w io.Writer, exp run.Experiment, _ string) error {
	g := exp.(*grad)
	st := preciseStatic{staticPart: g.static(), Upstream: slices.Clone(g.contribB), Norms: slices.Clone(g.norms), Unshared: g.unsharedGrads()}
	return run.WriteFrameJSON(w, name, g.v, g.pos, g.Total(), run.Frame{StaticRev: g.rev, Static: st, Data: g.data()})
}

// writeTrace writes the step trace (engine.WriteTrace) of the conv model
// on the digit, with the experiment's seed; it is the same at every step.
func writeTrace(w io.Writer, exp run.Experiment, _ string) error {
	g := exp.(*grad)
	return engine.WriteTrace(w, g.model, uint64(g.p.Seed), g.x, g.target)
}

// writeFigure returns the export that draws four heat maps on the widget's
// colour scales: the upstream gradient, each position's contribution size
// (positions not added yet are grey), the running sum of the
// contributions and the engine's dW.
func writeFigure(format string) func(io.Writer, run.Experiment, string) error {
	return func(w io.Writer, exp run.Experiment, lang string) error {
		return exp.(*grad).figure(w, format, lang)
	}
}

// figureText is the figure's wording in both languages.
var figureText = struct {
	title, upstream, norms, sum, engine run.Text
}{
	title: run.Text{
		En: "How a shared kernel learns — digit #%d (a %d), %s kernel, seed %d — %d of %d positions added",
		Zh: "共享的卷积核如何学习 — 第 %d 号数字（%d），%s卷积核，种子 %d — 已加入 %d / %d 个位置",
	},
	upstream: run.Text{En: "upstream gradient dL/dy", Zh: "上游梯度 dL/dy"},
	norms:    run.Text{En: "contribution size per position", Zh: "每个位置贡献的大小"},
	sum:      run.Text{En: "sum of %d contributions", Zh: "%d 个贡献之和"},
	engine:   run.Text{En: "engine dW", Zh: "引擎算出的 dW"},
}

// kernelText names a kernel choice as conv-slide's figures name its
// presets; random is this lesson's own.
func kernelText(name string) run.Text {
	if name == random {
		return run.Text{En: "random", Zh: "随机"}
	}
	return convslide.PresetText(name)
}

// figure draws g in format and lang.
func (g *grad) figure(w io.Writer, format, lang string) error {
	// The norms of positions not added yet are NaN (grey); the scale is
	// the largest norm of all positions, so it stays fixed while the sum
	// accumulates.
	norms := slices.Clone(g.norms)
	for p := g.pos; p < len(norms); p++ {
		norms[p] = math.NaN()
	}
	normMax := absMax(g.norms)
	if normMax == 0 {
		normMax = 1
	}
	// The running sum and dW share one diverging scale: the largest
	// |entry| the sum reaches.
	lim := g.accAbsMax
	if lim == 0 {
		lim = 1
	}
	t := figureText
	title := fmt.Sprintf(t.title.In(lang), g.p.Digit, g.label, kernelText(g.p.Kernel).In(lang), g.p.Seed, g.pos, g.Total())
	return viz.Write(w, format, lang, viz.Heatmaps{Title: title, Panels: []viz.Panel{
		{Title: t.upstream.In(lang), Grid: viz.Grid{Rows: g.oh, Cols: g.ow, Values: slices.Clone(g.contribB)}, Diverging: true, XLabel: "ox", YLabel: "oy"},
		{Title: t.norms.In(lang), Grid: viz.Grid{Rows: g.oh, Cols: g.ow, Values: norms}, Min: 0, Max: normMax, XLabel: "ox", YLabel: "oy"},
		{Title: fmt.Sprintf(t.sum.In(lang), g.pos), Grid: viz.Grid{Rows: kernel, Cols: kernel, Values: g.accW[:]}, Diverging: true, Annotate: true, Min: -lim, Max: lim, XLabel: "kx", YLabel: "ky"},
		{Title: t.engine.In(lang), Grid: viz.Grid{Rows: kernel, Cols: kernel, Values: g.dW[:]}, Diverging: true, Annotate: true, Min: -lim, Max: lim, XLabel: "kx", YLabel: "ky"},
	}})
}
