// Command classload simulates a class on loopback against a paramshare
// server it spawns, and prints what the class costs the server: frame gaps,
// time to first frame, refusals with their messages, the server's RSS, CPU,
// threads and open files (docs/perf.md, "Classroom").
//
//	go run ./cmd/classload                      # the class: 200 students, 30 forks, 1,000 cycles
//	go run ./cmd/classload -students 20 -forks 5 -cycles 50 -settle 5s   # a quick look
//	go run ./cmd/classload -server ./paramshare-web   # a server built beforehand
//
// The phases, in order (a count or duration of 0 skips one):
//
//  1. baseline: one private run of each widget, one viewer (the frame rate one viewer gets);
//  2. join burst: the teacher opens a room and plays conv-slide, then every student at
//     once joins (POST /class/join), sits (seat) and follows the teacher's widget;
//  3. follow conv-slide for -conv;
//  4. the teacher pushes the cnn-train lesson, every page moves to it, the teacher plays
//     the race; follow it for -cnn;
//  5. -forks students fork it for -fork-time, then go back to following: by default as the
//     page's Fork button does (start with fork: the server copies the followed run at its
//     step), or -fork-mode start (a run of the teacher's parameters from step 0) or seek
//     (that, sought to the teacher's step: a replay each); per fork the time to its first
//     own frame, its steps/s, and the server's RSS per fork;
//  6. reconnect storm: every student drops its socket and comes back to its seat within
//     -storm-jitter;
//  7. -cycles join/leave cycles (join, seat, follow, first frame, close), then the server's
//     open files, threads, RSS and goroutines (its -debug-addr profiles) before and -settle
//     after (the park and idle timers are 60 s).
//
// At the end the server gets SIGQUIT with GOTRACEBACK=all: its goroutines, counted by
// function, show whether sessions outlived their sockets.
// classload exits non-zero only when the harness itself fails; a missed target prints MISS.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/gorilla/websocket"

	"github.com/paramshare/paramshare/lessons"
)

func main() {
	cfg := defaultConfig()
	cfg.register(flag.CommandLine)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "classload:", err)
		os.Exit(1)
	}
}

// config is the scenario; the defaults are issue 11's numbers.
type config struct {
	server, data, serverArgs string
	students                 int
	baseline                 bool
	conv, cnn                time.Duration
	speed                    float64
	cnnEpochs                int
	forks                    int
	forkTime                 time.Duration
	forkMode                 string
	cpuProfile               string
	storm                    bool
	stormJitter              time.Duration
	cycles, cycleWorkers     int
	settle                   time.Duration
	dump                     bool
}

func defaultConfig() config {
	return config{
		students: 200, baseline: true, conv: 20 * time.Second, cnn: 30 * time.Second, speed: 8,
		cnnEpochs: 20, forks: 30, forkTime: 60 * time.Second, forkMode: forkCopy, storm: true, stormJitter: 2 * time.Second,
		cycles: 1000, cycleWorkers: 4, settle: 65 * time.Second, dump: true,
	}
}

func (c *config) register(fs *flag.FlagSet) {
	fs.StringVar(&c.server, "server", "", "the server `BIN`ary to spawn (default: go build ./cmd/web into a temporary directory)")
	fs.StringVar(&c.data, "data", "", "the server's -data `DIR` (default: a new temporary directory, removed afterwards)")
	fs.StringVar(&c.serverArgs, "server-args", "", "more flags for the server, space-separated (e.g. \"-compute-slots 2\")")
	fs.IntVar(&c.students, "students", c.students, "students in the class (the join burst)")
	fs.BoolVar(&c.baseline, "baseline", c.baseline, "first measure one viewer of a private run of each widget (the rate the followers are compared with)")
	fs.DurationVar(&c.conv, "conv", c.conv, "how long the class follows the teacher's conv-slide")
	fs.DurationVar(&c.cnn, "cnn", c.cnn, "how long the class follows the teacher's cnn-train race")
	fs.Float64Var(&c.speed, "speed", c.speed, "the teacher's (and the forks') speed, steps per second")
	fs.IntVar(&c.cnnEpochs, "cnn-epochs", c.cnnEpochs, "epochs of the teacher's race (the lesson's 3 make 93 steps, 12 s at speed 8; 20 make the 600-step cap)")
	fs.IntVar(&c.forks, "forks", c.forks, "students who fork the race at once")
	fs.DurationVar(&c.forkTime, "fork-time", c.forkTime, "how long the forks train")
	fs.StringVar(&c.forkMode, "fork-mode", c.forkMode, "how a student forks: copy (start with fork, as the page's Fork button: the server copies the followed run at its step), start (a run of the teacher's parameters from step 0), seek (start, then seek to the teacher's step: a replay each)")
	fs.StringVar(&c.cpuProfile, "cpu-profile", c.cpuProfile, "write the server's CPU profile over the forks' window to this `FILE` (go tool pprof -top FILE)")
	fs.BoolVar(&c.storm, "storm", c.storm, "every student drops its socket and reconnects")
	fs.DurationVar(&c.stormJitter, "storm-jitter", c.stormJitter, "the storm's reconnections are spread over this long")
	fs.IntVar(&c.cycles, "cycles", c.cycles, "join/leave cycles (join, seat, follow, first frame, close)")
	fs.IntVar(&c.cycleWorkers, "cycle-workers", c.cycleWorkers, "cycles running at once")
	fs.DurationVar(&c.settle, "settle", c.settle, "pause after the cycles before the 'after' sample (a seat's runs are parked 60 s)")
	fs.BoolVar(&c.dump, "goroutines", c.dump, "end the server with SIGQUIT (GOTRACEBACK=all) and count its goroutines by function")
}

// The widget every phase drives: the first of its lesson's page.
const widgetID = "w1"

// The ways a student forks the teacher's race (-fork-mode).
const (
	forkCopy  = "copy"
	forkStart = "start"
	forkSeek  = "seek"
)

// lessonWidget is the lesson a widget is on and its directive's parameters.
type lessonWidget struct {
	lesson, experiment string
	params             map[string]any
}

// findWidget is the first widget named experiment in the built-in course
// (English), with its lesson and parameters.
func findWidget(set *lessons.Set, experiment string) (lessonWidget, error) {
	for _, l := range set.Lessons("en") {
		for _, w := range l.Widgets {
			if w.Name != experiment {
				continue
			}
			if w.ID != widgetID {
				return lessonWidget{}, fmt.Errorf("the %s widget of lesson %s is %s, not %s", experiment, l.Slug, w.ID, widgetID)
			}
			p := map[string]any{}
			if err := json.Unmarshal([]byte(w.Params), &p); err != nil {
				return lessonWidget{}, fmt.Errorf("lesson %s: %s params: %w", l.Slug, experiment, err)
			}
			return lessonWidget{lesson: l.Slug, experiment: experiment, params: p}, nil
		}
	}
	return lessonWidget{}, fmt.Errorf("no lesson has a %s widget", experiment)
}

// result is what a run measured, for the test and the caller.
type result struct {
	baselineFPS         map[string]float64
	burst               burstStats
	follow              map[string]followStats
	forkRates           []float64
	fork                forkStats
	goroutinesBefore    int // the server's goroutines before the cycles and settle after
	goroutinesAfter     int
	stormBack           []time.Duration
	stormFailed         int
	cyclesOK, cyclesBad int
	before, after       procSample
	goroutines          map[string]int
	refusals            map[string]int
}

