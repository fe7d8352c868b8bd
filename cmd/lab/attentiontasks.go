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
		"attention-tasks",
		"a transformer on copy, reverse and sort with sinusoidal, learned or no positions: per-token accuracy, longer test lengths, attention on the answer (mean ± sd over seeds)",
		setupAttentionTasks,
	})
}

// setupAttentionTasks adds the attention-tasks experiment's flags.
func setupAttentionTasks(fs *flag.FlagSet) func(context.Context, output) error {
	def := lab.DefaultAttnTasksConfig()
	seeds := fs.Int("seeds", def.Seeds, "seeds per task and positional encoding (1…N)")
	steps := fs.Int("steps", def.Steps, "training steps per run")
	tasks := fs.String("tasks", strings.Join(def.Tasks, ","), "tasks: copy, reverse, sort")
	positions := fs.String("positions", strings.Join(def.Positions, ","), "positional encodings: sinusoidal, learned, none")
	lengths := fs.String("lengths", joinInts(def.Lengths), "test lengths, ascending, the first the training length (the model is built for the last)")
	heads := fs.Int("heads", def.Heads, "attention heads (1…4)")
	blocks := fs.Int("blocks", def.Blocks, "transformer blocks (1…2)")
	lr := fs.Float64("lr", def.LR, "Adam's learning rate")
	eval := fs.Int("eval", def.Eval, "fixed sequences scored at each length")
	return func(ctx context.Context, o output) error {
		cfg := def
		cfg.Seeds, cfg.Steps, cfg.Heads, cfg.Blocks, cfg.LR, cfg.Eval = *seeds, *steps, *heads, *blocks, *lr, *eval
		cfg.Tasks, cfg.Positions = strings.Split(*tasks, ","), strings.Split(*positions, ",")
		var err error
		if cfg.Lengths, err = intList(*lengths); err != nil {
			return usageError{fmt.Errorf("lab attention-tasks: -lengths: %w", err)}
		}
		cfg.Len = cfg.Lengths[0]
		if err := cfg.Validate(); err != nil {
			return usageError{err}
		}
		res, err := lab.AttentionTasks(ctx, cfg, progressLine(o))
		if err != nil {
			return err
		}
		if o.json {
			err = writeJSON(o.stdout, res)
		} else {
			err = attentionTable(o.stdout, res)
		}
		if err != nil {
			return err
		}
		return writeCharts(o, lab.AttnCharts(res))
	}
}

func attentionTable(w io.Writer, res *lab.AttnTasksResult) error {
	c := res.Config
	d := lab.DefaultAttnTrainConfig(c.Tasks[0])
	fmt.Fprintf(w, "attention-tasks: %d seed(s); %d steps of %d sequences of length %d (vocabulary %d), d %d, %d block(s) of %d head(s), Adam lr %g, clipped at %g; the model is built for length %d; scored on %d fixed sequences per length; %.0f s\n",
		c.Seeds, c.Steps, d.Batch, c.Len, d.Vocab, d.D, c.Blocks, c.Heads, c.LR, d.Clip, c.Lengths[len(c.Lengths)-1], c.Eval, res.Seconds)
	fmt.Fprintf(w, "per-token accuracy %% (chance %.0f); attention on the answer: the best head's mean weight on the position the answer comes from (uniform: %.1f %%)\n\n", 100/float64(d.Vocab), 100/float64(c.Len))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "task\tpositions\tparams\tloss\t")
	for _, L := range c.Lengths {
		fmt.Fprintf(tw, "acc %% L=%d\t", L)
	}
	fmt.Fprintln(tw, "attention on answer %\tdiverged\t")
	for _, row := range res.Rows {
		div := 0
		for _, r := range row.Runs {
			if r.Diverged {
				div++
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.3g ± %.2g\t", row.Task, row.Positions, thousands(row.Params), row.Loss.Mean, row.Loss.SD)
		for _, s := range row.Accuracy {
			fmt.Fprintf(tw, "%s\t", pct(s))
		}
		fmt.Fprintf(tw, "%s\t%d/%d\t\n", pct(row.Pattern), div, len(row.Runs))
	}
	return tw.Flush()
}
