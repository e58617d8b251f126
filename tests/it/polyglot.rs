//! Rust and Go generators end to end with the real toolchains (cargo, go); Java is in `java_cases`.
//!
//! Each case: a git repository of the fixture's `app/` in a temp dir (fixed identity, the user's git
//! config ignored), `pipeline::generate` with a fixed clock, checkout of the new branch, the generated
//! test run with the real runner (red for the right reason: the panic message / exception, or the
//! NOT YET REPRODUCED marker for a scaffold), then for replays `fix.patch` applied: green, and the app's
//! own suite green. Rust sample apps share one CARGO_TARGET_DIR under `target/polyglot-apps` so the
//! `sentry` dependency tree is built once. A missing toolchain fails the test when CI=true.

use std::path::{Path, PathBuf};
use std::process::Command;

use sentry_repro::config::ProjectConfig;
use sentry_repro::contract::MARKER_NOT_REPRODUCED;
use sentry_repro::pipeline::{self, GenerateOptions, Generated};
use sentry_repro::webhook;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/polyglot")
}

/// Whether `tool` runs; when it does not, CI fails and a developer machine skips with a note.
fn have(tool: &str, arg: &str) -> bool {
    let ok = Command::new(tool)
        .arg(arg)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{tool} is required in CI but is not installed"
        );
        eprintln!("SKIPPED: {tool} not installed");
    }
    ok
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let name = e.file_name();
        if name == "target" || name == ".git" {
            continue;
        }
        let dst = to.join(&name);
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}

pub struct App {
    pub _tmp: tempfile::TempDir,
    pub dir: PathBuf,
    home: PathBuf,
}

impl App {
    /// A git repository holding a copy of `app/` of the fixture, one commit on `main`.
    pub fn new(case: &str) -> App {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("app");
        let home = tmp.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        copy_dir(&fixtures().join(case).join("app"), &dir);
        let app = App {
            _tmp: tmp,
            dir,
            home,
        };
        app.git(&["init", "-q", "-b", "main"]);
        app.git(&["add", "-A"]);
        app.git(&["commit", "-q", "-m", "base"]);
        app
    }

