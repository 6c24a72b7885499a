#!/usr/bin/env bash
# Issue 7 end to end: the Helm chart and the plain manifests on the real control plane,
# and least privilege proven with the chart's own credentials.
#
#   1. helm install into a fresh namespace that enforces Pod Security "restricted":
#      every object of the release exists, both Deployments become available (kwok
#      plays the pods), the CRDs come from the chart, both webhook configurations are
#      registered against the webhook Service, fail closed, without a caBundle.
#   2. The real vecward-webhook runs on this host with a token of the chart's webhook
#      ServiceAccount (TokenRequest API) and the args of the chart's Deployment: it
#      creates its Secret and writes caBundle into the chart's configurations.
#   3. helm upgrade with changed values changes the Deployment (replicas, args), adds
#      the operator's PodDisruptionBudget and changes the configurations, and keeps the
#      caBundle the webhook wrote (no rewrite needed either).
#   4. The real vecward-operator runs with a token of the chart's operator ServiceAccount
#      and the args of the chart's Deployment (leader election in the release
#      namespace); the webhook answers the API server for real. examples/ (a local
#      EncryptionKey, the Cluster, the User, against the Milvus test double) reach what
#      test_cluster/test_user reach: Secrets, ConfigMap, Deployment, Service, PVC, five
#      NetworkPolicies, every condition True, the User's credentials; root password
#      rotation; deletion of the User, the Cluster (recycle bin, purge) and the key. No
#      permission is missing: no "forbidden" in either log.
#   5. Removing one rule fails: without networkpolicies in the operator's ClusterRole
#      the operator logs "forbidden"; without namespaces in the webhook's, the webhook
#      (restarted: a running one answers from its namespace cache) can not decide and
#      refuses (VW000).
#   6. helm uninstall removes every object of the release (the CRDs and the webhook's
#      Secret stay, as documented).
#   7. kubectl apply -f manifests/ gives the same objects (kinds and names) as the chart.
#   8. watchNamespaces: one namespace, Roles only: the operator (--namespace) and the
#      webhook work there with their tokens, and can do nothing elsewhere.
. "$(dirname "$0")/lib.sh"

chart=$VW_ROOT/charts/vecward
rel=vecward
cfg=vecward-webhook # the webhook configurations of release "vecward"
sel=vecward-e2e/helm
work=$TMPDIR/helm
rm -rf "$work"
mkdir -p "$work"
chmod 700 "$work"
export HELM_CACHE_HOME=$work/helm-home/cache HELM_CONFIG_HOME=$work/helm-home/config \
	HELM_DATA_HOME=$work/helm-home/data # nothing under $HOME
. "$VW_CP/ports"                        # APISERVER_URL
wlog=$work/webhook.log
olog=$work/operator.log
wpid= opid= mpid= ns= pvs=()

