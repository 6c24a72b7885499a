#!/usr/bin/env python3
"""kproxy: a fault-injecting HTTP(S) proxy on loopback for the end-to-end fault tests.

Kubernetes mode (default): listens with TLS (a serving certificate from
`controlplane.sh cert DIR kproxy`), writes a kubeconfig for the client that points at
itself (CA: the control plane's; no client credentials), and forwards every request to
the real kube-apiserver with the admin client certificate of --upstream-kubeconfig.
Responses are streamed: a watch is a long-lived chunked response and every chunk is
passed on as it arrives. HTTP/1.1 keep-alive on both sides (one upstream connection per
client connection).

AWS mode (--flavor aws --plain --upstream http://127.0.0.1:PORT): plain HTTP in front
of moto_server (the KMS of tests/e2e/moto.sh); faults are answered the way AWS does
(JSON with __type). Stop the process to make the KMS unreachable, start it again on the
same --listen port to bring it back (moto keeps its keys).

Faults, for a fraction P of the requests of some verbs, answered by the proxy itself:
  400   BadRequest (e.g. a field selector the server does not support)  [kube]
  409   Conflict (metav1.Status, reason Conflict)        [kube]
  429   TooManyRequests, Retry-After: 1                   [kube, aws: ThrottlingException]
  500   InternalError                                     [kube, aws: KMSInternalException]
  503   ServiceUnavailable                                [kube, aws: ServiceUnavailableException]
  fwd500  forward the request, then answer 500 anyway: the write happened upstream but
          the client is told it failed (what was written is recorded in the statistics
          as reported_failed: resource, namespace, name and, per data key, the sha256
          of the stored (base64) value; never a value itself)
A fault spec is VERBS[/RESOURCES[/NAME]][@PATCHTYPE][?PARAM]=P:CODES[#N], e.g.
"write=0.3:409,429,500,503,fwd500", "get,list=0.1:429,500,503", "create/secrets=1:fwd500",
"get/secrets/prod-ca=1:503" or "patch/users/a4@merge=1:500#1". Verbs (kube): get list
watch create update patch delete, with the groups write (create update patch delete),
read (get list) and all; resources are plural names (secrets, users, ...), any by
default; NAME an object's name (its subresources too); PATCHTYPE merge, strategic, json
or apply (the Content-Type of a PATCH); ?PARAM: only requests whose query has PARAM
(e.g. "list/users?fieldSelector=1:400"); #N: at most N injections, then the spec matches
nothing. AWS verbs are the X-Amz-Target operations (DescribeKey, GenerateDataKey,
Encrypt, Decrypt) or all. The first spec that matches a request decides.

Runtime control (--control FILE, re-read whenever it changes): JSON
  {"faults": ["write=0.3:409,500", ...], "cut_watch": 5}
cut_watch N: every watch response is cut (the connection closed mid-stream, no final
chunk) about N seconds (0.7-1.3 N) after it started or after cut_watch was turned on;
0 turns it off.

Statistics (--stats FILE, rewritten atomically at most every 0.2 s and at exit): JSON
with requests, by_method, by_verb, injected (by code), injected_by_verb ("VERB RESOURCE
CODE"), reported_failed (see fwd500), forwarded, upstream_errors, watches, watch_cuts,
connections.

Python standard library only. Everything on 127.0.0.1.
"""

import argparse
import base64
import hashlib
import http.client
import http.server
import json
import os
import random
import re
import shutil
import signal
import socket
import socketserver
import ssl
import sys
import tempfile
import threading
import time
import urllib.parse

# not passed on (either way): hop-by-hop, re-computed, or set by this server
HOP = {
    "connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
    "upgrade", "content-length", "host", "server", "date",
}
WRITE = ["create", "update", "patch", "delete"]
READ = ["get", "list"]
ALL = READ + ["watch"] + WRITE
MAX_BODY = 64 * 1024 * 1024  # request body cap
UP_TIMEOUT = 60  # seconds for an upstream connect or answer (streams: none)


