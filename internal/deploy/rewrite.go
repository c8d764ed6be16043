package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/google/go-containerregistry/pkg/name"
	yaml "go.yaml.in/yaml/v3"
)

// HelmMarker marks a line of a Helm values file whose image key drydock may
// rewrite: `repository: reg/app  # drydock:image`, `tag: "1.2"  #
// drydock:image`, `image: reg/app:1.2  # drydock:image`, or `image:  #
// drydock:image` above a repository/tag mapping.
const HelmMarker = "drydock:image"

// LineChange is one rewritten line.
type LineChange struct {
	Line int    `json:"line"`
	Old  string `json:"old"`
	New  string `json:"new"`
	// Kind says what was rewritten: "container image", "kustomize image",
	// "helm value".
	Kind string `json:"kind"`
}

// Rewrite is a selector and the image that replaces what it selects.
type Rewrite struct {
	New name.Digest
	Sel Selector
}

// NewRewrite makes a rewrite; the zero selector means any image of the new
// image's repository.
func NewRewrite(newImage name.Digest, sel Selector) Rewrite {
	return Rewrite{New: newImage, Sel: selectorFor(newImage, sel)}
}

// edit replaces the scalar token at (line, col) or inserts a line after
// line (col 0).
type edit struct {
	line, col int
	token     string // the exact source text to replace; "" for an insert
	text      string // replacement token, or the whole inserted line
	kind      string
}

// RewriteYAML rewrites the image references in one YAML file (all its
// documents) and returns the new content and what changed. It changes only
// the bytes of the rewritten values (and inserts a `digest:` or `newName:`
// line in kustomization image entries that lack one), so comments,
// quoting and layout stay as they were. kustomization selects the
// kustomization.yaml `images:` handling. Input that is not YAML (a Helm
// template) is returned unchanged with no error.
func RewriteYAML(data []byte, kustomization bool, rw Rewrite) ([]byte, []LineChange, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var edits []edit
	var problems []error
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return data, nil, nil
		}
		w := &walker{rw: rw}
		w.walk(&doc, "")
		if kustomization && len(doc.Content) == 1 && doc.Content[0].Kind == yaml.MappingNode {
			w.kustomize(doc.Content[0])
		}
		edits = append(edits, w.edits...)
		problems = append(problems, w.problems...)
	}
	if len(problems) > 0 {
		return data, nil, errors.Join(problems...)
	}
	if len(edits) == 0 {
		return data, nil, nil
	}
	return applyEdits(data, edits)
}

type walker struct {
	rw       Rewrite
	edits    []edit
	problems []error
}

func (w *walker) problemf(n *yaml.Node, format string, args ...any) {
	w.problems = append(w.problems, fmt.Errorf("line %d: %s", n.Line, fmt.Sprintf(format, args...)))
}

func marked(nodes ...*yaml.Node) bool {
	for _, n := range nodes {
		if n != nil && strings.Contains(n.LineComment, HelmMarker) {
			return true
		}
	}
	return false
}

func mapGet(m *yaml.Node, key string) (k, v *yaml.Node) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

func isScalar(n *yaml.Node) bool { return n != nil && n.Kind == yaml.ScalarNode }

// walk finds container lists (containers, initContainers,
// ephemeralContainers: a sequence of mappings with an image) anywhere, and
// Helm values lines carrying the marker.
func (w *walker) walk(n *yaml.Node, parentKey string) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			w.walk(c, parentKey)
		}
	case yaml.MappingNode:
		helmDone := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			switch {
			case (k.Value == "containers" || k.Value == "initContainers" || k.Value == "ephemeralContainers") && v.Kind == yaml.SequenceNode:
				for _, item := range v.Content {
					if _, img := mapGet(item, "image"); isScalar(img) && !marked(img) {
						w.replaceImage(img, "container image")
					}
				}
			case marked(k, v) && isScalar(v) && (k.Value == "repository" || k.Value == "tag" || k.Value == "digest"):
				if !helmDone {
					w.helmMap(n)
					helmDone = true
				}
				continue
			case marked(k, v) && isScalar(v):
				w.replaceImage(v, "helm value")
				continue
			case marked(k, v) && v.Kind == yaml.MappingNode:
				w.helmMap(v)
				continue
			}
			w.walk(v, k.Value)
		}
	}
}

// replaceImage rewrites a full image reference if the rewrite selects it.
func (w *walker) replaceImage(n *yaml.Node, kind string) {
	if !w.rw.Sel.Matches(n.Value) {
		return
	}
	if n.Value == w.rw.New.String() {
		return
	}
	w.scalar(n, w.rw.New.String(), kind)
}

