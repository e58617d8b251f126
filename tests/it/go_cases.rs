//! Go end to end with the real toolchain: sentry-go events (produced by the real SDK, see each
//! fixture's `trigger.sh`) → generated `_test.go` → `go test` red for the reported reason → the human
//! fix → green, the app's own suite green, and the gate (`sentry-repro verify`, the real binary)
//! FLIPPED on the fix and failing without it.
//!
//! Each case is a git repository of the fixture's `app/` in a temp dir (support::Repo: fixed identity,
//! user git config ignored). Go's module and build caches are passed through to `verify` (whose HOME
//! is a temp dir), so the sample apps build offline from the local module cache. A missing `go` fails
//! the test when CI=true.

use std::path::PathBuf;
use std::sync::OnceLock;

use sentry_repro::contract::MARKER_NOT_REPRODUCED;
use sentry_repro::pipeline::Generated;
use serde_json::Value;

use crate::support::{self, have, verify_in, Gate, Repo};

/// `tests/fixtures/go/<case>` (go-split-bill is shared with hostile.rs).
fn case_dir(case: &str) -> PathBuf {
    support::fixtures("go").join(case)
}

fn event_of(case: &str) -> Value {
    let raw = std::fs::read_to_string(case_dir(case).join("event.json")).unwrap();
    serde_json::from_str(&raw).unwrap()
}

/// Go's caches of the invoking user (verify runs with an isolated HOME).
fn go_env() -> &'static Vec<(String, String)> {
    static ENV: OnceLock<Vec<(String, String)>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = vec![("GOFLAGS".to_string(), "-buildvcs=false".to_string())];
        for var in ["GOMODCACHE", "GOCACHE", "GOPATH"] {
            let out = std::process::Command::new("go").args(["env", var]).output();
            if let Ok(o) = out {
                let v = String::from_utf8_lossy(&o.stdout).trim().to_string();
                if !v.is_empty() {
                    env.push((var.to_string(), v));
                }
            }
        }
        env
    })
}

fn env_refs() -> Vec<(&'static str, &'static str)> {
    go_env()
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

struct App {
    repo: Repo,
    case: String,
}

impl App {
    fn new(case: &str) -> App {
        App {
            repo: Repo::of(&case_dir(case).join("app")),
            case: case.to_string(),
        }
    }

    /// Generate from an event and check out the new branch.
    fn generate_value(&self, event: &Value) -> Generated {
        self.repo.generate_and_checkout(event)
    }

    fn generate(&self) -> Generated {
        self.generate_value(&event_of(&self.case))
    }

    fn go(&self, cmd: &str) -> (bool, String) {
        self.repo.sh(cmd, &env_refs())
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.repo.dir.join(rel)).unwrap()
    }

    fn apply_fix(&self) {
        let patch = case_dir(&self.case).join("fix.patch");
        self.repo.git(&["apply", "-p1", patch.to_str().unwrap()]);
    }

    fn commit_fix(&self) {
        self.repo
            .commit_patch(&case_dir(&self.case).join("fix.patch"), "fix");
    }

    fn verify(&self, args: &[&str]) -> Gate {
        verify_in(&self.repo.dir, &self.repo.home, args, &env_refs())
    }
}

/// The whole story for one replay case: generate (strategy pinned), red for the reported reason,
/// the gate fails without the fix (STILL_RED), the fix makes the test and the suite green and the
/// gate passes (FLIPPED).
fn replay_then_gate(case: &str, strategy: &str, red: &[&str]) -> (App, Generated) {
    let app = App::new(case);
    let out = app.generate();
    assert_eq!(out.language, "go");
    assert_eq!(out.strategy, strategy, "{:?}", out.reasons);
    let (ok, text) = app.go(&out.test_command);
    assert!(!ok, "the repro must fail on the buggy code:\n{text}");
    for r in red {
        assert!(text.contains(r), "expected {r:?} in:\n{text}");
    }
    // The gate without a fix: the test is red on base and still red on head.
    let gate = app.verify(&["--base", "main", "--runs", "1"]);
    assert_ne!(gate.exit, 0, "{}", gate.output);
    assert_eq!(gate.verdicts(), vec!["STILL_RED"], "{}", gate.output);
    // The human fix, committed on the repro branch.
    app.commit_fix();
    let (ok, text) = app.go(&out.test_command);
    assert!(ok, "the repro must pass after the fix:\n{text}");
    let (ok, text) = app.go("go test ./... -count=1");
    assert!(ok, "the app's suite must pass after the fix:\n{text}");
    let gate = app.verify(&["--base", "main", "--runs", "1"]);
    assert_eq!(gate.exit, 0, "{}", gate.output);
    assert_eq!(gate.verdicts(), vec!["FLIPPED"], "{}", gate.output);
    (app, out)
}

