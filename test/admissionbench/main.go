// Command admissionbench is a load generator for drydock's admission
// webhook: it starts `drydock admission serve` on loopback against an
// in-process registry holding signed images, sends AdmissionReview requests
// over HTTPS at a fixed rate (open loop: latency is measured from each
// request's scheduled time, so a stalled server cannot hide its queue), and
// prints latency percentiles and the throughput achieved.
//
// Phases:
//   - cached: one pinned, signed image; every request after the first hits
//     the verification cache (the policy is still evaluated per request).
//   - uncached: a new signed image digest per request, so each one costs a
//     registry referrers listing, a manifest fetch and a signature check.
//   - pod100: a Pod naming 100 distinct signed images, against a second
//     webhook with its cache off (--cache-size 0), so every request verifies
//     all 100 under the per-review and per-registry bounds; that webhook's
//     resident memory is printed before the phase and at its peak.
//   - junk100: one signed image whose referrers also hold 100 junk verdicts
//     (signed by an untrusted key, or not statements at all) annotated as
//     newer than the valid one, against the uncached webhook: the latency of
//     finding the valid verdict among junk, and how many were admitted.
//
// Run it with scripts/bench-admission.sh. Everything listens on 127.0.0.1,
// and each phase is bounded in request count and time.
package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drydock/drydock/internal/attest"
	"github.com/drydock/drydock/internal/k8stest"
)

