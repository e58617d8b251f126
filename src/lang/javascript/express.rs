//! Request replay for Express, Koa and Fastify apps and plain `node:http` servers: find the app in the repository, turn the event's `request` into
//! a `fetch` against the app started in-process on an ephemeral port, and refuse replays that could
//! not reach the crash.
//!
//! Express and Koa apps have a `listen(port, host)` that returns a `net.Server`; a Fastify instance
//! is started with `listen({ port: 0 })` and its server is `app.server`. Koa's errors are observed
//! through `app.on('error')`, Fastify's through an `onError` hook, Express's through its error
//! middleware. The app is found, in order: the project config's `app` (`src/app.js:app` or
//! `…:createApp`); a module exporting the object made by `express()` / `new Koa()`; an exported
//! factory that builds one and needs no arguments; the
//! entry that `scripts.start` / `main` / `server.js` runs, loaded with `net.Server#listen` redirected
//! to port 0 on 127.0.0.1 (this keeps the project's own wiring, e.g. a seeded store passed to a
//! factory). A replay that answers 404 on the buggy code would pass while the bug is still there, so
//! every path segment of the request must occur in the repository's sources (route strings, seeded
//! ids); otherwise request replay is refused and the generator falls back to call replay/scaffold.

use serde_json::Value;

use super::project::JsProject;
use super::source::{export_of, find_function, mask, Export, Param};
use crate::alert::Request;
use crate::repo::Snapshot;

#[derive(Debug, Clone, PartialEq)]
pub enum AppSource {
    /// `module[export]` is the app, or a factory called with no arguments.
    Export { file: String, export: Export },
    /// The entry file listens itself; load it with `listen` redirected.
    Entry { file: String },
}

#[derive(Debug, Clone)]
pub struct Replay {
    pub method: String,
    /// Path and query, percent-encoded, starting with `/`.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    pub notes: Vec<String>,
}

const JS_EXTS: &[&str] = &["js", "cjs", "mjs", "ts", "mts", "cts"];

fn resolve_file(snap: &Snapshot, path: &str) -> Option<String> {
    let p = path.trim_start_matches("./");
    if snap.is_file(p) {
        return Some(p.to_string());
    }
    JS_EXTS
        .iter()
        .map(|e| format!("{p}.{e}"))
        .chain(JS_EXTS.iter().map(|e| format!("{p}/index.{e}")))
        .find(|c| snap.is_file(c))
}

