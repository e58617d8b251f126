//! Templates and the filters that make event data safe to put into code.
//!
//! One `Tera` is built once from the templates embedded in the binary (`templates/<language>/…`).
//! Autoescaping is off (it is HTML escaping, meaningless in code); instead, every event-derived value
//! must go through a language filter: `py_str`, `js_str`, `go_str`, `rust_str`, `java_str` produce
//! ASCII-only string literals (every quote, backslash, control, line terminator, bidi and zero-width
//! character escaped), `*_ident` refuse anything that is not a plain identifier, `comment` (and
//! `java_comment`, the same) makes a value inert on one comment line of every generated language,
//! `md_code` fences a value in Markdown. Templates are reviewed for this rule; the injection tests
//! (`tests/it/hostile.rs`) check it, also for values that only become dangerous side by side.
//!
//! Why comments are escaped for all languages at once (see [`code_comment`]):
//! - Python: a generated file starts with [`PY_CODING_LINE`], so no comment can declare a source
//!   encoding (PEP 263 reads lines 1-2 only, and stops at line 1 when it declares one); `\` is
//!   doubled anyway, which keeps `\u000a` literal even under a `unicode_escape` codec.
//! - Java processes `\uXXXX` before lexing, anywhere: a doubled backslash starts no escape.
//! - JavaScript ends a `//` comment at U+2028/U+2029 too; Go reads `//go:`, `//line` and `#cgo`
//!   directives at line start; Rust rejects bare CR and bidi controls in comments; `*/` closes a
//!   block comment in JavaScript, Go, Rust and Java.

use std::collections::HashMap;
use std::sync::LazyLock;

use anyhow::{Context, Result};
use include_dir::{include_dir, Dir};
use serde::Serialize;
use serde_json::Value;
use tera::Tera;

static TEMPLATE_DIR: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/templates");

static TERA: LazyLock<Tera> = LazyLock::new(|| build().expect("embedded templates compile"));

fn build() -> Result<Tera> {
    let mut tera = Tera::default();
    tera.autoescape_on(vec![]);
    let mut files = Vec::new();
    collect(&TEMPLATE_DIR, &mut files);
    tera.add_raw_templates(files)?;
    register_filters(&mut tera);
    Ok(tera)
}

fn collect<'a>(dir: &'a Dir<'a>, out: &mut Vec<(String, &'a str)>) {
    for f in dir.files() {
        if let Some(text) = f.contents_utf8() {
            out.push((f.path().to_string_lossy().replace('\\', "/"), text));
        }
    }
    for d in dir.dirs() {
        collect(d, out);
    }
}

/// The first line of every generated Python file. CPython reads a source-encoding declaration
/// (PEP 263) on line 1 or 2 only, and skips line 2 when line 1 declares one: with this line fixed
/// first, no event text, nor two values side by side, can choose a codec such as `utf-7` or
/// `raw_unicode_escape` that would turn a later comment into code.
pub const PY_CODING_LINE: &str = "# -*- coding: utf-8 -*-";

/// Render an embedded template (`python/call_replay.py.tera`) with a typed, serializable context.
pub fn render<C: Serialize>(template: &str, ctx: &C) -> Result<String> {
    let ctx = tera::Context::from_serialize(ctx).context("template context")?;
    let out = TERA
        .render(template, &ctx)
        .map_err(|e| anyhow::anyhow!("rendering {template}: {}", error_chain(&e)))?;
    if template.ends_with(".py.tera") && !out.starts_with(PY_CODING_LINE) {
        anyhow::bail!("rendering {template}: a Python file must start with {PY_CODING_LINE:?}");
    }
    Ok(out)
}

