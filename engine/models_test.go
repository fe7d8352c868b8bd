package engine

import (
	"math"
	"slices"
	"strings"
	"testing"
)

// smallModel is one named model at sizes small enough for finite
// differences, with a batch that fits it.
type smallModel struct {
	name      string
	build     func() (*Model, error)
	x, target *Tensor
}

// tokenTensor returns [batch, steps] tokens in 0…vocab−1.
func tokenTensor(seed uint64, vocab, batch, steps int) *Tensor {
	return classTargets(seed, vocab, batch, steps)
}

func smallModels() []smallModel {
	cnn := CNNConfig{Size: 8, Channels1: 2, Channels2: 3, Classes: 4}
	seq := func(cell string, every bool) SeqConfig {
		return SeqConfig{Cell: cell, Vocab: 4, Hidden: 5, T: 6, EveryStep: every, ForgetBias: 2}
	}
	tf := func(blocks int, shared, tied, causal bool) TransformerConfig {
		return TransformerConfig{Vocab: 5, D: 8, Heads: 2, DFF: 12, T: 5, Blocks: blocks, Share: map[bool]BlockSharing{true: ShareAll, false: ShareNone}[shared], TiedOutput: tied, Causal: causal}
	}
	images := randTensor(11, 2, 1, 8, 8)
	for i := range images.Data {
		images.Data[i] = 0.5 + 0.5*images.Data[i] // pixels in [0, 1], as MNIST's
	}
	pairs := randTensor(12, 3, 2, 1, 8, 8)
	var ms []smallModel
	add := func(name string, build func() (*Model, error), x, target *Tensor) {
		ms = append(ms, smallModel{name, build, x, target})
	}
	add("cnn", func() (*Model, error) { return NewCNN("cnn", cnn, 1) }, images, classTargets(2, 4, 2))
	add("lc", func() (*Model, error) { return NewLocallyConnectedCNN("lc", cnn, 1) }, images, classTargets(2, 4, 2))
	add("mlp", func() (*Model, error) { return NewMLP("mlp", MLPConfig{Size: 8, Hidden: 5, Classes: 4}, 1) }, images, classTargets(2, 4, 2))
	for _, cell := range []string{"rnn", "lstm", "gru"} {
		add(cell, func() (*Model, error) { return NewSeqModel(cell, seq(cell, false), 1) }, tokenTensor(3, 4, 2, 6), classTargets(4, 4, 2))
		add(cell+"-every-step", func() (*Model, error) { return NewSeqModel(cell, seq(cell, true), 1) }, tokenTensor(3, 4, 2, 6), tokenTensor(5, 4, 2, 6))
	}
	for _, act := range []Nonlinearity{ActReLU, ActSigmoid} {
		add("rnn-"+string(act), func() (*Model, error) {
			cfg := seq("rnn", false)
			cfg.Nonlinearity = act
			return NewSeqModel("rnn", cfg, 1)
		}, tokenTensor(3, 4, 2, 6), classTargets(4, 4, 2))
	}
	for _, cell := range []string{"rnn", "lstm", "gru"} {
		add(cell+"-regression", func() (*Model, error) {
			return NewSeqModel(cell, SeqConfig{Cell: cell, Hidden: 5, T: 6, Features: 2, Regression: true, ForgetBias: 2}, 1)
		}, randTensor(13, 2, 6, 2), randTensor(14, 2, 1))
	}
	tokens, targets := tokenTensor(6, 5, 2, 5), tokenTensor(7, 5, 2, 5)
	add("attention", func() (*Model, error) { return NewTransformer("attention", tf(1, false, true, false), 1) }, tokens, targets)
	add("attention-causal", func() (*Model, error) { return NewTransformer("attention", tf(1, false, true, true), 1) }, tokens, targets)
	add("albert", func() (*Model, error) { return NewTransformer("albert", tf(3, true, false, false), 1) }, tokens, targets)
	add("deep", func() (*Model, error) { return NewTransformer("deep", tf(3, false, false, false), 1) }, tokens, targets)
	for _, share := range []BlockSharing{ShareAttention, ShareFFN} {
		add("albert-"+string(share), func() (*Model, error) {
			cfg := tf(3, false, false, false)
			cfg.Share = share
			return NewTransformer("albert", cfg, 1)
		}, tokens, targets)
	}
	for _, pos := range []string{PositionsLearned, PositionsNone} {
		add("attention-"+pos, func() (*Model, error) {
			cfg := tf(1, false, true, false)
			cfg.Positions = pos
			return NewTransformer("attention", cfg, 1)
		}, tokens, targets)
	}
	add("siamese", func() (*Model, error) {
		return NewSiameseCNN("siamese", SiameseConfig{Size: 8, Channels1: 2, Channels2: 3, Embed: 4, Margin: 1}, 1)
	}, pairs, TensorFrom([]float64{1, 0, 1}, 3))
	add("multitask", func() (*Model, error) {
		return NewMultitaskCNN("multitask", MultitaskConfig{Size: 8, Channels1: 2, Channels2: 3, Heads: []int{3, 2}}, 1)
	}, images, TensorFrom([]float64{2, 0, 1, 1}, 2, 2))
	return ms
}

