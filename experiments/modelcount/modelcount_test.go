package modelcount

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/paramshare/paramshare/engine/arch"
	"github.com/paramshare/paramshare/run"
)

// values returns the defaults with the given changes.
func values(changes map[string]any) run.Values {
	v := run.Defaults(fields())
	for k, x := range changes {
		v = v.With(k, x)
	}
	return v
}

// settings lists every preset with every combination of the switches it
// takes (the others at their defaults).
func settings(t *testing.T) []run.Values {
	t.Helper()
	var out []run.Values
	for _, name := range presetNames() {
		on := takes(name)
		vs := []run.Values{values(map[string]any{fieldPreset: name})}
		expand := func(field string, xs ...any) {
			if !on[field] {
				return
			}
			var next []run.Values
			for _, v := range vs {
				for _, x := range xs {
					next = append(next, v.With(field, x))
				}
			}
			vs = next
		}
		expand(fieldShare, "all", "attention", "ffn", "none")
		expand(fieldTie, true, false)
		expand(fieldPooler, true, false)
		expand(fieldUnshare, false, true)
		expand(fieldEmbed, "64", "128", "256", "768")
		out = append(out, vs...)
	}
	if len(out) < 20 {
		t.Fatalf("only %d settings", len(out))
	}
	return out
}

// archOptions is p's switches as arch.Build takes them for the preset,
// written out independently of count.
func archOptions(p params) arch.Options {
	var o arch.Options
	for _, pr := range arch.Presets() {
		if pr.Name != p.Preset {
			continue
		}
		for _, k := range pr.Options {
			switch k {
			case "share":
				o.Share = p.Share
			case "tie":
				o.Tie = p.Tie
			case "pooler":
				o.Pooler = p.Pooler
			case "unshare_conv":
				o.UnshareConv = p.UnshareConv
			case "embed":
				o.Embed, _ = strconv.Atoi(p.Embed)
			}
		}
	}
	return o
}

// TestFrameIsArchCount: the rows and totals the page shows are arch's
// Count of arch's Build, for every preset and every switch it takes.
func TestFrameIsArchCount(t *testing.T) {
	for _, v := range settings(t) {
		s, err := picture(v)
		if err != nil {
			t.Fatalf("%v: %v", v, err)
		}
		m, err := arch.Build(s.Params.Preset, archOptions(s.Params))
		if err != nil {
			t.Fatal(err)
		}
		want, err := arch.Count(m)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(s.Rows, want.Rows) {
			t.Errorf("%+v: rows differ from arch.Count's", s.Params)
		}
		if s.Total != (totals{want.Params, want.Uses, want.Unshared}) {
			t.Errorf("%+v: totals %+v, arch.Count %d %d %d", s.Params, s.Total, want.Params, want.Uses, want.Unshared)
		}
	}
}

// TestItemsAndBars: the table's items cover every row once, in order,
// with their sums; the chart's bars hold every parameter and account for
// every unshared one, and each has a height on a log axis.
func TestItemsAndBars(t *testing.T) {
	for _, v := range settings(t) {
		s, err := picture(v)
		if err != nil {
			t.Fatal(err)
		}
		next := 0
		var sum totals
		for k, it := range s.Items {
			if it.N != k+1 || it.First != next || it.Count < 1 {
				t.Fatalf("%+v: item %d %+v does not follow row %d", s.Params, k, it, next)
			}
			var own totals
			for _, r := range s.Rows[it.First : it.First+it.Count] {
				own.Params += r.Params
				own.Uses += r.Uses
				own.Unshared += r.Unshared
			}
			if own != (totals{it.Params, it.Uses, it.Unshared}) {
				t.Fatalf("%+v: item %s sums %+v, its rows %+v", s.Params, it.Name, it, own)
			}
			sum.Params += it.Params
			sum.Uses += it.Uses
			sum.Unshared += it.Unshared
			next += it.Count
		}
		if next != len(s.Rows) || sum != s.Total {
			t.Fatalf("%+v: items cover %d of %d rows, sum %+v, total %+v", s.Params, next, len(s.Rows), sum, s.Total)
		}
		var held, unshared int64
		for _, b := range s.Bars {
			if b.Params <= 0 || b.Unshared < b.Params {
				t.Fatalf("%+v: bar %+v", s.Params, b)
			}
			held += b.Params
			unshared += b.Unshared
		}
		if held != s.Total.Params || unshared != s.Total.Unshared {
			t.Fatalf("%+v: bars hold %d and %d unshared, totals %d and %d", s.Params, held, unshared, s.Total.Params, s.Total.Unshared)
		}
	}
}

