//! `generate --confirm` with the real pytest: candidates run on the base commit, and only one that
//! fails there for the reported reason is handed over (else the scaffold, listing every candidate).

use std::process::Command;

use serde_json::Value;

use sentry_repro::config::ProjectConfig;
use sentry_repro::confirm::{sandbox, ConfirmSettings};
use sentry_repro::pipeline::{self, GenerateOptions, Generated};

use crate::support::{fixed_now, fixtures, have, verify_in, Repo, BIN};

fn event(rel: &str) -> Value {
    let raw = std::fs::read_to_string(fixtures(rel).join("event.json")).unwrap();
    serde_json::from_str(&raw).unwrap()
}

fn pytest() -> bool {
    have("python3", "--version") && have("pytest", "--version")
}

fn settings() -> ConfirmSettings {
    ConfirmSettings {
        enabled: true,
        ..Default::default()
    }
}

/// `pipeline::generate` on the repository with `confirm` as the project's `[confirm]`.
fn generate(repo: &Repo, event: &Value, confirm: Option<ConfirmSettings>) -> Generated {
    let alert = sentry_repro::webhook::alert_from_any_json(event);
    let mut project = ProjectConfig::for_repo(&repo.dir);
    project.confirm = confirm.unwrap_or_default();
    pipeline::generate(
        &alert,
        &project,
        &GenerateOptions {
            base: None,
            dry_run: false,
            now: Some(fixed_now()),
        },
    )
    .expect("generate")
}

fn file_of(repo: &Repo, branch: &str, path: &str) -> String {
    repo.git(&["show", &format!("{branch}:{path}")])
}

fn contract_of(repo: &Repo, out: &Generated) -> Value {
    let path = out.files.iter().find(|f| f.ends_with(".json")).unwrap();
    serde_json::from_str(&file_of(repo, out.branch.as_deref().unwrap(), path)).unwrap()
}

fn note_of(repo: &Repo, out: &Generated) -> String {
    let path = out.files.iter().find(|f| f.ends_with(".md")).unwrap();
    file_of(repo, out.branch.as_deref().unwrap(), path)
}

/// Check out the handed-over branch, commit the case's fix on it and gate it: it must flip.
fn assert_flips_with_the_fix(repo: &Repo, out: &Generated, case: &str, message: &str) {
    repo.git(&["checkout", "-q", out.branch.as_deref().unwrap()]);
    repo.commit_patch(&fixtures(case).join("fix.patch"), message);
    let gate = verify_in(
        &repo.dir,
        &repo.home,
        &["--base", "main", "--runs", "1"],
        &[],
    );
    assert_eq!(gate.verdicts(), ["FLIPPED"], "{}", gate.output);
}

#[test]
fn a_static_choice_green_on_base_is_skipped_for_the_outer_replay_that_reproduces() {
    if !pytest() {
        return;
    }
    let case = "corpus-extra/py-batch-profile-global";
    let ev = event(case);

    // Without --confirm: the crash frame's replay, share(120), passes on the buggy code (the
    // process-wide worker count is only 0 after run_batch switched the profile).
    let plain = Repo::of(&fixtures(case).join("app"));
    let static_out = generate(&plain, &ev, None);
    assert_eq!(static_out.strategy, "call_replay");
    assert_eq!(
        static_out.confirmed, None,
        "no confirm keys without --confirm"
    );
    plain.git(&["checkout", "-q", static_out.branch.as_deref().unwrap()]);
    let (green, text) = plain.sh(&static_out.test_command, &[]);
    assert!(green, "the static replay is green on base: {text}");

    // With --confirm: the outer run_batch replay is handed over, proven red on base.
    let repo = Repo::of(&fixtures(case).join("app"));
    let out = generate(&repo, &ev, Some(settings()));
    assert_eq!(out.confirmed, Some(true), "{out:#?}");
    assert_eq!(out.strategy, "call_replay");
    let first = &out.candidates[0];
    assert!(first.label.contains("run_batch"), "{:#?}", out.candidates);
    assert_eq!(first.outcome, "confirmed");
    assert_eq!(
        out.candidates.len(),
        1,
        "the search stops at the first confirmed"
    );
    let contract = contract_of(&repo, &out);
    assert_eq!(contract["confirmed"], true);
    assert!(
        contract["base_output"]
            .as_str()
            .unwrap()
            .contains("ZeroDivisionError"),
        "{contract}"
    );
    let note = note_of(&repo, &out);
    assert!(note.contains("Candidates run on the base commit"), "{note}");
    assert!(note.contains("confirmed on the base commit"), "{note}");

    // The handed-over test flips with the developers' fix: the gate says FLIPPED.
    repo.git(&["checkout", "-q", out.branch.as_deref().unwrap()]);
    let (red, text) = repo.sh(&out.test_command, &[]);
    assert!(!red && text.contains("SENTRY-REPRO: REPRODUCED"), "{text}");
    assert_flips_with_the_fix(&repo, &out, case, "fix: no share without workers");
}

