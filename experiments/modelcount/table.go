package modelcount

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/paramshare/paramshare/engine/arch"
	"github.com/paramshare/paramshare/run"
)

// params are the fields as the frame shows them.
type params struct {
	Preset      string `json:"preset"`
	Share       string `json:"share"`
	Tie         bool   `json:"tie"`
	Pooler      bool   `json:"pooler"`
	UnshareConv bool   `json:"unshareConv"`
	Embed       string `json:"embed"`
	SeqLen      string `json:"seqLen"`
}

func paramsOf(v run.Values) params {
	return params{Preset: v.String(fieldPreset), Share: v.String(fieldShare), Tie: v.Bool(fieldTie), Pooler: v.Bool(fieldPooler), UnshareConv: v.Bool(fieldUnshare), Embed: v.String(fieldEmbed), SeqLen: v.String(fieldSeq)}
}

// totals are a table's three sums.
type totals struct {
	Params   int64 `json:"params"`
	Uses     int64 `json:"uses"`
	Unshared int64 `json:"unshared"`
}

func totalsOf(t arch.Table) totals {
	return totals{Params: t.Params, Uses: t.Uses, Unshared: t.Unshared}
}

// item is one line of the page's table: a layer on its own, or a block of
// consecutive layers (a ResNet basic block, a transformer layer) that the
// page shows collapsed, with its sums, and expands on demand.
type item struct {
	N        int    `json:"n"`     // 1, 2, …: the number the chart's bars carry
	Name     string `json:"name"`  // the layer's name, or the block's common prefix
	First    int    `json:"first"` // index of its first row in rows
	Count    int    `json:"count"` // its rows (1 for a layer on its own)
	Params   int64  `json:"params"`
	Uses     int64  `json:"uses"`
	Unshared int64  `json:"unshared"`
	// SharedWith names the items whose parameters this one uses (a shared
	// block, a tied output layer), in order.
	SharedWith []string `json:"sharedWith,omitempty"`
}

// bar is one bar pair of the chart: the parameters an item holds against
// what they would be unshared — its own unshared count plus that of every
// later use of its tensors. A layer that only reuses another's tensors has
// no bar of its own (it holds nothing): its unshared count is added to the
// bar of the item it shares with, so every bar has a height on a log axis.
type bar struct {
	N        int    `json:"n"` // the item's number
	Name     string `json:"name"`
	Params   int64  `json:"params"`
	Unshared int64  `json:"unshared"`
	Users    int    `json:"users"` // how many items use its tensors (itself included)
}

// flip is what the totals would be with one switch set otherwise, the
// others as they are.
type flip struct {
	Field string `json:"field"`
	Value any    `json:"value"` // a share mode or a bool
	totals
}

// modelInfo says what was counted.
type modelInfo struct {
	Name   string `json:"name"`
	Source string `json:"source"`
	Rule   string `json:"rule"`
	RuleZh string `json:"ruleZh"`           // Rule in Chinese, part by part ("" if a part has no translation)
	Input  []int  `json:"input,omitempty"`  // one example's image [C,H,W] (or vector [N]) uses are counted for
	SeqLen int    `json:"seqLen,omitempty"` // or its sequence length
}

// staticPart is the counter's whole picture; it travels as the frame's
// static part (it changes only with the parameters).
type staticPart struct {
	Params params    `json:"params"`
	Model  modelInfo `json:"model"`
	// Presets are every preset's name and title, for the page's menu.
	Presets []presetInfo `json:"presets"`
	// Applies says which switches the preset takes (arch.Preset.Options):
	// the page shows only those; the others are ignored.
	Applies map[string]bool `json:"applies"`
	Rows    []arch.Row      `json:"rows"`
	Items   []item          `json:"items"`
	Bars    []bar           `json:"bars"`
	Total   totals          `json:"total"`
	Flips   []flip          `json:"flips"`
}

// optionOf maps arch's option names to the fields that set them.
var optionOf = map[string]string{"share": fieldShare, "tie": fieldTie, "pooler": fieldPooler, "unshare_conv": fieldUnshare, "embed": fieldEmbed, "seq_len": fieldSeq}

// presetNames lists arch's presets, in its order.
func presetNames() []string {
	var names []string
	for _, p := range arch.Presets() {
		names = append(names, p.Name)
	}
	return names
}

// takes reports which switches the preset takes (arch.Preset.Options):
// the others are left at their zero value when it is built, and hidden by
// the page.
func takes(preset string) map[string]bool {
	on := map[string]bool{fieldShare: false, fieldTie: false, fieldPooler: false, fieldUnshare: false, fieldEmbed: false, fieldSeq: false}
	for _, p := range arch.Presets() {
		if p.Name == preset {
			for _, o := range p.Options {
				if f, ok := optionOf[o]; ok {
					on[f] = true
				}
			}
		}
	}
	return on
}

// presetInfo is a preset's name and title, for the page's menu.
type presetInfo struct {
	Name  string `json:"name"`
	Title string `json:"title"`
}

