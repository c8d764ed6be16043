// Package freshness keeps application images fresh: it reads the tracked
// images from drydock.yaml, plans which of them are built on an outdated base
// (transitively, in topological order), rebuilds them through the executors
// of internal/rebuild, and runs that reconcile continuously from registry
// polls and push events, recording every step in an embedded SQLite store.
package freshness

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/drydock/drydock/internal/configfile"
)

// Rebuild kinds (executor names in internal/rebuild).
const (
	KindRebase   = "rebase"
	KindBuild    = "build"
	KindDispatch = "dispatch"
	// KindPatch upgrades OS packages in place while the base has not moved.
	KindPatch = "patch"
)

// Config is drydock.yaml.
type Config struct {
	// Registries lists registries reached over plain HTTP (localhost and
	// 127.0.0.1 always are).
	Registries RegistriesConfig `json:"registries,omitempty"`
	// Platform picks the image from multi-arch bases ("linux/amd64");
	// default linux/<host arch>.
	Platform string `json:"platform,omitempty"`
	// Watch configures `drydock watch`.
	Watch WatchConfig `json:"watch,omitempty"`
	// Images are the tracked application (and intermediate base) images.
	Images []ImageConfig `json:"images"`
	// Server configures `drydock server`; internal/server reads it.
	Server json.RawMessage `json:"server,omitempty"`
}

// RegistriesConfig holds per-registry settings.
type RegistriesConfig struct {
	Insecure []string `json:"insecure,omitempty"`
}

// WatchConfig configures polling, events and debouncing.
type WatchConfig struct {
	// PollInterval between manifest HEADs of each base tag; "0s" disables
	// polling (events only). Default 5m.
	PollInterval *Duration `json:"pollInterval,omitempty"`
	// Jitter is the fraction of PollInterval each wait varies by (0..1, default 0.1).
	Jitter *float64 `json:"jitter,omitempty"`
	// MaxBackoff caps the exponential backoff after poll errors (default 30m).
	MaxBackoff *Duration `json:"maxBackoff,omitempty"`
	// Debounce is how long a base tag must stay quiet after a push before
	// the reconcile runs (default 10s).
	Debounce *Duration `json:"debounce,omitempty"`
	// Concurrency is how many independent rebuilds run at once (default 4).
	Concurrency int `json:"concurrency,omitempty"`
	// Events configures the push-event endpoint.
	Events EventsConfig `json:"events,omitempty"`
}

// EventsConfig names where the shared secret comes from. The secret itself is
// never written in the file.
type EventsConfig struct {
	// TokenEnv is the environment variable holding the shared secret that
	// registries send as "Authorization: Bearer <token>" or "?token=<token>".
	TokenEnv string `json:"tokenEnv,omitempty"`
}

// ImageConfig is one tracked image.
type ImageConfig struct {
	// Name identifies the image in logs, the store and the plan.
	Name string `json:"name"`
	// Image is the repository:tag that is rebuilt and pushed.
	Image string `json:"image"`
	// Base is the base tag the image follows.
	Base string `json:"base"`
	// Rebuild says how.
	Rebuild RebuildConfig `json:"rebuild"`
}

// RebuildConfig chooses and configures the executor.
type RebuildConfig struct {
	// Kind is rebase, build or dispatch.
	Kind string `json:"kind"`
	// With holds the executor's settings (see docs/rebuild-executors.md).
	With map[string]string `json:"with,omitempty"`
	// WithEnv adds settings read from environment variables at start:
	// key → variable name. Secrets (CI tokens) go here, never in With.
	WithEnv map[string]string `json:"withEnv,omitempty"`
}

// Duration is a time.Duration written as "90s", "5m".
type Duration struct{ time.Duration }

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration such as \"30s\" or \"5m\"")
	}
	v, err := configfile.ParseDuration(s)
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalJSON writes a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return []byte(`"` + d.String() + `"`), nil }

// Defaults applied by Validate when a field is absent.
const (
	DefaultPollInterval = 5 * time.Minute
	DefaultJitter       = 0.1
	DefaultMaxBackoff   = 30 * time.Minute
	DefaultDebounce     = 10 * time.Second
	DefaultConcurrency  = 4
)

// Compiled on first use, not at start-up: {0,127} expands into a large
// program every command would pay for.
var (
	nameRE   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{0,127}$`) })
	envVarRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`) })
)

// ErrConfig marks configuration errors.
var ErrConfig = errors.New("invalid configuration")

