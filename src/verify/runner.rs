//! Running a test command: which command, in which environment, with a timeout, and what it printed.
//!
//! Commands come from `.sentry-repro.toml` (`[verify] test_command`, `suite_command`), else the
//! contract, else a default per language and framework (pytest; node --test / jest / vitest / mocha
//! from package.json; cargo test; go test; mvn / gradle). They run through `sh -c` in the exported
//! tree, in their own process group, with stdout and stderr merged into one file (in order, no pipe
//! to fill); on timeout the whole group is killed. The output is then parsed for the runner's own
//! counts, because an exit code of 0 with zero tests run proves nothing.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::contract::Contract;

/// `.sentry-repro.toml`, `[verify]` table.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RepoSettings {
    #[serde(default)]
    pub verify: VerifySettings,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct VerifySettings {
    /// Runs the repro test(s); `{tests}` is replaced by the quoted test paths.
    pub test_command: Option<String>,
    /// The project's whole suite.
    pub suite_command: Option<String>,
    pub timeout_secs: Option<u64>,
}

impl RepoSettings {
    pub fn parse(text: &str) -> Result<Self> {
        toml::from_str(text).context(".sentry-repro.toml is not valid")
    }
}

/// Single-quote a path for `sh`.
pub fn sh_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+:@".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn quoted_tests(c: &Contract) -> String {
    c.test_files
        .iter()
        .map(|f| sh_quote(f))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The JS runner named by package.json (`jest`, `vitest`, `mocha`) or `node:test`.
pub fn js_framework(package_json: Option<&str>) -> &'static str {
    let Some(v) = package_json.and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
    else {
        return "node:test";
    };
    let has = |name: &str| {
        ["dependencies", "devDependencies"]
            .iter()
            .any(|k| v.get(k).and_then(|d| d.get(name)).is_some())
    };
    let script = v
        .pointer("/scripts/test")
        .and_then(|s| s.as_str())
        .unwrap_or("");
    for fw in ["vitest", "jest", "mocha"] {
        if has(fw) || script.contains(fw) {
            return fw;
        }
    }
    "node:test"
}

/// Command that runs one repro test.
pub fn test_command(c: &Contract, settings: &VerifySettings, root: &Path) -> String {
    let tests = quoted_tests(c);
    if let Some(cmd) = &settings.test_command {
        return cmd.replace("{tests}", &tests);
    }
    if !c.test_command.trim().is_empty() {
        return c.test_command.clone();
    }
    let pkg = std::fs::read_to_string(root.join("package.json")).ok();
    match c.language.as_str() {
        "python" => format!("python -m pytest -q {tests}"),
        "javascript" | "typescript" => {
            let fw = if c.framework.is_empty() {
                js_framework(pkg.as_deref())
            } else {
                c.framework.as_str()
            };
            match fw {
                "jest" => format!("npx --no-install jest {tests}"),
                "vitest" => format!("npx --no-install vitest run {tests}"),
                "mocha" => format!("npx --no-install mocha {tests}"),
                _ => format!("node --test {tests}"),
            }
        }
        "rust" => {
            let stem = c.test_files[0]
                .rsplit('/')
                .next()
                .unwrap_or("")
                .trim_end_matches(".rs");
            if c.test_files[0].starts_with("tests/") {
                format!("cargo test --test {}", sh_quote(stem))
            } else {
                "cargo test".into()
            }
        }
        "go" => {
            let dir = c.test_files[0]
                .rsplit_once('/')
                .map(|(d, _)| d)
                .unwrap_or(".");
            format!(
                "go test -count=1 -v ./{}",
                sh_quote(dir.trim_start_matches("./"))
            )
        }
        "java" => {
            let class = c.test_files[0]
                .rsplit('/')
                .next()
                .unwrap_or("")
                .split('.')
                .next()
                .unwrap_or("");
            if root.join("pom.xml").exists() {
                format!(
                    "mvn -q -B test -Dtest={} -Dsurefire.failIfNoSpecifiedTests=false",
                    sh_quote(class)
                )
            } else {
                format!("{} test --tests {}", gradle(root), sh_quote(class))
            }
        }
        _ => format!("python -m pytest -q {tests}"),
    }
}

fn gradle(root: &Path) -> &'static str {
    if root.join("gradlew").exists() {
        "./gradlew -q"
    } else {
        "gradle -q"
    }
}

/// The project's whole test command.
pub fn suite_command(c: &Contract, settings: &VerifySettings, root: &Path) -> String {
    if let Some(cmd) = &settings.suite_command {
        return cmd.clone();
    }
    if let Some(cmd) = c.suite_command.as_ref().filter(|s| !s.trim().is_empty()) {
        return cmd.clone();
    }
    match c.language.as_str() {
        "javascript" | "typescript" => {
            let pkg = std::fs::read_to_string(root.join("package.json")).unwrap_or_default();
            let has_script = serde_json::from_str::<serde_json::Value>(&pkg)
                .ok()
                .and_then(|v| {
                    v.pointer("/scripts/test")
                        .and_then(|s| s.as_str())
                        .map(str::to_string)
                })
                .is_some_and(|s| !s.contains("no test specified"));
            if has_script {
                "npm test".into()
            } else {
                "node --test".into()
            }
        }
        "rust" => "cargo test".into(),
        "go" => "go test -count=1 ./...".into(),
        "java" if root.join("pom.xml").exists() => "mvn -q -B test".into(),
        "java" => format!("{} test", gradle(root)),
        _ => "python -m pytest -q".into(),
    }
}

