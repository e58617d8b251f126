//! Durable jobs: store, dedup, workers on real git repositories, retries, push to a bare remote,
//! issue-only alerts against a fake Sentry API, handoff and draft PR against fake servers, routes.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use git2::{Repository, Signature};
use sentry_repro::config::ProjectConfig;
use sentry_repro::jobs::{JobRecord, JobState, Jobs, JobsConfig, Secret};
use sentry_repro::sink::{AlertSink, Delivery};
use sentry_repro::webhook;
use serde_json::{json, Value};

// ---------- support ----------

/// Keep libgit2 away from the user's and the system's git configuration.
pub(crate) fn isolate_git() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let dir = std::env::temp_dir().join(format!(
            "sentry-repro-empty-gitconfig-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        for level in [
            git2::ConfigLevel::Global,
            git2::ConfigLevel::XDG,
            git2::ConfigLevel::System,
        ] {
            // SAFETY: called once, before any repository is opened by this test binary's git2 users.
            unsafe { git2::opts::set_search_path(level, &dir).unwrap() };
        }
    });
}

/// A repository with one commit on `main`: a tiny Python app.
pub(crate) fn make_repo(dir: &Path) -> PathBuf {
    isolate_git();
    let path = dir.join("app");
    let repo = Repository::init(&path).unwrap();
    let sig = Signature::now("Test", "test@example.com").unwrap();
    let blob = repo.blob(b"def divide(a, b):\n    return a / b\n").unwrap();
    let req = repo.blob(b"pytest\n").unwrap();
    let mut tb = repo.treebuilder(None).unwrap();
    tb.insert("app.py", blob, 0o100644).unwrap();
    tb.insert("requirements.txt", req, 0o100644).unwrap();
    let tree = repo.find_tree(tb.write().unwrap()).unwrap();
    repo.commit(Some("refs/heads/main"), &sig, &sig, "initial", &tree, &[])
        .unwrap();
    repo.set_head("refs/heads/main").unwrap();
    path
}

pub(crate) fn event_alert_body(issue: &str, event: &str, title: &str) -> Value {
    json!({
        "action": "triggered",
        "installation": {"uuid": "7a485448-a9e2-4c85-8a3c-4f44175783c9"},
        "data": {
            "triggered_rule": "every event",
            "event": {
                "event_id": event,
                "issue_id": issue,
                "project": 1,
                "platform": "python",
                "title": title,
                "url": format!("https://sentry.io/api/0/projects/acme/backend/events/{event}/"),
                "web_url": format!("https://acme.sentry.io/issues/{issue}/events/{event}/"),
                "exception": {"values": [{
                    "type": "ZeroDivisionError",
                    "value": "division by zero",
                    "stacktrace": {"frames": [{
                        "filename": "app.py", "abs_path": "/srv/app.py", "function": "divide",
                        "lineno": 2, "in_app": true, "context_line": "    return a / b",
                        "vars": {"a": "1", "b": "0"}
                    }]}
                }]}
            }
        }
    })
}

pub(crate) fn delivery(resource: &str, action: &str, body: &Value, request_id: &str) -> Delivery {
    Delivery {
        resource: resource.into(),
        action: action.into(),
        request_id: Some(request_id.into()),
        raw_body: serde_json::to_vec(body).unwrap(),
    }
}

fn test_cfg(state: &Path) -> JobsConfig {
    JobsConfig {
        state_dir: state.to_path_buf(),
        workers: 2,
        max_attempts: 3,
        backoff_initial_ms: 30,
        backoff_max_ms: 200,
        poll_interval_ms: 20,
        durability: sentry_repro::jobs::Durability::Normal,
        http_timeout_ms: 3_000,
        shutdown_grace_ms: 5_000,
        // Every repeat alert rewrites the note (the interval has its own tests below).
        note_interval_secs: 0,
        ..JobsConfig::default()
    }
}

struct Env {
    _tmp: tempfile::TempDir,
    repo: PathBuf,
    state: PathBuf,
}

fn env() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let repo = make_repo(tmp.path());
    let state = tmp.path().join("state");
    Env {
        _tmp: tmp,
        repo,
        state,
    }
}

fn accept_event(jobs: &Arc<Jobs>, repo: &Path, issue: &str, event: &str) -> String {
    let body = event_alert_body(issue, event, "ZeroDivisionError: division by zero");
    let alert = webhook::alert_from_any_json(&body);
    let acc = jobs
        .sink()
        .accept(
            alert,
            ProjectConfig::for_repo(repo),
            delivery("event_alert", "triggered", &body, event),
        )
        .unwrap();
    acc.job_id
}

