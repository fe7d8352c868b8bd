package web

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/lab"
	"github.com/paramshare/paramshare/run"
)

// TestCNNTrainOverWebsocket drives a cnn-train race over the socket: the
// parameter counts and losses in its frames equal lab's, a refused
// set-params changes nothing, lr 1 diverges with a message and reset
// recovers. It measures frames per second and bytes per frame while
// playing.
func TestCNNTrainOverWebsocket(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipped, this test trains the race ~25 steps (~5 s, a minute under -race); the full suite runs it")
	}
	_, srv := liveServer(t, LiveOptions{})
	c := dial(t, srv, "")
	c.send(`{"v":1,"type":"start","widget":"w1","experiment":"cnn-train","params":{"trainSize":640,"epochs":1}}`)
	first := c.frameAt("w1", 0)
	b0, _ := json.Marshal(first)
	static := first["static"].(map[string]any)
	if static["total"] != 20.0 {
		t.Fatalf("total %v, want 20", static["total"])
	}
	p := run.DefaultCNNTrainParams()
	p.TrainSize, p.Epochs = 640, 1
	trainers := make([]*lab.Trainer, len(run.RaceModels))
	for i, m := range run.RaceModels {
		tr, err := lab.NewTrainer(p.Config(m))
		if err != nil {
			t.Fatal(err)
		}
		trainers[i] = tr
		got := static["models"].([]any)[i].(map[string]any)
		if got["name"] != m || got["params"] != float64(tr.Count().Params) {
			t.Errorf("model %d: %v %v, engine counts %s %d", i, got["name"], got["params"], m, tr.Count().Params)
		}
	}

	c.send(`{"v":1,"type":"step","widget":"w1","n":3}`)
	f := c.frameAt("w1", 3)
	for i, tr := range trainers {
		var res lab.StepResult
		for range 3 {
			var err error
			if res, err = tr.Step(); err != nil {
				t.Fatal(err)
			}
		}
		got := f["data"].(map[string]any)["models"].([]any)[i].(map[string]any)
		if got["loss"] != res.Loss || got["batchAcc"] != res.Accuracy {
			t.Errorf("%s: frame loss %v acc %v, lab %v %v", run.RaceModels[i], got["loss"], got["batchAcc"], res.Loss, res.Accuracy)
		}
	}

	c.send(`{"v":1,"type":"set-params","widget":"w1","params":{"lr":5}}`)
	if m := c.errorCode("bad-params"); !strings.Contains(m["message"].(string), "lr") {
		t.Errorf("error %v does not name lr", m["message"])
	}
	c.send(`{"v":1,"type":"step","widget":"w1"}`)
	c.frameAt("w1", 4) // the refused change left the race where it was

	// Bytes and frames per second while playing at the top speed.
	c.send(`{"v":1,"type":"speed","widget":"w1","speed":120}`)
	c.send(`{"v":1,"type":"play","widget":"w1"}`)
	start := time.Now()
	var frames, total, largest int
	step := 4.0
	for step < 20 && time.Since(start) < 20*time.Second {
		c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, b, err := c.conn.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		json.Unmarshal(b, &m)
		if m["type"] != "frame" {
			continue
		}
		frames++
		total += len(b)
		largest = max(largest, len(b))
		step = m["step"].(float64)
	}
	secs := time.Since(start).Seconds()
	t.Logf("first frame (with static): %d bytes", len(b0))
	t.Logf("playing: %d frames in %.2f s (%.1f frames/s, %.1f steps/s), %d bytes per frame on average, largest %d",
		frames, secs, float64(frames)/secs, (step-4)/secs, total/max(frames, 1), largest)
	if largest > 16000 {
		t.Errorf("largest frame %d bytes, want ≤ 16 kB", largest)
	}

	c.send(`{"v":1,"type":"set-params","widget":"w1","params":{"lr":1}}`)
	c.frameAt("w1", 0)
	c.send(`{"v":1,"type":"step","widget":"w1","n":10}`)
	st := c.until("diverged state", func(m map[string]any) bool { return m["type"] == "state" && m["state"] == "diverged" })
	if !strings.Contains(st["error"].(string), "lower the learning rate") {
		t.Errorf("diverged state error %q", st["error"])
	}
	c.send(`{"v":1,"type":"reset","widget":"w1"}`)
	c.until("paused state", func(m map[string]any) bool { return m["type"] == "state" && m["state"] == "paused" })
	c.frameAt("w1", 0)
}

