// Command lab runs a lesson's experiment headless and prints its table, so
// that an author can reproduce every number a lesson shows:
//
//	go run ./cmd/lab params [-size 28 | -sizes 8,16,32] [-in 1] [-out-ch 8] [-k 3] [-pad 1]
//	go run ./cmd/lab cnn-vs-unshared [-seeds 3] [-epochs 10] [-train-size 1000] [-batch 32] [-lr 0.003]
//	go run ./cmd/lab bptt-contributions [-cells rnn,lstm,gru] [-lambdas 0.5,1,2,4] [-T 50] [-seeds 5]
//	go run ./cmd/lab rnn-vs-gates [-tasks remember-first,adding] [-distances 5,10,20,32] [-seeds 3]
//	go run ./cmd/lab attention-tasks [-tasks copy,reverse,sort] [-positions sinusoidal,learned,none] [-seeds 3]
//	go run ./cmd/lab tied-vs-untied [-seeds 3] [-steps 1500] [-d 32]
//	go run ./cmd/lab albert-modes [-task reverse] [-blocks 4] [-d 32] [-seeds 3]
//	go run ./cmd/lab siamese-vs-towers [-train N] [-steps N] [-seeds 3]
//	go run ./cmd/lab multitask [-train N] [-steps N] [-seeds 3]
//
// Every experiment takes -json (print the result as JSON instead of a
// table) and -out DIR (also write the experiment's charts into DIR, PNG
// unless -format svg). Long runs show a progress line on stderr; Ctrl-C
// stops them.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/paramshare/paramshare/lab"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		return
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(os.Stderr, "lab: interrupted")
		os.Exit(130)
	}
	fmt.Fprintln(os.Stderr, err)
	var usage usageError
	if errors.As(err, &usage) {
		os.Exit(2)
	}
	os.Exit(1)
}

// usageError is a mistake in the command line (exit status 2).
type usageError struct{ error }

// experiment is one runnable experiment: its flags are added to fs, and the
// returned function runs it once fs has been parsed.
type experiment struct {
	name, about string
	setup       func(fs *flag.FlagSet) func(ctx context.Context, o output) error
}

// experiments lists the lab experiments; a file of this package adds its
// own in an init function (experiments = append(experiments, …)), so a new
// experiment is a new file.
var experiments = []experiment{
	{"params", "unique parameters and uses of a dense, a locally connected and a conv layer by image size", setupParams},
	{"cnn-vs-unshared", "cnn vs lc vs mlp on one budget: params, train/test accuracy, gap, accuracy per shift (mean ± sd over seeds)", setupCompare},
}

// output is where an experiment writes, and how.
type output struct {
	stdout, stderr io.Writer
	json           bool
	dir            string // charts go here when not empty
	format         string // of the charts
	terminal       bool   // stderr is a terminal: progress updates one line
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: lab EXPERIMENT [-json] [-out DIR] [-format png|svg] [flags]")
	fmt.Fprintln(w, "experiments:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, e := range experiments {
		fmt.Fprintf(tw, "  %s\t%s\n", e.name, e.about)
	}
	tw.Flush()
	fmt.Fprintln(w, "run `lab EXPERIMENT -h` for an experiment's flags")
}

// run runs the experiment named by args[0] with the flags that follow.
// Tables and JSON go to stdout; usage, progress and the charts written go
// to stderr. Mistakes in the command line are a usageError.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		usage(stderr)
		if len(args) == 0 {
			return usageError{errors.New("lab: no experiment given")}
		}
		return flag.ErrHelp
	}
	var exp *experiment
	for i := range experiments {
		if experiments[i].name == args[0] {
			exp = &experiments[i]
		}
	}
	if exp == nil {
		usage(stderr)
		return usageError{fmt.Errorf("lab: no experiment named %q", args[0])}
	}
	fs := flag.NewFlagSet("lab "+exp.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := output{stdout: stdout, stderr: stderr, terminal: isTerminal(stderr)}
	fs.BoolVar(&o.json, "json", false, "print the result as JSON instead of a table")
	fs.StringVar(&o.dir, "out", "", "write the experiment's charts into this `directory`")
	fs.StringVar(&o.format, "format", "png", "chart format: png or svg")
	start := exp.setup(fs)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("lab %s: unexpected arguments %q", exp.name, fs.Args())}
	}
	if o.format != "png" && o.format != "svg" {
		return usageError{fmt.Errorf("lab: -format %q, want png or svg", o.format)}
	}
	return start(ctx, o)
}

