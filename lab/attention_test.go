package lab

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/paramshare/paramshare/engine"
)

func TestSortBatch(t *testing.T) {
	x, y := SortBatch(engine.NewRand(3), 4, 8, 10)
	for b := range 4 {
		row, got := slices.Clone(x.Data[b*8:(b+1)*8]), y.Data[b*8:(b+1)*8]
		slices.Sort(row)
		if !slices.Equal(row, got) {
			t.Fatalf("row %d: sorted %v, got %v", b, row, got)
		}
	}
	// The same rng gives Copy's tokens: sort reads the same inputs.
	cx, _ := AttnBatch(TaskCopy, engine.NewRand(3), 4, 8, 10)
	if !slices.Equal(cx.Data, x.Data) {
		t.Error("sort's inputs differ from copy's with the same rng")
	}
}

func TestTargetAndPatternMass(t *testing.T) {
	x := []float64{3, 1, 3, 0}
	for _, c := range []struct {
		task string
		want []int
	}{{TaskCopy, []int{0, 1, 2, 3}}, {TaskReverse, []int{3, 2, 1, 0}}, {TaskSort, []int{3, 1, 0, 2}}} {
		if got := Target(c.task, x); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.task, got, c.want)
		}
	}
	L := len(x)
	uniform := make([]float64, L*L)
	for i := range uniform {
		uniform[i] = 1 / float64(L)
	}
	if m := PatternMass(TaskReverse, x, uniform); math.Abs(m-0.25) > 1e-12 {
		t.Errorf("uniform reverse mass %v, want 0.25", m)
	}
	anti := make([]float64, L*L)
	for i := range L {
		anti[i*L+L-1-i] = 1
	}
	if m := PatternMass(TaskReverse, x, anti); m != 1 {
		t.Errorf("anti-diagonal reverse mass %v, want 1", m)
	}
	if m := PatternMass(TaskCopy, x, anti); m != 0 {
		t.Errorf("anti-diagonal copy mass %v, want 0", m)
	}
	// Sort: rows 2 and 3 want a 3, held at positions 0 and 2: both count.
	if m := PatternMass(TaskSort, x, uniform); math.Abs(m-(1+1+2+2)/4.0/4) > 1e-12 {
		t.Errorf("uniform sort mass %v", m)
	}
}

func TestAttnTrainConfigValidate(t *testing.T) {
	if err := DefaultAttnTrainConfig(TaskSort).Validate(); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func(*AttnTrainConfig){
		"task": func(c *AttnTrainConfig) { c.Task = "add" }, "positions": func(c *AttnTrainConfig) { c.Positions = "rope" },
		"heads": func(c *AttnTrainConfig) { c.Heads = 5 }, "d": func(c *AttnTrainConfig) { c.D = 25 },
		"len": func(c *AttnTrainConfig) { c.Len = 17 }, "maxLen": func(c *AttnTrainConfig) { c.MaxLen, c.Len = 33, 8 },
		"blocks": func(c *AttnTrainConfig) { c.Blocks = 3 }, "lr": func(c *AttnTrainConfig) { c.LR = 0 },
		"batch": func(c *AttnTrainConfig) { c.Batch = 0 }, "clip": func(c *AttnTrainConfig) { c.Clip = -1 },
	} {
		c := DefaultAttnTrainConfig(TaskCopy)
		f(&c)
		if c.Validate() == nil {
			t.Errorf("%s: %+v accepted", name, c)
		}
	}
}

// The maps Maps returns are the engine's attention weights: rows sum to 1,
// one per block and head, and they are the maps of a second engine model
// built from the same seed (the recorder changes nothing).
func TestAttnMaps(t *testing.T) {
	c := DefaultAttnTrainConfig(TaskReverse)
	c.Blocks, c.Heads = 2, 3
	tr, err := NewAttnTrainer(c)
	if err != nil {
		t.Fatal(err)
	}
	x, _ := AttnEvalSet(TaskReverse, 1, 8, c.Vocab)
	maps, pred := tr.Maps(x)
	if len(maps) != 2 || len(maps[1]) != 3 || len(pred) != 8 {
		t.Fatalf("maps %d×%d, pred %d", len(maps), len(maps[0]), len(pred))
	}
	for b, bm := range maps {
		for h, m := range bm {
			for i := range 8 {
				var s float64
				for _, v := range m[i*8 : (i+1)*8] {
					s += v
				}
				if math.Abs(s-1) > 1e-12 {
					t.Fatalf("block %d head %d row %d sums to %v", b, h, i, s)
				}
			}
		}
	}
	m, err := engine.NewTransformer("again", c.Model(), c.Seed)
	if err != nil {
		t.Fatal(err)
	}
	rec := engine.NewRecorder(engine.RecordFilter{Internals: []string{engine.InternalAttention}})
	m.Forward(x, rec)
	vals := rec.Internals()
	if len(vals) != 6 || !slices.Equal(vals[5].Value.Data, maps[1][2]) || !slices.Equal(vals[0].Value.Data, maps[0][0]) {
		t.Fatal("maps differ from an independent engine model's")
	}
}

func TestAttentionTasksSmall(t *testing.T) {
	cfg := DefaultAttnTasksConfig()
	cfg.Seeds, cfg.Steps, cfg.Eval, cfg.Tasks, cfg.Positions, cfg.Lengths = 2, 5, 16, []string{TaskSort}, []string{"learned", "none"}, []int{8, 10}
	calls := 0
	res, err := AttentionTasks(context.Background(), cfg, func(Progress) { calls++ })
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 2 || len(res.Rows[0].Runs) != 2 || len(res.Rows[0].Accuracy) != 2 || calls != 2*2*6 {
		t.Fatalf("rows %+v, %d progress calls", res.Rows, calls)
	}
	// Learned positions add a max_len × d table: 10 × 24.
	if d := res.Row(TaskSort, "learned").Params - res.Row(TaskSort, "none").Params; d != 10*24 {
		t.Errorf("learned − none = %d parameters, want 240", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := AttentionTasks(ctx, cfg, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	cfg.Lengths = []int{10, 8}
	if _, err := AttentionTasks(context.Background(), cfg, nil); err == nil {
		t.Error("descending lengths accepted")
	}
	if len(AttnCharts(res)) != 2 {
		t.Error("want a bar chart and one length chart")
	}
}

// TestAblateAttention: every block's w_o and b_o is zeroed, and the
// model's output changes.
func TestAblateAttention(t *testing.T) {
	c := DefaultAttnTrainConfig(TaskCopy)
	c.Blocks = 2
	tr, err := NewAttnTrainer(c)
	if err != nil {
		t.Fatal(err)
	}
	x, y := AttnEvalSet(TaskCopy, 4, c.Len, c.Vocab)
	before, _ := tr.Evaluate(x, y)
	if n := tr.AblateAttention(); n != 4 {
		t.Errorf("zeroed %d parameters, want 4 (w_o and b_o of 2 blocks)", n)
	}
	for _, p := range tr.Model().Params() {
		if strings.HasSuffix(p.Name, "attn.w_o") || strings.HasSuffix(p.Name, "attn.b_o") {
			if slices.ContainsFunc(p.Value.Data, func(v float64) bool { return v != 0 }) {
				t.Errorf("%s not zeroed", p.Name)
			}
		}
	}
	if after, _ := tr.Evaluate(x, y); after == before {
		t.Errorf("loss %v before and after: the ablation changed nothing", before)
	}
}
