//! The product end to end, through the real binary: `generate` on a corpus app, then `verify` on the
//! branch as a fixer's CI would run it: without a fix the gate fails (STILL_RED, or RED_WRONG_REASON for
//! an honest scaffold); with the human `fix.patch` committed a reproduction FLIPS and the gate passes.
//! This is the contract between the generators and the verifier checked on real cases, with real
//! pytest and node.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::{self, copy_dir, Gate};

const BIN: &str = env!("CARGO_BIN_EXE_sentry-repro");

/// A case folder: `tests/fixtures/corpus` (the shared dev corpus) or `tests/fixtures/corpus-extra`
/// (cases written for this repository, same format, events from the real SDK).
fn fixture(case: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let dev = root.join("corpus").join(case);
    if dev.is_dir() {
        dev
    } else {
        root.join("corpus-extra").join(case)
    }
}

fn verify(repo: &Path, home: &Path) -> Gate {
    support::verify_in(repo, home, &["--base", "main", "--runs", "1"], &[])
}

/// Generate on the buggy app, gate it (must fail), commit the human fix, gate again.
/// `expect`: the strategy the case must get (JS cases pin it, so a generator that silently degrades a
/// replay to a scaffold, or replays what the event cannot support, fails here).
fn generate_then_gate(case: &str, node_modules: Option<PathBuf>, expect: Option<&str>) {
    let home = tempfile::tempdir().unwrap();
    let repo = home.path().join("repo");
    copy_dir(&fixture(case).join("app"), &repo);
    support::git_in(&repo, home.path(), &["init", "-q", "-b", "main"]);
    if let Some(modules) = &node_modules {
        std::os::unix::fs::symlink(modules, repo.join("node_modules")).unwrap();
        std::fs::write(repo.join(".git/info/exclude"), "node_modules\n").unwrap();
    }
    support::git_in(&repo, home.path(), &["add", "-A"]);
    support::git_in(&repo, home.path(), &["commit", "-q", "-m", "buggy app"]);

    let out = Command::new(BIN)
        .args(["generate", "--json"])
        .arg(fixture(case).join("event.json"))
        .current_dir(&repo)
        .output()
        .expect("generate runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let generated: Value = serde_json::from_slice(&out.stdout).expect("generate --json");
    let branch = generated["branch"].as_str().unwrap().to_string();
    let strategy = generated["strategy"].as_str().unwrap().to_string();
    if let Some(expect) = expect {
        assert_eq!(strategy, expect, "{case}: strategy");
    }
    let reproduces = matches!(strategy.as_str(), "call_replay" | "request_replay");
    support::git_in(&repo, home.path(), &["checkout", "-q", &branch]);

    let red = verify(&repo, home.path());
    assert_eq!(
        red.exit, 1,
        "{case}: the gate must fail without a fix\n{}",
        red.output
    );
    let expected = if reproduces {
        "STILL_RED"
    } else {
        "RED_WRONG_REASON"
    };
    assert_eq!(
        red.verdicts(),
        vec![expected],
        "{case} ({strategy})\n{}",
        red.output
    );

    let patch = std::fs::read(fixture(case).join("fix.patch")).unwrap();
    let mut child = Command::new("patch")
        .args(["-s", "-p1"])
        .current_dir(&repo)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("patch runs");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&patch).unwrap();
    assert!(child.wait().unwrap().success(), "{case}: fix.patch applies");
    support::git_in(
        &repo,
        home.path(),
        &["commit", "-q", "-am", "the human fix"],
    );

    let green = verify(&repo, home.path());
    if reproduces {
        assert_eq!(
            green.exit, 0,
            "{case}: the fix must pass the gate\n{}",
            green.output
        );
        assert_eq!(
            green.verdicts(),
            vec!["FLIPPED"],
            "{case}\n{}",
            green.output
        );
        assert_eq!(green.report["ok"], true);
    } else {
        // An unfinished scaffold never passes the gate, fix or no fix.
        assert_eq!(
            green.exit, 1,
            "{case}: a scaffold must not pass\n{}",
            green.output
        );
    }
}

