package deploy_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/drydock/drydock/internal/deploy"
	"github.com/drydock/drydock/internal/k8stest"

	"github.com/drydock/drydock/internal/testenv"
)

// The benchmarks use a cluster of their own without kube-controller-manager:
// objects stay exactly as created (no ReplicaSets or Pods appear), which
// keeps 1,000 Deployments and 10,000 Pods cheap on a small machine. Scale:
// DRYDOCK_BENCH_DEPLOYMENTS (1000), DRYDOCK_BENCH_AFFECTED (200),
// DRYDOCK_BENCH_NAMESPACES (50), DRYDOCK_BENCH_PODS (10000).

var (
	benchOnce sync.Once
	bench     *k8stest.Cluster
	benchErr  error
)

func benchCluster(b *testing.B) (*k8stest.Cluster, kubernetes.Interface) {
	b.Helper()
	k8stest.Require(b, false)
	benchOnce.Do(func() {
		dir, err := os.MkdirTemp("", "drydock-deploy-bench-")
		if err != nil {
			benchErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		bench, benchErr = k8stest.Launch(ctx, dir, k8stest.Options{})
		if benchErr == nil {
			shutdown = append(shutdown, func() { bench.Stop(); os.RemoveAll(dir) })
		}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	cfg := rest.CopyConfig(bench.Config)
	cfg.QPS, cfg.Burst = 2000, 4000
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return bench, cs
}

// shutdown runs after the tests and benchmarks (see TestMain).
var shutdown []func()

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// parallel runs f(0..n-1) on 16 workers and returns the first error.
func parallel(n int, f func(i int) error) error {
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

func ensureNamespaces(ctx context.Context, cs kubernetes.Interface, prefix string, n int) error {
	return parallel(n, func(i int) error {
		_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%02d", prefix, i)}}, metav1.CreateOptions{})
		if err != nil && !isAlreadyExists(err) {
			return err
		}
		return nil
	})
}

// BenchmarkRolloutFindAndPatch: find the workloads that run the old image
// among DRYDOCK_BENCH_DEPLOYMENTS Deployments in DRYDOCK_BENCH_NAMESPACES
// namespaces (DRYDOCK_BENCH_AFFECTED of them run it and opted in), and patch
// them to the new digest, without waiting. Each iteration rolls to the
// other of two digests, so every iteration patches them all.
func BenchmarkRolloutFindAndPatch(b *testing.B) {
	_, cs := benchCluster(b)
	ctx := context.Background()
	nDeploy := envInt("DRYDOCK_BENCH_DEPLOYMENTS", 1000)
	nAffected := envInt("DRYDOCK_BENCH_AFFECTED", 200)
	nNS := envInt("DRYDOCK_BENCH_NAMESPACES", 50)
	if err := ensureNamespaces(ctx, cs, "bench-roll", nNS); err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	step := nDeploy / nAffected
	err := parallel(nDeploy, func(i int) error {
		ns := fmt.Sprintf("bench-roll-%02d", i%nNS)
		img := fmt.Sprintf("reg.example/bench/svc-%d:1.0", i)
		affected := i%step == 0 && i/step < nAffected
		if affected {
			img = "reg.example/bench/app@" + oldDigest
		}
		d := deployment(ns, fmt.Sprintf("svc-%04d", i), img, 3, affected)
		_, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{})
		if isAlreadyExists(err) {
			return nil
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("created %d Deployments in %d namespaces in %s", nDeploy, nNS, time.Since(t0).Round(time.Millisecond))
	digests := []string{newDigest, oldDigest}
	var findTotal time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		target, err := name.NewDigest("reg.example/bench/app@" + digests[i%2])
		if err != nil {
			b.Fatal(err)
		}
		// Find alone is timed apart; ns/op is Rollout, which finds again
		// and patches.
		b.StopTimer()
		ft := time.Now()
		found, err := deploy.Find(ctx, cs, target, deploy.RolloutOptions{})
		if err != nil {
			b.Fatal(err)
		}
		findTotal += time.Since(ft)
		b.StartTimer()
		rep, err := deploy.Rollout(ctx, cs, target, deploy.RolloutOptions{Concurrency: 16})
		if err != nil {
			b.Fatal(err)
		}
		patched := 0
		for _, r := range rep.Results {
			if r.Status == deploy.StatusPatched {
				patched++
			}
		}
		if patched != nAffected || len(found) != nAffected {
			b.Fatalf("found %d, patched %d, want %d", len(found), patched, nAffected)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(findTotal.Milliseconds())/float64(b.N), "find-ms/op")
	b.ReportMetric(float64(nAffected), "patched/op")
}

// BenchmarkRuntimePods: `drydock runtime --format json` over
// DRYDOCK_BENCH_PODS Pods (with container statuses) owned by ReplicaSets
// owned by Deployments, in DRYDOCK_BENCH_NAMESPACES namespaces; reports
// the CLI's peak RSS from /usr/bin/time -v.
func BenchmarkRuntimePods(b *testing.B) {
	c, cs := benchCluster(b)
	if _, err := os.Stat("/usr/bin/time"); err != nil {
		testenv.NeedPart(b, "/usr/bin/time", "it measures peak RSS (apt-get install time)")
	}
	ctx := context.Background()
	nPods := envInt("DRYDOCK_BENCH_PODS", 10000)
	nNS := envInt("DRYDOCK_BENCH_NAMESPACES", 50)
	if err := ensureNamespaces(ctx, cs, "bench-pods", nNS); err != nil {
		b.Fatal(err)
	}
	// One ReplicaSet per 10 Pods, each owned by a Deployment object (no
	// controller runs, so none of them acts).
	nRS := (nPods + 9) / 10
	rsUID := make([]types.UID, nRS)
	t0 := time.Now()
	err := parallel(nRS, func(i int) error {
		ns := fmt.Sprintf("bench-pods-%02d", i%nNS)
		rs := &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("svc-%04d-5d4c8b7f9", i),
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: fmt.Sprintf("svc-%04d", i), UID: types.UID(fmt.Sprintf("00000000-0000-0000-0000-%012d", i)), Controller: ptr(true)}}},
			Spec: appsv1.ReplicaSetSpec{Replicas: ptr(int32(10)), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": fmt.Sprint(i)}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": fmt.Sprint(i)}},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "x"}}}}},
		}
		got, err := cs.AppsV1().ReplicaSets(ns).Create(ctx, rs, metav1.CreateOptions{})
		if isAlreadyExists(err) {
			got, err = cs.AppsV1().ReplicaSets(ns).Get(ctx, rs.Name, metav1.GetOptions{})
		}
		if err != nil {
			return err
		}
		rsUID[i] = got.UID
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	err = parallel(nPods, func(i int) error {
		r := i / 10
		ns := fmt.Sprintf("bench-pods-%02d", r%nNS)
		img := fmt.Sprintf("reg.example/bench/svc-%d:1.%d", r, i%3)
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("svc-%04d-5d4c8b7f9-%05d", r, i),
				Labels:          map[string]string{"app": fmt.Sprint(r), "pod-template-hash": "5d4c8b7f9", "team": "bench"},
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: fmt.Sprintf("svc-%04d-5d4c8b7f9", r), UID: rsUID[r], Controller: ptr(true)}}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{
				{Name: "app", Image: img, Env: []corev1.EnvVar{{Name: "MODE", Value: "production"}, {Name: "PORT", Value: "8080"}},
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")}},
					Ports:     []corev1.ContainerPort{{ContainerPort: 8080, Name: "http"}}},
				{Name: "proxy", Image: "reg.example/infra/proxy:2"},
			}},
		}
		created, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
		if isAlreadyExists(err) {
			return nil
		}
		if err != nil {
			return err
		}
		markRunning(created, fakeImageID)
		_, err = cs.CoreV1().Pods(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("created %d Pods (with status) and %d ReplicaSets in %s", nPods, nRS, time.Since(t0).Round(time.Millisecond))
	bin := drydockBinary(b)
	rssRE := regexp.MustCompile(`Maximum resident set size \(kbytes\): (\d+)`)
	b.ResetTimer()
	var peak int
	var outBytes int
	for i := 0; i < b.N; i++ {
		cmd := exec.Command("/usr/bin/time", "-v", bin, "runtime", "--kubeconfig", c.Kubeconfig, "--format", "json")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			b.Fatalf("drydock runtime: %v\n%s", err, errb.String())
		}
		m := rssRE.FindStringSubmatch(errb.String())
		if m == nil {
			b.Fatalf("no RSS in /usr/bin/time output:\n%s", errb.String())
		}
		kb, _ := strconv.Atoi(m[1])
		peak = max(peak, kb)
		outBytes = out.Len()
		if n := bytes.Count(out.Bytes(), []byte(`"kind":"Deployment"`)); n != 2*nPods {
			b.Fatalf("%d containers resolved to a Deployment, want %d", n, 2*nPods)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(peak)/1024, "peak-RSS-MiB")
	b.ReportMetric(float64(outBytes)/(1<<20), "json-MiB")
	b.ReportMetric(float64(nPods), "pods")
}