stop() { # VAR: TERM the process whose pid is in $VAR, wait for it
	local p=${!1}
	if [ -n "$p" ]; then
		kill -TERM "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	fi
	printf -v "$1" '%s' ''
}
cleanup() {
	stop opid
	stop wpid
	stop mpid
	[ -z "$ns" ] || helm uninstall "$rel" -n "$ns" --wait --timeout 60s >/dev/null 2>&1 || true
	kubectl delete -f "$VW_ROOT/manifests/vecward.yaml" --ignore-not-found --wait=false >/dev/null 2>&1 || true
	kubectl delete mutatingwebhookconfiguration,validatingwebhookconfiguration "$cfg" --ignore-not-found >/dev/null 2>&1 || true
	kubectl delete clusterrole,clusterrolebinding vecward-operator vecward-operator-namespace vecward-webhook --ignore-not-found >/dev/null 2>&1 || true
	local pv
	for pv in ${pvs[@]+"${pvs[@]}"}; do kubectl delete pv "$pv" --wait=false >/dev/null 2>&1 || true; done
	kubectl delete namespace -l "$sel=true" --wait=false >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 143' TERM INT

fresh_ns() { # PREFIX: a namespace labelled for cleanup
	local n
	n=$(new_ns "$1")
	kubectl label namespace "$n" "$sel=true" >/dev/null
	echo "$n"
}

# sa_kubeconfig NS SA FILE: a kubeconfig that is ServiceAccount NS/SA and nothing else,
# with a token from the TokenRequest API
sa_kubeconfig() {
	local token
	token=$(kubectl create token "$2" -n "$1" --duration 1h) || fail "no token for ServiceAccount $1/$2"
	(umask 077 && cat >"$3" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: $APISERVER_URL
    certificate-authority-data: $(base64 -w0 "$VW_CP/pki/ca.crt")
users:
- name: $2
  user:
    token: $token
contexts:
- name: e2e
  context: {cluster: e2e, user: $2, namespace: $1}
current-context: e2e
EOF
	)
	expect_eq "$(kubectl --kubeconfig "$3" auth whoami -o jsonpath='{.status.userInfo.username}')" \
		"system:serviceaccount:$1:$2" "identity of the $2 token"
}

# deploy_args NS NAME: the args of the chart's container, one per line
deploy_args() {
	kubectl get deploy "$2" -n "$1" -o json | python3 -c '
import json, sys
print("\n".join(json.load(sys.stdin)["spec"]["template"]["spec"]["containers"][0]["args"]))'
}

# override --NAME=VALUE...: args on stdin (one per line), each --NAME replaced or appended
override() {
	python3 -c '
import sys
args = [a for a in sys.stdin.read().split("\n") if a]
for kv in sys.argv[1:]:
    k = kv.split("=", 1)[0]
    hit = [i for i, a in enumerate(args) if a.split("=", 1)[0] == k]
    if hit:
        args[hit[0]] = kv
    else:
        args.append(kv)
print("\n".join(args))' "$@"
}

# no_forbidden LOG WHAT: the API server refused nothing for lack of permission (a write
# into a namespace being deleted, left by an earlier test, is refused for that reason)
no_forbidden() {
	local hits
	hits=$(grep -i forbidden "$1" | grep -v 'because it is being terminated' || true)
	[ -z "$hits" ] || fail "$2 lacks a permission with the chart's RBAC: $(printf '%s\n' "$hits" | head -n 3)"
}

# can SA NS VERB RESOURCE [NAME] [-n NS2]: what the API server's authorizer says
can() {
	local sa=$1 relns=$2; shift 2
	kubectl auth can-i --as "system:serviceaccount:$relns:$sa" "$@" 2>/dev/null || true
}
expect_can() { expect_eq "$(can "$@")" yes "can-i $*"; }
expect_cannot() { expect_eq "$(can "$@")" no "can-i $*"; }

# claim_pv NS CLAIM: a PersistentVolume pre-bound to PVC NS/CLAIM (no provisioner here)
claim_pv() {
	pvs+=("pv-$1-$2")
	cat <<YAML | kubectl apply -f - >/dev/null
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv-$1-$2}
spec:
  capacity: {storage: 100Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  claimRef: {namespace: $1, name: $2}
  hostPath: {path: /nonexistent/$1/$2}
YAML
}

# writes_used SA ROLE...: every write (create, update, patch, delete) that the Roles and
# ClusterRoles ROLE... (kind/name[@ns]) grant SA was made by SA during this test, per
# the API server's audit log (it records writes only; a server-side apply that creates
# is a patch answered 201, and needs create). Prints what SA wrote, with counts.
writes_used() {
	local sa=$1 r rules=$work/rules-$1.json
	shift
	: >"$rules"
	for r in "$@"; do
		case $r in
			*@*) kubectl get "${r%@*}" -n "${r#*@}" -o json >>"$rules" ;;
			*) kubectl get "$r" -o json >>"$rules" ;;
		esac
	done
	python3 - "$VW_CP/logs/audit.log" "system:serviceaccount:$ns:$sa" "$rules" <<'PY'
import json, sys, collections
audit, user, rules_file = sys.argv[1:4]
dec, text, i, roles = json.JSONDecoder(), open(rules_file).read(), 0, []
while i < len(text):
    while i < len(text) and text[i].isspace():
        i += 1
    if i < len(text):
        o, i = dec.raw_decode(text, i)
        roles.append(o)
writes = {"create", "update", "patch", "delete"}
granted = set()
for role in roles:
    for r in role.get("rules", []):
        for g in r.get("apiGroups", []):
            for res in r.get("resources", []):
                for v in r.get("verbs", []):
                    if v in writes:
                        granted.add((v, (g + "/" if g else "") + res))
used = collections.Counter()
for line in open(audit):
    if user not in line:
        continue
    e = json.loads(line)
    if e["user"]["username"] != user or e["verb"] not in writes:
        continue
    if e.get("objectRef", {}).get("apiGroup") == "authentication.k8s.io":
        continue  # the test's own `kubectl auth whoami` with the token
    o, code = e.get("objectRef", {}), e.get("responseStatus", {}).get("code", 0)
    if code >= 400:
        continue
    res = (o.get("apiGroup") + "/" if o.get("apiGroup") else "") + o.get("resource", "")
    if o.get("subresource"):
        res += "/" + o["subresource"]
    used[(e["verb"], res)] += 1
    if e["verb"] == "patch" and code == 201:
        used[("create", res)] += 1
# checked by the OwnerReferencesPermissionEnforcement admission plugin (blockOwnerDeletion),
# which this API server does not run: granted, never requested
authz_only = {("update", "vecward.io/clusters/finalizers"), ("update", "vecward.io/users/finalizers")}
for k in sorted(used):
    print("  %-7s %-45s %d" % (k[0], k[1], used[k]))
unused = sorted(granted - set(used) - authz_only)
if unused:
    sys.exit("granted but never written: " + ", ".join("%s %s" % u for u in unused))
PY
}

