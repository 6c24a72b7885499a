#!/usr/bin/env bash
# The container image, without a container engine (`make image-test`, part of
# `make test`):
#
#   1. `make image` builds build/image/vecward-oci.tar and vecward-docker.tar;
#   2. imagecheck.py reads the OCI archive as a registry client would (index
#      -> manifest -> config and layer, every sha256 and size), checks the
#      config and the layer's entries, and that the docker archive holds the
#      same config and layer;
#   3. the layer is unpacked into a root of its own and the programs run from
#      it with chroot, as user 65532 and with that root mounted read-only, the
#      way a pod with readOnlyRootFilesystem runs them: only the image's own
#      loader, libraries and files are there, so a missing one shows.
#      `--version` of the three programs; the webhook serving TLS (a real
#      handshake from outside, with its certificate mounted in); the operator
#      reading a mounted service-account token and CA and calling a stand-in
#      API server over verified TLS with that token;
#   4. a second build gives byte-identical archives.
#
# Needs root (chroot, mount namespaces); otherwise step 3 runs through the
# image's loader with --library-path, which proves less (said in the output).
# Scratch space: .work/image-test (kept when a check fails). Ends with
# "N passed, N failed".
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 2
here=$root/tests/image
work=$root/.work/image-test
name=vecward/vecward

passed=0 failed=0
pass() { echo "PASS $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ] && rm -rf "$work"
	[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
	exit
}
pids=()
# shellcheck disable=SC2317 # called by the trap
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; }
trap cleanup EXIT

rm -rf "$work"
mkdir -p "$work"

# ---- 1. build ------------------------------------------------------------------
tag=$(make --no-print-directory -s version)
if make --no-print-directory image >"$work/make-image.log" 2>&1; then
	pass "make image (tag $tag)"
	sed 's/^/    /' "$work/make-image.log" | grep -E 'image |layer |\.tar ' || true
else
	tail -n 30 "$work/make-image.log"
	fail "make image"
	finish
fi
oci=build/image/vecward-oci.tar
docker=build/image/vecward-docker.tar

# ---- 2. the archives -----------------------------------------------------------
python3 "$here/imagecheck.py" verify "$oci" "$docker" "$name" "$tag" "$work/layer.tar.gz" \
	>"$work/verify.log" 2>&1
cat "$work/verify.log"
p=$(grep -c '^PASS ' "$work/verify.log")
f=$(grep -c '^FAIL ' "$work/verify.log")
passed=$((passed + p))
failed=$((failed + f))
if ! [ -s "$work/layer.tar.gz" ] || [ "$f" -ne 0 ]; then
	[ "$f" -ne 0 ] || fail "imagecheck.py verify: $(tail -n 3 "$work/verify.log")"
	finish
fi

# ---- 3. run from the unpacked root filesystem ---------------------------------------
rootfs=$work/rootfs
mkdir -p "$rootfs"
if tar -xzf "$work/layer.tar.gz" -C "$rootfs" --numeric-owner; then
	pass "layer unpacks into $rootfs"
else
	fail "layer does not unpack"
	finish
fi
chmod 0755 "$rootfs" # what a runtime gives /

uid=$(id -u)
mode=${VW_IMAGE_TEST_MODE:-} # chroot or loader; empty: chroot when root
if [ -z "$mode" ]; then
	mode=loader
	if [ "$uid" = 0 ] && command -v chroot >/dev/null && unshare --mount true 2>/dev/null; then
		mode=chroot
	fi
fi
case $mode in
chroot | loader) ;;
*) fail "VW_IMAGE_TEST_MODE=$mode: use chroot or loader"; finish ;;
esac
if [ "$mode" = chroot ]; then
	echo "--- running from the unpacked root: chroot, user 65532, root read-only"
else
	echo "--- running from the unpacked root: through the image's loader with --library-path"
	echo "    (not root: no chroot, so the host's files stay visible; the webhook and"
	echo "    operator runs below are skipped)"
fi

# create the mount points a runtime would (the kubelet's volumes), before / turns read-only
mounts=(/var/run/secrets/kubernetes.io/serviceaccount /etc/vecward/tls)
for m in "${mounts[@]}"; do mkdir -p "$rootfs$m"; done

