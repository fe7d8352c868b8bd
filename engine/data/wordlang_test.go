package data

import (
	"math"
	"testing"
)

func TestWordCorpusSizesAndDeterminism(t *testing.T) {
	w := WordCorpus()
	if len(w.Train) < WordTrainTokens || len(w.Valid) < WordValidTokens {
		t.Fatalf("splits %d and %d tokens", len(w.Train), len(w.Valid))
	}
	if w.Types() < 1000 || len(w.Words) < 1000 {
		t.Fatalf("%d words, %d in the training split; want ≥ 1,000", len(w.Words), w.Types())
	}
	if w.Words[w.Train[len(w.Train)-1]] != "." || w.Words[w.Valid[len(w.Valid)-1]] != "." {
		t.Error("a split does not end at a sentence end")
	}
	again := generateWordLang(wordLangSeed)
	for i, k := range again.Train {
		if w.Train[i] != k {
			t.Fatalf("token %d differs between two generations", i)
		}
	}
	// Zipf: the most frequent noun of topic 0 is much more frequent than its 60th.
	var first, last int
	n := 0
	for id, c := range w.Class {
		if c == "noun" && w.Topic[id] == 0 {
			if n == 0 {
				first = w.Freq[id]
			}
			last = w.Freq[id]
			n++
		}
	}
	if ratio := float64(first) / math.Max(1, float64(last)); ratio < 20 {
		t.Errorf("first/last noun frequency %d/%d: want a Zipf tail", first, last)
	}
	t.Logf("%d words (%d in train), %d train and %d validation tokens; noun ranks 1 and 60 of topic 0: %d and %d", len(w.Words), w.Types(), len(w.Train), len(w.Valid), first, last)
}

func TestWordWindows(t *testing.T) {
	text := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	x, y := WordWindows(text, 2, 3)
	want := []float64{0, 1, 2, 3, 4, 5} // starts 0 and 1·(10−3−1)/2 = 3
	for i, v := range want {
		if x.Data[i] != v || y.Data[i] != v+1 {
			t.Fatalf("x %v y %v", x.Data, y.Data)
		}
	}
}

// TestWordCorpusCitedWords: the words the package comment, the lesson and
// the README cite are in the vocabulary with the class they are given,
// and "nofare" is the most frequent word.
func TestWordCorpusCitedWords(t *testing.T) {
	w := WordCorpus()
	for word, class := range map[string]string{"biri": "noun", "gipuge": "verb", "nofare": "det", "tapahi": "det"} {
		k, ok := w.Index[word]
		if !ok {
			t.Errorf("%q is not a word of the corpus", word)
			continue
		}
		if w.Class[k] != class {
			t.Errorf("%q is a %s, cited as a %s", word, w.Class[k], class)
		}
	}
	if len(w.Words) != 1109 || w.Words[w.Ranks()[0]] != "nofare" {
		t.Errorf("%d words, the most frequent %q; the lesson says 1,109 and nofare", len(w.Words), w.Words[w.Ranks()[0]])
	}
}
