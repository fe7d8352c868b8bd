// Package sharingeval is the experiment of lesson 17, "Does sharing help?"
// (issue 10): controlled comparisons over seeds, run in the background.
//
// The learner asks a question — a comparison (CNN vs locally connected vs
// MLP, tied vs untied embeddings, ALBERT's sharing modes, Siamese twins vs
// two towers), a training budget and a number of seeds — and the run's one
// step is its answer: every model trained from seeds 1…n on the same data
// for the same steps (lab.Eval), with the mean, the standard deviation and
// a 95 % interval of the test measure, the train/test gap, parameters,
// training time and memory. Answers are computed once per server and kept
// in a bounded cache (flight.go): a second visitor asking the same question
// gets the answer at once.
package sharingeval

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"hash/fnv"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/paramshare/paramshare/lab"
	"github.com/paramshare/paramshare/run"
)

const name = "sharing-eval"

var fields = []run.Field{
	{Name: "comparison", Kind: run.Choice, Default: lab.EvalCNN, Choices: lab.EvalComparisons(), Desc: run.Text{
		En: "what to compare: cnn-lc-mlp (a CNN, its locally connected twin, an MLP), global-pool (the CNN, and CNNs that average each feature map over the image), rnn-unshared (one RNN cell at every step, or a cell per step), tied-untied (word model with tied or untied embeddings), albert-modes (what a 4-block transformer shares across blocks), twins-towers (one encoder for both digits of a pair, or two)",
		Zh: "比较什么：cnn-lc-mlp（卷积网络、它的局部连接孪生网络、多层感知机），global-pool（该卷积网络，以及对每张特征图做全局平均的卷积网络），rnn-unshared（每一步用同一个 RNN 单元，或每一步一个单元），tied-untied（输入输出嵌入共享或不共享的词语模型），albert-modes（4 个块的 Transformer 在块之间共享什么），twins-towers（一对数字用同一个编码器还是两个）",
	}},
	{Name: "size", Kind: run.Choice, Default: lab.EvalSmall, Choices: lab.EvalSizes(), Desc: run.Text{
		En: "the training budget: training-set size and steps, the same for every model (small is quick; large takes minutes)",
		Zh: "训练预算：训练集大小和步数，每个模型都一样；小（small）很快，大（large）要几分钟",
	}},
	{Name: "seeds", Kind: run.Int, Default: 3, Min: 1, Max: lab.MaxEvalSeeds, Desc: run.Text{
		En: "how many seeds: every model is trained from seeds 1…n (initial weights and data order)",
		Zh: "种子个数：每个模型都从种子 1…n 训练（初始权重和数据顺序）",
	}},
	{Name: "digits", Kind: run.Choice, Default: budgetDigits, Choices: digitChoices(), Desc: run.Text{
		En: "training digits for cnn-lc-mlp, apart from the steps: \"budget\" (the budget's own) or a number, trained for the budget's steps — a learning curve with matched steps; the other comparisons ignore it",
		Zh: "cnn-lc-mlp 的训练数字个数，与步数分开：“budget”（按预算）或一个数，都训练预算规定的步数——步数相同的学习曲线；其他对比忽略此项",
	}},
}

// budgetDigits is the digits field's "the budget's own".
const budgetDigits = "budget"

// digitChoices are the digits field's values: the budget's, or one of
// lab.EvalTrainSizes.
func digitChoices() []string {
	out := []string{budgetDigits}
	for _, n := range lab.EvalTrainSizes() {
		out = append(out, strconv.Itoa(n))
	}
	return out
}

// widget is the page's side: sharing-eval.js and .css.
//
//go:embed widget
var widget embed.FS

func init() {
	run.Register(run.Spec{
		Name:   name,
		Widget: run.Sub(widget, "widget"),
		Title:  run.Text{En: "Does sharing help?", Zh: "共享有帮助吗？"},
		Fields: fields,
		New:    func(v run.Values) (run.Experiment, error) { return newEval(v), nil },
		// The exports replay to step 1, which needs the answer: they take
		// it from the cache (Advance without a run: exportLimit), and the
		// page offers them only once the answer is there.
		Exports: []run.Export{
			{Format: "png", Heavy: true, Write: writeFigure("png")},
			{Format: "svg", Heavy: true, Write: writeFigure("svg")},
			{Format: "json", Heavy: true, Write: writeJSON},
			{Format: "csv", Heavy: true, Write: writeCSV},
		},
		// Measured by TestPieceBudget (process CPU, since a piece's work
		// runs on the flight's goroutine while the caller waits holding
		// its slot): a piece is ~100 ms of training, or one measurement of
		// a trained model, up to ~0.6 s for lc's 2,000 digits. A flight
		// holds one comparison's trainers (lc's 299,498 parameters with
		// Adam, 9.6 MB, and its activations for a batch of 32, ~20 MB); a
		// run holds a reference to it and the answer (≤ 12 kB).
		Budget: run.Budget{Step: 700 * time.Millisecond, Memory: 48 << 20, FrameBytes: 24 << 10, StaticBytes: 2 << 10},
		// Each piece costs the same whatever the seeds and the size (they
		// only lengthen the flight); the lc measurement is the longest
		// piece, and the cnn comparison holds the largest trainers.
		Costliest: map[string]any{"comparison": lab.EvalCNN, "seeds": 1},
	})
}