/// Request replay: the sentry-go event has the request (GET /split?total=4250&ways=0); the test sends it
/// through the app and fails with the reported panic; after the fix it answers 400 and passes, and the
/// app's suite passes. Credentials (the Cookie header) are never replayed.
#[test]
fn go_split_bill_request_replay() {
    if !have("go", "version") {
        return;
    }
    let app = App::new("go-split-bill");
    let out = app.generate();
    assert_eq!(out.language, "go");
    assert_eq!(out.strategy, "request_replay", "{:?}", out.reasons);
    let test = app.read(&out.files[0]);
    assert!(
        !test.contains("session=secret"),
        "credentials must not be replayed:\n{test}"
    );
    let (ok, text) = app.go(&out.test_command);
    assert!(!ok, "{text}");
    assert!(text.contains("SENTRY-REPRO: REPRODUCED"), "{text}");
    assert!(
        text.contains("runtime error: integer divide by zero"),
        "{text}"
    );
    app.apply_fix();
    let (ok, text) = app.go(&out.test_command);
    assert!(ok, "{text}");
    let (ok, text) = app.go("go test ./... -count=1");
    assert!(ok, "{text}");
}

/// The gate end to end on go-split-bill through the real binary: without the fix verify exits
/// non-zero (STILL_RED), with fix.patch committed it passes (FLIPPED).
#[test]
fn go_split_bill_gate() {
    if !have("go", "version") {
        return;
    }
    replay_then_gate(
        "go-split-bill",
        "request_replay",
        &["SENTRY-REPRO: REPRODUCED", "integer divide by zero"],
    );
}

/// Scaffold: the same crash without the request (a panic in a worker, say) leaves the inputs of
/// `splitCents(total, ways)` unknown (Go events have no vars). `splitCents` is unexported, so the test
/// lives in its package and references it: a rename breaks it. The gate refuses it (a scaffold never
/// reproduces anything).
#[test]
fn go_split_bill_scaffold_without_request() {
    if !have("go", "version") {
        return;
    }
    let app = App::new("go-split-bill");
    let mut ev = event_of("go-split-bill");
    ev.as_object_mut().unwrap().remove("request");
    let out = app.generate_value(&ev);
    assert_eq!(out.strategy, "scaffold", "{:?}", out.reasons);
    assert!(
        out.files[0].starts_with("internal/billing/sentry_"),
        "{:?}",
        out.files
    );
    let (ok, text) = app.go(&out.test_command);
    assert!(!ok && text.contains(MARKER_NOT_REPRODUCED), "{text}");
    assert!(
        text.contains("splitCents at internal/billing/split.go:18"),
        "{text}"
    );
    let gate = app.verify(&["--base", "main", "--runs", "1", "--no-suite"]);
    assert_ne!(gate.exit, 0, "{}", gate.output);
    assert_eq!(gate.verdicts(), vec!["RED_WRONG_REASON"], "{}", gate.output);
    let src = app.repo.dir.join("internal/billing/split.go");
    let code = std::fs::read_to_string(&src)
        .unwrap()
        .replace("splitCents", "divideCents");
    std::fs::write(&src, code).unwrap();
    let (ok, text) = app.go(&out.test_command);
    assert!(!ok && text.contains("undefined: splitCents"), "{text}");
}

