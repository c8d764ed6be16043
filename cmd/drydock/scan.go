package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/drydock/drydock/internal/finding"
	"github.com/drydock/drydock/internal/inventory"
	"github.com/drydock/drydock/internal/loop"
	"github.com/drydock/drydock/internal/match"
	"github.com/drydock/drydock/internal/report"
	"github.com/drydock/drydock/internal/suppress"
	"github.com/drydock/drydock/internal/vulndb"
)

// scanFlags are the flags of every command that scans (scan, policy check,
// attest).
type scanFlags struct {
	source        sourceFlags
	ignoreUnfixed bool
	ignoreFile    string
	vexFiles      []string
	maxDBAge      time.Duration
	fromInventory bool
}

func (f *scanFlags) register(cmd *cobra.Command) {
	f.source.register(cmd)
	fl := cmd.Flags()
	fl.BoolVar(&f.ignoreUnfixed, "ignore-unfixed", false, "leave out findings with no fixed version yet")
	fl.StringVar(&f.ignoreFile, "ignore-file", "", "YAML file of ignored IDs or package patterns, each with a reason and optional expiry")
	fl.StringSliceVar(&f.vexFiles, "vex", nil, "OpenVEX document(s) whose not_affected/fixed statements suppress findings")
	fl.DurationVar(&f.maxDBAge, "max-db-age", 7*24*time.Hour, "warn when the vulnerability database is older than this")
	fl.BoolVar(&f.fromInventory, "inventory", false, "<source> is a native JSON inventory saved by drydock sbom --format json")
}

// runScan reads src (or a saved inventory), matches it, and applies the
// suppressions: the report every scanning command starts from.
func runScan(ctx context.Context, g *globals, f *scanFlags, src string, stderr io.Writer) (*report.ScanReport, error) {
	var ig *suppress.IgnoreFile
	var err error
	if f.ignoreFile != "" {
		if ig, err = suppress.LoadIgnoreFile(f.ignoreFile); err != nil {
			return nil, err
		}
	}
	vexDocs, err := suppress.LoadVEX(f.vexFiles...)
	if err != nil {
		return nil, err
	}
	db, err := openDB(ctx, g)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	st, err := db.Status(ctx)
	if err != nil {
		return nil, err
	}
	dbInfo := dbInfoFrom(g.dbPath(), st, f.maxDBAge, time.Now())
	if dbInfo.Stale {
		slog.Warn("vulnerability database is stale", "age", dbInfo.Age.Round(time.Hour), "max", f.maxDBAge)
		if !g.quiet {
			fmt.Fprintf(stderr, "warning: the vulnerability database is %s old (over --max-db-age %s): run `drydock db update`\n", humanAge(dbInfo.Age), f.maxDBAge)
		}
	}

	var inv *inventory.Inventory
	if f.fromInventory {
		inv, err = readInventory(src)
	} else {
		inv, err = loadInventory(ctx, g, &f.source, src)
	}
	if err != nil {
		return nil, err
	}
	res, err := match.Match(ctx, db, inv)
	if err != nil {
		return nil, err
	}
	sup := suppress.Apply(res.Findings, ig, vexDocs, suppress.Options{
		IgnoreUnfixed: f.ignoreUnfixed,
		ImageDigest:   inv.Source.Digest,
		ImageName:     inv.Source.Name,
	})
	rep := &report.ScanReport{
		Inventory: inv,
		Findings:  sup.Kept,
		DB:        dbInfo,
		Problems:  append(append([]inventory.Problem{}, inv.Problems...), res.Problems...),
	}
	var loaded []string
	for _, e := range st.Ecosystems {
		loaded = append(loaded, e.Ecosystem)
	}
	rep.Problems = append(rep.Problems, match.Uncovered(inv, loaded)...)
	for _, s := range sup.Suppressed {
		rep.Suppressed = append(rep.Suppressed, report.Suppressed{Finding: s.Finding, Source: s.Source, Reason: s.Reason, Statement: s.Ref})
	}
	for _, e := range sup.Expired {
		rep.Expired = append(rep.Expired, report.ExpiredIgnore{ID: e.ID, Package: e.Package, Reason: e.Reason, Expires: e.Expires})
		if !g.quiet {
			fmt.Fprintf(stderr, "warning: ignore entry %s%s expired on %s and no longer applies\n", e.ID, e.Package, e.Expires.Format(time.DateOnly))
		}
	}
	return rep, nil
}

