//! `sentry-repro jobs list|show|retry`: the job store from a terminal, for whoever is on call.
//!
//! The commands open the store file directly, not through [`super::Jobs::open`]: that takes the
//! state folder's exclusive lock, which a running `serve` holds. SQLite's WAL lets both read and
//! write at once, and a job put back in the queue by `retry` is picked up by the running service's
//! workers at their next poll (or by the next start).
//! The state folder is resolved as `serve` resolves it: `--state-dir`, else
//! `SENTRY_REPRO_STATE_DIR`, else the config file's `state_dir`, else `.sentry-repro`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use super::store::{JobRecord, JobState, Store};
use super::Durability;
use crate::config::{ServeArgs, Settings};

/// Where the store is: the same flags as `serve`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct StateArgs {
    /// Directory of the service's state (job store) [default: .sentry-repro].
    #[arg(long, global = true)]
    pub state_dir: Option<PathBuf>,
    /// TOML configuration file (its `state_dir` and `[jobs]` table).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
}

impl StateArgs {
    /// The service's settings for these flags and the process environment.
    pub fn settings(&self) -> Result<Settings> {
        Settings::from_args(&ServeArgs {
            state_dir: self.state_dir.clone(),
            config: self.config.clone(),
            ..ServeArgs::default()
        })
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct JobsArgs {
    #[command(flatten)]
    pub state: StateArgs,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: JobsCommand,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum JobsCommand {
    /// Most recent jobs first.
    List {
        /// Only jobs in this state (queued, running, done, ignored, failed).
        #[arg(long)]
        state: Option<String>,
        /// At most this many jobs.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// One job: state, issue, occurrences, branch, pull request, error.
    Show { id: String },
    /// Queue a failed (or ignored) job again with a fresh attempt budget.
    Retry { id: String },
}

/// Run a `jobs` command; returns the process exit code (0 done, 1 not found or refused).
pub fn run(args: &JobsArgs, out: &mut dyn Write) -> Result<u8> {
    let settings = args.state.settings()?;
    let db = settings.state_dir.join("state.db");
    if !db.is_file() {
        bail!(
            "no job store at {} (pass --state-dir, or set SENTRY_REPRO_STATE_DIR, as for serve)",
            db.display()
        );
    }
    let store = Store::open(&db, Durability::Normal)?;
    match &args.command {
        JobsCommand::List { state, limit } => {
            let state = state.as_deref().map(parse_state).transpose()?;
            let jobs = store.list(state, *limit)?;
            if args.json {
                writeln!(out, "{}", serde_json::to_string(&jobs)?)?;
            } else {
                write_table(out, &jobs)?;
            }
            Ok(0)
        }
        JobsCommand::Show { id } => {
            let Some(job) = store.job(id)? else {
                writeln!(out, "no job {id:?} in {}", db.display())?;
                return Ok(1);
            };
            if args.json {
                writeln!(out, "{}", serde_json::to_string(&job)?)?;
            } else {
                writeln!(out, "{}", serde_json::to_string_pretty(&job)?)?;
            }
            Ok(0)
        }
        JobsCommand::Retry { id } => {
            let num: i64 = id
                .trim()
                .parse()
                .with_context(|| format!("job id {id:?} is not a number"))?;
            match store.retry(num)? {
                Ok(()) => {
                    if args.json {
                        let job = store.job(id)?;
                        writeln!(out, "{}", serde_json::to_string(&job)?)?;
                    } else {
                        writeln!(
                            out,
                            "job {num} queued again: a running `sentry-repro serve` on this state \
                             folder runs it at its next poll, otherwise the next start does"
                        )?;
                        if store.raw_body_len(num)? == Some(0) {
                            writeln!(
                                out,
                                "its alert body was dropped when it ended: it runs from the \
                                 issue's identity (the latest event from the Sentry API with a \
                                 token, else a boilerplate test)"
                            )?;
                        }
                    }
                    Ok(0)
                }
                Err(why) => {
                    writeln!(out, "job {num} not retried: {why}")?;
                    Ok(1)
                }
            }
        }
    }
}

fn parse_state(s: &str) -> Result<JobState> {
    JobState::ALL
        .into_iter()
        .find(|st| st.as_str() == s.trim().to_ascii_lowercase())
        .with_context(|| {
            format!("--state {s:?}: expected one of queued, running, done, ignored, failed")
        })
}

fn write_table(out: &mut dyn Write, jobs: &[JobRecord]) -> Result<()> {
    writeln!(
        out,
        "{:>6}  {:<8}  {:<10}  {:<14}  {:>5}  {:>3}  {:<44}  DETAIL",
        "ID", "STATE", "KIND", "ISSUE", "SEEN", "TRY", "BRANCH"
    )?;
    for j in jobs {
        let detail = j
            .error
            .as_deref()
            .or(j.reason.as_deref())
            .or(j.pull_request.as_deref())
            .unwrap_or("");
        writeln!(
            out,
            "{:>6}  {:<8}  {:<10}  {:<14}  {:>5}  {:>3}  {:<44}  {}",
            j.id,
            j.state.as_str(),
            j.kind.as_deref().unwrap_or("-"),
            crate::render::comment(
                j.short_id
                    .as_deref()
                    .or(j.issue_id.as_deref())
                    .unwrap_or("-")
            ),
            j.occurrences
                .map(|n| n.to_string())
                .unwrap_or_else(|| "-".into()),
            j.attempts,
            j.branch.as_deref().unwrap_or("-"),
            crate::render::comment(detail)
        )?;
    }
    Ok(())
}
