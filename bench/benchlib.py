#!/usr/bin/env python3
"""The measuring half of bench/operator.sh (which starts and stops the processes).

    benchlib.py audit --logs DIR --since T0 --until T1 [--ua vecward/] [--ns NS] [--offset BYTES]
        requests in the apiserver audit log (a control plane started with
        VW_CP_AUDIT=all) whose requestReceivedTimestamp is in [T0, T1) (unix seconds),
        counted once per auditID, by verb and by "verb resource"; JSON on stdout
    benchlib.py offset --logs DIR         size of DIR/audit.log (where a window starts)
    benchlib.py wait --cp DIR --ns NS --users N --t0 T --timeout S [--want ready|status]
        poll the Users (and the Cluster prod) once a second through the Table API
        (one cheap request, no objects) until all N Users are Ready (or, with
        --want status, all have a Ready condition at all); seconds since T0 as JSON
    benchlib.py list --ns NS --users N [--cluster [--connect-to HOST:PORT]]
        a List of Users u1..uN (role reader), after Cluster prod (mutual TLS, role
        reader, the Milvus double's address in vecward.io/milvus-connect-to) with --cluster
    benchlib.py snap --pid PID [--operator [--log FILE]] [--out FILE]
        VmRSS, VmHWM and CPU seconds (utime+stime) from /proc; with --operator also
        the operator's counters (reconciles, skipped, queued, delayed) from the "stats"
        line it logs on SIGUSR1 (in FILE, default the file its stderr goes to)
    benchlib.py quiet --pid PID [--span S] [--cpu-ms MS] [--timeout S]
        wait until PID used at most MS of CPU over S seconds; prints when that began
    benchlib.py milvus --port P --host NAME --ca F --cert F --key F stats|reset
        the Milvus double's /_double/stats or /_double/reset_stats
    benchlib.py fragment convergence|idle|footprint --raw DIR [...]
        the bench/out/*.json fragment of a part, from the raw measurements in DIR

Nothing here asserts a time: benchmarks print figures (docs: CONVENTIONS.md).
"""
import argparse
import datetime
import glob
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import time
import urllib.parse
import urllib.request

VERBS = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]


# ---- audit log -------------------------------------------------------------------------