// isTerminal reports whether w is a character device (a terminal), where a
// progress line can be redrawn in place with \r.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// intList parses "8,16,32".
func intList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("%q is not a whole number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// setupParams adds the params experiment's flags.
func setupParams(fs *flag.FlagSet) func(context.Context, output) error {
	def := lab.DefaultParamsConfig()
	size := fs.Int("size", 0, "one image side H = W (default: the sweep -sizes)")
	sizes := fs.String("sizes", joinInts(def.Sizes), "image sides H = W to sweep, comma-separated")
	in := fs.Int("in", def.InChannels, "input channels")
	outCh := fs.Int("out-ch", def.OutChannels, "output channels")
	k := fs.Int("k", def.Kernel, "kernel size")
	pad := fs.Int("pad", -1, "zero padding (default (k−1)/2: the output as large as the input for odd k)")
	return func(ctx context.Context, o output) error {
		cfg := lab.ParamsConfig{InChannels: *in, OutChannels: *outCh, Kernel: *k, Padding: *pad}
		if cfg.Padding < 0 {
			cfg.Padding = (cfg.Kernel - 1) / 2
		}
		if *size != 0 {
			cfg.Sizes = []int{*size}
		} else {
			var err error
			if cfg.Sizes, err = intList(*sizes); err != nil {
				return usageError{fmt.Errorf("lab params: -sizes: %w", err)}
			}
		}
		rows, err := lab.ParamsTable(cfg)
		if err != nil {
			return usageError{err}
		}
		if o.json {
			err = writeJSON(o.stdout, struct {
				Config lab.ParamsConfig `json:"config"`
				Rows   []lab.ParamsRow  `json:"rows"`
			}{cfg, rows})
		} else {
			err = paramsTable(o.stdout, cfg, rows)
		}
		if err != nil {
			return err
		}
		return writeCharts(o, lab.ParamsCharts(rows))
	}
}

func paramsTable(w io.Writer, cfg lab.ParamsConfig, rows []lab.ParamsRow) error {
	fmt.Fprintf(w, "params: %d → %d channels, %d×%d kernel, stride 1, padding %d\n\n",
		cfg.InChannels, cfg.OutChannels, cfg.Kernel, cfg.Kernel, cfg.Padding)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "input\tlayer\toutput\tparams\tuses\tuses/param\tcounted\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%d×%d×%d\t%s\t%d×%d×%d\t%s\t%s\t%s\t%s\t\n",
			cfg.InChannels, r.Size, r.Size, r.Layer, r.OutShape[0], r.OutShape[1], r.OutShape[2],
			thousands(r.Params), thousands(r.Uses), ratio(float64(r.Uses)/float64(r.Params)), r.Source)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nbuilt: counted by engine.Model.Count on the built layer; computed: over %s parameters, counted with the engine's formula\n", thousands(lab.MaxBuiltParams))
	return err
}

// setupCompare adds the cnn-vs-unshared experiment's flags.
func setupCompare(fs *flag.FlagSet) func(context.Context, output) error {
	def := lab.DefaultCompareConfig()
	seeds := fs.Int("seeds", def.Seeds, "seeds per model (1…N)")
	epochs := fs.Int("epochs", def.Epochs, "passes over the training digits")
	trainSize := fs.Int("train-size", def.TrainSize, "training digits (the first N of the 5,000 embedded)")
	batch := fs.Int("batch", def.Batch, "digits per step")
	optimizer := fs.String("optimizer", def.Optimizer, "sgd, momentum or adam")
	lr := fs.Float64("lr", 0, "learning rate of every model (default: each model's default, 0.003)")
	models := fs.String("models", strings.Join(def.Models, ","), "models to compare, comma-separated")
	shifts := fs.String("shifts", joinInts(def.Shifts), "shifts of the test digits in pixels, comma-separated")
	eval := fs.Int("eval", def.Eval, "digits to measure each accuracy on (0: all)")
	return func(ctx context.Context, o output) error {
		cfg := def
		cfg.Seeds, cfg.Epochs, cfg.TrainSize, cfg.Batch, cfg.Optimizer, cfg.Eval = *seeds, *epochs, *trainSize, *batch, *optimizer, *eval
		cfg.Models = strings.Split(*models, ",")
		cfg.LR = map[string]float64{}
		for _, m := range cfg.Models {
			cfg.LR[m] = lab.DefaultTrainConfig(m).LR
			if *lr != 0 {
				cfg.LR[m] = *lr
			}
		}
		var err error
		if cfg.Shifts, err = intList(*shifts); err != nil {
			return usageError{fmt.Errorf("lab cnn-vs-unshared: -shifts: %w", err)}
		}
		if err := cfg.Validate(); err != nil {
			return usageError{err}
		}
		res, err := lab.CompareCNN(ctx, cfg, progressLine(o))
		if err != nil {
			return err
		}
		if o.json {
			err = writeJSON(o.stdout, res)
		} else {
			err = compareTable(o.stdout, res)
		}
		if err != nil {
			return err
		}
		return writeCharts(o, lab.CompareCharts(res))
	}
}

