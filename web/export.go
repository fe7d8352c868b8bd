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

// ServeExport handles GET /export/{file}: conv-slide.png, conv-slide.svg and
// conv-slide.json, with the widget's parameters in the query (digit, preset,
// stride, padding, dilation, step; missing ones take the widget defaults,
// step defaults to the whole map). The result depends only on the query, so
// the URL is a stable name for the state a widget showed. A bad query is
// 400 with a plain-text reason; an unknown file is 404. While exportSlots
// exports are computing, another is 503 with Retry-After.
func (l *Live) ServeExport(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("file")
	if file == "" {
		file = r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	}
	name, format, ok := strings.Cut(file, ".")
	if ok && name == run.CNNTrainName {
		l.serveCNNTrainExport(w, r, format) // export_cnntrain.go; it answers 404 for formats it lacks
		return
	}
	release, free := l.acquireExport(w)
	if !free {
		return
	}
	defer release()
	switch {
	case ok && name == run.ConvGradName && slices.Contains([]string{"png", "svg", "json", "trace.json"}, format):
		l.serveConvGradExport(w, r, format)
		return
	case ok && name == run.ParamCalcName && slices.Contains([]string{"png", "svg", "json"}, format):
		l.serveParamCalcExport(w, r, format)
		return
	case ok && name == run.DrawDigitName && slices.Contains([]string{"png", "json"}, format):
		l.serveDrawDigitExport(w, r, format)
		return
	}
	if !ok || name != run.ConvSlideName || !slices.Contains([]string{"png", "svg", "json"}, format) {
		http.Error(w, fmt.Sprintf("export: no export named %q (have conv-slide.png/.svg/.json, conv-grad.png/.svg/.json/.trace.json, param-calc.png/.svg/.json)", file), http.StatusNotFound)
		return
	}
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
		l.log.Error("export: render", "file", file, "query", r.URL.RawQuery, "err", err)
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
	step := s.Total()
	if q.Has("step") {
		n, err := strconv.Atoi(q.Get("step"))
		if err != nil || n < 0 || n > s.Total() {
			return nil, fmt.Errorf("export: step must be a whole number between 0 and %d for these settings, got %q", s.Total(), q.Get("step"))
		}
		step = n
	}
	if err := s.Seek(step); err != nil {
		return nil, fmt.Errorf("export: %v", err)
	}
	return s, nil
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
