package drawdigit

import (
	"math"
	"slices"
	"testing"
)

// centreOfMass returns the intensity-weighted centre of px, pixel centres
// at i+0.5.
func centreOfMass(px []byte) (cy, cx float64) {
	var m float64
	for i, v := range px {
		w := float64(v)
		m += w
		cy += w * (float64(i/side) + 0.5)
		cx += w * (float64(i%side) + 0.5)
	}
	return cy / m, cx / m
}

// pixelCorrelation returns Pearson's r between the pixels of a and b.
func pixelCorrelation(a, b []byte) float64 {
	var ma, mb float64
	for i := range a {
		ma += float64(a[i])
		mb += float64(b[i])
	}
	ma, mb = ma/float64(len(a)), mb/float64(len(b))
	var sab, saa, sbb float64
	for i := range a {
		da, db := float64(a[i])-ma, float64(b[i])-mb
		sab, saa, sbb = sab+da*db, saa+da*da, sbb+db*db
	}
	return sab / math.Sqrt(saa*sbb)
}

func boxSize(px []byte) (h, w int) {
	top, left, bottom, right, ok := inkBox(px)
	if !ok {
		return 0, 0
	}
	return bottom - top + 1, right - left + 1
}

func TestCenterDigitBlank(t *testing.T) {
	if got := centerDigit(make([]byte, area)); slices.ContainsFunc(got, func(b byte) bool { return b != 0 }) {
		t.Fatal("a blank drawing came back with ink")
	}
}

// TestCenterDigitSquare: a solid 6×6 square in the top-left corner becomes
// a 20×20 square of full ink, centred.
func TestCenterDigitSquare(t *testing.T) {
	px := make([]byte, area)
	for y := 1; y < 7; y++ {
		for x := 2; x < 8; x++ {
			px[y*side+x] = 255
		}
	}
	orig := slices.Clone(px)
	got := centerDigit(px)
	if !slices.Equal(px, orig) {
		t.Fatal("centerDigit changed its input")
	}
	if h, w := boxSize(got); h != 20 || w != 20 {
		t.Fatalf("box %d×%d, want 20×20", h, w)
	}
	for y := 4; y < 24; y++ {
		for x := 4; x < 24; x++ {
			if got[y*side+x] != 255 {
				t.Fatalf("pixel (%d,%d) = %d, want 255 (the square at rows and columns 4…23)", y, x, got[y*side+x])
			}
		}
	}
}

// TestCenterDigitKeepsAspect: a tall bar 16 high and 2 wide becomes 20 high
// and 2.5 → 3 wide (rounded), with its centre of mass within half a pixel
// of (14, 14).
func TestCenterDigitKeepsAspect(t *testing.T) {
	px := make([]byte, area)
	for y := 10; y < 26; y++ {
		px[y*side+20] = 200
		px[y*side+21] = 200
	}
	got := centerDigit(px)
	if h, w := boxSize(got); h != 20 || w != 3 {
		t.Fatalf("box %d×%d, want 20×3", h, w)
	}
	cy, cx := centreOfMass(got)
	if math.Abs(cy-14) > 0.5 || math.Abs(cx-14) > 0.5 {
		t.Fatalf("centre of mass (%.2f, %.2f), want within 0.5 of (14, 14)", cy, cx)
	}
	// Area averaging keeps the ink per source area: 16·2·200 units, the
	// box stretched 20/16 down and 3/2 across.
	var sum float64
	for _, v := range got {
		sum += float64(v)
	}
	if want := 16 * 2 * 200 * (20.0 / 16) * (3.0 / 2); math.Abs(sum-want)/want > 0.01 {
		t.Errorf("total ink %.0f, want about %.0f", sum, want)
	}
}

// TestCenterDigitOnMNIST: MNIST's own digits are already preprocessed this
// way, so centring one again changes little: the box's longer side is 20
// and the centre of mass stays within a pixel of where it was.
func TestCenterDigitOnMNIST(t *testing.T) {
	var rSum, rawSum float64 // correlations with and without centring
	const n = 50
	for i := range n {
		px := testDigit(i)
		got := centerDigit(px)
		h, w := boxSize(got)
		if max(h, w) != 20 {
			t.Errorf("digit %d: box %d×%d after centring, want the longer side 20", i, h, w)
		}
		cy, cx := centreOfMass(got)
		if math.Abs(cy-14) > 0.5 || math.Abs(cx-14) > 0.5 {
			t.Errorf("digit %d: centre of mass (%.2f, %.2f) after centring", i, cy, cx)
		}
		// The same digit shifted and drawn smaller comes back to about
		// the same image: centring undoes position and scale.
		small := make([]byte, area)
		for y := range side / 2 {
			for x := range side / 2 {
				// The mean of each 2×2 block, as a smaller drawing would be.
				sum := int(px[2*y*side+2*x]) + int(px[2*y*side+2*x+1]) + int(px[(2*y+1)*side+2*x]) + int(px[(2*y+1)*side+2*x+1])
				small[(y+12)*side+x+1] = byte(sum / 4)
			}
		}
		r := pixelCorrelation(got, centerDigit(small))
		if r < 0.6 {
			t.Errorf("digit %d: centring a half-size shifted copy gives an image correlated %.2f with the centred digit, want ≥ 0.6", i, r)
		}
		rSum += r
		rawSum += pixelCorrelation(got, small)
	}
	mean, raw := rSum/n, rawSum/n
	if mean < 0.8 || raw > 0.2 {
		t.Errorf("mean correlation with the centred digit over %d digits: %.2f for the centred copy (want ≥ 0.8), %.2f for the copy itself (want ≤ 0.2)", n, mean, raw)
	}
	t.Logf("centring undoes a half-size shifted copy: mean correlation %.2f (%.2f without centring) over %d digits", mean, raw, n)
}

func TestShiftDigit(t *testing.T) {
	px := make([]byte, area)
	for i := range px {
		px[i] = byte(i % side)
	}
	for _, dx := range []int{-8, -1, 0, 3, 8, 30} {
		got := shiftDigit(px, dx)
		for y := range side {
			for x := range side {
				want := byte(0)
				if sx := x - dx; sx >= 0 && sx < side {
					want = px[y*side+sx]
				}
				if got[y*side+x] != want {
					t.Fatalf("shift %d: pixel (%d,%d) = %d, want %d", dx, y, x, got[y*side+x], want)
				}
			}
		}
	}
	if got := prepare(px, false, 0); !slices.Equal(got, px) {
		t.Fatal("prepare without centring or shift changed the image")
	}
}

func TestCenterDigitPanicsOnWrongSize(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for 783 bytes")
		}
	}()
	centerDigit(make([]byte, 783))
}
