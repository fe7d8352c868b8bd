package lab

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"strings"
	"testing"
)

// tinyCompare is a budget of a few steps per model.
func tinyCompare() CompareConfig {
	c := DefaultCompareConfig()
	c.Seeds, c.Epochs, c.TrainSize, c.Batch, c.Eval = 2, 1, 64, 16, 100
	c.Shifts = []int{0, 2, 4}
	return c
}

func TestCompareCNNTiny(t *testing.T) {
	cfg := tinyCompare()
	var calls []Progress
	res, err := CompareCNN(context.Background(), cfg, func(p Progress) { calls = append(calls, p) })
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Models) != 3 {
		t.Fatalf("%d models, want 3", len(res.Models))
	}
	params := map[string]int{}
	for _, m := range res.Models {
		params[m.Model] = m.Params
		if len(m.Runs) != 2 || len(m.ShiftAcc) != 3 {
			t.Errorf("%s: %d runs and %d shift stats, want 2 and 3", m.Model, len(m.Runs), len(m.ShiftAcc))
		}
		for _, r := range m.Runs {
			if r.Steps != 4 || len(r.ShiftAcc) != 3 || r.Diverged {
				t.Errorf("%s seed %d: %+v, want 4 steps and 3 shifts", m.Model, r.Seed, r)
			}
			if r.Gap != r.TrainAcc-r.TestAcc {
				t.Errorf("%s seed %d: gap %v ≠ %v − %v", m.Model, r.Seed, r.Gap, r.TrainAcc, r.TestAcc)
			}
		}
		a, b := m.Runs[0].TestAcc, m.Runs[1].TestAcc
		if want := (a + b) / 2; m.TestAcc.Mean != want {
			t.Errorf("%s: test mean %v, want %v", m.Model, m.TestAcc.Mean, want)
		}
		if m.TestAcc.SD < 0 || (a != b && m.TestAcc.SD == 0) {
			t.Errorf("%s: test sd %v for %v and %v", m.Model, m.TestAcc.SD, a, b)
		}
	}
	if params["cnn"] != 9098 || params["mlp"] != 9550 || params["lc"] < 10*params["cnn"] {
		t.Errorf("params %v: want cnn 9,098, mlp 9,550 and lc far more", params)
	}
	// 6 runs of 4 steps, a "train" report per step and a "measure" before
	// each of a run's three measurements (train, test, shifted).
	if len(calls) != 6*(4+3) {
		t.Errorf("%d progress calls, want 42", len(calls))
	}
	if last := calls[len(calls)-1]; last.Run != 6 || last.Runs != 6 || last.Phase != "measure" || last.Model != "mlp" || last.Seed != 2 {
		t.Errorf("last progress %+v", last)
	}
	for _, c := range CompareCharts(res) {
		var buf bytes.Buffer
		if err := c.Write(&buf, "png"); err != nil {
			t.Fatalf("chart %s: %v", c.Name, err)
		}
		if _, err := png.Decode(&buf); err != nil {
			t.Errorf("chart %s: %v", c.Name, err)
		}
		buf.Reset()
		if err := c.Write(&buf, "svg"); err != nil || !strings.Contains(buf.String(), "<svg") {
			t.Errorf("chart %s svg: %v", c.Name, err)
		}
	}
}

func TestCompareCNNCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	steps := 0
	res, err := CompareCNN(ctx, tinyCompare(), func(p Progress) {
		if steps++; steps == 3 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) || res != nil {
		t.Errorf("cancelled run: %v, %v; want context.Canceled and no result", res, err)
	}
	if steps != 3 {
		t.Errorf("%d progress calls, want the run to stop after the 3rd", steps)
	}
}

func TestCompareConfigValidate(t *testing.T) {
	if err := DefaultCompareConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		field string
		edit  func(*CompareConfig)
	}{
		{"models", func(c *CompareConfig) { c.Models = nil }},
		{"model", func(c *CompareConfig) { c.Models = []string{"cnn", "cnn"} }},
		{"model", func(c *CompareConfig) { c.Models = []string{"cnn", "gru"}; c.LR = nil }},
		{"seeds", func(c *CompareConfig) { c.Seeds = 0 }},
		{"epochs", func(c *CompareConfig) { c.Epochs = 101 }},
		{"shift", func(c *CompareConfig) { c.Shifts = []int{0, 28} }},
		{"lr", func(c *CompareConfig) { c.LR["lc"] = 2 }},
		{"lr", func(c *CompareConfig) { c.Models = []string{"cnn"} }},
		{"batch", func(c *CompareConfig) { c.Batch = 0 }},
		{"train size", func(c *CompareConfig) { c.TrainSize = 6000 }},
		{"optimizer", func(c *CompareConfig) { c.Optimizer = "lbfgs" }},
		{"eval", func(c *CompareConfig) { c.Eval = -1 }},
	}
	for _, b := range bad {
		c := DefaultCompareConfig()
		b.edit(&c)
		if _, err := CompareCNN(context.Background(), c, nil); err == nil || !strings.Contains(err.Error(), b.field) {
			t.Errorf("%+v: error %v, want one naming %q", c, err, b.field)
		}
	}
}

func TestParamsCharts(t *testing.T) {
	rows, err := ParamsTable(DefaultParamsConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range ParamsCharts(rows) {
		var buf bytes.Buffer
		if err := c.Write(&buf, "png"); err != nil {
			t.Fatalf("chart %s: %v", c.Name, err)
		}
		if _, err := png.Decode(&buf); err != nil {
			t.Errorf("chart %s: %v", c.Name, err)
		}
	}
}
