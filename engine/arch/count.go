package arch

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"sort"
	"strings"
)

// Limits on what Count accepts, so that a teacher's config cannot ask for
// unbounded work or overflow the counts.
const (
	MaxLayers = 512     // layers in one model
	MaxDim    = 1 << 24 // any whole-number attribute (channels, vocabulary, d_ff, …)
	MaxSeqLen = 1 << 16 // sequence length
)

// Count counts m layer by layer: what each layer adds (a layer with SameAs
// adds nothing and names the layer that holds its tensors), its uses
// (multiply-adds for one example) and what it would hold with no sharing.
// It follows the shape of one example through the layers, so that uses are
// exact, and refuses a model whose shapes do not chain, naming the layer.
func Count(m Model) (Table, error) {
	t := Table{Model: m.Name, Rule: m.Rule, Source: m.Source}
	if len(m.Layers) == 0 {
		return t, errors.New("arch: the model has no layers")
	}
	if len(m.Layers) > MaxLayers {
		return t, fmt.Errorf("arch: %d layers, at most %d", len(m.Layers), MaxLayers)
	}
	in, err := inputShape(m)
	if err != nil {
		return t, err
	}
	if in.kind == imageShape {
		t.Input = []int{in.c, in.h, in.w}
	} else if in.kind == vecShape {
		t.Input = []int{in.n}
	} else {
		t.SeqLen = in.t
	}
	type held struct {
		index int
		typ   string
		sig   string
		root  string
	}
	seen := map[string]held{}
	cur := in
	var sum calc
	for i, l := range m.Layers {
		where := fmt.Sprintf("layer %d %q", i, l.Name)
		if l.Name == "" {
			where = fmt.Sprintf("layer %d", i)
			return t, fmt.Errorf("arch: %s (%s): no name", where, l.Type)
		}
		if _, dup := seen[l.Name]; dup {
			return t, fmt.Errorf("arch: %s: the name is used by an earlier layer", where)
		}
		c, err := countLayer(l, cur)
		if err != nil {
			return t, fmt.Errorf("arch: %s (%s): %w", where, l.Type, err)
		}
		row := Row{Layer: l.Name, Type: l.Type, Uses: c.uses, Unshared: c.unshared, Params: c.params, Output: c.out.String()}
		h := held{index: i, typ: l.Type, sig: c.sig, root: l.Name}
		if l.SameAs != "" {
			src, ok := seen[l.SameAs]
			switch {
			case !ok && l.SameAs == l.Name:
				return t, fmt.Errorf("arch: %s (%s): same_as names the layer itself", where, l.Type)
			case !ok:
				return t, fmt.Errorf("arch: %s (%s): same_as %q names no earlier layer", where, l.Type, l.SameAs)
			case c.sig == "":
				return t, fmt.Errorf("arch: %s (%s): same_as %q, but a %s layer has no parameters to share", where, l.Type, l.SameAs, l.Type)
			case src.typ != l.Type && !tyingPair(src.typ, l.Type):
				return t, fmt.Errorf("arch: %s (%s): same_as %q, a %s layer: only a layer of the same type (or a bias-free linear tied to an embedding) can share its tensors", where, l.Type, l.SameAs, src.typ)
			case src.sig != c.sig:
				return t, fmt.Errorf("arch: %s (%s): same_as %q, whose parameters are %s, not %s", where, l.Type, l.SameAs, src.sig, c.sig)
			}
			row.Params = 0
			row.SharedWith = src.root
			h.root = src.root
		}
		seen[l.Name] = h
		t.Rows = append(t.Rows, row)
		t.Params = sum.add(t.Params, row.Params)
		t.Uses = sum.add(t.Uses, row.Uses)
		t.Unshared = sum.add(t.Unshared, row.Unshared)
		if sum.err != nil {
			return t, fmt.Errorf("arch: %s (%s): %w", where, l.Type, sum.err)
		}
		cur = c.out
	}
	return t, nil
}

// tyingPair reports whether a layer of type b may use the tensors of a
// layer of type a: an output projection tied to the input embedding.
func tyingPair(a, b string) bool {
	return (a == "embedding" && b == "linear") || (a == "linear" && b == "embedding")
}

