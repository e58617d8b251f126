//! The worker pool: threads that take due jobs from the store and run them to a terminal state.
//!
//! git2 work is blocking, so workers are plain OS threads, never tasks on the async runtime. A job runs
//! as idempotent steps, each recorded before the next: generate (or record an occurrence) → push →
//! handoff POST → draft pull request. A retry resumes after the last recorded step; a re-run after a
//! crash recognizes what the killed run already wrote to git (the claim ref, a commit carrying its
//! `Sentry-Repro-Job` trailer or its event id) and adopts it instead of writing it twice.
//!
//! Two jobs of one issue never run at once (the store's claim skips issues with a running job), so
//! the second alert of an issue always sees the first one's branch and becomes an occurrence.
//!
//! Occurrence rules ([`occurrence_note`]):
//! * the store always counts it (count, last seen, last event);
//! * the handoff note is rewritten (one commit) only when the last rewrite is older than
//!   `note_interval_secs`, so a burst of repeats adds at most one commit per interval;
//! * a branch checked out in any work tree is never moved: the occurrence then goes to the pull
//!   request as a comment (when one exists, same interval), else to the store only.

use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use git2::Repository;
use serde::Serialize;
use serde_json::Value;

use super::handoff::{self, HandoffPayload};
use super::note;
use super::push;
use super::retry::{self, Ignore};
use super::sentry_api;
use super::store::{now_ms, IssueRow, JobRow, JobState, Progress};
use super::Jobs;
use crate::alert::Alert;
use crate::config::ProjectConfig;
use crate::git;
use crate::pipeline::{self, GenerateOptions};
use crate::render;

/// Running worker threads. [`WorkerPool::shutdown`] stops them.
pub struct WorkerPool {
    jobs: Arc<Jobs>,
    stop: Arc<AtomicBool>,
    running: Arc<Mutex<HashSet<i64>>>,
    handles: Vec<JoinHandle<()>>,
}

/// What shutdown did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Workers that stopped within the grace period.
    pub stopped: usize,
    /// Jobs still running at the deadline, put back in the queue.
    pub requeued: Vec<i64>,
}

impl WorkerPool {
    pub fn start(jobs: Arc<Jobs>) -> WorkerPool {
        let stop = Arc::new(AtomicBool::new(false));
        let running = Arc::new(Mutex::new(HashSet::new()));
        let n = jobs.cfg.workers.max(1);
        let handles = (0..n)
            .map(|i| {
                let (jobs, stop, running) = (jobs.clone(), stop.clone(), running.clone());
                std::thread::Builder::new()
                    .name(format!("sentry-repro-worker-{i}"))
                    .spawn(move || worker_loop(&jobs, &stop, &running))
                    .expect("spawning a worker thread")
            })
            .collect();
        tracing::info!(workers = n, "job workers started");
        WorkerPool {
            jobs,
            stop,
            running,
            handles,
        }
    }

    /// Stop taking jobs; wait up to the configured grace for running jobs to finish; requeue the
    /// rest (a later start runs them again). Idempotent.
    pub fn shutdown(&mut self) -> ShutdownReport {
        self.shutdown_within(Duration::from_millis(self.jobs.cfg.shutdown_grace_ms))
    }

    pub fn shutdown_within(&mut self, grace: Duration) -> ShutdownReport {
        self.stop.store(true, Ordering::SeqCst);
        self.jobs.wake.notify();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline && self.handles.iter().any(|h| !h.is_finished()) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut report = ShutdownReport::default();
        let handles = std::mem::take(&mut self.handles);
        for h in handles {
            if h.is_finished() {
                let _ = h.join();
                report.stopped += 1;
            }
        }
        let ids: Vec<i64> = self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .copied()
            .collect();
        for id in ids {
            match self.jobs.store.requeue(id) {
                Ok(true) => report.requeued.push(id),
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(job = id, error = %format!("{e:#}"), "could not requeue at shutdown")
                }
            }
        }
        tracing::info!(stopped = report.stopped, requeued = ?report.requeued, "job workers stopped");
        report
    }
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        if !self.handles.is_empty() {
            self.stop.store(true, Ordering::SeqCst);
            self.jobs.wake.notify();
        }
    }
}

