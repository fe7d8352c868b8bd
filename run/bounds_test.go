package run

import (
	"encoding/json"
	"math"
	"testing"
)

// TestNumberOutOfRangeMessages: a JSON number that does not fit a
// whole-number parameter is refused with the parameter's real bounds.
func TestNumberOutOfRangeMessages(t *testing.T) {
	last := ConvDigits() - 1
	for _, tc := range []struct{ exp, params, want string }{
		{ConvSlideName, `{"digit":1e9}`, `run: parameter "digit" must be a whole number between 0 and ` + itoa(last) + `, got 1e9`},
		{ConvSlideName, `{"stride":99999999999999999999}`, `run: parameter "stride" must be a whole number between 1 and 3, got 99999999999999999999`},
		{ConvSlideName, `{"padding":1.5}`, `run: parameter "padding" must be a whole number between 0 and 2, got 1.5`},
		{ConvSlideName, `{"stride":"2"}`, `run: parameter "stride" must be a whole number, got string`},
		{ConvGradName, `{"seed":-1e30}`, `run: parameter "seed" must be a whole number between 0 and ` + itoa(ConvGradMaxSeed) + `, got -1e30`},
		{ParamCalcName, `{"size":1e400}`, `run: parameter "size" must be a whole number between 8 and 128, got 1e400`},
		{DrawDigitName, `{"digit":1e9}`, `run: parameter "digit" must be a whole number between 0 and ` + itoa(last) + `, got 1e9`},
		{DrawDigitName, `{"shift":2.5}`, `run: parameter "shift" must be a whole number between ` + itoa(DrawMinShift) + ` and ` + itoa(DrawMaxShift) + `, got 2.5`},
		{CNNTrainName, `{"epochs":1e9}`, `run: parameter "epochs" must be a whole number between 1 and 50, got 1e9`},
	} {
		_, err := Start(tc.exp, json.RawMessage(tc.params))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s %s:\n got  %v\n want %s", tc.exp, tc.params, err, tc.want)
		}
		wantCode(t, err, CodeBadParams)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestConvSlidePicture: the grids an export draws are the layer's input
// (pixel/255), the map so far with NaN for cells not reached, and a
// positive colour limit.
func TestConvSlidePicture(t *testing.T) {
	s, err := NewConvSlide(ConvSlideParams{Digit: 3, Preset: "vertical-edge", Stride: 1, Padding: 1, Dilation: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Seek(200); err != nil {
		t.Fatal(err)
	}
	pic := s.Picture()
	st := pic.Static
	if len(pic.Input) != st.InputH*st.InputW || len(pic.Output) != st.OutH*st.OutW {
		t.Fatalf("grid sizes %d, %d", len(pic.Input), len(pic.Output))
	}
	for i, px := range st.Pixels {
		if pic.Input[i] != float64(px)/255 {
			t.Fatalf("input %d = %g, pixel %d", i, pic.Input[i], px)
		}
	}
	for i, v := range pic.Output {
		if i < 200 && v != pic.Data.Map[i] || i >= 200 && !math.IsNaN(v) {
			t.Fatalf("output cell %d = %g", i, v)
		}
	}
	if pic.OutLimit != st.OutAbsMax || pic.OutLimit <= 0 {
		t.Fatalf("limit %g, OutAbsMax %g", pic.OutLimit, st.OutAbsMax)
	}
	// An all-zero map has no scale of its own; it still gets a usable one.
	z := &ConvSlide{}
	*z = *s
	z.absMax = 0
	if got := z.Picture().OutLimit; got != 1 {
		t.Fatalf("all-zero map: limit %g, want 1", got)
	}
}
