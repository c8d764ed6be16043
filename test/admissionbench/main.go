// Command admissionbench is a load generator for drydock's admission
// webhook: it starts `drydock admission serve` on loopback against an
// in-process registry holding signed images, sends AdmissionReview requests
// over HTTPS at a fixed rate (open loop: latency is measured from each
// request's scheduled time, so a stalled server cannot hide its queue), and
// prints latency percentiles and the throughput achieved.
//
// Two phases:
//   - cached: one pinned, signed image; every request after the first hits
//     the verification cache (the policy is still evaluated per request).
//   - uncached: a new signed image digest per request, so each one costs a
//     registry referrers listing, a manifest fetch and a signature check.
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

	"github.com/drydock/drydock/internal/attest"
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
	digests := make([]name.Digest, *uncachedN+1)
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
	fmt.Printf("setup: %d signed images pushed to the in-process registry (referrers API %v) in %v\n", len(digests), *referrers, time.Since(t0).Round(time.Millisecond))

	// Webhook.
	caPool, certFile, keyFile := writePKI(dir)
	port := freePort()
	url := fmt.Sprintf("https://127.0.0.1:%d", port)
	cmd := exec.Command(*drydock, "admission", "serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port),
		"--tls-cert", certFile, "--tls-key", keyFile, "--key", filepath.Join(dir, "key.pub"), "--log-level", "error")
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+dir, "DRYDOCK_CACHE_DIR="+filepath.Join(dir, "cache"))
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	must(cmd.Start())
	defer func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		cmd.Wait()
	}()
	client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: caPool}, ForceAttemptHTTP2: *h2,
		MaxIdleConnsPerHost: 256, MaxConnsPerHost: 0,
	}}
	waitReady(client, url)

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
	verBefore := metric(client, url, `drydock_admission_verifications_total{result="verified"}`)
	results = append(results, run("uncached", client, url, *uncachedRate, *uncachedN, *phaseDeadline, func(i int) []byte {
		return review(digests[1+i].String())
	}))
	verAfter := metric(client, url, `drydock_admission_verifications_total{result="verified"}`)

	fmt.Printf("%-10s %8s %9s %7s %6s %9s %9s %9s %9s %14s  %s\n", "phase", "rate", "achieved", "n", "errors", "p50", "p90", "p99", "max", "p99 from due", "target")
	for _, r := range results {
		target := "-"
		if strings.HasPrefix(r.name, "cached") {
			verdict := "MET"
			if r.p(99) >= *targetP99 {
				verdict = "MISSED"
			}
			target = fmt.Sprintf("p99 < %v: %s", *targetP99, verdict)
		}
		fmt.Printf("%-10s %6d/s %7.0f/s %7d %6d %9s %9s %9s %9s %14s  %s\n", r.name, r.rate, r.achieved, len(r.lat), r.errors,
			fmtDur(r.p(50)), fmtDur(r.p(90)), fmtDur(r.p(99)), fmtDur(r.max()), fmtDur(pct(r.sched, 99)), target)
	}
	fmt.Printf("\nlatency: from send to response, HTTPS on loopback; \"p99 from due\" counts from the scheduled send time (open loop)\n")
	fmt.Printf("registry verifications during the uncached phase: %.0f (want %d: one per request)\n", verAfter-verBefore, *uncachedN)
	fmt.Printf("cache lookups: hit %.0f, miss %.0f\n",
		metric(client, url, `drydock_admission_cache_lookups_total{result="hit"}`),
		metric(client, url, `drydock_admission_cache_lookups_total{result="miss"}`))
}

type result struct {
	name string
	rate int
	// lat is measured from the moment each request was sent; sched from
	// the moment it was due (it adds the generator's own lateness, and
	// the server's queue when it falls behind).
	lat, sched []time.Duration
	errors     int
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
	var errs atomic.Int64
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
			if err != nil || !ok {
				errs.Add(1)
			}
			lat[i], sched[i] = time.Since(sent), time.Since(due)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	lat, sched = lat[:sent], sched[:sent]
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	sort.Slice(sched, func(a, b int) bool { return sched[a] < sched[b] })
	return result{name: phase, rate: rate, lat: lat, sched: sched, errors: int(errs.Load()), achieved: float64(sent) / elapsed.Seconds()}
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

func review(image string) []byte {
	pod := map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": "bench", "namespace": "default", "labels": map[string]string{"app": "bench"}},
		"spec": map[string]any{"containers": []any{map[string]any{"name": "app", "image": image,
			"resources": map[string]any{"requests": map[string]string{"cpu": "10m"}}}}},
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