/// At start: remove ref locks of ours a killed process left behind, then requeue `running` jobs.
pub(crate) fn recover(jobs: &Jobs) -> Result<()> {
    for repo in jobs.store.pending_repos()? {
        remove_stale_locks(Path::new(&repo));
    }
    let (requeued, failed) = jobs.store.requeue_running(jobs.cfg.max_attempts)?;
    if requeued + failed > 0 {
        tracing::warn!(
            requeued,
            failed,
            "jobs interrupted by a previous run were recovered"
        );
    }
    Ok(())
}

/// Lock files under our own ref namespaces (`refs/sentry-repro/`, `refs/heads/fix/sentry-*`) and
/// their reflogs. Only called at start, while this process is the only writer of those refs.
fn remove_stale_locks(repo: &Path) {
    let Ok(r) = Repository::open(repo) else {
        return;
    };
    let gitdir = r.path().to_path_buf();
    for sub in [
        "refs/sentry-repro",
        "refs/heads/fix",
        "logs/refs/sentry-repro",
        "logs/refs/heads/fix",
    ] {
        let dir = gitdir.join(sub);
        if !dir.is_dir() {
            continue;
        }
        for entry in walkdir::WalkDir::new(&dir).into_iter().flatten() {
            let name = entry.file_name().to_string_lossy();
            let ours = sub.ends_with("sentry-repro") || name.starts_with("sentry-");
            if entry.file_type().is_file() && name.ends_with(".lock") && ours {
                match std::fs::remove_file(entry.path()) {
                    Ok(()) => {
                        tracing::warn!(path = %entry.path().display(), "removed a stale ref lock")
                    }
                    Err(e) => {
                        tracing::error!(path = %entry.path().display(), error = %e, "cannot remove stale lock")
                    }
                }
            }
        }
    }
}

/// Lower this thread's scheduling priority (Linux: `setpriority` on the thread id affects only this
/// thread). On 2 cores the workers' generation competes with the HTTP handlers; at nice 10 a worker
/// gets about a tenth of a core's share when a handler is runnable, so answering (bounded, cheap)
/// comes first and jobs (durable, asynchronous) catch up in the gaps.
fn lower_priority(nice: i32) {
    if nice <= 0 {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain syscalls on the calling thread's own id.
        let rc = unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::setpriority(libc::PRIO_PROCESS, tid, nice.min(19))
        };
        if rc != 0 {
            tracing::warn!(nice, error = %std::io::Error::last_os_error(), "could not lower the worker priority");
        }
    }
}

fn worker_loop(jobs: &Jobs, stop: &AtomicBool, running: &Mutex<HashSet<i64>>) {
    lower_priority(jobs.cfg.worker_nice);
    let poll = Duration::from_millis(jobs.cfg.poll_interval_ms.max(10));
    while !stop.load(Ordering::SeqCst) {
        let claimed = {
            // Claim and register under one lock so shutdown never misses a running job.
            let mut set = running.lock().unwrap_or_else(|e| e.into_inner());
            match jobs.store.claim() {
                Ok(Some(row)) => {
                    set.insert(row.id);
                    Some(row)
                }
                Ok(None) => None,
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "job store: claim failed");
                    None
                }
            }
        };
        match claimed {
            Some(row) => {
                let id = row.id;
                run_claimed(jobs, row);
                running
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&id);
            }
            None => {
                jobs.retention_if_due();
                let wait = match jobs.store.next_due() {
                    Ok(Some(due)) => Duration::from_millis(
                        (due - now_ms()).clamp(5, poll.as_millis() as i64) as u64,
                    ),
                    _ => poll,
                };
                jobs.wake.wait(wait);
            }
        }
    }
}

enum Outcome {
    Done { kind: String },
    Ignored(String),
}

