#!/usr/bin/env bash
# Webhook benchmarks (issue 8), against a real local control plane (tests/e2e/controlplane.sh):
#
#   bench/webhook.sh [wrk] [dryrun]        both parts when none is named
#
#   wrk     wrk POSTs real AdmissionReviews (a Cluster create the webhook accepts, one it
#           rejects) over TLS to bin/vecward-webhook /validate, at each concurrency of
#           BENCH_CONNS, BENCH_SECONDS each: p50/p99/p99.9 latency and requests/s. The
#           floor: nginx answering a fixed AdmissionReview response over the same TLS
#           (same certificate, protocols, ciphers), same concurrencies. -> out/webhook.json
#   dryrun  `kubectl apply --dry-run=server` of BENCH_DRYRUN_M Clusters, without and with
#           the webhook registered (ValidatingWebhookConfiguration and
#           MutatingWebhookConfiguration, clientConfig.url on 127.0.0.1): applies/s and the
#           webhook's share of the time, in three ways: one kubectl per apply (sequential),
#           one kubectl for all M, and M raw dry-run POSTs over one connection (curl).
#           -> out/dry-run.json
#
# The webhook's cross-object rules read the API server, so both parts need the control
# plane: the accepted Cluster (examples/cluster.yaml) makes it GET its EncryptionKey, the
# rejected one (spec.tls.mode disabled) its Namespace. Figures only, never assertions;
# the machine is shared, so the load average at start is recorded in every detail.
#
# Environment: BENCH_SECONDS (5), BENCH_CONNS ("1 16 64"), BENCH_WRK_THREADS (2),
# BENCH_DRYRUN_M (50), BENCH_DRYRUN_ROUNDS (2; without/with alternate, means reported),
# BENCH_OUT (bench/out), BENCH_WORK (.work/bench/webhook: control plane, logs, nginx),
# BENCH_WEBHOOK (bin/vecward-webhook; another build to compare against).
set -euo pipefail
shopt -s inherit_errexit # a failure inside $(...) stops the run too

here=$(cd "$(dirname "$0")" && pwd)
VW_ROOT=$(cd "$here/.." && pwd)
cp_sh=$VW_ROOT/tests/e2e/controlplane.sh
work=${BENCH_WORK:-$VW_ROOT/.work/bench/webhook}
out_dir=${BENCH_OUT:-$VW_ROOT/bench/out}
secs=${BENCH_SECONDS:-5}
conns=${BENCH_CONNS:-1 16 64}
wrk_threads=${BENCH_WRK_THREADS:-2}
M=${BENCH_DRYRUN_M:-50}
rounds=${BENCH_DRYRUN_ROUNDS:-2}
webhook_bin=${BENCH_WEBHOOK:-$VW_ROOT/bin/vecward-webhook} # another build, to compare
export PATH="${VECWARD_CACHE:-$HOME/.cache/vecward}/bin:$VW_ROOT/bin:$PATH"

say() { echo "bench-webhook: $*" >&2; }
die() { say "$*"; exit 1; }
num() { [[ $2 =~ ^[0-9]+$ ]] && (($2 >= $3 && $2 <= $4)) || die "$1=$2: a whole number from $3 to $4"; }

num BENCH_SECONDS "$secs" 1 600
num BENCH_WRK_THREADS "$wrk_threads" 1 64
num BENCH_DRYRUN_M "$M" 1 5000
num BENCH_DRYRUN_ROUNDS "$rounds" 1 20
for c in $conns; do num BENCH_CONNS "$c" 1 10000; done
do_wrk=0 do_dry=0
[ $# -gt 0 ] || set -- wrk dryrun
for a in "$@"; do
	case $a in
		wrk) do_wrk=1 ;;
		dryrun | dry-run) do_dry=1 ;;
		*) die "usage: $0 [wrk] [dryrun]" ;;
	esac
