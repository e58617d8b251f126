//! The pin: an annotated tag `sentry-repro/<issue>` on the generator's commit.
//!
//! The fixer owns the branch that `verify` judges, so nothing on that branch can say which test is
//! the reference. The tag records what the generator wrote (the test files, the contract, the rest
//! of the repro folder) outside the branch: it is created with the branch (`pipeline::generate`),
//! pushed with it (`jobs::push`), never moved (`force = false`), and protected on the forge by a tag
//! protection rule (see `docs/gate.md`). `verify` reads the test, the contract and the commands
//! from it.

use anyhow::{Context, Result};
use git2::{Oid, Repository};

/// Tag names of pins start with this (the namespace to protect on the forge).
pub const TAG_PREFIX: &str = "sentry-repro/";

/// `sentry-repro/<issue>`.
pub fn tag_name(issue: &str) -> String {
    format!("{TAG_PREFIX}{issue}")
}

/// `refs/tags/sentry-repro/<issue>`.
pub fn tag_ref(issue: &str) -> String {
    format!("refs/tags/{}", tag_name(issue))
}

/// Create the pin on `commit`. An existing pin is never moved: it wins, and is returned.
pub fn create(repo: &Repository, issue: &str, commit: Oid, name: &str, email: &str) -> Result<Oid> {
    if let Some(existing) = find(repo, issue) {
        if existing != commit {
            tracing::warn!(issue, %existing, %commit, "pin exists on another commit: kept");
        }
        return Ok(existing);
    }
    let target = repo
        .find_object(commit, Some(git2::ObjectType::Commit))
        .with_context(|| format!("pin target {commit} is not a commit"))?;
    let sig = git2::Signature::now(name, email).context("pin tagger signature")?;
    let message = format!(
        "sentry-repro: the generated regression test for issue {issue}\n\n\
         `sentry-repro verify` judges fixes against this commit's repro files.\n"
    );
    match repo.tag(&tag_name(issue), &target, &sig, &message, false) {
        Ok(_) => Ok(commit),
        // Created concurrently: the first one stays.
        Err(e) if e.code() == git2::ErrorCode::Exists => {
            find(repo, issue).context("pin created concurrently but not readable")
        }
        Err(e) => Err(e).with_context(|| format!("creating tag {}", tag_name(issue))),
    }
}

/// The commit the pin of `issue` points at, if there is one.
pub fn find(repo: &Repository, issue: &str) -> Option<Oid> {
    if !crate::git::is_safe_ident(issue) {
        return None;
    }
    let r = repo.find_reference(&tag_ref(issue)).ok()?;
    r.peel_to_commit().ok().map(|c| c.id())
}

/// Every pin in the repository: (issue, commit).
pub fn all(repo: &Repository) -> Vec<(String, Oid)> {
    let Ok(refs) = repo.references_glob(&format!("refs/tags/{TAG_PREFIX}*")) else {
        return vec![];
    };
    refs.flatten()
        .filter_map(|r| {
            let issue = r
                .name()?
                .strip_prefix("refs/tags/")?
                .strip_prefix(TAG_PREFIX)?;
            let issue = issue.to_string();
            Some((issue, r.peel_to_commit().ok()?.id()))
        })
        .collect()
}

/// The issue of a generated branch name `fix/sentry-<issue>-<timestamp>`.
pub fn issue_of_branch(branch: &str) -> Option<&str> {
    let rest = branch.strip_prefix("fix/sentry-")?;
    let (issue, _ts) = rest.rsplit_once('-')?;
    crate::git::is_safe_ident(issue).then_some(issue)
}

/// The issue of a contract path `…/sentry-<issue>.json`.
pub fn issue_of_contract(path: &str) -> Option<&str> {
    let name = path.rsplit('/').next()?;
    let issue = name.strip_prefix("sentry-")?.strip_suffix(".json")?;
    crate::git::is_safe_ident(issue).then_some(issue)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(tag_ref("4501"), "refs/tags/sentry-repro/4501");
        assert_eq!(
            issue_of_branch("fix/sentry-ab-12-20240101T000000Z"),
            Some("ab-12")
        );
        assert_eq!(issue_of_branch("main"), None);
        assert_eq!(issue_of_contract("repro/sentry-4501.json"), Some("4501"));
        assert_eq!(issue_of_contract("repro/sentry-../x.json"), None);
    }

    #[test]
    fn a_pin_is_never_moved() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let sig = git2::Signature::now("t", "t@example.com").unwrap();
        let tree = repo
            .find_tree(repo.treebuilder(None).unwrap().write().unwrap())
            .unwrap();
        let a = repo.commit(None, &sig, &sig, "a", &tree, &[]).unwrap();
        let b = repo.commit(None, &sig, &sig, "b", &tree, &[]).unwrap();
        assert_eq!(create(&repo, "7", a, "t", "t@example.com").unwrap(), a);
        assert_eq!(create(&repo, "7", b, "t", "t@example.com").unwrap(), a);
        assert_eq!(find(&repo, "7"), Some(a));
        assert_eq!(all(&repo), vec![("7".to_string(), a)]);
        let tag = repo.find_reference(&tag_ref("7")).unwrap();
        assert!(tag.peel_to_tag().is_ok(), "annotated");
    }
}
