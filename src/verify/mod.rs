//! `sentry-repro verify`: the gate a fix branch must pass before merge.
//!
//! Agents (and people) claim "tests pass" when they did not run, or when zero tests ran. This gate
//! re-runs everything itself from git objects: each repro test must fail on the merge-base (with
//! the pinned repro files laid over it) for the reported reason every time, pass on head every time
//! with at least one test really run, and the project's suite must not fail on head where it passed
//! on base. The branch under review is the fixer's, so it is never trusted for what is judged: the
//! test, the contract and the commands come from the pin (`pinned`), and a head that changed them or
//! the runner's configuration is `TAMPERED` (`tamper`). Nothing touches the user's working tree,
//! index or HEAD: both sides are exported to temporary directories.
//!
//! Submodules: `discover` (refs, merge-base, contracts), `pinned` (the reference commit), `tamper`
//! (what head must not change), `tree` (exports), `runner` (commands, timeouts, runner output
//! parsing), `judge` (outcomes and verdicts), `report` (terminal, JSON, JUnit), `sentry` (optional
//! issue resolution).

pub mod discover;
pub mod judge;
pub mod pinned;
pub mod report;
pub mod runner;
pub mod sentry;
pub mod tamper;
pub mod tree;

use std::collections::HashSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use git2::Repository;

use discover::ReproTest;
use judge::{Outcome, Verdict};
use report::{Progress, Report, RunReport, SuiteReport, TestReport};
use runner::{RepoSettings, RunOutput};
use tree::Export;

pub const DEFAULT_RUNS: u32 = 2;
pub const DEFAULT_TIMEOUT_SECS: u64 = 600;
/// Read from the merge-base, so a fix branch cannot loosen its own gate.
pub const SETTINGS_FILE: &str = ".sentry-repro.toml";

#[derive(Debug, Clone)]
pub struct VerifyOptions {
    pub repo: PathBuf,
    pub base: Option<String>,
    pub head: String,
    pub tests: Vec<String>,
    pub runs: u32,
    pub json: Option<PathBuf>,
    pub junit: Option<PathBuf>,
    pub no_suite: bool,
    pub timeout_secs: Option<u64>,
    pub resolve_sentry: bool,
    /// A human approved head's changes to the runner's configuration (conftest.py, pytest.ini,
    /// jest config, package.json test settings, Surefire…): they do not make the test `TAMPERED`.
    pub allow_config_change: bool,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            repo: ".".into(),
            base: None,
            head: "HEAD".into(),
            tests: vec![],
            runs: DEFAULT_RUNS,
            json: None,
            junit: None,
            no_suite: false,
            timeout_secs: None,
            resolve_sentry: false,
            allow_config_change: false,
        }
    }
}

