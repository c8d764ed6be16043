package deploy_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drydock/drydock/internal/deploy"
)

const (
	oldDigest = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	newDigest = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
)

func image(t *testing.T, s string) name.Digest {
	t.Helper()
	d, err := name.NewDigest(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func containerImages(t *testing.T, cs kubernetes.Interface, ns, name string) map[string]string {
	t.Helper()
	d, err := cs.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, c := range d.Spec.Template.Spec.Containers {
		m[c.Name] = c.Image
	}
	return m
}

// A patched Deployment gets a new ReplicaSet from the controller, its Pods
// become ready (the test plays kubelet), and the rollout is reported done.
// In the same run a Deployment that did not opt in, and an opted-in one in
// an excluded namespace, are left untouched; an opted-in CronJob is patched.
func TestRolloutSucceeds(t *testing.T) {
	_, cs := cluster(t)
	ctx := context.Background()
	oldImg := "reg.example/ok/app@" + oldDigest
	newImg := "reg.example/ok/app@" + newDigest
	namespace(t, cs, "roll-ok")
	namespace(t, cs, "roll-ok-excluded")
	kctx, stop := context.WithCancel(ctx)
	defer stop()
	kubelet(kctx, t, cs, "roll-ok", func(string) bool { return true }, fakeImageID)

	for _, d := range []struct {
		ns, name string
		optIn    bool
	}{{"roll-ok", "web", true}, {"roll-ok", "manual", false}, {"roll-ok-excluded", "web", true}} {
		if _, err := cs.AppsV1().Deployments(d.ns).Create(ctx, deployment(d.ns, d.name, oldImg, 2, d.optIn), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Namespace: "roll-ok", Name: "nightly", Annotations: map[string]string{"drydock.dev/auto-deploy": "true"}},
		Spec: batchv1.CronJobSpec{Schedule: "0 3 * * *", Suspend: ptr(true), JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
				InitContainers: []corev1.Container{{Name: "prep", Image: "reg.example/ok/app:1.0"}},
				Containers:     []corev1.Container{{Name: "job", Image: "reg.example/other/tool:1"}}}},
		}}},
	}
	if _, err := cs.BatchV1().CronJobs("roll-ok").Create(ctx, cj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "roll-ok", Name: "db", Labels: map[string]string{"drydock.dev/auto-deploy": "true"}},
		Spec: appsv1.StatefulSetSpec{Replicas: ptr(int32(1)), ServiceName: "db", Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "db"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: oldImg}}}}},
	}
	if _, err := cs.AppsV1().StatefulSets("roll-ok").Create(ctx, sts, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "roll-ok", Name: "agent", Annotations: map[string]string{"drydock.dev/auto-deploy": "true"}},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "agent", Image: oldImg}}}}},
	}
	if _, err := cs.AppsV1().DaemonSets("roll-ok").Create(ctx, ds, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, cs, "roll-ok", "web")
	manualBefore, _ := cs.AppsV1().Deployments("roll-ok").Get(ctx, "manual", metav1.GetOptions{})

	// Dry run first: a diff, nothing changed.
	dry, err := deploy.Rollout(ctx, cs, image(t, newImg), deploy.RolloutOptions{DryRun: true, ExcludeNamespaces: []string{"roll-ok-excluded"}, Namespaces: []string{"roll-ok", "roll-ok-excluded"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := statuses(dry); !cmp.Equal(got, map[string]string{
		"CronJob/roll-ok/nightly": "dry-run", "Deployment/roll-ok/manual": "skipped", "Deployment/roll-ok/web": "dry-run",
		"StatefulSet/roll-ok/db": "dry-run", "DaemonSet/roll-ok/agent": "dry-run",
	}) {
		t.Fatalf("dry-run statuses %v", got)
	}
	for _, r := range dry.Results {
		if r.Workload.Name == "web" {
			diff := r.Diff()
			if !strings.Contains(diff, "-image: "+oldImg) || !strings.Contains(diff, "+image: "+newImg) || strings.Contains(diff, "sidecar") {
				t.Errorf("dry-run diff:\n%s", diff)
			}
		}
	}
	// The CLI's dry run prints the same diff.
	c, _ := cluster(t)
	out, err := exec.Command(drydockBinary(t), "deploy", newImg, "--kubeconfig", c.Kubeconfig, "--dry-run",
		"-n", "roll-ok", "--replaces", oldImg).Output()
	if err != nil {
		t.Fatalf("drydock deploy --dry-run: %v\n%s", err, exitStderr(err))
	}
	for _, s := range []string{"--- deployment/roll-ok/web", "-image: " + oldImg, "+image: " + newImg, "deployment/manual", "skipped"} {
		if !strings.Contains(string(out), s) {
			t.Errorf("dry-run output lacks %q:\n%s", s, out)
		}
	}
	if got := containerImages(t, cs, "roll-ok", "web")["app"]; got != oldImg {
		t.Fatalf("dry run changed the image to %s", got)
	}

	start := time.Now()
	rep, err := deploy.Rollout(ctx, cs, image(t, newImg), deploy.RolloutOptions{
		Wait: true, Timeout: 90 * time.Second, PollInterval: 200 * time.Millisecond,
		ExcludeNamespaces: []string{"roll-ok-excluded"}, Namespaces: []string{"roll-ok", "roll-ok-excluded"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rollout took %s", time.Since(start).Round(time.Millisecond))
	if got := statuses(rep); !cmp.Equal(got, map[string]string{
		"CronJob/roll-ok/nightly": "updated", "Deployment/roll-ok/manual": "skipped", "Deployment/roll-ok/web": "updated",
		"StatefulSet/roll-ok/db": "updated", "DaemonSet/roll-ok/agent": "updated",
	}) {
		t.Fatalf("statuses %v (report %+v)", got, rep.Results)
	}
	if rep.Failed() != 0 {
		t.Errorf("Failed() = %d", rep.Failed())
	}

	// The Deployment runs the new digest; the sidecar kept its image; the
	// controller made a ReplicaSet with the new image and it is the only one
	// with replicas; drydock owns the image field.
	if diff := cmp.Diff(map[string]string{"app": newImg, "sidecar": "reg.example/infra/proxy:1"}, containerImages(t, cs, "roll-ok", "web")); diff != "" {
		t.Errorf("images (-want +got):\n%s", diff)
	}
	rss, err := cs.AppsV1().ReplicaSets("roll-ok").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	var live []string
	for _, rs := range rss.Items {
		if *rs.Spec.Replicas > 0 {
			live = append(live, rs.Spec.Template.Spec.Containers[0].Image)
		}
	}
	if diff := cmp.Diff([]string{newImg}, live); diff != "" {
		t.Errorf("ReplicaSets with replicas (-want +got):\n%s", diff)
	}
	web, _ := cs.AppsV1().Deployments("roll-ok").Get(ctx, "web", metav1.GetOptions{})
	if !managedBy(web.ManagedFields, "drydock") {
		t.Errorf("no managedFields entry for manager drydock: %+v", web.ManagedFields)
	}
	gotSTS, _ := cs.AppsV1().StatefulSets("roll-ok").Get(ctx, "db", metav1.GetOptions{})
	if gotSTS.Spec.Template.Spec.Containers[0].Image != newImg || gotSTS.Status.UpdatedReplicas != 1 || gotSTS.Status.CurrentRevision != gotSTS.Status.UpdateRevision {
		t.Errorf("statefulset: image %s, status %+v", gotSTS.Spec.Template.Spec.Containers[0].Image, gotSTS.Status)
	}
	gotCJ, _ := cs.BatchV1().CronJobs("roll-ok").Get(ctx, "nightly", metav1.GetOptions{})
	if got := gotCJ.Spec.JobTemplate.Spec.Template.Spec.InitContainers[0].Image; got != newImg {
		t.Errorf("cronjob init container image %s", got)
	}
	if got := gotCJ.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Image; got != "reg.example/other/tool:1" {
		t.Errorf("cronjob job container changed to %s", got)
	}

	// Not opted in: untouched (same generation, same image).
	manual, _ := cs.AppsV1().Deployments("roll-ok").Get(ctx, "manual", metav1.GetOptions{})
	if manual.Generation != manualBefore.Generation || manual.Spec.Template.Spec.Containers[0].Image != oldImg {
		t.Errorf("the Deployment that did not opt in changed: generation %d→%d, image %s", manualBefore.Generation, manual.Generation, manual.Spec.Template.Spec.Containers[0].Image)
	}
	if got := containerImages(t, cs, "roll-ok-excluded", "web")["app"]; got != oldImg {
		t.Errorf("the excluded namespace's Deployment changed to %s", got)
	}
}

// A rollout whose new Pods never become ready passes its progress deadline;
// drydock restores the previous image and says so.
func TestRolloutStuckIsRolledBack(t *testing.T) {
	_, cs := cluster(t)
	ctx := context.Background()
	oldImg := "reg.example/stuck/app@" + oldDigest
	newImg := "reg.example/stuck/app@" + newDigest
	namespace(t, cs, "roll-stuck")
	kctx, stop := context.WithCancel(ctx)
	defer stop()
	// The kubelet only ever starts the old image: the new one "cannot be
	// pulled".
	kubelet(kctx, t, cs, "roll-stuck", func(img string) bool { return !strings.HasSuffix(img, newDigest) }, fakeImageID)
	d := deployment("roll-stuck", "api", oldImg, 1, true)
	d.Spec.ProgressDeadlineSeconds = ptr(int32(3))
	if _, err := cs.AppsV1().Deployments("roll-stuck").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, cs, "roll-stuck", "api")

	rep, err := deploy.Rollout(ctx, cs, image(t, newImg), deploy.RolloutOptions{
		Namespaces: []string{"roll-stuck"}, Wait: true, Timeout: 90 * time.Second, PollInterval: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 1 {
		t.Fatalf("results %+v", rep.Results)
	}
	r := rep.Results[0]
	if r.Status != deploy.StatusRolledBack || !strings.Contains(r.Reason, "progress deadline exceeded") {
		t.Fatalf("status %q reason %q", r.Status, r.Reason)
	}
	if rep.Failed() != 1 {
		t.Errorf("Failed() = %d", rep.Failed())
	}
	if got := containerImages(t, cs, "roll-stuck", "api")["app"]; got != oldImg {
		t.Errorf("image after rollback %s, want %s", got, oldImg)
	}
	// The restored template is the old ReplicaSet's again, so the
	// Deployment comes back to available on the old Pods.
	waitAvailable(t, cs, "roll-stuck", "api")

	// A timeout shorter than the deadline also rolls back.
	d2 := deployment("roll-stuck", "slow", "reg.example/stuck/slow@"+oldDigest, 1, true)
	if _, err := cs.AppsV1().Deployments("roll-stuck").Create(ctx, d2, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, cs, "roll-stuck", "slow")
	// This time through the CLI: exit code 1, and the table says why.
	c, _ := cluster(t)
	cmd := exec.Command(drydockBinary(t), "deploy", "reg.example/stuck/slow@"+newDigest, "--kubeconfig", c.Kubeconfig,
		"-n", "roll-stuck", "--timeout", "2s")
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("drydock deploy: %v, want exit 1\n%s%s", err, out, exitStderr(err))
	}
	if !strings.Contains(string(out), "deployment/slow") || !strings.Contains(string(out), "rolled back") || !strings.Contains(string(out), "timed out after 2s") {
		t.Errorf("drydock deploy output:\n%s", out)
	}
	if got := containerImages(t, cs, "roll-stuck", "slow")["app"]; got != "reg.example/stuck/slow@"+oldDigest {
		t.Errorf("image after rollback %s", got)
	}
}

func statuses(rep *deploy.Report) map[string]string {
	m := map[string]string{}
	for _, r := range rep.Results {
		m[r.Workload.String()] = r.Status
	}
	return m
}

func managedBy(mf []metav1.ManagedFieldsEntry, manager string) bool {
	for _, m := range mf {
		if m.Manager == manager && strings.Contains(m.FieldsV1.GetRawString(), `"f:image"`) {
			return true
		}
	}
	return false
}

func ptr[T any](v T) *T { return &v }
