// Command drydock scans container images, signs verdicts, and keeps images
// fresh. This package only turns flags into calls on internal packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes: 1 is reserved for "the gate failed" (a finding at or above
// --fail-on, a policy denial), so that CI can tell it from a broken run.
const (
	exitOK     = 0
	exitFailed = 1
	exitError  = 2
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// errGate is returned by commands whose check failed; it maps to exit 1.
type errGate struct{ msg string }

func (e *errGate) Error() string { return e.msg }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string) int {
	root := newRootCommand()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var gate *errGate
	if errors.As(err, &gate) {
		fmt.Fprintln(os.Stderr, "drydock:", gate.msg)
		return exitFailed
	}
	fmt.Fprintln(os.Stderr, "drydock:", err)
	return exitError
}

func setupLogging(level string) error {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})))
	return nil
}
