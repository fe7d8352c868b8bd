package run

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/engine/data"
)

// ConvSlideName is the registry name of the conv-slide experiment.
const ConvSlideName = "conv-slide"

func init() {
	Register(ConvSlideName, func(raw json.RawMessage) (Experiment, error) {
		p := DefaultConvSlideParams()
		if err := decodeParams(raw, &p); err != nil {
			return nil, err
		}
		return NewConvSlide(p)
	})
}

// Kernel presets for conv-slide: 3×3 kernels as data, row-major, bias 0.
var convPresets = map[string][9]float64{
	// identity: copies the centre pixel, so the output is the input (shifted
	// by the padding) — the kernel that changes nothing.
	"identity": {0, 0, 0, 0, 1, 0, 0, 0, 0},
	// vertical-edge: Sobel's x-derivative kernel; large where brightness
	// changes from left to right, i.e. on vertical strokes' sides.
	"vertical-edge": {-1, 0, 1, -2, 0, 2, -1, 0, 1},
	// horizontal-edge: Sobel's y-derivative kernel; large on the top and
	// bottom edges of horizontal strokes.
	"horizontal-edge": {-1, -2, -1, 0, 0, 0, 1, 2, 1},
	// blur: the 3×3 binomial (Gaussian) kernel [1 2 1; 2 4 2; 1 2 1]/16,
	// a weighted average that softens the strokes.
	"blur": {1.0 / 16, 2.0 / 16, 1.0 / 16, 2.0 / 16, 4.0 / 16, 2.0 / 16, 1.0 / 16, 2.0 / 16, 1.0 / 16},
	// sharpen: 5·centre minus the four neighbours, the identity plus a
	// Laplacian; it exaggerates the contrast at the edges.
	"sharpen": {0, -1, 0, -1, 5, -1, 0, -1, 0},
}

// ConvPresets lists the conv-slide kernel preset names in teaching order.
func ConvPresets() []string {
	return []string{"identity", "vertical-edge", "horizontal-edge", "blur", "sharpen"}
}

// ConvPreset returns a preset's 9 kernel values (row-major) and whether the
// name is known.
func ConvPreset(name string) ([9]float64, bool) {
	k, ok := convPresets[name]
	return k, ok
}

// Limits of the conv-slide parameters.
const (
	convKernel                       = 3
	ConvMinStride, ConvMaxStride     = 1, 3
	ConvMinPadding, ConvMaxPadding   = 0, 2
	ConvMinDilation, ConvMaxDilation = 1, 2
)

// ConvSlideParams are the conv-slide widget's parameters.
type ConvSlideParams struct {
	Digit    int    `json:"digit"`    // index into the embedded MNIST test set, 0 ≤ Digit < ConvDigits()
	Preset   string `json:"preset"`   // one of ConvPresets()
	Stride   int    `json:"stride"`   // 1..3
	Padding  int    `json:"padding"`  // 0..2
	Dilation int    `json:"dilation"` // 1..2
}

// DefaultConvSlideParams is what a widget gets for parameters it leaves out.
func DefaultConvSlideParams() ConvSlideParams {
	return ConvSlideParams{Digit: 0, Preset: "vertical-edge", Stride: 1, Padding: 1, Dilation: 1}
}

// Validate returns an *Error with CodeBadParams naming the first parameter
// out of range, or nil.
func (p ConvSlideParams) Validate() error {
	switch {
	case p.Digit < 0 || p.Digit >= ConvDigits():
		return errorf(CodeBadParams, "digit must be between 0 and %d, got %d", ConvDigits()-1, p.Digit)
	case !slices.Contains(ConvPresets(), p.Preset):
		return errorf(CodeBadParams, "preset must be one of %s, got %q", strings.Join(ConvPresets(), ", "), p.Preset)
	case p.Stride < ConvMinStride || p.Stride > ConvMaxStride:
		return errorf(CodeBadParams, "stride must be between %d and %d, got %d", ConvMinStride, ConvMaxStride, p.Stride)
	case p.Padding < ConvMinPadding || p.Padding > ConvMaxPadding:
		return errorf(CodeBadParams, "padding must be between %d and %d, got %d", ConvMinPadding, ConvMaxPadding, p.Padding)
	case p.Dilation < ConvMinDilation || p.Dilation > ConvMaxDilation:
		return errorf(CodeBadParams, "dilation must be between %d and %d, got %d", ConvMinDilation, ConvMaxDilation, p.Dilation)
	}
	return nil
}