def log(msg):
    sys.stderr.write("kproxy: %s %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


# ---- fault specs ----------------------------------------------------------------------

class Rule:
    def __init__(self, spec, flavor):
        m = re.fullmatch(r"\s*([A-Za-z,]+)(?:/([a-z0-9.,-]+)(?:/([a-z0-9.-]+))?)?(?:@(merge|strategic|json|apply))?"
                         r"(?:\?([A-Za-z]+))?\s*=\s*([0-9.]+)\s*:\s*([A-Za-z0-9,]+)(?:#([0-9]+))?\s*", spec)
        if not m:
            raise ValueError("bad fault spec %r (want VERBS[/RESOURCES[/NAME]][@PATCHTYPE][?PARAM]=P:CODES[#N])"
                             % spec)
        verbs = set()
        for v in m.group(1).split(","):
            if flavor == "kube":
                if v == "write":
                    verbs.update(WRITE)
                elif v == "read":
                    verbs.update(READ)
                elif v == "all":
                    verbs.update(ALL)
                elif v in ALL:
                    verbs.add(v)
                else:
                    raise ValueError("unknown verb %r in %r" % (v, spec))
            else:
                verbs.add(v)
        self.verbs = verbs
        self.resources = set(m.group(2).split(",")) if m.group(2) else None
        self.name = m.group(3)
        self.patch_type = m.group(4)
        self.param = m.group(5)
        self.left = int(m.group(8)) if m.group(8) is not None else None  # injections left
        self.p = float(m.group(6))
        if not 0 <= self.p <= 1:
            raise ValueError("probability out of range in %r" % spec)
        ok = {"400", "409", "429", "500", "503", "fwd500"} if flavor == "kube" else {"429", "500", "503", "fwd500"}
        self.codes = m.group(7).split(",")
        for c in self.codes:
            if c not in ok:
                raise ValueError("unknown fault %r in %r (one of %s)" % (c, spec, ",".join(sorted(ok))))
        self.spec = spec.strip()

    def matches(self, verb, resource, name=None, patch_type=None, params=()):
        if self.left is not None and self.left <= 0:
            return False
        if self.param is not None and self.param not in params:
            return False
        if self.resources is not None and resource not in self.resources:
            return False
        if self.name is not None and name != self.name:
            return False
        if self.patch_type is not None and patch_type != self.patch_type:
            return False
        return "all" in self.verbs or verb in self.verbs


class Config:
    """The current faults; replaced as a whole when the control file changes."""

    def __init__(self, flavor, specs, cut_watch):
        self.flavor = flavor
        self.lock = threading.Lock()
        self.rules = [Rule(s, flavor) for s in specs]
        self.cut_watch = float(cut_watch or 0)
        self.control = None
        self.control_sig = None
        self.rng = random.Random()

    def watch_control(self, path):
        self.control = path
        self.reload()

    def reload(self):
        if not self.control:
            return
        try:
            st = os.stat(self.control)
        except FileNotFoundError:
            return
        sig = (st.st_mtime_ns, st.st_size, st.st_ino)
        if sig == self.control_sig:
            return
        try:
            with open(self.control) as f:
                doc = json.load(f)
            rules = [Rule(s, self.flavor) for s in doc.get("faults", [])]
            cut = float(doc.get("cut_watch", 0) or 0)
        except (OSError, ValueError) as e:
            log("control file %s ignored: %s" % (self.control, e))
            self.control_sig = sig
            return
        with self.lock:
            self.rules, self.cut_watch, self.control_sig = rules, cut, sig
        log("faults now: %s; cut_watch %s" % ([r.spec for r in rules] or "none", cut or "off"))

    def pick(self, verb, resource, name=None, patch_type=None, params=()):
        """The fault to inject for a request, or None."""
        self.reload()
        with self.lock:
            for r in self.rules:
                if r.matches(verb, resource, name, patch_type, params):
                    if self.rng.random() < r.p:
                        if r.left is not None:
                            r.left -= 1
                        return self.rng.choice(r.codes)
                    return None
        return None

    def cut_after(self):
        """Seconds from now to cut a watch (0: do not cut)."""
        self.reload()
        with self.lock:
            c = self.cut_watch
            return c * self.rng.uniform(0.7, 1.3) if c > 0 else 0


# ---- statistics -----------------------------------------------------------------------

class Stats:
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.d = {"requests": 0, "by_method": {}, "by_verb": {}, "injected": {},
                  "injected_by_verb": {}, "reported_failed": [], "forwarded": 0, "upstream_errors": 0,
                  "watches": 0, "watch_cuts": 0, "connections": 0}
        self.dirty = False
        self.last = 0.0
        if path:
            threading.Thread(target=self._flusher, daemon=True).start()

    def bump(self, key, sub=None, n=1):
        with self.lock:
            if sub is None:
                self.d[key] += n
            else:
                self.d[key][sub] = self.d[key].get(sub, 0) + n
            self.dirty = True

    def request(self, method, verb):
        with self.lock:
            self.d["requests"] += 1
            self.d["by_method"][method] = self.d["by_method"].get(method, 0) + 1
            self.d["by_verb"][verb] = self.d["by_verb"].get(verb, 0) + 1
            self.dirty = True

    def injected(self, verb, resource, code):
        with self.lock:
            self.d["injected"][code] = self.d["injected"].get(code, 0) + 1
            k = "%s %s %s" % (verb, resource, code)
            self.d["injected_by_verb"][k] = self.d["injected_by_verb"].get(k, 0) + 1
            self.dirty = True

    def reported_failed(self, resource, status, body):
        """A write that happened upstream but was answered 500: what was stored."""
        entry = {"resource": resource, "status": status}
        try:
            obj = json.loads(body)
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            md = obj.get("metadata") or {}
            entry["namespace"] = md.get("namespace")
            entry["name"] = md.get("name")
            data = obj.get("data")
            if isinstance(data, dict):
                entry["data_sha256"] = {k: hashlib.sha256(str(v).encode()).hexdigest()
                                        for k, v in sorted(data.items())}
        with self.lock:
            if len(self.d["reported_failed"]) < 500:
                self.d["reported_failed"].append(entry)
            self.dirty = True

    def flush(self, force=False):
        if not self.path:
            return
        with self.lock:
            if not self.dirty and not force:
                return
            data = json.dumps(self.d, sort_keys=True)
            self.dirty = False
        tmp = "%s.tmp.%d" % (self.path, threading.get_ident())
        with open(tmp, "w") as f:
            f.write(data + "\n")
        os.replace(tmp, self.path)

    def _flusher(self):
        while True:
            time.sleep(0.2)
            try:
                self.flush()
            except OSError as e:
                log("stats: %s" % e)


# ---- upstream -------------------------------------------------------------------------

def kubeconfig_fields(path):
    """server, CA, client cert and key (PEM bytes) of the current user of a simple
    kubeconfig (controlplane.sh's: one cluster, one user, embedded data or file paths)."""
    text = open(path).read()
    base = os.path.dirname(os.path.abspath(path))

    def one(key):
        m = re.search(r"^\s*%s:\s*(\S+)\s*$" % re.escape(key), text, re.M)
        return m.group(1).strip("'\"") if m else None

    def material(key):
        d = one(key + "-data")
        if d:
            return base64.b64decode(d)
        p = one(key)
        if p:
            return open(p if os.path.isabs(p) else os.path.join(base, p), "rb").read()
        return None

    server = one("server")
    if not server:
        raise ValueError("%s: no server" % path)
    return server, material("certificate-authority"), material("client-certificate"), material("client-key")


class Upstream:
    def __init__(self, url, ssl_ctx):
        u = urllib.parse.urlsplit(url)
        self.https = u.scheme == "https"
        self.host = u.hostname
        self.port = u.port or (443 if self.https else 80)
        self.ctx = ssl_ctx

    def connect(self):
        if self.https:
            return http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=UP_TIMEOUT)
        return http.client.HTTPConnection(self.host, self.port, timeout=UP_TIMEOUT)


