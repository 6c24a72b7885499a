#!/usr/bin/env bash
# Build the vecward image archives without a container engine (`make image`).
#
#   tools/image/build.sh OUTDIR NAME TAG BINARY...
#
# Lays out the root filesystem in a scratch directory with
# tools/image/rootfs.sh (the binaries, their shared libraries, CA bundle,
# passwd), then tools/image/assemble.py writes
# OUTDIR/vecward-oci.tar (OCI layout) and OUTDIR/vecward-docker.tar
# (`docker save` format, for `kind load image-archive`), image NAME:TAG.
# Reproducible: the created time is the last commit's ($SOURCE_DATE_EPOCH
# overrides it), and every time in the layer is 0. VW_KEEP_ROOTFS=DIR keeps
# the root filesystem in DIR to look at.
set -euo pipefail

[ $# -ge 4 ] || { echo "usage: $0 OUTDIR NAME TAG BINARY..." >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
out=$1 name=$2 tag=$3
shift 3

case $(uname -m) in
x86_64) arch=amd64 ;;
aarch64) arch=arm64 ;;
*) echo "image: unsupported machine $(uname -m)" >&2; exit 1 ;;
esac
revision=$(git -C "$here" rev-parse HEAD 2>/dev/null || true)
created=${SOURCE_DATE_EPOCH:-$(git -C "$here" log -1 --format=%ct 2>/dev/null || echo 0)}

# not under build/: the Makefile includes every build/**/*.d, and the rootfs
# has var/lib/dpkg/status.d
scratch=$(mktemp -d "${TMPDIR:-/tmp}/vecward-image.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$out"
"$here/rootfs.sh" "$scratch/rootfs" "$@"
python3 "$here/assemble.py" --rootfs "$scratch/rootfs" --out "$out" --name "$name" --tag "$tag" \
	--arch "$arch" --revision "$revision" --created "$created"
if [ -n "${VW_KEEP_ROOTFS:-}" ]; then
	rm -rf "$VW_KEEP_ROOTFS"
	mv "$scratch/rootfs" "$VW_KEEP_ROOTFS"
fi
