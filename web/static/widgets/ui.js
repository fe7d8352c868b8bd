// ui.js is what the lesson widgets build the same way. A widget is its
// drawing code and its string table; everything else comes from here:
//
//   - liveWidget: the widget's channel on the page's socket, the connection
//     and error lines, the "working" progress line, the step controls of a
//     playable run, the download links (exportURL, the one way to name an
//     export) and what a (re)connection sends: start with the widget's
//     current parameters, then a seek back to the step it showed — the same
//     for all five widgets;
//   - controls made from the server's field specs (hello): bounds, choices
//     and digit counts are never copied into a widget;
//   - the settings in the page's address (w1.stride=2): what differs from
//     the lesson is written there as it changes, and a link's settings the
//     server refuses are reported for app.js to fall back on the lesson's
//     ("Settings in the page's address" below; viewSetting for a setting of
//     a widget's own view);
//   - elements and string templates, plurals, the narrator, the cell grids
//     and heat maps coloured by palette.js.
//
// Class names carry the widget's prefix (cs, cg, pc, ct, dd), so each
// widget's own stylesheet keeps styling them; the status, error, working and
// narrator lines also carry widget-connection, widget-alert, widget-working
// and sr-only, which site.css styles the same for all.

import { channel, controls, keyboard, helloMessage } from "/static/live.js";
import { classroom } from "/static/room.js";
import { viridisAt, css, textOn } from "/static/widgets/palette.js";

/** el makes a tag with class cls (when not empty) and text (when given). */
export function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** fill replaces each {name} in tpl by vars[name], or "" where vars has none. */
export function fill(tpl, vars) {
  return tpl.replace(/\{(\w+)\}/g, (_, k) => vars[k] ?? "");
}

/**
 * plural picks the form of a string for the count n: tpl is a string (the
 * same for every count, as Chinese needs) or {one, other, …} keyed by
 * Intl.PluralRules categories for lang ("en" or "zh").
 */
export function plural(tpl, n, lang) {
  if (typeof tpl === "string") return tpl;
  const cat = new Intl.PluralRules(lang === "zh" ? "zh-CN" : "en").select(n);
  return tpl[cat] ?? tpl.other;
}

/** reducedMotion is the reader's "prefers-reduced-motion: reduce" query. */
export const reducedMotion = matchMedia("(prefers-reduced-motion: reduce)");

// The words of the parts built here (statusLines, digitPicker), the same in
// every widget; begin puts them under each widget's own table.
const shared = {
  en: {
    connecting: "Connecting to the server…",
    reconnecting: "Connection lost — reconnecting…",
    reconnectingIn: "Connection lost — reconnecting in {s} s…",
    "going-away": "The server is shutting down or restarting — reconnecting in {s} s…",
    refused: "{msg} Next try in {s} s.",
    refusedDefault: "The server is busy.",
    closed: "Not connected to the server.",
    noExperiment: "This server does not run the experiment \"{name}\".",
    working: "Computing: step {k} → {target}",
    workingNote: "Pause or Reset stops it.",
    files: { png: "the PNG", svg: "the SVG", json: "the JSON data", "trace.json": "the step trace", csv: "the CSV table" },
    digit: "Digit", prevDigit: "Previous digit", nextDigit: "Next digit",
    preparing: "Preparing {name}… {s} s",
    preparingSlow: "Preparing {name}… {s} s — the server is re-computing this step; it can take a minute.",
    receiving: "Receiving {name}… {kb} kB",
    busyRetry: "{msg} — trying again in {s} s.",
    downloadFailed: "Could not make {name}: {msg}",
    downloadNetwork: "Downloading {name} failed: the connection broke. Try again.",
    downloaded: "Downloaded {name}.",
    cancel: "Cancel",
    urlUnknown: "unknown setting \"{name}\" (this widget has {names})",
    urlBadView: "setting \"{name}\" must be one of {values}; got \"{got}\"",
    following: "Following the teacher’s run",
    fork: "Fork: make this run mine",
    forked: "Your own run, forked from the teacher’s.",
    forkedAt: "Your own run, forked from the teacher’s at step {k}.",
    forkedRestart: "Changing a training setting starts it again from step 0.",
    backToTeacher: "Back to the teacher",
    notStarted: "Waiting for the teacher to start this widget.",
    spotlit: "Showing a student’s run (spotlight): your own run is back when the spotlight ends.",
    queued: "Waiting for a turn on the server: place {place} of {of}",
    queuedNote: "Pause leaves the line.",
  },
  zh: {
    connecting: "正在连接服务器……",
    reconnecting: "连接已断开——正在重新连接……",
    reconnectingIn: "连接已断开——{s} 秒后重新连接……",
    "going-away": "服务器正在关闭或重启——{s} 秒后重新连接……",
    refused: "{msg}{s} 秒后再试。",
    refusedDefault: "服务器繁忙。",
    closed: "未连接到服务器。",
    noExperiment: "此服务器不运行实验“{name}”。",
    working: "正在计算：第 {k} 步 → 第 {target} 步",
    workingNote: "按“暂停”或“重置”可中止。",
    files: { png: "PNG 图", svg: "SVG 图", json: "JSON 数据", "trace.json": "单步追踪", csv: "CSV 表格" },
    digit: "数字", prevDigit: "上一个数字", nextDigit: "下一个数字",
    preparing: "正在生成{name}…… {s} 秒",
    preparingSlow: "正在生成{name}…… {s} 秒——服务器正在重新计算这一步，可能需要一分钟。",
    receiving: "正在接收{name}…… {kb} kB",
    busyRetry: "{msg}——{s} 秒后重试。",
    downloadFailed: "无法生成{name}：{msg}",
    downloadNetwork: "下载{name}失败：连接中断，请重试。",
    downloaded: "已下载{name}。",
    cancel: "取消",
    urlUnknown: "没有名为 \"{name}\" 的设置（此组件的设置有 {names}）",
    urlBadView: "设置 \"{name}\" 必须是以下之一：{values}；收到的是 \"{got}\"",
    following: "正在跟随老师的运行",
    fork: "复制为我自己的运行",
    forked: "你自己的运行（复制自老师的运行）。",
    forkedAt: "你自己的运行，复制自老师第 {k} 步时的运行。",
    forkedRestart: "更改训练设置会让它从第 0 步重新开始。",
    backToTeacher: "回到老师的运行",
    notStarted: "等待老师启动此组件。",
    spotlit: "正在展示一名学生的运行（聚光）：聚光结束后恢复你自己的运行。",
    queued: "正在排队等待服务器：第 {place} 位，共 {of} 位",
    queuedNote: "按“暂停”可离开队列。",
  },
};

/**
 * begin empties root and gives it the shared card class (site.css) and the
 * widget's class prefix. strings needs
 * an "en" and a "zh" table. It returns {L, S, locale, nf, id}: the language
 * ("en" or "zh"; anything else is English), its strings (the shared words
 * above, overridden by the widget's table), the Intl locale, a plain number
 * format, and root's id (or a random one when root has none) for the
 * widget's channel and element ids.
 */
export function begin(root, lang, strings, prefix) {
  const L = lang === "zh" ? "zh" : "en";
  const locale = L === "zh" ? "zh-CN" : "en";
  root.classList.add("widget-card", prefix);
  root.replaceChildren();
  return {
    L,
    S: { ...shared[L], ...strings[L] },
    locale,
    nf: new Intl.NumberFormat(locale),
    id: root.id || "w" + Math.random().toString(36).slice(2, 8),
  };
}

