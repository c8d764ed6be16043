package deploy_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drydock/drydock/internal/deploy"
)

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// GitOps on a real git repository: plain manifests, a kustomization's
// images: entry and a marked Helm values file are rewritten to the new
// digest on a new branch, the commit message lists the CVEs fixed, and
// nothing else changes: not the template, not a file reached through a
// symlink out of the tree, not the original branch.
func TestGitOpsCommitsOnABranch(t *testing.T) {
	t.Setenv("GIT_CONFIG_GLOBAL", "/dev/null")
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	outside := t.TempDir()
	writeFiles(t, outside, map[string]string{"secret.yaml": "containers:\n- image: reg.example/team/app:1.0\n"})
	repo := t.TempDir()
	oldRef := "reg.example/team/app:1.0"
	newImg := "reg.example/team/app@" + newDigest
	files := map[string]string{
		"apps/web/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web # the front end
spec:
  template:
    spec:
      containers:
        - name: web
          image: reg.example/team/app:1.0   # keep this comment
        - name: proxy
          image: "reg.example/infra/proxy:2"
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: report}
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - name: report
            image: 'reg.example/team/app:1.0'
`,
		"apps/web/kustomization.yaml": `resources:
  - deployment.yaml
images:
  - name: reg.example/team/app
    newTag: "1.0"
`,
		"charts/web/values.yaml": `replicaCount: 2
image:
  repository: reg.example/team/app # drydock:image
  tag: "1.0"
  pullPolicy: IfNotPresent
`,
		"charts/web/templates/deployment.yaml": "spec:\n  containers:\n  - image: \"{{ .Values.image.repository }}:{{ .Values.image.tag }}\"\n  {{- with .Values.x }}\n",
		"docs/other.yaml":                      "containers:\n- image: reg.example/team/other:1.0\n",
	}
	writeFiles(t, repo, files)
	if err := os.Symlink(filepath.Join(outside, "secret.yaml"), filepath.Join(repo, "apps", "linked.yaml")); err != nil {
		t.Fatal(err)
	}
	git(t, repo, "init", "-q", "-b", "main")
	git(t, repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "add", ".")
	git(t, repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "initial")

	reports := t.TempDir()
	writeReport(t, filepath.Join(reports, "old.json"), oldDigest, "", "", []string{"CVE-2024-1111", "CVE-2024-2222", "CVE-2024-3333"})
	writeReport(t, filepath.Join(reports, "new.json"), newDigest, "", "", []string{"CVE-2024-3333"})
	oldRep, err := deploy.ReadScanReport(filepath.Join(reports, "old.json"))
	if err != nil {
		t.Fatal(err)
	}
	newRep, err := deploy.ReadScanReport(filepath.Join(reports, "new.json"))
	if err != nil {
		t.Fatal(err)
	}
	sel, err := deploy.ParseSelector(oldRef)
	if err != nil {
		t.Fatal(err)
	}

	// A dry run writes nothing.
	dry, err := deploy.GitOps(context.Background(), repo, image(t, newImg), deploy.GitOpsOptions{Replaces: sel, OldReport: oldRep, NewReport: newRep, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(dry.Files) != 3 || dry.Commit != "" || git(t, repo, "status", "--porcelain") != "" {
		t.Fatalf("dry run: %d files, commit %q, status %q", len(dry.Files), dry.Commit, git(t, repo, "status", "--porcelain"))
	}

	res, err := deploy.GitOps(context.Background(), repo, image(t, newImg), deploy.GitOpsOptions{Replaces: sel, OldReport: oldRep, NewReport: newRep})
	if err != nil {
		t.Fatal(err)
	}
	branch := "drydock/" + deploy.ShortDigest(newDigest)
	if res.Branch != branch || git(t, repo, "rev-parse", "--abbrev-ref", "HEAD") != branch {
		t.Fatalf("branch %q, HEAD %q", res.Branch, git(t, repo, "rev-parse", "--abbrev-ref", "HEAD"))
	}
	if got := git(t, repo, "rev-parse", branch); got != res.Commit {
		t.Errorf("commit %s, branch at %s", res.Commit, got)
	}
	if git(t, repo, "status", "--porcelain") != "" {
		t.Errorf("work tree not clean after the commit: %s", git(t, repo, "status", "--porcelain"))
	}
	// Exactly three files changed in the commit.
	changed := strings.Split(git(t, repo, "diff", "--name-only", "main", branch), "\n")
	if diff := cmp.Diff([]string{"apps/web/deployment.yaml", "apps/web/kustomization.yaml", "charts/web/values.yaml"}, changed); diff != "" {
		t.Errorf("files in the commit (-want +got):\n%s", diff)
	}
	show := func(p string) string { return git(t, repo, "show", branch+":"+p) + "\n" }
	wantDeploy := strings.ReplaceAll(files["apps/web/deployment.yaml"], "reg.example/team/app:1.0", newImg)
	if diff := cmp.Diff(wantDeploy, show("apps/web/deployment.yaml")); diff != "" {
		t.Errorf("deployment.yaml (-want +got):\n%s", diff)
	}
	wantKust := "resources:\n  - deployment.yaml\nimages:\n  - name: reg.example/team/app\n    digest: " + newDigest + "\n    newTag: \"1.0\"\n"
	if diff := cmp.Diff(wantKust, show("apps/web/kustomization.yaml")); diff != "" {
		t.Errorf("kustomization.yaml (-want +got):\n%s", diff)
	}
	wantValues := strings.Replace(files["charts/web/values.yaml"], `tag: "1.0"`, `tag: "1.0@`+newDigest+`"`, 1)
	if diff := cmp.Diff(wantValues, show("charts/web/values.yaml")); diff != "" {
		t.Errorf("values.yaml (-want +got):\n%s", diff)
	}
	msg := git(t, repo, "log", "-1", "--format=%B", branch)
	for _, s := range []string{"CVE-2024-1111 (HIGH, libssl3)", "CVE-2024-2222 (HIGH, libssl3)", "drydock: pin reg.example/team/app to " + deploy.ShortDigest(newDigest)} {
		if !strings.Contains(msg, s) {
			t.Errorf("commit message lacks %q:\n%s", s, msg)
		}
	}
	if strings.Contains(msg, "CVE-2024-3333") {
		t.Errorf("commit message lists a CVE the new image still has:\n%s", msg)
	}
	// The symlinked file outside the tree and the main branch are as they were.
	if b, _ := os.ReadFile(filepath.Join(outside, "secret.yaml")); string(b) != "containers:\n- image: reg.example/team/app:1.0\n" {
		t.Errorf("a file outside the work tree changed: %q", b)
	}
	if got := git(t, repo, "show", "main:apps/web/deployment.yaml") + "\n"; got != files["apps/web/deployment.yaml"] {
		t.Errorf("main changed")
	}

	// Running again: the branch exists, nothing is touched.
	git(t, repo, "switch", "-q", "main")
	if _, err := deploy.GitOps(context.Background(), repo, image(t, newImg), deploy.GitOpsOptions{Replaces: sel}); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Errorf("second run: %v", err)
	}
	if git(t, repo, "status", "--porcelain") != "" || git(t, repo, "rev-parse", "--abbrev-ref", "HEAD") != "main" {
		t.Errorf("second run left changes")
	}

	// Through the CLI, with another image, on main.
	bin := drydockBinary(t)
	other := "reg.example/infra/proxy@" + oldDigest
	cmd := exec.Command(bin, "deploy", other, "--git", repo, "--replaces", "reg.example/infra/proxy", "--old-report", filepath.Join(reports, "old.json"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("drydock deploy --git: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "+          image: \"reg.example/infra/proxy@"+oldDigest+"\"") || !strings.Contains(string(out), "on branch drydock/"+deploy.ShortDigest(oldDigest)) {
		t.Errorf("CLI output:\n%s", out)
	}
}

// A manifest hard-linked to a file outside the work tree is reported, not
// rewritten: writing it would change the outside file through the link.
// The other manifests are still rewritten and committed.
func TestGitOpsRefusesHardLinkedFiles(t *testing.T) {
	t.Setenv("GIT_CONFIG_GLOBAL", "/dev/null")
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	const manifest = "containers:\n- image: reg.example/team/app:1.0\n"
	outside := t.TempDir()
	writeFiles(t, outside, map[string]string{"secret.yaml": manifest})
	repo := t.TempDir()
	writeFiles(t, repo, map[string]string{"apps/plain.yaml": manifest})
	if err := os.Link(filepath.Join(outside, "secret.yaml"), filepath.Join(repo, "apps", "linked.yaml")); err != nil {
		t.Fatal(err)
	}
	git(t, repo, "init", "-q", "-b", "main")
	git(t, repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "add", ".")
	git(t, repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "initial")
	sel, err := deploy.ParseSelector("reg.example/team/app:1.0")
	if err != nil {
		t.Fatal(err)
	}
	res, err := deploy.GitOps(context.Background(), repo, image(t, "reg.example/team/app@"+newDigest), deploy.GitOpsOptions{Replaces: sel})
	if err != nil {
		t.Fatal(err)
	}
	var changed []string
	for _, f := range res.Files {
		changed = append(changed, f.Path)
	}
	if diff := cmp.Diff([]string{"apps/plain.yaml"}, changed); diff != "" {
		t.Errorf("rewritten files (-want +got):\n%s", diff)
	}
	if len(res.Problems) != 1 || res.Problems[0].Path != "apps/linked.yaml" || !strings.Contains(res.Problems[0].Err, "2 hard links") {
		t.Errorf("problems = %+v, want apps/linked.yaml with 2 hard links", res.Problems)
	}
	if b, _ := os.ReadFile(filepath.Join(outside, "secret.yaml")); string(b) != manifest {
		t.Errorf("the file outside the work tree changed: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(repo, "apps", "plain.yaml")); !strings.Contains(string(b), newDigest) {
		t.Errorf("apps/plain.yaml not rewritten: %q", b)
	}
	if st := git(t, repo, "status", "--porcelain"); st != "" {
		t.Errorf("uncommitted changes left: %q", st)
	}
}
