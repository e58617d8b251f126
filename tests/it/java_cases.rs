//! Java end to end with the real toolchain (mvn; JUnit 5, 4, 3 and TestNG, each the project's own):
//! generation on sample apps whose events
//! come from the real sentry-java SDK, the generated test run with Maven (red for the right reason:
//! the reported exception, or the NOT YET REPRODUCED marker for a scaffold), `fix.patch` applied
//! (green, and the app's own suite green), and the gate itself: the real binary's `verify` fails the
//! branch without the fix and passes it once the fix is committed. A missing `mvn` fails in CI.
//!
//! Maven's local repository is the user's `~/.m2` (resolved from the account, not `$HOME`), so the
//! isolated HOME of each repository does not download the dependency tree again.

use std::path::PathBuf;

use sentry_repro::contract::MARKER_NOT_REPRODUCED;
use sentry_repro::pipeline::Generated;

use crate::support::{self, Gate, Repo};

/// A case folder: `tests/fixtures/java/<case>`.
fn case_dir(case: &str) -> PathBuf {
    support::fixtures("java").join(case)
}

fn event_of(case: &str) -> serde_json::Value {
    let raw = std::fs::read_to_string(case_dir(case).join("event.json")).unwrap();
    serde_json::from_str(&raw).unwrap()
}

fn repo_of(case: &str) -> Repo {
    Repo::of(&case_dir(case).join("app"))
}

/// Generate from an event value (fixed clock) and check out the new branch.
fn generate_value(repo: &Repo, event: &serde_json::Value) -> Generated {
    repo.generate_and_checkout(event)
}

fn generate(repo: &Repo, case: &str) -> Generated {
    generate_value(repo, &event_of(case))
}

fn apply_fix(repo: &Repo, case: &str) {
    let patch = case_dir(case).join("fix.patch");
    repo.git(&["apply", "-p1", patch.to_str().unwrap()]);
}

fn mvn(repo: &Repo, cmd: &str) -> (bool, String) {
    repo.sh(cmd, &[])
}

fn have_mvn() -> bool {
    support::have("mvn", "-v")
}

/// `verify --base main --runs 1` through the real binary.
fn gate(repo: &Repo) -> Gate {
    support::verify_in(
        &repo.dir,
        &repo.home,
        &["--base", "main", "--runs", "1"],
        &[],
    )
}

/// The gate end to end: without the fix it fails with `without_fix`; with `fix.patch` committed a
/// replay FLIPS and the gate passes (a scaffold stays red for the wrong reason).
fn gate_case(repo: &Repo, case: &str, without_fix: &str) {
    let red = gate(repo);
    assert_eq!(
        red.exit, 1,
        "the gate must fail without a fix\n{}",
        red.output
    );
    assert_eq!(red.verdicts(), vec![without_fix], "{}", red.output);
    repo.commit_patch(&case_dir(case).join("fix.patch"), "the human fix");
    let green = gate(repo);
    if without_fix == "STILL_RED" {
        assert_eq!(
            green.exit, 0,
            "the fix must pass the gate\n{}",
            green.output
        );
        assert_eq!(green.verdicts(), vec!["FLIPPED"], "{}", green.output);
        let suite = &green.report["suites"][0];
        assert_eq!(suite["verdict"], "PASSED", "{}", green.output);
    } else {
        assert_eq!(green.exit, 1, "a scaffold never passes\n{}", green.output);
        assert_eq!(green.verdicts(), vec![without_fix], "{}", green.output);
    }
}

