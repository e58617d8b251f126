//! Values the event reveals, and how the test passes them.
//!
//! Why: Rust events carry no variables. The values come from quoted parts of the panic message
//! (the sliced string of a slicing panic), value-like words and numbers, breadcrumbs, `extra`,
//! custom tags and contexts, and the request's query, path and body. A string parameter needs a
//! quoted or data value; integers alone are searched only for index/arithmetic panics or when the
//! message names numbers.

use crate::alert::Alert;

/// The string a slicing panic names: `byte index 5 is not a char boundary; … of \`héllo\``,
/// `byte index 9 is out of range of \`abc\``, `begin <= end (4 <= 2) when slicing \`abc\``.
/// `None` when the message is not one of those or rustc truncated the string (`[...]`).
pub fn sliced_string(msg: &str) -> Option<&str> {
    if !msg.ends_with('`') || !(msg.contains("byte index") || msg.contains("when slicing")) {
        return None;
    }
    let start = ["when slicing `", " of `"]
        .iter()
        .filter_map(|m| msg.find(m).map(|i| i + m.len()))
        .min()?;
    let s = &msg[start..msg.len() - 1];
    (!s.ends_with("[...]")).then_some(s)
}

/// How the test passes a candidate of `kind` held in loop variable `v` (fixed code, no event text).
pub(super) fn arg_expr(kind: &str, v: &str) -> String {
    match kind {
        "str" | "int" | "bool" | "str_slice" | "opt_str" | "opt_int" => v.to_string(),
        "opt_string" => format!("{v}.map(str::to_string)"),
        "str_ref_ref" => format!("&{v}"),
        "string" => format!("{v}.to_string()"),
        "string_ref" => format!("&{v}.to_string()"),
        "int_slice" | "int_vec_ref" => format!("&{v}"),
        "int_vec" => format!("{v}.clone()"),
        "str_vec" => format!("{v}.to_vec()"),
        "string_slice" | "string_vec_ref" => {
            format!("&{v}.iter().map(|s| s.to_string()).collect::<Vec<String>>()")
        }
        _ => format!("{v}.iter().map(|s| s.to_string()).collect::<Vec<String>>()"),
    }
}

/// Values the event reveals (panic message, breadcrumbs, extra, tags), most specific first.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Revealed {
    pub strings: Vec<String>,
    pub ints: Vec<i128>,
    pub lists: Vec<Vec<String>>,
    pub int_lists: Vec<Vec<i128>>,
    /// Strings that were quoted or named as data (not mere words of a sentence).
    pub quoted: usize,
    /// Integers the event itself names (message, breadcrumbs, extra, tags, request), before the
    /// ±1 neighbours and the small range `ints` adds.
    pub named_ints: Vec<i128>,
}

pub(super) fn push_unique<T: PartialEq>(v: &mut Vec<T>, x: T) {
    if !v.contains(&x) {
        v.push(x);
    }
}

/// Segments between matching quote characters: `` `a` ``, `"a"` (Debug escapes undone), `'ab'`.
pub(super) fn quoted_segments(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(re) = regex::Regex::new(r#""((?:[^"\\]|\\.)*)""#) {
        for c in re.captures_iter(text) {
            let raw = &c[1];
            let un = serde_json::from_str::<String>(&format!("\"{raw}\""))
                .unwrap_or_else(|_| raw.replace("\\\"", "\"").replace("\\\\", "\\"));
            out.push(un);
        }
    }
    for q in ['`', '\''] {
        let parts: Vec<&str> = text.split(q).collect();
        for (i, p) in parts.iter().enumerate() {
            if i % 2 == 1 && i + 1 < parts.len() && (q == '`' || p.chars().count() > 1) {
                out.push(p.to_string());
            }
        }
    }
    out
}

/// `key=value` / `key: value` values and the words of a free-text line.
pub(super) fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for w in text.split_whitespace() {
        let w = w.trim_matches(|c: char| ",;()[]{}<>".contains(c) || c == '.' && !w.contains(".."));
        let w = w.trim_end_matches(':');
        if let Some((_, v)) = w.split_once('=') {
            if !v.is_empty() {
                out.push(v.to_string());
            }
        }
        if !w.is_empty() {
            out.push(w.to_string());
        }
    }
    out
}

pub(super) fn ints_in(text: &str) -> Vec<i128> {
    let re = regex::Regex::new(r"-?\b\d{1,30}\b").expect("static regex");
    re.find_iter(text)
        .filter_map(|m| m.as_str().parse::<i128>().ok())
        .collect()
}

