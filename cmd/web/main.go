// Command web serves the ParamShare course: the lesson pages, their live
// widgets and exports.
//
//	go run ./cmd/web                       # http://localhost:8080
//	go run ./cmd/web -addr :8080           # reachable by the whole class
//	go run ./cmd/web -lessons ./my-course  # a teacher's own en/ and zh/ lessons
//	go run ./cmd/web -allow-origin https://class.example.org
//	go run ./cmd/web -max-sessions-per-ip 100  # a class behind one NAT address
//	go run ./cmd/web -addr :8443 -tls-cert class.pem -tls-key class-key.pem  # HTTPS
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/paramshare/paramshare/class"
	_ "github.com/paramshare/paramshare/experiments/all"
	"github.com/paramshare/paramshare/lessons"
	"github.com/paramshare/paramshare/web"
)

func main() {
	if err := run(context.Background(), os.Args, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(exitCode(err))
	}
}

// usageError is a command line that cannot mean anything (as opposed to a
// setting the server refuses, or a failure while serving): exit status 2, as
// the flag package's convention has it.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

func exitCode(err error) int {
	if errors.As(err, new(usageError)) {
		return 2
	}
	return 1
}

// loadTLS reads the certificate chain and key given by -tls-cert/-tls-key
// at start-up, so a wrong path or a key that does not match the certificate
// stops the server before it listens instead of failing every handshake.
// Both empty: plain HTTP (nil config).
func loadTLS(certFile, keyFile string) (*tls.Config, error) {
	if (certFile == "") != (keyFile == "") {
		return nil, usageError{errors.New("web: -tls-cert and -tls-key go together: give both (HTTPS) or neither (plain HTTP)")}
	}
	if certFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("web: -tls-cert %s -tls-key %s: %w", certFile, keyFile, err)
	}
	// Browsers use HTTP/2 for the pages when offered. The websocket still
	// works: Go's HTTP/2 server does not offer extended CONNECT (RFC 8441)
	// by default, so browsers open /ws over HTTP/1.1, the upgrade
	// gorilla/websocket handles.
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// Server timeouts. ReadHeaderTimeout stops slow-header clients from holding
// connections. WriteTimeout bounds ordinary page responses; it does not
// cut websockets, because gorilla/websocket clears the deadlines net/http
// set when it hijacks the connection and then manages its own
// (TestRunWebsocketOutlivesWriteTimeout checks this).
type timeouts struct {
	readHeader, read, write, idle, shutdown time.Duration
}

var serverTimeouts = timeouts{
	readHeader: 5 * time.Second,
	read:       15 * time.Second,
	write:      30 * time.Second,
	idle:       2 * time.Minute,
	shutdown:   10 * time.Second,
}

// originList is a repeatable flag whose values may also be comma-separated.
type originList []string

func (o *originList) String() string { return strings.Join(*o, ",") }

func (o *originList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		origin, err := parseOrigin(s)
		if err != nil {
			return err
		}
		*o = append(*o, origin)
	}
	return nil
}

// parseOrigin checks that s is an origin as browsers send it in the Origin
// header, scheme://host[:port] with scheme http or https and nothing after
// the host (a trailing "/" is forgiven), and returns it without the slash.
// Anything more, a path above all, could never equal a browser's Origin.
func parseOrigin(s string) (string, error) {
	bad := func(why string) error {
		return fmt.Errorf("web: -allow-origin %q: %s; an origin is scheme://host[:port], e.g. https://class.example.org or http://10.0.0.5:8080", s, why)
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "", bad("not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return "", bad("the scheme must be http or https")
	case u.Host == "" || u.Hostname() == "":
		return "", bad("the host is missing")
	case u.User != nil:
		return "", bad("it must not carry a user name")
	case u.Path != "" && u.Path != "/", u.RawQuery != "", u.Fragment != "", u.ForceQuery:
		return "", bad("it must not have a path, query or fragment (browsers send none, so it could never match)")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", bad("the port must be 1 to 65535")
		}
	}
	return u.Scheme + "://" + u.Host, nil
}

