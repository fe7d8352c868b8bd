package lab

import (
	"context"
	"math"
	"testing"
)

// TestBPTTScaleRecurrent checks that every gate block of W_hh gets the
// chosen largest singular value, for each cell.
func TestBPTTScaleRecurrent(t *testing.T) {
	cfg := DefaultBPTTConfig()
	cfg.Hidden = 7
	for _, cell := range []string{"rnn", "lstm", "gru"} {
		_, _, whh, err := cfg.BPTTModel(cell, 1.3, 2)
		if err != nil {
			t.Fatal(err)
		}
		blocks := RecurrentBlocks(whh)
		want := map[string]int{"rnn": 1, "lstm": 4, "gru": 3}[cell]
		if len(blocks) != want {
			t.Fatalf("%s: %d blocks, want %d", cell, len(blocks), want)
		}
		for g, s := range blocks {
			if math.Abs(s-1.3) > 1e-12 {
				t.Errorf("%s block %d: λ₁ %v, want 1.3", cell, g, s)
			}
		}
	}
}

// TestBPTTContributionsTable checks the table against its own passes: the
// ratios at distance 0 are 1, the result has a run per cell and λ₁, and
// the means are those of the seeds measured one by one.
func TestBPTTContributionsTable(t *testing.T) {
	cfg := BPTTConfig{Cells: []string{"rnn", "gru"}, Lambdas: []float64{0.5, 2}, T: 12, Hidden: 6, Batch: 4, Seeds: 3, Act: "tanh"}
	res, err := BPTTContributions(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Runs) != 4 {
		t.Fatalf("%d runs, want 4", len(res.Runs))
	}
	r := res.Run("gru", 2)
	if len(r.Ratio) != cfg.T-1 || len(r.GradRatio) != cfg.T {
		t.Fatalf("%d ratios, %d grad ratios", len(r.Ratio), len(r.GradRatio))
	}
	if r.Ratio[0].Mean != 1 || r.Ratio[0].SD != 0 {
		t.Errorf("distance 0: %+v, want 1 ± 0", r.Ratio[0])
	}
	var mean float64
	for seed := uint64(1); seed <= 3; seed++ {
		m, layer, whh, err := cfg.BPTTModel("gru", 2, seed)
		if err != nil {
			t.Fatal(err)
		}
		x, y := cfg.batch(seed)
		p, err := MeasureBPTT(m, layer, whh, x, y)
		if err != nil {
			t.Fatal(err)
		}
		mean += p.Contrib[cfg.T-1-5] / p.Contrib[cfg.T-1] / 3
	}
	if math.Abs(r.Ratio[5].Mean-mean) > 1e-12*mean {
		t.Errorf("distance 5: mean %v, seeds one by one %v", r.Ratio[5].Mean, mean)
	}
	if len(BPTTCharts(res)) != 2 {
		t.Errorf("want a chart per cell")
	}
	if err := (BPTTConfig{Cells: []string{"rnn"}, Lambdas: []float64{0}, T: 5, Hidden: 2, Batch: 1, Seeds: 1, Act: "tanh"}).Validate(); err == nil {
		t.Error("λ₁ 0 accepted")
	}
}

