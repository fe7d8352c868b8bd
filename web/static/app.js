// app.js mounts the lesson widgets. Every element with data-widget="NAME"
// gets the module /static/widgets/NAME.js, whose default export is called
// as mount(element, params, {lang, t}). Widgets load in parallel; one that
// fails shows a message in its own card and leaves the others alone.
//
// A widget's parameters are the lesson's (data-params) with the settings
// the page's address holds for it (w1.stride=2: ui.js's "Settings in the
// page's address") on top, or a teacher's run's parameters when a student
// in a class forks it (room.js; "widget-remount" below). Settings the
// server refuses (or a widget that cannot mount with them) are dropped from
// the address, said so above the card in the page's language, and the
// widget is mounted again, once, with the lesson's own parameters.

// The classroom first: a page in a room says so before any widget starts.
import "/static/room.js";

// ui.js (the address's settings) is loaded with the first widget: a page
// without widgets does not fetch it.
let ui = null;

const lang = document.documentElement.lang.startsWith("zh") ? "zh" : "en";

// Strings the page shows around widgets; widgets keep their own tables and
// may use t() for these shared ones.
const strings = {
  en: {
    loading: "Loading the interactive widget…",
    failed: "This widget could not be loaded. Reload the page to try again.",
    "bad-params": "This widget is misconfigured in the lesson.",
    "url-refused": "The link’s settings for this widget could not be used ({reason}), so it shows the lesson’s own settings.",
    "url-failed": "This widget could not start with the link’s settings, so it shows the lesson’s own settings.",
    "url-stale": "The link has settings for a widget “{id}” that this lesson does not have; they were ignored.",
    dismiss: "Dismiss",
    "copy-link": "Copy a link to these settings",
    copied: "Link copied: it opens this widget with its current settings.",
    "copy-manual": "Copy this link:",
  },
  zh: {
    loading: "正在加载交互组件……",
    failed: "此组件加载失败，请刷新页面重试。",
    "bad-params": "本课中此组件的配置有误。",
    "url-refused": "链接中此组件的设置无法使用（{reason}），因此显示本课自己的设置。",
    "url-failed": "此组件无法按链接中的设置启动，因此显示本课自己的设置。",
    "url-stale": "链接中有本课没有的组件“{id}”的设置，已忽略。",
    dismiss: "关闭",
    "copy-link": "复制带有当前设置的链接",
    copied: "链接已复制：打开它会以当前设置显示此组件。",
    "copy-manual": "请复制此链接：",
  },
};

/** t returns the page string for key in the page language (English if missing), with {name} filled from vars. */
export function t(key, vars = {}) {
  const s = strings[lang][key] ?? strings.en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => vars[k] ?? "");
}

// Widget names become module paths, so only plain hyphenated names pass.
const widgetName = /^[a-z0-9]+(-[a-z0-9]+)*$/;

function status(el, key, kind) {
  const p = document.createElement("p");
  p.className = "widget-status" + (kind ? " widget-status-" + kind : "");
  p.setAttribute("role", kind === "error" ? "alert" : "status");
  p.textContent = t(key);
  el.replaceChildren(p);
}

// ensureStylesheet adds the widget's own stylesheet once per page
// (a <link> made here is allowed by the style-src 'self' policy).
function ensureStylesheet(name) {
  const href = `/static/widgets/${name}.css`;
  if (document.querySelector(`link[rel="stylesheet"][href="${href}"]`)) return;
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = href;
  document.head.append(link);
}

// notice puts a dismissable alert about the address's settings above card.
function notice(card, text) {
  const box = document.createElement("div");
  box.className = "widget-url-note";
  box.setAttribute("role", "alert");
  box.dataset.testid = "url-settings-note";
  if (card.id) box.dataset.widget = card.id;
  const p = document.createElement("p");
  p.textContent = text;
  const close = document.createElement("button");
  close.type = "button";
  close.className = "widget-url-note-close";
  close.textContent = "×";
  close.title = t("dismiss");
  close.setAttribute("aria-label", t("dismiss"));
  close.addEventListener("click", () => box.remove());
  box.append(p, close);
  card.before(box);
}

// shareLine puts the "copy a link" button under a mounted card, once. The
// link is the page's address (every widget's settings) with #ID, so that
// it opens at this widget.
function shareLine(card) {
  if (!/^w[0-9]+$/.test(card.id) || card.nextElementSibling?.classList.contains("widget-share")) return;
  const line = document.createElement("p");
  line.className = "widget-share";
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = t("copy-link");
  button.dataset.testid = "copy-link";
  const said = document.createElement("span");
  said.className = "widget-share-status";
  said.setAttribute("role", "status");
  line.append(button, said);
  let clear = 0;
  button.addEventListener("click", async () => {
    clearTimeout(clear);
    ui.flushURLSettings();
    const url = location.origin + location.pathname + location.search + "#" + card.id;
    line.dataset.url = url;
    try {
      await navigator.clipboard.writeText(url);
      said.textContent = t("copied");
      clear = setTimeout(() => (said.textContent = ""), 8000); // a later change of setting would make it stale
    } catch {
      // No clipboard (a page served over plain http, a denied permission):
      // show the link, selected, for the reader to copy.
      const box = document.createElement("input");
      box.readOnly = true;
      box.value = url;
      box.className = "widget-share-url";
      box.setAttribute("aria-label", t("copy-manual"));
      said.replaceChildren(t("copy-manual") + " ", box);
      box.select();
    }
  });
  card.after(line);
}