fn run_claimed(jobs: &Jobs, row: JobRow) {
    let started = Instant::now();
    let id = row.id;
    let attempts = row.attempts;
    let created_ms = row.created_at_ms;
    let span = tracing::info_span!("job", id, attempt = attempts);
    let _g = span.enter();
    let result =
        std::panic::catch_unwind(AssertUnwindSafe(|| execute(jobs, &row))).unwrap_or_else(|p| {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(anyhow!("internal error (panic): {msg}"))
        });
    jobs.metrics.observe_attempt(started.elapsed());
    let store = &jobs.store;
    let recorded = match result {
        Ok(Outcome::Done { kind }) => {
            jobs.metrics.alert(&format!("done_{kind}"));
            tracing::info!(kind, "job done");
            store.finish(id, JobState::Done, None, None)
        }
        Ok(Outcome::Ignored(reason)) => {
            jobs.metrics.alert("ignored");
            tracing::info!(reason, "job ignored");
            store.finish(id, JobState::Ignored, Some(&reason), None)
        }
        Err(e) => {
            if let Some(Ignore(reason)) = e.downcast_ref::<Ignore>() {
                jobs.metrics.alert("ignored");
                tracing::info!(reason, "job ignored");
                store.finish(id, JobState::Ignored, Some(reason), None)
            } else {
                let msg = push::redact(&format!("{e:#}"));
                if retry::is_transient(&e) && attempts < jobs.cfg.max_attempts {
                    let delay = retry::backoff(&jobs.cfg, attempts);
                    jobs.metrics.alert("retried");
                    tracing::warn!(error = %msg, retry_in_ms = delay.as_millis() as u64, "transient failure, will retry");
                    store.retry_later(id, &msg, now_ms() + delay.as_millis() as i64)
                } else {
                    jobs.metrics.alert("failed");
                    tracing::error!(error = %msg, attempts, "job failed");
                    store.finish(id, JobState::Failed, None, Some(&msg))
                }
            }
        }
    };
    match recorded {
        Ok(true) => {
            if let Ok(Some(rec)) = store.job(&id.to_string()) {
                if rec.state.is_terminal() {
                    jobs.metrics.observe_latency(Duration::from_millis(
                        (now_ms() - created_ms).max(0) as u64,
                    ));
                }
            }
        }
        Ok(false) => {
            tracing::warn!("job was requeued while running (shutdown); result not recorded")
        }
        Err(e) => tracing::error!(error = %format!("{e:#}"), "job store: cannot record the result"),
    }
    if jobs.cfg.workers > 0 {
        jobs.wake.notify();
    }
}

/// The alert of a job: the stored model, else the raw body parsed again.
fn job_alert(row: &JobRow) -> Result<Alert> {
    if let Ok(a) = serde_json::from_str::<Alert>(&row.alert_json) {
        return Ok(a);
    }
    let v: Value = serde_json::from_slice(&row.raw_body).context("stored body is not JSON")?;
    Ok(crate::webhook::alert_from_any_json(&v))
}

fn execute(jobs: &Jobs, row: &JobRow) -> Result<Outcome> {
    let cfg = &jobs.cfg;
    let project: ProjectConfig =
        serde_json::from_str(&row.project_json).context("stored project configuration")?;
    let alert = job_alert(row)?;
    let Some(ident) = alert.ident().map(str::to_owned) else {
        return Ok(Outcome::Ignored(
            "the alert has neither an issue id nor an event id".into(),
        ));
    };
    if !git::is_safe_ident(&ident) {
        return Ok(Outcome::Ignored(format!(
            "issue id {:?} is not a plain identifier (letters, digits, - and _, at most 64)",
            render::comment(&ident)
        )));
    }
    let repo = pipeline::open_repo(&project.repo)?;
    let repo: &Repository = &repo;

    let progress = match &row.branch {
        Some(branch) => Progress {
            kind: row.kind.clone().unwrap_or_else(|| "created".into()),
            branch: branch.clone(),
            commit: row.commit.clone().unwrap_or_default(),
            strategy: row.strategy.clone().unwrap_or_default(),
            language: row.language.clone().unwrap_or_default(),
            files: row.files.clone(),
            test_command: row.test_command.clone().unwrap_or_default(),
            verify_command: verify_command(&project, branch),
            reasons: row.reasons.clone(),
            event_id: row.event_id.clone(),
            note_updated: false,
        },
        None => {
            let p = produce(jobs, row, repo, &project, alert.clone(), &ident)?;
            if !jobs
                .store
                .save_progress(row.id, row.issue_key.as_deref(), &p)?
            {
                return Err(anyhow!("job was requeued while running"));
            }
            p
        }
    };

    let mut pushed = row.pushed;
    if let Some(remote) = &project.remote {
        if !pushed {
            push::push_branch(repo, remote, &progress.branch, cfg)?;
            jobs.store.set_pushed(row.id)?;
            pushed = true;
            tracing::info!(branch = %progress.branch, remote = %push::redact(remote), "branch pushed");
        }
    }

    if progress.kind == "created" {
        let mut payload = HandoffPayload {
            job_id: row.id.to_string(),
            issue_id: alert.issue_id.clone(),
            short_id: alert.short_id.clone(),
            title: alert.title.clone(),
            sentry_url: alert.web_url.clone(),
            repository: project.repo.display().to_string(),
            branch: progress.branch.clone(),
            commit: progress.commit.clone(),
            files: progress.files.clone(),
            strategy: progress.strategy.clone(),
            language: progress.language.clone(),
            test_command: progress.test_command.clone(),
            verify_command: progress.verify_command.clone(),
            pushed,
            pull_request: row.pull_request.clone(),
            reasons: progress.reasons.clone(),
        };
        if let (Some(gh), true, None) = (&cfg.github, pushed, &row.pull_request) {
            let base = base_branch_name(repo, &project);
            match handoff::open_draft_pr(cfg, gh, &progress.branch, &base, &payload) {
                Ok(url) => {
                    jobs.store.set_pull_request(row.id, &url)?;
                    payload.pull_request = Some(url);
                }
                Err(e) if retry::is_transient(&e) && row.attempts < cfg.max_attempts => {
                    return Err(e)
                }
                Err(e) => jobs
                    .store
                    .add_warning(row.id, &format!("draft pull request: {e:#}"))?,
            }
        }
        if let (Some(url), None) = (&cfg.handoff_url, &row.handoff) {
            match handoff::post(cfg, url, &payload) {
                Ok(status) => jobs.store.set_handoff(row.id, &status)?,
                Err(e) if retry::is_transient(&e) && row.attempts < cfg.max_attempts => {
                    return Err(e)
                }
                Err(e) => {
                    let msg = push::redact(&format!("{e:#}"));
                    jobs.store.set_handoff(row.id, &format!("failed: {msg}"))?;
                    jobs.store.add_warning(row.id, &format!("handoff: {msg}"))?;
                }
            }
        }
    }
    Ok(Outcome::Done {
        kind: progress.kind,
    })
}