// eval is the experiment.
type eval struct {
	v   run.Values
	cfg lab.EvalConfig
	key string
	pos int
	ans *entry // the answer, at step 1

	// Background work (Attach): while the learner waits for an answer the
	// run also lends its owner's CPU to the flight through host.Compute.
	host   run.Host
	mu     sync.Mutex // guards fl, bgStop, bgDone against the background worker
	fl     *flight    // the flight this run joined, or nil
	bgStop context.CancelFunc
	bgDone chan struct{}
}

var (
	_ run.Experiment = (*eval)(nil)
	_ run.Attacher   = (*eval)(nil)
	_ run.Closer     = (*eval)(nil)
)

func newEval(v run.Values) *eval {
	e := &eval{}
	e.setParams(v)
	return e
}

func configOf(v run.Values) lab.EvalConfig {
	c := lab.EvalConfig{Comparison: v.String("comparison"), Size: v.String("size"), Seeds: v.Int("seeds")}
	// The digits are the CNN comparison's only: elsewhere the same
	// question (and cache key) whatever the field says.
	if d := v.String("digits"); c.Comparison == lab.EvalCNN && d != budgetDigits {
		c.TrainSize, _ = strconv.Atoi(d) // one of the field's choices
	}
	return c
}

// keyOf is the cache key of a question.
func keyOf(c lab.EvalConfig) string {
	b, _ := json.Marshal(c)
	return string(b)
}

func (e *eval) setParams(v run.Values) {
	e.v, e.cfg = v, configOf(v)
	e.key = keyOf(e.cfg)
}

// Attach keeps the host: the run lends its CPU to the flight it joins and
// is told when that flight moves.
func (e *eval) Attach(h run.Host) { e.host = h }

// Close stops the background work and leaves the flight.
func (e *eval) Close() { e.drop() }

// Total is 1: the step is the answer.
func (e *eval) Total() int { return 1 }

// Pos is 1 once the answer is there.
func (e *eval) Pos() int { return e.pos }

// Advance looks for the answer in the cache; if it is not there, it joins
// the question's flight (starting it if nobody asked before), runs a piece
// of it, and, on a run, starts lending the run's CPU to it in the
// background. The step is taken once the flight has landed. Without a run
// (an export's replay) it computes only a question of at most exportLimit
// seconds (joining its flight if a page is computing it): an export must
// not hold the server's download slot for minutes; a longer question is
// asked on the page.
func (e *eval) Advance() error {
	if e.pos >= 1 {
		return errors.New("sharingeval: the answer is there already")
	}
	if a, ok := answers.get(e.key); ok {
		e.land(a)
		return nil
	}
	if e.host == nil && estimate(e.cfg) > exportLimit {
		return errNotAnswered
	}
	f := e.joined()
	f.piece()
	a, err, over := f.finished()
	switch {
	case !over:
		return nil
	case err != nil:
		e.drop() // a later Advance starts a fresh flight
		return err
	}
	e.land(a)
	return nil
}

// exportLimit is the longest question (estimated seconds of one core) an
// export computes itself when the answer is not in the cache: the page's
// default question and one-seed small ones fit, nothing at the medium or
// large budget does.
const exportLimit = 20

// errNotAnswered is an export's answer for a question the server has not
// answered (or no longer keeps).
var errNotAnswered = &run.Error{Code: run.CodeStepFailed, Text: run.Text{
	En: "This question has not been answered on this server (or its answer has left the cache): run the comparison in the lesson's widget first, then download.",
	Zh: "这个问题还没有在本服务器上回答过（或答案已不在缓存中）：请先在课程的组件里运行对比，再下载。",
}}

// land takes the step with answer a, and lets the flight go.
func (e *eval) land(a *entry) {
	e.drop()
	e.ans, e.pos = a, 1
}

// joined returns the run's flight, joining the question's and starting
// the background lending the first time.
func (e *eval) joined() *flight {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.fl != nil {
		return e.fl
	}
	e.fl = join(e.key, e.cfg)
	if e.host != nil {
		e.fl.watch(e)
		ctx, cancel := context.WithCancel(context.Background())
		e.bgStop, e.bgDone = cancel, make(chan struct{})
		go e.lend(ctx, e.fl, e.bgDone)
	}
	return e.fl
}

// lend runs pieces of f through the host's Compute (each holding a slot
// of the run's owner) until f lands or ctx ends.
func (e *eval) lend(ctx context.Context, f *flight, done chan struct{}) {
	defer close(done)
	for ctx.Err() == nil {
		if _, _, over := f.finished(); over || f.ctx.Err() != nil {
			return
		}
		if e.host.Compute(ctx, f.piece) != nil {
			return
		}
	}
}

