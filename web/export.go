package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/paramshare/paramshare/run"
)

// Exports recompute a widget's state and draw it. A light one (a figure of
// a few hundred cheap steps) takes about 0.1 s of one core; a heavy one
// replays training to its step (seconds). Each kind has its own slots: at
// most exportSlots light and heavySlots heavy exports are computed at once
// in the server, and one at a time per address; one more is answered 503
// with Retry-After at once, not queued, so a client fetching in a loop
// cannot take the CPU from the class. Their steps go through the same CPU scheduler as the runs', on
// the requesting address's account. Heavy results are cached (by their
// canonical URL), so that a class downloading the same figure computes it
// once.
const (
	exportSlots      = 2
	heavySlots       = 1
	heavyCacheSize   = 32
	exportRetryAfter = "2" // seconds
)

// exporter serves /export/{name}.{format}.
type exporter struct {
	live  *Live
	light chan struct{}
	heavy chan struct{}

	mu     sync.Mutex
	cache  map[string]cached // canonical URL → file
	order  []string          // cache keys, oldest first
	active map[string]bool   // addresses with a download being computed
}

type cached struct {
	format string
	body   []byte
}

func newExporter(l *Live) *exporter {
	return &exporter{
		live: l, light: make(chan struct{}, exportSlots), heavy: make(chan struct{}, heavySlots),
		cache: map[string]cached{}, active: map[string]bool{},
	}
}

// enter marks a download of ip as being computed, unless one already is.
func (e *exporter) enter(ip string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.active[ip] {
		return false
	}
	e.active[ip] = true
	return true
}

func (e *exporter) leave(ip string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.active, ip)
}

// gate admits one download of ip into slots: one download at a time per
// address, so that one client fetching in a loop cannot hold every slot
// while the class waits, and no more at once than slots holds. done gives
// both back.
func (e *exporter) gate(ip string, slots chan struct{}) (done func(), busy *exportError) {
	busy = &exportError{http.StatusServiceUnavailable, run.Text{
		En: "Busy: other downloads are being computed right now; try again in a moment.",
		Zh: "正忙：其他下载正在计算中；请稍后再试。",
	}}
	if !e.enter(ip) {
		return nil, busy
	}
	select {
	case slots <- struct{}{}:
		return func() { <-slots; e.leave(ip) }, nil
	default:
		e.leave(ip)
		return nil, busy
	}
}

// exportError is a refusal with its HTTP status, in both languages.
type exportError struct {
	status int
	text   run.Text
}

func (e *exportError) Error() string { return "export: " + e.text.En }

// ServeExport handles GET /export/{file}: NAME.FORMAT for every registered
// experiment and each of its exports, with the experiment's parameters in
// the query (missing ones take their defaults), step=K (default: the last
// step) and lang=en|zh (default en). The result depends only on the URL,
// so the URL is a stable name for the state a widget showed. A bad query
// is 400 with a plain-text reason in the query's language; an unknown file
// is 404 and lists the exports there are; while the export's slots are
// taken, or the server is shutting down, 503 with Retry-After.
func (l *Live) ServeExport(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	lang := "en"
	if q.Get("lang") == "zh" {
		lang = "zh"
	}
	// A heavy export may compute for longer than the server's write
	// timeout: its answer must still get through (it is cancelled with its
	// client or at shutdown instead).
	http.NewResponseController(w).SetWriteDeadline(time.Time{})
	body, format, err := l.exports.serve(r.Context(), r.PathValue("file"), q, lang, remoteIP(r))
	if err != nil {
		var ee *exportError
		var re *run.Error
		switch {
		case errors.As(err, &ee):
		case errors.As(err, &re):
			// The experiment refused with its reason (e.g. a question not
			// answered yet, a run that diverged before the step): the reader
			// gets it in the page's language; nothing failed.
			ee = &exportError{http.StatusConflict, re.Text}
		default:
			l.log.Error("export: failed", "path", r.URL.Path, "query", r.URL.RawQuery, "err", err)
			ee = &exportError{http.StatusInternalServerError, run.Text{En: "the figure could not be drawn (logged)", Zh: "无法绘制这张图（已记录）"}}
		}
		if ee.status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", exportRetryAfter)
		}
		http.Error(w, ee.text.In(lang), ee.status)
		return
	}
	w.Header().Set("Content-Type", run.ContentType(format))
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

