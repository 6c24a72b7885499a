#!/usr/bin/env python3
"""Generate docs/api.md, the API reference of the vecward CRDs, from crds/*.yaml.

    tools/gen-api-docs.py [CRD_DIR] > docs/api.md     (make docs)
    tools/gen-api-docs.py --check [CRD_DIR] docs/api.md  (make check-docs)

The CRD schemas are the only source: every field's type, default, constraints and
description, the CEL x-kubernetes-validations messages ("rules") and the printer
columns come from them, so the reference is never written twice. Output is
deterministic (the same CRDs always give the same bytes). Needs python3 and PyYAML
(Debian: python3-yaml).
"""
import difflib
import glob
import json
import os
import re
import sys

try:
    import yaml
except ImportError:  # pragma: no cover
    sys.stderr.write("gen-api-docs: PyYAML is missing (Debian: apt-get install python3-yaml)\n")
    sys.exit(2)

KIND_ORDER = ["Cluster", "User", "EncryptionKey"]
STANDARD = ("apiVersion", "kind", "metadata")


def fold(s):
    """One line of text from a YAML block: whitespace runs become one space."""
    return re.sub(r"\s+", " ", str(s)).strip()


def text(s):
    """Table-safe Markdown text: no raw HTML, no column breaks, no emphasis."""
    s = fold(s)
    s = s.replace("\\", "\\\\").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = s.replace("|", "\\|").replace("*", "\\*")
    return s


def code(s):
    """An inline code span (the pipe escaped for the table), wide enough for any backticks."""
    s = fold(s).replace("|", "\\|")
    ticks = "`"
    while ticks in s:
        ticks += "`"
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{ticks}{pad}{s}{pad}{ticks}"


def show(v):
    """A default or enum value as it would be written in YAML, compactly."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    return json.dumps(v, separators=(", ", ": "), sort_keys=True)


def type_of(node):
    t = node.get("type", "")
    if t == "array":
        return "[]" + type_of(node.get("items", {}))
    if node.get("x-kubernetes-int-or-string"):
        t = "int-or-string"
    if node.get("format"):
        t = f"{t} ({node['format']})"
    if node.get("x-kubernetes-preserve-unknown-fields"):
        t += ", free-form"
    return t or "any"


def constraints(node, required):
    out = []
    if required:
        out.append("required")
    if "enum" in node:
        out.append("one of " + ", ".join(code(show(e)) for e in node["enum"]))
    if "pattern" in node:
        out.append("pattern " + code(node["pattern"]))
    lo, hi = node.get("minLength"), node.get("maxLength")
    if lo is not None or hi is not None:
        out.append(rng("length", lo, hi))
    lo, hi = node.get("minimum"), node.get("maximum")
    if lo is not None or hi is not None:
        out.append(rng("value", lo, hi))
    lo, hi = node.get("minItems"), node.get("maxItems")
    if lo is not None or hi is not None:
        out.append(rng("items", lo, hi))
    lt = node.get("x-kubernetes-list-type")
    if lt == "set":
        out.append("a set (no duplicates)")
    elif lt == "map":
        keys = ", ".join(node.get("x-kubernetes-list-map-keys", []))
        out.append(f"a map keyed by {keys}")
    if node.get("x-kubernetes-validations"):
        n = len(node["x-kubernetes-validations"])
        out.append(f"{n} rule{'s' if n > 1 else ''} below")
    return "; ".join(out)


def rng(what, lo, hi):
    if lo is not None and hi is not None:
        return f"{what} {lo}-{hi}"
    if lo is not None:
        return f"{what} at least {lo}"
    return f"{what} at most {hi}"


def walk(node, path, required, rows, rules):
    """Depth-first, in schema order: a row per field, rules collected on the way."""
    if path:
        rows.append((path, node, required))
    for r in node.get("x-kubernetes-validations", []) or []:
        where = path or "(object)"
        fp = r.get("fieldPath")
        if fp:
            where = (path + fp) if path else fp.lstrip(".")
        rules.append((where, r))
    if node.get("type") == "array" and isinstance(node.get("items"), dict):
        items = node["items"]
        # an array of objects: its fields follow as path[].field; an array of
        # scalars carries its item constraints on its own row (see item_notes)
        for r in items.get("x-kubernetes-validations", []) or []:
            rules.append((path + "[]" + (r.get("fieldPath") or ""), r))
        if items.get("type") == "object":
            walk_props(items, path + "[]", rows, rules)
    elif node.get("type") == "object":
        walk_props(node, path, rows, rules)


def walk_props(node, path, rows, rules):
    req = set(node.get("required", []) or [])
    for name, child in (node.get("properties") or {}).items():
        if not path and name in STANDARD:
            continue
        walk(child, f"{path}.{name}" if path else name, name in req, rows, rules)


def item_notes(node):
    """Constraints of the items of an array of scalars, shown on the array's row."""
    items = node.get("items")
    if node.get("type") != "array" or not isinstance(items, dict) or items.get("type") == "object":
        return ""
    c = constraints({k: v for k, v in items.items() if k != "x-kubernetes-validations"}, False)
    n = len(items.get("x-kubernetes-validations", []) or [])
    if n:
        c = (c + "; " if c else "") + f"{n} item rule{'s' if n > 1 else ''} below"
    return ("each item: " + c) if c else ""


