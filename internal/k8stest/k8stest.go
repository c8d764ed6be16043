// Package k8stest starts a real Kubernetes control plane for tests: etcd and
// kube-apiserver, and kube-controller-manager when asked, from the binaries in
// the directory named by $DRYDOCK_K8S_BINS (scripts/test.sh builds them with
// ../shared/k8s/ensure-k8s-bins.sh). Everything listens on free loopback
// ports; certificates are generated in Go; the client authenticates with a
// bearer token mapped to system:masters. There is no kubelet: Pods are
// stored, never run, and a test writes Pod status itself.
//
// Only tests import this package.
package k8stest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/drydock/drydock/internal/testenv"
)

// EnvBins names the environment variable holding the directory with the
// etcd, kube-apiserver and kube-controller-manager binaries.
const EnvBins = "DRYDOCK_K8S_BINS"

// Token is the bearer token of the system:masters user "admin".
const Token = "drydock-test-token"

// ErrNoBins means $DRYDOCK_K8S_BINS is unset.
var ErrNoBins = errors.New(EnvBins + " is not set: run ./scripts/test.sh, or export " + EnvBins + "=$(../shared/k8s/ensure-k8s-bins.sh)")

// Options choose what to start.
type Options struct {
	// ControllerManager starts kube-controller-manager too, so Deployments
	// get ReplicaSets and Pods, Jobs get Pods, and ServiceAccounts exist.
	ControllerManager bool
	// APIServerArgs are appended to kube-apiserver's flags.
	APIServerArgs []string
	// ReadyTimeout bounds the wait for /readyz (default 90s: a cold start on
	// a busy 2-core machine is slow).
	ReadyTimeout time.Duration
}

// Cluster is a running control plane.
type Cluster struct {
	// Config reaches the apiserver as system:masters. Copy it before
	// changing it (rest.CopyConfig).
	Config *rest.Config
	// Kubeconfig is the path of a kubeconfig file for the same identity,
	// for CLIs run by the test.
	Kubeconfig string
	// Host is https://127.0.0.1:PORT.
	Host string
	// Dir holds certificates, etcd data and the processes' logs.
	Dir string

	procs []*proc
}

type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

// BinDir returns $DRYDOCK_K8S_BINS after checking the binaries are there.
func BinDir(controllerManager bool) (string, error) {
	dir := os.Getenv(EnvBins)
	if dir == "" {
		return "", ErrNoBins
	}
	names := []string{"etcd", "kube-apiserver"}
	if controllerManager {
		names = append(names, "kube-controller-manager")
	}
	for _, n := range names {
		if fi, err := os.Stat(filepath.Join(dir, n)); err != nil || fi.Mode()&0o111 == 0 {
			return "", fmt.Errorf("%s=%s: no executable %s", EnvBins, dir, n)
		}
	}
	return dir, nil
}