// run is the whole program: it spawns the server, runs the phases and
// prints their tables to out.
func run(ctx context.Context, cfg config, out io.Writer) (*result, error) {
	set, err := lessons.Load(lessons.Embedded)
	if err != nil {
		return nil, fmt.Errorf("loading the built-in lessons: %w", err)
	}
	conv, err := findWidget(set, "conv-slide")
	if err != nil {
		return nil, err
	}
	cnn, err := findWidget(set, "cnn-train")
	if err != nil {
		return nil, err
	}
	cnn.params["epochs"] = cfg.cnnEpochs
	switch cfg.forkMode {
	case forkCopy, forkStart, forkSeek:
	default:
		return nil, fmt.Errorf("-fork-mode %q: want copy, start or seek", cfg.forkMode)
	}

	tmp, err := os.MkdirTemp("", "classload-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	bin := cfg.server
	if bin == "" {
		if bin, err = buildServer(ctx, tmp); err != nil {
			return nil, err
		}
	}
	data := cfg.data
	if data == "" {
		data = filepath.Join(tmp, "data")
	}
	// Every cycle joins with a new seat: the room must hold them all. The
	// profiles count goroutines and profile the CPU.
	args := []string{"-room-seats", strconv.Itoa(cfg.students + cfg.cycles + 16), "-debug-addr", "127.0.0.1:0"}
	args = append(args, strings.Fields(cfg.serverArgs)...)
	srv, err := startServer(ctx, bin, data, tmp, args)
	if err != nil {
		return nil, err
	}
	defer srv.kill()

	h := &harness{cfg: cfg, srv: srv, out: out, t0: time.Now(), refusals: map[string]int{}, res: &result{
		baselineFPS: map[string]float64{}, follow: map[string]followStats{},
	}}
	h.sampler = startSampler(srv.pid, 500*time.Millisecond)
	defer h.sampler.stop()
	h.header(bin, args)
	if err := h.phases(ctx, conv, cnn); err != nil {
		return h.res, err
	}
	h.sampler.stop()
	h.setPhase(phaseEnd)
	if cfg.dump {
		if h.res.goroutines, err = srv.quit(); err != nil {
			fmt.Fprintf(out, "\ngoroutine dump: %v\n", err)
		} else {
			h.printGoroutines()
		}
	}
	h.printTargets()
	h.printRefusals()
	h.res.refusals = h.refusals
	return h.res, nil
}

// harness holds a run's state.
type harness struct {
	cfg     config
	srv     *server
	out     io.Writer
	t0      time.Time
	sampler *sampler
	res     *result

	phase    atomic.Value // string: the phase refusals are counted under
	mu       sync.Mutex
	refusals map[string]int

	code, secret string
	teacher      *client
	students     []*client
}

func (h *harness) setPhase(p string) { h.phase.Store(p) }

const phaseEnd = "end"

// mark samples the server now (so that a window short beside the
// sampler's period still has its ends) and returns the time since t0.
func (h *harness) mark() time.Duration {
	h.sampler.sampleNow()
	return h.now()
}

// refused counts one refusal or error, by phase and words.
func (h *harness) refused(what string) {
	p, _ := h.phase.Load().(string)
	if p == phaseEnd {
		return // the harness stops the server under its open pages
	}
	h.mu.Lock()
	h.refusals[p+"\t"+what]++
	h.mu.Unlock()
}

func (h *harness) phases(ctx context.Context, conv, cnn lessonWidget) error {
	if h.cfg.baseline {
		h.setPhase("baseline")
		if err := h.baselines(ctx, conv, cnn); err != nil {
			return err
		}
	}
	if h.cfg.students <= 0 {
		return nil
	}
	h.setPhase("join burst")
	if err := h.openRoom(ctx, conv); err != nil {
		return err
	}
	if err := h.joinBurst(ctx, conv); err != nil {
		return err
	}
	if h.cfg.conv > 0 {
		h.setPhase("follow conv-slide")
		h.followWindow(ctx, "follow conv-slide", h.students, h.cfg.conv, "conv-slide")
	}
	h.setPhase("follow cnn-train")
	if err := h.moveToCNN(ctx, cnn); err != nil {
		return err
	}
	if h.cfg.forks > 0 && h.cfg.forkTime > 0 {
		h.setPhase("forks")
		if err := h.forkPhase(ctx, cnn); err != nil {
			return err
		}
	}
	if h.cfg.storm {
		h.setPhase("reconnect storm")
		h.stormPhase(ctx, cnn)
	}
	if h.cfg.cycles > 0 {
		h.setPhase("join/leave cycles")
		h.cyclePhase(ctx, cnn)
	}
	return ctx.Err()
}

// ---- the server ----

// buildServer builds cmd/web of this module into dir.
func buildServer(ctx context.Context, dir string) (string, error) {
	mod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(mod)) == "" || strings.TrimSpace(string(mod)) == os.DevNull {
		return "", fmt.Errorf("finding the module (run classload inside the repository, or give -server): %v", err)
	}
	bin := filepath.Join(dir, "paramshare-web")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/web")
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(mod)))
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/web: %v\n%s", err, b)
	}
	return bin, nil
}

// server is the spawned server process.
type server struct {
	cmd        *exec.Cmd
	pid        int
	addr       string // host:port
	debug      string // http://host:port of its profiles (-debug-addr)
	origin     string // http://host:port, the Origin its pages send
	stderrPath string
	logPath    string
	exited     chan struct{}
}

// startServer runs bin on a free loopback port with its data in data, and
// waits for its "listening on" line.
func startServer(ctx context.Context, bin, data, tmp string, extra []string) (*server, error) {
	args := append([]string{"-addr", "127.0.0.1:0", "-data", data}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "GOTRACEBACK=all")
	s := &server{cmd: cmd, stderrPath: filepath.Join(tmp, "server.stderr"), logPath: filepath.Join(tmp, "server.log"), exited: make(chan struct{})}
	stderr, err := os.Create(s.stderrPath)
	if err != nil {
		return nil, err
	}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	s.pid = cmd.Process.Pid
	addr := make(chan string, 1)
	var debug string
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, line)
			// Said before "listening on": set before addr is sent.
			if a, ok := strings.CutPrefix(line, "profiles on "); ok {
				debug = strings.TrimSuffix(a, "/debug/pprof/")
			}
			if a, ok := strings.CutPrefix(line, "listening on http://"); ok {
				select {
				case addr <- a:
				default:
				}
			}
		}
		logf.Close()
	}()
	go func() { cmd.Wait(); stderr.Close(); close(s.exited) }()
	select {
	case a := <-addr:
		s.addr, s.origin, s.debug = a, "http://"+a, debug
		return s, nil
	case <-s.exited:
		b, _ := os.ReadFile(s.stderrPath)
		l, _ := os.ReadFile(s.logPath)
		return nil, fmt.Errorf("the server exited before listening:\n%s%s", l, b)
	case <-time.After(60 * time.Second):
		s.kill()
		return nil, errors.New("the server did not say where it listens within 60 s")
	case <-ctx.Done():
		s.kill()
		return nil, ctx.Err()
	}
}

func (s *server) kill() {
	select {
	case <-s.exited:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

// debugClient keeps no connection open: a kept one would be the server's
// goroutine and fd between two samples.
var debugClient = &http.Client{Timeout: 90 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// goroutines is the server's goroutine count, from its profiles' first
// line "goroutine profile: total N".
func (s *server) goroutines(ctx context.Context) (int, error) {
	b, err := s.debugGet(ctx, "/debug/pprof/goroutine?debug=1", 1<<16)
	if err != nil {
		return 0, err
	}
	first, _, _ := strings.Cut(string(b), "\n")
	n, err := strconv.Atoi(strings.TrimPrefix(first, "goroutine profile: total "))
	if err != nil {
		return 0, fmt.Errorf("goroutine profile: first line %q", first)
	}
	return n, nil
}

// liveHeap is the server's heap after a collection (HeapAlloc of the heap
// profile with gc=1, in KB): the memory its objects hold, where RSS also
// holds what the collector has not given back yet.
func (s *server) liveHeap(ctx context.Context) (int, error) {
	b, err := s.debugGet(ctx, "/debug/pprof/heap?gc=1&debug=1", 64<<20)
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "# HeapAlloc = "); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			return n >> 10, err
		}
	}
	return 0, errors.New("no HeapAlloc in the heap profile")
}