/// Run the gate, print the outcome, write the requested reports. `Err` is a usage or environment
/// error (exit 2); otherwise the report's `exit_code` is 0 (passed) or 1 (gate failed).
pub fn run(opts: &VerifyOptions) -> Result<Report> {
    if opts.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let progress = Progress {
        tty: std::io::stderr().is_terminal(),
    };
    let repo = Repository::discover(&opts.repo).map_err(|e| {
        anyhow!(
            "{} is not a git repository: {}",
            opts.repo.display(),
            e.message()
        )
    })?;
    warn_if_dirty(&repo);
    let Refs {
        head,
        base_spec,
        merge_base,
        settings,
        timeout,
    } = resolve_refs(&repo, opts)?;
    let tests = select_tests(&repo, opts, merge_base, head, &base_spec)?;
    let sentry_api = if opts.resolve_sentry {
        Some(sentry::SentryApi::from_env()?)
    } else {
        None
    };
    progress.step(&format!(
        "{} repro test(s); base {base_spec} (merge-base {}), head {} ({}); {} run(s) each, timeout {}s",
        tests.len(),
        short(&merge_base.to_string()),
        opts.head,
        short(&head.to_string()),
        opts.runs,
        timeout.as_secs()
    ));
    let judged = pin_tests(&repo, merge_base, head, tests, opts, &progress)?;
    let sides = Sides {
        repo: &repo,
        settings: &settings,
        merge_base,
        head,
        workdir: repo.workdir().map(Path::to_path_buf),
        timeout,
        progress: &progress,
    };
    let (reports, suites) = sides.run(&judged, opts)?;

    let all_flipped = reports.iter().all(|r| r.verdict == Verdict::Flipped);
    let mut report = Report {
        ok: false,
        exit_code: 1,
        base: base_spec,
        head: opts.head.clone(),
        merge_base: merge_base.to_string(),
        head_commit: head.to_string(),
        runs: opts.runs,
        tests: reports,
        suites,
        sentry: None,
    };
    report.ok = all_flipped && !report.regressed();
    report.exit_code = if report.ok { 0 } else { 1 };

    let mut sentry_error = None;
    if let (true, Some(api)) = (report.ok, &sentry_api) {
        let (resolved, err) = resolve_issues(api, &judged, &progress);
        report.sentry = Some(resolved);
        sentry_error = err;
    }

    report::print_summary(&report, std::io::stdout().is_terminal());
    if let Some(p) = &opts.json {
        report::write_json(&report, p)?;
    }
    if let Some(p) = &opts.junit {
        report::write_junit(&report, p)?;
    }
    if let Some(e) = sentry_error {
        // The gate passed but the requested resolution did not happen: an environment error.
        return Err(e.context("the gate passed, but resolving the Sentry issue failed"));
    }
    Ok(report)
}

/// The commits and settings one gate run is about.
struct Refs {
    head: git2::Oid,
    base_spec: String,
    merge_base: git2::Oid,
    /// `.sentry-repro.toml` of the merge-base: a fix branch cannot loosen its own gate.
    settings: RepoSettings,
    timeout: Duration,
}

fn resolve_refs(repo: &Repository, opts: &VerifyOptions) -> Result<Refs> {
    let head = discover::resolve_commit(repo, &opts.head)?;
    let base_spec = match &opts.base {
        Some(b) => b.clone(),
        None => discover::default_base(repo)?,
    };
    let base = discover::resolve_commit(repo, &base_spec)?;
    let merge_base = repo
        .merge_base(base, head)
        .map_err(|_| anyhow!("{base_spec} and {} have no common ancestor", opts.head))?;
    let settings = match tree::read_file(repo, merge_base, SETTINGS_FILE) {
        Some(text) => RepoSettings::parse(&text)?,
        None => RepoSettings::default(),
    };
    let timeout = Duration::from_secs(
        opts.timeout_secs
            .or(settings.verify.timeout_secs)
            .unwrap_or(DEFAULT_TIMEOUT_SECS)
            .max(1),
    );
    Ok(Refs {
        head,
        base_spec,
        merge_base,
        settings,
        timeout,
    })
}

/// `verify` judges commits: say so when the work tree holds changes it will not see.
fn warn_if_dirty(repo: &Repository) {
    if repo.is_bare() {
        return;
    }
    let mut o = git2::StatusOptions::new();
    o.include_untracked(true)
        .include_ignored(false)
        .exclude_submodules(true);
    if let Ok(st) = repo.statuses(Some(&mut o)) {
        if !st.is_empty() {
            eprintln!(
                "verify: warning: the work tree has uncommitted changes ({} path(s)); only commits are judged",
                st.len()
            );
        }
    }
}

/// The contracts the branch added or changed (or `--test`), plus every pin on the branch: a
/// branch that deleted its contract and test is still judged against its pin.
fn select_tests(
    repo: &Repository,
    opts: &VerifyOptions,
    merge_base: git2::Oid,
    head: git2::Oid,
    base_spec: &str,
) -> Result<Vec<ReproTest>> {
    let mut tests = if opts.tests.is_empty() {
        discover::changed_contracts(repo, merge_base, head)?
    } else {
        let all = discover::head_contracts(repo, head);
        discover::explicit_tests(repo, head, &opts.tests, &all)?
    };
    if opts.tests.is_empty() {
        for issue in pinned::pins_on_branch(repo, merge_base, head)? {
            let known = tests.iter().any(|t| {
                t.contract.issue_id == issue
                    || t.contract_path
                        .as_deref()
                        .and_then(crate::pin::issue_of_contract)
                        == Some(issue.as_str())
            });
            if !known {
                tests.extend(pinned::test_of_pin(repo, &issue)?);
            }
        }
    }
    if tests.is_empty() {
        bail!(
            "no repro contract (repro/sentry-*.json) added or changed between {} ({base_spec}) and {}; pass --test PATH",
            short(&merge_base.to_string()),
            opts.head
        );
    }
    Ok(tests)
}

