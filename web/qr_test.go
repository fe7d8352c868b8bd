package web

import (
	"encoding/xml"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	qrcode "github.com/skip2/go-qrcode"
)

// qrDoc is what the tests read back from qrSVG's output.
type qrDoc struct {
	XMLName xml.Name `xml:"http://www.w3.org/2000/svg svg"`
	ViewBox string   `xml:"viewBox,attr"`
	Width   int      `xml:"width,attr"`
	Role    string   `xml:"role,attr"`
	Shape   string   `xml:"shape-rendering,attr"`
	Title   string   `xml:"title"`
	Rect    struct {
		Width  int    `xml:"width,attr"`
		Height int    `xml:"height,attr"`
		Fill   string `xml:"fill,attr"`
	} `xml:"rect"`
	Paths []struct {
		Fill string `xml:"fill,attr"`
		D    string `xml:"d,attr"`
	} `xml:"path"`
}

func parseQR(t *testing.T, svg []byte) (doc qrDoc, modules int) {
	t.Helper()
	if err := xml.Unmarshal(svg, &doc); err != nil {
		t.Fatalf("not valid SVG XML: %v\n%s", err, svg)
	}
	var w, h int
	if _, err := fmt.Sscanf(doc.ViewBox, "0 0 %d %d", &w, &h); err != nil || w != h || w == 0 {
		t.Fatalf("viewBox %q, want a square 0 0 N N", doc.ViewBox)
	}
	return doc, w
}

var qrRun = regexp.MustCompile(`^M(\d+) (\d+)h(\d+)v1h-(\d+)z`)

// paintQR fills an n×n grid with the path's rectangles, failing on any
// command that is not a one-module-high run inside the grid or that
// overlaps another.
func paintQR(t *testing.T, d string, n int) [][]bool {
	t.Helper()
	grid := make([][]bool, n)
	for i := range grid {
		grid[i] = make([]bool, n)
	}
	for d != "" {
		m := qrRun.FindStringSubmatch(d)
		if m == nil {
			t.Fatalf("unexpected path data at %.40q", d)
		}
		x, _ := strconv.Atoi(m[1])
		y, _ := strconv.Atoi(m[2])
		w, _ := strconv.Atoi(m[3])
		back, _ := strconv.Atoi(m[4])
		if w < 1 || back != w || y >= n || x+w > n {
			t.Fatalf("run %q is not a closed one-module-high rectangle inside %d×%d", m[0], n, n)
		}
		for i := x; i < x+w; i++ {
			if grid[y][i] {
				t.Fatalf("run %q overlaps another at (%d,%d)", m[0], i, y)
			}
			grid[y][i] = true
		}
		d = d[len(m[0]):]
	}
	return grid
}

