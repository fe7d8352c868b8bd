package arch

import (
	"testing"
)

// count builds and counts a preset or fails the test.
func count(t *testing.T, name string, o Options) Table {
	t.Helper()
	m, err := Build(name, o)
	if err != nil {
		t.Fatalf("Build(%q, %+v): %v", name, o, err)
	}
	tab, err := Count(m)
	if err != nil {
		t.Fatalf("Count(%q): %v", name, err)
	}
	return tab
}

func row(t *testing.T, tab Table, layer string) Row {
	t.Helper()
	for _, r := range tab.Rows {
		if r.Layer == layer {
			return r
		}
	}
	t.Fatalf("%s has no layer %q", tab.Model, layer)
	return Row{}
}

// Every total below is derived by hand, layer by layer, in the comments
// (or is the count the source's own code reports), never printed by the
// code under test.
func TestPresetTotals(t *testing.T) {
	for _, c := range []struct {
		name string
		o    Options
		want int64
	}{
		// LeNet-5, LeCun et al. 1998 section II.B: C1 156 = 6·(25+1);
		// S2 12 = 6·2; C3 1,516 (Table I: 60 kernels of 25 + 16
		// biases); S4 32 = 16·2; C5 48,120 = 120·(16·25+1); F6 10,164 =
		// 84·(120+1); the RBF centres are fixed. Sum: the paper's
		// "60,000 trainable free parameters".
		{"lenet5", Options{}, 156 + 12 + 1516 + 32 + 48120 + 10164},
		// torchvision AlexNet:
		//  conv 3→64 k11: 64·3·121+64      =     23,296
		//  conv 64→192 k5: 192·64·25+192   =    307,392
		//  conv 192→384 k3: 384·192·9+384  =    663,936
		//  conv 384→256 k3: 256·384·9+256  =    884,992
		//  conv 256→256 k3: 256·256·9+256  =    590,080
		//  fc 9216→4096: 9216·4096+4096    = 37,752,832
		//  fc 4096→4096                    = 16,781,312
		//  fc 4096→1000: 4096·1000+1000    =  4,097,000
		//  total                             61,100,840 (torchvision's documented num_params)
		{"alexnet", Options{}, 23296 + 307392 + 663936 + 884992 + 590080 + 37752832 + 16781312 + 4097000},
		// torchvision vgg16 (cfg D), 3×3 convs with bias:
		//  3→64: 1,792; 64→64: 36,928; 64→128: 73,856; 128→128: 147,584;
		//  128→256: 295,168; 256→256 ×2: 590,080 each; 256→512: 1,180,160;
		//  512→512 ×5: 2,359,808 each                 → convs 14,714,688
		//  fc 25088→4096: 102,764,544; 4096→4096: 16,781,312;
		//  4096→1000: 4,097,000                       → fcs 123,642,856
		//  total 138,357,544 (torchvision's documented num_params)
		{"vgg16", Options{}, 1792 + 36928 + 73856 + 147584 + 295168 + 2*590080 + 1180160 + 5*2359808 + 102764544 + 16781312 + 4097000},
		// torchvision resnet18 (convs without bias, BN γ+β = 2C):
		//  conv1 3·64·49 = 9,408; bn1 128
		//  layer1: 2 blocks × (2·36,864 + 2·128)                 =   147,968
		//  layer2.0: 64·128·9 + 256 + 128·128·9 + 256 + 64·128 + 256 = 230,144
		//  layer2.1: 2·147,456 + 2·256                            =   295,424
		//  layer3.0: 294,912 + 512 + 589,824 + 512 + 32,768 + 512   =   919,040
		//  layer3.1: 2·589,824 + 2·512                            = 1,180,672
		//  layer4.0: 1,179,648 + 1,024 + 2,359,296 + 1,024 + 131,072 + 1,024 = 3,673,088
		//  layer4.1: 2·2,359,296 + 2·1,024                        = 4,720,640
		//  fc 512·1000 + 1000 = 513,000
		//  total 11,689,512 (torchvision's documented num_params)
		{"resnet18", Options{}, 9408 + 128 + 147968 + 230144 + 295424 + 919040 + 1180672 + 3673088 + 4720640 + 513000},
		// BERT-base: embeddings 30522·768 + 512·768 + 2·768 + 2·768
		//  = 23,440,896 + 393,216 + 1,536 + 1,536 = 23,837,184;
		//  one layer: attention 4·(768²+768) = 2,362,368, LN 1,536,
		//  FFN 768·3072+3072 + 3072·768+768 = 4,722,432, LN 1,536
		//  → 7,087,872; 12 layers 85,054,464; pooler 768²+768 = 590,592.
		//  108,891,648 without the pooler, 109,482,240 with
		//  (BertModel.num_parameters() of bert-base-uncased).
		{"bert-base", Options{}, 23837184 + 12*7087872},
		{"bert-base", Options{Pooler: true}, 23837184 + 12*7087872 + 590592},
		// BERT-large: embeddings 30522·1024 + 512·1024 + 2·1024 + 2·1024
		//  = 31,254,528 + 524,288 + 4,096 = 31,782,912; one layer:
		//  4·(1024²+1024) + 2·(1024·4096) + 4096 + 1024 + 2·2048
		//  = 4,198,400 + 8,393,728 + 4,096 = 12,596,224; ×24 = 302,309,376;
		//  pooler 1,049,600. 334,092,288 / 335,141,888.
		{"bert-large", Options{}, 31782912 + 24*12596224},
		{"bert-large", Options{Pooler: true}, 31782912 + 24*12596224 + 1049600},
		// ALBERT-base (E 128, vocabulary 30000): embeddings
		//  30000·128 + 512·128 + 2·128 + 2·128 = 3,906,048; projection
		//  128·768+768 = 99,072; one layer 7,087,872 (as BERT's); pooler
		//  590,592. All shared: 11,683,584 (albert-base-v2's
		//  AlbertModel.num_parameters()).
		{"albert-base", Options{Pooler: true}, 3906048 + 99072 + 7087872 + 590592},
		{"albert-base", Options{Share: "all", Pooler: true}, 3906048 + 99072 + 7087872 + 590592},
		{"albert-base", Options{Share: "none"}, 3906048 + 99072 + 12*7087872},
		// attention half = 4·(768²+768) + LN 1,536 = 2,363,904; FFN half
		// = 4,722,432 + 1,536 = 4,723,968. Shared attention: layer 0 +
		// 11 FFN halves; shared FFN: layer 0 + 11 attention halves.
		{"albert-base", Options{Share: "attention", Pooler: true}, 3906048 + 99072 + 7087872 + 11*4723968 + 590592},
		{"albert-base", Options{Share: "ffn", Pooler: true}, 3906048 + 99072 + 7087872 + 11*2363904 + 590592},
		// ALBERT-large: projection 128·1024+1024 = 132,096; layer
		//  12,596,224 (as BERT-large's); pooler 1,049,600 → 17,683,968.
		{"albert-large", Options{Pooler: true}, 3906048 + 132096 + 12596224 + 1049600},
		// ALBERT-xlarge: projection 128·2048+2048 = 264,192; layer
		//  4·(2048²+2048) + 2·2048·8192 + 8192 + 2048 + 2·4096
		//  = 16,785,408 + 33,564,672 + 8,192 = 50,358,272; pooler
		//  2048²+2048 = 4,196,352 → 58,724,864.
		{"albert-xlarge", Options{Pooler: true}, 3906048 + 264192 + 50358272 + 4196352},
		// GPT-2: wte 50257·768 = 38,597,376; wpe 1024·768 = 786,432;
		//  12 blocks × 7,087,872 = 85,054,464; ln_f 1,536; lm_head tied:
		//  124,439,808 (GPT2LMHeadModel.num_parameters()); untied adds
		//  another 38,597,376 → 163,037,184.
		{"gpt2", Options{Tie: true}, 38597376 + 786432 + 85054464 + 1536},
		{"gpt2", Options{}, 38597376 + 786432 + 85054464 + 1536 + 38597376},
	} {
		if got := count(t, c.name, c.o).Params; got != c.want {
			t.Errorf("%s %+v: %d parameters, want %d", c.name, c.o, got, c.want)
		}
	}
	// The sources' own printed counts, as literals.
	for name, want := range map[string]int64{"lenet5": 60000, "alexnet": 61100840, "vgg16": 138357544, "resnet18": 11689512, "gpt2": 124439808} {
		o, _ := DefaultOptions(name)
		if got := count(t, name, o).Params; got != want {
			t.Errorf("%s (defaults): %d, want %d", name, got, want)
		}
	}
	for name, want := range map[string]int64{"bert-base": 109482240, "bert-large": 335141888, "albert-base": 11683584} {
		o, _ := DefaultOptions(name) // with the pooler, as BertModel/AlbertModel build
		if got := count(t, name, o).Params; got != want {
			t.Errorf("%s (defaults): %d, want %d", name, got, want)
		}
	}
}

