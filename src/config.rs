//! Configuration: raw inputs (TOML file, environment, `serve` flags) resolved into one [`Settings`].
//!
//! Precedence is file < environment < flags, so a deployment can ship a file and a secret can come
//! from the environment. The file rejects unknown keys (a typo must not silently disable a check),
//! naming the key and the file. Sentry projects map to repositories through `[[project]]` entries
//! matched by slug or numeric id; with no entry at all, one implicit project (`--repo`) takes every
//! Sentry project. Every environment variable name is a const in [`env`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::alert::Alert;

/// One Sentry project mapped to one repository, as the pipeline sees it after resolution.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    /// Sentry project slug this entry matches (any when both slug and id are unset).
    pub slug: Option<String>,
    /// Sentry numeric project id this entry matches.
    pub id: Option<String>,
    /// Path of the git repository.
    pub repo: PathBuf,
    /// Base branch; default: the repository's HEAD branch.
    pub base_branch: Option<String>,
    /// Remote to push new branches to; none: no push.
    pub remote: Option<String>,
    /// Language override (`python`, `javascript`, `rust`, `go`, `java`).
    pub language: Option<String>,
    /// The project's whole test command, run from the repository root.
    pub test_command: Option<String>,
    /// Folder for generated files; default `repro`.
    pub repro_dir: String,
    /// Web app object for request replay (`pkg.module:app` or `pkg.module:create_app`).
    pub app: Option<String>,
    pub author_name: String,
    pub author_email: String,
    /// `[confirm]`: run candidate tests on base before handing one over (`crate::confirm`).
    #[serde(default)]
    pub confirm: crate::confirm::ConfirmSettings,
}

impl ProjectConfig {
    pub fn for_repo(repo: impl Into<PathBuf>) -> Self {
        ProjectConfig {
            slug: None,
            id: None,
            repo: repo.into(),
            base_branch: None,
            remote: None,
            language: None,
            test_command: None,
            repro_dir: "repro".into(),
            app: None,
            author_name: "sentry-repro".into(),
            author_email: "sentry-repro@localhost".into(),
            confirm: Default::default(),
        }
    }

    /// True for an entry with neither slug nor id: it takes any Sentry project.
    pub fn is_catch_all(&self) -> bool {
        self.slug.is_none() && self.id.is_none()
    }
}

/// Every environment variable the service reads, in one place.
pub mod env {
    /// The integration's Client Secret (HMAC key for `Sentry-Hook-Signature`).
    pub const CLIENT_SECRET: &str = "SENTRY_CLIENT_SECRET";
    pub const CONFIG: &str = "SENTRY_REPRO_CONFIG";
    pub const LISTEN: &str = "SENTRY_REPRO_LISTEN";
    pub const REPO: &str = "SENTRY_REPRO_REPO";
    /// `1`/`true` accepts requests without a signature (local trials only).
    pub const ALLOW_UNSIGNED: &str = "SENTRY_REPRO_ALLOW_UNSIGNED";
    pub const LEGACY_TOKEN: &str = "SENTRY_REPRO_LEGACY_TOKEN";
    pub const BODY_LIMIT: &str = "SENTRY_REPRO_BODY_LIMIT";
    pub const TIMESTAMP_WINDOW: &str = "SENTRY_REPRO_TIMESTAMP_WINDOW";
    pub const REQUEST_TIMEOUT_MS: &str = "SENTRY_REPRO_REQUEST_TIMEOUT_MS";
    pub const STATE_DIR: &str = "SENTRY_REPRO_STATE_DIR";
    pub const WORKERS: &str = "SENTRY_REPRO_WORKERS";
    pub const LOG_FORMAT: &str = "SENTRY_REPRO_LOG_FORMAT";
    /// Address of the read side (status page, `/jobs/{id}`, `/metrics`); `off` disables it.
    pub const READ_LISTEN: &str = "SENTRY_REPRO_READ_LISTEN";
    /// Bearer token that opens the read routes on the webhook address too.
    pub const READ_TOKEN: &str = "SENTRY_REPRO_READ_TOKEN";
    /// Bytes of request bodies being read at once, across all requests (over it: 503).
    pub const INFLIGHT_BUDGET: &str = "SENTRY_REPRO_INFLIGHT_BUDGET";
    /// Standard tracing filter (`info`, `sentry_repro=debug`, ...).
    pub const LOG: &str = "RUST_LOG";