/// Call replay: `NumberFormatException: For input string: "12,50"` quotes the input of the static
/// `PriceParser.parseCents(String)`; the JUnit test calls it and fails with that exception; after the
/// fix it passes and so does the app's suite.
#[test]
fn java_price_parse_call_replay() {
    if !have_mvn() {
        return;
    }
    let case = "java-price-parse";
    let repo = repo_of(case);
    let out = generate(&repo, case);
    assert_eq!(out.language, "java");
    assert_eq!(out.strategy, "call_replay", "{:?}", out.reasons);
    assert!(
        out.files[0].starts_with("src/test/java/com/acme/invoice/SentryRepro"),
        "{:?}",
        out.files
    );
    let (ok, text) = mvn(&repo, &out.test_command);
    assert!(!ok, "{text}");
    assert!(text.contains("SENTRY-REPRO: REPRODUCED"), "{text}");
    assert!(text.contains("NumberFormatException"), "{text}");
    apply_fix(&repo, case);
    let (ok, text) = mvn(&repo, &out.test_command);
    assert!(ok, "{text}");
    let (ok, text) = mvn(&repo, "mvn -q -B test");
    assert!(ok, "{text}");
}

/// The gate through the real binary: STILL_RED without the fix (the Maven runner ran the test, the
/// surefire summary counted it, the output shows the NumberFormatException), FLIPPED with the fix
/// committed, and the app's suite PASSED.
#[test]
fn java_price_parse_gate() {
    if !have_mvn() {
        return;
    }
    let case = "java-price-parse";
    let repo = repo_of(case);
    let out = generate(&repo, case);
    assert_eq!(out.strategy, "call_replay", "{:?}", out.reasons);
    gate_case(&repo, case, "STILL_RED");
}

/// The gate on a scaffold: red for the wrong reason (the NOT YET REPRODUCED marker) with or without
/// the fix: an honest scaffold never passes the gate.
#[test]
fn java_scaffold_gate_never_passes() {
    if !have_mvn() {
        return;
    }
    let case = "java-price-parse";
    let repo = repo_of(case);
    let mut ev = event_of(case);
    ev["exception"]["values"][0]["type"] = "IllegalStateException".into();
    ev["exception"]["values"][0]["value"] = "price out of range".into();
    let out = generate_value(&repo, &ev);
    assert_eq!(out.strategy, "scaffold", "{:?}", out.reasons);
    gate_case(&repo, case, "RED_WRONG_REASON");
}

/// Scaffold: the same crash reported as an IllegalStateException with no quoted input; hostile values
/// in every field. The test compiles (javac through Maven), names the class and fails with the marker.
#[test]
fn java_scaffold_and_hostile_values() {
    if !have_mvn() {
        return;
    }
    let case = "java-price-parse";
    let repo = repo_of(case);
    let pwned = repo.dir.join("PWNED");
    let p = pwned.to_string_lossy().to_string();
    let payload = format!(
        "\"); new java.io.File({p:?}).createNewFile(); (\"\n*/ static {{ }} /*\u{202e}\\u000a\u{2028} \\\" \\u0022); System.exit(0); //"
    );
    let mut ev = event_of(case);
    ev["title"] = payload.clone().into();
    ev["exception"]["values"][0]["type"] = "IllegalStateException".into();
    ev["exception"]["values"][0]["value"] = payload.clone().into();
    let out = generate_value(&repo, &ev);
    assert_eq!(out.strategy, "scaffold", "{:?}", out.reasons);
    let (ok, text) = mvn(&repo, &out.test_command);
    assert!(!ok && text.contains(MARKER_NOT_REPRODUCED), "{text}");
    assert!(
        text.contains(
            "PriceParser.parseCents at src/main/java/com/acme/invoice/PriceParser.java:12"
        ),
        "{text}"
    );
    assert!(!text.contains("COMPILATION ERROR"), "{text}");
    assert!(!pwned.exists(), "a payload ran");
    // The same hostile text as a quoted input goes through call replay's literal.
    let repo2 = repo_of(case);
    ev["exception"]["values"][0]["type"] = "NumberFormatException".into();
    ev["exception"]["values"][0]["value"] = format!("For input string: \"{payload}\"").into();
    let out = generate_value(&repo2, &ev);
    assert_eq!(out.strategy, "call_replay", "{:?}", out.reasons);
    let (_, text) = mvn(&repo2, &out.test_command);
    assert!(!text.contains("COMPILATION ERROR"), "{text}");
    assert!(!pwned.exists(), "a payload ran");
}