fn wait_terminal(jobs: &Jobs, ids: &[String], timeout: Duration) -> Vec<JobRecord> {
    let deadline = Instant::now() + timeout;
    loop {
        let recs: Vec<JobRecord> = ids
            .iter()
            .map(|id| jobs.job(id).unwrap().unwrap())
            .collect();
        if recs.iter().all(|r| r.state.is_terminal()) {
            return recs;
        }
        if Instant::now() > deadline {
            panic!(
                "jobs not finished in {timeout:?}: {:#?}",
                recs.iter()
                    .filter(|r| !r.state.is_terminal())
                    .collect::<Vec<_>>()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub(crate) fn branches(repo: &Path, issue: &str) -> Vec<String> {
    let r = Repository::open(repo).unwrap();
    let names: Vec<String> = r
        .references_glob(&format!("refs/heads/fix/sentry-{issue}-*"))
        .unwrap()
        .flatten()
        .map(|r| r.name().unwrap().to_string())
        .collect();
    names
}

fn file_at(repo: &Path, branch: &str, path: &str) -> String {
    let r = Repository::open(repo).unwrap();
    let c = r
        .find_reference(&format!("refs/heads/{branch}"))
        .unwrap()
        .peel_to_commit()
        .unwrap();
    let e = c.tree().unwrap().get_path(Path::new(path)).unwrap();
    let text = String::from_utf8(r.find_blob(e.id()).unwrap().content().to_vec()).unwrap();
    text
}

/// A recorded request to a fake server.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

/// A tiny HTTP/1.1 server on loopback: records each request, answers with `respond`.
pub(crate) struct FakeServer {
    pub url: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakeServer {
    pub fn start(respond: impl Fn(&Seen) -> (u16, String) + Send + Sync + 'static) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = seen.clone();
        let respond = Arc::new(respond);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let seen = seen2.clone();
                let respond = respond.clone();
                std::thread::spawn(move || {
                    let _ = handle(stream, &seen, &*respond);
                });
            }
        });
        FakeServer { url, seen }
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn handle(
    stream: TcpStream,
    seen: &Mutex<Vec<Seen>>,
    respond: &dyn Fn(&Seen) -> (u16, String),
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    let req = Seen {
        method,
        path,
        headers,
        body,
    };
    let (status, text) = respond(&req);
    seen.lock().unwrap().push(req);
    let mut w = stream;
    write!(
        w,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    )?;
    w.flush()
}

// ---------- tests ----------

#[test]
fn jobs_dedup_same_identity_is_one_job_whatever_the_request_id() {
    let e = env();
    let jobs = Jobs::open(test_cfg(&e.state)).unwrap();
    let body = event_alert_body("101", "ev1", "boom");
    let alert = webhook::alert_from_any_json(&body);
    let p = ProjectConfig::for_repo(&e.repo);
    let sink = jobs.sink();
    let a = sink
        .accept(
            alert.clone(),
            p.clone(),
            delivery("event_alert", "triggered", &body, "r1"),
        )
        .unwrap();
    let b = sink
        .accept(
            alert.clone(),
            p.clone(),
            delivery("event_alert", "triggered", &body, "r2"),
        )
        .unwrap();
    assert!(!a.duplicate && b.duplicate);
    assert_eq!(a.job_id, b.job_id);
    // Another event of the issue, or another resource, is a new job.
    let body2 = event_alert_body("101", "ev2", "boom");
    let c = sink
        .accept(
            webhook::alert_from_any_json(&body2),
            p.clone(),
            delivery("event_alert", "triggered", &body2, "r3"),
        )
        .unwrap();
    assert!(!c.duplicate);
    assert_ne!(c.job_id, a.job_id);
    let d = sink
        .accept(alert, p, delivery("error", "created", &body, "r4"))
        .unwrap();
    assert!(!d.duplicate);
    let rec = jobs.job(&a.job_id).unwrap().unwrap();
    assert_eq!(rec.deliveries, 2);
    assert_eq!(rec.request_id.as_deref(), Some("r1"));
    assert_eq!(jobs.store().all().unwrap().len(), 3);
}

#[test]
fn jobs_concurrent_duplicate_deliveries_make_one_job() {
    let e = env();
    let jobs = Jobs::open(test_cfg(&e.state)).unwrap();
    let body = event_alert_body("102", "ev1", "boom");
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let (jobs, body, repo) = (jobs.clone(), body.clone(), e.repo.clone());
            std::thread::spawn(move || {
                jobs.sink()
                    .accept(
                        webhook::alert_from_any_json(&body),
                        ProjectConfig::for_repo(&repo),
                        delivery("event_alert", "triggered", &body, &format!("req{i}")),
                    )
                    .unwrap()
            })
        })
        .collect();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(results.iter().filter(|a| !a.duplicate).count(), 1);
    assert!(results.iter().all(|a| a.job_id == results[0].job_id));
}

#[test]
fn jobs_survive_reopen_and_running_jobs_are_requeued() {
    let e = env();
    let id;
    {
        let jobs = Jobs::open(test_cfg(&e.state)).unwrap();
        id = accept_event(&jobs, &e.repo, "103", "ev1");
        // Simulate a worker that took the job and then the process died.
        let row = jobs.store().claim().unwrap().unwrap();
        assert_eq!(row.id.to_string(), id);
        assert_eq!(jobs.job(&id).unwrap().unwrap().state, JobState::Running);
        // A second process on the same state folder is refused while this one lives.
        let err = Jobs::open(test_cfg(&e.state))
            .err()
            .expect("second open must fail");
        assert!(
            format!("{err:#}").contains("another sentry-repro process"),
            "{err:#}"
        );
    }
    let jobs = Jobs::open(test_cfg(&e.state)).unwrap();
    let rec = jobs.job(&id).unwrap().unwrap();
    assert_eq!(rec.state, JobState::Queued, "{rec:?}");
    let mut pool = jobs.start_workers();
    let recs = wait_terminal(&jobs, &[id], Duration::from_secs(30));
    pool.shutdown();
    assert_eq!(recs[0].state, JobState::Done, "{:?}", recs[0]);
    assert_eq!(recs[0].attempts, 2, "the interrupted attempt counts");
    assert_eq!(branches(&e.repo, "103").len(), 1);
}

#[test]
fn jobs_worker_creates_branch_then_occurrences_update_the_note() {
    let e = env();
    let jobs = Jobs::open(test_cfg(&e.state)).unwrap();
    let mut pool = jobs.start_workers();
    let first = accept_event(&jobs, &e.repo, "104", "ev1");
    let r1 = wait_terminal(&jobs, &[first], Duration::from_secs(30)).remove(0);
    assert_eq!(r1.state, JobState::Done, "{r1:?}");
    assert_eq!(r1.kind.as_deref(), Some("created"));
    let branch = r1.branch.clone().unwrap();
    assert!(branch.starts_with("fix/sentry-104-"), "{branch}");
    assert!(
        r1.files.iter().any(|f| f == "repro/sentry-104.md"),
        "{:?}",
        r1.files
    );
    assert_eq!(r1.strategy.as_deref(), Some("call_replay"));
    assert!(r1.verify_command.as_deref().unwrap().contains(&branch));
    assert_eq!(r1.occurrences, Some(1));

    let second = accept_event(&jobs, &e.repo, "104", "ev2");
    let third = accept_event(&jobs, &e.repo, "104", "ev3`<b>");
    let recs = wait_terminal(&jobs, &[second, third], Duration::from_secs(30));
    pool.shutdown();
    for r in &recs {
        assert_eq!(r.state, JobState::Done, "{r:?}");
        assert_eq!(r.kind.as_deref(), Some("occurrence"));
        assert_eq!(r.branch.as_deref(), Some(branch.as_str()));
    }
    assert_eq!(branches(&e.repo, "104").len(), 1);
    assert_eq!(jobs.job(&r1.id).unwrap().unwrap().occurrences, Some(3));
    let note = file_at(&e.repo, &branch, "repro/sentry-104.md");
    assert!(note.contains("Seen 3 times"), "{note}");
    assert!(note.contains("ev2") && note.contains("ev3"), "{note}");
    assert_eq!(note.matches("<!-- sentry-repro:occurrences -->").count(), 1);
    // Two commits on top of the generated one.
    let r = Repository::open(&e.repo).unwrap();
    let tip = r
        .find_reference(&format!("refs/heads/{branch}"))
        .unwrap()
        .peel_to_commit()
        .unwrap();
    assert!(
        tip.message().unwrap().contains("seen again (3 alerts)"),
        "{:?}",
        tip.message()
    );
    assert_eq!(
        tip.parent(0).unwrap().parent(0).unwrap().id().to_string(),
        r1.commit.unwrap()
    );
}

#[test]
fn jobs_fifty_concurrent_alerts_for_one_issue_make_one_branch() {
    let e = env();
    let mut cfg = test_cfg(&e.state);
    cfg.workers = 4;
    let jobs = Jobs::open(cfg).unwrap();
    let mut pool = jobs.start_workers();
    let threads: Vec<_> = (0..50)
        .map(|i| {
            let (jobs, repo) = (jobs.clone(), e.repo.clone());
            std::thread::spawn(move || accept_event(&jobs, &repo, "105", &format!("ev{i}")))
        })
        .collect();
    let ids: Vec<String> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let recs = wait_terminal(&jobs, &ids, Duration::from_secs(120));
    pool.shutdown();
    assert!(recs.iter().all(|r| r.state == JobState::Done), "{recs:#?}");
    assert_eq!(
        recs.iter()
            .filter(|r| r.kind.as_deref() == Some("created"))
            .count(),
        1
    );
    assert_eq!(
        recs.iter()
            .filter(|r| r.kind.as_deref() == Some("occurrence"))
            .count(),
        49
    );
    let b = branches(&e.repo, "105");
    assert_eq!(b.len(), 1, "{b:?}");
    assert!(recs
        .iter()
        .all(|r| r.branch.as_deref() == b[0].strip_prefix("refs/heads/")));
    let note = file_at(
        &e.repo,
        b[0].strip_prefix("refs/heads/").unwrap(),
        "repro/sentry-105.md",
    );
    assert!(note.contains("Seen 50 times"), "{note}");
}

fn lock_claim_ref(repo: &Path, issue: &str) -> PathBuf {
    let dir = repo.join(".git/refs/sentry-repro/issues");
    std::fs::create_dir_all(&dir).unwrap();
    let lock = dir.join(format!("{issue}.lock"));
    std::fs::write(&lock, "").unwrap();
    lock
}

#[test]
fn jobs_locked_repository_retries_then_succeeds() {
    let e = env();
    let mut cfg = test_cfg(&e.state);
    cfg.max_attempts = 50;
    let jobs = Jobs::open(cfg).unwrap();
    let lock = lock_claim_ref(&e.repo, "106");
    let mut pool = jobs.start_workers();
    let id = accept_event(&jobs, &e.repo, "106", "ev1");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = jobs.job(&id).unwrap().unwrap();
        if r.attempts >= 2 {
            assert!(
                matches!(r.state, JobState::Queued | JobState::Running),
                "{r:?}"
            );
            assert!(r.error.as_deref().unwrap_or("").contains("lock"), "{r:?}");
            break;
        }
        assert!(Instant::now() < deadline, "no retry happened: {r:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::fs::remove_file(&lock).unwrap();
    let r = wait_terminal(&jobs, &[id], Duration::from_secs(30)).remove(0);
    pool.shutdown();
    assert_eq!(r.state, JobState::Done, "{r:?}");
    assert!(r.attempts >= 2);
    assert_eq!(branches(&e.repo, "106").len(), 1);
}

#[test]
fn jobs_locked_repository_fails_after_the_attempt_limit_with_the_error_kept() {
    let e = env();
    let jobs = Jobs::open(test_cfg(&e.state)).unwrap();
    lock_claim_ref(&e.repo, "107");
    let mut pool = jobs.start_workers();
    let id = accept_event(&jobs, &e.repo, "107", "ev1");
    let r = wait_terminal(&jobs, &[id], Duration::from_secs(30)).remove(0);
    pool.shutdown();
    assert_eq!(r.state, JobState::Failed, "{r:?}");
    assert_eq!(r.attempts, 3);
    assert!(r.error.as_deref().unwrap().contains("lock"), "{r:?}");
    assert!(branches(&e.repo, "107").is_empty());
    let metrics = jobs.metrics_text().unwrap();
    assert!(
        metrics.contains("sentry_repro_alerts_total{outcome=\"retried\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("sentry_repro_alerts_total{outcome=\"failed\"} 1"),
        "{metrics}"
    );
}

fn bare_remote(dir: &Path) -> PathBuf {
    let p = dir.join("remote.git");
    Repository::init_bare(&p).unwrap();
    p
}

#[test]
fn jobs_push_new_branch_and_occurrence_to_a_bare_remote() {
    let e = env();
    let remote = bare_remote(e._tmp.path());
    Repository::open(&e.repo)
        .unwrap()
        .remote("origin", remote.to_str().unwrap())
        .unwrap();
    let jobs = Jobs::open(test_cfg(&e.state)).unwrap();
    let mut pool = jobs.start_workers();
    let mut project = ProjectConfig::for_repo(&e.repo);
    project.remote = Some("origin".into());
    let body = event_alert_body("108", "ev1", "boom");
    let id = jobs
        .sink()
        .accept(
            webhook::alert_from_any_json(&body),
            project.clone(),
            delivery("event_alert", "triggered", &body, "a"),
        )
        .unwrap()
        .job_id;
    let r = wait_terminal(&jobs, &[id], Duration::from_secs(30)).remove(0);
    assert_eq!(r.state, JobState::Done, "{r:?}");
    assert!(r.pushed);
    let branch = r.branch.unwrap();
    let bare = Repository::open_bare(&remote).unwrap();
    let pushed = bare.refname_to_id(&format!("refs/heads/{branch}")).unwrap();
    assert_eq!(pushed.to_string(), r.commit.unwrap());
    // An occurrence's commit is pushed too (fast-forward).
    let body2 = event_alert_body("108", "ev2", "boom");
    let id2 = jobs
        .sink()
        .accept(
            webhook::alert_from_any_json(&body2),
            project,
            delivery("event_alert", "triggered", &body2, "b"),
        )
        .unwrap()
        .job_id;
    let r2 = wait_terminal(&jobs, &[id2], Duration::from_secs(30)).remove(0);
    pool.shutdown();
    assert_eq!(r2.kind.as_deref(), Some("occurrence"));
    assert!(r2.pushed);
    assert_eq!(
        bare.refname_to_id(&format!("refs/heads/{branch}"))
            .unwrap()
            .to_string(),
        r2.commit.unwrap()
    );
}

#[test]
fn jobs_failing_push_retries_then_reports() {
    let e = env();
    let jobs = Jobs::open(test_cfg(&e.state)).unwrap();
    let mut pool = jobs.start_workers();
    let mut project = ProjectConfig::for_repo(&e.repo);
    let missing = e._tmp.path().join("no-such-remote.git");
    project.remote = Some(missing.to_str().unwrap().to_string());
    let body = event_alert_body("109", "ev1", "boom");
    let id = jobs
        .sink()
        .accept(
            webhook::alert_from_any_json(&body),
            project,
            delivery("event_alert", "triggered", &body, "a"),
        )
        .unwrap()
        .job_id;
    let r = wait_terminal(&jobs, &[id], Duration::from_secs(30)).remove(0);
    pool.shutdown();
    assert_eq!(r.state, JobState::Failed, "{r:?}");
    assert_eq!(r.attempts, 3);
    assert!(!r.pushed);
    let err = r.error.unwrap();
    assert!(err.contains("push of fix/sentry-109-"), "{err}");
    // The branch was generated once, and kept for the next attempt or a manual push.
    assert_eq!(branches(&e.repo, "109").len(), 1);
    assert!(r.branch.is_some());
}

fn issue_created_body(issue: &str) -> Value {
    json!({
        "action": "created",
        "installation": {"uuid": "x"},
        "data": {"issue": {
            "id": issue, "shortId": "BACKEND-1", "title": "ZeroDivisionError: division by zero",
            "culprit": "app in divide", "platform": "python", "level": "error",
            "project": {"id": "1", "slug": "backend", "name": "Backend"},
            "metadata": {"type": "ZeroDivisionError", "value": "division by zero", "filename": "app.py", "function": "divide"},
            "url": format!("https://sentry.io/api/0/organizations/acme/issues/{issue}/"),
            "web_url": format!("https://sentry.io/organizations/acme/issues/{issue}/"),
            "count": "1"
        }}
    })
}

#[test]
fn jobs_issue_alert_fetches_the_latest_event_with_a_token() {
    let e = env();
    let latest = event_alert_body("110", "latest-ev", "ZeroDivisionError: division by zero")
        ["data"]["event"]
        .clone();
    let latest_text = latest.to_string();
    let sentry = FakeServer::start(move |req| {
        if req.path == "/api/0/organizations/acme/issues/110/events/latest/" {
            (200, latest_text.clone())
        } else {
            (404, "{\"detail\":\"not found\"}".into())
        }
    });
    let mut cfg = test_cfg(&e.state);
    cfg.sentry_url = sentry.url.clone();
    cfg.sentry_token = Some(Secret::new("sntrys_test_token"));
    let jobs = Jobs::open(cfg).unwrap();
    let mut pool = jobs.start_workers();
    let body = issue_created_body("110");
    let alert = webhook::alert_from_any_json(&body);
    assert!(!alert.has_stack());
    let id = jobs
        .sink()
        .accept(
            alert,
            ProjectConfig::for_repo(&e.repo),
            delivery("issue", "created", &body, "a"),
        )
        .unwrap()
        .job_id;
    let r = wait_terminal(&jobs, &[id], Duration::from_secs(30)).remove(0);
    pool.shutdown();
    assert_eq!(r.state, JobState::Done, "{r:?}");
    let reqs = sentry.requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    assert_eq!(reqs[0].method, "GET");
    assert_eq!(
        reqs[0].headers.get("authorization").map(String::as_str),
        Some("Bearer sntrys_test_token")
    );
    assert!(
        r.reasons.iter().any(|x| x.contains("latest event")),
        "{:?}",
        r.reasons
    );
    let branch = r.branch.unwrap();
    let contract: Value =
        serde_json::from_str(&file_at(&e.repo, &branch, "repro/sentry-110.json")).unwrap();
    assert_eq!(contract["event_id"], "latest-ev", "{contract}");
    let note = file_at(&e.repo, &branch, "repro/sentry-110.md");
    assert!(
        note.contains("app.py:2 in divide"),
        "the fetched stack is in the note: {note}"
    );
}

#[test]
fn jobs_issue_alert_without_a_token_generates_boilerplate_and_says_what_to_configure() {
    let e = env();
    let jobs = Jobs::open(test_cfg(&e.state)).unwrap();
    let mut pool = jobs.start_workers();
    let body = issue_created_body("111");
    let id = jobs
        .sink()
        .accept(
            webhook::alert_from_any_json(&body),
            ProjectConfig::for_repo(&e.repo),
            delivery("issue", "created", &body, "a"),
        )
        .unwrap()
        .job_id;
    let r = wait_terminal(&jobs, &[id], Duration::from_secs(30)).remove(0);
    pool.shutdown();
    assert_eq!(r.state, JobState::Done, "{r:?}");
    assert_eq!(r.kind.as_deref(), Some("created"));
    assert!(
        r.reasons.iter().any(|x| x.contains("SENTRY_AUTH_TOKEN")),
        "{:?}",
        r.reasons
    );
    let note = file_at(&e.repo, r.branch.as_deref().unwrap(), "repro/sentry-111.md");
    assert!(
        note.contains("## Configure sentry-repro") && note.contains("SENTRY_AUTH_TOKEN"),
        "{note}"
    );
}

#[test]
fn jobs_sentry_api_outage_is_retried() {
    let e = env();
    let sentry = FakeServer::start(|_| (503, "{}".into()));
    let mut cfg = test_cfg(&e.state);
    cfg.sentry_url = sentry.url.clone();
    cfg.sentry_token = Some(Secret::new("t"));
    let jobs = Jobs::open(cfg).unwrap();
    let mut pool = jobs.start_workers();
    let body = issue_created_body("112");
    let id = jobs
        .sink()
        .accept(
            webhook::alert_from_any_json(&body),
            ProjectConfig::for_repo(&e.repo),
            delivery("issue", "created", &body, "a"),
        )
        .unwrap()
        .job_id;
    let r = wait_terminal(&jobs, &[id], Duration::from_secs(30)).remove(0);
    pool.shutdown();
    assert_eq!(sentry.requests().len(), 3, "one request per attempt");
    // The last attempt falls back to the issue summary rather than losing the alert.
    assert_eq!(r.state, JobState::Done, "{r:?}");
    assert!(
        r.reasons.iter().any(|x| x.contains("503")),
        "{:?}",
        r.reasons
    );
}

#[test]
fn jobs_handoff_post_and_draft_pull_request() {
    let e = env();
    let remote = bare_remote(e._tmp.path());
    let hook = FakeServer::start(|_| (200, "{}".into()));
    let github = FakeServer::start(|req| {
        if req.method == "POST" && req.path == "/repos/acme/backend/pulls" {
            (
                201,
                json!({"number": 7, "html_url": "https://github.example/acme/backend/pull/7"})
                    .to_string(),
            )
        } else {
            (404, "{}".into())
        }
    });
    let mut cfg = test_cfg(&e.state);
    cfg.handoff_url = Some(format!("{}/hooks/sentry-repro", hook.url));
    cfg.github = Some(sentry_repro::jobs::GithubConfig {
        api_url: github.url.clone(),
        repository: "acme/backend".into(),
        token: Secret::new("ghp_test"),
    });
    let jobs = Jobs::open(cfg).unwrap();
    let mut pool = jobs.start_workers();
    let mut project = ProjectConfig::for_repo(&e.repo);
    project.remote = Some(remote.to_str().unwrap().into());
    let body = event_alert_body("113", "ev1", "<script>x</script>");
    let id = jobs
        .sink()
        .accept(
            webhook::alert_from_any_json(&body),
            project,
            delivery("event_alert", "triggered", &body, "a"),
        )
        .unwrap()
        .job_id;
    let r = wait_terminal(&jobs, &[id], Duration::from_secs(30)).remove(0);
    pool.shutdown();
    assert_eq!(r.state, JobState::Done, "{r:?}");
    assert_eq!(
        r.pull_request.as_deref(),
        Some("https://github.example/acme/backend/pull/7")
    );
    let branch = r.branch.clone().unwrap();

    let posts = hook.requests();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].path, "/hooks/sentry-repro");
    let p: Value = serde_json::from_slice(&posts[0].body).unwrap();
    assert_eq!(p["issue_id"], "113");
    assert_eq!(p["branch"], branch);
    assert_eq!(p["strategy"], "call_replay");
    assert!(p["files"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f == "repro/sentry-113.json"));
    assert!(p["verify_command"]
        .as_str()
        .unwrap()
        .starts_with("sentry-repro verify"));
    assert_eq!(
        p["pull_request"],
        "https://github.example/acme/backend/pull/7"
    );

    let prs = github.requests();
    assert_eq!(prs.len(), 1);
    assert_eq!(
        prs[0].headers.get("authorization").map(String::as_str),
        Some("Bearer ghp_test")
    );
    let pr: Value = serde_json::from_slice(&prs[0].body).unwrap();
    assert_eq!(pr["draft"], true);
    assert_eq!(pr["head"], branch);
    assert_eq!(pr["base"], "main");
    // The body is for people without the server's disk: the Sentry issue and the commands.
    let text = pr["body"].as_str().unwrap();
    assert!(
        text.contains("(https://acme.sentry.io/issues/113/events/ev1/)"),
        "{text}"
    );
    assert!(text.contains("[113]"), "{text}");
    assert!(text.contains("x</script>"), "the title: {text}");
    assert!(
        text.contains(&format!("`sentry-repro verify --head {branch}`")),
        "{text}"
    );
    assert!(text.contains("repro/sentry-113.json"), "{text}");
    let tmp = e._tmp.path().to_str().unwrap();
    assert!(!text.contains(tmp), "a local path of the server: {text}");
    assert!(!text.contains("--repo"), "{text}");
}

#[test]
fn jobs_handoff_outage_is_retried_then_reported_without_losing_the_branch() {
    let e = env();
    let hook = FakeServer::start(|_| (500, "{}".into()));
    let mut cfg = test_cfg(&e.state);
    cfg.handoff_url = Some(hook.url.clone());
    let jobs = Jobs::open(cfg).unwrap();
    let mut pool = jobs.start_workers();
    let id = accept_event(&jobs, &e.repo, "114", "ev1");
    let r = wait_terminal(&jobs, &[id], Duration::from_secs(30)).remove(0);
    pool.shutdown();
    assert_eq!(hook.requests().len(), 3);
    assert_eq!(r.state, JobState::Done, "{r:?}");
    assert!(
        r.handoff.as_deref().unwrap().starts_with("failed:"),
        "{r:?}"
    );
    assert!(r.warnings.iter().any(|w| w.contains("500")), "{r:?}");
    assert_eq!(branches(&e.repo, "114").len(), 1);
}

#[test]
fn jobs_recover_a_branch_whose_creation_was_interrupted() {
    let e = env();
    let jobs = Jobs::open(test_cfg(&e.state)).unwrap();
    let id = accept_event(&jobs, &e.repo, "115", "ev1");
    // What a kill between the claim ref and the branch leaves: the claim, no branch.
    let r = Repository::open(&e.repo).unwrap();
    let head = r.head().unwrap().peel_to_commit().unwrap();
    r.reference("refs/sentry-repro/issues/115", head.id(), false, "test")
        .unwrap();
    // And a stale lock of ours, as a kill during a ref update leaves.
    let stale = e.repo.join(".git/refs/heads/fix/sentry-115-x.lock");
    std::fs::create_dir_all(stale.parent().unwrap()).unwrap();
    std::fs::write(&stale, "").unwrap();
    jobs.store().claim().unwrap().unwrap();
    drop(jobs);
    let jobs = Jobs::open(test_cfg(&e.state)).unwrap();
    assert!(!stale.exists(), "stale lock removed at start");
    let mut pool = jobs.start_workers();
    let rec = wait_terminal(&jobs, &[id], Duration::from_secs(30)).remove(0);
    pool.shutdown();
    assert_eq!(rec.state, JobState::Done, "{rec:?}");
    assert_eq!(branches(&e.repo, "115").len(), 1);
}

#[test]
fn jobs_unsafe_issue_ids_are_ignored_with_a_reason() {
    let e = env();
    let jobs = Jobs::open(test_cfg(&e.state)).unwrap();
    let mut pool = jobs.start_workers();
    let id = accept_event(&jobs, &e.repo, "../../etc", "ev1");
    let r = wait_terminal(&jobs, &[id], Duration::from_secs(30)).remove(0);
    pool.shutdown();
    assert_eq!(r.state, JobState::Ignored, "{r:?}");
    assert!(r.reason.unwrap().contains("not a plain identifier"));
}

#[test]
fn jobs_shutdown_lets_idle_workers_stop_and_requeues_nothing() {
    let e = env();
    let jobs = Jobs::open(test_cfg(&e.state)).unwrap();
    let mut pool = jobs.start_workers();
    let id = accept_event(&jobs, &e.repo, "116", "ev1");
    wait_terminal(&jobs, &[id], Duration::from_secs(30));
    let report = pool.shutdown();
    assert_eq!(report.stopped, 2);
    assert!(report.requeued.is_empty());
    // After shutdown nothing runs: a new alert stays queued until the next start.
    let id2 = accept_event(&jobs, &e.repo, "117", "ev1");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(jobs.job(&id2).unwrap().unwrap().state, JobState::Queued);
}

#[actix_web::test]
async fn jobs_http_routes_status_page_json_and_metrics() {
    use actix_web::{test, App};
    let e = env();
    let jobs = Jobs::open(test_cfg(&e.state)).unwrap();
    let body = event_alert_body(
        "118",
        "ev1",
        "<script>alert('x')</script> & <img src=x onerror=alert(1)>",
    );
    let id = jobs
        .sink()
        .accept(
            webhook::alert_from_any_json(&body),
            ProjectConfig::for_repo(&e.repo),
            delivery("event_alert", "triggered", &body, "a"),
        )
        .unwrap()
        .job_id;
    let app = test::init_service(
        App::new().configure(sentry_repro::jobs::http::configure_with(jobs.clone())),
    )
    .await;

    let resp = test::call_service(
        &app,
        test::TestRequest::get()
            .uri(&format!("/jobs/{id}"))
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let v: Value = test::read_body_json(resp).await;
    assert_eq!(v["id"], id);
    assert_eq!(v["state"], "queued");
    assert_eq!(v["issue_id"], "118");

    let resp = test::call_service(
        &app,
        test::TestRequest::get().uri("/jobs/999999").to_request(),
    )
    .await;
    assert_eq!(resp.status(), 404);

    let resp = test::call_service(&app, test::TestRequest::get().uri("/").to_request()).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("content-security-policy").is_some());
    let html = String::from_utf8(test::read_body(resp).await.to_vec()).unwrap();
    assert!(html.contains("&lt;script&gt;"), "{html}");
    assert!(
        !html.contains("<script>") && !html.contains("<img"),
        "{html}"
    );
    assert!(html.contains("queued"));

    let resp =
        test::call_service(&app, test::TestRequest::get().uri("/metrics").to_request()).await;
    assert_eq!(resp.status(), 200);
    let text = String::from_utf8(test::read_body(resp).await.to_vec()).unwrap();
    assert!(
        text.contains("sentry_repro_alerts_total{outcome=\"accepted\"} 1"),
        "{text}"
    );
    assert!(text.contains("sentry_repro_queue_depth 1"), "{text}");
    assert!(
        text.contains("sentry_repro_jobs{state=\"queued\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("sentry_repro_job_latency_seconds_bucket"),
        "{text}"
    );
}

#[test]
fn jobs_config_from_env() {
    let vars: HashMap<&str, &str> = [
        ("SENTRY_REPRO_STATE_DIR", "/var/lib/sentry-repro"),
        ("SENTRY_REPRO_WORKERS", "8"),
        ("SENTRY_AUTH_TOKEN", "sntrys_secret"),
        ("SENTRY_REPRO_GITHUB_REPO", "acme/backend"),
        ("GITHUB_TOKEN", "ghp_secret"),
    ]
    .into_iter()
    .collect();
    let cfg = JobsConfig::from_lookup(|k| vars.get(k).map(|v| v.to_string())).unwrap();
    assert_eq!(cfg.workers, 8);
    assert_eq!(
        cfg.db_path(),
        PathBuf::from("/var/lib/sentry-repro/state.db")
    );
    assert_eq!(cfg.sentry_url, "https://sentry.io");
    assert_eq!(
        cfg.github.as_ref().unwrap().api_url,
        "https://api.github.com"
    );
    let dbg = format!("{cfg:?}");
    assert!(
        !dbg.contains("sntrys_secret") && !dbg.contains("ghp_secret"),
        "{dbg}"
    );
    let bad =
        JobsConfig::from_lookup(|k| (k == "SENTRY_REPRO_WORKERS").then(|| "many".to_string()));
    assert!(format!("{:#}", bad.unwrap_err()).contains("SENTRY_REPRO_WORKERS"));
}

/// Renders the status page in headless Chromium through `scripts/screenshot-status.sh`.
/// Opt-in (Chromium is not a CI requirement): `cargo test --test it jobs_status_page -- --ignored`.
#[actix_web::test]
#[ignore = "needs chromium (apt-get install chromium); run with --ignored"]
async fn jobs_status_page_screenshot_in_headless_chromium() {
    use actix_web::{App, HttpServer};
    let e = env();
    let jobs = Jobs::open(test_cfg(&e.state)).unwrap();
    let mut pool = jobs.start_workers();
    let mut ids = vec![
        accept_event(&jobs, &e.repo, "201", "ev1"),
        accept_event(&jobs, &e.repo, "201", "ev2"),
        accept_event(&jobs, &e.repo, "bad/../id", "ev1"),
    ];
    let hostile = event_alert_body(
        "202",
        "ev1",
        "<script>document.title='owned'</script><b>bold?</b>",
    );
    ids.push(
        jobs.sink()
            .accept(
                webhook::alert_from_any_json(&hostile),
                ProjectConfig::for_repo(&e.repo),
                delivery("event_alert", "triggered", &hostile, "h"),
            )
            .unwrap()
            .job_id,
    );
    let j2 = jobs.clone();
    let ids2 = ids.clone();
    tokio::task::spawn_blocking(move || wait_terminal(&j2, &ids2, Duration::from_secs(30)))
        .await
        .unwrap();
    pool.shutdown();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let routes = sentry_repro::jobs::http::configure_with(jobs.clone());
    let server = HttpServer::new(move || App::new().configure(routes.clone()))
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
    let handle = server.handle();
    tokio::spawn(server);
    let out = e._tmp.path().join("status.png");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/screenshot-status.sh");
    let out2 = out.clone();
    let status = tokio::task::spawn_blocking(move || {
        std::process::Command::new("bash")
            .arg(script)
            .arg(&url)
            .arg(&out2)
            .status()
            .unwrap()
    })
    .await
    .unwrap();
    handle.stop(true).await;
    assert!(status.success(), "screenshot script failed: {status}");
    let png = std::fs::read(&out).unwrap();
    assert!(
        png.len() > 5_000,
        "suspiciously small screenshot: {} bytes",
        png.len()
    );
    if let Ok(keep) = std::env::var("SENTRY_REPRO_KEEP_SCREENSHOT") {
        std::fs::copy(&out, keep).unwrap();
    }
}

// ---------- occurrences, bounded growth, jobs and prune commands ----------

fn tip_of(repo: &Path, branch: &str) -> String {
    Repository::open(repo)
        .unwrap()
        .refname_to_id(&format!("refs/heads/{branch}"))
        .unwrap()
        .to_string()
}

/// The real binary with the service's environment cleared; (exit code, stdout, stderr).
pub(crate) fn run_bin(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut c = std::process::Command::new(crate::support::BIN);
    for k in sentry_repro::config::env::ALL {
        c.env_remove(k);
    }
    c.env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn fake_github() -> FakeServer {
    FakeServer::start(|req| match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/repos/acme/backend/pulls") => (
            201,
            json!({"number": 7, "html_url": "https://github.example/acme/backend/pull/7"})
                .to_string(),
        ),
        ("POST", "/repos/acme/backend/issues/7/comments") => (201, "{}".into()),
        _ => (404, "{}".into()),
    })
}

#[test]
fn jobs_occurrence_never_moves_a_branch_checked_out_in_a_work_tree() {
    let e = env();
    let home = e._tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let remote = bare_remote(e._tmp.path());
    let github = fake_github();
    let mut cfg = test_cfg(&e.state);
    cfg.github = Some(sentry_repro::jobs::GithubConfig {
        api_url: github.url.clone(),
        repository: "acme/backend".into(),
        token: Secret::new("ghp_test"),
    });
    let jobs = Jobs::open(cfg).unwrap();
    let mut pool = jobs.start_workers();
    let mut project = ProjectConfig::for_repo(&e.repo);
    project.remote = Some(remote.to_str().unwrap().into());
    let run = |event: &str| {
        let body = event_alert_body("120", event, "boom");
        let id = jobs
            .sink()
            .accept(
                webhook::alert_from_any_json(&body),
                project.clone(),
                delivery("event_alert", "triggered", &body, event),
            )
            .unwrap()
            .job_id;
        let r = wait_terminal(&jobs, &[id], Duration::from_secs(60)).remove(0);
        assert_eq!(r.state, JobState::Done, "{r:?}");
        r
    };
    let comments = || {
        github
            .requests()
            .into_iter()
            .filter(|r| r.path == "/repos/acme/backend/issues/7/comments")
            .collect::<Vec<_>>()
    };
    let r1 = run("ev1");
    let branch = r1.branch.clone().unwrap();
    assert_eq!(
        r1.pull_request.as_deref(),
        Some("https://github.example/acme/backend/pull/7")
    );
    let created = tip_of(&e.repo, &branch);

    // 1. Checked out in the main work tree: the branch stays, the index stays clean.
    crate::support::git_in(&e.repo, &home, &["reset", "-q", "--hard"]);
    crate::support::git_in(&e.repo, &home, &["checkout", "-q", &branch]);
    let r2 = run("ev2");
    assert_eq!(r2.kind.as_deref(), Some("occurrence"));
    assert_eq!(
        tip_of(&e.repo, &branch),
        created,
        "checked-out branch moved"
    );
    assert_eq!(r2.commit.as_deref(), Some(created.as_str()));
    assert!(
        r2.reasons.iter().any(|r| r.contains("checked out")),
        "{r2:?}"
    );
    assert_eq!(r2.occurrences, Some(2));
    let status = crate::support::git_in(&e.repo, &home, &["status", "--porcelain"]);
    assert_eq!(status, "", "the user's index shows a change");
    let c = comments();
    assert_eq!(c.len(), 1, "one pull request comment");
    let body: Value = serde_json::from_slice(&c[0].body).unwrap();
    assert!(
        body["body"].as_str().unwrap().contains("Seen 2 times"),
        "{body}"
    );

    // 2. Checked out in a linked worktree.
    crate::support::git_in(&e.repo, &home, &["checkout", "-q", "main"]);
    let linked = e._tmp.path().join("linked");
    crate::support::git_in(
        &e.repo,
        &home,
        &["worktree", "add", "-q", linked.to_str().unwrap(), &branch],
    );
    let r3 = run("ev3");
    assert_eq!(
        tip_of(&e.repo, &branch),
        created,
        "branch of a worktree moved"
    );
    assert_eq!(r3.occurrences, Some(3));
    assert_eq!(comments().len(), 2);
    let status = crate::support::git_in(&linked, &home, &["status", "--porcelain"]);
    assert_eq!(status, "");

    // 3. Checked out nowhere: the note is rewritten on the branch again.
    crate::support::git_in(
        &e.repo,
        &home,
        &["worktree", "remove", "--force", linked.to_str().unwrap()],
    );
    let r4 = run("ev4");
    pool.shutdown();
    assert_ne!(tip_of(&e.repo, &branch), created);
    assert_eq!(
        r4.commit.as_deref(),
        Some(tip_of(&e.repo, &branch).as_str())
    );
    let note = file_at(&e.repo, &branch, "repro/sentry-120.md");
    assert!(note.contains("Seen 4 times"), "{note}");
    assert_eq!(
        comments().len(),
        2,
        "no comment when the note could be written"
    );
}

#[test]
fn jobs_repeat_alerts_inside_the_interval_rewrite_the_note_once_and_count_in_the_store() {
    let e = env();
    let mut cfg = test_cfg(&e.state);
    cfg.note_interval_secs = 3600;
    let jobs = Jobs::open(cfg).unwrap();
    let mut pool = jobs.start_workers();
    let first = accept_event(&jobs, &e.repo, "121", "ev0");
    let r1 = wait_terminal(&jobs, &[first], Duration::from_secs(30)).remove(0);
    let branch = r1.branch.clone().unwrap();
    let ids: Vec<String> = (1..=30)
        .map(|i| accept_event(&jobs, &e.repo, "121", &format!("ev{i}")))
        .collect();
    let recs = wait_terminal(&jobs, &ids, Duration::from_secs(120));
    pool.shutdown();
    assert!(recs.iter().all(|r| r.state == JobState::Done), "{recs:#?}");
    let r = Repository::open(&e.repo).unwrap();
    let mut walk = r.revwalk().unwrap();
    walk.push(r.refname_to_id(&format!("refs/heads/{branch}")).unwrap())
        .unwrap();
    walk.hide(git2::Oid::from_str(r1.commit.as_deref().unwrap()).unwrap())
        .unwrap();
    assert_eq!(
        walk.count(),
        1,
        "30 repeats inside the interval: one note commit"
    );
    let rec = jobs.job(&r1.id).unwrap().unwrap();
    assert_eq!(rec.occurrences, Some(31));
    assert!(
        rec.last_seen.is_some() && rec.note_updated_at.is_some(),
        "{rec:?}"
    );
    let skipped = recs
        .iter()
        .filter(|r| r.reasons.iter().any(|x| x.contains("at most every 3600 s")))
        .count();
    assert_eq!(skipped, 29, "{recs:#?}");
    let note = file_at(&e.repo, &branch, "repro/sentry-121.md");
    assert!(note.contains("Seen 2 times"), "{note}");
}

#[test]
fn jobs_raw_body_is_dropped_when_done_and_rows_are_deleted_after_the_retention() {
    let e = env();
    let mut cfg = test_cfg(&e.state);
    cfg.job_retention_days = 30;
    let jobs = Jobs::open(cfg.clone()).unwrap();
    let mut pool = jobs.start_workers();
    let id = accept_event(&jobs, &e.repo, "122", "ev1");
    let pending = accept_event(&jobs, &e.repo, "123", "ev1");
    assert!(jobs.job(&pending).unwrap().unwrap().body_stored);
    let recs = wait_terminal(
        &jobs,
        &[id.clone(), pending.clone()],
        Duration::from_secs(30),
    );
    pool.shutdown();
    assert!(recs
        .iter()
        .all(|r| r.state == JobState::Done && !r.body_stored));
    let num: i64 = id.parse().unwrap();
    assert_eq!(jobs.store().raw_body_len(num).unwrap(), Some(0));
    let db = rusqlite::Connection::open(e.state.join("state.db")).unwrap();
    let alert: String = db
        .query_row("SELECT alert_json FROM jobs WHERE id = ?1", [num], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(alert.contains("\"issue_id\":\"122\""), "{alert}");
    assert!(
        !alert.contains("division by zero\",\"stacktrace") && !alert.contains("vars"),
        "{alert}"
    );
    assert!(!alert.contains("return a / b"), "{alert}");

    // Inside the retention (and its one-day floor) nothing goes; a re-delivery is a duplicate.
    let day = 24 * 3600 * 1000_i64;
    let back = |id: i64, ms: i64| {
        db.execute(
            "UPDATE jobs SET finished_at = finished_at - ?2 WHERE id = ?1",
            rusqlite::params![id, ms],
        )
        .unwrap();
    };
    back(num, 29 * day);
    assert_eq!(jobs.apply_retention().unwrap(), 0);
    assert_eq!(
        accept_event(&jobs, &e.repo, "122", "ev1"),
        id,
        "deduplicated"
    );
    // Past it, the row is deleted; the issue still counts (the next alert is an occurrence).
    back(num, 2 * day);
    assert_eq!(jobs.apply_retention().unwrap(), 1);
    assert!(jobs.job(&id).unwrap().is_none());
    assert!(jobs.job(&pending).unwrap().is_some());
    let mut pool = jobs.start_workers();
    let again = accept_event(&jobs, &e.repo, "122", "ev9");
    let r = wait_terminal(&jobs, &[again], Duration::from_secs(30)).remove(0);
    pool.shutdown();
    assert_eq!(r.kind.as_deref(), Some("occurrence"), "{r:?}");
    assert_eq!(r.occurrences, Some(2));
    // A retention of 0 days would drop dedup keys at once: refused, naming the variable.
    let err = JobsConfig::from_lookup(|k| {
        (k == "SENTRY_REPRO_JOB_RETENTION_DAYS").then(|| "0".to_string())
    })
    .unwrap_err();
    assert!(
        format!("{err:#}").contains("SENTRY_REPRO_JOB_RETENTION_DAYS"),
        "{err:#}"
    );
    let c = JobsConfig::from_lookup(|k| {
        (k == "SENTRY_REPRO_NOTE_INTERVAL_SECS").then(|| "60".to_string())
    })
    .unwrap();
    assert_eq!((c.note_interval_secs, c.job_retention_days), (60, 30));
}

#[test]
fn jobs_cli_lists_shows_and_retries_a_failed_job() {
    let e = env();
    let mut cfg = test_cfg(&e.state);
    cfg.max_attempts = 2;
    let jobs = Jobs::open(cfg).unwrap();
    let mut pool = jobs.start_workers();
    let lock = lock_claim_ref(&e.repo, "124");
    let id = accept_event(&jobs, &e.repo, "124", "ev1");
    let r = wait_terminal(&jobs, std::slice::from_ref(&id), Duration::from_secs(30)).remove(0);
    assert_eq!(r.state, JobState::Failed, "{r:?}");
    let state = e.state.to_str().unwrap();

    // The service holds the state folder's lock; the commands work beside it.
    let (code, out, err) = run_bin(&["jobs", "list", "--state-dir", state, "--json"], &[]);
    assert_eq!(code, 0, "{err}");
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["state"], "failed");
    let (code, out, _) = run_bin(
        &["jobs", "list", "--state-dir", state, "--state", "done"],
        &[],
    );
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 1, "header only: {out}");
    let (code, out, _) = run_bin(&["jobs", "show", &id, "--state-dir", state], &[]);
    assert_eq!(code, 0);
    assert!(
        out.contains("\"state\": \"failed\"") && out.contains("lock"),
        "{out}"
    );
    let (code, out, _) = run_bin(&["jobs", "show", "999", "--state-dir", state], &[]);
    assert_eq!(code, 1, "{out}");

    // Retry: it runs again in the running service and succeeds now that the lock is gone.
    std::fs::remove_file(&lock).unwrap();
    let (code, out, err) = run_bin(&["jobs", "retry", &id, "--state-dir", state], &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("queued again"), "{out}");
    let r = wait_terminal(&jobs, std::slice::from_ref(&id), Duration::from_secs(30)).remove(0);
    pool.shutdown();
    assert_eq!(r.state, JobState::Done, "{r:?}");
    assert_eq!(r.attempts, 1, "a fresh attempt budget");
    // Its body was dropped when it failed: it ran again from the issue's identity.
    assert!(
        r.reasons.iter().any(|x| x.contains("SENTRY_AUTH_TOKEN")),
        "{r:?}"
    );
    assert_eq!(branches(&e.repo, "124").len(), 1);
    // A done job is not retried.
    let (code, out, _) = run_bin(&["jobs", "retry", &id, "--state-dir", state], &[]);
    assert_eq!(code, 1);
    assert!(out.contains("only failed or ignored"), "{out}");
    let (code, _, err) = run_bin(&["jobs", "list", "--state-dir", "/nonexistent/x"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("no job store"), "{err}");
}

/// A commit on top of `parent` (or the tip of `main`) as branch `name`.
fn commit_branch(r: &Repository, name: &str, parent: git2::Oid, file: &str) -> git2::Oid {
    let sig = Signature::now("Test", "test@example.com").unwrap();
    let parent = r.find_commit(parent).unwrap();
    let mut tb = r.treebuilder(Some(&parent.tree().unwrap())).unwrap();
    tb.insert(file, r.blob(file.as_bytes()).unwrap(), 0o100644)
        .unwrap();
    let tree = r.find_tree(tb.write().unwrap()).unwrap();
    let oid = r.commit(None, &sig, &sig, file, &tree, &[&parent]).unwrap();
    r.reference(&format!("refs/heads/{name}"), oid, true, "test")
        .unwrap();
    oid
}

#[test]
fn jobs_prune_dry_run_then_apply_deletes_merged_branches_only() {
    let e = env();
    let home = e._tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let r = Repository::open(&e.repo).unwrap();
    let main0 = r.refname_to_id("refs/heads/main").unwrap();
    let merged = "fix/sentry-301-20231114T221320Z";
    let merged_busy = "fix/sentry-302-20231114T221320Z";
    let open = "fix/sentry-303-20991114T221320Z";
    let resolved = "fix/sentry-304-20991114T221320Z";
    let a = commit_branch(&r, merged, main0, "a.txt");
    let b = commit_branch(&r, merged_busy, a, "b.txt");
    commit_branch(&r, open, main0, "c.txt");
    commit_branch(&r, resolved, main0, "d.txt");
    // main merged both (fast-forward past them).
    commit_branch(&r, "main", b, "e.txt");
    r.reference("refs/tags/sentry-repro/301", a, false, "pin")
        .unwrap();
    crate::support::git_in(&e.repo, &home, &["reset", "-q", "--hard"]);
    let linked = e._tmp.path().join("linked");
    crate::support::git_in(
        &e.repo,
        &home,
        &[
            "worktree",
            "add",
            "-q",
            linked.to_str().unwrap(),
            merged_busy,
        ],
    );
    let repo = e.repo.to_str().unwrap();
    let exists = |b: &str| r.find_branch(b, git2::BranchType::Local).is_ok();

    let (code, out, err) = run_bin(&["prune", "--repo", repo], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("would delete: {merged} (merged into main)")),
        "{out}"
    );
    assert!(
        out.contains(&format!("kept (checked out in a work tree): {merged_busy}")),
        "{out}"
    );
    assert!(
        !out.contains(open) && out.contains("nothing deleted"),
        "{out}"
    );
    assert!(exists(merged) && exists(merged_busy) && exists(open));

    let (code, out, err) = run_bin(&["prune", "--repo", repo, "--apply", "--json"], &[]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2, "{v}");
    assert!(!exists(merged), "merged branch deleted");
    assert!(
        r.find_reference("refs/tags/sentry-repro/301").is_err(),
        "pin tag deleted"
    );
    assert!(exists(merged_busy), "checked-out branch kept");
    assert!(exists(open) && exists(resolved), "unmerged branches kept");

    // With a Sentry token: the resolved issue's branch goes, the unresolved one stays.
    let sentry = FakeServer::start(|req| match req.path.as_str() {
        "/api/0/organizations/acme/issues/304/" => (200, json!({"status": "resolved"}).to_string()),
        "/api/0/organizations/acme/issues/303/" => {
            (200, json!({"status": "unresolved"}).to_string())
        }
        _ => (404, "{}".into()),
    });
    let env = [
        ("SENTRY_AUTH_TOKEN", "sntrys_test"),
        ("SENTRY_URL", sentry.url.as_str()),
        ("SENTRY_ORG", "acme"),
    ];
    let (code, out, err) = run_bin(&["prune", "--repo", repo, "--apply"], &env);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("deleted: {resolved} (Sentry issue resolved)")),
        "{out}"
    );
    assert!(!exists(resolved) && exists(open));
    assert!(
        err.contains("302") && err.contains("404"),
        "lookup failures are warnings: {err}"
    );
    assert!(sentry
        .requests()
        .iter()
        .all(|q| q.headers.get("authorization").map(String::as_str) == Some("Bearer sntrys_test")));
    // Age: the 2023 branch is past 30 days but checked out; the 2099 one is not old.
    let (_, out, _) = run_bin(&["prune", "--repo", repo, "--older-than", "30"], &[]);
    assert!(
        out.contains(merged_busy) && out.contains("older than 30 days") && !out.contains(open),
        "{out}"
    );
}
