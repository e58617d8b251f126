//! `sentry-repro verify` end to end: real git repositories in temp dirs, the real binary, real
//! pytest and node runs over dev corpus apps (tests/fixtures/verify/<case>/), with hand-written repro
//! tests and contracts in the generator's format. Every verdict comes from really running the runner.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support;

const PY: &str = "py-rating-average-empty";
const JS: &str = "js-expense-tofixed";
const PY_TEST: &str = "repro/test_sentry_4501.py";
const PY_CONTRACT: &str = "repro/sentry-4501.json";
const JS_TEST: &str = "repro/sentry-4502.test.js";
const JS_CONTRACT: &str = "repro/sentry-4502.json";
const BRANCH: &str = "fix/sentry-4501-20240101T000000Z";

fn fixture(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/verify")
        .join(case)
}

pub(crate) fn have_pytest() -> bool {
    let ok = Command::new("python")
        .args(["-m", "pytest", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        assert!(!support::ci(), "pytest is required in CI");
        eprintln!("SKIPPED: pytest not installed");
    }
    ok
}

fn have_node() -> bool {
    support::have("node", "--version")
}

/// A [`support::Repo`] of a case's buggy `app/` on `main`, with branch `BRANCH` checked out.
struct Repo(support::Repo);

impl std::ops::Deref for Repo {
    type Target = support::Repo;
    fn deref(&self) -> &support::Repo {
        &self.0
    }
}

impl Repo {
    fn new(case: &str) -> Repo {
        let r = Repo(support::Repo::of(&fixture(case).join("app")));
        r.git(&["checkout", "-q", "-b", BRANCH]);
        r
    }

    fn write(&self, rel: &str, content: &str) {
        let p = self.dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.dir.join(rel)).unwrap()
    }

    /// Commit the repro test `variant` (a file of the fixture's repro/) at `test_path` with the contract.
    fn add_repro(
        &self,
        case: &str,
        variant: &str,
        test_path: &str,
        contract: &str,
        edit: impl FnOnce(&mut Value),
    ) {
        let repro = fixture(case).join("repro");
        self.write(
            test_path,
            &std::fs::read_to_string(repro.join(variant)).unwrap(),
        );
        let name = contract.rsplit('/').next().unwrap();
        let mut c: Value =
            serde_json::from_str(&std::fs::read_to_string(repro.join(name)).unwrap()).unwrap();
        edit(&mut c);
        // Through the real type: the contract must stay in contract.rs's format.
        let typed: sentry_repro::contract::Contract = serde_json::from_value(c).unwrap();
        self.write(contract, &typed.to_json());
        self.commit("repro test");
    }

    fn apply_fix(&self, case: &str) {
        let patch = fixture(case).join("fix.patch");
        self.git(&["apply", patch.to_str().unwrap()]);
        self.commit("fix");
    }

    fn commit(&self, msg: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", msg]);
    }
}

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
    json: Option<Value>,
    junit: Option<String>,
}

