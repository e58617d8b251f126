//! Rust source at the base commit: module files, public paths, signatures and impl blocks.
//!
//! Why text scanning rather than a Rust parser: the generator needs a function's parameters, a
//! type's conversions and its inherent impl blocks, nothing more. Impl blocks are read by their
//! braces alone (string, char and comment braces skipped); what the scanner cannot read is not
//! called, never guessed.

use super::frames::*;
use super::project::*;
use super::values::*;
use crate::alert::Frame;
use crate::lang::text;
use crate::repo::Snapshot;
use serde::Serialize;

/// A module of a binary target (frame `krate::quota::parse_quota` in `src/quota.rs` of a package
/// whose library does not declare it) that an integration test can compile in on its own: a
/// top-level module file that names no other module of the crate (`crate::`, `super::`, `mod x;`,
/// `#[path]`). Returns its path from the crate's `tests/` folder and the test's path of the item
/// (`["quota", "parse_quota"]`), when the item is declared `pub`, `pub(crate)` or `pub(super)`.
pub(super) fn included_module(
    rf: &RustFrame,
    c: &CrateInfo,
    snap: &Snapshot,
) -> Option<(String, Vec<String>)> {
    if rf.in_lib || rf.modules.len() != 1 || rf.type_modules.is_some() {
        return None;
    }
    let name = &rf.modules[0];
    // The file's path inside the crate (`src/quota.rs`).
    let rel = rf.path.strip_prefix(&c.join("")).unwrap_or(&rf.path);
    // Only `src/<name>.rs` / `src/<name>/mod.rs` next to a bin root that declares `mod <name>;`.
    let bin_dir = |b: &String| {
        b.rsplit_once('/')
            .map(|x| x.0.to_string())
            .unwrap_or_default()
    };
    let declared = c.bin_paths.iter().any(|b| {
        let dir = bin_dir(b);
        (rel == format!("{dir}/{name}.rs") || rel == format!("{dir}/{name}/mod.rs"))
            && snap.read(&c.join(b)).is_some_and(|t| {
                regex::Regex::new(&format!(r"(?m)^\s*mod\s+{}\s*;", regex::escape(name)))
                    .is_ok_and(|r| r.is_match(&t))
            })
    });
    if !declared || !is_rust_ident(name) || !rf.item.iter().all(|s| is_rust_ident(s)) {
        return None;
    }
    let text = snap.read(&rf.path)?;
    let code: String = text
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let outside = regex::Regex::new(
        r"(?m)\bcrate::|^\s*(?:pub(?:\s*\([^)]*\))?\s+)?mod\s+\w+\s*;|#\[path|\$crate",
    )
    .ok()?;
    if outside.is_match(&code) {
        return None;
    }
    // `super::` at the top level names the crate root; inside an inline module (`mod tests {
    // use super::*; }`) it names this module, which the test compiles in too.
    let inline =
        regex::Regex::new(r"(?m)^\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\s*\([^)]*\))?\s+)?mod\s+\w+\s*\{")
            .ok()?;
    let mut top = String::new();
    let mut last = 0;
    for m in inline.find_iter(&code) {
        if m.start() < last {
            continue;
        }
        let (body, end) = block_body(&code, m.end() - 1)?;
        if body.contains("super::super::") {
            return None;
        }
        top.push_str(&code[last..m.start()]);
        last = end;
    }
    top.push_str(&code[last..]);
    if top.contains("super::") {
        return None;
    }
    let first = rf.item.first()?;
    let is_type = first
        .chars()
        .next()
        .is_some_and(|ch| ch.is_ascii_uppercase());
    let kind = if is_type { r"(?:struct|enum)" } else { "fn" };
    let visible = regex::Regex::new(&format!(
        r"(?m)^pub(?:\s*\(\s*(?:crate|super)\s*\))?\s+(?:(?:const|async|unsafe)\s+)*{kind}\s+{}\b",
        regex::escape(first)
    ))
    .ok()?;
    if !visible.is_match(&code) {
        return None;
    }
    // `#[path]` in the test's root file is relative to the crate's `tests/` folder.
    let from_tests = format!("../{rel}");
    let mut path = vec![name.clone()];
    path.push(first.clone());
    Some((from_tests, path))
}