/// Request replay through MockMvc: the real sentry-spring-boot-starter-jakarta event carries the
/// request (POST /api/invoices/INV-2024-0042/installments?currency=EUR with a JSON body whose `count`
/// is 0). The Spring Boot app has a @SpringBootApplication and a constructor-injected controller, so
/// the test boots the app's context (@SpringBootTest + @AutoConfigureMockMvc), replays the request and
/// fails with the ArithmeticException the handler throws; after the fix (400 for count < 1) it passes
/// and so does the app's suite. Cookies and the Authorization header never reach the test.
#[test]
fn java_spring_installments_request_replay() {
    if !have_mvn() {
        return;
    }
    let case = "spring-installments";
    let repo = repo_of(case);
    let out = generate(&repo, case);
    assert_eq!(out.language, "java");
    assert_eq!(out.strategy, "request_replay", "{:?}", out.reasons);
    assert!(
        out.files[0].starts_with("src/test/java/com/acme/billing/SentryRepro"),
        "{:?}",
        out.files
    );
    let test = std::fs::read_to_string(repo.dir.join(&out.files[0])).unwrap();
    assert!(
        test.contains("@org.springframework.boot.test.context.SpringBootTest("),
        "{test}"
    );
    for secret in ["secret-session", "secret-token"] {
        assert!(
            !test.contains(secret),
            "credentials must not be replayed:\n{test}"
        );
    }
    assert!(
        out.reasons
            .iter()
            .any(|r| r.contains("InstallmentController.plan")),
        "{:?}",
        out.reasons
    );
    let (ok, text) = mvn(&repo, &out.test_command);
    assert!(!ok, "{text}");
    assert!(text.contains("SENTRY-REPRO: REPRODUCED"), "{text}");
    assert!(
        text.contains("java.lang.ArithmeticException: / by zero"),
        "{text}"
    );
    apply_fix(&repo, case);
    let (ok, text) = mvn(&repo, &out.test_command);
    assert!(ok, "{text}");
    let (ok, text) = mvn(&repo, "mvn -q -B test");
    assert!(ok, "{text}");
}

/// Without its body (what sentry-java sends unless `send-default-pii` and `max-request-body-size` are
/// on) the POST cannot be replayed: an empty body answers 400 and would pass on the buggy code. The
/// crash site is known, so a scaffold; it never passes.
#[test]
fn java_spring_request_without_body_is_scaffold() {
    let case = "spring-installments";
    let repo = repo_of(case);
    let mut ev = event_of(case);
    ev["request"].as_object_mut().unwrap().remove("data");
    let out = generate_value(&repo, &ev);
    assert_eq!(out.strategy, "scaffold", "{:?}", out.reasons);
    assert!(
        out.reasons.iter().any(|r| r.contains("did not send")),
        "{:?}",
        out.reasons
    );
}

/// The gate through the real binary on the Spring case: STILL_RED without the fix, FLIPPED once the
/// fix is committed, suite PASSED.
#[test]
fn java_spring_installments_gate() {
    if !have_mvn() {
        return;
    }
    let case = "spring-installments";
    let repo = repo_of(case);
    let out = generate(&repo, case);
    assert_eq!(out.strategy, "request_replay", "{:?}", out.reasons);
    gate_case(&repo, case, "STILL_RED");
}

