package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/paramshare/paramshare/lessons"
	"github.com/paramshare/paramshare/run"
)

// staticFiles are the stylesheets, scripts, widget modules and images
// served under /static/. Embedding them makes the binary work from any
// directory.
//
//go:embed static
var staticFiles embed.FS

// Static is the static file tree, rooted at what /static/ serves.
func Static() fs.FS {
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err) // "static" is a valid path; fs.Sub cannot fail on it
	}
	return sub
}

// staticTypes fixes the content types of the files we ship instead of
// asking the mime package, whose table the host's /etc/mime.types can
// change (some systems still map .js to application/javascript).
var staticTypes = map[string]string{
	".css":   "text/css; charset=utf-8",
	".js":    "text/javascript; charset=utf-8",
	".mjs":   "text/javascript; charset=utf-8",
	".json":  "application/json",
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".ico":   "image/x-icon",
	".woff2": "font/woff2",
	".txt":   "text/plain; charset=utf-8",
}

func staticType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if t, ok := staticTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

// staticFile is one file /static/ serves, with its ETag.
type staticFile struct {
	fsys fs.FS
	name string
	etag string
}

// staticTree lists every file /static/ serves: web's own (the site's
// styles and scripts, the widgets' shared modules) and, under widgets/,
// each registered experiment's widget files, so that web names no
// experiment: the registry is the routing table.
func staticTree(own fs.FS) (map[string]staticFile, error) {
	files := map[string]staticFile{}
	add := func(fsys fs.FS, prefix string) error {
		return fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := fs.ReadFile(fsys, name)
			if err != nil {
				return err
			}
			if _, dup := files[prefix+name]; dup {
				return fmt.Errorf("%s%s is served twice", prefix, name)
			}
			sum := sha256.Sum256(b)
			files[prefix+name] = staticFile{fsys: fsys, name: name, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
			return nil
		})
	}
	if err := add(own, ""); err != nil {
		return nil, fmt.Errorf("web: static files: %w", err)
	}
	for _, s := range run.Specs() {
		if s.Widget == nil {
			continue
		}
		if err := add(s.Widget, "widgets/"); err != nil {
			return nil, fmt.Errorf("web: %s's widget files: %w", s.Name, err)
		}
	}
	return files, nil
}

// handleStatic serves the files of staticTree(own). Widget modules are
// imported by a fixed path (/static/widgets/NAME.js), so the addresses
// cannot carry a content hash; instead every file has a strong ETag and
// "no-cache", which makes browsers revalidate each time and get a cheap
// 304 when nothing changed — never a stale widget after an upgrade.
// Directories are not listed; unknown files get the friendly 404 page.
func handleStatic(own fs.FS, notFound http.Handler) (http.Handler, error) {
	files, err := staticTree(own)
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/static/")
		sf, ok := files[name]
		if !ok {
			notFound.ServeHTTP(w, r)
			return
		}
		f, err := sf.fsys.Open(sf.name)
		if err != nil {
			notFound.ServeHTTP(w, r)
			return
		}
		defer f.Close()
		content, ok := f.(io.ReadSeeker)
		if !ok {
			http.Error(w, "web: static file cannot seek", http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Content-Type", staticType(name))
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", sf.etag)
		// Embedded files have no modification time; the ETag does the work.
		http.ServeContent(w, r, name, time.Time{}, content)
	}), nil
}

// CheckWidgets returns an error naming every widget used by a lesson in set
// that no registered experiment provides (NAME.js among its widget files), so a typo in a lesson is
// found when the server starts, not by a student.
func CheckWidgets(set *lessons.Set) error {
	files, err := staticTree(Static())
	if err != nil {
		return err
	}
	var errs []error
	seen := map[string]bool{}
	for _, lang := range lessons.Languages {
		for _, l := range set.Lessons(lang) {
			for _, w := range l.Widgets {
				key := l.File + "\x00" + w.Name
				if seen[key] {
					continue
				}
				seen[key] = true
				if _, ok := files["widgets/"+w.Name+".js"]; !ok {
					errs = append(errs, fmt.Errorf("web: %s uses widget %q, but no experiment of that name has a widget (%s.js)", l.File, w.Name, w.Name))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// ValidateWidget checks a lesson's widget directive against the named
// experiment's spec, with the one decoder the websocket uses: for
// lessons.Loader, so that a lesson file's bad parameters stop the server
// at start-up instead of failing when a student starts the widget.
func ValidateWidget(experiment string, params json.RawMessage) error {
	return run.Validate(experiment, params)
}

// discardLogger is used when a caller passes no logger.
func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
