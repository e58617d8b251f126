//! `repro/sentry-<id>.json`: the contract between the generator and the verifier.
//!
//! The generator writes it next to the repro test; `verify` reads only the repository, so everything
//! it needs to judge "red for the right reason" lives here: the expected exception type, the
//! strategy, the test files and the commands that run them. The markers below are printed by the
//! generated tests and matched by the verifier, so both sides share these constants.

use serde::{Deserialize, Serialize};

/// Printed by a scaffold test that still needs a human: never a valid "red" reason.
pub const MARKER_NOT_REPRODUCED: &str = "SENTRY-REPRO: NOT YET REPRODUCED";
/// Printed by a request-replay test when the replayed request answered 5xx.
pub const MARKER_SERVER_ERROR: &str = "SENTRY-REPRO: SERVER ERROR";
/// Printed by a call/request replay test when the reported exception was raised again.
pub const MARKER_REPRODUCED: &str = "SENTRY-REPRO: REPRODUCED";

pub const CONTRACT_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Call the crashing function (or a caller) with the captured arguments.
    CallReplay,
    /// Replay the captured HTTP request through the framework's test client.
    RequestReplay,
    /// Crash site known, inputs not: a failing test with precise instructions.
    Scaffold,
    /// Nothing maps to the repository: a failing test carrying title, links and stack.
    Boilerplate,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::CallReplay => "call_replay",
            Strategy::RequestReplay => "request_replay",
            Strategy::Scaffold => "scaffold",
            Strategy::Boilerplate => "boilerplate",
        }
    }

    /// Whether a failing run of this test can ever count as a reproduction.
    pub fn reproduces(self) -> bool {
        matches!(self, Strategy::CallReplay | Strategy::RequestReplay)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contract {
    pub version: u32,
    pub issue_id: String,
    pub short_id: Option<String>,
    pub title: Option<String>,
    pub event_id: Option<String>,
    pub web_url: Option<String>,
    /// `python`, `javascript`, `rust`, `go`, `java`.
    pub language: String,
    /// Test framework / runner family: `pytest`, `node:test`, `jest`, `vitest`, `mocha`, `cargo`, `go`, and for Java the test framework: `junit5`, `junit4`, `junit3`, `testng`.
    pub framework: String,
    pub strategy: Strategy,
    pub expected: Expected,
    pub crash: Option<CrashSite>,
    /// Repro test files, relative to the repository root.
    pub test_files: Vec<String>,
    /// Runs only the repro test(s), from the repository root.
    pub test_command: String,
    /// The project's whole suite, from the repository root.
    pub suite_command: Option<String>,
    pub base_commit: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Expected {
    /// Exception type as reported (`KeyError`, `TypeError`, `panic`).
    pub exception_type: Option<String>,
    pub exception_value: Option<String>,
    /// Request replay: a 5xx answer also counts as the right failure.
    pub server_error: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrashSite {
    pub file: String,
    pub function: Option<String>,
    pub line: Option<u64>,
}

/// What `generate --confirm` found, written as extra top-level keys of the contract (`confirmed`,
/// `base_output`). Kept out of [`Contract`] so the verifier, which builds contracts itself, is
/// untouched; readers that know the keys parse them with this type, others ignore them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Confirmation {
    /// The test failed on the base commit for the reported reason before it was handed over.
    #[serde(default)]
    pub confirmed: bool,
    /// What base printed for it (short excerpt); empty when nothing was confirmed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub base_output: String,
}

impl Contract {
    /// The contract JSON with the confirmation keys, when there is one.
    pub fn to_json_with(&self, confirmation: Option<&Confirmation>) -> String {
        #[derive(Serialize)]
        struct WithConfirmation<'a> {
            #[serde(flatten)]
            contract: &'a Contract,
            #[serde(flatten)]
            confirmation: &'a Confirmation,
        }
        let Some(confirmation) = confirmation else {
            return self.to_json();
        };
        let mut s = serde_json::to_string_pretty(&WithConfirmation {
            contract: self,
            confirmation,
        })
        .expect("contract serializes");
        s.push('\n');
        s
    }

    pub fn path_for(repro_dir: &str, ident: &str) -> String {
        format!("{}/sentry-{}.json", repro_dir.trim_end_matches('/'), ident)
    }

    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("contract serializes");
        s.push('\n');
        s
    }
}
