# Helpers for the operator benchmarks (bench/operator.sh): processes started here are
# tracked by pid and stopped by pid (bench_cleanup), never by name.
#   . "$(dirname "$0")/lib.sh"
# Sets VW_ROOT, BENCH_WORK (.work/bench-op), BENCH_CP (its control plane), BENCH_RAW
# (raw measurements), BENCH_OUT (bench/out) and PATH (copies of the programs, tools).
# BENCH_MILVUSD: another milvusd binary to run (default bin/milvusd).
set -euo pipefail

VW_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_WORK=${BENCH_WORK:-$VW_ROOT/.work/bench-op}
BENCH_CP=$BENCH_WORK/cp
BENCH_RAW=$BENCH_WORK/raw
BENCH_OUT=${BENCH_OUT:-$VW_ROOT/bench/out}
export PATH="${VECWARD_CACHE:-$HOME/.cache/vecward}/bin:$VW_ROOT/bin:$PATH"
export TMPDIR=$BENCH_WORK/tmp KUBECACHEDIR=$BENCH_WORK/tmp/kube-cache
BL=("python3" "$VW_ROOT/bench/benchlib.py")
BENCH_PIDS=()

say() { echo "bench: $*" >&2; }
die() { echo "bench: FAIL: $*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 2))" "$1" "$2"; }

# bench_track PID: stopped by bench_cleanup
bench_track() { BENCH_PIDS+=("$1"); }

# stop_pid PID: TERM, wait up to 10 s, then KILL; only a pid we started
stop_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

bench_cleanup() {
	local pid
	for pid in ${BENCH_PIDS[@]+"${BENCH_PIDS[@]}"}; do stop_pid "$pid"; done
	BENCH_PIDS=()
	"$VW_ROOT/tests/e2e/controlplane.sh" down "$BENCH_CP" || true
}

# bench_up: a fresh control plane that audits every verb, with the CRDs installed
bench_up() {
	mkdir -p "$BENCH_WORK" "$TMPDIR"
	exec 9>"$BENCH_WORK/lock"
	flock -n 9 || die "another bench/operator.sh is using $BENCH_WORK"
	"$VW_ROOT/tests/e2e/controlplane.sh" down "$BENCH_CP"
	rm -rf "$BENCH_RAW" "$BENCH_WORK/bin"
	mkdir -p "$BENCH_RAW" "$BENCH_OUT" "$BENCH_WORK/bin"
	# a copy of the programs: the tree may be rebuilt while the benchmark runs
	cp "$VW_ROOT/bin/vecward-operator" "$VW_ROOT/bin/vecward-webhook" "${BENCH_MILVUSD:-$VW_ROOT/bin/milvusd}" \
		"$BENCH_WORK/bin/"
	cp "$VW_ROOT/bin/bench/floor" "$BENCH_WORK/bin/bench-floor"
	export PATH="$BENCH_WORK/bin:$PATH"
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
	VW_CP_AUDIT=all "$VW_ROOT/tests/e2e/controlplane.sh" up "$BENCH_CP" 9>&- ||
		die "the control plane did not come up (logs: $BENCH_CP/logs)"
	eval "$("$VW_ROOT/tests/e2e/controlplane.sh" env "$BENCH_CP")"
	export KUBECONFIG
	kubectl apply -f "$VW_ROOT/crds/" >/dev/null
	kubectl wait --for condition=established --timeout=60s \
		crd/clusters.vecward.io crd/users.vecward.io crd/encryptionkeys.vecward.io >/dev/null
}

# new_ns NAME: a namespace with its default ServiceAccount
new_ns() {
	local i
	kubectl create namespace "$1" >/dev/null
	for ((i = 0; i < 60; i++)); do
		kubectl get serviceaccount default -n "$1" >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	die "no ServiceAccount $1/default after 30 s"
}

# data_pv NS: a PersistentVolume pre-bound to NS/prod-data (there is no provisioner)
data_pv() {
	cat <<YAML | kubectl apply -f - >/dev/null
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv-$1}
spec:
  capacity: {storage: 100Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  claimRef: {namespace: $1, name: prod-data}
  hostPath: {path: /nonexistent/$1}
YAML
}

