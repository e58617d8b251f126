//! Branch and commit, built in memory with git2: no checkout, no index, no working tree touched.
//!
//! The new tree is the base tree with the generated files upserted (`TreeUpdateBuilder`), so the cost
//! depends on the depth of the written paths, not on the size of the repository. The branch is
//! created with `force = false`, and an issue is claimed first through `refs/sentry-repro/issues/<id>`
//! (also `force = false`): git's ref locking makes "one branch per issue" hold across threads and
//! processes without any lock of ours.

use anyhow::{anyhow, bail, Context, Result};
use git2::{build::TreeUpdateBuilder, FileMode, Oid, Repository, Signature};

use crate::repo::is_safe_rel_path;

#[derive(Debug, Clone)]
pub struct NewFile {
    /// Path relative to the repository root; validated before anything is written.
    pub path: String,
    pub content: String,
}

#[derive(Debug, Clone)]
pub struct CommitRequest<'a> {
    pub base: Oid,
    pub files: &'a [NewFile],
    /// Only paths under these prefixes may be written (`repro/`, a language's test folder).
    pub allowed_prefixes: &'a [String],
    pub branch: String,
    pub author_name: String,
    pub author_email: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOutcome {
    Created {
        branch: String,
        commit: Oid,
    },
    /// The issue already has a branch: nothing was created.
    Exists {
        branch: String,
        commit: Oid,
    },
}

/// Ref that records which branch an issue got; created atomically before the branch.
pub fn claim_ref(issue: &str) -> String {
    format!("refs/sentry-repro/issues/{issue}")
}

/// `fix/sentry-<issue>-<UTC timestamp>`; `issue` must already be a safe identifier.
pub fn branch_name(issue: &str, now: chrono::DateTime<chrono::Utc>) -> Result<String> {
    if !is_safe_ident(issue) {
        bail!("issue id {issue:?} is not a safe ref component");
    }
    let name = format!("fix/sentry-{}-{}", issue, now.format("%Y%m%dT%H%M%SZ"));
    if !git2::Reference::is_valid_name(&format!("refs/heads/{name}")) {
        bail!("branch name {name:?} is not a valid ref");
    }
    Ok(name)
}

/// An id usable in ref and file names: ASCII alphanumerics, `-` and `_`, 1 to 64 characters.
pub fn is_safe_ident(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !s.starts_with('-')
}

/// The branch an issue already has, if any (read from the claim ref's message-free target).
pub fn existing_branch(repo: &Repository, issue: &str) -> Option<(String, Oid)> {
    let claim = repo.find_reference(&claim_ref(issue)).ok()?;
    let commit = claim.target()?;
    let prefix = format!("refs/heads/fix/sentry-{issue}-");
    let refs = repo.references_glob(&format!("{prefix}*")).ok()?;
    let mut found: Vec<(String, Oid)> = refs
        .flatten()
        .filter_map(|r| Some((r.shorthand()?.to_string(), r.target()?)))
        .collect();
    found.sort();
    found
        .into_iter()
        .next()
        .or_else(|| Some((format!("(claimed, branch deleted) {issue}"), commit)))
}

/// Build the tree in memory and create the branch, once per issue.
pub fn commit_new_branch(
    repo: &Repository,
    issue: &str,
    req: &CommitRequest,
) -> Result<CommitOutcome> {
    for f in req.files {
        if !is_safe_rel_path(&f.path) {
            bail!("refusing to write unsafe path {:?}", f.path);
        }
        if !req.allowed_prefixes.iter().any(|p| {
            // A folder prefix, or exactly one named file (e.g. a manifest a language must edit).
            let p = p.trim_end_matches('/');
            f.path == p || f.path.starts_with(&format!("{p}/"))
        }) {
            bail!(
                "refusing to write {:?} outside {:?}",
                f.path,
                req.allowed_prefixes
            );
        }
    }
    if let Some((branch, commit)) = existing_branch(repo, issue) {
        return Ok(CommitOutcome::Exists { branch, commit });
    }
    let base = repo
        .find_commit(req.base)
        .with_context(|| format!("base commit {} not found", req.base))?;
    let commit = write_commit(
        repo,
        &base,
        req.files,
        &req.author_name,
        &req.author_email,
        &req.message,
    )?;
    // Claim the issue atomically; a concurrent writer that lost the race reports the winner's branch.
    match repo.reference(
        &claim_ref(issue),
        commit,
        false,
        "sentry-repro: claim issue",
    ) {
        Ok(_) => {}
        Err(e) if e.code() == git2::ErrorCode::Exists => {
            return existing_branch(repo, issue)
                .map(|(branch, commit)| CommitOutcome::Exists { branch, commit })
                .ok_or_else(|| anyhow!("issue {issue} claimed concurrently but no branch found"));
        }
        Err(e) => return Err(e).context("claiming the issue ref"),
    }
    repo.reference(
        &format!("refs/heads/{}", req.branch),
        commit,
        false,
        "sentry-repro: regression test branch",
    )
    .with_context(|| format!("creating branch {}", req.branch))?;
    Ok(CommitOutcome::Created {
        branch: req.branch.clone(),
        commit,
    })
}

