#!/usr/bin/env bash
# helm.sh: print the path of a helm binary built from the Go module proxy
# (helm.sh/helm/v4/cmd/helm at $DRYDOCK_HELM_VERSION), cached under
# ${XDG_CACHE_HOME:-~/.cache}/drydock-helm keyed by the helm and Go versions.
# scripts/test.sh exports it as DRYDOCK_HELM; run it alone to get one:
#   export DRYDOCK_HELM=$(./scripts/lib/helm.sh)
set -euo pipefail
VERSION=${DRYDOCK_HELM_VERSION:-v4.3.2}
ROOT=${XDG_CACHE_HOME:-$HOME/.cache}/drydock-helm
OUT="$ROOT/$VERSION-$(go env GOVERSION GOOS GOARCH | tr '\n' '-' | sed 's/-$//')"
if [[ -x "$OUT/helm" ]]; then echo "$OUT/helm"; exit 0; fi
mkdir -p "$ROOT"
exec 9>"$ROOT/.lock"; flock 9 # one build at a time
if [[ -x "$OUT/helm" ]]; then echo "$OUT/helm"; exit 0; fi
TMP=$(mktemp -d "$ROOT/.build.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
t0=$SECONDS
# Outside any module, so the project's go.mod does not constrain helm's.
(cd "$TMP" && GOFLAGS=-mod=mod GOBIN="$TMP" CGO_ENABLED=0 go install -trimpath \
	-ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$VERSION" \
	"helm.sh/helm/v4/cmd/helm@$VERSION") >&2
"$TMP/helm" version >&2
rm -rf "$OUT"; mkdir -p "$OUT"; mv "$TMP/helm" "$OUT/helm"
echo "built helm $VERSION in $((SECONDS - t0))s -> $OUT/helm" >&2
echo "$OUT/helm"
