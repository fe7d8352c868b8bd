package gradflow

import (
	"encoding/json"
	"testing"
)

// sink keeps the benchmark's result alive.
var sink float64

// benchmarkStep times one Advance (the SGD update, the next recorded pass
// and the SVD of W_hh) at the given field values; a run that reaches its
// end starts again, outside the timer.
func benchmarkStep(b *testing.B, change map[string]any) {
	f := at(b, change)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if f.Pos() >= total {
			b.StopTimer()
			if err := f.Restart(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		if err := f.Advance(); err != nil {
			b.Fatal(err)
		}
		sink += f.lambda
	}
}

func BenchmarkStepDefault(b *testing.B)   { benchmarkStep(b, nil) }
func BenchmarkStepCostliest(b *testing.B) { benchmarkStep(b, map[string]any{"hidden": 64, "T": 100}) }

// BenchmarkFrameCostliest times the frame a step publishes, encoded as
// JSON, at hidden 64 and T = 100 after 150 steps; it reports its bytes.
func BenchmarkFrameCostliest(b *testing.B) {
	f := at(b, map[string]any{"hidden": 64, "T": 100})
	for f.Pos() < 150 {
		if err := f.Advance(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	var n int
	for b.Loop() {
		raw, err := json.Marshal(f.Frame().Data)
		if err != nil {
			b.Fatal(err)
		}
		n = len(raw)
	}
	b.ReportMetric(float64(n), "frame-bytes")
}
