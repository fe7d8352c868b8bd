package engine

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/paramshare/paramshare/internal/pytorch"
)

func TestGlobalAvgPoolGrads(t *testing.T) {
	g := NewGlobalAvgPool2d("gap")
	for _, shape := range [][]int{{2, 3, 4, 5}, {1, 1, 1, 1}, {3, 2, 7, 7}} {
		checkLayerGrads(t, g, randTensor(uint64(shape[3]), shape...), gradCheckOpts{})
	}
}

func TestGlobalAvgPoolByHand(t *testing.T) {
	x := TensorFrom([]float64{
		1, 2, 3, // plane (0, 0)
		4, 5, 6,
		-1, -1, -1, // plane (0, 1)
		2, 2, 8,
	}, 1, 2, 2, 3)
	g := NewGlobalAvgPool2d("gap")
	y := g.Forward(x, nil)
	if !slices.Equal(y.Shape, []int{1, 2}) || y.Data[0] != 3.5 || y.Data[1] != 1.5 {
		t.Fatalf("global average = %v %v, want [3.5 1.5] of shape [1 2]", y.Shape, y.Data)
	}
	dx := g.Backward(TensorFrom([]float64{6, -12}, 1, 2), nil)
	for i, v := range dx.Data {
		if want := map[bool]float64{true: 1, false: -2}[i < 6]; v != want {
			t.Fatalf("dx = %v, want six 1s then six −2s", dx.Data)
		}
	}
	// Moving a feature inside the plane changes nothing: the invariance
	// the lesson shows.
	moved := TensorFrom([]float64{6, 5, 4, 3, 2, 1, 8, -1, 2, -1, 2, -1}, 1, 2, 2, 3)
	if y2 := g.Forward(moved, nil); y2.Data[0] != 3.5 || y2.Data[1] != 1.5 {
		t.Errorf("permuted planes give %v, want the same means", y2.Data)
	}
}

func TestGlobalAvgPoolShapes(t *testing.T) {
	g := NewGlobalAvgPool2d("gap")
	if s := g.Spec(); s.Type != "global_avg_pool2d" || len(s.Attrs) != 0 || s.Attrs == nil {
		t.Errorf("spec %+v", s)
	}
	if out, err := g.OutShape([]int{16, 7, 7}); err != nil || !slices.Equal(out, []int{16}) {
		t.Errorf("OutShape([16 7 7]) = %v, %v", out, err)
	}
	for _, in := range [][]int{{16, 7}, {16, 0, 7}, {1, 2, 3, 4}} {
		if _, err := g.OutShape(in); err == nil {
			t.Errorf("OutShape(%v) accepted", in)
		}
	}
	defer func() {
		if _, ok := recover().(ShapeError); !ok {
			t.Error("a 3-D input did not panic with a ShapeError")
		}
	}()
	g.Forward(NewTensor(2, 3, 4), nil)
}

// gapCNN is the small CNN with global average pooling in place of the
// flatten.
func gapCNN() (*Model, error) {
	return NewCNN("cnn-gap", CNNConfig{Size: 8, Channels1: 2, Channels2: 3, Classes: 4, GlobalPool: true}, 1)
}

func smallImages() *Tensor {
	images := randTensor(11, 2, 1, 8, 8)
	for i := range images.Data {
		images.Data[i] = 0.5 + 0.5*images.Data[i]
	}
	return images
}

