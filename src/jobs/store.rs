//! The embedded store: one SQLite file (WAL) in the state folder.
//!
//! Two connections: a writer behind a mutex (the request path's insert, the workers' claims and
//! updates; each is a short transaction, so a request waits at most a few milliseconds) and a reader
//! for the status page and metrics (WAL lets it read while the writer writes). Every state change is
//! one transaction, and a worker's update only applies while the job is still `running` in its hands
//! (a shutdown that requeued it wins).
//!
//! Tables: `jobs` (one row per distinct delivery: raw body, identity, project, state, result) and
//! `issues` (one row per issue with a branch: branch, occurrence count, last seen, last event, when
//! the handoff note was last rewritten).
//!
//! Bounded growth:
//! * A job's raw body and parsed alert (stack variables, request data: personal data) are dropped
//!   in the transaction that makes the job terminal; only its identity stays ([`identity_only`]).
//! * Terminal rows are deleted after the retention ([`Store::delete_finished_before`]). Their dedup
//!   keys go with them, so the retention has a floor far above the window in which Sentry
//!   re-delivers (and the signed timestamp window): a re-delivery is still a duplicate.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use anyhow::{Context, Result};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

use super::dedup::NewJob;
use super::Durability;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Queued,
    Running,
    Done,
    Ignored,
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Ignored => "ignored",
            JobState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> JobState {
        match s {
            "running" => JobState::Running,
            "done" => JobState::Done,
            "ignored" => JobState::Ignored,
            "failed" => JobState::Failed,
            _ => JobState::Queued,
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, JobState::Done | JobState::Ignored | JobState::Failed)
    }

    pub const ALL: [JobState; 5] = [
        JobState::Queued,
        JobState::Running,
        JobState::Done,
        JobState::Ignored,
        JobState::Failed,
    ];
}

/// A job as shown to people and tools (`GET /jobs/{id}`, the status page). No raw body.
#[derive(Debug, Clone, Serialize)]
pub struct JobRecord {
    pub id: String,
    pub state: JobState,
    pub resource: String,
    pub action: String,
    pub issue_id: Option<String>,
    pub event_id: Option<String>,
    pub short_id: Option<String>,
    pub title: Option<String>,
    /// `Request-ID` of the first delivery.
    pub request_id: Option<String>,
    /// Deliveries of this identity (1 + Sentry retries).
    pub deliveries: u32,
    pub repo: String,
    pub created_at: String,
    pub updated_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub attempts: u32,
    pub next_attempt_at: Option<String>,
    pub duration_ms: Option<u64>,
    /// `created` (new branch), `occurrence` (commit on the issue's branch), `adopted` (branch found).
    pub kind: Option<String>,
    pub branch: Option<String>,
    pub commit: Option<String>,
    pub strategy: Option<String>,
    pub language: Option<String>,
    pub files: Vec<String>,
    pub test_command: Option<String>,
    pub verify_command: Option<String>,
    pub reasons: Vec<String>,
    pub pushed: bool,
    pub handoff: Option<String>,
    pub pull_request: Option<String>,
    /// Why the job was ignored.
    pub reason: Option<String>,
    /// Last error (kept after a retry succeeds, cleared only by success of the whole job).
    pub error: Option<String>,
    pub warnings: Vec<String>,
    /// Alerts of this job's issue so far (the store's count, whatever the note says).
    pub occurrences: Option<u32>,
    /// When the issue was last alerted.
    pub last_seen: Option<String>,
    /// When the issue's handoff note was last rewritten for an occurrence (none: never).
    pub note_updated_at: Option<String>,
    /// Whether the raw body is still stored (it is dropped once the job is terminal).
    pub body_stored: bool,
}

/// A job as the worker needs it.
#[derive(Debug, Clone)]
pub struct JobRow {
    pub id: i64,
    pub attempts: u32,
    pub resource: String,
    pub action: String,
    pub issue_key: Option<String>,
    pub event_id: Option<String>,
    pub project_json: String,
    pub alert_json: String,
    pub raw_body: Vec<u8>,
    pub branch: Option<String>,
    pub commit: Option<String>,
    pub kind: Option<String>,
    pub strategy: Option<String>,
    pub language: Option<String>,
    pub files: Vec<String>,
    pub test_command: Option<String>,
    pub reasons: Vec<String>,
    pub pushed: bool,
    pub handoff: Option<String>,
    pub pull_request: Option<String>,
    pub started_at_ms: Option<i64>,
    pub created_at_ms: i64,
}

