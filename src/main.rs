//! The `sentry-repro` binary: a thin clap front end over the library.

use std::io::Write;
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

mod doctor;

#[derive(Parser)]
#[command(
    name = "sentry-repro",
    version,
    about = "Turn a Sentry crash into a failing regression test on a new branch"
)]
struct Cli {
    /// Show the underlying error detail (libgit2's own text) in error messages.
    #[arg(long, global = true)]
    verbose: bool,
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
        /// Base ref; default: the project's base branch, else origin/HEAD, else main or master
        /// (never the checked-out branch: pass `--base HEAD` to build on it).
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
        /// A human approves head's changes to the runner's configuration (conftest.py, pytest.ini,
        /// jest/vitest/mocha config, package.json test settings, Surefire…); see docs/gate.md.
        #[arg(long)]
        allow_config_change: bool,
    },
    /// The job store: `jobs list`, `jobs show <id>`, `jobs retry <id>` (docs/operations.md).
    Jobs(sentry_repro::jobs::cli::JobsArgs),
    /// Delete `fix/sentry-*` branches merged into the base, older than `--older-than` days or whose
    /// Sentry issue is resolved; a dry run unless `--apply`.
    Prune(sentry_repro::prune::PruneArgs),
    /// Check the configuration and each project (repository, owner, base, remote, toolchains).
    Doctor {
        #[command(flatten)]
        args: ServeArgs,
        /// Also POST a signed sample `event_alert` to a running service (its base URL or
        /// `…/handle-sentry-alert`) and print the answer.
        #[arg(long, value_name = "URL")]
        send_sample: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let verbose = cli.verbose;
    match run(cli) {
        Ok(code) => code,
        Err(e) if verbose => {
            eprintln!("sentry-repro: error: {e:#}");
            ExitCode::from(2)
        }
        Err(e) => {
            let hidden = e.chain().any(|c| c.downcast_ref::<git2::Error>().is_some());
            eprintln!("sentry-repro: error: {}", doctor::words(&e));
            if hidden {
                eprintln!("(--verbose shows git's own message)");
            }
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
            match print_generated(&out, json, dry_run) {
                Ok(()) => Ok(ExitCode::SUCCESS),
                // `generate | head`: the reader left; stop quietly, as a killed writer would.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::from(141)),
                Err(e) => Err(anyhow::Error::new(e).context("writing to stdout")),
            }
        }
        Command::Serve(args) => serve(args),
        Command::Jobs(args) => Ok(ExitCode::from(sentry_repro::jobs::cli::run(
            &args,
            &mut std::io::stdout(),
        )?)),
        Command::Prune(args) => Ok(ExitCode::from(sentry_repro::prune::run(
            &args,
            &mut std::io::stdout(),
            &mut std::io::stderr(),
        )?)),
        Command::Doctor { args, send_sample } => {
            Ok(if doctor::run(&args, send_sample.as_deref())? {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
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
            allow_config_change,
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
                allow_config_change,
            };
            let report = verify::run(&opts)?;
            Ok(ExitCode::from(report.exit_code))
        }
    }
}

/// The result of `generate`: the files (`--dry-run`), one JSON object (`--json`), or one line.
fn print_generated(out: &pipeline::Generated, json: bool, dry_run: bool) -> std::io::Result<()> {
    let mut w = std::io::stdout().lock();
    if json {
        writeln!(w, "{}", serde_json::to_string(out)?)?;
    } else if dry_run {
        for f in &out.rendered {
            writeln!(w, "==> {} <==\n{}", f.path, f.content)?;
        }
        writeln!(
            w,
            "dry run ({}, {}) on {}: nothing committed",
            out.language, out.strategy, out.base
        )?;
    } else {
        writeln!(w, "{}", result_line(out))?;
    }
    w.flush()
}

/// `created fix/sentry-42-… (python, call_replay) on main: <test command>` or
/// `exists fix/sentry-42-… (python): issue 42 already has a branch`.
fn result_line(out: &pipeline::Generated) -> String {
    let branch = out.branch.as_deref().unwrap_or("-");
    if out.created {
        return format!(
            "created {branch} ({}, {}) on {}: {}",
            out.language, out.strategy, out.base, out.test_command
        );
    }
    let lang = if out.language.is_empty() {
        String::new()
    } else {
        format!(" ({})", out.language)
    };
    let why = out
        .reasons
        .first()
        .map(String::as_str)
        .unwrap_or("the issue already has a branch");
    format!("exists {branch}{lang}: {why}")
}

fn init_tracing(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    use std::io::IsTerminal;
    // Colours only for a person at a terminal: a redirected log stays plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn serve(args: ServeArgs) -> Result<ExitCode> {
    let settings = Settings::from_args(&args)?;
    init_tracing(settings.log_format);
    server::return_freed_bodies_to_the_os();
    settings.require_secret()?;
    doctor::startup(&settings)?;
    if settings.allow_unsigned {
        tracing::warn!(
            "!!! UNSIGNED REQUESTS ARE ACCEPTED (--allow-unsigned): anyone who can reach {} can make this \
             service write branches. Use only for local trials. !!!",
            settings.listen
        );
    }
    let listener = std::net::TcpListener::bind(&settings.listen)
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    // The read side (status page, /jobs/{id}, /metrics) on its own, private address.
    let read_listener = match &settings.read_listen {
        Some(addr) => Some(
            std::net::TcpListener::bind(addr)
                .with_context(|| format!("cannot listen on {addr} (read_listen)"))?,
        ),
        None => None,
    };
    tracing::info!(
        listen = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(),
        projects = settings.projects.len(),
        implicit_project = settings.implicit_project,
        legacy_plugin = settings.legacy_token.is_some(),
        body_limit = settings.body_limit,
        "sentry-repro serving POST /handle-sentry-alert"
    );
    tracing::info!(
        read_listen = %read_listener.as_ref().and_then(|l| l.local_addr().ok()).map(|a| a.to_string()).unwrap_or_else(|| "off".into()),
        read_token = settings.read_token.is_some(),
        inflight_budget = settings.inflight_budget,
        "reads: status page, /jobs/{{id}}, /metrics on the read address; on the webhook address only with the read token"
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
        let state = AppState::new(settings, sink).with_delivery_log(jobs.clone());
        server::build_service(
            listener,
            read_listener,
            state,
            jobs::http::configure_with(jobs.clone()),
        )?
        .run()
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
