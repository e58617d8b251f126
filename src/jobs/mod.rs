//! Durable jobs: nothing we answered 2xx for is lost, and each Sentry issue gets exactly one branch.
//!
//! Sentry waits one second and, for internal integrations, never retries. So the request path only
//! writes the alert (raw body + identity) to an embedded SQLite store in one transaction and answers
//! with the job id after the commit ([`DurableSink`]). Everything slow happens later on a pool of
//! worker threads ([`worker`]): generation through `pipeline`, push ([`push`]), the Sentry API for
//! issue-only alerts ([`sentry_api`]), the handoff POST and draft pull request ([`handoff`]).
//!
//! * Deduplication ([`dedup`]): a delivery's identity is (resource, action, issue id, event id), never
//!   the `Request-ID` (new on every Sentry retry). A new event for an issue that already has a branch
//!   becomes an *occurrence*: always counted in the store (count, last seen); a commit rewrites
//!   the handoff note on that branch at most once per `note_interval_secs`, and never while the
//!   branch is checked out in a work tree (then the pull request gets a comment, if it has one).
//! * Bounded growth ([`store`]): a job's raw body is dropped when it ends; terminal rows are
//!   deleted after `job_retention_days` (at least a day, so re-deliveries stay deduplicated).
//! * One branch per issue: the claim ref in `git` makes creation atomic across processes; the worker
//!   also never runs two jobs of one issue at once (the claim query skips issues with a running job).
//! * Crash safety: jobs left `running` by a crash are requeued at start, stale ref locks of ours are
//!   removed, and every step is idempotent (a re-run adopts what the killed run already wrote).
//! * Retries ([`retry`]): transient failures (network, repository locked) back off exponentially up
//!   to a limit, then the job is `failed` with the error kept and shown.
//! * Visibility ([`http`]): `GET /jobs/{id}`, `GET /` status page, `GET /metrics`.

pub mod cli;
pub mod dedup;
pub mod handoff;
pub mod http;
pub mod metrics;
pub mod note;
pub mod push;
pub mod retry;
pub mod sentry_api;
pub mod store;
pub mod worker;

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::alert::Alert;
use crate::config::{env, ProjectConfig};
use crate::sink::{Accepted, AlertSink, Delivery};

pub use store::{JobRecord, JobState, Store};
pub use worker::WorkerPool;

/// A secret read from the environment or configuration: never printed, never logged.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret itself: only to hand to an HTTP header or git credential.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// GitHub settings for opening a draft pull request once a branch is pushed.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GithubConfig {
    /// API base URL (tests point it at a local fake); default `https://api.github.com`.
    #[serde(default = "default_github_api")]
    pub api_url: String,
    /// `owner/name`.
    pub repository: String,
    pub token: Secret,
}

fn default_github_api() -> String {
    "https://api.github.com".into()
}

/// SQLite `synchronous` level: `full` survives power loss, `normal` survives a process crash.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    #[default]
    Full,
    Normal,
}

/// Everything the job system needs. Defaults + [`JobsConfig::from_env`]; the service's settings may
/// also deserialize it from a `[jobs]` table.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct JobsConfig {
    /// State folder; the store is `<state_dir>/state.db`.
    pub state_dir: PathBuf,
    /// Worker threads running jobs.
    pub workers: usize,
    /// Nice value of the worker threads (0 = same as the HTTP handlers, up to 19). Generation is
    /// CPU work that can wait; the request path cannot, so on a small machine workers yield to it.
    pub worker_nice: i32,
    /// Attempts before a transiently failing job becomes `failed`.
    pub max_attempts: u32,
    /// First retry delay, doubled on each further attempt, capped at `backoff_max_ms`.
    pub backoff_initial_ms: u64,
    pub backoff_max_ms: u64,
    /// How often idle workers look for due jobs (new alerts also wake them at once).
    pub poll_interval_ms: u64,
    pub durability: Durability,
    /// Sentry base URL for the API (issue-only alerts fetch their latest event).
    pub sentry_url: String,
    pub sentry_token: Option<Secret>,
    /// Organization slug, when the alert does not name it.
    pub sentry_org: Option<String>,
    /// Timeout of every outgoing HTTP request (Sentry API, handoff, GitHub).
    pub http_timeout_ms: u64,
    /// POST a JSON summary here when a branch is ready.
    pub handoff_url: Option<String>,
    /// Sent as `Authorization: Bearer` with the handoff POST, when set.
    pub handoff_token: Option<Secret>,
    /// Token for https pushes (as the password; user `git_username`).
    pub git_token: Option<Secret>,
    pub git_username: String,
    /// Private key for ssh pushes; without it the ssh agent is asked.
    pub ssh_key: Option<PathBuf>,
    pub ssh_passphrase: Option<Secret>,
    pub github: Option<GithubConfig>,
    /// How long shutdown waits for running jobs before requeueing them.
    pub shutdown_grace_ms: u64,
    /// Repeat alerts of an issue rewrite its handoff note at most once per this many seconds
    /// (0: every alert); counts and last-seen are in the store whatever the interval.
    pub note_interval_secs: u64,
    /// Terminal jobs are deleted this many days after they finished (at least 1).
    pub job_retention_days: u64,
}

