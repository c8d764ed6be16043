package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/spf13/cobra"

	"github.com/drydock/drydock/internal/attest"
	"github.com/drydock/drydock/internal/dbdist"
	"github.com/drydock/drydock/internal/image"
)

// withDBOCI adds db push and db pull, and "db update --from oci://REF", to
// the db command (kept apart from db.go, which other work changes).
func withDBOCI(g *globals, db *cobra.Command) *cobra.Command {
	db.AddCommand(newDBPushCommand(g), newDBPullCommand(g))
	for _, c := range db.Commands() {
		if c.Name() != "update" {
			continue
		}
		var from string
		var keys []string
		var insecure bool
		c.Flags().StringVar(&from, "from", "", "oci://REF: pull a signed database from a registry instead of the OSV exports (needs --key)")
		c.Flags().StringArrayVar(&keys, "key", nil, "with --from: trusted public key of the database signer (PEM; repeatable)")
		c.Flags().BoolVar(&insecure, "insecure-registry", false, "with --from: allow a plain-HTTP registry")
		c.Example = strings.TrimSpace(c.Example + "\n  # From the cluster's own registry (air-gapped)\n  drydock db update --from oci://registry.example.com/security/vulndb:latest --key db.pub")
		run := c.RunE
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if from == "" {
				return run(cmd, args)
			}
			ref, ok := strings.CutPrefix(from, "oci://")
			if !ok {
				return fmt.Errorf("--from %q: want oci://REGISTRY/REPOSITORY:TAG", from)
			}
			return runDBPull(cmd, g, ref, keys, insecure)
		}
	}
	return db
}

func newDBPushCommand(g *globals) *cobra.Command {
	var (
		keyPath  string
		insecure bool
	)
	cmd := &cobra.Command{
		Use:   "push REF",
		Short: "Publish the vulnerability database to an OCI registry, signed",
		Long: `Publish the current vulnerability database as a signed OCI artifact at REF (a tag),
for clusters that reach their own registry but not the internet ("drydock db pull").

The artifact has artifactType ` + dbdist.ArtifactType + ` and one zstd-compressed
layer per ecosystem (a database file holding that ecosystem); an ecosystem that did
not change keeps its layer digest, so it is neither uploaded nor pulled again. Its
annotations list each ecosystem's source and export date. The signature, a DSSE
envelope signed with --key over the manifest digest and every layer's digests, is
pushed as a referrer of the artifact. Registry credentials are those of "drydock scan" (docker config.json
and credential helpers).`,
		Example: `  drydock db update
  drydock db push registry.example.com/security/vulndb:latest --key drydock.key`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if keyPath == "" {
				return errors.New("--key is required: the private key that signs the database")
			}
			ref, err := name.NewTag(args[0], refOpts(insecure)...)
			if err != nil {
				return fmt.Errorf("REF %q: want REGISTRY/REPOSITORY:TAG: %w", args[0], err)
			}
			signer, err := loadSigner(keyPath)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			res, err := dbdist.Push(ctx, g.dbPath(), ref, signer, dbRemote(ctx, insecure)...)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "pushed %s (%s, %d ecosystems), signed by %s\n", res.Manifest, humanBytes(res.Bytes), len(res.Sources), signer.KeyID())
			return nil
		},
	}
	cmd.Flags().StringVar(&keyPath, "key", envOr("DRYDOCK_KEY", ""), "private key that signs the database (env DRYDOCK_KEY; passphrase from DRYDOCK_KEY_PASSWORD)")
	cmd.Flags().BoolVar(&insecure, "insecure-registry", false, "allow a plain-HTTP registry")
	return cmd
}

func newDBPullCommand(g *globals) *cobra.Command {
	var (
		keys     []string
		insecure bool
	)
	cmd := &cobra.Command{
		Use:   "pull REF",
		Short: "Fetch a signed vulnerability database from an OCI registry and swap it in",
		Long: `Fetch the database "drydock db push" published at REF, verify its signature with
--key and every digest, and swap it in atomically. Nothing is trusted before the
signature verifies; a wrong key, a tampered layer or an interrupted download leaves
the old database in place. The artifact has one layer per ecosystem; only the layers
whose content changed since the last pull are downloaded (the parts of the installed
database are kept, verified, in <database>.parts). When the installed database is
already the signed one, only the manifest and signature are fetched. An artifact
signed before the installed one is refused.`,
		Example: `  drydock db pull registry.example.com/security/vulndb:latest --key db.pub
  # the same, as an update source
  drydock db update --from oci://registry.example.com/security/vulndb:latest --key db.pub`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runDBPull(cmd, g, args[0], keys, insecure) },
	}
	cmd.Flags().StringArrayVar(&keys, "key", nil, "trusted public key of the database signer (PEM; repeatable)")
	cmd.Flags().BoolVar(&insecure, "insecure-registry", false, "allow a plain-HTTP registry")
	return cmd
}

func runDBPull(cmd *cobra.Command, g *globals, refStr string, keyPaths []string, insecure bool) error {
	if len(keyPaths) == 0 {
		return errors.New("--key is required: the public key the database is signed with")
	}
	var pems [][]byte
	for _, p := range keyPaths {
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("--key: %w", err)
		}
		pems = append(pems, b)
	}
	keys, err := attest.ParseKeys(pems...)
	if err != nil {
		return fmt.Errorf("--key: %w", err)
	}
	ref, err := name.ParseReference(refStr, refOpts(insecure)...)
	if err != nil {
		return fmt.Errorf("REF %q: %w", refStr, err)
	}
	if err := os.MkdirAll(g.dataDir, 0o755); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	ctx := cmd.Context()
	res, err := dbdist.Pull(ctx, g.dbPath(), ref, keys, dbRemote(ctx, insecure)...)
	if err != nil {
		return err
	}
	what := "installed"
	if res.Unchanged {
		what = "unchanged"
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s %s (signed %s by %s, %d ecosystems, %d of %d layers, %s downloaded)\n", what, res.Manifest,
		res.Created.Format("2006-01-02T15:04:05Z"), res.KeyID, len(res.Sources), res.Downloaded, res.Layers, humanBytes(res.Bytes))
	return nil
}

func refOpts(insecure bool) []name.Option {
	if insecure {
		return []name.Option{name.Insecure}
	}
	return nil
}

func dbRemote(ctx context.Context, insecure bool) []remote.Option {
	return image.RemoteOptions(ctx, image.WithInsecure(insecure), image.WithUserAgent("drydock/"+version+" db"))
}
