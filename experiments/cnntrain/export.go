package web

import (
	"bytes"
	"container/list"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/run"
	"github.com/paramshare/paramshare/viz"
)

// The cnn-train exports re-train the race to the step in the URL (training
// is deterministic, so the URL names the state on screen). That costs up to
// a minute of one core at the 600-step cap, so:
//   - the step is capped by the run's own budget (run.CNNTrainMaxSteps);
//   - at most cnnExportSlots exports compute at once in the process; others
//     are answered 503 with Retry-After at once, not queued;
//   - a client that goes away cancels its export (the request's context);
//   - the last few results are kept, so clicking a link twice costs once.
const (
	cnnExportSlots = 1
	cnnExportCache = 8
	cnnRetryAfter  = "10" // seconds
)

// cnnExportKeys are the query parameters of /export/cnn-train.*.
var cnnExportKeys = []string{"lr", "batch", "optimizer", "trainSize", "seed", "epochs", "digit", "step"}

var (
	cnnExportSem = make(chan struct{}, cnnExportSlots)
	cnnCache     = newExportCache(cnnExportCache)
)

// serveCNNTrainExport answers GET /export/cnn-train.png and .svg (loss,
// accuracy and shift-test charts and the train/test bars, of all three
// models, in a 2×2 grid) and /export/cnn-train.json (the engine's step trace of the CNN at that step,
// on the chosen digit).
func (l *Live) serveCNNTrainExport(w http.ResponseWriter, r *http.Request, format string) {
	p, step, err := cnnTrainFromQuery(r.URL.Query())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if format != "json" && step == 0 {
		http.Error(w, "export: step must be at least 1 for the charts (nothing is trained at step 0)", http.StatusBadRequest)
		return
	}
	key := format + "?" + canonicalCNNQuery(p, step)
	if b, ok := cnnCache.get(key); ok {
		writeExport(w, format, bytes.NewBuffer(b))
		return
	}
	select {
	case cnnExportSem <- struct{}{}:
		defer func() { <-cnnExportSem }()
	default:
		w.Header().Set("Retry-After", cnnRetryAfter)
		http.Error(w, "export: busy — another cnn-train export is being computed (each re-trains the race); try again in a few seconds", http.StatusServiceUnavailable)
		return
	}
	var buf bytes.Buffer
	if format == "json" {
		err = run.WriteCNNTrace(r.Context(), &buf, p, step)
	} else {
		err = writeCNNTrainFigure(r.Context(), &buf, format, p, step)
	}
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		l.log.Debug("export: cancelled", "query", r.URL.RawQuery)
		return
	case errors.Is(err, engine.ErrDiverged):
		http.Error(w, "export: "+strings.TrimPrefix(err.Error(), "run: "), http.StatusUnprocessableEntity)
		return
	case err != nil:
		l.log.Error("export: cnn-train", "query", r.URL.RawQuery, "err", err)
		http.Error(w, "export: could not draw the figure", http.StatusInternalServerError)
		return
	}
	cnnCache.put(key, slices.Clone(buf.Bytes()))
	writeExport(w, format, &buf)
}

// cnnTrainFromQuery reads the race's parameters and the step (default: the
// whole budget). Errors are readable sentences for the 400 answer.
func cnnTrainFromQuery(q url.Values) (run.CNNTrainParams, int, error) {
	p := run.DefaultCNNTrainParams()
	for k, v := range q {
		if !slices.Contains(cnnExportKeys, k) {
			return p, 0, fmt.Errorf("export: unknown query parameter %q (allowed: %s)", k, strings.Join(cnnExportKeys, ", "))
		}
		if len(v) != 1 {
			return p, 0, fmt.Errorf("export: query parameter %q given %d times", k, len(v))
		}
	}
	ints := map[string]*int{"batch": &p.Batch, "trainSize": &p.TrainSize, "epochs": &p.Epochs, "digit": &p.Digit}
	for k, dst := range ints {
		if !q.Has(k) {
			continue
		}
		n, err := strconv.Atoi(q.Get(k))
		if err != nil {
			return p, 0, fmt.Errorf("export: %s must be a whole number, got %q", k, q.Get(k))
		}
		*dst = n
	}
	if q.Has("seed") {
		n, err := strconv.ParseUint(q.Get("seed"), 10, 64)
		if err != nil {
			return p, 0, fmt.Errorf("export: seed must be a whole number ≥ 0, got %q", q.Get("seed"))
		}
		p.Seed = n
	}
	if q.Has("lr") {
		v, err := strconv.ParseFloat(q.Get("lr"), 64)
		if err != nil {
			return p, 0, fmt.Errorf("export: lr must be a number, got %q", q.Get("lr"))
		}
		p.LR = v
	}
	if q.Has("optimizer") {
		p.Optimizer = q.Get("optimizer")
	}
	if err := p.Validate(); err != nil {
		return p, 0, fmt.Errorf("export: %s", strings.TrimPrefix(err.Error(), "run: "))
	}
	step := p.Total()
	if q.Has("step") {
		n, err := strconv.Atoi(q.Get("step"))
		if err != nil || n < 0 || n > p.Total() {
			return p, 0, fmt.Errorf("export: step must be a whole number between 0 and %d (the budget of these settings, at most %d), got %q",
				p.Total(), run.CNNTrainMaxSteps, q.Get("step"))
		}
		step = n
	}
	return p, step, nil
}

