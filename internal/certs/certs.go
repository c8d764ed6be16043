// Package certs makes and rotates the admission webhook's own TLS
// certificates, so that no certificate is made by hand: a CA and a serving
// certificate live in one Secret, the CA bundle is kept in the caBundle of
// the validating and mutating webhook configurations, and every replica
// serves what the Secret holds.
//
// Several replicas run a Manager each, without leader election. Every write
// is conditional — Create when the Secret is absent, Update at the
// resourceVersion that was read — so replicas started at once race on one
// write, the losers read the winner's Secret, and all agree on one CA.
//
// Rotation never leaves the apiserver without trust in what is served:
//   - the serving certificate is renewed, by the current CA, when less
//     than a third of its lifetime is left;
//   - the CA is renewed the same way (or at once when the Secret carries
//     the annotation AnnotationRotate): the new CA goes into the bundle
//     beside the old one, the bundle into both webhook configurations,
//     and only after Config.Propagation, with both configurations holding
//     the new CA, is a serving certificate of the new CA issued.
package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Annotations on the Secret.
const (
	// AnnotationRotate, set to any value, asks for a CA rotation now; the
	// manager that performs it removes the annotation.
	AnnotationRotate = "drydock.dev/rotate"
	// AnnotationCARotatedAt records when the current CA became the signing
	// CA (RFC 3339), so every replica knows when the bundle has had time to
	// reach the apiserver.
	AnnotationCARotatedAt = "drydock.dev/ca-rotated-at"
)

// Defaults.
const (
	DefaultCAValidity   = 2 * 365 * 24 * time.Hour
	DefaultCertValidity = 90 * 24 * time.Hour
	DefaultPropagation  = 30 * time.Second
	DefaultResync       = time.Minute
)

// Config says where the certificates live and whom they serve.
type Config struct {
	Client kubernetes.Interface
	// Namespace and SecretName locate the Secret.
	Namespace, SecretName string
	// DNSNames and IPs are the serving certificate's names: for a Service
	// s in namespace n, s.n.svc (what the apiserver checks) and friends.
	DNSNames []string
	IPs      []net.IP
	// ValidatingWebhooks and MutatingWebhooks name the configurations
	// whose every webhook gets the CA bundle. A missing one is reported
	// and retried, not fatal: the chart may create it a moment later.
	ValidatingWebhooks, MutatingWebhooks []string
	// CAValidity and CertValidity default to DefaultCAValidity and
	// DefaultCertValidity; each is renewed with a third of it left.
	CAValidity, CertValidity time.Duration
	// Propagation is how long a new CA is in the bundle before a serving
	// certificate it signed is served (DefaultPropagation).
	Propagation time.Duration
	// Resync is how often the Secret and the configurations are checked
	// besides the Secret's watch events (DefaultResync).
	Resync time.Duration
	Now    func() time.Time
	Logger *slog.Logger
}

// Manager keeps the certificates; see the package comment.
type Manager struct {
	cfg  Config
	cert atomic.Pointer[tls.Certificate]
	// bundle is the CA bundle of the Secret last loaded.
	mu     sync.Mutex
	bundle []byte
	loaded string // resourceVersion last loaded
	kick   chan struct{}
}

// New checks cfg and fills defaults.
func New(cfg Config) (*Manager, error) {
	if cfg.Client == nil {
		return nil, errors.New("certs: a Kubernetes client is required")
	}
	if cfg.Namespace == "" || cfg.SecretName == "" {
		return nil, errors.New("certs: the Secret's namespace and name are required")
	}
	if len(cfg.DNSNames) == 0 && len(cfg.IPs) == 0 {
		return nil, errors.New("certs: the serving certificate needs a DNS name or an IP address")
	}
	if cfg.CAValidity <= 0 {
		cfg.CAValidity = DefaultCAValidity
	}
	if cfg.CertValidity <= 0 {
		cfg.CertValidity = DefaultCertValidity
	}
	if cfg.CertValidity > cfg.CAValidity {
		return nil, fmt.Errorf("certs: serving certificate validity %s exceeds the CA's %s", cfg.CertValidity, cfg.CAValidity)
	}
	if cfg.Propagation < 0 {
		cfg.Propagation = 0
	} else if cfg.Propagation == 0 {
		cfg.Propagation = DefaultPropagation
	}
	if cfg.Resync <= 0 {
		cfg.Resync = DefaultResync
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Manager{cfg: cfg, kick: make(chan struct{}, 1)}, nil
}

// ServiceDNSNames are the names the apiserver may use for a Service.
func ServiceDNSNames(service, namespace string) []string {
	return []string{
		service,
		service + "." + namespace,
		service + "." + namespace + ".svc",
		service + "." + namespace + ".svc.cluster.local",
	}
}

// GetCertificate is for tls.Config.GetCertificate: the serving certificate
// the Secret holds now.
func (m *Manager) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c := m.cert.Load()
	if c == nil {
		return nil, errors.New("certs: no serving certificate yet")
	}
	return c, nil
}

