// class.js runs the class pages (docs/classroom.md). The page's root
// carries data-class-page: "home" (join a class, open a room), "teach" (the
// teacher's dashboard) or "show" (the projector view); the elements it
// fills carry data-part. Whatever a person typed (nicknames, the pause
// message) is only ever set with textContent.
//
// The dashboard and the projector each open their own websocket to the
// room (/ws?lang=&room=) — independent of live.js, which serves the lesson
// pages' widgets — and reconnect after a break with the same jittered
// backoff as live.js, saying so in a banner.

import { sizeCanvas, niceTicks, decadeTicks, sup, plot, marker, swatch } from "/static/widgets/charts.js";

const root = document.querySelector("[data-class-page]");
const lang = root?.dataset.lang === "zh" ? "zh" : "en";
const locale = lang === "zh" ? "zh-CN" : "en";

const PROTOCOL = 1;
const SEAT_KEY = "paramshare.seat";
const TEACHER_KEY = "paramshare.teacher";
const HIDE_NAMES_KEY = "paramshare.hideNames";
const CODE_LEN = 6;
const CODE_RE = /^[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{6}$/;
const SLUG_RE = /^[a-z0-9]+(-[a-z0-9]+)*$/;
const MAX_NICK = 24;
const MAX_MESSAGE = 200;

const strings = {
  en: {
    seated: "You are in class {code} as “{nick}”.",
    "teacher-room": "This browser leads the room {code}.",
    "code-short": "The class code has 6 letters and digits: check the one your teacher shows.",
    "nick-empty": "Type a nickname (1 to 24 characters).",
    "nick-long": "A nickname has at most 24 characters; this one has {n}.",
    "nick-control": "A nickname cannot contain line breaks or other control characters.",
    joining: "Joining…",
    opening: "Opening a room…",
    network: "The server could not be reached. Check the connection and try again.",
    "http-error": "The server refused (HTTP {status}). Try again in a moment.",
    "replace-room": "This browser already leads the room {code}. Open a new room instead? The key to {code} is kept only in this browser and would be forgotten.",
    "leave-confirm": "Leave class {code}? You can join again with the code, as a new student.",
    connecting: "Connecting to the room…",
    reconnecting: "Connection lost — reconnecting…",
    refused: "The server is busy: {message} Trying again shortly…",
    "not-connected": "Not connected: wait until the connection is back, then try again.",
    online: "{n} online",
    "online-1": "1 online",
    "roster-count": "{seats} students · {online} online",
    "roster-count-1": "1 student · {online} online",
    paused: "Paused",
    ended: "This class has ended.",
    "auth-refused": "The server refused this browser’s key to the room {code}: {message}",
    forget: "Forget this room",
    student: "Student {n}",
    "seat-online": "online",
    "seat-away": "away (offline)",
    forked: "forked",
    following: "following",
    spotlight: "Spotlight",
    unspotlight: "Stop the spotlight",
    remove: "Remove",
    "remove-confirm": "Remove {name} from the class? Their seat stops working for good.",
    "new-code-confirm": "Replace the code {code} with a new one? The old code stops admitting; everyone already in keeps their seat.",
    "delete-confirm": "Delete the room {code}, its seats and its board from the server now? Every screen in the class is told that the class has ended. This cannot be undone.",
    "message-long": "The message has at most {max} characters; this one has {n}.",
    "no-runs": "no runs",
    "no-lesson": "—",
    "run-step": "step {step} / {total}",
    loss: "loss {v}",
    accuracy: "accuracy {v}",
    "state-paused": "paused",
    "state-running": "running",
    "state-working": "working",
    "state-done": "done",
    "state-diverged": "diverged",
    "state-error": "error",
    "run-label": "run {n}",
    "x-label": "step",
    "y-label": "loss",
    "chart-label": "{title}: loss against step for {n} runs. The downloads below have every number.",
    "chart-label-1": "{title}: loss against step for 1 run. The downloads below have every number.",
    "sent-lesson": "Sent: every screen opens {title}.",
    "state-room-paused": "Every screen is paused",
    "state-locked": "Locked: nobody new can join",
    "state-spotlight": "Spotlight: {name}, {title} — on your lesson page and on the screens of students who follow you",
    "state-spotlight-seat": "Spotlight: {name} — on your lesson page and on the screens of students who follow you",
    "new-code-done": "New code: {code} — the old one no longer admits anyone.",
    "pick-lesson": "Choose a lesson to send first.",
    "resume-sent": "Resumed: the runs that were playing before the pause play again.",
    "show-big": "Show the code big",
    "show-board": "Show the board",
    "ended-code": "Class {code} has ended.",
    colon: ": ",
    deleted: "Class {code} has ended: the room and its data were deleted from the server, and its code no longer works.",
    "deleted-open": "To teach again, open a new room.",
  },
  zh: {
    seated: "你已以“{nick}”的身份加入课堂 {code}。",
    "teacher-room": "此浏览器正在带领课堂 {code}。",
    "code-short": "课堂代码是 6 位字母和数字：请核对老师展示的代码。",
    "nick-empty": "请输入昵称（1 到 24 个字符）。",
    "nick-long": "昵称最多 24 个字符，现在有 {n} 个。",
    "nick-control": "昵称不能包含换行或其他控制字符。",
    joining: "正在加入……",
    opening: "正在开课堂……",
    network: "无法连接服务器。请检查网络后重试。",
    "http-error": "服务器拒绝了请求（HTTP {status}）。请稍后重试。",
    "replace-room": "此浏览器已经在带领课堂 {code}。要改开一个新课堂吗？{code} 的密钥只保存在此浏览器中，将被遗忘。",
    "leave-confirm": "退出课堂 {code}？之后可以用代码重新加入，但会是一个新座位。",
    connecting: "正在连接课堂……",
    reconnecting: "连接中断——正在重新连接……",
    refused: "服务器繁忙：{message} 稍后会自动重试……",
    "not-connected": "尚未连接：请等连接恢复后再试。",
    online: "在线 {n} 人",
    "online-1": "在线 1 人",
    "roster-count": "共 {seats} 名学生 · 在线 {online} 人",
    "roster-count-1": "共 1 名学生 · 在线 {online} 人",
    paused: "已暂停",
    ended: "这个课堂已经结束。",
    "auth-refused": "服务器拒绝了此浏览器对课堂 {code} 的密钥：{message}",
    forget: "忘掉这个课堂",
    student: "学生 {n}",
    "seat-online": "在线",
    "seat-away": "离开（离线）",
    forked: "已分叉",
    following: "跟随中",
    spotlight: "聚焦展示",
    unspotlight: "取消聚焦",
    remove: "移出",
    "remove-confirm": "把 {name} 移出课堂？其座位将永久失效。",
    "new-code-confirm": "把代码 {code} 换成新的？旧代码不再接纳新学生；已加入的人保留座位。",
    "delete-confirm": "立即从服务器删除课堂 {code}、其座位和看板？课堂中的每个屏幕都会收到课堂结束的通知。此操作无法撤销。",
    "message-long": "这句话最多 {max} 个字符，现在有 {n} 个。",
    "no-runs": "没有运行",
    "no-lesson": "—",
    "run-step": "第 {step} / {total} 步",
    loss: "损失 {v}",
    accuracy: "准确率 {v}",
    "state-paused": "已暂停",
    "state-running": "运行中",
    "state-working": "计算中",
    "state-done": "已完成",
    "state-diverged": "已发散",
    "state-error": "出错",
    "run-label": "运行 {n}",
    "x-label": "步数",
    "y-label": "损失",
    "chart-label": "{title}：{n} 次运行的损失随步数的变化。下方的下载文件包含全部数字。",
    "chart-label-1": "{title}：1 次运行的损失随步数的变化。下方的下载文件包含全部数字。",
    "sent-lesson": "已发送：每个屏幕都会打开 {title}。",
    "state-room-paused": "所有屏幕已暂停",
    "state-locked": "已锁定：不再接纳新学生",
    "state-spotlight": "聚焦展示：{name}，{title}——显示在你的课程页面和跟随你的学生的屏幕上",
    "state-spotlight-seat": "聚焦展示：{name}——显示在你的课程页面和跟随你的学生的屏幕上",
    "new-code-done": "新代码：{code}——旧代码不再接纳任何人。",
    "pick-lesson": "请先选择要发送的一课。",
    "resume-sent": "已继续：暂停前在运行的重新运行。",
    "show-big": "放大显示代码",
    "show-board": "显示看板",
    "ended-code": "课堂 {code} 已经结束。",
    colon: "：",
    deleted: "课堂 {code} 已经结束：此课堂及其数据已从服务器删除，它的代码不再有效。",
    "deleted-open": "要再上课，请开一个新课堂。",
  },
};

/** t returns the string for key in the page's language with {name} filled from vars. */
function t(key, vars = {}) {
  const s = strings[lang][key] ?? strings.en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ""));
}

