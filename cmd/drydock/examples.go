package main

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// examples are the "Examples:" section of every command's --help, kept in
// one place so that a new command without them fails TestEveryCommandHasExamples.
var examples = map[string]string{
	"drydock": `  drydock db update
  drydock scan --fail-on high registry.example.com/team/app:1.2`,
	"drydock sbom": `  drydock sbom registry.example.com/team/app:1.2
  drydock sbom -f cyclonedx -o app.cdx.json ./app.tar
  drydock sbom --platform linux/arm64 registry.example.com/team/app:1.2
  drydock sbom containers-storage:localhost/app:dev`,
	"drydock scan": `  drydock scan --fail-on high registry.example.com/team/app:1.2
  drydock scan -f sarif -o drydock.sarif --ignore-file .trivyignore ./app.tar
  drydock scan --scan-config .drydock/scan.yaml registry.example.com/team/app:1.2
  drydock scan app.cdx.json                      # an SBOM from another tool
  DRYDOCK_FAIL_ON=critical drydock scan --severity critical,high oci:./layout:app`,
	"drydock db": `  drydock db update
  drydock db status`,
	"drydock db update": `  drydock db update
  drydock db update --ecosystem Debian,PyPI
  drydock db update --base-url https://mirror.example.com/osv`,
	"drydock db import": `  drydock db import ./osv/PyPI/all.zip ./osv/Go/all.zip
  drydock db import ./advisory-database/advisories/github-reviewed   # GHSA records rate aliases
  drydock db import --fresh ./debian-security-tracker.json`,
	"drydock db status": `  drydock db status`,
	"drydock key":       `  drydock key generate --output-key-prefix ci`,
	"drydock key generate": `  DRYDOCK_KEY_PASSWORD=... drydock key generate --output-key-prefix ci   # writes ci.key and ci.pub
  drydock key generate --unencrypted --output-key-prefix test`,
	"drydock attest": `  DRYDOCK_KEY_PASSWORD=... drydock attest --key ci.key --fail-on high registry.example.com/team/app:1.2
  drydock attest --key ci.key --policy policy.yaml registry.example.com/team/app@sha256:...`,
	"drydock verify": `  drydock verify --key ci.pub --require-pass registry.example.com/team/app:1.2
  drydock verify --key ci.pub --max-age 7d -f json registry.example.com/team/app@sha256:...`,
	"drydock rebuild": `  drydock rebuild --config drydock.yaml --dry-run
  drydock rebuild --config drydock.yaml --key ci.key --policy policy.yaml`,
	"drydock watch": `  drydock watch --config drydock.yaml
  drydock watch --config drydock.yaml --poll-interval 10m --store watch.db`,
	"drydock lineage": `  drydock lineage registry.example.com/team/app:1.2
  drydock lineage --dockerfile Dockerfile registry.example.com/team/app:1.2`,
	"drydock policy": `  drydock policy validate policy.yaml
  drydock policy check --policy policy.yaml registry.example.com/team/app:1.2`,
	"drydock policy check": `  drydock policy check --policy policy.yaml registry.example.com/team/app:1.2
  drydock policy check --policy policy.yaml --namespace payments ./app.tar`,
	"drydock policy validate": `  drydock policy validate policy.yaml other-policy.yaml`,
	"drydock admission": `  drydock admission manifests --image registry.example.com/drydock:1.0 --policy-file policy.yaml > admission.yaml
  drydock admission serve --key ci.pub --tls-cert tls.crt --tls-key tls.key`,
	"drydock admission serve": `  drydock admission serve --key ci.pub --tls-cert tls.crt --tls-key tls.key
  drydock admission serve --key ci.pub --mode warn --tls-cert tls.crt --tls-key tls.key`,
	"drydock admission manifests": `  drydock admission manifests --image registry.example.com/drydock:1.0 --policy-file policy.yaml > admission.yaml`,
	"drydock runtime": `  drydock runtime
  drydock runtime -n payments -f json --reports ./scan-reports`,
	"drydock deploy": `  drydock deploy --dry-run registry.example.com/team/app@sha256:...
  drydock deploy --git ./gitops registry.example.com/team/app@sha256:...`,
}

// applyExamples sets each command's examples from the map, unless the
// command has its own.
func applyExamples(cmd *cobra.Command) {
	if cmd.Example == "" {
		cmd.Example = examples[cmd.CommandPath()]
	}
	for _, c := range cmd.Commands() {
		applyExamples(c)
	}
}

// flagAliases are old or other spellings of a flag, accepted everywhere and
// shown under one name: "--insecure" is the one name for allowing plain
// HTTP to registries.
var flagAliases = map[string]string{
	"insecure-registry": "insecure",
}

func normalizeFlag(_ *pflag.FlagSet, name string) pflag.NormalizedName {
	if to, ok := flagAliases[name]; ok {
		name = to
	}
	return pflag.NormalizedName(strings.ToLower(name))
}
