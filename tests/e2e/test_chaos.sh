#!/usr/bin/env bash
# Issue 8, fault tests (1): crash safety. The operator is SIGKILLed at random moments
# during a churn of Clusters, Users and zone keys, for VW_CHAOS_ROUNDS rounds, and
# restarted; then the state must equal the declared state.
#
#   - the world: an EncryptionKey (provider local), Cluster c1 (mutual TLS, custom roles)
#     and c2 (one-way TLS, roles, encrypted: zone keys), each with its own Milvus test
#     double (tests/milvusd) serving the Cluster's server certificate, and Cluster c3
#     (encrypted, no Milvus) that the churn creates and deletes, with or without the
#     recycle bin, so it is also re-created from the recycle bin;
#   - a round: 2-4 random actions (create or delete a User of c1 or c2, change its roles,
#     ask for a password rotation, a root-password rotation, a zone-key rotation, create
#     or delete c3), a random 0-3 s, a fingerprint snapshot of every credential, SIGKILL,
#     sometimes one more action while the operator is down, restart;
#   - credentials are followed by fingerprint only (sha256 prefixes, never a secret),
#     from a watch on the namespace's Secrets and the snapshots before each kill:
#     a CA, server key, client key, zone-key entry, local root key or pending password
#     never changes; a User's password and a Cluster's root password change only after
#     a rotation request, and exactly once per request; a Cluster re-created from the
#     recycle bin gets its kept CA, root password, zone keys and volume back;
#   - after the last restart (bounded waits): every declared User is Ready with its roles
#     and rotation handled, every Cluster and the key Ready; the vecward objects in the
#     namespace are exactly what the live Clusters, Users and key call for, owned by the
#     live objects, plus c3's recycle bin: nothing orphaned, nothing twice; one pod per
#     Cluster; every credentials Secret authenticates against its Milvus double (and its
#     client certificate is accepted on c1); each double's users are exactly the declared
#     Users plus root and one hand-made user, with exactly the declared roles, and its
#     roles exactly admin, public and Cluster.spec.roles; an idle resync writes nothing to
#     the apiserver and asks Milvus nothing; no password in the logs, Events or status.
#
# Environment: VW_CHAOS_ROUNDS (default 12), VW_CHAOS_SEED (replay: the seed is printed;
# it fixes every random choice, the operator's timing still varies), and
# VW_CHAOS_RSS_SECONDS (default 0: off): after the checks, a steady churn without kills for
# that long, sampling the operator's VmRSS every 10 s; fails when the RSS at the end
# exceeds the RSS after the first quarter (warm-up) by more than max(20%, 8 MiB); then the
# checks again. `make chaos` runs 60 rounds and 600 s.
. "$(dirname "$0")/lib.sh"

