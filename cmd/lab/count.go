package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/paramshare/paramshare/engine/arch"
)

func init() {
	experiments = append(experiments, experiment{
		"count",
		"count a real model layer by layer: parameters (each shared tensor once), uses (multiply-adds per example), unshared; presets or -config FILE; -model list",
		setupCount,
	})
}

// setupCount adds the count command's flags. A switch left unset takes
// the preset's own value (GPT-2 tied, BERT/ALBERT with the pooler, ALBERT
// all-shared), so that -model gpt2 prints the model as its source has it.
func setupCount(fs *flag.FlagSet) func(context.Context, output) error {
	model := fs.String("model", "", "a preset `name` (-model list lists them)")
	config := fs.String("config", "", "count the model in this JSON `file` instead (see docs/counting.md)")
	share := fs.String("share", "", "ALBERT's cross-layer sharing: all, attention, ffn or none (default all)")
	tie := fs.Bool("tie", false, "GPT-2: the LM head uses the token embedding's matrix (default true for gpt2; -tie=false unties)")
	pooler := fs.Bool("pooler", false, "BERT/ALBERT: add the pooler (default true, as BertModel and AlbertModel build; -pooler=false drops it)")
	unshare := fs.Bool("unshare-conv", false, "CNNs: every conv as a locally connected layer")
	seq := fs.Int("seq", 0, "sequence length the uses are counted at (default 512 for BERT/ALBERT, 1024 for GPT-2)")
	vocab := fs.Int("vocab", 0, "vocabulary size (default the source's: 30522 BERT, 30000 ALBERT, 50257 GPT-2)")
	embed := fs.Int("embed", 0, "ALBERT's embedding size E (default 128; E = d drops the projection, as the original ALBERT code does)")
	return func(ctx context.Context, o output) error {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if o.dir != "" {
			return usageError{fmt.Errorf("lab count: -out: count draws no charts (lesson 16's page draws its bars; -json gives the numbers)")}
		}
		if *model == "list" {
			return countPresets(o)
		}
		var m arch.Model
		switch {
		case *config != "" && *model != "":
			return usageError{fmt.Errorf("lab count: give -model or -config, not both")}
		case *config != "":
			for _, f := range []string{"share", "tie", "pooler", "unshare-conv", "seq", "vocab", "embed"} {
				if set[f] {
					return usageError{fmt.Errorf("lab count: -%s applies to a preset, not to -config (write it into the config)", f)}
				}
			}
			data, err := readLimited(*config, arch.MaxConfigBytes)
			if err != nil {
				return usageError{fmt.Errorf("lab count: -config: %w", err)}
			}
			if m, err = arch.ParseConfig(data); err != nil {
				return usageError{fmt.Errorf("lab count: %s: %w", *config, err)}
			}
		case *model == "":
			return usageError{fmt.Errorf("lab count: give -model NAME (-model list lists them) or -config FILE")}
		default:
			opt, err := arch.DefaultOptions(*model)
			if err != nil {
				return usageError{fmt.Errorf("lab count: %w", err)}
			}
			if set["share"] {
				opt.Share = *share
			}
			if set["tie"] {
				opt.Tie = *tie
			}
			if set["pooler"] {
				opt.Pooler = *pooler
			}
			if set["unshare-conv"] {
				opt.UnshareConv = *unshare
			}
			if set["seq"] {
				if *seq < 1 {
					return usageError{fmt.Errorf("lab count: -seq %d, want a length ≥ 1", *seq)}
				}
				opt.SeqLen = *seq
			}
			if set["vocab"] {
				if *vocab < 1 {
					return usageError{fmt.Errorf("lab count: -vocab %d, want a size ≥ 1", *vocab)}
				}
				opt.Vocab = *vocab
			}
			if set["embed"] {
				if *embed < 1 {
					return usageError{fmt.Errorf("lab count: -embed %d, want a size ≥ 1", *embed)}
				}
				opt.Embed = *embed
			}
			if m, err = arch.Build(*model, opt); err != nil {
				return usageError{fmt.Errorf("lab count: %w", err)}
			}
		}
		t, err := arch.Count(m)
		if err != nil {
			return usageError{fmt.Errorf("lab count: %w", err)}
		}
		if o.json {
			return writeJSON(o.stdout, t)
		}
		return countTable(o.stdout, t)
	}
}

// readLimited reads a file of at most limit bytes.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return data, nil
}

func countPresets(o output) error {
	ps := arch.Presets()
	if o.json {
		return writeJSON(o.stdout, ps)
	}
	tw := tabwriter.NewWriter(o.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "preset\ttitle\tswitches\tsource")
	for _, p := range ps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Name, p.Title, strings.Join(p.Options, ","), p.Source)
	}
	return tw.Flush()
}

func countTable(w io.Writer, t arch.Table) error {
	fmt.Fprintf(w, "%s", t.Model)
	if t.SeqLen > 0 {
		fmt.Fprintf(w, " — uses per example of %d tokens", t.SeqLen)
	} else if len(t.Input) > 0 {
		s := make([]string, len(t.Input))
		for i, v := range t.Input {
			s[i] = fmt.Sprint(v)
		}
		fmt.Fprintf(w, " — uses per example of %s", strings.Join(s, "×"))
	}
	fmt.Fprintln(w)
	if t.Source != "" {
		fmt.Fprintf(w, "source: %s\n", t.Source)
	}
	fmt.Fprintf(w, "counted: %s\n\n", t.Rule)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "layer\ttype\toutput\tparams\tuses\tunshared\tshared with\t")
	for _, r := range t.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Layer, r.Type, r.Output, thousands64(r.Params), thousands64(r.Uses), thousands64(r.Unshared), r.SharedWith)
	}
	fmt.Fprintf(tw, "total\t\t\t%s\t%s\t%s\t\t\n", thousands64(t.Params), thousands64(t.Uses), thousands64(t.Unshared))
	return tw.Flush()
}

// thousands64 is thousands for the counts, which pass 2³¹.
func thousands64(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands64(-n)
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}
