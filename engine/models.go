package engine

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
)

// This file builds the lessons' models by name. Every builder takes a seed
// and draws all initial weights, layer by layer in model order, from
// NewRand(seed): the same name and seed give the same model on every
// machine. Sizes a lesson may vary are in a config struct; BuildModel uses
// the Default… configs.

// ModelNames returns the names BuildModel accepts, in lesson order.
func ModelNames() []string {
	return []string{"cnn", "mlp", "lc", "rnn", "lstm", "gru", "attention", "albert", "deep", "siamese", "multitask"}
}

// BuildModel returns the named model with the lessons' default sizes,
// initialised from seed. It returns an error naming the known models when
// name is not one of ModelNames.
func BuildModel(name string, seed uint64) (*Model, error) {
	switch name {
	case "cnn":
		return NewCNN(name, DefaultCNNConfig(), seed)
	case "mlp":
		return NewMLP(name, DefaultMLPConfig(), seed)
	case "lc":
		return NewLocallyConnectedCNN(name, DefaultCNNConfig(), seed)
	case "rnn", "lstm", "gru":
		cfg := DefaultSeqConfig()
		cfg.Cell = name
		return NewSeqModel(name, cfg, seed)
	case "attention":
		return NewTransformer(name, DefaultTransformerConfig(), seed)
	case "albert", "deep":
		cfg := DefaultTransformerConfig()
		cfg.Blocks = 4
		cfg.TiedOutput = false
		if name == "albert" {
			cfg.Share = ShareAll
		}
		return NewTransformer(name, cfg, seed)
	case "siamese":
		return NewSiameseCNN(name, DefaultSiameseConfig(), seed)
	case "multitask":
		return NewMultitaskCNN(name, DefaultMultitaskConfig(), seed)
	}
	return nil, fmt.Errorf("engine: no model named %q (have %s)", name, strings.Join(ModelNames(), ", "))
}

// CNNConfig sizes the digit classifiers cnn and lc:
//
//	conv 1→C1 k3 p1, relu, maxpool 2, conv C1→C2 k3 p1, relu, maxpool 2,
//	flatten, linear C2·(S/4)²→Classes
//
// on one-channel S×S images (lc: locally_connected2d in place of each conv).
// With GlobalPool the flatten becomes global_avg_pool2d and the classifier
// reads C2 channel means: linear C2→Classes.
type CNNConfig struct {
	Size      int // image side S, a multiple of 4
	Channels1 int // C1
	Channels2 int // C2
	Classes   int
	// GlobalPool averages each of the C2 feature maps over the whole image
	// (global_avg_pool2d) instead of flattening them: the classifier then
	// sees what features are present, not where, so a shifted digit gets
	// nearly the same answer. False is the lessons' cnn and lc.
	GlobalPool bool
}

// DefaultCNNConfig is the lessons' CNN for 28×28 MNIST digits: 8 and 16
// channels, 10 classes (9,098 parameters).
func DefaultCNNConfig() CNNConfig {
	return CNNConfig{Size: 28, Channels1: 8, Channels2: 16, Classes: 10}
}

func (c CNNConfig) check(name string) error {
	if c.Size < 4 || c.Size%4 != 0 || c.Channels1 < 1 || c.Channels2 < 1 || c.Classes < 2 {
		return fmt.Errorf("engine: model %q: image size %d (want a positive multiple of 4), channels %d and %d (want ≥ 1), classes %d (want ≥ 2)",
			name, c.Size, c.Channels1, c.Channels2, c.Classes)
	}
	return nil
}

// features is the length of the flattened trunk output (C2 with
// GlobalPool).
func (c CNNConfig) features() int {
	if c.GlobalPool {
		return c.Channels2
	}
	return c.Channels2 * (c.Size / 4) * (c.Size / 4)
}

// convTrunk returns conv1 … pool2, flatten, with convolutions (or, when
// local, locally connected layers) drawn from rng in order.
func convTrunk(cfg CNNConfig, local bool, rng *rand.Rand) ([]Layer, error) {
	conv := func(name string, in, out, size int) (Layer, error) {
		cc := Conv2dConfig{InChannels: in, OutChannels: out, KernelSize: 3, Stride: 1, Padding: 1}
		if local {
			return NewLocallyConnected2d(name, cc, size, size, rng)
		}
		return NewConv2d(name, cc, rng)
	}
	first, second := "conv1", "conv2"
	if local {
		first, second = "lc1", "lc2"
	}
	c1, err := conv(first, 1, cfg.Channels1, cfg.Size)
	if err != nil {
		return nil, err
	}
	p1, err := NewMaxPool2d("pool1", 2, 2)
	if err != nil {
		return nil, err
	}
	c2, err := conv(second, cfg.Channels1, cfg.Channels2, cfg.Size/2)
	if err != nil {
		return nil, err
	}
	p2, err := NewMaxPool2d("pool2", 2, 2)
	if err != nil {
		return nil, err
	}
	return []Layer{c1, NewReLU("relu1"), p1, c2, NewReLU("relu2"), p2, NewFlatten("flatten")}, nil
}

