package dbdist

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sys/unix"

	"github.com/drydock/drydock/internal/vulndb"
)

// partsDir holds the verified parts of the installed database, named by
// their uncompressed digest, so that the next pull downloads only the
// parts it lacks.
func partsDir(dbPath string) string { return dbPath + ".parts" }

// pullParts installs an artifact of per-ecosystem layers.
func pullParts(ctx context.Context, dbPath string, subject name.Digest, m *v1.Manifest, st *Statement, res *PullResult, ropts []remote.Option) error {
	if err := checkSignedLayers(m, st); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrUntrusted, subject, err)
	}
	want := make([]string, len(st.Layers))
	ecos := map[string]string{}
	for i, l := range st.Layers {
		want[i] = l.Uncompressed
		ecos[l.Ecosystem] = l.Uncompressed
	}
	slices.Sort(want)
	inst, _ := readInstalled(dbPath)
	if inst != nil && inst.matches(dbPath) {
		if err := refuseOlder(subject, st, inst); err != nil {
			return err
		}
		if slices.Equal(inst.Parts, want) {
			res.Unchanged = true
			if inst.Manifest != subject.DigestStr() {
				// The same content re-signed: remember the newer signing time.
				return writeInstalled(dbPath, installed{Manifest: subject.DigestStr(), Parts: want, Ecosystems: ecos, Created: st.Created})
			}
			return nil
		}
	}
	dir := partsDir(dbPath)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("pull database: %w", err)
	}
	unlock, err := lockDir(ctx, dir)
	if err != nil {
		return err
	}
	defer unlock()
	// Downloads a killed pull left behind.
	if stale, _ := filepath.Glob(filepath.Join(dir, ".dl-*")); len(stale) > 0 {
		for _, f := range stale {
			os.Remove(f)
		}
	}
	paths := make([]string, len(st.Layers))
	for i, l := range st.Layers {
		p := filepath.Join(dir, strings.TrimPrefix(l.Uncompressed, "sha256:")+".sqlite")
		paths[i] = p
		if ok, err := fileHas(p, l.Uncompressed, l.Size); err != nil {
			return fmt.Errorf("pull database: %w", err)
		} else if ok {
			continue
		}
		n, err := downloadPart(ctx, subject, m.Layers[i], l, dir, p, ropts)
		res.Bytes += n
		if err != nil {
			return err
		}
		res.Downloaded++
	}
	// With the installed database known part by part, only the ecosystems
	// that changed are replaced in a copy of it; otherwise all the parts
	// are assembled.
	if inst != nil && inst.matches(dbPath) && len(inst.Ecosystems) > 0 {
		var remove, add []string
		for e, d := range inst.Ecosystems {
			if ecos[e] != d {
				remove = append(remove, e)
			}
		}
		for i, l := range st.Layers {
			if inst.Ecosystems[l.Ecosystem] != l.Uncompressed {
				add = append(add, paths[i])
			}
		}
		sort.Strings(remove)
		err = vulndb.Patch(ctx, dbPath, remove, add)
	} else {
		err = vulndb.Assemble(ctx, dbPath, paths)
	}
	if err != nil {
		return err
	}
	if err := writeInstalled(dbPath, installed{Manifest: subject.DigestStr(), Parts: want, Ecosystems: ecos, Created: st.Created}); err != nil {
		return err
	}
	// Parts of older databases are not needed any more.
	old, _ := filepath.Glob(filepath.Join(dir, "*.sqlite"))
	for _, f := range old {
		if !slices.Contains(paths, f) {
			os.Remove(f)
		}
	}
	return nil
}

// checkSignedLayers holds the manifest's layers to the signed statement:
// the same count, order, ecosystems, digests and uncompressed digests and
// sizes, each ecosystem once.
func checkSignedLayers(m *v1.Manifest, st *Statement) error {
	if len(st.Layers) != len(m.Layers) {
		return fmt.Errorf("the signature names %d layers, the manifest has %d", len(st.Layers), len(m.Layers))
	}
	seen := map[string]bool{}
	for i, l := range m.Layers {
		s := st.Layers[i]
		size, _ := strconv.ParseInt(l.Annotations[AnnotationUncompressedSize], 10, 64)
		if s.Digest != l.Digest.String() || s.Uncompressed != l.Annotations[AnnotationUncompressedDigest] ||
			s.Ecosystem != l.Annotations[AnnotationEcosystem] || s.Size != size {
			return fmt.Errorf("layer %d (%s) is not the signed one", i, l.Digest)
		}
		if s.Ecosystem == "" || seen[s.Ecosystem] {
			return fmt.Errorf("layer %d: ecosystem %q empty or repeated", i, s.Ecosystem)
		}
		seen[s.Ecosystem] = true
		if _, err := v1.NewHash(s.Uncompressed); err != nil || s.Size <= 0 {
			return fmt.Errorf("layer %d: uncompressed digest %q or size %d", i, s.Uncompressed, s.Size)
		}
	}
	return nil
}

// downloadPart streams one layer into a temporary file of dir, verified
// (fetchLayer), and renames it to dst.
func downloadPart(ctx context.Context, subject name.Digest, desc v1.Descriptor, l LayerStatement, dir, dst string, ropts []remote.Option) (int64, error) {
	f, err := os.CreateTemp(dir, ".dl-*")
	if err != nil {
		return 0, fmt.Errorf("pull database: %w", err)
	}
	tmp := f.Name()
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(tmp)
		}
	}()
	n, err := fetchLayer(subject, desc, l.Uncompressed, l.Size, f, ropts)
	if err != nil {
		return n, fmt.Errorf("pull database: %s: %w", l.Ecosystem, err)
	}
	if err := f.Sync(); err != nil {
		return n, fmt.Errorf("pull database: %w", err)
	}
	if err := f.Close(); err != nil {
		return n, fmt.Errorf("pull database: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return n, err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return n, fmt.Errorf("pull database: %w", err)
	}
	done = true
	return n, nil
}

// fileHas reports whether the file at p has the digest and size given (a
// part kept from an earlier pull, checked again before it is trusted).
func fileHas(p, digest string, size int64) (bool, error) {
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || fi.Size() != size {
		return false, err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return false, err
	}
	return "sha256:"+hex.EncodeToString(h.Sum(nil)) == digest, nil
}

// lockDir takes an exclusive lock on dir/.lock, so two pulls into the same
// database do not remove each other's downloads.
func lockDir(ctx context.Context, dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("pull database: %w", err)
	}
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("pull database: lock %s: %w", f.Name(), err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("pull database: wait for lock %s: %w", f.Name(), ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return func() { unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
}
