package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"

	"github.com/paramshare/paramshare/run"
)

// TestHelloCarriesSpecs: the page learns every experiment's fields, bounds,
// choices and exports from hello, with descriptions in its language.
func TestHelloCarriesSpecs(t *testing.T) {
	_, srv := liveServer(t, LiveOptions{})
	for lang, desc := range map[string]string{"en": "number of steps", "zh": "步数"} {
		c := dialLang(t, srv, "", lang)
		spec := c.hello["specs"].(map[string]any)["stepper"].(map[string]any)
		f := spec["fields"].([]any)[0].(map[string]any)
		if f["name"] != "total" || f["kind"] != "int" || f["min"] != 1.0 || f["max"] != 100000.0 || f["default"] != 100.0 || f["desc"] != desc {
			t.Fatalf("%s: field %v", lang, f)
		}
		if ch := spec["fields"].([]any)[2].(map[string]any)["choices"].([]any); len(ch) != 2 {
			t.Fatalf("choices %v", ch)
		}
		if ex := spec["exports"].([]any); len(ex) != 4 || ex[2].(map[string]any)["heavy"] != true {
			t.Fatalf("exports %v", ex)
		}
		if c.hello["lang"] != lang || c.hello["limits"].(map[string]any)["maxFramesPerSecond"] != float64(maxFramesPerSecond) {
			t.Fatalf("hello %v", c.hello)
		}
	}
}

// TestSessionDrivesRun: start, step, play, pause, seek, set-params and
// reset over the socket, each reflected in the frames.
func TestSessionDrivesRun(t *testing.T) {
	_, srv := liveServer(t, LiveOptions{})
	c := dial(t, srv, "")
	c.send(`{"v":1,"type":"start","widget":"w1","experiment":"stepper","params":{"total":50}}`)
	f := c.frameAt("w1", 0)
	if f["static"].(map[string]any)["total"] != 50.0 {
		t.Fatalf("first frame %v", f)
	}
	c.send(`{"v":1,"type":"step","widget":"w1","n":7}`)
	c.frameAt("w1", 7)
	c.send(`{"v":1,"type":"seek","widget":"w1","to":3}`)
	if f := c.frameAt("w1", 3); f["static"] != nil || f["data"].(map[string]any)["pos"] != 3.0 {
		t.Fatalf("frame after seek %v (static is sent once)", f)
	}
	c.send(`{"v":1,"type":"speed","widget":"w1","speed":120}`)
	c.send(`{"v":1,"type":"play","widget":"w1"}`)
	c.state("w1", "running")
	c.state("w1", "done")
	c.send(`{"v":1,"type":"set-params","widget":"w1","params":{"total":80,"preset":null}}`)
	c.until("new static", func(m map[string]any) bool {
		return m["type"] == "frame" && m["static"] != nil && m["static"].(map[string]any)["total"] == 80.0
	})
	c.send(`{"v":1,"type":"reset","widget":"w1"}`)
	c.frameAt("w1", 0)
	c.send(`{"v":1.0,"type":"step","widget":"w1","n":2e0}`) // whole numbers in any JSON form
	c.frameAt("w1", 2)
}

// TestBadInput: every malformed or out-of-range message gets an error with
// a code and a message in the page's language, changes nothing, and the
// next good command works.
func TestBadInput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) { badInput(t) })
}

