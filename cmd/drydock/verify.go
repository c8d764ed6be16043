package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/drydock/drydock/internal/attest"
	"github.com/drydock/drydock/internal/image"
)

func newVerifyCommand() *cobra.Command {
	var (
		keyPaths    []string
		maxAge      time.Duration
		requirePass bool
		cosign      bool
		format      string
		insecure    bool
	)
	cmd := &cobra.Command{
		Use:   "verify <image>",
		Short: "Check the signed verdicts of a registry image",
		Long: `Find the verdicts attached to an image (OCI referrers, or the referrers tag on
registries without the API), and check each: signed by a --key, about this image's
digest (a tag is resolved to its digest first), a drydock verdict, no older than
--max-age, and passing when --require-pass is given.

With --cosign, signatures made by "cosign sign --key" are checked too (the
"sha256-<hex>.sig" tag and Sigstore bundle referrers); they prove who signed the
digest but carry no time or policy result, so they count only when neither
--max-age nor --require-pass is given. Transparency-log entries are not checked.

Exit codes: 0 at least one verdict is accepted; 1 none is; 2 an error.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if format == "" {
				format = "json"
				if stdoutIsTerminal() {
					format = "table"
				}
			}
			if format != "table" && format != "json" {
				return fmt.Errorf("--format %q: want table or json", format)
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
			ref, err := image.ParseReference(args[0], insecure)
			if err != nil {
				return err
			}
			opts := []attest.Option{
				attest.WithRemoteOptions(image.RemoteOptions(ctx, image.WithInsecure(insecure), image.WithUserAgent("drydock/"+version))...),
				attest.WithMaxAge(maxAge),
				attest.WithRequirePass(requirePass),
				attest.WithCosign(cosign),
			}
			dg, err := attest.ResolveDigest(ctx, ref, opts...)
			if err != nil {
				return err
			}
			all, err := attest.VerifyAll(ctx, dg, keys, opts...)
			if err != nil {
				return err
			}
			accepted := 0
			for _, v := range all {
				if v.Err == nil {
					accepted++
				}
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				err = writeVerifyJSON(out, dg.String(), accepted > 0, all)
			} else {
				err = writeVerifyTable(out, dg.String(), all)
			}
			if err != nil {
				return err
			}
			if accepted == 0 {
				msg := fmt.Sprintf("no accepted verdict for %s (%d found)", dg, len(all))
				if len(all) > 0 && all[0].Err != nil {
					// Name the problem on the one line a CI log shows.
					msg = fmt.Sprintf("no accepted verdict for %s (%d found; first rejected: %v)", dg, len(all), all[0].Err)
				}
				return &errGate{msg: msg}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&keyPaths, "key", nil, "trusted public key file (PEM); repeat for several (required)")
	fl.DurationVar(&maxAge, "max-age", 0, "reject verdicts older than this, e.g. 24h (default: any age)")
	fl.BoolVar(&requirePass, "require-pass", false, "accept only verdicts whose policy passed")
	fl.BoolVar(&cosign, "cosign", false, "also check cosign key-based signatures (.sig tag, Sigstore bundles)")
	fl.StringVarP(&format, "format", "f", "", "output format: table or json (default table on a terminal, else json)")
	fl.BoolVar(&insecure, "insecure", false, "allow plain HTTP to the registry (localhost is always allowed)")
	cmd.MarkFlagRequired("key")
	return cmd
}

type verifyDoc struct {
	Image    string          `json:"image"`
	Accepted bool            `json:"accepted"`
	Verdicts []verifyVerdict `json:"verdicts"`
}

type verifyVerdict struct {
	Kind          string         `json:"kind"`
	Location      string         `json:"location"`
	Accepted      bool           `json:"accepted"`
	Error         string         `json:"error,omitempty"`
	KeyID         string         `json:"keyId,omitempty"`
	PredicateType string         `json:"predicateType,omitempty"`
	Time          *time.Time     `json:"time,omitempty"`
	Policy        string         `json:"policy,omitempty"`
	Result        string         `json:"result,omitempty"`
	Violations    []string       `json:"violations,omitempty"`
	Counts        map[string]int `json:"counts,omitempty"`
}

func writeVerifyJSON(w io.Writer, digest string, accepted bool, all []*attest.Verdict) error {
	doc := verifyDoc{Image: digest, Accepted: accepted, Verdicts: []verifyVerdict{}}
	for _, v := range all {
		vv := verifyVerdict{Kind: v.Kind, Location: v.Location, Accepted: v.Err == nil, KeyID: v.KeyID, PredicateType: v.PredicateType}
		if v.Err != nil {
			vv.Error = v.Err.Error()
		}
		if !v.Created.IsZero() {
			t := v.Created.UTC()
			vv.Time = &t
		}
		if st := v.Statement; st != nil {
			vv.Policy, vv.Result, vv.Violations, vv.Counts = st.Predicate.Policy.Name, st.Predicate.Policy.Result, st.Predicate.Policy.Violations, st.Predicate.Counts
		}
		doc.Verdicts = append(doc.Verdicts, vv)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(doc)
}

func writeVerifyTable(w io.Writer, digest string, all []*attest.Verdict) error {
	fmt.Fprintf(w, "%s\n", digest)
	if len(all) == 0 {
		fmt.Fprintln(w, "no verdicts or signatures found")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tKIND\tRESULT\tTIME\tKEY\tDETAIL")
	for _, v := range all {
		status, detail := "accepted", v.Location
		if v.Err != nil {
			status, detail = "rejected", v.Err.Error()
		}
		result, when, key := "-", "-", "-"
		if v.Statement != nil {
			result = v.Statement.Predicate.Policy.Result + " (" + v.Statement.Predicate.Policy.Name + ")"
		}
		if !v.Created.IsZero() {
			when = v.Created.UTC().Format(time.RFC3339)
		}
		if len(v.KeyID) >= 12 {
			key = v.KeyID[:12]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", status, v.Kind, result, when, key, detail)
	}
	return tw.Flush()
}
