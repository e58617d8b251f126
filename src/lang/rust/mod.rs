//! Rust: an integration test in the crashing crate's `tests/` folder, run with `cargo test --test`,
//! built by the first rung of this ladder that fits.
//!
//! 1. *Call replay* (`call.rs`): the innermost public function of the crate on the stack (free,
//!    associated, or a method of an inherent impl) whose parameters are all strings, integers,
//!    bools, lists of strings or integers, or `Option`s of strings and integers (type parameters a
//!    `&str` satisfies are instantiated with `&str`) is called with every combination (capped) of
//!    the values the event reveals (`values.rs`), under `catch_unwind`.
//! 2. *Scaffold*: a test that `use`s the crashing (or nearest public) function, so a rename breaks
//!    it, and fails with the NOT YET REPRODUCED marker.
//! 3. *Boilerplate*: no frame maps to a crate of this repository.
//!
//! Why: events from the `sentry` crate carry no vars and no source context: a panic arrives as
//! type `panic` with its message as value, frames carry function paths
//! (`stockval::valuation::value_inventory`) and basename filenames, and the SDK marks its own panic
//! handler and libc frames `in_app`. So the crash site is found from the function path
//! (`frames.rs`), and inputs only from what the event reveals.
//!
//! - Honesty: the replay fails only on the reported panic message raised in a crate file of the
//!   reported stack, so it passes after a correct fix. A method's receiver is built honestly or not
//!   at all: `Default`, a public `new()`, a public constructor of revealed values (strings tried
//!   with the empty text first: the emptiest value, like `Default`), or a literal of an all-public
//!   struct; when no candidate builds it, the test fails as not reproduced.
//! - Values: quoted parts of the panic message (`panic!("unknown sku {sku:?}")`, the sliced string
//!   of a slicing panic), value-like words, numbers (len/index, ±1, and a small integer range),
//!   breadcrumb data and quoted parts of breadcrumb messages (apps log what they are about to
//!   process), `extra`, custom tags and contexts, and the request's query, path and body (JSON or
//!   form). A string parameter needs a quoted or data value (words of a sentence or rustc's own
//!   quoting do not count); integers alone are searched only for index/arithmetic panics or when
//!   the message names numbers, and for an add/multiply/shift overflow only when the event names a
//!   number beyond the small range.
//! - Calls: a type's conversion from one string (`FromStr`, `From<&str>`, `TryFrom<&str>`,
//!   `From<String>`, `TryFrom<String>`) is called with the trait named. Inline modules
//!   (`pub mod tax { … }` inside `billing.rs`) are module path segments, not types. A
//!   `pub async fn` is called through a `block_on` of the test (a current-thread tokio runtime when
//!   the crate has tokio's `rt`). A binary's module that stands alone is compiled into the test
//!   (`#[path = "../src/m.rs"] mod m;`). Impl blocks are read by their braces alone (string, char
//!   and comment braces skipped; `source.rs`).
//! - Placement (`project.rs`): `tests/sentry_<id>.rs` of the crate. Cargo discovers it with no
//!   manifest change, so the generated commit never edits the user's `Cargo.toml` (the file most
//!   likely to conflict). A crate with `autotests = false` gets the same file plus a `[[test]]`
//!   entry appended to its manifest.

mod call;
mod frames;
mod project;
mod render;
mod source;
mod values;

use call::*;
use frames::*;
use project::*;
use render::*;
use source::*;
use values::*;

use crate::lang::EventHeader;
use anyhow::Result;

use super::{GenInput, GenOutput, Generator};
use crate::contract::{CrashSite, Strategy};
use crate::git::NewFile;

pub struct Rust;

