//! Python: pytest tests under `repro/test_sentry_<id>.py`.
//!
//! Strategies, strongest first:
//! 1. **request replay** first when the event has a `request`, a route handler (or Django-style
//!    view) is on the mapped stack above the crash, and the app can be built in the test: a fix in
//!    the handler (answer 4xx) or anywhere below passes it, which a helper's call replay would not.
//!    Skipped when the request carried credentials the replay drops and the app checks them;
//! 2. **call replay** of the crashing function when its arguments rebuild exactly from the frame's
//!    `vars` (repr strings, see `pyrepr`), it is importable, not a request-bound route handler, and it
//!    did not rebind or mutate its parameters before the crash line (vars are post-mutation);
//! 3. **request replay** when the event has a `request` and the repository has a Flask,
//!    FastAPI/Starlette or Django app we can build in the test (module-level app or `create_app()`);
//! 4. **call replay** of the nearest mapped caller whose arguments all rebuild;
//! 5. **call replay** from post-mutation state as a last resort (said so in the reasons);
//! 6. **scaffold** (crash site known, inputs not), or **boilerplate** (nothing maps).
//!
//! Replay tests fail only with the reported exception (marked `REPRODUCED`) or a 5xx (marked
//! `SERVER ERROR`); any other exception propagates as itself, so a wrong replay is visibly wrong
//! rather than silently green.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use anyhow::Result;
use serde::Serialize;
use serde_json::Value;

use super::{GenInput, GenOutput, Generator};
use crate::alert::{Alert, Frame, Request};
use crate::contract::{self, CrashSite, Strategy};
use crate::git::NewFile;
use crate::plan::{mapped_frames, MappedFrame};
use crate::render::{self, is_py_ident};
use crate::repo::Snapshot;

pub mod candidates;
pub mod pyrepr;
pub mod source;

use pyrepr::{ClassInfo, ClassResolver, Imports, PyVal};
use source::{AppRef, FnDef, Framework, MappingKind, ParamKind};

pub struct Python;

const MAX_PACKAGE_FILES: usize = 400;

/// One argument of a replayed call.
#[derive(Debug, Clone, Serialize)]
struct Assign {
    /// Local variable name (validated identifier).
    name: String,
    /// Python source built by `pyrepr::emit` (literals only).
    code: String,
}

/// A call replay the template can render.
#[derive(Debug, Clone)]
struct CallPlan {
    frame_pos: usize,
    file: String,
    line: Option<u64>,
    function: String,
    /// `Class.method` or `function`.
    qualname: String,
    module: String,
    root: String,
    /// Name imported from `module` (function or class).
    import_name: String,
    assigns: Vec<Assign>,
    call: String,
    is_async: bool,
    imports: Imports,
    mutated: Vec<String>,
    /// Decorated by something other than staticmethod/classmethod/property.
    decorated: bool,
    /// The function catches and logs the reported exception: the test watches the log records.
    log_capture: bool,
}

#[derive(Serialize)]
struct CommonCtx {
    ident: String,
    test_name: String,
    title: String,
    exception_type: String,
    exception_value: String,
    web_url: String,
    crash_file: String,
    crash_line: String,
    crash_function: String,
    /// The crash line's source text from the event (trimmed), empty when it has none.
    crash_text: String,
    marker_reproduced: &'static str,
    marker_server_error: &'static str,
    marker_not_reproduced: &'static str,
    notes: Vec<String>,
    sys_path: Vec<String>,
}

#[derive(Serialize)]
struct CallCtx {
    #[serde(flatten)]
    common: CommonCtx,
    stdlib_imports: Vec<String>,
    from_imports: Vec<(String, String)>,
    target: String,
    target_location: String,
    assigns: Vec<Assign>,
    call: String,
    is_async: bool,
    log_capture: bool,
}

#[derive(Serialize)]
struct RequestCtx {
    #[serde(flatten)]
    common: CommonCtx,
    framework: Framework,
    app_module: String,
    app_attr: String,
    app_factory: bool,
    #[serde(flatten)]
    request: ReplayRequest,
}

/// The request a replay sends, and the Django settings module when the app is Django.
#[derive(Serialize)]
struct ReplayRequest {
    django_settings: String,
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    /// `json`, `form`, `raw` or `none`.
    body_kind: &'static str,
    /// Literal built by `pyrepr::emit` (json/form) — literals only.
    body_code: String,
    raw_body: String,
    content_type: String,
}

#[derive(Serialize)]
struct ScaffoldCtx {
    #[serde(flatten)]
    common: CommonCtx,
    module: String,
    import_name: String,
    lacked: String,
    context: Vec<String>,
    context_start: u64,
    stack: Vec<String>,
}

#[derive(Serialize)]
struct BoilerplateCtx<'a> {
    ident: &'a str,
    title: String,
    exception_type: String,
    exception_value: String,
    web_url: String,
    stack: Vec<String>,
}

impl Generator for Python {
    fn language(&self) -> &'static str {
        "python"
    }

    fn candidates(&self, input: &GenInput) -> Result<super::Candidates> {
        candidates::candidates(input)
    }

    fn generate(&self, input: &GenInput) -> Result<GenOutput> {
        let alert = input.alert;
        let snap = input.snap;
        let mapped = mapped_frames(alert, snap, &["py"]);
        let path = format!("{}/test_sentry_{}.py", input.repro_dir, input.ident);
        let mut reasons = Vec::new();
        let extra_opts = pytest_overrides(snap);
        let test_command = format!("python -m pytest -q{extra_opts} {path}");
        let suite_command = Some(
            input
                .project
                .test_command
                .clone()
                .unwrap_or_else(|| "python -m pytest -q".to_string()),
        );
        let finish = |strategy, content, crash, reasons| {
            output(
                strategy,
                path.clone(),
                content,
                test_command.clone(),
                suite_command.clone(),
                crash,
                reasons,
            )
        };
        let Some(crash_mf) = mapped.last() else {
            reasons.push("no stack frame maps to a Python file of this repository".to_string());
            let content = render::render("python/boilerplate.py.tera", &boilerplate_ctx(input))?;
            return Ok(finish(Strategy::Boilerplate, content, None, reasons));
        };
        let crash = CrashSite {
            file: crash_mf.path.clone(),
            function: crash_mf.frame.function.clone(),
            line: crash_mf.frame.lineno,
        };
        let (plans, crash_is_handler) = frame_plans(input, &mapped, &mut reasons);
        let mut lacked: Vec<String> = Vec::new();
        for p in &plans {
            if let Err(e) = p {
                lacked.push(e.clone());
            }
        }

        // 1. request replay first when the crash happened while serving a request whose handler is
        // on the stack. A careful fix for a web-request crash is very often made in the handler
        // (validate the input, answer 400/404/422) rather than in the helper that raised; a call
        // replay of the helper stays red after such a fix forever, and the gate would reject it.
        // The request replay goes through every layer, so it holds wherever the fix lands (as the
        // JavaScript generator does). Not when the request carried credentials we never replay
        // and the app reads them or guards routes: the replay may stop at that auth check
        // (401/403, green on the buggy code), so the call replay, which does not depend on them,
        // stays first.
        let handler = if crash_is_handler || alert.request.is_none() {
            None
        } else {
            // callers of the crashing function only: a crash in the handler itself is replayed
            // as before (a call replay of it holds for a fix in it)
            mapped[..mapped.len() - 1]
                .iter()
                .rev()
                .find_map(|mf| web_handler_name(snap, mf))
        };
        let credentials = alert
            .request
            .as_ref()
            .filter(|_| handler.is_some())
            .map(dropped_credentials)
            .filter(|d| {
                !d.is_empty()
                    && app_checks_credentials(
                        snap,
                        &source::package_files(snap, &crash.file, MAX_PACKAGE_FILES),
                        d,
                    )
            })
            .map(|d| format!("credentials ({})", d.join(", ")));
        let mut request_tried = false;
        if let (Some(handler), None) = (&handler, &credentials) {
            request_tried = true;
            match plan_request(input, &mapped, &crash) {
                Ok((ctx_parts, mut why)) => {
                    reasons.push(format!(
                        "request replay first: the crash happened while {handler} served the request, and a fix in the handler (validating the input, answering 4xx) or in any function below it passes the replay, which a call replay of a lower function would reject"
                    ));
                    reasons.append(&mut why);
                    let content = render_request(input, &crash, ctx_parts)?;
                    return Ok(finish(
                        Strategy::RequestReplay,
                        content,
                        Some(crash),
                        reasons,
                    ));
                }
                Err(why) => reasons.push(format!("no request replay: {why}")),
            }
        } else if let (Some(handler), Some(cred)) = (&handler, &credentials) {
            reasons.push(format!(
                "call replay kept before the request replay although {handler} served the request: the request carried {cred}, which is never replayed, so a replay might stop at the app's auth check and pass on the buggy code"
            ));
        }

        // 2. the crashing function itself, inputs exact and unmutated
        if let Some(Ok(plan)) = plans.first() {
            if plan.mutated.is_empty() && !crash_is_handler {
                reasons.push(format!(
                    "call replay of {} ({}): every argument rebuilt exactly from the crash frame's vars",
                    plan.qualname, plan.file
                ));
                let content = render_call(input, plan, &crash, vec![])?;
                return Ok(finish(Strategy::CallReplay, content, Some(crash), reasons));
            }
        }
        if crash_is_handler {
            reasons.push(format!(
                "{} is a web route handler: its inputs are the HTTP request, not plain arguments",
                crash.function.as_deref().unwrap_or("?")
            ));
        } else if let Some(Ok(plan)) = plans.first() {
            reasons.push(format!(
                "{} rebinds or mutates {} before the crash line, so its vars show post-mutation values",
                plan.qualname,
                plan.mutated.join(", ")
            ));
        }

        // 3. request replay (when not already tried first)
        if !request_tried {
            match plan_request(input, &mapped, &crash) {
                Ok((ctx_parts, mut why)) => {
                    reasons.append(&mut why);
                    let content = render_request(input, &crash, ctx_parts)?;
                    return Ok(finish(
                        Strategy::RequestReplay,
                        content,
                        Some(crash),
                        reasons,
                    ));
                }
                Err(why) => {
                    if alert.request.is_some() {
                        reasons.push(format!("no request replay: {why}"));
                    } else {
                        lacked.push("the event has no HTTP request".into());
                    }
                }
            }
        }

        // 4. nearest caller whose inputs rebuild and were not mutated
        for p in plans.iter().skip(1).flatten() {
            if p.mutated.is_empty() {
                reasons.push(format!(
                    "call replay of the caller {} ({}:{}): the crashing function's own inputs could not be used, the caller's all rebuilt",
                    p.qualname,
                    p.file,
                    p.line.unwrap_or(0)
                ));
                let content = render_call(input, p, &crash, vec![])?;
                return Ok(finish(Strategy::CallReplay, content, Some(crash), reasons));
            }
        }
        // 5. post-mutation state, innermost first
        if let Some(p) = plans.iter().flatten().next() {
            let note = format!(
                "replayed from the state captured at the crash: {} had already changed {} before it raised, and no caller's inputs could be rebuilt unchanged",
                p.qualname,
                p.mutated.join(", ")
            );
            reasons.push(format!(
                "call replay of {} ({}); {note}",
                p.qualname, p.file
            ));
            let content = render_call(input, p, &crash, vec![note])?;
            return Ok(finish(Strategy::CallReplay, content, Some(crash), reasons));
        }

        // 6. scaffold
        lacked.dedup();
        reasons.push(format!("scaffold: {}", lacked.join("; ")));
        let content = render_scaffold(input, crash_mf, &crash, &lacked)?;
        Ok(finish(Strategy::Scaffold, content, Some(crash), reasons))
    }
}

