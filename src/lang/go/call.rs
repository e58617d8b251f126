//! Call replay: `plan_call` finds the function to call with the input the error quotes.
//!
//! Why: `CaptureException` stacks end at the capture site, not where the error was made, so the
//! function that rejected the input is searched among the stack's functions and the functions
//! they call by name.

use super::frames::{go_function, Stack};
use super::project::{go_dirs, go_files, GoModule};
use super::render::Ctx;
use super::source::{package_decls, package_name};
use super::values::{quoted_input, receiver_expr};
use super::{reported, Plan};
use crate::alert::Frame;
use crate::contract::Strategy;
use crate::lang::GenInput;
use crate::repo::Snapshot;

/// A function to call with the quoted input: a function of the module taking one string and
/// returning an error last, whose body calls the parser named in the error, and that is on the
/// crashing stack or called by name from a function on it. A method qualifies when its receiver can
/// be built honestly (`receiver_expr`: the package's constructor or a zero value).
pub(super) struct CallPlan {
    pub(super) dir: String,
    pub(super) package: String,
    /// `ParseRate`, or `NewParser().Month` for a method.
    pub(super) name: String,
    /// `_, err` or `err`.
    pub(super) lhs: String,
}

pub(super) fn plan_call(
    snap: &Snapshot,
    module: &GoModule,
    stack: &[(&Frame, String)],
    needle: &str,
) -> Option<CallPlan> {
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
            return Some(CallPlan {
                dir: dir.clone(),
                package,
                name,
                lhs: lhs.join(", "),
            });
        }
    }
    None
}

/// Rung 1: call replay, when an error of the event quotes the input a parser rejected and
/// `plan_call` finds the function on (or called from) the stack that parses it.
pub(super) fn replay(input: &GenInput, stack: &Stack, base: &Ctx) -> Option<Plan> {
    let alert = input.alert;
    let module = stack.module.as_ref()?;
    let (parser, arg) = alert
        .exceptions
        .iter()
        .rev()
        .filter_map(|e| e.value.as_deref())
        .chain(alert.message.as_deref())
        .find_map(quoted_input)?;
    let t = plan_call(input.snap, module, &stack.mapped, &parser)?;
    let reason = format!(
        "the error quotes the input {} rejected; {}(string), which calls it and is on or called from the crashing stack, is called with it",
        parser.trim_end_matches('('),
        t.name
    );
    Some(Plan {
        strategy: Strategy::CallReplay,
        template: "go/call_replay_test.go.tera",
        test_dir: t.dir,
        ctx: Ctx {
            package: t.package,
            callee: t.name,
            lhs: t.lhs,
            input: arg,
            reported: reported(alert),
            ..base.clone()
        },
        reasons: vec![reason],
    })
}
