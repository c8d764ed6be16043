package osrelease

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drydock/drydock/internal/inventory"
	"github.com/drydock/drydock/internal/testenv"
)

func testdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRequired(t *testing.T) {
	for p, want := range map[string]bool{
		"etc/os-release": true, "usr/lib/os-release": true, "etc/alpine-release": true,
		"etc/redhat-release": true, "etc/system-release": true, "etc/debian_version": true,
		"etc/lsb-release": true, "/etc/os-release": false, "etc/os-release.d": false,
		"etc/centos-release": false, "usr/etc/os-release": false,
	} {
		if got := Required(p); got != want {
			t.Errorf("Required(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestDetectOSRelease(t *testing.T) {
	tests := []struct {
		file string
		want inventory.OS
	}{
		{"ubuntu-22.04", inventory.OS{ID: "ubuntu", VersionID: "22.04", Codename: "jammy", PrettyName: "Ubuntu 22.04.4 LTS"}},
		{"alpine-3.20", inventory.OS{ID: "alpine", VersionID: "3.20.3", PrettyName: "Alpine Linux v3.20"}},
		{"almalinux-9", inventory.OS{ID: "almalinux", VersionID: "9.4", PrettyName: "AlmaLinux 9.4 (Seafoam Ocelot)"}},
		{"rocky-9", inventory.OS{ID: "rocky", VersionID: "9.3", PrettyName: "Rocky Linux 9.3 (Blue Onyx)"}},
		{"rhel-9", inventory.OS{ID: "rhel", VersionID: "9.4", PrettyName: "Red Hat Enterprise Linux 9.4 (Plow)"}},
		{"amzn-2023", inventory.OS{ID: "amzn", VersionID: "2023", PrettyName: "Amazon Linux 2023.5.20240805"}},
		{"wolfi", inventory.OS{ID: "wolfi", VersionID: "20230201", PrettyName: "Wolfi"}},
		{"cbl-mariner-2.0", inventory.OS{ID: "mariner", VersionID: "2.0", PrettyName: "CBL-Mariner/Linux"}},
		{"sles-15.5", inventory.OS{ID: "sles", VersionID: "15.5", PrettyName: "SUSE Linux Enterprise Server 15 SP5"}},
		{"distroless-debian12", inventory.OS{ID: "debian", VersionID: "12", Codename: "bookworm", PrettyName: "Distroless", Distroless: true}},
		{"distroless-noid", inventory.OS{ID: "debian", VersionID: "11", Codename: "bullseye", PrettyName: "Distroless", Distroless: true}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			for _, p := range []string{OSRelease, UsrOSRelease} {
				got, err := Detect(map[string][]byte{p: testdata(t, tt.file)})
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(&tt.want, got); diff != "" {
					t.Errorf("%s (-want +got):\n%s", p, diff)
				}
			}
		})
	}
}

func TestDetectRealDebian12(t *testing.T) {
	b, err := os.ReadFile(testenv.Fixture(t, "dpkg", "debian12-os-release"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Detect(map[string][]byte{OSRelease: b, DebianVersion: []byte("12.5\n")})
	if err != nil {
		t.Fatal(err)
	}
	want := &inventory.OS{ID: "debian", VersionID: "12", Codename: "bookworm", PrettyName: "Debian GNU/Linux 12 (bookworm)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestDetectFallbacks(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		want    *inventory.OS
		wantErr error
	}{
		{
			name:  "etc/os-release preferred over usr/lib",
			files: map[string]string{OSRelease: "ID=a\nVERSION_ID=1\n", UsrOSRelease: "ID=b\n"},
			want:  &inventory.OS{ID: "a", VersionID: "1"},
		},
		{
			name:  "usr/lib when etc has no ID",
			files: map[string]string{OSRelease: "NAME=x\n", UsrOSRelease: "ID=b\n"},
			want:  &inventory.OS{ID: "b"},
		},
		{
			name:  "alpine-release",
			files: map[string]string{AlpineRelease: "3.20.3\n"},
			want:  &inventory.OS{ID: "alpine", VersionID: "3.20.3"},
		},
		{
			name:  "debian_version point release",
			files: map[string]string{DebianVersion: "12.5\n"},
			want:  &inventory.OS{ID: "debian", VersionID: "12"},
		},
		{
			name:  "debian_version old style",
			files: map[string]string{DebianVersion: "8.11"},
			want:  &inventory.OS{ID: "debian", VersionID: "8"},
		},
		{
			name:  "debian testing",
			files: map[string]string{OSRelease: "PRETTY_NAME=\"Debian GNU/Linux trixie/sid\"\nNAME=\"Debian GNU/Linux\"\nID=debian\n", DebianVersion: "trixie/sid\n"},
			want:  &inventory.OS{ID: "debian", Codename: "trixie", PrettyName: "Debian GNU/Linux trixie/sid"},
		},
		{
			name:  "old debian os-release codename from VERSION",
			files: map[string]string{OSRelease: "ID=debian\nVERSION_ID=\"9\"\nVERSION=\"9 (stretch)\"\n"},
			want:  &inventory.OS{ID: "debian", VersionID: "9", Codename: "stretch"},
		},
		{
			name:  "redhat-release rhel",
			files: map[string]string{RedHatRelease: "Red Hat Enterprise Linux release 9.4 (Plow)\n"},
			want:  &inventory.OS{ID: "rhel", VersionID: "9.4", Codename: "Plow", PrettyName: "Red Hat Enterprise Linux release 9.4 (Plow)"},
		},
		{
			name:  "redhat-release centos 7",
			files: map[string]string{RedHatRelease: "CentOS Linux release 7.9.2009 (Core)"},
			want:  &inventory.OS{ID: "centos", VersionID: "7.9.2009", Codename: "Core", PrettyName: "CentOS Linux release 7.9.2009 (Core)"},
		},
		{
			name:  "system-release amazon linux",
			files: map[string]string{SystemRelease: "Amazon Linux release 2023 (Amazon Linux)\n"},
			want:  &inventory.OS{ID: "amzn", VersionID: "2023", Codename: "Amazon Linux", PrettyName: "Amazon Linux release 2023 (Amazon Linux)"},
		},
		{
			name:  "redhat-release without codename",
			files: map[string]string{RedHatRelease: "AlmaLinux release 9.4"},
			want:  &inventory.OS{ID: "almalinux", VersionID: "9.4", PrettyName: "AlmaLinux release 9.4"},
		},
		{
			name:  "lsb-release beats debian_version",
			files: map[string]string{LSBRelease: "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=22.04\nDISTRIB_CODENAME=jammy\nDISTRIB_DESCRIPTION=\"Ubuntu 22.04.4 LTS\"\n", DebianVersion: "bookworm/sid\n"},
			want:  &inventory.OS{ID: "ubuntu", VersionID: "22.04", Codename: "jammy", PrettyName: "Ubuntu 22.04.4 LTS"},
		},
		{name: "nothing", files: map[string]string{}, wantErr: ErrNotFound},
		{name: "unknown redhat-release", files: map[string]string{RedHatRelease: "Something release 1"}, wantErr: ErrNotFound},
		{name: "too large", files: map[string]string{OSRelease: strings.Repeat("#", MaxFileSize+1)}, wantErr: ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string][]byte{}
			for k, v := range tt.files {
				files[k] = []byte(v)
			}
			got, err := Detect(files)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParse(t *testing.T) {
	in := `# comment
ID=plain
  INDENTED=yes
DQ="a \"quoted\" \$HOME \\ \` + "`" + ` \n"
SQ='it''s \ raw'
MIXED="a"b'c'\ d
TRAIL=value # comment
EMPTY=
EMPTYQ=""
UNTERMINATED="oops
BADKEY-X=1
9BAD=1
no equals sign
CRLF="x"` + "\r\n" + `LAST=1`
	want := map[string]string{
		"ID": "plain", "INDENTED": "yes", "DQ": `a "quoted" $HOME \ ` + "` \\n",
		"SQ": `its \ raw`, "MIXED": "abc d", "TRAIL": "value", "EMPTY": "", "EMPTYQ": "", "CRLF": "x", "LAST": "1",
	}
	if diff := cmp.Diff(want, Parse([]byte(in))); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"ubuntu-22.04", "almalinux-9", "distroless-debian12", "wolfi"} {
		f.Add(testdata(f, name))
	}
	b, err := os.ReadFile(testenv.Fixture(f, "dpkg", "debian12-os-release"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`A="x\"y"'z'\ w # c`))
	f.Fuzz(func(t *testing.T, b []byte) {
		kv := Parse(b)
		for k := range kv {
			if !validKey(k) {
				t.Fatalf("invalid key %q accepted", k)
			}
		}
		os, err := Detect(map[string][]byte{OSRelease: b, RedHatRelease: b, DebianVersion: b, AlpineRelease: b})
		if err == nil && os.ID == "" {
			t.Fatalf("detected an OS without ID: %+v", os)
		}
	})
}

func BenchmarkDetect(b *testing.B) {
	files := map[string][]byte{OSRelease: testdata(b, "almalinux-9")}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Detect(files); err != nil {
			b.Fatal(err)
		}
	}
}
