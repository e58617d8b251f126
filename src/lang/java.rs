//! Java: a test in the project's own framework (JUnit 5, 4, 3 or TestNG, see `project`), in the
//! Maven/Gradle test source tree, in the crashing class's package.
//!
//! sentry-java events carry no vars: frames have `module` (the class, `com.acme.invoice.PriceParser`,
//! inner classes after `$`), `function` (the method, lambdas as `lambda$parse$0`) and `filename`
//! (`PriceParser.java`). The crash site is the innermost frame whose class resolves to a file under a
//! source root (`src/main/java`, `src/main/kotlin`, also one module level down).
//!
//! Strategy:
//! - a Spring MVC request replay (MockMvc, JUnit 5, see `spring`) when the event has a complete
//!   request and the repository is a Spring MVC app;
//! - else a call replay when the crashing method is static (or its class has a no-argument
//!   constructor) and takes no parameter, or one whose value is known: from the project's own throw
//!   message, from a JDK message that quotes its input (see [`quoted_input`]) when the method did not
//!   transform the parameter first, or null from a helpful NPE (see `source`). It is called under a
//!   catch that fails, marked REPRODUCED, only for the reported type;
//! - else a scaffold that names the class (a rename breaks the compile) and fails with NOT YET
//!   REPRODUCED.
//!
//! Placement: `src/test/java/<package path>/SentryRepro<id>Test.java`: the same package as the
//! crashing class (package-private access works), in the tree Maven and Gradle already compile. That
//! folder is the extra prefix the commit may write to.

mod project;
mod source;
mod spring;

use crate::lang::EventHeader;
use anyhow::Result;
use serde::Serialize;

use super::{GenInput, GenOutput, Generator};
use crate::alert::Frame;
use crate::contract::{CrashSite, Strategy};
use crate::git::NewFile;
use crate::render::{self, is_java_ident};
use crate::repo::Snapshot;

pub struct Java;

/// Folders holding a build (`""` = root; one level of modules).
fn build_roots(snap: &Snapshot) -> Vec<String> {
    let mut roots = vec![String::new()];
    for (n, d) in snap.list_dir("") {
        if d && !n.starts_with('.') && snap.is_dir(&format!("{n}/src/main")) {
            roots.push(n);
        }
    }
    roots
}

struct JavaFrame<'a> {
    frame: &'a Frame,
    /// Build root of the module the class is in.
    root: String,
    path: String,
    package: Vec<String>,
    class: String,
    method: String,
}

/// The source folders of each build root: the standard ones, and the pom's `sourceDirectory`.
fn source_dirs(snap: &Snapshot, roots: &[String]) -> Vec<(String, Vec<String>)> {
    roots
        .iter()
        .map(|root| {
            let mut dirs = vec!["src/main/java".to_string(), "src/main/kotlin".to_string()];
            dirs.extend(project::build_facts(snap, root).source_dir);
            (root.clone(), dirs)
        })
        .collect()
}

fn map_java_frame<'a>(
    f: &'a Frame,
    snap: &Snapshot,
    roots: &[(String, Vec<String>)],
) -> Option<JavaFrame<'a>> {
    let module = f.module.as_deref()?;
    let outer = module.split('$').next()?;
    let mut segs: Vec<String> = outer.split('.').map(str::to_owned).collect();
    let class = segs.pop()?;
    if !segs
        .iter()
        .chain(std::iter::once(&class))
        .all(|s| is_java_ident(s))
    {
        return None;
    }
    let method = f.function.as_deref().map(|m| {
        m.strip_prefix("lambda$")
            .and_then(|r| r.split('$').next())
            .unwrap_or(m)
            .to_string()
    })?;
    let rel = segs
        .iter()
        .chain(std::iter::once(&class))
        .cloned()
        .collect::<Vec<_>>()
        .join("/");
    for (root, srcs) in roots {
        for src in srcs {
            for ext in ["java", "kt"] {
                let p = if root.is_empty() {
                    format!("{src}/{rel}.{ext}")
                } else {
                    format!("{root}/{src}/{rel}.{ext}")
                };
                if snap.is_file(&p) {
                    return Some(JavaFrame {
                        frame: f,
                        root: root.clone(),
                        path: p,
                        package: segs.clone(),
                        class: class.clone(),
                        method: method.clone(),
                    });
                }
            }
        }
    }
    None
}