fn python_ready() -> bool {
    support::have("python", "--version")
        && Command::new("python")
            .args(["-c", "import pytest"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
}

/// A Python case with the strategy its event supports (pinned, so a silent downgrade fails).
macro_rules! python_case {
    ($name:ident, $case:literal, $strategy:literal) => {
        #[test]
        fn $name() {
            if !python_ready() {
                eprintln!("SKIP: python with pytest missing");
                return;
            }
            generate_then_gate($case, None, Some($strategy));
        }
    };
}

macro_rules! js_case {
    ($name:ident, $case:literal, $strategy:literal) => {
        #[test]
        fn $name() {
            if !crate::js_cases::node_available() {
                eprintln!("SKIP: node missing");
                return;
            }
            let modules = crate::js_cases::dependencies($case, &fixture($case).join("app"));
            generate_then_gate($case, Some(modules), Some($strategy));
        }
    };
}

python_case!(e2e_py_smtp_config_key, "py-smtp-config-key", "call_replay");
python_case!(
    e2e_py_rating_average_empty,
    "py-rating-average-empty",
    "call_replay"
);
python_case!(
    e2e_py_meeting_tz_compare,
    "py-meeting-tz-compare",
    "call_replay"
);
python_case!(
    e2e_py_playlist_advance_end,
    "py-playlist-advance-end",
    "call_replay"
);
python_case!(
    e2e_py_flask_signup_email,
    "py-flask-signup-email",
    "request_replay"
);
python_case!(
    e2e_py_fastapi_shipment_404,
    "py-fastapi-shipment-404",
    "request_replay"
);
// corpus-extra: kinds the dev corpus does not cover.
// classmethod with keyword-only defaults and a nested dict/list argument
python_case!(
    e2e_py_extra_invoice_qty_decimal,
    "py-invoice-qty-decimal",
    "call_replay"
);
// method on a plain (non-dataclass) object: climbs to the caller with plain inputs
python_case!(
    e2e_py_extra_shipping_rate_overweight,
    "py-shipping-rate-overweight",
    "call_replay"
);
// innermost frame rebinds its parameter: the caller's intact dict is replayed
python_case!(
    e2e_py_extra_booking_hours_single,
    "py-booking-hours-single",
    "call_replay"
);
// async function, KeyError
python_case!(
    e2e_py_extra_async_stock_unknown_sku,
    "py-async-stock-unknown-sku",
    "call_replay"
);
// chained exception whose outermost type is the app's own ConfigError
python_case!(
    e2e_py_extra_upload_limit_chained,
    "py-upload-limit-chained",
    "call_replay"
);
// Django view (no route decorator of its own, csrf_exempt/require_POST) through the production WSGI
// entry: request replay through django.test.Client with the settings module from manage.py
python_case!(
    e2e_py_extra_django_ticket_escalate,
    "py-django-ticket-escalate",
    "request_replay"
);
// the argument is a pydantic model holding nested models: rebuilt from its repr
python_case!(
    e2e_py_extra_pydantic_quote_coupon,
    "py-pydantic-quote-coupon",
    "call_replay"
);
// src/ layout, namespace sub-package with relative imports, module-level routing dict, an enum
// member argument (<EntryKind.CHARGEBACK: 'chargeback'> rebuilt as EntryKind.CHARGEBACK)
python_case!(
    e2e_py_extra_src_ledger_chargeback,
    "py-src-ledger-chargeback",
    "call_replay"
);
// Flask create_app() factory + blueprint, JSON body with a string weight, crash in a helper module
// that normalizes the payload in place first (post-mutation vars): request replay
python_case!(
    e2e_py_extra_flask_quote_weight_str,
    "py-flask-quote-weight-str",
    "request_replay"
);
// async method on a dataclass instance: self rebuilt from its repr, awaited with asyncio.run
python_case!(
    e2e_py_extra_async_method_fare_none,
    "py-async-method-fare-none",
    "call_replay"
);
// crash inside a generator: the replay must consume it (a bare call would pass on buggy code)
python_case!(
    e2e_py_extra_csv_import_generator,
    "py-csv-import-generator",
    "call_replay"
);
// a method defined on an ABC base (nested package, relative imports) run on a dataclass subclass
// instance: self rebuilt as the subclass, the base's function called on it (crash frame <listcomp>)
python_case!(
    e2e_py_extra_export_base_subclass_self,
    "py-export-base-subclass-self",
    "call_replay"
);
// a Counter argument (sent by the SDK as a plain object) rebuilt as a Counter from the annotation;
// a dict would raise the same KeyError one line early and block the real fix
python_case!(
    e2e_py_extra_restock_counter_arg,
    "py-restock-counter-arg",
    "call_replay"
);
// FastAPI POST with a path param and a pydantic JSON body, router prefix, Depends-injected service
python_case!(
    e2e_py_extra_fastapi_cart_promo_post,
    "py-fastapi-cart-promo-post",
    "request_replay"
);
// a classmethod of the base class run with cls=a subclass (other module) whose class attribute is
// the zero divisor: replayed as Base.method.__func__(Sub, ...), the base class alone passes
python_case!(
    e2e_py_extra_classmethod_subclass_cls,
    "py-classmethod-subclass-cls",
    "call_replay"
);
// FastAPI GET with an int query parameter, crash in a helper two frames below the handler, fixed in
// the handler (Query(ge=1) -> 422): the request replay comes first, a call replay of the helper
// would stay red after that correct fix
python_case!(
    e2e_py_extra_fastapi_occupancy_nights,
    "py-fastapi-occupancy-nights",
    "request_replay"
);
// Flask blueprint with a url_prefix, a URL-encoded query string, ValueError raised inside the
// standard library (datetime.strptime) below two app frames, fixed in the handler (400)
python_case!(
    e2e_py_extra_flask_blueprint_hours_strptime,
    "py-flask-blueprint-hours-strptime",
    "request_replay"
);
// Django class-based view (no route decorator: found as a view by its `request` parameter), form
// body, decimal.InvalidOperation from Decimal() two app frames below, fixed in the view (422)
python_case!(
    e2e_py_extra_django_cbv_payment_decimal,
    "py-django-cbv-payment-decimal",
    "request_replay"
);
// heapq.heappop(heap) emptied the parameter before the crash line: a replay from the crash frame's
// heap passes on the buggy code, the caller's intact list reproduces
python_case!(
    e2e_py_extra_payout_heap_popped,
    "py-payout-heap-popped",
    "call_replay"
);
// crash inside a `<lambda>` key function that sorted() called: the caller with the whole list is
// replayed, and the crash site is the lambda's line
python_case!(
    e2e_py_extra_leaderboard_lambda_ratio,
    "py-leaderboard-lambda-ratio",
    "call_replay"
);
// a manifest nested deeper than the SDK's depth limit (the cut dict arrives as one repr string) and
// a 1,574-character string: both complete in the event, so the replay is exact
python_case!(
    e2e_py_extra_tenant_quota_deep_manifest,
    "py-tenant-quota-deep-manifest",
    "call_replay"
);
// RecursionError around a cycle in a category feed: every frame is the same line of the same
// function, whose inputs rebuild; the fix raises a domain error the caller handles
python_case!(
    e2e_py_extra_category_cycle_recursion,
    "py-category-cycle-recursion",
    "call_replay"
);
// crash in a @property of a dataclass (a helper's dict .get() returned None): the caller is a
// plain object, so the property, replayed as an attribute read, is the only replayable frame
python_case!(
    e2e_py_extra_property_zone_none,
    "py-property-zone-none",
    "call_replay"
);
// staticmethod with keyword-only arguments, a str page from a query string; the caller's list is
// cut by the SDK and the crash frame rebinds a parameter: replayed from the crash-time state
python_case!(
    e2e_py_extra_staticmethod_page_query_str,
    "py-staticmethod-page-query-str",
    "call_replay"
);
// a list of dataclass instances holding raw JSON dicts, KeyError three levels deep
python_case!(
    e2e_py_extra_dataclass_list_telemetry_key,
    "py-dataclass-list-telemetry-key",
    "call_replay"
);
// *recipients and **options of a service function a CLI calls; ValueError from fromisoformat,
// fixed by raising the app's own ValueError subclass away from the crash line
python_case!(
    e2e_py_extra_cli_kwargs_fromisoformat,
    "py-cli-kwargs-fromisoformat",
    "call_replay"
);
// a handled exception (logger.exception in a try that goes on): the only caller caught it, so a
// plain call raises nothing; it is replayed under a log capture where the logged exception counts
python_case!(
    e2e_py_extra_logged_sync_phone_unpack,
    "py-logged-sync-phone-unpack",
    "call_replay"
);
// a decorator's functools.wraps wrapper caught and logged the exception: the decorated function is
// called unwrapped, a call through the wrapper raises nothing
python_case!(
    e2e_py_extra_job_decorator_swallows,
    "py-job-decorator-swallows",
    "call_replay"
);
js_case!(
    e2e_js_checkout_missing_shipping,
    "js-checkout-missing-shipping",
    "request_replay"
);
js_case!(
    e2e_js_report_invalid_date,
    "js-report-invalid-date",
    "request_replay"
);
// The bad value (a string amount) came from upstream and the caller's vars are objects captured
// one level deep: no frame's inputs are provably complete.
js_case!(e2e_js_expense_tofixed, "js-expense-tofixed", "scaffold");
// Crashed in the first tick: the SDK's local-variables worker had not attached, no vars at all.
js_case!(
    e2e_js_usage_table_repeat,
    "js-usage-table-repeat",
    "scaffold"
);
// Extra cases (tests/fixtures/corpus-extra), one per shape the dev corpus lacks.
// CommonJS function, vars are complete primitives/arrays: call replay of `percentile`.
js_case!(
    e2e_js_cjs_latency_percentile,
    "js-cjs-latency-percentile",
    "call_replay"
);
// ESM class method crash: `this` is not in the vars, so the method is refused and the search climbs
// to the exported async caller `settle`; its `openingBalances` is a plain object, which @sentry/node
// captures one level deep (nested members silently dropped, as this corpus's refund event shows for
// `order.lines`), so it cannot prove complete: an honest scaffold.
js_case!(e2e_js_esm_ledger_settle, "js-esm-ledger-settle", "scaffold");
// Express 4 GET with route params and query, crash in a helper module: request replay.
js_case!(
    e2e_js_express_inventory_sort,
    "js-express-inventory-sort",
    "request_replay"
);
// Express 5 POST with a JSON body on an order seeded from the repository's data: request replay.
js_case!(
    e2e_js_express_refund_post,
    "js-express-refund-post",
    "request_replay"
);
// ESM instance method crash (`this` not captured): the search climbs to the exported caller
// `tagLine`, whose arguments are complete primitives (a non-ASCII string among them).
js_case!(
    e2e_js_esm_money_format,
    "js-esm-money-format",
    "call_replay"
);
// TypeScript run with tsx (source-mapped .ts frames), async function, suite `node --import tsx
// --test`: the repro test is plain ESM importing the .ts source with the project's loader flags.
js_case!(
    e2e_js_ts_tsx_alert_thresholds,
    "js-ts-tsx-alert-thresholds",
    "call_replay"
);
// Koa 3 async route with a JSON body of the wrong type (a number where a string is expected):
// request replay of the POST against the app from the exported no-argument factory.
js_case!(
    e2e_js_koa_coupon_code,
    "js-koa-coupon-code",
    "request_replay"
);
// Fastify 5 (CommonJS) async route, PUT with a JSON body of the wrong shape: request replay of the
// app from the exported no-argument factory, started with listen({ port: 0 }).
js_case!(
    e2e_js_fastify_invoice_lines,
    "js-fastify-invoice-lines",
    "request_replay"
);
// The crash is inside the built-in JSON.parse, which shifts @sentry/node's positional pairing of
// captured variables so that no frame has any: an honest scaffold (its note names the cause).
// Also: a named default export in a nested folder (src/lib/util/), SyntaxError.
js_case!(
    e2e_js_esm_contacts_blank_line,
    "js-esm-contacts-blank-line",
    "scaffold"
);
// Express 5 app from a createApp({ store }) factory that needs an argument (so the replay loads the
// entry server.js), mocha suite, GET with a path param and a query string, RangeError two frames
// below the handler in src/lib/util/: request replay.
js_case!(
    e2e_js_express_sensor_precision,
    "js-express-sensor-precision",
    "request_replay"
);
// TypeScript run with ts-node (CommonJS, bin/ shim), mocha with --require ts-node/register from
// .mocharc.json: the exported async arrow is replayed from a CommonJS test requiring the .ts source.
js_case!(
    e2e_js_ts_node_discount_region,
    "js-ts-node-discount-region",
    "call_replay"
);
// jest, CommonJS: the crash is an instance method (no `this` captured); its exported caller takes a
// flat plain object, captured one level deep, which the caller only reads members of, all captured:
// call replay with the object rebuilt.
js_case!(
    e2e_js_jest_rate_card_method,
    "js-jest-rate-card-method",
    "call_replay"
);
// vitest, ESM: the crash is in an anonymous `export default async (…) => …`, which V8 names
// `default`: call replay through the module's default export.
js_case!(
    e2e_js_vitest_default_arrow_fx,
    "js-vitest-default-arrow-fx",
    "call_replay"
);
// Express 4 (CommonJS): an express.Router mounted with app.use('/api/v1', router), JSON POST body,
// crash in a service module two calls below the route (through Array.reduce): request replay.
js_case!(
    e2e_js_express_v1_router_quote,
    "js-express-v1-router-quote",
    "request_replay"
);
// An async method of the module's singleton (`module.exports = new ReportService()`), whose caller
// is a non-exported CLI main: replayed on the instance the module exports (the app's own receiver).
js_case!(
    e2e_js_cjs_singleton_async_report,
    "js-cjs-singleton-async-report",
    "call_replay"
);
// A crash in a helper called from an anonymous Array.prototype.sort comparator: the helper is
// private, the comparator anonymous, and the built-in Array.sort leaves every frame below it without
// variables (the note names Array.sort as the cause): an honest scaffold.
js_case!(
    e2e_js_esm_sort_comparator_eta,
    "js-esm-sort-comparator-eta",
    "scaffold"
);
// TypeScript compiled by tsc to dist/ (build output, not in the repository): the SDK reports dist/*.js
// files and lines; they are mapped through tsconfig's outDir/rootDir to src/*.ts and the source line
// by its text, then the exported function above the crashing getter is replayed from the .ts source.
js_case!(
    e2e_js_tsc_dist_getter_plan,
    "js-tsc-dist-getter-plan",
    "call_replay"
);
// A plain node:http server (no framework dependency) from a createApp() factory returning
// http.createServer(handler); the handler catches, reports with Sentry.captureException and answers
// 500. The crash is in a helper below an Array.reduce callback (frames below it have no vars):
// request replay of the POST against the factory's server.
js_case!(
    e2e_js_http_plain_parcel_rates,
    "js-http-plain-parcel-rates",
    "request_replay"
);
// ESM: an async function with a destructured options parameter with defaults, re-exported through
// an index.js barrel, awaiting a helper that returns undefined: call replay with the options
// object rebuilt from the destructured locals.
js_case!(
    e2e_js_esm_barrel_statement_options,
    "js-esm-barrel-statement-options",
    "call_replay"
);
// TypeScript (CommonJS) run with tsx: a static method, which V8 names `Function.fromCells`; the
// class is found around the definition and the method replayed as `Invoice.fromCells(cells)`.
js_case!(
    e2e_js_ts_static_invoice_csv,
    "js-ts-static-invoice-csv",
    "call_replay"
);
// A Next.js-style `export default async function handler(req, res)` on a bare node:http server that
// reads the body stream itself: the SDK sent the POST without its body (content-length 30, no
// `data`), so a request replay would post nothing and get a 404 on the buggy code (was NOT_RED);
// it is refused and the crashing helper, whose plain-object argument is complete, is replayed.
js_case!(
    e2e_js_http_api_handler_seats,
    "js-http-api-handler-seats",
    "call_replay"
);
// Express 4 (CommonJS, jest + supertest) async route that Express 4 does not catch: the rejection
// is unhandled and the request never gets an answer. The replay reports the rejected promise of the
// route handler (jest keeps unhandled rejections from the test's process listeners) and fails at
// once with the TypeError, instead of hanging until undici's 300 s headers timeout (red took 302 s
// before, and was judged right only through jest's own report of the rejection).
js_case!(
    e2e_js_express4_jest_async_timesheet,
    "js-express4-jest-async-timesheet",
    "request_replay"
);

// ---------------------------------------------------------------------------------------------
// A newcomer's first hour (issue 15): the base, the one-line result, errors in words, a closed
// stdout, the note of a bare event, `doctor` and `serve`'s start checks.

/// The real binary with the service's environment cleared and git's user configuration ignored.
fn newcomer_bin(home: &Path) -> Command {
    let mut c = Command::new(BIN);
    for k in sentry_repro::config::env::ALL {
        c.env_remove(k);
    }
    c.env("HOME", home)
        .env("XDG_CONFIG_HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1");
    c
}

/// A committed copy of a corpus app on `main`; returns (temp dir, repo, home).
fn newcomer_repo(case: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    copy_dir(&fixture(case).join("app"), &repo);
    support::git_in(&repo, &home, &["init", "-q", "-b", "main"]);
    support::git_in(&repo, &home, &["add", "-A"]);
    support::git_in(&repo, &home, &["commit", "-q", "-m", "app"]);
    (tmp, repo, home)
}

fn text(out: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn generate_builds_on_the_default_branch_not_the_checked_out_fix_branch() {
    let (_tmp, repo, home) = newcomer_repo("py-rating-average-empty");
    let main = support::git_in(&repo, &home, &["rev-parse", "main"]);
    // A fix in progress is checked out, one commit ahead of main.
    support::git_in(&repo, &home, &["checkout", "-q", "-b", "fix/other-crash"]);
    std::fs::write(repo.join("FIXING.md"), "work in progress\n").unwrap();
    support::git_in(&repo, &home, &["add", "-A"]);
    support::git_in(&repo, &home, &["commit", "-q", "-m", "wip"]);
    let event = fixture("py-rating-average-empty").join("event.json");

    let out = newcomer_bin(&home)
        .arg("generate")
        .arg(&event)
        .current_dir(&repo)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let line = stdout.trim();
    assert_eq!(stdout.lines().count(), 1, "one line: {stdout}");
    assert!(
        line.starts_with("created fix/sentry-") && line.contains("(python, call_replay) on main:"),
        "{line}"
    );
    let branch = line.split_whitespace().nth(1).unwrap();
    let parent = support::git_in(&repo, &home, &["rev-parse", &format!("{branch}^")]);
    assert_eq!(
        parent, main,
        "the branch is built on main, not on the checkout"
    );
    let note = support::git_in(&repo, &home, &["log", "-1", "--format=%H", branch]);
    assert!(!note.is_empty());

    // The same issue again: one line naming the existing branch and its language.
    let again = newcomer_bin(&home)
        .arg("generate")
        .arg(&event)
        .current_dir(&repo)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&again);
    assert!(again.status.success(), "{stderr}");
    assert!(
        stdout.starts_with(&format!("exists {branch} (python): issue "))
            && stdout.trim_end().ends_with("already has a branch"),
        "{stdout}"
    );
}

#[test]
fn generate_on_head_only_when_asked_and_bad_refs_are_reported_in_words() {
    let (_tmp, repo, home) = newcomer_repo("py-rating-average-empty");
    support::git_in(&repo, &home, &["checkout", "-q", "-b", "topic"]);
    std::fs::write(repo.join("TOPIC.md"), "topic\n").unwrap();
    support::git_in(&repo, &home, &["add", "-A"]);
    support::git_in(&repo, &home, &["commit", "-q", "-m", "topic"]);
    let topic = support::git_in(&repo, &home, &["rev-parse", "topic"]);
    let event = fixture("py-rating-average-empty").join("event.json");

    let out = newcomer_bin(&home)
        .args(["generate", "--json", "--base", "HEAD"])
        .arg(&event)
        .current_dir(&repo)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["base"], "HEAD");
    let branch = v["branch"].as_str().unwrap();
    let parent = support::git_in(&repo, &home, &["rev-parse", &format!("{branch}^")]);
    assert_eq!(parent, topic);

    // An unknown base: the words name the ref and the repository; git's text only with --verbose.
    let bad = newcomer_bin(&home)
        .args(["generate", "--base", "no-such-ref"])
        .arg(&event)
        .current_dir(&repo)
        .output()
        .unwrap();
    let (_, stderr) = text(&bad);
    assert_eq!(bad.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("base ref 'no-such-ref' not found in"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("class=") && !stderr.contains("code="),
        "{stderr}"
    );
    let verbose = newcomer_bin(&home)
        .args(["--verbose", "generate", "--base", "no-such-ref"])
        .arg(&event)
        .current_dir(&repo)
        .output()
        .unwrap();
    let (_, stderr) = text(&verbose);
    assert!(
        stderr.contains("base ref 'no-such-ref' not found in") && stderr.contains("code="),
        "{stderr}"
    );
}

#[test]
fn generate_into_a_closed_stdout_ends_quietly_with_a_failure_status() {
    let (_tmp, repo, home) = newcomer_repo("py-rating-average-empty");
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader); // the reader is gone before anything is written: every write gets EPIPE
    let out = newcomer_bin(&home)
        .args(["generate", "--dry-run"])
        .arg(fixture("py-rating-average-empty").join("event.json"))
        .current_dir(&repo)
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert_eq!(out.status.code(), Some(141), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.trim().is_empty(), "quiet: {stderr}");
}

#[test]
fn the_note_of_a_bare_event_has_no_empty_blocks_or_cells() {
    let (tmp, repo, home) = newcomer_repo("py-rating-average-empty");
    let event = tmp.path().join("bare.json");
    std::fs::write(
        &event,
        r#"{"event_id": "0123456789abcdef0123456789abcdef", "platform": "python",
            "exception": {"values": [{"type": "ValueError"}]}}"#,
    )
    .unwrap();
    let out = newcomer_bin(&home)
        .args(["generate", "--dry-run"])
        .arg(&event)
        .current_dir(&repo)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let note = stdout
        .split("==> ")
        .find(|f| f.starts_with("repro/sentry-") && f.contains(".md <=="))
        .expect("a note")
        .to_string();
    assert!(note.contains("| Base | `main` at `"), "{note}");
    assert!(note.contains("sentry-repro verify --base main"), "{note}");
    assert!(note.contains("```text\nValueError\n```"), "{note}");
    let body = note.replace("| | |\n|---|---|", "").replace("```", "");
    for empty in ["``", "|  |", "| |", ": \n"] {
        assert!(!body.contains(empty), "{empty:?} in\n{note}");
    }
    assert!(!note.contains("\n\n\n"), "{note}");
    let lines: Vec<&str> = note.lines().collect();
    for pair in lines.windows(3) {
        let heading_then_nothing = pair[0].starts_with("## ")
            && (pair[1].trim().is_empty() && pair[2].starts_with("## ")
                || pair[1].starts_with("## "));
        assert!(
            !heading_then_nothing,
            "empty section {:?} in\n{note}",
            pair[0]
        );
    }
}