/// The file of a module path (`[]` = the lib root).
pub(super) fn module_file(c: &CrateInfo, snap: &Snapshot, modules: &[String]) -> Option<String> {
    if modules.is_empty() {
        return Some(c.join(&c.lib_path));
    }
    let lib_dir = c.lib_path.rsplit_once('/').map(|x| x.0).unwrap_or("src");
    let m = modules.join("/");
    [format!("{lib_dir}/{m}.rs"), format!("{lib_dir}/{m}/mod.rs")]
        .into_iter()
        .map(|p| c.join(&p))
        .find(|p| snap.is_file(p))
}

/// The body of the inline module `mod name { … }` declared at any depth of `text` (any
/// visibility; `mod name;` declares a file, not an inline module).
pub(super) fn inline_module<'t>(text: &'t str, name: &str) -> Option<&'t str> {
    let re = regex::Regex::new(&format!(
        r"(?m)^\s*(?:pub(?:\s*\([^)]*\))?\s+)?mod\s+{}\s*\{{",
        regex::escape(name)
    ))
    .ok()?;
    let m = re.find(text)?;
    block_body(text, m.end() - 1).map(|(body, _)| body)
}

/// The text of a module path: the file of its longest prefix that is a file (`src/a/b.rs`,
/// `src/a/b/mod.rs`, the lib root), then the inline `mod x { … }` blocks of the rest.
pub(super) fn module_text(c: &CrateInfo, snap: &Snapshot, modules: &[String]) -> Option<String> {
    for j in (0..=modules.len()).rev() {
        let Some(text) = module_file(c, snap, &modules[..j]).and_then(|p| snap.read(&p)) else {
            continue;
        };
        let mut scope: &str = &text;
        for m in &modules[j..] {
            scope = inline_module(scope, m)?;
        }
        return Some(scope.to_string());
    }
    None
}

pub(super) fn declares_pub(text: &str, kinds: &[&str], name: &str) -> bool {
    let kinds = kinds.join("|");
    let re = regex::Regex::new(&format!(
        r"(?m)^\s*pub\s+(?:(?:const|async|unsafe|extern\s+\S+)\s+)*(?:{kinds})\s+{}\b",
        regex::escape(name)
    ));
    re.map(|r| r.is_match(text)).unwrap_or(false)
}

/// The public path of the frame's item from outside the crate (`lib::mod::fn` or a root re-export),
/// as identifier segments; `None` when it is private or not in the library.
pub(super) fn public_path(rf: &RustFrame, c: &CrateInfo, snap: &Snapshot) -> Option<Vec<String>> {
    if !rf.in_lib {
        return None;
    }
    let lib = c.lib_name.clone()?;
    let first = rf.item.first()?.clone();
    let is_type = first
        .chars()
        .next()
        .is_some_and(|ch| ch.is_ascii_uppercase());
    let kinds: &[&str] = if is_type {
        &["struct", "enum", "trait", "type", "union"]
    } else {
        &["fn"]
    };
    // A method of an impl in another module: the type is reached through its own module.
    let modules = match &rf.type_modules {
        Some(t) if rf.item.len() == 2 => t.clone(),
        _ => rf.modules.clone(),
    };
    let file_text = module_text(c, snap, &modules)?;
    if !declares_pub(&file_text, kinds, &first) {
        return None;
    }
    // Every module on the way must be `pub mod`, else a root `pub use` of the item.
    let mut all_pub = true;
    for i in 0..modules.len() {
        let parent = module_text(c, snap, &modules[..i]);
        if !parent.is_some_and(|t| declares_pub(&t, &["mod"], &modules[i])) {
            all_pub = false;
            break;
        }
    }
    let mut path = vec![lib.clone()];
    if all_pub {
        path.extend(modules.iter().cloned());
    } else {
        let root = snap.read(&c.join(&c.lib_path))?;
        let re = regex::Regex::new(&format!(
            r"(?s)pub\s+use\s+[^;]*\b{}\b[^;]*;",
            regex::escape(&first)
        ))
        .ok()?;
        if !re.is_match(&root) {
            return None;
        }
    }
    path.push(first);
    path.iter().all(|s| is_rust_ident(s)).then_some(path)
}

