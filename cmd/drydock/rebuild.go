package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"

	"github.com/drydock/drydock/internal/attest"
	"github.com/drydock/drydock/internal/deploy"
	"github.com/drydock/drydock/internal/freshness"
	"github.com/drydock/drydock/internal/image"
	"github.com/drydock/drydock/internal/rebuild"
	"github.com/drydock/drydock/internal/report"
	"github.com/drydock/drydock/internal/vulndb"
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

// newReconciler wires the configuration to the registry, the executors of
// internal/rebuild, the scanner and the store.
func newReconciler(ctx context.Context, g *globals, f *freshFlags, storePath string) (*freshness.Reconciler, error) {
	cfg, err := freshness.LoadConfig(f.config)
	if err != nil {
		return nil, err
	}
	platform := image.DefaultPlatform()
	if cfg.Platform != "" {
		if platform, err = image.ParsePlatform(cfg.Platform); err != nil {
			return nil, fmt.Errorf("platform: %w", err)
		}
	}
	st, err := freshness.OpenStore(ctx, storePath)
	if err != nil {
		return nil, err
	}
	imgOpts := []image.Option{image.WithPlatform(platform), image.WithUserAgent("drydock/" + version)}
	r := &freshness.Reconciler{
		Config: cfg,
		Store:  st,
		Registry: &freshness.RemoteRegistry{Config: cfg, Platform: platform, Options: []remote.Option{
			remote.WithAuthFromKeychain(authn.DefaultKeychain), remote.WithUserAgent("drydock/" + version),
		}},
		NewExecutor: func(kind string, c map[string]string) (rebuild.Executor, error) {
			return rebuild.New(kind, c, imgOpts...)
		},
	}
	decided := f.policy != "" || f.failOn != "" || f.noPolicy
	if f.key != "" && !decided {
		st.Close()
		return nil, errNoDecision("--key")
	}
	if !f.noScan {
		sc := &cliScanner{g: g, reports: map[string]*report.ScanReport{}}
		if decided {
			ev, err := policyEvaluator(f.policy, f.failOn, "", f.noPolicy)
			if err != nil {
				st.Close()
				return nil, err
			}
			sc.ev = ev
		}
		r.Scanner = sc
		if f.key != "" {
			signer, err := loadSigner(f.key)
			if err != nil {
				st.Close()
				return nil, err
			}
			r.Attester = &cliAttester{scans: sc, signer: signer, insecure: cfg.Registries.Insecure}
		}
	} else if f.key != "" || decided {
		st.Close()
		return nil, errors.New("--key, --policy, --fail-on and --no-policy need the scan: drop --no-scan")
	}
	if f.deploy {
		rc, err := deploy.RESTConfig(f.kubeconfig, f.kubeContext)
		if err != nil {
			st.Close()
			return nil, err
		}
		cs, err := deploy.NewClient(rc, "drydock/"+version)
		if err != nil {
			st.Close()
			return nil, err
		}
		r.Deployer = &cliDeployer{client: cs, opts: deploy.RolloutOptions{Wait: true, Timeout: f.rolloutTimeout, ExcludeNamespaces: f.excludeNS}}
	}
	if err := r.CheckExecutors(); err != nil {
		st.Close()
		return nil, err
	}
	return r, nil
}

// cliScanner scans rebuilt images with the same code as `drydock scan`,
// applies the policy when one is given, and keeps each report for the
// attester.
type cliScanner struct {
	g  *globals
	ev attest.Evaluator

	mu      sync.Mutex
	reports map[string]*report.ScanReport
}

