// live.js is the page's one websocket, shared by every widget, and the step
// controls all widgets use. Protocol: docs/protocol.md. Widgets do not call
// it directly: ui.js's liveWidget wires a widget to it.
//
//   const ch = channel(widgetId, {onOpen, onMessage, onStatus});
//   ch.send({type: "play"});   // v and widget are filled in
//
// The page opens /ws?lang=LANG (the page's language): the server writes its
// hello (experiment specs, limits) and every error message in it. onOpen
// runs once the hello of each (re)connection has arrived, so that a widget
// can read the specs (hello()) before it starts its run: the server forgets
// a page's runs when its socket closes, so a widget starts again on every
// connection (and restores its step).
//
// onStatus(status, detail) follows the connection:
//   connecting   the first connection is being made
//   open         connected, hello received
//   reconnecting the connection broke; detail.retryAt (ms, Date.now clock)
//   going-away   the server closed with 1001 (shutting down or restarting);
//                detail.retryAt
//   refused      the server turned the page away (too many sessions, server
//                busy, shutting down, a full class: an error message, then
//                close 1013); detail.message is its reason in the page's
//                language, detail.retryAt when the page tries again (10–30 s
//                later)
//
// A page in a class (room.js; docs/classroom.md) calls setRoom first: its
// socket names the room, says who it is (seat or teach) after each hello,
// and its widgets start once the room has answered (releaseWidgets).

const PROTOCOL = 1;
const channels = new Map(); // widget id -> {onOpen, onMessage, onStatus}
let ws = null;
let status = "connecting";
let detail = {};
let retry = 0;
let retryTimer = 0;
let hello = null; // the last connection's hello
let refusal = null; // a session-level error received before a close

// The classroom (docs/classroom.md; room.js sets it): a page in a room opens
// /ws?…&room=CODE and sends roomFirst (seat or teach) right after each
// hello. The widgets wait for room.js's releaseWidgets (the room's answer
// says whether they follow the teacher), or ROOM_WAIT at most.
let roomCode = "";
let roomFirst = null;
let roomHandler = null; // {onMessage, onStatus}
let held = false; // hello came, the widgets wait for the room's answer
let holdTimer = 0;
const ROOM_WAIT = 5000;
// Messages for the page rather than a widget.
const ROOM_TYPES = new Set(["room", "roster", "board", "room-ended", "removed"]);
const ROOM_ERRORS = new Set(["room-auth", "no-seat", "removed"]);

// Session-level refusals: the server sends one of these, then closes with 1013.
// room-full: a class's pages are capped per room (docs/classroom.md).
const REFUSALS = new Set(["too-many-sessions", "server-busy", "shutting-down", "room-full"]);
const CLOSE_GOING_AWAY = 1001;
const CLOSE_TRY_AGAIN_LATER = 1013;

/** pageLang is the page's language as the protocol names it: "zh" or "en". */
export const pageLang = document.documentElement.lang.startsWith("zh") ? "zh" : "en";

function wsURL() {
  const u = new URL("/ws", location.href);
  u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
  u.searchParams.set("lang", pageLang);
  if (roomCode) u.searchParams.set("room", roomCode);
  return u.href;
}

function setStatus(s, d = {}) {
  status = s;
  detail = d;
  for (const ch of channels.values()) ch.onStatus?.(s, d);
  roomHandler?.onStatus?.(s, d);
}

// ready tells the page the connection is ready: the widgets start their runs.
function ready() {
  held = false;
  clearTimeout(holdTimer);
  setStatus("open");
  for (const ch of channels.values()) ch.onOpen?.();
}

