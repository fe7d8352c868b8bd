// room.js is the classroom on every page (docs/classroom.md): a browser
// that holds a seat (localStorage "paramshare.seat", written by the join
// page) or a room's teacher secret ("paramshare.teacher") puts the page in
// the room — live.js then opens /ws?…&room=CODE and sends `seat` (or
// `teach`) after each hello — and shows:
//
//   - the class bar at the top of <main>: the code, the nickname, follow or
//     free, the connection when it is not open, Leave (a student's); the
//     teacher's: the code, the dashboard and the projector view; a line
//     under it when a student waits for the teacher's first lesson, or
//     the teacher's class is paused;
//   - in follow mode, a student's page goes to the teacher's lesson;
//   - while the teacher pauses the class, an overlay over a student's page;
//   - when the seat ends (removed, room ended, refused), the seat is
//     forgotten and the bar says why (to the teacher who deleted the
//     room: that they did).
//
// Widgets ask classroom.following(id) whether they show the teacher's run
// (ui.js's liveWidget), and classroom.onChange tells them when that may
// have changed. A page without a seat opens no socket for this. app.js
// imports this module first, so the room is set before any widget mounts.
// The class pages themselves (data-class-page) run their own sockets.

import { setRoom, clearRoom, releaseWidgets, updateRoom, pageLang } from "/static/live.js";

const SEAT_KEY = "paramshare.seat";
const TEACHER_KEY = "paramshare.teacher";

const strings = {
  en: {
    region: "Class",
    cls: "Class {code}",
    teaching: "Teaching {code}",
    follow: "Following the teacher",
    free: "Free to explore",
    teacherLesson: "Go to the teacher’s lesson",
    leave: "Leave",
    leaveConfirm: "Leave class {code}? This browser forgets your seat; to come back, join again with the code.",
    dashboard: "Dashboard",
    projector: "Projector view",
    connecting: "Connecting…",
    reconnecting: "Reconnecting…",
    busy: "The class is full or the server is busy — trying again in a moment.",
    removed: "You were removed from class {code}.",
    ended: "Class {code} has ended.",
    endedByYou: "You ended class {code} and deleted its data.",
    waitLesson: "Wait here: your teacher will send a lesson.",
    teacherPaused: "The class is paused — ",
    resumeOnDashboard: "Resume on the dashboard",
    refused: "This browser’s seat in class {code} is no longer valid.",
    refusedTeacher: "This browser can no longer teach class {code} (the room is gone or its key is wrong).",
    forgotten: "This browser has left the class.",
    joinAgain: "Join a class",
    dismiss: "Dismiss",
    pausedTitle: "Eyes on your teacher",
    pausedNote: "Your teacher has paused every screen. This page comes back when they resume.",
  },
  zh: {
    region: "课堂",
    cls: "课堂 {code}",
    teaching: "正在授课 {code}",
    follow: "正在跟随老师",
    free: "自由探索",
    teacherLesson: "前往老师所在的课",
    leave: "离开",
    leaveConfirm: "离开课堂 {code}？此浏览器将忘记你的座位；若要回来，请用课堂代码重新加入。",
    dashboard: "控制台",
    projector: "投影视图",
    connecting: "正在连接……",
    reconnecting: "正在重新连接……",
    busy: "课堂已满或服务器繁忙——稍后自动重试。",
    removed: "你已被移出课堂 {code}。",
    ended: "课堂 {code} 已结束。",
    endedByYou: "你结束了课堂 {code}，并删除了它的数据。",
    waitLesson: "请在此等候：老师会发来一节课。",
    teacherPaused: "全班已暂停——",
    resumeOnDashboard: "在控制台上继续",
    refused: "此浏览器在课堂 {code} 中的座位已失效。",
    refusedTeacher: "此浏览器已无法为课堂 {code} 授课（课堂已不存在或密钥有误）。",
    forgotten: "此浏览器已离开该课堂。",
    joinAgain: "加入课堂",
    dismiss: "关闭",
    pausedTitle: "请看老师",
    pausedNote: "老师暂停了所有屏幕。老师继续后，本页会恢复。",
  },
};
const S = strings[pageLang];
const fill = (tpl, vars) => tpl.replace(/\{(\w+)\}/g, (_, k) => vars[k] ?? "");