// The attributes lessons/markdown.go gives a card; a card mounted again is
// a new element with only these (no listeners, no state of the first try).
const cardAttributes = ["id", "class", "data-widget", "data-params", "data-testid"];

// freshCard puts a new element with card's attributes in its place.
function freshCard(card) {
  const fresh = document.createElement(card.tagName);
  for (const a of cardAttributes) if (card.hasAttribute(a)) fresh.setAttribute(a, card.getAttribute(a));
  fresh.className = "widget";
  card.replaceWith(fresh);
  return fresh;
}

// fallBack drops the address's settings for card's widget, says why, and
// mounts the widget again on a new element with the lesson's parameters.
function fallBack(card, text) {
  ui.setURLSettings(card.id, [], true);
  const fresh = freshCard(card);
  notice(fresh, text);
  return mount(fresh, null);
}

// A widget that starts to follow the teacher's run, stops, or forks it
// (ui.js's liveWidget, in a class) asks to be mounted again: a new widget
// for the run it shows now, with the teacher's parameters for a fork
// (detail.params; the seek to detail.step is the widget's), else the
// lesson's and the address's. Focus that was in the old card goes to
// detail.focus (a test id) in the new one, or to the card.
document.addEventListener("widget-remount", (ev) => {
  const card = ev.target;
  if (!ui || !(card instanceof Element) || !card.matches("[data-widget]") || !card.isConnected) return;
  ev.preventDefault();
  const { params, step, focus } = ev.detail ?? {};
  const hadFocus = card.contains(document.activeElement);
  const fresh = freshCard(card);
  if (step > 0) fresh.dataset.forkStep = String(step);
  const mounted = params ? mount(fresh, null, params) : mount(fresh, ui.urlSettings().get(fresh.id));
  if (!hadFocus) return;
  mounted.then(() => {
    const target = (focus && fresh.querySelector(`[data-testid="${focus}"]:not([hidden])`)) || fresh;
    if (target === fresh && !fresh.hasAttribute("tabindex")) fresh.tabIndex = -1;
    target.focus();
  });
});

async function mount(el, fromURL, given) {
  const name = el.dataset.widget;
  let params;
  try {
    if (!widgetName.test(name)) throw new Error(`bad widget name ${name}`);
    params = JSON.parse(el.dataset.params || "{}");
  } catch (err) {
    console.error("widget", el.id, err);
    status(el, "bad-params", "error");
    return;
  }
  if (given) params = { ...params, ...given };
  if (fromURL?.length) {
    const lesson = params;
    params = { ...lesson };
    for (const [key, raw] of fromURL) params[key] = ui.urlValue(raw, lesson[key]);
    el.dataset.urlSettings = "pending";
    el.addEventListener("url-settings-refused", (ev) => fallBack(el, t("url-refused", { reason: ev.detail.message })), { once: true });
  }
  el.setAttribute("aria-busy", "true");
  el.dataset.mount = "loading";
  status(el, "loading");
  try {
    ensureStylesheet(name);
    const mod = await import(`/static/widgets/${name}.js`);
    el.replaceChildren();
    await mod.default(el, params, { lang, t });
    el.dataset.mount = "ready";
    shareLine(el);
  } catch (err) {
    console.error("widget", el.id, err);
    if (fromURL?.length && el.isConnected && el.dataset.urlSettings === "pending") {
      el.dataset.urlSettings = "refused";
      return fallBack(el, t("url-failed"));
    }
    el.dataset.mount = "error";
    status(el, "failed", "error");
  } finally {
    el.removeAttribute("aria-busy");
  }
}

async function mountAll() {
  const cards = [...document.querySelectorAll("[data-widget]")];
  if (!cards.length) return;
  for (const el of cards) status(el, "loading");
  try {
    ui = await import("/static/widgets/ui.js");
  } catch (err) {
    console.error("ui.js", err);
    for (const el of cards) status(el, "failed", "error");
    return;
  }
  const settings = ui.urlSettings();
  // Settings for a widget this lesson does not have (an old or edited
  // link): said above the first card and dropped from the address.
  for (const id of settings.keys()) {
    if (cards.some((c) => c.id === id)) continue;
    ui.setURLSettings(id, [], true);
    if (cards.length) notice(cards[0], t("url-stale", { id }));
  }
  return Promise.all(cards.map((el) => mount(el, settings.get(el.id))));
}

// The language switch (/lang/zh?next=/zh/lessons/SLUG) takes the page's
// settings along: the same lesson has the same widgets in both languages.
// Its links are brought up to date as they are about to be used (pointer
// down, keyboard focus), since the address changes after the page is made.
function carrySettings(ev) {
  const a = ev.target.closest?.('[data-testid="lang-switch"] a[href]');
  if (!a || !location.search) return;
  const u = new URL(a.href, location.href);
  const next = u.searchParams.get("next");
  if (!next) return;
  const n = new URL(next, location.origin);
  n.search = location.search;
  n.hash = location.hash;
  u.searchParams.set("next", n.pathname + n.search + n.hash);
  a.href = u.pathname + u.search;
}
addEventListener("pointerdown", carrySettings, true);
addEventListener("focusin", carrySettings, true);

// Module scripts run after parsing, so the elements are already there.
mountAll();