    // The job system (`jobs::JobsConfig`); each may also be set in the config file's `[jobs]` table
    // under the key [`JOBS_KEYS`] gives it.
    /// Nice value of the worker threads (default 10, 0 = off): the HTTP handler keeps its latency.
    pub const WORKER_NICE: &str = "SENTRY_REPRO_WORKER_NICE";
    pub const MAX_ATTEMPTS: &str = "SENTRY_REPRO_MAX_ATTEMPTS";
    pub const BACKOFF_MS: &str = "SENTRY_REPRO_BACKOFF_MS";
    pub const BACKOFF_MAX_MS: &str = "SENTRY_REPRO_BACKOFF_MAX_MS";
    pub const POLL_MS: &str = "SENTRY_REPRO_POLL_MS";
    /// `full` (default: fsync before the 202) or `normal` (survives a process crash, not power loss).
    pub const DURABILITY: &str = "SENTRY_REPRO_DURABILITY";
    pub const SENTRY_URL: &str = "SENTRY_URL";
    pub const SENTRY_AUTH_TOKEN: &str = "SENTRY_AUTH_TOKEN";
    pub const SENTRY_ORG: &str = "SENTRY_ORG";
    pub const HTTP_TIMEOUT_MS: &str = "SENTRY_REPRO_HTTP_TIMEOUT_MS";
    pub const HANDOFF_URL: &str = "SENTRY_REPRO_HANDOFF_URL";
    pub const HANDOFF_TOKEN: &str = "SENTRY_REPRO_HANDOFF_TOKEN";
    pub const GIT_TOKEN: &str = "SENTRY_REPRO_GIT_TOKEN";
    pub const GIT_USERNAME: &str = "SENTRY_REPRO_GIT_USERNAME";
    pub const SSH_KEY: &str = "SENTRY_REPRO_SSH_KEY";
    pub const SSH_PASSPHRASE: &str = "SENTRY_REPRO_SSH_PASSPHRASE";
    pub const GITHUB_REPO: &str = "SENTRY_REPRO_GITHUB_REPO";
    pub const GITHUB_TOKEN: &str = "SENTRY_REPRO_GITHUB_TOKEN";
    /// Read when [`GITHUB_TOKEN`] is not set (the name GitHub Actions uses).
    pub const GITHUB_TOKEN_FALLBACK: &str = "GITHUB_TOKEN";
    pub const GITHUB_API_URL: &str = "SENTRY_REPRO_GITHUB_API_URL";
    pub const SHUTDOWN_GRACE_MS: &str = "SENTRY_REPRO_SHUTDOWN_GRACE_MS";
    /// Repeat alerts rewrite an issue's note at most once per this many seconds (default 3600).
    pub const NOTE_INTERVAL_SECS: &str = "SENTRY_REPRO_NOTE_INTERVAL_SECS";
    /// Days finished jobs are kept in the store (default 30, at least 1).
    pub const JOB_RETENTION_DAYS: &str = "SENTRY_REPRO_JOB_RETENTION_DAYS";

    /// Job settings: environment variable and its key in the config file's `[jobs]` table.
    pub const JOBS_KEYS: &[(&str, &str)] = &[
        (WORKER_NICE, "worker_nice"),
        (MAX_ATTEMPTS, "max_attempts"),
        (BACKOFF_MS, "backoff_ms"),
        (BACKOFF_MAX_MS, "backoff_max_ms"),
        (POLL_MS, "poll_ms"),
        (DURABILITY, "durability"),
        (SENTRY_URL, "sentry_url"),
        (SENTRY_AUTH_TOKEN, "sentry_auth_token"),
        (SENTRY_ORG, "sentry_org"),
        (HTTP_TIMEOUT_MS, "http_timeout_ms"),
        (HANDOFF_URL, "handoff_url"),
        (HANDOFF_TOKEN, "handoff_token"),
        (GIT_TOKEN, "git_token"),
        (GIT_USERNAME, "git_username"),
        (SSH_KEY, "ssh_key"),
        (SSH_PASSPHRASE, "ssh_passphrase"),
        (GITHUB_REPO, "github_repo"),
        (GITHUB_TOKEN, "github_token"),
        (GITHUB_API_URL, "github_api_url"),
        (SHUTDOWN_GRACE_MS, "shutdown_grace_ms"),
        (NOTE_INTERVAL_SECS, "note_interval_secs"),
        (JOB_RETENTION_DAYS, "job_retention_days"),
    ];