fn env_lookup(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.is_empty())
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig {
            state_dir: PathBuf::from("./.sentry-repro"),
            workers: 2,
            worker_nice: 10,
            max_attempts: 5,
            backoff_initial_ms: 2_000,
            backoff_max_ms: 300_000,
            poll_interval_ms: 500,
            durability: Durability::Full,
            sentry_url: "https://sentry.io".into(),
            sentry_token: None,
            sentry_org: None,
            http_timeout_ms: 10_000,
            handoff_url: None,
            handoff_token: None,
            git_token: None,
            git_username: "x-access-token".into(),
            ssh_key: None,
            ssh_passphrase: None,
            github: None,
            shutdown_grace_ms: 20_000,
            note_interval_secs: 3600,
            job_retention_days: 30,
        }
    }
}

impl JobsConfig {
    /// Defaults overridden by the environment (see the docs/jobs.md).
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(env_lookup)
    }

    /// Defaults, then the config file's `[jobs]` table (`Settings::jobs_file`), then the environment;
    /// `state_dir` and `workers` come from the resolved service settings.
    pub fn from_settings(settings: &crate::config::Settings) -> Result<Self> {
        let mut c = JobsConfig::default();
        c.apply_lookup(|k| settings.jobs_file.get(k).cloned())
            .context("config file [jobs]")?;
        c.apply_lookup(env_lookup)?;
        c.state_dir = settings.state_dir.clone();
        c.workers = settings.workers;
        Ok(c)
    }

    /// [`JobsConfig::from_env`] with an explicit lookup (tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let mut c = JobsConfig::default();
        c.apply_lookup(get)?;
        Ok(c)
    }

    /// Override the fields whose variables are set.
    pub fn apply_lookup(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<()> {
        fn num<T: std::str::FromStr>(
            get: &impl Fn(&str) -> Option<String>,
            key: &str,
        ) -> Result<Option<T>> {
            match get(key) {
                None => Ok(None),
                Some(v) => v
                    .trim()
                    .parse()
                    .map(Some)
                    .map_err(|_| anyhow::anyhow!("{key}={v:?} is not a valid number")),
            }
        }
        if let Some(v) = get(env::STATE_DIR) {
            self.state_dir = v.into();
        }
        if let Some(v) = num(&get, env::WORKERS)? {
            self.workers = v;
        }
        if let Some(v) = num(&get, env::WORKER_NICE)? {
            self.worker_nice = v;
        }
        if let Some(v) = num(&get, env::MAX_ATTEMPTS)? {
            self.max_attempts = v;
        }
        if let Some(v) = num(&get, env::BACKOFF_MS)? {
            self.backoff_initial_ms = v;
        }
        if let Some(v) = num(&get, env::BACKOFF_MAX_MS)? {
            self.backoff_max_ms = v;
        }
        if let Some(v) = num(&get, env::POLL_MS)? {
            self.poll_interval_ms = v;
        }
        if let Some(v) = get(env::DURABILITY) {
            self.durability = match v.to_ascii_lowercase().as_str() {
                "full" => Durability::Full,
                "normal" => Durability::Normal,
                _ => anyhow::bail!("{}={v:?}: expected `full` or `normal`", env::DURABILITY),
            };
        }
        if let Some(v) = get(env::SENTRY_URL) {
            self.sentry_url = v;
        }
        if let Some(v) = get(env::SENTRY_AUTH_TOKEN) {
            self.sentry_token = Some(Secret(v));
        }
        if let Some(v) = get(env::SENTRY_ORG) {
            self.sentry_org = Some(v);
        }
        if let Some(v) = num(&get, env::HTTP_TIMEOUT_MS)? {
            self.http_timeout_ms = v;
        }
        if let Some(v) = get(env::HANDOFF_URL) {
            self.handoff_url = Some(v);
        }
        if let Some(v) = get(env::HANDOFF_TOKEN) {
            self.handoff_token = Some(Secret(v));
        }
        if let Some(v) = get(env::GIT_TOKEN) {
            self.git_token = Some(Secret(v));
        }
        if let Some(v) = get(env::GIT_USERNAME) {
            self.git_username = v;
        }
        if let Some(v) = get(env::SSH_KEY) {
            self.ssh_key = Some(v.into());
        }
        if let Some(v) = get(env::SSH_PASSPHRASE) {
            self.ssh_passphrase = Some(Secret(v));
        }
        if let Some(repository) = get(env::GITHUB_REPO) {
            let token = get(env::GITHUB_TOKEN)
                .or_else(|| get(env::GITHUB_TOKEN_FALLBACK))
                .with_context(|| {
                    format!(
                        "{} is set but neither {} nor {}",
                        env::GITHUB_REPO,
                        env::GITHUB_TOKEN,
                        env::GITHUB_TOKEN_FALLBACK
                    )
                })?;
            self.github = Some(GithubConfig {
                api_url: get(env::GITHUB_API_URL).unwrap_or_else(default_github_api),
                repository,
                token: Secret(token),
            });
        }
        if let Some(v) = num(&get, env::SHUTDOWN_GRACE_MS)? {
            self.shutdown_grace_ms = v;
        }
        if let Some(v) = num(&get, env::NOTE_INTERVAL_SECS)? {
            self.note_interval_secs = v;
        }
        if let Some(v) = num::<u64>(&get, env::JOB_RETENTION_DAYS)? {
            anyhow::ensure!(
                v >= 1,
                "{}={v}: the retention must be at least 1 day (dedup keys live in the job rows)",
                env::JOB_RETENTION_DAYS
            );
            self.job_retention_days = v;
        }
        Ok(())
    }

    /// Cutoff of [`Store::delete_finished_before`] for the configured retention.
    pub fn retention_cutoff_ms(&self, now_ms: i64) -> i64 {
        let days = self.job_retention_days.clamp(1, 100_000) as i64;
        now_ms - days * 24 * 3600 * 1000
    }

    pub fn db_path(&self) -> PathBuf {
        self.state_dir.join("state.db")
    }

    pub(crate) fn http_agent(&self) -> ureq::Agent {
        ureq::AgentBuilder::new()
            .timeout(Duration::from_millis(self.http_timeout_ms.max(1)))
            .user_agent(concat!("sentry-repro/", env!("CARGO_PKG_VERSION")))
            .build()
    }
}

