package deploy_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drydock/drydock/internal/deploy"
	"github.com/drydock/drydock/internal/registryauth"
)

// Issue 16, runtime: on a real kube-apiserver, `drydock runtime --resolve
// --pull-credentials` resolves each Pod's tag with that Pod's pull
// credentials (read through informers): a Pod naming the secret, or whose
// service account does, resolves; a Pod without it shows the refusal and
// where its credentials came from. The registry is the in-process one
// behind HTTP basic authentication, as a private distribution registry
// with htpasswd answers.
func TestRuntimeResolvesWithPodPullCredentials(t *testing.T) {
	_, cs := cluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	const user, pass = "puller", "s3cret-pw"
	var open atomic.Bool
	open.Store(true)
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !open.Load() && (!ok || u != user || p != pass) {
			w.Header().Set("WWW-Authenticate", `Basic realm="drydock-test"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	ref := host + "/private/app:1"
	digest := push(t, ref)
	open.Store(false)

	const ns = "runtime-creds"
	namespace(t, cs, ns)
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	cfg, _ := json.Marshal(map[string]any{"auths": map[string]any{host: map[string]string{"auth": auth}}})
	for _, n := range []string{"regcred", "sa-cred"} {
		if _, err := cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: n}, Type: corev1.SecretTypeDockerConfigJson,
			Data: map[string][]byte{corev1.DockerConfigJsonKey: cfg}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "builder"},
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "sa-cred"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The controller-manager makes the namespace's default service
	// account; Pods naming none need it to pass the apiserver's admission.
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{}); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("no default service account: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, p := range []struct {
		name, sa string
		secrets  []string
	}{{"with-secret", "", []string{"regcred"}}, {"without", "", nil}, {"via-sa", "builder", nil}} {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: p.name, Namespace: ns},
			Spec: corev1.PodSpec{ServiceAccountName: p.sa, Containers: []corev1.Container{{Name: "app", Image: ref}}}}
		for _, s := range p.secrets {
			pod.Spec.ImagePullSecrets = append(pod.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: s})
		}
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	kc, err := registryauth.NewKube(ctx, cs, authn.NewMultiKeychain())
	if err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(60 * time.Second)
	for !kc.Synced() {
		if time.Now().After(deadline) {
			t.Fatal("secret and service account informers never synced")
		}
		time.Sleep(50 * time.Millisecond)
	}
	got := map[string]deploy.Container{}
	err = deploy.Runtime(ctx, cs, deploy.RuntimeOptions{Namespaces: []string{ns}, Credentials: kc,
		Resolver: deploy.NewRegistryResolver(false, remote.WithAuthFromKeychain(authn.NewMultiKeychain()))},
		func(c deploy.Container) error { got[c.Pod] = c; return nil })
	if err != nil {
		t.Fatal(err)
	}
	for _, pod := range []string{"with-secret", "via-sa"} {
		if c := got[pod]; c.SpecDigest != digest || c.Problem != "" {
			t.Errorf("%s: spec digest %q, problem %q; want %s resolved with its credentials", pod, c.SpecDigest, c.Problem, digest)
		}
	}
	c := got["without"]
	if c.SpecDigest != "" {
		t.Errorf("pod without a pull secret resolved %s (from another Pod's cache entry?)", c.SpecDigest)
	}
	for _, want := range []string{"pull credentials cannot read this image", "no pull secret in namespace " + ns, "401 Unauthorized"} {
		if !strings.Contains(c.Problem, want) {
			t.Errorf("problem of the pod without a secret %q lacks %q", c.Problem, want)
		}
	}
}
