package e2e

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"sync"
	"testing"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/experiments/convslide"
	"github.com/paramshare/paramshare/lab"
	"github.com/paramshare/paramshare/run"
)

// What the pages must show, computed here with the engine and lab directly
// (not through the experiments' runs): the numbers on screen are checked
// against these.

// specValues decodes raw (a widget's parameters, as JSON) onto the
// experiment's defaults with its spec's one decoder.
func specValues(t *testing.T, experiment, raw string) run.Values {
	t.Helper()
	spec, ok := run.Lookup(experiment)
	if !ok {
		t.Fatalf("no experiment %q registered", experiment)
	}
	v, err := spec.Decode(nil, []byte(raw))
	if err != nil {
		t.Fatalf("%s %s: %v", experiment, raw, err)
	}
	return v
}

// slideParams are conv-slide's parameters.
type slideParams struct {
	Digit                     int
	Preset                    string
	Stride, Padding, Dilation int
}

// forward computes the conv-slide output map directly with the engine: a
// 3×3 Conv2d, 1 channel in and out, the preset's weights and bias 0, on
// the embedded test digit.
func forward(t *testing.T, p slideParams) *engine.Tensor {
	t.Helper()
	conv, err := engine.NewConv2d("direct", engine.Conv2dConfig{InChannels: 1, OutChannels: 1, KernelSize: 3, Stride: p.Stride, Padding: p.Padding, Dilation: p.Dilation}, engine.NewRand(42))
	if err != nil {
		t.Fatal(err)
	}
	k, ok := convslide.Preset(p.Preset)
	if !ok {
		t.Fatalf("no preset %q", p.Preset)
	}
	copy(conv.Weight.Value.Data, k[:])
	conv.Bias.Value.Data[0] = 0
	return conv.Forward(lab.TestSet().Image(p.Digit), nil)
}

// gradPass is one backward pass of conv-grad's network, from the engine:
// dW is the shared kernel's gradient, contrib the contribution of each
// output position (raster order) as the engine's Recorder reports it.
type gradPass struct {
	dW      [9]float64
	db      float64
	contrib [][9]float64
}

// sum adds the first k contributions in position order, as a learner
// stepping k positions sees them added.
func (g gradPass) sum(k int) []float64 {
	var s [9]float64
	for _, c := range g.contrib[:k] {
		for i, v := range c {
			s[i] += v
		}
	}
	return s[:]
}

// convGrad builds conv-grad's network — conv 3×3 (1 channel, padding 1,
// the seed's initialisation, then the preset's kernel and bias 0) →
// flatten → linear 784→10 (the same seeded generator) → cross-entropy with
// the digit's label — and runs one ComputeGrad with a Recorder of the
// kernel's per-position uses.
func convGrad(t *testing.T, digit int, kernel string, seed uint64) gradPass {
	t.Helper()
	im := lab.TestSet()
	rng := engine.NewRand(seed)
	conv, err := engine.NewConv2d("conv", engine.Conv2dConfig{InChannels: 1, OutChannels: 1, KernelSize: 3, Stride: 1, Padding: 1}, rng)
	if err != nil {
		t.Fatal(err)
	}
	if kernel != "random" {
		k, ok := convslide.Preset(kernel)
		if !ok {
			t.Fatalf("no preset %q", kernel)
		}
		copy(conv.Weight.Value.Data, k[:])
		conv.Bias.Value.Data[0] = 0
	}
	fc, err := engine.NewLinear("fc", im.H*im.W, 10, rng)
	if err != nil {
		t.Fatal(err)
	}
	model, err := engine.NewModel("direct", []int{1, im.H, im.W}, engine.NewCrossEntropy(), conv, engine.NewFlatten("flatten"), fc)
	if err != nil {
		t.Fatal(err)
	}
	x, target := im.Batch([]int{digit})
	rec := engine.NewRecorder(engine.RecordFilter{Params: []*engine.Param{conv.Weight}, Kinds: []engine.UseKind{engine.UsePosition}})
	if _, err := model.ComputeGrad(x, target, rec); err != nil {
		t.Fatal(err)
	}
	var g gradPass
	copy(g.dW[:], conv.Weight.Grad.Data)
	g.db = conv.Bias.Grad.Data[0]
	for _, u := range rec.Uses(conv.Weight, engine.UsePosition) {
		var c [9]float64
		copy(c[:], u.Grad.Data)
		g.contrib = append(g.contrib, c)
	}
	if len(g.contrib) != im.H*im.W {
		t.Fatalf("the engine reported %d positions, want %d", len(g.contrib), im.H*im.W)
	}
	return g
}

// digitBudget is the training the draw-digit models get in a test binary:
// one epoch over the first 1,000 training digits, measured on 200 test
// digits, unless PARAMSHARE_DRAW_FULL asks for the server's (two epochs
// over all of them, measured on all 1,000).
func digitBudget() (trainSize, epochs int) {
	if os.Getenv("PARAMSHARE_DRAW_FULL") != "" {
		return lab.MaxTrainSize, 2
	}
	return 1000, 1
}

// digitModels are the three draw-digit models trained here with lab, as
// the server trains them (lab's default configuration of each model on the
// budget's digits): the same configuration gives the same weights.
var digitModels = sync.OnceValues(func() (map[string]*lab.Trainer, error) {
	size, epochs := digitBudget()
	out := map[string]*lab.Trainer{}
	for _, name := range lab.Models() {
		cfg := lab.DefaultTrainConfig(name)
		cfg.TrainSize = size
		tr, err := lab.NewTrainer(cfg)
		if err != nil {
			return nil, err
		}
		for range epochs * tr.StepsPerEpoch() {
			if _, err := tr.Step(); err != nil {
				return nil, err
			}
		}
		out[name] = tr
	}
	return out, nil
})

// digitProbs runs the model trained here on the 28×28 input the models
// read (preprocessed bytes) and returns its softmax.
func digitProbs(t *testing.T, model string, in []byte) []float64 {
	t.Helper()
	ms, err := digitModels()
	if err != nil {
		t.Fatalf("training the digit models: %v", err)
	}
	x := engine.NewTensor(1, 1, 28, 28)
	for i, v := range in {
		x.Data[i] = float64(v) / 255
	}
	return engine.Softmax(ms[model].Model().Forward(x, nil).Data)
}

// digitInput is the 28×28 image the draw-digit models read for a drawing:
// draw-digit's own preprocessing (centring like MNIST, then the shift),
// asked of a fresh experiment built from the spec with the drawing's
// parameters. Its predictions are not used: digitProbs computes them.
func digitInput(t *testing.T, pixels string, center bool, shift int) []byte {
	t.Helper()
	raw, _ := json.Marshal(map[string]any{"pixels": pixels, "digit": -1, "center": center, "shift": shift})
	spec, _ := run.Lookup("draw-digit")
	exp, err := spec.New(specValues(t, "draw-digit", string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(exp.Frame().Data)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Input string `json:"input"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	in, err := base64.StdEncoding.DecodeString(d.Input)
	if err != nil || len(in) != 28*28 {
		t.Fatalf("draw-digit's frame input is not 784 bytes of base64: %q (%v)", d.Input, err)
	}
	return in
}