def field_table(rows, out):
    out.append("| field | type | default | constraints | description |")
    out.append("| --- | --- | --- | --- | --- |")
    for path, node, required in rows:
        cons = constraints(node, required)
        extra = item_notes(node)
        if extra:
            cons = f"{cons}; {extra}" if cons else extra
        default = code(show(node["default"])) if "default" in node else ""
        desc = node.get("description", "")
        items = node.get("items")
        if not desc and isinstance(items, dict):
            desc = items.get("description", "")
        out.append(f"| {code(path)} | {type_of(node)} | {default} | {cons} | {text(desc)} |")


def rule_table(rules, out):
    out.append("| field | rule (the message the API server returns) | reason |")
    out.append("| --- | --- | --- |")
    for where, r in rules:
        out.append(f"| {code(where)} | {text(r.get('message', r.get('rule', '')))} | "
                   f"{r.get('reason', 'FieldValueInvalid')} |")


def render_crd(crd, out):
    spec = crd["spec"]
    names = spec["names"]
    kind = names["kind"]
    for ver in spec["versions"]:
        schema = ver["schema"]["openAPIV3Schema"]
        out.append(f"## {kind}")
        out.append("")
        facts = [
            f"`{spec['group']}/{ver['name']}`",
            spec.get("scope", "Namespaced").lower(),
            f"plural `{names['plural']}`",
        ]
        if names.get("shortNames"):
            facts.append("short name" + ("s " if len(names["shortNames"]) > 1 else " ")
                         + ", ".join(f"`{s}`" for s in names["shortNames"]))
        if names.get("categories"):
            facts.append("category " + ", ".join(f"`{c}`" for c in names["categories"]))
        if "status" in (ver.get("subresources") or {}):
            facts.append("status subresource")
        out.append("; ".join(facts) + ".")
        out.append("")
        out.append(text(schema.get("description", "")))
        out.append("")

        cols = ver.get("additionalPrinterColumns") or []
        if cols:
            out.append(f"### {kind}: `kubectl get` columns")
            out.append("")
            out.append("Columns with priority 1 appear with `-o wide`.")
            out.append("")
            out.append("| column | type | JSONPath | priority | description |")
            out.append("| --- | --- | --- | --- | --- |")
            for c in cols:
                out.append(f"| {c['name']} | {c['type']} | {code(c['jsonPath'])} | "
                           f"{c.get('priority', 0)} | {text(c.get('description', ''))} |")
            out.append("")

        sel = ver.get("selectableFields") or []
        if sel:
            fields = [f["jsonPath"].lstrip(".") for f in sel]
            out.append(f"### {kind}: field selectors")
            out.append("")
            out.append("Besides `metadata.name` and `metadata.namespace`, these fields select with "
                       "`kubectl get --field-selector` (Kubernetes 1.31 and later): "
                       + ", ".join(code(f) for f in fields) + "; e.g. "
                       f"`kubectl get {names['plural']} --field-selector {fields[0]}=prod`.")
            out.append("")

        props = schema.get("properties", {})
        top_rules = []
        for r in schema.get("x-kubernetes-validations", []) or []:
            fp = r.get("fieldPath")
            top_rules.append((fp.lstrip(".") if fp else "(object)", r))
        for part, title in (("spec", "spec"), ("status", "status")):
            if part not in props:
                continue
            rows, rules = [], []
            walk(props[part], part, part in (schema.get("required") or []), rows, rules)
            if part == "spec":
                rules = top_rules + rules
            out.append(f"### {kind}: `{title}`")
            out.append("")
            field_table(rows, out)
            out.append("")
            if rules:
                out.append(f"### {kind}: rules on `{title}`")
                out.append("")
                out.append("CEL `x-kubernetes-validations`, checked by the API server before the "
                           "object is stored (on update `oldSelf` is the stored object).")
                out.append("")
                rule_table(rules, out)
                out.append("")