/**
 * statusLines makes the connection status line (role status, test id
 * "connection-status", classes widget-connection and prefix-status)
 * and the error line (role alert, test id "widget-error", classes
 * widget-alert and prefix-error, hidden). S is begin's. showStatus takes
 * live.js's connection states (and their detail: a refusal's message, when
 * the page tries again, counted down each second) and records them on
 * root.dataset.connection; showError shows a server message as given (the
 * server writes it in the page's language) for 8 s, or until clearSticky
 * with sticky.
 */
export function statusLines(root, prefix, S) {
  const status = el("p", `widget-connection ${prefix}-status`);
  status.setAttribute("role", "status");
  status.dataset.testid = "connection-status";
  const errorBox = el("p", `widget-alert ${prefix}-error`);
  errorBox.setAttribute("role", "alert");
  errorBox.dataset.testid = "widget-error";
  errorBox.hidden = true;
  let errorTimer = 0;
  let countdown = 0;
  return {
    status,
    errorBox,
    showStatus(s, d = {}) {
      root.dataset.connection = s;
      clearInterval(countdown);
      status.hidden = s === "open";
      if (s === "open") {
        status.textContent = "";
        return;
      }
      const show = () => {
        const left = d.retryAt ? Math.max(0, Math.ceil((d.retryAt - Date.now()) / 1000)) : 0;
        if (s === "refused") status.textContent = fill(S.refused, { msg: d.message || S.refusedDefault, s: left });
        else if (s === "going-away") status.textContent = fill(S["going-away"], { s: left });
        else if (s === "reconnecting") status.textContent = left >= 2 ? fill(S.reconnectingIn, { s: left }) : S.reconnecting;
        else status.textContent = S[s] ?? S.closed;
      };
      show();
      if (d.retryAt) countdown = setInterval(show, 1000);
    },
    showError(msg, sticky = false) {
      errorBox.textContent = msg;
      errorBox.hidden = false;
      errorBox.dataset.sticky = String(sticky);
      clearTimeout(errorTimer);
      if (!sticky) errorTimer = setTimeout(() => (errorBox.hidden = true), 8000);
    },
    // clearSticky hides an error shown until further notice (the teacher
    // has not started the widget yet) once it no longer holds.
    clearSticky() {
      if (errorBox.dataset.sticky !== "true") return;
      errorBox.hidden = true;
      errorBox.dataset.sticky = "false";
    },
  };
}

/**
 * narrator makes the polite live region (classes sr-only and prefix-sr, test id
 * "narration") that speaks to screen readers. say sets what it speaks. due
 * reports whether gap ms have passed since the last speech that was due,
 * and if so counts now as spoken; with force it always is: widgets pass
 * force when the run is not playing, so that every step is spoken then.
 */
export function narrator(prefix, gap) {
  const node = el("p", `sr-only ${prefix}-sr`);
  node.setAttribute("aria-live", "polite");
  node.dataset.testid = "narration";
  let last = 0;
  return {
    el: node,
    say(text) {
      node.textContent = text;
    },
    due(force) {
      const now = performance.now();
      if (!force && now - last < gap) return false;
      last = now;
      return true;
    },
  };
}

/**
 * player makes live.js's step controls for a run the reader plays, pauses,
 * steps and resets, binds the widget's keys to them on root (they act while
 * focus is in root), and remembers what a new socket must be told again:
 * the speed and whether the run was playing. send sends a command on the
 * widget's channel (it may be called only after mount has made the
 * channel). With seek the controls get a position slider and ← steps back.
 *
 * Quick presses must each count: three ← before the next frame arrives go
 * back three positions, not one. The player keeps the step its commands are
 * heading for (`heading`) until a frame reports it (or a second passes
 * without one, e.g. when the run ended first), and counts each ← and →
 * from there; widgets report every frame's step with frame(step, total).
 *
 * It returns {ctl, state, setLocked(on), setWaiting(on), step(), reset(),
 * update(m), frame(step, total), resend(start, ...)}: setLocked(true) makes
 * the controls do nothing (greyed out) while the widget follows a teacher's
 * run; setWaiting(true) shows a play that waits for its turn in a class
 * as playing (Pause leaves the line); update applies a "state" message and reports whether
 * the state changed; resend sends start, the speed, each restoring message
 * that is not false, and play if the run was playing. limits is hello's
 * (the speed's bounds). liveWidget makes the player of a widget.
 */
export function player(root, lang, send, { speed, seek = false, limits }) {
  speed = Math.min(limits.maxSpeed, Math.max(limits.minSpeed, speed));
  let state = "paused";
  let wantPlaying = false;
  let at = { step: 0, total: 0 }; // the last frame's
  let heading = null; // the step sent commands lead to, until a frame shows it
  let headingTimer = 0;
  const head = (k) => {
    heading = k;
    clearTimeout(headingTimer);
    headingTimer = setTimeout(() => (heading = null), 1000);
  };
  const from = () => heading ?? at.step;
  // While the run is the teacher's (followed), the controls do nothing.
  let locked = false;
  // While a class's play waits for its turn, the run is meant to play.
  let waiting = false;
  const step = () => {
    if (locked) return;
    wantPlaying = false;
    if (at.total && from() >= at.total) return;
    head(from() + 1);
    send({ type: "step", n: 1 });
  };
  const reset = () => {
    if (locked) return;
    wantPlaying = false;
    head(0);
    send({ type: "reset" });
  };
  const back = () => {
    if (locked) return;
    wantPlaying = false;
    const k = from();
    if (k <= 0) return;
    head(k - 1);
    send({ type: "seek", to: k - 1 });
  };
  const handlers = {
    onPlay: () => {
      if (locked) return;
      wantPlaying = true;
      heading = null;
      send({ type: "play" });
    },
    onPause: () => {
      if (locked) return;
      wantPlaying = false;
      heading = null;
      send({ type: "pause" });
    },
    onStep: step,
    onReset: reset,
    onSpeed: (sps) => {
      if (locked) return;
      speed = Math.min(limits.maxSpeed, Math.max(limits.minSpeed, sps));
      send({ type: "speed", speed });
    },
  };
  // The play button knows whether it means play or pause right now.
  const keys = { toggle: () => ctl.el.querySelector(".live-play").click(), step, reset };
  if (seek) {
    handlers.onSeek = (k) => {
      if (locked) return;
      wantPlaying = false;
      head(k);
      send({ type: "seek", to: k });
    };
    handlers.onBack = back;
    keys.back = back;
  }
  const ctl = controls(lang, handlers, speed, { seek, limits });
  keyboard(root, keys);
  ctl.setState(state);
  return {
    ctl,
    get state() {
      return state;
    },
    setLocked(on) {
      locked = on;
      if (on) wantPlaying = false;
      ctl.setLocked(on);
    },
    // setWaiting shows a play waiting in the class's line as playing: its
    // button pauses (leaving the line), a new socket plays again.
    setWaiting(on) {
      waiting = on;
      if (on) wantPlaying = true;
      ctl.setWaiting(on);
    },
    step,
    reset,
    update(m) {
      const changed = m.state !== state;
      state = m.state;
      root.dataset.state = state;
      // The server's last word decides: a late "paused" (the step before
      // a play) must not outlive the "running" that follows it.
      if (state === "running") wantPlaying = !locked;
      else if (state !== "working" && !waiting) wantPlaying = false;
      ctl.setState(state);
      ctl.setSpeed(m.speed);
      return changed;
    },
    frame(k, n) {
      at = { step: k, total: n };
      if (heading === k) {
        heading = null;
        clearTimeout(headingTimer);
      }
      ctl.setPosition(k, n);
    },
    resend(start, ...restore) {
      heading = null;
      send(start);
      send({ type: "speed", speed });
      for (const m of restore) if (m) send(m);
      if (wantPlaying) send({ type: "play" });
    },
  };
}

