//! Go: a `_test.go` run with `go test`. Strategies, strongest first: *call replay* when the error
//! quotes the input a parser rejected (`strconv.ParseFloat: parsing "5,5"`) and a one-string function
//! that calls that parser is on (or called from) the crashing stack; *request replay* when the event has
//! a request: the handler on the stack is called directly through `net/http/httptest` (or the app's
//! routes on a fresh ServeMux, or a zero-argument router constructor); else a scaffold tied to the
//! crashing function. Sources are read with regexes (declarations, brace-matched bodies): enough to
//! see a function's shape without a Go parser.
//!
//! sentry-go events carry no vars: frames have `module` (the import path), `function` (`handleSplit`,
//! `(*Server).total`, `NewRouter.func1`) and `abs_path`. The crash site is the innermost frame whose
//! module lies inside the repository's Go module (`go.mod` `module` + folder) or whose path
//! suffix-matches a `.go` file; GOROOT and module-cache frames (sentryhttp's own middleware is
//! reported `in_app`) are never the crash site. `CaptureException` stacks end at the capture site,
//! not where the error was made, hence call replay's search among the callees of stack functions.
//!
//! Honesty: a replay fails only with the reported failure (same panic value, the reported error
//! text, or a 5xx); anything else prints `SENTRY-REPRO: OTHER FAILURE`, which the gate refuses. A
//! receiver is built only by the package's own zero-argument constructor or as a zero value whose
//! touched fields are plain values.
//!
//! Placement: `repro/sentry_<id>_test.go` (package `repro`, importing the app package) when everything
//! the test touches is exported; otherwise the package's own folder (`<pkg>/sentry_<id>_test.go`, same
//! package) because Go gives unexported access only there; that folder is then the one extra prefix
//! the commit may write to.

use crate::lang::EventHeader;
use anyhow::Result;
use serde::Serialize;

use super::{GenInput, GenOutput, Generator};
use crate::alert::{Alert, Frame};
use crate::contract::{CrashSite, Strategy};
use crate::git::NewFile;
use crate::render;
use crate::repo::Snapshot;

pub struct Go;

/// A Go module of the repository.
struct GoModule {
    /// Folder of `go.mod` (`""` for the root).
    dir: String,
    path: String,
}

fn go_module_for(snap: &Snapshot, file: &str) -> Option<GoModule> {
    let mut dir = file.rsplit_once('/').map(|x| x.0).unwrap_or("").to_string();
    loop {
        let gomod = if dir.is_empty() {
            "go.mod".to_string()
        } else {
            format!("{dir}/go.mod")
        };
        if let Some(text) = snap.read(&gomod) {
            let path = text
                .lines()
                .find_map(|l| l.trim().strip_prefix("module "))
                .map(|m| m.trim().trim_matches('"').to_string())?;
            return Some(GoModule { dir, path });
        }
        if dir.is_empty() {
            return None;
        }
        dir = dir.rsplit_once('/').map(|x| x.0).unwrap_or("").to_string();
    }
}

fn root_module(snap: &Snapshot) -> Option<GoModule> {
    go_module_for(snap, "x.go")
}

fn is_foreign_go_path(p: &str) -> bool {
    p.contains("/pkg/mod/")
        || p.contains("/go/src/") && !p.contains("/go/src/github.com")
        || p.starts_with("/usr/local/go/")
        || p.contains("/vendor/")
}

fn map_go_frame(f: &Frame, snap: &Snapshot, root: Option<&GoModule>) -> Option<String> {
    let file = f.abs_path.as_deref().or(f.filename.as_deref())?;
    if is_foreign_go_path(file) || !file.ends_with(".go") {
        return None;
    }
    let base = file.rsplit('/').next()?;
    if let (Some(m), Some(module)) = (root, f.module.as_deref()) {
        let rel = if module == m.path {
            Some(String::new())
        } else {
            module
                .strip_prefix(&format!("{}/", m.path))
                .map(str::to_owned)
        };
        if let Some(rel) = rel {
            let dir = [m.dir.as_str(), rel.as_str()]
                .iter()
                .filter(|s| !s.is_empty())
                .cloned()
                .collect::<Vec<_>>()
                .join("/");
            let cand = if dir.is_empty() {
                base.to_string()
            } else {
                format!("{dir}/{base}")
            };
            if snap.is_file(&cand) {
                return Some(cand);
            }
        }
    }
    snap.match_suffix(file).filter(|p| p.ends_with(".go"))
}

/// `(*Server).total.func1` → (receiver `*Server`, name `total`); `handleSplit` → (None, `handleSplit`).
fn go_function(f: &str) -> Option<(Option<String>, String)> {
    // sentry-go sometimes prefixes the package (`main.(*Handler).Handle`): keep the last qualified part.
    let mut parts: Vec<&str> = f.split('.').collect();
    while parts.last().is_some_and(|p| {
        p.chars().all(|c| c.is_ascii_digit())
            || p.starts_with("func") && p[4..].chars().all(|c| c.is_ascii_digit())
            || p.starts_with("gowrap")
    }) {
        parts.pop();
    }
    let name = parts.pop()?.to_string();
    let recv = parts.last().map(|r| r.to_string()).filter(|r| {
        r.starts_with("(*") || r.chars().next().is_some_and(|c| c.is_ascii_uppercase())
    });
    let recv = match recv {
        Some(r) if r.starts_with("(*") => {
            let t = r.trim_start_matches("(*").trim_end_matches(')');
            if !is_go_ident(t) {
                return None;
            }
            Some(format!("*{t}"))
        }
        Some(r) if is_go_ident(&r) && r != name => Some(r),
        _ => None,
    };
    is_go_ident(&name).then_some((recv, name))
}