def load(crd_dir):
    crds = []
    for f in sorted(glob.glob(os.path.join(crd_dir, "*.yaml")) + glob.glob(os.path.join(crd_dir, "*.yml"))):
        with open(f, encoding="utf-8") as fh:
            for doc in yaml.safe_load_all(fh):
                if doc and doc.get("kind") == "CustomResourceDefinition":
                    crds.append((os.path.basename(f), doc))

    def order(item):
        kind = item[1]["spec"]["names"]["kind"]
        return (KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER), kind)

    return sorted(crds, key=order)


def generate(crd_dir):
    crds = load(crd_dir)
    out = [
        "<!-- Generated by tools/gen-api-docs.py from crds/*.yaml: do not edit by hand.",
        "     Change the CRD, then run `make docs`; `make check-docs` fails when this file is stale. -->",
        "",
        "# API reference",
        "",
        "The custom resources of vecward, generated from their CRD schemas "
        "(" + ", ".join(f"`crds/{f}`" for f, _ in crds) + "). "
        "`kubectl explain <kind>.spec` shows the same descriptions from a live cluster.",
        "",
        "- Defaults are filled in by the API server from the schema (and by the mutating "
        "webhook, [policies.md](policies.md#defaults-filled-in-by-mutate)); the operator "
        "applies the same defaults when a field is absent.",
        "- Rules are the schema's CEL validations. Rules that need other objects "
        "(a key's region, roles that exist, the 20-key limit, password strength, the "
        "namespace opt-in) are enforced by the admission webhook and re-checked by the "
        "operator: see [policies.md](policies.md).",
        "- `status` is written by the operator only; conditions and their reasons are "
        "explained in [troubleshooting.md](troubleshooting.md).",
        "",
        "Contents: " + ", ".join(
            f"[{c['spec']['names']['kind']}](#{c['spec']['names']['kind'].lower()})" for _, c in crds) + ".",
        "",
    ]
    for _, crd in crds:
        render_crd(crd, out)
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"


def main(argv):
    args = argv[1:]
    check = False
    if args and args[0] == "--check":
        check = True
        args = args[1:]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    crd_dir = args[0] if args else os.path.join(root, "crds")
    doc = generate(crd_dir)
    if not check:
        sys.stdout.write(doc)
        return 0
    target = args[1] if len(args) > 1 else os.path.join(root, "docs", "api.md")
    try:
        with open(target, encoding="utf-8") as fh:
            have = fh.read()
    except FileNotFoundError:
        have = ""
    if have == doc:
        return 0
    sys.stderr.write(f"{target} is stale: the CRDs changed; run `make docs`\n")
    diff = difflib.unified_diff(have.splitlines(True), doc.splitlines(True),
                                fromfile=target, tofile="generated", n=1)
    sys.stderr.writelines(list(diff)[:40])
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
