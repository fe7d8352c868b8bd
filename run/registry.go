package run

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"sync"
)

// Factory builds an experiment from its starting parameters (a JSON object;
// empty or null means the defaults). Invalid parameters are an *Error with
// CodeBadParams.
type Factory func(params json.RawMessage) (Experiment, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]Factory{}
)

// Register makes an experiment available by name. It panics if the name is
// empty or already taken: registrations happen in init functions, and a
// clash is a programmer's mistake.
func Register(name string, f Factory) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if name == "" || f == nil {
		panic("run: Register needs a name and a factory")
	}
	if _, dup := registry[name]; dup {
		panic(fmt.Sprintf("run: experiment %q registered twice", name))
	}
	registry[name] = f
}

// Experiments lists the registered names in order.
func Experiments() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Start builds the named experiment from params and returns a paused run of
// it. Unknown names are an *Error with CodeUnknownExperiment.
func Start(name string, params json.RawMessage) (*Run, error) {
	registryMu.RLock()
	f, ok := registry[name]
	registryMu.RUnlock()
	if !ok {
		return nil, errorf(CodeUnknownExperiment, "no experiment named %q (have %v)", name, Experiments())
	}
	exp, err := f(slices.Clip(params))
	if err != nil {
		return nil, err
	}
	return New(exp), nil
}