/// Names of all embedded templates (for tests).
pub fn template_names() -> Vec<String> {
    TERA.get_template_names().map(str::to_owned).collect()
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

type Filter = fn(&str) -> String;
type IdentCheck = fn(&str) -> bool;

fn register_filters(tera: &mut Tera) {
    let string_filters: &[(&str, Filter)] = &[
        ("py_str", py_str),
        ("js_str", js_str),
        ("go_str", go_str),
        ("rust_str", rust_str),
        ("java_str", java_str),
        ("comment", code_comment),
        ("java_comment", java_comment),
        ("md_code", md_code),
        ("md_inline", md_inline),
        ("md_cell", md_cell),
        ("ident_suffix", ident_suffix),
    ];
    for (name, f) in string_filters {
        let f = *f;
        tera.register_filter(name, move |v: &Value, _: &HashMap<String, Value>| {
            Ok(Value::String(f(&value_as_text(v))))
        });
    }
    let ident_filters: &[(&str, IdentCheck)] = &[
        ("py_ident", is_py_ident),
        ("py_module", is_py_module),
        ("js_ident", is_js_ident),
        ("go_ident", is_c_ident),
        ("rust_ident", is_c_ident),
        ("java_ident", is_java_ident),
    ];
    for (name, check) in ident_filters {
        let check = *check;
        let name = name.to_string();
        tera.register_filter(
            &name.clone(),
            move |v: &Value, _: &HashMap<String, Value>| {
                let s = value_as_text(v);
                if check(&s) {
                    Ok(Value::String(s))
                } else {
                    Err(tera::Error::msg(format!(
                        "{name}: {s:?} is not a safe identifier"
                    )))
                }
            },
        );
    }
}

fn value_as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Characters that are invisible or reorder text: escaped in literals, replaced in comments.
pub fn is_sneaky(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}' | '\u{FEFF}' | '\u{2028}' | '\u{2029}' | '\u{00AD}' | '\u{061C}'
        | '\u{180E}')
}

/// A double-quoted, ASCII-only literal. `esc` escapes one non-printable or non-ASCII char.
fn ascii_literal(s: &str, extra: &[char], esc: impl Fn(char, &mut String)) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if extra.contains(&c) => esc(c, &mut out),
            ' '..='~' => out.push(c),
            c => esc(c, &mut out),
        }
    }
    out.push('"');
    out
}

/// Python `str` literal.
pub fn py_str(s: &str) -> String {
    ascii_literal(s, &[], |c, out| {
        let n = c as u32;
        if n <= 0xFF {
            out.push_str(&format!("\\x{n:02x}"));
        } else if n <= 0xFFFF {
            out.push_str(&format!("\\u{n:04x}"));
        } else {
            out.push_str(&format!("\\U{n:08x}"));
        }
    })
}

fn utf16_escape(c: char, out: &mut String) {
    let mut buf = [0u16; 2];
    for unit in c.encode_utf16(&mut buf) {
        out.push_str(&format!("\\u{unit:04x}"));
    }
}

/// JavaScript string literal (also safe inside `<script>`: `<` and `>` escaped).
pub fn js_str(s: &str) -> String {
    ascii_literal(s, &['<', '>', '`', '$'], utf16_escape)
}

/// Java string literal (`\u` escapes are processed before lexing in Java, so even `\u000a` would
/// break out of a string: emit octal-free `\uXXXX` only for code points that are not line
/// terminators or quotes, and use the named escapes for those).
pub fn java_str(s: &str) -> String {
    ascii_literal(s, &[], |c, out| match c {
        '\u{0}'..='\u{1f}' | '\u{7f}' => out.push_str(&format!("\\{:03o}", c as u32)),
        c => utf16_escape(c, out),
    })
}

/// Go interpreted string literal.
pub fn go_str(s: &str) -> String {
    ascii_literal(s, &[], |c, out| {
        let n = c as u32;
        if n <= 0x7F {
            out.push_str(&format!("\\x{n:02x}"));
        } else if n <= 0xFFFF {
            out.push_str(&format!("\\u{n:04x}"));
        } else {
            out.push_str(&format!("\\U{n:08x}"));
        }
    })
}

/// Rust string literal.
pub fn rust_str(s: &str) -> String {
    ascii_literal(s, &['{', '}'], |c, out| match c {
        // braces are fine in literals but escaping them keeps format!-misuse impossible
        '{' | '}' => out.push(c),
        c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
    })
}

/// One comment line: no line terminators, no control or invisible characters, no comment closers,
/// no Python source-encoding declaration, bounded length. Safe after `#`, `//` and inside `/* */`.
pub fn comment(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars().take(400) {
        match c {
            c if c.is_control() || is_sneaky(c) => out.push(' '),
            c => out.push(c),
        }
    }
    let out = defuse_coding(&out.replace("*/", "* /").replace("/*", "/ *"));
    if s.chars().count() > 400 {
        format!("{out}…")
    } else {
        out
    }
}

