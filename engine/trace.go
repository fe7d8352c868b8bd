package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
)

// A step trace is one training step of one model as JSON: the layers with
// their parameters before the update, one batch, the loss and the gradient of
// every parameter (the contract is docs/trace-format.md in this
// repository). The types below are the trace's JSON, field for field, in the
// contract's key order, so that the same seed always writes the same bytes.

// TraceFormat is the value of a trace's "format" key.
const TraceFormat = "paramshare-trace/1"

// Trace is a whole step trace.
type Trace struct {
	Format string        `json:"format"`
	Model  string        `json:"model"`
	Seed   uint64        `json:"seed"`
	Input  *TraceTensor  `json:"input"`
	Target *TraceTensor  `json:"target"`
	Loss   *TraceLoss    `json:"loss"`
	Layers []*TraceLayer `json:"layers"`
	Tied   []TraceTie    `json:"tied,omitempty"`
}

// TraceTensor is a tensor in a trace: its shape and its data, row-major.
type TraceTensor struct {
	Shape []int     `json:"shape"`
	Data  []float64 `json:"data"`
}

// TraceLoss is the loss of the step.
type TraceLoss struct {
	Type  string         `json:"type"`
	Value float64        `json:"value"`
	Attrs map[string]any `json:"attrs,omitempty"`
}

// TraceLayer is one layer. Params and Grads are nil (and not written) for a
// layer without parameters; a layer whose parameters are all tied to
// earlier layers' has an empty, non-nil Grads, written as "grads": {}.
// Branch is set for siamese only.
type TraceLayer struct {
	Name   string         `json:"name"`
	Type   string         `json:"type"`
	Attrs  map[string]any `json:"attrs"`
	Params TraceParams    `json:"params,omitzero"`
	Grads  TraceParams    `json:"grads,omitzero"`
	Branch []*TraceLayer  `json:"branch,omitzero"`
}

// TraceTie says that parameter Param ("LAYER.PARAM") is the same tensor as
// SameAs.
type TraceTie struct {
	Param  string `json:"param"`
	SameAs string `json:"same_as"`
}

// TraceParam is one entry of a layer's params or grads: a tensor of its own,
// or (params only) a reference {"same_as": "LAYER.PARAM"} to the tensor it
// is tied to.
type TraceParam struct {
	Name   string
	Tensor *TraceTensor
	SameAs string
}

// TraceParams is a layer's params or grads in the layer's order. It is
// written as a JSON object whose keys keep that order.
type TraceParams []TraceParam

// Lookup returns the entry named name.
func (ps TraceParams) Lookup(name string) (TraceParam, bool) {
	for _, p := range ps {
		if p.Name == name {
			return p, true
		}
	}
	return TraceParam{}, false
}

