#!/usr/bin/env bash
# Build the pinned control-plane tools (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, kwok, helm) from the Go module proxy into
# ~/.cache/vecward/bin, once. A tool is rebuilt only when its go.mod/go.sum or ldflags change.
# Go is used for these tools only; the project itself is C.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${VECWARD_CACHE:-$HOME/.cache/vecward}
bin=$cache/bin
mkdir -p "$bin" "$cache/stamps"
export GOFLAGS=-buildvcs=false
# keep Go's module and build caches (the defaults live under $HOME and survive)

modver() { # module version pinned in a tools go.mod
	awk -v m="$2" '$1=="require" && $2==m {print $3; exit} $1==m && $2 ~ /^v/ {print $2; exit}' "$here/$1/go.mod"
}

toolname() { # binary name of a main package
	case $1 in go.etcd.io/etcd/server/v3) echo etcd ;; *) basename "$1" ;; esac
}

build() { # build DIR LDFLAGS PKG...
	local dir=$1 ldflags=$2; shift 2
	local stamp="$cache/stamps/$dir" sum
	sum=$( (cat "$here/$dir/go.mod" "$here/$dir/go.sum"; echo "$ldflags") | sha256sum | cut -c1-16)
	local missing=0 p
	for p in "$@"; do [ -x "$bin/$(toolname "$p")" ] || missing=1; done
	if [ "$missing" = 0 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then
		return 0
	fi
	echo "tools: building $dir ($*) into $bin" >&2
	local t0=$SECONDS
	if [ $# = 1 ]; then
		(cd "$here/$dir" && go build -trimpath -ldflags "$ldflags" -o "$bin/$(toolname "$1")" "$1")
	else
		(cd "$here/$dir" && go build -trimpath -ldflags "$ldflags" -o "$bin/" "$@")
	fi
	echo "$sum" > "$stamp"
	echo "tools: $dir built in $((SECONDS - t0))s" >&2
}

want=${1:-all}

kv=$(modver kubernetes k8s.io/kubernetes)
[ -n "$kv" ] || { echo "tools: no k8s.io/kubernetes version in tools/kubernetes/go.mod" >&2; exit 1; }
kminor=$(echo "$kv" | cut -d. -f2)
kx=""
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	kx="$kx -X $p.gitVersion=$kv -X $p.gitMajor=1 -X $p.gitMinor=$kminor -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done
ev=$(modver etcd go.etcd.io/etcd/server/v3)
wv=$(modver kwok sigs.k8s.io/kwok)
hv=$(modver helm helm.sh/helm/v3)

case $want in all|etcd) build etcd "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=$ev" go.etcd.io/etcd/server/v3 ;; esac
case $want in all|kubernetes) build kubernetes "-s -w $kx" \
	k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
	k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl ;; esac
case $want in all|kwok) build kwok "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$wv -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=$kv" sigs.k8s.io/kwok/cmd/kwok ;; esac
case $want in all|helm) build helm "-s -w -X helm.sh/helm/v3/internal/version.version=$hv" helm.sh/helm/v3/cmd/helm ;; esac
