#!/usr/bin/env bash
# A real, local Kubernetes control plane for the end-to-end tests and `make run`:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok (which plays
# the kubelet for one fake node, kwok-node-0, and makes pods on it Running/Ready).
# Binaries come from tools/build.sh (~/.cache/vecward/bin). Everything listens on
# 127.0.0.1 on ports picked at start, so several control planes can coexist.
#
#   controlplane.sh up DIR      start afresh (etcd data, logs, ports reset; an existing
#                               DIR/pki is reused, so its CA stays valid across restarts)
#   controlplane.sh down DIR    stop every process `up` started (by pid); idempotent
#   controlplane.sh env DIR     print `export KUBECONFIG=...`
#   controlplane.sh restart DIR COMPONENT [kill]
#                               stop one component (by pid; TERM as `down` does, or with
#                               `kill` a crash: SIGKILL) and start it again with the very
#                               same command line and environment (flags, ports,
#                               certificates; etcd keeps its data in DIR/etcd), then wait
#                               until it serves again (DIR/logs/COMPONENT.log goes on)
#   controlplane.sh cert DIR NAME [SAN...]
#                               serving cert DIR/pki/NAME.{crt,key} signed by the
#                               cluster CA (default SANs 127.0.0.1, localhost), e.g.
#                               for a webhook reached through clientConfig.url
#
# Layout of DIR: pki/ (CA, certs, 0600 keys), kubeconfig (admin), ports (sourceable
# shell: ETCD_PORT= ... APISERVER_URL=), logs/NAME.log, pids/NAME.pid, etcd/ (data),
# tmp/ (TMPDIR of every component, so nothing lands in /tmp).
set -euo pipefail

BIN=${VECWARD_CACHE:-$HOME/.cache/vecward}/bin
export PATH="$BIN:$PATH"
SERVICE_CIDR=10.96.0.0/16
SERVICE_IP=10.96.0.1 # first address of SERVICE_CIDR: the `kubernetes` Service
NODE=kwok-node-0
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok) # start order
UP_TIMEOUT=${VW_CP_TIMEOUT:-90} # seconds, per wait

usage() { echo "usage: $0 up|down|env DIR | restart DIR COMPONENT [kill] | cert DIR NAME [SAN...]" >&2; exit 2; }
log() { echo "controlplane: $*" >&2; }

absdir() { # absolute path of DIR (created if missing)
	mkdir -p "$1" && (cd "$1" && pwd -P)
}

# ---- processes --------------------------------------------------------------
ours() { # PID: PID is alive, not a zombie, and is our component (cmdline has DIR)
	local pid=$1 state
	[ -r "/proc/$pid/stat" ] || return 1
	state=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) || return 1
	[ "$state" != Z ] || return 1
	tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$DIR/" || return 1
}

pid_of() { [ -f "$DIR/pids/$1.pid" ] && cat "$DIR/pids/$1.pid"; }

start() { # NAME ARGS...: run in its own session (no terminal signals), log, pid file
	local name=$1; shift
	setsid "$@" </dev/null >"$DIR/logs/$name.log" 2>&1 &
	echo $! >"$DIR/pids/$name.pid"
}