/// Hostile request values (URL, query, headers, body, message) through the MockMvc template: the test
/// compiles (no COMPILATION ERROR), runs, and no payload runs.
#[test]
fn java_spring_hostile_request_is_inert() {
    if !have_mvn() {
        return;
    }
    let case = "spring-installments";
    let repo = repo_of(case);
    let pwned = repo.dir.join("PWNED");
    let p = pwned.to_string_lossy().to_string();
    let payload = format!(
        "\"); new java.io.File({p:?}).createNewFile(); (\"\n*/ static {{ }} /*\u{202e}\\u000a\u{2028} \\\" \\u0022); System.exit(0); //"
    );
    let mut ev = event_of(case);
    ev["title"] = payload.clone().into();
    ev["exception"]["values"][0]["value"] = payload.clone().into();
    ev["request"]["url"] = format!("http://h/api/invoices/{payload}/installments").into();
    ev["request"]["query_string"] = format!("currency=EUR&{payload}={payload}").into();
    ev["request"]["data"] = payload.clone().into();
    ev["request"]["headers"] = serde_json::json!({
        "content-type": "application/json",
        "X-Evil": payload,
        "Evil\"); System.exit(0); (\"": "x"
    });
    let out = generate_value(&repo, &ev);
    assert_eq!(out.strategy, "request_replay", "{:?}", out.reasons);
    let (_, text) = mvn(&repo, &out.test_command);
    assert!(!text.contains("COMPILATION ERROR"), "{text}");
    // The hostile body is not JSON (400): pass or fail, the test must have run.
    let class = out.files[0]
        .rsplit('/')
        .next()
        .unwrap()
        .trim_end_matches(".java");
    let report = repo.dir.join(format!(
        "target/surefire-reports/TEST-com.acme.billing.{class}.xml"
    ));
    assert!(report.is_file(), "the test must run:\n{text}");
    assert!(!pwned.exists(), "a payload ran");
}

/// Another JDK message shape that reveals its argument: `Enum.valueOf` (`IllegalArgumentException:
/// No enum constant com.acme.invoice.Currency.yen`). The app gains a currency parser (what a feature
/// commit would add) and the event's innermost app frame points at it; the replay calls
/// `CurrencyParser.parse("yen")` and fails with that exception; after a fix (case-insensitive lookup)
/// it passes. The derived event keeps the SDK's shape (module/function/filename frames).
#[test]
fn java_enum_constant_call_replay() {
    if !have_mvn() {
        return;
    }
    let case = "java-price-parse";
    let repo = repo_of(case);
    let pkg = repo.dir.join("src/main/java/com/acme/invoice");
    std::fs::write(
        pkg.join("Currency.java"),
        "package com.acme.invoice;\n\npublic enum Currency { EUR, USD, YEN }\n",
    )
    .unwrap();
    let buggy = "package com.acme.invoice;\n\npublic final class CurrencyParser {\n    private CurrencyParser() {}\n\n    public static Currency parse(final String code) {\n        return Currency.valueOf(code.trim());\n    }\n}\n";
    std::fs::write(pkg.join("CurrencyParser.java"), buggy).unwrap();
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", "currencies"]);
    let mut ev = event_of(case);
    let exc = &mut ev["exception"]["values"][0];
    exc["type"] = "IllegalArgumentException".into();
    exc["value"] = "No enum constant com.acme.invoice.Currency.yen".into();
    let frames = exc["stacktrace"]["frames"].as_array_mut().unwrap();
    frames[1]["module"] = "com.acme.invoice.CurrencyParser".into();
    frames[1]["function"] = "parse".into();
    frames[1]["filename"] = "CurrencyParser.java".into();
    frames[1]["lineno"] = 7.into();
    frames.truncate(2);
    frames.push(serde_json::json!({"filename": "Enum.java", "function": "valueOf", "module": "java.lang.Enum", "lineno": 273}));
    let out = generate_value(&repo, &ev);
    assert_eq!(out.strategy, "call_replay", "{:?}", out.reasons);
    let (ok, text) = mvn(&repo, &out.test_command);
    assert!(!ok, "{text}");
    assert!(text.contains("SENTRY-REPRO: REPRODUCED"), "{text}");
    assert!(
        text.contains("No enum constant com.acme.invoice.Currency.yen"),
        "{text}"
    );
    std::fs::write(
        pkg.join("CurrencyParser.java"),
        buggy.replace(
            "code.trim()",
            "code.trim().toUpperCase(java.util.Locale.ROOT)",
        ),
    )
    .unwrap();
    let (ok, text) = mvn(&repo, &out.test_command);
    assert!(ok, "{text}");
}

