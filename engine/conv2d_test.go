package engine

import (
	"math"
	"slices"
	"strings"
	"testing"
)

// convConfigs are the geometries every conv test runs: padding, stride,
// dilation, groups, a non-square image and combinations of them.
var convConfigs = []struct {
	name string
	cfg  Conv2dConfig
	h, w int
}{
	{"basic", Conv2dConfig{InChannels: 2, OutChannels: 3, KernelSize: 3, Padding: 1}, 5, 5},
	{"stride2pad1", Conv2dConfig{InChannels: 2, OutChannels: 2, KernelSize: 3, Stride: 2, Padding: 1}, 7, 6},
	{"dilation2", Conv2dConfig{InChannels: 1, OutChannels: 2, KernelSize: 3, Dilation: 2}, 7, 8},
	{"groups2", Conv2dConfig{InChannels: 4, OutChannels: 6, KernelSize: 2, Groups: 2}, 4, 5},
	{"all", Conv2dConfig{InChannels: 4, OutChannels: 4, KernelSize: 3, Stride: 2, Padding: 2, Dilation: 2, Groups: 2}, 6, 5},
	{"kernel1", Conv2dConfig{InChannels: 3, OutChannels: 2, KernelSize: 1}, 3, 4},
	{"bigpad", Conv2dConfig{InChannels: 1, OutChannels: 1, KernelSize: 2, Stride: 3, Padding: 3}, 2, 3},
}

// naiveConv is the convolution written as its definition, to check the
// im2col + gemm version against.
func naiveConv(l *Conv2d, x *Tensor) *Tensor {
	c := l.Config()
	bsz, ch, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	oh := Conv2dOutSize(h, c.KernelSize, c.Stride, c.Padding, c.Dilation)
	ow := Conv2dOutSize(w, c.KernelSize, c.Stride, c.Padding, c.Dilation)
	cg, ocg, k := ch/c.Groups, c.OutChannels/c.Groups, c.KernelSize
	y := NewTensor(bsz, c.OutChannels, oh, ow)
	for b := range bsz {
		for o := range c.OutChannels {
			for oy := range oh {
				for ox := range ow {
					sum := l.Bias.Value.Data[o]
					for ci := range cg {
						in := o/ocg*cg + ci
						for ky := range k {
							for kx := range k {
								iy := oy*c.Stride - c.Padding + ky*c.Dilation
								ix := ox*c.Stride - c.Padding + kx*c.Dilation
								if iy < 0 || iy >= h || ix < 0 || ix >= w {
									continue
								}
								sum += l.Weight.Value.Data[((o*cg+ci)*k+ky)*k+kx] * x.Data[((b*ch+in)*h+iy)*w+ix]
							}
						}
					}
					y.Data[((b*c.OutChannels+o)*oh+oy)*ow+ox] = sum
				}
			}
		}
	}
	return y
}

func TestConv2dMatchesDefinition(t *testing.T) {
	for i, tc := range convConfigs {
		l, err := NewConv2d("conv", tc.cfg, NewRand(uint64(i)))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		x := randTensor(uint64(10+i), 2, tc.cfg.InChannels, tc.h, tc.w)
		got, want := l.Forward(x, nil), naiveConv(l, x)
		if !got.SameShape(want) {
			t.Fatalf("%s: shape %v, want %v", tc.name, got.Shape, want.Shape)
		}
		if e := relErr(got.Data, want.Data); e > 1e-14 {
			t.Errorf("%s: forward differs from the definition by %.3g", tc.name, e)
		}
		out, err := l.OutShape(tc.cfg.shapeFor(tc.h, tc.w))
		if err != nil || out[1] != got.Shape[2] || out[2] != got.Shape[3] {
			t.Errorf("%s: OutShape %v, %v; Forward gave %v", tc.name, out, err, got.Shape)
		}
	}
}

func (c Conv2dConfig) shapeFor(h, w int) []int { return []int{c.InChannels, h, w} }