func newScanCommand(g *globals) *cobra.Command {
	var (
		sf     scanFlags
		format string
		output string
		failOn string
		// unknownSev is how --fail-on treats UNKNOWN findings.
		unknownSev string
		details    bool
		severities []string
	)
	cmd := &cobra.Command{
		Use:   "scan <source>",
		Short: "Find vulnerable packages in an image and say how to fix them",
		Long: `Find vulnerable OS and language packages in an image, from drydock's own database
(run "drydock db update" or "drydock db import" first).

<source> is anything "drydock sbom" takes, or with --inventory a native JSON inventory
saved by "drydock sbom --format json" (re-matched without reading the image again).

A finding no record rates has severity UNKNOWN. --fail-on counts it as failing
the gate unless --unknown-severity says otherwise (ignore, or a rating to count
it as); the summary says how many there are.

Exit codes: 0 no finding at or above --fail-on remains; 1 one does; 2 an error.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format == "" {
				format = "json"
				if output == "" && stdoutIsTerminal() {
					format = "table"
				}
			}
			f, err := report.Scan(format, report.Options{ToolName: "drydock", ToolVersion: version, Color: format == "table" && output == "" && useColor(), Details: details})
			if err != nil {
				return fmt.Errorf("--format %q: want one of %s", format, strings.Join(report.ScanFormats(), ", "))
			}
			threshold := ""
			if failOn != "" {
				threshold = strings.ToUpper(failOn)
				if severityRank(threshold) < 0 {
					return fmt.Errorf("--fail-on %q: want one of critical, high, medium, low, unknown", failOn)
				}
			}
			unknownRule, err := finding.ParseUnknownRule(unknownSev)
			if err != nil {
				return fmt.Errorf("--unknown-severity %w", err)
			}
			for i, sv := range severities {
				severities[i] = strings.ToUpper(strings.TrimSpace(sv))
				if !slices.Contains(finding.Ratings, severities[i]) {
					return fmt.Errorf("--severity %q: want a comma list of critical, high, medium, low, none, unknown", sv)
				}
			}
			rep, err := runScan(cmd.Context(), g, &sf, args[0], cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			// The gate judges every finding; --severity only narrows what
			// is shown, so hiding UNKNOWN findings never passes them.
			all := rep.Findings
			if len(severities) > 0 {
				shown := *rep
				shown.Findings = nil
				for _, fd := range all {
					if slices.Contains(severities, normSeverity(fd.Severity.Rating)) {
						shown.Findings = append(shown.Findings, fd)
					}
				}
				rep = &shown
			}
			if err := writeOutput(output, func(w io.Writer) error { return f.Format(w, rep) }); err != nil {
				return err
			}
			if threshold != "" {
				if msg := gateFailure(all, threshold, unknownRule); msg != "" {
					return &errGate{msg: msg}
				}
			}
			return nil
		},
	}
	sf.register(cmd)
	fl := cmd.Flags()
	fl.StringVarP(&format, "format", "f", "", "output format: table, json, sarif, cyclonedx (default table on a terminal, else json)")
	fl.StringVarP(&output, "output", "o", "", "write to this file instead of stdout")
	fl.StringVar(&failOn, "fail-on", "", "exit 1 when a finding at or above this severity remains: critical, high, medium, low, unknown")
	fl.String(configFlag, "", "YAML file of scan flags for CI (keys are flag names, e.g. fail-on: high); the command line and DRYDOCK_* variables win, see docs/scan-config.md")
	fl.StringSliceVar(&severities, "severity", nil, "show only findings of these severities, a comma list (critical,high); --fail-on still judges every finding")
	fl.BoolVar(&details, "details", false, "table: add each finding's severity source, title and advisory URL (json, sarif and cyclonedx always carry them)")
	fl.StringVar(&unknownSev, "unknown-severity", finding.UnknownFail, "how --fail-on treats findings of UNKNOWN severity: fail (count as failing), ignore, or a rating to count them as ("+strings.Join(finding.UnknownRules[2:], ", ")+")")
	return cmd
}

// gateFailure says why findings fail a --fail-on threshold under an
// unknown-severity rule, or "" when they pass.
func gateFailure(fs []finding.Finding, threshold, unknownRule string) string {
	n, unknown := 0, 0
	for _, f := range fs {
		if finding.FailsAtOrAbove(f.Severity.Rating, threshold, unknownRule) {
			n++
			if finding.Rank(f.Severity.Rating) == 0 && f.Severity.Rating != finding.RatingNone {
				unknown++
			}
		}
	}
	if n == 0 {
		return ""
	}
	msg := fmt.Sprintf("%d finding(s) at or above %s", n, threshold)
	if unknown > 0 {
		msg += fmt.Sprintf(" (%d of UNKNOWN severity, counted by --unknown-severity=%s)", unknown, strings.ToLower(unknownRule))
	}
	return msg
}

// normSeverity maps a rating onto finding.Ratings; anything else is UNKNOWN.
func normSeverity(r string) string {
	if slices.Contains(finding.Ratings, r) {
		return r
	}
	return finding.RatingUnknown
}

// severityRank orders ratings (loop.SeverityRank, shared with verdicts).
func severityRank(r string) int { return loop.SeverityRank(r) }

func readInventory(path string) (*inventory.Inventory, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read inventory: %w", err)
	}
	var inv inventory.Inventory
	if err := json.Unmarshal(b, &inv); err != nil {
		return nil, fmt.Errorf("read inventory %s: not a drydock JSON inventory: %w", path, err)
	}
	if inv.SchemaVersion != inventory.SchemaVersion {
		return nil, fmt.Errorf("read inventory %s: schema version %d, want %d", path, inv.SchemaVersion, inventory.SchemaVersion)
	}
	return &inv, nil
}

// dbInfoFrom summarises the database for the report: its age is that of
// the least recently loaded ecosystem, since that is how stale a clean
// result may be.
func dbInfoFrom(path string, st vulndb.Status, maxAge time.Duration, now time.Time) report.DBInfo {
	info := report.DBInfo{Path: path}
	for _, e := range st.Ecosystems {
		info.Sources = append(info.Sources, e.Ecosystem+": "+e.Source)
		if info.UpdatedAt.IsZero() || e.UpdatedAt.Before(info.UpdatedAt) {
			info.UpdatedAt = e.UpdatedAt
		}
	}
	if !info.UpdatedAt.IsZero() {
		info.Age = now.Sub(info.UpdatedAt)
		info.Stale = maxAge > 0 && info.Age > maxAge
	}
	return info
}
