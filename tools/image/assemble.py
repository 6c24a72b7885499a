#!/usr/bin/env python3
"""Assemble a container image from a root filesystem directory, without a
container engine (python3 standard library only).

    assemble.py --rootfs DIR --out DIR --name vecward/vecward --tag TAG
                [--arch amd64] [--revision SHA] [--created EPOCH]

Writes into --out:
  vecward-oci.tar     an OCI image layout (oci-layout, index.json, blobs/sha256/)
                      in a tar: `skopeo copy oci-archive:vecward-oci.tar ...`,
                      `ctr images import`; index.json names the image both ways
                      (org.opencontainers.image.ref.name = TAG and
                      io.containerd.image.name = the full reference)
  vecward-docker.tar  the same config and layer in the `docker save` format
                      (manifest.json, repositories, CONFIG.json, DIFFID/layer.tar):
                      `docker load -i`, `kind load image-archive`

One layer holding the whole root filesystem. Every entry of the layer is owned
by 0:0 with mtime 0 and the file's permission bits; entries are sorted by
name; gzip carries no name and mtime 0; JSON is written with sorted keys. So
the same rootfs, tag, revision and created time give the same bytes and the
same image digest, on any machine.

The image config: User 65532:65532, Entrypoint /usr/local/bin/vecward-operator
(the webhook is the same image with command /usr/local/bin/vecward-webhook),
no Cmd, WorkingDir /, and org.opencontainers.image.* labels.
"""
import argparse
import datetime
import gzip
import hashlib
import io
import json
import os
import re
import stat
import sys
import tarfile

MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"

USER = "65532:65532"
ENTRYPOINT = ["/usr/local/bin/vecward-operator"]
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
NAME_RE = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$")


def die(msg):
    print("assemble: " + msg, file=sys.stderr)
    sys.exit(1)


