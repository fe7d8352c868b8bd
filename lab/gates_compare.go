package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/viz"
)

// GatesConfig is the budget of the rnn-vs-gates experiment: every cell is
// trained on every task at every distance from seeds 1…Seeds, with the
// same hidden size, batch, optimizer and steps; with the same seed the
// cells see the same sequences.
type GatesConfig struct {
	Cells     []string `json:"cells"`     // of SeqCells(); all three by default
	Tasks     []string `json:"tasks"`     // of SeqTasks()
	Distances []int    `json:"distances"` // T values, each MinSeqT…MaxSeqT
	Seeds     int      `json:"seeds"`     // seeds 1…Seeds, 1…MaxSeeds
	Steps     int      `json:"steps"`     // training steps per run, 1…MaxGateSteps
	Hidden    int      `json:"hidden"`
	Batch     int      `json:"batch"`
	Optimizer string   `json:"optimizer"`
	LR        float64  `json:"lr"`
	Clip      float64  `json:"clip"`
	// Eval is how many fixed sequences each run is scored on (SeqEvalSize
	// when 0).
	Eval int `json:"eval"`
}

// MaxGateSteps bounds a GatesConfig's steps per run.
const MaxGateSteps = 20000

// DefaultGatesConfig is what `lab rnn-vs-gates` runs by default: the three
// cells on both tasks at distances 5, 10, 20 and 32, three seeds, 600
// steps of 16 sequences each, the rest as DefaultSeqTrainConfig (32 hidden
// units, Adam 5e-3, gradient norm clipped at 1), scored on 500 fixed
// sequences.
func DefaultGatesConfig() GatesConfig {
	d := DefaultSeqTrainConfig("rnn", TaskRemember)
	return GatesConfig{
		Cells: SeqCells(), Tasks: SeqTasks(), Distances: []int{5, 10, 20, 32}, Seeds: 3, Steps: 600,
		Hidden: d.Hidden, Batch: d.Batch, Optimizer: d.Optimizer, LR: d.LR, Clip: d.Clip,
	}
}

// seqConfig is the SeqTrainConfig of one run under c.
func (c GatesConfig) seqConfig(cell, task string, dist int, seed uint64) SeqTrainConfig {
	return SeqTrainConfig{Cell: cell, Task: task, T: dist, Hidden: c.Hidden, Batch: c.Batch, Optimizer: c.Optimizer, LR: c.LR, Clip: c.Clip, Seed: seed}
}