/// Where the Express app comes from, or why none was found.
pub fn find_app(
    snap: &Snapshot,
    project: &JsProject,
    config_app: Option<&str>,
    sources: &[(String, String)],
) -> Result<AppSource, String> {
    let plain = match web_framework(project) {
        Some(_) => false,
        None if sources.iter().any(|(_, text)| plain_http_server(text)) => true,
        None => {
            return Err(
                "the project depends on none of express, koa, fastify and no source builds a node:http server (request replay supports Express, Koa, Fastify and plain node:http)"
                    .into(),
            )
        }
    };
    if let Some(spec) = config_app {
        let (file, name) = spec
            .rsplit_once(':')
            .ok_or_else(|| format!("project config app {spec:?} is not `file:export`"))?;
        let file = resolve_file(snap, file)
            .ok_or_else(|| format!("project config app file {file:?} is not in the repository"))?;
        if !crate::render::is_js_ident(name) && name != "default" {
            return Err(format!(
                "project config app export {name:?} is not an identifier"
            ));
        }
        let export = if name == "default" {
            Export::Default
        } else {
            Export::Named(name.into())
        };
        return Ok(AppSource::Export { file, export });
    }
    let app_var = regex::Regex::new(if plain {
        r"(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*=\s*(?:[A-Za-z_$][\w$]*\.)?createServer\s*\("
    } else {
        r"(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*=\s*(?:express\s*\(\s*\)|new\s+Koa\s*\(|[Ff]astify\s*\()"
    })
    .unwrap();
    // A plain node:http app is the server itself (`http.createServer(handler)`), which has the
    // same `listen(port, host)` as an Express or Koa app.
    let makes_app = |code: &str| {
        if plain {
            return code.contains("createServer(");
        }
        code.contains("express(")
            || code.contains("new Koa(")
            || code.contains("fastify(")
            || code.contains("Fastify(")
    };
    // 1. a module exporting the app object itself.
    for (file, text) in sources {
        if plain && !plain_http_server(text) {
            continue;
        }
        let masked = mask(text);
        for c in app_var.captures_iter(&masked) {
            let var = &c[1];
            let start = c.get(0).unwrap().start();
            // Module level only: the `const app = express()` is not inside a function body.
            if depth_at(&masked, start) != 0 {
                continue;
            }
            if let Some(export) = export_of(text, var) {
                return Ok(AppSource::Export {
                    file: file.clone(),
                    export,
                });
            }
        }
    }
    // 2. an exported factory that builds the app and needs no arguments.
    let func = regex::Regex::new(r"(?:function\s+([A-Za-z_$][\w$]*)|(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*=\s*(?:async\s*)?(?:function\b|\())").unwrap();
    for (file, text) in sources {
        let masked = mask(text);
        if !makes_app(&masked) || (plain && !plain_http_server(text)) {
            continue;
        }
        for c in func.captures_iter(&masked) {
            let name = c.get(1).or(c.get(2)).unwrap().as_str();
            let line = super::source::line_of(text, c.get(0).unwrap().start());
            let Some(def) = find_function(text, name, None) else {
                continue;
            };
            if def.line != line || def.is_method {
                continue;
            }
            let body = &masked[def.body.0..def.body.1.min(masked.len())];
            if !makes_app(body) {
                continue;
            }
            let no_args = def.params.iter().all(|p| {
                matches!(
                    p,
                    Param::Simple {
                        has_default: true,
                        ..
                    }
                )
            });
            if !no_args {
                continue;
            }
            if let Some(export) = export_of(text, name) {
                return Ok(AppSource::Export {
                    file: file.clone(),
                    export,
                });
            }
        }
    }
    // 3. the entry the project starts with, when it listens at module level.
    let mut entries: Vec<String> = Vec::new();
    entries.extend(project.start_entry());
    entries.extend(project.main.clone());
    for e in [
        "server.js",
        "index.js",
        "app.js",
        "src/server.js",
        "src/index.js",
        "bin/www",
        "server.mjs",
        "index.mjs",
    ] {
        entries.push(e.to_string());
    }
    for entry in entries {
        let Some(file) = resolve_file(snap, &entry) else {
            continue;
        };
        let Some(text) = snap.read(&file) else {
            continue;
        };
        let masked = mask(&text);
        if !masked.contains(".listen(") {
            continue;
        }
        if masked.contains("require.main")
            || masked.contains("import.meta.main")
            || masked.contains("process.argv[1]")
        {
            continue;
        }
        if file.ends_with(".ts") || file.ends_with(".mts") || file.ends_with(".cts") {
            continue;
        }
        return Ok(AppSource::Entry { file });
    }
    Err("no Express, Koa, Fastify or node:http app found: no module exports the `express()` / `new Koa()` / `fastify()` / `http.createServer()` app or a no-argument factory, and no entry (scripts.start, main, server.js) listens at start-up; set `app` in the project config".into())
}

/// A module that builds a plain `node:http` server: it loads `http` / `node:http` (not `https`,
/// whose server the replay's plain-HTTP `fetch` could not reach, nor `net`) and calls
/// `createServer(`. Such an app answers through the same `listen(port, host)` as Express.
pub fn plain_http_server(text: &str) -> bool {
    static LOADS_HTTP: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let loads_http = LOADS_HTTP.get_or_init(|| {
        regex::Regex::new(r#"(?:require\s*\(\s*|\bfrom\s*|import\s*\(\s*)['"](?:node:)?http['"]"#)
            .unwrap()
    });
    loads_http.is_match(text) && mask(text).contains("createServer(")
}

/// The framework name of a project's web app, for notes: a dependency, else plain node:http.
pub fn framework_label<'a>(
    project: &JsProject,
    mut texts: impl Iterator<Item = &'a str>,
) -> &'static str {
    web_framework(project).unwrap_or_else(|| {
        if texts.any(plain_http_server) {
            "node:http"
        } else {
            "Express"
        }
    })
}