/// Python reads a comment on line 1 or 2 matching `coding[:=]\s*([-\w.]+)` as the file's source
/// encoding (PEP 263): `# … coding: utf-7` followed by `+AAo-` would turn the next comment line into
/// code. A space after `coding` (any case) stops the match; the text stays readable.
fn defuse_coding(s: &str) -> String {
    let lower = s.to_ascii_lowercase();
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for (i, _) in lower.match_indices("coding") {
        let after = i + "coding".len();
        if matches!(lower.as_bytes().get(after), Some(b':' | b'=')) {
            out.push_str(&s[last..after]);
            out.push(' ');
            last = after;
        }
    }
    out.push_str(&s[last..]);
    out
}

/// A value on one comment line of generated code (the `comment` filter), inert in Python,
/// JavaScript, Go, Rust and Java alike, whatever sits next to it:
/// - [`comment`] first: one line (every control character, U+2028/U+2029, bidi and zero-width
///   character replaced by a space), `*/` and `/*` broken, `coding:` broken, at most 400 chars;
/// - every `\` doubled: no Java `\u000a` or `\u002a\u002f` (unicode escapes are processed before
///   lexing, even in comments), nothing a `unicode_escape` codec would decode, and since every run
///   of backslashes is even, two values side by side cannot form an escape either;
/// - a value that would form a directive if a template put it right after `//` or `#` (`go:`,
///   `line `, `+build`, `export `, `extern `, `#cgo`, `/`, `!`) gets a leading space;
/// - `@vitest-environment` / `@jest-environment` pragmas (read anywhere in a test file) are broken.
pub fn code_comment(s: &str) -> String {
    let line = comment(s).replace('\\', "\\\\");
    let line = line
        .replace("@vitest-", "@ vitest-")
        .replace("@jest-", "@ jest-");
    const DIRECTIVE_STARTS: &[&str] = &[
        "go:", "line ", "line:", "+build", "export ", "extern ", "#cgo", "#!", "!", "//", "/*",
        "/!",
    ];
    if DIRECTIVE_STARTS.iter().any(|d| line.starts_with(d)) {
        format!(" {line}")
    } else {
        line
    }
}

/// A comment line for Java source: [`code_comment`] (which doubles every backslash, so that no
/// `\u` escape survives to the lexer). Kept as its own filter name for the Java templates.
pub fn java_comment(s: &str) -> String {
    code_comment(s)
}

/// A fenced Markdown code block whose fence is longer than any backtick run in the value.
pub fn md_code(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| {
            if (c.is_control() && c != '\n') || is_sneaky(c) {
                ' '
            } else {
                c
            }
        })
        .collect();
    let mut longest = 0;
    let mut run = 0;
    for c in clean.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat((longest + 1).max(3));
    format!("{fence}text\n{clean}\n{fence}")
}

/// Any text as a suffix for an identifier: ASCII alphanumerics kept, the rest `_`, at most 64.
pub fn ident_suffix(s: &str) -> String {
    s.chars()
        .take(64)
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// A value inside Markdown inline code on one line.
pub fn md_inline(s: &str) -> String {
    let line = comment(s).replace('`', "'");
    format!("`{line}`")
}

/// `md_inline` for a GFM table cell: GFM splits rows on `|` before it reads code spans, so a bare
/// pipe would end the cell mid-span and let the rest render as Markdown; `\|` stays in the span.
pub fn md_cell(s: &str) -> String {
    md_inline(s).replace('|', "\\|")
}

const PY_KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

const JS_RESERVED: &[&str] = &[
    "break",
    "case",
    "catch",
    "class",
    "const",
    "continue",
    "debugger",
    "default",
    "delete",
    "do",
    "else",
    "export",
    "extends",
    "finally",
    "for",
    "function",
    "if",
    "import",
    "in",
    "instanceof",
    "new",
    "return",
    "super",
    "switch",
    "this",
    "throw",
    "try",
    "typeof",
    "var",
    "void",
    "while",
    "with",
    "yield",
    "let",
    "static",
    "enum",
    "await",
    "implements",
    "package",
    "protected",
    "interface",
    "private",
    "public",
    "null",
    "true",
    "false",
    "eval",
    "arguments",
];

fn is_c_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 128
}

pub fn is_py_ident(s: &str) -> bool {
    is_c_ident(s) && !PY_KEYWORDS.contains(&s)
}

