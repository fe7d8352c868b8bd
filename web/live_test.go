package web

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"image/png"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/engine/data"
	"github.com/paramshare/paramshare/run"
)

// liveServer serves Live on its own mux, as routes.go registers it.
func liveServer(t *testing.T, opts LiveOptions) (*Live, *httptest.Server) {
	t.Helper()
	live := NewLive(opts, nil)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws", live.ServeWS)
	mux.HandleFunc("GET /export/{file}", live.ServeExport)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		live.Shutdown(ctx)
		srv.Close()
	})
	return live, srv
}

// wsClient is a test client that reads messages as generic JSON.
type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
}

func dial(t *testing.T, srv *httptest.Server, origin string) *wsClient {
	t.Helper()
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	conn, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", h)
	if err != nil {
		t.Fatalf("dial: %v (response %v)", err, resp)
	}
	t.Cleanup(func() { conn.Close() })
	c := &wsClient{t: t, conn: conn}
	if m := c.next(); m["type"] != "hello" {
		t.Fatalf("first message %v, want hello", m)
	}
	return c
}

func (c *wsClient) send(msg string) {
	c.t.Helper()
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		c.t.Fatalf("send %s: %v", msg, err)
	}
}

func (c *wsClient) next() map[string]any {
	c.t.Helper()
	// Generous: under -race on a busy machine the first start decodes the
	// embedded MNIST set, which takes seconds.
	c.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, b, err := c.conn.ReadMessage()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		c.t.Fatalf("server sent bad JSON %s: %v", b, err)
	}
	if m["v"] != 1.0 {
		c.t.Fatalf("message without v=1: %s", b)
	}
	return m
}

// until reads messages until one satisfies ok and returns it.
func (c *wsClient) until(what string, ok func(map[string]any) bool) map[string]any {
	c.t.Helper()
	for range 2000 {
		if m := c.next(); ok(m) {
			return m
		}
	}
	c.t.Fatalf("no %s within 2000 messages", what)
	return nil
}

func (c *wsClient) frameAt(widget string, step int) map[string]any {
	c.t.Helper()
	return c.until("frame at step", func(m map[string]any) bool {
		return m["type"] == "frame" && m["widget"] == widget && int(m["step"].(float64)) == step
	})
}

func (c *wsClient) errorCode(code string) map[string]any {
	c.t.Helper()
	m := c.until("error "+code, func(m map[string]any) bool { return m["type"] == "error" })
	if m["code"] != code || m["message"] == "" {
		c.t.Fatalf("error %v, want code %q with a message", m, code)
	}
	return m
}

// forward computes the conv-slide output map directly with the engine.
func forward(t *testing.T, p run.ConvSlideParams) *engine.Tensor {
	t.Helper()
	conv, err := engine.NewConv2d("direct", engine.Conv2dConfig{InChannels: 1, OutChannels: 1, KernelSize: 3, Stride: p.Stride, Padding: p.Padding, Dilation: p.Dilation}, engine.NewRand(42))
	if err != nil {
		t.Fatal(err)
	}
	k, _ := run.ConvPreset(p.Preset)
	copy(conv.Weight.Value.Data, k[:])
	conv.Bias.Value.Data[0] = 0
	return conv.Forward(data.MNISTTest().Image(p.Digit), nil)
}

