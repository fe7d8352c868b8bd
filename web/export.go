package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/paramshare/paramshare/run"
	"github.com/paramshare/paramshare/viz"
)

// Every export but cnn-train's (which has its own single slot and cache,
// export_cnntrain.go) recomputes the widget's state and draws it: about
// 0.1 s of one core each. At most exportSlots of them run at once in the
// server; one more is answered 503 with Retry-After at once, not queued, so
// a client fetching in a loop cannot take the CPU from the class.
const (
	exportSlots      = 2
	exportRetryAfter = "2" // seconds
)

// acquireExport takes one of the server's export slots and returns its
// release. When all are taken it answers 503 with Retry-After and a reason,
// and returns ok false.
func (l *Live) acquireExport(w http.ResponseWriter) (release func(), ok bool) {
	select {
	case l.export <- struct{}{}:
		return func() { <-l.export }, true
	default:
		w.Header().Set("Retry-After", exportRetryAfter)
		http.Error(w, fmt.Sprintf("export: busy — %d exports are being computed right now (each redraws a widget); try again in a moment", exportSlots), http.StatusServiceUnavailable)
		return nil, false
	}
}

// exportQueryKeys are the query parameters GET /export/conv-slide.* accepts.
var exportQueryKeys = []string{"digit", "preset", "stride", "padding", "dilation", "step"}

// exportKind is one widget's exports: /export/NAME.FORMAT for each of
// formats. serve answers one of them (the query is its own to check).
// ownSlots marks exports that limit their own concurrency (cnn-train's
// re-training has its own single slot and cache, export_cnntrain.go).
type exportKind struct {
	name     string
	formats  []string
	serve    func(l *Live, w http.ResponseWriter, r *http.Request, format string)
	ownSlots bool
}

// exportKinds routes every export; the 404 answer lists them from here too.
var exportKinds = []exportKind{
	{name: run.ConvSlideName, formats: []string{"png", "svg", "json"}, serve: (*Live).serveConvSlideExport},
	{name: run.ConvGradName, formats: []string{"png", "svg", "json", "trace.json"}, serve: (*Live).serveConvGradExport},
	{name: run.ParamCalcName, formats: []string{"png", "svg", "json"}, serve: (*Live).serveParamCalcExport},
	{name: run.CNNTrainName, formats: []string{"png", "svg", "json"}, serve: (*Live).serveCNNTrainExport, ownSlots: true},
	{name: run.DrawDigitName, formats: []string{"png", "svg", "json"}, serve: (*Live).serveDrawDigitExport},
}

// exportNames lists every export as "name.png/.svg/.json, …" for the 404
// answer.
func exportNames() string {
	var names []string
	for _, k := range exportKinds {
		names = append(names, k.name+"."+strings.Join(k.formats, "/."))
	}
	return strings.Join(names, ", ")
}

// ServeExport handles GET /export/{file}: NAME.FORMAT for each widget in
// exportKinds, with the widget's parameters in the query (missing ones
// take the widget defaults; docs/protocol.md lists them per widget). The
// result depends only on the query, so the URL is a stable name for the
// state a widget showed. A bad query is 400 with a plain-text reason; an
// unknown file is 404 and lists the exports there are. While exportSlots
// exports are computing, another is 503 with Retry-After.
func (l *Live) ServeExport(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("file")
	if file == "" {
		file = r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	}
	name, format, _ := strings.Cut(file, ".")
	i := slices.IndexFunc(exportKinds, func(k exportKind) bool { return k.name == name && slices.Contains(k.formats, format) })
	if i < 0 {
		http.Error(w, fmt.Sprintf("export: no export named %q (have %s)", file, exportNames()), http.StatusNotFound)
		return
	}
	k := exportKinds[i]
	if !k.ownSlots {
		release, free := l.acquireExport(w)
		if !free {
			return
		}
		defer release()
	}
	k.serve(l, w, r, format)
}

// serveConvSlideExport answers conv-slide.png/.svg (input, kernel and the
// output map so far) and .json (static and data parts at full precision);
// the query is digit, preset, stride, padding, dilation and step (default:
// the whole map).
func (l *Live) serveConvSlideExport(w http.ResponseWriter, r *http.Request, format string) {
	s, err := convSlideFromQuery(r.URL.Query())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var buf bytes.Buffer
	switch format {
	case "json":
		err = json.NewEncoder(&buf).Encode(struct {
			Experiment string              `json:"experiment"`
			Static     run.ConvSlideStatic `json:"static"`
			Data       run.ConvSlideData   `json:"data"`
		}{run.ConvSlideName, s.StaticFrame(), s.DataFrame(-1)})
	default:
		err = writeConvSlideFigure(&buf, format, s)
	}
	if err != nil {
		l.log.Error("export: render", "file", "conv-slide."+format, "query", r.URL.RawQuery, "err", err)
		http.Error(w, "export: could not draw the figure", http.StatusInternalServerError)
		return
	}
	writeExport(w, format, &buf)
}