/// Wakes idle workers when a job is queued.
#[derive(Default)]
pub(crate) struct Wake {
    generation: Mutex<u64>,
    cv: Condvar,
}

impl Wake {
    pub(crate) fn notify(&self) {
        let mut g = self.generation.lock().unwrap_or_else(|e| e.into_inner());
        *g = g.wrapping_add(1);
        self.cv.notify_all();
    }

    /// Sleep until notified or `timeout` passes.
    pub(crate) fn wait(&self, timeout: Duration) {
        let g = self.generation.lock().unwrap_or_else(|e| e.into_inner());
        let start = *g;
        let _unused = self
            .cv
            .wait_timeout_while(g, timeout, |g| *g == start)
            .unwrap_or_else(|e| e.into_inner());
    }
}

/// The job system: store, metrics, configuration. Share it as `Arc<Jobs>`.
pub struct Jobs {
    pub(crate) cfg: JobsConfig,
    pub(crate) store: Store,
    pub(crate) metrics: metrics::Metrics,
    pub(crate) wake: Wake,
    /// When retention last ran (ms); workers run it at most hourly.
    last_retention_ms: std::sync::atomic::AtomicI64,
    _checkpointer: store::Checkpointer,
    /// Exclusive lock on `<state_dir>/lock`, held while this value lives (released by the OS on a crash).
    /// Declared last: dropped after everything that uses the store.
    _lock: std::fs::File,
}

