//! A read-only view of the repository at the base commit, and the mapping of stack frames to its files.
//!
//! Everything is read from git objects, never from the working tree: the user's checkout may be dirty
//! or on another branch, and concurrent alerts must not race on it. Lookups are by path (a handful of
//! tree lookups per frame), never a walk of the whole tree, so the cost stays flat in repository size.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use git2::{ObjectType, Oid, Repository, Tree};

use crate::alert::Frame;

/// Why a configured path is not a repository we can use, in words and with the fix; libgit2's own
/// text (`class=…; code=…`) stays in the source, shown only with `--verbose`.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(
        "{} is not a git repository: run `git init` there, or point the project's `repo` \
         (--repo) at a clone",
        path.display()
    )]
    NotARepository {
        path: PathBuf,
        #[source]
        source: git2::Error,
    },
    #[error(
        "{} is owned by another user, so git refuses to open it (safe.directory); if you trust \
         it, run: git config --global --add safe.directory {}",
        path.display(),
        path.display()
    )]
    ForeignOwner {
        path: PathBuf,
        #[source]
        source: git2::Error,
    },
    #[error("cannot open the git repository {}", path.display())]
    Other {
        path: PathBuf,
        #[source]
        source: git2::Error,
    },
}

/// Open the repository at `path` (its work tree or git dir), naming the problem when it cannot be.
pub fn open(path: &Path) -> Result<Repository, OpenError> {
    Repository::open(path).map_err(|source| {
        let path = path.to_path_buf();
        match source.code() {
            git2::ErrorCode::Owner => OpenError::ForeignOwner { path, source },
            git2::ErrorCode::NotFound => OpenError::NotARepository { path, source },
            _ => OpenError::Other { path, source },
        }
    })
}

pub struct Snapshot<'r> {
    pub repo: &'r Repository,
    pub commit: Oid,
    pub tree: Tree<'r>,
}

/// Path prefixes deployments put before the project root; stripped before suffix matching.
const URL_SCHEMES: &[&str] = &["webpack:///", "webpack://", "app:///", "file://", "~/"];

impl<'r> Snapshot<'r> {
    pub fn at(repo: &'r Repository, commit: Oid) -> Result<Self> {
        let c = repo
            .find_commit(commit)
            .with_context(|| format!("base commit {commit} not found"))?;
        Ok(Snapshot {
            repo,
            commit,
            tree: c.tree()?,
        })
    }

    /// Whether `path` is a file (blob) in the tree.
    pub fn is_file(&self, path: &str) -> bool {
        if !is_safe_rel_path(path) {
            return false;
        }
        matches!(
            self.tree
                .get_path(std::path::Path::new(path))
                .map(|e| e.kind()),
            Ok(Some(ObjectType::Blob))
        )
    }

    pub fn is_dir(&self, path: &str) -> bool {
        if path.is_empty() {
            return true;
        }
        if !is_safe_rel_path(path) {
            return false;
        }
        matches!(
            self.tree
                .get_path(std::path::Path::new(path))
                .map(|e| e.kind()),
            Ok(Some(ObjectType::Tree))
        )
    }

    /// File content as UTF-8 (lossy), or `None` when absent or not a file.
    pub fn read(&self, path: &str) -> Option<String> {
        if !is_safe_rel_path(path) {
            return None;
        }
        let entry = self.tree.get_path(std::path::Path::new(path)).ok()?;
        let blob = self.repo.find_blob(entry.id()).ok()?;
        Some(String::from_utf8_lossy(blob.content()).into_owned())
    }

    /// Names directly under `dir` (`""` for the root): `(name, is_dir)`.
    pub fn list_dir(&self, dir: &str) -> Vec<(String, bool)> {
        let tree = if dir.is_empty() {
            Some(self.tree.clone())
        } else {
            self.tree
                .get_path(std::path::Path::new(dir))
                .ok()
                .and_then(|e| self.repo.find_tree(e.id()).ok())
        };
        tree.map(|t| {
            t.iter()
                .filter_map(|e| Some((e.name()?.to_string(), e.kind() == Some(ObjectType::Tree))))
                .collect()
        })
        .unwrap_or_default()
    }

    /// Map a frame to a repository file by path suffix over `abs_path`, `filename` and `module`.
    pub fn map_frame(&self, frame: &Frame, exts: &[&str]) -> Option<String> {
        let mut candidates: Vec<String> = Vec::new();
        for p in [frame.abs_path.as_deref(), frame.filename.as_deref()]
            .into_iter()
            .flatten()
        {
            candidates.push(p.to_string());
        }
        if let Some(m) = frame.module.as_deref() {
            // Python `pkg.mod` / Node `src.routes:checkout` / Java `com.acme.Foo`.
            let base = m.replace([':', '.'], "/");
            for ext in exts {
                candidates.push(format!("{base}.{ext}"));
                candidates.push(format!("{base}/__init__.{ext}"));
            }
        }
        candidates.iter().find_map(|c| self.match_suffix(c))
    }

    /// The longest suffix of `path` that names a file in the tree (at least the file name).
    pub fn match_suffix(&self, path: &str) -> Option<String> {
        let mut p = path.replace('\\', "/");
        for s in URL_SCHEMES {
            if let Some(rest) = p.strip_prefix(s) {
                p = rest.to_string();
            }
        }
        if let Some(idx) = p.find("://") {
            // http://host/static/app.js → drop scheme and host.
            p = p[idx + 3..]
                .split_once('/')
                .map(|x| x.1)
                .unwrap_or("")
                .to_string();
        }
        let p = p.split(['?', '#']).next().unwrap_or("");
        let parts: Vec<&str> = p
            .split('/')
            .filter(|s| !s.is_empty() && *s != "." && *s != "..")
            .collect();
        if parts.is_empty() {
            return None;
        }
        for start in 0..parts.len() {
            let cand = parts[start..].join("/");
            if self.is_file(&cand) {
                return Some(cand);
            }
        }
        None
    }
}

/// A relative, normalized path with no `..`, no absolute root, no `.git` component, no NUL or
/// backslash: the only kind of path we read or write.
pub fn is_safe_rel_path(path: &str) -> bool {
    !path.is_empty()
        && path.len() < 4096
        && !path.starts_with('/')
        && !path.contains('\\')
        && !path.contains('\0')
        && path
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != ".." && !c.eq_ignore_ascii_case(".git"))
}

/// A snapshot of a one-commit repository holding `files`, for unit tests of the generators.
#[cfg(test)]
pub(crate) fn with_repo(files: &[(&str, &str)], f: impl FnOnce(&Snapshot)) {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repository::init(dir.path()).unwrap();
    let empty = repo.treebuilder(None).unwrap().write().unwrap();
    let mut update = git2::build::TreeUpdateBuilder::new();
    for (path, text) in files {
        let blob = repo.blob(text.as_bytes()).unwrap();
        update.upsert(*path, blob, git2::FileMode::Blob);
    }
    let empty = repo.find_tree(empty).unwrap();
    let tree = repo
        .find_tree(update.create_updated(&repo, &empty).unwrap())
        .unwrap();
    let sig = git2::Signature::now("t", "t@t").unwrap();
    let oid = repo.commit(None, &sig, &sig, "init", &tree, &[]).unwrap();
    f(&Snapshot::at(&repo, oid).unwrap());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_paths() {
        assert!(is_safe_rel_path("repro/test_sentry_1.py"));
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "a/.git/config",
            "a\\b",
            "a\0b",
            "a//b",
            ".GIT/x",
        ] {
            assert!(!is_safe_rel_path(bad), "{bad:?}");
        }
    }
}
