package arch

import (
	"fmt"
	"strconv"
	"strings"
)

// Preset describes one architecture Build knows.
type Preset struct {
	Name     string   `json:"name"`
	Title    string   `json:"title"`
	Source   string   `json:"source"`  // the paper or code it is built as
	Options  []string `json:"options"` // the Options that apply: "share", "tie", "pooler", "unshare_conv", "seq_len", "vocab", "embed"
	Defaults Options  `json:"defaults"`
}

// The counting rules, stated on every Table.
const (
	ruleCNN  = "weights and biases counted; BatchNorm γ and β counted, its running mean and variance (buffers) not"
	ruleBERT = "weights and biases counted; LayerNorm γ and β counted; position and token-type embeddings counted; the pooler counted when the model has one; no pre-training heads (MLM, NSP/SOP); the position_ids buffer not counted"
	ruleGPT2 = "weights and biases counted; LayerNorm γ and β counted; position embeddings counted; the causal-mask buffer not; the LM head's matrix counted once when tied"
)

var presets = []Preset{
	{"lenet5", "LeNet-5", "LeCun, Bottou, Bengio, Haffner (1998), Gradient-based learning applied to document recognition, Proc. IEEE 86(11), section II.B and Table I",
		[]string{"unshare_conv"}, Options{}},
	{"alexnet", "AlexNet (torchvision)", "torchvision.models.alexnet (torchvision/models/alexnet.py), the one-GPU variant of Krizhevsky et al. 2012 (Krizhevsky 2014, One weird trick)",
		[]string{"unshare_conv"}, Options{}},
	{"vgg16", "VGG-16 (torchvision)", "torchvision.models.vgg16 (configuration D of Simonyan & Zisserman 2015, without batch norm)",
		[]string{"unshare_conv"}, Options{}},
	{"resnet18", "ResNet-18 (torchvision)", "torchvision.models.resnet18 (He et al. 2016; BasicBlock, [2,2,2,2])",
		[]string{"unshare_conv"}, Options{}},
	{"bert-base", "BERT-base", "Hugging Face transformers BertModel, bert-base-uncased config (Devlin et al. 2019): 12 layers, d 768, 12 heads, d_ff 3072",
		[]string{"pooler", "seq_len", "vocab"}, Options{Pooler: true, SeqLen: 512}},
	{"bert-large", "BERT-large", "Hugging Face transformers BertModel, bert-large-uncased config (Devlin et al. 2019): 24 layers, d 1024, 16 heads, d_ff 4096",
		[]string{"pooler", "seq_len", "vocab"}, Options{Pooler: true, SeqLen: 512}},
	{"albert-base", "ALBERT-base", "Hugging Face transformers AlbertModel, albert-base-v2 config (Lan et al. 2019/2020): 12 layers, E 128, d 768, 12 heads, d_ff 3072",
		[]string{"share", "pooler", "seq_len", "vocab", "embed"}, Options{Share: "all", Pooler: true, SeqLen: 512}},
	{"albert-large", "ALBERT-large", "Hugging Face transformers AlbertModel, albert-large-v2 config (Lan et al. 2019/2020): 24 layers, E 128, d 1024, 16 heads, d_ff 4096",
		[]string{"share", "pooler", "seq_len", "vocab", "embed"}, Options{Share: "all", Pooler: true, SeqLen: 512}},
	{"albert-xlarge", "ALBERT-xlarge", "Hugging Face transformers AlbertModel, albert-xlarge-v2 config (Lan et al. 2019/2020): 24 layers, E 128, d 2048, 16 heads, d_ff 8192",
		[]string{"share", "pooler", "seq_len", "vocab", "embed"}, Options{Share: "all", Pooler: true, SeqLen: 512}},
	{"gpt2", "GPT-2 small", "Hugging Face transformers GPT2LMHeadModel, gpt2 config (Radford et al. 2019): 12 layers, d 768, 12 heads, context 1024, vocabulary 50257",
		[]string{"tie", "seq_len", "vocab"}, Options{Tie: true, SeqLen: 1024}},
}

// Presets lists the architectures Build knows.
func Presets() []Preset {
	out := make([]Preset, len(presets))
	for i, p := range presets {
		out[i] = p
		out[i].Options = append([]string(nil), p.Options...)
	}
	return out
}