// TestSharedBlocksNamePartners: in ALBERT all-shared every block after the
// first holds nothing and names the first; the first block's bar carries
// the unshared count of all twelve.
func TestSharedBlocksNamePartners(t *testing.T) {
	s, err := picture(values(map[string]any{fieldPreset: "albert-base", fieldShare: "all"}))
	if err != nil {
		t.Fatal(err)
	}
	var first *item
	blocks := 0
	for k := range s.Items {
		it := &s.Items[k]
		if it.Count < 2 {
			continue
		}
		blocks++
		if first == nil {
			first = it
			continue
		}
		if it.Params != 0 || len(it.SharedWith) != 1 || it.SharedWith[0] != first.Name {
			t.Errorf("block %s: params %d, shares %v, want 0 and [%s]", it.Name, it.Params, it.SharedWith, first.Name)
		}
	}
	if blocks != 12 {
		t.Fatalf("%d blocks, want 12", blocks)
	}
	for _, b := range s.Bars {
		if b.Name == first.Name && (b.Users != 12 || b.Unshared != 12*first.Unshared) {
			t.Errorf("first block's bar %+v, want 12 users and %d unshared", b, 12*first.Unshared)
		}
	}
}

// TestFlips: each flip's totals are those of the page set that way, and
// only switches the preset takes are offered.
func TestFlips(t *testing.T) {
	for _, name := range []string{"lenet5", "bert-base", "albert-base", "gpt2"} {
		v := values(map[string]any{fieldPreset: name})
		s, err := picture(v)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Flips) == 0 {
			t.Fatalf("%s: no flips", name)
		}
		for _, f := range s.Flips {
			if !s.Applies[f.Field] {
				t.Errorf("%s: flip of %s, which it does not take", name, f.Field)
			}
			o, err := picture(v.With(f.Field, f.Value))
			if err != nil {
				t.Fatal(err)
			}
			if o.Total != f.totals {
				t.Errorf("%s: %s = %v: flip says %+v, the page set so %+v", name, f.Field, f.Value, f.totals, o.Total)
			}
		}
	}
}

// TestIgnoredSwitches: a switch the preset does not take changes nothing.
func TestIgnoredSwitches(t *testing.T) {
	a, err := picture(values(map[string]any{fieldPreset: "vgg16", fieldTie: true, fieldShare: "all", fieldPooler: true}))
	if err != nil {
		t.Fatal(err)
	}
	b, err := picture(values(map[string]any{fieldPreset: "vgg16", fieldTie: false, fieldShare: "none", fieldPooler: false}))
	if err != nil {
		t.Fatal(err)
	}
	a.Params, b.Params = params{}, params{}
	if !reflect.DeepEqual(a, b) {
		t.Error("VGG-16's picture changes with switches it does not take")
	}
	if a.Applies[fieldTie] || a.Applies[fieldShare] || a.Applies[fieldPooler] || !a.Applies[fieldUnshare] {
		t.Errorf("VGG-16 applies %v", a.Applies)
	}
}

func TestBlockOf(t *testing.T) {
	for name, want := range map[string]string{
		"conv1":                        "",
		"fc":                           "",
		"layer1.0":                     "layer1",
		"layer1.0.conv1":               "layer1.0",
		"layer1.0.downsample.0":        "layer1.0",
		"encoder.layer.3.attention":    "encoder.layer.3",
		"embeddings.word_embeddings":   "",
		"h.11.mlp":                     "h.11",
		"features.0":                   "",
		"encoder.embedding_hidden_map": "",
	} {
		if got := blockOf(name); got != want {
			t.Errorf("blockOf(%q) = %q, want %q", name, got, want)
		}
	}
}

// TestCSV: one line per layer and a total, every number the frame's.
func TestCSV(t *testing.T) {
	c, err := newCounter(values(map[string]any{fieldPreset: "gpt2"}))
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{"en", "zh"} {
		var buf bytes.Buffer
		if err := writeCSV(&buf, c, lang); err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != len(c.static.Rows)+2 || !reflect.DeepEqual(recs[0], csvHeader[lang]) {
			t.Fatalf("%s: %d lines, header %v", lang, len(recs), recs[0])
		}
		for i, r := range c.static.Rows {
			if recs[i+1][0] != r.Layer || recs[i+1][2] != strconv.FormatInt(r.Params, 10) || recs[i+1][5] != r.SharedWith {
				t.Fatalf("%s: line %d %v, row %+v", lang, i+1, recs[i+1], r)
			}
		}
		last := recs[len(recs)-1]
		if last[2] != strconv.FormatInt(c.static.Total.Params, 10) || last[4] != strconv.FormatInt(c.static.Total.Unshared, 10) {
			t.Fatalf("%s: total line %v", lang, last)
		}
	}
}

