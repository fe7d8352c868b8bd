package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/paramshare/paramshare/engine/arch"
)

// countWidget is the model-count widget of "Count a real model".
const countWidget = `[data-widget="model-count"]`

// countArch is arch's count of a preset with its source's switches and
// the changes — computed here, independently of the page.
func countArch(t *testing.T, preset string, change func(*arch.Options)) arch.Table {
	t.Helper()
	o, err := arch.DefaultOptions(preset)
	if err != nil {
		t.Fatal(err)
	}
	if change != nil {
		change(&o)
	}
	m, err := arch.Build(preset, o)
	if err != nil {
		t.Fatal(err)
	}
	tab, err := arch.Count(m)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

// countTotalsAre waits until the three totals the page shows are tab's.
func countTotalsAre(tab arch.Table) chromedp.Action[chromedp.Void] {
	return pollJS(fmt.Sprintf(`(() => {
		const v = (k) => document.querySelector('%s [data-testid="total-' + k + '"]').dataset.value;
		return v("params") === "%d" && v("uses") === "%d" && v("unshared") === "%d";
	})()`, countWidget, tab.Params, tab.Uses, tab.Unshared), 15*time.Second)
}

// countChoose sets a select (or a checkbox, with "true"/"false") of the widget
// as a reader does, and fires its change event.
func countChoose(t *testing.T, ctx context.Context, testid, value string) {
	t.Helper()
	ok := evalJS[bool](t, ctx, fmt.Sprintf(`(() => {
		const e = document.querySelector('%s [data-testid="%s"]');
		if (!e || e.closest("[hidden]")) return false;
		if (e.type === "checkbox") e.checked = %q === "true"; else e.value = %q;
		e.dispatchEvent(new Event("change", {bubbles: true}));
		return true;
	})()`, countWidget, testid, value, value))
	if !ok {
		t.Fatalf("%s: no visible control", testid)
	}
}

func openCount(t *testing.T, ctx context.Context, url, lang string) {
	t.Helper()
	do(t, ctx, "open count-a-real-model ("+lang+")",
		chromedp.Navigate(url+"/"+lang+"/lessons/count-a-real-model"),
		connected(countWidget, 20*time.Second),
		pollJS(`document.querySelector('`+countWidget+` [data-testid="total-params"]').dataset.value !== undefined`, 20*time.Second),
	)
}

// TestBrowserModelCount opens lesson 16: BERT-base's totals against
// arch.Count, ALBERT-base's four sharing modes and E = 768 (totals and the
// Δ line), GPT-2 untied and tied again from the keyboard, a block opened,
// the exports (status, type, the JSON's totals), the Chinese page; then
// screenshots at desktop and phone width in both languages.
func TestBrowserModelCount(t *testing.T) {
	url, ctx := browserSession(t, 150*time.Second)
	w := countWidget
	openCount(t, ctx, url, "en")

	bert := countArch(t, "bert-base", nil)
	do(t, ctx, "BERT-base's totals are arch.Count's", countTotalsAre(bert), widgetIs(w, "preset", "bert-base", time.Second))
	// BERT takes the pooler only: the other switches are hidden.
	hidden := evalJS[string](t, ctx, `[...document.querySelectorAll('`+w+` [data-testid^="set-"]')].map((e) => e.dataset.testid + "=" + !!e.closest("[hidden]")).join(" ")`)
	for _, want := range []string{"set-preset=false", "set-pooler=false", "set-seqLen=false", "set-share=true", "set-tie=true", "set-unshareConv=true", "set-embed=true"} {
		if !strings.Contains(hidden, want) {
			t.Errorf("BERT-base's controls: %s, want %s", hidden, want)
		}
	}

	// 128 tokens: the uses fall, the parameters stay.
	bert128 := countArch(t, "bert-base", func(o *arch.Options) { o.SeqLen = 128 })
	countChoose(t, ctx, "set-seqLen", "128")
	do(t, ctx, "BERT-base at 128 tokens", countTotalsAre(bert128))
	if bert128.Params != bert.Params || bert128.Uses >= bert.Uses {
		t.Errorf("arch: 128 tokens give %d parameters, %d uses; 512 give %d, %d", bert128.Params, bert128.Uses, bert.Params, bert.Uses)
	}

	// ALBERT-base (a new preset starts at its source's sequence length):
	// the four modes, each against arch, with the Δ line.
	countChoose(t, ctx, "set-preset", "albert-base")
	prev := countArch(t, "albert-base", nil)
	do(t, ctx, "ALBERT-base all-shared", countTotalsAre(prev))
	for _, mode := range []string{"attention", "ffn", "none", "all"} {
		tab := countArch(t, "albert-base", func(o *arch.Options) { o.Share = mode })
		countChoose(t, ctx, "set-share", mode)
		do(t, ctx, "ALBERT-base share "+mode, countTotalsAre(tab),
			pollJS(fmt.Sprintf(`document.querySelector('%s [data-testid="delta"]').dataset.params === "%d"`, w, tab.Params-prev.Params), 5*time.Second))
		if tab.Uses != prev.Uses {
			t.Errorf("share %s: arch's uses moved (%d → %d)", mode, prev.Uses, tab.Uses)
		}
		prev = tab
	}
	// What each switch would do from here (all-shared, E 128): the folded
	// list names every other mode and size with arch's totals.
	flips := evalJS[string](t, ctx, `[...document.querySelectorAll('`+w+` [data-testid="flips"] li')].map((li) => li.dataset.field + "=" + li.dataset.value + ":" + li.dataset.params + " " + li.textContent).join("\n")`)
	t.Logf("flips from ALBERT-base all-shared:\n%s", flips)
	for _, mode := range []string{"attention", "ffn", "none"} {
		want := fmt.Sprintf("share=%s:%d ", mode, countArch(t, "albert-base", func(o *arch.Options) { o.Share = mode }).Params)
		if !strings.Contains(flips, want) {
			t.Errorf("flips lack %q", want)
		}
	}
	e768 := countArch(t, "albert-base", func(o *arch.Options) { o.Embed = 768 })
	countChoose(t, ctx, "set-embed", "768")
	do(t, ctx, "ALBERT-base E = 768", countTotalsAre(e768))
	if d := textOf(t, ctx, w+` [data-testid="delta"]`); !strings.Contains(d, "+19,431,168") {
		t.Errorf("Δ line %q, want +19,431,168", d)
	}
	countChoose(t, ctx, "set-embed", "128")
	do(t, ctx, "ALBERT-base E = 128", countTotalsAre(countArch(t, "albert-base", nil)))

	// Open block 7 (encoder.layer.0) from the keyboard: its two rows show.
	do(t, ctx, "focus block 7", chromedp.Focus(chromedp.CSS(w+` [data-testid="expand-7"]`)), chromedp.KeyEvent(kb.Enter),
		pollJS(`document.querySelectorAll('`+w+` tr.mc-sub-row').length === 2`, 5*time.Second),
		pollJS(`document.activeElement === document.querySelector('`+w+` [data-testid="expand-7"]')`, 2*time.Second))
	if got := attrOf(t, ctx, w+` [data-testid="expand-7"]`, "aria-expanded"); got != "true" {
		t.Errorf("expand-7 aria-expanded = %s", got)
	}
	shared := textOf(t, ctx, w+` [data-testid="item-8"]`)
	if !strings.Contains(shared, "shares encoder.layer.0") {
		t.Errorf("block 8 %q does not say whose tensors it uses", shared)
	}
	countScreenshots(t, ctx, "modelcount-en-albert", w)

	// A new preset starts as its source defines it: ALBERT-base unshared at
	// E = 768, then ALBERT-large is the all-shared ALBERT-large at E = 128.
	countChoose(t, ctx, "set-share", "none")
	countChoose(t, ctx, "set-embed", "768")
	do(t, ctx, "ALBERT-base unshared, E = 768", countTotalsAre(countArch(t, "albert-base", func(o *arch.Options) { o.Share, o.Embed = "none", 768 })))
	countChoose(t, ctx, "set-preset", "albert-large")
	do(t, ctx, "ALBERT-large as its source has it", countTotalsAre(countArch(t, "albert-large", nil)))

	// GPT-2: untie, then tie again with the space bar.
	countChoose(t, ctx, "set-preset", "gpt2")
	tied := countArch(t, "gpt2", nil)
	untied := countArch(t, "gpt2", func(o *arch.Options) { o.Tie = false })
	do(t, ctx, "GPT-2 tied", countTotalsAre(tied))
	countChoose(t, ctx, "set-tie", "false")
	do(t, ctx, "GPT-2 untied", countTotalsAre(untied),
		pollJS(fmt.Sprintf(`document.querySelector('%s [data-testid="delta"]').dataset.params === "%d"`, w, untied.Params-tied.Params), 5*time.Second))
	if untied.Params-tied.Params != 38597376 || untied.Uses != tied.Uses {
		t.Errorf("arch: untying GPT-2 adds %d parameters and moves uses %d → %d", untied.Params-tied.Params, tied.Uses, untied.Uses)
	}
	do(t, ctx, "tie again from the keyboard", chromedp.Focus(chromedp.CSS(w+` [data-testid="set-tie"]`)), chromedp.KeyEvent(" "), countTotalsAre(tied))
	blurAll(t, ctx)

	// The exports of the setting on screen.
	var ex struct {
		Links                []string
		Status, Types        []string
		JSONParams, Shown    int64
		JSONPreset, CSVFirst string
		CSVTotal             string
	}
	raw := evalJSAsync[string](t, ctx, fmt.Sprintf(`(async () => {
		const out = {Links: [], Status: [], Types: []};
		out.Shown = Number(document.querySelector('%[1]s [data-testid="total-params"]').dataset.value);
		for (const a of document.querySelectorAll('%[1]s [data-testid="exports"] a')) {
			out.Links.push(a.dataset.testid);
			// The widget's own CSV (a blob URL, which the page's
			// connect-src does not let fetch read) is downloaded below.
			if (a.href.startsWith("blob:")) {
				out.Status.push("blob");
				out.Types.push("");
				continue;
			}
			const r = await fetch(a.href);
			out.Status.push(String(r.status));
			out.Types.push(r.headers.get("Content-Type"));
			if (a.dataset.testid === "export-json") {
				const j = await r.json();
				out.JSONParams = j.static.total.params;
				out.JSONPreset = j.params.preset;
			} else if (a.dataset.testid === "export-csv") {
				const lines = (await r.text()).trim().split("\n");
				out.CSVFirst = lines[0];
				out.CSVTotal = lines[lines.length - 1];
			} else {
				await r.arrayBuffer();
			}
		}
		return JSON.stringify(out);
	})()`, w))
	if err := json.Unmarshal([]byte(raw), &ex); err != nil {
		t.Fatalf("exports: %.300s: %v", raw, err)
	}
	wantType := map[string]string{"download-png": "image/png", "download-svg": "image/svg+xml", "export-json": "application/json", "export-csv": "text/csv"}
	for _, need := range []string{"download-png", "download-svg", "export-json"} {
		if !strings.Contains(strings.Join(ex.Links, " "), need) {
			t.Errorf("no %s link (links %v)", need, ex.Links)
		}
	}
	for i, id := range ex.Links {
		if ex.Status[i] == "blob" && id == "export-csv" {
			ex.CSVFirst, ex.CSVTotal = countDownloadCSV(t, ctx)
			continue
		}
		if ex.Status[i] != "200" || !strings.HasPrefix(ex.Types[i], wantType[id]) {
			t.Errorf("%s: status %s, type %q", id, ex.Status[i], ex.Types[i])
		}
	}
	if ex.JSONPreset != "gpt2" || ex.JSONParams != tied.Params || ex.Shown != tied.Params {
		t.Errorf("JSON export: preset %q params %d; page shows %d; arch %d", ex.JSONPreset, ex.JSONParams, ex.Shown, tied.Params)
	}
	// The CSV: the server's export once run serves the format, until then
	// the widget's file of the frame's rows; the same columns either way.
	if !strings.Contains(strings.Join(ex.Links, " "), "export-csv") || ex.CSVFirst != "layer,type,params,uses,unshared,shared_with" {
		t.Errorf("CSV link among %v, header %q", ex.Links, ex.CSVFirst)
	}
	if ex.CSVTotal != fmt.Sprintf("total,,%d,%d,%d,", tied.Params, tied.Uses, tied.Unshared) {
		t.Errorf("CSV total line %q", ex.CSVTotal)
	}

	// A preset the counter does not know, from the address: refused in
	// the page's words, and the lesson's own setting shown instead.
	do(t, ctx, "bad preset in the address",
		chromedp.Navigate(url+"/en/lessons/count-a-real-model?w1.preset=resnet50"),
		pollJS(`document.querySelector('[data-testid="url-settings-note"]')?.textContent.includes("resnet50")`, 20*time.Second),
		connected(countWidget, 20*time.Second), countTotalsAre(bert))

	// Chinese: the page's strings, the rule in Chinese, the same numbers.
	openCount(t, ctx, url, "zh")
	do(t, ctx, "zh BERT-base", countTotalsAre(bert))
	for id, want := range map[string]string{"about": "计入权重和偏置", "saves": "这里一个也没有"} {
		if s := textOf(t, ctx, w+` [data-testid="`+id+`"]`); !strings.Contains(s, want) {
			t.Errorf("zh %s: %q lacks %q", id, s, want)
		}
	}
	if s := textOf(t, ctx, w); !strings.Contains(s, "使用次数") || !strings.Contains(s, "不共享时") || !strings.Contains(s, "逐层列表") {
		t.Errorf("zh widget text lacks its labels: %.200s", s)
	}
	countChoose(t, ctx, "set-preset", "albert-base")
	do(t, ctx, "zh ALBERT-base", countTotalsAre(countArch(t, "albert-base", nil)))
	if s := textOf(t, ctx, w+` [data-testid="saves"]`); !strings.Contains(s, strconv.FormatFloat(89650176.0/11683584, 'f', 2, 64)) {
		t.Errorf("zh saves line %q", s)
	}
	countScreenshots(t, ctx, "modelcount-zh-albert", w)
}

// countDownloadCSV clicks the widget's CSV link as a reader does and
// returns the downloaded file's first and last lines.
func countDownloadCSV(t *testing.T, ctx context.Context) (first, last string) {
	t.Helper()
	dir := t.TempDir()
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir,
	}); err != nil {
		t.Fatalf("download folder: %v", err)
	}
	name := attrOf(t, ctx, countWidget+` [data-testid="export-csv"]`, "download")
	evalJS[bool](t, ctx, `(() => { document.querySelector('`+countWidget+` [data-testid="export-csv"]').click(); return true; })()`)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err == nil && len(b) > 0 && bytes.HasSuffix(b, []byte("\n")) {
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			return lines[0], lines[len(lines)-1]
		}
		if time.Now().After(deadline) {
			entries, _ := os.ReadDir(dir)
			t.Fatalf("no CSV %s downloaded: %v (folder: %v)", name, err, entries)
		}
	}
}

