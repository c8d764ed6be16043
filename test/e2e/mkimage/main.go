// Command mkimage writes the end-to-end Debian image (one layer: the
// debootstrap rootfs tarball) as an OCI image layout and/or pushes it to a
// registry, and/or writes it as `docker save` did before Docker 25 (an
// archive of uncompressed layer tars). scripts/bench.sh uses it.
//
//	go run ./test/e2e/mkimage -rootfs-tar ROOTFS.tar [-layout DIR] [-push REF] [-docker-save FILE]
package main

import (
	"archive/tar"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/drydock/drydock/test/e2e/e2eimage"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("mkimage: ")
	tarPath := flag.String("rootfs-tar", os.Getenv("DRYDOCK_E2E_ROOTFS_TAR"), "rootfs tarball (default $DRYDOCK_E2E_ROOTFS_TAR)")
	layoutDir := flag.String("layout", "", "write an OCI image layout to this directory (must not exist)")
	push := flag.String("push", "", "push to this reference (plain HTTP)")
	dockerSave := flag.String("docker-save", "", "write a docker save archive (uncompressed layers) to this file (must not exist)")
	flag.Parse()
	if *tarPath == "" || (*layoutDir == "" && *push == "" && *dockerSave == "") {
		flag.Usage()
		os.Exit(2)
	}
	img, err := e2eimage.Debian(*tarPath)
	if err != nil {
		log.Fatal(err)
	}
	digest, err := img.Digest()
	if err != nil {
		log.Fatal(err)
	}
	if *layoutDir != "" {
		if _, err := os.Stat(*layoutDir); err == nil {
			log.Fatalf("%s exists", *layoutDir)
		}
		p, err := layout.Write(*layoutDir, empty.Index)
		if err != nil {
			log.Fatal(err)
		}
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{
			"org.opencontainers.image.ref.name": "12",
		})); err != nil {
			log.Fatal(err)
		}
	}
	if *dockerSave != "" {
		if err := writeDockerSave(*dockerSave, img); err != nil {
			log.Fatal(err)
		}
	}
	if *push != "" {
		ref, err := name.ParseReference(*push, name.Insecure)
		if err != nil {
			log.Fatal(err)
		}
		if err := remote.Write(ref, img); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println(digest)
}

// writeDockerSave writes img as the classic docker save archive:
// manifest.json, the config, and each layer as an uncompressed tar.
func writeDockerSave(file string, img v1.Image) error {
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
	manifest, err := json.Marshal([]map[string]any{{"Config": cn.Hex + ".json", "RepoTags": []string{"debian:12"}, "Layers": names}})
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