const part = (name, within = root) => within.querySelector(`[data-part="${name}"]`);

const num3 = new Intl.NumberFormat(locale, { maximumSignificantDigits: 3 });
const pct1 = new Intl.NumberFormat(locale, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 });
const fmtLoss = (v) => (Number.isFinite(v) ? num3.format(v) : "—");
const fmtAcc = (v) => (Number.isFinite(v) ? pct1.format(v) : "—");

// ---- storage ---------------------------------------------------------
// localStorage may be missing or refuse (private modes, a full disk): the
// pages then behave as on a browser with nothing stored.

function load(key) {
  try {
    return JSON.parse(localStorage.getItem(key) ?? "null");
  } catch {
    return null;
  }
}

function save(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
    return true;
  } catch {
    return false;
  }
}

function forget(key) {
  try {
    localStorage.removeItem(key);
  } catch {
    // nothing stored, nothing to forget
  }
}

/** storedSeat returns this browser's seat {room, seat, nick}, or null. */
function storedSeat() {
  const s = load(SEAT_KEY);
  return s && CODE_RE.test(s.room) && typeof s.seat === "string" && s.seat && typeof s.nick === "string" ? s : null;
}

/** storedTeacher returns the room this browser leads {room, secret}, or null. */
function storedTeacher() {
  const s = load(TEACHER_KEY);
  return s && CODE_RE.test(s.room) && typeof s.secret === "string" && s.secret ? s : null;
}

// ---- addresses -------------------------------------------------------

const joinPath = (code) => `/${lang}/class?code=${encodeURIComponent(code)}`;
const showPath = (code) => `/${lang}/class/${code}/show`;
const qrSrc = (code) => `/class/${code}/qr.svg?lang=${lang}`;
const boardHref = (code, format) => `/class/${code}/board.${format}?lang=${lang}`;
/** joinText is the join address as people type it: host and path, no scheme. */
const joinText = (code) => location.host + joinPath(code);

/** chars counts what a person sees as characters (code points), as the server does. */
const chars = (s) => [...s].length;

// ---- the room's websocket ---------------------------------------------

// Session-level refusals: the server sends one of these, then closes with 1013.
const REFUSALS = new Set(["too-many-sessions", "server-busy", "shutting-down"]);
// Refusals of the room itself: trying again would only be refused again.
const FATAL = new Set(["room-auth", "no-seat", "removed"]);
const CLOSE_GOING_AWAY = 1001;
const CLOSE_TRY_AGAIN_LATER = 1013;

/**
 * roomSocket keeps a websocket to the room whose code code() gives,
 * sending first() as the first command of every connection. onMessage gets
 * every message; onStatus(status, detail) follows the connection:
 * "connecting", "open" (the room answered), "reconnecting", "refused"
 * (detail.message; tries again in 10–30 s), "fatal" (detail.code,
 * detail.message: no retry) and "ended" (the room ended; no retry).
 */
