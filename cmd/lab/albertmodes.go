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
		"albert-modes",
		"ALBERT's cross-layer sharing: all, attention only, feed-forward only, none — parameters, accuracy, step time, per-block hidden-state change (mean ± sd over seeds)",
		setupAlbert,
	})
}

// setupAlbert adds the albert-modes experiment's flags.
func setupAlbert(fs *flag.FlagSet) func(context.Context, output) error {
	def := lab.DefaultAlbertModesConfig()
	seeds := fs.Int("seeds", def.Seeds, "seeds per mode (1…N)")
	steps := fs.Int("steps", def.Steps, "training steps per run")
	task := fs.String("task", def.Task, "reverse or copy")
	blocks := fs.Int("blocks", def.Blocks, fmt.Sprintf("transformer blocks (%d…%d)", lab.MinAlbertBlocks, lab.MaxAlbertBlocks))
	d := fs.Int("d", def.D, "d_model (a multiple of 8; heads of 8, d_ff = 2d)")
	seqLen := fs.Int("T", def.T, "sequence length")
	batch := fs.Int("batch", def.Batch, "sequences per step")
	lr := fs.Float64("lr", def.LR, "Adam's learning rate")
	return func(ctx context.Context, o output) error {
		cfg := def
		cfg.Seeds, cfg.Steps, cfg.Task, cfg.Blocks, cfg.D, cfg.T, cfg.Batch, cfg.LR = *seeds, *steps, *task, *blocks, *d, *seqLen, *batch, *lr
		if err := cfg.Validate(); err != nil {
			return usageError{err}
		}
		res, err := lab.AlbertModes(ctx, cfg, progressLine(o))
		if err != nil {
			return err
		}
		if o.json {
			err = writeJSON(o.stdout, res)
		} else {
			err = albertTable(o.stdout, res)
		}
		if err != nil {
			return err
		}
		return writeCharts(o, lab.AlbertCharts(res))
	}
}

func albertTable(w io.Writer, res *lab.AlbertModesResult) error {
	c := res.Config
	fmt.Fprintf(w, "albert-modes: %d seed(s); %s of %d tokens, %d blocks, d = %d; %d steps of %d sequences, Adam lr %g; scored on %d fixed sequences; %.0f s\n",
		c.Seeds, c.Task, c.T, c.Blocks, c.D, c.Steps, c.Batch, c.LR, lab.AlbertEvalSize, res.Seconds)
	fmt.Fprintln(w, "multiply-adds per sequence are the engine's Count().Uses (the same in every mode); ms/step is measured, the four modes stepped in turn")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\tparams\tby hand\tmult-adds/seq\taccuracy %\tloss\tms/step\tangle zigzag°\tL2 zigzag\tblock 1's share of dFFN\tmax |Σ−dW|\t")
	for _, m := range res.Modes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.4f ± %.4f\t%.2f ± %.2f\t%.1f ± %.1f\t%.2f ± %.2f\t%.2f ± %.2f\t%.1g\t\n",
			m.Share, thousands(m.Params), thousands(m.HandParams), thousands(m.Uses), pct(m.Acc), m.Loss.Mean, m.Loss.SD,
			m.StepMS.Mean, m.StepMS.SD, m.AngleZigzag.Mean, m.AngleZigzag.SD, m.L2Zigzag.Mean, m.L2Zigzag.SD, m.FirstShare.Mean, m.FirstShare.SD, m.SumErr)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nper block: angle between its input and output, degrees (L2 distance), mean ± sd — ALBERT's Figure 1")
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "mode\t")
	for l := range c.Blocks {
		fmt.Fprintf(tw, "block %d\t", l+1)
	}
	fmt.Fprintln(tw)
	for _, m := range res.Modes {
		var cells []string
		for l := range m.Angle {
			cells = append(cells, fmt.Sprintf("%.1f ± %.1f (%.1f)", m.Angle[l].Mean, m.Angle[l].SD, m.L2[l].Mean))
		}
		fmt.Fprintf(tw, "%s\t%s\t\n", m.Share, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}
