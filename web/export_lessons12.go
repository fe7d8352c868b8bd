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

// checkQuery refuses keys outside allowed and repeated keys, with readable
// reasons for the 400 answer.
func checkQuery(q url.Values, allowed []string) error {
	for k, v := range q {
		if !slices.Contains(allowed, k) {
			return fmt.Errorf("export: unknown query parameter %q (allowed: %s)", k, strings.Join(allowed, ", "))
		}
		if len(v) != 1 {
			return fmt.Errorf("export: query parameter %q given %d times", k, len(v))
		}
	}
	return nil
}

// queryInts parses the integer query parameters present in q into dst.
func queryInts(q url.Values, dst map[string]*int) error {
	for k, p := range dst {
		if !q.Has(k) {
			continue
		}
		n, err := strconv.Atoi(q.Get(k))
		if err != nil {
			return fmt.Errorf("export: %s must be a whole number, got %q", k, q.Get(k))
		}
		*p = n
	}
	return nil
}

// convGradQueryKeys are the query parameters GET /export/conv-grad.* accepts.
var convGradQueryKeys = []string{"digit", "kernel", "seed", "step"}

// convGradFromQuery builds the conv-grad experiment the query names, at its
// step (default: every position added).
func convGradFromQuery(q url.Values) (*run.ConvGrad, error) {
	if err := checkQuery(q, convGradQueryKeys); err != nil {
		return nil, err
	}
	p := run.DefaultConvGradParams()
	if err := queryInts(q, map[string]*int{"digit": &p.Digit, "seed": &p.Seed}); err != nil {
		return nil, err
	}
	if q.Has("kernel") {
		p.Kernel = q.Get("kernel")
	}
	g, err := run.NewConvGrad(p)
	if err != nil {
		return nil, fmt.Errorf("export: %s", strings.TrimPrefix(err.Error(), "run: "))
	}
	if err := seekToQueryStep(q, g); err != nil {
		return nil, err
	}
	return g, nil
}

// serveConvGradExport answers conv-grad.png/.svg (the running sum beside the
// engine's dW, the upstream gradient and the contribution heat map), .json
// (static and data parts at full precision) and .trace.json (the engine's
// step trace of the conv model on the digit; step is not used).
func (l *Live) serveConvGradExport(w http.ResponseWriter, r *http.Request, format string) {
	g, err := convGradFromQuery(r.URL.Query())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var buf bytes.Buffer
	switch format {
	case "trace.json":
		err = g.WriteTrace(&buf)
	case "json":
		err = json.NewEncoder(&buf).Encode(struct {
			Experiment string             `json:"experiment"`
			Static     run.ConvGradStatic `json:"static"`
			Data       run.ConvGradData   `json:"data"`
		}{run.ConvGradName, g.StaticFrame(), g.DataFrame()})
	default:
		err = writeConvGradFigure(&buf, format, g)
	}
	if err != nil {
		l.log.Error("export: render", "file", "conv-grad."+format, "query", r.URL.RawQuery, "err", err)
		http.Error(w, "export: could not draw the figure", http.StatusInternalServerError)
		return
	}
	writeExport(w, format, &buf)
}

// writeConvGradFigure draws four heat maps on the widget's colour scales
// (run.ConvGrad.Picture computes the grids and limits): the upstream
// gradient, each position's contribution size (positions not yet added are
// grey), the running sum of the contributions and the engine's dW.
func writeConvGradFigure(w *bytes.Buffer, format string, g *run.ConvGrad) error {
	pic := g.Picture()
	st, d := pic.Static, pic.Data
	p := st.Params
	title := fmt.Sprintf("How a shared kernel learns — digit #%d (a %d), %s kernel, seed %d — %d of %d positions added",
		p.Digit, st.Label, p.Kernel, p.Seed, d.Step, d.Total)
	return viz.WriteHeatmaps(w, format, title,
		viz.Panel{Title: "upstream gradient dL/dy", Grid: viz.Grid{Rows: st.OutH, Cols: st.OutW, Values: pic.Upstream}, Diverging: true, XLabel: "ox", YLabel: "oy"},
		viz.Panel{Title: "contribution size per position", Grid: viz.Grid{Rows: st.OutH, Cols: st.OutW, Values: pic.Norms}, Min: 0, Max: pic.NormMax, XLabel: "ox", YLabel: "oy"},
		viz.Panel{Title: fmt.Sprintf("sum of %d contributions", d.Step), Grid: viz.Grid{Rows: 3, Cols: 3, Values: d.Sum[:]}, Diverging: true, Annotate: true, Min: -pic.SumLimit, Max: pic.SumLimit, XLabel: "kx", YLabel: "ky"},
		viz.Panel{Title: "engine dW", Grid: viz.Grid{Rows: 3, Cols: 3, Values: st.EngineGrad[:]}, Diverging: true, Annotate: true, Min: -pic.SumLimit, Max: pic.SumLimit, XLabel: "kx", YLabel: "ky"},
	)
}

// paramCalcQueryKeys are the query parameters GET /export/param-calc.* accepts.
var paramCalcQueryKeys = []string{"size", "inChannels", "kernel", "outChannels"}

// serveParamCalcExport answers param-calc.png/.svg (parameters and uses of
// the three layers as grouped bars on a log scale) and .json (the counts).
func (l *Live) serveParamCalcExport(w http.ResponseWriter, r *http.Request, format string) {
	q := r.URL.Query()
	if err := checkQuery(q, paramCalcQueryKeys); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	p := run.DefaultParamCalcParams()
	if err := queryInts(q, map[string]*int{"size": &p.Size, "inChannels": &p.InChannels, "kernel": &p.Kernel, "outChannels": &p.OutChannels}); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c, err := run.NewParamCalc(p)
	if err != nil {
		http.Error(w, "export: "+strings.TrimPrefix(err.Error(), "run: "), http.StatusBadRequest)
		return
	}
	var buf bytes.Buffer
	if format == "json" {
		err = json.NewEncoder(&buf).Encode(struct {
			Experiment string             `json:"experiment"`
			Static     run.ParamCalcFrame `json:"static"`
		}{run.ParamCalcName, c.StaticFrame()})
	} else {
		counts := c.Counts()
		params := viz.BarGroup{Label: "unique parameters"}
		uses := viz.BarGroup{Label: "uses (multiply-adds per example)"}
		var names []string
		for _, n := range counts {
			name := n.Layer
			if n.Computed {
				name += " (computed)"
			}
			names = append(names, name)
			params.Values = append(params.Values, float64(n.Params))
			uses.Values = append(uses.Values, float64(n.Uses))
		}
		title := fmt.Sprintf("Why share? — %d×%d×%d input, %d×%d kernel, %d output channels", p.Size, p.Size, p.InChannels, p.Kernel, p.Kernel, p.OutChannels)
		err = viz.WriteBars(&buf, format, title, "count (log scale)", names, true, params, uses)
	}
	if err != nil {
		l.log.Error("export: render", "file", "param-calc."+format, "query", r.URL.RawQuery, "err", err)
		http.Error(w, "export: could not draw the figure", http.StatusInternalServerError)
		return
	}
	writeExport(w, format, &buf)
}
