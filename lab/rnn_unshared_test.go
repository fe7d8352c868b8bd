package lab_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/paramshare/paramshare/lab"
)

// tinyUnshared is a budget small enough for a unit test.
func tinyUnshared(task string) lab.UnsharedConfig {
	cfg := lab.DefaultUnsharedConfig()
	cfg.Task, cfg.T, cfg.TrainSize, cfg.Steps, cfg.Seeds, cfg.Eval, cfg.Hidden = task, 5, 32, 12, 2, 40, 8
	return cfg
}

func TestRNNVsUnsharedRuns(t *testing.T) {
	for _, task := range lab.SeqTasks() {
		t.Run(task, func(t *testing.T) {
			cfg := tinyUnshared(task)
			var calls int
			res, err := lab.RNNVsUnshared(context.Background(), cfg, func(p lab.Progress) { calls++ })
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Models) != 2 || res.Model("rnn") == nil || res.Model("unshared") == nil {
				t.Fatalf("models %+v", res.Models)
			}
			// 2 models × 2 seeds × (12 steps + 1 measurement)
			if calls != 2*2*13 {
				t.Errorf("%d progress calls, want %d", calls, 2*2*13)
			}
			shared, un := res.Model("rnn"), res.Model("unshared")
			// The recurrent layer: H·(I+H) + 2H, once or once per step.
			in, steps := 8, cfg.T+1
			if task == lab.TaskAdding {
				in, steps = 2, cfg.T
			}
			cell := 8*(in+8) + 2*8
			out := shared.Params - cell
			if un.Params != steps*cell+out {
				t.Errorf("unshared params %d, want %d steps × %d + %d", un.Params, steps, cell, out)
			}
			if shared.Unshared != un.Params || un.Unshared != un.Params {
				t.Errorf("unshared counts: rnn %d, unshared %d; want both %d (the rnn's unshared count is the control's size)", shared.Unshared, un.Unshared, un.Params)
			}
			if shared.Uses != un.Uses {
				t.Errorf("uses: rnn %d, unshared %d; the same multiply-adds", shared.Uses, un.Uses)
			}
			for _, m := range res.Models {
				if len(m.Runs) != 2 || m.Runs[0].Seed != 1 || m.Runs[1].Seed != 2 {
					t.Errorf("%s runs %+v", m.Model, m.Runs)
				}
				for _, r := range m.Runs {
					if r.Steps != cfg.Steps || r.TrainAcc < 0 || r.TrainAcc > 1 || r.TestAcc < 0 || r.TestAcc > 1 || r.Gap != r.TrainAcc-r.TestAcc || r.Seconds <= 0 {
						t.Errorf("%s run %+v", m.Model, r)
					}
				}
			}
			again, err := lab.RNNVsUnshared(context.Background(), cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i := range res.Models {
				for j := range res.Models[i].Runs {
					a, b := res.Models[i].Runs[j], again.Models[i].Runs[j]
					a.Seconds, b.Seconds = 0, 0
					if !reflect.DeepEqual(a, b) {
						t.Errorf("%s seed %d: two runs differ: %+v, %+v", res.Models[i].Model, a.Seed, a, b)
					}
				}
			}
		})
	}
}