/// Hostile request and message values through the Go templates: `go vet` is clean and nothing runs.
#[test]
fn go_hostile_event_is_inert() {
    if !have("go", "version") {
        return;
    }
    let app = App::new("go-split-bill");
    let pwned = app.repo.dir.join("PWNED");
    let p = pwned.to_string_lossy().to_string();
    let payload = format!("\"); os.WriteFile({p:?}, nil, 0o644); (\"\n*/ }} func init() {{ os.WriteFile({p:?}, nil, 0o644) }} /*`\u{202e}\\x00");
    let mut ev = event_of("go-split-bill");
    ev["title"] = format!("+build ignore\n{payload}").into();
    ev["exception"][0]["value"] = payload.clone().into();
    ev["exception"][0]["stacktrace"]["frames"][0]["function"] = "+build ignore".into();
    ev["request"]["url"] = format!("http://h/split/{payload}").into();
    ev["request"]["query_string"] = format!("total=1&{payload}={payload}").into();
    ev["request"]["data"] = payload.clone().into();
    ev["request"]["headers"] =
        serde_json::json!({"X-Evil": payload, "Evil\"); os.Exit(0); (\"": "x"});
    let out = app.generate_value(&ev);
    assert_eq!(out.strategy, "request_replay", "{:?}", out.reasons);
    let dir = out.files[0].rsplit_once('/').map(|x| x.0).unwrap_or(".");
    let (ok, text) = app.go(&format!("go vet ./{dir}/"));
    assert!(ok, "go vet: {text}");
    // The replayed hostile request answers 404 (no crash), so the test may pass; what matters is that
    // it compiled and ran (no `+build ignore` header excluded it) and that no payload ran.
    let (_, text) = app.go(&out.test_command);
    assert!(
        text.contains("=== RUN   TestSentry_"),
        "the test must run:\n{text}"
    );
    assert!(!pwned.exists(), "a payload ran");
}

/// Handler on the stack, not behind a router constructor: `(*server).handleGuestShare` is a method
/// registered in `main()` on a ServeMux as `GET /bills/{id}/guests/{n}`. The test lives in package
/// main, builds the receiver with the package's own `newServer()`, sets the path values of that
/// pattern, and fails with the reported index panic; the fix answers 404 and the gate flips.
#[test]
fn go_bill_share_servemux_method_handler() {
    if !have("go", "version") {
        return;
    }
    let (app, out) = replay_then_gate(
        "go-bill-share",
        "request_replay",
        &[
            "SENTRY-REPRO: REPRODUCED",
            "index out of range [3] with length 3",
        ],
    );
    assert!(
        out.files[0].starts_with("sentry_") && !out.files[0].contains('/'),
        "package main lives at the root: {:?}",
        out.files
    );
    let test = app.read(&out.files[0]);
    assert!(test.contains("newServer().handleGuestShare"), "{test}");
    assert!(test.contains("SetPathValue(\"n\", \"4\")"), "{test}");
    assert!(!test.contains("Bearer"), "{test}");
}

/// Call replay of a captured (not panicked) error in a non-HTTP function: the chain quotes the input
/// (`strconv.ParseFloat: parsing "5,5"`), the stack ends in `importRates` (the capture site), which
/// calls `rates.ParseRate(string) (float64, error)`; the test calls it with "5,5" and fails while it
/// returns the reported error. The fix accepts a decimal comma; the gate flips.
#[test]
fn go_rate_import_captured_error_call_replay() {
    if !have("go", "version") {
        return;
    }
    let (app, out) = replay_then_gate(
        "go-rate-import",
        "call_replay",
        &[
            "SENTRY-REPRO: REPRODUCED",
            "ParseRate(\"5,5\") returned the reported error",
        ],
    );
    assert!(
        out.files[0].starts_with("internal/rates/sentry_"),
        "{:?}",
        out.files
    );
    let test = app.read(&out.files[0]);
    assert!(test.contains("_, err := ParseRate(input)"), "{test}");
}

