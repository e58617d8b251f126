//! JavaScript / TypeScript: `node:test`, jest, vitest or mocha tests under `repro/`.
//!
//! Strategies, strongest first:
//! - **request replay** (the event has a `request` and the app is Express, Koa, Fastify or a plain
//!   `node:http` server): the same method, path,
//!   query, body and content headers sent with `fetch` to the app started in-process; the test fails
//!   with `SENTRY-REPRO: SERVER ERROR` and the server-side exception when the answer is a 5xx. Chosen
//!   before call replay for web requests because it exercises the whole path, so it stays faithful
//!   wherever the fix lands (validation in the handler, a guard in a helper).
//! - **call replay**: the crashing function, or the nearest mapped caller, exported by its module,
//!   whose parameters (read from its definition at the base commit) all rebuild exactly from the
//!   frame's `vars` (a plain object, which the SDK captures one level deep, only when the body
//!   does nothing with it but read named members the capture holds; an anonymous default export,
//!   which V8 names `default`, through the module's default). A captured argument of another type
//!   than the repository's own literal calls pass (a string where tests pass a number) means the
//!   bad value came from upstream: the frame is refused and the search climbs, so the test does not
//!   pin a contract the fix will not change. An instance method runs on its receiver only when
//!   that is the one instance its module builds at load and exports (a singleton service).
//! - **scaffold**: crash site known, inputs not: imports the function when exported and fails with
//!   `NOT YET REPRODUCED`, naming what the event lacked, with the source context in comments.
//! - **boilerplate**: nothing maps.
//!
//! Event values reach the generated code only through `render`'s `js_str`/`js_ident`/`comment`
//! filters or `values::rebuild_*`, which emit `js_str` literals and fixed tokens only.

mod compiled;
mod express;
mod project;
mod source;
mod values;

use std::collections::BTreeSet;

use anyhow::Result;
use serde::Serialize;
use serde_json::Value;

use super::{GenInput, GenOutput, Generator};
use crate::alert::{Alert, Frame};
use crate::contract::{
    CrashSite, Strategy, MARKER_NOT_REPRODUCED, MARKER_REPRODUCED, MARKER_SERVER_ERROR,
};
use crate::git::NewFile;
use crate::plan::{mapped_frames, MappedFrame};
use crate::render::{self, is_js_ident};
use crate::repo::Snapshot;

use express::AppSource;
use project::{Framework, JsProject};
use source::{Export, Kind, Param};
use values::Rebuilt;

pub use source::{call_site_kinds, export_of, find_function, mask};

pub struct JavaScript;

const SOURCE_EXTS: &[&str] = &["js", "mjs", "cjs", "ts", "mts", "cts", "jsx", "tsx"];
const MAX_FILES: usize = 4000;
const MAX_BYTES: usize = 24 * 1024 * 1024;

/// Fields every template gets.
#[derive(Serialize, Clone)]
struct Common {
    ident: String,
    title: String,
    exception_type: String,
    exception_value: String,
    web_url: String,
    strategy: &'static str,
    esm: bool,
    framework: &'static str,
    test_fn: &'static str,
    /// What closes the test call: the runner's per-test timeout raised to [`TEST_TIMEOUT_MS`].
    test_close: &'static str,
    test_name: String,
    marker_reproduced: &'static str,
    marker_not_reproduced: &'static str,
    marker_server_error: &'static str,
    stack: Vec<String>,
    crash_file: String,
    crash_line: String,
    crash_function: String,
    context: Vec<String>,
}

#[derive(Serialize)]
struct CallCtx {
    #[serde(flatten)]
    common: Common,
    import_path: String,
    export_key: String,
    is_default: bool,
    /// Static method name on the exported class (else the export is the function).
    method: Option<String>,
    function: String,
    file: String,
    line: String,
    args: Vec<String>,
    arg_notes: Vec<String>,
}

#[derive(Serialize)]
struct RequestCtx {
    #[serde(flatten)]
    common: Common,
    app_mode: &'static str,
    app_path: String,
    app_file: String,
    export_key: String,
    is_default: bool,
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Option<String>,
}

#[derive(Serialize)]
struct ScaffoldCtx {
    #[serde(flatten)]
    common: Common,
    import_path: String,
    export_key: String,
    is_default: bool,
    function: String,
    details: String,
    lacked: Vec<String>,
    captured: Vec<String>,
}

/// A repository source file read for static checks.
struct SourceFile {
    path: String,
    text: String,
    is_test: bool,
}

impl Generator for JavaScript {
    fn language(&self) -> &'static str {
        "javascript"
    }

    fn generate(&self, input: &GenInput) -> Result<GenOutput> {
        // Frames in tsc's output folder (not in the repository) pointed at their .ts sources.
        let Some((alert, notes)) = compiled::map_to_sources(input.alert, input.snap) else {
            return generate_from(input);
        };
        let mapped_input = GenInput {
            alert: &alert,
            snap: input.snap,
            project: input.project,
            ident: input.ident,
            repro_dir: input.repro_dir,
        };
        let mut out = generate_from(&mapped_input)?;
        out.reasons.extend(notes);
        Ok(out)
    }
}

