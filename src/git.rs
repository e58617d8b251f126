//! Branch and commit, built in memory with git2: no checkout, no index, no working tree touched.
//!
//! The new tree is the base tree with the generated files upserted (`TreeUpdateBuilder`), so the cost
//! depends on the depth of the written paths, not on the size of the repository. The branch is
//! created with `force = false`, and an issue is claimed first through `refs/sentry-repro/issues/<id>`
//! (also `force = false`): git's ref locking makes "one branch per issue" hold across threads and
//! processes without any lock of ours.
//!
//! A branch checked out in any work tree of the repository (the main one or a linked worktree,
//! including one in the middle of a rebase) is never moved ([`checked_out_branches`]): moving it
//! would leave that work tree's index showing the reverse of our commit, and the user's next
//! `git commit -a` would undo it.

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

/// Refusal to move a branch that a work tree has checked out.
#[derive(Debug, thiserror::Error)]
#[error("branch {0} is checked out in a work tree; it is left alone")]
pub struct CheckedOut(pub String);

/// Branches (short names) checked out in any work tree of the repository: HEAD of the main work
/// tree (unless bare) and of every linked worktree, plus the branch a rebase in progress will
/// update. Read from the administrative files, so a worktree whose folder is gone but not pruned
/// still counts (git itself still refuses to check its branch out elsewhere).
pub fn checked_out_branches(repo: &Repository) -> Result<std::collections::BTreeSet<String>> {
    let common = repo.commondir().to_path_buf();
    let mut admin_dirs = Vec::new();
    // A bare repository has no main work tree (opened from a linked worktree, git2 never reports
    // bare; counting the common HEAD then is conservative: it only names the base branch).
    if !repo.is_bare() {
        admin_dirs.push(common.clone());
    }
    let names = repo.worktrees().context("listing the worktrees")?;
    for name in names.iter().flatten() {
        admin_dirs.push(common.join("worktrees").join(name));
    }
    let mut out = std::collections::BTreeSet::new();
    for dir in admin_dirs {
        for file in ["HEAD", "rebase-merge/head-name", "rebase-apply/head-name"] {
            let Ok(text) = std::fs::read_to_string(dir.join(file)) else {
                continue;
            };
            let text = text.trim();
            let target = text.strip_prefix("ref:").map(str::trim).unwrap_or(text);
            if let Some(b) = target.strip_prefix("refs/heads/") {
                out.insert(b.to_string());
            }
        }
    }
    Ok(out)
}

/// Whether `branch` (short name) is checked out in any work tree of the repository.
pub fn is_checked_out(repo: &Repository, branch: &str) -> Result<bool> {
    Ok(checked_out_branches(repo)?.contains(branch))
}

/// Add a commit on top of an existing branch (used to update the handoff note on a new occurrence).
/// Refuses with [`CheckedOut`] when a work tree has the branch checked out.
pub fn append_commit(
    repo: &Repository,
    branch: &str,
    files: &[NewFile],
    author: (&str, &str),
    message: &str,
) -> Result<Oid> {
    if is_checked_out(repo, branch)? {
        return Err(CheckedOut(branch.to_string()).into());
    }
    let refname = format!("refs/heads/{branch}");
    let mut reference = repo.find_reference(&refname)?;
    let parent = reference.peel_to_commit()?;
    let commit = write_commit(repo, &parent, files, author.0, author.1, message)?;
    reference.set_target(commit, "sentry-repro: new occurrence")?;
    Ok(commit)
}

fn write_commit(
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
    fn checked_out_counts_head_and_a_rebase_in_progress() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = Repository::init(tmp.path()).unwrap();
        let sig = Signature::now("T", "t@example.com").unwrap();
        let tree = repo
            .find_tree(repo.treebuilder(None).unwrap().write().unwrap())
            .unwrap();
        let c = repo
            .commit(Some("refs/heads/main"), &sig, &sig, "m", &tree, &[])
            .unwrap();
        repo.set_head("refs/heads/main").unwrap();
        for b in ["fix/sentry-1-x", "fix/sentry-2-x"] {
            repo.reference(&format!("refs/heads/{b}"), c, false, "t")
                .unwrap();
        }
        let names = |r: &Repository| {
            checked_out_branches(r)
                .unwrap()
                .into_iter()
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&repo), ["main"]);
        // A rebase of fix/sentry-2-x stopped midway: HEAD detached, the branch still taken.
        repo.set_head_detached(c).unwrap();
        std::fs::create_dir_all(repo.path().join("rebase-merge")).unwrap();
        std::fs::write(
            repo.path().join("rebase-merge/head-name"),
            "refs/heads/fix/sentry-2-x\n",
        )
        .unwrap();
        assert_eq!(names(&repo), ["fix/sentry-2-x"]);
        assert!(is_checked_out(&repo, "fix/sentry-2-x").unwrap());
        let err = append_commit(&repo, "fix/sentry-2-x", &[], ("T", "t@e"), "m").unwrap_err();
        assert!(err.downcast_ref::<CheckedOut>().is_some(), "{err:#}");
        assert!(append_commit(&repo, "fix/sentry-1-x", &[], ("T", "t@e"), "m").is_ok());
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
