package class

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/paramshare/paramshare/viz"
)

// ErrEmptyBoard is WriteBoard's answer for a board with no run (web: 409).
var ErrEmptyBoard = errors.New("class: the board has no run yet")

// maxLegend is the most runs a board chart names in its legend: more
// entries would cover the curves, and with eight colours they could not be
// told apart anyway. The CSV and JSON exports label every run.
const maxLegend = 12

// param is one parameter of a run, in the order the run's JSON gives them.
type param struct{ key, value string }

// params is a run's parameters; a value is shown as its JSON text, a
// string without its quotes. Parameters that are not a JSON object count
// as one parameter "params".
func params(raw json.RawMessage) []param {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		if len(bytes.TrimSpace(raw)) == 0 {
			return nil
		}
		return []param{{"params", showValue(raw)}}
	}
	var ps []param
	for dec.More() {
		tok, err := dec.Token()
		key, ok := tok.(string)
		var v json.RawMessage
		if err != nil || !ok || dec.Decode(&v) != nil {
			break
		}
		ps = append(ps, param{key, showValue(v)})
	}
	return ps
}

func showValue(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	var b bytes.Buffer
	if json.Compact(&b, v) != nil {
		return string(v)
	}
	return b.String()
}

// paramTable is every run's parameters and all their keys, in order of
// first appearance.
func paramTable(runs []BoardRun) (all [][]param, keys []string) {
	all = make([][]param, len(runs))
	for i, r := range runs {
		all[i] = params(r.Params)
		for _, p := range all[i] {
			if !slices.Contains(keys, p.key) {
				keys = append(keys, p.key)
			}
		}
	}
	return all, keys
}

func lookup(ps []param, key string) (string, bool) {
	for _, p := range ps {
		if p.key == key {
			return p.value, true
		}
	}
	return "", false
}

// BoardLabels names the runs "run 1", "run 2", … in board order, never by
// nickname or seat, each followed by the parameters that differ between
// the runs ("run 3: lr=0.1, batch=32"), in lang ("zh" or English).
func BoardLabels(lang string, runs []BoardRun) []string {
	all, keys := paramTable(runs)
	var differ []string
	for _, k := range keys {
		first, had := lookup(all[0], k)
		for _, ps := range all[1:] {
			if v, has := lookup(ps, k); has != had || v != first {
				differ = append(differ, k)
				break
			}
		}
	}
	run, colon := "run %d", ": "
	if lang == viz.LangZh {
		run, colon = "运行 %d", "："
	}
	labels := make([]string, len(runs))
	for i, ps := range all {
		labels[i] = fmt.Sprintf(run, i+1)
		var shown []string
		for _, k := range differ {
			if v, ok := lookup(ps, k); ok {
				shown = append(shown, k+"="+v)
			}
		}
		if len(shown) > 0 {
			labels[i] += colon + strings.Join(shown, ", ")
		}
	}
	return labels
}

// WriteBoard writes the class board in format: "png" or "svg" (a chart of
// loss per step, one curve per run), "csv" (one row per point) or "json".
// Its text is in lang ("zh" or English).
func WriteBoard(w io.Writer, format, lang string, runs []BoardRun) error {
	if len(runs) == 0 {
		return ErrEmptyBoard
	}
	switch format {
	case viz.FormatPNG, viz.FormatSVG:
		return boardChart(w, format, lang, runs)
	case "csv":
		return boardCSV(w, runs)
	case "json":
		return boardJSON(w, lang, runs)
	}
	return fmt.Errorf("class: unknown board format %q, want png, svg, csv or json", format)
}