// mnistTest is the embedded MNIST test set, decoded once and never modified.
var mnistTest = sync.OnceValue(data.MNISTTest)

// ConvDigits is the number of digits conv-slide can show.
func ConvDigits() int { return mnistTest().N }

// ConvSlide is the "one kernel, many places" experiment: a 3×3 kernel (one
// engine Conv2d, 1 channel in and out) slides over one MNIST digit; each step
// computes the next output cell in raster order from the engine's Terms.
type ConvSlide struct {
	p      ConvSlideParams
	label  int
	pixels []int          // the digit's bytes, 0..255
	x      *engine.Tensor // [1, 1, 28, 28], pixel/255
	conv   *engine.Conv2d
	count  engine.Count
	oh, ow int
	absMax float64 // max |y| of the full Forward output
	rev    int

	pos   int
	out   []float64     // cells 0..pos-1 in raster order
	terms []engine.Term // the last computed cell's terms
}

// NewConvSlide validates p and returns the experiment at step 0.
func NewConvSlide(p ConvSlideParams) (*ConvSlide, error) {
	s := &ConvSlide{}
	if err := s.load(p); err != nil {
		return nil, err
	}
	return s, nil
}

// load builds everything for p and only then replaces s's state, so a bad p
// leaves s untouched.
func (s *ConvSlide) load(p ConvSlideParams) error {
	if err := p.Validate(); err != nil {
		return err
	}
	conv, err := engine.NewConv2d("conv", engine.Conv2dConfig{
		InChannels: 1, OutChannels: 1, KernelSize: convKernel,
		Stride: p.Stride, Padding: p.Padding, Dilation: p.Dilation,
	}, engine.NewRand(1))
	if err != nil {
		return errorf(CodeBadParams, "%v", err)
	}
	k := convPresets[p.Preset]
	copy(conv.Weight.Value.Data, k[:])
	conv.Bias.Value.Data[0] = 0
	im := mnistTest()
	model, err := engine.NewModel(ConvSlideName, []int{1, im.H, im.W}, nil, conv)
	if err != nil {
		return errorf(CodeBadParams, "%v", err)
	}
	pixels := make([]int, im.H*im.W)
	for i, b := range im.Pixels[p.Digit*im.H*im.W : (p.Digit+1)*im.H*im.W] {
		pixels[i] = int(b)
	}
	oh := engine.Conv2dOutSize(im.H, convKernel, p.Stride, p.Padding, p.Dilation)
	ow := engine.Conv2dOutSize(im.W, convKernel, p.Stride, p.Padding, p.Dilation)
	x := im.Image(p.Digit)
	var absMax float64
	for _, v := range model.Forward(x, nil).Data {
		absMax = math.Max(absMax, math.Abs(v))
	}
	keep := s.pos
	*s = ConvSlide{
		p: p, label: int(im.Labels[p.Digit]), pixels: pixels, x: x,
		conv: conv, count: model.Count(), oh: oh, ow: ow, absMax: absMax, rev: s.rev + 1,
		out: make([]float64, 0, oh*ow),
	}
	s.seek(min(keep, oh*ow))
	return nil
}

// Params returns the current parameters.
func (s *ConvSlide) Params() ConvSlideParams { return s.p }

// Conv returns the engine layer the experiment computes with.
func (s *ConvSlide) Conv() *engine.Conv2d { return s.conv }

// Input returns the digit as the [1, 1, H, W] tensor the layer sees. The
// caller must not modify it.
func (s *ConvSlide) Input() *engine.Tensor { return s.x }

// OutSize returns the output map's height and width.
func (s *ConvSlide) OutSize() (h, w int) { return s.oh, s.ow }

// Total is the number of output cells.
func (s *ConvSlide) Total() int { return s.oh * s.ow }

// Pos is the number of cells computed.
func (s *ConvSlide) Pos() int { return s.pos }

// Advance computes the next cell: Σ of the engine's nine terms plus the bias.
func (s *ConvSlide) Advance() error {
	if s.pos >= s.Total() {
		return errors.New("run: conv-slide: no cells left")
	}
	oy, ox := s.pos/s.ow, s.pos%s.ow
	s.terms = s.conv.Terms(s.x, 0, 0, oy, ox)
	s.out = append(s.out, sumTerms(s.terms)+s.conv.Bias.Value.Data[0])
	s.pos++
	return nil
}

func sumTerms(terms []engine.Term) float64 {
	var sum float64
	for _, t := range terms {
		sum += t.Product
	}
	return sum
}