function connect() {
  clearTimeout(retryTimer);
  retryTimer = 0;
  refusal = null;
  held = false;
  clearTimeout(holdTimer);
  let sock;
  try {
    sock = new WebSocket(wsURL());
  } catch {
    scheduleReconnect();
    return;
  }
  ws = sock;
  sock.addEventListener("message", (ev) => {
    let m;
    try {
      m = JSON.parse(ev.data);
    } catch {
      return;
    }
    if (m.v !== PROTOCOL) return;
    if (m.type === "hello") {
      hello = m;
      retry = 0;
      if (roomFirst) {
        // Before any widget's start: the server wants the seat first.
        sock.send(JSON.stringify({ v: PROTOCOL, ...roomFirst }));
        held = true;
        holdTimer = setTimeout(() => held && ws === sock && ready(), ROOM_WAIT);
        return;
      }
      ready();
      return;
    }
    if (m.type === "error" && !m.widget && REFUSALS.has(m.code)) {
      refusal = m; // the close (1013) follows
      return;
    }
    if (!m.widget && (ROOM_TYPES.has(m.type) || (m.type === "error" && roomCode && ROOM_ERRORS.has(m.code)))) {
      roomHandler?.onMessage?.(m);
      return;
    }
    if (m.widget && channels.has(m.widget)) {
      channels.get(m.widget).onMessage?.(m);
    } else if (m.type === "error") {
      // An error that names no widget (e.g. rate-limited) concerns them all.
      for (const ch of channels.values()) ch.onMessage?.(m);
    }
  });
  sock.addEventListener("close", (ev) => {
    if (ws !== sock) return;
    ws = null;
    scheduleReconnect(ev.code, ev.reason);
  });
}

// scheduleReconnect tries again later. A refusal (1013, or its error
// message) waits 10–30 s: the server is full, and a page asking again at
// once would only add to it. Otherwise the wait starts at 0.25–0.5 s and
// doubles up to 15 s; jitter keeps a restarted server from being hit by
// every page at the same instant.
function scheduleReconnect(code, reason) {
  let delay;
  let s = "reconnecting";
  const d = { code };
  if (refusal || code === CLOSE_TRY_AGAIN_LATER) {
    s = "refused";
    d.code = refusal?.code ?? "server-busy";
    d.message = refusal?.message || reason || "";
    delay = 10000 + Math.random() * 20000;
  } else {
    const base = Math.min(15000, 500 * 2 ** retry);
    retry++;
    delay = base / 2 + Math.random() * (base / 2);
    if (code === CLOSE_GOING_AWAY) {
      s = "going-away";
      delay = Math.max(delay, 1000 + Math.random() * 2000);
    }
  }
  refusal = null;
  d.retryAt = Date.now() + delay;
  setStatus(s, d);
  retryTimer = setTimeout(connect, delay);
}

// Reconnect at once when the page comes back online.
addEventListener("online", () => {
  if (!ws && status !== "refused") connect();
});

// A page the reader leaves gives its session back at once: the browser may
// keep it in its back/forward cache with the socket open, and the server
// admits only so many pages per address. Coming back (from that cache)
// connects again, and every widget restores its step as after any break.
addEventListener("pagehide", () => {
  clearTimeout(retryTimer);
  retryTimer = 0;
  const sock = ws;
  ws = null; // its close event must not schedule a reconnection
  sock?.close(1000, "page hidden");
});
addEventListener("pageshow", (ev) => {
  if (ev.persisted && !ws) connect();
});

/**
 * channel registers widget id on the page's socket and returns its sender.
 * Messages sent while disconnected are dropped: onOpen resynchronises.
 */
export function channel(id, handlers) {
  channels.set(id, handlers);
  if (!ws && status === "connecting" && !retryTimer) connect();
  else if (ws && ws.readyState === WebSocket.OPEN && hello && !held) queueMicrotask(() => handlers.onOpen?.());
  queueMicrotask(() => handlers.onStatus?.(status, detail));
  return {
    send(msg) {
      if (!ws || ws.readyState !== WebSocket.OPEN) return false;
      ws.send(JSON.stringify({ v: PROTOCOL, widget: id, ...msg }));
      return true;
    },
    get status() {
      return status;
    },
  };
}

/** helloMessage returns the last hello (specs, limits), or null before the first. */
export function helloMessage() {
  return hello;
}

// ---- The classroom ----------------------------------------------------------