# ---- the proxy --------------------------------------------------------------------------

PATCH_TYPES = {"application/merge-patch+json": "merge", "application/strategic-merge-patch+json": "strategic",
               "application/json-patch+json": "json", "application/apply-patch+yaml": "apply"}


def kube_name(path):
    """The object name of a request path (also for a subresource), or None."""
    parts = [p for p in path.split("/") if p]
    rest = parts[2:] if parts[:1] == ["api"] else parts[3:] if parts[:1] == ["apis"] else []
    if rest[:1] == ["namespaces"] and len(rest) >= 3:
        rest = rest[2:]
    return rest[1] if len(rest) >= 2 else None


def kube_verb(method, path, query):
    """(verb, resource) of a request: ("list", "secrets"), ("create", "events"), ..."""
    parts = [p for p in path.split("/") if p]
    # /api/v1/... or /apis/GROUP/VERSION/...
    if parts[:1] == ["api"]:
        rest = parts[2:]
    elif parts[:1] == ["apis"]:
        rest = parts[3:]
    else:
        rest = None
    if rest and rest[0] == "namespaces" and len(rest) >= 3:
        rest = rest[2:]
    resource = rest[0] if rest else "-"
    if method == "GET":
        q = urllib.parse.parse_qs(query)
        if q.get("watch", ["false"])[0].lower() in ("1", "true"):
            return "watch", resource
        if rest is None:
            return "get", resource
        return ("list" if len(rest) <= 1 else "get"), resource
    verb = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(method, method.lower())
    return verb, resource


