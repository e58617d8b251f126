#!/usr/bin/env python3
"""Measures sentry-repro on real crashes of real projects (tests/fixtures/realworld).

For each case: a fresh git repository of the buggy project (the vendored `app/`, or the project
rebuilt at its buggy commit from a local mirror or clone), the case's virtualenv outside the
repository, `sentry-repro generate` on the event the real SDK captured, the developers' own fix
committed on the generated branch, then `sentry-repro verify --no-suite`. Prints one line per case
and a table per project and per language with the rate of tests that flip from fail to pass.

Verdicts: FLIPPED (red on base for the reported reason, green on the fix), SCAFFOLD (scaffold or
boilerplate: no reproduction), STILL_RED (red for the reason, still red after the fix),
WRONG_REASON (red on base for another reason), FALSE_GREEN (green on base: the worst), ERROR.

Only the Python standard library; needs git, patch, and the Python versions the cases name
(pyenv or pythonX.Y on PATH; `--any-python` falls back to python3).
"""

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import OrderedDict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "tests" / "fixtures" / "realworld"
VERDICTS = ["FLIPPED", "SCAFFOLD", "STILL_RED", "WRONG_REASON", "FALSE_GREEN", "ERROR"]
GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "realworld",
    "GIT_AUTHOR_EMAIL": "realworld@example.invalid",
    "GIT_COMMITTER_NAME": "realworld",
    "GIT_COMMITTER_EMAIL": "realworld@example.invalid",
}


def project_of(case):
    """(dataset, project, bug) of a case: BugsInPy for Python, BugsJS for JavaScript."""
    for dataset in ("bugsinpy", "bugsjs"):
        if dataset in case:
            return dataset, case[dataset]["project"], case[dataset]["bug"]
    raise SystemExit(f"realworld: {case['id']}: case.json names neither bugsinpy nor bugsjs")


class CaseError(Exception):
    """A step of one case failed; the case is reported as ERROR with this message."""


def run(cmd, cwd=None, env=None, timeout=900, check=True, stdin=None):
    try:
        p = subprocess.run(cmd, cwd=cwd, env=env, timeout=timeout, stdin=stdin,
                           capture_output=True, text=True)
    except subprocess.TimeoutExpired:
        raise CaseError(f"timed out after {timeout}s: {' '.join(map(str, cmd))}")
    if check and p.returncode != 0:
        tail = (p.stderr or p.stdout).strip().splitlines()[-5:]
        raise CaseError(f"{' '.join(map(str, cmd))} exited {p.returncode}: {' | '.join(tail)}")
    return p


def git(repo, *args):
    env = dict(os.environ, **GIT_ENV)
    return run(["git", *args], cwd=repo, env=env).stdout.strip()


def load_cases(names):
    cases = []
    for d in sorted(CASES.iterdir()):
        if not (d / "case.json").is_file():
            continue
        case = json.loads((d / "case.json").read_text())
        case["dir"] = d
        if not names or case["id"] in names:
            cases.append(case)
    missing = set(names or []) - {c["id"] for c in cases}
    if missing:
        sys.exit(f"realworld: unknown case(s): {', '.join(sorted(missing))}")
    return cases


def mirror_gitdir(case, mirror_root, clone_root):
    """The project's git directory: a mirror under --mirror, else a bare clone made once."""
    name = case["mirror"]
    for cand in (Path(mirror_root) / name / "repo" / ".git", Path(mirror_root) / name / "repo",
                 Path(mirror_root) / name, Path(clone_root) / f"{name}.git"):
        if (cand / "HEAD").is_file() and (cand / "objects").is_dir():
            return cand
    target = Path(clone_root) / f"{name}.git"
    target.parent.mkdir(parents=True, exist_ok=True)
    print(f"  cloning {case['repo']} into {target} (once)", file=sys.stderr)
    run(["git", "clone", "-q", "--bare", case["repo"], str(target)], timeout=1800)
    return target


