#!/usr/bin/env python3
"""Wall time of `sentry-repro verify` against the bare runner calls it makes.

    bench/verify.py [--bin target/release/sentry-repro] [--baseline OTHER_BUILD] [--repeat 5]
                    [--files 0,50000] [--keep DIR]

For each repository (files=0: the dev corpus app tests/fixtures/verify/py-rating-average-empty alone;
files=N: that app overlaid on an N-file, 2k-commit repository from bench/make-large-repo.py) it makes
a fix branch (the repro test + contract, and fix.patch), then, REPEAT times and interleaved so both
sides see the same machine load:

  verify  `sentry-repro verify --base main --head <fix>` (2 runs per side + suite, the default);
  runner  the same commands verify ran (read back from its --json report), run directly in ready-made
          checkouts (base + head's repro files; head) with the same environment;
  checkout `git worktree add --detach` of head into the temp folder (where verify's exports go):
          what one work tree costs (its removal is not timed, as verify's is in the background).

It prints medians and `overhead = verify - runner` as a share of the runner time, and of
runner + one checkout (the floor for any design that runs the suite on a real tree).
"""
import argparse, json, os, shutil, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CASE = os.path.join(ROOT, "tests/fixtures/verify/py-rating-average-empty")
ENV = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@example.com",
           GIT_COMMITTER_NAME="b", GIT_COMMITTER_EMAIL="b@example.com")


def git(repo, *args, check=True):
    return subprocess.run(["git", "-C", repo, *args], env=ENV, check=check,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True).stdout


def make_repo(dest, files):
    if files:
        subprocess.run([sys.executable, os.path.join(ROOT, "bench/make-large-repo.py"), dest,
                        "--files", str(files), "--commits", "2000", "--overlay",
                        os.path.join(CASE, "app")], check=True, stdout=subprocess.DEVNULL)
    else:
        shutil.copytree(os.path.join(CASE, "app"), dest)
        git(dest, "init", "-q", "-b", "main")
        git(dest, "add", "-A")
        git(dest, "commit", "-q", "-m", "app")
    git(dest, "checkout", "-q", "-b", "fix")
    os.makedirs(os.path.join(dest, "repro"), exist_ok=True)
    for f in ("test_sentry_4501.py", "sentry-4501.json"):
        shutil.copy(os.path.join(CASE, "repro", f), os.path.join(dest, "repro", f))
    git(dest, "apply", os.path.join(CASE, "fix.patch"))
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "fix")
    git(dest, "checkout", "-q", "main")


def run_env(root):
    env = dict(os.environ)
    pp = [root] + ([os.path.join(root, "src")] if os.path.isdir(os.path.join(root, "src")) else [])
    env.update(PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=":".join(pp),
               PYTEST_ADDOPTS="-p no:cacheprovider", PYTHONUNBUFFERED="1", NO_COLOR="1")
    return env


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/sentry-repro"))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--files", default="0,50000")
    ap.add_argument("--keep", help="folder for the repositories (reused when present)")
    ap.add_argument("--baseline", help="another build of sentry-repro, timed interleaved with --bin")
    a = ap.parse_args()
    tmp = a.keep or tempfile.mkdtemp(prefix="verify-bench-")
    print(f"| repo | build | verify s | runner calls s | checkout s | overhead vs runner | "
          f"overhead vs runner+checkout | background cleanup s | load |")
    print("|---|---|---|---|---|---|---|---|---|")
    bins = [("this", a.bin)] + ([("baseline", a.baseline)] if a.baseline else [])
    for files in [int(x) for x in a.files.split(",")]:
        repo = os.path.join(tmp, f"repo-{files}")
        if not os.path.isdir(repo):
            make_repo(repo, files)
        # Checkouts for the bare runs, made once (untimed): base with head's repro files, and head.
        wt_base, wt_head = os.path.join(tmp, f"wt-base-{files}"), os.path.join(tmp, f"wt-head-{files}")
        for wt, ref in ((wt_base, "main"), (wt_head, "fix")):
            if not os.path.isdir(wt):
                git(repo, "worktree", "add", "-q", "--detach", wt, ref)
        os.makedirs(os.path.join(wt_base, "repro"), exist_ok=True)
        for f in ("test_sentry_4501.py", "sentry-4501.json"):
            shutil.copy(os.path.join(wt_head, "repro", f), os.path.join(wt_base, "repro", f))
        report = os.path.join(tmp, f"report-{files}.json")
        v, r, c = {b: [] for b, _ in bins}, [], []
        cleanup = {b: [] for b, _ in bins}
        loads = []
        for i in range(a.repeat):
            for label, binary in bins:
                loads.append(os.getloadavg()[0])
                v[label].append(timed(lambda: subprocess.run(
                    [binary, "verify", "--repo", repo, "--base", "main", "--head", "fix",
                     "--json", report],
                    check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))
                # Exports left to a detached `rm` (this build): wait for them, untimed, so the next
                # measurement does not compete with their removal; report how long that took.
                t0 = time.perf_counter()
                tmpdir = tempfile.gettempdir()
                while any(n.startswith(".sentry-verify-trash-") for n in os.listdir(tmpdir)):
                    time.sleep(0.05)
                cleanup[label].append(time.perf_counter() - t0)
            rep = json.load(open(report))
            calls = []
            for t in rep["tests"]:
                calls += [(wt_base, x["command"]) for x in t["base_runs"]]
                calls += [(wt_head, x["command"]) for x in t["head_runs"]]
            for s in rep["suites"]:
                calls.append((wt_head, s["head"]["command"]))
                if s.get("base"):
                    calls.append((wt_base, s["base"]["command"]))

            def bare():
                for wt, cmd in calls:
                    subprocess.run(["sh", "-c", cmd], cwd=wt, env=run_env(wt),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            r.append(timed(bare))
            # In the temp folder, where verify's exports go: ext4 places a new folder's inodes near
            # its parent's, and file creation there can cost far more than elsewhere on the disk
            # (other processes' temp files, recently deleted inodes), so both sides create theirs
            # in the same place.
            wt = tempfile.mkdtemp(prefix=f"verify-bench-wt-{files}-{i}-")
            os.rmdir(wt)

            def checkout():
                git(repo, "worktree", "add", "-q", "--detach", wt, "fix")
            c.append(timed(checkout))
            git(repo, "worktree", "remove", "--force", wt)
        mr, mc = statistics.median(r), statistics.median(c)
        name = "dev app" if files == 0 else f"{files} files"
        load = f"{min(loads):.1f}-{max(loads):.1f}"
        for label, _ in bins:
            mv = statistics.median(v[label])
            print(f"| {name} | {label} | {mv:.2f} | {mr:.2f} ({len(calls)} calls) | {mc:.2f} | "
                  f"{(mv - mr) / mr * 100:+.0f}% | {(mv - mr - mc) / (mr + mc) * 100:+.0f}% | "
                  f"{statistics.median(cleanup[label]):.2f} | {load} |", flush=True)
    if not a.keep:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
