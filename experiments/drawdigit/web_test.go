package web

import (
	"bytes"
	"context"
	"encoding/base64"
	"image/png"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/engine/data"
	"github.com/paramshare/paramshare/run"
)

// The draw-digit models train once per test binary, on a small budget
// (a few seconds) unless PARAMSHARE_DRAW_FULL=1 asks for the server's.
func init() {
	if os.Getenv("PARAMSHARE_DRAW_FULL") == "" {
		run.SetDigitTraining(run.DigitTraining{TrainSize: 1000, Epochs: 1, EvalSize: 200})
	}
}

// waitDigitModels waits for the shared training of the draw-digit models.
// Under -short it skips the test: the training takes ~10 s of CPU,
// minutes under -race.
func waitDigitModels(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipped, this test needs the draw-digit models trained (~10 s of CPU, minutes under -race); the full suite runs it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := run.WaitDigitModels(ctx); err != nil {
		t.Fatalf("training the digit models: %v", err)
	}
}

// digitProbs runs the trained model on the 28×28 input (already
// preprocessed) and returns its softmax.
func digitProbs(t *testing.T, model string, in []byte) []float64 {
	t.Helper()
	m, err := run.NewDigitModel(model)
	if err != nil {
		t.Fatal(err)
	}
	x := engine.NewTensor(1, 1, run.DigitSide, run.DigitSide)
	for i, v := range in {
		x.Data[i] = float64(v) / 255
	}
	return engine.Softmax(m.Forward(x, nil).Data)
}