/// The same error but the stack does not lead to the parser (a capture elsewhere that never calls
/// ParseRate): no guessing, a scaffold.
#[test]
fn go_rate_import_without_a_caller_on_the_stack_is_a_scaffold() {
    if !have("go", "version") {
        return;
    }
    let app = App::new("go-rate-import");
    let mut ev = event_of("go-rate-import");
    let frames = ev["exception"][3]["stacktrace"]["frames"]
        .as_array_mut()
        .unwrap();
    frames.pop();
    let out = app.generate_value(&ev);
    assert_eq!(out.strategy, "scaffold", "{:?}", out.reasons);
    let (ok, text) = app.go(&out.test_command);
    assert!(!ok && text.contains(MARKER_NOT_REPRODUCED), "{text}");
}

/// Variants of go-bill-share's handler the way real apps write them, the event adjusted to match:
/// a handler factory (`s.guestShare()` returns the closure `(*server).guestShare.func1` that
/// panics) whose body reads the sentryhttp hub from the request context unguarded. The replay calls
/// the factory on the package's constructor, puts a (silent) hub on the context and still fails with
/// the reported panic, not a nil dereference.
#[test]
fn go_bill_share_handler_factory_with_hub() {
    if !have("go", "version") {
        return;
    }
    let app = App::new("go-bill-share");
    let src = app.read("server.go")
        .replace(
            "func (s *server) handleGuestShare(w http.ResponseWriter, r *http.Request) {\n",
            "func (s *server) guestShare() http.HandlerFunc {\n\treturn func(w http.ResponseWriter, r *http.Request) {\n\tsentry.GetHubFromContext(r.Context()).Scope().SetTag(\"bill\", r.PathValue(\"id\"))\n",
        )
        .replace("b.Shares[n-1])\n}\n", "b.Shares[n-1])\n\t}\n}\n")
        .replace("s.handleGuestShare)", "s.guestShare())")
        .replace("\"sync\"\n", "\"sync\"\n\n\t\"github.com/getsentry/sentry-go\"\n");
    std::fs::write(app.repo.dir.join("server.go"), src).unwrap();
    let (ok, text) = app.go("gofmt -w server.go && go vet .");
    assert!(ok, "{text}");
    app.repo.git(&["commit", "-qam", "handler factory"]);
    let mut ev = event_of("go-bill-share");
    let frames = ev["exception"][0]["stacktrace"]["frames"]
        .as_array_mut()
        .unwrap();
    let last = frames.last_mut().unwrap();
    last["function"] = "(*server).guestShare.func1".into();
    let out = app.generate_value(&ev);
    assert_eq!(out.strategy, "request_replay", "{:?}", out.reasons);
    let test = app.read(&out.files[0]);
    assert!(
        test.contains("http.HandlerFunc(newServer().guestShare())"),
        "{test}"
    );
    assert!(test.contains("SetHubOnContext"), "{test}");
    let (ok, text) = app.go(&out.test_command);
    assert!(!ok, "{text}");
    assert!(
        text.contains("SENTRY-REPRO: REPRODUCED")
            && text.contains("index out of range [3] with length 3"),
        "{text}"
    );
}

