//! Reading the crashing method's source: its signature, the project's own throw messages, and what
//! happens to the parameter before the crash line.
//!
//! Java events carry no local variables, so an argument is known only when a message reveals it.
//! This module refuses to guess in two ways:
//! - a project message (`throw new NumberFormatException(str + " is not a valid number.")`) reveals
//!   the argument only when the thrown expression is string literals and the one parameter (joined
//!   with `+`, or `String.format` with one `%s`), and the event's message matches those literals
//!   around it;
//! - a JDK message (`For input string: "80000000"`) quotes what the JDK parsed, which is the argument
//!   only if the method did not transform the parameter first (`substring`, `replace`, `decode`, a
//!   helper's result, a reassignment): then it is refused, since no run confirms a guessed input.
//!   Idempotent normalisations (`trim`, `strip`, `toUpperCase`) keep the value: calling with the
//!   normalised text normalises to the same text.

/// The crashing method's signature, when it takes at most one parameter.
#[derive(Debug, PartialEq, Eq)]
pub struct Callable {
    /// Static, or called on `new Class()` (public or package no-argument constructor).
    pub is_static: bool,
    /// The one parameter; None for a method without parameters.
    pub param: Option<OneParam>,
    /// 1-based line of the declaration.
    pub line: usize,
}

/// The crashing method's one parameter.
#[derive(Debug, PartialEq, Eq)]
pub struct OneParam {
    pub ty: String,
    pub name: String,
}

impl OneParam {
    pub fn is_string(&self) -> bool {
        self.ty == "String" || self.ty == "java.lang.String"
    }
    pub fn is_reference(&self) -> bool {
        !matches!(
            self.ty.as_str(),
            "int" | "long" | "short" | "byte" | "char" | "boolean" | "float" | "double"
        )
    }
}

/// The declaration of `method` that encloses `crash_line` (the last one before it; the first one
/// without a line), when it is not private and takes zero or one parameter; instance methods need a
/// class without constructors or with a non-private no-argument one.
pub fn callable(
    text: &str,
    class: &str,
    method: &str,
    crash_line: Option<u32>,
) -> Option<Callable> {
    let decl = regex::Regex::new(&format!(
        r"(?m)^[ \t]*((?:(?:public|protected|private|static|final|synchronized|abstract)\s+)*)[\w<>\[\], ?.]+\s+{}\s*\(([^()]*)\)\s*(?:throws\s+[\w.,\s]+)?\{{",
        regex::escape(method)
    ))
    .ok()?;
    let line_of = |pos: usize| text[..pos].matches('\n').count() + 1;
    let caps = match crash_line {
        Some(l) => decl
            .captures_iter(text)
            .filter(|c| line_of(c.get(0).unwrap().start()) <= l as usize)
            .last(),
        None => decl.captures_iter(text).next(),
    }?;
    let mods = caps.get(1).map_or("", |m| m.as_str());
    if mods.contains("private") || mods.contains("abstract") {
        return None;
    }
    let params = caps[2].trim();
    let param = if params.is_empty() {
        None
    } else {
        let p = regex::Regex::new(r"^(?:@[\w.]+\s+|final\s+)*([\w.]+(?:<.*>)?(?:\[\])*)\s+(\w+)$")
            .ok()?;
        let c = p.captures(params)?;
        if c[1].contains(',') && !c[1].contains('<') {
            return None;
        }
        Some(OneParam {
            ty: c[1].to_string(),
            name: c[2].to_string(),
        })
    };
    let line = line_of(caps.get(0)?.start());
    let is_static = mods.contains("static");
    (is_static || constructible(text, class)).then_some(Callable {
        is_static,
        param,
        line,
    })
}

