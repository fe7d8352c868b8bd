package rnnunroll

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"image/png"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/run"
	"github.com/paramshare/paramshare/viz"
)

// values returns the defaults with the given changes.
func values(changes map[string]any) run.Values {
	v := run.Defaults(fields)
	for k, x := range changes {
		v = v.With(k, x)
	}
	return v
}

func build(t *testing.T, v run.Values) *unroll {
	t.Helper()
	u, err := newUnroll(v)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// forward runs the word through an engine RNN built here (not the
// experiment's), on an explicit one-hot input [1, L, 26], and returns the
// cell and its Forward output [1, L, H].
func forward(t *testing.T, v run.Values) (*engine.RNN, *engine.Tensor) {
	t.Helper()
	p := paramsOf(v)
	cell, err := engine.NewRNN("direct", 26, p.Hidden, engine.NewRand(uint64(p.Seed)))
	if err != nil {
		t.Fatal(err)
	}
	x := engine.NewTensor(1, len(p.Word), 26)
	for i, c := range p.Word {
		x.Data[i*26+int(c-'a')] = 1
	}
	return cell, cell.Forward(x, nil)
}

// checkData compares a frame's data part (decoded from its JSON, as the
// widget reads it) with the engine's Forward y: each past h_t (rounded to
// tol), the current step's parts, and tanh of their sum, to 1e-12.
func checkData(t *testing.T, raw []byte, v run.Values, cell *engine.RNN, y *engine.Tensor, tol float64) {
	t.Helper()
	var d dataPart
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	p := paramsOf(v)
	hid := p.Hidden
	h := func(t1 int) []float64 { // the engine's h_t, t = 1…L; h_0 = 0
		if t1 == 0 {
			return make([]float64, hid)
		}
		return y.Data[(t1-1)*hid : t1*hid]
	}
	if len(d.Hidden) != d.Step || d.Total != len(p.Word) {
		t.Fatalf("%d hidden states at step %d of %d", len(d.Hidden), d.Step, d.Total)
	}
	for t1, hs := range d.Hidden {
		for j, x := range hs {
			if math.Abs(x-h(t1 + 1)[j]) > tol {
				t.Fatalf("h_%d[%d] = %g, Forward %g", t1+1, j, x, h(t1 + 1)[j])
			}
		}
	}
	if d.Step == 0 {
		if d.Cur != nil {
			t.Fatalf("parts at step 0: %+v", d.Cur)
		}
		return
	}
	c := d.Cur
	tok := int(p.Word[d.Step-1] - 'a')
	if c.T != d.Step || c.Char != p.Word[d.Step-1:d.Step] || c.Token != tok {
		t.Fatalf("step %d: parts of t = %d, char %q (token %d)", d.Step, c.T, c.Char, c.Token)
	}
	wih, whh := cell.WeightIH.Value.Data, cell.WeightHH.Value.Data
	for j := range hid {
		var wh float64
		for k := range hid {
			wh += whh[j*hid+k] * h(d.Step - 1)[k]
		}
		want := h(d.Step)[j]
		switch {
		case c.HPrev[j] != h(d.Step - 1)[j]:
			t.Fatalf("step %d: h_{t−1}[%d] = %g, Forward %g", d.Step, j, c.HPrev[j], h(d.Step - 1)[j])
		case c.WX[j] != wih[j*26+tok]:
			t.Fatalf("step %d: (W_ih·x_t)[%d] = %g, W_ih column %d gives %g", d.Step, j, c.WX[j], tok, wih[j*26+tok])
		case math.Abs(c.WH[j]-wh) > 1e-12:
			t.Fatalf("step %d: (W_hh·h_{t−1})[%d] = %g, want %g", d.Step, j, c.WH[j], wh)
		case c.BIH[j] != cell.BiasIH.Value.Data[j] || c.BHH[j] != cell.BiasHH.Value.Data[j]:
			t.Fatalf("step %d: biases %g, %g", d.Step, c.BIH[j], c.BHH[j])
		case math.Abs(c.A[j]-(c.WX[j]+c.BIH[j]+c.WH[j]+c.BHH[j])) > 1e-15:
			t.Fatalf("step %d: a[%d] = %g is not the sum of its parts", d.Step, j, c.A[j])
		case math.Abs(math.Tanh(c.A[j])-want) > 1e-12 || math.Abs(c.H[j]-want) > 1e-12:
			t.Fatalf("step %d: tanh(a)[%d] = %.17g, h shown %.17g; engine Forward %.17g", d.Step, j, math.Tanh(c.A[j]), c.H[j], want)
		}
	}
}

func frameData(t *testing.T, u *unroll) []byte {
	t.Helper()
	b, err := json.Marshal(u.Frame().Data)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestStepsMatchForward steps through the word for several settings and
// checks every frame against the engine's Forward on an RNN built apart.
func TestStepsMatchForward(t *testing.T) {
	for _, ch := range []map[string]any{
		nil,
		{"word": "backpropagation", "hidden": 16, "seed": 7},
		{"word": "go", "hidden": 2, "seed": 0},
		{"word": "parameters", "hidden": 9, "seed": 9999},
	} {
		v := values(ch)
		u := build(t, v)
		cell, y := forward(t, v)
		checkData(t, frameData(t, u), v, cell, y, 0)
		for u.Pos() < u.Total() {
			if err := u.Advance(); err != nil {
				t.Fatal(err)
			}
			checkData(t, frameData(t, u), v, cell, y, 0.5e-4+1e-12)
		}
		// The static part's weights are the engine's (rounded to 4 decimals).
		st := u.static(liveDigits)
		for j, row := range st.WIH {
			for i, w := range row {
				if math.Abs(w-cell.WeightIH.Value.Data[j*26+i]) > 0.5e-4+1e-12 {
					t.Fatalf("%v: static W_ih[%d][%d] = %g", ch, j, i, w)
				}
			}
		}
	}
}

// TestCountIsFlat checks the count line against the lesson's numbers: at
// hidden size 3 the cell has 3·26 + 3·3 + 3 + 3 = 93 parameters for every T
// from 1 to 200, its multiply-adds are T·3·(26+3), and the unshared RNN has
// 93·T parameters (18,600 at T = 200).
func TestCountIsFlat(t *testing.T) {
	u := build(t, values(nil))
	if c := u.counts; c.T != 5 || c.Params != 93 || c.Uses != 435 || c.Unshared != 465 || c.WordSteps != 5 || c.WordUses != 435 || c.Refusal != nil {
		t.Fatalf("default counts %+v", c)
	}
	for T := 1; T <= maxT; T++ {
		if err := u.SetParams(values(map[string]any{"T": T})); err != nil {
			t.Fatal(err)
		}
		c := u.counts
		if c.Params != 93 || c.Uses != T*3*29 || c.Unshared != 93*T {
			t.Fatalf("T = %d: %+v", T, c)
		}
	}
	if u.counts.Unshared != 18600 {
		t.Fatalf("T = 200: unshared %d", u.counts.Unshared)
	}
	// hidden 16: 16·26 + 16·16 + 32 = 704.
	if c := build(t, values(map[string]any{"hidden": 16})).counts; c.Params != 704 {
		t.Fatalf("hidden 16: %d parameters", c.Params)
	}
}

// TestUnsharedRefuses: the unshared RNN built for T = 5 refuses a longer
// word, naming the steps without weights, in both languages; built for 8
// steps it reads "sequence"; the shared cell reads every word whatever T.
func TestUnsharedRefuses(t *testing.T) {
	err := unshared{Steps: 5, PerStep: 93}.read("sequence")
	var re *run.Error
	if !errors.As(err, &re) {
		t.Fatalf("read: %v", err)
	}
	if want := "The unshared RNN was built for T = 5 steps and cannot read “sequence” (8 characters): it has no weights for step 6–8."; re.Text.En != want {
		t.Fatalf("refusal %q, want %q", re.Text.En, want)
	}
	if want := "不共享的 RNN 按 T = 5 个时间步构建，读不了“sequence”（8 个字符）：第 6–8 步没有权重。"; re.Text.Zh != want {
		t.Fatalf("refusal %q, want %q", re.Text.Zh, want)
	}
	if err := (unshared{Steps: 5}).read("weights"); err == nil || !strings.Contains(err.Error(), "step 6–7.") {
		t.Fatalf("weights at T = 5: %v", err)
	}
	if err := (unshared{Steps: 5}).read("hidden"); err == nil || !strings.Contains(err.Error(), "for step 6.") {
		t.Fatalf("a six-letter word at T = 5: %v", err)
	}
	for _, w := range []string{"go", "cat", "cell", "share"} {
		if err := (unshared{Steps: 5}).read(w); err != nil {
			t.Fatalf("%s at T = 5: %v", w, err)
		}
	}
	// Through the experiment: the word "sequence" at the default T = 5 is
	// refused by the twin, yet the shared cell reads all 8 steps.
	v := values(map[string]any{"word": "sequence"})
	u := build(t, v)
	if u.Total() != 8 || u.counts.Refusal == nil || u.counts.Refusal.En != re.Text.En {
		t.Fatalf("sequence at T = 5: %d steps, refusal %+v", u.Total(), u.counts.Refusal)
	}
	for u.Pos() < u.Total() {
		u.Advance()
	}
	cell, y := forward(t, v)
	checkData(t, frameData(t, u), v, cell, y, 0.5e-4+1e-12)
	if err := u.SetParams(v.With("T", 8)); err != nil || u.counts.Refusal != nil {
		t.Fatalf("sequence at T = 8: %v, refusal %+v", err, u.counts.Refusal)
	}
	for _, tx := range []string{re.Text.Zh} {
		if m := viz.MissingGlyphs(tx); len(m) > 0 {
			t.Errorf("%q: the chart font lacks %q", tx, m)
		}
	}
}

// TestSetParams: a new T keeps the static part and the step; a new word
// rebuilds it and keeps the step up to the word's length.
func TestSetParams(t *testing.T) {
	v := values(map[string]any{"word": "parameters"})
	u := build(t, v)
	for range 7 {
		u.Advance()
	}
	rev := u.Frame().StaticRev
	if err := u.SetParams(v.With("T", 150)); err != nil {
		t.Fatal(err)
	}
	if u.Pos() != 7 || u.Frame().StaticRev != rev || u.counts.T != 150 {
		t.Fatalf("after T: step %d, rev %d (was %d), counts %+v", u.Pos(), u.Frame().StaticRev, rev, u.counts)
	}
	v2 := v.With("T", 150).With("word", "cell")
	if err := u.SetParams(v2); err != nil {
		t.Fatal(err)
	}
	if u.Pos() != 4 || u.Total() != 4 || u.Frame().StaticRev == rev {
		t.Fatalf("after word: step %d of %d, rev %d", u.Pos(), u.Total(), u.Frame().StaticRev)
	}
	cell, y := forward(t, v2)
	checkData(t, frameData(t, u), v2, cell, y, 0.5e-4+1e-12)
}

// TestExports draws the figures (Chinese glyphs included), checks the
// JSON export's full precision and the trace's gradient, summed over the
// steps by the engine.
func TestExports(t *testing.T) {
	v := values(map[string]any{"word": "weights", "hidden": 4})
	u := build(t, v)
	for range 3 {
		u.Advance()
	}
	spec, ok := run.Lookup(name)
	if !ok {
		t.Fatal("rnn-unroll is not registered")
	}
	write := func(format, lang string) []byte {
		e, ok := spec.Export(format)
		if !ok {
			t.Fatalf("no %s export", format)
		}
		var b bytes.Buffer
		if err := e.Write(&b, u, lang); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		return b.Bytes()
	}
	img, err := png.Decode(bytes.NewReader(write("png", "en")))
	if err != nil {
		t.Fatalf("png does not decode: %v", err)
	}
	if r := img.Bounds(); r.Dx() < 800 || r.Dy() < 200 {
		t.Fatalf("png is %v", r)
	}
	for _, lang := range []string{"en", "zh"} {
		svg := write("svg", lang)
		dec := xml.NewDecoder(bytes.NewReader(svg))
		for {
			if _, err := dec.Token(); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("%s svg does not parse: %v", lang, err)
			}
		}
		if has := bytes.Contains(svg, []byte("step 3 of 7")); has != (lang == "en") {
			t.Errorf("%s svg: title says %q: %v", lang, "step 3 of 7", has)
		}
	}
	for _, tx := range []run.Text{figureText.title, figureText.wih, figureText.whh, figureText.bias, figureText.hidden} {
		if m := viz.MissingGlyphs(tx.Zh); len(m) > 0 {
			t.Errorf("%q: the chart font lacks %q", tx.Zh, m)
		}
	}

	cell, y := forward(t, v)
	var exp struct {
		Experiment string
		Params     map[string]any
		Step       int
		Static     staticPart
		Data       json.RawMessage
	}
	if err := json.Unmarshal(write("json", "en"), &exp); err != nil {
		t.Fatal(err)
	}
	if exp.Experiment != name || exp.Step != 3 || exp.Params["word"] != "weights" || exp.Static.WIH[1][4] != cell.WeightIH.Value.Data[26+4] {
		t.Fatalf("json: %s step %d params %v", exp.Experiment, exp.Step, exp.Params)
	}
	checkData(t, exp.Data, v, cell, y, 1e-12)

	tr, err := engine.ReadTrace(bytes.NewReader(write("trace.json", "en")))
	if err != nil {
		t.Fatal(err)
	}
	if err := engine.CheckTrace(tr); err != nil {
		t.Fatal(err)
	}
	if tr.Seed != 1 || len(tr.Layers) != 2 || tr.Layers[1].Type != "rnn" || !slices.Equal(tr.Input.Shape, []int{1, 7}) {
		t.Fatalf("trace: seed %d, %d layers, input %v", tr.Seed, len(tr.Layers), tr.Input.Shape)
	}
	// The trace's dW_hh is the sum of the per-step contributions a
	// Recorder sees: the same cell used at 7 steps.
	model, c2, err := newCell(4, 1, 7)
	if err != nil {
		t.Fatal(err)
	}
	rec := engine.NewRecorder(engine.RecordFilter{Params: []*engine.Param{c2.WeightHH}})
	if _, err := model.ComputeGrad(u.x, engine.NewTensor(1, 7, 4), rec); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.Uses(c2.WeightHH, engine.UseStep)); n != 7 {
		t.Fatalf("%d step contributions to W_hh", n)
	}
	sum := rec.Sum(c2.WeightHH, engine.UseStep)
	whh, ok := tr.Layers[1].Grads.Lookup("weight_hh")
	if !ok {
		t.Fatal("trace has no weight_hh gradient")
	}
	for i, g := range whh.Tensor.Data {
		if math.Abs(g-sum.Data[i]) > 1e-12 {
			t.Fatalf("trace dW_hh[%d] = %g, Σ of 7 steps %g", i, g, sum.Data[i])
		}
	}
}

