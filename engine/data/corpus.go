package data

import (
	_ "embed"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/paramshare/paramshare/engine"
)

// corpusText is corpus.txt: an original text about parameter sharing (about
// 7 KB of plain ASCII English) written for this project by the ParamShare
// team and dedicated to the public domain (CC0 1.0). It is ours rather than an
// excerpt of a public-domain book so that no text is presented as a source
// that it might misquote.
//
//go:embed corpus.txt
var corpusText string

// Corpus returns the embedded character corpus for character-level language
// models (see CharVocab and CharBatch): about 7 KB of plain English prose,
// ASCII only, written by the ParamShare team and released under CC0.
func Corpus() string { return corpusText }

// CharVocab returns the distinct characters of text in increasing order and
// the index of each in that slice, the token ids used by CharBatch.
func CharVocab(text string) (runes []rune, index map[rune]int) {
	seen := map[rune]bool{}
	for _, r := range text {
		if !seen[r] {
			seen[r] = true
			runes = append(runes, r)
		}
	}
	slices.Sort(runes)
	index = make(map[rune]int, len(runes))
	for i, r := range runes {
		index[r] = i
	}
	return runes, index
}

// CharBatch returns batch windows of length characters from text, each
// starting at a position drawn uniformly by rng, as token ids: x [batch,
// length] holds text[s : s+length] and y [batch, length] the next-character
// targets text[s+1 : s+length+1] (positions counted in runes). It panics
// unless batch, length ≥ 1 and text holds at least length+1 runes, or if a
// character of text is missing from index.
func CharBatch(rng *rand.Rand, text string, index map[rune]int, batch, length int) (x, y *engine.Tensor) {
	runes := []rune(text)
	if batch < 1 || length < 1 || len(runes) < length+1 {
		panic(fmt.Sprintf("data: CharBatch: batch %d, length %d from %d characters; want batch, length ≥ 1 and at least length+1 characters", batch, length, len(runes)))
	}
	ids := make([]float64, len(runes))
	for i, r := range runes {
		id, ok := index[r]
		if !ok {
			panic(fmt.Sprintf("data: CharBatch: character %q at %d is not in the vocabulary", r, i))
		}
		ids[i] = float64(id)
	}
	x = engine.NewTensor(batch, length)
	y = engine.NewTensor(batch, length)
	for b := range batch {
		s := rng.IntN(len(runes) - length)
		copy(x.Data[b*length:(b+1)*length], ids[s:s+length])
		copy(y.Data[b*length:(b+1)*length], ids[s+1:s+length+1])
	}
	return x, y
}
