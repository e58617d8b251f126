//! Python candidates for the confirming search (`crate::confirm`): every replay the event supports,
//! in the order that hands over the test a real fix most likely flips.
//!
//! A fix may land anywhere between the entry point and the crash line, so the outermost replay that
//! still reproduces is the one that holds wherever the fix lands; an inner one stays red after a fix
//! in a caller. The order is therefore:
//! 1. the request replay, when the event has a request and the app can be built in the test;
//! 2. call replays from the outermost mapped in-app frame inwards (post-mutation ones included, said
//!    so in their notes: only a run on base can tell whether they still reproduce);
//! 3. the static choice, when it is none of the above.
//!
//! A command-line entry point (a frame holding an `argparse` parser or an `argv`) is the exception:
//! its careful fix rejects the input with `parser.error()`, a `SystemExit` the replay cannot tell
//! from a crash (measured: `py-cli-kwargs-fromisoformat` stayed red after the real fix), so its
//! replay goes after the others.
//!
//! Reconstructions only a confirming run makes safe (each candidate is kept only if base confirms):
//! - an argument whose repr shows no state (`<pkg.mod.Thing object at 0x…>`) is rebuilt as
//!   `Thing()`, for a frame whose exact replay was refused. Service objects (tax tables, clients
//!   with defaults) are often built that way; when the state mattered, base says so;
//! - environment variables the crash path read into a local the event shows
//!   (`mode = os.environ.get("PAYMENTS_MODE")` with `mode` among the frame's vars) are set with
//!   pytest's `monkeypatch` in a variant right after each replay: a replay without the variable
//!   the crash depended on can pass on the buggy code.
//!
//! Nothing here is trusted: the search keeps a candidate only when it fails on base for the reported
//! reason. The fallback, when none does, is the scaffold, naming what the event lacked.

use std::cell::{Cell, RefCell};
use std::sync::LazyLock;

use regex::Regex;

use anyhow::Result;

use super::{
    frame_plans, output, plan_request, render_call, render_request, render_scaffold, Python,
};
use crate::confirm::sandbox::looks_secret;
use crate::contract::{CrashSite, Strategy};
use crate::lang::{Candidate, Candidates, GenInput, Generator};
use crate::plan::mapped_frames;
use crate::render::{self, is_py_ident};

use super::pyrepr::Imports;

thread_local! {
    /// On while [`candidates`] plans its reconstructed replays (the static path never sees it).
    static RECONSTRUCT: Cell<bool> = const { Cell::new(false) };
    /// `(argument, class)` rebuilt while it was on.
    static RECONSTRUCTED: RefCell<Vec<(String, String)>> = const { RefCell::new(Vec::new()) };
}

/// `<pkg.mod.Thing object at 0x7f…>` as (`pkg.mod`, `Thing`): a module of plain identifiers, not
/// `__main__` or `builtins`.
fn stateless_object_repr(raw: &serde_json::Value) -> Option<(String, String)> {
    let s = raw.as_str()?;
    let (dotted, addr) = s.strip_prefix('<')?.split_once(" object at 0x")?;
    let addr = addr.strip_suffix('>')?;
    if addr.is_empty() || !addr.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let (module, name) = dotted.rsplit_once('.')?;
    let importable =
        !matches!(module, "__main__" | "builtins") && module.split('.').all(is_py_ident);
    (importable && is_py_ident(name)).then(|| (module.to_string(), name.to_string()))
}

/// Called for every argument the call planner rebuilds: `Some("Thing()")` for a stateless object
/// repr while reconstructions are on, else `None` (the planner goes on as always).
pub(super) fn reconstruct_object(
    name: &str,
    raw: &serde_json::Value,
    imports: &mut Imports,
) -> Option<String> {
    if !RECONSTRUCT.get() {
        return None;
    }
    let (module, class) = stateless_object_repr(raw)?;
    imports.names.insert((module, class.clone()));
    RECONSTRUCTED.with_borrow_mut(|r| r.push((name.to_string(), class.clone())));
    Some(format!("{class}()"))
}

/// Whether the frame is a command-line entry point: it holds an `argparse` parser or an `argv`.
fn is_cli_entry(mf: &crate::plan::MappedFrame) -> bool {
    mf.frame.vars.as_ref().is_some_and(|vars| {
        vars.contains_key("argv")
            || vars
                .values()
                .any(|v| v.as_str().is_some_and(|s| s.starts_with("ArgumentParser(")))
    })
}

/// A frame's call plan, or why there is none.
type PlanOrWhy = Result<super::CallPlan, String>;

/// `frame_plans` with reconstructions on, and what each rebuilt.
fn reconstructed_plans(
    input: &GenInput,
    mapped: &[crate::plan::MappedFrame],
) -> (Vec<PlanOrWhy>, Vec<(String, String)>) {
    RECONSTRUCTED.with_borrow_mut(Vec::clear);
    RECONSTRUCT.set(true);
    let (plans, _) = frame_plans(input, mapped, &mut Vec::new());
    RECONSTRUCT.set(false);
    (plans, RECONSTRUCTED.take())
}

