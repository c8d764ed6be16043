package freshness

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const chainYAML = `
watch:
  pollInterval: 30s
  debounce: 2s
  events:
    tokenEnv: DRYDOCK_WEBHOOK_TOKEN
images:
  - name: app
    image: reg.example.com/team/app:1
    base: reg.example.com/base/runtime:3
    rebuild:
      kind: build
      with:
        context: ./app
  - name: runtime
    image: reg.example.com/base/runtime:3
    base: reg.example.com/base/os:12
    rebuild:
      kind: rebase
  - name: other
    image: reg.example.com/team/other:1
    base: reg.example.com/base/os:12
    rebuild:
      kind: dispatch
      with:
        url: https://ci.example.com/hooks/build
      withEnv:
        token: CI_TOKEN
`

func TestParseConfigChain(t *testing.T) {
	c, err := ParseConfig([]byte(chainYAML))
	if err != nil {
		t.Fatal(err)
	}
	if c.Watch.PollInterval.Duration != 30*time.Second || c.Watch.Debounce.Duration != 2*time.Second {
		t.Errorf("durations: %v %v", c.Watch.PollInterval, c.Watch.Debounce)
	}
	if c.Watch.Concurrency != DefaultConcurrency || *c.Watch.Jitter != DefaultJitter || c.Watch.MaxBackoff.Duration != DefaultMaxBackoff {
		t.Errorf("defaults not filled: %+v", c.Watch)
	}
	order, err := c.Order()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, i := range order {
		names = append(names, c.Images[i].Name)
	}
	// runtime before app (app is built on runtime); other is independent.
	if got := strings.Join(names, ","); got != "runtime,other,app" {
		t.Errorf("order = %s, want runtime,other,app", got)
	}
	var affected []string
	for _, i := range c.Affected("reg.example.com/base/os:12") {
		affected = append(affected, c.Images[i].Name)
	}
	if got := strings.Join(affected, ","); got != "runtime,other,app" {
		t.Errorf("affected by os:12 = %s, want runtime,other,app (app transitively)", got)
	}
	affected = nil
	for _, i := range c.Affected("reg.example.com/base/runtime:3") {
		affected = append(affected, c.Images[i].Name)
	}
	if got := strings.Join(affected, ","); got != "app" {
		t.Errorf("affected by runtime:3 = %s, want app", got)
	}
	if d := c.Depth(c.indexOf("app")); d != 1 {
		t.Errorf("depth(app) = %d, want 1", d)
	}
	if got := c.BaseTags(); len(got) != 2 {
		t.Errorf("base tags = %v, want runtime:3 and os:12", got)
	}

	_, err = c.EventToken(func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), "DRYDOCK_WEBHOOK_TOKEN") {
		t.Errorf("unset token variable: err = %v, want one naming DRYDOCK_WEBHOOK_TOKEN", err)
	}
	tok, _ := c.EventToken(func(k string) string { return map[string]string{"DRYDOCK_WEBHOOK_TOKEN": "s3cret"}[k] })
	if tok != "s3cret" {
		t.Errorf("token = %q", tok)
	}
	other := &c.Images[c.indexOf("other")]
	if _, err := other.ExecutorConfig(func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "CI_TOKEN") {
		t.Errorf("missing CI_TOKEN: err = %v", err)
	}
	cfg, err := other.ExecutorConfig(func(k string) string { return "tok-" + k })
	if err != nil || cfg["token"] != "tok-CI_TOKEN" || cfg["url"] == "" {
		t.Errorf("executor config = %v, %v", cfg, err)
	}
}

func (c *Config) indexOf(n string) int {
	for i, im := range c.Images {
		if im.Name == n {
			return i
		}
	}
	return -1
}

func TestParseConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"empty", "", []string{"empty file"}},
		{"unknown field", "images: []\nimagez: 1\n", []string{"imagez"}},
		{"typo in image", "images:\n- name: a\n  imag: r.io/a:1\n", []string{"imag"}},
		{"no images", "watch: {}\n", []string{"images: at least one"}},
		{"missing fields", "images:\n- name: a\n", []string{"images[0] (a).image: required", "images[0] (a).base: required", "images[0] (a).rebuild.kind: required"}},
		{"bad kind", "images:\n- {name: a, image: r.io/a:1, base: r.io/b:1, rebuild: {kind: docker}}\n", []string{"rebuild.kind: \"docker\""}},
		{"no tag", "images:\n- {name: a, image: r.io/a, base: r.io/b:1, rebuild: {kind: rebase}}\n", []string{"images[0] (a).image"}},
		{"bad duration", "watch: {pollInterval: soon}\nimages:\n- {name: a, image: r.io/a:1, base: r.io/b:1, rebuild: {kind: rebase}}\n", []string{"duration"}},
		{"bad jitter", "watch: {jitter: 2}\nimages:\n- {name: a, image: r.io/a:1, base: r.io/b:1, rebuild: {kind: rebase}}\n", []string{"watch.jitter"}},
		{"bad env name", "watch: {events: {tokenEnv: 'not a var'}}\nimages:\n- {name: a, image: r.io/a:1, base: r.io/b:1, rebuild: {kind: rebase}}\n", []string{"watch.events.tokenEnv"}},
		{"duplicate", "images:\n- {name: a, image: r.io/a:1, base: r.io/b:1, rebuild: {kind: rebase}}\n- {name: a, image: r.io/a:1, base: r.io/b:1, rebuild: {kind: rebase}}\n", []string{"also the name", "also the image"}},
		{"cycle", "images:\n- {name: a, image: r.io/a:1, base: r.io/b:1, rebuild: {kind: rebase}}\n- {name: b, image: r.io/b:1, base: r.io/a:1, rebuild: {kind: rebase}}\n", []string{"cycle among a, b"}},
		{"self", "images:\n- {name: a, image: r.io/a:1, base: r.io/a:1, rebuild: {kind: rebase}}\n", []string{"its own base"}},
		{"secret twice", "images:\n- {name: a, image: r.io/a:1, base: r.io/b:1, rebuild: {kind: dispatch, with: {token: x}, withEnv: {token: T}}}\n", []string{"withEnv.token: also set"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tc.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrConfig) {
				t.Errorf("error %v is not ErrConfig", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}