// checkCell compares a frame's current cell with the engine's Forward.
func checkCell(t *testing.T, f map[string]any, p run.ConvSlideParams, y *engine.Tensor) {
	t.Helper()
	d := f["data"].(map[string]any)
	cell := d["cell"].(map[string]any)
	oy, ox := int(cell["oy"].(float64)), int(cell["ox"].(float64))
	ow := y.Shape[3]
	step := int(f["step"].(float64))
	if oy*ow+ox != step-1 {
		t.Fatalf("cell (%d,%d) at step %d: not raster order", oy, ox, step)
	}
	terms := cell["terms"].([]any)
	if len(terms) != 9 {
		t.Fatalf("%d terms", len(terms))
	}
	k, _ := run.ConvPreset(p.Preset)
	img := data.MNISTTest().Image(p.Digit)
	var sum float64
	for i, ti := range terms {
		tm := ti.(map[string]any)
		ky, kx := i/3, i%3
		yy, xx := oy*p.Stride-p.Padding+ky*p.Dilation, ox*p.Stride-p.Padding+kx*p.Dilation
		var in float64
		if yy >= 0 && yy < 28 && xx >= 0 && xx < 28 {
			in = img.Data[yy*28+xx]
		}
		if int(tm["y"].(float64)) != yy || int(tm["x"].(float64)) != xx || tm["input"].(float64) != in || tm["weight"].(float64) != k[i] || tm["product"].(float64) != in*k[i] {
			t.Fatalf("cell (%d,%d) term %d = %v, want input %g at (%d,%d) × %g", oy, ox, i, tm, in, yy, xx, k[i])
		}
		sum += tm["product"].(float64)
	}
	want := y.Data[oy*ow+ox]
	if got := cell["out"].(float64); math.Abs(got-want) > 1e-12 || math.Abs(cell["sum"].(float64)+cell["bias"].(float64)-want) > 1e-12 || math.Abs(sum-want) > 1e-12 {
		t.Fatalf("cell (%d,%d): out %g sum %g, engine Forward %g", oy, ox, got, sum, want)
	}
	mp := d["map"].([]any)
	if len(mp) != step {
		t.Fatalf("map has %d cells at step %d", len(mp), step)
	}
	for i, v := range mp {
		if math.Abs(v.(float64)-y.Data[i]) > 0.5e-4+1e-12 {
			t.Fatalf("map cell %d = %v, Forward %g", i, v, y.Data[i])
		}
	}
}

func TestSessionDrivesConvSlide(t *testing.T) {
	_, srv := liveServer(t, LiveOptions{})
	c := dial(t, srv, "")
	p := run.ConvSlideParams{Digit: 4, Preset: "vertical-edge", Stride: 1, Padding: 1, Dilation: 1}
	y := forward(t, p)

	c.send(`{"v":1,"type":"start","widget":"w1","experiment":"conv-slide","params":{"digit":4,"preset":"vertical-edge","stride":1,"padding":1,"dilation":1}}`)
	f := c.frameAt("w1", 0)
	st, ok := f["static"].(map[string]any)
	if !ok {
		t.Fatalf("first frame has no static part: %v", f)
	}
	if px := st["pixels"].([]any); len(px) != 784 {
		t.Fatalf("%d pixels", len(px))
	}
	counts := st["counts"].(map[string]any)
	if counts["params"] != 10.0 || counts["positions"] != 784.0 || counts["multiplyAdds"] != 7056.0 {
		t.Fatalf("counts %v, want 10 params, 784 positions, 7056 multiply-adds", counts)
	}

	c.send(`{"v":1,"type":"step","widget":"w1"}`)
	f = c.frameAt("w1", 1)
	if _, has := f["static"]; has {
		t.Fatal("static part sent again without a change")
	}
	checkCell(t, f, p, y)
	c.send(`{"v":1,"type":"step","widget":"w1","n":40}`)
	checkCell(t, c.frameAt("w1", 41), p, y)

	// Play, see it running, pause, and check the cell where it stopped.
	c.send(`{"v":1,"type":"speed","widget":"w1","speed":120}`)
	c.send(`{"v":1,"type":"play","widget":"w1"}`)
	c.until("running", func(m map[string]any) bool { return m["type"] == "state" && m["state"] == "running" })
	// Frames are paced (30 a second at most), so steps in between are
	// skipped: wait for any frame past step 45.
	c.until("frame past 45", func(m map[string]any) bool { return m["type"] == "frame" && m["step"].(float64) > 45 })
	c.send(`{"v":1,"type":"pause","widget":"w1"}`)
	s := c.until("paused", func(m map[string]any) bool { return m["type"] == "state" && m["state"] == "paused" })
	paused := int(s["step"].(float64))
	f = c.frameAt("w1", paused)
	checkCell(t, f, p, y)

	// set-params: new kernel and stride, same step (clamped); static resent.
	p2 := run.ConvSlideParams{Digit: 4, Preset: "sharpen", Stride: 2, Padding: 1, Dilation: 1}
	y2 := forward(t, p2)
	c.send(`{"v":1,"type":"set-params","widget":"w1","params":{"preset":"sharpen","stride":2}}`)
	f = c.until("frame with new static", func(m map[string]any) bool { return m["type"] == "frame" && m["static"] != nil })
	if got := f["static"].(map[string]any)["params"].(map[string]any); got["preset"] != "sharpen" || got["stride"] != 2.0 {
		t.Fatalf("static params %v after set-params", got)
	}
	if int(f["total"].(float64)) != 14*14 || int(f["step"].(float64)) != min(paused, 196) {
		t.Fatalf("after set-params: step %v / %v", f["step"], f["total"])
	}
	checkCell(t, f, p2, y2)
	c.send(`{"v":1,"type":"step","widget":"w1","n":3}`)
	at := min(paused, 196) + 3
	checkCell(t, c.frameAt("w1", at), p2, y2)

	// seek goes back through the positions and forward again.
	c.send(`{"v":1,"type":"seek","widget":"w1","to":2}`)
	checkCell(t, c.frameAt("w1", 2), p2, y2)
	c.send(`{"v":1,"type":"seek","widget":"w1","to":` + strconv.Itoa(at) + `}`)
	checkCell(t, c.frameAt("w1", at), p2, y2)
}

