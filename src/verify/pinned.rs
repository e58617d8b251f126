//! Which commit holds the reference test of a repro: the pin tag, else the branch's first commit.
//!
//! The branch under review belongs to the fixer, so its contract and test files are not evidence:
//! the test, the contract and the commands come from the generator's commit, recorded by the
//! `sentry-repro/<issue>` tag (`crate::pin`). Without a tag (hand-written repros, or a pin that was
//! never fetched) the first commit on the branch that added the contract stands in, and every
//! report says `unpinned`: that commit is the fixer's too.
//!
//! - The pinned files are those the pin commit added or changed against its first parent; for the
//!   fallback only the contract, its test files and files in the contract's folder (a hand-made
//!   commit may hold the fix as well, which must never reach the red side).
//! - Handoff notes (`sentry-*.md`) are left out: the server rewrites them on new occurrences, and
//!   no runner reads them.

use std::collections::HashSet;
use std::path::Path;

use anyhow::{Context, Result};
use git2::{Oid, Repository, Sort};
use serde::Serialize;

use crate::contract::Contract;
use crate::pin;

use super::discover::{parse_contract, ReproTest};
use super::tree::read_file;

/// Where the reference came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PinSource {
    /// The protected tag `sentry-repro/<issue>`.
    Tag,
    /// No tag: the first commit on the branch that added the contract.
    Unpinned,
}

impl PinSource {
    pub fn as_str(self) -> &'static str {
        match self {
            PinSource::Tag => "tag",
            PinSource::Unpinned => "unpinned",
        }
    }
}

/// The reference a repro test is judged against.
#[derive(Debug, Clone)]
pub struct Pinned {
    pub source: PinSource,
    /// `sentry-repro/<issue>` for a tag.
    pub name: Option<String>,
    pub commit: Oid,
    /// Contract path in the pin commit.
    pub contract_path: String,
    pub contract: Contract,
    /// Files the generator wrote (repository-relative).
    pub files: Vec<String>,
    /// The repro folder: the contract's folder ("" at the root).
    pub repro_dir: String,
}

impl Pinned {
    /// `sentry-repro/<issue> (abc1234567)` or `unpinned (abc1234567)`.
    pub fn label(&self) -> String {
        let short = &self.commit.to_string()[..10];
        match &self.name {
            Some(n) => format!("{n} ({short})"),
            None => format!("unpinned ({short}, the first commit that added the contract)"),
        }
    }
}

/// A handoff note, rewritten by the server and read by no runner.
pub fn is_note(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.starts_with("sentry-") && name.ends_with(".md")
}

fn parent_dir(path: &str) -> String {
    path.rsplit_once('/')
        .map(|(d, _)| d.to_string())
        .unwrap_or_default()
}

/// Issues of the pins whose commit is on the branch (reachable from head, not from merge-base):
/// a branch that deleted its contract is still judged.
pub fn pins_on_branch(repo: &Repository, merge_base: Oid, head: Oid) -> Result<Vec<String>> {
    let pins = pin::all(repo);
    if pins.is_empty() {
        return Ok(vec![]);
    }
    let mut walk = repo.revwalk()?;
    walk.push(head)?;
    walk.hide(merge_base)?;
    let on_branch: HashSet<Oid> = walk.flatten().collect();
    let mut out: Vec<String> = pins
        .into_iter()
        .filter(|(_, c)| on_branch.contains(c))
        .map(|(issue, _)| issue)
        .collect();
    out.sort();
    Ok(out)
}

/// The test a pin holds, for a pinned issue whose contract head no longer has.
pub fn test_of_pin(repo: &Repository, issue: &str) -> Result<Option<ReproTest>> {
    let Some(commit) = pin::find(repo, issue) else {
        return Ok(None);
    };
    let (path, contract) = pinned_contract(repo, commit, &[], issue)?;
    Ok(Some(ReproTest {
        contract_path: Some(path),
        contract,
    }))
}