func inputShape(m Model) (shape, error) {
	switch {
	case len(m.Input) > 0 && m.SeqLen != 0:
		return shape{}, errors.New("arch: the model has both an input shape and a sequence length")
	case m.SeqLen != 0:
		if m.SeqLen < 1 || m.SeqLen > MaxSeqLen {
			return shape{}, fmt.Errorf("arch: sequence length %d, want 1 to %d", m.SeqLen, MaxSeqLen)
		}
		return shape{kind: tokenShape, t: m.SeqLen}, nil
	case len(m.Input) == 3 || len(m.Input) == 1:
		for _, v := range m.Input {
			if v < 1 || v > MaxDim {
				return shape{}, fmt.Errorf("arch: input %v: every size must be 1 to %d", m.Input, MaxDim)
			}
		}
		if len(m.Input) == 1 {
			return shape{kind: vecShape, n: m.Input[0]}, nil
		}
		return shape{kind: imageShape, c: m.Input[0], h: m.Input[1], w: m.Input[2]}, nil
	case len(m.Input) > 0:
		return shape{}, fmt.Errorf("arch: input %v: want [C,H,W] (an image) or [N] (a vector)", m.Input)
	}
	return shape{}, errors.New("arch: the model has no input: give an image [C,H,W] or a sequence length")
}

// shape is one example's activation between two layers.
type shape struct {
	kind    shapeKind
	c, h, w int // image
	t, d    int // sequence of t positions with d features; tokens: t indices
	n       int // vector
}

type shapeKind int

const (
	imageShape shapeKind = iota + 1
	seqShape
	vecShape
	tokenShape
)

func (s shape) String() string {
	switch s.kind {
	case imageShape:
		return fmt.Sprintf("%d×%d×%d", s.c, s.h, s.w)
	case seqShape:
		return fmt.Sprintf("%d×%d", s.t, s.d)
	case vecShape:
		return fmt.Sprintf("%d", s.n)
	case tokenShape:
		return fmt.Sprintf("%d tokens", s.t)
	}
	return "?"
}

func (s shape) what() string {
	switch s.kind {
	case imageShape:
		return "an image " + s.String()
	case seqShape:
		return "a sequence " + s.String()
	case vecShape:
		return "a vector of " + s.String()
	case tokenShape:
		return s.String()
	}
	return "nothing"
}

// counted is one layer's count before sharing is applied.
type counted struct {
	params   int64  // what its own tensors hold
	uses     int64  // multiply-adds for one example
	unshared int64  // its tensors with no sharing across positions
	sig      string // its tensors' shapes; "" for a layer without parameters
	out      shape
}

// calc is int64 arithmetic that notices overflow (a teacher's config can
// ask for absurd sizes); the first overflow is kept in err.
type calc struct{ err error }

func (c *calc) mul(xs ...int64) int64 {
	p := uint64(1)
	for _, x := range xs {
		if x < 0 {
			c.fail()
			return 0
		}
		hi, lo := bits.Mul64(p, uint64(x))
		if hi != 0 || lo > math.MaxInt64 {
			c.fail()
			return 0
		}
		p = lo
	}
	return int64(p)
}

func (c *calc) add(xs ...int64) int64 {
	var s int64
	for _, x := range xs {
		if x > 0 && s > math.MaxInt64-x {
			c.fail()
			return 0
		}
		s += x
	}
	return s
}

func (c *calc) fail() {
	if c.err == nil {
		c.err = errors.New("the counts overflow 64-bit integers: the sizes are too large")
	}
}

// attrs reads a layer's attributes, remembering the first problem and
// which keys were read, so that an unknown key is an error too.
type attrs struct {
	m    map[string]any
	read map[string]bool
	err  error
}

func (a *attrs) failf(format string, args ...any) {
	if a.err == nil {
		a.err = fmt.Errorf(format, args...)
	}
}

func (a *attrs) get(key string) (any, bool) {
	a.read[key] = true
	v, ok := a.m[key]
	return v, ok
}

// show prints an attr's value as its JSON looked: strings quoted.
func show(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprint(v)
}

// whole converts a JSON or Go number to an int, if it is a whole number.
func whole(v any) (int, bool) {
	switch x := v.(type) {
	case int:
		return x, true
	case int64:
		return int(x), true
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
			return 0, false
		}
		return int(x), true
	}
	return 0, false
}

// int reads a whole number in [lo, MaxDim]; def < lo means required.
func (a *attrs) int(key string, lo, def int) int {
	v, ok := a.get(key)
	if !ok {
		if def < lo {
			a.failf("missing attr %q", key)
		}
		return def
	}
	n, ok := whole(v)
	if !ok {
		a.failf("attr %q is %s, not a whole number", key, show(v))
		return def
	}
	if n < lo || n > MaxDim {
		a.failf("attr %q is %d, want %d to %d", key, n, lo, MaxDim)
		return def
	}
	return n
}

func (a *attrs) bool(key string, def bool) bool {
	v, ok := a.get(key)
	if !ok {
		return def
	}
	b, ok := v.(bool)
	if !ok {
		a.failf("attr %q is %s, not true or false", key, show(v))
	}
	return b
}

