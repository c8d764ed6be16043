package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// Opt-in: a workload is patched only when it carries this label or
// annotation with the value "true".
const (
	OptInKey     = "drydock.dev/auto-deploy"
	FieldManager = "drydock"
)

// Kinds rollouts patch.
const (
	KindDeployment  = "Deployment"
	KindStatefulSet = "StatefulSet"
	KindDaemonSet   = "DaemonSet"
	KindCronJob     = "CronJob"
)

// Result statuses.
const (
	StatusUpdated    = "updated"     // patched and, when waited for, rolled out
	StatusPatched    = "patched"     // patched, not waited for
	StatusDryRun     = "dry-run"     // would be patched
	StatusSkipped    = "skipped"     // runs the old image but did not opt in
	StatusRolledBack = "rolled back" // the rollout failed and the old images were restored
	StatusFailed     = "failed"      // the patch, or the rollback, failed
)

// RolloutOptions configure Rollout.
type RolloutOptions struct {
	// Replaces selects the workloads' current images; the zero Selector
	// means any image of the new image's repository.
	Replaces Selector
	// Namespaces limits the search; empty searches all namespaces.
	Namespaces []string
	// ExcludeNamespaces are never touched.
	ExcludeNamespaces []string
	// DryRun patches nothing (the API server validates the patch with
	// dryRun=All) and reports diffs.
	DryRun bool
	// Wait waits for each rollout to finish, and rolls back the ones that
	// fail or time out.
	Wait bool
	// Timeout bounds the wait for each workload (default 5 minutes).
	Timeout time.Duration
	// PollInterval is how often rollout status is read (default 1s).
	PollInterval time.Duration
	// Concurrency bounds patches and waits in flight (default 8).
	Concurrency int
	// PageSize is the Limit of list requests (default 500).
	PageSize int64
}

// ContainerChange is one container's image change.
type ContainerChange struct {
	Container string `json:"container"`
	Init      bool   `json:"init,omitempty"`
	// Path is where the container lives in the object, for diffs.
	Path string `json:"path"`
	Old  string `json:"old"`
	New  string `json:"new"`
}

// Result is what happened to one workload.
type Result struct {
	Workload   Workload          `json:"workload"`
	Containers []ContainerChange `json:"containers"`
	Status     string            `json:"status"`
	// Reason explains a skip, failure or rollback.
	Reason string `json:"reason,omitempty"`
	// Generation is the object's generation after the patch.
	Generation int64 `json:"generation,omitempty"`
}

// Diff is a unified diff of the image lines the rollout changes.
func (r Result) Diff() string {
	var b strings.Builder
	obj := strings.ToLower(r.Workload.Kind) + "/" + r.Workload.Namespace + "/" + r.Workload.Name
	fmt.Fprintf(&b, "--- %s\n+++ %s\n", obj, obj)
	for _, c := range r.Containers {
		fmt.Fprintf(&b, "@@ %s @@\n-image: %s\n+image: %s\n", c.Path, c.Old, c.New)
	}
	return b.String()
}

// Report is the outcome of a rollout.
type Report struct {
	Image    string   `json:"image"`
	Replaces string   `json:"replaces"`
	DryRun   bool     `json:"dryRun,omitempty"`
	Results  []Result `json:"results"`
}

// Failed counts results that failed or were rolled back.
func (r *Report) Failed() int {
	n := 0
	for _, x := range r.Results {
		if x.Status == StatusFailed || x.Status == StatusRolledBack {
			n++
		}
	}
	return n
}

// candidate is a workload that runs a selected image.
type candidate struct {
	Result
	optIn bool
}

// Find lists the Deployments, StatefulSets, DaemonSets and CronJobs whose
// containers (init containers too) use an image sel selects, and what each
// container's image would become. It makes one paged list per kind.
func Find(ctx context.Context, client kubernetes.Interface, newImage name.Digest, opts RolloutOptions) ([]Result, error) {
	cs, err := find(ctx, client, newImage, &opts)
	if err != nil {
		return nil, err
	}
	out := make([]Result, len(cs))
	for i, c := range cs {
		out[i] = c.Result
		if !c.optIn {
			out[i].Status, out[i].Reason = StatusSkipped, optInReason
		}
	}
	return out, nil
}

const optInReason = "not opted in (label or annotation " + OptInKey + "=true)"

func selectorFor(newImage name.Digest, sel Selector) Selector {
	if sel.Repository == "" && sel.Digest == "" {
		sel.Repository = newImage.Context().Name()
	}
	sel.Exclude = newImage.DigestStr()
	return sel
}