/// A Rust identifier that is not a keyword (checked before it enters generated code).
pub(super) fn is_rust_ident(s: &str) -> bool {
    const KW: &[&str] = &[
        "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn",
        "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref",
        "return", "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe",
        "use", "where", "while", "async", "await", "dyn", "gen", "try",
    ];
    text::is_ident(s, KW)
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct Arg {
    /// `str`, `string`, `string_ref`, `int`, `bool`, `str_slice`, `str_vec`, `string_slice`,
    /// `string_vec`, `string_vec_ref`.
    pub(super) kind: &'static str,
    /// Integer type from a fixed list.
    pub(super) ty: &'static str,
    /// Loop variable.
    pub(super) var: String,
    /// The argument expression in the call (fixed code over `var`).
    pub(super) expr: String,
    /// An argument of the receiver's constructor: its strings start with the empty text.
    pub(super) recv: bool,
}

pub(super) const INT_TYPES: &[&str] = &[
    "usize", "u8", "u16", "u32", "u64", "u128", "isize", "i8", "i16", "i32", "i64", "i128",
];

/// A parsed `pub fn` signature.
#[derive(Debug, Clone, Default)]
pub(super) struct Sig {
    /// Parameters (text), split at top-level commas, the receiver included.
    pub(super) params: Vec<String>,
    /// Type parameters with their bounds (inline and `where`), lifetimes left out.
    pub(super) generics: Vec<(String, String)>,
    /// The return type text (`""` for none).
    pub(super) ret: String,
    /// `pub async fn`: the call is a future the test runs to completion.
    pub(super) is_async: bool,
}

impl Sig {
    /// `&self`, `&mut self`, `self`, `mut self` (`&'a self` too) as the first parameter.
    pub(super) fn receiver(&self) -> bool {
        self.params.first().is_some_and(|p| {
            regex::Regex::new(r"^(&\s*('\w+\s+)?)?(mut\s+)?self$")
                .map(|r| r.is_match(p.trim()))
                .unwrap_or(false)
        })
    }

    /// The parameters after the receiver.
    pub(super) fn args(&self) -> &[String] {
        if self.receiver() {
            &self.params[1..]
        } else {
            &self.params
        }
    }
}

/// Split `body` at top-level commas (brackets of all kinds nest).
pub(super) fn split_top(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut d = 0i32;
    let mut prev = ' ';
    for c in body.chars() {
        match c {
            '(' | '<' | '[' => d += 1,
            '>' if prev == '-' => {}
            ')' | '>' | ']' => d -= 1,
            ',' if d == 0 => {
                out.push(std::mem::take(&mut cur).trim().to_string());
                prev = c;
                continue;
            }
            _ => {}
        }
        prev = c;
        cur.push(c);
    }
    out.push(cur.trim().to_string());
    out.into_iter().filter(|p| !p.is_empty()).collect()
}

/// The text between the bracket at byte `open` (`(`, `<`) and its match.
pub(super) fn bracketed(text: &str, open: usize) -> Option<(&str, usize)> {
    let mut depth = 0i32;
    let mut prev = ' ';
    for (i, c) in text[open..].char_indices() {
        match c {
            '(' | '<' | '[' | '{' => depth += 1,
            '>' if prev == '-' => {}
            ')' | '>' | ']' | '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some((&text[open + 1..open + i], open + i + 1));
                }
            }
            _ => {}
        }
        prev = c;
    }
    None
}

