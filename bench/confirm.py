#!/usr/bin/env python3
"""Time `sentry-repro generate --confirm` per alert against the static path.

For every Python case in tests/fixtures/corpus (and, with --extra, corpus-extra), each round makes a
fresh git repository of the case's app, then runs `generate --dry-run --json` (static) and
`generate --confirm --dry-run --json` on its event, alternating, and prints per case and overall
the median and p90 wall time, the candidates tried and whether one was confirmed.

Usage: python3 bench/confirm.py [--bin target/release/sentry-repro] [--repeat 3] [--extra]
Needs `cargo build --release` and python with pytest (and the apps' packages: Flask, FastAPI…).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def git(cwd, *args):
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null",
               GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@x", GIT_COMMITTER_NAME="b",
               GIT_COMMITTER_EMAIL="b@x")
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def make_repo(app, into):
    shutil.copytree(app, into, ignore=shutil.ignore_patterns(".git", "__pycache__", "node_modules"))
    git(into, "init", "-q", "-b", "main")
    git(into, "add", "-A")
    git(into, "commit", "-q", "-m", "base")


def run(binary, repo, event, confirm):
    cmd = [binary, "generate", "--dry-run", "--json", "--repo", repo, event]
    if confirm:
        cmd.insert(2, "--confirm")
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    ms = (time.perf_counter() - start) * 1000
    if out.returncode != 0:
        return ms, {"error": out.stderr.strip()[-300:]}
    return ms, json.loads(out.stdout)


def p90(xs):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(0.9 * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/sentry-repro"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--extra", action="store_true", help="also the corpus-extra Python cases")
    a = ap.parse_args()
    sets = ["corpus"] + (["corpus-extra"] if a.extra else [])
    cases = []
    for s in sets:
        base = os.path.join(ROOT, "tests/fixtures", s)
        cases += [os.path.join(base, c) for c in sorted(os.listdir(base)) if c.startswith("py-")]
    static_all, confirm_all, rows = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            name = os.path.basename(case)
            st, co, tried, confirmed, strategy, same = [], [], 0, None, "", ""
            for i in range(a.repeat):
                for confirm in (False, True) if i % 2 == 0 else (True, False):
                    repo = os.path.join(tmp, f"{name}-{i}-{int(confirm)}")
                    make_repo(os.path.join(case, "app"), repo)
                    ms, out = run(a.bin, repo, os.path.join(case, "event.json"), confirm)
                    if "error" in out:
                        print(f"{name}: {out['error']}", file=sys.stderr)
                    (co if confirm else st).append(ms)
                    if confirm and "error" not in out:
                        tried = sum(1 for c in out.get("candidates", []) if c["outcome"] != "not_run")
                        confirmed, strategy = out.get("confirmed"), out.get("strategy", "")
                        chosen = [c for c in out.get("candidates", []) if c["outcome"] == "confirmed"]
                        same = ("static" if chosen and "static choice" in chosen[0]["label"]
                                else "other" if chosen else "-")
            static_all += st
            confirm_all += co
            rows.append((name, statistics.median(st), statistics.median(co), p90(co), tried,
                         confirmed, strategy, same))
    print("| case | static p50 ms | confirm p50 ms | confirm p90 ms | candidates run | confirmed | strategy | handed over |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]:.0f} | {r[2]:.0f} | {r[3]:.0f} | {r[4]} | {r[5]} | {r[6]} | {r[7]} |")
    print(f"| **all ({len(rows)} cases × {a.repeat})** | {statistics.median(static_all):.0f} | "
          f"{statistics.median(confirm_all):.0f} | {p90(confirm_all):.0f} | "
          f"{sum(r[4] for r in rows)} | {sum(1 for r in rows if r[5])}/{len(rows)} | | "
          f"{sum(1 for r in rows if r[7] == 'other')} not the static choice |")


if __name__ == "__main__":
    main()