// DefaultOptions returns a preset's switches as its source has them: GPT-2
// tied, BERT and ALBERT with their pooler (as BertModel and AlbertModel
// build by default), ALBERT all-shared. Build(name, Options{}) is the
// preset with every switch off.
func DefaultOptions(name string) (Options, error) {
	p, err := preset(name)
	return p.Defaults, err
}

func preset(name string) (Preset, error) {
	for _, p := range presets {
		if p.Name == name {
			return p, nil
		}
	}
	names := make([]string, len(presets))
	for i, p := range presets {
		names[i] = p.Name
	}
	return Preset{}, fmt.Errorf("arch: no preset named %q (presets: %s)", name, strings.Join(names, ", "))
}

// Build returns a preset's model with the given switches. A switch the
// preset does not take must be left at its zero value. Share "" is
// ALBERT's own "all"; SeqLen 0 and Vocab 0 are the source's.
func Build(name string, o Options) (Model, error) {
	p, err := preset(name)
	if err != nil {
		return Model{}, err
	}
	takes := map[string]bool{}
	for _, k := range p.Options {
		takes[k] = true
	}
	for _, set := range []struct {
		key string
		on  bool
	}{{"share", o.Share != ""}, {"tie", o.Tie}, {"pooler", o.Pooler}, {"unshare_conv", o.UnshareConv}, {"seq_len", o.SeqLen != 0}, {"vocab", o.Vocab != 0}, {"embed", o.Embed != 0}} {
		if set.on && !takes[set.key] {
			return Model{}, fmt.Errorf("arch: %s takes no %s option (it takes: %s)", name, set.key, strings.Join(p.Options, ", "))
		}
	}
	if o.SeqLen < 0 || o.SeqLen > MaxSeqLen {
		return Model{}, fmt.Errorf("arch: sequence length %d, want 1 to %d", o.SeqLen, MaxSeqLen)
	}
	if o.Vocab < 0 || o.Vocab > MaxDim {
		return Model{}, fmt.Errorf("arch: vocabulary %d, want 1 to %d", o.Vocab, MaxDim)
	}
	if o.Embed < 0 || o.Embed > MaxDim {
		return Model{}, fmt.Errorf("arch: embedding size %d, want 1 to %d", o.Embed, MaxDim)
	}
	var m Model
	switch name {
	case "lenet5":
		m = lenet5(o)
	case "alexnet":
		m = alexnet(o)
	case "vgg16":
		m = vgg16(o)
	case "resnet18":
		m = resnet18(o)
	case "bert-base":
		m = bert(o, 768, 12, 12)
	case "bert-large":
		m = bert(o, 1024, 24, 16)
	case "albert-base", "albert-large", "albert-xlarge":
		switch o.Share {
		case "":
			o.Share = "all"
		case "all", "attention", "ffn", "none":
		default:
			return Model{}, fmt.Errorf("arch: share %q, want all, attention, ffn or none", o.Share)
		}
		switch name {
		case "albert-base":
			m = albert(o, 768, 12, 12)
		case "albert-large":
			m = albert(o, 1024, 24, 16)
		default:
			m = albert(o, 2048, 24, 16)
		}
	case "gpt2":
		m = gpt2(o)
	}
	m.Name = name
	m.Source = p.Source
	// every preset must count: a sequence longer than its positions, say,
	// is refused here with the counter's own message
	if _, err := Count(m); err != nil {
		return Model{}, err
	}
	return m, nil
}

// attrs is a Layer's attribute map from name/value pairs.
func kv(pairs ...any) map[string]any {
	m := make(map[string]any, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		m[pairs[i].(string)] = pairs[i+1]
	}
	return m
}

type builder struct{ layers []Layer }

func (b *builder) add(name, typ string, attrs map[string]any) {
	b.layers = append(b.layers, Layer{Name: name, Type: typ, Attrs: attrs})
}

func (b *builder) same(name, typ string, attrs map[string]any, sameAs string) {
	b.layers = append(b.layers, Layer{Name: name, Type: typ, Attrs: attrs, SameAs: sameAs})
}

