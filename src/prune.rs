//! `sentry-repro prune`: clean up `fix/sentry-*` branches that are no longer needed.
//!
//! Every alerted issue leaves a branch; without cleanup a busy project collects hundreds. A branch
//! is a candidate when it is merged into the base (its tip is the base or one of its ancestors),
//! older than `--older-than` days (by the timestamp in its name, else its tip's commit time), or
//! its Sentry issue is resolved (asked through the Sentry API when a token is configured).
//!
//! * Dry run by default: the candidates and their reasons are listed, nothing is deleted.
//! * `--apply` deletes each candidate and its `sentry-repro/<issue>` pin tag when there is one.
//! * A branch checked out in any work tree is never deleted (listed as kept).
//! * The issue's claim ref (`refs/sentry-repro/issues/<id>`) stays: a later alert of a pruned
//!   issue is recorded, not generated again, until that ref is deleted by hand.
//! * Squash or rebase merges leave the tip outside the base: those count as merged only through
//!   Sentry (resolved) or age.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use git2::{BranchType, Repository};
use serde::Serialize;

use crate::jobs::cli::StateArgs;
use crate::jobs::{sentry_api, JobsConfig};

#[derive(Debug, Clone, Default, clap::Args)]
pub struct PruneArgs {
    /// Git repository (any folder inside it).
    #[arg(long, default_value = ".")]
    pub repo: PathBuf,
    /// Base ref branches are merged into; default: origin/HEAD, else main or master.
    #[arg(long)]
    pub base: Option<String>,
    /// Also prune branches created more than this many days ago.
    #[arg(long, value_name = "DAYS")]
    pub older_than: Option<u64>,
    /// Delete the candidates (default: only list them).
    #[arg(long)]
    pub apply: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// TOML configuration file: the Sentry token, URL and organization of its `[jobs]` table
    /// (the environment overrides them, as for serve).
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// One `fix/sentry-*` branch that matched at least one rule.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Candidate {
    pub branch: String,
    pub issue: String,
    /// `merged into <base>`, `older than N days`, `Sentry issue resolved`.
    pub reasons: Vec<String>,
    /// Checked out in a work tree: never deleted.
    pub checked_out: bool,
    pub deleted: bool,
    /// The `sentry-repro/<issue>` tag was deleted with the branch.
    pub tag_deleted: bool,
}

/// What the rules look at, apart from the repository.
pub struct Rules<'a> {
    pub base: Option<&'a str>,
    pub older_than_days: Option<u64>,
    pub now: chrono::DateTime<chrono::Utc>,
    /// Sentry status of an issue (`Ok(None)`: unknown, no token).
    pub status: &'a dyn Fn(&str) -> Result<Option<String>>,
}

/// Issue id and creation time from `fix/sentry-<issue>-<YYYYmmddTHHMMSSZ>`.
pub fn parse_branch(name: &str) -> Option<(String, Option<chrono::DateTime<chrono::Utc>>)> {
    let rest = name.strip_prefix("fix/sentry-")?;
    let stamped = rest.rsplit_once('-').and_then(|(issue, ts)| {
        let when = chrono::NaiveDateTime::parse_from_str(ts, "%Y%m%dT%H%M%SZ").ok()?;
        (!issue.is_empty()).then(|| (issue.to_string(), Some(when.and_utc())))
    });
    Some(stamped.unwrap_or_else(|| (rest.to_string(), None)))
}

