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

# ---- webhook: TODO start bin/vecward-webhook here (in the background, like the -------
# ---- operator below, and stop it in stop_operator/cleanup), serving a cert from ------
# ---- `controlplane.sh cert "$cp_dir" webhook` and registered via clientConfig.url. ---

"$operator" --kubeconfig "$KUBECONFIG" &
op_pid=$!
say "operator running (pid $op_pid); Ctrl-C to stop"
# `wait` returns early when a trapped signal arrives; the trap then stops everything
rc=0
wait "$op_pid" || rc=$?
op_pid=
say "operator exited with status $rc"
exit "$rc"
