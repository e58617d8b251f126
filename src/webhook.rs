//! Webhook payload shapes → [`Alert`], and the typed errors of the HTTP boundary.
//!
//! Sentry delivers a crash in several envelopes: Integration Platform bodies dispatched on the
//! `Sentry-Hook-Resource` header plus the body's `action` (`event_alert.triggered`, `error.created`,
//! `issue.created`, `issue.unresolved` carry something to reproduce; everything else is only
//! acknowledged), the unsigned legacy "WebHooks" plugin body (`project_slug`, `triggering_rules`,
//! `event`), and a bare event as downloaded from Sentry's UI or API. This module unwraps the envelope,
//! checks the few fields we cannot work without (naming their JSON path when absent or of the wrong
//! type), and lets [`Alert::from_event`] read the event leniently.
//!
//! Nothing here touches the network, git or the filesystem, and nothing here panics on any input:
//! `serde_json` refuses nesting deeper than 128 levels, and every access is checked.

use serde_json::{Map, Value};

use crate::alert::{scalar_string, slug_from_event_url, Alert};
use crate::git::is_safe_ident;

/// Why a request was refused at the HTTP boundary. Each variant maps to one status code and one
/// stable `error` code; `Display` is the human `detail` (it names the field path where one applies).
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("the body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("missing required field `{0}`")]
    MissingField(String),
    #[error("field `{path}` must be {expected}")]
    WrongType {
        path: String,
        expected: &'static str,
    },
    #[error(
        "field `{path}` is not a usable identifier (ASCII letters, digits, `-`, `_`, at most 64)"
    )]
    BadIdentifier { path: String },
    #[error("missing signature: send `Sentry-Hook-Signature` (hex HMAC-SHA256 of the raw body)")]
    MissingSignature,
    #[error("the signature does not match the raw body and the configured client secret")]
    BadSignature,
    #[error("{0}")]
    Unauthorized(String),
    #[error("`Sentry-Hook-Timestamp` {0}")]
    StaleTimestamp(String),
    #[error("replayed delivery without `Sentry-Hook-Timestamp`: {0}")]
    StaleReplay(String),
    #[error("too many request bodies in flight; retry in {retry_after} s")]
    Busy { retry_after: u64 },
    #[error("the body is larger than the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("content type must be application/json, got {0:?}")]
    UnsupportedMediaType(String),
    #[error("the request body did not arrive within {0} ms")]
    BodyTimeout(u64),
    #[error("reading the body failed: {0}")]
    BodyRead(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl HookError {
    /// HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self {
            HookError::InvalidJson(_)
            | HookError::MissingField(_)
            | HookError::WrongType { .. }
            | HookError::BadIdentifier { .. }
            | HookError::BodyRead(_) => 400,
            HookError::MissingSignature
            | HookError::BadSignature
            | HookError::Unauthorized(_)
            | HookError::StaleTimestamp(_)
            | HookError::StaleReplay(_) => 401,
            HookError::BodyTimeout(_) => 408,
            HookError::TooLarge { .. } => 413,
            HookError::UnsupportedMediaType(_) => 415,
            HookError::Internal(_) => 500,
            HookError::Busy { .. } => 503,
        }
    }

    /// Stable machine-readable code (the `error` member of the JSON answer).
    pub fn code(&self) -> &'static str {
        match self {
            HookError::InvalidJson(_) => "invalid_json",
            HookError::MissingField(_) => "missing_field",
            HookError::WrongType { .. } => "wrong_type",
            HookError::BadIdentifier { .. } => "bad_identifier",
            HookError::MissingSignature => "missing_signature",
            HookError::BadSignature => "bad_signature",
            HookError::Unauthorized(_) => "unauthorized",
            HookError::StaleTimestamp(_) => "stale_timestamp",
            HookError::StaleReplay(_) => "stale_replay",
            HookError::Busy { .. } => "busy",
            HookError::TooLarge { .. } => "payload_too_large",
            HookError::UnsupportedMediaType(_) => "unsupported_media_type",
            HookError::BodyTimeout(_) => "body_timeout",
            HookError::BodyRead(_) => "body_read",
            HookError::Internal(_) => "internal",
        }
    }

    /// The field path this error is about, when it is about one.
    pub fn field(&self) -> Option<&str> {
        match self {
            HookError::MissingField(p) => Some(p),
            HookError::WrongType { path, .. } | HookError::BadIdentifier { path } => Some(path),
            _ => None,
        }
    }

    /// `{"error": code, "detail": message[, "field": path]}`.
    pub fn to_json(&self) -> Value {
        let mut body = serde_json::json!({"error": self.code(), "detail": self.to_string()});
        if let Some(f) = self.field() {
            body["field"] = Value::String(f.to_string());
        }
        body
    }
}

