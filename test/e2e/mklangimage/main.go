// Command mklangimage builds the language-ecosystem benchmark image
// (scripts/bench-lang.sh): an application layer on the Debian image.
//
//	go run ./test/e2e/mklangimage fatjar OUT.jar NAME=FILE...
//	    writes a Spring-Boot-style fat jar with each FILE stored (uncompressed,
//	    as Spring Boot requires) as BOOT-INF/lib/NAME
//	go run ./test/e2e/mklangimage image -base-layout DIR -layer APP.tar.gz -layout OUT [-created-by TEXT]
//	    writes an OCI layout holding the base layout's image plus APP.tar.gz
//	    (a gzip tar, used as is) as one more layer
package main

import (
	"archive/zip"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/drydock/drydock/test/e2e/e2eimage"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("mklangimage: ")
	if len(os.Args) < 2 {
		log.Fatal("usage: mklangimage fatjar|image ...")
	}
	var err error
	switch os.Args[1] {
	case "fatjar":
		err = fatJar(os.Args[2:])
	case "image":
		err = image(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		log.Fatal(err)
	}
}

func fatJar(args []string) error {
	if len(args) < 2 {
		return errors.New("usage: mklangimage fatjar OUT.jar NAME=FILE [NAME=FILE]")
	}
	f, err := os.Create(args[0])
	if err != nil {
		return err
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	mtime := time.Unix(1700000000, 0).UTC()
	add := func(name string, method uint16, r io.Reader) error {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method, Modified: mtime})
		if err != nil {
			return err
		}
		if r != nil {
			_, err = io.Copy(w, r)
		}
		return err
	}
	if err := add("META-INF/MANIFEST.MF", zip.Deflate, strings.NewReader("Manifest-Version: 1.0\r\n"+
		"Main-Class: org.springframework.boot.loader.JarLauncher\r\nStart-Class: com.example.bench.App\r\n"+
		"Spring-Boot-Classes: BOOT-INF/classes/\r\nSpring-Boot-Lib: BOOT-INF/lib/\r\n\r\n")); err != nil {
		return err
	}
	if err := add("BOOT-INF/classes/com/example/bench/App.class", zip.Deflate, strings.NewReader("\xca\xfe\xba\xbe\x00\x00\x00\x3d")); err != nil {
		return err
	}
	for _, a := range args[1:] {
		name, file, ok := strings.Cut(a, "=")
		if !ok {
			return fmt.Errorf("%q: want NAME=FILE", a)
		}
		in, err := os.Open(file)
		if err != nil {
			return err
		}
		err = add("BOOT-INF/lib/"+name, zip.Store, in)
		in.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return f.Close()
}

func image(args []string) error {
	fl := flag.NewFlagSet("image", flag.ExitOnError)
	baseLayout := fl.String("base-layout", "", "OCI layout holding the base image (its first manifest)")
	layerPath := fl.String("layer", "", "the application layer, a gzip tar")
	out := fl.String("layout", "", "write the image as an OCI layout here (must not exist)")
	createdBy := fl.String("created-by", "COPY app /app", "history entry of the layer")
	refName := fl.String("ref-name", "app", "org.opencontainers.image.ref.name of the image in the layout")
	baseName := fl.String("base-name", "", "annotate the manifest with this base reference and the base's digest (default: no annotations)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *baseLayout == "" || *layerPath == "" || *out == "" {
		fl.Usage()
		os.Exit(2)
	}
	if _, err := os.Stat(*out); err == nil {
		return fmt.Errorf("%s exists", *out)
	}
	p, err := layout.FromPath(*baseLayout)
	if err != nil {
		return err
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	if len(im.Manifests) == 0 {
		return fmt.Errorf("%s holds no image", *baseLayout)
	}
	base, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		return err
	}
	baseDigest, err := base.Digest()
	if err != nil {
		return err
	}
	// A gzip file is used as the compressed layer as is; its diffID is
	// computed by decompressing it once.
	layer, err := tarball.LayerFromFile(*layerPath, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return err
	}
	img, err := e2eimage.OnBase(base, layer, *createdBy, *baseName, baseDigest)
	if err != nil {
		return err
	}
	lp, err := layout.Write(*out, empty.Index)
	if err != nil {
		return err
	}
	if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": *refName,
	})); err != nil {
		return err
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Println(d)
	return nil
}
