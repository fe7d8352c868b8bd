package web

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/paramshare/paramshare/run"
	"github.com/paramshare/paramshare/viz"
)

// drawDigitQueryKeys are the query parameters GET /export/draw-digit.*
// accepts: the widget's parameters (docs/protocol.md, "draw-digit").
var drawDigitQueryKeys = []string{"pixels", "digit", "center", "shift"}

// serveDrawDigitExport answers GET /export/draw-digit.png and .svg (the
// input the models read, the CNN's feature maps and every model's class
// probabilities) and draw-digit.json (the step trace of the CNN on that
// input, its predicted class as the target). While the server is still
// training the models it answers 503 with Retry-After.
func (l *Live) serveDrawDigitExport(w http.ResponseWriter, r *http.Request, format string) {
	d, err := drawDigitFromQuery(r.URL.Query())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	run.StartDigitTraining()
	if err := d.Seek(1); err != nil {
		if errors.Is(err, run.ErrDigitTraining) {
			w.Header().Set("Retry-After", "5")
			http.Error(w, fmt.Sprintf("export: the models are still training (%.0f %%); try again in a few seconds", 100*run.DigitTrainingProgress().Fraction), http.StatusServiceUnavailable)
			return
		}
		l.log.Error("export: draw-digit models", "err", err)
		http.Error(w, "export: the models could not be trained", http.StatusInternalServerError)
		return
	}
	data := d.DataFrame()
	if data.Empty {
		http.Error(w, "export: the drawing is blank: nothing to predict", http.StatusBadRequest)
		return
	}
	var buf bytes.Buffer
	switch format {
	case "json":
		err = d.WriteTrace(&buf)
	default:
		err = writeDrawDigitFigure(&buf, format, data)
	}
	if err != nil {
		l.log.Error("export: render", "file", "draw-digit."+format, "err", err)
		http.Error(w, "export: could not draw the figure", http.StatusInternalServerError)
		return
	}
	writeExport(w, format, &buf)
}

// drawDigitFromQuery builds a draw-digit experiment from the query through
// the same validation as set-params. Errors are readable sentences.
func drawDigitFromQuery(q url.Values) (*run.DrawDigit, error) {
	if err := checkQuery(q, drawDigitQueryKeys); err != nil {
		return nil, err
	}
	params := map[string]any{}
	if q.Has("pixels") {
		// A '+' of base64 that was not percent-encoded arrives as a space;
		// base64 has no spaces, so the repair is unambiguous.
		params["pixels"] = strings.ReplaceAll(q.Get("pixels"), " ", "+")
	}
	if err := queryInts(q, map[string]*int{"digit": new(int), "shift": new(int)}); err != nil {
		return nil, err
	}
	for _, k := range []string{"digit", "shift"} {
		if q.Has(k) {
			n, _ := strconv.Atoi(q.Get(k)) // checked by queryInts
			params[k] = n
		}
	}
	if q.Has("center") {
		b, err := strconv.ParseBool(q.Get("center"))
		if err != nil {
			return nil, fmt.Errorf("export: center must be true or false, got %q", q.Get("center"))
		}
		params["center"] = b
	}
	if !q.Has("pixels") && !q.Has("digit") {
		return nil, errors.New("export: give the drawing as pixels (base64 of 784 bytes) or a test digit as digit")
	}
	raw, err := json.Marshal(params)
	if err != nil {
		return nil, fmt.Errorf("export: %v", err)
	}
	d := run.NewDrawDigit()
	if err := d.SetParams(raw); err != nil {
		return nil, fmt.Errorf("export: %s", strings.TrimPrefix(err.Error(), "run: "))
	}
	return d, nil
}

// mosaic lays out a layer's maps [c, h, w] in rows of cols tiles with a
// one-cell gap (missing, drawn grey) between tiles.
func mosaic(vals []float64, c, h, w, cols int) viz.Grid {
	rows := (c + cols - 1) / cols
	g := viz.Grid{Rows: rows*h + rows - 1, Cols: cols*w + cols - 1}
	g.Values = make([]float64, g.Rows*g.Cols)
	for i := range g.Values {
		g.Values[i] = math.NaN()
	}
	for k := range c {
		top, left := (k/cols)*(h+1), (k%cols)*(w+1)
		for y := range h {
			copy(g.Values[(top+y)*g.Cols+left:(top+y)*g.Cols+left+w], vals[k*h*w+y*w:k*h*w+(y+1)*w])
		}
	}
	return g
}

// writeDrawDigitFigure draws the input, the two layers' feature maps (as
// mosaics, each layer on one scale as in the widget) and, below, the three
// models' class probabilities as grouped bars, into one PNG or SVG.
func writeDrawDigitFigure(buf *bytes.Buffer, format string, data run.DrawDigitData) error {
	in, err := decodeBytes(data.Input)
	if err != nil {
		return err
	}
	input := viz.Grid{Rows: run.DigitSide, Cols: run.DigitSide, Values: make([]float64, len(in))}
	for i, v := range in {
		input.Values[i] = float64(v) / 255
	}
	panels := []viz.Panel{{Title: "input the models read (pixel / 255)", Grid: input, Min: 0, Max: 1, XLabel: "x", YLabel: "y"}}
	for _, m := range data.Maps {
		vals, err := m.Maps.Values()
		if err != nil {
			return err
		}
		s := m.Maps.Shape
		cols := 4
		title := fmt.Sprintf("%s after ReLU: %d maps of %d×%d", m.Layer, s[0], s[1], s[2])
		panels = append(panels, viz.Panel{Title: title, Grid: mosaic(vals, s[0], s[1], s[2], cols), Min: 0, Max: max(m.Maps.Max, 1e-9)})
	}
	var top bytes.Buffer
	centring := "centred as MNIST"
	if !data.Center {
		centring = "not centred"
	}
	title := fmt.Sprintf("Draw a digit — %s, shifted %+d px", centring, data.Shift)
	if data.Label >= 0 {
		title += fmt.Sprintf(" — MNIST test digit #%d (a %d)", data.Digit, data.Label)
	}
	if err := viz.WriteHeatmaps(&top, format, title, panels...); err != nil {
		return err
	}
	classes := make([]string, 10)
	for i := range classes {
		classes[i] = strconv.Itoa(i)
	}
	var groups []viz.BarGroup
	var verdict []string
	for _, p := range data.Predictions {
		groups = append(groups, viz.BarGroup{Label: p.Model, Values: p.Probs})
		verdict = append(verdict, fmt.Sprintf("%s says %d (%.0f %%)", p.Model, p.Top, 100*p.P))
	}
	var bottom bytes.Buffer
	if err := viz.WriteBars(&bottom, format, "Class probabilities: "+strings.Join(verdict, ", "), "probability", classes, false, groups...); err != nil {
		return err
	}
	return tileCharts(buf, format, 1, [][]byte{top.Bytes(), bottom.Bytes()})
}

func decodeBytes(b64 string) ([]byte, error) {
	out, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("export: frame bytes: %w", err)
	}
	return out, nil
}
