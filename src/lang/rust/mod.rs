//! Rust: an integration test in the crashing crate's `tests/` folder, run with `cargo test --test`.
//!
//! Events from the `sentry` crate carry no vars and no source context: a panic arrives as type
//! `panic` with its message as value, frames carry function paths (`stockval::valuation::value_inventory`)
//! and basename filenames, and the SDK marks its own panic handler and libc frames `in_app`. So the
//! crash site is found from the function path, not from `in_app` and not from `abs_path` alone (a
//! registry crate's `src/lib.rs` would suffix-match ours): the first path segment must be one of the
//! repository's crate names and the module path must resolve to `src/<mod>.rs` / `src/<mod>/mod.rs`
//! whose basename is the frame's filename.
//!
//! Strategy: call replay of the innermost public function of the crate on the stack (free,
//! associated, or a method of an inherent impl) whose parameters are all strings, integers, bools,
//! lists of strings or integers, or `Option`s of strings and integers (type parameters a `&str`
//! satisfies are instantiated with `&str`), with the values the event reveals. A method's receiver
//! is built honestly or not at all: `Default`, a public `new()`, a public constructor of revealed
//! values (strings tried with the empty text first: the emptiest value, like `Default`), or a
//! literal of an all-public struct; when no candidate builds it, the test fails as not reproduced.
//! A type's conversion from one string (`FromStr`, `From<&str>`, `TryFrom<&str>`, `From<String>`,
//! `TryFrom<String>`) is called with the trait named. Inline modules (`pub mod tax { … }` inside
//! `billing.rs`) are module path segments, not types. A `pub async fn` is called through a
//! `block_on` of the test (a current-thread tokio runtime when the crate has tokio's `rt`). A
//! binary's module that stands alone is compiled into the test (`#[path = "../src/m.rs"] mod m;`). The values: quoted parts of the panic message
//! (`panic!("unknown sku {sku:?}")`, the sliced string of a slicing panic), value-like words,
//! numbers (len/index, ±1, and a small integer range), breadcrumb data and quoted parts of
//! breadcrumb messages (apps log what they are about to process), `extra`, custom tags and
//! contexts, and the request's query, path and body (JSON or form). The test calls
//! every combination (capped) under `catch_unwind` and fails only on the reported panic message
//! raised in a crate file of the reported stack, so it passes after a correct fix. A string
//! parameter needs a quoted or data value (words of a sentence or rustc's own quoting do not count);
//! integers alone are searched only for index/arithmetic panics or when the message names numbers,
//! and for an add/multiply/shift overflow only when the event names a number beyond the small range.
//! Impl blocks are read by their braces alone (string, char and comment braces skipped).
//! Everything else is a scaffold that `use`s the crashing (or nearest public) function, so a rename
//! breaks it, and fails with the NOT YET REPRODUCED marker.
//!
//! Placement: `tests/sentry_<id>.rs` of the crate. Cargo discovers it with no manifest change, so the
//! generated commit never edits the user's `Cargo.toml` (the file most likely to conflict). A crate
//! with `autotests = false` gets the same file plus a `[[test]]` entry appended to its manifest.

use crate::lang::EventHeader;
use anyhow::Result;
use serde::Serialize;

use super::{GenInput, GenOutput, Generator};
use crate::alert::{Alert, Frame};
use crate::contract::{CrashSite, Strategy};
use crate::git::NewFile;
use crate::render;
use crate::repo::Snapshot;

pub struct Rust;

/// One crate of the repository (the root package or a workspace member).
#[derive(Debug, Clone)]
struct CrateInfo {
    /// Folder of the crate's manifest, `""` for the root.
    dir: String,
    package: String,
    /// Library crate name (`[lib] name` or the package name with `-` → `_`), when there is a lib.
    lib_name: Option<String>,
    lib_path: String,
    /// `src/main.rs` and `[[bin]]` paths.
    bin_paths: Vec<String>,
    autotests: bool,
    workspace_member: bool,
}

impl CrateInfo {
    fn join(&self, p: &str) -> String {
        if self.dir.is_empty() {
            p.to_string()
        } else {
            format!("{}/{}", self.dir, p)
        }
    }
}