func (a *attrs) choice(key, def string, choices ...string) string {
	v, ok := a.get(key)
	if !ok {
		if def == "" {
			a.failf("missing attr %q (one of %s)", key, strings.Join(choices, ", "))
		}
		return def
	}
	s, _ := v.(string)
	for _, c := range choices {
		if s == c {
			return s
		}
	}
	a.failf("attr %q is %s, want one of %s", key, show(v), strings.Join(choices, ", "))
	return def
}

// pair reads an int or [h, w] (adaptive pooling's output size).
func (a *attrs) pair(key string) (int, int) {
	v, ok := a.get(key)
	if !ok {
		a.failf("missing attr %q", key)
		return 1, 1
	}
	if n, ok := whole(v); ok && n >= 1 && n <= MaxDim {
		return n, n
	}
	var xs []any
	switch x := v.(type) {
	case []any:
		xs = x
	case []int:
		for _, n := range x {
			xs = append(xs, n)
		}
	}
	if len(xs) == 2 {
		h, ok1 := whole(xs[0])
		w, ok2 := whole(xs[1])
		if ok1 && ok2 && h >= 1 && w >= 1 && h <= MaxDim && w <= MaxDim {
			return h, w
		}
	}
	a.failf("attr %q is %v, want a size ≥ 1 or [h, w]", key, v)
	return 1, 1
}

// lists reads a list of lists of whole numbers (a connection table).
func (a *attrs) lists(key string) [][]int {
	v, ok := a.get(key)
	if !ok {
		a.failf("missing attr %q", key)
		return nil
	}
	switch x := v.(type) {
	case [][]int:
		return x
	case []any:
		out := make([][]int, len(x))
		for i, row := range x {
			r, ok := row.([]any)
			if !ok {
				a.failf("attr %q: entry %d is %v, not a list of channel indices", key, i, row)
				return nil
			}
			for _, e := range r {
				n, ok := whole(e)
				if !ok {
					a.failf("attr %q: entry %d holds %v, not a channel index", key, i, e)
					return nil
				}
				out[i] = append(out[i], n)
			}
		}
		return out
	}
	a.failf("attr %q is %v, not a list of lists of channel indices", key, v)
	return nil
}