def ts_epoch(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def audit_files(logs, offset):
    """(path, start offset) in time order: rotated backups first, then audit.log."""
    cur = os.path.join(logs, "audit.log")
    backups = sorted(p for p in glob.glob(os.path.join(logs, "audit-*.log")))
    size = os.path.getsize(cur) if os.path.exists(cur) else 0
    if backups or offset > size:  # rotated since the offset was taken: read everything
        return [(p, 0) for p in backups] + [(cur, 0)]
    return [(cur, offset)]


def audit_count(logs, since, until, ua="vecward/", ns=None, offset=0):
    needle = '"userAgent":"' + ua
    seen = {}
    for path, off in audit_files(logs, offset):
        if not os.path.exists(path):
            continue
        with open(path, "rb") as f:
            f.seek(off)
            for raw in f:
                if needle.encode() not in raw:
                    continue
                try:
                    ev = json.loads(raw)
                except ValueError:
                    continue
                aid = ev.get("auditID")
                if not aid or aid in seen:
                    continue
                t = ts_epoch(ev["requestReceivedTimestamp"])
                if t < since or t >= until:
                    continue
                ref = ev.get("objectRef") or {}
                if ns is not None and ref.get("namespace") != ns:
                    continue
                res = ref.get("resource", "?")
                if ref.get("subresource"):
                    res += "/" + ref["subresource"]
                seen[aid] = (ev.get("verb", "?"), res)
    by_verb = {v: 0 for v in VERBS}
    by_vr = {}
    for verb, res in seen.values():
        by_verb[verb] = by_verb.get(verb, 0) + 1
        k = verb + " " + res
        by_vr[k] = by_vr.get(k, 0) + 1
    return {"since": since, "until": until, "total": len(seen), "by_verb": by_verb,
            "by_verb_resource": dict(sorted(by_vr.items(), key=lambda kv: -kv[1]))}


# ---- the apiserver, read cheaply ---------------------------------------------------------

def api_ctx(cp):
    ports = {}
    with open(os.path.join(cp, "ports")) as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            ports[k] = v
    ctx = ssl.create_default_context(cafile=os.path.join(cp, "pki", "ca.crt"))
    ctx.load_cert_chain(os.path.join(cp, "pki", "admin.crt"), os.path.join(cp, "pki", "admin.key"))
    return ports["APISERVER_URL"], ctx


def table(url, ctx, path):
    """Name -> Ready cell of every row of a Table listing (paged)."""
    out, cont = {}, ""
    while True:
        q = {"limit": "500", "includeObject": "None"}
        if cont:
            q["continue"] = cont
        req = urllib.request.Request(url + path + "?" + urllib.parse.urlencode(q), headers={
            "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io", "User-Agent": "bench-poll"})
        with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
            t = json.load(r)
        cols = [c["name"] for c in t.get("columnDefinitions", [])]
        ri = cols.index("Ready") if "Ready" in cols else None
        for row in t.get("rows") or []:
            cells = row["cells"]
            out[cells[0]] = cells[ri] if ri is not None else ""
        cont = (t.get("metadata") or {}).get("continue") or ""
        if not cont:
            return out


def wait(a):
    url, ctx = api_ctx(a.cp)
    base = "/apis/vecward.io/v1alpha1/namespaces/%s/" % a.ns
    res = {"users": a.users, "cluster_ready_s": None, "users_done_s": None, "polls": 0}
    deadline = a.t0 + a.timeout
    while True:
        now = time.time()
        users = table(url, ctx, base + "users")
        res["polls"] += 1
        if a.want == "ready":
            if res["cluster_ready_s"] is None and table(url, ctx, base + "clusters").get("prod") == "True":
                res["cluster_ready_s"] = round(now - a.t0, 2)
            done = sum(1 for v in users.values() if v == "True")
        else:
            done = sum(1 for v in users.values() if v)
        res["done"] = done
        if done >= a.users:
            res["users_done_s"] = round(now - a.t0, 2)
            print(json.dumps(res))
            return 0
        if now > deadline:
            res["error"] = "timed out after %ds: %d of %d Users" % (a.timeout, done, a.users)
            print(json.dumps(res))
            return 1
        time.sleep(max(0.0, 1.0 - (time.time() - now)))


# ---- manifests -----------------------------------------------------------------------------

def cluster_obj(ns, connect_to):
    meta = {"name": "prod", "namespace": ns}
    if connect_to:
        meta["annotations"] = {"vecward.io/milvus-connect-to": connect_to}
    return {"apiVersion": "vecward.io/v1alpha1", "kind": "Cluster", "metadata": meta,
            "spec": {"version": "v2.6.0", "storage": {"size": "10Gi"}, "tls": {"mode": "mutual"},
                     "roles": [{"name": "reader", "privilegeGroups": ["CollectionReadOnly"]}]}}


def user_obj(ns, i):
    return {"apiVersion": "vecward.io/v1alpha1", "kind": "User",
            "metadata": {"name": "u%d" % i, "namespace": ns},
            "spec": {"clusterRef": {"name": "prod"}, "roles": ["reader"]}}


def make_list(a):
    items = []
    if a.cluster:
        items.append(cluster_obj(a.ns, a.connect_to))
    items += [user_obj(a.ns, i) for i in range(1, a.users + 1)]
    json.dump({"apiVersion": "v1", "kind": "List", "items": items}, sys.stdout)
    return 0


# ---- processes ------------------------------------------------------------------------------

def proc(pid):
    st = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                st[k] = int(v.split()[0])
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tck = os.sysconf("SC_CLK_TCK")
    # after the ")": state is field 3, utime 14, stime 15 (1-based over the whole line)
    cpu = (int(fields[11]) + int(fields[12])) / tck
    return {"rss_kb": st.get("VmRSS"), "hwm_kb": st.get("VmHWM"), "cpu_s": cpu}


def operator_stats(pid, log=None):
    """The operator's counters from its "stats" log line (reconciles, skipped status-only
    updates, queued and delayed keys): SIGUSR1 makes it log one at once. The log is
    LOG, else the file its stderr goes to (start_operator appends both to one file)."""
    path = log or os.readlink("/proc/%d/fd/2" % pid)
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        off = f.tell()
    os.kill(pid, signal.SIGUSR1)
    deadline = time.time() + 30
    while time.time() < deadline:
        with open(path, "rb") as f:
            f.seek(off)
            data = f.read()
        for line in data.splitlines():
            try:
                j = json.loads(line)
            except ValueError:
                continue
            if isinstance(j, dict) and j.get("msg") == "stats" and "reconciles" in j:
                return {k: int(j[k]) for k in ("reconciles", "skipped", "queued", "delayed")
                        if k in j}
        time.sleep(0.05)
    raise SystemExit("benchlib: the operator (pid %d) logged no stats line in %s within 30 s "
                     "of SIGUSR1" % (pid, path))


def snap(a):
    s = {"time": time.time(), "pid": a.pid}
    if a.operator:
        s.update(operator_stats(a.pid, a.log))
    s.update(proc(a.pid))
    s["time_end"] = time.time()
    text = json.dumps(s)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    else:
        print(text)
    return 0


def quiet(a):
    """Wait until the process has used at most --cpu-ms of CPU over --span seconds (the
    operator's lease renewals cost ~1 ms every 2 s); print the time that quiet span began."""
    hist = []  # (time, cpu_s)
    deadline = time.time() + a.timeout
    while True:
        now = time.time()
        hist.append((now, proc(a.pid)["cpu_s"]))
        old = [h for h in hist if h[0] <= now - a.span]
        if old and 1000 * (hist[-1][1] - old[-1][1]) <= a.cpu_ms:
            print("%.3f" % old[-1][0])
            return 0
        if now > deadline:
            print("%.3f" % now)
            print("benchlib: pid %d not quiet after %d s" % (a.pid, a.timeout), file=sys.stderr)
            return 1
        time.sleep(0.25)


def milvus(a):
    ctx = ssl.create_default_context(cafile=a.ca)
    ctx.load_cert_chain(a.cert, a.key)
    import http.client
    import socket
    # the double serves the Cluster's certificate (prod.NS.svc) on 127.0.0.1
    c = http.client.HTTPSConnection("127.0.0.1", a.port, context=ctx, timeout=30)
    c.sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", a.port), 30),
                             server_hostname=a.host)
    if a.what == "stats":
        c.request("GET", "/_double/stats", headers={"Host": a.host})
    else:
        c.request("POST", "/_double/reset_stats", body=b"", headers={"Host": a.host})
    r = c.getresponse()
    body = r.read().decode()
    if r.status != 200:
        raise SystemExit("benchlib: milvusd %s: HTTP %d %s" % (a.what, r.status, body[:200]))
    print(body)
    return 0