/// The candidates for one alert; the static output is computed once and kept in the list.
pub fn candidates(input: &GenInput) -> Result<Candidates> {
    let static_out = Python.generate(input)?;
    let mapped = mapped_frames(input.alert, input.snap, &["py"]);
    let Some(crash_mf) = mapped.last() else {
        return Ok(Candidates {
            list: vec![],
            fallback: static_out,
        });
    };
    let crash = CrashSite {
        file: crash_mf.path.clone(),
        function: crash_mf.frame.function.clone(),
        line: crash_mf.frame.lineno,
    };
    let variant = |strategy, content, reason: String| {
        output(
            strategy,
            static_out.test_files[0].clone(),
            content,
            static_out.test_command.clone(),
            static_out.suite_command.clone(),
            Some(crash.clone()),
            vec![reason],
        )
    };
    let mut list: Vec<Candidate> = Vec::new();
    let mut lacked: Vec<String> = Vec::new();

    // 1. request replay
    if input.alert.request.is_some() {
        match plan_request(input, &mapped, &crash) {
            Ok((parts, mut why)) => {
                let content = render_request(input, &crash, parts)?;
                let mut out = variant(
                    Strategy::RequestReplay,
                    content,
                    "request replay: it goes through every layer, so it holds wherever the fix lands"
                        .into(),
                );
                out.reasons.append(&mut why);
                list.push(Candidate {
                    label: "request replay".into(),
                    output: out,
                });
            }
            Err(why) => lacked.push(format!("no request replay: {why}")),
        }
    }

    // 2. call replays, outermost first (plans come innermost first)
    let mut ignored = Vec::new();
    let (plans, _) = frame_plans(input, &mapped, &mut ignored);
    let (rebuilt_plans, rebuilt) = reconstructed_plans(input, &mapped);
    let outermost = plans
        .iter()
        .zip(&rebuilt_plans)
        .rposition(|(p, r)| p.is_ok() || r.is_ok());
    // a command-line entry point rejects bad input with `parser.error()` (SystemExit), which a
    // replay cannot tell from a crash: its replay comes after the others
    let mut deferred: Vec<Candidate> = Vec::new();
    for (pos, plan) in plans.iter().enumerate().rev() {
        // the exact plan, else the one with stateless objects rebuilt as `Thing()`
        let (plan, with) = match (plan, &rebuilt_plans[pos]) {
            (Ok(p), _) => (p, vec![]),
            (Err(_), Ok(r)) => (r, reconstructions_in(r, &rebuilt)),
            (Err(why), Err(_)) => {
                lacked.push(why.clone());
                continue;
            }
        };
        let mut notes = Vec::new();
        if !with.is_empty() {
            notes.push(format!(
                "{} rebuilt with a no-argument constructor (the event showed only an object repr); kept because it failed on the base commit for the reported reason",
                with.join(", ")
            ));
        }
        if !plan.mutated.is_empty() {
            notes.push(format!(
                "replayed from the state captured at the crash: {} had already changed {} before it raised",
                plan.qualname,
                plan.mutated.join(", ")
            ));
        }
        let content = render_call(input, plan, &crash, notes)?;
        let place = if Some(pos) == outermost {
            "outermost"
        } else if pos == 0 {
            "crash frame"
        } else {
            "caller"
        };
        let mut label = format!(
            "call replay of {} ({}:{}, {place})",
            plan.qualname,
            plan.file,
            plan.line.unwrap_or(0)
        );
        if !with.is_empty() {
            label.push_str(&format!(" with {}", with.join(", ")));
        }
        let cand = Candidate {
            output: variant(Strategy::CallReplay, content, label.clone()),
            label,
        };
        if mapped.get(plan.frame_pos).is_some_and(is_cli_entry) {
            deferred.push(cand);
        } else {
            list.push(cand);
        }
    }
    list.append(&mut deferred);

    // 3. the static choice, unless one of the above already renders the same test
    let static_file = &static_out.files[0].content;
    if static_out.strategy.reproduces()
        && !list
            .iter()
            .any(|c| &c.output.files[0].content == static_file)
    {
        list.push(Candidate {
            label: format!("{} (static choice)", static_out.strategy.as_str()),
            output: static_out.clone(),
        });
    }
    if let Some(c) = list
        .iter_mut()
        .find(|c| &c.output.files[0].content == static_file)
    {
        c.label.push_str(" [static choice]");
    }

    let list = with_env_variants(list, &env_from_event(input, &mapped));

    let fallback = if static_out.strategy.reproduces() {
        lacked.push("no replay failed on the base commit with the reported exception".into());
        lacked.dedup();
        let content = render_scaffold(input, crash_mf, &crash, &lacked)?;
        variant(
            Strategy::Scaffold,
            content,
            format!("scaffold: {}", lacked.join("; ")),
        )
    } else {
        static_out
    };
    Ok(Candidates { list, fallback })
}