// TLSConfig is a server configuration serving the managed certificate.
func (m *Manager) TLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: m.GetCertificate}
}

// Ready reports whether a serving certificate is loaded.
func (m *Manager) Ready() bool { return m.cert.Load() != nil }

// CABundle is the CA bundle (PEM) of the Secret last loaded.
func (m *Manager) CABundle() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return bytes.Clone(m.bundle)
}

// Start reconciles once, retrying until a serving certificate is loaded
// (giving up after timeout, if positive), then keeps reconciling in the
// background — on every change of the Secret, every Resync, and when a
// pending CA switch is due — until ctx ends.
func (m *Manager) Start(ctx context.Context, timeout time.Duration) error {
	delay := 200 * time.Millisecond
	var deadline <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		deadline = t.C
	}
	for {
		next, err := m.Reconcile(ctx)
		if err == nil && m.Ready() {
			go m.loop(ctx, next)
			return nil
		}
		if err != nil {
			m.cfg.Logger.Warn("certs: reconcile", "secret", m.cfg.Namespace+"/"+m.cfg.SecretName, "err", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("certs: no serving certificate: %w (last error: %v)", ctx.Err(), err)
		case <-deadline:
			return fmt.Errorf("certs: no serving certificate after %s (last error: %v)", timeout, err)
		case <-time.After(delay):
		}
		delay = min(delay*2, 5*time.Second)
	}
}

func (m *Manager) loop(ctx context.Context, next time.Duration) {
	fac := informers.NewSharedInformerFactoryWithOptions(m.cfg.Client, 0,
		informers.WithNamespace(m.cfg.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", m.cfg.SecretName).String()
		}))
	inf := fac.Core().V1().Secrets().Informer()
	onSecret := func(obj any) {
		if s, ok := obj.(*corev1.Secret); ok {
			m.load(s)
		}
		m.poke()
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    onSecret,
		UpdateFunc: func(_, obj any) { onSecret(obj) },
		DeleteFunc: func(any) { m.poke() },
	})
	fac.Start(ctx.Done())
	defer fac.Shutdown()

	timer := time.NewTimer(m.wait(next))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-m.kick:
		}
		n, err := m.Reconcile(ctx)
		if err != nil && ctx.Err() == nil {
			m.cfg.Logger.Warn("certs: reconcile", "secret", m.cfg.Namespace+"/"+m.cfg.SecretName, "err", err)
			n = 5 * time.Second
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(m.wait(n))
	}
}

func (m *Manager) wait(next time.Duration) time.Duration {
	if next <= 0 || next > m.cfg.Resync {
		return m.cfg.Resync
	}
	return next
}

func (m *Manager) poke() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// load serves the Secret's pair, if it is a usable one.
func (m *Manager) load(s *corev1.Secret) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s.ResourceVersion != "" && s.ResourceVersion == m.loaded {
		return
	}
	tc, err := tls.X509KeyPair(s.Data[KeyCert], s.Data[KeyKey])
	if err != nil {
		m.cfg.Logger.Warn("certs: the Secret's serving pair does not load; keeping the one served", "secret", s.Namespace+"/"+s.Name, "err", err)
		return
	}
	old := m.cert.Load()
	m.cert.Store(&tc)
	m.bundle = bytes.Clone(s.Data[KeyCABundle])
	m.loaded = s.ResourceVersion
	if old == nil || !bytes.Equal(old.Certificate[0], tc.Certificate[0]) {
		leaf, _ := x509.ParseCertificate(tc.Certificate[0])
		if leaf != nil {
			m.cfg.Logger.Info("certs: serving certificate loaded", "secret", s.Namespace+"/"+s.Name,
				"serial", leaf.SerialNumber.Text(16), "issuer", leaf.Issuer.CommonName, "notAfter", leaf.NotAfter.UTC().Format(time.RFC3339))
		}
	}
}