// Require returns the binaries directory, or stops the test through
// testenv.NeedPart when $DRYDOCK_K8S_BINS is unset (a skip scripts/test.sh
// fails on; a failure under CI=true).
func Require(tb testing.TB, controllerManager bool) string {
	tb.Helper()
	dir, err := BinDir(controllerManager)
	if errors.Is(err, ErrNoBins) {
		testenv.NeedPart(tb, "kube-apiserver and etcd", "%v", err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return dir
}

// Start starts a cluster for one test and stops it on tb.Cleanup.
func Start(tb testing.TB, opts Options) *Cluster {
	tb.Helper()
	Require(tb, opts.ControllerManager)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := Launch(ctx, tb.TempDir(), opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := c.Stop(); err != nil {
			tb.Logf("k8stest: stop: %v", err)
		}
	})
	return c
}

// Launch starts a cluster whose files live in dir (which must exist and
// which the caller removes after Stop). It suits TestMain, where one
// cluster serves a whole package; tests then call Require to skip cleanly.
func Launch(ctx context.Context, dir string, opts Options) (_ *Cluster, err error) {
	bins, err := BinDir(opts.ControllerManager)
	if err != nil {
		return nil, err
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 90 * time.Second
	}
	c := &Cluster{Dir: dir}
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	pki := filepath.Join(dir, "pki")
	if err := os.MkdirAll(pki, 0o700); err != nil {
		return nil, err
	}
	caPEM, err := writePKI(pki)
	if err != nil {
		return nil, fmt.Errorf("k8stest: certificates: %w", err)
	}

	// Free ports are found by listening on :0 and closing; another process
	// may take one in between, so a failed start is retried with new ports.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		ports, err := freePorts(3)
		if err != nil {
			return nil, err
		}
		lastErr = c.startControlPlane(ctx, bins, dir, pki, caPEM, ports, opts)
		if lastErr == nil {
			break
		}
		c.Stop()
		c.procs = nil
		if ctx.Err() != nil {
			break
		}
	}
	if lastErr != nil {
		return nil, lastErr
	}
	if opts.ControllerManager {
		if err := c.startControllerManager(bins, dir, pki); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *Cluster) startControlPlane(ctx context.Context, bins, dir, pki string, caPEM []byte, ports []int, opts Options) error {
	etcdPort, peerPort, apiPort := ports[0], ports[1], ports[2]
	etcdData := filepath.Join(dir, "etcd-data")
	os.RemoveAll(etcdData)
	etcd, err := c.spawn(bins, dir, "etcd",
		"--name", "test", "--data-dir", etcdData,
		"--listen-client-urls", fmt.Sprintf("http://127.0.0.1:%d", etcdPort),
		"--advertise-client-urls", fmt.Sprintf("http://127.0.0.1:%d", etcdPort),
		"--listen-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", peerPort),
		"--initial-advertise-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", peerPort),
		"--initial-cluster", fmt.Sprintf("test=http://127.0.0.1:%d", peerPort),
		"--unsafe-no-fsync", "--quota-backend-bytes", strconv.Itoa(4<<30),
	)
	if err != nil {
		return err
	}
	args := []string{
		"--etcd-servers", fmt.Sprintf("http://127.0.0.1:%d", etcdPort),
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(apiPort),
		"--tls-cert-file", filepath.Join(pki, "apiserver.crt"),
		"--tls-private-key-file", filepath.Join(pki, "apiserver.key"),
		"--client-ca-file", filepath.Join(pki, "ca.crt"),
		"--token-auth-file", filepath.Join(pki, "tokens.csv"),
		"--authorization-mode", "Node,RBAC",
		"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file", filepath.Join(pki, "sa.pub"),
		"--service-account-signing-key-file", filepath.Join(pki, "sa.key"),
		"--service-cluster-ip-range", "10.0.0.0/24",
		"--endpoint-reconciler-type", "none",
		"--allow-privileged=true",
	}
	if !opts.ControllerManager {
		// Nothing creates the default ServiceAccount without the
		// controller-manager, and the admission plugin would refuse Pods.
		args = append(args, "--disable-admission-plugins", "ServiceAccount")
	}
	args = append(args, opts.APIServerArgs...)
	api, err := c.spawn(bins, dir, "kube-apiserver", args...)
	if err != nil {
		return err
	}

	c.Host = fmt.Sprintf("https://127.0.0.1:%d", apiPort)
	c.Config = &rest.Config{
		Host:            c.Host,
		BearerToken:     Token,
		TLSClientConfig: rest.TLSClientConfig{CAData: caPEM},
		QPS:             200,
		Burst:           400,
	}
	c.Kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(c.Kubeconfig, kubeconfig(c.Host, filepath.Join(pki, "ca.crt")), 0o600); err != nil {
		return err
	}

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	deadline := time.Now().Add(opts.ReadyTimeout)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.Host+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+Token)
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		for _, p := range []*proc{etcd, api} {
			select {
			case <-p.done:
				return fmt.Errorf("k8stest: %s exited (%v):\n%s", p.name, p.err, tail(p.log, 30))
			default:
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("k8stest: kube-apiserver not ready after %s:\n%s", opts.ReadyTimeout, tail(api.log, 30))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *Cluster) startControllerManager(bins, dir, pki string) error {
	_, err := c.spawn(bins, dir, "kube-controller-manager",
		"--kubeconfig", c.Kubeconfig,
		"--authentication-kubeconfig", c.Kubeconfig,
		"--authorization-kubeconfig", c.Kubeconfig,
		"--leader-elect=false", "--secure-port=0",
		"--service-account-private-key-file", filepath.Join(pki, "sa.key"),
		"--root-ca-file", filepath.Join(pki, "ca.crt"),
		"--controllers=*",
	)
	return err
}

func (c *Cluster) spawn(bins, dir, name string, args ...string) (*proc, error) {
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(bins, name), args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("k8stest: start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	c.procs = append(c.procs, p)
	return p, nil
}

// Stop stops the processes, last started first (SIGTERM, then SIGKILL after
// 10s). It is safe to call twice.
func (c *Cluster) Stop() error {
	var errs []error
	for i := len(c.procs) - 1; i >= 0; i-- {
		p := c.procs[i]
		select {
		case <-p.done:
			continue
		default:
		}
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
			errs = append(errs, fmt.Errorf("%s did not stop on SIGTERM", p.name))
		}
	}
	c.procs = nil
	return errors.Join(errs...)
}

// Client returns a clientset for Config.
func (c *Cluster) Client(tb testing.TB) kubernetes.Interface {
	tb.Helper()
	cs, err := kubernetes.NewForConfig(rest.CopyConfig(c.Config))
	if err != nil {
		tb.Fatal(err)
	}
	return cs
}

// Logs returns the tail of a component's log ("etcd", "kube-apiserver",
// "kube-controller-manager"), for failure messages.
func (c *Cluster) Logs(name string, lines int) string {
	return tail(filepath.Join(c.Dir, name+".log"), lines)
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	ls := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, "\n")
}

func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("k8stest: free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func kubeconfig(host, caFile string) []byte {
	return fmt.Appendf(nil, `apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: %q
    certificate-authority: %q
users:
- name: admin
  user:
    token: %s
contexts:
- name: test
  context:
    cluster: test
    user: admin
current-context: test
`, host, caFile, Token)
}

// writePKI writes ca.crt, apiserver.crt/.key (for 127.0.0.1 and
// localhost), sa.key/sa.pub and tokens.csv into dir, and returns the CA PEM.
func writePKI(dir string) ([]byte, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "drydock-test-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.0.0.1")},
		DNSNames:     []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	saPub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return nil, err
	}
	srvKeyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		return nil, err
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	files := map[string][]byte{
		"ca.crt":        caPEM,
		"apiserver.crt": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvDER}),
		"apiserver.key": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: srvKeyDER}),
		"sa.key":        pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(saKey)}),
		"sa.pub":        pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: saPub}),
		"tokens.csv":    []byte(Token + ",admin,admin-uid,system:masters\n"),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return nil, err
		}
	}
	return bytes.Clone(caPEM), nil
}