// TestCNNTrainExport checks the charts and the trace, the query checks,
// the step cap, the cache and the limit on concurrent exports.
func TestCNNTrainExport(t *testing.T) {
	_, srv := liveServer(t, LiveOptions{})
	get := func(path string) (*http.Response, []byte) { return fetch(t, srv.URL+path) }
	for _, bad := range []string{
		"?lr=2", "?lr=abc", "?batch=0", "?optimizer=rmsprop", "?trainSize=6000", "?epochs=0", "?seed=-1",
		"?digit=1000", "?step=94", "?step=-1", "?colour=red", "?lr=0.1&lr=0.2",
		// The budget is capped at 600 steps whatever the settings ask for.
		"?trainSize=5000&batch=8&epochs=50&step=601",
	} {
		resp, b := get("/export/cnn-train.png" + bad)
		if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(string(b), "export: ") {
			t.Errorf("%s: %d %q, want 400 with a reason", bad, resp.StatusCode, b)
		}
		t.Logf("%-44s → %d %s", bad, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	if resp, b := get("/export/cnn-train.pdf"); resp.StatusCode != http.StatusNotFound || !strings.Contains(string(b), "cnn-train.png/.svg/.json") {
		t.Errorf("cnn-train.pdf: %d %q, want 404 listing cnn-train's formats", resp.StatusCode, b)
	}

	// A diverging race is 422 with the run's own reason: a finite loss is
	// not called NaN.
	resp, b := get("/export/cnn-train.svg?lr=0.1&trainSize=320&epochs=2&step=5")
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(b), "lc diverged at step 2: batch loss") ||
		strings.Contains(string(b), "NaN") {
		t.Errorf("diverging export: %d %q, want 422 naming lc's loss", resp.StatusCode, b)
	}
	t.Logf("diverging → %d %s", resp.StatusCode, strings.TrimSpace(string(b)))

	// While another export holds the only slot, a new one is refused at
	// once with 503 and Retry-After.
	cnnExportSem <- struct{}{}
	start := time.Now()
	resp, b = get("/export/cnn-train.png?trainSize=96&epochs=1&step=2")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || time.Since(start) > 2*time.Second {
		t.Errorf("export while busy: %d %q after %v, want an immediate 503 with Retry-After", resp.StatusCode, b, time.Since(start))
	}
	t.Logf("busy → %d %s", resp.StatusCode, strings.TrimSpace(string(b)))
	<-cnnExportSem

	if testing.Short() {
		t.Skip("-short: the figures and the trace are skipped, they re-train the race with a shift test (~2 s, half a minute under -race)")
	}
	q := "?lr=0.003&batch=32&optimizer=adam&trainSize=96&seed=1&epochs=1&digit=4&step=3"
	start = time.Now()
	resp, b = get("/export/cnn-train.png" + q)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("png: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("png %v, %d bytes, in %v", img.Bounds(), len(b), time.Since(start).Round(time.Millisecond))
	if r := img.Bounds(); r.Dx() < 1200 || r.Dy() < 700 {
		t.Fatalf("png is %v, want four charts", r)
	}

	resp, b = get("/export/cnn-train.svg" + q)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/svg+xml" {
		t.Fatalf("svg: %d %s %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	cfg := "adam lr 0.003, batch 32, 96 digits, seed 1 — step 3 of 3"
	if n := checkSVG(t, b, "Loss — "+cfg, "Accuracy — "+cfg, "Shift test — 500 test digits moved right, weights of step 3",
		"Train vs test accuracy at step 3 (gap = train − test)"); n != 4 {
		t.Errorf("svg holds %d charts, want 4", n)
	}
	shot := filepath.Join(os.TempDir(), "paramshare-cnn-train-export.svg")
	if err := os.WriteFile(shot, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("svg: %d bytes: %s", len(b), shot)

	resp, b = get("/export/cnn-train.json" + q)
	if resp.StatusCode != 200 {
		t.Fatalf("json: %d %s", resp.StatusCode, b)
	}
	tr, err := engine.ReadTrace(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if err := engine.CheckTrace(tr); err != nil {
		t.Fatal(err)
	}
	p := run.DefaultCNNTrainParams()
	p.TrainSize, p.Epochs = 96, 1
	direct, _ := lab.NewTrainer(p.Config("cnn"))
	for range 3 {
		direct.Step()
	}
	w, ok := tr.Layers[0].Params.Lookup("weight")
	want := direct.Model().Layers[0].(*engine.Conv2d).Weight.Value.Data
	if !ok || len(w.Tensor.Data) != len(want) {
		t.Fatalf("trace conv1 weight: %v", ok)
	}
	for i := range want {
		if w.Tensor.Data[i] != want[i] {
			t.Fatalf("trace conv1 weight %d = %v, a CNN trained 3 steps has %v", i, w.Tensor.Data[i], want[i])
		}
	}
	if tr.Target.Data[0] != float64(lab.TestSet().Labels[4]) {
		t.Errorf("trace target %v, want digit 4's label", tr.Target.Data)
	}

	// While another export holds the only slot, an export already made
	// comes from the cache.
	cnnExportSem <- struct{}{}
	if resp, _ := get("/export/cnn-train.png" + q); resp.StatusCode != 200 {
		t.Errorf("cached export while busy: %d", resp.StatusCode)
	}
	if resp, _ := get("/export/cnn-train.svg" + q); resp.StatusCode != 200 {
		t.Errorf("cached svg export while busy: %d", resp.StatusCode)
	}
	<-cnnExportSem
}

// checkSVG parses an exported SVG document as XML and checks that its root
// is <svg> and that each of titles begins the text of one of its <text>
// elements. It returns how many <svg> elements are nested in the root (the
// charts of a composed figure).
func checkSVG(t *testing.T, b []byte, titles ...string) (nested int) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(b))
	var texts []string
	depth, inText := 0, false
	var cur strings.Builder
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("svg is not XML: %v", err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if depth == 0 && el.Name.Local != "svg" {
				t.Fatalf("svg root is <%s>", el.Name.Local)
			}
			if depth == 1 && el.Name.Local == "svg" {
				nested++
			}
			depth++
			if el.Name.Local == "text" {
				inText = true
				cur.Reset()
			}
		case xml.EndElement:
			depth--
			if el.Name.Local == "text" {
				inText = false
				texts = append(texts, cur.String())
			}
		case xml.CharData:
			if inText {
				cur.Write(el)
			}
		}
	}
	for _, title := range titles {
		if !slices.ContainsFunc(texts, func(s string) bool { return strings.HasPrefix(s, title) }) {
			t.Errorf("svg has no text %q (texts: %.300q)", title, texts)
		}
	}
	return nested
}