fn generate_from(input: &GenInput) -> Result<GenOutput> {
    let alert = input.alert;
    let snap = input.snap;
    let project = JsProject::read(snap);
    let mapped = mapped_frames(alert, snap, SOURCE_EXTS);
    let crash = mapped.last().map(|m| CrashSite {
        file: m.path.clone(),
        function: m.frame.function.clone(),
        line: m.frame.lineno,
    });
    let test_path = project.test_path(input.repro_dir, input.ident);
    let sources = walk_sources(snap, input.repro_dir);
    let mut common = common_ctx(alert, input.ident, &project, mapped.last());
    let mut reasons: Vec<String> = Vec::new();

    let ts_note = project.typescript_note(crash.as_ref().map(|c| c.file.as_str()));
    let vitest_config = vitest_config_file(input, &project, &test_path)?;
    let finish = |strategy: Strategy, content: String, mut reasons: Vec<String>| GenOutput {
        language: "javascript",
        framework: project.framework.name().into(),
        strategy,
        files: std::iter::once(NewFile {
            path: test_path.clone(),
            content,
        })
        .chain(vitest_config.clone())
        .collect(),
        test_files: std::iter::once(test_path.clone())
            .chain(vitest_config.iter().map(|f| f.path.clone()))
            .collect(),
        test_command: project.test_command(&test_path, input.ident),
        suite_command: Some(
            input
                .project
                .test_command
                .clone()
                .unwrap_or_else(|| project.suite_command()),
        ),
        crash: crash.clone(),
        reasons: {
            reasons.extend(ts_note.clone());
            reasons
        },
        extra_prefixes: vec![],
    };

    // Request replay.
    if let Some(req) = &alert.request {
        match plan_request(input, &project, &sources, req, &mapped) {
            Ok((mut ctx_parts, notes)) => {
                common.strategy = Strategy::RequestReplay.as_str();
                common.test_name = format!(
                    "sentry {}: {} {} does not answer 5xx ({})",
                    input.ident,
                    ctx_parts.method,
                    truncate(&ctx_parts.target, 200),
                    alert.exception_type().unwrap_or("error")
                );
                ctx_parts.common = common;
                let content = render::render("javascript/request_replay.test.js.tera", &ctx_parts)?;
                let mut r = vec![format!(
                        "request replay: the event carries the {} {} request and the repository has a web app ({} in {}); the replay goes through every layer, so it holds wherever the fix lands",
                        ctx_parts.method,
                        render::comment(&truncate(&ctx_parts.target, 200)),
                        express::framework_label(
                            &project,
                            sources.iter().filter(|s| !s.is_test).map(|s| s.text.as_str())
                        ),
                        ctx_parts.app_file
                    )];
                r.extend(notes);
                return Ok(finish(Strategy::RequestReplay, content, r));
            }
            Err(why) => reasons.push(format!("no request replay: {why}")),
        }
    }

    // Call replay: the test tells the reported error from others by its name, so the reported type
    // must be one a JavaScript error can have.
    let test_sources: Vec<&SourceFile> = sources.iter().collect();
    let type_ok = alert.exception_type().is_some_and(is_js_ident);
    let call = if type_ok {
        plan_call(input, &project, &mapped, &test_sources)
    } else {
        Err(vec!["the reported exception type is not a JavaScript error name, so a call replay could not tell it from other errors".into()])
    };
    match call {
        Ok(mut ctx) => {
            common.strategy = Strategy::CallReplay.as_str();
            common.test_name = format!(
                "sentry {}: {} does not throw {}",
                input.ident,
                ctx.function,
                alert.exception_type().unwrap_or("the reported error")
            );
            let mut r = vec![format!(
                    "call replay: {} ({}:{}) is exported and every argument rebuilds exactly from the frame's local variables",
                    ctx.function, ctx.file, ctx.line
                )];
            r.extend(reasons);
            ctx.common = common;
            let content = render::render("javascript/call_replay.test.js.tera", &ctx)?;
            return Ok(finish(Strategy::CallReplay, content, r));
        }
        Err(why) => reasons.extend(why.into_iter().map(|w| format!("no call replay: {w}"))),
    }

    // Scaffold.
    if let Some(m) = mapped.last() {
        common.strategy = Strategy::Scaffold.as_str();
        let ctx = scaffold_ctx(input, &project, m, common, &reasons);
        let content = render::render("javascript/scaffold.test.js.tera", &ctx)?;
        let mut r = vec![format!(
                "scaffold: the crash site {}:{} is known but the event does not carry inputs that rebuild a call or a request",
                m.path,
                m.frame.lineno.unwrap_or(0)
            )];
        r.extend(reasons);
        return Ok(finish(Strategy::Scaffold, content, r));
    }

    common.strategy = Strategy::Boilerplate.as_str();
    common.test_name = format!("sentry {} is reproduced", input.ident);
    let content = render::render("javascript/boilerplate.test.js.tera", &common)?;
    reasons.insert(
        0,
        "boilerplate: no stack frame maps to a file of this repository".into(),
    );
    Ok(finish(Strategy::Boilerplate, content, reasons))
}

/// The Vitest config that lets the project's own config run the repro test (see `project`).
fn vitest_config_file(
    input: &GenInput,
    project: &JsProject,
    test_path: &str,
) -> Result<Option<NewFile>> {
    let (Some(path), Some(base)) = (
        project.vitest_config_path(test_path),
        project.vitest_config.as_deref(),
    ) else {
        return Ok(None);
    };
    #[derive(Serialize)]
    struct Ctx {
        base_config: String,
        base_import: String,
        include: String,
    }
    let ctx = Ctx {
        base_config: base.to_string(),
        base_import: import_path(input.repro_dir, base),
        include: test_path.to_string(),
    };
    let content = render::render("javascript/vitest.config.mjs.tera", &ctx)?;
    Ok(Some(NewFile { path, content }))
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() > n {
        format!("{}…", s.chars().take(n).collect::<String>())
    } else {
        s.to_string()
    }
}

/// Per-test timeout of a generated test. Runner defaults (mocha 2 s, jest and vitest 5 s) are too
/// short for a replay that loads the app and starts a server on a busy CI machine: a timeout there
/// fails a fixed branch for no reason. `node:test` has no default timeout.
const TEST_TIMEOUT_MS: u32 = 60_000;

