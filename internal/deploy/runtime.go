package deploy

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drydock/drydock/internal/registryauth"
)

// Workload names a controller object (or a bare Pod).
type Workload struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

func (w Workload) String() string { return w.Kind + "/" + w.Namespace + "/" + w.Name }

// Container is one container of one running Pod.
type Container struct {
	Workload  Workload `json:"workload"`
	Pod       string   `json:"pod"`
	Container string   `json:"container"`
	Init      bool     `json:"init,omitempty"`
	// Image is the reference in the Pod spec.
	Image string `json:"image"`
	// ImageID is the container status' imageID as the runtime wrote it;
	// RunningDigest is its digest. Both are empty before the container
	// started.
	ImageID       string `json:"imageID,omitempty"`
	RunningDigest string `json:"runningDigest,omitempty"`
	// SpecDigest is the digest the spec names or its tag resolves to now
	// (with a resolver), if known.
	SpecDigest string `json:"specDigest,omitempty"`
	// Drift is set when the running digest is not the spec's digest.
	Drift       bool   `json:"drift"`
	DriftReason string `json:"driftReason,omitempty"`
	// Findings summarises the scan report of the running digest (or, before
	// the container started, of the spec digest), when one was given.
	Findings *FindingsSummary `json:"findings,omitempty"`
	// Base is the base image of the scanned image, and whether its tag now
	// resolves to another digest.
	Base *BaseStatus `json:"base,omitempty"`
	// Problem says what could not be worked out (an unreadable imageID, a
	// tag that did not resolve).
	Problem string `json:"problem,omitempty"`
}

// BaseStatus is an image's base, as its scan report recorded it.
type BaseStatus struct {
	Name    string `json:"name"`
	Digest  string `json:"digest"`
	Current string `json:"current,omitempty"`
	// Outdated is set when Name now resolves to a digest other than Digest.
	Outdated bool `json:"outdated"`
}

// RuntimeOptions configure Runtime.
type RuntimeOptions struct {
	// Namespaces limits the listing; empty lists all namespaces.
	Namespaces []string
	// ExcludeNamespaces are skipped.
	ExcludeNamespaces []string
	// PageSize is the Limit of each list request (default 500), which
	// bounds memory: one page of Pods and one namespace's ReplicaSet and
	// Job owners are held at a time.
	PageSize int64
	// Resolver, when set, resolves tags to digests for drift and base
	// checks.
	Resolver Resolver
	// Reports, when set, add findings and base status.
	Reports *Reports
	// Credentials, when set, make the Resolver read registries with each
	// Pod's pull credentials (its imagePullSecrets, else its service
	// account's, then the fallback), as the kubelet pulled them.
	Credentials CredentialSource
}

// CredentialSource supplies a workload's registry credentials
// (registryauth.Kube in the command).
type CredentialSource interface {
	Credentials(ctx context.Context, w registryauth.Workload) (registryauth.Credentials, error)
}

// Runtime lists every container of every Pod, with the workload owning it,
// and calls emit for each, in namespace and Pod name order. Owners are
// resolved through ReplicaSets (to Deployments) and Jobs (to CronJobs)
// with one paged list per kind per namespace, only in namespaces where a
// Pod needs it.
func Runtime(ctx context.Context, client kubernetes.Interface, opts RuntimeOptions, emit func(Container) error) error {
	if opts.PageSize <= 0 {
		opts.PageSize = 500
	}
	excluded := map[string]bool{}
	for _, ns := range opts.ExcludeNamespaces {
		excluded[ns] = true
	}
	namespaces := opts.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	o := &owners{ctx: ctx, client: client, pageSize: opts.PageSize}
	for _, ns := range namespaces {
		if excluded[ns] {
			continue
		}
		cont := ""
		for {
			list, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{Limit: opts.PageSize, Continue: cont})
			if err != nil {
				return fmt.Errorf("list pods: %w", err)
			}
			for i := range list.Items {
				p := &list.Items[i]
				if excluded[p.Namespace] {
					continue
				}
				w, err := o.workloadOf(p)
				if err != nil {
					return err
				}
				for _, c := range podContainers(ctx, p, w, &opts) {
					if err := emit(c); err != nil {
						return err
					}
				}
			}
			cont = list.Continue
			if cont == "" {
				break
			}
		}
	}
	return nil
}