fn is_go_ident(s: &str) -> bool {
    const KW: &[&str] = &[
        "break",
        "case",
        "chan",
        "const",
        "continue",
        "default",
        "defer",
        "else",
        "fallthrough",
        "for",
        "func",
        "go",
        "goto",
        "if",
        "import",
        "interface",
        "map",
        "package",
        "range",
        "return",
        "select",
        "struct",
        "switch",
        "type",
        "var",
    ];
    let mut c = s.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
        && s.len() <= 128
        && !KW.contains(&s)
}

fn exported(s: &str) -> bool {
    s.trim_start_matches('*')
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_uppercase())
}

fn package_name(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("package "))
        .map(|p| p.split_whitespace().next().unwrap_or("").to_string())
        .filter(|p| is_go_ident(p))
}

/// `.go` files (not tests) of a folder.
fn go_files(snap: &Snapshot, dir: &str) -> Vec<String> {
    snap.list_dir(dir)
        .into_iter()
        .filter(|(n, d)| !d && n.ends_with(".go") && !n.ends_with("_test.go"))
        .map(|(n, _)| {
            if dir.is_empty() {
                n
            } else {
                format!("{dir}/{n}")
            }
        })
        .collect()
}

/// Folders of the module, breadth-first, bounded.
fn go_dirs(snap: &Snapshot, root: &str) -> Vec<String> {
    let mut out = vec![root.to_string()];
    let mut i = 0;
    while i < out.len() && out.len() < 400 {
        let d = out[i].clone();
        for (n, is_dir) in snap.list_dir(&d) {
            if is_dir
                && !n.starts_with('.')
                && !n.starts_with('_')
                && n != "vendor"
                && n != "testdata"
                && n != "node_modules"
            {
                out.push(if d.is_empty() { n } else { format!("{d}/{n}") });
            }
        }
        i += 1;
    }
    out
}

/// A zero-argument function returning the app's router (`func NewRouter() http.Handler`).
struct Router {
    dir: String,
    package: String,
    func: String,
}

fn find_router(snap: &Snapshot, module: &GoModule, prefer: Option<&str>) -> Option<Router> {
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

/// A function or method declaration of a package (regex-level parse; enough to see shapes).
#[derive(Debug, Clone)]
struct GoDecl {
    /// Receiver type name and whether it is a pointer receiver.
    recv: Option<(String, bool)>,
    name: String,
    params: String,
    results: String,
    body: String,
}

/// The text between the brace at `open` and its match, skipping strings, runes and comments.
fn brace_body(text: &str, open: usize) -> Option<&str> {
    let b = text.as_bytes();
    let mut depth = 0usize;
    let mut i = open;
    while i < b.len() {
        match b[i] {
            b'{' => depth += 1,
            b'}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return text.get(open + 1..i);
                }
            }
            b'"' | b'\'' => {
                let q = b[i];
                i += 1;
                while i < b.len() && b[i] != q && b[i] != b'\n' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'`' => {
                i += 1;
                while i < b.len() && b[i] != b'`' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn decls_of_text(text: &str) -> Vec<GoDecl> {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::Regex::new(
            r"(?m)^func\s*(?:\(\s*(?:[A-Za-z_]\w*\s+)?(\*?)\s*([A-Za-z_]\w*)(?:\[[^\]]*\])?\s*\)\s*)?([A-Za-z_]\w*)\s*\(([^()]*)\)\s*([^{\n]*)\{",
        )
        .expect("static regex")
    });
    re.captures_iter(text)
        .filter_map(|c| {
            let whole = c.get(0)?;
            let body = brace_body(text, whole.end() - 1)?.to_string();
            Some(GoDecl {
                recv: c.get(2).map(|t| (t.as_str().to_string(), !c[1].is_empty())),
                name: c[3].to_string(),
                params: c[4].split_whitespace().collect::<Vec<_>>().join(" "),
                results: c[5].split_whitespace().collect::<Vec<_>>().join(" "),
                body,
            })
        })
        .collect()
}

/// Declarations of the package in `dir` (non-test files).
fn package_decls(snap: &Snapshot, dir: &str) -> Vec<GoDecl> {
    go_files(snap, dir)
        .iter()
        .filter_map(|f| snap.read(f))
        .flat_map(|t| decls_of_text(&t))
        .collect()
}

/// `w http.ResponseWriter, r *http.Request`: the shape of an HTTP handler function.
fn handler_params(params: &str) -> bool {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(
            r"^(?:[A-Za-z_]\w*\s+)?http\.ResponseWriter\s*,\s*(?:[A-Za-z_]\w*\s+)?\*http\.Request$",
        )
        .expect("static regex")
    })
    .is_match(params.trim())
}

/// Field names and types of `type <name> struct { … }` in the package; None when not a struct
/// (Some(empty) for a struct without fields).
fn struct_fields(snap: &Snapshot, dir: &str, name: &str) -> Option<Option<Vec<(String, String)>>> {
    let re = regex::Regex::new(&format!(
        r"(?m)^type\s+{}\s+(struct\s*\{{)?",
        regex::escape(name)
    ))
    .ok()?;
    for f in go_files(snap, dir) {
        let Some(text) = snap.read(&f) else { continue };
        let Some(c) = re.captures(&text) else {
            continue;
        };
        let Some(st) = c.get(1) else {
            return Some(None);
        };
        let body = brace_body(&text, st.end() - 1)?;
        let mut fields = Vec::new();
        for line in body.lines() {
            let line = line.split("//").next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let line = line.split('`').next().unwrap_or("").trim();
            match line.split_once(char::is_whitespace) {
                Some((names, ty)) if !names.contains('.') => {
                    for n in names.split(',') {
                        fields.push((n.trim().to_string(), ty.trim().to_string()));
                    }
                }
                _ => {
                    // Embedded field: its name is the type's last segment.
                    let n = line
                        .trim_start_matches('*')
                        .rsplit('.')
                        .next()
                        .unwrap_or("");
                    fields.push((n.to_string(), line.to_string()));
                }
            }
        }
        return Some(Some(fields));
    }
    None
}

