package web

import (
	"log/slog"
	"net/http"

	"github.com/paramshare/paramshare/lessons"
)

// addRoutes lists every route of the site. Language routes are spelled out
// per language (/en/…, /zh/…) instead of a /{lang}/ wildcard, which would
// overlap /static/ and /export/ and leave unknown languages to each handler.
func addRoutes(mux *http.ServeMux, log *slog.Logger, set *lessons.Set, live *Live) {
	notFound := notFound(log)
	static, err := handleStatic(Static(), notFound)
	if err != nil {
		panic(err) // the embedded files are part of the binary; reading them cannot fail
	}

	mux.Handle("GET /{$}", handleRoot())
	for _, lang := range siteLangs {
		mux.Handle("GET /"+lang+"/{$}", handleIndex(log, set, lang))
		mux.Handle("GET /"+lang, http.RedirectHandler(indexPath(lang), http.StatusMovedPermanently))
		mux.Handle("GET /"+lang+"/lessons/{slug}", handleLesson(log, set, lang))
		mux.Handle("GET /lang/"+lang, handleSetLang(lang))
		mux.Handle("GET /"+lang+"/class", handleClassHome(log, lang))
		mux.Handle("GET /"+lang+"/class/teach", handleClassTeach(log, set, lang))
		mux.Handle("GET /"+lang+"/class/{code}/show", handleClassShow(log, live.class, lang))
	}
	mux.Handle("GET /static/", static)
	mux.Handle("GET /code/{file}", handleCode(set, notFound))
	mux.Handle("GET /healthz", handleHealthz())
	mux.HandleFunc("GET /ws", live.ServeWS)
	mux.HandleFunc("GET /export/{file}", live.ServeExport)
	mux.HandleFunc("POST /class/rooms", live.class.ServeNewRoom)
	mux.HandleFunc("POST /class/join", live.class.ServeJoin)
	mux.HandleFunc("GET /class/{code}/qr.svg", live.class.ServeQR)
	mux.HandleFunc("GET /class/{code}/{file}", live.class.ServeBoard)
	mux.Handle("/", notFound)
}
