package data

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"

	"github.com/paramshare/paramshare/engine"
)

// WordLang is a generated word-level language for the tied-embeddings
// lesson: a small probabilistic grammar over about 1,100 invented words,
// deterministic from a fixed seed, generated once per process and shared
// read-only (WordCorpus).
//
// Why generated and not a book: the lesson can say exactly what structure
// there is to learn (and the claims tests rely on it); the text is the same
// in every process from a fixed seed, with nothing to download or pin; it
// is ours, so no third-party licence applies; and it is as small as a
// classroom server's CPU needs (about 1,100 words, 150,000 tokens) while
// keeping a real language's long tail of rare words.
// The structure is the one tying exploits (Press & Wolf 2017; Inan et al.
// 2017): words that are used alike as inputs are predicted alike as
// outputs. Every noun, verb and adjective belongs to one of Topics topics;
// a sentence keeps its topic (and usually the previous sentence's), so
// "which words may come next" is shared by every word of a topic, in both
// directions.
//
// The grammar (t is the sentence's topic, kept from the previous sentence
// with probability 0.75):
//
//	S  → NP(t) [ADV] VERB(t) NP(t₁) [PREP NP(t₂)] [CONJ NP(t) VERB(t) NP(t₁)] "."
//	NP(t) → DET [ADJ(t)] NOUN(t)
//
// where t₁ and t₂ are t with probability 0.8 and a uniform topic
// otherwise; ADV appears with probability 0.2, the PREP phrase 0.4, the
// CONJ clause 0.15, ADJ 0.4. Within its class (and topic) a word is drawn
// with Zipf's law, P(rank r) ∝ 1/r^1.1, so some words are frequent and
// many are rare, as in real text. Word forms are random syllable strings
// ("biri", a noun, "gipuge", a verb): they carry no hint of their class.
type WordLang struct {
	Words []string       // the vocabulary; token id = index
	Index map[string]int // word → id
	// Class is each word's part of speech ("noun", "verb", "adj", "adv",
	// "det", "prep", "conj", "end"); Topic its topic, −1 for the words that
	// have none.
	Class []string
	Topic []int
	Train []int // the training split, token ids
	Valid []int // the held-out split: later sentences of the same generator
	// Freq is each word's count in Train.
	Freq []int
}

// The grammar's sizes.
const (
	Topics          = 10
	nounsPerTopic   = 60
	verbsPerTopic   = 30
	adjsPerTopic    = 16
	numAdverbs      = 30
	numDeterminers  = 5
	numPrepositions = 10
	numConjunctions = 3
	// WordTrainTokens and WordValidTokens are the splits' sizes (at least;
	// each ends at a sentence end).
	WordTrainTokens = 120_000
	WordValidTokens = 30_000
	wordLangSeed    = 20170815 // fixed: every process generates the same text
	zipfExponent    = 1.1
)

var wordLang = sync.OnceValue(func() *WordLang { return generateWordLang(wordLangSeed) })

// WordCorpus returns the generated language, built on the first call and
// shared by every caller afterwards: read it, never modify it.
func WordCorpus() *WordLang { return wordLang() }

// generateWordLang builds the lexicon and the two splits from seed.
func generateWordLang(seed uint64) *WordLang {
	rng := engine.NewRand(seed)
	w := &WordLang{Index: map[string]int{}}
	add := func(class string, topic int) int {
		for {
			s := inventWord(rng)
			if _, ok := w.Index[s]; ok {
				continue
			}
			w.Index[s] = len(w.Words)
			w.Words = append(w.Words, s)
			w.Class = append(w.Class, class)
			w.Topic = append(w.Topic, topic)
			return len(w.Words) - 1
		}
	}
	group := func(class string, topic, n int) []int {
		ids := make([]int, n)
		for i := range ids {
			ids[i] = add(class, topic)
		}
		return ids
	}
	end := len(w.Words)
	w.Index["."] = end
	w.Words, w.Class, w.Topic = append(w.Words, "."), append(w.Class, "end"), append(w.Topic, -1)
	dets := group("det", -1, numDeterminers)
	preps := group("prep", -1, numPrepositions)
	conjs := group("conj", -1, numConjunctions)
	advs := group("adv", -1, numAdverbs)
	var nouns, verbs, adjs [Topics][]int
	for t := range Topics {
		nouns[t] = group("noun", t, nounsPerTopic)
		verbs[t] = group("verb", t, verbsPerTopic)
		adjs[t] = group("adj", t, adjsPerTopic)
	}
	cdf := map[int][]float64{}
	pick := func(ids []int) int {
		c, ok := cdf[len(ids)]
		if !ok {
			c = zipfCDF(len(ids))
			cdf[len(ids)] = c
		}
		r := rng.Float64()
		i, _ := slices.BinarySearch(c, r)
		return ids[min(i, len(ids)-1)]
	}
	near := func(t int) int {
		if rng.Float64() < 0.8 {
			return t
		}
		return rng.IntN(Topics)
	}
	var text []int
	np := func(t int) {
		text = append(text, pick(dets))
		if rng.Float64() < 0.4 {
			text = append(text, pick(adjs[t]))
		}
		text = append(text, pick(nouns[t]))
	}
	topic := rng.IntN(Topics)
	sentence := func() {
		if rng.Float64() >= 0.75 {
			topic = rng.IntN(Topics)
		}
		t := topic
		np(t)
		if rng.Float64() < 0.2 {
			text = append(text, pick(advs))
		}
		text = append(text, pick(verbs[t]))
		np(near(t))
		if rng.Float64() < 0.4 {
			text = append(text, pick(preps))
			np(near(t))
		}
		if rng.Float64() < 0.15 {
			text = append(text, pick(conjs))
			np(t)
			text = append(text, pick(verbs[t]))
			np(near(t))
		}
		text = append(text, end)
	}
	for len(text) < WordTrainTokens {
		sentence()
	}
	w.Train = text
	text = nil
	for len(text) < WordValidTokens {
		sentence()
	}
	w.Valid = text
	w.Freq = make([]int, len(w.Words))
	for _, k := range w.Train {
		w.Freq[k]++
	}
	return w
}

