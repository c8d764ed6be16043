package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/client-go/kubernetes"

	"github.com/drydock/drydock/internal/attest"
	"github.com/drydock/drydock/internal/dbdist"
	"github.com/drydock/drydock/internal/deploy"
	"github.com/drydock/drydock/internal/freshness"
	"github.com/drydock/drydock/internal/image"
	"github.com/drydock/drydock/internal/jobs"
	"github.com/drydock/drydock/internal/loop"
	"github.com/drydock/drydock/internal/registryauth"
	"github.com/drydock/drydock/internal/store"
	"github.com/drydock/drydock/internal/vulndb"
)

// Options start a server; cmd/drydock fills them from flags.
type Options struct {
	// Config is drydock.yaml; Server its server section.
	Config *freshness.Config
	Server *Config
	// DataDir holds the SQLite store and job queue; CacheDir the layer cache.
	DataDir  string
	CacheDir string
	// Database, when set, is a PostgreSQL URL for store and queue.
	Database string
	// DBPath is the vulnerability database.
	DBPath string
	// Token is the API token (from server.tokenEnv); EventToken the push
	// event secret (from watch.events.tokenEnv).
	Token      string
	EventToken string
	Signer     *attest.Signer
	Evaluator  attest.Evaluator
	Tool       attest.Scanner
	UserAgent  string
	// Reconciler runs the freshness loop as jobs (nil: off).
	Reconciler *freshness.Reconciler
	// ReplicaID names this replica in the job engine.
	ReplicaID string
	// DBSync, when set, keeps the vulnerability database the signed one at
	// a registry reference, pulled every Server.DBPullInterval; the
	// periodic database job then only looks for changes to re-match.
	DBSync *dbdist.Syncer
	// Listening is told the API address once it is up.
	Listening func(addr net.Addr)
	Log       *slog.Logger
}

