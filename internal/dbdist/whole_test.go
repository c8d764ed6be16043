package dbdist

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// pushWhole publishes db in the first format: one layer holding the whole
// database file, the statement naming that layer.
func pushWhole(t *testing.T, db string, ref name.Tag, k keypair, lie bool) name.Digest {
	t.Helper()
	ctx := context.Background()
	z, err := compress(db, filepath.Join(t.TempDir(), "db.zst"))
	if err != nil {
		t.Fatal(err)
	}
	repo := ref.Context()
	if err := remote.WriteLayer(repo, &fileLayer{path: z.path, digest: z.digest, size: z.size}); err != nil {
		t.Fatal(err)
	}
	empty := static.NewLayer([]byte("{}"), types.OCIEmptyJSON)
	if err := remote.WriteLayer(repo, empty); err != nil {
		t.Fatal(err)
	}
	created := time.Now().UTC().Truncate(time.Second)
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, ArtifactType: ArtifactType,
		Config: v1.Descriptor{MediaType: types.OCIEmptyJSON, Digest: mustDigest(empty), Size: 2, Data: []byte("{}")},
		Layers: []v1.Descriptor{{MediaType: LayerMediaType, Digest: z.digest, Size: z.size, Annotations: map[string]string{
			AnnotationUncompressedDigest: z.uncompressed, AnnotationUncompressedSize: strconv.FormatInt(z.usize, 10)}}}}
	raw, _ := json.Marshal(m)
	mh, _, _ := v1.SHA256(bytes.NewReader(raw))
	if err := remote.Put(ref, rawManifest{raw: raw, mt: types.OCIManifestSchema1}); err != nil {
		t.Fatal(err)
	}
	st := Statement{Manifest: mh.String(), Layer: z.digest.String(), Uncompressed: z.uncompressed, Size: z.usize, Created: created}
	if lie {
		st.Uncompressed = "sha256:" + string(bytes.Repeat([]byte("0"), 64))
	}
	payload, _ := json.Marshal(st)
	env, err := k.signer.SignPayload(PayloadType, payload)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pushSignature(ctx, repo.Digest(mh.String()), int64(len(raw)), env, created, nil); err != nil {
		t.Fatal(err)
	}
	return repo.Digest(mh.String())
}

// Artifacts of the first format (one layer, the whole database) are still
// pulled: installed byte for byte, unchanged the second time; one whose
// signed file digest is not the layer's content is refused.
func TestPullWholeFormat(t *testing.T) {
	ctx := context.Background()
	tr := newRegistry(t, true)
	k := newKey(t)
	db := buildDB(t, map[string]int{"npm": 10}, "w")
	ref, _ := name.NewTag(tr.host + "/security/vulndb:whole")
	pushWhole(t, db, ref, k, false)
	local := filepath.Join(t.TempDir(), "vulndb.sqlite")
	got, err := Pull(ctx, local, ref, k.keys)
	if err != nil {
		t.Fatal(err)
	}
	if got.Downloaded != 1 || fileDigest(t, local) != fileDigest(t, db) {
		t.Errorf("whole-format pull: %d layers downloaded, same file %v", got.Downloaded, fileDigest(t, local) == fileDigest(t, db))
	}
	if got, err := Pull(ctx, local, ref, k.keys); err != nil || !got.Unchanged {
		t.Errorf("second whole-format pull: %+v, %v; want unchanged", got, err)
	}
	want := fileDigest(t, local)
	time.Sleep(1100 * time.Millisecond)
	bad, _ := name.NewTag(tr.host + "/security/vulndb:lying")
	pushWhole(t, buildDB(t, map[string]int{"npm": 11}, "x"), bad, k, true)
	if _, err := Pull(ctx, local, bad, k.keys); err == nil {
		t.Error("a layer that is not the signed file was installed")
	}
	if fileDigest(t, local) != want {
		t.Error("a refused pull changed the database")
	}
}
