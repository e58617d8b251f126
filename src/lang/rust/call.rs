//! Call replay: the receivers a method can be called on and `plan_call`, the search over values.
//!
//! Why: a receiver is built honestly or not at all (`Default`, a public `new()`, a public
//! constructor of revealed values, or a literal of an all-public struct), and the search is
//! capped so the test stays fast.

use super::source::*;
use super::values::*;
use serde::Serialize;

/// How the test builds the receiver of a method.
#[derive(Debug, Clone, Default, Serialize)]
pub(super) struct Receiver {
    /// Associated function called on the type: `default`, `new`, `from_config`, …
    pub(super) ctor: String,
    /// `plain`, `result` (`Ok` required), `option` (`Some` required) or `literal` (`Type { … }`).
    pub(super) wrap: &'static str,
    pub(super) args: Vec<Arg>,
    /// Field names of a struct literal, in the order of `args`.
    pub(super) fields: Vec<String>,
}

/// Ways to build a `Type` value honestly, most direct first: `Type::default()` when it derives or
/// implements `Default`, a public `new()`, then public constructors (no receiver, returning `Self`,
/// `Result<Self, _>` or `Option<Self>`) whose parameters are all replayable.
pub(super) fn receivers(text: &str, impls: &str, ty: &str) -> Vec<Receiver> {
    let mut out = Vec::new();
    let t = regex::escape(ty);
    let derive = regex::Regex::new(&format!(
        r"#\[derive\([^)]*\bDefault\b[^)]*\)\]\s*(?:#\[[^\]]*\]\s*|///[^\n]*\n\s*)*pub\s+struct\s+{t}\b\s*[{{;(]"
    ));
    let manual = regex::Regex::new(&format!(
        r"impl\s+(?:std::default::|core::default::)?Default\s+for\s+{t}\s*\{{"
    ));
    if derive.is_ok_and(|r| r.is_match(text)) || manual.is_ok_and(|r| r.is_match(text)) {
        out.push(Receiver {
            ctor: "default".into(),
            wrap: "plain",
            args: vec![],
            fields: vec![],
        });
    }
    let Ok(fns) = regex::Regex::new(r"(?m)^\s*pub\s+(?:const\s+)?fn\s+([A-Za-z_][A-Za-z0-9_]*)")
    else {
        return out;
    };
    let mut cands: Vec<(usize, Receiver)> = Vec::new();
    for c in fns.captures_iter(impls) {
        let name = c[1].to_string();
        if !is_rust_ident(&name) || name == "default" {
            continue;
        }
        let Some(sig) = fn_sig(impls, &name) else {
            continue;
        };
        if sig.receiver() || !sig.generics.is_empty() || sig.is_async {
            continue;
        }
        let ret: String = sig.ret.split_whitespace().collect();
        let wrap = if ret == "Self" || ret == ty {
            "plain"
        } else if ret.starts_with("Result<Self,") || ret.starts_with(&format!("Result<{ty},")) {
            "result"
        } else if ret == "Option<Self>" || ret == format!("Option<{ty}>") {
            "option"
        } else {
            continue;
        };
        let Some(args) = sig_args(&sig, 10).map(for_receiver) else {
            continue;
        };
        let rank = match (name.as_str(), args.is_empty()) {
            ("new", true) => 0,
            (_, true) => 1,
            ("new", false) => 2,
            _ => 3,
        };
        cands.push((
            rank,
            Receiver {
                ctor: name,
                wrap,
                args,
                fields: vec![],
            },
        ));
    }
    cands.sort_by_key(|c| c.0);
    out.extend(cands.into_iter().map(|c| c.1));
    if let Some(r) = struct_literal(text, ty) {
        out.push(r);
    }
    out
}

/// Marks the arguments of a receiver's constructor (or the fields of its literal).
pub(super) fn for_receiver(mut args: Vec<Arg>) -> Vec<Arg> {
    for a in &mut args {
        a.recv = true;
    }
    args
}

/// `Type { field: …, … }` when every field is `pub` and of a replayable type (and the struct is not
/// `#[non_exhaustive]`): the fields are searched like parameters.
pub(super) fn struct_literal(text: &str, ty: &str) -> Option<Receiver> {
    let re = regex::Regex::new(&format!(
        r"(?m)^(\s*#\[[^\]]*\]\s*)*\s*pub\s+struct\s+{}\s*\{{",
        regex::escape(ty)
    ))
    .ok()?;
    let m = re.find(text)?;
    if m.as_str().contains("non_exhaustive") {
        return None;
    }
    let (body, _) = block_body(text, m.end() - 1)?;
    let body: String = body
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let mut names = Vec::new();
    let mut params = Vec::new();
    let attrs = regex::Regex::new(r"^(#\[[^\]]*\]\s*)*").ok()?;
    for f in split_top(&body) {
        let f = attrs.replace(f.trim(), "");
        let rest = f.strip_prefix("pub ")?;
        let (name, _) = rest.split_once(':')?;
        let name = name.trim();
        if !is_rust_ident(name) {
            return None;
        }
        names.push(name.to_string());
        params.push(rest.trim().to_string());
    }
    if names.is_empty() {
        return None;
    }
    let sig = Sig {
        params,
        ..Default::default()
    };
    let args = for_receiver(sig_args(&sig, 10)?);
    Some(Receiver {
        ctor: String::new(),
        wrap: "literal",
        args,
        fields: names,
    })
}

