//! Alert → branch cost on large repositories, side by side with the git-CLI design it replaces.
//!
//! `cargo bench --bench branch` (full run: 10k, 50k, 100k files × 2k commits) or
//! `cargo bench --bench branch -- --files 50000 --alerts 300`. Under `cargo test` (no `--bench`
//! argument) it runs a tiny smoke pass so the harness itself is tested and cannot rot.
//!
//! Both sides handle the same alert (the py-rating-average-empty event, its app overlaid on the large
//! repository by bench/make-large-repo.py) in the same process run:
//! - sentry-repro: `pipeline::generate` (git objects only, tree built in memory, new ref);
//! - git CLI: `git checkout -b`, write the test, `git add`, `git commit`, `git checkout -` in a work tree.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sentry_repro::config::ProjectConfig;
use sentry_repro::pipeline::{self, GenerateOptions};
use sentry_repro::webhook;

struct Args {
    full: bool,
    files: Vec<usize>,
    commits: usize,
    alerts: usize,
    cli_alerts: usize,
    /// Reuse an existing repository (made by make-large-repo.py) instead of building one.
    repo: Option<PathBuf>,
}

fn parse_args() -> Args {
    let raw: Vec<String> = std::env::args().collect();
    let full = raw.iter().any(|a| a == "--bench");
    let mut args = if full {
        Args {
            full,
            files: vec![10_000, 50_000, 100_000],
            commits: 2_000,
            alerts: 300,
            cli_alerts: 30,
            repo: None,
        }
    } else {
        Args {
            full,
            files: vec![300],
            commits: 10,
            alerts: 5,
            cli_alerts: 2,
            repo: None,
        }
    };
    let mut it = raw.iter().skip(1);
    while let Some(a) = it.next() {
        if a == "--repo" {
            args.repo = it.next().map(PathBuf::from);
            continue;
        }
        let mut val = || {
            it.next()
                .and_then(|v| v.parse::<usize>().ok())
                .expect("numeric value")
        };
        match a.as_str() {
            "--files" => args.files = vec![val()],
            "--commits" => args.commits = val(),
            "--alerts" => args.alerts = val(),
            "--cli-alerts" => args.cli_alerts = val(),
            _ => {}
        }
    }
    args
}

fn git(dir: &Path, args: &[&str]) {
    let st = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.com")
        .env("GIT_COMMITTER_NAME", "bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.com")
        .status()
        .expect("git runs");
    assert!(st.success(), "git {args:?} failed");
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let args = parse_args();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let case = root.join("tests/fixtures/corpus/py-rating-average-empty");
    let event_path = case.join("event.json");
    let event: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&event_path).expect("fixture event"))
            .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    println!("| files | commits | sentry-repro p50 ms | p99 ms | branches/s | git CLI p50 ms | p99 ms | ratio (p50) |");
    println!("|---|---|---|---|---|---|---|---|");
    for &files in &args.files {
        let repo = match &args.repo {
            Some(r) => r.clone(),
            None => {
                let repo = tmp.path().join(format!("repo-{files}"));
                let st = Command::new("python3")
                    .arg(root.join("bench/make-large-repo.py"))
                    .arg(&repo)
                    .args([
                        "--files",
                        &files.to_string(),
                        "--commits",
                        &args.commits.to_string(),
                    ])
                    .arg("--overlay")
                    .arg(case.join("app"))
                    .stdout(std::process::Stdio::null())
                    .status()
                    .expect("python3 runs");
                assert!(st.success());
                repo
            }
        };
        // Unique per run, so a reused repository never answers "already has a branch".
        let run_id = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
            % 1_000_000_000;
        let project = ProjectConfig::for_repo(&repo);
        // sentry-repro: in-memory trees, one branch per alert.
        let mut ours = Vec::with_capacity(args.alerts);
        let start_all = Instant::now();
        for i in 0..args.alerts {
            let mut alert = webhook::alert_from_any_json(&event);
            alert.issue_id = Some(format!("{run_id}{i:05}"));
            let t = Instant::now();
            let out = pipeline::generate(&alert, &project, &GenerateOptions::default())
                .expect("generate");
            ours.push(t.elapsed());
            assert!(out.created);
        }
        let total = start_all.elapsed();
        ours.sort();
        // The git-CLI design, in a work tree.
        let mut cli = Vec::with_capacity(args.cli_alerts);
        for i in 0..args.cli_alerts {
            let t = Instant::now();
            let branch = format!("cli/sentry-{run_id}-{i}");
            git(&repo, &["checkout", "-q", "-b", &branch]);
            std::fs::create_dir_all(repo.join("repro")).unwrap();
            std::fs::write(
                repo.join(format!("repro/test_sentry_{i}.py")),
                "def test_x():\n    assert False\n",
            )
            .unwrap();
            git(&repo, &["add", "repro"]);
            git(&repo, &["commit", "-q", "-m", "repro"]);
            git(&repo, &["checkout", "-q", "-"]);
            cli.push(t.elapsed());
        }
        cli.sort();
        let (o50, o99) = (percentile(&ours, 0.5), percentile(&ours, 0.99));
        let (c50, c99) = (percentile(&cli, 0.5), percentile(&cli, 0.99));
        println!(
            "| {files} | {} | {:.2} | {:.2} | {:.0} | {:.1} | {:.1} | {:.0}x |",
            args.commits,
            ms(o50),
            ms(o99),
            args.alerts as f64 / total.as_secs_f64(),
            ms(c50),
            ms(c99),
            c50.as_secs_f64() / o50.as_secs_f64()
        );
    }
    if !args.full {
        eprintln!("(smoke run; `cargo bench --bench branch` for the real figures)");
    }
}