func find(ctx context.Context, client kubernetes.Interface, newImage name.Digest, opts *RolloutOptions) ([]candidate, error) {
	sel := selectorFor(newImage, opts.Replaces)
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
	newRef := newImage.String()
	var out []candidate
	consider := func(kind string, meta metav1.ObjectMeta, prefix string, spec *corev1.PodSpec) {
		if excluded[meta.Namespace] {
			return
		}
		var changes []ContainerChange
		for _, set := range []struct {
			list []corev1.Container
			init bool
			key  string
		}{{spec.InitContainers, true, "initContainers"}, {spec.Containers, false, "containers"}} {
			for _, c := range set.list {
				if c.Image != newRef && sel.Matches(c.Image) {
					changes = append(changes, ContainerChange{
						Container: c.Name, Init: set.init, Old: c.Image, New: newRef,
						Path: prefix + "." + set.key + "[name=" + c.Name + "]",
					})
				}
			}
		}
		if len(changes) == 0 {
			return
		}
		out = append(out, candidate{
			Result: Result{Workload: Workload{Kind: kind, Namespace: meta.Namespace, Name: meta.Name}, Containers: changes},
			optIn:  meta.Labels[OptInKey] == "true" || meta.Annotations[OptInKey] == "true",
		})
	}
	for _, ns := range namespaces {
		if excluded[ns] {
			continue
		}
		if err := pages(ctx, opts.PageSize, func(lo metav1.ListOptions) (string, error) {
			l, err := client.AppsV1().Deployments(ns).List(ctx, lo)
			if err != nil {
				return "", fmt.Errorf("list deployments: %w", err)
			}
			for i := range l.Items {
				consider(KindDeployment, l.Items[i].ObjectMeta, "spec.template.spec", &l.Items[i].Spec.Template.Spec)
			}
			return l.Continue, nil
		}); err != nil {
			return nil, err
		}
		if err := pages(ctx, opts.PageSize, func(lo metav1.ListOptions) (string, error) {
			l, err := client.AppsV1().StatefulSets(ns).List(ctx, lo)
			if err != nil {
				return "", fmt.Errorf("list statefulsets: %w", err)
			}
			for i := range l.Items {
				consider(KindStatefulSet, l.Items[i].ObjectMeta, "spec.template.spec", &l.Items[i].Spec.Template.Spec)
			}
			return l.Continue, nil
		}); err != nil {
			return nil, err
		}
		if err := pages(ctx, opts.PageSize, func(lo metav1.ListOptions) (string, error) {
			l, err := client.AppsV1().DaemonSets(ns).List(ctx, lo)
			if err != nil {
				return "", fmt.Errorf("list daemonsets: %w", err)
			}
			for i := range l.Items {
				consider(KindDaemonSet, l.Items[i].ObjectMeta, "spec.template.spec", &l.Items[i].Spec.Template.Spec)
			}
			return l.Continue, nil
		}); err != nil {
			return nil, err
		}
		if err := pages(ctx, opts.PageSize, func(lo metav1.ListOptions) (string, error) {
			l, err := client.BatchV1().CronJobs(ns).List(ctx, lo)
			if err != nil {
				return "", fmt.Errorf("list cronjobs: %w", err)
			}
			for i := range l.Items {
				consider(KindCronJob, l.Items[i].ObjectMeta, "spec.jobTemplate.spec.template.spec", &l.Items[i].Spec.JobTemplate.Spec.Template.Spec)
			}
			return l.Continue, nil
		}); err != nil {
			return nil, err
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Workload, out[j].Workload
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Name < b.Name
	})
	return out, nil
}

func pages(ctx context.Context, limit int64, list func(metav1.ListOptions) (string, error)) error {
	cont := ""
	for {
		next, err := list(metav1.ListOptions{Limit: limit, Continue: cont})
		if err != nil {
			return err
		}
		if next == "" {
			return nil
		}
		cont = next
	}
}

