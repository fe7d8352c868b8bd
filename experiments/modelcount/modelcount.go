// Package modelcount is the experiment of lesson 16, "Count a real model"
// (issue 10): a sharing-aware parameter counter for real architectures.
// The learner picks a preset (LeNet-5 … GPT-2), flips the sharing switches
// that apply to it, and sees every layer's three numbers — the parameters
// it adds (a shared tensor counted once), its uses (multiply-adds per
// example) and what it would hold unshared — with the totals and what each
// switch would change. Every number is engine/arch's Count of the model
// arch.Build makes; this package only arranges the table for a page (rows
// grouped into blocks, bars per held tensor) and draws its exports.
//
// Like param-calc it has a single step: the picture depends on the
// parameters only.
package modelcount

import (
	"embed"
	"fmt"
	"strconv"
	"time"

	"github.com/paramshare/paramshare/engine/arch"
	"github.com/paramshare/paramshare/run"
)

const name = "model-count"

// The sharing switches, as the fields name them.
const (
	fieldPreset  = "preset"
	fieldShare   = "share"
	fieldTie     = "tie"
	fieldPooler  = "pooler"
	fieldUnshare = "unshareConv"
	fieldEmbed   = "embed"
	fieldSeq     = "seqLen"
)

// shareModes are ALBERT's cross-layer sharing modes (Lan et al. 2020,
// Table 4), in the order the page lists them.
var shareModes = []string{"all", "attention", "ffn", "none"}

// embedSizes are the ALBERT embedding sizes E of Lan et al. 2020, Tables 3
// and 4 (128 is ALBERT's own; 768 = d of ALBERT-base, no factorisation).
var embedSizes = []string{"64", "128", "256", "768"}

// seqLens are the sequence lengths uses can be counted at: the source's
// own (512 for BERT and ALBERT, 1024 for GPT-2) or a shorter or, for
// GPT-2, equal one. Parameters do not depend on it; uses do.
var seqLens = []string{"source", "64", "128", "256", "512", "1024"}

// fields are built from arch's preset list, so that a preset the counter
// knows is a preset the page offers, and nothing else is.
func fields() []run.Field {
	return []run.Field{
		{Name: fieldPreset, Kind: run.Choice, Default: defaultPreset, Choices: presetNames(), Desc: run.Text{
			En: "the architecture to count, as its source defines it",
			Zh: "要计数的网络结构，按其出处的定义",
		}},
		{Name: fieldShare, Kind: run.Choice, Default: "all", Choices: shareModes, Desc: run.Text{
			En: "ALBERT's cross-layer sharing: all, attention only, feed-forward only or none (ALBERT only)",
			Zh: "ALBERT 的跨层共享：全部、只共享注意力、只共享前馈层或不共享（仅 ALBERT）",
		}},
		{Name: fieldTie, Kind: run.Bool, Default: true, Desc: run.Text{
			En: "the output layer uses the input embedding's matrix (GPT-2; the BERT and ALBERT presets have no output layer over the vocabulary)",
			Zh: "输出层使用输入嵌入的矩阵（GPT-2；BERT 和 ALBERT 预设没有面向词表的输出层）",
		}},
		{Name: fieldPooler, Kind: run.Bool, Default: true, Desc: run.Text{
			En: "count the pooler, the dense layer on [CLS] (BERT, ALBERT)",
			Zh: "计入池化层，即作用于 [CLS] 的全连接层（BERT、ALBERT）",
		}},
		{Name: fieldEmbed, Kind: run.Choice, Default: "128", Choices: embedSizes, Desc: run.Text{
			En: "ALBERT's embedding size E: the vocabulary's vectors have E numbers, projected to the layers' width d (ALBERT only)",
			Zh: "ALBERT 的嵌入维度 E：词表中每个向量有 E 个数，再投影到各层的宽度 d（仅 ALBERT）",
		}},
		{Name: fieldSeq, Kind: run.Choice, Default: "source", Choices: seqLens, Desc: run.Text{
			En: "the sequence length uses are counted at: the source's own, or another up to its positions (BERT, ALBERT, GPT-2)",
			Zh: "计算使用次数时的序列长度：出处的默认值，或不超过其位置数的其他值（BERT、ALBERT、GPT-2）",
		}},
		{Name: fieldUnshare, Kind: run.Bool, Default: false, Desc: run.Text{
			En: "turn every convolution into a locally connected layer: a kernel of its own at every position (CNNs)",
			Zh: "把每个卷积层换成局部连接层：每个位置都有自己的卷积核（卷积网络）",
		}},
	}
}

