//! Just enough JavaScript/TypeScript reading to replay a call: where a function is defined, its
//! parameters, whether and how the module exports it, and what kinds of literal arguments the
//! repository's own code passes to it.
//!
//! This is not a parser. Comments and string contents are blanked first (`mask`, same byte offsets),
//! then small regexes and a bracket matcher find definitions. Whatever it cannot read with confidence
//! it reports as unknown, and the generator then climbs to a caller or falls back to the scaffold:
//! a wrong guess must never produce a replay that calls the wrong thing.

use regex::Regex;

/// Source with comment bodies and string/template/regex contents replaced by spaces, keeping byte
/// offsets and newlines. Quote delimiters stay, so `'abc'` becomes `'   '`.
pub fn mask(src: &str) -> String {
    let b = src.as_bytes();
    let mut out: Vec<u8> = b.to_vec();
    let mut i = 0;
    let mut prev_sig: u8 = b'\n';
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for x in out.iter_mut().take(to).skip(from) {
            if *x != b'\n' {
                *x = b' ';
            }
        }
    };
    while i < b.len() {
        let c = b[i];
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            let end = src[i..].find('\n').map(|p| i + p).unwrap_or(b.len());
            blank(&mut out, i, end);
            i = end;
            continue;
        }
        if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let end = src[i + 2..]
                .find("*/")
                .map(|p| i + 2 + p + 2)
                .unwrap_or(b.len());
            blank(&mut out, i, end);
            i = end;
            continue;
        }
        if c == b'\'' || c == b'"' || c == b'`' {
            let mut j = i + 1;
            while j < b.len() && b[j] != c {
                if b[j] == b'\\' {
                    j += 1;
                } else if b[j] == b'\n' && c != b'`' {
                    break;
                }
                j += 1;
            }
            let end = j.min(b.len());
            blank(&mut out, i + 1, end);
            i = end + 1;
            prev_sig = c;
            continue;
        }
        if c == b'/' && b"(,=:[!&|?{};+-*%<>~^".contains(&prev_sig) {
            // A regex literal (good enough: after an operator or an opening bracket).
            let mut j = i + 1;
            let mut class = false;
            while j < b.len() && b[j] != b'\n' {
                match b[j] {
                    b'\\' => j += 1,
                    b'[' => class = true,
                    b']' => class = false,
                    b'/' if !class => break,
                    _ => {}
                }
                j += 1;
            }
            if j < b.len() && b[j] == b'/' {
                blank(&mut out, i + 1, j);
                i = j + 1;
                prev_sig = b'/';
                continue;
            }
        }
        if !c.is_ascii_whitespace() {
            prev_sig = c;
        }
        i += 1;
    }
    // Blanking works on bytes; multi-byte characters inside strings become spaces entirely, and
    // multi-byte characters elsewhere are untouched, so the result is valid UTF-8.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// 1-based line number of a byte offset.
pub fn line_of(src: &str, byte: usize) -> u64 {
    src.as_bytes()[..byte.min(src.len())]
        .iter()
        .filter(|&&c| c == b'\n')
        .count() as u64
        + 1
}