// Rotate asks for a CA rotation by annotating the Secret; the rotation
// itself happens in the next reconcile, of whichever replica comes first.
func (m *Manager) Rotate(ctx context.Context) error {
	sec := m.cfg.Client.CoreV1().Secrets(m.cfg.Namespace)
	for attempt := 0; attempt < 5; attempt++ {
		s, err := sec.Get(ctx, m.cfg.SecretName, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("certs: rotate: read Secret %s/%s: %w", m.cfg.Namespace, m.cfg.SecretName, err)
		}
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		s.Annotations[AnnotationRotate] = m.cfg.Now().UTC().Format(time.RFC3339)
		if _, err = sec.Update(ctx, s, metav1.UpdateOptions{}); err == nil {
			m.poke()
			return nil
		} else if !apierrors.IsConflict(err) {
			return fmt.Errorf("certs: rotate: update Secret %s/%s: %w", m.cfg.Namespace, m.cfg.SecretName, err)
		}
	}
	return fmt.Errorf("certs: rotate: Secret %s/%s kept changing", m.cfg.Namespace, m.cfg.SecretName)
}

// errConflict means another writer got there first: read again.
var errConflict = errors.New("conflict")

// Reconcile makes the Secret, the configurations and the served
// certificate agree, once. It returns how soon it wants to run again (0:
// no hurry).
func (m *Manager) Reconcile(ctx context.Context) (time.Duration, error) {
	for attempt := 0; ; attempt++ {
		next, err := m.reconcile(ctx)
		if errors.Is(err, errConflict) && attempt < 10 {
			continue
		}
		return next, err
	}
}

func (m *Manager) reconcile(ctx context.Context) (time.Duration, error) {
	now := m.cfg.Now()
	secrets := m.cfg.Client.CoreV1().Secrets(m.cfg.Namespace)
	where := m.cfg.Namespace + "/" + m.cfg.SecretName

	s, err := secrets.Get(ctx, m.cfg.SecretName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		s, err = m.create(ctx, now)
		if err != nil {
			return 0, err
		}
	} else if err != nil {
		return 0, fmt.Errorf("read Secret %s: %w", where, err)
	}

	// 1. The CA: present, usable, not due, no rotation asked for.
	ca, caErr := parsePair(s.Data[KeyCACert], s.Data[KeyCAKey])
	_, rotateAsked := s.Annotations[AnnotationRotate]
	if caErr != nil || rotateAsked || renewDue(ca.cert, now) {
		why := "renewal due"
		switch {
		case caErr != nil:
			why = "unusable (" + caErr.Error() + ")"
		case rotateAsked:
			why = "rotation asked for"
		}
		var previous []*x509.Certificate
		if caErr == nil {
			previous, _ = parseCerts(s.Data[KeyCABundle])
			previous = append([]*x509.Certificate{ca.cert}, previous...)
		}
		next, err := newCA(m.caName(), now, m.cfg.CAValidity)
		if err != nil {
			return 0, err
		}
		u := s.DeepCopy()
		if u.Annotations == nil {
			u.Annotations = map[string]string{}
		}
		if u.Data == nil {
			u.Data = map[string][]byte{} // an empty Secret made beforehand
		}
		delete(u.Annotations, AnnotationRotate)
		u.Annotations[AnnotationCARotatedAt] = now.UTC().Format(time.RFC3339)
		u.Data[KeyCACert], u.Data[KeyCAKey] = next.certPEM, next.keyPEM
		u.Data[KeyCABundle] = encodeBundle(nextBundle(next.cert, previous, now, 2))
		if caErr != nil {
			// Nothing trusted could have been served: issue at once.
			leaf, err := newServing(next, m.cfg.DNSNames, m.cfg.IPs, now, m.cfg.CertValidity)
			if err != nil {
				return 0, err
			}
			u.Data[KeyCert], u.Data[KeyKey] = leaf.certPEM, leaf.keyPEM
		}
		if s, err = m.update(ctx, u); err != nil {
			return 0, err
		}
		m.cfg.Logger.Info("certs: new CA", "secret", where, "why", why, "notAfter", next.cert.NotAfter.UTC().Format(time.RFC3339))
		ca = next
	} else if !bundleHas(s.Data[KeyCABundle], ca.cert) {
		// A bundle without the signing CA (edited by hand): repair it.
		previous, _ := parseCerts(s.Data[KeyCABundle])
		u := s.DeepCopy()
		u.Data[KeyCABundle] = encodeBundle(nextBundle(ca.cert, previous, now, 2))
		if s, err = m.update(ctx, u); err != nil {
			return 0, err
		}
	}
	m.load(s)

	// 2. Both configurations trust the bundle.
	trusted, err := m.syncWebhooks(ctx, s.Data[KeyCABundle], ca.cert)
	if err != nil {
		return 0, err
	}

	// 3. The serving certificate: present, of the current CA, not due.
	leaf, leafErr := parsePair(s.Data[KeyCert], s.Data[KeyKey])
	usable := leafErr == nil && now.Before(leaf.cert.NotAfter) && coversNames(leaf.cert, m.cfg.DNSNames, m.cfg.IPs)
	if usable && signedBy(leaf.cert, ca.cert, now) && !renewDue(leaf.cert, now) {
		return m.untilDue(leaf.cert, ca.cert, now), nil
	}
	if usable && !signedBy(leaf.cert, ca.cert, now) {
		// A CA switch: wait until the apiserver has had the new CA for
		// Propagation, unless the served certificate is about to expire.
		rotated, _ := time.Parse(time.RFC3339, s.Annotations[AnnotationCARotatedAt])
		due := rotated.Add(m.cfg.Propagation)
		if !trusted || now.Before(due) {
			if now.Before(leaf.cert.NotAfter.Add(-m.cfg.Propagation)) {
				if !trusted {
					return 5 * time.Second, nil
				}
				return max(due.Sub(now), 100*time.Millisecond), nil
			}
		}
	}
	next, err := newServing(ca, m.cfg.DNSNames, m.cfg.IPs, now, m.cfg.CertValidity)
	if err != nil {
		return 0, err
	}
	u := s.DeepCopy()
	u.Data[KeyCert], u.Data[KeyKey] = next.certPEM, next.keyPEM
	if s, err = m.update(ctx, u); err != nil {
		return 0, err
	}
	m.cfg.Logger.Info("certs: new serving certificate", "secret", where, "notAfter", next.cert.NotAfter.UTC().Format(time.RFC3339))
	m.load(s)
	return m.untilDue(next.cert, ca.cert, now), nil
}

