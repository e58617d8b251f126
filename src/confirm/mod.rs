//! `generate --confirm`: hand over only a test proven red on the base commit for the reported reason.
//!
//! Static generation renders a test from the event and the source without ever running it, and on
//! real crashes that test often fails to flip with the real fix: it replays the innermost helper
//! while the developers fixed a caller, it replays a base class instead of the subclass, it misses
//! an environment variable, or it is even green on the buggy code. So generation becomes a search:
//! - the language lists candidates (`lang::Generator::candidates`), outermost replay first, since a
//!   fix may land anywhere between the entry point and the crash line and the outermost replay that
//!   still reproduces holds wherever it lands;
//! - the base commit is exported once (`verify::tree`), each candidate's files are laid over it and
//!   run with the repository's own runner (`verify::runner`) in a scrubbed environment ([`sandbox`]);
//! - the run is judged with verify's rule (`verify::judge`): only a failure for the reported reason
//!   (the generated test's REPRODUCED marker, the exception raised through the crash line) confirms;
//! - the first confirmed candidate is handed over; a candidate that passes on base or fails for
//!   another reason never is. When none confirms, the branch gets the language's fallback (the
//!   scaffold) and the note lists every candidate with what base printed.
//!
//! Bounded: at most `max_candidates` runs, each killed after `run_timeout_secs`, and no new run
//! after `alert_timeout_secs` (see [`ConfirmSettings`]).

pub mod sandbox;

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use git2::{Oid, Repository};
use serde::{Deserialize, Serialize};

use crate::contract::{Confirmation, Contract};
use crate::git::NewFile;
use crate::lang::{Candidates, GenOutput};
use crate::repo::is_safe_rel_path;
use crate::verify::judge::{self, Outcome};
use crate::verify::runner::{self, RepoSettings};
use crate::verify::{tree, SETTINGS_FILE};

/// The per-project `[confirm]` table (and `generate --confirm`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConfirmSettings {
    /// Run the search for every alert of the project (the server); off: today's static path.
    pub enabled: bool,
    /// Candidates run at most, per alert.
    pub max_candidates: usize,
    /// One candidate's run is killed after this many seconds (counted as not confirmed).
    pub run_timeout_secs: u64,
    /// No new candidate starts after this many seconds of one alert's search.
    pub alert_timeout_secs: u64,
    /// Wrapper template: `{command}` is the test command, `{root}` the exported base commit.
    pub command: Option<String>,
}

impl Default for ConfirmSettings {
    fn default() -> Self {
        ConfirmSettings {
            enabled: false,
            max_candidates: 6,
            run_timeout_secs: 20,
            alert_timeout_secs: 30,
            command: None,
        }
    }
}

/// `generate --confirm` and its limits (each overrides the `[confirm]` setting of the same name).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConfirmArgs {
    /// Run candidate tests on the base commit and hand over only one that fails there for the
    /// reported reason (else the scaffold, listing what was tried).
    #[arg(long)]
    pub confirm: bool,
    /// Candidates run at most [default: 6].
    #[arg(long, value_name = "N")]
    pub max_candidates: Option<usize>,
    /// Seconds before one candidate's run is killed [default: 20].
    #[arg(long, value_name = "SECS")]
    pub run_timeout: Option<u64>,
    /// Seconds after which no new candidate starts [default: 30].
    #[arg(long, value_name = "SECS")]
    pub alert_timeout: Option<u64>,
    /// Sandbox wrapper: `{command}` is the test command, `{root}` the exported base commit.
    #[arg(long, value_name = "TEMPLATE")]
    pub sandbox: Option<String>,
}

impl ConfirmArgs {
    pub fn apply(&self, settings: &mut ConfirmSettings) {
        settings.enabled |= self.confirm;
        if let Some(n) = self.max_candidates {
            settings.max_candidates = n;
        }
        if let Some(n) = self.run_timeout {
            settings.run_timeout_secs = n;
        }
        if let Some(n) = self.alert_timeout {
            settings.alert_timeout_secs = n;
        }
        if let Some(t) = &self.sandbox {
            settings.command = Some(t.clone());
        }
    }
}

/// One candidate as tried (or left out), for the note and `generate --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tried {
    pub label: String,
    pub strategy: String,
    /// `confirmed`, `passed_on_base`, `failed_other_reason`, `timed_out`, `no_tests`,
    /// `not_run`.
    pub outcome: String,
    /// The judge's words (or why it was not run).
    pub detail: String,
    /// What base printed, shortened.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub excerpt: String,
    pub duration_ms: u64,
}

/// The search's result: the output to commit and what was tried.
#[derive(Debug, Clone)]
pub struct Found {
    pub output: GenOutput,
    pub confirmed: bool,
    pub tried: Vec<Tried>,
    /// What base printed for the handed-over candidate (empty when none confirmed).
    pub base_excerpt: String,
}