/// What one run printed and how it ended.
#[derive(Debug, Clone, Serialize)]
pub struct RunOutput {
    pub command: String,
    /// None when killed (timeout or signal).
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub duration_ms: u64,
    #[serde(skip)]
    pub output: String,
}

impl RunOutput {
    pub fn passed(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out
    }
}

/// Environment for every run: no bytecode in the tree, no colors, and the exported tree first on
/// Python's path so an editable install of the user's checkout cannot shadow the code under test.
fn run_env(root: &Path) -> Vec<(String, String)> {
    let mut py_path = vec![root.display().to_string()];
    if root.join("src").is_dir() {
        py_path.push(root.join("src").display().to_string());
    }
    if let Ok(old) = std::env::var("PYTHONPATH") {
        if !old.is_empty() {
            py_path.push(old);
        }
    }
    vec![
        ("PYTHONDONTWRITEBYTECODE".into(), "1".into()),
        ("PYTHONPATH".into(), py_path.join(":")),
        ("PYTEST_ADDOPTS".into(), "-p no:cacheprovider".into()),
        ("PYTHONUNBUFFERED".into(), "1".into()),
        ("NO_COLOR".into(), "1".into()),
        ("FORCE_COLOR".into(), "0".into()),
        ("NODE_DISABLE_COLORS".into(), "1".into()),
        ("CARGO_TERM_COLOR".into(), "never".into()),
        ("CARGO_TARGET_DIR".into(), cargo_target_dir(root)),
    ]
}

/// Opt-in shared cargo target dir (`SENTRY_REPRO_CARGO_TARGET_DIR`): registry dependencies are
/// built once for every export instead of once per export.
pub const CARGO_TARGET_ENV: &str = "SENTRY_REPRO_CARGO_TARGET_DIR";

/// Where cargo builds an export. By default each exported tree builds into its own `target/`:
/// cargo judges path crates fresh by comparing source mtimes with its last build, so a tree exported
/// *before* another tree's build (two concurrent gates) would run that build's test binary on its own
/// sources (a fixed branch judged STILL_RED). With `SENTRY_REPRO_CARGO_TARGET_DIR` set (CI, the test
/// suite: one gate at a time per dir), the shared dir is used, and the fingerprints of this
/// repository's own crates are removed first, so they are always rebuilt from the export; registry
/// crates are fingerprinted by version and features, never by mtime, so reusing them is safe.
fn cargo_target_dir(root: &Path) -> String {
    let shared = std::env::var_os(CARGO_TARGET_ENV).filter(|v| !v.is_empty());
    cargo_target_in(root, shared.as_deref().map(Path::new))
}

