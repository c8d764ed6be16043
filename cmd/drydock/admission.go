package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/drydock/drydock/internal/admission"
	"github.com/drydock/drydock/internal/attest"
	"github.com/drydock/drydock/internal/certs"
	"github.com/drydock/drydock/internal/dbdist"
	"github.com/drydock/drydock/internal/image"
	"github.com/drydock/drydock/internal/registryauth"
)

func newAdmissionCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admission",
		Short: "Kubernetes admission webhook: only verified images run",
	}
	cmd.AddCommand(newAdmissionServeCommand(g), newAdmissionManifestsCommand())
	return cmd
}

type admissionServeFlags struct {
	listen, certFile, keyFile, policyPath string
	keyPaths                              []string
	mode, selection, namespace, failure   string
	exempt                                []string
	insecure                              bool
	kubeconfig                            string
	cacheSize                             int
	maxImages, reviewConc, registryConc   int
	cacheTTL, negativeTTL, tagTTL         time.Duration
	requestTimeout, tlsCheck              time.Duration
	maxRequestBytes                       int64
	maxVerdictAge, clockSkew              time.Duration
	// Self-managed certificates (internal/certs).
	certSecret, certService          string
	certDNS, certIPs, webhookConfigs []string
	certValidity, caValidity         time.Duration
	caPropagation                    time.Duration
	pullCredentials                  bool
	db                               dbFromFlags
}