/// The handed-over output with the search's outcome added to its reasons (note and commit).
pub fn with_reasons(found: &Found) -> GenOutput {
    let mut out = found.output.clone();
    let run = found
        .tried
        .iter()
        .filter(|t| t.outcome != "not_run")
        .count();
    let line = match found.tried.iter().find(|t| t.outcome == "confirmed") {
        Some(t) => format!(
            "confirmed on the base commit: {} failed there for the reported reason ({run} candidate(s) run)",
            t.label
        ),
        None if found.tried.is_empty() => {
            "not confirmed: the event supports no replay to run on the base commit".into()
        }
        None => format!(
            "not confirmed: none of the {} candidate(s) failed on the base commit for the reported reason ({run} run); see the candidates below",
            found.tried.len()
        ),
    };
    out.reasons.insert(0, line);
    out
}

/// The keys the contract gets.
pub fn confirmation(found: &Found) -> Confirmation {
    Confirmation {
        confirmed: found.confirmed,
        base_output: found.base_excerpt.clone(),
    }
}

/// Run the candidates on `base` in order and keep the first one base confirms.
pub fn search(
    repo: &Repository,
    base: Oid,
    cands: Candidates,
    settings: &ConfirmSettings,
    contract_of: impl Fn(&GenOutput) -> Contract,
) -> Result<Found> {
    if let Some(t) = &settings.command {
        sandbox::check_template(t)?;
    }
    let mut found = Found {
        output: cands.fallback,
        confirmed: false,
        tried: vec![],
        base_excerpt: String::new(),
    };
    let runnable: Vec<_> = cands
        .list
        .into_iter()
        .filter(|c| c.output.strategy.reproduces())
        .collect();
    if runnable.is_empty() {
        return Ok(found);
    }
    let repo_settings = match tree::read_file(repo, base, SETTINGS_FILE) {
        Some(text) => RepoSettings::parse(&text)?,
        None => RepoSettings::default(),
    };
    let export = tree::export_commit(repo, base, "confirm").context("exporting the base commit")?;
    let start = Instant::now();
    let alert_limit = Duration::from_secs(settings.alert_timeout_secs.max(1));
    for (i, cand) in runnable.into_iter().enumerate() {
        let left = alert_limit.saturating_sub(start.elapsed());
        let skip = if i >= settings.max_candidates {
            Some(format!(
                "max_candidates ({}) reached",
                settings.max_candidates
            ))
        } else if left.is_zero() {
            Some(format!(
                "alert_timeout_secs ({}) spent",
                settings.alert_timeout_secs
            ))
        } else {
            None
        };
        if let Some(why) = skip {
            found.tried.push(not_run(&cand.label, &cand.output, why));
            continue;
        }
        let timeout = left.min(Duration::from_secs(settings.run_timeout_secs.max(1)));
        let contract = contract_of(&cand.output);
        let (tried, output) = run_candidate(
            &cand.label,
            &cand.output,
            &contract,
            &export,
            &repo_settings,
            settings,
            timeout,
        )?;
        let confirmed = tried.outcome == "confirmed";
        found.tried.push(tried);
        if confirmed {
            found.base_excerpt = excerpt(&output);
            found.output = cand.output;
            found.confirmed = true;
            break;
        }
    }
    Ok(found)
}

fn not_run(label: &str, out: &GenOutput, why: String) -> Tried {
    Tried {
        label: label.to_string(),
        strategy: out.strategy.as_str().into(),
        outcome: "not_run".into(),
        detail: why,
        excerpt: String::new(),
        duration_ms: 0,
    }
}

/// Lay one candidate's files over the export, run its test, judge it, take the files away again.
fn run_candidate(
    label: &str,
    out: &GenOutput,
    contract: &Contract,
    export: &tree::Export,
    repo_settings: &RepoSettings,
    settings: &ConfirmSettings,
    timeout: Duration,
) -> Result<(Tried, String)> {
    let root = export.path();
    let saved = lay_over(root, &out.files)?;
    let cmd = runner::test_command(contract, &repo_settings.verify, root);
    let run = sandbox::run(&cmd, root, settings.command.as_deref(), timeout);
    restore(root, saved)?;
    let run = run?;
    let outcome = match runner::runner_missing(&run) {
        Some(why) => Outcome::FailWrong(format!("test runner missing: {why}")),
        None => judge::classify(&run, contract),
    };
    let (name, detail) = match &outcome {
        Outcome::FailRight(r) => (
            "confirmed",
            format!("failed on base for the reported reason: {r}"),
        ),
        Outcome::Pass => (
            "passed_on_base",
            "passed on base: green on the buggy code".into(),
        ),
        Outcome::FailWrong(r) => (
            "failed_other_reason",
            format!("failed on base for another reason: {r}"),
        ),
        Outcome::Timeout => ("timed_out", format!("killed after {} s", timeout.as_secs())),
        Outcome::NoTests => ("no_tests", "no test ran".into()),
    };
    let tried = Tried {
        label: label.to_string(),
        strategy: out.strategy.as_str().into(),
        outcome: name.into(),
        detail,
        excerpt: excerpt(&run.output),
        duration_ms: run.duration_ms,
    };
    Ok((tried, run.output))
}

