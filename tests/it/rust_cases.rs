//! Rust reproductions and the Rust gate, end to end with the real toolchain (cargo).
//!
//! Each case: a git repository of the fixture's `app/` in a temp dir (`support::Repo`: fixed
//! identity, the user's git config ignored), `pipeline::generate` with a fixed clock, checkout of the
//! new branch, the generated test run with cargo (red for the right reason: the reported panic, or
//! the NOT YET REPRODUCED marker for a scaffold), then for replays `fix.patch` applied: green, and the
//! app's own suite green. The gate tests run the real binary's `verify --base main` on the branch:
//! STILL_RED without the fix, FLIPPED with it committed, and a scaffold never passes.
//!
//! Build time: every sample app depends on the real `sentry` crate. The tests share one
//! CARGO_TARGET_DIR (`target/polyglot-apps`) so that tree is built once; `verify` is pointed at the
//! same dir through `SENTRY_REPRO_CARGO_TARGET_DIR` (the runner then rebuilds only the app's own
//! crates). Cargo runs take turns (`cargo_turn`): apps of the same package name share artifacts.
//! Fixtures: `tests/fixtures/rust/*`.
//! A missing cargo fails the test when CI=true.

use std::path::PathBuf;

use sentry_repro::contract::MARKER_NOT_REPRODUCED;
use sentry_repro::pipeline::Generated;

use crate::support::{self, have, Repo};

/// A case folder: `tests/fixtures/rust/<case>`.
fn case_dir(case: &str) -> PathBuf {
    support::fixtures("rust").join(case)
}

fn event_of(case: &str) -> serde_json::Value {
    let raw = std::fs::read_to_string(case_dir(case).join("event.json")).unwrap();
    serde_json::from_str(&raw).unwrap()
}

/// A sample app in a git repository, on `main`.
struct App {
    repo: Repo,
    dir: PathBuf,
}

impl App {
    fn new(case: &str) -> App {
        let repo = Repo::of(&case_dir(case).join("app"));
        let dir = repo.dir.clone();
        App { repo, dir }
    }

    fn git(&self, args: &[&str]) -> String {
        self.repo.git(args)
    }

    /// Generate from an event value and check out the new branch.
    fn generate_value(&self, event: &serde_json::Value) -> Generated {
        self.repo.generate_and_checkout(event)
    }

    fn generate(&self, case: &str) -> Generated {
        self.generate_value(&event_of(case))
    }

    /// `fix.patch` applied to the work tree (not committed).
    fn apply_fix(&self, case: &str) {
        let patch = case_dir(case).join("fix.patch");
        self.git(&["apply", "-p1", patch.to_str().unwrap()]);
    }

    fn test_file(&self, out: &Generated) -> String {
        std::fs::read_to_string(self.dir.join(&out.files[0])).unwrap()
    }
}

/// Rust tests share one target dir (the `sentry` tree builds once); sample apps of the same package
/// name would overwrite each other's artifacts when built concurrently, so they take turns.
static CARGO_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn cargo_turn() -> std::sync::MutexGuard<'static, ()> {
    CARGO_LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn shared_target() -> String {
    support::manifest_dir()
        .join("target/polyglot-apps")
        .to_string_lossy()
        .into_owned()
}

/// Where cargo and rustup live: `verify_in` isolates HOME, which would hide them.
fn toolchain_env() -> Vec<(&'static str, String)> {
    let home = std::env::var("HOME").unwrap_or_default();
    let cargo_home = std::env::var("CARGO_HOME").unwrap_or_else(|_| format!("{home}/.cargo"));
    let rustup_home = std::env::var("RUSTUP_HOME").unwrap_or_else(|_| format!("{home}/.rustup"));
    vec![("CARGO_HOME", cargo_home), ("RUSTUP_HOME", rustup_home)]
}

fn cargo(app: &App, cmd: &str) -> (bool, String) {
    app.repo.sh(cmd, &[("CARGO_TARGET_DIR", &shared_target())])
}