#[test]
fn the_outermost_replay_is_chosen_when_several_reproduce() {
    if !pytest() {
        return;
    }
    let case = "corpus/py-rating-average-empty";
    let repo = Repo::of(&fixtures(case).join("app"));
    let out = generate(&repo, &event(case), Some(settings()));
    assert_eq!(out.confirmed, Some(true), "{out:#?}");
    let chosen = &out.candidates[0];
    assert!(
        chosen.label.contains("product_summary") && chosen.label.contains("outermost"),
        "{:#?}",
        out.candidates
    );
    let test = file_of(&repo, out.branch.as_deref().unwrap(), &out.files[0]);
    assert!(test.contains("product_summary("), "{test}");
}

#[test]
fn a_stateless_object_is_rebuilt_with_its_constructor_only_because_base_confirms_it() {
    if !pytest() {
        return;
    }
    let case = "corpus-extra/py-invoice-taxtable-object";
    let ev = event(case);
    // Static: taxes and self are `<billing.rates.TaxTable object at 0x…>`, so only a scaffold.
    let plain = Repo::of(&fixtures(case).join("app"));
    assert_eq!(generate(&plain, &ev, None).strategy, "scaffold");

    let repo = Repo::of(&fixtures(case).join("app"));
    let out = generate(&repo, &ev, Some(settings()));
    assert_eq!(out.confirmed, Some(true), "{:#?}", out.candidates);
    let chosen = &out.candidates[0];
    assert!(
        chosen.label.contains("invoice_total") && chosen.label.contains("taxes = TaxTable()"),
        "{:#?}",
        out.candidates
    );
    let test = file_of(&repo, out.branch.as_deref().unwrap(), &out.files[0]);
    assert!(
        test.contains("from billing.rates import TaxTable"),
        "{test}"
    );
    assert!(
        test.contains("no-argument constructor"),
        "the test says so: {test}"
    );

    assert_flips_with_the_fix(&repo, &out, case, "fix: no VAT where none is known");
}