// MarshalJSON writes the entries as one object in order.
func (ps TraceParams) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, p := range ps {
		if i > 0 {
			buf.WriteByte(',')
		}
		key, err := json.Marshal(p.Name)
		if err != nil {
			return nil, err
		}
		buf.Write(key)
		buf.WriteByte(':')
		var val []byte
		if p.SameAs != "" {
			val, err = json.Marshal(struct {
				SameAs string `json:"same_as"`
			}{p.SameAs})
		} else {
			val, err = json.Marshal(p.Tensor)
		}
		if err != nil {
			return nil, fmt.Errorf("engine: trace param %q: %w", p.Name, err)
		}
		buf.Write(val)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// UnmarshalJSON reads an object of tensors and same_as references, keeping
// the key order. Duplicate keys, unknown keys inside an entry and entries
// that are neither a tensor nor a reference are errors.
func (ps *TraceParams) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("engine: trace params: want an object, got %v", tok)
	}
	out := TraceParams{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name := tok.(string) // object keys are always strings
		if _, dup := out.Lookup(name); dup {
			return fmt.Errorf("engine: trace params: %q appears twice", name)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		var entry struct {
			Shape  []int     `json:"shape"`
			Data   []float64 `json:"data"`
			SameAs *string   `json:"same_as"`
		}
		inner := json.NewDecoder(bytes.NewReader(raw))
		inner.DisallowUnknownFields()
		if err := inner.Decode(&entry); err != nil {
			return fmt.Errorf("engine: trace param %q: %w", name, err)
		}
		switch {
		case entry.SameAs != nil && entry.Shape == nil && entry.Data == nil:
			if *entry.SameAs == "" {
				return fmt.Errorf("engine: trace param %q: empty same_as", name)
			}
			out = append(out, TraceParam{Name: name, SameAs: *entry.SameAs})
		case entry.SameAs == nil && entry.Shape != nil && entry.Data != nil:
			out = append(out, TraceParam{Name: name, Tensor: &TraceTensor{Shape: entry.Shape, Data: entry.Data}})
		default:
			return fmt.Errorf("engine: trace param %q: want {\"shape\", \"data\"} or {\"same_as\"}", name)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return err
	}
	*ps = out
	return nil
}

// traceTensor copies t into a TraceTensor.
func traceTensor(t *Tensor) *TraceTensor {
	return &TraceTensor{Shape: slices.Clone(t.Shape), Data: slices.Clone(t.Data)}
}

// NewTrace runs one ComputeGrad of m on the batch x against target and
// returns the step as a Trace: parameters as they were before the step (the
// step computes gradients only, it updates nothing) and the gradient of the
// loss for each. A Param held by several layers is written once, in the
// first layer that holds it (its owner), with the sum of all its uses as its
// gradient; the other holders refer to it with same_as and list no gradient
// for it. It returns ErrDiverged when the loss is not finite, and panics
// (with a ShapeError) when x or target do not fit m.
func NewTrace(m *Model, seed uint64, x, target *Tensor) (*Trace, error) {
	loss, err := m.ComputeGrad(x, target, nil)
	if err != nil {
		return nil, fmt.Errorf("engine: trace of model %q: %w", m.Name, err)
	}
	ls := m.Loss.Spec()
	tr := &Trace{
		Format: TraceFormat,
		Model:  m.Name,
		Seed:   seed,
		Input:  traceTensor(x),
		Target: traceTensor(target),
		Loss:   &TraceLoss{Type: ls.Type, Value: loss, Attrs: maps.Clone(ls.Attrs)},
	}
	owners := map[*Param]string{}
	for _, l := range m.Layers {
		tr.Layers = append(tr.Layers, traceLayer(l, owners, &tr.Tied))
	}
	return tr, nil
}

// traceLayer describes l; owners maps each Param already written to its
// "LAYER.PARAM" name, and ties collects the references made.
func traceLayer(l Layer, owners map[*Param]string, ties *[]TraceTie) *TraceLayer {
	s := l.Spec()
	tl := &TraceLayer{Name: s.Name, Type: s.Type, Attrs: maps.Clone(s.Attrs)}
	if tl.Attrs == nil {
		tl.Attrs = map[string]any{}
	}
	if c, ok := l.(Container); ok {
		// A container (siamese) has no params of its own: its Params()
		// are the branch's, written under the branch layers.
		tl.Branch = []*TraceLayer{}
		for _, sub := range c.Sublayers() {
			tl.Branch = append(tl.Branch, traceLayer(sub, owners, ties))
		}
		return tl
	}
	params := l.Params()
	if len(params) == 0 {
		return tl
	}
	tl.Params, tl.Grads = TraceParams{}, TraceParams{}
	for _, np := range params {
		full := s.Name + "." + np.Local
		if owner, seen := owners[np.Param]; seen {
			tl.Params = append(tl.Params, TraceParam{Name: np.Local, SameAs: owner})
			*ties = append(*ties, TraceTie{Param: full, SameAs: owner})
			continue
		}
		owners[np.Param] = full
		tl.Params = append(tl.Params, TraceParam{Name: np.Local, Tensor: traceTensor(np.Value)})
		tl.Grads = append(tl.Grads, TraceParam{Name: np.Local, Tensor: traceTensor(np.Grad)})
	}
	return tl
}

// WriteTrace runs one ComputeGrad of m on x and target (see NewTrace) and
// writes the step trace as JSON to w, followed by a newline. It returns
// NewTrace's errors and w's.
func WriteTrace(w io.Writer, m *Model, seed uint64, x, target *Tensor) error {
	tr, err := NewTrace(m, seed, x, target)
	if err != nil {
		return err
	}
	b, err := json.Marshal(tr)
	if err != nil {
		return fmt.Errorf("engine: trace of model %q: %w", m.Name, err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// ReadTrace reads one trace from r strictly: any key the format does not
// define, at any level, is an error, as is a layer whose attrs are not
// exactly those of its type (optional ones may be missing), a layer type or
// loss type the format does not know, or a format string other than
// TraceFormat. It does not check shapes or references; see CheckTrace.
func ReadTrace(r io.Reader) (*Trace, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var tr Trace
	if err := dec.Decode(&tr); err != nil {
		return nil, fmt.Errorf("engine: read trace: %w", err)
	}
	if dec.More() {
		return nil, errors.New("engine: read trace: data after the trace")
	}
	if tr.Format != TraceFormat {
		return nil, fmt.Errorf("engine: read trace: format %q, want %q", tr.Format, TraceFormat)
	}
	if tr.Input == nil || tr.Target == nil || tr.Loss == nil || tr.Layers == nil {
		return nil, errors.New("engine: read trace: input, target, loss and layers are required")
	}
	if err := checkLossKeys(tr.Loss); err != nil {
		return nil, err
	}
	for _, l := range tr.Layers {
		if err := checkLayerKeys(l, false); err != nil {
			return nil, err
		}
	}
	return &tr, nil
}

// layerKind is what the format says of a layer type: its required and
// optional attrs and the names of its params. A type whose params depend on
// an attr (positional_encoding: kind "learned") lists them in optionalParams.
type layerKind struct {
	attrs, optionalAttrs []string
	params               []string
	optionalParams       []string
}

var (
	convKind = layerKind{
		attrs:         []string{"in_channels", "out_channels", "kernel_size", "stride", "padding"},
		optionalAttrs: []string{"dilation", "groups"},
		params:        []string{"weight", "bias"},
	}
	poolKind      = layerKind{attrs: []string{"kernel_size", "stride"}}
	recurrentKind = layerKind{
		attrs:  []string{"input_size", "hidden_size"},
		params: []string{"weight_ih", "weight_hh", "bias_ih", "bias_hh"},
	}
	attentionParams = []string{"w_q", "w_k", "w_v", "w_o", "b_q", "b_k", "b_v", "b_o"}
)

// layerKinds is the format's table of layer types, the contract's and the
// project's own (elman_rnn, multitask_heads, global_avg_pool2d,
// unshared_rnn).
var layerKinds = map[string]layerKind{
	"linear":              {attrs: []string{"in_features", "out_features"}, params: []string{"weight", "bias"}},
	"conv2d":              convKind,
	"locally_connected2d": convKind,
	"maxpool2d":           poolKind,
	"avgpool2d":           poolKind,
	"relu":                {},
	"tanh":                {},
	"sigmoid":             {},
	"flatten":             {},
	"embedding":           {attrs: []string{"num_embeddings", "embedding_dim"}, params: []string{"weight"}},
	"one_hot":             {attrs: []string{"num_classes"}},
	"rnn":                 recurrentKind,
	"lstm":                recurrentKind,
	"gru":                 recurrentKind,
	"elman_rnn":           {attrs: []string{"input_size", "hidden_size", "nonlinearity"}, params: recurrentKind.params},
	"last_step":           {},
	"positional_encoding": {attrs: []string{"kind", "max_len", "d_model"}, optionalParams: []string{"weight"}},
	"layer_norm":          {attrs: []string{"normalized_shape", "eps"}, params: []string{"weight", "bias"}},
	"self_attention":      {attrs: []string{"d_model", "num_heads", "causal"}, params: attentionParams},
	"transformer_block": {
		attrs: []string{"d_model", "num_heads", "d_ff", "causal"},
		params: slices.Concat([]string{"ln1.weight", "ln1.bias"}, prefixed("attn.", attentionParams),
			[]string{"ln2.weight", "ln2.bias", "ff1.weight", "ff1.bias", "ff2.weight", "ff2.bias"}),
	},
	"siamese":           {attrs: []string{"distance"}},
	"multitask_heads":   {attrs: []string{"in_features", "heads"}}, // params head0.weight, head0.bias, … per head
	"global_avg_pool2d": {},
	"unshared_rnn":      {attrs: []string{"input_size", "hidden_size", "seq_len"}, params: recurrentKind.params},
}

// lossAttrs lists the attrs of each loss type the format knows.
var lossAttrs = map[string][]string{
	"cross_entropy":           nil,
	"mse":                     nil,
	"contrastive":             {"margin"},
	"multitask_cross_entropy": {"splits"},
}

func prefixed(prefix string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = prefix + n
	}
	return out
}

// checkExactly returns an error unless have's keys are all of required and
// some of optional, and nothing else.
func checkExactly(what string, have map[string]any, required, optional []string) error {
	for _, k := range required {
		if _, ok := have[k]; !ok {
			return fmt.Errorf("%s: attr %q is missing", what, k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(have)) {
		if !slices.Contains(required, k) && !slices.Contains(optional, k) {
			return fmt.Errorf("%s: unknown attr %q", what, k)
		}
	}
	return nil
}

func checkLossKeys(l *TraceLoss) error {
	attrs, ok := lossAttrs[l.Type]
	if !ok {
		return fmt.Errorf("engine: read trace: unknown loss type %q", l.Type)
	}
	return checkExactly("engine: read trace: loss "+l.Type, l.Attrs, attrs, nil)
}

// checkLayerKeys checks that l (in a branch when inBranch) has a name, a
// known type, exactly its type's attrs, a branch if and only if it is a
// siamese layer, and no nested siamese.
func checkLayerKeys(l *TraceLayer, inBranch bool) error {
	if l == nil || l.Name == "" || l.Type == "" || l.Attrs == nil {
		return errors.New("engine: read trace: every layer needs name, type and attrs")
	}
	what := fmt.Sprintf("engine: read trace: layer %q (%s)", l.Name, l.Type)
	kind, ok := layerKinds[l.Type]
	if !ok {
		return fmt.Errorf("%s: unknown layer type", what)
	}
	if err := checkExactly(what, l.Attrs, kind.attrs, kind.optionalAttrs); err != nil {
		return err
	}
	if (l.Type == "siamese") != (l.Branch != nil) || (inBranch && l.Type == "siamese") {
		return fmt.Errorf("%s: a branch belongs to a siamese layer, which cannot be inside another", what)
	}
	for _, sub := range l.Branch {
		if err := checkLayerKeys(sub, true); err != nil {
			return err
		}
	}
	return nil
}

// CheckTrace checks what a trace's numbers must satisfy without rebuilding
// the model: tensors whose data fit their shapes; layer names unique in the
// whole trace; params named as the layer type's table says; a grad for
// every param that has data of its own, of the same shape, and for nothing
// else; every same_as naming a parameter with data written in an earlier
// layer, and the tied list holding exactly those references; a finite loss.
// It returns the first problem found.
func CheckTrace(tr *Trace) error {
	if err := checkTraceTensor("input", tr.Input); err != nil {
		return err
	}
	if err := checkTraceTensor("target", tr.Target); err != nil {
		return err
	}
	if tr.Loss == nil || math.IsNaN(tr.Loss.Value) || math.IsInf(tr.Loss.Value, 0) {
		return errors.New("engine: check trace: loss missing or not finite")
	}
	c := traceChecker{names: map[string]bool{}, owned: map[string][]int{}}
	for _, l := range tr.Layers {
		if err := c.layer(l); err != nil {
			return err
		}
	}
	slices.SortFunc(c.refs, compareTies)
	tied := slices.Clone(tr.Tied)
	slices.SortFunc(tied, compareTies)
	if !slices.Equal(c.refs, tied) {
		return fmt.Errorf("engine: check trace: tied lists %v, the layers' same_as references are %v", tr.Tied, c.refs)
	}
	return nil
}

func compareTies(a, b TraceTie) int {
	if c := strings.Compare(a.Param, b.Param); c != 0 {
		return c
	}
	return strings.Compare(a.SameAs, b.SameAs)
}

type traceChecker struct {
	names map[string]bool
	owned map[string][]int // "LAYER.PARAM" with data → its shape
	refs  []TraceTie
}

func checkTraceTensor(what string, t *TraceTensor) error {
	if t == nil {
		return fmt.Errorf("engine: check trace: %s is missing", what)
	}
	for _, d := range t.Shape {
		if d < 0 {
			return fmt.Errorf("engine: check trace: %s has shape %v", what, t.Shape)
		}
	}
	if n := ShapeSize(t.Shape); n != len(t.Data) {
		return fmt.Errorf("engine: check trace: %s has shape %v (%d numbers) and %d numbers of data", what, t.Shape, n, len(t.Data))
	}
	return nil
}

func (c *traceChecker) layer(l *TraceLayer) error {
	if c.names[l.Name] {
		return fmt.Errorf("engine: check trace: two layers named %q", l.Name)
	}
	c.names[l.Name] = true
	what := fmt.Sprintf("engine: check trace: layer %q", l.Name)
	if (l.Params == nil) != (l.Grads == nil) {
		return fmt.Errorf("%s: has params or grads but not both", what)
	}
	if err := checkParamNames(l); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	var wantGrads []string
	for _, p := range l.Params {
		full := l.Name + "." + p.Name
		if p.SameAs != "" {
			if _, ok := c.owned[p.SameAs]; !ok {
				return fmt.Errorf("%s: %s is same_as %q, which no earlier layer holds with data", what, p.Name, p.SameAs)
			}
			c.refs = append(c.refs, TraceTie{Param: full, SameAs: p.SameAs})
			continue
		}
		if err := checkTraceTensor(full, p.Tensor); err != nil {
			return err
		}
		c.owned[full] = p.Tensor.Shape
		wantGrads = append(wantGrads, p.Name)
		g, ok := l.Grads.Lookup(p.Name)
		if !ok {
			return fmt.Errorf("%s: no grad for %s", what, p.Name)
		}
		if err := checkTraceTensor(full+" grad", g.Tensor); err != nil {
			return err
		}
		if !slices.Equal(g.Tensor.Shape, p.Tensor.Shape) {
			return fmt.Errorf("%s: grad of %s has shape %v, the param %v", what, p.Name, g.Tensor.Shape, p.Tensor.Shape)
		}
	}
	for _, g := range l.Grads {
		if !slices.Contains(wantGrads, g.Name) {
			return fmt.Errorf("%s: grad %q has no param with data of its own", what, g.Name)
		}
	}
	for _, sub := range l.Branch {
		if err := c.layer(sub); err != nil {
			return err
		}
	}
	return nil
}

// checkParamNames checks that l's params are named as its type's table row
// says.
func checkParamNames(l *TraceLayer) error {
	kind := layerKinds[l.Type]
	var have []string
	for _, p := range l.Params {
		have = append(have, p.Name)
	}
	want := kind.params
	switch {
	case l.Type == "multitask_heads":
		heads, _ := l.Attrs["heads"].([]any)
		want = nil
		for h := range heads {
			want = append(want, fmt.Sprintf("head%d.weight", h), fmt.Sprintf("head%d.bias", h))
		}
	case l.Type == "positional_encoding" && l.Attrs["kind"] == "learned":
		want = kind.optionalParams // a learned table is a parameter, a sinusoidal one is not
	}
	got, exp := slices.Clone(have), slices.Clone(want)
	sort.Strings(got)
	sort.Strings(exp)
	if !slices.Equal(got, exp) {
		return fmt.Errorf("params %v, want %v", have, want)
	}
	return nil
}
