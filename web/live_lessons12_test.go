package web

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"image/png"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/run"
)

// staticCounts reads a param-calc static part's counts by layer.
func staticCounts(t *testing.T, f map[string]any) map[string]map[string]any {
	t.Helper()
	st, ok := f["static"].(map[string]any)
	if !ok {
		t.Fatalf("param-calc frame without static part: %v", f)
	}
	out := map[string]map[string]any{}
	for _, c := range st["counts"].([]any) {
		m := c.(map[string]any)
		out[m["layer"].(string)] = m
	}
	return out
}

func TestSessionDrivesParamCalc(t *testing.T) {
	_, srv := liveServer(t, LiveOptions{})
	c := dial(t, srv, "")
	c.send(`{"v":1,"type":"start","widget":"w1","experiment":"param-calc","params":{"size":28,"inChannels":1,"kernel":3,"outChannels":1}}`)
	f := c.frameAt("w1", 0)
	b0, _ := json.Marshal(f)
	n := staticCounts(t, f)
	if n["dense"]["params"] != 615440.0 || n["locally-connected"]["params"] != 7840.0 || n["conv"]["params"] != 10.0 {
		t.Fatalf("counts %v", n)
	}
	if n["dense"]["computed"] != false {
		t.Fatal("the 28×28 dense layer should be counted by the engine")
	}

	// A bigger image: the conv's count stays, the dense one is computed and
	// equals the formula; a bad size changes nothing.
	c.send(`{"v":1,"type":"set-params","widget":"w1","params":{"size":64}}`)
	f = c.until("new counts", func(m map[string]any) bool { return m["type"] == "frame" && m["static"] != nil })
	n = staticCounts(t, f)
	if n["conv"]["params"] != 10.0 || n["dense"]["params"] != float64(4096*4096+4096) || n["dense"]["computed"] != true {
		t.Fatalf("counts at 64×64: %v", n)
	}
	for _, bad := range []string{`{"size":200}`, `{"kernel":4}`, `{"outChannels":0}`, `{"size":"large"}`, `{"depth":3}`} {
		c.send(`{"v":1,"type":"set-params","widget":"w1","params":` + bad + `}`)
		c.errorCode("bad-params")
	}
	c.send(`{"v":1,"type":"set-params","widget":"w1","params":{"inChannels":3}}`)
	f = c.until("counts after good change", func(m map[string]any) bool { return m["type"] == "frame" && m["static"] != nil })
	st := f["static"].(map[string]any)["params"].(map[string]any)
	if st["size"] != 64.0 || st["inChannels"] != 3.0 || st["kernel"] != 3.0 {
		t.Fatalf("params after bad changes and a good one: %v", st)
	}
	t.Logf("param-calc first frame: %d bytes (the whole picture travels as the static part)", len(b0))

	// Round trips while a slider moves: each set-params is answered by one
	// frame holding the whole picture. Sizes 8…32 build the dense layer
	// (the slowest case); larger ones use the formula for it.
	start := time.Now()
	frames, bytesSum := 0, 0
	for size := 8; size <= 80; size += 8 {
		c.send(`{"v":1,"type":"set-params","widget":"w1","params":{"size":` + itoa(size) + `}}`)
		f := c.until("frame", func(m map[string]any) bool { return m["type"] == "frame" && m["static"] != nil })
		b, _ := json.Marshal(f)
		frames++
		bytesSum += len(b)
	}
	el := time.Since(start).Seconds()
	t.Logf("param-calc: %d set-params round trips in %.2f s (%.1f ms each, up to %.0f frames/s), %d bytes per frame", frames, el, 1000*el/float64(frames), float64(frames)/el, bytesSum/frames)
}

func itoa(n int) string { return strconv.Itoa(n) }

