package main

import (
	"encoding/json"
	"errors"
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
		keyPaths     []string
		maxAge       time.Duration
		skew         time.Duration
		requirePass  bool
		allowFailing bool
		cosign       bool
		format       string
		insecure     bool
	)
	cmd := &cobra.Command{
		Use:   "verify <image>",
		Short: "Check the signed verdicts of a registry image",
		Long: `Find the verdicts attached to an image (OCI referrers, or the referrers tag on
registries without the API), check each, and decide as the admission webhook does
(a tag is resolved to its digest first):

  - only verdicts signed by a --key, about this digest, count;
  - they are ordered by their signed time, never by the registry's annotations;
    the newest verdict of each key is that key's word, older ones are superseded;
  - if any key's newest verdict failed, recorded no policy decision (attest
    --no-policy) or is signed more than --max-clock-skew in the future, that verdict
    decides and the image does not pass; otherwise the newest passing one decides;
  - the deciding verdict must be younger than --max-age (default 7d, as the
    webhook's --max-verdict-age; 0 for any age) and must have passed, unless
    --allow-failing (then a failing verdict that decides is accepted).

--require-pass is accepted for compatibility and changes nothing: a pass is
required by default.

With --cosign, signatures made by "cosign sign --key" are checked too (the
"sha256-<hex>.sig" tag and Sigstore bundle referrers); they prove who signed the
digest but carry no time or policy result, so they count only when no drydock
verdict exists, with --allow-failing and --max-age 0. Transparency-log entries are
not checked.

Exit codes: 0 the deciding verdict is accepted; 1 it is not (failing, too old, none
found, too many referrers); 2 an error.`,
		Example: `  # Before deploying: a passing verdict signed by ci.pub, at most a day old
  drydock verify --key ci.pub --max-age 24h registry.example.com/team/app:1.2

  # Show the verdicts whatever their result (exit 0 on a failing one too)
  drydock verify --key ci.pub --allow-failing --format table registry.example.com/team/app:1.2

  # cosign key-based signatures
  drydock verify --cosign --allow-failing --max-age 0 --key cosign.pub registry.example.com/team/app@sha256:...`,
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
				attest.WithClockSkew(skew),
				attest.WithRequirePass(!allowFailing),
				attest.WithCosign(cosign),
			}
			dg, err := attest.ResolveDigest(ctx, ref, opts...)
			if err != nil {
				return err
			}
			all, err := attest.VerifyAll(ctx, dg, keys, opts...)
			if errors.Is(err, attest.ErrNoVerdict) {
				return &errGate{msg: err.Error()}
			}
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
				decided := false
				for _, v := range all {
					if v.Decides {
						msg = fmt.Sprintf("%s: the deciding verdict %s is not accepted: %v", dg, v.Location, v.Err)
						decided = true
					}
				}
				if !decided && len(all) > 0 && all[0].Err != nil {
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
	fl.DurationVar(&maxAge, "max-age", 7*24*time.Hour, "the deciding verdict must be younger than this (0: any age)")
	fl.DurationVar(&skew, "max-clock-skew", attest.DefaultClockSkew, "how far in the future a verdict's signed time may be")
	fl.BoolVar(&allowFailing, "allow-failing", false, "accept a deciding verdict that failed or records no policy decision")
	fl.BoolVar(&requirePass, "require-pass", true, "no-op, kept for compatibility: a passing verdict is required unless --allow-failing")
	cmd.MarkFlagsMutuallyExclusive("allow-failing", "require-pass")
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
	Decides       bool           `json:"decides,omitempty"`
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
		vv := verifyVerdict{Kind: v.Kind, Location: v.Location, Accepted: v.Err == nil, Decides: v.Decides, KeyID: v.KeyID, PredicateType: v.PredicateType}
		if v.Err != nil {
			vv.Error = v.Err.Error()
		}
		if !v.Created.IsZero() {
			t := v.Created.UTC()
			vv.Time = &t
		}
		if st := v.Statement; st != nil {
			vv.Policy, vv.Result, vv.Violations, vv.Counts = st.Predicate.Policy.Name, st.Predicate.Outcome(), st.Predicate.Policy.Violations, st.Predicate.Counts
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
	decides := false
	for _, v := range all {
		status, detail := "accepted", v.Location
		switch {
		case errors.Is(v.Err, attest.ErrSuperseded):
			status, detail = "superseded", v.Err.Error()
		case v.Err != nil:
			status, detail = "rejected", v.Err.Error()
		}
		if v.Decides {
			status += "*"
			decides = true
		}
		result, when, key := "-", "-", "-"
		if v.Statement != nil {
			result = v.Statement.Predicate.Outcome() + " (" + v.Statement.Predicate.Policy.Name + ")"
		}
		if !v.Created.IsZero() {
			when = v.Created.UTC().Format(time.RFC3339)
		}
		if len(v.KeyID) >= 12 {
			key = v.KeyID[:12]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", status, v.Kind, result, when, key, detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if decides {
		_, err := fmt.Fprintln(w, "* the verdict that decides")
		return err
	}
	return nil
}
