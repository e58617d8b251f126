//! Request replay: the handler or router the event's request is sent to, and the request itself.
//!
//! Why: Go handlers are plain functions, so the strongest replay calls the handler on the crashing
//! stack directly through `net/http/httptest` (no middleware in the way), with the path values of
//! the ServeMux pattern it is registered under; else the app's routes on a fresh ServeMux, else a
//! zero-argument router constructor (`func NewRouter() http.Handler`). Handlers that read
//! `chi.URLParam` or `mux.Vars`, or path values no registration explains, are not called directly.
//!
//! `replayable_headers`, `url_path` and `body_text` are also used by the Java generator.

use super::frames::{go_function, Stack};
use super::project::{go_dirs, go_files, GoModule};
use super::render::{Ctx, Header};
use super::source::{exported, package_decls, package_name};
use super::values::receiver_expr;
use super::{reported, Plan};
use crate::alert::{Alert, Frame};
use crate::contract::Strategy;
use crate::lang::GenInput;
use crate::repo::Snapshot;

/// A zero-argument function returning the app's router (`func NewRouter() http.Handler`).
pub(super) struct Router {
    pub(super) dir: String,
    pub(super) package: String,
    pub(super) func: String,
}

pub(super) fn find_router(
    snap: &Snapshot,
    module: &GoModule,
    prefer: Option<&str>,
) -> Option<Router> {
    let re = regex::Regex::new(
        r"(?m)^func\s+([A-Za-z_][A-Za-z0-9_]*)\(\)\s+(?:http\.Handler|\*http\.ServeMux|\*mux\.Router|\*chi\.Mux|chi\.Router|\*gin\.Engine|\*echo\.Echo)\s*\{",
    )
    .ok()?;
    let mut dirs = go_dirs(snap, &module.dir);
    if let Some(p) = prefer {
        dirs.retain(|d| d != p);
        dirs.insert(0, p.to_string());
    }
    for d in dirs {
        for f in go_files(snap, &d) {
            let Some(text) = snap.read(&f) else { continue };
            if let Some(c) = re.captures(&text) {
                let package = package_name(&text)?;
                return Some(Router {
                    dir: d,
                    package,
                    func: c[1].to_string(),
                });
            }
        }
    }
    None
}

/// `w http.ResponseWriter, r *http.Request`: the shape of an HTTP handler function.
pub(super) fn handler_params(params: &str) -> bool {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(
            r"^(?:[A-Za-z_]\w*\s+)?http\.ResponseWriter\s*,\s*(?:[A-Za-z_]\w*\s+)?\*http\.Request$",
        )
        .expect("static regex")
    })
    .is_match(params.trim())
}

/// The handler to call directly with httptest, found from the crashing stack.
pub(super) struct DirectHandler {
    pub(super) dir: String,
    pub(super) package: String,
    /// An `http.Handler` expression (`http.HandlerFunc(handleSplit)`, `(&Server{}).routes()`).
    pub(super) expr: String,
    /// `name` or `Type.name`, for the note.
    pub(super) label: String,
    /// The handler's name as registered (`handleSplit`, `s.handleBill`).
    pub(super) name: String,
    pub(super) body: String,
    /// `expr` is a route-setup function (`func routes(mux *http.ServeMux)`) the stack's closure was
    /// registered in: the test registers the app's routes on a fresh ServeMux and serves through it.
    pub(super) setup: bool,
}

pub(super) fn direct_handler(
    snap: &Snapshot,
    frames: &[(&Frame, String)],
) -> Option<DirectHandler> {
    let mux_param = regex::Regex::new(r"^(?:[A-Za-z_]\w*\s+)?\*http\.ServeMux$").ok()?;
    // Innermost first.
    for (f, path) in frames.iter().rev() {
        let Some(function) = f.function.as_deref() else {
            continue;
        };
        let closure = function
            .rsplit('.')
            .next()
            .is_some_and(|p| p.starts_with("func") || p.chars().all(|c| c.is_ascii_digit()));
        let Some((recv, name)) = go_function(function) else {
            continue;
        };
        let dir = path.rsplit_once('/').map(|x| x.0).unwrap_or("").to_string();
        let Some(package) = snap.read(path).and_then(|t| package_name(&t)) else {
            continue;
        };
        let decls = package_decls(snap, &dir);
        let recv_ty = recv
            .as_deref()
            .map(|r| r.trim_start_matches('*').to_string());
        let Some(d) = decls
            .iter()
            .find(|d| d.name == name && d.recv.as_ref().map(|r| &r.0) == recv_ty.as_ref())
        else {
            continue;
        };
        let factory = closure
            && d.params.is_empty()
            && matches!(
                d.results.as_str(),
                "http.HandlerFunc" | "http.Handler" | "func(http.ResponseWriter, *http.Request)"
            );
        let direct = !closure && d.results.is_empty() && handler_params(&d.params);
        let setup = closure && d.results.is_empty() && mux_param.is_match(d.params.trim());
        if !(factory || direct || setup) {
            continue;
        }
        let recv_expr = match &d.recv {
            Some(_) => match receiver_expr(snap, &dir, &decls, d) {
                Some(e) => Some(e),
                None => continue,
            },
            None => None,
        };
        let callee = match &recv_expr {
            Some(r) => format!("{r}.{name}"),
            None => name.clone(),
        };
        let expr = if setup {
            callee.clone()
        } else if factory && d.results == "http.Handler" {
            format!("{callee}()")
        } else if factory {
            format!("http.HandlerFunc({callee}())")
        } else {
            format!("http.HandlerFunc({callee})")
        };
        let label = match (&d.recv, &recv_expr) {
            (Some((t, _)), Some(r)) => format!("{t}.{name} (receiver {r})"),
            (Some((t, _)), None) => format!("{t}.{name}"),
            _ => name.clone(),
        };
        return Some(DirectHandler {
            dir,
            package,
            expr,
            label,
            name,
            body: d.body.clone(),
            setup,
        });
    }
    None
}