// TestLessonTexts: both lessons' widget directives start the widget at
// the defaults (so the prose's numbers — 93 parameters, 465 and 18,600
// unshared, "sequence" refused at T = 5, checked above — are what the page
// shows), and both texts state those numbers.
func TestLessonTexts(t *testing.T) {
	for _, c := range []struct{ lang, n465, n18600 string }{{"en", "465", "18,600"}, {"zh", "465", "18600"}} {
		b, err := os.ReadFile("../../lessons/" + c.lang + "/one-cell-many-time-steps.md")
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		i := strings.Index(text, "```widget rnn-unroll\n")
		if i < 0 {
			t.Fatalf("%s: no rnn-unroll widget", c.lang)
		}
		line := strings.SplitN(text[i+len("```widget rnn-unroll\n"):], "\n", 2)[0]
		var got map[string]any
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("%s: directive %q: %v", c.lang, line, err)
		}
		for k, want := range run.Defaults(fields) {
			if fmt.Sprint(got[k]) != fmt.Sprint(want) {
				t.Errorf("%s: directive %s = %v, default %v", c.lang, k, got[k], want)
			}
		}
		for _, s := range []string{"93", c.n465, c.n18600, "200", "sequence"} {
			if !strings.Contains(text, s) {
				t.Errorf("%s: the text does not say %q", c.lang, s)
			}
		}
	}
}
