package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/drydock/drydock/internal/attest"
	"github.com/drydock/drydock/internal/freshness"
	"github.com/drydock/drydock/internal/loop"
	"github.com/drydock/drydock/internal/report"
)

// freshFlags are the flags rebuild and watch share.
type freshFlags struct {
	config   string
	store    string
	noScan   bool
	key      string
	policy   string
	failOn   string
	noPolicy bool

	deploy         bool
	kubeconfig     string
	kubeContext    string
	excludeNS      []string
	rolloutTimeout time.Duration
}

func (f *freshFlags) register(cmd *cobra.Command, storeHelp string) {
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "drydock.yaml", "configuration file listing the tracked images")
	fl.StringVar(&f.store, "store", "", storeHelp)
	fl.BoolVar(&f.noScan, "no-scan", false, "do not scan rebuilt images")
	fl.StringVar(&f.key, "key", "", "sign a verdict for each rebuilt image with this private key (see drydock attest)")
	fl.StringVar(&f.policy, "policy", "", "evaluate this drydock policy on each rebuilt image; the verdict records the decision")
	fl.StringVar(&f.failOn, "fail-on", "", "a rebuilt image fails when a finding at or above this severity remains (critical, high, medium, low, unknown)")
	fl.BoolVar(&f.noPolicy, "no-policy", false, "with --key, sign verdicts without a decision (recorded as \"no policy\"; they never pass, so --deploy rolls nothing out)")
	cmd.MarkFlagsMutuallyExclusive("policy", "fail-on", "no-policy")
	fl.BoolVar(&f.deploy, "deploy", false, "roll each rebuilt image that passed the policy out to the workloads that opted in (label drydock.dev/auto-deploy=true)")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig for --deploy (default $KUBECONFIG, ~/.kube/config, or in-cluster)")
	fl.StringVar(&f.kubeContext, "context", "", "kubeconfig context for --deploy")
	fl.StringSliceVar(&f.excludeNS, "exclude-namespace", []string{"kube-system"}, "namespaces --deploy never touches")
	fl.DurationVar(&f.rolloutTimeout, "rollout-timeout", 5*time.Minute, "how long --deploy waits for each rollout before rolling it back")
}

// signingHelp is the part of rebuild's and watch's help about verdicts.
const signingHelp = `With --key, each rebuilt image gets a signed verdict (as "drydock attest"), and a
decision is required: --policy FILE, --fail-on SEVERITY, or --no-policy (the verdict
records "no policy" and never passes, so neither verify nor the admission webhook
accept it, and --deploy rolls nothing out). --key without one is refused.`

// newReconciler turns the flags into loop.Options: the reconcile itself
// (rebuild → scan → sign → deploy) lives in internal/loop, shared with
// watch and server.
func newReconciler(ctx context.Context, g *globals, f *freshFlags, storePath string) (*freshness.Reconciler, error) {
	cfg, err := freshness.LoadConfig(f.config)
	if err != nil {
		return nil, err
	}
	o := loop.Options{
		Config:    cfg,
		StorePath: storePath,
		UserAgent: "drydock/" + version,
		Tool:      attest.Scanner{Name: "drydock", Version: version},
	}
	decided := f.policy != "" || f.failOn != "" || f.noPolicy
	if f.key != "" && !decided {
		return nil, errNoDecision("--key")
	}
	if !f.noScan {
		o.Scan = func(ctx context.Context, ref string) (*report.ScanReport, error) {
			return runScan(ctx, g, &scanFlags{}, ref, io.Discard)
		}
		if decided {
			if o.Evaluator, err = policyEvaluator(f.policy, f.failOn, "", f.noPolicy); err != nil {
				return nil, err
			}
		}
		if f.key != "" {
			if o.Signer, err = loadSigner(f.key); err != nil {
				return nil, err
			}
		}
	} else if f.key != "" || decided {
		return nil, errors.New("--key, --policy, --fail-on and --no-policy need the scan: drop --no-scan")
	}
	if f.deploy {
		o.Deploy = &loop.DeployOptions{Kubeconfig: f.kubeconfig, Context: f.kubeContext, ExcludeNamespaces: f.excludeNS, RolloutTimeout: f.rolloutTimeout}
	}
	return loop.NewReconciler(ctx, o)
}

func newRebuildCommand(g *globals) *cobra.Command {
	var (
		f      freshFlags
		dryRun bool
		format string
	)
	cmd := &cobra.Command{
		Use:   "rebuild --config drydock.yaml",
		Short: "Rebuild the tracked images whose base tag moved (one-shot reconcile)",
		Long: `Resolve every tracked base tag to its digest, find the tracked images built on an
older base (transitively: a rebuilt intermediate base triggers its own dependents, in
topological order), rebuild them with their executor (rebase, build or dispatch), scan
them, and print what was done. --dry-run prints the plan only.

` + signingHelp + `

Exit codes: 0 every outdated image was rebuilt (or none was outdated); 2 an error or a
failed rebuild.`,
		Example: `  # Rebuild, scan, decide with a policy and sign a verdict for each rebuilt image
  drydock rebuild --config drydock.yaml --key ci.key --policy policy.yaml

  # Sign with a severity threshold instead of a policy file
  drydock rebuild --config drydock.yaml --key ci.key --fail-on critical

  # Show the plan only
  drydock rebuild --config drydock.yaml --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "table" && format != "json" {
				return fmt.Errorf("--format %q: want table or json", format)
			}
			ctx := cmd.Context()
			r, err := newReconciler(ctx, g, &f, f.store)
			if err != nil {
				return err
			}
			defer r.Store.Close()
			var items []freshness.Item
			if dryRun {
				items, err = r.Plan(ctx)
				if err != nil {
					return err
				}
			} else {
				items = r.Reconcile(ctx)
			}
			if err := printItems(cmd.OutOrStdout(), format, dryRun, items); err != nil {
				return err
			}
			var failed []string
			for _, it := range items {
				if it.Error != "" {
					failed = append(failed, it.Name)
				}
			}
			if len(failed) > 0 {
				return fmt.Errorf("%d image(s) failed: %s", len(failed), strings.Join(failed, ", "))
			}
			return nil
		},
	}
	f.register(cmd, "SQLite file recording detections and rebuilds (default: in memory; give watch's store to share its history)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the plan, change nothing")
	cmd.Flags().StringVarP(&format, "format", "f", "table", "output format: table, json")
	return cmd
}

func printItems(w io.Writer, format string, dryRun bool, items []freshness.Item) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"dryRun": dryRun, "images": items})
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if dryRun {
		fmt.Fprintln(tw, "IMAGE\tKIND\tACTION\tBASE\tDETAIL")
	} else {
		fmt.Fprintln(tw, "IMAGE\tKIND\tACTION\tSTATE\tRESULT\tDETAIL")
	}
	for _, it := range items {
		detail := it.Reason
		if it.Error != "" {
			detail = "error: " + it.Error
		}
		if it.Scan != "" {
			detail = strings.TrimSpace(detail + "; scan: " + it.Scan)
		}
		if dryRun {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", it.Name, it.Kind, it.Action, short(it.LatestBase), detail)
		} else {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", it.Name, it.Kind, it.Action, dash(string(it.State)), dash(short(it.Result)), detail)
		}
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// short abbreviates "repo@sha256:<64 hex>" to 12 hex digits.
func short(ref string) string {
	if i := strings.LastIndex(ref, "@sha256:"); i >= 0 && len(ref) > i+8+12 {
		return ref[:i+8+12]
	}
	return ref
}

func defaultStorePath(g *globals) string { return filepath.Join(g.dataDir, "watch.sqlite") }