// conv adds a conv2d, or its locally connected twin when unshared.
func (b *builder) conv(o Options, name string, in, out, k, s, p int, bias bool) {
	a := kv("in_channels", in, "out_channels", out, "kernel_size", k, "stride", s, "padding", p)
	if !bias {
		a["bias"] = false
	}
	typ := "conv2d"
	if o.UnshareConv {
		typ = "locally_connected2d"
	}
	b.add(name, typ, a)
}

// LeNetC3 is the connection table of LeNet-5's C3 (LeCun et al. 1998,
// Table I): entry o lists the S2 feature maps that C3 map o sees. Maps 0–5
// take three neighbouring maps, 6–11 four neighbouring, 12–14 four
// non-neighbouring, 15 all six.
var LeNetC3 = [][]int{
	{0, 1, 2}, {1, 2, 3}, {2, 3, 4}, {3, 4, 5}, {4, 5, 0}, {5, 0, 1},
	{0, 1, 2, 3}, {1, 2, 3, 4}, {2, 3, 4, 5}, {3, 4, 5, 0}, {4, 5, 0, 1}, {5, 0, 1, 2},
	{0, 1, 3, 4}, {1, 2, 4, 5}, {0, 2, 3, 5},
	{0, 1, 2, 3, 4, 5},
}

// lenet5 is LeNet-5 as the paper defines it: a 32×32 input; S2 and S4 add
// their 2×2 inputs, scale by a trainable coefficient and add a trainable
// bias (2 parameters per map); every unit up to F6 squashes with the fixed
// A·tanh(S·a); the output layer is Euclidean RBF units whose centres were
// chosen by hand and kept fixed, so not trainable. That gives the paper's
// 60,000 trainable parameters.
func lenet5(o Options) Model {
	var b builder
	sub := func() map[string]any {
		a := kv("kernel_size", 2, "stride", 2)
		if o.UnshareConv {
			// S2/S4 slide one coefficient and bias over their maps too
			a["locally_connected"] = true
		}
		return a
	}
	b.conv(o, "C1", 1, 6, 5, 1, 0, true)
	b.add("C1.squash", "tanh", nil)
	b.add("S2", "subsample2d", sub())
	b.add("S2.squash", "tanh", nil)
	conn := make([]any, len(LeNetC3))
	for i, row := range LeNetC3 {
		r := make([]any, len(row))
		for j, v := range row {
			r[j] = v
		}
		conn[i] = r
	}
	c3 := kv("in_channels", 6, "out_channels", 16, "kernel_size", 5, "stride", 1, "padding", 0, "connections", conn)
	if o.UnshareConv {
		c3["locally_connected"] = true
	}
	b.add("C3", "partial_conv2d", c3)
	b.add("C3.squash", "tanh", nil)
	b.add("S4", "subsample2d", sub())
	b.add("S4.squash", "tanh", nil)
	b.conv(o, "C5", 16, 120, 5, 1, 0, true)
	b.add("C5.squash", "tanh", nil)
	b.add("flatten", "flatten", nil)
	b.add("F6", "linear", kv("in_features", 120, "out_features", 84))
	b.add("F6.squash", "tanh", nil)
	b.add("output", "rbf", kv("in_features", 84, "out_features", 10))
	return Model{Input: []int{1, 32, 32}, Layers: b.layers,
		Rule: "trainable parameters, biases counted, as the paper counts them (60,000 in all); S2/S4: one coefficient and one bias per map; the RBF output's hand-set centres (84×10) are fixed, not counted"}
}