// TestModelGrads checks every Param of every model — the tied output of
// attention, albert's shared blocks, the siamese twins' one branch, the
// multitask trunk — against finite differences of the model's loss.
// Perturbing a shared Param moves every place it is used, so the check
// holds only if its gradient is the sum of all its uses.
func TestModelGrads(t *testing.T) {
	for _, sm := range smallModels() {
		t.Run(sm.name, func(t *testing.T) {
			m, err := sm.build()
			if err != nil {
				t.Fatal(err)
			}
			checkModelGrads(t, m, sm.x, sm.target, func(p *Param) bool { return gradIsZero(m, p) })
		})
	}
}

// gradIsZero reports whether the loss cannot depend on p, whatever the
// data: a key bias adds the same number to every score of a query, which
// softmax cancels; the bias of the siamese branch's last layer moves both
// embeddings of a pair alike, which their difference cancels. For those the
// relative error of two near-zero gradients is meaningless.
func gradIsZero(m *Model, p *Param) bool {
	return strings.HasSuffix(p.Name, ".attn.b_k") || (m.Name == "siamese" && p.Name == "embed.bias")
}

// TestModelSharingIsReal checks that the models share what they say: the
// tied output holds the embedding's Param, albert's blocks hold the first
// block's, deep's hold their own.
func TestModelSharingIsReal(t *testing.T) {
	for _, name := range []string{"attention", "albert", "deep"} {
		m, err := BuildModel(name, 1)
		if err != nil {
			t.Fatal(err)
		}
		var shared int
		for _, p := range m.Params() {
			if len(m.Holders(p)) > 1 {
				shared++
			}
		}
		want := map[string]int{"attention": 1, "albert": len(m.Layers[2].Params()), "deep": 0}[name]
		if shared != want {
			t.Errorf("%s: %d Params held by several layers, want %d", name, shared, want)
		}
	}
}

func TestBuildModelDefaults(t *testing.T) {
	want := map[string]struct {
		in, out []int
	}{
		"cnn":       {[]int{1, 28, 28}, []int{10}},
		"mlp":       {[]int{1, 28, 28}, []int{10}},
		"lc":        {[]int{1, 28, 28}, []int{10}},
		"rnn":       {[]int{21}, []int{8}},
		"lstm":      {[]int{21}, []int{8}},
		"gru":       {[]int{21}, []int{8}},
		"attention": {[]int{8}, []int{8, 10}},
		"albert":    {[]int{8}, []int{8, 10}},
		"deep":      {[]int{8}, []int{8, 10}},
		"siamese":   {[]int{2, 1, 28, 28}, []int{}},
		"multitask": {[]int{1, 28, 28}, []int{12}},
	}
	if len(ModelNames()) != len(want) {
		t.Errorf("ModelNames() = %v, want the %d models of the lessons", ModelNames(), len(want))
	}
	for _, name := range ModelNames() {
		m, err := BuildModel(name, 7)
		if err != nil {
			t.Fatalf("BuildModel(%q): %v", name, err)
		}
		w, ok := want[name]
		if !ok {
			t.Errorf("unexpected model %q", name)
			continue
		}
		if m.Name != name || !slices.Equal(m.In, w.in) || !slices.Equal(m.OutShape(), w.out) {
			t.Errorf("%s: name %q, in %v, out %v; want in %v, out %v", name, m.Name, m.In, m.OutShape(), w.in, w.out)
		}
		again, _ := BuildModel(name, 7)
		other, _ := BuildModel(name, 8)
		if !sameValues(m, again) {
			t.Errorf("%s: two builds with seed 7 differ", name)
		}
		if sameValues(m, other) {
			t.Errorf("%s: seeds 7 and 8 give the same weights", name)
		}
	}
	if _, err := BuildModel("transformer", 1); err == nil || !strings.Contains(err.Error(), "cnn, mlp, lc") {
		t.Errorf("unknown model: error %v, want one listing the models", err)
	}
}

