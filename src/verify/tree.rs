//! Temporary copies of commits, written straight from git objects.
//!
//! `verify` must never touch the user's working tree, index or HEAD (the fixer may be mid-edit), and
//! it must run exactly the committed code. So each side is exported from its tree object into a fresh
//! temporary directory (blobs, executable bits, symlinks; submodules are skipped), and the red side gets
//! head's repro files laid over the merge-base. The directory is removed when the `Export` drops.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use git2::{ObjectType, Oid, Repository, Tree, TreeWalkMode, TreeWalkResult};

use crate::repo::is_safe_rel_path;

pub struct Export {
    dir: tempfile::TempDir,
}

impl Export {
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Write every file of `commit`'s tree into a new temporary directory.
pub fn export_commit(repo: &Repository, commit: Oid, label: &str) -> Result<Export> {
    let tree = repo.find_commit(commit)?.tree()?;
    let dir = tempfile::Builder::new()
        .prefix(&format!("sentry-verify-{label}-"))
        .tempdir()
        .context("creating a temporary directory")?;
    write_tree(repo, &tree, dir.path())?;
    Ok(Export { dir })
}

fn write_tree(repo: &Repository, tree: &Tree, root: &Path) -> Result<()> {
    let mut failure: Option<anyhow::Error> = None;
    tree.walk(TreeWalkMode::PreOrder, |parent, entry| {
        let Some(name) = entry.name() else {
            return TreeWalkResult::Skip;
        };
        let rel = format!("{parent}{name}");
        if !is_safe_rel_path(&rel) {
            failure = Some(anyhow::anyhow!("refusing to export unsafe path {rel:?}"));
            return TreeWalkResult::Abort;
        }
        let dest = root.join(&rel);
        let res = match entry.kind() {
            Some(ObjectType::Tree) => fs::create_dir_all(&dest).map_err(anyhow::Error::from),
            Some(ObjectType::Blob) => repo
                .find_blob(entry.id())
                .map_err(anyhow::Error::from)
                .and_then(|blob| write_blob(&dest, blob.content(), entry.filemode())),
            // Submodules (commits) are not part of this repository's objects.
            _ => Ok(()),
        };
        match res {
            Ok(()) => TreeWalkResult::Ok,
            Err(e) => {
                failure = Some(e.context(format!("exporting {rel}")));
                TreeWalkResult::Abort
            }
        }
    })?;
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn write_blob(dest: &Path, content: &[u8], mode: i32) -> Result<()> {
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent)?;
    }
    if mode == 0o120000 {
        #[cfg(unix)]
        {
            let target = PathBuf::from(String::from_utf8_lossy(content).into_owned());
            std::os::unix::fs::symlink(target, dest)?;
            return Ok(());
        }
    }
    fs::write(dest, content)?;
    #[cfg(unix)]
    if mode == 0o100755 {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dest, fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}

/// Copy `paths` from `commit`'s tree over the export (the red side: head's repro files on the base).
pub fn overlay(repo: &Repository, commit: Oid, paths: &[String], export: &Export) -> Result<()> {
    let tree = repo.find_commit(commit)?.tree()?;
    for p in paths {
        if !is_safe_rel_path(p) {
            bail!("refusing to copy unsafe path {p:?}");
        }
        let entry = tree
            .get_path(Path::new(p))
            .with_context(|| format!("{p} is not in commit {commit}"))?;
        let blob = repo
            .find_blob(entry.id())
            .with_context(|| format!("{p} is not a file in commit {commit}"))?;
        let dest = export.path().join(p);
        if dest.symlink_metadata().is_ok() {
            fs::remove_file(&dest).ok();
        }
        write_blob(&dest, blob.content(), entry.filemode())?;
    }
    Ok(())
}

/// Read one file of a commit (None when absent).
pub fn read_file(repo: &Repository, commit: Oid, path: &str) -> Option<String> {
    let tree = repo.find_commit(commit).ok()?.tree().ok()?;
    let entry = tree.get_path(Path::new(path)).ok()?;
    let blob = repo.find_blob(entry.id()).ok()?;
    Some(String::from_utf8_lossy(blob.content()).into_owned())
}
