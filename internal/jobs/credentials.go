package jobs

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/riverqueue/river"

	"github.com/drydock/drydock/internal/image"
	"github.com/drydock/drydock/internal/registryauth"
	"github.com/drydock/drydock/internal/store"
)

// pullOptions returns base plus, when the job reads an image for a
// workload and credentials are configured, that workload's keychain, and
// where the credentials came from (for messages; never their content).
func (e *Engine) pullOptions(ctx context.Context, p *PullFrom, base []image.Option) ([]image.Option, string, error) {
	opts := append([]image.Option{}, base...)
	if p == nil || e.deps.Credentials == nil {
		return opts, "", nil
	}
	c, err := e.deps.Credentials(ctx, *p)
	if err != nil {
		return nil, "", err
	}
	return append(opts, image.WithKeychain(c.Keychain)), c.Source, nil
}

// credentialsFailed handles a workload whose credentials could not be
// read: informers not synced yet is retried; anything else (a malformed
// pull secret, an unknown cluster) is recorded on the image and final.
func (e *Engine) credentialsFailed(ctx context.Context, ref name.Reference, err error) error {
	if errors.Is(err, registryauth.ErrNotSynced) {
		return fmt.Errorf("read %s: %w", ref, err)
	}
	msg := fmt.Sprintf("cannot read the workload's pull credentials: %v", err)
	e.recordFailure(ctx, ref, msg)
	return river.JobCancel(errors.New(msg))
}

// pullDenied records that the registry refused the workload's credentials
// (401, 403 or 404): a definitive answer, not retried, shown on the image.
func (e *Engine) pullDenied(ctx context.Context, ref name.Reference, source string, err error) error {
	msg := fmt.Sprintf("the workload's pull credentials cannot read this image (%s): add an imagePullSecret for this registry to the workload or its service account; the registry answered: %v", source, err)
	e.recordFailure(ctx, ref, msg)
	e.deps.log().Warn("scan: pull credentials refused", "ref", ref.String(), "credentials", source)
	return river.JobCancel(errors.New(msg))
}

func (e *Engine) recordFailure(ctx context.Context, ref name.Reference, msg string) {
	dg, ok := ref.(name.Digest)
	if !ok {
		return
	}
	ctx = context.WithoutCancel(ctx)
	repo := dg.Context()
	if _, err := e.deps.Store.PutImage(ctx, store.Image{Digest: dg.DigestStr(), Registry: repo.RegistryStr(), Repository: repo.Name()}); err != nil {
		e.deps.log().Error("scan: record failure", "ref", ref.String(), "err", err)
		return
	}
	if err := e.deps.Store.ScanFailed(ctx, dg.DigestStr(), msg); err != nil {
		e.deps.log().Error("scan: record failure", "ref", ref.String(), "err", err)
	}
}
