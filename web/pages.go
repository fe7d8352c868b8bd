package web

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"

	"github.com/a-h/templ"

	"github.com/paramshare/paramshare/lessons"
	"github.com/paramshare/paramshare/web/templates"
)

func indexPath(lang string) string        { return "/" + lang + "/" }
func lessonPath(lang, slug string) string { return "/" + lang + "/lessons/" + slug }

// render writes c with the given status. It renders into a buffer first,
// so a template error becomes a clean 500 rather than half a page.
func render(w http.ResponseWriter, r *http.Request, log *slog.Logger, status int, c templ.Component) {
	var buf bytes.Buffer
	if err := c.Render(r.Context(), &buf); err != nil {
		log.Error("rendering page", "path", r.URL.Path, "err", err)
		http.Error(w, "web: internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// basePage fills the frame of a page in lang. pathIn gives this same page's
// address in another language, for the language switch.
func basePage(lang, title string, pathIn func(lang string) string) templates.Page {
	t := ui[lang]
	p := templates.Page{
		HTMLLang:    htmlLang[lang],
		Title:       title,
		Description: t.Tagline,
		SiteName:    t.SiteName,
		HomeHref:    indexPath(lang),
		SkipLink:    t.SkipLink,
		Footer:      t.Footer,
		Switch:      templates.LangSwitch{Label: t.LangLabel},
	}
	for _, l := range siteLangs {
		p.Switch.Options = append(p.Switch.Options, templates.LangOption{
			Label:    langNames[l],
			HrefLang: htmlLang[l],
			Href:     langSwitchHref(l, pathIn(l)),
			Current:  l == lang,
		})
	}
	return p
}

// handleRoot sends / to the course overview in the visitor's language.
func handleRoot() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The answer depends on these request headers; caches must know.
		w.Header().Add("Vary", "Cookie, Accept-Language")
		http.Redirect(w, r, indexPath(chooseLang(r)), http.StatusFound)
	})
}

// handleIndex serves the course overview in lang.
func handleIndex(log *slog.Logger, set *lessons.Set, lang string) http.Handler {
	t := ui[lang]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := templates.IndexPage{
			Page:           basePage(lang, t.SiteName+" — "+t.IndexHeading, indexPath),
			Heading:        t.IndexHeading,
			Intro:          t.IndexIntro,
			OutlineHeading: t.OutlineHeading,
		}
		for _, e := range set.Outline(lang) {
			row := templates.OutlineRow{
				Number:  t.LessonNumber(e.Order),
				Title:   e.Title,
				Summary: e.Summary,
				TestID:  "lesson-row-" + e.Slug,
			}
			switch {
			case e.Lesson == nil:
				row.Badge = t.ComingSoon
			case e.Fallback:
				row.Available, row.Href, row.Badge = true, lessonPath(lang, e.Slug), t.EnglishOnly
			default:
				row.Available, row.Href = true, lessonPath(lang, e.Slug)
			}
			v.Rows = append(v.Rows, row)
		}
		render(w, r, log, http.StatusOK, templates.Index(v))
	})
}

// handleLesson serves /{lang}/lessons/{slug}; an unknown slug gets the
// friendly 404 page.
func handleLesson(log *slog.Logger, set *lessons.Set, lang string) http.Handler {
	t := ui[lang]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slug := r.PathValue("slug")
		l, fallback, ok := set.Lesson(lang, slug)
		if !ok {
			notFound(log).ServeHTTP(w, r)
			return
		}
		v := templates.LessonPage{
			Page:        basePage(lang, l.Title+" — "+t.SiteName, func(other string) string { return lessonPath(other, slug) }),
			Number:      t.LessonNumber(l.Order),
			Title:       l.Title,
			Summary:     l.Summary,
			ContentLang: htmlLang[l.Lang],
			BodyHTML:    l.HTML,
			NavLabel:    t.NavLabel,
			// At the ends of the course the links lead to the overview, so
			// the navigation is always in the same place.
			Prev: templates.NavLink{Href: indexPath(lang), Kicker: t.Overview, Title: t.AllLessons},
			Next: templates.NavLink{Href: indexPath(lang), Kicker: t.Overview, Title: t.AllLessons},
		}
		if fallback {
			v.FallbackNote = t.FallbackNote
		}
		prev, next := set.Neighbours(lang, slug)
		if prev != nil {
			v.Prev = templates.NavLink{Href: lessonPath(lang, prev.Slug), Kicker: t.Previous, Title: prev.Title, Rel: "prev"}
		}
		if next != nil {
			v.Next = templates.NavLink{Href: lessonPath(lang, next.Slug), Kicker: t.Next, Title: next.Title, Rel: "next"}
		} else if planned, ok := nextPlanned(set.Outline(lang), slug); ok {
			// The next lesson is only planned: say so, and link to the
			// overview, where it is listed as coming soon.
			v.Next = templates.NavLink{Href: indexPath(lang), Kicker: t.NextComingSoon, Title: t.LessonNumber(planned.Order) + " · " + planned.Title}
		}
		render(w, r, log, http.StatusOK, templates.Lesson(v))
	})
}

// nextPlanned returns the outline row right after slug when that lesson is
// planned but not written.
func nextPlanned(rows []lessons.Entry, slug string) (lessons.Entry, bool) {
	for i, e := range rows {
		if e.Slug == slug && i+1 < len(rows) && rows[i+1].Lesson == nil {
			return rows[i+1], true
		}
	}
	return lessons.Entry{}, false
}

// pageLang is the language of an error page: the one in the path when the
// path starts with one, otherwise the visitor's.
func pageLang(r *http.Request) string {
	first, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if isSiteLang(first) {
		return first
	}
	return chooseLang(r)
}

// notFound serves the friendly 404 page.
func notFound(log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lang := pageLang(r)
		t := ui[lang]
		render(w, r, log, http.StatusNotFound, templates.Error(templates.ErrorPage{
			Page:      basePage(lang, t.NotFoundHeading+" — "+t.SiteName, indexPath),
			Code:      "404",
			Heading:   t.NotFoundHeading,
			Message:   t.NotFoundMessage,
			BackHref:  indexPath(lang),
			BackLabel: t.BackToCourse,
		}))
	})
}

// serverError serves the 500 page (used by panic recovery).
func serverError(log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lang := pageLang(r)
		t := ui[lang]
		render(w, r, log, http.StatusInternalServerError, templates.Error(templates.ErrorPage{
			Page:      basePage(lang, t.ErrorHeading+" — "+t.SiteName, indexPath),
			Code:      "500",
			Heading:   t.ErrorHeading,
			Message:   t.ErrorMessage,
			BackHref:  indexPath(lang),
			BackLabel: t.BackToCourse,
		}))
	})
}

// handleCode serves a file a lesson shows in its "In code" section (a
// PyTorch script or a Go file of lessons/code) as plain text, so that the
// page's download link and a browser's view of it both work.
func handleCode(set *lessons.Set, notFound http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := set.CodeFile(r.PathValue("file"))
		if !ok {
			notFound.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = w.Write(b)
	})
}

// handleHealthz answers load balancers and scripts that the server is up.
func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte("ok"))
	})
}
