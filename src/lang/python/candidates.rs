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
//! Nothing here is trusted: the search keeps a candidate only when it fails on base for the reported
//! reason. The fallback, when none does, is the scaffold, naming what the event lacked.

use anyhow::Result;

use super::{
    frame_plans, output, plan_request, render_call, render_request, render_scaffold, Python,
};
use crate::contract::{CrashSite, Strategy};
use crate::lang::{Candidate, Candidates, GenInput, Generator};
use crate::plan::mapped_frames;

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
    let outermost = plans.iter().rposition(|p| p.is_ok());
    for (pos, plan) in plans.iter().enumerate().rev() {
        let plan = match plan {
            Ok(p) => p,
            Err(why) => {
                lacked.push(why.clone());
                continue;
            }
        };
        let mut notes = Vec::new();
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
        let label = format!(
            "call replay of {} ({}:{}, {place})",
            plan.qualname,
            plan.file,
            plan.line.unwrap_or(0)
        );
        list.push(Candidate {
            output: variant(Strategy::CallReplay, content, label.clone()),
            label,
        });
    }

    // 3. the static choice, unless one of the above already renders the same test
    let static_file = &static_out.files[0].content;
    if static_out.strategy.reproduces() && !list.iter().any(|c| &c.output.files[0].content == static_file) {
        list.push(Candidate {
            label: format!("{} (static choice)", static_out.strategy.as_str()),
            output: static_out.clone(),
        });
    }
    if let Some(c) = list.iter_mut().find(|c| &c.output.files[0].content == static_file) {
        c.label.push_str(" [static choice]");
    }

    let fallback = if static_out.strategy.reproduces() {
        lacked.push("no replay failed on the base commit with the reported exception".into());
        lacked.dedup();
        let content = render_scaffold(input, crash_mf, &crash, &lacked)?;
        variant(Strategy::Scaffold, content, format!("scaffold: {}", lacked.join("; ")))
    } else {
        static_out
    };
    Ok(Candidates { list, fallback })
}