stop_names() { # NAME...: TERM them together, wait (bounded), then KILL the rest
	local name pid pids=() i
	for name in "$@"; do
		pid=$(pid_of "$name") || continue
		if ours "$pid"; then kill -TERM "$pid" 2>/dev/null || true; pids+=("$pid"); fi
	done
	for ((i = 0; i < 100 && ${#pids[@]} > 0; i++)); do # up to 10s
		local left=()
		for pid in "${pids[@]}"; do ours "$pid" && left+=("$pid"); done
		pids=(${left[@]+"${left[@]}"})
		[ ${#pids[@]} -eq 0 ] || sleep 0.1
	done
	for pid in ${pids[@]+"${pids[@]}"}; do
		log "pid $pid did not stop on TERM; killing"
		kill -KILL "$pid" 2>/dev/null || true
		for ((i = 0; i < 20; i++)); do ours "$pid" || break; sleep 0.1; done
	done
	for name in "$@"; do rm -f "$DIR/pids/$name.pid"; done
}

stop_all() { # clients first, then the apiserver, then etcd
	[ -d "$DIR/pids" ] || return 0
	stop_names kwok kube-scheduler kube-controller-manager
	stop_names kube-apiserver
	stop_names etcd
	# reap our own children (when `up` fails) so no zombie outlives us
	wait 2>/dev/null || true
}

running() { # any component of DIR still alive?
	local name pid
	for name in "${COMPONENTS[@]}"; do
		pid=$(pid_of "$name") || continue
		ours "$pid" && return 0
	done
	return 1
}

die_with_log() { # NAME MSG
	log "$2"
	if [ -f "$DIR/logs/$1.log" ]; then
		log "---- last lines of $DIR/logs/$1.log ----"
		tail -n 40 "$DIR/logs/$1.log" >&2
		log "----"
	fi
	exit 1
}

wait_until() { # NAME WHAT CMD...: poll every 0.5s up to UP_TIMEOUT; NAME must stay alive
	local name=$1 what=$2; shift 2
	local deadline=$((SECONDS + UP_TIMEOUT)) pid
	while ! "$@" >/dev/null 2>&1; do
		pid=$(pid_of "$name") || die_with_log "$name" "$name has no pid file"
		ours "$pid" || die_with_log "$name" "$name (pid $pid) exited while waiting for $what"
		[ $SECONDS -lt $deadline ] || die_with_log "$name" "timed out after ${UP_TIMEOUT}s waiting for $what"
		sleep 0.5
	done
}

# ---- PKI (openssl CLI) -------------------------------------------------------
newkey() { # FILE: RSA 2048, mode 0600
	(umask 077 && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null)
	chmod 600 "$1"
}

sign() { # NAME SUBJECT EXTENSIONS: NAME.key/.crt in pki, signed by the CA
	local p=$DIR/pki n=$1
	newkey "$p/$n.key"
	openssl req -new -key "$p/$n.key" -subj "$2" -out "$p/$n.csr" 2>/dev/null
	printf '%s\n' "$3" >"$p/$n.ext"
	openssl x509 -req -in "$p/$n.csr" -CA "$p/ca.crt" -CAkey "$p/ca.key" \
		-set_serial "0x$(openssl rand -hex 16)" -days 3650 -sha256 \
		-extfile "$p/$n.ext" -out "$p/$n.crt" 2>/dev/null
	rm -f "$p/$n.csr" "$p/$n.ext"
}

client_ext='basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth'

serving_ext() { # SAN,SAN,...
	printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' "$1"
}

make_pki() {
	local p=$DIR/pki
	mkdir -p "$p" && chmod 700 "$p"
	newkey "$p/ca.key"
	openssl req -x509 -new -key "$p/ca.key" -subj "/CN=vecward-local-ca" -days 3650 -sha256 \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
		-out "$p/ca.crt" 2>/dev/null
	sign apiserver "/CN=kube-apiserver" "$(serving_ext "IP:127.0.0.1,IP:$SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local")"
	sign admin "/O=system:masters/CN=kubernetes-admin" "$client_ext"
	sign controller-manager "/CN=system:kube-controller-manager" "$client_ext"
	sign scheduler "/CN=system:kube-scheduler" "$client_ext"
	newkey "$p/sa.key" # ServiceAccount token signing key
	openssl pkey -in "$p/sa.key" -pubout -out "$p/sa.pub" 2>/dev/null
}

b64() { base64 -w0 <"$1"; }

kubeconfig() { # FILE USER: admin-style kubeconfig with embedded data
	local f=$1 u=$2
	(umask 077 && cat >"$f" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: vecward
  cluster:
    server: $APISERVER_URL
    certificate-authority-data: $(b64 "$DIR/pki/ca.crt")
users:
- name: $u
  user:
    client-certificate-data: $(b64 "$DIR/pki/$u.crt")
    client-key-data: $(b64 "$DIR/pki/$u.key")
contexts:
- name: vecward
  context:
    cluster: vecward
    user: $u
    namespace: default
current-context: vecward
EOF
	)
}

# ---- ports ------------------------------------------------------------------
pick_ports() { # N distinct free 127.0.0.1 TCP ports, below the ephemeral range
	# (a port taken between this check and the bind is caught by up's retry)
	if ! command -v python3 >/dev/null; then # fallback: nothing accepts a connection
		local ports=() p
		while [ ${#ports[@]} -lt "$1" ]; do
			p=$((20000 + RANDOM % 12000))
			[[ " ${ports[*]} " == *" $p "* ]] && continue
			(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || ports+=("$p")
		done
		echo "${ports[*]}"
		return
	fi
	python3 - "$1" <<'EOF'
import random, socket, sys
n, ports = int(sys.argv[1]), []
while len(ports) < n:
    p = random.randint(20000, 32000)
    if p in ports:
        continue
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", p))
        ports.append(p)
    except OSError:
        pass
    finally:
        s.close()
print(" ".join(map(str, ports)))
EOF
}

# ---- up ---------------------------------------------------------------------
up_once() { # one attempt; exits non-zero (having printed the failing log) on failure
	local t0=$SECONDS
	for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok; do
		[ -x "$BIN/$b" ] || { log "missing $BIN/$b (run tools/build.sh)"; exit 1; }
	done
	rm -rf "$DIR/etcd" "$DIR/logs" "$DIR/pids" "$DIR/tmp" "$DIR/kwok" "$DIR/ports" \
		"$DIR/kubeconfig" "$DIR"/*.kubeconfig
	mkdir -p "$DIR/logs" "$DIR/pids" "$DIR/tmp" "$DIR/kwok"
	(umask 077 && mkdir -p "$DIR/etcd")
	[ -f "$DIR/pki/ca.key" ] && [ -f "$DIR/pki/sa.key" ] && [ -f "$DIR/pki/admin.crt" ] || make_pki

	read -r ETCD_PORT ETCD_PEER_PORT APISERVER_PORT KCM_PORT SCHED_PORT <<<"$(pick_ports 5)"
	APISERVER_URL=https://127.0.0.1:$APISERVER_PORT
	cat >"$DIR/ports" <<EOF
ETCD_PORT=$ETCD_PORT
ETCD_PEER_PORT=$ETCD_PEER_PORT
APISERVER_PORT=$APISERVER_PORT
KCM_PORT=$KCM_PORT
SCHED_PORT=$SCHED_PORT
APISERVER_URL=$APISERVER_URL
EOF
	kubeconfig "$DIR/kubeconfig" admin
	kubeconfig "$DIR/controller-manager.kubeconfig" controller-manager
	kubeconfig "$DIR/scheduler.kubeconfig" scheduler
	export KUBECONFIG=$DIR/kubeconfig
	local p=$DIR/pki

	start etcd etcd --name=vecward --data-dir="$DIR/etcd" \
		--listen-client-urls="http://127.0.0.1:$ETCD_PORT" \
		--advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
		--listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
		--initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
		--initial-cluster="vecward=http://127.0.0.1:$ETCD_PEER_PORT" \
		--initial-cluster-state=new --unsafe-no-fsync --quota-backend-bytes=1073741824
	wait_until etcd "etcd health" bash -c "curl -fsS http://127.0.0.1:$ETCD_PORT/health | grep -q '\"health\":\"true\"'"

	# --endpoint-reconciler-type=none: the `kubernetes` Endpoints may not hold a loopback
	# address (127.0.0.1), so the reconciler would only log errors; nothing in-cluster needs it.
	# audit: one line per write (tests count the operator's writes by user agent);
	# VW_CP_AUDIT=all logs every request of every verb (get, list, watch too) at level
	# Metadata, for the benchmarks (bench/), which count requests by verb
	if [ "${VW_CP_AUDIT:-}" = all ]; then
		cat >"$DIR/audit-policy.yaml" <<'POLICY'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
POLICY
	else
		cat >"$DIR/audit-policy.yaml" <<'POLICY'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    verbs: [create, update, patch, delete, deletecollection]
  - level: None
POLICY
	fi
	start kube-apiserver kube-apiserver \
		--etcd-servers="http://127.0.0.1:$ETCD_PORT" \
		--bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$APISERVER_PORT" \
		--cert-dir="$DIR/pki/generated" \
		--tls-cert-file="$p/apiserver.crt" --tls-private-key-file="$p/apiserver.key" \
		--client-ca-file="$p/ca.crt" \
		--authorization-mode=Node,RBAC \
		--service-account-issuer=https://kubernetes.default.svc.cluster.local \
		--service-account-key-file="$p/sa.pub" \
		--service-account-signing-key-file="$p/sa.key" \
		--service-cluster-ip-range="$SERVICE_CIDR" \
		--endpoint-reconciler-type=none \
		--allow-privileged=true --profiling=false \
		--audit-policy-file="$DIR/audit-policy.yaml" --audit-log-path="$DIR/logs/audit.log" \
		--audit-log-format=json --audit-log-maxsize=200
	wait_until kube-apiserver "apiserver /readyz" bash -c 'test "$(kubectl get --raw /readyz)" = ok'

	# Controller-manager and scheduler serve /healthz only (always allowed), so they get no
	# --authentication/authorization-kubeconfig (that would want a front-proxy CA).
	start kube-controller-manager kube-controller-manager \
		--kubeconfig="$DIR/controller-manager.kubeconfig" \
		--bind-address=127.0.0.1 --secure-port="$KCM_PORT" \
		--cert-dir="$DIR/pki/generated" \
		--use-service-account-credentials=true \
		--service-account-private-key-file="$p/sa.key" \
		--root-ca-file="$p/ca.crt" \
		--cluster-signing-cert-file="$p/ca.crt" --cluster-signing-key-file="$p/ca.key" \
		--service-cluster-ip-range="$SERVICE_CIDR" \
		--leader-elect=false --profiling=false
	start kube-scheduler kube-scheduler \
		--kubeconfig="$DIR/scheduler.kubeconfig" \
		--bind-address=127.0.0.1 --secure-port="$SCHED_PORT" \
		--cert-dir="$DIR/pki/generated" \
		--leader-elect=false --profiling=false
	# kwok: no --node-port/--server-address, so it opens no port at all; KWOK_WORKDIR keeps
	# it from reading ~/.kwok/kwok.yaml. It manages nodes annotated kwok.x-k8s.io/node=fake
	# with its built-in stages (node-initialize + heartbeat-with-lease, pod-ready/complete/delete).
	KWOK_WORKDIR="$DIR/kwok" start kwok kwok \
		--kubeconfig="$DIR/kubeconfig" \
		--manage-all-nodes=false \
		--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
		--node-lease-duration-seconds=40 \
		--node-ip=127.0.0.1 \
		--cidr=10.244.0.1/24

	kubectl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Node
metadata:
  name: $NODE
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    type: kwok
    kubernetes.io/hostname: $NODE
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    kubernetes.io/role: agent
    node-role.kubernetes.io/agent: ""
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "110"}
  capacity: {cpu: "32", memory: 256Gi, pods: "110"}
EOF
	wait_until kube-controller-manager "controller-manager /healthz" curl -fsk "https://127.0.0.1:$KCM_PORT/healthz"
	wait_until kube-scheduler "scheduler /healthz" curl -fsk "https://127.0.0.1:$SCHED_PORT/healthz"
	wait_until kwok "node $NODE Ready" bash -c \
		"test \"\$(kubectl get node $NODE -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}')\" = True"
	wait_until kube-controller-manager "ServiceAccount default/default" kubectl get serviceaccount default -n default
	wait_until kube-controller-manager "ConfigMap default/kube-root-ca.crt" kubectl get configmap kube-root-ca.crt -n default
	local name
	for name in "${COMPONENTS[@]}"; do
		ours "$(pid_of "$name")" || die_with_log "$name" "$name exited"
	done
	log "up in $((SECONDS - t0))s: $APISERVER_URL (KUBECONFIG=$DIR/kubeconfig)"
}

up() {
	if running; then log "a control plane is already running in $DIR (run: $0 down $DIR)"; exit 1; fi
	local attempt
	for attempt in 1 2 3; do
		# a separate bash, so `set -e` stays in force inside up_once
		if DIR=$DIR bash "${BASH_SOURCE[0]}" _up_once "$DIR"; then return 0; fi
		stop_all
		# a port taken between picking and binding: pick again; anything else is fatal
		grep -qs 'address already in use' "$DIR"/logs/*.log || exit 1
		log "port collision, retrying (attempt $((attempt + 1)))"
	done
	exit 1
}

restart() { # NAME [kill]: same argv and environment as the running process, from /proc
	local name=$1 how=${2:-term} pid exe argv=() envv=() t0=$SECONDS i
	case " ${COMPONENTS[*]} " in *" $name "*) ;; *) log "restart: unknown component $name (one of ${COMPONENTS[*]})"; exit 2 ;; esac
	pid=$(pid_of "$name") && ours "$pid" || { log "restart: $name is not running in $DIR"; exit 1; }
	exe=$(readlink "/proc/$pid/exe") && [ -x "$exe" ] || { log "restart: cannot find the binary of $name (pid $pid)"; exit 1; }
	mapfile -d '' -t argv <"/proc/$pid/cmdline"
	mapfile -d '' -t envv <"/proc/$pid/environ"
	[ ${#argv[@]} -gt 0 ] || { log "restart: cannot read the command line of $name (pid $pid)"; exit 1; }
	if [ "$how" = kill ]; then
		kill -KILL "$pid" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do ours "$pid" || break; sleep 0.1; done
		rm -f "$DIR/pids/$name.pid"
	else
		stop_names "$name"
	fi
	# an exiting process gives up its memory (cmdline) before its files: wait until its
	# sockets are closed too, or the new one cannot bind the same ports
	for ((i = 0; i < 100; i++)); do
		[ -n "$(ls -A "/proc/$pid/fd" 2>/dev/null)" ] || break
		sleep 0.1
	done
	for ((i = 1; ; i++)); do
		echo "---- controlplane.sh restart $(date -u +%FT%TZ) ----" >>"$DIR/logs/$name.log"
		setsid env -i ${envv[@]+"${envv[@]}"} "$exe" "${argv[@]:1}" </dev/null >>"$DIR/logs/$name.log" 2>&1 &
		echo $! >"$DIR/pids/$name.pid"
		sleep 0.5
		# a port still held by a socket of the old process: try again (bounded)
		ours "$(pid_of "$name")" || [ $i -ge 5 ] ||
			! tail -n 5 "$DIR/logs/$name.log" | grep -q 'address already in use' || continue
		break
	done
	. "$DIR/ports"
	export KUBECONFIG=$DIR/kubeconfig
	case $name in
		etcd) wait_until etcd "etcd health" bash -c "curl -fsS http://127.0.0.1:$ETCD_PORT/health | grep -q '\"health\":\"true\"'" ;;
		kube-apiserver) wait_until kube-apiserver "apiserver /readyz" bash -c 'test "$(kubectl get --raw /readyz)" = ok' ;;
		kube-controller-manager) wait_until "$name" "controller-manager /healthz" curl -fsk "https://127.0.0.1:$KCM_PORT/healthz" ;;
		kube-scheduler) wait_until "$name" "scheduler /healthz" curl -fsk "https://127.0.0.1:$SCHED_PORT/healthz" ;;
		kwok) sleep 1; ours "$(pid_of kwok)" || die_with_log kwok "kwok exited after the restart" ;;
	esac
	log "restarted $name in $((SECONDS - t0))s (pid $(pid_of "$name"))"
}

cert() { # NAME [SAN...]
	local name=$1; shift
	[ -f "$DIR/pki/ca.key" ] || { log "no CA in $DIR/pki (run up first)"; exit 1; }
	local sans=("$@") s list=""
	[ ${#sans[@]} -gt 0 ] || sans=(127.0.0.1 localhost)
	for s in "${sans[@]}"; do
		if [[ $s =~ ^[0-9.]+$|: ]]; then list+="${list:+,}IP:$s"; else list+="${list:+,}DNS:$s"; fi
	done
	sign "$name" "/CN=${sans[0]}" "$(serving_ext "$list")"
	echo "$DIR/pki/$name.crt $DIR/pki/$name.key"
}

[ $# -ge 2 ] || usage
cmd=$1
case $2 in "" | / ) usage ;; esac
if [ "$cmd" = down ] && [ ! -d "$2" ]; then exit 0; fi
DIR=$(absdir "$2")
export TMPDIR=$DIR/tmp KUBECACHEDIR=$DIR/tmp/kube-cache # nothing in /tmp or ~/.kube/cache
mkdir -p "$TMPDIR"
case $cmd in
	up) up ;;
	_up_once) set -E; trap 'log "command failed (line $LINENO): $BASH_COMMAND"' ERR; up_once ;;
	down) stop_all ;;
	env) echo "export KUBECONFIG=$DIR/kubeconfig" ;;
	restart) [ $# -eq 3 ] || { [ $# -eq 4 ] && [ "$4" = kill ]; } || usage; shift 2; restart "$@" ;;
	cert) [ $# -ge 3 ] || usage; shift 2; cert "$@" ;;
	*) usage ;;
esac
