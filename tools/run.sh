#!/usr/bin/env bash
# `make run`: the operator in the foreground against a cluster.
# With KUBECONFIG set (non-empty) that cluster is used; otherwise a local control plane
# (tests/e2e/controlplane.sh) is started in .work/run/cp and stopped again on exit.
# Ctrl-C / SIGTERM stops the operator (TERM, KILL after 15s) and then the control plane.
set -euo pipefail

VW_ROOT=$(cd "$(dirname "$0")/.." && pwd)
export PATH="${VECWARD_CACHE:-$HOME/.cache/vecward}/bin:$VW_ROOT/bin:$PATH"
cp_sh=$VW_ROOT/tests/e2e/controlplane.sh
cp_dir=$VW_ROOT/.work/run/cp
operator=${VW_OPERATOR:-$VW_ROOT/bin/vecward-operator} # override e.g. to run under gdb
say() { echo "run: $*" >&2; }

op_pid=
own_cp=0
cleanup() {
	trap - EXIT INT TERM
	stop_operator
	if [ -n "${wh_pid:-}" ]; then
		kill -TERM "$wh_pid" 2>/dev/null || true
		wait "$wh_pid" 2>/dev/null || true
	fi
	if [ "$own_cp" = 1 ]; then
		say "stopping the local control plane"
		"$cp_sh" down "$cp_dir" || true
	fi
}
stop_operator() {
	[ -n "$op_pid" ] || return 0
	if kill -0 "$op_pid" 2>/dev/null; then
		kill -TERM "$op_pid" 2>/dev/null || true
		local i
		for ((i = 0; i < 150; i++)); do kill -0 "$op_pid" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$op_pid" 2>/dev/null; then
			say "operator ignored SIGTERM for 15s; killing it"
			kill -KILL "$op_pid" 2>/dev/null || true
		fi
	fi
	wait "$op_pid" 2>/dev/null || true
	op_pid=
}
trap cleanup EXIT
trap 'say "signal received, shutting down"; exit 130' INT TERM

if [ -n "${KUBECONFIG:-}" ]; then
	say "using KUBECONFIG=$KUBECONFIG"
else
	"$cp_sh" down "$cp_dir"
	rm -rf "$cp_dir"
	own_cp=1
	"$cp_sh" up "$cp_dir"
	eval "$("$cp_sh" env "$cp_dir")"
	export KUBECONFIG
	say "local control plane up; in another shell: $("$cp_sh" env "$cp_dir")"
	# no storage provisioner here: a few unclassed volumes for Clusters' data PVCs
	for i in 1 2 3 4 5; do
		printf 'apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: local-pv-%s}\nspec:\n  capacity: {storage: 1Ti}\n  accessModes: [ReadWriteOnce]\n  persistentVolumeReclaimPolicy: Delete\n  hostPath: {path: /nonexistent/local-pv-%s}\n' "$i" "$i"
		echo ---
	done | kubectl apply -f - >/dev/null
fi

shopt -s nullglob
crds=("$VW_ROOT"/crds/*.yaml "$VW_ROOT"/crds/*.yml)
shopt -u nullglob
if [ ${#crds[@]} -eq 0 ]; then
	say "note: crds/ has no YAML yet; skipping CRD install"
else
	kubectl apply -f "$VW_ROOT/crds/"
	kubectl wait --for=condition=Established --timeout=60s -f "$VW_ROOT/crds/"
fi

# ---- the admission webhook ---------------------------------------------------------
# On the local control plane the apiserver calls the webhook on 127.0.0.1
# (clientConfig.url, manifests/local/webhook-local.yaml), with a serving certificate from
# the control plane's CA. A remote cluster cannot reach this machine's loopback: there
# the webhook runs in the cluster (Helm chart, issue 7).
wh_pid=
if [ "$own_cp" = 1 ]; then
	read -r wh_crt wh_key < <("$cp_sh" cert "$cp_dir" webhook 127.0.0.1)
	wh_log=$cp_dir/logs/webhook.log
	"$VW_ROOT/bin/vecward-webhook" --listen 127.0.0.1:0 --tls-cert "$wh_crt" --tls-key "$wh_key" \
		--kubeconfig "$KUBECONFIG" >"$wh_log" 2>&1 &
	wh_pid=$!
	for ((i = 0; i < 100; i++)); do grep -q '"msg":"serving"' "$wh_log" && break; sleep 0.1; done
	wh_port=$(sed -n 's/.*"msg":"serving".*"port":"\([0-9]*\)".*/\1/p' "$wh_log" | tail -n1)
	[ -n "$wh_port" ] || { say "webhook did not start: $(tail -5 "$wh_log")"; exit 1; }
	sed -e "s|__WEBHOOK_URL__|https://127.0.0.1:$wh_port|" \
		-e "s|__CA_BUNDLE__|$(base64 -w0 "$cp_dir/pki/ca.crt")|" \
		"$VW_ROOT/manifests/local/webhook-local.yaml" | kubectl apply -f - >/dev/null
	say "webhook serving on 127.0.0.1:$wh_port (pid $wh_pid) and registered; log: $wh_log"
else
	say "note: not registering the local webhook with a remote cluster (use the Helm chart)"
fi

"$operator" --kubeconfig "$KUBECONFIG" &
op_pid=$!
say "operator running (pid $op_pid); Ctrl-C to stop"
# `wait` returns early when a trapped signal arrives; the trap then stops everything
rc=0
wait "$op_pid" || rc=$?
op_pid=
say "operator exited with status $rc"
exit "$rc"