    /// All of them, for the README table and `--help`.
    pub const ALL: &[&str] = &[
        CLIENT_SECRET,
        CONFIG,
        LISTEN,
        REPO,
        ALLOW_UNSIGNED,
        LEGACY_TOKEN,
        BODY_LIMIT,
        TIMESTAMP_WINDOW,
        REQUEST_TIMEOUT_MS,
        STATE_DIR,
        WORKERS,
        LOG_FORMAT,
        READ_LISTEN,
        READ_TOKEN,
        INFLIGHT_BUDGET,
        LOG,
        MAX_ATTEMPTS,
        BACKOFF_MS,
        BACKOFF_MAX_MS,
        POLL_MS,
        DURABILITY,
        SENTRY_URL,
        SENTRY_AUTH_TOKEN,
        SENTRY_ORG,
        HTTP_TIMEOUT_MS,
        HANDOFF_URL,
        HANDOFF_TOKEN,
        GIT_TOKEN,
        GIT_USERNAME,
        SSH_KEY,
        SSH_PASSPHRASE,
        GITHUB_REPO,
        GITHUB_TOKEN,
        GITHUB_TOKEN_FALLBACK,
        GITHUB_API_URL,
        SHUTDOWN_GRACE_MS,
        WORKER_NICE,
        NOTE_INTERVAL_SECS,
        JOB_RETENTION_DAYS,
    ];
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_BODY_LIMIT: usize = 5 * 1024 * 1024;
pub const DEFAULT_TIMESTAMP_WINDOW_SECS: u64 = 600;
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 5_000;
pub const DEFAULT_STATE_DIR: &str = ".sentry-repro";
/// The read side's default address: loopback only, next to the webhook's default port.
pub const DEFAULT_READ_LISTEN: &str = "127.0.0.1:8081";
/// Six bodies of the 5 MiB limit at once, or hundreds of Sentry's usual 10-100 KB ones; with it,
/// `bench/flood.py` keeps the process under 100 MB (64 MiB came within a few MB of it).
pub const DEFAULT_INFLIGHT_BUDGET: usize = 32 * 1024 * 1024;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Raw `serve` flags, exactly as given on the command line (nothing resolved yet).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long)]
    pub listen: Option<String>,
    /// Git repository of the implicit project (used when the config has no `[[project]]`)
    /// [default: the current directory].
    #[arg(long)]
    pub repo: Option<PathBuf>,
    /// TOML configuration file.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Accept requests that carry no signature (local trials only; logged loudly).
    #[arg(long)]
    pub allow_unsigned: bool,
    /// Token required as `?token=` on legacy plugin (unsigned) deliveries.
    #[arg(long)]
    pub legacy_token: Option<String>,
    /// Largest accepted body in bytes [default: 5 MiB].
    #[arg(long)]
    pub body_limit: Option<usize>,
    /// Reject a `Sentry-Hook-Timestamp` further than this many seconds from now (0: off) [default: 600].
    #[arg(long)]
    pub timestamp_window: Option<u64>,
    /// Time allowed for a request's headers and body to arrive, in ms [default: 5000].
    #[arg(long)]
    pub request_timeout_ms: Option<u64>,
    /// Directory for the service's state (job store) [default: .sentry-repro].
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// Background workers generating branches [default: number of CPUs, at most 4].
    #[arg(long)]
    pub workers: Option<usize>,
    /// Log format.
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormat>,
    /// Address of the read side (status page, /jobs/{id}, /metrics), served without a token;
    /// `off` disables it [default: 127.0.0.1:8081].
    #[arg(long)]
    pub read_listen: Option<String>,
    /// Token that opens the read routes on the webhook address too (`Authorization: Bearer`,
    /// or `?token=` for the status page in a browser).
    #[arg(long)]
    pub read_token: Option<String>,
    /// Bytes of request bodies read at once across all requests; over it: 503 [default: 32 MiB].
    #[arg(long)]
    pub inflight_budget: Option<usize>,
}

/// The TOML file. Unknown keys are errors.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub client_secret: Option<String>,
    pub allow_unsigned: Option<bool>,
    pub legacy_token: Option<String>,
    pub body_limit: Option<usize>,
    pub timestamp_window: Option<u64>,
    pub request_timeout_ms: Option<u64>,
    pub state_dir: Option<PathBuf>,
    pub workers: Option<usize>,
    pub log_format: Option<LogFormat>,
    pub read_listen: Option<String>,
    pub read_token: Option<String>,
    pub inflight_budget: Option<usize>,
    /// Job settings (retries, durability, Sentry API, handoff, push, GitHub); keys in
    /// [`env::JOBS_KEYS`]. The environment overrides them.
    pub jobs: Option<toml::Table>,
    #[serde(default, rename = "project")]
    pub projects: Vec<ProjectEntry>,
    /// `[confirm]` for the implicit `--repo` project (a `[[project]]` has its own).
    pub confirm: Option<crate::confirm::ConfirmSettings>,
}

/// A numeric id may be written as a TOML integer or a string.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum IdValue {
    Int(u64),
    Str(String),
}

/// One `[[project]]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectEntry {
    pub slug: Option<String>,
    pub id: Option<IdValue>,
    /// Relative paths are resolved from the config file's folder.
    pub repo: PathBuf,
    pub base_branch: Option<String>,
    pub remote: Option<String>,
    pub language: Option<String>,
    pub test_command: Option<String>,
    pub repro_dir: Option<String>,
    pub app: Option<String>,
    /// `Name <email>`, a shorthand for author_name + author_email.
    pub author: Option<String>,
    pub author_name: Option<String>,
    pub author_email: Option<String>,
    /// `[project.confirm]` (see `crate::confirm::ConfirmSettings`).
    pub confirm: Option<crate::confirm::ConfirmSettings>,
}