/// The end of the test call, raising the runner's timeout to [`TEST_TIMEOUT_MS`].
fn test_close(framework: Framework) -> &'static str {
    const _: () = assert!(TEST_TIMEOUT_MS == 60_000, "update the literals below");
    match framework {
        Framework::Jest | Framework::Vitest => "}, 60000);",
        Framework::Mocha => "}).timeout(60000);",
        Framework::NodeTest => "});",
    }
}

fn common_ctx(
    alert: &Alert,
    ident: &str,
    project: &JsProject,
    crash: Option<&MappedFrame>,
) -> Common {
    let frame = crash.map(|m| m.frame);
    let mut context: Vec<String> = Vec::new();
    if let Some(f) = frame {
        let first = f
            .lineno
            .unwrap_or(0)
            .saturating_sub(f.pre_context.len() as u64);
        for (i, l) in f.pre_context.iter().enumerate() {
            context.push(format!("{:>5}   {}", first + i as u64, l));
        }
        if let Some(l) = &f.context_line {
            context.push(format!("{:>5} > {}", f.lineno.unwrap_or(0), l));
        }
        for (i, l) in f.post_context.iter().enumerate() {
            context.push(format!(
                "{:>5}   {}",
                f.lineno.unwrap_or(0) + 1 + i as u64,
                l
            ));
        }
    }
    context.truncate(30);
    let title = alert.title.clone().unwrap_or_else(|| {
        format!(
            "{}: {}",
            alert.exception_type().unwrap_or("Error"),
            alert.exception_value().unwrap_or("")
        )
    });
    Common {
        ident: ident.to_string(),
        title,
        exception_type: alert.exception_type().unwrap_or("Error").to_string(),
        exception_value: alert.exception_value().unwrap_or("").to_string(),
        web_url: alert.web_url.clone().unwrap_or_default(),
        strategy: "",
        esm: project.esm_syntax(),
        framework: project.framework.name(),
        test_fn: if project.framework == Framework::Mocha {
            "it"
        } else {
            "test"
        },
        test_close: test_close(project.framework),
        test_name: String::new(),
        marker_reproduced: MARKER_REPRODUCED,
        marker_not_reproduced: MARKER_NOT_REPRODUCED,
        marker_server_error: MARKER_SERVER_ERROR,
        stack: alert
            .primary_frames()
            .iter()
            .rev()
            .take(20)
            .map(|f| {
                format!(
                    "at {} ({}:{})",
                    f.function.as_deref().unwrap_or("?"),
                    f.filename
                        .as_deref()
                        .or(f.abs_path.as_deref())
                        .unwrap_or("?"),
                    f.lineno.unwrap_or(0)
                )
            })
            .collect(),
        crash_file: crash.map(|m| m.path.clone()).unwrap_or_default(),
        crash_line: frame
            .and_then(|f| f.lineno)
            .map(|l| l.to_string())
            .unwrap_or_default(),
        crash_function: frame.and_then(|f| f.function.clone()).unwrap_or_default(),
        context,
    }
}

/// Repository-relative path → specifier relative to the repro folder (`../src/report.js`).
fn import_path(repro_dir: &str, file: &str) -> String {
    let depth = repro_dir.split('/').filter(|s| !s.is_empty()).count();
    format!("{}{}", "../".repeat(depth), file)
}

/// Source files of the repository (bounded), skipping dependencies, build output and our own folder.
fn walk_sources(snap: &Snapshot, repro_dir: &str) -> Vec<SourceFile> {
    let skip = [
        "node_modules",
        "dist",
        "build",
        "coverage",
        "out",
        "vendor",
        "bower_components",
        "tmp",
    ];
    let mut out = Vec::new();
    let mut total = 0usize;
    let mut dirs = vec![String::new()];
    while let Some(dir) = dirs.pop() {
        let mut entries = snap.list_dir(&dir);
        entries.sort();
        for (name, is_dir) in entries {
            if name.starts_with('.') {
                continue;
            }
            let path = if dir.is_empty() {
                name.clone()
            } else {
                format!("{dir}/{name}")
            };
            if is_dir {
                if !skip.contains(&name.as_str()) && path != repro_dir {
                    dirs.push(path);
                }
                continue;
            }
            let ext = name.rsplit('.').next().unwrap_or("");
            let wanted = SOURCE_EXTS.contains(&ext)
                || (ext == "json" && !name.ends_with("-lock.json") && name != "package.json");
            if !wanted || out.len() >= MAX_FILES || total >= MAX_BYTES {
                continue;
            }
            if let Some(text) = snap.read(&path) {
                if text.len() > 2 * 1024 * 1024 {
                    continue;
                }
                total += text.len();
                let is_test = path
                    .split('/')
                    .any(|c| matches!(c, "test" | "tests" | "__tests__" | "spec" | "e2e"))
                    || name.contains(".test.")
                    || name.contains(".spec.");
                out.push(SourceFile {
                    path,
                    text,
                    is_test,
                });
            }
        }
    }
    out
}