// Rollout patches every opted-in workload that runs an image opts.Replaces
// selects to newImage, by container name, with a strategic merge patch
// owned by field manager "drydock". With opts.Wait it then waits for each
// rollout (observedGeneration, updated and available replicas, the
// progress deadline) and restores the previous images of the ones that fail
// or time out. Workloads that did not opt in are reported as skipped and
// never touched. The error is for failures to list or to reach the API;
// per-workload failures are in the Report (see Report.Failed).
func Rollout(ctx context.Context, client kubernetes.Interface, newImage name.Digest, opts RolloutOptions) (*Report, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Minute
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 8
	}
	sel := selectorFor(newImage, opts.Replaces)
	rep := &Report{Image: newImage.String(), Replaces: sel.String(), DryRun: opts.DryRun}
	cs, err := find(ctx, client, newImage, &opts)
	if err != nil {
		return nil, err
	}
	rep.Results = make([]Result, len(cs))
	sem := make(chan struct{}, opts.Concurrency)
	var wg sync.WaitGroup
	for i := range cs {
		rep.Results[i] = cs[i].Result
		if !cs[i].optIn {
			rep.Results[i].Status, rep.Results[i].Reason = StatusSkipped, optInReason
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(r *Result) {
			defer func() { <-sem; wg.Done() }()
			roll(ctx, client, r, &opts)
		}(&rep.Results[i])
	}
	wg.Wait()
	return rep, ctx.Err()
}

func roll(ctx context.Context, client kubernetes.Interface, r *Result, opts *RolloutOptions) {
	gen, err := patchImages(ctx, client, r.Workload, r.Containers, false, opts.DryRun)
	if err != nil {
		r.Status, r.Reason = StatusFailed, err.Error()
		return
	}
	r.Generation = gen
	switch {
	case opts.DryRun:
		r.Status = StatusDryRun
		return
	case !opts.Wait:
		r.Status = StatusPatched
		return
	}
	werr := waitRollout(ctx, client, r.Workload, gen, opts)
	if werr == nil {
		r.Status = StatusUpdated
		return
	}
	// Restore with a fresh context: the caller's may be what ended the wait.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if _, err := patchImages(rctx, client, r.Workload, r.Containers, true, false); err != nil {
		r.Status, r.Reason = StatusFailed, fmt.Sprintf("%v; restoring the previous images failed too: %v", werr, err)
		return
	}
	r.Status, r.Reason = StatusRolledBack, werr.Error()
}

// imagePatch is the strategic merge patch that sets container images by
// name under the pod spec of kind.
func imagePatch(kind string, changes []ContainerChange, restore bool) ([]byte, error) {
	type ctr struct {
		Name  string `json:"name"`
		Image string `json:"image"`
	}
	podSpec := map[string][]ctr{}
	for _, c := range changes {
		img := c.New
		if restore {
			img = c.Old
		}
		key := "containers"
		if c.Init {
			key = "initContainers"
		}
		podSpec[key] = append(podSpec[key], ctr{Name: c.Container, Image: img})
	}
	tmpl := map[string]any{"spec": podSpec}
	var spec map[string]any
	switch kind {
	case KindDeployment, KindStatefulSet, KindDaemonSet:
		spec = map[string]any{"template": tmpl}
	case KindCronJob:
		spec = map[string]any{"jobTemplate": map[string]any{"spec": map[string]any{"template": tmpl}}}
	default:
		return nil, fmt.Errorf("cannot patch a %s", kind)
	}
	return json.Marshal(map[string]any{"spec": spec})
}

// patchImages applies the change (or its reverse) and returns the object's
// new generation.
func patchImages(ctx context.Context, client kubernetes.Interface, w Workload, changes []ContainerChange, restore, dryRun bool) (int64, error) {
	data, err := imagePatch(w.Kind, changes, restore)
	if err != nil {
		return 0, err
	}
	po := metav1.PatchOptions{FieldManager: FieldManager}
	if dryRun {
		po.DryRun = []string{metav1.DryRunAll}
	}
	var meta metav1.ObjectMeta
	switch w.Kind {
	case KindDeployment:
		o, err := client.AppsV1().Deployments(w.Namespace).Patch(ctx, w.Name, types.StrategicMergePatchType, data, po)
		if err != nil {
			return 0, fmt.Errorf("patch %s: %w", w, err)
		}
		meta = o.ObjectMeta
	case KindStatefulSet:
		o, err := client.AppsV1().StatefulSets(w.Namespace).Patch(ctx, w.Name, types.StrategicMergePatchType, data, po)
		if err != nil {
			return 0, fmt.Errorf("patch %s: %w", w, err)
		}
		meta = o.ObjectMeta
	case KindDaemonSet:
		o, err := client.AppsV1().DaemonSets(w.Namespace).Patch(ctx, w.Name, types.StrategicMergePatchType, data, po)
		if err != nil {
			return 0, fmt.Errorf("patch %s: %w", w, err)
		}
		meta = o.ObjectMeta
	case KindCronJob:
		o, err := client.BatchV1().CronJobs(w.Namespace).Patch(ctx, w.Name, types.StrategicMergePatchType, data, po)
		if err != nil {
			return 0, fmt.Errorf("patch %s: %w", w, err)
		}
		meta = o.ObjectMeta
	}
	return meta.Generation, nil
}