// alexnet is torchvision's AlexNet (features, avgpool, classifier), on a
// 3×224×224 image.
func alexnet(o Options) Model {
	var b builder
	f := func(i int) string { return "features." + strconv.Itoa(i) }
	b.conv(o, f(0), 3, 64, 11, 4, 2, true)
	b.add(f(1), "relu", nil)
	b.add(f(2), "maxpool2d", kv("kernel_size", 3, "stride", 2))
	b.conv(o, f(3), 64, 192, 5, 1, 2, true)
	b.add(f(4), "relu", nil)
	b.add(f(5), "maxpool2d", kv("kernel_size", 3, "stride", 2))
	b.conv(o, f(6), 192, 384, 3, 1, 1, true)
	b.add(f(7), "relu", nil)
	b.conv(o, f(8), 384, 256, 3, 1, 1, true)
	b.add(f(9), "relu", nil)
	b.conv(o, f(10), 256, 256, 3, 1, 1, true)
	b.add(f(11), "relu", nil)
	b.add(f(12), "maxpool2d", kv("kernel_size", 3, "stride", 2))
	b.add("avgpool", "adaptive_avg_pool2d", kv("output_size", []any{6, 6}))
	b.add("flatten", "flatten", nil)
	b.add("classifier.0", "dropout", kv("p", 0.5))
	b.add("classifier.1", "linear", kv("in_features", 256*6*6, "out_features", 4096))
	b.add("classifier.2", "relu", nil)
	b.add("classifier.3", "dropout", kv("p", 0.5))
	b.add("classifier.4", "linear", kv("in_features", 4096, "out_features", 4096))
	b.add("classifier.5", "relu", nil)
	b.add("classifier.6", "linear", kv("in_features", 4096, "out_features", 1000))
	return Model{Input: []int{3, 224, 224}, Layers: b.layers, Rule: ruleCNN}
}

// vgg16 is torchvision's vgg16: configuration D, 3×3 convs with padding 1,
// 2×2 max pools, adaptive average pool to 7×7, three linears.
func vgg16(o Options) Model {
	var b builder
	cfg := []int{64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0}
	in, i := 3, 0
	for _, c := range cfg {
		name := "features." + strconv.Itoa(i)
		if c == 0 {
			b.add(name, "maxpool2d", kv("kernel_size", 2, "stride", 2))
			i++
			continue
		}
		b.conv(o, name, in, c, 3, 1, 1, true)
		b.add("features."+strconv.Itoa(i+1), "relu", nil)
		in, i = c, i+2
	}
	b.add("avgpool", "adaptive_avg_pool2d", kv("output_size", []any{7, 7}))
	b.add("flatten", "flatten", nil)
	b.add("classifier.0", "linear", kv("in_features", 512*7*7, "out_features", 4096))
	b.add("classifier.1", "relu", nil)
	b.add("classifier.2", "dropout", kv("p", 0.5))
	b.add("classifier.3", "linear", kv("in_features", 4096, "out_features", 4096))
	b.add("classifier.4", "relu", nil)
	b.add("classifier.5", "dropout", kv("p", 0.5))
	b.add("classifier.6", "linear", kv("in_features", 4096, "out_features", 1000))
	return Model{Input: []int{3, 224, 224}, Layers: b.layers, Rule: ruleCNN}
}

// resnet18 is torchvision's resnet18, one basic_block row per BasicBlock.
func resnet18(o Options) Model {
	var b builder
	b.conv(o, "conv1", 3, 64, 7, 2, 3, false)
	b.add("bn1", "batch_norm2d", kv("num_features", 64))
	b.add("relu", "relu", nil)
	b.add("maxpool", "maxpool2d", kv("kernel_size", 3, "stride", 2, "padding", 1))
	in := 64
	for stage, width := range []int{64, 128, 256, 512} {
		for blk := 0; blk < 2; blk++ {
			s := 1
			if blk == 0 && stage > 0 {
				s = 2
			}
			a := kv("in_channels", in, "out_channels", width, "stride", s)
			if o.UnshareConv {
				a["locally_connected"] = true
			}
			b.add(fmt.Sprintf("layer%d.%d", stage+1, blk), "basic_block", a)
			in = width
		}
	}
	b.add("avgpool", "adaptive_avg_pool2d", kv("output_size", []any{1, 1}))
	b.add("flatten", "flatten", nil)
	b.add("fc", "linear", kv("in_features", 512, "out_features", 1000))
	return Model{Input: []int{3, 224, 224}, Layers: b.layers, Rule: ruleCNN}
}