/// A top-level handler registered with `http.HandleFunc` in main (DefaultServeMux), the path
/// value from its pattern; a different panic than the reported one fails as OTHER FAILURE and the
/// gate calls it red for the wrong reason.
#[test]
fn go_default_mux_handler_and_other_panic() {
    if !have("go", "version") {
        return;
    }
    let app = App::new("go-bill-share");
    let src = app.read("server.go")
        .replace(
            "func (s *server) handleGuestShare(w http.ResponseWriter, r *http.Request) {\n",
            "var shared = newServer()\n\nfunc handleGuestShare(w http.ResponseWriter, r *http.Request) {\n\ts := shared\n",
        );
    std::fs::write(app.repo.dir.join("server.go"), src).unwrap();
    let main = app.read("main.go").replace(
        "\ts := newServer()\n\tmux := http.NewServeMux()\n\ts.routes(mux)\n",
        "\thttp.HandleFunc(\"GET /bills/{id}/guests/{n}\", handleGuestShare)\n\tmux := http.DefaultServeMux\n",
    );
    std::fs::write(app.repo.dir.join("main.go"), main).unwrap();
    std::fs::remove_file(app.repo.dir.join("server_test.go")).unwrap();
    let routes = app
        .read("server.go")
        .replace("s.handleGuestShare)", "handleGuestShare)");
    std::fs::write(app.repo.dir.join("server.go"), routes).unwrap();
    let (ok, text) = app.go("go vet .");
    assert!(ok, "{text}");
    app.repo.git(&["add", "-A"]);
    app.repo.git(&["commit", "-qm", "default mux"]);
    let mut ev = event_of("go-bill-share");
    let frames = ev["exception"][0]["stacktrace"]["frames"]
        .as_array_mut()
        .unwrap();
    frames.last_mut().unwrap()["function"] = "handleGuestShare".into();
    // Reported with another index: the replay's panic is not this one.
    ev["exception"][0]["value"] = "runtime error: index out of range [7] with length 3".into();
    let out = app.generate_value(&ev);
    assert_eq!(out.strategy, "request_replay", "{:?}", out.reasons);
    let test = app.read(&out.files[0]);
    assert!(
        test.contains("http.HandlerFunc(handleGuestShare)"),
        "{test}"
    );
    assert!(test.contains("SetPathValue(\"id\", \"b42\")"), "{test}");
    let (ok, text) = app.go(&out.test_command);
    assert!(
        !ok && text.contains("SENTRY-REPRO: OTHER FAILURE"),
        "{text}"
    );
    let gate = app.verify(&["--base", "main", "--runs", "1", "--no-suite"]);
    assert_ne!(gate.exit, 0, "{}", gate.output);
    assert_eq!(gate.verdicts(), vec!["RED_WRONG_REASON"], "{}", gate.output);
}

/// The crashing code is an inline closure registered in `(s *server) routes(mux *http.ServeMux)`
/// (frame `(*server).routes.func1`; the helper it calls is not handler-shaped): the test registers
/// the app's own routes on a fresh ServeMux (path values by the mux itself) and replays through it.
#[test]
fn go_closure_registered_in_route_setup() {
    if !have("go", "version") {
        return;
    }
    let app = App::new("go-bill-share");
    let src = app
        .read("server.go")
        .replace(
            "func (s *server) handleGuestShare(w http.ResponseWriter, r *http.Request) {",
            "func (s *server) guestShareBody(w http.ResponseWriter, r *http.Request, _ int) {",
        )
        .replace(
            "s.handleGuestShare)",
            "func(w http.ResponseWriter, r *http.Request) { s.guestShareBody(w, r, 0) })",
        );
    std::fs::write(app.repo.dir.join("server.go"), src).unwrap();
    std::fs::remove_file(app.repo.dir.join("server_test.go")).unwrap();
    let (ok, text) = app.go("go vet .");
    assert!(ok, "{text}");
    app.repo.git(&["add", "-A"]);
    app.repo.git(&["commit", "-qm", "inline closure"]);
    let mut ev = event_of("go-bill-share");
    let frames = ev["exception"][0]["stacktrace"]["frames"]
        .as_array_mut()
        .unwrap();
    let mut inner = frames.pop().unwrap();
    let mut closure = inner.clone();
    closure["function"] = "(*server).routes.func1".into();
    closure["lineno"] = 29.into();
    inner["function"] = "(*server).guestShareBody".into();
    frames.push(closure);
    frames.push(inner);
    let out = app.generate_value(&ev);
    assert_eq!(out.strategy, "request_replay", "{:?}", out.reasons);
    let test = app.read(&out.files[0]);
    assert!(test.contains("newServer().routes(mux)"), "{test}");
    let (ok, text) = app.go(&out.test_command);
    assert!(
        !ok && text.contains("SENTRY-REPRO: REPRODUCED")
            && text.contains("index out of range [3] with length 3"),
        "{text}"
    );
}

