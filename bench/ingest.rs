//! Ingest latency of the real `serve` binary (durable job store on) under an open-loop load.
//!
//! `cargo bench --bench ingest` (full run: 100, 500 and 1000 alerts/s for 30 s each, background
//! workers on) or e.g. `cargo bench --bench ingest -- --rates 500 --duration 30 --workers 1`.
//! Under `cargo test` (no `--bench` argument) it runs a tiny smoke pass against the debug binary.
//!
//! The client is std threads over keep-alive HTTP/1.1 connections. Request `i` is due at
//! `start + i / rate` whatever happened before (open loop), and its latency is counted from that due
//! time, so a stalled server shows up as latency rather than as a slower sender. Every body is a
//! distinct `event_alert` (own issue and event id: each one is a new job), signed with
//! HMAC-SHA256 of the raw body in `Sentry-Hook-Signature`, built before the clock starts. The serve
//! process points at a git repository holding the corpus app, so its workers generate real branches
//! in the background while the load runs. Peak RSS is `VmHWM` from `/proc/<pid>/status`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SECRET: &str = "bench-secret";

struct Args {
    full: bool,
    rates: Vec<u64>,
    duration: f64,
    conns: usize,
    workers: Option<usize>,
    bin: PathBuf,
}

fn parse_args() -> Args {
    let raw: Vec<String> = std::env::args().collect();
    let full = raw.iter().any(|a| a == "--bench");
    let mut a = Args {
        full,
        rates: if full { vec![100, 500, 1000] } else { vec![50] },
        duration: if full { 30.0 } else { 0.5 },
        conns: if full { 32 } else { 2 },
        workers: None,
        bin: PathBuf::from(env!("CARGO_BIN_EXE_sentry-repro")),
    };
    let mut it = raw.iter().skip(1);
    while let Some(x) = it.next() {
        let mut val = || it.next().cloned().expect("a value");
        match x.as_str() {
            "--rates" => a.rates = val().split(',').map(|r| r.parse().expect("rate")).collect(),
            "--duration" => a.duration = val().parse().expect("seconds"),
            "--conns" => a.conns = val().parse().expect("connections"),
            "--workers" => a.workers = Some(val().parse().expect("workers")),
            "--bin" => a.bin = PathBuf::from(val()),
            _ => {}
        }
    }
    a
}

fn git(dir: &Path, args: &[&str]) {
    let st = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.com")
        .env("GIT_COMMITTER_NAME", "bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.com")
        .stdout(Stdio::null())
        .status()
        .expect("git runs");
    assert!(st.success(), "git {args:?} failed");
}