// checkDigitFrame compares a frame's predictions with a direct Forward of
// each trained model on the frame's own input, and that input with
// PrepareDigit of the drawing.
func checkDigitFrame(t *testing.T, f map[string]any, drawing []byte, center bool, shift int) {
	t.Helper()
	d := f["data"].(map[string]any)
	in, err := base64.StdEncoding.DecodeString(d["input"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if want := run.PrepareDigit(drawing, center, shift); !slices.Equal(in, want) {
		t.Fatal("the frame's input is not PrepareDigit of the drawing")
	}
	preds := d["predictions"].([]any)
	for i, name := range run.DigitModelNames() {
		p := preds[i].(map[string]any)
		want := digitProbs(t, name, in)
		got := p["probs"].([]any)
		for k := range want {
			if math.Abs(got[k].(float64)-want[k]) > 1e-12 {
				t.Fatalf("%s class %d: frame %v, Forward %v", name, k, got[k], want[k])
			}
		}
		if p["model"] != name || int(p["top"].(float64)) != slices.Index(want, slices.Max(want)) {
			t.Fatalf("%s: frame says top %v, Forward %v", name, p["top"], want)
		}
	}
}

// TestSessionDrivesDrawDigit drives draw-digit over the websocket: start,
// play until the models are loaded, send drawings, shifts and bad pixels,
// and measures frame sizes and rate while drawing at 15 sends a second.
func TestSessionDrivesDrawDigit(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipped, this test trains the draw-digit models (~10 s of CPU, minutes under -race); the full suite runs it")
	}
	_, srv := liveServer(t, LiveOptions{})
	c := dial(t, srv, "")
	c.send(`{"v":1,"type":"start","widget":"d1","experiment":"draw-digit","params":{"center":true}}`)
	f := c.until("first frame", func(m map[string]any) bool { return m["type"] == "frame" })
	if f["total"] != 1.0 || f["static"] == nil {
		t.Fatalf("first frame %v", f)
	}
	if d := f["data"].(map[string]any); d["empty"] != true || d["training"].(map[string]any)["started"] != true {
		t.Fatalf("first frame data %v: want empty, training started", d)
	}
	c.send(`{"v":1,"type":"speed","widget":"d1","speed":20}`)
	c.send(`{"v":1,"type":"play","widget":"d1"}`)
	c.conn.SetReadDeadline(time.Now().Add(3 * time.Minute))
	for {
		m := c.next()
		if m["type"] == "state" && m["state"] == "done" {
			break
		}
	}
	f = c.until("frame with the models", func(m map[string]any) bool {
		return m["type"] == "frame" && m["step"] == 1.0 && m["static"] != nil
	})
	if ms := f["static"].(map[string]any)["models"].([]any); len(ms) != 3 {
		t.Fatalf("static lists %d models", len(ms))
	}

	test := data.MNISTTest()
	drawing := test.Pixels[9*784 : 10*784]
	pixels := base64.StdEncoding.EncodeToString(drawing)
	c.send(`{"v":1,"type":"set-params","widget":"d1","params":{"pixels":"` + pixels + `","shift":3}}`)
	f = c.until("frame with predictions", func(m map[string]any) bool {
		return m["type"] == "frame" && m["data"].(map[string]any)["predictions"] != nil
	})
	checkDigitFrame(t, f, drawing, true, 3)
	c.send(`{"v":1,"type":"set-params","widget":"d1","params":{"center":false,"shift":-2}}`)
	f = c.until("uncentred frame", func(m map[string]any) bool {
		return m["type"] == "frame" && m["data"].(map[string]any)["center"] == false
	})
	checkDigitFrame(t, f, drawing, false, -2)

	// Bad pixels: a clear error, and the next frame is still the old input.
	for _, bad := range []struct{ params, msg string }{
		{`{"pixels":"` + base64.StdEncoding.EncodeToString(make([]byte, 100)) + `"}`, "exactly 784 bytes"},
		{`{"pixels":"not base64!"}`, "not valid base64"},
		{`{"pixels":7}`, `"pixels" must be a base64 string`},
	} {
		c.send(`{"v":1,"type":"set-params","widget":"d1","params":` + bad.params + `}`)
		e := c.errorCode("bad-params")
		if !strings.Contains(e["message"].(string), bad.msg) {
			t.Errorf("%s: message %q, want it to mention %q", bad.params, e["message"], bad.msg)
		}
	}
	c.send(`{"v":1,"type":"set-params","widget":"d1","params":{"shift":-2}}`)
	f = c.until("frame", func(m map[string]any) bool { return m["type"] == "frame" })
	checkDigitFrame(t, f, drawing, false, -2)

	// Drawing: 15 new drawings a second for 2 s, as the widget sends at
	// most; count the frames and bytes that come back.
	done := make(chan struct{})
	var frames, bytesIn int
	go func() {
		defer close(done)
		for {
			c.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
			kind, b, err := c.conn.ReadMessage()
			if err != nil {
				return
			}
			if kind == websocket.TextMessage && bytes.Contains(b, []byte(`"type":"frame"`)) {
				frames++
				bytesIn += len(b)
			}
		}
	}()
	start := time.Now()
	sent := 0
	for i := 0; time.Since(start) < 2*time.Second; i++ {
		px := make([]byte, 784)
		copy(px, test.Pixels[(i%50)*784:(i%50+1)*784])
		msg := `{"v":1,"type":"set-params","widget":"d1","params":{"pixels":"` + base64.StdEncoding.EncodeToString(px) + `"}}`
		if err := c.conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		sent++
		if i == 0 {
			t.Logf("a set-params with a drawing is %d bytes (limit %d)", len(msg), maxMessageSize)
		}
		time.Sleep(time.Second / 15)
	}
	<-done // the reader stops 2 s after the last frame
	secs := time.Since(start).Seconds() - 2
	if frames == 0 {
		t.Fatal("no frames while drawing")
	}
	t.Logf("drawing: %d drawings sent, %d frames back in %.1f s (%.1f frames/s), %.1f kB per frame on average",
		sent, frames, secs, float64(frames)/secs, float64(bytesIn)/float64(frames)/1000)
	if frames > sent+2 {
		t.Errorf("%d frames for %d drawings: frames without a change", frames, sent)
	}
}

// TestExportDrawDigit checks the PNG and the trace JSON of a drawing, and
// the 400 answers to bad queries.
func TestExportDrawDigit(t *testing.T) {
	waitDigitModels(t)
	_, srv := liveServer(t, LiveOptions{})
	get := func(path string) (int, string, []byte) {
		resp, b := fetch(t, srv.URL+path)
		return resp.StatusCode, resp.Header.Get("Content-Type"), b
	}
	test := data.MNISTTest()
	drawing := test.Pixels[3*784 : 4*784]
	q := url.Values{"pixels": {base64.StdEncoding.EncodeToString(drawing)}, "shift": {"2"}, "center": {"true"}}
	code, ctype, body := get("/export/draw-digit.png?" + q.Encode())
	if code != 200 || ctype != "image/png" {
		t.Fatalf("png: %d %s %s", code, ctype, body)
	}
	img, err := png.Decode(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(os.TempDir(), "paramshare-draw-digit-export.png")
	if err := os.WriteFile(shot, body, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("draw-digit.png: %v, %d bytes: %s", img.Bounds().Size(), len(body), shot)

	code, ctype, body = get("/export/draw-digit.svg?" + q.Encode())
	if code != 200 || ctype != "image/svg+xml" {
		t.Fatalf("svg: %d %s %.200s", code, ctype, body)
	}
	if err := os.WriteFile(filepath.Join(os.TempDir(), "paramshare-draw-digit-export.svg"), body, 0o644); err != nil {
		t.Fatal(err)
	}
	if n := checkSVG(t, body, "Draw a digit — centred as MNIST, shifted +2 px", "Class probabilities: cnn says"); n != 2 {
		t.Errorf("svg holds %d charts, want 2 (maps above, probabilities below)", n)
	}

	code, ctype, body = get("/export/draw-digit.json?" + q.Encode())
	if code != 200 || ctype != "application/json" {
		t.Fatalf("json: %d %s %s", code, ctype, body)
	}
	tr, err := engine.ReadTrace(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if err := engine.CheckTrace(tr); err != nil {
		t.Fatal(err)
	}
	in := run.PrepareDigit(drawing, true, 2)
	probs := digitProbs(t, "cnn", in)
	top := slices.Index(probs, slices.Max(probs))
	if tr.Model != "cnn" || tr.Target.Data[0] != float64(top) || math.Abs(tr.Loss.Value+math.Log(probs[top])) > 1e-9 {
		t.Fatalf("trace: model %s, target %v, loss %v; want cnn, %d, %v", tr.Model, tr.Target.Data, tr.Loss.Value, top, -math.Log(probs[top]))
	}
	for i, v := range in {
		if tr.Input.Data[i] != float64(v)/255 {
			t.Fatalf("trace input %d = %v, want %v", i, tr.Input.Data[i], float64(v)/255)
		}
	}

	// Base64 pasted into a URL unescaped: its '+' arrive as spaces and are
	// repaired.
	raw := base64.StdEncoding.EncodeToString(drawing)
	if !strings.Contains(raw, "+") {
		t.Fatal("pick a drawing whose base64 has a '+'")
	}
	if code, _, body := get("/export/draw-digit.png?shift=2&pixels=" + raw); code != 200 {
		t.Fatalf("unescaped base64: %d %s", code, body)
	}
	for _, tc := range []struct{ query, msg string }{
		{"", "give the drawing as pixels"},
		{"pixels=AAAA", "must hold exactly 784 bytes (28×28), got 3"},
		{"digit=3&shift=12", "shift must be between -8 and 8, got 12"},
		{"digit=3&center=maybe", `center must be true or false, got "maybe"`},
		{"digit=3&colour=red", `unknown query parameter "colour"`},
		{"pixels=" + url.QueryEscape(base64.StdEncoding.EncodeToString(make([]byte, 784))), "the drawing is blank"},
	} {
		code, _, body := get("/export/draw-digit.png?" + tc.query)
		if code != http.StatusBadRequest || !strings.Contains(string(body), tc.msg) {
			t.Errorf("?%s: %d %q, want 400 mentioning %q", tc.query, code, body, tc.msg)
		}
	}
	if code, _, body := get("/export/draw-digit.pdf?digit=1"); code != http.StatusNotFound || !strings.Contains(string(body), "draw-digit.png/.svg/.json") {
		t.Errorf("draw-digit.pdf: %d %q, want 404 listing draw-digit's formats", code, body)
	}
}