/// A dotted Python module path (`pkg.sub.mod`) of plain identifiers.
pub fn is_py_module(s: &str) -> bool {
    s.len() <= 512 && s.split('.').all(is_py_ident)
}

pub fn is_js_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        && s.len() <= 128
        && !JS_RESERVED.contains(&s)
}

pub fn is_java_ident(s: &str) -> bool {
    is_js_ident(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_ascii_and_escaped() {
        let nasty = "a\"b'c\\d\ne\r\u{2028}\u{202E}`${x}`\0é😀*/";
        for f in [py_str, js_str, go_str, rust_str, java_str] {
            let lit = f(nasty);
            assert!(lit.is_ascii(), "{lit}");
            assert!(!lit[1..lit.len() - 1].contains('\n'));
            // the only unescaped quotes are the delimiters
            let inner = &lit[1..lit.len() - 1];
            let mut prev_bs = false;
            for c in inner.chars() {
                if c == '"' {
                    assert!(prev_bs, "{lit}");
                }
                prev_bs = c == '\\' && !prev_bs;
            }
        }
        assert_eq!(py_str("x\u{2028}"), "\"x\\u2028\"");
        assert_eq!(js_str("${a}"), "\"\\u0024{a}\"");
    }

    #[test]
    fn comments_are_one_line() {
        let c = comment("a\nb\r\u{2028}*/ evil()");
        assert!(!c.contains('\n') && !c.contains("*/") && !c.contains('\u{2028}'));
    }

    #[test]
    fn comments_never_declare_a_python_source_encoding() {
        for evil in [
            "coding: utf-7",
            "x -*- CODING=utf_7 -*-",
            "codingcoding:rot13",
            "coding:",
        ] {
            let c = comment(evil);
            let lower = c.to_ascii_lowercase();
            assert!(
                !lower.contains("coding:") && !lower.contains("coding="),
                "{evil:?} -> {c:?}"
            );
        }
        assert_eq!(comment("coding is fun"), "coding is fun");
        assert_eq!(java_comment("coding:x"), "coding :x");
    }

    #[test]
    fn code_comments_escape_what_each_language_reads_in_comments() {
        // Java: a unicode escape needs an eligible (evenly preceded) backslash.
        assert_eq!(code_comment(r"a\u000ab"), r"a\\u000ab");
        assert_eq!(java_comment(r"\u002a\u002f"), r"\\u002a\\u002f");
        assert_eq!(code_comment(r"C:\app\x.py"), r"C:\\app\\x.py");
        // every line terminator a language honours: \n \r VT FF FS GS RS NEL LS PS
        let c = code_comment("a\nb\rc\x0bd\x0ce\x1cf\x1dg\x1eh\u{85}i\u{2028}j\u{2029}k");
        assert_eq!(c, "a b c d e f g h i j k");
        // directives a template could let a value start
        for d in [
            "go:generate rm -rf /",
            "line x.go:1",
            "+build ignore",
            "#cgo LDFLAGS: -x",
            "!",
        ] {
            assert!(code_comment(d).starts_with(' '), "{d}");
        }
        assert_eq!(code_comment("gopher: go:x"), "gopher: go:x");
        assert_eq!(
            code_comment("// @vitest-environment jsdom"),
            " // @ vitest-environment jsdom"
        );
    }

    /// Java's first translation step: `\uXXXX` (with any number of `u`) after an eligible
    /// backslash becomes that UTF-16 unit, before the lexer sees comments or strings.
    fn java_unicode_preprocess(s: &str) -> String {
        let chars: Vec<char> = s.chars().collect();
        let mut out = String::new();
        let mut i = 0;
        let mut run = 0; // backslashes just before chars[i]
        while i < chars.len() {
            let c = chars[i];
            if c == '\\' && run % 2 == 0 && chars.get(i + 1) == Some(&'u') {
                let mut j = i + 1;
                while chars.get(j) == Some(&'u') {
                    j += 1;
                }
                let hex: String = chars.iter().skip(j).take(4).collect();
                if let Ok(n) = u32::from_str_radix(&hex, 16) {
                    out.push(char::from_u32(n).unwrap_or('\u{FFFD}'));
                    i = j + 4;
                    run = 0;
                    continue;
                }
            }
            run = if c == '\\' { run + 1 } else { 0 };
            out.push(c);
            i += 1;
        }
        out
    }

    fn hostile_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let pieces = prop_oneof![
            Just("\\".to_string()),
            Just("u000a".to_string()),
            Just("\\u000a".to_string()),
            Just("\\u002a\\u002f".to_string()),
            Just("*".to_string()),
            Just("/".to_string()),
            Just("coding".to_string()),
            Just(":".to_string()),
            Just("=".to_string()),
            Just("go:".to_string()),
            Just("\u{2028}".to_string()),
            Just("\u{85}".to_string()),
            Just("\"".to_string()),
            "[ -~]{0,4}",
            any::<char>().prop_map(String::from),
        ];
        proptest::collection::vec(pieces, 0..8).prop_map(|v| v.concat())
    }

    proptest::proptest! {
        /// Two comment values side by side (with any separator the templates use, even none) stay
        /// one inert comment line in every language, and literals stay ASCII and one line.
        #[test]
        fn comment_values_side_by_side_stay_inert(
            a in hostile_text(),
            b in hostile_text(),
            sep in proptest::sample::select(vec!["", ": ", ":", " in ", " ("]),
        ) {
            let line = format!("// {}{sep}{}", code_comment(&a), code_comment(&b));
            for text in [line.clone(), java_unicode_preprocess(&line)] {
                proptest::prop_assert!(!text.chars().any(|c| c.is_control()
                    || matches!(c, '\u{2028}' | '\u{2029}')), "{text:?}");
                if sep.is_empty() && code_comment(&a).ends_with('*') {
                    continue; // `*` then `/`: no template puts two values side by side
                }
                proptest::prop_assert!(!text.contains("*/"), "{text:?}");
            }
            let runs_even = line
                .split(|c| c != '\\')
                .all(|run| run.len() % 2 == 0);
            proptest::prop_assert!(runs_even, "{line:?}");
            for f in [py_str, js_str, go_str, rust_str, java_str] {
                let lit = f(&a);
                proptest::prop_assert!(lit.is_ascii() && !lit.contains('\n'), "{lit}");
            }
            let java = java_unicode_preprocess(&java_str(&a));
            proptest::prop_assert!(!java.contains('\n') && !java.contains('\r'), "{java:?}");
        }
    }

    #[test]
    fn templates_never_put_a_value_right_after_a_comment_marker_or_another_value() {
        let glued = regex::Regex::new(r"(//!?|#)\{\{").unwrap();
        let adjacent = regex::Regex::new(r"comment \}\}\{\{").unwrap();
        for name in template_names() {
            let text = TEMPLATE_DIR
                .get_file(&name)
                .unwrap()
                .contents_utf8()
                .unwrap();
            assert!(
                !glued.is_match(text),
                "{name}: a value right after a comment marker"
            );
            assert!(
                !adjacent.is_match(text),
                "{name}: two comment values side by side"
            );
        }
    }

    #[test]
    fn every_python_template_starts_with_the_coding_line() {
        for name in template_names() {
            let partial = name.rsplit('/').next().unwrap().starts_with('_');
            if name.ends_with(".py.tera") && !partial {
                let text = TEMPLATE_DIR
                    .get_file(&name)
                    .unwrap()
                    .contents_utf8()
                    .unwrap();
                let first = if text.starts_with("{% include") {
                    TEMPLATE_DIR
                        .get_file("python/_header.py.tera")
                        .unwrap()
                        .contents_utf8()
                        .unwrap()
                } else {
                    text
                };
                assert!(first.starts_with(PY_CODING_LINE), "{name}");
            }
        }
    }

    #[test]
    fn md_cells_keep_pipes_inside_the_code_span() {
        assert_eq!(md_cell("a|b`c"), "`a\\|b'c`");
        assert!(!md_cell("x | **bold** |").contains(" | "));
    }

    #[test]
    fn md_fence_outlasts_backticks() {
        let s = md_code("```\nrm -rf /\n```");
        assert!(s.starts_with("````text"));
    }

    #[test]
    fn idents() {
        assert!(is_py_ident("average_rating"));
        assert!(!is_py_ident("class"));
        assert!(!is_py_ident("a;b"));
        assert!(is_js_ident("$x_1"));
        assert!(!is_js_ident("a-b"));
    }
}
