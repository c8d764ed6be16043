package image

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"time"
)

// A docker-archive's manifest.json names each layer by a path inside the
// archive, not by a digest of its bytes, and the config's diffIDs are
// claims: nothing in the archive commits to what its layers hold without
// reading them. What does, cheaply, is the file itself: its device and
// inode, size, modification time and change time. The change time is set
// by the kernel on every write, rename onto the name (a new inode) and
// utimes call, and cannot be set back without changing the clock, so a
// file whose identity is the same as when its layers were read and
// verified still holds those bytes.
//
// One race remains: a write in the same timestamp tick as the identity was
// taken leaves the change time as it was. So an identity is only used when
// the file's change time is at least racyMargin older than the moment the
// scan began (as git does for its index); a file changed more recently is
// read again, and keyed once it has settled.
const racyMargin = 2 * time.Second

type fileIdentity struct {
	path             string
	dev, ino         uint64
	size             int64
	mtimeNs, ctimeNs int64
	regular          bool
}

func identify(path string) (*fileIdentity, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	id := &fileIdentity{path: path, size: fi.Size(), mtimeNs: fi.ModTime().UnixNano(), regular: fi.Mode().IsRegular()}
	if !sysIdentity(fi, id) {
		return nil, nil
	}
	return id, nil
}

// archiveLayerKeys derives one key per layer from the archive's identity,
// or nil when the file cannot be identified soundly (not a regular file,
// no inode data on this system, or changed too recently).
func archiveLayerKeys(id *fileIdentity, configDigest string, layers int, now time.Time) []LayerKey {
	if id == nil || !id.regular || now.UnixNano()-id.ctimeNs < int64(racyMargin) {
		return nil
	}
	keys := make([]LayerKey, layers)
	for n := range keys {
		h := sha256.Sum256([]byte(fmt.Sprintf("docker-archive\x00%d\x00%d\x00%d\x00%d\x00%d\x00%s\x00%d",
			id.dev, id.ino, id.size, id.mtimeNs, id.ctimeNs, configDigest, n)))
		keys[n] = LayerKey{Space: LayerKeyFile, Digest: "sha256:" + hex.EncodeToString(h[:])}
	}
	return keys
}
