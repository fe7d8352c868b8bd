package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/viz"
)

// AlbertModesConfig is the budget of the albert-modes experiment: the four
// sharing modes trained from seeds 1…Seeds with the same sizes, batches
// and optimizer; with one seed the four see the same sequences.
type AlbertModesConfig struct {
	Seeds  int     `json:"seeds"`
	Steps  int     `json:"steps"`
	Task   string  `json:"task"`
	Blocks int     `json:"blocks"`
	D      int     `json:"d"`
	T      int     `json:"T"`
	Batch  int     `json:"batch"`
	LR     float64 `json:"lr"`
	// Parallel trains the seeds at once, one goroutine each: quicker on
	// several cores, but the step times then share the machine and are
	// not comparable with a run in turn.
	Parallel bool `json:"parallel,omitempty"`
}

// MaxAlbertSteps bounds an AlbertModesConfig's steps per run.
const MaxAlbertSteps = 20000

// DefaultAlbertModesConfig is what `lab albert-modes` runs: the lesson's
// defaults (DefaultAlbertConfig), 400 steps, 3 seeds.
func DefaultAlbertModesConfig() AlbertModesConfig {
	d := DefaultAlbertConfig("all")
	return AlbertModesConfig{Seeds: 3, Steps: 400, Task: d.Task, Blocks: d.Blocks, D: d.D, T: d.T, Batch: d.Batch, LR: d.LR}
}

// config is the AlbertConfig of one run under c.
func (c AlbertModesConfig) config(share string, seed uint64) AlbertConfig {
	d := DefaultAlbertConfig(share)
	d.Task, d.Blocks, d.D, d.T, d.Batch, d.LR, d.Seed = c.Task, c.Blocks, c.D, c.T, c.Batch, c.LR, seed
	return d
}

// Validate returns an error naming the first field outside its range, or
// nil.
func (c AlbertModesConfig) Validate() error {
	switch {
	case c.Seeds < 1 || c.Seeds > MaxSeeds:
		return fmt.Errorf("lab: seeds %d: want 1…%d", c.Seeds, MaxSeeds)
	case c.Steps < 1 || c.Steps > MaxAlbertSteps:
		return fmt.Errorf("lab: steps %d: want 1…%d", c.Steps, MaxAlbertSteps)
	}
	return c.config("all", 1).Validate()
}

// AlbertRun is one mode trained from one seed.
type AlbertRun struct {
	Seed     uint64      `json:"seed"`
	Loss     float64     `json:"loss"` // on the fixed evaluation sequences after the last step
	Acc      float64     `json:"acc"`
	Diverged bool        `json:"diverged"`
	StepMS   float64     `json:"stepMs"` // mean wall time of a training step
	Probe    AlbertProbe `json:"probe"`  // after the last step
	// AngleZigzag and L2Zigzag are how much the per-block curves go back
	// and forth: total variation minus net change (0 for a curve that only
	// rises or only falls).
	AngleZigzag float64 `json:"angleZigzag"`
	L2Zigzag    float64 `json:"l2Zigzag"`
	// FirstShare is block 1's part of the feed-forward gradient over the
	// sum of the blocks' parts (norms).
	FirstShare float64 `json:"firstShare"`
}

// AlbertModeResult is one mode over seeds.
type AlbertModeResult struct {
	Share       string      `json:"share"`
	Params      int         `json:"params"`     // engine.Model.Count().Params
	HandParams  int         `json:"handParams"` // AlbertParams
	Uses        int         `json:"uses"`       // multiply-adds per sequence (engine Count.Uses)
	Runs        []AlbertRun `json:"runs"`
	Loss        Stat        `json:"loss"`
	Acc         Stat        `json:"acc"`
	StepMS      Stat        `json:"stepMs"`
	L2          []Stat      `json:"l2"`    // per block
	Angle       []Stat      `json:"angle"` // per block
	AngleZigzag Stat        `json:"angleZigzag"`
	L2Zigzag    Stat        `json:"l2Zigzag"`
	FirstShare  Stat        `json:"firstShare"`
	SumErr      float64     `json:"sumErr"` // largest over seeds
}

