package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"

	"github.com/drydock/drydock/internal/deploy"
	"github.com/drydock/drydock/internal/registryauth"
)

// kubeFlags are the cluster connection flags of runtime and deploy.
type kubeFlags struct {
	kubeconfig string
	context    string
}

func (f *kubeFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default $KUBECONFIG, then ~/.kube/config, then the in-cluster service account)")
	cmd.Flags().StringVar(&f.context, "context", "", "kubeconfig context (default the current one)")
}

func (f *kubeFlags) client() (kubernetes.Interface, error) {
	cfg, err := deploy.RESTConfig(f.kubeconfig, f.context)
	if err != nil {
		return nil, err
	}
	return deploy.NewClient(cfg, "drydock/"+version)
}

func newRuntimeCommand(g *globals) *cobra.Command {
	var (
		kf         kubeFlags
		namespaces []string
		exclude    []string
		format     string
		reportsDir string
		resolve    bool
		insecure   bool
		pageSize   int64
		pullCreds  bool
	)
	cmd := &cobra.Command{
		Use:   "runtime",
		Short: "List the containers running in the cluster, their workloads, digests and drift",
		Long: `List every container of every Pod: the workload that owns it (Pod → ReplicaSet →
Deployment, StatefulSet, DaemonSet, Job → CronJob), the image in the spec, and the digest
actually running (from the container status). DRIFT marks containers whose running digest
is not the one the spec pins or (with --resolve) the one its tag resolves to now.

With --reports DIR (a directory of "drydock scan --format json" reports) each container
shows the findings of its running digest and, with --resolve, whether its base image tag
has moved on (BASE outdated).

The table groups Pods of the same workload, container and digest; JSON lists every
container and is written as it is read, so memory stays flat on large clusters.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format == "" {
				format = "json"
				if stdoutIsTerminal() {
					format = "table"
				}
			}
			if format != "table" && format != "json" {
				return fmt.Errorf("--format %q: want table or json", format)
			}
			opts := deploy.RuntimeOptions{Namespaces: namespaces, ExcludeNamespaces: exclude, PageSize: pageSize}
			if reportsDir != "" {
				rs, err := deploy.LoadReports(reportsDir)
				if err != nil {
					return err
				}
				opts.Reports = rs
			}
			if resolve {
				opts.Resolver = deploy.NewRegistryResolver(insecure, remote.WithAuthFromKeychain(registryauth.NodeKeychain()))
			}
			client, err := kf.client()
			if err != nil {
				return err
			}
			if resolve && pullCreds {
				kc, err := registryauth.NewKube(cmd.Context(), client, registryauth.NodeKeychain())
				if err != nil {
					return err
				}
				if err := waitSynced(cmd.Context(), kc.Synced, time.Minute); err != nil {
					return fmt.Errorf("--pull-credentials: reading secrets and service accounts: %w (needs get, list, watch on both)", err)
				}
				opts.Credentials = kc
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				return runtimeJSON(cmd, client, opts, out)
			}
			return runtimeTable(cmd, client, opts, out)
		},
	}
	kf.register(cmd)
	fl := cmd.Flags()
	fl.StringSliceVarP(&namespaces, "namespace", "n", nil, "only these namespaces (default all)")
	fl.StringSliceVar(&exclude, "exclude-namespace", nil, "skip these namespaces")
	fl.StringVarP(&format, "format", "f", "", "output format: table, json (default table on a terminal, else json)")
	fl.StringVar(&reportsDir, "reports", "", "directory of drydock scan --format json reports, matched by image digest")
	fl.BoolVar(&resolve, "resolve", false, "resolve spec tags and base image tags through the registry (drift, base outdated)")
	fl.BoolVar(&insecure, "insecure", false, "allow plain HTTP to registries (localhost is always allowed)")
	fl.Int64Var(&pageSize, "page-size", 500, "objects per list request")
	fl.BoolVar(&pullCreds, "pull-credentials", false, "with --resolve: read registries with each Pod's imagePullSecrets (or its service account's), then drydock's own credentials (needs get/list/watch on secrets and serviceaccounts)")
	return cmd
}

// runtimeJSON streams the containers as one JSON array. Nothing is written
// until the first container arrives, so a cluster that cannot be reached
// leaves stdout empty; a failure part-way closes the array, so stdout stays
// valid JSON while the error and exit code say it is incomplete.
func runtimeJSON(cmd *cobra.Command, client kubernetes.Interface, opts deploy.RuntimeOptions, out io.Writer) error {
	started := false
	enc := json.NewEncoder(out)
	err := deploy.Runtime(cmd.Context(), client, opts, func(c deploy.Container) error {
		sep := ",\n"
		if !started {
			sep, started = "[\n", true
		}
		if _, err := io.WriteString(out, sep); err != nil {
			return err
		}
		return enc.Encode(c)
	})
	switch {
	case !started && err == nil:
		_, err = io.WriteString(out, "[]\n")
		return err
	case !started:
		return err
	}
	if _, werr := io.WriteString(out, "]\n"); err == nil {
		err = werr
	}
	return err
}

type runtimeRow struct {
	c    deploy.Container
	pods int
}

func runtimeTable(cmd *cobra.Command, client kubernetes.Interface, opts deploy.RuntimeOptions, out io.Writer) error {
	rows := map[string]*runtimeRow{}
	var order []string
	err := deploy.Runtime(cmd.Context(), client, opts, func(c deploy.Container) error {
		key := strings.Join([]string{c.Workload.String(), c.Container, c.Image, c.RunningDigest, fmt.Sprint(c.Drift)}, "\x00")
		if r := rows[key]; r != nil {
			r.pods++
			return nil
		}
		rows[key] = &runtimeRow{c: c, pods: 1}
		order = append(order, key)
		return nil
	})
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAMESPACE\tWORKLOAD\tCONTAINER\tPODS\tIMAGE\tRUNNING\tDRIFT\tFINDINGS\tBASE")
	for _, k := range order {
		r := rows[k]
		c := r.c
		name := c.Container
		if c.Init {
			name += " (init)"
		}
		running := "-"
		if c.RunningDigest != "" {
			running = deploy.ShortDigest(c.RunningDigest)
		}
		drift := "-"
		if c.Drift {
			drift = "DRIFT: " + c.DriftReason
		} else if c.Problem != "" {
			drift = "? " + c.Problem
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", c.Workload.Namespace, strings.ToLower(c.Workload.Kind)+"/"+c.Workload.Name,
			name, r.pods, c.Image, running, drift, findingsCell(c.Findings), baseCell(c.Base))
	}
	return w.Flush()
}

func findingsCell(f *deploy.FindingsSummary) string {
	if f == nil {
		return "-"
	}
	if f.Total == 0 {
		return "0"
	}
	sevs := make([]string, 0, len(f.BySeverity))
	for s := range f.BySeverity {
		sevs = append(sevs, s)
	}
	sort.Slice(sevs, func(i, j int) bool { return severityRank(sevs[i]) > severityRank(sevs[j]) })
	parts := make([]string, len(sevs))
	for i, s := range sevs {
		parts[i] = fmt.Sprintf("%s:%d", s[:1], f.BySeverity[s])
	}
	return fmt.Sprintf("%d (%s)", f.Total, strings.Join(parts, " "))
}

func baseCell(b *deploy.BaseStatus) string {
	switch {
	case b == nil:
		return "-"
	case b.Outdated:
		return "outdated (" + b.Name + " now " + deploy.ShortDigest(b.Current) + ")"
	case b.Current != "":
		return "current"
	}
	return b.Name
}

// waitSynced polls synced until it is true, ctx ends or limit passes.
func waitSynced(ctx context.Context, synced func() bool, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for !synced() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not synced after %v", limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}
