package server_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drydock/drydock/internal/k8stest"
	"github.com/drydock/drydock/internal/registryauth"
	"github.com/drydock/drydock/internal/server"
	"github.com/drydock/drydock/internal/store"
)

const (
	runDigest  = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	nextDigest = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
)

// Against a real kube-apiserver: a Pod of a Deployment (through its
// ReplicaSet), its status written as a kubelet would, shows up as the
// Deployment's running digest; the unscanned digest is queued for a scan;
// a rollout moves the workload and the Pod's deletion forgets it.
func TestClusterWatchRealAPIServer(t *testing.T) {
	c := k8stest.Start(t, k8stest.Options{})
	cs := c.Client(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "s.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	ns := "shop"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	one := int32(1)
	labels := map[string]string{"app": "web"}
	tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "reg.example/team/app:1"}}}}
	dep, err := cs.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: tmpl}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	rs, err := cs.AppsV1().ReplicaSets(ns).Create(ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-abc", Labels: labels,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: dep.Name, UID: dep.UID, Controller: &yes}}},
		Spec: appsv1.ReplicaSetSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: tmpl}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var queued []string
	cw := &server.ClusterWatch{Name: "test", Client: cs, Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Scan: func(_ context.Context, ref string, _ registryauth.Workload) error {
			mu.Lock()
			defer mu.Unlock()
			queued = append(queued, ref)
			return nil
		}}
	go cw.Run(ctx)

	pod, err := cs.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-abc-1", Labels: labels,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: &yes}}},
		Spec: tmpl.Spec}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	setRunning := func(p *corev1.Pod, digest string) {
		t.Helper()
		p.Status = corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
			Name: "app", Image: "reg.example/team/app:1", ImageID: "reg.example/team/app@" + digest, Ready: true,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}},
		}}}
		if _, err := cs.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	setRunning(pod, runDigest)

	waitFor(t, "the running digest recorded", func() bool {
		ws, _ := st.Workloads(ctx, "")
		return len(ws) == 1 && ws[0].Digest == runDigest
	})
	ws, _ := st.Workloads(ctx, "")
	if got, want := ws[0].Key(), "test/shop/Deployment/web/app"; got != want {
		t.Errorf("workload = %s, want %s", got, want)
	}
	waitFor(t, "the unscanned digest queued", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(queued) > 0 && queued[0] == "reg.example/team/app@"+runDigest
	})

	// A rollout: the same Pod now runs another digest.
	pod, _ = cs.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
	setRunning(pod, nextDigest)
	waitFor(t, "the workload moved", func() bool {
		ws, _ := st.Workloads(ctx, "")
		return len(ws) == 1 && ws[0].Digest == nextDigest
	})
	stopped, _ := st.Events(ctx, store.EventFilter{Kind: store.EventStopped, Digest: runDigest})
	if len(stopped) != 1 {
		t.Errorf("%d stopped events for the old digest, want 1", len(stopped))
	}

	if err := cs.CoreV1().Pods(ns).Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the workload forgotten", func() bool {
		ws, _ := st.Workloads(ctx, "")
		return len(ws) == 0
	})
}