func (s *cliScanner) Scan(ctx context.Context, ref string) (freshness.ScanResult, error) {
	rep, err := runScan(ctx, s.g, &scanFlags{}, ref, io.Discard)
	if errors.Is(err, vulndb.ErrNotFound) {
		return freshness.ScanResult{Summary: "not scanned: no vulnerability database (drydock db update)", Passed: true}, nil
	}
	if err != nil {
		return freshness.ScanResult{}, err
	}
	bySev := map[string]int{}
	for _, f := range rep.Findings {
		bySev[strings.ToLower(string(f.Severity.Rating))]++
	}
	var parts []string
	for _, sev := range []string{"critical", "high", "medium", "low", "unknown"} {
		if n := bySev[sev]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, sev))
		}
	}
	sum := fmt.Sprintf("%d packages, %d findings", len(rep.Inventory.Packages), len(rep.Findings))
	if len(parts) > 0 {
		sum += " (" + strings.Join(parts, ", ") + ")"
	}
	res := freshness.ScanResult{Summary: sum, Passed: true}
	if s.ev != nil {
		name, passed, violations, err := s.ev.Evaluate(ctx, rep)
		if err != nil {
			return freshness.ScanResult{}, err
		}
		res.Passed = passed
		if name == attest.PolicyNoPolicy {
			res.Summary += "; no policy decided (--no-policy)"
		} else if !passed {
			res.Summary += fmt.Sprintf("; policy %s failed (%d violation(s))", name, len(violations))
		}
	}
	s.mu.Lock()
	s.reports[ref] = rep
	s.mu.Unlock()
	return res, nil
}

func (s *cliScanner) take(ref string) *report.ScanReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	rep := s.reports[ref]
	delete(s.reports, ref)
	return rep
}

// cliAttester signs a verdict for each rebuilt image, as `drydock attest`
// does, from the report its scan just made.
type cliAttester struct {
	scans    *cliScanner
	signer   *attest.Signer
	insecure []string
}

func (a *cliAttester) Attest(ctx context.Context, ref string, _ freshness.ScanResult) (string, error) {
	rep := a.scans.take(ref)
	if rep == nil {
		var err error
		if rep, err = runScan(ctx, a.scans.g, &scanFlags{}, ref, io.Discard); err != nil {
			return "", err
		}
	}
	ev := a.scans.ev
	if ev == nil {
		// newReconciler requires a decision with --key; should one be
		// missing, the verdict must still never pass.
		ev = attest.NoPolicy{}
	}
	insecure := false
	for _, h := range a.insecure {
		if strings.HasPrefix(ref, h+"/") {
			insecure = true
		}
	}
	pred, _, pushed, err := signAndPush(ctx, rep, ev, a.signer, ref, "", insecure)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("verdict %s: %s", pred.Policy.Result, strings.Join(pushed, ", ")), nil
}

// cliDeployer rolls a rebuilt image out with internal/deploy, as
// `drydock deploy` does: every opted-in workload running another image of
// the same repository moves to the new digest, and is rolled back if its
// rollout fails.
type cliDeployer struct {
	client kubernetes.Interface
	opts   deploy.RolloutOptions
}

func (d *cliDeployer) Deploy(ctx context.Context, ref string) (string, bool, error) {
	dg, err := name.NewDigest(ref)
	if err != nil {
		return "", false, fmt.Errorf("deploy %s: %w", ref, err)
	}
	rep, err := deploy.Rollout(ctx, d.client, dg, d.opts)
	if err != nil {
		return "", false, err
	}
	counts := map[string]int{}
	for _, res := range rep.Results {
		counts[res.Status]++
	}
	var parts []string
	for _, k := range []string{deploy.StatusUpdated, deploy.StatusRolledBack, deploy.StatusFailed, deploy.StatusSkipped} {
		if counts[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[k], k))
			delete(counts, k)
		}
	}
	for k, n := range counts {
		parts = append(parts, fmt.Sprintf("%d %s", n, k))
	}
	if len(parts) == 0 {
		parts = []string{"no workload runs this repository"}
	}
	return strings.Join(parts, ", "), rep.Failed() == 0, nil
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
	cmd.Flags().StringVar(&format, "format", "table", "output: table or json")
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