# ---- fragments ---------------------------------------------------------------------------

def load(path):
    with open(path) as f:
        return json.load(f)


def row(metric, value, unit, floor=None, detail="", ratio=None):
    if ratio is None and floor not in (None, 0) and value is not None:
        ratio = round(value / floor, 2)
    return {"metric": metric, "value": value, "unit": unit, "floor": floor, "ratio": ratio,
            "detail": detail}


def verbs_text(counts, skip_zero=True):
    return ", ".join("%s %d" % (v, counts.get(v, 0)) for v in VERBS
                     if counts.get(v, 0) or not skip_zero) or "none"


def top_text(d, n=8):
    items = list(d.items())[:n]
    more = len(d) - len(items)
    return ", ".join("%s %s" % kv for kv in items) + (", ..." if more > 0 else "")


def milvus_paths(stats, n=6):
    paths = sorted((stats.get("by_path") or {}).items(), key=lambda kv: -kv[1])
    return ", ".join("%s %d" % (p.replace("/v2/vectordb/", ""), c) for p, c in paths[:n]) or "none"


def frag_convergence(raw, users, workers):
    rows = []
    for n in users:
        d = os.path.join(raw, "conv-%d" % n)
        floor = load(d + "/floor.json")
        faud = load(d + "/floor-audit.json")
        w = load(d + "/wait.json")
        ready = load(d + "/audit.json")       # apply .. all Ready
        after = load(d + "/audit-after.json")  # all Ready .. quiet
        o0, o1, o2 = load(d + "/op0.json"), load(d + "/op1.json"), load(d + "/op2.json")
        m0, m1 = load(d + "/milvusd0.json"), load(d + "/milvusd1.json")
        ms = load(d + "/milvus-stats.json")
        env = load(d + "/env.json")
        t = w["users_done_s"]
        tq = env["quiet_s"]
        allv = {v: ready["by_verb"].get(v, 0) + after["by_verb"].get(v, 0) for v in VERBS}
        allvr = dict(ready["by_verb_resource"])
        for k, c in after["by_verb_resource"].items():
            allvr[k] = allvr.get(k, 0) + c
        allvr = dict(sorted(allvr.items(), key=lambda kv: -kv[1]))
        total = ready["total"] + after["total"]
        rec, rec_after = o2["reconciles"] - o0["reconciles"], o2["reconciles"] - o1["reconciles"]
        cpu = o2["cpu_s"] - o0["cpu_s"]
        mcpu = m1["cpu_s"] - m0["cpu_s"]
        rows.append(row("converge %d users: time to all Ready" % n, t, "s", floor["seconds"],
                        "1 Cluster + %d Users created at once (kubectl create of one List, %.1f s); "
                        "Cluster Ready at %ss; polled once a second; vecward-operator %s --workers %d. "
                        "Floor: %d Secrets POSTed by bin/bench/floor with %d workers (the operator's "
                        "HTTP client)" % (n, env["create_s"], w["cluster_ready_s"], env.get("version", "?"),
                                          workers, n, workers)))
        if w.get("cluster_ready_s") is not None:
            rows.append(row("converge %d users: Cluster Ready to all Users Ready" % n,
                            round(t - w["cluster_ready_s"], 2), "s", None,
                            "Users reconciled before their Cluster is Ready wait 5 s (requeue) and look again"))
        rows.append(row("converge %d users: time to quiet" % n, tq, "s", None,
                        "until the operator used under 30 ms CPU in 3 s: %d reconciles after all Users "
                        "were Ready, each a no-op that still reads Secrets (%s)"
                        % (rec_after, verbs_text(after["by_verb"]))))
        rows.append(row("converge %d users: apiserver requests" % n, total, "req", faud["total"],
                        "from the operator (user agent vecward/), apply to quiet: %s; until all Ready %d, "
                        "after %d; floor: %s" % (verbs_text(allv), ready["total"], after["total"],
                                                  verbs_text(faud["by_verb"]))))
        for v in VERBS:
            c = allv.get(v, 0)
            if not c:
                continue
            per = {k: x for k, x in allvr.items() if k.startswith(v + " ")}
            rows.append(row("converge %d users: %s" % (n, v), c, "req",
                            faud["by_verb"].get(v, 0) or None,
                            "%.2f per User; %s" % (c / n, top_text(per))))
        rows.append(row("converge %d users: Milvus requests" % n, ms.get("requests"), "req", None,
                        "%.2f per User: %s" % (ms.get("requests", 0) / n, milvus_paths(ms))))
        rows.append(row("converge %d users: operator CPU" % n, round(cpu, 2), "s", None,
                        "utime+stime, apply to quiet; %d reconciles, %.2f ms CPU each; RSS %.1f MB "
                        "after (VmHWM %.1f MB)"
                        % (rec, 1000 * cpu / rec if rec else 0, o2["rss_kb"] / 1024, o2["hwm_kb"] / 1024)))
        rows.append(row("converge %d users: Milvus double CPU" % n, round(mcpu, 2), "s", None,
                        "milvusd %s(one thread) hashes every new password with bcrypt cost 10: %.1f ms "
                        "of its CPU per User (a cost-10 hash measured %.0f ms when the run began; the "
                        "machine is shared)"
                        % (env.get("milvusd", "") and env["milvusd"] + " ", 1000 * mcpu / n,
                           env["bcrypt_ms"])))
    return rows


