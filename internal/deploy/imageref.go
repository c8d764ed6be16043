package deploy

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
)

// Compiled on first use, not at start-up: bounded repetitions ({64},
// {0,127}) expand into large programs every command would pay for.
var (
	digestRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^sha256:[0-9a-f]{64}$`) })
	tagRE    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`) })
)

// RunningImage is what a container status says is running.
type RunningImage struct {
	// Repository is the repository the runtime pulled by, when it says
	// (docker-pullable://repo@sha256:..., repo@sha256:...); empty for a bare
	// image ID.
	Repository string
	// Digest is "sha256:<64 hex>".
	Digest string
}

// ParseImageID reads a containerStatuses[].imageID. Runtimes write one of
// "docker-pullable://repo@sha256:…" (dockershim, cri-dockerd),
// "docker://sha256:…", "repo@sha256:…" (containerd, CRI-O) or a bare
// "sha256:…" (an image ID, which for containerd is the config digest and
// names no repository). An empty or unreadable value is an error.
func ParseImageID(s string) (RunningImage, error) {
	orig := s
	for _, p := range []string{"docker-pullable://", "docker://", "containerd://", "cri-o://"} {
		if strings.HasPrefix(s, p) {
			s = s[len(p):]
			break
		}
	}
	if s == "" {
		return RunningImage{}, fmt.Errorf("image ID %q: empty", orig)
	}
	if digestRE().MatchString(s) {
		return RunningImage{Digest: s}, nil
	}
	repo, dig, ok := strings.Cut(s, "@")
	if !ok || !digestRE().MatchString(dig) {
		return RunningImage{}, fmt.Errorf("image ID %q: no sha256 digest", orig)
	}
	r, err := name.NewRepository(repo)
	if err != nil {
		return RunningImage{}, fmt.Errorf("image ID %q: %w", orig, err)
	}
	return RunningImage{Repository: r.Name(), Digest: dig}, nil
}

// Ref is a parsed image reference as written in a spec: repository, and a
// tag and/or a digest.
type Ref struct {
	// Repository is fully qualified (docker.io/library/nginx).
	Repository string
	Tag        string
	Digest     string
}

// ParseRef parses an image reference such as "nginx", "nginx:1.27",
// "reg:5000/team/app@sha256:…" or "reg/app:1.2@sha256:…". A reference with
// neither tag nor digest has Tag "latest", as the runtime would pull.
func ParseRef(s string) (Ref, error) {
	s = strings.TrimSpace(s)
	rest, dig, hasDigest := strings.Cut(s, "@")
	if hasDigest && !digestRE().MatchString(dig) {
		return Ref{}, fmt.Errorf("image %q: bad digest %q", s, dig)
	}
	// The tag is after the last colon that follows the last slash.
	repo, tag := rest, ""
	if i := strings.LastIndex(rest, ":"); i > strings.LastIndex(rest, "/") {
		repo, tag = rest[:i], rest[i+1:]
		if tag == "" {
			return Ref{}, fmt.Errorf("image %q: empty tag", s)
		}
		if !tagRE().MatchString(tag) {
			return Ref{}, fmt.Errorf("image %q: bad tag %q", s, tag)
		}
	}
	r, err := name.NewRepository(repo)
	if err != nil {
		return Ref{}, fmt.Errorf("image %q: %w", s, err)
	}
	ref := Ref{Repository: r.Name(), Tag: tag, Digest: dig}
	if tag == "" && dig == "" {
		ref.Tag = "latest"
	}
	return ref, nil
}

// String writes the reference back, fully qualified.
func (r Ref) String() string {
	s := r.Repository
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// TagRef is the reference a registry resolves to a digest: repository:tag,
// or "" when there is no tag.
func (r Ref) TagRef() string {
	if r.Tag == "" {
		return ""
	}
	return r.Repository + ":" + r.Tag
}

// Selector says which images a rollout replaces: those with a digest, or
// those of a repository (and tag).
type Selector struct {
	Repository string // fully qualified; empty matches any repository (only with Digest)
	Tag        string // empty: any tag
	Digest     string // non-empty: exactly this digest
	// Exclude is a digest never selected (the new image's own).
	Exclude string
}

// ParseSelector reads --replaces: "repo@sha256:…" or "sha256:…" (by
// digest), "repo:tag" (by repository and tag) or "repo" (any image of the
// repository).
func ParseSelector(s string) (Selector, error) {
	if digestRE().MatchString(s) {
		return Selector{Digest: s}, nil
	}
	ref, err := ParseRef(s)
	if err != nil {
		return Selector{}, err
	}
	sel := Selector{Repository: ref.Repository, Digest: ref.Digest}
	if ref.Digest == "" && hasExplicitTag(s) {
		sel.Tag = ref.Tag
	}
	return sel, nil
}

func hasExplicitTag(s string) bool {
	rest, _, _ := strings.Cut(s, "@")
	return strings.LastIndex(rest, ":") > strings.LastIndex(rest, "/")
}

// Matches says whether an image reference written in a spec is selected.
// A digest selector matches the spec's digest whatever the repository
// (content is the same wherever it is stored); a repository selector needs
// the same repository and, when it has one, the same tag.
func (s Selector) Matches(image string) bool {
	ref, err := ParseRef(image)
	if err != nil {
		return false
	}
	if s.Exclude != "" && ref.Digest == s.Exclude {
		return false
	}
	if s.Digest != "" {
		return ref.Digest == s.Digest && (s.Repository == "" || s.Repository == ref.Repository)
	}
	if s.Repository != ref.Repository {
		return false
	}
	return s.Tag == "" || s.Tag == ref.Tag
}

func (s Selector) String() string {
	switch {
	case s.Digest != "" && s.Repository != "":
		return s.Repository + "@" + s.Digest
	case s.Digest != "":
		return s.Digest
	case s.Tag != "":
		return s.Repository + ":" + s.Tag
	}
	return s.Repository
}

// ShortDigest is the first 12 hex digits of a sha256 digest.
func ShortDigest(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	if len(d) > 12 {
		d = d[:12]
	}
	return d
}
