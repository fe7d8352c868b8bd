package attnshare

import (
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/run"
	"github.com/paramshare/paramshare/viz"
)

// exact is the JSON export's rounding: none.
func exact(v []float64) []float64 { return slices.Clone(v) }

// writeJSON writes the frame at full precision.
func writeJSON(w io.Writer, exp run.Experiment, _ string) error {
	s := exp.(*share)
	return run.WriteFrameJSON(w, name, s.v, s.Pos(), s.Total(), run.Frame{StaticRev: s.rev, Static: s.static(exact), Data: s.data(exact)})
}

// writeTrace writes the step trace of the pass (engine.WriteTrace): the
// seeded weights, the word and its next-letter targets, the loss and
// every gradient — the dW the ledger adds up to.
func writeTrace(w io.Writer, exp run.Experiment, _ string) error {
	s := exp.(*share)
	x, y := batchOf(s.p.Text)
	return engine.WriteTrace(w, s.m.m, uint64(s.p.Seed), x, y)
}

// writeFigure returns the export that draws Q, K, V, the attention maps,
// the ledger (Σ so far and the engine's dW) and the count against T.
func writeFigure(format string) func(io.Writer, run.Experiment, string) error {
	return func(w io.Writer, exp run.Experiment, lang string) error {
		return exp.(*share).figure(w, format, lang)
	}
}

// figureText is the figure's wording in both languages.
var figureText = struct {
	title, proj, maps, head, tokQ, tokK, sum, engine, count, T, n, params, uses, entries, feat run.Text
}{
	title: run.Text{
		En: "Attention shares its projections — “%s”, d_model %d, %d head(s), seed %d — step %d of %d, loss %.4g",
		Zh: "注意力共享它的投影 — “%s”，d_model %d，%d 个头，种子 %d — 第 %d / %d 步，损失 %.4g",
	},
	proj:    run.Text{En: "%s = x %s^T + b (every token, one matrix)", Zh: "%s = x %s^T + b（每个词元，同一个矩阵）"},
	maps:    run.Text{En: "Attention weights softmax(QK^T/√d_k)", Zh: "注意力权重 softmax(QK^T/√d_k)"},
	head:    run.Text{En: "head %d", Zh: "第 %d 个头"},
	tokQ:    run.Text{En: "key token (attended to)", Zh: "键词元（被关注）"},
	tokK:    run.Text{En: "query token", Zh: "查询词元"},
	sum:     run.Text{En: "Σ of %d of %d token contributions to d%s", Zh: "d%[3]s 的 %[2]d 个词元贡献中 %[1]d 个之和 Σ"},
	engine:  run.Text{En: "engine's d%s", Zh: "引擎算出的 d%s"},
	count:   run.Text{En: "One attention layer as the sequence grows (d_model %d)", Zh: "序列变长时的一个注意力层（d_model %d）"},
	T:       run.Text{En: "tokens T", Zh: "词元数 T"},
	n:       run.Text{En: "count (log scale)", Zh: "个数（对数刻度）"},
	params:  run.Text{En: "parameters", Zh: "参数"},
	uses:    run.Text{En: "uses (multiply-adds)", Zh: "使用次数（乘加）"},
	entries: run.Text{En: "attention-map entries", Zh: "注意力图元素"},
	feat:    run.Text{En: "feature", Zh: "特征"},
}

// projName is a projection's name in figures.
func projName(local string) string {
	return map[string]string{projQ: "W_Q", projK: "W_K", projV: "W_V", projO: "W_O"}[local]
}

// figure draws s in format and lang.
func (s *share) figure(w io.Writer, format, lang string) error {
	ft, p, ps := figureText, s.p, s.ps
	T, d, h := len(p.Text), p.DModel, p.Heads
	k := s.pos
	ph, _ := phase(k, T)
	// Rows not projected yet are missing (grey), as on the page.
	shown := T
	if ph == "input" || ph == "project" {
		shown = k
	}
	rowsOf := func(v []float64) []float64 {
		out := slices.Clone(v)
		for i := shown * d; i < len(out); i++ {
			out[i] = math.NaN()
		}
		return out
	}
	var qkv []viz.Panel
	for i, v := range [][]float64{ps.q, ps.k, ps.v} {
		n := []string{"Q", "K", "V"}[i]
		qkv = append(qkv, viz.Panel{Title: fmt.Sprintf(ft.proj.In(lang), n, projName(projections[i])), Grid: viz.Grid{Rows: T, Cols: d, Values: rowsOf(v)},
			Diverging: true, Annotate: true, XLabel: ft.feat.In(lang), YLabel: p.Text})
	}
	var maps []viz.Panel
	for hd := range h {
		vals := slices.Clone(ps.attn[hd*T*T : (hd+1)*T*T])
		if k < T+2 {
			for i := range vals {
				vals[i] = math.NaN() // the softmax is not shown yet
			}
		}
		maps = append(maps, viz.Panel{Title: fmt.Sprintf(ft.head.In(lang), hd+1), Grid: viz.Grid{Rows: T, Cols: T, Values: vals},
			Annotate: T <= 8, Min: 0, Max: 1, XLabel: ft.tokQ.In(lang), YLabel: ft.tokK.In(lang)})
	}
	i := slices.Index(projections, p.Param)
	j := added(k, T)
	sum := s.sum(j)
	lim := 0.0
	for _, v := range append(slices.Clone(sum), ps.grad[i]...) {
		lim = math.Max(lim, math.Abs(v))
	}
	if lim == 0 {
		lim = 1
	}
	pn := projName(p.Param)
	ledger := []viz.Panel{
		{Title: fmt.Sprintf(ft.sum.In(lang), j, T, pn), Grid: viz.Grid{Rows: d, Cols: d, Values: sum}, Diverging: true, Annotate: d <= 6, Min: -lim, Max: lim},
		{Title: fmt.Sprintf(ft.engine.In(lang), pn), Grid: viz.Grid{Rows: d, Cols: d, Values: ps.grad[i]}, Diverging: true, Annotate: d <= 6, Min: -lim, Max: lim},
	}
	c := s.count()
	var ts, prm, uses, ent []float64
	for n, t := range c.Ts {
		ts = append(ts, float64(t))
		prm = append(prm, float64(c.Params))
		uses = append(uses, float64(c.UsesAt[n]))
		ent = append(ent, float64(c.EntryAt[n]))
	}
	title := fmt.Sprintf(ft.title.In(lang), p.Text, d, h, p.Seed, k, s.Total(), ps.loss)
	return viz.Write(w, format, lang, viz.Figure{Title: title, Cols: 2, Charts: []viz.Chart{
		viz.Heatmaps{Panels: qkv},
		viz.Heatmaps{Title: ft.maps.In(lang), Panels: maps},
		viz.Heatmaps{Panels: ledger},
		viz.LineChart{Title: fmt.Sprintf(ft.count.In(lang), d), XLabel: ft.T.In(lang), YLabel: ft.n.In(lang), LogY: true, Series: []viz.Series{
			{Name: ft.params.In(lang), X: ts, Y: prm},
			{Name: ft.uses.In(lang), X: ts, Y: uses},
			{Name: ft.entries.In(lang), X: ts, Y: ent},
		}},
	}})
}
