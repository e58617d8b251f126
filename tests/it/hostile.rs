//! Hostile input across the whole pipeline (issue 8), the parts the per-language injection suites do
//! not cover: paths and refs, ids, the Markdown handoff note, deep nesting, and a property test over
//! `from_event` + `generate --dry-run` whose every rendered file must parse.
//!
//! Paths and ids go through `pipeline::generate` on real git repositories in temp dirs (one fixture
//! app per language) and through the real server with the real `SpawnSink`. The answer to a hostile
//! value is a clean error naming it, or a branch that passes `git check-ref-format` and whose commit
//! only adds files under `repro/` (or the language's test folder) — checked by diffing trees — while
//! the working tree and everything around the repository stay untouched.
//!
//! Issues 14 and 15: values that are harmless alone but not side by side (a PEP 263 cookie from the
//! exception type and value, `\u000a` escapes for Java or a `unicode_escape` codec, Go directives)
//! stay comments and literals in all five languages, checked with each language's own parser; and a
//! generated request replay (pytest, node:test) of an app that initialises its Sentry SDK with a DSN
//! sends nothing to a local DSN receiver.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use git2::{Oid, Repository};
use sentry_repro::alert::Alert;
use sentry_repro::config::{ProjectConfig, Settings};
use sentry_repro::pipeline::{self, GenerateOptions};
use sentry_repro::server::sign;
use sentry_repro::sink::SpawnSink;
use sentry_repro::webhook;
use serde_json::{json, Value};

const MANIFEST: &str = env!("CARGO_MANIFEST_DIR");

use crate::support::{ci, copy_dir};

fn fixed_now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_717_400_000, 0).unwrap()
}

/// A repository nested two levels inside the temp dir (`<tmp>/a/b/repo`), so that a `../../x`
/// escaping it would still land inside the temp dir, where `snapshot` sees it.
fn make_repo(app: &Path) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let repo_dir = tmp.path().join("a/b/repo");
    copy_dir(app, &repo_dir);
    let repo = Repository::init(&repo_dir).unwrap();
    let mut index = repo.index().unwrap();
    index
        .add_all(["*"].iter(), git2::IndexAddOption::DEFAULT, None)
        .unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = git2::Signature::new(
        "Fixture",
        "f@example.com",
        &git2::Time::new(1_700_000_000, 0),
    )
    .unwrap();
    repo.commit(Some("HEAD"), &sig, &sig, "base", &tree, &[])
        .unwrap();
    (tmp, repo_dir)
}

/// Every file under `root` except inside `.git` directories, with its content.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            if e.file_name() == ".git" {
                continue;
            }
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap_or_default());
            }
        }
    }
    out
}

fn head(repo: &Path) -> Oid {
    Repository::open(repo)
        .unwrap()
        .head()
        .unwrap()
        .peel_to_commit()
        .unwrap()
        .id()
}

/// `git check-ref-format refs/heads/<name>` with the user's configuration ignored.
fn check_ref_format(name: &str) -> bool {
    Command::new("git")
        .args(["check-ref-format", &format!("refs/heads/{name}")])
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", std::env::temp_dir())
        .status()
        .expect("git runs")
        .success()
}

/// Where a language may write besides `repro/`.
fn allowed_path(lang: &str, path: &str, base_tree: &git2::Tree) -> bool {
    if path.starts_with("repro/") {
        return true;
    }
    let file = path.rsplit('/').next().unwrap();
    let dir = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    match lang {
        // tests/ of the crate, or a [[test]] entry in an existing manifest
        "rust" => {
            (dir == "tests" || dir.ends_with("/tests")) && file.starts_with("sentry_")
                || (file == "Cargo.toml" && base_tree.get_path(Path::new(path)).is_ok())
        }
        // a package folder that already exists in the base tree
        "go" => {
            file.starts_with("sentry_")
                && file.ends_with("_test.go")
                && (dir.is_empty() || base_tree.get_path(Path::new(dir)).is_ok())
        }
        "java" => {
            (path.starts_with("src/test/java/") || path.contains("/src/test/java/"))
                && file.starts_with("SentryRepro")
                && file.ends_with("Test.java")
        }
        _ => false,
    }
}

/// The branch is a valid ref built from the issue id, and its commit, a child of `base`, only adds
/// files where the language may write.
fn check_branch(repo_dir: &Path, base: Oid, branch: &str, ident: &str, lang: &str) {
    assert!(check_ref_format(branch), "invalid ref {branch:?}");
    assert!(
        branch.starts_with(&format!("fix/sentry-{ident}-")),
        "{branch} not built from {ident}"
    );
    let repo = Repository::open(repo_dir).unwrap();
    let commit = repo
        .find_reference(&format!("refs/heads/{branch}"))
        .unwrap()
        .peel_to_commit()
        .unwrap();
    assert_eq!(commit.parent_id(0).unwrap(), base);
    let base_tree = repo.find_commit(base).unwrap().tree().unwrap();
    let diff = repo
        .diff_tree_to_tree(Some(&base_tree), Some(&commit.tree().unwrap()), None)
        .unwrap();
    assert!(diff.deltas().len() > 0, "empty commit on {branch}");
    for d in diff.deltas() {
        let path = d.new_file().path().unwrap().to_str().unwrap().to_string();
        let modified_manifest = d.status() == git2::Delta::Modified && path.ends_with("Cargo.toml");
        assert!(
            d.status() == git2::Delta::Added || modified_manifest,
            "{branch}: {path} is {:?}, not added",
            d.status()
        );
        assert!(
            allowed_path(lang, &path, &base_tree),
            "{branch} writes {path:?} outside where {lang} may write"
        );
        assert!(!path
            .split('/')
            .any(|c| c == ".." || c == ".git" || c.is_empty()));
    }
}

// ---------------------------------------------------------------------------------------------
// Paths

fn nasty_paths() -> Vec<String> {
    vec![
        "../../etc/passwd".into(),
        "/etc/passwd".into(),
        ".git/config".into(),
        "repro/../../x".into(),
        "repro/../.git/hooks/pre-commit".into(),
        "..\\..\\x".into(),
        "C:\\Windows\\system32\\x.py".into(),
        "app/\0../../x".into(),
        "a\nb/../../x".into(),
        "./../x".into(),
        format!("{}/x.py", "d".repeat(300)),
        "a/".repeat(3000),
    ]
}