def frag_idle(raw, window_s):
    rows = []
    d = os.path.join(raw, "idle")
    env = load(d + "/env.json")
    aud = load(d + "/audit.json")
    o0, o1 = load(d + "/op0.json"), load(d + "/op1.json")
    ms = load(d + "/milvus-stats.json")
    mins = (aud["until"] - aud["since"]) / 60
    n = env["users"]
    rows.append(row("idle, %d users: apiserver requests/min" % n, round(aud["total"] / mins, 1), "req/min",
                    None, "default --resync %d s, window %d s after convergence: %s; by resource: %s. "
                    "Every 5 min there is also (seen in a short window only by chance): 3 watches "
                    "renewed (300 s watch timeout) and the recycle-bin purge, a LIST of "
                    "persistentvolumeclaims and one of secrets (label vecward.io/purge-after)"
                    % (env["resync"], window_s, verbs_text(aud["by_verb"]), top_text(aud["by_verb_resource"]))))
    for v in VERBS:
        c = aud["by_verb"].get(v, 0)
        if c:
            per = {k: x for k, x in aud["by_verb_resource"].items() if k.startswith(v + " ")}
            rows.append(row("idle, %d users: %s/min" % (n, v), round(c / mins, 1), "req/min", None,
                            top_text(per)))
    rows.append(row("idle, %d users: Milvus requests/min" % n, round(ms.get("requests", 0) / mins, 1),
                    "req/min", None, milvus_paths(ms)))
    rows.append(row("idle, %d users: reconciles/min" % n,
                    round((o1["reconciles"] - o0["reconciles"]) / mins, 1), "1/min", None,
                    "operator CPU %.2f s/min; RSS %.1f MB"
                    % ((o1["cpu_s"] - o0["cpu_s"]) / mins, o1["rss_kb"] / 1024)))
    p = os.path.join(raw, "resync")
    if os.path.exists(p + "/env.json"):
        e = load(p + "/env.json")
        # a new process: its counters start at 0
        wa, wo0, wo1 = load(p + "/wave-audit.json"), {"reconciles": 0, "cpu_s": 0}, load(p + "/wave-op1.json")
        wm = load(p + "/wave-milvus.json")
        rows.append(row("restart, %d users: time to quiet" % n, e["wave_s"], "s", None,
                        "from the start of a new operator process (sync cache empty: every User is "
                        "checked against Milvus once, its password by logging in as it) until Milvus "
                        "sees no request for 3 s; %d reconciles, CPU %.2f s (start-up included); "
                        "apiserver: %s; Milvus: %d requests (%s)"
                        % (wo1["reconciles"] - wo0["reconciles"], wo1["cpu_s"] - wo0["cpu_s"],
                           verbs_text(wa["by_verb"]), wm.get("requests", 0), milvus_paths(wm))))
        ra, ro0, ro1 = load(p + "/audit.json"), load(p + "/op0.json"), load(p + "/op1.json")
        rm = load(p + "/milvus-stats.json")
        rec = ro1["reconciles"] - ro0["reconciles"]
        lease = sum(c for k, c in ra["by_verb_resource"].items() if k.endswith(" leases"))
        rows.append(row("resync, %d users: apiserver requests per User" % n,
                        round((ra["total"] - lease) / n, 2), "req", None,
                        "one --resync %d s pass over %d converged Users and their Cluster (window %d s, "
                        "%d reconciles; at the default --resync 600 this happens every 10 min), lease "
                        "renewals left out: %s; %s; Milvus %d requests"
                        % (e["resync"], n, e["resync"], rec, verbs_text(ra["by_verb"]),
                           top_text(ra["by_verb_resource"]), rm.get("requests", 0))))
        rows.append(row("resync, %d users: CPU per reconcile" % n,
                        round(1000 * (ro1["cpu_s"] - ro0["cpu_s"]) / rec, 3) if rec else None, "ms", None,
                        "operator utime+stime over the resync window / reconciles"))
    return rows


