package deploy

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestImagePatch(t *testing.T) {
	changes := []ContainerChange{
		{Container: "app", Old: "a:1", New: "a@" + dB},
		{Container: "migrate", Init: true, Old: "a:1", New: "a@" + dB},
	}
	tests := []struct {
		kind    string
		restore bool
		want    string
	}{
		{KindDeployment, false, `{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"a@` + dB + `"}],"initContainers":[{"name":"migrate","image":"a@` + dB + `"}]}}}}`},
		{KindStatefulSet, true, `{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"a:1"}],"initContainers":[{"name":"migrate","image":"a:1"}]}}}}`},
		{KindCronJob, false, `{"spec":{"jobTemplate":{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"a@` + dB + `"}],"initContainers":[{"name":"migrate","image":"a@` + dB + `"}]}}}}}}`},
	}
	for _, tt := range tests {
		got, err := imagePatch(tt.kind, changes, tt.restore)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, string(got)); diff != "" {
			t.Errorf("%s restore=%v (-want +got):\n%s", tt.kind, tt.restore, diff)
		}
	}
	if _, err := imagePatch("Pod", changes, false); err == nil {
		t.Error("a Pod patch was made")
	}
}

func TestDeploymentDone(t *testing.T) {
	three := int32(3)
	tests := []struct {
		name    string
		status  appsv1.DeploymentStatus
		done    bool
		wantErr string
	}{
		{"controller has not seen the patch", appsv1.DeploymentStatus{ObservedGeneration: 1, UpdatedReplicas: 3, Replicas: 3, AvailableReplicas: 3}, false, ""},
		{"surging", appsv1.DeploymentStatus{ObservedGeneration: 2, UpdatedReplicas: 1, Replicas: 4, AvailableReplicas: 3}, false, ""},
		{"old pods still terminating", appsv1.DeploymentStatus{ObservedGeneration: 2, UpdatedReplicas: 3, Replicas: 4, AvailableReplicas: 3}, false, ""},
		{"new pods not available", appsv1.DeploymentStatus{ObservedGeneration: 2, UpdatedReplicas: 3, Replicas: 3, AvailableReplicas: 2}, false, ""},
		{"done", appsv1.DeploymentStatus{ObservedGeneration: 2, UpdatedReplicas: 3, Replicas: 3, AvailableReplicas: 3}, true, ""},
		{"deadline", appsv1.DeploymentStatus{ObservedGeneration: 2, UpdatedReplicas: 1, Replicas: 4, AvailableReplicas: 3,
			Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Reason: "ProgressDeadlineExceeded", Message: "ReplicaSet x has timed out progressing."}}}, false, "progress deadline exceeded: ReplicaSet x"},
	}
	for _, tt := range tests {
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Generation: 2}, Spec: appsv1.DeploymentSpec{Replicas: &three}, Status: tt.status}
		done, _, err := deploymentDone(d, 2)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: err %v, want %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil || done != tt.done {
			t.Errorf("%s: done %v err %v, want %v", tt.name, done, err, tt.done)
		}
	}
}

func TestResultDiff(t *testing.T) {
	r := Result{Workload: Workload{Kind: KindDeployment, Namespace: "ns", Name: "web"}, Containers: []ContainerChange{
		{Container: "app", Path: "spec.template.spec.containers[name=app]", Old: "a:1", New: "a@" + dB},
	}}
	want := "--- deployment/ns/web\n+++ deployment/ns/web\n@@ spec.template.spec.containers[name=app] @@\n-image: a:1\n+image: a@" + dB + "\n"
	if diff := cmp.Diff(want, r.Diff()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