/// The pull request's base: the same branch generation built on (`pipeline::base_name`), without the
/// remote's prefix (GitHub names branches of its own repository).
fn base_branch_name(repo: &Repository, project: &ProjectConfig) -> String {
    let name = crate::pipeline::base_name(repo, project, None).unwrap_or_else(|_| "main".into());
    match name.split_once('/') {
        Some((remote, rest)) if repo.find_remote(remote).is_ok() => rest.to_string(),
        _ => name,
    }
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:@=+".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn verify_command(project: &ProjectConfig, branch: &str) -> String {
    format!(
        "sentry-repro verify --repo {} --head {}",
        shell_quote(&project.repo.display().to_string()),
        shell_quote(branch)
    )
}

fn job_trailer(id: i64) -> String {
    format!("Sentry-Repro-Job: {id}")
}

/// Generate the branch, or record an occurrence on the issue's existing branch.
fn produce(
    jobs: &Jobs,
    row: &JobRow,
    repo: &Repository,
    project: &ProjectConfig,
    alert: Alert,
    ident: &str,
) -> Result<Progress> {
    let existing = git::existing_branch(repo, ident);
    if let Some((branch, tip)) = existing {
        return on_existing(jobs, row, repo, project, &alert, ident, branch, tip);
    }
    let cfg = &jobs.cfg;
    let mut alert = alert;
    let mut extra_reasons = Vec::new();
    let mut configure_hint = None;
    if sentry_api::needs_event(&alert) {
        match sentry_api::fetch_latest_event(cfg, &alert, &row.raw_body) {
            Ok(Some(ev)) => {
                alert = sentry_api::merge(&alert, &ev);
                extra_reasons.push("issue alert: generated from the issue's latest event, fetched from the Sentry API".into());
            }
            Ok(None) => {
                extra_reasons.push(sentry_api::NO_TOKEN_HINT.to_string());
                configure_hint = Some(sentry_api::NO_TOKEN_HINT.to_string());
            }
            Err(e) if retry::is_transient(&e) && row.attempts < cfg.max_attempts => return Err(e),
            Err(e) => {
                let msg = format!(
                    "fetching the issue's latest event failed ({}); generated from the issue summary only",
                    push::redact(&format!("{e:#}"))
                );
                extra_reasons.push(msg.clone());
                configure_hint = Some(msg);
            }
        }
    }
    let g = pipeline::generate(&alert, project, &GenerateOptions::default())?;
    let (Some(branch), Some(commit)) = (g.branch.clone(), g.commit.clone()) else {
        return Err(anyhow!("generation produced no branch"));
    };
    if !g.created {
        // Another process created it between our check and our claim: treat as existing.
        let tip = git2::Oid::from_str(&commit)?;
        return on_existing(jobs, row, repo, project, &alert, ident, branch, tip);
    }
    let mut commit = commit;
    if let Some(hint) = configure_hint {
        let note_path = note_path(project, ident);
        let oid = note::commit_section(
            repo,
            &branch,
            &note_path,
            "configure",
            |_| note::configure_body(&hint),
            (&project.author_name, &project.author_email),
            &format!(
                "docs: how to get a real reproduction of Sentry {ident}\n\n{}\n\n{}\n",
                render::comment(&hint),
                job_trailer(row.id)
            ),
        )?;
        commit = oid.to_string();
    }
    let mut reasons = g.reasons.clone();
    reasons.extend(extra_reasons);
    Ok(Progress {
        kind: "created".into(),
        verify_command: verify_command(project, &branch),
        branch,
        commit,
        strategy: g.strategy,
        language: g.language,
        files: g.files,
        test_command: g.test_command,
        reasons,
        event_id: alert.event_id.clone(),
        note_updated: false,
    })
}

