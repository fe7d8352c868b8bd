package viz

import (
	"encoding/json"
	"math"
	"testing"
)

func TestQuantizeRoundTrip(t *testing.T) {
	vals := []float64{-1.5, 0, 0.25, 2.5, math.NaN(), 1e-9, 2.5, -1.5}
	q := Quantize(vals, 2, 4)
	if q.Min != -1.5 || q.Max != 2.5 {
		t.Fatalf("range [%v, %v], want [-1.5, 2.5]", q.Min, q.Max)
	}
	got, err := q.Values()
	if err != nil {
		t.Fatal(err)
	}
	tol := (q.Max - q.Min) / (2 * (QuantLevels - 1))
	for i, v := range vals {
		if math.IsNaN(v) {
			if !math.IsNaN(got[i]) {
				t.Errorf("value %d: NaN came back as %v", i, got[i])
			}
			continue
		}
		if math.Abs(got[i]-v) > tol+1e-15 {
			t.Errorf("value %d: %v came back as %v (tolerance %v)", i, v, got[i], tol)
		}
	}
	// The extremes are exact: the colour scale's ends are where they were.
	if got[0] != -1.5 || got[3] != 2.5 {
		t.Errorf("extremes came back as %v and %v", got[0], got[3])
	}
}

func TestQuantizeRangeClampsAndConstant(t *testing.T) {
	q := QuantizeRange([]float64{-10, 0, 10}, -1, 1, 3)
	got, _ := q.Values()
	if got[0] != -1 || got[2] != 1 || math.Abs(got[1]) > 1.0/254 {
		t.Errorf("clamped values %v", got)
	}
	c := Quantize([]float64{3, 3, 3}, 3)
	if got, _ := c.Values(); got[0] != 3 || got[2] != 3 {
		t.Errorf("constant array came back as %v", got)
	}
	none := Quantize([]float64{math.NaN(), math.Inf(1)}, 2)
	if none.Min != 0 || none.Max != 0 {
		t.Errorf("no finite values: range [%v, %v]", none.Min, none.Max)
	}
}

func TestQuantizeIsCompact(t *testing.T) {
	vals := make([]float64, 28*28)
	for i := range vals {
		vals[i] = math.Sin(float64(i)) * 0.123456789
	}
	q, _ := json.Marshal(Quantize(vals, 28, 28))
	plain, _ := json.Marshal(vals)
	t.Logf("28×28 map: %d bytes quantized, %d bytes as float64 JSON", len(q), len(plain))
	if len(q) > 1200 || len(q)*5 > len(plain) {
		t.Errorf("quantized %d bytes vs plain %d: not compact", len(q), len(plain))
	}
}

func TestQuantizedValuesRejectsBadData(t *testing.T) {
	if _, err := (Quantized{Shape: []int{2}, Data: "!!"}).Values(); err == nil {
		t.Error("bad base64 accepted")
	}
	if _, err := (Quantized{Shape: []int{3}, Data: "AAA="}).Values(); err == nil {
		t.Error("length mismatch accepted")
	}
}

func TestQuantizePanicsOnShapeMismatch(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic for a shape mismatch")
		}
	}()
	Quantize([]float64{1, 2, 3}, 2, 2)
}
