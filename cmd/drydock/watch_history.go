package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/drydock/drydock/internal/freshness"
)

// newWatchHistoryCommand reads a watch store back: what was detected, what
// was rebuilt, and each step's result.
func newWatchHistoryCommand() *cobra.Command {
	var store, format string
	cmd := &cobra.Command{
		Use:   "history --store watch.db",
		Short: "Show what drydock watch detected and rebuilt, from its store",
		Long: `Read the store of "drydock watch --store FILE" (or "drydock rebuild --store FILE") back:
the base digests it detected, and each rebuild with its state and the result of every step
(rebuild, scan, attest, deploy).`,
		Example: `  drydock watch history --store watch.db
  drydock watch history --store watch.db -f json | jq '.rebuilds[] | select(.state == "failed")'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "table" && format != "json" {
				return fmt.Errorf("--format %q: want table or json", format)
			}
			if store == "" {
				return errors.New("--store: name the store drydock watch writes (--store FILE)")
			}
			if _, err := os.Stat(store); err != nil {
				return fmt.Errorf("--store %s: %w (start drydock watch with --store %s to record one)", store, errors.Unwrap(err), store)
			}
			st, err := freshness.OpenStore(cmd.Context(), store)
			if err != nil {
				return err
			}
			defer st.Close()
			dets, err := st.Detections(cmd.Context())
			if err != nil {
				return err
			}
			rbs, err := st.Rebuilds(cmd.Context())
			if err != nil {
				return err
			}
			steps, err := st.Results(cmd.Context(), "")
			if err != nil {
				return err
			}
			byRebuild := map[string][]freshness.StepResult{}
			for _, s := range steps {
				byRebuild[s.RebuildID] = append(byRebuild[s.RebuildID], s)
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				type rebuildDoc struct {
					*freshness.RebuildRecord
					Steps []freshness.StepResult `json:"steps"`
				}
				type detectionDoc struct {
					BaseTag string    `json:"baseTag"`
					Digest  string    `json:"digest"`
					Source  string    `json:"source"`
					At      time.Time `json:"at"`
				}
				doc := struct {
					Detections []detectionDoc `json:"detections"`
					Rebuilds   []rebuildDoc   `json:"rebuilds"`
				}{Detections: []detectionDoc{}, Rebuilds: []rebuildDoc{}}
				for _, d := range dets {
					doc.Detections = append(doc.Detections, detectionDoc{d.BaseTag, d.Digest, d.Source, d.At})
				}
				for _, r := range rbs {
					doc.Rebuilds = append(doc.Rebuilds, rebuildDoc{r, nonNilSteps(byRebuild[r.ID])})
				}
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(doc)
			}
			w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintf(w, "DETECTED (%d)\n", len(dets))
			fmt.Fprintln(w, "AT\tBASE TAG\tDIGEST\tSOURCE")
			for _, d := range dets {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", d.At.UTC().Format(time.DateTime), d.BaseTag, shortRef(d.Digest), d.Source)
			}
			fmt.Fprintf(w, "\nREBUILDS (%d)\n", len(rbs))
			fmt.Fprintln(w, "UPDATED\tIMAGE\tSTATE\tKIND\tNEW BASE\tRESULT\tSTEPS")
			for _, r := range rbs {
				var stepText string
				for i, s := range byRebuild[r.ID] {
					if i > 0 {
						stepText += ", "
					}
					mark := "ok"
					if !s.OK {
						mark = "failed"
					}
					stepText += s.Step + " " + mark
				}
				res := r.Result
				if r.Error != "" {
					res = r.Error
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Updated.UTC().Format(time.DateTime), r.Image, r.State, r.Kind, shortRef(r.NewBase), dash(res), dash(stepText))
			}
			return w.Flush()
		},
	}
	cmd.Flags().StringVar(&store, "store", "", "the SQLite store drydock watch writes (required)")
	cmd.Flags().StringVarP(&format, "format", "f", "table", "output format: table, json")
	return cmd
}

func nonNilSteps(s []freshness.StepResult) []freshness.StepResult {
	if s == nil {
		return []freshness.StepResult{}
	}
	return s
}

// shortRef shortens the digest in a reference for a table column.
func shortRef(ref string) string {
	if i := len(ref) - 64; i > 7 && ref[i-7:i] == "sha256:" {
		return ref[:i] + ref[i:i+12]
	}
	return ref
}