/// Whether a zero value of this field type works like a real one (reads, locks, appends).
fn zero_safe_type(ty: &str) -> bool {
    const OK: &[&str] = &[
        "string",
        "bool",
        "int",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "uintptr",
        "float32",
        "float64",
        "byte",
        "rune",
        "time.Duration",
        "sync.Mutex",
        "sync.RWMutex",
        "sync.Once",
        "sync.WaitGroup",
        "atomic.Int64",
        "atomic.Int32",
        "atomic.Bool",
    ];
    OK.contains(&ty)
}

/// Whether non-test code of the module builds a zero value of struct type `ty` of the package in
/// `dir` and uses it as is: `&T{}`, `T{}`, `new(T)` or `var x T` in that package, or the same
/// qualified with the package's name (`&api.Handler{}`) elsewhere in the module. Composite literals
/// with fields do not count (those values are not zero), nor does a variable whose fields the same
/// file then sets (`s := &T{}` then `s.db = open()`: production's value is not the zero one).
fn app_builds_zero(snap: &Snapshot, dir: &str, ty: &str) -> bool {
    let Some(module) = go_module_for(snap, format!("{dir}/x.go").trim_start_matches('/')) else {
        return false;
    };
    let Some(pkg) = go_files(snap, dir)
        .first()
        .and_then(|f| snap.read(f))
        .and_then(|t| package_name(&t))
    else {
        return false;
    };
    // (a zero value bound to a variable: group 1 names it, or in place: an argument, a field
    // value, a return)
    let patterns = |q: &str| {
        let t = format!("{q}{}", regex::escape(ty));
        let zero = format!(r"(?:&?{t}\s*\{{\s*\}}|new\(\s*{t}\s*\))");
        let bound = regex::Regex::new(&format!(
            r"^\s*(?:var\s+)?([A-Za-z_]\w*)\s*(?::=|=)\s*{zero}\s*$|^\s*var\s+([A-Za-z_]\w*)\s+{t}\s*$"
        ))
        .ok()?;
        let in_place =
            regex::Regex::new(&format!(r"(?:[(,:]\s*{zero}|^\s*return\s+{zero})")).ok()?;
        Some((bound, in_place))
    };
    let (Some(local), Some(qualified)) = (
        patterns(""),
        patterns(&format!(r"\b{}\.", regex::escape(&pkg))),
    ) else {
        return false;
    };
    go_dirs(snap, &module.dir).iter().any(|d| {
        let (bound, in_place) = if d == dir { &local } else { &qualified };
        go_files(snap, d)
            .iter()
            .filter_map(|f| snap.read(f))
            .any(|text| {
                // Comments aside, roughly: only code lines count.
                let code: Vec<&str> = text
                    .lines()
                    .filter(|l| !l.trim_start().starts_with("//"))
                    .collect();
                code.iter().any(|l| {
                    if let Some(c) = bound.captures(l) {
                        let var = c.get(1).or(c.get(2)).map(|m| m.as_str()).unwrap_or("");
                        let set = regex::Regex::new(&format!(
                            r"\b{}\.[A-Za-z_]\w*\s*(?:=[^=]|\[)",
                            regex::escape(var)
                        ));
                        return set.is_ok_and(|r| !code.iter().any(|x| r.is_match(x)));
                    }
                    in_place.is_match(l)
                })
            })
    })
}

/// An expression for the receiver of `m`: the package's own zero-argument constructor
/// (`NewServer()`), else the zero value (`(&Server{})`) when every field the handler (and the methods
/// it calls on the receiver) touches works as a zero value. None when neither is honest.
fn receiver_expr(snap: &Snapshot, dir: &str, decls: &[GoDecl], m: &GoDecl) -> Option<String> {
    let (ty, ptr) = m.recv.clone()?;
    if !is_go_ident(&ty) {
        return None;
    }
    for d in decls
        .iter()
        .filter(|d| d.recv.is_none() && d.params.is_empty())
    {
        if d.results == format!("*{ty}") || (!ptr && d.results == ty) {
            return Some(format!("{}()", d.name));
        }
    }
    let fields = struct_fields(snap, dir, &ty)?;
    // The app itself serves with a zero value of the type (`c := &counter{}` in main): that zero
    // value is the production receiver, whatever its fields (a nil map included).
    if fields.is_some() && app_builds_zero(snap, dir, &ty) {
        return Some(if ptr {
            format!("(&{ty}{{}})")
        } else {
            format!("{ty}{{}}")
        });
    }
    let lit = if ptr {
        format!("(&{ty}{{}})")
    } else {
        format!("{ty}{{}}")
    };
    let Some(fields) = fields else {
        // `type Handler int` and the like: its zero value is a value.
        return Some(if ptr {
            format!("(new({ty}))")
        } else {
            format!("{ty}(*new({ty}))")
        });
    };
    // Fields used through the receiver, following methods of the same type (bounded).
    let mut todo = vec![m.clone()];
    let mut seen: Vec<String> = vec![];
    let sel = regex::Regex::new(r"\b[A-Za-z_]\w*\.([A-Za-z_]\w*)").ok()?;
    while let Some(d) = todo.pop() {
        if seen.contains(&d.name) || seen.len() > 20 {
            continue;
        }
        seen.push(d.name.clone());
        for c in sel.captures_iter(&d.body) {
            let name = &c[1];
            if let Some((_, fty)) = fields.iter().find(|(n, _)| n == name) {
                if !zero_safe_type(fty) {
                    return None;
                }
            }
            if let Some(next) = decls
                .iter()
                .find(|x| x.name == name && x.recv.as_ref().is_some_and(|r| r.0 == ty))
            {
                todo.push(next.clone());
            }
        }
    }
    Some(lit)
}

