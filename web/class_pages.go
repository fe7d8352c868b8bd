package web

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/paramshare/paramshare/class"
	"github.com/paramshare/paramshare/lessons"
	"github.com/paramshare/paramshare/web/templates"
)

// The class pages (docs/classroom.md): join a class or open a room, the
// teacher's dashboard and the projector view. The server renders each
// page's frame and fixed text; class.js does the rest from localStorage and
// the room's websocket, so no name a student typed is rendered here.

func classPath(lang string) string      { return "/" + lang + "/class" }
func classTeachPath(lang string) string { return "/" + lang + "/class/teach" }
func classShowPath(lang, code string) string {
	return "/" + lang + "/class/" + code + "/show"
}

// classJoinPath is the address a student opens to join: the projector shows
// it and the QR code encodes it (with the origin before it).
func classJoinPath(lang, code string) string {
	return classPath(lang) + "?" + url.Values{"code": {code}}.Encode()
}

// boardFormats are the class board's exports, in the order the pages list them.
var boardFormats = []string{"png", "svg", "csv", "json"}

// boardLinks lists the board's downloads; with code "" the hrefs are left
// for class.js to fill (the dashboard learns its code from localStorage).
func boardLinks(lang, code string) []templates.DownloadLink {
	var out []templates.DownloadLink
	for _, f := range boardFormats {
		d := templates.DownloadLink{Format: f, Label: strings.ToUpper(f)}
		if code != "" {
			d.Href = "/class/" + code + "/board." + f + "?lang=" + lang
		}
		out = append(out, d)
	}
	return out
}