/// Spring MVC request replay when the event has a complete request and the repository can take it
/// (see `spring`); fills the request fields of `ctx`. None (with the reason) otherwise.
fn request_replay(
    input: &GenInput,
    roots: &[String],
    ctx: &mut Ctx,
    reasons: &mut Vec<String>,
) -> Option<spring::Target> {
    use super::go::{body_text, replayable_headers, url_path};
    let req = input.alert.request.as_ref()?;
    let method = req.method.as_deref().unwrap_or("GET").to_ascii_uppercase();
    let Some(url) = req.url.as_deref().filter(|u| !u.trim().is_empty()) else {
        reasons.push("the event's request has no URL".into());
        return None;
    };
    if !spring::standard_method(&method) {
        reasons.push(format!("the request method {method:?} is not replayed"));
        return None;
    }
    let path = url_path(url);
    let body = body_text(input.alert);
    let announced = req.headers.iter().any(|(k, v)| {
        (k.eq_ignore_ascii_case("content-length") && v.trim() != "0")
            || k.eq_ignore_ascii_case("transfer-encoding")
    });
    if body.is_empty() && announced {
        reasons.push(
            "the request had a body the SDK did not send (sentry-java sends bodies only with send-default-pii and max-request-body-size): replaying it empty would answer 400, not the crash".into(),
        );
        return None;
    }
    let target = match spring::find(input.snap, roots, &method, &path) {
        Ok(t) => t,
        Err(why) => {
            reasons.push(format!(
                "the event has a request, but no MockMvc replay: {why}"
            ));
            return None;
        }
    };
    match &target.setup {
        spring::Setup::Boot { class } => ctx.boot_class = class.clone(),
        spring::Setup::Standalone { class } => ctx.controller_class = class.clone(),
    }
    ctx.method_http = method.clone();
    ctx.uri = spring::uri_path(&path);
    ctx.context_path = target.context_path.clone().unwrap_or_default();
    ctx.query = req.query.iter().take(50).cloned().collect();
    ctx.headers = replayable_headers(&req.headers);
    ctx.body = body;
    let how = match &target.setup {
        spring::Setup::Boot { class } => {
            format!("the application context of {class} (@SpringBootTest, MockMvc)")
        }
        spring::Setup::Standalone { class } => format!("a standalone MockMvc around new {class}()"),
    };
    let handler = target
        .handler
        .as_deref()
        .map(|h| format!(", handled by {h}"))
        .unwrap_or_default();
    reasons.push(format!(
        "the event has the request ({method} {path}{handler}); it is replayed through {how}, cookies and credentials left out"
    ));
    Some(target)
}