/// A Go 1.22 ServeMux pattern (`GET /bills/{id}`, `/files/{path...}`) against a request path: the
/// wildcard values when it matches.
pub(super) fn match_pattern(pattern: &str, path: &str) -> Option<Vec<(String, String)>> {
    let p = pattern.trim();
    let p = match p.split_once(' ') {
        Some((_method, rest)) => rest.trim(),
        None => p,
    };
    let p = &p[p.find('/')?..];
    let ps: Vec<&str> = p.split('/').collect();
    let xs: Vec<&str> = path.split('/').collect();
    let mut vals = Vec::new();
    for (i, seg) in ps.iter().enumerate() {
        if let Some(w) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            if let Some(rest) = w.strip_suffix("...") {
                vals.push((
                    rest.to_string(),
                    xs.get(i..).map(|r| r.join("/")).unwrap_or_default(),
                ));
                return Some(vals);
            }
            if w == "$" {
                return (xs.len() == i + 1 && xs[i].is_empty()).then_some(vals);
            }
            let v = xs.get(i)?;
            if v.is_empty() {
                return None;
            }
            vals.push((w.to_string(), v.to_string()));
        } else if i == ps.len() - 1 && seg.is_empty() {
            // Trailing slash: a subtree pattern.
            return Some(vals);
        } else if xs.get(i) != Some(seg) {
            return None;
        }
    }
    (xs.len() == ps.len()).then_some(vals)
}

/// Patterns the module registers `name` under (`mux.HandleFunc("GET /bills/{id}", s.handleBill)`).
pub(super) fn registrations(snap: &Snapshot, module: &GoModule, name: &str) -> Vec<String> {
    let Ok(re) = regex::Regex::new(&format!(
        r#"\.(?:HandleFunc|Handle)\(\s*"([^"\\]*)"\s*,[^\n]*\b{}\b"#,
        regex::escape(name)
    )) else {
        return vec![];
    };
    let mut out = vec![];
    for d in go_dirs(snap, &module.dir) {
        for f in go_files(snap, &d) {
            if let Some(text) = snap.read(&f) {
                out.extend(re.captures_iter(&text).map(|c| c[1].to_string()));
            }
        }
    }
    out
}

/// Headers worth replaying: never credentials, cookies or hop-by-hop/proxy headers.
pub fn replayable_headers(headers: &[(String, String)]) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(k, _)| {
            let k = k.to_ascii_lowercase();
            !(k.contains("auth")
                || k.contains("cookie")
                || k.contains("token")
                || k.contains("secret")
                || k.contains("key")
                || k.contains("session")
                || k.contains("csrf")
                || k.starts_with("x-forwarded")
                || [
                    "host",
                    "content-length",
                    "connection",
                    "transfer-encoding",
                    "x-real-ip",
                    "forwarded",
                ]
                .contains(&k.as_str()))
        })
        .filter(|(k, _)| !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .take(30)
        .cloned()
        .collect()
}

/// Path of a request URL (`http://h/p?q` → `/p`), always starting with `/`.
pub fn url_path(url: &str) -> String {
    let rest = match url.find("://") {
        Some(i) => url[i + 3..]
            .find('/')
            .map(|j| &url[i + 3 + j..])
            .unwrap_or("/"),
        None => url,
    };
    let p = rest.split(['?', '#']).next().unwrap_or("/");
    if p.starts_with('/') {
        p.to_string()
    } else {
        format!("/{p}")
    }
}

/// Request body as text (a parsed JSON body is serialized again).
pub fn body_text(alert: &Alert) -> String {
    match alert.request.as_ref().and_then(|r| r.data.as_ref()) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Null) | None => String::new(),
        Some(v) => v.to_string(),
    }
}

/// What the request is sent to: a handler on the stack (with the path values of the pattern it is
/// registered under), else the app's router constructor.
pub(super) enum RequestPlan {
    Direct(DirectHandler, Vec<(String, String)>),
    Router(Router),
}