func newAdmissionServeCommand(g *globals) *cobra.Command {
	f := &admissionServeFlags{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the validating and mutating admission webhook over HTTPS",
		Long: `Serve the admission webhook: /validate decides, /mutate pins tags to digests;
/healthz, /readyz and /metrics (Prometheus) are on the same listener.

Every container, init container and ephemeral container image of Pods,
Deployments, StatefulSets, DaemonSets, ReplicaSets, ReplicationControllers,
Jobs and CronJobs is resolved to its digest through the registry (with the
same credentials as "drydock scan": docker config.json and credential
helpers, and with --pull-credentials, on by default with Kubernetes access,
the workload's imagePullSecrets or its service account's first), its signed verdict verified with --key, and --policy evaluated
with the request's namespace and labels (without --policy, the verdict must
record a passing policy).

Modes: enforce denies; warn admits with warnings shown to kubectl; audit
admits and logs and counts. A namespace label drydock.dev/mode overrides
--mode. Namespaces are opted out with drydock.dev/ignore=true, or with
--selection opt-in only those labelled drydock.dev/enforce=true are checked;
--namespace (drydock's own) is always exempt. Namespace labels are read with
--kubeconfig, or in-cluster credentials when running in a pod.

Which verdict counts: only signed times order verdicts (never the referrer's
annotations). The newest verdict of each --key decides for that key; if any
key's newest verdict failed, recorded no policy decision (attest --no-policy)
or is signed more than --max-clock-skew in the future, the image is denied,
whatever older or other verdicts say. The deciding verdict must be younger
than --max-verdict-age (default 7d, with or without --policy; 0 turns the
limit off): it bounds how long a verdict made against an old vulnerability
database, or left behind when someone deletes a newer one, keeps admitting.
Re-attest running images at least weekly (daily is better).

Only pinned images run: /mutate rewrites each tag to the digest it names
("repo:1.4" becomes "repo:1.4@sha256:…"), and /validate denies any image
that reaches it without a digest (the registry failed /mutate, or the
mutating webhook is not installed), so what was checked is what runs.

Failures close: an image whose verdict cannot be checked (registry
unreachable, timeout) or whose tag could not be pinned is denied with the
reason, unless --failure-policy ignore, which admits it with a warning. An
unsigned or failing image is denied either way.

Work per review is bounded: an object naming more than --max-images
distinct images is denied unchecked; --review-concurrency images of one
review are checked at once; --registry-concurrency calls run at once per
registry host across all reviews; the whole review ends at
--request-timeout. A denial lists 10 images and counts the rest.

TLS, one of two ways:
  --cert-secret NAME   drydock makes its own CA and serving certificate (for
                       --cert-service.--namespace.svc), keeps them in that
                       Secret of --namespace, writes the CA bundle into the
                       caBundle of the --webhook-config-name configurations
                       and rotates both before they expire. Replicas agree on
                       one Secret and reload it when it changes. Annotate the
                       Secret drydock.dev/rotate=now to rotate the CA at once.
  --tls-cert/--tls-key files made elsewhere (cert-manager), re-read when they
                       change (checked at most every --tls-check-interval).`,
		Example: `  # In a cluster (the Helm chart runs this):
  drydock admission serve --key /etc/drydock/keys/default.pub \
    --cert-secret drydock-admission-tls --webhook-config-name drydock-admission

  # Outside a cluster, with cert-manager's or your own files; verdicts at most 3 days old
  drydock admission serve --tls-cert tls.crt --tls-key tls.key --key drydock.pub --max-verdict-age 72h

  # Two trusted keys (a key rotation): either may sign, and a failing newest
  # verdict from either denies
  drydock admission serve --tls-cert tls.crt --tls-key tls.key --key old.pub --key new.pub --policy policy.yaml

  # Tighter bounds on the work one review may cause
  drydock admission serve --tls-cert tls.crt --tls-key tls.key --key drydock.pub \
      --max-images 32 --registry-concurrency 8

  # Keep the signed vulnerability database of the cluster's own registry; until
  # one is verified and installed, every image is denied (fail closed)
  drydock admission serve --tls-cert tls.crt --tls-key tls.key --key drydock.pub \
      --db-from oci://registry.example.com/security/vulndb:latest --db-key db.pub`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runAdmissionServe(cmd.Context(), g, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", ":8443", "HTTPS listen address")
	fl.StringVar(&f.certFile, "tls-cert", "", "TLS certificate file (PEM; reloaded when it changes)")
	fl.StringVar(&f.keyFile, "tls-key", "", "TLS private key file (PEM)")
	fl.StringVar(&f.policyPath, "policy", "", "policy file (default: require a verdict that passed)")
	fl.StringArrayVar(&f.keyPaths, "key", nil, "trusted public key (PEM; repeatable)")
	fl.StringVar(&f.mode, "mode", "enforce", "enforce, warn or audit (a namespace's drydock.dev/mode label overrides it)")
	fl.StringVar(&f.selection, "selection", "opt-out", "namespaces checked: opt-out (all but drydock.dev/ignore=true) or opt-in (only drydock.dev/enforce=true)")
	fl.StringVar(&f.namespace, "namespace", admission.DefaultNamespace, "drydock's own namespace, always exempt")
	fl.StringSliceVar(&f.exempt, "exempt-namespace", nil, "further namespaces never checked (repeatable)")
	fl.StringVar(&f.failure, "failure-policy", "fail", "when a verdict cannot be checked: fail (deny) or ignore (admit with a warning)")
	fl.BoolVar(&f.insecure, "insecure-registry", false, "allow plain-HTTP registries")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig for reading namespace labels (default: in-cluster when in a pod, else none)")
	fl.IntVar(&f.cacheSize, "cache-size", 10000, "verification results kept (0 disables the cache)")
	fl.DurationVar(&f.cacheTTL, "cache-ttl", 5*time.Minute, "how long a verified verdict is reused")
	fl.DurationVar(&f.negativeTTL, "negative-cache-ttl", 30*time.Second, "how long \"no valid verdict\" is reused")
	fl.DurationVar(&f.tagTTL, "tag-cache-ttl", 10*time.Second, "how long a tag's digest is reused (0: ask the registry every time)")
	fl.DurationVar(&f.requestTimeout, "request-timeout", 9*time.Second, "time limit of one review (keep it under the webhook's timeoutSeconds)")
	fl.IntVar(&f.maxImages, "max-images", admission.DefaultMaxImages, "distinct images one object may name; more are denied unchecked")
	fl.IntVar(&f.reviewConc, "review-concurrency", admission.DefaultReviewConcurrency, "images of one review checked at once")
	fl.IntVar(&f.registryConc, "registry-concurrency", admission.DefaultRegistryConcurrency, "registry calls at once per registry host, across all reviews")
	fl.DurationVar(&f.tlsCheck, "tls-check-interval", time.Second, "how often the TLS files are checked for changes")
	fl.Int64Var(&f.maxRequestBytes, "max-request-bytes", admission.DefaultMaxRequestBytes, "largest AdmissionReview accepted")
	fl.DurationVar(&f.maxVerdictAge, "max-verdict-age", admission.DefaultMaxVerdictAge, "deny images whose deciding verdict was signed longer ago (0: no limit)")
	fl.DurationVar(&f.clockSkew, "max-clock-skew", attest.DefaultClockSkew, "how far in the future a verdict's signed time may be")
	fl.StringVar(&f.certSecret, "cert-secret", "", "make and rotate the TLS certificates, kept in this Secret of --namespace (instead of --tls-cert/--tls-key)")
	fl.StringVar(&f.certService, "cert-service", "drydock-admission", "with --cert-secret: the webhook's Service, whose names the certificate holds")
	fl.StringSliceVar(&f.certDNS, "cert-dns-name", nil, "with --cert-secret: further DNS names of the certificate (repeatable)")
	fl.StringSliceVar(&f.certIPs, "cert-ip", nil, "with --cert-secret: IP addresses of the certificate (repeatable; for a webhook reached by URL)")
	fl.StringSliceVar(&f.webhookConfigs, "webhook-config-name", nil, "with --cert-secret: validating and mutating webhook configurations whose caBundle is kept (repeatable)")
	fl.DurationVar(&f.certValidity, "cert-validity", certs.DefaultCertValidity, "with --cert-secret: serving certificate lifetime (renewed with a third left)")
	fl.DurationVar(&f.caValidity, "ca-validity", certs.DefaultCAValidity, "with --cert-secret: CA lifetime (renewed with a third left)")
	fl.DurationVar(&f.caPropagation, "ca-propagation", certs.DefaultPropagation, "with --cert-secret: how long a new CA is in the caBundle before certificates it signed are served")
	f.db.register(cmd)
	fl.BoolVar(&f.pullCredentials, "pull-credentials", true, "read registries with each workload's imagePullSecrets (or its service account's), then drydock's own credentials, and deny images they cannot pull (needs get/list/watch on secrets and serviceaccounts)")
	return cmd
}

func runAdmissionServe(ctx context.Context, g *globals, f *admissionServeFlags) error {
	start := time.Now()
	switch {
	case f.certSecret != "" && (f.certFile != "" || f.keyFile != ""):
		return errors.New("--cert-secret and --tls-cert/--tls-key are two ways to get a certificate: choose one")
	case f.certSecret == "" && (f.certFile == "" || f.keyFile == ""):
		return errors.New("a certificate is required: --cert-secret NAME (drydock makes and rotates it), or --tls-cert and --tls-key")
	}
	if len(f.keyPaths) == 0 {
		return errors.New("--key is required: the public key that verdicts are signed with")
	}
	mode, err := admission.ParseMode(f.mode)
	if err != nil {
		return fmt.Errorf("--mode: %w", err)
	}
	sel, err := admission.ParseSelection(f.selection)
	if err != nil {
		return fmt.Errorf("--selection: %w", err)
	}
	failOpen, err := admission.ParseFailurePolicy(f.failure)
	if err != nil {
		return err
	}
	for _, l := range []struct {
		flag string
		v    int
	}{{"--max-images", f.maxImages}, {"--review-concurrency", f.reviewConc}, {"--registry-concurrency", f.registryConc}} {
		if l.v < 1 {
			return fmt.Errorf("%s %d: must be at least 1", l.flag, l.v)
		}
	}
	var pems [][]byte
	h := sha256.New()
	for _, p := range f.keyPaths {
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("--key: %w", err)
		}
		pems = append(pems, b)
		h.Write(b)
	}
	keys, err := attest.ParseKeys(pems...)
	if err != nil {
		return fmt.Errorf("--key: %w", err)
	}
	if f.maxVerdictAge < 0 || f.clockSkew < 0 {
		return errors.New("--max-verdict-age and --max-clock-skew cannot be negative")
	}
	maxAge := f.maxVerdictAge
	if maxAge == 0 {
		maxAge = -1 // admission.Config: negative is "no limit", zero the default
	}
	ropts := attest.WithRemoteOptions(image.RemoteOptions(ctx, image.WithInsecure(f.insecure), image.WithUserAgent("drydock/"+version+" admission"))...)
	cfg := admission.Config{
		Verifier:            &admission.AttestVerifier{Keys: keys, Options: []attest.Option{ropts, attest.WithClockSkew(f.clockSkew)}},
		MaxVerdictAge:       maxAge,
		Resolver:            attestResolver{opts: []attest.Option{ropts}, remote: image.RemoteOptions(ctx, image.WithInsecure(f.insecure), image.WithUserAgent("drydock/"+version+" admission"))},
		Mode:                mode,
		Selection:           sel,
		Namespace:           f.namespace,
		ExemptNamespaces:    f.exempt,
		FailOpen:            failOpen,
		Insecure:            f.insecure,
		CacheSize:           f.cacheSize,
		CacheTTL:            f.cacheTTL,
		NegativeTTL:         f.negativeTTL,
		TagTTL:              f.tagTTL,
		CacheKey:            hex.EncodeToString(h.Sum(nil)),
		RequestTimeout:      f.requestTimeout,
		MaxImages:           f.maxImages,
		ReviewConcurrency:   f.reviewConc,
		RegistryConcurrency: f.registryConc,
		MaxRequestBytes:     f.maxRequestBytes,
		Logger:              slog.Default(),
	}
	if f.policyPath != "" {
		ev, err := loadAdmissionPolicy(f.policyPath)
		if err != nil {
			return fmt.Errorf("--policy: %w", err)
		}
		cfg.Evaluator = ev
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cfg.Metrics, cfg.Gatherer = admission.NewMetrics(reg), reg

	rc, err := kubeRESTConfig(f.kubeconfig)
	if err != nil {
		return err
	}
	var ready []func() bool
	if rc != nil {
		nl, err := startNamespaceLabels(ctx, rc)
		if err != nil {
			return err
		}
		cfg.Namespaces = nl
		ready = append(ready, nl.synced)
		if f.pullCredentials {
			kc, err := startPullCredentials(ctx, rc)
			if err != nil {
				return err
			}
			cfg.Credentials = kc
			ready = append(ready, kc.Synced)
		}
	} else {
		slog.Info("admission: no Kubernetes credentials; namespace labels are not read (the webhook configuration's namespaceSelector selects)")
	}

	var tlsConfig *tls.Config
	if f.certSecret != "" {
		if rc == nil {
			return errors.New("--cert-secret needs Kubernetes credentials: run in a pod or pass --kubeconfig")
		}
		m, err := startCertManager(ctx, rc, f)
		if err != nil {
			return err
		}
		tlsConfig = m.TLSConfig()
		ready = append(ready, m.Ready)
	} else {
		reloader, err := admission.NewCertReloader(f.certFile, f.keyFile, f.tlsCheck)
		if err != nil {
			return err
		}
		tlsConfig = reloader.TLSConfig()
	}
	sy, err := f.db.syncer(ctx, g.dbPath(), f.insecure)
	if err != nil {
		return err
	}
	if sy != nil {
		// Fail closed: until a verified database is installed, every
		// image is denied (and /readyz says not ready).
		ready = append(ready, sy.Installed)
		cfg.Gate = func() error {
			if sy.Installed() {
				return nil
			}
			msg := "no verified vulnerability database from " + f.db.from + " installed yet"
			if st := sy.Status(); st.Error != "" {
				msg += " (last pull: " + st.Error + ")"
			}
			return errors.New(msg)
		}
		go sy.Run(ctx, f.db.interval, func(res *dbdist.PullResult, err error) { logPull(f.db.from, res, err) })
	}
	var readyOnce sync.Once
	cfg.Ready = func() bool {
		for _, r := range ready {
			if !r() {
				return false
			}
		}
		readyOnce.Do(func() {
			slog.Info("admission: ready", "ms", time.Since(start).Milliseconds())
		})
		return true
	}

	srv, err := admission.New(cfg)
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      f.requestTimeout + 5*time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(slog.Default().Handler(), slog.LevelDebug),
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	if !g.quiet {
		fmt.Fprintf(os.Stderr, "drydock admission: serving https://%s (mode %s, failure policy %s)\n", ln.Addr(), mode, f.failure)
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.ServeTLS(ln, "", "") }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return hs.Shutdown(sctx)
	}
}

// startCertManager makes or loads the serving certificate (blocking until
// one is loaded) and keeps it and the webhook configurations' caBundle
// up to date while ctx lives.
func startCertManager(ctx context.Context, rc *rest.Config, f *admissionServeFlags) (*certs.Manager, error) {
	rc = rest.CopyConfig(rc)
	rc.UserAgent = "drydock-admission-certs"
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	var ips []net.IP
	for _, s := range f.certIPs {
		ip := net.ParseIP(s)
		if ip == nil {
			return nil, fmt.Errorf("--cert-ip %q: not an IP address", s)
		}
		ips = append(ips, ip)
	}
	m, err := certs.New(certs.Config{
		Client: cs, Namespace: f.namespace, SecretName: f.certSecret,
		DNSNames:           append(certs.ServiceDNSNames(f.certService, f.namespace), f.certDNS...),
		IPs:                ips,
		ValidatingWebhooks: f.webhookConfigs, MutatingWebhooks: f.webhookConfigs,
		CAValidity: f.caValidity, CertValidity: f.certValidity, Propagation: f.caPropagation,
		Logger: slog.Default(),
	})
	if err != nil {
		return nil, err
	}
	if err := m.Start(ctx, 2*time.Minute); err != nil {
		return nil, fmt.Errorf("--cert-secret %s/%s: %w", f.namespace, f.certSecret, err)
	}
	return m, nil
}

// attestResolver resolves tags with one HEAD request, with the workload's
// credentials when the review carries them.
type attestResolver struct {
	opts   []attest.Option
	remote []remote.Option
}

var _ admission.AccessChecker = attestResolver{}

func (r attestResolver) Resolve(ctx context.Context, ref name.Reference) (name.Digest, error) {
	opts := r.opts
	if kc := registryauth.KeychainFrom(ctx); kc != nil {
		opts = append(slices.Clip(opts), attest.WithRemoteOptions(remote.WithAuthFromKeychain(kc)))
	}
	return attest.ResolveDigest(ctx, ref, opts...)
}

// CanRead implements admission.AccessChecker.
func (r attestResolver) CanRead(ctx context.Context, d name.Digest) error {
	opts := r.remote
	if kc := registryauth.KeychainFrom(ctx); kc != nil {
		opts = append(slices.Clip(opts), remote.WithAuthFromKeychain(kc))
	}
	return registryauth.CanRead(ctx, d, opts...)
}

// startPullCredentials reads pull secrets and service accounts through
// informers; drydock's own credentials (docker config.json, helpers) come
// after a workload's, as the node's come after a pod's for the kubelet.
func startPullCredentials(ctx context.Context, rc *rest.Config) (*registryauth.Kube, error) {
	rc = rest.CopyConfig(rc)
	rc.UserAgent = "drydock-admission"
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return registryauth.NewKube(ctx, cs, registryauth.NodeKeychain())
}

// kubeRESTConfig is the explicit kubeconfig, else in-cluster credentials,
// else nil.
func kubeRESTConfig(path string) (*rest.Config, error) {
	if path != "" {
		c, err := clientcmd.BuildConfigFromFlags("", path)
		if err != nil {
			return nil, fmt.Errorf("--kubeconfig: %w", err)
		}
		return c, nil
	}
	if os.Getenv("KUBERNETES_SERVICE_HOST") == "" {
		return nil, nil
	}
	c, err := rest.InClusterConfig()
	if err != nil {
		return nil, fmt.Errorf("in-cluster Kubernetes config: %w", err)
	}
	return c, nil
}

// namespaceLabels serves namespace labels from an informer, asking the
// apiserver directly for a namespace the informer has not seen yet.
type namespaceLabels struct {
	cs     kubernetes.Interface
	get    func(name string) (map[string]string, bool)
	synced func() bool
}

func startNamespaceLabels(ctx context.Context, rc *rest.Config) (*namespaceLabels, error) {
	rc = rest.CopyConfig(rc)
	rc.UserAgent = "drydock-admission"
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	fac := informers.NewSharedInformerFactory(cs, 10*time.Minute)
	inf := fac.Core().V1().Namespaces()
	lister := inf.Lister()
	synced := inf.Informer().HasSynced
	fac.Start(ctx.Done())
	return &namespaceLabels{
		cs: cs,
		get: func(n string) (map[string]string, bool) {
			ns, err := lister.Get(n)
			if err != nil {
				return nil, false
			}
			return ns.Labels, true
		},
		synced: synced,
	}, nil
}

func (n *namespaceLabels) NamespaceLabels(ctx context.Context, ns string) (map[string]string, error) {
	if l, ok := n.get(ns); ok {
		if l == nil {
			l = map[string]string{}
		}
		return l, nil
	}
	obj, err := n.cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	if obj.Labels == nil {
		return map[string]string{}, nil
	}
	return obj.Labels, nil
}