func TestLSTMForgetBias(t *testing.T) {
	for _, fb := range []float64{0, 2} {
		cfg := DefaultSeqConfig()
		cfg.ForgetBias = fb
		m, err := NewSeqModel("lstm", cfg, 1)
		if err != nil {
			t.Fatal(err)
		}
		b := m.Layers[1].(*LSTM).BiasIH.Value.Data
		h := cfg.Hidden
		set := slices.ContainsFunc(b, func(v float64) bool { return v == 2 })
		if fb == 2 && (slices.Min(b[h:2*h]) != 2 || slices.Max(b[h:2*h]) != 2 || slices.Max(b[:h]) >= 1) {
			t.Errorf("forget bias 2: bias_ih %v, want rows %d…%d at 2 and the rest as torch's init", b, h, 2*h-1)
		}
		if fb == 0 && set {
			t.Errorf("forget bias 0 changed torch's init: %v", b)
		}
	}
}

func sameValues(a, b *Model) bool {
	if len(a.Params()) != len(b.Params()) {
		return false
	}
	for i, p := range a.Params() {
		if !slices.Equal(p.Value.Data, b.Params()[i].Value.Data) {
			return false
		}
	}
	return true
}

func TestModelConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func() (*Model, error)
	}{
		{"cnn size not a multiple of 4", func() (*Model, error) {
			return NewCNN("c", CNNConfig{Size: 10, Channels1: 1, Channels2: 1, Classes: 2}, 1)
		}},
		{"cnn one class", func() (*Model, error) {
			return NewCNN("c", CNNConfig{Size: 8, Channels1: 1, Channels2: 1, Classes: 1}, 1)
		}},
		{"lc no channels", func() (*Model, error) { return NewLocallyConnectedCNN("c", CNNConfig{Size: 8, Classes: 2}, 1) }},
		{"mlp no hidden", func() (*Model, error) { return NewMLP("m", MLPConfig{Size: 8, Classes: 2}, 1) }},
		{"seq unknown cell", func() (*Model, error) { return NewSeqModel("s", SeqConfig{Cell: "tcn", Vocab: 4, Hidden: 4, T: 3}, 1) }},
		{"seq vocab 1", func() (*Model, error) { return NewSeqModel("s", SeqConfig{Cell: "rnn", Vocab: 1, Hidden: 4, T: 3}, 1) }},
		{"transformer heads", func() (*Model, error) {
			return NewTransformer("t", TransformerConfig{Vocab: 4, D: 6, Heads: 4, DFF: 4, T: 3, Blocks: 1}, 1)
		}},
		{"transformer no blocks", func() (*Model, error) {
			return NewTransformer("t", TransformerConfig{Vocab: 4, D: 8, Heads: 2, DFF: 4, T: 3}, 1)
		}},
		{"siamese margin", func() (*Model, error) {
			return NewSiameseCNN("s", SiameseConfig{Size: 8, Channels1: 1, Channels2: 1, Embed: 2}, 1)
		}},
		{"multitask one-class head", func() (*Model, error) {
			return NewMultitaskCNN("m", MultitaskConfig{Size: 8, Channels1: 1, Channels2: 1, Heads: []int{3, 1}}, 1)
		}},
	} {
		if m, err := tc.build(); err == nil || m != nil {
			t.Errorf("%s: got model %v, error %v; want an error", tc.name, m != nil, err)
		}
	}
}