// cpuProfile writes the server's CPU profile over d to path.
func (s *server) cpuProfile(ctx context.Context, d time.Duration, path string) error {
	b, err := s.debugGet(ctx, fmt.Sprintf("/debug/pprof/profile?seconds=%d", max(1, int(d.Seconds()))), 64<<20)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func (s *server) debugGet(ctx context.Context, path string, limit int64) ([]byte, error) {
	if s.debug == "" {
		return nil, errors.New("the server gave no profiles address (-debug-addr)")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.debug+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := debugClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: HTTP %d %s", path, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return b, err
}

// quit ends the server with SIGQUIT and counts the goroutines of its
// dump by the function each is in (the frame below the runtime's).
func (s *server) quit() (map[string]int, error) {
	s.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
		return nil, errors.New("the server did not exit on SIGQUIT")
	}
	b, err := os.ReadFile(s.stderrPath)
	if err != nil {
		return nil, err
	}
	counts := countGoroutines(b)
	if len(counts) == 0 {
		return nil, errors.New("no goroutine dump on the server's stderr")
	}
	return counts, nil
}

// countGoroutines reads a Go traceback dump: per goroutine, the first
// function of its stack outside the runtime, internal packages and the
// standard library's waiting calls, with the package path shortened.
func countGoroutines(dump []byte) map[string]int {
	counts := map[string]int{}
	blocks := strings.Split(string(dump), "\n\ngoroutine ")
	for i, b := range blocks {
		if i == 0 {
			if _, rest, ok := strings.Cut(b, "goroutine "); ok {
				b = rest
			} else {
				continue
			}
		}
		lines := strings.Split(b, "\n")
		name, first := "", ""
		for _, l := range lines[1:] {
			if strings.HasPrefix(l, "\t") || l == "" || strings.HasPrefix(l, "created by") {
				continue
			}
			fn := l
			if j := strings.LastIndex(fn, "("); j > 0 {
				fn = fn[:j]
			}
			if first == "" {
				first = fn
			}
			// The first frame outside the runtime's waiting and locking.
			if name == "" && !strings.HasPrefix(fn, "runtime.") && !strings.HasPrefix(fn, "internal/") && !strings.HasPrefix(fn, "sync.") {
				name = fn
			}
			if strings.Contains(fn, "paramshare/") {
				name = fn
				break
			}
		}
		if name == "" {
			name = first // the runtime's own goroutines
		}
		if name == "" {
			continue
		}
		if j := strings.LastIndex(name, "/"); j >= 0 {
			name = name[j+1:]
		}
		counts[name]++
	}
	return counts
}

// ---- /proc samples ----

// procSample is one look at a process.
type procSample struct {
	at           time.Time
	rssKB, hwmKB int
	threads, fds int
	cpu          time.Duration // user + system
}

// clockTick is USER_HZ, the unit of /proc/PID/stat's times: 100 on Linux.
const clockTick = 100

func sampleProc(pid string) (procSample, error) {
	s := procSample{at: time.Now()}
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return s, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(l, ":")
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.Atoi(f[0])
		switch k {
		case "VmRSS":
			s.rssKB = n
		case "VmHWM":
			s.hwmKB = n
		case "Threads":
			s.threads = n
		}
	}
	st, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return s, err
	}
	// Fields after the command name (which may hold spaces) in parentheses.
	if i := bytes.LastIndexByte(st, ')'); i > 0 {
		f := strings.Fields(string(st[i+1:]))
		if len(f) > 12 {
			u, _ := strconv.ParseInt(f[11], 10, 64)
			k, _ := strconv.ParseInt(f[12], 10, 64)
			s.cpu = time.Duration(u+k) * time.Second / clockTick
		}
	}
	if fds, err := os.ReadDir("/proc/" + pid + "/fd"); err == nil {
		s.fds = len(fds)
	}
	return s, nil
}

// sampler samples the server and this process in the background.
type sampler struct {
	pid     string
	mu      sync.Mutex
	srv     []procSample
	self    []procSample
	done    chan struct{}
	stopped sync.Once
	wg      sync.WaitGroup
}