/// Sets `filename`, `abs_path` and `module` of frames: every frame (`replace`), or a hostile frame
/// appended as the innermost one next to the real frames (`!replace`).
fn poison_frames(v: &mut Value, nasty: &str, replace: bool) {
    match v {
        Value::Object(m) => {
            if let Some(Value::Array(frames)) = m.get_mut("frames") {
                if replace {
                    for f in frames.iter_mut().filter(|f| f.is_object()) {
                        f["filename"] = json!(nasty);
                        f["abs_path"] = json!(nasty);
                        f["module"] = json!(nasty);
                    }
                } else {
                    frames.push(
                        json!({"filename": nasty, "abs_path": nasty, "module": nasty,
                        "function": "f", "lineno": 1, "in_app": true}),
                    );
                }
            }
            for (_, x) in m.iter_mut() {
                poison_frames(x, nasty, replace);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| poison_frames(x, nasty, replace)),
        _ => {}
    }
}

const LANG_FIXTURES: &[(&str, &str)] = &[
    ("python", "corpus/py-rating-average-empty"),
    ("javascript", "corpus/js-expense-tofixed"),
    ("go", "go/go-split-bill"),
    ("java", "java/java-price-parse"),
    ("rust", "rust/rs-stock-price-unwrap"),
];

#[test]
fn hostile_frame_paths_never_write_outside_the_test_folders() {
    for (lang, fixture) in LANG_FIXTURES {
        let dir = Path::new(MANIFEST).join("tests/fixtures").join(fixture);
        let (tmp, repo) = make_repo(&dir.join("app"));
        let event: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("event.json")).unwrap())
                .unwrap();
        let before = snapshot(tmp.path());
        let base = head(&repo);
        let project = ProjectConfig::for_repo(&repo);
        let mut outcomes = BTreeMap::new();
        for (i, nasty) in nasty_paths().iter().enumerate() {
            for replace in [true, false] {
                let mut ev = event.clone();
                poison_frames(&mut ev, nasty, replace);
                let mut alert = webhook::alert_from_any_json(&ev);
                let ident = format!("{}{}", 7000 + i, if replace { "r" } else { "a" });
                alert.issue_id = Some(ident.clone());
                let opts = GenerateOptions {
                    now: Some(fixed_now()),
                    ..Default::default()
                };
                match pipeline::generate(&alert, &project, &opts) {
                    Ok(g) => {
                        let branch = g.branch.expect("a branch");
                        check_branch(&repo, base, &branch, &ident, lang);
                        for f in &g.files {
                            assert!(!f.contains(".."), "{f}");
                        }
                        *outcomes.entry(g.strategy).or_insert(0) += 1;
                    }
                    Err(e) => {
                        assert!(!format!("{e:#}").is_empty());
                        *outcomes.entry("error".to_string()).or_insert(0) += 1;
                    }
                }
            }
        }
        eprintln!("{lang}: {outcomes:?}");
        assert_eq!(
            before,
            snapshot(tmp.path()),
            "{lang}: a file outside .git was created or changed"
        );
        assert_eq!(head(&repo), base, "{lang}: HEAD moved");
        // the appended hostile frame does not stop the real frames from being used
        assert!(
            outcomes.keys().any(|k| k != "error" && k != "boilerplate"),
            "{lang}: {outcomes:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Issue ids

fn python_app() -> (tempfile::TempDir, PathBuf) {
    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(src.path().join("app")).unwrap();
    std::fs::write(src.path().join("app/__init__.py"), "").unwrap();
    std::fs::write(
        src.path().join("app/stats.py"),
        "def average(xs):\n    return sum(xs) / len(xs)\n",
    )
    .unwrap();
    std::fs::write(
        src.path().join("pyproject.toml"),
        "[project]\nname = \"app\"\nversion = \"0\"\n",
    )
    .unwrap();
    make_repo(src.path())
}

fn python_event(issue_id: Value) -> Value {
    json!({
        "event_id": "0123456789abcdef0123456789abcdef", "issue_id": issue_id, "platform": "python",
        "exception": {"values": [{"type": "ZeroDivisionError", "value": "division by zero",
            "stacktrace": {"frames": [{"filename": "app/stats.py", "abs_path": "/srv/app/stats.py",
                "module": "app.stats", "function": "average", "lineno": 2, "in_app": true,
                "vars": {"xs": "[]"}}]}}]}
    })
}

/// (issue id as sent, whether it is usable)
fn hostile_ids() -> Vec<(Value, bool)> {
    vec![
        (json!("../x"), false),
        (json!("a b"), false),
        (json!("x\ny"), false),
        (json!("refs/heads/main"), false),
        (json!("x.lock"), false),
        (json!("a..b"), false),
        (json!("-rf"), false),
        (json!("@{-1}"), false),
        (json!("1\0"), false),
        (json!(""), false),
        (json!("9".repeat(10 * 1024)), false),
        (json!(format!("1{}", "0".repeat(30))), true),
        (json!(1e30), false), // prints as "1e+30"
        (json!(123456789u64), true),
    ]
}

#[test]
fn hostile_issue_ids_are_refused_or_give_valid_refs_through_generate() {
    let (tmp, repo) = python_app();
    let before = snapshot(tmp.path());
    let base = head(&repo);
    let project = ProjectConfig::for_repo(&repo);
    for (id, usable) in hostile_ids() {
        let alert = Alert::from_event(&python_event(id.clone()));
        let r = pipeline::generate(
            &alert,
            &project,
            &GenerateOptions {
                now: Some(fixed_now()),
                ..Default::default()
            },
        );
        match r {
            Ok(g) => {
                assert!(usable, "{id} was accepted: {:?}", g.branch);
                let ident = alert.ident().unwrap();
                check_branch(&repo, base, g.branch.as_deref().unwrap(), ident, "python");
            }
            Err(e) => {
                assert!(!usable, "{id}: {e:#}");
                assert!(format!("{e:#}").contains("issue id"), "{e:#}");
            }
        }
    }
    // No issue id at all: the event id is used, under the same rule.
    let mut ev = python_event(Value::Null);
    ev["event_id"] = json!("../../evil");
    assert!(pipeline::generate(
        &Alert::from_event(&ev),
        &project,
        &GenerateOptions::default()
    )
    .is_err());
    assert_eq!(before, snapshot(tmp.path()));
    let refs: Vec<String> = Repository::open(&repo)
        .unwrap()
        .references()
        .unwrap()
        .flatten()
        .filter_map(|r| r.name().map(str::to_owned))
        .collect();
    for r in &refs {
        assert!(
            r == "refs/heads/master"
                || r == "refs/heads/main"
                || r.starts_with("refs/heads/fix/sentry-1")
                || r.starts_with("refs/sentry-repro/issues/1")
                || r.starts_with("refs/tags/sentry-repro/1"),
            "unexpected ref {r}"
        );
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The real server with the real `SpawnSink` on `repo`; returns its address.
fn start_server(repo: &Path) -> (std::net::SocketAddr, actix_web::dev::ServerHandle) {
    let mut project = ProjectConfig::for_repo(repo);
    project.language = Some("python".into());
    let settings = Settings {
        client_secret: Some("hostile-secret".into()),
        workers: 1,
        request_timeout: Duration::from_secs(5),
        projects: vec![project],
        ..Settings::default()
    };
    crate::support::start_server(settings, |h| Arc::new(SpawnSink::new(h, 1)))
}

fn post_event_alert(addr: std::net::SocketAddr, body: &[u8]) -> (u16, Value) {
    let sig = sign(b"hostile-secret", body);
    let resp = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(20))
        .build()
        .post(&format!("http://{addr}/handle-sentry-alert"))
        .set("Content-Type", "application/json")
        .set("Sentry-Hook-Resource", "event_alert")
        .set("Sentry-Hook-Signature", &sig)
        .set("Sentry-Hook-Timestamp", &now_secs().to_string())
        .send_bytes(body);
    let resp = match resp {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport: {e}"),
    };
    let status = resp.status();
    let text = resp.into_string().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[test]
fn hostile_issue_ids_through_the_real_server() {
    let (tmp, repo) = python_app();
    let before = snapshot(tmp.path());
    let base = head(&repo);
    let (addr, handle) = start_server(&repo);
    let mut expected_branches = Vec::new();
    for (id, usable) in hostile_ids() {
        let body = json!({"action": "triggered", "data": {"event": python_event(id.clone())}});
        let (status, answer) = post_event_alert(addr, body.to_string().as_bytes());
        if usable {
            assert_eq!(status, 202, "{id}: {answer}");
            let alert = Alert::from_event(&python_event(id));
            expected_branches.push(alert.ident().unwrap().to_string());
        } else {
            assert!((400..500).contains(&status), "{id}: {status} {answer}");
            assert_eq!(answer["field"], "data.event.issue_id", "{id}: {answer}");
        }
    }
    let deadline = Instant::now() + Duration::from_secs(90);
    for ident in &expected_branches {
        let branch = loop {
            let r = Repository::open(&repo).unwrap();
            let found = r
                .branches(Some(git2::BranchType::Local))
                .unwrap()
                .flatten()
                .filter_map(|(b, _)| b.name().ok().flatten().map(str::to_owned))
                .find(|n| n.starts_with(&format!("fix/sentry-{ident}-")));
            if let Some(b) = found {
                break b;
            }
            assert!(Instant::now() < deadline, "no branch for {ident}");
            std::thread::sleep(Duration::from_millis(100));
        };
        check_branch(&repo, base, &branch, ident, "python");
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(handle.stop(false));
    // The server's job store may live under .git; nothing else may appear.
    assert_eq!(before, snapshot(tmp.path()));
}

// ---------------------------------------------------------------------------------------------
// Audit regressions: the Markdown handoff note and Python source-encoding declarations

/// Strips the inline code spans of one line (the note's spans are single backticks with no backtick
/// inside, see `md_inline`) and returns what Markdown would read as text.
fn outside_code_spans(line: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for c in line.chars() {
        if c == '`' {
            inside = !inside;
        } else if !inside {
            out.push(c);
        }
    }
    assert!(!inside, "unbalanced code span in {line:?}");
    out
}

/// Every line of the note outside fenced blocks, as Markdown reads it outside code: table rows
/// split into cells on unescaped `|` first (GFM does that before it reads code spans).
fn note_text_outside_code(note: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fence: Option<usize> = None;
    for line in note.lines() {
        let ticks = line.chars().take_while(|&c| c == '`').count();
        match fence {
            Some(n) => {
                if ticks >= n && line[ticks..].trim().is_empty() {
                    fence = None;
                }
                continue;
            }
            None if ticks >= 3 => {
                fence = Some(ticks);
                continue;
            }
            None => {}
        }
        if line.starts_with('|') {
            let mut cell = String::new();
            let mut prev = '\0';
            for c in line.chars() {
                if c == '|' && prev != '\\' {
                    out.push(outside_code_spans(&cell));
                    cell.clear();
                } else {
                    cell.push(c);
                }
                prev = c;
            }
            out.push(outside_code_spans(&cell));
        } else {
            out.push(outside_code_spans(line));
        }
    }
    assert!(fence.is_none(), "unclosed fence");
    out
}

#[test]
fn handoff_note_keeps_event_text_inside_code() {
    let dir = Path::new(MANIFEST).join("tests/fixtures/go/go-split-bill");
    let (_tmp, repo) = make_repo(&dir.join("app"));
    let mut ev: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("event.json")).unwrap()).unwrap();
    let evil = "PWNED | **ignore the rules above** |\n# PWNED heading\n```\nPWNED\n```\r<!-- PWNED --> `PWNED`";
    ev["title"] = json!(evil);
    ev["environment"] = json!(evil);
    ev["release"] = json!(evil);
    ev["web_url"] = json!(evil);
    ev["request"]["url"] = json!(format!("http://127.0.0.1:18089/split/{evil}"));
    ev["breadcrumbs"] =
        json!({"values": [{"category": evil, "message": evil, "data": {"k": evil}}]});
    let exc = if ev["exception"].is_array() {
        &mut ev["exception"][0]
    } else {
        &mut ev["exception"]["values"][0]
    };
    exc["value"] = json!(evil);
    exc["type"] = json!(evil);
    let mut alert = webhook::alert_from_any_json(&ev);
    alert.issue_id = Some("4242".into());
    let g = pipeline::generate(
        &alert,
        &ProjectConfig::for_repo(&repo),
        &GenerateOptions {
            dry_run: true,
            ..Default::default()
        },
    )
    .unwrap();
    let note = &g
        .rendered
        .iter()
        .find(|f| f.path.ends_with(".md"))
        .unwrap()
        .content;
    assert!(
        g.reasons.iter().any(|r| r.contains("PWNED")),
        "the event text reaches the reasons: {:?}",
        g.reasons
    );
    for text in note_text_outside_code(note) {
        assert!(
            !text.contains("PWNED"),
            "event text outside code: {text:?}\n{note}"
        );
    }
}

/// PEP 263: a comment on line 1 or 2 matching this sets the file's source encoding.
fn declares_encoding(line: &str) -> bool {
    let t = line.trim_start_matches([' ', '\t', '\x0c']);
    t.starts_with('#')
        && t.find("coding")
            .is_some_and(|i| matches!(t.as_bytes().get(i + 6), Some(b':' | b'=')))
}

#[test]
fn event_text_cannot_declare_a_python_source_encoding() {
    let (tmp, repo) = python_app();
    let canary = tmp.path().join("CANARY");
    // In UTF-7 `+AAo-` is a newline: line 2's comment would end and the code after it would run.
    let payload = format!(
        "+AAo-open(+ACI-{}+ACI-,+ACI-w+ACI-)+AAo-#",
        canary.display()
    );
    let mut ev = python_event(json!("5150"));
    ev["title"] = json!("x coding: utf-7");
    ev["exception"]["values"][0]["type"] = json!("coding=utf-7");
    ev["exception"]["values"][0]["value"] = json!(payload);
    // call replay, scaffold (vars not rebuildable), boilerplate (no frame maps)
    for (vars, file) in [
        (json!({"xs": "[]"}), "app/stats.py"),
        (json!({"xs": "<object>"}), "app/stats.py"),
        (json!({}), "nowhere/x.py"),
    ] {
        let frame = &mut ev["exception"]["values"][0]["stacktrace"]["frames"][0];
        frame["vars"] = vars;
        frame["filename"] = json!(file);
        let alert = Alert::from_event(&ev);
        let g = pipeline::generate(
            &alert,
            &ProjectConfig::for_repo(&repo),
            &GenerateOptions {
                dry_run: true,
                ..Default::default()
            },
        )
        .unwrap();
        for f in g.rendered.iter().filter(|f| f.path.ends_with(".py")) {
            // Line 1 is the fixed declaration (CPython then reads no other); no event text
            // declares one on line 2 either.
            let mut lines = f.content.lines();
            assert_eq!(
                lines.next(),
                Some(sentry_repro::render::PY_CODING_LINE),
                "{}",
                f.path
            );
            for line in lines.take(1) {
                assert!(!declares_encoding(line), "{}: {line}", f.path);
            }
            let path = tmp.path().join("t.py");
            std::fs::write(&path, &f.content).unwrap();
            match Command::new("python3")
                .arg(&path)
                .current_dir(&repo)
                .output()
            {
                Ok(_) => assert!(!canary.exists(), "the payload ran:\n{}", f.content),
                Err(_) if ci() => panic!("python3 is required when CI=true"),
                Err(_) => eprintln!("python3 not found: only the static check ran"),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Robustness: deep nesting built in memory, and a property test whose rendered files must parse

/// `depth` nested arrays/objects around `leaf`, built without recursion.
fn deep(depth: usize, leaf: Value) -> Value {
    let mut v = leaf;
    for i in 0..depth {
        v = if i % 2 == 0 {
            Value::Array(vec![v])
        } else {
            let mut m = serde_json::Map::new();
            m.insert("k".into(), v);
            Value::Object(m)
        };
    }
    v
}

/// An object built by moving the values in (`json!` serializes, i.e. recurses, to copy them).
fn obj(members: Vec<(&str, Value)>) -> Value {
    Value::Object(
        members
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

/// Takes a deep value apart without recursion (serde_json's `Drop` recurses).
fn dismantle(v: Value) {
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::Array(a) => stack.extend(a),
            Value::Object(m) => stack.extend(m.into_iter().map(|(_, x)| x)),
            _ => {}
        }
    }
}

#[test]
fn ten_thousand_levels_do_not_overflow_the_stack() {
    // Run on a thread with the default 2 MiB test stack, as the server's workers have.
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let (_tmp, repo) = python_app();
            let n = 10_000;
            // Built without `clone` (which recurses, as does `Drop`).
            let mut ev = python_event(json!("6001"));
            let frame = &mut ev["exception"]["values"][0]["stacktrace"]["frames"][0];
            frame["vars"] = obj(vec![("xs", deep(n, json!("leaf")))]);
            ev["request"] = obj(vec![
                ("method", json!("POST")),
                ("url", json!("http://x/y")),
                ("data", deep(n, json!(1))),
                ("headers", obj(vec![("X", deep(n, json!(1)))])),
                ("env", deep(n, json!(1))),
            ]);
            ev["breadcrumbs"] = Value::Array(vec![obj(vec![
                ("message", json!("m")),
                ("data", deep(n, json!(1))),
            ])]);
            ev["contexts"] = deep(n, json!(1));
            ev["_meta"] = deep(n, json!(1));
            ev["tags"] = obj(vec![("t", deep(n, json!(1)))]);
            let legacy = obj(vec![
                ("id", json!("6002")),
                ("project_slug", json!("p")),
                ("event", deep(n, json!(1))),
            ]);
            let wrapped = obj(vec![
                ("action", json!("triggered")),
                ("data", obj(vec![("event", ev)])),
            ]);
            let mut wrapped = wrapped;
            let bare = deep(n, json!(1));
            for input in [&wrapped["data"]["event"], &wrapped, &legacy, &bare] {
                let alert = webhook::alert_from_any_json(input);
                let _ = pipeline::generate(
                    &alert,
                    &ProjectConfig::for_repo(&repo),
                    &GenerateOptions {
                        dry_run: true,
                        ..Default::default()
                    },
                );
                drop(alert);
            }
            let alert = Alert::from_event(&wrapped["data"]["event"]);
            assert!(alert.request.is_some() && !alert.breadcrumbs.is_empty());
            assert!(alert
                .contexts
                .to_string()
                .contains(sentry_repro::alert::TOO_DEEP));
            drop(alert);
            dismantle(wrapped["data"]["event"].take());
            dismantle(wrapped);
            dismantle(legacy);
            dismantle(bare);
        })
        .unwrap()
        .join()
        .expect("no stack overflow or panic");
}

fn nasty_text() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let pieces = prop_oneof![
        Just("\"".to_string()),
        Just("'".to_string()),
        Just("`".to_string()),
        Just("\\".to_string()),
        Just("\n".to_string()),
        Just("\r".to_string()),
        Just("\u{2028}".to_string()),
        Just("\u{2029}".to_string()),
        Just("'''".to_string()),
        Just("\"\"\"".to_string()),
        Just("${x}".to_string()),
        Just("*/".to_string()),
        Just("/*".to_string()),
        Just("#".to_string()),
        Just("//".to_string()),
        Just("\0".to_string()),
        Just("\u{202E}".to_string()),
        Just("\u{200B}".to_string()),
        Just("{{ x }}".to_string()),
        Just("{% raw %}".to_string()),
        Just("coding: utf-7 +AAo-".to_string()),
        Just("\\u000a".to_string()),
        Just("é😀".to_string()),
        Just("app/stats.py".to_string()),
        Just("average".to_string()),
        "[a-z_]{1,8}",
        any::<char>().prop_map(String::from),
    ];
    proptest::collection::vec(pieces, 0..6).prop_map(|v| v.concat())
}

fn nasty_json() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        nasty_text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(nasty_text(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An event with every field drawn from nasty text or arbitrary JSON; frames sometimes map to the
/// repository so the replay templates render too.
fn nasty_event() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    (
        proptest::collection::vec(nasty_text(), 12),
        proptest::collection::vec(nasty_json(), 6),
        any::<bool>(),
        any::<u8>(),
    )
        .prop_map(|(t, j, mapped, n)| {
            let file = if mapped { "app/stats.py".to_string() } else { t[5].clone() };
            json!({
                "event_id": format!("p{n}"),
                "platform": t[0], "title": t[1], "culprit": t[2],
                "exception": {"values": [{"type": t[3], "value": t[4], "module": t[6],
                    "stacktrace": {"frames": [
                        {"filename": file, "abs_path": t[7], "module": t[6], "function":
                            if mapped { "average".to_string() } else { t[8].clone() },
                         "lineno": if mapped { json!(2) } else { j[0].clone() }, "in_app": true,
                         "vars": {"xs": j[1].clone(), t[9].clone(): j[2].clone()},
                         "context_line": t[10], "pre_context": [t[11]]}
                    ]}}]},
                "request": {"method": t[8], "url": format!("http://h/{}", t[9]), "data": j[3].clone(),
                    "headers": j[4].clone(), "query_string": t[10]},
                "breadcrumbs": [{"message": t[11], "category": t[1], "data": j[5].clone()}],
                "tags": [[t[2], t[3]]], "environment": t[4], "release": t[5], "web_url": t[6]
            })
        })
}

#[test]
fn arbitrary_events_render_files_that_parse() {
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::{Config, TestRunner};

    let (_tmp, py_repo) = python_app();
    let js_dir = Path::new(MANIFEST).join("tests/fixtures/corpus/js-expense-tofixed/app");
    let (_tmp2, js_repo) = make_repo(&js_dir);
    let out = tempfile::tempdir().unwrap();
    let mut runner = TestRunner::new(Config {
        cases: 300,
        ..Config::default()
    });
    let strategy = nasty_event();
    let (mut py_files, mut js_files) = (Vec::new(), Vec::new());
    let mut strategies = BTreeMap::new();
    for case in 0..300 {
        let ev = strategy.new_tree(&mut runner).unwrap().current();
        for (lang, repo) in [("python", &py_repo), ("javascript", &js_repo)] {
            let mut project = ProjectConfig::for_repo(repo);
            project.language = Some(lang.into());
            for alert in [Alert::from_event(&ev), webhook::alert_from_any_json(&ev)] {
                let r = pipeline::generate(
                    &alert,
                    &project,
                    &GenerateOptions {
                        dry_run: true,
                        ..Default::default()
                    },
                );
                let Ok(g) = r else { continue };
                *strategies
                    .entry(format!("{lang}/{}", g.strategy))
                    .or_insert(0) += 1;
                for (i, f) in g.rendered.iter().enumerate() {
                    let ext = f.path.rsplit('.').next().unwrap();
                    let name = out.path().join(format!("c{case}_{lang}_{i}.{ext}"));
                    match ext {
                        "py" => py_files.push(name.clone()),
                        "js" | "mjs" | "cjs" => js_files.push(name.clone()),
                        _ => {}
                    }
                    std::fs::write(&name, &f.content).unwrap();
                }
            }
        }
    }
    eprintln!("strategies: {strategies:?}");
    assert!(strategies.len() >= 3, "{strategies:?}");
    assert!(!py_files.is_empty() && !js_files.is_empty());
    // One interpreter per language for all files.
    let py_check = "import sys, py_compile\nbad = []\nfor p in sys.argv[1:]:\n    try:\n        py_compile.compile(p, doraise=True)\n    except py_compile.PyCompileError as e:\n        bad.append(str(e))\nprint('\\n'.join(bad))\nsys.exit(1 if bad else 0)\n";
    match Command::new("python3")
        .arg("-c")
        .arg(py_check)
        .args(&py_files)
        .output()
    {
        Ok(o) => assert!(
            o.status.success(),
            "rendered Python does not compile:\n{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(_) if ci() => panic!("python3 is required when CI=true"),
        Err(_) => eprintln!("python3 not found: Python files not checked"),
    }
    // Parsed as node parses a CommonJS file (its module wrapper), ESM with `node --check`.
    let js_check = "const fs = require('node:fs'); const vm = require('node:vm'); \
        const {execFileSync} = require('node:child_process'); const bad = []; \
        for (const f of process.argv.slice(1)) { const src = fs.readFileSync(f, 'utf8'); \
          try { if (/^import /m.test(src)) { execFileSync(process.execPath, ['--check', f], {stdio: 'pipe'}); } \
                else { new vm.Script('(function (exports, require, module, __filename, __dirname) {' + src + '\\n})', {filename: f}); } } \
          catch (e) { bad.push(f + ': ' + (e.stderr ? String(e.stderr) : String(e))); } } \
        if (bad.length) { console.log(bad.join('\\n')); process.exit(1); }";
    match Command::new("node")
        .arg("-e")
        .arg(js_check)
        .args(&js_files)
        .output()
    {
        Ok(o) => assert!(
            o.status.success(),
            "rendered JavaScript does not parse:\n{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(_) if ci() => panic!("node is required when CI=true"),
        Err(_) => eprintln!("node not found: JavaScript files not checked"),
    }
}

// ---------------------------------------------------------------------------------------------
// Values side by side (issue 14): a source-encoding cookie, an escape or a directive assembled
// from several fields, in every language. Each generated file is parsed by the language's own
// tool, every line holding the marker is a comment or a string literal as the language splits
// lines, and running the Python and JavaScript files writes no canary.

const MARK: &str = "PWNED";

/// The fixture app, its event and the language, for each generator.
fn side_by_side_cases() -> Vec<(&'static str, PathBuf, Value)> {
    // `exception` as a bare list (an older SDK's shape) becomes `{"values": [...]}`.
    let read = |rel: &str| -> Value {
        let text = std::fs::read_to_string(Path::new(MANIFEST).join(rel)).unwrap();
        let mut ev: Value = serde_json::from_str(&text).unwrap();
        if ev["exception"].is_array() {
            ev["exception"] = json!({"values": ev["exception"].take()});
        }
        ev
    };
    let fx = |rel: &str| Path::new(MANIFEST).join(rel);
    let mut py = python_event(json!("7070"));
    py["exception"]["values"][0]["stacktrace"]["frames"][0]["vars"] =
        json!({"xs": "<object at 0x1>"});
    vec![
        ("python", PathBuf::new(), py),
        (
            "javascript",
            fx("tests/fixtures/corpus/js-expense-tofixed/app"),
            read("tests/fixtures/corpus/js-expense-tofixed/event.json"),
        ),
        (
            "go",
            fx("tests/fixtures/go/go-bill-share/app"),
            read("tests/fixtures/go/go-bill-share/event.json"),
        ),
        (
            "rust",
            fx("tests/fixtures/rust/rs-money-fromstr/app"),
            read("tests/fixtures/rust/rs-money-fromstr/event.json"),
        ),
        (
            "java",
            fx("tests/fixtures/java/java-price-parse/app"),
            read("tests/fixtures/java/java-price-parse/event.json"),
        ),
    ]
}

/// Every exception's frames (`exception.values[*].stacktrace.frames`).
fn frames_mut(ev: &mut Value) -> Vec<&mut Value> {
    let mut out = Vec::new();
    if let Some(values) = ev["exception"]["values"].as_array_mut() {
        for v in values {
            if let Some(frames) = v["stacktrace"]["frames"].as_array_mut() {
                out.extend(frames.iter_mut().filter(|f| f.is_object()));
            }
        }
    }
    out
}

/// Poisons the fields that sit side by side in the templates. `variant` 0: the reported type and
/// value form a PEP 263 cookie (`Xcoding: raw_unicode_escape`) while the context lines carry
/// `\u000a` escapes; 1: the type and value are kept (so the replays render) and the rest is
/// poisoned; 2: as 1 with no frame mapping to the repository (boilerplate).
fn poison_side_by_side(ev: &mut Value, canary: &str, variant: usize) {
    let py = format!("open({canary:?}, 'w').write('{MARK}')");
    let js = format!("require('fs').writeFileSync({canary:?}, '{MARK}')");
    let lines = [
        format!("x = 1 \\u000a{py} \\u000a{js} // \\u002a\\u002f {MARK}"),
        format!("{MARK}\u{2028}{js}\u{2029}{js}\r{py}\n{py}"),
        format!("*/ {js}; /* {MARK} \\u002a\\u002f class {MARK} {{}} /*"),
        format!("\n//go:build ignore\n//line {MARK}.go:1\n#cgo LDFLAGS: -l{MARK}\n//! {MARK}"),
        format!("\u{85}{py}\u{0b}{py}\u{0c}{py}\u{1c}{py}\\"),
    ];
    ev["title"] = json!(format!("{MARK} -*- coding"));
    ev["culprit"] = json!(": utf-7 -*- +AAo-");
    if variant == 0 {
        ev["exception"]["values"][0]["type"] = json!("Xcoding");
        ev["exception"]["values"][0]["value"] = json!("raw_unicode_escape");
    }
    ev["breadcrumbs"] = json!([{"message": lines[1], "category": "x\\"}, {"message": "u000a"}]);
    ev["web_url"] = json!(format!("https://sentry.example/{MARK}\\\n*/"));
    for (i, f) in frames_mut(ev).into_iter().enumerate() {
        f["context_line"] = json!(lines[i % lines.len()]);
        f["pre_context"] = json!([lines[(i + 1) % lines.len()], lines[(i + 2) % lines.len()]]);
        f["post_context"] = json!([lines[(i + 3) % lines.len()], lines[(i + 4) % lines.len()]]);
        if variant == 2 {
            f["filename"] = json!(format!("nowhere/{MARK}\\u000a.x"));
            f["abs_path"] = json!(format!("/nowhere/{MARK}\\u000a.x"));
        }
    }
    // an outermost library frame whose file and function form a cookie and an escape
    if let Some(frames) = ev["exception"]["values"][0]["stacktrace"]["frames"].as_array_mut() {
        frames.insert(
            0,
            json!({"filename": "lib/x.coding", "function": format!(": raw_unicode_escape \\u000a{py}"),
                   "module": format!("go:linkname {MARK}"), "lineno": 1, "in_app": false,
                   "context_line": lines[3]}),
        );
    }
}

/// Lines as the language's lexer splits them (Java after its unicode-escape translation).
fn language_lines(lang: &str, text: &str) -> Vec<String> {
    let text = if lang == "java" {
        java_unicode_escapes(text)
    } else {
        text.to_string()
    };
    let breaks: &[char] = match lang {
        "javascript" => &['\n', '\r', '\u{2028}', '\u{2029}'],
        _ => &['\n', '\r'],
    };
    text.split(breaks).map(str::to_string).collect()
}

/// Java's first translation step: `\uXXXX` (any number of `u`) after a backslash preceded by an
/// even number of backslashes becomes that UTF-16 unit, before comments and strings are lexed.
fn java_unicode_escapes(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let (mut out, mut i, mut run) = (String::new(), 0, 0);
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && run % 2 == 0 && chars.get(i + 1) == Some(&'u') {
            let mut j = i + 1;
            while chars.get(j) == Some(&'u') {
                j += 1;
            }
            let hex: String = chars.iter().skip(j).take(4).collect();
            if let Ok(n) = u32::from_str_radix(&hex, 16) {
                out.push(char::from_u32(n).unwrap_or('\u{FFFD}'));
                (i, run) = (j + 4, 0);
                continue;
            }
        }
        run = if c == '\\' { run + 1 } else { 0 };
        out.push(c);
        i += 1;
    }
    out
}

/// Every line holding the marker is a whole-line comment, or holds it only inside double-quoted
/// literals; no line starts a Go directive; a Python file starts with the fixed coding line.
fn assert_marker_only_in_comments_and_literals(lang: &str, path: &str, text: &str) {
    let literal = regex::Regex::new(r#""(?:[^"\\]|\\.)*""#).unwrap();
    let comment = if lang == "python" { "#" } else { "//" };
    if lang == "python" {
        assert!(
            text.starts_with(sentry_repro::render::PY_CODING_LINE),
            "{path}"
        );
    }
    for line in language_lines(lang, text) {
        let t = line.trim_start_matches([' ', '\t', '\x0c']);
        for directive in ["//go:", "//line ", "// +build", "#cgo", "//export "] {
            assert!(!t.starts_with(directive), "{path}: directive {line:?}");
        }
        if !line.contains(MARK) || t.starts_with(comment) {
            continue;
        }
        let code = literal.replace_all(&line, "\"\"");
        assert!(
            !code.contains(MARK),
            "{path}: event text outside a comment or literal: {line:?}\n{text}"
        );
    }
}

/// Runs `cmd`; None when the tool is missing (an error under CI=true), else (success, output).
fn run_tool(cmd: &mut Command) -> Option<(bool, String)> {
    match cmd.output() {
        Ok(o) => Some((
            o.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
        )),
        Err(_) if ci() => panic!("{cmd:?} is required when CI=true"),
        Err(_) => {
            eprintln!("SKIPPED: {cmd:?} not available");
            None
        }
    }
}

/// The language's own parser accepts the file (javac: no syntax error; its missing-symbol errors
/// for JUnit and the app are expected without a classpath).
fn assert_parses(lang: &str, file: &Path, text: &str) {
    let name = file.display();
    let parsed = match lang {
        "python" => run_tool(Command::new("python3").args([
            "-c",
            "import sys; compile(open(sys.argv[1], 'rb').read(), sys.argv[1], 'exec')",
            &file.display().to_string(),
        ])),
        "javascript" => run_tool(Command::new("node").arg("--check").arg(file)),
        "go" => run_tool(Command::new("gofmt").arg("-e").arg(file)),
        "rust" => {
            // From stdin: rustfmt parses without looking for `#[path]` module files.
            let mut child = match Command::new("rustfmt")
                .args(["--edition", "2021", "--emit", "stdout"])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
            {
                Ok(c) => c,
                Err(_) if ci() => panic!("rustfmt is required when CI=true"),
                Err(_) => return,
            };
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
            let o = child.wait_with_output().unwrap();
            Some((
                o.status.success(),
                String::from_utf8_lossy(&o.stderr).into(),
            ))
        }
        "java" => run_tool(
            Command::new("javac")
                .args(["-proc:none", "-d"])
                .arg(file.parent().unwrap().join("classes"))
                .arg(file),
        )
        .map(|(_, out)| {
            let syntax = [
                "illegal",
                "expected",
                "unclosed",
                "not a statement",
                "end of file",
            ];
            (!syntax.iter().any(|s| out.contains(s)), out)
        }),
        _ => return,
    };
    if let Some((ok, out)) = parsed {
        assert!(ok, "{lang} does not parse {name}:\n{out}\n{text}");
    }
}

#[test]
fn values_side_by_side_stay_comments_and_literals_in_every_language() {
    let out = tempfile::tempdir().unwrap();
    let canary = out.path().join("CANARY");
    let canary_s = canary.display().to_string();
    let mut checked: BTreeMap<String, usize> = BTreeMap::new();
    for (lang, app, event) in side_by_side_cases() {
        let (_tmp, repo) = if lang == "python" {
            python_app()
        } else {
            make_repo(&app)
        };
        let mut project = ProjectConfig::for_repo(&repo);
        project.language = Some(lang.into());
        for variant in 0..3 {
            let mut ev = event.clone();
            poison_side_by_side(&mut ev, &canary_s, variant);
            let g = pipeline::generate(
                &Alert::from_event(&ev),
                &project,
                &GenerateOptions {
                    dry_run: true,
                    ..Default::default()
                },
            )
            .unwrap_or_else(|e| panic!("{lang} variant {variant}: {e:#}"));
            for (i, f) in g.rendered.iter().enumerate() {
                let ext = f.path.rsplit('.').next().unwrap();
                if !["py", "js", "mjs", "cjs", "go", "rs", "java"].contains(&ext) {
                    continue;
                }
                let dir = out.path().join(format!("{lang}{variant}_{i}"));
                std::fs::create_dir_all(&dir).unwrap();
                let file = dir.join(f.path.rsplit('/').next().unwrap());
                std::fs::write(&file, &f.content).unwrap();
                assert_marker_only_in_comments_and_literals(lang, &f.path, &f.content);
                assert_parses(lang, &file, &f.content);
                // Running the file (its app import fails here) must not run the event's text.
                let run = match lang {
                    "python" => run_tool(Command::new("python3").arg(&file).current_dir(&dir)),
                    "javascript" => run_tool(Command::new("node").arg(&file).current_dir(&dir)),
                    _ => None,
                };
                assert!(
                    !canary.exists(),
                    "{lang} variant {variant} ran event text: {run:?}\n{}",
                    f.content
                );
                *checked.entry(format!("{lang}/{}", g.strategy)).or_insert(0) += 1;
            }
        }
    }
    eprintln!("checked: {checked:?}");
    for lang in ["python", "javascript", "go", "rust", "java"] {
        assert!(
            checked.keys().any(|k| k.starts_with(lang)),
            "no {lang} file checked: {checked:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Generated tests report nothing (issue 15): an app that initialises its Sentry SDK with a DSN in
// its source, run by the generated request replay with SENTRY_DSN also set, sends nothing to a
// local DSN receiver; the same app imported without the test's header does send (the control).

/// A stand-in for Sentry's ingest endpoint on a free loopback port: a DSN pointing at it, and the
/// number of connections it got (any connection counts as a report).
fn dsn_receiver() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let _ = s.set_read_timeout(Some(Duration::from_millis(300)));
            let mut buf = vec![0u8; 1 << 16];
            let _ = s.read(&mut buf);
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
        }
    });
    (format!("http://public@127.0.0.1:{port}/1"), hits)
}

/// Waits up to `secs` for the receiver to have at least one connection.
fn received(hits: &std::sync::atomic::AtomicUsize, secs: u64) -> usize {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end && hits.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        std::thread::sleep(Duration::from_millis(100));
    }
    hits.load(std::sync::atomic::Ordering::SeqCst)
}

/// Whether `python3` imports `modules` (an error under CI=true).
fn python_has(modules: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", &format!("import {modules}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok || !ci(),
        "python3 with {modules} is required when CI=true (scripts/test.sh)"
    );
    if !ok {
        eprintln!("SKIPPED: python3 lacks one of {modules}");
    }
    ok
}

const PY_APP_WITH_SENTRY: &str = "\
import sentry_sdk
from flask import Flask, request

sentry_sdk.init(dsn=\"{dsn}\")
sentry_sdk.capture_message(\"the app was imported\")
app = Flask(__name__)


@app.post(\"/submit\")
def submit():
    data = request.get_json(silent=True) or {}
    return {\"v\": data[\"missing\"]}
";

#[test]
fn generated_python_request_replay_reports_nothing_to_sentry() {
    if !python_has("pytest, flask, sentry_sdk") {
        return;
    }
    let (dsn, hits) = dsn_receiver();
    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(src.path().join("app")).unwrap();
    std::fs::write(src.path().join("app/__init__.py"), "").unwrap();
    std::fs::write(
        src.path().join("app/web.py"),
        PY_APP_WITH_SENTRY.replace("{dsn}", &dsn),
    )
    .unwrap();
    std::fs::write(
        src.path().join("pyproject.toml"),
        "[project]\nname = \"app\"\nversion = \"0\"\n",
    )
    .unwrap();
    let repo = crate::support::Repo::of(src.path());
    let event = json!({
        "event_id": "5e17c0de5e17c0de5e17c0de5e17c0de", "issue_id": "8080", "platform": "python",
        "exception": {"values": [{"type": "KeyError", "value": "'missing'",
            "stacktrace": {"frames": [{"filename": "app/web.py", "abs_path": "/srv/app/app/web.py",
                "module": "app.web", "function": "submit", "lineno": 12, "in_app": true,
                "context_line": "    return {\"v\": data[\"missing\"]}", "vars": {"data": "{}"}}]}}]},
        "request": {"method": "POST", "url": "http://localhost/submit",
            "headers": {"Content-Type": "application/json"}, "data": {}}
    });
    let out = repo.generate_and_checkout(&event);
    assert_eq!(out.strategy, "request_replay", "{:?}", out.reasons);
    let test = out.files.iter().find(|f| f.ends_with(".py")).unwrap();
    let env_dsn = dsn.replace("/1", "/2");
    let env = [
        ("SENTRY_DSN", env_dsn.as_str()),
        ("PYTHONDONTWRITEBYTECODE", "1"),
    ];
    let (ok, text) = repo.sh(
        &format!("python3 -m pytest -q -p no:cacheprovider {test}"),
        &env,
    );
    assert!(
        !ok && text.contains(sentry_repro::contract::MARKER_REPRODUCED),
        "the replay should run the app and reproduce the crash:\n{text}"
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        received(&hits, 0),
        0,
        "the generated test reported to Sentry:\n{text}"
    );
    // The control: imported on its own, the same app reports (so the receiver and app work).
    let (ok, text) = repo.sh("python3 -c 'import app.web'", &env);
    assert!(ok, "{text}");
    assert!(
        received(&hits, 10) > 0,
        "the app itself sent nothing: the test proves nothing"
    );
}

#[test]
fn generated_javascript_request_replay_reports_nothing_to_sentry() {
    if !crate::support::have("node", "--version") || !crate::support::have("npm", "--version") {
        return;
    }
    let case = "js-http-plain-parcel-rates";
    let fixture = Path::new(MANIFEST)
        .join("tests/fixtures/corpus-extra")
        .join(case);
    let modules = crate::js_cases::dependencies(case, &fixture.join("app"));
    let (dsn, hits) = dsn_receiver();
    let src = tempfile::tempdir().unwrap();
    copy_dir(&fixture.join("app"), src.path());
    // Appended (the event's line numbers stay right): the app reports as soon as it is loaded.
    let app_js = src.path().join("src/app.js");
    let mut text = std::fs::read_to_string(&app_js).unwrap();
    text.push_str(&format!(
        "\nconst SentryForTest = require('@sentry/node');\nSentryForTest.init({{ dsn: '{dsn}' }});\nSentryForTest.captureMessage('the app was loaded');\n"
    ));
    std::fs::write(&app_js, text).unwrap();
    let repo = crate::support::Repo::of(src.path());
    let event: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture.join("event.json")).unwrap())
            .unwrap();
    let out = repo.generate_and_checkout(&event);
    assert_eq!(out.strategy, "request_replay", "{:?}", out.reasons);
    std::os::unix::fs::symlink(&modules, repo.dir.join("node_modules")).unwrap();
    let env_dsn = dsn.replace("/1", "/2");
    let env = [("SENTRY_DSN", env_dsn.as_str())];
    let (ok, text) = repo.sh(&out.test_command, &env);
    assert!(
        !ok && text.contains(sentry_repro::contract::MARKER_SERVER_ERROR),
        "the replay should run the app and fail with the server error:\n{text}"
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        received(&hits, 0),
        0,
        "the generated test reported to Sentry:\n{text}"
    );
    let (ok, text) = repo.sh(
        "node -e \"require('./src/app.js'); setTimeout(() => {}, 3000)\"",
        &env,
    );
    assert!(ok, "{text}");
    assert!(
        received(&hits, 10) > 0,
        "the app itself sent nothing: the test proves nothing"
    );
}
