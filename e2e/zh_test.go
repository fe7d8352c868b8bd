package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserChinese opens each widget's lesson in Chinese and checks that
// the widget speaks Chinese (words of its zh table and of the shared step
// controls are on screen), that none of a few distinctive English words of
// its en table is, and that its stream works: a step, a frame or a
// prediction arrives. It saves each Chinese widget at desktop and phone
// width.
func TestBrowserChinese(t *testing.T) {
	url, ctx := browserSession(t, 150*time.Second)
	for _, c := range []struct {
		slug, widget string
		// firstFrame is true in the page once the widget has drawn its
		// first frame from the server (sel is the widget's selector).
		firstFrame string
		zh, en     []string
		// stream makes the widget use its stream; it returns what arrived.
		stream func(t *testing.T, ctx context.Context, sel string) string
	}{{
		slug: "one-kernel-many-places", widget: "conv-slide",
		firstFrame: `document.querySelector(sel + ' [data-testid="sharing-line"]').textContent.length > 0`,
		zh:         []string{"播放", "单步", "重置", "输出特征图", "个参数，在", "先点击本组件"},
		en:         []string{"Play", "Step", "Reset", "Output feature map", "parameters, used at", "Kernel", "Keys, once", "Download PNG"},
		stream:     stepOnce,
	}, {
		slug: "why-share", widget: "param-calc",
		firstFrame: `document.querySelector(sel + ' [data-testid="params-conv"]').dataset.value === "10"`,
		zh:         []string{"图像尺寸", "独立参数个数", "全连接", "局部连接", "卷积", "下载 PNG"},
		en:         []string{"Image size", "Unique parameters", "Dense", "Locally connected", "Convolution", "Download PNG"},
		stream: func(t *testing.T, ctx context.Context, sel string) string {
			calcSlider(t, ctx, sel, "size", 20)
			do(t, ctx, "the counts for size 20", widgetIs(sel, "size", "20", 10*time.Second))
			return "the counts for size 20"
		},
	}, {
		slug: "how-a-shared-kernel-learns", widget: "conv-grad",
		firstFrame: `document.querySelector(sel + ' [data-testid="header"]').textContent.length > 0`,
		zh:         []string{"播放", "单步", "后退", "快捷键", "上游梯度", "共享卷积核的梯度"},
		// Not "Back": the zh table names the engine's Backward on purpose.
		en:     []string{"Play", "Step", "Keys, once", "Upstream gradient", "Shared kernel gradient", "Input patch", "positions added"},
		stream: stepOnce,
	}, {
		slug: "train-a-cnn-live", widget: "cnn-train",
		firstFrame: `document.querySelector(sel + ' [data-testid="params-cnn"]').dataset.value !== undefined`,
		zh:         []string{"播放", "单步", "训练准确率", "测试准确率", "轮数", "学习率"},
		en:         []string{"Play", "Step", "Train accuracy", "Test accuracy", "Epochs", "Learning rate", "Download charts"},
		stream:     stepOnce,
	}, {
		slug: "draw-a-digit", widget: "draw-digit",
		// Before the models are trained the page shows the training's
		// progress; after, it is ready.
		firstFrame: `document.querySelector(sel).dataset.ready === "true" || document.querySelector(sel + ' [data-testid="training"]').textContent.length > 0`,
		zh:         []string{"清除", "载入一个测试数字", "左右平移"},
		en:         []string{"Clear", "Load a test digit", "Move sideways", "Draw a digit", "Probability"},
		stream: func(t *testing.T, ctx context.Context, sel string) string {
			// The models train once per test binary (TestBrowserDrawDigit
			// usually has done it); a prediction needs them, the training's
			// progress frames do not.
			ready := chromedp.Do(ctx, widgetIs(sel, "ready", "true", 15*time.Second)) == nil
			if !ready {
				text := evalJS[string](t, ctx, `document.querySelector('`+sel+` [data-testid="training"]').textContent`)
				if !strings.Contains(text, "训练") {
					t.Fatalf("the training progress is not in Chinese: %q", text)
				}
				return fmt.Sprintf("training progress %q (the models were not trained yet, so no prediction)", text)
			}
			do(t, ctx, "a prediction for a test digit",
				chromedp.Click(chromedp.CSS(sel+` [data-testid="load-digit"]`)),
				pollJS(`(document.querySelector('`+sel+` [data-testid="prediction-cnn"]').dataset.class || "") !== ""`, 15*time.Second),
			)
			name := textOf(t, ctx, sel+` [data-testid="digit-name"]`)
			if !strings.Contains(name, "测试集第 0 号数字") {
				t.Errorf("the test digit's name is not in Chinese: %q", name)
			}
			return "a prediction: the CNN says " + evalJS[string](t, ctx, `document.querySelector('`+sel+` [data-testid="prediction-cnn"]').dataset.class`)
		},
	}} {
		t.Run(c.widget, func(t *testing.T) {
			sel := fmt.Sprintf(`[data-widget=%q]`, c.widget)
			first := fmt.Sprintf(`(() => { const sel = %q; return %s; })()`, sel, c.firstFrame)
			do(t, ctx, "open /zh/lessons/"+c.slug,
				chromedp.Navigate(url+"/zh/lessons/"+c.slug),
				chromedp.WaitVisible(chromedp.CSS(sel)),
				connected(sel, 20*time.Second),
				pollJS(first, 20*time.Second),
			)
			if lang := evalJS[string](t, ctx, `document.documentElement.lang`); !strings.HasPrefix(lang, "zh") {
				t.Errorf("the Chinese page's lang is %q", lang)
			}
			// innerText is what is rendered: hidden parts are left out.
			text := evalJS[string](t, ctx, `document.querySelector('`+sel+`').innerText`)
			for _, s := range c.zh {
				if !strings.Contains(text, s) {
					t.Errorf("%q is not shown in the Chinese widget", s)
				}
			}
			for _, s := range c.en {
				if strings.Contains(text, s) {
					t.Errorf("the Chinese widget shows the English %q", s)
				}
			}
			if t.Failed() {
				t.Logf("the widget's text:\n%s", text)
			}
			t.Logf("%s streams: %s", c.widget, c.stream(t, ctx, sel))
			shots := map[string][]byte{"paramshare-zh-" + c.widget + "-widget-desktop.png": shoot(t, ctx, sel)}
			if c.widget == "param-calc" {
				shots["paramshare-zh-why-share-page-desktop.png"] = shoot(t, ctx, "")
			}
			desktop := phoneViewport(t, ctx)
			pageFits(t, ctx, sel)
			shots["paramshare-zh-"+c.widget+"-widget-phone.png"] = shoot(t, ctx, sel)
			desktop()
			saveScreenshots(t, shots)
		})
	}
}

// stepOnce presses the widget's Step button and waits for step 1 to arrive.
func stepOnce(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	do(t, ctx, "Step: step 1 arrives",
		chromedp.Click(chromedp.CSS(sel+` [data-testid="step"]`)),
		stepIs(sel, 1, 15*time.Second),
	)
	return "step 1"
}
