package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// DockerSocket is the unix socket of the real Docker daemon scripts/test.sh
// starts (DRYDOCK_DOCKER_HOST=unix:///path); without one the test skips
// (fails under CI=true) naming the part.
func DockerSocket(t testing.TB) string {
	t.Helper()
	h := os.Getenv("DRYDOCK_DOCKER_HOST")
	sock, ok := strings.CutPrefix(h, "unix://")
	if !ok || sock == "" {
		NeedPart(t, "Docker daemon", "DRYDOCK_DOCKER_HOST is not set to unix:///path (scripts/test.sh starts dockerd from Debian's docker.io)")
	}
	if _, err := os.Stat(sock); err != nil {
		NeedPart(t, "Docker daemon", "DRYDOCK_DOCKER_HOST socket: %v", err)
	}
	return sock
}

// DockerLoad loads a docker save archive into the daemon at sock through
// the Engine API (POST /images/load, what "docker load" sends).
func DockerLoad(t testing.TB, sock, archive string) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://docker/images/load?quiet=1", f)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-tar")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("docker load %s: %v", archive, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	// The answer is a stream of JSON messages; a failed load carries
	// "error" in one of them even with a 200.
	failed := resp.StatusCode != http.StatusOK
	dec := json.NewDecoder(bytes.NewReader(body))
	for !failed {
		var m struct{ Error string }
		if dec.Decode(&m) != nil {
			break
		}
		failed = m.Error != ""
	}
	if failed {
		t.Fatalf("docker load %s: %s: %.500s", archive, resp.Status, body)
	}
}