fn cargo_target_in(root: &Path, shared: Option<&Path>) -> String {
    let own = root.join("target").to_string_lossy().into_owned();
    let Some(shared) = shared else {
        return own;
    };
    let Some(names) = local_crate_names(root) else {
        return own;
    };
    for profile in ["debug", "release"] {
        let fp = shared.join(profile).join(".fingerprint");
        let Ok(entries) = std::fs::read_dir(&fp) else {
            continue;
        };
        for e in entries.flatten() {
            let file = e.file_name().to_string_lossy().into_owned();
            let Some((name, hash)) = file.rsplit_once('-') else {
                continue;
            };
            if names.iter().any(|n| n == name) && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    shared.to_string_lossy().into_owned()
}

/// Package names of the export's own crates (root package and workspace members, plain or
/// `dir/*` globs); `None` when the manifest cannot be read (then the export keeps its own dir).
fn local_crate_names(root: &Path) -> Option<Vec<String>> {
    let t: toml::Table = std::fs::read_to_string(root.join("Cargo.toml"))
        .ok()?
        .parse()
        .ok()?;
    let name_of = |t: &toml::Table| {
        t.get("package")
            .and_then(|p| p.get("name"))
            .and_then(|n| n.as_str())
            .map(str::to_owned)
    };
    let mut names: Vec<String> = name_of(&t).into_iter().collect();
    let members = t
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(|m| m.as_array())
        .cloned()
        .unwrap_or_default();
    for m in members.iter().filter_map(|m| m.as_str()) {
        let dirs: Vec<std::path::PathBuf> = match m.trim_end_matches('/').strip_suffix("/*") {
            Some(parent) => std::fs::read_dir(root.join(parent))
                .ok()?
                .flatten()
                .map(|e| e.path())
                .collect(),
            None if m.contains(['*', '?', '[']) => return None,
            None => vec![root.join(m)],
        };
        for d in dirs {
            if let Some(n) = std::fs::read_to_string(d.join("Cargo.toml"))
                .ok()
                .and_then(|s| s.parse::<toml::Table>().ok())
                .and_then(|t| name_of(&t))
            {
                names.push(n);
            }
        }
    }
    (!names.is_empty()).then_some(names)
}

const MAX_OUTPUT: u64 = 4 << 20;

/// Run `command` with `sh -c` in `root`, killing its process group after `timeout`.
pub fn run_shell(command: &str, root: &Path, timeout: Duration) -> Result<RunOutput> {
    let log = tempfile::tempfile().context("creating an output file")?;
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log.try_clone()?));
    for (k, v) in run_env(root) {
        cmd.env(k, v);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let reports_before = junit_reports(root);
    let start = Instant::now();
    let mut child = cmd.spawn().context("starting sh")?;
    let pid = child.id();
    // Waited for on a thread, so the run ends when the runner does (polling lost ~10 ms a run).
    let (done, finished) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let status = child.wait();
        let _ = done.send(());
        status
    });
    let timed_out = matches!(
        finished.recv_timeout(timeout),
        Err(std::sync::mpsc::RecvTimeoutError::Timeout)
    );
    if timed_out {
        kill_group(pid);
    }
    let status = waiter
        .join()
        .map_err(|_| anyhow::anyhow!("the thread waiting for the runner panicked"))??;
    // Reap stray background processes the tests left behind (servers, watchers).
    kill_group(pid);
    let duration_ms = start.elapsed().as_millis() as u64;
    let mut log = log;
    let len = log.seek(SeekFrom::End(0))?;
    log.seek(SeekFrom::Start(len.saturating_sub(MAX_OUTPUT)))?;
    let mut bytes = Vec::new();
    log.read_to_end(&mut bytes)?;
    let mut output = String::from_utf8_lossy(&bytes).into_owned();
    if timed_out {
        output.push_str(&format!(
            "\n[sentry-repro: killed after {}s timeout]\n",
            timeout.as_secs()
        ));
    } else if parse_counts(&output).is_none() {
        // `mvn -q` and Gradle print no test count when everything passes: the JUnit XML reports
        // this run wrote say how many tests ran.
        if let Some(c) = junit_report_counts(root, &reports_before) {
            output.push_str(&format!(
                "\n[sentry-repro: JUnit XML reports of this run: Tests run: {}, Failures: {}, Errors: 0, Skipped: {}]\n",
                c.passed + c.failed + c.skipped,
                c.failed,
                c.skipped
            ));
        }
    }
    Ok(RunOutput {
        command: command.to_string(),
        exit_code: status.code(),
        timed_out,
        duration_ms,
        output,
    })
}

/// Folders where Maven (surefire) and Gradle write JUnit XML reports, relative to a build root.
const JUNIT_REPORT_DIRS: &[&str] = &["target/surefire-reports", "build/test-results"];

/// The JUnit XML reports (`TEST-*.xml`) under the root's build and its modules one level down
/// (`target/surefire-reports`, `build/test-results/*`), each with its mtime and length.
///
/// A run's own reports are those that are new or changed against the listing taken before it.
/// Comparing listings, not mtimes against the clock, matters: file timestamps come from the
/// kernel's coarse clock and can read a few milliseconds *before* a `SystemTime::now()` taken
/// earlier, which made a fresh report look stale on CI.
pub fn junit_reports(root: &Path) -> ReportListing {
    let mut roots = vec![root.to_path_buf()];
    if let Ok(entries) = std::fs::read_dir(root) {
        for e in entries.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if e.file_type().is_ok_and(|t| t.is_dir())
                && !name.starts_with('.')
                && name != "target"
                && name != "build"
                && name != "node_modules"
            {
                roots.push(e.path());
            }
        }
    }
    let mut out = ReportListing::new();
    for r in roots {
        for d in JUNIT_REPORT_DIRS {
            let walk = walkdir::WalkDir::new(r.join(d))
                .max_depth(2)
                .follow_links(false);
            for e in walk.into_iter().flatten() {
                let name = e.file_name().to_string_lossy();
                if !(e.file_type().is_file() && name.starts_with("TEST-") && name.ends_with(".xml"))
                {
                    continue;
                }
                let stamp = e.metadata().ok().map(|m| (m.modified().ok(), m.len()));
                out.insert(e.path().to_path_buf(), stamp);
            }
        }
    }
    out
}

/// Report path → (mtime, length), as listed by [`junit_reports`].
pub type ReportListing =
    std::collections::BTreeMap<std::path::PathBuf, Option<(Option<std::time::SystemTime>, u64)>>;