/// No constructor at all, or a non-private one without parameters.
fn constructible(text: &str, class: &str) -> bool {
    let ctor = regex::Regex::new(&format!(
        r"(?m)^\s*((?:public|protected|private)\s+)?{}\s*\(([^()]*)\)",
        regex::escape(class)
    ))
    .unwrap();
    let ctors: Vec<_> = ctor.captures_iter(text).collect();
    ctors.is_empty()
        || ctors.iter().any(|c| {
            c[2].trim().is_empty() && c.get(1).is_none_or(|m| !m.as_str().contains("private"))
        })
}

/// The statement starting at 1-based `line` (up to its `;`, at most 8 lines).
fn statement_at(text: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    for l in lines.get(line.checked_sub(1)?..)?.iter().take(8) {
        out.push_str(l.trim());
        out.push(' ');
        if l.contains(';') {
            return Some(out);
        }
    }
    None
}

/// A piece of a string concatenation.
#[derive(Debug, PartialEq, Eq)]
enum Piece {
    Lit(String),
    Var(String),
}

/// `"a" + x + "b"` as pieces; None for anything else (calls, fields, parentheses, numbers).
fn concatenation(expr: &str) -> Option<Vec<Piece>> {
    let mut out = Vec::new();
    let mut it = expr.trim().chars().peekable();
    loop {
        while it.next_if(|c| c.is_whitespace()).is_some() {}
        match it.next()? {
            '"' => {
                let mut s = String::new();
                loop {
                    match it.next()? {
                        '"' => break,
                        '\\' => s.push(match it.next()? {
                            'n' => '\n',
                            't' => '\t',
                            'r' => '\r',
                            c @ ('"' | '\\' | '\'') => c,
                            _ => return None,
                        }),
                        c => s.push(c),
                    }
                }
                out.push(Piece::Lit(s));
            }
            c if c.is_alphabetic() || c == '_' || c == '$' => {
                let mut s = c.to_string();
                while let Some(c) = it.next_if(|c| c.is_alphanumeric() || *c == '_' || *c == '$') {
                    s.push(c);
                }
                out.push(Piece::Var(s));
            }
            _ => return None,
        }
        while it.next_if(|c| c.is_whitespace()).is_some() {}
        match it.next() {
            None => return Some(out),
            Some('+') => {}
            Some(_) => return None,
        }
    }
}

/// `String.format("… %s …", x)` as pieces: one `%s`, no other directive but `%%`.
fn format_call(expr: &str) -> Option<Vec<Piece>> {
    let inner = expr
        .trim()
        .strip_prefix("String.format")?
        .trim_start()
        .strip_prefix('(')?
        .strip_suffix(')')?;
    let (fmt, var) = inner.rsplit_once(',')?;
    let var = var.trim();
    let [Piece::Lit(fmt)] = &concatenation(fmt)?[..] else {
        return None;
    };
    if !var.chars().all(|c| c.is_alphanumeric() || c == '_') || var.is_empty() {
        return None;
    }
    let (before, after) = fmt.split_once("%s")?;
    let unescape = |s: &str| -> Option<String> {
        let t = s.replace("%%", "");
        (!t.contains('%')).then(|| s.replace("%%", "%"))
    };
    Some(vec![
        Piece::Lit(unescape(before)?),
        Piece::Var(var.to_string()),
        Piece::Lit(unescape(after)?),
    ])
}

/// The argument a project message reveals: the statement at `line` is `throw new <ty>(<literals and
/// param>)`, and `msg` is those literals around the parameter's text.
pub fn project_message_input(
    text: &str,
    line: usize,
    ty: &str,
    msg: &str,
    param: &str,
) -> Option<String> {
    let stmt = statement_at(text, line)?;
    let short = ty.rsplit(['.', '$']).next().unwrap_or(ty);
    let re = regex::Regex::new(&format!(
        r"throw\s+new\s+(?:[\w.]+\.)?{}\s*\((.*)\)\s*;",
        regex::escape(short)
    ))
    .ok()?;
    let arg = &re.captures(&stmt)?[1];
    let pieces = concatenation(arg).or_else(|| format_call(arg))?;
    let vars: Vec<usize> = (0..pieces.len())
        .filter(|&i| matches!(&pieces[i], Piece::Var(_)))
        .collect();
    let [at] = vars[..] else { return None };
    if pieces[at] != Piece::Var(param.to_string()) {
        return None;
    }
    let lits = |ps: &[Piece]| -> String {
        ps.iter()
            .map(|p| match p {
                Piece::Lit(s) => s.as_str(),
                Piece::Var(_) => "",
            })
            .collect()
    };
    let (before, after) = (lits(&pieces[..at]), lits(&pieces[at + 1..]));
    let value = msg
        .strip_prefix(before.as_str())?
        .strip_suffix(after.as_str())?;
    Some(value.to_string())
}

