package server

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/drydock/drydock/internal/deploy"
	"github.com/drydock/drydock/internal/registryauth"
	"github.com/drydock/drydock/internal/store"
)

// workloadStore is what the cluster watch records into.
type workloadStore interface {
	SetWorkload(ctx context.Context, w store.Workload) (bool, string, error)
	DeleteWorkload(ctx context.Context, w store.Workload) error
	Scanned(ctx context.Context, digest string) (bool, error)
	Image(ctx context.Context, digest string) (*store.Image, error)
}

// ClusterWatch records, from a Pod informer, which digest runs in which
// workload container, and asks for a scan of any running digest never
// scanned.
type ClusterWatch struct {
	Name   string
	Client kubernetes.Interface
	Store  workloadStore
	// Scan queues a scan of repository@digest, read with the pull
	// credentials of workload w (its namespace, service account and
	// imagePullSecrets) when the server is configured to use them.
	Scan func(ctx context.Context, ref string, w registryauth.Workload) error
	// Stopped, when set, is told each digest a workload container moved
	// off or stopped running (patch latency).
	Stopped func(ctx context.Context, digest string)
	Log     *slog.Logger

	// queued remembers (digest, credentials) already queued by this
	// process: a scan that failed (say, the registry refused a Pod's
	// credentials) is queued again only for a Pod with other credentials,
	// not on every Pod update. Touched on the informer's goroutine only.
	queued map[string]bool
}

// maxQueued bounds the memory of queued scans; forgetting only costs a
// redundant queue (River keeps one pending scan per digest).
const maxQueued = 50000

// Run watches until ctx ends.
func (c *ClusterWatch) Run(ctx context.Context) error {
	c.queued = map[string]bool{}
	owners := deploy.NewOwnerResolver(c.Client)
	f := informers.NewSharedInformerFactory(c.Client, 10*time.Minute)
	inf := f.Core().V1().Pods().Informer()
	// Events are handled one at a time, in order, on the informer's goroutine.
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.pod(ctx, owners, inf.GetIndexer(), obj) },
		UpdateFunc: func(_, obj any) { c.pod(ctx, owners, inf.GetIndexer(), obj) },
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if p, ok := obj.(*corev1.Pod); ok {
				c.gone(ctx, owners, inf.GetIndexer(), p)
			}
		},
	})
	if err != nil {
		return fmt.Errorf("cluster %s: %w", c.Name, err)
	}
	f.Start(ctx.Done())
	<-ctx.Done()
	f.Shutdown()
	return nil
}

func (c *ClusterWatch) log() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.Default()
}

// running lists the running containers of a Pod with their digests.
func running(p *corev1.Pod) []corev1.ContainerStatus {
	if p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
		return nil
	}
	var out []corev1.ContainerStatus
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Running != nil && cs.ImageID != "" {
			out = append(out, cs)
		}
	}
	return out
}

func (c *ClusterWatch) pod(ctx context.Context, owners *deploy.OwnerResolver, idx cache.Indexer, obj any) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	sts := running(p)
	if len(sts) == 0 {
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed || p.DeletionTimestamp != nil {
			c.gone(ctx, owners, idx, p)
		}
		return
	}
	w, err := owners.WorkloadOf(ctx, p)
	if err != nil {
		c.log().Warn("cluster: owner of pod", "cluster", c.Name, "pod", p.Namespace+"/"+p.Name, "err", err)
		return
	}
	for _, cs := range sts {
		ri, err := deploy.ParseImageID(cs.ImageID)
		if err != nil {
			c.log().Warn("cluster: unreadable imageID", "cluster", c.Name, "pod", p.Namespace+"/"+p.Name, "container", cs.Name, "err", err)
			continue
		}
		repo := ri.Repository
		if repo == "" {
			if r, err := deploy.ParseRef(cs.Image); err == nil {
				repo = r.Repository
			}
		}
		rec := store.Workload{Cluster: c.Name, Namespace: w.Namespace, Kind: w.Kind, Name: w.Name, Container: cs.Name, Image: cs.Image, Digest: ri.Digest}
		changed, prev, err := c.Store.SetWorkload(ctx, rec)
		if err != nil {
			c.log().Error("cluster: record workload", "err", err)
			continue
		}
		if changed {
			c.log().Info("running", "cluster", c.Name, "workload", rec.Key(), "digest", ri.Digest)
			if prev != "" && prev != ri.Digest && c.Stopped != nil {
				c.Stopped(ctx, prev)
			}
		}
		if repo == "" || c.Scan == nil {
			continue
		}
		pw := registryauth.Workload{Namespace: p.Namespace, ServiceAccount: p.Spec.ServiceAccountName}
		for _, s := range p.Spec.ImagePullSecrets {
			pw.PullSecrets = append(pw.PullSecrets, s.Name)
		}
		key := fmt.Sprintf("%s\x00%s\x00%s\x00%q", ri.Digest, pw.Namespace, pw.ServiceAccount, pw.PullSecrets)
		if c.queued[key] {
			continue
		}
		// A digest that failed before is queued once more per credentials
		// this process sees it with (River retried the transient failures
		// already; a refusal may not hold for another workload's secret).
		if scanned, err := c.Store.Scanned(ctx, ri.Digest); err == nil && !scanned {
			if err := c.Scan(ctx, repo+"@"+ri.Digest, pw); err != nil {
				c.log().Error("cluster: queue scan", "ref", repo+"@"+ri.Digest, "err", err)
				continue
			}
			if len(c.queued) >= maxQueued {
				clear(c.queued)
			}
			c.queued[key] = true
		}
	}
}

// gone forgets a Pod's containers unless another Pod of the same workload
// still runs them.
func (c *ClusterWatch) gone(ctx context.Context, owners *deploy.OwnerResolver, idx cache.Indexer, p *corev1.Pod) {
	w, err := owners.WorkloadOf(ctx, p)
	if err != nil {
		return
	}
	others := map[string]string{} // container → digest still running
	for _, obj := range idx.List() {
		q, ok := obj.(*corev1.Pod)
		if !ok || q.UID == p.UID || q.Namespace != p.Namespace {
			continue
		}
		if qw, err := owners.WorkloadOf(ctx, q); err != nil || qw != w {
			continue
		}
		for _, cs := range running(q) {
			if ri, err := deploy.ParseImageID(cs.ImageID); err == nil {
				others[cs.Name] = ri.Digest
			}
		}
	}
	for _, cs := range p.Status.ContainerStatuses {
		rec := store.Workload{Cluster: c.Name, Namespace: w.Namespace, Kind: w.Kind, Name: w.Name, Container: cs.Name, Image: cs.Image}
		if d, ok := others[cs.Name]; ok {
			rec.Digest = d
			c.Store.SetWorkload(ctx, rec)
			continue
		}
		if err := c.Store.DeleteWorkload(ctx, rec); err != nil {
			c.log().Error("cluster: forget workload", "err", err)
			continue
		}
		if ri, err := deploy.ParseImageID(cs.ImageID); err == nil && c.Stopped != nil {
			c.Stopped(ctx, ri.Digest)
		}
	}
}
