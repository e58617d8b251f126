//! Resolved settings: what a project maps to. (The TOML loader and env overrides live here too.)

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// One Sentry project mapped to one repository, as the pipeline sees it after resolution.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    /// Sentry project slug this entry matches (any when both slug and id are unset).
    pub slug: Option<String>,
    /// Sentry numeric project id this entry matches.
    pub id: Option<String>,
    /// Path of the git repository.
    pub repo: PathBuf,
    /// Base branch; default: the repository's HEAD branch.
    pub base_branch: Option<String>,
    /// Remote to push new branches to; none: no push.
    pub remote: Option<String>,
    /// Language override (`python`, `javascript`, `rust`, `go`, `java`).
    pub language: Option<String>,
    /// The project's whole test command, run from the repository root.
    pub test_command: Option<String>,
    /// Folder for generated files; default `repro`.
    pub repro_dir: String,
    /// Web app object for request replay (`pkg.module:app` or `pkg.module:create_app`).
    pub app: Option<String>,
    pub author_name: String,
    pub author_email: String,
}

impl ProjectConfig {
    pub fn for_repo(repo: impl Into<PathBuf>) -> Self {
        ProjectConfig {
            slug: None,
            id: None,
            repo: repo.into(),
            base_branch: None,
            remote: None,
            language: None,
            test_command: None,
            repro_dir: "repro".into(),
            app: None,
            author_name: "sentry-repro".into(),
            author_email: "sentry-repro@localhost".into(),
        }
    }
}