func TestConv2dByHand(t *testing.T) {
	l, err := NewConv2d("conv", Conv2dConfig{InChannels: 1, OutChannels: 1, KernelSize: 2}, NewRand(1))
	if err != nil {
		t.Fatal(err)
	}
	copy(l.Weight.Value.Data, []float64{1, 2, 3, 4})
	l.Bias.Value.Data[0] = 0.5
	x := TensorFrom([]float64{1, 2, 3, 4, 5, 6, 7, 8, 9}, 1, 1, 3, 3)
	// (0,0): 1·1+2·2+4·3+5·4 = 37; (0,1): 2+6+15+24 = 47;
	// (1,0): 4+10+21+32 = 67;     (1,1): 5+12+24+36 = 77; each + 0.5.
	want := []float64{37.5, 47.5, 67.5, 77.5}
	y := l.Forward(x, nil)
	for i, v := range want {
		if y.Data[i] != v {
			t.Fatalf("y = %v, want %v", y.Data, want)
		}
	}
	// dy = 1 everywhere: dW[ky,kx] = sum of the 2×2 window starting at
	// (ky,kx) = 12, 16, 24, 28; db = 4; dx counts the windows each pixel
	// is in, weighted: dx[1,1] = 1+2+3+4.
	l.Bias.Grad.Zero()
	l.Weight.Grad.Zero()
	dx := l.Backward(TensorFrom([]float64{1, 1, 1, 1}, 1, 1, 2, 2), nil)
	for i, v := range []float64{12, 16, 24, 28} {
		if l.Weight.Grad.Data[i] != v {
			t.Fatalf("dW = %v, want [12 16 24 28]", l.Weight.Grad.Data)
		}
	}
	if l.Bias.Grad.Data[0] != 4 {
		t.Errorf("db = %v, want 4", l.Bias.Grad.Data[0])
	}
	wantDx := []float64{1, 3, 2, 4, 10, 6, 3, 7, 4}
	for i, v := range wantDx {
		if dx.Data[i] != v {
			t.Fatalf("dx = %v, want %v", dx.Data, wantDx)
		}
	}

	// With padding 1 the output is 4×4 and the corner sees only x[0,0]
	// through the kernel's last tap.
	lp, _ := NewConv2d("pad", Conv2dConfig{InChannels: 1, OutChannels: 1, KernelSize: 2, Padding: 1}, NewRand(1))
	copy(lp.Weight.Value.Data, []float64{1, 2, 3, 4})
	lp.Bias.Value.Data[0] = 0
	yp := lp.Forward(x, nil)
	if yp.Shape[2] != 4 || yp.Data[0] != 4 || yp.Data[15] != 9 {
		t.Errorf("padded conv: shape %v, corners %v and %v, want 4 and 9", yp.Shape, yp.Data[0], yp.Data[15])
	}
}

func TestConv2dGrads(t *testing.T) {
	for i, tc := range convConfigs {
		t.Run(tc.name, func(t *testing.T) {
			l, err := NewConv2d("conv", tc.cfg, NewRand(uint64(i)))
			if err != nil {
				t.Fatal(err)
			}
			checkLayerGrads(t, l, randTensor(uint64(20+i), 2, tc.cfg.InChannels, tc.h, tc.w), gradCheckOpts{})
		})
	}
}

func TestConv2dTapPositions(t *testing.T) {
	for i, tc := range convConfigs {
		t.Run(tc.name, func(t *testing.T) {
			l, err := NewConv2d("conv", tc.cfg, NewRand(uint64(i)))
			if err != nil {
				t.Fatal(err)
			}
			tap := checkTapSums(t, l, randTensor(uint64(30+i), 3, tc.cfg.InChannels, tc.h, tc.w))
			out, _ := l.OutShape(tc.cfg.shapeFor(tc.h, tc.w))
			positions := out[1] * out[2]
			if got := useCounts(tap)[UsePosition]; got != 2*positions {
				t.Errorf("%d position contributions, want %d per param", got, positions)
			}
			for _, np := range l.Params() {
				if tap.Sum(np.Param, UsePosition) == nil {
					t.Errorf("no position contributions for %s", np.Local)
				}
			}
		})
	}
}

func TestConv2dPositionContributionIsPatchTimesGrad(t *testing.T) {
	l, _ := NewConv2d("conv", Conv2dConfig{InChannels: 1, OutChannels: 1, KernelSize: 2}, NewRand(1))
	x := TensorFrom([]float64{1, 2, 3, 4, 5, 6, 7, 8, 9}, 1, 1, 3, 3)
	tap := NewRecorder(RecordFilter{Params: []*Param{l.Weight}, Kinds: []UseKind{UsePosition}})
	l.Forward(x, tap)
	l.Backward(TensorFrom([]float64{0, 0, 2, 0}, 1, 1, 2, 2), tap)
	uses := tap.Uses(l.Weight, UsePosition)
	if len(uses) != 4 || len(tap.Contributions()) != 4 {
		t.Fatalf("%d weight uses of %d recorded, want the 4 positions only", len(uses), len(tap.Contributions()))
	}
	// Position (1,0) — third in row-major order — sees the patch [4 5; 7 8]
	// and has upstream gradient 2.
	got := uses[2]
	if !slices.Equal(got.Index, []int{1, 0}) || !slices.Equal(got.Grad.Data, []float64{8, 10, 14, 16}) {
		t.Fatalf("contribution at %v = %v, want (1,0): [8 10 14 16]", got.Index, got.Grad.Data)
	}
}