// Seek recomputes the first k cells.
func (s *ConvSlide) Seek(k int) error {
	if k < 0 || k > s.Total() {
		return fmt.Errorf("run: conv-slide: step %d outside [0, %d]", k, s.Total())
	}
	s.seek(k)
	return nil
}

func (s *ConvSlide) seek(k int) {
	s.pos, s.out, s.terms = 0, s.out[:0], nil
	for s.pos < k {
		s.Advance() // cannot fail: pos < Total
	}
}

// SetParams merges raw (any subset of the parameters) onto the current ones.
func (s *ConvSlide) SetParams(raw json.RawMessage) error {
	p := s.p
	if err := decodeParams(raw, &p); err != nil {
		return err
	}
	return s.load(p)
}

// decodeParams decodes a JSON object onto p strictly: unknown fields, wrong
// types and trailing data are *Error with CodeBadParams.
func decodeParams(raw json.RawMessage, p any) error {
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(p); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			// A number that does not fit a whole-number field (too big,
			// fractional): name the field's bounds when it has them.
			if num, isNum := strings.CutPrefix(te.Value, "number "); isNum && te.Type.Kind() == reflect.Int {
				if r, ok := p.(intRanger); ok {
					if lo, hi, ok := r.intRange(te.Field); ok {
						return wholeNumberError(te.Field, json.RawMessage(num), lo, hi)
					}
				}
				return errorf(CodeBadParams, "parameter %q must be a whole number, got %s", te.Field, num)
			}
			want := te.Type.Kind().String()
			switch want {
			case "int":
				want = "whole number"
			case "string":
				want = "string"
			default:
				return errorf(CodeBadParams, "parameters must be a JSON object, got %s", te.Value)
			}
			return errorf(CodeBadParams, "parameter %q must be a %s, got %s", te.Field, want, te.Value)
		}
		if msg, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return errorf(CodeBadParams, "unknown parameter %s", msg)
		}
		return errorf(CodeBadParams, "parameters must be a JSON object: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errorf(CodeBadParams, "parameters must be one JSON object")
	}
	return nil
}

// ConvSlideStatic is the part of a conv-slide frame that changes only with
// the parameters.
type ConvSlideStatic struct {
	Params ConvSlideParams `json:"params"`
	Label  int             `json:"label"`  // the digit's class
	InputH int             `json:"inputH"` // 28
	InputW int             `json:"inputW"`
	// Pixels are the digit's bytes in row-major order; the layer's input
	// is pixel/255.
	Pixels []int      `json:"pixels"`
	Kernel [9]float64 `json:"kernel"` // row-major
	Bias   float64    `json:"bias"`
	OutH   int        `json:"outH"`
	OutW   int        `json:"outW"`
	// OutAbsMax is the largest |cell| of the whole output map (from the
	// engine's Forward), so the map's colour scale, −OutAbsMax..OutAbsMax,
	// stays fixed while it fills in, on screen and in exports alike.
	OutAbsMax float64    `json:"outAbsMax"`
	Counts    ConvCounts `json:"counts"`
}

// ConvCounts is the sharing line, from the engine's Model.Count.
type ConvCounts struct {
	Params       int `json:"params"`       // unique parameters (9 weights + 1 bias)
	Positions    int `json:"positions"`    // output cells, OH·OW
	MultiplyAdds int `json:"multiplyAdds"` // Count().Uses
	Unshared     int `json:"unshared"`     // parameters of the locally connected twin
}

// ConvSlideData is the part of a frame that changes with each step.
type ConvSlideData struct {
	Step  int       `json:"step"`
	Total int       `json:"total"`
	Cell  *ConvCell `json:"cell"` // the last computed cell; null at step 0
	// Map holds the first Step cells of the output map in raster order
	// (row oy = i / OutW); cells not yet reached are not sent.
	Map []float64 `json:"map"`
}

// ConvCell is one output cell's arithmetic.
type ConvCell struct {
	OY     int        `json:"oy"`
	OX     int        `json:"ox"`
	Window ConvWindow `json:"window"`
	Terms  []ConvTerm `json:"terms"` // 9, kernel row-major
	Sum    float64    `json:"sum"`   // Σ products
	Bias   float64    `json:"bias"`
	Out    float64    `json:"out"` // Sum + Bias, the output cell
}

