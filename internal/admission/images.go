package admission

import (
	"encoding/json"
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ContainerImage is one image field of an object.
type ContainerImage struct {
	// Container is the container's name, prefixed "init:" or
	// "ephemeral:" for those lists.
	Container string
	// Image is the reference as written.
	Image string
	// Path is the JSON pointer (RFC 6901) of the image field.
	Path string
}

// Object is what the webhook reads from an admitted object.
type Object struct {
	Kind   string
	Name   string
	Labels map[string]string
	Images []ContainerImage
	// ServiceAccount and PullSecrets are the pod spec's
	// serviceAccountName and imagePullSecrets: whose credentials pull.
	ServiceAccount string
	PullSecrets    []string
}

// Kinds lists the resources the webhook understands, as group/version
// resource → kind, for the webhook configuration rules.
var Kinds = []struct{ Group, Version, Resource, Kind string }{
	{"", "v1", "pods", "Pod"},
	{"", "v1", "replicationcontrollers", "ReplicationController"},
	{"apps", "v1", "deployments", "Deployment"},
	{"apps", "v1", "statefulsets", "StatefulSet"},
	{"apps", "v1", "daemonsets", "DaemonSet"},
	{"apps", "v1", "replicasets", "ReplicaSet"},
	{"batch", "v1", "jobs", "Job"},
	{"batch", "v1", "cronjobs", "CronJob"},
}

// ErrUnsupportedKind is returned by ExtractImages for kinds without a pod
// spec; the handlers admit such objects untouched.
var ErrUnsupportedKind = fmt.Errorf("kind carries no pod spec")

// ExtractImages decodes raw, an object of the given kind, and lists every
// container, init container and ephemeral container image of its pod spec
// (for a CronJob, the one in spec.jobTemplate.spec.template).
func ExtractImages(kind string, raw []byte) (*Object, error) {
	var (
		meta   metav1.ObjectMeta
		spec   *corev1.PodSpec
		prefix string
	)
	dec := func(v any) error {
		if err := json.Unmarshal(raw, v); err != nil {
			return fmt.Errorf("%w: decode %s: %w", ErrBadReview, kind, err)
		}
		return nil
	}
	switch kind {
	case "Pod":
		var o corev1.Pod
		if err := dec(&o); err != nil {
			return nil, err
		}
		meta, spec, prefix = o.ObjectMeta, &o.Spec, "/spec"
	case "ReplicationController":
		var o corev1.ReplicationController
		if err := dec(&o); err != nil {
			return nil, err
		}
		meta, prefix = o.ObjectMeta, "/spec/template/spec"
		if o.Spec.Template != nil {
			spec = &o.Spec.Template.Spec
		}
	case "Deployment":
		var o appsv1.Deployment
		if err := dec(&o); err != nil {
			return nil, err
		}
		meta, spec, prefix = o.ObjectMeta, &o.Spec.Template.Spec, "/spec/template/spec"
	case "StatefulSet":
		var o appsv1.StatefulSet
		if err := dec(&o); err != nil {
			return nil, err
		}
		meta, spec, prefix = o.ObjectMeta, &o.Spec.Template.Spec, "/spec/template/spec"
	case "DaemonSet":
		var o appsv1.DaemonSet
		if err := dec(&o); err != nil {
			return nil, err
		}
		meta, spec, prefix = o.ObjectMeta, &o.Spec.Template.Spec, "/spec/template/spec"
	case "ReplicaSet":
		var o appsv1.ReplicaSet
		if err := dec(&o); err != nil {
			return nil, err
		}
		meta, spec, prefix = o.ObjectMeta, &o.Spec.Template.Spec, "/spec/template/spec"
	case "Job":
		var o batchv1.Job
		if err := dec(&o); err != nil {
			return nil, err
		}
		meta, spec, prefix = o.ObjectMeta, &o.Spec.Template.Spec, "/spec/template/spec"
	case "CronJob":
		var o batchv1.CronJob
		if err := dec(&o); err != nil {
			return nil, err
		}
		meta, spec, prefix = o.ObjectMeta, &o.Spec.JobTemplate.Spec.Template.Spec, "/spec/jobTemplate/spec/template/spec"
	default:
		return nil, fmt.Errorf("%w: %s", ErrUnsupportedKind, kind)
	}
	obj := &Object{Kind: kind, Name: meta.Name, Labels: meta.Labels}
	if obj.Name == "" {
		obj.Name = meta.GenerateName
	}
	if spec == nil {
		return obj, nil
	}
	obj.ServiceAccount = spec.ServiceAccountName
	for _, r := range spec.ImagePullSecrets {
		if r.Name != "" {
			obj.PullSecrets = append(obj.PullSecrets, r.Name)
		}
	}
	for i, c := range spec.InitContainers {
		obj.Images = append(obj.Images, ContainerImage{"init:" + c.Name, c.Image, prefix + "/initContainers/" + strconv.Itoa(i) + "/image"})
	}
	for i, c := range spec.Containers {
		obj.Images = append(obj.Images, ContainerImage{c.Name, c.Image, prefix + "/containers/" + strconv.Itoa(i) + "/image"})
	}
	for i, c := range spec.EphemeralContainers {
		obj.Images = append(obj.Images, ContainerImage{"ephemeral:" + c.Name, c.Image, prefix + "/ephemeralContainers/" + strconv.Itoa(i) + "/image"})
	}
	return obj, nil
}

// PatchOp is one RFC 6902 operation.
type PatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value string `json:"value"`
}

// Pin is an image field to rewrite.
type Pin struct {
	Path  string
	Image string // the new reference
}

// Patch builds the JSON patch that replaces each pinned image field. It
// returns nil for no pins.
func Patch(pins []Pin) []byte {
	if len(pins) == 0 {
		return nil
	}
	ops := make([]PatchOp, len(pins))
	for i, p := range pins {
		ops[i] = PatchOp{Op: "replace", Path: p.Path, Value: p.Image}
	}
	b, _ := json.Marshal(ops) // strings only: cannot fail
	return b
}