fn note_path(project: &ProjectConfig, ident: &str) -> String {
    format!(
        "{}/sentry-{ident}.md",
        project.repro_dir.trim_end_matches('/')
    )
}

/// Whether the branch already holds this job's work: a commit with its trailer, or the commit
/// pipeline wrote for this very event.
fn branch_has_job(repo: &Repository, tip: git2::Oid, job_id: i64, event_id: Option<&str>) -> bool {
    let trailer = job_trailer(job_id);
    let event_line = event_id.map(|e| format!("Sentry-Event: {}", render::comment(e)));
    let Ok(mut walk) = repo.revwalk() else {
        return false;
    };
    if walk.push(tip).is_err() {
        return false;
    }
    let _ = walk.simplify_first_parent();
    for oid in walk.flatten().take(500) {
        let Ok(c) = repo.find_commit(oid) else {
            continue;
        };
        let msg = c.message().unwrap_or("");
        if msg
            .lines()
            .any(|l| l == trailer || Some(l) == event_line.as_deref())
        {
            return true;
        }
        if !msg.contains("Sentry-Issue:") && !msg.contains("Sentry-Repro-Job:") {
            // Reached the base commit: nothing of ours below.
            break;
        }
    }
    false
}

#[allow(clippy::too_many_arguments)]
fn on_existing(
    jobs: &Jobs,
    row: &JobRow,
    repo: &Repository,
    project: &ProjectConfig,
    alert: &Alert,
    ident: &str,
    branch: String,
    tip: git2::Oid,
) -> Result<Progress> {
    let issue_row = match &row.issue_key {
        Some(k) => jobs.store.issue(k)?,
        None => None,
    };
    let mut branch = branch;
    let mut tip = tip;
    if branch.starts_with("(claimed") {
        if issue_row.is_some() {
            return Err(Ignore(format!(
                "issue {ident} already had a branch, which was deleted; delete the ref {} to generate again",
                git::claim_ref(ident)
            ))
            .into());
        }
        // A run was killed between the claim and the branch: create the branch on the claimed commit.
        let claimed = repo.find_commit(tip)?;
        let when = chrono::DateTime::from_timestamp(claimed.time().seconds(), 0)
            .unwrap_or_else(chrono::Utc::now);
        branch = git::branch_name(ident, when)?;
        match repo.reference(
            &format!("refs/heads/{branch}"),
            tip,
            false,
            "sentry-repro: recover claimed branch",
        ) {
            Ok(_) => {}
            Err(e) if e.code() == git2::ErrorCode::Exists => {}
            Err(e) => return Err(e).context("recreating the claimed branch"),
        }
        tracing::warn!(branch, "recovered a branch whose creation was interrupted");
        tip = repo.refname_to_id(&format!("refs/heads/{branch}"))?;
    }
    let ours = branch_has_job(repo, tip, row.id, alert.event_id.as_deref());
    let (kind, commit, note_updated, occurrence_reason) = match (&issue_row, ours) {
        (None, true) => ("created", tip, false, None),
        (None, false) => ("adopted", tip, false, None),
        (Some(_), true) => ("occurrence", tip, true, None),
        (Some(issue), false) => {
            let (oid, updated, why) =
                occurrence_note(jobs, row, repo, project, alert, ident, &branch, issue)?;
            ("occurrence", oid.unwrap_or(tip), updated, Some(why))
        }
    };
    let info = contract_info(repo, &branch, project, ident);
    Ok(Progress {
        kind: kind.into(),
        verify_command: verify_command(project, &branch),
        branch,
        commit: commit.to_string(),
        strategy: info.strategy,
        language: info.language,
        files: info.files,
        test_command: info.test_command,
        reasons: occurrence_reason.into_iter().collect(),
        event_id: alert.event_id.clone(),
        note_updated,
    })
}