// canonicalCNNQuery is the query that names p at step, with every key in a
// fixed order: the cache key, and the link the widget builds.
func canonicalCNNQuery(p run.CNNTrainParams, step int) string {
	return fmt.Sprintf("lr=%s&batch=%d&optimizer=%s&trainSize=%d&seed=%d&epochs=%d&digit=%d&step=%d",
		strconv.FormatFloat(p.LR, 'g', -1, 64), p.Batch, url.QueryEscape(p.Optimizer), p.TrainSize, p.Seed, p.Epochs, p.Digit, step)
}

// writeCNNTrainFigure re-trains the race to step and draws four charts in a
// 2×2 grid (format "png" or "svg"): loss per step, accuracy (smoothed batch accuracy and the test
// evaluations), the shift test, and train against test accuracy.
func writeCNNTrainFigure(ctx context.Context, w *bytes.Buffer, format string, p run.CNNTrainParams, step int) error {
	c, err := run.ReplayCNNTrain(ctx, p, step)
	if err != nil {
		return err
	}
	cfg := fmt.Sprintf("%s lr %g, batch %d, %d digits, seed %d — step %d of %d",
		p.Optimizer, p.LR, p.Batch, p.TrainSize, p.Seed, step, p.Total())
	var loss, acc []viz.Series
	for i, m := range run.RaceModels {
		l, a := c.History(i)
		xs := make([]float64, len(l))
		for k := range xs {
			xs[k] = float64(k + 1)
		}
		loss = append(loss, viz.Series{Name: m, X: xs, Y: l})
		acc = append(acc, viz.Series{Name: m + " train batch (smoothed)", X: xs, Y: a})
	}
	evals := c.Evals()
	for i, m := range run.RaceModels {
		s := viz.Series{Name: m + " test (500 digits)"}
		for _, e := range evals {
			s.X, s.Y = append(s.X, float64(e.Step)), append(s.Y, e.Test[i])
		}
		if len(s.X) > 0 {
			acc = append(acc, s)
		}
	}
	charts := make([][]byte, 4)
	var b bytes.Buffer
	if err := viz.WriteLines(&b, format, "Loss — "+cfg, "step", "cross-entropy loss (batch)", false, loss...); err != nil {
		return err
	}
	charts[0] = slices.Clone(b.Bytes())
	b.Reset()
	if err := viz.WriteLines(&b, format, "Accuracy — "+cfg, "step", "accuracy", false, acc...); err != nil {
		return err
	}
	charts[1] = slices.Clone(b.Bytes())
	if sh := c.Shift(); sh != nil {
		var series []viz.Series
		for i, m := range run.RaceModels {
			s := viz.Series{Name: m}
			for k, dx := range run.ShiftAmounts() {
				s.X, s.Y = append(s.X, float64(dx)), append(s.Y, sh.Acc[i][k])
			}
			series = append(series, s)
		}
		b.Reset()
		title := fmt.Sprintf("Shift test — 500 test digits moved right, weights of step %d", sh.Step)
		if err := viz.WriteLines(&b, format, title, "shift (pixels)", "accuracy", false, series...); err != nil {
			return err
		}
		charts[2] = slices.Clone(b.Bytes())
	}
	if len(evals) > 0 {
		e := evals[len(evals)-1]
		b.Reset()
		title := fmt.Sprintf("Train vs test accuracy at step %d (gap = train − test)", e.Step)
		if err := viz.WriteBars(&b, format, title, "accuracy", run.RaceModels, false,
			viz.BarGroup{Label: "train (≤ 500 training digits)", Values: e.Train},
			viz.BarGroup{Label: "test (500 digits)", Values: e.Test}); err != nil {
			return err
		}
		charts[3] = slices.Clone(b.Bytes())
	}
	return tileCharts(w, format, 2, charts)
}

// tileCharts lays out charts (all PNG or all SVG, as format says) in a
// grid of cols columns on white, each in a cell the size of the largest
// chart and centred in it horizontally; nil entries leave their cell blank.
func tileCharts(w *bytes.Buffer, format string, cols int, charts [][]byte) error {
	if format == "svg" {
		return tileSVGs(w, cols, charts)
	}
	return tilePNGs(w, cols, charts)
}

