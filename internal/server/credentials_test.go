package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drydock/drydock/internal/k8stest"
	"github.com/drydock/drydock/internal/server"
)

// lockedBuffer is a log sink the server writes from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// basicAuthRegistry is the in-process registry behind HTTP basic
// authentication, as a private Harbor or distribution registry with htpasswd
// answers: 401 with a Basic challenge and an UNAUTHORIZED error body.
func basicAuthRegistry(t *testing.T, user, pass string) (host string, open func(bool)) {
	t.Helper()
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	var mu sync.Mutex
	isOpen := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		o := isOpen
		mu.Unlock()
		if u, p, ok := r.BasicAuth(); !o && (!ok || u != user || p != pass) {
			w.Header().Set("WWW-Authenticate", `Basic realm="drydock-test"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), func(b bool) { mu.Lock(); isOpen = b; mu.Unlock() }
}

// Issue 16, the server: on a real kube-apiserver, the Pod informer's scans
// of running images read the registry with each Pod's pull credentials
// (its imagePullSecrets, else its ServiceAccount's). A Pod without them
// leaves the image unscanned with the reason; the same digest run by a Pod
// with the secret is then scanned; no credential reaches the log.
func TestServerScansWithPodPullCredentials(t *testing.T) {
	c := k8stest.Start(t, k8stest.Options{})
	cs := c.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	const user, pass = "puller", "s3cret-pw"
	host, open := basicAuthRegistry(t, user, pass)
	pushed := map[string]name.Digest{}
	for _, repo := range []string{"private/a", "private/b"} {
		img, err := random.Image(512, 1)
		if err != nil {
			t.Fatal(err)
		}
		tag, _ := name.NewTag(host + "/" + repo + ":1")
		if err := remote.Write(tag, img); err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		pushed[repo] = tag.Context().Digest(d.String())
	}
	open(false)

	const ns = "creds"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	cfg, _ := json.Marshal(map[string]any{"auths": map[string]any{host: map[string]string{"auth": auth}}})
	for _, n := range []string{"regcred", "sa-cred"} {
		if _, err := cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: n}, Type: corev1.SecretTypeDockerConfigJson,
			Data: map[string][]byte{corev1.DockerConfigJsonKey: cfg}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, sa := range []*corev1.ServiceAccount{
		{ObjectMeta: metav1.ObjectMeta{Name: "default"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "builder"}, ImagePullSecrets: []corev1.LocalObjectReference{{Name: "sa-cred"}}},
	} {
		if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	dir := t.TempDir()
	logs := &lockedBuffer{}
	api := startServer(t, fmt.Sprintf(`server:
  crawlInterval: 0s
  dbUpdateInterval: 0s
  clusters:
    - name: test
      kubeconfig: %s
      pullCredentials: true
`, c.Kubeconfig), dir, filepath.Join(dir, "vulndb.sqlite"), func(o *server.Options) {
		o.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})

	// Ready once the Secret and ServiceAccount informers have listed: a
	// scan queued before would wait for River's retry.
	waitFor(t, "the server ready", func() bool { code, _ := api.do(t, "GET", "/readyz", "", ""); return code == 200 })

	run := func(podName, repo, sa string, secrets ...string) {
		t.Helper()
		ref := host + "/" + repo + ":1"
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: podName},
			Spec: corev1.PodSpec{ServiceAccountName: sa, Containers: []corev1.Container{{Name: "app", Image: ref}}}}
		for _, s := range secrets {
			p.Spec.ImagePullSecrets = append(p.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: s})
		}
		p, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p.Status = corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
			Name: "app", Image: ref, ImageID: pushed[repo].String(), Ready: true,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}},
		}}}
		if _, err := cs.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	type detail struct {
		ScannedAt time.Time
		ScanError string
	}
	image := func(d name.Digest) detail {
		var got detail
		api.get(t, "/api/v1/images/"+d.DigestStr(), &got)
		return got
	}

	// Without a pull secret (and the default service account has none):
	// refused, with the reason on the image, and not scanned.
	run("no-secret", "private/a", "")
	var got detail
	waitFor(t, "the refusal recorded on private/a", func() bool { got = image(pushed["private/a"]); return got.ScanError != "" })
	for _, want := range []string{"pull credentials cannot read this image", "no pull secret in namespace creds", "add an imagePullSecret", "UNAUTHORIZED"} {
		if !strings.Contains(got.ScanError, want) {
			t.Errorf("scan error %q lacks %q", got.ScanError, want)
		}
	}
	if !got.ScannedAt.IsZero() {
		t.Errorf("private/a scanned without credentials at %v", got.ScannedAt)
	}

	// The same digest run by a Pod naming the secret: scanned.
	run("with-secret", "private/a", "", "regcred")
	waitFor(t, "private/a scanned with the Pod's secret", func() bool { got = image(pushed["private/a"]); return !got.ScannedAt.IsZero() })
	if got.ScanError != "" {
		t.Errorf("scan error left after a successful scan: %q", got.ScanError)
	}

	// Through the Pod's service account.
	run("via-sa", "private/b", "builder")
	waitFor(t, "private/b scanned with the service account's secret", func() bool { return !image(pushed["private/b"]).ScannedAt.IsZero() })

	lg := logs.String()
	for _, secret := range []string{pass, auth} {
		if strings.Contains(lg, secret) {
			t.Errorf("server log contains a credential %q", secret)
		}
	}
	if t.Failed() {
		t.Logf("server log:\n%s", lg)
	}
}
