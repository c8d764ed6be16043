package loop

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"k8s.io/client-go/kubernetes"

	"github.com/drydock/drydock/internal/attest"
	"github.com/drydock/drydock/internal/deploy"
	"github.com/drydock/drydock/internal/freshness"
	"github.com/drydock/drydock/internal/image"
	"github.com/drydock/drydock/internal/rebuild"
	"github.com/drydock/drydock/internal/report"
	"github.com/drydock/drydock/internal/vulndb"
)

// ScanFunc scans one image reference into a report (findings matched and
// suppressions applied). The CLI passes its own `drydock scan`; the server
// passes one that also stores the result.
type ScanFunc func(ctx context.Context, ref string) (*report.ScanReport, error)

// DeployOptions enable rolling rebuilt images out (--deploy).
type DeployOptions struct {
	Kubeconfig        string
	Context           string
	ExcludeNamespaces []string
	RolloutTimeout    time.Duration
}

// Options wire the freshness reconciler.
type Options struct {
	// Config is the parsed drydock.yaml.
	Config *freshness.Config
	// StorePath is the freshness store ("" keeps it in memory).
	StorePath string
	// UserAgent is sent to registries ("drydock/<version>").
	UserAgent string
	// Tool names the scanner in verdicts.
	Tool attest.Scanner
	// Scan, when set, scans each rebuilt image.
	Scan ScanFunc
	// Evaluator decides the policy outcome of each scan (nil: none).
	Evaluator attest.Evaluator
	// Signer, when set, signs a verdict for each rebuilt image (needs Scan).
	Signer *attest.Signer
	// Deploy, when set, rolls each passing rebuilt image out.
	Deploy *DeployOptions
}

// NewReconciler wires the configuration to the registry, the executors of
// internal/rebuild, the scanner, the signer, the deployer and the store.
// The caller closes r.Store.
func NewReconciler(ctx context.Context, o Options) (*freshness.Reconciler, error) {
	cfg := o.Config
	platform := image.DefaultPlatform()
	if cfg.Platform != "" {
		var err error
		if platform, err = image.ParsePlatform(cfg.Platform); err != nil {
			return nil, fmt.Errorf("platform: %w", err)
		}
	}
	if o.Scan == nil && (o.Signer != nil || o.Evaluator != nil) {
		return nil, errors.New("signing and policy need the scan")
	}
	st, err := freshness.OpenStore(ctx, o.StorePath)
	if err != nil {
		return nil, err
	}
	imgOpts := []image.Option{image.WithPlatform(platform), image.WithUserAgent(o.UserAgent)}
	r := &freshness.Reconciler{
		Config: cfg,
		Store:  st,
		Registry: &freshness.RemoteRegistry{Config: cfg, Platform: platform, Options: []remote.Option{
			remote.WithAuthFromKeychain(authn.DefaultKeychain), remote.WithUserAgent(o.UserAgent),
		}},
		NewExecutor: func(kind string, c map[string]string) (rebuild.Executor, error) {
			return rebuild.New(kind, c, imgOpts...)
		},
	}
	if o.Scan != nil {
		sc := &Scanner{scan: o.Scan, ev: o.Evaluator, reports: map[string]*report.ScanReport{}}
		r.Scanner = sc
		if o.Signer != nil {
			r.Attester = &Attester{scans: sc, opts: SignOptions{Signer: o.Signer, Tool: o.Tool}, insecure: cfg.Registries.Insecure}
		}
	}
	if o.Deploy != nil {
		rc, err := deploy.RESTConfig(o.Deploy.Kubeconfig, o.Deploy.Context)
		if err != nil {
			st.Close()
			return nil, err
		}
		cs, err := deploy.NewClient(rc, o.UserAgent)
		if err != nil {
			st.Close()
			return nil, err
		}
		r.Deployer = &Deployer{Client: cs, Options: deploy.RolloutOptions{Wait: true, Timeout: o.Deploy.RolloutTimeout, ExcludeNamespaces: o.Deploy.ExcludeNamespaces}}
	}
	if err := r.CheckExecutors(); err != nil {
		st.Close()
		return nil, err
	}
	return r, nil
}

// Scanner scans rebuilt images, applies the policy when one is given, and
// keeps each report for the Attester.
type Scanner struct {
	scan ScanFunc
	ev   attest.Evaluator

	mu      sync.Mutex
	reports map[string]*report.ScanReport
}

var _ freshness.Scanner = (*Scanner)(nil)

func (s *Scanner) Scan(ctx context.Context, ref string) (freshness.ScanResult, error) {
	rep, err := s.scan(ctx, ref)
	if errors.Is(err, vulndb.ErrNotFound) {
		return freshness.ScanResult{Summary: "not scanned: no vulnerability database (drydock db update)", Passed: true}, nil
	}
	if err != nil {
		return freshness.ScanResult{}, err
	}
	res := freshness.ScanResult{Summary: Summary(rep), Passed: true}
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

// Summary is the one-line account of a scan: packages, findings by severity.
func Summary(rep *report.ScanReport) string {
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
	return sum
}

func (s *Scanner) take(ref string) *report.ScanReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	rep := s.reports[ref]
	delete(s.reports, ref)
	return rep
}

// Attester signs a verdict for each rebuilt image, as `drydock attest`
// does, from the report its scan just made.
type Attester struct {
	scans    *Scanner
	opts     SignOptions
	insecure []string
}

var _ freshness.Attester = (*Attester)(nil)

func (a *Attester) Attest(ctx context.Context, ref string, _ freshness.ScanResult) (string, error) {
	rep := a.scans.take(ref)
	if rep == nil {
		var err error
		if rep, err = a.scans.scan(ctx, ref); err != nil {
			return "", err
		}
	}
	ev := a.scans.ev
	if ev == nil {
		// Callers must require a decision with a signer; should one be
		// missing, the verdict must still never pass.
		ev = attest.NoPolicy{}
	}
	o := a.opts
	for _, h := range a.insecure {
		if strings.HasPrefix(ref, h+"/") {
			o.Insecure = true
		}
	}
	pred, _, pushed, err := SignAndPush(ctx, rep, ev, ref, o)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("verdict %s: %s", pred.Policy.Result, strings.Join(pushed, ", ")), nil
}

// Deployer rolls a rebuilt image out with internal/deploy, as `drydock
// deploy` does: every opted-in workload running another image of the same
// repository moves to the new digest, and is rolled back if its rollout
// fails.
type Deployer struct {
	Client  kubernetes.Interface
	Options deploy.RolloutOptions
}

var _ freshness.Deployer = (*Deployer)(nil)

func (d *Deployer) Deploy(ctx context.Context, ref string) (string, bool, error) {
	dg, err := name.NewDigest(ref)
	if err != nil {
		return "", false, fmt.Errorf("deploy %s: %w", ref, err)
	}
	rep, err := deploy.Rollout(ctx, d.Client, dg, d.Options)
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