fn crates(snap: &Snapshot) -> Vec<CrateInfo> {
    let mut out = Vec::new();
    let Some(root) = snap.read("Cargo.toml") else {
        return out;
    };
    let Ok(root_toml) = root.parse::<toml::Table>() else {
        return out;
    };
    let members: Vec<String> = root_toml
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(|m| m.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let in_workspace = !members.is_empty();
    if let Some(c) = crate_info(snap, "", &root_toml, in_workspace) {
        out.push(c);
    }
    for m in members {
        let m = m.trim_end_matches('/').to_string();
        let dirs: Vec<String> = match m.strip_suffix("/*") {
            Some(parent) => snap
                .list_dir(parent)
                .into_iter()
                .filter(|(_, d)| *d)
                .map(|(n, _)| format!("{parent}/{n}"))
                .collect(),
            None => vec![m],
        };
        for d in dirs {
            if let Some(t) = snap
                .read(&format!("{d}/Cargo.toml"))
                .and_then(|s| s.parse::<toml::Table>().ok())
            {
                if let Some(c) = crate_info(snap, &d, &t, true) {
                    out.push(c);
                }
            }
        }
    }
    out
}

fn crate_info(snap: &Snapshot, dir: &str, t: &toml::Table, member: bool) -> Option<CrateInfo> {
    let pkg = t.get("package")?;
    let package = pkg.get("name")?.as_str()?.to_string();
    let mut c = CrateInfo {
        dir: dir.to_string(),
        package: package.clone(),
        lib_name: None,
        lib_path: "src/lib.rs".into(),
        bin_paths: vec![],
        autotests: pkg
            .get("autotests")
            .and_then(|v| v.as_bool())
            .unwrap_or(true),
        workspace_member: member,
    };
    let lib = t.get("lib");
    if let Some(p) = lib.and_then(|l| l.get("path")).and_then(|p| p.as_str()) {
        c.lib_path = p.trim_start_matches("./").to_string();
    }
    if lib.is_some() || snap.is_file(&c.join(&c.lib_path)) {
        let name = lib
            .and_then(|l| l.get("name"))
            .and_then(|n| n.as_str())
            .unwrap_or(&package);
        c.lib_name = Some(name.replace('-', "_"));
    }
    if snap.is_file(&c.join("src/main.rs")) {
        c.bin_paths.push("src/main.rs".into());
    }
    if let Some(bins) = t.get("bin").and_then(|b| b.as_array()) {
        for b in bins {
            if let Some(p) = b.get("path").and_then(|p| p.as_str()) {
                c.bin_paths.push(p.trim_start_matches("./").to_string());
            }
        }
    }
    Some(c)
}

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
fn impl_self_type_of(seg: &str) -> Option<Vec<String>> {
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
fn impl_self_type(f: &str) -> Option<Vec<String>> {
    let start = f.rfind("::<impl ")? + 2;
    let end = matching_angle(f, start)?;
    impl_self_type_of(&f[start..=end])
}

fn matching_angle(s: &str, start: usize) -> Option<usize> {
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
struct RustFrame<'a> {
    frame: &'a Frame,
    krate: usize,
    /// Repository-relative file.
    path: String,
    /// Module segments inside the crate (empty: crate root).
    modules: Vec<String>,
    /// What follows the modules: `[fn]` or `[Type, method]`.
    item: Vec<String>,
    /// The file is the library's module tree (reachable from an integration test).
    in_lib: bool,
    /// For a method of an impl written in another module than its type (`<impl a::X>` in the
    /// function path): the type's module path inside the crate, where `X` is declared.
    type_modules: Option<Vec<String>>,
}

fn map_rust_frame<'a>(
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

/// Whether the crate depends on tokio with a runtime feature (`rt`, `rt-multi-thread`, `full`),
/// in `[dependencies]` or `[dev-dependencies]` (an integration test may use both), its features
/// written there or in the workspace's `[workspace.dependencies]`.
fn tokio_runtime(snap: &Snapshot, c: &CrateInfo) -> bool {
    let table = |p: &str| snap.read(p).and_then(|t| t.parse::<toml::Table>().ok());
    let Some(manifest) = table(&c.join("Cargo.toml")) else {
        return false;
    };
    let root = if c.dir.is_empty() {
        None
    } else {
        table("Cargo.toml")
    };
    let ws_tokio = root
        .as_ref()
        .and_then(|r| r.get("workspace"))
        .and_then(|w| w.get("dependencies"))
        .and_then(|d| d.get("tokio"));
    let features = |v: &toml::Value| -> Vec<String> {
        v.get("features")
            .and_then(|f| f.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    ["dependencies", "dev-dependencies"].iter().any(|section| {
        let Some(dep) = manifest.get(*section).and_then(|d| d.get("tokio")) else {
            return false;
        };
        let mut fs = features(dep);
        if dep.get("workspace").and_then(|w| w.as_bool()) == Some(true) {
            fs.extend(ws_tokio.map(features).unwrap_or_default());
        }
        fs.iter()
            .any(|f| matches!(f.as_str(), "rt" | "rt-multi-thread" | "full"))
    })
}

/// A module of a binary target (frame `krate::quota::parse_quota` in `src/quota.rs` of a package
/// whose library does not declare it) that an integration test can compile in on its own: a
/// top-level module file that names no other module of the crate (`crate::`, `super::`, `mod x;`,
/// `#[path]`). Returns its path from the crate's `tests/` folder and the test's path of the item
/// (`["quota", "parse_quota"]`), when the item is declared `pub`, `pub(crate)` or `pub(super)`.
fn included_module(
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
fn module_file(c: &CrateInfo, snap: &Snapshot, modules: &[String]) -> Option<String> {
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
fn inline_module<'t>(text: &'t str, name: &str) -> Option<&'t str> {
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
fn module_text(c: &CrateInfo, snap: &Snapshot, modules: &[String]) -> Option<String> {
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

fn declares_pub(text: &str, kinds: &[&str], name: &str) -> bool {
    let kinds = kinds.join("|");
    let re = regex::Regex::new(&format!(
        r"(?m)^\s*pub\s+(?:(?:const|async|unsafe|extern\s+\S+)\s+)*(?:{kinds})\s+{}\b",
        regex::escape(name)
    ));
    re.map(|r| r.is_match(text)).unwrap_or(false)
}

/// The public path of the frame's item from outside the crate (`lib::mod::fn` or a root re-export),
/// as identifier segments; `None` when it is private or not in the library.
fn public_path(rf: &RustFrame, c: &CrateInfo, snap: &Snapshot) -> Option<Vec<String>> {
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

fn is_rust_ident(s: &str) -> bool {
    const KW: &[&str] = &[
        "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn",
        "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref",
        "return", "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe",
        "use", "where", "while", "async", "await", "dyn", "gen", "try",
    ];
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 128
        && !KW.contains(&s)
}

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

#[derive(Debug, Clone, Serialize)]
struct Arg {
    /// `str`, `string`, `string_ref`, `int`, `bool`, `str_slice`, `str_vec`, `string_slice`,
    /// `string_vec`, `string_vec_ref`.
    kind: &'static str,
    /// Integer type from a fixed list.
    ty: &'static str,
    /// Loop variable.
    var: String,
    /// The argument expression in the call (fixed code over `var`).
    expr: String,
    /// An argument of the receiver's constructor: its strings start with the empty text.
    recv: bool,
}

const INT_TYPES: &[&str] = &[
    "usize", "u8", "u16", "u32", "u64", "u128", "isize", "i8", "i16", "i32", "i64", "i128",
];

/// A parsed `pub fn` signature.
#[derive(Debug, Clone, Default)]
struct Sig {
    /// Parameters (text), split at top-level commas, the receiver included.
    params: Vec<String>,
    /// Type parameters with their bounds (inline and `where`), lifetimes left out.
    generics: Vec<(String, String)>,
    /// The return type text (`""` for none).
    ret: String,
    /// `pub async fn`: the call is a future the test runs to completion.
    is_async: bool,
}

impl Sig {
    /// `&self`, `&mut self`, `self`, `mut self` (`&'a self` too) as the first parameter.
    fn receiver(&self) -> bool {
        self.params.first().is_some_and(|p| {
            regex::Regex::new(r"^(&\s*('\w+\s+)?)?(mut\s+)?self$")
                .map(|r| r.is_match(p.trim()))
                .unwrap_or(false)
        })
    }

    /// The parameters after the receiver.
    fn args(&self) -> &[String] {
        if self.receiver() {
            &self.params[1..]
        } else {
            &self.params
        }
    }
}

/// Split `body` at top-level commas (brackets of all kinds nest).
fn split_top(body: &str) -> Vec<String> {
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
fn bracketed(text: &str, open: usize) -> Option<(&str, usize)> {
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
fn block_body(text: &str, open: usize) -> Option<(&str, usize)> {
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
fn fn_sig(text: &str, name: &str) -> Option<Sig> {
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
fn stringy_bound(bounds: &str) -> bool {
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

fn split_plus(bounds: &str) -> Vec<String> {
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
fn replayable_params(text: &str, name: &str) -> Option<Vec<Arg>> {
    let sig = fn_sig(text, name)?;
    if sig.receiver() {
        return None;
    }
    sig_args(&sig, 0)
}

/// The arguments of a parsed signature (receiver excluded), variables numbered from `first`.
fn sig_args(sig: &Sig, first: usize) -> Option<Vec<Arg>> {
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

/// How the test passes a candidate of `kind` held in loop variable `v` (fixed code, no event text).
fn arg_expr(kind: &str, v: &str) -> String {
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

/// A conversion trait implemented for a type from one string: how the test calls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Conversion {
    /// The trait as the test names it (fixed code from a closed set).
    trait_path: &'static str,
    /// The trait's function (`from_str`, `from`, `try_from`).
    method: &'static str,
    /// The argument's kind: `str` or `string`.
    kind: &'static str,
}

/// Whether the frame is `<…Type as …FromStr>::from_str`, `<…Type as …From<&str>>::from`,
/// `From<String>`, `TryFrom<&str>` or `TryFrom<String>` (the idiomatic ways to build a type from a
/// string) and `text` implements that trait for `Type`.
fn str_conversion(frame: &Frame, text: &str, ty: &str) -> Option<Conversion> {
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
fn impl_blocks(text: &str, ty: &str) -> String {
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

/// How the test builds the receiver of a method.
#[derive(Debug, Clone, Default, Serialize)]
struct Receiver {
    /// Associated function called on the type: `default`, `new`, `from_config`, …
    ctor: String,
    /// `plain`, `result` (`Ok` required), `option` (`Some` required) or `literal` (`Type { … }`).
    wrap: &'static str,
    args: Vec<Arg>,
    /// Field names of a struct literal, in the order of `args`.
    fields: Vec<String>,
}

/// Ways to build a `Type` value honestly, most direct first: `Type::default()` when it derives or
/// implements `Default`, a public `new()`, then public constructors (no receiver, returning `Self`,
/// `Result<Self, _>` or `Option<Self>`) whose parameters are all replayable.
fn receivers(text: &str, impls: &str, ty: &str) -> Vec<Receiver> {
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
fn for_receiver(mut args: Vec<Arg>) -> Vec<Arg> {
    for a in &mut args {
        a.recv = true;
    }
    args
}

/// `Type { field: …, … }` when every field is `pub` and of a replayable type (and the struct is not
/// `#[non_exhaustive]`): the fields are searched like parameters.
fn struct_literal(text: &str, ty: &str) -> Option<Receiver> {
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

fn push_unique<T: PartialEq>(v: &mut Vec<T>, x: T) {
    if !v.contains(&x) {
        v.push(x);
    }
}

/// Segments between matching quote characters: `` `a` ``, `"a"` (Debug escapes undone), `'ab'`.
fn quoted_segments(text: &str) -> Vec<String> {
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
fn words(text: &str) -> Vec<String> {
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

fn ints_in(text: &str) -> Vec<i128> {
    let re = regex::Regex::new(r"-?\b\d{1,30}\b").expect("static regex");
    re.find_iter(text)
        .filter_map(|m| m.as_str().parse::<i128>().ok())
        .collect()
}

fn collect_json(v: &serde_json::Value, rev: &mut Revealed, depth: usize) {
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
fn arithmetic_or_index(msg: &str) -> bool {
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
fn overflow_needs_large_ints(msg: &str) -> bool {
    msg.starts_with("attempt to ") && msg.contains("with overflow") && !msg.contains("subtract")
}

/// Strings, integers and string lists to search, and the number of calls that makes.
type SearchPlan = (
    Vec<String>,
    Vec<i128>,
    Vec<Vec<String>>,
    Vec<Vec<i128>>,
    usize,
);

/// The candidate lists for `args`, trimmed so that the whole search stays under `cap` calls;
/// `None` when a string parameter has no value the event revealed.
fn plan_search(args: &[Arg], rev: &Revealed, msg: &str, cap: usize) -> Option<SearchPlan> {
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

#[derive(Serialize)]
struct Ctx {
    #[serde(flatten)]
    event: EventHeader,
    fn_name: String,
    /// Segments of the `use` path (validated identifiers), empty when nothing is public.
    use_path: Vec<String>,
    extern_crate: String,
    callee: String,
    /// `Type` of an associated function `Type::callee`, else empty.
    callee_type: String,
    args: Vec<Arg>,
    /// Candidate values (rendered through `rust_str`; integers as decimal text).
    strs: Vec<String>,
    ints: Vec<String>,
    lists: Vec<Vec<String>>,
    int_lists: Vec<Vec<String>>,
    /// Basenames of the crate's files on the stack: the panic must be raised in one of them.
    crash_files: Vec<String>,
    /// The string a slicing panic names (wording differs between rustc versions).
    subject: String,
    calls: usize,
    /// Every searched argument: the receiver's constructor's, then the callee's.
    all_args: Vec<Arg>,
    /// How a method's receiver is built (`None` for functions).
    recv: Option<Receiver>,
    /// The callee is `callee_type`'s conversion from a string, called with this trait named
    /// (`std::str::FromStr`, `From<&str>`, `TryFrom<String>`…: fixed code from a closed set);
    /// empty otherwise.
    conv_trait: String,
    /// A binary's module compiled into the test (`#[path = …] mod …;`): its path from `tests/`;
    /// empty when the test imports the library.
    mod_include: String,
    /// The callee is an `async fn`: the test runs its future with `block_on`.
    is_async: bool,
    /// `block_on` is a current-thread tokio runtime (else a std thread-parking executor).
    tokio: bool,
}

impl Generator for Rust {
    fn language(&self) -> &'static str {
        "rust"
    }

    fn generate(&self, input: &GenInput) -> Result<GenOutput> {
        let alert = input.alert;
        let snap = input.snap;
        let crates = crates(snap);
        let frames = alert.primary_frames();
        // Innermost first.
        let mapped: Vec<RustFrame> = frames
            .iter()
            .rev()
            .filter_map(|f| map_rust_frame(f, &crates, snap))
            .collect();
        let sfx = render::ident_suffix(input.ident);
        let test_name = format!("sentry_{sfx}");
        let target_crate = mapped
            .first()
            .map(|m| &crates[m.krate])
            .or_else(|| crates.iter().find(|c| c.lib_name.is_some()))
            .or(crates.first());
        let pvalue = alert.exception_value().unwrap_or("").to_string();
        let mut reasons = Vec::new();
        let mut ctx = Ctx {
            event: EventHeader::new(alert, input.ident, "panic"),
            fn_name: format!("sentry_{sfx}_does_not_panic"),
            use_path: vec![],
            extern_crate: String::new(),
            callee: String::new(),
            callee_type: String::new(),
            args: vec![],
            strs: vec![],
            ints: vec![],
            lists: vec![],
            int_lists: vec![],
            crash_files: vec![],
            subject: String::new(),
            calls: 0,
            all_args: vec![],
            recv: None,
            conv_trait: String::new(),
            mod_include: String::new(),
            is_async: false,
            tokio: false,
        };
        let mut strategy = Strategy::Boilerplate;
        let mut crash = None;
        let mut template = "rust/scaffold.rs.tera";
        if let Some(inner) = mapped.first() {
            let c = &crates[inner.krate];
            crash = Some(CrashSite {
                file: inner.path.clone(),
                function: inner.frame.function.clone(),
                line: inner.frame.lineno,
            });
            ctx.event.crash_function = inner.frame.function.clone().unwrap_or_default();
            ctx.event.crash_file = inner.path.clone();
            ctx.event.crash_line = inner
                .frame
                .lineno
                .map(|l| l.to_string())
                .unwrap_or_default();
            // The stack from just inside the crash site outwards: the SDK's panic-hook frames are noise.
            if let Some(pos) = frames
                .iter()
                .rev()
                .position(|f| std::ptr::eq(f, inner.frame))
            {
                ctx.event.stack = ctx
                    .event
                    .stack
                    .split_off(pos.saturating_sub(3).min(ctx.event.stack.len()));
            }
            strategy = Strategy::Scaffold;
            // Files the panic may be raised in: every file of this crate on the stack (a release
            // build may inline the innermost function into its caller).
            let mut files: Vec<String> = Vec::new();
            for m in mapped.iter().filter(|m| m.krate == inner.krate) {
                push_unique(
                    &mut files,
                    m.path.rsplit('/').next().unwrap_or_default().to_string(),
                );
            }
            ctx.crash_files = files;
            let rev = revealed_values(alert, &pvalue);
            // Call replay: the innermost public free function of this crate on the stack whose
            // parameters can all be rebuilt from what the event reveals.
            let mut chosen = None;
            let mut chosen_async = false;
            let mut chosen_include: Option<String> = None;
            let mut why_not = Vec::new();
            for m in mapped.iter().filter(|m| m.krate == inner.krate) {
                // A module of a binary (no library reaches it) is compiled into the test itself
                // with `#[path = "../src/m.rs"] mod m;` when its file stands alone.
                let (path, include) = match public_path(m, c, snap) {
                    Some(p) => (p, None),
                    None => match included_module(m, c, snap) {
                        Some((rel, p)) => (p, Some(rel)),
                        None => continue,
                    },
                };
                // A free function, or an associated function or method of an inherent impl whose
                // name is declared once there (so the parsed signature is its own).
                let fn_name = m.item.last().cloned().unwrap_or_default();
                // The module's own text: its file, or its block when it is an inline module. In a
                // module compiled into the test, `pub(crate)` and `pub(super)` items are reachable
                // from the test's root like `pub` ones.
                let mut text = module_text(c, snap, &m.modules)
                    .or_else(|| snap.read(&m.path))
                    .unwrap_or_default();
                if include.is_some() {
                    text = text
                        .replace("pub(crate) ", "pub ")
                        .replace("pub(super) ", "pub ");
                }
                let assoc = m.item.len() == 2;
                let shown = if assoc {
                    format!("{}::{fn_name}", path.join("::"))
                } else {
                    path.join("::")
                };
                // `<krate::Money as core::str::traits::FromStr>::from_str`, `<krate::Plan as
                // core::convert::From<&str>>::from`…: the idiomatic conversions from a string,
                // called with the trait named (`<Plan as From<&str>>::from(s)`) and the revealed
                // strings.
                let conv = assoc
                    .then(|| str_conversion(m.frame, &text, &m.item[0]))
                    .flatten();
                if let Some(conv) = conv.filter(|c| c.method == fn_name) {
                    let args = vec![Arg {
                        kind: conv.kind,
                        ty: "",
                        var: "a0".into(),
                        expr: arg_expr(conv.kind, "a0"),
                        recv: false,
                    }];
                    match plan_search(&args, &rev, &pvalue, 50_000) {
                        Some(plan) => {
                            ctx.conv_trait = conv.trait_path.to_string();
                            chosen_include = include.clone();
                            chosen = Some((m, path, args.clone(), None, args, plan));
                            break;
                        }
                        None => {
                            why_not.push(format!(
                                "the event reveals no string for {}'s {}::{}",
                                path.join("::"),
                                conv.trait_path,
                                conv.method
                            ));
                            continue;
                        }
                    }
                }
                let scope = if assoc {
                    impl_blocks(&text, &m.item[0])
                } else {
                    text.clone()
                };
                if m.item.len() > 2
                    || assoc
                        && (!is_rust_ident(&fn_name)
                            || regex::Regex::new(&format!(r"\bfn\s+{}\b", regex::escape(&fn_name)))
                                .map(|r| r.find_iter(&scope).count() != 1)
                                .unwrap_or(true))
                {
                    why_not.push(format!(
                        "{shown} is not a public function of an inherent impl (trait methods and closures of nested items are not called directly)"
                    ));
                    continue;
                }
                let sig = fn_sig(&scope, &fn_name);
                if sig.is_none() {
                    why_not.push(format!(
                        "{shown} is not public (an integration test cannot call it)"
                    ));
                    continue;
                }
                let Some(args) = sig.as_ref().and_then(|s| sig_args(s, 0)) else {
                    why_not.push(format!(
                        "{} takes parameters other than strings, integers, bools and lists of strings (or type parameters a &str does not satisfy)",
                        path.join("::")
                    ));
                    continue;
                };
                if sig.as_ref().is_some_and(|s| s.receiver()) {
                    // A method: the receiver is built honestly or not at all.
                    let ty = &m.item[0];
                    // An impl away from its type: the type's own file has its derives, fields
                    // and maybe more constructors.
                    let type_text = m
                        .type_modules
                        .as_ref()
                        .and_then(|t| module_text(c, snap, t));
                    let recvs = match &type_text {
                        Some(tt) => receivers(tt, &format!("{scope}\n{}", impl_blocks(tt, ty)), ty),
                        None => receivers(&text, &scope, ty),
                    };
                    if recvs.is_empty() {
                        why_not.push(format!(
                            "{shown} takes self, and {ty} has no Default, no public new(), no public constructor taking strings or integers and private fields"
                        ));
                        continue;
                    }
                    let mut found = None;
                    for r in recvs {
                        let mut all = r.args.clone();
                        all.extend(args.iter().cloned());
                        if let Some(plan) = plan_search(&all, &rev, &pvalue, 50_000) {
                            found = Some((r, all, plan));
                            break;
                        }
                    }
                    match found {
                        Some((r, all, plan)) => {
                            chosen_async = sig.as_ref().is_some_and(|s| s.is_async);
                            chosen_include = include.clone();
                            chosen = Some((m, path, args, Some(r), all, plan));
                            break;
                        }
                        None => {
                            why_not.push(format!(
                                "the event reveals no value for the parameters of {shown} and of the constructors of {ty}"
                            ));
                            continue;
                        }
                    }
                }
                match plan_search(&args, &rev, &pvalue, 50_000) {
                    Some(plan) => {
                        let all = args.clone();
                        chosen_async = sig.as_ref().is_some_and(|s| s.is_async);
                        chosen_include = include.clone();
                        chosen = Some((m, path, args, None, all, plan));
                        break;
                    }
                    None => why_not.push(format!(
                        "the event reveals no value for the parameters of {}",
                        path.join("::")
                    )),
                }
            }
            if let Some((m, path, args, recv, all_args, (strs, ints, lists, int_lists, calls))) =
                chosen
            {
                strategy = Strategy::CallReplay;
                template = "rust/call_replay.rs.tera";
                ctx.use_path = path.clone();
                if let Some(rel) = &chosen_include {
                    ctx.mod_include = rel.clone();
                    reasons.push(format!(
                        "{} is a module of a binary, which an integration test cannot import: the test compiles its file in with #[path = \"{rel}\"]",
                        m.path
                    ));
                }
                if m.item.len() == 2 {
                    ctx.callee_type = path.last().cloned().unwrap_or_default();
                    ctx.callee = m.item[1].clone();
                } else {
                    ctx.callee = path.last().cloned().unwrap_or_default();
                }
                ctx.subject = sliced_string(&pvalue).unwrap_or_default().to_string();
                if chosen_async {
                    // An `async fn` (frame `krate::m::f::{{closure}}`): the test runs the future to
                    // completion, on a tokio runtime when the crate has one.
                    ctx.is_async = true;
                    ctx.tokio = tokio_runtime(snap, c);
                    reasons.push(if ctx.tokio {
                        "the function is async: each call runs on a current-thread tokio runtime (the crate depends on tokio with a runtime feature)".to_string()
                    } else {
                        "the function is async: each call runs on a minimal std executor (the crate has no tokio runtime feature; a future that needs a reactor panics differently and is not counted)".to_string()
                    });
                }
                if !std::ptr::eq(m.frame, inner.frame) {
                    reasons.push(format!(
                        "the crashing function is not callable with rebuilt inputs; {} (a caller on the stack) is",
                        path.join("::")
                    ));
                }
                let shown = if ctx.callee_type.is_empty() {
                    path.join("::")
                } else if !ctx.conv_trait.is_empty() {
                    format!(
                        "<{} as {}>::{}",
                        path.join("::"),
                        ctx.conv_trait,
                        ctx.callee
                    )
                } else {
                    format!("{}::{}", path.join("::"), ctx.callee)
                };
                reasons.push(format!(
                    "{} is called with the values the event reveals (panic message, breadcrumbs, extra: {} strings, {} integers, {} lists; {} calls); the test fails only on the reported panic message raised in {}",
                    shown,
                    strs.len(),
                    ints.len(),
                    lists.len(),
                    calls,
                    ctx.crash_files.join(", ")
                ));
                ctx.strs = strs;
                ctx.ints = ints.iter().map(|n| n.to_string()).collect();
                ctx.lists = lists;
                ctx.int_lists = int_lists
                    .iter()
                    .map(|l| l.iter().map(|n| n.to_string()).collect())
                    .collect();
                ctx.calls = calls;
                ctx.args = args;
                ctx.all_args = all_args;
                if let Some(r) = &recv {
                    let built = if r.wrap == "literal" {
                        format!(
                            "a {} {{ {} }} literal",
                            ctx.callee_type,
                            r.fields.join(", ")
                        )
                    } else {
                        format!(
                            "{}::{}({})",
                            ctx.callee_type,
                            r.ctor,
                            if r.args.is_empty() {
                                ""
                            } else if r.args.iter().any(|a| a.kind.contains("str")) {
                                "the empty text and revealed values"
                            } else {
                                "revealed values"
                            }
                        )
                    };
                    reasons.push(format!(
                        "the receiver is built with {}{}",
                        built,
                        match r.wrap {
                            "result" => " (calls where it returns Err are skipped; the test fails as not reproduced when every call is)",
                            "option" => " (calls where it returns None are skipped; the test fails as not reproduced when every call is)",
                            _ => "",
                        }
                    ));
                }
                ctx.recv = recv;
            } else {
                reasons.push("the panic message and breadcrumbs do not carry the crashing function's inputs, and Rust events have no local variables".into());
                reasons.extend(why_not.into_iter().take(3));
                // Nearest public function on the stack for the `use` (a rename breaks the test).
                if let Some((m, p)) = mapped
                    .iter()
                    .filter(|m| m.krate == inner.krate)
                    .find_map(|m| public_path(m, c, snap).map(|p| (m, p)))
                {
                    if !std::ptr::eq(m.frame, inner.frame) {
                        reasons.push(format!(
                            "the test imports {}, the nearest public caller",
                            p.join("::")
                        ));
                    }
                    ctx.use_path = p;
                } else {
                    reasons
                        .push("no frame of the stack is a public item of the library crate".into());
                }
            }
        } else {
            reasons.push("no frame's function path names a crate of this repository".into());
        }
        if let Some(first) = ctx.use_path.first() {
            ctx.extern_crate = first.clone();
        }
        ctx.event.reasons = reasons.clone();
        let content = render::render(template, &ctx)?;

        let (dir, member) = target_crate
            .map(|c| (c.dir.clone(), c.workspace_member))
            .unwrap_or_default();
        let tests_dir = if dir.is_empty() {
            "tests".to_string()
        } else {
            format!("{dir}/tests")
        };
        let path = format!("{tests_dir}/{test_name}.rs");
        let mut files = vec![NewFile {
            path: path.clone(),
            content,
        }];
        let mut extra_prefixes = vec![tests_dir];
        if let Some(c) = target_crate.filter(|c| !c.autotests) {
            // The crate turned test discovery off: declare the target in its manifest.
            let manifest = c.join("Cargo.toml");
            if let Some(text) = snap.read(&manifest) {
                files.push(NewFile {
                    path: manifest.clone(),
                    content: format!(
                        "{}\n[[test]]\nname = \"{test_name}\"\npath = \"tests/{test_name}.rs\"\n",
                        text.trim_end()
                    ),
                });
                extra_prefixes.push(manifest);
                reasons.push(
                    "the crate sets autotests = false: a [[test]] entry is added to its Cargo.toml"
                        .into(),
                );
            }
        }
        let pkg = target_crate
            .filter(|_| member)
            .map(|c| format!(" -p {}", c.package))
            .unwrap_or_default();
        Ok(GenOutput {
            language: "rust",
            framework: "cargo".into(),
            strategy,
            files,
            test_files: vec![path],
            test_command: format!("cargo test{pkg} --test {test_name}"),
            suite_command: Some(if member {
                "cargo test --workspace".into()
            } else {
                "cargo test".into()
            }),
            crash,
            reasons,
            extra_prefixes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_paths() {
        assert_eq!(
            clean_function_path("shortlog::render::render_notes::{{closure}}"),
            ["shortlog", "render", "render_notes"]
        );
        assert_eq!(
            clean_function_path("<a::Foo as core::fmt::Display>::fmt"),
            ["a", "Foo", "fmt"]
        );
        // An inherent impl in another module than its type keeps the type's name.
        assert_eq!(
            clean_function_path("a::b::<impl a::X>::f"),
            ["a", "b", "X", "f"]
        );
        assert_eq!(
            clean_function_path("a::b::<impl a::c::X<T>>::f::{{closure}}"),
            ["a", "b", "X", "f"]
        );
        assert_eq!(
            impl_self_type(
                "ratecard::tariff::pricing::<impl ratecard::tariff::Tariff>::price_line"
            ),
            Some(vec!["ratecard".into(), "tariff".into(), "Tariff".into()])
        );
        assert_eq!(impl_self_type("a::b::f"), None);
    }

    #[test]
    fn from_str_impls() {
        let frame = |f: &str| Frame {
            function: Some(f.into()),
            ..Default::default()
        };
        let text = "use std::str::FromStr;\n\nimpl FromStr for Money {\n    type Err = E;\n}\n";
        let f = frame("<stmtsum::money::Money as core::str::traits::FromStr>::from_str");
        let conv = str_conversion(&f, text, "Money").unwrap();
        assert_eq!(conv.trait_path, "std::str::FromStr");
        assert_eq!((conv.method, conv.kind), ("from_str", "str"));
        assert!(str_conversion(&f, text, "Mon").is_none());
        let other = frame("<stmtsum::money::Money as core::convert::TryFrom<&str>>::try_from");
        assert!(str_conversion(&other, text, "Money").is_none());
        let inherent = frame("stmtsum::money::Money::from_str");
        assert!(str_conversion(&inherent, text, "Money").is_none());
    }

    /// `From<&str>`, `TryFrom<&str>`, `From<String>` and `TryFrom<String>` impls are called with
    /// the trait named; the frame's trait must be implemented in the text for that type.
    #[test]
    fn string_conversion_impls() {
        let frame = |f: &str| Frame {
            function: Some(f.into()),
            ..Default::default()
        };
        let text = "impl From<&str> for Plan {\n    fn from(code: &str) -> Plan { todo!() }\n}\n\
            impl<'a> core::convert::TryFrom<&'a str> for Tier {\n}\n\
            impl From<String> for Sku {\n}\n\
            impl TryFrom<std::string::String> for Code {\n}\n\
            impl From<u32> for Level {\n}\n";
        let from = frame("<plansync::plan::Plan as core::convert::From<&str>>::from");
        let c = str_conversion(&from, text, "Plan").unwrap();
        assert_eq!(
            (c.trait_path, c.method, c.kind),
            ("From<&str>", "from", "str")
        );
        assert!(str_conversion(&from, text, "Sku").is_none());
        let try_from = frame("<x::Tier as core::convert::TryFrom<&str>>::try_from");
        let c = str_conversion(&try_from, text, "Tier").unwrap();
        assert_eq!((c.trait_path, c.kind), ("TryFrom<&str>", "str"));
        let owned = frame("<x::Sku as core::convert::From<alloc::string::String>>::from");
        let c = str_conversion(&owned, text, "Sku").unwrap();
        assert_eq!((c.trait_path, c.kind), ("From<String>", "string"));
        let try_owned =
            frame("<x::Code as core::convert::TryFrom<alloc::string::String>>::try_from");
        assert_eq!(
            str_conversion(&try_owned, text, "Code").map(|c| c.trait_path),
            Some("TryFrom<String>")
        );
        // Not from a string, or the method is not the trait's.
        let int = frame("<x::Level as core::convert::From<u32>>::from");
        assert!(str_conversion(&int, text, "Level").is_none());
        let wrong = frame("<x::Plan as core::convert::From<&str>>::into");
        assert!(str_conversion(&wrong, text, "Plan").is_none());
    }

    /// A repository with these files committed, for functions that read a Snapshot.
    use crate::repo::with_repo;

    /// `pub async fn` is a replayable signature (its future is run by the test); async
    /// constructors never build a receiver.
    #[test]
    fn async_fns() {
        let text = "pub async fn job_size(spec: &str) -> Size {\n    todo!()\n}\npub fn capped(s: Size) -> Size { s }\n";
        let sig = fn_sig(text, "job_size").unwrap();
        assert!(sig.is_async);
        assert_eq!(sig_args(&sig, 0).unwrap()[0].kind, "str");
        assert!(!fn_sig(text, "capped").unwrap().is_async);
        let src = "pub struct Conn { url: String }\nimpl Conn {\n    pub async fn connect(url: &str) -> Result<Self, E> { todo!() }\n    pub async fn get(&self, key: &str) -> u8 { 0 }\n}\n";
        assert!(receivers(src, &impl_blocks(src, "Conn"), "Conn").is_empty());
    }

    /// tokio with a runtime feature, in the crate's own manifest or through the workspace.
    #[test]
    fn tokio_runtime_features() {
        let check = |files: &[(&str, &str)], dir: &str| {
            let mut out = false;
            with_repo(files, |snap| {
                let c = crates(snap).into_iter().find(|c| c.dir == dir).unwrap();
                out = tokio_runtime(snap, &c);
            });
            out
        };
        let pkg = "[package]\nname = \"w\"\nversion = \"0.1.0\"\n";
        let lib = ("src/lib.rs", "");
        let with = |deps: &str| format!("{pkg}{deps}");
        let m =
            with("[dependencies]\ntokio = { version = \"1\", features = [\"rt\", \"macros\"] }\n");
        assert!(check(&[("Cargo.toml", &m), lib], ""));
        let m = with("[dev-dependencies]\ntokio = { version = \"1\", features = [\"full\"] }\n");
        assert!(check(&[("Cargo.toml", &m), lib], ""));
        // Default features of tokio have no runtime; no tokio at all.
        let m = with("[dependencies]\ntokio = \"1\"\n");
        assert!(!check(&[("Cargo.toml", &m), lib], ""));
        assert!(!check(&[("Cargo.toml", pkg), lib], ""));
        // `tokio = { workspace = true }` takes the workspace's features.
        let root = "[workspace]\nmembers = [\"crates/a\"]\n\n[workspace.dependencies]\ntokio = { version = \"1\", features = [\"rt-multi-thread\"] }\n";
        let member = "[package]\nname = \"a\"\nversion = \"0.1.0\"\n\n[dependencies]\ntokio = { workspace = true }\n";
        let files = [
            ("Cargo.toml", root),
            ("crates/a/Cargo.toml", member),
            ("crates/a/src/lib.rs", ""),
        ];
        assert!(check(&files, "crates/a"));
    }

    /// A module of a binary-only package is compiled into the test when its file stands alone
    /// (`super::` inside its own inline `mod tests` is fine); one that reaches other modules of
    /// the crate, or a private item, is not.
    #[test]
    fn binary_modules_compiled_into_the_test() {
        let quota = "pub(crate) fn quota_bytes(spec: &str) -> u64 {\n    0\n}\nfn hidden() {}\n\n#[cfg(test)]\nmod tests {\n    use super::*;\n}\n";
        let uses_crate = "use crate::units::MB;\npub fn size(s: &str) -> u64 {\n    MB\n}\n";
        let files = [
            (
                "Cargo.toml",
                "[package]\nname = \"quotactl\"\nversion = \"0.1.0\"\n",
            ),
            (
                "src/main.rs",
                "mod quota;\nmod sizes;\nmod units;\nfn main() {}\n",
            ),
            ("src/quota.rs", quota),
            ("src/sizes.rs", uses_crate),
            ("src/units.rs", "pub const MB: u64 = 1;\n"),
        ];
        with_repo(&files, |snap| {
            let cs = crates(snap);
            let frame = |f: &str, file: &str| Frame {
                function: Some(f.into()),
                filename: Some(file.into()),
                ..Default::default()
            };
            let f = frame("quotactl::quota::quota_bytes", "quota.rs");
            let rf = map_rust_frame(&f, &cs, snap).unwrap();
            assert!(!rf.in_lib);
            assert!(public_path(&rf, &cs[0], snap).is_none());
            let (rel, path) = included_module(&rf, &cs[0], snap).unwrap();
            assert_eq!(rel, "../src/quota.rs");
            assert_eq!(path, ["quota", "quota_bytes"]);
            let f = frame("quotactl::quota::hidden", "quota.rs");
            let rf = map_rust_frame(&f, &cs, snap).unwrap();
            assert!(included_module(&rf, &cs[0], snap).is_none());
            let f = frame("quotactl::sizes::size", "sizes.rs");
            let rf = map_rust_frame(&f, &cs, snap).unwrap();
            assert!(included_module(&rf, &cs[0], snap).is_none());
        });
    }

    /// `pub mod tax { pub fn rate_for… }` inside `src/billing.rs`: the frame
    /// `vatbill::billing::tax::rate_for` maps to billing.rs with the inline module in its module
    /// path (before, `tax` was taken for a type and the function was never public); the public
    /// path goes through it, and the module's text is its block.
    #[test]
    fn inline_modules_are_module_path_segments() {
        let billing = "//! Billing.\n\npub mod tax {\n    pub mod eu {\n        pub fn rate_for(country: &str) -> u32 {\n            0\n        }\n    }\n    pub fn rate_for(country: &str) -> u32 {\n        let _ = \"{\";\n        1\n    }\n}\n\nmod rounding {\n    pub fn apply(x: u64) -> u64 {\n        x\n    }\n}\n\npub struct Tax;\n\nimpl Tax {\n    pub fn get(&self) -> u32 {\n        2\n    }\n}\n";
        let files = [
            (
                "Cargo.toml",
                "[package]\nname = \"vatbill\"\nversion = \"0.1.0\"\n",
            ),
            ("src/lib.rs", "pub mod billing;\n"),
            ("src/billing.rs", billing),
        ];
        with_repo(&files, |snap| {
            let cs = crates(snap);
            let frame = |f: &str| Frame {
                function: Some(f.into()),
                filename: Some("billing.rs".into()),
                ..Default::default()
            };
            let f = frame("vatbill::billing::tax::rate_for");
            let rf = map_rust_frame(&f, &cs, snap).unwrap();
            assert_eq!(rf.path, "src/billing.rs");
            assert_eq!(rf.modules, ["billing", "tax"]);
            assert_eq!(rf.item, ["rate_for"]);
            assert_eq!(
                public_path(&rf, &cs[0], snap).unwrap(),
                ["vatbill", "billing", "tax", "rate_for"]
            );
            let text = module_text(&cs[0], snap, &rf.modules).unwrap();
            assert!(
                text.contains("let _ = \"{\";") && text.contains("pub mod eu"),
                "{text}"
            );
            assert!(!text.contains("mod rounding"), "{text}");
            // Nested inline modules.
            let f = frame("vatbill::billing::tax::eu::rate_for");
            let rf = map_rust_frame(&f, &cs, snap).unwrap();
            assert_eq!(rf.modules, ["billing", "tax", "eu"]);
            assert_eq!(
                public_path(&rf, &cs[0], snap).unwrap(),
                ["vatbill", "billing", "tax", "eu", "rate_for"]
            );
            // A private inline module is not reachable from an integration test.
            let f = frame("vatbill::billing::rounding::apply");
            let rf = map_rust_frame(&f, &cs, snap).unwrap();
            assert_eq!(rf.modules, ["billing", "rounding"]);
            assert!(public_path(&rf, &cs[0], snap).is_none());
            // A method of a type stays `[Type, method]`.
            let f = frame("vatbill::billing::Tax::get");
            let rf = map_rust_frame(&f, &cs, snap).unwrap();
            assert_eq!(rf.modules, ["billing"]);
            assert_eq!(rf.item, ["Tax", "get"]);
        });
    }

    #[test]
    fn slicing_messages() {
        assert_eq!(
            sliced_string("end byte index 59 is not a char boundary; it is inside 'é' (bytes 58..60) of `ab`cd`"),
            Some("ab`cd")
        );
        assert_eq!(
            sliced_string("byte index 9 is out of range of `abc`"),
            Some("abc")
        );
        assert_eq!(
            sliced_string("begin <= end (4 <= 2) when slicing `abc`"),
            Some("abc")
        );
        assert_eq!(
            sliced_string("byte index 9 is out of range of `abc[...]`"),
            None
        );
        assert_eq!(
            sliced_string("called `Option::unwrap()` on a `None` value"),
            None
        );
    }

    fn alert_with(crumbs: serde_json::Value, extra: serde_json::Value) -> Alert {
        Alert::from_event(&serde_json::json!({
            "platform": "native",
            "breadcrumbs": {"values": crumbs},
            "extra": extra,
            "exception": {"values": [{"type": "panic", "value": "x"}]}
        }))
    }

    #[test]
    fn reveals_quoted_strings_numbers_breadcrumbs_and_extra() {
        let a = alert_with(
            serde_json::json!([
                {"category": "import", "message": "parsing row 3", "data": {"line": "B-7,2,450"}},
                {"message": "loading sku SKU-9 from 'north wing'"}
            ]),
            serde_json::json!({"batch": ["a", "b"], "qty": 12}),
        );
        let r = revealed_values(
            &a,
            "invalid duration \"1h30m\": invalid digit found in string",
        );
        assert_eq!(r.strings[0], "1h30m");
        for s in ["B-7,2,450", "north wing", "SKU-9", "12"] {
            assert!(r.strings.iter().any(|x| x == s), "{s}: {:?}", r.strings);
        }
        assert!(r.lists.contains(&vec!["a".to_string(), "b".to_string()]));
        assert!(r.ints.contains(&3) && r.ints.contains(&12) && r.ints.contains(&0));
        let r = revealed_values(&a, "index out of bounds: the len is 3 but the index is 3");
        assert!(r.ints.contains(&3) && r.ints.contains(&4));
        let bare = alert_with(serde_json::json!([]), serde_json::Value::Null);
        let unwrap =
            "called `Result::unwrap()` on an `Err` value: ParseIntError { kind: InvalidDigit }";
        assert_eq!(revealed_values(&bare, unwrap).quoted, 0);
        let oob = "index out of bounds: the len is 3 but the index is 3";
        assert_eq!(revealed_values(&bare, oob).quoted, 0);
        assert!(r.lists.iter().any(|l| l.len() == 3));
        // A slicing panic's string comes first, and every byte index of it is searched.
        let r = revealed_values(
            &alert_with(serde_json::json!([]), serde_json::Value::Null),
            "byte index 5 is not a char boundary; it is inside 'é' (bytes 4..6) of `Café au lait`",
        );
        assert_eq!(r.strings[0], "Café au lait");
        assert!((0..=14).all(|n| r.ints.contains(&n)));
    }

    #[test]
    fn reveals_request_path_query_and_body() {
        let ev = |data: serde_json::Value| {
            Alert::from_event(&serde_json::json!({
                "platform": "rust",
                "request": {"method": "POST", "url": "https://shop.test/orders/CAP-GRN?page=3&q=mug%20set", "data": data},
                "exception": {"values": [{"type": "panic", "value": "x"}]}
            }))
        };
        let msg =
            "called `Result::unwrap()` on an `Err` value: ParseIntError { kind: InvalidDigit }";
        let r = revealed_values(
            &ev(serde_json::json!({"qty": "12 pcs", "lines": ["a", "b"]})),
            msg,
        );
        for s in ["CAP-GRN", "mug set", "12 pcs"] {
            assert!(r.strings[..r.quoted].iter().any(|x| x == s), "{s}: {r:?}");
        }
        assert!(r.ints.contains(&3));
        assert!(r.lists.contains(&vec!["a".to_string(), "b".to_string()]));
        let r = revealed_values(&ev("sku=TEE-M&qty=12+pcs".into()), msg);
        assert!(r.strings.iter().any(|x| x == "12 pcs"), "{r:?}");
        let r = revealed_values(&ev("{\"qty\": \"7x\"}".into()), msg);
        assert!(r.strings.iter().any(|x| x == "7x"), "{r:?}");
        // Contexts the app set count; the SDK's own (os, rust, device) do not.
        let a = Alert::from_event(&serde_json::json!({
            "contexts": {"order": {"type": "order", "coupon": "SPRING-24"}, "os": {"name": "Linux"}},
            "exception": {"values": [{"type": "panic", "value": "x"}]}
        }));
        let r = revealed_values(&a, msg);
        assert!(
            r.strings[..r.quoted].iter().any(|x| x == "SPRING-24"),
            "{r:?}"
        );
        assert!(!r.strings.iter().any(|x| x == "Linux"), "{r:?}");
    }

    #[test]
    fn search_needs_revealed_values() {
        let a = alert_with(serde_json::json!([]), serde_json::Value::Null);
        let none = "called `Option::unwrap()` on a `None` value";
        let ints = replayable_params("pub fn f(a: u32, b: u32) -> u32 { a - b }", "f").unwrap();
        // An unwrap on None says nothing about integers; an overflow is found by searching them.
        assert!(plan_search(&ints, &revealed_values(&a, none), none, 50_000).is_none());
        let ov = "attempt to subtract with overflow";
        let (_, i, _, _, n) = plan_search(&ints, &revealed_values(&a, ov), ov, 50_000).unwrap();
        assert!(i.contains(&0) && i.contains(&1) && n <= 50_000);
        // Words of a sentence are no string input.
        let strs = replayable_params("pub fn g(s: &str) {}", "g").unwrap();
        let msg = "price table is empty";
        assert!(plan_search(&strs, &revealed_values(&a, msg), msg, 50_000).is_none());
        // Big searches are cut down to the cap.
        let four =
            replayable_params("pub fn h(a: &str, b: &str, n: usize, m: i64) {}", "h").unwrap();
        let msg = "attempt to add with overflow `a` `b` `c` `d` `e` `f`";
        let (_, _, _, _, n) = plan_search(&four, &revealed_values(&a, msg), msg, 5_000).unwrap();
        assert!(n <= 5_000, "{n}");
    }

    /// `secs * 1000` overflowing a u32 needs a large input: integers 0..=16 cannot reach it, so an
    /// integer-only search is refused unless the event names a larger number (then it is kept);
    /// `0 - 1` needs none. A refused frame lets the generator climb to a caller of revealed strings.
    #[test]
    fn overflow_search_needs_a_named_large_int() {
        let one = replayable_params(
            "pub fn ttl_millis(secs: u32) -> u32 { secs * 1000 }",
            "ttl_millis",
        )
        .unwrap();
        let mul = "attempt to multiply with overflow";
        let bare = alert_with(
            serde_json::json!([{"message": "cache exports", "data": {"ttl": "90d"}}]),
            serde_json::Value::Null,
        );
        assert!(plan_search(&one, &revealed_values(&bare, mul), mul, 50_000).is_none());
        let shl = "attempt to shift left with overflow";
        assert!(plan_search(&one, &revealed_values(&bare, shl), shl, 50_000).is_none());
        let sub = "attempt to subtract with overflow";
        assert!(plan_search(&one, &revealed_values(&bare, sub), sub, 50_000).is_some());
        let named = alert_with(
            serde_json::json!([{"message": "cache exports", "data": {"ttl_secs": 7776000}}]),
            serde_json::Value::Null,
        );
        let (_, i, _, _, _) =
            plan_search(&one, &revealed_values(&named, mul), mul, 50_000).unwrap();
        assert!(i.contains(&7_776_000));
        // An 8-bit parameter can overflow within 0..=16 (`16 * 20` for a u8).
        let small = replayable_params("pub fn f(level: u8) -> u8 { level * 20 }", "f").unwrap();
        assert!(plan_search(&small, &revealed_values(&bare, mul), mul, 50_000).is_some());
        // The caller taking the revealed string is still searched.
        let caller = replayable_params(
            "pub fn cache_ttl_ms(spec: &str) -> Result<u32, String> {}",
            "cache_ttl_ms",
        )
        .unwrap();
        let (s, _, _, _, _) =
            plan_search(&caller, &revealed_values(&bare, mul), mul, 50_000).unwrap();
        assert!(s.contains(&"90d".to_string()));
    }

    #[test]
    fn param_kinds() {
        let k = |t: &str| {
            replayable_params(t, "f").map(|a| a.iter().map(|x| x.kind).collect::<Vec<_>>())
        };
        assert_eq!(
            k("pub fn f<'a>(a: &'a [&'a str], b: Vec<String>, c: bool, d: impl AsRef<str>)"),
            Some(vec!["str_slice", "string_vec", "bool", "string"])
        );
        assert_eq!(k("pub fn f(rows: &[Row]) -> u32"), None);
        assert_eq!(
            k("pub fn f(a: &[u32], b: Vec<i64>, c: &Vec<usize>)"),
            Some(vec!["int_slice", "int_vec", "int_vec_ref"])
        );
        assert_eq!(k("pub fn f(&self, s: &str)"), None);
        assert_eq!(k("pub fn f<T: Display>(s: T)"), Some(vec!["str"]));
        assert_eq!(
            k("pub fn f<S>(s: &S, n: usize) where S: AsRef<str> + ?Sized {}"),
            Some(vec!["str_ref_ref", "int"])
        );
        assert_eq!(k("pub fn f<T: Into<u64>>(s: T)"), None);
        assert_eq!(
            k("pub fn f(a: Option<&str>, b: Option<String>, c: Option<u16>)"),
            Some(vec!["opt_str", "opt_string", "opt_int"])
        );
        assert_eq!(k("pub fn f<T: Serialize>(rows: &[T])"), None);
        assert_eq!(k("pub fn f() -> u8"), Some(vec![]));
    }

    #[test]
    fn method_receivers() {
        let src = "#[derive(Debug, Clone, Default)]\npub struct Cart { items: Vec<u32> }\n\nimpl Cart {\n    pub fn average(&self, n: usize) -> u32 { 0 }\n}\n";
        let impls = impl_blocks(src, "Cart");
        let sig = fn_sig(&impls, "average").unwrap();
        assert!(sig.receiver());
        assert_eq!(sig_args(&sig, 0).unwrap().len(), 1);
        let r = receivers(src, &impls, "Cart");
        assert_eq!(r[0].ctor, "default");
        // No Default: a public `new()`, then constructors of replayable inputs (Result skipped on Err).
        let src = "pub struct Meter { unit: String }\nimpl Meter {\n    pub fn parse(s: &str) -> Result<Self, String> { todo!() }\n    pub fn new() -> Meter { todo!() }\n    pub fn with(rows: &[Row]) -> Self { todo!() }\n    pub fn read(&mut self) -> u8 { 0 }\n}\nimpl std::fmt::Display for Meter { fn fmt(&self) {} }\n";
        let impls = impl_blocks(src, "Meter");
        let r: Vec<_> = receivers(src, &impls, "Meter")
            .into_iter()
            .map(|r| (r.ctor, r.wrap))
            .collect();
        assert_eq!(
            r,
            [
                ("new".to_string(), "plain"),
                ("parse".to_string(), "result")
            ]
        );
        assert!(!impls.contains("fn fmt"));
        // A constructor's arguments search the empty text first (`RECV_STRS`); the method's own
        // arguments do not.
        let parse = receivers(src, &impls, "Meter").remove(1);
        assert!(parse.args.iter().all(|a| a.recv), "{:?}", parse.args);
        assert!(sig_args(&fn_sig(&impls, "read").unwrap(), 0)
            .unwrap()
            .iter()
            .all(|a| !a.recv));
        let lit = "pub struct Cfg {\n    pub name: String,\n}\n";
        let r = receivers(lit, &impl_blocks(lit, "Cfg"), "Cfg");
        assert_eq!(r[0].wrap, "literal");
        assert!(r[0].args[0].recv);
        // Nothing to build it with.
        let src =
            "pub struct Pool { conn: Conn }\nimpl Pool {\n    pub fn get(&self) -> u8 { 0 }\n}\n";
        assert!(receivers(src, &impl_blocks(src, "Pool"), "Pool").is_empty());
    }

    /// An impl body is delimited by braces alone: comparisons (`a < b`), match arms (`=>`),
    /// braces in strings, chars and comments, and lifetimes do not end it early or late.
    #[test]
    fn impl_bodies_count_braces_only() {
        let src = r##"impl Inventory {
    pub fn new() -> Self { Self::default() }
    /// Keeps `{` balanced?
    pub fn reserve(&mut self, sku: &str, qty: u32) -> Result<u32, Shortage> {
        let on_hand = self.on_hand.get_mut(sku).expect("no { record");
        if *on_hand < qty { return Err(Shortage); }
        let c = '{'; let q = '\''; let r = r#"}"#; // a } in a comment
        match qty { 0 => Ok(0), _ => Ok(*on_hand) }
    }
    pub fn label<'a>(&'a self) -> &'a str { "}" }
}
pub fn reserve_all() {}
"##;
        let impls = impl_blocks(src, "Inventory");
        assert!(impls.contains("fn label"), "{impls}");
        assert!(!impls.contains("reserve_all"), "{impls}");
        let sig = fn_sig(&impls, "reserve").unwrap();
        assert!(sig.receiver());
        assert_eq!(sig_args(&sig, 0).unwrap().len(), 2);
        assert_eq!(block_body("{ a { b } }", 0), Some((" a { b } ", 11)));
        assert_eq!(block_body("{ \"{\" ", 0), None);
        assert_eq!(block_body("x", 0), None);
    }

    #[test]
    fn params() {
        let t = "pub fn f<'a>(s: &'a str, max: usize) -> X {}";
        let a = replayable_params(t, "f").unwrap();
        assert_eq!(a.len(), 2);
        assert!(replayable_params("pub fn g(x: &[f64], n: usize) {}", "g").is_none());
        assert!(replayable_params("fn h(x: &str) {}", "h").is_none());
        assert!(replayable_params("pub(crate) fn h(x: &str) {}", "h").is_none());
    }
}