func TestConv2dTerms(t *testing.T) {
	for i, tc := range convConfigs {
		l, _ := NewConv2d("conv", tc.cfg, NewRand(uint64(i)))
		x := randTensor(uint64(40+i), 2, tc.cfg.InChannels, tc.h, tc.w)
		y := l.Forward(x, nil)
		oc, oh, ow := y.Shape[1], y.Shape[2], y.Shape[3]
		sawPadding := false
		for _, cell := range [][4]int{{0, 0, 0, 0}, {1, oc - 1, oh - 1, ow - 1}, {1, oc / 2, oh / 2, ow - 1}} {
			terms := l.Terms(x, cell[0], cell[1], cell[2], cell[3])
			if want := tc.cfg.InChannels / l.Config().Groups * tc.cfg.KernelSize * tc.cfg.KernelSize; len(terms) != want {
				t.Fatalf("%s: %d terms, want %d", tc.name, len(terms), want)
			}
			sum := l.Bias.Value.Data[cell[1]]
			for _, term := range terms {
				sum += term.Product
				sawPadding = sawPadding || term.Padding
				if term.Padding && term.Input != 0 {
					t.Errorf("%s: padding term with input %v", tc.name, term.Input)
				}
			}
			got := y.Data[((cell[0]*oc+cell[1])*oh+cell[2])*ow+cell[3]]
			if math.Abs(sum-got) > 1e-14 {
				t.Errorf("%s: cell %v: terms sum to %v, Forward gave %v", tc.name, cell, sum, got)
			}
		}
		if tc.cfg.Padding > 0 && !sawPadding {
			t.Errorf("%s: no term was marked as padding at the corner", tc.name)
		}
	}
}

func TestConv2dErrors(t *testing.T) {
	rng := NewRand(1)
	bad := []Conv2dConfig{
		{InChannels: 0, OutChannels: 2, KernelSize: 3},
		{InChannels: 1, OutChannels: 0, KernelSize: 3},
		{InChannels: 1, OutChannels: 2, KernelSize: 0},
		{InChannels: 1, OutChannels: 2, KernelSize: 3, Stride: -1},
		{InChannels: 1, OutChannels: 2, KernelSize: 3, Padding: -1},
		{InChannels: 1, OutChannels: 2, KernelSize: 3, Dilation: -2},
		{InChannels: 3, OutChannels: 6, KernelSize: 3, Groups: 2},
		{InChannels: 4, OutChannels: 6, KernelSize: 3, Groups: 4},
	}
	for _, cfg := range bad {
		if _, err := NewConv2d("c", cfg, rng); err == nil || !strings.HasPrefix(err.Error(), "engine: conv2d") {
			t.Errorf("NewConv2d(%+v): error %v", cfg, err)
		}
	}
	l, err := NewConv2d("c", Conv2dConfig{InChannels: 2, OutChannels: 2, KernelSize: 3, Padding: 1, Dilation: 3}, rng)
	if err != nil {
		t.Fatal(err)
	}
	// Dilated span 7 on a padded 6×6 input does not fit; on 5×5 padded to 7 it does.
	if _, err := l.OutShape([]int{2, 4, 4}); err == nil || !strings.Contains(err.Error(), "larger than the padded input") {
		t.Errorf("OutShape on a too small input: %v", err)
	}
	if out, err := l.OutShape([]int{2, 5, 5}); err != nil || out[1] != 1 {
		t.Errorf("OutShape([2 5 5]) = %v, %v; want [2 1 1]", out, err)
	}
	for _, in := range [][]int{{3, 8, 8}, {8, 8}, {2, 8, 8, 1}} {
		if _, err := l.OutShape(in); err == nil {
			t.Errorf("OutShape(%v) accepted", in)
		}
	}
	defer func() {
		if _, ok := recover().(ShapeError); !ok {
			t.Errorf("Forward on a wrong channel count did not panic with a ShapeError")
		}
	}()
	l.Forward(NewTensor(1, 3, 8, 8), nil)
}

func TestConv2dOutSize(t *testing.T) {
	for _, c := range []struct{ in, k, s, p, d, want int }{
		{28, 3, 1, 1, 1, 28}, {28, 3, 2, 1, 1, 14}, {7, 3, 1, 0, 2, 3}, {5, 3, 2, 0, 1, 2}, {2, 5, 1, 0, 1, 0}, {2, 5, 1, 2, 1, 2},
	} {
		if got := Conv2dOutSize(c.in, c.k, c.s, c.p, c.d); got != c.want {
			t.Errorf("Conv2dOutSize(%d, %d, %d, %d, %d) = %d, want %d", c.in, c.k, c.s, c.p, c.d, got, c.want)
		}
	}
}

