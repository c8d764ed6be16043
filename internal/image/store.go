package image

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Local image stores. Their on-disk formats belong to their tools, so the
// tools themselves copy the image out as an OCI layout in drydock's temp
// directory, which is then read like any other layout.
const (
	// KindContainersStorage is buildah's and podman's store
	// ("containers-storage:NAME", or with the store named as in
	// containers-transports(5): "containers-storage:[vfs@/root+/runroot]NAME").
	KindContainersStorage = "containers-storage"
	// KindDocker is a Docker daemon's image store ("docker:NAME").
	KindDocker = "docker-daemon"
)

// DockerSocket is where the Docker daemon listens when DOCKER_HOST is unset;
// "docker:" sources need it.
var DockerSocket = "/var/run/docker.sock"

// ErrNoStoreTool means the tool that reads a local image store is missing.
var ErrNoStoreTool = errors.New("local image store not readable")

// storeSpec splits "[driver@root+runroot]name" into the buildah/podman
// global flags naming the store and the image name.
func storeSpec(ref string) (flags []string, name string, err error) {
	if !strings.HasPrefix(ref, "[") {
		return nil, ref, nil
	}
	end := strings.Index(ref, "]")
	if end < 0 {
		return nil, "", fmt.Errorf("%w: %q: want [driver@root+runroot]NAME", ErrBadSource, ref)
	}
	spec, name := ref[1:end], ref[end+1:]
	driver, paths, ok := strings.Cut(spec, "@")
	if !ok {
		driver, paths = "", spec
	}
	root, runroot, _ := strings.Cut(paths, "+")
	if driver != "" {
		flags = append(flags, "--storage-driver", driver)
	}
	if root != "" {
		flags = append(flags, "--root", root)
	}
	if runroot != "" {
		flags = append(flags, "--runroot", runroot)
	}
	if name == "" {
		return nil, "", fmt.Errorf("%w: %q names a store but no image", ErrBadSource, ref)
	}
	return flags, name, nil
}

// openContainersStorage copies an image out of containers-storage with
// buildah (or podman) and opens the copy.
func openContainersStorage(ctx context.Context, ref, src string, o *options) (*Image, error) {
	flags, name, err := storeSpec(ref)
	if err != nil {
		return nil, err
	}
	tool := ""
	for _, t := range []string{"buildah", "podman"} {
		if p, err := exec.LookPath(t); err == nil {
			tool = p
			break
		}
	}
	if tool == "" {
		return nil, fmt.Errorf("open %s: %w: install buildah or podman", src, ErrNoStoreTool)
	}
	img, err := copyOut(ctx, src, KindContainersStorage, o, func(dir string) *exec.Cmd {
		args := append(append([]string{}, flags...), "push", "--quiet", name, "oci:"+dir)
		return exec.CommandContext(ctx, tool, args...)
	})
	if err != nil && strings.Contains(err.Error(), "image not known") {
		// The tool's message names drydock's temporary copy; say what the
		// user can act on.
		return nil, fmt.Errorf("open %s: no image %s in the store (\"%s images\" lists them): %w", src, name, filepath.Base(tool), os.ErrNotExist)
	}
	return img, err
}

// openDocker copies an image out of a Docker daemon through its Engine API
// (the endpoints "docker save" uses: GET /images/{name}/json, then
// GET /images/{name}/get, a docker save archive) into drydock's temp
// directory, and reads that archive in place. No docker CLI is needed, so
// the static image can read a mounted socket.
func openDocker(ctx context.Context, name, src string, o *options) (*Image, error) {
	sock, err := dockerSocket()
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", src, err)
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode()&os.ModeSocket == 0 {
		return nil, fmt.Errorf("open %s: %w: no Docker daemon socket at %s (set DOCKER_HOST=unix:///path/to/docker.sock)", src, ErrNoStoreTool, sock)
	}
	if !dockerName.MatchString(name) || strings.Contains(name, "..") {
		return nil, fmt.Errorf("open %s: %w: %q is not an image name, ID or digest", src, ErrBadSource, name)
	}
	api := &dockerAPI{sock: sock}
	if err := api.do(ctx, "/images/"+name+"/json", io.Discard, 1<<20); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("open %s: %w", src, notExist(fmt.Sprintf("no image %s in the Docker daemon (\"docker images\" lists them)", name)))
		}
		return nil, fmt.Errorf("open %s: %w", src, err)
	}
	dir, err := os.MkdirTemp(o.tempDir, "docker-save-")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", src, err)
	}
	archive := filepath.Join(dir, "image.tar")
	if err := api.save(ctx, name, archive); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("open %s: %w", src, err)
	}
	img, err := openArchive(ctx, archive, src, o)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	img.Source.Kind = KindDocker
	inner := img.cleanup
	img.cleanup = func() error {
		if inner != nil {
			inner()
		}
		return os.RemoveAll(dir)
	}
	return img, nil
}

