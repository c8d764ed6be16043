package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"

	"github.com/drydock/drydock/internal/deploy"
)

func newDeployCommand(g *globals) *cobra.Command {
	var (
		kf         kubeFlags
		replaces   string
		namespaces []string
		exclude    []string
		dryRun     bool
		noWait     bool
		timeout    time.Duration
		format     string
		gitDir     string
		branch     string
		oldReport  string
		newReport  string
	)
	cmd := &cobra.Command{
		Use:   "deploy <new-image@digest>",
		Short: "Roll a new image digest out to the workloads that run the old one (or rewrite a git tree)",
		Long: `Find every Deployment, StatefulSet, DaemonSet and CronJob whose containers run the old
image (--replaces: a digest, repo@digest, repo:tag or repo; default any image of the new
image's repository), patch those containers to the new digest (a strategic merge patch by
container name, field manager "drydock"), wait for each rollout (observed generation,
updated and available replicas, progress deadline) and, when one fails or times out,
restore its previous images.

Only workloads that opted in are patched: label or annotation drydock.dev/auto-deploy=true.
Others are listed as skipped. --dry-run shows the diff and patches nothing.

GitOps: with --git PATH the image references in that git work tree are rewritten instead
(container images in manifests, kustomization images: entries, Helm values lines marked
"# drydock:image"), pinned by digest, and committed on a new branch drydock/<digest>
whose message lists the CVEs fixed (findings of --old-report not in --new-report).

Exit codes: 0 every rollout succeeded (or nothing to do); 1 a rollout failed or was
rolled back; 2 an error.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			newImage, err := name.NewDigest(args[0])
			if err != nil {
				return fmt.Errorf("new image %q: want repo@sha256:…: %w", args[0], err)
			}
			var sel deploy.Selector
			if replaces != "" {
				if sel, err = deploy.ParseSelector(replaces); err != nil {
					return fmt.Errorf("--replaces: %w", err)
				}
			}
			if format == "" {
				format = "table"
			}
			if format != "table" && format != "json" {
				return fmt.Errorf("--format %q: want table or json", format)
			}
			out := cmd.OutOrStdout()
			if gitDir != "" {
				opts := deploy.GitOpsOptions{Replaces: sel, Branch: branch, DryRun: dryRun}
				if oldReport != "" {
					if opts.OldReport, err = deploy.ReadScanReport(oldReport); err != nil {
						return err
					}
				}
				if newReport != "" {
					if opts.NewReport, err = deploy.ReadScanReport(newReport); err != nil {
						return err
					}
				}
				res, err := deploy.GitOps(cmd.Context(), gitDir, newImage, opts)
				if errors.Is(err, deploy.ErrNothingToChange) {
					fmt.Fprintf(g.notices(cmd), "nothing to change: no reference to %s in %s\n", deploy.NewRewrite(newImage, sel).Sel, gitDir)
					printGitProblems(g.notices(cmd), res)
					return nil
				}
				if err != nil {
					return err
				}
				return printGitOps(out, g.notices(cmd), res, format, dryRun)
			}
			if oldReport != "" || newReport != "" || branch != "" {
				return errors.New("--old-report, --new-report and --branch need --git")
			}
			client, err := kf.client()
			if err != nil {
				return err
			}
			rep, err := deploy.Rollout(cmd.Context(), client, newImage, deploy.RolloutOptions{
				Replaces: sel, Namespaces: namespaces, ExcludeNamespaces: exclude,
				DryRun: dryRun, Wait: !noWait, Timeout: timeout,
			})
			if err != nil {
				return err
			}
			if err := printRollout(out, rep, format); err != nil {
				return err
			}
			if len(rep.Results) == 0 {
				fmt.Fprintf(g.notices(cmd), "no workload runs %s\n", rep.Replaces)
			}
			if n := rep.Failed(); n > 0 {
				return &errGate{msg: fmt.Sprintf("%d rollout(s) failed", n)}
			}
			return nil
		},
	}
	kf.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&replaces, "replaces", "", "old image: sha256:…, repo@sha256:…, repo:tag or repo (default the new image's repository)")
	fl.StringSliceVarP(&namespaces, "namespace", "n", nil, "only these namespaces (default all)")
	fl.StringSliceVar(&exclude, "exclude-namespace", nil, "never touch these namespaces")
	fl.BoolVar(&dryRun, "dry-run", false, "show the diff; patch (or commit) nothing")
	fl.BoolVar(&noWait, "no-wait", false, "patch and return without waiting for the rollouts (no rollback)")
	fl.DurationVar(&timeout, "timeout", 5*time.Minute, "how long to wait for each rollout before restoring the previous images")
	fl.StringVarP(&format, "format", "f", "table", "output format: table, json")
	fl.StringVar(&gitDir, "git", "", "rewrite the image references in this git work tree and commit on a new branch")
	fl.StringVar(&branch, "branch", "", "with --git: branch name (default drydock/<first 12 hex of the digest>)")
	fl.StringVar(&oldReport, "old-report", "", "with --git: drydock scan --format json report of the old image")
	fl.StringVar(&newReport, "new-report", "", "with --git: drydock scan --format json report of the new image")
	return cmd
}

func printRollout(out io.Writer, rep *deploy.Report, format string) error {
	if format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	if rep.DryRun {
		for _, r := range rep.Results {
			if r.Status == deploy.StatusDryRun {
				fmt.Fprint(out, r.Diff())
			}
		}
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAMESPACE\tWORKLOAD\tCONTAINERS\tSTATUS\tREASON")
	for _, r := range rep.Results {
		var cs []string
		for _, c := range r.Containers {
			cs = append(cs, c.Container)
		}
		reason := r.Reason
		if reason == "" {
			reason = "-"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", r.Workload.Namespace, strings.ToLower(r.Workload.Kind)+"/"+r.Workload.Name,
			strings.Join(cs, ","), r.Status, reason)
	}
	return w.Flush()
}

func printGitOps(out, errOut io.Writer, res *deploy.GitOpsResult, format string, dryRun bool) error {
	printGitProblems(errOut, res)
	if format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	for _, f := range res.Files {
		fmt.Fprint(out, f.Diff())
	}
	if dryRun {
		fmt.Fprintf(out, "\n(dry run: nothing written) commit message would be:\n\n%s", res.Message)
		return nil
	}
	fmt.Fprintf(out, "\ncommitted %s on branch %s (checked out)\n", deploy.ShortDigest(res.Commit), res.Branch)
	return nil
}

func printGitProblems(errOut io.Writer, res *deploy.GitOpsResult) {
	if res == nil {
		return
	}
	for _, p := range res.Problems {
		fmt.Fprintf(errOut, "warning: %s: %s\n", p.Path, p.Err)
	}
}
