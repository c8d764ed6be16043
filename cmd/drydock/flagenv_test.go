package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

func TestParseDayDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"30d": 30 * 24 * time.Hour, "1d12h": 36 * time.Hour, "90m": 90 * time.Minute, " 0s": 0} {
		got, err := parseDayDuration(in)
		if err != nil || got != want {
			t.Errorf("parseDayDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"d", "xd", "-1d", "1dd", "5 days", ""} {
		if _, err := parseDayDuration(bad); err == nil {
			t.Errorf("parseDayDuration(%q) accepted", bad)
		}
	}
}

// execRoot runs the CLI in-process and returns its error.
func execRoot(t *testing.T, args ...string) error {
	t.Helper()
	root := newRootCommand()
	root.SetArgs(args)
	root.SetOut(&strings.Builder{})
	root.SetErr(&strings.Builder{})
	return root.ExecuteContext(context.Background())
}

func TestFlagsFromEnvironment(t *testing.T) {
	t.Setenv("DRYDOCK_DATA_DIR", t.TempDir())
	t.Setenv("DRYDOCK_CACHE_DIR", t.TempDir())
	// A value from the environment is validated like the flag's.
	t.Setenv("DRYDOCK_UNKNOWN_SEVERITY", "bogus")
	err := execRoot(t, "scan", "--fail-on", "high", "./nothing-here")
	if err == nil || !strings.Contains(err.Error(), `--unknown-severity "bogus"`) {
		t.Errorf("DRYDOCK_UNKNOWN_SEVERITY=bogus: %v; want the flag's validation error", err)
	}
	// The command line wins over the environment.
	err = execRoot(t, "scan", "--fail-on", "high", "--unknown-severity", "ignore", "./nothing-here")
	if err == nil || strings.Contains(err.Error(), "unknown-severity") {
		t.Errorf("flag over environment: %v", err)
	}
	// A value the flag cannot take names the variable.
	t.Setenv("DRYDOCK_UNKNOWN_SEVERITY", "")
	t.Setenv("DRYDOCK_MAX_DB_AGE", "soon")
	err = execRoot(t, "scan", "./nothing-here")
	if err == nil || !strings.Contains(err.Error(), "DRYDOCK_MAX_DB_AGE") {
		t.Errorf("DRYDOCK_MAX_DB_AGE=soon: %v; want an error naming the variable", err)
	}
	// Days are durations everywhere, from the environment too.
	t.Setenv("DRYDOCK_MAX_DB_AGE", "30d")
	if err := execRoot(t, "scan", "--max-db-age", "2d", "./nothing-here"); err == nil || strings.Contains(err.Error(), "max-db-age") {
		t.Errorf("--max-db-age 2d: %v", err)
	}
}

func TestEveryCommandHasExamples(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			return
		}
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%s: --help has no examples (add them to examples in examples.go)", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCommand())
}

func TestInsecureIsOneName(t *testing.T) {
	root := newRootCommand()
	serve, _, err := root.Find([]string{"admission", "serve"})
	if err != nil {
		t.Fatal(err)
	}
	if serve.Flags().Lookup("insecure") == nil || serve.Flags().Lookup("insecure-registry") == nil {
		t.Errorf("admission serve: want --insecure, with --insecure-registry still accepted")
	}
}