#[test]
fn an_environment_variable_the_event_shows_is_set_when_the_plain_replay_is_green() {
    if !pytest() {
        return;
    }
    let case = "corpus-extra/py-payments-mode-env";
    let repo = Repo::of(&fixtures(case).join("app"));
    let out = generate(&repo, &event(case), Some(settings()));
    assert_eq!(out.confirmed, Some(true), "{:#?}", out.candidates);
    let outcomes: Vec<(&str, &str)> = out
        .candidates
        .iter()
        .map(|c| (c.label.as_str(), c.outcome.as_str()))
        .collect();
    // The plain replay (the static choice) runs with PAYMENTS_MODE unset and passes on base.
    assert_eq!(outcomes[0].1, "passed_on_base", "{outcomes:#?}");
    assert!(outcomes[0].0.contains("static choice"), "{outcomes:#?}");
    assert_eq!(outcomes[1].1, "confirmed", "{outcomes:#?}");
    assert!(
        outcomes[1].0.contains("PAYMENTS_MODE=sandbox"),
        "{outcomes:#?}"
    );
    let test = file_of(&repo, out.branch.as_deref().unwrap(), &out.files[0]);
    assert!(
        test.contains(r#"monkeypatch.setenv("PAYMENTS_MODE", "sandbox")"#),
        "{test}"
    );

    assert_flips_with_the_fix(&repo, &out, case, "fix: sandbox mode has no fee");
}

#[test]
fn a_command_line_entry_point_is_tried_after_the_functions_it_calls() {
    if !pytest() {
        return;
    }
    // The fix rejects the input with `parser.error()` (SystemExit) in the CLI's main: a replay of
    // main stays red after it, the replay of schedule_digest flips.
    let case = "corpus-extra/py-cli-kwargs-fromisoformat";
    let repo = Repo::of(&fixtures(case).join("app"));
    let out = generate(&repo, &event(case), Some(settings()));
    assert_eq!(out.confirmed, Some(true), "{:#?}", out.candidates);
    assert!(
        out.candidates[0].label.contains("schedule_digest"),
        "{:#?}",
        out.candidates
    );
    assert_flips_with_the_fix(&repo, &out, case, "fix: usage error");
}

#[test]
fn when_nothing_confirms_the_branch_gets_the_scaffold_listing_every_candidate() {
    if !pytest() {
        return;
    }
    let case = "corpus-extra/py-batch-profile-global";
    let mut ev = event(case);
    // The SDK scrubbed the outer frame's profile: only share(120) is left, and it is green on base.
    let frames = ev["exception"]["values"][0]["stacktrace"]["frames"]
        .as_array_mut()
        .unwrap();
    let outer = frames
        .iter_mut()
        .find(|f| f["function"] == "run_batch")
        .unwrap();
    outer["vars"]["profile"] = Value::from("[Filtered]");
    let repo = Repo::of(&fixtures(case).join("app"));
    let out = generate(&repo, &ev, Some(settings()));
    assert_eq!(out.strategy, "scaffold", "{out:#?}");
    assert_eq!(out.confirmed, Some(false));
    assert_eq!(out.candidates.len(), 1, "{:#?}", out.candidates);
    assert_eq!(out.candidates[0].outcome, "passed_on_base");
    assert!(out.candidates[0].label.contains("share"));
    let note = note_of(&repo, &out);
    assert!(note.contains("passed_on_base"), "{note}");
    assert!(
        note.contains("1 passed"),
        "the note shows what base printed: {note}"
    );
    let contract = contract_of(&repo, &out);
    assert_eq!(contract["confirmed"], false);
    assert_eq!(contract["strategy"], "scaffold");
}

#[test]
fn a_candidate_past_the_run_timeout_is_killed_and_not_confirmed() {
    if !pytest() {
        return;
    }
    let case = "corpus-extra/py-export-throttle-sleep";
    let repo = Repo::of(&fixtures(case).join("app"));
    let limits = ConfirmSettings {
        run_timeout_secs: 1,
        ..settings()
    };
    let started = std::time::Instant::now();
    let out = generate(&repo, &event(case), Some(limits));
    assert_eq!(out.strategy, "scaffold", "{out:#?}");
    assert_eq!(
        out.candidates[0].outcome, "timed_out",
        "{:#?}",
        out.candidates
    );
    assert!(
        out.candidates[0].duration_ms < 2500,
        "{:#?}",
        out.candidates
    );
    assert!(started.elapsed().as_secs() < 10);

    // No run at all when the budget allows none: listed as not run.
    let repo = Repo::of(&fixtures(case).join("app"));
    let none = ConfirmSettings {
        max_candidates: 0,
        ..settings()
    };
    let out = generate(&repo, &event(case), Some(none));
    assert_eq!(out.strategy, "scaffold");
    assert_eq!(
        out.candidates[0].outcome, "not_run",
        "{:#?}",
        out.candidates
    );
}

#[test]
fn generate_confirm_json_lists_the_candidates() {
    if !pytest() {
        return;
    }
    let case = "corpus-extra/py-batch-profile-global";
    let repo = Repo::of(&fixtures(case).join("app"));
    let out = Command::new(BIN)
        .args(["generate", "--confirm", "--dry-run", "--json", "--repo"])
        .arg(&repo.dir)
        .arg(fixtures(case).join("event.json"))
        .env("HOME", &repo.home)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["confirmed"], true, "{v}");
    assert_eq!(v["candidates"][0]["outcome"], "confirmed", "{v}");
    assert!(v["candidates"][0]["label"]
        .as_str()
        .unwrap()
        .contains("run_batch"));
}

#[test]
fn the_bubblewrap_template_confirms_and_cuts_the_network() {
    if !pytest() || !have("bwrap", "--version") {
        return;
    }
    // The candidate runs inside bubblewrap and is still confirmed.
    let case = "corpus-extra/py-batch-profile-global";
    let repo = Repo::of(&fixtures(case).join("app"));
    let boxed = ConfirmSettings {
        command: Some(sandbox::BWRAP_TEMPLATE.into()),
        ..settings()
    };
    let out = generate(&repo, &event(case), Some(boxed));
    assert_eq!(out.confirmed, Some(true), "{:#?}", out.candidates);

    // A connection to a port open on this machine fails inside the box and works outside it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let connect = format!(
        "python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=3)\""
    );
    let dir = tempfile::tempdir().unwrap();
    let limit = std::time::Duration::from_secs(20);
    let outside = sandbox::run(&connect, dir.path(), None, limit).unwrap();
    assert!(outside.passed(), "{}", outside.output);
    let inside = sandbox::run(&connect, dir.path(), Some(sandbox::BWRAP_TEMPLATE), limit).unwrap();
    assert!(!inside.passed(), "the network is cut: {}", inside.output);
    assert!(
        inside.output.contains("Connection refused") || inside.output.contains("Error"),
        "{}",
        inside.output
    );
}
