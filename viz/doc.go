// Package viz turns numbers into what people look at: heat maps with colour
// bars, line charts and grouped bar charts, drawn with gonum.org/v1/plot
// and written as PNG or SVG to any io.Writer. It knows nothing of HTTP or
// of the web package; the web layer calls it to serve /export/… files, and
// tests and commands can call it to write files.
//
// # Data in
//
// viz takes plain values — a Grid (row-major []float64 with Rows and Cols,
// row 0 at the top like an image), Series of x and y, BarGroups — so that
// engine never has to import viz: an engine tensor of shape [H, W] is
// Grid{Rows: H, Cols: W, Values: t.Data}. The Grid reaches plotter.HeatMap
// through a small plotter.GridXYZ adapter.
//
// Bad data is a returned error, never a panic: a grid whose size disagrees
// with its values, an empty series, a bar group with the wrong number of
// values, an unknown format. NaN is data too: a NaN cell is drawn in a
// neutral grey (MissingColor) meaning "missing or not yet computed", and a
// NaN or infinite point leaves a gap in its curve.
//
// # Palettes and why they are colour-blind-safe
//
// About one man in twelve sees red and green poorly. Every colour here is
// chosen to stay readable for them and in greyscale print:
//
//   - Sequential data (pixel intensities, activations, counts) uses
//     viridis, by Nathaniel Smith and Stéfan van der Walt for matplotlib
//     (CC0). Its lightness rises steadily from dark purple to yellow, so
//     order is visible without hue, and it is perceptually uniform: equal
//     steps in value look like equal steps in colour.
//   - Signed data (weights, gradients, convolution outputs) uses
//     ColorBrewer's PuOr (Cynthia Brewer, Penn State, Apache 2.0): purple
//     for negative, near-white for zero, orange for positive, on a range
//     symmetric around zero. Its arms differ along blue–yellow, the axis
//     that red–green colour-blind readers still see.
//   - Curves and bars use the Okabe–Ito palette, designed for colour
//     vision deficiency; curves also differ in dash pattern and, when
//     short, in marker shape.
//
// PaletteAnchors gives the exact anchor table behind Viridis and Diverging
// and the interpolation rule, so that the browser widgets draw the same
// colours as the exported PNGs.
//
// # Charts, languages and figures
//
// WriteLines, WriteBars and WriteHeatmaps draw one chart with English
// text. Write draws the same charts, described as values (LineChart,
// BarChart, Heatmaps), in a chosen language: Write(w, "png", lang,
// BarChart{…}). A Figure tiles several charts into one image — the
// training curves of a race in a 2×2 grid, heat maps above a bar chart —
// in PNG or SVG, so that callers never compose images by hand.
//
// # Fonts and text
//
// English text is set in Liberation Sans, which gonum/plot embeds. For
// lang "zh" (LangZh) all text — titles, axis and tick labels, legends,
// values on bars and cells — is set in a subset of Noto Sans CJK SC
// (SIL Open Font License 1.1) embedded in viz: Latin, Greek, chart symbols,
// CJK punctuation and the 6,763 hanzi of GB2312 (cjkfont/README.md tells
// how it is made; it adds about 2 MB to a binary). No system font is
// needed. MissingGlyphs reports the characters of a string the Chinese
// font lacks, so packages can test their chart text.
//
// An English SVG names its font in <text> elements; a browser without
// Liberation substitutes a similar sans-serif. A Chinese SVG draws its text
// as glyph outlines instead, so it shows the same everywhere, with or
// without a CJK font installed (the text is then not selectable).
//
// # Sizes
//
// PNGs are drawn at 96 dpi, one image pixel per CSS pixel: each heat-map
// panel is 400 px wide, line and bar charts are 640×400 px. Heat-map cells
// are square and a whole number of pixels, so neighbouring cells meet
// without anti-aliasing seams.
package viz
