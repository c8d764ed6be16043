package deploy

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	yaml "go.yaml.in/yaml/v3"
)

func mustRewrite(t testing.TB, newImage, replaces string) Rewrite {
	t.Helper()
	d, err := name.NewDigest(newImage)
	if err != nil {
		t.Fatal(err)
	}
	var sel Selector
	if replaces != "" {
		if sel, err = ParseSelector(replaces); err != nil {
			t.Fatal(err)
		}
	}
	return NewRewrite(d, sel)
}

func TestRewriteYAML(t *testing.T) {
	newImg := "reg.example/team/app@" + dB
	tests := []struct {
		name          string
		kustomization bool
		replaces      string
		newImage      string
		in, want      string
		wantKinds     []string
	}{
		{
			name: "deployment and cronjob, two documents, comments and quotes kept",
			in: `# the app
apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      initContainers:
      - name: migrate
        image: "reg.example/team/app:1.0"   # same image
      containers:
      - name: app
        image: reg.example/team/app:1.0 # pinned later
      - name: sidecar
        image: reg.example/team/sidecar:1.0
---
kind: CronJob
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - {name: job, image: 'reg.example/team/app@` + dA + `'}
`,
			want: `# the app
apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      initContainers:
      - name: migrate
        image: "reg.example/team/app@` + dB + `"   # same image
      containers:
      - name: app
        image: reg.example/team/app@` + dB + ` # pinned later
      - name: sidecar
        image: reg.example/team/sidecar:1.0
---
kind: CronJob
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - {name: job, image: 'reg.example/team/app@` + dB + `'}
`,
			wantKinds: []string{"container image", "container image", "container image"},
		},
		{
			name:      "replaces by tag leaves other tags",
			replaces:  "reg.example/team/app:1.0",
			in:        "containers:\n- name: a\n  image: reg.example/team/app:1.0\n- name: b\n  image: reg.example/team/app:2.0\n",
			want:      "containers:\n- name: a\n  image: reg.example/team/app@" + dB + "\n- name: b\n  image: reg.example/team/app:2.0\n",
			wantKinds: []string{"container image"},
		},
		{
			name:          "kustomization: digest inserted, newTag updated, CRLF kept",
			kustomization: true,
			newImage:      "reg.example/team/app:1.1@" + dB,
			in:            "resources:\r\n- deploy.yaml\r\nimages:\r\n- name: reg.example/team/app\r\n  newTag: \"1.0\"\r\n- name: other\r\n  newTag: \"3\"\r\n",
			want:          "resources:\r\n- deploy.yaml\r\nimages:\r\n- name: reg.example/team/app\r\n  digest: " + dB + "\r\n  newTag: \"1.1\"\r\n- name: other\r\n  newTag: \"3\"\r\n",
			wantKinds:     []string{"kustomize image", "kustomize image"},
		},
		{
			name:          "kustomization: newName matched, existing digest replaced",
			kustomization: true,
			in:            "images:\n  - name: app\n    newName: reg.example/team/app\n    digest: " + dA + " # old\n",
			want:          "images:\n  - name: app\n    newName: reg.example/team/app\n    digest: " + dB + " # old\n",
			wantKinds:     []string{"kustomize image"},
		},
		{
			name:          "kustomization: moved repository gets newName",
			kustomization: true,
			replaces:      "old.example/app",
			in:            "images:\n- name: old.example/app\n  newTag: v1\n",
			want:          "images:\n- name: old.example/app\n  newName: reg.example/team/app\n  digest: " + dB + "\n  newTag: v1\n",
			wantKinds:     []string{"kustomize image", "kustomize image"},
		},
		{
			name:      "helm: marked repository, tag pinned",
			in:        "replicaCount: 2\nimage:\n  repository: reg.example/team/app  # drydock:image\n  tag: \"1.0\"\n  pullPolicy: IfNotPresent\nother:\n  repository: reg.example/team/app\n  tag: \"1.0\"\n",
			want:      "replicaCount: 2\nimage:\n  repository: reg.example/team/app  # drydock:image\n  tag: \"1.0@" + dB + "\"\n  pullPolicy: IfNotPresent\nother:\n  repository: reg.example/team/app\n  tag: \"1.0\"\n",
			wantKinds: []string{"helm value"},
		},
		{
			name:      "helm: marked image mapping with registry and digest keys",
			in:        "app:\n  image: # drydock:image\n    registry: reg.example\n    repository: team/app\n    tag: '1.0'\n    digest: \"\"\n",
			want:      "app:\n  image: # drydock:image\n    registry: reg.example\n    repository: team/app\n    tag: '1.0'\n    digest: \"" + dB + "\"\n",
			wantKinds: []string{"helm value"},
		},
		{
			name:      "helm: marked full reference and marked tag",
			in:        "worker: reg.example/team/app:1.0 # drydock:image\nweb:\n  repository: reg.example/team/app\n  tag: 1.0 # drydock:image\n",
			want:      "worker: reg.example/team/app@" + dB + " # drydock:image\nweb:\n  repository: reg.example/team/app\n  tag: 1.0@" + dB + " # drydock:image\n",
			wantKinds: []string{"helm value", "helm value"},
		},
		{
			name:      "unicode before the value",
			in:        "containers: [{näme: x, image: reg.example/team/app:1}]\n",
			want:      "containers: [{näme: x, image: reg.example/team/app@" + dB + "}]\n",
			wantKinds: []string{"container image"},
		},
		{
			name: "helm template is left alone",
			in:   "containers:\n- image: {{ .Values.image }}\n  {{- if .x }}\n",
			want: "containers:\n- image: {{ .Values.image }}\n  {{- if .x }}\n",
		},
		{
			name: "other repository untouched",
			in:   "containers:\n- image: reg.example/team/other:1\n",
			want: "containers:\n- image: reg.example/team/other:1\n",
		},
		{
			name: "already the new image",
			in:   "containers:\n- image: " + newImg + "\n",
			want: "containers:\n- image: " + newImg + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ni := tt.newImage
			if ni == "" {
				ni = newImg
			}
			rw := mustRewrite(t, ni, tt.replaces)
			got, changes, err := RewriteYAML([]byte(tt.in), tt.kustomization, rw)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("content (-want +got):\n%s", diff)
			}
			var kinds []string
			for _, c := range changes {
				kinds = append(kinds, c.Kind)
			}
			if diff := cmp.Diff(tt.wantKinds, kinds); diff != "" {
				t.Errorf("change kinds (-want +got):\n%s", diff)
			}
			// A second run finds nothing left to change.
			again, changes2, err := RewriteYAML(got, tt.kustomization, rw)
			if err != nil || len(changes2) != 0 || string(again) != string(got) {
				t.Errorf("second run changed %v (err %v)", changes2, err)
			}
		})
	}
}