done
for b in kubectl kube-apiserver etcd; do command -v "$b" >/dev/null || die "no $b (run: make tools)"; done
[ -x "$webhook_bin" ] || die "no $webhook_bin (run: make bin/vecward-webhook)"
if [ $do_wrk = 1 ]; then
	for b in wrk nginx; do command -v "$b" >/dev/null || [ -x "/usr/sbin/$b" ] || die "no $b (run: make deps)"; done
fi

# ---- work dir, one run at a time, cleanup ---------------------------------------
mkdir -p "$work" "$out_dir"
exec 9>"$work/lock"
flock -n 9 || die "another bench/webhook.sh is using $work"
cp_dir=$work/cp
"$cp_sh" down "$cp_dir" 9>&-
rm -rf "$cp_dir" "$work/run"
run=$work/run
mkdir -p "$run/tmp"
export TMPDIR=$run/tmp KUBECACHEDIR=$run/tmp/kube-cache # nothing in /tmp or ~/.kube/cache
wh_pid= nginx_pid=
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	for p in $wh_pid $nginx_pid; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in $wh_pid $nginx_pid; do
		local i
		for ((i = 0; i < 50; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	"$cp_sh" down "$cp_dir" 9>&- || true
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

loadavg=$(cut -d' ' -f1-3 /proc/loadavg)
say "load average at start: $loadavg ($(nproc) cores, shared)"

# ---- control plane, CRDs, the webhook ---------------------------------------------
t0=$SECONDS
if ! "$cp_sh" up "$cp_dir" 2>"$run/controlplane-up.log" 9>&-; then
	tail -n 40 "$run/controlplane-up.log" >&2
	die "the control plane did not come up (logs: $cp_dir/logs)"
fi
eval "$("$cp_sh" env "$cp_dir")"
export KUBECONFIG
say "control plane up in $((SECONDS - t0))s"
kubectl apply -f "$VW_ROOT/crds/" >/dev/null
kubectl wait --for condition=established --timeout=60s crd/clusters.vecward.io \
	crd/users.vecward.io crd/encryptionkeys.vecward.io >/dev/null
read -r crt key < <("$cp_sh" cert "$cp_dir" webhook 127.0.0.1 9>&-)
ca=$cp_dir/pki/ca.crt

wh_log=$run/webhook.log
"$webhook_bin" --listen 127.0.0.1:0 --tls-cert "$crt" --tls-key "$key" \
	--kubeconfig "$KUBECONFIG" >"$wh_log" 2>&1 9>&- &
wh_pid=$!
for ((i = 0; i < 150; i++)); do
	grep -q '"msg":"serving"' "$wh_log" && break
	kill -0 "$wh_pid" 2>/dev/null || { cat "$wh_log" >&2; die "the webhook exited"; }
	sleep 0.1
done
wh_port=$(sed -n 's/.*"msg":"serving".*"port":"\([0-9]*\)".*/\1/p' "$wh_log" | tail -n1)
[ -n "$wh_port" ] || die "the webhook is not serving: $(cat "$wh_log")"
wh_url=https://127.0.0.1:$wh_port
say "webhook pid $wh_pid on $wh_url ($("$webhook_bin" --version))"

# ns NAME: a namespace with the EncryptionKey examples/cluster.yaml refers to
ns() {
	kubectl create namespace "$1" >/dev/null
	kubectl -n "$1" apply -f "$VW_ROOT/examples/encryptionkey-aws.yaml" >/dev/null
}

# s_client_params PORT: "protocol cipher group signature" the default client negotiates
tls_params() {
	timeout 10 openssl s_client -connect "127.0.0.1:$1" -brief "${@:2}" </dev/null 2>&1 |
		awk -F': ' '/^Protocol version/ {p=$2} /^Ciphersuite/ {c=$2} /^Server Temp Key/ {k=$2}
			/^Signature type/ {s=$2} END {printf "%s|%s|%s|%s\n", p, c, k, s}'
}

# metric NAME: the webhook's /metrics value of NAME (exact label set)
metric() {
	curl -fsS --max-time 10 --cacert "$ca" "$wh_url/metrics" | awk -v n="$1" '$1 == n {print $2}'
}

# ---- part 1: wrk against the webhook, nginx as the floor ----------------------------
bench_wrk() {
	local d=$run/wrk
	mkdir -p "$d" "$d/nginx/tmp"
	ns bench

	# the objects exactly as the API server would store them (defaults, uid,
	# managedFields): a server-side dry run, before any webhook is registered
	kubectl -n bench apply --dry-run=server -o json -f "$VW_ROOT/examples/cluster.yaml" >"$d/accepted.obj.json"
	printf 'apiVersion: vecward.io/v1alpha1\nkind: Cluster\nmetadata: {name: insecure}\nspec: {tls: {mode: disabled}}\n' |
		kubectl -n bench apply --dry-run=server -o json -f - >"$d/rejected.obj.json"
	local which
	for which in accepted rejected; do
		python3 - "$d/$which.obj.json" "$which" >"$d/$which.review.json" <<'EOF'
import json, sys
obj = json.load(open(sys.argv[1]))
md = obj["metadata"]
gvk = {"group": "vecward.io", "version": "v1alpha1", "kind": "Cluster"}
gvr = {"group": "vecward.io", "version": "v1alpha1", "resource": "clusters"}
review = {
    "kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1",
    "request": {
        "uid": "bench-" + sys.argv[2] + "-0000-0000-000000000000",
        "kind": gvk, "resource": gvr, "requestKind": gvk, "requestResource": gvr,
        "name": md["name"], "namespace": md["namespace"], "operation": "CREATE",
        "userInfo": {"username": "kubernetes-admin",
                     "groups": ["system:masters", "system:authenticated"]},
        "object": obj, "oldObject": None, "dryRun": False,
        "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1",
                    "fieldManager": "kubectl-client-side-apply", "fieldValidation": "Strict"},
    },
}
print(json.dumps(review, separators=(",", ":")))
EOF
		curl -sS --max-time 10 --cacert "$ca" -H 'Content-Type: application/json' \
			--data-binary "@$d/$which.review.json" "$wh_url/validate" >"$d/$which.response.json"
	done
	# what each answer must be, or the figures mean nothing
	grep -q '"allowed":true' "$d/accepted.response.json" ||
		die "the accepted review was not allowed: $(cat "$d/accepted.response.json")"
	grep -q '"allowed":false' "$d/rejected.response.json" && grep -q VW001 "$d/rejected.response.json" ||
		die "the rejected review was not denied with VW001: $(cat "$d/rejected.response.json")"

	# nginx: one process, one event loop (like the webhook), the accepted answer
	local ng_port
	ng_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
	python3 - "$d/accepted.response.json" "$d/nginx" "$ng_port" "$crt" "$key" >"$d/nginx/nginx.conf" <<'EOF'
import sys
body = open(sys.argv[1]).read().strip()
if "$" in body:
    sys.exit("the response holds a '$', which nginx would take for a variable")
body = body.replace("\\", "\\\\").replace("'", "\\'")
d, port, crt, key = sys.argv[2:6]
# TLS as webhook/server.c sets it: 1.2 and 1.3, TLS 1.2 ECDHE + AEAD, server preference,
# no tickets; one process (master_process off), as the webhook has one event loop
print(f"""daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    client_body_buffer_size 64k;
    client_max_body_size 4m;
    keepalive_requests 10000000;
    keepalive_timeout 75s;
    server_tokens off;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {crt};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305;
        ssl_prefer_server_ciphers on;
        ssl_session_tickets off;
        location / {{
            default_type application/json;
            add_header Cache-Control no-store;
            add_header X-Content-Type-Options nosniff;
            return 200 '{body}';
        }}
    }}
}}""")
EOF
	local nginx_bin
	nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
	"$nginx_bin" -p "$d/nginx/" -c "$d/nginx/nginx.conf" -e "$d/nginx/error.log" 9>&- &
	nginx_pid=$!
	local i
	for ((i = 0; i < 100; i++)); do
		curl -fsS --max-time 2 --cacert "$ca" -o /dev/null -X POST "https://127.0.0.1:$ng_port/validate" 2>/dev/null && break
		kill -0 "$nginx_pid" 2>/dev/null || { cat "$d/nginx/error.log" >&2; die "nginx exited"; }
		sleep 0.1
	done
	cmp -s <(curl -sS --max-time 10 --cacert "$ca" --data-binary "@$d/accepted.review.json" \
		-H 'Content-Type: application/json' "https://127.0.0.1:$ng_port/validate") "$d/accepted.response.json" ||
		die "nginx does not answer the webhook's response"
	say "nginx pid $nginx_pid on https://127.0.0.1:$ng_port ($("$nginx_bin" -v 2>&1 | sed 's/.*: //'))"

	local tls_wh tls_ng tls12_wh tls12_ng
	tls_wh=$(tls_params "$wh_port")
	tls_ng=$(tls_params "$ng_port")
	tls12_wh=$(tls_params "$wh_port" -tls1_2)
	tls12_ng=$(tls_params "$ng_port" -tls1_2)
	say "TLS negotiated by openssl s_client (default client, as wrk): webhook ${tls_wh//|/, }; nginx ${tls_ng//|/, }"
	say "TLS 1.2 forced: webhook ${tls12_wh//|/, }; nginx ${tls12_ng//|/, }"

	cat >"$d/post.lua" <<'EOF'
-- bench/webhook.sh: POST the AdmissionReview in $BENCH_BODY; done() prints the figures
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, */*"

function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format("BENCH requests=%d duration_us=%d p50_us=%.1f p90_us=%.1f " ..
		"p99_us=%.1f p999_us=%.1f max_us=%.1f mean_us=%.1f connect=%d read=%d write=%d " ..
		"status=%d timeout=%d\n", summary.requests, summary.duration,
		latency:percentile(50), latency:percentile(90), latency:percentile(99),
		latency:percentile(99.9), latency.max, latency.mean, e.connect, e.read, e.write,
		e.status, e.timeout))
end
EOF
	: >"$d/results.tsv"
	local c t target url body line s0 n0 s1 n1 inproc
	for c in $conns; do
		t=$((c < wrk_threads ? c : wrk_threads))
		for target in webhook:accepted webhook:rejected nginx:accepted; do
			case $target in
				webhook:*) url=$wh_url/validate ;;
				nginx:*) url=https://127.0.0.1:$ng_port/validate ;;
			esac
			body=$d/${target#*:}.review.json
			s0=$(metric 'vecward_webhook_request_duration_seconds_sum{endpoint="validate"}')
			n0=$(metric 'vecward_webhook_request_duration_seconds_count{endpoint="validate"}')
			line=$(BENCH_BODY=$body timeout -k 5 $((secs + 60)) wrk -t "$t" -c "$c" -d "${secs}s" \
				--timeout 10s --latency -s "$d/post.lua" "$url" 9>&- | tee -a "$d/wrk.log" | grep '^BENCH ') ||
				die "wrk $target c=$c failed (log: $d/wrk.log)"
			# the webhook's own time per request (its /metrics: decode, rules, lookups, encode)
			s1=$(metric 'vecward_webhook_request_duration_seconds_sum{endpoint="validate"}')
			n1=$(metric 'vecward_webhook_request_duration_seconds_count{endpoint="validate"}')
			inproc=$(python3 -c "n = $n1 - $n0; print(f'{($s1 - $s0) / n * 1e6:.1f}' if n else 0)")
			line="${line#BENCH } inproc_us=$inproc"
			printf '%s\t%s\t%s\t%s\n' "$target" "$c" "$t" "$line" >>"$d/results.tsv"
			say "wrk $target -c $c -t $t: $line"
		done
	done
	local body_bytes
	body_bytes="$(wc -c <"$d/accepted.review.json") $(wc -c <"$d/rejected.review.json") $(wc -c <"$d/accepted.response.json") $(wc -c <"$d/rejected.response.json")"
	python3 - "$d/results.tsv" "$out_dir/webhook.json" "$secs" "$loadavg" "$tls_wh" "$tls_ng" \
		"$tls12_wh" "$tls12_ng" "$body_bytes" "$(nproc)" <<'EOF'
import json, sys
tsv, out, secs, load, tls_wh, tls_ng, tls12_wh, tls12_ng, sizes, ncpu = sys.argv[1:11]
def tls(s):
    p, c, k, sig = (s.split("|") + ["", "", "", ""])[:4]
    return {"protocol": p, "cipher": c, "key_exchange": k, "signature": sig}
req_acc, req_rej, resp_acc, resp_rej = map(int, sizes.split())
res = {}
for ln in open(tsv):
    target, c, t, kv = ln.rstrip("\n").split("\t")
    f = {k: float(v) for k, v in (x.split("=") for x in kv.split())}
    f["threads"] = int(t)
    f["rps"] = f["requests"] / (f["duration_us"] / 1e6)
    res[(target, int(c))] = f
common = {"seconds": int(secs), "loadavg_at_start": load, "cpus": int(ncpu),
          "endpoint": "POST /validate", "wrk": "wrk --latency, keep-alive, HTTP/1.1",
          "tls_webhook": tls(tls_wh), "tls_nginx": tls(tls_ng),
          "tls12_webhook": tls(tls12_wh), "tls12_nginx": tls(tls12_ng),
          "review_bytes": {"accepted": req_acc, "rejected": req_rej},
          "response_bytes": {"accepted": resp_acc, "rejected": resp_rej},
          "webhook_lookups": {"accepted": "GET EncryptionKey bench/prod-key (found, region checked)",
                              "rejected": "GET Namespace bench (no vecward.io/allow-insecure label)"},
          "floor": "nginx 1 process, return 200 of the accepted response, same cert/TLS settings"}
rows = []
for (target, c), f in sorted(res.items(), key=lambda kv: (kv[0][1], kv[0][0])):
    if not target.startswith("webhook:"):
        continue
    review = target.split(":")[1]
    fl = res.get(("nginx:accepted", c))
    errs = {k: int(f[k]) for k in ("connect", "read", "write", "status", "timeout")}
    for stat, key, unit, scale in (("p50", "p50_us", "ms", 1e-3), ("p99", "p99_us", "ms", 1e-3),
                                   ("p99.9", "p999_us", "ms", 1e-3), ("throughput", "rps", "req/s", 1)):
        v = f[key] * scale
        flv = fl[key] * scale if fl else None
        t_wh, t_ng = tls(tls_wh), tls(tls_ng)
        tls_s = f"{t_wh['protocol']} {t_wh['cipher']}"
        if (t_ng["protocol"], t_ng["cipher"]) != (t_wh["protocol"], t_wh["cipher"]):
            tls_s += f" (nginx {t_ng['protocol']} {t_ng['cipher']})"
        detail = {"connections": c, "wrk_threads": f["threads"], "requests": int(f["requests"]),
                  "errors": sum(errs.values()), "webhook_own_ms": round(f["inproc_us"] / 1e3, 3),
                  "tls": tls_s, "load": load.split()[0]}
        rows.append({"metric": f"webhook {review} Cluster c={c} {stat}", "value": round(v, 3), "unit": unit,
                     "floor": round(flv, 3) if flv is not None else None,
                     "ratio": round(v / flv, 3) if flv else None, "detail": detail})
# everything else, once: the fragment's "context" (report.py reads only section and rows)
context = dict(common, runs={f"{t} c={c}": f for (t, c), f in sorted(res.items(), key=lambda kv: (kv[0][1], kv[0][0]))},
               webhook_own_ms="mean time the webhook itself spent per request (its /metrics "
                              "histogram: decode, rules, API lookups, encode)")
json.dump({"section": "webhook", "rows": rows, "context": context}, open(out, "w"), indent=1)
print(f"webhook: wrk {secs}s per run over TLS (webhook {tls(tls_wh)['protocol']} {tls(tls_wh)['cipher']}, "
      f"nginx {tls(tls_ng)['protocol']} {tls(tls_ng)['cipher']}); floor = nginx; ratio = webhook/nginx")
for r in rows:
    e = r["detail"]["errors"]
    print(f"  {r['metric']:<40} {r['value']:>10.3f} {r['unit']:<6} floor {r['floor']:>10.3f}  "
          f"ratio {r['ratio']:>8.4g}" + (f"  ({e} errors)" if e else ""))
print("  the webhook's own time per request (its /metrics, lookups included): " + ", ".join(
    f"{t.split(':')[1]} c={c} {f['inproc_us'] / 1e3:.3f} ms" for (t, c), f in sorted(res.items(), key=lambda kv: (kv[0][1], kv[0][0]))
    if t.startswith("webhook:")))
EOF
	kill -TERM "$nginx_pid" 2>/dev/null || true
	wait "$nginx_pid" 2>/dev/null || true
	nginx_pid=
}

# ---- part 2: kubectl apply --dry-run=server, without and with the webhook ----------
register() {
	sed -e "s|__WEBHOOK_URL__|$wh_url|" -e "s|__CA_BUNDLE__|$(base64 -w0 "$ca")|" \
		"$VW_ROOT/manifests/local/webhook-local.yaml" | kubectl apply -f - >/dev/null
}
unregister() {
	kubectl delete mutatingwebhookconfiguration vecward-webhook --ignore-not-found >/dev/null
	kubectl delete validatingwebhookconfiguration vecward-webhook --ignore-not-found >/dev/null
}
# called WANT(0|1): wait (up to 30s) until the API server calls both webhooks (1: a probe
# is denied with VW001 by validate and counted by mutate) or neither (0)
called() {
	local i out mut0 val mut1
	for ((i = 0; i < 60; i++)); do
		mut0=$(metric 'vecward_webhook_request_duration_seconds_count{endpoint="mutate"}')
		out=$(printf 'apiVersion: vecward.io/v1alpha1\nkind: Cluster\nmetadata: {name: probe}\nspec: {tls: {mode: disabled}}\n' |
			kubectl -n bench-dry apply --dry-run=server -f - 2>&1) || true
		mut1=$(metric 'vecward_webhook_request_duration_seconds_count{endpoint="mutate"}')
		val=0
		[[ $out == *VW001* ]] && val=1
		if [ "$1" = 1 ] && [ $val = 1 ] && [ "$mut1" != "$mut0" ]; then return 0; fi
		if [ "$1" = 0 ] && [ $val = 0 ] && [ "$mut1" = "$mut0" ]; then return 0; fi
		sleep 0.5
	done
	die "the API server does not $([ "$1" = 1 ] && echo "call" || echo "stop calling") both webhooks after 30s: $out"
}

bench_dry() {
	local d=$run/dry
	mkdir -p "$d/one"
	ns bench-dry
	local i
	for ((i = 1; i <= M; i++)); do
		sed "s/^  name: prod$/  name: prod-$i/" "$VW_ROOT/examples/cluster.yaml" >"$d/one/$i.yaml"
		grep -q "name: prod-$i" "$d/one/$i.yaml" || die "cannot rename the Cluster in examples/cluster.yaml"
		cat "$d/one/$i.yaml"
		echo ---
	done >"$d/all.yaml"
	# raw: the same objects as JSON, POSTed with dryRun=All by one curl over one connection
	python3 - "$d/one" "$M" <<'EOF'
import json, sys, yaml
d, m = sys.argv[1], int(sys.argv[2])
for i in range(1, m + 1):
    obj = yaml.safe_load(open(f"{d}/{i}.yaml"))
    json.dump(obj, open(f"{d}/{i}.json", "w"))
EOF
	. "$cp_dir/ports"
	{
		for ((i = 1; i <= M; i++)); do
			[ "$i" = 1 ] || echo next
			cat <<EOF
url = "$APISERVER_URL/apis/vecward.io/v1alpha1/namespaces/bench-dry/clusters?dryRun=All&fieldManager=bench"
cacert = "$ca"
cert = "$cp_dir/pki/admin.crt"
key = "$cp_dir/pki/admin.key"
header = "Content-Type: application/json"
data-binary = "@$d/one/$i.json"
output = "/dev/null"
write-out = "%{http_code}\\n"
max-time = 30
silent
show-error
EOF
		done
	} >"$d/raw.curlrc"

	seq_apply() { for ((i = 1; i <= M; i++)); do kubectl -n bench-dry apply --dry-run=server -f "$d/one/$i.yaml" >/dev/null; done; }
	batch_apply() { kubectl -n bench-dry apply --dry-run=server -f "$d/all.yaml" >/dev/null; }
	raw_post() {
		local codes
		codes=$(curl -K "$d/raw.curlrc" | sort | uniq -c | awk '{printf "%s%s x%s", sep, $2, $1; sep=", "}')
		[ "$codes" = "201 x$M" ] || die "raw dry-run POSTs answered $codes (want 201 x$M)"
	}
	# timed MODE: seconds for one run of MODE
	timed() {
		local s e
		s=${EPOCHREALTIME/,/.}
		"$1"
		e=${EPOCHREALTIME/,/.}
		python3 -c "print(f'{$e - $s:.6f}')"
	}
	# warm-up: kubectl's discovery cache, the apiserver's CRD handlers, curl
	seq_apply_one() { kubectl -n bench-dry apply --dry-run=server -f "$d/one/1.yaml" >/dev/null; }
	seq_apply_one
	batch_apply
	raw_post
	: >"$d/times.tsv"
	local r mode t phase m0 v0 m1 v1
	for ((r = 1; r <= rounds; r++)); do
		for phase in without with; do
			if [ $phase = with ]; then
				register
				called 1
				m0=$(metric 'vecward_webhook_request_duration_seconds_sum{endpoint="mutate"}')
				v0=$(metric 'vecward_webhook_request_duration_seconds_sum{endpoint="validate"}')
				c0=$(metric 'vecward_webhook_request_duration_seconds_count{endpoint="mutate"}')
				d0=$(metric 'vecward_webhook_request_duration_seconds_count{endpoint="validate"}')
			fi
			for mode in seq_apply batch_apply raw_post; do
				t=$(timed $mode)
				printf '%s\t%s\t%s\t%s\n' "$r" "$phase" "$mode" "$t" >>"$d/times.tsv"
				say "dry-run round $r $phase webhook: $mode x$M in ${t}s"
			done
			if [ $phase = with ]; then
				m1=$(metric 'vecward_webhook_request_duration_seconds_sum{endpoint="mutate"}')
				v1=$(metric 'vecward_webhook_request_duration_seconds_sum{endpoint="validate"}')
				c1=$(metric 'vecward_webhook_request_duration_seconds_count{endpoint="mutate"}')
				d1=$(metric 'vecward_webhook_request_duration_seconds_count{endpoint="validate"}')
				printf '%s\tinproc\t%s\t%s\t%s\t%s\n' "$r" "$m0 $m1" "$v0 $v1" "$c0 $c1" "$d0 $d1" >>"$d/times.tsv"
				unregister
				called 0
			fi
		done
	done
	python3 - "$d/times.tsv" "$out_dir/dry-run.json" "$M" "$rounds" "$loadavg" "$(nproc)" \
		"$(kubectl version -o json 2>/dev/null | python3 -c 'import json,sys; v=json.load(sys.stdin); print(v["clientVersion"]["gitVersion"], v["serverVersion"]["gitVersion"])')" <<'EOF'
import json, sys, statistics
tsv, out, m, rounds, load, ncpu, versions = sys.argv[1:8]
m, rounds = int(m), int(rounds)
times, inproc = {}, {"mutate_s": 0.0, "validate_s": 0.0, "mutate_n": 0, "validate_n": 0}
for ln in open(tsv):
    f = ln.rstrip("\n").split("\t")
    if f[1] == "inproc":
        for key, pair in zip(("mutate_s", "validate_s", "mutate_n", "validate_n"), f[2:6]):
            a, b = map(float, pair.split())
            inproc[key] += b - a
        continue
    times.setdefault((f[2], f[1]), []).append(float(f[3]))
kv, sv = versions.split() if len(versions.split()) == 2 else ("?", "?")
modes = {
    "seq_apply": f"kubectl apply --dry-run=server, one kubectl process per Cluster, {m} in sequence",
    "batch_apply": f"kubectl apply --dry-run=server -f of {m} Clusters, one kubectl process",
    "raw_post": f"{m} POST ?dryRun=All by one curl over one keep-alive connection, in sequence",
}
short = {"seq_apply": "kubectl per apply", "batch_apply": "kubectl batch", "raw_post": "raw POST dryRun"}
calls = inproc["mutate_n"] + inproc["validate_n"]
# the with-phase requests the webhook saw: the timed ones (3 modes per round)
per_apply_ms = ((inproc["mutate_s"] + inproc["validate_s"]) * 1e3 / (calls / 2)) if calls else None
common = {"clusters_per_run": m, "rounds": rounds, "loadavg_at_start": load, "cpus": int(ncpu),
          "kubectl": kv, "apiserver": sv, "parallelism": "sequential (one request at a time)",
          "object": "examples/cluster.yaml renamed prod-N, its EncryptionKey present",
          "webhook": "mutate.vecward.io + validate.vecward.io, clientConfig.url https://127.0.0.1, failurePolicy Fail"}
context = dict(common, modes={}, webhook_own_ms_per_apply="time the webhook itself spent "
               "(mutate + validate, its /metrics) per apply with it registered; the rest of the "
               "difference is the API server calling it (TLS, HTTP, JSON)")
rows = []
for mode in ("seq_apply", "batch_apply", "raw_post"):
    wo = statistics.mean(times[(mode, "without")])
    wi = statistics.mean(times[(mode, "with")])
    r_wo, r_wi = m / wo, m / wi
    share = (wi - wo) / wi
    det = {"ms_per_apply": f"{wo / m * 1e3:.2f} -> {wi / m * 1e3:.2f}", "clusters": m, "rounds": rounds,
           "load": load.split()[0],
           "webhook_own_ms_per_apply": round(per_apply_ms, 3) if per_apply_ms else None}
    context["modes"][short[mode]] = {"how": modes[mode], "seconds_without": times[(mode, "without")],
                                     "seconds_with": times[(mode, "with")]}
    rows.append({"metric": f"dry-run applies/s without webhook ({short[mode]})", "value": round(r_wo, 3),
                 "unit": "applies/s", "floor": None, "ratio": None, "detail": det})
    rows.append({"metric": f"dry-run applies/s with webhook ({short[mode]})", "value": round(r_wi, 3),
                 "unit": "applies/s", "floor": round(r_wo, 3), "ratio": round(r_wi / r_wo, 3), "detail": det})
    rows.append({"metric": f"webhook share of apply time ({short[mode]})", "value": round(share * 100, 2),
                 "unit": "%", "floor": None, "ratio": None, "detail": det})
json.dump({"section": "dry-run", "rows": rows, "context": context}, open(out, "w"), indent=1)
print(f"dry-run: {m} Clusters per run, sequential, mean of {rounds} rounds; floor = without the webhook; "
      f"webhook in-process time {per_apply_ms:.3f} ms per apply (mutate+validate, its /metrics)"
      if per_apply_ms else f"dry-run: {m} Clusters per run")
for r in rows:
    fl = f"  floor {r['floor']:>9.3f}  ratio {r['ratio']:>6.4g}" if r["floor"] is not None else ""
    print(f"  {r['metric']:<52} {r['value']:>9.3f} {r['unit']:<10}" + fl +
          (f"  ({r['detail']['ms_per_apply']} ms per apply)" if r["unit"] == "%" else ""))
EOF
}

[ $do_wrk = 0 ] || bench_wrk
[ $do_dry = 0 ] || bench_dry
say "done in $((SECONDS - t0))s; logs in $run"