// badInput runs on fake time: the commands are paced within the rate
// limit at no cost.
func badInput(t *testing.T) {
	live, stop := fakeLive(t, LiveOptions{})
	defer stop()
	for _, lang := range []string{"en", "zh"} {
		c := pipeDial(t, live, "10.0.0.1", lang)
		c.send(`{"v":1,"type":"start","widget":"w1","experiment":"stepper","params":{"total":100}}`)
		c.frameAt("w1", 0)
		c.send(`{"v":1,"type":"seek","widget":"w1","to":50}`)
		c.frameAt("w1", 50)
		step := 50
		for _, tc := range []struct{ msg, code, en, zh string }{
			{`not json`, codeBadJSON, "one JSON object", "JSON 对象"},
			{`[1]`, codeBadJSON, "one JSON object", "JSON 对象"},
			{`{"v":1,"type":"step","widget":"w1"} {}`, codeBadJSON, "one JSON object", "JSON 对象"},
			{`{"type":"step","widget":"w1"}`, codeBadVersion, "missing", "缺少"},
			{`{"v":2,"type":"step","widget":"w1"}`, codeBadVersion, "not supported", "不支持"},
			{`{"v":"1","type":"step","widget":"w1"}`, codeBadVersion, "not supported", "不支持"},
			{`{"v":1,"TYPE":"step","widget":"w1"}`, codeUnknownField, "case-sensitive", "区分大小写"},
			{`{"v":1,"type":"step","type":"play","widget":"w1"}`, codeBadJSON, "twice", "两次"},
			{`{"v":1,"widget":"w1"}`, codeMissingField, `"type"`, `"type"`},
			{`{"v":1,"type":"jump","widget":"w1"}`, codeUnknownType, "unknown message type", "未知的消息类型"},
			{`{"v":1,"type":"step","widget":"w 1"}`, codeBadWidget, "letters", "字母"},
			{`{"v":1,"type":"step","widget":"w2"}`, codeUnknownWidget, "send start first", "请先发送 start"},
			{`{"v":1,"type":"step","widget":"w1","n":"3"}`, codeBadFieldType, "must be a number", "必须是数"},
			{`{"v":1,"type":"step","widget":"w1","n":2.5}`, run.CodeBadParams, "whole number", "整数"},
			{`{"v":1,"type":"step","widget":"w1","n":0}`, run.CodeBadParams, "from 1 to 10000", "1 到 10000"},
			{`{"v":1,"type":"step","widget":"w1","to":3}`, codeUnknownField, "does not belong", "不能带字段"},
			{`{"v":1,"type":"seek","widget":"w1"}`, codeMissingField, `"to"`, `"to"`},
			{`{"v":1,"type":"seek","widget":"w1","to":101}`, run.CodeBadParams, "from 0 to 100", "0 到 100"},
			{`{"v":1,"type":"speed","widget":"w1","speed":1e400}`, codeBadFieldType, "must be a number", "必须是数"},
			{`{"v":1,"type":"speed","widget":"w1","speed":500}`, run.CodeBadParams, "0.25 to 120", "0.25 到 120"},
			{`{"v":1,"type":"set-params","widget":"w1","params":{"total":0}}`, run.CodeBadParams, `"total" must be a whole number from 1 to 100000; got 0`, "1 到 100000 之间的整数"},
			{`{"v":1,"type":"set-params","widget":"w1","params":{"Total":5}}`, run.CodeBadParams, "unknown parameter", "没有名为"},
			{`{"v":1,"type":"set-params","widget":"w1","params":{"preset":"z"}}`, run.CodeBadParams, "one of a, b", "以下之一"},
			{`{"v":1,"type":"set-params","widget":"w1"}`, codeMissingField, `"params"`, `"params"`},
			{`{"v":1,"type":"start","widget":"w1","experiment":"nope"}`, run.CodeUnknownExperiment, "no experiment named", "没有名为"},
			{`{"v":1,"type":"start","widget":"w1","experiment":"stepper","params":{"bogus":1}}`, run.CodeBadParams, "unknown parameter", "没有名为"},
		} {
			time.Sleep(time.Second / commandRate * 2) // within the command rate
			c.send(tc.msg)
			m := c.errorCode(tc.code)
			want := tc.en
			if lang == "zh" {
				want = tc.zh
			}
			if !strings.Contains(m["message"].(string), want) {
				t.Errorf("%s %s: message %q, want %q", lang, tc.msg, m["message"], want)
			}
			// The run is as it was: the next command works from where it was.
			step++
			c.send(`{"v":1,"type":"step","widget":"w1"}`)
			if f := c.frameAt("w1", step); f["static"] != nil {
				t.Fatalf("%s changed the run's parameters", tc.msg)
			}
		}
	}
}

func TestRunCapAndRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		live, stop := fakeLive(t, LiveOptions{MaxMemoryPerIP: 1 << 40})
		defer stop()
		c := pipeDial(t, live, "10.0.0.1", "")
		for i := range maxRuns {
			c.send(`{"v":1,"type":"start","widget":"w` + string(rune('a'+i)) + `","experiment":"stepper"}`)
			time.Sleep(time.Second / commandRate * startCost) // within the rate
		}
		c.send(`{"v":1,"type":"start","widget":"extra","experiment":"stepper"}`)
		c.errorCode(codeTooManyRuns)
		time.Sleep(3 * time.Second) // a full bucket
		for range commandBurst {
			c.send(`{"v":1,"type":"pause","widget":"wa"}`)
		}
		c.send(`{"v":1,"type":"pause","widget":"wa"}`)
		c.errorCode(codeRateLimited)
		// A start costs startCost commands.
		time.Sleep(3 * time.Second)
		for range commandBurst/startCost + 1 {
			c.send(`{"v":1,"type":"start","widget":"wa","experiment":"stepper"}`)
		}
		if m := c.errorCode(codeRateLimited); !strings.Contains(m["message"].(string), "a start counts 5") {
			t.Fatalf("%v", m)
		}
		c.conn.Close()
	})
}

// TestMemoryCapPerAddress: runs declare their memory; an address may hold
// MaxMemoryPerIP of them, the rest are refused with a reason until a run
// closes.
func TestMemoryCapPerAddress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		live, stop := fakeLive(t, LiveOptions{MaxMemoryPerIP: 250 << 20}) // two steppers of 100 MB
		defer stop()
		a, b := pipeDial(t, live, "10.0.0.1", ""), pipeDial(t, live, "10.0.0.1", "")
		a.send(`{"v":1,"type":"start","widget":"w1","experiment":"stepper"}`)
		a.frameAt("w1", 0)
		b.send(`{"v":1,"type":"start","widget":"w1","experiment":"stepper"}`)
		b.frameAt("w1", 0)
		b.send(`{"v":1,"type":"start","widget":"w2","experiment":"stepper"}`)
		if m := b.errorCode(codeTooManyRuns); !strings.Contains(m["message"].(string), "close other tabs") {
			t.Fatalf("refusal %v", m)
		}
		// Another address has its own share.
		c := pipeDial(t, live, "10.0.0.2", "")
		c.send(`{"v":1,"type":"start","widget":"w1","experiment":"stepper"}`)
		c.frameAt("w1", 0)
		a.conn.Close()
		time.Sleep(time.Second)
		live.mu.Lock()
		mem := live.memPerIP["10.0.0.1"]
		live.mu.Unlock()
		if mem != 100<<20 {
			t.Fatalf("a second after the page closed, its address holds %d bytes, want one run's", mem)
		}
		b.send(`{"v":1,"type":"start","widget":"w2","experiment":"stepper"}`)
		b.frameAt("w2", 0)
		b.conn.Close()
		c.conn.Close()
	})
}

// TestClosedPageStopsRuns: a page closed with eight runs in a long seek
// (1,000 steps of 100 ms each) leaves no run working a second later. On
// fake time (synctest), so the bound is exact.
func TestClosedPageStopsRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		live, stop := fakeLive(t, LiveOptions{ComputeSlots: 8, MaxMemoryPerIP: 1 << 40})
		defer stop()
		c := pipeDial(t, live, "10.0.0.1", "")
		for i := range maxRuns {
			w := "w" + string(rune('a'+i))
			c.send(`{"v":1,"type":"start","widget":"` + w + `","experiment":"stepper","params":{"total":1000,"costMs":100}}`)
			c.send(`{"v":1,"type":"seek","widget":"` + w + `","to":1000}`)
			time.Sleep(time.Second / 2) // within the command rate
		}
		for i := range maxRuns {
			c.state("w"+string(rune('a'+i)), "working")
		}
		// Mid-step (steps are 100 ms from a start on a 500-ms grid): at a
		// step's boundary the bubble may wake the test before the worker.
		time.Sleep(5*time.Second + 50*time.Millisecond)
		if n := stepperRunning.Load(); n != maxRuns {
			t.Fatalf("%d runs stepping, want %d", n, maxRuns)
		}
		c.conn.Close()
		time.Sleep(time.Second)
		if n := stepperRunning.Load(); n != 0 {
			t.Fatalf("%d runs still stepping a second after the page closed", n)
		}
	})
}

