//! Helpers every integration module shares: fixture paths, copying a sample app, a git repository
//! in a temp dir that ignores the user's git configuration, toolchain checks that fail in CI and skip
//! (loudly) elsewhere, and running the real `sentry-repro` binary. One place, so a fix to how tests
//! isolate git or detect a toolchain reaches every module.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The built binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_sentry-repro");

/// The crate root.
pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `tests/fixtures/<rel>`.
pub fn fixtures(rel: &str) -> PathBuf {
    manifest_dir().join("tests/fixtures").join(rel)
}

/// A fixed clock for generation (branch names and snapshots stay stable).
pub fn fixed_now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap()
}

/// Whether the CI run is on (tests needing a toolchain fail instead of skipping).
pub fn ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// Whether `tool arg` runs. When it does not: panic in CI, otherwise print a SKIPPED line.
pub fn have(tool: &str, arg: &str) -> bool {
    let ok = Command::new(tool)
        .arg(arg)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        assert!(!ci(), "{tool} is required in CI but is not installed");
        eprintln!("SKIPPED: {tool} not installed");
    }
    ok
}

/// Copy a directory tree, leaving out `.git`, `target` and `node_modules`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    let walk = walkdir::WalkDir::new(from).into_iter().filter_entry(|e| {
        e.depth() == 0
            || !matches!(
                e.file_name().to_str(),
                Some(".git" | "target" | "node_modules")
            )
    });
    for entry in walk {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(from).unwrap();
        let dest = to.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
            let mut perm = std::fs::metadata(&dest).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perm.set_readonly(false);
            std::fs::set_permissions(&dest, perm).unwrap();
        }
    }
}

/// Run `git` in `dir` with the user's and system's configuration ignored (HOME = `home`) and a
/// fixed identity; panics with git's stderr on failure; returns stdout.
pub fn git_in(dir: &Path, home: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home)
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A git repository in a temp dir: a copy of `app` committed once on `main`.
pub struct Repo {
    pub tmp: tempfile::TempDir,
    /// The work tree (`<tmp>/app`).
    pub dir: PathBuf,
    /// An empty HOME for git and the runners.
    pub home: PathBuf,
}

impl Repo {
    pub fn of(app: &Path) -> Repo {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("app");
        let home = tmp.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        copy_dir(app, &dir);
        let repo = Repo { tmp, dir, home };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.git(&["add", "-A"]);
        repo.git(&["commit", "-q", "-m", "base"]);
        repo
    }

    pub fn git(&self, args: &[&str]) -> String {
        git_in(&self.dir, &self.home, args)
    }

    /// Apply a patch (`git apply -p1`) to the work tree and commit it.
    pub fn commit_patch(&self, patch: &Path, message: &str) {
        self.git(&["apply", "-p1", patch.to_str().unwrap()]);
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
    }

    /// `pipeline::generate` from an event (any webhook shape or a bare event) with the fixed clock,
    /// asserting a branch was created, then check that branch out.
    pub fn generate_and_checkout(&self, event: &Value) -> sentry_repro::pipeline::Generated {
        use sentry_repro::pipeline::{self, GenerateOptions};
        let alert = sentry_repro::webhook::alert_from_any_json(event);
        let project = sentry_repro::config::ProjectConfig::for_repo(&self.dir);
        let out = pipeline::generate(
            &alert,
            &project,
            &GenerateOptions {
                base: None,
                dry_run: false,
                now: Some(fixed_now()),
            },
        )
        .expect("generate");
        assert!(out.created, "{out:?}");
        self.git(&["checkout", "-q", out.branch.as_deref().unwrap()]);
        out
    }

    /// Run a shell command in the work tree; (success, stdout + stderr).
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

/// What `sentry-repro verify` gave: exit code, the JSON report (Null when none was written), and
/// its stdout + stderr.
pub struct Gate {
    pub exit: i32,
    pub report: Value,
    pub output: String,
}

impl Gate {
    /// The verdict of each repro test in the report.
    pub fn verdicts(&self) -> Vec<String> {
        self.report["tests"]
            .as_array()
            .map(|t| {
                t.iter()
                    .map(|t| t["verdict"].as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Run the real binary's `verify --json` in `repo` (HOME isolated), extra args and env appended.
pub fn verify_in(repo: &Path, home: &Path, args: &[&str], env: &[(&str, &str)]) -> Gate {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let report_path = home.join(format!("report-{}-{n}.json", std::process::id()));
    let mut cmd = Command::new(BIN);
    cmd.arg("verify")
        .args(args)
        .arg("--json")
        .arg(&report_path)
        .current_dir(repo)
        .env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("SENTRY_AUTH_TOKEN");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("verify runs");
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report = std::fs::read_to_string(&report_path)
        .map(|s| serde_json::from_str(&s).expect("report is JSON"))
        .unwrap_or(Value::Null);
    Gate {
        exit: out.status.code().unwrap_or(-1),
        report,
        output,
    }
}

/// The real actix server on a free loopback port, in its own thread and tokio runtime, with the
/// sink `make_sink` builds inside that runtime; returns its address and handle.
pub fn start_server(
    settings: sentry_repro::config::Settings,
    make_sink: impl FnOnce(tokio::runtime::Handle) -> std::sync::Arc<dyn sentry_repro::sink::AlertSink>
        + Send
        + 'static,
) -> (std::net::SocketAddr, actix_web::dev::ServerHandle) {
    use sentry_repro::server::{self, AppState};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let sink = make_sink(tokio::runtime::Handle::current());
            let srv =
                server::build(listener, AppState::new(settings, sink), server::no_extra).unwrap();
            tx.send(srv.handle()).unwrap();
            srv.await.unwrap();
        });
    });
    (
        addr,
        rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap(),
    )
}
