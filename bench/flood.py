#!/usr/bin/env python3
"""Peak memory of `sentry-repro serve` under a flood of large posts from strangers.

Why: before the body budget, 150 concurrent unsigned 5 MB posts took the process from 34 MB to
736 MB, because every body was read before its signature was checked. This script starts the real
binary (durable store on, a fresh git repository as its project), then runs two floods, each of
`--conns` connections started together, each posting a `--size` byte body:

* `unsigned`: `Sentry-Hook-Resource` and no signature. Expected: 401 before the body is read.
* `wrong-sig`: a well-formed (64 hex digits) but wrong `Sentry-Hook-Signature`. The body has to be
  read to check it, so these draw on the in-flight budget: 401 for the ones read, 503 with
  `Retry-After` for the rest, never more than the budget in buffers.

It prints, per flood, the answers by status, the time the flood took and VmHWM/VmRSS from
/proc/<pid>/status (VmHWM is the peak resident set since start). Exit status 1 when a flood took
VmHWM over `--max-mb` (100 by default).

    cargo build --bin sentry-repro            # or --release, then --bin target/release/sentry-repro
    python3 bench/flood.py [--bin PATH] [--conns 150] [--size 5000000] [--rounds 2]
        [--budget BYTES]   # SENTRY_REPRO_INFLIGHT_BUDGET for the server (default: its own default)
"""

import argparse
import os
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

SECRET = "flood-secret"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def one_post(port, head, body, chunk, barrier, out, idx):
    """Send the headers, then the body chunk by chunk while watching for an early answer."""
    code = "error"
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=60)
        barrier.wait()
        s.sendall(head)
        sent = 0
        answered = False
        while sent < len(body):
            r, _, _ = select.select([s], [], [], 0)
            if r:
                answered = True
                break
            try:
                s.sendall(body[sent : sent + chunk])
            except (BrokenPipeError, ConnectionResetError):
                answered = True
                break
            sent += chunk
        data = b""
        s.settimeout(60)
        try:
            while b"\r\n" not in data:
                got = s.recv(4096)
                if not got:
                    break
                data += got
        except (ConnectionResetError, socket.timeout):
            pass
        s.close()
        if data.startswith(b"HTTP/1."):
            code = data.split()[1].decode()
            if answered and sent < len(body):
                code += " (before the body)"
        else:
            code = "reset" if answered else "no answer"
    except Exception as e:  # noqa: BLE001 - a bench counts failures, it does not stop on them
        code = f"error: {type(e).__name__}"
    out[idx] = code


def flood(port, kind, conns, size):
    prefix, suffix = b'{"action":"triggered","data":{"event":{"event_id":"a","pad":"', b'"}}}'
    body = prefix + b"x" * (size - len(prefix) - len(suffix)) + suffix
    headers = [
        "POST /handle-sentry-alert HTTP/1.1",
        "Host: 127.0.0.1",
        "Content-Type: application/json",
        "Sentry-Hook-Resource: event_alert",
        f"Content-Length: {len(body)}",
        "Connection: close",
    ]
    if kind == "wrong-sig":
        headers.append("Sentry-Hook-Signature: " + "ab" * 32)
    head = ("\r\n".join(headers) + "\r\n\r\n").encode()
    barrier = threading.Barrier(conns)
    out = [None] * conns
    threads = [
        threading.Thread(target=one_post, args=(port, head, body, 64 * 1024, barrier, out, i))
        for i in range(conns)
    ]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counts = {}
    for c in out:
        counts[c] = counts.get(c, 0) + 1
    return time.monotonic() - started, counts


def start_server(binary, budget):
    tmp = tempfile.mkdtemp(prefix="flood-")
    repo = os.path.join(tmp, "repo")
    subprocess.run(["git", "init", "-q", repo], check=True)
    port, read_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTRY")}
    env.update(
        SENTRY_CLIENT_SECRET=SECRET,
        SENTRY_REPRO_STATE_DIR=os.path.join(tmp, "state"),
        SENTRY_REPRO_READ_LISTEN=f"127.0.0.1:{read_port}",
        RUST_LOG="error",
    )
    if budget:
        env["SENTRY_REPRO_INFLIGHT_BUDGET"] = str(budget)
    proc = subprocess.Popen(
        [binary, "serve", "--listen", f"127.0.0.1:{port}", "--repo", repo],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
            return proc, port
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"serve did not come up (exit {proc.poll()})")
            time.sleep(0.1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--bin", default=os.path.join(root, "target/debug/sentry-repro"))
    ap.add_argument("--conns", type=int, default=150)
    ap.add_argument("--size", type=int, default=5_000_000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--budget", type=int, default=0)
    ap.add_argument("--max-mb", type=float, default=100.0)
    args = ap.parse_args()

    proc, port = start_server(args.bin, args.budget)
    worst = 0
    try:
        time.sleep(0.5)
        base = status_kb(proc.pid, "VmHWM")
        print(f"binary {args.bin}; {args.conns} connections x {args.size} bytes")
        print(f"after start: VmHWM {base / 1024:.1f} MB, VmRSS {status_kb(proc.pid, 'VmRSS') / 1024:.1f} MB")
        for rnd in range(args.rounds):
            for kind in ("unsigned", "wrong-sig"):
                took, counts = flood(port, kind, args.conns, args.size)
                hwm = status_kb(proc.pid, "VmHWM")
                worst = max(worst, hwm)
                answers = ", ".join(f"{n} x {c}" for c, n in sorted(counts.items(), key=str))
                print(
                    f"round {rnd + 1} {kind:9}: {took:5.1f} s; VmHWM {hwm / 1024:.1f} MB, "
                    f"VmRSS {status_kb(proc.pid, 'VmRSS') / 1024:.1f} MB; answers: {answers}"
                )
        alive = urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).status
        print(f"healthz after the floods: {alive}")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    if worst / 1024 > args.max_mb:
        print(f"FAIL: VmHWM {worst / 1024:.1f} MB is over {args.max_mb} MB")
        sys.exit(1)


if __name__ == "__main__":
    main()