/// Counts summed over the reports that are new or changed since `before` was listed; reports of
/// an earlier run in the same tree are ignored. None when the run wrote none.
pub fn junit_report_counts(root: &Path, before: &ReportListing) -> Option<Counts> {
    static SUITE: OnceLock<Regex> = OnceLock::new();
    static ATTR: OnceLock<Regex> = OnceLock::new();
    let suite_re = re(&SUITE, r"<testsuite\b[^>]*>");
    let attr_re = re(&ATTR, r#"\b(tests|failures|errors|skipped)="(\d+)""#);
    let mut found = false;
    let mut c = Counts::default();
    for (path, stamp) in junit_reports(root) {
        if before.get(&path) == Some(&stamp) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Some(tag) = suite_re.find(&text) else {
            continue;
        };
        let (mut tests, mut failed, mut skipped) = (0, 0, 0);
        for m in attr_re.captures_iter(tag.as_str()) {
            match &m[1] {
                "tests" => tests = num(&m[2]),
                "skipped" => skipped = num(&m[2]),
                _ => failed += num(&m[2]),
            }
        }
        found = true;
        c.failed += failed;
        c.skipped += skipped;
        c.passed += tests.saturating_sub(failed + skipped);
    }
    found.then_some(c)
}

fn kill_group(pid: u32) {
    #[cfg(unix)]
    {
        if let Ok(pid) = i32::try_from(pid) {
            // SAFETY: kill(2) with a negative pid signals the process group we created; no memory involved.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
    }
}

/// Whether the output says the runner itself is missing (an environment error, not a verdict).
pub fn runner_missing(run: &RunOutput) -> Option<String> {
    if run.exit_code == Some(127) {
        let line = run
            .output
            .lines()
            .find(|l| l.contains("not found"))
            .unwrap_or("command not found");
        return Some(format!("`{}`: {}", run.command, line.trim()));
    }
    for pat in [
        "No module named pytest",
        "could not determine executable to run",
        "npm ERR! could not determine",
    ] {
        if run.output.contains(pat) {
            return Some(format!("`{}`: {pat}", run.command));
        }
    }
    None
}

/// Tests counted from the runner's own summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub passed: u64,
    pub failed: u64,
    pub skipped: u64,
}

impl Counts {
    /// Tests that really executed (skipped and todo excluded).
    pub fn ran(&self) -> u64 {
        self.passed + self.failed
    }
}

fn re(cell: &'static OnceLock<Regex>, pat: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pat).expect("valid regex"))
}

fn num(s: &str) -> u64 {
    s.parse().unwrap_or(0)
}

/// Parse the runner's summary; None when no known summary is in the output.
pub fn parse_counts(out: &str) -> Option<Counts> {
    parse_pytest(out)
        .or_else(|| parse_node_tap(out))
        .or_else(|| parse_jest(out))
        .or_else(|| parse_vitest(out))
        .or_else(|| parse_mocha(out))
        .or_else(|| parse_cargo(out))
        .or_else(|| parse_go(out))
        .or_else(|| parse_maven(out))
}

fn parse_pytest(out: &str) -> Option<Counts> {
    static LINE: OnceLock<Regex> = OnceLock::new();
    static ITEM: OnceLock<Regex> = OnceLock::new();
    let line_re = re(
        &LINE,
        r"(?m)^=*\s*((?:no tests ran|\d+ (?:passed|failed|skipped|errors?|xfailed|xpassed|deselected|warnings?))(?:, \d+ \w+)*) in [\d.]+s",
    );
    let item_re = re(
        &ITEM,
        r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed|deselected)",
    );
    let caps = line_re.captures_iter(out).last()?;
    let mut c = Counts::default();
    for m in item_re.captures_iter(&caps[1]) {
        let n = num(&m[1]);
        match &m[2] {
            "passed" | "xpassed" => c.passed += n,
            "failed" | "error" | "errors" => c.failed += n,
            "skipped" | "xfailed" | "deselected" => c.skipped += n,
            _ => {}
        }
    }
    Some(c)
}

fn parse_node_tap(out: &str) -> Option<Counts> {
    static PASS: OnceLock<Regex> = OnceLock::new();
    static FAIL: OnceLock<Regex> = OnceLock::new();
    static SKIP: OnceLock<Regex> = OnceLock::new();
    static OK: OnceLock<Regex> = OnceLock::new();
    let pass_re = re(&PASS, r"(?m)^(?:#|ℹ) pass (\d+)\s*$");
    let fail_re = re(&FAIL, r"(?m)^(?:#|ℹ) fail (\d+)\s*$");
    let skip_re = re(&SKIP, r"(?m)^(?:#|ℹ) (?:skipped|todo) (\d+)\s*$");
    let pass = pass_re.captures_iter(out).last()?;
    let mut c = Counts {
        passed: num(&pass[1]),
        failed: fail_re
            .captures_iter(out)
            .last()
            .map(|m| num(&m[1]))
            .unwrap_or(0),
        skipped: skip_re.captures_iter(out).map(|m| num(&m[1])).sum(),
    };
    // Node 20 reports a file without any test as one passing "test" named after the file: only
    // entries that are not bare file paths are real tests.
    let ok_re = re(
        &OK,
        r"(?m)^\s*(?:not )?ok \d+ - (.*?)\s*(?:# (?:SKIP|TODO).*)?$",
    );
    let names: Vec<&str> = ok_re
        .captures_iter(out)
        .map(|m| m.get(1).map_or("", |g| g.as_str()))
        .collect();
    if !names.is_empty() && names.iter().all(|n| looks_like_file(n)) && c.failed == 0 {
        c.passed = 0;
    }
    Some(c)
}

