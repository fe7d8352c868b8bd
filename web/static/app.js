// app.js mounts the lesson widgets. Every element with data-widget="NAME"
// gets the module /static/widgets/NAME.js, whose default export is called
// as mount(element, params, {lang, t}). Widgets load in parallel; one that
// fails shows a message in its own card and leaves the others alone.

const lang = document.documentElement.lang.startsWith("zh") ? "zh" : "en";

// Strings the page shows around widgets; widgets keep their own tables and
// may use t() for these shared ones.
const strings = {
  en: {
    loading: "Loading the interactive widget…",
    failed: "This widget could not be loaded. Reload the page to try again.",
    "bad-params": "This widget is misconfigured in the lesson.",
  },
  zh: {
    loading: "正在加载交互组件……",
    failed: "此组件加载失败，请刷新页面重试。",
    "bad-params": "本课中此组件的配置有误。",
  },
};

/** t returns the page string for key in the page language (English if missing). */
export function t(key) {
  return strings[lang][key] ?? strings.en[key] ?? key;
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

async function mount(el) {
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
  el.setAttribute("aria-busy", "true");
  el.dataset.mount = "loading";
  status(el, "loading");
  try {
    ensureStylesheet(name);
    const mod = await import(`/static/widgets/${name}.js`);
    el.replaceChildren();
    await mod.default(el, params, { lang, t });
    el.dataset.mount = "ready";
  } catch (err) {
    console.error("widget", el.id, err);
    el.dataset.mount = "error";
    status(el, "failed", "error");
  } finally {
    el.removeAttribute("aria-busy");
  }
}

function mountAll() {
  return Promise.all([...document.querySelectorAll("[data-widget]")].map(mount));
}

// Module scripts run after parsing, so the elements are already there.
mountAll();
