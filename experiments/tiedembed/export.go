package tiedembed

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/engine/data"
	"github.com/paramshare/paramshare/lab"
	"github.com/paramshare/paramshare/run"
	"github.com/paramshare/paramshare/viz"
)

// The exports replay the race to their step (training is deterministic):
// they re-train two models, hence Heavy.

func asRace(exp run.Experiment) (*race, error) {
	r, ok := exp.(*race)
	if !ok {
		return nil, fmt.Errorf("tiedembed: export of a %T", exp)
	}
	return r, nil
}

// number is a float64 that JSON writes as null when it is not finite.
type number float64

func (x number) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, float64(x), 'g', -1, 64), nil
}

func numbers(v []float64) []number {
	out := make([]number, len(v))
	for i, x := range v {
		out[i] = number(x)
	}
	return out
}

// preciseFrame is dataFrame at full precision, for the JSON export.
type preciseFrame struct {
	Step     int          `json:"step"`
	Total    int          `json:"total"`
	Loss     [][]number   `json:"loss"` // [model][step−1]
	Evals    []evaluation `json:"evals"`
	Ledger   ledgerFrame  `json:"ledger"`
	Diverged *run.Text    `json:"diverged,omitempty"`
	// Ranks is the word ids by decreasing training frequency (rank i is
	// word Ranks[i]): which rows the ledger's bands and words are.
	Ranks []int `json:"ranks"`
}

func writeJSON(w io.Writer, exp run.Experiment, _ string) error {
	r, err := asRace(exp)
	if err != nil {
		return err
	}
	d := preciseFrame{Step: r.pos, Total: r.Total(), Evals: r.evals, Ledger: r.ledger(0), Ranks: info().ranks}
	for i := range 2 {
		d.Loss = append(d.Loss, numbers(r.loss[i]))
	}
	if r.diverged != nil {
		d.Diverged = &r.diverged.Text
	}
	return run.WriteFrameJSON(w, Name, r.v, d.Step, d.Total, run.Frame{StaticRev: r.rev, Static: r.staticFrame(), Data: d})
}

// The streams lab.TiedRace draws its batches from (lab/tied.go): the trace
// regenerates the batch of the step on screen. TestTraceIsTheLedgersPass
// fails if they drift apart.
const (
	tiedStream = 0x6c61622d74696564 // "lab-tied": the training batches
	tiedProbe  = 0x6c61622d74696570 // "lab-tiep": the probe batch of step 0
)

// batch returns the batch of the ledger on screen: step pos's batch of the
// training stream, or the probe batch at step 0.
func (r *race) batch() (x, y *engine.Tensor) {
	cfg := Config(r.v)
	c := r.r.Corpus()
	if r.pos == 0 {
		return data.WordBatch(rand.New(rand.NewPCG(cfg.Seed, tiedProbe)), c.Train, cfg.Batch, lab.TiedT)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, tiedStream))
	for range r.pos - 1 {
		data.WordBatch(rng, c.Train, cfg.Batch, lab.TiedT)
	}
	return data.WordBatch(rng, c.Train, cfg.Batch, lab.TiedT)
}

// writeTrace writes the engine's step trace of the pass the ledger on
// screen shows: the tied model with the weights before the step's update
// (the initial ones at step 0), on the step's batch (the probe batch at
// step 0). The trace records the tie between embed.weight and out.weight.
func writeTrace(w io.Writer, exp run.Experiment, _ string) error {
	r, err := asRace(exp)
	if err != nil {
		return err
	}
	m, err := r.ledgerModel()
	if err != nil {
		return err
	}
	x, y := r.batch()
	return engine.WriteTrace(w, m, uint64(r.v.Int("seed")), x, y)
}

// ledgerModel is a copy of the tied model with the weights the ledger's
// gradient was computed with.
func (r *race) ledgerModel() (*engine.Model, error) {
	cfg := Config(r.v)
	m, err := lab.NewWordLM(true, len(r.r.Corpus().Words), cfg.D, cfg.Seed)
	if err != nil {
		return nil, fmt.Errorf("tiedembed: %w", err)
	}
	if r.pos > 0 {
		ps := m.Model.Params()
		if len(ps) != len(r.before) {
			return nil, fmt.Errorf("tiedembed: %d parameters kept for the trace, the model has %d", len(r.before), len(ps))
		}
		for i, p := range ps {
			copy(p.Value.Data, r.before[i])
		}
	}
	return m.Model, nil
}