fn plan_request(
    input: &GenInput,
    project: &JsProject,
    sources: &[SourceFile],
    req: &crate::alert::Request,
    mapped: &[MappedFrame],
) -> Result<(RequestCtx, Vec<String>), String> {
    if mapped.is_empty() {
        return Err("no stack frame maps to the repository, so nothing shows the request reached this app's code".into());
    }
    let app_sources: Vec<(String, String)> = sources
        .iter()
        .filter(|s| !s.is_test && !s.path.ends_with(".json"))
        .map(|s| (s.path.clone(), s.text.clone()))
        .collect();
    let app = express::find_app(
        input.snap,
        project,
        input.project.app.as_deref(),
        &app_sources,
    )?;
    let replay = express::build_replay(req)?;
    let data_sources: Vec<(String, String)> = sources
        .iter()
        .filter(|s| !s.is_test)
        .map(|s| (s.path.clone(), s.text.clone()))
        .collect();
    let unknown = express::unknown_segments(&replay.target, &data_sources);
    if !unknown.is_empty() {
        return Err(format!(
            "path segment(s) {} occur nowhere in the repository (route strings or seeded data): the in-process app would likely answer 404 and the test would pass on the buggy code",
            unknown.iter().map(|s| render::md_inline(&truncate(s, 60))).collect::<Vec<_>>().join(", ")
        ));
    }
    let (app_mode, file, export_key, is_default) = match &app {
        AppSource::Export { file, export } => (
            "export",
            file.clone(),
            match export {
                Export::Named(k) => k.clone(),
                Export::Default => "default".into(),
            },
            *export == Export::Default,
        ),
        AppSource::Entry { file } => ("entry", file.clone(), String::new(), false),
    };
    if !is_default && app_mode == "export" && !is_js_ident(&export_key) {
        return Err(format!("app export {export_key:?} is not an identifier"));
    }
    let mut notes = replay.notes.clone();
    notes.push(match &app {
        AppSource::Export { .. } => format!("the app is the export `{export_key}` of {file} (started with listen(0))"),
        AppSource::Entry { .. } => format!("the app is started by loading the entry {file} with listen() redirected to an ephemeral port, keeping the project's own wiring"),
    });
    let dropped: Vec<String> = req
        .headers
        .iter()
        .map(|(k, _)| k.to_ascii_lowercase())
        .filter(|k| !replay.headers.iter().any(|(h, _)| h == k))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if !dropped.is_empty() {
        notes.push(format!(
            "headers not replayed (credentials, cookies, hop-by-hop, scrubbed or irrelevant): {}",
            render::comment(&truncate(&dropped.join(", "), 300))
        ));
    }
    Ok((
        RequestCtx {
            common: common_placeholder(),
            app_mode,
            app_path: import_path(input.repro_dir, &file),
            app_file: file,
            export_key,
            is_default,
            method: replay.method,
            target: replay.target,
            headers: replay.headers,
            body: replay.body,
        },
        notes,
    ))
}

fn common_placeholder() -> Common {
    Common {
        ident: String::new(),
        title: String::new(),
        exception_type: String::new(),
        exception_value: String::new(),
        web_url: String::new(),
        strategy: "",
        esm: false,
        framework: "",
        test_fn: "test",
        test_close: "});",
        test_name: String::new(),
        marker_reproduced: MARKER_REPRODUCED,
        marker_not_reproduced: MARKER_NOT_REPRODUCED,
        marker_server_error: MARKER_SERVER_ERROR,
        stack: vec![],
        crash_file: String::new(),
        crash_line: String::new(),
        crash_function: String::new(),
        context: vec![],
    }
}

/// `Object.formatRow` → (`None`, `formatRow`); `CartStore.getCart` → (`Some("CartStore")`, `getCart`);
/// `?`, `<anonymous>` → `None`.
fn function_name(raw: &str) -> Option<(Option<String>, String)> {
    let mut s = raw.trim();
    for p in ["async ", "new "] {
        s = s.strip_prefix(p).unwrap_or(s);
    }
    let s = s.split(" [as ").next().unwrap_or(s).trim();
    let (recv, name) = match s.rsplit_once('.') {
        Some((r, n)) => (
            Some(r.rsplit('.').next().unwrap_or(r).to_string()),
            n.to_string(),
        ),
        None => (None, s.to_string()),
    };
    if !is_js_ident(&name) {
        return None;
    }
    let recv = recv.filter(|r| {
        !matches!(
            r.as_str(),
            "Object" | "Module" | "exports" | "module" | "global" | "globalThis"
        ) && is_js_ident(r)
    });
    Some((recv, name))
}

/// V8's name for a module's anonymous default function: `default` (`export default (…) => …`),
/// `exports.default` (the same compiled to CommonJS by tsc/ts-node/Babel, shown as
/// `Object.exports.default`) or `module.exports` (`module.exports = (…) => …`).
fn is_anonymous_default(raw: &str) -> bool {
    let s = raw.trim();
    let s = s.strip_prefix("async ").unwrap_or(s);
    let s = s.strip_prefix("Object.").unwrap_or(s);
    matches!(s, "default" | "exports.default" | "module.exports")
}

/// Var names under this frame that Sentry's `_meta` marks as trimmed or scrubbed.
fn meta_tainted(alert: &Alert, frame: &Frame, frame_index: usize) -> BTreeSet<String> {
    let Some(exc_index) = alert
        .exceptions
        .iter()
        .position(|e| e.frames.as_ptr_range().contains(&(frame as *const Frame)))
    else {
        return BTreeSet::new();
    };
    let vars_meta = alert.meta.pointer(&format!(
        "/exception/values/{exc_index}/stacktrace/frames/{frame_index}/vars"
    ));
    match vars_meta {
        Some(Value::Object(m)) => {
            if m.contains_key("") {
                // the whole vars object was trimmed
                frame
                    .vars
                    .as_ref()
                    .map(|v| v.keys().cloned().collect())
                    .unwrap_or_default()
            } else {
                m.keys().cloned().collect()
            }
        }
        _ => BTreeSet::new(),
    }
}

