package cnntrain

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/lab"
	"github.com/paramshare/paramshare/run"
	"github.com/paramshare/paramshare/viz"
)

// export writes r's export of format in lang.
func export(t *testing.T, r *race, format, lang string) []byte {
	t.Helper()
	e, ok := spec(t).Export(format)
	if !ok || !e.Heavy {
		t.Fatalf("export %s: %v, heavy %v (every export re-trains the race)", format, ok, e.Heavy)
	}
	var b bytes.Buffer
	if err := e.Write(&b, r, lang); err != nil {
		t.Fatalf("%s %s: %v", format, lang, err)
	}
	return b.Bytes()
}

// TestExports draws the figure (PNG, SVG in both languages), the frame at
// full precision and the CNN's step trace of a three-step race, whose last
// step owes an evaluation and a shift test: the exports settle them.
func TestExports(t *testing.T) {
	skipTrainingInShort(t, "runs shift tests and draws charts")
	const raw = `{"trainSize":96,"epochs":1,"digit":4}`
	r := newTestRace(t, raw)
	advanceTo(t, r, 3)
	if r.gate == nil {
		t.Fatal("step 3 of 3 owes nothing")
	}

	b := export(t, r, "png", "en")
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if rect := img.Bounds(); rect.Dx() < 1200 || rect.Dy() < 700 {
		t.Fatalf("png is %v, want four charts", rect)
	}
	t.Logf("png %v, %d bytes", img.Bounds(), len(b))
	// Every curve is in its model's colour (the widget's: the first three
	// of viz's palette); no fourth colour, as test curves once had.
	colors := viz.SeriesColors()
	for _, c := range colors[3:6] {
		n := 0
		for y := range img.Bounds().Dy() {
			for x := range img.Bounds().Dx() {
				if cr, cg, cb, _ := img.At(x, y).RGBA(); cr>>8 == uint32(c.R) && cg>>8 == uint32(c.G) && cb>>8 == uint32(c.B) {
					n++
				}
			}
		}
		if n > 0 {
			t.Errorf("%d px of %v, a colour of none of the three models", n, c)
		}
	}
	if r.gate != nil {
		t.Fatal("the export left its step's gate open")
	}

	b = export(t, r, "svg", "en")
	checkSVG(t, b, "Train a CNN live — Adam, lr 0.003, batch 32, 96 digits, seed 1 — step 3 of 3", "Loss per step", "Accuracy", "Shift test — 500 test digits moved right, weights of step 3",
		"Train vs test accuracy at step 3 (gap = train − test)")
	shot := filepath.Join(os.TempDir(), "paramshare-cnn-train-export.svg")
	if err := os.WriteFile(shot, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("svg: %d bytes: %s", len(b), shot)
	if _, err := png.Decode(bytes.NewReader(export(t, r, "png", "zh"))); err != nil {
		t.Fatal(err)
	}
	checkSVG(t, export(t, r, "svg", "zh"))

	var j struct {
		Experiment string
		Params     run.Values
		Step       int
		Data       struct {
			Loss  [][]float64
			Evals []evaluation
			Shift shiftFrame
			Maps  tensorJSON
		}
	}
	if err := json.Unmarshal(export(t, r, "json", "en"), &j); err != nil {
		t.Fatal(err)
	}
	if j.Experiment != Name || j.Step != 3 || len(j.Data.Loss) != 3 || len(j.Data.Loss[0]) != 3 || j.Data.Loss[1][2] != r.loss[1][2] ||
		len(j.Data.Evals) != 1 || j.Data.Shift.Done == nil || j.Data.Shift.Done.Step != 3 || len(j.Data.Maps.Values) != 8*28*28 {
		t.Errorf("json export: %s at %d, %d losses, evals %+v, shift %+v", j.Experiment, j.Step, len(j.Data.Loss), j.Data.Evals, j.Data.Shift)
	}

	tr, err := engine.ReadTrace(bytes.NewReader(export(t, r, "trace.json", "en")))
	if err != nil {
		t.Fatal(err)
	}
	if err := engine.CheckTrace(tr); err != nil {
		t.Fatal(err)
	}
	direct, _ := lab.NewTrainer(Config(values(t, raw), "cnn"))
	for range 3 {
		direct.Step()
	}
	w, ok := tr.Layers[0].Params.Lookup("weight")
	want := direct.Model().Layers[0].(*engine.Conv2d).Weight.Value.Data
	if !ok || !slices.Equal(w.Tensor.Data, want) {
		t.Fatalf("trace conv1 weight differs from a CNN trained 3 steps by lab")
	}
	if tr.Target.Data[0] != float64(lab.TestSet().Labels[4]) {
		t.Errorf("trace target %v, want digit 4's label", tr.Target.Data)
	}
}

// TestExportAtStep0 draws the figure of an untrained race: the parameter
// counts, as there are no curves yet.
func TestExportAtStep0(t *testing.T) {
	r := newTestRace(t, `{}`)
	checkSVG(t, export(t, r, "svg", "en"), "Parameters per model — nothing is trained at step 0")
	if _, err := png.Decode(bytes.NewReader(export(t, r, "png", "zh"))); err != nil {
		t.Fatal(err)
	}
}

// TestFigureTextHasGlyphs: Chinese charts draw their text as outlines of
// viz's embedded font, so every character of the Chinese wording (with the
// numbers and model names it is filled with) must be in it.
func TestFigureTextHasGlyphs(t *testing.T) {
	f := figureText
	for _, tx := range []run.Text{f.config, f.loss, f.accuracy, f.step, f.lossAxis, f.accAxis, f.batchAcc, f.test,
		f.shift, f.shiftAxis, f.gap, f.trainGroup, f.testGroup, f.untrained, f.paramsAxis, f.paramsGroup} {
		zh := tx.Zh + "CNN LC MLP 0.003 1e-05 — 0123456789"
		for _, o := range optimizerText {
			zh += o.Zh
		}
		if m := viz.MissingGlyphs(zh); len(m) > 0 {
			t.Errorf("%q: the chart font lacks %q", tx.Zh, m)
		}
		if strings.Count(tx.En, "%") != strings.Count(tx.Zh, "%") {
			t.Errorf("%q and %q take different arguments", tx.En, tx.Zh)
		}
	}
}

// checkSVG parses an exported SVG document as XML and checks that its root
// is <svg> and that each of titles begins the text of one of its <text>
// elements.
func checkSVG(t *testing.T, b []byte, titles ...string) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(b))
	var texts []string
	depth, inText := 0, false
	var cur strings.Builder
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("svg is not XML: %v", err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if depth == 0 && el.Name.Local != "svg" {
				t.Fatalf("svg root is <%s>", el.Name.Local)
			}
			depth++
			if el.Name.Local == "text" {
				inText = true
				cur.Reset()
			}
		case xml.EndElement:
			depth--
			if el.Name.Local == "text" {
				inText = false
				texts = append(texts, cur.String())
			}
		case xml.CharData:
			if inText {
				cur.Write(el)
			}
		}
	}
	for _, title := range titles {
		if !slices.ContainsFunc(texts, func(s string) bool { return strings.HasPrefix(s, title) }) {
			t.Errorf("svg has no text %q (texts: %.300q)", title, texts)
		}
	}
}