// untilDue is the time until the first renewal of leaf or ca.
func (m *Manager) untilDue(leaf, ca *x509.Certificate, now time.Time) time.Duration {
	d := func(c *x509.Certificate) time.Duration {
		life := c.NotAfter.Sub(c.NotBefore)
		return c.NotAfter.Add(-life / 3).Sub(now)
	}
	return max(min(d(leaf), d(ca)), time.Second)
}

func (m *Manager) caName() string {
	return "drydock-admission-ca"
}

// create makes the Secret with a new CA and serving certificate; when
// another replica created it first, its Secret is returned instead.
func (m *Manager) create(ctx context.Context, now time.Time) (*corev1.Secret, error) {
	ca, err := newCA(m.caName(), now, m.cfg.CAValidity)
	if err != nil {
		return nil, err
	}
	leaf, err := newServing(ca, m.cfg.DNSNames, m.cfg.IPs, now, m.cfg.CertValidity)
	if err != nil {
		return nil, err
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: m.cfg.SecretName, Namespace: m.cfg.Namespace,
			Labels:      map[string]string{"app.kubernetes.io/part-of": "drydock", "app.kubernetes.io/managed-by": "drydock"},
			Annotations: map[string]string{AnnotationCARotatedAt: now.UTC().Format(time.RFC3339)},
		},
		Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{
			KeyCACert: ca.certPEM, KeyCAKey: ca.keyPEM, KeyCABundle: encodeBundle([]*x509.Certificate{ca.cert}),
			KeyCert: leaf.certPEM, KeyKey: leaf.keyPEM,
		},
	}
	secrets := m.cfg.Client.CoreV1().Secrets(m.cfg.Namespace)
	got, err := secrets.Create(ctx, s, metav1.CreateOptions{FieldManager: "drydock-certs"})
	if apierrors.IsAlreadyExists(err) {
		return nil, errConflict
	}
	if err != nil {
		return nil, fmt.Errorf("create Secret %s/%s: %w", m.cfg.Namespace, m.cfg.SecretName, err)
	}
	m.cfg.Logger.Info("certs: created CA and serving certificate", "secret", m.cfg.Namespace+"/"+m.cfg.SecretName,
		"caNotAfter", ca.cert.NotAfter.UTC().Format(time.RFC3339))
	return got, nil
}