function roomSocket({ code, first, onMessage, onStatus }) {
  let ws = null;
  let retry = 0;
  let timer = 0;
  let stopped = false;
  let refusal = null;

  function url() {
    const u = new URL("/ws", location.href);
    u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
    u.searchParams.set("lang", lang);
    u.searchParams.set("room", code());
    return u.href;
  }

  function connect() {
    clearTimeout(timer);
    timer = 0;
    refusal = null;
    let sock;
    try {
      sock = new WebSocket(url());
    } catch {
      schedule();
      return;
    }
    ws = sock;
    sock.addEventListener("open", () => sock.send(JSON.stringify({ v: PROTOCOL, ...first() })));
    sock.addEventListener("message", (ev) => {
      // After the room ended or refused this page, whatever still comes
      // (a last count as the others leave) would only undo what was said.
      if (stopped) return;
      let m;
      try {
        m = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (m?.v !== PROTOCOL) return;
      if (m.type === "room") {
        retry = 0;
        onStatus("open");
      } else if (m.type === "error" && !m.widget && REFUSALS.has(m.code)) {
        refusal = m;
        return;
      } else if (m.type === "error" && !m.widget && FATAL.has(m.code)) {
        // Said at once: the server may close the socket only later.
        stopped = true;
        onStatus("fatal", { code: m.code, message: m.message ?? "" });
        sock.close(1000);
        return;
      } else if (m.type === "room-ended" || m.type === "removed") {
        stopped = true;
      }
      onMessage(m);
    });
    sock.addEventListener("close", (ev) => {
      if (ws !== sock) return;
      ws = null;
      if (stopped) return;
      schedule(ev.code, ev.reason);
    });
  }

  // schedule tries again later: 0.25–0.5 s doubling up to 15 s, jittered
  // so that a restarted server is not hit by every page at once; 10–30 s
  // after a refusal, since the server is full.
  function schedule(closeCode, reason) {
    let delay;
    if (refusal || closeCode === CLOSE_TRY_AGAIN_LATER) {
      onStatus("refused", { message: refusal?.message || reason || "" });
      delay = 10000 + Math.random() * 20000;
    } else {
      const base = Math.min(15000, 500 * 2 ** retry);
      retry++;
      delay = base / 2 + Math.random() * (base / 2);
      if (closeCode === CLOSE_GOING_AWAY) delay = Math.max(delay, 1000 + Math.random() * 2000);
      onStatus("reconnecting");
    }
    refusal = null;
    timer = setTimeout(connect, delay);
  }

  addEventListener("online", () => {
    if (!ws && !stopped && timer) connect();
  });
  // A page the reader leaves gives its session back at once (the room
  // counts sessions); coming back from the back/forward cache connects again.
  addEventListener("pagehide", () => {
    clearTimeout(timer);
    timer = 0;
    const sock = ws;
    ws = null;
    sock?.close(1000);
  });
  addEventListener("pageshow", (ev) => {
    if (ev.persisted && !ws && !stopped) connect();
  });

  onStatus("connecting");
  connect();
  return {
    /** send sends a command; false when not connected. */
    send(m) {
      if (!ws || ws.readyState !== WebSocket.OPEN) return false;
      ws.send(JSON.stringify({ v: PROTOCOL, ...m }));
      return true;
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
      ws?.close(1000);
      ws = null;
    },
  };
}

/** banner shows the connection's status above the page (hidden while open). */
function showStatus(status, detail = {}) {
  const el = part("banner");
  if (!el) return;
  const text = {
    connecting: t("connecting"),
    reconnecting: t("reconnecting"),
    refused: t("refused", { message: detail.message ?? "" }),
  }[status];
  el.dataset.status = status;
  el.textContent = text ?? "";
  el.hidden = !text;
}

// ---- the class board ---------------------------------------------------

// Okabe–Ito colours in viz's order (viz/palette.go), with viz's dashes and
// markers, so that the chart here and the board's PNG/SVG draw run n alike;
// colour, dash and marker change together, so runs stay apart for
// colour-blind readers and in grey.
const COLORS = ["#0072b2", "#d55e00", "#009e73", "#e69f00", "#cc79a7", "#56b4e9", "#000000", "#f0e442"];
const DASHES = [[], [8, 4], [2, 3], [8, 3, 2, 3], [14, 5], [4, 2, 4, 6]];
const MARKERS = ["circle", "square", "triangle", "diamond"];

function runStyle(i) {
  let color = COLORS[i % COLORS.length];
  // Black disappears on a dark page.
  if (color === "#000000" && dark()) color = "#dddddd";
  return { color, dash: DASHES[i % DASHES.length], marker: MARKERS[i % MARKERS.length] };
}

const dark = () => matchMedia("(prefers-color-scheme: dark)").matches;

/**
 * boardAxes sizes the board's canvas and draws its frame: like charts.js's
 * axes, but its type grows with the canvas (up to 26 px), so that the
 * projector's chart is read from the back of the room, and it is wider
 * than tall on a wide screen. Loss on a log axis when it spans more than
 * 100× (as the board's PNG/SVG export draws it). It returns what
 * charts.js's plot needs.
 */
function boardAxes(canvas, { xMax, lo, hi, maxH = Infinity }) {
  const cw = canvas.clientWidth || 600;
  let ratio = cw > 900 ? 0.42 : cw > 600 ? 0.5 : 0.72;
  // The projector's chart is no taller than the screen leaves it (at least 220 px).
  if (maxH < cw * ratio) ratio = Math.max(220, maxH) / Math.max(260, cw);
  const { g, w, h } = sizeCanvas(canvas, ratio, { min: 260 });
  const fs = Math.round(Math.max(13, Math.min(26, w / 46)));
  const logY = lo > 0 && hi > 100 * lo;
  let yMin = 0;
  let yMax = hi > 0 ? hi : 1;
  let yTicks;
  if (logY) {
    yMin = 10 ** Math.floor(Math.log10(lo));
    yMax = 10 ** Math.ceil(Math.log10(hi));
    yTicks = decadeTicks(yMin, yMax, 5);
  } else {
    yTicks = niceTicks(0, yMax, 4);
    const step = yTicks.length > 1 ? yTicks[1] - yTicks[0] : yMax;
    if (yTicks.at(-1) < yMax) yTicks.push(yTicks.at(-1) + step);
    yMax = yTicks.at(-1);
  }
  const xTicks = niceTicks(0, xMax, 5).filter((v) => v === Math.round(v));
  const nf = new Intl.NumberFormat(locale);
  const yText = (v) => (logY ? `10${sup(Math.round(Math.log10(v)))}` : num3.format(v));
  g.font = `${fs}px system-ui, sans-serif`;
  const yw = Math.max(...yTicks.map((v) => g.measureText(yText(v)).width));
  const pad = { l: yw + fs * 2.4, r: fs * 1.6, t: fs * 0.6, b: fs * 3.2 };
  const pw = w - pad.l - pad.r;
  const ph = h - pad.t - pad.b;
  const tr = (y) => (logY ? Math.log10(y) : y);
  const X = (x) => pad.l + (x / (xMax || 1)) * pw;
  const Y = (y) => pad.t + (1 - (tr(Math.min(yMax, Math.max(yMin, y))) - tr(yMin)) / (tr(yMax) - tr(yMin) || 1)) * ph;
  const ink = dark() ? "#ddd" : "#333";
  g.strokeStyle = dark() ? "#555" : "#ddd";
  g.fillStyle = ink;
  g.lineWidth = 1;
  g.textAlign = "right";
  g.textBaseline = "middle";
  for (const v of yTicks) {
    g.beginPath();
    g.moveTo(pad.l, Y(v));
    g.lineTo(pad.l + pw, Y(v));
    g.stroke();
    g.fillText(yText(v), pad.l - fs * 0.3, Y(v));
  }
  g.textAlign = "center";
  g.textBaseline = "top";
  for (const v of xTicks) g.fillText(nf.format(v), X(v), pad.t + ph + fs * 0.3);
  g.fillText(t("x-label"), pad.l + pw / 2, pad.t + ph + fs * 1.7);
  g.save();
  g.translate(fs * 0.8, pad.t + ph / 2);
  g.rotate(-Math.PI / 2);
  g.textBaseline = "middle";
  g.fillText(t("y-label"), 0, 0);
  g.restore();
  g.strokeStyle = ink;
  g.strokeRect(pad.l, pad.t, pw, ph);
  return { g, X, Y, pad, pw, ph, fs, ink, logY };
}

function paramText(v) {
  if (typeof v === "number") return num3.format(v);
  if (typeof v === "string") return v;
  return JSON.stringify(v);
}

/**
 * legendParams returns, per run, "k=v k=v" of the parameters that differ
 * between the runs of one chart (all of them when none differ: one run, or
 * the same settings twice).
 */
function legendParams(runs) {
  const objs = runs.map((r) => (r.params && typeof r.params === "object" && !Array.isArray(r.params) ? r.params : {}));
  const keys = [...new Set(objs.flatMap((o) => Object.keys(o)))].sort();
  let shown = keys.filter((k) => new Set(objs.map((o) => JSON.stringify(o[k]))).size > 1);
  if (!shown.length) shown = keys;
  return objs.map((o) =>
    shown
      .filter((k) => k in o)
      .map((k) => `${k}=${paramText(o[k])}`)
      .join(" "),
  );
}

/**
 * board draws the class board into its section: one chart per experiment
 * (losses of different models do not share a scale), one curve per run,
 * and an HTML legend with each run's parameters and latest accuracy. titles
 * maps experiment names to their titles (hello.specs).
 */
function boardView(section, { maxHeight = () => Infinity } = {}) {
  const charts = part("board-charts", section);
  const empty = part("board-empty", section);
  const byExp = new Map(); // experiment -> {fig, canvas, legend, runs}
  let last = [];
  let titles = {};

  function draw(entry) {
    const { canvas, runs, title } = entry;
    let xMax = 1;
    let lo = Infinity;
    let hi = 0;
    for (const r of runs) {
      for (const [x, y] of r.points) {
        if (Number.isFinite(x)) xMax = Math.max(xMax, x);
        if (Number.isFinite(y)) [lo, hi] = [Math.min(lo, y), Math.max(hi, y)];
      }
    }
    const a = boardAxes(canvas, { xMax, lo, hi, maxH: maxHeight() });
    const width = Math.max(2, a.fs / 7);
    plot(
      a,
      runs.map((r) => ({ style: r.style, width, xs: r.points.map((p) => p[0]), ys: r.points.map((p) => p[1]) })),
    );
    // Each curve ends in its marker, so a run can be found by its end as
    // well as by its colour and dash.
    for (const r of runs) {
      const p = r.points.findLast((q) => Number.isFinite(q[1]) && !(a.logY && q[1] <= 0));
      if (p) marker(a.g, r.style.marker, a.X(p[0]), a.Y(p[1]), a.fs * 0.4, r.style.color);
    }
    canvas.setAttribute("aria-label", t(runs.length === 1 ? "chart-label-1" : "chart-label", { title, n: runs.length }));
  }

  function render(runs) {
    last = runs;
    empty.hidden = runs.length > 0;
    const groups = new Map();
    runs.forEach((r, i) => {
      const exp = String(r.experiment ?? "");
      if (!groups.has(exp)) groups.set(exp, []);
      const points = Array.isArray(r.points) ? r.points.filter((p) => Array.isArray(p) && p.length === 2) : [];
      groups.get(exp).push({ ...r, points, style: runStyle(i) });
    });
    for (const [exp, entry] of byExp) {
      if (!groups.has(exp)) {
        entry.fig.remove();
        byExp.delete(exp);
      }
    }
    for (const [exp, rs] of groups) {
      let entry = byExp.get(exp);
      if (!entry) {
        const fig = document.createElement("figure");
        fig.className = "class-board-chart";
        const cap = document.createElement("figcaption");
        const canvas = document.createElement("canvas");
        canvas.setAttribute("role", "img");
        const legend = document.createElement("ol");
        legend.className = "class-legend";
        fig.append(cap, canvas, legend);
        charts.append(fig);
        entry = { fig, cap, canvas, legend };
        byExp.set(exp, entry);
      }
      entry.runs = rs;
      entry.title = titles[exp] || exp;
      entry.cap.textContent = entry.title;
      // A single experiment needs no caption: the section's heading says it.
      entry.cap.hidden = groups.size === 1 && !titles[exp];
      const params = legendParams(rs);
      entry.legend.replaceChildren(
        ...rs.map((r, i) => {
          const li = document.createElement("li");
          const name = document.createElement("span");
          name.className = "class-legend-name";
          const label = typeof r.label === "number" ? t("run-label", { n: r.label }) : String(r.label ?? r.id ?? "");
          name.textContent = params[i] ? `${label} — ${params[i]}` : label;
          const acc = document.createElement("span");
          acc.className = "class-legend-acc";
          acc.textContent = r.accuracy != null ? t("accuracy", { v: fmtAcc(r.accuracy) }) : "";
          li.append(swatch(r.style, "class-swatch"), name, acc);
          return li;
        }),
      );
      draw(entry);
    }
  }

  // Canvases follow their width (a rotated phone, a resized projector window).
  let pending = 0;
  new ResizeObserver(() => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(() => byExp.forEach(draw));
  }).observe(charts);
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => render(last));

  return {
    update(runs) {
      render(Array.isArray(runs) ? runs : []);
    },
    /** redraw draws the charts again when the room left to them changed. */
    redraw() {
      byExp.forEach(draw);
    },
    /** count is how many runs the board draws. */
    count() {
      return last.length;
    },
    setTitles(specs) {
      titles = {};
      for (const [name, spec] of Object.entries(specs ?? {})) if (spec?.title) titles[name] = spec.title;
      render(last);
    },
    setCode(code) {
      for (const a of section.querySelectorAll("[data-board-format]")) a.href = boardHref(code, a.dataset.boardFormat);
    },
  };
}