def canonical_json(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def full_reference(name, tag):
    """vecward/vecward:TAG -> docker.io/vecward/vecward:TAG (what containerd
    and the kubelet call it); names with a registry host are kept."""
    first = name.split("/", 1)[0]
    if "/" in name and ("." in first or ":" in first or first == "localhost"):
        return "%s:%s" % (name, tag)
    if "/" not in name:
        name = "library/" + name
    return "docker.io/%s:%s" % (name, tag)


def layer_tar(rootfs):
    """The uncompressed layer: every entry under rootfs, parents first,
    sorted, owned by 0:0, mtime 0."""
    paths = []
    for dirpath, dirnames, filenames in os.walk(rootfs):
        dirnames.sort()
        for n in dirnames + filenames:
            full = os.path.join(dirpath, n)
            paths.append(os.path.relpath(full, rootfs))
    paths.sort(key=lambda p: p.encode())

    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for rel in paths:
            full = os.path.join(rootfs, rel)
            st = os.lstat(full)
            ti = tarfile.TarInfo(rel)
            ti.mode = stat.S_IMODE(st.st_mode)
            ti.uid = ti.gid = 0
            ti.uname = ti.gname = ""
            ti.mtime = 0
            if stat.S_ISDIR(st.st_mode):
                ti.type = tarfile.DIRTYPE
                tf.addfile(ti)
            elif stat.S_ISLNK(st.st_mode):
                ti.type = tarfile.SYMTYPE
                ti.linkname = os.readlink(full)
                tf.addfile(ti)
            elif stat.S_ISREG(st.st_mode):
                ti.type = tarfile.REGTYPE
                ti.size = st.st_size
                with open(full, "rb") as f:
                    tf.addfile(ti, f)
            else:
                die("%s: not a file, directory or symlink" % full)
    return out.getvalue()


def gzip_bytes(data):
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as g:
        g.write(data)
    return out.getvalue()


def archive(entries):
    """A tar of (name, bytes) files plus their parent directories, sorted,
    0:0, mtime 0."""
    names = {}
    for name, data in entries:
        parts = name.split("/")
        for i in range(1, len(parts)):
            names.setdefault("/".join(parts[:i]), None)
        names[name] = data
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name in sorted(names, key=lambda n: n.encode()):
            data = names[name]
            ti = tarfile.TarInfo(name)
            ti.uid = ti.gid = 0
            ti.uname = ti.gname = ""
            ti.mtime = 0
            if data is None:
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755
                tf.addfile(ti)
            else:
                ti.mode = 0o644
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
    return out.getvalue()


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rootfs", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--name", required=True, help="repository, e.g. vecward/vecward")
    ap.add_argument("--tag", required=True)
    ap.add_argument("--arch", default="amd64", help="OCI architecture (amd64, arm64)")
    ap.add_argument("--revision", default="", help="source revision (git commit)")
    ap.add_argument("--created", type=int, default=0, help="creation time, seconds since the epoch")
    a = ap.parse_args()

    if not os.path.isdir(a.rootfs):
        die("%s: not a directory" % a.rootfs)
    if not TAG_RE.match(a.tag):
        die("tag %r is not a valid image tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})" % a.tag)
    first = a.name.split("/", 1)[0]
    has_host = "/" in a.name and ("." in first or ":" in first or first == "localhost")
    repo = a.name.split("/", 1)[1] if has_host else a.name
    if not NAME_RE.match(repo):
        die("name %r is not a valid repository name" % a.name)
    for p in ENTRYPOINT:
        if not os.access(os.path.join(a.rootfs, p.lstrip("/")), os.X_OK):
            die("%s: entrypoint %s is missing from the rootfs" % (a.rootfs, p))
    created = datetime.datetime.fromtimestamp(a.created, datetime.timezone.utc)
    created = created.strftime("%Y-%m-%dT%H:%M:%SZ")

    raw = layer_tar(a.rootfs)
    gz = gzip_bytes(raw)
    diff_id = "sha256:" + sha256(raw)
    layer = {"mediaType": MT_LAYER, "digest": "sha256:" + sha256(gz), "size": len(gz)}

    labels = {
        "org.opencontainers.image.title": "vecward",
        "org.opencontainers.image.description": "vecward operator and admission webhook "
        "for Milvus clusters on Kubernetes (vecward-operator, vecward-webhook, vecward-crypt)",
        "org.opencontainers.image.version": a.tag,
        "org.opencontainers.image.created": created,
        "org.opencontainers.image.base.name": "scratch",
    }
    if a.revision:
        labels["org.opencontainers.image.revision"] = a.revision
    config = {
        "created": created,
        "architecture": a.arch,
        "os": "linux",
        "config": {
            "User": USER,
            "Env": ["PATH=" + PATH],
            "Entrypoint": ENTRYPOINT,
            "WorkingDir": "/",
            "Labels": labels,
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": created, "created_by": "tools/image/assemble.py",
                     "comment": "vecward binaries, their shared libraries (Debian 12), CA bundle, passwd"}],
    }
    config_b = canonical_json(config)
    config_d = {"mediaType": MT_CONFIG, "digest": "sha256:" + sha256(config_b), "size": len(config_b)}
    manifest = {"schemaVersion": 2, "mediaType": MT_MANIFEST, "config": config_d, "layers": [layer]}
    manifest_b = canonical_json(manifest)
    ref = full_reference(a.name, a.tag)
    index = {
        "schemaVersion": 2,
        "mediaType": MT_INDEX,
        "manifests": [{
            "mediaType": MT_MANIFEST,
            "digest": "sha256:" + sha256(manifest_b),
            "size": len(manifest_b),
            "platform": {"architecture": a.arch, "os": "linux"},
            "annotations": {
                "io.containerd.image.name": ref,
                "org.opencontainers.image.ref.name": a.tag,
            },
        }],
    }

    def blob(d):
        return "blobs/sha256/" + d["digest"].split(":", 1)[1]

    oci = archive([
        ("oci-layout", canonical_json({"imageLayoutVersion": "1.0.0"})),
        ("index.json", canonical_json(index)),
        (blob(config_d), config_b),
        (blob(manifest["layers"][0]), gz),
        (blob({"digest": index["manifests"][0]["digest"]}), manifest_b),
    ])
    cfg_hex = config_d["digest"].split(":", 1)[1]
    diff_hex = diff_id.split(":", 1)[1]
    tagged = "%s:%s" % (a.name, a.tag)
    docker = archive([
        ("manifest.json", canonical_json([{"Config": cfg_hex + ".json", "RepoTags": [tagged],
                                           "Layers": [diff_hex + "/layer.tar"]}])),
        ("repositories", canonical_json({a.name: {a.tag: diff_hex}})),
        (cfg_hex + ".json", config_b),
        (diff_hex + "/layer.tar", raw),
        (diff_hex + "/VERSION", b"1.0"),
    ])

    os.makedirs(a.out, exist_ok=True)
    write_atomic(os.path.join(a.out, "vecward-oci.tar"), oci)
    write_atomic(os.path.join(a.out, "vecward-docker.tar"), docker)
    mb = 1024.0 * 1024.0
    print("image %s  %s" % (ref, index["manifests"][0]["digest"]))
    print("  layer %.1f MiB compressed, %.1f MiB uncompressed" % (len(gz) / mb, len(raw) / mb))
    print("  %s (%.1f MiB)" % (os.path.join(a.out, "vecward-oci.tar"), len(oci) / mb))
    print("  %s (%.1f MiB)" % (os.path.join(a.out, "vecward-docker.tar"), len(docker) / mb))


if __name__ == "__main__":
    main()
