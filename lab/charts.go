package lab

import (
	"fmt"
	"io"
	"slices"

	"github.com/paramshare/paramshare/viz"
)

// Chart is one figure of an experiment, drawn on demand in either of viz's
// formats ("png" or "svg").
type Chart struct {
	// Name is a file name without extension ("shift-accuracy").
	Name  string
	Write func(w io.Writer, format string) error
}

// CompareCharts returns the cnn-vs-unshared figures: accuracy per shift
// (one curve per model, mean over seeds), unique parameters per model (log
// scale) and train/test accuracy per model (means over seeds).
func CompareCharts(res *CompareResult) []Chart {
	seeds := fmt.Sprintf("mean of %d seeds", res.Config.Seeds)
	if res.Config.Seeds == 1 {
		seeds = "1 seed"
	}
	var names []string
	for _, m := range res.Models {
		names = append(names, m.Model)
	}
	return []Chart{
		{Name: "shift-accuracy", Write: func(w io.Writer, format string) error {
			var series []viz.Series
			for _, m := range res.Models {
				s := viz.Series{Name: m.Model}
				for k, dx := range res.Config.Shifts {
					s.X = append(s.X, float64(dx))
					s.Y = append(s.Y, 100*m.ShiftAcc[k].Mean)
				}
				series = append(series, s)
			}
			return viz.WriteLines(w, format, "Test digits shifted right ("+seeds+")", "shift (pixels)", "accuracy (%)", false, series...)
		}},
		{Name: "params", Write: func(w io.Writer, format string) error {
			g := viz.BarGroup{Label: "unique parameters"}
			for _, m := range res.Models {
				g.Values = append(g.Values, float64(m.Params))
			}
			return viz.WriteBars(w, format, "Parameters per model", "parameters", names, true, g)
		}},
		{Name: "accuracy", Write: func(w io.Writer, format string) error {
			train, test := viz.BarGroup{Label: "train"}, viz.BarGroup{Label: "test"}
			for _, m := range res.Models {
				train.Values = append(train.Values, 100*m.TrainAcc.Mean)
				test.Values = append(test.Values, 100*m.TestAcc.Mean)
			}
			title := fmt.Sprintf("Accuracy after %d epochs on %d digits (%s)", res.Config.Epochs, res.Config.TrainSize, seeds)
			return viz.WriteBars(w, format, title, "accuracy (%)", names, false, train, test)
		}},
	}
}

// ParamsCharts returns the calculator's figures: unique parameters and
// uses (multiply-adds per example) of each layer kind against the image
// size, as grouped bars on a log scale. rows must come from ParamsTable.
func ParamsCharts(rows []ParamsRow) []Chart {
	var sizes []int
	for _, r := range rows {
		if !slices.Contains(sizes, r.Size) {
			sizes = append(sizes, r.Size)
		}
	}
	categories := make([]string, len(sizes))
	for i, s := range sizes {
		categories[i] = fmt.Sprintf("%d×%d", s, s)
	}
	type kind struct{ layer, label string }
	groups := func(kinds []kind, value func(ParamsRow) int) []viz.BarGroup {
		var gs []viz.BarGroup
		for _, k := range kinds {
			g := viz.BarGroup{Label: k.label, Values: make([]float64, len(sizes))}
			for _, r := range rows {
				if r.Layer == k.layer {
					g.Values[slices.Index(sizes, r.Size)] = float64(value(r))
				}
			}
			gs = append(gs, g)
		}
		return gs
	}
	return []Chart{
		{Name: "params-by-size", Write: func(w io.Writer, format string) error {
			kinds := []kind{{LayerDense, "dense"}, {LayerLocal, "locally connected"}, {LayerConv, "conv"}}
			return viz.WriteBars(w, format, "Unique parameters by image size", "parameters", categories, true,
				groups(kinds, func(r ParamsRow) int { return r.Params })...)
		}},
		// A locally connected layer makes exactly the conv's multiply-adds
		// (the same patches, other weights), so the two share one bar.
		{Name: "uses-by-size", Write: func(w io.Writer, format string) error {
			kinds := []kind{{LayerDense, "dense"}, {LayerConv, "conv = locally connected"}}
			return viz.WriteBars(w, format, "Uses (multiply-adds per image) by image size", "multiply-adds", categories, true,
				groups(kinds, func(r ParamsRow) int { return r.Uses })...)
		}},
	}
}
