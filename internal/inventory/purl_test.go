package inventory

import "testing"

func TestPURL(t *testing.T) {
	deb12 := &OS{ID: "debian", VersionID: "12"}
	tests := []struct {
		name string
		p    Package
		os   *OS
		want string
	}{
		{"deb with source", Package{Type: TypeDeb, Name: "libssl3", Version: "3.0.11-1~deb12u2", Arch: "amd64", SourceName: "openssl"}, deb12,
			"pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12&upstream=openssl"},
		{"deb epoch is percent-encoded", Package{Type: TypeDeb, Name: "zlib1g", Version: "1:1.2.13.dfsg-1", Arch: "amd64", SourceName: "zlib"}, deb12,
			"pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12&upstream=zlib"},
		{"deb source same as name", Package{Type: TypeDeb, Name: "bash", Version: "5.2.15-2+b2", Arch: "amd64", SourceName: "bash"}, deb12,
			"pkg:deb/debian/bash@5.2.15-2%2Bb2?arch=amd64&distro=debian-12"},
		{"rpm epoch", Package{Type: TypeRPM, Name: "openssl", Version: "3.0.7-27.el9", Epoch: 1, Arch: "x86_64"}, &OS{ID: "almalinux", VersionID: "9.4"},
			"pkg:rpm/almalinux/openssl@3.0.7-27.el9?arch=x86_64&distro=almalinux-9.4&epoch=1"},
		{"apk no os", Package{Type: TypeAPK, Name: "musl", Version: "1.2.5-r0", Arch: "x86_64"}, nil,
			"pkg:apk/musl@1.2.5-r0?arch=x86_64"},
		{"npm scope", Package{Type: TypeNPM, Namespace: "@babel", Name: "core", Version: "7.0.0"}, deb12,
			"pkg:npm/%40babel/core@7.0.0"},
		{"maven group", Package{Type: TypeMaven, Namespace: "com.google.guava", Name: "guava", Version: "31.1-jre"}, nil,
			"pkg:maven/com.google.guava/guava@31.1-jre"},
	}
	for _, tt := range tests {
		if got := PURL(tt.p, tt.os); got != tt.want {
			t.Errorf("%s: PURL = %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestAssignPURLsKeepsExtractorPURLs(t *testing.T) {
	inv := &Inventory{OS: &OS{ID: "debian", VersionID: "12"}, Packages: []Package{
		{Type: TypeGolang, Name: "golang.org/x/text", Version: "v0.3.5", PURL: "pkg:golang/golang.org/x/text@v0.3.5"},
		{Type: TypeDeb, Name: "bash", Version: "5.2"},
	}}
	AssignPURLs(inv)
	if inv.Packages[0].PURL != "pkg:golang/golang.org/x/text@v0.3.5" {
		t.Errorf("extractor PURL overwritten: %s", inv.Packages[0].PURL)
	}
	if inv.Packages[1].PURL != "pkg:deb/debian/bash@5.2?distro=debian-12" {
		t.Errorf("deb PURL = %s", inv.Packages[1].PURL)
	}
}