fn looks_like_file(name: &str) -> bool {
    let n = name.trim_matches(|ch| ch == '\'' || ch == '"');
    n.contains('/')
        && [".js", ".mjs", ".cjs", ".ts", ".mts", ".cts", ".jsx", ".tsx"]
            .iter()
            .any(|e| n.ends_with(e))
}

fn parse_jest(out: &str) -> Option<Counts> {
    static TESTS: OnceLock<Regex> = OnceLock::new();
    static ITEM: OnceLock<Regex> = OnceLock::new();
    if out.contains("No tests found") {
        return Some(Counts::default());
    }
    let line = re(&TESTS, r"(?m)^Tests:\s+(.*\d+ total)")
        .captures_iter(out)
        .last()?;
    let mut c = Counts::default();
    for m in re(&ITEM, r"(\d+) (passed|failed|skipped|todo|pending)").captures_iter(&line[1]) {
        match &m[2] {
            "passed" => c.passed += num(&m[1]),
            "failed" => c.failed += num(&m[1]),
            _ => c.skipped += num(&m[1]),
        }
    }
    Some(c)
}

fn parse_vitest(out: &str) -> Option<Counts> {
    static TESTS: OnceLock<Regex> = OnceLock::new();
    static ITEM: OnceLock<Regex> = OnceLock::new();
    if out.contains("No test files found") {
        return Some(Counts::default());
    }
    let line = re(&TESTS, r"(?m)^\s*Tests\s+(.*)\(\d+\)")
        .captures_iter(out)
        .last()?;
    let mut c = Counts::default();
    for m in re(&ITEM, r"(\d+) (passed|failed|skipped|todo)").captures_iter(&line[1]) {
        match &m[2] {
            "passed" => c.passed += num(&m[1]),
            "failed" => c.failed += num(&m[1]),
            _ => c.skipped += num(&m[1]),
        }
    }
    Some(c)
}

fn parse_mocha(out: &str) -> Option<Counts> {
    static PASSING: OnceLock<Regex> = OnceLock::new();
    static FAILING: OnceLock<Regex> = OnceLock::new();
    static PENDING: OnceLock<Regex> = OnceLock::new();
    let p = re(&PASSING, r"(?m)^\s+(\d+) passing \(")
        .captures_iter(out)
        .last()?;
    Some(Counts {
        passed: num(&p[1]),
        failed: re(&FAILING, r"(?m)^\s+(\d+) failing\s*$")
            .captures_iter(out)
            .last()
            .map_or(0, |m| num(&m[1])),
        skipped: re(&PENDING, r"(?m)^\s+(\d+) pending\s*$")
            .captures_iter(out)
            .last()
            .map_or(0, |m| num(&m[1])),
    })
}

fn parse_cargo(out: &str) -> Option<Counts> {
    static RESULT: OnceLock<Regex> = OnceLock::new();
    let r = re(
        &RESULT,
        r"(?m)^test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored; \d+ measured; (\d+) filtered out",
    );
    let mut found = false;
    let mut c = Counts::default();
    for m in r.captures_iter(out) {
        found = true;
        c.passed += num(&m[1]);
        c.failed += num(&m[2]);
        c.skipped += num(&m[3]);
    }
    found.then_some(c)
}

fn parse_go(out: &str) -> Option<Counts> {
    static PASS: OnceLock<Regex> = OnceLock::new();
    static FAIL: OnceLock<Regex> = OnceLock::new();
    static SKIP: OnceLock<Regex> = OnceLock::new();
    static PKG: OnceLock<Regex> = OnceLock::new();
    let pass = re(&PASS, r"(?m)^\s*--- PASS: ").find_iter(out).count() as u64;
    let fail = re(&FAIL, r"(?m)^\s*--- FAIL: ").find_iter(out).count() as u64;
    let skip = re(&SKIP, r"(?m)^\s*--- SKIP: ").find_iter(out).count() as u64;
    if pass + fail + skip > 0 {
        return Some(Counts {
            passed: pass,
            failed: fail,
            skipped: skip,
        });
    }
    // Without -v go prints one line per package: count packages that ran tests.
    let pkg = re(&PKG, r"(?m)^(ok|FAIL|\?)\s+\S+\s*(.*)$");
    let mut found = false;
    let mut c = Counts::default();
    for m in pkg.captures_iter(out) {
        found = true;
        let rest = &m[2];
        match &m[1] {
            "ok" if !rest.contains("[no tests to run]") => c.passed += 1,
            "FAIL" => c.failed += 1,
            _ => {}
        }
    }
    found.then_some(c)
}

