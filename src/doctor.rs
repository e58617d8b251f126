//! `sentry-repro doctor`: the checks a newcomer needs before the first alert, each with its fix.
//!
//! A service that starts on a path it cannot use fails every job later, far from the cause. These
//! checks name the cause up front, and `serve` runs the blocking ones at start:
//! - configuration: it resolves (file, environment, flags) and a client secret is set;
//! - per project: a git repository libgit2 will open (owner check included), a base that resolves,
//!   the remote answering (`git ls-remote`, short timeout; skipped without a remote), and the
//!   runner toolchains of the languages found at the base on PATH;
//! - `--send-sample URL`: one signed `event_alert` delivery to a running service, its answer printed.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use sentry_repro::config::{ProjectConfig, ServeArgs, Settings};
use sentry_repro::{pipeline, repo};

/// How long the remote may take to list its refs.
const REMOTE_TIMEOUT: Duration = Duration::from_secs(10);

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Warn,
    Fail,
    Skip,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
            Status::Skip => "skip",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Check {
    pub status: Status,
    /// What was checked (`repository /srv/app`, `base`, `toolchain python`).
    pub what: String,
    pub detail: String,
}

impl Check {
    fn new(status: Status, what: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            status,
            what: what.into(),
            detail: detail.into(),
        }
    }
}

/// `sentry-repro doctor`: print every check; exit 1 when one failed.
pub fn run(args: &ServeArgs, send_sample: Option<&str>) -> Result<bool> {
    let mut checks = Vec::new();
    let settings = match Settings::from_args(args) {
        Ok(s) => s,
        Err(e) => {
            print(&[Check::new(Status::Fail, "configuration", format!("{e:#}"))]);
            return Ok(false);
        }
    };
    checks.push(Check::new(
        Status::Ok,
        "configuration",
        match &settings.config_file {
            Some(f) => format!("{} ({} project(s))", f.display(), settings.projects.len()),
            None => "no config file: one project, the --repo folder".to_string(),
        },
    ));
    checks.push(match settings.require_secret() {
        Ok(()) if settings.client_secret.is_some() => {
            Check::new(Status::Ok, "client secret", "set")
        }
        Ok(()) => Check::new(
            Status::Warn,
            "client secret",
            "none: unsigned requests are accepted (local trials only)",
        ),
        Err(e) => Check::new(Status::Fail, "client secret", format!("{e:#}")),
    });
    for p in &settings.projects {
        checks.extend(project_checks(p, true));
    }
    print(&checks);
    let mut ok = checks.iter().all(|c| c.status != Status::Fail);
    if let Some(url) = send_sample {
        ok &= send_sample_delivery(&settings, url)?;
    }
    Ok(ok)
}

fn print(checks: &[Check]) {
    for c in checks {
        println!("{:<5} {}: {}", c.status.as_str(), c.what, c.detail);
    }
}

/// The checks of one project. `remote`: also ask the remote (a network round trip).
pub fn project_checks(p: &ProjectConfig, remote: bool) -> Vec<Check> {
    let path = p.repo.display().to_string();
    let what = format!("repository {path}");
    let repo = match repo::open(&p.repo) {
        Ok(r) => r,
        Err(e) => return vec![Check::new(Status::Fail, what, e.to_string())],
    };
    let mut checks = vec![Check::new(Status::Ok, what, "git repository")];
    let base = match pipeline::resolve_base(&repo, p, None) {
        Ok((name, oid)) => {
            let short = oid.to_string()[..12].to_string();
            checks.push(Check::new(
                Status::Ok,
                "  base",
                format!("{name} at {short}"),
            ));
            Some(oid)
        }
        Err(e) => {
            checks.push(Check::new(Status::Fail, "  base", words(&e)));
            None
        }
    };
    if remote {
        checks.push(remote_check(p));
    }
    if let Some(base) = base {
        checks.extend(toolchain_checks(&repo, base, p.language.as_deref()));
    }
    checks
}