/// What a delivery asks of us.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Something to reproduce.
    Alert(Box<Alert>),
    /// Nothing to reproduce; the string says what was done (shown in the 200 answer).
    Acknowledge(String),
}

/// A parsed delivery: its resource and action (event name `<resource>.<action>`) and the outcome.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// `Sentry-Hook-Resource`, or `legacy` / `event` for unsigned bodies.
    pub resource: String,
    pub action: String,
    pub outcome: Outcome,
}

/// Parse raw bytes as JSON. Depth is bounded by `serde_json`'s recursion limit (128), so deeply
/// nested input is a clean error, never a stack overflow.
pub fn parse_json(raw: &[u8]) -> Result<Value, HookError> {
    serde_json::from_slice(raw).map_err(|e| HookError::InvalidJson(e.to_string()))
}

/// Parse one delivery. `resource` is the `Sentry-Hook-Resource` header: `Some` for Integration
/// Platform bodies, `None` for legacy plugin bodies and bare events.
pub fn parse_delivery(resource: Option<&str>, raw: &[u8]) -> Result<Parsed, HookError> {
    let body = parse_json(raw)?;
    match resource {
        Some(r) => parse_integration(r, &body),
        None => parse_unsigned(&body),
    }
}

/// An Integration Platform body, dispatched on resource + action.
pub fn parse_integration(resource: &str, body: &Value) -> Result<Parsed, HookError> {
    let top = as_object(body, "$")?;
    let action = match top.get("action") {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => String::new(),
        Some(_) => return Err(wrong("action", "a string")),
    };
    let resource_s = resource.trim().to_string();
    let ack = |what: String| {
        Ok(Parsed {
            resource: resource_s.clone(),
            action: action.clone(),
            outcome: Outcome::Acknowledge(what),
        })
    };
    let alert = match (resource_s.as_str(), action.as_str()) {
        ("event_alert", "triggered") => event_in(top, "event", "event_alert")?,
        ("error", "created") => event_in(top, "error", "error")?,
        ("issue", "created") | ("issue", "unresolved") => issue_alert(top)?,
        (_, "") if matches!(resource_s.as_str(), "event_alert" | "error" | "issue") => {
            return Err(HookError::MissingField("action".into()))
        }
        ("issue", a) => {
            return ack(format!(
                "issue.{a} acknowledged: only issue.created and issue.unresolved are reproduced"
            ))
        }
        ("event_alert" | "error", a) => {
            return ack(format!(
                "{resource_s}.{a} acknowledged: not an action we reproduce"
            ))
        }
        (
            "installation" | "metric_alert" | "comment" | "seer" | "activity_alert"
            | "preprod_artifact",
            a,
        ) => {
            return ack(format!(
                "{resource_s}.{a} acknowledged: this resource carries no crash to reproduce"
            ))
        }
        (r, a) => {
            return ack(format!(
                "unknown resource {:?} (action {:?}) acknowledged and ignored",
                truncate(r, 64),
                truncate(a, 64)
            ))
        }
    };
    Ok(Parsed {
        resource: resource_s.clone(),
        action: action.clone(),
        outcome: Outcome::Alert(Box::new(alert)),
    })
}