impl ProjectEntry {
    fn resolve(self, base_dir: &Path) -> Result<ProjectConfig> {
        let mut p = ProjectConfig::for_repo(if self.repo.is_absolute() {
            self.repo
        } else {
            base_dir.join(self.repo)
        });
        p.slug = self.slug;
        p.id = self.id.map(|i| match i {
            IdValue::Int(n) => n.to_string(),
            IdValue::Str(s) => s,
        });
        p.base_branch = self.base_branch;
        p.remote = self.remote;
        p.language = self.language;
        p.test_command = self.test_command;
        if let Some(d) = self.repro_dir {
            p.repro_dir = d;
        }
        p.app = self.app;
        p.confirm = self.confirm.unwrap_or_default();
        if let Some(author) = self.author {
            match author.split_once('<') {
                Some((name, email)) => {
                    p.author_name = name.trim().to_string();
                    p.author_email = email.trim().trim_end_matches('>').trim().to_string();
                }
                None => p.author_name = author.trim().to_string(),
            }
        }
        if let Some(n) = self.author_name {
            p.author_name = n;
        }
        if let Some(e) = self.author_email {
            p.author_email = e;
        }
        if p.author_name.is_empty() || p.author_email.is_empty() {
            bail!("project author needs a name and an email (`author = \"Name <email>\"`)");
        }
        Ok(p)
    }
}

/// `[jobs]` keys → environment variable names, values as text (as the environment would give them).
fn jobs_table(table: toml::Table) -> Result<std::collections::BTreeMap<String, String>> {
    let mut out = std::collections::BTreeMap::new();
    for (key, value) in table {
        let Some((var, _)) = env::JOBS_KEYS.iter().find(|(_, k)| *k == key) else {
            let known: Vec<&str> = env::JOBS_KEYS.iter().map(|(_, k)| *k).collect();
            bail!(
                "unknown key `{key}` (expected one of: {})",
                known.join(", ")
            );
        };
        let text = match value {
            toml::Value::String(v) => v,
            toml::Value::Integer(v) => v.to_string(),
            toml::Value::Boolean(v) => v.to_string(),
            other => bail!(
                "`{key}`: expected a string or a number, got {}",
                other.type_str()
            ),
        };
        out.insert(var.to_string(), text);
    }
    Ok(out)
}

impl FileConfig {
    pub fn load(path: &Path) -> Result<FileConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config file {}", path.display()))?;
        FileConfig::parse(&text, path)
    }

    /// Parse TOML text; errors name the file and the offending key (toml reports unknown fields as
    /// ``unknown field `key` `` with the line).
    pub fn parse(text: &str, path: &Path) -> Result<FileConfig> {
        toml::from_str(text).map_err(|e| anyhow::anyhow!("config file {}: {}", path.display(), e))
    }
}

/// Everything the server needs, resolved.
#[derive(Clone)]
pub struct Settings {
    pub listen: String,
    /// Integration Client Secret; `None` only with `allow_unsigned`.
    pub client_secret: Option<String>,
    pub allow_unsigned: bool,
    pub legacy_token: Option<String>,
    pub body_limit: usize,
    /// `None`: timestamps are not checked.
    pub timestamp_window: Option<Duration>,
    /// Time allowed for headers (actix `client_request_timeout`) and, separately, for the body.
    pub request_timeout: Duration,
    pub state_dir: PathBuf,
    pub workers: usize,
    pub log_format: LogFormat,
    /// The read side's own address (reads there need no token); `None`: no read listener.
    pub read_listen: Option<String>,
    /// Opens the read routes on the webhook address; `None`: they answer 401 there.
    pub read_token: Option<String>,
    /// Bytes of bodies being read at once across all requests.
    pub inflight_budget: usize,
    /// Configured projects; one catch-all entry when no `[[project]]` was given.
    pub projects: Vec<ProjectConfig>,
    /// True when `projects` is the implicit `--repo` project.
    pub implicit_project: bool,
    /// The config file used, if any (for messages).
    pub config_file: Option<PathBuf>,
    /// The file's `[jobs]` table, keyed by the environment variable each key stands for
    /// ([`env::JOBS_KEYS`]); the job system applies it, then the environment, over its defaults.
    pub jobs_file: std::collections::BTreeMap<String, String>,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("allow_unsigned", &self.allow_unsigned)
            .field(
                "legacy_token",
                &self.legacy_token.as_ref().map(|_| "<redacted>"),
            )
            .field("body_limit", &self.body_limit)
            .field("read_listen", &self.read_listen)
            .field(
                "read_token",
                &self.read_token.as_ref().map(|_| "<redacted>"),
            )
            .field("inflight_budget", &self.inflight_budget)
            .field("timestamp_window", &self.timestamp_window)
            .field("request_timeout", &self.request_timeout)
            .field("state_dir", &self.state_dir)
            .field("workers", &self.workers)
            .field("projects", &self.projects)
            .field("implicit_project", &self.implicit_project)
            // Values may be tokens: keys only.
            .field("jobs_file", &self.jobs_file.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Default for Settings {
    /// Embedded defaults with the current directory as the implicit project (no secret).
    fn default() -> Self {
        Settings {
            listen: DEFAULT_LISTEN.into(),
            client_secret: None,
            allow_unsigned: false,
            legacy_token: None,
            body_limit: DEFAULT_BODY_LIMIT,
            timestamp_window: Some(Duration::from_secs(DEFAULT_TIMESTAMP_WINDOW_SECS)),
            request_timeout: Duration::from_millis(DEFAULT_REQUEST_TIMEOUT_MS),
            state_dir: PathBuf::from(DEFAULT_STATE_DIR),
            workers: default_workers(),
            log_format: LogFormat::Text,
            read_listen: Some(DEFAULT_READ_LISTEN.into()),
            read_token: None,
            inflight_budget: DEFAULT_INFLIGHT_BUDGET,
            projects: vec![ProjectConfig::for_repo(".")],
            implicit_project: true,
            config_file: None,
            jobs_file: Default::default(),
        }
    }
}

fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 4)
}

