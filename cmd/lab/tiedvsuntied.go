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
		"tied-vs-untied",
		"a word-level language model with its output tied to the input embedding vs untied: training and validation perplexity (mean ± sd over seeds), parameters",
		setupTied,
	})
}

// setupTied adds the tied-vs-untied experiment's flags.
func setupTied(fs *flag.FlagSet) func(context.Context, output) error {
	def := lab.DefaultTiedCompareConfig()
	seeds := fs.Int("seeds", def.Seeds, "seeds (1…N): each trains both models")
	steps := fs.Int("steps", def.Steps, "training steps per race")
	d := fs.Int("d", def.D, "embedding size d (the tied matrix is V×d)")
	batch := fs.Int("batch", def.Batch, "windows of 16 words per step")
	lr := fs.Float64("lr", def.LR, "Adam learning rate")
	eval := fs.Int("eval", def.Eval, "windows of 16 words each perplexity is measured on, per split")
	return func(ctx context.Context, o output) error {
		cfg := def
		cfg.Seeds, cfg.Steps, cfg.D, cfg.Batch, cfg.LR, cfg.Eval = *seeds, *steps, *d, *batch, *lr, *eval
		if err := cfg.Validate(); err != nil {
			return usageError{err}
		}
		res, err := lab.TiedVsUntied(ctx, cfg, progressLine(o))
		if err != nil {
			return err
		}
		if o.json {
			err = writeJSON(o.stdout, res)
		} else {
			err = tiedTable(o.stdout, res)
		}
		if err != nil {
			return err
		}
		return writeCharts(o, lab.TiedCharts(res))
	}
}

func tiedTable(w io.Writer, res *lab.TiedResult) error {
	c := res.Config
	fmt.Fprintf(w, "tied-vs-untied: %d seed(s); %d steps of %d windows of %d words, d %d, Adam lr %g; %.0f s\n",
		c.Seeds, c.Steps, c.Batch, lab.TiedT, c.D, c.LR, res.Seconds)
	fmt.Fprintf(w, "generated language: %d words, %s training and %s validation tokens; perplexity on %d windows (%s words) of each split\n\n",
		res.Vocab, thousands(res.TrainTokens), thousands(res.ValidTokens), c.Eval, thousands(c.Eval*lab.TiedT))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "model\tparameters\ttraining ppl\tvalidation ppl\tgap (valid − train)\t")
	for _, m := range res.Models {
		fmt.Fprintf(tw, "%s\t%s\t%.2f ± %.2f\t%.2f ± %.2f\t%.2f ± %.2f\t\n", m.Model, thousands(m.Params), m.TrainPPL.Mean, m.TrainPPL.SD, m.ValidPPL.Mean, m.ValidPPL.SD, m.Gap.Mean, m.Gap.SD)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\ntying saves %s parameters (V·d = %d·%d)\n", thousands(res.Saved), res.Vocab, c.D)
	fmt.Fprintf(w, "seeds where tied's training perplexity is higher: %d of %d; where its validation perplexity is lower: %d of %d\n",
		res.TrainHigher, c.Seeds, res.ValidLower, c.Seeds)
	return nil
}