cond() { kubectl get "$1" -n "$2" -o jsonpath="{.status.conditions[?(@.type==\"$3\")].$4}"; }
is_true() { test "$(cond "$1" "$2" "$3" status)" = True; }
sec() { kubectl get secret "$1" -n "$2" -o jsonpath="{.data.${3//./\\.}}" | base64 -d; }

# start_webhook RELNS: the webhook binary with the chart Deployment's args, its token,
# on 127.0.0.1 (port in $port), checking its certificate and caBundle every second
start_webhook() {
	local args
	sa_kubeconfig "$1" vecward-webhook "$work/webhook-$1.kubeconfig"
	mapfile -t args < <(deploy_args "$1" vecward-webhook | override --listen=127.0.0.1:0 \
		--cert-dir="$work/certs-$1" --bootstrap-interval=1 --reload-interval=1 \
		--bootstrap-ip=127.0.0.1 --kubeconfig="$work/webhook-$1.kubeconfig")
	: >"$wlog"
	echo "webhook: ${args[*]}"
	"${VW_WEBHOOK_BIN:-$VW_ROOT/bin/vecward-webhook}" "${args[@]}" >>"$wlog" 2>&1 &
	wpid=$!
	wait_for 20 "webhook serving" grep -q '"msg":"serving"' "$wlog"
	port=$(sed -n 's/.*"msg":"serving".*"port":"\([0-9]*\)".*/\1/p' "$wlog" | tail -n1)
	[ -n "$port" ] || fail "no port in the webhook log: $(cat "$wlog")"
}

# caBundle of every entry of both configurations equals $want
bundles_current() {
	local k b n
	for k in mutatingwebhookconfiguration validatingwebhookconfiguration; do
		n=0
		while read -r b; do [ "$b" = "$want" ] || return 1; n=$((n + 1)); done < <(
			kubectl get "$k" "$cfg" -o jsonpath='{range .webhooks[*]}{.clientConfig.caBundle}{"\n"}{end}')
		[ "$n" -gt 0 ] || return 1
	done
}

