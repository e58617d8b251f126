//! The verdicts as people and CI systems read them: progress lines, a final table (terminal) or plain
//! lines (logs), the runner's output tail for whatever failed, a JSON report and JUnit XML.

use std::io::Write;
use std::time::Duration;

use anyhow::{Context, Result};
use quick_junit::{NonSuccessKind, Report as JReport, TestCase, TestCaseStatus, TestSuite};
use serde::Serialize;

use super::judge::{Outcome, Verdict};
use super::runner::Counts;

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub command: String,
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub duration_ms: u64,
    pub counts: Option<Counts>,
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Last lines of the runner's output.
    pub tail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TestReport {
    pub test: String,
    pub contract: Option<String>,
    pub issue_id: String,
    pub short_id: Option<String>,
    pub language: String,
    pub strategy: String,
    pub expected_exception: Option<String>,
    pub verdict: Verdict,
    pub detail: String,
    /// `sentry-repro/<issue>` (the pin tag the test was taken from), or `unpinned`.
    pub pin: String,
    /// The commit the test, contract and commands were taken from.
    pub pin_commit: Option<String>,
    /// What head changed that it must not (the evidence of `TAMPERED`).
    pub tampered: Vec<String>,
    pub base_runs: Vec<RunReport>,
    pub head_runs: Vec<RunReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SuiteReport {
    pub command: String,
    /// FLIPPED is never used here: `PASSED`, `PREEXISTING` (fails on base too), `REGRESSION`, `ERROR`.
    pub verdict: String,
    pub detail: String,
    pub head: RunReport,
    pub base: Option<RunReport>,
    /// Failing on head, not failing on base.
    pub new_failures: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub ok: bool,
    pub exit_code: u8,
    pub base: String,
    pub head: String,
    pub merge_base: String,
    pub head_commit: String,
    pub runs: u32,
    pub tests: Vec<TestReport>,
    pub suites: Vec<SuiteReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sentry: Option<Vec<String>>,
}

impl Report {
    pub fn regressed(&self) -> bool {
        self.suites
            .iter()
            .any(|s| s.verdict == "REGRESSION" || s.verdict == "ERROR")
    }
}

/// Progress on stderr: one line per step.
pub struct Progress {
    pub tty: bool,
}

impl Progress {
    pub fn step(&self, msg: &str) {
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = writeln!(err, "\x1b[2m›\x1b[0m {msg}");
        } else {
            let _ = writeln!(err, "verify: {msg}");
        }
    }
}

fn paint(tty: bool, verdict: &str) -> String {
    if !tty {
        return verdict.to_string();
    }
    let color = match verdict {
        "FLIPPED" | "PASSED" => "32",
        "PREEXISTING" | "SKIPPED" => "33",
        _ => "31",
    };
    format!("\x1b[1;{color}m{verdict}\x1b[0m")
}

const TAIL_LINES: usize = 30;

/// `TestReport::pin` of a test judged without a pin tag.
pub const UNPINNED: &str = "unpinned";

