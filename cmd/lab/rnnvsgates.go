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
		"rnn-vs-gates",
		"rnn vs lstm vs gru on remember-first and the adding problem: score against distance T (mean ± sd over seeds), parameters",
		setupGates,
	})
}

// setupGates adds the rnn-vs-gates experiment's flags.
func setupGates(fs *flag.FlagSet) func(context.Context, output) error {
	def := lab.DefaultGatesConfig()
	seeds := fs.Int("seeds", def.Seeds, "seeds per cell, task and distance (1…N)")
	steps := fs.Int("steps", def.Steps, "training steps per run")
	distances := fs.String("distances", joinInts(def.Distances), "distances T, comma-separated (remember-first: noise tokens after the symbol; adding: sequence length)")
	tasks := fs.String("tasks", strings.Join(def.Tasks, ","), "tasks: remember-first, adding")
	cells := fs.String("cells", strings.Join(def.Cells, ","), "cells: rnn, lstm, gru")
	hidden := fs.Int("hidden", def.Hidden, "hidden units of every cell")
	batch := fs.Int("batch", def.Batch, "sequences per step")
	optimizer := fs.String("optimizer", def.Optimizer, "sgd, momentum or adam")
	lr := fs.Float64("lr", def.LR, "learning rate")
	clip := fs.Float64("clip", def.Clip, "largest gradient norm (0: no clipping)")
	eval := fs.Int("eval", def.Eval, fmt.Sprintf("fixed sequences each run is scored on (0: %d)", lab.SeqEvalSize))
	return func(ctx context.Context, o output) error {
		cfg := def
		cfg.Seeds, cfg.Steps, cfg.Hidden, cfg.Batch, cfg.Optimizer, cfg.LR, cfg.Clip, cfg.Eval = *seeds, *steps, *hidden, *batch, *optimizer, *lr, *clip, *eval
		cfg.Tasks, cfg.Cells = strings.Split(*tasks, ","), strings.Split(*cells, ",")
		var err error
		if cfg.Distances, err = intList(*distances); err != nil {
			return usageError{fmt.Errorf("lab rnn-vs-gates: -distances: %w", err)}
		}
		if err := cfg.Validate(); err != nil {
			return usageError{err}
		}
		res, err := lab.RNNvsGates(ctx, cfg, progressLine(o))
		if err != nil {
			return err
		}
		if o.json {
			err = writeJSON(o.stdout, res)
		} else {
			err = gatesTable(o.stdout, res)
		}
		if err != nil {
			return err
		}
		return writeCharts(o, lab.GatesCharts(res))
	}
}

func gatesTable(w io.Writer, res *lab.GatesResult) error {
	c := res.Config
	eval := c.Eval
	if eval == 0 {
		eval = lab.SeqEvalSize
	}
	fmt.Fprintf(w, "rnn-vs-gates: %d seed(s); %d steps of %d sequences, hidden %d, %s lr %g, gradient norm clipped at %g; scored on %d fixed sequences; %.0f s\n",
		c.Seeds, c.Steps, c.Batch, c.Hidden, c.Optimizer, c.LR, c.Clip, eval, res.Seconds)
	fmt.Fprintf(w, "remember-first: accuracy %% (chance 14.3); adding: %% solved, |error| < %g (always answering 1: ≈ 8), and mse (always 1: 0.167)\n\n", lab.AddingTolerance)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "task\tT\t")
	for _, cell := range c.Cells {
		fmt.Fprintf(tw, "%s %%\t", cell)
	}
	for _, cell := range c.Cells {
		fmt.Fprintf(tw, "%s loss\t", cell)
	}
	fmt.Fprintln(tw)
	for _, row := range res.Rows {
		fmt.Fprintf(tw, "%s\t%d\t", row.Task, row.Distance)
		for _, cr := range row.Cells {
			fmt.Fprintf(tw, "%s\t", pct(cr.Score))
		}
		for _, cr := range row.Cells {
			fmt.Fprintf(tw, "%.3f ± %.3f\t", cr.Loss.Mean, cr.Loss.SD)
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nparameters (engine.Model.Count) at hidden %d\n\n", c.Hidden)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "task\tcell\trecurrent layer\t× rnn's\tmodel\t")
	for _, task := range c.Tasks {
		row := res.Row(task, c.Distances[0])
		base := row.Cell("rnn")
		for _, cr := range row.Cells {
			times := "—"
			if base != nil && base.CellParams > 0 {
				times = fmt.Sprintf("%g", float64(cr.CellParams)/float64(base.CellParams))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", task, cr.Cell, thousands(cr.CellParams), times, thousands(cr.Params))
		}
	}
	return tw.Flush()
}