impl Generator for Rust {
    fn language(&self) -> &'static str {
        "rust"
    }

    fn generate(&self, input: &GenInput) -> Result<GenOutput> {
        let alert = input.alert;
        let snap = input.snap;
        let crates = crates(snap);
        let frames = alert.primary_frames();
        // Innermost first.
        let mapped: Vec<RustFrame> = frames
            .iter()
            .rev()
            .filter_map(|f| map_frame(f, &crates, snap))
            .collect();
        let sfx = crate::render::ident_suffix(input.ident);
        let test_name = format!("sentry_{sfx}");
        let target_crate = mapped
            .first()
            .map(|m| &crates[m.krate])
            .or_else(|| crates.iter().find(|c| c.lib_name.is_some()))
            .or(crates.first());
        let pvalue = alert.exception_value().unwrap_or("").to_string();
        let mut reasons = Vec::new();
        let mut ctx = Ctx {
            event: EventHeader::new(alert, input.ident, "panic"),
            fn_name: format!("sentry_{sfx}_does_not_panic"),
            use_path: vec![],
            extern_crate: String::new(),
            callee: String::new(),
            callee_type: String::new(),
            args: vec![],
            strs: vec![],
            ints: vec![],
            lists: vec![],
            int_lists: vec![],
            crash_files: vec![],
            subject: String::new(),
            calls: 0,
            all_args: vec![],
            recv: None,
            conv_trait: String::new(),
            mod_include: String::new(),
            is_async: false,
            tokio: false,
        };
        let mut strategy = Strategy::Boilerplate;
        let mut crash = None;
        let mut template = "rust/scaffold.rs.tera";
        if let Some(inner) = mapped.first() {
            let c = &crates[inner.krate];
            crash = Some(CrashSite {
                file: inner.path.clone(),
                function: inner.frame.function.clone(),
                line: inner.frame.lineno,
            });
            ctx.event.crash_function = inner.frame.function.clone().unwrap_or_default();
            ctx.event.crash_file = inner.path.clone();
            ctx.event.crash_line = inner
                .frame
                .lineno
                .map(|l| l.to_string())
                .unwrap_or_default();
            // The stack from just inside the crash site outwards: the SDK's panic-hook frames are noise.
            if let Some(pos) = frames
                .iter()
                .rev()
                .position(|f| std::ptr::eq(f, inner.frame))
            {
                ctx.event.stack = ctx
                    .event
                    .stack
                    .split_off(pos.saturating_sub(3).min(ctx.event.stack.len()));
            }
            strategy = Strategy::Scaffold;
            // Files the panic may be raised in: every file of this crate on the stack (a release
            // build may inline the innermost function into its caller).
            let mut files: Vec<String> = Vec::new();
            for m in mapped.iter().filter(|m| m.krate == inner.krate) {
                push_unique(
                    &mut files,
                    m.path.rsplit('/').next().unwrap_or_default().to_string(),
                );
            }
            ctx.crash_files = files;
            let rev = revealed_values(alert, &pvalue);
            // Call replay: the innermost public free function of this crate on the stack whose
            // parameters can all be rebuilt from what the event reveals.
            let mut chosen = None;
            let mut chosen_async = false;
            let mut chosen_include: Option<String> = None;
            let mut why_not = Vec::new();
            for m in mapped.iter().filter(|m| m.krate == inner.krate) {
                // A module of a binary (no library reaches it) is compiled into the test itself
                // with `#[path = "../src/m.rs"] mod m;` when its file stands alone.
                let (path, include) = match public_path(m, c, snap) {
                    Some(p) => (p, None),
                    None => match included_module(m, c, snap) {
                        Some((rel, p)) => (p, Some(rel)),
                        None => continue,
                    },
                };
                // A free function, or an associated function or method of an inherent impl whose
                // name is declared once there (so the parsed signature is its own).
                let fn_name = m.item.last().cloned().unwrap_or_default();
                // The module's own text: its file, or its block when it is an inline module. In a
                // module compiled into the test, `pub(crate)` and `pub(super)` items are reachable
                // from the test's root like `pub` ones.
                let mut text = module_text(c, snap, &m.modules)
                    .or_else(|| snap.read(&m.path))
                    .unwrap_or_default();
                if include.is_some() {
                    text = text
                        .replace("pub(crate) ", "pub ")
                        .replace("pub(super) ", "pub ");
                }
                let assoc = m.item.len() == 2;
                let shown = if assoc {
                    format!("{}::{fn_name}", path.join("::"))
                } else {
                    path.join("::")
                };
                // `<krate::Money as core::str::traits::FromStr>::from_str`, `<krate::Plan as
                // core::convert::From<&str>>::from`…: the idiomatic conversions from a string,
                // called with the trait named (`<Plan as From<&str>>::from(s)`) and the revealed
                // strings.
                let conv = assoc
                    .then(|| str_conversion(m.frame, &text, &m.item[0]))
                    .flatten();
                if let Some(conv) = conv.filter(|c| c.method == fn_name) {
                    let args = vec![Arg {
                        kind: conv.kind,
                        ty: "",
                        var: "a0".into(),
                        expr: arg_expr(conv.kind, "a0"),
                        recv: false,
                    }];
                    match plan_call(&args, &rev, &pvalue, 50_000) {
                        Some(plan) => {
                            ctx.conv_trait = conv.trait_path.to_string();
                            chosen_include = include.clone();
                            chosen = Some((m, path, args.clone(), None, args, plan));
                            break;
                        }
                        None => {
                            why_not.push(format!(
                                "the event reveals no string for {}'s {}::{}",
                                path.join("::"),
                                conv.trait_path,
                                conv.method
                            ));
                            continue;
                        }
                    }
                }
                let scope = if assoc {
                    impl_blocks(&text, &m.item[0])
                } else {
                    text.clone()
                };
                if m.item.len() > 2
                    || assoc
                        && (!is_rust_ident(&fn_name)
                            || regex::Regex::new(&format!(r"\bfn\s+{}\b", regex::escape(&fn_name)))
                                .map(|r| r.find_iter(&scope).count() != 1)
                                .unwrap_or(true))
                {
                    why_not.push(format!(
                        "{shown} is not a public function of an inherent impl (trait methods and closures of nested items are not called directly)"
                    ));
                    continue;
                }
                let sig = fn_sig(&scope, &fn_name);
                if sig.is_none() {
                    why_not.push(format!(
                        "{shown} is not public (an integration test cannot call it)"
                    ));
                    continue;
                }
                let Some(args) = sig.as_ref().and_then(|s| sig_args(s, 0)) else {
                    why_not.push(format!(
                        "{} takes parameters other than strings, integers, bools and lists of strings (or type parameters a &str does not satisfy)",
                        path.join("::")
                    ));
                    continue;
                };
                if sig.as_ref().is_some_and(|s| s.receiver()) {
                    // A method: the receiver is built honestly or not at all.
                    let ty = &m.item[0];
                    // An impl away from its type: the type's own file has its derives, fields
                    // and maybe more constructors.
                    let type_text = m
                        .type_modules
                        .as_ref()
                        .and_then(|t| module_text(c, snap, t));
                    let recvs = match &type_text {
                        Some(tt) => receivers(tt, &format!("{scope}\n{}", impl_blocks(tt, ty)), ty),
                        None => receivers(&text, &scope, ty),
                    };
                    if recvs.is_empty() {
                        why_not.push(format!(
                            "{shown} takes self, and {ty} has no Default, no public new(), no public constructor taking strings or integers and private fields"
                        ));
                        continue;
                    }
                    let mut found = None;
                    for r in recvs {
                        let mut all = r.args.clone();
                        all.extend(args.iter().cloned());
                        if let Some(plan) = plan_call(&all, &rev, &pvalue, 50_000) {
                            found = Some((r, all, plan));
                            break;
                        }
                    }
                    match found {
                        Some((r, all, plan)) => {
                            chosen_async = sig.as_ref().is_some_and(|s| s.is_async);
                            chosen_include = include.clone();
                            chosen = Some((m, path, args, Some(r), all, plan));
                            break;
                        }
                        None => {
                            why_not.push(format!(
                                "the event reveals no value for the parameters of {shown} and of the constructors of {ty}"
                            ));
                            continue;
                        }
                    }
                }
                match plan_call(&args, &rev, &pvalue, 50_000) {
                    Some(plan) => {
                        let all = args.clone();
                        chosen_async = sig.as_ref().is_some_and(|s| s.is_async);
                        chosen_include = include.clone();
                        chosen = Some((m, path, args, None, all, plan));
                        break;
                    }
                    None => why_not.push(format!(
                        "the event reveals no value for the parameters of {}",
                        path.join("::")
                    )),
                }
            }
            if let Some((m, path, args, recv, all_args, (strs, ints, lists, int_lists, calls))) =
                chosen
            {
                strategy = Strategy::CallReplay;
                template = "rust/call_replay.rs.tera";
                ctx.use_path = path.clone();
                if let Some(rel) = &chosen_include {
                    ctx.mod_include = rel.clone();
                    reasons.push(format!(
                        "{} is a module of a binary, which an integration test cannot import: the test compiles its file in with #[path = \"{rel}\"]",
                        m.path
                    ));
                }
                if m.item.len() == 2 {
                    ctx.callee_type = path.last().cloned().unwrap_or_default();
                    ctx.callee = m.item[1].clone();
                } else {
                    ctx.callee = path.last().cloned().unwrap_or_default();
                }
                ctx.subject = sliced_string(&pvalue).unwrap_or_default().to_string();
                if chosen_async {
                    // An `async fn` (frame `krate::m::f::{{closure}}`): the test runs the future to
                    // completion, on a tokio runtime when the crate has one.
                    ctx.is_async = true;
                    ctx.tokio = tokio_runtime(snap, c);
                    reasons.push(if ctx.tokio {
                        "the function is async: each call runs on a current-thread tokio runtime (the crate depends on tokio with a runtime feature)".to_string()
                    } else {
                        "the function is async: each call runs on a minimal std executor (the crate has no tokio runtime feature; a future that needs a reactor panics differently and is not counted)".to_string()
                    });
                }
                if !std::ptr::eq(m.frame, inner.frame) {
                    reasons.push(format!(
                        "the crashing function is not callable with rebuilt inputs; {} (a caller on the stack) is",
                        path.join("::")
                    ));
                }
                let shown = if ctx.callee_type.is_empty() {
                    path.join("::")
                } else if !ctx.conv_trait.is_empty() {
                    format!(
                        "<{} as {}>::{}",
                        path.join("::"),
                        ctx.conv_trait,
                        ctx.callee
                    )
                } else {
                    format!("{}::{}", path.join("::"), ctx.callee)
                };
                reasons.push(format!(
                    "{} is called with the values the event reveals (panic message, breadcrumbs, extra: {} strings, {} integers, {} lists; {} calls); the test fails only on the reported panic message raised in {}",
                    shown,
                    strs.len(),
                    ints.len(),
                    lists.len(),
                    calls,
                    ctx.crash_files.join(", ")
                ));
                ctx.strs = strs;
                ctx.ints = ints.iter().map(|n| n.to_string()).collect();
                ctx.lists = lists;
                ctx.int_lists = int_lists
                    .iter()
                    .map(|l| l.iter().map(|n| n.to_string()).collect())
                    .collect();
                ctx.calls = calls;
                ctx.args = args;
                ctx.all_args = all_args;
                if let Some(r) = &recv {
                    let built = if r.wrap == "literal" {
                        format!(
                            "a {} {{ {} }} literal",
                            ctx.callee_type,
                            r.fields.join(", ")
                        )
                    } else {
                        format!(
                            "{}::{}({})",
                            ctx.callee_type,
                            r.ctor,
                            if r.args.is_empty() {
                                ""
                            } else if r.args.iter().any(|a| a.kind.contains("str")) {
                                "the empty text and revealed values"
                            } else {
                                "revealed values"
                            }
                        )
                    };
                    reasons.push(format!(
                        "the receiver is built with {}{}",
                        built,
                        match r.wrap {
                            "result" => " (calls where it returns Err are skipped; the test fails as not reproduced when every call is)",
                            "option" => " (calls where it returns None are skipped; the test fails as not reproduced when every call is)",
                            _ => "",
                        }
                    ));
                }
                ctx.recv = recv;
            } else {
                reasons.push("the panic message and breadcrumbs do not carry the crashing function's inputs, and Rust events have no local variables".into());
                reasons.extend(why_not.into_iter().take(3));
                // Nearest public function on the stack for the `use` (a rename breaks the test).
                if let Some((m, p)) = mapped
                    .iter()
                    .filter(|m| m.krate == inner.krate)
                    .find_map(|m| public_path(m, c, snap).map(|p| (m, p)))
                {
                    if !std::ptr::eq(m.frame, inner.frame) {
                        reasons.push(format!(
                            "the test imports {}, the nearest public caller",
                            p.join("::")
                        ));
                    }
                    ctx.use_path = p;
                } else {
                    reasons
                        .push("no frame of the stack is a public item of the library crate".into());
                }
            }
        } else {
            reasons.push("no frame's function path names a crate of this repository".into());
        }
        if let Some(first) = ctx.use_path.first() {
            ctx.extern_crate = first.clone();
        }
        ctx.event.reasons = reasons.clone();
        let content = crate::render::render(template, &ctx)?;

        let (dir, member) = target_crate
            .map(|c| (c.dir.clone(), c.workspace_member))
            .unwrap_or_default();
        let tests_dir = if dir.is_empty() {
            "tests".to_string()
        } else {
            format!("{dir}/tests")
        };
        let path = format!("{tests_dir}/{test_name}.rs");
        let mut files = vec![NewFile {
            path: path.clone(),
            content,
        }];
        let mut extra_prefixes = vec![tests_dir];
        if let Some(c) = target_crate.filter(|c| !c.autotests) {
            // The crate turned test discovery off: declare the target in its manifest.
            let manifest = c.join("Cargo.toml");
            if let Some(text) = snap.read(&manifest) {
                files.push(NewFile {
                    path: manifest.clone(),
                    content: format!(
                        "{}\n[[test]]\nname = \"{test_name}\"\npath = \"tests/{test_name}.rs\"\n",
                        text.trim_end()
                    ),
                });
                extra_prefixes.push(manifest);
                reasons.push(
                    "the crate sets autotests = false: a [[test]] entry is added to its Cargo.toml"
                        .into(),
                );
            }
        }
        let pkg = target_crate
            .filter(|_| member)
            .map(|c| format!(" -p {}", c.package))
            .unwrap_or_default();
        Ok(GenOutput {
            language: "rust",
            framework: "cargo".into(),
            strategy,
            files,
            test_files: vec![path],
            test_command: format!("cargo test{pkg} --test {test_name}"),
            suite_command: Some(if member {
                "cargo test --workspace".into()
            } else {
                "cargo test".into()
            }),
            crash,
            reasons,
            extra_prefixes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{Alert, Frame};

    #[test]
    fn cleans_paths() {
        assert_eq!(
            clean_function_path("shortlog::render::render_notes::{{closure}}"),
            ["shortlog", "render", "render_notes"]
        );
        assert_eq!(
            clean_function_path("<a::Foo as core::fmt::Display>::fmt"),
            ["a", "Foo", "fmt"]
        );
        // An inherent impl in another module than its type keeps the type's name.
        assert_eq!(
            clean_function_path("a::b::<impl a::X>::f"),
            ["a", "b", "X", "f"]
        );
        assert_eq!(
            clean_function_path("a::b::<impl a::c::X<T>>::f::{{closure}}"),
            ["a", "b", "X", "f"]
        );
        assert_eq!(
            impl_self_type(
                "ratecard::tariff::pricing::<impl ratecard::tariff::Tariff>::price_line"
            ),
            Some(vec!["ratecard".into(), "tariff".into(), "Tariff".into()])
        );
        assert_eq!(impl_self_type("a::b::f"), None);
    }

    #[test]
    fn from_str_impls() {
        let frame = |f: &str| Frame {
            function: Some(f.into()),
            ..Default::default()
        };
        let text = "use std::str::FromStr;\n\nimpl FromStr for Money {\n    type Err = E;\n}\n";
        let f = frame("<stmtsum::money::Money as core::str::traits::FromStr>::from_str");
        let conv = str_conversion(&f, text, "Money").unwrap();
        assert_eq!(conv.trait_path, "std::str::FromStr");
        assert_eq!((conv.method, conv.kind), ("from_str", "str"));
        assert!(str_conversion(&f, text, "Mon").is_none());
        let other = frame("<stmtsum::money::Money as core::convert::TryFrom<&str>>::try_from");
        assert!(str_conversion(&other, text, "Money").is_none());
        let inherent = frame("stmtsum::money::Money::from_str");
        assert!(str_conversion(&inherent, text, "Money").is_none());
    }

    /// `From<&str>`, `TryFrom<&str>`, `From<String>` and `TryFrom<String>` impls are called with
    /// the trait named; the frame's trait must be implemented in the text for that type.
    #[test]
    fn string_conversion_impls() {
        let frame = |f: &str| Frame {
            function: Some(f.into()),
            ..Default::default()
        };
        let text = "impl From<&str> for Plan {\n    fn from(code: &str) -> Plan { todo!() }\n}\n\
            impl<'a> core::convert::TryFrom<&'a str> for Tier {\n}\n\
            impl From<String> for Sku {\n}\n\
            impl TryFrom<std::string::String> for Code {\n}\n\
            impl From<u32> for Level {\n}\n";
        let from = frame("<plansync::plan::Plan as core::convert::From<&str>>::from");
        let c = str_conversion(&from, text, "Plan").unwrap();
        assert_eq!(
            (c.trait_path, c.method, c.kind),
            ("From<&str>", "from", "str")
        );
        assert!(str_conversion(&from, text, "Sku").is_none());
        let try_from = frame("<x::Tier as core::convert::TryFrom<&str>>::try_from");
        let c = str_conversion(&try_from, text, "Tier").unwrap();
        assert_eq!((c.trait_path, c.kind), ("TryFrom<&str>", "str"));
        let owned = frame("<x::Sku as core::convert::From<alloc::string::String>>::from");
        let c = str_conversion(&owned, text, "Sku").unwrap();
        assert_eq!((c.trait_path, c.kind), ("From<String>", "string"));
        let try_owned =
            frame("<x::Code as core::convert::TryFrom<alloc::string::String>>::try_from");
        assert_eq!(
            str_conversion(&try_owned, text, "Code").map(|c| c.trait_path),
            Some("TryFrom<String>")
        );
        // Not from a string, or the method is not the trait's.
        let int = frame("<x::Level as core::convert::From<u32>>::from");
        assert!(str_conversion(&int, text, "Level").is_none());
        let wrong = frame("<x::Plan as core::convert::From<&str>>::into");
        assert!(str_conversion(&wrong, text, "Plan").is_none());
    }

    /// A repository with these files committed, for functions that read a Snapshot.
    use crate::repo::with_repo;

    /// `pub async fn` is a replayable signature (its future is run by the test); async
    /// constructors never build a receiver.
    #[test]
    fn async_fns() {
        let text = "pub async fn job_size(spec: &str) -> Size {\n    todo!()\n}\npub fn capped(s: Size) -> Size { s }\n";
        let sig = fn_sig(text, "job_size").unwrap();
        assert!(sig.is_async);
        assert_eq!(sig_args(&sig, 0).unwrap()[0].kind, "str");
        assert!(!fn_sig(text, "capped").unwrap().is_async);
        let src = "pub struct Conn { url: String }\nimpl Conn {\n    pub async fn connect(url: &str) -> Result<Self, E> { todo!() }\n    pub async fn get(&self, key: &str) -> u8 { 0 }\n}\n";
        assert!(receivers(src, &impl_blocks(src, "Conn"), "Conn").is_empty());
    }

    /// tokio with a runtime feature, in the crate's own manifest or through the workspace.
    #[test]
    fn tokio_runtime_features() {
        let check = |files: &[(&str, &str)], dir: &str| {
            let mut out = false;
            with_repo(files, |snap| {
                let c = crates(snap).into_iter().find(|c| c.dir == dir).unwrap();
                out = tokio_runtime(snap, &c);
            });
            out
        };
        let pkg = "[package]\nname = \"w\"\nversion = \"0.1.0\"\n";
        let lib = ("src/lib.rs", "");
        let with = |deps: &str| format!("{pkg}{deps}");
        let m =
            with("[dependencies]\ntokio = { version = \"1\", features = [\"rt\", \"macros\"] }\n");
        assert!(check(&[("Cargo.toml", &m), lib], ""));
        let m = with("[dev-dependencies]\ntokio = { version = \"1\", features = [\"full\"] }\n");
        assert!(check(&[("Cargo.toml", &m), lib], ""));
        // Default features of tokio have no runtime; no tokio at all.
        let m = with("[dependencies]\ntokio = \"1\"\n");
        assert!(!check(&[("Cargo.toml", &m), lib], ""));
        assert!(!check(&[("Cargo.toml", pkg), lib], ""));
        // `tokio = { workspace = true }` takes the workspace's features.
        let root = "[workspace]\nmembers = [\"crates/a\"]\n\n[workspace.dependencies]\ntokio = { version = \"1\", features = [\"rt-multi-thread\"] }\n";
        let member = "[package]\nname = \"a\"\nversion = \"0.1.0\"\n\n[dependencies]\ntokio = { workspace = true }\n";
        let files = [
            ("Cargo.toml", root),
            ("crates/a/Cargo.toml", member),
            ("crates/a/src/lib.rs", ""),
        ];
        assert!(check(&files, "crates/a"));
    }

    /// A module of a binary-only package is compiled into the test when its file stands alone
    /// (`super::` inside its own inline `mod tests` is fine); one that reaches other modules of
    /// the crate, or a private item, is not.
    #[test]
    fn binary_modules_compiled_into_the_test() {
        let quota = "pub(crate) fn quota_bytes(spec: &str) -> u64 {\n    0\n}\nfn hidden() {}\n\n#[cfg(test)]\nmod tests {\n    use super::*;\n}\n";
        let uses_crate = "use crate::units::MB;\npub fn size(s: &str) -> u64 {\n    MB\n}\n";
        let files = [
            (
                "Cargo.toml",
                "[package]\nname = \"quotactl\"\nversion = \"0.1.0\"\n",
            ),
            (
                "src/main.rs",
                "mod quota;\nmod sizes;\nmod units;\nfn main() {}\n",
            ),
            ("src/quota.rs", quota),
            ("src/sizes.rs", uses_crate),
            ("src/units.rs", "pub const MB: u64 = 1;\n"),
        ];
        with_repo(&files, |snap| {
            let cs = crates(snap);
            let frame = |f: &str, file: &str| Frame {
                function: Some(f.into()),
                filename: Some(file.into()),
                ..Default::default()
            };
            let f = frame("quotactl::quota::quota_bytes", "quota.rs");
            let rf = map_frame(&f, &cs, snap).unwrap();
            assert!(!rf.in_lib);
            assert!(public_path(&rf, &cs[0], snap).is_none());
            let (rel, path) = included_module(&rf, &cs[0], snap).unwrap();
            assert_eq!(rel, "../src/quota.rs");
            assert_eq!(path, ["quota", "quota_bytes"]);
            let f = frame("quotactl::quota::hidden", "quota.rs");
            let rf = map_frame(&f, &cs, snap).unwrap();
            assert!(included_module(&rf, &cs[0], snap).is_none());
            let f = frame("quotactl::sizes::size", "sizes.rs");
            let rf = map_frame(&f, &cs, snap).unwrap();
            assert!(included_module(&rf, &cs[0], snap).is_none());
        });
    }

    /// `pub mod tax { pub fn rate_for… }` inside `src/billing.rs`: the frame
    /// `vatbill::billing::tax::rate_for` maps to billing.rs with the inline module in its module
    /// path (before, `tax` was taken for a type and the function was never public); the public
    /// path goes through it, and the module's text is its block.
    #[test]
    fn inline_modules_are_module_path_segments() {
        let billing = "//! Billing.\n\npub mod tax {\n    pub mod eu {\n        pub fn rate_for(country: &str) -> u32 {\n            0\n        }\n    }\n    pub fn rate_for(country: &str) -> u32 {\n        let _ = \"{\";\n        1\n    }\n}\n\nmod rounding {\n    pub fn apply(x: u64) -> u64 {\n        x\n    }\n}\n\npub struct Tax;\n\nimpl Tax {\n    pub fn get(&self) -> u32 {\n        2\n    }\n}\n";
        let files = [
            (
                "Cargo.toml",
                "[package]\nname = \"vatbill\"\nversion = \"0.1.0\"\n",
            ),
            ("src/lib.rs", "pub mod billing;\n"),
            ("src/billing.rs", billing),
        ];
        with_repo(&files, |snap| {
            let cs = crates(snap);
            let frame = |f: &str| Frame {
                function: Some(f.into()),
                filename: Some("billing.rs".into()),
                ..Default::default()
            };
            let f = frame("vatbill::billing::tax::rate_for");
            let rf = map_frame(&f, &cs, snap).unwrap();
            assert_eq!(rf.path, "src/billing.rs");
            assert_eq!(rf.modules, ["billing", "tax"]);
            assert_eq!(rf.item, ["rate_for"]);
            assert_eq!(
                public_path(&rf, &cs[0], snap).unwrap(),
                ["vatbill", "billing", "tax", "rate_for"]
            );
            let text = module_text(&cs[0], snap, &rf.modules).unwrap();
            assert!(
                text.contains("let _ = \"{\";") && text.contains("pub mod eu"),
                "{text}"
            );
            assert!(!text.contains("mod rounding"), "{text}");
            // Nested inline modules.
            let f = frame("vatbill::billing::tax::eu::rate_for");
            let rf = map_frame(&f, &cs, snap).unwrap();
            assert_eq!(rf.modules, ["billing", "tax", "eu"]);
            assert_eq!(
                public_path(&rf, &cs[0], snap).unwrap(),
                ["vatbill", "billing", "tax", "eu", "rate_for"]
            );
            // A private inline module is not reachable from an integration test.
            let f = frame("vatbill::billing::rounding::apply");
            let rf = map_frame(&f, &cs, snap).unwrap();
            assert_eq!(rf.modules, ["billing", "rounding"]);
            assert!(public_path(&rf, &cs[0], snap).is_none());
            // A method of a type stays `[Type, method]`.
            let f = frame("vatbill::billing::Tax::get");
            let rf = map_frame(&f, &cs, snap).unwrap();
            assert_eq!(rf.modules, ["billing"]);
            assert_eq!(rf.item, ["Tax", "get"]);
        });
    }

    #[test]
    fn slicing_messages() {
        assert_eq!(
            sliced_string("end byte index 59 is not a char boundary; it is inside 'é' (bytes 58..60) of `ab`cd`"),
            Some("ab`cd")
        );
        assert_eq!(
            sliced_string("byte index 9 is out of range of `abc`"),
            Some("abc")
        );
        assert_eq!(
            sliced_string("begin <= end (4 <= 2) when slicing `abc`"),
            Some("abc")
        );
        assert_eq!(
            sliced_string("byte index 9 is out of range of `abc[...]`"),
            None
        );
        assert_eq!(
            sliced_string("called `Option::unwrap()` on a `None` value"),
            None
        );
    }

    fn alert_with(crumbs: serde_json::Value, extra: serde_json::Value) -> Alert {
        Alert::from_event(&serde_json::json!({
            "platform": "native",
            "breadcrumbs": {"values": crumbs},
            "extra": extra,
            "exception": {"values": [{"type": "panic", "value": "x"}]}
        }))
    }

    #[test]
    fn reveals_quoted_strings_numbers_breadcrumbs_and_extra() {
        let a = alert_with(
            serde_json::json!([
                {"category": "import", "message": "parsing row 3", "data": {"line": "B-7,2,450"}},
                {"message": "loading sku SKU-9 from 'north wing'"}
            ]),
            serde_json::json!({"batch": ["a", "b"], "qty": 12}),
        );
        let r = revealed_values(
            &a,
            "invalid duration \"1h30m\": invalid digit found in string",
        );
        assert_eq!(r.strings[0], "1h30m");
        for s in ["B-7,2,450", "north wing", "SKU-9", "12"] {
            assert!(r.strings.iter().any(|x| x == s), "{s}: {:?}", r.strings);
        }
        assert!(r.lists.contains(&vec!["a".to_string(), "b".to_string()]));
        assert!(r.ints.contains(&3) && r.ints.contains(&12) && r.ints.contains(&0));
        let r = revealed_values(&a, "index out of bounds: the len is 3 but the index is 3");
        assert!(r.ints.contains(&3) && r.ints.contains(&4));
        let bare = alert_with(serde_json::json!([]), serde_json::Value::Null);
        let unwrap =
            "called `Result::unwrap()` on an `Err` value: ParseIntError { kind: InvalidDigit }";
        assert_eq!(revealed_values(&bare, unwrap).quoted, 0);
        let oob = "index out of bounds: the len is 3 but the index is 3";
        assert_eq!(revealed_values(&bare, oob).quoted, 0);
        assert!(r.lists.iter().any(|l| l.len() == 3));
        // A slicing panic's string comes first, and every byte index of it is searched.
        let r = revealed_values(
            &alert_with(serde_json::json!([]), serde_json::Value::Null),
            "byte index 5 is not a char boundary; it is inside 'é' (bytes 4..6) of `Café au lait`",
        );
        assert_eq!(r.strings[0], "Café au lait");
        assert!((0..=14).all(|n| r.ints.contains(&n)));
    }

    #[test]
    fn reveals_request_path_query_and_body() {
        let ev = |data: serde_json::Value| {
            Alert::from_event(&serde_json::json!({
                "platform": "rust",
                "request": {"method": "POST", "url": "https://shop.test/orders/CAP-GRN?page=3&q=mug%20set", "data": data},
                "exception": {"values": [{"type": "panic", "value": "x"}]}
            }))
        };
        let msg =
            "called `Result::unwrap()` on an `Err` value: ParseIntError { kind: InvalidDigit }";
        let r = revealed_values(
            &ev(serde_json::json!({"qty": "12 pcs", "lines": ["a", "b"]})),
            msg,
        );
        for s in ["CAP-GRN", "mug set", "12 pcs"] {
            assert!(r.strings[..r.quoted].iter().any(|x| x == s), "{s}: {r:?}");
        }
        assert!(r.ints.contains(&3));
        assert!(r.lists.contains(&vec!["a".to_string(), "b".to_string()]));
        let r = revealed_values(&ev("sku=TEE-M&qty=12+pcs".into()), msg);
        assert!(r.strings.iter().any(|x| x == "12 pcs"), "{r:?}");
        let r = revealed_values(&ev("{\"qty\": \"7x\"}".into()), msg);
        assert!(r.strings.iter().any(|x| x == "7x"), "{r:?}");
        // Contexts the app set count; the SDK's own (os, rust, device) do not.
        let a = Alert::from_event(&serde_json::json!({
            "contexts": {"order": {"type": "order", "coupon": "SPRING-24"}, "os": {"name": "Linux"}},
            "exception": {"values": [{"type": "panic", "value": "x"}]}
        }));
        let r = revealed_values(&a, msg);
        assert!(
            r.strings[..r.quoted].iter().any(|x| x == "SPRING-24"),
            "{r:?}"
        );
        assert!(!r.strings.iter().any(|x| x == "Linux"), "{r:?}");
    }

    #[test]
    fn search_needs_revealed_values() {
        let a = alert_with(serde_json::json!([]), serde_json::Value::Null);
        let none = "called `Option::unwrap()` on a `None` value";
        let ints = replayable_params("pub fn f(a: u32, b: u32) -> u32 { a - b }", "f").unwrap();
        // An unwrap on None says nothing about integers; an overflow is found by searching them.
        assert!(plan_call(&ints, &revealed_values(&a, none), none, 50_000).is_none());
        let ov = "attempt to subtract with overflow";
        let (_, i, _, _, n) = plan_call(&ints, &revealed_values(&a, ov), ov, 50_000).unwrap();
        assert!(i.contains(&0) && i.contains(&1) && n <= 50_000);
        // Words of a sentence are no string input.
        let strs = replayable_params("pub fn g(s: &str) {}", "g").unwrap();
        let msg = "price table is empty";
        assert!(plan_call(&strs, &revealed_values(&a, msg), msg, 50_000).is_none());
        // Big searches are cut down to the cap.
        let four =
            replayable_params("pub fn h(a: &str, b: &str, n: usize, m: i64) {}", "h").unwrap();
        let msg = "attempt to add with overflow `a` `b` `c` `d` `e` `f`";
        let (_, _, _, _, n) = plan_call(&four, &revealed_values(&a, msg), msg, 5_000).unwrap();
        assert!(n <= 5_000, "{n}");
    }

    /// `secs * 1000` overflowing a u32 needs a large input: integers 0..=16 cannot reach it, so an
    /// integer-only search is refused unless the event names a larger number (then it is kept);
    /// `0 - 1` needs none. A refused frame lets the generator climb to a caller of revealed strings.
    #[test]
    fn overflow_search_needs_a_named_large_int() {
        let one = replayable_params(
            "pub fn ttl_millis(secs: u32) -> u32 { secs * 1000 }",
            "ttl_millis",
        )
        .unwrap();
        let mul = "attempt to multiply with overflow";
        let bare = alert_with(
            serde_json::json!([{"message": "cache exports", "data": {"ttl": "90d"}}]),
            serde_json::Value::Null,
        );
        assert!(plan_call(&one, &revealed_values(&bare, mul), mul, 50_000).is_none());
        let shl = "attempt to shift left with overflow";
        assert!(plan_call(&one, &revealed_values(&bare, shl), shl, 50_000).is_none());
        let sub = "attempt to subtract with overflow";
        assert!(plan_call(&one, &revealed_values(&bare, sub), sub, 50_000).is_some());
        let named = alert_with(
            serde_json::json!([{"message": "cache exports", "data": {"ttl_secs": 7776000}}]),
            serde_json::Value::Null,
        );
        let (_, i, _, _, _) = plan_call(&one, &revealed_values(&named, mul), mul, 50_000).unwrap();
        assert!(i.contains(&7_776_000));
        // An 8-bit parameter can overflow within 0..=16 (`16 * 20` for a u8).
        let small = replayable_params("pub fn f(level: u8) -> u8 { level * 20 }", "f").unwrap();
        assert!(plan_call(&small, &revealed_values(&bare, mul), mul, 50_000).is_some());
        // The caller taking the revealed string is still searched.
        let caller = replayable_params(
            "pub fn cache_ttl_ms(spec: &str) -> Result<u32, String> {}",
            "cache_ttl_ms",
        )
        .unwrap();
        let (s, _, _, _, _) =
            plan_call(&caller, &revealed_values(&bare, mul), mul, 50_000).unwrap();
        assert!(s.contains(&"90d".to_string()));
    }

    #[test]
    fn param_kinds() {
        let k = |t: &str| {
            replayable_params(t, "f").map(|a| a.iter().map(|x| x.kind).collect::<Vec<_>>())
        };
        assert_eq!(
            k("pub fn f<'a>(a: &'a [&'a str], b: Vec<String>, c: bool, d: impl AsRef<str>)"),
            Some(vec!["str_slice", "string_vec", "bool", "string"])
        );
        assert_eq!(k("pub fn f(rows: &[Row]) -> u32"), None);
        assert_eq!(
            k("pub fn f(a: &[u32], b: Vec<i64>, c: &Vec<usize>)"),
            Some(vec!["int_slice", "int_vec", "int_vec_ref"])
        );
        assert_eq!(k("pub fn f(&self, s: &str)"), None);
        assert_eq!(k("pub fn f<T: Display>(s: T)"), Some(vec!["str"]));
        assert_eq!(
            k("pub fn f<S>(s: &S, n: usize) where S: AsRef<str> + ?Sized {}"),
            Some(vec!["str_ref_ref", "int"])
        );
        assert_eq!(k("pub fn f<T: Into<u64>>(s: T)"), None);
        assert_eq!(
            k("pub fn f(a: Option<&str>, b: Option<String>, c: Option<u16>)"),
            Some(vec!["opt_str", "opt_string", "opt_int"])
        );
        assert_eq!(k("pub fn f<T: Serialize>(rows: &[T])"), None);
        assert_eq!(k("pub fn f() -> u8"), Some(vec![]));
    }

    #[test]
    fn method_receivers() {
        let src = "#[derive(Debug, Clone, Default)]\npub struct Cart { items: Vec<u32> }\n\nimpl Cart {\n    pub fn average(&self, n: usize) -> u32 { 0 }\n}\n";
        let impls = impl_blocks(src, "Cart");
        let sig = fn_sig(&impls, "average").unwrap();
        assert!(sig.receiver());
        assert_eq!(sig_args(&sig, 0).unwrap().len(), 1);
        let r = receivers(src, &impls, "Cart");
        assert_eq!(r[0].ctor, "default");
        // No Default: a public `new()`, then constructors of replayable inputs (Result skipped on Err).
        let src = "pub struct Meter { unit: String }\nimpl Meter {\n    pub fn parse(s: &str) -> Result<Self, String> { todo!() }\n    pub fn new() -> Meter { todo!() }\n    pub fn with(rows: &[Row]) -> Self { todo!() }\n    pub fn read(&mut self) -> u8 { 0 }\n}\nimpl std::fmt::Display for Meter { fn fmt(&self) {} }\n";
        let impls = impl_blocks(src, "Meter");
        let r: Vec<_> = receivers(src, &impls, "Meter")
            .into_iter()
            .map(|r| (r.ctor, r.wrap))
            .collect();
        assert_eq!(
            r,
            [
                ("new".to_string(), "plain"),
                ("parse".to_string(), "result")
            ]
        );
        assert!(!impls.contains("fn fmt"));
        // A constructor's arguments search the empty text first (`RECV_STRS`); the method's own
        // arguments do not.
        let parse = receivers(src, &impls, "Meter").remove(1);
        assert!(parse.args.iter().all(|a| a.recv), "{:?}", parse.args);
        assert!(sig_args(&fn_sig(&impls, "read").unwrap(), 0)
            .unwrap()
            .iter()
            .all(|a| !a.recv));
        let lit = "pub struct Cfg {\n    pub name: String,\n}\n";
        let r = receivers(lit, &impl_blocks(lit, "Cfg"), "Cfg");
        assert_eq!(r[0].wrap, "literal");
        assert!(r[0].args[0].recv);
        // Nothing to build it with.
        let src =
            "pub struct Pool { conn: Conn }\nimpl Pool {\n    pub fn get(&self) -> u8 { 0 }\n}\n";
        assert!(receivers(src, &impl_blocks(src, "Pool"), "Pool").is_empty());
    }

    /// An impl body is delimited by braces alone: comparisons (`a < b`), match arms (`=>`),
    /// braces in strings, chars and comments, and lifetimes do not end it early or late.
    #[test]
    fn impl_bodies_count_braces_only() {
        let src = r##"impl Inventory {
    pub fn new() -> Self { Self::default() }
    /// Keeps `{` balanced?
    pub fn reserve(&mut self, sku: &str, qty: u32) -> Result<u32, Shortage> {
        let on_hand = self.on_hand.get_mut(sku).expect("no { record");
        if *on_hand < qty { return Err(Shortage); }
        let c = '{'; let q = '\''; let r = r#"}"#; // a } in a comment
        match qty { 0 => Ok(0), _ => Ok(*on_hand) }
    }
    pub fn label<'a>(&'a self) -> &'a str { "}" }
}
pub fn reserve_all() {}
"##;
        let impls = impl_blocks(src, "Inventory");
        assert!(impls.contains("fn label"), "{impls}");
        assert!(!impls.contains("reserve_all"), "{impls}");
        let sig = fn_sig(&impls, "reserve").unwrap();
        assert!(sig.receiver());
        assert_eq!(sig_args(&sig, 0).unwrap().len(), 2);
        assert_eq!(block_body("{ a { b } }", 0), Some((" a { b } ", 11)));
        assert_eq!(block_body("{ \"{\" ", 0), None);
        assert_eq!(block_body("x", 0), None);
    }

    #[test]
    fn params() {
        let t = "pub fn f<'a>(s: &'a str, max: usize) -> X {}";
        let a = replayable_params(t, "f").unwrap();
        assert_eq!(a.len(), 2);
        assert!(replayable_params("pub fn g(x: &[f64], n: usize) {}", "g").is_none());
        assert!(replayable_params("fn h(x: &str) {}", "h").is_none());
        assert!(replayable_params("pub(crate) fn h(x: &str) {}", "h").is_none());
    }
}
