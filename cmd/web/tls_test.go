package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// selfSignedCert writes a certificate for 127.0.0.1 and localhost and its
// key to dir, as a teacher's mkcert would, and returns the files and a pool
// that trusts the certificate.
func selfSignedCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "paramshare test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestTLSServesHTTPS: with -tls-cert and -tls-key the server answers
// /healthz over TLS only, logs its https URL, accepts a websocket from its
// own https origin (the origin check compares hosts, whatever the scheme),
// refuses one from another site, and still shuts down gracefully.
func TestTLSServesHTTPS(t *testing.T) {
	certFile, keyFile, pool := selfSignedCert(t, t.TempDir())
	base, stop, done, out := start(t, "-tls-cert", certFile, "-tls-key", keyFile)
	if !strings.HasPrefix(base, "https://127.0.0.1:") {
		t.Fatalf("listening line %q, want https://127.0.0.1:PORT\n%s", base, out.String())
	}
	// The Transport adds h2 to its config's NextProtos, which a websocket
	// dialer must not offer: each gets its own config.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}, Timeout: 10 * time.Second}
	resp, err := client.Get(base + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz over TLS: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok" || resp.TLS == nil {
		t.Errorf("/healthz over TLS = %d %q (TLS state %v)", resp.StatusCode, body, resp.TLS != nil)
	}
	if resp.Proto != "HTTP/2.0" {
		t.Errorf("pages over TLS served with %s, want HTTP/2.0", resp.Proto)
	}
	client.CloseIdleConnections()

	// Plain HTTP on the TLS port gets net/http's 400, never a page.
	if code, body := getBody(t, "http"+strings.TrimPrefix(base, "https")+"/healthz"); code != http.StatusBadRequest {
		t.Errorf("plain HTTP on the TLS port answered %d %q, want 400", code, body)
	}

	dialer := &websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool}, HandshakeTimeout: 5 * time.Second}
	wsURL := "wss" + strings.TrimPrefix(base, "https") + "/ws"
	conn, _, err := dialer.Dial(wsURL, http.Header{"Origin": {base}})
	if err != nil {
		t.Fatalf("wss dial from the page's own https origin: %v", err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, msg, err := conn.ReadMessage(); err != nil || !strings.Contains(string(msg), `"hello"`) {
		t.Errorf("first message over wss: %q, %v; want the hello", msg, err)
	}
	if _, resp, err := dialer.Dial(wsURL, http.Header{"Origin": {"https://elsewhere.example"}}); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		t.Errorf("wss dial from another site: %v (status %d), want 403", err, code)
	}

	if on := offersExtendedConnect(t, base, pool); on {
		t.Error("the server's HTTP/2 SETTINGS offer extended CONNECT: browsers would open /ws over HTTP/2, which gorilla/websocket cannot upgrade; disable it, or serve TLS with HTTP/1.1 only (http.Server.Protocols)")
	}

	stop()
	var closeErr *websocket.CloseError
	for {
		if _, _, err := conn.ReadMessage(); err != nil {
			if !errors.As(err, &closeErr) {
				t.Errorf("wss ended with %v at shutdown, want a close frame", err)
			}
			break
		}
	}
	conn.Close()
	waitStopped(t, done)
}

// offersExtendedConnect reads the server's first HTTP/2 SETTINGS frame and
// tells whether it sets SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441), the
// signal on which browsers start websockets over HTTP/2 instead of HTTP/1.1.
func offersExtendedConnect(t *testing.T, base string, pool *x509.CertPool) bool {
	t.Helper()
	conn, err := tls.Dial("tcp", strings.TrimPrefix(base, "https://"), &tls.Config{RootCAs: pool, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatalf("h2 dial: %v", err)
	}
	defer conn.Close()
	if p := conn.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("ALPN chose %q, want h2", p)
	}
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	// Client preface, then an empty SETTINGS frame.
	if _, err := conn.Write(append([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), 0, 0, 0, 4, 0, 0, 0, 0, 0)); err != nil {
		t.Fatal(err)
	}
	header := make([]byte, 9) // length (3), type (1), flags (1), stream (4)
	if _, err := io.ReadFull(conn, header); err != nil {
		t.Fatalf("reading the server's first frame: %v", err)
	}
	if header[3] != 4 {
		t.Fatalf("the server's first frame has type %d, want SETTINGS (4)", header[3])
	}
	payload := make([]byte, int(header[0])<<16|int(header[1])<<8|int(header[2]))
	if _, err := io.ReadFull(conn, payload); err != nil {
		t.Fatal(err)
	}
	const enableConnectProtocol = 0x8
	for i := 0; i+6 <= len(payload); i += 6 {
		id := int(payload[i])<<8 | int(payload[i+1])
		value := int(payload[i+2])<<24 | int(payload[i+3])<<16 | int(payload[i+4])<<8 | int(payload[i+5])
		if id == enableConnectProtocol && value == 1 {
			return true
		}
	}
	return false
}

// TestTLSRejectsBadFiles: unreadable or mismatched files stop the server
// before it listens, naming the files.
func TestTLSRejectsBadFiles(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := selfSignedCert(t, dir)
	otherDir := t.TempDir()
	_, otherKey, _ := selfSignedCert(t, otherDir)
	missing := filepath.Join(dir, "missing.pem")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-tls-cert", missing, "-tls-key", keyFile}, "web: -tls-cert " + missing + " -tls-key " + keyFile + ": open " + missing},
		{[]string{"-tls-cert", certFile, "-tls-key", otherKey}, "private key does not match public key"},
		{[]string{"-tls-cert", keyFile, "-tls-key", certFile}, "web: -tls-cert " + keyFile},
	}
	for _, tt := range tests {
		var out syncBuffer
		err := run(context.Background(), append([]string{"web", "-addr", "127.0.0.1:0"}, tt.args...), func(string) string { return "" }, &out)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("run %q = %v, want an error containing %q", tt.args, err, tt.want)
		}
		if exitCode(err) != 1 {
			t.Errorf("run %q: exit status %d, want 1", tt.args, exitCode(err))
		}
		if strings.Contains(out.String(), "listening") {
			t.Errorf("run %q listened:\n%s", tt.args, out.String())
		}
	}
}

// TestTLSFlagAloneExits2 runs the real binary (this test binary, re-entering
// main) with only one of the two flags: it must exit with status 2 and a
// message naming both flags, before loading anything.
func TestTLSFlagAloneExits2(t *testing.T) {
	if args := os.Getenv("PARAMSHARE_TEST_MAIN_ARGS"); args != "" {
		os.Args = append([]string{"web"}, strings.Fields(args)...)
		main()
		return
	}
	for _, args := range [][]string{{"-tls-cert", "cert.pem"}, {"-tls-key", "key.pem"}} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestTLSFlagAloneExits2$")
		cmd.Env = append(os.Environ(), "PARAMSHARE_TEST_MAIN_ARGS="+strings.Join(args, " "))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) || exitErr.ExitCode() != 2 {
			t.Errorf("%q: %v, want exit status 2\n%s", args, err, stderr.String())
		}
		msg := stderr.String()
		if !strings.Contains(msg, "-tls-cert") || !strings.Contains(msg, "-tls-key") || !strings.Contains(msg, "both") {
			t.Errorf("%q: message %q does not name both flags", args, msg)
		}
	}
}