/// One repro test, the reference it is judged against, and what head changed that it must not.
struct Judged {
    /// With the pinned contract: the test, expectations and commands come from the pin.
    test: ReproTest,
    pin: Option<pinned::Pinned>,
    tampered: Vec<String>,
}

fn pin_tests(
    repo: &Repository,
    merge_base: git2::Oid,
    head: git2::Oid,
    tests: Vec<ReproTest>,
    opts: &VerifyOptions,
    progress: &Progress,
) -> Result<Vec<Judged>> {
    let mut judged: Vec<Judged> = Vec::new();
    for t in tests {
        let pin = pinned::resolve(repo, merge_base, head, &t)?;
        let test = match &pin {
            Some(p) => ReproTest {
                contract_path: Some(p.contract_path.clone()),
                contract: p.contract.clone(),
            },
            None => t,
        };
        if judged
            .iter()
            .any(|j| j.test.contract_path.is_some() && j.test.contract_path == test.contract_path)
        {
            continue;
        }
        judged.push(Judged {
            test,
            pin,
            tampered: vec![],
        });
    }
    let all_pinned: HashSet<String> = judged
        .iter()
        .filter_map(|j| j.pin.as_ref())
        .flat_map(|p| p.files.iter().cloned())
        .collect();
    for j in &mut judged {
        let Some(p) = &j.pin else {
            progress.step(&format!("{}: unpinned (no contract)", j.test.name()));
            continue;
        };
        j.tampered = tamper::tampering(
            repo,
            merge_base,
            head,
            p,
            &all_pinned,
            opts.allow_config_change,
        )?;
        let state = if j.tampered.is_empty() {
            "head keeps it"
        } else {
            "TAMPERED"
        };
        progress.step(&format!(
            "{}: reference {}: {state}",
            j.test.name(),
            p.label()
        ));
    }
    Ok(judged)
}

fn resolve_issues(
    api: &sentry::SentryApi,
    judged: &[Judged],
    progress: &Progress,
) -> (Vec<String>, Option<anyhow::Error>) {
    let mut resolved: Vec<String> = Vec::new();
    for j in judged {
        let id = &j.test.contract.issue_id;
        if id.is_empty() || resolved.contains(id) {
            continue;
        }
        match api.resolve_in_next_release(id) {
            Ok(()) => {
                progress.step(&format!("Sentry issue {id}: resolved in next release"));
                resolved.push(id.clone());
            }
            Err(e) => return (resolved, Some(e)),
        }
    }
    (resolved, None)
}

/// What every step of the runs shares.
struct Sides<'a> {
    repo: &'a Repository,
    settings: &'a RepoSettings,
    merge_base: git2::Oid,
    head: git2::Oid,
    workdir: Option<PathBuf>,
    timeout: Duration,
    progress: &'a Progress,
}

