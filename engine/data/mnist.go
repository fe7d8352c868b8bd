package data

import (
	"compress/gzip"
	"embed"
	"fmt"
	"slices"
	"sync"

	"github.com/paramshare/paramshare/engine"
)

//go:generate go run ./gen

// mnistFiles holds the subset written by gen; see mnist/README.md for its
// source, licence and how it was chosen. The pattern names the directory
// rather than mnist/*.gz so that the package, and with it gen, still builds
// when the .gz files are missing and need regenerating.
//
//go:embed mnist
var mnistFiles embed.FS

var (
	mnistTrain = sync.OnceValue(func() *Images { return mustLoadMNIST("train") })
	mnistTest  = sync.OnceValue(func() *Images { return mustLoadMNIST("test") })
)

// MNISTTrain returns the embedded training subset of MNIST: 5,000 labelled
// 28×28 digits, 500 of each class, stored so that every prefix is balanced
// (see Subset). The files are decoded once; each call returns a new copy
// that the caller may modify.
func MNISTTrain() *Images { return mnistTrain().Clone() }

// MNISTTest returns the embedded test subset of MNIST: 1,000 labelled 28×28
// digits, 100 of each class, drawn from the MNIST test set (disjoint from the
// training images). Like MNISTTrain it returns a new copy on each call.
func MNISTTest() *Images { return mnistTest().Clone() }

// mustLoadMNIST decodes one embedded split. The embedded files are checked by
// the package's tests, so a failure here is a broken build and panics.
func mustLoadMNIST(split string) *Images {
	im, err := loadMNIST(split)
	if err != nil {
		panic(err)
	}
	return im
}

func loadMNIST(split string) (*Images, error) {
	open := func(name string) (*gzip.Reader, error) {
		f, err := mnistFiles.Open("mnist/" + name)
		if err != nil {
			return nil, err
		}
		return gzip.NewReader(f)
	}
	images, err := open(split + "-images.idx3.gz")
	if err != nil {
		return nil, fmt.Errorf("data: mnist %s: %w", split, err)
	}
	labels, err := open(split + "-labels.idx1.gz")
	if err != nil {
		return nil, fmt.Errorf("data: mnist %s: %w", split, err)
	}
	return ReadIDX(images, labels)
}

// Clone returns a deep copy of im.
func (im *Images) Clone() *Images {
	c := *im
	c.Pixels = slices.Clone(im.Pixels)
	c.Labels = slices.Clone(im.Labels)
	return &c
}

// Subset returns a copy of the first n images (and their labels). The
// embedded MNIST sets are stored in rounds of one image per class, so their
// first n images hold every class n/10 or n/10+1 times. It panics unless
// 0 ≤ n ≤ im.N.
func (im *Images) Subset(n int) *Images {
	if n < 0 || n > im.N {
		panic(fmt.Sprintf("data: Subset(%d) of %d images", n, im.N))
	}
	size := im.H * im.W
	sub := &Images{N: n, H: im.H, W: im.W, Pixels: slices.Clone(im.Pixels[:n*size])}
	if im.Labels != nil {
		sub.Labels = slices.Clone(im.Labels[:n])
	}
	return sub
}

// Image returns image i as a [1, 1, H, W] tensor with pixels scaled to
// [0, 1] (pixel/255). It panics unless 0 ≤ i < im.N.
func (im *Images) Image(i int) *engine.Tensor {
	im.checkIndex("Image", i)
	x := engine.NewTensor(1, 1, im.H, im.W)
	im.scaleInto(x.Data, i)
	return x
}

// Batch returns the images at idx as x [len(idx), 1, H, W], pixels scaled to
// [0, 1] (pixel/255), and their labels as y [len(idx)], class indices stored
// as float64 (the cross-entropy target layout). An index may repeat. It
// panics if im has no labels or an index is outside [0, im.N).
func (im *Images) Batch(idx []int) (x, y *engine.Tensor) {
	if im.Labels == nil {
		panic("data: Batch: images have no labels")
	}
	size := im.H * im.W
	x = engine.NewTensor(len(idx), 1, im.H, im.W)
	y = engine.NewTensor(len(idx))
	for b, i := range idx {
		im.checkIndex("Batch", i)
		im.scaleInto(x.Data[b*size:(b+1)*size], i)
		y.Data[b] = float64(im.Labels[i])
	}
	return x, y
}

func (im *Images) checkIndex(op string, i int) {
	if i < 0 || i >= im.N {
		panic(fmt.Sprintf("data: %s: index %d out of range [0, %d)", op, i, im.N))
	}
}

// scaleInto writes image i, scaled to [0, 1], into dst (len H*W).
func (im *Images) scaleInto(dst []float64, i int) {
	size := im.H * im.W
	for k, p := range im.Pixels[i*size : (i+1)*size] {
		dst[k] = float64(p) / 255
	}
}

// Shift returns a copy of im with every image translated by dx pixels to the
// right and dy pixels down (negative values move left and up). Pixels moved
// past an edge are lost and the uncovered ones are 0 (background). Labels are
// copied. A shift of W or more columns (or H or more rows) gives blank images.
func Shift(im *Images, dx, dy int) *Images {
	out := &Images{N: im.N, H: im.H, W: im.W, Pixels: make([]uint8, len(im.Pixels)), Labels: slices.Clone(im.Labels)}
	// Columns that stay inside the image after the move, in source coordinates.
	c0, c1 := max(0, -dx), min(im.W, im.W-dx)
	if c0 >= c1 {
		return out
	}
	size := im.H * im.W
	for n := range im.N {
		src := im.Pixels[n*size : (n+1)*size]
		dst := out.Pixels[n*size : (n+1)*size]
		for r := max(0, -dy); r < min(im.H, im.H-dy); r++ {
			copy(dst[(r+dy)*im.W+c0+dx:], src[r*im.W+c0:r*im.W+c1])
		}
	}
	return out
}
