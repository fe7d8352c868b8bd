package drawdigit

import (
	"math"

	"github.com/paramshare/paramshare/engine"
)

// side is the side of the images the digit models read: 28×28 pixels, one
// byte each (0 background, 255 full ink), as in MNIST; area is the number
// of bytes of one image.
const (
	side = 28
	area = side * side
)

// mnistBox is the side of the box MNIST scaled each digit's bounding box to
// fit (keeping its aspect ratio) before centring it by its centre of mass in
// the 28×28 field (LeCun et al., "Gradient-based learning applied to document
// recognition", 1998).
const mnistBox = 20

// centerDigit preprocesses a drawing the way MNIST's digits were: the
// bounding box of its ink (pixels > 0) is scaled, keeping its aspect ratio,
// so that its longer side is 20 pixels (by area averaging, which also turns
// a small drawing into a larger one), and the scaled digit is placed in a
// blank 28×28 image so that its centre of mass falls on the image centre
// (14, 14), to the nearest pixel; ink moved past an edge is dropped. A
// drawing without ink comes back blank. The result is a new slice; px is not
// changed. It panics unless len(px) is area.
func centerDigit(px []byte) []byte {
	if len(px) != area {
		panic(engine.ShapeError{Op: "drawdigit: centerDigit", Want: []int{area}, Got: []int{len(px)}})
	}
	out := make([]byte, area)
	top, left, bottom, right, ok := inkBox(px)
	if !ok {
		return out
	}
	bh, bw := bottom-top+1, right-left+1
	scale := float64(mnistBox) / float64(max(bh, bw))
	sh := max(1, int(math.Round(float64(bh)*scale)))
	sw := max(1, int(math.Round(float64(bw)*scale)))
	scaled := resampleArea(px, top, left, bh, bw, sh, sw)

	// Centre of mass of the scaled digit, pixel centres at i+0.5.
	var mass, my, mx float64
	for y := range sh {
		for x := range sw {
			v := scaled[y*sw+x]
			mass += v
			my += v * (float64(y) + 0.5)
			mx += v * (float64(x) + 0.5)
		}
	}
	oy := int(math.Round(side/2 - my/mass))
	ox := int(math.Round(side/2 - mx/mass))
	for y := range sh {
		ty := y + oy
		if ty < 0 || ty >= side {
			continue
		}
		for x := range sw {
			tx := x + ox
			if tx < 0 || tx >= side {
				continue
			}
			out[ty*side+tx] = byte(math.Round(min(max(scaled[y*sw+x], 0), 255)))
		}
	}
	return out
}

// inkBox returns the inclusive bounding box of the pixels > 0, and false
// when there are none.
func inkBox(px []byte) (top, left, bottom, right int, ok bool) {
	top, left, bottom, right = side, side, -1, -1
	for y := range side {
		for x := range side {
			if px[y*side+x] == 0 {
				continue
			}
			top, bottom = min(top, y), max(bottom, y)
			left, right = min(left, x), max(right, x)
		}
	}
	return top, left, bottom, right, bottom >= 0
}

// resampleArea scales the bh×bw window of px at (top, left) to sh×sw by
// area averaging: each output pixel is the mean of the source area it
// covers, fractional source pixels weighted by the part covered. Shrinking
// it is a box filter; enlarging it repeats pixels (no sharpening).
func resampleArea(px []byte, top, left, bh, bw, sh, sw int) []float64 {
	fy, fx := float64(bh)/float64(sh), float64(bw)/float64(sw) // source pixels per output pixel
	out := make([]float64, sh*sw)
	for y := range sh {
		y0, y1 := float64(y)*fy, float64(y+1)*fy
		for x := range sw {
			x0, x1 := float64(x)*fx, float64(x+1)*fx
			var sum float64
			for sy := int(y0); sy < bh && float64(sy) < y1; sy++ {
				wy := math.Min(y1, float64(sy+1)) - math.Max(y0, float64(sy))
				for sx := int(x0); sx < bw && float64(sx) < x1; sx++ {
					wx := math.Min(x1, float64(sx+1)) - math.Max(x0, float64(sx))
					sum += wy * wx * float64(px[(top+sy)*side+left+sx])
				}
			}
			out[y*sw+x] = sum / (fy * fx)
		}
	}
	return out
}

// shiftDigit returns px moved dx pixels to the right (negative: left):
// columns moved past the edge are lost, the uncovered ones are blank, as
// data.Shift does for a whole set. It panics unless len(px) is area.
func shiftDigit(px []byte, dx int) []byte {
	if len(px) != area {
		panic(engine.ShapeError{Op: "drawdigit: shiftDigit", Want: []int{area}, Got: []int{len(px)}})
	}
	out := make([]byte, area)
	for y := range side {
		for x := range side {
			if sx := x - dx; sx >= 0 && sx < side {
				out[y*side+x] = px[y*side+sx]
			}
		}
	}
	return out
}

// digitTensor returns px as the [1, 1, 28, 28] tensor the models read,
// pixel/255 as in data.Images.
func digitTensor(px []byte) *engine.Tensor {
	x := engine.NewTensor(1, 1, side, side)
	for i, v := range px {
		x.Data[i] = float64(v) / 255
	}
	return x
}

// prepare is the whole preprocessing of a drawing before a model sees
// it: centerDigit when center is true, then shiftDigit by shift. It panics
// unless len(px) is area.
func prepare(px []byte, center bool, shift int) []byte {
	if center {
		px = centerDigit(px)
	}
	return shiftDigit(px, shift)
}

// inkMass returns the sum of px, to tell a blank image from a drawing.
func inkMass(px []byte) int {
	var s int
	for _, v := range px {
		s += int(v)
	}
	return s
}