/// What generation produced, saved before push and handoff so a retry does not generate again.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    pub kind: String,
    pub branch: String,
    pub commit: String,
    pub strategy: String,
    pub language: String,
    pub files: Vec<String>,
    pub test_command: String,
    pub verify_command: String,
    pub reasons: Vec<String>,
    pub event_id: Option<String>,
    /// This job rewrote the issue's note (or told the pull request) for an occurrence.
    pub note_updated: bool,
}

/// The per-issue record.
#[derive(Debug, Clone, Serialize)]
pub struct IssueRow {
    pub issue_key: String,
    pub branch: String,
    pub count: u32,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    pub last_event_id: Option<String>,
    /// Last occurrence rewrite of the handoff note (ms), none before the first.
    pub note_at_ms: Option<i64>,
}

pub struct Store {
    /// Whether the request path's inserts sync to disk before returning (`Durability::Full`).
    full: bool,
    write: Mutex<Connection>,
    read: Mutex<Connection>,
    group: Mutex<Group>,
    group_cv: Condvar,
}

/// Group commit of the request path's inserts: concurrent callers queue their job; one of them (the
/// leader) writes the whole queue in one transaction (one fsync) while the others wait for their
/// result. Under load the cost of durability is shared instead of serialized.
#[derive(Default)]
struct Group {
    queue: Vec<(u64, NewJob)>,
    results: HashMap<u64, Result<(i64, bool), String>>,
    leader: bool,
    next_ticket: u64,
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS jobs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    dedup_key       TEXT NOT NULL UNIQUE,
    issue_key       TEXT,
    resource        TEXT NOT NULL,
    action          TEXT NOT NULL,
    issue_id        TEXT,
    event_id        TEXT,
    request_id      TEXT,
    deliveries      INTEGER NOT NULL DEFAULT 1,
    title           TEXT,
    short_id        TEXT,
    repo            TEXT NOT NULL,
    project_json    TEXT NOT NULL,
    alert_json      TEXT NOT NULL,
    raw_body        BLOB NOT NULL,
    state           TEXT NOT NULL DEFAULT 'queued',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    started_at      INTEGER,
    finished_at     INTEGER,
    duration_ms     INTEGER,
    kind            TEXT,
    branch          TEXT,
    commit_id       TEXT,
    strategy        TEXT,
    language        TEXT,
    files_json      TEXT NOT NULL DEFAULT '[]',
    test_command    TEXT,
    verify_command  TEXT,
    reasons_json    TEXT NOT NULL DEFAULT '[]',
    pushed          INTEGER NOT NULL DEFAULT 0,
    handoff         TEXT,
    pull_request    TEXT,
    reason          TEXT,
    error           TEXT,
    warnings_json   TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS jobs_due ON jobs(state, next_attempt_at, id);
CREATE INDEX IF NOT EXISTS jobs_issue ON jobs(issue_key, state);
CREATE TABLE IF NOT EXISTS issues (
    issue_key     TEXT PRIMARY KEY,
    branch        TEXT NOT NULL,
    count         INTEGER NOT NULL,
    first_seen    INTEGER NOT NULL,
    last_seen     INTEGER NOT NULL,
    last_event_id TEXT,
    created_job   INTEGER
);
"#;

/// Columns added after the first release: (table, column, declaration).
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[("issues", "note_at", "INTEGER")];

/// Shortest retention of terminal rows, whatever the configuration says: a day, far above the
/// minutes in which Sentry re-delivers and the signed-timestamp window (10 minutes by default).
pub const MIN_RETENTION_MS: i64 = 24 * 3600 * 1000;

/// What a terminal job keeps of its alert: the identity, no stack, no variables, no request, no
/// breadcrumbs, no message. Marked as an issue notification, so a retry regenerates from the
/// issue's latest event when a Sentry token is configured.
pub fn identity_only(alert_json: &str) -> String {
    let Ok(a) = serde_json::from_str::<crate::alert::Alert>(alert_json) else {
        return "{}".into();
    };
    let kept = crate::alert::Alert {
        source: "issue".into(),
        issue_id: a.issue_id,
        short_id: a.short_id,
        title: a.title,
        culprit: a.culprit,
        level: a.level,
        platform: a.platform,
        project_id: a.project_id,
        project_slug: a.project_slug,
        environment: a.environment,
        release: a.release,
        event_id: a.event_id,
        web_url: a.web_url,
        issue_api_url: a.issue_api_url,
        event_api_url: a.event_api_url,
        metadata_type: a.metadata_type,
        metadata_value: a.metadata_value,
        ..Default::default()
    };
    serde_json::to_string(&kept).unwrap_or_else(|_| "{}".into())
}

/// Why `jobs retry` did not requeue a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryRefused {
    NotFound,
    NotFailed(JobState),
}

