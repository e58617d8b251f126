//! Temporary copies of commits, written straight from git objects.
//!
//! `verify` must never touch the user's working tree, index or HEAD (the fixer may be mid-edit), and
//! it must run exactly the committed code. So each side is exported from its tree object into a fresh
//! temporary directory (blobs, executable bits, symlinks; submodules are skipped), and the red side gets
//! head's repro files laid over the merge-base. The directory is removed when the `Export` drops.
//!
//! Writing a tree is the dominant cost of `verify` on a large repository (tens of thousands of file
//! creations), so one export serves every step when it can: after the red runs, [`switch`] turns the
//! base export into head's by writing only the files that differ, and the suite runs in that same
//! export — but only if nothing in it changed since it was [`Export::seal`]ed (every entry's mtime
//! is checked); otherwise, and when JavaScript manifests change, a fresh export is made as before.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use git2::{ObjectType, Oid, Repository, Tree, TreeWalkMode, TreeWalkResult};

use crate::repo::is_safe_rel_path;

pub struct Export {
    /// Always `Some` until dropped (then handed to [`remove_later`]).
    dir: Option<tempfile::TempDir>,
    commit: Oid,
    /// Created (outside the export) right after the export was complete: its mtime is the line.
    seal: Option<tempfile::NamedTempFile>,
}

/// Manifests whose change means `node_modules` (installed by `prepare`) may no longer fit.
const DEPENDENCY_FILES: &[&str] = &["package.json", "package-lock.json", "npm-shrinkwrap.json"];

impl Export {
    pub fn path(&self) -> &Path {
        self.dir
            .as_ref()
            .expect("export folder present until dropped")
            .path()
    }

    /// Record that the export is complete and pristine (after overlay and `prepare`).
    pub fn seal(&mut self) -> Result<()> {
        // File times come from a coarse clock (a few ms per tick): wait out the tick so that files
        // written by the export are strictly older than the seal, and anything written later is not.
        std::thread::sleep(std::time::Duration::from_millis(25));
        self.seal = Some(tempfile::NamedTempFile::new().context("creating the export seal")?);
        Ok(())
    }

    /// True when no file, folder or link in the export was created, changed or removed since
    /// [`Export::seal`] (a removal changes its folder's mtime).
    pub fn untouched(&self) -> bool {
        let Some(line) = self
            .seal
            .as_ref()
            .and_then(|s| s.as_file().metadata().ok())
            .and_then(|m| m.modified().ok())
        else {
            return false;
        };
        walkdir::WalkDir::new(self.path())
            .follow_links(false)
            .into_iter()
            .all(|e| {
                e.ok()
                    .and_then(|e| e.path().symlink_metadata().ok())
                    .and_then(|m| m.modified().ok())
                    .is_some_and(|t| t < line)
            })
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
    Ok(Export {
        dir: Some(dir),
        commit,
        seal: None,
    })
}

impl Drop for Export {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            remove_later(dir);
        }
    }
}