// Run starts the server and blocks until ctx ends.
func Run(ctx context.Context, o Options) error {
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	sc := o.Server
	ln, err := net.Listen("tcp", sc.Listen)
	if err != nil {
		return fmt.Errorf("server.listen %s: %w", sc.Listen, err)
	}
	defer ln.Close()
	loopback := isLoopback(ln.Addr())
	if !loopback && o.Token == "" {
		return fmt.Errorf("server.listen %s is not a loopback address: set server.tokenEnv so reads need a token", sc.Listen)
	}

	var st *store.DB
	if o.Database != "" {
		st, err = store.OpenPostgres(ctx, o.Database)
	} else {
		st, err = store.OpenSQLite(ctx, filepath.Join(o.DataDir, "server.sqlite"))
	}
	if err != nil {
		return err
	}
	defer st.Close()

	var m *metrics
	deps := &jobs.Deps{
		Store:  st,
		DBPath: o.DBPath,
		Inventory: loop.InventoryOptions{
			CacheDir: o.CacheDir,
			TempDir:  filepath.Join(o.CacheDir, "tmp"),
			Image:    []image.Option{image.WithUserAgent(o.UserAgent)},
			Tool:     o.Tool.Name + " " + o.Tool.Version,
		},
		ImageOptions: []image.Option{image.WithUserAgent(o.UserAgent)},
		Targets:      sc.Registries,
		Signer:       o.Signer,
		Evaluator:    o.Evaluator,
		Tool:         o.Tool,
		RematchBatch: sc.RematchBatch,
		Observe: func(kind string, d time.Duration) {
			if m != nil {
				m.duration.WithLabelValues(kind).Observe(d.Seconds())
			}
		},
		OnBackoff: func(host string, _ time.Duration, _ string) {
			if m != nil {
				m.backoffs.WithLabelValues(host).Inc()
			}
		},
		Log: log,
	}
	// Clusters' clients, and the pull credentials of those that read
	// images with their Pods' secrets, exist before any job runs.
	clients := make([]kubernetes.Interface, len(sc.Clusters))
	pull := map[string]*registryauth.Kube{}
	for i, cl := range sc.Clusters {
		rc, err := deploy.RESTConfig(cl.Kubeconfig, cl.Context)
		if err != nil {
			return fmt.Errorf("server.clusters %s: %w", cl.Name, err)
		}
		if clients[i], err = deploy.NewClient(rc, o.UserAgent); err != nil {
			return fmt.Errorf("server.clusters %s: %w", cl.Name, err)
		}
		if cl.PullCredentials {
			if pull[cl.Name], err = registryauth.NewKube(ctx, clients[i], registryauth.NodeKeychain()); err != nil {
				return fmt.Errorf("server.clusters %s: pullCredentials: %w", cl.Name, err)
			}
		}
	}
	if len(pull) > 0 {
		deps.Credentials = func(ctx context.Context, p jobs.PullFrom) (registryauth.Credentials, error) {
			k := pull[p.Cluster]
			if k == nil {
				return registryauth.Credentials{}, fmt.Errorf("cluster %q does not read pull credentials", p.Cluster)
			}
			return k.Credentials(ctx, registryauth.Workload{Namespace: p.Namespace, ServiceAccount: p.ServiceAccount, PullSecrets: p.PullSecrets})
		}
	}
	if platform := o.Config.Platform; platform != "" {
		p, err := image.ParsePlatform(platform)
		if err != nil {
			return fmt.Errorf("platform: %w", err)
		}
		deps.Inventory.Image = append(deps.Inventory.Image, image.WithPlatform(p))
	}
	if sc.DBMirror != "" && o.DBSync == nil {
		deps.UpdateDB = func(ctx context.Context) error {
			_, err := vulndb.Update(ctx, o.DBPath, sc.Ecosystems, vulndb.WithBaseURL(sc.DBMirror))
			return err
		}
	}
	if o.Reconciler != nil {
		deps.Reconcile = func(ctx context.Context) []freshness.Item { return o.Reconciler.Reconcile(ctx) }
		deps.ReconcileImage = o.Reconciler.ReconcileImage
	}
	deps.Role = func(name string) string {
		if o.Config.IsBase(name) {
			return store.RoleBase
		}
		return store.RoleApp
	}
	sched := jobs.Schedule{
		Crawl:    sc.CrawlInterval.Duration,
		DBUpdate: sc.DBUpdateInterval.Duration,
		Trend:    trendInterval,
		Workers:  sc.Workers,
		ID:       o.ReplicaID,
		// A dead replica's job is rescued once it has clearly overrun.
		JobTimeout:  sc.JobTimeout.Duration,
		RescueAfter: sc.JobTimeout.Duration + min(time.Minute, sc.JobTimeout.Duration/2),
	}
	if o.Reconciler != nil {
		sched.Reconcile = o.Config.Watch.PollInterval.Duration
	}
	var eng *jobs.Engine
	if o.Database != "" {
		eng, err = jobs.OpenPostgres(ctx, o.Database, deps, sched)
	} else {
		eng, err = jobs.OpenSQLite(ctx, filepath.Join(o.DataDir, "jobs.sqlite"), deps, sched)
	}
	if err != nil {
		return err
	}
	m = newMetrics(st, eng.Depth)
	if err := eng.Start(ctx); err != nil {
		return fmt.Errorf("start jobs: %w", err)
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := eng.Stop(stopCtx); err != nil {
			log.Warn("stop jobs", "err", err)
		}
	}()

	if o.DBSync != nil {
		go o.DBSync.Run(ctx, sc.DBPullInterval.Duration, func(res *dbdist.PullResult, err error) {
			ref := o.DBSync.Ref.String()
			bg := context.WithoutCancel(ctx)
			if err != nil {
				// The installed database stays; nothing is signed without one.
				log.Error("vulnerability database pull failed; keeping the installed database", "ref", ref, "err", err)
				if err := st.AddEvent(bg, store.Event{Kind: store.EventDBUpdate, Detail: "pull of oci://" + ref + " failed, installed database kept: " + err.Error()}); err != nil {
					log.Error("record event", "err", err)
				}
				return
			}
			if res.Unchanged {
				log.Debug("vulnerability database unchanged", "ref", ref)
				return
			}
			log.Info("vulnerability database installed", "ref", ref, "manifest", res.Manifest.DigestStr(), "signed", res.Created,
				"layers", res.Downloaded, "of", res.Layers, "bytes", res.Bytes)
			// The database job notices the change and queues the re-match.
			if _, err := eng.Enqueue(bg, jobs.DBUpdateArgs{}); err != nil {
				log.Error("queue re-match after database pull", "err", err)
			}
		})
	}

	insecure := func(ref string) bool {
		for _, h := range o.Config.Registries.Insecure {
			if strings.HasPrefix(ref, h+"/") {
				return true
			}
		}
		for _, t := range sc.Registries {
			if t.Insecure && strings.HasPrefix(ref, t.Registry+"/") {
				return true
			}
		}
		return false
	}
	enqueueRef := func(ctx context.Context, ref string, force bool) error {
		_, err := eng.Enqueue(ctx, jobs.ResolveArgs{Ref: ref, Insecure: insecure(ref), Force: force})
		return err
	}

	for i, cl := range sc.Clusters {
		lat := &latencyObserver{st: st, hist: m.patchLatency, log: log}
		cw := &ClusterWatch{Name: cl.Name, Client: clients[i], Store: st, Log: log, Stopped: lat.stopped,
			Scan: func(ctx context.Context, ref string, w registryauth.Workload) error {
				args := jobs.ResolveArgs{Ref: ref, Insecure: insecure(ref)}
				if pull[cl.Name] != nil {
					args.Pull = &jobs.PullFrom{Cluster: cl.Name, Namespace: w.Namespace, ServiceAccount: w.ServiceAccount, PullSecrets: w.PullSecrets}
				}
				_, err := eng.Enqueue(ctx, args)
				return err
			}}
		go func() {
			if err := cw.Run(ctx); err != nil {
				log.Error("cluster watch", "cluster", cl.Name, "err", err)
			}
		}()
	}

	api := &API{Store: st, Token: o.Token, OpenReads: loopback, Insecure: insecure,
		Enqueue: func(ctx context.Context, ref string, _ bool) error { return enqueueRef(ctx, ref, true) }}
	if o.Reconciler != nil {
		api.Rebuild = func(ctx context.Context, im *store.Image) (string, error) {
			// Only the image asked for: the freshness loop decides whether
			// it is outdated and rebuilds it, leaving the others alone.
			imName := o.Config.ImageFor(im.Repository, im.Tags)
			if imName == "" {
				return "", bad("%s is not one of drydock.yaml's images (or matches several by repository): drydock rebuilds only the images configured under images:", im.Repository)
			}
			_, err := eng.Enqueue(ctx, jobs.ReconcileImageArgs{Name: imName})
			return imName, err
		}
	}
	ui, err := NewUI(api)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", api.Handler())
	mux.Handle("/", ui.Handler())
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		if err := st.Ping(ctx); err != nil {
			http.Error(w, "store unreachable", http.StatusServiceUnavailable)
			return
		}
		for name, k := range pull {
			if !k.Synced() {
				http.Error(w, "cluster "+name+": pull secrets and service accounts not read yet", http.StatusServiceUnavailable)
				return
			}
		}
		w.Write([]byte("ok\n"))
	})
	accept := pushAcceptor(sc.Registries, func(ref string) bool { return o.Reconciler != nil && len(o.Config.Affected(ref)) > 0 })
	mux.Handle("/events/", &freshness.EventHandler{Token: o.EventToken, Accept: func(source string, ev freshness.PushEvent) error {
		err := accept(ev)
		if err != nil {
			log.Warn("push event ignored", "source", source, "err", err)
		}
		return err
	}, OnPush: func(source string, evs []freshness.PushEvent) {
		for _, ev := range evs {
			ref, err := pushRef(ev)
			if err != nil {
				log.Warn("push event: bad reference", "source", source, "ref", ref)
				continue
			}
			log.Info("push event", "source", source, "ref", ref)
			if err := enqueueRef(context.WithoutCancel(ctx), ref, false); err != nil {
				log.Error("push event: queue", "ref", ref, "err", err)
			}
			if o.Reconciler != nil && len(o.Config.Affected(ref)) > 0 {
				eng.Enqueue(context.WithoutCancel(ctx), jobs.ReconcileArgs{})
			}
		}
	}})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second}
	srvErr := make(chan error, 1)
	go func() { srvErr <- srv.Serve(ln) }()
	if o.Listening != nil {
		o.Listening(ln.Addr())
	}
	log.Info("drydock server started", "listen", ln.Addr().String(), "engine", st.Engine(), "registries", len(sc.Registries), "clusters", len(sc.Clusters))
	select {
	case err = <-srvErr:
		return fmt.Errorf("api server: %w", err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("api server shutdown", "err", err)
	}
	return nil
}

