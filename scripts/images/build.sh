#!/usr/bin/env bash
# Builds kubevmm's images without Docker (docs/images.md, "Building without Docker").
#   bash scripts/images/build.sh [NAME...]         launcher operator guest-disk pause (default: all)
#   bash scripts/images/build.sh --spec FILE...    generic images from JSON specs
# stdout: `<reference> <oci-archive>` per image; progress on stderr. Cached under
# ${KUBEVMM_CACHE:-$HOME/.cache/kubevmm}/images by the images' inputs.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
for tool in mmdebstrap mmtarfilter flock apt-get gcc; do
	command -v "$tool" >/dev/null || {
		echo "images: $tool is missing; install the build tools with: bash scripts/install-deps.sh" >&2
		exit 1
	}
done
[ -e "$repo/node_modules/tsx" ] || {
	echo "images: node_modules is missing; run npm ci in $repo" >&2
	exit 1
}
exec node --import "$repo/node_modules/tsx/dist/loader.mjs" "$repo/scripts/images/build.ts" "$@"