impl Sides<'_> {
    /// Red on base, green on head, then the suite, for the tests head did not tamper with.
    fn run(
        &self,
        judged: &[Judged],
        opts: &VerifyOptions,
    ) -> Result<(Vec<TestReport>, Vec<SuiteReport>)> {
        let (live, tampered): (Vec<&Judged>, Vec<&Judged>) =
            judged.iter().partition(|j| j.tampered.is_empty());
        let mut reports: Vec<TestReport> = tampered.iter().map(|j| tampered_report(j)).collect();
        if live.is_empty() {
            self.progress
                .step("nothing run: head changed what every repro test was pinned to");
            return Ok((reports, vec![]));
        }
        let (repo, workdir, timeout, progress) = (
            self.repo,
            self.workdir.as_deref(),
            self.timeout,
            self.progress,
        );
        // Red side: the merge-base with the pinned files laid over it (untampered: head has the
        // same ones, so both sides run one test infrastructure). One export serves every step when
        // nothing disturbs it (see `tree::switch`).
        let mut base_x = tree::export_commit(repo, self.merge_base, "base")?;
        for j in &live {
            match &j.pin {
                Some(p) => tree::overlay(repo, p.commit, &p.files, &base_x)?,
                None => tree::overlay(repo, self.head, &own_files(&j.test), &base_x)?,
            }
        }
        prepare(&base_x, workdir, timeout, progress)?;
        base_x.seal()?;
        let mut base_sides = Vec::new();
        for j in &live {
            base_sides.push(self.side(&j.test, &base_x, "red on base", opts.runs)?);
        }
        // Suite commands: the pinned contract's, else the base's settings and manifests (never
        // head's: a fix branch must not narrow its own suite).
        let mut commands: Vec<String> = Vec::new();
        for j in &live {
            let cmd = runner::suite_command(&j.test.contract, &self.settings.verify, base_x.path());
            if !commands.contains(&cmd) {
                commands.push(cmd);
            }
        }
        let mut head_x = tree::switch(repo, base_x, self.head, "head")?;
        prepare(&head_x, workdir, timeout, progress)?;
        head_x.seal()?;
        for (j, base_runs) in live.iter().zip(base_sides) {
            let head_runs = self.side(&j.test, &head_x, "green on head", opts.runs)?;
            reports.push(finish_test(j, base_runs, head_runs, progress));
        }
        reports.sort_by(|a, b| a.contract.cmp(&b.contract).then(a.test.cmp(&b.test)));
        let mut suites = Vec::new();
        if !tampered.is_empty() {
            progress.step("suite skipped: a repro test was tampered with");
        } else if opts.no_suite {
            progress.step("suite skipped (--no-suite)");
        } else {
            let tests: Vec<ReproTest> = live.iter().map(|j| j.test.clone()).collect();
            for cmd in &commands {
                // The suite runs on a pristine head: the same export if the runs left it untouched.
                head_x = tree::switch(repo, head_x, self.head, "suite-head")?;
                prepare(&head_x, workdir, timeout, progress)?;
                head_x.seal()?;
                suites.push(run_suite(
                    repo,
                    cmd,
                    &tests,
                    &head_x,
                    self.merge_base,
                    workdir,
                    timeout,
                    progress,
                )?);
            }
        }
        drop(head_x);
        Ok((reports, suites))
    }

    fn side(&self, t: &ReproTest, x: &Export, label: &str, runs: u32) -> Result<Vec<RunReport>> {
        run_side(
            t,
            self.settings,
            x,
            label,
            runs,
            self.timeout,
            self.progress,
        )
    }
}

/// A test without a pin (a bare `--test` path): its own files on head.
fn own_files(t: &ReproTest) -> Vec<String> {
    let mut files = t.contract.test_files.clone();
    files.extend(t.contract_path.iter().cloned());
    files
}

fn pin_fields(j: &Judged) -> (String, Option<String>) {
    match &j.pin {
        Some(p) => (
            p.name.clone().unwrap_or_else(|| report::UNPINNED.into()),
            Some(p.commit.to_string()),
        ),
        None => (report::UNPINNED.into(), None),
    }
}

fn tampered_report(j: &Judged) -> TestReport {
    const SHOWN: usize = 5;
    let mut detail = j.tampered[..j.tampered.len().min(SHOWN)].join("; ");
    if j.tampered.len() > SHOWN {
        detail.push_str(&format!("; and {} more", j.tampered.len() - SHOWN));
    }
    let mut r = test_report(j, vec![], vec![]);
    r.verdict = Verdict::Tampered;
    r.detail = format!("head changed what the generator pinned (not run): {detail}");
    r
}