/**
 * intInput makes a number input for the integers min..max, showing
 * current(). A typed value in range goes to choose. Anything else is
 * replaced by current() again, unless onRange is given: then the value
 * stays for the reader to correct, nothing is chosen, the input is marked
 * aria-invalid, and onRange(false) is called (onRange(true) when a value is
 * in range again), so that the widget can say what the range is.
 */
export function intInput(min, max, current, choose, onRange) {
  const input = document.createElement("input");
  input.type = "number";
  input.min = String(min);
  input.max = String(max);
  input.value = String(current());
  input.addEventListener("change", () => {
    const v = Number(input.value);
    const ok = input.value.trim() !== "" && Number.isInteger(v) && v >= min && v <= max;
    if (ok) choose(v);
    else if (!onRange) input.value = String(current());
    if (onRange) {
      if (ok) input.removeAttribute("aria-invalid");
      else input.setAttribute("aria-invalid", "true");
      onRange(ok);
    }
  });
  return input;
}

/**
 * digitPicker makes "label ◀ [number] ▶" (a div of class cls) for choosing
 * one of count test digits; the buttons wrap around. current() is the digit
 * shown, choose(d) asks for digit d. S is begin's (it needs digit,
 * prevDigit and nextDigit). The input gets the id `${id}-digit` and test id testid (if
 * any); prevClass and nextClass style the buttons.
 */
export function digitPicker(S, { id, count, current, choose, cls, prevClass = "", nextClass = "", testid }) {
  const field = el("div", cls);
  const name = el("label", "", S.digit);
  const input = intInput(0, count - 1, current, choose);
  input.id = id + "-digit";
  if (testid) input.dataset.testid = testid;
  name.htmlFor = input.id;
  const prev = el("button", prevClass, "◀");
  prev.type = "button";
  prev.setAttribute("aria-label", S.prevDigit);
  prev.addEventListener("click", () => choose((current() + count - 1) % count));
  const next = el("button", nextClass, "▶");
  next.type = "button";
  next.setAttribute("aria-label", S.nextDigit);
  next.addEventListener("click", () => choose((current() + 1) % count));
  field.append(name, prev, input, next);
  return { field, input };
}

/**
 * selectField makes <label class=cls><span>text</span><select></label>
 * with one option per value, named name(v), showing current. A current
 * value that is not among values (a link's setting: lr=0.07 where the
 * list offers 0.05 and 0.1) gets an option of its own, in numeric order
 * when the values are numbers, so that the select shows what runs. onChange
 * gets the chosen option's value (a string). It returns {label, input}.
 */
export function selectField({ cls, text, values, name, current, testid, onChange }) {
  const label = el("label", cls);
  label.append(el("span", "", text));
  const s = document.createElement("select");
  if (testid) s.dataset.testid = testid;
  if (current !== undefined && current !== null && !values.some((v) => String(v) === String(current))) {
    const num = (v) => (typeof v === "number" ? v : Number.NaN);
    const at = values.findIndex((v) => num(v) > num(current));
    values = at < 0 ? [...values, current] : [...values.slice(0, at), current, ...values.slice(at)];
  }
  for (const v of values) {
    const o = document.createElement("option");
    o.value = String(v);
    o.textContent = name(v);
    s.append(o);
  }
  s.value = String(current);
  s.addEventListener("change", () => onChange(s.value));
  label.append(s);
  return { label, input: s };
}

/**
 * settingsFields builds a widget's settings from the spec's fields into
 * parent. choice(f, text, values, name = String, parse = Number) adds a
 * select of values (name labels them, parse reads the chosen one back;
 * selectField shows a current value the list lacks); numberField(f, text)
 * adds a whole-number input that says the field's range (outOfRange, with
 * {min} and {max} written by format) while a typed value is outside it.
 * Each control has the test id set-FIELD, shows current(FIELD) (the field's
 * default until there is one), sends set({FIELD: value}) on a change, and
 * is kept in inputs[FIELD] (a widget syncs them from its frames). cls is
 * the class of a field's label; cls-msg of a range message.
 */
export function settingsFields(parent, { cls, current, set, outOfRange, format }) {
  const inputs = {};
  const value = (f) => current(f.name) ?? f.default;
  function choice(f, text, values, name = String, parse = Number) {
    const sel = selectField({ cls, text, values, name, current: value(f), testid: "set-" + f.name, onChange: (v) => set({ [f.name]: parse(v) }) });
    sel.label.title = f.desc;
    parent.append(sel.label);
    return (inputs[f.name] = sel.input);
  }
  function numberField(f, text) {
    const lab = el("label", cls);
    lab.append(el("span", "", text));
    const msg = el("span", cls + "-msg", fill(outOfRange, { min: format(f.min), max: format(f.max) }));
    msg.setAttribute("role", "alert");
    msg.hidden = true;
    const i = fieldInput(f, () => value(f), (v) => set({ [f.name]: v }), { onRange: (ok) => (msg.hidden = ok) });
    i.step = "1";
    i.dataset.testid = "set-" + f.name;
    lab.append(i, msg);
    parent.append(lab);
    return (inputs[f.name] = i);
  }
  return { inputs, choice, numberField };
}

/**
 * paintCells shows items [{text, rgb, title, value, padding, fresh}] as the
 * table cells of container (class prefix-cell, role cell), reusing the
 * cells while their number stays the same: only text, colour and the
 * prefix-padding and prefix-fresh classes change between frames.
 *
 * It also sets the custom property --cell-chars on container to chars (or,
 * by default, the longest line of text among items): a widget's stylesheet
 * sizes the cells' font from it and the container's width (container query
 * units), so that every number fits its cell at any width.
 */
export function paintCells(container, items, prefix, chars = longestText(items)) {
  if (container.children.length !== items.length) {
    container.replaceChildren(...items.map(() => {
      const c = el("div", prefix + "-cell");
      c.setAttribute("role", "cell");
      return c;
    }));
  }
  container.style.setProperty("--cell-chars", String(Math.max(1, chars)));
  items.forEach((it, i) => {
    const c = container.children[i];
    c.textContent = it.text;
    if (it.title !== undefined) c.title = it.title;
    else c.removeAttribute("title");
    if (it.value !== undefined) c.dataset.value = String(it.value);
    else delete c.dataset.value;
    c.classList.toggle(prefix + "-padding", !!it.padding);
    c.classList.toggle(prefix + "-fresh", !!it.fresh);
    c.style.backgroundColor = css(it.rgb);
    c.style.color = textOn(it.rgb);
  });
}

/** longestText is the number of characters of the longest line of text among items [{text}]. */
export function longestText(items) {
  let n = 0;
  for (const it of items) for (const line of String(it.text).split("\n")) n = Math.max(n, [...line].length);
  return n;
}

/**
 * sharpCanvas sizes canvas c for w×h CSS pixels at the device's pixel
 * ratio (at most 2), and returns its context drawing in CSS pixels.
 */