func startSampler(pid int, every time.Duration) *sampler {
	s := &sampler{pid: strconv.Itoa(pid), done: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			s.sampleNow()
			select {
			case <-s.done:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// sampleNow records one sample of the server and of this process.
func (s *sampler) sampleNow() {
	a, errA := sampleProc(s.pid)
	b, errB := sampleProc("self")
	s.mu.Lock()
	defer s.mu.Unlock()
	if errA == nil {
		s.srv = append(s.srv, a)
	}
	if errB == nil {
		s.self = append(s.self, b)
	}
}

func (s *sampler) stop() {
	s.stopped.Do(func() { close(s.done) })
	s.wg.Wait()
}

// window summarises the samples between a and b: CPU in cores, the
// largest RSS, threads and fds.
type procWindow struct {
	cores, selfCores float64
	rssMaxKB, hwmKB  int
	threads, fds     int
}

func (s *sampler) window(a, b time.Time) procWindow {
	s.mu.Lock()
	defer s.mu.Unlock()
	var w procWindow
	in := func(xs []procSample) []procSample {
		var out []procSample
		for _, x := range xs {
			if !x.at.Before(a) && !x.at.After(b) {
				out = append(out, x)
			}
		}
		return out
	}
	cores := func(xs []procSample) float64 {
		if len(xs) < 2 {
			return math.NaN()
		}
		f, l := xs[0], xs[len(xs)-1]
		return (l.cpu - f.cpu).Seconds() / l.at.Sub(f.at).Seconds()
	}
	byTime := func(a, b procSample) int { return a.at.Compare(b.at) }
	slices.SortFunc(s.srv, byTime)
	slices.SortFunc(s.self, byTime)
	srv := in(s.srv)
	w.cores, w.selfCores = cores(srv), cores(in(s.self))
	for _, x := range srv {
		w.rssMaxKB, w.hwmKB = max(w.rssMaxKB, x.rssKB), max(w.hwmKB, x.hwmKB)
		w.threads, w.fds = max(w.threads, x.threads), max(w.fds, x.fds)
	}
	return w
}

// ---- clients ----

// frameRec is one frame's arrival: time since the harness began, and its step.
type frameRec struct {
	at   time.Duration
	step int32
}

// client is one page: a websocket (replaced on reconnects) read by one
// goroutine; commands are written by whoever drives the client, under wmu.
type client struct {
	h    *harness
	name string
	// Seat, for students.
	seat, seatID string

	wmu  sync.Mutex
	conn *websocket.Conn

	mu         sync.Mutex
	gen        int // connection number
	seatedGen  int // the connection a room message with "you" arrived on
	fatalGen   int // the connection refused for good (auth, seat, capacity)
	readerDone chan struct{}
	closing    bool // this side closed the connection on purpose
	frames     []frameRec
	lastFrame  time.Duration
	lastStep   int
	state      string // the widget's last state message
	// A fork (ownArmed) is the page's own from the first state message
	// without follow (ownAt): the frames after it are the fork's.
	ownArmed bool
	ownAt    time.Duration
	notify   chan struct{}
}

func (h *harness) newClient(name string) *client {
	return &client{h: h, name: name, notify: make(chan struct{}, 1)}
}

var (
	framePrefix = []byte(`{"v":1,"type":"frame",`)
	bulkPrefix  = [][]byte{[]byte(`{"v":1,"type":"hello"`), []byte(`{"v":1,"type":"roster"`), []byte(`{"v":1,"type":"board"`)}
	stepKey     = []byte(`"step":`)
)

// dial opens the client's socket (/ws?lang=en[&room=CODE]) and starts its
// reader; a refused upgrade is counted with its status and words.
func (c *client) dial(ctx context.Context, room string) error {
	u := "ws://" + c.h.srv.addr + "/ws?lang=en"
	if room != "" {
		u += "&room=" + room
	}
	d := websocket.Dialer{HandshakeTimeout: 15 * time.Second}
	conn, resp, err := d.DialContext(ctx, u, http.Header{"Origin": {c.h.srv.origin}})
	if err != nil {
		if resp != nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			c.h.refused(fmt.Sprintf("websocket upgrade: HTTP %d %s", resp.StatusCode, strings.TrimSpace(string(b))))
		} else {
			c.h.refused("websocket dial: " + shortErr(err))
		}
		return err
	}
	c.mu.Lock()
	c.gen++
	gen := c.gen
	c.closing = false
	done := make(chan struct{})
	c.readerDone = done
	c.mu.Unlock()
	c.wmu.Lock()
	c.conn = conn
	c.wmu.Unlock()
	go c.read(conn, gen, done)
	return nil
}

// read is the connection's only reader. Frames are not decoded: the step
// is scanned from the message's first bytes and the rest discarded.
func (c *client) read(conn *websocket.Conn, gen int, done chan struct{}) {
	defer close(done)
	defer c.signal()
	buf := make([]byte, 160)
	for {
		_, r, err := conn.NextReader()
		if err != nil {
			c.readFailed(err)
			return
		}
		n, _ := io.ReadFull(r, buf)
		p := buf[:n]
		now := time.Since(c.h.t0)
		if bytes.HasPrefix(p, framePrefix) {
			step := scanInt(p, stepKey)
			if _, err := io.Copy(io.Discard, r); err != nil {
				c.readFailed(err)
				return
			}
			c.mu.Lock()
			c.frames = append(c.frames, frameRec{at: now, step: int32(step)})
			c.lastFrame, c.lastStep = now, step
			c.mu.Unlock()
			c.signal()
			continue
		}
		bulk := false
		for _, b := range bulkPrefix {
			bulk = bulk || bytes.HasPrefix(p, b)
		}
		if bulk {
			io.Copy(io.Discard, r)
			continue
		}
		rest, err := io.ReadAll(io.LimitReader(r, 1<<20))
		if err != nil {
			c.readFailed(err) // a message cut by the close is no message
			return
		}
		msg := append(append([]byte{}, p...), rest...)
		var m struct {
			Type, Widget, Code, Message, State string
			Follow                             bool
			You                                *struct{ Role, ID string }
		}
		if json.Unmarshal(msg, &m) != nil {
			c.h.refused("undecodable message: " + shortText(string(msg)))
			continue
		}
		c.mu.Lock()
		switch m.Type {
		case "room":
			if m.You != nil {
				c.seatedGen = gen
			}
		case "state":
			c.state = m.State
			if c.ownArmed && !m.Follow {
				c.ownArmed, c.ownAt = false, now
			}
		case "error":
			switch m.Code {
			case "room-auth", "no-seat", "removed", "room-full", "server-busy", "too-many-sessions":
				c.fatalGen = gen
			}
		}
		c.mu.Unlock()
		switch m.Type {
		case "error":
			c.h.refused(fmt.Sprintf("error %s: %s", m.Code, m.Message))
		case "room-ended", "removed":
			c.h.refused(m.Type + ": " + m.Message)
		}
		c.signal()
	}
}

// readFailed counts the end of a connection this side did not close.
func (c *client) readFailed(err error) {
	c.mu.Lock()
	closing := c.closing
	c.mu.Unlock()
	if closing {
		return
	}
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		c.h.refused(fmt.Sprintf("closed by the server: %d %s", ce.Code, ce.Text))
	} else {
		c.h.refused("connection lost: " + shortErr(err))
	}
}

func (c *client) signal() {
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// scanInt reads the whole number after key in p (0 if absent).
func scanInt(p, key []byte) int {
	i := bytes.Index(p, key)
	if i < 0 {
		return 0
	}
	n := 0
	for _, ch := range p[i+len(key):] {
		if ch < '0' || ch > '9' {
			break
		}
		n = n*10 + int(ch-'0')
	}
	return n
}

// send writes one command.
func (c *client) send(v map[string]any) error {
	v["v"] = 1
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.conn == nil {
		return errors.New("not connected")
	}
	c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.conn.WriteMessage(websocket.TextMessage, b)
}

// wait waits until cond (called with c.mu held) holds, up to d.
func (c *client) wait(ctx context.Context, d time.Duration, cond func() bool) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		c.mu.Lock()
		ok := cond()
		c.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-c.notify:
		case <-t.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// sit opens a room page and sends seat (or teach, for the teacher): it
// returns once the room's answer came.
func (c *client) sit(ctx context.Context, room, lesson string, teach bool) error {
	if err := c.dial(ctx, room); err != nil {
		return err
	}
	c.mu.Lock()
	gen, done := c.gen, c.readerDone
	c.mu.Unlock()
	msg := map[string]any{"type": "seat", "room": room, "seat": c.seat, "lesson": lesson}
	if teach {
		msg = map[string]any{"type": "teach", "room": room, "secret": c.h.secret, "lesson": lesson}
	}
	if err := c.send(msg); err != nil {
		c.h.refused("writing seat: " + shortErr(err))
		return err
	}
	ok := c.wait(ctx, 20*time.Second, func() bool {
		select {
		case <-done:
			return true
		default:
		}
		return c.seatedGen == gen || c.fatalGen == gen
	})
	c.mu.Lock()
	seated := c.seatedGen == gen
	c.mu.Unlock()
	if !ok || !seated {
		if !ok {
			c.h.refused("no answer to seat within 20 s")
		}
		c.drop(false)
		return fmt.Errorf("%s not seated", c.name)
	}
	return nil
}

// follow asks to follow the room's run of the widget; it returns when sent.
func (c *client) follow(experiment string) error {
	return c.send(map[string]any{"type": "start", "widget": widgetID, "experiment": experiment, "follow": true})
}

// firstFrameAfter waits for a frame that arrived after t (since t0).
func (c *client) firstFrameAfter(ctx context.Context, t time.Duration, d time.Duration) (time.Duration, bool) {
	var at time.Duration
	ok := c.wait(ctx, d, func() bool {
		if c.lastFrame > t {
			// The first frame after t, not the newest.
			i, _ := slices.BinarySearchFunc(c.frames, t+1, func(f frameRec, t time.Duration) int { return cmpDur(f.at, t) })
			at = c.frames[i].at
			return true
		}
		return false
	})
	return at, ok
}

func cmpDur(a, b time.Duration) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// drop closes the socket: abruptly (a network drop) or with a close frame
// (a page closed), and waits for the reader to stop.
func (c *client) drop(graceful bool) {
	c.mu.Lock()
	c.closing = true
	done := c.readerDone
	c.mu.Unlock()
	c.wmu.Lock()
	conn := c.conn
	c.conn = nil
	if conn != nil && graceful {
		conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, ""), time.Now().Add(time.Second))
	}
	c.wmu.Unlock()
	if conn != nil {
		conn.Close()
	}
	if done != nil {
		<-done
	}
}

// now is the time since the harness began.
func (h *harness) now() time.Duration { return time.Since(h.t0) }

// ---- HTTP ----

var httpClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// post sends a same-origin JSON POST and decodes the answer into out; a
// refusal is counted with its status and message.
func (h *harness) post(ctx context.Context, path string, body any, want int, out any) error {
	var rd io.Reader = http.NoBody
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.srv.origin+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Origin", h.srv.origin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		h.refused("POST " + strings.Split(path, "?")[0] + ": " + shortErr(err))
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != want {
		var e struct{ Error string }
		json.Unmarshal(b, &e)
		h.refused(fmt.Sprintf("POST %s: HTTP %d %s", strings.Split(path, "?")[0], resp.StatusCode, e.Error))
		return fmt.Errorf("POST %s: HTTP %d %s", path, resp.StatusCode, e.Error)
	}
	return json.Unmarshal(b, out)
}

// join takes a seat in the room for a new client named nick.
func (h *harness) join(ctx context.Context, nick string) (*client, error) {
	var ans struct{ Room, Seat, Nick, ID string }
	if err := h.post(ctx, "/class/join?lang=en", map[string]string{"code": h.code, "nick": nick}, http.StatusOK, &ans); err != nil {
		return nil, err
	}
	c := h.newClient(nick)
	c.seat, c.seatID = ans.Seat, ans.ID
	return c, nil
}

// ---- phases ----