// NewCNN returns the convolutional digit classifier described by cfg, with
// cross-entropy loss on inputs [B, 1, S, S] and class targets [B]. It
// returns an error for a config CNNConfig does not allow.
func NewCNN(name string, cfg CNNConfig, seed uint64) (*Model, error) {
	return newImageClassifier(name, cfg, false, seed)
}

// NewLocallyConnectedCNN returns cnn's unshared twin: the same shapes with
// locally_connected2d layers (a kernel of its own at every position) in
// place of the convolutions, so its parameter count for those layers is the
// CNN's Unshared count.
func NewLocallyConnectedCNN(name string, cfg CNNConfig, seed uint64) (*Model, error) {
	return newImageClassifier(name, cfg, true, seed)
}

func newImageClassifier(name string, cfg CNNConfig, local bool, seed uint64) (*Model, error) {
	if err := cfg.check(name); err != nil {
		return nil, err
	}
	rng := NewRand(seed)
	layers, err := convTrunk(cfg, local, rng)
	if err != nil {
		return nil, err
	}
	if cfg.GlobalPool {
		layers[len(layers)-1] = NewGlobalAvgPool2d("gap") // in place of the flatten
	}
	fc, err := NewLinear("fc", cfg.features(), cfg.Classes, rng)
	if err != nil {
		return nil, err
	}
	return NewModel(name, []int{1, cfg.Size, cfg.Size}, NewCrossEntropy(), append(layers, fc)...)
}

// MLPConfig sizes the mlp digit classifier: flatten, linear S²→Hidden,
// relu, linear Hidden→Classes.
type MLPConfig struct {
	Size    int // image side S
	Hidden  int
	Classes int
}

// DefaultMLPConfig is the CNN's rival on 28×28 digits. Hidden = 12 gives it
// 9,550 parameters against the CNN's 9,098: the same budget (within 5 %),
// spent without sharing, so the lesson compares how parameters are used,
// not how many there are.
func DefaultMLPConfig() MLPConfig { return MLPConfig{Size: 28, Hidden: 12, Classes: 10} }

// NewMLP returns the fully connected digit classifier described by cfg,
// with cross-entropy loss on inputs [B, 1, S, S]. It returns an error when a
// size is not positive or there are fewer than 2 classes.
func NewMLP(name string, cfg MLPConfig, seed uint64) (*Model, error) {
	if cfg.Size < 1 || cfg.Hidden < 1 || cfg.Classes < 2 {
		return nil, fmt.Errorf("engine: model %q: image size %d and hidden %d must be positive, classes %d ≥ 2", name, cfg.Size, cfg.Hidden, cfg.Classes)
	}
	rng := NewRand(seed)
	fc1, err := NewLinear("fc1", cfg.Size*cfg.Size, cfg.Hidden, rng)
	if err != nil {
		return nil, err
	}
	fc2, err := NewLinear("fc2", cfg.Hidden, cfg.Classes, rng)
	if err != nil {
		return nil, err
	}
	return NewModel(name, []int{1, cfg.Size, cfg.Size}, NewCrossEntropy(), NewFlatten("flatten"), fc1, NewReLU("relu1"), fc2)
}

