package charmodel

import (
	"encoding/json"
	"testing"
)

// sink keeps the benchmark's frames alive.
var sink []byte

// BenchmarkStep is one run step at the costliest values (an LSTM of 128 on
// windows of 64): Advance (a training step and the reach's forward and
// backward; every sampleEvery steps the held-out loss and a new sample too)
// and the frame the run then publishes, encoded as JSON. It reports the
// data part's bytes.
func BenchmarkStep(b *testing.B) {
	v := defaults(b, map[string]any{"cell": "lstm", "hidden": 128, "seqLen": 64})
	c := trained(b, v, 0)
	var bytes int
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if c.Pos() == total {
			b.StopTimer()
			c = trained(b, v, 0)
			b.StartTimer()
		}
		if err := c.Advance(); err != nil {
			b.Fatal(err)
		}
		d, err := json.Marshal(c.Frame().Data)
		if err != nil {
			b.Fatal(err)
		}
		sink, bytes = d, len(d)
	}
	b.ReportMetric(float64(bytes), "frameB")
}

// BenchmarkStepDefault is the same at the lesson's defaults (a GRU of 64
// on windows of 32).
func BenchmarkStepDefault(b *testing.B) {
	v := defaults(b, nil)
	c := trained(b, v, 0)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if c.Pos() == total {
			b.StopTimer()
			c = trained(b, v, 0)
			b.StartTimer()
		}
		if err := c.Advance(); err != nil {
			b.Fatal(err)
		}
		d, _ := json.Marshal(c.Frame().Data)
		sink = d
	}
}
