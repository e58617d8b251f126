//! Spring MVC request replay: where a sentry-java event carries the request (method, URL, query,
//! headers, body) and the repository is a Spring MVC app, the generated JUnit 5 test sends that
//! request again through MockMvc and fails when the handler throws (the `ServletException` MockMvc
//! wraps it in is unwrapped to the handler's own exception) or answers 5xx.
//!
//! Which MockMvc, and why:
//! - **`@SpringBootTest` + `@AutoConfigureMockMvc`** when the module has a `@SpringBootApplication`:
//!   real controllers take their services through constructor injection, so only the application's
//!   own context builds them as in production (filters, advice, converters included). The test sits in
//!   the application class's package and names it (`classes = X.class`), so Boot finds the
//!   configuration from any layout; `sentry.dsn=` keeps the test from reporting to Sentry.
//! - **`MockMvcBuilders.standaloneSetup(new XController())`** for plain Spring MVC (no Boot app), only
//!   when the matching controller can be built bare: a no-argument constructor and no injected
//!   fields (a null collaborator would throw a NullPointerException that is not the reported crash).
//! - Otherwise no replay (scaffold), with the reason.
//!
//! The request must be complete: a POST/PUT/PATCH whose headers announce a body the SDK did not send
//! (sentry-java sends bodies only with `max-request-body-size`) is not replayed, since an empty body
//! answers 400 and the test would pass on the buggy code. Cookies and credentials are never replayed.

use std::sync::OnceLock;

use regex::Regex;

use crate::repo::Snapshot;

/// How the replay test gets its MockMvc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setup {
    /// `@SpringBootTest(classes = <class>)` + `@AutoConfigureMockMvc`.
    Boot { class: String },
    /// `standaloneSetup(new <class>())`.
    Standalone { class: String },
}

/// Where and how to replay.
#[derive(Debug, Clone)]
pub struct Target {
    /// Build root (module folder, `""` at the top).
    pub root: String,
    /// Package of the test (the Boot application's, or the controller's).
    pub package: Vec<String>,
    pub setup: Setup,
    /// `Class.method` of the handler whose mapping matches, when found.
    pub handler: Option<String>,
    /// `server.servlet.context-path`, when the request path starts with it.
    pub context_path: Option<String>,
}

struct JavaSource {
    root: String,
    package: Vec<String>,
    class: String,
    text: String,
}

const MAX_FILES: usize = 3000;

fn java_sources(snap: &Snapshot, roots: &[String]) -> Vec<JavaSource> {
    let mut out = Vec::new();
    for root in roots {
        let base = if root.is_empty() {
            "src/main/java".to_string()
        } else {
            format!("{root}/src/main/java")
        };
        let mut stack = vec![(base.clone(), Vec::<String>::new())];
        let mut seen = 0usize;
        while let Some((dir, pkg)) = stack.pop() {
            for (name, is_dir) in snap.list_dir(&dir) {
                seen += 1;
                if seen > MAX_FILES {
                    break;
                }
                let path = format!("{dir}/{name}");
                if is_dir {
                    let mut p = pkg.clone();
                    p.push(name);
                    stack.push((path, p));
                } else if let Some(class) = name.strip_suffix(".java") {
                    let Some(text) = snap.read(&path) else {
                        continue;
                    };
                    if text.len() > 400_000 || !text.contains('@') {
                        continue;
                    }
                    out.push(JavaSource {
                        root: root.clone(),
                        package: pkg.clone(),
                        class: class.to_string(),
                        text,
                    });
                }
            }
        }
    }
    out
}

fn re(cell: &'static OnceLock<Regex>, pat: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pat).expect("valid regex"))
}