// ConvWindow is the input rectangle the kernel covers, corners inclusive,
// every Dilation-th pixel; coordinates outside the image are padding.
type ConvWindow struct {
	Top      int `json:"top"`
	Left     int `json:"left"`
	Bottom   int `json:"bottom"`
	Right    int `json:"right"`
	Dilation int `json:"dilation"`
}

// ConvTerm is one of the nine products, from engine.Term.
type ConvTerm struct {
	Y       int     `json:"y"`
	X       int     `json:"x"`
	Input   float64 `json:"input"`
	Weight  float64 `json:"weight"`
	Product float64 `json:"product"`
	Padding bool    `json:"padding,omitempty"`
}

// Frame returns the static part (revision changes with the parameters) and
// the step's data. Nothing returned is shared with later steps.
func (s *ConvSlide) Frame() Frame {
	return Frame{StaticRev: s.rev, Static: s.StaticFrame(), Data: s.DataFrame(mapDigits)}
}

// mapDigits is the number of decimals kept in a live frame's output map:
// the map is drawn as colours, so 4 decimals lose nothing visible and keep
// a full frame near 6 kB. The current cell's numbers keep full precision.
const mapDigits = 4

// StaticFrame returns the static part of the frame.
func (s *ConvSlide) StaticFrame() ConvSlideStatic {
	return ConvSlideStatic{
		Params: s.p, Label: s.label, InputH: s.x.Shape[2], InputW: s.x.Shape[3],
		Pixels: s.pixels, // never modified after load
		Kernel: convPresets[s.p.Preset], Bias: s.conv.Bias.Value.Data[0],
		OutH: s.oh, OutW: s.ow, OutAbsMax: s.absMax,
		Counts: ConvCounts{Params: s.count.Params, Positions: s.oh * s.ow, MultiplyAdds: s.count.Uses, Unshared: s.count.Unshared},
	}
}

// DataFrame returns the step's data with the map rounded to digits decimals
// (digits < 0 keeps full precision).
func (s *ConvSlide) DataFrame(digits int) ConvSlideData {
	d := ConvSlideData{Step: s.pos, Total: s.Total(), Map: slices.Clone(s.out)}
	if d.Map == nil {
		d.Map = []float64{}
	}
	if digits >= 0 {
		scale := math.Pow10(digits)
		for i, v := range d.Map {
			d.Map[i] = math.Round(v*scale) / scale
		}
	}
	if s.pos > 0 {
		oy, ox := (s.pos-1)/s.ow, (s.pos-1)%s.ow
		c := &ConvCell{OY: oy, OX: ox, Bias: s.conv.Bias.Value.Data[0], Out: s.out[s.pos-1], Sum: sumTerms(s.terms)}
		c.Window = ConvWindow{
			Top: oy*s.p.Stride - s.p.Padding, Left: ox*s.p.Stride - s.p.Padding, Dilation: s.p.Dilation,
		}
		c.Window.Bottom = c.Window.Top + (convKernel-1)*s.p.Dilation
		c.Window.Right = c.Window.Left + (convKernel-1)*s.p.Dilation
		for _, t := range s.terms {
			c.Terms = append(c.Terms, ConvTerm{Y: t.Y, X: t.X, Input: t.Input, Weight: t.Weight, Product: t.Product, Padding: t.Padding})
		}
		d.Cell = c
	}
	return d
}

// ConvSlidePicture is a conv-slide state as grids ready to draw on the
// widget's colour scales, for figures made outside the browser (exports):
// the drawing code then needs no arithmetic of its own.
type ConvSlidePicture struct {
	Static ConvSlideStatic
	Data   ConvSlideData // full precision
	// Input is the layer's input, row-major InputH×InputW: pixel/255, so
	// on the scale 0..1.
	Input []float64
	// Output is the output map, row-major OutH×OutW, with NaN for the cells
	// not computed yet (drawn grey).
	Output []float64
	// OutLimit > 0 sets the output's diverging scale −OutLimit..OutLimit:
	// OutAbsMax, or 1 for an all-zero map (which has no scale of its own).
	OutLimit float64
}

// Picture returns the experiment's current state as grids ready to draw.
func (s *ConvSlide) Picture() ConvSlidePicture {
	st, d := s.StaticFrame(), s.DataFrame(-1)
	out := make([]float64, st.OutH*st.OutW)
	for i := range out {
		out[i] = math.NaN()
	}
	copy(out, d.Map)
	lim := st.OutAbsMax
	if lim == 0 {
		lim = 1
	}
	return ConvSlidePicture{Static: st, Data: d, Input: slices.Clone(s.x.Data), Output: out, OutLimit: lim}
}