export function sharpCanvas(c, w, h) {
  const dpr = Math.min(2, window.devicePixelRatio || 1);
  if (c.width !== w * dpr || c.height !== h * dpr) {
    c.width = w * dpr;
    c.height = h * dpr;
  }
  const g = c.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  return g;
}

/** fillCells paints a cols×rows grid of size-pixel squares; cell i (row-major) gets the colour rgbAt(i). */
export function fillCells(g, cols, rows, size, rgbAt) {
  for (let i = 0; i < cols * rows; i++) {
    g.fillStyle = css(rgbAt(i));
    g.fillRect((i % cols) * size, Math.floor(i / cols) * size, size, size);
  }
}

/** ring outlines the side×side square at x, y in white and black, so that it shows on any colour. */
export function ring(g, x, y, side) {
  g.lineWidth = 3;
  g.strokeStyle = "#fff";
  g.strokeRect(x + 1.5, y + 1.5, side - 3, side - 3);
  g.lineWidth = 1.5;
  g.strokeStyle = "#000";
  g.strokeRect(x + 1.5, y + 1.5, side - 3, side - 3);
}

/**
 * viridisImage puts a w×h image on g, one pixel per value: pixel i
 * (row-major) is valueAt(i) on viridis from 0 to hi.
 */
export function viridisImage(g, w, h, valueAt, hi) {
  const img = g.createImageData(w, h);
  for (let i = 0; i < w * h; i++) {
    const [r, gr, b] = viridisAt(valueAt(i), 0, hi);
    img.data.set([r, gr, b, 255], i * 4);
  }
  g.putImageData(img, 0, 0);
}

/** perFrame returns a function that runs fn once at the next animation frame, however often it is called before. */
export function perFrame(fn) {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      fn();
    });
  };
}

/** link makes a download or export link with test id testid. */
export function link(text, testid, cls = "") {
  const a = el("a", cls, text);
  a.dataset.testid = testid;
  return a;
}

/**
 * downloads makes the status line of a widget's heavy downloads (exports
 * the server needs seconds to compute, such as a training race's, which re-train
 * to the step on screen) and returns {line, watch(a, name)}. watch(a, name)
 * turns a plain click on link a into a fetch: the line says "Preparing
 * NAME… 3 s" with a spinner and a Cancel button, then the file is saved
 * from a blob URL under a.download. A busy server (503) is asked again
 * after its Retry-After, saying so in its own (localized) words; any other
 * refusal shows the server's text. The link stays a plain link for a
 * middle click, a modified click or a page without JavaScript. S is
 * begin's strings.
 */
export function downloads(S, prefix) {
  const line = el("p", `widget-download ${prefix}-download`);
  line.setAttribute("role", "status");
  line.dataset.testid = "download-status";
  line.hidden = true;
  const spinner = el("span", "widget-spinner");
  spinner.setAttribute("aria-hidden", "true");
  const text = el("span", "widget-download-text");
  const cancel = el("button", "widget-download-cancel", S.cancel);
  cancel.type = "button";
  line.append(spinner, text, cancel);
  let job = null; // {ctrl, tick, timer}
  const stop = () => {
    if (!job) return;
    job.ctrl.abort();
    clearInterval(job.tick);
    clearTimeout(job.timer);
    job = null;
    spinner.hidden = true;
    cancel.hidden = true;
    line.removeAttribute("aria-busy");
  };
  cancel.addEventListener("click", () => {
    stop();
    line.hidden = true;
  });
  const say = (msg, busy) => {
    line.hidden = false;
    text.textContent = msg;
    spinner.hidden = !busy;
    cancel.hidden = !busy;
    if (busy) line.setAttribute("aria-busy", "true");
    else line.removeAttribute("aria-busy");
  };
  async function fetchTo(url, filename, name, attempt) {
    const ctrl = new AbortController();
    const started = performance.now();
    const seconds = () => Math.round((performance.now() - started) / 1000);
    const tick = () => say(fill(seconds() >= 5 ? S.preparingSlow : S.preparing, { name, s: seconds() }), true);
    job = { ctrl, tick: setInterval(tick, 1000), timer: 0 };
    tick();
    let res;
    try {
      res = await fetch(url, { signal: ctrl.signal });
      if (res.status === 503 && attempt < 5) {
        const msg = (await res.text()).trim();
        clearInterval(job.tick);
        let wait = Math.min(60, Math.max(1, Number(res.headers.get("Retry-After")) || 5));
        const count = () => say(fill(S.busyRetry, { msg, s: wait }), true);
        count();
        job.tick = setInterval(() => {
          wait = Math.max(0, wait - 1);
          count();
        }, 1000);
        job.timer = setTimeout(() => {
          clearInterval(job.tick);
          job = null;
          fetchTo(url, filename, name, attempt + 1);
        }, wait * 1000);
        return;
      }
      if (!res.ok) {
        const msg = (await res.text()).trim() || `HTTP ${res.status}`;
        stop();
        say(fill(S.downloadFailed, { name, msg }), false);
        return;
      }
      // Count the bytes as they come (the figure is ready once they start).
      const parts = [];
      let got = 0;
      const reader = res.body.getReader();
      clearInterval(job.tick);
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parts.push(value);
        got += value.length;
        say(fill(S.receiving, { name, kb: Math.round(got / 1024) }), true);
      }
      const blob = new Blob(parts, { type: res.headers.get("Content-Type") || "application/octet-stream" });
      const href = URL.createObjectURL(blob);
      const save = document.createElement("a");
      save.href = href;
      save.download = filename;
      save.hidden = true;
      document.body.append(save);
      save.click();
      save.remove();
      setTimeout(() => URL.revokeObjectURL(href), 30000);
      stop();
      say(fill(S.downloaded, { name }), false);
    } catch (err) {
      if (err?.name === "AbortError") return;
      stop();
      say(fill(S.downloadNetwork, { name }), false);
    }
  }
  return {
    line,
    watch(a, name) {
      a.addEventListener("click", (ev) => {
        if (ev.button !== 0 || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.altKey) return;
        ev.preventDefault();
        if (a.getAttribute("aria-disabled") === "true") return;
        stop();
        fetchTo(a.href, a.download || "", typeof name === "function" ? name() : name, 0);
      });
    },
  };
}

// ---- Exports ----------------------------------------------------------------

/**
 * exportURL is the one way a widget names an export:
 * /export/EXPERIMENT.FORMAT?FIELD=VALUE&…&step=K&lang=LANG, with the
 * parameters of params that the experiment's fields name, in the fields'
 * order (so that one state has one URL, which the server's cache keys on),
 * the step on screen and the page's language (the titles drawn in it).
 */
export function exportURL(experiment, format, fields, params, step, lang) {
  const q = new URLSearchParams();
  for (const f of fields) {
    const v = params[f.name];
    if (v !== undefined && v !== null) q.set(f.name, String(v));
  }
  q.set("step", String(step));
  q.set("lang", lang);
  return `/export/${experiment}.${format}?${q}`;
}

/** exportName is a file name for an export: the experiment, the short parameter values, the step. */
function exportName(experiment, format, fields, params, step) {
  const parts = [experiment];
  for (const f of fields) {
    const v = params[f.name];
    if (v === undefined || v === null || String(v).length > 16) continue; // a drawing's base64 is not a name
    parts.push(String(v));
  }
  parts.push("step" + step);
  return parts.join("-").replace(/[^A-Za-z0-9._-]+/g, "_") + "." + format;
}