def kube_status(code, verb, path):
    name = path.rstrip("/").rsplit("/", 1)[-1]
    reasons = {
        400: ("BadRequest", "kproxy: injected bad request (as for a field selector the server does not "
              "support)"),
        409: ("Conflict", 'Operation cannot be fulfilled on %s: the object has been modified; '
              'please apply your changes to the latest version and try again (kproxy: injected)' % name),
        429: ("TooManyRequests", "too many requests, please try again later (kproxy: injected)"),
        500: ("InternalError", "Internal error occurred: kproxy: injected server error"),
        503: ("ServiceUnavailable", "the server is currently unable to handle the request (kproxy: injected)"),
    }
    reason, msg = reasons[code]
    st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
          "message": msg, "reason": reason, "details": {"name": name}, "code": code}
    if code == 429:
        st["details"]["retryAfterSeconds"] = 1
    return json.dumps(st).encode()


def aws_error(code):
    types = {429: ("ThrottlingException", "Rate exceeded (kproxy: injected)"),
             500: ("KMSInternalException", "kproxy: injected internal error"),
             503: ("ServiceUnavailableException", "kproxy: injected: service unavailable")}
    t, m = types[code]
    return json.dumps({"__type": t, "message": m}).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kproxy"
    sys_version = ""

    def log_message(self, fmt, *args):  # quiet; --verbose logs requests itself
        pass

    def setup(self):
        super().setup()
        self.up = None
        self.server.stats.bump("connections")

    def finish(self):
        try:
            super().finish()
        finally:
            self._drop_upstream()

    def _drop_upstream(self):
        if self.up is not None:
            try:
                self.up.close()
            except OSError:
                pass
            self.up = None

    # every method goes through _proxy
    def do_GET(self):
        self._proxy()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _read_body(self):
        te = self.headers.get("Transfer-Encoding", "").lower()
        if "chunked" in te:
            out = bytearray()
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline(3)
                if len(out) > MAX_BODY:
                    raise ValueError("request body too large")
        n = int(self.headers.get("Content-Length", "0") or "0")
        if n > MAX_BODY:
            raise ValueError("request body too large")
        return self.rfile.read(n) if n else None

    def _send(self, code, body, ctype="application/json", extra=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def _fault(self, code, verb, path):
        srv = self.server
        extra = {"Retry-After": "1"} if code == 429 else {}
        if srv.flavor == "kube":
            self._send(code, kube_status(code, verb, path), extra=extra)
        else:
            self._send(code, aws_error(code), ctype="application/x-amz-json-1.1", extra=extra)

    def _upstream_request(self, body):
        """Send the request upstream (one retry on a stale keep-alive connection)."""
        srv = self.server
        hdrs = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        if srv.flavor == "kube":
            # the proxy authenticates upstream with its own client certificate
            hdrs = {k: v for k, v in hdrs.items() if k.lower() != "authorization"}
            hdrs["Host"] = "%s:%d" % (srv.upstream.host, srv.upstream.port)
        else:
            # transparent: the SigV4 signature covers Host and Authorization
            hdrs["Host"] = self.headers.get("Host") or "%s:%d" % (srv.upstream.host, srv.upstream.port)
        if body is not None:
            hdrs["Content-Length"] = str(len(body))
        for attempt in (1, 2):
            fresh = self.up is None
            if fresh:
                self.up = srv.upstream.connect()
            elif self.up.sock is not None:
                self.up.sock.settimeout(UP_TIMEOUT)
            try:
                self.up.request(self.command, self.path, body=body, headers=hdrs)
                return self.up.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self._drop_upstream()
                if fresh or attempt == 2:
                    raise
        raise RuntimeError("unreachable")

    def _proxy(self):
        srv = self.server
        u = urllib.parse.urlsplit(self.path)
        if srv.flavor == "kube":
            verb, resource = kube_verb(self.command, u.path, u.query)
        else:
            verb = (self.headers.get("X-Amz-Target", "") or "").rsplit(".", 1)[-1] or self.command.lower()
            resource = "kms"
        srv.stats.request(self.command, verb)
        try:
            body = self._read_body()
        except ValueError as e:
            self._send(400, json.dumps({"message": str(e)}).encode())
            self.close_connection = True
            return
        if srv.flavor == "kube":
            ptype = PATCH_TYPES.get((self.headers.get("Content-Type", "") or "").split(";")[0].strip())
            fault = srv.config.pick(verb, resource, kube_name(u.path), ptype if verb == "patch" else None,
                                    urllib.parse.parse_qs(u.query))
        else:
            fault = srv.config.pick(verb, resource)
        if fault and verb == "watch" and fault == "fwd500":
            fault = "500"  # a watch has no "succeeded but reported failed"
        if fault and fault != "fwd500":
            srv.stats.injected(verb, resource, fault)
            if srv.verbose:
                log("%s %s -> injected %s" % (self.command, self.path, fault))
            self._fault(int(fault), verb, u.path)
            return
        try:
            resp = self._upstream_request(body)
        except (OSError, http.client.HTTPException) as e:
            srv.stats.bump("upstream_errors")
            self._drop_upstream()
            log("upstream %s %s: %s" % (self.command, u.path, e))
            if srv.flavor == "kube":
                self._send(502, json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {},
                                            "status": "Failure", "reason": "ServiceUnavailable",
                                            "message": "kproxy: upstream: %s" % e, "code": 502}).encode())
            else:
                self.close_connection = True  # the client sees the connection go away
            return
        srv.stats.bump("forwarded")
        if fault == "fwd500":
            try:
                data = resp.read()
            except (OSError, http.client.HTTPException):
                data = b""
                self._drop_upstream()
            srv.stats.injected(verb, resource, fault)
            if 200 <= resp.status < 300:
                srv.stats.reported_failed(resource, resp.status, data)
            if srv.verbose:
                log("%s %s -> forwarded (%d), reported 500" % (self.command, self.path, resp.status))
            self._fault(500, verb, u.path)
            return
        if srv.verbose:
            log("%s %s -> %d" % (self.command, self.path, resp.status))
        if resp.getheader("Content-Length") is not None or self.command == "HEAD" or resp.status in (204, 304):
            self._relay_buffered(resp)
        else:
            self._relay_stream(resp, verb)

    def _copy_headers(self, resp):
        for k, v in resp.getheaders():
            if k.lower() not in HOP:
                self.send_header(k, v)

    def _relay_buffered(self, resp):
        try:
            data = resp.read()
        except (OSError, http.client.HTTPException) as e:
            self.server.stats.bump("upstream_errors")
            self._drop_upstream()
            log("upstream read %s: %s" % (self.path, e))
            self.close_connection = True
            return
        if resp.will_close:
            self._drop_upstream()
        self.send_response(resp.status, resp.reason)
        self._copy_headers(resp)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.wfile.flush()

    def _relay_stream(self, resp, verb):
        srv = self.server
        done = threading.Event()
        cut_done = threading.Event()
        up_sock = self.up.sock if self.up is not None else None

        def do_cut():
            cut_done.set()
            srv.stats.bump("watch_cuts")
            for s in (self.connection, up_sock):
                try:
                    if s is not None:
                        s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        def cutter():
            # cut_watch may be turned on (or off) while the watch runs
            deadline = None
            while not done.wait(0.25):
                after = srv.config.cut_after()
                if not after:
                    deadline = None
                    continue
                if deadline is None:
                    deadline = time.monotonic() + after
                elif time.monotonic() >= deadline:
                    do_cut()
                    return

        if up_sock is not None:
            up_sock.settimeout(None)  # a watch may be quiet for minutes
        self.send_response(resp.status, resp.reason)
        self._copy_headers(resp)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        if verb == "watch":
            srv.stats.bump("watches")
            threading.Thread(target=cutter, daemon=True).start()
        try:
            while True:
                chunk = resp.read1(65536)
                if not chunk:
                    break
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
            if cut_done.is_set():
                raise ConnectionAbortedError("cut")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            if resp.will_close:
                self._drop_upstream()
        except (OSError, ValueError, http.client.HTTPException):
            # cut, or one side went away: end both connections without a final chunk
            self._drop_upstream()
            self.close_connection = True
        finally:
            done.set()


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, tls_ctx):
        self.tls_ctx = tls_ctx
        super().__init__(addr, Handler)

    def get_request(self):
        sock, addr = super().get_request()
        if self.tls_ctx:
            # the handshake happens in the handler thread, on first read
            sock = self.tls_ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        e = sys.exc_info()[1]
        if isinstance(e, (OSError, ssl.SSLError, ValueError)):
            return  # a client went away or spoke garbage: nothing to tell
        super().handle_error(request, client_address)


