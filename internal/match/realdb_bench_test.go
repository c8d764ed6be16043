package match

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drydock/drydock/internal/inventory"
	"github.com/drydock/drydock/internal/testenv"
	"github.com/drydock/drydock/internal/version"
	"github.com/drydock/drydock/internal/vulndb"
)

// realInventory500 builds the benchmark inventory: 500 real package
// names with versions taken from the four real OSV sets, as an AlmaLinux 9.4
// image with Go, Python and Rust applications would list them. Common,
// advisory-heavy packages (openssl, Django, golang.org/x/net, ...) are always
// in, the rest is a seeded sample so the inventory is the same every run.
// Each version is the oldest fix any advisory names for the package, so
// packages are hit by the later advisories and missed by the earlier ones,
// as in an image that is patched but not current.
func realInventory500(b testing.TB) *inventory.Inventory {
	b.Helper()
	type pick struct {
		zip, eco, typ string
		n             int
		common        []string
	}
	picks := []pick{
		{"AlmaLinux", "AlmaLinux:9", inventory.TypeRPM, 170, []string{"openssl", "openssl-libs", "glibc", "glibc-common", "curl", "libcurl", "systemd", "systemd-libs", "python3", "python3-libs", "bash", "sqlite-libs", "expat", "libxml2", "krb5-libs", "gnutls", "zlib", "xz-libs", "tar", "vim-minimal", "kernel-headers", "rpm", "rpm-libs", "dnf", "sudo", "openssh", "pam", "libtasn1", "nss", "less"}},
		{"Go", "Go", inventory.TypeGolang, 130, []string{"stdlib", "golang.org/x/net", "golang.org/x/crypto", "golang.org/x/text", "golang.org/x/sys", "google.golang.org/grpc", "google.golang.org/protobuf", "github.com/gin-gonic/gin", "github.com/docker/docker", "github.com/containerd/containerd", "github.com/opencontainers/runc", "k8s.io/kubernetes", "github.com/golang-jwt/jwt/v4", "github.com/hashicorp/vault", "github.com/prometheus/client_golang"}},
		{"PyPI", "PyPI", inventory.TypePyPI, 120, []string{"Django", "requests", "urllib3", "Pillow", "Jinja2", "Werkzeug", "flask", "cryptography", "PyYAML", "setuptools", "pip", "certifi", "idna", "aiohttp", "tensorflow", "numpy", "lxml", "paramiko", "sqlparse", "gunicorn"}},
		{"crates.io", "crates.io", inventory.TypeCargo, 80, []string{"tokio", "hyper", "openssl", "regex", "smallvec", "time", "chrono", "rustls", "h2", "crossbeam-channel", "serde_yaml", "tar", "zip", "ring", "libgit2-sys"}},
	}
	rnd := rand.New(rand.NewPCG(500, 1))
	var pkgs []inventory.Package
	for _, p := range picks {
		recs := loadZip(b, p.zip)
		cmp, err := version.For(p.eco)
		if err != nil {
			b.Fatal(err)
		}
		// The oldest fix per name, or any version the data names.
		best := map[string]string{}
		for _, a := range recs {
			for _, aff := range a.Affected {
				if aff.Package.Ecosystem != p.eco {
					continue
				}
				n := aff.Package.Name
				cand := ""
				for _, r := range aff.Ranges {
					for _, e := range r.Events {
						if e.Fixed != "" && cmp.Valid(e.Fixed) {
							cand = e.Fixed
						}
					}
				}
				if cand == "" && len(aff.Versions) > 0 && cmp.Valid(aff.Versions[0]) {
					cand = aff.Versions[0]
				}
				if cand == "" {
					if _, ok := best[n]; !ok {
						best[n] = ""
					}
					continue
				}
				if old, ok := best[n]; !ok || old == "" {
					best[n] = cand
				} else if c, err := cmp.Compare(cand, old); err == nil && c < 0 {
					best[n] = cand
				}
			}
		}
		names := make([]string, 0, len(best))
		for n, v := range best {
			if v != "" && !slices.Contains(p.common, n) {
				names = append(names, n)
			}
		}
		slices.Sort(names)
		rnd.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
		chosen := []string{}
		for _, n := range p.common {
			if best[n] != "" {
				chosen = append(chosen, n)
			}
		}
		chosen = append(chosen, names[:p.n-len(chosen)]...)
		for i, n := range chosen {
			pkgs = append(pkgs, benchPackage(p.typ, n, best[n], i))
		}
	}
	if len(pkgs) != 500 {
		b.Fatalf("built %d packages, want 500", len(pkgs))
	}
	return &inventory.Inventory{
		SchemaVersion: inventory.SchemaVersion,
		Source:        inventory.Source{Kind: "registry", Ref: "registry.example/app:1.0", Name: "registry.example/app", Digest: "sha256:" + strings.Repeat("ab", 32)},
		OS:            &inventory.OS{ID: "almalinux", VersionID: "9.4", PrettyName: "AlmaLinux 9.4 (Seafoam Ocelot)"},
		Packages:      pkgs,
		Tool:          "drydock bench",
		Generated:     time.Date(2026, 8, 21, 0, 0, 0, 0, time.UTC),
	}
}

