//! Verdicts: what the runs on base and head prove about one repro test.
//!
//! A red run counts only for the right reason: the contract's expected exception type (or, for a
//! request replay, the server-error marker) shows in the output, and nothing says the test merely
//! failed to load (import/collection/compile errors, missing fixtures) or is an unfinished scaffold.
//! A green run counts only when the runner's own summary says at least one test really ran.

use std::sync::OnceLock;

use regex::Regex;
use serde::Serialize;

use crate::contract::{Contract, MARKER_NOT_REPRODUCED, MARKER_REPRODUCED, MARKER_SERVER_ERROR};

use super::runner::{parse_counts, Counts, RunOutput};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    Flipped,
    NotRed,
    RedWrongReason,
    StillRed,
    Flaky,
    NoTests,
    Regression,
    Error,
    /// Head changed the pinned repro files or the runner's configuration (see `tamper`).
    Tampered,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Flipped => "FLIPPED",
            Verdict::NotRed => "NOT_RED",
            Verdict::RedWrongReason => "RED_WRONG_REASON",
            Verdict::StillRed => "STILL_RED",
            Verdict::Flaky => "FLAKY",
            Verdict::NoTests => "NO_TESTS",
            Verdict::Regression => "REGRESSION",
            Verdict::Error => "ERROR",
            Verdict::Tampered => "TAMPERED",
        }
    }
}

/// How one run ended, as judged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "reason", rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    NoTests,
    FailRight(String),
    FailWrong(String),
    Timeout,
}

impl Outcome {
    pub fn is_pass(&self) -> bool {
        matches!(self, Outcome::Pass)
    }
    pub fn label(&self) -> String {
        match self {
            Outcome::Pass => "passed".into(),
            Outcome::NoTests => "no tests ran".into(),
            Outcome::FailRight(r) => format!("failed: {r}"),
            Outcome::FailWrong(r) => format!("failed for the wrong reason: {r}"),
            Outcome::Timeout => "timed out".into(),
        }
    }
}

/// Output that means the test never got to run the code under test.
const WRONG_REASONS: &[(&str, &str)] = &[
    // Go replays print this when the replay failed, but not with the reported panic or error.
    (
        "SENTRY-REPRO: OTHER FAILURE",
        "a different failure than the reported one",
    ),
    ("ModuleNotFoundError", "module not found"),
    ("ImportError", "import error"),
    ("SyntaxError", "syntax error"),
    ("IndentationError", "syntax error"),
    ("ERROR collecting", "collection error"),
    ("errors during collection", "collection error"),
    ("Cannot find module", "module not found"),
    ("ERR_MODULE_NOT_FOUND", "module not found"),
    ("ERR_REQUIRE_ESM", "module format error"),
    (
        "Cannot use import statement outside a module",
        "module format error",
    ),
    ("could not compile", "compile error"),
    ("[build failed]", "build failed"),
    ("[setup failed]", "setup failed"),
    ("COMPILATION ERROR", "compile error"),
    ("cannot find symbol", "compile error"),
    // A Spring test whose application context cannot start never reached the handler.
    (
        "Failed to load ApplicationContext",
        "Spring application context failed to load",
    ),
    (
        "ApplicationContext failure threshold",
        "Spring application context failed to load",
    ),
    ("Could not find '", "test file not found"),
    ("file or directory not found", "test file not found"),
];

fn re(cell: &'static OnceLock<Regex>, pat: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pat).expect("valid regex"))
}

/// Why a failing run is not a reproduction, if it is not.
pub fn wrong_reason(out: &str, contract: &Contract) -> Option<String> {
    if out.contains(MARKER_NOT_REPRODUCED) {
        return Some("the scaffold's \"not yet reproduced\" marker".into());
    }
    let expected = short_type(contract.expected.exception_type.as_deref().unwrap_or(""));
    for (pat, why) in WRONG_REASONS {
        // An import error can be the crash itself: then it is the right reason, not a load failure.
        if !expected.is_empty() && pat.contains(expected) {
            continue;
        }
        if out.contains(pat) {
            return Some(format!("{why} ({pat})"));
        }
    }
    static FIXTURE: OnceLock<Regex> = OnceLock::new();
    if re(&FIXTURE, r"fixture '[^']+' not found").is_match(out) {
        return Some("missing fixture".into());
    }
    static RUSTC: OnceLock<Regex> = OnceLock::new();
    if let Some(m) = re(&RUSTC, r"error\[E\d{4}\]").find(out) {
        return Some(format!("compile error ({})", m.as_str()));
    }
    if !contract.strategy.reproduces() {
        return Some(format!(
            "a {} test never reproduces the crash",
            contract.strategy.as_str()
        ));
    }
    None
}

fn short_type(t: &str) -> &str {
    t.rsplit(['.', ':']).next().unwrap_or(t).trim()
}