func podContainers(ctx context.Context, p *corev1.Pod, w Workload, opts *RuntimeOptions) []Container {
	var out []Container
	credErr, credSource := "", ""
	if opts.Credentials != nil {
		wl := registryauth.Workload{Namespace: p.Namespace, ServiceAccount: p.Spec.ServiceAccountName}
		for _, r := range p.Spec.ImagePullSecrets {
			wl.PullSecrets = append(wl.PullSecrets, r.Name)
		}
		if c, err := opts.Credentials.Credentials(ctx, wl); err != nil {
			credErr = "pull credentials: " + err.Error()
		} else {
			ctx = registryauth.WithKeychain(ctx, c.Keychain)
			credSource = c.Source
		}
	}
	add := func(specs []corev1.Container, statuses []corev1.ContainerStatus, init bool) {
		byName := make(map[string]*corev1.ContainerStatus, len(statuses))
		for i := range statuses {
			byName[statuses[i].Name] = &statuses[i]
		}
		for _, sc := range specs {
			c := Container{Workload: w, Pod: p.Name, Container: sc.Name, Init: init, Image: sc.Image}
			if st := byName[sc.Name]; st != nil {
				c.ImageID = st.ImageID
			}
			examine(ctx, &c, opts, credSource)
			if credErr != "" && c.Problem == "" {
				c.Problem = credErr
			}
			out = append(out, c)
		}
	}
	add(p.Spec.InitContainers, p.Status.InitContainerStatuses, true)
	add(p.Spec.Containers, p.Status.ContainerStatuses, false)
	return out
}

// examine fills the running digest, drift, findings and base of c.
// credSource, when set, says where the Pod's pull credentials came from,
// for the message when the registry refuses them.
func examine(ctx context.Context, c *Container, opts *RuntimeOptions, credSource string) {
	ref, err := ParseRef(c.Image)
	if err != nil {
		c.Problem = err.Error()
		return
	}
	var running RunningImage
	if c.ImageID != "" {
		running, err = ParseImageID(c.ImageID)
		if err != nil {
			c.Problem = err.Error()
		} else {
			c.RunningDigest = running.Digest
		}
	}
	switch {
	case ref.Digest != "":
		c.SpecDigest = ref.Digest
	case opts.Resolver != nil && ref.Tag != "":
		d, err := opts.Resolver.Resolve(ctx, ref.TagRef())
		switch {
		case err != nil && credSource != "" && registryauth.IsDenied(err):
			c.Problem = "the Pod's pull credentials cannot read this image (" + credSource + "); the registry answered: " + err.Error()
		case err != nil:
			c.Problem = err.Error()
		default:
			c.SpecDigest = d
		}
	}
	if c.SpecDigest != "" && c.RunningDigest != "" && c.SpecDigest != c.RunningDigest {
		// A bare image ID (no repository) is a config digest on some
		// runtimes, not comparable with a manifest digest.
		if running.Repository != "" {
			c.Drift = true
			if ref.Digest != "" {
				c.DriftReason = "running " + ShortDigest(c.RunningDigest) + ", spec pins " + ShortDigest(c.SpecDigest)
			} else {
				c.DriftReason = "running " + ShortDigest(c.RunningDigest) + ", tag " + ref.Tag + " now " + ShortDigest(c.SpecDigest)
			}
		}
	}
	if opts.Reports == nil {
		return
	}
	d := c.RunningDigest
	if d == "" {
		d = c.SpecDigest
	}
	r := opts.Reports.For(d)
	if r == nil {
		return
	}
	c.Findings = r.Summary()
	if r.Source.BaseName != "" && r.Source.BaseDigest != "" {
		b := &BaseStatus{Name: r.Source.BaseName, Digest: r.Source.BaseDigest}
		if opts.Resolver != nil {
			if bref, err := ParseRef(r.Source.BaseName); err == nil && bref.Tag != "" {
				if cur, err := opts.Resolver.Resolve(ctx, bref.TagRef()); err == nil {
					b.Current = cur
					b.Outdated = cur != b.Digest
				}
			}
		}
		c.Base = b
	}
}