// baselines plays a private run of each widget for one viewer, for as
// long as the class will follow it.
func (h *harness) baselines(ctx context.Context, conv, cnn lessonWidget) error {
	var rows [][]string
	for _, b := range []struct {
		w lessonWidget
		d time.Duration
	}{{conv, h.cfg.conv}, {cnn, h.cfg.cnn}} {
		if b.d <= 0 {
			continue
		}
		c := h.newClient("baseline")
		if err := c.dial(ctx, ""); err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
		for _, m := range []map[string]any{
			{"type": "start", "widget": widgetID, "experiment": b.w.experiment, "params": b.w.params},
			{"type": "speed", "widget": widgetID, "speed": h.cfg.speed},
		} {
			if err := c.send(m); err != nil {
				return fmt.Errorf("baseline: %w", err)
			}
		}
		start := h.mark()
		if err := c.send(map[string]any{"type": "play", "widget": widgetID}); err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
		ttff, _ := c.firstFrameAfter(ctx, start, 30*time.Second)
		sleep(ctx, b.d)
		end := h.mark()
		c.drop(true)
		st := frameStats([]*client{c}, start, end)
		h.res.baselineFPS[b.w.experiment] = st.fpsMedian
		w := h.sampler.window(h.t0.Add(start), h.t0.Add(end))
		rows = append(rows, []string{b.w.experiment, fmtDur(ttff - start), fmt.Sprintf("%.2f", st.fpsMedian),
			fmtDur(st.gapP50), fmtDur(st.gapP99), fmtDur(st.gapMax), fmt.Sprint(st.lastStep), fmtCores(w.cores), fmtMB(w.rssMaxKB)})
	}
	h.table(fmt.Sprintf("Baseline: one viewer of a private run, speed %g, %s and %s", h.cfg.speed, h.cfg.conv, h.cfg.cnn),
		[]string{"widget", "first frame", "frames/s", "gap p50", "gap p99", "gap max", "last step", "server CPU", "server RSS"}, rows)
	return ctx.Err()
}

// openRoom opens the room, seats the teacher on the conv-slide lesson and
// plays its widget.
func (h *harness) openRoom(ctx context.Context, conv lessonWidget) error {
	var ans struct{ Code, Secret string }
	if err := h.post(ctx, "/class/rooms?lang=en", nil, http.StatusCreated, &ans); err != nil {
		return fmt.Errorf("opening a room: %w", err)
	}
	h.code, h.secret = ans.Code, ans.Secret
	return h.teach(ctx, conv, true)
}

// teach opens a new teacher page on w's lesson (closing the old one, as
// the browser does when it moves), pushes the lesson if asked and plays w.
func (h *harness) teach(ctx context.Context, w lessonWidget, push bool) error {
	if h.teacher != nil {
		h.teacher.drop(true)
	}
	t := h.newClient("teacher")
	if err := t.sit(ctx, h.code, w.lesson, true); err != nil {
		return fmt.Errorf("the teacher's page: %w", err)
	}
	if push {
		if err := t.send(map[string]any{"type": "room-cmd", "cmd": "lesson", "lesson": w.lesson}); err != nil {
			return fmt.Errorf("pushing the lesson: %w", err)
		}
	}
	h.teacher = t
	for _, m := range []map[string]any{
		{"type": "start", "widget": widgetID, "experiment": w.experiment, "params": w.params},
		{"type": "speed", "widget": widgetID, "speed": h.cfg.speed},
		{"type": "play", "widget": widgetID},
	} {
		if err := t.send(m); err != nil {
			return fmt.Errorf("the teacher's %s: %w", m["type"], err)
		}
	}
	return nil
}

// burstStats are the join burst's latencies.
type burstStats struct {
	ok, failed                 int
	joinHTTP, seated, ttff, to []time.Duration
}

// joinBurst joins every student at once: POST /class/join, the socket,
// seat, follow, first frame.
func (h *harness) joinBurst(ctx context.Context, conv lessonWidget) error {
	n := h.cfg.students
	h.students = make([]*client, n)
	joinD, seatD, ttffD, totalD := make([]time.Duration, n), make([]time.Duration, n), make([]time.Duration, n), make([]time.Duration, n)
	okv, seated := make([]bool, n), make([]bool, n)
	var wg sync.WaitGroup
	begin := h.mark()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := h.now()
			c, err := h.join(ctx, fmt.Sprintf("s%03d", i+1))
			if err != nil {
				return
			}
			h.students[i] = c
			t1 := h.now()
			if c.sit(ctx, h.code, conv.lesson, false) != nil {
				return
			}
			t2 := h.now()
			seated[i] = true
			if c.follow(conv.experiment) != nil {
				return
			}
			at, ok := c.firstFrameAfter(ctx, t2, 30*time.Second)
			if !ok {
				h.refused("no frame within 30 s of following")
				return
			}
			joinD[i], seatD[i], ttffD[i], totalD[i], okv[i] = t1-t0, t2-t1, at-t2, at-t0, true
		}()
	}
	wg.Wait()
	end := h.mark()
	var b burstStats
	for i := range n {
		if okv[i] {
			b.ok++
			b.joinHTTP, b.seated, b.ttff, b.to = append(b.joinHTTP, joinD[i]), append(b.seated, seatD[i]), append(b.ttff, ttffD[i]), append(b.to, totalD[i])
		} else {
			b.failed++
		}
	}
	// Students that never sat are left out of the later phases.
	var kept []*client
	for i, c := range h.students {
		if seated[i] {
			kept = append(kept, c)
		}
	}
	h.students = kept
	h.res.burst = b
	w := h.sampler.window(h.t0.Add(begin), h.t0.Add(end))
	row := func(name string, ds []time.Duration) []string {
		return []string{name, fmtDur(pct(ds, 0.5)), fmtDur(pct(ds, 0.99)), fmtDur(pct(ds, 1))}
	}
	h.table(fmt.Sprintf("Join burst: %d students at once (%d in, %d failed) in %s; server CPU %s, RSS %s, %s client CPU",
		n, b.ok, b.failed, fmtDur(end-begin), fmtCores(w.cores), fmtMB(w.rssMaxKB), fmtCores(w.selfCores)),
		[]string{"from", "p50", "p99", "max"}, [][]string{
			row("POST /class/join", b.joinHTTP),
			row("socket + seat → room", b.seated),
			row("follow → first frame", b.ttff),
			row("join → first frame", b.to),
		})
	return ctx.Err()
}

// followStats are the frames some clients received in a window.
type followStats struct {
	clients, withFrames            int
	fpsMedian, fpsP10, fpsMin      float64
	gapP50, gapP99, gapMax         time.Duration
	lastStep                       int
	cores, selfCores               float64
	rssMaxKB, hwmKB, threads, fds  int
	ratioMedian, ratioMin, fpsMean float64
}

// frameStats measures the frames of cs between a and b (since t0).
func frameStats(cs []*client, a, b time.Duration) followStats {
	st := followStats{clients: len(cs)}
	var fps []float64
	var gaps []time.Duration
	for _, c := range cs {
		c.mu.Lock()
		i, _ := slices.BinarySearchFunc(c.frames, a, func(f frameRec, t time.Duration) int { return cmpDur(f.at, t) })
		n := 0
		var prev time.Duration
		for _, f := range c.frames[i:] {
			if f.at > b {
				break
			}
			if n > 0 {
				gaps = append(gaps, f.at-prev)
			}
			prev = f.at
			n++
			st.lastStep = max(st.lastStep, int(f.step))
		}
		c.mu.Unlock()
		if n > 0 {
			st.withFrames++
		}
		fps = append(fps, float64(n)/(b-a).Seconds())
	}
	slices.Sort(fps)
	if len(fps) > 0 {
		st.fpsMedian, st.fpsP10, st.fpsMin = pctF(fps, 0.5), pctF(fps, 0.1), fps[0]
		sum := 0.0
		for _, f := range fps {
			sum += f
		}
		st.fpsMean = sum / float64(len(fps))
	}
	st.gapP50, st.gapP99, st.gapMax = pct(gaps, 0.5), pct(gaps, 0.99), pct(gaps, 1)
	return st
}

// followWindow measures cs following for d from now and prints a row.
func (h *harness) followWindow(ctx context.Context, name string, cs []*client, d time.Duration, experiment string) followStats {
	a := h.mark()
	sleep(ctx, d)
	b := h.mark()
	return h.reportFollow(name, cs, a, b, experiment)
}

