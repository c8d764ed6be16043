package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/drydock/drydock/internal/attest"
	"github.com/drydock/drydock/internal/loop"
	"github.com/drydock/drydock/internal/policy"
)

func newAttestCommand(g *globals) *cobra.Command {
	var (
		sf           scanFlags
		keyPath      string
		failOn       string
		policyResult string
		policyPath   string
		noPolicy     bool
		pushTo       string
	)
	cmd := &cobra.Command{
		Use:   "attest <source>",
		Short: "Scan an image and push a signed verdict next to it",
		Long: `Scan an image (or, with --inventory, a saved inventory), decide the policy outcome,
and push a signed verdict as an OCI referrer of the image: an in-toto statement
(predicate type ` + attest.PredicateType + `) in a DSSE envelope signed with --key.
On registries without the OCI 1.1 referrers API the referrers tag ("sha256-<hex>")
is kept up to date instead.

The key is a cosign-compatible private key ("drydock key generate"); an encrypted
one is opened with DRYDOCK_KEY_PASSWORD (or COSIGN_PASSWORD).

The verdict is pushed to the scanned image's repository, or to --push-to REPO
(required when <source> is not a registry image). When the source named a
multi-arch index, the verdict is attached to both the platform image and the
index.

A decision is required, one of:
  --policy FILE          evaluate a drydock policy (as "drydock policy check") and
                         record its name, result and violations;
  --fail-on SEVERITY     fail when a finding at or above it remains (as "drydock scan
                         --fail-on");
  --policy-result R      record pass or fail, decided elsewhere;
  --no-policy            record the scan with no decision: the verdict's policy is
                         "no policy", its result "none", and "drydock verify" and the
                         admission webhook never treat it as passing.
Without one, attest refuses to sign (exit 2): an unconfigured pipeline must not
produce verdicts that admit anything.

Exit codes: 0 verdict pushed and passing (or recorded with --no-policy); 1 verdict
pushed and failing; 2 an error, or no decision given.`,
		Example: `  # In CI after the push: fail (exit 1, verdict still pushed) on a HIGH or CRITICAL finding
  DRYDOCK_KEY_PASSWORD=... drydock attest --key ci.key --fail-on high registry.example.com/team/app:1.2

  # Decide with a policy file
  drydock attest --key ci.key --policy policy.yaml registry.example.com/team/app:1.2

  # Record an inventory for information only; such a verdict never admits
  drydock attest --key ci.key --no-policy registry.example.com/team/app:1.2`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if policyPath == "" && failOn == "" && policyResult == "" && !noPolicy {
				return errNoDecision("attest")
			}
			ev, err := policyEvaluator(policyPath, failOn, policyResult, noPolicy)
			if err != nil {
				return err
			}
			signer, err := loadSigner(keyPath)
			if err != nil {
				return err
			}
			rep, err := runScan(ctx, g, &sf, args[0], cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			ref := args[0]
			if sf.fromInventory && rep.Inventory.Source.Ref != "" {
				ref = rep.Inventory.Source.Ref
			}
			pred, subjects, pushed, err := loop.SignAndPush(ctx, rep, ev, ref, loop.SignOptions{
				Signer: signer, PushTo: pushTo, Insecure: sf.source.insecure,
				Tool: attest.Scanner{Name: "drydock", Version: version},
			})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for i, p := range pushed {
				fmt.Fprintf(out, "verdict %s for %s: pushed %s\n", pred.Policy.Result, subjects[i], p)
			}
			if pred.Outcome() == attest.ResultNone {
				fmt.Fprintln(g.notices(cmd), "drydock: the verdict records no policy decision (--no-policy): verify and admission will not accept it as passing")
				return nil
			}
			if !pred.Passed() {
				msg := fmt.Sprintf("policy %q failed", pred.Policy.Name)
				if n := len(pred.Policy.Violations); n > 0 {
					msg += fmt.Sprintf(": %d violation(s), first %s", n, pred.Policy.Violations[0])
				}
				return &errGate{msg: msg + " (the failing verdict was pushed)"}
			}
			return nil
		},
	}
	sf.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&keyPath, "key", "", "private key file (required)")
	fl.StringVar(&policyPath, "policy", "", "drydock policy file whose decision the verdict records")
	fl.StringVar(&failOn, "fail-on", "", "the verdict fails when a finding at or above this severity remains: critical, high, medium, low, unknown")
	fl.StringVar(&policyResult, "policy-result", "", "record this outcome, decided elsewhere: pass or fail")
	fl.BoolVar(&noPolicy, "no-policy", false, "sign without a decision: the verdict records \"no policy\" and never passes")
	fl.StringVar(&pushTo, "push-to", "", "repository to push the verdict to (default: the scanned image's)")
	cmd.MarkFlagRequired("key")
	cmd.MarkFlagsMutuallyExclusive("policy", "fail-on", "policy-result", "no-policy")
	return cmd
}

// errNoDecision is the refusal to sign a verdict nobody decided.
func errNoDecision(command string) error {
	return fmt.Errorf("%s: no decision to sign: give --policy FILE, --fail-on SEVERITY or --policy-result pass|fail, "+
		"or --no-policy to record a verdict that never passes", command)
}

// policyEvaluator picks how the verdict's policy outcome is decided.
func policyEvaluator(policyPath, failOn, result string, noPolicy bool) (attest.Evaluator, error) {
	switch {
	case noPolicy:
		return attest.NoPolicy{}, nil
	case policyPath != "":
		p, err := policy.Load(policyPath)
		if err != nil {
			return nil, err
		}
		return loop.PolicyFile{Policy: p}, nil
	case result != "":
		switch result {
		case attest.ResultPass, attest.ResultFail:
			return loop.Fixed{Passed: result == attest.ResultPass}, nil
		}
		return nil, fmt.Errorf("--policy-result %q: want pass or fail", result)
	case failOn != "":
		t := strings.ToUpper(failOn)
		if severityRank(t) < 0 {
			return nil, fmt.Errorf("--fail-on %q: want one of critical, high, medium, low, unknown", failOn)
		}
		return loop.FailOn{Threshold: t}, nil
	}
	return nil, errNoDecision("drydock")
}

// loadSigner reads a private key file, decrypting it with the passphrase
// from the environment when it is encrypted.
func loadSigner(path string) (*attest.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--key: %w", err)
	}
	if err := notPublicKey(path, b); err != nil {
		return nil, err
	}
	pass, _ := keyPassphrase()
	k, err := attest.ParsePrivateKey(b, pass)
	if errors.Is(err, attest.ErrBadPassphrase) {
		return nil, fmt.Errorf("--key %s: %w (passphrase from DRYDOCK_KEY_PASSWORD or COSIGN_PASSWORD)", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("--key %s: %w", path, err)
	}
	return attest.NewSigner(k)
}