// defaultPreset is the preset a run starts with when none is given.
const defaultPreset = "bert-base"

// widget is the page's side of the experiment: its drawing code and
// strings (NAME.js) and styles (NAME.css), served under /static/widgets/.
//
//go:embed widget
var widget embed.FS

// exports are the figure, the frame and the table as CSV.
func exports() []run.Export {
	return []run.Export{
		{Format: "png", Write: writeFigure("png")},
		{Format: "svg", Write: writeFigure("svg")},
		{Format: "json", Write: writeJSON},
		{Format: "csv", Write: writeCSV},
	}
}

func init() {
	run.Register(run.Spec{
		Name:    name,
		Widget:  run.Sub(widget, "widget"),
		Title:   run.Text{En: "Count a real model", Zh: "数清一个真实模型"},
		Fields:  fields(),
		Check:   checkSeq,
		New:     func(v run.Values) (run.Experiment, error) { return newCounter(v) },
		Exports: exports(),
		// The step changes nothing; the counting (a table and one more
		// per other value of each switch the preset takes) is done by New
		// and SetParams: 0.15–3.8 ms (BenchmarkPicture; ALBERT-xlarge, whose
		// 9 alternatives are the most). A run holds under 0.1 MB; the
		// static part is at most 17 kB (ALBERT-xlarge, attention shared,
		// E = 768: TestStaticWithinBudget tries every setting). Measured
		// figures are in the README.
		Budget:    run.Budget{Step: 100 * time.Microsecond, Memory: 1 << 20, FrameBytes: 64, StaticBytes: 32 << 10},
		Costliest: map[string]any{fieldPreset: "albert-xlarge", fieldShare: "attention", fieldEmbed: "768"},
	})
}

// checkSeq refuses a sequence longer than the preset has positions for
// (BERT's and ALBERT's 512): arch would refuse to count it.
func checkSeq(v run.Values) error {
	p := paramsOf(v)
	if !takes(p.Preset)[fieldSeq] || p.SeqLen == "source" {
		return nil
	}
	n, _ := strconv.Atoi(p.SeqLen) // the field's choices are whole numbers
	o, err := arch.DefaultOptions(p.Preset)
	if err != nil || n <= o.SeqLen {
		return nil
	}
	return run.CheckError(fieldSeq, p.SeqLen,
		fmt.Sprintf("%s has %d positions; choose %d or fewer", p.Preset, o.SeqLen, o.SeqLen),
		fmt.Sprintf("%s 只有 %d 个位置；请选择不超过 %d 的长度", p.Preset, o.SeqLen, o.SeqLen))
}

// counter is the experiment.
type counter struct {
	v      run.Values
	static staticPart // never modified once built
	rev    int
	pos    int
}

var _ run.Rewinder = (*counter)(nil)

func newCounter(v run.Values) (*counter, error) {
	c := &counter{}
	if err := c.load(v); err != nil {
		return nil, err
	}
	return c, nil
}

// load counts everything for v, and only then replaces c's picture.
func (c *counter) load(v run.Values) error {
	s, err := picture(v)
	if err != nil {
		return err
	}
	c.v, c.rev, c.static = v, c.rev+1, s
	return nil
}

// Total is 1: the counter has nothing to step through.
func (c *counter) Total() int { return 1 }

// Pos is 0 or 1.
func (c *counter) Pos() int { return c.pos }

// Advance takes the single step (it changes nothing the picture shows).
func (c *counter) Advance() error {
	c.pos = 1
	return nil
}

// Rewind goes back to step k.
func (c *counter) Rewind(k int) error {
	c.pos = k
	return nil
}

// Restart goes back to step 0.
func (c *counter) Restart() error { return c.Rewind(0) }

// SetParams counts again for v, keeping the step.
func (c *counter) SetParams(v run.Values) error {
	if v.Equal(c.v) {
		return nil
	}
	return c.load(v)
}

// Frame returns the table as the static part; the data part is only the
// step.
func (c *counter) Frame() run.Frame {
	return run.Frame{StaticRev: c.rev, Static: c.static, Data: dataPart{Step: c.pos, Total: 1}}
}

// dataPart is the step: the counter has nothing else that moves.
type dataPart struct {
	Step  int `json:"step"`
	Total int `json:"total"`
}