impl Jobs {
    /// Open (or create) the store in the state folder and requeue the jobs a crash left `running`.
    /// Only one process may use a state folder at a time.
    pub fn open(cfg: JobsConfig) -> Result<Arc<Jobs>> {
        std::fs::create_dir_all(&cfg.state_dir)
            .with_context(|| format!("creating state folder {}", cfg.state_dir.display()))?;
        let lock_path = cfg.state_dir.join("lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("opening {}", lock_path.display()))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
                "another sentry-repro process is using the state folder {}",
                cfg.state_dir.display()
            ),
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("locking {}", lock_path.display()))
            }
        }
        let store = Store::open(&cfg.db_path(), cfg.durability)?;
        let checkpointer = store::Checkpointer::start(&cfg.db_path(), cfg.durability)?;
        let jobs = Arc::new(Jobs {
            _checkpointer: checkpointer,
            _lock: lock,
            metrics: metrics::Metrics::new(),
            wake: Wake::default(),
            last_retention_ms: std::sync::atomic::AtomicI64::new(0),
            store,
            cfg,
        });
        worker::recover(&jobs)?;
        jobs.apply_retention()?;
        Ok(jobs)
    }

    /// Drop leftover bodies of terminal jobs and delete the rows past the retention; returns the
    /// number of rows deleted.
    pub fn apply_retention(&self) -> Result<usize> {
        let now = store::now_ms();
        self.last_retention_ms
            .store(now, std::sync::atomic::Ordering::Relaxed);
        let scrubbed = self.store.scrub_terminal()?;
        let deleted = self
            .store
            .delete_finished_before(self.cfg.retention_cutoff_ms(now))?;
        if scrubbed + deleted > 0 {
            tracing::info!(scrubbed, deleted, "job store retention applied");
        }
        Ok(deleted)
    }

    /// [`Jobs::apply_retention`] when it last ran more than an hour ago (idle workers call it).
    pub(crate) fn retention_if_due(&self) {
        let last = self
            .last_retention_ms
            .load(std::sync::atomic::Ordering::Relaxed);
        if store::now_ms() - last < 3600 * 1000 {
            return;
        }
        if let Err(e) = self.apply_retention() {
            tracing::warn!(error = %format!("{e:#}"), "job store retention failed");
        }
    }

    pub fn config(&self) -> &JobsConfig {
        &self.cfg
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The sink the HTTP handler writes alerts to.
    pub fn sink(self: &Arc<Self>) -> DurableSink {
        DurableSink { jobs: self.clone() }
    }

    /// Start `cfg.workers` worker threads.
    pub fn start_workers(self: &Arc<Self>) -> WorkerPool {
        WorkerPool::start(self.clone())
    }

    /// A job as shown by `GET /jobs/{id}`.
    pub fn job(&self, id: &str) -> Result<Option<JobRecord>> {
        self.store.job(id)
    }

    /// Prometheus text exposition of the metrics.
    pub fn metrics_text(&self) -> Result<String> {
        self.metrics.render(&self.store)
    }
}

/// [`AlertSink`] that commits each alert to the store before answering.
#[derive(Clone)]
pub struct DurableSink {
    jobs: Arc<Jobs>,
}

impl DurableSink {
    pub fn jobs(&self) -> &Arc<Jobs> {
        &self.jobs
    }
}

impl AlertSink for DurableSink {
    fn accept(&self, alert: Alert, project: ProjectConfig, delivery: Delivery) -> Result<Accepted> {
        let new = dedup::NewJob::from_parts(&alert, &project, &delivery)?;
        let (job_id, duplicate) = self.jobs.store.insert_or_get(new)?;
        if duplicate {
            self.jobs.metrics.alert("duplicate");
            tracing::info!(job = job_id, resource = %delivery.resource, action = %delivery.action, "duplicate delivery");
        } else {
            self.jobs.metrics.alert("accepted");
            tracing::info!(job = job_id, issue = ?alert.issue_id, event = ?alert.event_id, "alert queued");
            self.jobs.wake.notify();
        }
        Ok(Accepted {
            job_id: job_id.to_string(),
            duplicate,
        })
    }
}