pub(super) fn collect_json(v: &serde_json::Value, rev: &mut Revealed, depth: usize) {
    use serde_json::Value;
    if depth > 4 {
        return;
    }
    match v {
        Value::String(s) => {
            push_unique(&mut rev.strings, s.clone());
            if let Ok(n) = s.trim().parse::<i128>() {
                push_unique(&mut rev.ints, n);
            }
        }
        Value::Number(n) => {
            if let Some(n) = n.as_i64() {
                push_unique(&mut rev.ints, n as i128);
            } else if let Some(n) = n.as_u64() {
                push_unique(&mut rev.ints, n as i128);
            }
            push_unique(&mut rev.strings, n.to_string());
        }
        Value::Array(a) => {
            let strs: Vec<String> = a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect();
            if !a.is_empty() && strs.len() == a.len() {
                push_unique(&mut rev.lists, strs);
            }
            let nums: Vec<i128> = a
                .iter()
                .filter_map(|x| x.as_i64().map(i128::from))
                .collect();
            if !a.is_empty() && nums.len() == a.len() {
                push_unique(&mut rev.int_lists, nums);
            }
            for x in a.iter().take(50) {
                collect_json(x, rev, depth + 1);
            }
        }
        Value::Object(o) => {
            for x in o.values().take(50) {
                collect_json(x, rev, depth + 1);
            }
        }
        _ => {}
    }
}