/// The final summary on stdout: a table on a terminal, plain lines otherwise.
pub fn print_summary(report: &Report, tty: bool) {
    let mut out = std::io::stdout().lock();
    let mut rows: Vec<(String, String, String)> = report
        .tests
        .iter()
        .map(|t| {
            (
                t.verdict.as_str().to_string(),
                t.test.clone(),
                t.detail.clone(),
            )
        })
        .collect();
    for s in &report.suites {
        rows.push((
            s.verdict.clone(),
            format!("suite: {}", s.command),
            s.detail.clone(),
        ));
    }
    if tty {
        let w0 = rows.iter().map(|r| r.0.len()).max().unwrap_or(7).max(7);
        let w1 = rows
            .iter()
            .map(|r| r.1.chars().count())
            .max()
            .unwrap_or(4)
            .max(4);
        let _ = writeln!(out, "\n{:<w0$}  {:<w1$}  DETAIL", "VERDICT", "TEST");
        let _ = writeln!(
            out,
            "{}  {}  {}",
            "─".repeat(w0),
            "─".repeat(w1),
            "─".repeat(30)
        );
        for (v, t, d) in &rows {
            let pad = w0 - v.len();
            let _ = writeln!(
                out,
                "{}{}  {:<w1$}  {}",
                paint(true, v),
                " ".repeat(pad),
                t,
                d
            );
        }
    } else {
        for (v, t, d) in &rows {
            let _ = writeln!(out, "{v} {t}: {d}");
        }
    }
    for t in report.tests.iter().filter(|t| t.pin == UNPINNED) {
        let _ = writeln!(
            out,
            "\nunpinned: {}: no tag sentry-repro/{} (fetch the tags?): judged against {}, the \
             first commit on the branch with its contract, which the branch's author wrote",
            t.test,
            t.issue_id,
            t.pin_commit
                .as_deref()
                .map(|c| &c[..c.len().min(10)])
                .unwrap_or("?"),
        );
    }
    for t in report.tests.iter().filter(|t| !t.tampered.is_empty()) {
        let _ = writeln!(
            out,
            "\n--- {} (TAMPERED): head changed what the pin {} holds:",
            t.test, t.pin
        );
        for why in &t.tampered {
            let _ = writeln!(out, "  - {why}");
        }
    }
    for t in report
        .tests
        .iter()
        .filter(|t| t.verdict != Verdict::Flipped)
    {
        let run = telling_run(t);
        if let Some(r) = run {
            let _ = writeln!(
                out,
                "\n--- {} ({}): `{}` → {}\n{}",
                t.test,
                t.verdict.as_str(),
                r.command,
                r.outcome.label(),
                r.tail
            );
        }
    }
    for s in report
        .suites
        .iter()
        .filter(|s| s.verdict == "REGRESSION" || s.verdict == "ERROR")
    {
        let how = match (&s.head.outcome, s.head.exit_code) {
            (Outcome::Timeout, _) => "timed out".to_string(),
            (_, Some(code)) => format!("exit {code}"),
            _ => "killed by a signal".to_string(),
        };
        let _ = writeln!(
            out,
            "\n--- suite on head: `{}` → {how}\n{}",
            s.command, s.head.tail
        );
    }
    let verdict = if report.ok { "PASSED" } else { "FAILED" };
    let _ = writeln!(
        out,
        "\nsentry-repro verify: {} ({} repro test(s), {} run(s) each, base {} → head {})",
        paint(tty, verdict),
        report.tests.len(),
        report.runs,
        &report.merge_base[..report.merge_base.len().min(10)],
        &report.head_commit[..report.head_commit.len().min(10)],
    );
}

/// The run whose output explains the verdict.
fn telling_run(t: &TestReport) -> Option<&RunReport> {
    let base = t.base_runs.iter();
    let head = t.head_runs.iter();
    let found = match t.verdict {
        Verdict::NotRed => base.clone().find(|r| r.outcome.is_pass()),
        Verdict::RedWrongReason => base
            .clone()
            .find(|r| matches!(r.outcome, Outcome::FailWrong(_) | Outcome::Timeout)),
        Verdict::StillRed => head.clone().find(|r| !r.outcome.is_pass()),
        Verdict::NoTests => base
            .clone()
            .chain(head.clone())
            .find(|r| r.outcome == Outcome::NoTests),
        _ => base
            .clone()
            .chain(head.clone())
            .find(|r| !r.outcome.is_pass()),
    };
    found.or_else(|| t.head_runs.last())
}

pub fn tail_lines() -> usize {
    TAIL_LINES
}

pub fn write_json(report: &Report, path: &std::path::Path) -> Result<()> {
    let text = serde_json::to_string_pretty(report)?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}