fn parse_maven(out: &str) -> Option<Counts> {
    static RUN: OnceLock<Regex> = OnceLock::new();
    // Per-class lines end with `, Time elapsed: … in <class>`; the `Results:` summary of each module
    // does not. A multi-module build prints one summary per module: they add up.
    let run_re = re(
        &RUN,
        r"(?m)Tests run: (\d+), Failures: (\d+), Errors: (\d+), Skipped: (\d+)(.*)$",
    );
    let all: Vec<_> = run_re.captures_iter(out).collect();
    let summaries: Vec<_> = all
        .iter()
        .filter(|m| !m[5].contains("Time elapsed"))
        .collect();
    let lines: Vec<_> = if summaries.is_empty() {
        all.iter().collect()
    } else {
        summaries
    };
    if lines.is_empty() {
        return None;
    }
    let mut c = Counts::default();
    for m in lines {
        let (run, fail, err, skip) = (num(&m[1]), num(&m[2]), num(&m[3]), num(&m[4]));
        c.passed += run.saturating_sub(fail + err + skip);
        c.failed += fail + err;
        c.skipped += skip;
    }
    Some(c)
}

/// Names of the failing tests, as far as the output tells (pytest, node TAP/spec, jest, mocha,
/// cargo, go, maven).
pub fn failing_tests(out: &str) -> Vec<String> {
    static PATS: OnceLock<Vec<Regex>> = OnceLock::new();
    let pats = PATS.get_or_init(|| {
        [
            r"(?m)^(?:FAILED|ERROR) (\S+)",
            r"(?m)^\s*not ok \d+ - (.+?)\s*$",
            r"(?m)^\s*✖ (.+?)(?: \([\d.]+m?s\))?\s*$",
            r"(?m)^\s*● (.+?)\s*$",
            // vitest (`FAIL  file > suite > test`) and jest (`FAIL file`)
            r"(?m)^\s*FAIL\s+(\S.*?)\s*$",
            // mocha spec reporter: `  1) title`
            r"(?m)^\s+\d+\) (.+?):?\s*$",
            r"(?m)^test (\S+) \.\.\. FAILED",
            r"(?m)^\s*--- FAIL: (\S+)",
            r"(?m)^\[ERROR\]\s+([\w$.]+\.[\w$]+)[:(]",
        ]
        .iter()
        .map(|p| Regex::new(p).expect("valid regex"))
        .collect()
    });
    // `go test` closes each failing package with `FAIL\t<import path>\t0.05s`: when its tests are
    // named (`--- FAIL: TestX`), that summary line is not one more failing test.
    let go_named = out.contains("--- FAIL: ");
    let go_summary = Regex::new(r"^(?:FAIL\s+)?\S+\t[\d.]+s$").expect("valid regex");
    let mut names: Vec<String> = Vec::new();
    for p in pats {
        for m in p.captures_iter(out) {
            let n = m[1].trim().to_string();
            if go_named && go_summary.is_match(&n) {
                continue;
            }
            if n.contains("# TODO")
                || n.contains("# SKIP")
                || n.starts_with("failing tests:")
                || n == "Console"
            {
                continue;
            }
            if !names.contains(&n) {
                names.push(n);
            }
        }
    }
    names
}