impl Outcome {
    fn verdict(&self) -> String {
        self.json.as_ref().unwrap()["tests"][0]["verdict"]
            .as_str()
            .unwrap()
            .to_string()
    }
    fn suite_verdict(&self) -> String {
        self.json.as_ref().unwrap()["suites"][0]["verdict"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }
}

fn verify(repo: &Repo, args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let out_dir = tempfile::tempdir().unwrap();
    let json = out_dir.path().join("report.json");
    let junit = out_dir.path().join("junit.xml");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sentry-repro"));
    cmd.arg("verify")
        .arg("--repo")
        .arg(&repo.dir)
        .arg("--json")
        .arg(&json)
        .arg("--junit")
        .arg(&junit)
        .args(args)
        .env("HOME", &repo.home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("SENTRY_AUTH_TOKEN");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let o = Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        json: std::fs::read_to_string(&json)
            .ok()
            .map(|t| serde_json::from_str(&t).unwrap()),
        junit: std::fs::read_to_string(&junit).ok(),
    };
    eprintln!(
        "--- verify {args:?}: exit {}\n{}\n{}",
        o.code, o.stdout, o.stderr
    );
    o
}

fn py_repo(variant: &str, edit: impl FnOnce(&mut Value)) -> Repo {
    let r = Repo::new(PY);
    r.add_repro(PY, variant, PY_TEST, PY_CONTRACT, edit);
    r
}

fn js_repo(variant: &str) -> Repo {
    let r = Repo::new(JS);
    // The repository's node_modules is linked into the exports (no network install in tests).
    std::fs::create_dir_all(r.dir.join("node_modules")).unwrap();
    r.add_repro(JS, variant, JS_TEST, JS_CONTRACT, |_| {});
    r
}

#[test]
fn python_without_fix_is_still_red() {
    if !have_pytest() {
        return;
    }
    let r = py_repo("test_sentry_4501.py", |_| {});
    let o = verify(&r, &["--base", "main"], &[]);
    assert_eq!(o.code, 1);
    assert_eq!(o.verdict(), "STILL_RED");
    let t = &o.json.as_ref().unwrap()["tests"][0];
    assert_eq!(t["base_runs"].as_array().unwrap().len(), 2);
    assert_eq!(t["base_runs"][0]["outcome"], "fail_right");
    assert!(t["head_runs"][1]["tail"]
        .as_str()
        .unwrap()
        .contains("ZeroDivisionError"));
    assert!(
        o.stdout.contains("STILL_RED repro/test_sentry_4501.py"),
        "plain lines off a terminal"
    );
    // The failing run's output tail is shown.
    assert!(o.stdout.contains("ZeroDivisionError: division by zero"));
}

#[test]
fn python_with_human_fix_flips_and_reports() {
    if !have_pytest() {
        return;
    }
    let r = py_repo("test_sentry_4501.py", |_| {});
    r.apply_fix(PY);
    // The user's checkout is on main with a dirty file: verify must not look at it or change it.
    r.git(&["checkout", "-q", "main"]);
    r.write(
        "reviewhub/ratings.py",
        "raise SystemExit('the working tree must not be imported')\n",
    );
    let status_before = r.git(&["status", "--porcelain"]);
    let o = verify(
        &r,
        &["--base", "main", "--head", BRANCH, "--runs", "3"],
        &[],
    );
    assert_eq!(o.code, 0, "{}", o.stdout);
    assert_eq!(o.verdict(), "FLIPPED");
    let j = o.json.as_ref().unwrap();
    assert_eq!(j["ok"], true);
    assert_eq!(j["tests"][0]["head_runs"].as_array().unwrap().len(), 3);
    assert_eq!(j["tests"][0]["head_runs"][0]["counts"]["passed"], 1);
    assert_eq!(j["tests"][0]["expected_exception"], "ZeroDivisionError");
    assert_eq!(o.suite_verdict(), "PASSED");
    assert_eq!(j["suites"][0]["head"]["counts"]["passed"], 9);
    assert_eq!(r.git(&["status", "--porcelain"]), status_before);
    assert_eq!(r.git(&["rev-parse", "--abbrev-ref", "HEAD"]).trim(), "main");

    let junit = quick_junit::Report::deserialize_from_str(o.junit.as_deref().unwrap()).unwrap();
    let suite = &junit.test_suites[0];
    assert_eq!(suite.test_cases.len(), 2);
    assert_eq!(suite.test_cases[0].name.as_str(), PY_TEST);
    assert!(matches!(
        suite.test_cases[0].status,
        quick_junit::TestCaseStatus::Success { .. }
    ));
    assert_eq!(suite.failures, 0);
}

#[test]
fn python_weakened_repro_is_not_red() {
    if !have_pytest() {
        return;
    }
    let r = py_repo("weak.py", |_| {});
    r.apply_fix(PY);
    let o = verify(&r, &["--base", "main", "--no-suite"], &[]);
    assert_eq!(o.code, 1);
    assert_eq!(o.verdict(), "NOT_RED");
    let junit = quick_junit::Report::deserialize_from_str(o.junit.as_deref().unwrap()).unwrap();
    let case = &junit.test_suites[0].test_cases[0];
    match &case.status {
        quick_junit::TestCaseStatus::NonSuccess { ty, .. } => {
            assert_eq!(ty.as_ref().unwrap().as_str(), "NOT_RED")
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn python_unfinished_scaffold_is_red_for_the_wrong_reason() {
    if !have_pytest() {
        return;
    }
    let r = py_repo("scaffold.py", |c| c["strategy"] = "scaffold".into());
    let o = verify(&r, &["--base", "main", "--no-suite"], &[]);
    assert_eq!(o.code, 1);
    assert_eq!(o.verdict(), "RED_WRONG_REASON");
    assert!(o.json.unwrap()["tests"][0]["detail"]
        .as_str()
        .unwrap()
        .contains("not yet reproduced"));
}

#[test]
fn python_scaffold_strategy_never_counts_even_with_the_right_text() {
    if !have_pytest() {
        return;
    }
    // The real call-replay test (fails with ZeroDivisionError) under a contract that says scaffold.
    let r = py_repo("test_sentry_4501.py", |c| {
        c["strategy"] = "boilerplate".into()
    });
    r.apply_fix(PY);
    let o = verify(&r, &["--base", "main", "--no-suite", "--runs", "1"], &[]);
    assert_eq!(o.code, 1);
    assert_eq!(o.verdict(), "RED_WRONG_REASON");
}

#[test]
fn python_import_error_is_red_for_the_wrong_reason() {
    if !have_pytest() {
        return;
    }
    let r = py_repo("import_error.py", |_| {});
    let o = verify(&r, &["--base", "main", "--no-suite"], &[]);
    assert_eq!(o.code, 1);
    assert_eq!(o.verdict(), "RED_WRONG_REASON");
    assert!(o.json.unwrap()["tests"][0]["detail"]
        .as_str()
        .unwrap()
        .contains("ModuleNotFoundError"));
}

#[test]
fn python_fix_that_breaks_an_app_test_is_a_regression() {
    if !have_pytest() {
        return;
    }
    let r = py_repo("test_sentry_4501.py", |_| {});
    r.apply_fix(PY);
    let src = r.read("reviewhub/ratings.py").replace(
        "round(total / len(ratings), 1)",
        "round(total / len(ratings), 2)",
    );
    r.write("reviewhub/ratings.py", &src);
    r.commit("round to 2 places");
    let o = verify(&r, &["--base", "main"], &[]);
    assert_eq!(o.code, 1);
    assert_eq!(o.verdict(), "FLIPPED", "the repro itself flipped");
    assert_eq!(o.suite_verdict(), "REGRESSION");
    let j = o.json.as_ref().unwrap();
    assert_eq!(j["ok"], false);
    let new: Vec<&str> = j["suites"][0]["new_failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        new,
        vec!["tests/test_ratings.py::test_average_rounds_to_one_decimal"]
    );
    let junit = quick_junit::Report::deserialize_from_str(o.junit.as_deref().unwrap()).unwrap();
    assert_eq!(junit.test_suites[0].failures, 1);
}

#[test]
fn python_preexisting_suite_failure_is_not_a_regression() {
    if !have_pytest() {
        return;
    }
    let r = Repo::new(PY);
    r.git(&["checkout", "-q", "main"]);
    r.write(
        "tests/test_broken.py",
        "def test_already_broken():\n    assert 1 == 2\n",
    );
    r.commit("a test that already fails on main");
    r.git(&["checkout", "-q", BRANCH]);
    r.git(&["reset", "-q", "--hard", "main"]);
    r.add_repro(PY, "test_sentry_4501.py", PY_TEST, PY_CONTRACT, |_| {});
    r.apply_fix(PY);
    let o = verify(&r, &["--base", "main", "--runs", "1"], &[]);
    assert_eq!(o.verdict(), "FLIPPED");
    assert_eq!(o.suite_verdict(), "PREEXISTING");
    assert_eq!(o.code, 0);
}

#[test]
fn python_random_failure_is_flaky() {
    if !have_pytest() {
        return;
    }
    let r = py_repo("flaky.py", |_| {});
    r.apply_fix(PY);
    let o = verify(&r, &["--base", "main", "--no-suite"], &[]);
    assert_eq!(o.code, 1);
    assert_eq!(o.verdict(), "FLAKY");
}

#[test]
fn python_runner_collecting_nothing_is_no_tests() {
    if !have_pytest() {
        return;
    }
    let r = py_repo("empty.py", |_| {});
    r.apply_fix(PY);
    let o = verify(&r, &["--base", "main", "--no-suite"], &[]);
    assert_eq!(o.code, 1);
    assert_eq!(o.verdict(), "NO_TESTS");
}

#[test]
fn settings_file_overrides_the_test_command() {
    if !have_pytest() {
        return;
    }
    // On base (the reviewed config): a command that runs nothing must not pass as green.
    let r = Repo::new(PY);
    r.git(&["checkout", "-q", "main"]);
    r.write(".sentry-repro.toml", "[verify]\ntest_command = \"python -m pytest -q {tests} -k nothing_matches\"\ntimeout_secs = 60\n");
    r.commit("settings");
    r.git(&["checkout", "-q", BRANCH]);
    r.git(&["reset", "-q", "--hard", "main"]);
    r.add_repro(PY, "test_sentry_4501.py", PY_TEST, PY_CONTRACT, |_| {});
    r.apply_fix(PY);
    let o = verify(&r, &["--base", "main", "--no-suite", "--runs", "1"], &[]);
    assert_eq!(o.verdict(), "NO_TESTS");
    assert!(o.json.unwrap()["tests"][0]["base_runs"][0]["command"]
        .as_str()
        .unwrap()
        .contains("-k nothing_matches"));
}

#[test]
fn timeout_kills_the_run() {
    if !have_pytest() {
        return;
    }
    let r = py_repo("test_sentry_4501.py", |c| {
        c["test_command"] = "sleep 30; python -m pytest -q repro/test_sentry_4501.py".into()
    });
    let start = std::time::Instant::now();
    let o = verify(
        &r,
        &[
            "--base",
            "main",
            "--no-suite",
            "--runs",
            "1",
            "--timeout",
            "1",
        ],
        &[],
    );
    assert!(start.elapsed().as_secs() < 20, "the sleep was killed");
    assert_eq!(o.code, 1);
    assert_eq!(o.verdict(), "RED_WRONG_REASON");
    assert_eq!(
        o.json.unwrap()["tests"][0]["base_runs"][0]["timed_out"],
        true
    );
}

#[test]
fn explicit_test_path_uses_its_contract() {
    if !have_pytest() {
        return;
    }
    let r = py_repo("test_sentry_4501.py", |_| {});
    r.apply_fix(PY);
    let o = verify(
        &r,
        &[
            "--base",
            "main",
            "--no-suite",
            "--runs",
            "1",
            "--test",
            PY_TEST,
        ],
        &[],
    );
    assert_eq!(o.code, 0);
    assert_eq!(
        o.json.as_ref().unwrap()["tests"][0]["contract"],
        PY_CONTRACT
    );
}

#[test]
fn bad_ref_is_a_usage_error() {
    let r = py_repo("test_sentry_4501.py", |_| {});
    let o = verify(&r, &["--base", "no-such-branch"], &[]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("bad ref"), "{}", o.stderr);
    let o = verify(&r, &["--base", "main", "--head", "nope~3"], &[]);
    assert_eq!(o.code, 2);
    // Nothing to verify (head == base) is a usage error too.
    let o = verify(&r, &["--base", BRANCH], &[]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("no repro contract"));
}

#[test]
fn default_base_is_main() {
    if !have_pytest() {
        return;
    }
    let r = py_repo("test_sentry_4501.py", |_| {});
    let o = verify(&r, &["--no-suite", "--runs", "1"], &[]);
    assert_eq!(o.code, 1);
    assert_eq!(o.verdict(), "STILL_RED");
    assert_eq!(o.json.unwrap()["base"], "main");
}

#[test]
fn missing_runner_is_an_environment_error() {
    let r = py_repo("test_sentry_4501.py", |c| {
        c["test_command"] = "no-such-runner-xyz repro/test_sentry_4501.py".into()
    });
    let o = verify(&r, &["--base", "main", "--no-suite"], &[]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("runner missing"), "{}", o.stderr);
}

#[test]
fn javascript_without_fix_is_still_red() {
    if !have_node() {
        return;
    }
    let r = js_repo("sentry-4502.test.js");
    let o = verify(&r, &["--base", "main", "--no-suite"], &[]);
    assert_eq!(o.code, 1);
    assert_eq!(o.verdict(), "STILL_RED");
    assert_eq!(
        o.json.unwrap()["tests"][0]["base_runs"][0]["reason"],
        "TypeError"
    );
}

#[test]
fn javascript_with_human_fix_flips() {
    if !have_node() {
        return;
    }
    let r = js_repo("sentry-4502.test.js");
    r.apply_fix(JS);
    let o = verify(&r, &["--base", "main"], &[]);
    assert_eq!(o.code, 0, "{}", o.stdout);
    assert_eq!(o.verdict(), "FLIPPED");
    assert_eq!(o.suite_verdict(), "PASSED");
    let j = o.json.unwrap();
    assert_eq!(j["suites"][0]["command"], "npm test");
    // The app's 7 tests plus the repro test.
    assert_eq!(j["suites"][0]["head"]["counts"]["passed"], 8);
}

#[test]
fn javascript_file_without_tests_is_no_tests() {
    if !have_node() {
        return;
    }
    let r = js_repo("empty.test.js");
    r.apply_fix(JS);
    let o = verify(&r, &["--base", "main", "--no-suite"], &[]);
    assert_eq!(o.code, 1);
    assert_eq!(o.verdict(), "NO_TESTS");
}

/// A one-request fake Sentry API on loopback; returns the port and the raw request it received.
fn fake_sentry(status: u16) -> (u16, std::thread::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut head = String::new();
        let mut len = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line.to_ascii_lowercase().starts_with("content-length:") {
                len = line[15..].trim().parse().unwrap();
            }
            head.push_str(&line);
            if line == "\r\n" || line.is_empty() {
                break;
            }
        }
        let mut body = vec![0u8; len];
        reader.read_exact(&mut body).unwrap();
        let reply = r#"{"status":"resolved"}"#;
        write!(stream, "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}", reply.len()).unwrap();
        head + &String::from_utf8_lossy(&body)
    });
    (port, handle)
}

#[test]
fn resolve_sentry_after_a_passing_gate() {
    if !have_pytest() {
        return;
    }
    let r = py_repo("test_sentry_4501.py", |_| {});
    r.apply_fix(PY);
    let (port, server) = fake_sentry(200);
    let url = format!("http://127.0.0.1:{port}");
    let o = verify(
        &r,
        &[
            "--base",
            "main",
            "--no-suite",
            "--runs",
            "1",
            "--resolve-sentry",
        ],
        &[("SENTRY_AUTH_TOKEN", "tok-123"), ("SENTRY_URL", &url)],
    );
    assert_eq!(o.code, 0);
    let req = server.join().unwrap();
    assert!(req.starts_with("PUT /api/0/issues/4501/ HTTP/1.1"), "{req}");
    assert!(req
        .to_ascii_lowercase()
        .contains("authorization: bearer tok-123"));
    assert!(req.contains(r#""status":"resolvedInNextRelease""#));
    assert_eq!(o.json.unwrap()["sentry"][0], "4501");
}

#[test]
fn resolve_sentry_needs_a_token_and_skips_failed_gates() {
    let r = py_repo("test_sentry_4501.py", |_| {});
    let o = verify(&r, &["--base", "main", "--resolve-sentry"], &[]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("SENTRY_AUTH_TOKEN"));
    if !have_pytest() {
        return;
    }
    // A failing gate never calls Sentry: the address below has nothing listening.
    let o = verify(
        &r,
        &[
            "--base",
            "main",
            "--no-suite",
            "--runs",
            "1",
            "--resolve-sentry",
        ],
        &[
            ("SENTRY_AUTH_TOKEN", "t"),
            ("SENTRY_URL", "http://127.0.0.1:9"),
        ],
    );
    assert_eq!(o.code, 1);
    assert_eq!(o.verdict(), "STILL_RED");
}