pub fn write_junit(report: &Report, path: &std::path::Path) -> Result<()> {
    let mut junit = JReport::new("sentry-repro verify");
    let mut suite = TestSuite::new("repro");
    for t in &report.tests {
        let status = if t.verdict == Verdict::Flipped {
            TestCaseStatus::success()
        } else {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_type(t.verdict.as_str()).set_message(t.detail.clone());
            let tail = t
                .tampered
                .iter()
                .map(|w| format!("tampered: {w}\n"))
                .chain(
                    t.base_runs
                        .iter()
                        .chain(&t.head_runs)
                        .map(|r| format!("$ {}\n{}\n", r.command, r.tail)),
                )
                .collect::<String>();
            s.set_description(tail);
            s
        };
        let mut case = TestCase::new(t.test.clone(), status);
        case.set_classname(format!(
            "sentry.{}",
            if t.issue_id.is_empty() {
                "test"
            } else {
                &t.issue_id
            }
        ));
        let ms: u64 = t
            .base_runs
            .iter()
            .chain(&t.head_runs)
            .map(|r| r.duration_ms)
            .sum();
        case.set_time(Duration::from_millis(ms));
        case.add_property(("verdict", t.verdict.as_str()));
        case.add_property(("pin", t.pin.as_str()));
        suite.add_test_case(case);
    }
    for s in &report.suites {
        let status = match s.verdict.as_str() {
            "PASSED" | "PREEXISTING" => TestCaseStatus::success(),
            v => {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                st.set_type(v)
                    .set_message(s.detail.clone())
                    .set_description(s.head.tail.clone());
                st
            }
        };
        let mut case = TestCase::new(format!("suite: {}", s.command), status);
        case.set_classname("sentry.suite");
        case.set_time(Duration::from_millis(s.head.duration_ms));
        case.add_property(("verdict", s.verdict.as_str()));
        suite.add_test_case(case);
    }
    junit.add_test_suite(suite);
    let xml = junit.to_string().context("serializing JUnit XML")?;
    std::fs::write(path, xml).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tampered() -> Report {
        Report {
            ok: false,
            exit_code: 1,
            base: "main".into(),
            head: "HEAD".into(),
            merge_base: "a".repeat(40),
            head_commit: "b".repeat(40),
            runs: 1,
            tests: vec![TestReport {
                test: "repro/test_sentry_1.py".into(),
                contract: Some("repro/sentry-1.json".into()),
                issue_id: "1".into(),
                short_id: None,
                language: "python".into(),
                strategy: "call_replay".into(),
                expected_exception: Some("KeyError".into()),
                verdict: Verdict::Tampered,
                detail: "head changed what the generator pinned (not run): added repro/conftest.py"
                    .into(),
                pin: "sentry-repro/1".into(),
                pin_commit: Some("c".repeat(40)),
                tampered: vec!["added repro/conftest.py in the repro folder".into()],
                base_runs: vec![],
                head_runs: vec![],
            }],
            suites: vec![],
            sentry: None,
        }
    }

    #[test]
    fn tampered_in_json_and_junit() {
        let dir = tempfile::tempdir().unwrap();
        let (json, xml) = (dir.path().join("r.json"), dir.path().join("r.xml"));
        write_json(&tampered(), &json).unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(v["tests"][0]["verdict"], "TAMPERED");
        assert_eq!(v["tests"][0]["pin"], "sentry-repro/1");
        write_junit(&tampered(), &xml).unwrap();
        let text = std::fs::read_to_string(&xml).unwrap();
        let junit = quick_junit::Report::deserialize_from_str(&text).unwrap();
        match &junit.test_suites[0].test_cases[0].status {
            TestCaseStatus::NonSuccess {
                ty, description, ..
            } => {
                assert_eq!(ty.as_ref().unwrap().as_str(), "TAMPERED");
                assert!(description
                    .as_ref()
                    .unwrap()
                    .contains("tampered: added repro/conftest.py"));
            }
            other => panic!("expected a failure, got {other:?}"),
        }
    }
}