def build_repo(case, dest, mirror_root, clone_root):
    """A fresh repository holding the buggy project as one commit on `main`."""
    if case["app"] == "vendored":
        shutil.copytree(case["dir"] / "app", dest)
    else:
        gitdir = mirror_gitdir(case, mirror_root, clone_root)
        dest.mkdir(parents=True)
        archive = subprocess.Popen(["git", "--git-dir", str(gitdir), "archive", case["buggy_commit"]],
                                   stdout=subprocess.PIPE)
        run(["tar", "-x", "-C", str(dest)], stdin=archive.stdout)
        if archive.wait() != 0:
            raise CaseError(f"git archive {case['buggy_commit']} failed in {gitdir}")
    git(dest, "init", "-q", "-b", "main")
    # node_modules is a link to the case's install outside the tree: never committed
    with open(dest / ".git" / "info" / "exclude", "a") as f:
        f.write("node_modules\n")
    git(dest, "add", "-A")
    dataset, project, bug = project_of(case)
    git(dest, "commit", "-q", "--no-verify", "-m",
        f"{project} at {case['buggy_commit'][:12]} ({dataset} bug {bug})")


def find_python(version, any_python):
    short = ".".join(version.split(".")[:2])
    pyenv_root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    versions = Path(pyenv_root) / "versions"
    cands = [versions / version / "bin" / "python"]
    if versions.is_dir():
        cands += sorted(versions.glob(f"{short}.*/bin/python"), reverse=True)
    for cand in cands:
        if cand.is_file():
            return str(cand)
    found = shutil.which(f"python{short}")
    if found:
        return found
    if any_python:
        return sys.executable
    raise CaseError(f"no Python {version} (pyenv or python{short} on PATH); --any-python uses python3")


def ensure_venv(case, venvs, any_python):
    """The case's virtualenv outside the repository, keyed by Python version and install line."""
    python = find_python(case["python_version"], any_python)
    key = hashlib.sha256(json.dumps([python, case["install"]]).encode()).hexdigest()[:10]
    venv = Path(venvs) / f"{project_of(case)[1].lower()}-{key}"
    if (venv / ".realworld-ok").is_file():
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    print(f"  creating {venv} ({python})", file=sys.stderr)
    run([python, "-m", "venv", str(venv)])
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *case["install"]], timeout=1800)
    (venv / ".realworld-ok").write_text(json.dumps({"python": python, "install": case["install"]}))
    return venv


def ensure_node_modules(case, repo, venvs):
    """The case's node_modules, installed once outside the repository from the buggy commit's
    package.json and linked into the fresh repository."""
    manifest = (repo / "package.json").read_text()
    node = run(["node", "--version"]).stdout.strip()
    key = hashlib.sha256((node + manifest).encode()).hexdigest()[:10]
    home = Path(venvs) / f"{project_of(case)[1].lower()}-node-{key}"
    if not (home / ".realworld-ok").is_file():
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        (home / "package.json").write_text(manifest)
        print(f"  npm install in {home} (node {node})", file=sys.stderr)
        run(["npm", "install", "--no-audit", "--no-fund"], cwd=home, timeout=1800)
        (home / ".realworld-ok").write_text(node)
    (repo / "node_modules").symlink_to(home / "node_modules")
    return home


def case_env(case, venv):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(GIT_ENV)
    if venv is not None:
        env["VIRTUAL_ENV"] = str(venv)
        env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(case.get("env", {}))
    return env


def classify(strategy, verdict):
    if strategy in ("scaffold", "boilerplate"):
        return "FALSE_GREEN" if verdict == "NOT_RED" else "SCAFFOLD"
    return {"FLIPPED": "FLIPPED", "STILL_RED": "STILL_RED", "RED_WRONG_REASON": "WRONG_REASON",
            "NOT_RED": "FALSE_GREEN"}.get(verdict, "ERROR")