// benchPackage fills a package the way the extractors do, so the inventory
// JSON has a realistic size.
func benchPackage(typ, name, ver string, i int) inventory.Package {
	p := inventory.Package{Name: name, Version: ver, Type: typ, LayerIndex: i % 4,
		Layer: fmt.Sprintf("sha256:%064x", i%4), Origin: inventory.OriginApp}
	switch typ {
	case inventory.TypeRPM:
		if e, v, ok := strings.Cut(ver, ":"); ok {
			p.Epoch, _ = strconv.Atoi(e)
			p.Version = v
		}
		p.Arch, p.Namespace, p.Path, p.Origin = "x86_64", "almalinux", "var/lib/rpm/rpmdb.sqlite", inventory.OriginBase
		p.Licenses = []string{"GPL-2.0-or-later"}
		p.PURL = "pkg:rpm/almalinux/" + name + "@" + p.Version + "?arch=x86_64"
	case inventory.TypeGolang:
		p.Version = "v" + ver
		if name == "stdlib" {
			p.Version = "go" + ver
		}
		p.Path = "usr/local/bin/server"
		p.PURL = "pkg:golang/" + name + "@" + p.Version
	case inventory.TypePyPI:
		p.Path = "usr/lib/python3.9/site-packages/" + name + "-" + ver + ".dist-info/METADATA"
		p.PURL = "pkg:pypi/" + strings.ToLower(name) + "@" + ver
		p.Licenses = []string{"BSD-3-Clause"}
	case inventory.TypeCargo:
		p.Path = "usr/local/bin/worker"
		p.PURL = "pkg:cargo/" + name + "@" + ver
	}
	return p
}

// realDBPath imports the four real sets into a new database under
// b.TempDir, outside any timer.
func realDBPath(b testing.TB) string {
	b.Helper()
	var zips []string
	for _, e := range []string{"Go", "PyPI", "crates.io", "AlmaLinux"} {
		zips = append(zips, filepath.Join(testenv.VulnData(b), "osv-bucket-layout", e, "all.zip"))
	}
	path := filepath.Join(b.TempDir(), "vulndb.sqlite")
	if _, err := vulndb.Import(context.Background(), path, zips); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkMatchRealDB500 is the benchmark: the 500-package
// inventory matched against the SQLite store of the four real sets, target
// under 50 ms. "cold" opens the database afresh before each match (outside
// the timer), as one "drydock scan" does, so no state carries over between
// iterations; "warm" reuses one open database.
func BenchmarkMatchRealDB500(b *testing.B) {
	path := realDBPath(b)
	inv := realInventory500(b)
	ctx := context.Background()
	report := func(b *testing.B, res *Result) {
		b.ReportMetric(float64(len(res.Findings)), "findings")
		b.ReportMetric(float64(len(res.Problems)), "problems")
	}
	b.Run("cold", func(b *testing.B) {
		b.ReportAllocs()
		var res *Result
		for b.Loop() {
			b.StopTimer()
			db, err := vulndb.Open(ctx, path)
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			res, err = Match(ctx, db, inv)
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			db.Close()
			b.StartTimer()
		}
		report(b, res)
	})
	b.Run("warm", func(b *testing.B) {
		db, err := vulndb.Open(ctx, path)
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		b.ReportAllocs()
		var res *Result
		for b.Loop() {
			if res, err = Match(ctx, db, inv); err != nil {
				b.Fatal(err)
			}
		}
		report(b, res)
	})
}

// BenchmarkReadInventory500 decodes the same inventory from its JSON: the
// "time of reading the inventory" the issue compares matching with.
func BenchmarkReadInventory500(b *testing.B) {
	data, err := json.Marshal(realInventory500(b))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var inv inventory.Inventory
		if err := json.Unmarshal(data, &inv); err != nil {
			b.Fatal(err)
		}
		if len(inv.Packages) != 500 {
			b.Fatalf("decoded %d packages", len(inv.Packages))
		}
	}
}