// Types lists the layer types Count knows, sorted.
func Types() []string {
	out := make([]string, 0, len(layerTypes))
	for k := range layerTypes {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

type layerFunc func(a *attrs, in shape, c *calc) (counted, error)

var layerTypes map[string]layerFunc

func init() {
	layerTypes = map[string]layerFunc{
		"conv2d":              convLayer(false),
		"locally_connected2d": convLayer(true),
		"partial_conv2d":      partialConv,
		"subsample2d":         subsample,
		"maxpool2d":           pool,
		"avgpool2d":           pool,
		"adaptive_avg_pool2d": adaptivePool,
		"batch_norm2d":        batchNorm,
		"basic_block":         basicBlock,
		"relu":                elementwise,
		"tanh":                elementwise,
		"sigmoid":             elementwise,
		"gelu":                elementwise,
		"dropout":             dropout,
		"flatten":             flatten,
		"linear":              linear,
		"rbf":                 rbf,
		"embedding":           embedding,
		"one_hot":             oneHot,
		"positional_encoding": positional,
		"layer_norm":          layerNorm,
		"self_attention":      selfAttention,
		"transformer_block":   transformerBlock,
		"attention_block":     attentionBlock,
		"ffn_block":           ffnBlock,
		"pooler":              pooler,
		"rnn":                 recurrent(1),
		"lstm":                recurrent(4),
		"gru":                 recurrent(3),
		"last_step":           lastStep,
	}
}

// countLayer counts one layer on the input shape in.
func countLayer(l Layer, in shape) (counted, error) {
	f, ok := layerTypes[l.Type]
	if !ok {
		if l.Type == "siamese" {
			return counted{}, errors.New("a siamese layer (a branch) is not supported by the counter: list its branch's layers instead")
		}
		return counted{}, fmt.Errorf("unknown layer type %q (known: %s)", l.Type, strings.Join(Types(), ", "))
	}
	a := &attrs{m: l.Attrs, read: map[string]bool{}}
	var cl calc
	c, err := f(a, in, &cl)
	if a.err != nil {
		return c, a.err
	}
	if err != nil {
		return c, err
	}
	if cl.err != nil {
		return c, cl.err
	}
	var unknown []string
	for k := range l.Attrs {
		if !a.read[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		known := make([]string, 0, len(a.read))
		for k := range a.read {
			known = append(known, k)
		}
		sort.Strings(known)
		if len(known) == 0 {
			return c, fmt.Errorf("unknown attr %q (a %s layer takes none)", unknown[0], l.Type)
		}
		return c, fmt.Errorf("unknown attr %q (a %s layer takes %s)", unknown[0], l.Type, strings.Join(known, ", "))
	}
	return c, nil
}

func needImage(in shape, channels int, what string) error {
	if in.kind != imageShape {
		return fmt.Errorf("needs an image [C,H,W], but its input is %s", in.what())
	}
	if channels > 0 && in.c != channels {
		return fmt.Errorf("%s is %d, but its input %s has %d channels", what, channels, in.String(), in.c)
	}
	return nil
}

// outSize is PyTorch's output size of a convolution or pooling window.
func outSize(n, k, s, p, dil int) (int, error) {
	span := dil*(k-1) + 1
	if n+2*p < span {
		return 0, fmt.Errorf("the window (%d) is larger than the padded input (%d)", span, n+2*p)
	}
	return (n+2*p-span)/s + 1, nil
}

func convLayer(local bool) layerFunc {
	return func(a *attrs, in shape, c *calc) (counted, error) {
		ic := a.int("in_channels", 1, 0)
		oc := a.int("out_channels", 1, 0)
		k := a.int("kernel_size", 1, 0)
		s := a.int("stride", 1, 0)
		p := a.int("padding", 0, -1)
		dil := a.int("dilation", 1, 1)
		g := a.int("groups", 1, 1)
		bias := a.bool("bias", true)
		if a.err != nil {
			return counted{}, nil
		}
		if ic%g != 0 || oc%g != 0 {
			return counted{}, fmt.Errorf("groups %d must divide in_channels %d and out_channels %d", g, ic, oc)
		}
		if err := needImage(in, ic, "in_channels"); err != nil {
			return counted{}, err
		}
		oh, err := outSize(in.h, k, s, p, dil)
		if err != nil {
			return counted{}, err
		}
		ow, _ := outSize(in.w, k, s, p, dil)
		kernel := c.mul(int64(oc), int64(ic/g), int64(k), int64(k))
		pos := c.mul(int64(oh), int64(ow))
		var b, lb int64
		if bias {
			b, lb = int64(oc), c.mul(int64(oc), pos)
		}
		r := counted{
			params:   c.add(kernel, b),
			uses:     c.mul(kernel, pos),
			unshared: c.add(c.mul(kernel, pos), lb),
			out:      shape{kind: imageShape, c: oc, h: oh, w: ow},
		}
		r.sig = fmt.Sprintf("weight [%d,%d,%d,%d]", oc, ic/g, k, k)
		if local {
			r.params = r.unshared
			r.sig = fmt.Sprintf("weight [%d,%d,%d,%d,%d,%d]", oh, ow, oc, ic/g, k, k)
			if bias {
				r.sig += fmt.Sprintf(" bias [%d,%d,%d]", oc, oh, ow)
			}
		} else if bias {
			r.sig += fmt.Sprintf(" bias [%d]", oc)
		}
		return r, nil
	}
}

// partialConv is a convolution in which output map o sees only the input
// maps connections[o] (LeNet-5's C3, LeCun et al. 1998, Table I).
func partialConv(a *attrs, in shape, c *calc) (counted, error) {
	ic := a.int("in_channels", 1, 0)
	oc := a.int("out_channels", 1, 0)
	k := a.int("kernel_size", 1, 0)
	s := a.int("stride", 1, 0)
	p := a.int("padding", 0, -1)
	local := a.bool("locally_connected", false)
	conn := a.lists("connections")
	if a.err != nil {
		return counted{}, nil
	}
	if len(conn) != oc {
		return counted{}, fmt.Errorf("connections has %d entries, want one per output map (%d)", len(conn), oc)
	}
	var links int64
	for o, row := range conn {
		if len(row) == 0 {
			return counted{}, fmt.Errorf("connections[%d] is empty: output map %d sees no input map", o, o)
		}
		seen := map[int]bool{}
		for _, i := range row {
			if i < 0 || i >= ic {
				return counted{}, fmt.Errorf("connections[%d] names input map %d, want 0 to %d", o, i, ic-1)
			}
			if seen[i] {
				return counted{}, fmt.Errorf("connections[%d] names input map %d twice", o, i)
			}
			seen[i] = true
		}
		links += int64(len(row))
	}
	if err := needImage(in, ic, "in_channels"); err != nil {
		return counted{}, err
	}
	oh, err := outSize(in.h, k, s, p, 1)
	if err != nil {
		return counted{}, err
	}
	ow, _ := outSize(in.w, k, s, p, 1)
	kernel := c.mul(links, int64(k), int64(k))
	pos := c.mul(int64(oh), int64(ow))
	r := counted{
		params:   c.add(kernel, int64(oc)),
		uses:     c.mul(kernel, pos),
		unshared: c.add(c.mul(kernel, pos), c.mul(int64(oc), pos)),
		sig:      fmt.Sprintf("weight %v k %d bias [%d] local %v", conn, k, oc, local),
		out:      shape{kind: imageShape, c: oc, h: oh, w: ow},
	}
	if local {
		r.params = r.unshared
		r.sig += fmt.Sprintf(" at %d×%d", oh, ow)
	}
	return r, nil
}

// subsample is LeNet-5's S2/S4: each output unit adds its k×k inputs,
// multiplies the sum by its map's trainable coefficient and adds the map's
// trainable bias (LeCun et al. 1998, section II.B).
func subsample(a *attrs, in shape, c *calc) (counted, error) {
	k := a.int("kernel_size", 1, 0)
	s := a.int("stride", 1, 0)
	local := a.bool("locally_connected", false)
	if a.err != nil {
		return counted{}, nil
	}
	if err := needImage(in, 0, ""); err != nil {
		return counted{}, err
	}
	oh, err := outSize(in.h, k, s, 0, 1)
	if err != nil {
		return counted{}, err
	}
	ow, _ := outSize(in.w, k, s, 0, 1)
	units := c.mul(int64(in.c), int64(oh), int64(ow))
	r := counted{
		params:   c.mul(2, int64(in.c)),
		uses:     c.mul(units, int64(k), int64(k)),
		unshared: c.mul(2, units),
		sig:      fmt.Sprintf("coefficient [%d] bias [%d]", in.c, in.c),
		out:      shape{kind: imageShape, c: in.c, h: oh, w: ow},
	}
	if local {
		// a coefficient and a bias of its own for every unit
		r.params = r.unshared
		r.sig = fmt.Sprintf("coefficient [%d,%d,%d] bias [%d,%d,%d]", in.c, oh, ow, in.c, oh, ow)
	}
	return r, nil
}

func pool(a *attrs, in shape, c *calc) (counted, error) {
	k := a.int("kernel_size", 1, 0)
	s := a.int("stride", 1, 0)
	p := a.int("padding", 0, 0)
	if a.err != nil {
		return counted{}, nil
	}
	if err := needImage(in, 0, ""); err != nil {
		return counted{}, err
	}
	if 2*p > k {
		return counted{}, fmt.Errorf("padding %d is more than half the kernel %d", p, k)
	}
	oh, err := outSize(in.h, k, s, p, 1)
	if err != nil {
		return counted{}, err
	}
	ow, _ := outSize(in.w, k, s, p, 1)
	return counted{out: shape{kind: imageShape, c: in.c, h: oh, w: ow}}, nil
}

func adaptivePool(a *attrs, in shape, c *calc) (counted, error) {
	h, w := a.pair("output_size")
	if a.err != nil {
		return counted{}, nil
	}
	if err := needImage(in, 0, ""); err != nil {
		return counted{}, err
	}
	return counted{out: shape{kind: imageShape, c: in.c, h: h, w: w}}, nil
}

func batchNorm(a *attrs, in shape, c *calc) (counted, error) {
	n := a.int("num_features", 1, 0)
	a.get("eps")
	a.get("momentum")
	if a.err != nil {
		return counted{}, nil
	}
	if err := needImage(in, n, "num_features"); err != nil {
		return counted{}, err
	}
	return counted{
		params:   c.mul(2, int64(n)),
		uses:     c.mul(int64(in.c), int64(in.h), int64(in.w)),
		unshared: c.mul(2, int64(n)),
		sig:      fmt.Sprintf("weight [%d] bias [%d]", n, n),
		out:      in,
	}, nil
}

// basicBlock is torchvision's ResNet BasicBlock: conv3×3(stride) → BN →
// ReLU → conv3×3 → BN, plus the input (through a 1×1 conv(stride) → BN
// "downsample" when the stride or the width changes), then ReLU. Its convs
// have no bias.
func basicBlock(a *attrs, in shape, c *calc) (counted, error) {
	ic := a.int("in_channels", 1, 0)
	oc := a.int("out_channels", 1, 0)
	s := a.int("stride", 1, 1)
	local := a.bool("locally_connected", false)
	if a.err != nil {
		return counted{}, nil
	}
	if err := needImage(in, ic, "in_channels"); err != nil {
		return counted{}, err
	}
	type conv struct{ in, out, k, s, p int }
	convs := []conv{{ic, oc, 3, s, 1}, {oc, oc, 3, 1, 1}}
	if s != 1 || ic != oc {
		convs = append(convs, conv{ic, oc, 1, s, 0})
	}
	var r counted
	for i, cv := range convs {
		src := in
		if i == 1 {
			src = r.out
		}
		oh, err := outSize(src.h, cv.k, cv.s, cv.p, 1)
		if err != nil {
			return counted{}, err
		}
		ow, _ := outSize(src.w, cv.k, cv.s, cv.p, 1)
		kernel := c.mul(int64(cv.out), int64(cv.in), int64(cv.k), int64(cv.k))
		pos := c.mul(int64(oh), int64(ow))
		elems := c.mul(int64(cv.out), pos)
		// the conv, then its batch norm (γ, β per channel; one
		// multiply-add per element)
		r.params = c.add(r.params, kernel, 2*int64(cv.out))
		r.uses = c.add(r.uses, c.mul(kernel, pos), elems)
		r.unshared = c.add(r.unshared, c.mul(kernel, pos), 2*int64(cv.out))
		if i == 0 {
			r.out = shape{kind: imageShape, c: oc, h: oh, w: ow}
		}
	}
	r.sig = fmt.Sprintf("basic block %d→%d stride %d local %v", ic, oc, s, local)
	if local {
		// each conv locally connected (no bias, as in the block); the
		// batch norms stay per channel
		r.params = r.unshared
	}
	return r, nil
}

func elementwise(a *attrs, in shape, c *calc) (counted, error) {
	if in.kind == tokenShape {
		return counted{}, errors.New("needs numbers, but its input is token indices")
	}
	return counted{out: in}, nil
}

func dropout(a *attrs, in shape, c *calc) (counted, error) {
	a.get("p")
	return elementwise(a, in, c)
}

func flatten(a *attrs, in shape, c *calc) (counted, error) {
	switch in.kind {
	case imageShape:
		return counted{out: shape{kind: vecShape, n: in.c * in.h * in.w}}, nil
	case seqShape:
		return counted{out: shape{kind: vecShape, n: in.t * in.d}}, nil
	case vecShape:
		return counted{out: in}, nil
	}
	return counted{}, fmt.Errorf("cannot flatten %s", in.what())
}

// features is the feature size of a vector or of each position of a
// sequence, and how many positions a per-position layer is applied at.
func features(in shape, want int, what string) (positions int64, err error) {
	switch in.kind {
	case vecShape:
		if in.n != want {
			return 0, fmt.Errorf("%s is %d, but its input is a vector of %d", what, want, in.n)
		}
		return 1, nil
	case seqShape:
		if in.d != want {
			return 0, fmt.Errorf("%s is %d, but its input %s has %d features per position", what, want, in.String(), in.d)
		}
		return int64(in.t), nil
	case imageShape:
		return 0, fmt.Errorf("needs a vector or a sequence, but its input is %s (flatten it first)", in.what())
	}
	return 0, fmt.Errorf("needs a vector or a sequence, but its input is %s (embed them first)", in.what())
}

func withFeatures(in shape, d int) shape {
	if in.kind == seqShape {
		return shape{kind: seqShape, t: in.t, d: d}
	}
	return shape{kind: vecShape, n: d}
}

func linear(a *attrs, in shape, c *calc) (counted, error) {
	i := a.int("in_features", 1, 0)
	o := a.int("out_features", 1, 0)
	bias := a.bool("bias", true)
	if a.err != nil {
		return counted{}, nil
	}
	pos, err := features(in, i, "in_features")
	if err != nil {
		return counted{}, err
	}
	w := c.mul(int64(i), int64(o))
	r := counted{params: w, uses: c.mul(w, pos), sig: fmt.Sprintf("weight [%d,%d]", o, i), out: withFeatures(in, o)}
	if bias {
		r.params = c.add(w, int64(o))
		r.sig += fmt.Sprintf(" bias [%d]", o)
	}
	r.unshared = r.params
	return r, nil
}

// rbf is LeNet-5's output layer: unit j outputs Σ_i (x_i − w_ij)², with
// w fixed by hand (stylised 7×12 bitmaps) unless trainable.
func rbf(a *attrs, in shape, c *calc) (counted, error) {
	i := a.int("in_features", 1, 0)
	o := a.int("out_features", 1, 0)
	trainable := a.bool("trainable", false)
	if a.err != nil {
		return counted{}, nil
	}
	if in.kind != vecShape || in.n != i {
		return counted{}, fmt.Errorf("in_features is %d, but its input is %s", i, in.what())
	}
	w := c.mul(int64(i), int64(o))
	r := counted{uses: w, out: shape{kind: vecShape, n: o}}
	if trainable {
		r.params, r.unshared, r.sig = w, w, fmt.Sprintf("centres [%d,%d]", o, i)
	}
	return r, nil
}

func embedding(a *attrs, in shape, c *calc) (counted, error) {
	v := a.int("num_embeddings", 1, 0)
	d := a.int("embedding_dim", 1, 0)
	added := a.bool("added", false)
	if a.err != nil {
		return counted{}, nil
	}
	r := counted{params: c.mul(int64(v), int64(d)), sig: fmt.Sprintf("weight [%d,%d]", v, d)}
	r.unshared = r.params
	switch {
	case added && in.kind == seqShape && in.d == d:
		r.out = in
	case added:
		return counted{}, fmt.Errorf("an added embedding (looked up by its own indices, such as token types, and added) needs a sequence with %d features, but its input is %s", d, in.what())
	case in.kind != tokenShape:
		return counted{}, fmt.Errorf("needs token indices, but its input is %s", in.what())
	default:
		r.out = shape{kind: seqShape, t: in.t, d: d}
	}
	return r, nil
}

func oneHot(a *attrs, in shape, c *calc) (counted, error) {
	n := a.int("num_classes", 1, 0)
	if a.err != nil {
		return counted{}, nil
	}
	if in.kind != tokenShape {
		return counted{}, fmt.Errorf("needs token indices, but its input is %s", in.what())
	}
	return counted{out: shape{kind: seqShape, t: in.t, d: n}}, nil
}

func positional(a *attrs, in shape, c *calc) (counted, error) {
	kind := a.choice("kind", "", "sinusoidal", "learned")
	n := a.int("max_len", 1, 0)
	d := a.int("d_model", 1, 0)
	if a.err != nil {
		return counted{}, nil
	}
	if in.kind != seqShape || in.d != d {
		return counted{}, fmt.Errorf("d_model is %d, but its input is %s", d, in.what())
	}
	if in.t > n {
		return counted{}, fmt.Errorf("max_len is %d, shorter than the sequence (%d)", n, in.t)
	}
	r := counted{out: in}
	if kind == "learned" {
		r.params = c.mul(int64(n), int64(d))
		r.unshared, r.sig = r.params, fmt.Sprintf("weight [%d,%d]", n, d)
	}
	return r, nil
}

func layerNorm(a *attrs, in shape, c *calc) (counted, error) {
	d := a.int("normalized_shape", 1, 0)
	a.get("eps")
	if a.err != nil {
		return counted{}, nil
	}
	pos, err := features(in, d, "normalized_shape")
	if err != nil {
		return counted{}, err
	}
	return counted{
		params: 2 * int64(d), unshared: 2 * int64(d), uses: c.mul(pos, int64(d)),
		sig: fmt.Sprintf("weight [%d] bias [%d]", d, d), out: in,
	}, nil
}

// sequence checks a transformer layer's input: a sequence of d_model.
func sequence(in shape, d int) error {
	if in.kind != seqShape {
		return fmt.Errorf("needs a sequence, but its input is %s", in.what())
	}
	if in.d != d {
		return fmt.Errorf("d_model is %d, but its input %s has %d features per position", d, in.String(), in.d)
	}
	return nil
}

// attention counts multi-head self-attention over t positions: four d×d
// projections with biases, the T×T scores and their weighted sum of values.
func attention(t, d int64, c *calc) (params, uses int64) {
	params = c.mul(4, c.add(c.mul(d, d), d))
	uses = c.add(c.mul(4, t, d, d), c.mul(2, t, t, d))
	return params, uses
}

func heads(a *attrs, d int) {
	h := a.int("num_heads", 1, 0)
	if a.err == nil && d%h != 0 {
		a.failf("num_heads %d does not divide d_model %d", h, d)
	}
}

func selfAttention(a *attrs, in shape, c *calc) (counted, error) {
	d := a.int("d_model", 1, 0)
	heads(a, d)
	a.bool("causal", false)
	if a.err != nil {
		return counted{}, nil
	}
	if err := sequence(in, d); err != nil {
		return counted{}, err
	}
	p, u := attention(int64(in.t), int64(d), c)
	return counted{params: p, uses: u, unshared: p, sig: fmt.Sprintf("attention d=%d", d), out: in}, nil
}

// transformerBlock is the trace format's block (pre-norm, ReLU) and, with
// norm "post" and activation "gelu", BERT's and ALBERT's layer; the count
// is the same: attention, two LayerNorms, two feed-forward linears.
func transformerBlock(a *attrs, in shape, c *calc) (counted, error) {
	d := a.int("d_model", 1, 0)
	heads(a, d)
	ff := a.int("d_ff", 1, 0)
	a.bool("causal", false)
	a.choice("norm", "pre", "pre", "post")
	a.choice("activation", "relu", "relu", "gelu")
	if a.err != nil {
		return counted{}, nil
	}
	if err := sequence(in, d); err != nil {
		return counted{}, err
	}
	t, dd, f := int64(in.t), int64(d), int64(ff)
	ap, au := attention(t, dd, c)
	fp, fu := ffn(t, dd, f, c)
	p := c.add(ap, 2*dd, fp, 2*dd)
	u := c.add(au, c.mul(t, dd), fu, c.mul(t, dd))
	return counted{params: p, uses: u, unshared: p, sig: fmt.Sprintf("block d=%d d_ff=%d", d, ff), out: in}, nil
}

// ffn counts the position-wise feed-forward d → d_ff → d with biases.
func ffn(t, d, f int64, c *calc) (params, uses int64) {
	return c.add(c.mul(2, d, f), f, d), c.mul(2, t, d, f)
}

// attentionBlock is self-attention and the LayerNorm after it (BERT's
// BertAttention, ALBERT's AlbertAttention): the half of a layer that
// ALBERT's "shared-attention" shares.
func attentionBlock(a *attrs, in shape, c *calc) (counted, error) {
	d := a.int("d_model", 1, 0)
	heads(a, d)
	a.bool("causal", false)
	a.choice("norm", "post", "pre", "post")
	if a.err != nil {
		return counted{}, nil
	}
	if err := sequence(in, d); err != nil {
		return counted{}, err
	}
	t, dd := int64(in.t), int64(d)
	ap, au := attention(t, dd, c)
	p := c.add(ap, 2*dd)
	return counted{params: p, uses: c.add(au, c.mul(t, dd)), unshared: p, sig: fmt.Sprintf("attention+ln d=%d", d), out: in}, nil
}

// ffnBlock is the feed-forward half: d → d_ff → d and its LayerNorm.
func ffnBlock(a *attrs, in shape, c *calc) (counted, error) {
	d := a.int("d_model", 1, 0)
	ff := a.int("d_ff", 1, 0)
	a.choice("norm", "post", "pre", "post")
	a.choice("activation", "gelu", "relu", "gelu")
	if a.err != nil {
		return counted{}, nil
	}
	if err := sequence(in, d); err != nil {
		return counted{}, err
	}
	t, dd := int64(in.t), int64(d)
	fp, fu := ffn(t, dd, int64(ff), c)
	p := c.add(fp, 2*dd)
	return counted{params: p, uses: c.add(fu, c.mul(t, dd)), unshared: p, sig: fmt.Sprintf("ffn+ln d=%d d_ff=%d", d, ff), out: in}, nil
}

// pooler is BERT's pooler: tanh(W h_[CLS] + b), on the first position only.
func pooler(a *attrs, in shape, c *calc) (counted, error) {
	d := a.int("d_model", 1, 0)
	if a.err != nil {
		return counted{}, nil
	}
	if err := sequence(in, d); err != nil {
		return counted{}, err
	}
	w := c.mul(int64(d), int64(d))
	p := c.add(w, int64(d))
	return counted{params: p, uses: w, unshared: p, sig: fmt.Sprintf("weight [%d,%d] bias [%d]", d, d, d), out: shape{kind: vecShape, n: d}}, nil
}

func recurrent(gates int64) layerFunc {
	return func(a *attrs, in shape, c *calc) (counted, error) {
		i := a.int("input_size", 1, 0)
		h := a.int("hidden_size", 1, 0)
		if a.err != nil {
			return counted{}, nil
		}
		if in.kind != seqShape || in.d != i {
			return counted{}, fmt.Errorf("input_size is %d, but its input is %s", i, in.what())
		}
		hs, is := int64(h), int64(i)
		w := c.mul(gates, hs, c.add(is, hs))
		p := c.add(w, c.mul(2, gates, hs))
		// unshared over time: a cell of its own at every step (lesson 6's
		// unshared RNN)
		return counted{params: p, uses: c.mul(int64(in.t), w), unshared: c.mul(int64(in.t), p), sig: fmt.Sprintf("%d gates %d→%d", gates, i, h), out: shape{kind: seqShape, t: in.t, d: h}}, nil
	}
}

func lastStep(a *attrs, in shape, c *calc) (counted, error) {
	if in.kind != seqShape {
		return counted{}, fmt.Errorf("needs a sequence, but its input is %s", in.what())
	}
	return counted{out: shape{kind: vecShape, n: in.d}}, nil
}