/// The text between the `{` at byte `open` and its matching `}`, counting braces only (a body's
/// `a < b` comparisons and `=>` match arms are no brackets) and skipping string and char literals
/// and comments, whose braces (`"{}"`, `'{'`) do not nest.
pub(super) fn block_body(text: &str, open: usize) -> Option<(&str, usize)> {
    let b = text.as_bytes();
    if b.get(open) != Some(&b'{') {
        return None;
    }
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut depth = 0usize;
    let mut i = open;
    while i < b.len() {
        match b[i] {
            b'{' => depth += 1,
            b'}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some((&text[open + 1..i], i + 1));
                }
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                i = text[i..].find('\n').map_or(b.len(), |n| i + n);
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = text[i + 2..].find("*/").map_or(b.len(), |n| i + 2 + n + 2);
                continue;
            }
            b'"' => {
                // A raw string (`r"…"`, `r#"…"#`, `br"…"`): the prefix is just before the quote.
                let mut j = i;
                while j > 0 && b[j - 1] == b'#' {
                    j -= 1;
                }
                let hashes = i - j;
                let raw = j > 0
                    && b[j - 1] == b'r'
                    && (j < 2
                        || !ident(b[j - 2])
                        || (b[j - 2] == b'b' && (j < 3 || !ident(b[j - 3]))));
                if raw {
                    let close = format!("\"{}", "#".repeat(hashes));
                    i = text[i + 1..]
                        .find(&close)
                        .map_or(b.len(), |n| i + 1 + n + close.len());
                } else {
                    let mut k = i + 1;
                    while k < b.len() && b[k] != b'"' {
                        k += if b[k] == b'\\' { 2 } else { 1 };
                    }
                    i = k + 1;
                }
                continue;
            }
            b'\'' => {
                // A char literal (`'{'`, `'\''`, `'\u{7b}'`), not a lifetime (`'a`, `'static`).
                if b.get(i + 1) == Some(&b'\\') {
                    if let Some(n) = text[i + 3..].find('\'') {
                        i += 3 + n + 1;
                        continue;
                    }
                } else if let Some(c) = text[i + 1..].chars().next() {
                    let after = i + 1 + c.len_utf8();
                    if b.get(after) == Some(&b'\'') {
                        i = after + 1;
                        continue;
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The signature of `pub fn name` in `text`; `None` when it is not there (`pub(crate)` and other
/// restricted visibilities are unreachable from an integration test, so they do not count).
pub(super) fn fn_sig(text: &str, name: &str) -> Option<Sig> {
    let re = regex::Regex::new(&format!(
        r"(?m)^\s*pub\s+(?:const\s+)?(async\s+)?fn\s+{}\b\s*",
        regex::escape(name)
    ))
    .ok()?;
    let caps = re.captures(text)?;
    let m = caps.get(0)?;
    let mut pos = m.end();
    let mut sig = Sig {
        is_async: caps.get(1).is_some(),
        ..Default::default()
    };
    if text[pos..].starts_with('<') {
        let (g, end) = bracketed(text, pos)?;
        for p in split_top(g) {
            if p.starts_with('\'') {
                continue;
            }
            let (n, b) = p.split_once(':').unwrap_or((&p, ""));
            sig.generics
                .push((n.trim().to_string(), b.trim().to_string()));
        }
        pos = end;
    }
    let open = pos + text[pos..].find('(')?;
    if !text[pos..open].trim().is_empty() {
        return None;
    }
    let (body, end) = bracketed(text, open)?;
    sig.params = split_top(body);
    let rest = &text[end..];
    let stop = rest.find(['{', ';']).unwrap_or(rest.len());
    let rest = &rest[..stop];
    let (ret, wh) = match rest.find(" where ").or_else(|| rest.find("\nwhere")) {
        Some(i) => (&rest[..i], &rest[i + 6..]),
        None => (rest, ""),
    };
    sig.ret = ret.trim().trim_start_matches("->").trim().to_string();
    for p in split_top(wh) {
        if let Some((n, b)) = p.split_once(':') {
            if let Some(g) = sig.generics.iter_mut().find(|g| g.0 == n.trim()) {
                g.1 = format!("{}+{}", g.1, b.trim());
            }
        }
    }
    Some(sig)
}

/// A type parameter whose bounds a `&str` satisfies (`AsRef<str>`, `Into<String>`, `Display`, …).
pub(super) fn stringy_bound(bounds: &str) -> bool {
    let bs: Vec<String> = split_plus(bounds);
    !bs.is_empty()
        && bs.iter().all(|b| {
            matches!(
                b.as_str(),
                "AsRef<str>"
                    | "Into<String>"
                    | "ToString"
                    | "Display"
                    | "std::fmt::Display"
                    | "fmt::Display"
                    | "AsRef<[u8]>"
                    | "Borrow<str>"
                    | "Debug"
                    | "std::fmt::Debug"
                    | "Clone"
                    | "?Sized"
            )
        })
}

pub(super) fn split_plus(bounds: &str) -> Vec<String> {
    let b: String = bounds.split_whitespace().collect();
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut d = 0;
    for c in b.chars() {
        match c {
            '<' => d += 1,
            '>' => d -= 1,
            '+' if d == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out.into_iter().filter(|x| !x.is_empty()).collect()
}

/// Parameters of `pub fn name(...)` in `text` when every one is a string, an integer, a bool or a
/// list of strings (types the event's values can be rebuilt into exactly); `None` when it takes
/// `self` or a type parameter a `&str` does not satisfy.
#[cfg(test)]
pub(super) fn replayable_params(text: &str, name: &str) -> Option<Vec<Arg>> {
    let sig = fn_sig(text, name)?;
    if sig.receiver() {
        return None;
    }
    sig_args(&sig, 0)
}

/// The arguments of a parsed signature (receiver excluded), variables numbered from `first`.
pub(super) fn sig_args(sig: &Sig, first: usize) -> Option<Vec<Arg>> {
    let lifetime = regex::Regex::new(r"&'[A-Za-z_]+\s*").ok()?;
    let mut args = Vec::new();
    for (i, p) in sig.args().iter().enumerate() {
        let (pat, ty) = p.split_once(':')?;
        if pat.contains("self") {
            return None;
        }
        let no_lt = lifetime.replace_all(ty, "&").to_string();
        let no_lt: String = no_lt.split_whitespace().collect();
        let no_lt = no_lt.replace("&mut", "\u{0}");
        // A type parameter (`s: T`, `s: &T`) bounded by string traits is instantiated with `&str`.
        let generic = sig
            .generics
            .iter()
            .find(|(n, _)| *n == no_lt || format!("&{n}") == no_lt);
        let (kind, ity) = match (generic, no_lt.as_str()) {
            (Some((_, b)), _) if stringy_bound(b) => {
                if no_lt.starts_with('&') {
                    ("str_ref_ref", "")
                } else {
                    ("str", "")
                }
            }
            (Some(_), _) => return None,
            (None, "&str") => ("str", ""),
            (None, "Option<&str>") => ("opt_str", ""),
            (None, "Option<String>") => ("opt_string", ""),
            (None, "String" | "implInto<String>" | "implAsRef<str>" | "implToString") => {
                ("string", "")
            }
            (None, "implDisplay" | "&implAsRef<str>" | "&implDisplay") => ("str_ref_ref", ""),
            (None, "&String") => ("string_ref", ""),
            (None, "bool") => ("bool", ""),
            (None, "&[&str]") => ("str_slice", ""),
            (None, "Vec<&str>") => ("str_vec", ""),
            (None, "&[String]") => ("string_slice", ""),
            (None, "Vec<String>") => ("string_vec", ""),
            (None, "&Vec<String>") => ("string_vec_ref", ""),
            (None, t) => {
                if t.contains("impl") || sig.generics.iter().any(|(n, _)| t.contains(n.as_str())) {
                    return None;
                }
                let elem = |pre: &str, post: &str| {
                    t.strip_prefix(pre)
                        .and_then(|x| x.strip_suffix(post))
                        .and_then(|x| INT_TYPES.iter().find(|i| **i == x))
                };
                if let Some(e) = elem("Option<", ">") {
                    ("opt_int", *e)
                } else if let Some(e) = elem("&[", "]") {
                    ("int_slice", *e)
                } else if let Some(e) = elem("Vec<", ">") {
                    ("int_vec", *e)
                } else if let Some(e) = elem("&Vec<", ">") {
                    ("int_vec_ref", *e)
                } else {
                    ("int", *INT_TYPES.iter().find(|i| **i == t)?)
                }
            }
        };
        let var = format!("a{}", first + i);
        args.push(Arg {
            kind,
            ty: ity,
            expr: arg_expr(kind, &var),
            var,
            recv: false,
        });
    }
    (args.len() <= 4).then_some(args)
}

/// A conversion trait implemented for a type from one string: how the test calls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Conversion {
    /// The trait as the test names it (fixed code from a closed set).
    pub(super) trait_path: &'static str,
    /// The trait's function (`from_str`, `from`, `try_from`).
    pub(super) method: &'static str,
    /// The argument's kind: `str` or `string`.
    pub(super) kind: &'static str,
}

/// Whether the frame is `<…Type as …FromStr>::from_str`, `<…Type as …From<&str>>::from`,
/// `From<String>`, `TryFrom<&str>` or `TryFrom<String>` (the idiomatic ways to build a type from a
/// string) and `text` implements that trait for `Type`.
pub(super) fn str_conversion(frame: &Frame, text: &str, ty: &str) -> Option<Conversion> {
    let f = frame.function.as_deref().unwrap_or("");
    if !f.starts_with('<') {
        return None;
    }
    let end = matching_angle(f, 0)?;
    let (_, tr) = f[..end].rsplit_once(" as ")?;
    let tr: String = tr.split_whitespace().collect();
    let method = f[end + 1..].strip_prefix("::")?;
    // The trait's last path segment with its argument: `core::convert::From<&str>` → `From<&str>`.
    let base_end = tr.find('<').unwrap_or(tr.len());
    let name = tr[..base_end].rsplit("::").next().unwrap_or("");
    let arg = tr[base_end..]
        .strip_prefix('<')
        .and_then(|a| a.strip_suffix('>'))
        .unwrap_or("");
    let string_arg = matches!(
        arg,
        "String" | "alloc::string::String" | "std::string::String"
    );
    let (conv, arg_re) = match (name, arg, method) {
        ("FromStr", "", "from_str") => (
            Conversion {
                trait_path: "std::str::FromStr",
                method: "from_str",
                kind: "str",
            },
            "",
        ),
        ("From", "&str", "from") => (
            Conversion {
                trait_path: "From<&str>",
                method: "from",
                kind: "str",
            },
            r"<\s*&\s*(?:'\w+\s+)?str\s*>",
        ),
        ("TryFrom", "&str", "try_from") => (
            Conversion {
                trait_path: "TryFrom<&str>",
                method: "try_from",
                kind: "str",
            },
            r"<\s*&\s*(?:'\w+\s+)?str\s*>",
        ),
        ("From", _, "from") if string_arg => (
            Conversion {
                trait_path: "From<String>",
                method: "from",
                kind: "string",
            },
            r"<\s*(?:(?:std|alloc)::string::)?String\s*>",
        ),
        ("TryFrom", _, "try_from") if string_arg => (
            Conversion {
                trait_path: "TryFrom<String>",
                method: "try_from",
                kind: "string",
            },
            r"<\s*(?:(?:std|alloc)::string::)?String\s*>",
        ),
        _ => return None,
    };
    let trait_re = match conv.trait_path {
        "std::str::FromStr" => r"(?:(?:std|core)::str::)?FromStr".to_string(),
        _ => format!(r"(?:(?:std|core)::convert::)?{name}{arg_re}"),
    };
    regex::Regex::new(&format!(
        r"(?m)^\s*impl(?:\s*<[^>{{]*>)?\s+{trait_re}\s+for\s+{}\s*\{{",
        regex::escape(ty)
    ))
    .is_ok_and(|r| r.is_match(text))
    .then_some(conv)
}

/// The text of the inherent `impl Type { … }` blocks in `text` (trait impls and generic types left
/// out: their methods are not called as `Type::…` with a concrete receiver we can build).
pub(super) fn impl_blocks(text: &str, ty: &str) -> String {
    let Ok(re) = regex::Regex::new(&format!(
        r"(?m)^\s*impl(?:<\s*'[^>]*>)?\s+{}(?:<\s*'[^>]*>)?\s*\{{",
        regex::escape(ty)
    )) else {
        return String::new();
    };
    let mut out = String::new();
    for m in re.find_iter(text) {
        let open = m.end() - 1;
        if let Some((body, _)) = block_body(text, open) {
            out.push_str(body);
            out.push('\n');
        }
    }
    out
}
