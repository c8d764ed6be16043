package version

import (
	"errors"
	"regexp"
	"strings"
	"sync"
)

var _ Comparer = Composer{}

// Composer orders Packagist versions as Composer does: it normalises a
// version the way composer/semver's VersionParser::normalize does (one to
// four numeric parts, missing ones zero; a leading "v" and "+build"
// dropped; stability suffixes spelled out: a → alpha, b → beta, rc → RC,
// p and pl → patch) and orders the result as PHP's version_compare does:
//
//	dev < alpha < beta < RC < (release, or "stable") < patch
//
// with the stability's own numbers next ("RC1" < "RC2" < "RC10", "beta" <
// "beta1") and a trailing "-dev" just before what it develops
// ("1.0.0-beta2-dev" < "1.0.0-beta2"). A bare "1.0.0-dev" is the dev
// stability of 1.0.0, older than any of its alphas. Branch aliases
// ("2.x-dev", "2.1.*-dev") stand for the newest development of that line:
// x and * become 9999999, as Composer does.
//
// Plain branch versions ("dev-main", "dev-feature/x") have no place in an
// order: Composer itself never compares them with numbered versions. They
// are rejected with ErrInvalid, so the matcher reports the package as not
// matchable instead of guessing.
type Composer struct{}

type composerVersion struct {
	nums      [4]string // numeric parts, digits only
	stability int       // composerDev … composerPatch
	stabNums  []string  // the stability's numbers: RC1.2 → [1 2]
	dev       bool      // a "-dev" after a stability: beta2-dev
}

const (
	composerDev = iota
	composerAlpha
	composerBeta
	composerRC
	composerStable
	composerPatch
)

// Compiled on first use, not at start-up (every command links the
// version package; few compare Composer versions).
var (
	composerClassical = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(?i)v?(\d+(?:\.\d+){0,3})(?:[._-]?(stable|beta|b|rc|alpha|a|patch|pl|p)((?:[.-]?\d+)*))?(?:[.-]?(dev))?$`)
	})
	composerBranch    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(?i)v?(\d+(?:\.(?:\d+|x|\*)){0,3})[.-]?dev$`) })
	digitRun          = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\d+`) })
	errComposerBranch = errors.New("a dev- branch has no place in a version order")
)

var composerStabilities = map[string]int{
	"stable": composerStable, "beta": composerBeta, "b": composerBeta, "rc": composerRC,
	"alpha": composerAlpha, "a": composerAlpha, "patch": composerPatch, "pl": composerPatch, "p": composerPatch,
}

func (Composer) parse(v string) (composerVersion, error) {
	var out composerVersion
	if !plainText(v) || len(v) > 256 {
		return out, invalid("composer", v, nil)
	}
	if strings.HasPrefix(strings.ToLower(v), "dev-") {
		return out, invalid("composer", v, errComposerBranch)
	}
	s, meta, hasMeta := strings.Cut(v, "+")
	if hasMeta && meta == "" {
		return out, invalid("composer", v, nil)
	}
	if m := composerClassical().FindStringSubmatch(s); m != nil {
		parts := strings.Split(m[1], ".")
		for i := range out.nums {
			out.nums[i] = "0"
			if i < len(parts) {
				out.nums[i] = parts[i]
			}
		}
		stab, nums, dev := strings.ToLower(m[2]), m[3], m[4] != ""
		switch {
		case stab == "stable":
			out.stability = composerStable // Composer drops the suffix
		case stab != "":
			out.stability = composerStabilities[stab]
			out.stabNums = digitRun().FindAllString(nums, -1)
			out.dev = dev
		case dev:
			out.stability = composerDev
		default:
			out.stability = composerStable
		}
		return out, nil
	}
	if m := composerBranch().FindStringSubmatch(s); m != nil && strings.ContainsAny(m[1], "xX*") {
		parts := strings.Split(m[1], ".")
		for i := range out.nums {
			out.nums[i] = "9999999"
			if i < len(parts) && isDigits(parts[i]) {
				out.nums[i] = parts[i]
			}
		}
		out.stability = composerDev
		return out, nil
	}
	return out, invalid("composer", v, nil)
}

// Valid reports whether v is a Composer version that can be ordered.
func (c Composer) Valid(v string) bool { _, err := c.parse(v); return err == nil }

// Compare orders two Composer versions.
func (c Composer) Compare(a, b string) (int, error) {
	va, err := c.parse(a)
	if err != nil {
		return 0, err
	}
	vb, err := c.parse(b)
	if err != nil {
		return 0, err
	}
	for i := range va.nums {
		if r := cmpDigits(va.nums[i], vb.nums[i]); r != 0 {
			return r, nil
		}
	}
	if va.stability != vb.stability {
		return sign(va.stability - vb.stability), nil
	}
	// version_compare: a further number makes a version newer ("beta" <
	// "beta1" < "beta1.1").
	for i := 0; i < min(len(va.stabNums), len(vb.stabNums)); i++ {
		if r := cmpDigits(va.stabNums[i], vb.stabNums[i]); r != 0 {
			return r, nil
		}
	}
	if len(va.stabNums) != len(vb.stabNums) {
		return sign(len(va.stabNums) - len(vb.stabNums)), nil
	}
	switch {
	case va.dev == vb.dev:
		return 0, nil
	case va.dev:
		return -1, nil
	}
	return 1, nil
}