// engineConvGrad is the conv-grad experiment built directly, for the
// engine's dW to compare with.
func engineConvGrad(t *testing.T, p run.ConvGradParams) *run.ConvGrad {
	t.Helper()
	g, err := run.NewConvGrad(p)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestSessionDrivesConvGrad(t *testing.T) {
	_, srv := liveServer(t, LiveOptions{})
	c := dial(t, srv, "")
	p := run.ConvGradParams{Digit: 4, Kernel: "random", Seed: 7}
	g := engineConvGrad(t, p)
	dW, dB := g.EngineGrad()

	c.send(`{"v":1,"type":"start","widget":"w1","experiment":"conv-grad","params":{"digit":4,"kernel":"random","seed":7}}`)
	f := c.frameAt("w1", 0)
	if f["static"] == nil || f["total"] != 784.0 {
		t.Fatalf("first frame: %v", f["total"])
	}
	c.send(`{"v":1,"type":"step","widget":"w1","n":50}`)
	at50, _ := json.Marshal(c.frameAt("w1", 50)["data"])
	c.send(`{"v":1,"type":"step","widget":"w1","n":100}`)
	c.frameAt("w1", 150)
	c.send(`{"v":1,"type":"seek","widget":"w1","to":50}`)
	again, _ := json.Marshal(c.frameAt("w1", 50)["data"])
	if string(again) != string(at50) {
		t.Fatalf("seek back to 50 gives another frame:\n%s\n%s", at50, again)
	}
	for _, bad := range []string{
		`{"v":1,"type":"seek","widget":"w1","to":785}`,
		`{"v":1,"type":"set-params","widget":"w1","params":{"kernel":"emboss"}}`,
		`{"v":1,"type":"set-params","widget":"w1","params":{"digit":1000}}`,
		`{"v":1,"type":"set-params","widget":"w1","params":{"seed":-1}}`,
	} {
		c.send(bad)
		c.errorCode("bad-params")
	}
	c.send(`{"v":1,"type":"step","widget":"w1","n":10000}`)
	last := c.frameAt("w1", 784)["data"].(map[string]any)
	for i, v := range last["sum"].([]any) {
		if math.Abs(v.(float64)-dW[i]) > 1e-12 {
			t.Fatalf("sum[%d] over the socket %g, engine dW %g", i, v, dW[i])
		}
	}
	if math.Abs(last["sumBias"].(float64)-dB) > 1e-12 {
		t.Fatalf("bias sum %g, engine db %g", last["sumBias"], dB)
	}
	c.send(`{"v":1,"type":"set-params","widget":"w1","params":{"kernel":"blur"}}`)
	f = c.until("new static", func(m map[string]any) bool { return m["type"] == "frame" && m["static"] != nil })
	if f["static"].(map[string]any)["params"].(map[string]any)["kernel"] != "blur" || f["step"] != 784.0 {
		t.Fatalf("after set-params: %v at %v", f["static"].(map[string]any)["params"], f["step"])
	}
}

// TestConvGradFramePacing plays conv-grad at the top speed and logs frames
// per second, steps played and bytes per frame on the wire. It asserts only
// what a loaded machine cannot break: no more frames than the pacing
// allows in the measured time, at least one frame, and the size of every
// frame. (How many steps are played in 2 s depends on the machine: logged.)
func TestConvGradFramePacing(t *testing.T) {
	_, srv := liveServer(t, LiveOptions{})
	c := dial(t, srv, "")
	c.send(`{"v":1,"type":"start","widget":"w1","experiment":"conv-grad"}`)
	first, _ := json.Marshal(c.frameAt("w1", 0))
	c.send(`{"v":1,"type":"speed","widget":"w1","speed":120}`)
	c.send(`{"v":1,"type":"play","widget":"w1"}`)
	start := time.Now()
	frames, total, largest, lastStep := 0, 0, 0, 0.0
	for time.Since(start) < 2*time.Second {
		c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, b, err := c.conn.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if m["type"] != "frame" {
			continue
		}
		frames++
		total += len(b)
		largest = max(largest, len(b))
		lastStep = m["step"].(float64)
	}
	elapsed := time.Since(start)
	t.Logf("conv-grad: first frame (with the static part) %d bytes; played %.0f steps in %.2f s: %d frames (%.1f/s), %d bytes per frame on average, largest %d",
		len(first), lastStep, elapsed.Seconds(), frames, float64(frames)/elapsed.Seconds(), total/max(frames, 1), largest)
	// Frames are at least minFrameGap apart on the server, and all of them
	// were sent within the window (after play, before the last read).
	if most := int(elapsed/minFrameGap) + 2; frames > most {
		t.Errorf("%d frames in %v, more than the pacing allows (%d at %d per second)", frames, elapsed, most, maxFramesPerSecond)
	}
	if frames == 0 {
		t.Fatal("no frame while playing")
	}
	// A step's data (one position: patch, contribution, sums) is a few
	// hundred bytes of JSON; the static part is sent once, not per frame.
	if largest > 2000 {
		t.Errorf("largest frame while playing %d bytes: too heavy (the static part must not be resent)", largest)
	}
}

func TestExportLessons12(t *testing.T) {
	_, srv := liveServer(t, LiveOptions{})
	get := func(path string) (*http.Response, []byte) { return fetch(t, srv.URL+path) }
	g := engineConvGrad(t, run.ConvGradParams{Digit: 3, Kernel: "sharpen", Seed: 2})
	dW, _ := g.EngineGrad()
	q := "?digit=3&kernel=sharpen&seed=2&step=300"
	for _, format := range []string{"png", "svg"} {
		resp, b := get("/export/conv-grad." + format + q)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", format, resp.StatusCode, b)
		}
		if format == "png" {
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil || img.Bounds().Dx() < 600 {
				t.Fatalf("png: %v %v", err, img)
			}
			continue
		}
		dec := xml.NewDecoder(bytes.NewReader(b))
		for {
			if _, err := dec.Token(); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("svg does not parse: %v", err)
			}
		}
		if !bytes.Contains(b, []byte("300 of 784 positions")) {
			t.Error("svg title does not name the step")
		}
	}
	resp, b := get("/export/conv-grad.json?digit=3&kernel=sharpen&seed=2")
	if resp.StatusCode != 200 {
		t.Fatalf("json: %d %s", resp.StatusCode, b)
	}
	var exp struct {
		Data run.ConvGradData
	}
	if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatal(err)
	}
	for i := range dW {
		if exp.Data.Step != 784 || math.Abs(exp.Data.Sum[i]-dW[i]) > 1e-12 {
			t.Fatalf("json at step %d: sum %v, engine %v", exp.Data.Step, exp.Data.Sum, dW)
		}
	}
	resp, b = get("/export/conv-grad.trace.json?digit=3&kernel=sharpen&seed=2")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("trace: %d %s", resp.StatusCode, b)
	}
	tr, err := engine.ReadTrace(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	gw, ok := tr.Layers[0].Grads.Lookup("weight")
	if !ok || tr.Layers[0].Type != "conv2d" {
		t.Fatalf("trace layer 0: %+v", tr.Layers[0])
	}
	for i, v := range gw.Tensor.Data {
		if math.Abs(v-dW[i]) > 1e-12 {
			t.Fatalf("trace conv.weight grad[%d] %g, engine %g", i, v, dW[i])
		}
	}
	for _, bad := range []string{"?step=785", "?kernel=emboss", "?digit=x", "?seed=10000", "?preset=blur", "?step=1&step=2"} {
		resp, b := get("/export/conv-grad.png" + bad)
		if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(string(b), "export: ") {
			t.Errorf("%s: %d %q, want 400 with a reason", bad, resp.StatusCode, b)
		}
	}
	resp, b = get("/export/param-calc.png?size=64&inChannels=3&kernel=5&outChannels=16")
	if resp.StatusCode != 200 {
		t.Fatalf("param-calc png: %d %s", resp.StatusCode, b)
	}
	if _, err := png.Decode(bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	resp, b = get("/export/param-calc.json?size=16")
	if resp.StatusCode != 200 || !bytes.Contains(b, []byte(`"layer":"conv","params":10,`)) {
		t.Fatalf("param-calc json: %d %s", resp.StatusCode, b)
	}
	for _, bad := range []string{"?size=4", "?kernel=2", "?size=abc", "?depth=1"} {
		if resp, _ := get("/export/param-calc.png" + bad); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("param-calc %s: %d, want 400", bad, resp.StatusCode)
		}
	}
	// conv-slide's exports are unchanged.
	if resp, _ := get("/export/conv-slide.png?step=3"); resp.StatusCode != 200 {
		t.Errorf("conv-slide export: %d", resp.StatusCode)
	}
	if resp, _ := get("/export/conv-grad.gif"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown format: %d", resp.StatusCode)
	}
	// Every export the router knows answers (200, or 400 for a query it
	// lacks), and an unknown one is 404 listing all of them.
	for _, k := range exportKinds {
		for _, format := range k.formats {
			q := ""
			if k.name == run.CNNTrainName {
				q = "?step=0" // no training: 400 for the charts, the untrained trace for json
			}
			if resp, b := get("/export/" + k.name + "." + format + q); resp.StatusCode == http.StatusNotFound || resp.StatusCode >= 500 {
				t.Errorf("%s.%s%s: %d %.200s", k.name, format, q, resp.StatusCode, b)
			}
		}
	}
	resp, b = get("/export/nope.png")
	for _, want := range []string{"conv-slide.png/.svg/.json", "conv-grad.png/.svg/.json/.trace.json", "param-calc.png/.svg/.json",
		"cnn-train.png/.svg/.json", "draw-digit.png/.svg/.json"} {
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(b), want) {
			t.Errorf("unknown export: %d %q does not list %s", resp.StatusCode, b, want)
		}
	}
	t.Logf("unknown → %d %s", resp.StatusCode, strings.TrimSpace(string(b)))
}