/// The real binary's `verify --base main` on the checked-out branch, sharing the dependency build.
fn gate(app: &App, extra: &[&str]) -> support::Gate {
    let mut args = vec!["--base", "main"];
    args.extend_from_slice(extra);
    let mut env = toolchain_env();
    env.push(("SENTRY_REPRO_CARGO_TARGET_DIR", shared_target()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let start = std::time::Instant::now();
    let g = support::verify_in(&app.dir, &app.repo.home, &args, &env);
    eprintln!(
        "verify {extra:?}: exit {} in {:.1}s",
        g.exit,
        start.elapsed().as_secs_f64()
    );
    g
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
    let test = app.test_file(&out);
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
    let mut ev = event_of(case);
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
    let test = app.test_file(&out);
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
    let test = app.test_file(&out);
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
    let test = app.test_file(&out);
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
    let test = app.test_file(&out);
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

/// The gate on a call replay: `verify --base main` on the generated branch is STILL_RED (exit 1)
/// without the fix; with `fix.patch` committed it is FLIPPED and passes (exit 0, suite green).
fn gate_case(case: &str, panic_text: &str) {
    if !have("cargo", "--version") {
        return;
    }
    let _turn = cargo_turn();
    let app = App::new(case);
    let out = app.generate(case);
    assert_eq!(out.strategy, "call_replay", "{:?}", out.reasons);
    let g = gate(&app, &["--no-suite", "--runs", "1"]);
    assert_eq!(g.exit, 1, "{}", g.output);
    assert_eq!(g.verdicts(), ["STILL_RED"], "{}", g.output);
    assert!(g.output.contains(panic_text), "{}", g.output);
    app.repo
        .commit_patch(&case_dir(case).join("fix.patch"), "fix the crash");
    let g = gate(&app, &[]);
    assert_eq!(g.verdicts(), ["FLIPPED"], "{}", g.output);
    assert_eq!(g.exit, 0, "{}", g.output);
    assert_eq!(g.report["ok"], true, "{}", g.output);
}

#[test]
fn rust_gate_changelog_truncate_utf8() {
    gate_case("rs-changelog-truncate-utf8", "is not a char boundary");
}

#[test]
fn rust_gate_stock_import_index() {
    gate_case(
        "rs-stock-import-index",
        "index out of bounds: the len is 3 but the index is 3",
    );
}

/// A scaffold never passes the gate: red on base with the marker is the wrong reason
/// (RED_WRONG_REASON), and so it stays after the fix is committed.
#[test]
fn rust_gate_scaffold_never_passes() {
    if !have("cargo", "--version") {
        return;
    }
    let _turn = cargo_turn();
    let case = "rs-review-average-zero";
    let app = App::new(case);
    let out = app.generate(case);
    assert_eq!(out.strategy, "scaffold", "{:?}", out.reasons);
    app.repo
        .commit_patch(&case_dir(case).join("fix.patch"), "fix the crash");
    let g = gate(&app, &["--no-suite", "--runs", "1"]);
    assert_ne!(g.exit, 0, "{}", g.output);
    assert_eq!(g.verdicts(), ["RED_WRONG_REASON"], "{}", g.output);
    assert!(g.output.contains("not yet reproduced"), "{}", g.output);
}

/// A method (`Paginator::page_count(&self, total)`): the type derives `Default`, so the receiver is
/// `Paginator::default()` (what the app's settings fell back to) and the total is searched (an
/// arithmetic panic); red with the reported divide by zero in paginate.rs, green after the fix.
#[test]
fn rust_catalog_page_count_default_receiver() {
    if !have("cargo", "--version") {
        return;
    }
    let test = rust_replay_case(
        "rs-catalog-page-count",
        "use catalogpage::paginate::Paginator;",
        "attempt to divide by zero",
    );
    assert!(test.contains("Paginator::default()"), "{test}");
    assert!(test.contains("receiver.page_count("), "{test}");
}

/// The same method when the type has no `Default` but a public constructor of an integer: the
/// receiver is `Paginator::new(n)` with `n` searched like the method's own integers.
#[test]
fn rust_catalog_page_count_constructor_receiver() {
    if !have("cargo", "--version") {
        return;
    }
    let _turn = cargo_turn();
    let case = "rs-catalog-page-count";
    let app = App::new(case);
    let src = app.dir.join("src/paginate.rs");
    let code = std::fs::read_to_string(&src)
        .unwrap()
        .replace("Clone, Default, PartialEq", "Clone, PartialEq");
    std::fs::write(&src, code).unwrap();
    let settings = app.dir.join("src/settings.rs");
    let code = std::fs::read_to_string(&settings)
        .unwrap()
        .replace("Clone, Default, PartialEq", "Clone, PartialEq")
        .replace(
            "            ..Default::default()",
            "            pager: Paginator::new(0),",
        );
    std::fs::write(&settings, code).unwrap();
    app.git(&["commit", "-qam", "no Default"]);
    let out = app.generate(case);
    assert_eq!(out.strategy, "call_replay", "{:?}", out.reasons);
    let test = app.test_file(&out);
    assert!(test.contains("Paginator::new(a10)"), "{test}");
    let (ok, text) = cargo(&app, &out.test_command);
    assert!(!ok && text.contains("SENTRY-REPRO: REPRODUCED"), "{text}");
    assert!(text.contains("attempt to divide by zero"), "{text}");
    let code = std::fs::read_to_string(&src).unwrap().replace(
        "(total + self.per_page - 1) / self.per_page",
        "total.div_ceil(self.per_page.max(1))",
    );
    std::fs::write(&src, code).unwrap();
    let (ok, text) = cargo(&app, &out.test_command);
    assert!(ok, "{text}");
}

/// A method whose type can only be built from values the event does not carry (no `Default`, no
/// constructor of strings or integers, private fields): never a made-up receiver, a scaffold
/// naming the type.
#[test]
fn rust_method_without_constructor_is_scaffold() {
    let case = "rs-catalog-page-count";
    let app = App::new(case);
    let src = app.dir.join("src/paginate.rs");
    let code = std::fs::read_to_string(&src)
        .unwrap()
        .replace("Clone, Default, PartialEq", "Clone, PartialEq")
        .replace("    pub per_page: usize,", "    per_page: usize,")
        .replace(
            "pub fn new(per_page: usize) -> Self {\n        Paginator { per_page }",
            "pub fn new(settings: &crate::Settings) -> Self {\n        Paginator { per_page: settings.currency.len() }",
        );
    assert!(code.contains("settings: &crate::Settings"), "{code}");
    std::fs::write(&src, code).unwrap();
    app.git(&["commit", "-qam", "built from settings"]);
    let out = app.generate(case);
    assert_eq!(out.strategy, "scaffold", "{:?}", out.reasons);
    assert!(
        out.reasons
            .iter()
            .any(|r| r.contains("takes self, and Paginator has no Default")),
        "{:?}",
        out.reasons
    );
    let test = app.test_file(&out);
    assert!(
        test.contains("use catalogpage::paginate::Paginator;"),
        "{test}"
    );
    assert!(test.contains(MARKER_NOT_REPRODUCED), "{test}");
}

/// `called Result::unwrap() on an Err value: ParseIntError { kind: InvalidDigit }` names no
/// input; the breadcrumb the app logs for each line quotes it (`qty "12 pcs"`). The generic
/// `parse_quantity<S: AsRef<str>>` is instantiated with `&str` and replayed with the quoted values;
/// red with the exact message raised in qty.rs, green once it returns an error instead.
#[test]
fn rust_order_qty_generic_from_breadcrumb() {
    if !have("cargo", "--version") {
        return;
    }
    let test = rust_replay_case(
        "rs-order-qty-parse",
        "use orderlines::qty::parse_quantity;",
        "ParseIntError { kind: InvalidDigit }",
    );
    assert!(test.contains("\"12 pcs\""), "{test}");
}

/// Without its breadcrumbs the ParseIntError says nothing about the string: a scaffold.
#[test]
fn rust_order_qty_without_breadcrumbs_is_scaffold() {
    let case = "rs-order-qty-parse";
    let app = App::new(case);
    let mut ev = event_of(case);
    ev.as_object_mut().unwrap().remove("breadcrumbs");
    let out = app.generate_value(&ev);
    assert_eq!(out.strategy, "scaffold", "{:?}", out.reasons);
}

#[test]
fn rust_gate_catalog_page_count_method() {
    gate_case("rs-catalog-page-count", "attempt to divide by zero");
}

#[test]
fn rust_gate_order_qty_generic() {
    gate_case("rs-order-qty-parse", "ParseIntError { kind: InvalidDigit }");
}

/// The same crash when the quantity column is optional (`Option<&str>`): the candidates are `None`
/// and `Some` of every revealed value; red with `Some("12 pcs")`, green after the fix.
#[test]
fn rust_order_qty_option_param() {
    if !have("cargo", "--version") {
        return;
    }
    let _turn = cargo_turn();
    let case = "rs-order-qty-parse";
    let app = App::new(case);
    let src = app.dir.join("src/qty.rs");
    let code = std::fs::read_to_string(&src).unwrap().replace(
        "pub fn parse_quantity<S: AsRef<str>>(raw: S) -> u32 {\n    let raw = raw.as_ref().trim();",
        "pub fn parse_quantity(raw: Option<&str>) -> u32 {\n    let raw = raw.unwrap_or(\"1\").trim();",
    );
    assert!(code.contains("Option<&str>"), "{code}");
    std::fs::write(&src, code).unwrap();
    let lines = app.dir.join("src/lines.rs");
    let code = std::fs::read_to_string(&lines).unwrap().replace(
        "parse_quantity(fields[1])",
        "parse_quantity(Some(fields[1]))",
    );
    std::fs::write(&lines, code).unwrap();
    std::fs::remove_file(app.dir.join("tests/lines.rs")).unwrap();
    app.git(&["add", "-A"]);
    app.git(&["commit", "-qm", "optional quantity"]);
    let out = app.generate(case);
    assert_eq!(out.strategy, "call_replay", "{:?}", out.reasons);
    let (ok, text) = cargo(&app, &out.test_command);
    assert!(!ok && text.contains("SENTRY-REPRO: REPRODUCED"), "{text}");
    assert!(text.contains("Some(\"12 pcs\")"), "{text}");
    let code = std::fs::read_to_string(&src)
        .unwrap()
        .replace(".parse().unwrap()", ".parse().unwrap_or(0)");
    std::fs::write(&src, code).unwrap();
    let (ok, text) = cargo(&app, &out.test_command);
    assert!(ok, "{text}");
}

/// The same method when the only way to build the type from outside is a struct literal (every
/// field public, `new` crate-private): `Paginator { per_page: n }` with `n` searched.
#[test]
fn rust_catalog_page_count_struct_literal_receiver() {
    if !have("cargo", "--version") {
        return;
    }
    let _turn = cargo_turn();
    let case = "rs-catalog-page-count";
    let app = App::new(case);
    let src = app.dir.join("src/paginate.rs");
    let code = std::fs::read_to_string(&src)
        .unwrap()
        .replace("Clone, Default, PartialEq", "Clone, PartialEq")
        .replace("    pub fn new(", "    pub(crate) fn new(");
    std::fs::write(&src, code).unwrap();
    let settings = app.dir.join("src/settings.rs");
    let code = std::fs::read_to_string(&settings)
        .unwrap()
        .replace("Clone, Default, PartialEq", "Clone, PartialEq")
        .replace(
            "            ..Default::default()",
            "            pager: Paginator::new(0),",
        );
    std::fs::write(&settings, code).unwrap();
    std::fs::remove_file(app.dir.join("tests/paginate.rs")).unwrap();
    app.git(&["add", "-A"]);
    app.git(&["commit", "-qm", "crate-private constructor"]);
    let out = app.generate(case);
    assert_eq!(out.strategy, "call_replay", "{:?}", out.reasons);
    let test = app.test_file(&out);
    assert!(test.contains("per_page: a10,"), "{test}");
    let (ok, text) = cargo(&app, &out.test_command);
    assert!(!ok && text.contains("SENTRY-REPRO: REPRODUCED"), "{text}");
    assert!(text.contains("attempt to divide by zero"), "{text}");
}

/// A method of a workspace member's pub struct implemented in another (private) module than the
/// struct: the frame reads `ratecard::tariff::pricing::<impl ratecard::tariff::Tariff>::price_line`.
/// The replay reaches it through the type's own public path (`ratecard::tariff::Tariff`), builds the
/// receiver from the struct's `Default` (declared in `tariff/mod.rs`, not in `pricing.rs`), takes
/// the weight from the breadcrumb and fails with the reported ParseIntError raised in pricing.rs.
/// The test lives in the member (`crates/ratecard/tests/`, `cargo test -p ratecard`); the gate with
/// the workspace suite is STILL_RED without the fix (the suite, which also runs the repro test, is
/// not a regression) and FLIPPED with it.
#[test]
fn rust_workspace_member_impl_in_other_module_replay_and_gate() {
    if !have("cargo", "--version") {
        return;
    }
    let _turn = cargo_turn();
    let case = "rs-tariff-qty-method";
    let app = App::new(case);
    let out = app.generate(case);
    assert_eq!(out.strategy, "call_replay", "{:?}", out.reasons);
    assert!(
        out.files[0].starts_with("crates/ratecard/tests/sentry_"),
        "{:?}",
        out.files
    );
    assert!(
        out.test_command.contains("-p ratecard"),
        "{}",
        out.test_command
    );
    let test = app.test_file(&out);
    assert!(test.contains("use ratecard::tariff::Tariff;"), "{test}");
    assert!(test.contains("Tariff::default()"), "{test}");
    assert!(test.contains("receiver.price_line("), "{test}");
    let (ok, text) = cargo(&app, &out.test_command);
    assert!(!ok && text.contains("SENTRY-REPRO: REPRODUCED"), "{text}");
    assert!(
        text.contains("ParseIntError { kind: InvalidDigit }"),
        "{text}"
    );
    let g = gate(&app, &["--runs", "1"]);
    assert_eq!(g.exit, 1, "{}", g.output);
    assert_eq!(g.verdicts(), ["STILL_RED"], "{}", g.output);
    assert_eq!(g.report["suites"][0]["verdict"], "PASSED", "{}", g.output);
    app.repo
        .commit_patch(&case_dir(case).join("fix.patch"), "fix the crash");
    let g = gate(&app, &["--runs", "1"]);
    assert_eq!(g.verdicts(), ["FLIPPED"], "{}", g.output);
    assert_eq!(g.exit, 0, "{}", g.output);
}

/// A panic inside `impl FromStr for Money` (`<stmtsum::money::Money as core::str::traits::FromStr>::from_str`,
/// reached through `str::parse`): the trait method is called as `<Money as std::str::FromStr>::from_str`
/// with the revealed strings (the amount from the breadcrumb) and fails with the reported slicing
/// panic. Before, the generator skipped the trait method and replayed the caller `parse_line(row)`
/// with strings that are no rows: a test that passed on the buggy code (NOT_RED).
#[test]
fn rust_money_from_str_trait_method_replay() {
    if !have("cargo", "--version") {
        return;
    }
    let test = rust_replay_case(
        "rs-money-fromstr",
        "<Money as std::str::FromStr>::from_str(a0)",
        "end byte index 2 is out of bounds of `5`",
    );
    assert!(test.contains("use stmtsum::money::Money;"), "{test}");
    assert!(test.contains("\"-3.5\""), "{test}");
}

/// A panic inside the closure a function maps over its fields (innermost frame
/// `gradebook::scores::parse_scores::{{closure}}`, iterator adapters between it and its function):
/// the closure is no callable item, so the function that owns it is replayed with the list the
/// breadcrumb logged ("91,78,") and fails with the reported ParseIntError { kind: Empty }; the fix
/// (empty fields skipped, `Result` returned) is green. Package with lib and bin (`src/main.rs`).
#[test]
fn rust_closure_in_map_replays_its_function() {
    if !have("cargo", "--version") {
        return;
    }
    let test = rust_replay_case(
        "rs-gradebook-closure-empty",
        "parse_scores(a0)",
        "ParseIntError { kind: Empty }",
    );
    assert!(
        test.contains("use gradebook::scores::parse_scores;"),
        "{test}"
    );
    assert!(test.contains("\"91,78,\""), "{test}");
    assert!(
        test.contains("const CRASH_SITE: &str = \"gradebook::scores::parse_scores::{{closure}}\";"),
        "{test}"
    );
}

/// `HashMap::get_mut(sku).expect(..)` in a `&mut self` method whose impl body holds a comparison
/// (`*on_hand < qty`) and match-free early returns: the impl block is read by its braces, so the
/// method is found (before, the `<` was taken for a generic bracket, the body never closed and the
/// case fell to a scaffold). The receiver is `Inventory::default()`, bound `mut`, the SKU comes from
/// the breadcrumb; the gate is STILL_RED without the fix and FLIPPED with it.
#[test]
fn rust_hashmap_expect_mut_self_method_replay_and_gate() {
    if !have("cargo", "--version") {
        return;
    }
    let case = "rs-stockroom-reserve-expect";
    let test = rust_replay_case(
        case,
        "receiver.reserve(",
        "reserve: SKU has no stock record",
    );
    assert!(test.contains("use stockroom::Inventory;"), "{test}");
    assert!(
        test.contains("let mut receiver = Inventory::default();"),
        "{test}"
    );
    assert!(test.contains("\"CAP-BLK\""), "{test}");
    gate_case(case, "reserve: SKU has no stock record");
}

/// `secs * 1000` overflows a u32 in `ttl_millis(secs: u32)`: integers of the small search range
/// cannot reach that overflow and the event names no large number, so the innermost function is
/// not replayed (before, it was, and the test passed on the buggy code: NOT_RED); its caller
/// `cache_ttl_ms(spec: &str)` is, with the TTL the breadcrumb logged ("90d"), red with the reported
/// overflow raised in ttl.rs and green after the fix (u64 milliseconds). Gate: STILL_RED, FLIPPED.
#[test]
fn rust_int_overflow_climbs_to_the_caller_of_revealed_strings() {
    if !have("cargo", "--version") {
        return;
    }
    let case = "rs-cachecfg-ttl-overflow";
    let test = rust_replay_case(
        case,
        "cache_ttl_ms(a0)",
        "attempt to multiply with overflow",
    );
    assert!(test.contains("use cachecfg::ttl::cache_ttl_ms;"), "{test}");
    assert!(test.contains("\"90d\""), "{test}");
    gate_case(case, "attempt to multiply with overflow");
}

/// Without the breadcrumb nothing reveals an input that overflows: a scaffold (never a replay of
/// `ttl_millis` over 0..=16, which would pass on the buggy code).
#[test]
fn rust_int_overflow_without_breadcrumbs_is_scaffold() {
    let case = "rs-cachecfg-ttl-overflow";
    let mut event = event_of(case);
    event.as_object_mut().unwrap().remove("breadcrumbs");
    let app = App::new(case);
    let out = app.generate_value(&event);
    assert_eq!(out.strategy, "scaffold", "{:?}", out.reasons);
    let test = app.test_file(&out);
    assert!(test.contains(MARKER_NOT_REPRODUCED), "{test}");
}

/// Index out of bounds in `per_hour(visits: &[Visit])`, a slice of a struct no event value
/// rebuilds: the generator climbs to the caller `hour_histogram(lines: &[&str])` and replays it
/// with the batch's lines the breadcrumb logged as a JSON array; red with the reported index panic
/// raised in hours.rs, green after the fix (hour 24 read as midnight).
#[test]
fn rust_struct_slice_index_climbs_to_caller_of_revealed_list() {
    if !have("cargo", "--version") {
        return;
    }
    let test = rust_replay_case(
        "rs-visitlog-hour-index",
        "hour_histogram(a0)",
        "index out of bounds: the len is 24 but the index is 24",
    );
    assert!(
        test.contains("use visitlog::hours::hour_histogram;"),
        "{test}"
    );
    assert!(test.contains("\"24:00:07 GET /orders 200\""), "{test}");
}

/// `pub mod tax { pub fn rate_for(country: &str) … }` is an inline module inside src/billing.rs:
/// the frame `vatbill::billing::tax::rate_for` names a module the file declares, not a type
/// `tax` (before, the frame was read as a method of `tax`, so nothing was public and the
/// generator fell back to a scaffold of the caller `totals(&InvoiceLine)`, which takes a struct:
/// RED_WRONG_REASON). Now it is replayed through its inline module's path with the country the
/// breadcrumb logged ("CH"). Gate: STILL_RED, FLIPPED.
#[test]
fn rust_inline_module_function_replay_and_gate() {
    if !have("cargo", "--version") {
        return;
    }
    let case = "rs-invoice-vat-inline-mod";
    let test = rust_replay_case(
        case,
        "rate_for(a0)",
        "no VAT rate for the destination country",
    );
    assert!(
        test.contains("use vatbill::billing::tax::rate_for;"),
        "{test}"
    );
    assert!(test.contains("\"CH\""), "{test}");
    gate_case(case, "no VAT rate for the destination country");
}

/// `self.to_eur_micros[currency]` in a `&self` method of a struct holding a HashMap, whose only
/// constructor parses a rates file the event never shows (`FxTable::parse(text) -> Result`).
/// Before, the receiver was built from the revealed strings only, every one of which the parser
/// refused, so the method never ran and the test passed on the buggy code (NOT_RED). Now the
/// constructor's strings start with the empty text (the emptiest table, like `Default`), which
/// reaches the method: red with `no entry found for key` raised in rates.rs for "CHF", green after
/// the fix. Gate: STILL_RED, FLIPPED.
#[test]
fn rust_hashmap_index_receiver_from_empty_text_replay_and_gate() {
    if !have("cargo", "--version") {
        return;
    }
    let case = "rs-fxsettle-rate-index";
    let test = rust_replay_case(case, "receiver.to_eur_cents(", "no entry found for key");
    assert!(test.contains("use fxsettle::FxTable;"), "{test}");
    assert!(test.contains("FxTable::parse(a10)"), "{test}");
    assert!(test.contains("for &a10 in RECV_STRS"), "{test}");
    assert!(test.contains("if reached == 0"), "{test}");
    assert!(test.contains("\"CHF\""), "{test}");
    gate_case(case, "no entry found for key");
}

/// When no candidate builds the receiver (here the rates parser is made to refuse the empty text
/// too), the method never runs: the test must not pass (it did before: NOT_RED on the buggy code)
/// but fail with the NOT YET REPRODUCED marker, so the gate says RED_WRONG_REASON.
#[test]
fn rust_receiver_never_built_is_not_reproduced() {
    if !have("cargo", "--version") {
        return;
    }
    let _turn = cargo_turn();
    let case = "rs-fxsettle-rate-index";
    let app = App::new(case);
    let src = app.dir.join("src/rates.rs");
    let code = std::fs::read_to_string(&src).unwrap().replace(
        "        let mut to_eur_micros = HashMap::from(",
        "        if text.trim().is_empty() {\n            return Err(RateError::Malformed(0));\n        }\n        let mut to_eur_micros = HashMap::from(",
    );
    std::fs::write(&src, code).unwrap();
    app.git(&["commit", "-qam", "the rates file must not be empty"]);
    let out = app.generate(case);
    assert_eq!(out.strategy, "call_replay", "{:?}", out.reasons);
    let (ok, text) = cargo(&app, &out.test_command);
    assert!(!ok, "{text}");
    assert!(text.contains(MARKER_NOT_REPRODUCED), "{text}");
    assert!(
        text.contains("no candidate value built the receiver"),
        "{text}"
    );
}

/// `unreachable!` inside `impl From<&str> for Plan` (frame
/// `<plansync::plan::Plan as core::convert::From<&str>>::from`): before, only `FromStr` was called
/// through its trait, so the frame was "not a public function of an inherent impl" and the caller
/// `seats_over(&Account)` takes a struct: a scaffold. Now the conversion is called as
/// `<Plan as From<&str>>::from(s)` with the plan code the breadcrumb logged ("enterprise").
/// Gate: STILL_RED, FLIPPED.
#[test]
fn rust_from_str_ref_trait_impl_replay_and_gate() {
    if !have("cargo", "--version") {
        return;
    }
    let case = "rs-plansync-from-unreachable";
    let test = rust_replay_case(
        case,
        "<Plan as From<&str>>::from(a0)",
        "entered unreachable code: unknown plan code from the billing provider",
    );
    assert!(test.contains("use plansync::plan::Plan;"), "{test}");
    assert!(test.contains("\"enterprise\""), "{test}");
    gate_case(
        case,
        "entered unreachable code: unknown plan code from the billing provider",
    );
}

/// `.expect()` on `serde_json::from_str(body)` in a free function of a nested file module
/// (`hookrelay::queue::delivery::parse_delivery`, src/queue/delivery.rs): the message carries the
/// serde error (quotes, line, column), the breadcrumb logged for the dequeued message the body;
/// replayed with that body, red with the exact message raised in delivery.rs, green after the fix
/// (a Result the relay dead-letters). Gate: STILL_RED, FLIPPED.
#[test]
fn rust_serde_expect_nested_file_module_replay_and_gate() {
    if !have("cargo", "--version") {
        return;
    }
    let case = "rs-hookrelay-json-expect";
    let test = rust_replay_case(
        case,
        "parse_delivery(a0)",
        "queued delivery is not a valid Delivery",
    );
    assert!(
        test.contains("use hookrelay::queue::delivery::parse_delivery;"),
        "{test}"
    );
    gate_case(case, "expected u32");
}

/// `.expect()` inside a `pub async fn` awaited on a tokio runtime (frame
/// `thumbq::jobs::job_size::{{closure}}`): before, `pub async fn` was not read as a public
/// function and the generator fell back to a scaffold (RED_WRONG_REASON). Now each call's future
/// runs on a current-thread tokio runtime (the crate depends on tokio with `rt`), with the spec
/// the breadcrumb logged ("640×480"). Gate: STILL_RED, FLIPPED.
#[test]
fn rust_async_fn_on_tokio_replay_and_gate() {
    if !have("cargo", "--version") {
        return;
    }
    let case = "rs-thumbq-async-expect";
    let test = rust_replay_case(
        case,
        "block_on(job_size(a0))",
        "size spec is not WIDTHxHEIGHT",
    );
    assert!(test.contains("use thumbq::jobs::job_size;"), "{test}");
    assert!(
        test.contains("tokio::runtime::Builder::new_current_thread()"),
        "{test}"
    );
    gate_case(case, "size spec is not WIDTHxHEIGHT");
}

/// A binary-only package (no library): `quota_bytes(spec: &str)` in the bin's module
/// src/quota.rs. An integration test cannot import a binary, so before nothing was public and
/// the test was a scaffold (RED_WRONG_REASON). The module's file names no other module of the
/// crate, so the test compiles it in (`#[path = "../src/quota.rs"] mod quota;`) and replays it
/// with the spec the breadcrumb logged ("1.5TB"). Gate: STILL_RED, FLIPPED.
#[test]
fn rust_binary_module_compiled_in_replay_and_gate() {
    if !have("cargo", "--version") {
        return;
    }
    let case = "rs-quotactl-bin-module";
    let test = rust_replay_case(
        case,
        "quota_bytes(a0)",
        "quota amount is not a whole number: ParseIntError { kind: InvalidDigit }",
    );
    assert!(test.contains("#[path = \"../src/quota.rs\"]"), "{test}");
    assert!(test.contains("use quota::quota_bytes;"), "{test}");
    assert!(!test.contains("extern crate"), "{test}");
    assert!(test.contains("\"1.5TB\""), "{test}");
    gate_case(case, "quota amount is not a whole number");
}
