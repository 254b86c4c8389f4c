#!/usr/bin/env python3
"""The declared MSRV is honest: no locked dependency of a published crate needs a newer
Rust than the `rust-version` the workspace declares.

Reads `cargo metadata --format-version 1 --locked --all-features` (every feature: a
user may enable any of them) and walks the resolve graph from each publishable
workspace crate (`publish` not false) along the edges a user of the crate builds:
normal and build dependencies. Not counted, and why:
- dev-dependencies: only this workspace's tests, examples and benchmarks build them
  (the benchmark peers such as seatbelt need a newer Rust than the library), and the
  workspace is built with the pinned toolchain;
- dependencies only under `cfg(failgate_loom)`: loom and its dependencies, built only
  when the crate's own loom models are run (`RUSTFLAGS="--cfg failgate_loom"`), never
  by a user;
- the unpublished crates (the demo, the chart tool, the test kit) and their
  dependencies.
Fails naming each package that needs more, and the chain that reaches it.
"""
import json
import subprocess
import sys

INTERNAL_CFGS = ("cfg(failgate_loom)",)


def version(text):
    """`1.85` and `1.85.0` alike, as (major, minor, patch)."""
    parts = [int(part) for part in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def show(v):
    return ".".join(str(part) for part in (v[:2] if v[2] == 0 else v))


def user_built(dep):
    """Whether a user of the dependent crate builds this edge."""
    for kind in dep["dep_kinds"]:
        if kind["kind"] == "dev":
            continue
        if kind["target"] in INTERNAL_CFGS:
            continue
        return True
    return False


def main():
    meta = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--locked", "--all-features"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    packages = {p["id"]: p for p in meta["packages"]}
    members = set(meta["workspace_members"])
    published = [i for i in members if packages[i]["publish"] != []]
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}

    declared = {packages[i]["rust_version"] for i in published}
    if len(declared) != 1 or None in declared:
        sys.exit(f"msrv: the published crates must declare one rust-version: {declared}")
    msrv = version(declared.pop())

    # Breadth first from the published crates: the first chain found to each package.
    chain = {i: [packages[i]["name"]] for i in published}
    queue = list(published)
    while queue:
        current = queue.pop(0)
        for dep in nodes[current]["deps"]:
            if dep["pkg"] not in chain and user_built(dep):
                chain[dep["pkg"]] = chain[current] + [packages[dep["pkg"]]["name"]]
                queue.append(dep["pkg"])

    needs = []
    for pid, path in chain.items():
        p = packages[pid]
        if pid not in members and p["rust_version"]:
            needs.append((version(p["rust_version"]), p["name"], p["version"], path))
    needs.sort(reverse=True)
    too_new = [n for n in needs if n[0] > msrv]
    for need, name, ver, path in too_new:
        print(
            f"msrv: {name} {ver} needs Rust {show(need)}, newer than the declared "
            f"rust-version {show(msrv)} (through {' -> '.join(path)})",
            file=sys.stderr,
        )
    if too_new:
        sys.exit(1)
    top = needs[0] if needs else None
    print(
        f"msrv: rust-version {show(msrv)} holds for {len(chain)} packages reachable "
        f"from {', '.join(sorted(packages[i]['name'] for i in published))}"
        + (f"; the most demanding: {top[1]} {top[2]} (Rust {show(top[0])})" if top else "")
    )


if __name__ == "__main__":
    main()