/// String methods that only read.
const READERS: &[&str] = &[
    "length",
    "isEmpty",
    "isBlank",
    "charAt",
    "indexOf",
    "lastIndexOf",
    "startsWith",
    "endsWith",
    "contains",
    "equals",
    "equalsIgnoreCase",
    "matches",
    "hashCode",
    "compareTo",
    "codePointAt",
    "regionMatches",
    "contentEquals",
];
/// String methods whose result, normalised again, stays the same.
const IDEMPOTENT: &[&str] = &[
    "trim",
    "strip",
    "stripLeading",
    "stripTrailing",
    "toLowerCase",
    "toUpperCase",
    "intern",
    "toString",
];
/// Calls that parse their argument as it is (the JDK messages `quoted_input` reads).
const PARSERS: &[&str] = &[
    "parseInt",
    "parseLong",
    "parseShort",
    "parseByte",
    "parseDouble",
    "parseFloat",
    "valueOf",
    "parse",
    "fromString",
    "BigDecimal",
    "BigInteger",
    "parseUnsignedInt",
    "parseUnsignedLong",
];

/// Why the value a JDK message quotes at `crash_line` may not be the parameter's: the parameter (or
/// a variable derived from it) is transformed between the declaration at `start` and the crash line.
pub fn transformed(text: &str, start: usize, crash_line: usize, param: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    if crash_line < start || crash_line > lines.len() {
        return Some(format!(
            "line {crash_line} is not inside the method declared at line {start}"
        ));
    }
    let mut clean = vec![param.to_string()];
    let mut derived: Vec<String> = Vec::new();
    let assign =
        regex::Regex::new(r"^(?:final\s+)?(?:[\w.<>\[\]]+\s+)?(\w+)\s*=([^=].*?);?$").unwrap();
    for (i, raw) in lines[start..crash_line].iter().enumerate() {
        let l = raw.split("//").next().unwrap_or("").trim();
        let n = start + i + 1;
        let is_crash = n == crash_line;
        // Assignments: `t = p.trim()` keeps the value, anything else using p derives a new one.
        if let Some(c) = assign.captures(l).filter(|_| !is_crash) {
            let (lhs, rhs) = (c[1].to_string(), c[2].trim());
            let used = clean.iter().chain(&derived).any(|v| uses(rhs, v));
            let kept = clean.iter().any(|v| idempotent_of(rhs, v));
            if clean.contains(&lhs) && !kept {
                return Some(format!("{lhs} is reassigned at line {n} before the crash"));
            }
            if kept {
                clean.push(lhs);
            } else if used {
                derived.push(lhs);
            }
            continue;
        }
        if is_crash {
            if let Some(d) = derived.iter().find(|d| uses(l, d)) {
                return Some(format!(
                    "the crash line parses {d}, derived from {param} at an earlier line"
                ));
            }
            for v in &clean {
                if let Some(why) = transformed_on_line(l, v) {
                    return Some(format!("{why} at line {n}"));
                }
            }
        }
    }
    None
}