/// The handler to call directly with httptest, found from the crashing stack.
struct DirectHandler {
    dir: String,
    package: String,
    /// An `http.Handler` expression (`http.HandlerFunc(handleSplit)`, `(&Server{}).routes()`).
    expr: String,
    /// `name` or `Type.name`, for the note.
    label: String,
    /// The handler's name as registered (`handleSplit`, `s.handleBill`).
    name: String,
    body: String,
    /// `expr` is a route-setup function (`func routes(mux *http.ServeMux)`) the stack's closure was
    /// registered in: the test registers the app's routes on a fresh ServeMux and serves through it.
    setup: bool,
}

fn direct_handler(snap: &Snapshot, frames: &[(&Frame, String)]) -> Option<DirectHandler> {
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
fn match_pattern(pattern: &str, path: &str) -> Option<Vec<(String, String)>> {
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
fn registrations(snap: &Snapshot, module: &GoModule, name: &str) -> Vec<String> {
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

/// The input a Go error quotes and the call that rejected it (a needle searched in function bodies):
/// `strconv.ParseFloat: parsing "5,5": invalid syntax` → (`strconv.ParseFloat(`, `5,5`);
/// `parsing time "2024-13-01": month out of range` → (`time.Parse`, …); `parse "http://[::1": missing
/// ']' in host` → (`url.Parse`, …).
fn quoted_input(msg: &str) -> Option<(String, String)> {
    static RE: std::sync::OnceLock<[regex::Regex; 3]> = std::sync::OnceLock::new();
    let res = RE.get_or_init(|| {
        [
            r#"strconv\.(Atoi|ParseInt|ParseUint|ParseFloat|ParseBool|ParseComplex): parsing "((?:[^"\\]|\\.)*)": (?:invalid syntax|value out of range)"#,
            r#"()parsing time "((?:[^"\\]|\\.)*)""#,
            r#"(?:^|: )()parse "((?:[^"\\]|\\.)*)": "#,
        ]
        .map(|p| regex::Regex::new(p).expect("static regex"))
    });
    for (i, re) in res.iter().enumerate() {
        if let Some(c) = re.captures(msg) {
            let needle = match i {
                0 => format!("strconv.{}(", &c[1]),
                1 => "time.Parse".to_string(),
                _ => "url.Parse".to_string(),
            };
            return Some((needle, go_unquote(&c[2])?));
        }
    }
    None
}

/// Undo `strconv.Quote` for the escapes it writes; None for anything else.
fn go_unquote(s: &str) -> Option<String> {
    let mut out = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next()? {
            '"' => out.push('"'),
            '\\' => out.push('\\'),
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'a' => out.push('\u{7}'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'v' => out.push('\u{b}'),
            'x' => {
                let h: String = it.by_ref().take(2).collect();
                let b = u8::from_str_radix(&h, 16).ok()?;
                if b > 0x7f {
                    return None;
                }
                out.push(b as char);
            }
            'u' | 'U' => return None,
            _ => return None,
        }
    }
    Some(out)
}

/// A function to call with the quoted input: a function of the module taking one string and
/// returning an error last, whose body calls the parser named in the error, and that is on the
/// crashing stack or called by name from a function on it. A method qualifies when its receiver can
/// be built honestly (`receiver_expr`: the package's constructor or a zero value).
struct CallTarget {
    dir: String,
    package: String,
    /// `ParseRate`, or `NewParser().Month` for a method.
    name: String,
    /// `_, err` or `err`.
    lhs: String,
}

fn call_target(
    snap: &Snapshot,
    module: &GoModule,
    stack: &[(&Frame, String)],
    needle: &str,
) -> Option<CallTarget> {
    let single_string = regex::Regex::new(r"^(?:[A-Za-z_]\w*\s+)?string$").ok()?;
    // Bodies of the functions on the stack (innermost first).
    let mut stack_bodies: Vec<(String, String)> = vec![];
    for (f, path) in stack.iter().rev() {
        let Some((recv, name)) = f.function.as_deref().and_then(go_function) else {
            continue;
        };
        let dir = path.rsplit_once('/').map(|x| x.0).unwrap_or("").to_string();
        let recv_ty = recv
            .as_deref()
            .map(|r| r.trim_start_matches('*').to_string());
        if let Some(d) = package_decls(snap, &dir)
            .into_iter()
            .find(|d| d.name == name && d.recv.as_ref().map(|r| &r.0) == recv_ty.as_ref())
        {
            stack_bodies.push((name, d.body));
        }
    }
    let call = needle;
    for dir in go_dirs(snap, &module.dir) {
        let files = go_files(snap, &dir);
        let Some(package) = files
            .first()
            .and_then(|f| snap.read(f))
            .and_then(|t| package_name(&t))
        else {
            continue;
        };
        let decls = package_decls(snap, &dir);
        for d in &decls {
            if !single_string.is_match(d.params.trim()) || !d.body.contains(call) {
                continue;
            }
            let results = d
                .results
                .trim()
                .trim_start_matches('(')
                .trim_end_matches(')');
            let parts: Vec<&str> = results.split(',').map(str::trim).collect();
            if parts.last().is_none_or(|l| !l.ends_with("error")) {
                continue;
            }
            let word = regex::Regex::new(&format!(r"\b{}\s*\(", regex::escape(&d.name))).ok()?;
            let on_stack = stack_bodies
                .iter()
                .any(|(n, body)| *n == d.name || word.is_match(body));
            if !on_stack {
                continue;
            }
            // A method is called on the receiver the package's constructor (or an honest zero
            // value) builds: `NewParser().Month`.
            let name = match &d.recv {
                None => d.name.clone(),
                Some(_) => match receiver_expr(snap, &dir, &decls, d) {
                    Some(r) => format!("{r}.{}", d.name),
                    None => continue,
                },
            };
            let mut lhs: Vec<&str> = vec!["_"; parts.len() - 1];
            lhs.push("err");
            return Some(CallTarget {
                dir: dir.clone(),
                package,
                name,
                lhs: lhs.join(", "),
            });
        }
    }
    None
}

#[derive(Serialize)]
struct Header {
    name: String,
    value: String,
}

#[derive(Serialize, Default)]
struct Ctx {
    #[serde(flatten)]
    event: EventHeader,
    sfx: String,
    package: String,
    /// Import path of the app package when the test lives in `repro/`.
    import_path: String,
    import_name: String,
    /// `handleSplit`, `(*Server).total` or `pkg.Func`: referenced so a rename breaks the test.
    reference: String,
    // request replay
    router: String,
    /// An `http.Handler` expression built from checked identifiers.
    handler: String,
    /// A route-setup function to call on a fresh ServeMux (`newServer().routes`).
    setup: String,
    /// The handler reads the Sentry hub from the request context (sentryhttp puts one there).
    sentry_hub: bool,
    /// Wildcards of the matching ServeMux pattern (`req.SetPathValue`).
    path_values: Vec<(String, String)>,
    /// The reported panic value or message: a replayed panic must be this one.
    reported: String,
    // call replay
    callee: String,
    lhs: String,
    input: String,
    method: String,
    path: String,
    query: Vec<(String, String)>,
    body: String,
    headers: Vec<Header>,
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

fn goos_suffix(s: &str) -> bool {
    const T: &[&str] = &[
        "aix",
        "android",
        "darwin",
        "dragonfly",
        "freebsd",
        "illumos",
        "ios",
        "js",
        "linux",
        "netbsd",
        "openbsd",
        "plan9",
        "solaris",
        "wasip1",
        "windows",
        "386",
        "amd64",
        "arm",
        "arm64",
        "loong64",
        "mips",
        "mips64",
        "mips64le",
        "mipsle",
        "ppc64",
        "ppc64le",
        "riscv64",
        "s390x",
        "wasm",
        "test",
    ];
    s.rsplit('_').next().is_some_and(|last| T.contains(&last))
}

impl Generator for Go {
    fn language(&self) -> &'static str {
        "go"
    }

    fn generate(&self, input: &GenInput) -> Result<GenOutput> {
        let alert = input.alert;
        let snap = input.snap;
        let root = root_module(snap);
        let frames = alert.primary_frames();
        let crash_frame = frames
            .iter()
            .rev()
            .find_map(|f| map_go_frame(f, snap, root.as_ref()).map(|p| (f, p)));
        let mut sfx = render::ident_suffix(input.ident);
        if goos_suffix(&sfx) {
            sfx.push_str("_repro");
        }
        let mut ctx = Ctx {
            event: EventHeader::new(alert, input.ident, "panic"),
            sfx: sfx.clone(),
            package: "repro".into(),
            ..Default::default()
        };
        let mut reasons = Vec::new();
        let mut crash = None;
        let mut strategy = Strategy::Boilerplate;
        // Folder the test lives in, relative to the repository root.
        let mut test_dir = input.repro_dir.to_string();
        let mut template = "go/scaffold_test.go.tera";
        let module = crash_frame
            .as_ref()
            .and_then(|(_, p)| go_module_for(snap, p))
            .or(root);
        if let Some((f, path)) = &crash_frame {
            crash = Some(CrashSite {
                file: path.clone(),
                function: f.function.clone(),
                line: f.lineno,
            });
            ctx.event.crash_function = f.function.clone().unwrap_or_default();
            ctx.event.crash_file = path.clone();
            ctx.event.crash_line = f.lineno.map(|l| l.to_string()).unwrap_or_default();
            strategy = Strategy::Scaffold;
            let dir = path.rsplit_once('/').map(|x| x.0).unwrap_or("").to_string();
            let pkg = snap.read(path).and_then(|t| package_name(&t));
            let func = f.function.as_deref().and_then(go_function);
            let mapped: Vec<(&Frame, String)> = frames
                .iter()
                .filter_map(|f| map_go_frame(f, snap, module.as_ref()).map(|p| (f, p)))
                .collect();
            let req_path = alert
                .request
                .as_ref()
                .map(|r| url_path(r.url.as_deref().unwrap_or("/")))
                .unwrap_or_default();
            // The error quotes its input and a function on (or called from) the stack parses it.
            let call = module.as_ref().and_then(|m| {
                let (func, input) = alert
                    .exceptions
                    .iter()
                    .rev()
                    .filter_map(|e| e.value.as_deref())
                    .chain(alert.message.as_deref())
                    .find_map(quoted_input)?;
                call_target(snap, m, &mapped, &func).map(|t| (t, input, func))
            });
            // A handler on the crashing stack, called directly (no middleware in the way), with the
            // path values of the pattern it is registered under.
            let direct = alert.request.as_ref().filter(|_| call.is_none()).and(
                alert
                    .request
                    .as_ref()
                    .filter(|r| r.method.is_some() || r.url.is_some())
                    .and(module.as_ref())
                    .and_then(|m| {
                        let h = direct_handler(snap, &mapped)?;
                        if h.body.contains("chi.URLParam") || h.body.contains("mux.Vars(") {
                            return None;
                        }
                        let values = registrations(snap, m, &h.name)
                            .iter()
                            .find_map(|p| match_pattern(p, &req_path));
                        if values.is_none() && h.body.contains("PathValue(") {
                            return None;
                        }
                        Some((h, values.unwrap_or_default()))
                    }),
            );
            let router = if direct.is_some() || call.is_some() {
                None
            } else {
                alert
                    .request
                    .as_ref()
                    .filter(|r| r.method.is_some() || r.url.is_some())
                    .and(module.as_ref())
                    .and_then(|m| find_router(snap, m, Some(&dir)).map(|r| (m, r)))
            };
            if direct.is_some() || router.is_some() {
                strategy = Strategy::RequestReplay;
                template = "go/request_replay_test.go.tera";
                let req = alert.request.as_ref().expect("checked");
                ctx.method = req
                    .method
                    .clone()
                    .unwrap_or_else(|| "GET".into())
                    .to_ascii_uppercase();
                ctx.path = req_path.clone();
                ctx.query = req.query.clone();
                ctx.body = body_text(alert);
                ctx.headers = replayable_headers(&req.headers)
                    .into_iter()
                    .map(|(name, value)| Header { name, value })
                    .collect();
                ctx.reported = alert
                    .exception_value()
                    .or(alert.message.as_deref())
                    .unwrap_or("")
                    .to_string();
            }
            if let Some((t, input, func)) = call {
                strategy = Strategy::CallReplay;
                template = "go/call_replay_test.go.tera";
                test_dir = t.dir.clone();
                ctx.package = t.package.clone();
                ctx.callee = t.name.clone();
                ctx.lhs = t.lhs.clone();
                ctx.input = input;
                ctx.reported = alert
                    .exception_value()
                    .or(alert.message.as_deref())
                    .unwrap_or("")
                    .to_string();
                reasons.push(format!(
                    "the error quotes the input {} rejected; {}(string), which calls it and is on or called from the crashing stack, is called with it",
                    func.trim_end_matches('('),
                    t.name
                ));
            } else if let Some((h, values)) = direct {
                test_dir = h.dir.clone();
                ctx.package = h.package.clone();
                if h.setup {
                    ctx.setup = h.expr.clone();
                } else {
                    ctx.handler = h.expr.clone();
                }
                ctx.path_values = values;
                let gomod = module.as_ref().map(|m| {
                    if m.dir.is_empty() {
                        "go.mod".to_string()
                    } else {
                        format!("{}/go.mod", m.dir)
                    }
                });
                ctx.sentry_hub = h.body.contains("GetHubFromContext(")
                    && gomod
                        .and_then(|g| snap.read(&g))
                        .is_some_and(|t| t.contains("github.com/getsentry/sentry-go "));
                reasons.push(if h.setup {
                    format!(
                        "the event has the request ({} {}); the crashing closure is registered by {}(mux *http.ServeMux): the test registers those routes on a fresh ServeMux and sends the request through it with httptest (cookies and credentials left out)",
                        ctx.method, ctx.path, h.label
                    )
                } else {
                    format!(
                        "the event has the request ({} {}); the handler on the crashing stack, {}, is called with it through httptest (cookies and credentials left out)",
                        ctx.method, ctx.path, h.label
                    )
                });
            } else if let Some((m, r)) = router {
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
                reasons.push(format!(
                    "the event has the request ({} {}); it is replayed through {}() with httptest (cookies and credentials left out)",
                    ctx.method, ctx.path, r.func
                ));
            } else {
                reasons.push(if alert.request.is_some() {
                    "the event has a request but no handler on the stack could be called honestly (handler-shaped function with a constructible receiver and known path values) and no zero-argument router constructor (func X() http.Handler) was found".into()
                } else {
                    "Go events carry no local variables and this one has no request: the crashing call's inputs are unknown".into()
                });
                if let (Some(pkg), Some((recv, name))) = (pkg, func) {
                    let public =
                        pkg != "main" && exported(&name) && recv.as_deref().is_none_or(exported);
                    let reference = match &recv {
                        Some(r) if r.starts_with('*') => format!("(*{{P}}{}).{name}", &r[1..]),
                        Some(r) => format!("{{P}}{r}.{name}"),
                        None => format!("{{P}}{name}"),
                    };
                    if let Some(m) = module.as_ref().filter(|_| public) {
                        let rel = dir
                            .strip_prefix(&m.dir)
                            .unwrap_or(&dir)
                            .trim_start_matches('/');
                        ctx.import_path = if rel.is_empty() {
                            m.path.clone()
                        } else {
                            format!("{}/{rel}", m.path)
                        };
                        ctx.import_name = pkg.clone();
                        ctx.reference = reference.replace("{P}", &format!("{pkg}."));
                    } else {
                        test_dir = dir.clone();
                        ctx.package = pkg;
                        ctx.reference = reference.replace("{P}", "");
                        reasons.push(
                            "the crashing function is unexported: the test lives in its package"
                                .into(),
                        );
                    }
                }
            }
        } else {
            reasons.push("no frame maps to a Go file of this repository".into());
        }
        ctx.event.reasons = reasons.clone();
        // `router` and `reference` are Go expressions built from identifiers checked above; check the
        // whole expression once more before it enters code unquoted.
        let expr = regex::Regex::new(r"^[A-Za-z0-9_.()*&{}]*$").expect("static regex");
        if !expr.is_match(&ctx.router)
            || !expr.is_match(&ctx.reference)
            || !expr.is_match(&ctx.handler)
            || !expr.is_match(&ctx.setup)
            || !expr.is_match(&ctx.callee)
            || !ctx
                .lhs
                .chars()
                .all(|c| c == '_' || c == ',' || c == ' ' || c.is_ascii_lowercase())
        {
            anyhow::bail!(
                "refusing unsafe Go expression {:?} / {:?}",
                ctx.router,
                ctx.reference
            );
        }
        let content = render::render(template, &ctx)?;
        let path = if test_dir.is_empty() {
            format!("sentry_{sfx}_test.go")
        } else {
            format!("{test_dir}/sentry_{sfx}_test.go")
        };
        let mut extra_prefixes = vec![];
        if test_dir != input.repro_dir {
            extra_prefixes.push(if test_dir.is_empty() {
                path.clone()
            } else {
                test_dir.clone()
            });
        }
        // Commands run from the module root.
        let (cd, pkg_rel) = match &module {
            Some(m) if !m.dir.is_empty() => (
                format!("cd {} && ", m.dir),
                test_dir
                    .strip_prefix(&m.dir)
                    .unwrap_or(&test_dir)
                    .trim_start_matches('/')
                    .to_string(),
            ),
            _ => (String::new(), test_dir.clone()),
        };
        let pkg_arg = if pkg_rel.is_empty() {
            ".".to_string()
        } else {
            format!("./{pkg_rel}/")
        };
        Ok(GenOutput {
            language: "go",
            framework: "go".into(),
            strategy,
            files: vec![NewFile {
                path: path.clone(),
                content,
            }],
            test_files: vec![path],
            test_command: format!("{cd}go test {pkg_arg} -run '^TestSentry_{sfx}$' -count=1 -v"),
            suite_command: Some(format!("{cd}go test ./... -count=1")),
            crash,
            reasons,
            extra_prefixes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions() {
        assert_eq!(
            go_function("handleSplit"),
            Some((None, "handleSplit".into()))
        );
        assert_eq!(
            go_function("(*Server).total.func1"),
            Some((Some("*Server".into()), "total".into()))
        );
        assert_eq!(
            go_function("Ledger.Sum"),
            Some((Some("Ledger".into()), "Sum".into()))
        );
        assert_eq!(
            go_function("NewRouter.func2.1"),
            Some((None, "NewRouter".into()))
        );
        assert_eq!(go_function("a;b"), None);
    }

    #[test]
    fn urls_and_headers() {
        assert_eq!(url_path("http://h:1/split?x=1"), "/split");
        assert_eq!(url_path("split"), "/split");
        let h = replayable_headers(&[
            ("Cookie".into(), "s".into()),
            ("User-Agent".into(), "x".into()),
            ("Authorization".into(), "t".into()),
        ]);
        assert_eq!(h, vec![("User-Agent".to_string(), "x".to_string())]);
    }

    #[test]
    fn servemux_patterns() {
        let v = |p: &str, u: &str| match_pattern(p, u);
        assert_eq!(
            v("GET /bills/{id}/guests/{n}", "/bills/b42/guests/4"),
            Some(vec![("id".into(), "b42".into()), ("n".into(), "4".into())])
        );
        assert_eq!(v("/split", "/split"), Some(vec![]));
        assert_eq!(v("/split", "/other"), None);
        assert_eq!(v("/static/", "/static/a/b.css"), Some(vec![]));
        assert_eq!(
            v("example.com/files/{p...}", "/files/a/b"),
            Some(vec![("p".into(), "a/b".into())])
        );
        assert_eq!(v("/{$}", "/"), Some(vec![]));
        assert_eq!(v("/bills/{id}", "/bills/"), None);
    }

    #[test]
    fn declarations_and_handler_shapes() {
        let src = "package x\n\nfunc (s *Server) handleX(w http.ResponseWriter, r *http.Request) {\n\tif s.n > 0 { w.Write([]byte(\"}\")) }\n}\n\nfunc mk() http.HandlerFunc {\n\treturn nil\n}\n";
        let d = decls_of_text(src);
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].recv, Some(("Server".into(), true)));
        assert!(handler_params(&d[0].params));
        assert!(d[0].body.contains("s.n > 0"));
        assert_eq!(d[1].results, "http.HandlerFunc");
        assert!(handler_params("http.ResponseWriter, *http.Request"));
        assert!(!handler_params(
            "w http.ResponseWriter, r *http.Request, id int"
        ));
    }

    #[test]
    fn quoted_inputs() {
        assert_eq!(
            quoted_input("line 2: parse rate: strconv.ParseFloat: parsing \"5,5\": invalid syntax"),
            Some(("strconv.ParseFloat(".into(), "5,5".into()))
        );
        assert_eq!(
            quoted_input("strconv.Atoi: parsing \"a\\\"b\\x01\": invalid syntax"),
            Some(("strconv.Atoi(".into(), "a\"b\u{1}".into()))
        );
        assert_eq!(
            quoted_input("load: parsing time \"2024-13-01\": month out of range"),
            Some(("time.Parse".into(), "2024-13-01".into()))
        );
        assert_eq!(
            quoted_input("webhook: parse \"http://[::1\": missing ']' in host"),
            Some(("url.Parse".into(), "http://[::1".into()))
        );
        assert_eq!(quoted_input("runtime error: integer divide by zero"), None);
    }

    /// A repository with these files committed, for functions that read a Snapshot.
    use crate::repo::with_repo;

    const COUNTER: &str = "package main\n\nimport (\n\t\"net/http\"\n\t\"sync\"\n)\n\ntype counter struct {\n\tmu    sync.Mutex\n\tviews map[string]int\n}\n\nfunc (c *counter) handleHit(w http.ResponseWriter, r *http.Request) {\n\tc.views[r.URL.Query().Get(\"page\")]++\n}\n";

    #[test]
    fn zero_receiver_only_when_the_app_builds_it() {
        let gomod = ("go.mod", "module example.com/hits\n\ngo 1.25\n");
        let main_zero = "package main\n\nfunc main() {\n\tc := &counter{}\n\thttp.HandleFunc(\"/hit\", c.handleHit)\n}\n";
        with_repo(
            &[gomod, ("counter.go", COUNTER), ("main.go", main_zero)],
            |snap| {
                let decls = package_decls(snap, "");
                let m = decls.iter().find(|d| d.name == "handleHit").unwrap();
                assert_eq!(
                    receiver_expr(snap, "", &decls, m).as_deref(),
                    Some("(&counter{})")
                );
            },
        );
        // Built with field values (or only in a comment): a nil map is not what production serves.
        let main_filled = "package main\n\nfunc main() {\n\t// c := &counter{}\n\tc := &counter{views: load()}\n\thttp.HandleFunc(\"/hit\", c.handleHit)\n}\n";
        with_repo(
            &[gomod, ("counter.go", COUNTER), ("main.go", main_filled)],
            |snap| {
                let decls = package_decls(snap, "");
                let m = decls.iter().find(|d| d.name == "handleHit").unwrap();
                assert_eq!(receiver_expr(snap, "", &decls, m), None);
            },
        );
        // Another package builds it qualified.
        let api = COUNTER
            .replace("package main", "package api")
            .replace("counter", "Counter");
        // Built zero, then given its fields: production's receiver is not the zero value.
        let main_set = "package main\n\nfunc main() {\n\tc := &counter{}\n\tc.views = load()\n\thttp.HandleFunc(\"/hit\", c.handleHit)\n}\n";
        with_repo(
            &[gomod, ("counter.go", COUNTER), ("main.go", main_set)],
            |snap| {
                assert!(!app_builds_zero(snap, "", "counter"));
            },
        );
        let main_arg = "package main\n\nfunc main() {\n\tserve(&counter{})\n}\n";
        with_repo(
            &[gomod, ("counter.go", COUNTER), ("main.go", main_arg)],
            |snap| {
                assert!(app_builds_zero(snap, "", "counter"));
            },
        );
        let main_q = "package main\n\nfunc main() {\n\tvar c = new(api.Counter)\n\t_ = c\n}\n";
        with_repo(
            &[
                gomod,
                ("internal/api/api.go", &api),
                ("cmd/hits/main.go", main_q),
            ],
            |snap| {
                assert!(app_builds_zero(snap, "internal/api", "Counter"));
                assert!(!app_builds_zero(snap, "internal/api", "Count"));
            },
        );
    }

    #[test]
    fn call_target_method_with_a_constructor() {
        let gomod = ("go.mod", "module example.com/inv\n\ngo 1.25\n");
        let period = "package period\n\nimport \"time\"\n\ntype Parser struct {\n\tLayout string\n\tLoc *time.Location\n}\n\nfunc NewParser() *Parser {\n\treturn &Parser{Layout: \"2006-01\", Loc: time.UTC}\n}\n\nfunc (p *Parser) Month(s string) (time.Time, error) {\n\treturn time.ParseInLocation(p.Layout, s, p.Loc)\n}\n";
        let main = "package main\n\nfunc run(xs []string) {\n\tp := period.NewParser()\n\tfor _, x := range xs {\n\t\tif _, err := p.Month(x); err != nil {\n\t\t\tsentry.CaptureException(err)\n\t\t}\n\t}\n}\n";
        with_repo(
            &[
                gomod,
                ("internal/billing/period/period.go", period),
                ("cmd/inv/main.go", main),
            ],
            |snap| {
                let module = root_module(snap).unwrap();
                let frame = Frame {
                    function: Some("run".into()),
                    module: Some("example.com/inv/cmd/inv".into()),
                    ..Default::default()
                };
                let stack = vec![(&frame, "cmd/inv/main.go".to_string())];
                let t = call_target(snap, &module, &stack, "time.Parse").unwrap();
                assert_eq!(t.name, "NewParser().Month");
                assert_eq!(t.dir, "internal/billing/period");
                assert_eq!(t.lhs, "_, err");
                // Without a constructor the receiver's *time.Location would be nil: no call.
                let bare = period.replace("func NewParser() *Parser {\n\treturn &Parser{Layout: \"2006-01\", Loc: time.UTC}\n}\n", "");
                with_repo(
                    &[
                        gomod,
                        ("internal/billing/period/period.go", &bare),
                        ("cmd/inv/main.go", main),
                    ],
                    |snap| {
                        let module = root_module(snap).unwrap();
                        assert!(call_target(snap, &module, &stack, "time.Parse").is_none());
                    },
                );
            },
        );
    }
}