/// Why an alert matched no project (answered 200 "ignored").
#[derive(Debug, Clone, PartialEq)]
pub struct Unmapped(pub String);

impl Settings {
    /// Resolve from the process environment.
    pub fn from_args(args: &ServeArgs) -> Result<Settings> {
        Settings::resolve(args, |k| std::env::var(k).ok())
    }

    /// file < environment < flags. `env` looks a variable up (tests pass a map).
    pub fn resolve(args: &ServeArgs, env: impl Fn(&str) -> Option<String>) -> Result<Settings> {
        let config_path = args.config.clone().or_else(|| {
            env(env::CONFIG)
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
        });
        let file = match &config_path {
            Some(p) => FileConfig::load(p)?,
            None => FileConfig::default(),
        };
        let base_dir = config_path
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let mut s = Settings {
            config_file: config_path.clone(),
            ..Settings::default()
        };

        // 1. file
        if let Some(table) = file.jobs {
            s.jobs_file = jobs_table(table).with_context(|| {
                format!(
                    "config file {}: [jobs]",
                    config_path.as_deref().unwrap_or(Path::new("")).display()
                )
            })?;
        }
        if let Some(v) = file.listen {
            s.listen = v;
        }
        s.client_secret = file.client_secret;
        s.allow_unsigned = file.allow_unsigned.unwrap_or(false);
        s.legacy_token = file.legacy_token;
        if let Some(v) = file.body_limit {
            s.body_limit = v;
        }
        if let Some(v) = file.timestamp_window {
            s.timestamp_window = window(v);
        }
        if let Some(v) = file.request_timeout_ms {
            s.request_timeout = Duration::from_millis(v);
        }
        if let Some(v) = file.state_dir {
            s.state_dir = if v.is_absolute() { v } else { base_dir.join(v) };
        }
        if let Some(v) = file.workers {
            s.workers = v;
        }
        if let Some(v) = file.log_format {
            s.log_format = v;
        }
        if let Some(v) = file.read_listen {
            s.read_listen = read_listen(&v);
        }
        s.read_token = file.read_token;
        if let Some(v) = file.inflight_budget {
            s.inflight_budget = v;
        }
        let has_projects = !file.projects.is_empty();
        if has_projects {
            s.projects = file
                .projects
                .into_iter()
                .enumerate()
                .map(|(i, p)| {
                    p.resolve(&base_dir).with_context(|| {
                        let file = config_path.as_deref().unwrap_or(Path::new("?"));
                        format!("config file {}: [[project]] #{}", file.display(), i + 1)
                    })
                })
                .collect::<Result<_>>()?;
            s.implicit_project = false;
        }

        // 2. environment
        let envv = |k: &str| env(k).filter(|v| !v.is_empty());
        if let Some(v) = envv(env::LISTEN) {
            s.listen = v;
        }
        if let Some(v) = envv(env::CLIENT_SECRET) {
            s.client_secret = Some(v);
        }
        if let Some(v) = envv(env::ALLOW_UNSIGNED) {
            s.allow_unsigned = parse_bool(env::ALLOW_UNSIGNED, &v)?;
        }
        if let Some(v) = envv(env::LEGACY_TOKEN) {
            s.legacy_token = Some(v);
        }
        if let Some(v) = envv(env::BODY_LIMIT) {
            s.body_limit = parse_num(env::BODY_LIMIT, &v)?;
        }
        if let Some(v) = envv(env::TIMESTAMP_WINDOW) {
            s.timestamp_window = window(parse_num(env::TIMESTAMP_WINDOW, &v)?);
        }
        if let Some(v) = envv(env::REQUEST_TIMEOUT_MS) {
            s.request_timeout = Duration::from_millis(parse_num(env::REQUEST_TIMEOUT_MS, &v)?);
        }
        if let Some(v) = envv(env::STATE_DIR) {
            s.state_dir = PathBuf::from(v);
        }
        if let Some(v) = envv(env::WORKERS) {
            s.workers = parse_num(env::WORKERS, &v)?;
        }
        if let Some(v) = envv(env::LOG_FORMAT) {
            s.log_format = match v.to_ascii_lowercase().as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                _ => bail!("{}: expected `text` or `json`, got {v:?}", env::LOG_FORMAT),
            };
        }
        if let Some(v) = envv(env::READ_LISTEN) {
            s.read_listen = read_listen(&v);
        }
        if let Some(v) = envv(env::READ_TOKEN) {
            s.read_token = Some(v);
        }
        if let Some(v) = envv(env::INFLIGHT_BUDGET) {
            s.inflight_budget = parse_num(env::INFLIGHT_BUDGET, &v)?;
        }
        let env_repo = envv(env::REPO).map(PathBuf::from);