/// Why a failing run is the reported crash, if it is.
pub fn right_reason(out: &str, contract: &Contract) -> Option<String> {
    if contract.expected.server_error && out.contains(MARKER_SERVER_ERROR) {
        return Some("server error (5xx)".into());
    }
    let Some(full) = contract
        .expected
        .exception_type
        .as_deref()
        .filter(|t| !t.trim().is_empty())
    else {
        // No contract (a bare --test path): any failure that is not a load failure counts.
        return Some("failed (no expected exception type known)".into());
    };
    let t = short_type(full);
    if t.eq_ignore_ascii_case("panic") {
        // Any panic is not enough: it must be the reported one. Our replays say so with the
        // REPRODUCED marker; otherwise the reported message's first line must appear.
        let message = contract
            .expected
            .exception_value
            .as_deref()
            .and_then(|v| v.lines().next())
            .map(str::trim)
            .filter(|m| !m.is_empty());
        let same = out.contains(MARKER_REPRODUCED) || message.is_none_or(|m| out.contains(m));
        return (out.contains("panicked at") && same).then(|| "panic".to_string());
    }
    // Generated JavaScript tests are titled "… does not throw TypeError", and the runners print
    // titles on lines of their own: a title must not pass for the type at the end of a line.
    let untitled = out.replace(&format!("does not throw {t}"), "does not throw");
    let out = untitled.as_str();
    // The type as an exception header (`TypeError: msg`, `E   ZeroDivisionError`), a repr
    // (`KeyError('x')`), a quoted name (`name: 'TypeError'`) or a qualified name (`java.lang.X`).
    let pat = format!(
        r"(?m)(?:^|[^\w])(?:[\w$]+\.)*{}(?::|\(|'|\x22|\]|\s*$)",
        regex::escape(t)
    );
    let found = Regex::new(&pat).map(|r| r.is_match(out)).unwrap_or(false);
    found.then(|| t.to_string())
}

/// Judge one run of a repro test.
pub fn classify(run: &RunOutput, contract: &Contract) -> Outcome {
    if run.timed_out {
        return Outcome::Timeout;
    }
    let counts: Option<Counts> = parse_counts(&run.output);
    if run.passed() {
        return match counts {
            Some(c) if c.ran() > 0 => Outcome::Pass,
            _ => Outcome::NoTests,
        };
    }
    // A runner that printed nothing (an old mocha under a new Node exits 1 silently) ran nothing
    // the gate saw: a red nobody saw is not a red.
    if run.output.trim().is_empty() {
        return Outcome::NoTests;
    }
    if let Some(why) = wrong_reason(&run.output, contract) {
        return Outcome::FailWrong(why);
    }
    if counts.is_some_and(|c| c.ran() == 0) {
        return Outcome::NoTests;
    }
    match right_reason(&run.output, contract) {
        Some(why) => Outcome::FailRight(why),
        None => Outcome::FailWrong(format!(
            "the output does not show the expected {}",
            contract
                .expected
                .exception_type
                .as_deref()
                .unwrap_or("exception")
        )),
    }
}