/// The reconstructions a plan used: `name = Class()` for each assign rebuilt that way.
fn reconstructions_in(plan: &super::CallPlan, rebuilt: &[(String, String)]) -> Vec<String> {
    let mut used: Vec<String> = rebuilt
        .iter()
        .filter(|(name, class)| {
            let code = format!("{class}()");
            plan.assigns
                .iter()
                .any(|a| &a.name == name && a.code == code)
        })
        .map(|(name, class)| format!("{name} = {class}()"))
        .collect();
    used.dedup();
    used
}

/// Environment variables the crash path read into a local whose value the event shows: in a mapped
/// frame's file, `name = os.environ.get("X" …)`, `os.getenv("X" …)` or `os.environ["X"]`, with
/// `name` among that frame's vars as a plain `'…'` string. Secret-looking names are left out.
fn env_from_event(input: &GenInput, mapped: &[crate::plan::MappedFrame]) -> Vec<(String, String)> {
    static READ: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"(?m)^\s*([A-Za-z_]\w*)\s*=\s*os\.(?:environ\.get\(|getenv\(|environ\[)\s*["']([A-Za-z_][A-Za-z0-9_]*)["']"#)
            .expect("env read regex")
    });
    let mut found: Vec<(String, String)> = Vec::new();
    for mf in mapped {
        let (Some(vars), Some(src)) = (mf.frame.vars.as_ref(), input.snap.read(&mf.path)) else {
            continue;
        };
        for cap in READ.captures_iter(&src) {
            let (local, name) = (&cap[1], &cap[2]);
            let value = vars
                .get(local)
                .and_then(|v| v.as_str())
                .and_then(plain_str_repr);
            if let Some(value) = value {
                if !looks_secret(name) && !found.iter().any(|(n, _)| n == name) {
                    found.push((name.to_string(), value));
                }
            }
        }
    }
    found
}

/// The text of a `'…'` repr without escapes or quotes inside (anything else is not rebuilt).
fn plain_str_repr(repr: &str) -> Option<String> {
    let inner = repr.strip_prefix('\'')?.strip_suffix('\'')?;
    (!inner.contains(['\\', '\'', '\n'])).then(|| inner.to_string())
}

/// After each replay, the same replay with `env` set through an autouse `monkeypatch` fixture.
fn with_env_variants(list: Vec<Candidate>, env: &[(String, String)]) -> Vec<Candidate> {
    if env.is_empty() {
        return list;
    }
    let names: Vec<String> = env.iter().map(|(n, v)| format!("{n}={v}")).collect();
    let mut fixture = String::from(
        "\n\n# The environment the crash ran with, as the event shows it; kept because the replay failed\n# on the base commit for the reported reason with it.\nimport pytest as _sentry_pytest\n\n\n@_sentry_pytest.fixture(autouse=True)\ndef _sentry_environment(monkeypatch):\n",
    );
    for (name, value) in env {
        fixture.push_str(&format!(
            "    monkeypatch.setenv({}, {})\n",
            render::py_str(name),
            render::py_str(value)
        ));
    }
    let mut out = Vec::new();
    for cand in list {
        let mut variant = cand.clone();
        variant.label = format!(
            "{} with env {}",
            cand.label.replace(" [static choice]", ""),
            names.join(", ")
        );
        variant.output.files[0].content =
            format!("{}{fixture}", cand.output.files[0].content.trim_end());
        variant.output.reasons.push(format!(
            "environment set from the event: {}",
            names.join(", ")
        ));
        out.push(cand);
        out.push(variant);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_object_reprs_are_reconstructed() {
        let v = |s: &str| serde_json::Value::from(s);
        assert_eq!(
            stateless_object_repr(&v("<billing.rates.TaxTable object at 0x7f3a2c1d9e50>")),
            Some(("billing.rates".into(), "TaxTable".into()))
        );
        for refused in [
            "<__main__.Thing object at 0x7f00>",
            "<builtins.object object at 0x7f00>",
            "<a.B object at 0xzz>",
            "<a.b-c.D object at 0x7f00>",
            "TaxTable()",
            "<function f at 0x7f00>",
        ] {
            assert_eq!(stateless_object_repr(&v(refused)), None, "{refused}");
        }
        assert_eq!(plain_str_repr("'sandbox'"), Some("sandbox".into()));
        assert_eq!(plain_str_repr("'a\\'b'"), None);
        assert_eq!(plain_str_repr("[Filtered]"), None);
        let mut imports = Imports::default();
        assert_eq!(
            reconstruct_object("taxes", &v("<a.B object at 0x1>"), &mut imports),
            None,
            "off outside the search"
        );
    }
}