def write_kubeconfig(path, url, ca_pem):
    doc = """apiVersion: v1
kind: Config
clusters:
- name: kproxy
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: kproxy
  user: {}
contexts:
- name: kproxy
  context:
    cluster: kproxy
    user: kproxy
    namespace: default
current-context: kproxy
""" % (url, base64.b64encode(ca_pem).decode())
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(doc)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description="fault-injecting proxy (see the module docstring)")
    ap.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT (port 0: pick one)")
    ap.add_argument("--port-file", help="write the port here once listening")
    ap.add_argument("--flavor", choices=["kube", "aws"], default="kube")
    ap.add_argument("--plain", action="store_true", help="listen without TLS")
    ap.add_argument("--cert", help="serving certificate (PEM), unless --plain")
    ap.add_argument("--key", help="serving key (PEM), unless --plain")
    ap.add_argument("--upstream-kubeconfig", help="kube: the real apiserver and admin credentials")
    ap.add_argument("--upstream", help="upstream base URL (aws mode; overrides the kubeconfig's)")
    ap.add_argument("--kubeconfig-out", help="kube: write a kubeconfig that points at the proxy")
    ap.add_argument("--fault", action="append", default=[], help="VERBS=P:CODES (repeatable)")
    ap.add_argument("--cut-watch", type=float, default=0, help="cut watches after ~N seconds")
    ap.add_argument("--control", help="JSON control file, re-read when it changes")
    ap.add_argument("--stats", help="JSON statistics file")
    ap.add_argument("--seed", type=int, help="random seed (reproducible fault choice)")
    ap.add_argument("--verbose", action="store_true", help="log every request (never bodies)")
    a = ap.parse_args()

    config = Config(a.flavor, a.fault, a.cut_watch)
    if a.seed is not None:
        config.rng.seed(a.seed)
    if a.control:
        config.watch_control(a.control)

    up_ctx = None
    keep = tempfile.mkdtemp(prefix="kproxy-")  # 0700: the client key passes through here
    try:
        if a.upstream_kubeconfig:
            server, ca, crt, key = kubeconfig_fields(a.upstream_kubeconfig)
            up_url = a.upstream or server
            up_ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
            if ca:
                up_ctx.load_verify_locations(cadata=ca.decode())
            if crt and key:
                cf, kf = os.path.join(keep, "client.crt"), os.path.join(keep, "client.key")
                for fn, data in ((cf, crt), (kf, key)):
                    fd = os.open(fn, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    with os.fdopen(fd, "wb") as f:
                        f.write(data)
                up_ctx.load_cert_chain(cf, kf)
                os.unlink(cf)
                os.unlink(kf)
        elif a.upstream:
            up_url = a.upstream
            up_ctx = ssl.create_default_context()
        else:
            ap.error("--upstream-kubeconfig or --upstream is required")
    finally:
        shutil.rmtree(keep, ignore_errors=True)

    tls_ctx = None
    if not a.plain:
        if not a.cert or not a.key:
            ap.error("--cert and --key are required without --plain")
        tls_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls_ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        tls_ctx.load_cert_chain(a.cert, a.key)

    host, _, port = a.listen.rpartition(":")
    srv = Server((host or "127.0.0.1", int(port)), tls_ctx)
    srv.flavor = a.flavor
    srv.config = config
    srv.stats = Stats(a.stats)
    srv.verbose = a.verbose
    srv.upstream = Upstream(up_url, up_ctx)
    port = srv.server_address[1]
    url = "%s://127.0.0.1:%d" % ("http" if a.plain else "https", port)
    if a.kubeconfig_out:
        if not up_ctx or a.plain:
            ap.error("--kubeconfig-out needs TLS and an upstream kubeconfig")
        _, ca, _, _ = kubeconfig_fields(a.upstream_kubeconfig)
        write_kubeconfig(a.kubeconfig_out, url, ca)
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, a.port_file)

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    log("listening on %s -> %s://%s:%d" % (url, "https" if srv.upstream.https else "http",
                                            srv.upstream.host, srv.upstream.port))
    srv.stats.flush(force=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()
        srv.stats.flush(force=True)
        log("stopped")


if __name__ == "__main__":
    main()