/**
 * setRoom puts the page in room code: every connection opens
 * /ws?lang=…&room=CODE and sends first ({type: "seat", …} or {type:
 * "teach", …}; v is filled in) right after its hello, before any widget's
 * start; the widgets wait for releaseWidgets (or 5 s). handler gets the
 * messages that name no widget and concern the room (room, roster, board,
 * room-ended, removed, and the errors room-auth, no-seat, removed…) as
 * onMessage(m), and the connection's states as onStatus(status, detail).
 * A page without widgets connects for the room alone. Call it before the
 * widgets mount (room.js does, from app.js).
 */
export function setRoom(code, first, handler) {
  roomCode = code;
  roomFirst = first;
  roomHandler = handler;
  if (!ws && !retryTimer) connect();
  else reconnectNow();
}

/** updateRoom changes the room's code and the message sent after each hello, from the next connection on. */
export function updateRoom(code, first) {
  roomCode = code;
  roomFirst = first;
}

/**
 * clearRoom takes the page out of its room: the socket is closed, and a page
 * with widgets connects again at once as a plain page (its widgets start
 * their own runs); a page without widgets stays disconnected.
 */
export function clearRoom() {
  roomCode = "";
  roomFirst = null;
  roomHandler = null;
  if (channels.size) reconnectNow();
  else {
    const sock = ws;
    ws = null;
    held = false;
    clearTimeout(retryTimer);
    retryTimer = 0;
    status = "connecting"; // a widget mounted later connects
    sock?.close(1000, "left the room");
  }
}

/** releaseWidgets lets the widgets start once the room has answered (room.js calls it on each "room"). */
export function releaseWidgets() {
  if (held && ws?.readyState === WebSocket.OPEN) ready();
}

// reconnectNow drops the current socket (its close must not schedule a
// reconnection) and connects again at once, with the room as it is now.
function reconnectNow() {
  const sock = ws;
  ws = null;
  sock?.close(1000, "room changed");
  connect();
}

// ---- Shared step controls -------------------------------------------------

const controlStrings = {
  en: {
    play: "Play", pause: "Pause", step: "Step", reset: "Reset", replay: "Play again",
    speed: "Speed", perSecond: "{n} steps/s", controls: "Run controls",
    keys: "Keys, once you have clicked in this widget: Space play/pause, → step, R reset",
    back: "Back", position: "Position", positionOf: "{k} of {n}",
    keysSeek: "Keys, once you have clicked in this widget: Space play/pause, → step, ← step back, R reset",
  },
  zh: {
    play: "播放", pause: "暂停", step: "单步", reset: "重置", replay: "重新播放",
    speed: "速度", perSecond: "每秒 {n} 步", controls: "运行控制",
    keys: "先点击本组件，再用快捷键：空格 播放/暂停，→ 单步，R 重置",
    back: "后退", position: "位置", positionOf: "第 {k} / {n} 步",
    keysSeek: "先点击本组件，再用快捷键：空格 播放/暂停，→ 单步，← 后退一步，R 重置",
  },
};

// The speed slider is logarithmic: position 0..100 spans the server's
// limits.minSpeed..maxSpeed (from hello).
function speedScale({ minSpeed: lo, maxSpeed: hi }) {
  return {
    toSpeed(pos) {
      const v = lo * (hi / lo) ** (pos / 100);
      return Math.min(hi, Math.max(lo, v >= 10 ? Math.round(v) : Math.round(v * 4) / 4 || lo));
    },
    toPos: (sps) => Math.round((100 * Math.log(sps / lo)) / Math.log(hi / lo)),
  };
}

function button(text, testid, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  if (testid) b.dataset.testid = testid;
  b.addEventListener("click", onClick);
  return b;
}

// throttled calls send(value) at most every 150 ms while a slider moves,
// and always with the final value, to stay well inside the server's
// command rate.
function throttled(send) {
  let last = 0;
  let pending = 0;
  return (value) => {
    clearTimeout(pending);
    const fire = () => {
      last = performance.now();
      send(value);
    };
    const wait = 150 - (performance.now() - last);
    if (wait <= 0) fire();
    else pending = setTimeout(fire, wait);
  };
}