// update writes s at the resourceVersion it was read at.
func (m *Manager) update(ctx context.Context, s *corev1.Secret) (*corev1.Secret, error) {
	got, err := m.cfg.Client.CoreV1().Secrets(s.Namespace).Update(ctx, s, metav1.UpdateOptions{FieldManager: "drydock-certs"})
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return nil, errConflict
	}
	if err != nil {
		return nil, fmt.Errorf("update Secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	return got, nil
}

// syncWebhooks writes bundle into every webhook of the configurations
// whose caBundle differs, and reports whether all of them now hold ca. A
// configuration already holding a CA newer than ca is left alone: this
// replica's view of the Secret is stale, and the next reconcile reads it
// again.
func (m *Manager) syncWebhooks(ctx context.Context, bundle []byte, ca *x509.Certificate) (bool, error) {
	arv1 := m.cfg.Client.AdmissionregistrationV1()
	all := true
	var errs []error
	for _, name := range m.cfg.ValidatingWebhooks {
		ok, err := syncOne(ctx, m, "ValidatingWebhookConfiguration", name, bundle, ca,
			func() (*admissionregistrationv1.ValidatingWebhookConfiguration, error) {
				return arv1.ValidatingWebhookConfigurations().Get(ctx, name, metav1.GetOptions{})
			},
			func(c *admissionregistrationv1.ValidatingWebhookConfiguration) []*admissionregistrationv1.WebhookClientConfig {
				var out []*admissionregistrationv1.WebhookClientConfig
				for i := range c.Webhooks {
					out = append(out, &c.Webhooks[i].ClientConfig)
				}
				return out
			},
			func(c *admissionregistrationv1.ValidatingWebhookConfiguration) error {
				_, err := arv1.ValidatingWebhookConfigurations().Update(ctx, c, metav1.UpdateOptions{FieldManager: "drydock-certs"})
				return err
			})
		all = all && ok
		errs = append(errs, err)
	}
	for _, name := range m.cfg.MutatingWebhooks {
		ok, err := syncOne(ctx, m, "MutatingWebhookConfiguration", name, bundle, ca,
			func() (*admissionregistrationv1.MutatingWebhookConfiguration, error) {
				return arv1.MutatingWebhookConfigurations().Get(ctx, name, metav1.GetOptions{})
			},
			func(c *admissionregistrationv1.MutatingWebhookConfiguration) []*admissionregistrationv1.WebhookClientConfig {
				var out []*admissionregistrationv1.WebhookClientConfig
				for i := range c.Webhooks {
					out = append(out, &c.Webhooks[i].ClientConfig)
				}
				return out
			},
			func(c *admissionregistrationv1.MutatingWebhookConfiguration) error {
				_, err := arv1.MutatingWebhookConfigurations().Update(ctx, c, metav1.UpdateOptions{FieldManager: "drydock-certs"})
				return err
			})
		all = all && ok
		errs = append(errs, err)
	}
	return all, errors.Join(errs...)
}

func syncOne[T any](ctx context.Context, m *Manager, kind, name string, bundle []byte, ca *x509.Certificate,
	get func() (T, error), configs func(T) []*admissionregistrationv1.WebhookClientConfig, update func(T) error) (bool, error) {
	for attempt := 0; attempt < 5; attempt++ {
		obj, err := get()
		if apierrors.IsNotFound(err) {
			m.cfg.Logger.Warn("certs: webhook configuration not found; its caBundle will be set when it exists", "kind", kind, "name", name)
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("read %s %s: %w", kind, name, err)
		}
		changed := false
		for _, cc := range configs(obj) {
			if bytes.Equal(cc.CABundle, bundle) {
				continue
			}
			if newerCA(cc.CABundle, ca, m.cfg.Now()) {
				m.cfg.Logger.Info("certs: webhook configuration trusts a newer CA than this replica has seen; rereading", "kind", kind, "name", name)
				return false, nil
			}
			cc.CABundle = bytes.Clone(bundle)
			changed = true
		}
		if !changed {
			return true, nil
		}
		err = update(obj)
		if apierrors.IsConflict(err) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("update the caBundle of %s %s: %w", kind, name, err)
		}
		m.cfg.Logger.Info("certs: caBundle updated", "kind", kind, "name", name)
		return true, nil
	}
	return false, fmt.Errorf("update the caBundle of %s %s: it kept changing", kind, name)
}

// newerCA reports whether bundle holds a CA issued after ca, recently: the
// sign of a rotation this replica has not seen yet. A CA from the future (a
// skewed clock) or from long ago cannot be that, and is overwritten.
func newerCA(bundle []byte, ca *x509.Certificate, now time.Time) bool {
	cs, err := parseCerts(bundle)
	if err != nil {
		return false
	}
	for _, c := range cs {
		recent := !c.NotBefore.After(now) && c.NotBefore.After(now.Add(-staleWindow))
		if c.IsCA && !c.Equal(ca) && c.NotBefore.After(ca.NotBefore) && recent {
			return true
		}
	}
	return false
}

// staleWindow bounds how long after a rotation another replica's view of
// the Secret can lag: far longer than a watch event takes, plus the
// backdating of NotBefore.
const staleWindow = 3 * clockSkew