/// The handler or router to replay the request through; None when neither can be called honestly.
pub(super) fn plan_request(
    snap: &Snapshot,
    module: &GoModule,
    stack: &Stack,
    crash_dir: &str,
    req_path: &str,
) -> Option<RequestPlan> {
    let direct = direct_handler(snap, &stack.mapped).and_then(|h| {
        if h.body.contains("chi.URLParam") || h.body.contains("mux.Vars(") {
            return None;
        }
        let values = registrations(snap, module, &h.name)
            .iter()
            .find_map(|p| match_pattern(p, req_path));
        if values.is_none() && h.body.contains("PathValue(") {
            return None;
        }
        Some((h, values.unwrap_or_default()))
    });
    match direct {
        Some((h, values)) => Some(RequestPlan::Direct(h, values)),
        None => find_router(snap, module, Some(crash_dir)).map(RequestPlan::Router),
    }
}

/// Rung 2: request replay, when the event has a request and `plan_request` finds what to send
/// it to. Cookies and credentials are left out (`replayable_headers`).
pub(super) fn replay(input: &GenInput, stack: &Stack, crash_dir: &str, base: &Ctx) -> Option<Plan> {
    let alert = input.alert;
    let req = alert
        .request
        .as_ref()
        .filter(|r| r.method.is_some() || r.url.is_some())?;
    let module = stack.module.as_ref()?;
    let req_path = url_path(req.url.as_deref().unwrap_or("/"));
    let target = plan_request(input.snap, module, stack, crash_dir, &req_path)?;
    let ctx = Ctx {
        method: req
            .method
            .clone()
            .unwrap_or_else(|| "GET".into())
            .to_ascii_uppercase(),
        path: req_path,
        query: req.query.clone(),
        body: body_text(alert),
        headers: replayable_headers(&req.headers)
            .into_iter()
            .map(|(name, value)| Header { name, value })
            .collect(),
        reported: reported(alert),
        ..base.clone()
    };
    Some(match target {
        RequestPlan::Direct(h, values) => direct_plan(input.snap, module, h, values, ctx),
        RequestPlan::Router(r) => router_plan(input, module, r, ctx),
    })
}

/// The plan that calls the handler (or route setup) on the stack directly.
fn direct_plan(
    snap: &Snapshot,
    module: &GoModule,
    h: DirectHandler,
    values: Vec<(String, String)>,
    mut ctx: Ctx,
) -> Plan {
    ctx.package = h.package.clone();
    if h.setup {
        ctx.setup = h.expr.clone();
    } else {
        ctx.handler = h.expr.clone();
    }
    ctx.path_values = values;
    let gomod = if module.dir.is_empty() {
        "go.mod".to_string()
    } else {
        format!("{}/go.mod", module.dir)
    };
    // The handler reads the hub sentryhttp puts in the request context: the test puts one there.
    ctx.sentry_hub = h.body.contains("GetHubFromContext(")
        && snap
            .read(&gomod)
            .is_some_and(|t| t.contains("github.com/getsentry/sentry-go "));
    let reason = if h.setup {
        format!(
            "the event has the request ({} {}); the crashing closure is registered by {}(mux *http.ServeMux): the test registers those routes on a fresh ServeMux and sends the request through it with httptest (cookies and credentials left out)",
            ctx.method, ctx.path, h.label
        )
    } else {
        format!(
            "the event has the request ({} {}); the handler on the crashing stack, {}, is called with it through httptest (cookies and credentials left out)",
            ctx.method, ctx.path, h.label
        )
    };
    Plan {
        strategy: Strategy::RequestReplay,
        template: TEMPLATE,
        test_dir: h.dir,
        ctx,
        reasons: vec![reason],
    }
}

/// The plan that serves the request through the app's router constructor: from `repro/` when it
/// is exported from a library package, else from the constructor's own package.
fn router_plan(input: &GenInput, m: &GoModule, r: Router, mut ctx: Ctx) -> Plan {
    let mut test_dir = input.repro_dir.to_string();
    if r.package != "main" && exported(&r.func) {
        ctx.import_path = if r.dir == m.dir {
            m.path.clone()
        } else {
            format!(
                "{}/{}",
                m.path,
                r.dir.strip_prefix(&format!("{}/", m.dir)).unwrap_or(&r.dir)
            )
        };
        ctx.import_name = r.package.clone();
        ctx.router = format!("{}.{}", r.package, r.func);
    } else {
        test_dir = r.dir.clone();
        ctx.package = r.package.clone();
        ctx.router = r.func.clone();
    }
    ctx.handler = format!("{}()", ctx.router);
    let reason = format!(
        "the event has the request ({} {}); it is replayed through {}() with httptest (cookies and credentials left out)",
        ctx.method, ctx.path, r.func
    );
    Plan {
        strategy: Strategy::RequestReplay,
        template: TEMPLATE,
        test_dir,
        ctx,
        reasons: vec![reason],
    }
}

const TEMPLATE: &str = "go/request_replay_test.go.tera";