/// The one String argument a JDK exception message reveals completely; `Some(None)` is `null`.
/// Shapes (JDK 8–21 messages):
/// - `NumberFormatException: For input string: "12,50"` (`Integer/Long.parseInt`, `valueOf`,
///   `Double.parseDouble`), optionally `… under radix 16`, or `… (radix 10)` on newer JDKs;
/// - `NumberFormatException: Cannot parse null string` (JDK 17 `parseInt(null)`; `: null` on newer
///   JDKs, `null` on JDK 8) → `null`;
/// - `NumberFormatException: empty String` (`Double/Float.parseDouble` of a blank string) → `""`;
/// - `NumberFormatException: Error at index 2 in: "12x"`;
/// - `DateTimeParseException: Text '2024-13-01' could not be parsed…` (`LocalDate.parse` & co.);
/// - `IllegalArgumentException: Invalid UUID string: x` (`UUID.fromString`);
/// - `IllegalArgumentException: No enum constant com.acme.Color.PURPLE` (`Enum.valueOf`): the
///   constant's name follows the enum's canonical name, `enum_class_len` tells where that ends when
///   the enum is known, else the text after the last dot.
///
/// Anything else (app messages, whose wording says nothing certain about the argument) is None.
pub fn quoted_input(ty: &str, msg: &str) -> Option<Option<String>> {
    let short = ty.rsplit(['.', '$']).next().unwrap_or(ty);
    match short {
        "NumberFormatException" => {
            if msg.starts_with("Cannot parse null string") || msg == "null" {
                return Some(None);
            }
            if msg == "empty String" {
                return Some(Some(String::new()));
            }
            let rest = msg.strip_prefix("For input string: \"").or_else(|| {
                msg.strip_prefix("Error at index ")
                    .and_then(|r| r.split_once(" in: \""))
                    .filter(|(n, _)| n.bytes().all(|b| b.is_ascii_digit()))
                    .map(|(_, r)| r)
            })?;
            let end = rest.rfind('"')?;
            let tail = &rest[end + 1..];
            let ok = tail.is_empty()
                || tail.starts_with(" under radix")
                || (tail.starts_with(" (radix ") && tail.ends_with(')'));
            ok.then(|| Some(rest[..end].to_string()))
        }
        "DateTimeParseException" => {
            let rest = msg.strip_prefix("Text '")?;
            let end = rest.rfind("' could not be parsed")?;
            Some(Some(rest[..end].to_string()))
        }
        "IllegalArgumentException" => {
            if let Some(v) = msg.strip_prefix("Invalid UUID string: ") {
                return Some(Some(v.to_string()));
            }
            let rest = msg.strip_prefix("No enum constant ")?;
            let (class, name) = rest.rsplit_once('.')?;
            (!class.is_empty() && class.split('.').all(is_java_ident))
                .then(|| Some(name.to_string()))
        }
        _ => None,
    }
}

/// For `No enum constant <Enum>.<name>` whose name holds dots: the name after the enum's canonical
/// name when that enum is a class of this repository (`com.acme.Region.eu.west` → `eu.west`).
fn enum_constant_in_repo(msg: &str, snap: &Snapshot, roots: &[String]) -> Option<String> {
    let rest = msg.strip_prefix("No enum constant ")?;
    let segs: Vec<&str> = rest.split('.').collect();
    for n in 1..segs.len() {
        let outer = segs[..n].join("/");
        for root in roots {
            let p = if root.is_empty() {
                format!("src/main/java/{outer}.java")
            } else {
                format!("{root}/src/main/java/{outer}.java")
            };
            let Some(text) = snap.read(&p) else {
                continue;
            };
            // Nested enums: `Outer.Inner.NAME`.
            let mut k = n;
            while k < segs.len() - 1
                && text.contains(&format!("enum {}", segs[k]))
                && segs[k].chars().next().is_some_and(char::is_uppercase)
            {
                k += 1;
            }
            if text.contains(&format!("enum {}", segs[k - 1])) {
                return Some(segs[k..].join("."));
            }
        }
    }
    None
}

/// JDK 14+ helpful NullPointerException messages name what was null: `Cannot invoke
/// "String.trim()" because "text" is null` (a parameter or local, by name when compiled with
/// debug info, the Maven and Gradle default) or `"<parameter1>"` without it. The name, when the null
/// value is a plain variable (not a field, array element or method result).
fn npe_null_variable(ty: &str, msg: &str) -> Option<String> {
    if ty.rsplit('.').next() != Some("NullPointerException") {
        return None;
    }
    let rest = msg.rsplit_once("because \"")?.1;
    let name = rest.strip_suffix("\" is null")?;
    let plain = name == "<parameter1>" || is_java_ident(name);
    plain.then(|| name.to_string())
}