/// A body that came without `Sentry-Hook-Resource`: a legacy plugin body or a bare event.
pub fn parse_unsigned(body: &Value) -> Result<Parsed, HookError> {
    let top = as_object(body, "$")?;
    if is_legacy(top) {
        let alert = legacy_alert(top)?;
        return Ok(Parsed {
            resource: "legacy".into(),
            action: "triggered".into(),
            outcome: Outcome::Alert(Box::new(alert)),
        });
    }
    let alert = Alert::from_event(body);
    if alert.ident().is_none() {
        return Err(HookError::MissingField("event_id".into()));
    }
    check_ident(&alert, "issue_id", "event_id")?;
    Ok(Parsed {
        resource: "event".into(),
        action: "received".into(),
        outcome: Outcome::Alert(Box::new(alert)),
    })
}

/// Any JSON we may be handed (the CLI's `generate` input): an integration body (`event_alert`,
/// `error`, `issue`), a legacy plugin body, or a bare event. Lenient: never fails; a body it cannot
/// read gives an alert with no stack.
pub fn alert_from_any_json(v: &Value) -> Alert {
    let Some(top) = v.as_object() else {
        return Alert::from_event(v);
    };
    if let Some(data) = top.get("data").and_then(Value::as_object) {
        if let Some(ev) = data.get("event").filter(|e| e.is_object()) {
            return event_alert_lenient(ev, "event_alert");
        }
        if let Some(ev) = data.get("error").filter(|e| e.is_object()) {
            return event_alert_lenient(ev, "error");
        }
        if let Some(issue) = data.get("issue").and_then(Value::as_object) {
            return issue_from_summary(issue);
        }
    }
    if is_legacy(top) {
        return legacy_lenient(top);
    }
    Alert::from_event(v)
}

fn is_legacy(top: &Map<String, Value>) -> bool {
    top.get("event").is_some_and(Value::is_object)
        && (top.contains_key("project_slug")
            || top.contains_key("triggering_rules")
            || top.contains_key("project_name"))
}

fn event_alert_lenient(ev: &Value, source: &str) -> Alert {
    let mut a = Alert::from_event(ev);
    a.source = source.into();
    if a.project_slug.is_none() {
        a.project_slug = a.event_api_url.as_deref().and_then(slug_from_event_url);
    }
    a
}

/// `data.<key>` must be an event object; the alert needs an issue id or an event id.
fn event_in(top: &Map<String, Value>, key: &str, source: &str) -> Result<Alert, HookError> {
    let data = required_object(top, "data", "data")?;
    let ev = required(data, key, &format!("data.{key}"))?;
    if !ev.is_object() {
        return Err(wrong(&format!("data.{key}"), "an object"));
    }
    let alert = event_alert_lenient(ev, source);
    if alert.ident().is_none() {
        return Err(HookError::MissingField(format!("data.{key}.issue_id")));
    }
    check_ident(
        &alert,
        &format!("data.{key}.issue_id"),
        &format!("data.{key}.event_id"),
    )?;
    Ok(alert)
}

fn issue_alert(top: &Map<String, Value>) -> Result<Alert, HookError> {
    let data = required_object(top, "data", "data")?;
    let issue = required_object(data, "issue", "data.issue")?;
    match issue.get("id") {
        None | Some(Value::Null) => return Err(HookError::MissingField("data.issue.id".into())),
        Some(Value::String(_) | Value::Number(_)) => {}
        Some(_) => return Err(wrong("data.issue.id", "a string or a number")),
    }
    let alert = issue_from_summary(issue);
    check_ident(&alert, "data.issue.id", "data.issue.id")?;
    Ok(alert)
}