// picture counts the model v names, and the same model with each switch
// it takes set otherwise in turn.
func picture(v run.Values) (staticPart, error) {
	p := paramsOf(v)
	applies := takes(p.Preset)
	m, t, err := count(p, applies)
	if err != nil {
		return staticPart{}, err
	}
	s := staticPart{
		Params:  p,
		Model:   modelInfo{Name: m.Name, Source: t.Source, Rule: t.Rule, Input: t.Input, SeqLen: t.SeqLen},
		Applies: applies,
		Rows:    t.Rows,
		Total:   totalsOf(t),
	}
	s.Model.RuleZh = ruleZh(t.Rule)
	for _, q := range arch.Presets() {
		if q.Name == p.Preset {
			s.Model.Name = q.Title
		}
		s.Presets = append(s.Presets, presetInfo{q.Name, q.Title})
	}
	for _, alt := range alternatives(p) {
		if !applies[alt.field] {
			continue
		}
		_, u, err := count(alt.p, applies)
		if err != nil {
			return staticPart{}, err
		}
		s.Flips = append(s.Flips, flip{Field: alt.field, Value: alt.value, totals: totalsOf(u)})
	}
	s.Items = itemsOf(t.Rows)
	s.Bars = barsOf(t.Rows, s.Items)
	return s, nil
}

// count builds and counts the preset p names with the switches it takes
// as p sets them.
func count(p params, applies map[string]bool) (arch.Model, arch.Table, error) {
	var o arch.Options
	if applies[fieldShare] {
		o.Share = p.Share
	}
	o.Tie = applies[fieldTie] && p.Tie
	o.Pooler = applies[fieldPooler] && p.Pooler
	o.UnshareConv = applies[fieldUnshare] && p.UnshareConv
	if applies[fieldEmbed] {
		// The field's choices are whole numbers.
		o.Embed, _ = strconv.Atoi(p.Embed)
	}
	if applies[fieldSeq] && p.SeqLen != "source" {
		o.SeqLen, _ = strconv.Atoi(p.SeqLen) // 0 (the source's) otherwise
	}
	m, err := arch.Build(p.Preset, o)
	if err != nil {
		return arch.Model{}, arch.Table{}, countError(p, err)
	}
	t, err := arch.Count(m)
	if err != nil {
		return arch.Model{}, arch.Table{}, countError(p, err)
	}
	return m, t, nil
}

// countError is arch's refusal as the page shows it. The fields bind every
// value to one arch knows, so this is arch's own limit (a combination it
// cannot count), said in both languages.
func countError(p params, err error) error {
	return run.NewError("count", fmt.Sprintf("cannot count %s: %v", p.Preset, err), fmt.Sprintf("无法计数 %s：%v", p.Preset, err))
}

// alternative is p with one switch set to another value.
type alternative struct {
	field string
	value any
	p     params
}

// alternatives lists p with each switch set to each of its other values.
func alternatives(p params) []alternative {
	var out []alternative
	for _, mode := range shareModes {
		if mode != p.Share {
			q := p
			q.Share = mode
			out = append(out, alternative{fieldShare, mode, q})
		}
	}
	for _, e := range embedSizes {
		if e != p.Embed {
			q := p
			q.Embed = e
			out = append(out, alternative{fieldEmbed, e, q})
		}
	}
	q := p
	q.Tie = !p.Tie
	out = append(out, alternative{fieldTie, q.Tie, q})
	q = p
	q.Pooler = !p.Pooler
	out = append(out, alternative{fieldPooler, q.Pooler, q})
	q = p
	q.UnshareConv = !p.UnshareConv
	out = append(out, alternative{fieldUnshare, q.UnshareConv, q})
	return out
}

// blockOf is the block a layer's name puts it in: the name up to its last
// dot-separated part that is or ends in a number and is followed by
// another part — "layer1.0.conv1" and "layer1.0.downsample.0" are in
// "layer1.0", "encoder.3.attn.q" in "encoder.3" — or "" for a layer on
// its own ("conv1", "fc").
func blockOf(name string) string {
	parts := strings.Split(name, ".")
	for i := len(parts) - 2; i >= 0; i-- {
		if s := parts[i]; s != "" && unicode.IsDigit(rune(s[len(s)-1])) {
			return strings.Join(parts[:i+1], ".")
		}
	}
	return ""
}

