package modelcount

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/paramshare/paramshare/engine/arch"
)

// The lesson's texts, both languages.
var lessonFiles = []string{"../../lessons/en/count-a-real-model.md", "../../lessons/zh/count-a-real-model.md"}

// commas writes n as the lesson does: 109,482,240.
func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// lessonPicture is the page's picture for the widget's defaults with changes.
func lessonPicture(t *testing.T, changes map[string]any) staticPart {
	t.Helper()
	s, err := picture(values(changes))
	if err != nil {
		t.Fatalf("%v: %v", changes, err)
	}
	return s
}

func rowOf(t *testing.T, s staticPart, layer string) arch.Row {
	t.Helper()
	for _, r := range s.Rows {
		if r.Layer == layer {
			return r
		}
	}
	t.Fatalf("%s has no layer %q", s.Model.Name, layer)
	return arch.Row{}
}

func itemOf(t *testing.T, s staticPart, name string) item {
	t.Helper()
	for _, it := range s.Items {
		if it.Name == name {
			return it
		}
	}
	t.Fatalf("%s has no item %q", s.Model.Name, name)
	return item{}
}

// TestLessonNumbers: every number the lesson's prose states (en and zh)
// is what the widget shows for the setting the prose names — a total, a
// row, a Δ between two settings, a ratio — computed here from the
// counter; and every grouped number in the prose (1,234 and up) is one of
// these, so that no number is left unchecked.
func TestLessonNumbers(t *testing.T) {
	type P = map[string]any
	bert := lessonPicture(t, P{fieldPreset: "bert-base"})
	bertNoPool := lessonPicture(t, P{fieldPreset: "bert-base", fieldPooler: false})
	bert128 := lessonPicture(t, P{fieldPreset: "bert-base", fieldSeq: "128"})
	gpt := lessonPicture(t, P{fieldPreset: "gpt2"})
	gptUntied := lessonPicture(t, P{fieldPreset: "gpt2", fieldTie: false})
	albert := lessonPicture(t, P{fieldPreset: "albert-base"})
	albertNone := lessonPicture(t, P{fieldPreset: "albert-base", fieldShare: "none"})
	albertAttn := lessonPicture(t, P{fieldPreset: "albert-base", fieldShare: "attention"})
	albertFFN := lessonPicture(t, P{fieldPreset: "albert-base", fieldShare: "ffn"})
	albertNoneNoPool := lessonPicture(t, P{fieldPreset: "albert-base", fieldShare: "none", fieldPooler: false})
	albert768 := lessonPicture(t, P{fieldPreset: "albert-base", fieldEmbed: "768"})
	albert768None := lessonPicture(t, P{fieldPreset: "albert-base", fieldEmbed: "768", fieldShare: "none"})
	albert768NoneNoPool := lessonPicture(t, P{fieldPreset: "albert-base", fieldEmbed: "768", fieldShare: "none", fieldPooler: false})
	large := lessonPicture(t, P{fieldPreset: "albert-large"})
	xlarge := lessonPicture(t, P{fieldPreset: "albert-xlarge"})
	xlargeNone := lessonPicture(t, P{fieldPreset: "albert-xlarge", fieldShare: "none"})
	lenet := lessonPicture(t, P{fieldPreset: "lenet5"})
	lenetUn := lessonPicture(t, P{fieldPreset: "lenet5", fieldUnshare: true})
	resnet := lessonPicture(t, P{fieldPreset: "resnet18"})
	resnetUn := lessonPicture(t, P{fieldPreset: "resnet18", fieldUnshare: true})
	vgg := lessonPicture(t, P{fieldPreset: "vgg16"})
	alex := lessonPicture(t, P{fieldPreset: "alexnet"})

	// Relations the prose states in words.
	for _, c := range []struct {
		what string
		ok   bool
	}{
		{"BERT shares nothing: parameters = unshared", bert.Total.Params == bert.Total.Unshared},
		{"untying GPT-2 leaves the uses", gpt.Total.Uses == gptUntied.Total.Uses},
		{"the tied GPT-2's unshared count is the untied model", gpt.Total.Unshared == gptUntied.Total.Params},
		{"lm_head of the tied GPT-2 adds 0 and shares wte", rowOf(t, gpt, "lm_head").Params == 0 && rowOf(t, gpt, "lm_head").SharedWith == "wte"},
		{"untying adds 31 %", fmt.Sprintf("%.0f", 100*float64(gptUntied.Total.Params-gpt.Total.Params)/float64(gpt.Total.Params)) == "31"},
		{"ALBERT's modes do the same uses", albert.Total.Uses == albertNone.Total.Uses && albert.Total.Uses == albertAttn.Total.Uses && albert.Total.Uses == albertFFN.Total.Uses},
		{"ALBERT-base does more multiply-adds than BERT-base", albert.Total.Uses > bert.Total.Uses},
		{"ALBERT's unshared count is the not-shared model", albert.Total.Unshared == albertNone.Total.Params},
		{"the feed-forward part holds about twice the attention", fmt.Sprintf("%.1f", float64(rowOf(t, albert, "encoder.layer.0.ffn").Params)/float64(rowOf(t, albert, "encoder.layer.0.attention").Params)) == "2.0"},
		{"factorisation saves the same in every mode", albert768.Total.Params-albert.Total.Params == albert768None.Total.Params-albertNone.Total.Params},
		{"sharing saves the same at either E", albertNone.Total.Params-albert.Total.Params == albert768None.Total.Params-albert768.Total.Params},
		{"xlarge: none − all = 23 layers", xlargeNone.Total.Params-xlarge.Total.Params == 23*itemOf(t, xlarge, "encoder.layer.0").Params},
		{"unsharing LeNet's convolutions leaves the uses", lenet.Total.Uses == lenetUn.Total.Uses},
		{"unsharing ResNet-18's convolutions leaves the uses", resnet.Total.Uses == resnetUn.Total.Uses},
		{"LeNet unshared: every bar at its unshared length", func() bool {
			for _, b := range lenetUn.Bars {
				if b.Params != b.Unshared {
					return false
				}
			}
			return true
		}()},
		{"LeNet's C3: 60 kernels of 5×5 and 16 biases", rowOf(t, lenet, "C3").Params == 60*25+16},
		{"LeNet's S2 and S4: a coefficient and a bias per map", rowOf(t, lenet, "S2").Params == 12 && rowOf(t, lenet, "S4").Params == 32},
		{"LeNet's C1: 156 parameters", rowOf(t, lenet, "C1").Params == 156},
		{"LeNet's RBF output holds nothing", rowOf(t, lenet, "output").Params == 0},
		{"BERT counts uses at 512 tokens, GPT-2 at 1024", bert.Model.SeqLen == 512 && gpt.Model.SeqLen == 1024},
		{"BERT-base at 128 tokens: same parameters, under a quarter of the uses", bert128.Total.Params == bert.Total.Params && 4*bert128.Total.Uses < bert.Total.Uses},
	} {
		if !c.ok {
			t.Errorf("lesson claim fails: %s", c.what)
		}
	}

	ratio := func(s staticPart) string {
		return strconv.FormatFloat(float64(s.Total.Unshared)/float64(s.Total.Params), 'f', 0, 64) + "×"
	}
	conv1 := rowOf(t, resnet, "conv1")
	// Every grouped number of the prose, with where it comes from.
	stated := map[string]string{
		commas(bert.Total.Params):                                              "BERT-base's total",
		commas(rowOf(t, bert, "embeddings.word_embeddings").Params):            "BERT-base's word embeddings",
		commas(rowOf(t, bert, "embeddings.word_embeddings").Params / 768):      "BERT's vocabulary (word embeddings / d 768)",
		commas(rowOf(t, bert, "encoder.layer.0").Params):                       "a BERT-base layer",
		commas(rowOf(t, bert, "pooler").Params):                                "BERT-base's pooler",
		commas(bertNoPool.Total.Params):                                        "BERT-base without the pooler",
		commas(bert.Total.Uses):                                                "BERT-base's uses at 512 tokens",
		commas(bert128.Total.Uses):                                             "BERT-base's uses at 128 tokens",
		commas(gpt.Total.Params):                                               "GPT-2 tied",
		commas(gptUntied.Total.Params):                                         "GPT-2 untied",
		commas(gptUntied.Total.Params - gpt.Total.Params):                      "untying's Δ",
		commas(rowOf(t, gpt, "wte").Params / 768):                              "GPT-2's vocabulary (wte / d 768)",
		commas(gpt.Total.Uses):                                                 "GPT-2's uses",
		commas(int64(gpt.Model.SeqLen)):                                        "GPT-2's sequence",
		commas(rowOf(t, gpt, "lm_head").Uses):                                  "GPT-2's output layer's uses",
		commas(albert.Total.Params):                                            "ALBERT-base",
		commas(albertNone.Total.Params):                                        "ALBERT-base, nothing shared",
		commas(albertNone.Total.Params - albert.Total.Params):                  "Δ all → none",
		commas(albertAttn.Total.Params):                                        "ALBERT-base, attention shared",
		commas(albertFFN.Total.Params):                                         "ALBERT-base, feed-forward shared",
		commas(rowOf(t, albert, "encoder.layer.0.ffn").Params):                 "ALBERT's feed-forward part",
		commas(rowOf(t, albert, "encoder.layer.0.attention").Params):           "ALBERT's attention part",
		commas(albertNoneNoPool.Total.Params):                                  "ALBERT-base, nothing shared, no pooler",
		commas(rowOf(t, albert, "embeddings.word_embeddings").Params):          "ALBERT's word embeddings at E 128",
		commas(rowOf(t, albert, "embeddings.word_embeddings").Params / 128):    "ALBERT's vocabulary (word embeddings / E 128)",
		commas(rowOf(t, albert, "encoder.embedding_hidden_mapping_in").Params): "ALBERT's projection",
		commas(albert768.Total.Params):                                         "ALBERT-base at E 768",
		commas(rowOf(t, albert768, "embeddings.word_embeddings").Params):       "ALBERT's word embeddings at E 768",
		commas(albert768.Total.Params - albert.Total.Params):                   "Δ E 128 → 768",
		commas(albert768NoneNoPool.Total.Params):                               "ALBERT-base at E 768, nothing shared, no pooler",
		commas(large.Total.Params):                                             "ALBERT-large",
		commas(xlarge.Total.Params):                                            "ALBERT-xlarge",
		commas(itemOf(t, xlarge, "encoder.layer.0").Params):                    "an ALBERT-xlarge layer",
		commas(albert.Total.Uses):                                              "ALBERT-base's uses",
		commas(rowOf(t, albert, "encoder.embedding_hidden_mapping_in").Uses):   "the projection's uses",
		commas(lenet.Total.Params):                                             "LeNet-5",
		commas(rowOf(t, lenet, "C1").Uses):                                     "C1's uses",
		commas(rowOf(t, lenet, "C1").Unshared):                                 "C1 unshared",
		commas(rowOf(t, lenet, "C3").Params):                                   "C3",
		commas(rowOf(t, lenet, "C5").Params):                                   "C5",
		commas(rowOf(t, lenet, "F6").Params):                                   "F6",
		commas(lenetUn.Total.Params):                                           "LeNet-5 unshared",
		commas(resnet.Total.Params):                                            "ResNet-18",
		commas(resnet.Total.Uses):                                              "ResNet-18's uses",
		commas(conv1.Params):                                                   "ResNet-18's conv1",
		commas(conv1.Uses):                                                     "conv1's uses",
		commas(conv1.Uses / conv1.Params):                                      "uses per conv1 weight (no bias)",
		commas(resnet.Total.Unshared):                                          "ResNet-18 unshared",
		commas(vgg.Total.Params):                                               "VGG-16",
		commas(vgg.Total.Unshared):                                             "VGG-16 unshared",
		commas(alex.Total.Params):                                              "AlexNet",
		commas(alex.Total.Unshared):                                            "AlexNet unshared",
	}
	if conv1.Uses%conv1.Params != 0 {
		t.Errorf("conv1: %d uses are not a whole number of uses per weight of %d", conv1.Uses, conv1.Params)
	}
	ratios := []string{ratio(resnet), ratio(vgg)}
	grouped := regexp.MustCompile(`\d{1,3}(?:,\d{3})+`)
	for _, file := range lessonFiles {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		// The references cite issue numbers and pages, not counts.
		if i := strings.Index(text, "\n## References"); i >= 0 {
			text = text[:i]
		} else if i := strings.Index(text, "\n## 参考文献"); i >= 0 {
			text = text[:i]
		}
		for n, what := range stated {
			if !strings.Contains(text, n) {
				t.Errorf("%s does not state %s (%s)", file, n, what)
			}
		}
		for _, r := range ratios {
			if !strings.Contains(text, r) {
				t.Errorf("%s does not state the ratio %s", file, r)
			}
		}
		for _, n := range grouped.FindAllString(text, -1) {
			if _, ok := stated[n]; !ok {
				t.Errorf("%s states %s, which no claim checks", file, n)
			}
		}
	}
}
