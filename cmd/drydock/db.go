package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/drydock/drydock/internal/vulndb"
)

// dbPath is where the vulnerability database lives.
func (g *globals) dbPath() string { return filepath.Join(g.dataDir, "vulndb.sqlite") }

func newDBCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "db",
		Short: "Manage drydock's vulnerability database",
	}
	cmd.AddCommand(newDBUpdateCommand(g), newDBImportCommand(g), newDBStatusCommand(g))
	return cmd
}

func newDBUpdateCommand(g *globals) *cobra.Command {
	var (
		baseURL    string
		ecosystems []string
		fresh      bool
	)
	cmd := &cobra.Command{
		Use:   "update",
		Short: "Download the OSV exports and swap the new database in atomically",
		Long: `Download <base-url>/<Ecosystem>/all.zip for each enabled ecosystem, validate it and swap
the new database in atomically. Unchanged exports are not downloaded again (ETag and
Last-Modified). A failed or interrupted update leaves the previous database in place.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := os.MkdirAll(g.dataDir, 0o755); err != nil {
				return fmt.Errorf("create data directory: %w", err)
			}
			opts := []vulndb.Option{}
			if baseURL != "" {
				opts = append(opts, vulndb.WithBaseURL(baseURL))
			}
			if fresh {
				opts = append(opts, vulndb.WithFresh())
			}
			if len(ecosystems) > 0 {
				// Checked before anything is downloaded.
				if _, err := vulndb.CheckEcosystems(ecosystems); err != nil {
					return fmt.Errorf("--ecosystem: %w", err)
				}
			}
			if !g.quiet && showProgress("auto") {
				p := &downloadProgress{w: cmd.ErrOrStderr()}
				defer p.finish()
				opts = append(opts, vulndb.WithProgress(p.update))
			}
			st, err := vulndb.Update(cmd.Context(), g.dbPath(), ecosystems, opts...)
			if err != nil && !errors.Is(err, vulndb.ErrPartial) {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ECOSYSTEM\tRESULT\tRECORDS\tDOWNLOADED")
			failed := 0
			for _, e := range st.Ecosystems {
				switch {
				case e.Err != nil:
					failed++
					fmt.Fprintf(w, "%s\tfailed (previous records kept)\t-\t-\n", e.Ecosystem)
				case e.NotModified:
					fmt.Fprintf(w, "%s\tunchanged\t-\t0\n", e.Ecosystem)
				default:
					fmt.Fprintf(w, "%s\tupdated\t%d\t%s\n", e.Ecosystem, e.After.Records, humanBytes(e.Bytes))
				}
			}
			if ferr := w.Flush(); ferr != nil {
				return ferr
			}
			if failed > 0 {
				for _, e := range st.Ecosystems {
					if e.Err != nil {
						fmt.Fprintln(cmd.ErrOrStderr(), "drydock:", e.Err)
					}
				}
				if failed == len(st.Ecosystems) {
					return fmt.Errorf("no ecosystem updated (%d failed; the previous records are kept)", failed)
				}
				return fmt.Errorf("%d of %d ecosystems not updated (the others were)", failed, len(st.Ecosystems))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&baseURL, "base-url", envOr("DRYDOCK_DB_BASE_URL", ""), "base URL of the OSV exports (a mirror); default the public OSV export bucket (env DRYDOCK_DB_BASE_URL)")
	cmd.Flags().StringSliceVar(&ecosystems, "ecosystem", nil, "top-level OSV ecosystems to fetch (default: all drydock can match: "+strings.Join(vulndb.DefaultEcosystems(), ", ")+")")
	cmd.Flags().BoolVar(&fresh, "fresh", false, "rebuild from scratch, dropping ecosystems not fetched now")
	return cmd
}

// downloadProgress draws one line per download on a terminal.
type downloadProgress struct {
	w    io.Writer
	last time.Time
	eco  string
}

func (p *downloadProgress) update(eco string, done, total int64) {
	now := time.Now()
	if eco == p.eco && now.Sub(p.last) < 200*time.Millisecond && done != total {
		return
	}
	if eco != p.eco && p.eco != "" {
		fmt.Fprintln(p.w)
	}
	p.eco, p.last = eco, now
	if total > 0 {
		fmt.Fprintf(p.w, "\r%s: %s of %s (%d%%)\x1b[K", eco, humanBytes(done), humanBytes(total), done*100/total)
	} else {
		fmt.Fprintf(p.w, "\r%s: %s\x1b[K", eco, humanBytes(done))
	}
}

func (p *downloadProgress) finish() {
	if p.eco != "" {
		fmt.Fprintln(p.w)
	}
}

func newDBImportCommand(g *globals) *cobra.Command {
	var fresh bool
	cmd := &cobra.Command{
		Use:   "import PATH...",
		Short: "Import vulnerability data offline: OSV zips or JSON, Debian security tracker data",
		Long: `Import vulnerability data without the network. Each PATH is one of:
  - an OSV export zip (<Ecosystem>/all.zip, as "db update" downloads),
  - a directory of OSV JSON records (searched recursively),
  - the Debian security tracker's JSON export (package -> CVE -> releases),
  - a directory laid out like the tracker's data (tracker/CVE, tracker/DSA, tracker/DLA).
Every ecosystem a path holds replaces that ecosystem's records; others are kept.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := os.MkdirAll(g.dataDir, 0o755); err != nil {
				return fmt.Errorf("create data directory: %w", err)
			}
			var opts []vulndb.Option
			if fresh {
				opts = append(opts, vulndb.WithFresh())
			}
			st, err := vulndb.Import(cmd.Context(), g.dbPath(), args, opts...)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "SOURCE\tECOSYSTEMS\tRECORDS\tWITHDRAWN\tNOT OSV")
			for _, s := range st.Sources {
				fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\n", s.Source, strings.Join(s.Ecosystems, ","), s.Records, s.Withdrawn, s.Malformed)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			for _, s := range st.Sources {
				for _, e := range s.Errors {
					fmt.Fprintf(g.notices(cmd), "skipped %s: %v\n", e.Entry, e.Err)
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&fresh, "fresh", false, "rebuild from scratch, dropping ecosystems not imported now")
	return cmd
}

func newDBStatusCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show per-ecosystem record counts, sources and age",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := openDB(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer db.Close()
			st, err := db.Status(cmd.Context())
			if err != nil {
				return err
			}
			return printStatus(cmd.OutOrStdout(), g.dbPath(), st, time.Now())
		},
	}
}

func printStatus(out io.Writer, path string, st vulndb.Status, now time.Time) error {
	fmt.Fprintf(out, "database: %s (schema %d)\n", path, st.SchemaVersion)
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ECOSYSTEM\tRECORDS\tUPDATED\tAGE\tNEWEST RECORD\tSOURCE")
	for _, e := range st.Ecosystems {
		newest := "-"
		if !e.NewestModified.IsZero() {
			newest = e.NewestModified.UTC().Format(time.DateOnly)
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", e.Ecosystem, e.Records, e.UpdatedAt.UTC().Format(time.RFC3339),
			humanAge(now.Sub(e.UpdatedAt)), newest, e.Source)
	}
	return w.Flush()
}

// openDB opens the database, turning the sentinels into advice.
func openDB(ctx context.Context, g *globals) (*vulndb.DB, error) {
	db, err := vulndb.Open(ctx, g.dbPath())
	switch {
	case errors.Is(err, vulndb.ErrNotFound):
		return nil, fmt.Errorf("%w at %s: run `drydock db update` (or `drydock db import PATH...` offline)", vulndb.ErrNotFound, g.dbPath())
	case errors.Is(err, vulndb.ErrSchemaVersion), errors.Is(err, vulndb.ErrCorrupt):
		return nil, fmt.Errorf("%w: rebuild it with `drydock db update --fresh` or `drydock db import --fresh PATH...`", err)
	}
	return db, err
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func humanAge(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
