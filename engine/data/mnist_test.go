package data

import (
	"slices"
	"testing"
)

func TestMNISTEmbedded(t *testing.T) {
	for _, c := range []struct {
		name     string
		im       *Images
		perClass int
	}{
		{"train", MNISTTrain(), 500},
		{"test", MNISTTest(), 100},
	} {
		t.Run(c.name, func(t *testing.T) {
			im := c.im
			if im.N != 10*c.perClass || im.H != 28 || im.W != 28 || len(im.Pixels) != im.N*28*28 || len(im.Labels) != im.N {
				t.Fatalf("N=%d %d×%d, %d pixels, %d labels; want %d of 28×28", im.N, im.H, im.W, len(im.Pixels), len(im.Labels), 10*c.perClass)
			}
			var count [10]int
			for i, l := range im.Labels {
				if l > 9 {
					t.Fatalf("label %d at %d", l, i)
				}
				count[l]++
				// Stored in rounds of one image per class: each prefix is
				// balanced to within one.
				if (i+1)%10 == 0 && slices.Max(count[:]) != slices.Min(count[:]) {
					t.Fatalf("first %d labels have class counts %v", i+1, count)
				}
			}
			for d, n := range count {
				if n != c.perClass {
					t.Errorf("class %d: %d images, want %d", d, n, c.perClass)
				}
			}
			// Real digits: ink on a mostly blank background, blank corners.
			for i := range im.N {
				px := im.Pixels[i*784 : (i+1)*784]
				ink := 0
				for _, p := range px {
					if p > 127 {
						ink++
					}
				}
				if ink < 20 || ink > 400 || px[0] != 0 || px[783] != 0 {
					t.Fatalf("image %d: %d ink pixels, corners %d %d: not an MNIST digit", i, ink, px[0], px[783])
				}
			}
		})
	}
}

func TestMNISTCopiesAreIndependent(t *testing.T) {
	a := MNISTTrain()
	a.Pixels[300] ^= 0xFF
	a.Labels[0] = 99
	b := MNISTTrain()
	if b.Pixels[300] == a.Pixels[300] || b.Labels[0] == 99 {
		t.Fatal("modifying one MNISTTrain result changed the next")
	}
}

func TestMNISTTrainAndTestDiffer(t *testing.T) {
	train, test := MNISTTrain(), MNISTTest()
	seen := map[string]bool{}
	for i := range train.N {
		seen[string(train.Pixels[i*784:(i+1)*784])] = true
	}
	for i := range test.N {
		if seen[string(test.Pixels[i*784:(i+1)*784])] {
			t.Fatalf("test image %d also in the training subset", i)
		}
	}
}

// tiny is a 3-image 2×2 set with distinct pixels and labels.
func tiny() *Images {
	return &Images{N: 3, H: 2, W: 2,
		Pixels: []uint8{0, 51, 102, 255, 10, 20, 30, 40, 1, 2, 3, 4},
		Labels: []uint8{7, 3, 5}}
}

func TestBatch(t *testing.T) {
	x, y := tiny().Batch([]int{2, 0, 0})
	if !slices.Equal(x.Shape, []int{3, 1, 2, 2}) || !slices.Equal(y.Shape, []int{3}) {
		t.Fatalf("shapes %v %v, want [3 1 2 2] [3]", x.Shape, y.Shape)
	}
	wantX := []float64{1. / 255, 2. / 255, 3. / 255, 4. / 255, 0, 0.2, 0.4, 1, 0, 0.2, 0.4, 1}
	if !slices.Equal(x.Data, wantX) {
		t.Fatalf("x = %v, want %v", x.Data, wantX)
	}
	if !slices.Equal(y.Data, []float64{5, 7, 7}) {
		t.Fatalf("y = %v, want [5 7 7]", y.Data)
	}

	img := tiny().Image(1)
	if !slices.Equal(img.Shape, []int{1, 1, 2, 2}) || !slices.Equal(img.Data, []float64{10. / 255, 20. / 255, 30. / 255, 40. / 255}) {
		t.Fatalf("Image(1) = %v %v", img.Shape, img.Data)
	}

	mustPanic(t, "index out of range", func() { tiny().Batch([]int{3}) })
	mustPanic(t, "negative index", func() { tiny().Image(-1) })
	mustPanic(t, "no labels", func() { (&Images{N: 1, H: 1, W: 1, Pixels: []uint8{0}}).Batch([]int{0}) })
}

func TestSubset(t *testing.T) {
	sub := tiny().Subset(2)
	if sub.N != 2 || !slices.Equal(sub.Pixels, tiny().Pixels[:8]) || !slices.Equal(sub.Labels, []uint8{7, 3}) {
		t.Fatalf("Subset(2) = %+v", sub)
	}
	sub.Pixels[0] = 9 // a copy: the original is unchanged
	mustPanic(t, "n > N", func() { tiny().Subset(4) })

	m := MNISTTrain().Subset(25)
	var count [10]int
	for _, l := range m.Labels {
		count[l]++
	}
	if slices.Min(count[:]) < 2 || slices.Max(count[:]) > 3 {
		t.Fatalf("MNISTTrain().Subset(25) class counts %v, want 2 or 3 each", count)
	}
}

func TestShift(t *testing.T) {
	// A 3×4 image with pixel value 10*row + col + 1, so every value says
	// where it came from.
	im := &Images{N: 1, H: 3, W: 4, Labels: []uint8{6}}
	for r := range 3 {
		for c := range 4 {
			im.Pixels = append(im.Pixels, uint8(10*r+c+1))
		}
	}
	cases := []struct {
		dx, dy int
		want   []uint8
	}{
		{0, 0, []uint8{1, 2, 3, 4, 11, 12, 13, 14, 21, 22, 23, 24}},
		{1, 0, []uint8{0, 1, 2, 3, 0, 11, 12, 13, 0, 21, 22, 23}},
		{-2, 0, []uint8{3, 4, 0, 0, 13, 14, 0, 0, 23, 24, 0, 0}},
		{0, 1, []uint8{0, 0, 0, 0, 1, 2, 3, 4, 11, 12, 13, 14}},
		{1, -1, []uint8{0, 11, 12, 13, 0, 21, 22, 23, 0, 0, 0, 0}},
		{4, 0, make([]uint8, 12)},
		{0, -3, make([]uint8, 12)},
		{-9, 9, make([]uint8, 12)},
	}
	for _, c := range cases {
		got := Shift(im, c.dx, c.dy)
		if !slices.Equal(got.Pixels, c.want) {
			t.Errorf("Shift(%d, %d) = %v, want %v", c.dx, c.dy, got.Pixels, c.want)
		}
		if got.N != 1 || got.H != 3 || got.W != 4 || !slices.Equal(got.Labels, []uint8{6}) {
			t.Errorf("Shift(%d, %d): N=%d %d×%d labels %v", c.dx, c.dy, got.N, got.H, got.W, got.Labels)
		}
	}
	if im.Pixels[0] != 1 {
		t.Fatal("Shift modified its input")
	}

	// On several images: each is shifted on its own (nothing crosses into
	// the next image).
	two := &Images{N: 2, H: 1, W: 2, Pixels: []uint8{1, 2, 3, 4}}
	if got := Shift(two, 1, 0).Pixels; !slices.Equal(got, []uint8{0, 1, 0, 3}) {
		t.Fatalf("Shift of two images = %v, want [0 1 0 3]", got)
	}
}

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s: did not panic", what)
		}
	}()
	f()
}