// cleanCode turns what a visitor typed or a link carried into a join code as
// far as it can: upper case, only the code alphabet, at most CodeLen
// characters. Whether such a room exists is the server's to say at join.
func cleanCode(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		if b.Len() == class.CodeLen {
			break
		}
		if strings.ContainsRune(class.CodeAlphabet, r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// isCode reports whether s is a well-formed join code.
func isCode(s string) bool { return len(s) == class.CodeLen && cleanCode(s) == s }

// classText holds the class pages' words in one language.
type classText struct {
	HomeTitle, HomeIntro                       string
	JoinHeading, CodeLabel, CodeHint           string
	NickLabel, NickHint, JoinButton            string
	SeatedHeading, ContinueButton, LeaveBtn    string
	TeachHeading, TeachText, OpenButton        string
	DashboardLink, Privacy, NoScript           string
	TeachTitle, NoRoom, OpenRoom               string
	CodeLabelBig, JoinLinkLabel, QRAlt         string
	ShowLink, CourseLink                       string
	ControlsHeading, ModeLabel                 string
	FollowButton, FreeButton, ModeHint         string
	LessonLabel, PushButton, LessonPlaceholder string
	PauseLabel, PauseButton, ResumeButton      string
	PauseHint                                  string
	LockButton, UnlockButton, LockHint         string
	NewCodeButton, NewCodeHint                 string
	RosterHeading, HideNames, SpotlightHint    string
	ColStudent, ColOnline, ColLesson, ColRuns  string
	ColActions, RosterEmpty                    string
	BoardHeading, BoardIntro, BoardEmpty       string
	Downloads                                  string
	DangerHeading, DeleteButton, DeleteHint    string
	ShowTitle, JoinPrompt                      string
}

var classUI = map[string]classText{
	"en": {
		HomeTitle:         "Join a class",
		HomeIntro:         "Your teacher shows a six-character code. Type it with a nickname of your choice, and your lesson pages can follow the teacher's.",
		JoinHeading:       "Join with a code",
		CodeLabel:         "Class code",
		CodeHint:          "6 letters and digits, as your teacher shows it, e.g. ABC234.",
		NickLabel:         "Nickname",
		NickHint:          "1 to 24 characters. Your teacher sees it; the projector never shows it.",
		JoinButton:        "Join",
		SeatedHeading:     "You are in a class",
		ContinueButton:    "Continue",
		LeaveBtn:          "Leave this class",
		TeachHeading:      "Teaching? Open a room",
		TeachText:         "A room gives your class a join code, you a dashboard to lead every screen, and the projector a view of the class board.",
		OpenButton:        "Open a room",
		DashboardLink:     "Go to the dashboard",
		Privacy:           "No account is needed. This browser keeps only the class code and a key to your seat (or your room); the server keeps nicknames and the scores of the runs in the class, and deletes a room's data 30 days after its last activity.",
		NoScript:          "The class pages need JavaScript: they talk to the server over a live connection.",
		TeachTitle:        "Teacher's dashboard",
		NoRoom:            "No room on this browser — open one.",
		OpenRoom:          "Open a room",
		CodeLabelBig:      "Class code",
		JoinLinkLabel:     "Students join at",
		QRAlt:             "QR code of the address where students join this class",
		ShowLink:          "Projector view",
		CourseLink:        "Go to the course",
		ControlsHeading:   "Lead the class",
		ModeLabel:         "Students' screens",
		FollowButton:      "Follow me",
		FreeButton:        "Free",
		ModeHint:          "Follow me: every student's page shows your lesson and your runs. Free: everyone works on their own.",
		LessonLabel:       "Send everyone to a lesson",
		PushButton:        "Send",
		LessonPlaceholder: "Choose a lesson…",
		PauseLabel:        "Pause every screen with a message",
		PauseButton:       "Pause all",
		ResumeButton:      "Resume all",
		PauseHint:         "Pause all stops every run in the class; Resume all plays again the runs that were playing.",
		LockButton:        "Lock the room",
		UnlockButton:      "Unlock the room",
		LockHint:          "A locked room admits nobody new; seated students stay.",
		NewCodeButton:     "New code",
		NewCodeHint:       "The old code stops admitting; everyone already in keeps their seat.",
		RosterHeading:     "Students",
		HideNames:         "Hide names",
		SpotlightHint:     "Spotlight shows a student's run on your own lesson page (the one you project) and on the screens of students who follow you; not on students who forked, nor on the projector view.",
		ColStudent:        "Student",
		ColOnline:         "Online",
		ColLesson:         "Lesson",
		ColRuns:           "Runs",
		ColActions:        "Actions",
		RosterEmpty:       "Nobody has joined yet.",
		BoardHeading:      "Class board",
		BoardIntro:        "Every training run a student forks draws one curve: loss against step, with its latest test accuracy beside its name.",
		BoardEmpty:        "No forked runs yet: students who fork a training run appear here.",
		Downloads:         "Download the board:",
		DangerHeading:     "End the class",
		DeleteButton:      "Delete this room's data",
		DeleteHint:        "Deletes the room, its seats and its board from the server at once, and ends the class on every screen. Otherwise the data is deleted 30 days after the last activity.",
		ShowTitle:         "Class",
		JoinPrompt:        "Join at",
	},
	"zh": {
		HomeTitle:         "加入课堂",
		HomeIntro:         "老师会展示一个六位的课堂代码。输入代码并起一个昵称，你的课程页面就可以跟随老师的页面。",
		JoinHeading:       "用代码加入",
		CodeLabel:         "课堂代码",
		CodeHint:          "6 位字母和数字，照老师展示的输入，例如 ABC234。",
		NickLabel:         "昵称",
		NickHint:          "1 到 24 个字符。老师能看到，投影画面上从不显示。",
		JoinButton:        "加入",
		SeatedHeading:     "你已在一个课堂中",
		ContinueButton:    "继续",
		LeaveBtn:          "退出这个课堂",
		TeachHeading:      "你是老师？开一个课堂",
		TeachText:         "开一个课堂，你的学生就有了加入代码，你有了带领所有屏幕的控制台，投影仪上还能显示全班的训练看板。",
		OpenButton:        "开一个课堂",
		DashboardLink:     "进入控制台",
		Privacy:           "无需注册账号。此浏览器只保存课堂代码和你的座位（或课堂）密钥；服务器保存昵称和课堂中各次运行的得分，并在课堂最后一次活动 30 天后删除其数据。",
		NoScript:          "课堂页面需要 JavaScript：它们通过实时连接与服务器通信。",
		TeachTitle:        "老师控制台",
		NoRoom:            "此浏览器上没有课堂——开一个吧。",
		OpenRoom:          "开一个课堂",
		CodeLabelBig:      "课堂代码",
		JoinLinkLabel:     "学生加入地址",
		QRAlt:             "学生加入此课堂的地址的二维码",
		ShowLink:          "投影画面",
		CourseLink:        "进入课程",
		ControlsHeading:   "带领课堂",
		ModeLabel:         "学生的屏幕",
		FollowButton:      "跟随我",
		FreeButton:        "自由",
		ModeHint:          "跟随我：每个学生的页面显示你的课和你的运行。自由：每人各自操作。",
		LessonLabel:       "让所有人打开一课",
		PushButton:        "发送",
		LessonPlaceholder: "选择一课……",
		PauseLabel:        "暂停所有屏幕并显示一句话",
		PauseButton:       "全部暂停",
		ResumeButton:      "全部继续",
		PauseHint:         "全部暂停会停下课堂中的每个运行；全部继续会让暂停前在运行的重新运行。",
		LockButton:        "锁定课堂",
		UnlockButton:      "解锁课堂",
		LockHint:          "锁定后不再接纳新学生；已加入的学生不受影响。",
		NewCodeButton:     "换一个代码",
		NewCodeHint:       "旧代码不再接纳新学生；已加入的人保留座位。",
		RosterHeading:     "学生",
		HideNames:         "隐藏昵称",
		SpotlightHint:     "聚焦展示会把某个学生的运行显示在你自己的课程页面（你投影的那一页）和跟随你的学生的屏幕上；已分叉的学生和投影画面上不显示。",
		ColStudent:        "学生",
		ColOnline:         "在线",
		ColLesson:         "课",
		ColRuns:           "运行",
		ColActions:        "操作",
		RosterEmpty:       "还没有人加入。",
		BoardHeading:      "全班看板",
		BoardIntro:        "学生每分叉一次训练运行，就画出一条曲线：损失随步数的变化，名称旁是它最近一次测得的测试准确率。",
		BoardEmpty:        "还没有分叉的运行：学生分叉训练运行后会显示在这里。",
		Downloads:         "下载看板：",
		DangerHeading:     "结束课堂",
		DeleteButton:      "删除此课堂的数据",
		DeleteHint:        "立即从服务器删除此课堂、座位和看板，并在所有屏幕上结束课堂。否则数据会在最后一次活动 30 天后删除。",
		ShowTitle:         "课堂",
		JoinPrompt:        "加入地址",
	},
}

// handleClassHome serves /{lang}/class: join a class, or open a room.
// ?code= prefills the code (a QR code or a shared link carries it).
func handleClassHome(log *slog.Logger, lang string) http.Handler {
	t, c := ui[lang], classUI[lang]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code := cleanCode(r.URL.Query().Get("code"))
		// The language switch keeps a link's code.
		pathIn := classPath
		if code != "" {
			pathIn = func(other string) string { return classJoinPath(other, code) }
		}
		v := templates.ClassHomePage{
			Page:           basePage(lang, c.HomeTitle+" — "+t.SiteName, pathIn),
			Heading:        c.HomeTitle,
			Intro:          c.HomeIntro,
			JoinHeading:    c.JoinHeading,
			CodeLabel:      c.CodeLabel,
			CodeHint:       c.CodeHint,
			CodePrefill:    code,
			CodeLen:        class.CodeLen,
			CodePattern:    "[" + class.CodeAlphabet + strings.ToLower(class.CodeAlphabet) + "]{6}",
			NickLabel:      c.NickLabel,
			NickHint:       c.NickHint,
			JoinButton:     c.JoinButton,
			SeatedHeading:  c.SeatedHeading,
			ContinueButton: c.ContinueButton,
			LeaveButton:    c.LeaveBtn,
			TeachHeading:   c.TeachHeading,
			TeachText:      c.TeachText,
			OpenButton:     c.OpenButton,
			DashboardLink:  c.DashboardLink,
			DashboardHref:  classTeachPath(lang),
			CourseHref:     indexPath(lang),
			Privacy:        c.Privacy,
			NoScript:       c.NoScript,
			ClassPageLang:  lang,
		}
		render(w, r, log, http.StatusOK, templates.ClassHome(v))
	})
}

