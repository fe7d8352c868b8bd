package code_test

import (
	"testing"

	"github.com/paramshare/paramshare/engine"
)

// TestParamCount is lesson 1's "In code" in our engine: the widget's first
// setting (a 28×28 image, one channel in and out, a 3×3 kernel) as three
// layers, each counted by Model.Count, as the widget counts them.
func TestParamCount(t *testing.T) {
	rng := engine.NewRand(1)
	// in-code:begin count
	cfg := engine.Conv2dConfig{InChannels: 1, OutChannels: 1,
		KernelSize: 3, Padding: 1}
	dense, _ := engine.NewLinear("dense", 28*28, 28*28, rng)
	// a kernel per position, and one kernel for all
	local, _ := engine.NewLocallyConnected2d("local", cfg, 28, 28, rng)
	conv, _ := engine.NewConv2d("conv", cfg, rng)

	var counts []engine.Count
	for _, l := range []engine.Layer{dense, local, conv} {
		in := []int{1, 28, 28}
		if l == dense {
			in = []int{28 * 28}
		}
		m, _ := engine.NewModel(l.Spec().Name, in, engine.NewMSE(), l)
		counts = append(counts, m.Count())
	}
	// counts[i].Params: 615,440, 7,840 and 10
	// in-code:end count
	for i, want := range []int{28*28*28*28 + 28*28, 28 * 28 * (9 + 1), 9 + 1} {
		if counts[i].Params != want {
			t.Errorf("layer %d: %d parameters, want %d", i, counts[i].Params, want)
		}
	}
	// The same multiply-adds with and without sharing; the conv's unshared
	// count is the locally connected layer's parameters.
	if counts[1].Uses != 28*28*9 || counts[2].Uses != counts[1].Uses || counts[2].Unshared != counts[1].Params {
		t.Errorf("uses %d and %d (want %d both), conv unshared %d (want %d)", counts[1].Uses, counts[2].Uses, 28*28*9, counts[2].Unshared, counts[1].Params)
	}
}
