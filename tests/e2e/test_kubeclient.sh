#!/usr/bin/env bash
# The C Kubernetes client (operator/kube) against the real API server, driven through
# bin/e2e/kube_e2e (tests/e2e/kube_e2e.c): paged LIST, WATCH (exact events, timeout,
# 410 Gone after an etcd compaction, relist and resume), server-side apply (manager,
# idempotence, conflicts, force, /status), DELETE preconditions and parsed Status errors.
#
# The forced 410 uses events.k8s.io Events: the API server keeps no watch cache for
# Events, so a watch from an old resourceVersion goes to etcd and fails once etcd is
# compacted past it. A ConfigMap watch is served from the watch cache, which keeps every
# event younger than 75s whatever etcd compacted; the ConfigMap variant therefore has to
# wait that window out and runs only with VW_E2E_SLOW=1 (about 90s more).
. "$(dirname "$0")/lib.sh"

E=${KUBE_E2E:-$VW_ROOT/bin/e2e/kube_e2e} # KUBE_E2E: e.g. a sanitizer build
[ -x "$E" ] || fail "missing $E (run: make bin/e2e/kube_e2e)"
work=$(mktemp -d "${TMPDIR:-$VW_ROOT/.work}/kubeclient.XXXXXX")
bg_pids=()
cleanup() {
	local p
	for p in ${bg_pids[@]+"${bg_pids[@]}"}; do # a subshell and its kube_e2e child
		pkill -TERM -P "$p" 2>/dev/null || true
		kill "$p" 2>/dev/null || true
	done
	[ -z "${ns:-}" ] || kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

# etcd's HTTP/JSON gateway (controlplane.sh serves etcd's client port on plain http,
# 127.0.0.1 only, with no client auth)
. "$VW_CP/ports"
: "${ETCD_PORT:?no ETCD_PORT in $VW_CP/ports}"
etcd_post() { # PATH JSON
	curl -fsS --max-time 10 -X POST "http://127.0.0.1:$ETCD_PORT$1" -d "$2"
}
etcd_revision() {
	etcd_post /v3/kv/range '{"key":"AA=="}' | sed -n 's/.*"revision":"\([0-9]*\)".*/\1/p'
}
etcd_compact() { # compact (physically) to the current revision; echo it
	local rev out
	rev=$(etcd_revision)
	[ -n "$rev" ] || fail "cannot read the etcd revision"
	out=$(etcd_post /v3/kv/compaction "{\"revision\": \"$rev\", \"physical\": true}") ||
		fail "etcd compaction to $rev failed: $out"
	echo "$rev"
}

# bg_watch OUT ARGS...: kube_e2e watch ARGS in the background, stdout+stderr to OUT and
# its exit status to OUT.rc; sets $bg
bg_watch() {
	local out=$1; shift
	("$E" watch "$@" >"$out" 2>&1; echo $? >"$out.rc") &
	bg=$!
	bg_pids+=("$bg")
}
# bg_wait PID OUT: wait for a bg_watch (each bounds itself with its TIMEOUT_S); sets $rc
# (not for $(...): a subshell cannot wait for our children)
bg_wait() {
	wait "$1" || true
	rc=$(cat "$2.rc")
}
event_lines() { grep -E '^(EVENT|GONE|RELIST|END) ' "$1" | awk '{print $1, $2, $3}' || true; }

mkevent() { # NAME: an events.k8s.io/v1 Event in $ns
	kubectl create -f - >/dev/null <<EOF
apiVersion: events.k8s.io/v1
kind: Event
metadata: {name: $1, namespace: $ns, labels: {vecward.io/e2e: kubeclient}}
eventTime: "2026-01-01T00:00:00.000000Z"
reportingController: vecward.io/e2e
reportingInstance: kube-e2e
action: Testing
reason: Testing
type: Normal
note: kube client e2e
regarding: {apiVersion: v1, kind: ConfigMap, namespace: $ns, name: cm-1}
EOF
}

ns=$(new_ns kc)
# the root-CA publisher adds kube-root-ca.crt to every namespace: wait, so it is no surprise
wait_for 30 "ConfigMap $ns/kube-root-ca.crt" kubectl get configmap kube-root-ca.crt -n "$ns"

# -- paged LIST: 5 ConfigMaps + kube-root-ca.crt with limit 2 is 3 pages
for i in 1 2 3 4 5; do kubectl create configmap "cm-$i" -n "$ns" --from-literal=i="$i" >/dev/null; done
out=$("$E" list "$ns" 2) || fail "list: $out"
for n in cm-1 cm-2 cm-3 cm-4 cm-5 kube-root-ca.crt; do
	expect_contains "$out"$'\n' "ITEM $n"$'\n' "list item $n"
done
summary=$(grep '^items=' <<<"$out")
[[ $summary =~ ^items=6\ pages=([0-9]+)\ rv=([0-9]+)$ ]] || fail "list summary: $summary"
pages=${BASH_REMATCH[1]} list_rv=${BASH_REMATCH[2]}
((pages >= 3)) || fail "list: $pages pages for 6 items with limit 2 (want >= 3)"
# one page when the limit is large
out=$("$E" list "$ns" 500) || fail "list: $out"
expect_contains "$out" "items=6 pages=1 rv=" "unpaged list"

# -- WATCH from the list's resourceVersion: exactly ADDED, MODIFIED, DELETED
bg_watch "$work/watch1" "$ns" "$list_rv" 3 30
w1=$bg
rv_add=$(kubectl create configmap w1 -n "$ns" --from-literal=x=0 -o jsonpath='{.metadata.resourceVersion}')
rv_mod=$(kubectl patch configmap w1 -n "$ns" -p '{"data":{"x":"1"}}' -o jsonpath='{.metadata.resourceVersion}')
kubectl delete configmap w1 -n "$ns" >/dev/null
bg_wait "$w1" "$work/watch1"
expect_eq "$rc" 0 "watch exit status ($(cat "$work/watch1"))"
expect_eq "$(grep -E '^(EVENT|END) ' "$work/watch1" | sed 's/ [0-9]*$//')" \
	"EVENT ADDED w1
EVENT MODIFIED w1
EVENT DELETED w1
END events=3 reason=max" "watch events"
expect_contains "$(cat "$work/watch1")" "EVENT ADDED w1 $rv_add"$'\n' "ADDED resourceVersion"
expect_contains "$(cat "$work/watch1")" "EVENT MODIFIED w1 $rv_mod"$'\n' "MODIFIED resourceVersion"
# a quiet watch ends on its own deadline (exit 4), not before and not hanging
now_rv=$("$E" list "$ns" 500 | sed -n 's/^items=.* rv=//p')
t0=$SECONDS
out=$("$E" watch "$ns" "$now_rv" 1 2) && fail "quiet watch succeeded: $out"
rc=$?
expect_eq "$rc" 4 "quiet watch exit status ($out)"
expect_contains "$out" "END events=0 reason=timeout" "quiet watch"
((SECONDS - t0 <= 5)) || fail "quiet watch with a 2s timeout took $((SECONDS - t0))s"

# -- server-side apply: manager vecward, data visible to kubectl, idempotent
out=$("$E" apply "$ns" applied color=blue size=3) || fail "apply: $out"
expect_contains "$out" "data color=blue" "apply response data"
expect_contains "$out" "manager vecward Apply"$'\n' "apply manager"
[[ $out =~ applied\ rv=([0-9]+) ]] || fail "apply rv: $out"
apply_rv=${BASH_REMATCH[1]}
expect_contains "$out" "reapplied rv=$apply_rv unchanged=1" "idempotent apply"
expect_eq "$(kubectl get configmap applied -n "$ns" -o jsonpath='{.data.color},{.data.size}')" "blue,3" "applied data"
expect_eq "$(kubectl get configmap applied -n "$ns" --show-managed-fields \
	-o jsonpath='{.metadata.managedFields[*].manager}/{.metadata.managedFields[*].operation}')" \
	"vecward/Apply" "managedFields"
expect_eq "$(kubectl get configmap applied -n "$ns" -o jsonpath='{.metadata.resourceVersion}')" \
	"$apply_rv" "resourceVersion after the idempotent apply"
# another manager takes color: a plain apply now conflicts, a forced one wins it back
kubectl apply --server-side --force-conflicts --field-manager=e2e-other -f - >/dev/null <<EOF
apiVersion: v1
kind: ConfigMap
metadata: {name: applied, namespace: $ns}
data: {color: red}
EOF
expect_fail "apply over another manager's field" "$E" apply "$ns" applied color=blue size=3
expect_contains "$OUT" "ERROR 409 Conflict: " "apply conflict"
expect_contains "$OUT" "e2e-other" "apply conflict names the other manager"
out=$("$E" apply --force "$ns" applied color=blue size=3) || fail "forced apply: $out"
expect_contains "$out" "reapplied rv=" "forced apply"
expect_eq "$(kubectl get configmap applied -n "$ns" -o jsonpath='{.data.color}')" blue "data after forced apply"

# -- server-side apply to /status (a Service: every cluster has its status subresource)
kubectl create service clusterip svc -n "$ns" --tcp=80:8080 >/dev/null
out=$("$E" apply-status services "$ns" svc "{\"apiVersion\":\"v1\",\"kind\":\"Service\",
	\"metadata\":{\"name\":\"svc\",\"namespace\":\"$ns\"},\"status\":{\"conditions\":[{
	\"type\":\"VecwardE2E\",\"status\":\"True\",\"reason\":\"Applied\",\"message\":\"by kube_e2e\",
	\"lastTransitionTime\":\"2026-01-01T00:00:00Z\"}]}}") || fail "apply-status: $out"
expect_contains "$out"$'\n' "manager vecward Apply status"$'\n' "status manager"
expect_eq "$(kubectl get service svc -n "$ns" -o jsonpath='{.status.conditions[0].type}={.status.conditions[0].status},{.spec.ports[0].targetPort}')" \
	"VecwardE2E=True,8080" "status applied, spec untouched"

# -- DELETE with a uid precondition
uid=$(kubectl get configmap cm-1 -n "$ns" -o jsonpath='{.metadata.uid}')
out=$("$E" get "$ns" cm-1) || fail "get: $out"
expect_contains "$out" "name=cm-1 uid=$uid rv=" "get"
expect_fail "delete with a wrong uid" "$E" delete "$ns" cm-1 00000000-0000-0000-0000-000000000000
expect_contains "$OUT" "conflict=1" "wrong-uid delete is a conflict"
expect_contains "$OUT" "ERROR 409 Conflict: " "wrong-uid delete status"
expect_contains "$OUT" "the UID in the precondition (00000000-0000-0000-0000-000000000000) does not match the UID in record ($uid)" \
	"wrong-uid delete message"
kubectl get configmap cm-1 -n "$ns" >/dev/null || fail "cm-1 deleted despite the failed precondition"
out=$("$E" delete "$ns" cm-1 "$uid") || fail "delete with the right uid: $out"
expect_eq "$out" deleted "delete"
expect_fail "cm-1 still there" kubectl get configmap cm-1 -n "$ns"
expect_contains "$OUT" NotFound "cm-1 deleted"

# -- 404: the Status body is parsed
out=$("$E" get-missing "$ns") || fail "get-missing: $out"
expect_contains "$out" "STATUS http=404 code=404 reason=NotFound not_found=1" "404 status"
expect_contains "$out" "ERROR 404 NotFound: configmaps \"vw-e2e-missing-" "404 message"
expect_contains "$out" "\" not found" "404 message"

# -- 410 Gone after an etcd compaction, then relist and resume
mkevent ev-1
# (with a selector: the API server itself may add Events here, e.g. the ClusterIP repair
# loop's ClusterIPNotAllocated about svc)
sel=vecward.io/e2e=kubeclient
out=$("$E" list --kind events -l "$sel" "$ns" 2>&1) || fail "list events: $out"
[[ $out =~ (^|$'\n')items=1\ pages=1\ rv=([0-9]+)$ ]] || fail "list events: $out"
old_rv=${BASH_REMATCH[2]}
mkevent ev-2
out=$("$E" churn "$ns" churn 50) || fail "churn: $out" # more writes past old_rv
rev=$(etcd_compact)
((rev > old_rv)) || fail "compacted to $rev, not past $old_rv"
out=$("$E" watch --kind events -l "$sel" "$ns" "$old_rv" 1 20) && fail "watch from a compacted rv succeeded: $out"
rc=$?
expect_eq "$rc" 3 "watch from a compacted rv: exit status ($out)"
expect_eq "$out" "GONE 410 Expired: The resourceVersion for the provided watch is too old." "410 from etcd"
# --relist: GONE, a fresh LIST (ev-1, ev-2), then the next change arrives as an event
bg_watch "$work/watch2" --relist --kind events -l "$sel" "$ns" "$old_rv" 1 30
w2=$bg
wait_for 20 "the relist" grep -q '^RELIST ' "$work/watch2"
mkevent ev-3
bg_wait "$w2" "$work/watch2"
expect_eq "$rc" 0 "relisting watch exit status ($(cat "$work/watch2"))"
expect_eq "$(event_lines "$work/watch2" | sed 's/^RELIST items=2 rv=[0-9]*$/RELIST items=2/')" \
	"GONE 410 Expired:
RELIST items=2
EVENT ADDED ev-3
END events=1 reason=max" "relisting watch"

# -- (slow) the same for ConfigMaps: a resourceVersion that fell out of the watch cache
if [ "${VW_E2E_SLOW:-0}" = 1 ]; then
	out=$("$E" churn "$ns" cache-old 1) || fail "churn: $out"
	cm_old=${out##*rv=}
	echo "waiting 80s for the watch cache's 75s window to pass"
	sleep 80
	gone=0
	for batch in $(seq 1 30); do # the cache holds >= 100 events: write them out in batches
		out=$("$E" churn "$ns" cache-new 100) || fail "churn: $out"
		if out=$("$E" watch "$ns" "$cm_old" 1 10 2>&1); then :; else
			rc=$?
			[ "$rc" != 3 ] || { gone=1; break; }
			fail "watch from $cm_old: exit $rc: $out"
		fi
	done
	((gone)) || fail "ConfigMap resourceVersion $cm_old still in the watch cache after 3000 writes"
	expect_contains "$out" "GONE 410 Expired: too old resource version: $cm_old (" "410 from the watch cache"
	echo "ConfigMap rv $cm_old gone from the watch cache after $((batch * 100)) writes"
	bg_watch "$work/watch3" --relist "$ns" "$cm_old" 1 30
	w3=$bg
	wait_for 20 "the ConfigMap relist" grep -q '^RELIST ' "$work/watch3"
	kubectl create configmap after-relist -n "$ns" >/dev/null
	bg_wait "$w3" "$work/watch3"
	expect_eq "$rc" 0 "relisting ConfigMap watch exit status ($(cat "$work/watch3"))"
	expect_eq "$(event_lines "$work/watch3" | sed 's/^RELIST .*/RELIST/')" "GONE 410 Expired:
RELIST
EVENT ADDED after-relist
END events=1 reason=max" "relisting ConfigMap watch"
fi

echo "ok: list ($pages pages), watch (events, timeout, 410 after compaction, relist), apply (manager, idempotent, conflict, force, status), delete precondition, 404 Status"