/// Add a commit on top of an existing branch (used to update the handoff note on a new occurrence).
pub fn append_commit(
    repo: &Repository,
    branch: &str,
    files: &[NewFile],
    author: (&str, &str),
    message: &str,
) -> Result<Oid> {
    let refname = format!("refs/heads/{branch}");
    let mut reference = repo.find_reference(&refname)?;
    let parent = reference.peel_to_commit()?;
    let commit = write_commit(repo, &parent, files, author.0, author.1, message)?;
    reference.set_target(commit, "sentry-repro: new occurrence")?;
    Ok(commit)
}

/// Write the commit's objects (blobs, trees, commit) as ONE pack instead of one loose file each.
///
/// The objects are built in a scratch repository whose object database is an in-memory backend
/// (libgit2's mempack) with the real object folder as a read-only alternate, so nothing touches the
/// disk while the tree is assembled. The mempack is then dumped as a pack and handed to the real
/// repository's pack writer (temporary file, index, rename into `objects/pack/`). Only after that
/// returns does the caller create any ref, so a ref never points at a missing object. Two files (pack
/// and index) instead of about seven loose objects with their temporary files; `git gc` folds these
/// small packs together like any others (`gc.autoPackLimit`).
fn write_commit_packed(
    repo: &Repository,
    parent: &git2::Commit,
    files: &[NewFile],
    name: &str,
    email: &str,
    message: &str,
) -> Result<Oid> {
    let scratch = Repository::from_odb(git2::Odb::new()?)?;
    let odb = scratch.odb()?;
    let mempack = odb.add_new_mempack_backend(1000)?;
    let objects = repo.path().join("objects");
    odb.add_disk_alternate(
        objects
            .to_str()
            .ok_or_else(|| anyhow!("repository path is not UTF-8"))?,
    )?;
    let parent = scratch.find_commit(parent.id())?;
    let commit = write_commit_in(&scratch, &parent, files, name, email, message)?;
    let mut buf = git2::Buf::new();
    mempack.dump(&scratch, &mut buf)?;
    if !buf.is_empty() {
        let real = repo.odb()?;
        let mut writer = real.packwriter()?;
        std::io::Write::write_all(&mut writer, &buf).context("writing the commit's pack")?;
        writer.commit().context("indexing the commit's pack")?;
    }
    if !repo.odb()?.exists(commit) {
        bail!("commit {commit} missing after writing its pack");
    }
    Ok(commit)
}

/// Write a commit on `parent` with `files` upserted: one pack (default, [`write_commit_packed`]) or
/// loose objects (for comparison, `SENTRY_REPRO_GIT_LOOSE=1`).
fn write_commit(
    repo: &Repository,
    parent: &git2::Commit,
    files: &[NewFile],
    name: &str,
    email: &str,
    message: &str,
) -> Result<Oid> {
    if packed_writes() {
        return write_commit_packed(repo, parent, files, name, email, message);
    }
    write_commit_in(repo, parent, files, name, email, message)
}

/// 0: not decided yet (read `SENTRY_REPRO_GIT_LOOSE`), 1: one pack per commit, 2: loose objects.
static WRITE_MODE: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// Whether new commits are written as one pack (default) or as loose objects
/// (`SENTRY_REPRO_GIT_LOOSE=1`, for comparison).
fn packed_writes() -> bool {
    use std::sync::atomic::Ordering;
    match WRITE_MODE.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => {
            let loose = std::env::var("SENTRY_REPRO_GIT_LOOSE").is_ok_and(|v| v == "1");
            WRITE_MODE.store(if loose { 2 } else { 1 }, Ordering::Relaxed);
            !loose
        }
    }
}

/// Benchmarks: write new commits as loose objects (`true`) or as one pack each (`false`).
#[doc(hidden)]
pub fn set_loose_writes(loose: bool) {
    WRITE_MODE.store(
        if loose { 2 } else { 1 },
        std::sync::atomic::Ordering::Relaxed,
    );
}