var figureText = struct {
	config, ppl, step, pplAxis, train, valid, loss, lossAxis, ledger, band, norm, in, out, params, paramsAxis, embed, output run.Text
}{
	config:     run.Text{En: "Tied embeddings — d %d, batch %d, Adam lr %g, seed %d — step %d of %d", Zh: "绑定的词嵌入 — d %d，批大小 %d，Adam 学习率 %g，种子 %d — 第 %d 步（共 %d 步）"},
	ppl:        run.Text{En: "Perplexity (%d windows of each split)", Zh: "困惑度（每个划分 %d 个窗口）"},
	step:       run.Text{En: "step", Zh: "步"},
	pplAxis:    run.Text{En: "perplexity", Zh: "困惑度"},
	train:      run.Text{En: "%s training", Zh: "%s（训练集）"},
	valid:      run.Text{En: "%s validation", Zh: "%s（验证集）"},
	loss:       run.Text{En: "Training loss (each step's batch)", Zh: "训练损失（每一步的批次）"},
	lossAxis:   run.Text{En: "loss", Zh: "损失"},
	ledger:     run.Text{En: "Tied matrix: mean row norm of each side's contribution (step %d)", Zh: "绑定矩阵：两侧贡献的平均行范数（第 %d 步）"},
	band:       run.Text{En: "frequency rank", Zh: "词频排名"},
	norm:       run.Text{En: "‖row of the contribution‖", Zh: "‖贡献的行‖"},
	in:         run.Text{En: "input side (embedding)", Zh: "输入侧（嵌入）"},
	out:        run.Text{En: "output side (output layer)", Zh: "输出侧（输出层）"},
	params:     run.Text{En: "Parameters (engine count; tying saves %d)", Zh: "参数量（引擎计数；绑定省下 %d）"},
	paramsAxis: run.Text{En: "parameters", Zh: "参数量"},
	embed:      run.Text{En: "embedding", Zh: "嵌入"},
	output:     run.Text{En: "output layer", Zh: "输出层"},
}

// modelNames are the two models' names in the page's language
// (lab.TiedModels order).
var modelNames = [2]run.Text{{En: "tied", Zh: "绑定"}, {En: "untied", Zh: "不绑定"}}

func writeFigure(format string) func(io.Writer, run.Experiment, string) error {
	return func(w io.Writer, exp run.Experiment, lang string) error {
		r, err := asRace(exp)
		if err != nil {
			return err
		}
		return r.figure(w, format, lang)
	}
}

// figure draws four charts: the perplexities, the batch loss, the ledger's
// band norms and the parameter counts.
func (r *race) figure(w io.Writer, format, lang string) error {
	return viz.Write(w, format, lang, r.figureSpec(lang))
}

// figureSpec is the figure in lang.
func (r *race) figureSpec(lang string) viz.Figure {
	t := figureText
	in := func(tx run.Text, a ...any) string { return fmt.Sprintf(tx.In(lang), a...) }
	v := r.v
	title := in(t.config, v.Int("d"), v.Int("batch"), v.Float("lr"), v.Int("seed"), r.pos, r.Total())
	var ppl, loss []viz.Series
	var names []string
	for i := range lab.TiedModels() {
		m := modelNames[i].In(lang)
		names = append(names, m)
		tr := viz.Series{Name: in(t.train, m), Style: &viz.Style{Color: i, Dash: 1, Marker: i}}
		va := viz.Series{Name: in(t.valid, m), Style: &viz.Style{Color: i, Dash: 0, Marker: i}}
		for _, e := range r.evals {
			tr.X, tr.Y = append(tr.X, float64(e.Step)), append(tr.Y, e.Train[i])
			va.X, va.Y = append(va.X, float64(e.Step)), append(va.Y, e.Valid[i])
		}
		ppl = append(ppl, tr, va)
		xs := make([]float64, len(r.loss[i]))
		for k := range xs {
			xs[k] = float64(k + 1)
		}
		loss = append(loss, viz.Series{Name: m, X: xs, Y: r.loss[i]})
	}
	l := r.ledger(0)
	var cats []string
	for _, b := range bands(len(r.r.Corpus().Words)) {
		cats = append(cats, fmt.Sprintf("%d–%d", b[0]+1, b[1]))
	}
	st := r.staticFrame()
	var embedP, outP []float64
	for _, m := range st.Models {
		embedP, outP = append(embedP, float64(m.Embed)), append(outP, float64(m.Output))
	}
	charts := []viz.Chart{
		viz.LineChart{Title: in(t.ppl, EvalWindows), XLabel: in(t.step), YLabel: in(t.pplAxis), LogY: true, Series: ppl},
		nil,
		viz.BarChart{Title: in(t.ledger, l.Step), YLabel: in(t.norm), Categories: cats, Groups: []viz.BarGroup{
			{Label: in(t.in), Values: l.BandIn}, {Label: in(t.out), Values: l.BandOut},
		}},
		viz.BarChart{Title: in(t.params, st.Saved), YLabel: in(t.paramsAxis), Categories: names, Groups: []viz.BarGroup{
			{Label: in(t.embed), Values: embedP}, {Label: in(t.output), Values: outP},
		}},
	}
	if r.pos > 0 {
		charts[1] = viz.LineChart{Title: in(t.loss), XLabel: in(t.step), YLabel: in(t.lossAxis), Series: loss}
	}
	return viz.Figure{Title: title, Cols: 2, Charts: charts}
}