func (w *walker) scalar(n *yaml.Node, value, kind string) {
	var token, text string
	switch n.Style {
	case 0:
		if n.Value == "" {
			w.problemf(n, "cannot rewrite an empty value in place (write \"\" to have it filled)")
			return
		}
		token, text = n.Value, value
	case yaml.DoubleQuotedStyle:
		token, text = `"`+n.Value+`"`, `"`+value+`"`
	case yaml.SingleQuotedStyle:
		token, text = `'`+n.Value+`'`, `'`+value+`'`
	default:
		w.problemf(n, "cannot rewrite a %s scalar in place", styleName(n.Style))
		return
	}
	w.edits = append(w.edits, edit{line: n.Line, col: n.Column, token: token, text: text, kind: kind})
}

func styleName(s yaml.Style) string {
	switch s {
	case yaml.LiteralStyle:
		return "literal block"
	case yaml.FoldedStyle:
		return "folded block"
	case yaml.TaggedStyle:
		return "tagged"
	}
	return "flow"
}

// newTag is the tag the new image was named with, if any.
func (rw Rewrite) newTag() string {
	ref, err := ParseRef(rw.New.String())
	if err != nil || !hasExplicitTag(rw.New.String()) {
		return ""
	}
	return ref.Tag
}

// helmMap rewrites a values mapping with repository (and registry, tag,
// digest) keys: the repository when it changes, and the digest key, or
// else the tag as "<tag>@sha256:…", which a chart's
// "{{ .repository }}:{{ .tag }}" renders as a digest-pinned reference.
func (w *walker) helmMap(m *yaml.Node) {
	_, repo := mapGet(m, "repository")
	_, reg := mapGet(m, "registry")
	_, tag := mapGet(m, "tag")
	_, dig := mapGet(m, "digest")
	if !isScalar(repo) {
		w.problemf(m, "marked image values have no repository key")
		return
	}
	full := repo.Value
	if isScalar(reg) && reg.Value != "" {
		full = reg.Value + "/" + repo.Value
	}
	cur := full
	if isScalar(tag) && tag.Value != "" {
		cur += ":" + tag.Value
	}
	if isScalar(dig) && dig.Value != "" {
		if strings.Contains(cur, "@") {
			w.problemf(dig, "both tag and digest carry a digest")
			return
		}
		cur += "@" + dig.Value
	}
	if !w.rw.Sel.Matches(cur) {
		return
	}
	newRef, _ := ParseRef(w.rw.New.String())
	curRef, err := ParseRef(cur)
	if err != nil {
		w.problemf(repo, "%v", err)
		return
	}
	if newRef.Repository != curRef.Repository {
		want := w.rw.New.Context().RepositoryStr()
		if isScalar(reg) && reg.Value != "" {
			if r, err := name.NewRegistry(reg.Value); err != nil || r.Name() != w.rw.New.Context().RegistryStr() {
				w.problemf(reg, "the new image is in another registry (%s)", w.rw.New.Context().RegistryStr())
				return
			}
		} else {
			want = w.rw.New.Context().Name()
			if !strings.Contains(repo.Value, "/") || !strings.Contains(strings.SplitN(repo.Value, "/", 2)[0], ".") {
				// Keep Docker Hub shorthand short.
				want = strings.TrimPrefix(strings.TrimPrefix(want, name.DefaultRegistry+"/"), "library/")
			}
		}
		w.scalar(repo, want, "helm value")
	}
	d := w.rw.New.DigestStr()
	switch {
	case isScalar(dig):
		if dig.Value != d {
			w.scalar(dig, d, "helm value")
		}
	case isScalar(tag):
		t := w.rw.newTag()
		if t == "" {
			t, _, _ = strings.Cut(tag.Value, "@")
		}
		if t == "" {
			w.problemf(tag, "empty tag: cannot pin by digest without a digest key")
			return
		}
		if v := t + "@" + d; tag.Value != v {
			w.scalar(tag, v, "helm value")
		}
	default:
		w.problemf(repo, "marked image values have neither a tag nor a digest key to pin")
	}
}