/// A Gradle copy of the price-parse app: `build.gradle` instead of `pom.xml`.
fn gradle_repo(module: Option<&str>, wrapper: bool) -> Repo {
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path().join("app");
    let src_root = match module {
        Some(m) => app.join(m),
        None => app.clone(),
    };
    support::copy_dir(&case_dir("java-price-parse").join("app"), &src_root);
    std::fs::remove_file(src_root.join("pom.xml")).unwrap();
    std::fs::write(
        src_root.join("build.gradle"),
        "plugins { id 'java' }\nrepositories { mavenCentral() }\ndependencies {\n    implementation 'io.sentry:sentry:8.13.2'\n    testImplementation 'org.junit.jupiter:junit-jupiter:5.10.2'\n}\ntest { useJUnitPlatform() }\n",
    )
    .unwrap();
    if let Some(m) = module {
        std::fs::write(app.join("settings.gradle"), format!("include '{m}'\n")).unwrap();
    }
    if wrapper {
        std::fs::write(app.join("gradlew"), "#!/bin/sh\nexit 1\n").unwrap();
    }
    Repo::of(&app)
}

/// Gradle layouts (no Gradle here: Debian's 4.4.1 cannot run on JDK 17 and distributions are not
/// reachable, so the commands are checked, not run): the test lands in the module's test tree, the
/// command names the module's task and the fully qualified class, with the committed wrapper when
/// there is one, and the contract carries it to `verify`.
#[test]
fn java_gradle_layouts_and_commands() {
    let ev = event_of("java-price-parse");
    let repo = gradle_repo(None, false);
    let out = generate_value(&repo, &ev);
    assert_eq!(out.strategy, "call_replay", "{:?}", out.reasons);
    let class = out.files[0]
        .rsplit('/')
        .next()
        .unwrap()
        .trim_end_matches(".java");
    assert!(
        out.files[0].starts_with("src/test/java/com/acme/invoice/"),
        "{:?}",
        out.files
    );
    assert_eq!(
        out.test_command,
        format!("gradle test --tests com.acme.invoice.{class}")
    );
    let contract_path = out.files.iter().find(|f| f.ends_with(".json")).unwrap();
    let contract: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo.dir.join(contract_path)).unwrap())
            .unwrap();
    assert_eq!(contract["framework"], "junit5");
    assert_eq!(contract["test_command"], out.test_command.as_str());
    assert_eq!(contract["suite_command"], "gradle test");

    let repo = gradle_repo(Some("core"), true);
    let out = generate_value(&repo, &ev);
    assert!(
        out.files[0].starts_with("core/src/test/java/com/acme/invoice/SentryRepro"),
        "{:?}",
        out.files
    );
    assert_eq!(
        out.test_command,
        format!("./gradlew :core:test --tests com.acme.invoice.{class}")
    );
}

