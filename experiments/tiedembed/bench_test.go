package tiedembed

import (
	"encoding/json"
	"testing"

	"github.com/paramshare/paramshare/run"
)

var sink []byte

func benchStep(b *testing.B, v run.Values) {
	r, err := newRace(v)
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
		if sink, err = json.Marshal(r.Frame().Data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(sink)), "frame-B")
}

// BenchmarkRaceStep is one race step (both models, the ledger, the
// perplexities the schedule owes amortized) and its frame encoded, at the
// defaults and at the costliest values (d 48, batch 16).
func BenchmarkRaceStep(b *testing.B) {
	b.Run("defaults", func(b *testing.B) { benchStep(b, defaults(b)) })
	b.Run("costliest", func(b *testing.B) {
		s, _ := run.Lookup(Name)
		benchStep(b, s.CostliestValues())
	})
}