fn test_report(j: &Judged, base_runs: Vec<RunReport>, head_runs: Vec<RunReport>) -> TestReport {
    let c = &j.test.contract;
    let (pin, pin_commit) = pin_fields(j);
    TestReport {
        test: j.test.name(),
        contract: j.test.contract_path.clone(),
        issue_id: c.issue_id.clone(),
        short_id: c.short_id.clone(),
        language: c.language.clone(),
        strategy: c.strategy.as_str().into(),
        expected_exception: c.expected.exception_type.clone(),
        verdict: Verdict::Error,
        detail: String::new(),
        pin,
        pin_commit,
        tampered: j.tampered.clone(),
        base_runs,
        head_runs,
    }
}

fn short(s: &str) -> &str {
    &s[..s.len().min(10)]
}

/// Make an export runnable: JavaScript projects need `node_modules`. The repository's own
/// `node_modules` is symlinked when present (fast, same versions the developer uses); otherwise
/// dependencies are installed with `npm ci` (or `npm install` without a lockfile).
fn prepare(
    x: &Export,
    workdir: Option<&Path>,
    timeout: Duration,
    progress: &Progress,
) -> Result<()> {
    let root = x.path();
    let Ok(pkg) = std::fs::read_to_string(root.join("package.json")) else {
        return Ok(());
    };
    if root.join("node_modules").exists() {
        return Ok(());
    }
    if let Some(nm) = workdir
        .map(|w| w.join("node_modules"))
        .filter(|p| p.is_dir())
    {
        #[cfg(unix)]
        std::os::unix::fs::symlink(&nm, root.join("node_modules"))
            .context("linking node_modules")?;
        return Ok(());
    }
    let v: serde_json::Value = serde_json::from_str(&pkg).unwrap_or_default();
    let has_deps = ["dependencies", "devDependencies"].iter().any(|k| {
        v.get(k)
            .and_then(|d| d.as_object())
            .is_some_and(|o| !o.is_empty())
    });
    if !has_deps {
        return Ok(());
    }
    let cmd =
        if root.join("package-lock.json").exists() || root.join("npm-shrinkwrap.json").exists() {
            "npm ci --no-audit --no-fund"
        } else {
            "npm install --no-audit --no-fund"
        };
    progress.step(&format!("installing JavaScript dependencies: {cmd}"));
    let out = runner::run_shell(cmd, root, timeout)?;
    if !out.passed() {
        bail!(
            "`{cmd}` failed (exit {:?}):\n{}",
            out.exit_code,
            runner::tail(&out.output, 20)
        );
    }
    Ok(())
}

fn run_once(cmd: &str, root: &Path, timeout: Duration) -> Result<RunOutput> {
    let out = runner::run_shell(cmd, root, timeout)?;
    if let Some(why) = runner::runner_missing(&out) {
        bail!("test runner missing: {why}");
    }
    Ok(out)
}

fn run_report(out: &RunOutput, outcome: Outcome) -> RunReport {
    RunReport {
        command: out.command.clone(),
        exit_code: out.exit_code,
        timed_out: out.timed_out,
        duration_ms: out.duration_ms,
        counts: runner::parse_counts(&out.output),
        outcome,
        tail: runner::tail(&out.output, report::tail_lines()),
    }
}

fn run_side(
    t: &ReproTest,
    settings: &RepoSettings,
    x: &Export,
    label: &str,
    runs: u32,
    timeout: Duration,
    progress: &Progress,
) -> Result<Vec<RunReport>> {
    let name = t.name();
    let cmd = runner::test_command(&t.contract, &settings.verify, x.path());
    let mut side = Vec::new();
    for i in 1..=runs {
        let out = run_once(&cmd, x.path(), timeout)?;
        let outcome = judge::classify(&out, &t.contract);
        progress.step(&format!(
            "{label}: {name} run {i}/{runs}: {} ({} ms)",
            outcome.label(),
            out.duration_ms
        ));
        side.push(run_report(&out, outcome));
    }
    Ok(side)
}

