//! The one alert model every later stage reads.
//!
//! Sentry delivers the same crash in many shapes (integration `event_alert`, `error`, `issue`, the
//! legacy plugin, old `sentry.interfaces.*` keys, a bare event downloaded from the UI). `webhook`
//! unwraps the envelope; this module turns the *event* inside it into an [`Alert`]. Parsing is
//! lenient on purpose: absent and null fields are normal in real events, numbers arrive as strings,
//! lists arrive as maps. Nothing here trusts the content: every string is attacker-controlled and is
//! only ever rendered through the language filters in `render`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A crash report normalized from any Sentry shape.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Alert {
    /// Which webhook shape produced it (`event_alert`, `error`, `issue`, `legacy`, `event`).
    pub source: String,
    pub issue_id: Option<String>,
    pub short_id: Option<String>,
    pub title: Option<String>,
    pub culprit: Option<String>,
    pub level: Option<String>,
    pub platform: Option<String>,
    pub project_id: Option<String>,
    pub project_slug: Option<String>,
    pub environment: Option<String>,
    pub release: Option<String>,
    pub event_id: Option<String>,
    /// Human link to the issue or event in Sentry's UI.
    pub web_url: Option<String>,
    /// API link to the issue (`/api/0/organizations/{org}/issues/{id}/`).
    pub issue_api_url: Option<String>,
    /// API link to the event (`/api/0/projects/{org}/{slug}/events/{id}/`).
    pub event_api_url: Option<String>,
    /// Message of a message event (`logentry.formatted`, `message`).
    pub message: Option<String>,
    /// Issue metadata type/value (`issue` webhooks carry only this, no stack).
    pub metadata_type: Option<String>,
    pub metadata_value: Option<String>,
    /// Exception chain in Sentry's order: root cause first, outermost (the issue's title) last.
    pub exceptions: Vec<Exception>,
    /// Frames of a stack trace not attached to an exception (message events, crashed thread).
    pub thread_frames: Vec<Frame>,
    pub request: Option<Request>,
    pub tags: Vec<(String, String)>,
    pub breadcrumbs: Vec<Breadcrumb>,
    pub contexts: Value,
    /// `extra`: free-form values the app attached (bounded like contexts).
    pub extra: Value,
    pub sdk_name: Option<String>,
    pub sdk_version: Option<String>,
    pub transaction: Option<String>,
    /// `_meta`: what Sentry trimmed or scrubbed (true lengths of cut containers).
    pub meta: Value,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Exception {
    #[serde(rename = "type")]
    pub ty: Option<String>,
    pub value: Option<String>,
    pub module: Option<String>,
    pub mechanism_type: Option<String>,
    pub handled: Option<bool>,
    /// Caller to callee: the last frame raised.
    pub frames: Vec<Frame>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Frame {
    pub filename: Option<String>,
    pub abs_path: Option<String>,
    pub module: Option<String>,
    pub function: Option<String>,
    pub lineno: Option<u64>,
    pub colno: Option<u64>,
    pub in_app: Option<bool>,
    pub pre_context: Vec<String>,
    pub context_line: Option<String>,
    pub post_context: Vec<String>,
    /// Local variables as the SDK sent them (Python: `repr()` strings; Node: JSON with markers).
    pub vars: Option<Map<String, Value>>,
    pub package: Option<String>,
    pub platform: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Request {
    pub method: Option<String>,
    pub url: Option<String>,
    /// Query pairs in order, from any of Sentry's forms (string, object, list of pairs) or the URL.
    pub query: Vec<(String, String)>,
    /// Body: an object when the SDK parsed it, a string when raw.
    pub data: Option<Value>,
    pub headers: Vec<(String, String)>,
    pub cookies: Vec<(String, String)>,
    pub env: Value,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Breadcrumb {
    pub timestamp: Option<String>,
    #[serde(rename = "type")]
    pub ty: Option<String>,
    pub category: Option<String>,
    pub level: Option<String>,
    pub message: Option<String>,
    pub data: Value,
}

impl Alert {
    /// The outermost exception: the one the issue is titled after.
    pub fn primary_exception(&self) -> Option<&Exception> {
        self.exceptions.last()
    }

    /// Exception type of the outermost exception, else the issue metadata type.
    pub fn exception_type(&self) -> Option<&str> {
        self.primary_exception()
            .and_then(|e| e.ty.as_deref())
            .or(self.metadata_type.as_deref())
    }

    pub fn exception_value(&self) -> Option<&str> {
        self.primary_exception()
            .and_then(|e| e.value.as_deref())
            .or(self.metadata_value.as_deref())
    }

    /// Frames of the outermost exception (or the thread stack of a message event).
    pub fn primary_frames(&self) -> &[Frame] {
        match self.primary_exception() {
            Some(e) if !e.frames.is_empty() => &e.frames,
            _ => {
                // Some SDKs put the stack on the root cause only.
                if let Some(e) = self.exceptions.iter().rev().find(|e| !e.frames.is_empty()) {
                    return &e.frames;
                }
                &self.thread_frames
            }
        }
    }

    /// Whether there is a stack at all (issue webhooks carry none).
    pub fn has_stack(&self) -> bool {
        !self.primary_frames().is_empty()
    }

    /// Identifier used for branch and file names: the issue id, else the event id.
    pub fn ident(&self) -> Option<&str> {
        self.issue_id.as_deref().or(self.event_id.as_deref())
    }

    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `file:line in function` lines of the primary stack, innermost first, at most `limit`.
    pub fn stack_lines(&self, limit: usize) -> Vec<String> {
        self.primary_frames()
            .iter()
            .rev()
            .take(limit)
            .map(|f| {
                format!(
                    "{}:{} in {}",
                    f.filename
                        .as_deref()
                        .or(f.abs_path.as_deref())
                        .unwrap_or("?"),
                    f.lineno.unwrap_or(0),
                    f.function.as_deref().unwrap_or("?")
                )
            })
            .collect()
    }

    /// The last `limit` breadcrumbs, one `category message data` line each, oldest first.
    pub fn breadcrumb_lines(&self, limit: usize) -> Vec<String> {
        let n = self.breadcrumbs.len();
        self.breadcrumbs[n.saturating_sub(limit)..]
            .iter()
            .map(|b| {
                let data = if b.data.is_null() {
                    String::new()
                } else {
                    b.data.to_string()
                };
                format!(
                    "{} {} {}",
                    b.category.as_deref().unwrap_or(""),
                    b.message.as_deref().unwrap_or(""),
                    data
                )
            })
            .collect()
    }

    /// Build an alert from a Sentry event object (bare, or the `event` inside any webhook shape).
    pub fn from_event(ev: &Value) -> Alert {
        let mut a = Alert {
            source: "event".into(),
            ..Default::default()
        };
        let o = match ev.as_object() {
            Some(o) => o,
            None => return a,
        };
        a.issue_id = o
            .get("issue_id")
            .or(o.get("group_id"))
            .or(o.get("groupID"))
            .and_then(scalar_string);
        a.title = str_field(o, "title");
        a.culprit = str_field(o, "culprit").or_else(|| str_field(o, "location"));
        a.level = str_field(o, "level");
        a.platform = str_field(o, "platform");
        a.project_id = o
            .get("project")
            .or(o.get("project_id"))
            .or(o.get("projectID"))
            .and_then(scalar_string);
        a.environment = str_field(o, "environment");
        a.release = o.get("release").and_then(|r| match r {
            Value::Object(m) => m.get("version").and_then(scalar_string),
            other => scalar_string(other),
        });
        a.event_id = str_field(o, "event_id")
            .or_else(|| str_field(o, "eventID"))
            .or_else(|| str_field(o, "id"));
        a.web_url = str_field(o, "web_url");
        a.issue_api_url = str_field(o, "issue_url");
        a.event_api_url = str_field(o, "url");
        if let Some(url) = &a.event_api_url {
            a.project_slug = slug_from_event_url(url);
        }
        if a.issue_id.is_none() {
            // Older deliveries carry the issue only in its links.
            a.issue_id = a
                .issue_api_url
                .as_deref()
                .or(a.web_url.as_deref())
                .and_then(issue_id_from_url);
        }
        a.transaction = str_field(o, "transaction");
        a.message = o
            .get("logentry")
            .or(o.get("sentry.interfaces.Message"))
            .and_then(|l| match l {
                Value::Object(m) => m
                    .get("formatted")
                    .and_then(scalar_string)
                    .or_else(|| m.get("message").and_then(scalar_string)),
                other => scalar_string(other),
            })
            .or_else(|| str_field(o, "message"));
        if let Some(md) = o.get("metadata").and_then(Value::as_object) {
            a.metadata_type = str_field(md, "type");
            a.metadata_value = str_field(md, "value");
        }
        let exc = o
            .get("exception")
            .or(o.get("sentry.interfaces.Exception"))
            .or(o.get("exceptions"));
        a.exceptions = exc.map(parse_exceptions).unwrap_or_default();
        let st = o
            .get("stacktrace")
            .or(o.get("sentry.interfaces.Stacktrace"));
        a.thread_frames = st.map(parse_frames).unwrap_or_default();
        if a.thread_frames.is_empty() {
            a.thread_frames = crashed_thread_frames(o.get("threads"));
        }
        a.request = o
            .get("request")
            .or(o.get("sentry.interfaces.Http"))
            .and_then(parse_request);
        a.tags = pairs(o.get("tags"));
        a.breadcrumbs = parse_breadcrumbs(
            o.get("breadcrumbs")
                .or(o.get("sentry.interfaces.Breadcrumbs")),
        );
        a.contexts = o
            .get("contexts")
            .or(o.get("sentry.interfaces.Contexts"))
            .map(bounded)
            .unwrap_or(Value::Null);
        a.extra = o
            .get("extra")
            .or(o.get("sentry.interfaces.Extra"))
            .map(bounded)
            .unwrap_or(Value::Null);
        if let Some(sdk) = o.get("sdk").and_then(Value::as_object) {
            a.sdk_name = str_field(sdk, "name");
            a.sdk_version = str_field(sdk, "version");
        }
        a.meta = o.get("_meta").map(bounded).unwrap_or(Value::Null);
        if a.environment.is_none() {
            a.environment = a.tag("environment").map(str::to_owned);
        }
        if a.release.is_none() {
            a.release = a.tag("release").map(str::to_owned);
        }
        a
    }
}

/// `/api/0/projects/{org}/{project_slug}/events/{event_id}/` → `project_slug`.
pub fn slug_from_event_url(url: &str) -> Option<String> {
    let idx = url.find("/projects/")?;
    let mut parts = url[idx + "/projects/".len()..].split('/');
    let _org = parts.next()?;
    let slug = parts.next()?;
    (!slug.is_empty()).then(|| slug.to_string())
}

/// `.../issues/{id}/...` → `id` when it is all digits (API issue URL or web URL).
pub fn issue_id_from_url(url: &str) -> Option<String> {
    let idx = url.find("/issues/")?;
    let id = url[idx + "/issues/".len()..]
        .split(['/', '?', '#'])
        .next()?;
    (!id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit()))
        .then(|| id.to_string())
}

/// Nesting kept from an event's free-form values (vars, request data, breadcrumb data, contexts).
/// SDKs send a few levels; serde_json's parser stops at 128, but a `Value` built in memory can be
/// arbitrarily deep, and cloning, printing or dropping one recurses. Deeper containers become
/// [`TOO_DEEP`].
pub const MAX_VALUE_DEPTH: usize = 64;

/// What replaces a container nested deeper than [`MAX_VALUE_DEPTH`].
pub const TOO_DEEP: &str = "<nested too deep>";

/// A copy of `v` cut at [`MAX_VALUE_DEPTH`] levels (recursion bounded by that depth).
pub fn bounded(v: &Value) -> Value {
    bounded_at(v, 0)
}

fn bounded_map(m: &Map<String, Value>) -> Map<String, Value> {
    m.iter()
        .map(|(k, v)| (k.clone(), bounded_at(v, 1)))
        .collect()
}

fn bounded_at(v: &Value, depth: usize) -> Value {
    match v {
        Value::Array(_) | Value::Object(_) if depth >= MAX_VALUE_DEPTH => TOO_DEEP.into(),
        Value::Array(a) => Value::Array(a.iter().map(|x| bounded_at(x, depth + 1)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), bounded_at(x, depth + 1)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A scalar as a string: strings as-is, numbers and bools printed; null/containers give `None`.
pub fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn str_field(o: &Map<String, Value>, key: &str) -> Option<String> {
    o.get(key).and_then(scalar_string)
}

fn u64_field(o: &Map<String, Value>, key: &str) -> Option<u64> {
    match o.get(key)? {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().map(|f| f.max(0.0) as u64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn string_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| scalar_string(i).unwrap_or_default())
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// `exception` as `{values: [...]}`, a bare list, or a single exception object.
fn parse_exceptions(v: &Value) -> Vec<Exception> {
    let list: Vec<&Value> = match v {
        Value::Array(items) => items.iter().collect(),
        Value::Object(m) => match m.get("values") {
            Some(Value::Array(items)) => items.iter().collect(),
            Some(_) | None if m.contains_key("type") || m.contains_key("value") => vec![v],
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    list.into_iter()
        .filter_map(Value::as_object)
        .map(|e| {
            let mech = e.get("mechanism").and_then(Value::as_object);
            Exception {
                ty: str_field(e, "type"),
                value: str_field(e, "value"),
                module: str_field(e, "module"),
                mechanism_type: mech.and_then(|m| str_field(m, "type")),
                handled: mech.and_then(|m| m.get("handled")).and_then(Value::as_bool),
                frames: e
                    .get("stacktrace")
                    .or(e.get("raw_stacktrace"))
                    .map(parse_frames)
                    .unwrap_or_default(),
            }
        })
        .collect()
}

/// `stacktrace` as `{frames: [...]}` or a bare list of frames.
fn parse_frames(v: &Value) -> Vec<Frame> {
    let frames = match v {
        Value::Object(m) => m.get("frames"),
        Value::Array(_) => Some(v),
        _ => None,
    };
    let Some(Value::Array(frames)) = frames else {
        return Vec::new();
    };
    frames
        .iter()
        .filter_map(Value::as_object)
        .map(|f| Frame {
            filename: str_field(f, "filename"),
            abs_path: str_field(f, "abs_path"),
            module: str_field(f, "module"),
            function: str_field(f, "function"),
            lineno: u64_field(f, "lineno"),
            colno: u64_field(f, "colno"),
            in_app: f.get("in_app").and_then(Value::as_bool),
            pre_context: string_list(f.get("pre_context")),
            context_line: str_field(f, "context_line"),
            post_context: string_list(f.get("post_context")),
            vars: f.get("vars").and_then(Value::as_object).map(bounded_map),
            package: str_field(f, "package"),
            platform: str_field(f, "platform"),
        })
        .collect()
}

fn crashed_thread_frames(threads: Option<&Value>) -> Vec<Frame> {
    let list = match threads {
        Some(Value::Object(m)) => m.get("values"),
        Some(v @ Value::Array(_)) => Some(v),
        _ => None,
    };
    let Some(Value::Array(list)) = list else {
        return Vec::new();
    };
    let pick = list
        .iter()
        .find(|t| t.get("crashed").and_then(Value::as_bool) == Some(true))
        .or_else(|| list.first());
    pick.and_then(|t| t.get("stacktrace"))
        .map(parse_frames)
        .unwrap_or_default()
}

/// Pairs from a list of `[k, v]`, an object, or a `k=v&k2=v2` / `k: v` string.
pub fn pairs(v: Option<&Value>) -> Vec<(String, String)> {
    match v {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|p| match p {
                Value::Array(kv) if !kv.is_empty() => Some((
                    scalar_string(&kv[0]).unwrap_or_default(),
                    kv.get(1).map(value_text).unwrap_or_default(),
                )),
                Value::Object(m) => Some((
                    m.get("key").and_then(scalar_string).unwrap_or_default(),
                    m.get("value").map(value_text).unwrap_or_default(),
                )),
                _ => None,
            })
            .collect(),
        Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), value_text(v))).collect(),
        Some(Value::String(s)) => parse_query_string(s),
        _ => Vec::new(),
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => scalar_string(other).unwrap_or_else(|| bounded(other).to_string()),
    }
}

/// Percent-decoding `a=1&b=two%20words` into pairs (a `+` is a space).
pub fn parse_query_string(s: &str) -> Vec<(String, String)> {
    s.trim_start_matches('?')
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex_val(bytes[i + 1]), hex_val(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_val(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

fn parse_request(v: &Value) -> Option<Request> {
    let o = v.as_object()?;
    let url = str_field(o, "url");
    let mut query = pairs(o.get("query_string").or(o.get("query")));
    if query.is_empty() {
        if let Some(q) = url.as_deref().and_then(|u| u.split_once('?')).map(|x| x.1) {
            query = parse_query_string(q.split('#').next().unwrap_or(""));
        }
    }
    let mut cookies = pairs(o.get("cookies"));
    let headers = pairs(o.get("headers"));
    if cookies.is_empty() {
        if let Some((_, c)) = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("cookie"))
        {
            cookies = c
                .split(';')
                .filter_map(|kv| kv.trim().split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        }
    }
    Some(Request {
        method: str_field(o, "method"),
        url,
        query,
        data: o.get("data").filter(|d| !d.is_null()).map(bounded),
        headers,
        cookies,
        env: o.get("env").map(bounded).unwrap_or(Value::Null),
    })
}

fn parse_breadcrumbs(v: Option<&Value>) -> Vec<Breadcrumb> {
    let list = match v {
        Some(Value::Object(m)) => m.get("values"),
        Some(a @ Value::Array(_)) => Some(a),
        _ => None,
    };
    let Some(Value::Array(list)) = list else {
        return Vec::new();
    };
    list.iter()
        .filter_map(Value::as_object)
        .map(|b| Breadcrumb {
            timestamp: b.get("timestamp").and_then(scalar_string),
            ty: str_field(b, "type"),
            category: str_field(b, "category"),
            level: str_field(b, "level"),
            message: str_field(b, "message"),
            data: b.get("data").map(bounded).unwrap_or(Value::Null),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_lenient_event() {
        let ev = json!({
            "event_id": "abc", "platform": "python", "project": 42, "issue_id": 7,
            "url": "https://sentry.io/api/0/projects/acme/backend/events/abc/",
            "exception": {"values": [
                {"type": "KeyError", "value": "'x'", "stacktrace": {"frames": [
                    {"filename": "app/a.py", "lineno": "12", "function": "f", "vars": {"a": "1"}}
                ]}},
                {"type": "ValueError", "mechanism": {"type": "generic", "handled": false}}
            ]},
            "request": {"url": "http://h/p?x=1&y=a%20b", "cookies": "s=1; t=2", "headers": [["Cookie", "s=1"]]},
            "tags": {"environment": "prod"},
        });
        let a = Alert::from_event(&ev);
        assert_eq!(a.issue_id.as_deref(), Some("7"));
        assert_eq!(a.project_id.as_deref(), Some("42"));
        assert_eq!(a.project_slug.as_deref(), Some("backend"));
        assert_eq!(a.exception_type(), Some("ValueError"));
        assert_eq!(a.primary_frames()[0].lineno, Some(12));
        let r = a.request.unwrap();
        assert_eq!(
            r.query,
            vec![("x".into(), "1".into()), ("y".into(), "a b".into())]
        );
        assert_eq!(a.environment.as_deref(), Some("prod"));
    }

    #[test]
    fn issue_id_from_links() {
        assert_eq!(
            issue_id_from_url("https://sentry.io/api/0/issues/1637164584/").as_deref(),
            Some("1637164584")
        );
        assert_eq!(
            issue_id_from_url("https://sentry.io/organizations/o/issues/17/events/abc/").as_deref(),
            Some("17")
        );
        assert_eq!(issue_id_from_url("https://x/issues/../etc"), None);
        let a = Alert::from_event(&json!({"issue_url": "https://sentry.io/api/0/issues/99/"}));
        assert_eq!(a.issue_id.as_deref(), Some("99"));
    }

    #[test]
    fn percent_decode_handles_edges() {
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%41%"), "A%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