/**
 * controls builds the play/pause, step, reset and speed controls.
 * h: {onPlay, onPause, onStep, onReset, onSpeed(sps), onSeek(k)}. It returns
 * {el, setState(state), setSpeed(sps), setPosition(step, total),
 * setLocked(on), setWaiting(on)}; state is the run's state; setWaiting(true)
 * shows the run as playing while its play waits for a turn (in a class).
 *
 * opts.limits is hello's limits: the speed slider spans minSpeed..maxSpeed.
 * opts.seek adds a position slider (test id "seek") and a back button
 * (test id "back") that call h.onSeek(k): the run goes to step k, backwards
 * or forwards (protocol command "seek"). The widget reports each frame's
 * step and total through setPosition so that the slider follows the run.
 *
 * While the run is "running" or "working" (moving to a step far away) the
 * play button pauses: a pause (or a reset) interrupts the work.
 */
export function controls(lang, h, speed, opts) {
  const { toSpeed, toPos } = speedScale(opts.limits);
  const s = controlStrings[lang] ?? controlStrings.en;
  const el = document.createElement("div");
  el.className = "live-controls";
  el.setAttribute("role", "group");
  el.setAttribute("aria-label", s.controls);
  let state = "paused";
  let waiting = false; // a play waiting for its turn: pausing leaves the line
  const busy = () => waiting || state === "running" || state === "working";
  const play = button(s.play, "play", () => (busy() ? h.onPause() : h.onPlay()));
  play.className = "live-play";
  const step = button(s.step + " →", "step", () => h.onStep());
  const reset = button(s.reset, "reset", () => h.onReset());

  const label = document.createElement("label");
  label.className = "live-speed";
  const name = document.createElement("span");
  name.textContent = s.speed;
  const slider = document.createElement("input");
  slider.type = "range";
  slider.min = "0";
  slider.max = "100";
  slider.value = String(toPos(speed));
  const shown = document.createElement("output");
  const fmt = new Intl.NumberFormat(lang === "zh" ? "zh-CN" : "en", { maximumFractionDigits: 2 });
  const showSpeed = (sps) => {
    shown.textContent = s.perSecond.replace("{n}", fmt.format(sps));
    slider.setAttribute("aria-valuetext", shown.textContent);
  };
  showSpeed(speed);
  // Dragging fires many input events: send throttled.
  const sendSpeed = throttled((sps) => h.onSpeed(sps));
  slider.addEventListener("input", () => {
    const sps = toSpeed(Number(slider.value));
    showSpeed(sps);
    sendSpeed(sps);
  });
  label.append(name, slider, shown);

  const keys = document.createElement("p");
  keys.className = "live-keys";
  keys.textContent = opts.seek ? s.keysSeek : s.keys;
  el.append(play, step, reset, label);

  // The optional position slider. While the user drags it, frames that
  // arrive must not move it under the pointer: `held` is true from the
  // first input until the pointer or key is released.
  let seekSlider = null;
  let seekShown = null;
  let back = null;
  let position = { step: 0, total: 0 };
  let held = false;
  const showPosition = (k, n) => {
    seekShown.textContent = s.positionOf.replace("{k}", fmt.format(k)).replace("{n}", fmt.format(n));
    seekSlider.setAttribute("aria-valuetext", seekShown.textContent);
  };
  if (opts.seek) {
    // h.onBack (when given) counts from where earlier presses are heading,
    // not from the last frame, so that quick presses each count.
    back = button("← " + s.back, "back", () => {
      if (h.onBack) h.onBack();
      else if (position.step > 0) h.onSeek(position.step - 1);
    });
    step.before(back);
    const seekLabel = document.createElement("label");
    seekLabel.className = "live-seek";
    const seekName = document.createElement("span");
    seekName.textContent = s.position;
    seekSlider = document.createElement("input");
    seekSlider.type = "range";
    seekSlider.min = "0";
    seekSlider.max = "0";
    seekSlider.value = "0";
    seekSlider.dataset.testid = "seek";
    seekShown = document.createElement("output");
    const sendSeek = throttled((k) => h.onSeek(k));
    seekSlider.addEventListener("input", () => {
      held = true;
      const k = Number(seekSlider.value);
      showPosition(k, position.total);
      sendSeek(k);
    });
    const release = () => (held = false);
    seekSlider.addEventListener("change", release);
    seekSlider.addEventListener("pointerup", release);
    seekSlider.addEventListener("blur", release);
    seekLabel.append(seekName, seekSlider, seekShown);
    el.append(seekLabel);
    showPosition(0, 0);
  }
  el.append(keys);

  function drawPlay() {
    const running = busy();
    // Only glyphs every system font has: ⏸ is missing from many.
    play.textContent = running ? s.pause : state === "done" ? s.replay : "▶ " + s.play;
    play.setAttribute("aria-pressed", String(running));
    step.disabled = state === "done";
  }

  return {
    el,
    // setLocked greys the controls out while the run is someone else's (a
    // followed teacher's run): still focusable, so a screen reader finds
    // them and the note that says why; the sliders cannot move.
    setLocked(on) {
      for (const b of [play, step, reset, back]) {
        if (!b) continue;
        if (on) b.setAttribute("aria-disabled", "true");
        else b.removeAttribute("aria-disabled");
      }
      slider.disabled = on;
      if (seekSlider) seekSlider.disabled = on;
      el.classList.toggle("live-locked", on);
    },
    setState(st) {
      state = st;
      drawPlay();
    },
    setWaiting(on) {
      waiting = on;
      drawPlay();
    },
    setPosition(k, n) {
      position = { step: k, total: n };
      if (!seekSlider) return;
      if (back) back.disabled = k <= 0;
      if (held) return;
      seekSlider.max = String(n);
      seekSlider.value = String(k);
      showPosition(k, n);
    },
    setSpeed(sps) {
      if (document.activeElement !== slider) slider.value = String(toPos(sps));
      showSpeed(sps);
    },
  };
}

