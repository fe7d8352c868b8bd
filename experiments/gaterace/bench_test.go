package gaterace

import (
	"encoding/json"
	"testing"

	"github.com/paramshare/paramshare/run"
)

// costliest returns the values the frame target is for: hidden 64,
// T 32, batch 16 (remember-first: 33 steps, the longer of the two tasks).
func costliest(t testing.TB) run.Values {
	t.Helper()
	s, ok := run.Lookup(Name)
	if !ok {
		t.Fatal("gate-race is not registered")
	}
	return s.CostliestValues()
}

var sink []byte

// BenchmarkRaceStep is one race step at the costliest values: the three
// models' training steps (the same batch), with the evaluations and W_hh
// profiles the schedule owes amortized over the steps, and the frame
// encoded to JSON as the run does after each step.
func BenchmarkRaceStep(b *testing.B) {
	r, err := newRace(costliest(b))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if r.pos == r.Total() {
			b.StopTimer()
			if err := r.Restart(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		if err := r.Advance(); err != nil {
			b.Fatal(err)
		}
		f := r.Frame()
		if sink, err = json.Marshal(f.Data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(sink)), "frame-B")
}