// countScreenshots saves the page and the widget at desktop and phone width
// as NAME-{page,widget}-{desktop,phone}.png and checks that the phone
// layout does not overflow sideways.
func countScreenshots(t *testing.T, ctx context.Context, name, widget string) {
	t.Helper()
	countValuesReadable(t, ctx, name+" desktop")
	shots := map[string][]byte{
		name + "-page-desktop.png":   shoot(t, ctx, ""),
		name + "-widget-desktop.png": shoot(t, ctx, widget),
	}
	desktop := phoneViewport(t, ctx)
	pageFits(t, ctx, widget)
	countValuesReadable(t, ctx, name+" phone")
	// A phone scrolls the page, not a small box inside it: the table is
	// as tall as its rows.
	if inner := evalJS[string](t, ctx, `(() => {
		const w = document.querySelector('`+widget+` .mc-table-wrap');
		return w.scrollHeight > w.clientHeight + 1 ? w.scrollHeight + " in " + w.clientHeight : "";
	})()`); inner != "" {
		t.Errorf("%s phone: the table scrolls inside the page (%s px)", name, inner)
	}
	shots[name+"-page-phone.png"] = shoot(t, ctx, "")
	shots[name+"-widget-phone.png"] = shoot(t, ctx, widget)
	desktop()
	saveScreenshots(t, shots)
}