/// The build tool of a repository, as its files say.
#[derive(Debug, PartialEq, Eq)]
enum Build {
    Maven,
    /// `./gradlew` when the wrapper is committed, else `gradle`.
    Gradle {
        wrapper: &'static str,
    },
}

/// Maven when a `pom.xml` is at the root or in the module (or nothing says otherwise); Gradle when
/// a Gradle build or settings script is at the root or in the module and no `pom.xml` is.
fn build_tool(snap: &Snapshot, module: &str) -> Build {
    let at =
        |f: &str| snap.is_file(f) || (!module.is_empty() && snap.is_file(&format!("{module}/{f}")));
    let gradle = [
        "build.gradle",
        "build.gradle.kts",
        "settings.gradle",
        "settings.gradle.kts",
    ]
    .iter()
    .any(|f| at(f));
    if at("pom.xml") || !gradle {
        Build::Maven
    } else {
        Build::Gradle {
            wrapper: if snap.is_file("gradlew") {
                "./gradlew"
            } else {
                "gradle"
            },
        }
    }
}

#[derive(Serialize, Default)]
struct Ctx {
    #[serde(flatten)]
    event: EventHeader,
    /// `junit5`, `junit4`, `junit3` or `testng` (see `project`).
    framework: &'static str,
    class_name: String,
    package: String,
    crash_class: String,
    method: String,
    is_static: bool,
    /// The method takes one argument (else none).
    has_arg: bool,
    input: String,
    input_null: bool,
    // request replay
    boot_class: String,
    controller_class: String,
    method_http: String,
    uri: String,
    context_path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: String,
}

/// What a call replay calls, and with what.
struct CallPlan {
    is_static: bool,
    /// None: no argument; `Some(None)`: null; `Some(Some(s))`: the string `s`.
    arg: Option<Option<String>>,
    reason: String,
}

/// A call replay of the crashing method when its source and the event's message determine the call
/// (see `source`); else the reason why not.
fn plan_call(
    input: &GenInput,
    jf: &JavaFrame,
    roots: &[String],
    ty: &str,
    value: &str,
) -> Result<CallPlan, String> {
    let who = format!("{}.{}", jf.class, jf.method);
    let text = jf
        .path
        .ends_with(".java")
        .then(|| input.snap.read(&jf.path))
        .flatten()
        .filter(|_| is_java_ident(&jf.method))
        .ok_or_else(|| format!("{who} is not in a readable Java source file"))?;
    let line = jf.frame.lineno.and_then(|l| u32::try_from(l).ok());
    let call = source::callable(&text, &jf.class, &jf.method, line).ok_or_else(|| {
        format!("{who} is private, takes more than one parameter, or its class has no no-argument constructor")
    })?;
    let on = if call.is_static {
        String::new()
    } else {
        format!(" on new {}()", jf.class)
    };
    let Some(param) = &call.param else {
        return Ok(CallPlan {
            is_static: call.is_static,
            arg: None,
            reason: format!(
                "{who} takes no arguments: it is called{on} as it is; a crash that depends on state set before the call does not reproduce (verify then reports the test green on the buggy code)"
            ),
        });
    };
    // A helpful NPE naming the method's only parameter: it was called with null.
    if let Some(n) = npe_null_variable(ty, value)
        .filter(|n| param.is_reference() && (param.name == *n || n == "<parameter1>"))
    {
        return Ok(CallPlan {
            is_static: call.is_static,
            arg: Some(None),
            reason: format!(
                "the NullPointerException says the parameter {n:?} was null; {who}({}) is called{on} with null",
                param.ty
            ),
        });
    }
    if !param.is_string() {
        return Err(format!(
            "{who} takes a {}, and the message reveals no such value",
            param.ty
        ));
    }
    let line = line.map(|l| l as usize);
    // The project's own message, read from the throw statement at the crash line.
    let own = line.and_then(|l| {
        source::project_message_input(&text, l, ty, value, &param.name)
            .filter(|_| source::reassigned(&text, call.line, l, &param.name).is_none())
    });
    if let Some(v) = own {
        return Ok(CallPlan {
            is_static: call.is_static,
            arg: Some(Some(v)),
            reason: format!(
                "the message is the project's own (the throw at {}:{}), built from string literals and the parameter {}; {who}(String) is called{on} with the text between them",
                jf.path,
                line.unwrap_or(0),
                param.name
            ),
        });
    }
    let from_jdk = quoted_call(input, roots, &text, &call, line, ty, value).map_err(|r| match r {
        Unquoted::NoMessage => {
            "Java events carry no local variables and the exception message does not carry the inputs"
                .to_string()
        }
        Unquoted::NoLine => format!(
            "the {ty} message quotes a value, but the frame has no line number to check it is {who}'s argument"
        ),
        Unquoted::Transformed(why) => format!(
            "the {ty} message quotes the text the JDK parsed, but {why}: that is not the argument {who} was called with, and no run can confirm a guess"
        ),
    })?;
    Ok(CallPlan {
        is_static: call.is_static,
        reason: format!(
            "the {ty} message reveals its input ({}); {who}(String) is called{on} with it",
            if from_jdk.is_none() {
                "null"
            } else {
                "a quoted string"
            },
        ),
        arg: Some(from_jdk),
    })
}

