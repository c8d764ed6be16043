#!/usr/bin/env bash
# The README's first command: build drydock, build the demo image from files in
# this repository (no network), and run the main job on it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

demo=${DRYDOCK_DEMO_DIR:-.demo}
mkdir -p "$demo" bin
export DRYDOCK_CACHE_DIR="$demo/cache" DRYDOCK_DATA_DIR="$demo/data"

go build -o bin/drydock ./cmd/drydock
go run ./scripts/demoimage scripts/demoimage/rootfs "$demo/layout"

echo "== drydock sbom oci:$demo/layout:app"
bin/drydock sbom --format table "oci:$demo/layout:app"

# Matching needs vulnerability data. Offline, import the OSV exports shipped
# beside the checkout (or a mirror's zips named by DRYDOCK_VULNDATA).
vulndata=${DRYDOCK_VULNDATA:-../shared/vulndata}
if [[ -d $vulndata/osv-bucket-layout ]]; then
	echo "== drydock db import (OSV exports and Debian security tracker data from $vulndata)"
	bin/drydock db import --fresh "$vulndata"/osv-bucket-layout/*/all.zip "$vulndata"/debian/security-tracker-annotations
	echo "== drydock scan oci:$demo/layout:app"
	bin/drydock scan --format table "oci:$demo/layout:app"
else
	echo "(no OSV data at $vulndata: run 'bin/drydock db update' where the network allows, then 'bin/drydock scan oci:$demo/layout:app')"
fi