/// A helpful NullPointerException (JDK 14+) names the null variable: `Cannot invoke "String.trim()"
/// because "text" is null`, and `text` is the only parameter of `parseCents`: the replay calls it with
/// null, fails with that NPE, and passes once the method treats a missing price as zero. A message
/// naming a field (`this.x`) instead stays a scaffold.
#[test]
fn java_helpful_npe_parameter_call_replay() {
    if !have_mvn() {
        return;
    }
    let case = "java-price-parse";
    let repo = repo_of(case);
    let mut ev = event_of(case);
    let exc = &mut ev["exception"]["values"][0];
    exc["type"] = "NullPointerException".into();
    exc["value"] = "Cannot invoke \"String.trim()\" because \"text\" is null".into();
    let frames = exc["stacktrace"]["frames"].as_array_mut().unwrap();
    frames[1]["lineno"] = 9.into();
    frames.truncate(2);
    let out = generate_value(&repo, &ev);
    assert_eq!(out.strategy, "call_replay", "{:?}", out.reasons);
    let (ok, text) = mvn(&repo, &out.test_command);
    assert!(!ok, "{text}");
    assert!(text.contains("SENTRY-REPRO: REPRODUCED"), "{text}");
    assert!(text.contains("because \"text\" is null"), "{text}");
    let src = repo
        .dir
        .join("src/main/java/com/acme/invoice/PriceParser.java");
    let code = std::fs::read_to_string(&src).unwrap().replace(
        "        String trimmed = text.trim();",
        "        if (text == null) {\n            return 0;\n        }\n        String trimmed = text.trim();",
    );
    std::fs::write(&src, code).unwrap();
    let (ok, text) = mvn(&repo, &out.test_command);
    assert!(ok, "{text}");

    let repo = repo_of(case);
    ev["exception"]["values"][0]["value"] =
        "Cannot invoke \"String.trim()\" because \"this.text\" is null".into();
    let out = generate_value(&repo, &ev);
    assert_eq!(out.strategy, "scaffold", "{:?}", out.reasons);
}

/// MockMvc replays need Spring MVC and its test support in the build: a WebFlux build, or one without
/// spring-boot-starter-test, gets a scaffold that says why (never a test that cannot compile).
#[test]
fn java_spring_replay_needs_mvc_and_test_support() {
    let case = "spring-installments";
    for (from, to, why) in [
        (
            "<artifactId>spring-boot-starter-web</artifactId>",
            "<artifactId>spring-boot-starter-webflux</artifactId>",
            "WebFlux",
        ),
        (
            "<artifactId>spring-boot-starter-test</artifactId>",
            "<artifactId>reactor-test</artifactId>",
            "spring-boot-starter-test",
        ),
    ] {
        let repo = repo_of(case);
        let pom = repo.dir.join("pom.xml");
        let text = std::fs::read_to_string(&pom).unwrap().replace(from, to);
        std::fs::write(&pom, text).unwrap();
        repo.git(&["commit", "-q", "-am", "build change"]);
        let out = generate(&repo, case);
        assert_eq!(out.strategy, "scaffold", "{:?}", out.reasons);
        assert!(
            out.reasons.iter().any(|r| r.contains(why)),
            "{why}: {:?}",
            out.reasons
        );
    }
}

/// The contract the generation committed.
fn contract_of(repo: &Repo, out: &Generated) -> serde_json::Value {
    let path = out.files.iter().find(|f| f.ends_with(".json")).unwrap();
    serde_json::from_str(&std::fs::read_to_string(repo.dir.join(path)).unwrap()).unwrap()
}

fn event_file(case: &str, file: &str) -> serde_json::Value {
    let raw = std::fs::read_to_string(case_dir(case).join(file)).unwrap();
    serde_json::from_str(&raw).unwrap()
}

/// A generated test in the project's framework: it is red with REPRODUCED and the reported type
/// when run alone, and the gate FLIPS it once `fix.patch` is committed (the suite still passes).
fn framework_case(case: &str, framework: &str, expect_in_test: &[&str]) {
    let repo = repo_of(case);
    let out = generate(&repo, case);
    assert_eq!(out.strategy, "call_replay", "{:?}", out.reasons);
    assert_eq!(contract_of(&repo, &out)["framework"], framework);
    let test = std::fs::read_to_string(repo.dir.join(&out.files[0])).unwrap();
    for want in expect_in_test {
        assert!(test.contains(want), "{want}:\n{test}");
    }
    assert!(!test.contains("org.junit.jupiter"), "{test}");
    let (ok, text) = mvn(&repo, &out.test_command);
    assert!(!ok, "{text}");
    assert!(text.contains("SENTRY-REPRO: REPRODUCED"), "{text}");
    assert!(text.contains("java.lang.NumberFormatException"), "{text}");
    gate_case(&repo, case, "STILL_RED");
}

