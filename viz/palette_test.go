package viz

import (
	"image/color"
	"math"
	"testing"
)

func TestPaletteEndpoints(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   func(float64) color.RGBA
		t    float64
		want color.RGBA
	}{
		{"viridis", Viridis, 0, rgb(0x44, 0x01, 0x54)},     // matplotlib #440154
		{"viridis", Viridis, 1, rgb(0xfd, 0xe7, 0x25)},     // matplotlib #fde725
		{"diverging", Diverging, 0, rgb(0x2d, 0x00, 0x4b)}, // PuOr purple end
		{"diverging", Diverging, 0.5, rgb(0xf7, 0xf7, 0xf7)},
		{"diverging", Diverging, 1, rgb(0x7f, 0x3b, 0x08)}, // PuOr orange end
		{"viridis below", Viridis, -3, rgb(0x44, 0x01, 0x54)},
		{"viridis above", Viridis, 7, rgb(0xfd, 0xe7, 0x25)},
		{"viridis NaN", Viridis, math.NaN(), MissingColor()},
		{"diverging NaN", Diverging, math.NaN(), MissingColor()},
	} {
		if got := tc.fn(tc.t); got != tc.want {
			t.Errorf("%s(%g) = %v, want %v", tc.name, tc.t, got, tc.want)
		}
	}
}

// TestPaletteAnchorsAgree checks that each anchor is the colour its
// function gives at the anchor's position, which is what palette.js relies
// on when it interpolates the same table.
func TestPaletteAnchorsAgree(t *testing.T) {
	for name, fn := range map[string]func(float64) color.RGBA{PaletteViridis: Viridis, PaletteDiverging: Diverging} {
		a := PaletteAnchors(name)
		if len(a) < 11 {
			t.Fatalf("%s: %d anchors", name, len(a))
		}
		for i, c := range a {
			if got := fn(float64(i) / float64(len(a)-1)); got != rgb(c[0], c[1], c[2]) {
				t.Errorf("%s anchor %d: function gives %v, table %v", name, i, got, c)
			}
		}
		a[0] = [3]uint8{1, 2, 3}
		if PaletteAnchors(name)[0] == a[0] {
			t.Errorf("%s: PaletteAnchors returned the table itself, not a copy", name)
		}
	}
	if PaletteAnchors("jet") != nil {
		t.Error("PaletteAnchors(\"jet\") is not nil")
	}
}

// TestViridisMatchesPublishedTable spot-checks the interpolation against
// entries of matplotlib's 256-entry _viridis_data that are not anchors.
func TestViridisMatchesPublishedTable(t *testing.T) {
	for _, tc := range []struct {
		index int
		rgb   [3]float64 // as published, 0–1
	}{
		{1, [3]float64{0.268510, 0.009605, 0.335427}},
		{64, [3]float64{0.229739, 0.322361, 0.545706}},
		{128, [3]float64{0.127568, 0.566949, 0.550556}},
		{192, [3]float64{0.369214, 0.788888, 0.382914}},
		{254, [3]float64{0.983868, 0.904867, 0.136897}},
	} {
		got := Viridis(float64(tc.index) / 255)
		want := rgb(uint8(math.Round(tc.rgb[0]*255)), uint8(math.Round(tc.rgb[1]*255)), uint8(math.Round(tc.rgb[2]*255)))
		if colorDist(got, want) > 1 {
			t.Errorf("Viridis(%d/255) = %v, published %v", tc.index, got, want)
		}
	}
}

// TestViridisLuminanceRises checks that viridis gets lighter from end to
// end. Rounding to 8 bits can make two neighbouring colours dip by a
// fraction of one channel step (the published 8-bit table does too, at
// entries 95 and 146), so neighbours may dip by at most 0.001 in relative
// luminance, and colours 5/255 apart must strictly rise.
func TestViridisLuminanceRises(t *testing.T) {
	prev := -1.0
	for i := range 256 {
		l := luminance(Viridis(float64(i) / 255))
		if l < prev-0.001 {
			t.Fatalf("luminance falls at t=%d/255: %.4f < %.4f", i, l, prev)
		}
		prev = l
	}
	for i := 5; i < 256; i++ {
		a, b := luminance(Viridis(float64(i-5)/255)), luminance(Viridis(float64(i)/255))
		if b <= a {
			t.Fatalf("luminance does not rise from t=%d/255 to %d/255: %.4f, %.4f", i-5, i, a, b)
		}
	}
	if lo, hi := luminance(Viridis(0)), luminance(Viridis(1)); hi/lo < 10 {
		t.Errorf("viridis luminance spans only %.3f–%.3f", lo, hi)
	}
}

func TestDivergingLightestAtCentre(t *testing.T) {
	prev := -1.0
	for i := 0; i <= 100; i++ { // rising to the centre
		l := luminance(Diverging(float64(i) / 200))
		if l < prev {
			t.Fatalf("purple arm: luminance falls at t=%d/200", i)
		}
		prev = l
	}
	for i := 101; i <= 200; i++ { // falling after it
		l := luminance(Diverging(float64(i) / 200))
		if l > prev {
			t.Fatalf("orange arm: luminance rises at t=%d/200", i)
		}
		prev = l
	}
	// Equal magnitudes of opposite sign differ in hue, not only lightness.
	neg, pos := Diverging(0.2), Diverging(0.8)
	if !(neg.B > neg.R && pos.R > pos.B) {
		t.Errorf("Diverging(0.2) = %v should be purple (blue > red), Diverging(0.8) = %v orange", neg, pos)
	}
}

func TestGonumPalettes(t *testing.T) {
	p := ViridisPalette(5).Colors()
	if len(p) != 5 || p[0] != Viridis(0) || p[2] != Viridis(0.5) || p[4] != Viridis(1) {
		t.Errorf("ViridisPalette(5) = %v", p)
	}
	d := DivergingPalette(3).Colors()
	if len(d) != 3 || d[1] != rgb(0xf7, 0xf7, 0xf7) {
		t.Errorf("DivergingPalette(3) = %v, want the neutral centre in the middle", d)
	}
	defer func() {
		if recover() == nil {
			t.Error("ViridisPalette(1) did not panic")
		}
	}()
	ViridisPalette(1)
}

func TestColorMap(t *testing.T) {
	m := DivergingMap()
	m.SetMin(-4)
	m.SetMax(4)
	c, err := m.At(0)
	if err != nil || c != rgb(0xf7, 0xf7, 0xf7) {
		t.Errorf("At(0) = %v, %v, want the neutral centre", c, err)
	}
	if c, _ := m.At(4); c != Diverging(1) {
		t.Errorf("At(max) = %v, want %v", c, Diverging(1))
	}
	for _, v := range []float64{-4.01, 4.01, math.NaN()} {
		if _, err := m.At(v); err == nil {
			t.Errorf("At(%g) gave no error", v)
		}
	}
	m.SetAlpha(0.5)
	if c, _ := m.At(4); c.(color.RGBA).A != 128 {
		t.Errorf("At with alpha 0.5 = %v", c)
	}
}