// TestBPTTClaims re-checks, seed by seed, what lesson 8 says of the
// bptt-contributions table at its defaults (T = 50, hidden 32): a tanh
// RNN's contribution 20 steps back is under 10⁻⁶ of the last step's at
// λ₁ = 0.5; at λ₁ = 1 the LSTM's from 20 steps back is larger than the
// RNN's; and the ratio ‖∂L/∂h_t‖/‖∂L/∂h_T‖ never exceeds (γλ₁)^(T−t) for
// the RNN (γ = 1, tanh).
func TestBPTTClaims(t *testing.T) {
	cfg := DefaultBPTTConfig()
	last := cfg.T - 1
	for seed := uint64(1); seed <= uint64(cfg.Seeds); seed++ {
		pass := func(cell string, lambda1 float64) BPTTPass {
			m, layer, whh, err := cfg.BPTTModel(cell, lambda1, seed)
			if err != nil {
				t.Fatal(err)
			}
			x, y := cfg.batch(seed)
			p, err := MeasureBPTT(m, layer, whh, x, y)
			if err != nil || p.Diverged {
				t.Fatalf("%s λ₁ %v seed %d: %v (diverged %v)", cell, lambda1, seed, err, p.Diverged)
			}
			return p
		}
		at20 := func(p BPTTPass) float64 { return p.Contrib[last-20] / p.Contrib[last] }
		rnnHalf := pass("rnn", 0.5)
		if r := at20(rnnHalf); r >= 1e-6 {
			t.Errorf("seed %d: tanh RNN at λ₁ = 0.5, 20 steps back %.3g of the last, want < 1e-6", seed, r)
		}
		rnn1, lstm1 := at20(pass("rnn", 1)), at20(pass("lstm", 1))
		t.Logf("seed %d, λ₁ = 1, 20 steps back: rnn %.3g, lstm %.3g", seed, rnn1, lstm1)
		if lstm1 <= rnn1 {
			t.Errorf("seed %d: at λ₁ = 1 the LSTM's far contribution %.3g is not above the RNN's %.3g", seed, lstm1, rnn1)
		}
		for _, lambda1 := range cfg.Lambdas {
			h := pass("rnn", lambda1).HiddenGrad
			for d := range cfg.T {
				if bound := math.Pow(lambda1, float64(d)); h[last-d]/h[last] > bound*(1+1e-12) {
					t.Fatalf("seed %d λ₁ %v: ‖∂L/∂h‖ ratio %v at distance %d above (γλ₁)^d = %v", seed, lambda1, h[last-d]/h[last], d, bound)
				}
			}
		}
	}
}

// TestSpectralRadius checks ρ on matrices whose eigenvalues are known: a
// rotation by 90° scaled by 2 (eigenvalues ±2i, ρ = λ₁ = 2) and a
// non-normal upper-triangular one (eigenvalues 0.5, ρ = 0.5, λ₁ > 10).
func TestSpectralRadius(t *testing.T) {
	if rho := SpectralRadius([]float64{0, 2, -2, 0}, 2); math.Abs(rho-2) > 1e-12 {
		t.Errorf("rotation: ρ %v, want 2", rho)
	}
	w := []float64{0.5, 10, 0, 0.5}
	if rho := SpectralRadius(w, 2); math.Abs(rho-0.5) > 1e-12 {
		t.Errorf("triangular: ρ %v, want 0.5", rho)
	}
	if l := LargestSingularValue(w, 2, 2); !(l > 10) {
		t.Errorf("triangular: λ₁ %v, want > 10", l)
	}
}

// TestBPTTRhoClaims re-checks what lesson 8 says of ρ beside λ₁ at the
// table's defaults (hidden 32), seed by seed: ρ < λ₁ for every cell and
// gate block (PyTorch's random W_hh is far from normal), and for the RNN
// ρ is under ⅔·λ₁ (about half), so at λ₁ = 1.5 ρ is below 1.
func TestBPTTRhoClaims(t *testing.T) {
	cfg := DefaultBPTTConfig()
	for seed := uint64(1); seed <= uint64(cfg.Seeds); seed++ {
		for _, cell := range cfg.Cells {
			for _, l := range append([]float64{1.5}, cfg.Lambdas...) {
				_, _, whh, err := cfg.BPTTModel(cell, l, seed)
				if err != nil {
					t.Fatal(err)
				}
				for g, rho := range RecurrentRadii(whh) {
					if !(rho < l) {
						t.Errorf("%s seed %d λ₁ %v block %d: ρ %v not below λ₁", cell, seed, l, g, rho)
					}
					if cell == "rnn" {
						t.Logf("seed %d λ₁ %v: ρ %.3f (ρ/λ₁ %.3f)", seed, l, rho, rho/l)
						if rho >= l*2/3 {
							t.Errorf("rnn seed %d λ₁ %v: ρ %v not under ⅔·λ₁", seed, l, rho)
						}
						if l == 1.5 && rho >= 1 {
							t.Errorf("rnn seed %d: ρ %v at λ₁ = 1.5, want < 1", seed, rho)
						}
					}
				}
			}
		}
	}
}
