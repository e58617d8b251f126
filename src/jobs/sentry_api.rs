//! Sentry's API, for issue-only alerts (`issue.created` carries no stack, no event).
//!
//! With a token (`SENTRY_AUTH_TOKEN`) the worker fetches the issue's latest event
//! (`/api/0/organizations/{org}/issues/{id}/events/latest/`, or `/api/0/issues/{id}/events/latest/`
//! when no organization is known) and generates from it. The organization comes from the alert's API
//! links, else the configuration. Ids are checked to be plain identifiers before they enter a URL.

use std::io::Read;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

use super::JobsConfig;
use crate::alert::Alert;

/// Largest event body read from the API.
const MAX_EVENT_BYTES: u64 = 20 * 1024 * 1024;

/// What to tell the user when an issue-only alert arrives and no token is configured.
pub const NO_TOKEN_HINT: &str = "the alert is an issue notification without a stack trace; set SENTRY_AUTH_TOKEN \
(a Sentry auth token with event:read; and SENTRY_URL for self-hosted Sentry) so sentry-repro fetches the \
issue's latest event and generates a real reproduction, or subscribe the integration to event_alert or error";

/// Whether the alert needs the latest event fetched: an issue notification without a stack.
pub fn needs_event(alert: &Alert) -> bool {
    alert.source == "issue" && !alert.has_stack() && alert.issue_id.is_some()
}

/// Organization slug from `/organizations/{org}/` or `https://{org}.sentry.io/` in the alert or body.
pub fn organization(alert: &Alert, raw_body: &[u8], cfg: &JobsConfig) -> Option<String> {
    let mut candidates: Vec<String> = [
        alert.issue_api_url.clone(),
        alert.web_url.clone(),
        alert.event_api_url.clone(),
    ]
    .into_iter()
    .flatten()
    .collect();
    if let Ok(v) = serde_json::from_slice::<Value>(raw_body) {
        for p in [
            "/data/issue/url",
            "/data/issue/web_url",
            "/data/issue/project_url",
        ] {
            if let Some(s) = v.pointer(p).and_then(Value::as_str) {
                candidates.push(s.to_string());
            }
        }
    }
    for c in &candidates {
        if let Some(rest) = c.split("/organizations/").nth(1) {
            let org = rest.split('/').next().unwrap_or("");
            if is_slug(org) {
                return Some(org.to_string());
            }
        }
    }
    cfg.sentry_org.clone().filter(|o| is_slug(o))
}

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub fn latest_event_url(base: &str, org: Option<&str>, issue_id: &str) -> Result<String> {
    if !crate::git::is_safe_ident(issue_id) {
        bail!("issue id {issue_id:?} is not a plain identifier");
    }
    let base = base.trim_end_matches('/');
    Ok(match org {
        Some(org) => format!("{base}/api/0/organizations/{org}/issues/{issue_id}/events/latest/"),
        None => format!("{base}/api/0/issues/{issue_id}/events/latest/"),
    })
}

/// Fetch the latest event of the alert's issue. `Ok(None)` without a token.
/// Network errors and 5xx/429 are transient (the worker retries); 4xx are permanent.
pub fn fetch_latest_event(
    cfg: &JobsConfig,
    alert: &Alert,
    raw_body: &[u8],
) -> Result<Option<Value>> {
    let Some(token) = &cfg.sentry_token else {
        return Ok(None);
    };
    let issue_id = alert
        .issue_id
        .as_deref()
        .ok_or_else(|| anyhow!("the alert has no issue id"))?;
    let org = organization(alert, raw_body, cfg);
    let url = latest_event_url(&cfg.sentry_url, org.as_deref(), issue_id)?;
    let resp = cfg
        .http_agent()
        .get(&url)
        .set("Authorization", &format!("Bearer {}", token.expose()))
        .set("Accept", "application/json")
        .call()
        .map_err(|e| annotate(e, &url))?;
    let mut body = Vec::new();
    resp.into_reader()
        .take(MAX_EVENT_BYTES)
        .read_to_end(&mut body)
        .with_context(|| format!("reading {url}"))?;
    let v: Value =
        serde_json::from_slice(&body).with_context(|| format!("{url} did not return JSON"))?;
    if !v.is_object() {
        bail!("{url} did not return an event object");
    }
    Ok(Some(v))
}