// SeqConfig sizes the recurrent models rnn, lstm and gru on token sequences
// [B, T] with tokens 0…Vocab−1:
//
//	one_hot(Vocab), CELL(Vocab→Hidden), last_step, linear Hidden→Vocab   (EveryStep false)
//	one_hot(Vocab), CELL(Vocab→Hidden), linear Hidden→Vocab at every step (EveryStep true)
//
// The first classifies a whole sequence (remember-the-first-symbol, target
// [B]); the second predicts a token at every step (copy, target [B, T]).
type SeqConfig struct {
	Cell      string // "rnn", "lstm" or "gru"
	Vocab     int
	Hidden    int
	T         int // sequence length the model is built for (counts, checks)
	EveryStep bool
	// ForgetBias, for an LSTM, is the starting value of the forget gate's
	// bias_ih (the gate's bias_hh keeps torch's init); 0 leaves torch's
	// init, U(−1/√H, 1/√H). A positive forget bias (Gers et al. 2000,
	// Jozefowicz et al. 2015) starts the cell remembering: with torch's
	// init the forget gate is about ½, so a symbol read 20 steps back is
	// scaled by about 2⁻²⁰ and the LSTM sits at chance for hundreds of
	// steps before it finds the task.
	ForgetBias float64
	// Nonlinearity is the rnn cell's activation: tanh when empty (torch's
	// default); relu or sigmoid trace as elman_rnn. Other cells refuse it.
	Nonlinearity Nonlinearity
	// Features, when positive, makes the model read real-valued inputs
	// [B, T, Features] (the adding problem's value and marker) instead of
	// one-hot tokens: no one_hot layer, and Vocab is not used for the input.
	Features int
	// Regression replaces the classifier with one output read with MSE
	// (the adding problem's sum): linear Hidden→1, target [B, 1]. Vocab is
	// then not used at all.
	Regression bool
}

// DefaultSeqConfig is the lessons' recurrent model for remember-the-first-
// symbol at distance 20: 8 symbols (chance 1/7 among the symbols 1…7 that
// can be the first), sequences of 21 tokens, 32 hidden units, an LSTM cell
// unless Cell is set otherwise, with a forget bias of 2 (sigmoid(2) ≈ 0.88;
// 1 was not enough to leave the plateau within 600 steps in our runs).
func DefaultSeqConfig() SeqConfig {
	return SeqConfig{Cell: "lstm", Vocab: 8, Hidden: 32, T: 21, ForgetBias: 2}
}

// NewSeqModel returns the recurrent model described by cfg with
// cross-entropy loss (MSE for Regression). Weights are drawn from
// NewRand(seed), the cell's first and then the output layer's. It returns
// an error for an unknown cell or a size that does not fit (vocab ≥ 2 where
// it is used, hidden and T ≥ 1, features ≥ 0, a regression reads the last
// step only).
func NewSeqModel(name string, cfg SeqConfig, seed uint64) (*Model, error) {
	usesVocab := cfg.Features == 0 || !cfg.Regression
	if (usesVocab && cfg.Vocab < 2) || cfg.Hidden < 1 || cfg.T < 1 || cfg.Features < 0 {
		return nil, fmt.Errorf("engine: model %q: vocab %d (want ≥ 2), hidden %d and T %d (want ≥ 1), features %d (want ≥ 0)", name, cfg.Vocab, cfg.Hidden, cfg.T, cfg.Features)
	}
	if cfg.Regression && cfg.EveryStep {
		return nil, fmt.Errorf("engine: model %q: a regression reads the last step only, not every step", name)
	}
	if cfg.Cell != "rnn" && cfg.Nonlinearity != "" {
		return nil, fmt.Errorf("engine: model %q: nonlinearity %q is for the rnn cell, not %s", name, cfg.Nonlinearity, cfg.Cell)
	}
	in, shape := cfg.Vocab, []int{cfg.T}
	if cfg.Features > 0 {
		in, shape = cfg.Features, []int{cfg.T, cfg.Features}
	}
	rng := NewRand(seed)
	var cell Layer
	var err error
	switch cfg.Cell {
	case "rnn":
		act := cfg.Nonlinearity
		if act == "" {
			act = ActTanh
		}
		cell, err = NewRNNWith("cell", in, cfg.Hidden, act, rng)
	case "lstm":
		var lstm *LSTM
		lstm, err = NewLSTM("cell", in, cfg.Hidden, rng)
		if err == nil && cfg.ForgetBias != 0 {
			// Gate order i, f, g, o: the forget gate is rows H…2H−1.
			for i := cfg.Hidden; i < 2*cfg.Hidden; i++ {
				lstm.BiasIH.Value.Data[i] = cfg.ForgetBias
			}
		}
		cell = lstm
	case "gru":
		cell, err = NewGRU("cell", in, cfg.Hidden, rng)
	default:
		return nil, fmt.Errorf("engine: model %q: cell %q, want rnn, lstm or gru", name, cfg.Cell)
	}
	if err != nil {
		return nil, err
	}
	outputs, loss := cfg.Vocab, Loss(NewCrossEntropy())
	if cfg.Regression {
		outputs, loss = 1, NewMSE()
	}
	out, err := NewLinear("out", cfg.Hidden, outputs, rng)
	if err != nil {
		return nil, err
	}
	var layers []Layer
	if cfg.Features == 0 {
		oneHot, err := NewOneHot("onehot", cfg.Vocab)
		if err != nil {
			return nil, err
		}
		layers = append(layers, oneHot)
	}
	layers = append(layers, cell)
	if !cfg.EveryStep {
		layers = append(layers, NewLastStep("last"))
	}
	return NewModel(name, shape, loss, append(layers, out)...)
}

