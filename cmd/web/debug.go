package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime/debug"
)

// serveDebug serves Go's profiles on addr, which must be a loopback
// address: goroutine counts and heap profiles are for the machine's
// operator (a load run), not for the class.
func serveDebug(addr string, stdout io.Writer) (stop func(), err error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("web: -debug-addr: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("web: -debug-addr must be a loopback address (127.0.0.1:PORT or [::1]:PORT), got %q", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("web: -debug-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	fmt.Fprintf(stdout, "profiles on http://%s/debug/pprof/\n", ln.Addr())
	return func() { srv.Close() }, nil
}

// memoryLimit returns what sets the Go runtime's memory limit to base plus
// the memory the open runs declare, as it changes (-memory-base).
func memoryLimit(base int64) func(total int64) {
	return func(total int64) { debug.SetMemoryLimit(base + total) }
}
