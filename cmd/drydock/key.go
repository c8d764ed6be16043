package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/drydock/drydock/internal/attest"
	"github.com/drydock/drydock/internal/outfile"
)

// Passphrase environment variables, drydock's first; cosign's is accepted so
// that one key serves both tools.
var passphraseEnv = []string{"DRYDOCK_KEY_PASSWORD", "COSIGN_PASSWORD"}

// keyPassphrase reads the signing key passphrase from the environment. It
// is never logged or printed.
func keyPassphrase() ([]byte, bool) {
	for _, name := range passphraseEnv {
		if v, ok := os.LookupEnv(name); ok {
			return []byte(v), true
		}
	}
	return nil, false
}

func newKeyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Manage verdict signing keys",
	}
	cmd.AddCommand(newKeyGenerateCommand())
	return cmd
}

func newKeyGenerateCommand() *cobra.Command {
	var (
		prefix      string
		unencrypted bool
		force       bool
	)
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Write an ECDSA P-256 signing key pair (cosign-compatible)",
		Long: `Write an ECDSA P-256 key pair for signing verdicts: <prefix>.key and <prefix>.pub.

The private key is encrypted as cosign does ("ENCRYPTED SIGSTORE PRIVATE KEY":
scrypt and NaCl secretbox) with the passphrase in DRYDOCK_KEY_PASSWORD (or
COSIGN_PASSWORD); --unencrypted writes a plain PKCS#8 key instead. The public
key is a PKIX "PUBLIC KEY" PEM, usable with "drydock verify --key" and
"cosign verify --key".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			pass, ok := keyPassphrase()
			if unencrypted {
				pass = nil
			} else if !ok || len(pass) == 0 {
				return errors.New("no passphrase: set DRYDOCK_KEY_PASSWORD (or COSIGN_PASSWORD), or pass --unencrypted")
			}
			keyPath, pubPath := prefix+".key", prefix+".pub"
			if !force {
				for _, p := range []string{keyPath, pubPath} {
					if _, err := os.Stat(p); err == nil {
						return fmt.Errorf("%s exists; pass --force to overwrite", p)
					}
				}
			}
			k, err := attest.GenerateKey()
			if err != nil {
				return err
			}
			priv, err := attest.MarshalPrivateKey(k, pass)
			if err != nil {
				return err
			}
			pub, err := attest.MarshalPublicKey(&k.PublicKey)
			if err != nil {
				return err
			}
			id, err := attest.KeyID(&k.PublicKey)
			if err != nil {
				return err
			}
			if err := writeKeyFile(keyPath, priv, 0o600); err != nil {
				return err
			}
			if err := writeKeyFile(pubPath, pub, 0o644); err != nil {
				return err
			}
			enc := "encrypted"
			if unencrypted {
				enc = "unencrypted"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "private key (%s): %s\npublic key: %s\nkey id: %s\n", enc, keyPath, pubPath, id)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&prefix, "output-key-prefix", "drydock", "write <prefix>.key and <prefix>.pub")
	fl.BoolVar(&unencrypted, "unencrypted", false, "write the private key without encryption (plain PKCS#8)")
	fl.BoolVar(&force, "force", false, "overwrite existing key files")
	return cmd
}

// writeKeyFile writes through outfile: atomically for files (the temp
// file is created 0600, so a private key is never readable by others, even
// briefly), in place for devices and FIFOs.
func writeKeyFile(path string, b []byte, mode os.FileMode) error {
	return outfile.Write(path, mode, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}