// drop stops the background lending (waiting for the piece it runs, at
// most a piece) and leaves the flight.
func (e *eval) drop() {
	e.mu.Lock()
	f, stop, done := e.fl, e.bgStop, e.bgDone
	e.fl, e.bgStop, e.bgDone = nil, nil, nil
	e.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	if f != nil {
		leave(f, e)
	}
}

// Restart forgets the answer (it stays in the cache) and stops waiting
// for one: the page's Cancel.
func (e *eval) Restart() error {
	e.drop()
	e.pos, e.ans = 0, nil
	return nil
}

// SetParams asks another question: back to step 0.
func (e *eval) SetParams(v run.Values) error {
	if v.Equal(e.v) {
		return nil
	}
	e.drop()
	e.setParams(v)
	e.pos, e.ans = 0, nil
	return nil
}

// staticPart is what changes only with the question.
type staticPart struct {
	Config lab.EvalConfig `json:"config"`
	Budget lab.EvalBudget `json:"budget"`
	Models []string       `json:"models"`
	// Params are the models' unique parameters, known before training.
	Params []int `json:"params"`
	// Estimate is about how many seconds of one core the question takes,
	// from the small budget's measured time scaled by the steps.
	Estimate float64 `json:"estimate"`
	// BytesPerParam is what the memory column counts per parameter.
	BytesPerParam int `json:"bytesPerParam"`
}

// dataPart is the question's state: in the air (with progress), cached,
// or answered (step 1).
type dataPart struct {
	// Flight is the progress of the flight answering this question, when
	// one is in the air (some run asked and has not got the answer yet).
	Flight *progress `json:"flight,omitempty"`
	// Cached is when the answer in the cache was computed, when there is
	// one (at step 0 the page can say that asking costs nothing).
	Cached string `json:"cached,omitempty"`
	// Answer is the answer at step 1, with when it was computed (UTC,
	// RFC 3339) and its bytes in the cache.
	Answer   json.RawMessage `json:"answer,omitempty"`
	Computed string          `json:"computed,omitempty"`
}

func (e *eval) Frame() run.Frame {
	// The static part changes with the question: its revision is the
	// key's hash, the same for every run asking it.
	h := fnv.New32a()
	h.Write([]byte(e.key))
	return run.Frame{StaticRev: int(h.Sum32() >> 1), Static: e.static(), Data: e.data()}
}

func (e *eval) static() staticPart {
	params, _ := lab.EvalParams(e.cfg.Comparison) // the comparison is one of lab's: no error
	return staticPart{Config: e.cfg, Budget: e.cfg.Budget(), Models: modelsOf(e.cfg.Comparison), Params: params,
		Estimate: estimate(e.cfg), BytesPerParam: lab.BytesPerParam}
}

func (e *eval) data() dataPart {
	var d dataPart
	if e.ans != nil {
		d.Answer, d.Computed = e.ans.frozen, e.ans.at.Format(time.RFC3339)
		return d
	}
	if a, ok := answers.peek(e.key); ok {
		d.Cached = a.at.Format(time.RFC3339)
		return d
	}
	if f := flightOf(e.key); f != nil {
		if _, _, over := f.finished(); !over {
			p := f.snapshot()
			d.Flight = &p
		}
	}
	return d
}

// modelsOf lists a comparison's models in the order lab reports them.
func modelsOf(comparison string) []string {
	switch comparison {
	case lab.EvalCNN:
		return append(lab.Models(), lab.ModelMLPWide)
	case lab.EvalGAP:
		return []string{"cnn", lab.ModelCNNGAP, lab.ModelCNNGAPWide}
	case lab.EvalRNN:
		return lab.UnsharedModels()
	case lab.EvalTied:
		return lab.TiedModels()
	case lab.EvalAlbert:
		return lab.AlbertShares()
	}
	return []string{"twins", "towers"}
}

// smallSeconds is each comparison's wall time per seed at the small
// budget, measured with lab.Eval on the development machine (3 or 5 seeds
// on a shared 2-core machine; docs/perf.md), for the estimate.
var smallSeconds = map[string]float64{lab.EvalCNN: 2.0, lab.EvalGAP: 14, lab.EvalRNN: 1.8, lab.EvalTied: 7.8, lab.EvalAlbert: 1.5, lab.EvalTwins: 1.9}

// estimate is about how many seconds of one core cfg takes: the small
// budget's measured time per seed, scaled by the steps and the seeds.
func estimate(cfg lab.EvalConfig) float64 {
	small := lab.EvalConfig{Comparison: cfg.Comparison, Size: lab.EvalSmall, Seeds: 1}
	s := smallSeconds[cfg.Comparison] * float64(cfg.Budget().Steps) / float64(small.Budget().Steps) * float64(cfg.Seeds)
	return math.Round(s)
}
