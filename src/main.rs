//! The `sentry-repro` binary: a thin clap front end over the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use sentry_repro::config::ProjectConfig;
use sentry_repro::pipeline::{self, GenerateOptions};
use sentry_repro::webhook;

#[derive(Parser)]
#[command(
    name = "sentry-repro",
    version,
    about = "Turn a Sentry crash into a failing regression test on a new branch"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate the repro branch for one webhook body or bare Sentry event file.
    Generate {
        /// Git repository to write the branch into.
        #[arg(long, default_value = ".")]
        repo: PathBuf,
        /// Base ref; default: the repository's HEAD.
        #[arg(long)]
        base: Option<String>,
        /// Print one JSON object: branch, commit, files, strategy, language, test_command.
        #[arg(long)]
        json: bool,
        /// Print the rendered files; commit nothing.
        #[arg(long)]
        dry_run: bool,
        /// Language override.
        #[arg(long)]
        language: Option<String>,
        /// Webhook body or event JSON file (`-` for stdin).
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sentry-repro: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Generate {
            repo,
            base,
            json,
            dry_run,
            language,
            file,
        } => {
            let raw = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                std::fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?
            };
            let value: serde_json::Value =
                serde_json::from_str(&raw).context("the file is not valid JSON")?;
            let alert = webhook::alert_from_any_json(&value);
            let mut project = ProjectConfig::for_repo(repo);
            project.language = language;
            let out = pipeline::generate(
                &alert,
                &project,
                &GenerateOptions {
                    base,
                    dry_run,
                    now: None,
                },
            )?;
            if dry_run && !json {
                for f in &out.rendered {
                    println!("==> {} <==\n{}", f.path, f.content);
                }
            } else if json {
                println!("{}", serde_json::to_string(&out)?);
            } else {
                println!(
                    "{} {} ({}, {}): {}",
                    if out.created { "created" } else { "exists" },
                    out.branch.as_deref().unwrap_or("-"),
                    out.language,
                    out.strategy,
                    out.test_command
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