func TestConv2dCount(t *testing.T) {
	l, _ := NewConv2d("c", Conv2dConfig{InChannels: 4, OutChannels: 6, KernelSize: 3, Padding: 1, Groups: 2}, NewRand(1))
	got := l.Count([]int{4, 10, 10})
	uses := 6 * 10 * 10 * 2 * 3 * 3
	if got.Uses != uses || got.Unshared != uses+6*10*10 {
		t.Errorf("Count = %+v, want uses %d, unshared %d", got, uses, uses+600)
	}
	lc, err := NewLocallyConnected2d("lc", Conv2dConfig{InChannels: 4, OutChannels: 6, KernelSize: 3, Padding: 1}, 10, 10, NewRand(1))
	if err != nil {
		t.Fatal(err)
	}
	// The unshared count of a conv with groups 1 is exactly its locally
	// connected twin's parameter count.
	full, _ := NewConv2d("c", Conv2dConfig{InChannels: 4, OutChannels: 6, KernelSize: 3, Padding: 1}, NewRand(1))
	if u, n := full.Count([]int{4, 10, 10}).Unshared, lc.Weight.Size()+lc.Bias.Size(); u != n {
		t.Errorf("conv unshared %d, locally connected params %d", u, n)
	}
}

// TestConv2dNoAllocs checks that a warm conv layer's Forward and Backward
// allocate nothing when no tap is attached: buffers are reused and gemm keeps
// gonum's Dgemm on its serial path.
func TestConv2dNoAllocs(t *testing.T) {
	l, _ := NewConv2d("c", Conv2dConfig{InChannels: 8, OutChannels: 16, KernelSize: 3, Padding: 1}, NewRand(1))
	x := randTensor(1, 8, 8, 14, 14)
	dy := randTensor(2, 8, 16, 14, 14)
	l.Forward(x, nil)
	l.Backward(dy, nil)
	allocs := testing.AllocsPerRun(10, func() {
		l.Forward(x, nil)
		l.Backward(dy, nil)
	})
	if allocs != 0 {
		t.Errorf("warm Forward+Backward allocated %v times per run, want 0", allocs)
	}
}

// checkAccumulates runs Backward twice on the same Forward and checks that
// the second pass added exactly the first pass's gradient on top of it: a
// layer must += into Param.Grad, never overwrite.
func checkAccumulates(t *testing.T, l Layer, x *Tensor) {
	t.Helper()
	zeroParams(l.Params())
	y := l.Forward(x, nil)
	dy := randTensor(11, y.Shape...)
	l.Backward(dy, nil)
	once := make([][]float64, len(l.Params()))
	for i, np := range l.Params() {
		once[i] = append([]float64(nil), np.Grad.Data...)
	}
	l.Backward(dy, nil)
	for i, np := range l.Params() {
		twice := make([]float64, len(once[i]))
		for j, v := range once[i] {
			twice[j] = 2 * v
		}
		if e := relErr(np.Grad.Data, twice); e > 1e-14 {
			t.Errorf("%s: %s gradient does not accumulate (relative error %.3g)", l.Spec().Name, np.Local, e)
		}
	}
}

func TestGradientsAccumulate(t *testing.T) {
	conv, _ := NewConv2d("conv", convConfigs[4].cfg, NewRand(1))
	checkAccumulates(t, conv, randTensor(1, 2, 4, 6, 5))
	lc, _ := NewLocallyConnected2d("lc", Conv2dConfig{InChannels: 2, OutChannels: 2, KernelSize: 3}, 5, 5, NewRand(1))
	checkAccumulates(t, lc, randTensor(2, 2, 2, 5, 5))
	fc, _ := NewLinear("fc", 4, 3, NewRand(1))
	checkAccumulates(t, fc, randTensor(3, 2, 5, 4))
}

// TestSmallCNNModelGrads checks a whole conv → relu → pool → conv → flatten →
// linear → cross-entropy model against finite differences of its loss.
func TestSmallCNNModelGrads(t *testing.T) {
	rng := NewRand(5)
	conv1, _ := NewConv2d("conv1", Conv2dConfig{InChannels: 1, OutChannels: 3, KernelSize: 3, Padding: 1}, rng)
	pool, _ := NewAvgPool2d("pool", 2, 2)
	conv2, _ := NewConv2d("conv2", Conv2dConfig{InChannels: 3, OutChannels: 4, KernelSize: 2, Stride: 2, Groups: 1}, rng)
	fc, _ := NewLinear("fc", 4*2*2, 3, rng)
	m, err := NewModel("cnn", []int{1, 8, 8}, NewCrossEntropy(),
		conv1, NewTanh("tanh"), pool, conv2, NewSigmoid("sig"), NewFlatten("flat"), fc)
	if err != nil {
		t.Fatal(err)
	}
	checkModelGrads(t, m, randTensor(6, 3, 1, 8, 8), classTargets(7, 3, 3), nil)
	c := m.Count()
	if want := 3*64*9 + 4*4*3*4 + 16*3; c.Uses != want { // conv1 8×8 positions, conv2 2×2, fc
		t.Errorf("model uses %d, want %d", c.Uses, want)
	}
}
