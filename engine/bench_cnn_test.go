package engine

import (
	"testing"
)

// The CNN step benchmark: one training step (forward, backward, SGD update)
// of a small MNIST-shaped CNN on a batch of 32 float64 images.
//
// Run it on ONE goroutine, the figure it is meant to give:
//
//	go test ./engine -run XXX -bench StepCNN -benchmem -cpu 1 -benchtime 50x
//
// gemm keeps gonum's Dgemm on its serial path, so no layer starts a
// goroutine whatever GOMAXPROCS is; -cpu 1 makes that explicit and keeps the
// figure one core's. Besides ns/op (wall time, which on a shared machine
// includes waiting for a core) it reports cpu-ns/op, the process's CPU time
// per step, and GFLOP/s from wall time.
//
// FLOPs per step: the model's Count().Uses is the multiply-adds per example
// of the forward pass (conv1 8·28·28·9 = 56,448; conv2 16·14·14·72 =
// 225,792; fc 784·10 = 7,840; total 290,080). Backward does the same work
// twice more (dW and dx, conv1's dx included since the layer computes it),
// and a multiply-add is 2 FLOPs: 2·3·32·290,080 = 55,695,360 ≈ 56 MFLOP.
// Activations, pooling, softmax and the update are left out (< 1 MFLOP).

// benchLossSink keeps the last loss so the step cannot be optimised away.
var benchLossSink float64

// benchTrainStep times one training step of m on (x, target) — forward,
// backward with tap (may be nil), optimizer update — after one untimed step
// that lets every layer and the optimizer make their buffers, so the
// figures are the steady state a training run lives in. It reports
// allocations, the process's CPU time per step (on a shared machine wall
// time includes waiting for a core; CPU time does not) and, when flops > 0,
// GFLOP/s for flops per step.
func benchTrainStep(b *testing.B, m *Model, x, target *Tensor, tap Tap, opt Optimizer, flops float64) {
	b.Helper()
	step := func() {
		loss, err := m.ComputeGrad(x, target, tap)
		if err != nil {
			b.Fatal(err)
		}
		opt.Step(m.Params())
		benchLossSink = loss
	}
	step()
	b.ReportAllocs()
	cpuBefore := processCPU()
	b.ResetTimer()
	for b.Loop() {
		step()
	}
	cpu := processCPU() - cpuBefore
	if flops > 0 {
		b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	}
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

func newBenchCNN(b *testing.B) *Model {
	b.Helper()
	rng := NewRand(1)
	conv1, err := NewConv2d("conv1", Conv2dConfig{InChannels: 1, OutChannels: 8, KernelSize: 3, Padding: 1}, rng)
	if err != nil {
		b.Fatal(err)
	}
	pool1, err := NewMaxPool2d("pool1", 2, 2)
	if err != nil {
		b.Fatal(err)
	}
	conv2, err := NewConv2d("conv2", Conv2dConfig{InChannels: 8, OutChannels: 16, KernelSize: 3, Padding: 1}, rng)
	if err != nil {
		b.Fatal(err)
	}
	pool2, err := NewMaxPool2d("pool2", 2, 2)
	if err != nil {
		b.Fatal(err)
	}
	fc, err := NewLinear("fc", 16*7*7, 10, rng)
	if err != nil {
		b.Fatal(err)
	}
	m, err := NewModel("cnn", []int{1, 28, 28}, NewCrossEntropy(),
		conv1, NewReLU("relu1"), pool1, conv2, NewReLU("relu2"), pool2, NewFlatten("flatten"), fc)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// nopTap observes nothing; it makes the layers do their tap work (per
// position contributions) so its cost can be compared.
type nopTap struct{}

func (nopTap) Output(Layer, *Tensor, *Tensor) {}
func (nopTap) Contribute(Contribution)        {}

func benchmarkStepCNN(b *testing.B, tap Tap) {
	const batch = 32
	m := newBenchCNN(b)
	x := randTensor(2, batch, 1, 28, 28)
	target := classTargets(3, 10, batch)
	benchTrainStep(b, m, x, target, tap, NewSGD(0.01, 0.9), float64(2*3*batch*m.Count().Uses))
}

func BenchmarkStepCNN(b *testing.B)    { benchmarkStepCNN(b, nil) }
func BenchmarkStepCNNTap(b *testing.B) { benchmarkStepCNN(b, nopTap{}) }