func (h *harness) reportFollow(name string, cs []*client, a, b time.Duration, experiment string) followStats {
	st := frameStats(cs, a, b)
	w := h.sampler.window(h.t0.Add(a), h.t0.Add(b))
	st.cores, st.selfCores, st.rssMaxKB, st.hwmKB, st.threads, st.fds = w.cores, w.selfCores, w.rssMaxKB, w.hwmKB, w.threads, w.fds
	base := h.res.baselineFPS[experiment]
	ratio := "—"
	if base > 0 {
		st.ratioMedian, st.ratioMin = st.fpsMedian/base, st.fpsMin/base
		ratio = fmt.Sprintf("%.0f %% / %.0f %%", 100*st.ratioMedian, 100*st.ratioMin)
	}
	h.res.follow[name] = st
	h.table(fmt.Sprintf("%s: %d clients for %s (teacher at step %d)", name, len(cs), fmtDur(b-a), st.lastStep),
		[]string{"with frames", "frames/s median", "p10", "min", "of one viewer's (median / min)", "gap p50", "gap p99", "gap max", "server CPU", "server RSS max", "threads", "fds", "client CPU"},
		[][]string{{fmt.Sprintf("%d/%d", st.withFrames, st.clients), fmt.Sprintf("%.2f", st.fpsMedian), fmt.Sprintf("%.2f", st.fpsP10), fmt.Sprintf("%.2f", st.fpsMin), ratio,
			fmtDur(st.gapP50), fmtDur(st.gapP99), fmtDur(st.gapMax), fmtCores(st.cores), fmtMB(st.rssMaxKB), fmt.Sprint(st.threads), fmt.Sprint(st.fds), fmtCores(st.selfCores)}})
	return st
}

// moveToCNN pushes the race's lesson: every page moves to it (a new socket
// on the new lesson, following its widget, which waits for the teacher);
// then the teacher's new page starts and plays the race, and the class
// follows it for cfg.cnn.
func (h *harness) moveToCNN(ctx context.Context, cnn lessonWidget) error {
	if err := h.teacher.send(map[string]any{"type": "room-cmd", "cmd": "lesson", "lesson": cnn.lesson}); err != nil {
		return fmt.Errorf("pushing the lesson: %w", err)
	}
	begin := h.mark()
	moved := make([]bool, len(h.students))
	var wg sync.WaitGroup
	for i, c := range h.students {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sleep(ctx, time.Duration(rand.Int64N(int64(time.Second))))
			c.drop(true)
			if c.sit(ctx, h.code, cnn.lesson, false) != nil || c.follow(cnn.experiment) != nil {
				return
			}
			moved[i] = true
		}()
	}
	wg.Wait()
	movedIn := h.now() - begin
	sleep(ctx, 500*time.Millisecond) // the not-started answers
	if err := h.teach(ctx, cnn, false); err != nil {
		return err
	}
	played := h.mark()
	var ttff []time.Duration
	lost := 0
	for i, c := range h.students {
		if !moved[i] {
			lost++
			continue
		}
		if at, ok := c.firstFrameAfter(ctx, played, 30*time.Second); ok {
			ttff = append(ttff, at-played)
		} else {
			lost++
			h.refused("no frame within 30 s of the teacher's start")
		}
	}
	h.table(fmt.Sprintf("Lesson push: %d pages moved to %s in %s; the teacher starts the race", len(h.students)-lost, cnn.lesson, fmtDur(movedIn)),
		[]string{"from", "p50", "p99", "max", "without frames"},
		[][]string{{"teacher's start → first frame", fmtDur(pct(ttff, 0.5)), fmtDur(pct(ttff, 0.99)), fmtDur(pct(ttff, 1)), fmt.Sprint(lost)}})
	if h.cfg.cnn > 0 {
		// The window starts at the teacher's play, as the baseline's did.
		sleep(ctx, h.cfg.cnn-(h.now()-played))
		h.reportFollow("follow cnn-train", h.students, played, h.now(), "cnn-train")
	}
	return ctx.Err()
}

// forkStats is what the forks measured.
type forkStats struct {
	mode          string
	teacherStep   int             // the teacher's step its page had seen when the forks were sent
	firstOwn      []time.Duration // per fork: fork sent → its first own frame
	firstSteps    []int           // per fork: the step of that frame (-1: none)
	atTeacherStep int             // forks whose first own frame is at or past teacherStep
	rssBeforeKB   int             // the server just before the forks
	rssWithKB     int             // … and with every fork trained for -fork-time
	perForkKB     int
	heapBeforeKB  int // the live heap just before and with the forks (after a collection; RSS first)
	heapWithKB    int
}

// forkPhase: cfg.forks students fork the race at once and train their own
// runs for cfg.forkTime while the rest follow; then they follow again.
func (h *harness) forkPhase(ctx context.Context, cnn lessonWidget) error {
	n := min(h.cfg.forks, len(h.students))
	if n == 0 {
		return nil
	}
	forks, followers := h.students[:n], h.students[n:]
	h.teacher.mu.Lock()
	teacherStep := h.teacher.lastStep
	h.teacher.mu.Unlock()
	for _, c := range forks {
		c.mu.Lock()
		c.ownArmed, c.ownAt = true, 0
		c.mu.Unlock()
	}
	httpClient.CloseIdleConnections()
	before, _ := sampleProc(strconv.Itoa(h.srv.pid))
	heapBefore, heapErr := h.srv.liveHeap(ctx)
	begin := h.mark()
	var profiled chan error
	if h.cfg.cpuProfile != "" {
		// Over the forks' steady part: after their start, before the end.
		profiled = make(chan error, 1)
		d := min(30*time.Second, h.cfg.forkTime-10*time.Second)
		go func() {
			sleep(ctx, 5*time.Second)
			profiled <- h.srv.cpuProfile(ctx, d, h.cfg.cpuProfile)
		}()
	}
	sent := make([]time.Duration, n)
	var wg sync.WaitGroup
	for i, c := range forks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msgs := []map[string]any{{"type": "start", "widget": widgetID, "experiment": cnn.experiment, "fork": true}}
			if h.cfg.forkMode != forkCopy {
				msgs = []map[string]any{{"type": "start", "widget": widgetID, "experiment": cnn.experiment, "params": cnn.params}}
			}
			msgs = append(msgs, map[string]any{"type": "speed", "widget": widgetID, "speed": h.cfg.speed})
			if h.cfg.forkMode == forkSeek && teacherStep > 0 {
				msgs = append(msgs, map[string]any{"type": "seek", "widget": widgetID, "to": teacherStep})
			}
			msgs = append(msgs, map[string]any{"type": "play", "widget": widgetID})
			sent[i] = h.now()
			for _, m := range msgs {
				if err := c.send(m); err != nil {
					h.refused("writing a fork's " + m["type"].(string) + ": " + shortErr(err))
					return
				}
			}
		}()
	}
	wg.Wait()
	sleep(ctx, h.cfg.forkTime)
	end := h.mark()
	httpClient.CloseIdleConnections()
	with, _ := sampleProc(strconv.Itoa(h.srv.pid))
	heapWith, err := h.srv.liveHeap(ctx)
	if err = errors.Join(heapErr, err); err != nil {
		h.refused("live heap: " + shortErr(err))
	}
	// A fork's frames are those after its first state message without
	// follow; its rate is its steps from its first own frame to the end.
	fs := forkStats{mode: h.cfg.forkMode, teacherStep: teacherStep, rssBeforeKB: before.rssKB, rssWithKB: with.rssKB}
	fs.perForkKB = (with.rssKB - before.rssKB) / n
	fs.heapBeforeKB, fs.heapWithKB = heapBefore, heapWith
	var rates []float64
	starved := 0
	for i, c := range forks {
		c.mu.Lock()
		own := []frameRec(nil)
		if !c.ownArmed {
			j, _ := slices.BinarySearchFunc(c.frames, c.ownAt, func(f frameRec, t time.Duration) int { return cmpDur(f.at, t) })
			own = c.frames[j:]
		}
		rate, step := 0.0, -1
		if len(own) > 0 {
			f, l := own[0], own[len(own)-1]
			step = int(f.step)
			fs.firstOwn = append(fs.firstOwn, f.at-sent[i])
			if len(own) >= 2 {
				rate = float64(l.step-f.step) / (end - f.at).Seconds()
			}
		}
		c.mu.Unlock()
		if len(own) < 2 {
			starved++
		}
		if step > 0 && step >= teacherStep {
			fs.atTeacherStep++
		}
		fs.firstSteps = append(fs.firstSteps, step)
		rates = append(rates, rate)
	}
	h.res.forkRates, h.res.fork = rates, fs
	sorted := slices.Sorted(slices.Values(rates))
	med := pctF(sorted, 0.5)
	minR := 0.0
	if len(sorted) > 0 {
		minR = sorted[0]
	}
	steps := slices.Sorted(slices.Values(fs.firstSteps))
	w := h.sampler.window(h.t0.Add(begin), h.t0.Add(end))
	fst := frameStats(followers, begin, end)
	h.teacher.mu.Lock()
	teacherNow, teacherState := h.teacher.lastStep, h.teacher.state
	h.teacher.mu.Unlock()
	how := map[string]string{forkCopy: "start with fork: a copy at the teacher's step", forkStart: "their own run from step 0", forkSeek: "their own run sought to the teacher's step"}[h.cfg.forkMode]
	h.table(fmt.Sprintf("Forks: %d students fork the teacher's race at step %d (%s), speed %g, for %s while %d follow the teacher's",
		n, teacherStep, how, h.cfg.speed, fmtDur(end-begin), len(followers)),
		[]string{"fork → first own frame p50 / max", "its step min / max", "at the teacher's step", "steps/s median", "min", "max", "min/median", "without frames"},
		[][]string{{fmtDur(pct(fs.firstOwn, 0.5)) + " / " + fmtDur(pct(fs.firstOwn, 1)), fmt.Sprintf("%d / %d", steps[0], steps[len(steps)-1]),
			fmt.Sprintf("%d/%d", fs.atTeacherStep, n), fmt.Sprintf("%.2f", med), fmt.Sprintf("%.2f", minR), fmt.Sprintf("%.2f", pctF(sorted, 1)), fmt.Sprintf("%.2f", safeDiv(minR, med)), fmt.Sprint(starved)}})
	h.table("… meanwhile", []string{"teacher's steps", "followers frames/s median / min", "server RSS before → with the forks", "per fork", "live heap before → with", "per fork", "server RSS max", "server CPU", "client CPU"},
		[][]string{{fmt.Sprintf("%d → %d (%s)", teacherStep, teacherNow, teacherState), fmt.Sprintf("%.2f / %.2f", fst.fpsMedian, fst.fpsMin),
			fmtMB(before.rssKB) + " → " + fmtMB(with.rssKB), fmt.Sprintf("%.1f MB", float64(fs.perForkKB)/1024),
			fmtMB(heapBefore) + " → " + fmtMB(heapWith), fmt.Sprintf("%.1f MB", float64(heapWith-heapBefore)/1024/float64(n)),
			fmtMB(w.rssMaxKB), fmtCores(w.cores), fmtCores(w.selfCores)}})
	if profiled != nil {
		if err := <-profiled; err != nil {
			fmt.Fprintf(h.out, "  CPU profile: %v\n", err)
		} else {
			fmt.Fprintf(h.out, "  CPU profile of the forks: %s (go tool pprof -top %s)\n", h.cfg.cpuProfile, h.cfg.cpuProfile)
		}
	}
	// Back to the teacher's run: following closes the fork.
	for _, c := range forks {
		if err := c.follow(cnn.experiment); err != nil {
			h.refused("writing a fork's follow: " + shortErr(err))
		}
	}
	sleep(ctx, 2*time.Second)
	return ctx.Err()
}

