package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// DockerSocket is where the Docker daemon listens; "docker:" sources need it.
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

// openDocker copies an image out of a Docker daemon with the docker CLI.
func openDocker(ctx context.Context, name, src string, o *options) (*Image, error) {
	if _, err := os.Stat(DockerSocket); err != nil {
		return nil, fmt.Errorf("open %s: %w: no Docker daemon socket at %s", src, ErrNoStoreTool, DockerSocket)
	}
	tool, err := exec.LookPath("docker")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w: the docker CLI is not installed", src, ErrNoStoreTool)
	}
	dir, err := os.MkdirTemp(o.tempDir, "docker-save-")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", src, err)
	}
	archive := filepath.Join(dir, "image.tar")
	cmd := exec.CommandContext(ctx, tool, "save", "--output", archive, name)
	if err := runTool(cmd); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("open %s: docker save: %w", src, err)
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
