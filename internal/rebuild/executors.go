package rebuild

import (
	"fmt"
	"sort"
	"strings"

	"github.com/drydock/drydock/internal/image"
)

// executors is the one list of executor kinds. Each constructor takes the
// executor's configuration (string keys documented on each type).
var executors = map[string]func(cfg map[string]string) (Executor, error){
	"rebase":   newRebase,
	"build":    newBuild,
	"dispatch": newDispatch,
	"patch":    newPatch,
}

// Kinds lists the executor kinds, sorted.
func Kinds() []string {
	out := make([]string, 0, len(executors))
	for k := range executors {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// New makes an executor of kind ("rebase", "build", "dispatch") from its
// configuration. Image options (keychain, transport, platform) apply to the
// executors that read or push images (rebase, and build's check of the
// pushed image); they are optional. (Note: the variadic opts were added to
// the contract's New(kind, cfg) so callers can pass registry auth; calls
// without them are unchanged.)
func New(kind string, cfg map[string]string, opts ...image.Option) (Executor, error) {
	mk, ok := executors[kind]
	if !ok {
		return nil, fmt.Errorf("unknown executor %q (have %s)", kind, strings.Join(Kinds(), ", "))
	}
	x, err := mk(cfg)
	if err != nil {
		return nil, err
	}
	if s, ok := x.(interface{ setImageOptions([]image.Option) }); ok && len(opts) > 0 {
		s.setImageOptions(opts)
	}
	return x, nil
}
