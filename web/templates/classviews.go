package templates

// The class pages' view models (docs/classroom.md). The server renders the
// frame and every fixed text; class.js fills in what only the browser knows
// (the room this browser keeps in localStorage) and what the websocket
// brings (room state, roster, board), so nothing a student typed is ever
// rendered by the server.

// ClassHomePage is /{lang}/class: join a class, or open a room.
type ClassHomePage struct {
	Page
	Heading, Intro string

	JoinHeading     string
	CodeLabel       string
	CodeHint        string
	CodePrefill     string // from ?code=, cleaned to the code alphabet
	CodeLen         int
	CodePattern     string // the code input's pattern attribute
	NickLabel       string
	NickHint        string
	JoinButton      string
	SeatedHeading   string // shown instead of the form when this browser already has a seat
	ContinueButton  string
	LeaveButton     string
	TeachHeading    string
	TeachText       string
	OpenButton      string
	DashboardLink   string // shown when this browser already leads a room
	DashboardHref   string
	CourseHref      string // where a student goes when the room names no lesson
	Privacy         string // no account; what is stored and for how long
	NoScript        string
	ClassPageLang   string // "en" or "zh", for the addresses class.js builds
	ClassPagePrefix string // "/en" or "/zh"
}

// ClassTeachPage is /{lang}/class/teach, the teacher's dashboard. The room
// (code and secret) lives in the browser, so every address that names it
// is filled in by class.js.
type ClassTeachPage struct {
	Page
	ClassPageLang string
	Heading       string
	NoRoom        string // the empty state
	OpenRoom      string // its link's text
	OpenHref      string
	CourseHref    string

	CodeLabel     string
	JoinLinkLabel string
	QRAlt         string
	ShowLink      string
	CourseLink    string
	JoinedLabel   string

	ControlsHeading string
	ModeLabel       string
	FollowButton    string
	FreeButton      string
	ModeHint        string
	LessonLabel     string
	PushButton      string
	LessonPick      string // the placeholder option while no lesson was sent
	Lessons         []LessonOption
	PauseLabel      string
	PauseButton     string
	ResumeButton    string
	PauseHint       string
	MaxMessage      int
	LockButton      string
	UnlockButton    string
	LockHint        string
	NewCodeButton   string
	NewCodeHint     string

	RosterHeading string
	HideNames     string
	SpotlightHint string // where a spotlight shows
	ColStudent    string
	ColOnline     string
	ColLesson     string
	ColRuns       string
	ColActions    string
	RosterEmpty   string

	Board BoardView

	DangerHeading string
	DeleteButton  string
	DeleteHint    string
	NoScript      string
}

// LessonOption is one lesson the teacher can send every screen to.
type LessonOption struct {
	Slug  string
	Title string // "Lesson 3 · Title"
}

// BoardView is the class board's frame: class.js draws the curves.
type BoardView struct {
	Heading   string
	Intro     string
	Empty     string
	Downloads string         // "Download the board:"
	Links     []DownloadLink // hrefs empty on the dashboard: class.js sets them
}

// DownloadLink is one export of the board.
type DownloadLink struct {
	Format string // "png", "svg", "csv", "json"
	Label  string // "PNG"
	Href   string
}

// ClassShowPage is /{lang}/class/{code}/show, the projector view. It
// carries no names: only the code, the join link, the QR code, how many
// joined, the pause message and the class board.
type ClassShowPage struct {
	Page
	ClassPageLang string
	Code          string
	CodeLabel     string
	JoinPrompt    string // "Join at"
	JoinPath      string // /{lang}/class?code=CODE; class.js puts the origin before it
	QRSrc         string
	QRAlt         string
	JoinedLabel   string // "joined"
	Board         BoardView
	NoScript      string
}
