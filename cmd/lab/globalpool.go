package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/paramshare/paramshare/lab"
)

func init() {
	experiments = append(experiments, experiment{
		"global-pool",
		"why the cnn fails on shifted digits: cnn vs cnn-gap vs cnn-gap-wide (global average pooling) — accuracy per shift, params (mean ± sd over seeds)",
		setupGlobalPool,
	})
}

// setupGlobalPool adds the global-pool experiment's flags: cnn-vs-unshared's
// with lab.DefaultGAPCompareConfig's defaults.
func setupGlobalPool(fs *flag.FlagSet) func(context.Context, output) error {
	def := lab.DefaultGAPCompareConfig()
	seeds := fs.Int("seeds", def.Seeds, "seeds per model (1…N)")
	epochs := fs.Int("epochs", def.Epochs, "passes over the training digits")
	trainSize := fs.Int("train-size", def.TrainSize, "training digits (the first N of the 5,000 embedded)")
	batch := fs.Int("batch", def.Batch, "digits per step")
	lr := fs.Float64("lr", lab.GAPLR, "learning rate of every model")
	models := fs.String("models", strings.Join(def.Models, ","), "models to compare, comma-separated: "+strings.Join(append(lab.Models(), lab.ControlModels()...), ", "))
	shifts := fs.String("shifts", joinInts(def.Shifts), "shifts of the test digits in pixels, comma-separated")
	eval := fs.Int("eval", def.Eval, "digits to measure each accuracy on (0: all)")
	return func(ctx context.Context, o output) error {
		cfg := def
		cfg.Seeds, cfg.Epochs, cfg.TrainSize, cfg.Batch, cfg.Eval = *seeds, *epochs, *trainSize, *batch, *eval
		cfg.Models = strings.Split(*models, ",")
		cfg.LR = map[string]float64{}
		for _, m := range cfg.Models {
			cfg.LR[m] = *lr
		}
		var err error
		if cfg.Shifts, err = intList(*shifts); err != nil {
			return usageError{fmt.Errorf("lab global-pool: -shifts: %w", err)}
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
			// cnn-vs-unshared's table, under this experiment's name.
			var buf strings.Builder
			if err = compareTable(&buf, res); err == nil {
				_, err = io.WriteString(o.stdout, strings.Replace(buf.String(), "cnn-vs-unshared:", "global-pool:", 1))
			}
		}
		if err != nil {
			return err
		}
		return writeCharts(o, lab.CompareCharts(res))
	}
}
