//! `--resolve-sentry`: after a passing gate, mark the issue "resolved in next release" in Sentry.
//!
//! Uses the issue update endpoint (`PUT /api/0/organizations/{org}/issues/{id}/` when `SENTRY_ORG`
//! is set, else the older `PUT /api/0/issues/{id}/`), authenticated with `SENTRY_AUTH_TOKEN`.

use std::time::Duration;

use anyhow::{bail, Result};

use crate::git::is_safe_ident;

pub struct SentryApi {
    pub base_url: String,
    pub token: String,
    pub org: Option<String>,
}

impl SentryApi {
    /// From `SENTRY_AUTH_TOKEN`, `SENTRY_URL` (default https://sentry.io) and optional `SENTRY_ORG`.
    pub fn from_env() -> Result<Self> {
        let token = std::env::var("SENTRY_AUTH_TOKEN").unwrap_or_default();
        if token.trim().is_empty() {
            bail!("--resolve-sentry needs SENTRY_AUTH_TOKEN");
        }
        let base_url = std::env::var("SENTRY_URL")
            .ok()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| "https://sentry.io".into());
        let org = std::env::var("SENTRY_ORG")
            .ok()
            .filter(|s| is_safe_ident(s));
        Ok(SentryApi {
            base_url: base_url.trim_end_matches('/').to_string(),
            token,
            org,
        })
    }

    pub fn resolve_in_next_release(&self, issue_id: &str) -> Result<()> {
        if !is_safe_ident(issue_id) {
            bail!("issue id {issue_id:?} is not a plain identifier");
        }
        let url = match &self.org {
            Some(org) => format!(
                "{}/api/0/organizations/{org}/issues/{issue_id}/",
                self.base_url
            ),
            None => format!("{}/api/0/issues/{issue_id}/", self.base_url),
        };
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(30))
            .build();
        match agent
            .put(&url)
            .set("Authorization", &format!("Bearer {}", self.token))
            .send_json(serde_json::json!({ "status": "resolvedInNextRelease" }))
        {
            Ok(_) => Ok(()),
            Err(ureq::Error::Status(code, resp)) => {
                let body = resp.into_string().unwrap_or_default();
                bail!(
                    "Sentry answered {code} for issue {issue_id}: {}",
                    body.chars().take(300).collect::<String>()
                )
            }
            Err(e) => bail!("Sentry API request for issue {issue_id} failed: {e}"),
        }
    }
}
