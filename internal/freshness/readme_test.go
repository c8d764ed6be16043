package freshness

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drydock/drydock/internal/rebuild"
)

// TestREADMEExample parses the drydock.yaml example of docs/freshness.md (the
// "Keeping images fresh" page the README links to) and builds its executors,
// so that the documented configuration keeps working.
func TestREADMEExample(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "freshness.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "# Keeping images fresh")
	if i < 0 {
		t.Fatal("docs/freshness.md has no \"Keeping images fresh\" heading")
	}
	s = s[i:]
	start := strings.Index(s, "```yaml\n# drydock.yaml\n")
	if start < 0 {
		t.Fatal("no drydock.yaml example in docs/freshness.md")
	}
	s = s[start+len("```yaml\n"):]
	s = s[:strings.Index(s, "```")]
	cfg, err := ParseConfig([]byte(s))
	if err != nil {
		t.Fatalf("the docs/freshness.md example does not parse: %v", err)
	}
	kinds := map[string]bool{}
	r := &Reconciler{Config: cfg, Getenv: func(k string) string { return "secret-" + k },
		NewExecutor: func(kind string, c map[string]string) (rebuild.Executor, error) {
			kinds[kind] = true
			return rebuild.New(kind, c)
		}}
	if err := r.CheckExecutors(); err != nil {
		t.Fatalf("the docs/freshness.md example's executors: %v", err)
	}
	if len(kinds) != 3 {
		t.Errorf("the example uses kinds %v, want rebase, build and dispatch", kinds)
	}
	order, _ := cfg.Order()
	if cfg.Images[order[0]].Name != "runtime" {
		t.Errorf("runtime is not first in the order")
	}
}
