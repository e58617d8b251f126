//! Event frames → files of the repository and Go function names.
//!
//! Why: sentry-go frames carry `module` (the import path), `function` (`handleSplit`,
//! `(*Server).total`, `NewRouter.func1`) and `abs_path`, never local variables. A frame belongs to
//! the repository when its module lies inside the repository's Go module or its path suffix-matches
//! a `.go` file; GOROOT, module-cache and vendored frames never do (sentryhttp's own middleware is
//! reported `in_app`).

use super::project::{go_module_for, root_module, GoModule};
use super::source::is_go_ident;
use crate::alert::{Alert, Frame};
use crate::repo::Snapshot;

pub(super) fn is_foreign_go_path(p: &str) -> bool {
    p.contains("/pkg/mod/")
        || p.contains("/go/src/") && !p.contains("/go/src/github.com")
        || p.starts_with("/usr/local/go/")
        || p.contains("/vendor/")
}

pub(super) fn map_frame(f: &Frame, snap: &Snapshot, root: Option<&GoModule>) -> Option<String> {
    let file = f.abs_path.as_deref().or(f.filename.as_deref())?;
    if is_foreign_go_path(file) || !file.ends_with(".go") {
        return None;
    }
    let base = file.rsplit('/').next()?;
    if let (Some(m), Some(module)) = (root, f.module.as_deref()) {
        let rel = if module == m.path {
            Some(String::new())
        } else {
            module
                .strip_prefix(&format!("{}/", m.path))
                .map(str::to_owned)
        };
        if let Some(rel) = rel {
            let dir = [m.dir.as_str(), rel.as_str()]
                .iter()
                .filter(|s| !s.is_empty())
                .cloned()
                .collect::<Vec<_>>()
                .join("/");
            let cand = if dir.is_empty() {
                base.to_string()
            } else {
                format!("{dir}/{base}")
            };
            if snap.is_file(&cand) {
                return Some(cand);
            }
        }
    }
    snap.match_suffix(file).filter(|p| p.ends_with(".go"))
}

/// `(*Server).total.func1` → (receiver `*Server`, name `total`); `handleSplit` → (None, `handleSplit`).
pub(super) fn go_function(f: &str) -> Option<(Option<String>, String)> {
    // sentry-go sometimes prefixes the package (`main.(*Handler).Handle`): keep the last qualified part.
    let mut parts: Vec<&str> = f.split('.').collect();
    while parts.last().is_some_and(|p| {
        p.chars().all(|c| c.is_ascii_digit())
            || p.starts_with("func") && p[4..].chars().all(|c| c.is_ascii_digit())
            || p.starts_with("gowrap")
    }) {
        parts.pop();
    }
    let name = parts.pop()?.to_string();
    let recv = parts.last().map(|r| r.to_string()).filter(|r| {
        r.starts_with("(*") || r.chars().next().is_some_and(|c| c.is_ascii_uppercase())
    });
    let recv = match recv {
        Some(r) if r.starts_with("(*") => {
            let t = r.trim_start_matches("(*").trim_end_matches(')');
            if !is_go_ident(t) {
                return None;
            }
            Some(format!("*{t}"))
        }
        Some(r) if is_go_ident(&r) && r != name => Some(r),
        _ => None,
    };
    is_go_ident(&name).then_some((recv, name))
}

/// The crashing stack as the rungs see it.
pub(super) struct Stack<'a> {
    /// The innermost frame of the repository and its file: the crash site.
    pub(super) crash: Option<(&'a Frame, String)>,
    /// The Go module of the crash site, else the repository's root module.
    pub(super) module: Option<GoModule>,
    /// Frames of the module's files, outermost first (empty without a crash site).
    pub(super) mapped: Vec<(&'a Frame, String)>,
}

/// Maps the event's frames: the crash site against the root module, the rest against the crash
/// site's own module (a repository may hold several).
pub(super) fn locate<'a>(alert: &'a Alert, snap: &Snapshot) -> Stack<'a> {
    let root = root_module(snap);
    let frames = alert.primary_frames();
    let crash = frames
        .iter()
        .rev()
        .find_map(|f| map_frame(f, snap, root.as_ref()).map(|p| (f, p)));
    let module = crash
        .as_ref()
        .and_then(|(_, p)| go_module_for(snap, p))
        .or(root);
    let mapped = match crash {
        Some(_) => frames
            .iter()
            .filter_map(|f| map_frame(f, snap, module.as_ref()).map(|p| (f, p)))
            .collect(),
        None => vec![],
    };
    Stack {
        crash,
        module,
        mapped,
    }
}