/// A call plan (or the reason there is none) for every mapped frame, innermost first, and whether
/// the crashing function is a request-bound route handler.
fn frame_plans(
    input: &GenInput,
    mapped: &[MappedFrame],
    reasons: &mut Vec<String>,
) -> (Vec<Result<CallPlan, String>>, bool) {
    let (alert, snap) = (input.alert, input.snap);
    let Some(crash_mf) = mapped.last() else {
        return (vec![], false);
    };
    let exc_index = exception_index(alert, crash_mf.frame);
    let resolver = RepoClasses::new(snap, mapped);
    let shared = shared_mutations(snap, mapped);

    // Analyse every mapped frame, innermost first.
    // A handled exception (logged with `logger.exception`, `capture_exception()` in an
    // `except`) was caught by the first frame of its traceback: calling that function swallows
    // it again, so its replay passes on the buggy code.
    let handled = exc_index
        .and_then(|e| alert.exceptions.get(e))
        .and_then(|e| e.handled)
        == Some(true);
    let catcher = mapped.first().filter(|mf| mf.index == 0);
    let first_caught = handled && catcher.is_some_and(|mf| catches_it(snap, mf));
    // ...and when that frame is a decorator's wrapper (a nested function), the function it
    // wraps is called unwrapped (`functools.wraps` keeps it as `__wrapped__`)
    let catcher_wraps = first_caught && catcher.is_some_and(|mf| is_nested_def(snap, mf));
    let logged = exc_index
        .and_then(|e| alert.exceptions.get(e))
        .and_then(|e| e.mechanism_type.as_deref())
        == Some("logging");
    let mut plans: Vec<Result<CallPlan, String>> = Vec::new();
    let mut crash_is_handler = false;
    for (pos, mf) in mapped.iter().enumerate().rev() {
        let meta = exc_index.and_then(|e| frame_vars_meta(alert, e, mf.index));
        let plan = plan_call(snap, mf, pos, meta, &resolver).and_then(|mut p| {
            p.mutated.extend(shared[pos].iter().cloned());
            if first_caught && mf.index == 0 && logged {
                // the app logged it (`logger.exception`): the replay watches the log records
                p.log_capture = true;
                reasons.push(format!(
                    "{} caught the reported exception and logged it (the event says handled, mechanism logging): a replay of it captures the log records and counts the logged exception",
                    p.qualname
                ));
                return Ok(p);
            }
            if first_caught && mf.index == 0 {
                let why = format!(
                    "{}: {} caught the reported exception (the event says handled) in a try whose except clauses never re-raise, so calling it raises nothing: not replayed",
                    frame_label(mf),
                    p.qualname
                );
                reasons.push(why.clone());
                return Err(why);
            }
            if catcher_wraps && pos == 1 && p.decorated && p.qualname == p.function {
                let head = format!("{}(", p.function);
                if p.function == "list"
                    || !p.call.contains(&head)
                    || p.assigns.iter().any(|a| a.name == "inspect")
                {
                    return Err(format!(
                        "{}: {} is called through the decorator that caught the reported exception",
                        frame_label(mf),
                        p.qualname
                    ));
                }
                p.call = p
                    .call
                    .replacen(&head, &format!("inspect.unwrap({})(", p.function), 1);
                p.imports.modules.insert("inspect".into());
                reasons.push(format!(
                    "{} is called unwrapped (inspect.unwrap): its decorator's wrapper caught the reported exception (the event says handled), so a call through it raises nothing",
                    p.qualname
                ));
            }
            Ok(p)
        });
        if pos == mapped.len() - 1 {
            crash_is_handler = is_request_bound(snap, mf);
        }
        plans.push(plan);
    }
    (plans, crash_is_handler)
}

fn output(
    strategy: Strategy,
    path: String,
    content: String,
    test_command: String,
    suite_command: Option<String>,
    crash: Option<CrashSite>,
    reasons: Vec<String>,
) -> GenOutput {
    GenOutput {
        language: "python",
        framework: "pytest".into(),
        strategy,
        files: vec![NewFile {
            path: path.clone(),
            content,
        }],
        test_files: vec![path],
        test_command,
        suite_command,
        crash,
        reasons,
        extra_prefixes: vec![],
    }
}

/// `-o` overrides when the project's pytest config renames test files or functions.
fn pytest_overrides(snap: &Snapshot) -> String {
    let custom = ["pyproject.toml", "pytest.ini", "setup.cfg", "tox.ini"]
        .iter()
        .filter_map(|f| snap.read(f))
        .any(|t| {
            t.contains("python_functions")
                || t.contains("python_files")
                || t.contains("python_classes")
        });
    if custom {
        " -o python_files=test_*.py -o python_functions=test_* -o python_classes=Test*".into()
    } else {
        String::new()
    }
}

fn boilerplate_ctx<'a>(input: &'a GenInput) -> BoilerplateCtx<'a> {
    let alert = input.alert;
    BoilerplateCtx {
        ident: input.ident,
        title: alert.title.clone().unwrap_or_default(),
        exception_type: alert.exception_type().unwrap_or("Exception").to_string(),
        exception_value: alert.exception_value().unwrap_or("").to_string(),
        web_url: alert.web_url.clone().unwrap_or_default(),
        stack: stack_lines(alert),
    }
}

