package web

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"

	qrcode "github.com/skip2/go-qrcode"
)

// maxQRText bounds what qrSVG encodes. A room's link
// ({origin}/{lang}/class?code=CODE) is well under 100 bytes; the bound keeps
// the code small enough for a phone to read from the back of a room and the
// encoding cost trivial, whatever a caller passes.
const maxQRText = 512

// qrModulePixels is the intrinsic size of one module; pages scale the
// image with CSS, this is only what a downloaded file opens at.
const qrModulePixels = 8

// qrSVG draws text as a QR code (error correction level M, with the 4-module
// quiet zone the standard asks for) in an SVG whose viewBox counts modules.
// It is always black on white: phone cameras read dark modules on a light
// ground, so the code must not follow a dark theme. title names the image
// for screen readers. The dark modules form one <path>, each horizontal run
// of them one rectangle, which keeps the file a few kilobytes.
func qrSVG(text, title string) ([]byte, error) {
	if text == "" {
		return nil, errors.New("web: QR code of an empty text")
	}
	if len(text) > maxQRText {
		return nil, fmt.Errorf("web: QR code text is %d bytes, at most %d", len(text), maxQRText)
	}
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("web: QR code: %w", err)
	}
	q.DisableBorder = false
	bitmap := q.Bitmap() // bitmap[y][x], quiet zone included
	n := len(bitmap)

	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" shape-rendering="crispEdges"><title>`,
		n, n, n*qrModulePixels, n*qrModulePixels)
	if err := xml.EscapeText(&b, []byte(title)); err != nil {
		return nil, fmt.Errorf("web: QR code title: %w", err)
	}
	fmt.Fprintf(&b, `</title><rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n)
	for y, row := range bitmap {
		for x := 0; x < len(row); {
			if !row[x] {
				x++
				continue
			}
			start := x
			for x < len(row) && row[x] {
				x++
			}
			fmt.Fprintf(&b, "M%d %dh%dv1h-%dz", start, y, x-start, x-start)
		}
	}
	b.WriteString(`"/></svg>`)
	return b.Bytes(), nil
}