    pub fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(args)
            .current_dir(&self.dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", &self.home)
            .env("GIT_AUTHOR_NAME", "Test")
            .env("GIT_AUTHOR_EMAIL", "test@example.com")
            .env("GIT_COMMITTER_NAME", "Test")
            .env("GIT_COMMITTER_EMAIL", "test@example.com")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Generate from an event value and check out the new branch.
    pub fn generate_value(&self, event: &serde_json::Value) -> Generated {
        let alert = webhook::alert_from_any_json(event);
        let project = ProjectConfig::for_repo(&self.dir);
        let now = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let out = pipeline::generate(
            &alert,
            &project,
            &GenerateOptions {
                base: None,
                dry_run: false,
                now: Some(now),
            },
        )
        .expect("generate");
        assert!(out.created, "{out:?}");
        self.git(&["checkout", "-q", out.branch.as_deref().unwrap()]);
        out
    }

    pub fn generate(&self, case: &str) -> Generated {
        let raw = std::fs::read_to_string(fixtures().join(case).join("event.json")).unwrap();
        self.generate_value(&serde_json::from_str(&raw).unwrap())
    }

    pub fn apply_fix(&self, case: &str) {
        let patch = fixtures().join(case).join("fix.patch");
        self.git(&["apply", "-p1", patch.to_str().unwrap()]);
    }

    /// Run a shell command in the app; (success, stdout+stderr).
    pub fn sh(&self, cmd: &str, env: &[(&str, &str)]) -> (bool, String) {
        let mut c = Command::new("sh");
        c.arg("-c").arg(cmd).current_dir(&self.dir);
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }
}

/// Rust tests share one target dir (the `sentry` tree builds once); sample apps of the same package
/// name would overwrite each other's artifacts when built concurrently, so they take turns.
static CARGO_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn cargo_turn() -> std::sync::MutexGuard<'static, ()> {
    CARGO_LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn cargo_env() -> Vec<(&'static str, String)> {
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/polyglot-apps");
    vec![("CARGO_TARGET_DIR", target.to_string_lossy().into_owned())]
}

fn cargo(app: &App, cmd: &str) -> (bool, String) {
    let env = cargo_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    app.sh(cmd, &env)
}

/// Call replay: the panic message names the sliced string; the test sweeps `max` and fails with the
/// reported panic; after the fix it passes, and so does the app's suite.
#[test]
fn rust_changelog_truncate_utf8_call_replay() {
    if !have("cargo", "--version") {
        return;
    }
    let _turn = cargo_turn();
    let case = "rs-changelog-truncate-utf8";
    let app = App::new(case);
    let out = app.generate(case);
    assert_eq!(out.language, "rust");
    assert_eq!(out.strategy, "call_replay", "{:?}", out.reasons);
    assert!(
        out.files.iter().any(|f| f.starts_with("tests/sentry_")),
        "{:?}",
        out.files
    );
    let (ok, text) = cargo(&app, &out.test_command);
    assert!(!ok, "the repro must fail on the buggy code:\n{text}");
    assert!(text.contains("SENTRY-REPRO: REPRODUCED"), "{text}");
    assert!(text.contains("is not a char boundary"), "{text}");
    assert!(text.contains("truncate_subject"), "{text}");
    app.apply_fix(case);
    let (ok, text) = cargo(&app, &out.test_command);
    assert!(ok, "the repro must pass after the fix:\n{text}");
    let (ok, text) = cargo(&app, "cargo test");
    assert!(ok, "the app's suite must pass after the fix:\n{text}");
}

/// Scaffold: `called Option::unwrap() on a None value` says nothing about the counts and prices that
/// were passed, and Rust events carry no local variables, so the inputs are unknown: the test imports
/// the crashing public function and fails with the NOT YET REPRODUCED marker.
#[test]
fn rust_stock_price_unwrap_scaffold() {
    if !have("cargo", "--version") {
        return;
    }
    let _turn = cargo_turn();
    let case = "rs-stock-price-unwrap";
    let app = App::new(case);
    let out = app.generate(case);
    assert_eq!(out.strategy, "scaffold", "{:?}", out.reasons);
    let test = std::fs::read_to_string(app.dir.join(&out.files[0])).unwrap();
    assert!(
        test.contains("use stockval::valuation::value_inventory;"),
        "{test}"
    );
    let (ok, text) = cargo(&app, &out.test_command);
    assert!(!ok, "{text}");
    assert!(text.contains(MARKER_NOT_REPRODUCED), "{text}");
    assert!(
        text.contains("stockval::valuation::value_inventory at src/valuation.rs:25"),
        "{text}"
    );
    assert!(
        text.contains("called `Option::unwrap()` on a `None` value"),
        "{text}"
    );
    // A rename of the crashing function breaks the scaffold (it is really tied to the code).
    let src = app.dir.join("src/valuation.rs");
    let code = std::fs::read_to_string(&src)
        .unwrap()
        .replace("pub fn value_inventory", "pub fn value_stock");
    std::fs::write(&src, code).unwrap();
    let (ok, text) = cargo(&app, &out.test_command);
    assert!(
        !ok && text.contains("value_inventory") && text.contains("error"),
        "{text}"
    );
}

/// Hostile strings through the Rust templates: the generated test compiles, and none of the payloads
/// runs (no file is created).
#[test]
fn rust_hostile_event_is_inert() {
    if !have("cargo", "--version") {
        return;
    }
    let _turn = cargo_turn();
    let case = "rs-changelog-truncate-utf8";
    let app = App::new(case);
    let pwned = app.dir.join("PWNED");
    let payload = format!(
        "\"); std::fs::write({p:?}, \"x\"); (\"\n*/ std::fs::write({p:?}, \"x\"); /*\u{202e}{{}} \\u{{0}}\r\n#[test] fn x() {{ std::fs::write({p:?}, \"x\").unwrap(); }}",
        p = pwned.to_string_lossy()
    );
    let raw = std::fs::read_to_string(fixtures().join(case).join("event.json")).unwrap();
    let mut ev: serde_json::Value = serde_json::from_str(&raw).unwrap();
    ev["event_id"] = "hostile1".into();
    ev["title"] = payload.clone().into();
    let frames = ev["exception"]["values"][0]["stacktrace"]["frames"]
        .as_array_mut()
        .unwrap();
    for f in frames.iter_mut() {
        if f["function"] == "core::str::slice_error_fail" {
            f["function"] = payload.clone().into();
        }
    }
    // A slicing panic whose string is the payload: call replay renders it into a literal.
    ev["exception"]["values"][0]["value"] =
        format!("byte index 99 is out of range of `{payload}`").into();
    let out = app.generate_value(&ev);
    assert_eq!(out.strategy, "call_replay", "{:?}", out.reasons);
    let (_, text) = cargo(&app, &out.test_command);
    assert!(
        !text.contains("error["),
        "the generated test must compile:\n{text}"
    );
    assert!(!pwned.exists(), "a payload ran");
    // And the scaffold path: a message with no input.
    let app2 = App::new(case);
    ev["event_id"] = "hostile2".into();
    ev["exception"]["values"][0]["value"] = payload.into();
    let out = app2.generate_value(&ev);
    // The payload's quoted parts are candidate inputs: call replay renders them into literals too
    // (the sweep finds no panic with them, so the test may pass; it must compile and stay inert).
    assert!(
        ["scaffold", "call_replay"].contains(&out.strategy.as_str()),
        "{:?}",
        out.reasons
    );
    let (_, text) = cargo(&app2, &out.test_command);
    assert!(
        !text.contains("error["),
        "the generated test must compile:\n{text}"
    );
    assert!(
        !app2.dir.join("PWNED").exists() && !pwned.exists(),
        "a payload ran"
    );
}

/// Call replay of a Rust case: red with the reported panic message (and the crash site named),
/// green after `fix.patch`, and the app's suite green.
fn rust_replay_case(case: &str, callee: &str, panic_text: &str) -> String {
    let _turn = cargo_turn();
    let app = App::new(case);
    let out = app.generate(case);
    assert_eq!(out.language, "rust");
    assert_eq!(out.strategy, "call_replay", "{:?}", out.reasons);
    let test = std::fs::read_to_string(app.dir.join(&out.files[0])).unwrap();
    assert!(test.contains(callee), "{test}");
    let (ok, text) = cargo(&app, &out.test_command);
    assert!(!ok, "the repro must fail on the buggy code:\n{text}");
    assert!(text.contains("SENTRY-REPRO: REPRODUCED"), "{text}");
    assert!(text.contains(panic_text), "{text}");
    app.apply_fix(case);
    let (ok, text) = cargo(&app, &out.test_command);
    assert!(ok, "the repro must pass after the fix:\n{text}");
    let (ok, text) = cargo(&app, "cargo test");
    assert!(ok, "the app's suite must pass after the fix:\n{text}");
    test
}

/// Index out of bounds whose input only a breadcrumb carries: the app logs each CSV row (data
/// `line`) before parsing it; the message gives the length and index. `parse_row` is replayed with
/// the breadcrumb's row and fails with the exact message raised in rows.rs.
#[test]
fn rust_stock_import_index_from_breadcrumb() {
    if !have("cargo", "--version") {
        return;
    }
    let test = rust_replay_case(
        "rs-stock-import-index",
        "use stockimport::rows::parse_row;",
        "index out of bounds: the len is 3 but the index is 3",
    );
    assert!(test.contains("\"B-7,2,450\""), "{test}");
}

/// The same index panic without its breadcrumbs: the message gives a length and an index but not
/// the row, so there is no honest string to call `parse_row` with: a scaffold, not a search that
/// would pass on the buggy code.
#[test]
fn rust_stock_import_index_without_breadcrumbs_is_scaffold() {
    let case = "rs-stock-import-index";
    let app = App::new(case);
    let mut ev = event_of(case);
    ev.as_object_mut().unwrap().remove("breadcrumbs");
    let out = app.generate_value(&ev);
    assert_eq!(out.strategy, "scaffold", "{:?}", out.reasons);
    let test = std::fs::read_to_string(app.dir.join(&out.files[0])).unwrap();
    assert!(test.contains("use stockimport::rows::parse_row;"), "{test}");
    assert!(test.contains(MARKER_NOT_REPRODUCED), "{test}");
}

/// An explicit `panic!` quoting its input (`invalid duration "1h30m": …`): the quoted value is the
/// argument of the public `parse_duration(&str)`; the closure frame maps to the function.
#[test]
fn rust_retry_duration_panic_message_replay() {
    if !have("cargo", "--version") {
        return;
    }
    let test = rust_replay_case(
        "rs-retry-duration-panic",
        "use retrycfg::duration::parse_duration;",
        "invalid duration \"1h30m\": invalid digit found in string",
    );
    assert!(test.contains("\"1h30m\""), "{test}");
}

/// The same crash through an associated function (`Spec::parse(&str)`, no `self`): replayed as
/// `Spec::parse(..)`; red with the message, green after the same fix. The app and the event's
/// function paths are rewritten consistently (what a refactor into an impl block would produce).
#[test]
fn rust_retry_duration_associated_fn_replay() {
    if !have("cargo", "--version") {
        return;
    }
    let _turn = cargo_turn();
    let case = "rs-retry-duration-panic";
    let app = App::new(case);
    let src = app.dir.join("src/duration.rs");
    let code = std::fs::read_to_string(&src).unwrap();
    let code = code
        .replace(
            "pub fn parse_duration(spec: &str)",
            "pub struct Spec;\n\nimpl Spec {\npub fn parse(spec: &str)",
        )
        + "}\n\npub fn parse_duration(spec: &str) -> Option<Duration> {\n    Spec::parse(spec)\n}\n";
    std::fs::write(&src, code).unwrap();
    app.git(&["commit", "-qam", "impl block"]);
    let mut ev = event_of(case);
    let frames = ev["exception"]["values"][0]["stacktrace"]["frames"]
        .as_array_mut()
        .unwrap();
    for f in frames.iter_mut() {
        let name = f["function"].as_str().unwrap_or("").to_string();
        if let Some(rest) = name.strip_prefix("retrycfg::duration::parse_duration") {
            f["function"] = format!("retrycfg::duration::Spec::parse{rest}").into();
        }
    }
    let out = app.generate_value(&ev);
    assert_eq!(out.strategy, "call_replay", "{:?}", out.reasons);
    let test = std::fs::read_to_string(app.dir.join(&out.files[0])).unwrap();
    assert!(test.contains("Spec::parse("), "{test}");
    let (ok, text) = cargo(&app, &out.test_command);
    assert!(!ok && text.contains("SENTRY-REPRO: REPRODUCED"), "{text}");
    assert!(text.contains("invalid duration \"1h30m\""), "{text}");
    let code = std::fs::read_to_string(&src).unwrap().replace(
        "        .unwrap_or_else(|e| panic!(\"invalid duration {spec:?}: {e}\"));",
        "        .ok()?;",
    );
    std::fs::write(&src, code).unwrap();
    let (ok, text) = cargo(&app, &out.test_command);
    assert!(ok, "{text}");
}

/// The same divide by zero when the function takes plain numbers (`&[u32]`): the empty list is a
/// candidate, so the search reproduces the panic in stats.rs; after the fix it passes.
#[test]
fn rust_review_average_zero_int_slice_replay() {
    if !have("cargo", "--version") {
        return;
    }
    let _turn = cargo_turn();
    let case = "rs-review-average-zero";
    let app = App::new(case);
    let src = app.dir.join("src/stats.rs");
    let code = std::fs::read_to_string(&src)
        .unwrap()
        .replace(
            "pub fn average_half_stars(reviews: &[Review]) -> u32 {\n    let total: u32 = reviews.iter().map(|r| r.stars * 2).sum();\n    total / reviews.len() as u32",
            "pub fn average_half_stars(stars: &[u32]) -> u32 {\n    let total: u32 = stars.iter().map(|s| s * 2).sum();\n    total / stars.len() as u32",
        )
        .replace(
            "average_half_stars(&product.reviews)",
            "average_half_stars(&product.reviews.iter().map(|r| r.stars).collect::<Vec<_>>())",
        )
        .replace("use crate::{Product, Review};", "use crate::Product;");
    assert!(code.contains("stars: &[u32]"), "{code}");
    std::fs::write(&src, code).unwrap();
    app.git(&["commit", "-qam", "plain numbers"]);
    let out = app.generate(case);
    assert_eq!(out.strategy, "call_replay", "{:?}", out.reasons);
    let (ok, text) = cargo(&app, &out.test_command);
    assert!(!ok && text.contains("SENTRY-REPRO: REPRODUCED"), "{text}");
    assert!(text.contains("attempt to divide by zero"), "{text}");
    let code = std::fs::read_to_string(&src).unwrap().replace(
        "    total / stars.len() as u32",
        "    total.checked_div(stars.len() as u32).unwrap_or(0)",
    );
    std::fs::write(&src, code).unwrap();
    let (ok, text) = cargo(&app, &out.test_command);
    assert!(ok, "{text}");
    let (ok, text) = cargo(&app, "cargo test");
    assert!(ok, "{text}");
}

/// Divide by zero in `average_half_stars(&[Review])`: the event does not reveal the reviews (a slice
/// of structs, no vars in Rust events) and every caller takes a struct, so the honest result is a
/// scaffold naming the function; it fails with the marker, never passes.
#[test]
fn rust_review_average_zero_scaffold() {
    if !have("cargo", "--version") {
        return;
    }
    let _turn = cargo_turn();
    let case = "rs-review-average-zero";
    let app = App::new(case);
    let out = app.generate(case);
    assert_eq!(out.strategy, "scaffold", "{:?}", out.reasons);
    let test = std::fs::read_to_string(app.dir.join(&out.files[0])).unwrap();
    assert!(
        test.contains("use reviewstats::stats::average_half_stars;"),
        "{test}"
    );
    let (ok, text) = cargo(&app, &out.test_command);
    assert!(!ok && text.contains(MARKER_NOT_REPRODUCED), "{text}");
    assert!(
        text.contains("reviewstats::stats::average_half_stars at src/stats.rs:8"),
        "{text}"
    );
    assert!(text.contains("attempt to divide by zero"), "{text}");
    // Still red after the fix: a scaffold never passes.
    app.apply_fix(case);
    let (ok, text) = cargo(&app, &out.test_command);
    assert!(!ok && text.contains(MARKER_NOT_REPRODUCED), "{text}");
}

fn go(app: &App, cmd: &str) -> (bool, String) {
    app.sh(cmd, &[("GOFLAGS", "-buildvcs=false")])
}

fn event_of(case: &str) -> serde_json::Value {
    let raw = std::fs::read_to_string(fixtures().join(case).join("event.json")).unwrap();
    serde_json::from_str(&raw).unwrap()
}

/// Request replay: the sentry-go event has the request (GET /split?total=4250&ways=0); the test sends it
/// through `billing.NewRouter()` with httptest and fails with the reported panic; after the fix it
/// answers 400 and passes, and the app's suite passes.
#[test]
fn go_split_bill_request_replay() {
    if !have("go", "version") {
        return;
    }
    let case = "go-split-bill";
    let app = App::new(case);
    let out = app.generate(case);
    assert_eq!(out.language, "go");
    assert_eq!(out.strategy, "request_replay", "{:?}", out.reasons);
    assert!(out.files[0].starts_with("repro/sentry_"), "{:?}", out.files);
    let test = std::fs::read_to_string(app.dir.join(&out.files[0])).unwrap();
    assert!(
        !test.contains("session=secret"),
        "credentials must not be replayed:\n{test}"
    );
    let (ok, text) = go(&app, &out.test_command);
    assert!(!ok, "{text}");
    assert!(text.contains("SENTRY-REPRO: REPRODUCED"), "{text}");
    assert!(
        text.contains("runtime error: integer divide by zero"),
        "{text}"
    );
    app.apply_fix(case);
    let (ok, text) = go(&app, &out.test_command);
    assert!(ok, "{text}");
    let (ok, text) = go(&app, "go test ./... -count=1");
    assert!(ok, "{text}");
}

/// Scaffold: the same crash without the request (a panic in a worker, say) leaves the inputs of
/// `splitCents(total, ways)` unknown (Go events have no vars). `splitCents` is unexported, so the test
/// lives in its package and references it: a rename breaks it.
#[test]
fn go_split_bill_scaffold_without_request() {
    if !have("go", "version") {
        return;
    }
    let case = "go-split-bill";
    let app = App::new(case);
    let mut ev = event_of(case);
    ev.as_object_mut().unwrap().remove("request");
    let out = app.generate_value(&ev);
    assert_eq!(out.strategy, "scaffold", "{:?}", out.reasons);
    assert!(
        out.files[0].starts_with("internal/billing/sentry_"),
        "{:?}",
        out.files
    );
    let (ok, text) = go(&app, &out.test_command);
    assert!(!ok && text.contains(MARKER_NOT_REPRODUCED), "{text}");
    assert!(
        text.contains("splitCents at internal/billing/split.go:18"),
        "{text}"
    );
    let src = app.dir.join("internal/billing/split.go");
    let code = std::fs::read_to_string(&src)
        .unwrap()
        .replace("splitCents", "divideCents");
    std::fs::write(&src, code).unwrap();
    let (ok, text) = go(&app, &out.test_command);
    assert!(!ok && text.contains("undefined: splitCents"), "{text}");
}

/// Hostile request and message values through the Go templates: `go vet` is clean and nothing runs.
#[test]
fn go_hostile_event_is_inert() {
    if !have("go", "version") {
        return;
    }
    let case = "go-split-bill";
    let app = App::new(case);
    let pwned = app.dir.join("PWNED");
    let p = pwned.to_string_lossy().to_string();
    let payload = format!("\"); os.WriteFile({p:?}, nil, 0o644); (\"\n*/ }} func init() {{ os.WriteFile({p:?}, nil, 0o644) }} /*`\u{202e}\\x00");
    let mut ev = event_of(case);
    ev["title"] = format!("+build ignore\n{payload}").into();
    ev["exception"][0]["value"] = payload.clone().into();
    ev["exception"][0]["stacktrace"]["frames"][0]["function"] = "+build ignore".into();
    ev["request"]["url"] = format!("http://h/split/{payload}").into();
    ev["request"]["query_string"] = format!("total=1&{payload}={payload}").into();
    ev["request"]["data"] = payload.clone().into();
    ev["request"]["headers"] =
        serde_json::json!({"X-Evil": payload, "Evil\"); os.Exit(0); (\"": "x"});
    let out = app.generate_value(&ev);
    assert_eq!(out.strategy, "request_replay", "{:?}", out.reasons);
    let (ok, text) = go(&app, "go vet ./repro/");
    assert!(ok, "go vet: {text}");
    // The replayed hostile request answers 404 (no crash), so the test may pass; what matters is that
    // it compiled and ran (no `+build ignore` header excluded it) and that no payload ran.
    let (_, text) = go(&app, &out.test_command);
    assert!(
        text.contains("=== RUN   TestSentry_"),
        "the test must run:\n{text}"
    );
    assert!(!pwned.exists(), "a payload ran");
}
