// Command mkimage writes the end-to-end Debian image (one layer: the
// debootstrap rootfs tarball) as an OCI image layout and/or pushes it to a
// registry, and/or writes it as `docker save` did before Docker 25 (an
// archive of uncompressed layer tars). scripts/bench.sh uses it.
//
//	go run ./test/e2e/mkimage -rootfs-tar ROOTFS.tar [-layout DIR] [-push REF] [-docker-save FILE]
package main

import (
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/drydock/drydock/test/e2e/e2eimage"
	"github.com/google/go-containerregistry/pkg/name"
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
		if err := e2eimage.WriteDockerSave(*dockerSave, img, "debian:12"); err != nil {
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
