package data

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The IDX format (as used by MNIST) is a big-endian header followed by the
// raw elements:
//
//	byte 0, 1   zero
//	byte 2      element type (0x08: unsigned byte, the only one read here)
//	byte 3      number of dimensions
//	then one uint32 size per dimension, then the data, row-major.
//
// An images file has 3 dimensions (count, rows, columns); a labels file has 1.
const (
	idxTypeUint8 = 0x08

	// maxIDXSide caps the declared rows and columns of an image and
	// maxIDXBytes the declared size of the whole data section, so that a
	// corrupt or hostile header is rejected before anything is read. Full
	// MNIST (60,000 images of 28×28, 47 MB) fits well within both.
	maxIDXSide  = 4096
	maxIDXBytes = 1 << 28 // 256 MiB
)

// Images is a set of grey-scale images of equal size, with optional labels.
//
// Pixels holds N*H*W bytes, image after image, each row-major (0 is
// background, 255 full ink, as in MNIST). Labels, when not nil, holds N class
// indices, Labels[i] belonging to image i; it is nil for images read without
// their labels.
type Images struct {
	N, H, W int
	Pixels  []uint8
	Labels  []uint8
}

// ReadIDXImages reads an uncompressed IDX images file (magic 0x00000803) from
// r; wrap r in gzip.NewReader for .gz files. The returned Images has no
// labels (see ReadIDX). The header is validated before any pixel is read:
// element type, three dimensions, a non-empty image side of at most 4096 and
// a data size of at most 256 MiB. A short read or bytes after the declared
// data are errors.
func ReadIDXImages(r io.Reader) (*Images, error) {
	dims, err := readIDXHeader(r, 3)
	if err != nil {
		return nil, fmt.Errorf("data: idx images: %w", err)
	}
	n, h, w := dims[0], dims[1], dims[2]
	if h == 0 || w == 0 || h > maxIDXSide || w > maxIDXSide {
		return nil, fmt.Errorf("data: idx images: image size %d×%d, want each side in 1..%d", h, w, maxIDXSide)
	}
	// n < 2^32 and h, w ≤ 4096, so neither n*h nor (once n*h is known to be
	// at most 2^28) n*h*w can overflow uint64.
	if n*h > maxIDXBytes || n*h*w > maxIDXBytes {
		return nil, fmt.Errorf("data: idx images: %d images of %d×%d is more than the %d-byte limit", n, h, w, maxIDXBytes)
	}
	pixels, err := readIDXData(r, n*h*w)
	if err != nil {
		return nil, fmt.Errorf("data: idx images: %w", err)
	}
	return &Images{N: int(n), H: int(h), W: int(w), Pixels: pixels}, nil
}

// ReadIDXLabels reads an uncompressed IDX labels file (magic 0x00000801)
// from r, with the same checks as ReadIDXImages. Label values are not
// checked: any byte is a class index.
func ReadIDXLabels(r io.Reader) ([]uint8, error) {
	dims, err := readIDXHeader(r, 1)
	if err != nil {
		return nil, fmt.Errorf("data: idx labels: %w", err)
	}
	if dims[0] > maxIDXBytes {
		return nil, fmt.Errorf("data: idx labels: %d labels is more than the %d-byte limit", dims[0], maxIDXBytes)
	}
	labels, err := readIDXData(r, dims[0])
	if err != nil {
		return nil, fmt.Errorf("data: idx labels: %w", err)
	}
	return labels, nil
}

// ReadIDX reads an images file and its labels file (both uncompressed) and
// pairs them. It returns an error if either is invalid or if their counts
// differ.
func ReadIDX(images, labels io.Reader) (*Images, error) {
	im, err := ReadIDXImages(images)
	if err != nil {
		return nil, err
	}
	lb, err := ReadIDXLabels(labels)
	if err != nil {
		return nil, err
	}
	if len(lb) != im.N {
		return nil, fmt.Errorf("data: idx: %d labels for %d images", len(lb), im.N)
	}
	im.Labels = lb
	return im, nil
}

