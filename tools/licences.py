#!/usr/bin/env python3
"""Lists the third-party code bundled in the desktop app, for its About box.

Rust: the crates `lifeboat-desktop` links on Linux (normal dependencies only: build scripts,
proc macros' own build deps and dev dependencies do not ship), from `cargo metadata`.
npm: the packages of `ui/package-lock.json` that are not dev dependencies (what Vite bundles).

Writes `ui/src/generated/licences.json`; with `--check` fails when that file is stale, which
`./dev test` runs so the About box cannot drift from Cargo.lock and package-lock.json.
"""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "ui/src/generated/licences.json"


def rust():
    meta = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--locked", "--offline",
             "--filter-platform", "x86_64-unknown-linux-gnu"],
            cwd=ROOT, check=True, capture_output=True, text=True,
        ).stdout
    )
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    root = next(p["id"] for p in meta["packages"] if p["name"] == "lifeboat-desktop")
    seen, todo = set(), [root]
    while todo:
        node = nodes[todo.pop()]
        for dep in node["deps"]:
            if any(k["kind"] is None for k in dep["dep_kinds"]) and dep["pkg"] not in seen:
                seen.add(dep["pkg"])
                todo.append(dep["pkg"])
    out = []
    for pid in seen:
        p = packages[pid]
        if p["source"] is None:  # Lifeboat's own crates
            continue
        out.append({
            "name": p["name"],
            "version": p["version"],
            "licence": p.get("license") or "see its licence file",
            "url": p.get("repository") or p.get("homepage") or f"https://crates.io/crates/{p['name']}",
            "from": "crates.io",
        })
    return out


def npm():
    lock = json.loads((ROOT / "ui/package-lock.json").read_text())
    out = []
    for path, p in lock["packages"].items():
        if not path or p.get("dev"):
            continue
        name = path.rsplit("node_modules/", 1)[-1]
        out.append({
            "name": name,
            "version": p["version"],
            "licence": p.get("license") or "see its licence file",
            "url": f"https://www.npmjs.com/package/{name}",
            "from": "npm",
        })
    return out


def main():
    entries = sorted(rust() + npm(), key=lambda e: (e["name"], e["version"]))
    text = json.dumps(entries, indent=1) + "\n"
    if sys.argv[1:] == ["--check"]:
        if not OUT.is_file() or OUT.read_text() != text:
            sys.exit(f"{OUT.relative_to(ROOT)} is stale: run python3 tools/licences.py")
        print(f"licences: {len(entries)} bundled packages, list up to date")
        return
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    print(f"wrote {len(entries)} entries to {OUT.relative_to(ROOT)}")


main()
