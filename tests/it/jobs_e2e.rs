//! The real binary end to end: 300 signed alerts at once, `kill -9` midway, restart: every alert
//! answered 2xx ends with exactly one branch; redeliveries are no new job; 50 alerts for one issue make
//! one branch; SIGTERM stops the service cleanly.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::jobs::{branches, event_alert_body, make_repo, run_bin};

const SECRET: &str = "e2e-test-secret";
const READ_TOKEN: &str = "e2e-read-token-0123456789";

struct Service {
    child: Child,
    base: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(repo: &Path, state: &Path, home: &Path, port: u16, log: &Path, workers: u32) -> Service {
    start_with(repo, state, home, port, log, workers, &[])
}

fn start_with(
    repo: &Path,
    state: &Path,
    home: &Path,
    port: u16,
    log: &Path,
    workers: u32,
    env: &[(&str, &str)],
) -> Service {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sentry-repro"));
    for k in sentry_repro::config::env::ALL {
        c.env_remove(k);
    }
    c.envs(env.iter().copied());
    let log_path = log.to_path_buf();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let child = c
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--repo"])
        .arg(repo)
        .env("SENTRY_CLIENT_SECRET", SECRET)
        .env("SENTRY_REPRO_STATE_DIR", state)
        .env("SENTRY_REPRO_WORKERS", workers.to_string())
        .env("SENTRY_REPRO_BACKOFF_MS", "50")
        .env("SENTRY_REPRO_SHUTDOWN_GRACE_MS", "3000")
        .env("SENTRY_REPRO_DURABILITY", "full")
        // Reads on the webhook address with the token; no read listener (tests run in parallel).
        .env("SENTRY_REPRO_READ_TOKEN", READ_TOKEN)
        .env("SENTRY_REPRO_READ_LISTEN", "off")
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let s = Service {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = ureq::get(&format!("{}/healthz", s.base)).call() {
            if r.status() == 200 {
                return s;
            }
        }
        assert!(
            Instant::now() < deadline,
            "service did not come up: {}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// POST one signed alert; `Some((job_id, duplicate))` on 2xx.
fn send(base: &str, body: &[u8], request_id: &str) -> Result<(String, bool), String> {
    let sig = sentry_repro::server::sign(SECRET.as_bytes(), body);
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(20))
        .build();
    match agent
        .post(&format!("{base}/handle-sentry-alert"))
        .set("Content-Type", "application/json")
        .set("Sentry-Hook-Resource", "event_alert")
        .set("Sentry-Hook-Signature", &sig)
        .set("Request-ID", request_id)
        .send_bytes(body)
    {
        Ok(r) if (200..300).contains(&r.status()) => {
            let v: Value = r.into_json().map_err(|e| e.to_string())?;
            let id = v["job_id"]
                .as_str()
                .ok_or_else(|| format!("no job_id in {v}"))?
                .to_string();
            Ok((id, v["duplicate"].as_bool().unwrap_or(false)))
        }
        Ok(r) => Err(format!("HTTP {}", r.status())),
        Err(e) => Err(e.to_string()),
    }
}

fn job(base: &str, id: &str) -> Value {
    ureq::get(&format!("{base}/jobs/{id}"))
        .set("Authorization", &format!("Bearer {READ_TOKEN}"))
        .call()
        .unwrap()
        .into_json()
        .unwrap()
}

fn wait_done(base: &str, ids: &[String], timeout: Duration) -> Vec<Value> {
    let deadline = Instant::now() + timeout;
    loop {
        let recs: Vec<Value> = ids.iter().map(|id| job(base, id)).collect();
        let pending: Vec<&Value> = recs
            .iter()
            .filter(|r| !matches!(r["state"].as_str(), Some("done" | "failed" | "ignored")))
            .collect();
        if pending.is_empty() {
            return recs;
        }
        assert!(
            Instant::now() < deadline,
            "{} jobs not finished, e.g. {}",
            pending.len(),
            pending[0]
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn body_for(issue: &str, event: &str) -> Vec<u8> {
    serde_json::to_vec(&event_alert_body(
        issue,
        event,
        "ZeroDivisionError: division by zero",
    ))
    .unwrap()
}

#[test]
fn jobs_e2e_kill_9_midway_loses_nothing_and_duplicates_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = make_repo(tmp.path());
    let state = tmp.path().join("state");
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let log = tmp.path().join("service.log");
    let port = free_port();
    // One worker while the alerts arrive, so that the kill surely interrupts a backlog.
    let svc = start(&repo, &state, &home, port, &log, 1);
    let base = svc.base.clone();

    // 300 distinct issues, sent by 30 concurrent clients; kill -9 once 150 were answered.
    const N: usize = 300;
    let issues: Vec<String> = (0..N).map(|i| format!("{}", 700_000 + i)).collect();
    let answered: Arc<Mutex<HashMap<String, String>>> = Arc::new(Mutex::new(HashMap::new()));
    let latencies: Arc<Mutex<Vec<u128>>> = Arc::new(Mutex::new(Vec::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let child = Arc::new(Mutex::new(svc));
    let next = Arc::new(AtomicUsize::new(0));
    let killed = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..30)
        .map(|_| {
            let (issues, answered, count, child, next, killed, base, latencies) = (
                issues.clone(),
                answered.clone(),
                count.clone(),
                child.clone(),
                next.clone(),
                killed.clone(),
                base.clone(),
                latencies.clone(),
            );
            std::thread::spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= issues.len() {
                    return;
                }
                let body = body_for(&issues[i], &format!("ev-{i}"));
                let t = Instant::now();
                if let Ok((id, _)) = send(&base, &body, &format!("req-{i}")) {
                    latencies.lock().unwrap().push(t.elapsed().as_micros());
                    answered.lock().unwrap().insert(issues[i].clone(), id);
                    if count.fetch_add(1, Ordering::SeqCst) + 1 == N / 2
                        && killed.fetch_add(1, Ordering::SeqCst) == 0
                    {
                        // SIGKILL: no chance to finish or requeue anything.
                        child.lock().unwrap().child.kill().unwrap();
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    {
        let mut c = child.lock().unwrap();
        let _ = c.child.wait();
    }
    let answered = answered.lock().unwrap().clone();
    assert!(answered.len() >= N / 2, "only {} answered", answered.len());
    let done_before: usize = issues
        .iter()
        .filter(|i| !branches(&repo, i).is_empty())
        .count();
    assert!(
        done_before < answered.len(),
        "the kill came after every answered alert was processed ({done_before} branches): not midway"
    );
    let mut lat = latencies.lock().unwrap().clone();
    lat.sort_unstable();
    eprintln!(
        "e2e: {} of {N} answered before kill -9 ({done_before} branches existed); 2xx latency p50 {} ms, p99 {} ms (30 concurrent clients)",
        answered.len(),
        lat[lat.len() / 2] / 1000,
        lat[lat.len() * 99 / 100] / 1000
    );

    // Restart on the same state folder: everything answered must complete.
    let svc = start(&repo, &state, &home, port, &log, 2);
    let base = svc.base.clone();
    let ids: Vec<String> = answered.values().cloned().collect();
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "two issues got one job id");
    let recs = wait_done(&base, &ids, Duration::from_secs(300));
    for r in &recs {
        assert_eq!(r["state"], "done", "{r}");
    }
    for (issue, id) in &answered {
        let b = branches(&repo, issue);
        assert_eq!(b.len(), 1, "issue {issue} (job {id}): {b:?}");
        let rec = job(&base, id);
        assert_eq!(
            rec["branch"].as_str().map(|s| format!("refs/heads/{s}")),
            Some(b[0].clone()),
            "{rec}"
        );
    }

    // Sentry's redelivery (same body, new Request-ID) of an answered alert: the same job.
    let (issue0, id0) = answered.iter().next().unwrap();
    let i0 = issues.iter().position(|i| i == issue0).unwrap();
    let (again, dup) = send(
        &base,
        &body_for(issue0, &format!("ev-{i0}")),
        "a-brand-new-request-id",
    )
    .unwrap();
    assert_eq!((&again, dup), (id0, true));
    // The alerts that got no answer (lost with the process, or refused while it was down), sent again:
    // each ends with exactly one branch too (a few were stored before the kill: duplicates).
    let mut resent = Vec::new();
    for (i, issue) in issues.iter().enumerate() {
        if !answered.contains_key(issue) {
            let (id, _) = send(
                &base,
                &body_for(issue, &format!("ev-{i}")),
                &format!("retry-{i}"),
            )
            .unwrap();
            resent.push(id);
        }
    }
    wait_done(&base, &resent, Duration::from_secs(300));
    for issue in &issues {
        assert_eq!(branches(&repo, issue).len(), 1, "issue {issue}");
    }
    let metrics = ureq::get(&format!("{base}/metrics"))
        .set("Authorization", &format!("Bearer {READ_TOKEN}"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(
        metrics.contains(&format!("sentry_repro_jobs{{state=\"done\"}} {N}")),
        "exactly one job per issue: {metrics}"
    );

    // 50 concurrent alerts for one issue: one branch.
    let handles: Vec<_> = (0..50)
        .map(|k| {
            let base = base.clone();
            std::thread::spawn(move || {
                send(
                    &base,
                    &body_for("800001", &format!("same-issue-{k}")),
                    &format!("s-{k}"),
                )
                .unwrap()
                .0
            })
        })
        .collect();
    let ids: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let recs = wait_done(&base, &ids, Duration::from_secs(300));
    assert!(recs.iter().all(|r| r["state"] == "done"), "{recs:?}");
    assert_eq!(branches(&repo, "800001").len(), 1);
    assert_eq!(recs.iter().filter(|r| r["kind"] == "created").count(), 1);

    // SIGTERM: stops accepting, finishes or requeues, exits 0.
    let mut svc = svc;
    let pid = svc.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = svc.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit after SIGTERM: {status}");
}

#[test]
fn jobs_e2e_thirty_repeat_alerts_make_one_note_commit_and_the_count_is_in_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = make_repo(tmp.path());
    let state = tmp.path().join("state");
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let log = tmp.path().join("service.log");
    let svc = start_with(
        &repo,
        &state,
        &home,
        free_port(),
        &log,
        2,
        &[("SENTRY_REPRO_NOTE_INTERVAL_SECS", "3600")],
    );
    let base = svc.base.clone();
    let (first, _) = send(&base, &body_for("900001", "first"), "r0").unwrap();
    let r1 = wait_done(&base, std::slice::from_ref(&first), Duration::from_secs(60)).remove(0);
    assert_eq!(r1["state"], "done", "{r1}");
    let branch = r1["branch"].as_str().unwrap().to_string();
    let created = git2::Oid::from_str(r1["commit"].as_str().unwrap()).unwrap();

    // 30 repeats at once (distinct events of the issue).
    let handles: Vec<_> = (0..30)
        .map(|k| {
            let base = base.clone();
            std::thread::spawn(move || {
                send(
                    &base,
                    &body_for("900001", &format!("again-{k}")),
                    &format!("q{k}"),
                )
                .unwrap()
                .0
            })
        })
        .collect();
    let ids: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let recs = wait_done(&base, &ids, Duration::from_secs(300));
    assert!(
        recs.iter()
            .all(|r| r["state"] == "done" && r["kind"] == "occurrence"),
        "{recs:?}"
    );
    assert!(recs.iter().all(|r| r["body_stored"] == false), "{recs:?}");
    let r = git2::Repository::open(&repo).unwrap();
    let mut walk = r.revwalk().unwrap();
    walk.push(r.refname_to_id(&format!("refs/heads/{branch}")).unwrap())
        .unwrap();
    walk.hide(created).unwrap();
    assert_eq!(
        walk.count(),
        1,
        "at most one note commit inside the interval"
    );
    let rec = job(&base, &first);
    assert_eq!(rec["occurrences"], 31, "{rec}");
    assert!(
        rec["last_seen"].is_string() && rec["note_updated_at"].is_string(),
        "{rec}"
    );

    // The command line reads the same store while the service runs.
    let (code, out, err) = run_bin(
        &[
            "jobs",
            "list",
            "--json",
            "--limit",
            "100",
            "--state-dir",
            state.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 31);
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .all(|j| j["occurrences"] == 31));
    drop(svc);
}
