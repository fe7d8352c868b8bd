package albertshare

import (
	"encoding/json"
	"testing"

	"github.com/paramshare/paramshare/run"
)

var sink []byte

func benchRace(b *testing.B, v run.Values) {
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
		f := r.Frame()
		if sink, err = json.Marshal(f.Data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(sink)), "frame-B")
}

// BenchmarkRaceStep is one race step (four training steps on the same
// batch, four probes, the evaluations amortized) and its frame encoded,
// at the defaults and at the costliest values (6 blocks, d = 32).
func BenchmarkRaceStep(b *testing.B) {
	s, _ := run.Lookup(Name)
	b.Run("defaults", func(b *testing.B) { benchRace(b, run.Defaults(s.Fields)) })
	b.Run("costliest", func(b *testing.B) { benchRace(b, s.CostliestValues()) })
}