impl std::fmt::Display for RetryRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RetryRefused::NotFound => f.write_str("no such job"),
            RetryRefused::NotFailed(s) => write!(
                f,
                "the job is {}; only failed or ignored jobs can be retried",
                s.as_str()
            ),
        }
    }
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

fn json_list(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

fn open_conn(path: &Path, durability: Durability) -> Result<Connection> {
    let conn =
        Connection::open(path).with_context(|| format!("opening job store {}", path.display()))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(
        None,
        "synchronous",
        match durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        },
    )?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

impl Store {
    pub fn open(path: &Path, durability: Durability) -> Result<Store> {
        let write = open_conn(path, durability)?;
        write
            .execute_batch(SCHEMA)
            .context("creating the job store schema")?;
        add_missing_columns(&write)?;
        // Only the request path's inserts need a sync before returning (a 2xx promises the alert is
        // on disk). The workers' own transactions (claim, progress, finish) run at NORMAL: atomic and
        // crash safe, synced by the next insert's WAL sync (the WAL is sequential) or checkpoint, and
        // after a power loss a lost update only means the idempotent job runs again. So a worker never
        // holds the writer mutex across a disk sync that a request would then queue behind.
        write.pragma_update(None, "synchronous", "NORMAL")?;
        let read = open_conn(path, durability)?;
        Ok(Store {
            full: durability == Durability::Full,
            write: Mutex::new(write),
            read: Mutex::new(read),
            group: Mutex::new(Group::default()),
            group_cv: Condvar::new(),
        })
    }

    fn w(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.write.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn r(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.read.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Insert a new job, or return the existing job with the same identity (`duplicate = true`).
    /// Returns only after the transaction that holds it committed (group commit, see [`Group`]).
    pub fn insert_or_get(&self, job: NewJob) -> Result<(i64, bool)> {
        let lock = || self.group.lock().unwrap_or_else(|e| e.into_inner());
        let mut g = lock();
        let ticket = g.next_ticket;
        g.next_ticket += 1;
        g.queue.push((ticket, job));
        loop {
            if let Some(r) = g.results.remove(&ticket) {
                return r.map_err(|e| anyhow::anyhow!(e));
            }
            if !g.leader {
                g.leader = true;
                let batch = std::mem::take(&mut g.queue);
                drop(g);
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    self.insert_batch(&batch)
                }));
                g = lock();
                match outcome {
                    Ok(Ok(ids)) => {
                        for ((t, _), r) in batch.iter().zip(ids) {
                            g.results.insert(*t, Ok(r));
                        }
                    }
                    Ok(Err(e)) => {
                        let msg = format!("{e:#}");
                        for (t, _) in &batch {
                            g.results.insert(*t, Err(msg.clone()));
                        }
                    }
                    Err(_) => {
                        for (t, _) in &batch {
                            g.results
                                .insert(*t, Err("internal error while storing the alert".into()));
                        }
                    }
                }
                g.leader = false;
                self.group_cv.notify_all();
                continue;
            }
            g = self.group_cv.wait(g).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// One transaction for a batch of inserts; a repeated identity (in the store or earlier in the
    /// batch) gives the existing id and counts one more delivery.
    fn insert_batch(&self, batch: &[(u64, NewJob)]) -> Result<Vec<(i64, bool)>> {
        let mut conn = self.w();
        if self.full {
            conn.pragma_update(None, "synchronous", "FULL")?;
        }
        let out = Self::insert_tx(&mut conn, batch);
        if self.full {
            conn.pragma_update(None, "synchronous", "NORMAL")?;
        }
        out
    }

    fn insert_tx(conn: &mut Connection, batch: &[(u64, NewJob)]) -> Result<Vec<(i64, bool)>> {
        let tx = conn.transaction()?;
        let now = now_ms();
        let mut out = Vec::with_capacity(batch.len());
        for (_, j) in batch {
            let inserted = tx.execute(
                "INSERT INTO jobs (dedup_key, issue_key, resource, action, issue_id, event_id, request_id, title,
                    short_id, repo, project_json, alert_json, raw_body, created_at, updated_at, next_attempt_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14, 0)
                 ON CONFLICT(dedup_key) DO NOTHING",
                params![
                    j.dedup_key,
                    j.issue_key,
                    j.resource,
                    j.action,
                    j.issue_id,
                    j.event_id,
                    j.request_id,
                    j.title,
                    j.short_id,
                    j.repo,
                    j.project_json,
                    j.alert_json,
                    j.raw_body,
                    now
                ],
            )?;
            if inserted == 1 {
                out.push((tx.last_insert_rowid(), false));
            } else {
                let id: i64 = tx.query_row(
                    "SELECT id FROM jobs WHERE dedup_key = ?1",
                    [&j.dedup_key],
                    |r| r.get(0),
                )?;
                tx.execute(
                    "UPDATE jobs SET deliveries = deliveries + 1, updated_at = ?2 WHERE id = ?1",
                    params![id, now],
                )?;
                out.push((id, true));
            }
        }
        tx.commit()?;
        Ok(out)
    }

    /// Jobs left `running` (by a crash) go back to `queued`; those that already used every attempt
    /// are `failed`. Returns (requeued, failed).
    pub fn requeue_running(&self, max_attempts: u32) -> Result<(usize, usize)> {
        let mut conn = self.w();
        let tx = conn.transaction()?;
        let now = now_ms();
        let failed = tx.execute(
            "UPDATE jobs SET state = 'failed', finished_at = ?1, updated_at = ?1,
                error = COALESCE(error || '; ', '') || 'interrupted while running on each of ' || attempts || ' attempts'
             WHERE state = 'running' AND attempts >= ?2",
            params![now, max_attempts],
        )?;
        let requeued = tx.execute(
            "UPDATE jobs SET state = 'queued', next_attempt_at = 0, updated_at = ?1 WHERE state = 'running'",
            params![now],
        )?;
        tx.commit()?;
        Ok((requeued, failed))
    }

    /// Repositories of the jobs not finished yet (for stale-lock cleanup at start).
    pub fn pending_repos(&self) -> Result<Vec<String>> {
        let conn = self.r();
        let mut st =
            conn.prepare("SELECT DISTINCT repo FROM jobs WHERE state IN ('queued', 'running')")?;
        let rows = st.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Take the oldest due job whose issue has no running job: `running`, one more attempt.
    pub fn claim(&self) -> Result<Option<JobRow>> {
        let mut conn = self.w();
        let tx = conn.transaction()?;
        let now = now_ms();
        let id: Option<i64> = tx
            .query_row(
                "SELECT id FROM jobs j WHERE state = 'queued' AND next_attempt_at <= ?1
                   AND (issue_key IS NULL OR NOT EXISTS (
                        SELECT 1 FROM jobs r WHERE r.state = 'running' AND r.issue_key = j.issue_key))
                 ORDER BY next_attempt_at, id LIMIT 1",
                [now],
                |r| r.get(0),
            )
            .optional()?;
        let Some(id) = id else {
            return Ok(None);
        };
        tx.execute(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, started_at = ?2, updated_at = ?2
             WHERE id = ?1",
            params![id, now],
        )?;
        let row = tx.query_row(
            &format!("SELECT {ROW_COLS} FROM jobs WHERE id = ?1"),
            [id],
            job_row,
        )?;
        tx.commit()?;
        Ok(Some(row))
    }

    /// When the next queued job is due, if any (ms since the epoch).
    pub fn next_due(&self) -> Result<Option<i64>> {
        let conn = self.r();
        Ok(conn.query_row(
            "SELECT MIN(next_attempt_at) FROM jobs WHERE state = 'queued'",
            [],
            |r| r.get(0),
        )?)
    }

    pub fn issue(&self, issue_key: &str) -> Result<Option<IssueRow>> {
        let conn = self.w();
        Ok(conn
            .query_row(
                "SELECT issue_key, branch, count, first_seen, last_seen, last_event_id, note_at
                 FROM issues WHERE issue_key = ?1",
                [issue_key],
                |r| {
                    Ok(IssueRow {
                        issue_key: r.get(0)?,
                        branch: r.get(1)?,
                        count: r.get(2)?,
                        first_seen_ms: r.get(3)?,
                        last_seen_ms: r.get(4)?,
                        last_event_id: r.get(5)?,
                        note_at_ms: r.get(6)?,
                    })
                },
            )
            .optional()?)
    }

    /// Save what generation produced and count the issue's occurrence, in one transaction.
    pub fn save_progress(&self, id: i64, issue_key: Option<&str>, p: &Progress) -> Result<bool> {
        let mut conn = self.w();
        let tx = conn.transaction()?;
        let now = now_ms();
        let n = tx.execute(
            "UPDATE jobs SET kind = ?2, branch = ?3, commit_id = ?4, strategy = ?5, language = ?6,
                files_json = ?7, test_command = ?8, verify_command = ?9, reasons_json = ?10, updated_at = ?11
             WHERE id = ?1 AND state = 'running'",
            params![
                id,
                p.kind,
                p.branch,
                p.commit,
                p.strategy,
                p.language,
                serde_json::to_string(&p.files)?,
                p.test_command,
                p.verify_command,
                serde_json::to_string(&p.reasons)?,
                now
            ],
        )?;
        if n == 1 {
            if let Some(key) = issue_key {
                tx.execute(
                    "INSERT INTO issues (issue_key, branch, count, first_seen, last_seen, last_event_id, created_job)
                     VALUES (?1, ?2, 1, ?3, ?3, ?4, ?5)
                     ON CONFLICT(issue_key) DO UPDATE SET count = count + 1, last_seen = ?3,
                        last_event_id = COALESCE(?4, last_event_id), branch = ?2,
                        note_at = CASE WHEN ?6 THEN ?3 ELSE note_at END",
                    params![key, p.branch, now, p.event_id, id, p.note_updated],
                )?;
            }
        }
        tx.commit()?;
        Ok(n == 1)
    }

    pub fn set_pushed(&self, id: i64) -> Result<()> {
        self.w().execute(
            "UPDATE jobs SET pushed = 1, updated_at = ?2 WHERE id = ?1",
            params![id, now_ms()],
        )?;
        Ok(())
    }

    pub fn set_handoff(&self, id: i64, status: &str) -> Result<()> {
        self.w().execute(
            "UPDATE jobs SET handoff = ?2, updated_at = ?3 WHERE id = ?1",
            params![id, status, now_ms()],
        )?;
        Ok(())
    }

    pub fn set_pull_request(&self, id: i64, url: &str) -> Result<()> {
        self.w().execute(
            "UPDATE jobs SET pull_request = ?2, updated_at = ?3 WHERE id = ?1",
            params![id, url, now_ms()],
        )?;
        Ok(())
    }

    pub fn add_warning(&self, id: i64, warning: &str) -> Result<()> {
        let conn = self.w();
        let current: String =
            conn.query_row("SELECT warnings_json FROM jobs WHERE id = ?1", [id], |r| {
                r.get(0)
            })?;
        let mut list = json_list(&current);
        list.push(warning.to_string());
        conn.execute(
            "UPDATE jobs SET warnings_json = ?2 WHERE id = ?1",
            params![id, serde_json::to_string(&list)?],
        )?;
        Ok(())
    }

    /// Terminal state. Applies only while the job is `running` (returns false otherwise).
    pub fn finish(
        &self,
        id: i64,
        state: JobState,
        reason: Option<&str>,
        error: Option<&str>,
    ) -> Result<bool> {
        debug_assert!(state.is_terminal());
        let now = now_ms();
        let mut conn = self.w();
        let tx = conn.transaction()?;
        let n = tx.execute(
            "UPDATE jobs SET state = ?2, reason = ?3, error = CASE WHEN ?2 = 'done' THEN NULL ELSE ?4 END,
                finished_at = ?5, updated_at = ?5, duration_ms = ?5 - created_at
             WHERE id = ?1 AND state = 'running'",
            params![id, state.as_str(), reason, error, now],
        )?;
        if n == 1 {
            scrub(&tx, id)?;
        }
        tx.commit()?;
        Ok(n == 1)
    }

    /// Drop the body of every terminal job that still has one (a store written before bodies were
    /// dropped, or jobs failed by [`Store::requeue_running`]). Returns how many were scrubbed.
    pub fn scrub_terminal(&self) -> Result<usize> {
        let mut conn = self.w();
        let tx = conn.transaction()?;
        let ids: Vec<i64> = {
            let mut st = tx.prepare(
                "SELECT id FROM jobs WHERE state IN ('done', 'ignored', 'failed') AND length(raw_body) > 0",
            )?;
            let rows = st.query_map([], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        for id in &ids {
            scrub(&tx, *id)?;
        }
        tx.commit()?;
        Ok(ids.len())
    }

    /// Delete terminal jobs finished before `cutoff_ms` (never later than [`MIN_RETENTION_MS`]
    /// ago). The issues table stays: it is what makes the next alert of an issue an occurrence.
    pub fn delete_finished_before(&self, cutoff_ms: i64) -> Result<usize> {
        let cutoff = cutoff_ms.min(now_ms() - MIN_RETENTION_MS);
        Ok(self.w().execute(
            "DELETE FROM jobs WHERE state IN ('done', 'ignored', 'failed') AND finished_at < ?1",
            [cutoff],
        )?)
    }

    /// Put a failed (or ignored) job back in the queue with a fresh attempt budget; what it
    /// already recorded (branch, push, pull request) is kept, so it resumes after the last step.
    pub fn retry(&self, id: i64) -> Result<std::result::Result<(), RetryRefused>> {
        let mut conn = self.w();
        let tx = conn.transaction()?;
        let state: Option<String> = tx
            .query_row("SELECT state FROM jobs WHERE id = ?1", [id], |r| r.get(0))
            .optional()?;
        let Some(state) = state.map(|s| JobState::parse(&s)) else {
            return Ok(Err(RetryRefused::NotFound));
        };
        if !matches!(state, JobState::Failed | JobState::Ignored) {
            return Ok(Err(RetryRefused::NotFailed(state)));
        }
        tx.execute(
            "UPDATE jobs SET state = 'queued', attempts = 0, next_attempt_at = 0, finished_at = NULL,
                reason = NULL, updated_at = ?2
             WHERE id = ?1",
            params![id, now_ms()],
        )?;
        tx.commit()?;
        Ok(Ok(()))
    }

    /// Bytes of raw body still stored for a job (`None`: no such job).
    pub fn raw_body_len(&self, id: i64) -> Result<Option<usize>> {
        Ok(self
            .r()
            .query_row(
                "SELECT length(raw_body) FROM jobs WHERE id = ?1",
                [id],
                |r| r.get::<_, i64>(0),
            )
            .optional()?
            .map(|n| n.max(0) as usize))
    }

    /// The pull request opened for an issue, if one of its jobs recorded it.
    pub fn issue_pull_request(&self, issue_key: &str) -> Result<Option<String>> {
        Ok(self
            .r()
            .query_row(
                "SELECT pull_request FROM jobs WHERE issue_key = ?1 AND pull_request IS NOT NULL
                 ORDER BY id LIMIT 1",
                [issue_key],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Back to `queued`, due at `at_ms`, the error kept.
    pub fn retry_later(&self, id: i64, error: &str, at_ms: i64) -> Result<bool> {
        let n = self.w().execute(
            "UPDATE jobs SET state = 'queued', error = ?2, next_attempt_at = ?3, updated_at = ?4
             WHERE id = ?1 AND state = 'running'",
            params![id, error, at_ms, now_ms()],
        )?;
        Ok(n == 1)
    }

    /// Requeue one running job (shutdown before it finished); its attempt is not counted.
    pub fn requeue(&self, id: i64) -> Result<bool> {
        let n = self.w().execute(
            "UPDATE jobs SET state = 'queued', attempts = MAX(attempts - 1, 0), next_attempt_at = 0, updated_at = ?2
             WHERE id = ?1 AND state = 'running'",
            params![id, now_ms()],
        )?;
        Ok(n == 1)
    }

    pub fn job(&self, id: &str) -> Result<Option<JobRecord>> {
        let Ok(id) = id.trim().parse::<i64>() else {
            return Ok(None);
        };
        let conn = self.r();
        Ok(conn
            .query_row(
                &format!("SELECT {RECORD_COLS} {RECORD_FROM} WHERE j.id = ?1"),
                [id],
                job_record,
            )
            .optional()?)
    }

    /// Most recent jobs first.
    pub fn recent(&self, limit: usize) -> Result<Vec<JobRecord>> {
        let conn = self.r();
        let mut st = conn.prepare(&format!(
            "SELECT {RECORD_COLS} {RECORD_FROM} ORDER BY j.id DESC LIMIT ?1"
        ))?;
        let rows = st.query_map([limit as i64], job_record)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Most recent jobs first, only those in `state` when given.
    pub fn list(&self, state: Option<JobState>, limit: usize) -> Result<Vec<JobRecord>> {
        let conn = self.r();
        let mut st = conn.prepare(&format!(
            "SELECT {RECORD_COLS} {RECORD_FROM} WHERE ?1 IS NULL OR j.state = ?1 ORDER BY j.id DESC LIMIT ?2"
        ))?;
        let rows = st.query_map(
            params![
                state.map(JobState::as_str),
                limit.min(i64::MAX as usize) as i64
            ],
            job_record,
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every job (tests, exports), oldest first.
    pub fn all(&self) -> Result<Vec<JobRecord>> {
        let conn = self.r();
        let mut st = conn.prepare(&format!("SELECT {RECORD_COLS} {RECORD_FROM} ORDER BY j.id"))?;
        let rows = st.query_map([], job_record)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Number of jobs per state (every state listed, zero included).
    pub fn counts(&self) -> Result<Vec<(JobState, u64)>> {
        let conn = self.r();
        let mut st = conn.prepare("SELECT state, COUNT(*) FROM jobs GROUP BY state")?;
        let rows: Vec<(String, u64)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(JobState::ALL
            .iter()
            .map(|s| {
                (
                    *s,
                    rows.iter()
                        .find(|(n, _)| n == s.as_str())
                        .map(|(_, c)| *c)
                        .unwrap_or(0),
                )
            })
            .collect())
    }

    /// Counts of finished jobs by kind (`created`, `occurrence`, `adopted`).
    pub fn kinds(&self) -> Result<Vec<(String, u64)>> {
        let conn = self.r();
        let mut st =
            conn.prepare("SELECT kind, COUNT(*) FROM jobs WHERE kind IS NOT NULL GROUP BY kind")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// Drop a job's raw body and keep only the identity of its alert.
fn scrub(tx: &rusqlite::Transaction, id: i64) -> Result<()> {
    let alert: String = tx.query_row("SELECT alert_json FROM jobs WHERE id = ?1", [id], |r| {
        r.get(0)
    })?;
    tx.execute(
        "UPDATE jobs SET raw_body = x'', alert_json = ?2 WHERE id = ?1",
        params![id, identity_only(&alert)],
    )?;
    Ok(())
}

fn add_missing_columns(conn: &Connection) -> Result<()> {
    for (table, column, decl) in ADDED_COLUMNS {
        let mut st = conn.prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))?;
        let names: Vec<String> = st
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        if !names.iter().any(|n| n == column) {
            conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {decl}"))
                .with_context(|| format!("adding {table}.{column} to the job store"))?;
        }
    }
    Ok(())
}

/// Runs WAL checkpoints every second on its own connection, so that neither the request path nor
/// the workers pay for them. Stops when dropped.
pub struct Checkpointer {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    pub fn start(path: &Path, durability: Durability) -> Result<Checkpointer> {
        let conn = open_conn(path, durability)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::Builder::new()
            .name("sentry-repro-checkpoint".into())
            .spawn(move || {
                while !stop2.load(Ordering::SeqCst) {
                    std::thread::park_timeout(std::time::Duration::from_secs(1));
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!(error = %e, "job store: WAL checkpoint failed");
                    }
                }
            })?;
        Ok(Checkpointer {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

const ROW_COLS: &str = "id, attempts, resource, action, issue_key, event_id, project_json, alert_json, raw_body, branch,
    commit_id, kind, strategy, language, files_json, test_command, reasons_json, pushed, handoff, pull_request,
    started_at, created_at";

fn job_row(r: &Row) -> rusqlite::Result<JobRow> {
    Ok(JobRow {
        id: r.get(0)?,
        attempts: r.get(1)?,
        resource: r.get(2)?,
        action: r.get(3)?,
        issue_key: r.get(4)?,
        event_id: r.get(5)?,
        project_json: r.get(6)?,
        alert_json: r.get(7)?,
        raw_body: r.get(8)?,
        branch: r.get(9)?,
        commit: r.get(10)?,
        kind: r.get(11)?,
        strategy: r.get(12)?,
        language: r.get(13)?,
        files: json_list(&r.get::<_, String>(14)?),
        test_command: r.get(15)?,
        reasons: json_list(&r.get::<_, String>(16)?),
        pushed: r.get::<_, i64>(17)? != 0,
        handoff: r.get(18)?,
        pull_request: r.get(19)?,
        started_at_ms: r.get(20)?,
        created_at_ms: r.get(21)?,
    })
}

const RECORD_COLS: &str = "j.id, j.state, j.resource, j.action, j.issue_id, j.event_id, j.short_id, j.title,
    j.request_id, j.deliveries, j.repo, j.created_at, j.updated_at, j.started_at, j.finished_at, j.attempts,
    j.next_attempt_at, j.duration_ms, j.kind, j.branch, j.commit_id, j.strategy, j.language, j.files_json,
    j.test_command, j.verify_command, j.reasons_json, j.pushed, j.handoff, j.pull_request, j.reason, j.error,
    j.warnings_json, i.count, i.last_seen, i.note_at, length(j.raw_body)";

const RECORD_FROM: &str = "FROM jobs j LEFT JOIN issues i ON i.issue_key = j.issue_key";

fn job_record(r: &Row) -> rusqlite::Result<JobRecord> {
    let state = JobState::parse(&r.get::<_, String>(1)?);
    let next: i64 = r.get(16)?;
    Ok(JobRecord {
        id: r.get::<_, i64>(0)?.to_string(),
        state,
        resource: r.get(2)?,
        action: r.get(3)?,
        issue_id: r.get(4)?,
        event_id: r.get(5)?,
        short_id: r.get(6)?,
        title: r.get(7)?,
        request_id: r.get(8)?,
        deliveries: r.get(9)?,
        repo: r.get(10)?,
        created_at: iso(r.get(11)?),
        updated_at: iso(r.get(12)?),
        started_at: r.get::<_, Option<i64>>(13)?.map(iso),
        finished_at: r.get::<_, Option<i64>>(14)?.map(iso),
        attempts: r.get(15)?,
        next_attempt_at: (state == JobState::Queued && next > 0).then(|| iso(next)),
        duration_ms: r.get::<_, Option<i64>>(17)?.map(|d| d.max(0) as u64),
        kind: r.get(18)?,
        branch: r.get(19)?,
        commit: r.get(20)?,
        strategy: r.get(21)?,
        language: r.get(22)?,
        files: json_list(&r.get::<_, String>(23)?),
        test_command: r.get(24)?,
        verify_command: r.get(25)?,
        reasons: json_list(&r.get::<_, String>(26)?),
        pushed: r.get::<_, i64>(27)? != 0,
        handoff: r.get(28)?,
        pull_request: r.get(29)?,
        reason: r.get(30)?,
        error: r.get(31)?,
        warnings: json_list(&r.get::<_, String>(32)?),
        occurrences: r.get(33)?,
        last_seen: r.get::<_, Option<i64>>(34)?.map(iso),
        note_updated_at: r.get::<_, Option<i64>>(35)?.map(iso),
        body_stored: r.get::<_, i64>(36)? > 0,
    })
}