// run is the whole program: it parses args (args[0] is the program name),
// loads the lessons, serves until ctx is cancelled or SIGINT/SIGTERM
// arrives, then shuts down gracefully: open websockets get a close frame,
// in-flight requests finish. It prints the listening address to stdout as
// "listening on http://HOST:PORT" (https with -tls-cert and -tls-key; tests
// read it when -addr ends in :0).
// getenv supplies PARAMSHARE_ADDR, the default for -addr.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	defaultAddr := "localhost:8080"
	if a := getenv("PARAMSHARE_ADDR"); a != "" {
		defaultAddr = a
	}
	flags := flag.NewFlagSet(args[0], flag.ContinueOnError)
	flags.SetOutput(stdout)
	addr := flags.String("addr", defaultAddr, "address to listen on (host:port; use :8080 to serve a classroom)")
	lessonsDir := flags.String("lessons", "", "serve the lessons in `DIR` (with en/ and zh/ subfolders) instead of the built-in course")
	var origins originList
	flags.Var(&origins, "allow-origin", "extra `ORIGIN` (https://host[:port]) allowed to open the live websocket; repeatable or comma-separated")
	maxSessions := flags.Int("max-sessions", web.DefaultMaxSessions, "most open lesson pages (websockets) at once, over all clients")
	maxPerIP := flags.Int("max-sessions-per-ip", web.DefaultMaxSessionsPerIP, "most open lesson pages from one IP address; raise it when a class shares one address (NAT, a reverse proxy)")
	tlsCert := flags.String("tls-cert", "", "serve HTTPS with the PEM certificate (chain) in `FILE`; needs -tls-key")
	tlsKey := flags.String("tls-key", "", "the PEM private key in `FILE` for -tls-cert")
	dataDir := flags.String("data", class.DefaultDir(), "keep the classroom's rooms, seats and class boards in `DIR` (file class.db); \"off\" serves without a classroom")
	debugAddr := flags.String("debug-addr", "", "serve Go's profiles (net/http/pprof: goroutines, heap, CPU) on this loopback `ADDR` (e.g. 127.0.0.1:6060), for load runs; off by default")
	codePrefix := flags.String("code-prefix", "", "start every new class code with this `LETTER` (one per replica behind a load balancer that routes rooms by their code's first letter: docs/self-hosting.md)")
	deleteRoom := flags.String("delete-room", "", "delete the room with join `CODE` and all its data (seats, board) from -data, then exit")
	retention := flags.Duration("retention", web.DefaultRetention, "delete a room's data this long after its last activity")
	maxRooms := flags.Int("rooms", web.DefaultMaxRooms, "most classes open at once")
	roomSeats := flags.Int("room-seats", web.DefaultRoomSeats, "most students (seats) in one class")
	roomSessions := flags.Int("room-sessions", web.DefaultRoomSessions, "most pages open in one class (rooms count seats and their pages, not addresses)")
	joinFailures := flags.Int("join-failures", web.DefaultJoinFailures, "unknown class codes one address may try in 10 minutes before its lookups are refused (a school behind one address shares it)")
	roomsPerHour := flags.Int("rooms-per-hour", web.DefaultRoomsPerHour, "rooms one address may open an hour")
	roomTraining := flags.Int("room-training", web.DefaultRoomTraining, "most students' training runs of one class that play at once; more wait in line, their place shown")
	roomMemory := flags.Int("room-memory", web.DefaultRoomMemory>>20, "most memory, in `MB`, the runs of one class may declare (a forked training run declares 15)")
	memoryBase := flags.Int("memory-base", 64, "the Go runtime's memory limit is this many `MB` plus the memory the open runs declare (a forked training run declares 15), so the server holds what its runs need rather than twice that in garbage; 0 leaves the limit alone (GOMEMLIMIT set does too)")
	slots := flags.Int("compute-slots", 0, "how many experiment steps run at once: the CPU widgets and downloads may take, shared fairly between addresses (0: one per core but one)")
	if err := flags.Parse(args[1:]); err != nil {
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("web: unexpected arguments %q", flags.Args())
	}
	if *maxSessions < 1 {
		return fmt.Errorf("web: -max-sessions must be at least 1, got %d", *maxSessions)
	}
	if *slots < 0 || *slots > 256 {
		return fmt.Errorf("web: -compute-slots must be between 0 (automatic) and 256, got %d", *slots)
	}
	if *maxPerIP < 1 || *maxPerIP > *maxSessions {
		return fmt.Errorf("web: -max-sessions-per-ip must be between 1 and -max-sessions (%d), got %d", *maxSessions, *maxPerIP)
	}
	for name, v := range map[string]int{"rooms": *maxRooms, "room-seats": *roomSeats, "room-sessions": *roomSessions, "room-memory": *roomMemory, "room-training": *roomTraining, "join-failures": *joinFailures, "rooms-per-hour": *roomsPerHour} {
		if v < 1 {
			return fmt.Errorf("web: -%s must be at least 1, got %d", name, v)
		}
	}
	if *retention < time.Hour {
		return fmt.Errorf("web: -retention must be at least 1h, got %s", *retention)
	}
	var store *class.Store
	if *dataDir != "off" {
		var err error
		if store, err = class.Open(filepath.Join(*dataDir, "class.db")); err != nil {
			return fmt.Errorf("web: the classroom's data: %w (choose another -data DIR, or -data off)", err)
		}
		defer store.Close()
		if err := store.SetCodePrefix(*codePrefix); err != nil {
			return fmt.Errorf("web: -code-prefix: %w", err)
		}
	}
	if *deleteRoom != "" {
		if store == nil {
			return fmt.Errorf("web: -delete-room needs -data DIR")
		}
		if err := store.DeleteRoomByCode(*deleteRoom); err != nil {
			return fmt.Errorf("web: deleting room %q: %w", *deleteRoom, err)
		}
		fmt.Fprintf(stdout, "room %s and its data deleted from %s\n", strings.ToUpper(strings.TrimSpace(*deleteRoom)), *dataDir)
		return nil
	}
	tlsConfig, err := loadTLS(*tlsCert, *tlsKey)
	if err != nil {
		return err
	}

	log := slog.New(slog.NewTextHandler(stdout, nil))
	// Package run logs the panics it recovers in experiments through slog's
	// default logger: send them to the server's log.
	slog.SetDefault(log)

	var lessonFS fs.FS = lessons.Embedded
	source := "built-in"
	if *lessonsDir != "" {
		lessonFS, source = os.DirFS(*lessonsDir), *lessonsDir
	}
	set, err := lessons.Loader{ValidateWidget: web.ValidateWidget}.Load(lessonFS)
	if err != nil {
		return fmt.Errorf("web: loading lessons from %s:\n%w", source, err)
	}
	if err := web.CheckWidgets(set); err != nil {
		return err
	}
	log.Info("lessons loaded", "source", source, "en", len(set.Lessons("en")), "zh", len(set.Lessons("zh")))

	var declared func(int64)
	if *memoryBase > 0 && os.Getenv("GOMEMLIMIT") == "" { // the runtime's own variable, not a setting of ours
		declared = memoryLimit(int64(*memoryBase) << 20)
		declared(0)
	}
	live := web.NewLive(web.LiveOptions{
		Declared:       declared,
		AllowedOrigins: origins, MaxSessions: *maxSessions, MaxSessionsPerIP: *maxPerIP, ComputeSlots: *slots,
		Class: web.ClassOptions{
			Store: store, MaxRooms: *maxRooms, RoomSeats: *roomSeats, RoomSessions: *roomSessions,
			RoomMemory: int64(*roomMemory) << 20, Retention: *retention, RoomTraining: *roomTraining,
			JoinFailures: *joinFailures, RoomsPerHour: *roomsPerHour,
		},
	}, log)
	if store != nil {
		log.Info("classroom data", "dir", *dataDir, "retention", *retention)
	}
	srv := &http.Server{
		Handler:           web.NewServer(log, set, live),
		ReadHeaderTimeout: serverTimeouts.readHeader,
		ReadTimeout:       serverTimeouts.read,
		WriteTimeout:      serverTimeouts.write,
		IdleTimeout:       serverTimeouts.idle,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		TLSConfig:         tlsConfig,
	}
	if *debugAddr != "" {
		stopDebug, err := serveDebug(*debugAddr, stdout)
		if err != nil {
			return err
		}
		defer stopDebug()
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("web: %w", err)
	}
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
	}
	fmt.Fprintf(stdout, "listening on %s://%s\n", scheme, ln.Addr())

	serveErr := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			serveErr <- srv.ServeTLS(ln, "", "") // the certificate is in srv.TLSConfig
			return
		}
		serveErr <- srv.Serve(ln)
	}()

	select {
	case err := <-serveErr:
		return fmt.Errorf("web: serving: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")

	// Shutdown's deadline must not derive from ctx, which is already done.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), serverTimeouts.shutdown)
	defer cancel()
	// Live first, while the listener still accepts: pages get their close
	// frame, new /ws requests a 503 saying why, exports in flight are
	// cancelled (503). http.Server.Shutdown does not touch hijacked
	// connections; it then lets the remaining requests finish.
	liveErr := live.Shutdown(shutdownCtx)
	httpErr := srv.Shutdown(shutdownCtx)
	if err := errors.Join(httpErr, liveErr); err != nil {
		return fmt.Errorf("web: shutdown: %w", err)
	}
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("web: serving: %w", err)
	}
	log.Info("stopped")
	return nil
}
