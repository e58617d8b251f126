//! Go source at the base commit: package names, function declarations and struct fields.
//!
//! Why regexes and brace matching rather than a Go parser: the generators need a declaration's
//! shape (receiver, parameters, results, body) and a struct's fields, nothing more, and a parser
//! would be a toolchain dependency. What the regexes do not see (generics beyond one receiver
//! bracket, declarations split over lines) is simply not found, never guessed.

use super::project::go_files;
use crate::lang::text;
use crate::repo::Snapshot;

/// A Go identifier that is not a keyword (checked before it enters generated code).
pub(super) fn is_go_ident(s: &str) -> bool {
    const KW: &[&str] = &[
        "break",
        "case",
        "chan",
        "const",
        "continue",
        "default",
        "defer",
        "else",
        "fallthrough",
        "for",
        "func",
        "go",
        "goto",
        "if",
        "import",
        "interface",
        "map",
        "package",
        "range",
        "return",
        "select",
        "struct",
        "switch",
        "type",
        "var",
    ];
    text::is_ident(s, KW)
}

pub(super) fn exported(s: &str) -> bool {
    s.trim_start_matches('*')
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_uppercase())
}

pub(super) fn package_name(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("package "))
        .map(|p| p.split_whitespace().next().unwrap_or("").to_string())
        .filter(|p| is_go_ident(p))
}

/// A function or method declaration of a package (regex-level parse; enough to see shapes).
#[derive(Debug, Clone)]
pub(super) struct GoDecl {
    /// Receiver type name and whether it is a pointer receiver.
    pub(super) recv: Option<(String, bool)>,
    pub(super) name: String,
    pub(super) params: String,
    pub(super) results: String,
    pub(super) body: String,
}

pub(super) fn decls_of_text(text: &str) -> Vec<GoDecl> {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::Regex::new(
            r"(?m)^func\s*(?:\(\s*(?:[A-Za-z_]\w*\s+)?(\*?)\s*([A-Za-z_]\w*)(?:\[[^\]]*\])?\s*\)\s*)?([A-Za-z_]\w*)\s*\(([^()]*)\)\s*([^{\n]*)\{",
        )
        .expect("static regex")
    });
    re.captures_iter(text)
        .filter_map(|c| {
            let whole = c.get(0)?;
            let body = brace_body(text, whole.end() - 1)?.to_string();
            Some(GoDecl {
                recv: c.get(2).map(|t| (t.as_str().to_string(), !c[1].is_empty())),
                name: c[3].to_string(),
                params: c[4].split_whitespace().collect::<Vec<_>>().join(" "),
                results: c[5].split_whitespace().collect::<Vec<_>>().join(" "),
                body,
            })
        })
        .collect()
}

/// Declarations of the package in `dir` (non-test files).
pub(super) fn package_decls(snap: &Snapshot, dir: &str) -> Vec<GoDecl> {
    go_files(snap, dir)
        .iter()
        .filter_map(|f| snap.read(f))
        .flat_map(|t| decls_of_text(&t))
        .collect()
}

/// Field names and types of `type <name> struct { … }` in the package; None when not a struct
/// (Some(empty) for a struct without fields).
pub(super) fn struct_fields(
    snap: &Snapshot,
    dir: &str,
    name: &str,
) -> Option<Option<Vec<(String, String)>>> {
    let re = regex::Regex::new(&format!(
        r"(?m)^type\s+{}\s+(struct\s*\{{)?",
        regex::escape(name)
    ))
    .ok()?;
    for f in go_files(snap, dir) {
        let Some(text) = snap.read(&f) else { continue };
        let Some(c) = re.captures(&text) else {
            continue;
        };
        let Some(st) = c.get(1) else {
            return Some(None);
        };
        let body = brace_body(&text, st.end() - 1)?;
        let mut fields = Vec::new();
        for line in body.lines() {
            let line = line.split("//").next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let line = line.split('`').next().unwrap_or("").trim();
            match line.split_once(char::is_whitespace) {
                Some((names, ty)) if !names.contains('.') => {
                    for n in names.split(',') {
                        fields.push((n.trim().to_string(), ty.trim().to_string()));
                    }
                }
                _ => {
                    // Embedded field: its name is the type's last segment.
                    let n = line
                        .trim_start_matches('*')
                        .rsplit('.')
                        .next()
                        .unwrap_or("");
                    fields.push((n.to_string(), line.to_string()));
                }
            }
        }
        return Some(Some(fields));
    }
    None
}

/// The text between the brace at `open` and its match, skipping strings, runes and comments.
pub(super) fn brace_body(text: &str, open: usize) -> Option<&str> {
    let b = text.as_bytes();
    let mut depth = 0usize;
    let mut i = open;
    while i < b.len() {
        match b[i] {
            b'{' => depth += 1,
            b'}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return text.get(open + 1..i);
                }
            }
            b'"' | b'\'' => {
                let q = b[i];
                i += 1;
                while i < b.len() && b[i] != q && b[i] != b'\n' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'`' => {
                i += 1;
                while i < b.len() && b[i] != b'`' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    None
}
