// Package arch describes real architectures layer by layer, in the
// step-trace format's vocabulary, and counts them with sharing in mind:
// for every layer the parameters it adds (a shared tensor counted once,
// where it is first held), its uses (multiply-adds per example) and what it
// would hold with no sharing at all. It knows nothing of training or the
// web: lesson 16's widget and `cmd/lab count` both read its Tables.
package arch

// Layer is one layer of a model: a step-trace type ("conv2d", "linear",
// "embedding", "transformer_block", …, plus the few types real models need
// that the trace format does not train, documented in Types) with its
// attributes. SameAs names an earlier layer whose parameters this one
// uses (cross-layer sharing, weight tying): it adds uses, not parameters.
type Layer struct {
	Name   string         `json:"name"`
	Type   string         `json:"type"`
	Attrs  map[string]any `json:"attrs,omitempty"`
	SameAs string         `json:"same_as,omitempty"`
}

// Model is a whole architecture as its source defines it.
type Model struct {
	Name   string  `json:"name"`
	Source string  `json:"source,omitempty"` // the paper or code it follows
	Rule   string  `json:"rule,omitempty"`   // what is counted (biases, LayerNorm γ/β, pooler; buffers excluded)
	Layers []Layer `json:"layers"`
	// The input of one example: an image [C,H,W] (or a vector [N]) in
	// Input, or a sequence of SeqLen token indices. Exactly one is set.
	Input  []int `json:"input,omitempty"`
	SeqLen int   `json:"seq_len,omitempty"`
}

// Row is one layer's three numbers.
type Row struct {
	Layer      string `json:"layer"`
	Type       string `json:"type"`
	Params     int64  `json:"params"`   // parameters this layer adds (shared tensors counted once)
	Uses       int64  `json:"uses"`     // multiply-adds per example
	Unshared   int64  `json:"unshared"` // parameters it would hold with no sharing
	SharedWith string `json:"shared_with,omitempty"`
	Output     string `json:"output"` // one example's output shape: "64×55×55", "512×768" (positions × features), "4096"
}

// Table is a counted model: its rows and their totals.
type Table struct {
	Model    string `json:"model"`
	Rule     string `json:"rule"`
	Rows     []Row  `json:"rows"`
	Params   int64  `json:"params"`
	Uses     int64  `json:"uses"`
	Unshared int64  `json:"unshared"`
	Source   string `json:"source,omitempty"`
	Input    []int  `json:"input,omitempty"`   // one example's image [C,H,W], if any
	SeqLen   int    `json:"seq_len,omitempty"` // the sequence length Uses are counted at, if any
}

// Options are the sharing switches a preset takes.
type Options struct {
	Share       string `json:"share,omitempty"`        // ALBERT's cross-layer sharing: "all", "attention", "ffn" or "none"
	Tie         bool   `json:"tie,omitempty"`          // the output projection uses the input embedding's matrix
	Pooler      bool   `json:"pooler,omitempty"`       // BERT/ALBERT's pooler (a dense layer on [CLS])
	UnshareConv bool   `json:"unshare_conv,omitempty"` // every conv2d becomes a locally connected layer
	SeqLen      int    `json:"seq_len,omitempty"`      // sequence length Uses are counted at; 0: the preset's (512 BERT/ALBERT, 1024 GPT-2)
	Vocab       int    `json:"vocab,omitempty"`        // vocabulary size; 0: the source's (30522 BERT, 30000 ALBERT, 50257 GPT-2)
	Embed       int    `json:"embed,omitempty"`        // ALBERT's embedding size E; 0: 128. E = d drops the E→d projection, as the original ALBERT code does
}