/// The verdict for one repro test from its runs on base (red side) and head (green side).
pub fn verdict(base: &[Outcome], head: &[Outcome]) -> (Verdict, String) {
    if base.iter().chain(head).any(|o| *o == Outcome::NoTests) {
        let side = if base.contains(&Outcome::NoTests) {
            "base"
        } else {
            "head"
        };
        return (
            Verdict::NoTests,
            format!("the runner ran no test on {side}"),
        );
    }
    let base_pass = base.iter().filter(|o| o.is_pass()).count();
    if base_pass > 0 && base_pass < base.len() {
        return (
            Verdict::Flaky,
            format!("base: {base_pass} of {} runs passed", base.len()),
        );
    }
    if base_pass == base.len() {
        return (
            Verdict::NotRed,
            "passes on base: it reproduces nothing".into(),
        );
    }
    if let Some(o) = base
        .iter()
        .find(|o| matches!(o, Outcome::FailWrong(_) | Outcome::Timeout))
    {
        return (Verdict::RedWrongReason, format!("base: {}", o.label()));
    }
    let head_pass = head.iter().filter(|o| o.is_pass()).count();
    if head_pass == head.len() {
        let why = match &base[0] {
            Outcome::FailRight(r) => r.clone(),
            o => o.label(),
        };
        return (
            Verdict::Flipped,
            format!("red on base ({why}), green on head"),
        );
    }
    if head_pass > 0 {
        return (
            Verdict::Flaky,
            format!("head: {head_pass} of {} runs passed", head.len()),
        );
    }
    let last = head.last().map(|o| o.label()).unwrap_or_default();
    (Verdict::StillRed, format!("still fails on head: {last}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{Expected, Strategy};

    fn contract(t: &str, strategy: Strategy) -> Contract {
        Contract {
            version: 1,
            issue_id: "1".into(),
            short_id: None,
            title: None,
            event_id: None,
            web_url: None,
            language: "python".into(),
            framework: "pytest".into(),
            strategy,
            expected: Expected {
                exception_type: Some(t.into()),
                exception_value: None,
                server_error: false,
            },
            crash: None,
            test_files: vec!["repro/test_x.py".into()],
            test_command: String::new(),
            suite_command: None,
            base_commit: None,
        }
    }

    #[test]
    fn a_panic_must_be_the_reported_one() {
        let mut c = contract("panic", Strategy::CallReplay);
        c.expected.exception_value =
            Some("index out of bounds: the len is 3 but the index is 3".into());
        let other = "thread 't' panicked at src/x.rs:1:1:\nattempt to divide by zero";
        assert_eq!(right_reason(other, &c), None);
        let same = "thread 't' panicked at src/x.rs:1:1:\nindex out of bounds: the len is 3 but the index is 3";
        assert!(right_reason(same, &c).is_some());
        let marked = "SENTRY-REPRO: REPRODUCED: f panicked with arguments ...\nthread 't' panicked at tests/s.rs:9:9";
        assert!(right_reason(marked, &c).is_some());
    }

    fn run(code: i32, out: &str) -> RunOutput {
        RunOutput {
            command: "t".into(),
            exit_code: Some(code),
            timed_out: false,
            duration_ms: 1,
            output: out.into(),
        }
    }

    #[test]
    fn a_test_title_naming_the_type_is_not_the_type_thrown() {
        let c = contract("TypeError", Strategy::CallReplay);
        let other =
            "✖ sentry 4101: total does not throw TypeError\n  ReferenceError: x is not defined\n";
        assert_eq!(right_reason(other, &c), None);
        let same = "✖ sentry 4101: total does not throw TypeError\n  TypeError: Cannot read properties of undefined\n";
        assert_eq!(right_reason(same, &c), Some("TypeError".into()));
    }

    #[test]
    fn reasons() {
        let c = contract("ZeroDivisionError", Strategy::CallReplay);
        let ok = "E       ZeroDivisionError: division by zero\n1 failed in 0.1s\n";
        assert_eq!(
            classify(&run(1, ok), &c),
            Outcome::FailRight("ZeroDivisionError".into())
        );
        let imp = "E   ModuleNotFoundError: No module named 'x'\n1 error in 0.1s\n";
        assert!(matches!(classify(&run(2, imp), &c), Outcome::FailWrong(_)));
        let other = "E   AssertionError: nope\n1 failed in 0.1s\n";
        assert!(matches!(
            classify(&run(1, other), &c),
            Outcome::FailWrong(_)
        ));
        let scaffold = contract("ZeroDivisionError", Strategy::Scaffold);
        assert!(matches!(
            classify(&run(1, ok), &scaffold),
            Outcome::FailWrong(_)
        ));
        let js = contract("TypeError", Strategy::CallReplay);
        assert!(matches!(
            classify(&run(1, "  name: 'TypeError'\n# pass 0\n# fail 1\n"), &js),
            Outcome::FailRight(_)
        ));
        assert_eq!(classify(&run(0, "1 passed in 0.01s"), &c), Outcome::Pass);
        assert_eq!(classify(&run(0, "ok"), &c), Outcome::NoTests);
        assert_eq!(classify(&run(1, " \n"), &c), Outcome::NoTests);
        assert_eq!(
            classify(&run(5, "no tests ran in 0.01s"), &c),
            Outcome::NoTests
        );
        let spring = contract("ArithmeticException", Strategy::RequestReplay);
        let ctx = "java.lang.IllegalStateException: Failed to load ApplicationContext for [X]\nCaused by: java.lang.ArithmeticException: / by zero\nTests run: 1, Failures: 0, Errors: 1, Skipped: 0";
        assert!(matches!(
            classify(&run(1, ctx), &spring),
            Outcome::FailWrong(_)
        ));
        let imp_crash = contract("ImportError", Strategy::CallReplay);
        assert!(matches!(
            classify(
                &run(1, "E  ImportError: boom\n1 failed in 0.1s"),
                &imp_crash
            ),
            Outcome::FailRight(_)
        ));
    }

    #[test]
    fn verdicts() {
        let red = Outcome::FailRight("X".into());
        assert_eq!(
            verdict(&[red.clone(), red.clone()], &[Outcome::Pass, Outcome::Pass]).0,
            Verdict::Flipped
        );
        assert_eq!(
            verdict(&[red.clone(), red.clone()], &[red.clone(), red.clone()]).0,
            Verdict::StillRed
        );
        assert_eq!(
            verdict(
                &[red.clone(), Outcome::Pass],
                &[Outcome::Pass, Outcome::Pass]
            )
            .0,
            Verdict::Flaky
        );
        assert_eq!(
            verdict(&[red.clone(), red.clone()], &[red.clone(), Outcome::Pass]).0,
            Verdict::Flaky
        );
        assert_eq!(
            verdict(&[Outcome::Pass], &[Outcome::Pass]).0,
            Verdict::NotRed
        );
        assert_eq!(
            verdict(&[Outcome::FailWrong("i".into())], &[Outcome::Pass]).0,
            Verdict::RedWrongReason
        );
        assert_eq!(verdict(&[red], &[Outcome::NoTests]).0, Verdict::NoTests);
    }
}