func main() {
	var (
		drydock       = flag.String("drydock", "", "drydock binary")
		cachedRate    = flag.Int("cached-rate", 1000, "requests per second, cached phase")
		cachedN       = flag.Int("cached-n", 10000, "requests, cached phase")
		uncachedRate  = flag.Int("uncached-rate", 50, "requests per second, uncached phase")
		uncachedN     = flag.Int("uncached-n", 300, "requests (distinct signed images), uncached phase")
		referrers     = flag.Bool("referrers", true, "registry serves the OCI referrers API (false: tag schema)")
		targetP99     = flag.Duration("target-p99", 5*time.Millisecond, "cached p99 target")
		phaseDeadline = flag.Duration("phase-timeout", 60*time.Second, "upper bound on each phase")
		repeat        = flag.Int("repeat", 3, "cached phase runs (the machine is shared: each is printed)")
		h2            = flag.Bool("http2", true, "use HTTP/2 (as kube-apiserver does when the webhook offers it)")
		podRate       = flag.Int("pod100-rate", 5, "requests per second, 100-image Pod phase")
		podN          = flag.Int("pod100-n", 25, "requests, 100-image Pod phase")
		junkRate      = flag.Int("junk-rate", 20, "requests per second, junk referrers phase")
		junkN         = flag.Int("junk-n", 50, "requests, junk referrers phase")
		k8sBins       = flag.String("k8s-bins", os.Getenv("DRYDOCK_K8S_BINS"), "etcd and kube-apiserver directory: adds the creds phase (empty: skipped)")
	)
	flag.Parse()
	if *drydock == "" {
		log.Fatal("--drydock is required")
	}
	dir, err := os.MkdirTemp("", "admissionbench-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// Registry and images.
	reg := httptest.NewServer(registry.New(registry.WithReferrersSupport(*referrers), registry.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	host := strings.TrimPrefix(reg.URL, "http://")
	key, _ := attest.GenerateKey()
	signer, _ := attest.NewSigner(key)
	pub, _ := attest.MarshalPublicKey(&key.PublicKey)
	must(os.WriteFile(filepath.Join(dir, "key.pub"), pub, 0o600))
	t0 := time.Now()
	digests := make([]name.Digest, max(*uncachedN, podImages)+1)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range digests {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			digests[i] = pushSigned(host, fmt.Sprintf("bench/app%d:v1", i), signer)
		}()
	}
	wg.Wait()
	junk := pushJunk(host, "bench/junk:v1", signer, junkReferrers)
	fmt.Printf("setup: %d signed images pushed to the in-process registry (referrers API %v), and one with %d junk referrers, in %v\n",
		len(digests), *referrers, junkReferrers, time.Since(t0).Round(time.Millisecond))

	// Webhooks: the default configuration, and one with the cache off for
	// the phases that measure verification itself.
	caPool, certFile, keyFile := writePKI(dir)
	client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: caPool}, ForceAttemptHTTP2: *h2,
		MaxIdleConnsPerHost: 256, MaxConnsPerHost: 0,
	}}
	start := func(extra ...string) (string, *exec.Cmd) {
		port := freePort()
		url := fmt.Sprintf("https://127.0.0.1:%d", port)
		args := append([]string{"admission", "serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port),
			"--tls-cert", certFile, "--tls-key", keyFile, "--key", filepath.Join(dir, "key.pub"), "--log-level", "error"}, extra...)
		cmd := exec.Command(*drydock, args...)
		cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+dir, "DRYDOCK_CACHE_DIR="+filepath.Join(dir, "cache"))
		cmd.Stderr = os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		must(cmd.Start())
		waitReady(client, url)
		return url, cmd
	}
	stop := func(cmd *exec.Cmd) {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		cmd.Wait()
	}
	url, cmd := start()
	defer stop(cmd)

	fmt.Printf("webhook: %s (GOMAXPROCS %d, %d CPUs)\n\n", url, runtime.GOMAXPROCS(0), runtime.NumCPU())
	// Warm the cached image and the connection.
	cachedBody := review(digests[0].String())
	if _, err := post(client, url, cachedBody); err != nil {
		log.Fatal(err)
	}

	var results []result
	for i := 1; i <= *repeat; i++ {
		r := run("cached", client, url, *cachedRate, *cachedN, *phaseDeadline, func(int) []byte { return cachedBody })
		if *repeat > 1 {
			r.name = fmt.Sprintf("cached#%d", i)
		}
		results = append(results, r)
	}
	// The creds phase: the same cached image, from a webhook that reads the
	// Pod's pull secret from a real kube-apiserver (informers) and resolves
	// the Pod's credentials, their identity and the access cache on every
	// request.
	if *k8sBins != "" {
		os.Setenv("DRYDOCK_K8S_BINS", *k8sBins)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		c, err := k8stest.Launch(ctx, filepath.Join(dir, "k8s"), k8stest.Options{})
		cancel()
		must(err)
		defer c.Stop()
		cs, err := kubernetes.NewForConfig(c.Config)
		must(err)
		auth := base64.StdEncoding.EncodeToString([]byte("bench:bench-password"))
		dcj, _ := json.Marshal(map[string]any{"auths": map[string]any{host: map[string]string{"auth": auth}}})
		_, err = cs.CoreV1().Secrets("default").Create(context.Background(), &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "regcred"}, Type: corev1.SecretTypeDockerConfigJson,
			Data: map[string][]byte{corev1.DockerConfigJsonKey: dcj}}, metav1.CreateOptions{})
		must(err)
		crURL, crCmd := start("--kubeconfig", c.Kubeconfig)
		defer stop(crCmd)
		credsBody := reviewWith([]string{"regcred"}, digests[0].String())
		if ok, err := post(client, crURL, credsBody); err != nil || !ok {
			log.Fatalf("creds phase: warm-up request denied or failed: %v", err)
		}
		// Interleaved with the cached phase again, now that etcd and the
		// apiserver share the machine too, so the two compare fairly.
		for i := 1; i <= *repeat; i++ {
			r := run("cached-k8s", client, url, *cachedRate, *cachedN, *phaseDeadline, func(int) []byte { return cachedBody })
			r.name = fmt.Sprintf("cached-k8s#%d", i)
			results = append(results, r)
			r = run("creds", client, crURL, *cachedRate, *cachedN, *phaseDeadline, func(int) []byte { return credsBody })
			r.name = fmt.Sprintf("creds#%d", i)
			results = append(results, r)
		}
	} else {
		fmt.Println("creds phase skipped: no --k8s-bins (DRYDOCK_K8S_BINS)")
	}
	verBefore := metric(client, url, `drydock_admission_verifications_total{result="verified"}`)
	results = append(results, run("uncached", client, url, *uncachedRate, *uncachedN, *phaseDeadline, func(i int) []byte {
		return review(digests[1+i].String())
	}))
	verAfter := metric(client, url, `drydock_admission_verifications_total{result="verified"}`)

	// The uncached webhook: a Pod with 100 distinct images, then junk
	// referrers.
	ncURL, ncCmd := start("--cache-size", "0", "--max-images", fmt.Sprint(podImages))
	defer stop(ncCmd)
	var podRefs []string
	for _, d := range digests[1 : 1+podImages] {
		podRefs = append(podRefs, d.String())
	}
	podBody := review(podRefs...)
	rssBefore, _ := rss(ncCmd.Process.Pid)
	results = append(results, run("pod100", client, ncURL, *podRate, *podN, *phaseDeadline, func(int) []byte { return podBody }))
	rssNow, rssPeak := rss(ncCmd.Process.Pid)
	junkBody := review(junk.String())
	results = append(results, run("junk100", client, ncURL, *junkRate, *junkN, *phaseDeadline, func(int) []byte { return junkBody }))

	fmt.Printf("%-10s %8s %9s %7s %6s %6s %9s %9s %9s %9s %14s  %s\n", "phase", "rate", "achieved", "n", "errors", "denied", "p50", "p90", "p99", "max", "p99 from due", "target")
	for _, r := range results {
		target := "-"
		if strings.HasPrefix(r.name, "cached") || strings.HasPrefix(r.name, "creds") {
			verdict := "MET"
			if r.p(99) >= *targetP99 {
				verdict = "MISSED"
			}
			target = fmt.Sprintf("p99 < %v: %s", *targetP99, verdict)
		}
		fmt.Printf("%-10s %6d/s %7.0f/s %7d %6d %6d %9s %9s %9s %9s %14s  %s\n", r.name, r.rate, r.achieved, len(r.lat), r.errors, r.denied,
			fmtDur(r.p(50)), fmtDur(r.p(90)), fmtDur(r.p(99)), fmtDur(r.max()), fmtDur(pct(r.sched, 99)), target)
	}
	var ck, cr []time.Duration
	for _, r := range results {
		if strings.HasPrefix(r.name, "cached-k8s") {
			ck = append(ck, r.p(99))
		} else if strings.HasPrefix(r.name, "creds") {
			cr = append(cr, r.p(99))
		}
	}
	if len(ck) > 0 && len(cr) > 0 {
		sort.Slice(ck, func(i, j int) bool { return ck[i] < ck[j] })
		sort.Slice(cr, func(i, j int) bool { return cr[i] < cr[j] })
		fmt.Printf("\npull credentials per request: median p99 %s vs %s without (cached, same run, apiserver running): %.2fx\n",
			fmtDur(cr[len(cr)/2]), fmtDur(ck[len(ck)/2]), float64(cr[len(cr)/2])/float64(max(ck[len(ck)/2], 1)))
	}
	fmt.Printf("\nlatency: from send to response, HTTPS on loopback; \"p99 from due\" counts from the scheduled send time (open loop)\n")
	fmt.Printf("registry verifications during the uncached phase: %.0f (want %d: one per request)\n", verAfter-verBefore, *uncachedN)
	fmt.Printf("cache lookups: hit %.0f, miss %.0f\n",
		metric(client, url, `drydock_admission_cache_lookups_total{result="hit"}`),
		metric(client, url, `drydock_admission_cache_lookups_total{result="miss"}`))
	fmt.Printf("pod100: %d distinct signed images per Pod, cache off (%.0f verifications); webhook RSS %.1f MiB before, %.1f MiB after, peak %.1f MiB (%.2fx)\n",
		podImages, metric(client, ncURL, `drydock_admission_verifications_total{result="verified"}`),
		mib(rssBefore), mib(rssNow), mib(rssPeak), float64(rssPeak)/float64(max(rssBefore, 1)))
	fmt.Printf("junk100: one valid verdict beside %d junk referrers annotated as newer; \"denied\" counts requests that did not find it\n", junkReferrers)
}

