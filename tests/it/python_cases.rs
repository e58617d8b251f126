//! Python generation end to end: every `py-*` corpus case in a real git repository, the real
//! pipeline, the real pytest. Red on the buggy app for the reported exception, green after the
//! human fix, the app's own suite still green. Plus snapshots, the rendered examples under
//! `repro/examples/`, hostile events and a property test of the repr rebuilder.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sentry_repro::alert::Alert;
use sentry_repro::config::ProjectConfig;
use sentry_repro::contract::{MARKER_NOT_REPRODUCED, MARKER_REPRODUCED};
use sentry_repro::pipeline::{self, GenerateOptions, Generated};
use sentry_repro::webhook;

use crate::support::copy_dir;

const CASES: &[(&str, &str)] = &[
    ("py-smtp-config-key", "call_replay"),
    ("py-rating-average-empty", "call_replay"),
    ("py-meeting-tz-compare", "call_replay"),
    // self is a dataclass repr captured after `self.position += 1`, and the caller's self is an
    // object repr: replayed from the captured state (the reasons say so).
    ("py-playlist-advance-end", "call_replay"),
    ("py-flask-signup-email", "request_replay"),
    ("py-fastapi-shipment-404", "request_replay"),
];

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(case: &str) -> PathBuf {
    manifest_dir().join("tests/fixtures/corpus").join(case)
}

/// The Python interpreter with pytest, or `None` (skip) — a failure when CI=true.
fn python() -> Option<String> {
    for py in ["python3", "python"] {
        let ok = Command::new(py)
            .args(["-c", "import pytest"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if ok {
            return Some(py.to_string());
        }
    }
    if std::env::var("CI").map(|v| v == "true").unwrap_or(false) {
        panic!(
            "python with pytest is required in CI (pip install -r tests/fixtures/requirements.txt)"
        );
    }
    eprintln!("SKIP: no python with pytest on this machine");
    None
}

fn git(dir: &Path, home: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home)
        .env("GIT_AUTHOR_NAME", "Fixture")
        .env("GIT_AUTHOR_EMAIL", "fixture@example.com")
        .env("GIT_COMMITTER_NAME", "Fixture")
        .env("GIT_COMMITTER_EMAIL", "fixture@example.com")
        .env("GIT_AUTHOR_DATE", "2024-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2024-01-01T00:00:00Z")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A git repository (one commit on `main`) holding a copy of `src`.
pub fn make_repo(src: &Path) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let repo = tmp.path().join("repo");
    copy_dir(src, &repo);
    git(&repo, &home, &["init", "-q", "-b", "main", "."]);
    git(&repo, &home, &["add", "-A"]);
    git(&repo, &home, &["commit", "-q", "-m", "base"]);
    (tmp, repo)
}

fn load_alert(event: &Path) -> Alert {
    let raw = std::fs::read_to_string(event).unwrap();
    let v: serde_json::Value = serde_json::from_str(&raw).unwrap();
    webhook::alert_from_any_json(&v)
}

fn fixed_now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_717_400_000, 0).unwrap()
}

fn generate(repo: &Path, alert: &Alert, dry_run: bool) -> Generated {
    let project = ProjectConfig::for_repo(repo);
    pipeline::generate(
        alert,
        &project,
        &GenerateOptions {
            base: None,
            dry_run,
            now: Some(fixed_now()),
        },
    )
    .expect("generate")
}

