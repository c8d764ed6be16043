package image

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// authRegistry is the in-process registry behind HTTP basic auth, so the
// docker config and credential-helper paths are exercised for real.
func authRegistry(t *testing.T, user, pass string) string {
	t.Helper()
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestDockerConfigCredentials(t *testing.T) {
	reg := authRegistry(t, "alice", "s3cret")
	ref, _ := name.ParseReference(reg + "/team/app:1")
	if err := remote.Write(ref, platformImage(t, amd64), remote.WithAuth(&authn.Basic{Username: "alice", Password: "s3cret"})); err != nil {
		t.Fatal(err)
	}

	t.Run("no credentials", func(t *testing.T) {
		t.Setenv("DOCKER_CONFIG", t.TempDir())
		_, err := Open(context.Background(), reg+"/team/app:1")
		if err == nil {
			t.Fatal("want an error without credentials")
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error leaks the password: %v", err)
		}
	})
	t.Run("config.json auths", func(t *testing.T) {
		dir := t.TempDir()
		auth := base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))
		writeConfig(t, dir, fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, reg, auth))
		t.Setenv("DOCKER_CONFIG", dir)
		if _, err := Open(context.Background(), reg+"/team/app:1"); err != nil {
			t.Fatalf("Open with config.json credentials: %v", err)
		}
	})
	t.Run("credential helper", func(t *testing.T) {
		dir := t.TempDir()
		bin := t.TempDir()
		// A real credential helper executable speaking the docker protocol:
		// "get" reads the server URL on stdin and prints the secret.
		helper := "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread server\nprintf '{\"ServerURL\":\"%s\",\"Username\":\"alice\",\"Secret\":\"s3cret\"}' \"$server\"\n"
		if err := os.WriteFile(filepath.Join(bin, "docker-credential-drydocktest"), []byte(helper), 0o755); err != nil {
			t.Fatal(err)
		}
		t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
		writeConfig(t, dir, fmt.Sprintf(`{"credHelpers":{%q:"drydocktest"}}`, reg))
		t.Setenv("DOCKER_CONFIG", dir)
		if _, err := Open(context.Background(), reg+"/team/app:1"); err != nil {
			t.Fatalf("Open with a credential helper: %v", err)
		}
	})
}

func writeConfig(t *testing.T, dir, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}