// itemsOf groups consecutive rows of the same block into one item; a block
// of one row stays a layer.
func itemsOf(rows []arch.Row) []item {
	var items []item
	for i := 0; i < len(rows); {
		b := blockOf(rows[i].Layer)
		j := i + 1
		for b != "" && j < len(rows) && blockOf(rows[j].Layer) == b {
			j++
		}
		it := item{N: len(items) + 1, Name: rows[i].Layer, First: i, Count: j - i}
		if j-i > 1 {
			it.Name = b
		}
		for _, r := range rows[i:j] {
			it.Params += r.Params
			it.Uses += r.Uses
			it.Unshared += r.Unshared
		}
		items = append(items, it)
		i = j
	}
	// Name each item's partners after the items holding the layers its
	// rows share with.
	itemOf := itemIndex(rows, items)
	for k := range items {
		it := &items[k]
		for _, r := range rows[it.First : it.First+it.Count] {
			if r.SharedWith == "" {
				continue
			}
			if o, ok := itemOf[r.SharedWith]; ok && o != k && !contains(it.SharedWith, items[o].Name) {
				it.SharedWith = append(it.SharedWith, items[o].Name)
			}
		}
	}
	return items
}

// itemIndex maps each row's layer name to the index of its item.
func itemIndex(rows []arch.Row, items []item) map[string]int {
	m := make(map[string]int, len(rows))
	for k, it := range items {
		for _, r := range rows[it.First : it.First+it.Count] {
			m[r.Layer] = k
		}
	}
	return m
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// barsOf gives each item that holds parameters a bar: what it holds, and
// what it and every use of its tensors elsewhere would hold unshared. A
// row that reuses another layer's tensors moves the part of its unshared
// count it does not hold itself to the item of the layer it shares with.
func barsOf(rows []arch.Row, items []item) []bar {
	itemOf := itemIndex(rows, items)
	params := make([]int64, len(items))
	unshared := make([]int64, len(items))
	users := make([]map[int]bool, len(items))
	for k := range items {
		users[k] = map[int]bool{}
	}
	for k, it := range items {
		for _, r := range rows[it.First : it.First+it.Count] {
			params[k] += r.Params
			target := k
			if o, ok := itemOf[r.SharedWith]; ok && r.SharedWith != "" {
				target = o
			}
			unshared[k] += r.Params
			unshared[target] += r.Unshared - r.Params
			if r.Params > 0 || r.Unshared > 0 {
				users[target][k] = true
			}
		}
	}
	var out []bar
	for k, it := range items {
		if params[k] == 0 {
			continue
		}
		out = append(out, bar{N: it.N, Name: it.Name, Params: params[k], Unshared: unshared[k], Users: max(1, len(users[k]))})
	}
	return out
}

// ruleParts are the Chinese of the parts ("; "-separated) of arch's
// counting rules. TestRulesTranslated checks that every preset's rule is
// covered, so a new wording in arch is noticed.
var ruleParts = map[string]string{
	"the pooler counted when the model has one":                                        "模型带池化层时计入",
	"no pre-training heads (MLM, NSP/SOP)":                                             "不含预训练的输出头（MLM、NSP/SOP）",
	"the position_ids buffer not counted":                                              "不计入 position_ids 缓冲区",
	"trainable parameters, biases counted, as the paper counts them (60,000 in all)":   "可训练参数，计入偏置，与论文的计数一致（共 60,000 个）",
	"S2/S4: one coefficient and one bias per map":                                      "S2/S4：每张特征图一个系数和一个偏置",
	"the RBF output's hand-set centres (84×10) are fixed, not counted":                 "RBF 输出层手工设定的中心（84×10）是固定的，不计入",
	"weights and biases counted":                                                       "计入权重和偏置",
	"BatchNorm γ and β counted, its running mean and variance (buffers) not":           "计入 BatchNorm 的 γ 和 β，不计入其滑动均值和方差（缓冲区）",
	"LayerNorm γ and β counted":                                                        "计入 LayerNorm 的 γ 和 β",
	"position and token-type embeddings counted":                                       "计入位置嵌入和词元类型嵌入",
	"the pooler only if asked":                                                         "池化层仅在选中时计入",
	"no pre-training heads":                                                            "不含预训练的输出头",
	"position embeddings counted":                                                      "计入位置嵌入",
	"the causal-mask buffer not":                                                       "不计入因果掩码缓冲区",
	"the LM head's matrix counted once when tied":                                      "语言模型输出头的矩阵在共享时只计一次",
	"cross-layer sharing: every layer uses layer 0's tensors":                          "跨层共享：每一层都使用第 0 层的张量",
	"cross-layer sharing: every layer uses layer 0's attention (and its LayerNorm)":    "跨层共享：每一层都使用第 0 层的注意力（及其 LayerNorm）",
	"cross-layer sharing: every layer uses layer 0's feed-forward (and its LayerNorm)": "跨层共享：每一层都使用第 0 层的前馈层（及其 LayerNorm）",
	"cross-layer sharing: none (every layer its own)":                                  "跨层共享：无（每层各有自己的参数）",
}

// ruleZh translates rule part by part; "" if any part is unknown (the page
// then shows arch's English).
func ruleZh(rule string) string {
	var out []string
	for _, part := range strings.Split(rule, "; ") {
		zh, ok := ruleParts[part]
		if !ok {
			return ""
		}
		out = append(out, zh)
	}
	return strings.Join(out, "；")
}
