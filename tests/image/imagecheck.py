#!/usr/bin/env python3
"""Helpers of tests/image/test_image.sh (python3 standard library only).

  imagecheck.py verify OCI_TAR DOCKER_TAR NAME TAG LAYER_OUT
      Reads the OCI archive as a registry client would (index.json -> manifest
      -> config and layer), checks every blob's sha256 and size, the config
      (user, entrypoint, labels), the layer's entries (owners, times, order,
      no shell or package manager, the only programs), and that the docker
      archive carries the same config and layer. Writes the verified gzip
      layer to LAYER_OUT. One line per check: "PASS what" or "FAIL what: why".

  imagecheck.py fake-api PORT CERT KEY TOKEN LOG
      A stand-in for the API server on 127.0.0.1:PORT over TLS: answers every
      request 404 and appends "METHOD PATH token=ok|bad|none" to LOG, so the
      test sees what a program in the image sent and with which credentials.
"""
import gzip
import hashlib
import http.server
import io
import json
import ssl
import sys
import tarfile

USER = "65532:65532"
ENTRYPOINT = ["/usr/local/bin/vecward-operator"]
PROGRAMS = {"usr/local/bin/vecward-operator", "usr/local/bin/vecward-webhook",
            "usr/local/bin/vecward-crypt"}
FORBIDDEN = {"sh", "bash", "dash", "ash", "busybox", "su", "sudo", "env", "apt", "apt-get",
             "aptitude", "dpkg", "dpkg-deb", "dpkg-query", "curl", "wget", "python3", "perl"}

results = []


def check(what, ok, why=""):
    results.append(ok)
    print(("PASS %s" % what) if ok else ("FAIL %s: %s" % (what, why)), flush=True)
    return ok


