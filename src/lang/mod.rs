//! Per-language generators: from a planned crash to the repro test files.
//!
//! Each language module reads the repository (function definitions, manifests, web framework) and picks
//! the strongest strategy the event supports: call replay, request replay, scaffold, boilerplate. It
//! returns the test files only; the pipeline adds the handoff note and the contract and commits.

use crate::alert::Alert;
use crate::config::ProjectConfig;
use crate::contract::{CrashSite, Strategy};
use crate::git::NewFile;
use crate::repo::Snapshot;

pub mod go;
pub mod java;
pub mod javascript;
pub mod python;
pub mod rust;
pub(crate) mod text;

/// What a generator gets.
pub struct GenInput<'a, 'r> {
    pub alert: &'a Alert,
    pub snap: &'a Snapshot<'r>,
    pub project: &'a ProjectConfig,
    /// Safe identifier (validated issue id) for file names.
    pub ident: &'a str,
    /// Folder for generated files, relative to the repository root (validated).
    pub repro_dir: &'a str,
}

/// What a generator produces.
#[derive(Debug, Clone)]
pub struct GenOutput {
    pub language: &'static str,
    /// `pytest`, `node:test`, `jest`, `vitest`, `mocha`, …
    pub framework: String,
    pub strategy: Strategy,
    /// The repro test files (and any support files), repository-relative.
    pub files: Vec<NewFile>,
    /// Which of `files` are tests the runner runs.
    pub test_files: Vec<String>,
    /// Runs the repro test(s) from the repository root.
    pub test_command: String,
    /// The project's whole suite from the repository root.
    pub suite_command: Option<String>,
    pub crash: Option<CrashSite>,
    /// Why this strategy: what the event had or lacked (shown in the note and the commit).
    pub reasons: Vec<String>,
    /// Folders outside `repro_dir` this language must write to (e.g. a Go package folder).
    pub extra_prefixes: Vec<String>,
}

/// The event fields every language's template shows in its header (flattened into each context).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct EventHeader {
    pub ident: String,
    pub title: String,
    pub exception_type: String,
    pub exception_value: String,
    pub web_url: String,
    pub crash_function: String,
    pub crash_file: String,
    pub crash_line: String,
    pub stack: Vec<String>,
    pub breadcrumbs: Vec<String>,
    pub reasons: Vec<String>,
}

impl EventHeader {
    /// From the alert; `default_type` names the exception when the event has none.
    pub fn new(alert: &Alert, ident: &str, default_type: &str) -> Self {
        let exception_type = alert.exception_type().unwrap_or(default_type).to_string();
        let exception_value = alert.exception_value().unwrap_or("").to_string();
        EventHeader {
            ident: ident.to_string(),
            title: alert
                .title
                .clone()
                .unwrap_or_else(|| format!("{exception_type}: {exception_value}")),
            exception_type,
            exception_value,
            web_url: alert.web_url.clone().unwrap_or_default(),
            stack: alert.stack_lines(40),
            breadcrumbs: alert.breadcrumb_lines(15),
            ..Default::default()
        }
    }
}

/// One test the confirming search may hand over, with a short label for the note and `--json`.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// `request replay`, `call replay of pkg.mod.fn (outermost)`, …
    pub label: String,
    pub output: GenOutput,
}

/// What `generate --confirm` searches: replays in the order to try them, and the test the branch
/// gets when none is confirmed on base.
#[derive(Debug, Clone)]
pub struct Candidates {
    pub list: Vec<Candidate>,
    pub fallback: GenOutput,
}

pub trait Generator: Sync {
    fn language(&self) -> &'static str;
    fn generate(&self, input: &GenInput) -> anyhow::Result<GenOutput>;

    /// The tests a confirming search tries (see `crate::confirm`). Default: today's single output,
    /// which is also the fallback (a language without its own list keeps its static choice).
    fn candidates(&self, input: &GenInput) -> anyhow::Result<Candidates> {
        let output = self.generate(input)?;
        Ok(Candidates {
            list: vec![Candidate {
                label: format!("{} (static choice)", output.strategy.as_str()),
                output: output.clone(),
            }],
            fallback: output,
        })
    }
}

pub fn generator_for(language: &str) -> Option<&'static dyn Generator> {
    match language {
        "python" => Some(&python::Python),
        "javascript" => Some(&javascript::JavaScript),
        "rust" => Some(&rust::Rust),
        "go" => Some(&go::Go),
        "java" => Some(&java::Java),
        _ => None,
    }
}
