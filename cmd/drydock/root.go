package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

// globals are the flags every command shares.
type globals struct {
	cacheDir string
	dataDir  string
	logLevel string
}

func newRootCommand() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "drydock",
		Short:         "Scan, certify and keep container images fresh",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return setupLogging(g.logLevel)
		},
	}
	root.PersistentFlags().StringVar(&g.cacheDir, "cache-dir", envOr("DRYDOCK_CACHE_DIR", defaultCacheDir()), "cache directory (env DRYDOCK_CACHE_DIR)")
	root.PersistentFlags().StringVar(&g.dataDir, "data-dir", envOr("DRYDOCK_DATA_DIR", defaultDataDir()), "data directory holding the vulnerability database (env DRYDOCK_DATA_DIR)")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "warn", "log level: debug, info, warn, error")
	root.AddCommand(newSBOMCommand(g), newScanCommand(g), withDBOCI(g, newDBCommand(g)), newKeyCommand(), newAttestCommand(g), newVerifyCommand(), newRebuildCommand(g), newWatchCommand(g), newLineageCommand(g), newPolicyCommand(g), newAdmissionCommand(g), newRuntimeCommand(g), newDeployCommand(g))
	return root
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// defaultCacheDir follows XDG: $XDG_CACHE_HOME/drydock or ~/.cache/drydock.
func defaultCacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "drydock")
	}
	return filepath.Join(os.TempDir(), "drydock-cache")
}

// defaultDataDir follows XDG: $XDG_DATA_HOME/drydock or ~/.local/share/drydock.
func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "drydock")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "drydock")
	}
	return filepath.Join(os.TempDir(), "drydock-data")
}

// tempDir makes drydock's scratch directory inside the cache directory, so
// nothing drydock writes lands outside its own directories.
func (g *globals) tempDir() (string, func(), error) {
	base := filepath.Join(g.cacheDir, "tmp")
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", nil, fmt.Errorf("create temp directory: %w", err)
	}
	d, err := os.MkdirTemp(base, "run-")
	if err != nil {
		return "", nil, fmt.Errorf("create temp directory: %w", err)
	}
	return d, func() { os.RemoveAll(d) }, nil
}