// TestLayerCounts checks single rows the brief names and LeNet-5's
// connection counts, which the paper prints for every layer.
func TestLayerCounts(t *testing.T) {
	le := count(t, "lenet5", Options{})
	for layer, want := range map[string]int64{"C1": 156, "S2": 12, "C3": 1516, "S4": 32, "C5": 48120, "F6": 10164, "output": 0} {
		if got := row(t, le, layer).Params; got != want {
			t.Errorf("LeNet-5 %s: %d parameters, want %d", layer, got, want)
		}
	}
	// The paper's connections are multiply-adds plus one bias per unit:
	// C1 122,304; S2 5,880; C3 151,600; S4 2,000; C5 48,120; F6 10,164;
	// 340,908 in all (the RBF's 840 included).
	units := map[string]int64{"C1": 6 * 28 * 28, "S2": 6 * 14 * 14, "C3": 16 * 10 * 10, "S4": 16 * 5 * 5, "C5": 120, "F6": 84, "output": 0}
	var all int64
	for layer, want := range map[string]int64{"C1": 122304, "S2": 5880, "C3": 151600, "S4": 2000, "C5": 48120, "F6": 10164, "output": 840} {
		got := row(t, le, layer).Uses + units[layer]
		if got != want {
			t.Errorf("LeNet-5 %s: %d connections, want the paper's %d", layer, got, want)
		}
		all += got
	}
	if all != 340908 {
		t.Errorf("LeNet-5: %d connections, want 340,908", all)
	}
	if got := row(t, le, "C3").Output; got != "16×10×10" {
		t.Errorf("C3 output %s", got)
	}

	// BERT-base: one encoder layer 7,087,872 (derived above).
	bb := count(t, "bert-base", Options{})
	if got := row(t, bb, "encoder.layer.5").Params; got != 7087872 {
		t.Errorf("BERT-base layer: %d, want 7,087,872", got)
	}
	// Its uses at T = 512: projections 4·512·768² = 1,207,959,552;
	// scores and weighted values 2·512²·768 = 402,653,184; FFN
	// 2·512·768·3072 = 2,415,919,104; two LayerNorms 2·512·768 = 786,432.
	if got := row(t, bb, "encoder.layer.5").Uses; got != 1207959552+402653184+2415919104+786432 {
		t.Errorf("BERT-base layer uses: %d", got)
	}
	g := count(t, "gpt2", Options{Tie: true})
	if got := row(t, g, "wte").Params; got != 38597376 {
		t.Errorf("GPT-2 wte: %d, want 50257·768 = 38,597,376", got)
	}
	head := row(t, g, "lm_head")
	// The tied head adds nothing, is used at every one of 1024
	// positions (1024·768·50257 multiply-adds) and would hold its own
	// 50257·768 matrix untied.
	if head.Params != 0 || head.SharedWith != "wte" || head.Unshared != 38597376 || head.Uses != 1024*768*50257 {
		t.Errorf("GPT-2 tied lm_head: %+v", head)
	}
	// AlexNet's first conv: 55×55 outputs; unshared it is a locally
	// connected layer with 55·55·(64·3·121) weights and 64·55·55 biases.
	ax := count(t, "alexnet", Options{})
	c1 := row(t, ax, "features.0")
	if c1.Output != "64×55×55" || c1.Unshared != 55*55*64*3*121+64*55*55 || c1.Uses != 55*55*64*3*121 {
		t.Errorf("AlexNet conv1: %+v", c1)
	}
	if got := row(t, ax, "features.12").Output; got != "256×6×6" {
		t.Errorf("AlexNet last pool: %s, want 256×6×6", got)
	}
	// ResNet-18: 224 → conv1 112 → maxpool 56 → layer4 7.
	rn := count(t, "resnet18", Options{})
	for layer, want := range map[string]string{"conv1": "64×112×112", "maxpool": "64×56×56", "layer2.0": "128×28×28", "layer4.1": "512×7×7", "avgpool": "512×1×1"} {
		if got := row(t, rn, layer).Output; got != want {
			t.Errorf("ResNet-18 %s: %s, want %s", layer, got, want)
		}
	}
	// VGG-16 uses: the standard 15.47 G multiply-adds at 224×224:
	// Σ convs H·W·Cout·Cin·9 + fcs = 15,470,264,320.
	// conv stage by stage (H·W·Cin·Cout·9):
	//  224²·9·(3·64 + 64·64)          = 1,936,392,192
	//  112²·9·(64·128 + 128·128)       = 2,774,532,096
	//  56²·9·(128·256 + 2·256·256)     = 4,624,220,160
	//  28²·9·(256·512 + 2·512·512)     = 4,624,220,160
	//  14²·9·(3·512·512)               = 1,387,266,048
	//  fcs 25088·4096 + 4096² + 4096·1000 = 123,633,664
	vg := count(t, "vgg16", Options{})
	if want := int64(1936392192 + 2774532096 + 4624220160 + 4624220160 + 1387266048 + 123633664); vg.Uses != want {
		t.Errorf("VGG-16 uses %d, want %d", vg.Uses, want)
	}
}