def frag_footprint(raw):
    rows = []
    d = os.path.join(raw, "footprint")
    env = load(d + "/env.json")
    base = None
    for n in env["points"]:
        s0, s1 = load(d + "/%d-op0.json" % n), load(d + "/%d-op1.json" % n)
        aud = load(d + "/%d-audit.json" % n)
        mk = load(d + "/%d-make.json" % n)
        rec = s1["reconciles"] - s0["reconciles"]
        cpu = s1["cpu_s"] - s0["cpu_s"]
        win = s1["time"] - s0["time"]
        if base is None:
            base = s1["rss_kb"]
        per_user = "" if not n else "; %.2f KB per User over the 0-User point" % ((s1["rss_kb"] - base) / n)
        rows.append(row("operator RSS, %d watched users" % n, round(s1["rss_kb"] / 1024, 1), "MB", None,
                        "VmRSS (VmHWM %.1f MB)%s; %s" % (s1["hwm_kb"] / 1024, per_user,
                                                         env["state"] if n == env["points"][0] else
                                                         "Users in the same state")
                        + ("" if not n else "; created in %.0f s by bin/bench/floor --kind user, status "
                           "written for all after %.0f s" % (mk["create_s"], mk["settle_s"]))))
        rows.append(row("operator CPU per reconcile, %d users" % n,
                        round(1000 * cpu / rec, 3) if rec else None, "ms", None,
                        "%d reconciles in %.0f s (%.0f/s%s), CPU %.2f s (%.0f%% of a core); apiserver "
                        "requests in the window: %s (the Cluster's reconcile every 5 s and the lease)"
                        % (rec, win, rec / win, ": the Cluster's only" if not n else "", cpu,
                           100 * cpu / win, verbs_text(aud["by_verb"]))))
    pf = os.path.join(d, "perf.txt")
    if os.path.exists(pf):
        with open(pf) as f:
            top = [l.strip() for l in f if l.strip()][:6]
        rows.append(row("operator profile, %d users" % env["points"][-1], None, "", None,
                        "perf, %s: %s" % (env.get("perf_what", "top symbols by CPU"), "; ".join(top))))
    conv = env.get("conv_rss")
    if conv:
        rows.append(row("operator RSS, %d synced users" % conv["users"], round(conv["rss_kb"] / 1024, 1),
                        "MB", None, "after the convergence benchmark (VmHWM %.1f MB)" % (conv["hwm_kb"] / 1024)))
    wh = os.path.join(d, "webhook.json")
    if os.path.exists(wh):
        w = load(wh)
        rows.append(row("webhook RSS, idle", round(w["idle"]["rss_kb"] / 1024, 1), "MB", None,
                        "bin/vecward-webhook standalone on 127.0.0.1, 2 s after start (VmHWM %.1f MB)"
                        % (w["idle"]["hwm_kb"] / 1024)))
        rows.append(row("webhook RSS, after %d reviews" % w["reviews"], round(w["after"]["rss_kb"] / 1024, 1),
                        "MB", None, "%d User CREATE AdmissionReviews (a namespace with its Cluster, no "
                        "Users) on one keep-alive connection "
                        "(%.1f s, CPU %.2f s); VmHWM %.1f MB"
                        % (w["reviews"], w["seconds"], w["after"]["cpu_s"] - w["idle"]["cpu_s"],
                           w["after"]["hwm_kb"] / 1024)))
        m = w.get("many")
        if m:
            rows.append(row("webhook, User review with %d Users in the namespace" % m["users"],
                            round(1000 * m["seconds"] / m["reviews"], 1), "ms", None,
                            "per review, %d reviews; the webhook's apiserver requests: %s (VW024, one "
                            "username per Cluster: two LISTs by field selector, by username and by name); "
                            "RSS %.1f MB after, VmHWM %.1f MB"
                            % (m["reviews"], top_text(m["audit"]["by_verb_resource"]),
                               m["after"]["rss_kb"] / 1024, m["after"]["hwm_kb"] / 1024)))
    return rows


