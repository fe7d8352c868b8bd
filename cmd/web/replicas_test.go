package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gorilla/websocket"
)

// roomCode finds a class code in a request the way docs/self-hosting.md's
// load-balancer rules do: in the path (/class/CODE/…, /LANG/class/CODE/…),
// or the query's room or code.
var pathCode = regexp.MustCompile(`^/(?:[a-z]{2}/)?class/([A-Za-z0-9]{6})(?:/|$)`)

func roomCode(r *http.Request) string {
	if m := pathCode.FindStringSubmatch(r.URL.Path); m != nil && m[1] != "teach" {
		return strings.ToUpper(m[1])
	}
	for _, k := range []string{"room", "code"} {
		if c := r.URL.Query().Get(k); c != "" {
			return strings.ToUpper(c)
		}
	}
	return ""
}

// TestTwoReplicas: two servers, each with its own data directory and code
// prefix, behind a proxy that routes a request by its code's first letter
// (round-robin when it has none, as opening a room): rooms opened through
// the proxy land on both, and every later request of a room — joining,
// its socket, its QR code, its board — reaches the replica that holds it.
func TestTwoReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two servers")
	}
	backends := map[byte]*url.URL{}
	var order []*url.URL
	for _, p := range []string{"A", "B"} {
		base, stop, _, _ := start(t, "-data", t.TempDir(), "-code-prefix", p)
		t.Cleanup(stop)
		u, _ := url.Parse(base)
		backends[p[0]] = u
		order = append(order, u)
	}
	var turn atomic.Int64
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		if c := roomCode(pr.In); c != "" {
			pr.SetURL(backends[c[0]])
			return
		}
		pr.SetURL(order[turn.Add(1)%int64(len(order))])
	}}
	front := httptest.NewServer(proxy)
	defer front.Close()

	codes := map[byte]string{}
	for range 2 {
		resp, err := http.Post(front.URL+"/class/rooms", "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]string
		json.NewDecoder(resp.Body).Decode(&m)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("open a room through the proxy: %d %v", resp.StatusCode, m)
		}
		codes[m["code"][0]] = m["code"]
		secret := m["secret"]
		code := m["code"]
		// The teacher's socket reaches the room's replica.
		ws := "ws" + strings.TrimPrefix(front.URL, "http") + "/ws?lang=en&room=" + code
		conn, _, err := websocket.DefaultDialer.Dial(ws, nil)
		if err != nil {
			t.Fatal(err)
		}
		conn.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`{"v":1,"type":"teach","room":%q,"secret":%q,"lesson":""}`, code, secret)))
		for {
			_, b, err := conn.ReadMessage()
			if err != nil {
				t.Fatalf("room %s's teacher socket: %v", code, err)
			}
			var msg map[string]any
			json.Unmarshal(b, &msg)
			if msg["type"] == "error" {
				t.Fatalf("room %s's teacher socket: %v", code, msg)
			}
			if msg["type"] == "room" {
				break
			}
		}
		conn.Close()
	}
	if codes['A'] == "" || codes['B'] == "" {
		t.Fatalf("rooms opened through the proxy: %v, want one on each replica", codes)
	}
	for _, code := range codes {
		resp, err := http.Post(front.URL+"/class/join?room="+code, "application/json", strings.NewReader(fmt.Sprintf(`{"code":%q,"nick":"Ada"}`, code)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("join %s through the proxy: %d", code, resp.StatusCode)
		}
		for _, path := range []string{"/class/" + code + "/qr.svg", "/en/class/" + code + "/show"} {
			resp, err := http.Get(front.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s through the proxy: %d", path, resp.StatusCode)
			}
		}
	}
}