// Validate returns an error naming the first field outside its range, or
// nil.
func (c GatesConfig) Validate() error {
	switch {
	case len(c.Cells) == 0:
		return errors.New("lab: cells: want at least one of rnn, lstm, gru")
	case len(c.Tasks) == 0:
		return fmt.Errorf("lab: tasks: want at least one of %s", strings.Join(SeqTasks(), ", "))
	case len(c.Distances) == 0:
		return errors.New("lab: distances: want at least one")
	case c.Seeds < 1 || c.Seeds > MaxSeeds:
		return fmt.Errorf("lab: seeds %d: want 1…%d", c.Seeds, MaxSeeds)
	case c.Steps < 1 || c.Steps > MaxGateSteps:
		return fmt.Errorf("lab: steps %d: want 1…%d", c.Steps, MaxGateSteps)
	case c.Eval < 0:
		return fmt.Errorf("lab: eval %d: want ≥ 0 (0: %d sequences)", c.Eval, SeqEvalSize)
	}
	for _, list := range [][]string{c.Cells, c.Tasks} {
		for i, s := range list {
			if slices.Contains(list[:i], s) {
				return fmt.Errorf("lab: %q listed twice", s)
			}
		}
	}
	for i, d := range c.Distances {
		if slices.Contains(c.Distances[:i], d) {
			return fmt.Errorf("lab: distance %d listed twice", d)
		}
	}
	for _, cell := range c.Cells {
		for _, task := range c.Tasks {
			for _, d := range c.Distances {
				if err := c.seqConfig(cell, task, d, 1).Validate(); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// GateRun is one cell trained on one task at one distance from one seed.
type GateRun struct {
	Seed     uint64  `json:"seed"`
	Loss     float64 `json:"loss"`  // on the evaluation sequences after the last step
	Score    float64 `json:"score"` // accuracy, or fraction solved, on them
	Diverged bool    `json:"diverged"`
	// FarRatio is the W_hh profile's farthest value over its nearest
	// (Profile()[last] / Profile()[0]) after training: how much of the
	// gradient still comes from the start of the sequence.
	FarRatio float64 `json:"farRatio"`
	Seconds  float64 `json:"seconds"`
}

// GateCellResult is one task at one distance for one cell, over seeds.
type GateCellResult struct {
	Cell       string    `json:"cell"`
	Params     int       `json:"params"`     // engine.Model.Count().Params
	CellParams int       `json:"cellParams"` // the recurrent layer's: 4× (lstm) and 3× (gru) the rnn's
	Runs       []GateRun `json:"runs"`       // in seed order
	Loss       Stat      `json:"loss"`
	Score      Stat      `json:"score"`
	FarRatio   Stat      `json:"farRatio"`
}

// GateRow is one task at one distance: every cell.
type GateRow struct {
	Task     string           `json:"task"`
	Distance int              `json:"distance"`
	Cells    []GateCellResult `json:"cells"` // GatesConfig.Cells order
}

// GatesResult is the rnn-vs-gates table: one row per task and distance.
type GatesResult struct {
	Config  GatesConfig `json:"config"`
	Rows    []GateRow   `json:"rows"`
	Seconds float64     `json:"seconds"`
}

// Row returns the result of task at distance d, or nil.
func (r *GatesResult) Row(task string, d int) *GateRow {
	for i := range r.Rows {
		if r.Rows[i].Task == task && r.Rows[i].Distance == d {
			return &r.Rows[i]
		}
	}
	return nil
}

// Cell returns cell's result in the row, or nil.
func (row *GateRow) Cell(cell string) *GateCellResult {
	for i := range row.Cells {
		if row.Cells[i].Cell == cell {
			return &row.Cells[i]
		}
	}
	return nil
}

// RNNvsGates trains every cell of cfg on every task and distance from
// seeds 1…cfg.Seeds and scores each run on the fixed evaluation sequences,
// with the mean and standard deviation over seeds. progress (may be nil)
// is called after every step from the calling goroutine; its Model names
// "cell task T=d". It returns cfg.Validate's error, or ctx's error (no
// result) when ctx is cancelled between steps. A run that diverges is
// scored with the weights it had.
func RNNvsGates(ctx context.Context, cfg GatesConfig, progress func(Progress)) (*GatesResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if progress == nil {
		progress = func(Progress) {}
	}
	start := time.Now()
	res := &GatesResult{Config: cfg}
	runs := len(cfg.Cells) * len(cfg.Tasks) * len(cfg.Distances) * cfg.Seeds
	run := 0
	for _, task := range cfg.Tasks {
		for _, d := range cfg.Distances {
			row := GateRow{Task: task, Distance: d}
			for _, cell := range cfg.Cells {
				cr := GateCellResult{Cell: cell}
				for seed := uint64(1); seed <= uint64(cfg.Seeds); seed++ {
					run++
					p := Progress{Model: fmt.Sprintf("%s %s T=%d", cell, task, d), Seed: seed, Run: run, Runs: runs, Steps: cfg.Steps}
					gr, count, err := gateRun(ctx, cfg, cfg.seqConfig(cell, task, d, seed), func(step int, phase string) {
						p.Step, p.Phase, p.Elapsed = step, phase, time.Since(start)
						progress(p)
					})
					if err != nil {
						return nil, err
					}
					cr.Params, cr.CellParams = count.Params, CellParams(count)
					cr.Runs = append(cr.Runs, gr)
				}
				cr.Loss = statOf(cr.Runs, func(r GateRun) float64 { return r.Loss })
				cr.Score = statOf(cr.Runs, func(r GateRun) float64 { return r.Score })
				cr.FarRatio = statOf(cr.Runs, func(r GateRun) float64 { return r.FarRatio })
				row.Cells = append(row.Cells, cr)
			}
			res.Rows = append(res.Rows, row)
		}
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// CellParams returns the parameters of the recurrent layer ("cell") in a
// count of a model built by NewSeqTaskModel: H·(I+H) + 2H for an rnn, four
// times that for an lstm (gates i, f, g, o), three times for a gru (r, z,
// n).
func CellParams(c engine.Count) int {
	for _, row := range c.Layers {
		if row.Name == "cell" {
			return row.Params
		}
	}
	return 0
}

func statOf(runs []GateRun, f func(GateRun) float64) Stat {
	xs := make([]float64, len(runs))
	for i, r := range runs {
		xs[i] = f(r)
	}
	return newStat(xs)
}

// gateRun trains one model for cfg.Steps steps and scores it.
func gateRun(ctx context.Context, cfg GatesConfig, sc SeqTrainConfig, report func(step int, phase string)) (GateRun, engine.Count, error) {
	start := time.Now()
	t, err := NewSeqTrainer(sc)
	if err != nil {
		return GateRun{}, engine.Count{}, err
	}
	gr := GateRun{Seed: sc.Seed}
	for i := range cfg.Steps {
		if err := ctx.Err(); err != nil {
			return GateRun{}, engine.Count{}, err
		}
		if _, err := t.Step(); errors.Is(err, engine.ErrDiverged) {
			gr.Diverged = true
			break
		} else if err != nil {
			return GateRun{}, engine.Count{}, err
		}
		report(i+1, "train")
	}
	report(t.Steps(), "measure")
	gr.Loss, gr.Score = t.Evaluate(cfg.Eval)
	if prof, err := t.Profile(); err == nil && prof[0] > 0 {
		gr.FarRatio = prof[len(prof)-1] / prof[0]
	}
	gr.Seconds = time.Since(start).Seconds()
	return gr, t.Count(), nil
}

// taskTitle names a task's score in the charts.
var taskTitle = map[string]struct{ name, score string }{
	TaskRemember: {"Remember the first symbol", "accuracy (%)"},
	TaskAdding:   {"Adding problem", "solved, |error| < 0.04 (%)"},
}

// GatesCharts returns the rnn-vs-gates figures: per task, the score against
// the distance (one curve per cell, mean over seeds), and the parameters
// per cell.
func GatesCharts(res *GatesResult) []Chart {
	seeds := fmt.Sprintf("mean of %d seeds", res.Config.Seeds)
	if res.Config.Seeds == 1 {
		seeds = "1 seed"
	}
	var charts []Chart
	for _, task := range res.Config.Tasks {
		charts = append(charts, Chart{Name: task + "-by-distance", Write: func(w io.Writer, format string) error {
			var series []viz.Series
			for _, cell := range res.Config.Cells {
				s := viz.Series{Name: cell}
				for _, d := range res.Config.Distances {
					s.X = append(s.X, float64(d))
					s.Y = append(s.Y, 100*res.Row(task, d).Cell(cell).Score.Mean)
				}
				series = append(series, s)
			}
			title := fmt.Sprintf("%s after %d steps (%s)", taskTitle[task].name, res.Config.Steps, seeds)
			return viz.WriteLines(w, format, title, "distance T", taskTitle[task].score, false, series...)
		}})
	}
	charts = append(charts, Chart{Name: "params", Write: func(w io.Writer, format string) error {
		row := res.Rows[0]
		g := viz.BarGroup{Label: "unique parameters, " + row.Task}
		for _, cr := range row.Cells {
			g.Values = append(g.Values, float64(cr.Params))
		}
		return viz.WriteBars(w, format, fmt.Sprintf("Parameters per model (hidden %d)", res.Config.Hidden), "parameters", res.Config.Cells, false, g)
	}})
	return charts
}