/// Wait for a child to exit within `secs`; kill it and fail otherwise.
fn exits_within(mut child: std::process::Child, secs: u64) -> std::process::Output {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("still running after {secs} s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn doctor_and_serve_refuse_a_directory_that_is_not_a_repository() {
    let tmp = tempfile::tempdir().unwrap();
    let plain = tmp.path().join("not-a-repo");
    std::fs::create_dir_all(&plain).unwrap();
    let out = newcomer_bin(tmp.path())
        .args(["doctor", "--repo"])
        .arg(&plain)
        .env("SENTRY_CLIENT_SECRET", "s")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("FAIL  repository")
            && stdout.contains("is not a git repository")
            && stdout.contains("git init"),
        "{stdout}"
    );
    assert!(stdout.contains("ok    client secret"), "{stdout}");

    let child = newcomer_bin(tmp.path())
        .args(["serve", "--listen", "127.0.0.1:0", "--repo"])
        .arg(&plain)
        .env("SENTRY_CLIENT_SECRET", "s")
        .env("SENTRY_REPRO_STATE_DIR", tmp.path().join("state"))
        .env("SENTRY_REPRO_READ_LISTEN", "off")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = exits_within(child, 30);
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains("refusing to start") && stderr.contains("is not a git repository"),
        "{stderr}"
    );
    assert!(
        !tmp.path().join("state").exists(),
        "no job store for a refused start"
    );
}