fn stack_lines(alert: &Alert) -> Vec<String> {
    alert.stack_lines(40)
}

/// Index in `alert.exceptions` of the exception whose frame list holds `frame`.
fn exception_index(alert: &Alert, frame: &Frame) -> Option<usize> {
    alert
        .exceptions
        .iter()
        .position(|e| e.frames.iter().any(|f| std::ptr::eq(f, frame)))
}

/// Whether the frame's function is defined inside another function (a decorator's wrapper).
fn is_nested_def(snap: &Snapshot, mf: &MappedFrame) -> bool {
    let Some(function) = mf.frame.function.as_deref() else {
        return false;
    };
    snap.read(&mf.path)
        .and_then(|src| source::find_def(&src, function, mf.frame.lineno))
        .is_some_and(|def| def.nested)
}

/// Whether the frame's line sits in a `try:` of its function that swallows what it raises.
fn catches_it(snap: &Snapshot, mf: &MappedFrame) -> bool {
    let Some(function) = mf.frame.function.as_deref() else {
        return false;
    };
    snap.read(&mf.path)
        .and_then(|src| {
            let def = source::find_def(&src, function, mf.frame.lineno)?;
            source::swallowed_at(&src, &def, mf.frame.lineno)
        })
        .unwrap_or(false)
}

/// `_meta` for one frame's vars: `exception.values.<e>.stacktrace.frames.<f>.vars`.
fn frame_vars_meta(alert: &Alert, exc: usize, frame: usize) -> Option<&Value> {
    alert
        .meta
        .get("exception")?
        .get("values")?
        .get(exc.to_string())?
        .get("stacktrace")?
        .get("frames")?
        .get(frame.to_string())?
        .get("vars")
}

/// Class name → (module, what its repr shows, defined in a stack file).
/// Repr classes by name: (module, what the repr shows, in a frame's file, bases defined elsewhere).
type ClassIndex = HashMap<String, Vec<(String, source::ReprClass, bool, Vec<String>)>>;
/// Every top-level class statement by name, whether it is in a frame's file, and the module that
/// defines it (when the file is importable).
type DeclIndex = HashMap<String, Vec<(source::ClassDecl, bool, Option<String>)>>;

/// Classes a repr may name: dataclasses, NamedTuples, pydantic models and enums defined in the
/// crash's package (and the plain classes they inherit from).
struct RepoClasses<'s, 'r> {
    snap: &'s Snapshot<'r>,
    preferred: Vec<String>,
    anchor: String,
    index: Mutex<Option<(ClassIndex, DeclIndex)>>,
}

/// Inheritance chains longer than this are not followed.
const MAX_BASE_DEPTH: usize = 8;

/// The one candidate for a name: the only one, or the only one in a frame's file.
fn pick<T>(cands: &[T], preferred: impl Fn(&T) -> bool) -> Option<&T> {
    if cands.len() == 1 {
        return cands.first();
    }
    let mut pref = cands.iter().filter(|c| preferred(c));
    let one = pref.next()?;
    pref.next().is_none().then_some(one)
}

impl<'s, 'r> RepoClasses<'s, 'r> {
    fn new(snap: &'s Snapshot<'r>, mapped: &[MappedFrame]) -> Self {
        RepoClasses {
            snap,
            preferred: mapped.iter().map(|m| m.path.clone()).collect(),
            anchor: mapped.last().map(|m| m.path.clone()).unwrap_or_default(),
            index: Mutex::new(None),
        }
    }

    fn build(&self) -> (ClassIndex, DeclIndex) {
        let mut files = source::package_files(self.snap, &self.anchor, MAX_PACKAGE_FILES);
        for p in &self.preferred {
            if !files.contains(p) {
                files.push(p.clone());
            }
        }
        let mut idx: ClassIndex = HashMap::new();
        let mut decls: DeclIndex = HashMap::new();
        for f in files {
            let Some(src) = self.snap.read(&f) else {
                continue;
            };
            let preferred = self.preferred.contains(&f);
            if src.contains("class ") {
                let module = source::module_for_path(self.snap, &f, None).map(|(m, _)| m);
                for d in source::class_decls(&src) {
                    decls
                        .entry(d.name.clone())
                        .or_default()
                        .push((d, preferred, module.clone()));
                }
            }
            if !["dataclass", "NamedTuple", "BaseModel", "Enum", "Flag"]
                .iter()
                .any(|k| src.contains(k))
            {
                continue;
            }
            let Some((module, _root)) = source::module_for_path(self.snap, &f, None) else {
                continue;
            };
            for (name, kind, foreign) in source::repr_classes_with_foreign(&src) {
                idx.entry(name)
                    .or_default()
                    .push((module.clone(), kind, preferred, foreign));
            }
        }
        (idx, decls)
    }

    fn with_index<T>(&self, f: impl FnOnce(&ClassIndex, &DeclIndex) -> Option<T>) -> Option<T> {
        let mut guard = self.index.lock().ok()?;
        if guard.is_none() {
            *guard = Some(self.build());
        }
        let (idx, decls) = guard.as_ref()?;
        f(idx, decls)
    }
}

/// Whether `name` is a plain class of the repository (see [`source::ClassDecl`]) whose bases are
/// plain too, up to the roots.
fn plain_chain(decls: &DeclIndex, idx: &ClassIndex, name: &str, depth: usize) -> bool {
    if source::is_root_base(name) {
        return true;
    }
    if depth >= MAX_BASE_DEPTH || idx.contains_key(name) {
        return false;
    }
    let Some((d, _, _)) = decls.get(name).and_then(|c| pick(c, |c| c.1)) else {
        return false;
    };
    d.plain
        && d.bases
            .iter()
            .all(|b| plain_chain(decls, idx, b, depth + 1))
}

/// Fields a repr of `name` shows, in order, when they are known for certain: its own, after those
/// of a dataclass parent defined in another file; a plain parent adds none.
fn fields_of(idx: &ClassIndex, decls: &DeclIndex, name: &str, depth: usize) -> Option<Vec<String>> {
    if depth >= MAX_BASE_DEPTH {
        return None;
    }
    let pick = pick(idx.get(name)?, |c| c.2)?;
    let source::ReprClass::Fields(Some(own)) = &pick.1 else {
        return None;
    };
    let mut fields = Vec::new();
    for base in &pick.3 {
        if plain_chain(decls, idx, base, 0) {
            continue;
        }
        fields.extend(fields_of(idx, decls, base, depth + 1)?);
    }
    fields.extend(own.iter().cloned());
    Some(fields)
}

impl ClassResolver for RepoClasses<'_, '_> {
    fn resolve(&self, name: &str) -> Option<ClassInfo> {
        self.with_index(|idx, decls| {
            let pick = pick(idx.get(name)?, |c| c.2)?;
            let (fields, enum_members) = match &pick.1 {
                source::ReprClass::Fields(_) => (fields_of(idx, decls, name, 0)?, None),
                source::ReprClass::Enum(m) => (vec![], Some(m.clone())),
            };
            Some(ClassInfo {
                module: pick.0.clone(),
                name: name.to_string(),
                fields,
                enum_members,
            })
        })
    }

    fn module_of(&self, name: &str) -> Option<String> {
        self.with_index(|_, decls| {
            decls
                .get(name)
                .and_then(|c| pick(c, |c| c.1))
                .and_then(|(_, _, m)| m.clone())
        })
    }

    fn is_subclass(&self, sub: &str, base: &str) -> bool {
        self.with_index(|_, decls| {
            let mut todo = vec![(sub.to_string(), 0)];
            while let Some((name, depth)) = todo.pop() {
                if depth >= MAX_BASE_DEPTH {
                    continue;
                }
                let Some((d, _, _)) = decls.get(&name).and_then(|c| pick(c, |c| c.1)) else {
                    continue;
                };
                if d.bases.iter().any(|b| b == base) {
                    return Some(true);
                }
                todo.extend(d.bases.iter().map(|b| (b.clone(), depth + 1)));
            }
            None
        })
        .unwrap_or(false)
    }
}

fn frame_label(mf: &MappedFrame) -> String {
    format!(
        "{}:{} in {}",
        mf.path,
        mf.frame.lineno.unwrap_or(0),
        mf.frame.function.as_deref().unwrap_or("?")
    )
}