/// Path templates of a mapping annotation's arguments (`"/x"`, `value = {"/a", "/b"}`, `path = …`);
/// `[""]` when it names none. Only the value/path attribute (or the bare first argument) carries
/// paths; `produces = "…"` and friends do not.
fn mapping_paths(args: &str) -> Vec<String> {
    static STR: OnceLock<Regex> = OnceLock::new();
    static NAMED: OnceLock<Regex> = OnceLock::new();
    // Split on top-level commas (outside string literals and `{…}` arrays).
    let mut parts = Vec::new();
    let (mut depth, mut in_str, mut esc, mut start) = (0i32, false, false, 0);
    for (i, c) in args.char_indices() {
        if in_str {
            match c {
                _ if esc => esc = false,
                '\\' => esc = true,
                '"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&args[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&args[start..]);
    let named = re(&NAMED, r"^\s*(\w+)\s*=");
    let mut paths = Vec::new();
    for part in parts {
        let carries = match named.captures(part) {
            Some(m) => &m[1] == "value" || &m[1] == "path",
            None => true,
        };
        if carries {
            paths.extend(
                re(&STR, r#""((?:[^"\\]|\\.)*)""#)
                    .captures_iter(part)
                    .map(|m| m[1].to_string()),
            );
        }
    }
    if paths.is_empty() {
        vec![String::new()]
    } else {
        paths
    }
}

/// Whether a Spring path template matches a concrete path (`{var}`, `{var:regex}`, `*` match one
/// segment, `**` the rest).
pub fn template_matches(template: &str, path: &str) -> bool {
    let t: Vec<&str> = template.split('/').filter(|s| !s.is_empty()).collect();
    let p: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut i = 0;
    for (j, seg) in t.iter().enumerate() {
        if *seg == "**" || seg.starts_with("{*") {
            return true;
        }
        let Some(actual) = p.get(j) else {
            return false;
        };
        let wild = *seg == "*" || (seg.starts_with('{') && seg.ends_with('}'));
        if !wild && seg != actual {
            return false;
        }
        i = j + 1;
    }
    i == p.len()
}

fn join_paths(a: &str, b: &str) -> String {
    format!("/{}/{}", a.trim_matches('/'), b.trim_start_matches('/'))
}

/// The handler in `src` whose mapping matches `method path`: `(handler method name)`.
fn matching_handler(src: &str, method: &str, path: &str) -> Option<String> {
    static CLASS_MAP: OnceLock<Regex> = OnceLock::new();
    static METHOD_MAP: OnceLock<Regex> = OnceLock::new();
    static DECL: OnceLock<Regex> = OnceLock::new();
    let class_at = re(&CLASS_MAP, r"\b(?:class|record)\s+\w+")
        .find(src)
        .map(|m| m.start())?;
    let head = &src[..class_at];
    let prefixes = re(
        &METHOD_MAP,
        r"@(Get|Post|Put|Patch|Delete|Request)Mapping\b\s*(?:\(([^)]*)\))?",
    )
    .captures_iter(head)
    .filter(|m| &m[1] == "Request")
    .last()
    .map(|m| mapping_paths(m.get(2).map_or("", |g| g.as_str())))
    .unwrap_or_else(|| vec![String::new()]);
    let body = &src[class_at..];
    for m in re(
        &METHOD_MAP,
        r"@(Get|Post|Put|Patch|Delete|Request)Mapping\b\s*(?:\(([^)]*)\))?",
    )
    .captures_iter(body)
    {
        let args = m.get(2).map_or("", |g| g.as_str());
        let verb_ok = match &m[1] {
            "Request" => {
                !args.contains("RequestMethod.")
                    || args.contains(&format!("RequestMethod.{method}"))
            }
            v => v.eq_ignore_ascii_case(method),
        };
        if !verb_ok {
            continue;
        }
        let matched = mapping_paths(args).iter().any(|mp| {
            prefixes
                .iter()
                .any(|pre| template_matches(&join_paths(pre, mp), path))
        });
        if !matched {
            continue;
        }
        let rest = &body[m.get(0).unwrap().end()..];
        let name = re(
            &DECL,
            r"(?m)^\s*(?:(?:public|protected|private|static|final|synchronized)\s+)*[\w<>\[\], .?]+?\s+(\w+)\s*\(",
        )
        .captures(rest)
        .map(|c| c[1].to_string())
        .unwrap_or_else(|| "?".into());
        return Some(name);
    }
    None
}

/// Whether `new Class()` builds a usable controller: no constructor, or a non-private no-argument
/// one, and no field injection (a bare instance would have null collaborators).
fn bare_constructible(src: &str, class: &str) -> bool {
    if ["@Autowired", "@Inject", "@Resource", "@Value"]
        .iter()
        .any(|a| src.contains(a))
    {
        return false;
    }
    // A declaration (`A(…) {`), not a call (`new A(…);`).
    let Ok(ctor) = Regex::new(&format!(
        r"(?:^|[\s;{{}}])(?:(public|protected|private)\s+)?{}\s*\(([^)]*)\)\s*(?:throws\s+[\w\s,.]+)?\{{",
        regex::escape(class)
    )) else {
        return false;
    };
    let ctors: Vec<_> = ctor.captures_iter(src).collect();
    ctors.is_empty()
        || ctors.iter().any(|c| {
            c.get(2).is_some_and(|a| a.as_str().trim().is_empty())
                && c.get(1).is_none_or(|m| m.as_str() != "private")
        })
}

fn build_text(snap: &Snapshot, root: &str) -> String {
    let mut text = String::new();
    for f in ["pom.xml", "build.gradle", "build.gradle.kts"] {
        for dir in ["", root] {
            let p = if dir.is_empty() {
                f.to_string()
            } else {
                format!("{dir}/{f}")
            };
            if let Some(t) = snap.read(&p) {
                text.push_str(&t);
            }
        }
    }
    text
}

/// `server.servlet.context-path` from `application.properties` / `application.yml`.
fn context_path(snap: &Snapshot, root: &str) -> Option<String> {
    static PROP: OnceLock<Regex> = OnceLock::new();
    static YML: OnceLock<Regex> = OnceLock::new();
    let res = if root.is_empty() {
        "src/main/resources".to_string()
    } else {
        format!("{root}/src/main/resources")
    };
    if let Some(t) = snap.read(&format!("{res}/application.properties")) {
        if let Some(c) = re(
            &PROP,
            r"(?m)^\s*server\.servlet\.context-path\s*[=:]\s*(\S+)\s*$",
        )
        .captures(&t)
        {
            return Some(c[1].to_string());
        }
    }
    for f in ["application.yml", "application.yaml"] {
        if let Some(t) = snap.read(&format!("{res}/{f}")) {
            if let Some(c) = re(&YML, r#"(?m)^\s*context-path:\s*["']?([^"'\s#]+)"#).captures(&t) {
                return Some(c[1].to_string());
            }
        }
    }
    None
}

/// Find how to replay `method path` in this repository, or say why not.
pub fn find(snap: &Snapshot, roots: &[String], method: &str, path: &str) -> Result<Target, String> {
    let sources = java_sources(snap, roots);
    let boot = sources
        .iter()
        .find(|s| s.text.contains("@SpringBootApplication"));
    let controllers: Vec<&JavaSource> = sources
        .iter()
        .filter(|s| s.text.contains("@RestController") || s.text.contains("@Controller"))
        .collect();
    if boot.is_none() && controllers.is_empty() {
        return Err("no @SpringBootApplication or @Controller in src/main/java".into());
    }
    let handler = controllers.iter().find_map(|c| {
        let cp = context_path(snap, &c.root);
        let p = cp
            .as_deref()
            .and_then(|cp| path.strip_prefix(cp.trim_end_matches('/')))
            .filter(|p| p.is_empty() || p.starts_with('/'))
            .unwrap_or(path);
        matching_handler(&c.text, method, if p.is_empty() { "/" } else { p }).map(|m| (*c, m))
    });
    let (root, package, setup) = match (boot, &handler) {
        (Some(b), _) => (
            b.root.clone(),
            b.package.clone(),
            Setup::Boot {
                class: b.class.clone(),
            },
        ),
        (None, Some((c, _))) if bare_constructible(&c.text, &c.class) => (
            c.root.clone(),
            c.package.clone(),
            Setup::Standalone {
                class: c.class.clone(),
            },
        ),
        (None, Some((c, _))) => {
            return Err(format!(
                "no @SpringBootApplication, and {} cannot be built without its collaborators (constructor or field injection)",
                c.class
            ))
        }
        (None, None) => {
            return Err(format!(
                "no @SpringBootApplication, and no controller maps {method} {path}"
            ))
        }
    };
    let build = build_text(snap, &root);
    if !(build.contains("spring-boot-starter-test") || build.contains("spring-test")) {
        return Err("the build has no spring-boot-starter-test / spring-test for MockMvc".into());
    }
    // `spring-boot-starter-webflux` starts with `spring-boot-starter-web`: look at what follows.
    let mvc = ["<", "'", "\"", ":"]
        .iter()
        .any(|end| build.contains(&format!("spring-boot-starter-web{end}")))
        || build.contains("spring-webmvc");
    if !mvc {
        return Err(if build.contains("webflux") {
            "a WebFlux app (MockMvc replays Spring MVC only)".into()
        } else {
            "the build has no spring-boot-starter-web / spring-webmvc".into()
        });
    }
    let context_path = context_path(snap, &root)
        .map(|c| format!("/{}", c.trim_matches('/')))
        .filter(|c| c != "/" && path.starts_with(&format!("{c}/")));
    Ok(Target {
        root,
        package,
        setup,
        handler: handler.map(|(c, m)| format!("{}.{m}", c.class)),
        context_path,
    })
}

/// A path that `java.net.URI.create` accepts, keeping the SDK's percent-encoding: bytes outside
/// RFC 3986 path characters are encoded, and a `%` not starting an escape becomes `%25`.
pub fn uri_path(path: &str) -> String {
    let b = path.as_bytes();
    let mut out = String::new();
    for (i, &c) in b.iter().enumerate() {
        let ok = c.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&c);
        let escape = c == b'%'
            && b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
        if ok || escape {
            out.push(c as char);
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    if out.starts_with('/') {
        out
    } else {
        format!("/{out}")
    }
}

/// Methods MockMvc's `HttpMethod.valueOf` knows on every Spring version.
pub fn standard_method(m: &str) -> bool {
    ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"].contains(&m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates() {
        assert!(template_matches(
            "/api/invoices/{id}/installments",
            "/api/invoices/INV-1/installments"
        ));
        assert!(!template_matches(
            "/api/invoices/{id}",
            "/api/invoices/INV-1/installments"
        ));
        assert!(template_matches("/files/**", "/files/a/b"));
        assert!(template_matches("/", "/"));
        assert!(!template_matches("/a", "/b"));
    }

    #[test]
    fn handlers() {
        let src = r#"
@RestController
@RequestMapping("/api/invoices")
public class InstallmentController {
    @GetMapping(value = "/{id}", produces = "application/json")
    public Plan get(@PathVariable String id) { return null; }

    @PostMapping("/{invoiceId}/installments")
    public Plan plan(
            @PathVariable String invoiceId, @RequestBody PlanRequest request) {
        return null;
    }

    @RequestMapping(path = {"/a", "/b"}, method = RequestMethod.DELETE)
    ResponseEntity<Void> drop() { return null; }
}"#;
        assert_eq!(
            matching_handler(src, "POST", "/api/invoices/X/installments").as_deref(),
            Some("plan")
        );
        assert_eq!(
            matching_handler(src, "GET", "/api/invoices/X").as_deref(),
            Some("get")
        );
        assert_eq!(
            matching_handler(src, "DELETE", "/api/invoices/b").as_deref(),
            Some("drop")
        );
        assert_eq!(matching_handler(src, "GET", "/api/invoices/b/c"), None);
        assert_eq!(matching_handler(src, "PUT", "/api/invoices/X"), None);
    }

    #[test]
    fn constructible() {
        assert!(bare_constructible("class A { @GetMapping x() {} }", "A"));
        assert!(bare_constructible(
            "class A { public A() {} A(int x) {} }",
            "A"
        ));
        assert!(!bare_constructible("class A { A(Service s) {} }", "A"));
        assert!(!bare_constructible(
            "class A { @Autowired Service s; }",
            "A"
        ));
    }

    #[test]
    fn uri_paths() {
        assert_eq!(uri_path("/a b/%41/%zz\"{}"), "/a%20b/%41/%25zz%22%7B%7D");
        assert_eq!(uri_path("x"), "/x");
    }
}