/// The web framework request replay drives, from the dependencies (`express` first).
pub fn web_framework(project: &JsProject) -> Option<&'static str> {
    if project.deps.contains("express") {
        Some("Express")
    } else if project.deps.contains("koa") {
        Some("Koa")
    } else if project.deps.contains("fastify") {
        Some("Fastify")
    } else {
        None
    }
}

fn depth_at(masked: &str, at: usize) -> i32 {
    let mut d = 0;
    for c in masked.as_bytes()[..at].iter() {
        match c {
            b'{' => d += 1,
            b'}' => d -= 1,
            _ => {}
        }
    }
    d
}

/// Headers worth replaying: content negotiation and custom `x-` headers; never credentials,
/// cookies, hop-by-hop or proxy headers, nor scrubbed values.
fn keep_header(name: &str, value: &str) -> bool {
    let n = name.to_ascii_lowercase();
    let token = !n.is_empty()
        && n.len() <= 64
        && n.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+.^_|~-".contains(&c));
    let value_ok = value.len() <= 4096
        && !value.contains("[Filtered]")
        && value.chars().all(|c| c == '\t' || (!c.is_control()));
    let sensitive = [
        "auth",
        "cookie",
        "token",
        "secret",
        "key",
        "session",
        "csrf",
        "xsrf",
        "signature",
        "password",
        "forwarded",
        "real-ip",
        "client-ip",
    ]
    .iter()
    .any(|s| n.contains(s));
    let allowed = matches!(
        n.as_str(),
        "content-type"
            | "accept"
            | "accept-language"
            | "user-agent"
            | "referer"
            | "origin"
            | "x-requested-with"
    ) || n.starts_with("x-");
    token && value_ok && !sensitive && allowed
}

