package code_test

import (
	"math"
	"testing"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/engine/data"
)

// TestOneKernelEveryCell is lesson 2's "In code" in our engine: the
// widget's vertical-edge kernel on test digit 0 with stride, padding and
// dilation as in the widget, and every output cell made again by hand from
// its own patch and the same ten numbers.
func TestOneKernelEveryCell(t *testing.T) {
	for _, g := range []struct{ stride, padding, dilation int }{{1, 1, 1}, {2, 0, 2}, {3, 2, 1}} {
		x, _ := data.MNISTTest().Batch([]int{0}) // pixels / 255
		// in-code:begin cells
		cfg := engine.Conv2dConfig{InChannels: 1, OutChannels: 1,
			KernelSize: 3, Stride: g.stride, Padding: g.padding,
			Dilation: g.dilation}
		conv, _ := engine.NewConv2d("conv", cfg, engine.NewRand(1))
		w := conv.Weight.Value.Data
		copy(w, []float64{-1, 0, 1, -2, 0, 2, -1, 0, 1}) // vertical edge
		conv.Bias.Value.Data[0] = 0
		y := conv.Forward(x, nil) // [1, 1, outH, outW]

		oh, ow := y.Shape[2], y.Shape[3]
		byHand := make([]float64, oh*ow)
		for oy := range oh {
			for ox := range ow {
				sum := conv.Bias.Value.Data[0] // the same bias…
				for ky := range 3 {
					for kx := range 3 {
						iy := oy*g.stride - g.padding + ky*g.dilation
						ix := ox*g.stride - g.padding + kx*g.dilation
						if iy >= 0 && iy < 28 && ix >= 0 && ix < 28 {
							// …and the same 9 weights
							sum += w[ky*3+kx] * x.Data[iy*28+ix]
						}
					}
				}
				byHand[oy*ow+ox] = sum
			}
		}
		// in-code:end cells
		for i, v := range byHand {
			if math.Abs(y.Data[i]-v) > 1e-12 {
				t.Fatalf("%+v: cell %d: engine %g, by hand %g", g, i, y.Data[i], v)
			}
		}
		if want := (28+2*g.padding-2*g.dilation-1)/g.stride + 1; oh != want || ow != want {
			t.Fatalf("%+v: output %d×%d, want %d×%d", g, oh, ow, want, want)
		}
	}
}