// TestSharingSwitches: each switch moves exactly what it should.
func TestSharingSwitches(t *testing.T) {
	tied := count(t, "gpt2", Options{Tie: true})
	untied := count(t, "gpt2", Options{})
	if d := untied.Params - tied.Params; d != 50257*768 {
		t.Errorf("untying GPT-2 adds %d, want V·d = %d", d, 50257*768)
	}
	if tied.Unshared != untied.Params || tied.Uses != untied.Uses {
		t.Errorf("tied GPT-2: unshared %d uses %d; untied params %d uses %d", tied.Unshared, tied.Uses, untied.Params, untied.Uses)
	}
	// ALBERT all-shared holds one layer's weights: layers 1..11 add 0.
	all := count(t, "albert-base", Options{Share: "all"})
	none := count(t, "albert-base", Options{Share: "none"})
	var held int64
	for _, r := range all.Rows {
		if r.SharedWith != "" {
			if r.Params != 0 {
				t.Errorf("%s is shared but adds %d", r.Layer, r.Params)
			}
			continue
		}
		if r.Type == "attention_block" || r.Type == "ffn_block" {
			held += r.Params
		}
	}
	if held != 7087872 {
		t.Errorf("all-shared ALBERT-base holds %d encoder parameters, want one layer's 7,087,872", held)
	}
	if none.Params-all.Params != 11*7087872 || all.Unshared != none.Params || none.Unshared != none.Params {
		t.Errorf("ALBERT-base: all %d/%d, none %d", all.Params, all.Unshared, none.Params)
	}
	// Uses do not depend on sharing.
	for _, s := range []string{"attention", "ffn"} {
		if tab := count(t, "albert-base", Options{Share: s}); tab.Uses != all.Uses || tab.Unshared != none.Params {
			t.Errorf("share %s: uses %d unshared %d", s, tab.Uses, tab.Unshared)
		}
	}
	// The pooler adds d² + d and d² uses.
	p := count(t, "bert-base", Options{Pooler: true})
	q := count(t, "bert-base", Options{})
	if p.Params-q.Params != 768*768+768 || p.Uses-q.Uses != 768*768 {
		t.Errorf("pooler adds %d params, %d uses", p.Params-q.Params, p.Uses-q.Uses)
	}
	// UnshareConv: params become the conv layers' unshared counts, which
	// Unshared already showed; uses stay.
	for _, name := range []string{"lenet5", "alexnet", "vgg16", "resnet18"} {
		sh := count(t, name, Options{})
		un := count(t, name, Options{UnshareConv: true})
		if un.Params != sh.Unshared || un.Unshared != sh.Unshared || un.Uses != sh.Uses {
			t.Errorf("%s: shared %d/%d/%d, unshared %d/%d/%d", name, sh.Params, sh.Unshared, sh.Uses, un.Params, un.Unshared, un.Uses)
		}
	}
	// LeNet-5's C5 sees a 5×5 input with a 5×5 kernel: one position, so
	// unsharing it changes nothing (48,120 either way); C1 becomes
	// 28·28·6·26 = 122,304.
	un := count(t, "lenet5", Options{UnshareConv: true})
	if row(t, un, "C5").Params != 48120 || row(t, un, "C1").Params != 122304 || row(t, un, "C3").Params != 151600 {
		t.Errorf("LeNet-5 unshared: C1 %d C3 %d C5 %d", row(t, un, "C1").Params, row(t, un, "C3").Params, row(t, un, "C5").Params)
	}
	// Unshared ≥ Params on every row of every preset in every mode.
	for _, pr := range Presets() {
		modes := []Options{{}}
		if d, _ := DefaultOptions(pr.Name); d != (Options{}) {
			modes = append(modes, d)
		}
		for _, o := range modes {
			tab := count(t, pr.Name, o)
			var sum Row
			for _, r := range tab.Rows {
				if r.Unshared < r.Params || r.Params < 0 || r.Uses < 0 {
					t.Errorf("%s %s: %+v", pr.Name, r.Layer, r)
				}
				sum.Params += r.Params
				sum.Uses += r.Uses
				sum.Unshared += r.Unshared
			}
			if sum.Params != tab.Params || sum.Uses != tab.Uses || sum.Unshared != tab.Unshared {
				t.Errorf("%s: totals %d/%d/%d, rows sum to %d/%d/%d", pr.Name, tab.Params, tab.Uses, tab.Unshared, sum.Params, sum.Uses, sum.Unshared)
			}
		}
	}
}