// LoadConfig reads and validates a configuration file.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	c, err := ParseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseConfig parses YAML strictly (unknown fields and duplicate keys are
// errors, as configfile reads every file people write for drydock) and
// validates.
func ParseConfig(b []byte) (*Config, error) {
	var c Config
	empty, err := configfile.DecodeYAML(b, &c)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if empty {
		return nil, fmt.Errorf("%w: empty file", ErrConfig)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Validate checks every field and fills defaults. Errors name the field.
func (c *Config) Validate() error {
	var errs []string
	add := func(field, format string, a ...any) {
		errs = append(errs, field+": "+fmt.Sprintf(format, a...))
	}
	w := &c.Watch
	if w.PollInterval == nil {
		w.PollInterval = &Duration{DefaultPollInterval}
	} else if w.PollInterval.Duration < 0 {
		add("watch.pollInterval", "must not be negative")
	} else if w.PollInterval.Duration > 0 && w.PollInterval.Duration < 100*time.Millisecond {
		add("watch.pollInterval", "%s is too short (at least 100ms, or 0s to disable polling)", w.PollInterval.Duration)
	}
	if w.Jitter == nil {
		j := DefaultJitter
		w.Jitter = &j
	} else if *w.Jitter < 0 || *w.Jitter > 1 {
		add("watch.jitter", "%v is outside 0..1", *w.Jitter)
	}
	if w.MaxBackoff == nil {
		w.MaxBackoff = &Duration{DefaultMaxBackoff}
	} else if w.MaxBackoff.Duration <= 0 {
		add("watch.maxBackoff", "must be positive")
	}
	if w.Debounce == nil {
		w.Debounce = &Duration{DefaultDebounce}
	} else if w.Debounce.Duration < 0 {
		add("watch.debounce", "must not be negative")
	}
	if w.Concurrency == 0 {
		w.Concurrency = DefaultConcurrency
	} else if w.Concurrency < 0 || w.Concurrency > 256 {
		add("watch.concurrency", "%d is outside 1..256", w.Concurrency)
	}
	if w.Events.TokenEnv != "" && !envVarRE().MatchString(w.Events.TokenEnv) {
		add("watch.events.tokenEnv", "%q is not an environment variable name", w.Events.TokenEnv)
	}
	for i, r := range c.Registries.Insecure {
		if r == "" || strings.ContainsAny(r, "/ ") {
			add(fmt.Sprintf("registries.insecure[%d]", i), "%q is not a registry host[:port]", r)
		}
	}
	if len(c.Images) == 0 && len(c.Server) == 0 {
		add("images", "at least one tracked image is required")
	}
	names := map[string]int{}
	targets := map[string]string{}
	for i := range c.Images {
		im := &c.Images[i]
		f := fmt.Sprintf("images[%d]", i)
		if im.Name != "" {
			f = fmt.Sprintf("images[%d] (%s)", i, im.Name)
		}
		switch {
		case im.Name == "":
			add(f+".name", "required")
		case !nameRE().MatchString(im.Name):
			add(f+".name", "%q: use letters, digits, '.', '_' and '-'", im.Name)
		default:
			if j, dup := names[im.Name]; dup {
				add(f+".name", "%q is also the name of images[%d]", im.Name, j)
			}
			names[im.Name] = i
		}
		if im.Image == "" {
			add(f+".image", "required (repository:tag that is rebuilt)")
		} else if t, err := name.NewTag(im.Image, name.StrictValidation); err != nil {
			add(f+".image", "%q is not a repository:tag: %v", im.Image, err)
		} else {
			key := t.String()
			if other, dup := targets[key]; dup {
				add(f+".image", "%s is also the image of %s", im.Image, other)
			}
			targets[key] = im.Name
		}
		if im.Base == "" {
			add(f+".base", "required (the base tag to follow)")
		} else if _, err := name.NewTag(im.Base, name.StrictValidation); err != nil {
			add(f+".base", "%q is not a repository:tag: %v", im.Base, err)
		} else if im.Base == im.Image {
			add(f+".base", "the image cannot be its own base")
		}
		switch im.Rebuild.Kind {
		case KindRebase, KindBuild, KindDispatch, KindPatch:
		case "":
			add(f+".rebuild.kind", "required: rebase, build, dispatch or patch")
		default:
			add(f+".rebuild.kind", "%q: want rebase, build, dispatch or patch", im.Rebuild.Kind)
		}
		for k, v := range im.Rebuild.WithEnv {
			if !envVarRE().MatchString(v) {
				add(f+".rebuild.withEnv."+k, "%q is not an environment variable name", v)
			}
			if _, both := im.Rebuild.With[k]; both {
				add(f+".rebuild.withEnv."+k, "also set in rebuild.with; set it in one place")
			}
		}
	}
	if len(errs) == 0 {
		if _, err := c.Order(); err != nil {
			errs = append(errs, "images: "+err.Error())
		}
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return fmt.Errorf("%w:\n  %s", ErrConfig, strings.Join(errs, "\n  "))
	}
	return nil
}

// ExecutorConfig returns the executor settings of im: With plus WithEnv
// resolved from the environment. A missing variable is an error naming it.
func (im *ImageConfig) ExecutorConfig(getenv func(string) string) (map[string]string, error) {
	cfg := make(map[string]string, len(im.Rebuild.With)+len(im.Rebuild.WithEnv))
	for k, v := range im.Rebuild.With {
		cfg[k] = v
	}
	keys := make([]string, 0, len(im.Rebuild.WithEnv))
	for k := range im.Rebuild.WithEnv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := getenv(im.Rebuild.WithEnv[k])
		if v == "" {
			return nil, fmt.Errorf("image %s: rebuild.withEnv.%s: environment variable %s is not set", im.Name, k, im.Rebuild.WithEnv[k])
		}
		cfg[k] = v
	}
	return cfg, nil
}

// EventToken returns the shared secret for the event endpoint, or "" when
// none is configured; a configured but unset variable is an error.
func (c *Config) EventToken(getenv func(string) string) (string, error) {
	if c.Watch.Events.TokenEnv == "" {
		return "", nil
	}
	v := getenv(c.Watch.Events.TokenEnv)
	if v == "" {
		return "", fmt.Errorf("watch.events.tokenEnv: environment variable %s is not set", c.Watch.Events.TokenEnv)
	}
	return v, nil
}

// NameOptions are the go-containerregistry name options for ref: plain HTTP
// for the registries listed as insecure.
func (c *Config) NameOptions(ref string) []name.Option {
	host := ref
	if i := strings.IndexByte(host, '/'); i >= 0 {
		host = host[:i]
	}
	for _, r := range c.Registries.Insecure {
		if r == host {
			return []name.Option{name.Insecure}
		}
	}
	return nil
}

// ParseTag parses a configured repository:tag.
func (c *Config) ParseTag(ref string) (name.Tag, error) {
	return name.NewTag(ref, c.NameOptions(ref)...)
}