// TestBadParams: a preset arch does not know is refused by the field,
// in both languages, before anything is counted.
func TestBadParams(t *testing.T) {
	s, _ := run.Lookup(name)
	_, err := s.Decode(nil, []byte(`{"preset": "resnet50"}`))
	pe, ok := err.(*run.ParamError)
	if !ok || pe.Field != fieldPreset || pe.Text.En == "" || pe.Text.Zh == "" {
		t.Fatalf("preset resnet50: %v", err)
	}
	if _, err := s.Decode(nil, []byte(`{"share": "half"}`)); err == nil {
		t.Fatal("share half accepted")
	}
	if _, err := s.Decode(nil, []byte(`{"tie": "yes"}`)); err == nil {
		t.Fatal(`tie "yes" accepted`)
	}
}

// TestRulesTranslated: every preset's counting rule, in every setting,
// has its Chinese.
func TestRulesTranslated(t *testing.T) {
	for _, v := range settings(t) {
		s, err := picture(v)
		if err != nil {
			t.Fatal(err)
		}
		if s.Model.Rule == "" || s.Model.RuleZh == "" {
			t.Errorf("%+v: rule %q has no Chinese", s.Params, s.Model.Rule)
		}
	}
}

// BenchmarkPicture is the counting New and SetParams do: the table and
// one more per other value of each switch the preset takes.
func BenchmarkPicture(b *testing.B) {
	for _, name := range []string{"lenet5", "bert-large", "albert-xlarge", "resnet18"} {
		v := values(map[string]any{fieldPreset: name})
		b.Run(name, func(b *testing.B) {
			for range b.N {
				if _, err := picture(v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestStaticWithinBudget: the frame's static part of every setting stays
// under the spec's budget (the conformance test measures only the defaults
// and the costliest values).
func TestStaticWithinBudget(t *testing.T) {
	s, _ := run.Lookup(name)
	biggest, at := 0, run.Values(nil)
	for _, v := range settings(t) {
		c, err := newCounter(v)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(c.Frame().Static)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > biggest {
			biggest, at = len(b), v
		}
	}
	t.Logf("largest static part %d B (budget %d) at %v", biggest, s.Budget.StaticBytes, at)
	if biggest > s.Budget.StaticBytes {
		t.Errorf("static part %d B at %v, over the budget of %d", biggest, at, s.Budget.StaticBytes)
	}
}

// TestSeqLen: the sequence length moves the uses, never the parameters,
// and a length past the preset's positions is refused in both languages.
func TestSeqLen(t *testing.T) {
	spec, _ := run.Lookup(name)
	for _, c := range []struct {
		preset string
		seqs   []string
		bad    string
	}{
		{"bert-base", []string{"64", "128", "256", "512"}, "1024"},
		{"albert-base", []string{"128", "512"}, "1024"},
		{"gpt2", []string{"64", "1024"}, ""},
	} {
		src, err := picture(values(map[string]any{fieldPreset: c.preset}))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range c.seqs {
			s, err := picture(values(map[string]any{fieldPreset: c.preset, fieldSeq: n}))
			if err != nil {
				t.Fatal(err)
			}
			o, _ := arch.DefaultOptions(c.preset)
			o.SeqLen, _ = strconv.Atoi(n)
			m, _ := arch.Build(c.preset, o)
			want, err := arch.Count(m)
			if err != nil {
				t.Fatal(err)
			}
			if s.Total.Params != src.Total.Params || s.Total.Uses != want.Uses || strconv.Itoa(s.Model.SeqLen) != n {
				t.Errorf("%s at %s: params %d (source %d), uses %d (arch %d), seqLen %d", c.preset, n, s.Total.Params, src.Total.Params, s.Total.Uses, want.Uses, s.Model.SeqLen)
			}
		}
		if c.bad != "" {
			_, err := spec.Decode(nil, []byte(`{"preset": "`+c.preset+`", "seqLen": "`+c.bad+`"}`))
			pe, ok := err.(*run.ParamError)
			if !ok || pe.Field != fieldSeq || !strings.Contains(pe.Text.En, "512 positions") || !strings.Contains(pe.Text.Zh, "512 个位置") {
				t.Errorf("%s at %s: %v", c.preset, c.bad, err)
			}
		}
	}
	// A preset without sequences ignores the field.
	if _, err := spec.Decode(nil, []byte(`{"preset": "lenet5", "seqLen": "1024"}`)); err != nil {
		t.Errorf("lenet5 with seqLen 1024: %v", err)
	}
}
