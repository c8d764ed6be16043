// Package rebuild turns "this image's base was updated" into a new image:
// executors rebase layers in place, run a build command, or dispatch an
// external CI pipeline. It does not scan, sign or deploy; the caller
// orchestrates those around it.
package rebuild

import (
	"context"
	"errors"
)

// Request asks for one application image to be rebuilt on a new base.
type Request struct {
	// Name is the tracked image's name in the configuration.
	Name string
	// Target is the repository:tag the rebuilt image is pushed to
	// ("registry.example.com/team/app:1.2").
	Target string
	// Current is the digest reference of the image being replaced
	// ("registry.example.com/team/app@sha256:...").
	Current string
	// OldBase and NewBase are digest references of the base image the
	// current image was built on and the one to move to.
	OldBase string
	NewBase string
	// NewBaseTag is the base tag that moved ("registry.example.com/base/debian:12").
	NewBaseTag string
	// Env holds executor-specific settings from the configuration.
	Env map[string]string
	// ID is a stable identifier of this rebuild (for idempotency: an
	// executor that is retried with the same ID must not push twice).
	ID string
}

// Result is what an executor produced.
type Result struct {
	// Image is the digest reference of the pushed image; empty when the
	// executor only dispatched work elsewhere (Pending is then true).
	Image string
	// Tags are the tags pushed.
	Tags []string
	// Pending means the build runs elsewhere (CI dispatch) and the result
	// will arrive as a registry push of Target.
	Pending bool
	// Log is a short human-readable account.
	Log string
}

// Executor rebuilds images. Implementations: rebase, build, dispatch.
type Executor interface {
	Name() string
	Rebuild(ctx context.Context, req Request) (Result, error)
}

// ErrNotPrefix means a rebase was refused because the old base's layers are
// not a clean prefix of the image.
var ErrNotPrefix = errors.New("old base layers are not a prefix of the image")