/// `data.issue`: the issue summary only (no stack, event, request or tags).
fn issue_from_summary(issue: &Map<String, Value>) -> Alert {
    let s = |k: &str| issue.get(k).and_then(scalar_string);
    let project = issue.get("project").and_then(Value::as_object);
    let metadata = issue.get("metadata").and_then(Value::as_object);
    Alert {
        source: "issue".into(),
        issue_id: s("id"),
        short_id: s("shortId"),
        title: s("title"),
        culprit: s("culprit"),
        level: s("level"),
        platform: s("platform"),
        project_id: project.and_then(|p| p.get("id")).and_then(scalar_string),
        project_slug: project.and_then(|p| p.get("slug")).and_then(scalar_string),
        web_url: s("web_url").or_else(|| s("permalink")),
        issue_api_url: s("url"),
        metadata_type: metadata.and_then(|m| m.get("type")).and_then(scalar_string),
        metadata_value: metadata
            .and_then(|m| m.get("value"))
            .and_then(scalar_string),
        message: metadata
            .and_then(|m| m.get("title"))
            .and_then(scalar_string),
        ..Default::default()
    }
}

fn legacy_alert(top: &Map<String, Value>) -> Result<Alert, HookError> {
    let alert = legacy_lenient(top);
    if alert.ident().is_none() {
        return Err(HookError::MissingField("id".into()));
    }
    check_ident(&alert, "id", "event.event_id")?;
    Ok(alert)
}

/// Legacy plugin body: `{id, project, project_slug, level, culprit, message, url, triggering_rules,
/// event{...}}`; Sentry 8/9 put the interfaces under `sentry.interfaces.*` keys inside `event`.
fn legacy_lenient(top: &Map<String, Value>) -> Alert {
    let mut a = Alert::from_event(top.get("event").unwrap_or(&Value::Null));
    a.source = "legacy".into();
    let s = |k: &str| top.get(k).and_then(scalar_string);
    // Top-level `id` is the issue id; inside `event`, `id` is the event id.
    if let Some(id) = s("id") {
        a.issue_id = Some(id);
    }
    a.project_slug = s("project_slug")
        .or_else(|| s("project"))
        .or(a.project_slug);
    if let Some(url) = s("url") {
        let clean = url
            .split_once("?referrer=")
            .map(|(u, _)| u.to_string())
            .unwrap_or(url);
        a.web_url = Some(clean);
    }
    a.level = a.level.or_else(|| s("level"));
    a.culprit = a.culprit.filter(|c| !c.is_empty()).or_else(|| s("culprit"));
    a.title = a.title.or_else(|| s("message"));
    a
}

/// Ids end up in ref and file names: refuse what is not a safe identifier at the door.
fn check_ident(alert: &Alert, issue_path: &str, event_path: &str) -> Result<(), HookError> {
    if let Some(id) = &alert.issue_id {
        if !is_safe_ident(id) {
            return Err(HookError::BadIdentifier {
                path: issue_path.into(),
            });
        }
    } else if let Some(id) = &alert.event_id {
        if !is_safe_ident(id) {
            return Err(HookError::BadIdentifier {
                path: event_path.into(),
            });
        }
    }
    Ok(())
}

fn as_object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, HookError> {
    v.as_object().ok_or_else(|| wrong(path, "an object"))
}

fn required<'a>(o: &'a Map<String, Value>, key: &str, path: &str) -> Result<&'a Value, HookError> {
    match o.get(key) {
        None | Some(Value::Null) => Err(HookError::MissingField(path.into())),
        Some(v) => Ok(v),
    }
}

fn required_object<'a>(
    o: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<&'a Map<String, Value>, HookError> {
    as_object(required(o, key, path)?, path)
}