// Sizes of the pod100 and junk100 phases.
const (
	podImages     = 100
	junkReferrers = 100
)

// rss reads a process's resident set size and its peak (bytes).
func rss(pid int) (now, peak int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1, -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		var kb int64
		if _, err := fmt.Sscanf(line, "VmRSS: %d kB", &kb); err == nil {
			now = kb << 10
		}
		if _, err := fmt.Sscanf(line, "VmHWM: %d kB", &kb); err == nil {
			peak = kb << 10
		}
	}
	return now, peak
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

type result struct {
	name string
	rate int
	// lat is measured from the moment each request was sent; sched from
	// the moment it was due (it adds the generator's own lateness, and
	// the server's queue when it falls behind).
	lat, sched []time.Duration
	errors     int // transport errors and non-200 answers
	denied     int // answered, not allowed
	achieved   float64
}

func (r result) p(q float64) time.Duration { return pct(r.lat, q) }

func pct(l []time.Duration, q float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	return l[int(float64(len(l)-1)*q/100)]
}

func (r result) max() time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[len(r.lat)-1]
}

// run sends n requests at rate per second, open loop.
func run(phase string, client *http.Client, url string, rate, n int, limit time.Duration, body func(i int) []byte) result {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	interval := time.Second / time.Duration(rate)
	lat, sched := make([]time.Duration, n), make([]time.Duration, n)
	var errs, denied atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	sent := 0
	for i := 0; i < n; i++ {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		if ctx.Err() != nil {
			break
		}
		sent++
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent := time.Now()
			ok, err := post(client, url, body(i))
			switch {
			case err != nil:
				errs.Add(1)
			case !ok:
				denied.Add(1)
			}
			lat[i], sched[i] = time.Since(sent), time.Since(due)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	lat, sched = lat[:sent], sched[:sent]
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	sort.Slice(sched, func(a, b int) bool { return sched[a] < sched[b] })
	return result{name: phase, rate: rate, lat: lat, sched: sched, errors: int(errs.Load()), denied: int(denied.Load()), achieved: float64(sent) / elapsed.Seconds()}
}

// post sends one review and reports whether the image was allowed.
func post(client *http.Client, url string, body []byte) (bool, error) {
	resp, err := client.Post(url+"/validate", "application/json", bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	var rv struct {
		Response struct {
			Allowed bool `json:"allowed"`
		} `json:"response"`
	}
	if resp.StatusCode != 200 {
		return false, fmt.Errorf("status %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&rv); err != nil {
		return false, err
	}
	return rv.Response.Allowed, nil
}

var uid atomic.Int64

// review is a Pod CREATE with one container per image.
func review(images ...string) []byte { return reviewWith(nil, images...) }

// reviewWith is review of a Pod naming pullSecrets as imagePullSecrets.
func reviewWith(pullSecrets []string, images ...string) []byte {
	var cs []any
	for i, im := range images {
		cs = append(cs, map[string]any{"name": fmt.Sprintf("app%d", i), "image": im,
			"resources": map[string]any{"requests": map[string]string{"cpu": "10m"}}})
	}
	pod := map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": "bench", "namespace": "default", "labels": map[string]string{"app": "bench"}},
		"spec":     map[string]any{"containers": cs},
	}
	var refs []any
	for _, n := range pullSecrets {
		refs = append(refs, map[string]string{"name": n})
	}
	if refs != nil {
		pod["spec"].(map[string]any)["imagePullSecrets"] = refs
	}
	b, _ := json.Marshal(map[string]any{
		"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
		"request": map[string]any{
			"uid": fmt.Sprintf("bench-%d", uid.Add(1)), "kind": map[string]string{"group": "", "version": "v1", "kind": "Pod"},
			"resource":  map[string]string{"group": "", "version": "v1", "resource": "pods"},
			"namespace": "default", "operation": "CREATE", "userInfo": map[string]any{"username": "bench"},
			"object": pod,
		},
	})
	return b
}

func pushSigned(host, repoTag string, s *attest.Signer) name.Digest {
	tag, err := name.NewTag(host + "/" + repoTag)
	must(err)
	img, err := random.Image(256, 1)
	must(err)
	must(remote.Write(tag, img))
	h, _ := img.Digest()
	d := tag.Context().Digest(h.String())
	st, err := attest.NewStatement(d.Context().Name(), []string{d.DigestStr()}, attest.Predicate{
		Scanner: attest.Scanner{Name: "drydock", Version: "bench"}, Counts: map[string]int{}, Findings: []string{},
		Policy: attest.Policy{Name: "bench", Result: attest.ResultPass, Violations: []string{}},
		Time:   time.Now().UTC().Truncate(time.Second), Image: attest.Image{Ref: d.String(), Digest: d.DigestStr()},
	})
	must(err)
	_, _, err = attest.Attest(context.Background(), s, st, []name.Digest{d})
	must(err)
	return d
}

// pushJunk pushes a signed image and, annotated as newer than its valid
// verdict, n junk verdict referrers: half statements signed by a key the
// webhook does not trust, half signed payloads that are not statements.
func pushJunk(host, repoTag string, s *attest.Signer, n int) name.Digest {
	d := pushSigned(host, repoTag, s)
	otherKey, _ := attest.GenerateKey()
	other, _ := attest.NewSigner(otherKey)
	st, err := attest.NewStatement(d.Context().Name(), []string{d.DigestStr()}, attest.Predicate{
		Scanner: attest.Scanner{Name: "drydock", Version: "bench"}, Counts: map[string]int{}, Findings: []string{},
		Policy: attest.Policy{Name: "bench", Result: attest.ResultPass, Violations: []string{}},
		Time:   time.Now().UTC().Truncate(time.Second), Image: attest.Image{Ref: d.String(), Digest: d.DigestStr()},
	})
	must(err)
	for i := range n {
		var env *attest.Envelope
		if i%2 == 0 {
			env, err = other.Sign(st)
		} else {
			env, err = other.SignPayload("application/vnd.in-toto+json", []byte(fmt.Sprintf(`{"junk":%d}`, i)))
		}
		must(err)
		created := time.Now().Add(time.Duration(i+1) * time.Minute).UTC().Format(time.RFC3339Nano)
		_, err = attest.PushEnvelope(context.Background(), d, env, map[string]string{attest.AnnotationCreated: created})
		must(err)
	}
	return d
}

func writePKI(dir string) (*x509.CertPool, string, string) {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	must(err)
	ca, _ := x509.ParseCertificate(caDER)
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
	must(err)
	kd, _ := x509.MarshalPKCS8PrivateKey(k)
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	must(os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	must(os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), 0o600))
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool, certFile, keyFile
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitReady(client *http.Client, url string) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := client.Get(url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	log.Fatal("webhook not ready after 30s")
}

// metric reads one sample from /metrics.
func metric(client *http.Client, url, series string) float64 {
	resp, err := client.Get(url + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` ([0-9.e+]+)$`).FindSubmatch(b)
	if m == nil {
		return 0
	}
	var v float64
	fmt.Sscan(string(m[1]), &v)
	return v
}

func fmtDur(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