/// What `serve` runs at start: toolchain and language gaps are logged; a project it cannot use
/// (not a repository, foreign owner, base unresolvable) stops the start, naming the fix.
pub fn startup(settings: &Settings) -> Result<()> {
    let mut blocking = Vec::new();
    for p in &settings.projects {
        for c in project_checks(p, false) {
            let line = format!("{}: {}", c.what.trim(), c.detail);
            match c.status {
                Status::Fail => blocking.push(line),
                Status::Warn => tracing::warn!(repo = %p.repo.display(), "{line}"),
                Status::Ok | Status::Skip => {}
            }
        }
    }
    if !blocking.is_empty() {
        bail!(
            "refusing to start: {}\n(`sentry-repro doctor` runs every check)",
            blocking.join("\n")
        );
    }
    Ok(())
}

/// An error in words: each message of the chain except libgit2's raw text (kept when it is all).
pub fn words(e: &anyhow::Error) -> String {
    let parts: Vec<String> = e
        .chain()
        .filter(|c| c.downcast_ref::<git2::Error>().is_none())
        .map(|c| c.to_string())
        .collect();
    if parts.is_empty() {
        return e
            .chain()
            .find_map(|c| c.downcast_ref::<git2::Error>())
            .map(|g| g.message().to_string())
            .unwrap_or_else(|| e.to_string());
    }
    parts.join(": ")
}

fn remote_check(p: &ProjectConfig) -> Check {
    let Some(remote) = p.remote.as_deref() else {
        return Check::new(
            Status::Skip,
            "  remote",
            "no `remote` configured: branches stay in the local repository",
        );
    };
    let mut cmd = Command::new("git");
    cmd.args(["ls-remote", "--heads", "--", remote])
        .current_dir(&p.repo)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env(
            "GIT_SSH_COMMAND",
            "ssh -o BatchMode=yes -o ConnectTimeout=5",
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let what = format!("  remote {remote}");
    match run_with_timeout(cmd, REMOTE_TIMEOUT) {
        Ok((true, _)) => Check::new(Status::Ok, what, "reachable"),
        Ok((false, err)) => Check::new(
            Status::Fail,
            what,
            format!(
                "`git ls-remote` failed: {}",
                err.lines().last().unwrap_or("").trim()
            ),
        ),
        Err(e) => Check::new(Status::Fail, what, format!("{e:#}")),
    }
}

/// Run `cmd`; kill it at the deadline. `(success, stderr)`.
fn run_with_timeout(mut cmd: Command, timeout: Duration) -> Result<(bool, String)> {
    let mut child = cmd.spawn().context("cannot run git (is it installed?)")?;
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            let err = child
                .stderr
                .take()
                .map(|s| std::io::read_to_string(s).unwrap_or_default())
                .unwrap_or_default();
            return Ok((status.success(), err));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("no answer within {} s", timeout.as_secs());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The languages whose manifest is at the root of the base tree (or the configured one).
fn languages(repo: &git2::Repository, base: git2::Oid, configured: Option<&str>) -> Vec<String> {
    if let Some(l) = configured {
        return vec![l.to_string()];
    }
    let Ok(snap) = repo::Snapshot::at(repo, base) else {
        return vec![];
    };
    const MANIFESTS: &[(&str, &str)] = &[
        ("pyproject.toml", "python"),
        ("setup.py", "python"),
        ("setup.cfg", "python"),
        ("requirements.txt", "python"),
        ("manage.py", "python"),
        ("package.json", "javascript"),
        ("go.mod", "go"),
        ("pom.xml", "java"),
        ("build.gradle", "java"),
        ("build.gradle.kts", "java"),
        ("Cargo.toml", "rust"),
    ];
    let mut found: Vec<String> = Vec::new();
    for (file, lang) in MANIFESTS {
        if snap.is_file(file) && !found.iter().any(|l| l == lang) {
            found.push(lang.to_string());
        }
    }
    found
}

/// The commands a language's generated tests and its suite run, each with the argument that
/// proves it works.
fn tools_for(language: &str) -> &'static [(&'static str, &'static [&'static str])] {
    match language {
        "python" => &[("python", &["-c", "import pytest"])],
        "javascript" => &[("node", &["--version"]), ("npm", &["--version"])],
        "go" => &[("go", &["version"])],
        "java" => &[("java", &["-version"]), ("mvn", &["--version"])],
        "rust" => &[("cargo", &["--version"])],
        _ => &[],
    }
}

