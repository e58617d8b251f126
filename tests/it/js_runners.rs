//! The verify gate with the JavaScript runners other than `node --test`: jest, vitest and mocha,
//! each on a small sample app (`tests/fixtures/js-runners/<runner>-app/`: `app/` whose `npm test`
//! uses that runner, `event.json` captured from the real @sentry/node SDK by `trigger.mjs`,
//! `fix.patch`, and `regression.patch` which breaks one of the app's own tests on top of the fix).
//!
//! Through the real binary: `generate` on the buggy app, then `verify`: without a fix STILL_RED and
//! exit 1; with `fix.patch` FLIPPED and exit 0; with `regression.patch` on top the suite is a
//! REGRESSION and exit 1. The apps are shaped so the repro test would be missed by a naive command:
//! the vitest app's config `include`s only `test/**/*.test.ts` (TypeScript sources), the mocha app's
//! `.mocharc.json` names a `spec` glob (ESM), and jest's default patterns make the suite run the repro
//! test too. Dependencies are installed once per lockfile under `target/js-deps/` (as in `js_cases`).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::{self, Gate, Repo};

fn case_dir(runner: &str) -> PathBuf {
    support::fixtures("js-runners").join(format!("{runner}-app"))
}

/// A git repository of the buggy app with the cached `node_modules` linked in (ignored by git).
fn repo_of(runner: &str) -> Repo {
    let app = case_dir(runner).join("app");
    let modules = crate::js_cases::dependencies(&format!("runner-{runner}"), &app);
    let repo = Repo::of(&app);
    std::os::unix::fs::symlink(&modules, repo.dir.join("node_modules")).unwrap();
    std::fs::write(repo.dir.join(".git/info/exclude"), "node_modules\n").unwrap();
    repo
}

fn generate(repo: &Repo, event: &Path) -> Value {
    let out = Command::new(support::BIN)
        .args(["generate", "--json"])
        .arg(event)
        .current_dir(&repo.dir)
        .env("HOME", &repo.home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("generate runs");
    assert!(
        out.status.success(),
        "generate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("generate --json")
}

fn gate(repo: &Repo) -> Gate {
    support::verify_in(
        &repo.dir,
        &repo.home,
        &["--base", "main", "--runs", "1"],
        &[],
    )
}

/// Tests the runner counted in the first head run of the first repro test.
fn head_counts(g: &Gate) -> Value {
    g.report["tests"][0]["head_runs"][0]["counts"].clone()
}

fn suite_verdict(g: &Gate) -> String {
    g.report["suites"][0]["verdict"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

fn runner_round_trip(runner: &str, command_has: &[&str]) {
    if !crate::js_cases::node_available() || !support::have("npm", "--version") {
        return;
    }
    let repo = repo_of(runner);
    let generated = generate(&repo, &case_dir(runner).join("event.json"));
    assert_eq!(generated["strategy"], "call_replay", "{generated}");
    let cmd = generated["test_command"].as_str().unwrap();
    for part in command_has {
        assert!(
            cmd.contains(part),
            "{runner}: test command {cmd:?} lacks {part:?}"
        );
    }
    repo.git(&["checkout", "-q", generated["branch"].as_str().unwrap()]);
    let contract = generated["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .find(|f| f.ends_with(".json"))
        .unwrap()
        .to_string();
    let contract: Value =
        serde_json::from_str(&std::fs::read_to_string(repo.dir.join(contract)).unwrap()).unwrap();
    assert_eq!(contract["framework"], runner, "{contract}");

    // No fix: red on base for the reported TypeError, still red on head.
    let red = gate(&repo);
    assert_eq!(red.exit, 1, "{runner}: the gate must fail\n{}", red.output);
    assert_eq!(red.verdicts(), ["STILL_RED"], "{runner}\n{}", red.output);
    let detail = red.report["tests"][0]["detail"].as_str().unwrap_or("");
    assert!(detail.contains("TypeError"), "{runner}: {detail}");
    // The failing repro test is not also counted as a suite regression (jest's suite runs it).
    assert_ne!(
        suite_verdict(&red),
        "REGRESSION",
        "{runner}\n{}",
        red.output
    );

    // The human fix: FLIPPED, exactly the one repro test ran on head, the suite passes.
    repo.commit_patch(&case_dir(runner).join("fix.patch"), "the fix");
    let green = gate(&repo);
    assert_eq!(
        green.exit, 0,
        "{runner}: the fix must pass\n{}",
        green.output
    );
    assert_eq!(green.verdicts(), ["FLIPPED"], "{runner}\n{}", green.output);
    let counts = head_counts(&green);
    assert_eq!(
        (counts["passed"].as_u64(), counts["failed"].as_u64()),
        (Some(1), Some(0)),
        "{runner}: the repro command must run the repro test alone: {counts}\n{}",
        green.output
    );
    assert_eq!(suite_verdict(&green), "PASSED", "{}", green.output);

    // A fix that breaks one of the app's own tests: the repro still flips, the suite regresses.
    repo.commit_patch(
        &case_dir(runner).join("regression.patch"),
        "a careless refactor",
    );
    let broken = gate(&repo);
    assert_eq!(broken.exit, 1, "{runner}\n{}", broken.output);
    assert_eq!(
        broken.verdicts(),
        ["FLIPPED"],
        "{runner}\n{}",
        broken.output
    );
    assert_eq!(suite_verdict(&broken), "REGRESSION", "{}", broken.output);
    let failures = broken.report["suites"][0]["new_failures"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        !failures.is_empty(),
        "{runner}: the regression names the broken test\n{}",
        broken.output
    );
}

/// CommonJS app, `"test": "jest"`, default patterns (the suite picks up `repro/` too).
#[test]
fn jest_app_gate() {
    runner_round_trip("jest", &["npx jest", "--testMatch", "--runTestsByPath"]);
}

/// TypeScript + ESM app, `"test": "vitest run"`, a config whose `include` misses `repro/`: the
/// generated `repro/sentry-<id>.vitest.config.mjs` extends it.
#[test]
fn vitest_app_gate() {
    runner_round_trip("vitest", &["npx vitest run", "--config repro/sentry-"]);
}

/// ESM app, `"test": "mocha"` with a `.mocharc.json` spec glob merged into every run: `--grep`
/// keeps the repro run to the repro test.
#[test]
fn mocha_app_gate() {
    runner_round_trip("mocha", &["npx mocha", "--grep"]);
}