/// Why `param` may not hold the argument at `line`: it is assigned between the declaration at
/// `start` and that line.
pub fn reassigned(text: &str, start: usize, line: usize, param: &str) -> Option<String> {
    let re = regex::Regex::new(&format!(
        r"(?:^|[^.\w]){}\s*(?:[-+*/]?=[^=]|\+\+|--)",
        regex::escape(param)
    ))
    .ok()?;
    let n = text
        .lines()
        .enumerate()
        .take(line.saturating_sub(1))
        .skip(start)
        .find(|(_, l)| re.is_match(l.split("//").next().unwrap_or("")))?
        .0;
    Some(format!(
        "{param} is reassigned at line {} before the crash",
        n + 1
    ))
}

/// `v` as a whole word in `s`.
fn uses(s: &str, v: &str) -> bool {
    regex::Regex::new(&format!(r"\b{}\b", regex::escape(v)))
        .map(|r| r.is_match(s))
        .unwrap_or(true)
}

/// `v` or `v.trim()…` (idempotent calls only).
fn idempotent_of(rhs: &str, v: &str) -> bool {
    let Some(mut rest) = rhs.trim().strip_prefix(v) else {
        return false;
    };
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return true;
        }
        let Some(r) = rest.strip_prefix('.') else {
            return false;
        };
        let name: String = r.chars().take_while(|c| c.is_alphanumeric()).collect();
        let Some(args) = r[name.len()..].strip_prefix('(') else {
            return false;
        };
        let Some(close) = args.find(')') else {
            return false;
        };
        if !IDEMPOTENT.contains(&name.as_str()) {
            return false;
        }
        rest = &args[close + 1..];
    }
}

/// On the crash line: `v.substring(…)` or `decode(v)`, anything but a reader, a normalisation or a
/// parser applied to `v`.
fn transformed_on_line(l: &str, v: &str) -> Option<String> {
    let word = regex::Regex::new(&format!(r"\b{}\b", regex::escape(v))).ok()?;
    for m in word.find_iter(l) {
        let after = &l[m.end()..];
        if let Some(r) = after.trim_start().strip_prefix('.') {
            let name: String = r.chars().take_while(|c| c.is_alphanumeric()).collect();
            if !READERS.contains(&name.as_str()) && !IDEMPOTENT.contains(&name.as_str()) {
                return Some(format!("{v}.{name}(…) transforms the parameter"));
            }
        }
        if let Some(f) = enclosing_call(&l[..m.start()]) {
            if !PARSERS.contains(&f.as_str()) && !READERS.contains(&f.as_str()) {
                return Some(format!(
                    "{f}({v}) transforms the parameter before the parse"
                ));
            }
        }
    }
    None
}