/// Remove an export without waiting for it. Deleting tens of thousands of files costs about what
/// creating them did, and nobody waits for it: the folder is renamed out of the way (so nothing can
/// mistake it for a live export) and handed to a detached `rm -rf`, which outlives `verify` if need
/// be. When that cannot start, the folder is removed here, as before.
fn remove_later(dir: tempfile::TempDir) {
    let path = dir.keep();
    let trash = path.with_file_name(format!(
        ".sentry-verify-trash-{}",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    let target = if fs::rename(&path, &trash).is_ok() {
        trash
    } else {
        path
    };
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        use std::process::{Command, Stdio};
        let spawned = Command::new("rm")
            .arg("-rf")
            .arg("--")
            .arg(&target)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group: a Ctrl-C meant for `verify` does not stop the cleanup.
            .process_group(0)
            .spawn();
        if let Ok(child) = spawned {
            // Reap it from a thread while we live; after exit, init does.
            std::thread::spawn(move || {
                let mut child = child;
                let _ = child.wait();
            });
            return;
        }
    }
    let _ = fs::remove_dir_all(&target);
}

/// Turn `x` into an export of `to`: in place, writing only what differs between
/// the commit it was exported from and `to`, when it is untouched since sealed and no dependency
/// manifest changes; otherwise a fresh export (named after `label`). Files overlaid on `x` must come from `to`. The result
/// is not sealed.
pub fn switch(repo: &Repository, mut x: Export, to: Oid, label: &str) -> Result<Export> {
    if x.commit == to && x.untouched() {
        x.seal = None;
        return Ok(x);
    }
    if !x.untouched() {
        return export_commit(repo, to, label);
    }
    let from_tree = repo.find_commit(x.commit)?.tree()?;
    let to_tree = repo.find_commit(to)?.tree()?;
    let diff = repo.diff_tree_to_tree(Some(&from_tree), Some(&to_tree), None)?;
    let mut deleted: Vec<String> = Vec::new();
    let mut written: Vec<(String, Oid, i32)> = Vec::new();
    for d in diff.deltas() {
        let old = d.old_file();
        let new = d.new_file();
        if old.id() != Oid::zero() {
            if let Some(p) = old.path().and_then(|p| p.to_str()) {
                deleted.push(p.to_string());
            }
        }
        if new.id() != Oid::zero() {
            if let Some(p) = new.path().and_then(|p| p.to_str()) {
                written.push((p.to_string(), new.id(), i32::from(new.mode())));
            }
        }
    }
    let touches_deps = deleted
        .iter()
        .chain(written.iter().map(|w| &w.0))
        .any(|p| DEPENDENCY_FILES.contains(&p.rsplit('/').next().unwrap_or("")));
    if touches_deps {
        return export_commit(repo, to, label);
    }
    let root = x.path().to_path_buf();
    for p in &deleted {
        if !is_safe_rel_path(p) {
            bail!("refusing to remove unsafe path {p:?}");
        }
        let dest = root.join(p);
        if dest.symlink_metadata().is_ok_and(|m| !m.is_dir()) {
            fs::remove_file(&dest).with_context(|| format!("removing {p}"))?;
        }
        // Folders left empty go too, as in a checkout of `to`.
        let mut dir = dest.parent();
        while let Some(d) = dir.filter(|d| *d != root.as_path()) {
            if fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
    }
    for (p, id, mode) in &written {
        if !is_safe_rel_path(p) {
            bail!("refusing to export unsafe path {p:?}");
        }
        // Submodules (commits) are not part of this repository's objects.
        if *mode == 0o160000 {
            continue;
        }
        let dest = root.join(p);
        if dest.symlink_metadata().is_ok_and(|m| !m.is_dir()) {
            fs::remove_file(&dest).ok();
        }
        let blob = repo
            .find_blob(*id)
            .with_context(|| format!("{p} is not a file in commit {to}"))?;
        write_blob(&dest, blob.content(), *mode)?;
    }
    x.commit = to;
    x.seal = None;
    Ok(x)
}

/// Below this many files an export is written on one thread.
const PARALLEL_EXPORT_MIN_FILES: usize = 2000;

fn write_tree(repo: &Repository, tree: &Tree, root: &Path) -> Result<()> {
    // Pass 1: folders, created in pre-order (a folder before its entries, so files need no parent
    // check: a `create_dir_all` per file was two failing syscalls per file), and the list of blobs.
    let mut failure: Option<anyhow::Error> = None;
    let mut files: Vec<(PathBuf, Oid, i32)> = Vec::new();
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
        match entry.kind() {
            Some(ObjectType::Tree) => {
                if let Err(e) = fs::create_dir(&dest) {
                    failure = Some(anyhow::Error::from(e).context(format!("exporting {rel}")));
                    return TreeWalkResult::Abort;
                }
            }
            Some(ObjectType::Blob) => files.push((dest, entry.id(), entry.filemode())),
            // Submodules (commits) are not part of this repository's objects.
            _ => {}
        }
        TreeWalkResult::Ok
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    // Pass 2: the files. Creating tens of thousands of files is kernel time (inode allocation) that
    // two cores share well, so a large export is split in contiguous runs (folder locality), one
    // per core, each thread with its own handle on the repository (a handle is not shared).
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(4);
    if threads < 2 || files.len() < PARALLEL_EXPORT_MIN_FILES {
        return write_files(repo, &files);
    }
    let gitdir = repo.path();
    std::thread::scope(|s| {
        let workers: Vec<_> = files
            .chunks(files.len().div_ceil(threads))
            .map(|run| {
                s.spawn(move || {
                    let repo = Repository::open(gitdir).context("opening the repository")?;
                    write_files(&repo, run)
                })
            })
            .collect();
        workers.into_iter().try_for_each(|w| {
            w.join()
                .map_err(|_| anyhow::anyhow!("an export thread panicked"))?
        })
    })
}

fn write_files(repo: &Repository, files: &[(PathBuf, Oid, i32)]) -> Result<()> {
    for (dest, id, mode) in files {
        let blob = repo.find_blob(*id)?;
        write_file(dest, blob.content(), *mode)
            .with_context(|| format!("exporting {}", dest.display()))?;
    }
    Ok(())
}

fn write_blob(dest: &Path, content: &[u8], mode: i32) -> Result<()> {
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent)?;
    }
    write_file(dest, content, mode)
}

