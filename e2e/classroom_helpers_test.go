package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/paramshare/paramshare/class"
	"github.com/paramshare/paramshare/lessons"
	"github.com/paramshare/paramshare/web"
)

// The classroom's browser tests need what startSite cannot give: a server
// that stops and starts again as a process would, on the same address (the
// pages' origin, which keys their localStorage) and with the same data
// directory. classServer is that; inContext opens a page in a browser
// context of its own (its own localStorage, as another person's browser).

// classServer serves the course with a classroom whose store is a file in
// a directory that outlives restarts.
type classServer struct {
	URL  string
	addr string
	db   string
	set  *lessons.Set

	mu    sync.Mutex
	store *class.Store
	live  *web.Live
	srv   *http.Server
}

// startClassServer serves the course with a classroom on a free loopback
// port until the test ends.
func startClassServer(t *testing.T) *classServer {
	t.Helper()
	set, err := lessons.Loader{ValidateWidget: web.ValidateWidget}.Load(lessons.Embedded)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cs := &classServer{addr: ln.Addr().String(), db: filepath.Join(t.TempDir(), "class.db"), set: set}
	cs.URL = "http://" + cs.addr
	if err := cs.serve(ln); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.stop(t) })
	return cs
}

// serve opens the store and serves on ln.
func (cs *classServer) serve(ln net.Listener) error {
	st, err := class.Open(cs.db)
	if err != nil {
		ln.Close()
		return err
	}
	live := web.NewLive(web.LiveOptions{Class: web.ClassOptions{Store: st}}, nil)
	srv := &http.Server{Handler: web.NewServer(nil, cs.set, live), ReadHeaderTimeout: 10 * time.Second}
	cs.mu.Lock()
	cs.store, cs.live, cs.srv = st, live, srv
	cs.mu.Unlock()
	go srv.Serve(ln)
	return nil
}

// stop shuts the server down as cmd/web does on a signal (the Live first:
// pages get their close frame), then closes the store. Stopping a stopped
// server does nothing.
func (cs *classServer) stop(t *testing.T) {
	t.Helper()
	cs.mu.Lock()
	st, live, srv := cs.store, cs.live, cs.srv
	cs.store, cs.live, cs.srv = nil, nil, nil
	cs.mu.Unlock()
	if srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := live.Shutdown(ctx); err != nil {
		t.Errorf("shut the Live down: %v", err)
	}
	if err := srv.Shutdown(ctx); err != nil {
		srv.Close()
	}
	if err := st.Close(); err != nil {
		t.Errorf("close the store: %v", err)
	}
}

// restart stops the server and starts a new one on the same address with
// the same data file.
func (cs *classServer) restart(t *testing.T) {
	t.Helper()
	cs.stop(t)
	var ln net.Listener
	var err error
	// The port was just released: another process could take it, but on
	// loopback during a test it comes back at once (a retry or two at most).
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if ln, err = net.Listen("tcp", cs.addr); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("listen again on %s: %v", cs.addr, err)
	}
	if err := cs.serve(ln); err != nil {
		t.Fatalf("serve again: %v", err)
	}
}

// post sends body as JSON (nil: no body) and returns the status and the
// decoded answer.
func (cs *classServer) post(t *testing.T, path string, body any) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	res, err := http.Post(cs.URL+path, "application/json", r)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer res.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatalf("POST %s: %d, answer not JSON: %v", path, res.StatusCode, err)
	}
	return res.StatusCode, out
}

// boardRun is one run of board.json.
type boardRun struct {
	Run        int            `json:"run"`
	Label      string         `json:"label"`
	Experiment string         `json:"experiment"`
	Params     map[string]any `json:"params"`
	Points     [][2]*float64  `json:"points"`
	Accuracy   *float64       `json:"accuracy"`
}

// board fetches the room's board.json; a status other than 200 is an
// error (409: the board is empty).
func (cs *classServer) board(code string) ([]boardRun, error) {
	res, err := http.Get(cs.URL + "/class/" + code + "/board.json")
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		return nil, errors.New(res.Status + ": " + strings.TrimSpace(string(b)))
	}
	var out struct {
		Runs []boardRun `json:"runs"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out.Runs, nil
}

// inContext opens a tab in a new browser context of the browser of ctx (a
// person's own browser: its own localStorage, sessionStorage and cookies),
// closed when the test ends; name labels its console messages.
func inContext(t *testing.T, browser context.Context, name string) context.Context {
	t.Helper()
	tab, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	watchConsole(t, tab, name)
	return tab
}

// ensureBrowser makes sure the browser of ctx runs, so that contexts can be
// made in it.
func ensureBrowser(t *testing.T, ctx context.Context) {
	t.Helper()
	do(t, ctx, "start the browser", chromedp.Navigate("about:blank"))
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