// progressLine returns CompareCNN's progress callback: on a terminal one
// line redrawn at most every 100 ms; otherwise a plain line when a run
// starts training and when it is measured.
func progressLine(o output) func(lab.Progress) {
	var last time.Time
	return func(p lab.Progress) {
		head := fmt.Sprintf("run %d/%d: %s seed %d", p.Run, p.Runs, p.Model, p.Seed)
		elapsed := p.Elapsed.Round(time.Second)
		if !o.terminal {
			switch {
			case p.Phase == "train" && p.Step == 1:
				fmt.Fprintf(o.stderr, "%s: training %d steps (%v)\n", head, p.Steps, elapsed)
			case p.Phase == "measure":
				fmt.Fprintf(o.stderr, "%s: measuring (%v)\n", head, elapsed)
			}
			return
		}
		last1 := p.Phase == "measure" && p.Run == p.Runs
		if time.Since(last) < 100*time.Millisecond && p.Phase == "train" && p.Step != p.Steps {
			return
		}
		last = time.Now()
		what := fmt.Sprintf("step %d/%d", p.Step, p.Steps)
		if p.Phase == "measure" {
			what = "measuring"
		}
		// \033[K clears what a longer previous line left.
		fmt.Fprintf(o.stderr, "\r%s, %s (%v)\033[K", head, what, elapsed)
		if last1 {
			fmt.Fprintln(o.stderr)
		}
	}
}

func compareTable(w io.Writer, res *lab.CompareResult) error {
	c := res.Config
	eval := "all"
	if c.Eval > 0 {
		eval = "the first " + thousands(c.Eval)
	}
	fmt.Fprintf(w, "cnn-vs-unshared: %d seed(s); %d epochs of %d steps of %d on %s training digits, %s; accuracy on %s train/test digits; %.0f s\n\n",
		c.Seeds, c.Epochs, c.TrainSize/c.Batch, c.Batch, thousands(c.TrainSize), c.Optimizer, eval, res.Seconds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "model\tlr\tparams\tunshared\ttrain acc %\ttest acc %\tgap (pts)\tdiverged\t")
	for _, m := range res.Models {
		fmt.Fprintf(tw, "%s\t%g\t%s\t%s\t%s\t%s\t%s\t%d/%d\t\n", m.Model, m.LR, thousands(m.Params), thousands(m.Unshared),
			pct(m.TrainAcc), pct(m.TestAcc), pct(m.Gap), m.Diverged(), len(m.Runs))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\naccuracy %% on test digits shifted right (mean ± sd over seeds)\n\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "shift (px)\t")
	for _, m := range res.Models {
		fmt.Fprintf(tw, "%s\t", m.Model)
	}
	fmt.Fprintln(tw)
	for k, dx := range c.Shifts {
		fmt.Fprintf(tw, "%d\t", dx)
		for _, m := range res.Models {
			fmt.Fprintf(tw, "%s\t", pct(m.ShiftAcc[k]))
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// ratio formats uses per parameter: three significant digits, and whole
// numbers with thousands separators from 100 on.
func ratio(v float64) string {
	if v >= 100 {
		return thousands(int(math.Round(v)))
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// pct formats a fraction's mean ± sd in percent.
func pct(s lab.Stat) string { return fmt.Sprintf("%.1f ± %.1f", 100*s.Mean, 100*s.SD) }

// thousands writes n with commas between groups of three digits.
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeCharts writes each chart into o.dir (when set) as NAME.FORMAT and
// names the files on stderr.
func writeCharts(o output, charts []lab.Chart) error {
	if o.dir == "" {
		return nil
	}
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	for _, c := range charts {
		path := filepath.Join(o.dir, c.Name+"."+o.format)
		if err := writeChart(path, o.format, c); err != nil {
			return err
		}
		fmt.Fprintf(o.stderr, "wrote %s\n", path)
	}
	return nil
}

func writeChart(path, format string, c lab.Chart) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	if err := c.Write(f, format); err != nil {
		f.Close()
		return fmt.Errorf("lab: chart %s: %w", c.Name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	return nil
}