func TestRNNVsUnsharedCancel(t *testing.T) {
	cfg := tinyUnshared(lab.TaskRemember)
	cfg.Steps = 5000
	ctx, cancel := context.WithCancel(context.Background())
	res, err := lab.RNNVsUnshared(ctx, cfg, func(p lab.Progress) {
		if p.Step == 3 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) || res != nil {
		t.Errorf("cancelled run: %v, %v; want context.Canceled and no result", res, err)
	}
}

func TestUnsharedConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		change func(*lab.UnsharedConfig)
		want   string
	}{
		{func(c *lab.UnsharedConfig) { c.Models = nil }, "models"},
		{func(c *lab.UnsharedConfig) { c.Models = []string{"lstm"} }, `model "lstm"`},
		{func(c *lab.UnsharedConfig) { c.Models = []string{"rnn", "rnn"} }, "twice"},
		{func(c *lab.UnsharedConfig) { c.TrainSize = 5 }, "train size 5"},
		{func(c *lab.UnsharedConfig) { c.Batch = 64; c.TrainSize = 32 }, "batch 64"},
		{func(c *lab.UnsharedConfig) { c.Seeds = 0 }, "seeds 0"},
		{func(c *lab.UnsharedConfig) { c.Steps = 0 }, "steps 0"},
		{func(c *lab.UnsharedConfig) { c.T = 1 }, "T 1"},
		{func(c *lab.UnsharedConfig) { c.Task = "copy" }, `task "copy"`},
		{func(c *lab.UnsharedConfig) { c.Eval = -1 }, "eval -1"},
	} {
		cfg := lab.DefaultUnsharedConfig()
		tc.change(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one naming %q", cfg, err, tc.want)
		}
		if _, rerr := lab.RNNVsUnshared(context.Background(), cfg, nil); rerr == nil {
			t.Errorf("RNNVsUnshared ran %+v", cfg)
		}
	}
	if err := lab.DefaultUnsharedConfig().Validate(); err != nil {
		t.Errorf("default config: %v", err)
	}
}

func TestNewUnsharedTaskModel(t *testing.T) {
	cfg := lab.DefaultUnsharedConfig()
	for _, task := range lab.SeqTasks() {
		cfg.Task = task
		for _, name := range lab.UnsharedModels() {
			m, err := lab.NewUnsharedTaskModel(cfg, name, 1)
			if err != nil {
				t.Fatal(err)
			}
			var types []string
			for _, l := range m.Layers {
				types = append(types, l.Spec().Type)
			}
			cell := map[string]string{"rnn": "rnn", "unshared": "unshared_rnn"}[name]
			want := []string{cell, "last_step", "linear"}
			if task == lab.TaskRemember {
				want = append([]string{"one_hot"}, want...)
			}
			if !reflect.DeepEqual(types, want) {
				t.Errorf("%s %s: layers %v, want %v", task, name, types, want)
			}
		}
	}
	if _, err := lab.NewUnsharedTaskModel(cfg, "gru", 1); err == nil {
		t.Error("model gru accepted")
	}
}

// TestClaimsRNNVsUnshared checks what "Does sharing help?" states about the
// rnn-vs-unshared default (remember-first at T = 10, 1,000 training
// sequences, 3,000 steps), over seeds 1…5: the shared rnn's test accuracy
// is above the unshared control's in every seed; the control, with 11
// cells, has about 9 times the parameters, and its train/test gap is the
// larger on average.
func TestClaimsRNNVsUnshared(t *testing.T) {
	if testing.Short() {
		t.Skip("trains 10 recurrent models (about 20 s of CPU); run without -short")
	}
	t.Parallel()
	cfg := lab.DefaultUnsharedConfig()
	cfg.Seeds = 5
	res, err := lab.RNNVsUnshared(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	rnn, un := res.Model(lab.ModelRNNShared), res.Model(lab.ModelRNNUnshared)
	for i := range cfg.Seeds {
		r, u := rnn.Runs[i], un.Runs[i]
		t.Logf("seed %d  rnn train %.3f test %.3f   unshared train %.3f test %.3f", r.Seed, r.TrainAcc, r.TestAcc, u.TrainAcc, u.TestAcc)
		if r.TestAcc <= u.TestAcc {
			t.Errorf("seed %d: rnn test %.3f is not above the unshared %.3f", r.Seed, r.TestAcc, u.TestAcc)
		}
	}
	if rnn.Params != 1608 || un.Params != 15048 {
		t.Errorf("params rnn %d unshared %d: the lesson quotes 1,608 and 15,048", rnn.Params, un.Params)
	}
	if un.Gap.Mean <= rnn.Gap.Mean {
		t.Errorf("gap unshared %.3f, rnn %.3f: the control's is not the larger", un.Gap.Mean, rnn.Gap.Mean)
	}
}
