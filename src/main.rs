//! The `sentry-repro` binary: a thin clap front end over the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use sentry_repro::config::{LogFormat, ProjectConfig, ServeArgs, Settings};
use sentry_repro::jobs::{self, Jobs, JobsConfig};
use sentry_repro::pipeline::{self, GenerateOptions};
use sentry_repro::server::{self, AppState};
use sentry_repro::verify;
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
        #[command(flatten)]
        confirm: sentry_repro::confirm::ConfirmArgs,
        /// Webhook body or event JSON file (`-` for stdin).
        file: PathBuf,
    },
    /// Run the webhook receiver: `POST /handle-sentry-alert`, `GET /healthz`.
    Serve(ServeArgs),
    /// Gate a fix branch: repro tests red on base for the right reason, green on head, no regressions.
    Verify {
        /// Git repository (any folder inside it).
        #[arg(long, default_value = ".")]
        repo: PathBuf,
        /// Base ref; default: origin/HEAD, else main or master (or its upstream).
        #[arg(long)]
        base: Option<String>,
        /// Head ref: the fix branch.
        #[arg(long, default_value = "HEAD")]
        head: String,
        /// Repro test (or contract) path on head; default: the contracts the branch added or changed.
        #[arg(long = "test", value_name = "PATH")]
        tests: Vec<String>,
        /// Runs per side; every run must agree.
        #[arg(long, default_value_t = sentry_repro::verify::DEFAULT_RUNS)]
        runs: u32,
        /// Write a JSON report.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Write JUnit XML.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Skip the project's whole suite (no regression check).
        #[arg(long)]
        no_suite: bool,
        /// Timeout per run in seconds (default: .sentry-repro.toml, else 600).
        #[arg(long, value_name = "SECS")]
        timeout: Option<u64>,
        /// After a passing gate, mark the Sentry issue resolved in the next release
        /// (SENTRY_AUTH_TOKEN, SENTRY_URL, optional SENTRY_ORG).
        #[arg(long)]
        resolve_sentry: bool,
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
            confirm,
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
            confirm.apply(&mut project.confirm);
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
        Command::Serve(args) => serve(args),
        Command::Verify {
            repo,
            base,
            head,
            tests,
            runs,
            json,
            junit,
            no_suite,
            timeout,
            resolve_sentry,
        } => {
            let opts = verify::VerifyOptions {
                repo,
                base,
                head,
                tests,
                runs,
                json,
                junit,
                no_suite,
                timeout_secs: timeout,
                resolve_sentry,
            };
            let report = verify::run(&opts)?;
            Ok(ExitCode::from(report.exit_code))
        }
    }
}

fn init_tracing(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn serve(args: ServeArgs) -> Result<ExitCode> {
    let settings = Settings::from_args(&args)?;
    init_tracing(settings.log_format);
    settings.require_secret()?;
    if settings.allow_unsigned {
        tracing::warn!(
            "!!! UNSIGNED REQUESTS ARE ACCEPTED (--allow-unsigned): anyone who can reach {} can make this \
             service write branches. Use only for local trials. !!!",
            settings.listen
        );
    }
    let listener = std::net::TcpListener::bind(&settings.listen)
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    tracing::info!(
        listen = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(),
        projects = settings.projects.len(),
        implicit_project = settings.implicit_project,
        legacy_plugin = settings.legacy_token.is_some(),
        body_limit = settings.body_limit,
        "sentry-repro serving POST /handle-sentry-alert"
    );
    for p in &settings.projects {
        tracing::info!(
            slug = p.slug.as_deref().unwrap_or("*"),
            id = p.id.as_deref().unwrap_or("*"),
            repo = %p.repo.display(),
            "project"
        );
    }
    // The durable queue: alerts are committed before the 202; jobs a crash left running are requeued.
    let jobs = Jobs::open(JobsConfig::from_settings(&settings)?)?;
    tracing::info!(
        state = %jobs.config().db_path().display(),
        workers = jobs.config().workers,
        "job store open"
    );
    let mut pool = jobs.start_workers();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    let served = rt.block_on(async {
        let sink = std::sync::Arc::new(jobs.sink());
        // actix stops on SIGINT/SIGTERM: no new connections, in-flight requests finish.
        server::build(
            listener,
            AppState::new(settings, sink),
            jobs::http::configure_with(jobs.clone()),
        )?
        .await
    });
    // Then the workers: running jobs get the grace period to finish, the rest are requeued.
    let report = pool.shutdown();
    tracing::info!(
        stopped = report.stopped,
        requeued = report.requeued.len(),
        "shut down"
    );
    served.context("server stopped with an error")?;
    Ok(ExitCode::SUCCESS)
}