func tilePNGs(w *bytes.Buffer, cols int, charts [][]byte) error {
	imgs := make([]image.Image, len(charts))
	cw, ch := 0, 0
	for i, b := range charts {
		if b == nil {
			continue
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			return fmt.Errorf("export: chart %d: %w", i, err)
		}
		imgs[i] = img
		cw, ch = max(cw, img.Bounds().Dx()), max(ch, img.Bounds().Dy())
	}
	rows := (len(charts) + cols - 1) / cols
	out := image.NewRGBA(image.Rect(0, 0, cols*cw, rows*ch))
	draw.Draw(out, out.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	for i, img := range imgs {
		if img == nil {
			continue
		}
		at := image.Pt((i%cols)*cw+(cw-img.Bounds().Dx())/2, (i/cols)*ch)
		draw.Draw(out, img.Bounds().Sub(img.Bounds().Min).Add(at), img, img.Bounds().Min, draw.Over)
	}
	return png.Encode(w, out)
}

// svgChart is one chart's SVG document split for nesting: the size of its
// root <svg> (its viewBox, in points) and everything inside the root.
type svgChart struct {
	w, h float64
	body []byte
}

// parseSVGChart reads the root element of an SVG document as viz writes it
// (a root <svg> with a viewBox "0 0 W H") and keeps its content.
func parseSVGChart(b []byte) (svgChart, error) {
	dec := xml.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := dec.Token()
		if err != nil {
			return svgChart{}, fmt.Errorf("export: svg chart has no root element: %w", err)
		}
		root, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if root.Name.Local != "svg" {
			return svgChart{}, fmt.Errorf("export: svg chart's root is <%s>", root.Name.Local)
		}
		var c svgChart
		for _, a := range root.Attr {
			if a.Name.Local == "viewBox" {
				var x, y float64
				if _, err := fmt.Sscanf(a.Value, "%g %g %g %g", &x, &y, &c.w, &c.h); err != nil || x != 0 || y != 0 {
					return svgChart{}, fmt.Errorf("export: svg chart's viewBox %q is not \"0 0 W H\"", a.Value)
				}
			}
		}
		if c.w <= 0 || c.h <= 0 {
			return svgChart{}, errors.New("export: svg chart has no viewBox size")
		}
		end := bytes.LastIndex(b, []byte("</svg>"))
		start := int(dec.InputOffset())
		if end < start {
			return svgChart{}, errors.New("export: svg chart's root is not closed")
		}
		c.body = b[start:end]
		return c, nil
	}
}

// tileSVGs writes one SVG document holding the charts (SVG documents) as
// nested <svg> elements, laid out as tilePNGs lays out PNGs. The nested
// documents keep their own coordinates and viewBox, so each chart draws
// exactly as it does alone.
func tileSVGs(w *bytes.Buffer, cols int, charts [][]byte) error {
	parsed := make([]*svgChart, len(charts))
	var cw, ch float64
	for i, b := range charts {
		if b == nil {
			continue
		}
		c, err := parseSVGChart(b)
		if err != nil {
			return fmt.Errorf("export: chart %d: %w", i, err)
		}
		parsed[i] = &c
		cw, ch = max(cw, c.w), max(ch, c.h)
	}
	rows := (len(charts) + cols - 1) / cols
	W, H := float64(cols)*cw, float64(rows)*ch
	fmt.Fprintf(w, "<?xml version=\"1.0\"?>\n<svg width=\"%gpt\" height=\"%gpt\" viewBox=\"0 0 %g %g\" xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\">\n", W, H, W, H)
	fmt.Fprintf(w, "<rect width=\"%g\" height=\"%g\" fill=\"white\"/>\n", W, H)
	for i, c := range parsed {
		if c == nil {
			continue
		}
		x, y := float64(i%cols)*cw+(cw-c.w)/2, float64(i/cols)*ch
		fmt.Fprintf(w, "<svg x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" viewBox=\"0 0 %g %g\">", x, y, c.w, c.h, c.w, c.h)
		w.Write(c.body)
		w.WriteString("</svg>\n")
	}
	w.WriteString("</svg>\n")
	return nil
}

// exportCache keeps the last n export results by key.
type exportCache struct {
	mu    sync.Mutex
	n     int
	order *list.List // of string keys, most recent first
	items map[string]*list.Element
	data  map[string][]byte
}

func newExportCache(n int) *exportCache {
	return &exportCache{n: n, order: list.New(), items: map[string]*list.Element{}, data: map[string][]byte{}}
}

func (c *exportCache) get(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[key]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(e)
	return c.data[key], true
}

func (c *exportCache) put(key string, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.order.MoveToFront(e)
		c.data[key] = b
		return
	}
	c.items[key] = c.order.PushFront(key)
	c.data[key] = b
	for c.order.Len() > c.n {
		old := c.order.Remove(c.order.Back()).(string)
		delete(c.items, old)
		delete(c.data, old)
	}
}