func boardChart(w io.Writer, format, lang string, runs []BoardRun) error {
	labels := BoardLabels(lang, runs)
	var series []viz.Series
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, r := range runs {
		if len(r.Points) == 0 {
			continue
		}
		s := viz.Series{X: make([]float64, len(r.Points)), Y: make([]float64, len(r.Points))}
		if len(runs) <= maxLegend {
			s.Name = labels[i]
			if r.Accuracy != nil { // the latest measured, as on the page
				s.Name += fmt.Sprintf(map[bool]string{false: " (accuracy %.1f%%)", true: "（准确率 %.1f%%）"}[lang == viz.LangZh], 100**r.Accuracy)
			}
		}
		// The i-th run keeps the i-th look whichever runs have points yet.
		s.Style = &viz.Style{Color: i, Dash: i, Marker: i}
		for k, p := range r.Points {
			s.X[k], s.Y[k] = p[0], p[1]
			if !math.IsNaN(p[1]) && !math.IsInf(p[1], 0) {
				lo, hi = math.Min(lo, p[1]), math.Max(hi, p[1])
			}
		}
		series = append(series, s)
	}
	if len(series) == 0 {
		return ErrEmptyBoard
	}
	c := viz.LineChart{
		Title: "Class board: loss per step", XLabel: "step", YLabel: "loss",
		LogY:   lo > 0 && hi > 100*lo,
		Series: series,
	}
	if lang == viz.LangZh {
		c.Title, c.XLabel, c.YLabel = "全班看板：每步的损失", "步", "损失"
	}
	if len(runs) > maxLegend { // no legend: the title says how many curves
		if lang == viz.LangZh {
			c.Title += fmt.Sprintf("（%d 次运行）", len(runs))
		} else {
			c.Title += fmt.Sprintf(" (%d runs)", len(runs))
		}
	}
	return viz.Write(w, format, lang, c)
}

// number is v as CSV and JSON show it.
func number(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// csvText keeps a spreadsheet from reading a text cell as a formula.
func csvText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		if _, err := strconv.ParseFloat(s, 64); err != nil {
			return "'" + s
		}
	}
	return s
}

func boardCSV(w io.Writer, runs []BoardRun) error {
	all, keys := paramTable(runs)
	slices.Sort(keys)
	cw := csv.NewWriter(w)
	// latest_accuracy is the run's, the last it measured: the same on
	// each of its rows (the board keeps no accuracy per step).
	header := []string{"run", "experiment", "step", "loss", "latest_accuracy"}
	for _, k := range keys {
		header = append(header, csvText(k))
	}
	cw.Write(header)
	for i, r := range runs {
		acc := ""
		if r.Accuracy != nil {
			acc = number(*r.Accuracy)
		}
		row := []string{strconv.Itoa(i + 1), csvText(r.Experiment), "", "", acc}
		for _, k := range keys {
			v, _ := lookup(all[i], k)
			row = append(row, csvText(v))
		}
		for _, p := range r.Points {
			row[2], row[3] = number(p[0]), number(p[1])
			cw.Write(row)
		}
	}
	cw.Flush()
	return cw.Error()
}

// jsonNumber is v, or null for what JSON cannot hold (NaN, ±Inf).
func jsonNumber(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func boardJSON(w io.Writer, lang string, runs []BoardRun) error {
	type point [2]*float64
	type run struct {
		Run        int             `json:"run"`
		Label      string          `json:"label"`
		Experiment string          `json:"experiment"`
		Params     json.RawMessage `json:"params"`
		Points     []point         `json:"points"`
		Accuracy   *float64        `json:"accuracy"`
	}
	labels := BoardLabels(lang, runs)
	out := struct {
		Runs []run `json:"runs"`
	}{Runs: make([]run, len(runs))}
	for i, r := range runs {
		ps := r.Params
		if !json.Valid(ps) {
			ps = json.RawMessage("{}")
		}
		pts := make([]point, len(r.Points))
		for k, p := range r.Points {
			pts[k] = point{jsonNumber(p[0]), jsonNumber(p[1])}
		}
		var acc *float64
		if r.Accuracy != nil {
			acc = jsonNumber(*r.Accuracy)
		}
		out.Runs[i] = run{i + 1, labels[i], r.Experiment, ps, pts, acc}
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}
