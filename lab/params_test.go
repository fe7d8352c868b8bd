package lab

import (
	"strings"
	"testing"
)

func TestParamsTableDefault(t *testing.T) {
	cfg := DefaultParamsConfig()
	rows, err := ParamsTable(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3*len(cfg.Sizes) {
		t.Fatalf("%d rows, want 3 per size", len(rows))
	}
	byLayer := map[string][]ParamsRow{}
	for _, r := range rows {
		byLayer[r.Layer] = append(byLayer[r.Layer], r)
	}
	conv, dense, local := byLayer[LayerConv], byLayer[LayerDense], byLayer[LayerLocal]
	for i := range cfg.Sizes {
		// 1→8 channels, 3×3: 8·9 weights + 8 biases at every size.
		if conv[i].Params != 80 || conv[i].Source != "built" {
			t.Errorf("size %d: conv %+v, want 80 built params", cfg.Sizes[i], conv[i])
		}
		if i > 0 && !(dense[i].Params > dense[i-1].Params && local[i].Params > local[i-1].Params) {
			t.Errorf("size %d: dense %d and local %d params do not grow from %d and %d",
				cfg.Sizes[i], dense[i].Params, local[i].Params, dense[i-1].Params, local[i-1].Params)
		}
		if !(conv[i].Uses == local[i].Uses && local[i].Uses < dense[i].Uses) {
			t.Errorf("size %d: uses conv %d, local %d, dense %d", cfg.Sizes[i], conv[i].Uses, local[i].Uses, dense[i].Uses)
		}
	}
	// 28×28: dense 784 → 6,272 (4,917,248 weights + 6,272 biases) is over the build
	// limit; the locally connected layer (56,448 + 6,272) is built.
	if d := dense[2]; d.Size != 28 || d.Params != 784*6272+6272 || d.Source != "computed" {
		t.Errorf("dense at 28: %+v", d)
	}
	if l := local[2]; l.Params != 56448+6272 || l.Source != "built" {
		t.Errorf("local at 28: %+v", l)
	}
	if d := dense[len(dense)-1]; d.Params < 3e10 {
		t.Errorf("dense at 256: %d params, want over 3·10¹⁰", d.Params)
	}
}

// TestParamsFormulaMatchesEngine builds every layer the formula covers on
// sizes small enough to build and checks the formula against the engine's
// Count, so that the computed rows for large sizes can be trusted.
func TestParamsFormulaMatchesEngine(t *testing.T) {
	for _, cfg := range []ParamsConfig{
		{InChannels: 1, OutChannels: 8, Kernel: 3, Padding: 1},
		{InChannels: 3, OutChannels: 4, Kernel: 5, Padding: 0},
		{InChannels: 2, OutChannels: 1, Kernel: 4, Padding: 3},
		{InChannels: 1, OutChannels: 2, Kernel: 1, Padding: 0},
	} {
		for _, size := range []int{4, 5, 8, 13, 16, 28} {
			cfg.Sizes = []int{size}
			if cfg.Validate() != nil {
				continue // the kernel does not fit
			}
			for _, kind := range []string{LayerDense, LayerLocal, LayerConv} {
				m, err := buildParamsLayer(cfg, size, kind)
				if err != nil {
					t.Fatal(err)
				}
				params, uses, out := paramsFormula(cfg, size, kind)
				c := m.Count()
				if c.Params != params || c.Uses != uses {
					t.Errorf("%+v size %d %s: formula %d params %d uses, engine %d and %d", cfg, size, kind, params, uses, c.Params, c.Uses)
				}
				if got := m.OutShape(); kind != LayerDense && (got[0] != out[0] || got[1] != out[1] || got[2] != out[2]) {
					t.Errorf("%+v size %d %s: out shape %v, formula %v", cfg, size, kind, got, out)
				}
			}
		}
	}
}

func TestParamsConfigValidate(t *testing.T) {
	bad := []struct {
		field string
		edit  func(*ParamsConfig)
	}{
		{"sizes", func(c *ParamsConfig) { c.Sizes = nil }},
		{"size", func(c *ParamsConfig) { c.Sizes = []int{3} }},
		{"size", func(c *ParamsConfig) { c.Sizes = []int{8, 1024} }},
		{"in channels", func(c *ParamsConfig) { c.InChannels = 0 }},
		{"out channels", func(c *ParamsConfig) { c.OutChannels = 257 }},
		{"kernel", func(c *ParamsConfig) { c.Kernel = 12 }},
		{"padding", func(c *ParamsConfig) { c.Padding = 3 }},
		{"size", func(c *ParamsConfig) { c.Kernel, c.Padding, c.Sizes = 7, 0, []int{4} }},
	}
	for _, b := range bad {
		c := DefaultParamsConfig()
		b.edit(&c)
		if _, err := ParamsTable(c); err == nil || !strings.Contains(err.Error(), b.field) {
			t.Errorf("%+v: error %v, want one naming %q", c, err, b.field)
		}
	}
}