/// Why a JDK message gives no argument.
enum Unquoted {
    /// The message is not one that quotes its input.
    NoMessage,
    /// The frame has no line to check the source at.
    NoLine,
    /// The parameter is transformed before the crash line (the reason).
    Transformed(String),
}

/// The argument a JDK message quotes (`None`: null), when the method kept its parameter as it was
/// up to the crash line.
fn quoted_call(
    input: &GenInput,
    roots: &[String],
    text: &str,
    call: &source::Callable,
    line: Option<usize>,
    ty: &str,
    value: &str,
) -> Result<Option<String>, Unquoted> {
    let name = call.param.as_ref().map_or("", |p| p.name.as_str());
    let quoted = quoted_input(ty, value).ok_or(Unquoted::NoMessage)?;
    let quoted = quoted.map(|v| {
        enum_constant_in_repo(value, input.snap, roots)
            .filter(|_| ty.ends_with("IllegalArgumentException"))
            .unwrap_or(v)
    });
    // A JDK message quotes what the JDK parsed: the argument only if the method kept it as it was.
    let l = line.ok_or(Unquoted::NoLine)?;
    match source::transformed(text, call.line, l, name) {
        Some(why) => Err(Unquoted::Transformed(why)),
        None => Ok(quoted),
    }
}

/// The test framework, and the notes on the build that the handoff should carry.
fn framework_for(snap: &Snapshot, root: &str, reasons: &mut Vec<String>) -> project::TestFramework {
    let facts = project::build_facts(snap, root);
    let style = project::test_style(snap, root);
    let fw = project::choose(&facts, style);
    reasons.push(format!(
        "the test is written for {} ({})",
        fw.as_str(),
        match style {
            Some(s) if s == fw => "the framework the existing tests use",
            Some(_) => "the existing tests' framework is not in the build",
            None if facts.frameworks.contains(&fw) => "the framework the build declares",
            None => "no framework declared or used: JUnit 5",
        }
    ));
    reasons.extend(project::old_level_warning(&facts));
    fw
}

/// The commands that run the repro test and the suite: `(test_command, suite_command)`.
fn commands(snap: &Snapshot, root: &str, package: &str, class_name: &str) -> (String, String) {
    let module_flag = if root.is_empty() {
        String::new()
    } else {
        format!(" -pl {root} -am")
    };
    match build_tool(snap, root) {
        // `-Dtest` selects the class for every surefire provider (JUnit 3/4/5, TestNG); the two
        // failIfNo… flags keep other modules (and surefire 2.x) from failing on no match.
        Build::Maven => (
            format!("mvn -q -B{module_flag} test -Dtest={class_name} -DfailIfNoTests=false -Dsurefire.failIfNoSpecifiedTests=false"),
            "mvn -q -B test".to_string(),
        ),
        Build::Gradle { wrapper } => {
            let task = if root.is_empty() {
                "test".to_string()
            } else {
                format!(":{root}:test")
            };
            // Fully qualified: `--tests` with a simple name depends on the Gradle version.
            let fqcn = if package.is_empty() {
                class_name.to_string()
            } else {
                format!("{package}.{class_name}")
            };
            (
                format!("{wrapper} {task} --tests {fqcn}"),
                format!("{wrapper} test"),
            )
        }
    }
}

