package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/paramshare/paramshare/lab"
)

func init() {
	experiments = append(experiments, experiment{
		"rnn-vs-unshared",
		"one rnn cell at every time step vs a cell of its own per step, on a fixed length: params, train/test accuracy, gap, time per training-set size (mean ± sd over seeds)",
		setupRNNUnshared,
	})
}

// setupRNNUnshared adds the rnn-vs-unshared experiment's flags. Several
// training-set sizes run one comparison each.
func setupRNNUnshared(fs *flag.FlagSet) func(context.Context, output) error {
	def := lab.DefaultUnsharedConfig()
	seeds := fs.Int("seeds", def.Seeds, "seeds per model (1…N)")
	steps := fs.Int("steps", def.Steps, "training steps per run")
	sizes := fs.String("train-sizes", fmt.Sprint(def.TrainSize), "training-set sizes (sequences), comma-separated: one comparison each")
	task := fs.String("task", def.Task, "task: remember-first or adding")
	distance := fs.Int("T", def.T, "the fixed distance (remember-first: noise tokens after the symbol; adding: sequence length)")
	models := fs.String("models", strings.Join(def.Models, ","), "models: rnn, unshared")
	hidden := fs.Int("hidden", def.Hidden, "hidden units")
	batch := fs.Int("batch", def.Batch, "sequences per step")
	optimizer := fs.String("optimizer", def.Optimizer, "sgd, momentum or adam")
	lr := fs.Float64("lr", def.LR, "learning rate")
	clip := fs.Float64("clip", def.Clip, "largest gradient norm (0: no clipping)")
	eval := fs.Int("eval", def.Eval, fmt.Sprintf("sequences each accuracy is measured on (0: every training sequence, %d test ones)", lab.SeqEvalSize))
	return func(ctx context.Context, o output) error {
		cfg := def
		cfg.Seeds, cfg.Steps, cfg.Task, cfg.T, cfg.Hidden, cfg.Batch = *seeds, *steps, *task, *distance, *hidden, *batch
		cfg.Optimizer, cfg.LR, cfg.Clip, cfg.Eval = *optimizer, *lr, *clip, *eval
		cfg.Models = strings.Split(*models, ",")
		ns, err := intList(*sizes)
		if err != nil {
			return usageError{fmt.Errorf("lab rnn-vs-unshared: -train-sizes: %w", err)}
		}
		for _, n := range ns {
			c := cfg
			c.TrainSize = n
			if err := c.Validate(); err != nil {
				return usageError{err}
			}
		}
		var results []*lab.UnsharedResult
		for _, n := range ns {
			cfg.TrainSize = n
			res, err := lab.RNNVsUnshared(ctx, cfg, progressLine(o))
			if err != nil {
				return err
			}
			results = append(results, res)
			if !o.json {
				if err := unsharedTable(o.stdout, res); err != nil {
					return err
				}
			}
		}
		if o.json {
			return writeJSON(o.stdout, results)
		}
		var charts []lab.Chart
		for _, res := range results {
			for _, c := range lab.UnsharedCharts(res) {
				if len(results) > 1 {
					c.Name = fmt.Sprintf("%s-%d", c.Name, res.Config.TrainSize)
				}
				charts = append(charts, c)
			}
		}
		return writeCharts(o, charts)
	}
}

func unsharedTable(w io.Writer, res *lab.UnsharedResult) error {
	c := res.Config
	score := "accuracy %"
	if c.Task == lab.TaskAdding {
		score = fmt.Sprintf("%% solved (|error| < %g)", lab.AddingTolerance)
	}
	fmt.Fprintf(w, "rnn-vs-unshared: %s at T = %d; %d seed(s); %d steps of %d from %s training sequences, hidden %d, %s lr %g, clip %g; %s; %.0f s\n\n",
		c.Task, c.T, c.Seeds, c.Steps, c.Batch, thousands(c.TrainSize), c.Hidden, c.Optimizer, c.LR, c.Clip, score, res.Seconds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "model\tparams\tunshared\ttrain\ttest\tgap (pts)\ts/run\tdiverged\t")
	for _, m := range res.Models {
		var secs float64
		for _, r := range m.Runs {
			secs += r.Seconds
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%.1f\t%d/%d\t\n", m.Model, thousands(m.Params), thousands(m.Unshared),
			pct(m.TrainAcc), pct(m.TestAcc), pct(m.Gap), secs/float64(len(m.Runs)), m.Diverged(), len(m.Runs))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w)
	return err
}
