package run

import (
	"bytes"
	"encoding/json"

	"github.com/paramshare/paramshare/lab"
)

// intRanger is implemented by parameter structs whose whole-number fields
// have fixed bounds, so that decodeParams can name them when a JSON number
// does not fit the field (1e9 into a digit, 2.5, 99999999999999999999): the
// reader then learns what to send, not merely that the type was wrong.
type intRanger interface {
	// intRange returns the bounds of the JSON field name (lo ≤ hi) and
	// whether it has fixed bounds.
	intRange(name string) (lo, hi int, ok bool)
}

func (ConvSlideParams) intRange(name string) (int, int, bool) {
	switch name {
	case "digit":
		return 0, ConvDigits() - 1, true
	case "stride":
		return ConvMinStride, ConvMaxStride, true
	case "padding":
		return ConvMinPadding, ConvMaxPadding, true
	case "dilation":
		return ConvMinDilation, ConvMaxDilation, true
	}
	return 0, 0, false
}

func (ConvGradParams) intRange(name string) (int, int, bool) {
	switch name {
	case "digit":
		return 0, ConvDigits() - 1, true
	case "seed":
		return 0, ConvGradMaxSeed, true
	}
	return 0, 0, false
}

func (ParamCalcParams) intRange(name string) (int, int, bool) {
	switch name {
	case "size":
		return CalcMinSize, CalcMaxSize, true
	case "inChannels":
		return CalcMinChannels, CalcMaxChannels, true
	case "kernel":
		return CalcMinKernel, CalcMaxKernel, true
	case "outChannels":
		return CalcMinOut, CalcMaxOut, true
	}
	return 0, 0, false
}

// isJSONNumber reports whether v is a JSON number literal (of any size).
func isJSONNumber(v json.RawMessage) bool {
	s := bytes.TrimSpace(v)
	return len(s) > 0 && (s[0] == '-' || s[0] >= '0' && s[0] <= '9')
}

// wholeNumberError is the refusal of a JSON number that does not fit a
// whole-number parameter in [lo, hi].
func wholeNumberError(name string, v json.RawMessage, lo, hi int) *Error {
	return errorf(CodeBadParams, "parameter %q must be a whole number between %d and %d, got %s", name, lo, hi, bytes.TrimSpace(v))
}

func (CNNTrainParams) intRange(name string) (int, int, bool) {
	switch name {
	case "batch":
		return lab.MinBatch, lab.MaxBatch, true
	case "trainSize":
		return lab.MinTrainSize, lab.MaxTrainSize, true
	case "seed":
		return 0, CNNTrainMaxSeed, true
	case "epochs":
		return CNNTrainMinEpoch, CNNTrainMaxEpoch, true
	case "digit":
		return 0, lab.TestSet().N - 1, true
	}
	return 0, 0, false
}