# image_cmd ENV... -- PROGRAM ARG...: sets CMD to the command that runs PROGRAM
# (a path in the image) from the unpacked root, with only the environment ENV
# (NAME=VALUE...); the command execs all the way, so "${CMD[@]} &" gives $! =
# the program's pid. VW_BIND="SRC:DST ..." binds host directories read-only at
# DST in the image (chroot mode only).
image_cmd() {
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	if [ "$mode" = chroot ]; then
		# shellcheck disable=SC2016
		CMD=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin VW_BIND="${VW_BIND:-}" "${envs[@]}"
			unshare --mount --propagation private -- bash -c '
			set -e
			r=$1; shift
			mount --bind "$r" "$r"
			for b in $VW_BIND; do
				mount --bind "${b%%:*}" "$r${b#*:}"
				mount -o remount,bind,ro "$r${b#*:}"
			done
			mount -o remount,bind,ro "$r"
			unset VW_BIND
			exec chroot --userspec=65532:65532 --groups=65532 "$r" "$@"' _ "$rootfs" "$@")
	else
		local prog=$1
		shift
		CMD=(env -i "${envs[@]}" "$rootfs/usr/lib64/ld-linux-x86-64.so.2"
			--library-path "$rootfs/usr/lib/x86_64-linux-gnu" "$rootfs$prog" "$@")
	fi
}

for p in vecward-operator vecward-webhook vecward-crypt; do
	want=$(bin/$p --version 2>&1)
	image_cmd -- /usr/local/bin/$p --version
	got=$("${CMD[@]}" 2>&1)
	if [ "$got" = "$want" ] && [[ $got == "$p "* ]]; then
		pass "$p --version from the image: $got"
	else
		fail "$p --version from the image: got '$got', want '$want'"
	fi
done

