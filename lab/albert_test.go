package lab

import (
	"context"
	"math"
	"testing"
)

// TestAlbertParamsByHand: the count by hand equals the engine's for every
// mode, block count and width.
func TestAlbertParamsByHand(t *testing.T) {
	for _, share := range AlbertShares() {
		for n := MinAlbertBlocks; n <= MaxAlbertBlocks; n++ {
			for _, d := range []int{16, 32, 64} {
				c := DefaultAlbertConfig(share)
				c.Blocks, c.D = n, d
				tr, err := NewAlbertTrainer(c)
				if err != nil {
					t.Fatal(err)
				}
				if got, want := AlbertParams(c), tr.Model().Count().Params; got != want {
					t.Errorf("%s N=%d d=%d: by hand %d, engine %d", share, n, d, got, want)
				}
			}
		}
	}
}

func TestZigzag(t *testing.T) {
	for _, c := range []struct {
		v    []float64
		want float64
	}{{[]float64{5, 3, 2, 1}, 0}, {[]float64{1, 2, 3}, 0}, {[]float64{1, 3, 2, 4}, 2}, {[]float64{7}, 0}} {
		if got := Zigzag(c.v); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Zigzag(%v) = %g, want %g", c.v, got, c.want)
		}
	}
}

// TestAlbertModesSmall: a short run has the four modes, the engine's
// counts equal to those by hand, the same multiply-adds in every mode and
// the shared gradients' parts summing to dW.
func TestAlbertModesSmall(t *testing.T) {
	cfg := DefaultAlbertModesConfig()
	cfg.Seeds, cfg.Steps, cfg.Blocks = 2, 5, 3
	res, err := AlbertModes(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Modes) != 4 {
		t.Fatalf("%d modes", len(res.Modes))
	}
	for _, m := range res.Modes {
		if m.Params != m.HandParams || m.Uses != res.Modes[0].Uses || len(m.Runs) != 2 || len(m.Angle) != 3 || m.SumErr > 1e-12 {
			t.Errorf("%s: %+v", m.Share, m)
		}
	}
	if !(res.Mode("all").Params < res.Mode("attention").Params && res.Mode("attention").Params < res.Mode("none").Params) {
		t.Errorf("params all %d, attention %d, none %d", res.Mode("all").Params, res.Mode("attention").Params, res.Mode("none").Params)
	}
	cfg.Blocks = 7
	if _, err := AlbertModes(context.Background(), cfg, nil); err == nil {
		t.Error("7 blocks accepted")
	}
}
