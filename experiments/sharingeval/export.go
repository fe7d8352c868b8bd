package sharingeval

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"

	"github.com/paramshare/paramshare/lab"
	"github.com/paramshare/paramshare/run"
	"github.com/paramshare/paramshare/viz"
)

// writeJSON writes the frame (the answer at full precision: lab's numbers
// as computed), with the parameters and the step.
func writeJSON(w io.Writer, exp run.Experiment, _ string) error {
	e := exp.(*eval)
	return run.WriteFrameJSON(w, name, e.v, e.pos, e.Total(), e.Frame())
}

// figureText is the figure's wording.
var figureText = struct {
	title, notYet, answered, xLabel, front, params, seeds, seed1 run.Text
	measure                                                      map[string]run.Text
	comparison                                                   map[string]run.Text
}{
	title:    run.Text{En: "%s — %s budget, %s", Zh: "%s — %s 预算，%s"},
	notYet:   run.Text{En: "\nparameters of each model (not trained yet: run the comparison)", Zh: "\n各模型的参数量（尚未训练：请先运行对比）"},
	answered: run.Text{En: "\ntest %s (mean, 95 %% interval) against parameters", Zh: "\n测试%s（均值，95 %% 区间）与参数量"},
	xLabel:   run.Text{En: "parameters, log10 scale (4 = 10,000; 5 = 100,000)", Zh: "参数量，log10 刻度（4 = 10,000；5 = 100,000）"},
	front:    run.Text{En: "Pareto front", Zh: "帕累托前沿"},
	params:   run.Text{En: "parameters", Zh: "参数量"},
	seeds:    run.Text{En: "%d seeds", Zh: "%d 个种子"},
	seed1:    run.Text{En: "1 seed (no interval)", Zh: "1 个种子（没有区间）"},
	measure: map[string]run.Text{
		"accuracy":   {En: "accuracy", Zh: "准确率"},
		"perplexity": {En: "perplexity (lower is better)", Zh: "困惑度（越低越好）"},
	},
	comparison: map[string]run.Text{
		lab.EvalCNN:    {En: "CNN vs locally connected vs MLP", Zh: "CNN、局部连接与 MLP"},
		lab.EvalGAP:    {En: "CNN with and without global average pooling", Zh: "有无全局平均池化的 CNN"},
		lab.EvalRNN:    {En: "RNN vs a cell per time step", Zh: "RNN 与每步一个单元"},
		lab.EvalTied:   {En: "Tied vs untied embeddings", Zh: "共享与不共享嵌入"},
		lab.EvalAlbert: {En: "ALBERT's sharing modes", Zh: "ALBERT 的共享方式"},
		lab.EvalTwins:  {En: "Siamese twins vs two towers", Zh: "孪生网络与两个塔"},
	},
}

// writeFigure returns the export drawing the parameters-against-test
// chart: each model at log₁₀ of its parameters, its mean test measure with
// the 95 % interval as a vertical bar, and the Pareto front as a dashed
// line. viz's line charts have no log x axis, so x is log₁₀ and says so.
func writeFigure(format string) func(io.Writer, run.Experiment, string) error {
	return func(w io.Writer, exp run.Experiment, lang string) error {
		e := exp.(*eval)
		t := figureText
		seeds := fmt.Sprintf(t.seeds.In(lang), e.cfg.Seeds)
		if e.cfg.Seeds == 1 {
			seeds = t.seed1.In(lang)
		}
		measure := "accuracy"
		if e.cfg.Comparison == lab.EvalTied {
			measure = "perplexity"
		}
		title := fmt.Sprintf(t.title.In(lang), t.comparison[e.cfg.Comparison].In(lang), e.cfg.Size, seeds)
		if e.ans == nil {
			// Step 0: the parameters are known before any training (lab
			// counts the built models); the accuracies are not.
			title += t.notYet.In(lang)
			params, err := lab.EvalParams(e.cfg.Comparison)
			if err != nil {
				return err
			}
			vals := make([]float64, len(params))
			for i, p := range params {
				vals[i] = float64(p)
			}
			return viz.Write(w, format, lang, viz.BarChart{Title: title, YLabel: t.params.In(lang), LogY: true,
				Categories: modelsOf(e.cfg.Comparison), Groups: []viz.BarGroup{{Label: t.params.In(lang), Values: vals}}})
		}
		res := e.ans.res
		title += fmt.Sprintf(t.answered.In(lang), t.measure[measure].In(lang))
		xs := dodged(res)
		var series []viz.Series
		for i, m := range res.Models {
			x := xs[m.Model]
			st := viz.Style{Color: i, Dash: 0, Marker: i}
			series = append(series, viz.Series{Name: m.Model, X: []float64{x, x, x}, Y: []float64{m.Test.Lo, m.Test.Mean, m.Test.Hi}, Style: &st})
		}
		var fx, fy []float64
		for _, m := range res.Front() {
			fx, fy = append(fx, xs[m.Model]), append(fy, m.Test.Mean)
		}
		front := viz.Style{Color: 6, Dash: 1, Marker: 6} // black, dashed
		series = append(series, viz.Series{Name: t.front.In(lang), X: fx, Y: fy, Style: &front})
		return viz.Write(w, format, lang, viz.LineChart{Title: title, XLabel: t.xLabel.In(lang), YLabel: t.measure[res.Measure].In(lang), Series: series})
	}
}

