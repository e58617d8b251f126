//! The service through the real server: actix-web bound to a free port, real HTTP with ureq (or a raw
//! TCP socket where a client library would hide the behaviour under test: oversize bodies, slow
//! bodies). Alerts land in a recording sink so these tests need no git; one test uses the real
//! `SpawnSink` on a temporary git repository.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use proptest::prelude::*;
use sentry_repro::alert::Alert;
use sentry_repro::config::{ProjectConfig, Settings};
use sentry_repro::server::sign;
use sentry_repro::sink::{Accepted, AlertSink, Delivery, SpawnSink};
use sentry_repro::webhook::{self, Outcome};
use serde_json::{json, Value};

const SECRET: &str = "test-client-secret";
const TOKEN: &str = "legacy-token-123";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn read_fixture(rel: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(rel)).unwrap_or_else(|e| panic!("fixture {rel}: {e}"))
}

// ---------------------------------------------------------------------------------------------
// Test server

#[derive(Default)]
struct RecordingSink {
    got: Mutex<Vec<(Alert, ProjectConfig, Delivery)>>,
}

impl RecordingSink {
    fn last(&self) -> (Alert, ProjectConfig, Delivery) {
        self.got
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("the sink received nothing")
    }
    fn count(&self) -> usize {
        self.got.lock().unwrap().len()
    }
}

impl AlertSink for RecordingSink {
    fn accept(
        &self,
        alert: Alert,
        project: ProjectConfig,
        delivery: Delivery,
    ) -> anyhow::Result<Accepted> {
        let mut got = self.got.lock().unwrap();
        got.push((alert, project, delivery));
        Ok(Accepted {
            job_id: format!("test-{}", got.len()),
            duplicate: false,
        })
    }
}

struct TestServer {
    addr: SocketAddr,
    handle: actix_web::dev::ServerHandle,
    sink: Arc<RecordingSink>,
}

impl TestServer {
    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let h = self.handle.clone();
        if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            rt.block_on(h.stop(false));
        }
    }
}

fn test_settings() -> Settings {
    Settings {
        client_secret: Some(SECRET.into()),
        legacy_token: Some(TOKEN.into()),
        workers: 1,
        request_timeout: Duration::from_secs(5),
        projects: vec![ProjectConfig::for_repo("/nonexistent-repo")],
        ..Settings::default()
    }
}

/// Start the real server on a free port with `make_sink` building the sink inside its runtime.
fn start_with(
    settings: Settings,
    make_sink: impl FnOnce(tokio::runtime::Handle) -> Arc<dyn AlertSink> + Send + 'static,
) -> (SocketAddr, actix_web::dev::ServerHandle) {
    crate::support::start_server(settings, make_sink)
}

fn start(settings: Settings) -> TestServer {
    let sink = Arc::new(RecordingSink::default());
    let s2 = sink.clone();
    let (addr, handle) = start_with(settings, move |_| s2);
    TestServer { addr, handle, sink }
}

struct Resp {
    status: u16,
    body: Value,
    hook_error: Option<String>,
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(20))
        .build()
}

fn post(url: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
    let mut req = agent().post(url);
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let resp = match req.send_bytes(body) {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport error posting to {url}: {e}"),
    };
    let status = resp.status();
    let hook_error = resp.header("Sentry-Hook-Error").map(str::to_owned);
    let text = resp.into_string().unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Resp {
        status,
        body,
        hook_error,
    }
}

/// A signed Integration Platform delivery, as Sentry sends it.
fn post_signed(s: &TestServer, resource: &str, body: &[u8]) -> Resp {
    let sig = sign(SECRET.as_bytes(), body);
    post(
        &s.url("/handle-sentry-alert"),
        &[
            ("Content-Type", "application/json"),
            ("Sentry-Hook-Resource", resource),
            ("Sentry-Hook-Signature", &sig),
            ("Sentry-Hook-Timestamp", &now_secs().to_string()),
            ("Request-ID", "0123456789abcdef0123456789abcdef"),
        ],
        body,
    )
}

fn post_legacy(s: &TestServer, token: Option<&str>, body: &[u8]) -> Resp {
    let url = match token {
        Some(t) => s.url(&format!("/handle-sentry-alert?token={t}")),
        None => s.url("/handle-sentry-alert"),
    };
    post(&url, &[("Content-Type", "application/json")], body)
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn healthy(s: &TestServer) -> bool {
    matches!(agent().get(&s.url("/healthz")).call(), Ok(r) if r.status() == 200)
}

/// A raw request over TCP; returns the status line's code (0 when the connection closed first).
fn raw_request(addr: SocketAddr, head: &str, body_parts: &[(&[u8], Duration)]) -> (u16, String) {
    let mut sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    sock.write_all(head.as_bytes()).unwrap();
    for (part, pause) in body_parts {
        if sock.write_all(part).is_err() {
            break;
        }
        std::thread::sleep(*pause);
    }
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match sock.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if out.windows(4).any(|w| w == b"\r\n\r\n") && out.len() > 12 {
                    // Enough for the status line and headers; read what else is there quickly.
                    sock.set_read_timeout(Some(Duration::from_millis(300)))
                        .unwrap();
                }
            }
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&out).into_owned();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, text)
}