// ---- /{lang}/class: join, or open a room --------------------------------

function home() {
  const form = part("join-form");
  const codeInput = form.elements.code;
  const nickInput = form.elements.nick;
  const status = part("join-status");
  const seatedBox = part("seated");
  const courseHref = root.dataset.courseHref || `/${lang}/`;
  const prefill = codeInput.value;

  function say(el, text, isError) {
    el.textContent = text;
    el.classList.toggle("class-status-error", !!isError);
  }

  function showSeat() {
    const seat = storedSeat();
    seatedBox.hidden = !seat;
    // A link to another class still shows the form: joining replaces the seat.
    form.hidden = !!seat && (!prefill || prefill === seat.room);
    if (seat) part("seated-text").textContent = t("seated", { code: seat.room, nick: seat.nick });
  }

  part("leave").addEventListener("click", () => {
    const seat = storedSeat();
    if (seat && !confirm(t("leave-confirm", { code: seat.room }))) return;
    forget(SEAT_KEY);
    showSeat();
    codeInput.focus();
  });

  // The code field keeps to the code's alphabet as people type, in upper
  // case, whatever the keyboard's autocapitalization did.
  codeInput.addEventListener("input", () => {
    const clean = codeInput.value.toUpperCase().replace(/[^ABCDEFGHJKMNPQRSTUVWXYZ23456789]/g, "").slice(0, CODE_LEN);
    if (clean !== codeInput.value) codeInput.value = clean;
  });

  let busy = false;
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (busy) return;
    const code = codeInput.value.toUpperCase();
    const nick = nickInput.value.trim();
    let problem = null;
    let field = null;
    if (!CODE_RE.test(code)) [problem, field] = [t("code-short"), codeInput];
    else if (!nick) [problem, field] = [t("nick-empty"), nickInput];
    else if (chars(nick) > MAX_NICK) [problem, field] = [t("nick-long", { n: chars(nick) }), nickInput];
    else if (/[\u0000-\u001f\u007f-\u009f]/.test(nick)) [problem, field] = [t("nick-control"), nickInput];
    codeInput.setAttribute("aria-invalid", String(field === codeInput));
    nickInput.setAttribute("aria-invalid", String(field === nickInput));
    if (problem) {
      say(status, problem, true);
      field.focus();
      return;
    }
    busy = true;
    say(status, t("joining"));
    try {
      const res = await fetch(`/class/join?lang=${lang}&room=${encodeURIComponent(code)}`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ code, nick }),
      });
      const body = await res.json().catch(() => null);
      if (!res.ok || !body || typeof body.seat !== "string") {
        say(status, body?.error || t("http-error", { status: res.status }), true);
        return;
      }
      const room = CODE_RE.test(body.room) ? body.room : code;
      save(SEAT_KEY, { room, seat: body.seat, nick: typeof body.nick === "string" ? body.nick : nick });
      location.assign(typeof body.lesson === "string" && SLUG_RE.test(body.lesson) ? `/${lang}/lessons/${body.lesson}` : courseHref);
    } catch {
      say(status, t("network"), true);
    } finally {
      busy = false;
    }
  });

  // Opening a room.
  const openButton = part("open-room");
  const openStatus = part("open-status");
  const teacherRoom = part("teacher-room");
  const mine = storedTeacher();
  if (mine) {
    teacherRoom.hidden = false;
    part("teacher-room-text").textContent = t("teacher-room", { code: mine.room });
  }
  openButton.addEventListener("click", async () => {
    const old = storedTeacher();
    if (old && !confirm(t("replace-room", { code: old.room }))) return;
    openButton.disabled = true;
    say(openStatus, t("opening"));
    try {
      const res = await fetch(`/class/rooms?lang=${lang}`, { method: "POST" });
      const body = await res.json().catch(() => null);
      if (res.status !== 201 || !body || !CODE_RE.test(body.code) || typeof body.secret !== "string") {
        say(openStatus, body?.error || t("http-error", { status: res.status }), true);
        return;
      }
      save(TEACHER_KEY, { room: body.code, secret: body.secret });
      location.assign(`/${lang}/class/teach`);
    } catch {
      say(openStatus, t("network"), true);
    } finally {
      openButton.disabled = false;
    }
  });

  showSeat();
}