/// The last `n` lines of the output.
pub fn tail(out: &str, n: usize) -> String {
    let lines: Vec<&str> = out.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pytest_counts() {
        assert_eq!(
            parse_counts("F..\n1 failed, 2 passed in 0.03s\n"),
            Some(Counts {
                passed: 2,
                failed: 1,
                skipped: 0
            })
        );
        assert_eq!(
            parse_counts("\nno tests ran in 0.01s\n").map(|c| c.ran()),
            Some(0)
        );
        assert_eq!(
            parse_counts("===== 3 skipped in 0.01s =====").map(|c| c.ran()),
            Some(0)
        );
        assert_eq!(
            parse_counts("=== 1 error in 0.05s ===").map(|c| c.failed),
            Some(1)
        );
    }

    #[test]
    fn node_counts() {
        let tap = "TAP version 13\nok 1 - x\n1..1\n# tests 1\n# pass 1\n# fail 0\n# skipped 0\n# todo 0\n";
        assert_eq!(parse_counts(tap).map(|c| c.ran()), Some(1));
        let empty = "TAP version 13\n# Subtest: /tmp/x/b.test.js\nok 1 - /tmp/x/b.test.js\n# tests 1\n# pass 1\n# fail 0\n";
        assert_eq!(parse_counts(empty).map(|c| c.ran()), Some(0));
        let zero = "# tests 0\n# suites 0\n# pass 0\n# fail 0\n";
        assert_eq!(parse_counts(zero).map(|c| c.ran()), Some(0));
    }

    #[test]
    fn other_runner_counts() {
        assert_eq!(
            parse_counts("Tests:       1 failed, 2 passed, 3 total").map(|c| c.failed),
            Some(1)
        );
        assert_eq!(
            parse_counts(" Tests  2 passed (2)").map(|c| c.passed),
            Some(2)
        );
        assert_eq!(
            parse_counts("  3 passing (5ms)\n  1 failing\n").map(|c| c.ran()),
            Some(4)
        );
        let cargo = "test result: ok. 2 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.00s";
        assert_eq!(
            parse_counts(cargo),
            Some(Counts {
                passed: 2,
                failed: 0,
                skipped: 1
            })
        );
        assert_eq!(
            parse_counts("ok  \texample.com/x\t0.01s\n").map(|c| c.ran()),
            Some(1)
        );
        assert_eq!(
            parse_counts("?   \texample.com/x\t[no test files]\n").map(|c| c.ran()),
            Some(0)
        );
        assert_eq!(
            parse_counts("ok  \tx\t0.01s [no tests to run]\n").map(|c| c.ran()),
            Some(0)
        );
        let mvn = "Tests run: 4, Failures: 1, Errors: 0, Skipped: 1";
        assert_eq!(
            parse_counts(mvn),
            Some(Counts {
                passed: 2,
                failed: 1,
                skipped: 1
            })
        );
        assert_eq!(parse_counts("all good"), None);
    }

    #[test]
    fn java_default_commands() {
        let c = Contract {
            version: 1,
            issue_id: "1".into(),
            short_id: None,
            title: None,
            event_id: None,
            web_url: None,
            language: "java".into(),
            framework: String::new(),
            strategy: crate::contract::Strategy::CallReplay,
            expected: Default::default(),
            crash: None,
            test_files: vec!["src/test/java/a/SentryRepro1Test.java".into()],
            test_command: String::new(),
            suite_command: None,
            base_commit: None,
        };
        let s = VerifySettings::default();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("build.gradle"), "").unwrap();
        assert_eq!(
            test_command(&c, &s, dir.path()),
            "gradle -q test --tests SentryRepro1Test"
        );
        assert_eq!(suite_command(&c, &s, dir.path()), "gradle -q test");
        std::fs::write(dir.path().join("gradlew"), "").unwrap();
        assert_eq!(suite_command(&c, &s, dir.path()), "./gradlew -q test");
        std::fs::write(dir.path().join("pom.xml"), "").unwrap();
        assert_eq!(
            test_command(&c, &s, dir.path()),
            "mvn -q -B test -Dtest=SentryRepro1Test -Dsurefire.failIfNoSpecifiedTests=false"
        );
        assert_eq!(suite_command(&c, &s, dir.path()), "mvn -q -B test");
    }

    #[test]
    fn maven_summaries_add_up() {
        // Non-quiet Maven: per-class lines, then one `Results:` summary per module.
        let out = "[INFO] Tests run: 2, Failures: 0, Errors: 0, Skipped: 0, Time elapsed: 0.1 s -- in a.ATest\n\
            [INFO] Results:\n[INFO] Tests run: 2, Failures: 0, Errors: 0, Skipped: 0\n\
            [ERROR] Tests run: 3, Failures: 1, Errors: 1, Skipped: 0, Time elapsed: 0.1 s <<< FAILURE! -- in b.BTest\n\
            [ERROR] Tests run: 3, Failures: 1, Errors: 1, Skipped: 0\n";
        assert_eq!(
            parse_counts(out),
            Some(Counts {
                passed: 3,
                failed: 2,
                skipped: 0
            })
        );
    }

    #[test]
    fn junit_reports_of_this_run_only() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("target/surefire-reports");
        std::fs::create_dir_all(&old).unwrap();
        std::fs::write(
            old.join("TEST-a.OldTest.xml"),
            r#"<testsuite name="a.OldTest" tests="5" failures="5">"#,
        )
        .unwrap();
        let before = junit_reports(dir.path());
        assert_eq!(junit_report_counts(dir.path(), &before), None);
        // Maven in a module, Gradle at the root.
        let m = dir.path().join("core/target/surefire-reports");
        std::fs::create_dir_all(&m).unwrap();
        std::fs::write(
            m.join("TEST-a.ATest.xml"),
            r#"<?xml version="1.0"?><testsuite xmlns:x="y" name="a.ATest" time="0.1" tests="3" errors="1" skipped="1" failures="0"><testcase/></testsuite>"#,
        )
        .unwrap();
        let g = dir.path().join("build/test-results/test");
        std::fs::create_dir_all(&g).unwrap();
        std::fs::write(
            g.join("TEST-b.BTest.xml"),
            r#"<testsuite name="b.BTest" tests="2" skipped="0" failures="0" errors="0">"#,
        )
        .unwrap();
        assert_eq!(
            junit_report_counts(dir.path(), &before),
            Some(Counts {
                passed: 3,
                failed: 1,
                skipped: 1
            })
        );
    }

    #[test]
    fn quiet_maven_pass_is_counted_from_reports() {
        let dir = tempfile::tempdir().unwrap();
        let cmd = "mkdir -p target/surefire-reports && echo '<testsuite tests=\"1\" failures=\"0\" errors=\"0\" skipped=\"0\">' > target/surefire-reports/TEST-x.XTest.xml";
        let out = run_shell(cmd, dir.path(), Duration::from_secs(10)).unwrap();
        assert_eq!(parse_counts(&out.output).map(|c| c.passed), Some(1));
        // Reports of an earlier run do not count for a run that wrote none.
        let out = run_shell("true", dir.path(), Duration::from_secs(10)).unwrap();
        assert_eq!(parse_counts(&out.output), None);
    }

    #[test]
    fn failing_names() {
        let py = "FAILED tests/test_a.py::test_x - assert 1 == 2\nERROR tests/test_b.py\n";
        assert_eq!(
            failing_tests(py),
            vec!["tests/test_a.py::test_x", "tests/test_b.py"]
        );
        assert_eq!(
            failing_tests("not ok 2 - formatRow pads\n  ---\n"),
            vec!["formatRow pads"]
        );
        assert_eq!(
            failing_tests("test a::b ... FAILED\n--- FAIL: TestX (0.00s)\n"),
            vec!["a::b", "TestX"]
        );
        assert_eq!(
            failing_tests("  ● Console\n\n  ● shippingCost › domestic bands\n"),
            vec!["shippingCost › domestic bands"]
        );
        assert_eq!(
            failing_tests(" FAIL  test/duration.test.ts > parseDuration > units\n"),
            vec!["test/duration.test.ts > parseDuration > units"]
        );
        assert_eq!(
            failing_tests(
                "  pageRanges\n    1) splits evenly\n\n  1) pageRanges\n       splits evenly:\n"
            ),
            vec!["splits evenly", "pageRanges"]
        );
        // go test: the package's closing FAIL line is not one more test when tests are named;
        // a package that fails without named tests (build failure, panic in init) still counts.
        let go =
            "--- FAIL: TestSentry_ab12 (0.00s)\nFAIL\nFAIL\texample.com/pagehits\t0.054s\nFAIL\n";
        assert_eq!(failing_tests(go), vec!["TestSentry_ab12"]);
        assert_eq!(
            failing_tests("FAIL\texample.com/pagehits\t0.054s\n"),
            vec!["example.com/pagehits\t0.054s"]
        );
        assert_eq!(
            failing_tests("--- FAIL: TestA (0.00s)\nFAIL\texample.com/x [build failed]\n"),
            vec!["example.com/x [build failed]", "TestA"]
        );
    }

    #[test]
    fn quoting() {
        assert_eq!(sh_quote("repro/test_a.py"), "repro/test_a.py");
        assert_eq!(sh_quote("a b'c"), "'a b'\\''c'");
    }

    #[test]
    fn js_frameworks() {
        assert_eq!(
            js_framework(Some(r#"{"devDependencies":{"jest":"29"}}"#)),
            "jest"
        );
        assert_eq!(
            js_framework(Some(r#"{"scripts":{"test":"vitest run"}}"#)),
            "vitest"
        );
        assert_eq!(
            js_framework(Some(r#"{"scripts":{"test":"node --test"}}"#)),
            "node:test"
        );
    }

    #[test]
    fn shared_cargo_target_forgets_only_the_repositorys_own_crates() {
        let root = tempfile::tempdir().unwrap();
        let shared = tempfile::tempdir().unwrap();
        let w = |p: &str, t: &str| {
            let p = root.path().join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, t).unwrap();
        };
        w(
            "Cargo.toml",
            "[package]\nname = \"shop-api\"\n[workspace]\nmembers = [\"crates/*\", \"tools/gen\"]\n",
        );
        w(
            "crates/pricing/Cargo.toml",
            "[package]\nname = \"pricing\"\n",
        );
        w("tools/gen/Cargo.toml", "[package]\nname = \"gen\"\n");
        let fp = shared.path().join("debug/.fingerprint");
        for d in [
            "shop-api-0123456789abcdef",
            "pricing-fedcba9876543210",
            "gen-00ff00ff00ff00ff",
            "sentry-0123456789abcdef",
            "pricing-extra-0123456789abcdef",
        ] {
            std::fs::create_dir_all(fp.join(d)).unwrap();
        }
        let dir = cargo_target_in(root.path(), Some(shared.path()));
        assert_eq!(dir, shared.path().to_string_lossy());
        let mut left: Vec<String> = std::fs::read_dir(&fp)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            ["pricing-extra-0123456789abcdef", "sentry-0123456789abcdef"]
        );
        // Without the setting, or with a manifest it cannot read, each export keeps its own dir.
        let own = root.path().join("target").to_string_lossy().into_owned();
        assert_eq!(cargo_target_in(root.path(), None), own);
        std::fs::write(root.path().join("Cargo.toml"), "not toml [").unwrap();
        assert_eq!(cargo_target_in(root.path(), Some(shared.path())), own);
    }
}