/// Why a frame has no `vars`. Besides the SDK option and a crash right after start-up, there is a
/// third cause worth naming: `@sentry/node` pairs the frames its debugger captured with the event's
/// frames by position from the innermost, and the debugger never sees built-ins (`JSON.parse`,
/// `Number.toFixed`), so a built-in on top of the stack shifts every pair and no frame gets any.
/// The event cannot tell these causes apart, so the message names the built-in and the others.
fn no_vars_reason(alert: &Alert, frame: &Frame) -> String {
    if let Some(builtin) = builtin_between(alert, frame) {
        return format!(
            "no local variables for this frame, though frames nearer the crash have some: the built-in {} lies between them, and @sentry/node pairs captured variables with frames by position without the built-ins its debugger never sees, so every frame below one loses them",
            render::comment(&truncate(&builtin, 80))
        );
    }
    match builtin_on_top(alert) {
        Some(builtin) => format!(
            "the event has no local variables for any frame; its innermost frame is the built-in {}, and @sentry/node pairs the variables it captured with the stack frames by position from the innermost without the built-ins its debugger never sees, so a built-in on top leaves every frame without variables even when they were captured (other causes: includeLocalVariables off, or a crash right after start-up)",
            render::comment(&truncate(&builtin, 80))
        ),
        None => "the event has no local variables for this frame (the Node SDK sends them only with includeLocalVariables, and not for a crash right after start-up)".into(),
    }
}

fn is_builtin(f: &Frame) -> bool {
    let place = f.filename.as_deref().or(f.abs_path.as_deref());
    f.in_app != Some(true)
        && f.lineno.is_none()
        && matches!(place, None | Some("<anonymous>") | Some("native"))
}

/// The built-in (`Array.sort`, `Array.map`…) between `frame` and a frame nearer the crash that
/// carries variables, when `frame` has none: the SDK's positional pairing broke at it.
fn builtin_between(alert: &Alert, frame: &Frame) -> Option<String> {
    if frame.vars.is_some() {
        return None;
    }
    let frames = alert
        .exceptions
        .iter()
        .map(|e| e.frames.as_slice())
        .chain(std::iter::once(alert.thread_frames.as_slice()))
        .find(|fs| fs.as_ptr_range().contains(&(frame as *const Frame)))?;
    let at = frames.iter().position(|f| std::ptr::eq(f, frame))?;
    let inner = &frames[at + 1..];
    let last_with_vars = inner.iter().rposition(|f| f.vars.is_some())?;
    let builtin = inner[..last_with_vars]
        .iter()
        .rev()
        .find(|f| is_builtin(f))?;
    Some(
        builtin
            .function
            .clone()
            .unwrap_or_else(|| "function".into()),
    )
}

/// The innermost frame's function when it is a V8 built-in and no frame carries variables.
fn builtin_on_top(alert: &Alert) -> Option<String> {
    let frames = alert.primary_frames();
    if frames.iter().any(|f| f.vars.is_some()) || !frames.iter().any(|f| f.in_app == Some(true)) {
        return None;
    }
    let top = frames.last()?;
    is_builtin(top).then(|| top.function.clone().unwrap_or_else(|| "function".into()))
}

fn plan_call(
    input: &GenInput,
    project: &JsProject,
    mapped: &[MappedFrame],
    sources: &[&SourceFile],
) -> Result<CallCtx, Vec<String>> {
    let _ = project;
    let mut why = Vec::new();
    for m in mapped.iter().rev() {
        let label = format!(
            "{} ({}:{})",
            render::comment(&truncate(m.frame.function.as_deref().unwrap_or("?"), 80)),
            m.path,
            m.frame.lineno.unwrap_or(0)
        );
        match plan_frame(input, m, sources) {
            Ok(ctx) => return Ok(ctx),
            Err(r) => why.push(format!("{label}: {r}")),
        }
    }
    if why.is_empty() {
        why.push("no stack frame maps to a file of the repository".into());
    }
    Err(why)
}