fn wrong(path: &str, expected: &'static str) -> HookError {
    HookError::WrongType {
        path: path.into(),
        expected,
    }
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn alert_of(p: Parsed) -> Alert {
        match p.outcome {
            Outcome::Alert(a) => *a,
            Outcome::Acknowledge(w) => panic!("expected an alert, got ack: {w}"),
        }
    }

    #[test]
    fn event_alert_requires_event_and_names_it() {
        let e = parse_integration("event_alert", &json!({"action": "triggered", "data": {}}))
            .unwrap_err();
        assert_eq!(e.field(), Some("data.event"));
        assert_eq!(e.status(), 400);
        let e = parse_integration(
            "event_alert",
            &json!({"action": "triggered", "data": {"event": 3}}),
        )
        .unwrap_err();
        assert_eq!(e.code(), "wrong_type");
        assert_eq!(e.field(), Some("data.event"));
        let e = parse_integration(
            "event_alert",
            &json!({"action": "triggered", "data": {"event": {}}}),
        )
        .unwrap_err();
        assert_eq!(e.field(), Some("data.event.issue_id"));
    }

    #[test]
    fn issue_requires_id() {
        let e = parse_integration(
            "issue",
            &json!({"action": "created", "data": {"issue": {"title": "x"}}}),
        )
        .unwrap_err();
        assert_eq!(e.field(), Some("data.issue.id"));
        let e = parse_integration(
            "issue",
            &json!({"action": "created", "data": {"issue": {"id": "../x"}}}),
        )
        .unwrap_err();
        assert_eq!(e.code(), "bad_identifier");
        let a = alert_of(
            parse_integration(
                "issue",
                &json!({"action": "unresolved", "data": {"issue": {"id": "12", "project": {"id": "4", "slug": "api"}}}}),
            )
            .unwrap(),
        );
        assert_eq!(a.issue_id.as_deref(), Some("12"));
        assert_eq!(a.project_slug.as_deref(), Some("api"));
        assert_eq!(a.project_id.as_deref(), Some("4"));
    }

    #[test]
    fn other_actions_and_resources_are_acknowledged() {
        for (r, a) in [
            ("issue", "resolved"),
            ("issue", "assigned"),
            ("installation", "created"),
            ("metric_alert", "critical"),
            ("comment", "created"),
            ("seer", "pr_created"),
            ("something_new", "x"),
        ] {
            let p = parse_integration(r, &json!({"action": a, "data": {}})).unwrap();
            assert!(matches!(p.outcome, Outcome::Acknowledge(_)), "{r}.{a}");
        }
        let e = parse_integration(
            "event_alert",
            &json!({"data": {"event": {"event_id": "a"}}}),
        )
        .unwrap_err();
        assert_eq!(e.field(), Some("action"));
    }

    #[test]
    fn legacy_old_interfaces() {
        let body = json!({
            "id": "77", "project": "backend", "project_name": "Backend", "url": "https://s/issues/77/?referrer=webhooks_plugin",
            "event": {"event_id": "e1", "sentry.interfaces.Exception": {"values": [{"type": "KeyError", "value": "'x'",
                "stacktrace": {"frames": [{"filename": "a.py", "function": "f", "lineno": 3}]}}]},
                "sentry.interfaces.Http": {"url": "http://h/x", "method": "POST"},
                "sentry.interfaces.Breadcrumbs": {"values": [{"message": "hi"}]}}
        });
        let a = alert_of(parse_unsigned(&body).unwrap());
        assert_eq!(a.source, "legacy");
        assert_eq!(a.issue_id.as_deref(), Some("77"));
        assert_eq!(a.event_id.as_deref(), Some("e1"));
        assert_eq!(a.project_slug.as_deref(), Some("backend"));
        assert_eq!(a.web_url.as_deref(), Some("https://s/issues/77/"));
        assert_eq!(a.exception_type(), Some("KeyError"));
        assert_eq!(a.primary_frames().len(), 1);
        assert_eq!(a.request.as_ref().unwrap().method.as_deref(), Some("POST"));
        assert_eq!(a.breadcrumbs.len(), 1);
    }

    #[test]
    fn bare_event_needs_an_id() {
        let e = parse_unsigned(&json!({"exception": {"values": []}})).unwrap_err();
        assert_eq!(e.field(), Some("event_id"));
        assert!(parse_unsigned(&json!([1, 2])).is_err());
    }

    #[test]
    fn deep_nesting_is_a_clean_error() {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let e = parse_delivery(Some("event_alert"), deep.as_bytes()).unwrap_err();
        assert_eq!(e.status(), 400);
        let deep_obj = format!("{}1{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
        assert!(parse_delivery(None, deep_obj.as_bytes()).is_err());
    }
}