rounds=${VW_CHAOS_ROUNDS:-12}
seed=${VW_CHAOS_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
rss_seconds=${VW_CHAOS_RSS_SECONDS:-0}
OPERATOR=${VW_OPERATOR_BIN:-$VW_ROOT/bin/vecward-operator}
MILVUSD=${MILVUSD:-$VW_ROOT/bin/milvusd}
# the memory phase measures the release build: ASan's quarantine and shadow memory would
# make any sanitized build's RSS grow for minutes whatever the operator does
RSS_OPERATOR=${VW_CHAOS_RSS_BIN:-$VW_ROOT/bin/vecward-operator}
[[ $rounds =~ ^[0-9]+$ && $seed =~ ^[0-9]+$ && $rss_seconds =~ ^[0-9]+$ ]] ||
	fail "VW_CHAOS_ROUNDS, VW_CHAOS_SEED and VW_CHAOS_RSS_SECONDS must be numbers"
[ -x "$OPERATOR" ] || fail "missing $OPERATOR (run: make)"
[ -x "$MILVUSD" ] || fail "missing $MILVUSD (run: make bin/milvusd)"
[ "$rss_seconds" = 0 ] || [ -x "$RSS_OPERATOR" ] || fail "missing $RSS_OPERATOR (run: make)"
RANDOM=$seed # $RANDOM is only ever read in this shell (a subshell would reseed it)
echo "chaos: seed $seed (replay with VW_CHAOS_SEED=$seed), $rounds rounds, memory phase ${rss_seconds}s"
echo "chaos: operator ${OPERATOR#"$VW_ROOT"/}, milvusd ${MILVUSD#"$VW_ROOT"/}"
t_start=$SECONDS

kubectl apply -f "$VW_ROOT/crds/" >/dev/null
kubectl wait --for condition=established --timeout=60s crd/clusters.vecward.io crd/users.vecward.io \
	crd/encryptionkeys.vecward.io >/dev/null
ns=$(new_ns chaos)
work=$TMPDIR/chaos-$ns
mkdir -p "$work"
chmod 700 "$work"
log=$work/operator.log
audit=$VW_CP/logs/audit.log
actions=$work/actions.tsv # what the test asked for, with resourceVersions (for the checker)
: >"$actions"
echo "chaos: namespace $ns, work dir $work"

# ---- the checker: fingerprints, states, expectations (never prints a secret) -------------
cat >"$work/chaos.py" <<'PY'
import base64, hashlib, json, os, signal, subprocess, sys, threading, time
from collections import defaultdict

MANAGED = "app.kubernetes.io/managed-by"
PURGE = "vecward.io/purge-after"
RECYCLED = "vecward.io/recycled-uid"
KINDS = ("Secret", "ConfigMap", "Service", "Deployment", "StatefulSet", "NetworkPolicy",
         "PersistentVolumeClaim")
NETPOLS = ("default-deny", "allow-clients", "allow-operator", "allow-metrics", "allow-egress")
# Secret name suffix -> fields that must never change while the Secret (uid) lives
SUFFIXES = ("-password-pending", "-root-pending", "-root-key", "-credentials", "-server-tls",
            "-zone-keys", "-ca-cert", "-root", "-ca")
IMMUTABLE = {"password-pending": {"password"}, "root-pending": {"password"},
             "root-key": None, "credentials": {"tls.crt", "tls.key"},
             "server-tls": {"tls.crt", "tls.key"}, "zone-keys": None,
             "ca-cert": {"ca.crt"}, "ca": {"ca.crt", "ca.key"}, "root": set()}


def md(o):
    return o.get("metadata") or {}


def is_vw(o):
    if (md(o).get("labels") or {}).get(MANAGED) == "vecward":
        return True
    return any((r.get("apiVersion") or "").startswith("vecward.io/")
               for r in md(o).get("ownerReferences") or [])


def owners(o):
    return [r.get("uid") for r in md(o).get("ownerReferences") or []]


def fp(b64):
    return hashlib.sha256(base64.b64decode(b64)).hexdigest()[:16]


def category(name):
    for s in SUFFIXES:
        if name.endswith(s):
            return s[1:], name[:-len(s)]
    return None, name


def secret_lines(tag, ev, o):
    m = md(o)
    base = [tag, m.get("resourceVersion", "0"), ev, m["name"], m["uid"],
            (owners(o) or ["-"])[0]]
    data = o.get("data") or {}
    if ev == "DELETED" or not data:
        return ["\t".join(base + ["-", "-"])]
    return ["\t".join(base + [k, fp(data[k])]) for k in sorted(data)]


def cond(o, t):
    for c in (o.get("status") or {}).get("conditions") or []:
        if c.get("type") == t:
            return c.get("status"), c.get("reason")
    return None, None


def armed_kill(path, ev, name):
    """A kill at a chosen moment: PATH.arm holds "PID EVENT"; SIGKILL PID as soon as a
    pending-password Secret sees EVENT (ADDED: a rotation starts; DELETED: it ends)."""
    arm = path + ".arm"
    if not name.endswith("-pending") or not os.path.exists(arm):
        return
    try:
        pid, want = open(arm).read().split()
        if want == ev:
            os.unlink(arm)
            os.kill(int(pid), signal.SIGKILL)
    except (OSError, ValueError):
        pass


def cmd_watch(ns, path):
    """Every version of every vecward Secret, as fingerprints, until SIGTERM."""
    child = []

    def term(*_):
        for p in child:
            p.kill()
        sys.exit(0)
    signal.signal(signal.SIGTERM, term)
    parent = os.getppid()

    def orphaned():  # the test is gone (killed): do not outlive it
        while os.getppid() == parent:
            time.sleep(1)
        for p in child:
            p.kill()
        os._exit(0)
    threading.Thread(target=orphaned, daemon=True).start()
    with open(path, "a", buffering=1) as f, open(path + ".err", "a") as err:
        for attempt in range(100):
            if attempt:
                f.write("#restart\n")  # the checker knows versions may have been missed
            p = subprocess.Popen(["kubectl", "get", "secrets", "-n", ns, "-w",
                                  "--output-watch-events", "-o", "json"],
                                 stdout=subprocess.PIPE, stderr=err, text=True)
            child[:] = [p]
            acc = ""
            for line in p.stdout:  # one event a line (or pretty-printed: gather)
                acc += line
                try:
                    ev = json.loads(acc)
                except ValueError:
                    continue
                acc = ""
                o = ev.get("object") or {}
                if o.get("kind") == "Secret" and is_vw(o):
                    for l in secret_lines("watch", ev.get("type", "?"), o):
                        f.write(l + "\n")
                    armed_kill(path, ev.get("type"), md(o).get("name", ""))
            p.wait()
            time.sleep(min(5, 0.5 * (attempt + 1)))


def cmd_snap(tag):
    """A Secret list on stdin -> fingerprint lines."""
    for o in json.load(sys.stdin)["items"]:
        o.setdefault("kind", "Secret")
        if is_vw(o):
            for l in secret_lines(tag, "SNAP", o):
                print(l)


def cmd_state():
    """Users, Clusters, EncryptionKeys on stdin -> KIND NAME UID DELETING READY HANDLED."""
    for o in json.load(sys.stdin)["items"]:
        st = o.get("status") or {}
        handled = {"User": st.get("passwordRotationRequest"),
                   "Cluster": st.get("rootPasswordRotationRequest"),
                   "EncryptionKey": st.get("zoneKeyRotationRequest")}.get(o["kind"])
        print(o["kind"], md(o)["name"], md(o)["uid"], int("deletionTimestamp" in md(o)),
              int(cond(o, "Ready")[0] == "True"), handled or "-")


def load_actions(path):
    acts = []
    for line in open(path):
        f = line.rstrip("\n").split("\t")
        acts.append(f)
    return acts


def load_obs(paths):
    """uid -> rv -> {name, owner, ev, fields}; and whether the watch had gaps."""
    obs, gaps = defaultdict(dict), False
    for path in paths:
        if not os.path.exists(path):
            continue
        for line in open(path):
            if line.startswith("#"):
                gaps = True
                continue
            f = line.rstrip("\n").split("\t")
            if len(f) != 8:
                continue
            _, rv, ev, name, uid, owner, k, h = f
            e = obs[uid].setdefault(int(rv), {"name": name, "owner": owner, "ev": ev, "fields": {}})
            if ev == "DELETED":
                e["ev"] = "DELETED"
            if k != "-":
                e["fields"][k] = h
    return obs, gaps


def cmd_check(watch, snaps, actions, final=None):
    """The fingerprint rules over everything observed so far; final: the live Users and
    Clusters, whose requests must all have been answered exactly once."""
    obs, gaps = load_obs([watch, snaps])
    acts = load_actions(actions)
    bad = []
    user_req = defaultdict(list)  # user uid -> [rv]
    root_req = defaultdict(list)  # cluster name -> [rv]
    zone_req = []
    expect = {}                   # cluster uid -> {secret name: uid}
    for a in acts:
        if a[0] == "rotate-user":
            user_req[a[2]].append(int(a[1]))
        elif a[0] == "rotate-root":
            root_req[a[2]].append(int(a[1]))
        elif a[0] == "rotate-zones":
            zone_req.append(int(a[1]))
        elif a[0] == "create-c3":
            expect[a[2]] = {n: u for n, u in zip(("c3-root", "c3-ca", "c3-zone-keys"), a[4:7])
                            if u != "-"}
    pw_seq = defaultdict(list)   # user uid -> [(rv, fp, secret)]
    root_changes = {}
    for uid, versions in obs.items():
        rvs = sorted(versions)
        name = versions[rvs[0]]["name"]
        cat, base = category(name)
        if cat is None:
            continue
        prev = None
        for rv in rvs:
            v = versions[rv]
            if v["ev"] == "DELETED":
                break
            # a Cluster re-created from the recycle bin: its kept Secret, not a new one
            want = expect.get(v["owner"], {}).get(name)
            if want and want != uid:
                bad.append(f"Secret {name}: Cluster incarnation {v['owner']} got a new Secret "
                           f"{uid}, not {want} kept in the recycle bin")
            if cat == "credentials" and "password" in v["fields"]:
                pw_seq[v["owner"]].append((rv, v["fields"]["password"], name))
            if prev is not None:
                fields = IMMUTABLE[cat]
                keys = set(prev["fields"]) if fields is None else fields
                for k in sorted(keys):
                    a, b = prev["fields"].get(k), v["fields"].get(k)
                    if a is not None and a != b:
                        bad.append(f"Secret {name} (uid {uid[:8]}): {k} "
                                   f"{'removed' if b is None else 'changed'} at rv {rv} "
                                   "(never regenerated, never replaced)")
                if cat == "root":
                    a, b = prev["fields"].get("password"), v["fields"].get("password")
                    if a and b and a != b:
                        n = root_changes.get(uid, 0) + 1
                        root_changes[uid] = n
                        allowed = sum(1 for r in root_req[base] if r < rv)
                        if n > allowed:
                            bad.append(f"Secret {name}: root password change #{n} at rv {rv} "
                                       f"with only {allowed} rotation request(s) before it")
            prev = v
    user_changes = {}
    for owner, seq in pw_seq.items():
        seq.sort()
        n, last = 0, None
        for rv, h, name in seq:
            if last is not None and h != last:
                n += 1
                allowed = sum(1 for r in user_req[owner] if r < rv)
                if n > allowed:
                    bad.append(f"Secret {name} (User {owner[:8]}): password change #{n} at rv "
                               f"{rv} with only {allowed} rotation request(s) before it")
            last = h
        user_changes[owner] = n
    if final:
        live = [l.split() for l in open(final) if l.strip()]
        for kind, name, uid in live:
            if kind == "User":
                want, got = len(user_req[uid]), user_changes.get(uid, 0)
                if got != want and not (gaps and got < want):
                    bad.append(f"User {name}: {want} rotation request(s), {got} password "
                               "change(s): each request must change the password exactly once")
            elif kind == "Cluster" and name in ("c1", "c2"):
                root = [u for u, vs in obs.items() if vs[min(vs)]["name"] == name + "-root"
                        and all(v["ev"] != "DELETED" for v in vs.values())]
                got = sum(root_changes.get(u, 0) for u in root)
                want = len(root_req[name])
                if got != want and not (gaps and got < want):
                    bad.append(f"Cluster {name}: {want} root rotation request(s), {got} root "
                               "password change(s)")
            elif kind == "ZoneKeys":  # c2's zone keys: one version per request and database
                for uid_, vs in obs.items():
                    last = vs[max(vs)]
                    if last["name"] != name or last["ev"] == "DELETED":
                        continue
                    per_db = defaultdict(int)
                    for k in last["fields"]:
                        per_db[k.rsplit(".v", 1)[0]] += 1
                    for db, n in sorted(per_db.items()):
                        if n != 1 + len(zone_req):
                            bad.append(f"Secret {name}: database {db} has {n} zone-key "
                                       f"version(s), want 1 + {len(zone_req)} request(s)")
    for b in bad[:20]:
        print("fingerprints:", b)
    if gaps:
        print("note: the Secret watch restarted; versions between may be missed", file=sys.stderr)
    sys.exit(1 if bad else 0)


def cmd_converged(model_path, dump_path, final_out):
    """The declared model vs everything in the namespace: first problems, exit 1."""
    users, clusters, key_token, root_tok = {}, {}, None, {}
    for line in open(model_path):
        f = line.split()
        if not f:
            continue
        if f[0] == "user":
            users[f[1]] = {"cluster": f[2], "token": None if f[3] == "-" else f[3],
                           "roles": sorted(f[4:])}
        elif f[0] == "cluster":
            clusters[f[1]] = {"token": None if f[2] == "-" else f[2], "enc": f[3] == "1",
                              "roles": f[4] == "1"}
        elif f[0] == "key":
            key_token = None if f[2] == "-" else f[2]
    items = json.load(open(dump_path))["items"]
    by = defaultdict(dict)
    for o in items:
        by[o["kind"]][md(o)["name"]] = o
    p = []
    for kind in ("User", "Cluster", "EncryptionKey"):
        for n, o in by[kind].items():
            if "deletionTimestamp" in md(o):
                p.append(f"{kind} {n} is still being deleted")
    if set(by["User"]) != set(users):
        p.append(f"Users {sorted(by['User'])}, declared {sorted(users)}")
    if set(by["Cluster"]) != set(clusters):
        p.append(f"Clusters {sorted(by['Cluster'])}, declared {sorted(clusters)}")
    for n, want in users.items():
        o = by["User"].get(n)
        if not o:
            continue
        st = o.get("status") or {}
        if cond(o, "Ready")[0] != "True":
            p.append(f"User {n} not Ready: {cond(o, 'Ready')[1]}")
        if st.get("observedGeneration") != md(o).get("generation"):
            p.append(f"User {n}: observedGeneration {st.get('observedGeneration')} of "
                     f"{md(o).get('generation')}")
        if sorted(st.get("roles") or []) != want["roles"]:
            p.append(f"User {n}: status.roles {st.get('roles')}, declared {want['roles']}")
        if want["token"] and st.get("passwordRotationRequest") != want["token"]:
            p.append(f"User {n}: rotation {want['token']} not handled "
                     f"({st.get('passwordRotationRequest')})")
    for n, want in clusters.items():
        o = by["Cluster"].get(n)
        if not o:
            continue
        st = o.get("status") or {}
        for t in ["Ready", "CertificatesReady", "CredentialsReady", "NetworkIsolated"] + \
                (["EncryptionReady"] if want["enc"] else []) + (["RolesSynced"] if want["roles"] else []):
            if cond(o, t)[0] != "True":
                p.append(f"Cluster {n}: {t} is not True ({cond(o, t)[1]})")
        if st.get("observedGeneration") != md(o).get("generation"):
            p.append(f"Cluster {n}: observedGeneration behind")
        if want["token"] and st.get("rootPasswordRotationRequest") != want["token"]:
            p.append(f"Cluster {n}: root rotation {want['token']} not handled")
    for n, o in by["EncryptionKey"].items():
        if cond(o, "Ready")[0] != "True":
            p.append(f"EncryptionKey {n} not Ready: {cond(o, 'Ready')[1]}")
        if key_token and (o.get("status") or {}).get("zoneKeyRotationRequest") != key_token:
            p.append(f"EncryptionKey {n}: zone-key rotation {key_token} not handled")
    # the objects: exactly what the live resources call for, owned by them
    cuid = {n: md(o)["uid"] for n, o in by["Cluster"].items()}
    uuid = {n: md(o)["uid"] for n, o in by["User"].items()}
    want = {}
    for c in clusters:
        if c not in cuid:
            continue
        for s in ("ca", "ca-cert", "server-tls", "root") + (("zone-keys",) if clusters[c]["enc"] else ()):
            want[("Secret", f"{c}-{s}")] = cuid[c]
        want[("ConfigMap", f"{c}-config")] = cuid[c]
        want[("Service", c)] = cuid[c]
        want[("Deployment", c)] = cuid[c]
        want[("PersistentVolumeClaim", f"{c}-data")] = cuid[c]
        for np in NETPOLS:
            want[("NetworkPolicy", f"{c}-{np}")] = cuid[c]
    for u in users:
        if u in uuid:
            want[("Secret", f"{u}-credentials")] = uuid[u]
    for k in by["EncryptionKey"]:
        want[("Secret", f"{k}-root-key")] = None
    recycled = 0
    for kind in KINDS:
        for n, o in by[kind].items():
            if not is_vw(o):
                continue
            key = (kind, n)
            lab = md(o).get("labels") or {}
            own = owners(o)
            if key in want:
                w = want.pop(key)
                if w is None:
                    if own:
                        p.append(f"{kind} {n} should have no owner, has {own}")
                elif own != [w]:
                    p.append(f"{kind} {n}: owners {own}, want only the live owner {w}")
                if PURGE in lab:
                    p.append(f"{kind} {n} of a live resource still carries {PURGE}")
                continue
            cat, base = category(n)
            if (not own and PURGE in lab and lab.get(RECYCLED) and base not in cuid and
                    lab[RECYCLED] not in cuid.values() and
                    (kind == "PersistentVolumeClaim" and n.endswith("-data") or
                     kind == "Secret" and cat in ("root", "ca", "zone-keys"))):
                recycled += 1
                continue
            why = "owned by " + ",".join(own) if own else "no owner"
            p.append(f"orphan or duplicate: {kind} {n} ({why}, labels {sorted(lab)})")
    for kind, n in sorted(want):
        p.append(f"missing: {kind} {n}")
    pods = defaultdict(list)
    for n, o in by["Pod"].items():
        c = (md(o).get("labels") or {}).get("vecward.io/cluster")
        if c:
            pods[c].append(o)
    for c in set(pods) | set(cuid):
        live = [o for o in pods.get(c, []) if "deletionTimestamp" not in md(o)]
        if c not in cuid and pods.get(c):
            p.append(f"pods of Cluster {c}, which is gone: {len(pods[c])}")
        elif c in cuid and (len(pods.get(c, [])) != 1 or len(live) != 1 or
                            (live[0].get("status") or {}).get("phase") != "Running"):
            p.append(f"Cluster {c}: {len(pods.get(c, []))} pod(s), want one Running")
    if p:
        print("; ".join(p[:8]) + (f" (+{len(p) - 8} more)" if len(p) > 8 else ""))
        sys.exit(1)
    with open(final_out, "w") as f:
        for n, o in by["User"].items():
            f.write(f"User {n} {md(o)['uid']}\n")
        for n, o in by["Cluster"].items():
            f.write(f"Cluster {n} {md(o)['uid']}\n")
        f.write("ZoneKeys c2-zone-keys -\n")
    print(f"converged: {len(users)} User(s), {len(clusters)} Cluster(s), "
          f"{recycled} object(s) in the recycle bin")


def cmd_milvus_list(out, want):
    """A users/list or roles/list answer equals the space-separated set want."""
    r = json.loads(out)
    got = sorted(r.get("data") or []) if r.get("code") == 0 else None
    if got != sorted(want.split()):
        print(f"got {got if got is not None else out[:200]}, want {sorted(want.split())}")
        sys.exit(1)


def cmd_leaks(secrets_json, *files):
    """No password or key of a vecward Secret appears in the given files."""
    vals = set()
    for o in json.load(open(secrets_json))["items"]:
        if not is_vw(o):
            continue
        for k, v in (o.get("data") or {}).items():
            if k in ("password", "token", "ca.key", "tls.key"):
                s = base64.b64decode(v).decode("utf-8", "replace")
                if k == "token":
                    s = s.split(":", 1)[-1]
                for line in s.splitlines():
                    if len(line) >= 16 and not line.startswith("-----"):
                        vals.add(line)
    for path in files:
        data = open(path, errors="replace").read()
        for v in vals:
            if v in data:
                print(f"a secret value appears in {os.path.basename(path)}")
                sys.exit(1)
    print(f"no leak: {len(vals)} secret value(s) searched in {len(files)} file(s)")


cmd, args = sys.argv[1], sys.argv[2:]
{"watch": cmd_watch, "snap": cmd_snap, "state": cmd_state, "check": cmd_check,
 "converged": cmd_converged, "milvus-list": cmd_milvus_list, "leaks": cmd_leaks}[cmd](*args)
PY
chaos() { python3 "$work/chaos.py" "$@"; }

# ---- processes ------------------------------------------------------------------------------
opid= wpid=
declare -A mpid=() mport=()
start_operator() { # [BINARY]
	"${1:-$OPERATOR}" --kubeconfig "$KUBECONFIG" --namespace "$ns" --leader-elect false --resync 3 \
		--workers 4 --allow-milvus-connect-to --log-level debug >>"$log" 2>&1 &
	opid=$!
}
alive() { [ -r "/proc/$1/stat" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat")" != Z ]; } # a zombie is dead
kill_operator() { [ -z "$opid" ] || { kill -9 "$opid" 2>/dev/null || true; wait "$opid" 2>/dev/null || true; opid=; }; }
cleanup() { # SIGTERM at the end, so a sanitized build reports its leaks (lib.sh stop_pid)
	stop_pid "$opid" || true
	for c in "${!mpid[@]}"; do stop_pid "${mpid[$c]}" || true; done
	stop_pid "$wpid" 5 || true
	kubectl delete pv -l "vecward-chaos=$ns" --wait=false >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 143' TERM INT # (timeout) the EXIT trap stops what the test started

pvn=0
pv() { # a fresh PersistentVolume pre-bound to PVC ns/CLAIM (there is no provisioner)
	pvn=$((pvn + 1))
	cat <<YAML | kubectl apply -f - >/dev/null
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv-$ns-$pvn, labels: {vecward-chaos: $ns}}
spec:
  capacity: {storage: 100Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  claimRef: {namespace: $ns, name: $1}
  hostPath: {path: /nonexistent/$ns-$pvn}
YAML
}
sec() { kubectl get secret "$1" -n "$ns" -o jsonpath="{.data.${2//./\\.}}" | base64 -d; }
cond() { kubectl get "$1" -n "$ns" -o jsonpath="{.status.conditions[?(@.type==\"$2\")].status}"; }
is_true() { test "$(cond "$1" "$2")" = True; }
act() { local IFS=$'\t'; echo "$*" >>"$actions"; } # act KIND RV ...: for the checker

# ---- the world -------------------------------------------------------------------------------
python3 "$work/chaos.py" watch "$ns" "$work/watch.tsv" & # not through chaos(): stop_pid needs python's pid
wpid=$!
pv c1-data
pv c2-data
cat >"$work/world.yaml" <<EOF
apiVersion: vecward.io/v1alpha1
kind: EncryptionKey
metadata: {name: chaos-key}
spec: {provider: local, region: us-east-1}
---
apiVersion: vecward.io/v1alpha1
kind: Cluster
metadata: {name: c1}
spec:
  version: v2.6.0
  region: us-east-1
  tls: {mode: mutual}
  roles:
    - {name: reader, privilegeGroups: [CollectionReadOnly]}
    - name: ingest
      privileges: [{name: Insert, database: default, collection: docs}]
  deletion: {recycleBinDays: 0}
---
apiVersion: vecward.io/v1alpha1
kind: Cluster
metadata: {name: c2}
spec:
  version: v2.6.0
  region: us-east-1
  tls: {mode: server}
  encryption:
    keyRef: {name: chaos-key}
    databases: [default, embeddings]
  roles:
    - {name: reader, privilegeGroups: [CollectionReadOnly]}
    - {name: writer, privilegeGroups: [CollectionReadWrite]}
  deletion: {recycleBinDays: 0}
EOF
start_operator
kubectl apply -n "$ns" -f "$work/world.yaml" >/dev/null
for c in c1 c2; do wait_for 90 "Cluster $c Ready" is_true "cluster/$c" Ready; done
wait_for 60 "Cluster c2 EncryptionReady" is_true cluster/c2 EncryptionReady

# the Milvus doubles, with each Cluster's own server certificate and root password
for c in c1 c2; do
	sec "$c-server-tls" tls.crt >"$work/$c-server.crt"
	sec "$c-server-tls" tls.key >"$work/$c-server.key"
	sec "$c-ca-cert" ca.crt >"$work/$c-ca.crt"
	sec "$c-root" password >"$work/$c-root.pw"
	extra=()
	[ "$c" = c1 ] && extra=(--client-ca "$work/c1-ca.crt")
	"$MILVUSD" --listen 127.0.0.1:0 --port-file "$work/$c-milvus.port" \
		--cert "$work/$c-server.crt" --key "$work/$c-server.key" "${extra[@]}" \
		--root-password-file "$work/$c-root.pw" --super-users root --max-users 4096 --max-roles 64 \
		--state-file "$work/$c-milvus.state" --log-file "$work/$c-milvus.log" >>"$work/milvusd.out" 2>&1 &
	mpid[$c]=$!
	wait_for 10 "milvusd of $c" test -s "$work/$c-milvus.port"
	mport[$c]=$(cat "$work/$c-milvus.port")
	rm -f "$work/$c-root.pw" "$work/$c-server.key"
	kubectl annotate cluster "$c" -n "$ns" "vecward.io/milvus-connect-to=127.0.0.1:${mport[$c]}" >/dev/null
done
# a client certificate of the test from c1's CA (c1 wants one from every client)
sec c1-ca ca.crt >"$work/c1-ca-only.crt"
(umask 077 && sec c1-ca ca.key >"$work/c1-ca.key")
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=chaos-test \
	-keyout "$work/test.key" -out "$work/test.csr" 2>/dev/null
printf 'extendedKeyUsage=clientAuth\n' >"$work/test.ext"
openssl x509 -req -in "$work/test.csr" -CA "$work/c1-ca-only.crt" -CAkey "$work/c1-ca.key" \
	-CAcreateserial -days 1 -extfile "$work/test.ext" -out "$work/test.crt" 2>/dev/null ||
	fail "cannot sign the test's client certificate"
rm -f "$work/c1-ca.key"

# mcall CLUSTER HEADERFILE PATH BODY [CERT KEY]: a REST call to CLUSTER's double; the
# Authorization header comes from a file, so no password is ever on a command line
mcall() {
	local c=$1 h=$2 path=$3 body=$4 tls=()
	if [ $# -ge 6 ]; then tls=(--cert "$5" --key "$6"); elif [ "$c" = c1 ]; then tls=(--cert "$work/test.crt" --key "$work/test.key"); fi
	curl -sS --max-time 20 --cacert "$work/$c-ca.crt" "${tls[@]}" \
		--connect-to "$c.$ns.svc:8080:127.0.0.1:${mport[$c]}" -H @"$h" \
		-H 'Content-Type: application/json' -d "$body" "https://$c.$ns.svc:8080/v2/vectordb/$path"
}
roothdr() { printf 'Authorization: Bearer root:%s\n' "$(sec "$1-root" password)" >"$work/root.hdr"; }
for c in c1 c2; do wait_for 60 "roles of $c synced" is_true "cluster/$c" RolesSynced; done
# a user made by hand in c1's Milvus: never touched
roothdr c1
printf 'Authorization: Bearer handmade:Hand-made-pass1\n' >"$work/handmade.hdr"
expect_contains "$(mcall c1 "$work/root.hdr" users/create '{"userName":"handmade","password":"Hand-made-pass1"}')" \
	'"code":0' "a hand-made Milvus user"

# ---- the declared model and the churn --------------------------------------------------------
# Users: c1u0..c1u4 (mutual TLS: client certificates), c2u0..c2u4 (one-way TLS)
pool=(c1u0 c1u1 c1u2 c1u3 c1u4 c2u0 c2u1 c2u2 c2u3 c2u4)
declare -A roles=() utok=() rtok=([c1]=- [c2]=-) croles=([c1]="reader ingest" [c2]="reader writer")
ztok=- c3=absent c3days=0 nact=0 pending_soon=
declare -A kuid=() kdel=() kready=() khand=()
refresh() { # what exists now: kuid/kdel/kready/khand by KIND/NAME
	local kind name uid del ready hand
	kuid=() kdel=() kready=() khand=()
	while read -r kind name uid del ready hand; do
		kuid[$kind/$name]=$uid kdel[$kind/$name]=$del kready[$kind/$name]=$ready khand[$kind/$name]=$hand
	done < <(kubectl get users,clusters,encryptionkeys -n "$ns" -o json | chaos state)
}
R=0
rnd() { R=$((RANDOM % $1)); } # never in a subshell
pick_roles() { # sets PICKED: a random subset of CLUSTER's roles
	local r=() i=0 bits
	rnd 4
	bits=$R
	for x in ${croles[$1]}; do (((bits >> i) & 1)) && r+=("$x"); i=$((i + 1)); done
	PICKED="${r[*]}"
}
user_yaml() { # NAME ROLES...
	local n=$1 c=${1:0:2}; shift
	local list=$(IFS=,; echo "$*") tls=false
	[ "$c" = c1 ] && tls=true
	printf 'apiVersion: vecward.io/v1alpha1\nkind: User\nmetadata: {name: %s}\nspec: {clusterRef: {name: %s}, roles: [%s], tls: {clientCertificate: %s}}\n---\n' \
		"$n" "$c" "$list" "$tls"
}
c3_yaml() {
	cat <<EOF
apiVersion: vecward.io/v1alpha1
kind: Cluster
metadata: {name: c3}
spec:
  version: v2.6.0
  region: us-east-1
  encryption: {keyRef: {name: chaos-key}, databases: [default]}
  deletion: {recycleBinDays: $1}
EOF
}

# each action draws the same random numbers whatever it finds, so a seed replays the choices
a_create_user() {
	local i n r
	rnd ${#pool[@]}
	r=$R
	pick_roles c1
	local roles1=$PICKED
	pick_roles c2
	for ((i = 0; i < ${#pool[@]}; i++)); do
		n=${pool[$(((r + i) % ${#pool[@]}))]}
		[ -z "${roles[$n]+x}" ] && [ -z "${kuid[User/$n]:-}" ] && break
		n=
	done
	[ -n "$n" ] || return 0
	[ "${n:0:2}" = c1 ] && PICKED=$roles1
	roles[$n]=$PICKED utok[$n]=-
	user_yaml "$n" $PICKED | kubectl apply -n "$ns" -f - >/dev/null
	kuid[User/$n]=new
	act create-user - "$n" "$PICKED"
	echo "  create User $n [$PICKED]"
}
declared_pick() { # sets N: a declared User from R on (filter FN), or empty
	local i n names=()
	N=
	[ ${#roles[@]} -gt 0 ] || return 0
	mapfile -t names < <(printf '%s\n' "${!roles[@]}" | sort)
	for ((i = 0; i < ${#names[@]}; i++)); do
		n=${names[$(((R + i) % ${#names[@]}))]}
		if "$1" "$n"; then N=$n; return 0; fi
	done
}
any_user() { :; }
a_delete_user() {
	rnd 97
	declared_pick any_user
	[ -n "$N" ] || return 0
	kubectl delete user "$N" -n "$ns" --wait=false >/dev/null
	unset "roles[$N]" "utok[$N]"
	act delete-user - "$N"
	echo "  delete User $N"
}
a_roles() {
	rnd 97
	local r=$R
	pick_roles c1
	local roles1=$PICKED
	pick_roles c2
	R=$r
	declared_pick any_user
	[ -n "$N" ] || return 0
	[ "${N:0:2}" = c1 ] && PICKED=$roles1
	roles[$N]=$PICKED
	local list=
	for x in $PICKED; do list+="${list:+,}\"$x\""; done
	kubectl patch user "$N" -n "$ns" --type merge -p "{\"spec\":{\"roles\":[$list]}}" >/dev/null
	act roles - "$N" "$PICKED"
	echo "  roles of User $N: [$PICKED]"
}
rotatable_user() { # Ready, and the last request (if any) handled
	[ "${kready[User/$1]:-0}" = 1 ] && [ "${kdel[User/$1]:-1}" = 0 ] && [ "${khand[User/$1]:-}" = "${utok[$1]}" ]
}
a_rotate_user() {
	rnd 97
	declared_pick rotatable_user
	[ -n "$N" ] || return 0
	nact=$((nact + 1))
	local tok=r$round-$nact rv
	rv=$(kubectl annotate user "$N" -n "$ns" "vecward.io/rotate-password=$tok" --overwrite -o jsonpath='{.metadata.resourceVersion}')
	utok[$N]=$tok pending_soon=1
	act rotate-user "$rv" "${kuid[User/$N]}" "$N" "$tok"
	echo "  rotate the password of User $N ($tok)"
}
a_rotate_root() {
	rnd 2
	local c=c$((R + 1)) tok rv
	[ "${kready[Cluster/$c]:-0}" = 1 ] && [ "${khand[Cluster/$c]:-}" = "${rtok[$c]}" ] || return 0
	nact=$((nact + 1))
	tok=root$round-$nact
	rv=$(kubectl annotate cluster "$c" -n "$ns" "vecward.io/rotate-password=$tok" --overwrite -o jsonpath='{.metadata.resourceVersion}')
	rtok[$c]=$tok pending_soon=1
	act rotate-root "$rv" "$c" "$tok"
	echo "  rotate the root password of Cluster $c ($tok)"
}
a_rotate_zones() {
	[ "${kready[EncryptionKey/chaos-key]:-0}" = 1 ] && [ "${khand[EncryptionKey/chaos-key]:-}" = "$ztok" ] || return 0
	nact=$((nact + 1))
	local tok=z$round-$nact rv
	rv=$(kubectl annotate encryptionkey chaos-key -n "$ns" "vecward.io/rotate-zone-keys=$tok" --overwrite -o jsonpath='{.metadata.resourceVersion}')
	ztok=$tok
	act rotate-zones "$rv" "$tok"
	echo "  rotate the zone keys ($tok)"
}
a_c3() {
	rnd 2
	local days=$R out uid kept
	if [ "$c3" = present ]; then
		[ "${kdel[Cluster/c3]:-0}" = 0 ] || return 0
		kubectl delete cluster c3 -n "$ns" --wait=false >/dev/null
		c3=absent
		act delete-c3 - "$c3days"
		echo "  delete Cluster c3 (recycleBinDays $c3days)"
		return 0
	fi
	[ -z "${kuid[Cluster/c3]:-}" ] || return 0 # the last one is still going
	# what the recycle bin holds for c3 now: the new Cluster must get exactly these back
	kept=$(kubectl get secrets,pvc -n "$ns" -l vecward.io/recycled-uid \
		-o jsonpath='{range .items[*]}{.metadata.name}={.metadata.uid}{"\n"}{end}')
	local e_root=- e_ca=- e_zk=- e_pvc=- l
	for l in $kept; do
		case ${l%%=*} in
		c3-root) e_root=${l#*=} ;; c3-ca) e_ca=${l#*=} ;; c3-zone-keys) e_zk=${l#*=} ;; c3-data) e_pvc=${l#*=} ;;
		esac
	done
	[ "$e_pvc" != - ] || pv c3-data
	out=$(c3_yaml "$days" | kubectl create -n "$ns" -f - -o jsonpath='{.metadata.uid} {.metadata.resourceVersion}')
	uid=${out% *}
	c3=present c3days=$days
	act create-c3 "${out#* }" "$uid" "$days" "$e_root" "$e_ca" "$e_zk" "$e_pvc"
	echo "  create Cluster c3 (recycleBinDays $days$([ "$e_root" = - ] || echo ', from the recycle bin'))"
}
churn_one() {
	rnd 10
	case $R in
	0 | 1 | 2) a_create_user ;;
	3 | 4) a_delete_user ;;
	5) a_roles ;;
	6 | 7) a_rotate_user ;;
	8) rnd 2; if [ $R = 0 ]; then a_rotate_root; else a_rotate_zones; fi ;;
	9) a_c3 ;;
	esac
}
write_model() {
	local n
	{
		for n in "${!roles[@]}"; do echo "user $n ${n:0:2} ${utok[$n]} ${roles[$n]}"; done
		echo "cluster c1 ${rtok[c1]} 0 1"
		echo "cluster c2 ${rtok[c2]} 1 1"
		[ "$c3" = absent ] || echo "cluster c3 - 1 0"
		echo "key chaos-key $ztok"
	} >"$work/model.txt"
}
snapshot() { # fingerprints of every vecward Secret now
	kubectl get secrets -n "$ns" -o json | chaos snap "$1" >>"$work/snaps.tsv"
}
check_fp() { # the fingerprint rules over what has been seen so far
	local out
	out=$(chaos check "$work/watch.tsv" "$work/snaps.tsv" "$actions" "$@") || fail "$out"
}

# a few Users to start with
round=0
refresh
for i in 1 2 3 4; do a_create_user; done

# the garbage collector finds new kinds by discovery every 30 s: until it watches Clusters
# and Users, their deletion is never noticed and what they own is never collected
crd_age() {
	local t
	t=$(kubectl get crd clusters.vecward.io users.vecward.io -o jsonpath='{range .items[*]}{.metadata.creationTimestamp}{"\n"}{end}' |
		sort | tail -n 1)
	echo $(($(date +%s) - $(date -d "$t" +%s)))
}
age=$(crd_age)
[ "$age" -ge 35 ] || { echo "waiting $((35 - age))s for the garbage collector to watch the new kinds"; sleep $((35 - age)); }

# ---- the rounds: churn, a random moment, snapshot, SIGKILL, restart --------------------------
kills=0
for ((round = 1; round <= rounds; round++)); do
	refresh
	rnd 3
	n=$((2 + R))
	echo "round $round/$rounds: $n action(s)"
	pending_soon=
	for ((i = 0; i < n; i++)); do churn_one; done
	rnd 3001
	delay=$R
	rnd 4
	case $R in
	0) moment=ADDED ;;   # the first moment a rotation has a pending password
	1) moment=DELETED ;; # the moment a rotation is done with it
	*) moment= ;;        # after the random delay
	esac
	if [ -n "$moment" ] && [ -n "$pending_soon" ]; then
		echo "$opid $moment" >"$work/watch.tsv.arm"
		for ((t = 0; t < 40; t++)); do alive "$opid" || break; sleep 0.1; done # up to 4 s
		if [ -e "$work/watch.tsv.arm" ]; then
			rm -f "$work/watch.tsv.arm"
			moment=
		fi
	else
		moment=
	fi
	[ -n "$moment" ] || sleep "$((delay / 1000)).$(printf %03d $((delay % 1000)))"
	snapshot "round$round"
	kill_operator
	kills=$((kills + 1))
	if [ -n "$moment" ]; then
		echo "  SIGKILL as a pending password Secret was ${moment,,}"
	else
		echo "  SIGKILL after ${delay} ms"
	fi
	rnd 2
	if [ $R = 1 ]; then
		refresh
		echo "  while the operator is down:"
		churn_one
	fi
	start_operator
	check_fp
done

# ---- after the last restart: the declared state, exactly ------------------------------------
final_checks() {
	local t0=$SECONDS c out want
	write_model
	converged() {
		kubectl get users,clusters,encryptionkeys,secrets,configmaps,services,deployments,statefulsets,networkpolicies,pvc,pods \
			-n "$ns" -o json >"$work/dump.json" && chaos converged "$work/model.txt" "$work/dump.json" "$work/live.txt"
	}
	wait_for 180 "the declared state (Users, Clusters, objects, pods)" converged
	echo "$(chaos converged "$work/model.txt" "$work/dump.json" "$work/live.txt") in $((SECONDS - t0))s"
	if [ "$c3" = present ]; then # re-created from the recycle bin: the same volume
		want=$(awk -F'\t' '$1 == "create-c3" { v = $8 } END { print v }' "$actions")
		[ "$want" = - ] || expect_eq "$(kubectl get pvc c3-data -n "$ns" -o jsonpath='{.metadata.uid}')" "$want" \
			"c3's data volume taken back from the recycle bin"
	fi
	# Milvus: users, roles, and every credentials Secret authenticates
	milvus_ok() {
		local c u users
		for c in c1 c2; do
			roothdr "$c"
			users="root"
			[ "$c" = c1 ] && users+=" handmade"
			for u in "${!roles[@]}"; do [ "${u:0:2}" = "$c" ] && users+=" $u"; done
			out=$(mcall "$c" "$work/root.hdr" users/list '{}') || { echo "$c: $out"; return 1; }
			chaos milvus-list "$out" "$users" || { echo "users of $c's Milvus"; return 1; }
			out=$(mcall "$c" "$work/root.hdr" roles/list '{}') || { echo "$c: $out"; return 1; }
			chaos milvus-list "$out" "admin public ${croles[$c]}" || { echo "roles of $c's Milvus"; return 1; }
		done
		for u in "${!roles[@]}"; do
			c=${u:0:2}
			printf 'Authorization: Bearer %s\n' "$(sec "$u-credentials" token)" >"$work/user.hdr"
			if [ "$c" = c1 ]; then
				sec "$u-credentials" tls.crt >"$work/user.crt"
				(umask 077 && sec "$u-credentials" tls.key >"$work/user.key")
				out=$(mcall c1 "$work/user.hdr" users/describe "{\"userName\":\"$u\"}" "$work/user.crt" "$work/user.key")
			else
				out=$(mcall c2 "$work/user.hdr" users/describe "{\"userName\":\"$u\"}")
			fi
			chaos milvus-list "$out" "${roles[$u]}" || { echo "User $u authenticating with its Secret"; return 1; }
		done
		out=$(mcall c1 "$work/handmade.hdr" users/describe '{"userName":"handmade"}')
		chaos milvus-list "$out" "" || { echo "the hand-made user"; return 1; }
	}
	wait_for 60 "Milvus users, roles and credentials as declared" milvus_ok
	rm -f "$work/user.hdr" "$work/user.key" "$work/root.hdr"
	echo "milvus: users, roles and ${#roles[@]} credentials Secret(s) authenticate"
	check_fp "$work/live.txt"
	echo "fingerprints: no credential regenerated; every rotation request changed its password once"
	# idle: no apiserver write, no Milvus request (after the last Events and status writes)
	sleep 3
	for c in c1 c2; do
		curl -sS --max-time 10 --cacert "$work/$c-ca.crt" --cert "$work/test.crt" --key "$work/test.key" \
			--connect-to "$c.$ns.svc:8080:127.0.0.1:${mport[$c]}" -X POST \
			"https://$c.$ns.svc:8080/_double/reset_stats" >/dev/null
	done
	writes() { grep -c '"userAgent":"vecward/' "$audit" || true; }
	local w0 w1
	w0=$(writes)
	sleep 8 # more than two resyncs at --resync 3
	w1=$(writes)
	expect_eq "$((w1 - w0))" 0 "apiserver writes by the operator during idle resyncs"
	for c in c1 c2; do
		out=$(curl -sS --max-time 10 --cacert "$work/$c-ca.crt" --cert "$work/test.crt" --key "$work/test.key" \
			--connect-to "$c.$ns.svc:8080:127.0.0.1:${mport[$c]}" "https://$c.$ns.svc:8080/_double/stats")
		expect_contains "$out" '"requests":0' "Milvus requests to $c during idle resyncs"
	done
	kubectl get secrets -n "$ns" -o json >"$work/secrets.json"
	kubectl get events,users,clusters,encryptionkeys,configmaps -n "$ns" -o json >"$work/public.json"
	chaos leaks "$work/secrets.json" "$log" "$work/public.json" "$work/c1-milvus.log" "$work/c2-milvus.log" \
		>/dev/null || fail "a password or key leaked into the operator log, Events, status or ConfigMaps"
	rm -f "$work/secrets.json"
	echo "idle: 0 writes, 0 Milvus requests; no secret in logs, Events or status"
}
final_checks
echo "chaos: $rounds rounds, $kills SIGKILLs, converged ($((SECONDS - t_start))s so far)"

# ---- optional: memory under a steady churn, no kills ----------------------------------------
if [ "$rss_seconds" -gt 0 ]; then
	rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$opid/status"; }
	if [ "$RSS_OPERATOR" != "$OPERATOR" ]; then
		stop_pid "$opid" || fail "the operator did not stop on SIGTERM"
		opid=
		start_operator "$RSS_OPERATOR"
		echo "memory: operator ${RSS_OPERATOR#"$VW_ROOT"/}"
	fi
	samples=() t_end=$((SECONDS + rss_seconds)) next=$((SECONDS + 10)) round=$((rounds + 1))
	echo "memory: ${rss_seconds}s of churn, VmRSS (KiB) every 10s"
	while [ $SECONDS -lt $t_end ]; do
		if [ $SECONDS -ge $next ]; then
			kill -0 "$opid" 2>/dev/null || fail "the operator died during the memory phase"
			samples+=("$(rss)")
			echo "  t=$((SECONDS - t_end + rss_seconds))s rss=${samples[-1]}"
			next=$((next + 10))
		fi
		refresh
		churn_one >/dev/null
		sleep 1
		round=$((round + 1))
	done
	samples+=("$(rss)")
	n=${#samples[@]}
	[ "$n" -ge 4 ] || fail "memory: too few samples ($n)"
	base=${samples[$((n / 4))]}
	end=${samples[-1]}
	for s in "${samples[@]: -3}"; do [ "$s" -lt "$end" ] && end=$s; done # growth that stays
	bound=$((base / 5))
	[ "$bound" -ge 8192 ] || bound=8192
	echo "memory: ${samples[*]} KiB; after warm-up ${base}, at the end ${end} (bound +${bound})"
	[ $((end - base)) -le "$bound" ] || fail "operator RSS grew from ${base} KiB to ${end} KiB under churn (more than ${bound} KiB)"
	final_checks
fi
echo "chaos: seed $seed, $rounds rounds, $kills SIGKILLs, $(wc -l <"$actions") actions: state as declared ($((SECONDS - t_start))s)"