/// Strings, integers and string lists to search, and the number of calls that makes.
pub(super) type SearchPlan = (
    Vec<String>,
    Vec<i128>,
    Vec<Vec<String>>,
    Vec<Vec<i128>>,
    usize,
);

/// The candidate lists for `args`, trimmed so that the whole search stays under `cap` calls;
/// `None` when a string parameter has no value the event revealed.
pub(super) fn plan_call(args: &[Arg], rev: &Revealed, msg: &str, cap: usize) -> Option<SearchPlan> {
    let has = |k: &[&str]| args.iter().any(|a| k.contains(&a.kind));
    // `Option` parameters get `None` and every candidate, but count as their inner kind: `None`
    // alone is no input the event revealed.
    let str_kinds = [
        "str",
        "string",
        "string_ref",
        "str_ref_ref",
        "opt_str",
        "opt_string",
    ];
    let list_kinds = [
        "str_slice",
        "str_vec",
        "string_slice",
        "string_vec",
        "string_vec_ref",
    ];
    let mut strings = rev.strings.clone();
    let mut ints = rev.ints.clone();
    let mut lists = rev.lists.clone();
    let int_lists = rev.int_lists.clone();
    let int_list_kinds = ["int_slice", "int_vec", "int_vec_ref"];
    // Words of sentences alone are too weak to stand for a string input: a test searching them
    // would likely pass on the buggy code.
    if (has(&str_kinds) || has(&list_kinds)) && rev.quoted == 0 {
        return None;
    }
    if !has(&str_kinds) && !has(&list_kinds) && !args.is_empty() && !arithmetic_or_index(msg) {
        // (integer lists included: an empty list is no input the event revealed)
        // Integers alone say nothing about an unwrap or a custom panic unless the event named them.
        let named = ints_in(msg);
        if named.is_empty() {
            return None;
        }
    }
    // Only integers (no string or list the event revealed): an add/multiply/shift overflow of a
    // type wider than 8 bits needs a number the event names outside the small range, else the
    // search cannot reach the overflow and the test would pass on the buggy code (a caller taking the revealed string
    // that leads to it is the honest replay).
    if !has(&str_kinds)
        && !has(&list_kinds)
        && !has(&int_list_kinds)
        && has(&["int", "opt_int"])
        && !args.iter().any(|a| matches!(a.ty, "u8" | "i8"))
        && overflow_needs_large_ints(msg)
        && !rev.named_ints.iter().any(|n| !(-1..=16).contains(n))
    {
        return None;
    }
    let count = |s: &Vec<String>, i: &Vec<i128>, l: &Vec<Vec<String>>| -> usize {
        args.iter()
            .map(|a| match a.kind {
                "int" => i.len(),
                "opt_int" => i.len() + 1,
                "bool" => 2,
                k if int_list_kinds.contains(&k) => int_lists.len(),
                "opt_str" | "opt_string" => s.len() + 1 + usize::from(a.recv),
                k if str_kinds.contains(&k) => s.len() + usize::from(a.recv),
                _ => l.len(),
            })
            .fold(1usize, |acc, n| acc.saturating_mul(n.max(1)))
    };
    while count(&strings, &ints, &lists) > cap {
        let uses = |k: &[&str]| args.iter().any(|a| k.contains(&a.kind));
        let mut lens = Vec::new();
        if uses(&str_kinds) {
            lens.push((strings.len(), 0));
        }
        if uses(&["int", "opt_int"]) {
            lens.push((ints.len(), 1));
        }
        if uses(&list_kinds) {
            lens.push((lists.len(), 2));
        }
        match lens.into_iter().filter(|(l, _)| *l > 1).max() {
            Some((l, 0)) => strings.truncate(l * 2 / 3),
            Some((l, 1)) => ints.truncate(l * 2 / 3),
            Some((l, _)) => lists.truncate(l * 2 / 3),
            None => break,
        }
    }
    let n = count(&strings, &ints, &lists);
    Some((strings, ints, lists, int_lists, n))
}
