//! Go: a `_test.go` run with `go test`, built by the first rung of this ladder that fits.
//!
//! 1. *Call replay* (`call.rs`): the error quotes the input a parser rejected
//!    (`strconv.ParseFloat: parsing "5,5"`) and a one-string function that calls that parser is on
//!    (or called from) the crashing stack.
//! 2. *Request replay* (`request.rs`): the event has a request: the handler on the stack is called
//!    directly through `net/http/httptest` (or the app's routes on a fresh ServeMux, or a
//!    zero-argument router constructor).
//! 3. *Scaffold*: a test tied to the crashing function (referenced, so a rename breaks it).
//! 4. *Boilerplate*: no frame maps to a Go file of this repository.
//!
//! Why this order: sentry-go events carry no vars, so only an input the error quotes or the
//! request can be replayed exactly. The crash site is the innermost frame of the repository's Go
//! module (`frames.rs`); sources are read with regexes and brace matching (`source.rs`): enough to
//! see a function's shape without a Go parser.
//!
//! - Honesty: a replay fails only with the reported failure (same panic value, the reported error
//!   text, or a 5xx); anything else prints `SENTRY-REPRO: OTHER FAILURE`, which the gate refuses.
//!   A receiver is built only by the package's own zero-argument constructor or as a zero value
//!   whose touched fields are plain values (`values.rs`).
//! - Placement (`project.rs`): `repro/sentry_<id>_test.go` (package `repro`, importing the app
//!   package) when everything the test touches is exported; otherwise the package's own folder
//!   (`<pkg>/sentry_<id>_test.go`, same package) because Go gives unexported access only there;
//!   that folder is then the one extra prefix the commit may write to.
//! - Parts: `project` (modules, folders, placement), `frames` (event frames → files, function
//!   names), `source` (declarations, struct fields), `values` (quoted inputs, receivers), `call`,
//!   `request`, `render` (the template context).

mod call;
mod frames;
mod project;
mod render;
mod request;
mod source;
mod values;

pub use request::{body_text, replayable_headers, url_path};

use anyhow::Result;

use super::{GenInput, GenOutput, Generator};
use crate::alert::{Alert, Frame};
use crate::contract::{CrashSite, Strategy};
use crate::git::NewFile;
use crate::lang::EventHeader;
use frames::Stack;
use render::Ctx;

pub struct Go;

/// What a rung of the ladder decided.
struct Plan {
    strategy: Strategy,
    template: &'static str,
    /// Folder the test lives in, relative to the repository root.
    test_dir: String,
    ctx: Ctx,
    reasons: Vec<String>,
}

/// The reported panic value or message: a replayed failure must be this one.
fn reported(alert: &Alert) -> String {
    alert
        .exception_value()
        .or(alert.message.as_deref())
        .unwrap_or("")
        .to_string()
}

impl Generator for Go {
    fn language(&self) -> &'static str {
        "go"
    }

    fn generate(&self, input: &GenInput) -> Result<GenOutput> {
        let stack = frames::locate(input.alert, input.snap);
        let sfx = project::test_suffix(input.ident);
        let mut base = Ctx {
            event: EventHeader::new(input.alert, input.ident, "panic"),
            sfx: sfx.clone(),
            package: "repro".into(),
            ..Default::default()
        };
        let crash = stack.crash.as_ref().map(|(f, path)| {
            base.event.crash_function = f.function.clone().unwrap_or_default();
            base.event.crash_file = path.clone();
            base.event.crash_line = f.lineno.map(|l| l.to_string()).unwrap_or_default();
            CrashSite {
                file: path.clone(),
                function: f.function.clone(),
                line: f.lineno,
            }
        });
        let mut plan = ladder(input, &stack, base);
        plan.ctx.event.reasons = plan.reasons.clone();
        let content = render::render_test(plan.template, &plan.ctx)?;
        let placed =
            project::placement(stack.module.as_ref(), input.repro_dir, &plan.test_dir, &sfx);
        Ok(GenOutput {
            language: "go",
            framework: "go".into(),
            strategy: plan.strategy,
            files: vec![NewFile {
                path: placed.path.clone(),
                content,
            }],
            test_files: vec![placed.path],
            test_command: placed.test_command,
            suite_command: Some(placed.suite_command),
            crash,
            reasons: plan.reasons,
            extra_prefixes: placed.extra_prefixes,
        })
    }
}

