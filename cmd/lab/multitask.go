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
		"multitask",
		"a multi-task trunk (digit and odd/even heads) vs two separate CNNs: each task's accuracy, parameters, the cosine between the tasks' trunk gradients (mean ± sd over seeds)",
		func(fs *flag.FlagSet) func(context.Context, output) error {
			return setupTwins(fs, "multitask", lab.MultitaskCompare, []string{"digit", "parity", "trunk-cos"}, multitaskTable)
		},
	})
}

func multitaskTable(w io.Writer, res *lab.TwinsCompareResult) error {
	c := res.Config
	fmt.Fprintf(w, "multitask: %d seed(s); %d steps of %d digits from %d training digits, Adam lr %g; accuracy on %d test digits; %.0f s\n\n",
		c.Seeds, c.Steps, c.Batch, c.TrainSize, c.LR, lab.TasksEvalSize, res.Seconds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "model\tparameters\tdigit %\todd/even %\tcos(digit, parity) on the trunk: run\tfirst tenth\tlast tenth\t")
	for _, r := range res.Rows {
		cos := []string{"—", "—", "—"}
		for i, k := range []string{"trunk-cos", "cos-first", "cos-last"} {
			if s, ok := r.Stats[k]; ok {
				cos[i] = fmt.Sprintf("%.3f ± %.3f", s.Mean, s.SD)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Model, thousands(r.Params), pct(r.Stats["digit"]), pct(r.Stats["parity"]), cos[0], cos[1], cos[2])
	}
	return tw.Flush()
}