// serve finds, decodes, builds, replays and writes one export.
func (e *exporter) serve(ctx context.Context, file string, q url.Values, lang, ip string) ([]byte, string, error) {
	spec, exp, format, err := lookupExport(file)
	if err != nil {
		return nil, "", err
	}
	if l := q["lang"]; len(l) > 1 || len(l) == 1 && l[0] != "en" && l[0] != "zh" {
		return nil, "", &exportError{http.StatusBadRequest, run.Text{En: "lang must be en or zh, once", Zh: "lang 必须是 en 或 zh，且只能出现一次"}}
	}
	v, err := spec.DecodeQuery(q, "step", "lang")
	if err != nil {
		pe, _ := run.AsParamError(err)
		return nil, "", &exportError{http.StatusBadRequest, pe.Text}
	}
	step := -1 // the last step
	if q.Has("step") {
		n, err := strconv.Atoi(q.Get("step"))
		if err != nil || n < 0 || strings.TrimLeft(q.Get("step"), "0123456789") != "" {
			return nil, "", stepError(q.Get("step"), -1)
		}
		step = n
	}
	key := ""
	slots := e.light
	if exp.Heavy {
		slots = e.heavy
		key = fmt.Sprintf("%s.%s?%s&step=%d&lang=%s", spec.Name, format, v.Query(spec.Fields).Encode(), step, lang)
		if c, ok := e.cached(key); ok {
			return c.body, c.format, nil
		}
	}
	done, busy := e.gate(ip, slots)
	if busy != nil {
		return nil, "", busy
	}
	defer done()
	// The export gives up when its client leaves or the server shuts down.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(e.live.stop, cancel)
	defer stop()

	x, err := run.Replay(ctx, spec, v, step, e.live.sched, run.Owner{Addr: ip, Session: "export"})
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return nil, "", &exportError{http.StatusServiceUnavailable, run.Text{En: "the download was cancelled (the server is shutting down)", Zh: "下载已取消（服务器正在关闭）"}}
		case errors.Is(err, run.ErrStepRange):
			return nil, "", stepError(q.Get("step"), x.Total())
		}
		return nil, "", err
	}
	// Drawing is the export's work too: it holds a CPU slot like a step.
	var buf bytes.Buffer
	err = nil
	if serr := e.live.sched.Do(ctx, run.Owner{Addr: ip, Session: "export"}, func() { err = exp.Write(&buf, x, lang) }); serr != nil {
		return nil, "", &exportError{http.StatusServiceUnavailable, run.Text{En: "the download was cancelled (the server is shutting down)", Zh: "下载已取消（服务器正在关闭）"}}
	}
	if err != nil {
		return nil, "", err
	}
	if key != "" {
		e.store(key, cached{format, buf.Bytes()})
	}
	return buf.Bytes(), format, nil
}

func stepError(s string, total int) *exportError {
	if total < 0 {
		return &exportError{http.StatusBadRequest, run.Text{
			En: fmt.Sprintf("step must be a whole number ≥ 0; got %q", s),
			Zh: fmt.Sprintf("step 必须是不小于 0 的整数；收到的是 %q", s),
		}}
	}
	return &exportError{http.StatusBadRequest, run.Text{
		En: fmt.Sprintf("step must be a whole number from 0 to %d for these settings; got %q", total, s),
		Zh: fmt.Sprintf("在这些设置下 step 必须是 0 到 %d 之间的整数；收到的是 %q", total, s),
	}}
}

// lookupExport splits NAME.FORMAT (FORMAT may have a dot: trace.json) and
// finds the experiment's export.
func lookupExport(file string) (*run.Spec, run.Export, string, error) {
	for i := range len(file) {
		if file[i] != '.' {
			continue
		}
		name, format := file[:i], file[i+1:]
		if spec, ok := run.Lookup(name); ok {
			if exp, ok := spec.Export(format); ok {
				return spec, exp, format, nil
			}
		}
	}
	var have []string
	for _, s := range run.Specs() {
		var fs []string
		for _, e := range s.Exports {
			fs = append(fs, "."+e.Format)
		}
		if len(fs) > 0 {
			have = append(have, s.Name+strings.Join(fs, "/"))
		}
	}
	slices.Sort(have)
	n := shortText(file)
	return nil, run.Export{}, "", &exportError{http.StatusNotFound, run.Text{
		En: fmt.Sprintf("no export named %q (have %s)", n, strings.Join(have, ", ")),
		Zh: fmt.Sprintf("没有名为 %q 的导出（现有 %s）", n, strings.Join(have, "、")),
	}}
}

func (e *exporter) cached(key string) (cached, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.cache[key]
	return c, ok
}

func (e *exporter) store(key string, c cached) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.cache[key]; ok {
		return
	}
	e.cache[key] = c
	e.order = append(e.order, key)
	if len(e.order) > heavyCacheSize {
		delete(e.cache, e.order[0])
		e.order = e.order[1:]
	}
}
