//! Delivery identity: what makes two webhook deliveries "the same alert".
//!
//! Sentry retries a delivery with a new `Request-ID` and the same body, so the identity is the
//! payload's (resource, action, issue id, event id), stored under a UNIQUE key: the second insert of
//! the same identity returns the first job. When a body has neither an issue nor an event id, the
//! SHA-256 of the raw body stands in (a retried delivery carries the same bytes).
//! Separately, the *issue key* (repository + issue id) groups the jobs of one issue: the worker runs
//! them one at a time, and the second one onward becomes an occurrence on the issue's branch.

use anyhow::Result;
use sha2::{Digest, Sha256};

use crate::alert::Alert;
use crate::config::ProjectConfig;
use crate::sink::Delivery;

/// Everything the request path writes for one alert.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub dedup_key: String,
    pub issue_key: Option<String>,
    pub resource: String,
    pub action: String,
    pub issue_id: Option<String>,
    pub event_id: Option<String>,
    pub request_id: Option<String>,
    pub title: Option<String>,
    pub short_id: Option<String>,
    pub repo: String,
    pub project_json: String,
    pub alert_json: String,
    pub raw_body: Vec<u8>,
}

impl NewJob {
    pub fn from_parts(
        alert: &Alert,
        project: &ProjectConfig,
        delivery: &Delivery,
    ) -> Result<NewJob> {
        let repo = project.repo.to_string_lossy().into_owned();
        Ok(NewJob {
            dedup_key: dedup_key(
                &delivery.resource,
                &delivery.action,
                alert.issue_id.as_deref(),
                alert.event_id.as_deref(),
                &delivery.raw_body,
            ),
            issue_key: alert.ident().map(|i| issue_key(&repo, i)),
            resource: delivery.resource.clone(),
            action: delivery.action.clone(),
            issue_id: alert.issue_id.clone(),
            event_id: alert.event_id.clone(),
            request_id: delivery.request_id.clone(),
            title: alert
                .title
                .clone()
                .or_else(|| alert.exception_type().map(str::to_owned)),
            short_id: alert.short_id.clone(),
            repo,
            project_json: serde_json::to_string(project)?,
            alert_json: serde_json::to_string(alert)?,
            raw_body: delivery.raw_body.clone(),
        })
    }
}

/// Identity of a delivery. Fields are length-prefixed so no two tuples share a key.
pub fn dedup_key(
    resource: &str,
    action: &str,
    issue: Option<&str>,
    event: Option<&str>,
    raw: &[u8],
) -> String {
    if issue.is_none() && event.is_none() {
        return format!("body:{}", hex::encode(Sha256::digest(raw)));
    }
    let mut h = Sha256::new();
    for part in [Some(resource), Some(action), issue, event] {
        match part {
            Some(p) => {
                h.update((p.len() as u64).to_le_bytes());
                h.update(p.as_bytes());
            }
            None => h.update(u64::MAX.to_le_bytes()),
        }
    }
    format!("id:{}", hex::encode(h.finalize()))
}

/// Groups the jobs of one issue in one repository.
pub fn issue_key(repo: &str, ident: &str) -> String {
    format!("{repo}#{ident}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_distinguish_fields() {
        let a = dedup_key("event_alert", "triggered", Some("1"), Some("2"), b"x");
        assert_eq!(
            a,
            dedup_key(
                "event_alert",
                "triggered",
                Some("1"),
                Some("2"),
                b"other body"
            )
        );
        assert_ne!(
            a,
            dedup_key("event_alert", "triggered", Some("12"), None, b"x")
        );
        assert_ne!(
            a,
            dedup_key("event_alert", "triggered", Some("1"), Some("3"), b"x")
        );
        assert_ne!(a, dedup_key("error", "created", Some("1"), Some("2"), b"x"));
        assert_ne!(
            dedup_key("a", "bc", Some("1"), None, b""),
            dedup_key("ab", "c", Some("1"), None, b"")
        );
        let b = dedup_key("event", "", None, None, b"body");
        assert!(b.starts_with("body:"));
        assert_ne!(b, dedup_key("event", "", None, None, b"body2"));
    }
}
