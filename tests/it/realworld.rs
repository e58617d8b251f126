//! Real crashes of real projects (BugsInPy, events from the real sentry-sdk) through the real
//! binary: guards the verdicts measured on the cheapest vendored cases, so a generator change that
//! turns a real reproduction into a non-reproduction, or any case into a false green, shows here.
//!
//! It runs `scripts/realworld.py` (the same code that prints the corpus table): a fresh repository
//! per case, a virtualenv outside it (under `target/realworld-venvs`, made once, PyPI needed the
//! first time), `generate`, the developers' fix committed on the branch, `verify --no-suite`.
//! Needs each case's Python version (pyenv or pythonX.Y): 3.7 (tornado), 3.8 (PySnooper), 3.6
//! (cookiecutter).

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::support::{ci, have, manifest_dir, BIN};

/// Runs the measuring script on `case`; returns its row (verdict, strategy, reasons, detail).
fn measure(case: &str) -> Option<Value> {
    if !have("python3", "--version") || !have("patch", "--version") {
        return None;
    }
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("rows.json");
    let root = manifest_dir();
    let status = Command::new("python3")
        .arg(root.join("scripts/realworld.py"))
        .args(["--case", case, "--binary", BIN, "--timeout", "300"])
        .arg("--venvs")
        .arg(root.join("target/realworld-venvs"))
        .arg("--json-out")
        .arg(&out)
        .status()
        .expect("python3 scripts/realworld.py starts");
    assert!(status.success(), "scripts/realworld.py failed for {case}");
    let rows: Value =
        serde_json::from_str(&std::fs::read_to_string(Path::new(&out)).unwrap()).unwrap();
    let row = rows[0].clone();
    // The case's own Python (pyenv or pythonX.Y): its 2017-2019 code does not import on today's.
    let detail = row["detail"].as_str().unwrap_or_default();
    if verdict(&row) == "ERROR" && detail.starts_with("no Python") {
        assert!(!ci(), "{case}: {detail} (required in CI)");
        eprintln!("SKIPPED: {case}: {detail}");
        return None;
    }
    Some(row)
}

fn verdict(row: &Value) -> &str {
    row["verdict"].as_str().unwrap_or("?")
}

/// A non-reproduction is allowed (it is measured, not hidden); a false green or a broken run is not.
fn assert_never_green_on_base(row: &Value) {
    assert!(
        !matches!(verdict(row), "FALSE_GREEN" | "ERROR"),
        "{}: {} (green on base, or the run broke): {row:#}",
        row["case"],
        verdict(row)
    );
}

#[test]
fn tornado_url_concat_none_flips_with_the_developers_fix() {
    // url_concat(url, None): every argument is a literal in the crash frame, so the call replay
    // is red on base with TypeError through the reported line and green on the upstream fix.
    let Some(row) = measure("py-tornado-9") else {
        return;
    };
    assert_eq!(verdict(&row), "FLIPPED", "{row:#}");
    assert_eq!(row["strategy"], "call_replay", "{row:#}");
}

#[test]
fn pysnooper_nested_writer_is_a_scaffold_never_green() {
    // The crash is in a closure (get_write_function.<locals>.write) called by a Tracer whose repr
    // shows no state: nothing is rebuildable, so the honest answer is a scaffold, red everywhere.
    let Some(row) = measure("py-pysnooper-3") else {
        return;
    };
    assert_never_green_on_base(&row);
    assert_eq!(verdict(&row), "SCAFFOLD", "{row:#}");
}

#[test]
fn cookiecutter_context_outside_the_repository_is_never_green() {
    // The replay reads the user's template path from the event, a file outside the repository:
    // on base it fails with FileNotFoundError (the wrong reason), never passes.
    let Some(row) = measure("py-cookiecutter-1") else {
        return;
    };
    assert_never_green_on_base(&row);
    assert_eq!(verdict(&row), "WRONG_REASON", "{row:#}");
}