// waitRollout polls until the workload's controller has seen generation gen
// and all replicas are updated and available, the progress deadline
// passed, or the timeout ran out.
func waitRollout(ctx context.Context, client kubernetes.Interface, w Workload, gen int64, opts *RolloutOptions) error {
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	t := time.NewTicker(opts.PollInterval)
	defer t.Stop()
	last := "no status read yet"
	for {
		done, msg, err := rolloutStatus(ctx, client, w, gen)
		switch {
		case err != nil && ctx.Err() == nil:
			return err
		case err == nil && done:
			return nil
		}
		if msg != "" {
			last = msg
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("timed out after %s: %s", opts.Timeout, last)
			}
			return ctx.Err()
		case <-t.C:
		}
	}
}

// rolloutStatus reads the workload once. A terminal failure is an error.
func rolloutStatus(ctx context.Context, client kubernetes.Interface, w Workload, gen int64) (done bool, progress string, err error) {
	switch w.Kind {
	case KindDeployment:
		d, err := client.AppsV1().Deployments(w.Namespace).Get(ctx, w.Name, metav1.GetOptions{})
		if err != nil {
			return readFailed(w, err)
		}
		return deploymentDone(d, gen)
	case KindStatefulSet:
		s, err := client.AppsV1().StatefulSets(w.Namespace).Get(ctx, w.Name, metav1.GetOptions{})
		if err != nil {
			return readFailed(w, err)
		}
		return statefulSetDone(s, gen)
	case KindDaemonSet:
		d, err := client.AppsV1().DaemonSets(w.Namespace).Get(ctx, w.Name, metav1.GetOptions{})
		if err != nil {
			return readFailed(w, err)
		}
		return daemonSetDone(d, gen)
	}
	// A CronJob's next Job uses the new template; there is nothing to wait for.
	return true, "", nil
}

// readFailed ends the wait when the workload is gone; other errors (a
// throttled or dropped request) are retried until the timeout.
func readFailed(w Workload, err error) (bool, string, error) {
	if apierrors.IsNotFound(err) {
		return false, "", fmt.Errorf("read %s: %w", w, err)
	}
	return false, "read " + w.String() + ": " + err.Error(), nil
}

func replicas(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

func deploymentDone(d *appsv1.Deployment, gen int64) (bool, string, error) {
	st := d.Status
	if st.ObservedGeneration < gen {
		return false, "waiting for the controller to see generation " + fmt.Sprint(gen), nil
	}
	for _, c := range st.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" {
			return false, "", fmt.Errorf("progress deadline exceeded: %s", c.Message)
		}
	}
	want := replicas(d.Spec.Replicas)
	msg := fmt.Sprintf("%d of %d updated, %d available, %d total", st.UpdatedReplicas, want, st.AvailableReplicas, st.Replicas)
	return st.UpdatedReplicas == want && st.Replicas == want && st.AvailableReplicas == want, msg, nil
}

func statefulSetDone(s *appsv1.StatefulSet, gen int64) (bool, string, error) {
	st := s.Status
	if st.ObservedGeneration < gen {
		return false, "waiting for the controller to see generation " + fmt.Sprint(gen), nil
	}
	if s.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType {
		return true, "", nil
	}
	want := replicas(s.Spec.Replicas)
	msg := fmt.Sprintf("%d of %d updated, %d ready, %d available", st.UpdatedReplicas, want, st.ReadyReplicas, st.AvailableReplicas)
	return st.UpdatedReplicas == want && st.ReadyReplicas == want && st.AvailableReplicas == want &&
		st.CurrentRevision == st.UpdateRevision, msg, nil
}

func daemonSetDone(d *appsv1.DaemonSet, gen int64) (bool, string, error) {
	st := d.Status
	if st.ObservedGeneration < gen {
		return false, "waiting for the controller to see generation " + fmt.Sprint(gen), nil
	}
	if d.Spec.UpdateStrategy.Type == appsv1.OnDeleteDaemonSetStrategyType {
		return true, "", nil
	}
	msg := fmt.Sprintf("%d of %d updated, %d available", st.UpdatedNumberScheduled, st.DesiredNumberScheduled, st.NumberAvailable)
	return st.UpdatedNumberScheduled == st.DesiredNumberScheduled && st.NumberAvailable == st.DesiredNumberScheduled, msg, nil
}