fn run(py: &str, dir: &Path, args: &[&str]) -> (bool, String) {
    let out: Output = Command::new(py)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .args(args)
        .current_dir(dir)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("pytest runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn case_exception(case: &str) -> String {
    let raw = std::fs::read_to_string(fixture(case).join("case.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&raw).unwrap();
    v["exception_type"].as_str().unwrap().to_string()
}

fn check_case(case: &str, strategy: &str) {
    let Some(py) = python() else { return };
    let (tmp, repo) = make_repo(&fixture(case).join("app"));
    let home = tmp.path().join("home");
    let alert = load_alert(&fixture(case).join("event.json"));
    let out = generate(&repo, &alert, false);
    assert!(out.created, "{case}: {out:?}");
    assert_eq!(out.strategy, strategy, "{case}: reasons {:?}", out.reasons);
    assert!(!out.reasons.is_empty());
    let branch = out.branch.clone().unwrap();
    assert!(branch.starts_with("fix/sentry-"), "{branch}");
    git(&repo, &home, &["checkout", "-q", &branch]);
    let test_file = out
        .files
        .iter()
        .find(|f| f.ends_with(".py"))
        .unwrap()
        .clone();
    assert!(test_file.starts_with("repro/test_sentry_"), "{test_file}");
    assert!(repo.join(&test_file).is_file());

    // red on the buggy app, for the reported reason
    let (ok, text) = run(&py, &repo, &[&test_file]);
    let exc = case_exception(case);
    assert!(!ok, "{case}: the repro passed on buggy code:\n{text}");
    assert!(text.contains(&exc), "{case}: {exc} not in output:\n{text}");
    assert!(
        text.contains(MARKER_REPRODUCED),
        "{case}: no REPRODUCED marker:\n{text}"
    );
    assert!(!text.contains(MARKER_NOT_REPRODUCED), "{case}:\n{text}");
    assert!(
        !text.contains("ImportError") && !text.contains("ModuleNotFoundError"),
        "{case}:\n{text}"
    );

    // green after the human fix, and the app's own suite still green
    let patch = std::fs::read(fixture(case).join("fix.patch")).unwrap();
    let mut child = Command::new("patch")
        .args(["-s", "-p1"])
        .current_dir(&repo)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("patch runs");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), &patch).unwrap();
    assert!(
        child.wait().unwrap().success(),
        "{case}: fix.patch did not apply"
    );
    let (ok, text) = run(&py, &repo, &[&test_file]);
    assert!(ok, "{case}: the repro still fails after the fix:\n{text}");
    let (ok, text) = run(&py, &repo, &[]);
    assert!(ok, "{case}: the app's suite fails after the fix:\n{text}");
}

#[test]
fn py_smtp_config_key_call_replay() {
    check_case(CASES[0].0, CASES[0].1);
}

#[test]
fn py_rating_average_empty_call_replay() {
    check_case(CASES[1].0, CASES[1].1);
}

#[test]
fn py_meeting_tz_compare_call_replay_with_datetimes_and_dataclasses() {
    check_case(CASES[2].0, CASES[2].1);
}

#[test]
fn py_playlist_advance_end_method_replay() {
    check_case(CASES[3].0, CASES[3].1);
}

#[test]
fn py_flask_signup_email_request_replay() {
    check_case(CASES[4].0, CASES[4].1);
}

#[test]
fn py_fastapi_shipment_404_request_replay() {
    check_case(CASES[5].0, CASES[5].1);
}

#[test]
fn every_python_corpus_case_is_covered() {
    let mut found: Vec<String> = std::fs::read_dir(manifest_dir().join("tests/fixtures/corpus"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("py-"))
        .collect();
    found.sort();
    let mut listed: Vec<String> = CASES.iter().map(|c| c.0.to_string()).collect();
    listed.sort();
    assert_eq!(found, listed);
}

/// Rendered files of one case (dry run, fixed time, pinned base commit).
fn rendered(case: &str) -> Vec<(String, String)> {
    let (_tmp, repo) = make_repo(&fixture(case).join("app"));
    let alert = load_alert(&fixture(case).join("event.json"));
    let out = generate(&repo, &alert, true);
    out.rendered
        .into_iter()
        .map(|f| (f.path, f.content))
        .collect()
}

#[test]
fn snapshots_of_rendered_tests() {
    for (case, _) in CASES {
        for (path, content) in rendered(case) {
            if path.ends_with(".py") {
                insta::assert_snapshot!(format!("python_{case}"), content);
            }
        }
    }
}

/// `repro/examples/<case>/` of this repository holds the rendered files; UPDATE_EXAMPLES=1 rewrites.
#[test]
fn repro_examples_are_up_to_date() {
    let update = std::env::var("UPDATE_EXAMPLES")
        .map(|v| v == "1")
        .unwrap_or(false);
    let mut stale = Vec::new();
    for (case, _) in CASES {
        let dir = manifest_dir().join("repro/examples").join(case);
        for (path, content) in rendered(case) {
            let name = Path::new(&path).file_name().unwrap().to_owned();
            let target = dir.join(name);
            if update {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&target, &content).unwrap();
            } else if std::fs::read_to_string(&target).ok().as_deref() != Some(content.as_str()) {
                stale.push(target.display().to_string());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "stale examples (run with UPDATE_EXAMPLES=1): {stale:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Hostile events

const HOSTILE_APP_CORE: &str = "\
def process(payload, options=None):
    return payload[\"x\"]
";

const HOSTILE_APP_WEB: &str = "\
from flask import Flask, request

app = Flask(__name__)


@app.post(\"/submit\")
def submit():
    data = request.get_json(silent=True) or {}
    return {\"v\": data[\"missing\"]}
";

fn hostile_strings(canary: &str) -> Vec<String> {
    let code = format!("__import__('os').system('touch {canary}')");
    let open = format!("open('{canary}', 'w').write('x')");
    vec![
        format!("\"; {code} #"),
        format!("'; {code} #"),
        format!("\"\"\"\n{code}\n\"\"\""),
        format!("'''\n{open}\n'''"),
        format!("\\\"\\\\ \n{code}\r\n{open}"),
        format!("\u{2028}{code}\u{2029}{open}"),
        format!("\0{code}\u{202E}\u{200B}{open}"),
        format!("{{{{ {code} }}}} {{% raw %}} {{# #}}"),
        format!("*/ # // ${{{code}}} `{code}`"),
        "A".repeat(1 << 20),
    ]
}

fn hostile_event(canary: &str, variant: usize) -> serde_json::Value {
    let h = hostile_strings(canary);
    let pick = |i: usize| h[(i + variant) % h.len()].clone();
    let code = format!("__import__('os').system('touch {canary}')");
    // a str repr that holds code: must stay data
    let str_repr = format!(
        "'{}'",
        pick(0)
            .replace('\\', "\\\\")
            .replace('\'', "\\'")
            .replace('\n', "\\n")
            .replace('\r', "\\r")
    );
    serde_json::json!({
        "event_id": format!("hostile{variant}"),
        "platform": "python",
        "title": pick(1),
        "culprit": pick(2),
        "exception": {"values": [{
            "type": if variant.is_multiple_of(2) { "KeyError".to_string() } else { pick(3) },
            "value": pick(4),
            "module": pick(5),
            "stacktrace": {"frames": [
                {"filename": pick(6), "function": pick(7), "module": pick(8), "lineno": 1,
                 "vars": {pick(9): pick(0)}},
                {"filename": "hostile/web.py", "abs_path": "/srv/app/hostile/web.py", "module": "hostile.web",
                 "function": "submit", "lineno": 9, "context_line": pick(1), "pre_context": [pick(2)],
                 "post_context": [pick(3)], "vars": {"data": {pick(4): str_repr.clone()}}},
                {"filename": "hostile/core.py", "abs_path": "/srv/app/hostile/core.py", "module": "hostile.core",
                 "function": if variant % 3 == 2 { pick(5) } else { "process".to_string() }, "lineno": 2,
                 "context_line": pick(6),
                 "vars": {
                    "payload": if variant % 3 == 1 { serde_json::json!(code.clone()) } else { serde_json::json!({"y": str_repr.clone(), pick(7): "None"}) },
                    "options": if variant.is_multiple_of(2) { str_repr.clone() } else { "<object at 0x1>".to_string() },
                    pick(8): pick(9)
                 }}
            ]}
        }]},
        // a request on every fourth event, none on the others of even number (so the call replay
        // of `process` runs: with a request and the handler on the stack, the request replay wins)
        "request": if variant % 4 == 2 { serde_json::Value::Null } else if variant.is_multiple_of(4) { serde_json::json!({
            "method": "POST",
            "url": format!("http://localhost/submit?{}", pick(1)),
            "query_string": pick(2),
            "headers": {"Content-Type": "application/json", pick(3): pick(4), "X-Note": pick(5), "Authorization": "Bearer secret"},
            "cookies": {"session": "abc"},
            "data": {pick(6): pick(7), "nested": [pick(8), 1, null, true]}
        }) } else { serde_json::json!({"method": pick(1), "url": pick(2), "data": pick(3)}) },
        "breadcrumbs": {"values": [{"message": pick(4), "category": pick(5)}]},
        "tags": [[pick(6), pick(7)]]
    })
}

#[test]
fn hostile_events_give_safe_tests() {
    let Some(py) = python() else { return };
    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(src.path().join("hostile")).unwrap();
    std::fs::write(src.path().join("hostile/__init__.py"), "").unwrap();
    std::fs::write(src.path().join("hostile/core.py"), HOSTILE_APP_CORE).unwrap();
    std::fs::write(src.path().join("hostile/web.py"), HOSTILE_APP_WEB).unwrap();
    std::fs::write(
        src.path().join("pyproject.toml"),
        "[project]\nname = \"hostile\"\nversion = \"0\"\n",
    )
    .unwrap();
    let (tmp, repo) = make_repo(src.path());
    let canary = tmp.path().join("CANARY");
    let canary_s = canary.display().to_string();
    let mut strategies = std::collections::BTreeSet::new();
    for variant in 0..10 {
        let alert = Alert::from_event(&hostile_event(&canary_s, variant));
        let out = generate(&repo, &alert, true);
        strategies.insert(out.strategy.clone());
        for f in &out.rendered {
            assert!(f.path.starts_with("repro/"), "{}", f.path);
        }
        let test = out
            .rendered
            .iter()
            .find(|f| f.path.ends_with(".py"))
            .expect("a test file");
        let path = repo.join(&test.path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &test.content).unwrap();
        let c = Command::new(&py)
            .args(["-m", "py_compile"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            c.status.success(),
            "variant {variant} does not compile: {}",
            String::from_utf8_lossy(&c.stderr)
        );
        let (_ok, text) = run(&py, &repo, &[&test.path]);
        assert!(
            !canary.exists(),
            "variant {variant} ran injected code:\n{text}"
        );
        assert!(!text.contains("secret"), "credentials replayed");
        std::fs::remove_file(&path).unwrap();
    }
    eprintln!("hostile strategies: {strategies:?}");
    // the hostile events exercised more than one template
    assert!(strategies.len() >= 3, "{strategies:?}");
}

// ---------------------------------------------------------------------------------------------
// The repr rebuilder over arbitrary input: never panics, and whatever it emits is valid Python.

#[test]
fn rebuilt_literals_always_compile() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    use sentry_repro::lang::python::pyrepr;

    let Some(py) = python() else { return };
    let strategy = prop_oneof![
        any::<String>(),
        "[ -~]{0,40}".prop_map(|s| format!("'{s}'")),
        "[\\[\\]{}()',:0-9a-z.\\\\ \"x-]{0,60}",
        any::<String>().prop_map(|s| format!("{s:?}")),
        (any::<i64>(), any::<f64>())
            .prop_map(|(i, f)| format!("[{i}, {f:?}, ({i},), {{'k': {f}}}]")),
        any::<Vec<u8>>().prop_map(|b| format!(
            "b'{}'",
            b.iter().map(|c| format!("\\x{c:02x}")).collect::<String>()
        )),
    ];
    let emitted = std::cell::RefCell::new(Vec::new());
    let mut runner = TestRunner::new(Config {
        cases: 2000,
        ..Config::default()
    });
    runner
        .run(&strategy, |s| {
            if let Ok(v) = pyrepr::parse_repr(&s) {
                if let Ok(code) = pyrepr::emit(&v, &(), &mut pyrepr::Imports::default()) {
                    emitted.borrow_mut().push(code);
                }
            }
            let _ = pyrepr::from_var(&serde_json::Value::String(s), None);
            Ok(())
        })
        .unwrap();
    let emitted = emitted.into_inner();
    assert!(
        emitted.len() > 200,
        "too few values rebuilt: {}",
        emitted.len()
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("literals.py");
    let mut text = String::from("import datetime, decimal, uuid, zoneinfo\n");
    for (i, e) in emitted.iter().enumerate() {
        text.push_str(&format!("v{i} = {e}\n"));
    }
    std::fs::write(&file, text).unwrap();
    let c = Command::new(&py)
        .args(["-m", "py_compile"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(c.status.success(), "{}", String::from_utf8_lossy(&c.stderr));
}

/// Without the request, the FastAPI handler's inputs are an object repr (`store`): nothing can be
/// replayed, so the test is a scaffold that names the crash site and what the event lacked.
#[test]
fn scaffold_when_the_event_lacks_inputs() {
    let Some(py) = python() else { return };
    let case = "py-fastapi-shipment-404";
    let (_tmp, repo) = make_repo(&fixture(case).join("app"));
    let raw = std::fs::read_to_string(fixture(case).join("event.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&raw).unwrap();
    v.as_object_mut().unwrap().remove("request");
    let alert = webhook::alert_from_any_json(&v);
    let out = generate(&repo, &alert, true);
    assert_eq!(out.strategy, "scaffold", "{:?}", out.reasons);
    let joined = out.reasons.join(" | ");
    assert!(
        joined.contains("store") && joined.contains("object repr"),
        "{joined}"
    );
    let test = out
        .rendered
        .iter()
        .find(|f| f.path.ends_with(".py"))
        .unwrap();
    let path = repo.join(&test.path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &test.content).unwrap();
    let (ok, text) = run(&py, &repo, &[&test.path]);
    assert!(!ok);
    assert!(text.contains(MARKER_NOT_REPRODUCED), "{text}");
    assert!(
        text.contains("shipment_status at shiptrack/api.py:20"),
        "{text}"
    );
    assert!(text.contains("TypeError"), "{text}");
    assert!(
        !text.contains("ModuleNotFoundError")
            && text
                .lines()
                .filter(|l| l.starts_with("E ") && l.contains(MARKER_NOT_REPRODUCED))
                .all(|l| !l.contains("importing it failed")),
        "{text}"
    );
}

/// An `async def` with a keyword-only argument and a default left out: replayed through
/// `asyncio.run` with the real parameter kinds from the `def`.
#[test]
fn async_function_with_keyword_only_arguments() {
    let Some(py) = python() else { return };
    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(src.path().join("src/inventory")).unwrap();
    std::fs::write(src.path().join("src/inventory/__init__.py"), "").unwrap();
    std::fs::write(
        src.path().join("src/inventory/stock.py"),
        "async def pick(levels, sku, /, *, reserve: int = 0, note=\"\"):\n    \"\"\"Units left.\"\"\"\n    return levels[sku] - reserve\n",
    )
    .unwrap();
    let (_tmp, repo) = make_repo(src.path());
    let event = serde_json::json!({
        "event_id": "asynccase1",
        "platform": "python",
        "exception": {"values": [{"type": "KeyError", "value": "'B-2'", "stacktrace": {"frames": [
            {"filename": "inventory/stock.py", "abs_path": "/srv/app/src/inventory/stock.py",
             "module": "inventory.stock", "function": "pick", "lineno": 3,
             "vars": {"levels": {"A-1": "4"}, "sku": "'B-2'", "reserve": "1"}}
        ]}}]}
    });
    let alert = Alert::from_event(&event);
    let out = generate(&repo, &alert, true);
    assert_eq!(out.strategy, "call_replay", "{:?}", out.reasons);
    let test = out
        .rendered
        .iter()
        .find(|f| f.path.ends_with(".py"))
        .unwrap();
    assert!(
        test.content
            .contains("asyncio.run(pick(levels, sku, reserve=reserve))"),
        "{}",
        test.content
    );
    let path = repo.join(&test.path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &test.content).unwrap();
    let (ok, text) = run(&py, &repo, &[&test.path]);
    assert!(!ok);
    assert!(
        text.contains(MARKER_REPRODUCED) && text.contains("KeyError"),
        "{text}"
    );
}

/// Shapes whose naive replay would pass on buggy code or fail for another reason: `__init__` is
/// replayed by constructing the class; a context manager is never called directly; a list of
/// exactly 10 items (the SDK's silent cut) is not replayed as if complete.
#[test]
fn constructors_context_managers_and_cut_lists() {
    let Some(py) = python() else { return };
    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(src.path().join("money")).unwrap();
    std::fs::write(src.path().join("money/__init__.py"), "").unwrap();
    std::fs::write(
        src.path().join("money/core.py"),
        "import contextlib\n\nDECIMALS = {\"EUR\": 2}\n\n\nclass Money:\n    def __init__(self, amount, currency):\n        self.currency = currency.upper()\n        self.scale = DECIMALS[self.currency]\n\n\n@contextlib.contextmanager\ndef ledger(name):\n    yield DECIMALS[name]\n\n\ndef last(values):\n    return values[10]\n",
    )
    .unwrap();
    let (_tmp, repo) = make_repo(src.path());
    let frame = |function: &str, lineno: u64, vars: serde_json::Value| {
        serde_json::json!({"filename": "money/core.py", "module": "money.core",
            "function": function, "lineno": lineno, "vars": vars})
    };
    let event = |id: &str, exc: &str, f: serde_json::Value| {
        Alert::from_event(&serde_json::json!({
            "event_id": id, "platform": "python",
            "exception": {"values": [{"type": exc, "value": "x", "stacktrace": {"frames": [f]}}]}
        }))
    };
    // __init__: Money(amount, currency), not instance.__init__
    let out = generate(
        &repo,
        &event(
            "ctor1",
            "KeyError",
            frame(
                "__init__",
                9,
                serde_json::json!({"self": "<money.core.Money object at 0x7f00>", "amount": "12.5", "currency": "'chf'"}),
            ),
        ),
        true,
    );
    assert_eq!(out.strategy, "call_replay", "{:?}", out.reasons);
    let test = out
        .rendered
        .iter()
        .find(|f| f.path.ends_with(".py"))
        .unwrap();
    assert!(
        test.content.contains("        Money(amount, currency)\n"),
        "{}",
        test.content
    );
    let path = repo.join(&test.path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &test.content).unwrap();
    let (ok, text) = run(&py, &repo, &[&test.path]);
    assert!(
        !ok && text.contains(MARKER_REPRODUCED) && text.contains("KeyError"),
        "{text}"
    );
    std::fs::remove_file(&path).unwrap();
    // a context manager: calling it runs nothing
    let out = generate(
        &repo,
        &event(
            "cm1",
            "KeyError",
            frame("ledger", 14, serde_json::json!({"name": "'USD'"})),
        ),
        true,
    );
    assert_eq!(out.strategy, "scaffold", "{:?}", out.reasons);
    assert!(
        out.reasons.iter().any(|r| r.contains("context manager")),
        "{:?}",
        out.reasons
    );
    // ten items may be the SDK's cut of a longer list
    let ten: Vec<String> = (0..10).map(|i| i.to_string()).collect();
    let out = generate(
        &repo,
        &event(
            "cut1",
            "IndexError",
            frame("last", 18, serde_json::json!({"values": ten})),
        ),
        true,
    );
    assert_eq!(out.strategy, "scaffold", "{:?}", out.reasons);
    assert!(
        out.reasons.iter().any(|r| r.contains("exactly 10 items")),
        "{:?}",
        out.reasons
    );
}

// ---------------------------------------------------------------------------------------------
// A replay counts only when the reported exception comes through the reported crash line.

/// `py-restock-counter-arg` with the `Counter` annotation taken away: the SDK's JSON object is then
/// rebuilt as a plain dict, and the replay raises the reported KeyError one line *before* the crash
/// line (`sold[sku]`, where the real Counter answered 0). That is not the crash: the test must say
/// so (not reproduced) instead of claiming a reproduction that no correct fix could ever turn green.
#[test]
fn same_exception_elsewhere_is_not_a_reproduction() {
    let Some(py) = python() else { return };
    let case = manifest_dir().join("tests/fixtures/corpus-extra/py-restock-counter-arg");
    let src = tempfile::tempdir().unwrap();
    copy_dir(&case.join("app"), src.path());
    let module = src.path().join("stockroom/replenish.py");
    let code = std::fs::read_to_string(&module).unwrap();
    assert!(code.contains("sold: Counter,"));
    std::fs::write(&module, code.replace("sold: Counter,", "sold,")).unwrap();
    let (_tmp, repo) = make_repo(src.path());
    let alert = load_alert(&case.join("event.json"));
    let out = generate(&repo, &alert, true);
    assert_eq!(out.strategy, "call_replay", "{:?}", out.reasons);
    let test = out
        .rendered
        .iter()
        .find(|f| f.path.ends_with(".py"))
        .unwrap();
    assert!(
        test.content
            .contains(r#"CRASH_LINE_TEXT = "short = target - on_hand[sku]""#),
        "{}",
        test.content
    );
    let path = repo.join(&test.path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &test.content).unwrap();
    let (ok, text) = run(&py, &repo, &[&test.path]);
    assert!(!ok);
    assert!(
        text.lines()
            .any(|l| l.starts_with("E ") && l.contains(MARKER_NOT_REPRODUCED)),
        "{text}"
    );
    assert!(text.contains("daily = sold[sku] / window_days"), "{text}");
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("E ") && l.contains(MARKER_REPRODUCED)),
        "{text}"
    );

    // with the annotation the Counter is rebuilt and the replay is the crash itself
    let (_tmp2, repo2) = make_repo(&case.join("app"));
    let out = generate(&repo2, &alert, true);
    let test = out
        .rendered
        .iter()
        .find(|f| f.path.ends_with(".py"))
        .unwrap();
    assert!(
        test.content
            .contains(r#"sold = collections.Counter({"MUG-01": 42"#),
        "{}",
        test.content
    );
    let path = repo2.join(&test.path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &test.content).unwrap();
    let (ok, text) = run(&py, &repo2, &[&test.path]);
    assert!(!ok);
    assert!(
        text.lines()
            .any(|l| l.starts_with("E ") && l.contains(MARKER_REPRODUCED)),
        "{text}"
    );
}

/// A fix may refuse the crashing input on purpose: a `raise` of a domain error in the repository's
/// own code passes the call replay (the crash is gone), while a new crash of another type does not.
#[test]
fn a_deliberate_raise_in_the_repo_passes_the_call_replay_and_a_new_crash_does_not() {
    let Some(py) = python() else { return };
    let case = manifest_dir().join("tests/fixtures/corpus/py-smtp-config-key");
    let alert = load_alert(&case.join("event.json"));
    let crash = r#""port": int(config["smtp_port"]),"#;
    for (replacement, passes) in [
        (
            "\"port\": int(config[\"smtp_port\"]) if \"smtp_port\" in config else _missing(\"smtp_port\"),",
            true,
        ),
        (r#""port": int(config.get("smtp_port")),"#, false),
    ] {
        let (_tmp, repo) = make_repo(&case.join("app"));
        let out = generate(&repo, &alert, true);
        assert_eq!(out.strategy, "call_replay", "{:?}", out.reasons);
        let test = out
            .rendered
            .iter()
            .find(|f| f.path.ends_with(".py"))
            .unwrap();
        let path = repo.join(&test.path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &test.content).unwrap();
        let module = repo.join("notifykit/config.py");
        let code = std::fs::read_to_string(&module).unwrap();
        assert!(code.contains(crash));
        let code = code.replace(crash, replacement)
            + "\n\ndef _missing(key):\n    raise ConfigError(\"missing setting: \" + key)\n";
        std::fs::write(&module, code).unwrap();
        let (ok, text) = run(&py, &repo, &[&test.path]);
        assert_eq!(ok, passes, "{replacement}\n{text}");
    }
}

/// A crash in a helper two frames below a FastAPI route handler, fixed in the handler (a 422 for the
/// bad query parameter): the request replay comes first, so the handler fix flips it, where a call
/// replay of the helper (whose inputs rebuild exactly) would stay red forever. Without the request
/// the helper's call replay is still the answer; with credentials the app checks, it stays first
/// (a replay without them could stop at the auth check).
#[test]
fn a_helper_crash_below_a_handler_is_replayed_through_the_request() {
    let Some(py) = python() else { return };
    let case = manifest_dir().join("tests/fixtures/corpus-extra/py-fastapi-occupancy-nights");
    let raw: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(case.join("event.json")).unwrap()).unwrap();

    // the event as captured: request replay, red on the buggy app, green after the handler fix
    let (tmp, repo) = make_repo(&case.join("app"));
    let home = tmp.path().join("home");
    let out = generate(&repo, &webhook::alert_from_any_json(&raw), false);
    assert_eq!(out.strategy, "request_replay", "{:?}", out.reasons);
    assert!(
        out.reasons
            .iter()
            .any(|r| r.starts_with("request replay first") && r.contains("occupancy")),
        "{:?}",
        out.reasons
    );
    git(
        &repo,
        &home,
        &["checkout", "-q", out.branch.as_deref().unwrap()],
    );
    let test = out.files.iter().find(|f| f.ends_with(".py")).unwrap();
    let (ok, text) = run(&py, &repo, &[test]);
    assert!(!ok && text.contains(MARKER_REPRODUCED), "{text}");
    let patch = std::fs::read(case.join("fix.patch")).unwrap();
    let mut child = Command::new("patch")
        .args(["-s", "-p1"])
        .current_dir(&repo)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("patch runs");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), &patch).unwrap();
    assert!(child.wait().unwrap().success());
    let (ok, text) = run(&py, &repo, &[test]);
    assert!(ok, "the handler fix must pass the request replay:\n{text}");

    // no request in the event: the helper's call replay, as before
    let mut no_request = raw.clone();
    no_request.as_object_mut().unwrap().remove("request");
    let (_t, repo) = make_repo(&case.join("app"));
    let out = generate(&repo, &webhook::alert_from_any_json(&no_request), true);
    assert_eq!(out.strategy, "call_replay", "{:?}", out.reasons);
    assert!(
        out.reasons.iter().any(|r| r.contains("nightly_rate")),
        "{:?}",
        out.reasons
    );

    // no app object the test could build: the request replay is refused, the helper's call replay
    // is the fallback
    let src = tempfile::tempdir().unwrap();
    copy_dir(&case.join("app"), src.path());
    std::fs::remove_file(src.path().join("staysvc/main.py")).unwrap();
    let (_t, repo) = make_repo(src.path());
    let out = generate(&repo, &webhook::alert_from_any_json(&raw), true);
    assert_eq!(out.strategy, "call_replay", "{:?}", out.reasons);
    assert!(
        out.reasons
            .iter()
            .any(|r| r.starts_with("no request replay"))
            && out.reasons.iter().any(|r| r.contains("nightly_rate")),
        "{:?}",
        out.reasons
    );

    // the request carried an Authorization header the replay drops
    let mut with_auth = raw.clone();
    with_auth["request"]["headers"]["authorization"] = "[Filtered]".into();
    let alert = webhook::alert_from_any_json(&with_auth);
    // ...and the app never looks at it: the replay answers as the client was answered
    let (_t, repo) = make_repo(&case.join("app"));
    let out = generate(&repo, &alert, true);
    assert_eq!(out.strategy, "request_replay", "{:?}", out.reasons);
    // ...and the app checks it: the call replay of the helper stays first, and says why
    let src = tempfile::tempdir().unwrap();
    copy_dir(&case.join("app"), src.path());
    std::fs::write(
        src.path().join("staysvc/auth.py"),
        "from fastapi import Header, HTTPException\n\n\ndef require_staff(authorization: str = Header(\"\")):\n    if not authorization.startswith(\"Bearer \"):\n        raise HTTPException(status_code=401)\n",
    )
    .unwrap();
    let (_t, repo) = make_repo(src.path());
    let out = generate(&repo, &alert, true);
    assert_eq!(out.strategy, "call_replay", "{:?}", out.reasons);
    assert!(
        out.reasons
            .iter()
            .any(|r| r.contains("credentials (authorization)") && r.contains("auth check")),
        "{:?}",
        out.reasons
    );
}

/// A Flask blueprint GET served by a WSGI server: the SDK reports `Content-Length: ""` for the
/// bodiless request, which is no lost body (the reasons must not claim one); the query string's
/// URL-encoded value is replayed decoded, and the request replay comes first (handler on the stack,
/// the crash inside `datetime.strptime` below the app's `parse_day`).
#[test]
fn a_blueprint_get_with_an_empty_content_length_replays_without_a_lost_body() {
    if python().is_none() {
        return;
    }
    let case = manifest_dir().join("tests/fixtures/corpus-extra/py-flask-blueprint-hours-strptime");
    let (_t, repo) = make_repo(&case.join("app"));
    let out = generate(&repo, &load_alert(&case.join("event.json")), true);
    assert_eq!(out.strategy, "request_replay", "{:?}", out.reasons);
    assert!(
        !out.reasons.iter().any(|r| r.contains("did not capture")),
        "{:?}",
        out.reasons
    );
    let test = out
        .rendered
        .iter()
        .find(|f| f.path.ends_with(".py"))
        .unwrap();
    assert!(
        test.content
            .contains(r#"PATH = "/api/v2/exports/hours.csv""#)
            && test.content.contains(r#"("to", "03/31/2024"),"#)
            && test.content.contains(r#"CRASH_FUNCTION = "parse_day""#),
        "{}",
        test.content
    );
}

/// `py-payout-heap-popped`: `heapq.heappop(heap)` took the zero-unit sale off the parameter before
/// the crash line, so the crash frame's `heap` holds only the sales left and a replay of `drain`
/// from it passes on the buggy code (the gate said NOT_RED). The mutation through a standard-library
/// function must be seen, and the caller `settle`, whose `sales` list is intact, replayed instead.
#[test]
fn heappop_on_a_parameter_is_a_mutation_and_the_caller_is_replayed() {
    let Some(py) = python() else { return };
    let case = manifest_dir().join("tests/fixtures/corpus-extra/py-payout-heap-popped");
    let (_tmp, repo) = make_repo(&case.join("app"));
    let alert = load_alert(&case.join("event.json"));
    let out = generate(&repo, &alert, true);
    assert_eq!(out.strategy, "call_replay", "{:?}", out.reasons);
    let joined = out.reasons.join(" | ");
    assert!(joined.contains("drain rebinds or mutates heap"), "{joined}");
    assert!(joined.contains("caller settle"), "{joined}");
    let test = out
        .rendered
        .iter()
        .find(|f| f.path.ends_with(".py"))
        .unwrap();
    assert!(
        test.content.contains("settle(sales, fee_pct)"),
        "{}",
        test.content
    );
    let path = repo.join(&test.path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &test.content).unwrap();
    let (ok, text) = run(&py, &repo, &[&test.path]);
    assert!(!ok, "the repro passed on buggy code:\n{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("E ") && l.contains(MARKER_REPRODUCED)),
        "{text}"
    );
}

/// Writes the generated Python test into `repo` and returns its repository path.
fn write_test(repo: &Path, out: &Generated) -> String {
    let test = out
        .rendered
        .iter()
        .find(|f| f.path.ends_with(".py"))
        .unwrap();
    let path = repo.join(&test.path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &test.content).unwrap();
    test.path.clone()
}

fn apply_patch(repo: &Path, patch: &Path) {
    let mut child = Command::new("patch")
        .args(["-s", "-p1"])
        .current_dir(repo)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("patch runs");
    std::io::Write::write_all(
        child.stdin.as_mut().unwrap(),
        &std::fs::read(patch).unwrap(),
    )
    .unwrap();
    assert!(child.wait().unwrap().success());
}

/// `py-cli-kwargs-fromisoformat`: the crash is a ValueError raised inside `datetime.fromisoformat`,
/// and the careful fix raises the app's `ScheduleError(ValueError)` from a `raise` statement of its
/// own, away from the crash line. That is a deliberate rejection, not the crash: the replay must
/// pass (it said NOT YET REPRODUCED, so the gate kept the fixed branch STILL_RED). A fix that only
/// moves the library call, or a reported crash that was itself a `raise`, stays strict.
#[test]
fn a_domain_error_subclassing_the_reported_type_is_a_deliberate_rejection() {
    let Some(py) = python() else { return };
    let case = manifest_dir().join("tests/fixtures/corpus-extra/py-cli-kwargs-fromisoformat");
    let alert = load_alert(&case.join("event.json"));
    let crash = r#"start = datetime.fromisoformat(options.get("start", "1970-01-01"))"#;

    // buggy: reproduced, through the *args/**kwargs call
    let (_t, repo) = make_repo(&case.join("app"));
    let out = generate(&repo, &alert, true);
    assert_eq!(out.strategy, "call_replay", "{:?}", out.reasons);
    let test = write_test(&repo, &out);
    let code = std::fs::read_to_string(repo.join(&test)).unwrap();
    assert!(
        code.contains("schedule_digest(name, *recipients, every=every, **options)"),
        "{code}"
    );
    let (ok, text) = run(&py, &repo, &[&test]);
    assert!(!ok && text.contains(MARKER_REPRODUCED), "{text}");
    // the human fix: ScheduleError (a ValueError) raised on purpose
    apply_patch(&repo, &case.join("fix.patch"));
    let (ok, text) = run(&py, &repo, &[&test]);
    assert!(ok, "the domain-error fix must pass the replay:\n{text}");

    let module = |repo: &Path, replacement: &str| {
        let path = repo.join("digestd/schedule.py");
        let code = std::fs::read_to_string(&path).unwrap();
        assert!(code.contains(crash));
        std::fs::write(&path, code.replace(crash, replacement)).unwrap();
    };
    for (replacement, passes) in [
        // a plain ValueError raised on purpose on another line: a rejection too
        (
            "raw = options.get(\"start\", \"1970-01-01\")\n    if \"-\" not in raw:\n        raise ValueError(\"start must be YYYY-MM-DD\")\n    start = datetime.fromisoformat(raw)",
            true,
        ),
        // the same library call on another line: the same crash, moved
        (
            "raw = options.get(\"start\", \"1970-01-01\")\n    start = datetime.fromisoformat(raw)",
            false,
        ),
    ] {
        let (_t, repo) = make_repo(&case.join("app"));
        let test = write_test(&repo, &generate(&repo, &alert, true));
        module(&repo, replacement);
        let (ok, text) = run(&py, &repo, &[&test]);
        assert_eq!(ok, passes, "{replacement}\n{text}");
        if !passes {
            assert!(text.contains(MARKER_NOT_REPRODUCED), "{text}");
        }
    }

    // the reported crash was itself a `raise` (ConfigError from parse_size_mb): the same error
    // from another `raise` is still that error, not a rejection
    let case = manifest_dir().join("tests/fixtures/corpus-extra/py-upload-limit-chained");
    let (_t, repo) = make_repo(&case.join("app"));
    let test = write_test(
        &repo,
        &generate(&repo, &load_alert(&case.join("event.json")), true),
    );
    let path = repo.join("mediasvc/settings.py");
    let code = std::fs::read_to_string(&path).unwrap();
    let raise = r#"raise ConfigError(key, value, "expected a whole number of megabytes") from exc"#;
    assert!(code.contains(raise));
    std::fs::write(
        &path,
        code.replace(
            raise,
            "message = \"expected a whole number of megabytes\"\n        raise ConfigError(key, value, message) from exc",
        ),
    )
    .unwrap();
    let (ok, text) = run(&py, &repo, &[&test]);
    assert!(!ok && text.contains(MARKER_NOT_REPRODUCED), "{text}");
}

/// `py-property-zone-none`: the crash is in a `@property` of a dataclass and its caller is a method
/// of a plain object (no state in its repr): the property, replayed as an attribute read on the
/// rebuilt instance, is the reproduction (was a scaffold: "sort_code is a property").
#[test]
fn a_property_getter_is_replayed_as_an_attribute_read() {
    let Some(py) = python() else { return };
    let case = manifest_dir().join("tests/fixtures/corpus-extra/py-property-zone-none");
    let (_t, repo) = make_repo(&case.join("app"));
    let out = generate(&repo, &load_alert(&case.join("event.json")), true);
    assert_eq!(out.strategy, "call_replay", "{:?}", out.reasons);
    let test = write_test(&repo, &out);
    let code = std::fs::read_to_string(repo.join(&test)).unwrap();
    assert!(
        code.contains(r#"instance = Parcel(tracking="JD014599313NO", country="NO""#)
            && code.contains("        instance.sort_code\n"),
        "{code}"
    );
    let (ok, text) = run(&py, &repo, &[&test]);
    assert!(!ok && text.contains(MARKER_REPRODUCED), "{text}");
    apply_patch(&repo, &case.join("fix.patch"));
    let (ok, text) = run(&py, &repo, &[&test]);
    assert!(ok, "{text}");
}

/// `py-logged-sync-phone-unpack`: the app logs the exception with `logger.exception` and goes on,
/// so the event says handled and the first frame of its traceback (`sync_contacts`) is the one that
/// caught it. A plain call of it raises nothing on the buggy code (the gate said NOT_RED): it is
/// replayed under a log capture, where the logged exception counts. Captured some other way
/// (`capture_exception()` in the `except`, mechanism generic) nothing can be watched: that frame is
/// refused, with the reason, and the crash frame is replayed from its captured state. A handler
/// that re-raises does not swallow: the caller is replayed as a plain call.
#[test]
fn the_frame_that_caught_a_handled_exception_is_replayed_under_a_log_capture_or_not_at_all() {
    let Some(py) = python() else { return };
    let case = manifest_dir().join("tests/fixtures/corpus-extra/py-logged-sync-phone-unpack");
    let raw: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(case.join("event.json")).unwrap()).unwrap();
    let alert = webhook::alert_from_any_json(&raw);
    let (_t, repo) = make_repo(&case.join("app"));
    let out = generate(&repo, &alert, true);
    assert_eq!(out.strategy, "call_replay", "{:?}", out.reasons);
    let test = write_test(&repo, &out);
    let code = std::fs::read_to_string(repo.join(&test)).unwrap();
    assert!(
        code.contains("        sync_contacts(contacts)\n")
            && code.contains("    logging.getLogger().addHandler(logged)\n"),
        "{code}"
    );
    let (ok, text) = run(&py, &repo, &[&test]);
    assert!(!ok && text.contains(MARKER_REPRODUCED), "{text}");
    apply_patch(&repo, &case.join("fix.patch"));
    let (ok, text) = run(&py, &repo, &[&test]);
    assert!(ok, "{text}");

    // reported by capture_exception() instead of the logging integration
    let mut generic = raw.clone();
    generic["exception"]["values"][0]["mechanism"] =
        serde_json::json!({"type": "generic", "handled": true});
    let (_t, repo) = make_repo(&case.join("app"));
    let out = generate(&repo, &webhook::alert_from_any_json(&generic), true);
    assert_eq!(out.strategy, "call_replay", "{:?}", out.reasons);
    assert!(
        out.reasons.iter().any(
            |r| r.contains("sync_contacts caught the reported exception")
                && r.contains("not replayed")
        ),
        "{:?}",
        out.reasons
    );
    let test = write_test(&repo, &out);
    let code = std::fs::read_to_string(repo.join(&test)).unwrap();
    assert!(
        code.contains("        parse_phone(raw)\n") && !code.contains("addHandler"),
        "{code}"
    );
    let (ok, text) = run(&py, &repo, &[&test]);
    assert!(!ok && text.contains(MARKER_REPRODUCED), "{text}");

    // the handler logs and re-raises: calling sync_contacts raises again, a plain call replays it
    let src = tempfile::tempdir().unwrap();
    copy_dir(&case.join("app"), src.path());
    let module = src.path().join("crmsync/sync.py");
    let code = std::fs::read_to_string(&module).unwrap();
    let failed = "            failed.append(contact.get(\"id\"))\n";
    assert!(code.contains(failed));
    std::fs::write(&module, code.replace(failed, "            raise\n")).unwrap();
    let (_t, repo) = make_repo(src.path());
    let out = generate(&repo, &alert, true);
    assert_eq!(out.strategy, "call_replay", "{:?}", out.reasons);
    let test = write_test(&repo, &out);
    let code = std::fs::read_to_string(repo.join(&test)).unwrap();
    assert!(
        code.contains("        sync_contacts(contacts)\n") && !code.contains("addHandler"),
        "{code}"
    );
}

/// `py-job-decorator-swallows`: the crash frame's function is decorated by the job runner, whose
/// `functools.wraps` wrapper caught, logged and swallowed the exception (the event says handled,
/// the wrapper is the first frame). A call of the decorated name raises nothing (the gate said
/// NOT_RED): the replay calls `inspect.unwrap(...)`. A wrapper that re-raises is called as is.
#[test]
fn a_function_whose_decorator_swallowed_the_exception_is_called_unwrapped() {
    let Some(py) = python() else { return };
    let case = manifest_dir().join("tests/fixtures/corpus-extra/py-job-decorator-swallows");
    let alert = load_alert(&case.join("event.json"));
    let (_t, repo) = make_repo(&case.join("app"));
    let out = generate(&repo, &alert, true);
    assert_eq!(out.strategy, "call_replay", "{:?}", out.reasons);
    let test = write_test(&repo, &out);
    let code = std::fs::read_to_string(repo.join(&test)).unwrap();
    assert!(
        code.contains("\nimport inspect\n")
            && code.contains("        inspect.unwrap(overdue_reminders)(invoices, min_days)\n"),
        "{code}"
    );
    let (ok, text) = run(&py, &repo, &[&test]);
    assert!(!ok && text.contains(MARKER_REPRODUCED), "{text}");
    apply_patch(&repo, &case.join("fix.patch"));
    let (ok, text) = run(&py, &repo, &[&test]);
    assert!(ok, "{text}");

    // the wrapper logs and re-raises: nothing is swallowed, the decorated name is called
    let src = tempfile::tempdir().unwrap();
    copy_dir(&case.join("app"), src.path());
    let module = src.path().join("billingjobs/runner.py");
    let code = std::fs::read_to_string(&module).unwrap();
    let swallow = "            return None\n";
    assert!(code.contains(swallow));
    std::fs::write(&module, code.replace(swallow, "            raise\n")).unwrap();
    let (_t, repo) = make_repo(src.path());
    let test = write_test(&repo, &generate(&repo, &alert, true));
    let code = std::fs::read_to_string(repo.join(&test)).unwrap();
    assert!(
        !code.contains("inspect.unwrap")
            && code.contains("        overdue_reminders(invoices, min_days)\n"),
        "{code}"
    );
}
