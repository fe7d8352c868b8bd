package lab_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/paramshare/paramshare/lab"
)

func TestGAPModelTrains(t *testing.T) {
	tc := lab.DefaultTrainConfig(lab.ModelCNNGAP)
	tc.TrainSize, tc.Batch = 64, 32
	tr, err := lab.NewTrainer(tc)
	if err != nil {
		t.Fatal(err)
	}
	if c := tr.Count(); c.Params != 1418 {
		t.Errorf("cnn-gap has %d params, want 1,418", c.Params)
	}
	wide := lab.DefaultTrainConfig(lab.ModelCNNGAPWide)
	wide.TrainSize = 64
	tw, err := lab.NewTrainer(wide)
	if err != nil {
		t.Fatal(err)
	}
	// conv 1→16 (160), conv 16→64 (9,280), linear 64→10 (650): about the
	// cnn's 9,098.
	if c := tw.Count(); c.Params != 160+9280+650 {
		t.Errorf("cnn-gap-wide has %d params, want 10,090", c.Params)
	}
	if _, err := tr.Step(); err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(lab.Models(), func(m string) bool { return slices.Contains(lab.ControlModels(), m) }) {
		t.Error("cnn-gap is in Models(): the CNN lessons' defaults would change")
	}
	bad := lab.DefaultTrainConfig("cnn-gap-nosuch")
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), lab.ModelCNNGAP) {
		t.Errorf("unknown model: %v, want an error listing %s", err, lab.ModelCNNGAP)
	}
}

// TestCompareWithGAP runs CompareCNN on cnn and cnn-gap with a tiny budget:
// the control model is accepted and measured at every shift.
func TestCompareWithGAP(t *testing.T) {
	cfg := lab.DefaultCompareConfig()
	cfg.Models, cfg.LR = []string{"cnn", lab.ModelCNNGAP}, nil
	cfg.Seeds, cfg.Epochs, cfg.TrainSize, cfg.Eval, cfg.Shifts = 1, 1, 64, 50, []int{0, 4}
	res, err := lab.CompareCNN(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Models) != 2 || res.Models[1].Model != lab.ModelCNNGAP || res.Models[1].Params != 1418 || len(res.Models[1].ShiftAcc) != 2 {
		t.Errorf("result %+v", res.Models)
	}
}

func TestDefaultGAPCompareConfig(t *testing.T) {
	cfg := lab.DefaultGAPCompareConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	def := lab.DefaultCompareConfig()
	if cfg.TrainSize != def.TrainSize || cfg.Batch != def.Batch || cfg.Optimizer != def.Optimizer || !slices.Equal(cfg.Shifts, def.Shifts) {
		t.Errorf("the GAP comparison's data budget %+v differs from cnn-vs-unshared's %+v", cfg, def)
	}
	for _, m := range cfg.Models {
		if cfg.LR[m] != lab.GAPLR {
			t.Errorf("%s lr %g, want %g for every model", m, cfg.LR[m], lab.GAPLR)
		}
	}
	if !slices.Equal(def.Models, lab.Models()) || def.LR["cnn"] != 3e-3 {
		t.Errorf("cnn-vs-unshared's defaults changed: %+v", def)
	}
}