// stormPhase drops every student's socket at once; each comes back to its
// seat within cfg.stormJitter and follows again.
func (h *harness) stormPhase(ctx context.Context, cnn lessonWidget) {
	// A race that has ended plays again from the start, so frames flow.
	h.teacher.send(map[string]any{"type": "play", "widget": widgetID})
	sleep(ctx, time.Second)
	dropAt := h.mark()
	back := make([]time.Duration, len(h.students))
	redial := make([]time.Duration, len(h.students))
	ok := make([]bool, len(h.students))
	var wg sync.WaitGroup
	for _, c := range h.students {
		c.drop(false)
	}
	for i, c := range h.students {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sleep(ctx, time.Duration(rand.Int64N(int64(h.cfg.stormJitter)+1)))
			t := h.now()
			if c.sit(ctx, h.code, cnn.lesson, false) != nil || c.follow(cnn.experiment) != nil {
				return
			}
			at, got := c.firstFrameAfter(ctx, t, 30*time.Second)
			if !got {
				h.refused("no frame within 30 s of reconnecting")
				return
			}
			back[i], redial[i], ok[i] = at-dropAt, at-t, true
		}()
	}
	wg.Wait()
	end := h.mark()
	var b, r []time.Duration
	failed := 0
	for i := range ok {
		if ok[i] {
			b, r = append(b, back[i]), append(r, redial[i])
		} else {
			failed++
		}
	}
	h.res.stormBack, h.res.stormFailed = b, failed
	w := h.sampler.window(h.t0.Add(dropAt), h.t0.Add(end))
	h.table(fmt.Sprintf("Reconnect storm: %d sockets dropped at once, back within %s (jittered); %d did not come back; server CPU %s, RSS %s",
		len(h.students), h.cfg.stormJitter, failed, fmtCores(w.cores), fmtMB(w.rssMaxKB)),
		[]string{"from", "p50", "p99", "max"}, [][]string{
			{"drop → first frame", fmtDur(pct(b, 0.5)), fmtDur(pct(b, 0.99)), fmtDur(pct(b, 1))},
			{"reconnect → first frame", fmtDur(pct(r, 0.5)), fmtDur(pct(r, 0.99)), fmtDur(pct(r, 1))},
		})
	// Drop the students that did not come back from the later phases.
	kept := h.students[:0]
	for i, c := range h.students {
		if ok[i] {
			kept = append(kept, c)
		}
	}
	h.students = kept
}

// cyclePhase runs the join/leave cycles and compares the server before,
// just after and cfg.settle after them.
func (h *harness) cyclePhase(ctx context.Context, cnn lessonWidget) {
	sleep(ctx, 2*time.Second)
	// This side's idle keep-alive connections would count as the server's fds.
	httpClient.CloseIdleConnections()
	before, _ := sampleProc(strconv.Itoa(h.srv.pid))
	gBefore, gErr := h.srv.goroutines(ctx)
	var next atomic.Int64
	var mu sync.Mutex
	var times []time.Duration
	bad := 0
	var wg sync.WaitGroup
	for range max(1, h.cfg.cycleWorkers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := next.Add(1)
				if i > int64(h.cfg.cycles) {
					return
				}
				t := h.now()
				good := h.cycle(ctx, fmt.Sprintf("c%04d", i), cnn)
				mu.Lock()
				if good {
					times = append(times, h.now()-t)
				} else {
					bad++
				}
				mu.Unlock()
			}
		}()
	}
	begin := h.mark()
	wg.Wait()
	end := h.mark()
	httpClient.CloseIdleConnections()
	just, _ := sampleProc(strconv.Itoa(h.srv.pid))
	w := h.sampler.window(h.t0.Add(begin), h.t0.Add(end))
	sleep(ctx, h.cfg.settle)
	after, _ := sampleProc(strconv.Itoa(h.srv.pid))
	gAfter, err := h.srv.goroutines(ctx)
	if gErr == nil && err == nil {
		h.res.goroutinesBefore, h.res.goroutinesAfter = gBefore, gAfter
	} else {
		h.refused("goroutine count: " + shortErr(errors.Join(gErr, err)))
	}
	h.res.cyclesOK, h.res.cyclesBad, h.res.before, h.res.after = len(times), bad, before, after
	h.table(fmt.Sprintf("Join/leave cycles: %d (join, seat, follow, first frame, close), %d at once, in %s: %d failed; server CPU %s, client CPU %s",
		h.cfg.cycles, h.cfg.cycleWorkers, fmtDur(end-begin), bad, fmtCores(w.cores), fmtCores(w.selfCores)),
		[]string{"cycle p50", "p99", "max"}, [][]string{{fmtDur(pct(times, 0.5)), fmtDur(pct(times, 0.99)), fmtDur(pct(times, 1))}})
	row := func(name string, s procSample, g string) []string {
		return []string{name, fmt.Sprint(s.fds), fmt.Sprint(s.threads), g, fmtMB(s.rssKB), fmtMB(s.hwmKB)}
	}
	gs := func(n int) string {
		if h.res.goroutinesAfter == 0 {
			return "—"
		}
		return fmt.Sprint(n)
	}
	h.table(fmt.Sprintf("The server around the cycles (%d students and the teacher connected throughout)", len(h.students)),
		[]string{"when", "open fds", "threads", "goroutines", "RSS", "RSS peak so far"}, [][]string{
			row("before", before, gs(gBefore)), row("just after", just, "—"), row(fmt.Sprintf("%s after", h.cfg.settle), after, gs(gAfter)),
		})
}