// countValuesReadable checks that every bar value of the chart is either
// after its bar's end (dark ink on the empty track) or inside the bar's
// end in white, never dark ink over the bar's colour, and that it stays in
// its track.
func countValuesReadable(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	raw := evalJS[string](t, ctx, `(() => {
		const out = {in: 0, after: 0, bad: []};
		for (const track of document.querySelectorAll('`+countWidget+` .mc-track')) {
			const t = track.getBoundingClientRect(), b = track.querySelector(".mc-bar").getBoundingClientRect();
			const v = track.querySelector(".mc-bar-value");
			const r = v.getBoundingClientRect();
			const white = getComputedStyle(v).color === "rgb(255, 255, 255)";
			if (r.left >= b.right - 0.5 && r.right <= t.right + 0.5 && !white) out.after++;
			else if (v.classList.contains("mc-bar-value-in") && white && r.left >= b.left - 0.5 && r.right <= b.right + 0.5) out.in++;
			else out.bad.push(v.dataset.testid + " " + v.textContent + ": value " + r.left.toFixed(1) + "–" + r.right.toFixed(1) + ", bar " + b.left.toFixed(1) + "–" + b.right.toFixed(1) + ", track to " + t.right.toFixed(1) + (white ? ", white" : ""));
		}
		return JSON.stringify(out);
	})()`)
	var got struct {
		In, After int
		Bad       []string
	}
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		t.Fatalf("%s: bar values: %v (%s)", what, err, raw)
	}
	if got.In+got.After == 0 || len(got.Bad) > 0 {
		t.Errorf("%s: bar values over their bar: %v (%d inside in white, %d after the bar)", what, got.Bad, got.In, got.After)
	}
	t.Logf("%s: bar values: %d inside in white, %d after the bar", what, got.In, got.After)
}