/// The reference for one test: its pin tag (by contract file name, then issue id), else the first
/// commit between merge-base and head that has the contract. None for a test without a contract.
pub fn resolve(
    repo: &Repository,
    merge_base: Oid,
    head: Oid,
    t: &ReproTest,
) -> Result<Option<Pinned>> {
    let Some(path) = t.contract_path.as_deref() else {
        return Ok(None);
    };
    let issues = [
        pin::issue_of_contract(path),
        Some(t.contract.issue_id.as_str()),
    ];
    for issue in issues.into_iter().flatten() {
        if let Some(commit) = pin::find(repo, issue) {
            let (contract_path, contract) = pinned_contract(repo, commit, &[path], issue)?;
            let files = changed_files(repo, commit)?;
            return Ok(Some(Pinned {
                source: PinSource::Tag,
                name: Some(pin::tag_name(issue)),
                commit,
                repro_dir: parent_dir(&contract_path),
                contract_path,
                contract,
                files,
            }));
        }
    }
    let Some(commit) = first_commit_with(repo, merge_base, head, path)? else {
        return Ok(None);
    };
    let text = read_file(repo, commit, path).unwrap_or_default();
    let contract = parse_contract(&text).with_context(|| format!("contract {path} in {commit}"))?;
    let repro_dir = parent_dir(path);
    let files = changed_files(repo, commit)?
        .into_iter()
        .filter(|f| {
            f == path
                || contract.test_files.contains(f)
                || parent_dir(f) == repro_dir
                || (!repro_dir.is_empty() && f.starts_with(&format!("{repro_dir}/")))
        })
        .collect();
    Ok(Some(Pinned {
        source: PinSource::Unpinned,
        name: None,
        commit,
        contract_path: path.to_string(),
        contract,
        files,
        repro_dir,
    }))
}

/// The contract in a pin commit: at one of `paths` when there, else `sentry-<issue>.json` among the
/// files the commit added.
fn pinned_contract(
    repo: &Repository,
    commit: Oid,
    paths: &[&str],
    issue: &str,
) -> Result<(String, Contract)> {
    let wanted = format!("sentry-{issue}.json");
    let path = paths
        .iter()
        .map(|p| p.to_string())
        .find(|p| read_file(repo, commit, p).is_some())
        .or_else(|| {
            changed_files(repo, commit)
                .ok()?
                .into_iter()
                .find(|f| f.rsplit('/').next() == Some(wanted.as_str()))
        })
        .with_context(|| format!("the pin of issue {issue} ({commit}) holds no {wanted}"))?;
    let text = read_file(repo, commit, &path).unwrap_or_default();
    let contract = parse_contract(&text)
        .with_context(|| format!("contract {path} in the pin of issue {issue}"))?;
    Ok((path, contract))
}

/// Files `commit` added or changed against its first parent (all files for a root commit), notes
/// left out.
fn changed_files(repo: &Repository, commit: Oid) -> Result<Vec<String>> {
    let c = repo.find_commit(commit)?;
    let new = c.tree()?;
    let old = match c.parent(0) {
        Ok(p) => Some(p.tree()?),
        Err(_) => None,
    };
    let diff = repo.diff_tree_to_tree(old.as_ref(), Some(&new), None)?;
    let mut out: Vec<String> = diff
        .deltas()
        .filter(|d| d.new_file().id() != Oid::zero())
        .filter_map(|d| d.new_file().path().and_then(Path::to_str).map(String::from))
        .filter(|p| !is_note(p))
        .collect();
    out.sort();
    Ok(out)
}

/// The oldest commit between merge-base and head whose tree has `path`.
fn first_commit_with(
    repo: &Repository,
    merge_base: Oid,
    head: Oid,
    path: &str,
) -> Result<Option<Oid>> {
    let mut walk = repo.revwalk()?;
    walk.set_sorting(Sort::TOPOLOGICAL | Sort::REVERSE)?;
    walk.push(head)?;
    walk.hide(merge_base)?;
    for oid in walk {
        let oid = oid?;
        let tree = repo.find_commit(oid)?.tree()?;
        if tree.get_path(Path::new(path)).is_ok() {
            return Ok(Some(oid));
        }
    }
    Ok(None)
}