fn expect_alert(p: webhook::Parsed) -> Alert {
    match p.outcome {
        Outcome::Alert(a) => *a,
        Outcome::Acknowledge(w) => panic!("expected an alert, got: {w}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Every payload in tests/fixtures/payloads

/// (file, resource header or None for legacy, expected status, issue id, exception type, frames,
/// crash frame (filename, function, lineno)).
type Expect = (
    &'static str,
    Option<&'static str>,
    u16,
    Option<&'static str>,
    Option<&'static str>,
    usize,
    Option<(&'static str, Option<&'static str>, u64)>,
);

const PAYLOADS: &[Expect] = &[
    (
        "comment.created.sentry-docs.json",
        Some("comment"),
        200,
        None,
        None,
        0,
        None,
    ),
    (
        "error.created.javascript.sentry-docs.json",
        Some("error"),
        202,
        Some("1170820242"),
        Some("ReferenceError"),
        1,
        Some(("/runner", None, 3)),
    ),
    (
        "event_alert.triggered.go.zulip.json",
        Some("event_alert"),
        202,
        Some("1637164584"),
        Some("*url.Error"),
        1,
        Some(("trigger-exception.go", Some("main"), 45)),
    ),
    (
        "event_alert.triggered.javascript-browser.zulip.json",
        Some("event_alert"),
        202,
        Some("1731239773"),
        Some("Error"),
        1,
        Some((
            "/mnt/data/Documents/Stuff%20for%20Zulip/Repos/sentry/js/external.js",
            None,
            4,
        )),
    ),
    (
        "event_alert.triggered.javascript.sentry-docs.json",
        Some("event_alert"),
        202,
        Some("1117540176"),
        Some("ReferenceError"),
        3,
        Some(("<anonymous>", None, 3)),
    ),
    (
        "event_alert.triggered.python-message-no-exception.zulip.json",
        Some("event_alert"),
        202,
        Some("1635261062"),
        None,
        0,
        None,
    ),
    (
        "event_alert.triggered.python.zulip.json",
        Some("event_alert"),
        202,
        Some("1635244907"),
        Some("Exception"),
        1,
        Some(("trigger-exception.py", Some("<module>"), 7)),
    ),
    (
        "installation.created.sentry-docs.json",
        Some("installation"),
        200,
        None,
        None,
        0,
        None,
    ),
    (
        "issue.assigned.go.zulip.json",
        Some("issue"),
        200,
        None,
        None,
        0,
        None,
    ),
    (
        "issue.created.javascript.sentry-docs.json",
        Some("issue"),
        202,
        Some("1170820242"),
        Some("ReferenceError"),
        0,
        None,
    ),
    (
        "issue.created.python.zulip.json",
        Some("issue"),
        202,
        Some("1635244907"),
        Some("Exception"),
        0,
        None,
    ),
    (
        "issue.ignored.python.zulip.json",
        Some("issue"),
        200,
        None,
        None,
        0,
        None,
    ),
    (
        "issue.resolved.python.zulip.json",
        Some("issue"),
        200,
        None,
        None,
        0,
        None,
    ),
    (
        "legacy_plugin.exception.python.zulip.json",
        None,
        202,
        Some("1972208801"),
        Some("ValueError"),
        1,
        Some(("trigger-exception.py", Some("<module>"), 10)),
    ),
    (
        "legacy_plugin.javascript.sentry-docs-legacy.json",
        None,
        202,
        Some("1385042923"),
        Some("ReferenceError"),
        1,
        Some(("/runner", None, 3)),
    ),
    (
        "legacy_plugin.sample_event.python.zulip.json",
        None,
        202,
        Some("4218258981"),
        None,
        5,
        Some(("raven/scripts/runner.py", Some("main"), 112)),
    ),
    (
        "metric_alert.resolved.sentry-docs.json",
        Some("metric_alert"),
        200,
        None,
        None,
        0,
        None,
    ),
    (
        "seer.pr_created.sentry-docs.json",
        Some("seer"),
        200,
        None,
        None,
        0,
        None,
    ),
    (
        "seer.root_cause_completed.sentry-docs.json",
        Some("seer"),
        200,
        None,
        None,
        0,
        None,
    ),
];

fn check_alert(file: &str, a: &Alert, e: &Expect) {
    assert_eq!(a.issue_id.as_deref(), e.3, "{file}: issue id");
    assert_eq!(a.exception_type(), e.4, "{file}: exception type");
    let frames = a.primary_frames();
    assert_eq!(frames.len(), e.5, "{file}: number of frames");
    let crash = frames.last().map(|f| {
        (
            f.filename.clone().unwrap_or_default(),
            f.function.clone(),
            f.lineno.unwrap_or(0),
        )
    });
    let want =
        e.6.map(|(f, func, l)| (f.to_string(), func.map(str::to_owned), l));
    assert_eq!(crash, want, "{file}: crash frame");
}

#[test]
fn every_payload_fixture_is_accepted_with_the_right_outcome() {
    let listed: std::collections::BTreeSet<String> = std::fs::read_dir(fixtures().join("payloads"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    let covered: std::collections::BTreeSet<String> =
        PAYLOADS.iter().map(|e| e.0.to_string()).collect();
    assert_eq!(
        listed, covered,
        "every payload fixture must have an expectation"
    );

    let s = start(test_settings());
    for e in PAYLOADS {
        let (file, resource, status) = (e.0, e.1, e.2);
        let body = read_fixture(&format!("payloads/{file}"));
        let before = s.sink.count();
        let r = match resource {
            Some(res) => post_signed(&s, res, &body),
            None => post_legacy(&s, Some(TOKEN), &body),
        };
        assert_eq!(r.status, status, "{file}: {}", r.body);
        if status == 202 {
            assert!(r.body["job_id"].is_string(), "{file}: {}", r.body);
            assert_eq!(s.sink.count(), before + 1, "{file}");
            let (alert, _, delivery) = s.sink.last();
            check_alert(file, &alert, e);
            assert_eq!(
                delivery.raw_body, body,
                "{file}: the sink gets the exact raw body"
            );
            assert_eq!(delivery.resource, resource.unwrap_or("legacy"));
            // The same body through the library parser (what `generate` reads) agrees.
            let v: Value = serde_json::from_slice(&body).unwrap();
            check_alert(file, &webhook::alert_from_any_json(&v), e);
        } else {
            assert_eq!(r.body["status"], "acknowledged", "{file}: {}", r.body);
            assert!(
                r.body["detail"].as_str().unwrap().contains("acknowledged"),
                "{file}"
            );
            assert_eq!(s.sink.count(), before, "{file}: nothing queued");
        }
    }
}

#[test]
fn payload_details_project_links_and_issue_fields() {
    let v: Value = serde_json::from_slice(&read_fixture(
        "payloads/event_alert.triggered.go.zulip.json",
    ))
    .unwrap();
    let a = expect_alert(webhook::parse_integration("event_alert", &v).unwrap());
    assert_eq!(a.project_id.as_deref(), Some("5216640"));
    assert_eq!(a.project_slug.as_deref(), Some("zulip-integration-testing"));
    assert_eq!(a.exceptions.len(), 2, "Go chain: root cause first");
    assert_eq!(a.exceptions[0].ty.as_deref(), Some("*http.badStringError"));
    let v: Value =
        serde_json::from_slice(&read_fixture("payloads/issue.created.python.zulip.json")).unwrap();
    let a = expect_alert(webhook::parse_integration("issue", &v).unwrap());
    assert_eq!(a.short_id.as_deref(), Some("ZULIP-INTEGRATION-TESTING-2"));
    assert_eq!(a.project_slug.as_deref(), Some("zulip-integration-testing"));
    assert!(a.title.as_deref().unwrap().starts_with("Exception"));
    assert!(!a.has_stack());
    let v: Value = serde_json::from_slice(&read_fixture(
        "payloads/legacy_plugin.exception.python.zulip.json",
    ))
    .unwrap();
    let a = expect_alert(webhook::parse_unsigned(&v).unwrap());
    assert_eq!(
        a.project_slug.as_deref(),
        Some(v["project_slug"].as_str().unwrap())
    );
    assert!(!a.web_url.as_deref().unwrap().contains("referrer"));
}

/// Sentry's sample events (an older format with `sentry.interfaces.*` keys) parse as bare events;
/// they carry no event id, so the server refuses them naming `event_id`.
/// (sample name, exception type, frame count, (crash file, function, line))
type SampleCase<'a> = (&'a str, &'a str, usize, (&'a str, &'a str, u64));

#[test]
fn sample_events_parse_and_need_an_id_over_http() {
    let cases: &[SampleCase] = &[
        (
            "elixir",
            "exit",
            6,
            (
                "lib/hello_http2/www.ex",
                "HelloHTTP2.WWW.handle_request/2",
                9,
            ),
        ),
        (
            "java",
            "ApiException",
            57,
            ("ApiRequest.java", "perform", 8),
        ),
        ("javascript", "TypeError", 4, ("raven.js", "apply", 62)),
        (
            "php",
            "Exception",
            4,
            (
                "/Users/example/Development/raven-php/bin/raven",
                "raven_cli_test",
                16,
            ),
        ),
        ("python-modern", "Exception", 2, ("main.py", "main", 26)),
        ("ruby", "ZeroDivisionError", 3, ("raven/cli.rb", "/", 31)),
    ];
    let s = start(test_settings());
    for (name, ty, n, (file, func, line)) in cases {
        let raw = read_fixture(&format!("payloads/samples/{name}.json"));
        let v: Value = serde_json::from_slice(&raw).unwrap();
        let a = webhook::alert_from_any_json(&v);
        assert_eq!(a.exception_type(), Some(*ty), "{name}");
        let frames = a.primary_frames();
        assert_eq!(frames.len(), *n, "{name}");
        let last = frames.last().unwrap();
        assert_eq!(
            (
                last.filename.as_deref(),
                last.function.as_deref(),
                last.lineno
            ),
            (Some(*file), Some(*func), Some(*line)),
            "{name}"
        );
        let r = post_legacy(&s, Some(TOKEN), &raw);
        assert_eq!(r.status, 400, "{name}: {}", r.body);
        assert_eq!(r.body["field"], "event_id", "{name}");
    }
    let java: Value = serde_json::from_slice(&read_fixture("payloads/samples/java.json")).unwrap();
    let a = webhook::alert_from_any_json(&java);
    assert!(a.request.is_some(), "sentry.interfaces.Http is read");
    assert!(
        !a.breadcrumbs.is_empty(),
        "sentry.interfaces.Breadcrumbs is read"
    );
    assert!(a.message.is_some(), "sentry.interfaces.Message is read");
}

// ---------------------------------------------------------------------------------------------
// Corpus events: bare and wrapped give the same alert

fn corpus_cases() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(fixtures().join("events"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_suffix(".json").map(str::to_owned))
        .collect();
    v.sort();
    v
}

fn sorted_tags(a: &Alert) -> Vec<(String, String)> {
    let mut t = a.tags.clone();
    t.sort();
    t
}

#[test]
fn corpus_events_parse_bare_and_wrapped_to_the_same_alert() {
    let cases = corpus_cases();
    assert!(cases.len() >= 12, "corpus fixtures missing: {cases:?}");
    let s = start(test_settings());
    for case in &cases {
        let raw = read_fixture(&format!("events/{case}.json"));
        let v: Value = serde_json::from_slice(&raw).unwrap();
        let bare = expect_alert(webhook::parse_unsigned(&v).unwrap());
        assert_eq!(bare.source, "event");
        assert!(!bare.exceptions.is_empty(), "{case}: exception chain");
        assert!(bare.has_stack(), "{case}: frames");
        assert_eq!(
            webhook::alert_from_any_json(&v),
            bare,
            "{case}: CLI and server read alike"
        );

        for (kind, resource) in [
            ("event_alert", Some("event_alert")),
            ("error", Some("error")),
            ("issue", Some("issue")),
            ("legacy", None),
        ] {
            let body = read_fixture(&format!("events/wrapped/{case}.{kind}.json"));
            let parsed = webhook::parse_delivery(resource, &body)
                .unwrap_or_else(|e| panic!("{case}.{kind}: {e}"));
            let a = expect_alert(parsed);
            assert_eq!(a.issue_id.as_deref(), Some("4504123456"), "{case}.{kind}");
            assert_eq!(a.exception_type(), bare.exception_type(), "{case}.{kind}");
            if kind == "issue" {
                assert!(!a.has_stack(), "{case}: an issue summary has no stack");
                assert_eq!(a.project_slug.as_deref(), Some("backend"));
            } else {
                assert_eq!(
                    a.exceptions, bare.exceptions,
                    "{case}.{kind}: exception chain and frames"
                );
                assert_eq!(a.thread_frames, bare.thread_frames, "{case}.{kind}");
                assert_eq!(a.request, bare.request, "{case}.{kind}: request");
                assert_eq!(a.breadcrumbs, bare.breadcrumbs, "{case}.{kind}");
                assert_eq!(a.contexts, bare.contexts, "{case}.{kind}");
                assert_eq!(a.event_id, bare.event_id, "{case}.{kind}");
                assert_eq!(a.platform, bare.platform, "{case}.{kind}");
                assert_eq!(a.environment, bare.environment, "{case}.{kind}");
                assert_eq!(a.release, bare.release, "{case}.{kind}");
                assert_eq!(sorted_tags(&a), sorted_tags(&bare), "{case}.{kind}: tags");
                assert_eq!(a.project_slug.as_deref(), Some("backend"), "{case}.{kind}");
                if kind != "legacy" {
                    assert_eq!(
                        a.project_id.as_deref(),
                        Some("4504000000000001"),
                        "{case}.{kind}"
                    );
                }
            }
            // And through the server.
            let r = match resource {
                Some(res) => post_signed(&s, res, &body),
                None => post_legacy(&s, Some(TOKEN), &body),
            };
            assert_eq!(r.status, 202, "{case}.{kind}: {}", r.body);
            assert_eq!(s.sink.last().0, a, "{case}.{kind}: server and parser agree");
        }
        // The bare event through the server (token path).
        let r = post_legacy(&s, Some(TOKEN), &raw);
        assert_eq!(r.status, 202, "{case} bare: {}", r.body);
        assert_eq!(s.sink.last().0.exceptions, bare.exceptions);
    }
}

// ---------------------------------------------------------------------------------------------
// Authentication

fn go_body() -> Vec<u8> {
    read_fixture("payloads/event_alert.triggered.go.zulip.json")
}

#[test]
fn wrong_or_missing_signature_is_401() {
    let s = start(test_settings());
    let body = go_body();
    let url = s.url("/handle-sentry-alert");
    let ct = ("Content-Type", "application/json");
    let res = ("Sentry-Hook-Resource", "event_alert");
    let r = post(&url, &[ct, res], &body);
    assert_eq!(r.status, 401);
    assert_eq!(r.body["error"], "missing_signature");
    assert!(r.hook_error.unwrap().starts_with("missing_signature"));
    let wrong = sign(b"another secret", &body);
    let r = post(&url, &[ct, res, ("Sentry-Hook-Signature", &wrong)], &body);
    assert_eq!(r.status, 401);
    assert_eq!(r.body["error"], "bad_signature");
    let r = post(
        &url,
        &[ct, res, ("Sentry-Hook-Signature", "not-hex")],
        &body,
    );
    assert_eq!(r.status, 401);
    // The signature is checked before parsing: garbage with a wrong signature is 401, not 400.
    for junk in [&b"not json"[..], "[".repeat(10_000).as_bytes()] {
        let r = post(&url, &[ct, res, ("Sentry-Hook-Signature", &wrong)], junk);
        assert_eq!(r.status, 401, "{}", r.body);
    }
    // A correct signature of a different body.
    let mut tampered = body.clone();
    tampered.push(b' ');
    let r = post(
        &url,
        &[
            ct,
            res,
            ("Sentry-Hook-Signature", &sign(SECRET.as_bytes(), &body)),
        ],
        &tampered,
    );
    assert_eq!(r.status, 401);
    // Sentry-App-Signature (UI components) is accepted like Sentry-Hook-Signature.
    let r = post(
        &url,
        &[
            ct,
            res,
            ("Sentry-App-Signature", &sign(SECRET.as_bytes(), &body)),
        ],
        &body,
    );
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(
        s.sink.count(),
        1,
        "only the correctly signed delivery reached the sink"
    );
}

#[test]
fn signature_over_reserialized_json_is_401_and_escaped_non_ascii_verifies() {
    let s = start(test_settings());
    // Compact ASCII JSON with escaped non-ASCII, as Sentry sends it.
    let raw = br#"{"action":"triggered","data":{"event":{"event_id":"abc123","issue_id":"42","title":"caf\u00e9 \ud83d\ude00 \u2028","exception":{"values":[{"type":"ValueError","value":"na\u00efve"}]}}}}"#;
    let reserialized = serde_json::to_vec(&serde_json::from_slice::<Value>(raw).unwrap()).unwrap();
    assert_ne!(
        &reserialized[..],
        &raw[..],
        "the test needs bodies that differ"
    );
    let url = s.url("/handle-sentry-alert");
    let headers = |sig: &str| {
        vec![
            ("Content-Type", "application/json".to_string()),
            ("Sentry-Hook-Resource", "event_alert".to_string()),
            ("Sentry-Hook-Signature", sig.to_string()),
        ]
    };
    let h = headers(&sign(SECRET.as_bytes(), &reserialized));
    let hr: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = post(&url, &hr, raw);
    assert_eq!(r.status, 401, "{}", r.body);
    let h = headers(&sign(SECRET.as_bytes(), raw));
    let hr: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = post(&url, &hr, raw);
    assert_eq!(r.status, 202, "{}", r.body);
    let a = s.sink.last().0;
    assert_eq!(a.title.as_deref(), Some("café 😀 \u{2028}"));
    assert_eq!(a.exception_value(), Some("naïve"));
}

#[test]
fn legacy_bodies_need_the_token() {
    let s = start(test_settings());
    let body = read_fixture("payloads/legacy_plugin.exception.python.zulip.json");
    assert_eq!(post_legacy(&s, None, &body).status, 401);
    let r = post_legacy(&s, Some("wrong-token"), &body);
    assert_eq!(r.status, 401);
    assert_eq!(r.body["error"], "unauthorized");
    assert_eq!(
        post_legacy(&s, Some(&format!("{TOKEN}x")), &body).status,
        401
    );
    assert_eq!(s.sink.count(), 0);
    assert_eq!(post_legacy(&s, Some(TOKEN), &body).status, 202);
    // Without a configured token, legacy bodies are refused outright.
    let s2 = start(Settings {
        legacy_token: None,
        ..test_settings()
    });
    let r = post_legacy(&s2, Some(TOKEN), &body);
    assert_eq!(r.status, 401);
    assert!(r.body["detail"].as_str().unwrap().contains("legacy_token"));
}

#[test]
fn allow_unsigned_accepts_unsigned_but_never_a_wrong_signature() {
    let s = start(Settings {
        allow_unsigned: true,
        ..test_settings()
    });
    let body = go_body();
    let url = s.url("/handle-sentry-alert");
    let ct = ("Content-Type", "application/json");
    let res = ("Sentry-Hook-Resource", "event_alert");
    assert_eq!(post(&url, &[ct, res], &body).status, 202);
    assert_eq!(
        post(&url, &[ct, res, ("Sentry-Hook-Signature", "00")], &body).status,
        401
    );
}

#[test]
fn old_timestamp_is_rejected() {
    let s = start(Settings {
        timestamp_window: Some(Duration::from_secs(300)),
        ..test_settings()
    });
    let body = go_body();
    let sig = sign(SECRET.as_bytes(), &body);
    let url = s.url("/handle-sentry-alert");
    let send = |ts: String| {
        post(
            &url,
            &[
                ("Content-Type", "application/json"),
                ("Sentry-Hook-Resource", "event_alert"),
                ("Sentry-Hook-Signature", &sig),
                ("Sentry-Hook-Timestamp", &ts),
            ],
            &body,
        )
    };
    let r = send((now_secs() - 3600).to_string());
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.body["error"], "stale_timestamp");
    assert_eq!(
        send((now_secs() + 3600).to_string()).status,
        401,
        "far future too"
    );
    assert_eq!(send("yesterday".into()).status, 401);
    assert_eq!(send((now_secs() - 60).to_string()).status, 202);
    assert_eq!(s.sink.count(), 1);
}

// ---------------------------------------------------------------------------------------------
// Hostile bodies

#[test]
fn oversize_body_is_413() {
    let s = start(Settings {
        body_limit: 64 * 1024,
        ..test_settings()
    });
    let big = {
        let mut v = br#"{"action":"triggered","data":{"event":{"event_id":"a","pad":""#.to_vec();
        v.extend(std::iter::repeat_n(b'x', 200 * 1024));
        v.extend_from_slice(br#""}}}"#);
        v
    };
    let sig = sign(SECRET.as_bytes(), &big);
    // Declared length over the limit: refused before reading.
    let head = format!(
        "POST /handle-sentry-alert HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nSentry-Hook-Resource: event_alert\r\nSentry-Hook-Signature: {sig}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        big.len()
    );
    let (code, text) = raw_request(s.addr, &head, &[(&big, Duration::ZERO)]);
    assert_eq!(code, 413, "{text}");
    assert!(text.contains("payload_too_large"), "{text}");
    // Chunked, no declared length: refused while streaming.
    let head = format!(
        "POST /handle-sentry-alert HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nSentry-Hook-Resource: event_alert\r\nSentry-Hook-Signature: {sig}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    let mut chunked = Vec::new();
    for c in big.chunks(16 * 1024) {
        chunked.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        chunked.extend_from_slice(c);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let (code, text) = raw_request(s.addr, &head, &[(&chunked, Duration::ZERO)]);
    assert_eq!(code, 413, "{text}");
    assert_eq!(s.sink.count(), 0);
    assert!(healthy(&s));
}

#[test]
fn slow_partial_body_times_out() {
    let s = start(Settings {
        request_timeout: Duration::from_millis(700),
        ..test_settings()
    });
    // Signed (a well-formed signature), so the body is read: unsigned requests end before it.
    let head = format!(
        "POST /handle-sentry-alert HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nSentry-Hook-Resource: event_alert\r\nSentry-Hook-Signature: {}\r\nContent-Length: 1000\r\n\r\n",
        "ab".repeat(32)
    );
    let started = Instant::now();
    let (code, text) = raw_request(
        s.addr,
        &head,
        &[(b"{\"action\":", Duration::from_millis(50))],
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the server must not wait forever"
    );
    assert_eq!(code, 408, "{text}");
    // Headers that never finish are cut too (actix client_request_timeout).
    let started = Instant::now();
    let (code, _) = raw_request(
        s.addr,
        "POST /handle-sentry-alert HTTP/1.1\r\nHost: x\r\n",
        &[],
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(code == 408 || code == 0, "got {code}");
    assert!(healthy(&s));
}

#[test]
fn content_type_not_json_and_wrong_shape() {
    let s = start(test_settings());
    let url = s.url("/handle-sentry-alert");
    let body = go_body();
    let sig = sign(SECRET.as_bytes(), &body);
    let r = post(
        &url,
        &[
            ("Content-Type", "text/plain"),
            ("Sentry-Hook-Resource", "event_alert"),
            ("Sentry-Hook-Signature", &sig),
        ],
        &body,
    );
    assert_eq!(r.status, 415);
    assert_eq!(r.body["error"], "unsupported_media_type");
    // charset parameter is fine
    let r = post(
        &url,
        &[
            ("Content-Type", "application/json; charset=utf-8"),
            ("Sentry-Hook-Resource", "event_alert"),
            ("Sentry-Hook-Signature", &sig),
        ],
        &body,
    );
    assert_eq!(r.status, 202);

    let r = post_signed(&s, "event_alert", b"this is not json");
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"], "invalid_json");
    assert!(r.hook_error.is_some());

    let cases: &[(&str, &[u8], &str)] = &[
        (
            "event_alert",
            br#"{"action":"triggered","data":{}}"#,
            "data.event",
        ),
        (
            "event_alert",
            br#"{"action":"triggered","data":{"event":"x"}}"#,
            "data.event",
        ),
        ("event_alert", br#"{"action":"triggered"}"#, "data"),
        (
            "event_alert",
            br#"{"action":"triggered","data":{"event":{"title":"t"}}}"#,
            "data.event.issue_id",
        ),
        (
            "error",
            br#"{"action":"created","data":{"event":{}}}"#,
            "data.error",
        ),
        (
            "issue",
            br#"{"action":"created","data":{"issue":{"title":"x"}}}"#,
            "data.issue.id",
        ),
        (
            "issue",
            br#"{"action":"created","data":{"issue":{"id":{"a":1}}}}"#,
            "data.issue.id",
        ),
        (
            "issue",
            br#"{"action":"created","data":{"issue":{"id":"../../etc"}}}"#,
            "data.issue.id",
        ),
        (
            "event_alert",
            br#"{"data":{"event":{"event_id":"a"}}}"#,
            "action",
        ),
        ("event_alert", br#"{"action":7}"#, "action"),
        ("event_alert", br#"[1,2,3]"#, "$"),
    ];
    for (res, body, field) in cases {
        let r = post_signed(&s, res, body);
        let shown = String::from_utf8_lossy(body);
        assert_eq!(r.status, 400, "{shown}: {}", r.body);
        assert_eq!(r.body["field"], *field, "{shown}: {}", r.body);
        assert!(
            r.body["detail"].as_str().unwrap().contains(field),
            "{shown}: detail names the field"
        );
    }
    assert_eq!(s.sink.count(), 1);
}

#[test]
fn deep_nesting_is_400_and_the_server_keeps_answering() {
    let s = start(test_settings());
    for body in [
        format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)),
        format!("{}1{}", r#"{"a":"#.repeat(10_000), "}".repeat(10_000)),
        format!(
            r#"{{"action":"triggered","data":{{"event":{}{}}}}}"#,
            "[".repeat(10_000),
            "]".repeat(10_000)
        ),
        "[".repeat(10_000), // unterminated
    ] {
        let r = post_signed(&s, "event_alert", body.as_bytes());
        assert_eq!(r.status, 400, "{}", r.body);
        assert_eq!(r.body["error"], "invalid_json");
        assert!(healthy(&s), "the server still answers");
    }
    assert_eq!(post_signed(&s, "event_alert", &go_body()).status, 202);
}

#[test]
fn valid_alerts_are_served_during_a_flood_of_invalid_ones() {
    let s = Arc::new(start(test_settings()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut flooders = Vec::new();
    for i in 0..4 {
        let s = s.clone();
        let stop = stop.clone();
        flooders.push(std::thread::spawn(move || {
            let deep = "[".repeat(5_000);
            let mut sent = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && sent < 300 {
                let r = match i % 2 {
                    0 => post_signed(&s, "event_alert", deep.as_bytes()),
                    _ => post(
                        &s.url("/handle-sentry-alert"),
                        &[
                            ("Content-Type", "application/json"),
                            ("Sentry-Hook-Resource", "event_alert"),
                            ("Sentry-Hook-Signature", "00"),
                        ],
                        b"{}",
                    ),
                };
                assert!(r.status >= 400);
                sent += 1;
            }
            sent
        }));
    }
    let body = go_body();
    for _ in 0..20 {
        let t = Instant::now();
        let r = post_signed(&s, "event_alert", &body);
        assert_eq!(r.status, 202);
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "a valid alert took {:?} under the flood",
            t.elapsed()
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let total: usize = flooders.into_iter().map(|h| h.join().unwrap()).sum();
    assert!(total > 0);
    assert_eq!(s.sink.count(), 20);
}

// ---------------------------------------------------------------------------------------------
// Projects

#[test]
fn unmapped_project_is_200_ignored_and_mapped_ones_route() {
    let mut a = ProjectConfig::for_repo("/repos/a");
    a.slug = Some("backend".into());
    let mut b = ProjectConfig::for_repo("/repos/b");
    b.id = Some("5216640".into());
    let s = start(Settings {
        projects: vec![a, b],
        implicit_project: false,
        ..test_settings()
    });
    // Go payload: project 5216640 → b.
    assert_eq!(post_signed(&s, "event_alert", &go_body()).status, 202);
    assert_eq!(s.sink.last().1.repo, PathBuf::from("/repos/b"));
    // Wrapped corpus event: slug `backend` (only in data.event.url) → a.
    let body = read_fixture("events/wrapped/py-smtp-config-key.event_alert.json");
    assert_eq!(post_signed(&s, "event_alert", &body).status, 202);
    assert_eq!(s.sink.last().1.repo, PathBuf::from("/repos/a"));
    // Docs example: project 1, slug front-end → ignored with the reason.
    let before = s.sink.count();
    let r = post_signed(
        &s,
        "event_alert",
        &read_fixture("payloads/event_alert.triggered.javascript.sentry-docs.json"),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "ignored");
    let reason = r.body["reason"].as_str().unwrap();
    assert!(
        reason.contains("front-end") && reason.contains("\"1\""),
        "{reason}"
    );
    assert_eq!(s.sink.count(), before);
}

#[test]
fn healthz_and_methods() {
    let s = start(test_settings());
    let r = agent().get(&s.url("/healthz")).call().unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.into_json().unwrap();
    assert_eq!(v["status"], "ok");
    match agent().get(&s.url("/handle-sentry-alert")).call() {
        Err(ureq::Error::Status(code, _)) => assert_eq!(code, 405),
        other => panic!("GET on the webhook must be refused, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The real SpawnSink on a real repository

fn init_repo(dir: &Path) {
    let repo = git2::Repository::init(dir).unwrap();
    std::fs::create_dir_all(dir.join("app")).unwrap();
    std::fs::write(
        dir.join("pyproject.toml"),
        "[project]\nname = \"app\"\nversion = \"0.1.0\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("app/__init__.py"), "").unwrap();
    std::fs::write(
        dir.join("app/stats.py"),
        "def average(xs):\n    return sum(xs) / len(xs)\n",
    )
    .unwrap();
    let mut index = repo.index().unwrap();
    index
        .add_all(["*"].iter(), git2::IndexAddOption::DEFAULT, None)
        .unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = git2::Signature::now("Test", "test@example.com").unwrap();
    repo.commit(Some("HEAD"), &sig, &sig, "init", &tree, &[])
        .unwrap();
}

#[test]
fn spawn_sink_creates_the_branch_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    init_repo(dir.path());
    let mut project = ProjectConfig::for_repo(dir.path());
    project.language = Some("python".into());
    let settings = Settings {
        projects: vec![project],
        ..test_settings()
    };
    let (addr, handle) = start_with(settings, |h| Arc::new(SpawnSink::new(h, 1)));
    let s = TestServer {
        addr,
        handle,
        sink: Arc::new(RecordingSink::default()),
    };
    let body = json!({
        "action": "triggered",
        "data": {"event": {
            "event_id": "0123456789abcdef0123456789abcdef", "issue_id": "777001", "platform": "python",
            "exception": {"values": [{"type": "ZeroDivisionError", "value": "division by zero",
                "stacktrace": {"frames": [{"filename": "app/stats.py", "function": "average", "lineno": 2,
                    "in_app": true, "vars": {"xs": "[]"}}]}}]}
        }}
    })
    .to_string();
    let t = Instant::now();
    let r = post_signed(&s, "event_alert", body.as_bytes());
    assert_eq!(r.status, 202, "{}", r.body);
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "the answer must not wait on git"
    );
    let job = r.body["job_id"].as_str().unwrap().to_string();
    // A retry of the same delivery is a duplicate of the same job.
    let r2 = post_signed(&s, "event_alert", body.as_bytes());
    assert_eq!(r2.body["job_id"], job.as_str());
    assert_eq!(r2.body["duplicate"], true);

    let deadline = Instant::now() + Duration::from_secs(60);
    let branch = loop {
        let repo = git2::Repository::open(dir.path()).unwrap();
        let found = repo
            .branches(Some(git2::BranchType::Local))
            .unwrap()
            .filter_map(|b| b.ok())
            .filter_map(|(b, _)| b.name().ok().flatten().map(str::to_owned))
            .find(|n| n.starts_with("fix/sentry-777001-"));
        if let Some(b) = found {
            break b;
        }
        assert!(
            Instant::now() < deadline,
            "no fix/sentry-777001-* branch appeared"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let repo = git2::Repository::open(dir.path()).unwrap();
    let tree = repo
        .revparse_single(&branch)
        .unwrap()
        .peel_to_commit()
        .unwrap()
        .tree()
        .unwrap();
    assert!(
        tree.get_path(Path::new("repro/sentry-777001.json")).is_ok(),
        "contract committed"
    );
}

// ---------------------------------------------------------------------------------------------
// Property tests: any input gives Ok or a clean error, never a panic.

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null)),
        ".{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("event"),
            Just("data"),
            Just("exception"),
            Just("values"),
            Just("frames"),
            Just("stacktrace"),
            Just("issue"),
            Just("id"),
            Just("request"),
            Just("tags"),
            Just("url"),
            Just("event_id"),
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        let key = prop_oneof![
            Just("action".to_string()),
            Just("data".to_string()),
            Just("event".to_string()),
            Just("error".to_string()),
            Just("issue".to_string()),
            Just("id".to_string()),
            Just("exception".to_string()),
            Just("values".to_string()),
            Just("stacktrace".to_string()),
            Just("frames".to_string()),
            Just("request".to_string()),
            Just("headers".to_string()),
            Just("cookies".to_string()),
            Just("query_string".to_string()),
            Just("tags".to_string()),
            Just("breadcrumbs".to_string()),
            Just("project".to_string()),
            Just("project_slug".to_string()),
            Just("sentry.interfaces.Exception".to_string()),
            Just("threads".to_string()),
            Just("lineno".to_string()),
            Just("vars".to_string()),
            Just("issue_url".to_string()),
            Just("url".to_string()),
            Just("event_id".to_string()),
            Just("issue_id".to_string()),
            ".{0,6}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key, inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const RESOURCES: &[Option<&str>] = &[
    None,
    Some("event_alert"),
    Some("error"),
    Some("issue"),
    Some("installation"),
    Some("metric_alert"),
    Some("whatever"),
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn any_bytes_never_panic(raw in prop::collection::vec(any::<u8>(), 0..512), r in 0usize..7) {
        let _ = webhook::parse_delivery(RESOURCES[r], &raw);
    }

    #[test]
    fn any_json_never_panics(v in arb_json(), action in prop_oneof![Just("triggered"), Just("created"), Just("unresolved"), Just("resolved")]) {
        let _ = webhook::alert_from_any_json(&v);
        let _ = webhook::parse_unsigned(&v);
        for r in RESOURCES.iter().flatten() {
            let _ = webhook::parse_integration(r, &v);
            let wrapped = json!({"action": action, "data": {"event": v.clone(), "error": v.clone(), "issue": v.clone()}});
            let _ = webhook::parse_integration(r, &wrapped);
        }
        let legacy = json!({"id": "1", "project_slug": "x", "event": v.clone()});
        let _ = webhook::parse_unsigned(&legacy);
        // The raw text of the value too.
        let raw = serde_json::to_vec(&v).unwrap();
        let _ = webhook::parse_delivery(Some("event_alert"), &raw);
    }

    #[test]
    fn accepted_ids_are_always_safe(v in arb_json()) {
        let wrapped = json!({"action": "triggered", "data": {"event": v}});
        if let Ok(p) = webhook::parse_integration("event_alert", &wrapped) {
            if let Outcome::Alert(a) = p.outcome {
                let id = a.ident().unwrap();
                prop_assert!(sentry_repro::git::is_safe_ident(id), "unsafe id {:?} accepted", id);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reads, and what strangers cost: the service as `serve` wires it

const READ_TOKEN: &str = "read-token-0123456789abcdef";

/// The service as `serve` builds it: the durable store (no workers: jobs stay queued), the webhook
/// address with the read routes behind the read token, and the read address with them open.
struct Service {
    webhook: SocketAddr,
    read: SocketAddr,
    handles: Vec<actix_web::dev::ServerHandle>,
    _state: tempfile::TempDir,
}

impl Service {
    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.webhook, path)
    }
    fn read_url(&self, path: &str) -> String {
        format!("http://{}{}", self.read, path)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let handles = std::mem::take(&mut self.handles);
        if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            for h in handles {
                rt.block_on(h.stop(false));
            }
        }
    }
}

fn start_service(settings: Settings) -> Service {
    use sentry_repro::jobs::{self, Jobs, JobsConfig};
    use sentry_repro::server::{self, AppState};
    let state = tempfile::tempdir().unwrap();
    let settings = Settings {
        state_dir: state.path().to_path_buf(),
        ..settings
    };
    let webhook = TcpListener::bind("127.0.0.1:0").unwrap();
    let read = TcpListener::bind("127.0.0.1:0").unwrap();
    let (webhook_addr, read_addr) = (webhook.local_addr().unwrap(), read.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let jobs = Jobs::open(JobsConfig::from_settings(&settings).unwrap()).unwrap();
            let state =
                AppState::new(settings, Arc::new(jobs.sink())).with_delivery_log(jobs.clone());
            let routes = jobs::http::configure_with(jobs.clone());
            let servers = server::build_service(webhook, Some(read), state, routes).unwrap();
            tx.send(servers.handles()).unwrap();
            servers.run().await.unwrap();
        });
    });
    Service {
        webhook: webhook_addr,
        read: read_addr,
        handles: rx.recv_timeout(Duration::from_secs(20)).unwrap(),
        _state: state,
    }
}

/// GET with an optional `Authorization` value: status, `Referrer-Policy`, body.
fn get(url: &str, auth: Option<&str>) -> (u16, Option<String>, String) {
    let mut req = agent().get(url);
    if let Some(a) = auth {
        req = req.set("Authorization", a);
    }
    let resp = match req.call() {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport error on {url}: {e}"),
    };
    let policy = resp.header("Referrer-Policy").map(str::to_owned);
    (resp.status(), policy, resp.into_string().unwrap())
}

/// A signed delivery; `timestamp: false` leaves `Sentry-Hook-Timestamp` out.
fn post_signed_to(url: &str, body: &[u8], timestamp: bool) -> Resp {
    let sig = sign(SECRET.as_bytes(), body);
    let ts = now_secs().to_string();
    let mut headers = vec![
        ("Content-Type", "application/json"),
        ("Sentry-Hook-Resource", "event_alert"),
        ("Sentry-Hook-Signature", sig.as_str()),
    ];
    if timestamp {
        headers.push(("Sentry-Hook-Timestamp", ts.as_str()));
    }
    post(url, &headers, body)
}

fn api_project() -> Vec<ProjectConfig> {
    vec![ProjectConfig {
        slug: Some("backend".into()),
        ..ProjectConfig::for_repo("/nonexistent-repo")
    }]
}

#[test]
fn reads_need_the_read_token_on_the_webhook_address_and_are_open_on_the_read_address() {
    let s = start_service(Settings {
        read_token: Some(READ_TOKEN.into()),
        projects: api_project(),
        ..test_settings()
    });
    let body = read_fixture("events/wrapped/py-rating-average-empty.event_alert.json");
    let r = post_signed_to(&s.url("/handle-sentry-alert"), &body, true);
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.body["job_id"].as_str().unwrap().to_string();
    let job_path = format!("/jobs/{id}");

    // Strangers get nothing on the webhook address: no job, no page, no metrics.
    let bearer = format!("Bearer {READ_TOKEN}");
    for (path, auth) in [
        ("/", None),
        (job_path.as_str(), None),
        ("/jobs/1", None),
        ("/metrics", None),
        ("/metrics", Some("Bearer wrong-token-0123456789")),
        ("/?token=wrong-token-0123456789", None),
        ("/", Some(READ_TOKEN)), // not a Bearer header
    ] {
        let (code, _, text) = get(&s.url(path), auth);
        assert_eq!(code, 401, "{path} {auth:?}: {text}");
        assert!(
            !text.contains("ZeroDivision") && !text.contains("nonexistent-repo"),
            "{path}: {text}"
        );
    }

    // The token opens them: as a Bearer header, and as `?token=` for a browser.
    let (code, _, text) = get(&s.url(&job_path), Some(&bearer));
    assert_eq!(code, 200, "{text}");
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["id"], id);
    let (code, _, text) = get(&s.url("/metrics"), Some(&format!("bearer {READ_TOKEN}")));
    assert_eq!(code, 200, "the scheme is case-insensitive: {text}");
    assert!(text.contains("sentry_repro_alerts_total"), "{text}");
    let (code, policy, html) = get(&s.url(&format!("/?token={READ_TOKEN}")), None);
    assert_eq!(code, 200, "{html}");
    assert_eq!(
        policy.as_deref(),
        Some("no-referrer"),
        "the token must not leak to Sentry"
    );
    assert!(
        html.contains("ZeroDivisionError"),
        "the title the strangers did not see: {html}"
    );
    assert!(
        html.contains(&format!("?token={READ_TOKEN}")),
        "job links keep the token: {html}"
    );
    // The project column and the issue's page in Sentry.
    assert!(
        html.contains("<th>Project</th>") && html.contains("<td>backend</td>"),
        "{html}"
    );
    assert!(
        html.contains("acme.sentry.io&#x2F;issues&#x2F;4504123456") && html.contains("noreferrer"),
        "{html}"
    );

    // The read address serves them without a token, and no webhook.
    for path in ["/", job_path.as_str(), "/metrics"] {
        let (code, _, text) = get(&s.read_url(path), None);
        assert_eq!(code, 200, "{path}: {text}");
    }
    let (_, _, html) = get(&s.read_url("/"), None);
    assert!(html.contains(&format!("href=\"jobs/{id}\"")), "{html}");
    let r = post_signed_to(&s.read_url("/handle-sentry-alert"), &body, true);
    assert_eq!(r.status, 404, "the webhook is not on the read address");

    // `/healthz` is open on both.
    assert_eq!(get(&s.url("/healthz"), None).0, 200);
    assert_eq!(get(&s.read_url("/healthz"), None).0, 200);
}

#[test]
fn without_a_read_token_reads_are_served_on_the_read_address_only() {
    let s = start_service(test_settings());
    for path in ["/", "/jobs/1", "/metrics"] {
        let (code, _, text) = get(&s.url(path), Some("Bearer anything-at-all-000000"));
        assert_eq!(code, 401, "{path}: {text}");
        assert_eq!(
            get(&s.read_url(path), None).0,
            if path == "/jobs/1" { 404 } else { 200 }
        );
    }
}

#[test]
fn unsigned_requests_are_refused_before_the_body_is_read() {
    let s = start(test_settings());
    // Each declares 4 MB (under the 5 MiB limit) and sends none of it: the 401 must come at once,
    // not after the 5 s body timeout (408), and without the server waiting for a byte.
    let declared = 4_000_000;
    let cases = [
        (
            "/handle-sentry-alert",
            "Sentry-Hook-Resource: event_alert\r\n",
            "missing_signature",
        ),
        ("/handle-sentry-alert", "", "unauthorized"),
        ("/handle-sentry-alert?token=wrong", "", "unauthorized"),
        (
            "/handle-sentry-alert",
            "Sentry-Hook-Resource: event_alert\r\nSentry-Hook-Signature: zz\r\n",
            "bad_signature",
        ),
    ];
    for (path, extra, error) in cases {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{extra}Content-Length: {declared}\r\n\r\n"
        );
        let started = Instant::now();
        let (code, text) = raw_request(s.addr, &head, &[]);
        assert_eq!(code, 401, "{path} {extra:?}: {text}");
        assert!(text.contains(error), "{text}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{path} {extra:?}: answered after {:?}",
            started.elapsed()
        );
    }
    assert_eq!(s.sink.count(), 0);
    assert!(healthy(&s));
}

#[test]
fn spent_body_budget_answers_503_with_retry_after_and_recovers() {
    let budget = 256 * 1024;
    let s = start(Settings {
        inflight_budget: budget,
        body_limit: budget,
        request_timeout: Duration::from_secs(10),
        ..test_settings()
    });
    // A signed-looking request declares the whole budget and sends almost nothing: it holds it.
    let mut holder = TcpStream::connect(s.addr).unwrap();
    let head = format!(
        "POST /handle-sentry-alert HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nSentry-Hook-Resource: event_alert\r\nSentry-Hook-Signature: {}\r\nContent-Length: {budget}\r\n\r\n{{",
        "ab".repeat(32)
    );
    holder.write_all(head.as_bytes()).unwrap();
    let body = go_body();
    let sig = sign(SECRET.as_bytes(), &body);
    let request = format!(
        "POST /handle-sentry-alert HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nSentry-Hook-Resource: event_alert\r\nSentry-Hook-Signature: {sig}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let text = loop {
        let (code, text) = raw_request(s.addr, &request, &[(&body, Duration::ZERO)]);
        if code == 503 {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "no 503 while the budget is held: {text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        text.to_ascii_lowercase().contains("retry-after: 2"),
        "{text}"
    );
    assert!(text.contains("\"busy\""), "{text}");
    assert_eq!(s.sink.count(), 0);
    // The holder goes away: its share comes back and valid deliveries pass again.
    drop(holder);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = post_signed(&s, "event_alert", &body);
        if r.status == 202 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the budget was not given back: {}",
            r.body
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(s.sink.count(), 1);
}

#[test]
fn signed_replay_without_timestamp_is_refused_outside_the_window() {
    let s = start_service(Settings {
        timestamp_window: Some(Duration::from_secs(1)),
        ..test_settings()
    });
    let url = s.url("/handle-sentry-alert");
    let body = go_body();
    let first = post_signed_to(&url, &body, false);
    assert_eq!(first.status, 202, "{}", first.body);
    assert_eq!(first.body["duplicate"], false);
    // Inside the window the store knows the delivery: a duplicate, no new job.
    let again = post_signed_to(&url, &body, false);
    assert_eq!(again.status, 202, "{}", again.body);
    assert_eq!(again.body["duplicate"], true);
    assert_eq!(again.body["job_id"], first.body["job_id"]);
    std::thread::sleep(Duration::from_millis(1500));
    let late = post_signed_to(&url, &body, false);
    assert_eq!(late.status, 401, "{}", late.body);
    assert_eq!(late.body["error"], "stale_replay");
    // A delivery that carries a fresh timestamp (as Sentry's retries do) is still a duplicate.
    let timed = post_signed_to(&url, &body, true);
    assert_eq!(timed.status, 202, "{}", timed.body);
    assert_eq!(timed.body["duplicate"], true);
}

// ---------------------------------------------------------------------------------------------
// The binary

fn bin() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_sentry-repro"));
    for k in sentry_repro::config::env::ALL {
        c.env_remove(k);
    }
    c
}

#[test]
fn serve_refuses_to_start_without_a_secret() {
    let out = bin()
        .args(["serve", "--listen", "127.0.0.1:0", "--repo", "."])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("SENTRY_CLIENT_SECRET") && err.contains("--allow-unsigned"),
        "{err}"
    );
}

#[test]
fn serve_rejects_unknown_config_keys_naming_key_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("conf.toml");
    std::fs::write(&cfg, "listen = \"127.0.0.1:0\"\nbody_limt = 5\n").unwrap();
    let out = bin()
        .args(["serve", "--config"])
        .arg(&cfg)
        .env("SENTRY_CLIENT_SECRET", "x")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("body_limt") && err.contains("conf.toml"),
        "{err}"
    );
}

#[test]
fn serve_binary_answers_signed_deliveries() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let read_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    init_repo(dir.path());
    let mut child = bin()
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--read-listen",
            &format!("127.0.0.1:{read_port}"),
            "--log-format",
            "json",
            "--repo",
        ])
        .arg(dir.path())
        .env("SENTRY_CLIENT_SECRET", SECRET)
        // the store goes in the temp dir, not in the checkout the tests run from
        .env("SENTRY_REPRO_STATE_DIR", dir.path().join("state"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let stderr = child.stderr.take().unwrap();
    let _guard = Kill(child);
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while agent().get(&format!("{base}/healthz")).call().is_err() {
        assert!(Instant::now() < deadline, "serve did not come up");
        std::thread::sleep(Duration::from_millis(100));
    }
    let body = read_fixture("events/wrapped/py-rating-average-empty.event_alert.json");
    let sig = sign(SECRET.as_bytes(), &body);
    let url = format!("{base}/handle-sentry-alert");
    let r = post(
        &url,
        &[
            ("Content-Type", "application/json"),
            ("Sentry-Hook-Resource", "event_alert"),
            ("Sentry-Hook-Signature", &sig),
        ],
        &body,
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let job = format!("/jobs/{}", r.body["job_id"].as_str().unwrap());
    let r = post(
        &url,
        &[
            ("Content-Type", "application/json"),
            ("Sentry-Hook-Resource", "event_alert"),
        ],
        &body,
    );
    assert_eq!(r.status, 401);
    // The job is readable on the read address only (no read token configured).
    assert_eq!(get(&format!("{base}{job}"), None).0, 401);
    let (code, _, text) = get(&format!("http://127.0.0.1:{read_port}{job}"), None);
    assert_eq!(code, 200, "{text}");
    drop(_guard);
    // JSON logs: every line parses.
    let logs = std::io::read_to_string(stderr).unwrap();
    let lines: Vec<&str> = logs.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty());
    for l in lines {
        serde_json::from_str::<Value>(l)
            .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {l}"));
    }
}