// zipfCDF is the cumulative distribution of Zipf's law over n ranks.
func zipfCDF(n int) []float64 {
	c := make([]float64, n)
	var s float64
	for r := range n {
		s += 1 / math.Pow(float64(r+1), zipfExponent)
		c[r] = s
	}
	for r := range c {
		c[r] /= s
	}
	return c
}

// inventWord returns 2 or 3 consonant-vowel syllables, sometimes closed by
// a consonant.
func inventWord(rng *rand.Rand) string {
	const cons, vows, codas = "ptkbdgmnlrsvzfh", "aeiou", "nmrsl"
	var b strings.Builder
	for range 2 + rng.IntN(2) {
		b.WriteByte(cons[rng.IntN(len(cons))])
		b.WriteByte(vows[rng.IntN(len(vows))])
	}
	if rng.IntN(3) == 0 {
		b.WriteByte(codas[rng.IntN(len(codas))])
	}
	return b.String()
}

// Types returns how many distinct words occur in the training split.
func (w *WordLang) Types() int {
	n := 0
	for _, f := range w.Freq {
		if f > 0 {
			n++
		}
	}
	return n
}

// Ranks returns the word ids in decreasing training frequency (ties by id):
// rank 0 is the most frequent word.
func (w *WordLang) Ranks() []int {
	ids := make([]int, len(w.Words))
	for i := range ids {
		ids[i] = i
	}
	slices.SortStableFunc(ids, func(a, b int) int { return w.Freq[b] - w.Freq[a] })
	return ids
}

// WordBatch returns batch windows of length tokens of text, each starting
// at a position drawn uniformly by rng: x [batch, length] holds text[s :
// s+length] and y the next tokens text[s+1 : s+length+1]. It panics unless
// batch, length ≥ 1 and text holds at least length+1 tokens.
func WordBatch(rng *rand.Rand, text []int, batch, length int) (x, y *engine.Tensor) {
	if batch < 1 || length < 1 || len(text) < length+1 {
		panic(fmt.Sprintf("data: WordBatch: batch %d, length %d from %d tokens; want batch, length ≥ 1 and at least length+1 tokens", batch, length, len(text)))
	}
	x, y = engine.NewTensor(batch, length), engine.NewTensor(batch, length)
	for b := range batch {
		fillWindow(x.Data[b*length:(b+1)*length], y.Data[b*length:(b+1)*length], text, rng.IntN(len(text)-length))
	}
	return x, y
}

// WordWindows returns n fixed windows of length tokens spread evenly over
// text (window i starts at i·(len(text)−length−1)/n): the same every call,
// for evaluation. It panics unless n, length ≥ 1 and text holds at least
// length+1 tokens.
func WordWindows(text []int, n, length int) (x, y *engine.Tensor) {
	if n < 1 || length < 1 || len(text) < length+1 {
		panic(fmt.Sprintf("data: WordWindows: %d windows of %d from %d tokens", n, length, len(text)))
	}
	x, y = engine.NewTensor(n, length), engine.NewTensor(n, length)
	span := len(text) - length - 1
	for i := range n {
		fillWindow(x.Data[i*length:(i+1)*length], y.Data[i*length:(i+1)*length], text, i*span/n)
	}
	return x, y
}

func fillWindow(x, y []float64, text []int, s int) {
	for j := range x {
		x[j], y[j] = float64(text[s+j]), float64(text[s+j+1])
	}
}