fn write_commit_in(
    repo: &Repository,
    parent: &git2::Commit,
    files: &[NewFile],
    name: &str,
    email: &str,
    message: &str,
) -> Result<Oid> {
    let base_tree = parent.tree()?;
    let mut update = TreeUpdateBuilder::new();
    for f in files {
        if !is_safe_rel_path(&f.path) {
            bail!("refusing to write unsafe path {:?}", f.path);
        }
        let blob = repo.blob(f.content.as_bytes())?;
        update.upsert(f.path.as_str(), blob, FileMode::Blob);
    }
    let tree_id = update.create_updated(repo, &base_tree)?;
    let tree = repo.find_tree(tree_id)?;
    let sig = Signature::now(name, email)?;
    Ok(repo.commit(None, &sig, &sig, message, &tree, &[parent])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idents() {
        assert!(is_safe_ident("4504123456"));
        assert!(is_safe_ident("abc-DEF_1"));
        for bad in ["", "-x", "a/b", "a..b", "a b", "x\n", &"9".repeat(65)] {
            assert!(!is_safe_ident(bad), "{bad:?}");
        }
    }

    #[test]
    fn packed_commit_is_complete_and_plain_git_sees_it() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = Repository::init(tmp.path()).unwrap();
        let sig = Signature::now("t", "t@example.com").unwrap();
        let blob = repo.blob(b"print(1)\n").unwrap();
        let mut tb = repo.treebuilder(None).unwrap();
        tb.insert("app.py", blob, 0o100644).unwrap();
        let tree = repo.find_tree(tb.write().unwrap()).unwrap();
        let base = repo
            .commit(Some("HEAD"), &sig, &sig, "base", &tree, &[])
            .unwrap();
        let packs = |r: &Repository| {
            std::fs::read_dir(r.path().join("objects/pack"))
                .map(|d| {
                    d.flatten()
                        .filter(|e| e.file_name().to_string_lossy().ends_with(".pack"))
                        .count()
                })
                .unwrap_or(0)
        };
        let loose_before = walkdir::WalkDir::new(repo.path().join("objects"))
            .into_iter()
            .flatten()
            .filter(|e| e.file_type().is_file())
            .count();
        let files = vec![
            NewFile {
                path: "repro/deep/test_x.py".into(),
                content: "def test_x():\n    assert False\n".into(),
            },
            NewFile {
                path: "repro/sentry-7.json".into(),
                content: "{}".into(),
            },
        ];
        let allowed = vec!["repro".to_string()];
        let req = CommitRequest {
            base,
            files: &files,
            allowed_prefixes: &allowed,
            branch: "fix/sentry-7-20260101T000000Z".into(),
            author_name: "t".into(),
            author_email: "t@example.com".into(),
            message: "repro".into(),
        };
        set_loose_writes(false);
        let out = commit_new_branch(&repo, "7", &req).unwrap();
        let CommitOutcome::Created { commit, .. } = out else {
            panic!("{out:?}")
        };
        assert_eq!(packs(&repo), 1, "one pack for the whole commit");
        let loose_after = walkdir::WalkDir::new(repo.path().join("objects"))
            .into_iter()
            .flatten()
            .filter(|e| e.file_type().is_file() && !e.path().to_string_lossy().contains("/pack/"))
            .count();
        assert_eq!(loose_after, loose_before, "no loose object written");
        // A fresh handle (another process) reads every file of the branch.
        let fresh = Repository::open(tmp.path()).unwrap();
        let c = fresh.find_commit(commit).unwrap();
        assert_eq!(c.parent_id(0).unwrap(), base);
        let t = c.tree().unwrap();
        let e = t
            .get_path(std::path::Path::new("repro/deep/test_x.py"))
            .unwrap();
        assert_eq!(
            fresh.find_blob(e.id()).unwrap().content(),
            files[0].content.as_bytes()
        );
        assert!(t.get_path(std::path::Path::new("app.py")).is_ok());
        // Once per issue, whatever the write mode.
        assert!(matches!(
            commit_new_branch(&repo, "7", &req).unwrap(),
            CommitOutcome::Exists { .. }
        ));
        // Plain git agrees (when installed).
        if let Ok(o) = std::process::Command::new("git")
            .args(["fsck", "--full", "--strict"])
            .current_dir(tmp.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", tmp.path())
            .output()
        {
            assert!(
                o.status.success(),
                "git fsck: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            let log = std::process::Command::new("git")
                .args(["log", "--format=%s", "fix/sentry-7-20260101T000000Z"])
                .current_dir(tmp.path())
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("HOME", tmp.path())
                .output()
                .unwrap();
            assert_eq!(String::from_utf8_lossy(&log.stdout), "repro\nbase\n");
        }
    }

    #[test]
    fn branch_names_are_refs() {
        let t = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        assert_eq!(
            branch_name("42", t).unwrap(),
            "fix/sentry-42-20231114T221320Z"
        );
        assert!(branch_name("../x", t).is_err());
    }
}