/// The candidates, nothing deleted. Warnings (a Sentry lookup that failed) go to `warn`.
pub fn plan(
    repo: &Repository,
    rules: &Rules,
    warn: &mut dyn FnMut(String),
) -> Result<Vec<Candidate>> {
    let base_name = match rules.base {
        Some(b) => b.to_string(),
        None => crate::verify::discover::default_base(repo)?,
    };
    let base = repo
        .revparse_single(&base_name)
        .and_then(|o| o.peel_to_commit())
        .with_context(|| format!("base {base_name:?} is not a commit"))?
        .id();
    let checked_out = crate::git::checked_out_branches(repo)?;
    let mut out = Vec::new();
    for b in repo.branches(Some(BranchType::Local))? {
        let (branch, _) = b?;
        let Some(name) = branch.name()?.map(str::to_owned) else {
            continue;
        };
        let Some((issue, created)) = parse_branch(&name) else {
            continue;
        };
        let tip = branch.get().peel_to_commit()?;
        let mut reasons = Vec::new();
        if tip.id() == base || repo.graph_descendant_of(base, tip.id())? {
            reasons.push(format!("merged into {base_name}"));
        }
        if let Some(days) = rules.older_than_days {
            let created =
                created.or_else(|| chrono::DateTime::from_timestamp(tip.time().seconds(), 0));
            if created.is_some_and(|c| rules.now - c > chrono::Duration::days(days as i64)) {
                reasons.push(format!("older than {days} days"));
            }
        }
        match (rules.status)(&issue) {
            Ok(Some(s)) if s == "resolved" => reasons.push("Sentry issue resolved".into()),
            Ok(_) => {}
            Err(e) => warn(format!("{name}: Sentry status unknown: {e:#}")),
        }
        if !reasons.is_empty() {
            out.push(Candidate {
                checked_out: checked_out.contains(&name),
                branch: name,
                issue,
                reasons,
                deleted: false,
                tag_deleted: false,
            });
        }
    }
    Ok(out)
}

/// Delete the candidates that are not checked out, and their pin tags.
pub fn apply(repo: &Repository, candidates: &mut [Candidate]) -> Result<()> {
    for c in candidates.iter_mut().filter(|c| !c.checked_out) {
        // Checked again right before deleting: a checkout since `plan` wins.
        if crate::git::is_checked_out(repo, &c.branch)? {
            c.checked_out = true;
            continue;
        }
        repo.find_branch(&c.branch, BranchType::Local)?
            .delete()
            .with_context(|| format!("deleting {}", c.branch))?;
        c.deleted = true;
        if let Ok(mut tag) = repo.find_reference(&format!("refs/tags/sentry-repro/{}", c.issue)) {
            tag.delete()
                .with_context(|| format!("deleting tag sentry-repro/{}", c.issue))?;
            c.tag_deleted = true;
        }
    }
    Ok(())
}

/// The `prune` command; returns the exit code.
pub fn run(args: &PruneArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8> {
    let repo = Repository::discover(&args.repo)
        .with_context(|| format!("{} is not in a git repository", args.repo.display()))?;
    let state = StateArgs {
        state_dir: None,
        config: args.config.clone(),
    };
    let cfg = JobsConfig::from_settings(&state.settings()?)?;
    let status = |issue: &str| sentry_api::issue_status(&cfg, issue);
    let rules = Rules {
        base: args.base.as_deref(),
        older_than_days: args.older_than,
        now: chrono::Utc::now(),
        status: &status,
    };
    let mut warnings = Vec::new();
    let mut candidates = plan(&repo, &rules, &mut |w| warnings.push(w))?;
    if args.apply {
        apply(&repo, &mut candidates)?;
    }
    for w in &warnings {
        writeln!(err, "warning: {}", crate::jobs::push::redact(w))?;
    }
    if args.json {
        writeln!(out, "{}", serde_json::to_string(&candidates)?)?;
        return Ok(0);
    }
    for c in &candidates {
        let what = match (c.checked_out, c.deleted) {
            (true, _) => "kept (checked out in a work tree)",
            (false, true) if c.tag_deleted => "deleted (and its pin tag)",
            (false, true) => "deleted",
            (false, false) => "would delete",
        };
        writeln!(out, "{what}: {} ({})", c.branch, c.reasons.join(", "))?;
    }
    let n = candidates.iter().filter(|c| c.deleted).count();
    if args.apply {
        writeln!(out, "{n} branch(es) deleted")?;
    } else {
        writeln!(
            out,
            "{} candidate(s); dry run, nothing deleted (pass --apply to delete)",
            candidates.len()
        )?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_names() {
        let (issue, when) = parse_branch("fix/sentry-my-issue-20231114T221320Z").unwrap();
        assert_eq!(issue, "my-issue");
        assert_eq!(when.unwrap().timestamp(), 1_700_000_000);
        assert_eq!(parse_branch("fix/sentry-42").unwrap().0, "42");
        assert_eq!(
            parse_branch("fix/sentry-a-b").unwrap(),
            ("a-b".into(), None)
        );
        assert!(parse_branch("feature/x").is_none());
    }
}