// TestGlobalPoolCNN checks the model CNNConfig.GlobalPool builds: the
// layers, the parameter count (conv1 + conv2 + a classifier on C2 means),
// the gradients, and that the convolutions are drawn exactly as the plain
// CNN's (the same seed gives the same trunk).
func TestGlobalPoolCNN(t *testing.T) {
	m, err := gapCNN()
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, l := range m.Layers {
		types = append(types, l.Spec().Type)
	}
	want := []string{"conv2d", "relu", "maxpool2d", "conv2d", "relu", "maxpool2d", "global_avg_pool2d", "linear"}
	if !slices.Equal(types, want) {
		t.Fatalf("layers %v, want %v", types, want)
	}
	if c := m.Count(); c.Params != (2*9+2)+(3*2*9+3)+(3*4+4) {
		t.Errorf("params %d, want %d", c.Params, (2*9+2)+(3*2*9+3)+(3*4+4))
	}
	plain, _ := NewCNN("cnn", CNNConfig{Size: 8, Channels1: 2, Channels2: 3, Classes: 4}, 1)
	for i := range 2 {
		a, b := m.Params()[i], plain.Params()[i]
		if !slices.Equal(a.Value.Data, b.Value.Data) {
			t.Errorf("%s differs from the plain CNN's with the same seed", a.Name)
		}
	}
	checkModelGrads(t, m, smallImages(), classTargets(2, 4, 2), nil)
	d, _ := BuildModel("cnn", 1)
	if c := d.Count(); c.Params != 9098 {
		t.Errorf("the default cnn has %d params, want 9,098 (GlobalPool false must leave it alone)", c.Params)
	}
	full, err := NewCNN("cnn-gap", CNNConfig{Size: 28, Channels1: 8, Channels2: 16, Classes: 10, GlobalPool: true}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if c := full.Count(); c.Params != 80+1168+170 {
		t.Errorf("28×28 cnn-gap has %d params, want 1,418", c.Params)
	}
}

// checkTraceRoundTrip writes m's trace on x, target, reads it back
// strictly, checks it and writes it again to the same bytes; it returns
// the bytes.
func checkTraceRoundTrip(t *testing.T, m *Model, x, target *Tensor) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteTrace(&buf, m, 1, x, target); err != nil {
		t.Fatal(err)
	}
	raw := buf.Bytes()
	tr, err := ReadTrace(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckTrace(tr); err != nil {
		t.Fatal(err)
	}
	again, err := json.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(append(again, '\n'), raw) {
		t.Error("the trace read back does not write the same bytes")
	}
	for i, l := range m.Layers {
		if s := l.Spec(); tr.Layers[i].Type != s.Type {
			t.Errorf("layer %d traced as %s, want %s", i, tr.Layers[i].Type, s.Type)
		}
	}
	return raw
}

func TestGlobalPoolTrace(t *testing.T) {
	m, err := gapCNN()
	if err != nil {
		t.Fatal(err)
	}
	raw := checkTraceRoundTrip(t, m, smallImages(), classTargets(2, 4, 2))
	if !strings.Contains(string(raw), `{"name":"gap","type":"global_avg_pool2d","attrs":{}}`) {
		t.Error("no global_avg_pool2d layer with empty attrs in the trace")
	}
	// An attr the type does not have is refused.
	bad := strings.Replace(string(raw), `"type":"global_avg_pool2d","attrs":{}`, `"type":"global_avg_pool2d","attrs":{"kernel_size":2}`, 1)
	if _, err := ReadTrace(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "unknown attr") {
		t.Errorf("global_avg_pool2d with a kernel_size read back: %v", err)
	}
}

// TestGlobalUnsharedTracesMatchPyTorch rebuilds the traces of the models
// with the project's global_avg_pool2d and unshared_rnn layers in PyTorch
// with scripts/check_trace_torch.py (cmd/trace's model list does not hold
// them): the loss and every gradient must agree within a relative 1e-9.
// Skipped with -short or without a python3 that has torch.
func TestGlobalUnsharedTracesMatchPyTorch(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: starting PyTorch takes seconds")
	}
	py := pytorch.Python()
	if py == "" {
		t.Skip("no python3 with torch: install python3-torch to check traces against PyTorch")
	}
	dir := t.TempDir()
	args := []string{filepath.Join("..", "scripts", "check_trace_torch.py"), "--tol", "1e-9", "--verbose"}
	write := func(name string, m *Model, x, target *Tensor) {
		var buf bytes.Buffer
		if err := WriteTrace(&buf, m, 1, x, target); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name+".json")
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, path)
	}
	m, err := gapCNN()
	if err != nil {
		t.Fatal(err)
	}
	write("cnn-gap", m, smallImages(), classTargets(2, 4, 2))
	for _, steps := range []int{6, 4} { // the full length and a shorter sequence
		m, err := unsharedSeqModel(6)
		if err != nil {
			t.Fatal(err)
		}
		write("unshared-"+string(rune('0'+steps)), m, tokenTensor(3, 4, 2, steps), classTargets(4, 4, 2))
	}
	out, err := exec.Command(py, args...).CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("check_trace_torch.py: %v", err)
	}
}