// TestCommandsDuringLongSeek: pause and seek during a 40-second seek are
// served within 100 ms (the reader never waits for a step).
func TestCommandsDuringLongSeek(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		live, stop := fakeLive(t, LiveOptions{})
		defer stop()
		c := pipeDial(t, live, "10.0.0.1", "")
		c.send(`{"v":1,"type":"start","widget":"w1","experiment":"stepper","params":{"total":400,"costMs":100}}`)
		c.send(`{"v":1,"type":"seek","widget":"w1","to":400}`) // 40 s of work
		c.state("w1", "working")
		time.Sleep(10 * time.Second)
		sent := time.Now()
		c.send(`{"v":1,"type":"pause","widget":"w1"}`)
		c.state("w1", "paused")
		if d := time.Since(sent); d > 100*time.Millisecond {
			t.Fatalf("pause during a 40-second seek answered after %v", d)
		}
		c.send(`{"v":1,"type":"seek","widget":"w1","to":1}`)
		c.frameAt("w1", 1)
		c.conn.Close()
	})
}

func TestOversizedMessageClosesWith1009(t *testing.T) {
	_, srv := liveServer(t, LiveOptions{})
	c := dial(t, srv, "")
	c.send(`{"v":1,"type":"start","widget":"w1","experiment":"stepper","params":{"preset":"` + strings.Repeat("x", maxMessageSize) + `"}}`)
	if ce := c.closeOf(); ce.Code != websocket.CloseMessageTooBig {
		t.Fatalf("close %d, want 1009", ce.Code)
	}
	c2 := dial(t, srv, "")
	c2.send(`{"v":1,"type":"start","widget":"w1","experiment":"stepper"}`)
	c2.send(`{"v":1,"type":"step","widget":"w1"}`)
	c2.frameAt("w1", 1)
}

func TestOrigin(t *testing.T) {
	_, srv := liveServer(t, LiveOptions{AllowedOrigins: []string{"https://teach.example.org"}})
	for origin, want := range map[string]int{
		"https://evil.example.com":  http.StatusForbidden,
		"null":                      http.StatusForbidden,
		"https://teach.example.org": http.StatusSwitchingProtocols,
		srv.URL:                     http.StatusSwitchingProtocols,
	} {
		conn, resp, err := websocket.DefaultDialer.Dial(wsURL(srv, ""), http.Header{"Origin": {origin}})
		if resp == nil {
			t.Fatalf("origin %s: no response: %v", origin, err)
		}
		if resp.StatusCode != want {
			t.Errorf("origin %s: status %d, want %d", origin, resp.StatusCode, want)
		}
		if conn != nil {
			conn.Close()
		}
	}
	c := dial(t, srv, srv.URL)
	c.send(`{"v":1,"type":"start","widget":"w1","experiment":"stepper"}`)
	c.frameAt("w1", 0)
}

// TestSessionCapsSayWhy: one session over a cap is told why in the page's
// language (an error message, then close 1013); closing a session frees
// its slot.
func TestSessionCapsSayWhy(t *testing.T) {
	for _, tc := range []struct {
		name, code, zh string
		opts           LiveOptions
		cap            int
	}{
		{"total", codeBusy, "服务器已满", LiveOptions{MaxSessions: 3, MaxSessionsPerIP: 3}, 3},
		{"per-ip", codeTooManySessions, "最多 2 个", LiveOptions{MaxSessions: 100, MaxSessionsPerIP: 2}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			live, srv := liveServer(t, tc.opts)
			var cs []*wsClient
			for range tc.cap {
				cs = append(cs, dial(t, srv, ""))
			}
			conn, _, err := websocket.DefaultDialer.Dial(wsURL(srv, "zh"), nil)
			if err != nil {
				t.Fatalf("one over the cap: %v, want an upgrade that says why", err)
			}
			c := &wsClient{t: t, conn: conn}
			m := c.next()
			if m["type"] != "error" || m["code"] != tc.code || !strings.Contains(m["message"].(string), tc.zh) {
				t.Fatalf("refusal %v", m)
			}
			if ce := c.closeOf(); ce.Code != websocket.CloseTryAgainLater {
				t.Fatalf("close %d, want 1013", ce.Code)
			}
			cs[0].conn.Close()
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				live.mu.Lock()
				open := live.open
				live.mu.Unlock()
				if open < tc.cap {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("closed session's slot never freed")
				}
			}
			dial(t, srv, "")
		})
	}
}

