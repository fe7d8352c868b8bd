package class

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"errors"
	"image/png"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/paramshare/paramshare/viz"
)

// threeRuns is a small class sweep: two learning rates at batch 32, one at
// batch 8; the seed is the same everywhere and must not be in the labels.
func threeRuns() []BoardRun {
	curve := func(lr float64, n int) [][2]float64 {
		p := make([][2]float64, n)
		for i := range p {
			p[i] = [2]float64{float64(i), 2 * math.Exp(-lr*float64(i))}
		}
		return p
	}
	return []BoardRun{
		{Room: 1, Seat: "s1", Widget: "gd", Experiment: "mnist", Params: json.RawMessage(`{"lr":0.1,"batch":32,"seed":1}`), Points: curve(0.1, 40), Accuracy: ptr(0.9)},
		{Room: 1, Seat: "s2", Widget: "gd", Experiment: "mnist", Params: json.RawMessage(`{"lr":0.01,"batch":32,"seed":1}`), Points: curve(0.01, 40)},
		{Room: 1, Seat: "s1", Widget: "gd", Experiment: "mnist", Params: json.RawMessage(`{"lr":0.1,"batch":8,"seed":1}`), Points: curve(0.1, 20), Accuracy: ptr(0.8)},
	}
}

func TestBoardLabels(t *testing.T) {
	runs := threeRuns()
	want := []string{"run 1: lr=0.1, batch=32", "run 2: lr=0.01, batch=32", "run 3: lr=0.1, batch=8"}
	if got := BoardLabels("en", runs); !reflect.DeepEqual(got, want) {
		t.Errorf("labels %q, want %q", got, want)
	}
	if got := BoardLabels(viz.LangZh, runs); got[2] != "运行 3：lr=0.1, batch=8" {
		t.Errorf("zh label %q", got[2])
	}
	same := []BoardRun{runs[0], runs[0]}
	if got := BoardLabels("en", same); !reflect.DeepEqual(got, []string{"run 1", "run 2"}) {
		t.Errorf("same params: %q", got)
	}
	strs := []BoardRun{{Params: json.RawMessage(`{"opt":"adam"}`)}, {Params: json.RawMessage(`{"opt":"sgd","momentum":0.9}`)}}
	if got := BoardLabels("en", strs); !reflect.DeepEqual(got, []string{"run 1: opt=adam", "run 2: opt=sgd, momentum=0.9"}) {
		t.Errorf("string and missing params: %q", got)
	}
	for _, l := range BoardLabels("en", runs) {
		if strings.Contains(l, "s1") || strings.Contains(l, "seed") {
			t.Errorf("label %q names a seat or a parameter all runs share", l)
		}
	}
}

func TestWriteBoardChart(t *testing.T) {
	runs := threeRuns()
	for _, lang := range []string{"en", viz.LangZh} {
		var buf bytes.Buffer
		if err := WriteBoard(&buf, "png", lang, runs); err != nil {
			t.Fatalf("%s png: %v", lang, err)
		}
		img, err := png.Decode(&buf)
		if err != nil || img.Bounds().Dx() < 600 {
			t.Errorf("%s png: %v, %v", lang, err, img)
		}
		buf.Reset()
		if err := WriteBoard(&buf, "svg", lang, runs); err != nil {
			t.Fatalf("%s svg: %v", lang, err)
		}
		dec := xml.NewDecoder(&buf)
		for {
			if _, err := dec.Token(); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("%s svg does not parse: %v", lang, err)
			}
		}
	}
	// English SVG text is selectable: the title and labels are in it.
	var buf bytes.Buffer
	WriteBoard(&buf, "svg", "en", runs)
	for _, s := range []string{"Class board: loss per step", "run 2: lr=0.01, batch=32"} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("svg lacks %q", s)
		}
	}
	for _, s := range append(BoardLabels(viz.LangZh, runs), "全班看板：每步的损失", "步", "损失") {
		if m := viz.MissingGlyphs(s); len(m) > 0 {
			t.Errorf("zh text %q: no glyph for %q", s, string(m))
		}
	}
	// Losses spanning 10⁴ get a log axis; a loss that blew up leaves a gap.
	wide := threeRuns()
	wide[1].Points = [][2]float64{{0, 100}, {1, 0.01}, {2, math.Inf(1)}, {3, math.NaN()}}
	if err := WriteBoard(io.Discard, "png", "en", wide); err != nil {
		t.Errorf("wide losses: %v", err)
	}
	// Many runs: the chart is still drawn, without a legend.
	var many []BoardRun
	for range 40 {
		many = append(many, threeRuns()...)
	}
	buf.Reset()
	if err := WriteBoard(&buf, "svg", "en", many); err != nil {
		t.Errorf("120 runs: %v", err)
	}
	if !strings.Contains(buf.String(), "(120 runs)") || strings.Contains(buf.String(), "run 1") {
		t.Error("120 runs: the title does not count them, or the legend names them")
	}
	if m := viz.MissingGlyphs("全班看板：每步的损失（120 次运行）"); len(m) > 0 {
		t.Errorf("zh title: no glyph for %q", string(m))
	}
}

