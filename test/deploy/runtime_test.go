package deploy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drydock/drydock/internal/deploy"
	"github.com/drydock/drydock/internal/testenv"
)

// push writes a random image to ref and returns its digest.
func push(t *testing.T, ref string) string {
	t.Helper()
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func setStatus(t *testing.T, p *corev1.Pod, imageIDs map[string]string) {
	t.Helper()
	markRunning(p, func(image string) string { return imageIDs[image] })
	for i := range p.Spec.InitContainers {
		p.Status.InitContainerStatuses = append(p.Status.InitContainerStatuses, corev1.ContainerStatus{
			Name: p.Spec.InitContainers[i].Name, Image: p.Spec.InitContainers[i].Image, ImageID: imageIDs[p.Spec.InitContainers[i].Image],
		})
	}
}

// Runtime finds each container's workload through its owners (Pod →
// ReplicaSet → Deployment, Pod → Job → CronJob, Pod → StatefulSet, bare
// Pods), the digest it runs, drift against the tag as the registry resolves
// it now and against a pinned digest, and joins scan reports (findings, and
// a base image whose tag has moved on).
func TestRuntimeOwnersDriftAndReports(t *testing.T) {
	c, cs := cluster(t)
	ctx := context.Background()
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	host := strings.TrimPrefix(reg.URL, "http://")

	appTag := host + "/team/app:1"
	d0 := push(t, appTag) // what the pods pulled
	d1 := push(t, appTag) // what the tag names now
	baseTag := host + "/base/debian:12"
	b0 := push(t, baseTag)
	b1 := push(t, baseTag)
	appRepo := host + "/team/app"

	ns := "rt"
	namespace(t, cs, ns)
	dep := deployment(ns, "web", appTag, 2, false)
	dep.Spec.Template.Spec.Containers = dep.Spec.Template.Spec.Containers[:1]
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cj, err := cs.BatchV1().CronJobs(ns).Create(ctx, &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "nightly"},
		Spec: batchv1.CronJobSpec{Schedule: "0 3 * * *", Suspend: ptr(true), JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "job", Image: appRepo + "@" + d1}}}},
		}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// What the CronJob controller would do at 03:00: a Job it controls.
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "nightly-29000000",
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "CronJob", Name: cj.Name, UID: cj.UID, Controller: ptr(true)}}},
		Spec: cj.Spec.JobTemplate.Spec,
	}
	if _, err := cs.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "db"}
	if _, err := cs.AppsV1().StatefulSets(ns).Create(ctx, &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db"},
		Spec: appsv1.StatefulSetSpec{Replicas: ptr(int32(1)), ServiceName: "db", Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
				InitContainers: []corev1.Container{{Name: "init", Image: appRepo + "@" + d0}},
				Containers:     []corev1.Container{{Name: "db", Image: appRepo + "@" + d0}}}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "debug"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "sh", Image: appRepo + "@" + d1}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// The controllers make 2 + 1 + 1 Pods; with the bare one, 5.
	var pods []corev1.Pod
	waitFor(t, 60e9, "the controllers' pods", func() (bool, error) {
		l, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		pods = l.Items
		return len(pods) == 5, nil
	})
	// Play kubelet. One web Pod runs the digest the tag named when it was
	// pulled (d0), the other the current one; the bare Pod pins d1 but
	// runs d0; the others run what they pin.
	webSeen := 0
	for i := range pods {
		p := &pods[i]
		ids := map[string]string{}
		switch {
		case strings.HasPrefix(p.Name, "web-"):
			d := d0
			if webSeen == 1 {
				d = d1
			}
			webSeen++
			ids[appTag] = "docker-pullable://" + appRepo + "@" + d
		case p.Name == "debug":
			ids[appRepo+"@"+d1] = appRepo + "@" + d0
		default:
			ids[appRepo+"@"+d0] = appRepo + "@" + d0
			ids[appRepo+"@"+d1] = appRepo + "@" + d1
		}
		setStatus(t, p, ids)
		if _, err := cs.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	reports := t.TempDir()
	writeReport(t, filepath.Join(reports, "app-d0.json"), d0, baseTag, b0, []string{"CVE-2024-0001", "CVE-2024-0002"})
	writeReport(t, filepath.Join(reports, "app-d1.json"), d1, baseTag, b1, nil)
	rs, err := deploy.LoadReports(reports)
	if err != nil {
		t.Fatal(err)
	}

	var got []deploy.Container
	err = deploy.Runtime(ctx, cs, deploy.RuntimeOptions{
		Namespaces: []string{ns}, PageSize: 2, Resolver: deploy.NewRegistryResolver(false), Reports: rs,
	}, func(c deploy.Container) error {
		got = append(got, c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Workload, Container string
		Init                bool
		Running             string
		Drift               bool
		Findings            int
		BaseOutdated        bool
	}
	var rows []row
	for _, c := range got {
		r := row{Workload: c.Workload.Kind + "/" + c.Workload.Name, Container: c.Container, Init: c.Init, Drift: c.Drift}
		r.Running = map[string]string{d0: "d0", d1: "d1"}[c.RunningDigest]
		if c.Findings != nil {
			r.Findings = c.Findings.Total
		}
		r.BaseOutdated = c.Base != nil && c.Base.Outdated
		if c.Problem != "" {
			t.Errorf("%s/%s: problem %s", c.Pod, c.Container, c.Problem)
		}
		rows = append(rows, r)
	}
	sort.Slice(rows, func(i, j int) bool { return fmt.Sprint(rows[i]) < fmt.Sprint(rows[j]) })
	want := []row{
		{Workload: "CronJob/nightly", Container: "job", Running: "d1"},
		{Workload: "Deployment/web", Container: "app", Running: "d0", Drift: true, Findings: 2, BaseOutdated: true},
		{Workload: "Deployment/web", Container: "app", Running: "d1"},
		{Workload: "Pod/debug", Container: "sh", Running: "d0", Drift: true, Findings: 2, BaseOutdated: true},
		{Workload: "StatefulSet/db", Container: "db", Running: "d0", Findings: 2, BaseOutdated: true},
		{Workload: "StatefulSet/db", Container: "init", Init: true, Running: "d0", Findings: 2, BaseOutdated: true},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("runtime (-want +got):\n%s", diff)
	}
	for _, c := range got {
		if c.Workload.Kind == "Deployment" && c.Drift && !strings.Contains(c.DriftReason, "tag 1 now "+deploy.ShortDigest(d1)) {
			t.Errorf("drift reason %q", c.DriftReason)
		}
		if c.Workload.Kind == "Pod" && !strings.Contains(c.DriftReason, "spec pins "+deploy.ShortDigest(d1)) {
			t.Errorf("drift reason %q", c.DriftReason)
		}
	}

	// The CLI says the same, in JSON and as a table.
	bin := drydockBinary(t)
	out, err := exec.Command(bin, "runtime", "--kubeconfig", c.Kubeconfig, "-n", ns, "--format", "json", "--resolve", "--reports", reports).Output()
	if err != nil {
		t.Fatalf("drydock runtime: %v\n%s", err, exitStderr(err))
	}
	var fromCLI []deploy.Container
	if err := json.Unmarshal(out, &fromCLI); err != nil {
		t.Fatalf("runtime JSON: %v\n%s", err, out)
	}
	drifts := 0
	for _, c := range fromCLI {
		if c.Drift {
			drifts++
		}
	}
	if len(fromCLI) != len(got) || drifts != 2 {
		t.Errorf("CLI JSON: %d containers (%d drifting), want %d (2)", len(fromCLI), drifts, len(got))
	}
	out, err = exec.Command(bin, "runtime", "--kubeconfig", c.Kubeconfig, "-n", ns, "--format", "table", "--resolve", "--reports", reports).Output()
	if err != nil {
		t.Fatalf("drydock runtime: %v\n%s", err, exitStderr(err))
	}
	table := string(out)
	t.Logf("drydock runtime:\n%s", table)
	for _, s := range []string{"deployment/web", "cronjob/nightly", "statefulset/db", "DRIFT: running " + deploy.ShortDigest(d0), "2 (H:2)", "outdated (" + baseTag} {
		if !strings.Contains(table, s) {
			t.Errorf("table lacks %q:\n%s", s, table)
		}
	}
}

func writeReport(t *testing.T, path, digest, baseName, baseDigest string, cves []string) {
	t.Helper()
	type finding struct {
		ID       string            `json:"id"`
		Severity map[string]string `json:"severity"`
		Package  map[string]string `json:"package"`
	}
	doc := map[string]any{
		"schemaVersion": 1,
		"source":        map[string]string{"kind": "registry", "digest": digest, "baseName": baseName, "baseDigest": baseDigest},
		"findings":      []finding{},
	}
	var fs []finding
	for _, id := range cves {
		fs = append(fs, finding{ID: id, Severity: map[string]string{"rating": "HIGH"}, Package: map[string]string{"name": "libssl3", "version": "3.0.11-1"}})
	}
	if fs != nil {
		doc["findings"] = fs
	}
	b, _ := json.Marshal(doc)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// drydockBinary builds cmd/drydock once per test binary.
func drydockBinary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "drydock-deploy-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "drydock")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/drydock")
		cmd.Dir = testenv.ModuleRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("build drydock: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func exitStderr(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