// TestShutdown: open pages get 1001, new sockets a 503 with the reason,
// an export in flight is cancelled with a 503, and Shutdown returns.
func TestShutdown(t *testing.T) {
	live, srv := liveServer(t, LiveOptions{})
	a := dial(t, srv, "")
	a.send(`{"v":1,"type":"start","widget":"w1","experiment":"stepper","params":{"costMs":10}}`)
	a.send(`{"v":1,"type":"play","widget":"w1"}`)
	a.state("w1", "running")
	exportDone := make(chan int, 1)
	go func() {
		resp, err := http.Get(srv.URL + "/export/stepper.png?total=100000&costMs=100")
		if err != nil {
			exportDone <- 0
			return
		}
		resp.Body.Close()
		exportDone <- resp.StatusCode
	}()
	for stepperRunning.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := live.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if ce := a.closeOf(); ce.Code != websocket.CloseGoingAway {
		t.Fatalf("close %d, want 1001", ce.Code)
	}
	if code := <-exportDone; code != http.StatusServiceUnavailable {
		t.Fatalf("export in flight: %d, want 503", code)
	}
	_, resp, err := websocket.DefaultDialer.Dial(wsURL(srv, ""), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("dial after shutdown: %v %v, want 503", err, resp)
	}
}

// TestFramePacing: eight widgets playing at full speed get at most
// maxFramesPerSecond frames a second between them (after one burst of
// maxRuns), each widget its turn. On fake time, so the count is exact.
func TestFramePacing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		live, stop := fakeLive(t, LiveOptions{ComputeSlots: 8, MaxMemoryPerIP: 1 << 40})
		defer stop()
		c := pipeDial(t, live, "10.0.0.1", "")
		for i := range maxRuns {
			w := "w" + string(rune('a'+i))
			c.send(`{"v":1,"type":"start","widget":"` + w + `","experiment":"stepper","params":{"total":100000,"costMs":1}}`)
			c.send(`{"v":1,"type":"speed","widget":"` + w + `","speed":120}`)
			c.send(`{"v":1,"type":"play","widget":"` + w + `"}`)
			time.Sleep(time.Second / 2) // within the command rate
		}
		c.state("wh", "running")
		time.Sleep(time.Second) // past the first burst
		for len(c.inbox) > 0 {  // what came before the window
			<-c.inbox
		}
		time.Sleep(3 * time.Second)
		perWidget := map[string]int{}
		frames := 0
		for len(c.inbox) > 0 {
			m, err := c.read()
			if err != nil {
				break
			}
			if m["type"] == "frame" {
				frames++
				perWidget[m["widget"].(string)]++
			}
		}
		c.conn.Close()
		t.Logf("%d frames in 3 s (%v per widget)", frames, perWidget)
		if frames > 3*maxFramesPerSecond+1 || frames < 3*maxFramesPerSecond-3 {
			t.Fatalf("%d frames in 3 s, want %d a second", frames, maxFramesPerSecond)
		}
		for w, n := range perWidget {
			if n < frames/maxRuns-2 {
				t.Fatalf("widget %s got %d of %d frames: no fair turns (%v)", w, n, frames, perWidget)
			}
		}
		if len(perWidget) != maxRuns {
			t.Fatalf("only %d of %d widgets got frames: %v", len(perWidget), maxRuns, perWidget)
		}
	})
}

