#!/usr/bin/env bash
# The operator benchmarks (issue 8), on a fresh local control plane that audits every
# verb (VW_CP_AUDIT=all), with the Milvus REST double (bin/milvusd). Writes
# bench/out/{convergence,idle,footprint}.json (format: bench/report.py); raw
# measurements stay in .work/bench-op/raw. Prints figures; asserts no time.
#
#   convergence  for N in $BENCH_USERS (default "100 1000"): 1 Cluster and N Users
#                created at once; time until all are Ready and the apiserver requests the
#                operator made, by verb (audit log, user agent vecward/); beside it the
#                floor: N Secrets created by bin/bench/floor with as many workers as the
#                operator's --workers (BENCH_WORKERS, default 2, the operator's default)
#   idle         after the last convergence, nothing changing: requests per minute to the
#                apiserver and to Milvus over BENCH_IDLE_SECONDS (default 60) at the
#                default --resync; then (BENCH_RESYNC_PROBE seconds, default 120; 0: off)
#                a new operator process with --resync BENCH_RESYNC_PROBE: what its restart
#                and one resync pass over the converged Users cost
#   footprint    operator VmRSS/VmHWM and CPU per reconcile at BENCH_FOOTPRINT_USERS
#                (default "0 1000 10000") Users of a Cluster that is not Ready (watched and
#                reconciled, never synced to Milvus); the webhook's RSS standalone
#
#   BENCH_PARTS="convergence idle footprint" selects parts (idle needs convergence).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PARTS=${BENCH_PARTS:-convergence idle footprint}
USERS=${BENCH_USERS:-100 1000}
WORKERS=${BENCH_WORKERS:-2}
IDLE_S=${BENCH_IDLE_SECONDS:-60}
RESYNC_PROBE=${BENCH_RESYNC_PROBE:-120}
FP_USERS=${BENCH_FOOTPRINT_USERS:-0 1000 10000}
FP_WINDOW=${BENCH_FOOTPRINT_WINDOW:-30}
CONV_TIMEOUT=${BENCH_CONVERGE_TIMEOUT:-900}
has() { [[ " $PARTS " == *" $1 "* ]]; }

for b in vecward-operator vecward-webhook milvusd bench/floor; do
	[ -x "$VW_ROOT/bin/$b" ] || die "missing bin/$b (make bench-operator builds it)"
done

T_ALL=$SECONDS
bench_up
say "control plane up ($BENCH_CP); parts: $PARTS"
BCRYPT_MS=$(bcrypt_ms)
say "bcrypt cost 10 on this CPU: $BCRYPT_MS ms per hash"

# ---- convergence ------------------------------------------------------------------------
OPID= MPID= LAST_N= LAST_NS= LAST_DIR=
converge() { # N
	local n=$1 d=$BENCH_RAW/conv-$1 ns=bench-conv-$1 fns=bench-floor-$1 t0 t1 off
	local t_part=$SECONDS
	mkdir -p "$d"

	# the floor first, with no operator running
	new_ns "$fns"
	off=$(audit_offset)
	t0=$(now)
	bench-floor --kubeconfig "$KUBECONFIG" --namespace "$fns" --count "$n" --workers "$WORKERS" \
		--kind secret >"$d/floor.json" || die "bench/floor failed: $(cat "$d/floor.json")"
	t1=$(now)
	sleep 1
	audit_window "$t0" "$t1" "$off" "$fns" >"$d/floor-audit.json"
	say "floor, $n Secrets: $(cat "$d/floor.json")"

	# the Cluster's CA and root password exist before it does, so milvusd runs from the start
	new_ns "$ns"
	data_pv "$ns"
	cluster_pki "$d/pki" "$ns"
	start_milvusd "$d/pki"
	start_operator "$ns" "$d/operator.log" --workers "$WORKERS"
	sleep 2 # informers synced, nothing to do yet
	"${BL[@]}" list --ns "$ns" --users "$n" --cluster --connect-to "127.0.0.1:$MPORT" >"$d/list.json"
	milvus "$d/pki" "$ns" reset >/dev/null
	"${BL[@]}" snap --pid "$MPID" --out "$d/milvusd0.json"
	"${BL[@]}" snap --pid "$OPID" --operator --out "$d/op0.json"
	off=$(audit_offset)
	t0=$(now)
	kubectl create -f "$d/list.json" >/dev/null
	t1=$(now)
	"${BL[@]}" wait --cp "$BENCH_CP" --ns "$ns" --users "$n" --t0 "$t0" --timeout "$CONV_TIMEOUT" \
		>"$d/wait.json" || die "convergence of $n Users: $(cat "$d/wait.json")"
	local t_ready
	t_ready=$(python3 -c 'import json,sys; print(float(sys.argv[1]) + json.load(open(sys.argv[2]))["users_done_s"])' "$t0" "$d/wait.json")
	"${BL[@]}" snap --pid "$OPID" --operator --out "$d/op1.json"
	# then until the operator is quiet: what it still does once every User is Ready
	local t_quiet
	t_quiet=$("${BL[@]}" quiet --pid "$OPID" --timeout 600) || die "the operator did not go quiet"
	"${BL[@]}" snap --pid "$OPID" --operator --out "$d/op2.json"
	"${BL[@]}" snap --pid "$MPID" --out "$d/milvusd1.json"
	milvus "$d/pki" "$ns" stats >"$d/milvus-stats.json"
	sleep 2
	audit_window "$t0" "$t_ready" "$off" >"$d/audit.json"
	audit_window "$t_ready" "$t_quiet" "$off" >"$d/audit-after.json"
	printf '{"create_s": %s, "quiet_s": %s, "bcrypt_ms": %s, "users": %d, "workers": %d, "version": "%s", "milvusd": "%s"}\n' \
		"$(elapsed "$t0" "$t1")" "$(elapsed "$t0" "$t_quiet")" "$BCRYPT_MS" "$n" "$WORKERS" \
		"$(vecward-operator --version | cut -d' ' -f2)" "${BENCH_MILVUSD:+$BENCH_MILVUSD}" >"$d/env.json"
	say "converged $n Users: $(cat "$d/wait.json"); operator requests: $(python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); print(a["total"], a["by_verb"])' "$d/audit.json"); milvus: $(head -c 200 "$d/milvus-stats.json") ($((SECONDS - t_part)) s)"
	LAST_N=$n LAST_NS=$ns LAST_DIR=$d
}