// ---- Keyboard ---------------------------------------------------------------

// Keys act only while focus is inside a widget: the page keeps Space and the
// arrows for scrolling everywhere else. keyboard makes the widget's root
// focusable (tabindex -1, so a click anywhere in the card gives it focus,
// but Tab does not stop on it) and listens on it alone. Space plays/pauses,
// → steps, R resets, unless focus is in a form field (where keys type or move
// a slider); ← steps back where the widget can seek. On a focused button or
// link, Space (and Enter) keep their native meaning — press it — so they
// are not handled here as well, but →, ← and R still work: right after
// clicking Step, → steps again.

/**
 * keyboard makes el's handlers {toggle, step, reset, back} reachable by key
 * while focus is within el (back, for ←, is optional: widgets with a
 * position slider give it).
 */
export function keyboard(el, handlers) {
  if (!el.hasAttribute("tabindex")) el.tabIndex = -1;
  el.dataset.keys = "";
  el.addEventListener("keydown", (ev) => {
    if (ev.altKey || ev.ctrlKey || ev.metaKey || ev.defaultPrevented) return;
    const t = ev.target;
    if (t instanceof Element && t.closest("input, textarea, select, [contenteditable]")) return;
    // A widget inside a widget (none today) keeps its own keys.
    if (t instanceof Element && t.closest("[data-keys]") !== el) return;
    const onButton = t instanceof Element && t.closest("button, a, summary, [role=button]");
    if (ev.key === " " || ev.code === "Space") {
      if (onButton) return; // the browser presses the button: no double action
      ev.preventDefault(); // do not scroll the page
      handlers.toggle();
    } else if (ev.key === "ArrowRight") {
      ev.preventDefault();
      handlers.step();
    } else if (ev.key === "ArrowLeft" && handlers.back) {
      ev.preventDefault();
      handlers.back();
    } else if (ev.key === "r" || ev.key === "R") {
      handlers.reset();
    }
  });
}
