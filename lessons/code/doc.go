// Package code holds the code the lessons show in their "In code"
// sections: a short PyTorch script per lesson (*.py) that checks the page's
// numbers against PyTorch, and Go files whose marked regions
// ("in-code:begin NAME" … "in-code:end NAME") show the same model built
// with ParamShare's engine. The Go files are tests and the scripts are run
// by TestScripts (where PyTorch is installed), so every line a lesson shows
// has run. The lessons package embeds this directory; the site serves each
// file at /code/NAME.
package code