fn finish_test(
    j: &Judged,
    base_runs: Vec<RunReport>,
    head_runs: Vec<RunReport>,
    progress: &Progress,
) -> TestReport {
    let base_o: Vec<Outcome> = base_runs.iter().map(|r| r.outcome.clone()).collect();
    let head_o: Vec<Outcome> = head_runs.iter().map(|r| r.outcome.clone()).collect();
    let (verdict, detail) = judge::verdict(&base_o, &head_o);
    progress.step(&format!("{}: {}", j.test.name(), verdict.as_str()));
    let mut r = test_report(j, base_runs, head_runs);
    r.verdict = verdict;
    r.detail = detail;
    r
}

fn suite_outcome(out: &RunOutput) -> Outcome {
    if out.timed_out {
        Outcome::Timeout
    } else if out.passed() {
        Outcome::Pass
    } else {
        Outcome::FailWrong(match out.exit_code {
            Some(c) => format!("exit {c}"),
            None => "killed by a signal".into(),
        })
    }
}

fn suite_label(out: &RunOutput) -> String {
    match suite_outcome(out) {
        Outcome::FailWrong(why) => format!("failed ({why})"),
        o => o.label(),
    }
}

/// Failing test names with the export's temporary path removed, so head and base compare.
fn failing_names(out: &RunOutput, root: &Path) -> Vec<String> {
    let prefix = format!("{}/", root.display());
    runner::failing_tests(&out.output)
        .into_iter()
        .map(|n| n.replace(&prefix, ""))
        .collect()
}

/// Whether a failing test name from the suite's output is one of the repro tests (its file, the
/// `sentry <issue>` prefix every generated test name starts with, Go's `TestSentry_<sfx>` of a
/// `sentry_<sfx>_test.go`, or a Rust test fn `sentry_<sfx>_…` of `tests/sentry_<sfx>.rs`).
fn is_repro_name(name: &str, tests: &[ReproTest]) -> bool {
    let go_file = name
        .strip_prefix("TestSentry_")
        .map(|sfx| format!("sentry_{sfx}_test.go"));
    tests.iter().any(|t| {
        t.contract.test_files.iter().any(|f| {
            let stem = f
                .rsplit('/')
                .next()
                .and_then(|b| b.strip_suffix(".rs"))
                .filter(|b| b.starts_with("sentry_"));
            name.contains(f.as_str())
                || stem.is_some_and(|s| name.starts_with(&format!("{s}_")))
                || go_file
                    .as_ref()
                    .is_some_and(|g| f == g || f.ends_with(&format!("/{g}")))
        }) || (!t.contract.issue_id.is_empty()
            && name.contains(&format!("sentry {}", t.contract.issue_id)))
    })
}

