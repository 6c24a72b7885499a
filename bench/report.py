#!/usr/bin/env python3
"""Merge the benchmark fragments bench/out/*.json into bench/out/results.json and
print them as one aligned table.

A fragment is {"section": "...", "rows": [{"metric", "value", "unit", "floor",
"ratio", "detail"}]} (value, floor, ratio: numbers or null). results.json adds
the machine (nproc, memory, kernel, CPU model), the date and `git describe`.
Figures only: nothing here compares them with a threshold.

    bench/report.py [--out DIR]     (default: bench/out next to this file)
"""
import argparse
import datetime
import glob
import json
import os
import platform
import subprocess
import sys

# sections in this order first, any other after them by name
ORDER = ["convergence", "idle", "footprint", "webhook", "dry-run", "certificates"]
FIELDS = ["metric", "value", "unit", "floor", "ratio", "detail"]


def machine(root):
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_kb = 0
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem_kb = int(line.split()[1])
                    break
    except OSError:
        pass
    try:
        describe = subprocess.run(["git", "-C", root, "describe", "--always", "--dirty"],
                                  capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        describe = ""
    return {
        "nproc": os.cpu_count(),
        "memory_mb": mem_kb // 1024,
        "kernel": platform.release(),
        "cpu_model": cpu,
        "loadavg": list(os.getloadavg()),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "git_describe": describe or "unknown",
    }


def load_fragments(out):
    frags = []
    for path in sorted(glob.glob(os.path.join(out, "*.json"))):
        if os.path.basename(path) == "results.json":
            continue
        with open(path) as f:
            try:
                frag = json.load(f)
            except ValueError as e:
                raise SystemExit("report: %s is not JSON: %s" % (path, e))
        if not isinstance(frag, dict) or not isinstance(frag.get("section"), str) or \
                not isinstance(frag.get("rows"), list):
            raise SystemExit("report: %s is not a fragment ({\"section\", \"rows\"})" % path)
        for r in frag["rows"]:
            missing = [k for k in ("metric", "value", "unit") if k not in r]
            if missing:
                raise SystemExit("report: %s: a row lacks %s" % (path, ", ".join(missing)))
        frag["file"] = os.path.basename(path)
        frags.append(frag)
    rank = {s: i for i, s in enumerate(ORDER)}
    frags.sort(key=lambda f: (rank.get(f["section"], len(ORDER)), f["section"], f["file"]))
    return frags


def num(v):
    if v is None:
        return "-"
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, int) or float(v).is_integer() and abs(v) >= 1000:
        return "{:,}".format(int(v)).replace(",", " ")
    a = abs(v)
    if a >= 100:
        return "%.0f" % v
    if a >= 10:
        return "%.1f" % v
    if a >= 1:
        return "%.2f" % v
    return "%.3g" % v


def text(v):
    """A detail as one line: a string as is, an object as "key value; ..."."""
    if v is None:
        return ""
    if isinstance(v, dict):
        return "; ".join("%s %s" % (k, text(x)) for k, x in v.items())
    if isinstance(v, list):
        return ", ".join(text(x) for x in v)
    return str(v)


def table(frags, width):
    lines = []
    rows = []
    for frag in frags:
        for r in frag["rows"]:
            ratio = r.get("ratio")
            rows.append((frag["section"], str(r["metric"]),
                         num(r["value"]) + (" " + r["unit"] if r.get("unit") else ""),
                         num(r.get("floor")), "-" if ratio is None else num(ratio) + "x",
                         text(r.get("detail"))))
    head = ("section", "metric", "value", "floor", "ratio", "detail")
    w = [max(len(head[i]), *(len(r[i]) for r in rows)) if rows else len(head[i]) for i in range(5)]

    def fmt(r):
        cells = [r[0].ljust(w[0]), r[1].ljust(w[1]), r[2].rjust(w[2]), r[3].rjust(w[3]),
                 r[4].rjust(w[4])]
        left = "  ".join(cells) + "  "
        detail = r[5]
        room = max(30, width - len(left))
        if len(detail) <= room:
            return [left + detail]
        # wrap the detail under its own column
        out, cur = [], ""
        for word in detail.split(" "):
            if cur and len(cur) + 1 + len(word) > room:
                out.append(cur)
                cur = word
            else:
                cur = word if not cur else cur + " " + word
        out.append(cur)
        return [left + out[0]] + [" " * len(left) + x for x in out[1:]]

    lines += fmt(head)
    lines.append("  ".join("-" * x for x in w) + "  " + "-" * 6)
    prev = None
    for r in rows:
        if prev is not None and r[0] != prev:
            lines.append("")
        lines += fmt(r)
        prev = r[0]
    return lines


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description="merge bench/out/*.json and print one table")
    p.add_argument("--out", default=os.path.join(here, "out"))
    p.add_argument("--width", type=int, default=int(os.environ.get("COLUMNS", "160")))
    a = p.parse_args()
    frags = load_fragments(a.out)
    if not frags:
        print("report: no fragments in %s (run make bench)" % a.out, file=sys.stderr)
        return 1
    m = machine(os.path.dirname(here))
    results = {"machine": m, "sections": [
        {"section": f["section"], "file": f["file"],
         "rows": [{k: r.get(k) for k in FIELDS} for r in f["rows"]]} for f in frags]}
    tmp = os.path.join(a.out, "results.json.tmp")
    with open(tmp, "w") as f:
        json.dump(results, f, indent=1)
        f.write("\n")
    os.replace(tmp, os.path.join(a.out, "results.json"))
    print("vecward benchmarks, %s (%s): %d CPUs (%s), %d MB, Linux %s, load %.2f"
          % (m["git_describe"], m["date"], m["nproc"], m["cpu_model"], m["memory_mb"], m["kernel"],
             m["loadavg"][0]))
    print("\n".join(table(frags, a.width)))
    print("\n%d rows from %s -> %s" % (sum(len(f["rows"]) for f in frags),
                                       ", ".join(f["file"] for f in frags),
                                       os.path.join(a.out, "results.json")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