// readIDXHeader reads the magic number and the ndim sizes that follow it.
func readIDXHeader(r io.Reader, ndim int) ([]uint64, error) {
	var magic [4]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		return nil, fmt.Errorf("reading magic number: %w", noEOF(err))
	}
	if magic[0] != 0 || magic[1] != 0 {
		return nil, fmt.Errorf("bad magic number %#08x: not an IDX file", binary.BigEndian.Uint32(magic[:]))
	}
	if magic[2] != idxTypeUint8 {
		return nil, fmt.Errorf("element type %#02x, want %#02x (unsigned byte)", magic[2], idxTypeUint8)
	}
	if int(magic[3]) != ndim {
		return nil, fmt.Errorf("%d dimensions, want %d", magic[3], ndim)
	}
	raw := make([]byte, 4*ndim)
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, fmt.Errorf("reading %d dimension sizes: %w", ndim, noEOF(err))
	}
	dims := make([]uint64, ndim)
	for i := range dims {
		dims[i] = uint64(binary.BigEndian.Uint32(raw[4*i:]))
	}
	return dims, nil
}

// readIDXData reads exactly size bytes and checks that nothing follows them.
// It grows its buffer as bytes arrive rather than trusting the header, so a
// truncated file that declares a large size costs only what it holds.
func readIDXData(r io.Reader, size uint64) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(int(min(size, 1<<20)))
	got, err := io.CopyN(&buf, r, int64(size))
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("truncated data: %d of %d bytes", got, size)
		}
		return nil, fmt.Errorf("reading data: %w", err)
	}
	var extra [1]byte
	switch k, err := io.ReadFull(r, extra[:]); {
	case k > 0:
		return nil, fmt.Errorf("unexpected bytes after the %d declared data bytes", size)
	case !errors.Is(err, io.EOF):
		return nil, fmt.Errorf("reading past data: %w", err)
	}
	return buf.Bytes(), nil
}

// noEOF turns a bare EOF in a header into ErrUnexpectedEOF: a file that ends
// inside its header is truncated, whatever the byte count.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// WriteIDXImages writes im's pixels (not its labels) as an uncompressed IDX
// images file. It returns an error if the sizes are outside the limits that
// ReadIDXImages accepts or do not match len(im.Pixels), or if w fails.
func WriteIDXImages(w io.Writer, im *Images) error {
	// The same limits as ReadIDXImages, so that whatever is written reads back.
	if im.N < 0 || im.H <= 0 || im.W <= 0 || im.H > maxIDXSide || im.W > maxIDXSide ||
		im.N > maxIDXBytes || im.N*im.H*im.W > maxIDXBytes {
		return fmt.Errorf("data: write idx images: cannot write %d images of %d×%d", im.N, im.H, im.W)
	}
	if len(im.Pixels) != im.N*im.H*im.W {
		return fmt.Errorf("data: write idx images: %d pixels for %d images of %d×%d", len(im.Pixels), im.N, im.H, im.W)
	}
	hdr := make([]byte, 16)
	hdr[2], hdr[3] = idxTypeUint8, 3
	binary.BigEndian.PutUint32(hdr[4:], uint32(im.N))
	binary.BigEndian.PutUint32(hdr[8:], uint32(im.H))
	binary.BigEndian.PutUint32(hdr[12:], uint32(im.W))
	if _, err := w.Write(hdr); err != nil {
		return fmt.Errorf("data: write idx images: %w", err)
	}
	if _, err := w.Write(im.Pixels); err != nil {
		return fmt.Errorf("data: write idx images: %w", err)
	}
	return nil
}

// WriteIDXLabels writes labels as an uncompressed IDX labels file. It
// returns an error if w fails.
func WriteIDXLabels(w io.Writer, labels []uint8) error {
	if uint64(len(labels)) > maxIDXBytes {
		return fmt.Errorf("data: write idx labels: %d labels is more than the %d-byte limit", len(labels), maxIDXBytes)
	}
	hdr := make([]byte, 8)
	hdr[2], hdr[3] = idxTypeUint8, 1
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(labels)))
	if _, err := w.Write(hdr); err != nil {
		return fmt.Errorf("data: write idx labels: %w", err)
	}
	if _, err := w.Write(labels); err != nil {
		return fmt.Errorf("data: write idx labels: %w", err)
	}
	return nil
}
