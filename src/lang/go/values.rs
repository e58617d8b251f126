//! Values a Go test builds from the event: the input an error quotes, and method receivers.
//!
//! Why: Go events carry no variables. The only input an event gives away is the one a parser's
//! error quotes (`strconv.ParseFloat: parsing "5,5"`), unquoted here only for the escapes
//! `strconv.Quote` writes. A receiver is built only by the package's own zero-argument constructor
//! or as a zero value the app itself uses or whose touched fields are plain values: anything else
//! would test a value production never has.

use super::project::{go_dirs, go_files, go_module_for};
use super::source::{is_go_ident, package_name, struct_fields, GoDecl};
use crate::repo::Snapshot;

/// Whether a zero value of this field type works like a real one (reads, locks, appends).
pub(super) fn zero_safe_type(ty: &str) -> bool {
    const OK: &[&str] = &[
        "string",
        "bool",
        "int",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "uintptr",
        "float32",
        "float64",
        "byte",
        "rune",
        "time.Duration",
        "sync.Mutex",
        "sync.RWMutex",
        "sync.Once",
        "sync.WaitGroup",
        "atomic.Int64",
        "atomic.Int32",
        "atomic.Bool",
    ];
    OK.contains(&ty)
}

/// Whether non-test code of the module builds a zero value of struct type `ty` of the package in
/// `dir` and uses it as is: `&T{}`, `T{}`, `new(T)` or `var x T` in that package, or the same
/// qualified with the package's name (`&api.Handler{}`) elsewhere in the module. Composite literals
/// with fields do not count (those values are not zero), nor does a variable whose fields the same
/// file then sets (`s := &T{}` then `s.db = open()`: production's value is not the zero one).
pub(super) fn app_builds_zero(snap: &Snapshot, dir: &str, ty: &str) -> bool {
    let Some(module) = go_module_for(snap, format!("{dir}/x.go").trim_start_matches('/')) else {
        return false;
    };
    let Some(pkg) = go_files(snap, dir)
        .first()
        .and_then(|f| snap.read(f))
        .and_then(|t| package_name(&t))
    else {
        return false;
    };
    // (a zero value bound to a variable: group 1 names it, or in place: an argument, a field
    // value, a return)
    let patterns = |q: &str| {
        let t = format!("{q}{}", regex::escape(ty));
        let zero = format!(r"(?:&?{t}\s*\{{\s*\}}|new\(\s*{t}\s*\))");
        let bound = regex::Regex::new(&format!(
            r"^\s*(?:var\s+)?([A-Za-z_]\w*)\s*(?::=|=)\s*{zero}\s*$|^\s*var\s+([A-Za-z_]\w*)\s+{t}\s*$"
        ))
        .ok()?;
        let in_place =
            regex::Regex::new(&format!(r"(?:[(,:]\s*{zero}|^\s*return\s+{zero})")).ok()?;
        Some((bound, in_place))
    };
    let (Some(local), Some(qualified)) = (
        patterns(""),
        patterns(&format!(r"\b{}\.", regex::escape(&pkg))),
    ) else {
        return false;
    };
    go_dirs(snap, &module.dir).iter().any(|d| {
        let (bound, in_place) = if d == dir { &local } else { &qualified };
        go_files(snap, d)
            .iter()
            .filter_map(|f| snap.read(f))
            .any(|text| {
                // Comments aside, roughly: only code lines count.
                let code: Vec<&str> = text
                    .lines()
                    .filter(|l| !l.trim_start().starts_with("//"))
                    .collect();
                code.iter().any(|l| {
                    if let Some(c) = bound.captures(l) {
                        let var = c.get(1).or(c.get(2)).map(|m| m.as_str()).unwrap_or("");
                        let set = regex::Regex::new(&format!(
                            r"\b{}\.[A-Za-z_]\w*\s*(?:=[^=]|\[)",
                            regex::escape(var)
                        ));
                        return set.is_ok_and(|r| !code.iter().any(|x| r.is_match(x)));
                    }
                    in_place.is_match(l)
                })
            })
    })
}