# ---- 3b. the webhook and the operator running (chroot mode) -------------------------
runtime_checks() {
	# a certificate for 127.0.0.1 (the webhook's serving certificate, the stand-in
	# API server's), a service-account directory as the kubelet mounts it
	sa=$work/sa tls=$work/tls
	mkdir -p "$sa" "$tls"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
		-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
		-keyout "$tls/tls.key" -out "$tls/tls.crt" 2>/dev/null
	cp "$tls/tls.crt" "$sa/ca.crt"
	token=vw-image-test-$RANDOM$RANDOM
	printf '%s' "$token" >"$sa/token"
	printf 'vecward-system' >"$sa/namespace"
	chmod 0700 "$sa" "$tls"
	chmod 0600 "$sa"/* "$tls"/*
	chown -R 65532:65532 "$sa" "$tls" # as fsGroup does
	free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

	# wait_for SECONDS CMD...: until CMD succeeds
	wait_for() {
		local n=$(($1 * 10))
		shift
		while [ $n -gt 0 ]; do
			"$@" && return 0
			sleep 0.1
			n=$((n - 1))
		done
		return 1
	}

	# the webhook: serves TLS from a read-only root, as 65532, credentials mounted
	api_port=$(free_port)
	python3 "$here/imagecheck.py" fake-api "$api_port" "$tls/tls.crt" "$tls/tls.key" "$token" \
		"$work/api.log" 2>"$work/fake-api.err" &
	api_pid=$!
	pids+=("$api_pid")
	wh_port=$(free_port)
	incluster=(KUBERNETES_SERVICE_HOST=127.0.0.1 "KUBERNETES_SERVICE_PORT=$api_port")
	VW_BIND="$sa:/var/run/secrets/kubernetes.io/serviceaccount $tls:/etc/vecward/tls" \
		image_cmd "${incluster[@]}" -- /usr/local/bin/vecward-webhook --listen "127.0.0.1:$wh_port" \
		--tls-cert /etc/vecward/tls/tls.crt --tls-key /etc/vecward/tls/tls.key
	"${CMD[@]}" >"$work/webhook.log" 2>&1 &
	wh_pid=$!
	pids+=("$wh_pid")
	healthz() { curl -fsS --max-time 2 --cacert "$sa/ca.crt" "https://127.0.0.1:$wh_port/healthz" 2>/dev/null; }
	if wait_for 15 healthz >/dev/null && [ "$(healthz)" = ok ]; then
		pass "webhook from the image serves /healthz over TLS (certificate verified by curl)"
	else
		fail "webhook from the image does not serve /healthz; its log:"
		sed 's/^/    /' "$work/webhook.log" | tail -n 20
	fi
	st=$(cat "/proc/$wh_pid/status" 2>/dev/null)
	if grep -qE '^Uid:\s+65532\s+65532\s+65532\s+65532$' <<<"$st" &&
		grep -qE '^Gid:\s+65532\s+65532\s+65532\s+65532$' <<<"$st" &&
		grep -qE '^CapEff:\s+0+$' <<<"$st"; then
		pass "webhook runs as 65532:65532 with no capabilities"
	else
		fail "webhook identity: $(grep -E '^(Uid|Gid|CapEff):' <<<"$st" | tr '\n' ' ')"
	fi
	# mountinfo paths are relative to the process's root: its root is "/"
	root_ro=$(awk '$5 == "/" { print $6 }' "/proc/$wh_pid/mountinfo")
	if [[ $root_ro == ro,* || $root_ro == ro ]]; then
		pass "webhook's root filesystem is mounted read-only"
	else
		fail "webhook's root filesystem mount options: '$root_ro'"
	fi
	kill -TERM "$wh_pid" 2>/dev/null
	if wait_for 10 bash -c "! kill -0 $wh_pid 2>/dev/null"; then
		wait "$wh_pid"
		rc=$?
		if [ $rc = 0 ]; then pass "webhook stops on SIGTERM (exit 0)"; else fail "webhook exit status $rc on SIGTERM"; fi
	else
		fail "webhook still running 10 s after SIGTERM"
		kill -KILL "$wh_pid" 2>/dev/null
	fi

	# the operator: in-cluster configuration from the mounted service account, a
	# verified TLS connection to the (stand-in) API server, the token it sent
	: >"$work/api.log"
	if ! wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$api_port" 2>/dev/null; then
		fail "stand-in API server did not start: $(cat "$work/fake-api.err")"
	fi
	VW_BIND="$sa:/var/run/secrets/kubernetes.io/serviceaccount" \
		image_cmd "${incluster[@]}" -- /usr/local/bin/vecward-operator
	"${CMD[@]}" >"$work/operator.log" 2>&1 &
	op_pid=$!
	pids+=("$op_pid")
	lease="/apis/coordination.k8s.io/v1/namespaces/vecward-system/leases/vecward-operator"
	if wait_for 20 grep -q " $lease token=" "$work/api.log"; then
		if grep -q " $lease token=ok" "$work/api.log" && ! grep -qv 'token=ok$' "$work/api.log"; then
			pass "operator from the image called the API over verified TLS with the mounted token ($(head -n 1 "$work/api.log" | cut -d' ' -f1-2))"
		else
			fail "operator sent wrong credentials: $(sort -u "$work/api.log" | head -n 3)"
		fi
	else
		fail "operator from the image never reached the API; its log:"
		sed 's/^/    /' "$work/operator.log" | tail -n 20
	fi
	if grep -q "starting: api https://127.0.0.1:$api_port" "$work/operator.log"; then
		pass "operator logs its in-cluster API server"
	else
		fail "operator log has no 'starting: api https://127.0.0.1:$api_port'"
	fi
	kill -TERM "$op_pid" 2>/dev/null
	if wait_for 15 bash -c "! kill -0 $op_pid 2>/dev/null"; then
		wait "$op_pid"
		rc=$?
		if [ $rc = 0 ] && grep -q '"stopped"' "$work/operator.log"; then
			pass "operator stops on SIGTERM (exit 0, logs stopped)"
		else
			fail "operator exit status $rc on SIGTERM; its log: $(tail -n 2 "$work/operator.log")"
		fi
	else
		fail "operator did not stop cleanly on SIGTERM"
		kill -KILL "$op_pid" 2>/dev/null
	fi
}
if [ "$mode" = chroot ]; then
	runtime_checks
else
	echo "SKIP webhook TLS and operator in-cluster runs from the image (need root)"
fi

# ---- 4. reproducible ---------------------------------------------------------------
if make --no-print-directory image IMAGE_DIR="$work/again" >"$work/make-again.log" 2>&1 &&
	cmp -s "$oci" "$work/again/vecward-oci.tar" && cmp -s "$docker" "$work/again/vecward-docker.tar"; then
	pass "a second build gives byte-identical archives"
else
	fail "a second build differs (or failed): $(tail -n 3 "$work/make-again.log")"
fi

size=$(du -b "$oci" | cut -f1)
echo "--- image $name:$tag: $oci $((size / 1024)) KiB (compressed), rootfs $(du -sk "$rootfs" | cut -f1) KiB"
finish