// Test ids of the export links by format (the browser tests find them so).
const exportTestIDs = { png: "download-png", svg: "download-svg", json: "export-json", "trace.json": "export-trace", csv: "export-csv" };

// ---- Fields from the server's specs -----------------------------------------

/** field returns the field named name of spec (hello's), or throws naming what is missing. */
export function field(spec, name) {
  const f = spec.fields.find((x) => x.name === name);
  if (!f) throw new Error(`the server's spec has no field "${name}"`);
  return f;
}

/** intValues lists the whole numbers of an int field, min to max (for a short select). */
export function intValues(f) {
  const out = [];
  for (let v = f.min; v <= f.max; v++) out.push(v);
  return out;
}

/**
 * niceValues lists round values within a field's bounds for a select: 1, 2,
 * 5, 10, 20, 50, … (1, 3, 10, 30, … with thirds; 1, 2, 4, 8, … with
 * powersOf2), plus the default and the maximum, sorted. For an int field
 * the values are whole.
 */
export function niceValues(f, { thirds = false, powersOf2 = false } = {}) {
  const set = new Set([f.default, f.max]);
  if (powersOf2) {
    for (let v = 1; v <= f.max; v *= 2) if (v >= f.min) set.add(v);
    return [...set].sort((a, b) => a - b);
  }
  const mults = thirds ? [1, 3] : [1, 2, 5];
  // A number field that admits 0 (a learning rate of 0: no training) gets
  // 0 itself and then values from three decades under its default, not
  // from the smallest float (which made hundreds of options round to 0).
  let floor = 1;
  if (f.kind !== "int") {
    floor = f.default > 0 ? f.default / 1000 : 1e-4;
    if (f.min <= 0) set.add(0);
  }
  const lo = Math.max(f.min, floor);
  for (let e = Math.floor(Math.log10(lo)) - 1; 10 ** e <= f.max; e++) {
    for (const m of mults) {
      const v = Number((m * 10 ** e).toPrecision(6));
      if (v >= f.min && v <= f.max && (f.kind !== "int" || Number.isInteger(v))) set.add(v);
    }
  }
  return [...set].filter((v) => v >= f.min && v <= f.max).sort((a, b) => a - b);
}

/**
 * fieldInput makes the input of a field: a select of f.choices (choice),
 * a checkbox (bool), or a number input within [f.min, f.max] (int, number)
 * that chooses a value in range and otherwise behaves as intInput. The
 * field's description (in the page's language) becomes its title.
 */
export function fieldInput(f, current, choose, { name = String, onRange } = {}) {
  let input;
  if (f.kind === "choice") {
    input = document.createElement("select");
    for (const v of f.choices) {
      const o = document.createElement("option");
      o.value = v;
      o.textContent = name(v);
      input.append(o);
    }
    input.value = String(current());
    input.addEventListener("change", () => choose(input.value));
  } else if (f.kind === "bool") {
    input = document.createElement("input");
    input.type = "checkbox";
    input.checked = !!current();
    input.addEventListener("change", () => choose(input.checked));
  } else if (f.kind === "int") {
    input = intInput(f.min, f.max, current, choose, onRange);
  } else {
    input = document.createElement("input");
    input.type = "number";
    input.step = "any";
    input.min = String(f.min);
    input.max = String(f.max);
    input.value = String(current());
    input.addEventListener("change", () => {
      const v = Number(input.value);
      const ok = input.value.trim() !== "" && Number.isFinite(v) && v >= f.min && v <= f.max;
      if (ok) choose(v);
      else if (!onRange) input.value = String(current());
      if (onRange) onRange(ok);
    });
  }
  if (f.desc) input.title = f.desc;
  return input;
}

// ---- Settings in the page's address ----------------------------------------
//
// A widget's settings live in the page's query, as TensorFlow Playground's
// do, so that a link shares them: ID.FIELD=VALUE for each field whose value
// differs from the lesson's (w1.stride=2&w1.padding=0&w2.lr=0.01). One
// readable pair per setting, not one packed value per widget: a reader can
// see and edit a link, the same FIELD=VALUE form as the export URL, and the
// server's refusal names the one key that is wrong. Only what differs from
// the lesson is written, so a lesson opened plainly keeps a bare address.
// The step is not a setting: a link opens at step 0 (a trained step would
// cost the opener the whole training again). app.js reads the settings
// before it mounts a widget; liveWidget writes them as they change.

/** A value longer than this (a drawing's pixels) stays out of the address: a link is not a file. */
export const URL_VALUE_MAX = 64;

// A widget id as lessons/markdown.go writes it; a query key ID.FIELD with
// such an id is a widget setting, anything else is left alone.
const urlWidgetID = /^w[0-9]+$/;

/**
 * urlSettings reads the widget settings of a query string: a Map from
 * widget id to [[field, raw text], …] in the query's order. Keys that are
 * not ID.FIELD with a widget id are not settings.
 */
export function urlSettings(search = location.search) {
  const out = new Map();
  for (const [key, raw] of new URLSearchParams(search)) {
    const dot = key.indexOf(".");
    if (dot < 0) continue;
    const id = key.slice(0, dot);
    const name = key.slice(dot + 1);
    if (!urlWidgetID.test(id) || !name) continue;
    if (!out.has(id)) out.set(id, []);
    out.get(id).push([name, raw]);
  }
  return out;
}

const numberText = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/**
 * urlValue types a setting's text before the spec is known: like the
 * lesson's value for that field (like) when it has one — a string stays a
 * string ("32" for a choice), a number becomes a number, a boolean a
 * boolean — otherwise true/false, a number or the text. Text that does not
 * fit stays text, for the server to refuse in its own words.
 */
export function urlValue(raw, like) {
  const bool = raw === "true" ? true : raw === "false" ? false : undefined;
  if (typeof like === "string") return raw;
  if (typeof like === "boolean") return bool ?? raw;
  const num = numberText.test(raw.trim()) ? Number(raw) : NaN;
  if (typeof like === "number") return Number.isFinite(num) ? num : raw;
  if (bool !== undefined) return bool;
  return Number.isFinite(num) ? num : raw;
}

/**
 * specParams gives params the types of the spec's fields where they can be
 * converted without doubt (a choice's 32 is "32", an int's "3" is 3, a
 * bool's "true" is true): what start sends. Anything else is left as it is,
 * for the server to refuse.
 */
export function specParams(fields, params) {
  const out = { ...params };
  for (const f of fields) {
    const v = out[f.name];
    if (v === undefined || v === null) continue;
    if ((f.kind === "choice" || f.kind === "bytes") && (typeof v === "number" || typeof v === "boolean")) out[f.name] = String(v);
    else if ((f.kind === "int" || f.kind === "number") && typeof v === "string" && numberText.test(v.trim())) out[f.name] = Number(v);
    else if (f.kind === "bool" && (v === "true" || v === "false")) out[f.name] = v === "true";
  }
  return out;
}

const urlWrites = new Map(); // widget id -> [[field, text], …] not yet in the address
let urlTimer = 0;

/**
 * setURLSettings puts widget id's settings ([[field, text], …], [] for
 * none) in the page's address, after a short quiet spell (a slider drag
 * writes once, at its end) and with history.replaceState: a change of
 * setting is no new history entry. now writes at once. Other widgets'
 * settings, other query keys and the fragment are kept; widgets' keys
 * come in the page's order.
 */