/// A frame whose function is an HTTP handler of a framework with request-bound globals/objects.
fn is_request_bound(snap: &Snapshot, mf: &MappedFrame) -> bool {
    let Some(src) = snap.read(&mf.path) else {
        return false;
    };
    let Some(function) = mf.frame.function.as_deref() else {
        return false;
    };
    let Some(def) = source::find_def(&src, function, mf.frame.lineno) else {
        return false;
    };
    (def.is_route_handler()
        && (matches!(
            source::framework_of(&src),
            Some(Framework::Flask | Framework::Django)
        ) || def.params.iter().any(|p| p.name == "request")))
        || source::uses_flask_context(&src, &def)
}

/// A frame that serves an HTTP request: a route handler (any framework's route decorator), a
/// request-bound function (see `is_request_bound`), or a Django-style view in a web-framework module
/// whose first parameter (after `self`) is `request`. Returns its name (`Class.method` for a method).
fn web_handler_name(snap: &Snapshot, mf: &MappedFrame) -> Option<String> {
    let src = snap.read(&mf.path)?;
    let function = mf.frame.function.as_deref()?;
    let def = source::find_def(&src, function, mf.frame.lineno)?;
    let first = def
        .params
        .iter()
        .find(|p| !(def.class.is_some() && (p.name == "self" || p.name == "cls")));
    let handler = is_request_bound(snap, mf)
        || def.is_route_handler()
        || (source::framework_of(&src).is_some() && first.is_some_and(|p| p.name == "request"));
    handler.then(|| match &def.class {
        Some(c) => format!("{c}.{}", def.name),
        None => def.name.clone(),
    })
}

