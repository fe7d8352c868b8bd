package lab

import (
	"fmt"
	"testing"
)

// BenchmarkTiedStep is one race step with and without the ledger, at the
// defaults and the larger d and batch.
func BenchmarkTiedStep(b *testing.B) {
	for _, c := range [][2]int{{32, 16}, {64, 16}, {32, 32}, {64, 32}} {
		for _, ledger := range []bool{true, false} {
			b.Run(fmt.Sprintf("d%d-b%d-ledger%v", c[0], c[1], ledger), func(b *testing.B) {
				cfg := DefaultTiedConfig()
				cfg.D, cfg.Batch = c[0], c[1]
				r, err := NewTiedRace(cfg)
				if err != nil {
					b.Fatal(err)
				}
				r.SetLedger(ledger)
				b.ResetTimer()
				for range b.N {
					if _, err := r.Step(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