/** lessonSlug is the lesson of this page (/LANG/lessons/SLUG), or "". */
export const lessonSlug = (() => {
  // The server takes a slug as lessons are named, else the page is "".
  const m = /^\/(?:en|zh)\/lessons\/([a-z0-9]+(?:-[a-z0-9]+)*)\/?$/.exec(location.pathname);
  return m ? m[1] : "";
})();

function readJSON(key) {
  try {
    const v = JSON.parse(localStorage.getItem(key) ?? "null");
    return v && typeof v === "object" ? v : null;
  } catch {
    return null; // storage off, or not JSON: no seat
  }
}

function forget(key) {
  try {
    localStorage.removeItem(key);
  } catch {
    // storage off: nothing kept
  }
}

// who is the page's part in a room: {role, key, code, first, nick}, or null.
function whoAmI() {
  const teacher = readJSON(TEACHER_KEY);
  if (typeof teacher?.room === "string" && typeof teacher.secret === "string" && teacher.room && teacher.secret) {
    return { role: "teacher", key: TEACHER_KEY, code: teacher.room, first: { type: "teach", room: teacher.room, secret: teacher.secret, lesson: lessonSlug }, nick: "" };
  }
  const seat = readJSON(SEAT_KEY);
  if (typeof seat?.room === "string" && typeof seat.seat === "string" && seat.room && seat.seat) {
    return { role: "student", key: SEAT_KEY, code: seat.room, first: { type: "seat", room: seat.room, seat: seat.seat, lesson: lessonSlug }, nick: String(seat.nick ?? "") };
  }
  return null;
}

let who = null;
let room = null; // the last "room" message
let status = "connecting";
let leaving = false; // navigating to the teacher's lesson: widgets stay idle
const listeners = new Set();

function changed() {
  for (const fn of [...listeners]) fn();
}

// ---- What widgets ask ---------------------------------------------------------

const forkedKey = () => `paramshare.forked:${who?.code ?? ""}:${location.pathname}`;
let forkedHere = new Map(); // the same, for a browser that keeps no session storage

// forkedMap is the page's forked widgets: id -> the step of the teacher's
// run it was forked at (0: not known). Stored as {id: step}; an older page
// stored a list of ids.
function forkedMap() {
  try {
    const v = JSON.parse(sessionStorage.getItem(forkedKey()) ?? "{}");
    const entries = Array.isArray(v) ? v.map((id) => [id, 0]) : Object.entries(v ?? {});
    return new Map(entries.filter(([id, k]) => typeof id === "string" && Number.isInteger(k) && k >= 0));
  } catch {
    return new Map(forkedHere);
  }
}

/**
 * classroom is what a widget asks of the room: following(id) whether
 * widget id shows the teacher's run (a student's page in follow mode, the
 * widget not forked); forked(id), forkedAt(id) (the teacher's step it was
 * forked at, 0 if not known) and setForked(id, on, step), kept per page in
 * sessionStorage so that a reload keeps a fork; role() "student",
 * "teacher" or "" (no room); onChange(fn) calls fn after each room update
 * (it returns the unsubscriber).
 */