fn toolchain_checks(
    repo: &git2::Repository,
    base: git2::Oid,
    configured: Option<&str>,
) -> Vec<Check> {
    let langs = languages(repo, base, configured);
    if langs.is_empty() {
        return vec![Check::new(
            Status::Warn,
            "  language",
            "no manifest (pyproject.toml, package.json, go.mod, pom.xml, Cargo.toml) at the \
             base's root: set `language` for the project",
        )];
    }
    let mut checks = Vec::new();
    for lang in &langs {
        for (tool, args) in tools_for(lang) {
            let ok = Command::new(tool)
                .args(*args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            let what = format!("  toolchain {lang}");
            checks.push(if ok {
                Check::new(Status::Ok, what, format!("{tool} runs"))
            } else if *tool == "python" {
                Check::new(
                    Status::Warn,
                    what,
                    "`python -c 'import pytest'` fails: put a Python with pytest on PATH as \
                     `python` (e.g. a venv) so the repro tests and `verify` can run",
                )
            } else {
                Check::new(
                    Status::Warn,
                    what,
                    format!("`{tool}` is not on PATH: the repro tests and `verify` need it"),
                )
            });
        }
    }
    checks
}

/// POST one signed sample `event_alert` to a running service and print its answer.
fn send_sample_delivery(settings: &Settings, url: &str) -> Result<bool> {
    let url = if url.trim_end_matches('/').matches('/').count() <= 2 {
        format!("{}/handle-sentry-alert", url.trim_end_matches('/'))
    } else {
        url.to_string()
    };
    let body = serde_json::to_vec(&sample_body())?;
    let mut req = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .build()
        .post(&url)
        .set("Content-Type", "application/json")
        .set("Sentry-Hook-Resource", "event_alert")
        .set(
            "Sentry-Hook-Timestamp",
            &chrono::Utc::now().timestamp().to_string(),
        );
    match &settings.client_secret {
        Some(secret) => {
            req = req.set(
                "Sentry-Hook-Signature",
                &sentry_repro::server::sign(secret.as_bytes(), &body),
            )
        }
        None => println!("note  no client secret configured: the sample goes unsigned"),
    }
    let (status, text) = match req.send_bytes(&body) {
        Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
        Err(e) => {
            println!("FAIL  sample delivery to {url}: {e}");
            return Ok(false);
        }
    };
    let ok = (200..300).contains(&status);
    println!(
        "{:<5} sample delivery to {url}: HTTP {status} {}",
        if ok { "ok" } else { "FAIL" },
        text.trim()
    );
    if ok {
        println!(
            "      the service queued issue `doctor-sample`: its job writes a branch \
             fix/sentry-doctor-sample-* (delete it when done)"
        );
    }
    Ok(ok)
}

/// A minimal Integration Platform `event_alert.triggered` body.
fn sample_body() -> serde_json::Value {
    serde_json::json!({
        "action": "triggered",
        "installation": {"uuid": "sentry-repro-doctor"},
        "data": {
            "triggered_rule": "sentry-repro doctor --send-sample",
            "event": {
                "event_id": "00000000000000000000000000d0c702",
                "issue_id": "doctor-sample",
                "title": "SampleError: sent by sentry-repro doctor",
                "exception": {"values": [{
                    "type": "SampleError",
                    "value": "sent by sentry-repro doctor"
                }]}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_drop_libgit2_detail_unless_it_is_all_there_is() {
        let raw = git2::Error::new(
            git2::ErrorCode::NotFound,
            git2::ErrorClass::Reference,
            "revspec 'foo' not found",
        );
        let wrapped = anyhow::Error::new(raw).context("base ref 'foo' not found in /repo");
        assert_eq!(words(&wrapped), "base ref 'foo' not found in /repo");
        let bare = anyhow::Error::new(git2::Error::new(
            git2::ErrorCode::NotFound,
            git2::ErrorClass::Tree,
            "the path 'x' does not exist",
        ));
        assert_eq!(words(&bare), "the path 'x' does not exist");
        assert!(!format!("{bare}").is_empty());
    }
}
