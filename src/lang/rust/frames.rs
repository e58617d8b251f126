//! Event frames → functions of the repository's crates.
//!
//! Why function paths: `sentry` events carry basename filenames and mark the SDK's own panic
//! handler `in_app`, so a frame belongs to the repository only when its first path segment is one
//! of the repository's crate names and its module path resolves to a file of that crate whose
//! basename is the frame's filename (a registry crate's `src/lib.rs` would suffix-match ours).

use super::project::*;
use super::source::*;
use crate::alert::Frame;
use crate::repo::Snapshot;

/// A function path with generics, closures and `<T as Trait>` qualification removed:
/// `<shortlog::Foo as core::fmt::Display>::fmt` → `["shortlog", "Foo", "fmt"]`.
pub fn clean_function_path(f: &str) -> Vec<String> {
    let mut s = f.trim().to_string();
    if s.starts_with('<') {
        if let Some(end) = matching_angle(&s, 0) {
            let inner = &s[1..end];
            let ty = inner.split(" as ").next().unwrap_or(inner).to_string();
            let rest = s[end + 1..].trim_start_matches("::").to_string();
            s = format!("{ty}::{rest}");
        }
    }
    // `a::b::<impl a::X>::f`: an inherent impl written in another module than its type (here `b`,
    // the type in `a`); the segment becomes the type's name: `a::b::X::f`.
    while let Some(start) = s.find("::<impl ") {
        let Some(end) = matching_angle(&s, start + 2) else {
            break;
        };
        let ty = impl_self_type_of(&s[start + 2..=end])
            .and_then(|p| p.last().cloned())
            .unwrap_or_default();
        s = format!("{}::{ty}{}", &s[..start], &s[end + 1..]);
    }
    let mut out = String::new();
    let mut depth = 0usize;
    for ch in s.chars() {
        match ch {
            '<' => depth += 1,
            '>' => depth = depth.saturating_sub(1),
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out.split("::")
        .map(str::trim)
        .filter(|seg| !seg.is_empty() && !seg.starts_with('{') && !seg.starts_with('&'))
        .map(str::to_owned)
        .collect()
}

/// The self type's path of an `<impl a::X>` (or `<impl Trait for a::X>`) segment, generics left
/// out: `["a", "X"]`.
pub(super) fn impl_self_type_of(seg: &str) -> Option<Vec<String>> {
    let inner = seg.strip_prefix("<impl ")?.strip_suffix('>')?;
    let ty = inner.rsplit(" for ").next().unwrap_or(inner);
    let mut out = String::new();
    let mut depth = 0usize;
    for ch in ty.chars() {
        match ch {
            '<' => depth += 1,
            '>' => depth = depth.saturating_sub(1),
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    let segs: Vec<String> = out
        .trim_start_matches('&')
        .split("::")
        .map(|x| x.trim().to_string())
        .collect();
    segs.iter().all(|x| is_rust_ident(x)).then_some(segs)
}

/// The self type's path of the innermost `<impl …>` segment of a function path, when there is one.
pub(super) fn impl_self_type(f: &str) -> Option<Vec<String>> {
    let start = f.rfind("::<impl ")? + 2;
    let end = matching_angle(f, start)?;
    impl_self_type_of(&f[start..=end])
}

pub(super) fn matching_angle(s: &str, start: usize) -> Option<usize> {
    let mut depth = 0;
    for (i, c) in s.char_indices().skip(start) {
        match c {
            '<' => depth += 1,
            '>' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// A frame of the repository's own crates.
#[derive(Debug, Clone)]
pub(super) struct RustFrame<'a> {
    pub(super) frame: &'a Frame,
    pub(super) krate: usize,
    /// Repository-relative file.
    pub(super) path: String,
    /// Module segments inside the crate (empty: crate root).
    pub(super) modules: Vec<String>,
    /// What follows the modules: `[fn]` or `[Type, method]`.
    pub(super) item: Vec<String>,
    /// The file is the library's module tree (reachable from an integration test).
    pub(super) in_lib: bool,
    /// For a method of an impl written in another module than its type (`<impl a::X>` in the
    /// function path): the type's module path inside the crate, where `X` is declared.
    pub(super) type_modules: Option<Vec<String>>,
}

pub(super) fn map_frame<'a>(
    frame: &'a Frame,
    crates: &[CrateInfo],
    snap: &Snapshot,
) -> Option<RustFrame<'a>> {
    let segs = clean_function_path(frame.function.as_deref()?);
    if segs.len() < 2 {
        return None;
    }
    let basename = frame
        .filename
        .as_deref()
        .or(frame.abs_path.as_deref())
        .map(|f| f.rsplit(['/', '\\']).next().unwrap_or(f).to_string());
    for (ci, c) in crates.iter().enumerate() {
        let names: Vec<String> = std::iter::once(c.package.replace('-', "_"))
            .chain(c.lib_name.clone())
            .collect();
        if !names.iter().any(|n| *n == segs[0]) {
            continue;
        }
        let rest = &segs[1..];
        let lib_dir = c
            .lib_path
            .rsplit_once('/')
            .map(|x| x.0)
            .unwrap_or("src")
            .to_string();
        for k in (0..rest.len()).rev() {
            let modules = &rest[..k];
            let mut cands: Vec<(String, bool)> = Vec::new();
            if modules.is_empty() {
                cands.push((c.lib_path.clone(), c.lib_name.is_some()));
                cands.extend(c.bin_paths.iter().map(|b| (b.clone(), false)));
            } else {
                let m = modules.join("/");
                cands.push((format!("{lib_dir}/{m}.rs"), c.lib_name.is_some()));
                cands.push((format!("{lib_dir}/{m}/mod.rs"), c.lib_name.is_some()));
            }
            for (p, in_lib) in cands {
                let full = c.join(&p);
                let name_ok = basename
                    .as_deref()
                    .is_none_or(|b| full.rsplit('/').next() == Some(b));
                if name_ok && snap.is_file(&full) {
                    // `pub mod tax { pub fn rate_for… }` inside `billing.rs`: the frame's
                    // `billing::tax::rate_for` names an inline module of the file, not a type.
                    let mut modules = modules.to_vec();
                    let mut item = rest[k..].to_vec();
                    let mut scope = snap.read(&full).unwrap_or_default();
                    while item.len() > 1 {
                        let Some(body) = inline_module(&scope, &item[0]) else {
                            break;
                        };
                        scope = body.to_string();
                        modules.push(item.remove(0));
                    }
                    let type_modules = frame
                        .function
                        .as_deref()
                        .and_then(impl_self_type)
                        .filter(|t| t.len() >= 2 && names.contains(&t[0]))
                        .map(|t| t[1..t.len() - 1].to_vec())
                        .filter(|t| *t != modules);
                    return Some(RustFrame {
                        frame,
                        krate: ci,
                        path: full,
                        modules,
                        item,
                        in_lib,
                        type_modules,
                    });
                }
            }
        }
    }
    None
}