// writeExport answers with buf as format's content type ("json" and
// "trace.json" are both JSON). The result depends only on the query, so it
// may be cached.
func writeExport(w http.ResponseWriter, format string, buf *bytes.Buffer) {
	w.Header().Set("Content-Type", map[string]string{
		"png": "image/png", "svg": "image/svg+xml", "json": "application/json", "trace.json": "application/json",
	}[format])
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.Write(buf.Bytes())
}

// convSlideFromQuery builds the conv-slide experiment the query names, at
// its step. Errors are readable sentences for the 400 answer.
func convSlideFromQuery(q url.Values) (*run.ConvSlide, error) {
	for k, v := range q {
		if !slices.Contains(exportQueryKeys, k) {
			return nil, fmt.Errorf("export: unknown query parameter %q (allowed: %s)", k, strings.Join(exportQueryKeys, ", "))
		}
		if len(v) != 1 {
			return nil, fmt.Errorf("export: query parameter %q given %d times", k, len(v))
		}
	}
	p := run.DefaultConvSlideParams()
	ints := map[string]*int{"digit": &p.Digit, "stride": &p.Stride, "padding": &p.Padding, "dilation": &p.Dilation}
	for _, k := range exportQueryKeys {
		dst, isInt := ints[k]
		if !isInt || !q.Has(k) {
			continue
		}
		n, err := strconv.Atoi(q.Get(k))
		if err != nil {
			return nil, fmt.Errorf("export: %s must be a whole number, got %q", k, q.Get(k))
		}
		*dst = n
	}
	if q.Has("preset") {
		p.Preset = q.Get("preset")
	}
	s, err := run.NewConvSlide(p)
	if err != nil {
		return nil, fmt.Errorf("export: %s", strings.TrimPrefix(err.Error(), "run: "))
	}
	if err := seekToQueryStep(q, s); err != nil {
		return nil, err
	}
	return s, nil
}

// seekToQueryStep puts exp at the query's "step" (every step when absent),
// so that an export shows exactly the state on screen.
func seekToQueryStep(q url.Values, exp run.Experiment) error {
	step := exp.Total()
	if q.Has("step") {
		n, err := strconv.Atoi(q.Get("step"))
		if err != nil || n < 0 || n > exp.Total() {
			return fmt.Errorf("export: step must be a whole number between 0 and %d for these settings, got %q", exp.Total(), q.Get("step"))
		}
		step = n
	}
	if err := exp.Seek(step); err != nil {
		return fmt.Errorf("export: %v", err)
	}
	return nil
}

// writeConvSlideFigure draws the input digit, the kernel and the output map
// so far (cells not reached yet are grey) as three heat maps, on the same
// colour scales as the widget.
func writeConvSlideFigure(w *bytes.Buffer, format string, s *run.ConvSlide) error {
	pic := s.Picture()
	st, d := pic.Static, pic.Data
	p := st.Params
	title := fmt.Sprintf("One kernel, many places — digit #%d (a %d), %s kernel, stride %d, padding %d, dilation %d — %d of %d cells",
		p.Digit, st.Label, p.Preset, p.Stride, p.Padding, p.Dilation, d.Step, d.Total)
	return viz.WriteHeatmaps(w, format, title,
		viz.Panel{Title: "input (pixel / 255)", Grid: viz.Grid{Rows: st.InputH, Cols: st.InputW, Values: pic.Input}, Min: 0, Max: 1, XLabel: "x", YLabel: "y"},
		viz.Panel{Title: fmt.Sprintf("kernel (bias %g)", st.Bias), Grid: viz.Grid{Rows: 3, Cols: 3, Values: st.Kernel[:]}, Diverging: true, Annotate: true, XLabel: "kx", YLabel: "ky"},
		viz.Panel{Title: "output feature map", Grid: viz.Grid{Rows: st.OutH, Cols: st.OutW, Values: pic.Output}, Diverging: true, Min: -pic.OutLimit, Max: pic.OutLimit, XLabel: "ox", YLabel: "oy"},
	)
}