// TestExport: one generic handler serves every spec's exports: the query
// decoded by the one decoder (errors in the query's language), the step
// replayed, heavy exports cached and slotted.
func TestExport(t *testing.T) {
	_, srv := liveServer(t, LiveOptions{})
	get := func(path string) (int, string, http.Header) {
		resp, b := fetch(t, srv.URL+path)
		return resp.StatusCode, string(b), resp.Header
	}
	for path, want := range map[string]string{
		"/export/stepper.json":                      "en step 100 of 100",
		"/export/stepper.json?total=9&step=4":       "en step 4 of 9",
		"/export/stepper.json?step=0&lang=zh":       "zh step 0 of 100",
		"/export/stepper.svg?preset=b&total=1e1":    "en step 10 of 10",
		"/export/stepper.json?total=5&costMs=null!": "",
	} {
		code, body, h := get(path)
		if want == "" {
			if code != http.StatusBadRequest || !strings.Contains(body, `"costMs" must be a whole number`) {
				t.Errorf("%s: %d %q", path, code, body)
			}
			continue
		}
		if code != http.StatusOK || body != want || h.Get("Content-Type") == "" {
			t.Errorf("%s: %d %q, want %q", path, code, body, want)
		}
	}
	for path, want := range map[string]string{
		"/export/stepper.json?total=0":         `parameter "total" must be a whole number from 1 to 100000; got 0`,
		"/export/stepper.json?total=0&lang=zh": "1 到 100000 之间的整数",
		"/export/stepper.json?Total=5":         "unknown parameter",
		"/export/stepper.json?total=5&total=6": "more than once",
		"/export/stepper.json?total=5&step=6":  "from 0 to 5",
		"/export/stepper.json?step=-1":         "≥ 0",
		"/export/stepper.json?lang=fr":         "lang must be en or zh",
	} {
		if code, body, _ := get(path); code != http.StatusBadRequest || !strings.Contains(body, want) {
			t.Errorf("%s: %d %q, want 400 with %q", path, code, body, want)
		}
	}
	if code, body, _ := get("/export/stepper.gif"); code != http.StatusNotFound || !strings.Contains(body, "stepper.json/.svg/.png/.csv") {
		t.Errorf("unknown export: %d %q", code, body)
	}
	// An experiment that refuses an export says why, in the page's
	// language, as a conflict with the run's state, not a server failure.
	if code, body, _ := get("/export/stepper.csv?step=0&lang=zh"); code != http.StatusConflict || !strings.Contains(body, "请先走一步") {
		t.Errorf("refused export: %d %q, want 409 with the zh reason", code, body)
	}
	if code, body, h := get("/export/stepper.csv?step=2"); code != http.StatusOK || body != "en step 2 of 100" || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") {
		t.Errorf("csv export at step 2: %d %q %q", code, body, h.Get("Content-Type"))
	}

	// A heavy export is computed once per URL.
	before := stepperBuilds.Load()
	for range 3 {
		if code, body, _ := get("/export/stepper.png?total=3"); code != http.StatusOK || body != "en step 3 of 3" {
			t.Fatalf("heavy: %d %q", code, body)
		}
	}
	if n := stepperBuilds.Load() - before; n != 1 {
		t.Fatalf("the same heavy export was built %d times", n)
	}

	// With its slots taken, an export is 503 with Retry-After at once; and
	// one address computes one download at a time.
	live := NewLive(LiveOptions{ComputeSlots: 4}, nil) // drawing holds a slot: the gated ones must not starve the rest
	exportFrom := func(ip, path string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", path, nil)
		r.RemoteAddr = ip + ":1"
		r.SetPathValue("file", strings.TrimPrefix(strings.SplitN(path, "?", 2)[0], "/export/"))
		w := httptest.NewRecorder()
		live.ServeExport(w, r)
		return w
	}
	exportGate = make(chan struct{})
	defer func() { exportGate = nil }()
	results := make(chan int, exportSlots)
	for i := range exportSlots {
		go func() {
			results <- exportFrom(fmt.Sprintf("10.0.0.%d", i+1), fmt.Sprintf("/export/stepper.svg?total=%d", i+1)).Code
		}()
	}
	for exportsAtGate.Load() < exportSlots { // both hold their slots
		time.Sleep(time.Millisecond)
	}
	for _, ip := range []string{"10.0.0.9", "10.0.0.1"} { // slots full; that address busy
		w := exportFrom(ip, "/export/stepper.json?total=7&lang=zh")
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != exportRetryAfter || !strings.Contains(w.Body.String(), "正忙") {
			t.Fatalf("from %s with every slot taken: %d %q %v", ip, w.Code, w.Body, w.Header())
		}
	}
	close(exportGate)
	for range exportSlots {
		if c := <-results; c != http.StatusOK {
			t.Fatalf("gated export: %d", c)
		}
	}
	if w := exportFrom("10.0.0.1", "/export/stepper.json?total=7"); w.Code != http.StatusOK {
		t.Fatalf("after the downloads: %d %s", w.Code, w.Body)
	}
}