        // 3. flags
        if let Some(v) = &args.listen {
            s.listen = v.clone();
        }
        if args.allow_unsigned {
            s.allow_unsigned = true;
        }
        if let Some(v) = &args.legacy_token {
            s.legacy_token = Some(v.clone());
        }
        if let Some(v) = args.body_limit {
            s.body_limit = v;
        }
        if let Some(v) = args.timestamp_window {
            s.timestamp_window = window(v);
        }
        if let Some(v) = args.request_timeout_ms {
            s.request_timeout = Duration::from_millis(v);
        }
        if let Some(v) = &args.state_dir {
            s.state_dir = v.clone();
        }
        if let Some(v) = args.workers {
            s.workers = v;
        }
        if let Some(v) = args.log_format {
            s.log_format = v;
        }
        if let Some(v) = &args.read_listen {
            s.read_listen = read_listen(v);
        }
        if let Some(v) = &args.read_token {
            s.read_token = Some(v.clone());
        }
        if let Some(v) = args.inflight_budget {
            s.inflight_budget = v;
        }
        let repo = args.repo.clone().or(env_repo);
        match (repo, has_projects) {
            (Some(r), false) => s.projects = vec![ProjectConfig::for_repo(r)],
            (Some(_), true) => bail!(
                "--repo (or {}) cannot be combined with [[project]] entries in {}: put the repository in the file",
                env::REPO,
                config_path.as_deref().unwrap_or(Path::new("?")).display()
            ),
            (None, _) => {}
        }
        if let (Some(c), false) = (file.confirm, has_projects) {
            s.projects.iter_mut().for_each(|p| p.confirm = c.clone());
        }
        s.validate()?;
        Ok(s)
    }

    /// Checks that hold whatever the source.
    pub fn validate(&self) -> Result<()> {
        if self.body_limit == 0 {
            bail!("body_limit must be greater than 0");
        }
        if self.workers == 0 {
            bail!("workers must be at least 1");
        }
        if self.client_secret.as_deref() == Some("") {
            bail!("client_secret is empty");
        }
        if self.legacy_token.as_deref() == Some("") {
            bail!("legacy_token is empty");
        }
        self.validate_read_side()?;
        for p in &self.projects {
            if p.repro_dir.is_empty()
                || !crate::repo::is_safe_rel_path(p.repro_dir.trim_end_matches('/'))
            {
                bail!(
                    "project {:?}: repro_dir {:?} must be a relative path inside the repository",
                    p.slug,
                    p.repro_dir
                );
            }
        }
        Ok(())
    }

    /// The read token, the read address and the body budget.
    fn validate_read_side(&self) -> Result<()> {
        if let Some(t) = &self.read_token {
            if t.len() < 16 {
                bail!(
                    "read_token ({}) must be at least 16 characters: it guards event data",
                    env::READ_TOKEN
                );
            }
        }
        if self.read_listen.as_deref() == Some(self.listen.as_str()) {
            bail!(
                "read_listen ({}) must differ from listen: the read side needs its own address, \
                 or `off`",
                env::READ_LISTEN
            );
        }
        if self.inflight_budget < self.body_limit {
            bail!(
                "inflight_budget ({}) is {} bytes, below body_limit ({} bytes): no body of the \
                 largest accepted size could ever be read",
                env::INFLIGHT_BUDGET,
                self.inflight_budget,
                self.body_limit
            );
        }
        Ok(())
    }

    /// The server refuses to start without a secret unless unsigned requests were explicitly allowed.
    pub fn require_secret(&self) -> Result<()> {
        if self.client_secret.is_none() && !self.allow_unsigned {
            bail!(
                "no client secret: set the environment variable {} to your Sentry integration's Client Secret \
                 (Settings → Developer Settings → your integration), or `client_secret = \"...\"` in the config \
                 file; for a local trial without Sentry, pass --allow-unsigned",
                env::CLIENT_SECRET
            );
        }
        Ok(())
    }

    /// The project an alert belongs to: an entry whose numeric id or slug matches, else a catch-all
    /// entry (slug and id both unset), else `Unmapped` with the reason.
    pub fn project_for(&self, alert: &Alert) -> std::result::Result<&ProjectConfig, Unmapped> {
        let id = alert.project_id.as_deref();
        let slug = alert.project_slug.as_deref();
        let exact = self.projects.iter().find(|p| {
            (p.id.is_some() && p.id.as_deref() == id)
                || (p.slug.is_some() && p.slug.as_deref() == slug)
        });
        if let Some(p) = exact.or_else(|| self.projects.iter().find(|p| p.is_catch_all())) {
            return Ok(p);
        }
        let known: Vec<String> = self
            .projects
            .iter()
            .map(|p| match (&p.slug, &p.id) {
                (Some(s), Some(i)) => format!("{s} ({i})"),
                (Some(s), None) => s.clone(),
                (None, Some(i)) => i.clone(),
                (None, None) => "*".into(),
            })
            .collect();
        Err(Unmapped(format!(
            "no [[project]] entry matches Sentry project id {} / slug {}; configured: {}",
            id.map(|s| format!("{s:?}"))
                .unwrap_or_else(|| "(none)".into()),
            slug.map(|s| format!("{s:?}"))
                .unwrap_or_else(|| "(none)".into()),
            known.join(", ")
        )))
    }
}