// ---- /{lang}/class/teach: the teacher's dashboard -----------------------

function teach() {
  let mine = storedTeacher();
  const dash = part("dashboard");
  const noRoom = part("no-room");
  if (!mine) {
    noRoom.hidden = false;
    return;
  }
  dash.hidden = false;

  const board = boardView(root.querySelector(".class-board"));
  const cmdStatus = part("cmd-status");
  const lessonSelect = part("lesson");
  const pauseInput = part("pause-message");
  const hideNames = part("hide-names");
  const rosterBody = part("roster");
  const rosterEmpty = part("roster-empty");
  const rosterCount = part("roster-count");
  const columns = [...root.querySelectorAll(".class-roster thead th")].map((th) => th.textContent);
  const lessonTitles = new Map([...lessonSelect.options].filter((o) => o.value).map((o) => [o.value, o.textContent]));
  const buttons = Object.fromEntries([...root.querySelectorAll("[data-cmd]")].map((b) => [b.dataset.cmd, b]));
  let room = null; // the last room message
  let seats = [];
  let titles = {};

  function say(text, isError) {
    cmdStatus.textContent = text;
    cmdStatus.classList.toggle("class-status-error", !!isError);
  }

  function setCode(code) {
    part("code").textContent = code;
    const link = part("join-link");
    link.href = joinPath(code);
    link.textContent = joinText(code);
    part("qr").src = qrSrc(code);
    part("show-link").href = showPath(code);
    board.setCode(code);
    document.title = document.title.replace(/^(?:[A-Z0-9]{6} · )?/, `${code} · `);
  }
  setCode(mine.room);

  try {
    hideNames.checked = sessionStorage.getItem(HIDE_NAMES_KEY) === "1";
  } catch {
    // no session storage: names are shown
  }
  hideNames.addEventListener("change", () => {
    try {
      sessionStorage.setItem(HIDE_NAMES_KEY, hideNames.checked ? "1" : "0");
    } catch {
      // the choice lasts until the page is left
    }
    renderState();
    renderRoster(true);
  });

  const displayName = (seat) => (hideNames.checked ? t("student", { n: String(seat.id).replace(/^s/, "") }) : seat.nick);
  const experimentTitle = (name) => titles[name] || name || "";

  /**
   * runTitles names each of a seat's runs by its experiment's title, the
   * second run of the same experiment "Title (2)", so that a teacher never
   * reads a widget id.
   */
  function runTitles(runs) {
    const seen = new Map();
    return runs.map((r) => {
      const title = experimentTitle(r.experiment);
      const n = (seen.get(title) ?? 0) + 1;
      seen.set(title, n);
      return n > 1 ? `${title} (${n})` : title;
    });
  }

  function renderRoom(m) {
    const was = room;
    room = m;
    if (CODE_RE.test(m.code) && m.code !== mine.room) {
      // A new code: the browser's key now opens the room under it.
      mine = { ...mine, room: m.code };
      save(TEACHER_KEY, mine);
      setCode(m.code);
      say(t("new-code-done", { code: m.code }));
    }
    // The room counts the seats with a page open now, not every seat taken.
    const joined = part("joined");
    joined.textContent = m.joined === 1 ? t("online-1") : t("online", { n: m.joined ?? 0 });
    joined.dataset.online = String(m.joined ?? 0);
    buttons.follow.setAttribute("aria-pressed", String(m.mode === "follow"));
    buttons.free.setAttribute("aria-pressed", String(m.mode !== "follow"));
    if (m.lesson && lessonTitles.has(m.lesson) && document.activeElement !== lessonSelect) lessonSelect.value = m.lesson;
    swap(buttons["pause-all"], buttons["resume-all"], !!m.paused);
    if (m.paused && document.activeElement !== pauseInput && m.message) pauseInput.value = m.message;
    // A resumed class starts with an empty message for the next pause.
    if (was?.paused && !m.paused && document.activeElement !== pauseInput) pauseInput.value = "";
    swap(buttons.lock, buttons.unlock, !!m.locked);
    renderState();
    renderRoster(true);
  }

  // renderState sums up what the room is in, in words (the buttons alone
  // say it only by which one shows).
  function renderState() {
    const items = [];
    if (room?.paused) items.push(["class-state-paused", t("state-room-paused")]);
    if (room?.locked) items.push(["class-state-locked", t("state-locked")]);
    const sp = room?.spotlight;
    if (sp?.seat) {
      const seat = seats.find((s) => s.id === sp.seat);
      const runs = Array.isArray(seat?.runs) ? seat.runs : [];
      const i = runs.findIndex((r) => r.widget === sp.widget);
      const title = i >= 0 ? runTitles(runs)[i] : "";
      const name = seat ? displayName(seat) : t("student", { n: String(sp.seat).replace(/^s/, "") });
      items.push(["class-state-spotlight", t(title ? "state-spotlight" : "state-spotlight-seat", { name, title })]);
    }
    part("room-state").replaceChildren(
      ...items.map(([cls, text]) => {
        const span = document.createElement("span");
        span.className = cls;
        span.textContent = text;
        return span;
      }),
    );
  }

  // swap shows one of two buttons (Pause/Resume, Lock/Unlock), keeping the
  // keyboard focus on the pair when the focused one is hidden.
  function swap(a, b, showB) {
    const focused = document.activeElement === a || document.activeElement === b;
    a.hidden = showB;
    b.hidden = !showB;
    if (focused) (showB ? b : a).focus();
  }

  let lastRoster = "";
  function renderRoster(force) {
    const key = JSON.stringify([seats, room?.spotlight ?? null, hideNames.checked]);
    if (!force && key === lastRoster) return;
    lastRoster = key;
    // The rows are rebuilt; the focused control is found again by its key.
    const focusKey = document.activeElement?.dataset?.key;
    rosterEmpty.hidden = seats.length > 0;
    const online = seats.filter((s) => s.online).length;
    rosterCount.hidden = seats.length === 0;
    rosterCount.textContent = t(seats.length === 1 ? "roster-count-1" : "roster-count", { seats: seats.length, online });
    rosterBody.replaceChildren(...seats.map(seatRow));
    if (focusKey) rosterBody.querySelector(`[data-key="${CSS.escape(focusKey)}"]`)?.focus();
  }

  function cell(...children) {
    const td = document.createElement("td");
    td.append(...children);
    return td;
  }

  function button(text, key, onClick, cls = "") {
    const b = document.createElement("button");
    b.type = "button";
    b.className = `class-button class-button-small ${cls}`;
    b.textContent = text;
    b.dataset.key = key;
    b.addEventListener("click", onClick);
    return b;
  }

  function seatRow(seat) {
    const tr = document.createElement("tr");
    const name = document.createElement("th");
    name.scope = "row";
    name.textContent = displayName(seat);
    const dot = document.createElement("span");
    dot.className = "class-dot " + (seat.online ? "class-dot-on" : "class-dot-off");
    dot.setAttribute("aria-hidden", "true");
    dot.textContent = seat.online ? "●" : "○";
    const online = document.createElement("span");
    online.textContent = seat.online ? t("seat-online") : t("seat-away");
    const lesson = seat.lesson ? lessonTitles.get(seat.lesson) ?? seat.lesson : t("no-lesson");

    const runs = Array.isArray(seat.runs) ? seat.runs : [];
    let runsCell;
    if (!runs.length) {
      runsCell = cell(t("no-runs"));
      runsCell.className = "class-muted";
    } else {
      const ul = document.createElement("ul");
      ul.className = "class-runs";
      const names = runTitles(runs);
      for (const [i, r] of runs.entries()) {
        const li = document.createElement("li");
        const what = document.createElement("span");
        what.className = "class-run-what";
        what.textContent = names[i];
        const facts = [
          t(`state-${r.state}`) === `state-${r.state}` ? r.state : t(`state-${r.state}`),
          r.total ? t("run-step", { step: r.step, total: r.total }) : "",
          r.loss != null ? t("loss", { v: fmtLoss(r.loss) }) : "",
          r.accuracy != null ? t("accuracy", { v: fmtAcc(r.accuracy) }) : "",
          r.forked ? t("forked") : t("following"),
        ].filter(Boolean);
        const detail = document.createElement("span");
        detail.className = "class-run-facts";
        detail.textContent = facts.join(" · ");
        const sp = room?.spotlight;
        const lit = sp && sp.seat === seat.id && sp.widget === r.widget;
        const spot = button(lit ? t("unspotlight") : t("spotlight"), `spot:${seat.id}:${r.widget}`, () =>
          lit ? command({ cmd: "unspotlight" }) : command({ cmd: "spotlight", seat: seat.id, widget: r.widget }),
        );
        spot.setAttribute("aria-pressed", String(!!lit));
        li.append(what, " ", detail, " ", spot);
        ul.append(li);
      }
      runsCell = cell(ul);
    }
    const remove = button(t("remove"), `remove:${seat.id}`, () => {
      if (confirm(t("remove-confirm", { name: displayName(seat) }))) command({ cmd: "remove", seat: seat.id });
    }, "class-button-danger");
    const onlineCell = cell(dot, " ", online);
    onlineCell.className = "class-online";
    tr.append(name, onlineCell, cell(lesson), runsCell, cell(remove));
    // On a phone the rows become cards: each cell shows its column's name.
    [...tr.children].forEach((c, i) => (c.dataset.label = columns[i] ? columns[i] + t("colon") : ""));
    tr.classList.toggle("class-away", !seat.online);
    return tr;
  }

  function command(m) {
    if (!sock.send({ type: "room-cmd", ...m })) {
      say(t("not-connected"), true);
      return false;
    }
    say("");
    return true;
  }

  for (const [cmd, b] of Object.entries(buttons)) {
    b.addEventListener("click", () => {
      switch (cmd) {
        case "lesson":
          if (!lessonSelect.value) {
            say(t("pick-lesson"), true);
            lessonSelect.focus();
            return;
          }
          if (command({ cmd, lesson: lessonSelect.value })) say(t("sent-lesson", { title: lessonTitles.get(lessonSelect.value) ?? lessonSelect.value }));
          return;
        case "pause-all": {
          const message = pauseInput.value.trim();
          if (chars(message) > MAX_MESSAGE) {
            say(t("message-long", { max: MAX_MESSAGE, n: chars(message) }), true);
            pauseInput.focus();
            return;
          }
          command({ cmd, message });
          return;
        }
        case "resume-all":
          if (command({ cmd })) say(t("resume-sent"));
          return;
        case "new-code":
          if (confirm(t("new-code-confirm", { code: mine.room }))) command({ cmd });
          return;
        case "delete":
          if (confirm(t("delete-confirm", { code: mine.room }))) command({ cmd });
          return;
        default:
          command({ cmd });
      }
    });
  }

  // ended says the room is gone, with its code, and offers a new one.
  function ended(message) {
    forget(TEACHER_KEY);
    dash.hidden = true;
    noRoom.hidden = false;
    part("no-room-text").textContent = t("deleted-open");
    const el = part("banner");
    el.hidden = false;
    el.dataset.status = "ended";
    el.textContent = message || t("ended");
    document.title = document.title.replace(/^[A-Z0-9]{6} · /, "");
  }

  const sock = roomSocket({
    code: () => mine.room,
    first: () => ({ type: "teach", room: mine.room, secret: mine.secret, lesson: "" }),
    onStatus(s, d) {
      if (s === "fatal") {
        // Nothing on the dashboard works without the room's key.
        dash.hidden = true;
        const el = part("banner");
        el.hidden = false;
        el.dataset.status = "fatal";
        el.textContent = t("auth-refused", { code: mine.room, message: d.message });
        const b = document.createElement("button");
        b.type = "button";
        b.className = "class-button class-button-small";
        b.textContent = t("forget");
        b.addEventListener("click", () => {
          forget(TEACHER_KEY);
          location.reload();
        });
        el.append(" ", b);
        return;
      }
      showStatus(s, d);
    },
    onMessage(m) {
      switch (m.type) {
        case "hello":
          for (const [name, spec] of Object.entries(m.specs ?? {})) if (spec?.title) titles[name] = spec.title;
          board.setTitles(m.specs);
          renderState();
          renderRoster(true);
          return;
        case "room":
          renderRoom(m);
          return;
        case "roster":
          seats = Array.isArray(m.seats) ? m.seats : [];
          renderState();
          renderRoster(false);
          return;
        case "board":
          board.update(m.runs);
          return;
        case "room-ended":
          // The teacher's own words: it was this key that deleted it.
          ended(t("deleted", { code: mine.room }));
          return;
        case "room-moved":
          // A new code was made while this page was away: the key opens the
          // room under it; the socket closes and reconnects with it.
          if (CODE_RE.test(m.code) && m.code !== mine.room) {
            mine = { ...mine, room: m.code };
            save(TEACHER_KEY, mine);
            setCode(m.code);
          }
          return;
        case "error":
          if (!FATAL.has(m.code)) say(m.message || m.code, true);
      }
    },
  });
}