export const classroom = {
  role: () => (who && room ? who.role : ""),
  mode: () => room?.mode ?? "",
  following(id) {
    return !!(who && room && who.role === "student" && room.mode === "follow" && id && !forkedMap().has(id));
  },
  forked: (id) => !!who && forkedMap().has(id),
  forkedAt: (id) => (who ? forkedMap().get(id) ?? 0 : 0),
  setForked(id, on, step = 0) {
    const m = forkedMap();
    if (on) m.set(id, Number.isInteger(step) && step > 0 ? step : 0);
    else m.delete(id);
    forkedHere = m;
    try {
      sessionStorage.setItem(forkedKey(), JSON.stringify(Object.fromEntries(m)));
    } catch {
      // storage off: the fork lasts until the page is left
    }
  },
  onChange(fn) {
    listeners.add(fn);
    return () => listeners.delete(fn);
  },
};

// ---- The class bar --------------------------------------------------------------

let bar = null;
let barText = null;
let barConn = null;
// note is the line under the bar: what the room asks of this page now (a
// student waiting for a lesson, a teacher whose class is paused).
let note = null;

function mkEl(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function ensureBar() {
  if (bar) return bar;
  bar = mkEl("div", "class-bar");
  bar.setAttribute("role", "region");
  bar.setAttribute("aria-label", S.region);
  bar.dataset.testid = "class-bar";
  barText = mkEl("p", "class-bar-text");
  barConn = mkEl("span", "class-bar-conn");
  barConn.setAttribute("role", "status");
  barConn.dataset.testid = "class-connection";
  note = mkEl("p", "class-note");
  note.setAttribute("role", "status");
  note.dataset.testid = "class-note";
  note.hidden = true;
  const main = document.querySelector("main") ?? document.body;
  main.prepend(bar, note);
  return bar;
}

// sep separates the bar's parts; a break sep is where a phone's bar starts
// its second line.
const sep = (brk = false) => {
  const s = mkEl("span", brk ? "class-bar-sep class-bar-sep-break" : "class-bar-sep", "·");
  s.setAttribute("aria-hidden", "true");
  return s;
};

function link(text, href, testid) {
  const a = mkEl("a", "", text);
  a.href = href;
  a.dataset.testid = testid;
  return a;
}

// drawn is what the bar shows: a room message that changes none of it
// (another student joined) leaves the bar, and the focus in it, alone.
let drawn = "";

function drawBar() {
  if (!who) return;
  ensureBar();
  const code = room?.code ?? who.code;
  const key = JSON.stringify([code, who.role, room?.you?.nick || who.nick, room?.mode, room?.lesson, !!room, !!room?.paused]);
  if (key === drawn && !bar.classList.contains("class-bar-notice")) return;
  drawNote();
  drawn = key;
  bar.dataset.role = who.role;
  bar.dataset.mode = room?.mode ?? "";
  bar.dataset.connection = status;
  bar.className = "class-bar";
  const parts = [];
  const codeEl = mkEl("strong", "class-bar-code", code);
  codeEl.dataset.testid = "class-code";
  const [before, after] = (who.role === "teacher" ? S.teaching : S.cls).split("{code}");
  parts.push(mkEl("span", "class-bar-room"));
  parts[0].append(before, codeEl, after ?? "");
  // What a phone shows on the bar's second line.
  const second = mkEl("span", "class-bar-second");
  if (who.role === "teacher") {
    second.append(
      link(S.dashboard, `/${pageLang}/class/teach`, "class-dashboard"),
      sep(),
      link(S.projector, `/${pageLang}/class/${encodeURIComponent(code)}/show`, "class-projector"),
    );
    parts.push(sep(true), second);
  } else {
    const nick = mkEl("span", "class-bar-nick", room?.you?.nick || who.nick);
    nick.dataset.testid = "class-nick";
    parts.push(sep(), nick);
    if (room) {
      const mode = mkEl("span", "class-bar-mode", room.mode === "follow" ? S.follow : S.free);
      mode.dataset.testid = "class-mode";
      second.append(mode);
      if (room.mode === "free" && room.lesson && room.lesson !== lessonSlug) {
        // Free to explore, and the teacher is elsewhere: the way there.
        second.append(sep(), link(S.teacherLesson, `/${pageLang}/lessons/${encodeURIComponent(room.lesson)}`, "class-teacher-lesson"));
      }
      parts.push(sep(true), second);
    }
  }
  barText.replaceChildren(...parts);
  drawConnection();
  const kids = [barText, barConn];
  if (who.role === "student") {
    const leave = mkEl("button", "class-bar-leave", S.leave);
    leave.type = "button";
    leave.dataset.testid = "class-leave";
    leave.addEventListener("click", () => {
      if (!confirm(fill(S.leaveConfirm, { code }))) return;
      leaveRoom(S.forgotten, false);
    });
    kids.push(leave);
  }
  bar.replaceChildren(...kids);
}

// drawNote says under the bar what the room asks of this page: a student
// following a teacher who has sent no lesson yet waits on a page that is
// no lesson (a lesson page's widgets say what they wait for); the
// teacher's own pages say when the class is paused (the students see the
// overlay, the teacher nothing else).
function drawNote() {
  if (!note) return;
  const parts = [];
  if (room && who?.role === "student" && room.mode === "follow" && !room.lesson && !lessonSlug) parts.push(S.waitLesson);
  else if (room && who?.role === "teacher" && room.paused) {
    parts.push(S.teacherPaused, link(S.resumeOnDashboard, `/${pageLang}/class/teach`, "class-resume"));
  }
  note.replaceChildren(...parts);
  note.hidden = parts.length === 0;
  note.classList.toggle("class-note-paused", who?.role === "teacher" && !!room?.paused);
}

function drawConnection() {
  if (!barConn) return;
  bar.dataset.connection = status;
  barConn.textContent =
    status === "open" ? "" : status === "refused" ? S.busy : status === "connecting" ? S.connecting : S.reconnecting;
  barConn.hidden = status === "open";
}

// notice turns the bar into what happened to the seat (the server's words
// when it gave some), with a way back to the join page.
function notice(text, serverMessage) {
  ensureBar();
  bar.className = "class-bar class-bar-notice";
  if (note) note.hidden = true;
  bar.dataset.connection = "";
  bar.dataset.mode = "";
  const p = mkEl("p", "class-bar-text");
  p.setAttribute("role", "alert");
  p.dataset.testid = "class-notice";
  p.append(text);
  if (serverMessage && serverMessage !== text) p.append(" ", serverMessage);
  p.append(" ", link(S.joinAgain, `/${pageLang}/class`, "class-join"));
  const close = mkEl("button", "class-bar-leave", S.dismiss);
  close.type = "button";
  close.addEventListener("click", () => {
    bar.remove();
    note?.remove();
    bar = null;
    note = null;
  });
  bar.replaceChildren(p, close);
}

// leaveRoom forgets the seat and takes the page out of the room: the
// widgets that followed start runs of their own.
function leaveRoom(text, serverMessage) {
  if (!who) return;
  forget(who.key);
  who = null;
  room = null;
  hidePause();
  clearRoom();
  notice(text, serverMessage);
  changed();
}

// ---- The pause overlay ------------------------------------------------------------

let overlay = null;
let overlayMessage = null;
let inerted = [];
let focusBefore = null;

function showPause(message) {
  if (!overlay) {
    overlay = mkEl("div", "class-pause");
    overlay.setAttribute("role", "alertdialog");
    overlay.setAttribute("aria-modal", "true");
    overlay.setAttribute("aria-labelledby", "class-pause-title");
    overlay.setAttribute("aria-describedby", "class-pause-message class-pause-note");
    overlay.dataset.testid = "class-pause";
    const box = mkEl("div", "class-pause-box");
    box.tabIndex = -1;
    const title = mkEl("h2", "class-pause-title", S.pausedTitle);
    title.id = "class-pause-title";
    overlayMessage = mkEl("p", "class-pause-message");
    overlayMessage.id = "class-pause-message";
    overlayMessage.dataset.testid = "class-pause-message";
    const note = mkEl("p", "class-pause-note", S.pausedNote);
    note.id = "class-pause-note";
    box.append(title, overlayMessage, note);
    overlay.append(box);
    // Everything else is out of reach while the class is paused: focus
    // cannot wander behind the overlay, and the page does not scroll.
    focusBefore = document.activeElement;
    inerted = [...document.body.children].filter((e) => !e.inert);
    for (const e of inerted) e.inert = true;
    document.body.append(overlay);
    document.documentElement.classList.add("class-paused");
    box.focus();
  }
  overlayMessage.textContent = message ?? "";
  overlayMessage.hidden = !message;
}

function hidePause() {
  if (!overlay) return;
  overlay.remove();
  overlay = null;
  for (const e of inerted) e.inert = false;
  inerted = [];
  document.documentElement.classList.remove("class-paused");
  if (focusBefore?.isConnected && typeof focusBefore.focus === "function") focusBefore.focus({ preventScroll: true });
  focusBefore = null;
}

// ---- Messages ------------------------------------------------------------------------

function onRoom(m) {
  if (!who) return;
  room = m;
  if (m.you?.role && m.you.role !== who.role) who.role = m.you.role;
  if (typeof m.code === "string" && m.code && m.code !== who.code) newCode(m.code);
  drawBar();
  if (who.role === "student" && m.paused) showPause(m.message);
  else hidePause();
  if (who.role === "student" && m.mode === "follow" && m.lesson && m.lesson !== lessonSlug) {
    // Follow the teacher to their lesson; the widgets here need not start.
    leaving = true;
    location.assign(`/${pageLang}/lessons/${encodeURIComponent(m.lesson)}`);
    return;
  }
  changed();
  if (!leaving) releaseWidgets();
}

// newCode keeps the seat under the room's new code (the teacher made one):
// the next connection uses it.
function newCode(code) {
  who.code = code;
  who.first = { ...who.first, room: code };
  const stored = readJSON(who.key);
  if (stored) {
    try {
      localStorage.setItem(who.key, JSON.stringify({ ...stored, room: code }));
    } catch {
      // storage off
    }
  }
  updateRoom(code, who.first);
}

function onMessage(m) {
  if (m.type === "room") onRoom(m);
  // A new code came while the page was away: the server closes this
  // socket, and the page reconnects under the new code.
  else if (m.type === "room-moved" && who && typeof m.code === "string" && m.code) newCode(m.code);
  else if (m.type === "room-ended" && who?.role === "teacher") {
    // Only the teacher's delete ends a room: this browser's teacher did it.
    leaveRoom(fill(S.endedByYou, { code: who.code }), false);
  } else if (m.type === "room-ended") leaveRoom(fill(S.ended, { code: who?.code ?? "" }), m.message);
  else if (m.type === "removed") leaveRoom(fill(S.removed, { code: who?.code ?? "" }), m.message);
  else if (m.type === "error" && m.code === "removed") leaveRoom(fill(S.removed, { code: who?.code ?? "" }), m.message);
  else if (m.type === "error" && (m.code === "room-auth" || m.code === "no-seat")) leaveRoom(fill(who?.role === "teacher" ? S.refusedTeacher : S.refused, { code: who?.code ?? "" }), m.message);
  // roster and board are the dashboard's; a lesson page has no use for them.
}

function onStatus(s) {
  status = s;
  if (who) drawConnection();
}

function start() {
  if (document.querySelector("[data-class-page]")) return;
  who = whoAmI();
  if (!who) return;
  drawBar();
  setRoom(who.code, who.first, { onMessage, onStatus });
}

// A bfcache restore brings back a page whose seat may have been left in
// another tab meanwhile; a fresh load reads the storage again anyway.
addEventListener("pageshow", (ev) => {
  if (!ev.persisted) return;
  leaving = false;
  if (who && !readJSON(who.key)) leaveRoom(S.forgotten, false);
});

start();