export function setURLSettings(id, entries, now = false) {
  urlWrites.set(id, entries);
  clearTimeout(urlTimer);
  if (now) writeURL();
  else urlTimer = setTimeout(writeURL, 400);
}

/** flushURLSettings writes the settings still waiting for their quiet spell now (before a link is copied). */
export function flushURLSettings() {
  writeURL();
}

function writeURL() {
  clearTimeout(urlTimer);
  if (!urlWrites.size) return;
  const current = urlSettings();
  for (const [id, entries] of urlWrites) current.set(id, entries);
  urlWrites.clear();
  const q = new URLSearchParams();
  for (const [key, v] of new URLSearchParams(location.search)) {
    const dot = key.indexOf(".");
    if (dot > 0 && urlWidgetID.test(key.slice(0, dot)) && key.length > dot + 1) continue;
    q.append(key, v);
  }
  // The page's widgets in order, then ids the page does not have (app.js
  // reports and drops those).
  const ids = [...document.querySelectorAll("[data-widget]")].map((e) => e.id);
  for (const id of current.keys()) if (!ids.includes(id)) ids.push(id);
  for (const id of ids) for (const [name, v] of current.get(id) ?? []) q.append(`${id}.${name}`, v);
  const qs = q.toString();
  const search = qs ? "?" + qs : "";
  if (search === location.search) return;
  history.replaceState(history.state, "", location.pathname + search + location.hash);
}

// A widget's view settings (viewSetting) by root id: name -> {values,
// base, value, bad}; and each live widget's address writer (liveWidget's
// syncURL), which a view setting's change calls.
const viewSettings = new Map();
const urlWriters = new Map();

/**
 * viewSetting is a setting of the widget's own view, not a parameter of
 * its run (which measure a chart shows): it is kept in the address beside
 * the run's parameters, as ID.NAME=VALUE, written only when it is not base.
 * values lists what it may be (strings). It returns {value, set(v)}: value
 * is the address's (base when the address has none); set records a change
 * and writes the address. A value of the address not among values is
 * refused as a bad setting would be (liveWidget says so and app.js mounts
 * the widget again with the lesson's settings). Call it before liveWidget.
 */
export function viewSetting(root, name, values, base) {
  const raw = new Map(urlSettings().get(root.id) ?? []).get(name);
  const pending = root.dataset.urlSettings === "pending";
  const s = { values, base, value: base, bad: null };
  if (pending && raw !== undefined) {
    if (values.includes(raw)) s.value = raw;
    else s.bad = raw;
  }
  if (!viewSettings.has(root.id)) viewSettings.set(root.id, new Map());
  viewSettings.get(root.id).set(name, s);
  return {
    value: s.value,
    set(v) {
      s.value = v;
      urlWriters.get(root.id)?.();
    },
  };
}

/**
 * urlEntries lists the settings of params (the widget's, as liveWidget's
 * params() gives them) that differ from the lesson's (lesson, else the
 * field's default), in the fields' order, as [[field, text], …]; values
 * longer than URL_VALUE_MAX are left out.
 */
export function urlEntries(fields, params, lesson) {
  const out = [];
  for (const f of fields) {
    const v = params[f.name];
    if (v === undefined || v === null) continue;
    const base = lesson[f.name] ?? f.default;
    const text = String(v);
    if (base !== undefined && base !== null && text === String(base)) continue;
    if (text.length > URL_VALUE_MAX) continue;
    out.push([f.name, text]);
  }
  return out;
}

// ---- A live widget ------------------------------------------------------------

/**
 * liveWidget connects a widget to its run on the page's socket. kit is
 * begin's. opts:
 *
 *   experiment  the experiment's name (hello.specs key)
 *   prefix      the widget's class prefix
 *   params()    the parameters as the widget has them now: what start
 *               sends on every (re)connection and what export links carry
 *   player      {speed, seek}: make the play/step/reset controls (w.run);
 *               they are placed in w.controls once hello has come
 *   exports     {format: link text}: the link texts; the formats shown are
 *               the spec's (hello), in its order. exportDisabled(format,
 *               step) may grey a link out (e.g. nothing to draw at step 0).
 *   ready(spec) called once, when the first hello has brought the
 *               experiment's spec: build the controls that need its fields
 *   opened()    called after each (re)start was sent
 *   frame(m)    each frame message (after the step is recorded)
 *   state(m, changed)  each state message
 *   error(m)    each error message for the widget (already shown)
 *   stateError(m)  whether a state's error text is shown in the error
 *               line (default: always)
 *
 * On every (re)connection it sends start with params(), the speed, then
 * {"type":"seek","to":k} when the widget showed step k > 0 (the target, if
 * the run was working towards one), and play if it was playing: every
 * widget comes back where it was. While the run is "working" (moving to a
 * far step: a long step, seek or replay) the working line shows "step k →
 * target" with a progress bar; pause and reset interrupt it.
 *
 * Settings in the address: after each frame (and each refusal, which the
 * widget undoes), the fields of params() that differ from the lesson's
 * (root's data-params), and the view settings (viewSetting) that differ
 * from theirs, are written to the page's address as ID.NAME=VALUE
 * (setURLSettings). start sends params() without the view settings and
 * with the spec's types (specParams). While root.dataset.urlSettings is
 * "pending" (app.js mounted the widget with settings from the address):
 * a key of the address that names no field or view setting, or a view
 * value not allowed, is refused before start is sent, and a bad-params
 * refusal before the first frame is not shown; either is dispatched to
 * root as the event "url-settings-refused" ({detail: {message}}, in the
 * page's language) and app.js mounts the widget again with the lesson's
 * parameters. The first frame makes it "applied". An unknown-widget error
 * before the first frame of a start (a command sent after a refused
 * start, whose own error said why) is not shown.
 *
 * In a class (room.js): on a student's page in follow mode the widget
 * shows the teacher's run — start carries follow: true and nothing else
 * (no speed, seek or play), the player's controls are greyed out, the
 * address is not written, and a line under the status says so with a
 * Fork button. Fork marks the widget forked (room.js keeps that per page)
 * and has app.js mount it again ("widget-remount", {params, step, focus})
 * with the teacher's parameters, seeking to the teacher's step; its line
 * then offers "Back to the teacher", names the teacher's step it was
 * forked at (the copy's first frame; kept per page) and warns that a new
 * training setting starts it again at step 0. A change of the room's mode mounts
 * every widget whose following changes again. The error not-started
 * (the teacher has not started this widget) is said until the first
 * frame; following is shown as the server gives it. A student's training
 * play that waits for its turn (the message "queue", place > 0) is said in
 * the working line ("place 3 of 12"), root's data-queue holds the place,
 * and the play button pauses, which leaves the line; place 0 ends it.
 *
 * It returns {status, errorBox, working, controls, exports, downloads,
 * send, showError, spec, run, step, state, refreshExports}; the widget
 * places the elements in its layout.
 */