func TestWriteBoardErrors(t *testing.T) {
	for _, format := range []string{"png", "svg", "csv", "json"} {
		if err := WriteBoard(io.Discard, format, "en", nil); !errors.Is(err, ErrEmptyBoard) {
			t.Errorf("%s of no runs: %v", format, err)
		}
	}
	noPoints := []BoardRun{{Params: json.RawMessage(`{}`)}}
	if err := WriteBoard(io.Discard, "png", "en", noPoints); !errors.Is(err, ErrEmptyBoard) {
		t.Errorf("png of runs without points: %v", err)
	}
	if err := WriteBoard(io.Discard, "gif", "en", threeRuns()); err == nil {
		t.Error("unknown format accepted")
	}
}

func TestWriteBoardCSV(t *testing.T) {
	runs := threeRuns()
	runs[1].Points[3][1] = math.NaN()
	runs[2].Experiment = "=HYPERLINK(1)"
	var buf bytes.Buffer
	if err := WriteBoard(&buf, "csv", "en", runs); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"run", "experiment", "step", "loss", "latest_accuracy", "batch", "lr", "seed"}; !reflect.DeepEqual(rows[0], want) {
		t.Errorf("header %q, want %q", rows[0], want)
	}
	if len(rows) != 1+40+40+20 {
		t.Fatalf("%d rows, want 101", len(rows))
	}
	if want := []string{"1", "mnist", "0", "2", "0.9", "32", "0.1", "1"}; !reflect.DeepEqual(rows[1], want) {
		t.Errorf("first row %q, want %q", rows[1], want)
	}
	if r := rows[41]; r[0] != "2" || r[4] != "" || r[6] != "0.01" {
		t.Errorf("run 2 (no accuracy): %q", r)
	}
	if r := rows[44]; r[3] != "NaN" {
		t.Errorf("a NaN loss: %q", r)
	}
	if r := rows[100]; r[0] != "3" || r[1] != "'=HYPERLINK(1)" || r[2] != "19" || r[4] != "0.8" || r[5] != "8" {
		t.Errorf("last row: %q", r)
	}
}

func TestWriteBoardJSON(t *testing.T) {
	runs := threeRuns()
	runs[1].Points[3][1] = math.Inf(1)
	var buf bytes.Buffer
	if err := WriteBoard(&buf, "json", "en", runs); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Runs []struct {
			Run        int
			Label      string
			Experiment string
			Params     map[string]any
			Points     [][2]*float64
			Accuracy   *float64
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if len(got.Runs) != 3 {
		t.Fatalf("%d runs", len(got.Runs))
	}
	for i, r := range got.Runs {
		if r.Run != i+1 || r.Experiment != "mnist" || len(r.Points) != len(runs[i].Points) {
			t.Errorf("run %d: %+v", i+1, r)
		}
		if (r.Accuracy == nil) != (runs[i].Accuracy == nil) || r.Accuracy != nil && *r.Accuracy != *runs[i].Accuracy {
			t.Errorf("run %d accuracy %v", i+1, r.Accuracy)
		}
		for k, p := range r.Points {
			want := runs[i].Points[k]
			if *p[0] != want[0] || (p[1] == nil) != math.IsInf(want[1], 0) || p[1] != nil && *p[1] != want[1] {
				t.Errorf("run %d point %d: %v, want %v", i+1, k, p, want)
				break
			}
		}
	}
	if got.Runs[2].Params["batch"] != 8.0 || got.Runs[2].Label != "run 3: lr=0.1, batch=8" {
		t.Errorf("run 3: %+v", got.Runs[2])
	}
	if !strings.Contains(buf.String(), `"accuracy":null`) {
		t.Error("a run without accuracy lacks \"accuracy\":null")
	}
}