/// `/api/0/organizations/{org}/issues/{id}/` (or `/api/0/issues/{id}/` without an organization).
pub fn issue_url(base: &str, org: Option<&str>, issue_id: &str) -> Result<String> {
    if !crate::git::is_safe_ident(issue_id) {
        bail!("issue id {issue_id:?} is not a plain identifier");
    }
    let base = base.trim_end_matches('/');
    Ok(match org.filter(|o| is_slug(o)) {
        Some(org) => format!("{base}/api/0/organizations/{org}/issues/{issue_id}/"),
        None => format!("{base}/api/0/issues/{issue_id}/"),
    })
}

/// The issue's status (`resolved`, `unresolved`, `ignored`, …) from the Sentry API; `Ok(None)`
/// without a token. Used by `prune` to find branches of resolved issues.
pub fn issue_status(cfg: &JobsConfig, issue_id: &str) -> Result<Option<String>> {
    let Some(token) = &cfg.sentry_token else {
        return Ok(None);
    };
    let url = issue_url(&cfg.sentry_url, cfg.sentry_org.as_deref(), issue_id)?;
    let resp = cfg
        .http_agent()
        .get(&url)
        .set("Authorization", &format!("Bearer {}", token.expose()))
        .set("Accept", "application/json")
        .call()
        .map_err(|e| annotate(e, &url))?;
    let mut body = Vec::new();
    resp.into_reader()
        .take(MAX_EVENT_BYTES)
        .read_to_end(&mut body)
        .with_context(|| format!("reading {url}"))?;
    let v: Value =
        serde_json::from_slice(&body).with_context(|| format!("{url} did not return JSON"))?;
    let status = v
        .get("status")
        .and_then(Value::as_str)
        .with_context(|| format!("{url}: the issue has no `status` field"))?;
    Ok(Some(status.to_string()))
}

/// Keep the ureq error in the chain (for classification), with the URL and a short body excerpt.
fn annotate(e: ureq::Error, url: &str) -> anyhow::Error {
    let what = match &e {
        ureq::Error::Status(code, _) => format!("Sentry API {url} answered HTTP {code}"),
        ureq::Error::Transport(t) => format!("Sentry API {url} unreachable: {t}"),
    };
    anyhow::Error::new(e).context(what)
}

/// The alert to generate from: the fetched event, with what only the issue knew filled in.
pub fn merge(issue_alert: &Alert, event: &Value) -> Alert {
    let mut a = Alert::from_event(event);
    a.source = "issue+latest_event".into();
    a.issue_id = issue_alert.issue_id.clone();
    a.short_id = a.short_id.take().or_else(|| issue_alert.short_id.clone());
    a.title = a.title.take().or_else(|| issue_alert.title.clone());
    a.culprit = a.culprit.take().or_else(|| issue_alert.culprit.clone());
    a.platform = a.platform.take().or_else(|| issue_alert.platform.clone());
    a.project_id = a
        .project_id
        .take()
        .or_else(|| issue_alert.project_id.clone());
    a.project_slug = a
        .project_slug
        .take()
        .or_else(|| issue_alert.project_slug.clone());
    a.web_url = issue_alert.web_url.clone().or(a.web_url.take());
    a.metadata_type = a
        .metadata_type
        .take()
        .or_else(|| issue_alert.metadata_type.clone());
    a.metadata_value = a
        .metadata_value
        .take()
        .or_else(|| issue_alert.metadata_value.clone());
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            latest_event_url("https://sentry.io/", Some("acme"), "42").unwrap(),
            "https://sentry.io/api/0/organizations/acme/issues/42/events/latest/"
        );
        assert_eq!(
            latest_event_url("http://127.0.0.1:9", None, "42").unwrap(),
            "http://127.0.0.1:9/api/0/issues/42/events/latest/"
        );
        assert!(latest_event_url("https://sentry.io", None, "../x").is_err());
    }

    #[test]
    fn org_from_links() {
        let cfg = JobsConfig::default();
        let a = Alert {
            issue_api_url: Some("https://sentry.io/api/0/organizations/acme-co/issues/1/".into()),
            ..Default::default()
        };
        assert_eq!(organization(&a, b"{}", &cfg).as_deref(), Some("acme-co"));
        let bad = Alert {
            issue_api_url: Some("https://sentry.io/api/0/organizations/a%2F..%2F/issues/1/".into()),
            ..Default::default()
        };
        assert_eq!(organization(&bad, b"{}", &cfg), None);
    }
}