// embeddings adds BertEmbeddings / AlbertEmbeddings: word, position (512,
// learned) and token-type (2) embeddings of size e, summed, then LayerNorm.
func (b *builder) embeddings(vocab, e int) {
	b.add("embeddings.word_embeddings", "embedding", kv("num_embeddings", vocab, "embedding_dim", e))
	b.add("embeddings.position_embeddings", "positional_encoding", kv("kind", "learned", "max_len", 512, "d_model", e))
	b.add("embeddings.token_type_embeddings", "embedding", kv("num_embeddings", 2, "embedding_dim", e, "added", true))
	b.add("embeddings.LayerNorm", "layer_norm", kv("normalized_shape", e, "eps", 1e-12))
	b.add("embeddings.dropout", "dropout", kv("p", 0.1))
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// bert is BertModel: embeddings, L post-norm GELU encoder layers (d_ff =
// 4d), and the pooler if asked.
func bert(o Options, d, layers, heads int) Model {
	var b builder
	b.embeddings(orDefault(o.Vocab, 30522), d)
	for i := 0; i < layers; i++ {
		b.add(fmt.Sprintf("encoder.layer.%d", i), "transformer_block",
			kv("d_model", d, "num_heads", heads, "d_ff", 4*d, "norm", "post", "activation", "gelu"))
	}
	if o.Pooler {
		b.add("pooler", "pooler", kv("d_model", d))
	}
	return Model{SeqLen: orDefault(o.SeqLen, 512), Layers: b.layers, Rule: ruleBERT}
}

// albert is AlbertModel: embeddings of size E (128), the projection to d
// (embedding_hidden_mapping_in; left out when E = d, as the original
// google-research/albert modeling.py does — Hugging Face's AlbertModel
// would keep a d×d one), L layers each an attention half and a
// feed-forward half, shared with layer 0's as o.Share says, and the pooler
// if asked.
func albert(o Options, d, layers, heads int) Model {
	var b builder
	e := orDefault(o.Embed, 128)
	b.embeddings(orDefault(o.Vocab, 30000), e)
	if e != d {
		b.add("encoder.embedding_hidden_mapping_in", "linear", kv("in_features", e, "out_features", d))
	}
	shareAttn := o.Share == "all" || o.Share == "attention"
	shareFFN := o.Share == "all" || o.Share == "ffn"
	for i := 0; i < layers; i++ {
		attn := kv("d_model", d, "num_heads", heads)
		ff := kv("d_model", d, "d_ff", 4*d)
		name := fmt.Sprintf("encoder.layer.%d.", i)
		if i > 0 && shareAttn {
			b.same(name+"attention", "attention_block", attn, "encoder.layer.0.attention")
		} else {
			b.add(name+"attention", "attention_block", attn)
		}
		if i > 0 && shareFFN {
			b.same(name+"ffn", "ffn_block", ff, "encoder.layer.0.ffn")
		} else {
			b.add(name+"ffn", "ffn_block", ff)
		}
	}
	if o.Pooler {
		b.add("pooler", "pooler", kv("d_model", d))
	}
	rule := ruleBERT + "; cross-layer sharing: " + map[string]string{
		"all": "every layer uses layer 0's tensors", "attention": "every layer uses layer 0's attention (and its LayerNorm)",
		"ffn": "every layer uses layer 0's feed-forward (and its LayerNorm)", "none": "none (every layer its own)"}[o.Share]
	return Model{SeqLen: orDefault(o.SeqLen, 512), Layers: b.layers, Rule: rule}
}

// gpt2 is GPT2LMHeadModel: token and position embeddings, 12 pre-norm
// GELU blocks, the final LayerNorm and the bias-free LM head, tied to the
// token embedding when o.Tie.
func gpt2(o Options) Model {
	var b builder
	v, d := orDefault(o.Vocab, 50257), 768
	b.add("wte", "embedding", kv("num_embeddings", v, "embedding_dim", d))
	b.add("wpe", "positional_encoding", kv("kind", "learned", "max_len", 1024, "d_model", d))
	b.add("drop", "dropout", kv("p", 0.1))
	for i := 0; i < 12; i++ {
		b.add(fmt.Sprintf("h.%d", i), "transformer_block",
			kv("d_model", d, "num_heads", 12, "d_ff", 4*d, "causal", true, "norm", "pre", "activation", "gelu"))
	}
	b.add("ln_f", "layer_norm", kv("normalized_shape", d, "eps", 1e-5))
	head := kv("in_features", d, "out_features", v, "bias", false)
	if o.Tie {
		b.same("lm_head", "linear", head, "wte")
	} else {
		b.add("lm_head", "linear", head)
	}
	return Model{SeqLen: orDefault(o.SeqLen, 1024), Layers: b.layers, Rule: ruleGPT2}
}
