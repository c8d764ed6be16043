package main

import (
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/drydock/drydock/internal/scratch"
)

// globals are the flags every command shares.
type globals struct {
	cacheDir string
	dataDir  string
	logLevel string
	// quiet silences progress and warnings on stderr; errors still show.
	quiet bool
}

// notices is where a command writes what is not its result (progress,
// warnings, "listening on" lines, "nothing to do"): stderr, or nowhere
// under -q. Errors never go through it.
func (g *globals) notices(cmd *cobra.Command) io.Writer {
	if g.quiet {
		return io.Discard
	}
	return cmd.ErrOrStderr()
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
			if err := applyEnv(cmd); err != nil {
				return err
			}
			if err := applyConfigFile(cmd); err != nil {
				return err
			}
			if err := validateEnums(cmd); err != nil {
				return err
			}
			if !cmd.Flags().Changed("log-level") && os.Getenv("DRYDOCK_LOG_LEVEL") == "" {
				switch {
				case g.quiet:
					g.logLevel = "error"
				case longRunning[cmd.CommandPath()]:
					// A long-running process logs each action (detection,
					// rebuild, push, scan, rollout) at its default level.
					g.logLevel = "info"
				}
			}
			return setupLogging(g.logLevel)
		},
	}
	root.PersistentFlags().StringVar(&g.cacheDir, "cache-dir", envOr("DRYDOCK_CACHE_DIR", defaultCacheDir()), "cache directory (env DRYDOCK_CACHE_DIR)")
	root.PersistentFlags().StringVar(&g.dataDir, "data-dir", envOr("DRYDOCK_DATA_DIR", defaultDataDir()), "data directory holding the vulnerability database (env DRYDOCK_DATA_DIR)")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "warn", "log level: debug, info, warn, error")
	root.PersistentFlags().BoolVarP(&g.quiet, "quiet", "q", false, "no progress, warnings or notices on stderr, on every command (errors still show)")
	root.AddCommand(newSBOMCommand(g), newScanCommand(g), withDBOCI(g, newDBCommand(g)), newKeyCommand(), newAttestCommand(g), newVerifyCommand(), newRebuildCommand(g), newWatchCommand(g), newLineageCommand(g), newPolicyCommand(g), newAdmissionCommand(g), newRuntimeCommand(g), newDeployCommand(g), newServerCommand(g), newPatchCommand(g))
	// Registered here rather than in watch.go, which the server work is
	// moving into packages.
	if w, _, err := root.Find([]string{"watch"}); err == nil && w != root {
		w.AddCommand(newWatchHistoryCommand())
	}
	root.SetGlobalNormalizationFunc(normalizeFlag)
	prepareFlags(root)
	applyExamples(root)
	return root
}

// longRunning commands log at info by default.
var longRunning = map[string]bool{"drydock watch": true, "drydock admission serve": true}

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
// nothing drydock writes lands outside its own directories; scratch left
// by runs that were killed is removed first.
func (g *globals) tempDir() (string, func(), error) {
	d, err := scratch.New(filepath.Join(g.cacheDir, "tmp"))
	if err != nil {
		return "", nil, err
	}
	return d.Path, d.Release, nil
}