// notExist is a message that is os.ErrNotExist without saying "file does
// not exist" about something that is not a file.
type notExist string

func (e notExist) Error() string        { return string(e) }
func (e notExist) Is(target error) bool { return target == os.ErrNotExist }

// dockerName is what a Docker image reference, ID or digest can hold; it
// also keeps the name from reshaping the request path or query.
var dockerName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/:@-]*$`)

// dockerSocket is the daemon's unix socket: $DOCKER_HOST when set (only
// unix:// is spoken), else DockerSocket.
func dockerSocket() (string, error) {
	h := os.Getenv("DOCKER_HOST")
	if h == "" {
		return DockerSocket, nil
	}
	if p, ok := strings.CutPrefix(h, "unix://"); ok && p != "" {
		return p, nil
	}
	// Only the scheme is named: the rest of an endpoint may carry a user.
	scheme, _, _ := strings.Cut(h, "://")
	return "", fmt.Errorf("%w: DOCKER_HOST names a %s endpoint; drydock reads a Docker daemon over a unix socket (DOCKER_HOST=unix:///path)", ErrNoStoreTool, scheme)
}

// dockerAPI speaks the few Docker Engine API calls drydock needs over the
// daemon's unix socket.
type dockerAPI struct{ sock string }

func (d *dockerAPI) client() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var nd net.Dialer
			return nd.DialContext(ctx, "unix", d.sock)
		},
		ResponseHeaderTimeout: 5 * time.Minute,
	}}
}

// do GETs path and copies at most limit bytes of a 200 answer to w. A 404
// is os.ErrNotExist; any other failure is the daemon's one-line message.
func (d *dockerAPI) do(ctx context.Context, path string, w io.Writer, limit int64) error {
	// The host is a placeholder: the transport always dials the socket.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker"+path, nil)
	if err != nil {
		return err
	}
	resp, err := d.client().Do(req)
	if err != nil {
		return fmt.Errorf("reach the Docker daemon at %s: %w", d.sock, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var m struct{ Message string }
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		_ = json.Unmarshal(body, &m)
		msg := strings.Join(strings.Fields(m.Message), " ")
		if msg == "" {
			msg = resp.Status
		}
		if resp.StatusCode == http.StatusNotFound {
			return fmt.Errorf("the Docker daemon says: %s: %w", msg, os.ErrNotExist)
		}
		return fmt.Errorf("the Docker daemon says: %s", msg)
	}
	n, err := io.Copy(w, io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return fmt.Errorf("read %s from the Docker daemon: %w", path, err)
	}
	if n > limit {
		return fmt.Errorf("%w: the Docker daemon's answer to %s is over %d bytes", ErrBadSource, path, limit)
	}
	return nil
}

// save streams the image's docker save archive into file.
func (d *dockerAPI) save(ctx context.Context, name, file string) error {
	f, err := os.OpenFile(file, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	err = d.do(ctx, "/images/"+name+"/get", f, maxDockerSave)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("export %s: %w", name, err)
	}
	return nil
}

// maxDockerSave bounds the archive copied out of a daemon (the disk it
// takes in drydock's temp directory).
const maxDockerSave = 64 << 30

// copyOut runs a tool that writes the image as an OCI layout into a new
// temporary directory, and opens that layout.
func copyOut(ctx context.Context, src, kind string, o *options, command func(dir string) *exec.Cmd) (*Image, error) {
	dir, err := os.MkdirTemp(o.tempDir, "store-")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", src, err)
	}
	layoutDir := filepath.Join(dir, "layout")
	if err := runTool(command(layoutDir)); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("open %s: %w", src, err)
	}
	img, err := openLayout(layoutDir, src, o)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	img.Source.Kind = kind
	img.LayoutDir = ""
	inner := img.cleanup
	img.cleanup = func() error {
		if inner != nil {
			inner()
		}
		return os.RemoveAll(dir)
	}
	return img, nil
}

// runTool runs cmd and turns a failure into its last line of stderr (the
// tool's own message, "image not known"), not the exit status alone.
func runTool(cmd *exec.Cmd) error {
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		if msg := strings.TrimSpace(lines[len(lines)-1]); msg != "" {
			return fmt.Errorf("%s: %s", filepath.Base(cmd.Path), msg)
		}
		return fmt.Errorf("%s: %w", filepath.Base(cmd.Path), err)
	}
	return nil
}