/// `off` (or `none`) disables the read listener.
fn read_listen(v: &str) -> Option<String> {
    let v = v.trim();
    (!matches!(v.to_ascii_lowercase().as_str(), "off" | "none" | "")).then(|| v.to_string())
}

fn window(secs: u64) -> Option<Duration> {
    (secs > 0).then(|| Duration::from_secs(secs))
}

fn parse_bool(name: &str, v: &str) -> Result<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => bail!("{name}: expected true or false, got {v:?}"),
    }
}

fn parse_num<T: std::str::FromStr>(name: &str, v: &str) -> Result<T> {
    v.trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("{name}: expected a non-negative integer, got {v:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resolve(args: &ServeArgs, env: &[(&str, &str)]) -> Result<Settings> {
        let m: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::resolve(args, |k| m.get(k).cloned())
    }

    fn write_config(text: &str) -> (tempfile::TempDir, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sentry-repro.toml");
        std::fs::write(&p, text).unwrap();
        (d, p)
    }

    #[test]
    fn jobs_table_is_read_and_unknown_keys_are_named() {
        let (_d, p) = write_config(
            "client_secret = \"s\"\n[jobs]\nmax_attempts = 9\ndurability = \"normal\"\nhandoff_url = \"http://h/\"\n",
        );
        let args = ServeArgs {
            config: Some(p.clone()),
            ..ServeArgs::default()
        };
        let s = resolve(&args, &[]).unwrap();
        assert_eq!(
            s.jobs_file.get(env::MAX_ATTEMPTS).map(String::as_str),
            Some("9")
        );
        let jobs = crate::jobs::JobsConfig::from_settings(&s).unwrap();
        assert_eq!(jobs.max_attempts, 9);
        assert_eq!(jobs.durability, crate::jobs::Durability::Normal);
        assert_eq!(jobs.handoff_url.as_deref(), Some("http://h/"));
        assert!(
            !format!("{s:?}").contains("http://h/"),
            "values stay out of Debug"
        );

        let (_d, p) = write_config("[jobs]\nmax_attempt = 9\n");
        let args = ServeArgs {
            config: Some(p),
            ..ServeArgs::default()
        };
        let e = format!("{:#}", resolve(&args, &[]).unwrap_err());
        assert!(
            e.contains("[jobs]") && e.contains("max_attempt") && e.contains("max_attempts"),
            "{e}"
        );
    }

    #[test]
    fn unknown_key_names_key_and_file() {
        let (_d, p) = write_config("listen = \"0.0.0.0:1\"\nclient_secrett = \"x\"\n");
        let args = ServeArgs {
            config: Some(p.clone()),
            ..Default::default()
        };
        let e = format!("{:#}", resolve(&args, &[]).unwrap_err());
        assert!(e.contains("client_secrett"), "{e}");
        assert!(e.contains(&p.display().to_string()), "{e}");
        let (_d, p) = write_config("[[project]]\nrepo = \"r\"\nslugg = \"x\"\n");
        let args = ServeArgs {
            config: Some(p),
            ..Default::default()
        };
        let e = format!("{:#}", resolve(&args, &[]).unwrap_err());
        assert!(e.contains("slugg"), "{e}");
    }

    #[test]
    fn precedence_file_env_flags() {
        let (d, p) = write_config(
            "listen = \"0.0.0.0:1\"\nclient_secret = \"file\"\nbody_limit = 10\nworkers = 3\n\
             [[project]]\nslug = \"api\"\nid = 42\nrepo = \"api-repo\"\nauthor = \"Bot <bot@x>\"\n\
             [[project]]\nid = \"43\"\nrepo = \"/abs\"\n",
        );
        let mut args = ServeArgs {
            config: Some(p),
            ..Default::default()
        };
        let s = resolve(&args, &[]).unwrap();
        assert_eq!(s.listen, "0.0.0.0:1");
        assert_eq!(s.client_secret.as_deref(), Some("file"));
        assert_eq!(s.projects.len(), 2);
        assert_eq!(s.projects[0].id.as_deref(), Some("42"));
        assert_eq!(s.projects[0].repo, d.path().join("api-repo"));
        assert_eq!(s.projects[0].author_email, "bot@x");
        assert!(!s.implicit_project);
        let s = resolve(
            &args,
            &[(env::CLIENT_SECRET, "env"), (env::BODY_LIMIT, "20")],
        )
        .unwrap();
        assert_eq!(s.client_secret.as_deref(), Some("env"));
        assert_eq!(s.body_limit, 20);
        args.body_limit = Some(30);
        args.listen = Some("127.0.0.1:9".into());
        let s = resolve(
            &args,
            &[(env::BODY_LIMIT, "20"), (env::LISTEN, "1.1.1.1:1")],
        )
        .unwrap();
        assert_eq!(s.body_limit, 30);
        assert_eq!(s.listen, "127.0.0.1:9");
        assert_eq!(s.workers, 3);
        args.repo = Some("x".into());
        assert!(
            resolve(&args, &[]).is_err(),
            "--repo with [[project]] is ambiguous"
        );
    }

    #[test]
    fn implicit_project_and_secret_requirement() {
        let args = ServeArgs {
            repo: Some("/r".into()),
            ..Default::default()
        };
        let s = resolve(&args, &[]).unwrap();
        assert!(s.implicit_project);
        assert_eq!(s.projects[0].repo, PathBuf::from("/r"));
        let e = s.require_secret().unwrap_err().to_string();
        assert!(
            e.contains(env::CLIENT_SECRET) && e.contains("--allow-unsigned"),
            "{e}"
        );
        let a = Alert {
            project_id: Some("1".into()),
            ..Default::default()
        };
        assert!(s.project_for(&a).is_ok());
        let s = resolve(&args, &[(env::ALLOW_UNSIGNED, "1")]).unwrap();
        assert!(s.require_secret().is_ok());
        let s = resolve(&args, &[(env::CLIENT_SECRET, "hunter2-secret")]).unwrap();
        assert!(s.require_secret().is_ok());
        assert!(
            !format!("{s:?}").contains("hunter2"),
            "Debug must redact the secret"
        );
    }

    #[test]
    fn project_matching_by_id_or_slug() {
        let (_d, p) = write_config(
            "[[project]]\nslug = \"api\"\nrepo = \"a\"\n[[project]]\nid = 7\nrepo = \"b\"\n",
        );
        let s = resolve(
            &ServeArgs {
                config: Some(p),
                ..Default::default()
            },
            &[],
        )
        .unwrap();
        let by = |id: Option<&str>, slug: Option<&str>| {
            let a = Alert {
                project_id: id.map(Into::into),
                project_slug: slug.map(Into::into),
                ..Default::default()
            };
            s.project_for(&a)
                .map(|p| p.repo.file_name().unwrap().to_string_lossy().into_owned())
        };
        assert_eq!(by(Some("1"), Some("api")).unwrap(), "a");
        assert_eq!(by(Some("7"), None).unwrap(), "b");
        let e = by(Some("8"), Some("web")).unwrap_err();
        assert!(e.0.contains("\"8\"") && e.0.contains("\"web\""), "{}", e.0);
    }

    #[test]
    fn read_side_settings_follow_file_env_flags_and_errors_name_the_key() {
        let s = resolve(&ServeArgs::default(), &[]).unwrap();
        assert_eq!(s.read_listen.as_deref(), Some(DEFAULT_READ_LISTEN));
        assert_eq!(s.read_token, None);
        assert_eq!(s.inflight_budget, DEFAULT_INFLIGHT_BUDGET);
        let (_d, p) = write_config(
            "read_listen = \"127.0.0.1:9001\"\nread_token = \"file-token-0123456789\"\n\
             inflight_budget = 10485760\n",
        );
        let mut args = ServeArgs {
            config: Some(p),
            ..Default::default()
        };
        let s = resolve(&args, &[]).unwrap();
        assert_eq!(s.read_listen.as_deref(), Some("127.0.0.1:9001"));
        assert_eq!(s.read_token.as_deref(), Some("file-token-0123456789"));
        assert_eq!(s.inflight_budget, 10 << 20);
        assert!(!format!("{s:?}").contains("file-token"), "Debug redacts it");
        let s = resolve(
            &args,
            &[
                (env::READ_LISTEN, "off"),
                (env::INFLIGHT_BUDGET, "20971520"),
            ],
        )
        .unwrap();
        assert_eq!((s.read_listen, s.inflight_budget), (None, 20 << 20));
        args.read_listen = Some("127.0.0.1:9002".into());
        args.inflight_budget = Some(6 << 20);
        let s = resolve(&args, &[(env::READ_LISTEN, "off")]).unwrap();
        assert_eq!(s.read_listen.as_deref(), Some("127.0.0.1:9002"));
        assert_eq!(s.inflight_budget, 6 << 20);

        let err = |args: &ServeArgs, env: &[(&str, &str)]| {
            format!("{:#}", resolve(args, env).unwrap_err())
        };
        let none = ServeArgs::default();
        let e = err(&none, &[(env::READ_TOKEN, "short")]);
        assert!(
            e.contains("read_token") && e.contains(env::READ_TOKEN),
            "{e}"
        );
        let e = err(&none, &[(env::READ_LISTEN, DEFAULT_LISTEN)]);
        assert!(e.contains("read_listen"), "{e}");
        let e = err(&none, &[(env::INFLIGHT_BUDGET, "1000")]);
        const { assert!(DEFAULT_INFLIGHT_BUDGET >= DEFAULT_BODY_LIMIT) };
        assert!(
            e.contains("inflight_budget") && e.contains("body_limit"),
            "{e}"
        );
        let e = err(&none, &[(env::INFLIGHT_BUDGET, "lots")]);
        assert!(e.contains(env::INFLIGHT_BUDGET), "{e}");
    }
}