/// Write `files` under `root`; returns each path with what it held before (None: absent).
fn lay_over(root: &Path, files: &[NewFile]) -> Result<Vec<(String, Option<Vec<u8>>)>> {
    let mut saved = Vec::new();
    for f in files {
        if !is_safe_rel_path(&f.path) {
            anyhow::bail!("refusing to write unsafe candidate path {:?}", f.path);
        }
        let dest = root.join(&f.path);
        saved.push((f.path.clone(), std::fs::read(&dest).ok()));
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&dest, &f.content).with_context(|| format!("writing {}", dest.display()))?;
    }
    Ok(saved)
}

fn restore(root: &Path, saved: Vec<(String, Option<Vec<u8>>)>) -> Result<()> {
    for (path, before) in saved.into_iter().rev() {
        let dest = root.join(&path);
        match before {
            Some(bytes) => std::fs::write(&dest, bytes)?,
            None => std::fs::remove_file(&dest).or_else(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Ok(()),
                _ => Err(e),
            })?,
        }
    }
    Ok(())
}

/// What base printed, short: the runner's error lines (`E   …`, markers), else the last lines.
pub fn excerpt(output: &str) -> String {
    const MAX_LINES: usize = 8;
    const MAX_CHARS: usize = 800;
    let picked: Vec<&str> = output
        .lines()
        .filter(|l| {
            l.starts_with("E ") || l.contains("SENTRY-REPRO") || l.contains("[sentry-repro:")
        })
        .take(MAX_LINES)
        .collect();
    let mut text = if picked.is_empty() {
        runner::tail(output.trim_end(), MAX_LINES)
    } else {
        let mut lines = picked;
        if let Some(last) = output.lines().rev().find(|l| !l.trim().is_empty()) {
            if !lines.contains(&last) {
                lines.push(last);
            }
        }
        lines.join("\n")
    };
    if text.chars().count() > MAX_CHARS {
        text = text.chars().take(MAX_CHARS).collect::<String>() + " …";
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ServeArgs, Settings};

    fn settings_from(toml: &str) -> Result<Settings> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sentry-repro.toml");
        std::fs::write(&path, toml).unwrap();
        let args = ServeArgs {
            config: Some(path),
            allow_unsigned: true,
            ..Default::default()
        };
        Settings::resolve(&args, |_| None)
    }

    #[test]
    fn the_confirm_table_per_project_and_for_the_implicit_project() {
        let s = settings_from(
            "[[project]]\nrepo = \"/r\"\n[project.confirm]\nenabled = true\nmax_candidates = 2\ncommand = \"bwrap {command}\"\n\n[[project]]\nrepo = \"/s\"\nslug = \"s\"\n",
        )
        .unwrap();
        let c = &s.projects[0].confirm;
        assert!(c.enabled);
        assert_eq!(c.max_candidates, 2);
        assert_eq!(
            c.run_timeout_secs,
            ConfirmSettings::default().run_timeout_secs
        );
        assert_eq!(c.command.as_deref(), Some("bwrap {command}"));
        assert!(!s.projects[1].confirm.enabled, "off unless asked for");

        let s = settings_from("[confirm]\nenabled = true\nalert_timeout_secs = 9\n").unwrap();
        assert!(s.implicit_project && s.projects[0].confirm.enabled);
        assert_eq!(s.projects[0].confirm.alert_timeout_secs, 9);

        let e = format!(
            "{:#}",
            settings_from("[confirm]\nenable = true\n").unwrap_err()
        );
        assert!(e.contains("enable"), "the error names the key: {e}");
    }

    #[test]
    fn the_excerpt_keeps_error_lines_and_the_summary() {
        let out = "....\nsome noise\nE   ZeroDivisionError: division by zero\nE   SENTRY-REPRO: REPRODUCED\nnoise\n1 failed in 0.1s\n";
        assert_eq!(
            excerpt(out),
            "E   ZeroDivisionError: division by zero\nE   SENTRY-REPRO: REPRODUCED\n1 failed in 0.1s"
        );
        assert_eq!(excerpt("a\nb\n"), "a\nb");
        assert!(excerpt(&"E x\n".repeat(2000)).chars().count() <= 802);
    }
}