/// An expression for the receiver of `m`: the package's own zero-argument constructor
/// (`NewServer()`), else the zero value (`(&Server{})`) when every field the handler (and the methods
/// it calls on the receiver) touches works as a zero value. None when neither is honest.
pub(super) fn receiver_expr(
    snap: &Snapshot,
    dir: &str,
    decls: &[GoDecl],
    m: &GoDecl,
) -> Option<String> {
    let (ty, ptr) = m.recv.clone()?;
    if !is_go_ident(&ty) {
        return None;
    }
    for d in decls
        .iter()
        .filter(|d| d.recv.is_none() && d.params.is_empty())
    {
        if d.results == format!("*{ty}") || (!ptr && d.results == ty) {
            return Some(format!("{}()", d.name));
        }
    }
    let fields = struct_fields(snap, dir, &ty)?;
    // The app itself serves with a zero value of the type (`c := &counter{}` in main): that zero
    // value is the production receiver, whatever its fields (a nil map included).
    if fields.is_some() && app_builds_zero(snap, dir, &ty) {
        return Some(if ptr {
            format!("(&{ty}{{}})")
        } else {
            format!("{ty}{{}}")
        });
    }
    let lit = if ptr {
        format!("(&{ty}{{}})")
    } else {
        format!("{ty}{{}}")
    };
    let Some(fields) = fields else {
        // `type Handler int` and the like: its zero value is a value.
        return Some(if ptr {
            format!("(new({ty}))")
        } else {
            format!("{ty}(*new({ty}))")
        });
    };
    // Fields used through the receiver, following methods of the same type (bounded).
    let mut todo = vec![m.clone()];
    let mut seen: Vec<String> = vec![];
    let sel = regex::Regex::new(r"\b[A-Za-z_]\w*\.([A-Za-z_]\w*)").ok()?;
    while let Some(d) = todo.pop() {
        if seen.contains(&d.name) || seen.len() > 20 {
            continue;
        }
        seen.push(d.name.clone());
        for c in sel.captures_iter(&d.body) {
            let name = &c[1];
            if let Some((_, fty)) = fields.iter().find(|(n, _)| n == name) {
                if !zero_safe_type(fty) {
                    return None;
                }
            }
            if let Some(next) = decls
                .iter()
                .find(|x| x.name == name && x.recv.as_ref().is_some_and(|r| r.0 == ty))
            {
                todo.push(next.clone());
            }
        }
    }
    Some(lit)
}

/// The input a Go error quotes and the call that rejected it (a needle searched in function bodies):
/// `strconv.ParseFloat: parsing "5,5": invalid syntax` → (`strconv.ParseFloat(`, `5,5`);
/// `parsing time "2024-13-01": month out of range` → (`time.Parse`, …); `parse "http://[::1": missing
/// ']' in host` → (`url.Parse`, …).
pub(super) fn quoted_input(msg: &str) -> Option<(String, String)> {
    static RE: std::sync::OnceLock<[regex::Regex; 3]> = std::sync::OnceLock::new();
    let res = RE.get_or_init(|| {
        [
            r#"strconv\.(Atoi|ParseInt|ParseUint|ParseFloat|ParseBool|ParseComplex): parsing "((?:[^"\\]|\\.)*)": (?:invalid syntax|value out of range)"#,
            r#"()parsing time "((?:[^"\\]|\\.)*)""#,
            r#"(?:^|: )()parse "((?:[^"\\]|\\.)*)": "#,
        ]
        .map(|p| regex::Regex::new(p).expect("static regex"))
    });
    for (i, re) in res.iter().enumerate() {
        if let Some(c) = re.captures(msg) {
            let needle = match i {
                0 => format!("strconv.{}(", &c[1]),
                1 => "time.Parse".to_string(),
                _ => "url.Parse".to_string(),
            };
            return Some((needle, go_unquote(&c[2])?));
        }
    }
    None
}

/// Undo `strconv.Quote` for the escapes it writes; None for anything else.
pub(super) fn go_unquote(s: &str) -> Option<String> {
    let mut out = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next()? {
            '"' => out.push('"'),
            '\\' => out.push('\\'),
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'a' => out.push('\u{7}'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'v' => out.push('\u{b}'),
            'x' => {
                let h: String = it.by_ref().take(2).collect();
                let b = u8::from_str_radix(&h, 16).ok()?;
                if b > 0x7f {
                    return None;
                }
                out.push(b as char);
            }
            'u' | 'U' => return None,
            _ => return None,
        }
    }
    Some(out)
}