def sha256(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def read_tar(path):
    """name -> bytes of every regular file; refuses unsafe names."""
    files = {}
    with tarfile.open(path, "r:") as tf:
        for m in tf.getmembers():
            n = m.name
            if n.startswith("/") or ".." in n.split("/"):
                raise ValueError("unsafe member name %r" % n)
            if m.isfile():
                files[n] = tf.extractfile(m).read()
    return files


def verify_descriptor(files, what, desc, media_type):
    """The blob a descriptor points to, checked; None if it does not check."""
    if not check("%s media type" % what, desc.get("mediaType") == media_type,
                 "%r, want %r" % (desc.get("mediaType"), media_type)):
        return None
    digest = desc.get("digest", "")
    if not digest.startswith("sha256:"):
        check("%s digest" % what, False, "%r is not sha256" % digest)
        return None
    name = "blobs/sha256/" + digest[len("sha256:"):]
    blob = files.get(name)
    if not check("%s blob present" % what, blob is not None, "%s missing" % name):
        return None
    ok = check("%s blob sha256 and size" % what,
               sha256(blob) == digest and len(blob) == desc.get("size"),
               "blob %s size %d, descriptor %s size %s" % (sha256(blob), len(blob), digest,
                                                           desc.get("size")))
    return blob if ok else None


def verify_layer(raw):
    names = []
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tf:
        members = tf.getmembers()
    bad_owner = [m.name for m in members if m.uid or m.gid]
    check("layer: every entry owned by 0:0", not bad_owner, ", ".join(bad_owner[:5]))
    bad_time = [m.name for m in members if m.mtime != 0]
    check("layer: every entry has mtime 0", not bad_time, ", ".join(bad_time[:5]))
    names = [m.name.rstrip("/") for m in members]
    check("layer: entries sorted by name", names == sorted(names, key=lambda n: n.encode()),
          "not sorted")
    unsafe = [n for n in names if n.startswith("/") or ".." in n.split("/")]
    check("layer: no absolute or .. paths", not unsafe, ", ".join(unsafe[:5]))
    special = [m.name for m in members if not (m.isfile() or m.isdir() or m.issym())]
    check("layer: only files, directories and symlinks", not special, ", ".join(special[:5]))
    suid = [m.name for m in members if m.mode & 0o6000]
    check("layer: no setuid or setgid entries", not suid, ", ".join(suid))
    forbidden = [m.name for m in members if not m.isdir() and m.name.split("/")[-1] in FORBIDDEN]
    check("layer: no shell, package manager or downloader", not forbidden, ", ".join(forbidden))
    bindirs = [n for n in names if n in ("bin", "sbin", "usr/bin", "usr/sbin")]
    check("layer: no bin or sbin directories", not bindirs, ", ".join(bindirs))
    progs = {m.name for m in members
             if m.isfile() and m.mode & 0o111 and "/ld-linux" not in m.name}
    check("layer: the only programs are the vecward binaries (and the loader)",
          progs == PROGRAMS, "found %s" % sorted(progs))
    by_name = {m.name.rstrip("/"): m for m in members}
    for n in ("etc/passwd", "etc/group", "etc/nsswitch.conf", "etc/ssl/certs/ca-certificates.crt"):
        check("layer: has /%s" % n, n in by_name and by_name[n].isfile(), "missing")
    tmp = by_name.get("tmp")
    check("layer: /tmp is a 1777 directory (a mount point)",
          tmp is not None and tmp.isdir() and (tmp.mode & 0o7777) == 0o1777,
          "mode %s" % (oct(tmp.mode) if tmp else "missing"))
    return by_name


def verify(oci_path, docker_path, name, tag, layer_out):
    try:
        oci = read_tar(oci_path)
    except (tarfile.TarError, ValueError, OSError) as e:
        check("OCI archive readable", False, str(e))
        return
    check("OCI archive readable", True)
    try:
        layout = json.loads(oci.get("oci-layout", b"null"))
        index = json.loads(oci.get("index.json", b"null"))
    except ValueError as e:
        check("oci-layout and index.json are JSON", False, str(e))
        return
    check("oci-layout version 1.0.0", isinstance(layout, dict)
          and layout.get("imageLayoutVersion") == "1.0.0", repr(layout))
    if not check("index.json: one manifest", isinstance(index, dict)
                 and index.get("schemaVersion") == 2 and len(index.get("manifests", [])) == 1,
                 repr(index)[:200]):
        return
    mdesc = index["manifests"][0]
    ann = mdesc.get("annotations", {})
    ref = "docker.io/%s:%s" % (name, tag)
    check("index.json: ref.name is the tag %s" % tag,
          ann.get("org.opencontainers.image.ref.name") == tag, repr(ann))
    check("index.json: containerd image name %s" % ref, ann.get("io.containerd.image.name") == ref,
          repr(ann))
    check("index.json: platform linux", mdesc.get("platform", {}).get("os") == "linux",
          repr(mdesc.get("platform")))
    mblob = verify_descriptor(oci, "manifest", mdesc, "application/vnd.oci.image.manifest.v1+json")
    if mblob is None:
        return
    manifest = json.loads(mblob)
    check("manifest: schemaVersion 2, one layer",
          manifest.get("schemaVersion") == 2 and len(manifest.get("layers", [])) == 1,
          repr(manifest)[:200])
    cblob = verify_descriptor(oci, "config", manifest.get("config", {}),
                              "application/vnd.oci.image.config.v1+json")
    lblob = verify_descriptor(oci, "layer", (manifest.get("layers") or [{}])[0],
                              "application/vnd.oci.image.layer.v1.tar+gzip")
    referenced = {"blobs/sha256/" + d["digest"].split(":", 1)[1]
                  for d in [mdesc, manifest.get("config", {})] + manifest.get("layers", [])
                  if "digest" in d}
    stray = sorted(n for n in oci if n.startswith("blobs/") and n not in referenced)
    check("OCI archive: no unreferenced blobs", not stray, ", ".join(stray))
    if cblob is None or lblob is None:
        return

    config = json.loads(cblob)
    c = config.get("config", {})
    check("config: User %s" % USER, c.get("User") == USER, repr(c.get("User")))
    check("config: Entrypoint %s" % ENTRYPOINT, c.get("Entrypoint") == ENTRYPOINT,
          repr(c.get("Entrypoint")))
    check("config: no Cmd", not c.get("Cmd"), repr(c.get("Cmd")))
    check("config: Env sets PATH", any(e.startswith("PATH=") for e in c.get("Env", [])),
          repr(c.get("Env")))
    labels = c.get("Labels", {})
    check("config: label org.opencontainers.image.version = %s" % tag,
          labels.get("org.opencontainers.image.version") == tag, repr(labels))
    check("config: labels title and created",
          labels.get("org.opencontainers.image.title") == "vecward"
          and labels.get("org.opencontainers.image.created") == config.get("created"),
          repr(labels))
    check("config: os linux", config.get("os") == "linux", repr(config.get("os")))

    try:
        raw = gzip.decompress(lblob)
    except OSError as e:
        check("layer: gunzips", False, str(e))
        return
    diff_ids = config.get("rootfs", {}).get("diff_ids", [])
    check("config: rootfs.diff_ids is the uncompressed layer's sha256",
          diff_ids == [sha256(raw)], "%r vs %s" % (diff_ids, sha256(raw)))
    verify_layer(raw)
    with open(layer_out, "wb") as f:
        f.write(lblob)

    try:
        dock = read_tar(docker_path)
        dman = json.loads(dock["manifest.json"])
    except (tarfile.TarError, ValueError, KeyError, OSError) as e:
        check("docker archive readable, has manifest.json", False, str(e))
        return
    check("docker archive readable, has manifest.json", True)
    if not check("docker manifest.json: one image", isinstance(dman, list) and len(dman) == 1,
                 repr(dman)[:200]):
        return
    d = dman[0]
    check("docker manifest.json: RepoTags [%s:%s]" % (name, tag),
          d.get("RepoTags") == ["%s:%s" % (name, tag)], repr(d.get("RepoTags")))
    check("docker archive: the same config blob as the OCI image",
          dock.get(d.get("Config", "")) == cblob, "Config %r differs" % d.get("Config"))
    dl = d.get("Layers", [])
    check("docker archive: the same layer (uncompressed) as the OCI image",
          len(dl) == 1 and dock.get(dl[0]) == raw, "Layers %r differ" % dl)
    try:
        repos = json.loads(dock.get("repositories", b"{}"))
    except ValueError:
        repos = {}
    check("docker archive: repositories names %s:%s" % (name, tag), tag in repos.get(name, {}),
          repr(repos))


class FakeAPI(http.server.BaseHTTPRequestHandler):
    token = ""
    log = ""

    def answer(self):
        auth = self.headers.get("Authorization")
        seen = "none" if auth is None else ("ok" if auth == "Bearer " + self.token else "bad")
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(min(n, 1 << 20))
        with open(self.log, "a") as f:
            f.write("%s %s token=%s\n" % (self.command, self.path, seen))
        body = b'{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}'
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = answer

    def log_message(self, fmt, *args):
        pass


def fake_api(port, cert, key, token, log):
    FakeAPI.token, FakeAPI.log = token, log
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), FakeAPI)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.serve_forever()


def main():
    if len(sys.argv) == 7 and sys.argv[1] == "verify":
        verify(*sys.argv[2:])
        sys.exit(0 if results and all(results) else 1)
    if len(sys.argv) == 7 and sys.argv[1] == "fake-api":
        fake_api(*sys.argv[2:])
        return
    print(__doc__, file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
    main()