// kustomize rewrites the kustomization's images: entries that select the
// old image: newName when the repository changes, newTag when the new image
// has a tag, and digest, inserted under name when missing.
func (w *walker) kustomize(root *yaml.Node) {
	_, images := mapGet(root, "images")
	if images == nil || images.Kind != yaml.SequenceNode {
		return
	}
	newRef, _ := ParseRef(w.rw.New.String())
	for _, e := range images.Content {
		nk, nameV := mapGet(e, "name")
		if !isScalar(nameV) {
			continue
		}
		_, newName := mapGet(e, "newName")
		_, newTag := mapGet(e, "newTag")
		_, dig := mapGet(e, "digest")
		cur := nameV.Value
		if isScalar(newName) && newName.Value != "" {
			cur = newName.Value
		}
		if isScalar(newTag) && newTag.Value != "" {
			cur += ":" + newTag.Value
		}
		if isScalar(dig) && dig.Value != "" {
			cur += "@" + dig.Value
		}
		if !w.rw.Sel.Matches(cur) {
			continue
		}
		if e.Style&yaml.FlowStyle != 0 {
			w.problemf(e, "cannot rewrite a flow-style images entry in place")
			continue
		}
		indent := strings.Repeat(" ", nk.Column-1)
		curRef, _ := ParseRef(cur)
		if curRef.Repository != newRef.Repository {
			want := w.rw.New.Context().String()
			if isScalar(newName) {
				w.scalar(newName, want, "kustomize image")
			} else {
				w.edits = append(w.edits, edit{line: nk.Line, text: indent + "newName: " + want, kind: "kustomize image"})
			}
		}
		if t := w.rw.newTag(); t != "" && isScalar(newTag) && newTag.Value != t {
			w.scalar(newTag, t, "kustomize image")
		}
		d := w.rw.New.DigestStr()
		if isScalar(dig) {
			if dig.Value != d {
				w.scalar(dig, d, "kustomize image")
			}
		} else {
			w.edits = append(w.edits, edit{line: nk.Line, text: indent + "digest: " + d, kind: "kustomize image"})
		}
	}
}

// applyEdits applies scalar replacements and line inserts, checking that
// each replaced token is exactly where the parser said.
func applyEdits(data []byte, edits []edit) ([]byte, []LineChange, error) {
	lines := bytes.SplitAfter(data, []byte("\n"))
	type lineEdits struct {
		repl    []edit
		inserts []edit
	}
	byLine := map[int]*lineEdits{}
	for _, e := range edits {
		if e.line < 1 || e.line > len(lines) {
			return data, nil, fmt.Errorf("line %d: out of range", e.line)
		}
		le := byLine[e.line]
		if le == nil {
			le = &lineEdits{}
			byLine[e.line] = le
		}
		if e.token == "" {
			le.inserts = append(le.inserts, e)
		} else {
			le.repl = append(le.repl, e)
		}
	}
	var out bytes.Buffer
	var changes []LineChange
	outLine := 0
	for i, l := range lines {
		n := i + 1
		le := byLine[n]
		if le == nil {
			out.Write(l)
			outLine++
			continue
		}
		orig := string(l)
		cur := orig
		// Right to left, so earlier columns stay valid.
		sort.Slice(le.repl, func(a, b int) bool { return le.repl[a].col > le.repl[b].col })
		kind := ""
		for _, e := range le.repl {
			off := runeOffset(cur, e.col)
			if off < 0 || !strings.HasPrefix(cur[off:], e.token) {
				return data, nil, fmt.Errorf("line %d: value %q not found at column %d", n, e.token, e.col)
			}
			cur = cur[:off] + e.text + cur[off+len(e.token):]
			kind = e.kind
		}
		out.WriteString(cur)
		outLine++
		if cur != orig {
			changes = append(changes, LineChange{Line: outLine, Old: strings.TrimRight(orig, "\r\n"), New: strings.TrimRight(cur, "\r\n"), Kind: kind})
		}
		if len(le.inserts) > 0 && !strings.HasSuffix(cur, "\n") {
			out.WriteString("\n")
		}
		eol := "\n"
		if strings.HasSuffix(cur, "\r\n") {
			eol = "\r\n"
		}
		for _, e := range le.inserts {
			out.WriteString(e.text + eol)
			outLine++
			changes = append(changes, LineChange{Line: outLine, New: e.text, Kind: e.kind})
		}
	}
	return out.Bytes(), changes, nil
}

// runeOffset is the byte offset of 1-based rune column col in s.
func runeOffset(s string, col int) int {
	off := 0
	for c := 1; c < col; c++ {
		if off >= len(s) {
			return -1
		}
		_, size := utf8.DecodeRuneInString(s[off:])
		off += size
	}
	return off
}

// IsKustomization says whether a file name is a kustomization file.
func IsKustomization(p string) bool {
	switch path.Base(p) {
	case "kustomization.yaml", "kustomization.yml", "Kustomization":
		return true
	}
	return false
}