// pushRef is the reference a push event names; an error when it does not
// parse strictly (the event's fields come from whoever can post events).
func pushRef(ev freshness.PushEvent) (string, error) {
	ref := ev.Repository + ":" + ev.Tag
	if ev.Host != "" {
		ref = ev.Host + "/" + ref
	}
	_, err := name.ParseReference(ref, name.StrictValidation)
	return ref, err
}

// pushAcceptor judges push events: the registry must be one of
// server.registries, or the reference one the freshness loop tracks
// (tracked says which). An event that does not parse is let through to
// be logged and dropped.
func pushAcceptor(targets []jobs.Target, tracked func(ref string) bool) func(freshness.PushEvent) error {
	hosts := map[string]bool{}
	for _, t := range targets {
		if r, err := name.NewRegistry(t.Registry, name.Insecure); err == nil {
			hosts[r.RegistryStr()] = true
		}
	}
	return func(ev freshness.PushEvent) error {
		ref, err := pushRef(ev)
		if err != nil {
			return nil
		}
		r, _ := name.ParseReference(ref, name.StrictValidation)
		if hosts[r.Context().RegistryStr()] || tracked(ref) {
			return nil
		}
		return fmt.Errorf("%s: registry %s is not in server.registries (nor an image or base the config tracks); add it there to accept its push events", ref, r.Context().RegistryStr())
	}
}

func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}