#[test]
fn doctor_names_the_safe_directory_fix_for_a_repository_of_another_user() {
    // libgit2 refuses a repository owned by another user; simulate the Docker bind mount by giving
    // the repository to `nobody` (needs root to chown).
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: needs root to give the repository to another user");
        return;
    }
    let (tmp, repo, home) = newcomer_repo("py-rating-average-empty");
    let status = Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(&repo)
        .status()
        .unwrap();
    assert!(status.success());
    let out = newcomer_bin(&home)
        .args(["doctor", "--allow-unsigned", "--repo"])
        .arg(&repo)
        .env("SENTRY_REPRO_STATE_DIR", tmp.path().join("state"))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("owned by another user")
            && stdout.contains(&format!(
                "git config --global --add safe.directory {}",
                repo.display()
            )),
        "{stdout}"
    );
}

#[test]
fn doctor_checks_a_good_project_and_sends_a_signed_sample_to_a_running_serve() {
    let (tmp, repo, home) = newcomer_repo("py-rating-average-empty");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = tmp.path().join("serve.log");
    let child = newcomer_bin(&home)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--repo"])
        .arg(&repo)
        .env("SENTRY_CLIENT_SECRET", "right")
        .env("SENTRY_REPRO_STATE_DIR", tmp.path().join("state"))
        .env("SENTRY_REPRO_READ_LISTEN", "off")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _serve = Kill(child);
    let base = format!("http://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while ureq::get(&format!("{base}/healthz")).call().is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "serve did not come up: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    let doctor = |secret: &str| {
        newcomer_bin(&home)
            .args(["doctor", "--send-sample", &base, "--repo"])
            .arg(&repo)
            .env("SENTRY_CLIENT_SECRET", secret)
            .env("SENTRY_REPRO_STATE_DIR", tmp.path().join("doctor-state"))
            .output()
            .unwrap()
    };
    let out = doctor("right");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("ok    repository"), "{stdout}");
    assert!(stdout.contains("ok      base: main at "), "{stdout}");
    assert!(stdout.contains("skip    remote"), "{stdout}");
    assert!(
        stdout.contains("sample delivery to") && stdout.contains("HTTP 202"),
        "{stdout}"
    );
    // A secret the service does not share: the answer is printed and doctor fails.
    let out = doctor("wrong");
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAIL  sample delivery") && stdout.contains("HTTP 401"),
        "{stdout}"
    );

    // Text logs written to a file carry no colour codes.
    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(logs.contains("serving"), "{logs}");
    assert!(
        !logs.contains('\u{1b}'),
        "ANSI codes in a redirected log:\n{logs}"
    );
}

#[test]
fn doctor_asks_each_configured_remote_and_names_the_one_that_does_not_answer() {
    let (tmp, repo, home) = newcomer_repo("py-rating-average-empty");
    let bare = tmp.path().join("origin.git");
    support::git_in(tmp.path(), &home, &["init", "-q", "--bare", "origin.git"]);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/app.git", closed.local_addr().unwrap());
    drop(closed); // nothing listens there any more: the connection is refused
    let config = tmp.path().join("sentry-repro.toml");
    std::fs::write(
        &config,
        format!(
            "client_secret = \"s\"\n\
             [[project]]\nslug = \"up\"\nrepo = {:?}\nremote = {:?}\n\
             [[project]]\nslug = \"down\"\nrepo = {:?}\nremote = {:?}\n",
            repo.display().to_string(),
            bare.display().to_string(),
            repo.display().to_string(),
            dead
        ),
    )
    .unwrap();
    let out = newcomer_bin(&home)
        .args(["doctor", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("ok      remote {}: reachable", bare.display())),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("FAIL    remote {dead}: `git ls-remote` failed")),
        "{stdout}"
    );
}
