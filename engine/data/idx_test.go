package data

import (
	"bytes"
	"encoding/binary"
	"slices"
	"strings"
	"testing"
)

// idxFile builds an IDX file by hand (independently of WriteIDX*): magic
// bytes, then dims as big-endian uint32, then payload.
func idxFile(typ, ndim byte, dims []uint32, payload []byte) []byte {
	b := []byte{0, 0, typ, ndim}
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, d)
	}
	return append(b, payload...)
}

// twoImages is a valid 2-image 2×3 file: pixel k of the file is k*10.
func twoImages() []byte {
	pix := make([]byte, 2*2*3)
	for k := range pix {
		pix[k] = byte(k * 10)
	}
	return idxFile(0x08, 3, []uint32{2, 2, 3}, pix)
}

func TestReadIDXImagesGood(t *testing.T) {
	im, err := ReadIDXImages(bytes.NewReader(twoImages()))
	if err != nil {
		t.Fatal(err)
	}
	if im.N != 2 || im.H != 2 || im.W != 3 || im.Labels != nil {
		t.Fatalf("got N=%d H=%d W=%d labels=%v, want 2, 2, 3, nil", im.N, im.H, im.W, im.Labels)
	}
	for k, p := range im.Pixels {
		if int(p) != k*10 {
			t.Fatalf("pixel %d = %d, want %d", k, p, k*10)
		}
	}
	if len(im.Pixels) != 12 {
		t.Fatalf("%d pixels, want 12", len(im.Pixels))
	}
}

func TestReadIDXLabelsGood(t *testing.T) {
	lb, err := ReadIDXLabels(bytes.NewReader(idxFile(0x08, 1, []uint32{3}, []byte{7, 0, 9})))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(lb, []uint8{7, 0, 9}) {
		t.Fatalf("labels %v, want [7 0 9]", lb)
	}
}

func TestReadIDXImagesErrors(t *testing.T) {
	good := twoImages()
	cases := []struct {
		name string
		file []byte
		want string // a fragment of the error message
	}{
		{"empty", nil, "magic"},
		{"truncated magic", good[:3], "magic"},
		{"truncated header", good[:10], "dimension sizes"},
		{"truncated data", good[:len(good)-1], "truncated data: 11 of 12"},
		{"no data", good[:16], "truncated data: 0 of 12"},
		{"trailing bytes", append(slices.Clone(good), 0), "after the 12 declared"},
		{"not idx", append([]byte{1}, good[1:]...), "not an IDX file"},
		{"labels magic", idxFile(0x08, 1, []uint32{2}, []byte{1, 2}), "1 dimensions, want 3"},
		{"float type", idxFile(0x0D, 3, []uint32{2, 2, 3}, good[16:]), "element type 0x0d"},
		{"zero side", idxFile(0x08, 3, []uint32{2, 0, 3}, nil), "image size 0×3"},
		{"huge side", idxFile(0x08, 3, []uint32{1, 5000, 1}, nil), "image size 5000×1"},
		{"huge count", idxFile(0x08, 3, []uint32{0xFFFFFFFF, 28, 28}, good[16:]), "limit"},
		{"huge product", idxFile(0x08, 3, []uint32{1 << 20, 4096, 4096}, nil), "limit"},
		// Under the cap but far more than the file holds: rejected without
		// allocating the declared 200 MB.
		{"large count, little data", idxFile(0x08, 3, []uint32{255000, 28, 28}, good[16:]), "truncated data: 12 of 199920000"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			im, err := ReadIDXImages(bytes.NewReader(c.file))
			if err == nil {
				t.Fatalf("got %d images, want an error", im.N)
			}
			if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "data: idx images: ") {
				t.Fatalf("error %q, want one starting with \"data: idx images: \" and containing %q", err, c.want)
			}
		})
	}
}

func TestReadIDXLabelsErrors(t *testing.T) {
	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"truncated header", []byte{0, 0, 8, 1, 0, 0}, "dimension sizes"},
		{"truncated data", idxFile(0x08, 1, []uint32{5}, []byte{1, 2}), "truncated data: 2 of 5"},
		{"images magic", twoImages(), "3 dimensions, want 1"},
		{"huge count", idxFile(0x08, 1, []uint32{0xFFFFFFFF}, nil), "limit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadIDXLabels(bytes.NewReader(c.file))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestReadIDXPairs(t *testing.T) {
	im, err := ReadIDX(bytes.NewReader(twoImages()), bytes.NewReader(idxFile(0x08, 1, []uint32{2}, []byte{4, 2})))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(im.Labels, []uint8{4, 2}) {
		t.Fatalf("labels %v, want [4 2]", im.Labels)
	}

	_, err = ReadIDX(bytes.NewReader(twoImages()), bytes.NewReader(idxFile(0x08, 1, []uint32{3}, []byte{4, 2, 1})))
	if err == nil || !strings.Contains(err.Error(), "3 labels for 2 images") {
		t.Fatalf("count mismatch: error %v, want \"3 labels for 2 images\"", err)
	}
}

func TestWriteIDXRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	im, err := ReadIDXImages(bytes.NewReader(twoImages()))
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteIDXImages(&buf, im); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), twoImages()) {
		t.Fatalf("WriteIDXImages wrote %v, want %v", buf.Bytes(), twoImages())
	}

	buf.Reset()
	if err := WriteIDXLabels(&buf, []uint8{3, 1}); err != nil {
		t.Fatal(err)
	}
	if want := idxFile(0x08, 1, []uint32{2}, []byte{3, 1}); !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("WriteIDXLabels wrote %v, want %v", buf.Bytes(), want)
	}

	bad := &Images{N: 2, H: 2, W: 3, Pixels: make([]uint8, 5)}
	if err := WriteIDXImages(&buf, bad); err == nil {
		t.Fatal("WriteIDXImages accepted 5 pixels for 2 images of 2×3")
	}
}

// FuzzReadIDXImages checks that no input makes the reader panic, and that
// whatever it accepts is consistent and writes back to the same bytes.
func FuzzReadIDXImages(f *testing.F) {
	good := twoImages()
	f.Add(good)
	f.Add(good[:10])
	f.Add(good[:len(good)-1])
	f.Add(append(slices.Clone(good), 0))
	f.Add(idxFile(0x08, 1, []uint32{2}, []byte{1, 2}))
	f.Add(idxFile(0x08, 3, []uint32{0xFFFFFFFF, 28, 28}, nil))
	f.Add(idxFile(0x08, 3, []uint32{255000, 28, 28}, good[16:]))
	f.Add(idxFile(0x08, 3, []uint32{0, 1, 1}, nil))
	f.Fuzz(func(t *testing.T, file []byte) {
		im, err := ReadIDXImages(bytes.NewReader(file))
		if err != nil {
			return
		}
		if len(im.Pixels) != im.N*im.H*im.W {
			t.Fatalf("%d pixels for %d images of %d×%d", len(im.Pixels), im.N, im.H, im.W)
		}
		var buf bytes.Buffer
		if err := WriteIDXImages(&buf, im); err != nil {
			t.Fatalf("accepted file does not write back: %v", err)
		}
		if !bytes.Equal(buf.Bytes(), file) {
			t.Fatalf("accepted file writes back differently")
		}
	})
}