# route_to_host NS: the chart's configurations call the webhook on this host (pods can
# not run here), with the caBundle it wrote; then wait until the API server does (an
# insecure Cluster in NS, which has not opted in to insecure use, is refused)
route_to_host() {
	local k p
	for k in mutating:mutate validating:validate; do
		p=[{\"op\":\"replace\",\"path\":\"/webhooks/0/clientConfig\",\"value\":{\"url\":\"https://127.0.0.1:$port/${k#*:}\",\"caBundle\":\"$want\"}}]
		kubectl patch "${k%%:*}webhookconfiguration" "$cfg" --type json -p "$p" >/dev/null
	done
	calls_us() { # NS: an insecure Cluster is refused by the webhook
		local o
		o=$(printf 'apiVersion: vecward.io/v1alpha1\nkind: Cluster\nmetadata: {name: plain}\nspec: {tls: {mode: disabled}}\n' |
			kubectl apply -n "$1" -f - 2>&1) && { kubectl delete cluster plain -n "$1" --wait=false >/dev/null; return 1; }
		[[ $o == *VW001* ]]
	}
	wait_for 30 "the API server calls the webhook" calls_us "$1"
}

# start_operator RELNS EXTRA...: the operator binary with the chart Deployment's args
# and its token, plus EXTRA (test-only flags)
start_operator() {
	local relns=$1 args
	shift
	sa_kubeconfig "$relns" vecward-operator "$work/operator-$relns.kubeconfig"
	mapfile -t args < <(deploy_args "$relns" vecward-operator |
		override --kubeconfig="$work/operator-$relns.kubeconfig" --identity=helm-e2e "$@")
	: >"$olog"
	echo "operator: ${args[*]}"
	"${VW_OPERATOR_BIN:-$VW_ROOT/bin/vecward-operator}" "${args[@]}" >>"$olog" 2>&1 &
	opid=$!
	wait_for 30 "operator becomes leader" grep -q '"msg":"became leader: helm-e2e"' "$olog"
	expect_eq "$(kubectl get lease vecward-operator -n "$relns" -o jsonpath='{.spec.holderIdentity}')" \
		helm-e2e "Lease holder in the release namespace"
}

# ==== 1. helm install ====================================================================
ns=$(fresh_ns helm)
kubectl label namespace "$ns" pod-security.kubernetes.io/enforce=restricted \
	pod-security.kubernetes.io/enforce-version=latest >/dev/null
app=$(fresh_ns helm-app)
# examples/encryptionkey-local.yaml is a development key: its namespace must opt in
kubectl label namespace "$app" vecward.io/allow-insecure=true >/dev/null
out=$(helm install "$rel" "$chart" -n "$ns" --wait --timeout 120s 2>&1) || fail "helm install: $out"
expect_contains "$out" "STATUS: deployed" "helm install"
expect_contains "$out" "kubectl get validatingwebhookconfiguration $cfg" "NOTES.txt says what to check next"
expect_contains "$out" "examples/cluster.yaml" "NOTES.txt says what to apply"
for c in clusters users encryptionkeys; do
	kubectl wait --for condition=established --timeout=60s "crd/$c.vecward.io" >/dev/null ||
		fail "CRD $c.vecward.io not established"
done

helm get manifest "$rel" -n "$ns" >"$work/install.yaml"
kubectl get -f "$work/install.yaml" -o name >"$work/install.names" 2>"$work/install.err" ||
	fail "an object of the release is missing: $(cat "$work/install.err")"
expect_eq "$(wc -l <"$work/install.names")" "$(grep -c '^kind:' "$work/install.yaml")" "objects of the release"
for o in deployment.apps/vecward-operator deployment.apps/vecward-webhook service/vecward-webhook \
	serviceaccount/vecward-operator serviceaccount/vecward-webhook \
	poddisruptionbudget.policy/vecward-webhook \
	networkpolicy.networking.k8s.io/vecward-operator networkpolicy.networking.k8s.io/vecward-webhook \
	clusterrole.rbac.authorization.k8s.io/vecward-operator clusterrole.rbac.authorization.k8s.io/vecward-webhook \
	clusterrolebinding.rbac.authorization.k8s.io/vecward-operator \
	clusterrolebinding.rbac.authorization.k8s.io/vecward-webhook \
	role.rbac.authorization.k8s.io/vecward-operator-leader-election \
	role.rbac.authorization.k8s.io/vecward-webhook-certificate \
	rolebinding.rbac.authorization.k8s.io/vecward-operator-leader-election \
	rolebinding.rbac.authorization.k8s.io/vecward-webhook-certificate \
	mutatingwebhookconfiguration.admissionregistration.k8s.io/$cfg \
	validatingwebhookconfiguration.admissionregistration.k8s.io/$cfg; do
	grep -qxF "$o" "$work/install.names" || fail "$o not installed (have: $(tr '\n' ' ' <"$work/install.names"))"
done
# no wildcard in any rule, no binding to a role the chart does not define
python3 - "$work/install.yaml" <<'PY' || fail "the chart's RBAC has a wildcard or a foreign role"
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
roles = {(d["kind"], d["metadata"]["name"]) for d in docs if d["kind"] in ("Role", "ClusterRole")}
for d in docs:
    for r in d.get("rules", []) if d["kind"] in ("Role", "ClusterRole") else []:
        for f in ("apiGroups", "resources", "verbs", "resourceNames", "nonResourceURLs"):
            assert "*" not in r.get(f, []), (d["metadata"]["name"], r)
            assert not any("*" in x for x in r.get(f, [])), (d["metadata"]["name"], r)
    if d["kind"] in ("RoleBinding", "ClusterRoleBinding"):
        assert (d["roleRef"]["kind"], d["roleRef"]["name"]) in roles, d["roleRef"]
PY
# the namespace enforces "restricted": the pods were admitted, and kwok runs them
expect_eq "$(kubectl get deploy vecward-operator -n "$ns" -o jsonpath='{.status.availableReplicas}')" 1 "operator available"
expect_eq "$(kubectl get deploy vecward-webhook -n "$ns" -o jsonpath='{.status.availableReplicas}')" 2 "webhook available"
for k in mutatingwebhookconfiguration:mutate validatingwebhookconfiguration:validate; do
	got=$(kubectl get "${k%%:*}" "$cfg" -o jsonpath='{.webhooks[0].clientConfig.service.namespace}/{.webhooks[0].clientConfig.service.name}:{.webhooks[0].clientConfig.service.port}{.webhooks[0].clientConfig.service.path} {.webhooks[0].failurePolicy} {.webhooks[0].sideEffects} {.webhooks[0].rules[0].resources}')
	expect_eq "$got" "$ns/vecward-webhook:443/${k#*:} Fail None [\"clusters\",\"users\",\"encryptionkeys\"]" "${k%%:*} registered"
	expect_eq "$(kubectl get "${k%%:*}" "$cfg" -o jsonpath='{.webhooks[0].clientConfig.caBundle}')" "" "${k%%:*}: the chart sets no caBundle"
done
# the operator's pods carry the label the Milvus allow-operator NetworkPolicy admits
expect_eq "$(kubectl get deploy vecward-operator -n "$ns" -o jsonpath='{.spec.template.metadata.labels.app\.kubernetes\.io/name}')" \
	vecward-operator "operator pod label"

# what the authorizer allows the two ServiceAccounts (beyond what the binaries prove below)
expect_can vecward-operator "$ns" create networkpolicies -n "$app"
expect_can vecward-operator "$ns" patch clusters --subresource=status -n "$app"
expect_can vecward-operator "$ns" update leases/vecward-operator -n "$ns"
expect_cannot vecward-operator "$ns" update leases/other -n "$ns"
expect_cannot vecward-operator "$ns" create leases -n "$app"
for v in "delete deployments" "update secrets" "create pods" "get nodes" "delete clusters" \
	"create clusterroles" "watch secrets" "update clusters" "delete networkpolicies"; do
	# shellcheck disable=SC2086
	expect_cannot vecward-operator "$ns" $v -n "$app"
done
expect_cannot vecward-operator "$ns" '*' '*'
expect_can vecward-webhook "$ns" patch validatingwebhookconfigurations/"$cfg"
expect_cannot vecward-webhook "$ns" patch validatingwebhookconfigurations/other
expect_can vecward-webhook "$ns" patch secrets/vecward-webhook-tls -n "$ns"
expect_cannot vecward-webhook "$ns" patch secrets/other -n "$ns"
expect_cannot vecward-webhook "$ns" create secrets -n "$app"
for v in "list secrets" "create clusters" "patch clusters" "get users" "delete secrets"; do
	# shellcheck disable=SC2086
	expect_cannot vecward-webhook "$ns" $v -n "$app"
done

# ==== 2. the webhook with its ServiceAccount: certificate and caBundle ===================
start_webhook "$ns"
wait_for 20 "Secret vecward-webhook-tls" kubectl get secret vecward-webhook-tls -n "$ns"
expect_eq "$(kubectl get secret vecward-webhook-tls -n "$ns" -o jsonpath='{.type}')" kubernetes.io/tls "webhook Secret type"
want=$(kubectl get secret vecward-webhook-tls -n "$ns" -o jsonpath='{.data.ca\.crt}')
wait_for 20 "caBundle of the chart's configurations written by the webhook" bundles_current
sec vecward-webhook-tls "$ns" tls.crt >"$work/wh.crt"
sans=$(openssl x509 -in "$work/wh.crt" -noout -ext subjectAltName)
expect_contains "$sans" "DNS:vecward-webhook.$ns.svc" "serving certificate names the chart's Service"
# a damaged leaf is renewed with a patch of the Secret (the one name it may patch)
kubectl -n "$ns" patch secret vecward-webhook-tls --type merge \
	-p "{\"data\":{\"tls.crt\":\"$(printf 'not a certificate' | base64 -w0)\"}}" >/dev/null 2>&1
renewed() { [[ $(sec vecward-webhook-tls "$ns" tls.crt) == *"BEGIN CERTIFICATE"* ]]; }
wait_for 20 "the webhook renews its damaged certificate" renewed
no_forbidden "$wlog" "the webhook"

# ==== 3. helm upgrade ======================================================================
writes=$(grep -c '"msg":"caBundle updated"' "$wlog")
out=$(helm upgrade "$rel" "$chart" -n "$ns" --set operator.replicas=2 --set operator.logLevel=debug \
	--set webhook.timeoutSeconds=6 --wait --timeout 120s 2>&1) || fail "helm upgrade: $out"
expect_contains "$out" "REVISION: 2" "helm upgrade"
expect_eq "$(kubectl get deploy vecward-operator -n "$ns" -o jsonpath='{.spec.replicas}/{.status.availableReplicas}')" 2/2 "operator replicas after upgrade"
expect_contains "$(kubectl get deploy vecward-operator -n "$ns" -o jsonpath='{.spec.template.spec.containers[0].args}')" \
	"--log-level=debug" "operator args after upgrade"
kubectl get pdb vecward-operator -n "$ns" >/dev/null || fail "no operator PodDisruptionBudget with 2 replicas"
for k in mutatingwebhookconfiguration validatingwebhookconfiguration; do
	expect_eq "$(kubectl get "$k" "$cfg" -o jsonpath='{.webhooks[0].timeoutSeconds}')" 6 "$k timeoutSeconds after upgrade"
done
bundles_current || fail "helm upgrade changed the caBundle the webhook wrote"
sleep 3 # three bootstrap passes: none has anything to repair
expect_eq "$(grep -c '"msg":"caBundle updated"' "$wlog")" "$writes" "caBundle writes after helm upgrade"

# ==== 4. the operator with its ServiceAccount =============================================
route_to_host "$ns"
start_operator "$ns" --allow-milvus-connect-to --recycle-day-seconds=2
claim_pv "$app" prod-data
sed 's/name: dev-key/name: prod-key/' "$VW_ROOT/examples/encryptionkey-local.yaml" | kubectl apply -n "$app" -f - >/dev/null
kubectl apply -n "$app" -f "$VW_ROOT/examples/cluster.yaml" >/dev/null
wait_for 60 "EncryptionKey prod-key Ready" is_true encryptionkey/prod-key "$app" Ready
wait_for 90 "Cluster prod Ready" is_true cluster/prod "$app" Ready
for c in CertificatesReady CredentialsReady NetworkIsolated EncryptionReady; do
	expect_eq "$(cond cluster/prod "$app" "$c" status)" True "Cluster condition $c"
done
grep -q '"level":"debug"' "$olog" || fail "the operator does not run with the upgraded --log-level=debug"
for s in prod-ca prod-ca-cert prod-server-tls prod-root prod-zone-keys prod-key-root-key; do
	kubectl get secret "$s" -n "$app" >/dev/null || fail "Secret $s missing"
done
for k in configmap/prod-config service/prod pvc/prod-data deployment/prod networkpolicy/prod-default-deny \
	networkpolicy/prod-allow-clients networkpolicy/prod-allow-operator networkpolicy/prod-allow-metrics \
	networkpolicy/prod-allow-egress; do
	expect_eq "$(kubectl get "$k" -n "$app" -o jsonpath='{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}')" \
		Cluster/prod "$k owned by the Cluster"
done
expect_eq "$(kubectl get deploy prod -n "$app" -o jsonpath='{.status.availableReplicas}')" 1 "Milvus deployment available"
# the Milvus clusters admit the chart's operator pods (namespace and label) to REST
expect_eq "$(kubectl get networkpolicy prod-allow-operator -n "$app" -o jsonpath='{.spec.ingress[0].from[0].namespaceSelector.matchLabels.kubernetes\.io/metadata\.name} {.spec.ingress[0].from[0].podSelector.matchLabels.app\.kubernetes\.io/name}')" \
	"$ns vecward-operator" "allow-operator admits the chart's operator pods"
reasons=$(kubectl get events.events.k8s.io -n "$app" -o jsonpath='{range .items[*]}{.reason}{" "}{end}')
expect_contains " $reasons" " CAGenerated " "Events recorded by the operator"

# the User, against the Milvus REST test double serving the Cluster's certificate
sec prod-server-tls "$app" tls.crt >"$work/server.crt"
sec prod-server-tls "$app" tls.key >"$work/server.key"
sec prod-ca-cert "$app" ca.crt >"$work/ca.crt"
sec prod-root "$app" password >"$work/root.pw"
"${MILVUSD:-$VW_ROOT/bin/milvusd}" --listen 127.0.0.1:0 --port-file "$work/milvus.port" \
	--cert "$work/server.crt" --key "$work/server.key" --client-ca "$work/ca.crt" \
	--root-password-file "$work/root.pw" --super-users root \
	--state-file "$work/milvus.state" --log-file "$work/milvus.log" >>"$work/milvusd.out" 2>&1 &
mpid=$!
wait_for 10 "milvusd port" test -s "$work/milvus.port"
kubectl annotate cluster prod -n "$app" "vecward.io/milvus-connect-to=127.0.0.1:$(cat "$work/milvus.port")" >/dev/null
wait_for 60 "roles synced" is_true cluster/prod "$app" RolesSynced
kubectl apply -n "$app" -f "$VW_ROOT/examples/user.yaml" >/dev/null
wait_for 60 "User app-reader Ready" is_true user/app-reader "$app" Ready
for k in username password token uri ca.crt tls.crt tls.key; do
	[ -n "$(sec app-reader-credentials "$app" "$k")" ] || fail "credentials Secret lacks $k"
done
# root password rotation: a pending Secret, created, applied and deleted
kubectl annotate cluster prod -n "$app" vecward.io/rotate-password=r1 >/dev/null
wait_for 60 "root rotation r1 done" bash -c "test \"\$(kubectl get cluster prod -n $app -o jsonpath='{.status.rootPasswordRotationRequest}')\" = r1"
wait_for 30 "pending root Secret deleted" bash -c "! kubectl get secret prod-root-pending -n $app >/dev/null 2>&1"
# deletion: the User (finalizer, credentials), the Cluster (recycle bin, then the purge:
# list by label and delete), the key (finalizer)
kubectl delete user app-reader -n "$app" --wait=true --timeout=30s >/dev/null || fail "User not finalized"
kubectl patch cluster prod -n "$app" --type merge -p '{"spec":{"deletion":{"recycleBinDays":1}}}' >/dev/null
kubectl delete cluster prod -n "$app" --wait=true --timeout=30s >/dev/null || fail "Cluster not finalized"
wait_for 30 "recycle bin purged" bash -c "! kubectl get secret prod-root -n $app >/dev/null 2>&1"
grep -q '"msg":"purged from the recycle bin"' "$olog" || fail "no purge logged"
kubectl delete encryptionkey prod-key -n "$app" --wait=true --timeout=30s >/dev/null || fail "EncryptionKey not finalized"
no_forbidden "$olog" "the operator"
no_forbidden "$wlog" "the webhook"
if grep -qF -e "PRIVATE KEY" -e "Bearer" -e "$(cat "$work/root.pw")" "$olog" "$wlog"; then
	fail "a log contains credentials"
fi
# a development Cluster without TLS in the opted-in namespace: the operator's policy
# check reads the namespace's labels (and the webhook's did, to admit it)
claim_pv "$app" dev-data
out=$(printf 'apiVersion: vecward.io/v1alpha1\nkind: Cluster\nmetadata: {name: dev}\nspec: {tls: {mode: disabled}, deletion: {recycleBinDays: 0}}\n' |
	kubectl apply -n "$app" -f - 2>&1) || fail "dev Cluster refused: $out"
expect_contains "$out" "VW001" "tls disabled admitted with a warning in an opted-in namespace"
wait_for 60 "Cluster dev Ready" is_true cluster/dev "$app" Ready
kubectl delete cluster dev -n "$app" --wait=true --timeout=30s >/dev/null || fail "Cluster dev not finalized"
no_forbidden "$olog" "the operator"
no_forbidden "$wlog" "the webhook"
echo "writes of the operator (audit log):"
writes_used vecward-operator clusterrole/vecward-operator "role/vecward-operator-leader-election@$ns" ||
	fail "the operator's ClusterRole grants writes it never makes"
echo "writes of the webhook (audit log):"
writes_used vecward-webhook clusterrole/vecward-webhook "role/vecward-webhook-certificate@$ns" ||
	fail "the webhook's Roles grant writes it never makes"
echo "ok: operator and webhook work with the chart's ServiceAccounts, no permission missing, no write unused"

# ==== 5. one rule less: it fails ==========================================================
kubectl get clusterrole vecward-operator -o json | python3 -c '
import json, sys
r = json.load(sys.stdin)
r["rules"] = [x for x in r["rules"] if "networkpolicies" not in x.get("resources", [])]
print(json.dumps(r))' | kubectl replace -f - >/dev/null
printf 'apiVersion: vecward.io/v1alpha1\nkind: Cluster\nmetadata: {name: denied}\nspec: {deletion: {recycleBinDays: 0}}\n' |
	kubectl apply -n "$app" -f - >/dev/null
denied() { grep -i forbidden "$olog" | grep -c networkpolicies >/dev/null; }
wait_for 30 "the operator refused networkpolicies" denied
echo "without networkpolicies: $(grep -i forbidden "$olog" | grep networkpolicies | head -n1 | cut -c1-300)"
wait_for 30 "NetworkIsolated False" bash -c "test \"\$(kubectl get cluster denied -n $app -o jsonpath='{.status.conditions[?(@.type==\"NetworkIsolated\")].status}')\" = False"
kubectl get clusterrole vecward-webhook -o json | python3 -c '
import json, sys
r = json.load(sys.stdin)
r["rules"] = [x for x in r["rules"] if "namespaces" not in x.get("resources", [])]
print(json.dumps(r))' | kubectl replace -f - >/dev/null
# the running webhook answers namespace gets from its watch cache (--lookup-cache), whose
# watch was authorized when it began: a webhook started now can neither list nor get them
stop wpid
start_webhook "$ns"
for k in mutating:mutate validating:validate; do
	p=[{\"op\":\"replace\",\"path\":\"/webhooks/0/clientConfig\",\"value\":{\"url\":\"https://127.0.0.1:$port/${k#*:}\",\"caBundle\":\"$want\"}}]
	kubectl patch "${k%%:*}webhookconfiguration" "$cfg" --type json -p "$p" >/dev/null
done
refused() { # tls.mode disabled: is the namespace opted in? it can not read it
	local o
	o=$(printf 'apiVersion: vecward.io/v1alpha1\nkind: Cluster\nmetadata: {name: plain}\nspec: {tls: {mode: disabled}}\n' |
		kubectl apply -n "$ns" -f - 2>&1) && { kubectl delete cluster plain -n "$ns" --wait=false >/dev/null; return 1; }
	[[ $o == *VW000* && $o == *forbidden* ]]
}
wait_for 30 "the webhook can not decide without namespaces" refused
echo "without namespaces: $(printf 'apiVersion: vecward.io/v1alpha1\nkind: Cluster\nmetadata: {name: plain}\nspec: {tls: {mode: disabled}}\n' | kubectl apply -n "$ns" -f - 2>&1 | cut -c1-300)"
kubectl delete cluster denied -n "$app" --wait=true --timeout=30s >/dev/null || fail "Cluster denied not finalized"
stop opid
stop wpid
stop mpid

# ==== 6. helm uninstall =====================================================================
helm get manifest "$rel" -n "$ns" >"$work/upgraded.yaml"
out=$(helm uninstall "$rel" -n "$ns" --wait --timeout 60s 2>&1) || fail "helm uninstall: $out"
left=$(kubectl get -f "$work/upgraded.yaml" -o name --ignore-not-found 2>&1)
expect_eq "$left" "" "objects left after helm uninstall"
kubectl get crd clusters.vecward.io >/dev/null || fail "helm uninstall removed the CRDs (it must keep them)"
kubectl get secret vecward-webhook-tls -n "$ns" >/dev/null || fail "the webhook Secret is gone (NOTES say it stays)"
kubectl delete secret vecward-webhook-tls -n "$ns" >/dev/null

# ==== 7. kubectl apply -f manifests/: the same objects ======================================
{
	cat "$work/install.names"
	kubectl get -f "$chart/crds/" -o name
} | sort >"$work/helm.names"
kubectl apply -f "$VW_ROOT/manifests/" >"$work/apply.out" 2>&1 || fail "kubectl apply -f manifests/: $(cat "$work/apply.out")"
{
	kubectl get -f "$VW_ROOT/manifests/vecward.yaml" -o name | grep -v '^namespace/'
	kubectl get -f "$VW_ROOT/manifests/crds.yaml" -o name
} | sort >"$work/manifests.names"
diff -u "$work/helm.names" "$work/manifests.names" >"$work/names.diff" ||
	fail "manifests/ and the chart differ: $(cat "$work/names.diff")"
expect_eq "$(kubectl get namespace vecward-system -o jsonpath='{.metadata.labels.pod-security\.kubernetes\.io/enforce}')" \
	restricted "vecward-system enforces restricted"
kubectl wait --for condition=Available --timeout=60s deployment --all -n vecward-system >/dev/null ||
	fail "manifests/: Deployments not available in vecward-system"
kubectl delete -f "$VW_ROOT/manifests/vecward.yaml" --wait=false >/dev/null
echo "ok: manifests/ = the chart ($(wc -l <"$work/manifests.names") objects)"

# ==== 8. watchNamespaces: one namespace, Roles only ========================================
ns=$(fresh_ns helm-ns)
kubectl label namespace "$ns" pod-security.kubernetes.io/enforce=restricted >/dev/null
app2=$(fresh_ns helm-watched)
wait_for 30 "ClusterRole vecward-operator of the manifests gone" bash -c "! kubectl get clusterrole vecward-operator >/dev/null 2>&1"
out=$(helm install "$rel" "$chart" -n "$ns" --set "watchNamespaces={$app2}" --wait --timeout 120s 2>&1) ||
	fail "helm install (watchNamespaces): $out"
helm get manifest "$rel" -n "$ns" >"$work/ns.yaml"
grep -q 'kind: ClusterRole$' "$work/ns.yaml" || fail "no webhook ClusterRole"
kubectl get clusterrole vecward-operator >/dev/null 2>&1 && fail "the operator has a ClusterRole with watchNamespaces"
expect_eq "$(kubectl get role vecward-operator -n "$app2" -o name)" role.rbac.authorization.k8s.io/vecward-operator "operator Role in the watched namespace"
expect_contains "$(kubectl get deploy vecward-operator -n "$ns" -o jsonpath='{.spec.template.spec.containers[0].args}')" \
	"--namespace=$app2" "operator args with watchNamespaces"
expect_can vecward-operator "$ns" create secrets -n "$app2"
expect_cannot vecward-operator "$ns" get secrets -n "$app"
expect_cannot vecward-operator "$ns" list clusters --all-namespaces
expect_cannot vecward-operator "$ns" get namespaces/"$app"
expect_can vecward-operator "$ns" get namespaces/"$app2"
expect_cannot vecward-webhook "$ns" get secrets -n "$app"
expect_cannot vecward-webhook "$ns" get namespaces/"$app"
expect_can vecward-webhook "$ns" get namespaces/"$app2"
start_webhook "$ns"
want=$(kubectl get secret vecward-webhook-tls -n "$ns" -o jsonpath='{.data.ca\.crt}')
wait_for 20 "caBundle written (watchNamespaces)" bundles_current
route_to_host "$app2"
start_operator "$ns"
claim_pv "$app2" small-data
kubectl create secret generic small-pw -n "$app2" --from-literal=password='Str0ng-and-long-pass' >/dev/null
printf 'apiVersion: vecward.io/v1alpha1\nkind: Cluster\nmetadata: {name: small}\nspec: {deletion: {recycleBinDays: 0}, authentication: {rootPasswordSecretRef: {name: small-pw}}}\n' |
	kubectl apply -n "$app2" -f - >/dev/null
wait_for 60 "Cluster small Ready (watchNamespaces)" is_true cluster/small "$app2" Ready
for c in CertificatesReady CredentialsReady NetworkIsolated; do
	expect_eq "$(cond cluster/small "$app2" "$c" status)" True "Cluster small condition $c"
done
# a password the webhook reads and refuses (VW017): it may read the Secret
kubectl create secret generic weak-pw -n "$app2" --from-literal=password=short >/dev/null
expect_fail "weak root password" kubectl apply -n "$app2" -f - <<<'apiVersion: vecward.io/v1alpha1
kind: Cluster
metadata: {name: weak}
spec: {authentication: {rootPasswordSecretRef: {name: weak-pw}}}'
expect_contains "$OUT" VW017 "weak root password refused after reading the Secret"
kubectl delete cluster small -n "$app2" --wait=true --timeout=30s >/dev/null || fail "Cluster small not finalized"
no_forbidden "$olog" "the operator (watchNamespaces)"
no_forbidden "$wlog" "the webhook (watchNamespaces)"
stop opid
stop wpid
out=$(helm uninstall "$rel" -n "$ns" --wait --timeout 60s 2>&1) || fail "helm uninstall: $out"
left=$(kubectl get -f "$work/ns.yaml" -o name --ignore-not-found 2>&1)
expect_eq "$left" "" "objects left after helm uninstall (watchNamespaces)"
ns=
echo "ok: helm install/upgrade/uninstall, least privilege with the chart's credentials, manifests/ = chart"