/// Offset of the bracket closing the one at `open` (`(`, `[`, `{`), in masked text.
pub fn matching(masked: &str, open: usize) -> Option<usize> {
    let b = masked.as_bytes();
    let mut depth = 0usize;
    for (i, &c) in b.iter().enumerate().skip(open) {
        match c {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Byte ranges of the comma-separated parts of `masked[from..to]` at bracket depth 0, trimmed.
pub fn split_top(masked: &str, from: usize, to: usize) -> Vec<(usize, usize)> {
    split_top_with(masked, from, to, false)
}

/// `split_top`, also treating `<…>` as brackets (TypeScript generics in parameter lists).
fn split_top_with(masked: &str, from: usize, to: usize, angle: bool) -> Vec<(usize, usize)> {
    let b = masked.as_bytes();
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut angles = 0i32;
    let mut start = from;
    for i in from..to {
        match b[i] {
            b'<' if angle => angles += 1,
            b'>' if angle && angles > 0 && i > 0 && b[i - 1] != b'=' => angles -= 1,
            b',' if angles > 0 => {}
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth -= 1,
            b',' if depth == 0 => {
                parts.push((start, i));
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push((start, to));
    parts
        .into_iter()
        .filter_map(|(s, e)| {
            let seg = &masked[s..e];
            let lead = seg.len() - seg.trim_start().len();
            let trail = seg.len() - seg.trim_end().len();
            (s + lead < e - trail).then_some((s + lead, e - trail))
        })
        .collect()
}

/// One formal parameter, as far as a replay needs it.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// `name`, `name = default`, `name?: T`.
    Simple { name: String, has_default: bool },
    /// `{ a, b: c, d = 1 }`: (property key, local variable) pairs.
    Object {
        fields: Vec<(String, String)>,
        has_rest: bool,
    },
    /// `[a, b]`.
    Array { vars: Vec<String>, has_rest: bool },
    /// `...rest`.
    Rest(String),
    /// Anything else (nested patterns, unreadable text).
    Unknown(String),
}

#[derive(Debug, Clone)]
pub struct FnDef {
    pub params: Vec<Param>,
    /// Line of the definition.
    pub line: u64,
    /// Last line of the body when known (block bodies).
    pub end_line: Option<u64>,
    pub is_async: bool,
    /// Class or object-literal method (`name(…) { … }`): needs a receiver.
    pub is_method: bool,
    pub is_static: bool,
    /// Byte range of the body (for the reassignment check).
    pub body: (usize, usize),
}

fn ident_re() -> &'static str {
    r"[A-Za-z_$][A-Za-z0-9_$]*"
}

const KEYWORDS: &[&str] = &[
    "if", "for", "while", "switch", "catch", "function", "return", "with", "do", "else", "typeof",
    "new",
];

/// The definition of function `name` that encloses `crash_line` (the nearest one before it).
/// `name` "default" finds the anonymous function a module exports by default (`export default` or
/// `module.exports =`).
pub fn find_function(src: &str, name: &str, crash_line: Option<u64>) -> Option<FnDef> {
    if KEYWORDS.contains(&name) {
        return None;
    }
    let masked = mask(src);
    let n = regex::escape(name);
    let id = ident_re();
    // (regex, kind): 0 function declaration/expression, 1 arrow with parens, 2 bare arrow, 3 method.
    let pats: [(String, u8); 5] = [
        (
            format!(r"(?:^|[^\w$.])(async\s+)?function\s*\*?\s*{n}\s*\("),
            0,
        ),
        (
            format!(r"(?:^|[^\w$.]){n}\s*(?::|=)\s*(async\s+)?function\b\s*\*?\s*(?:{id})?\s*\("),
            0,
        ),
        (format!(r"(?:^|[^\w$.]){n}\s*(?::|=)\s*(async\s+)?\("), 1),
        (
            format!(r"(?:^|[^\w$.]){n}\s*(?::|=)\s*(async\s+)?({id})\s*=>"),
            2,
        ),
        (
            format!(
                r"(?m)^[ \t]*((?:(?:static|async|public|private|protected|override|readonly)\s+)*)\*?\s*{n}\s*\("
            ),
            3,
        ),
    ];
    // The module's anonymous default: `export default function (…)` / `export default (…) => …`
    // (V8 names it "default", or "exports.default" once compiled to CommonJS) and
    // `module.exports = (…) => …` (V8: "module.exports").
    let dflt = r"(?:^|[^\w$.])(?:export\s+default\s+|module\.exports\s*=\s*)";
    let anonymous_default: [(String, u8); 3] = [
        (format!(r"{dflt}(async\s+)?function\s*\*?\s*\("), 0),
        (format!(r"{dflt}(async\s+)?\("), 1),
        (format!(r"{dflt}(async\s+)?({id})\s*=>"), 2),
    ];
    let pats: &[(String, u8)] = if name == "default" {
        &anonymous_default
    } else {
        &pats
    };
    let mut found: Vec<FnDef> = Vec::new();
    for (pat, kind) in pats.iter() {
        let Ok(re) = Regex::new(pat) else { continue };
        for caps in re.captures_iter(&masked) {
            let m = caps.get(0).unwrap();
            // `name =` must not be `name ==` / `name =>`.
            let text = m.as_str();
            if *kind != 3 && text.contains('=') && !text.contains("=>") {
                let eq = m.start() + text.find('=').unwrap();
                if matches!(masked.as_bytes().get(eq + 1), Some(b'=') | Some(b'>')) {
                    continue;
                }
            }
            let modifiers = caps.get(1).map(|c| c.as_str()).unwrap_or("");
            let is_async = modifiers.contains("async");
            let line = line_of(src, m.start() + (text.len() - text.trim_start().len()));
            if *kind == 2 {
                let p = caps.get(2).unwrap();
                let arrow = m.end();
                let (body, end_line) = body_after(&masked, src, arrow);
                found.push(FnDef {
                    params: vec![Param::Simple {
                        name: p.as_str().to_string(),
                        has_default: false,
                    }],
                    line,
                    end_line,
                    is_async,
                    is_method: false,
                    is_static: false,
                    body,
                });
                continue;
            }
            let open = m.end() - 1;
            let Some(close) = matching(&masked, open) else {
                continue;
            };
            let after = masked[close + 1..].trim_start();
            let after_off = close + 1 + (masked[close + 1..].len() - after.len());
            let after_type = skip_type_annotation(&masked, after_off);
            let rest = &masked[after_type..];
            match kind {
                1 if !rest.starts_with("=>") => continue,
                3 if !rest.starts_with('{') => continue,
                _ => {}
            }
            let body_from = if *kind == 1 {
                after_type + 2
            } else {
                after_type
            };
            let (body, end_line) = body_after(&masked, src, body_from);
            let params = split_top_with(&masked, open + 1, close, true)
                .into_iter()
                .map(|(s, e)| parse_param(&src[s..e], &masked[s..e]))
                .collect();
            found.push(FnDef {
                params,
                line,
                end_line,
                is_async,
                is_method: *kind == 3,
                is_static: *kind == 3 && modifiers.contains("static"),
                body,
            });
        }
    }
    let limit = crash_line.unwrap_or(u64::MAX);
    found
        .into_iter()
        .filter(|d| d.line <= limit && d.end_line.is_none_or(|e| crash_line.is_none_or(|c| c <= e)))
        .max_by_key(|d| (d.line, !d.is_method))
}

/// `: Type` after a parameter list (TypeScript return type), skipped up to `{` or `=>`.
fn skip_type_annotation(masked: &str, at: usize) -> usize {
    let b = masked.as_bytes();
    if b.get(at) != Some(&b':') {
        return at;
    }
    let mut i = at + 1;
    let mut depth = 0i32;
    while i < b.len() {
        match b[i] {
            b'<' | b'(' | b'[' => depth += 1,
            b'>' if i > 0 && b[i - 1] == b'=' && depth == 0 => return i - 1,
            b'>' if i > 0 && b[i - 1] == b'=' => {}
            b'>' | b')' | b']' => depth -= 1,
            b'{' if depth == 0 => {
                // `{` opens the body unless the type is an object type (`: { a: T } {`).
                let close = matching(masked, i).unwrap_or(b.len() - 1);
                let next = masked[close + 1..].trim_start();
                if next.starts_with('{') || next.starts_with("=>") {
                    i = close;
                } else {
                    return i;
                }
            }
            _ => {}
        }
        i += 1;
    }
    at
}

fn body_after(masked: &str, src: &str, from: usize) -> ((usize, usize), Option<u64>) {
    let rest = &masked[from.min(masked.len())..];
    let lead = rest.len() - rest.trim_start().len();
    let start = from + lead;
    if masked.as_bytes().get(start) == Some(&b'{') {
        if let Some(end) = matching(masked, start) {
            return ((start, end), Some(line_of(src, end)));
        }
    }
    // Expression body: up to the end of the line.
    let end = masked[start.min(masked.len())..]
        .find('\n')
        .map(|p| start + p)
        .unwrap_or(masked.len());
    ((start.min(end), end), None)
}

fn parse_param(raw: &str, masked: &str) -> Param {
    let id = Regex::new(&format!("^{}$", ident_re())).unwrap();
    let m = masked.trim();
    if let Some(rest) = m.strip_prefix("...") {
        let name = rest.split([':', '=']).next().unwrap_or("").trim();
        return if id.is_match(name) {
            Param::Rest(name.into())
        } else {
            Param::Unknown(raw.into())
        };
    }
    if m.starts_with('{') || m.starts_with('[') {
        let Some(close) = matching(masked, masked.find(['{', '[']).unwrap()) else {
            return Param::Unknown(raw.into());
        };
        let open = masked.find(['{', '[']).unwrap();
        let inner = split_top(masked, open + 1, close);
        let object = m.starts_with('{');
        let mut fields = Vec::new();
        let mut vars = Vec::new();
        let mut has_rest = false;
        for (s, e) in inner {
            let part = masked[s..e].trim();
            if let Some(r) = part.strip_prefix("...") {
                has_rest = true;
                let _ = r;
                continue;
            }
            let (lhs, _default) = match part.split_once('=') {
                Some((l, d)) => (l.trim(), Some(d)),
                None => (part, None),
            };
            if object {
                let (key, var) = match lhs.split_once(':') {
                    Some((k, v)) => (k.trim(), v.trim()),
                    None => (lhs, lhs),
                };
                if !id.is_match(key) || !id.is_match(var) {
                    return Param::Unknown(raw.into());
                }
                fields.push((key.to_string(), var.to_string()));
            } else {
                if !id.is_match(lhs) {
                    return Param::Unknown(raw.into());
                }
                vars.push(lhs.to_string());
            }
        }
        return if object {
            Param::Object { fields, has_rest }
        } else {
            Param::Array { vars, has_rest }
        };
    }
    // Strip TypeScript accessibility modifiers, `?:`, `: Type`, `= default`.
    let mut s = m;
    for modifier in [
        "public ",
        "private ",
        "protected ",
        "readonly ",
        "override ",
    ] {
        s = s.strip_prefix(modifier).unwrap_or(s).trim_start();
    }
    let end = s.find([':', '=', '?']).unwrap_or(s.len());
    let name = s[..end].trim();
    let has_default =
        s[end..].trim_start_matches(['?', ':']).contains('=') || s[end..].starts_with('=');
    if id.is_match(name) {
        Param::Simple {
            name: name.into(),
            has_default,
        }
    } else {
        Param::Unknown(raw.into())
    }
}

/// Whether `var` is assigned (`=`, `+=`, `++`…) inside `body` of `src` before `before_line`.
pub fn reassigned(src: &str, body: (usize, usize), var: &str, before_line: Option<u64>) -> bool {
    let masked = mask(src);
    let end = body.1.min(masked.len());
    let text = &masked[body.0.min(end)..end];
    let v = regex::escape(var);
    let re = Regex::new(&format!(
        r"(?:^|[^\w$.])(?:{v}\s*(?:[-+*/%&|^]|\*\*|<<|>>>?|&&|\|\||\?\?)?=([^=>]|$)|(?:\+\+|--)\s*{v}\b|{v}\s*(?:\+\+|--))"
    ))
    .unwrap();
    let hit = re.find_iter(text).any(|m| {
        let line = line_of(src, body.0 + m.start());
        before_line.is_none_or(|l| line <= l)
    });
    hit
}

/// The members of parameter `var` that `body` reads, when reading named members is *all* the body
/// does with it: every use is `var.key` / `var?.key` / `var!.key` (not assigned, incremented or
/// deleted), or a `const { key, key: local, key = default } = var` destructuring without rest.
/// Then the object is reached by nothing but these reads (it is never passed on, aliased, spread,
/// enumerated or mutated here), so a capture holding every read member is as good as the argument.
/// `None` on any other use, on `arguments`, or on a use this reader cannot classify (a template
/// literal mentioning the name, a nested function rebinding it…): the caller then refuses the
/// object.
pub fn member_reads(
    src: &str,
    body: (usize, usize),
    var: &str,
) -> Option<std::collections::BTreeSet<String>> {
    let masked = mask(src);
    let end = body.1.min(masked.len()).min(src.len());
    let start = body.0.min(end);
    let text = &masked[start..end];
    let raw = &src[start..end];
    let word = |t: &str, at: usize, len: usize| {
        let b = t.as_bytes();
        let before = at.checked_sub(1).map(|i| b[i]);
        let after = b.get(at + len).copied();
        let is_id = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'$';
        !before.is_some_and(is_id) && !after.is_some_and(is_id)
    };
    if text
        .match_indices("arguments")
        .any(|(i, _)| word(text, i, "arguments".len()))
    {
        return None;
    }
    // A mention the mask blanked is in a comment, a string or a template literal, whose `${…}` may
    // be code: the nearest non-blank on its left is the template's opening backtick then. Refuse.
    for (i, _) in raw.match_indices(var) {
        if word(raw, i, var.len())
            && !text.get(i..).is_some_and(|t| t.starts_with(var))
            && text.get(..i).is_none_or(|t| t.trim_end().ends_with('`'))
        {
            return None;
        }
    }
    let id = ident_re();
    let v = regex::escape(var);
    let member = Regex::new(&format!(r"^{v}\s*!?\s*\??\.\s*({id})")).unwrap();
    let destructure = Regex::new(&format!(
        r"(?:const|let|var)\s*\{{([^{{}}]*)\}}\s*=\s*{v}\s*(?:;|\n|$)"
    ))
    .unwrap();
    let assigned =
        Regex::new(r"^\s*(?:(?:[-+*/%&|^]|\*\*|<<|>>>?|&&|\|\||\?\?)?=[^=>]|\+\+|--)").unwrap();
    let key_re = Regex::new(&format!(r"^({id})\s*(?::\s*({id}))?\s*(?:=.*)?$")).unwrap();
    let destructured: Vec<(usize, Vec<String>)> = destructure
        .captures_iter(text)
        .filter_map(|c| {
            let whole = c.get(0)?;
            let at = whole.start() + whole.as_str().rfind(var)?;
            let mut keys = Vec::new();
            for item in c[1].split(',') {
                let item = item.trim();
                if item.is_empty() {
                    continue;
                }
                let k = key_re.captures(item)?;
                keys.push(k[1].to_string());
            }
            Some((at, keys))
        })
        .collect();
    let mut keys = std::collections::BTreeSet::new();
    for (i, _) in text.match_indices(var) {
        if !word(text, i, var.len()) {
            continue;
        }
        let before = text[..i].trim_end();
        if before.ends_with('.') && !before.ends_with("...") {
            continue; // `x.var`: a property of something else
        }
        if before.ends_with("++") || before.ends_with("--") || before.ends_with("delete") {
            return None;
        }
        if let Some(c) = member.captures(&text[i..]) {
            let m = c.get(0).unwrap();
            if assigned.is_match(&text[i + m.end()..]) {
                return None;
            }
            keys.insert(c[1].to_string());
            continue;
        }
        if let Some((_, ks)) = destructured.iter().find(|(at, _)| *at == i) {
            keys.extend(ks.iter().cloned());
            continue;
        }
        return None;
    }
    Some(keys)
}

/// How a module makes `name` reachable.
#[derive(Debug, Clone, PartialEq)]
pub enum Export {
    /// `exports.key` / `export { name as key }` / `module.exports = { key: name }`.
    Named(String),
    /// `module.exports = name` / `export default name`.
    Default,
}

/// How the module `src` exports the function or value `name`, if it does.
pub fn export_of(src: &str, name: &str) -> Option<Export> {
    let masked = mask(src);
    let n = regex::escape(name);
    let id = ident_re();
    let esm_direct = Regex::new(&format!(
        r"(?:^|[^\w$.])export\s+(?:async\s+)?(?:function\s*\*?|const|let|var|class)\s*{n}\b"
    ))
    .unwrap();
    if esm_direct.is_match(&masked) {
        return Some(Export::Named(name.into()));
    }
    let esm_default = Regex::new(&format!(
        r"(?:^|[^\w$.])export\s+default\s+(?:(?:async\s+)?function\s*\*?\s*{n}\b|class\s+{n}\b|{n}\s*(?:;|$|\n))"
    ))
    .unwrap();
    if esm_default.is_match(&masked) {
        return Some(Export::Default);
    }
    let list = Regex::new(r"(?:^|[^\w$.])export\s*\{([^}]*)\}").unwrap();
    for c in list.captures_iter(&masked) {
        for item in c[1].split(',') {
            let item = item.trim();
            let (local, exported) = match item.split_once(" as ") {
                Some((l, e)) => (l.trim(), e.trim()),
                None => (item, item),
            };
            if local == name {
                return Some(if exported == "default" {
                    Export::Default
                } else {
                    Export::Named(exported.into())
                });
            }
        }
    }
    let cjs_default = Regex::new(&format!(
        r"(?:^|[^\w$.])module\.exports\s*=\s*(?:(?:async\s+)?function\s*\*?\s*{n}\b|{n}\s*(?:;|$|\n))"
    ))
    .unwrap();
    if cjs_default.is_match(&masked) {
        return Some(Export::Default);
    }
    let cjs_prop = Regex::new(&format!(
        r"(?:^|[^\w$.])(?:module\.)?exports\.({id})\s*=\s*({id})?"
    ))
    .unwrap();
    for c in cjs_prop.captures_iter(&masked) {
        let key = &c[1];
        let rhs = c.get(2).map(|m| m.as_str()).unwrap_or("");
        if rhs == name || (key == name && (rhs.is_empty() || rhs == "function" || rhs == "async")) {
            return Some(Export::Named(key.into()));
        }
    }
    let cjs_obj = Regex::new(r"(?:^|[^\w$.])module\.exports\s*=\s*\{").unwrap();
    for m in cjs_obj.find_iter(&masked) {
        let open = m.end() - 1;
        let Some(close) = matching(&masked, open) else {
            continue;
        };
        for (s, e) in split_top(&masked, open + 1, close) {
            let item = masked[s..e].trim();
            let (key, val) = match item.split_once(':') {
                Some((k, v)) => (k.trim(), v.trim()),
                None => (item.split('(').next().unwrap_or("").trim(), item),
            };
            if val == name || (key == name && item.starts_with(name)) {
                return Some(Export::Named(key.into()));
            }
        }
    }
    None
}

/// The name of the innermost class declaration (`class Name … {`) whose body spans `line`.
/// V8 names a static method's frame `Function.method` (its receiver is the class constructor, a
/// `Function`), so the class of such a frame comes from the source, not from the frame.
pub fn enclosing_class(src: &str, line: u64) -> Option<String> {
    let masked = mask(src);
    let id = ident_re();
    let re = Regex::new(&format!(r"(?:^|[^\w$.])class\s+({id})\b[^{{;]*\{{")).unwrap();
    re.captures_iter(&masked)
        .filter_map(|c| {
            let open = c.get(0).unwrap().end() - 1;
            let close = matching(&masked, open)?;
            let (from, to) = (line_of(src, open), line_of(src, close));
            (from <= line && line <= to).then(|| (from, c[1].to_string()))
        })
        .max_by_key(|(from, _)| *from)
        .map(|(_, name)| name)
}

/// Places where `src` builds an instance of `class` (`new Class(…)`), as byte offsets of `new`.
pub fn constructions(src: &str, class: &str) -> Vec<usize> {
    let masked = mask(src);
    let re = Regex::new(&format!(
        r"(?:^|[^\w$.])new\s+{}\s*\(",
        regex::escape(class)
    ))
    .unwrap();
    re.find_iter(&masked)
        .map(|m| m.start() + m.as_str().find("new").unwrap_or(0))
        .collect()
}

/// How the module `src` exports the one instance of `class` it builds when it is loaded (a
/// singleton service): `module.exports = new Class(…)`, `export default new Class(…)`,
/// `exports.key = new Class(…)`, `export const key = new Class(…)`, or `const key = new Class(…)`
/// at the top level then exported by name. `None` when the module builds no instance, more than
/// one, or builds it inside a function.
pub fn singleton_export_of(src: &str, class: &str) -> Option<Export> {
    let masked = mask(src);
    let news = constructions(src, class);
    let [at] = news.as_slice() else {
        return None;
    };
    let at = *at;
    // At the module's top level: every brace and paren before `new` is closed.
    let depth = masked[..at].bytes().fold(0i64, |d, b| match b {
        b'{' | b'(' | b'[' => d + 1,
        b'}' | b')' | b']' => d - 1,
        _ => d,
    });
    if depth != 0 {
        return None;
    }
    let id = ident_re();
    let head = &masked[..at];
    let stmt = head[head.rfind([';', '\n', '}']).map_or(0, |i| i + 1)..].trim();
    if Regex::new(r"^(?:module\.exports\s*=|export\s+default)$")
        .unwrap()
        .is_match(stmt)
    {
        return Some(Export::Default);
    }
    let re = Regex::new(&format!(
        r"^(?:(?:module\.)?exports\.({id})\s*=|export\s+const\s+({id})\s*(?::[^=]*)?=)$"
    ))
    .unwrap();
    if let Some(c) = re.captures(stmt) {
        let key = c.get(1).or(c.get(2)).map(|m| m.as_str().to_string())?;
        return Some(Export::Named(key));
    }
    let local = Regex::new(&format!(r"^const\s+({id})\s*(?::[^=]*)?=$")).unwrap();
    let c = local.captures(stmt)?;
    export_of(src, &c[1])
}

/// Kind of a JavaScript value, as far as literal arguments and captured values show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    Num,
    Bool,
    Null,
    Undef,
    Arr,
    Obj,
    Other,
}

impl Kind {
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Str => "a string",
            Kind::Num => "a number",
            Kind::Bool => "a boolean",
            Kind::Null => "null",
            Kind::Undef => "undefined",
            Kind::Arr => "an array",
            Kind::Obj => "an object",
            Kind::Other => "another value",
        }
    }

    /// Concrete kinds whose mismatch means "the wrong type of value arrived".
    pub fn concrete(self) -> bool {
        matches!(
            self,
            Kind::Str | Kind::Num | Kind::Bool | Kind::Arr | Kind::Obj
        )
    }
}

fn literal_kind(masked_arg: &str) -> Kind {
    let a = masked_arg.trim();
    let first = a.chars().next().unwrap_or(' ');
    let num =
        Regex::new(r"^-?(?:\d[\d_]*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$|^-?0[xXbBoO][0-9a-fA-F_]+$")
            .unwrap();
    match first {
        '\'' | '"' | '`' if a.len() >= 2 && a.ends_with(first) => Kind::Str,
        '[' if a.ends_with(']') => Kind::Arr,
        '{' if a.ends_with('}') => Kind::Obj,
        _ if num.is_match(a) => Kind::Num,
        _ => match a {
            "true" | "false" => Kind::Bool,
            "null" => Kind::Null,
            "undefined" => Kind::Undef,
            _ => Kind::Other,
        },
    }
}

/// For every call `name(…)` in `src`, the kinds of its literal arguments by position.
pub fn call_site_kinds(src: &str, name: &str) -> Vec<Vec<Kind>> {
    let masked = mask(src);
    let re = Regex::new(&format!(
        r"(?:^|[^\w$])(function\s*\*?\s*)?{}\s*\(",
        regex::escape(name)
    ))
    .unwrap();
    let mut out = Vec::new();
    for c in re.captures_iter(&masked) {
        if c.get(1).is_some() {
            continue;
        }
        let m = c.get(0).unwrap();
        let open = m.end() - 1;
        let Some(close) = matching(&masked, open) else {
            continue;
        };
        let kinds: Vec<Kind> = split_top(&masked, open + 1, close)
            .into_iter()
            .map(|(s, e)| literal_kind(&masked[s..e]))
            .collect();
        if kinds.iter().any(|k| *k != Kind::Other) {
            out.push(kinds);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enclosing_class_is_the_innermost_class_around_the_line() {
        let src = "export class InvoiceFormatError extends Error {}\n\nexport class Invoice {\n  static fromCells(cells: string[]): Invoice {\n    const [a] = cells;\n    return new Invoice(a);\n  }\n}\nconst Other = class {\n  static x() {}\n};\nfunction loose() {}\n";
        assert_eq!(enclosing_class(src, 4).as_deref(), Some("Invoice"));
        assert_eq!(enclosing_class(src, 5).as_deref(), Some("Invoice"));
        assert_eq!(
            enclosing_class(src, 1).as_deref(),
            Some("InvoiceFormatError")
        );
        // Anonymous class expressions and code outside any class have none.
        assert_eq!(enclosing_class(src, 10), None);
        assert_eq!(enclosing_class(src, 12), None);
        // `class` inside a string or comment is not a declaration.
        assert_eq!(
            enclosing_class(
                "// class Fake {\nconst s = 'class Nope {';\nfunction f() {}\n",
                3
            ),
            None
        );
    }

    #[test]
    fn masks_strings_and_comments() {
        let m = mask("a('x)y', /* (z */ b) // (c\nconst r = /\\(/; `(${x}`");
        assert!(!m.contains("(z") && !m.contains("(c") && !m.contains("x)y"));
        assert_eq!(
            m.len(),
            "a('x)y', /* (z */ b) // (c\nconst r = /\\(/; `(${x}`".len()
        );
    }

    #[test]
    fn finds_definitions() {
        let src = "'use strict';\nfunction formatRow(category, total, currency = 'USD') {\n  return total.toFixed(2);\n}\nconst pad = (text, width, align = 'left') => {\n  x;\n};\nexport const one = async x => x.y;\nclass A {\n  static make({ a, b: c }, [d, e]) {\n    return 1;\n  }\n  get(id) {\n    return id.x;\n  }\n}\n";
        let d = find_function(src, "formatRow", Some(3)).unwrap();
        assert_eq!(d.params.len(), 3);
        assert_eq!(
            d.params[2],
            Param::Simple {
                name: "currency".into(),
                has_default: true
            }
        );
        assert!(!d.is_method);
        let p = find_function(src, "pad", Some(6)).unwrap();
        assert_eq!(p.params.len(), 3);
        let o = find_function(src, "one", Some(8)).unwrap();
        assert!(o.is_async);
        let m = find_function(src, "make", Some(11)).unwrap();
        assert!(m.is_method && m.is_static);
        assert_eq!(
            m.params[0],
            Param::Object {
                fields: vec![("a".into(), "a".into()), ("b".into(), "c".into())],
                has_rest: false
            }
        );
        assert_eq!(
            m.params[1],
            Param::Array {
                vars: vec!["d".into(), "e".into()],
                has_rest: false
            }
        );
        let g = find_function(src, "get", Some(14)).unwrap();
        assert!(g.is_method && !g.is_static);
        // the crash line must be inside the body
        assert!(find_function(src, "formatRow", Some(20)).is_none());
    }

    #[test]
    fn typescript_params() {
        let src = "export function f(a: number, b?: string, c: Map<string, number> = new Map()): string {\n  return b!;\n}\n";
        let d = find_function(src, "f", Some(2)).unwrap();
        let names: Vec<_> = d
            .params
            .iter()
            .map(|p| match p {
                Param::Simple { name, .. } => name.as_str(),
                _ => "?",
            })
            .collect();
        assert_eq!(names, ["a", "b", "c"]);
    }

    #[test]
    fn singleton_exports() {
        let cls = "class Svc {\n  run(a) { return a; }\n}\n";
        let one = |tail: &str| singleton_export_of(&format!("{cls}{tail}"), "Svc");
        assert_eq!(one("module.exports = new Svc();\n"), Some(Export::Default));
        assert_eq!(
            one("export default new Svc({ retries: 2 });\n"),
            Some(Export::Default)
        );
        assert_eq!(
            one("export const reports = new Svc();\n"),
            Some(Export::Named("reports".into()))
        );
        assert_eq!(
            one("exports.reports = new Svc();\n"),
            Some(Export::Named("reports".into()))
        );
        assert_eq!(
            one("const reports: Svc = new Svc();\nmodule.exports = { reports };\n"),
            Some(Export::Named("reports".into()))
        );
        assert_eq!(
            one("const svc = new Svc();\nexport default svc;\n"),
            Some(Export::Default)
        );
        // Not exported, two instances, built inside a function, or only the class exported.
        assert_eq!(one("const svc = new Svc();\nsvc.run(1);\n"), None);
        assert_eq!(
            one("exports.a = new Svc();\nexports.b = new Svc();\n"),
            None
        );
        assert_eq!(
            one("module.exports = function make() { return new Svc(); };\n"),
            None
        );
        assert_eq!(one("module.exports = Svc;\n"), None);
        assert_eq!(one("// module.exports = new Svc();\n"), None);
        assert_eq!(one("let svc = new Svc();\nmodule.exports = svc;\n"), None);
    }

    #[test]
    fn exports() {
        assert_eq!(
            export_of(
                "module.exports = { formatRow, x: renderReport };",
                "formatRow"
            ),
            Some(Export::Named("formatRow".into()))
        );
        assert_eq!(
            export_of(
                "module.exports = { formatRow, x: renderReport };",
                "renderReport"
            ),
            Some(Export::Named("x".into()))
        );
        assert_eq!(
            export_of("exports.pad = pad;", "pad"),
            Some(Export::Named("pad".into()))
        );
        assert_eq!(
            export_of("module.exports = pad;\n", "pad"),
            Some(Export::Default)
        );
        assert_eq!(
            export_of("export function pad(a) {}", "pad"),
            Some(Export::Named("pad".into()))
        );
        assert_eq!(
            export_of("function p() {}\nexport { p as pad };", "p"),
            Some(Export::Named("pad".into()))
        );
        assert_eq!(
            export_of("export default function pad() {}", "pad"),
            Some(Export::Default)
        );
        assert_eq!(
            export_of("function pad() {}\n// module.exports = { pad }", "pad"),
            None
        );
    }

    #[test]
    fn reassignment() {
        let src = "function f(a, b) {\n  a += 1;\n  if (b == 2) {}\n  return a;\n}\n";
        let d = find_function(src, "f", Some(4)).unwrap();
        assert!(reassigned(src, d.body, "a", Some(4)));
        assert!(!reassigned(src, d.body, "b", Some(4)));
    }

    fn reads(src: &str, f: &str, var: &str) -> Option<Vec<String>> {
        let d = find_function(src, f, None).unwrap();
        member_reads(src, d.body, var).map(|k| k.into_iter().collect())
    }

    #[test]
    fn member_reads_only() {
        let ok = "function q(order) {\n  const p = { c: order.country.trim(), w: order?.weightGrams + 1 };\n  log(`${p.c}`, order.id);\n  const { express, id: ref = 'x' } = order;\n  return card.price(p, order!.tax); // order passed? no: a comment\n}\n";
        assert_eq!(
            reads(ok, "q", "order").unwrap(),
            ["country", "express", "id", "tax", "weightGrams"]
        );
        // Any other use: passed on, aliased, spread, enumerated, computed, mutated, deleted, in a
        // template substitution, `arguments`, a rest destructuring.
        for body in [
            "save(order);",
            "const o = order;",
            "return { ...order };",
            "Object.keys(order);",
            "return order[k];",
            "order.total = 1;",
            "order.n++;",
            "order.n += 2;",
            "delete order.id;",
            "return `${order}`;",
            "return `${order.id}`;",
            "use(arguments);",
            "const { id, ...rest } = order;",
            "items.map((order) => order.id);",
        ] {
            let src = format!("function q(order) {{\n  const a = order.id;\n  {body}\n}}\n");
            assert_eq!(reads(&src, "q", "order"), None, "{body}");
        }
        // `x.order` is another object's member; `order == 1` is a comparison, not an assignment.
        let src = "function q(order) {\n  return x.order + (order.n == 1 ? order.m : 0);\n}\n";
        assert_eq!(reads(src, "q", "order").unwrap(), ["m", "n"]);
    }

    #[test]
    fn anonymous_default_exports() {
        let arrow = "import r from './r.json';\n\nexport default async (amountCents, currency) => {\n  const rate = r[currency];\n  return amountCents * rate.mid;\n};\n";
        let d = find_function(arrow, "default", Some(5)).unwrap();
        assert!(d.is_async && !d.is_method);
        assert_eq!(d.params.len(), 2);
        let func = "export default function (line, n) {\n  return JSON.parse(line);\n}\n";
        let d = find_function(func, "default", Some(2)).unwrap();
        assert!(matches!(&d.params[0], Param::Simple { name, .. } if name == "line"));
        let bare = "export default x => {\n  return x.y;\n};\n";
        assert_eq!(
            find_function(bare, "default", Some(2))
                .unwrap()
                .params
                .len(),
            1
        );
        let cjs = "'use strict';\nmodule.exports = async function (a, b) {\n  return a.b;\n};\n";
        let d = find_function(cjs, "default", Some(3)).unwrap();
        assert!(d.is_async && d.params.len() == 2);
        let cjs_arrow = "module.exports = (rows) => {\n  return rows.x;\n};\n";
        assert_eq!(
            find_function(cjs_arrow, "default", Some(2)).unwrap().line,
            1
        );
        // A named default export is found by its own name, and "default" finds nothing else.
        let named =
            "export default function parse(line) {\n  return 1;\n}\nconst o = { default: 1 };\n";
        assert!(find_function(named, "default", Some(2)).is_none());
    }

    #[test]
    fn call_sites() {
        let k = call_site_kinds("formatRow('meals', 18.25, 'USD');\nformatRow(row.category, x, c);\nfunction formatRow(a, b, c) {}", "formatRow");
        assert_eq!(k, vec![vec![Kind::Str, Kind::Num, Kind::Str]]);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(120))]
        #[test]
        fn never_panics_on_any_text(src in "(?s)[a-z(){}\\[\\]'\"`/*=>,:.$ \n\u{e9}\u{2028}\u{1F600}<>?!;-]{0,200}") {
            let m = mask(&src);
            proptest::prop_assert_eq!(m.len(), src.len());
            let _ = find_function(&src, "f", Some(3));
            let _ = find_function(&src, "f", None);
            let _ = export_of(&src, "f");
            let _ = call_site_kinds(&src, "f");
            if let Some(d) = find_function(&src, "a", None) {
                let _ = reassigned(&src, d.body, "a", Some(2));
                let _ = member_reads(&src, d.body, "a");
            }
            if let Some(d) = find_function(&src, "default", Some(2)) {
                let _ = member_reads(&src, d.body, "a");
            }
        }
    }
}
