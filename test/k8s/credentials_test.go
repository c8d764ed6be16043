package k8s

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drydock/drydock/internal/attest"
	"github.com/drydock/drydock/internal/k8stest"
)

// tokenRegistry puts the Docker registry token protocol (as Harbor, ACR
// and Docker Hub speak it) in front of an in-process registry: a request
// for /v2/<repo>/… needs a bearer token for that repository, which
// GET /token issues for basic credentials allowed to pull it. While open
// is set, every request passes (the test pushes and signs then).
type tokenRegistry struct {
	srv   *httptest.Server
	host  string
	open  atomic.Bool
	users map[string]string   // user → password
	repos map[string][]string // user → repositories it may pull

	mu     sync.Mutex
	tokens map[string]string // token → user
	denied int               // requests refused
}

var repoPath = regexp.MustCompile(`^/v2/(.+?)/(manifests|blobs|tags|referrers)/`)

func newTokenRegistry(t *testing.T) *tokenRegistry {
	t.Helper()
	tr := &tokenRegistry{users: map[string]string{}, repos: map[string][]string{}, tokens: map[string]string{}}
	tr.open.Store(true)
	inner := registry.New(registry.WithReferrersSupport(true), registry.Logger(log.New(io.Discard, "", 0)))
	tr.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			tr.token(w, r)
			return
		}
		if tr.open.Load() {
			inner.ServeHTTP(w, r)
			return
		}
		repo := ""
		if m := repoPath.FindStringSubmatch(r.URL.Path); m != nil {
			repo = m[1]
		}
		challenge := fmt.Sprintf(`Bearer realm="http://%s/token",service="drydock-test"`, tr.host)
		if repo != "" {
			challenge += fmt.Sprintf(`,scope="repository:%s:pull"`, repo)
		}
		user := ""
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			tr.mu.Lock()
			user = tr.tokens[tok]
			tr.mu.Unlock()
		}
		ok := user != "" && (repo == "" || tr.allowed(user, repo))
		if !ok {
			tr.mu.Lock()
			tr.denied++
			tr.mu.Unlock()
			w.Header().Set("WWW-Authenticate", challenge)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(tr.srv.Close)
	tr.host = strings.TrimPrefix(tr.srv.URL, "http://")
	return tr
}

func (tr *tokenRegistry) allowed(user, repo string) bool {
	for _, r := range tr.repos[user] {
		if r == repo {
			return true
		}
	}
	return false
}

