package main

// bptt-contributions (lesson 8, "Vanishing and exploding"):
//
//	go run ./cmd/lab bptt-contributions [-cells rnn,lstm,gru] [-lambdas 0.5,1,2,4] [-T 50] [-hidden 32] [-batch 16] [-seeds 5] [-act tanh] [-forget-bias 2]

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/paramshare/paramshare/lab"
)

func init() {
	experiments = append(experiments, experiment{
		"bptt-contributions",
		"per-step contributions to dW_hh by distance from the loss, RNN/LSTM/GRU at several largest singular values λ₁ of W_hh, with each one's spectral radius ρ (mean ± sd over seeds)",
		setupBPTT,
	})
}

// floatList parses "0.5,1,2".
func floatList(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", f)
		}
		out = append(out, v)
	}
	return out, nil
}

func joinFloats(xs []float64) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.FormatFloat(x, 'g', -1, 64)
	}
	return strings.Join(s, ",")
}

// setupBPTT adds the bptt-contributions experiment's flags.
func setupBPTT(fs *flag.FlagSet) func(context.Context, output) error {
	def := lab.DefaultBPTTConfig()
	cells := fs.String("cells", strings.Join(def.Cells, ","), "cells to measure, comma-separated (rnn, lstm, gru)")
	lambdas := fs.String("lambdas", joinFloats(def.Lambdas), "λ₁, the largest singular value each gate block of W_hh is scaled to, comma-separated")
	steps := fs.Int("T", def.T, "sequence length (remember-the-first-symbol at distance T−1)")
	hidden := fs.Int("hidden", def.Hidden, "hidden units")
	batch := fs.Int("batch", def.Batch, "sequences in the measured batch")
	seeds := fs.Int("seeds", def.Seeds, "seeds (initial weights and batch) per cell and λ₁")
	act := fs.String("act", def.Act, "the RNN cell's activation: tanh, sigmoid or relu")
	forget := fs.Float64("forget-bias", def.ForgetBias, "the LSTM forget gate's starting bias_ih (0: torch's init)")
	return func(ctx context.Context, o output) error {
		cfg := def
		cfg.Cells = strings.Split(*cells, ",")
		var err error
		if cfg.Lambdas, err = floatList(*lambdas); err != nil {
			return usageError{fmt.Errorf("lab bptt-contributions: -lambdas: %w", err)}
		}
		cfg.T, cfg.Hidden, cfg.Batch, cfg.Seeds, cfg.Act, cfg.ForgetBias = *steps, *hidden, *batch, *seeds, *act, *forget
		if err := cfg.Validate(); err != nil {
			return usageError{err}
		}
		res, err := lab.BPTTContributions(ctx, cfg, func(done, total int) {
			if o.terminal {
				fmt.Fprintf(o.stderr, "\rpass %d/%d\033[K", done, total)
				if done == total {
					fmt.Fprintln(o.stderr)
				}
			}
		})
		if err != nil {
			return err
		}
		if o.json {
			err = writeJSON(o.stdout, res)
		} else {
			err = bpttTable(o.stdout, res)
		}
		if err != nil {
			return err
		}
		return writeCharts(o, lab.BPTTCharts(res))
	}
}

// bpttTable prints, per cell and λ₁, the contribution ratio at a few
// distances from the loss.
func bpttTable(w io.Writer, res *lab.BPTTResult) error {
	c := res.Config
	fmt.Fprintf(w, "bptt-contributions: remember-the-first-symbol, T = %d, hidden %d, batch %d, %d seed(s); rnn activation %s, lstm forget bias %g; at initialisation, each gate block of W_hh scaled to largest singular value λ₁; %.1f s\n\n",
		c.T, c.Hidden, c.Batch, c.Seeds, c.Act, c.ForgetBias, res.Seconds)
	fmt.Fprintln(w, "‖step contribution to dW_hh‖ d steps before the last / the last step's (mean ± sd over seeds);")
	fmt.Fprintln(w, "ρ: spectral radius of W_hh (largest |eigenvalue|; the largest over the gate blocks), ρ ≤ λ₁, mean ± sd over seeds")
	fmt.Fprintln(w)
	ds := lab.BPTTDistances(c.T)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "cell\tλ₁\tρ\t")
	for _, d := range ds {
		fmt.Fprintf(tw, "d = %d\t", d)
	}
	fmt.Fprintln(tw, "diverged\t")
	for _, r := range res.Runs {
		fmt.Fprintf(tw, "%s\t%g\t%s\t", r.Cell, r.Lambda1, sci(r.Rho))
		for _, d := range ds {
			if len(r.Ratio) == 0 {
				fmt.Fprint(tw, "—\t")
				continue
			}
			fmt.Fprintf(tw, "%s\t", sci(r.Ratio[d]))
		}
		fmt.Fprintf(tw, "%d/%d\t\n", r.Diverged, c.Seeds)
	}
	return tw.Flush()
}

// sci formats a ratio's mean ± sd with three significant digits.
func sci(s lab.Stat) string {
	return strconv.FormatFloat(s.Mean, 'g', 3, 64) + " ± " + strconv.FormatFloat(s.SD, 'g', 2, 64)
}