func TestRewriteYAMLProblems(t *testing.T) {
	rw := mustRewrite(t, "reg.example/team/app@"+dB, "")
	for _, in := range []string{
		"containers:\n- image: >-\n    reg.example/team/app:1\n",
		"image: # drydock:image\n  tag: 1\n",
		"image: # drydock:image\n  repository: reg.example/team/app\n",
	} {
		out, _, err := RewriteYAML([]byte(in), false, rw)
		if err == nil {
			t.Errorf("no problem reported for %q", in)
		}
		if string(out) != in {
			t.Errorf("content changed despite the problem: %q", out)
		}
	}
}

func FuzzRewriteYAML(f *testing.F) {
	f.Add("containers:\n- name: a\n  image: reg.example/team/app:1.0 # c\n", false)
	f.Add("images:\n- name: reg.example/team/app\n  newTag: \"1\"\n", true)
	f.Add("image:\n  repository: reg.example/team/app # drydock:image\n  tag: \"1\"\n", false)
	f.Add("a: [{image: 'reg.example/team/app:1'}]\n---\ncontainers: [{image: \"reg.example/team/app\"}]\n", false)
	rw := mustRewrite(f, "reg.example/team/app:2@"+dB, "")
	f.Fuzz(func(t *testing.T, in string, kust bool) {
		out, changes, err := RewriteYAML([]byte(in), kust, rw)
		if err != nil || len(changes) == 0 {
			if string(out) != in {
				t.Fatalf("unchanged result differs from input")
			}
			return
		}
		// The result still parses, and a second run changes nothing.
		dec := yaml.NewDecoder(strings.NewReader(string(out)))
		for {
			var n yaml.Node
			if err := dec.Decode(&n); err != nil {
				if err.Error() != "EOF" {
					t.Fatalf("rewritten YAML does not parse: %v\n%s", err, out)
				}
				break
			}
		}
		again, ch2, err := RewriteYAML(out, kust, rw)
		if err != nil || len(ch2) != 0 || string(again) != string(out) {
			t.Fatalf("not idempotent: %v %v\nin:\n%s\nout:\n%s", ch2, err, in, out)
		}
	})
}
