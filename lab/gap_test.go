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

// TestClaimsGlobalPool checks what "Does sharing help?" states about `lab
// global-pool` (DefaultGAPCompareConfig: 30 epochs at 1e-2 on 1,000
// digits, seeds 1…3): in every seed the two models with global average
// pooling keep at least 90 % of their accuracy at a 4-pixel shift and are
// both more accurate there than the cnn, which keeps less than 60 % of
// its; unshifted, the cnn is the most accurate of the three (pooling away
// where a feature is costs accuracy); cnn-gap-wide has the cnn's
// parameter budget within 11 %.
func TestClaimsGlobalPool(t *testing.T) {
	if testing.Short() {
		t.Skip("trains 9 models for 30 epochs (about 75 s of CPU); run without -short")
	}
	t.Parallel()
	cfg := lab.DefaultGAPCompareConfig()
	res, err := lab.CompareCNN(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]lab.ModelResult{}
	for _, m := range res.Models {
		byName[m.Model] = m
	}
	cnn, gap, wide := byName["cnn"], byName[lab.ModelCNNGAP], byName[lab.ModelCNNGAPWide]
	s0, s4 := slices.Index(cfg.Shifts, 0), slices.Index(cfg.Shifts, 4)
	for i := range cfg.Seeds {
		c, g, w := cnn.Runs[i], gap.Runs[i], wide.Runs[i]
		t.Logf("seed %d  shifts %v  cnn %.3f  cnn-gap %.3f  cnn-gap-wide %.3f", c.Seed, cfg.Shifts, c.ShiftAcc, g.ShiftAcc, w.ShiftAcc)
		for _, r := range []lab.RunResult{g, w} {
			if r.ShiftAcc[s4] < 0.9*r.ShiftAcc[s0] {
				t.Errorf("seed %d: a pooled model keeps %.3f of %.3f at 4 px, under 90 %%", c.Seed, r.ShiftAcc[s4], r.ShiftAcc[s0])
			}
			if r.ShiftAcc[s4] <= c.ShiftAcc[s4] {
				t.Errorf("seed %d: at 4 px a pooled model %.3f is not above the cnn %.3f", c.Seed, r.ShiftAcc[s4], c.ShiftAcc[s4])
			}
		}
		if c.ShiftAcc[s4] >= 0.6*c.ShiftAcc[s0] {
			t.Errorf("seed %d: the cnn keeps %.3f of %.3f at 4 px, not under 60 %%", c.Seed, c.ShiftAcc[s4], c.ShiftAcc[s0])
		}
	}
	if !(cnn.TestAcc.Mean > wide.TestAcc.Mean && wide.TestAcc.Mean > gap.TestAcc.Mean) {
		t.Errorf("unshifted test accuracy cnn %.3f, cnn-gap-wide %.3f, cnn-gap %.3f: want that order", cnn.TestAcc.Mean, wide.TestAcc.Mean, gap.TestAcc.Mean)
	}
	if d := float64(wide.Params-cnn.Params) / float64(cnn.Params); d < 0 || d > 0.11 {
		t.Errorf("cnn-gap-wide %d params, cnn %d: not within 11 %%", wide.Params, cnn.Params)
	}
}