// AlbertModesResult is the albert-modes table.
type AlbertModesResult struct {
	Config  AlbertModesConfig  `json:"config"`
	Modes   []AlbertModeResult `json:"modes"` // AlbertShares order
	Seconds float64            `json:"seconds"`
}

// Mode returns share's result, or nil.
func (r *AlbertModesResult) Mode(share string) *AlbertModeResult {
	for i := range r.Modes {
		if r.Modes[i].Share == share {
			return &r.Modes[i]
		}
	}
	return nil
}

// Zigzag returns the total variation of v minus its net change: how far a
// curve goes back on itself (0 when it only rises or only falls).
func Zigzag(v []float64) float64 {
	var tv float64
	for i := 1; i < len(v); i++ {
		tv += math.Abs(v[i] - v[i-1])
	}
	if len(v) < 2 {
		return 0
	}
	return max(0, tv-math.Abs(v[len(v)-1]-v[0])) // rounding may leave −1e-15
}

// AlbertModes trains the four modes of cfg from seeds 1…cfg.Seeds, the
// four of one seed in turn step by step (so that a change of machine load
// falls on all four alike when their step times are compared), then
// evaluates and probes each; the seeds one after another, or at once when
// cfg.Parallel. progress (may be nil) is called after every step of the
// four. It returns cfg.Validate's error, or ctx's error when ctx
// is cancelled between steps.
func AlbertModes(ctx context.Context, cfg AlbertModesConfig, progress func(Progress)) (*AlbertModesResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if progress == nil {
		progress = func(Progress) {}
	}
	start := time.Now()
	shares := AlbertShares()
	res := &AlbertModesResult{Config: cfg}
	perSeed := make([][]AlbertRun, cfg.Seeds) // [seed−1][mode]
	var mu sync.Mutex                         // progress is called from one goroutine at a time
	report := func(p Progress) {
		mu.Lock()
		defer mu.Unlock()
		p.Elapsed = time.Since(start)
		progress(p)
	}
	errs := make([]error, cfg.Seeds)
	var wg sync.WaitGroup
	for seed := uint64(1); seed <= uint64(cfg.Seeds); seed++ {
		if !cfg.Parallel {
			if perSeed[seed-1], errs[seed-1] = albertSeed(ctx, cfg, seed, report); errs[seed-1] != nil {
				break
			}
			continue
		}
		wg.Go(func() { perSeed[seed-1], errs[seed-1] = albertSeed(ctx, cfg, seed, report) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	// The counts do not depend on the seed: seed 1's models.
	for _, s := range shares {
		c := cfg.config(s, 1)
		m, err := engine.NewTransformer("albert-"+s, c.Model(), 1)
		if err != nil {
			return nil, err
		}
		n := m.Count()
		res.Modes = append(res.Modes, AlbertModeResult{Share: s, Params: n.Params, HandParams: AlbertParams(c), Uses: n.Uses})
	}
	runs := make([][]AlbertRun, len(shares))
	for _, rs := range perSeed {
		for i, r := range rs {
			runs[i] = append(runs[i], r)
		}
	}
	for i := range res.Modes {
		m := &res.Modes[i]
		m.Runs = runs[i]
		stat := func(f func(AlbertRun) float64) Stat {
			xs := make([]float64, len(m.Runs))
			for k, r := range m.Runs {
				xs[k] = f(r)
			}
			return newStat(xs)
		}
		m.Loss = stat(func(r AlbertRun) float64 { return r.Loss })
		m.Acc = stat(func(r AlbertRun) float64 { return r.Acc })
		m.StepMS = stat(func(r AlbertRun) float64 { return r.StepMS })
		m.AngleZigzag = stat(func(r AlbertRun) float64 { return r.AngleZigzag })
		m.L2Zigzag = stat(func(r AlbertRun) float64 { return r.L2Zigzag })
		m.FirstShare = stat(func(r AlbertRun) float64 { return r.FirstShare })
		for l := range cfg.Blocks {
			m.L2 = append(m.L2, stat(func(r AlbertRun) float64 { return at(r.Probe.L2, l) }))
			m.Angle = append(m.Angle, stat(func(r AlbertRun) float64 { return at(r.Probe.Angle, l) }))
		}
		for _, r := range m.Runs {
			m.SumErr = max(m.SumErr, r.Probe.SumErr)
		}
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// albertSeed trains the four modes from seed, stepped in turn (so that a
// change of machine load falls on the four alike), then evaluates and
// probes each.
func albertSeed(ctx context.Context, cfg AlbertModesConfig, seed uint64, progress func(Progress)) ([]AlbertRun, error) {
	shares := AlbertShares()
	trs := make([]*AlbertTrainer, len(shares))
	for i, s := range shares {
		tr, err := NewAlbertTrainer(cfg.config(s, seed))
		if err != nil {
			return nil, err
		}
		trs[i] = tr
	}
	spent := make([]time.Duration, len(shares))
	diverged := make([]bool, len(shares))
	p := Progress{Model: "4 modes", Seed: seed, Run: int(seed), Runs: cfg.Seeds, Steps: cfg.Steps, Phase: "train"}
	for step := 1; step <= cfg.Steps; step++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for i, tr := range trs {
			if diverged[i] {
				continue
			}
			t0 := time.Now()
			_, err := tr.Step()
			spent[i] += time.Since(t0)
			if errors.Is(err, engine.ErrDiverged) {
				diverged[i] = true
			} else if err != nil {
				return nil, err
			}
		}
		p.Step = step
		progress(p)
	}
	var out []AlbertRun
	for i, tr := range trs {
		r := AlbertRun{Seed: seed, Diverged: diverged[i], StepMS: float64(spent[i].Microseconds()) / 1000 / float64(max(1, tr.Steps()))}
		r.Loss, r.Acc = tr.Evaluate()
		pr, err := tr.Measure()
		if err != nil && !errors.Is(err, engine.ErrDiverged) {
			return nil, err
		}
		r.Probe = pr
		r.AngleZigzag, r.L2Zigzag = Zigzag(pr.Angle), Zigzag(pr.L2)
		if len(pr.Parts) == 2 {
			var s float64
			for _, x := range pr.Parts[1] {
				s += x
			}
			if s > 0 {
				r.FirstShare = pr.Parts[1][0] / s
			}
		}
		out = append(out, r)
	}
	return out, nil
}

func at(v []float64, i int) float64 {
	if i < len(v) {
		return v[i]
	}
	return math.NaN()
}

// AlbertCharts returns the albert-modes figures: the angle and the L2
// distance between each block's input and output (one curve per mode,
// mean over seeds; ALBERT's Figure 1), and the parameters per mode.
func AlbertCharts(res *AlbertModesResult) []Chart {
	seeds := fmt.Sprintf("mean of %d seeds", res.Config.Seeds)
	if res.Config.Seeds == 1 {
		seeds = "1 seed"
	}
	perBlock := func(name, title, ylabel string, f func(m AlbertModeResult) []Stat) Chart {
		return Chart{Name: name, Write: func(w io.Writer, format string) error {
			var series []viz.Series
			for _, m := range res.Modes {
				s := viz.Series{Name: m.Share}
				for l, st := range f(m) {
					s.X, s.Y = append(s.X, float64(l+1)), append(s.Y, st.Mean)
				}
				series = append(series, s)
			}
			return viz.WriteLines(w, format, fmt.Sprintf("%s after %d steps (%s)", title, res.Config.Steps, seeds), "block", ylabel, false, series...)
		}}
	}
	var names []string
	for _, m := range res.Modes {
		names = append(names, m.Share)
	}
	return []Chart{
		perBlock("angle-by-block", "Angle between a block's input and output", "degrees", func(m AlbertModeResult) []Stat { return m.Angle }),
		perBlock("l2-by-block", "L2 distance between a block's input and output", "L2 distance", func(m AlbertModeResult) []Stat { return m.L2 }),
		{Name: "params", Write: func(w io.Writer, format string) error {
			g := viz.BarGroup{Label: "unique parameters"}
			for _, m := range res.Modes {
				g.Values = append(g.Values, float64(m.Params))
			}
			return viz.WriteBars(w, format, fmt.Sprintf("Parameters per mode (%d blocks, d = %d)", res.Config.Blocks, res.Config.D), "parameters", names, false, g)
		}},
	}
}
