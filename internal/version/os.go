package version

import (
	"regexp"
	"strconv"
	"strings"
	"sync"

	apk "github.com/knqyf263/go-apk-version"
	deb "github.com/knqyf263/go-deb-version"
)

var (
	_ Comparer = Dpkg{}
	_ Comparer = RPM{}
	_ Comparer = APK{}
)

// Dpkg orders Debian and Ubuntu versions ([epoch:]upstream[-revision]) as
// dpkg --compare-versions does, "~" sorting before anything.
type Dpkg struct{}

func (Dpkg) parse(v string) (deb.Version, error) {
	// The library accepts leading/trailing blanks by trimming; a version
	// field never has them, so they are a sign of bad input.
	if !plainText(v) || strings.HasSuffix(v, "-") || strings.Trim(v, dpkgChars) != "" {
		return deb.Version{}, invalid("dpkg", v, nil)
	}
	p, err := deb.NewVersion(v)
	if err != nil {
		return deb.Version{}, invalid("dpkg", v, err)
	}
	return p, nil
}

// Valid reports whether v is a dpkg version.
func (d Dpkg) Valid(v string) bool { _, err := d.parse(v); return err == nil }

// Compare orders two dpkg versions.
func (d Dpkg) Compare(a, b string) (int, error) {
	pa, err := d.parse(a)
	if err != nil {
		return 0, err
	}
	pb, err := d.parse(b)
	if err != nil {
		return 0, err
	}
	return sign(pa.Compare(pb)), nil
}

// dpkgChars are the characters dpkg allows in a version; the library lets
// some others ("_") through, and an empty revision ("1.0-") too.
const dpkgChars = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.+~-:"

// RPM orders rpm EVR strings ([epoch:]version[-release]) with rpmvercmp,
// including "~" (sorts before) and "^" (sorts after the base version).
type RPM struct{}

// Valid reports whether v is an rpm EVR. The library parses any string, so
// the shape is checked here: a numeric epoch if a colon is present, a
// non-empty version, and at least one alphanumeric character.
func (RPM) Valid(v string) bool {
	if !plainText(v) {
		return false
	}
	rest := v
	if e, r, ok := strings.Cut(v, ":"); ok {
		if !isDigits(e) {
			return false
		}
		if _, err := strconv.Atoi(e); err != nil {
			return false // overflow: the library would read it as 0
		}
		rest = r
	}
	ver, rel, hasRel := strings.Cut(rest, "-")
	if ver == "" || (hasRel && rel == "") {
		return false
	}
	return strings.IndexFunc(rest, isAlnum) >= 0
}

func isAlnum(r rune) bool {
	return r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
}

// Compare orders two rpm EVRs; a missing epoch is 0.
func (r RPM) Compare(a, b string) (int, error) {
	if !r.Valid(a) {
		return 0, invalid("rpm", a, nil)
	}
	if !r.Valid(b) {
		return 0, invalid("rpm", b, nil)
	}
	return newRPMKey(a).compare(newRPMKey(b)), nil
}

// APK orders Alpine apk versions as apk-tools does: "_rc" and other pre
// suffixes before the release, "_p" and other post suffixes after it, "-rN"
// package releases last.
type APK struct{}

// apkPattern is the version grammar of apk-tools (apk_version_validate):
// dotted digits, one optional letter, any number of _suffixN, an optional
// ~hash and an optional -rN. The library is laxer ("1..0", "1.0-r1-r2").
var apkPattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[0-9]+(\.[0-9]+)*[a-z]?(_(alpha|beta|pre|rc|cvs|svn|git|hg|p)[0-9]*)*(~[0-9a-f]+)?(-r[0-9]+)?$`)
})

// Valid reports whether v is an apk version.
func (APK) Valid(v string) bool { return apkPattern().MatchString(v) && apk.Valid(v) }

// Compare orders two apk versions.
func (p APK) Compare(a, b string) (int, error) {
	if !p.Valid(a) {
		return 0, invalid("apk", a, nil)
	}
	if !p.Valid(b) {
		return 0, invalid("apk", b, nil)
	}
	va, _ := apk.NewVersion(a)
	vb, _ := apk.NewVersion(b)
	return sign(va.Compare(vb)), nil
}