/// The rungs, strongest first; each returns its plan.
fn ladder(input: &GenInput, stack: &Stack, base: Ctx) -> Plan {
    // 4. Boilerplate: nothing of the stack is in this repository.
    let Some((f, path)) = &stack.crash else {
        return Plan {
            strategy: Strategy::Boilerplate,
            template: SCAFFOLD,
            test_dir: input.repro_dir.to_string(),
            ctx: base,
            reasons: vec!["no frame maps to a Go file of this repository".into()],
        };
    };
    // 1. Call replay: the error quotes its input and a function on (or called from) the stack
    // parses it.
    if let Some(plan) = call::replay(input, stack, &base) {
        return plan;
    }
    // 2. Request replay: a handler on the stack or the app's router takes the event's request.
    let dir = path.rsplit_once('/').map(|x| x.0).unwrap_or("").to_string();
    if let Some(plan) = request::replay(input, stack, &dir, &base) {
        return plan;
    }
    // 3. Scaffold tied to the crashing function.
    scaffold(input, stack, f, path, &dir, base)
}

const SCAFFOLD: &str = "go/scaffold_test.go.tera";

/// Rung 3: a scaffold that references the crashing function, from `repro/` when it is exported
/// from a library package, else from the function's own package.
fn scaffold(
    input: &GenInput,
    stack: &Stack,
    f: &Frame,
    path: &str,
    dir: &str,
    mut ctx: Ctx,
) -> Plan {
    let mut test_dir = input.repro_dir.to_string();
    let mut reasons = vec![if input.alert.request.is_some() {
        "the event has a request but no handler on the stack could be called honestly (handler-shaped function with a constructible receiver and known path values) and no zero-argument router constructor (func X() http.Handler) was found".into()
    } else {
        "Go events carry no local variables and this one has no request: the crashing call's inputs are unknown".into()
    }];
    let pkg = input.snap.read(path).and_then(|t| source::package_name(&t));
    let func = f.function.as_deref().and_then(frames::go_function);
    if let (Some(pkg), Some((recv, name))) = (pkg, func) {
        let public = pkg != "main"
            && source::exported(&name)
            && recv.as_deref().is_none_or(source::exported);
        let reference = match &recv {
            Some(r) if r.starts_with('*') => format!("(*{{P}}{}).{name}", &r[1..]),
            Some(r) => format!("{{P}}{r}.{name}"),
            None => format!("{{P}}{name}"),
        };
        if let Some(m) = stack.module.as_ref().filter(|_| public) {
            let rel = dir
                .strip_prefix(&m.dir)
                .unwrap_or(dir)
                .trim_start_matches('/');
            ctx.import_path = if rel.is_empty() {
                m.path.clone()
            } else {
                format!("{}/{rel}", m.path)
            };
            ctx.import_name = pkg.clone();
            ctx.reference = reference.replace("{P}", &format!("{pkg}."));
        } else {
            test_dir = dir.to_string();
            ctx.package = pkg;
            ctx.reference = reference.replace("{P}", "");
            reasons
                .push("the crashing function is unexported: the test lives in its package".into());
        }
    }
    Plan {
        strategy: Strategy::Scaffold,
        template: SCAFFOLD,
        test_dir,
        ctx,
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::call::*;
    use super::frames::*;
    use super::project::*;
    use super::request::*;
    use super::source::*;
    use super::values::*;
    use super::*;

    #[test]
    fn functions() {
        assert_eq!(
            go_function("handleSplit"),
            Some((None, "handleSplit".into()))
        );
        assert_eq!(
            go_function("(*Server).total.func1"),
            Some((Some("*Server".into()), "total".into()))
        );
        assert_eq!(
            go_function("Ledger.Sum"),
            Some((Some("Ledger".into()), "Sum".into()))
        );
        assert_eq!(
            go_function("NewRouter.func2.1"),
            Some((None, "NewRouter".into()))
        );
        assert_eq!(go_function("a;b"), None);
    }

    #[test]
    fn urls_and_headers() {
        assert_eq!(url_path("http://h:1/split?x=1"), "/split");
        assert_eq!(url_path("split"), "/split");
        let h = replayable_headers(&[
            ("Cookie".into(), "s".into()),
            ("User-Agent".into(), "x".into()),
            ("Authorization".into(), "t".into()),
        ]);
        assert_eq!(h, vec![("User-Agent".to_string(), "x".to_string())]);
    }

    #[test]
    fn servemux_patterns() {
        let v = |p: &str, u: &str| match_pattern(p, u);
        assert_eq!(
            v("GET /bills/{id}/guests/{n}", "/bills/b42/guests/4"),
            Some(vec![("id".into(), "b42".into()), ("n".into(), "4".into())])
        );
        assert_eq!(v("/split", "/split"), Some(vec![]));
        assert_eq!(v("/split", "/other"), None);
        assert_eq!(v("/static/", "/static/a/b.css"), Some(vec![]));
        assert_eq!(
            v("example.com/files/{p...}", "/files/a/b"),
            Some(vec![("p".into(), "a/b".into())])
        );
        assert_eq!(v("/{$}", "/"), Some(vec![]));
        assert_eq!(v("/bills/{id}", "/bills/"), None);
    }

    #[test]
    fn declarations_and_handler_shapes() {
        let src = "package x\n\nfunc (s *Server) handleX(w http.ResponseWriter, r *http.Request) {\n\tif s.n > 0 { w.Write([]byte(\"}\")) }\n}\n\nfunc mk() http.HandlerFunc {\n\treturn nil\n}\n";
        let d = decls_of_text(src);
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].recv, Some(("Server".into(), true)));
        assert!(handler_params(&d[0].params));
        assert!(d[0].body.contains("s.n > 0"));
        assert_eq!(d[1].results, "http.HandlerFunc");
        assert!(handler_params("http.ResponseWriter, *http.Request"));
        assert!(!handler_params(
            "w http.ResponseWriter, r *http.Request, id int"
        ));
    }

    #[test]
    fn quoted_inputs() {
        assert_eq!(
            quoted_input("line 2: parse rate: strconv.ParseFloat: parsing \"5,5\": invalid syntax"),
            Some(("strconv.ParseFloat(".into(), "5,5".into()))
        );
        assert_eq!(
            quoted_input("strconv.Atoi: parsing \"a\\\"b\\x01\": invalid syntax"),
            Some(("strconv.Atoi(".into(), "a\"b\u{1}".into()))
        );
        assert_eq!(
            quoted_input("load: parsing time \"2024-13-01\": month out of range"),
            Some(("time.Parse".into(), "2024-13-01".into()))
        );
        assert_eq!(
            quoted_input("webhook: parse \"http://[::1\": missing ']' in host"),
            Some(("url.Parse".into(), "http://[::1".into()))
        );
        assert_eq!(quoted_input("runtime error: integer divide by zero"), None);
    }

    /// A repository with these files committed, for functions that read a Snapshot.
    use crate::repo::with_repo;

    const COUNTER: &str = "package main\n\nimport (\n\t\"net/http\"\n\t\"sync\"\n)\n\ntype counter struct {\n\tmu    sync.Mutex\n\tviews map[string]int\n}\n\nfunc (c *counter) handleHit(w http.ResponseWriter, r *http.Request) {\n\tc.views[r.URL.Query().Get(\"page\")]++\n}\n";

    #[test]
    fn zero_receiver_only_when_the_app_builds_it() {
        let gomod = ("go.mod", "module example.com/hits\n\ngo 1.25\n");
        let main_zero = "package main\n\nfunc main() {\n\tc := &counter{}\n\thttp.HandleFunc(\"/hit\", c.handleHit)\n}\n";
        with_repo(
            &[gomod, ("counter.go", COUNTER), ("main.go", main_zero)],
            |snap| {
                let decls = package_decls(snap, "");
                let m = decls.iter().find(|d| d.name == "handleHit").unwrap();
                assert_eq!(
                    receiver_expr(snap, "", &decls, m).as_deref(),
                    Some("(&counter{})")
                );
            },
        );
        // Built with field values (or only in a comment): a nil map is not what production serves.
        let main_filled = "package main\n\nfunc main() {\n\t// c := &counter{}\n\tc := &counter{views: load()}\n\thttp.HandleFunc(\"/hit\", c.handleHit)\n}\n";
        with_repo(
            &[gomod, ("counter.go", COUNTER), ("main.go", main_filled)],
            |snap| {
                let decls = package_decls(snap, "");
                let m = decls.iter().find(|d| d.name == "handleHit").unwrap();
                assert_eq!(receiver_expr(snap, "", &decls, m), None);
            },
        );
        // Another package builds it qualified.
        let api = COUNTER
            .replace("package main", "package api")
            .replace("counter", "Counter");
        // Built zero, then given its fields: production's receiver is not the zero value.
        let main_set = "package main\n\nfunc main() {\n\tc := &counter{}\n\tc.views = load()\n\thttp.HandleFunc(\"/hit\", c.handleHit)\n}\n";
        with_repo(
            &[gomod, ("counter.go", COUNTER), ("main.go", main_set)],
            |snap| {
                assert!(!app_builds_zero(snap, "", "counter"));
            },
        );
        let main_arg = "package main\n\nfunc main() {\n\tserve(&counter{})\n}\n";
        with_repo(
            &[gomod, ("counter.go", COUNTER), ("main.go", main_arg)],
            |snap| {
                assert!(app_builds_zero(snap, "", "counter"));
            },
        );
        let main_q = "package main\n\nfunc main() {\n\tvar c = new(api.Counter)\n\t_ = c\n}\n";
        with_repo(
            &[
                gomod,
                ("internal/api/api.go", &api),
                ("cmd/hits/main.go", main_q),
            ],
            |snap| {
                assert!(app_builds_zero(snap, "internal/api", "Counter"));
                assert!(!app_builds_zero(snap, "internal/api", "Count"));
            },
        );
    }

    #[test]
    fn plan_call_method_with_a_constructor() {
        let gomod = ("go.mod", "module example.com/inv\n\ngo 1.25\n");
        let period = "package period\n\nimport \"time\"\n\ntype Parser struct {\n\tLayout string\n\tLoc *time.Location\n}\n\nfunc NewParser() *Parser {\n\treturn &Parser{Layout: \"2006-01\", Loc: time.UTC}\n}\n\nfunc (p *Parser) Month(s string) (time.Time, error) {\n\treturn time.ParseInLocation(p.Layout, s, p.Loc)\n}\n";
        let main = "package main\n\nfunc run(xs []string) {\n\tp := period.NewParser()\n\tfor _, x := range xs {\n\t\tif _, err := p.Month(x); err != nil {\n\t\t\tsentry.CaptureException(err)\n\t\t}\n\t}\n}\n";
        with_repo(
            &[
                gomod,
                ("internal/billing/period/period.go", period),
                ("cmd/inv/main.go", main),
            ],
            |snap| {
                let module = root_module(snap).unwrap();
                let frame = Frame {
                    function: Some("run".into()),
                    module: Some("example.com/inv/cmd/inv".into()),
                    ..Default::default()
                };
                let stack = vec![(&frame, "cmd/inv/main.go".to_string())];
                let t = plan_call(snap, &module, &stack, "time.Parse").unwrap();
                assert_eq!(t.name, "NewParser().Month");
                assert_eq!(t.dir, "internal/billing/period");
                assert_eq!(t.lhs, "_, err");
                // Without a constructor the receiver's *time.Location would be nil: no call.
                let bare = period.replace("func NewParser() *Parser {\n\treturn &Parser{Layout: \"2006-01\", Loc: time.UTC}\n}\n", "");
                with_repo(
                    &[
                        gomod,
                        ("internal/billing/period/period.go", &bare),
                        ("cmd/inv/main.go", main),
                    ],
                    |snap| {
                        let module = root_module(snap).unwrap();
                        assert!(plan_call(snap, &module, &stack, "time.Parse").is_none());
                    },
                );
            },
        );
    }
}