/// JUnit 4 project (`junit:junit` `${junit.version}` = 4.13.2, tests import `org.junit.Test`), and
/// an input only the project's own message reveals: `0Xfade is not a valid number.` is thrown by
/// `throw new NumberFormatException(str + " is not a valid number.")`, so the replay calls
/// `NumberUtils.createNumber("0Xfade")`; the fix (an upper-case hex prefix) flips it.
#[test]
fn java_junit4_project_message_input() {
    if !have_mvn() {
        return;
    }
    framework_case(
        "java-junit4-create-number",
        "junit4",
        &[
            "import org.junit.Test;",
            "public void doesNotThrow()",
            "INPUT = \"0Xfade\"",
        ],
    );
}

/// The "0x stripped" trap (real event): `For input string: "80000000" under radix 16` quotes what
/// `Integer.decode` parsed after it dropped the `0x` of createInteger's argument; calling
/// `createInteger("80000000")` would pass on the buggy code. The generator refuses (scaffold with the
/// reason), and the JUnit 4 scaffold compiles and fails with the NOT YET REPRODUCED marker.
#[test]
fn java_transformed_value_is_not_the_argument() {
    let case = "java-junit4-create-number";
    let repo = repo_of(case);
    let out = generate_value(&repo, &event_file(case, "event-hex-overflow.json"));
    assert_eq!(out.strategy, "scaffold", "{:?}", out.reasons);
    assert!(
        out.reasons
            .iter()
            .any(|r| r.contains("decode(str) transforms the parameter")),
        "{:?}",
        out.reasons
    );
    if !have_mvn() {
        return;
    }
    let (ok, text) = mvn(&repo, &out.test_command);
    assert!(!ok && text.contains(MARKER_NOT_REPRODUCED), "{text}");
    assert!(!text.contains("COMPILATION ERROR"), "{text}");
}

/// JUnit 3 project (junit 3.8.2, tests `extends TestCase`): an instance method, called on
/// `new ListenerConfig()` (public no-argument constructor) with the quoted `"8025/tcp"` (the
/// method only trims it, which keeps the value); the test is `public void testDoesNotThrow()` in a
/// `TestCase`, run by surefire's JUnit 3 provider.
#[test]
fn java_junit3_instance_method() {
    if !have_mvn() {
        return;
    }
    framework_case(
        "java-junit3-listen-port",
        "junit3",
        &[
            "extends TestCase",
            "public void testDoesNotThrow()",
            "new ListenerConfig().port(INPUT)",
        ],
    );
}

/// TestNG project (`org.testng:testng`): the crash is in `PageLayout.printableWidth()`, a method
/// without parameters, so the replay calls it on a new instance; the test uses
/// `org.testng.annotations.Test` and `org.testng.Assert.fail`.
#[test]
fn java_testng_zero_argument_method() {
    if !have_mvn() {
        return;
    }
    framework_case(
        "java-testng-report-margin",
        "testng",
        &[
            "import org.testng.annotations.Test;",
            "import static org.testng.Assert.fail;",
            "new PageLayout().printableWidth()",
        ],
    );
}

/// Old builds: a source level JDK 17 rejects (`1.5`) is the user's to fix, and the handoff says what
/// fails and why; the framework still follows the build (generation only, no Maven run).
#[test]
fn java_old_source_level_is_reported() {
    let case = "java-junit4-create-number";
    let repo = repo_of(case);
    let pom = repo.dir.join("pom.xml");
    let text = std::fs::read_to_string(&pom)
        .unwrap()
        .replace(">1.8<", ">1.5<");
    std::fs::write(&pom, text).unwrap();
    repo.git(&["commit", "-q", "-am", "old build"]);
    let out = generate(&repo, case);
    assert_eq!(contract_of(&repo, &out)["framework"], "junit4");
    assert!(
        out.reasons
            .iter()
            .any(|r| r.contains("level 1.5") && r.contains("below 7")),
        "{:?}",
        out.reasons
    );
}

