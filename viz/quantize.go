package viz

import (
	"encoding/base64"
	"fmt"
	"math"
	"slices"
)

// Quantized is an array of values sent to a browser compactly: each value is
// one byte on a linear scale from Min (code 0) to Max (code QuantLevels-1),
// and the bytes travel base64-encoded. A 28×28 feature map takes ~1.1 kB
// instead of the 6–15 kB its float64 JSON would. Code QuantMissing stands
// for NaN (a value not computed yet). The JSON field names are what
// web/static/widgets/quant.js decodes.
//
// Quantization is for drawing: the largest error is (Max−Min)/(2·(QuantLevels−1)),
// under 0.2 % of the range. Numbers a lesson prints as text travel as plain
// float64 beside it.
//
// Exact zero stays visible on a scale that starts at it (Min == 0, as for
// sizes and norms): code 0 then decodes to exactly 0 and is given only to
// values that are exactly 0 (or below the range, clamped); a positive value
// too small to leave code 0 takes code 1, so its error is under one step
// instead of half. A lesson can then tell "contributed nothing" from
// "contributed a little".
type Quantized struct {
	Shape []int   `json:"shape"`
	Min   float64 `json:"min"`
	Max   float64 `json:"max"`
	Data  string  `json:"q"`
}

// QuantLevels is the number of byte codes used for values; QuantMissing is
// the code of a NaN.
const (
	QuantLevels  = 255
	QuantMissing = 255
)

// Quantize encodes values (row-major, of the given shape) on the scale of
// their own finite minimum and maximum. It panics if len(values) does not
// match shape.
func Quantize(values []float64, shape ...int) Quantized {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range values {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	if lo > hi { // nothing finite
		lo, hi = 0, 0
	}
	return QuantizeRange(values, lo, hi, shape...)
}

// QuantizeRange encodes values on the fixed scale [lo, hi] (values outside
// are clamped), so that frames of one run share a colour scale. With lo ==
// 0, only values ≤ 0 take code 0 (see Quantized). It panics
// if len(values) does not match shape or hi < lo.
func QuantizeRange(values []float64, lo, hi float64, shape ...int) Quantized {
	n := 1
	for _, d := range shape {
		n *= d
	}
	if n != len(values) {
		panic(fmt.Sprintf("viz: Quantize: %d values for shape %v", len(values), shape))
	}
	if hi < lo || math.IsNaN(lo) || math.IsNaN(hi) {
		panic(fmt.Sprintf("viz: Quantize: bad range [%v, %v]", lo, hi))
	}
	codes := make([]byte, n)
	span := hi - lo
	for i, v := range values {
		switch {
		case math.IsNaN(v):
			codes[i] = QuantMissing
		case span == 0:
			codes[i] = 0
		default:
			t := (v - lo) / span * (QuantLevels - 1)
			codes[i] = byte(math.Round(min(max(t, 0), QuantLevels-1)))
			if codes[i] == 0 && lo == 0 && v > 0 {
				codes[i] = 1 // code 0 of a scale from 0 means exactly 0
			}
		}
	}
	return Quantized{Shape: slices.Clone(shape), Min: lo, Max: hi, Data: base64.StdEncoding.EncodeToString(codes)}
}

// Values decodes q back to float64s (NaN for missing values). It returns an
// error if the data is not valid base64 or does not match the shape.
func (q Quantized) Values() ([]float64, error) {
	codes, err := base64.StdEncoding.DecodeString(q.Data)
	if err != nil {
		return nil, fmt.Errorf("viz: quantized data: %w", err)
	}
	n := 1
	for _, d := range q.Shape {
		n *= d
	}
	if len(codes) != n {
		return nil, fmt.Errorf("viz: quantized data has %d values for shape %v", len(codes), q.Shape)
	}
	out := make([]float64, n)
	step := (q.Max - q.Min) / (QuantLevels - 1)
	for i, c := range codes {
		if c == QuantMissing {
			out[i] = math.NaN()
			continue
		}
		out[i] = q.Min + float64(c)*step
	}
	return out, nil
}