// TransformerConfig sizes the attention models on token sequences [B, T]:
//
//	embedding(Vocab, D), positional_encoding (sinusoidal), Blocks × transformer_block(D, Heads, DFF), linear D→Vocab
//
// with cross-entropy at every position (target [B, T]).
type TransformerConfig struct {
	Vocab, D, Heads, DFF int
	T                    int // max_len of the positional encoding and the length the model is built for
	Blocks               int
	Causal               bool
	// Share says which parts of every block after the first hold the first
	// block's Params (ALBERT, see BlockSharing); "" is ShareNone.
	Share BlockSharing
	// Positions is the positional encoding: PositionsSinusoidal (also
	// ""), PositionsLearned (drawn after the embedding), or PositionsNone
	// (no positional_encoding layer: the model sees a bag of tokens).
	Positions string
	// TiedOutput makes the output layer's weight the embedding matrix
	// (logits = h Eᵀ + b); otherwise it has a weight of its own.
	TiedOutput bool
}

// DefaultTransformerConfig is the attention lesson's model for reversing
// sequences of 8 tokens from a vocabulary of 10: d = 32, 4 heads of 8,
// d_ff = 64, one block, not causal (a reversal needs the tokens to its
// right), output tied to the embedding. albert and deep use 4 blocks, shared
// or separate, and an untied output, so that they differ only in the
// cross-layer sharing.
func DefaultTransformerConfig() TransformerConfig {
	return TransformerConfig{Vocab: 10, D: 32, Heads: 4, DFF: 64, T: 8, Blocks: 1, TiedOutput: true}
}

// NewTransformer returns the attention model described by cfg. It returns
// an error when a size is not positive, Heads does not divide D or Vocab is
// below 2.
func NewTransformer(name string, cfg TransformerConfig, seed uint64) (*Model, error) {
	if cfg.Vocab < 2 || cfg.T < 1 || cfg.Blocks < 1 {
		return nil, fmt.Errorf("engine: model %q: vocab %d (want ≥ 2), T %d and blocks %d (want ≥ 1)", name, cfg.Vocab, cfg.T, cfg.Blocks)
	}
	rng := NewRand(seed)
	embed, err := NewEmbedding("embed", cfg.Vocab, cfg.D, rng)
	if err != nil {
		return nil, err
	}
	layers := []Layer{embed}
	switch cfg.Positions {
	case "", PositionsSinusoidal, PositionsLearned:
		kind := cmp.Or(cfg.Positions, PositionsSinusoidal)
		pos, err := NewPositionalEncoding("pos", kind, cfg.T, cfg.D, rng)
		if err != nil {
			return nil, err
		}
		layers = append(layers, pos)
	case PositionsNone:
	default:
		return nil, fmt.Errorf("engine: model %q: positions %q, want sinusoidal, learned or none", name, cfg.Positions)
	}
	share := cmp.Or(cfg.Share, ShareNone)
	var first *TransformerBlock
	for i := range cfg.Blocks {
		blockName := fmt.Sprintf("block%d", i+1)
		var blk *TransformerBlock
		if first == nil {
			blk, err = NewTransformerBlock(blockName, cfg.D, cfg.Heads, cfg.DFF, cfg.Causal, rng)
			first = blk
		} else {
			blk, err = NewTransformerBlockSharing(blockName, first, share, rng)
		}
		if err != nil {
			return nil, err
		}
		layers = append(layers, blk)
	}
	var out *Linear
	if cfg.TiedOutput {
		// A tied output scores token k by h·E_k, and h carries the input
		// embedding through the residual connections: with torch's N(0, 1)
		// rows, h·E_k of the input's own token is about |E_k|² ≈ D, and
		// the first loss is about D instead of log Vocab. Rows of N(0, 1/D)
		// (unit length, as T5 scales its tied embedding by 1/√d) start the
		// logits near 0.
		scale := 1 / math.Sqrt(float64(cfg.D))
		for i := range embed.Weight.Value.Data {
			embed.Weight.Value.Data[i] *= scale
		}
		out, err = NewLinearShared("out", embed.Weight, rng)
	} else {
		out, err = NewLinear("out", cfg.D, cfg.Vocab, rng)
	}
	if err != nil {
		return nil, err
	}
	return NewModel(name, []int{cfg.T}, NewCrossEntropy(), append(layers, out)...)
}