/// Parent-managed versions: the root pom's `dependencyManagement` sets junit 3.8.1 and the module
/// declares `junit:junit` without a version; no test exists yet. The test is JUnit 3, in the
/// module's test tree, run with `-pl core -am` (generation only, no Maven run).
#[test]
fn java_junit_version_from_the_parent() {
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path().join("app");
    let core = app.join("core");
    support::copy_dir(&case_dir("java-junit3-listen-port").join("app"), &core);
    std::fs::remove_dir_all(core.join("src/test")).unwrap();
    let pom = std::fs::read_to_string(core.join("pom.xml"))
        .unwrap()
        .replace("<version>${junit.version}</version>\n", "");
    std::fs::write(core.join("pom.xml"), pom).unwrap();
    std::fs::write(
        app.join("pom.xml"),
        "<project><modelVersion>4.0.0</modelVersion><groupId>com.acme</groupId><artifactId>parent</artifactId><version>1</version><packaging>pom</packaging><modules><module>core</module></modules><dependencyManagement><dependencies><dependency><groupId>junit</groupId><artifactId>junit</artifactId><version>3.8.1</version></dependency></dependencies></dependencyManagement></project>\n",
    )
    .unwrap();
    let repo = Repo::of(&app);
    let out = generate_value(&repo, &event_of("java-junit3-listen-port"));
    assert_eq!(out.strategy, "call_replay", "{:?}", out.reasons);
    assert_eq!(contract_of(&repo, &out)["framework"], "junit3");
    assert!(
        out.files[0].starts_with("core/src/test/java/com/acme/relay/SentryRepro"),
        "{:?}",
        out.files
    );
    assert!(out
        .test_command
        .contains(" -pl core -am test -Dtest=SentryRepro"));
}

/// An old Apache Commons layout: `<sourceDirectory>src/java</sourceDirectory>`,
/// `<testSourceDirectory>src/test</testSourceDirectory>`, junit 3.8.1 and
/// `maven.compile.source` 1.5. The crash maps to `src/java`, the JUnit 3 test lands in `src/test`,
/// and the note says why JDK 17 will not compile the build (generation only, no Maven run).
#[test]
fn java_commons_layout_and_old_level() {
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path().join("app");
    let src = case_dir("java-junit3-listen-port").join("app/src");
    support::copy_dir(&src.join("main/java"), &app.join("src/java"));
    support::copy_dir(&src.join("test/java"), &app.join("src/test"));
    std::fs::write(
        app.join("pom.xml"),
        "<project><modelVersion>4.0.0</modelVersion><groupId>commons-relay</groupId><artifactId>commons-relay</artifactId><version>2.1</version>\n<dependencies><dependency><groupId>junit</groupId><artifactId>junit</artifactId><version>3.8.1</version><scope>test</scope></dependency></dependencies>\n<properties><maven.compile.source>1.5</maven.compile.source><maven.compile.target>1.5</maven.compile.target></properties>\n<build><sourceDirectory>src/java</sourceDirectory><testSourceDirectory>src/test</testSourceDirectory></build></project>\n",
    )
    .unwrap();
    let repo = Repo::of(&app);
    let out = generate_value(&repo, &event_of("java-junit3-listen-port"));
    assert_eq!(out.strategy, "call_replay", "{:?}", out.reasons);
    assert_eq!(contract_of(&repo, &out)["framework"], "junit3");
    assert!(
        out.files[0].starts_with("src/test/com/acme/relay/SentryRepro"),
        "{:?}",
        out.files
    );
    assert!(
        out.reasons.iter().any(|r| r.contains("level 1.5")),
        "{:?}",
        out.reasons
    );
}