/// The project's suite on head; on failure also on the merge-base, to tell new failures from old.
#[allow(clippy::too_many_arguments)] // the repro tests, two trees and the run settings
fn run_suite(
    repo: &Repository,
    cmd: &str,
    tests: &[ReproTest],
    hx: &Export,
    merge_base: git2::Oid,
    workdir: Option<&Path>,
    timeout: Duration,
    progress: &Progress,
) -> Result<SuiteReport> {
    let h = run_once(cmd, hx.path(), timeout)?;
    progress.step(&format!(
        "suite on head: `{cmd}`: {} ({} ms)",
        suite_label(&h),
        h.duration_ms
    ));
    let all_head_names = failing_names(&h, hx.path());
    // The repro tests are part of the suite on head when the runner's patterns reach `repro/`;
    // their failures are judged by their own verdict above, and the base export (which lacks them)
    // would make them look new.
    let (repro_names, head_names): (Vec<String>, Vec<String>) = all_head_names
        .into_iter()
        .partition(|n| is_repro_name(n, tests));
    let head_report = run_report(&h, suite_outcome(&h));
    if h.passed() {
        let detail = match runner::parse_counts(&h.output) {
            Some(c) => format!("{} passed, {} skipped on head", c.passed, c.skipped),
            None => "passed on head".into(),
        };
        return Ok(SuiteReport {
            command: cmd.into(),
            verdict: "PASSED".into(),
            detail,
            head: head_report,
            base: None,
            new_failures: vec![],
        });
    }
    if !h.timed_out && head_names.is_empty() && !repro_names.is_empty() {
        return Ok(SuiteReport {
            command: cmd.into(),
            verdict: "PASSED".into(),
            detail: format!(
                "on head only the repro test(s) fail ({}), judged by their own verdict",
                repro_names.join(", ")
            ),
            head: head_report,
            base: None,
            new_failures: vec![],
        });
    }
    if h.timed_out {
        return Ok(SuiteReport {
            command: cmd.into(),
            verdict: "ERROR".into(),
            detail: format!("timed out on head after {}s", timeout.as_secs()),
            head: head_report,
            base: None,
            new_failures: vec![],
        });
    }
    let bx = tree::export_commit(repo, merge_base, "suite-base")?;
    prepare(&bx, workdir, timeout, progress)?;
    let b = run_once(cmd, bx.path(), timeout)?;
    progress.step(&format!(
        "suite on base: `{cmd}`: {} ({} ms)",
        suite_label(&b),
        b.duration_ms
    ));
    let base_names = failing_names(&b, bx.path());
    let base_report = run_report(&b, suite_outcome(&b));
    let new_failures: Vec<String> = head_names
        .iter()
        .filter(|n| !base_names.contains(n))
        .cloned()
        .collect();
    let (verdict, detail) = if b.passed() {
        let what = if head_names.is_empty() {
            "the suite".to_string()
        } else {
            head_names.join(", ")
        };
        (
            "REGRESSION",
            format!("fails on head, passes on base: {what}"),
        )
    } else if !head_names.is_empty() {
        if new_failures.is_empty() {
            (
                "PREEXISTING",
                format!("fails on base too: {}", head_names.join(", ")),
            )
        } else {
            (
                "REGRESSION",
                format!("new failures on head: {}", new_failures.join(", ")),
            )
        }
    } else {
        let hf = runner::parse_counts(&h.output).map(|c| c.failed);
        let bf = runner::parse_counts(&b.output).map(|c| c.failed);
        match (hf, bf) {
            (Some(hf), Some(bf)) if hf > bf => {
                ("REGRESSION", format!("{hf} failing on head, {bf} on base"))
            }
            (Some(hf), Some(bf)) => ("PREEXISTING", format!("{hf} failing on head, {bf} on base")),
            _ => (
                "PREEXISTING",
                "fails on base too (failing tests could not be named)".to_string(),
            ),
        }
    };
    Ok(SuiteReport {
        command: cmd.into(),
        verdict: verdict.into(),
        detail,
        head: head_report,
        base: Some(base_report),
        new_failures,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{Contract, Expected, Strategy};

    #[test]
    fn go_repro_names_in_the_suite() {
        let t = |file: &str| ReproTest {
            contract_path: None,
            contract: Contract {
                version: 1,
                issue_id: "ab12".into(),
                short_id: None,
                title: None,
                event_id: None,
                web_url: None,
                language: "go".into(),
                framework: "go".into(),
                strategy: Strategy::RequestReplay,
                expected: Expected::default(),
                crash: None,
                test_files: vec![file.into()],
                test_command: String::new(),
                suite_command: None,
                base_commit: None,
            },
        };
        let root = [t("sentry_ab12_test.go")];
        let nested = [t("internal/api/sentry_ab12_test.go")];
        assert!(is_repro_name("TestSentry_ab12", &root));
        assert!(is_repro_name("TestSentry_ab12", &nested));
        assert!(!is_repro_name("TestSentry_ab1", &nested));
        assert!(!is_repro_name("TestHandleHit", &root));
        let rust = [t("crates/ratecard/tests/sentry_ab12.rs")];
        assert!(is_repro_name("sentry_ab12_does_not_panic", &rust));
        assert!(!is_repro_name("prices_by_weight", &rust));
        assert!(!is_repro_name("sentry_ab1_does_not_panic", &rust));
    }
}