// handleClassTeach serves /{lang}/class/teach: the teacher's dashboard. The
// lessons it can send every screen to are the course's written ones.
func handleClassTeach(log *slog.Logger, set *lessons.Set, lang string) http.Handler {
	t, c := ui[lang], classUI[lang]
	var options []templates.LessonOption
	for _, l := range set.Lessons(lang) {
		options = append(options, templates.LessonOption{Slug: l.Slug, Title: t.LessonNumber(l.Order) + " · " + l.Title})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := templates.ClassTeachPage{
			Page:            basePage(lang, c.TeachTitle+" — "+t.SiteName, classTeachPath),
			ClassPageLang:   lang,
			Heading:         c.TeachTitle,
			NoRoom:          c.NoRoom,
			OpenRoom:        c.OpenRoom,
			OpenHref:        classPath(lang),
			CourseHref:      indexPath(lang),
			CodeLabel:       c.CodeLabelBig,
			JoinLinkLabel:   c.JoinLinkLabel,
			QRAlt:           c.QRAlt,
			ShowLink:        c.ShowLink,
			CourseLink:      c.CourseLink,
			ControlsHeading: c.ControlsHeading,
			ModeLabel:       c.ModeLabel,
			FollowButton:    c.FollowButton,
			FreeButton:      c.FreeButton,
			ModeHint:        c.ModeHint,
			LessonLabel:     c.LessonLabel,
			PushButton:      c.PushButton,
			LessonPick:      c.LessonPlaceholder,
			Lessons:         options,
			PauseLabel:      c.PauseLabel,
			PauseButton:     c.PauseButton,
			ResumeButton:    c.ResumeButton,
			PauseHint:       c.PauseHint,
			MaxMessage:      class.MaxMessage,
			LockButton:      c.LockButton,
			UnlockButton:    c.UnlockButton,
			LockHint:        c.LockHint,
			NewCodeButton:   c.NewCodeButton,
			NewCodeHint:     c.NewCodeHint,
			RosterHeading:   c.RosterHeading,
			HideNames:       c.HideNames,
			SpotlightHint:   c.SpotlightHint,
			ColStudent:      c.ColStudent,
			ColOnline:       c.ColOnline,
			ColLesson:       c.ColLesson,
			ColRuns:         c.ColRuns,
			ColActions:      c.ColActions,
			RosterEmpty:     c.RosterEmpty,
			Board:           classBoardView(c, lang, ""),
			DangerHeading:   c.DangerHeading,
			DeleteButton:    c.DeleteButton,
			DeleteHint:      c.DeleteHint,
			NoScript:        c.NoScript,
		}
		// The dashboard is this browser's own, with a secret in its storage:
		// nothing about it belongs in a shared cache.
		w.Header().Set("Cache-Control", "no-store")
		render(w, r, log, http.StatusOK, templates.ClassTeach(v))
	})
}

