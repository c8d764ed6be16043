package dbdist

import (
	"encoding/json"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func fetchManifest(d name.Digest) (*v1.Manifest, error) {
	desc, err := remote.Get(d)
	if err != nil {
		return nil, err
	}
	var m v1.Manifest
	return &m, json.Unmarshal(desc.Manifest, &m)
}