/// The crash site for the contract; fills the crash fields of `ctx`.
fn crash_site(jf: &JavaFrame, ctx: &mut Ctx) -> CrashSite {
    ctx.event.crash_function = format!(
        "{}.{}",
        jf.class,
        jf.frame.function.as_deref().unwrap_or("?")
    );
    ctx.event.crash_file = jf.path.clone();
    ctx.event.crash_line = jf.frame.lineno.map(|l| l.to_string()).unwrap_or_default();
    ctx.package = jf.package.join(".");
    ctx.crash_class = jf.class.clone();
    ctx.method = jf.method.clone();
    CrashSite {
        file: jf.path.clone(),
        function: jf.frame.function.clone(),
        line: jf.frame.lineno,
    }
}

/// `<module>/src/test/java/<package path>` (or the pom's `testSourceDirectory`).
fn test_dir(snap: &Snapshot, root: &str, package: &str) -> String {
    let tests = project::build_facts(snap, root)
        .test_source_dir
        .unwrap_or_else(|| "src/test/java".into());
    let test_root = if root.is_empty() {
        tests
    } else {
        format!("{root}/{tests}")
    };
    if package.is_empty() {
        test_root
    } else {
        format!("{test_root}/{}", package.replace('.', "/"))
    }
}

impl Generator for Java {
    fn language(&self) -> &'static str {
        "java"
    }

    fn generate(&self, input: &GenInput) -> Result<GenOutput> {
        let alert = input.alert;
        let snap = input.snap;
        let roots = build_roots(snap);
        let sfx = render::ident_suffix(input.ident);
        let class_name = format!("SentryRepro{sfx}Test");
        let ty = alert.exception_type().unwrap_or("Exception").to_string();
        let value = alert.exception_value().unwrap_or("").to_string();
        let mut ctx = Ctx {
            event: EventHeader::new(alert, input.ident, "Exception"),
            class_name: class_name.clone(),
            ..Default::default()
        };
        let frames = alert.primary_frames();
        let srcs = source_dirs(snap, &roots);
        let crash_frame = frames
            .iter()
            .rev()
            .find_map(|f| map_java_frame(f, snap, &srcs));
        let mut reasons = Vec::new();
        let mut strategy = Strategy::Boilerplate;
        let mut template = "java/scaffold.java.tera";
        let mut crash = None;
        let mut root = crash_frame
            .as_ref()
            .map(|jf| jf.root.clone())
            .unwrap_or_default();
        let framework = framework_for(snap, &root, &mut reasons);
        ctx.framework = framework.as_str();
        let replay = if framework == project::TestFramework::Junit5 {
            request_replay(input, &roots, &mut ctx, &mut reasons)
        } else {
            if alert.request.is_some() {
                reasons.push(format!("the event has a request, but the MockMvc replay is written for JUnit 5 and this project tests with {}", framework.as_str()));
            }
            None
        };
        if let Some(jf) = &crash_frame {
            strategy = Strategy::Scaffold;
            crash = Some(crash_site(jf, &mut ctx));
        }
        if let Some(target) = &replay {
            strategy = Strategy::RequestReplay;
            template = "java/request_replay.java.tera";
            root = target.root.clone();
            ctx.package = target.package.join(".");
        } else if let Some(jf) = &crash_frame {
            match plan_call(input, jf, &roots, &ty, &value) {
                Ok(plan) => {
                    strategy = Strategy::CallReplay;
                    template = "java/call_replay.java.tera";
                    ctx.is_static = plan.is_static;
                    ctx.has_arg = plan.arg.is_some();
                    ctx.input_null = matches!(plan.arg, Some(None));
                    ctx.input = plan.arg.flatten().unwrap_or_default();
                    reasons.push(plan.reason);
                }
                Err(why) => reasons.push(why),
            }
        } else {
            reasons.push("no frame's class resolves to a source file of this repository".into());
        }
        ctx.event.reasons = reasons.clone();
        let content = render::render(template, &ctx)?;
        let dir = test_dir(snap, &root, &ctx.package);
        let path = format!("{dir}/{class_name}.java");
        let (test_command, suite) = commands(snap, &root, &ctx.package, &class_name);
        Ok(GenOutput {
            language: "java",
            framework: framework.as_str().into(),
            strategy,
            files: vec![NewFile {
                path: path.clone(),
                content,
            }],
            test_files: vec![path],
            test_command,
            suite_command: Some(suite),
            crash,
            reasons,
            extra_prefixes: vec![dir],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted() {
        let s = |v: &str| Some(Some(v.to_string()));
        assert_eq!(
            quoted_input(
                "java.lang.NumberFormatException",
                "For input string: \"12,50\""
            ),
            s("12,50")
        );
        assert_eq!(
            quoted_input(
                "NumberFormatException",
                "For input string: \"a\"b\" under radix 16"
            ),
            s("a\"b")
        );
        assert_eq!(
            quoted_input(
                "NumberFormatException",
                "For input string: \"7f\" (radix 10)"
            ),
            s("7f")
        );
        assert_eq!(
            quoted_input("NumberFormatException", "For input string: \"x\" and more"),
            None
        );
        assert_eq!(
            quoted_input("NumberFormatException", "Error at index 2 in: \"12x\""),
            s("12x")
        );
        assert_eq!(
            quoted_input("NumberFormatException", "Cannot parse null string: null"),
            Some(None)
        );
        assert_eq!(quoted_input("NumberFormatException", "empty String"), s(""));
        assert_eq!(
            quoted_input(
                "java.time.format.DateTimeParseException",
                "Text '2024-13-01' could not be parsed: Invalid value for MonthOfYear"
            ),
            s("2024-13-01")
        );
        assert_eq!(
            quoted_input("IllegalArgumentException", "Invalid UUID string: abc"),
            s("abc")
        );
        assert_eq!(
            quoted_input(
                "java.lang.IllegalArgumentException",
                "No enum constant com.acme.Color.PURPLE"
            ),
            s("PURPLE")
        );
        // App messages say nothing certain about the argument.
        assert_eq!(
            quoted_input("IllegalArgumentException", "bad color: PURPLE"),
            None
        );
        assert_eq!(
            quoted_input("java.lang.IllegalStateException", "For input string: \"x\""),
            None
        );
    }

    #[test]
    fn helpful_npe() {
        let ty = "java.lang.NullPointerException";
        assert_eq!(
            npe_null_variable(
                ty,
                "Cannot invoke \"String.trim()\" because \"text\" is null"
            )
            .as_deref(),
            Some("text")
        );
        assert_eq!(
            npe_null_variable(
                ty,
                "Cannot invoke \"String.trim()\" because \"<parameter1>\" is null"
            )
            .as_deref(),
            Some("<parameter1>")
        );
        // Fields, array elements and method results are not the argument.
        assert_eq!(
            npe_null_variable(
                ty,
                "Cannot invoke \"String.trim()\" because \"this.name\" is null"
            ),
            None
        );
        assert_eq!(
            npe_null_variable(
                ty,
                "Cannot invoke \"String.trim()\" because the return value of \"A.b()\" is null"
            ),
            None
        );
        assert_eq!(
            npe_null_variable("IllegalStateException", "because \"x\" is null"),
            None
        );
    }
}
