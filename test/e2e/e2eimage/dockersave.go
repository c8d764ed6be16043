package e2eimage

import (
	"archive/tar"
	"encoding/json"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// WriteDockerSave writes img, tagged tag, as docker save did before Docker
// 25: manifest.json, the config, and each layer as an uncompressed tar.
func WriteDockerSave(file string, img v1.Image, tag string) error {
	f, err := os.OpenFile(file, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	cfg, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	cn, err := img.ConfigName()
	if err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	var names []string
	for _, l := range layers {
		d, err := l.DiffID()
		if err != nil {
			return err
		}
		name := d.Hex + "/layer.tar"
		names = append(names, name)
		// The size goes in the header first: count, then copy.
		size, err := uncompressed(l, io.Discard)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Size: size, Mode: 0o644}); err != nil {
			return err
		}
		if _, err := uncompressed(l, tw); err != nil {
			return err
		}
	}
	manifest, err := json.Marshal([]map[string]any{{"Config": cn.Hex + ".json", "RepoTags": []string{tag}, "Layers": names}})
	if err != nil {
		return err
	}
	for _, e := range []struct {
		name string
		b    []byte
	}{{cn.Hex + ".json", cfg}, {"manifest.json", manifest}} {
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Typeflag: tar.TypeReg, Size: int64(len(e.b)), Mode: 0o644}); err != nil {
			return err
		}
		if _, err := tw.Write(e.b); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}

func uncompressed(l v1.Layer, w io.Writer) (int64, error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	return io.Copy(w, rc)
}