/// A hostile quoted input goes through the call replay's Go literal: the test compiles, runs, and
/// nothing in the payload executes.
#[test]
fn go_call_replay_hostile_input_is_inert() {
    if !have("go", "version") {
        return;
    }
    let app = App::new("go-rate-import");
    let pwned = app.repo.dir.join("PWNED");
    let p = pwned.to_string_lossy().to_string();
    // As strconv.Quote writes it: inner quotes and backslashes escaped.
    let quoted = format!("\\\"); os.WriteFile(\\\"{p}\\\", nil, 0o644); (\\\"\\n*/ `\\x00");
    let mut ev = event_of("go-rate-import");
    for i in 0..3 {
        ev["exception"][i]["value"] = "x".into();
    }
    ev["exception"][3]["value"] = format!(
        "line 2 (FR): parse rate: strconv.ParseFloat: parsing \"{quoted}\": invalid syntax"
    )
    .into();
    let out = app.generate_value(&ev);
    assert_eq!(out.strategy, "call_replay", "{:?}", out.reasons);
    let (ok, text) = app.go("go vet ./internal/rates/");
    assert!(ok, "go vet: {text}");
    let (ok, text) = app.go(&out.test_command);
    assert!(!ok && text.contains("SENTRY-REPRO: REPRODUCED"), "{text}");
    assert!(!pwned.exists(), "a payload ran");
}

/// A handler method whose receiver the app builds as a zero value (`c := &counter{}` in main, no
/// constructor) and whose struct has a map field nothing makes: POST /hit?page=… (read with
/// `r.URL.Query()`) assigns into the nil map. The zero value is what production serves, so the
/// replay calls `(&counter{}).handleHit` with the captured query and fails with the reported panic;
/// the fix makes the zero value usable and the gate flips. Without the request it stays a scaffold.
#[test]
fn go_page_hits_zero_value_receiver_with_nil_map() {
    if !have("go", "version") {
        return;
    }
    let (app, out) = replay_then_gate(
        "go-page-hits",
        "request_replay",
        &["SENTRY-REPRO: REPRODUCED", "assignment to entry in nil map"],
    );
    let test = app.read(&out.files[0]);
    assert!(
        test.contains("http.HandlerFunc((&counter{}).handleHit)"),
        "{test}"
    );
    assert!(
        test.contains("query.Add(\"page\", \"/docs/install/\")"),
        "{test}"
    );
    assert!(!test.contains("sid=secret"), "{test}");
}

/// The receiver's map is filled by main (`&counter{views: …}`): a zero value is not what production
/// serves, so no replay is built on it (scaffold).
#[test]
fn go_page_hits_filled_receiver_is_not_zeroed() {
    if !have("go", "version") {
        return;
    }
    let app = App::new("go-page-hits");
    let main = app
        .read("main.go")
        .replace("c := &counter{}", "c := &counter{views: map[string]int{}}");
    std::fs::write(app.repo.dir.join("main.go"), main).unwrap();
    app.repo.git(&["commit", "-qam", "filled"]);
    let out = app.generate();
    assert_eq!(out.strategy, "scaffold", "{:?}", out.reasons);
}

/// A captured error (CaptureException of an error wrapped twice with %w) whose parser is a method:
/// `(*period.Parser).Month(string) (time.Time, error)` in internal/billing/period (two folders
/// deep), called from `runInvoices` (the capture site, package main) on `period.NewParser()`. The
/// call replay builds the receiver with that constructor, lives in the parser's package and fails
/// while Month("2024-3") returns the reported error; the fix accepts unpadded months; the gate
/// flips.
#[test]
fn go_invoice_period_method_call_replay() {
    if !have("go", "version") {
        return;
    }
    let (app, out) = replay_then_gate(
        "go-invoice-period",
        "call_replay",
        &[
            "SENTRY-REPRO: REPRODUCED",
            "NewParser().Month(\"2024-3\") returned the reported error",
        ],
    );
    assert!(
        out.files[0].starts_with("internal/billing/period/sentry_"),
        "{:?}",
        out.files
    );
    let test = app.read(&out.files[0]);
    assert!(
        test.contains("_, err := NewParser().Month(input)"),
        "{test}"
    );
}
