// Package deploy_test drives internal/deploy and `drydock runtime|deploy`
// against a real kube-apiserver, etcd and kube-controller-manager
// (internal/k8stest). There is no kubelet: the tests write Pod status the
// way a kubelet would, and the controllers do the rest.
package deploy_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drydock/drydock/internal/deploy"
	"github.com/drydock/drydock/internal/k8stest"
)

var (
	shared     *k8stest.Cluster
	sharedErr  error
	sharedOnce sync.Once
	sharedDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, f := range shutdown {
		f()
	}
	if shared != nil {
		shared.Stop()
	}
	if sharedDir != "" {
		os.RemoveAll(sharedDir)
	}
	os.Exit(code)
}

// cluster returns the package's cluster (with controller-manager), started
// on first use, or skips the test when DRYDOCK_K8S_BINS is unset.
func cluster(t *testing.T) (*k8stest.Cluster, kubernetes.Interface) {
	t.Helper()
	k8stest.Require(t, true)
	sharedOnce.Do(func() {
		sharedDir, sharedErr = os.MkdirTemp("", "drydock-deploy-k8s-")
		if sharedErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		shared, sharedErr = k8stest.Launch(ctx, sharedDir, k8stest.Options{ControllerManager: true})
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared, shared.Client(t)
}

func isAlreadyExists(err error) bool { return apierrors.IsAlreadyExists(err) }

func namespace(t *testing.T, cs kubernetes.Interface, name string) {
	t.Helper()
	_, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
}

func deployment(ns, name, image string, replicas int32, optIn bool) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{}},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{
					{Name: "app", Image: image},
					{Name: "sidecar", Image: "reg.example/infra/proxy:1"},
				}},
			},
		},
	}
	if optIn {
		d.Labels["drydock.dev/auto-deploy"] = "true"
	}
	return d
}

// kubelet plays the part of a kubelet: every Pod in ns whose containers'
// images ready(image) accepts is marked Running and Ready, with image IDs,
// through the status subresource, until ctx ends.
func kubelet(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns string, ready func(image string) bool, imageID func(image string) string) {
	t.Helper()
	go func() {
		for ctx.Err() == nil {
			pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err == nil {
				for i := range pods.Items {
					p := &pods.Items[i]
					if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodRunning {
						continue
					}
					ok := true
					for _, c := range p.Spec.Containers {
						ok = ok && ready(c.Image)
					}
					if !ok {
						continue
					}
					markRunning(p, imageID)
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

func markRunning(p *corev1.Pod, imageID func(image string) string) {
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
			Name: c.Name, Image: c.Image, ImageID: imageID(c.Image), Ready: true,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		})
	}
}

// waitFor polls cond every 100ms for up to d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s", what, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func waitAvailable(t *testing.T, cs kubernetes.Interface, ns, name string) {
	t.Helper()
	waitFor(t, 60*time.Second, fmt.Sprintf("deployment %s/%s available", ns, name), func() (bool, error) {
		d, err := cs.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		want := *d.Spec.Replicas
		return d.Status.ObservedGeneration >= d.Generation && d.Status.AvailableReplicas == want && d.Status.UpdatedReplicas == want && d.Status.Replicas == want, nil
	})
}

// fakeImageID is what a runtime would report for image: its repository at
// the pinned digest, or at a digest derived from the tag.
func fakeImageID(image string) string {
	ref, err := deploy.ParseRef(image)
	if err != nil {
		return ""
	}
	if ref.Digest != "" {
		return ref.Repository + "@" + ref.Digest
	}
	return ref.Repository + "@" + fakeDigest(image)
}

func fakeDigest(s string) string {
	const hex = "0123456789abcdef"
	b := make([]byte, 64)
	h := uint64(1469598103934665603)
	for i := range b {
		for j := 0; j < len(s); j++ {
			h = (h ^ uint64(s[j])) * 1099511628211
		}
		h = h*31 + uint64(i)
		b[i] = hex[h%16]
	}
	return "sha256:" + string(b)
}