fn copy_dir(from: &Path, to: &Path) {
    for e in walkdir::WalkDir::new(from) {
        let e = e.unwrap();
        let dest = to.join(e.path().strip_prefix(from).unwrap());
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

/// `n` distinct signed bodies (raw bytes, signature).
fn bodies(event: &serde_json::Value, run: u64, n: usize) -> Vec<(Vec<u8>, String)> {
    (0..n)
        .map(|i| {
            let mut ev = event.clone();
            ev["issue_id"] = format!("{run}{i:07}").into();
            ev["event_id"] = format!("{:016x}{:016x}", run, i).into();
            let body = serde_json::json!({
                "action": "triggered",
                "installation": {"uuid": "bench-installation"},
                "data": {"event": ev, "triggered_rule": "bench"},
                "actor": {"type": "application", "id": "sentry", "name": "Sentry"},
            });
            let raw = serde_json::to_vec(&body).unwrap();
            let sig = sentry_repro::server::sign(SECRET.as_bytes(), &raw);
            (raw, sig)
        })
        .collect()
}

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(bin: &Path, repo: &Path, state: &Path, workers: Option<usize>) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut cmd = Command::new(bin);
    cmd.arg("serve")
        .arg("--listen")
        .arg(&addr)
        .arg("--repo")
        .arg(repo)
        .arg("--state-dir")
        .arg(state)
        .env("SENTRY_CLIENT_SECRET", SECRET)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", state)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(w) = workers {
        cmd.arg("--workers").arg(w.to_string());
    }
    let child = cmd.spawn().expect("serve starts");
    let server = Server { child, addr };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(mut s) = TcpStream::connect(&server.addr) {
            let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let mut out = String::new();
            let _ = s.read_to_string(&mut out);
            if out.starts_with("HTTP/1.1 200") {
                return server;
            }
        }
        assert!(Instant::now() < deadline, "serve did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One request on a kept-alive connection: status code.
fn post(
    conn: &mut Option<BufReader<TcpStream>>,
    addr: &str,
    body: &[u8],
    sig: &str,
    req_id: usize,
) -> std::io::Result<u16> {
    if conn.is_none() {
        let s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        *conn = Some(BufReader::new(s));
    }
    let r = conn.as_mut().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let head = format!(
        "POST /handle-sentry-alert HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nSentry-Hook-Resource: event_alert\r\nSentry-Hook-Signature: {sig}\r\n\
         Sentry-Hook-Timestamp: {now}\r\nRequest-ID: bench-{req_id}\r\n\r\n",
        body.len()
    );
    let mut msg = head.into_bytes();
    msg.extend_from_slice(body);
    r.get_mut().write_all(&msg)?;
    let mut line = String::new();
    r.read_line(&mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let mut len = 0usize;
    let mut close = false;
    loop {
        line.clear();
        r.read_line(&mut line)?;
        if line == "\r\n" || line.is_empty() {
            break;
        }
        let l = line.to_ascii_lowercase();
        if let Some(v) = l.strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
        if l.starts_with("connection:") && l.contains("close") {
            close = true;
        }
    }
    let mut buf = vec![0; len];
    r.read_exact(&mut buf)?;
    if close {
        *conn = None;
    }
    Ok(status)
}

fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx].as_secs_f64() * 1000.0
}

fn main() {
    let args = parse_args();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let case = root.join("tests/fixtures/corpus/py-rating-average-empty");
    let event: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(case.join("event.json")).unwrap()).unwrap();
    println!("| rate/s | workers | sent | 2xx | errors | p50 ms | p99 ms | max ms | achieved/s | serve VmHWM MB |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for &rate in &args.rates {
        // A fresh repository and job store per rate, so runs do not inherit each other's backlog.
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("repo");
        copy_dir(&case.join("app"), &repo);
        git(&repo, &["init", "-q", "-b", "main"]);
        git(&repo, &["add", "-A"]);
        git(&repo, &["commit", "-q", "-m", "app"]);
        let state = tmp.path().join("state");
        std::fs::create_dir_all(&state).unwrap();
        let server = start_server(&args.bin, &repo, &state, args.workers);
        let total = (rate as f64 * args.duration).round() as usize;
        let run = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            % 100_000;
        let bodies = Arc::new(bodies(&event, run, total));
        let conns = args.conns.max(1);
        let start = Instant::now() + Duration::from_millis(100);
        let interval = Duration::from_secs_f64(1.0 / rate as f64);
        let threads: Vec<_> = (0..conns)
            .map(|k| {
                let bodies = bodies.clone();
                let addr = server.addr.clone();
                std::thread::spawn(move || {
                    let mut conn = None;
                    let mut lat = Vec::new();
                    let mut errors = 0usize;
                    let mut i = k;
                    while i < bodies.len() {
                        let due = start + interval * i as u32;
                        if let Some(wait) = due.checked_duration_since(Instant::now()) {
                            std::thread::sleep(wait);
                        }
                        let (body, sig) = &bodies[i];
                        match post(&mut conn, &addr, body, sig, i) {
                            Ok(s) if (200..300).contains(&s) => lat.push(due.elapsed()),
                            _ => {
                                errors += 1;
                                conn = None;
                            }
                        }
                        i += conns;
                    }
                    (lat, errors)
                })
            })
            .collect();
        let mut lat = Vec::new();
        let mut errors = 0;
        for t in threads {
            let (l, e) = t.join().unwrap();
            lat.extend(l);
            errors += e;
        }
        let elapsed = start.elapsed().as_secs_f64();
        let hwm = vm_hwm_kb(server.child.id()).unwrap_or(0);
        lat.sort();
        println!(
            "| {rate} | {} | {total} | {} | {errors} | {:.2} | {:.2} | {:.2} | {:.0} | {:.1} |",
            args.workers
                .map(|w| w.to_string())
                .unwrap_or_else(|| "default".into()),
            lat.len(),
            pct(&lat, 0.5),
            pct(&lat, 0.99),
            lat.last()
                .map(|d| d.as_secs_f64() * 1000.0)
                .unwrap_or(f64::NAN),
            total as f64 / elapsed,
            hwm as f64 / 1024.0
        );
        if !args.full {
            assert_eq!(errors, 0, "smoke run: every alert must get a 2xx");
        }
        drop(server);
    }
    if !args.full {
        eprintln!("(smoke run; `cargo bench --bench ingest` for the real figures)");
    }
}
