package data

import (
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/paramshare/paramshare/engine"
)

func TestCorpus(t *testing.T) {
	text := Corpus()
	if n := len(text); n < 5000 || n > 12000 {
		t.Fatalf("corpus is %d bytes, want 5–12 KB", n)
	}
	for i, r := range text {
		if r > unicode.MaxASCII || (r < ' ' && r != '\n') {
			t.Fatalf("character %q at %d: the corpus is printable ASCII", r, i)
		}
	}
	if !strings.Contains(text, "parameter sharing") {
		t.Fatal("corpus does not mention parameter sharing")
	}
	runes, index := CharVocab(text)
	if len(runes) < 30 || len(runes) > 80 || len(index) != len(runes) {
		t.Fatalf("vocabulary of %d characters (%d in index), want 30–80", len(runes), len(index))
	}
}

func TestCharVocab(t *testing.T) {
	runes, index := CharVocab("abcab é")
	if want := []rune{' ', 'a', 'b', 'c', 'é'}; !slices.Equal(runes, want) {
		t.Fatalf("runes %q, want %q", runes, want)
	}
	for i, r := range runes {
		if index[r] != i {
			t.Fatalf("index[%q] = %d, want %d", r, index[r], i)
		}
	}
}

func TestCharBatch(t *testing.T) {
	const text = "héllo, wörld"
	runes, index := CharVocab(text)
	x, y := CharBatch(engine.NewRand(5), text, index, 50, 4)
	if !slices.Equal(x.Shape, []int{50, 4}) || !slices.Equal(y.Shape, []int{50, 4}) {
		t.Fatalf("shapes %v %v, want [50 4]", x.Shape, y.Shape)
	}
	decode := func(ids []float64) string {
		var sb strings.Builder
		for _, id := range ids {
			sb.WriteRune(runes[int(id)])
		}
		return sb.String()
	}
	starts := map[int]bool{}
	for b := range 50 {
		xs, ys := decode(x.Data[b*4:(b+1)*4]), decode(y.Data[b*4:(b+1)*4])
		// y is x moved on by one character, and x+last(y) is a piece of text.
		window := xs + string([]rune(ys)[3])
		s := strings.Index(text, window)
		if s < 0 || string([]rune(xs)[1:]) != string([]rune(ys)[:3]) {
			t.Fatalf("row %d: x %q, y %q is not a window of %q and its next characters", b, xs, ys, text)
		}
		starts[s] = true
	}
	// 12 runes, length 4: 8 possible starts, all should occur in 50 draws,
	// including the last one (whose target ends at the final character).
	if len(starts) != 8 {
		t.Fatalf("%d distinct windows in 50 draws, want all 8", len(starts))
	}

	x2, y2 := CharBatch(engine.NewRand(5), text, index, 50, 4)
	if !slices.Equal(x.Data, x2.Data) || !slices.Equal(y.Data, y2.Data) {
		t.Fatal("same seed, different batch")
	}
	mustPanic(t, "too short", func() { CharBatch(engine.NewRand(1), "abc", index, 1, 3) })
	mustPanic(t, "unknown character", func() { CharBatch(engine.NewRand(1), "xyz!", index, 1, 2) })
}