func classBoardView(c classText, lang, code string) templates.BoardView {
	return templates.BoardView{
		Heading:   c.BoardHeading,
		Intro:     c.BoardIntro,
		Empty:     c.BoardEmpty,
		Downloads: c.Downloads,
		Links:     boardLinks(lang, code),
	}
}

// handleClassShow serves /{lang}/class/{code}/show: the projector view of a
// room (c.Known(r, code) tells whether the room is there). A code typed in
// lower case is sent to its canonical address; an unknown one gets the 404
// page.
func handleClassShow(log *slog.Logger, c *Classroom, lang string) http.Handler {
	t, ct := ui[lang], classUI[lang]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw := r.PathValue("code")
		code := strings.ToUpper(raw)
		if !isCode(code) || !c.Known(r, code) {
			notFound(log).ServeHTTP(w, r)
			return
		}
		if code != raw {
			http.Redirect(w, r, classShowPath(lang, code), http.StatusMovedPermanently)
			return
		}
		v := templates.ClassShowPage{
			Page:          basePage(lang, ct.ShowTitle+" "+code+" — "+t.SiteName, func(other string) string { return classShowPath(other, code) }),
			ClassPageLang: lang,
			Code:          code,
			CodeLabel:     ct.CodeLabelBig,
			JoinPrompt:    ct.JoinPrompt,
			JoinPath:      classJoinPath(lang, code),
			QRSrc:         "/class/" + code + "/qr.svg?lang=" + lang,
			QRAlt:         ct.QRAlt,
			Board:         classBoardView(ct, lang, code),
			NoScript:      ct.NoScript,
		}
		w.Header().Set("Cache-Control", "no-store")
		render(w, r, log, http.StatusOK, templates.ClassShow(v))
	})
}
