//! Plan: which exception, which frames map to the repository, which language.
//!
//! The crash site is the innermost frame of the outermost exception whose path maps to a file of the
//! repository at the base commit (suffix match over `abs_path`, `filename`, `module`); `in_app` is a
//! hint only, because Sentry's server rewrites it and SDKs mark their own frames in-app. The language
//! generators (`lang::*`) get the mapped frames, innermost last, and choose the strategy.

use crate::alert::{Alert, Frame};
use crate::repo::Snapshot;

/// A stack frame that maps to a file of the repository.
#[derive(Debug, Clone)]
pub struct MappedFrame<'a> {
    /// Index in the exception's frame list (caller to callee).
    pub index: usize,
    pub frame: &'a Frame,
    /// Repository-relative path of the file the frame is in.
    pub path: String,
}

/// Mapped frames of the first exception (outermost first, then its causes) that has any, caller to
/// callee. `exts` are the source extensions of the language (`py`, `js`…), used for module paths.
pub fn mapped_frames<'a>(alert: &'a Alert, snap: &Snapshot, exts: &[&str]) -> Vec<MappedFrame<'a>> {
    let mut stacks: Vec<&'a [Frame]> = alert
        .exceptions
        .iter()
        .rev()
        .map(|e| e.frames.as_slice())
        .collect();
    stacks.push(&alert.thread_frames);
    for frames in stacks {
        let mapped: Vec<MappedFrame<'a>> = frames
            .iter()
            .enumerate()
            .filter(|(_, f)| !is_vendored(f))
            .filter_map(|(index, frame)| {
                let path = snap.map_frame(frame, exts)?;
                let ext_ok =
                    exts.is_empty() || exts.iter().any(|e| path.ends_with(&format!(".{e}")));
                (ext_ok && !is_vendored_path(&path)).then_some(MappedFrame { index, frame, path })
            })
            .collect();
        if !mapped.is_empty() {
            return mapped;
        }
    }
    Vec::new()
}

fn is_vendored(f: &Frame) -> bool {
    [f.abs_path.as_deref(), f.filename.as_deref()]
        .into_iter()
        .flatten()
        .any(is_vendored_path)
}

/// Dependencies installed into the tree are never the crash site.
pub fn is_vendored_path(p: &str) -> bool {
    [
        "node_modules/",
        "site-packages/",
        "dist-packages/",
        ".venv/",
        "/vendor/",
        "venv/lib/",
    ]
    .iter()
    .any(|m| p.contains(m))
        || p.starts_with("node:")
        || p.starts_with('<')
}

/// The language of the repository, from the project override, the event platform, the crash frame's
/// extension and the manifests at the root.
pub fn detect_language(
    alert: &Alert,
    snap: &Snapshot,
    override_lang: Option<&str>,
) -> Option<&'static str> {
    if let Some(l) = override_lang {
        return normalize_language(l);
    }
    if let Some(l) = alert.platform.as_deref().and_then(normalize_language) {
        return Some(l);
    }
    for f in alert.primary_frames().iter().rev() {
        let name = f
            .filename
            .as_deref()
            .or(f.abs_path.as_deref())
            .unwrap_or("");
        if let Some(ext) = name.rsplit('.').next() {
            if let Some(l) = language_of_ext(ext) {
                return Some(l);
            }
        }
    }
    let manifests = [
        ("pyproject.toml", "python"),
        ("setup.py", "python"),
        ("requirements.txt", "python"),
        ("package.json", "javascript"),
        ("Cargo.toml", "rust"),
        ("go.mod", "go"),
        ("pom.xml", "java"),
        ("build.gradle", "java"),
        ("build.gradle.kts", "java"),
    ];
    manifests
        .iter()
        .find(|(m, _)| snap.is_file(m))
        .map(|(_, l)| *l)
}

pub fn normalize_language(s: &str) -> Option<&'static str> {
    Some(match s.to_ascii_lowercase().as_str() {
        "python" | "py" => "python",
        "javascript" | "js" | "node" | "typescript" | "ts" | "nodejs" | "javascript-node" => {
            "javascript"
        }
        "rust" | "rs" | "native" => "rust",
        "go" | "golang" => "go",
        "java" | "kotlin" | "jvm" => "java",
        _ => return None,
    })
}

fn language_of_ext(ext: &str) -> Option<&'static str> {
    Some(match ext {
        "py" => "python",
        "js" | "mjs" | "cjs" | "ts" | "mts" | "cts" | "jsx" | "tsx" => "javascript",
        "rs" => "rust",
        "go" => "go",
        "java" | "kt" => "java",
        _ => return None,
    })
}