/// Record an occurrence on the issue's branch, within the rules in the module doc. Returns the
/// new commit (if the note was rewritten), whether the note or the pull request was updated, and
/// the reason shown on the job.
#[allow(clippy::too_many_arguments)]
fn occurrence_note(
    jobs: &Jobs,
    row: &JobRow,
    repo: &Repository,
    project: &ProjectConfig,
    alert: &Alert,
    ident: &str,
    branch: &str,
    issue: &IssueRow,
) -> Result<(Option<git2::Oid>, bool, String)> {
    let now = now_ms();
    let interval_ms = jobs.cfg.note_interval_secs.saturating_mul(1000) as i64;
    let due = issue.note_at_ms.is_none_or(|t| now - t >= interval_ms);
    let count = issue.count + 1;
    if !due {
        return Ok((
            None,
            false,
            format!(
                "issue {ident} already has this branch: occurrence {count} counted in the store \
                 (the note is rewritten at most every {} s)",
                jobs.cfg.note_interval_secs
            ),
        ));
    }
    let fmt = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_default()
    };
    let (first, last) = (fmt(issue.first_seen_ms), fmt(now));
    let id = row.id.to_string();
    let occ = note::Occurrence {
        count,
        first_seen: &first,
        last_seen: &last,
        event_id: alert.event_id.as_deref(),
        job_id: &id,
    };
    let message = format!(
        "docs: Sentry {ident} seen again ({count} alerts)\n\n{}{}\n",
        alert
            .event_id
            .as_deref()
            .map(|e| format!("Sentry-Event: {}\n", render::comment(e)))
            .unwrap_or_default(),
        job_trailer(row.id)
    );
    let written = note::commit_section(
        repo,
        branch,
        &note_path(project, ident),
        "occurrences",
        |prev| note::occurrences_body(prev, &occ),
        (&project.author_name, &project.author_email),
        &message,
    );
    match written {
        Ok(oid) => Ok((
            Some(oid),
            true,
            format!(
                "issue {ident} already has this branch: occurrence recorded in the handoff note"
            ),
        )),
        Err(e) if e.downcast_ref::<git::CheckedOut>().is_some() => {
            let told = comment_on_pull_request(jobs, row, &note::occurrences_body(None, &occ))?;
            Ok((
                None,
                told,
                format!(
                    "branch {branch} is checked out in a work tree, so it was left alone: \
                     occurrence {count} counted in the store{}",
                    if told {
                        " and commented on the pull request"
                    } else {
                        ""
                    }
                ),
            ))
        }
        Err(e) => Err(e),
    }
}

/// Comment on the issue's pull request, when GitHub is configured and one was opened. A failure
/// is a warning on the job, never a retry (the store already has the occurrence).
fn comment_on_pull_request(jobs: &Jobs, row: &JobRow, body: &str) -> Result<bool> {
    let (Some(gh), Some(key)) = (&jobs.cfg.github, &row.issue_key) else {
        return Ok(false);
    };
    let Some(pr) = jobs.store.issue_pull_request(key)? else {
        return Ok(false);
    };
    match handoff::comment_on_pr(&jobs.cfg, gh, &pr, body) {
        Ok(()) => Ok(true),
        Err(e) => {
            let msg = push::redact(&format!("{e:#}"));
            jobs.store
                .add_warning(row.id, &format!("pull request comment: {msg}"))?;
            Ok(false)
        }
    }
}

#[derive(Default)]
struct ContractInfo {
    strategy: String,
    language: String,
    files: Vec<String>,
    test_command: String,
}

/// Strategy, language, files and command of an existing branch, from its contract.
fn contract_info(
    repo: &Repository,
    branch: &str,
    project: &ProjectConfig,
    ident: &str,
) -> ContractInfo {
    let dir = project.repro_dir.trim_end_matches('/');
    let path = crate::contract::Contract::path_for(dir, ident);
    let Ok(text) = note::read_at_branch(repo, branch, &path) else {
        return ContractInfo::default();
    };
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let mut files: Vec<String> = v
        .get("test_files")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    files.push(path.clone());
    files.push(note_path(project, ident));
    ContractInfo {
        strategy: s("strategy"),
        language: s("language"),
        files,
        test_command: s("test_command"),
    }
}
