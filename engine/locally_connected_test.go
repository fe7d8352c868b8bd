package engine

import (
	"strings"
	"testing"
)

func TestLocallyConnectedGrads(t *testing.T) {
	for i, tc := range []struct {
		cfg  Conv2dConfig
		h, w int
	}{
		{Conv2dConfig{InChannels: 2, OutChannels: 3, KernelSize: 3, Padding: 1}, 4, 4},
		{Conv2dConfig{InChannels: 1, OutChannels: 2, KernelSize: 2, Stride: 2, Padding: 1, Dilation: 2}, 5, 6},
	} {
		l, err := NewLocallyConnected2d("lc", tc.cfg, tc.h, tc.w, NewRand(uint64(i)))
		if err != nil {
			t.Fatal(err)
		}
		checkLayerGrads(t, l, randTensor(uint64(50+i), 2, tc.cfg.InChannels, tc.h, tc.w), gradCheckOpts{})
	}
}

// TestLocallyConnectedWithEqualKernelsIsConv copies one conv kernel to every
// position: the locally connected layer must then compute the convolution.
func TestLocallyConnectedWithEqualKernelsIsConv(t *testing.T) {
	cfg := Conv2dConfig{InChannels: 2, OutChannels: 3, KernelSize: 3, Stride: 2, Padding: 1}
	conv, _ := NewConv2d("conv", cfg, NewRand(1))
	lc, err := NewLocallyConnected2d("lc", cfg, 7, 6, NewRand(2))
	if err != nil {
		t.Fatal(err)
	}
	oh, ow, oc := lc.Weight.Value.Shape[0], lc.Weight.Value.Shape[1], lc.Weight.Value.Shape[2]
	for p := range oh * ow {
		copy(lc.Weight.Value.Data[p*conv.Weight.Size():], conv.Weight.Value.Data)
		for o := range oc {
			lc.Bias.Value.Data[o*oh*ow+p] = conv.Bias.Value.Data[o]
		}
	}
	x := randTensor(3, 2, 2, 7, 6)
	if e := relErr(lc.Forward(x, nil).Data, conv.Forward(x, nil).Data); e > 1e-14 {
		t.Errorf("locally connected with equal kernels differs from conv by %.3g", e)
	}
	if lcShape := lc.Bias.Value.Shape; lcShape[0] != 3 || lcShape[1] != 4 || lcShape[2] != 3 {
		t.Errorf("bias shape %v, want [3 4 3]", lcShape)
	}
	c := lc.Count([]int{2, 7, 6})
	if c.Unshared != lc.Weight.Size()+lc.Bias.Size() || c.Uses != conv.Count([]int{2, 7, 6}).Uses {
		t.Errorf("Count %+v", c)
	}
}

func TestLocallyConnectedErrors(t *testing.T) {
	rng := NewRand(1)
	if _, err := NewLocallyConnected2d("lc", Conv2dConfig{InChannels: 2, OutChannels: 2, KernelSize: 3, Groups: 2}, 5, 5, rng); err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Errorf("groups: %v", err)
	}
	if _, err := NewLocallyConnected2d("lc", Conv2dConfig{InChannels: 1, OutChannels: 2, KernelSize: 5}, 4, 4, rng); err == nil {
		t.Errorf("kernel larger than the input accepted")
	}
	if _, err := NewLocallyConnected2d("lc", Conv2dConfig{InChannels: 1, OutChannels: 2, KernelSize: 1}, 0, 4, rng); err == nil {
		t.Errorf("zero height accepted")
	}
	if _, err := NewLocallyConnected2d("lc", Conv2dConfig{InChannels: 1, OutChannels: 0, KernelSize: 1}, 3, 3, rng); err == nil {
		t.Errorf("zero channels accepted")
	}
	l, _ := NewLocallyConnected2d("lc", Conv2dConfig{InChannels: 1, OutChannels: 2, KernelSize: 3}, 5, 5, rng)
	if _, err := l.OutShape([]int{1, 6, 5}); err == nil {
		t.Errorf("OutShape accepted another image size")
	}
}
