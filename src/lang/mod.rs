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

pub trait Generator: Sync {
    fn language(&self) -> &'static str;
    fn generate(&self, input: &GenInput) -> anyhow::Result<GenOutput>;
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