// token issues a token only when the basic credentials are right and every
// requested scope is a pull of a repository the user may read, as a real
// token service that refuses rather than narrows would.
func (tr *tokenRegistry) token(w http.ResponseWriter, r *http.Request) {
	u, p, ok := r.BasicAuth()
	if !ok || tr.users[u] == "" || tr.users[u] != p {
		http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}`, http.StatusUnauthorized)
		return
	}
	for _, sc := range r.URL.Query()["scope"] {
		parts := strings.Split(sc, ":")
		if len(parts) != 3 || parts[0] != "repository" || !strings.Contains(parts[2], "pull") || !tr.allowed(u, parts[1]) {
			http.Error(w, `{"errors":[{"code":"DENIED","message":"scope not allowed"}]}`, http.StatusForbidden)
			return
		}
	}
	b := make([]byte, 16)
	rand.Read(b)
	tok := hex.EncodeToString(b)
	tr.mu.Lock()
	tr.tokens[tok] = u
	tr.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"token": tok, "expires_in": 300})
}

// pullSecret is a kubernetes.io/dockerconfigjson (or, legacy,
// kubernetes.io/dockercfg) Secret for host.
func pullSecret(name, host, user, pass string, legacy bool) *corev1.Secret {
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	entry := map[string]any{host: map[string]string{"username": user, "password": pass, "auth": auth}}
	if legacy {
		b, _ := json.Marshal(entry)
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}, Type: corev1.SecretTypeDockercfg,
			Data: map[string][]byte{corev1.DockerConfigKey: b}}
	}
	b, _ := json.Marshal(map[string]any{"auths": entry})
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}, Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: b}}
}

// TestAdmissionPullCredentials is issue 16's credentials test: the image is
// readable only with a pull secret (the registry's token service checks
// basic credentials per repository); a pod that names the secret, or whose
// service account does, is admitted; the same pod without it, or in a
// namespace without the secret, is denied with the reason, even though
// the image's verdict is already verified and cached.
func TestAdmissionPullCredentials(t *testing.T) {
	k8stest.Require(t, false)
	bin := drydockBinary(t)
	c := k8stest.Start(t, k8stest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()

	tr := newTokenRegistry(t)
	tg, err := name.NewTag(tr.host + "/private/app:good")
	if err != nil {
		t.Fatal(err)
	}
	digest := pushRandom(t, tg)
	key, _ := attest.GenerateKey()
	s, _ := attest.NewSigner(key)
	sign(t, s, digest, attest.ResultPass)
	pub, _ := attest.MarshalPublicKey(&key.PublicKey)
	im := &images{host: tr.host, pubKeyFile: dir + "/key.pub"}
	write(t, im.pubKeyFile, pub)
	tr.users["puller"], tr.repos["puller"] = "s3cret", []string{"private/app"}
	tr.users["other"], tr.repos["other"] = "pw", []string{"elsewhere/app"}
	tr.open.Store(false)

	cs, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	const ns, bare = "creds", "no-creds"
	for _, n := range []string{ns, bare, "drydock-system"} {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{}); err != nil && !strings.Contains(err.Error(), "already exists") {
			t.Fatal(err)
		}
	}
	for _, sec := range []*corev1.Secret{
		pullSecret("regcred", tr.host, "puller", "s3cret", false),
		pullSecret("legacy", tr.host, "puller", "s3cret", true),
		pullSecret("wrong-repo", tr.host, "other", "pw", false),
		pullSecret("sa-cred", tr.host, "puller", "s3cret", false),
	} {
		if _, err := cs.CoreV1().Secrets(ns).Create(ctx, sec, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "builder"},
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "sa-cred"}}}
	if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	p := newPKI(t, dir)
	w := startWebhook(t, bin, p, im, c.Kubeconfig)
	registerWebhooks(t, ctx, cs, bin, p, w, "drydock-creds")
	pods := cs.CoreV1().Pods(ns)
	start := time.Now()
	for {
		_, err := pods.Create(ctx, pod("probe", tr.host+"/private/none@sha256:"+strings.Repeat("1", 64)), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil && strings.Contains(err.Error(), "drydock denied") {
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("webhook never became active: last result %v\n%s", err, readFile(w.log))
		}
		time.Sleep(50 * time.Millisecond)
	}

	withSecrets := func(p *corev1.Pod, secrets ...string) *corev1.Pod {
		for _, s := range secrets {
			p.Spec.ImagePullSecrets = append(p.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: s})
		}
		return p
	}
	pinned := tg.String() + "@" + digest.DigestStr()

	// Without a secret first, so nothing is cached yet: the tag cannot
	// even be resolved with drydock's own (anonymous) credentials.
	_, err = pods.Create(ctx, pod("no-secret-first", tg.String()), metav1.CreateOptions{})
	mustDeny(t, "pod without a pull secret", err, "drydock denied Pod", "pull credentials cannot read this image",
		"no pull secret in namespace creds", "add an imagePullSecret", "UNAUTHORIZED")

	// With its pull secret: admitted and pinned.
	got, err := pods.Create(ctx, withSecrets(pod("with-secret", tg.String()), "regcred"), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("pod with its pull secret denied: %v\n%s", err, readFile(w.log))
	}
	if got.Spec.Containers[0].Image != pinned {
		t.Errorf("admitted image %q, want %q", got.Spec.Containers[0].Image, pinned)
	}
	// The legacy .dockercfg form works too.
	if _, err := pods.Create(ctx, withSecrets(pod("legacy-secret", tg.String()), "legacy"), metav1.CreateOptions{}); err != nil {
		t.Errorf("pod with a .dockercfg pull secret denied: %v", err)
	}

	// The verdict of the digest is verified and cached now. The same pod,
	// by digest, without the secret, and in a namespace that lacks the
	// secret it names, and with a secret for another repository: denied,
	// not admitted on regcred's cached verification.
	_, err = pods.Create(ctx, pod("digest-no-secret", pinned), metav1.CreateOptions{})
	mustDeny(t, "pinned pod without a pull secret", err, "pull credentials cannot read this image", "no pull secret in namespace creds", "UNAUTHORIZED")
	_, err = cs.CoreV1().Pods(bare).Create(ctx, withSecrets(pod("elsewhere", pinned), "regcred"), metav1.CreateOptions{})
	mustDeny(t, "pod naming a secret its namespace lacks", err, "pull credentials cannot read this image",
		"imagePullSecrets regcred (1 of them missing or not of a pull-secret type) in namespace no-creds")
	_, err = pods.Create(ctx, withSecrets(pod("wrong-repo", pinned), "wrong-repo"), metav1.CreateOptions{})
	mustDeny(t, "pod whose secret is for another repository", err, "pull credentials cannot read this image", "imagePullSecrets wrong-repo")

	// The ServiceAccount path: no imagePullSecrets on the pod, its service
	// account names one. For a Pod and for a Deployment's template.
	saPod := pod("via-sa", tg.String())
	saPod.Spec.ServiceAccountName = "builder"
	if got, err := pods.Create(ctx, saPod, metav1.CreateOptions{}); err != nil {
		t.Errorf("pod whose service account has the pull secret denied: %v", err)
	} else if got.Spec.Containers[0].Image != pinned {
		t.Errorf("service-account pod image %q, want %q", got.Spec.Containers[0].Image, pinned)
	}
	dep := deployment("via-sa", pinned)
	dep.Spec.Template.Spec.ServiceAccountName = "builder"
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Errorf("deployment whose service account has the pull secret denied: %v", err)
	}
	_, err = cs.AppsV1().Deployments(ns).Create(ctx, deployment("default-sa", pinned), metav1.CreateOptions{})
	mustDeny(t, "deployment with the default service account", err, "drydock denied Deployment", "pull credentials cannot read this image")

	// A secret created after the webhook started is seen (informer).
	if _, err := cs.CoreV1().Secrets(bare).Create(ctx, pullSecret("regcred", tr.host, "puller", "s3cret", false), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err = cs.CoreV1().Pods(bare).Create(ctx, withSecrets(pod("after-secret", pinned), "regcred"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Errorf("pod admitted after its namespace got the secret: still denied: %v", err)
	}

	// Nothing of the secrets reaches the log.
	lg := readFile(w.log)
	for _, secret := range []string{"s3cret", base64.StdEncoding.EncodeToString([]byte("puller:s3cret"))} {
		if strings.Contains(lg, secret) {
			t.Errorf("webhook log contains a credential %q", secret)
		}
	}
	tr.mu.Lock()
	t.Logf("registry refused %d requests", tr.denied)
	tr.mu.Unlock()
	if t.Failed() {
		t.Logf("webhook log:\n%s", lg)
	}
}