def run_case(case, args, work):
    """generate, fix, verify; returns the result row (raises CaseError on a broken step)."""
    repo = work / "repo"
    build_repo(case, repo, args.mirror, args.clone_dir)
    if case["language"] == "javascript":
        ensure_node_modules(case, repo, args.venvs)
        env = case_env(case, None)
    else:
        env = case_env(case, ensure_venv(case, args.venvs, args.any_python))
    gen_cmd = [args.binary, "generate", "--json", "--repo", str(repo)]
    if args.confirm:
        gen_cmd.append("--confirm")
    gen_cmd.append(str(case["dir"] / "event.json"))
    started = time.monotonic()
    gen = json.loads(run(gen_cmd, env=env, timeout=args.timeout).stdout.strip().splitlines()[-1])
    gen_secs = time.monotonic() - started
    if not gen.get("branch"):
        raise CaseError(f"generate created no branch: {gen}")
    git(repo, "checkout", "-q", gen["branch"])
    run(["patch", "-p1", "--batch", "-i", str(case["dir"] / "fix.patch")], cwd=repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", f"developers' fix ({project_of(case)[0]})")
    report_path = work / "verify.json"
    run([args.binary, "verify", "--repo", str(repo), "--base", "main", "--no-suite",
         "--json", str(report_path)], env=env, timeout=args.timeout, check=False)
    if not report_path.is_file():
        raise CaseError("verify wrote no report")
    report = json.loads(report_path.read_text())
    tests = report.get("tests") or [{}]
    verdict = tests[0].get("verdict", "ERROR")
    return {"strategy": gen["strategy"], "reasons": gen.get("reasons", []), "verify": verdict,
            "detail": tests[0].get("detail", ""), "verdict": classify(gen["strategy"], verdict),
            "generate_secs": round(gen_secs, 1), "branch": gen["branch"], "files": gen.get("files", [])}


def measure(case, args):
    work = Path(tempfile.mkdtemp(prefix=f"realworld-{case['id']}-"))
    row = {"case": case["id"], "project": project_of(case)[1], "language": case["language"],
           "exception": case["exception_type"], "sdk": case["sdk"], "work": str(work)}
    started = time.monotonic()
    try:
        row.update(run_case(case, args, work))
    except (CaseError, ValueError, OSError) as e:
        row.update({"verdict": "ERROR", "strategy": "-", "reasons": [], "verify": "-", "detail": str(e)})
    row["secs"] = round(time.monotonic() - started, 1)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
        row.pop("work")
    return row


def table(rows, key):
    groups = OrderedDict()
    for r in sorted(rows, key=lambda r: r[key]):
        groups.setdefault(r[key], []).append(r)
    groups["all"] = rows
    head = f"{key:<14}{'cases':>6}" + "".join(f"{v:>13}" for v in VERDICTS) + f"{'F->P':>8}"
    lines = [head, "-" * len(head)]
    for name, rs in groups.items():
        counts = [sum(1 for r in rs if r["verdict"] == v) for v in VERDICTS]
        rate = f"{100 * counts[0] / len(rs):.0f}%" if rs else "-"
        lines.append(f"{name:<14}{len(rs):>6}" + "".join(f"{c:>13}" for c in counts) + f"{rate:>8}")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--confirm", action="store_true", help="pass --confirm to sentry-repro generate")
    ap.add_argument("--case", action="append", help="only this case (repeatable)")
    ap.add_argument("--binary", default=str(ROOT / "target" / "debug" / "sentry-repro"))
    ap.add_argument("--mirror", default="/work/.mirror",
                    help="folder of project mirrors (<owner>+<name>/repo); default /work/.mirror")
    ap.add_argument("--clone-dir", default=os.path.expanduser("~/.cache/sentry-repro-realworld"),
                    help="where a project missing from --mirror is cloned once")
    ap.add_argument("--venvs", default="/work/rw-venvs", help="where the cases' virtualenvs live")
    ap.add_argument("--any-python", action="store_true",
                    help="use this python3 when a case's Python version is not installed")
    ap.add_argument("--timeout", type=int, default=900, help="seconds per generate/verify")
    ap.add_argument("--keep", action="store_true", help="keep each case's work folder (printed)")
    ap.add_argument("--json-out", help="also write the rows as JSON to this file")
    args = ap.parse_args()
    if not Path(args.binary).is_file():
        sys.exit(f"realworld: no binary at {args.binary} (cargo build, or --binary PATH)")
    args.binary = str(Path(args.binary).resolve())
    rows = []
    for case in load_cases(args.case):
        print(f"== {case['id']}", file=sys.stderr, flush=True)
        row = measure(case, args)
        rows.append(row)
        reasons = "; ".join(row["reasons"])[:300]
        print(f"{row['case']:<22} {row['verdict']:<13} strategy={row['strategy']} verify={row['verify']} "
              f"({row['secs']}s){' reasons: ' + reasons if reasons else ''}", flush=True)
        if row["verdict"] == "ERROR":
            print(f"{'':<22} error: {row['detail'][:400]}", flush=True)
        if "work" in row:
            print(f"{'':<22} work: {row['work']}", flush=True)
    print()
    print(table(rows, "project"))
    print()
    print(table(rows, "language"))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