// TestQRMatchesBitmap: the path paints exactly the encoder's dark modules,
// with the quiet zone, black on a white square, and adjacent modules of a
// row merged into one rectangle.
func TestQRMatchesBitmap(t *testing.T) {
	const url = "https://class.example.org:8443/en/class?code=K7MPQ2"
	svg, err := qrSVG(url, "Join the class")
	if err != nil {
		t.Fatal(err)
	}
	doc, n := parseQR(t, svg)
	q, err := qrcode.New(url, qrcode.Medium)
	if err != nil {
		t.Fatal(err)
	}
	want := q.Bitmap()
	if len(want) != n {
		t.Fatalf("viewBox is %d modules, the encoder's bitmap %d", n, len(want))
	}
	if doc.Role != "img" || doc.Shape != "crispEdges" || doc.Title != "Join the class" || doc.Width != n*qrModulePixels {
		t.Errorf("svg attributes: role %q, shape-rendering %q, title %q, width %d", doc.Role, doc.Shape, doc.Title, doc.Width)
	}
	if doc.Rect.Width != n || doc.Rect.Height != n || doc.Rect.Fill != "#fff" {
		t.Errorf("background %+v, want a white %d×%d square", doc.Rect, n, n)
	}
	if len(doc.Paths) != 1 || doc.Paths[0].Fill != "#000" {
		t.Fatalf("want one black path, got %+v", doc.Paths)
	}
	got := paintQR(t, doc.Paths[0].D, n)
	dark, runs := 0, strings.Count(doc.Paths[0].D, "M")
	for y := range n {
		for x := range n {
			if got[y][x] != want[y][x] {
				t.Fatalf("module (%d,%d) drawn %v, encoder says %v", x, y, got[y][x], want[y][x])
			}
			if want[y][x] {
				dark++
			}
		}
	}
	// Runs are maximal: merging made fewer rectangles than modules, and no
	// two rectangles of a row touch.
	if runs >= dark {
		t.Errorf("%d rectangles for %d dark modules: runs not merged", runs, dark)
	}
	for y := range n {
		for x := 1; x < n; x++ {
			if got[y][x] && got[y][x-1] && strings.Contains(doc.Paths[0].D, fmt.Sprintf("M%d %dh", x, y)) {
				t.Errorf("a rectangle starts at (%d,%d) next to a dark module: runs not maximal", x, y)
			}
		}
	}

	// The finder patterns sit at three corners (top-left, top-right,
	// bottom-left) inside the 4-module quiet zone: the image is neither
	// mirrored nor missing its border.
	const quiet = 4
	for x := range n {
		for y := range quiet {
			if got[y][x] || got[n-1-y][x] || got[x][y] || got[x][n-1-y] {
				t.Fatalf("dark module in the quiet zone near (%d,%d)", x, y)
			}
		}
	}
	finderAt := func(x0, y0 int) bool {
		for y := range 7 {
			for x := range 7 {
				ring := max(qrAbs(x-3), qrAbs(y-3)) // 3: outer ring, 2: white, 0–1: centre
				if got[y0+y][x0+x] != (ring != 2) {
					return false
				}
			}
		}
		return true
	}
	if !finderAt(quiet, quiet) || !finderAt(n-quiet-7, quiet) || !finderAt(quiet, n-quiet-7) {
		t.Error("finder patterns missing from the top-left, top-right or bottom-left corner")
	}
	if finderAt(n-quiet-7, n-quiet-7) {
		t.Error("a finder pattern in the bottom-right corner: the code is mirrored")
	}
	if len(svg) > 8000 {
		t.Errorf("a room link's QR code takes %d bytes, want a few kilobytes", len(svg))
	}
	t.Logf("%d modules, %d dark in %d rectangles, %d bytes", n, dark, runs, len(svg))
}

func qrAbs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// TestQRGrowsWithText: a longer text needs a larger QR version.
func TestQRGrowsWithText(t *testing.T) {
	sizes := []int{}
	for _, length := range []int{10, 100, maxQRText} {
		svg, err := qrSVG(strings.Repeat("a", length), "QR")
		if err != nil {
			t.Fatalf("%d bytes: %v", length, err)
		}
		_, n := parseQR(t, svg)
		sizes = append(sizes, n)
	}
	if !(sizes[0] < sizes[1] && sizes[1] < sizes[2]) {
		t.Errorf("modules for 10, 100, %d bytes: %v, want increasing", maxQRText, sizes)
	}
}

// TestQRLimits: the text must be 1 to maxQRText bytes; a refusal says why.
func TestQRLimits(t *testing.T) {
	if _, err := qrSVG(strings.Repeat("é", maxQRText/2), "QR"); err != nil {
		t.Errorf("%d bytes of UTF-8 refused: %v", maxQRText, err)
	}
	for _, tt := range []struct {
		text, want string
	}{
		{strings.Repeat("a", maxQRText+1), "web: QR code text is 513 bytes, at most 512"},
		{strings.Repeat("é", maxQRText/2) + "a", "web: QR code text is 513 bytes, at most 512"},
		{"", "web: QR code of an empty text"},
	} {
		svg, err := qrSVG(tt.text, "QR")
		if err == nil || err.Error() != tt.want || svg != nil {
			t.Errorf("qrSVG(%d bytes) = %d bytes, %v; want error %q", len(tt.text), len(svg), err, tt.want)
		}
	}
}

// TestQRTitleEscaped: a title with markup stays text (the code in a room
// link is ours, but a title may carry translated or user text).
func TestQRTitleEscaped(t *testing.T) {
	title := `加入课堂 <script>alert("x")</script> & "Q" 'R'`
	svg, err := qrSVG("https://x.example/zh/class?code=ABCDEF", title)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(svg), "<script") {
		t.Fatalf("markup from the title reached the SVG: %s", svg)
	}
	doc, _ := parseQR(t, svg)
	if doc.Title != title {
		t.Errorf("title read back %q, want %q", doc.Title, title)
	}
}
