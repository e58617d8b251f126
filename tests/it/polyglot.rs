//! The Java generator end to end with the real toolchain (mvn); Rust is in `rust_cases`, Go in `go_cases`.
//!
//! Each case: a git repository of the fixture's `app/` in a temp dir (fixed identity, the user's git
//! config ignored), `pipeline::generate` with a fixed clock, checkout of the new branch, the generated
//! test run with the real runner (red for the right reason: the panic message / exception, or the
//! NOT YET REPRODUCED marker for a scaffold), then for replays `fix.patch` applied: green, and the app's
//! own suite green. A missing toolchain fails the test when CI=true.

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

fn event_of(case: &str) -> serde_json::Value {
    let raw = std::fs::read_to_string(fixtures().join(case).join("event.json")).unwrap();
    serde_json::from_str(&raw).unwrap()
}

fn mvn(app: &App, cmd: &str) -> (bool, String) {
    app.sh(cmd, &[])
}

/// Call replay: `NumberFormatException: For input string: "12,50"` quotes the input of the static
/// `PriceParser.parseCents(String)`; the JUnit test calls it and fails with that exception; after the
/// fix it passes and so does the app's suite.
#[test]
fn java_price_parse_call_replay() {
    if !have("mvn", "-v") {
        return;
    }
    let case = "java-price-parse";
    let app = App::new(case);
    let out = app.generate(case);
    assert_eq!(out.language, "java");
    assert_eq!(out.strategy, "call_replay", "{:?}", out.reasons);
    assert!(
        out.files[0].starts_with("src/test/java/com/acme/invoice/SentryRepro"),
        "{:?}",
        out.files
    );
    let (ok, text) = mvn(&app, &out.test_command);
    assert!(!ok, "{text}");
    assert!(text.contains("SENTRY-REPRO: REPRODUCED"), "{text}");
    assert!(text.contains("NumberFormatException"), "{text}");
    app.apply_fix(case);
    let (ok, text) = mvn(&app, &out.test_command);
    assert!(ok, "{text}");
    let (ok, text) = mvn(&app, "mvn -q -B test");
    assert!(ok, "{text}");
}

/// Scaffold: the same crash reported as an IllegalStateException with no quoted input; hostile values
/// in every field. The test compiles (javac through Maven), names the class and fails with the marker.
#[test]
fn java_scaffold_and_hostile_values() {
    if !have("mvn", "-v") {
        return;
    }
    let case = "java-price-parse";
    let app = App::new(case);
    let pwned = app.dir.join("PWNED");
    let p = pwned.to_string_lossy().to_string();
    let payload = format!(
        "\"); new java.io.File({p:?}).createNewFile(); (\"\n*/ static {{ }} /*\u{202e}\\u000a\u{2028} \\\" \\u0022); System.exit(0); //"
    );
    let mut ev = event_of(case);
    ev["title"] = payload.clone().into();
    ev["exception"]["values"][0]["type"] = "IllegalStateException".into();
    ev["exception"]["values"][0]["value"] = payload.clone().into();
    let out = app.generate_value(&ev);
    assert_eq!(out.strategy, "scaffold", "{:?}", out.reasons);
    let (ok, text) = mvn(&app, &out.test_command);
    assert!(!ok && text.contains(MARKER_NOT_REPRODUCED), "{text}");
    assert!(
        text.contains(
            "PriceParser.parseCents at src/main/java/com/acme/invoice/PriceParser.java:12"
        ),
        "{text}"
    );
    assert!(!text.contains("COMPILATION ERROR"), "{text}");
    assert!(!pwned.exists(), "a payload ran");
    // The same hostile text as a quoted input goes through call replay's literal.
    let app2 = App::new(case);
    ev["exception"]["values"][0]["type"] = "NumberFormatException".into();
    ev["exception"]["values"][0]["value"] = format!("For input string: \"{payload}\"").into();
    let out = app2.generate_value(&ev);
    assert_eq!(out.strategy, "call_replay", "{:?}", out.reasons);
    let (_, text) = mvn(&app2, &out.test_command);
    assert!(!text.contains("COMPILATION ERROR"), "{text}");
    assert!(!pwned.exists(), "a payload ran");
}