func countRow(t *testing.T, c Count, layer string) LayerRow {
	t.Helper()
	for _, r := range c.Layers {
		if r.Name == layer {
			return r
		}
	}
	t.Fatalf("no layer %q in count", layer)
	return LayerRow{}
}

func mustBuildModel(t *testing.T, name string) *Model {
	t.Helper()
	m, err := BuildModel(name, 1)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestModelCounts(t *testing.T) {
	cfg := DefaultTransformerConfig()
	v, d := cfg.Vocab, cfg.D

	t.Run("attention counts the tied embedding once", func(t *testing.T) {
		m := mustBuildModel(t, "attention")
		c := m.Count()
		out := countRow(t, c, "out")
		if out.Params != v || !slices.Equal(out.SharedWith, []string{"embed.weight"}) {
			t.Errorf("out layer: %d params, shared %v; want %d (its bias) and [embed.weight]", out.Params, out.SharedWith, v)
		}
		blk := countRow(t, c, "block1").Params
		if want := v*d + blk + v; c.Params != want {
			t.Errorf("Params = %d, want embedding %d + block %d + bias %d = %d", c.Params, v*d, blk, v, want)
		}
		var unique int
		for _, p := range m.Params() {
			unique += p.Size()
		}
		if c.Params != unique {
			t.Errorf("Params = %d, the model's unique Params hold %d", c.Params, unique)
		}
	})

	t.Run("albert shares what deep repeats", func(t *testing.T) {
		albert, deep := mustBuildModel(t, "albert").Count(), mustBuildModel(t, "deep").Count()
		blk := countRow(t, deep, "block1").Params
		if albert.Params >= deep.Params || deep.Params-albert.Params != 3*blk {
			t.Errorf("albert %d params, deep %d: want deep − albert = 3 blocks of %d", albert.Params, deep.Params, blk)
		}
		if albert.Unshared != deep.Unshared || albert.Uses != deep.Uses {
			t.Errorf("albert unshared %d uses %d, deep %d and %d: want equal", albert.Unshared, albert.Uses, deep.Unshared, deep.Uses)
		}
		perBlock := len(mustBuildModel(t, "albert").Layers[2].Params())
		if r := countRow(t, albert, "block4"); r.Params != 0 || len(r.SharedWith) != perBlock {
			t.Errorf("albert block4: %d params, shared %v; want 0 and all of block1's", r.Params, r.SharedWith)
		}
	})

	t.Run("cnn unshared is lc's params", func(t *testing.T) {
		cnn, lc := mustBuildModel(t, "cnn").Count(), mustBuildModel(t, "lc").Count()
		for i, pair := range [][2]string{{"conv1", "lc1"}, {"conv2", "lc2"}} {
			conv, local := countRow(t, cnn, pair[0]), countRow(t, lc, pair[1])
			if conv.Unshared != local.Params || local.Unshared != local.Params {
				t.Errorf("layer %d: conv unshared %d, lc params %d unshared %d; want all equal", i+1, conv.Unshared, local.Params, local.Unshared)
			}
			if conv.Uses != local.Uses {
				t.Errorf("layer %d: conv uses %d, lc %d: the same multiply-adds", i+1, conv.Uses, local.Uses)
			}
		}
		if cnn.Params != 9098 {
			t.Errorf("cnn has %d params, the lessons say 9,098", cnn.Params)
		}
	})

	t.Run("mlp is a fair rival", func(t *testing.T) {
		cnn, mlp := mustBuildModel(t, "cnn").Count().Params, mustBuildModel(t, "mlp").Count().Params
		if mlp != 9550 || float64(mlp) > 1.05*float64(cnn) || float64(mlp) < 0.95*float64(cnn) {
			t.Errorf("mlp %d params, cnn %d: want 9,550, within 5 %%", mlp, cnn)
		}
	})

	t.Run("siamese counts one branch, used twice", func(t *testing.T) {
		m := mustBuildModel(t, "siamese")
		c := m.Count()
		var branch int
		for _, p := range m.Params() {
			branch += p.Size()
		}
		if c.Params != branch || c.Unshared < 2*branch {
			t.Errorf("siamese: params %d (branch %d), unshared %d; want the branch once and ≥ twice it unshared", c.Params, branch, c.Unshared)
		}
	})
}

// TestTiedOutputStartsNearChance checks the reason for scaling the tied
// embedding: the first loss of the attention model is near log Vocab, not
// near D.
func TestTiedOutputStartsNearChance(t *testing.T) {
	m := mustBuildModel(t, "attention")
	cfg := DefaultTransformerConfig()
	x, y := tokenTensor(1, cfg.Vocab, 16, cfg.T), tokenTensor(2, cfg.Vocab, 16, cfg.T)
	loss := m.Loss.Forward(m.Forward(x, nil), y)
	if chance := math.Log(float64(cfg.Vocab)); loss > 1.5*chance {
		t.Errorf("first loss %.3f, want near log %d = %.3f", loss, cfg.Vocab, chance)
	}
}

// TestSeqModelRegression checks the adding problem's model: real-valued
// inputs [T, Features] with no one_hot, one output read with MSE, and the
// configurations it refuses.
func TestSeqModelRegression(t *testing.T) {
	m, err := NewSeqModel("adding", SeqConfig{Cell: "rnn", Hidden: 4, T: 5, Features: 2, Regression: true}, 1)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, l := range m.Layers {
		types = append(types, l.Spec().Type)
	}
	if want := []string{"rnn", "last_step", "linear"}; !slices.Equal(types, want) {
		t.Errorf("layers %v, want %v", types, want)
	}
	if _, ok := m.Loss.(*MSE); !ok {
		t.Errorf("loss %T, want MSE", m.Loss)
	}
	if out := m.Forward(randTensor(1, 3, 5, 2), nil); !slices.Equal(out.Shape, []int{3, 1}) {
		t.Errorf("output shape %v, want [3 1]", out.Shape)
	}
	for _, bad := range []SeqConfig{
		{Cell: "rnn", Hidden: 4, T: 5, Features: 2, Regression: true, EveryStep: true},
		{Cell: "rnn", Hidden: 4, T: 5, Features: -1, Vocab: 4},
		{Cell: "rnn", Hidden: 4, T: 5, Features: 2}, // a classifier needs its vocabulary
	} {
		if _, err := NewSeqModel("bad", bad, 1); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

// TestTransformerSharingCounts checks the parameter count of every
// BlockSharing against the parts' sizes added by hand: with N blocks, a
// shared part is counted once and an unshared one N times.
func TestTransformerSharingCounts(t *testing.T) {
	const d, dff, vocab, blocks = 8, 12, 5, 3
	attn := 2*d + 4*(d*d+d)              // ln1 + w_q…w_o, b_q…b_o
	ffn := 2*d + d*dff + dff + dff*d + d // ln2 + ff1 + ff2
	embed, out := vocab*d, d*vocab+vocab
	want := map[BlockSharing]int{
		ShareNone:      embed + blocks*(attn+ffn) + out,
		ShareAll:       embed + attn + ffn + out,
		ShareAttention: embed + attn + blocks*ffn + out,
		ShareFFN:       embed + blocks*attn + ffn + out,
	}
	for _, share := range BlockSharings() {
		m, err := NewTransformer("albert", TransformerConfig{Vocab: vocab, D: d, Heads: 2, DFF: dff, T: 5, Blocks: blocks, Share: share}, 1)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, p := range m.Params() {
			n += p.Value.Size()
		}
		if n != want[share] {
			t.Errorf("%s: %d parameters, want %d", share, n, want[share])
		}
	}
	if _, err := NewTransformer("x", TransformerConfig{Vocab: vocab, D: d, Heads: 2, DFF: dff, T: 5, Blocks: 2, Share: "half"}, 1); err == nil {
		t.Error(`sharing "half": no error`)
	}
	if _, err := NewTransformer("x", TransformerConfig{Vocab: vocab, D: d, Heads: 2, DFF: dff, T: 5, Blocks: 1, Positions: "rotary"}, 1); err == nil {
		t.Error(`positions "rotary": no error`)
	}
}