fn plan_frame(
    input: &GenInput,
    m: &MappedFrame,
    sources: &[&SourceFile],
) -> Result<CallCtx, String> {
    let anonymous_default = m
        .frame
        .function
        .as_deref()
        .is_some_and(is_anonymous_default);
    let (recv, name) = if anonymous_default {
        (None, "default".to_string())
    } else {
        m.frame
            .function
            .as_deref()
            .and_then(function_name)
            .ok_or("anonymous function: a test cannot call it by name")?
    };
    let vars = m
        .frame
        .vars
        .as_ref()
        .ok_or_else(|| no_vars_reason(input.alert, m.frame))?;
    let text = input.snap.read(&m.path).ok_or("file unreadable")?;
    let def = source::find_function(&text, &name, m.frame.lineno).ok_or_else(|| {
        format!(
            "no definition of `{name}` enclosing line {} found in {}",
            m.frame.lineno.unwrap_or(0),
            m.path
        )
    })?;
    let mut singleton_note = None;
    let (export, method) = if anonymous_default {
        (Export::Default, None)
    } else if def.is_method {
        if !def.is_static {
            let class = recv.as_deref().unwrap_or_default();
            let e = singleton_receiver(&text, &m.path, class, sources).ok_or_else(|| {
                format!(
                    "`{name}` is a method: calling it needs the object it ran on, whose state the event does not carry (and {} does not export the one instance of `{}` the app builds)",
                    m.path,
                    render::comment(&truncate(if class.is_empty() { "its class" } else { class }, 80))
                )
            })?;
            singleton_note = Some(format!(
                "this = the one `{class}` instance {} builds when loaded and exports (a singleton: the app's own receiver, in its state right after load)",
                m.path
            ));
            (e, Some(name.clone()))
        } else {
            // V8 shows a static method as `Function.method` (its receiver is the class
            // constructor): the class is the one whose body holds the definition.
            let class = recv
                .clone()
                .filter(|r| r != "Function")
                .or_else(|| source::enclosing_class(&text, def.line))
                .ok_or("static method without a class name in the frame or the source")?;
            let e = source::export_of(&text, &class)
                .ok_or_else(|| format!("class `{class}` is not exported by {}", m.path))?;
            (e, Some(name.clone()))
        }
    } else {
        let e = source::export_of(&text, &name).ok_or_else(|| {
            format!(
                "`{name}` is not exported by {}, so a test cannot import it",
                m.path
            )
        })?;
        (e, None)
    };
    let tainted = meta_tainted(input.alert, m.frame, m.index);
    let get = |var: &str| -> Result<Rebuilt, String> {
        if tainted.contains(var) {
            return Err(format!("`{var}` was trimmed or scrubbed by Sentry (_meta)"));
        }
        let v = vars.get(var).ok_or_else(|| {
            format!("`{var}` was not captured (the SDK leaves out functions and, for some frames, everything)")
        })?;
        if source::reassigned(&text, def.body, var, m.frame.lineno) {
            return Err(format!(
                "`{var}` is reassigned inside `{name}` before the crash line, so the captured value may not be the argument"
            ));
        }
        values::rebuild_var(v).map_err(|e| format!("`{var}` {e}"))
    };
    let mut args = Vec::new();
    let mut notes: Vec<String> = singleton_note.clone().into_iter().collect();
    let mut simple_kinds: Vec<Option<(String, Kind)>> = Vec::new();
    for p in &def.params {
        match p {
            Param::Simple { name: var, .. } => {
                let r = match vars.get(var) {
                    Some(Value::Object(obj)) if !tainted.contains(var) => {
                        object_arg(&text, &def, &name, var, obj, m.frame.lineno)?
                    }
                    _ => get(var)?,
                };
                notes.push(format!("{var} = {}", values::preview(&vars[var])));
                simple_kinds.push(Some((var.clone(), r.kind)));
                args.push(r.code);
            }
            Param::Object { fields, has_rest } => {
                if *has_rest {
                    return Err(
                        "a destructured parameter has a ...rest member the event cannot show"
                            .into(),
                    );
                }
                let mut parts = Vec::new();
                for (key, var) in fields {
                    parts.push((key.clone(), get(var)?));
                    notes.push(format!("{key} = {}", values::preview(&vars[var])));
                }
                simple_kinds.push(None);
                args.push(values::rebuild_object(&parts).code);
            }
            Param::Array {
                vars: names,
                has_rest,
            } => {
                if *has_rest {
                    return Err(
                        "a destructured parameter has a ...rest member the event cannot show"
                            .into(),
                    );
                }
                let mut parts = Vec::new();
                for var in names {
                    parts.push(get(var)?.code);
                    notes.push(format!("{var} = {}", values::preview(&vars[var])));
                }
                simple_kinds.push(None);
                args.push(format!("[{}]", parts.join(", ")));
            }
            Param::Rest(var) => {
                let r = get(var)?;
                if r.kind != Kind::Arr {
                    return Err(format!(
                        "rest parameter `{var}` was not captured as an array"
                    ));
                }
                notes.push(format!("...{var} = {}", values::preview(&vars[var])));
                args.push(format!("...{}", r.code));
            }
            Param::Unknown(raw) => {
                return Err(format!(
                    "cannot read parameter `{}`",
                    render::comment(&truncate(raw, 60))
                ));
            }
        }
    }
    // The captured arguments must be of the kinds the repository's own code passes.
    for (pos, sk) in simple_kinds.iter().enumerate() {
        let Some((var, kind)) = sk else { continue };
        if !kind.concrete() {
            continue;
        }
        let mut seen: BTreeSet<&'static str> = BTreeSet::new();
        let mut example = None;
        let mut same = false;
        for f in sources.iter().filter(|f| f.text.contains(name.as_str())) {
            for call in source::call_site_kinds(&f.text, &name) {
                let Some(k) = call.get(pos) else { continue };
                if !k.concrete() {
                    continue;
                }
                if k == kind {
                    same = true;
                } else {
                    seen.insert(k.describe());
                    example.get_or_insert_with(|| f.path.clone());
                }
            }
        }
        if !same && !seen.is_empty() {
            return Err(format!(
                "argument `{var}` was {} but the repository's own calls of `{name}` pass {} (e.g. {}): the bad value was produced upstream, so replaying this call would pin a contract the fix need not change",
                kind.describe(),
                seen.into_iter().collect::<Vec<_>>().join(" or "),
                example.unwrap_or_default()
            ));
        }
    }
    let (export_key, is_default) = match export {
        Export::Named(k) => (k, false),
        Export::Default => ("default".to_string(), true),
    };
    if !is_default && !is_js_ident(&export_key) {
        return Err(format!("export name {export_key:?} is not an identifier"));
    }
    let function = match &method {
        Some(meth) if singleton_note.is_some() => {
            format!("{}.{meth}", recv.as_deref().unwrap_or_default())
        }
        Some(meth) => format!("{export_key}.{meth}"),
        None if anonymous_default => format!("the default export of {}", m.path),
        None => name.clone(),
    };
    Ok(CallCtx {
        common: common_placeholder(),
        import_path: import_path(input.repro_dir, &m.path),
        export_key,
        is_default,
        method,
        function,
        file: m.path.clone(),
        line: m.frame.lineno.unwrap_or(0).to_string(),
        args,
        arg_notes: notes,
    })
}