// owners maps Pods to their top workload. It holds the ReplicaSet and Job
// owners of one namespace at a time; Pod lists come in namespace order, so
// each namespace is listed once.
type owners struct {
	ctx      context.Context
	client   kubernetes.Interface
	pageSize int64

	rsNS, jobNS string
	rs, jobs    map[string]Workload // name → owner of the ReplicaSet / Job
	rsOK, jobOK bool
}

func controllerOf(refs []metav1.OwnerReference) *metav1.OwnerReference {
	for i := range refs {
		if refs[i].Controller != nil && *refs[i].Controller {
			return &refs[i]
		}
	}
	return nil
}

func (o *owners) workloadOf(p *corev1.Pod) (Workload, error) {
	ref := controllerOf(p.OwnerReferences)
	if ref == nil {
		return Workload{Kind: "Pod", Namespace: p.Namespace, Name: p.Name}, nil
	}
	direct := Workload{Kind: ref.Kind, Namespace: p.Namespace, Name: ref.Name}
	switch ref.Kind {
	case "ReplicaSet":
		if !o.rsOK || o.rsNS != p.Namespace {
			if err := o.loadReplicaSets(p.Namespace); err != nil {
				return Workload{}, err
			}
		}
		if w, ok := o.rs[ref.Name]; ok {
			return w, nil
		}
	case "Job":
		if !o.jobOK || o.jobNS != p.Namespace {
			if err := o.loadJobs(p.Namespace); err != nil {
				return Workload{}, err
			}
		}
		if w, ok := o.jobs[ref.Name]; ok {
			return w, nil
		}
	}
	return direct, nil
}

func (o *owners) loadReplicaSets(ns string) error {
	o.rs = map[string]Workload{}
	cont := ""
	for {
		list, err := o.client.AppsV1().ReplicaSets(ns).List(o.ctx, metav1.ListOptions{Limit: o.pageSize, Continue: cont})
		if err != nil {
			return fmt.Errorf("list replicasets in %s: %w", ns, err)
		}
		for _, rs := range list.Items {
			if ref := controllerOf(rs.OwnerReferences); ref != nil {
				o.rs[rs.Name] = Workload{Kind: ref.Kind, Namespace: ns, Name: ref.Name}
			}
		}
		if cont = list.Continue; cont == "" {
			break
		}
	}
	o.rsNS, o.rsOK = ns, true
	return nil
}

func (o *owners) loadJobs(ns string) error {
	o.jobs = map[string]Workload{}
	cont := ""
	for {
		list, err := o.client.BatchV1().Jobs(ns).List(o.ctx, metav1.ListOptions{Limit: o.pageSize, Continue: cont})
		if err != nil {
			return fmt.Errorf("list jobs in %s: %w", ns, err)
		}
		for _, j := range list.Items {
			if ref := controllerOf(j.OwnerReferences); ref != nil {
				o.jobs[j.Name] = Workload{Kind: ref.Kind, Namespace: ns, Name: ref.Name}
			}
		}
		if cont = list.Continue; cont == "" {
			break
		}
	}
	o.jobNS, o.jobOK = ns, true
	return nil
}

// OwnerResolver maps Pods to their top workload as Runtime does, for
// callers that see Pods one at a time (an informer). It keeps one
// namespace's owners and reloads them when a Pod names an owner it has not
// seen (a new ReplicaSet after a rollout).
type OwnerResolver struct{ o owners }

// NewOwnerResolver makes a resolver listing owners through client.
func NewOwnerResolver(client kubernetes.Interface) *OwnerResolver {
	return &OwnerResolver{o: owners{client: client, pageSize: 500}}
}

// WorkloadOf returns the workload owning p.
func (r *OwnerResolver) WorkloadOf(ctx context.Context, p *corev1.Pod) (Workload, error) {
	r.o.ctx = ctx
	w, err := r.o.workloadOf(p)
	if err != nil {
		return w, err
	}
	if ref := controllerOf(p.OwnerReferences); ref != nil && w.Kind == ref.Kind && (ref.Kind == "ReplicaSet" || ref.Kind == "Job") {
		// Not in the cached list: it may be newer than the list.
		r.o.rsOK, r.o.jobOK = false, false
		return r.o.workloadOf(p)
	}
	return w, nil
}