/// The credential headers (an `Authorization`-like header, cookies) a request carried that a
/// replay never sends, lowercased; empty when it carried none.
fn dropped_credentials(req: &Request) -> Vec<String> {
    const CREDENTIAL: &[&str] = &[
        "authorization",
        "cookie",
        "token",
        "api-key",
        "apikey",
        "session",
        "jwt",
    ];
    let mut names: Vec<String> = req
        .headers
        .iter()
        .map(|(k, _)| k.to_ascii_lowercase())
        .filter(|k| CREDENTIAL.iter().any(|c| k.contains(c)))
        .filter(|k| {
            k.len() <= 100
                && k.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .collect();
    if !req.cookies.is_empty() {
        names.push("cookie".into());
    }
    names.sort();
    names.dedup();
    names
}

/// Whether the app's own (non-test) code looks at any of the `dropped` credentials or guards routes
/// with an auth check: then a replay without them may stop at that check (401/403) and pass on the
/// buggy code. An app that never reads them answers the replay as it answered the client.
fn app_checks_credentials(snap: &Snapshot, files: &[String], dropped: &[String]) -> bool {
    const AUTH_MARKERS: &[&str] = &[
        "login_required",
        "permission_classes",
        "permission_required",
        "httpbearer",
        "httpbasic",
        "oauth2",
        "apikeyheader",
        "apikeycookie",
        "abort(401",
        "abort(403",
        "status_code=401",
        "status_code=403",
        "http_401",
        "http_403",
        "unauthorized",
        "permissiondenied",
        "request.cookies",
        "session[",
        "session.get(",
    ];
    files
        .iter()
        .filter(|f| {
            let name = f.rsplit('/').next().unwrap_or(f);
            !(f.starts_with("tests/")
                || f.contains("/tests/")
                || name.starts_with("test_")
                || name == "conftest.py")
        })
        .filter_map(|f| snap.read(f))
        .any(|src| {
            let low = src.to_ascii_lowercase();
            AUTH_MARKERS.iter().any(|m| low.contains(m))
                || dropped
                    .iter()
                    .filter(|d| d.as_str() != "cookie")
                    .any(|d| low.contains(d.as_str()) || low.contains(&d.replace('-', "_")))
        })
}

/// In-place mutation travels up the stack: a callee that changes a list or dict it was given changes
/// its caller's object too, and the SDK serializes every frame's vars at the crash, after the
/// change. So a caller's argument that holds (equals or contains) a container a callee mutated is
/// post-mutation as well, and is no better a replay input than the callee's own. Returns, per
/// mapped frame (caller→callee order), the arguments tainted that way, described for the reasons.
fn shared_mutations(snap: &Snapshot, mapped: &[MappedFrame]) -> Vec<Vec<String>> {
    let mut out = vec![Vec::new(); mapped.len()];
    for (i, mf) in mapped.iter().enumerate() {
        let (Some(src), Some(function), Some(vars)) = (
            snap.read(&mf.path),
            mf.frame.function.as_deref(),
            mf.frame.vars.as_ref(),
        ) else {
            continue;
        };
        let Some(def) = source::find_def(&src, function, mf.frame.lineno) else {
            continue;
        };
        for name in source::mutated_params(&src, &def, mf.frame.lineno) {
            let Some(changed) = vars.get(&name) else {
                continue;
            };
            // Strings are reprs (immutable values or opaque objects); empty containers match
            // too much by accident.
            let container = match changed {
                Value::Array(a) => !a.is_empty(),
                Value::Object(o) => !o.is_empty(),
                _ => false,
            };
            if !container {
                continue;
            }
            for (j, outer) in mapped.iter().enumerate().take(i) {
                let Some(outer_vars) = outer.frame.vars.as_ref() else {
                    continue;
                };
                let Some(outer_src) = snap.read(&outer.path) else {
                    continue;
                };
                let Some(outer_def) = outer
                    .frame
                    .function
                    .as_deref()
                    .and_then(|f| source::find_def(&outer_src, f, outer.frame.lineno))
                else {
                    continue;
                };
                for p in &outer_def.params {
                    if outer_vars
                        .get(&p.name)
                        .is_some_and(|v| holds_value(v, changed, 0))
                    {
                        let note = format!("{} (the object {function} changed as {name})", p.name);
                        if !out[j].contains(&note) {
                            out[j].push(note);
                        }
                    }
                }
            }
        }
    }
    out
}

/// `hay` equals `needle` or holds it somewhere inside (bounded depth).
fn holds_value(hay: &Value, needle: &Value, depth: usize) -> bool {
    if hay == needle {
        return true;
    }
    if depth > 16 {
        return false;
    }
    match hay {
        Value::Array(a) => a.iter().any(|v| holds_value(v, needle, depth + 1)),
        Value::Object(o) => o.values().any(|v| holds_value(v, needle, depth + 1)),
        _ => false,
    }
}

/// Rebuild one var or say why not. The parameter's annotation restores what the SDK's JSON list
/// form loses: `tuple`, `set`, `frozenset`, or a NamedTuple of the repository (rebuilt from its
/// fields when the lengths agree, refused otherwise).
fn rebuild_var(
    vars: &serde_json::Map<String, Value>,
    meta: Option<&Value>,
    param: &source::Param,
    classes: &dyn ClassResolver,
    imports: &mut Imports,
) -> Result<Option<String>, String> {
    let name = param.name.as_str();
    let as_kind = param.sequence_kind();
    let Some(v) = vars.get(name) else {
        return Ok(None);
    };
    // only in a confirming search: an object repr without state becomes a no-argument constructor
    if let Some(code) = candidates::reconstruct_object(name, v, imports) {
        return Ok(Some(code));
    }
    let m = meta.and_then(|m| m.get(name));
    let mut val =
        pyrepr::from_var(v, m).map_err(|r| format!("argument {name} {}", r.describe()))?;
    if let PyVal::List(items) = &val {
        val = match as_kind {
            Some("tuple") => PyVal::Tuple(items.clone()),
            Some("set") => PyVal::Set(items.clone()),
            Some("frozenset") => PyVal::Call {
                func: vec!["frozenset".into()],
                args: vec![PyVal::List(items.clone())],
                kwargs: vec![],
            },
            Some("deque") => PyVal::Call {
                func: vec!["collections".into(), "deque".into()],
                args: vec![PyVal::List(items.clone())],
                kwargs: vec![],
            },
            _ => match param
                .annotation_head()
                .filter(|h| is_py_ident(h))
                .and_then(|h| classes.resolve(h))
                .filter(|c| c.enum_members.is_none())
            {
                Some(c) if c.fields.len() == items.len() => PyVal::Call {
                    func: vec![c.name.clone()],
                    args: vec![],
                    kwargs: c
                        .fields
                        .iter()
                        .cloned()
                        .zip(items.iter().cloned())
                        .collect(),
                },
                Some(c) => {
                    return Err(format!(
                        "argument {name} is annotated {} but the SDK sent a list of {} items",
                        c.name,
                        items.len()
                    ))
                }
                None => val,
            },
        };
    }
    // the SDK sends every mapping as a JSON object: the annotation says which one it was (a
    // Counter answers 0 for a missing key where a dict raises)
    if let PyVal::Dict(_) = &val {
        let wrap = |func: &str, mut args: Vec<PyVal>, val: PyVal| {
            args.push(val);
            PyVal::Call {
                func: vec!["collections".into(), func.into()],
                args,
                kwargs: vec![],
            }
        };
        val = match param.mapping_kind() {
            None => val,
            Some(MappingKind::Counter) => wrap("Counter", vec![], val),
            Some(MappingKind::OrderedDict) => wrap("OrderedDict", vec![], val),
            Some(MappingKind::DefaultDict(Some(factory))) => {
                wrap("defaultdict", vec![PyVal::Builtin(factory)], val)
            }
            Some(MappingKind::DefaultDict(None)) => {
                return Err(format!(
                    "argument {name} is a defaultdict whose default factory the annotation does not name"
                ))
            }
        };
    }
    pyrepr::emit(&val, classes, imports)
        .map(Some)
        .map_err(|r| format!("argument {name} {}", r.describe()))
}

/// `<class 'pkg.mod.Name'>`, the repr of a class object, as (`pkg.mod`, `Name`) when both are
/// plain identifiers and the module is not `__main__`.
fn class_object_repr(raw: &Value) -> Option<(String, String)> {
    let s = raw.as_str()?;
    let dotted = s.strip_prefix("<class '")?.strip_suffix("'>")?;
    let (module, name) = dotted.rsplit_once('.')?;
    (is_py_ident(name) && module != "__main__" && module.split('.').all(is_py_ident))
        .then(|| (module.to_string(), name.to_string()))
}

fn plan_call(
    snap: &Snapshot,
    mf: &MappedFrame,
    pos: usize,
    meta: Option<&Value>,
    classes: &dyn ClassResolver,
) -> Result<CallPlan, String> {
    let label = frame_label(mf);
    let function = mf
        .frame
        .function
        .as_deref()
        .filter(|f| is_py_ident(f))
        .ok_or_else(|| format!("{label}: not a named function"))?;
    let src = snap
        .read(&mf.path)
        .ok_or_else(|| format!("{label}: file unreadable"))?;
    let def: FnDef = source::find_def(&src, function, mf.frame.lineno).ok_or_else(|| {
        format!("{label}: no `def {function}` found in the repository at the base commit")
    })?;
    if def.nested {
        return Err(format!(
            "{label}: {function} is nested in another function and cannot be imported"
        ));
    }
    // a property's getter is replayed as an attribute read on the rebuilt instance; a setter or a
    // deleter runs only on assignment or `del`, which the event does not show the value of
    let property = def.is_property();
    if property
        && (!def.is_property_getter()
            || def.class.is_none()
            || def.is_staticmethod()
            || def.is_classmethod()
            || def.is_async)
    {
        return Err(format!(
            "{label}: {function} is a property setter or deleter, or not on an instance"
        ));
    }
    if is_request_bound(snap, mf) {
        return Err(format!(
            "{label}: {function} is a route handler bound to the request"
        ));
    }
    let (module, root) = source::module_for_path(snap, &mf.path, mf.frame.module.as_deref())
        .ok_or_else(|| format!("{label}: {} is not importable as a module", mf.path))?;
    let vars = mf
        .frame
        .vars
        .as_ref()
        .ok_or_else(|| format!("{label}: the frame carries no local variables"))?;
    let mut imports = Imports::default();
    let mut assigns = Vec::new();
    let mut args: Vec<String> = Vec::new();
    let mut params = def.params.iter().peekable();
    if def.decorators.iter().any(|d| d.contains("contextmanager")) {
        return Err(format!(
            "{label}: {function} is a context manager: calling it runs none of its body"
        ));
    }
    let generator = source::is_generator(&src, &def);
    if generator && def.is_async {
        return Err(format!("{label}: {function} is an async generator"));
    }
    let receiver;
    let mut inherited = false;
    let mut bound_cls: Option<String> = None;
    let import_name;
    let qualname;
    // `__init__` is replayed by constructing the class (self is half-built in the vars)
    let constructor = function == "__init__"
        && def.class.is_some()
        && !def.is_staticmethod()
        && !def.is_classmethod();
    match &def.class {
        Some(class) => {
            if !is_py_ident(class) {
                return Err(format!("{label}: class name not usable"));
            }
            import_name = class.clone();
            qualname = format!("{class}.{function}");
            if def.is_staticmethod() {
                receiver = class.clone();
            } else if constructor {
                params
                    .next()
                    .ok_or_else(|| format!("{label}: __init__ without self"))?;
                receiver = class.clone();
            } else if def.is_classmethod() {
                receiver = class.clone();
                // cls may be a subclass (`<class 'pkg.mod.Sub'>`): its class attributes are what
                // the body read, so the test binds the base's function to that subclass
                if let Some(raw) = params.next().and_then(|me| vars.get(&me.name)) {
                    let (module, name) = class_object_repr(raw).ok_or_else(|| {
                        format!("{label}: cls is not shown as an importable class")
                    })?;
                    if name != *class {
                        // imported from where the repository defines it, and only from there
                        if !classes.is_subclass(&name, class)
                            || classes.module_of(&name).as_deref() != Some(module.as_str())
                        {
                            return Err(format!(
                                "{label}: cls is {name}, not a subclass of {class} this repository defines"
                            ));
                        }
                        imports.names.insert((module, name.clone()));
                        bound_cls = Some(name);
                    }
                }
            } else {
                let me = params
                    .next()
                    .ok_or_else(|| format!("{label}: method without self"))?;
                let raw = vars
                    .get(&me.name)
                    .ok_or_else(|| format!("{label}: {} is missing from vars", me.name))?;
                let val = pyrepr::from_var(raw, meta.and_then(|m| m.get(&me.name)))
                    .map_err(|r| format!("{label}: {} {}", me.name, r.describe()))?;
                match &val {
                    PyVal::Call { func, .. } if func.len() == 1 && &func[0] == class => {}
                    // a method inherited from a base class: self is a subclass instance, and the
                    // test calls the base's function on it (what ran, even if the subclass
                    // overrides it)
                    PyVal::Call { func, .. }
                        if func.len() == 1 && classes.is_subclass(&func[0], class) =>
                    {
                        inherited = true;
                    }
                    _ => {
                        return Err(format!(
                            "{label}: {} is not a repr of a {class} whose state is fully shown",
                            me.name
                        ))
                    }
                }
                let code = pyrepr::emit(&val, classes, &mut imports)
                    .map_err(|r| format!("{label}: {} {}", me.name, r.describe()))?;
                assigns.push(Assign {
                    name: "instance".into(),
                    code,
                });
                receiver = "instance".into();
            }
        }
        None => {
            import_name = function.to_string();
            qualname = function.to_string();
            receiver = String::new();
        }
    }
    let mut keyword_mode = false;
    let mut pending: Vec<(String, ParamKind, String)> = Vec::new();
    for p in params {
        match rebuild_var(vars, meta, p, classes, &mut imports) {
            Ok(Some(code)) => pending.push((p.name.clone(), p.kind, code)),
            Ok(None) => {
                if vars.len() >= pyrepr::SDK_BREADTH {
                    return Err(format!(
                        "{label}: argument {} is not among the frame's vars, which the SDK cut at {} entries",
                        p.name,
                        pyrepr::SDK_BREADTH
                    ));
                }
                if p.has_default || matches!(p.kind, ParamKind::VarArgs | ParamKind::VarKw) {
                    if p.kind == ParamKind::PositionalOnly {
                        return Err(format!(
                            "{label}: positional-only argument {} is missing from vars",
                            p.name
                        ));
                    }
                    keyword_mode = true;
                    continue;
                }
                return Err(format!("{label}: argument {} is missing from vars", p.name));
            }
            Err(e) => return Err(format!("{label}: {e}")),
        }
        if keyword_mode && matches!(p.kind, ParamKind::Regular) {
            if let Some(last) = pending.last_mut() {
                last.1 = ParamKind::KeywordOnly;
            }
        }
    }
    // local names must not shadow what the test imports
    let mut taken: BTreeSet<String> = imports.modules.iter().cloned().collect();
    taken.extend(imports.names.iter().map(|(_, n)| n.clone()));
    taken.insert(import_name.clone());
    taken.extend(["asyncio", "sys", "pathlib", "instance", "exc", "pytest"].map(String::from));
    for (name, kind, code) in pending {
        let local = if taken.contains(&name) {
            format!("{name}_arg")
        } else {
            name.clone()
        };
        taken.insert(local.clone());
        assigns.push(Assign {
            name: local.clone(),
            code,
        });
        args.push(match kind {
            ParamKind::PositionalOnly | ParamKind::Regular => local,
            ParamKind::VarArgs => format!("*{local}"),
            ParamKind::KeywordOnly => format!("{name}={local}"),
            ParamKind::VarKw => format!("**{local}"),
        });
    }
    if imports
        .names
        .iter()
        .any(|(_, n)| n == &import_name && def.class.is_none())
        || imports.modules.contains(&import_name)
    {
        return Err(format!(
            "{label}: {function} collides with a name the test must import"
        ));
    }
    if inherited {
        args.insert(0, receiver.clone());
    }
    if let Some(sub) = &bound_cls {
        args.insert(0, sub.clone());
    }
    let callee = if bound_cls.is_some() {
        // exactly the function that ran, with the cls it ran with
        format!("{import_name}.{function}.__func__")
    } else if constructor || inherited {
        if inherited {
            format!("{import_name}.{function}")
        } else {
            receiver.clone()
        }
    } else if receiver.is_empty() {
        function.to_string()
    } else {
        format!("{receiver}.{function}")
    };
    let call = if property {
        // the getter takes self alone; an inherited one is read through the base's descriptor
        // (what ran, even if the subclass overrides it)
        if inherited {
            format!("{import_name}.{function}.__get__({receiver})")
        } else {
            format!("{receiver}.{function}")
        }
    } else {
        format!("{callee}({})", args.join(", "))
    };
    // a generator runs only when consumed
    let call = if generator {
        format!("list({call})")
    } else {
        call
    };
    let mut mutated = source::mutated_params(&src, &def, mf.frame.lineno);
    if constructor {
        mutated.retain(|m| m != "self");
    }
    Ok(CallPlan {
        frame_pos: pos,
        file: mf.path.clone(),
        line: mf.frame.lineno,
        function: function.to_string(),
        qualname,
        module,
        root,
        import_name,
        assigns,
        call,
        is_async: def.is_async,
        imports,
        mutated,
        log_capture: false,
        decorated: def.decorators.iter().any(|d| {
            !d.starts_with("@staticmethod")
                && !d.starts_with("@classmethod")
                && !d.starts_with("@property")
        }),
    })
}

/// The source text of the crash frame's line, as the event carries it (`context_line` of the
/// innermost frame in the crash file, function and line), trimmed; empty when absent or unusable.
fn crash_text(alert: &Alert, crash: &CrashSite) -> String {
    alert
        .exceptions
        .iter()
        .rev()
        .flat_map(|e| e.frames.iter().rev())
        .chain(alert.thread_frames.iter().rev())
        .find(|f| {
            f.lineno == crash.line
                && f.function == crash.function
                && f.filename
                    .as_deref()
                    .or(f.abs_path.as_deref())
                    .is_some_and(|p| p.ends_with(crash.file.as_str()) || crash.file.ends_with(p))
        })
        .and_then(|f| f.context_line.as_deref())
        .map(str::trim)
        .filter(|t| !t.is_empty() && !t.contains('\n') && t.len() <= 400)
        .unwrap_or_default()
        .to_string()
}

fn common_ctx(
    input: &GenInput,
    crash: &CrashSite,
    notes: Vec<String>,
    roots: &[&str],
) -> CommonCtx {
    let alert = input.alert;
    let mut sys_path: Vec<String> = roots
        .iter()
        .filter(|r| !r.is_empty())
        .map(|r| r.to_string())
        .collect();
    sys_path.sort();
    sys_path.dedup();
    CommonCtx {
        ident: input.ident.to_string(),
        test_name: String::new(),
        title: alert.title.clone().unwrap_or_default(),
        exception_type: alert.exception_type().unwrap_or("Exception").to_string(),
        exception_value: alert.exception_value().unwrap_or("").to_string(),
        web_url: alert.web_url.clone().unwrap_or_default(),
        crash_file: crash.file.clone(),
        crash_line: crash.line.map(|l| l.to_string()).unwrap_or_default(),
        crash_function: crash.function.clone().unwrap_or_default(),
        crash_text: crash_text(input.alert, crash),
        marker_reproduced: contract::MARKER_REPRODUCED,
        marker_server_error: contract::MARKER_SERVER_ERROR,
        marker_not_reproduced: contract::MARKER_NOT_REPRODUCED,
        notes,
        sys_path,
    }
}

fn render_call(
    input: &GenInput,
    plan: &CallPlan,
    crash: &CrashSite,
    notes: Vec<String>,
) -> Result<String> {
    let mut common = common_ctx(input, crash, notes, &[plan.root.as_str()]);
    common.test_name = format!(
        "test_sentry_{}_{}_does_not_raise",
        render::ident_suffix(input.ident),
        render::ident_suffix(&plan.function)
    );
    let mut stdlib: Vec<String> = plan.imports.modules.iter().cloned().collect();
    if plan.is_async {
        stdlib.push("asyncio".into());
    }
    if plan.log_capture {
        stdlib.push("logging".into());
    }
    stdlib.sort();
    stdlib.dedup();
    let mut from_imports: Vec<(String, String)> = plan.imports.names.iter().cloned().collect();
    from_imports.push((plan.module.clone(), plan.import_name.clone()));
    from_imports.sort();
    from_imports.dedup();
    let _ = plan.frame_pos;
    let ctx = CallCtx {
        common,
        stdlib_imports: stdlib,
        from_imports,
        target: plan.qualname.clone(),
        target_location: format!("{}:{}", plan.file, plan.line.unwrap_or(0)),
        assigns: plan.assigns.clone(),
        call: plan.call.clone(),
        is_async: plan.is_async,
        log_capture: plan.log_capture,
    };
    render::render("python/call_replay.py.tera", &ctx)
}

/// Parts of a request replay (framework, app, request) and why it was chosen.
struct RequestParts {
    app: AppRef,
    request: ReplayRequest,
}

fn plan_request(
    input: &GenInput,
    mapped: &[MappedFrame],
    crash: &CrashSite,
) -> Result<(RequestParts, Vec<String>), String> {
    let alert = input.alert;
    let req = alert.request.as_ref().ok_or("the event has no request")?;
    let snap = input.snap;
    let mut why = Vec::new();
    // framework: from the mapped files' imports, the SDK integration, the mechanism
    let mut framework = None;
    for mf in mapped.iter().rev() {
        if let Some(src) = snap.read(&mf.path) {
            if let Some(f) = source::framework_of(&src) {
                framework = Some(f);
                break;
            }
        }
    }
    let hint = format!(
        "{} {}",
        alert.sdk_name.as_deref().unwrap_or(""),
        alert
            .primary_exception()
            .and_then(|e| e.mechanism_type.as_deref())
            .unwrap_or("")
    )
    .to_ascii_lowercase();
    if framework.is_none() {
        framework = if hint.contains("flask") {
            Some(Framework::Flask)
        } else if hint.contains("fastapi") || hint.contains("starlette") {
            Some(Framework::Starlette)
        } else if hint.contains("django") {
            Some(Framework::Django)
        } else {
            None
        };
    }
    let framework = framework.ok_or("no Flask, FastAPI/Starlette or Django app in the stack")?;
    let files = source::package_files(snap, &crash.file, MAX_PACKAGE_FILES);
    let (app, django_settings) = match (&input.project.app, framework) {
        (Some(spec), _) => {
            let (m, a) = spec
                .split_once(':')
                .ok_or("project `app` must be `module:attr`")?;
            if !m.split('.').all(is_py_ident) || !is_py_ident(a) {
                return Err("project `app` is not `module:attr` of identifiers".into());
            }
            let path = format!("{}.py", m.replace('.', "/"));
            let factory = snap
                .read(&path)
                .or_else(|| snap.read(&format!("{}/__init__.py", m.replace('.', "/"))))
                .and_then(|s| source::find_def(&s, a, None))
                .is_some();
            (
                AppRef {
                    framework,
                    module: m.into(),
                    attr: a.into(),
                    factory,
                    root: String::new(),
                },
                String::new(),
            )
        }
        (None, Framework::Django) => {
            let (s, root) = source::django_settings(snap, &files).ok_or(
                "no DJANGO_SETTINGS_MODULE found in manage.py/wsgi.py/asgi.py or the pytest configuration",
            )?;
            (
                AppRef {
                    framework,
                    module: String::new(),
                    attr: String::new(),
                    factory: false,
                    root,
                },
                s,
            )
        }
        (None, f) => {
            let app = source::find_app(snap, &files, f).ok_or_else(|| {
                format!("no module-level {} app object or create_app() factory without required arguments found", f.name())
            })?;
            (app, String::new())
        }
    };
    why.push(format!(
        "request replay through the {} test client: the event carries the request and the app is {}",
        framework.name(),
        if app.module.is_empty() {
            format!("configured by settings {django_settings}")
        } else {
            format!("{}:{}{}", app.module, app.attr, if app.factory { "()" } else { "" })
        }
    ));
    let method = req
        .method
        .as_deref()
        .map(str::to_ascii_uppercase)
        .filter(|m| !m.is_empty() && m.len() <= 16 && m.bytes().all(|b| b.is_ascii_uppercase()))
        .unwrap_or_else(|| "GET".into());
    let path = url_path(req).ok_or("the request url has no usable path")?;
    let query = req.query.clone();
    let (headers, dropped) = replay_headers(req);
    if !dropped.is_empty() {
        why.push(format!(
            "headers not replayed (credentials, cookies, hop-by-hop): {}",
            dropped.join(", ")
        ));
    }
    if !req.cookies.is_empty() {
        why.push("cookies are never replayed".into());
    }
    let content_type = header(req, "content-type")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let body_meta = alert.meta.get("request").and_then(|r| r.get("data"));
    let (body_kind, body_code, raw_body) = match &req.data {
        None | Some(Value::Null) => {
            // a WSGI server reports a bodiless GET as `Content-Length: ""`: only a positive
            // length means a body was sent
            if header(req, "content-length")
                .and_then(|l| l.trim().parse::<u64>().ok())
                .is_some_and(|n| n > 0)
            {
                why.push(
                    "the request had a body the SDK did not capture: replayed without it".into(),
                );
            }
            ("none", String::new(), String::new())
        }
        Some(Value::String(s)) => ("raw", String::new(), s.clone()),
        Some(v) => {
            let lit = pyrepr::emit(&pyrepr::from_plain_json(v), &(), &mut Imports::default())
                .map_err(|_| "the request body cannot be written as a Python literal")?;
            if content_type.contains("x-www-form-urlencoded")
                || content_type.contains("multipart/form-data")
            {
                ("form", lit, String::new())
            } else {
                ("json", lit, String::new())
            }
        }
    };
    if req
        .data
        .as_ref()
        .map(|d| d.to_string().contains("[Filtered]"))
        .unwrap_or(false)
    {
        why.push(
            "body fields Sentry scrubbed are replayed as the placeholder \"[Filtered]\"".into(),
        );
    }
    if body_meta
        .map(|m| m.to_string().contains("\"len\""))
        .unwrap_or(false)
    {
        why.push("the request body was truncated by Sentry: replayed as captured".into());
    }
    let headers = if body_kind == "json" || body_kind == "form" {
        headers
            .into_iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("content-type"))
            .collect()
    } else {
        headers
    };
    Ok((
        RequestParts {
            app,
            request: ReplayRequest {
                django_settings,
                method,
                path,
                query,
                headers,
                body_kind,
                body_code,
                raw_body,
                content_type,
            },
        },
        why,
    ))
}

fn header(req: &Request, name: &str) -> Option<String> {
    req.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

/// Path of the request URL (no scheme, host, query or fragment), starting with `/`.
fn url_path(req: &Request) -> Option<String> {
    let url = req.url.as_deref().unwrap_or("/");
    let rest = match url.find("://") {
        Some(i) => {
            let after = &url[i + 3..];
            after.find('/').map(|j| &after[j..]).unwrap_or("/")
        }
        None => url,
    };
    let path = rest.split(['?', '#']).next().unwrap_or("/");
    if !path.starts_with('/') || path.len() > 8192 {
        return None;
    }
    Some(path.to_string())
}

/// Headers worth replaying, and the names of those dropped. Credentials, cookies, proxies and
/// hop-by-hop headers never leave the event.
fn replay_headers(req: &Request) -> (Vec<(String, String)>, Vec<String>) {
    const HOP: &[&str] = &[
        "host",
        "content-length",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "te",
        "upgrade",
        "accept-encoding",
        "expect",
        "trailer",
        "proxy-connection",
        "forwarded",
        "via",
        // the SDK's own trace propagation, not part of what the client sent to the app
        "sentry-trace",
        "baggage",
        "traceparent",
        "tracestate",
    ];
    const SECRET: &[&str] = &[
        "auth",
        "cookie",
        "token",
        "secret",
        "key",
        "session",
        "csrf",
        "xsrf",
        "password",
        "passwd",
        "signature",
        "credential",
        "jwt",
        "bearer",
        "forwarded",
        "real-ip",
        "client-ip",
    ];
    let mut keep = Vec::new();
    let mut dropped = Vec::new();
    for (k, v) in &req.headers {
        let lk = k.to_ascii_lowercase();
        let token_ok = !k.is_empty()
            && k.len() <= 100
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        let value_ok =
            v.len() <= 8192 && !v.chars().any(|c| c.is_control() && c != '\t') && v.is_ascii();
        if HOP.contains(&lk.as_str()) {
            continue;
        }
        if !token_ok
            || !value_ok
            || SECRET.iter().any(|s| lk.contains(s))
            || v.contains("[Filtered]")
        {
            if token_ok {
                dropped.push(k.clone());
            } else {
                dropped.push("(invalid header name)".into());
            }
            continue;
        }
        keep.push((k.clone(), v.clone()));
    }
    dropped.dedup();
    (keep, dropped)
}

fn render_request(input: &GenInput, crash: &CrashSite, parts: RequestParts) -> Result<String> {
    let mut common = common_ctx(input, crash, vec![], &[parts.app.root.as_str()]);
    common.test_name = format!(
        "test_sentry_{}_{}_request_does_not_fail",
        render::ident_suffix(input.ident),
        render::ident_suffix(crash.function.as_deref().unwrap_or("request"))
    );
    let ctx = RequestCtx {
        common,
        framework: parts.app.framework,
        app_module: parts.app.module,
        app_attr: parts.app.attr,
        app_factory: parts.app.factory,
        request: parts.request,
    };
    render::render("python/request_replay.py.tera", &ctx)
}

fn render_scaffold(
    input: &GenInput,
    mf: &MappedFrame,
    crash: &CrashSite,
    lacked: &[String],
) -> Result<String> {
    let snap = input.snap;
    let mut common = common_ctx(input, crash, vec![], &[]);
    common.test_name = format!(
        "test_sentry_{}_{}_reproduced",
        render::ident_suffix(input.ident),
        render::ident_suffix(crash.function.as_deref().unwrap_or("crash"))
    );
    let function = mf.frame.function.clone().unwrap_or_default();
    let src = snap.read(&mf.path).unwrap_or_default();
    let def = source::find_def(&src, &function, mf.frame.lineno);
    let modinfo = source::module_for_path(snap, &mf.path, mf.frame.module.as_deref());
    let (module, import_name) = match (&modinfo, &def) {
        (Some((m, _)), Some(d)) if !d.nested => (
            m.clone(),
            d.class.clone().unwrap_or_else(|| function.clone()),
        ),
        (Some((m, _)), _) => (m.clone(), String::new()),
        _ => (String::new(), String::new()),
    };
    if let Some((_, root)) = &modinfo {
        if !root.is_empty() {
            common.sys_path = vec![root.clone()];
        }
    }
    let import_name = if is_py_ident(&import_name) {
        import_name
    } else {
        String::new()
    };
    // frame's source context, else the repository's lines around the crash line
    let mut context: Vec<String> = Vec::new();
    let mut context_start = 0;
    if mf.frame.context_line.is_some() {
        context.extend(mf.frame.pre_context.iter().cloned());
        context.extend(mf.frame.context_line.iter().cloned());
        context.extend(mf.frame.post_context.iter().cloned());
        context_start = mf
            .frame
            .lineno
            .unwrap_or(0)
            .saturating_sub(mf.frame.pre_context.len() as u64);
    } else if let Some(l) = mf.frame.lineno {
        let from = l.saturating_sub(5).max(1);
        context = src
            .lines()
            .skip(from as usize - 1)
            .take(10)
            .map(str::to_owned)
            .collect();
        context_start = from;
    }
    let context = context.into_iter().take(30).collect();
    let ctx = ScaffoldCtx {
        common,
        module,
        import_name,
        lacked: lacked.join("; "),
        context,
        context_start,
        stack: stack_lines(input.alert),
    };
    render::render("python/scaffold.py.tera", &ctx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A repository with these files committed, for functions that read a Snapshot.
    use crate::repo::with_repo;

    #[test]
    fn web_handlers_route_decorated_or_django_style_views() {
        let views = "from django.http import JsonResponse\nfrom django.views import View\n\n\nclass PayView(View):\n    def post(self, request, invoice_id):\n        return pay(invoice_id)\n\n\ndef detail(request, pk):\n    return JsonResponse({})\n";
        let api = "from fastapi import APIRouter\n\nrouter = APIRouter()\n\n\n@router.get(\"/x\")\ndef read_x(n: int):\n    return helper(n)\n\n\ndef helper(n):\n    return 1 / n\n";
        let plain = "def post(request, amount):\n    return amount\n";
        with_repo(
            &[
                ("shop/views.py", views),
                ("shop/api.py", api),
                ("shop/util.py", plain),
            ],
            |snap| {
                let name = |path: &str, function: &str, line: u64| {
                    let frame = Frame {
                        function: Some(function.into()),
                        lineno: Some(line),
                        ..Frame::default()
                    };
                    let mf = MappedFrame {
                        index: 0,
                        frame: &frame,
                        path: path.into(),
                    };
                    web_handler_name(snap, &mf)
                };
                assert_eq!(
                    name("shop/views.py", "post", 7),
                    Some("PayView.post".into())
                );
                assert_eq!(name("shop/views.py", "detail", 11), Some("detail".into()));
                assert_eq!(name("shop/api.py", "read_x", 8), Some("read_x".into()));
                assert_eq!(name("shop/api.py", "helper", 13), None);
                // a `request` parameter outside a web-framework module is not a view
                assert_eq!(name("shop/util.py", "post", 2), None);
            },
        );
    }

    #[test]
    fn credentials_block_the_request_replay_only_when_the_app_checks_them() {
        let svc = "def total(xs):\n    return sum(xs) / len(xs)\n";
        let auth = "from fastapi import HTTPException\n\n\ndef check(x_api_key: str):\n    if not x_api_key:\n        raise HTTPException(status_code=401)\n";
        let reads_header = "def key(request):\n    return request.headers.get(\"X-Api-Key\")\n";
        let test_only = "def test_login_required():\n    assert 'Authorization'\n";
        with_repo(
            &[
                ("app/svc.py", svc),
                ("app/auth.py", auth),
                ("app/keys.py", reads_header),
                ("app/tests/test_auth.py", test_only),
            ],
            |snap| {
                let files = |names: &[&str]| -> Vec<String> {
                    names.iter().map(|n| n.to_string()).collect()
                };
                let dropped = vec!["authorization".to_string()];
                assert!(!app_checks_credentials(
                    snap,
                    &files(&["app/svc.py"]),
                    &dropped
                ));
                assert!(app_checks_credentials(
                    snap,
                    &files(&["app/svc.py", "app/auth.py"]),
                    &dropped
                ));
                // the header's own name, in either spelling
                let key = vec!["x-api-key".to_string()];
                assert!(app_checks_credentials(snap, &files(&["app/keys.py"]), &key));
                assert!(app_checks_credentials(snap, &files(&["app/auth.py"]), &key));
                // the app's tests are not the app
                assert!(!app_checks_credentials(
                    snap,
                    &files(&["app/svc.py", "app/tests/test_auth.py"]),
                    &dropped
                ));
            },
        );
    }

    #[test]
    fn dropped_credentials_names_auth_headers_and_cookies_only() {
        let mut req = Request {
            headers: vec![
                ("Accept".into(), "application/json".into()),
                ("Authorization".into(), "[Filtered]".into()),
                ("X-Api-Key".into(), "".into()),
                ("X-Request-Id".into(), "abc".into()),
                ("X-Session-Token\n\"; import os".into(), "x".into()),
            ],
            ..Request::default()
        };
        assert_eq!(
            dropped_credentials(&req),
            vec!["authorization", "x-api-key"]
        );
        req.cookies = vec![("sid".into(), "1".into())];
        assert_eq!(
            dropped_credentials(&req),
            vec!["authorization", "cookie", "x-api-key"]
        );
        let plain = Request {
            headers: vec![("User-Agent".into(), "curl".into())],
            ..Request::default()
        };
        assert!(dropped_credentials(&plain).is_empty());
    }

    /// A property getter is replayed as an attribute read on the rebuilt instance (an inherited
    /// one through the base's descriptor); a setter or a deleter is still refused.
    #[test]
    fn a_property_getter_is_replayed_as_an_attribute_read() {
        let module = "from dataclasses import dataclass\nfrom functools import cached_property\n\n\n@dataclass\nclass Parcel:\n    country: str\n\n    @property\n    def zone(self):\n        return ZONES.get(self.country).upper()\n\n    @cached_property\n    def label(self):\n        return self.zone + '-1'\n\n    @zone.setter\n    def zone(self, value):\n        self.country = value.lower()\n\n\n@dataclass\nclass Letter(Parcel):\n    pass\n";
        with_repo(&[("ship/parcel.py", module)], |snap| {
            let plan = |function: &str, line: u64, me: &str| {
                let frame = Frame {
                    function: Some(function.into()),
                    lineno: Some(line),
                    vars: Some(
                        json!({"self": me, "value": "'NO'"})
                            .as_object()
                            .unwrap()
                            .clone(),
                    ),
                    ..Frame::default()
                };
                let mf = MappedFrame {
                    index: 0,
                    frame: &frame,
                    path: "ship/parcel.py".into(),
                };
                let classes = RepoClasses::new(snap, std::slice::from_ref(&mf));
                plan_call(snap, &mf, 0, None, &classes).map(|p| (p.call, p.assigns))
            };
            let (call, assigns) = plan("zone", 11, "Parcel(country='NO')").unwrap();
            assert_eq!(call, "instance.zone");
            assert_eq!(assigns[0].code, r#"Parcel(country="NO")"#);
            let (call, _) = plan("label", 15, "Parcel(country='NO')").unwrap();
            assert_eq!(call, "instance.label");
            let (call, _) = plan("zone", 11, "Letter(country='NO')").unwrap();
            assert_eq!(call, "Parcel.zone.__get__(instance)");
            let err = plan("zone", 19, "Parcel(country='NO')").unwrap_err();
            assert!(err.contains("setter"), "{err}");
        });
    }

    /// The frame that caught a handled exception: a decorator's wrapper that swallows it is nested
    /// and catches it; one that re-raises does not.
    #[test]
    fn a_swallowing_decorator_wrapper_is_seen() {
        let runner = "import functools\n\n\ndef reported(job):\n    @functools.wraps(job)\n    def run(*a):\n        try:\n            return job(*a)\n        except Exception:\n            log.exception('x')\n            return None\n    return run\n\n\ndef strict(job):\n    def run(*a):\n        try:\n            return job(*a)\n        except Exception:\n            raise\n    return run\n";
        with_repo(&[("jobs/runner.py", runner)], |snap| {
            let check = |line: u64| {
                let frame = Frame {
                    function: Some("run".into()),
                    lineno: Some(line),
                    ..Frame::default()
                };
                let mf = MappedFrame {
                    index: 0,
                    frame: &frame,
                    path: "jobs/runner.py".into(),
                };
                (is_nested_def(snap, &mf), catches_it(snap, &mf))
            };
            assert_eq!(check(8), (true, true));
            assert_eq!(check(18), (true, false));
        });
    }

    #[test]
    fn class_object_reprs() {
        assert_eq!(
            class_object_repr(&json!("<class 'billing.plans.catalog.FreePlan'>")),
            Some(("billing.plans.catalog".into(), "FreePlan".into()))
        );
        for bad in [
            json!("<class 'FreePlan'>"),
            json!("<class '__main__.FreePlan'>"),
            json!("<class 'os; import x.FreePlan'>"),
            json!("<class 'a..B'>"),
            json!("FreePlan"),
            json!({"x": 1}),
        ] {
            assert_eq!(class_object_repr(&bad), None, "{bad}");
        }
    }
}