def fragment(a):
    if a.part == "convergence":
        rows = frag_convergence(a.raw, [int(x) for x in a.users.split()], a.workers)
    elif a.part == "idle":
        rows = frag_idle(a.raw, a.window)
    else:
        rows = frag_footprint(a.raw)
    json.dump({"section": a.part, "rows": rows}, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


# ---- webhook load ------------------------------------------------------------------------

def reviews(a):
    """POST N User CREATE AdmissionReviews to the webhook on one connection."""
    import http.client
    ctx = ssl.create_default_context(cafile=a.ca)
    c = http.client.HTTPSConnection("127.0.0.1", a.port, context=ctx, timeout=30)
    t0 = time.time()
    for i in range(a.count):
        body = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
            "uid": "bench-%d" % i, "kind": {"group": "vecward.io", "version": "v1alpha1", "kind": "User"},
            "resource": {"group": "vecward.io", "version": "v1alpha1", "resource": "users"},
            "namespace": a.ns, "operation": "CREATE", "name": "w%d" % i,
            "object": user_obj(a.ns, i)}})
        c.request("POST", "/validate", body=body, headers={"Content-Type": "application/json"})
        r = c.getresponse()
        out = r.read()
        if r.status != 200 or b'"uid":"bench-%d"' % i not in out:
            raise SystemExit("benchlib: review %d: HTTP %d %s" % (i, r.status, out[:300]))
    print(json.dumps({"reviews": a.count, "seconds": round(time.time() - t0, 2)}))
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("audit")
    s.add_argument("--logs", required=True)
    s.add_argument("--since", type=float, required=True)
    s.add_argument("--until", type=float, required=True)
    s.add_argument("--ua", default="vecward/")
    s.add_argument("--ns")
    s.add_argument("--offset", type=int, default=0)
    s = sub.add_parser("offset")
    s.add_argument("--logs", required=True)
    s = sub.add_parser("wait")
    s.add_argument("--cp", required=True)
    s.add_argument("--ns", required=True)
    s.add_argument("--users", type=int, required=True)
    s.add_argument("--t0", type=float, required=True)
    s.add_argument("--timeout", type=int, required=True)
    s.add_argument("--want", choices=["ready", "status"], default="ready")
    s = sub.add_parser("list")
    s.add_argument("--ns", required=True)
    s.add_argument("--users", type=int, required=True)
    s.add_argument("--cluster", action="store_true", help="Cluster prod first")
    s.add_argument("--connect-to", default="")
    s = sub.add_parser("snap")
    s.add_argument("--pid", type=int, required=True)
    s.add_argument("--operator", action="store_true")
    s.add_argument("--log", help="the operator's log (default: where its stderr goes)")
    s.add_argument("--out")
    s = sub.add_parser("quiet")
    s.add_argument("--pid", type=int, required=True)
    s.add_argument("--span", type=float, default=3)
    s.add_argument("--cpu-ms", type=float, default=30)
    s.add_argument("--timeout", type=int, default=600)
    s = sub.add_parser("milvus")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--host", required=True)
    s.add_argument("--ca", required=True)
    s.add_argument("--cert", required=True)
    s.add_argument("--key", required=True)
    s.add_argument("what", choices=["stats", "reset"])
    s = sub.add_parser("fragment")
    s.add_argument("part", choices=["convergence", "idle", "footprint"])
    s.add_argument("--raw", required=True)
    s.add_argument("--users", default="")
    s.add_argument("--workers", type=int, default=2)
    s.add_argument("--window", type=int, default=60)
    s = sub.add_parser("reviews")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--ca", required=True)
    s.add_argument("--ns", required=True)
    s.add_argument("--count", type=int, required=True)
    a = p.parse_args()
    if a.cmd == "audit":
        print(json.dumps(audit_count(a.logs, a.since, a.until, a.ua, a.ns, a.offset)))
        return 0
    if a.cmd == "offset":
        path = os.path.join(a.logs, "audit.log")
        print(os.path.getsize(path) if os.path.exists(path) else 0)
        return 0
    return {"wait": wait, "list": make_list, "snap": snap, "milvus": milvus, "quiet": quiet,
            "fragment": fragment, "reviews": reviews}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