// TestBadInput sends each kind of bad message and checks that it gets a
// clear error and that the session still works afterwards.
func TestBadInput(t *testing.T) {
	_, srv := liveServer(t, LiveOptions{})
	c := dial(t, srv, "")
	c.send(`{"v":1,"type":"start","widget":"w1","experiment":"conv-slide","params":{"digit":1}}`)
	c.frameAt("w1", 0)
	step := 0
	for _, tc := range []struct{ msg, code string }{
		{`{"v":1,"type":"step",`, "bad-json"},
		{`not json at all`, "bad-json"},
		{`[1,2,3]`, "bad-json"},
		{`"play"`, "bad-json"},
		{`{"v":1,"type":"step","widget":"w1"} {"v":1}`, "bad-json"},
		{`{"v":2,"type":"step","widget":"w1"}`, "bad-version"},
		{`{"type":"step","widget":"w1"}`, "bad-version"},
		{`{"v":1,"type":"jump","widget":"w1"}`, "unknown-type"},
		{`{"v":1,"widget":"w1"}`, "missing-field"},
		{`{"v":1,"type":"step","widget":"w1","bogus":true}`, "unknown-field"},
		{`{"v":1,"type":"play","widget":"w1","n":3}`, "unknown-field"},
		{`{"v":1,"type":"step","widget":"w1","n":"three"}`, "bad-field-type"},
		{`{"v":"1","type":"step","widget":"w1"}`, "bad-field-type"},
		{`{"v":1,"type":"speed","widget":"w1","speed":"fast"}`, "bad-field-type"},
		{`{"v":1,"type":"speed","widget":"w1"}`, "missing-field"},
		{`{"v":1,"type":"speed","widget":"w1","speed":1000}`, "bad-params"},
		{`{"v":1,"type":"step","widget":"w1","n":0}`, "bad-params"},
		{`{"v":1,"type":"seek","widget":"w1"}`, "missing-field"},
		{`{"v":1,"type":"seek","widget":"w1","to":-1}`, "bad-params"},
		{`{"v":1,"type":"seek","widget":"w1","to":785}`, "bad-params"},
		{`{"v":1,"type":"seek","widget":"w1","to":"end"}`, "bad-field-type"},
		{`{"v":1,"type":"seek","widget":"w1","n":3}`, "unknown-field"},
		{`{"v":1,"type":"step","widget":"<script>"}`, "bad-widget"},
		{`{"v":1,"type":"step","widget":"w9"}`, "unknown-widget"},
		{`{"v":1,"type":"set-params","widget":"w1","params":{"stride":4}}`, "bad-params"},
		{`{"v":1,"type":"set-params","widget":"w1","params":{"stride":0}}`, "bad-params"},
		{`{"v":1,"type":"set-params","widget":"w1","params":{"padding":3}}`, "bad-params"},
		{`{"v":1,"type":"set-params","widget":"w1","params":{"padding":-1}}`, "bad-params"},
		{`{"v":1,"type":"set-params","widget":"w1","params":{"dilation":3}}`, "bad-params"},
		{`{"v":1,"type":"set-params","widget":"w1","params":{"stride":"2"}}`, "bad-params"},
		{`{"v":1,"type":"set-params","widget":"w1","params":{"preset":"emboss"}}`, "bad-params"},
		{`{"v":1,"type":"set-params","widget":"w1","params":{"kernel":[1]}}`, "bad-params"},
		{`{"v":1,"type":"set-params","widget":"w1"}`, "missing-field"},
		{`{"v":1,"type":"start","widget":"w2","experiment":"nope"}`, "unknown-experiment"},
		{`{"v":1,"type":"start","widget":"w2"}`, "missing-field"},
	} {
		c.send(tc.msg)
		m := c.errorCode(tc.code)
		t.Logf("%-70s → %s: %s", tc.msg, m["code"], m["message"])
		// The session is still usable and the run unchanged. (The pause
		// keeps the test inside the command rate limit.)
		time.Sleep(2 * time.Second / commandRate)
		c.send(`{"v":1,"type":"step","widget":"w1"}`)
		step++
		f := c.frameAt("w1", step)
		if st := f["total"].(float64); st != 784 {
			t.Fatalf("after %s: total %v, the run changed", tc.msg, st)
		}
	}
	if err := c.conn.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	c.errorCode("bad-json")
}