// millions rounds a count to the nearest million, as the papers print.
func millions(n int64) int64 { return (n + 500000) / 1000000 }

// TestPublishedFigures compares our counts with the rounded figures of
// Lan et al. 2019 (ALBERT), Tables 1, 3 and 4. No single rule reproduces
// all of them: the shared rows round from counts WITH the pooler, the
// not-shared rows and the BERT rows from counts WITHOUT it (and BERT's
// with ALBERT's 30,000-token vocabulary); ALBERT-xlarge's 60M matches no
// count of the released configuration (58,724,864 with the pooler). The
// test pins each figure to the variant it matches, and pins the misses,
// so that docs/counting.md's account of them stays true.
func TestPublishedFigures(t *testing.T) {
	for _, c := range []struct {
		what  string
		name  string
		o     Options
		paper int64
		match bool
	}{
		// Table 1
		{"T1 BERT-base 108M", "bert-base", Options{Vocab: 30000}, 108, true},
		{"T1 BERT-base 108M (BERT's vocabulary)", "bert-base", Options{}, 108, false}, // 108,891,648 → 109M
		{"T1 BERT-large 334M", "bert-large", Options{Vocab: 30000}, 334, true},
		{"T1 BERT-large 334M (BERT's vocabulary)", "bert-large", Options{}, 334, true},
		{"T1 ALBERT-base 12M", "albert-base", Options{Pooler: true}, 12, true},
		{"T1 ALBERT-base 12M, no pooler", "albert-base", Options{}, 12, false}, // 11,092,992 → 11M
		{"T1 ALBERT-large 18M", "albert-large", Options{Pooler: true}, 18, true},
		{"T1 ALBERT-xlarge 60M", "albert-xlarge", Options{Pooler: true}, 60, false}, // 58,724,864 → 59M
		// Table 4, E = 128
		{"T4 all-shared 12M", "albert-base", Options{Share: "all", Pooler: true}, 12, true},
		{"T4 shared-attention 64M", "albert-base", Options{Share: "attention", Pooler: true}, 64, true},
		{"T4 shared-FFN 38M", "albert-base", Options{Share: "ffn", Pooler: true}, 38, true},
		{"T4 not-shared 89M", "albert-base", Options{Share: "none"}, 89, true},
		{"T4 not-shared 89M, with pooler", "albert-base", Options{Share: "none", Pooler: true}, 89, false}, // 89,650,176 → 90M
		// Tables 3 and 4, E = 768 (no projection, as the original code)
		{"T4 E=768 all-shared 31M", "albert-base", Options{Embed: 768, Share: "all", Pooler: true}, 31, true},
		{"T4 E=768 shared-attention 83M", "albert-base", Options{Embed: 768, Share: "attention", Pooler: true}, 83, true},
		{"T4 E=768 shared-FFN 57M", "albert-base", Options{Embed: 768, Share: "ffn", Pooler: true}, 57, true},
		{"T4 E=768 not-shared 108M", "albert-base", Options{Embed: 768, Share: "none"}, 108, true},
		// Table 3, E = 64 and 256
		{"T3 E=64 all-shared 10M", "albert-base", Options{Embed: 64, Pooler: true}, 10, true},
		{"T3 E=64 not-shared 87M", "albert-base", Options{Embed: 64, Share: "none"}, 87, true},
		{"T3 E=256 all-shared 16M", "albert-base", Options{Embed: 256, Pooler: true}, 16, true},
		{"T3 E=256 not-shared 93M", "albert-base", Options{Embed: 256, Share: "none"}, 93, true},
	} {
		got := count(t, c.name, c.o).Params
		if (millions(got) == c.paper) != c.match {
			t.Errorf("%s: ours %d rounds to %dM; expected it to %s the paper's %dM", c.what, got, millions(got), map[bool]string{true: "match", false: "miss"}[c.match], c.paper)
		}
	}
}

func TestBuildRefuses(t *testing.T) {
	for _, c := range []struct {
		name string
		o    Options
	}{
		{"gpt3", Options{}},
		{"alexnet", Options{Tie: true}},
		{"bert-base", Options{Share: "all"}},
		{"gpt2", Options{Pooler: true}},
		{"albert-base", Options{Share: "half"}},
		{"bert-base", Options{SeqLen: 513}}, // longer than the 512 positions
		{"gpt2", Options{SeqLen: 1025}},
		{"bert-base", Options{SeqLen: -1}},
		{"lenet5", Options{SeqLen: 8}},
		{"albert-base", Options{Embed: -2}},
	} {
		if _, err := Build(c.name, c.o); err == nil {
			t.Errorf("Build(%q, %+v) accepted", c.name, c.o)
		}
	}
	// A shorter sequence changes uses, not parameters.
	a, b := count(t, "bert-base", Options{SeqLen: 128}), count(t, "bert-base", Options{})
	if a.Params != b.Params || a.Uses >= b.Uses || a.SeqLen != 128 || b.SeqLen != 512 {
		t.Errorf("seq 128: %d/%d, seq 512: %d/%d", a.Params, a.Uses, b.Params, b.Uses)
	}
}
