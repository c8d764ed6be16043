package server_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drydock/drydock/internal/k8stest"
	"github.com/drydock/drydock/internal/loop"
	"github.com/drydock/drydock/internal/server"
)

// The freshness loop of the server rolls out: against a real
// kube-apiserver with its controller-manager (Pods' status written as a
// kubelet would), a base push leads to the app rebuilt, scanned, and
// rolled out to the Deployment that opted in (drydock.dev/auto-deploy),
// which becomes available on the rebuilt digest; the Deployment that did
// not opt in keeps its image; the rollout is an event of the API, and the
// Pod informer sees the new digest running.
func TestServerFreshnessLoopDeploys(t *testing.T) {
	k8stest.Require(t, true)
	kc := k8stest.Start(t, k8stest.Options{ControllerManager: true})
	cs := kc.Client(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	lay := demoLayout(t)
	reg := startRegistry(t)
	base := push(t, lay, "base", reg.host+"/os/debian:12")
	app := push(t, lay, "app", reg.host+"/team/app:1")
	running := app.String()

	ns := "shop"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []struct {
		name  string
		optIn bool
	}{{"web", true}, {"legacy", false}} {
		if _, err := cs.AppsV1().Deployments(ns).Create(ctx, deploymentOf(d.name, running, d.optIn), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	playKubelet(ctx, t, cs, ns)
	waitFor(t, "web available", func() bool { return available(ctx, cs, ns, "web") })

	dir := t.TempDir()
	yaml := fmt.Sprintf(`images:
  - name: app
    image: %s/team/app:1
    base: %s/os/debian:12
    rebuild:
      kind: rebase
watch:
  pollInterval: 0s
server:
  crawlInterval: 0s
  dbUpdateInterval: 0s
  clusters:
    - name: test
      kubeconfig: %s
`, reg.host, reg.host, kc.Kubeconfig)
	r := newReconciler(ctx, t, yaml, &loop.DeployOptions{Kubeconfig: kc.Kubeconfig, ExcludeNamespaces: []string{"kube-system"}, RolloutTimeout: 90 * time.Second})
	c := startServer(t, yaml, dir, filepath.Join(dir, "vulndb.sqlite"), func(o *server.Options) { o.Reconciler = r })

	// The informer records what runs before anything moved.
	waitFor(t, "web seen running the app", func() bool { return runs(t, c, "web", app.DigestStr()) })

	moveBase(t, c, base, reg.host, "os/debian", "12")

	var rollout struct {
		Events []struct{ Kind, Digest, Detail string }
	}
	waitFor(t, "a rollout event", func() bool {
		return c.get(t, "/api/v1/events?kind=rollout", &rollout) == 200 && len(rollout.Events) > 0
	})
	rebuilt := rollout.Events[0].Digest
	if rebuilt == "" || rebuilt == app.DigestStr() {
		t.Fatalf("rollout event names digest %q; want the rebuilt one", rebuilt)
	}
	if d := rollout.Events[0].Detail; !strings.Contains(d, "1 updated") || !strings.Contains(d, "1 skipped") {
		t.Errorf("rollout detail = %q; want 1 updated (web) and 1 skipped (legacy)", d)
	}
	want := reg.host + "/team/app@" + rebuilt
	if got := imageOf(ctx, t, cs, ns, "web"); got != want {
		t.Errorf("web runs %s; want the rebuilt %s", got, want)
	}
	if got := imageOf(ctx, t, cs, ns, "legacy"); got != running {
		t.Errorf("legacy did not opt in but runs %s", got)
	}
	waitFor(t, "web seen running the rebuilt digest", func() bool { return runs(t, c, "web", rebuilt) })
	waitFor(t, "the rebuilt digest scanned", func() bool {
		var d struct{ ScannedAt time.Time }
		return c.get(t, "/api/v1/images/"+rebuilt, &d) == 200 && !d.ScannedAt.IsZero()
	})
}

func deploymentOf(name, image string, optIn bool) *appsv1.Deployment {
	one := int32(1)
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}}}},
	}
	if optIn {
		d.Labels["drydock.dev/auto-deploy"] = "true"
	}
	return d
}

// playKubelet marks every Pod of ns Running and Ready through the status
// subresource, with the image ID a runtime reports for a pinned image.
func playKubelet(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns string) {
	go func() {
		for ctx.Err() == nil {
			pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err == nil {
				for i := range pods.Items {
					p := &pods.Items[i]
					if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodRunning {
						continue
					}
					now := metav1.Now()
					p.Status.Phase = corev1.PodRunning
					p.Status.StartTime = &now
					p.Status.Conditions = []corev1.PodCondition{
						{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
						{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
					}
					p.Status.ContainerStatuses = nil
					for _, c := range p.Spec.Containers {
						p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{
							Name: c.Name, Image: c.Image, ImageID: c.Image, Ready: true,
							State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}})
					}
					if _, err := cs.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil && ctx.Err() == nil {
						t.Logf("kubelet: %s: %v", p.Name, err)
					}
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
}

func available(ctx context.Context, cs kubernetes.Interface, ns, name string) bool {
	d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return false
	}
	want := *d.Spec.Replicas
	return d.Status.ObservedGeneration >= d.Generation && d.Status.AvailableReplicas == want && d.Status.UpdatedReplicas == want && d.Status.Replicas == want
}

func imageOf(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns, name string) string {
	t.Helper()
	d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d.Spec.Template.Spec.Containers[0].Image
}

// runs reports whether the API lists the Deployment name running digest.
func runs(t *testing.T, c *client, name, digest string) bool {
	var ws struct {
		Workloads []struct{ Kind, Name, Digest string }
	}
	if c.get(t, "/api/v1/workloads?digest="+digest, &ws) != 200 {
		return false
	}
	for _, w := range ws.Workloads {
		if w.Kind == "Deployment" && w.Name == name {
			return true
		}
	}
	return false
}
