//! Webhook payload shapes → [`Alert`].
//!
//! (Minimal shape detection for `generate`; the service issue completes it.)

use serde_json::Value;

use crate::alert::{scalar_string, Alert};

/// Any JSON we may be handed: an integration body (`event_alert`, `error`, `issue`), a legacy plugin
/// body, or a bare event.
pub fn alert_from_any_json(v: &Value) -> Alert {
    let data = v.get("data");
    if let Some(ev) = data.and_then(|d| d.get("event")) {
        let mut a = Alert::from_event(ev);
        a.source = "event_alert".into();
        return a;
    }
    if let Some(ev) = data.and_then(|d| d.get("error")) {
        let mut a = Alert::from_event(ev);
        a.source = "error".into();
        return a;
    }
    if let Some(issue) = data.and_then(|d| d.get("issue")) {
        let mut a = Alert {
            source: "issue".into(),
            ..Default::default()
        };
        a.issue_id = issue.get("id").and_then(scalar_string);
        a.short_id = issue.get("shortId").and_then(scalar_string);
        a.title = issue.get("title").and_then(scalar_string);
        a.culprit = issue.get("culprit").and_then(scalar_string);
        a.platform = issue.get("platform").and_then(scalar_string);
        a.metadata_type = issue.pointer("/metadata/type").and_then(scalar_string);
        a.metadata_value = issue.pointer("/metadata/value").and_then(scalar_string);
        return a;
    }
    if let Some(ev) = v
        .get("event")
        .filter(|_| v.get("project_slug").is_some() || v.get("triggering_rules").is_some())
    {
        let mut a = Alert::from_event(ev);
        a.source = "legacy".into();
        a.issue_id = v.get("id").and_then(scalar_string).or(a.issue_id);
        a.project_slug = v.get("project_slug").and_then(scalar_string);
        a.web_url = v.get("url").and_then(scalar_string).or(a.web_url);
        return a;
    }
    Alert::from_event(v)
}