// cycle is one student's visit: join, seat, follow, first frame, close.
func (h *harness) cycle(ctx context.Context, nick string, cnn lessonWidget) bool {
	c, err := h.join(ctx, nick)
	if err != nil {
		return false
	}
	if c.sit(ctx, h.code, cnn.lesson, false) != nil {
		return false
	}
	defer c.drop(true)
	t := h.now()
	if c.follow(cnn.experiment) != nil {
		return false
	}
	if _, ok := c.firstFrameAfter(ctx, t, 10*time.Second); !ok {
		h.refused("cycle: no frame within 10 s of following")
		return false
	}
	return true
}

// ---- the report ----

func (h *harness) header(bin string, args []string) {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Fprintf(h.out, "classload %s — %s, %d cores, load average %s\n", time.Now().Format("2006-01-02 15:04"), model, runtime.NumCPU(), strings.Join(strings.Fields(string(load))[:3], " "))
	fmt.Fprintf(h.out, "server %s (pid %d) -addr 127.0.0.1:0 -data DIR %s, at %s\n", bin, h.srv.pid, strings.Join(args, " "), h.srv.origin)
	c := h.cfg
	fmt.Fprintf(h.out, "class: %d students, speed %g, conv-slide %s, cnn-train %s (epochs %d), %d forks (%s) for %s, storm %v (%s), %d cycles × %d, settle %s\n",
		c.students, c.speed, c.conv, c.cnn, c.cnnEpochs, c.forks, c.forkMode, c.forkTime, c.storm, c.stormJitter, c.cycles, c.cycleWorkers, c.settle)
}

// table prints a titled, aligned plain-text table.
func (h *harness) table(title string, head []string, rows [][]string) {
	fmt.Fprintf(h.out, "\n%s\n", title)
	tw := tabwriter.NewWriter(h.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  "+strings.Join(head, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, "  "+strings.Join(r, "\t"))
	}
	tw.Flush()
}

func (h *harness) printGoroutines() {
	type kv struct {
		k string
		v int
	}
	var all []kv
	total := 0
	for k, v := range h.res.goroutines {
		all = append(all, kv{k, v})
		total += v
	}
	slices.SortFunc(all, func(a, b kv) int { return b.v - a.v })
	var rows [][]string
	for i, e := range all {
		if i == 12 {
			break
		}
		rows = append(rows, []string{fmt.Sprint(e.v), e.k})
	}
	pages := len(h.students)
	if h.teacher != nil {
		pages++
	}
	h.table(fmt.Sprintf("Server goroutines at the end (SIGQUIT dump): %d in all, %d pages open (each page: a reader and a writer)", total, pages),
		[]string{"goroutines", "function"}, rows)
}

func (h *harness) printTargets() {
	r := h.res
	var rows [][]string
	mark := func(ok bool) string {
		if ok {
			return "PASS"
		}
		return "MISS"
	}
	if st, ok := r.follow["follow cnn-train"]; ok && st.ratioMedian > 0 {
		rows = append(rows,
			[]string{"followers of the race ≥ 90 % of one viewer's frame rate (median)", fmt.Sprintf("%.0f %% (%.2f of %.2f frames/s)", 100*st.ratioMedian, st.fpsMedian, r.baselineFPS["cnn-train"]), mark(st.ratioMedian >= 0.9)},
			[]string{"… and the slowest follower", fmt.Sprintf("%.0f %% (%.2f frames/s)", 100*st.ratioMin, st.fpsMin), mark(st.ratioMin >= 0.9)},
			[]string{"server RSS < 500 MB while they follow", fmtMB(st.rssMaxKB), mark(st.rssMaxKB < 500<<10)})
	}
	if len(r.forkRates) > 0 {
		s := slices.Sorted(slices.Values(r.forkRates))
		med := pctF(s, 0.5)
		f := r.fork
		if f.mode == forkCopy {
			rows = append(rows, []string{"every fork starts at the teacher's step (a copy)", fmt.Sprintf("%d of %d at step ≥ %d", f.atTeacherStep, len(r.forkRates), f.teacherStep), mark(f.atTeacherStep == len(r.forkRates))})
		}
		rows = append(rows,
			[]string{"≤ 15 MB server memory per forked cnn-train run (RSS with the forks − before, / forks)", fmt.Sprintf("%.1f MB (%s → %s, %d forks)", float64(f.perForkKB)/1024, fmtMB(f.rssBeforeKB), fmtMB(f.rssWithKB), len(r.forkRates)), mark(f.perForkKB <= 15<<10)},
			[]string{"every fork ≥ 0.5 steps/s", fmt.Sprintf("slowest %.2f", s[0]), mark(s[0] >= 0.5)},
			[]string{"no fork starved (min ≥ half the median)", fmt.Sprintf("%.2f / %.2f", s[0], med), mark(s[0] >= med/2)})
	}
	if r.cyclesOK+r.cyclesBad > 0 {
		b, a := r.before, r.after
		rows = append(rows,
			[]string{"no fd growth after the cycles", fmt.Sprintf("%d → %d", b.fds, a.fds), mark(a.fds <= b.fds+2)},
			[]string{"no thread growth", fmt.Sprintf("%d → %d", b.threads, a.threads), mark(a.threads <= b.threads+2)},
			[]string{"no memory growth (RSS within 10 % + 16 MB)", fmt.Sprintf("%s → %s", fmtMB(b.rssKB), fmtMB(a.rssKB)), mark(float64(a.rssKB) <= 1.1*float64(b.rssKB)+16<<10)})
		if r.goroutinesAfter > 0 {
			// A few may be timers or a connection's last moments.
			rows = append(rows, []string{"no goroutine growth (profiles' count, ±4)", fmt.Sprintf("%d → %d", r.goroutinesBefore, r.goroutinesAfter), mark(r.goroutinesAfter <= r.goroutinesBefore+4)})
		}
	}
	if g := r.goroutines; g != nil {
		pages := len(h.students) + 1
		reads := g["web.(*session).readPump"]
		rows = append(rows, []string{"no goroutine growth: session readers = pages open", fmt.Sprintf("%d readers, %d pages", reads, pages), mark(reads <= pages)})
	}
	h.table("Targets", []string{"target", "measured", ""}, rows)
}

func (h *harness) printRefusals() {
	h.mu.Lock()
	defer h.mu.Unlock()
	var rows [][]string
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range h.refusals {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range keys {
		phase, what, _ := strings.Cut(k, "\t")
		rows = append(rows, []string{fmt.Sprint(h.refusals[k]), phase, what})
	}
	if len(rows) == 0 {
		fmt.Fprintln(h.out, "\nRefusals and errors: none")
		return
	}
	h.table("Refusals and errors (not-started is the expected answer to following a widget the teacher has not started)", []string{"count", "phase", "what"}, rows)
}

// ---- small helpers ----

func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// pct is the q-quantile of ds (nearest rank); 0 for none.
func pct(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// pctF is the q-quantile of sorted xs (nearest rank).
func pctF(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func safeDiv(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "—"
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func fmtCores(c float64) string {
	if math.IsNaN(c) {
		return "—"
	}
	return fmt.Sprintf("%.2f cores", c)
}

func fmtMB(kb int) string { return fmt.Sprintf("%d MB", (kb+512)>>10) }

func shortErr(err error) string { return shortText(err.Error()) }

func shortText(s string) string {
	if r := []rune(s); len(r) > 160 {
		return string(r[:160]) + "…"
	}
	return s
}