/// Write a blob whose folder exists.
fn write_file(dest: &Path, content: &[u8], mode: i32) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use git2::Signature;

    fn commit(repo: &Repository, files: &[(&str, &str, i32)], parent: Option<Oid>) -> Oid {
        let mut tb = git2::build::TreeUpdateBuilder::new();
        let empty = repo.treebuilder(None).unwrap().write().unwrap();
        for (p, c, mode) in files {
            let b = repo.blob(c.as_bytes()).unwrap();
            tb.upsert(
                *p,
                b,
                if *mode == 0o100755 {
                    git2::FileMode::BlobExecutable
                } else {
                    git2::FileMode::Blob
                },
            );
        }
        let base = repo.find_tree(empty).unwrap();
        let tree = repo
            .find_tree(tb.create_updated(repo, &base).unwrap())
            .unwrap();
        let sig = Signature::now("t", "t@example.com").unwrap();
        let parents: Vec<git2::Commit> = parent
            .map(|p| repo.find_commit(p).unwrap())
            .into_iter()
            .collect();
        let refs: Vec<&git2::Commit> = parents.iter().collect();
        repo.commit(None, &sig, &sig, "c", &tree, &refs).unwrap()
    }

    fn listing(root: &Path) -> Vec<(String, String, bool)> {
        let mut out: Vec<_> = walkdir::WalkDir::new(root)
            .into_iter()
            .flatten()
            .filter(|e| e.path() != root)
            .map(|e| {
                let rel = e.path().strip_prefix(root).unwrap().display().to_string();
                let content = fs::read_to_string(e.path()).unwrap_or_default();
                #[cfg(unix)]
                let exec = {
                    use std::os::unix::fs::PermissionsExt;
                    e.file_type().is_file()
                        && e.metadata().unwrap().permissions().mode() & 0o111 != 0
                };
                (rel, content, exec)
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn a_dropped_export_is_removed_without_waiting() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = Repository::init(tmp.path()).unwrap();
        let files: Vec<(String, String, i32)> = (0..200)
            .map(|i| (format!("d{}/f{i}.py", i % 7), format!("{i}"), 0o100644))
            .collect();
        let refs: Vec<(&str, &str, i32)> = files
            .iter()
            .map(|(p, c, m)| (p.as_str(), c.as_str(), *m))
            .collect();
        let c = commit(&repo, &refs, None);
        let x = export_commit(&repo, c, "drop").unwrap();
        let path = x.path().to_path_buf();
        assert!(path.join("d3/f3.py").is_file());
        drop(x);
        // Renamed away at once: nothing can take it for a live export.
        assert!(!path.exists());
        let parent = path.parent().unwrap().to_path_buf();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let trash = parent.join(format!(".sentry-verify-trash-{name}"));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while trash.exists() {
            assert!(std::time::Instant::now() < deadline, "trash never removed");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    #[test]
    fn a_large_export_written_on_several_threads_is_complete() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = Repository::init(tmp.path()).unwrap();
        let n = PARALLEL_EXPORT_MIN_FILES + 500;
        let owned: Vec<(String, String, i32)> = (0..n)
            .map(|i| {
                let mode = if i % 7 == 0 { 0o100755 } else { 0o100644 };
                (
                    format!("d{}/s{}/f{i}.py", i % 13, i % 5),
                    format!("v{i}"),
                    mode,
                )
            })
            .collect();
        let files: Vec<(&str, &str, i32)> = owned
            .iter()
            .map(|(p, c, m)| (p.as_str(), c.as_str(), *m))
            .collect();
        let c = commit(&repo, &files, None);
        let x = export_commit(&repo, c, "big").unwrap();
        let got: Vec<_> = listing(x.path())
            .into_iter()
            .filter(|(rel, _, _)| rel.ends_with(".py"))
            .collect();
        let mut want: Vec<_> = owned
            .iter()
            .map(|(p, c, m)| (p.clone(), c.clone(), *m == 0o100755))
            .collect();
        want.sort();
        assert_eq!(got.len(), n);
        assert_eq!(got, want);
    }

    #[test]
    fn switch_in_place_matches_a_fresh_export() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = Repository::init(tmp.path()).unwrap();
        let base = commit(
            &repo,
            &[
                ("a.py", "a", 0o100644),
                ("gone/x.py", "x", 0o100644),
                ("d/e.sh", "e", 0o100644),
                ("same", "s", 0o100644),
            ],
            None,
        );
        let head = commit(
            &repo,
            &[
                ("a.py", "A", 0o100644),
                ("new/n.py", "n", 0o100644),
                ("d/e.sh", "e", 0o100755),
                ("same", "s", 0o100644),
                ("repro/t.py", "t", 0o100644),
            ],
            Some(base),
        );
        let mut x = export_commit(&repo, base, "base").unwrap();
        overlay(&repo, head, &["repro/t.py".to_string()], &x).unwrap();
        x.seal().unwrap();
        assert!(x.untouched());
        let path = x.path().to_path_buf();
        let switched = switch(&repo, x, head, "head").unwrap();
        assert_eq!(switched.path(), path, "switched in place");
        let fresh = export_commit(&repo, head, "fresh").unwrap();
        assert_eq!(listing(switched.path()), listing(fresh.path()));

        // A run that writes into the export disqualifies it: the next step gets a fresh copy.
        let mut y = export_commit(&repo, base, "base").unwrap();
        y.seal().unwrap();
        fs::write(y.path().join("same"), "changed").unwrap();
        assert!(!y.untouched());
        let ypath = y.path().to_path_buf();
        let z = switch(&repo, y, base, "again").unwrap();
        assert_ne!(z.path(), ypath);
        assert_eq!(fs::read_to_string(z.path().join("same")).unwrap(), "s");
    }
}