stop_conv() {
	[ -z "$OPID" ] || stop_pid "$OPID"
	[ -z "$MPID" ] || stop_pid "$MPID"
	OPID= MPID=
}

if has convergence; then
	t_conv=$SECONDS
	for n in $USERS; do
		stop_conv
		converge "$n"
	done
	"${BL[@]}" fragment convergence --raw "$BENCH_RAW" --users "$USERS" --workers "$WORKERS" \
		>"$BENCH_OUT/convergence.json"
	say "convergence done in $((SECONDS - t_conv)) s"
fi

# ---- idle -------------------------------------------------------------------------------------
if has idle; then
	[ -n "$OPID" ] || die "idle needs the convergence part (BENCH_PARTS)"
	t_idle=$SECONDS
	d=$BENCH_RAW/idle
	mkdir -p "$d"
	sleep 5 # the last status writes land
	milvus "$LAST_DIR/pki" "$LAST_NS" reset >/dev/null
	"${BL[@]}" snap --pid "$OPID" --operator --out "$d/op0.json"
	off=$(audit_offset)
	t0=$(now)
	sleep "$IDLE_S"
	t1=$(now)
	"${BL[@]}" snap --pid "$OPID" --operator --out "$d/op1.json"
	milvus "$LAST_DIR/pki" "$LAST_NS" stats >"$d/milvus-stats.json"
	sleep 2
	audit_window "$t0" "$t1" "$off" >"$d/audit.json"
	printf '{"users": %d, "resync": 600}\n' "$LAST_N" >"$d/env.json"
	say "idle ${IDLE_S}s with $LAST_N Users: $(python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); print(a["total"], a["by_verb_resource"])' "$d/audit.json"); milvus $(head -c 120 "$d/milvus-stats.json")"
	# the VmRSS after converging LAST_N Users, for the footprint table
	cp "$d/op1.json" "$BENCH_RAW/conv-rss.json"

	if [ "$RESYNC_PROBE" -gt 0 ]; then
		# a new process: its restart wave, then one resync pass at --resync RESYNC_PROBE
		p=$BENCH_RAW/resync
		mkdir -p "$p"
		stop_pid "$OPID"
		OPID=
		milvus "$LAST_DIR/pki" "$LAST_NS" reset >/dev/null
		off=$(audit_offset)
		t0=$(now)
		start_operator "$LAST_NS" "$p/operator.log" --workers "$WORKERS" --resync "$RESYNC_PROBE"
		# quiet: Milvus saw no new request for 3 s in a row
		last=-1 still=0
		for ((i = 0; i < 600 && still < 3; i++)); do
			sleep 1
			cur=$(milvus "$LAST_DIR/pki" "$LAST_NS" stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"])')
			if [ "$cur" = "$last" ] && [ "$cur" -gt 0 ]; then still=$((still + 1)); else still=0; fi
			last=$cur
		done
		t1=$(now)
		"${BL[@]}" snap --pid "$OPID" --operator --out "$p/wave-op1.json"
		milvus "$LAST_DIR/pki" "$LAST_NS" stats >"$p/wave-milvus.json"
		milvus "$LAST_DIR/pki" "$LAST_NS" reset >/dev/null
		wave_s=$(elapsed "$t0" "$t1")
		# one resync period after the wave: every User comes round exactly once when the
		# wave was shorter than the period
		"${BL[@]}" snap --pid "$OPID" --operator --out "$p/op0.json"
		t2=$(now)
		sleep "$RESYNC_PROBE"
		t3=$(now)
		"${BL[@]}" snap --pid "$OPID" --operator --out "$p/op1.json"
		milvus "$LAST_DIR/pki" "$LAST_NS" stats >"$p/milvus-stats.json"
		sleep 2
		audit_window "$t0" "$t1" "$off" >"$p/wave-audit.json"
		audit_window "$t2" "$t3" "$off" >"$p/audit.json"
		printf '{"resync": %d, "wave_s": %s}\n' "$RESYNC_PROBE" "$wave_s" >"$p/env.json"
		say "restart wave ${wave_s}s; resync pass: $(python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); print(a["total"], a["by_verb_resource"])' "$p/audit.json")"
	fi
	"${BL[@]}" fragment idle --raw "$BENCH_RAW" --window "$IDLE_S" >"$BENCH_OUT/idle.json"
	say "idle done in $((SECONDS - t_idle)) s"
fi
stop_conv

# ---- footprint --------------------------------------------------------------------------------
if has footprint; then
	t_fp=$SECONDS
	d=$BENCH_RAW/footprint
	ns=bench-fp
	mkdir -p "$d"
	new_ns "$ns"
	# a Cluster that never becomes Ready: no PersistentVolume for its data claim, so its
	# Milvus pod stays Pending and the Deployment unavailable
	"${BL[@]}" list --ns "$ns" --users 0 --cluster >"$d/cluster.json"
	kubectl create -f "$d/cluster.json" >/dev/null
	start_operator "$ns" "$d/operator.log" --workers "$WORKERS"
	have=0 points=()
	for n in $FP_USERS; do
		[ "$n" -ge "$have" ] || die "BENCH_FOOTPRINT_USERS must grow: $FP_USERS"
		t0=$(now)
		if [ "$n" -gt "$have" ]; then
			bench-floor --kubeconfig "$KUBECONFIG" --namespace "$ns" --kind user --cluster prod \
				--prefix u --start $((have + 1)) --count $((n - have)) --workers 4 >"$d/$n-create.json" ||
				die "creating Users: $(cat "$d/$n-create.json")"
		fi
		t1=$(now)
		"${BL[@]}" wait --cp "$BENCH_CP" --ns "$ns" --users "$n" --t0 "$t0" --timeout 900 --want status \
			>"$d/$n-wait.json" || die "Users of the footprint: $(cat "$d/$n-wait.json")"
		printf '{"create_s": %s, "settle_s": %s}\n' "$(elapsed "$t0" "$t1")" \
			"$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["users_done_s"])' "$d/$n-wait.json")" >"$d/$n-make.json"
		sleep 10 # the first reconcile of each has passed; steady state
		off=$(audit_offset)
		"${BL[@]}" snap --pid "$OPID" --operator --out "$d/$n-op0.json"
		t0=$(now)
		sleep "$FP_WINDOW"
		t1=$(now)
		"${BL[@]}" snap --pid "$OPID" --operator --out "$d/$n-op1.json"
		sleep 1
		audit_window "$t0" "$t1" "$off" >"$d/$n-audit.json"
		say "footprint $n Users: $(cat "$d/$n-op1.json")"
		if [ "$n" = "${FP_USERS##* }" ] && [ "${BENCH_PERF:-1}" = 1 ] && command -v perf >/dev/null; then
			# where the CPU goes at the last point (after the measured window: perf costs
			# CPU too); BENCH_PERF=0: not at all
			if perf record -q -F 499 -p "$OPID" -o "$d/perf.data" -- sleep 10 >/dev/null 2>&1 &&
				perf report -q -i "$d/perf.data" --stdio --no-children --sort symbol >"$d/perf.report" 2>/dev/null; then
				awk '$1 ~ /%$/ {print $1, $3}' "$d/perf.report" | head -8 >"$d/perf.txt"
			fi
		fi
		have=$n
		points+=("$n")
	done
	state=$(kubectl get users -n "$ns" -o jsonpath='{range .items[0]}{.status.conditions[?(@.type=="Ready")].reason}: {.status.conditions[?(@.type=="Ready")].message}{end}' 2>/dev/null || true)
	cstate=$(kubectl get cluster prod -n "$ns" -o jsonpath='{.status.conditions[?(@.type=="Ready")].reason}: {.status.conditions[?(@.type=="Ready")].message}')
	stop_pid "$OPID"
	OPID=

	# the webhook, standalone: idle, then after a few thousand reviews (the webhook
	# benchmark proper is bench/webhook.sh)
	wd=$d/webhook
	mkdir -p "$wd"
	read -r wcrt wkey <<<"$("$VW_ROOT/tests/e2e/controlplane.sh" cert "$BENCH_CP" bench-webhook 127.0.0.1)"
	vecward-webhook --listen 127.0.0.1:0 --tls-cert "$wcrt" --tls-key "$wkey" --kubeconfig "$KUBECONFIG" \
		>"$wd/webhook.log" 2>&1 &
	WPID=$!
	bench_track "$WPID"
	for ((i = 0; i < 100; i++)); do grep -q '"msg":"serving"' "$wd/webhook.log" && break; sleep 0.1; done
	wport=$(sed -n 's/.*"msg":"serving".*"port":"\([0-9]*\)".*/\1/p' "$wd/webhook.log")
	[ -n "$wport" ] || die "the webhook did not start: $(tail -5 "$wd/webhook.log")"
	sleep 2
	"${BL[@]}" snap --pid "$WPID" --out "$wd/idle.json"
	# reviews of User creations in a namespace with a Cluster and no Users
	new_ns bench-wh
	"${BL[@]}" list --ns bench-wh --users 0 --cluster >"$wd/cluster.json"
	kubectl create -f "$wd/cluster.json" >/dev/null
	"${BL[@]}" reviews --port "$wport" --ca "$BENCH_CP/pki/ca.crt" --ns bench-wh --count 2000 >"$wd/load.json"
	"${BL[@]}" snap --pid "$WPID" --out "$wd/after.json"
	# and a few in the footprint's namespace, with all its Users (VW024 looks for the
	# username among them)
	off=$(audit_offset)
	t0=$(now)
	"${BL[@]}" reviews --port "$wport" --ca "$BENCH_CP/pki/ca.crt" --ns "$ns" --count 10 >"$wd/many.json"
	t1=$(now)
	"${BL[@]}" snap --pid "$WPID" --out "$wd/many-after.json"
	sleep 1
	audit_window "$t0" "$t1" "$off" >"$wd/many-audit.json"
	stop_pid "$WPID"
	python3 - "$d" "$state" "$cstate" "${points[*]}" <<'EOF'
import json, os, sys
d, state, cstate, points = sys.argv[1], sys.argv[2], sys.argv[3], [int(x) for x in sys.argv[4].split()]
env = {"points": points, "perf_what": "top symbols by CPU over 10 s at the last point",
       "state": "each User: Ready False, %s; its Cluster prod: Ready False, %s; requeued every 5 s, "
                "never synced to Milvus" % (state or "(no Users)", cstate)}
conv = os.path.join(os.path.dirname(d), "conv-rss.json")
if os.path.exists(conv):
    c = json.load(open(conv))
    env["conv_rss"] = {"users": json.load(open(os.path.join(os.path.dirname(d), "idle", "env.json")))["users"],
                       "rss_kb": c["rss_kb"], "hwm_kb": c["hwm_kb"]}
json.dump(env, open(os.path.join(d, "env.json"), "w"))
w = os.path.join(d, "webhook")
j = lambda f: json.load(open(os.path.join(w, f)))
load, many = j("load.json"), j("many.json")
json.dump({"idle": j("idle.json"), "after": j("after.json"), "reviews": load["reviews"],
           "seconds": load["seconds"], "many": {"users": points[-1], "reviews": many["reviews"],
           "seconds": many["seconds"], "after": j("many-after.json"), "audit": j("many-audit.json")}},
          open(os.path.join(d, "webhook.json"), "w"))
EOF
	"${BL[@]}" fragment footprint --raw "$BENCH_RAW" >"$BENCH_OUT/footprint.json"
	say "footprint done in $((SECONDS - t_fp)) s"
fi
say "operator benchmarks done in $((SECONDS - T_ALL)) s"