/// The export of `path` that is the receiver of an instance method of `class`: the one instance
/// the app builds of it (`module.exports = new Class()` and the like), when no other non-test file
/// of the repository builds another (then `this` at the crash can only have been that instance).
fn singleton_receiver(
    text: &str,
    path: &str,
    class: &str,
    sources: &[&SourceFile],
) -> Option<Export> {
    if !is_js_ident(class) {
        return None;
    }
    let export = source::singleton_export_of(text, class)?;
    let elsewhere = sources
        .iter()
        .filter(|f| !f.is_test && f.path != path && f.text.contains(class))
        .any(|f| !source::constructions(&f.text, class).is_empty());
    (!elsewhere).then_some(export)
}

/// A plain-object argument, which the SDK captures one level deep: rebuilt only when `name`'s body
/// does nothing with it but read members the capture holds (then nothing else can observe what the
/// capture dropped), and never reassigns or mutates it.
fn object_arg(
    text: &str,
    def: &source::FnDef,
    name: &str,
    var: &str,
    obj: &serde_json::Map<String, Value>,
    crash_line: Option<u64>,
) -> Result<Rebuilt, String> {
    let incomplete = format!("`{var}` is an object captured one level deep (nested objects, functions and undefined members are dropped), so it may be incomplete");
    if source::reassigned(text, def.body, var, crash_line) {
        return Err(format!(
            "`{var}` is reassigned inside `{name}` before the crash line, so the captured value may not be the argument"
        ));
    }
    if def.end_line.is_none() {
        return Err(incomplete);
    }
    let Some(keys) = source::member_reads(text, def.body, var) else {
        return Err(format!(
            "{incomplete}, and `{name}` does more with it than read named members (passes it on, spreads, enumerates or mutates it)"
        ));
    };
    if keys.is_empty() {
        return Err(incomplete);
    }
    let missing: Vec<&String> = keys.iter().filter(|k| !obj.contains_key(*k)).collect();
    if !missing.is_empty() {
        return Err(format!(
            "{incomplete}: `{name}` reads {} which the capture lacks",
            missing
                .iter()
                .take(5)
                .map(|k| format!("`{var}.{}`", render::comment(&truncate(k, 60))))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    values::rebuild_members(obj).map_err(|e| format!("`{var}` {e}"))
}

fn scaffold_ctx(
    input: &GenInput,
    project: &JsProject,
    m: &MappedFrame,
    common: Common,
    reasons: &[String],
) -> ScaffoldCtx {
    let _ = project;
    let anonymous_default = m
        .frame
        .function
        .as_deref()
        .is_some_and(is_anonymous_default);
    let name = if anonymous_default {
        Some((None, "default".to_string()))
    } else {
        m.frame.function.as_deref().and_then(function_name)
    };
    let text = input.snap.read(&m.path).unwrap_or_default();
    let export = name
        .as_ref()
        .filter(|(recv, _)| recv.is_none())
        .and_then(|(_, n)| {
            if anonymous_default {
                source::find_function(&text, n, m.frame.lineno)
                    .map(|_| (n.clone(), Export::Default))
            } else {
                source::export_of(&text, n).map(|e| (n.clone(), e))
            }
        });
    let (import_path, export_key, is_default, function) = match export {
        Some((n, Export::Named(k))) if is_js_ident(&k) => {
            (import_path(input.repro_dir, &m.path), k, false, n)
        }
        Some((n, Export::Default)) => (
            import_path(input.repro_dir, &m.path),
            "default".into(),
            true,
            n,
        ),
        _ => (
            String::new(),
            String::new(),
            false,
            name.map(|n| n.1).unwrap_or_default(),
        ),
    };
    let shown = m.frame.function.as_deref().unwrap_or("?");
    let details = format!(
        "{} ({}:{}) raised {}: {}. The event lacked the inputs to replay it; see the comments in this file.",
        truncate(shown, 100),
        m.path,
        m.frame.lineno.unwrap_or(0),
        truncate(input.alert.exception_type().unwrap_or("an error"), 100),
        truncate(input.alert.exception_value().unwrap_or(""), 300)
    );
    let captured = m
        .frame
        .vars
        .as_ref()
        .map(|v| {
            v.iter()
                .take(30)
                .map(|(k, v)| format!("{} = {}", truncate(k, 60), values::preview(v)))
                .collect()
        })
        .unwrap_or_default();
    let mut test_common = common;
    test_common.test_name = format!(
        "sentry {}: {} does not throw {}",
        input.ident,
        truncate(shown, 100),
        input.alert.exception_type().unwrap_or("the reported error")
    );
    ScaffoldCtx {
        common: test_common,
        import_path,
        export_key,
        is_default,
        function,
        details,
        lacked: reasons.to_vec(),
        captured,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tests_raise_the_runner_timeout() {
        assert_eq!(test_close(Framework::Jest), "}, 60000);");
        assert_eq!(test_close(Framework::Vitest), "}, 60000);");
        assert_eq!(test_close(Framework::Mocha), "}).timeout(60000);");
        assert_eq!(test_close(Framework::NodeTest), "});");
        for t in ["boilerplate", "call_replay", "request_replay", "scaffold"] {
            let path = format!(
                "{}/templates/javascript/{t}.test.js.tera",
                env!("CARGO_MANIFEST_DIR")
            );
            let src = std::fs::read_to_string(path).unwrap();
            assert!(
                src.contains("\n{{ test_close }}\n"),
                "{t} closes its test with test_close"
            );
        }
    }

    #[test]
    fn function_names() {
        assert_eq!(
            function_name("Object.formatRow"),
            Some((None, "formatRow".into()))
        );
        assert_eq!(
            function_name("CartStore.getCart"),
            Some((Some("CartStore".into()), "getCart".into()))
        );
        assert_eq!(
            function_name("async checkout"),
            Some((None, "checkout".into()))
        );
        assert_eq!(function_name("?"), None);
        assert_eq!(function_name("Object.?"), None);
        assert_eq!(
            function_name("Module.wrappedCompile [as _compile]"),
            Some((None, "wrappedCompile".into()))
        );
    }

    #[test]
    fn builtin_on_top_explains_missing_vars() {
        let event = |top: serde_json::Value, vars: bool| {
            let mut app = serde_json::json!({"filename": "/srv/a/src/p.js", "function": "parse", "lineno": 6, "in_app": true});
            if vars {
                app["vars"] = serde_json::json!({"line": ""});
            }
            Alert::from_event(&serde_json::json!({
                "event_id": "0123456789abcdef0123456789abcdef", "platform": "node",
                "exception": {"values": [{"type": "SyntaxError", "value": "x",
                    "stacktrace": {"frames": [app, top]}}]},
            }))
        };
        let builtin = serde_json::json!({"filename": "<anonymous>", "function": "JSON.parse", "in_app": false});
        assert_eq!(
            builtin_on_top(&event(builtin.clone(), false)).as_deref(),
            Some("JSON.parse")
        );
        let ev = event(builtin.clone(), false);
        assert!(no_vars_reason(&ev, &ev.primary_frames()[0]).contains("the built-in JSON.parse"));
        // Vars elsewhere, or an ordinary library frame on top: not this cause.
        assert_eq!(builtin_on_top(&event(builtin, true)), None);
        let lib = serde_json::json!({"filename": "/srv/a/node_modules/x/i.js", "function": "f", "lineno": 3, "in_app": false});
        assert_eq!(builtin_on_top(&event(lib, false)), None);
    }

    #[test]
    fn builtin_between_explains_missing_vars_below_it() {
        // As @sentry/node sends a crash in a sort comparator: the comparator and the helper it
        // called carry variables, the frames below `Array.sort` none.
        let ev = Alert::from_event(&serde_json::json!({
            "event_id": "0123456789abcdef0123456789abcdef", "platform": "node",
            "exception": {"values": [{"type": "TypeError", "value": "x", "stacktrace": {"frames": [
                {"filename": "/srv/a/src/runs.js", "function": "planRuns", "lineno": 26, "in_app": true},
                {"filename": "/srv/a/src/runs.js", "function": "orderRun", "lineno": 11, "in_app": true},
                {"filename": "<anonymous>", "function": "Array.sort", "in_app": false},
                {"filename": "/srv/a/src/runs.js", "function": "?", "lineno": 14, "in_app": true,
                 "vars": {"a": {"id": "d1"}}},
                {"filename": "/srv/a/src/runs.js", "function": "windowStart", "lineno": 5, "in_app": true,
                 "vars": {"window": "<undefined>"}}
            ]}}]},
        }));
        let frames = ev.primary_frames();
        assert_eq!(
            builtin_between(&ev, &frames[1]).as_deref(),
            Some("Array.sort")
        );
        assert_eq!(
            builtin_between(&ev, &frames[0]).as_deref(),
            Some("Array.sort")
        );
        assert!(
            no_vars_reason(&ev, &frames[1]).contains("the built-in Array.sort lies between them")
        );
        // A frame with variables, or one above the built-in: not this cause.
        assert_eq!(builtin_between(&ev, &frames[3]), None);
        assert_eq!(builtin_between(&ev, &frames[2]), None);
        // No built-in in between: the ordinary explanation.
        let plain = Alert::from_event(&serde_json::json!({
            "event_id": "0123456789abcdef0123456789abcdef", "platform": "node",
            "exception": {"values": [{"type": "TypeError", "value": "x", "stacktrace": {"frames": [
                {"filename": "/srv/a/src/runs.js", "function": "orderRun", "lineno": 11, "in_app": true},
                {"filename": "/srv/a/src/runs.js", "function": "windowStart", "lineno": 5, "in_app": true,
                 "vars": {"window": "<undefined>"}}
            ]}}]},
        }));
        assert_eq!(builtin_between(&plain, &plain.primary_frames()[0]), None);
    }

    #[test]
    fn singleton_receiver_only_when_no_other_instance_is_built() {
        let svc = "class Svc {\n  async run(a) { return a.b; }\n}\nmodule.exports = new Svc();\n";
        let file = |path: &str, text: &str, is_test: bool| SourceFile {
            path: path.into(),
            text: text.into(),
            is_test,
        };
        let own = file("src/svc.js", svc, false);
        let test = file(
            "test/svc.test.js",
            "const S = require('../src/svc').constructor;\nnew Svc();\n",
            true,
        );
        let other = file(
            "src/jobs.js",
            "const { Svc } = require('./svc');\nconst x = new Svc();\n",
            false,
        );
        assert_eq!(
            singleton_receiver(svc, "src/svc.js", "Svc", &[&own, &test]),
            Some(Export::Default)
        );
        assert_eq!(
            singleton_receiver(svc, "src/svc.js", "Svc", &[&own, &other]),
            None
        );
        assert_eq!(
            singleton_receiver(svc, "src/svc.js", "Other", &[&own]),
            None
        );
        assert_eq!(singleton_receiver(svc, "src/svc.js", "", &[&own]), None);
    }

    #[test]
    fn anonymous_default_names() {
        assert!(is_anonymous_default("default"));
        assert!(is_anonymous_default("async default"));
        assert!(is_anonymous_default("Object.exports.default"));
        assert!(is_anonymous_default("module.exports"));
        assert!(!is_anonymous_default("Object.module"));
        assert!(!is_anonymous_default("exports.defaults"));
        assert!(!is_anonymous_default("defaults"));
    }

    #[test]
    fn import_paths() {
        assert_eq!(import_path("repro", "src/a.js"), "../src/a.js");
        assert_eq!(import_path("tests/repro", "src/a.js"), "../../src/a.js");
    }
}