/// RFC 3986 unreserved characters kept, everything else percent-encoded (UTF-8).
fn encode_component(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The path of the request URL, percent-encoded where needed.
fn url_path(url: &str) -> Option<String> {
    let rest = match url.find("://") {
        Some(i) => {
            let after = &url[i + 3..];
            match after.find('/') {
                Some(j) => &after[j..],
                None => "/",
            }
        }
        None if url.starts_with('/') => url,
        None => return None,
    };
    let path = rest.split(['?', '#']).next().unwrap_or("/");
    let mut out = String::new();
    for c in path.chars() {
        if c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@/%".contains(c) {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    if out.split('/').any(|seg| seg == ".." || seg == ".") {
        return None;
    }
    Some(out)
}

/// The replayed request, or why the event's request cannot be replayed faithfully.
pub fn build_replay(req: &Request) -> Result<Replay, String> {
    let method = req
        .method
        .clone()
        .unwrap_or_else(|| "GET".into())
        .to_ascii_uppercase();
    if !matches!(
        method.as_str(),
        "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS"
    ) {
        return Err(format!(
            "request method {:?} is not replayable",
            crate::render::comment(&method)
        ));
    }
    let url = req.url.as_deref().ok_or("the request has no url")?;
    let path = url_path(url).ok_or("the request url has no usable path")?;
    let mut target = path;
    if !req.query.is_empty() {
        let q: Vec<String> = req
            .query
            .iter()
            .map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v)))
            .collect();
        target.push('?');
        target.push_str(&q.join("&"));
    }
    if target.len() > 8000 {
        return Err(format!(
            "the request target is {} bytes long: a server rejects such a head (431) before any route runs",
            target.len()
        ));
    }
    let mut notes = Vec::new();
    let mut headers: Vec<(String, String)> = req
        .headers
        .iter()
        .filter(|(k, v)| keep_header(k, v))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect();
    headers.dedup_by(|a, b| a.0 == b.0);
    if headers
        .iter()
        .map(|(k, v)| k.len() + v.len() + 4)
        .sum::<usize>()
        > 8000
    {
        return Err("the request headers are too large to replay".into());
    }
    let content_type = headers
        .iter()
        .find(|(k, _)| k == "content-type")
        .map(|(_, v)| v.to_ascii_lowercase());
    let body = match (&req.data, method.as_str()) {
        (None, _) | (_, "GET") | (_, "HEAD") => None,
        (Some(Value::String(s)), _) => {
            if content_type.as_deref().is_some_and(|c| c.contains("json"))
                && serde_json::from_str::<Value>(s).is_err()
            {
                return Err(
                    "the JSON request body does not parse (truncated by the SDK or Sentry?)".into(),
                );
            }
            Some(s.clone())
        }
        (Some(v), _) => {
            if content_type
                .as_deref()
                .is_some_and(|c| c.contains("x-www-form-urlencoded"))
            {
                let obj = v.as_object().ok_or("the form body is not an object")?;
                let mut parts = Vec::new();
                for (k, v) in obj {
                    let v = match v {
                        Value::String(s) => s.clone(),
                        Value::Number(_) | Value::Bool(_) => v.to_string(),
                        _ => return Err("the form body has nested values".into()),
                    };
                    parts.push(format!("{}={}", encode_component(k), encode_component(&v)));
                }
                Some(parts.join("&"))
            } else {
                if content_type.is_none() {
                    headers.push(("content-type".into(), "application/json".into()));
                }
                Some(v.to_string())
            }
        }
    };
    if body.is_none() && !matches!(method.as_str(), "GET" | "HEAD") {
        if let Some(why) = body_not_captured(req) {
            return Err(why);
        }
    }
    if let Some(b) = &body {
        if b.contains("[Filtered]") {
            notes.push("the request body holds values Sentry scrubbed ([Filtered]); they are replayed as that text".into());
        }
        if b.len() > super::values::MAX_LITERAL {
            return Err(format!(
                "the request body is too large to inline ({} bytes)",
                b.len()
            ));
        }
    }
    Ok(Replay {
        method,
        target,
        headers,
        body,
        notes,
    })
}

/// Why a request without `data` did carry a body: its headers announce one (`content-length` above
/// zero, or `transfer-encoding`). The SDK leaves the body out when the app reads the stream itself
/// (a plain `node:http` server, `for await (chunk of req)`) and when it is too large or not text;
/// replayed without it, the request takes another path (a 400 or 404 for the missing fields), and
/// the test would pass on the buggy code.
fn body_not_captured(req: &Request) -> Option<String> {
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    };
    let length = header("content-length").and_then(|v| v.parse::<u64>().ok());
    let announced = match length {
        Some(n) => n > 0,
        None => header("transfer-encoding").is_some(),
    };
    announced.then(|| {
        format!(
            "the request carried a body ({}) that the event does not hold (the SDK leaves it out when the app reads the stream itself, or when it is large or binary): replayed without it, the request would take another path and the test could pass on the buggy code",
            match length {
                Some(n) => format!("content-length {n}"),
                None => "transfer-encoding".to_string(),
            }
        )
    })
}