export function liveWidget(root, kit, opts) {
  const { L, S, id } = kit;
  const { experiment, prefix } = opts;
  const lines = statusLines(root, prefix, S);

  const working = el("div", `widget-working ${prefix}-working`);
  working.setAttribute("role", "status");
  working.dataset.testid = "working";
  working.hidden = true;
  const workingText = el("span", "widget-working-text");
  const workingBar = document.createElement("progress");
  workingBar.className = "widget-working-bar";
  const workingNote = el("span", "widget-working-note", S.workingNote);
  working.append(workingText, workingBar, workingNote);

  const controlsSlot = el("div", `${prefix}-controls`);
  const exportsLine = el("p", `widget-exports ${prefix}-exports`);
  exportsLine.dataset.testid = "exports";
  exportsLine.hidden = true;
  const fetching = downloads(S, prefix);
  const links = []; // {format, a}

  let spec = null;
  let run = null;
  let frameStep = 0;
  let frameTotal = 0;
  let state = "paused";
  let target = null;
  let fresh = true; // no frame since the last start
  // A class's training runs take turns on the server (docs/classroom.md):
  // {place, of} while this widget's play waits in line, else null.
  let queued = null;

  // The classroom (room.js, docs/classroom.md). bound is whether the last
  // start followed the teacher's run (null before the first start);
  // teacherParams the followed run's parameters (its state messages carry
  // them), which Fork starts an own run with; forkStep the step a fork
  // goes to (app.js mounts a forked widget again with data-fork-step);
  // startParams parameters for the next start when no app.js mounts the
  // widget again (a test page); retired once the widget has asked to be
  // mounted again: the old one sends nothing more.
  let bound = null;
  let teacherParams = null;
  let forkStep = Number(root.dataset.forkStep) || 0;
  delete root.dataset.forkStep;
  // forking: the next start asks the server to fork the followed run (a
  // copy of it at its step, no replay; docs/classroom.md); forkSent: that
  // start went out, and a refusal falls back on start and seek.
  let forking = forkStep > 0;
  let forkSent = null;
  let startParams = null;
  let retired = false;
  // The teacher's own widget shows a student's run while the teacher has
  // it in the spotlight (its state messages say follow).
  let spotlit = false;
  const following = () => classroom.following(root.id);

  const followLine = el("div", `widget-follow ${prefix}-follow`);
  followLine.dataset.testid = "follow-line";
  followLine.hidden = true;
  const followText = el("span", "widget-follow-text");
  followText.id = `${id}-follow`;
  // Forked: a new training setting is a new run (a new race at step 0),
  // which the line says before the reader finds out.
  const followNote = el("span", "widget-follow-note", S.forkedRestart);
  followNote.dataset.testid = "fork-note";
  const forkButton = el("button", "widget-follow-button", S.fork);
  forkButton.type = "button";
  forkButton.dataset.testid = "fork";
  const backButton = el("button", "widget-follow-button", S.backToTeacher);
  backButton.type = "button";
  backButton.dataset.testid = "back-to-teacher";
  followLine.append(followText, followNote, forkButton, backButton);
  forkButton.addEventListener("click", () => {
    if (!bound || !teacherParams) return;
    // The teacher's run at the step on screen, as a run of our own: the
    // same parameters and a seek replay to the same state.
    classroom.setForked(root.id, true, frameStep);
    remount({ params: teacherParams, step: frameStep, focus: "back-to-teacher" });
  });
  backButton.addEventListener("click", () => {
    classroom.setForked(root.id, false);
    remount({ focus: "fork" });
  });

  function showFollow() {
    const forked = !bound && classroom.role() === "student" && classroom.mode() === "follow" && classroom.forked(root.id);
    root.dataset.follow = bound ? "following" : forked ? "forked" : spotlit ? "spotlight" : "";
    followLine.hidden = !bound && !forked && !spotlit;
    if (followLine.hidden) return;
    if (!followLine.isConnected) {
      if (lines.status.isConnected) lines.status.after(followLine);
      else root.prepend(followLine);
    }
    const at = forked ? classroom.forkedAt(root.id) : 0;
    followText.textContent = bound ? S.following : forked ? (at > 0 ? fill(S.forkedAt, { k: kit.nf.format(at) }) : S.forked) : S.spotlit;
    // Experiments that train say so in hello (trains); one that does not has no
    // training setting to warn about.
    followNote.hidden = !forked || spec?.trains === false;
    forkButton.hidden = !bound;
    backButton.hidden = !forked;
    if (teacherParams) forkButton.removeAttribute("aria-disabled");
    else forkButton.setAttribute("aria-disabled", "true");
  }

  // remount asks app.js to mount the widget again (a fresh widget: its
  // controls built for the run it shows now; detail {params, step, focus}:
  // an own run with params at step, focus on that button). Without app.js
  // it restarts here.
  function remount(detail = {}) {
    retired = true;
    const ev = new CustomEvent("widget-remount", { bubbles: true, cancelable: true, detail });
    root.dispatchEvent(ev);
    if (ev.defaultPrevented) {
      stopListening();
      return;
    }
    retired = false;
    bound = null;
    if (detail.step) {
      forkStep = detail.step;
      forking = true;
    }
    startParams = detail.params ?? null;
    frameStep = 0;
    state = "paused";
    target = null;
    if (ch.status === "open") restart();
  }

  // The lesson's parameters: what the address leaves out.
  let lesson = {};
  try {
    lesson = JSON.parse(root.dataset.params || "{}") ?? {};
  } catch {
    lesson = {};
  }
  // What the address holds for this widget, so that only a change is written.
  let written = JSON.stringify(urlSettings().get(root.id) ?? []);
  function syncURL() {
    const u = root.dataset.urlSettings;
    // The teacher's parameters are not the reader's settings.
    if (bound) return;
    if (!spec || !urlWidgetID.test(root.id) || u === "pending" || u === "refused") return;
    const entries = urlEntries(spec.fields, opts.params(), lesson);
    for (const [name, v] of viewSettings.get(root.id) ?? []) if (v.value !== v.base) entries.push([name, v.value]);
    const text = JSON.stringify(entries);
    if (text === written) return;
    written = text;
    setURLSettings(root.id, entries);
  }

  if (root.id) urlWriters.set(root.id, syncURL);

  const send = (m) => ch.send(m);

  function build(hello) {
    spec = hello.specs[experiment];
    if (opts.player) {
      run = player(root, L, send, { ...opts.player, limits: hello.limits });
      controlsSlot.replaceChildren(run.ctl.el);
    }
    const texts = opts.exports ?? {};
    const parts = [];
    for (const e of spec.exports) {
      const a = link(texts[e.format] ?? e.format.toUpperCase(), exportTestIDs[e.format] ?? "export-" + e.format.replace(/\W/g, "-"));
      if (e.heavy) fetching.watch(a, () => S.files[e.format] ?? e.format);
      links.push({ format: e.format, a });
      if (parts.length) parts.push(" · ");
      parts.push(a);
    }
    exportsLine.replaceChildren(...parts);
    if (opts.exportsNote) exportsLine.append(el("span", `widget-exports-note`, " " + opts.exportsNote));
    exportsLine.hidden = links.length === 0;
    try {
      opts.ready?.(spec);
    } catch (err) {
      // A spec without a field the widget needs: say so, and still run.
      console.error("widget", id, err);
      lines.showError(String(err.message ?? err));
    }
    refreshExports();
  }

  function refreshExports() {
    if (!spec) return;
    const p = opts.params();
    for (const { format, a } of links) {
      a.href = exportURL(experiment, format, spec.fields, p, frameStep, L);
      a.download = exportName(experiment, format, spec.fields, p, frameStep);
      const off = !!opts.exportDisabled?.(format, frameStep);
      if (off) a.setAttribute("aria-disabled", "true");
      else a.removeAttribute("aria-disabled");
      a.classList.toggle("widget-link-disabled", off);
    }
  }

  function showWorking() {
    if (queued) {
      // The same line says the run waits for its turn: nothing computes yet.
      working.hidden = false;
      root.removeAttribute("aria-busy");
      workingText.textContent = fill(S.queued, { place: kit.nf.format(queued.place), of: kit.nf.format(queued.of) });
      workingNote.textContent = S.queuedNote;
      workingBar.hidden = true;
      return;
    }
    workingNote.textContent = S.workingNote;
    workingBar.hidden = false;
    const on = state === "working" && target !== null;
    working.hidden = !on;
    root.toggleAttribute("aria-busy", on);
    if (!on) return;
    workingText.textContent = fill(S.working, { k: kit.nf.format(frameStep), target: kit.nf.format(target) });
    if (frameStep <= target) {
      workingBar.max = Math.max(1, target);
      workingBar.value = frameStep;
    } else {
      workingBar.removeAttribute("value"); // a replay from 0 back to the target: no fraction to show
    }
  }

  const stopListening = classroom.onChange(() => {
    if (retired) return;
    if (bound !== null && following() !== bound) remount({});
    else showFollow();
  });

  const ch = channel(id, {
    onOpen: restart,
    onStatus: lines.showStatus,
    onMessage(m) {
      if (retired) return;
      switch (m.type) {
        case "frame":
          if (forkSent && fresh && m.step > 0 && classroom.forked(root.id)) {
            // The server copied the teacher's run at its step, perhaps a
            // few steps past the one on screen at the click.
            classroom.setForked(root.id, true, m.step);
            showFollow();
          }
          forkSent = null;
          frameStep = m.step;
          frameTotal = m.total;
          fresh = false;
          startParams = null;
          if (forkStep && m.step >= forkStep) forkStep = 0;
          if (bound) lines.clearSticky();
          if (root.dataset.urlSettings === "pending") root.dataset.urlSettings = "applied";
          root.dataset.step = String(m.step);
          run?.frame(m.step, m.total);
          opts.frame?.(m);
          refreshExports();
          showWorking();
          syncURL();
          break;
        case "state": {
          const changed = m.state !== state;
          state = m.state;
          if (state === "running") setQueued(null); // its turn came
          target = m.target ?? null;
          if (forkStep && target === forkStep) forkStep = 0; // on its way: a reconnection seeks to the target
          if (m.follow && m.params) teacherParams = m.params;
          const spot = !!m.follow && bound === false;
          if (spot !== spotlit || m.follow) {
            spotlit = spot;
            showFollow();
          }
          if (run) run.update(m);
          else root.dataset.state = state;
          showWorking();
          if (m.error && (opts.stateError?.(m) ?? true)) lines.showError(m.error);
          opts.state?.(m, changed);
          break;
        }
        case "queue":
          setQueued(m.place > 0 ? { place: m.place, of: m.of } : null);
          break;
        case "error":
          if (fresh && m.code === "unknown-widget") break;
          if (fresh && m.code === "bad-params" && root.dataset.urlSettings === "pending") {
            root.dataset.urlSettings = "refused";
            root.dispatchEvent(new CustomEvent("url-settings-refused", { detail: { message: m.message } }));
            break;
          }
          if (forkSent && fresh && m.code === "no-seat") {
            // No followed run to fork any more (a reconnection between):
            // the teacher's parameters at its step, replayed.
            const { start, seek } = forkSent;
            forkSent = null;
            send(start);
            if (seek) send(seek);
            break;
          }
          if (m.code === "not-started") {
            // Bound as soon as the teacher starts it: said until then.
            lines.showError(S.notStarted, true);
            break;
          }
          lines.showError(m.message);
          opts.error?.(m);
          syncURL();
          break;
      }
    },
  });
  lines.showStatus(ch.status);

  // setQueued records the widget's place in the room's line (null: not
  // waiting): the player looks as if playing (its button pauses, which
  // leaves the line) and the working line says the place.
  function setQueued(q) {
    if (!q && !queued) return;
    queued = q;
    if (q) root.dataset.queue = String(q.place);
    else delete root.dataset.queue;
    run?.setWaiting(!!q);
    showWorking();
  }

  // restart sends what a (re)connection sends: start, and what brings the
  // widget back where it was (or, following, the teacher's run).
  function restart() {
    if (retired) return;
    // A new connection has no line: a play sent again queues afresh.
    setQueued(null);
    const hello = helloMessage();
    if (!hello?.specs?.[experiment]) {
      lines.showError(fill(S.noExperiment, { name: experiment }));
      return;
    }
    if (!spec) build(hello);
    else spec = hello.specs[experiment];
    // A key of the address that names no field: said here, since a
    // widget that sends only the fields it knows would drop it unseen.
    if (root.dataset.urlSettings === "pending") {
      const views = viewSettings.get(root.id) ?? new Map();
      const names = [...spec.fields.map((f) => f.name), ...views.keys()];
      const sep = L === "zh" ? "、" : ", ";
      const unknown = (urlSettings().get(root.id) ?? []).find(([k]) => !names.includes(k));
      const badView = [...views].find(([, v]) => v.bad !== null);
      if (unknown || badView) {
        const message = unknown
          ? fill(S.urlUnknown, { name: unknown[0], names: names.join(sep) })
          : fill(S.urlBadView, { name: badView[0], values: badView[1].values.join(sep), got: badView[1].bad });
        root.dataset.urlSettings = "refused";
        root.dispatchEvent(new CustomEvent("url-settings-refused", { detail: { message } }));
        return;
      }
    }
    const follow = following();
    if (bound !== null && follow !== bound) {
      remount({}); // the room changed while the page was away
      return;
    }
    bound = follow;
    run?.setLocked(follow);
    if (run) {
      if (follow) run.ctl.el.setAttribute("aria-describedby", followText.id);
      else run.ctl.el.removeAttribute("aria-describedby");
    }
    showFollow();
    fresh = true;
    if (follow) {
      // The room's run for (lesson, widget): its parameters, step and
      // speed are the teacher's.
      send({ type: "start", experiment, follow: true });
      return;
    }
    // Come back where the page was: the step on screen, or the one the
    // run was working towards (a fork: the teacher's step).
    const k = state === "working" && target !== null ? target : frameStep || forkStep;
    // The widget's params came with the address's settings, its view's
    // among them (app.js cannot tell them apart): those stay here.
    const params = { ...(startParams ?? opts.params()) };
    for (const name of viewSettings.get(root.id)?.keys() ?? []) delete params[name];
    const start = { type: "start", experiment, params: specParams(spec.fields, params) };
    const seek = k > 0 && { type: "seek", to: k };
    if (forking) {
      // The followed run is still this widget's on the server: it becomes
      // ours as it is, at its step (the server copies it between steps).
      forking = false;
      forkSent = { start, seek };
      send({ ...start, fork: true });
      opts.opened?.();
      return;
    }
    if (run) run.resend(start, seek);
    else {
      send(start);
      if (seek) send(seek);
    }
    opts.opened?.();
  }

  return {
    status: lines.status,
    errorBox: lines.errorBox,
    working,
    controls: controlsSlot,
    exports: exportsLine,
    downloads: fetching.line,
    send,
    showError: lines.showError,
    refreshExports,
    get spec() {
      return spec;
    },
    get run() {
      return run;
    },
    get step() {
      return frameStep;
    },
    get total() {
      return frameTotal;
    },
    get state() {
      return state;
    },
  };
}