// ---- /{lang}/class/{code}/show: the projector view ----------------------

function show() {
  let code = root.dataset.code;
  const head = root.querySelector(".class-show-head");
  const boardSection = root.querySelector(".class-board");
  const joinLink = part("join-link");
  const paused = part("paused");
  const toggle = part("show-toggle");
  // compact: the code in one line above the board, so that the board fits
  // on the screen. It becomes so once anyone joined or a run is on the
  // board, unless the teacher chose (the toggle); the choice is kept.
  let chosen = false;

  // boardRoom is the height each chart may take so that the page, down to
  // the board's downloads, fits the screen: the screen less everything but
  // the charts themselves (that does not change with their height).
  function boardRoom() {
    if (!head.hidden && !head.classList.contains("class-compact")) return Infinity;
    const canvases = [...boardSection.querySelectorAll(".class-board-chart > canvas")];
    if (!canvases.length) return Infinity;
    const charts = canvases.reduce((sum, c) => sum + c.getBoundingClientRect().height, 0);
    const rest = boardSection.getBoundingClientRect().bottom + scrollY - charts + 16;
    return (innerHeight - rest) / canvases.length;
  }
  const board = boardView(boardSection, { maxHeight: boardRoom });

  function compact(on) {
    head.classList.toggle("class-compact", on);
    toggle.textContent = on ? t("show-big") : t("show-board");
    toggle.hidden = false;
    board.redraw();
  }
  compact(false);
  toggle.addEventListener("click", () => {
    chosen = true;
    compact(!head.classList.contains("class-compact"));
    scrollTo(0, 0);
  });
  function autoCompact(joined) {
    if (!chosen && !head.classList.contains("class-compact") && (joined > 0 || board.count() > 0)) compact(true);
  }
  let pendingFit = 0;
  addEventListener("resize", () => {
    cancelAnimationFrame(pendingFit);
    pendingFit = requestAnimationFrame(() => board.redraw());
  });

  function setCode(c) {
    const old = code;
    code = c;
    part("code").textContent = c;
    joinLink.textContent = joinText(c);
    part("qr").src = qrSrc(c);
    board.setCode(c);
    history.replaceState(null, "", showPath(c));
    document.title = document.title.replace(old, c);
  }
  joinLink.textContent = joinText(code);

  // ended says the class is over and takes away the code, the QR code and
  // the downloads, which lead nowhere now; the board stays on screen.
  function ended(message, status) {
    const el = part("banner");
    el.hidden = false;
    el.dataset.status = status;
    el.textContent = status === "ended" ? `${t("ended-code", { code })} ${message || ""}`.trim() : message || t("ended");
    head.hidden = true;
    root.querySelector(".class-downloads").hidden = true;
    paused.hidden = true;
    board.redraw();
  }

  let lastJoined = 0;
  roomSocket({
    code: () => code,
    first: () => ({ type: "watch", room: code }),
    onStatus(s, d) {
      if (s === "fatal") {
        ended(d.message, "fatal");
        return;
      }
      showStatus(s, d);
    },
    onMessage(m) {
      switch (m.type) {
        case "hello":
          board.setTitles(m.specs);
          return;
        case "room": {
          if (CODE_RE.test(m.code) && m.code !== code) setCode(m.code);
          // The room counts the seats with a page open now.
          lastJoined = m.joined ?? 0;
          const joined = part("joined");
          joined.textContent = lastJoined === 1 ? t("online-1") : t("online", { n: lastJoined });
          joined.dataset.online = String(lastJoined);
          const text = m.message ? `${t("paused")} — ${m.message}` : t("paused");
          if (paused.hidden !== !m.paused || paused.textContent !== text) {
            paused.hidden = !m.paused;
            paused.textContent = text;
            board.redraw();
          }
          autoCompact(lastJoined);
          return;
        }
        case "board":
          board.update(m.runs);
          autoCompact(lastJoined);
          return;
        case "room-ended":
          ended(m.message, "ended");
      }
    },
  });
}

switch (root?.dataset.classPage) {
  case "home":
    home();
    break;
  case "teach":
    teach();
    break;
  case "show":
    show();
    break;
}