/// Path segments of the replay that occur nowhere in the repository's sources: with such a
/// segment (an id from the production database) the in-process app would answer 404.
pub fn unknown_segments(target: &str, sources: &[(String, String)]) -> Vec<String> {
    let path = target.split('?').next().unwrap_or("");
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(crate::alert::percent_decode)
        .filter(|seg| {
            !sources.iter().any(|(_, text)| {
                text.match_indices(seg.as_str()).any(|(i, _)| {
                    let before = text[..i].chars().next_back();
                    let after = text[i + seg.len()..].chars().next();
                    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
                    !word(before) && !word(after)
                })
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_server_needs_the_http_module_and_create_server() {
        assert!(plain_http_server("const http = require('node:http');\nmodule.exports = http.createServer((req, res) => res.end());\n"));
        assert!(plain_http_server(
            "import { createServer } from \"http\";\nexport const server = createServer(handle);\n"
        ));
        assert!(plain_http_server(
            "const { createServer } = await import('node:http');\ncreateServer(h).listen(1);\n"
        ));
        // https (TLS: the replay's plain fetch cannot reach it), net, or no server built.
        assert!(!plain_http_server(
            "const https = require('node:https');\nhttps.createServer(opts, h);\n"
        ));
        assert!(!plain_http_server(
            "const net = require('node:net');\nnet.createServer(h);\n"
        ));
        assert!(!plain_http_server(
            "const http = require('http');\nhttp.get('http://x');\n"
        ));
        // The word in a string or comment is not a call.
        assert!(!plain_http_server(
            "const http = require('http');\n// createServer(h)\nconst s = 'createServer(';\n"
        ));
        assert!(!plain_http_server(
            "const proto = 'http';\nnet.createServer(h);\n"
        ));
    }

    #[test]
    fn replay_from_event_request() {
        let req = Request {
            method: Some("POST".into()),
            url: Some("http://127.0.0.1:38057/api/carts/c_1042/checkout".into()),
            query: vec![],
            data: Some(Value::String("{\"a\":1}".into())),
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("cookie".into(), "[Filtered]".into()),
                ("authorization".into(), "Bearer x".into()),
                ("x-api-key".into(), "k".into()),
                ("host".into(), "127.0.0.1".into()),
                ("x-request-id".into(), "9f1c".into()),
            ],
            cookies: vec![],
            env: Value::Null,
        };
        let r = build_replay(&req).unwrap();
        assert_eq!(r.target, "/api/carts/c_1042/checkout");
        let names: Vec<_> = r.headers.iter().map(|h| h.0.as_str()).collect();
        assert_eq!(names, ["content-type", "x-request-id"]);
        assert_eq!(r.body.as_deref(), Some("{\"a\":1}"));
    }

    #[test]
    fn a_body_the_event_lacks_refuses_the_replay() {
        let req = |method: &str, headers: &[(&str, &str)], data: Option<Value>| Request {
            method: Some(method.into()),
            url: Some("http://127.0.0.1:3000/api/seats/reserve".into()),
            query: vec![],
            data,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            cookies: vec![],
            env: Value::Null,
        };
        let json = ("content-type", "application/json");
        // As @sentry/node sends a POST whose body a plain node:http app read itself.
        let err = build_replay(&req("POST", &[json, ("content-length", "30")], None)).unwrap_err();
        assert!(err.contains("content-length 30"), "{err}");
        let err = build_replay(&req("PUT", &[("Transfer-Encoding", "chunked")], None)).unwrap_err();
        assert!(err.contains("transfer-encoding"), "{err}");
        // No body announced, or the body captured: replayable.
        assert!(build_replay(&req("POST", &[("content-length", "0")], None)).is_ok());
        assert!(build_replay(&req("DELETE", &[], None)).is_ok());
        let body = Some(Value::String("{\"orgId\":\"org_acme\"}".into()));
        assert!(build_replay(&req("POST", &[json, ("content-length", "20")], body)).is_ok());
        // GET never replays a body, whatever its headers say.
        assert!(build_replay(&req("GET", &[("content-length", "12")], None)).is_ok());
    }

    #[test]
    fn segments() {
        let src = vec![(
            "a.js".to_string(),
            "router.post('/:cartId/checkout'); app.use('/api/carts'); id: 'c_1042'".to_string(),
        )];
        assert!(unknown_segments("/api/carts/c_1042/checkout?x=1", &src).is_empty());
        assert_eq!(unknown_segments("/api/carts/c_9/checkout", &src), ["c_9"]);
    }
}
