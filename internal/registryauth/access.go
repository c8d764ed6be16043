package registryauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// ErrDenied is wrapped by CanRead when the registry refused the
// credentials (401, 403) or answered that the manifest does not exist for
// them (404: registries such as Harbor and ACR hide private repositories
// this way). It is a definitive answer, unlike a timeout.
var ErrDenied = errors.New("registry refused the credentials")

// CanRead asks the registry for the manifest of d (one HEAD request), with
// opts (which carry the keychain). It proves the credentials can pull d.
func CanRead(ctx context.Context, d name.Digest, opts ...remote.Option) error {
	_, err := remote.Head(d, append(opts, remote.WithContext(ctx))...)
	if err == nil {
		return nil
	}
	if IsDenied(err) {
		return fmt.Errorf("%w: %w", ErrDenied, err)
	}
	return err
}

// IsDenied reports whether err is a registry's 401, 403 or 404 answer.
func IsDenied(err error) bool {
	var te *transport.Error
	if errors.As(err, &te) {
		switch te.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
			return true
		}
	}
	return false
}