/// Everything the event says about inputs: quoted strings and numbers of the panic message, the last
/// breadcrumbs (newest first: apps log what they are about to process), `extra` and custom tags.
pub fn revealed_values(alert: &Alert, message: &str) -> Revealed {
    let mut rev = Revealed::default();
    if let Some(s) = sliced_string(message) {
        push_unique(&mut rev.strings, s.to_string());
    }
    // rustc's own quoting (`Option::unwrap()`, `Err`) names no input.
    const BOILERPLATE: &[&str] = &[
        "Option::unwrap()",
        "Result::unwrap()",
        "Option::expect()",
        "Result::expect()",
        "Result::unwrap_err()",
        "None",
        "Err",
        "Ok",
        "Some",
    ];
    for q in quoted_segments(message) {
        // `[...]`: rustc cut a long string; it is not the input.
        if !BOILERPLATE.contains(&q.as_str()) && !q.ends_with("[...]") {
            push_unique(&mut rev.strings, q);
        }
    }
    let crumbs: Vec<_> = alert.breadcrumbs.iter().rev().take(20).collect();
    for b in &crumbs {
        collect_json(&b.data, &mut rev, 0);
        if let Some(m) = &b.message {
            for q in quoted_segments(m) {
                push_unique(&mut rev.strings, q);
            }
        }
    }
    collect_json(&alert.extra, &mut rev, 0);
    // Contexts the app set itself (`scope.set_context("order", …)`); the SDK's own describe the host.
    const STOCK_CONTEXTS: &[&str] = &[
        "os",
        "rust",
        "device",
        "runtime",
        "app",
        "trace",
        "culture",
        "gpu",
        "browser",
        "profile",
        "response",
        "otel",
        "cloud_resource",
        "monitor",
        "replay",
        "state",
        "flags",
    ];
    if let Some(ctx) = alert.contexts.as_object() {
        for (k, v) in ctx.iter().take(20) {
            if !STOCK_CONTEXTS.contains(&k.as_str()) {
                if let Some(o) = v.as_object() {
                    for (field, x) in o.iter().take(50) {
                        if field != "type" {
                            collect_json(x, &mut rev, 1);
                        }
                    }
                }
            }
        }
    }
    if let Some(req) = &alert.request {
        for (_, v) in &req.query {
            push_unique(&mut rev.strings, v.clone());
            if let Ok(n) = v.parse::<i128>() {
                push_unique(&mut rev.ints, n);
            }
        }
        match &req.data {
            // A raw body: JSON the SDK did not parse, or a form (`sku=CAP-GRN&qty=12+pcs`).
            Some(serde_json::Value::String(raw)) => {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(raw) {
                    collect_json(&v, &mut rev, 0);
                } else if raw.contains('=') && !raw.contains(char::is_whitespace) {
                    for pair in raw.split('&').take(50) {
                        let v = pair.split_once('=').map(|x| x.1).unwrap_or("");
                        let v = crate::alert::percent_decode(v);
                        if let Ok(n) = v.trim().parse::<i128>() {
                            push_unique(&mut rev.ints, n);
                        }
                        push_unique(&mut rev.strings, v);
                    }
                }
                push_unique(&mut rev.strings, raw.clone());
            }
            Some(d) => collect_json(d, &mut rev, 0),
            None => {}
        }
        // Path segments (`/orders/SKU-9`): web handlers pass them on.
        if let Some(url) = &req.url {
            let path = url.split(['?', '#']).next().unwrap_or("");
            let path = path.split_once("://").map(|x| x.1).unwrap_or(path);
            for seg in path.split('/').skip(1).filter(|s| !s.is_empty()) {
                push_unique(&mut rev.strings, seg.to_string());
                if let Ok(n) = seg.parse::<i128>() {
                    push_unique(&mut rev.ints, n);
                }
            }
        }
    }
    // Value-like words (`SKU-17`, `3x`, `a@b.c`): how `panic!("unknown sku {sku}")` names input.
    let value_like = |w: &String| {
        w.parse::<i128>().is_err()
            && !BOILERPLATE.iter().any(|b| w.contains(b))
            && (w
                .chars()
                .any(|c| c.is_ascii_digit() || "-_/@.#".contains(c))
                || w.len() > 1 && !w.chars().any(|c| c.is_lowercase()))
    };
    for w in words(message).into_iter().filter(value_like) {
        push_unique(&mut rev.strings, w);
    }
    for b in &crumbs {
        for w in words(b.message.as_deref().unwrap_or(""))
            .into_iter()
            .filter(value_like)
        {
            push_unique(&mut rev.strings, w);
        }
    }
    rev.quoted = rev.strings.len();
    const STOCK_TAGS: &[&str] = &[
        "environment",
        "release",
        "level",
        "os",
        "os.name",
        "runtime",
        "runtime.name",
        "device",
        "device.family",
        "server_name",
        "dist",
        "transaction",
        "handled",
        "mechanism",
        "user",
    ];
    for (k, v) in &alert.tags {
        if !STOCK_TAGS.contains(&k.as_str()) {
            push_unique(&mut rev.strings, v.clone());
        }
    }
    for b in &crumbs {
        if let Some(m) = &b.message {
            for w in words(m) {
                push_unique(&mut rev.strings, w);
            }
            push_unique(&mut rev.strings, m.clone());
            for n in ints_in(m) {
                push_unique(&mut rev.ints, n);
            }
        }
    }
    for w in words(message) {
        push_unique(&mut rev.strings, w);
    }
    let mut ints = ints_in(message);
    ints.append(&mut rev.ints);
    let mut out_ints = Vec::new();
    for n in &ints {
        push_unique(&mut out_ints, *n);
    }
    rev.named_ints = out_ints.clone();
    for n in &ints {
        push_unique(&mut out_ints, n - 1);
        push_unique(&mut out_ints, n + 1);
    }
    for n in 0..=16 {
        push_unique(&mut out_ints, n);
    }
    if let Some(s) = sliced_string(message) {
        for n in 0..=(s.len() as i128 + 1).min(4096) {
            push_unique(&mut out_ints, n);
        }
    }
    push_unique(&mut out_ints, -1);
    rev.ints = out_ints;
    let quoted_kept = rev.strings[..rev.quoted.min(rev.strings.len())]
        .iter()
        .filter(|s| s.len() <= 4096)
        .count();
    rev.strings.retain(|s| s.len() <= 4096);
    rev.quoted = quoted_kept;
    rev.strings.truncate(200);
    // At most 64 KiB of literals in the generated test.
    let mut total = 0;
    let keep = rev
        .strings
        .iter()
        .take_while(|s| {
            total += s.len();
            total <= 64 * 1024
        })
        .count()
        .max(1);
    rev.strings.truncate(keep);
    rev.quoted = rev.quoted.min(rev.strings.len());
    // Lists: what the event held as arrays, the quoted strings as one list, and for a reported
    // length `n` the first `n` strings (an index past the end needs only the length right).
    let quoted: Vec<String> = rev.strings[..rev.quoted.min(rev.strings.len())].to_vec();
    if !quoted.is_empty() {
        push_unique(&mut rev.lists, quoted.clone());
    }
    if let Ok(re) = regex::Regex::new(r"the len is (\d+)") {
        if let Some(n) = re
            .captures(message)
            .and_then(|c| c[1].parse::<usize>().ok())
            .filter(|n| *n <= 64)
        {
            let pool: Vec<String> = rev.strings.iter().take(n).cloned().collect();
            let mut l = pool;
            while l.len() < n {
                l.push(format!("x{}", l.len()));
            }
            push_unique(&mut rev.lists, l);
        }
    }
    push_unique(&mut rev.lists, Vec::new());
    rev.lists.truncate(24);
    // Integer lists: the event's arrays, the empty list (a mean of nothing), the message's numbers,
    // and `0..n` for a reported length `n`.
    push_unique(&mut rev.int_lists, Vec::new());
    let named = ints_in(message);
    if !named.is_empty() {
        push_unique(&mut rev.int_lists, named);
    }
    if let Some(n) = regex::Regex::new(r"the len is (\d+)")
        .ok()
        .and_then(|re| re.captures(message))
        .and_then(|c| c[1].parse::<i128>().ok())
        .filter(|n| *n <= 64)
    {
        push_unique(&mut rev.int_lists, (0..n).collect());
    }
    rev.int_lists.truncate(24);
    rev
}

/// Panics whose inputs a small integer search can find honestly (the test still requires the exact
/// reported message at the reported file).
pub(super) fn arithmetic_or_index(msg: &str) -> bool {
    msg.starts_with("attempt to ")
        || msg.starts_with("index out of bounds")
        || msg.contains("out of range for slice")
        || msg.starts_with("range end index")
        || msg.starts_with("range start index")
        || msg.starts_with("slice index starts")
        || sliced_string(msg).is_some()
}

/// An overflow panic that integers of the small search range cannot cause: `attempt to add with
/// overflow`, `multiply`, `negate`, `shift left`, `divide` (MIN / -1)… but not `subtract`
/// (`0 - 1` overflows an unsigned integer).
pub(super) fn overflow_needs_large_ints(msg: &str) -> bool {
    msg.starts_with("attempt to ") && msg.contains("with overflow") && !msg.contains("subtract")
}
