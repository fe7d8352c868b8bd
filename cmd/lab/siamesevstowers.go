package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/paramshare/paramshare/lab"
)

func init() {
	experiments = append(experiments, experiment{
		"siamese-vs-towers",
		"siamese twins (one encoder for both digits of a pair) vs two unshared towers: verification accuracy, loss, parameters (mean ± sd over seeds)",
		func(fs *flag.FlagSet) func(context.Context, output) error {
			return setupTwins(fs, "siamese-vs-towers", lab.SiameseVsTowers, []string{"accuracy", "loss", "branch-cos"}, twinsTable)
		},
	})
}

// setupTwins adds the flags both lesson-15 commands share: seeds, steps,
// batch, train size, learning rate.
func setupTwins(fs *flag.FlagSet, name string, run func(context.Context, lab.TwinsCompareConfig, func(lab.Progress)) (*lab.TwinsCompareResult, error),
	measures []string, table func(io.Writer, *lab.TwinsCompareResult) error) func(context.Context, output) error {
	def := lab.DefaultTwinsCompareConfig()
	seeds := fs.Int("seeds", def.Seeds, "seeds 1…N")
	steps := fs.Int("steps", def.Steps, "training steps per run")
	batch := fs.Int("batch", def.Batch, "pairs (digits) per step")
	train := fs.Int("train", def.TrainSize, "training digits drawn from")
	lr := fs.Float64("lr", def.LR, "Adam learning rate")
	return func(ctx context.Context, o output) error {
		cfg := def
		cfg.Seeds, cfg.Steps, cfg.Batch, cfg.TrainSize, cfg.LR = *seeds, *steps, *batch, *train, *lr
		if err := cfg.Validate(); err != nil {
			return usageError{fmt.Errorf("lab %s: %w", name, err)}
		}
		res, err := run(ctx, cfg, progressLine(o))
		if err != nil {
			return err
		}
		if o.json {
			err = writeJSON(o.stdout, res)
		} else {
			err = table(o.stdout, res)
		}
		if err != nil {
			return err
		}
		return writeCharts(o, lab.TwinsCharts(name, res, measures))
	}
}

func twinsTable(w io.Writer, res *lab.TwinsCompareResult) error {
	c := res.Config
	fmt.Fprintf(w, "siamese-vs-towers: %d seed(s); %d steps of %d pairs (half the same digit) from %d training digits, Adam lr %g; verification on %d fixed test pairs (same digit when distance < margin/2 = 0.5); %.0f s\n\n",
		c.Seeds, c.Steps, c.Batch, c.TrainSize, c.LR, lab.TwinsEvalPairs, res.Seconds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "model\tparameters\tverification %\tloss (last 50 steps)\tcos(side 0, side 1)\t")
	for _, r := range res.Rows {
		cos := "—"
		if s, ok := r.Stats["branch-cos"]; ok {
			cos = fmt.Sprintf("%.3f ± %.3f", s.Mean, s.SD)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.4f ± %.4f\t%s\t\n", r.Model, thousands(r.Params), pct(r.Stats["accuracy"]), r.Stats["loss"].Mean, r.Stats["loss"].SD, cos)
	}
	return tw.Flush()
}
