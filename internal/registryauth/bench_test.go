package registryauth

import (
	"context"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
)

// BenchmarkCredentials is the per-review cost of a workload's credentials:
// listers, keychain and identity.
func BenchmarkCredentials(b *testing.B) {
	k := startKube(b)
	id := NewIdentity()
	repo, _ := name.NewRepository("reg.test/app")
	w := Workload{Namespace: "a", PullSecrets: []string{"regcred"}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c, err := k.Credentials(ctx, w)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := id.Of(ctx, c.Keychain, repo); err != nil {
			b.Fatal(err)
		}
	}
}