func TestRunCapAndRateLimit(t *testing.T) {
	_, srv := liveServer(t, LiveOptions{})
	c := dial(t, srv, "")
	for i := range maxRuns {
		c.send(`{"v":1,"type":"start","widget":"w` + string(rune('a'+i)) + `","experiment":"conv-slide"}`)
	}
	c.send(`{"v":1,"type":"start","widget":"wz","experiment":"conv-slide"}`)
	c.errorCode("too-many-runs")
	// Restarting an existing widget is not a new run.
	c.send(`{"v":1,"type":"start","widget":"wa","experiment":"conv-slide","params":{"stride":3}}`)
	c.until("restarted wa", func(m map[string]any) bool { return m["type"] == "frame" && m["widget"] == "wa" && m["total"] == 100.0 })

	for range 3 * commandBurst {
		c.send(`{"v":1,"type":"reset","widget":"wb"}`)
	}
	c.errorCode("rate-limited")
	time.Sleep(time.Second) // refill
	c.send(`{"v":1,"type":"step","widget":"wb","n":7}`)
	c.frameAt("wb", 7)
}

func TestOversizedMessageClosesWith1009(t *testing.T) {
	_, srv := liveServer(t, LiveOptions{})
	c := dial(t, srv, "")
	big := `{"v":1,"type":"start","widget":"w1","experiment":"conv-slide","params":{"preset":"` + strings.Repeat("x", maxMessageSize) + `"}}`
	c.send(big)
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := c.conn.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Fatalf("after an oversized message: %v, want close 1009", err)
	}
	// The server is fine: a new connection works.
	c2 := dial(t, srv, "")
	c2.send(`{"v":1,"type":"start","widget":"w1","experiment":"conv-slide"}`)
	c2.send(`{"v":1,"type":"step","widget":"w1"}`)
	c2.frameAt("w1", 1)
}

