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
    /// A second binary (e.g. a build of the previous commit) measured interleaved with `bin`.
    baseline: Option<PathBuf>,
    /// Extra `KEY=VALUE` settings for a third variant of `bin` (e.g. `SENTRY_REPRO_WORKER_NICE=0`).
    variant_env: Vec<(String, String)>,
    repeat: usize,
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
        baseline: None,
        variant_env: Vec::new(),
        repeat: 1,
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
            "--baseline" => a.baseline = Some(PathBuf::from(val())),
            "--repeat" => a.repeat = val().parse().expect("repeat count"),
            "--variant-env" => {
                let v = val();
                let (k, x) = v.split_once('=').expect("KEY=VALUE");
                a.variant_env.push((k.to_string(), x.to_string()));
            }
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

fn start_server(
    bin: &Path,
    env: &[(String, String)],
    repo: &Path,
    state: &Path,
    workers: Option<usize>,
) -> Server {
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
        // No read listener: its default port is fixed, and runs may overlap (older binaries
        // ignore the variable).
        .env("SENTRY_REPRO_READ_LISTEN", "off")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", state)
        .envs(env.iter().map(|(k, v)| (k, v)))
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

/// One-minute load average (the machine is shared; every row records it).
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_default()
}

/// Jobs finished (`done`) in the store so far: do the workers keep up while the load runs?
fn jobs_done(state: &Path) -> i64 {
    let Ok(c) = rusqlite::Connection::open_with_flags(
        state.join("state.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    ) else {
        return -1;
    };
    c.query_row("SELECT COUNT(*) FROM jobs WHERE state = 'done'", [], |r| {
        r.get(0)
    })
    .unwrap_or(-1)
}

struct Variant {
    label: String,
    bin: PathBuf,
    env: Vec<(String, String)>,
}

struct Row {
    p50: f64,
    p99: f64,
    max: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    let args = parse_args();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let case = root.join("tests/fixtures/corpus/py-rating-average-empty");
    let event: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(case.join("event.json")).unwrap()).unwrap();
    let mut variants = Vec::new();
    if let Some(b) = &args.baseline {
        variants.push(Variant {
            label: "baseline".into(),
            bin: b.clone(),
            env: vec![],
        });
    }
    if !args.variant_env.is_empty() {
        let label = args
            .variant_env
            .iter()
            .map(|(k, v)| format!("{}={v}", k.trim_start_matches("SENTRY_REPRO_")))
            .collect::<Vec<_>>()
            .join(" ");
        variants.push(Variant {
            label,
            bin: args.bin.clone(),
            env: args.variant_env.clone(),
        });
    }
    variants.push(Variant {
        label: "this build".into(),
        bin: args.bin.clone(),
        env: vec![],
    });
    println!("| variant | rate/s | workers | sent | 2xx | errors | p50 ms | p99 ms | max ms | achieved/s | jobs done | serve VmHWM MB | load |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut rows: Vec<(usize, u64, Row)> = Vec::new();
    for _round in 0..args.repeat.max(1) {
        for &rate in &args.rates {
            for (vi, v) in variants.iter().enumerate() {
                let r = run_once(&args, v, &case, &event, rate);
                rows.push((vi, rate, r));
            }
        }
    }
    if args.repeat > 1 {
        println!();
        println!("Medians over {} rounds:", args.repeat);
        println!();
        println!("| variant | rate/s | p50 ms | p99 ms | max ms |");
        println!("|---|---|---|---|---|");
        for &rate in &args.rates {
            for (vi, v) in variants.iter().enumerate() {
                let pick = |f: &dyn Fn(&Row) -> f64| {
                    median(
                        rows.iter()
                            .filter(|(i, r, _)| *i == vi && *r == rate)
                            .map(|(_, _, x)| f(x))
                            .collect(),
                    )
                };
                println!(
                    "| {} | {rate} | {:.2} | {:.2} | {:.2} |",
                    v.label,
                    pick(&|r| r.p50),
                    pick(&|r| r.p99),
                    pick(&|r| r.max)
                );
            }
        }
    }
    if !args.full {
        eprintln!("(smoke run; `cargo bench --bench ingest` for the real figures)");
    }
}

fn run_once(
    args: &Args,
    variant: &Variant,
    case: &Path,
    event: &serde_json::Value,
    rate: u64,
) -> Row {
    {
        // A fresh repository and job store per rate, so runs do not inherit each other's backlog.
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("repo");
        copy_dir(&case.join("app"), &repo);
        git(&repo, &["init", "-q", "-b", "main"]);
        git(&repo, &["add", "-A"]);
        git(&repo, &["commit", "-q", "-m", "app"]);
        let state = tmp.path().join("state");
        std::fs::create_dir_all(&state).unwrap();
        let server = start_server(&variant.bin, &variant.env, &repo, &state, args.workers);
        let total = (rate as f64 * args.duration).round() as usize;
        let run = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            % 100_000;
        let bodies = Arc::new(bodies(event, run, total));
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
        let done = jobs_done(&state);
        let load = loadavg();
        lat.sort();
        println!(
            "| {} | {rate} | {} | {total} | {} | {errors} | {:.2} | {:.2} | {:.2} | {:.0} | {done} | {:.1} | {load} |",
            variant.label,
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
        Row {
            p50: pct(&lat, 0.5),
            p99: pct(&lat, 0.99),
            max: lat
                .last()
                .map(|d| d.as_secs_f64() * 1000.0)
                .unwrap_or(f64::NAN),
        }
    }
}