// SiameseConfig sizes the siamese model: one small CNN encoder
//
//	conv 1→C1 k3 p1, relu, maxpool 2, conv C1→C2 k3 p1, relu, maxpool 2, flatten, linear C2·(S/4)²→Embed
//
// applied to both digits of a pair [B, 2, 1, S, S]; the output is their L2
// distance [B], trained with the contrastive loss at Margin.
type SiameseConfig struct {
	Size      int // image side S, a multiple of 4
	Channels1 int
	Channels2 int
	Embed     int
	Margin    float64
}

// DefaultSiameseConfig encodes 28×28 digits with 4 and 8 channels into 16
// numbers, margin 1.
func DefaultSiameseConfig() SiameseConfig {
	return SiameseConfig{Size: 28, Channels1: 4, Channels2: 8, Embed: 16, Margin: 1}
}

// NewSiameseCNN returns the siamese model described by cfg. It returns an
// error for sizes NewCNN would reject, Embed below 1 or a margin that is not
// positive.
func NewSiameseCNN(name string, cfg SiameseConfig, seed uint64) (*Model, error) {
	trunk := CNNConfig{Size: cfg.Size, Channels1: cfg.Channels1, Channels2: cfg.Channels2, Classes: 2}
	if err := trunk.check(name); err != nil {
		return nil, err
	}
	if cfg.Embed < 1 || !(cfg.Margin > 0) {
		return nil, fmt.Errorf("engine: model %q: embedding size %d (want ≥ 1), margin %v (want > 0)", name, cfg.Embed, cfg.Margin)
	}
	rng := NewRand(seed)
	branch, err := convTrunk(trunk, false, rng)
	if err != nil {
		return nil, err
	}
	fc, err := NewLinear("embed", trunk.features(), cfg.Embed, rng)
	if err != nil {
		return nil, err
	}
	twins, err := NewSiamese("twins", append(branch, fc)...)
	if err != nil {
		return nil, err
	}
	return NewModel(name, []int{2, 1, cfg.Size, cfg.Size}, NewContrastive(cfg.Margin), twins)
}

// MultitaskConfig sizes the multi-task model: cnn's convolutional trunk
// (conv1 … pool2, flatten) shared by one linear head per task.
type MultitaskConfig struct {
	Size      int
	Channels1 int
	Channels2 int
	Heads     []int // classes of each task
}

// DefaultMultitaskConfig is the lesson's two tasks on 28×28 digits: which
// digit (10 classes) and whether it is even or odd (2).
func DefaultMultitaskConfig() MultitaskConfig {
	return MultitaskConfig{Size: 28, Channels1: 8, Channels2: 16, Heads: []int{10, 2}}
}

// NewMultitaskCNN returns the multi-task model described by cfg: inputs
// [B, 1, S, S], output the heads' logits side by side [B, Σ heads], loss
// multitask_cross_entropy with target [B, len(Heads)]. It returns an error
// for sizes NewCNN would reject or a head below 2 classes.
func NewMultitaskCNN(name string, cfg MultitaskConfig, seed uint64) (*Model, error) {
	trunk := CNNConfig{Size: cfg.Size, Channels1: cfg.Channels1, Channels2: cfg.Channels2, Classes: 2}
	if err := trunk.check(name); err != nil {
		return nil, err
	}
	if len(cfg.Heads) == 0 || slices.Min(cfg.Heads) < 2 {
		return nil, fmt.Errorf("engine: model %q: heads %v, want at least one, each with ≥ 2 classes", name, cfg.Heads)
	}
	rng := NewRand(seed)
	layers, err := convTrunk(trunk, false, rng)
	if err != nil {
		return nil, err
	}
	heads, err := NewMultitaskHeads("heads", trunk.features(), cfg.Heads, rng)
	if err != nil {
		return nil, err
	}
	loss, err := NewMultitaskCrossEntropy(cfg.Heads)
	if err != nil {
		return nil, err
	}
	return NewModel(name, []int{1, cfg.Size, cfg.Size}, loss, append(layers, heads)...)
}