func TestOrigin(t *testing.T) {
	_, srv := liveServer(t, LiveOptions{AllowedOrigins: []string{"https://teach.example.org"}})
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
	for origin, want := range map[string]int{
		"https://evil.example.com":  http.StatusForbidden,
		"null":                      http.StatusForbidden,
		"https://teach.example.org": http.StatusSwitchingProtocols,
		srv.URL:                     http.StatusSwitchingProtocols,
	} {
		conn, resp, err := websocket.DefaultDialer.Dial(url, http.Header{"Origin": {origin}})
		if resp == nil {
			t.Fatalf("origin %s: no response: %v", origin, err)
		}
		if resp.StatusCode != want {
			t.Errorf("origin %s: status %d, want %d", origin, resp.StatusCode, want)
		}
		if want == http.StatusForbidden {
			body, _ := io.ReadAll(resp.Body)
			if !strings.Contains(string(body), "origin not allowed") {
				t.Errorf("403 body %q", body)
			}
		}
		if conn != nil {
			conn.Close()
		}
	}
	// The refusals did not disturb the server.
	c := dial(t, srv, srv.URL)
	c.send(`{"v":1,"type":"start","widget":"w1","experiment":"conv-slide"}`)
	c.frameAt("w1", 0)
}

func TestShutdownSendsGoingAway(t *testing.T) {
	live, srv := liveServer(t, LiveOptions{})
	a, b := dial(t, srv, ""), dial(t, srv, "")
	a.send(`{"v":1,"type":"start","widget":"w1","experiment":"conv-slide"}`)
	a.send(`{"v":1,"type":"play","widget":"w1"}`)
	a.frameAt("w1", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- live.Shutdown(ctx) }()
	for _, c := range []*wsClient{a, b} {
		for {
			c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, _, err := c.conn.ReadMessage()
			if err == nil {
				continue // frames sent before the close
			}
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
				t.Fatalf("read: %v, want close 1001", err)
			}
			break
		}
	}
	if err := <-errc; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	_, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial after shutdown: %v %v, want 503", err, resp)
	}
}