// dodged returns each model's x, log₁₀ of its parameters, with models of
// close counts (the CNN's 9,098 and the MLP's 9,550) set apart by at least
// a 25th of the axis, in the order of their counts, as the page draws
// them.
func dodged(res *lab.EvalResult) map[string]float64 {
	ms := slices.Clone(res.Models)
	slices.SortStableFunc(ms, func(a, b lab.EvalModel) int { return a.Params - b.Params })
	lo, hi := math.Log10(float64(ms[0].Params)), math.Log10(float64(ms[len(ms)-1].Params))
	gap := max(hi-lo, 0.5) / 25
	out := map[string]float64{}
	prev := math.Inf(-1)
	for _, m := range ms {
		x := max(math.Log10(float64(m.Params)), prev+gap)
		out[m.Model], prev = x, x
	}
	return out
}

// csvHeader is the CSV's first columns; the shift test's follow, one per
// shift (test_shifted_Npx). diff_vs_ref is the paired difference to the
// first model (the answer's ref): the seed's on a run row, the mean on a
// mean row, with the paired 95 % interval.
var csvHeader = []string{"kind", "model", "seed", "params", "memory_bytes", "test", "train", "gap", "seconds", "diverged", "test_sd", "test_lo95", "test_hi95", "pareto",
	"diff_vs_ref", "diff_lo95", "diff_hi95"}

// writeCSV writes the answer as a table: a row per model per seed
// (kind=run), then a row per model (kind=mean, with the standard
// deviation, the 95 % interval and the Pareto flag). A value the
// comparison does not measure is empty. At step 0 there is no answer: the
// header and a row per model with its parameters only.
func writeCSV(w io.Writer, exp run.Experiment, _ string) error {
	e := exp.(*eval)
	cw := csv.NewWriter(w)
	num := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	opt := func(has bool, v float64) string {
		if !has {
			return ""
		}
		return num(v)
	}
	if e.ans == nil {
		cw.Write(csvHeader)
		params, err := lab.EvalParams(e.cfg.Comparison)
		if err != nil {
			return err
		}
		for i, m := range modelsOf(e.cfg.Comparison) {
			row := make([]string, len(csvHeader))
			row[0], row[1], row[3], row[4] = "params", m, strconv.Itoa(params[i]), strconv.FormatInt(int64(params[i])*lab.BytesPerParam, 10)
			cw.Write(row)
		}
		cw.Flush()
		return cw.Error()
	}
	res := e.ans.res
	header := slices.Clone(csvHeader)
	for _, s := range res.Shifts {
		header = append(header, fmt.Sprintf("test_shifted_%dpx", s))
	}
	cw.Write(header)
	ref := res.Models[0]
	for _, m := range res.Models {
		for k, r := range m.Runs {
			row := []string{"run", m.Model, strconv.FormatUint(r.Seed, 10), strconv.Itoa(m.Params), strconv.FormatInt(m.Memory, 10),
				num(r.Test), opt(res.HasTrain, r.Train), opt(res.HasTrain, r.Gap), opt(res.HasTime, r.Seconds), strconv.FormatBool(r.Diverged), "", "", "", "",
				num(r.Test - ref.Runs[k].Test), "", ""}
			for k := range res.Shifts {
				row = append(row, num(r.Shifted[k]))
			}
			cw.Write(row)
		}
	}
	for _, m := range res.Models {
		row := []string{"mean", m.Model, "", strconv.Itoa(m.Params), strconv.FormatInt(m.Memory, 10),
			num(m.Test.Mean), opt(res.HasTrain, m.Train.Mean), opt(res.HasTrain, m.Gap.Mean), opt(res.HasTime, m.Seconds.Mean), "",
			num(m.Test.SD), opt(m.Test.HasCI, m.Test.Lo), opt(m.Test.HasCI, m.Test.Hi), strconv.FormatBool(m.Pareto),
			num(m.Diff.Mean), opt(m.Diff.HasCI, m.Diff.Lo), opt(m.Diff.HasCI, m.Diff.Hi)}
		for k := range res.Shifts {
			row = append(row, num(m.Shifted[k].Mean))
		}
		cw.Write(row)
	}
	cw.Flush()
	return cw.Error()
}