# cluster_pki DIR NS: the CA, root password and certificates of Cluster NS/prod, made
# before the Cluster so the Milvus double can run from the start: DIR/{ca,server,client}.
# {crt,key}, DIR/root.pw; the CA and root password go into Secrets prod-ca and prod-root,
# which the operator finds and uses (it creates them only when they do not exist).
cluster_pki() {
	local d=$1 ns=$2
	mkdir -p "$d"
	chmod 700 "$d"
	(
		cd "$d"
		umask 077
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
			-subj "/CN=vecward bench $ns prod CA" -addext "basicConstraints=critical,CA:TRUE" \
			-addext "keyUsage=critical,keyCertSign,cRLSign" -keyout ca.key -out ca.crt 2>/dev/null
		leaf() { # NAME CN EXT
			openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$2" \
				-keyout "$1.key" -out "$1.csr" 2>/dev/null
			printf '%s\n' "$3" >"$1.ext"
			openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -set_serial "0x$(openssl rand -hex 16)" \
				-days 365 -sha256 -extfile "$1.ext" -out "$1.crt" 2>/dev/null
			rm -f "$1.csr" "$1.ext"
		}
		leaf server "prod.$ns.svc" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:prod.$ns.svc,DNS:localhost,IP:127.0.0.1"
		leaf client bench "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
		# 32 characters from 4 classes
		printf '%sAa1-' "$(openssl rand -hex 14)" >root.pw
	)
	kubectl create secret generic prod-ca -n "$ns" --from-file=ca.crt="$d/ca.crt" \
		--from-file=ca.key="$d/ca.key" >/dev/null
	kubectl create secret generic prod-root -n "$ns" --type=kubernetes.io/basic-auth \
		--from-literal=username=root --from-file=password="$d/root.pw" >/dev/null
}

# start_milvusd DIR: the Milvus REST double with DIR's certificates; sets MPID, MPORT
start_milvusd() {
	local d=$1 i
	rm -f "$d/milvus.port"
	milvusd --listen 127.0.0.1:0 --port-file "$d/milvus.port" --cert "$d/server.crt" \
		--key "$d/server.key" --client-ca "$d/ca.crt" --root-password-file "$d/root.pw" \
		--max-users 100000 --max-roles 64 --log-file "$d/milvus.log" >>"$d/milvusd.out" 2>&1 &
	MPID=$!
	bench_track "$MPID"
	for ((i = 0; i < 100; i++)); do
		[ -s "$d/milvus.port" ] && break
		kill -0 "$MPID" 2>/dev/null || die "milvusd exited: $(tail -5 "$d/milvusd.out")"
		sleep 0.1
	done
	MPORT=$(cat "$d/milvus.port") || die "milvusd wrote no port"
}

# milvus DIR NS stats|reset
milvus() {
	"${BL[@]}" milvus --port "$MPORT" --host "prod.$2.svc" --ca "$1/ca.crt" --cert "$1/client.crt" \
		--key "$1/client.key" "$3"
}

# start_operator NS LOG ARGS...: the operator on the admin kubeconfig, watching NS only;
# sets OPID once its controllers have started (informers synced)
start_operator() {
	local ns=$1 log=$2 i
	shift 2
	vecward-operator --kubeconfig "$KUBECONFIG" --namespace "$ns" --lease-name "bench-$ns-$RANDOM" \
		--allow-milvus-connect-to "$@" >>"$log" 2>&1 &
	OPID=$!
	bench_track "$OPID"
	for ((i = 0; i < 600; i++)); do
		grep -q '"controller started' "$log" 2>/dev/null && return 0
		kill -0 "$OPID" 2>/dev/null || die "the operator exited: $(tail -5 "$log")"
		sleep 0.1
	done
	die "the operator did not start its controllers in 60 s (log: $log)"
}

# audit_window SINCE UNTIL OFFSET [NS]: requests of user agent vecward/ as JSON
audit_window() {
	"${BL[@]}" audit --logs "$BENCH_CP/logs" --since "$1" --until "$2" --offset "$3" ${4:+--ns "$4"}
}
audit_offset() { "${BL[@]}" offset --logs "$BENCH_CP/logs"; }

# bcrypt_ms: one bcrypt (cost 10, as milvusd hashes) on this CPU, in ms
bcrypt_ms() {
	python3 -W ignore -c '
import crypt, time
s = crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1024)
t = time.perf_counter()
for _ in range(10): crypt.crypt("b" * 32, s)
print(round((time.perf_counter() - t) * 100, 1))'
}