// fetch GETs url and returns the response (its body already read and
// closed) and the body.
func fetch(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func TestExport(t *testing.T) {
	_, srv := liveServer(t, LiveOptions{})
	get := func(path string) (*http.Response, []byte) { return fetch(t, srv.URL+path) }
	q := "?digit=3&preset=vertical-edge&stride=1&padding=1&dilation=1&step=200"
	resp, b := get("/export/conv-slide.png" + q)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("png: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("png does not decode: %v", err)
	}
	if r := img.Bounds(); r.Dx() < 600 || r.Dy() < 200 {
		t.Fatalf("png is %v", r)
	}
	resp, b = get("/export/conv-slide.svg" + q)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/svg+xml" {
		t.Fatalf("svg: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	dec := xml.NewDecoder(bytes.NewReader(b))
	for {
		if _, err := dec.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("svg does not parse: %v", err)
		}
	}
	if !bytes.Contains(b, []byte("200 of 784 cells")) {
		t.Error("svg title does not name the step")
	}
	resp, b = get("/export/conv-slide.json" + q)
	if resp.StatusCode != 200 {
		t.Fatalf("json: %d %s", resp.StatusCode, b)
	}
	var exp struct {
		Static run.ConvSlideStatic
		Data   run.ConvSlideData
	}
	if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatal(err)
	}
	y := forward(t, run.ConvSlideParams{Digit: 3, Preset: "vertical-edge", Stride: 1, Padding: 1, Dilation: 1})
	if exp.Data.Step != 200 || len(exp.Data.Map) != 200 || exp.Data.Cell.OY != 7 || exp.Data.Cell.OX != 3 {
		t.Fatalf("json data: step %d, %d cells, cell %+v", exp.Data.Step, len(exp.Data.Map), exp.Data.Cell)
	}
	for i, v := range exp.Data.Map {
		if math.Abs(v-y.Data[i]) > 1e-12 {
			t.Fatalf("json map cell %d = %g, Forward %g", i, v, y.Data[i])
		}
	}
	for _, bad := range []string{
		"?stride=4", "?padding=-1", "?dilation=0", "?digit=abc", "?digit=100000", "?preset=emboss",
		"?step=785", "?step=-1", "?stride=3&step=200", "?color=red", "?stride=1&stride=2",
	} {
		resp, b := get("/export/conv-slide.png" + bad)
		if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(string(b), "export: ") {
			t.Errorf("%s: %d %q, want 400 with a reason", bad, resp.StatusCode, b)
		}
		t.Logf("%-24s → %d %s", bad, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	if resp, _ := get("/export/other.png"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown export: %d", resp.StatusCode)
	}
}

// TestFramePacing plays a run at the top speed and checks what cannot
// depend on the machine's speed: frames never come faster than the pacing
// cap allows (at most one per minFrameGap, plus the one at either end of
// the window), and every frame's size is within what its cells account
// for. The measured rate and sizes are logged, not asserted: a shared CI
// machine may deliver far fewer.
func TestFramePacing(t *testing.T) {
	_, srv := liveServer(t, LiveOptions{})
	c := dial(t, srv, "")
	c.send(`{"v":1,"type":"start","widget":"w1","experiment":"conv-slide","params":{"padding":2}}`)
	first := c.frameAt("w1", 0)
	b0, _ := json.Marshal(first)
	c.send(`{"v":1,"type":"speed","widget":"w1","speed":120}`)
	c.send(`{"v":1,"type":"play","widget":"w1"}`)
	// Each frame carries the map so far at 4 decimals (≤ 8 bytes a cell
	// with its comma: "-12.3456,") and the current cell with its 9 terms at
	// full precision; 2 kB covers the rest of the message.
	maxBytes := func(cells int) int { return 2048 + 9*cells + 9*200 }
	start := time.Now()
	var frames, bytes, last int
	var lastStep float64
	for time.Since(start) < 2*time.Second {
		c.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
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
		bytes += len(b)
		last = len(b)
		lastStep = m["step"].(float64)
		if m["static"] == nil && len(b) > maxBytes(int(lastStep)) {
			t.Fatalf("frame at step %v is %d bytes, over %d", lastStep, len(b), maxBytes(int(lastStep)))
		}
	}
	elapsed := time.Since(start)
	fps := float64(frames) / elapsed.Seconds()
	t.Logf("first frame (with the 28×28 input): %d bytes", len(b0))
	t.Logf("played %.0f steps in %.2f s: %d frames (%.1f per second), %d bytes per frame on average, last one (%v cells) %d bytes",
		lastStep, elapsed.Seconds(), frames, fps, bytes/max(frames, 1), lastStep, last)
	// Frames are at least minFrameGap apart on the server, and all of them
	// were sent within the window (after play, before the last read).
	if most := int(elapsed/minFrameGap) + 2; frames > most {
		t.Fatalf("%d frames in %v, more than the pacing allows (%d at %d per second)", frames, elapsed, most, maxFramesPerSecond)
	}
	if frames == 0 {
		t.Fatal("no frame while playing")
	}
	c.send(`{"v":1,"type":"step","widget":"w1","n":10000}`)
	full := c.frameAt("w1", 900)
	bf, _ := json.Marshal(full)
	t.Logf("last frame of the run (all 900 cells): %d bytes", len(bf))
	if len(bf) > maxBytes(900) || len(bf) < 900*2 {
		t.Fatalf("the full frame is %d bytes, want %d…%d for 900 cells", len(bf), 900*2, maxBytes(900))
	}
}