/// The name of the call whose open parenthesis encloses the end of `before`.
fn enclosing_call(before: &str) -> Option<String> {
    let mut depth = 0i32;
    for (i, c) in before.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' if depth > 0 => depth -= 1,
            '(' => {
                let name: String = before[..i]
                    .trim_end()
                    .chars()
                    .rev()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                return (!name.is_empty()).then(|| name.chars().rev().collect());
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const NUMBERS: &str = "public class NumberUtils {\n    public NumberUtils() {}\n\n    public static Number createNumber(String str) throws NumberFormatException {\n        if (str == null) {\n            return null;\n        }\n        throw new NumberFormatException(str\n                + \" is not a valid number.\");\n    }\n\n    public static Integer createInteger(String str) {\n        return Integer.decode(str);\n    }\n}\n";

    #[test]
    fn signatures() {
        let c = callable(NUMBERS, "NumberUtils", "createNumber", Some(8)).unwrap();
        assert!(c.is_static);
        assert_eq!(c.line, 4);
        assert_eq!(c.param.as_ref().unwrap().name, "str");
        let t = "class Q {\n    public Q() {}\n    int count() {\n        return 1;\n    }\n}";
        let c = callable(t, "Q", "count", Some(4)).unwrap();
        assert_eq!((c.is_static, c.param), (false, None));
        let t = "class R {\n    private R() {}\n    int count() {\n        return 1;\n    }\n}";
        assert_eq!(callable(t, "R", "count", Some(4)), None);
        let t = "class S {\n    static int add(int a, int b) {\n        return a + b;\n    }\n}";
        assert_eq!(callable(t, "S", "add", Some(3)), None);
        // Overloads: the declaration before the crash line.
        let t = "class T {\n    static int f(int a, int b) {\n        return 1;\n    }\n    static int f(String s) {\n        return 2;\n    }\n}";
        assert_eq!(callable(t, "T", "f", Some(6)).unwrap().line, 5);
        assert_eq!(callable(t, "T", "f", Some(3)), None);
    }

    #[test]
    fn project_messages() {
        let ty = "java.lang.NumberFormatException";
        let v = project_message_input(NUMBERS, 8, ty, "0Xfade is not a valid number.", "str");
        assert_eq!(v.as_deref(), Some("0Xfade"));
        assert_eq!(
            project_message_input(NUMBERS, 8, ty, "0Xfade is not valid", "str"),
            None
        );
        assert_eq!(
            project_message_input(
                NUMBERS,
                8,
                "IllegalStateException",
                "x is not a valid number.",
                "str"
            ),
            None
        );
        let t = "throw new IllegalArgumentException(\"Bad \\\"code\\\": \" + code + \"!\");";
        assert_eq!(
            project_message_input(
                t,
                1,
                "IllegalArgumentException",
                "Bad \"code\": a+b!",
                "code"
            )
            .as_deref(),
            Some("a+b")
        );
        // A call or a field in the message: nothing certain.
        for t in [
            "throw new X(\"bad: \" + code.trim());",
            "throw new X(\"bad: \" + other);",
            "throw new X(\"bad: \" + code + other);",
            "throw new X(String.format(\"bad %s %d\", code, n));",
            "throw new X(String.format(\"bad %s\", code.trim()));",
        ] {
            assert_eq!(
                project_message_input(t, 1, "X", "bad: a", "code"),
                None,
                "{t}"
            );
        }
    }

    #[test]
    fn format_messages() {
        let t = "throw new IllegalArgumentException(String.format(\"Unknown region %s (100%% sure)\", code));";
        assert_eq!(
            project_message_input(
                t,
                1,
                "IllegalArgumentException",
                "Unknown region eu-x (100% sure)",
                "code"
            )
            .as_deref(),
            Some("eu-x")
        );
    }

    #[test]
    fn transformations() {
        // Integer.decode strips the 0x prefix before it parses.
        let why = transformed(NUMBERS, 12, 13, "str").unwrap();
        assert!(why.contains("decode(str)"), "{why}");
        let t = "static long parse(String text) {\n    String trimmed = text.trim();\n    int dot = trimmed.indexOf('.');\n    return Long.parseLong(trimmed) * 100;\n}";
        assert_eq!(transformed(t, 1, 4, "text"), None);
        let t = "static int hex(String s) {\n    if (s.startsWith(\"0x\")) {\n        return Integer.parseInt(s.substring(2), 16);\n    }\n}";
        assert!(transformed(t, 1, 3, "s").unwrap().contains("substring"));
        let t = "static int n(String s) {\n    String d = s.replace(\",\", \"\");\n    return Integer.parseInt(d);\n}";
        assert!(transformed(t, 1, 3, "s").unwrap().contains("derived"));
        let t =
            "static int n(String s) {\n    s = s.substring(1);\n    return Integer.parseInt(s);\n}";
        assert!(transformed(t, 1, 3, "s").unwrap().contains("reassigned"));
        let t = "static int n(String s) {\n    return Integer.parseInt(clean(s));\n}";
        assert!(transformed(t, 1, 2, "s").unwrap().contains("clean(s)"));
        assert!(transformed(t, 5, 2, "s").is_some());
        let t =
            "static int n(String s) {\n    s = s.substring(1);\n    throw new X(s + \" bad\");\n}";
        assert!(reassigned(t, 1, 3, "s").is_some());
        assert_eq!(reassigned(NUMBERS, 4, 8, "str"), None);
    }
}
