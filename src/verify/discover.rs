//! Which repro tests to verify: refs, merge-base, and the contracts a branch added or changed.
//!
//! The branch under review is everything between merge-base(base, head) and head, compared as trees
//! (no checkout). A `repro/sentry-*.json` contract added or modified there names its test files and
//! commands; `--test PATH` picks tests directly (a contract listing the path is still used when one
//! exists on head, so the expected exception is known).

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use git2::{Delta, DiffOptions, Oid, Repository};

use crate::contract::{Contract, Expected, Strategy};
use crate::repo::is_safe_rel_path;

use super::tree::read_file;

/// One repro test to judge, with the contract that describes it.
#[derive(Debug, Clone)]
pub struct ReproTest {
    /// Contract path on head, when there is one.
    pub contract_path: Option<String>,
    pub contract: Contract,
}

impl ReproTest {
    pub fn name(&self) -> String {
        self.contract.test_files.join(" ")
    }
}

pub fn resolve_commit(repo: &Repository, spec: &str) -> Result<Oid> {
    let obj = repo
        .revparse_single(spec)
        .map_err(|e| anyhow!("bad ref {spec:?}: {}", e.message()))?;
    let commit = obj
        .peel_to_commit()
        .map_err(|_| anyhow!("bad ref {spec:?}: not a commit"))?;
    Ok(commit.id())
}

/// The default base: the remote's default branch, else `main`/`master` (or their upstream).
pub fn default_base(repo: &Repository) -> Result<String> {
    if let Ok(r) = repo.find_reference("refs/remotes/origin/HEAD") {
        if let Some(target) = r.symbolic_target() {
            if let Some(short) = target.strip_prefix("refs/remotes/") {
                return Ok(short.to_string());
            }
        }
    }
    for name in ["main", "master"] {
        if let Ok(branch) = repo.find_branch(name, git2::BranchType::Local) {
            if let Ok(up) = branch.upstream() {
                if let Ok(Some(n)) = up.name() {
                    return Ok(n.to_string());
                }
            }
            return Ok(name.to_string());
        }
    }
    for name in ["origin/main", "origin/master"] {
        if repo.find_branch(name, git2::BranchType::Remote).is_ok() {
            return Ok(name.to_string());
        }
    }
    bail!("no default base branch (origin/HEAD, main, master); pass --base REF")
}

fn is_contract_path(p: &str) -> bool {
    let name = p.rsplit('/').next().unwrap_or(p);
    name.starts_with("sentry-") && name.ends_with(".json")
}

/// Contracts added or changed between `merge_base` and `head`.
pub fn changed_contracts(repo: &Repository, merge_base: Oid, head: Oid) -> Result<Vec<ReproTest>> {
    let old = repo.find_commit(merge_base)?.tree()?;
    let new = repo.find_commit(head)?.tree()?;
    let mut opts = DiffOptions::new();
    let diff = repo.diff_tree_to_tree(Some(&old), Some(&new), Some(&mut opts))?;
    let mut out = Vec::new();
    for delta in diff.deltas() {
        if !matches!(
            delta.status(),
            Delta::Added | Delta::Modified | Delta::Renamed | Delta::Copied
        ) {
            continue;
        }
        let Some(path) = delta.new_file().path().and_then(Path::to_str) else {
            continue;
        };
        if !is_contract_path(path) {
            continue;
        }
        let in_repro = path.split('/').any(|c| c == "repro");
        let text = read_file(repo, head, path).unwrap_or_default();
        match parse_contract(&text) {
            Ok(contract) => out.push(ReproTest {
                contract_path: Some(path.to_string()),
                contract,
            }),
            Err(e) if in_repro => return Err(e.context(format!("contract {path} on head"))),
            Err(_) => continue,
        }
    }
    out.sort_by(|a, b| a.contract_path.cmp(&b.contract_path));
    Ok(out)
}

pub fn parse_contract(text: &str) -> Result<Contract> {
    let c: Contract = serde_json::from_str(text).context("not a sentry-repro contract")?;
    if c.test_files.is_empty() {
        bail!("the contract lists no test files");
    }
    for f in &c.test_files {
        if !is_safe_rel_path(f) {
            bail!("the contract lists an unsafe test path {f:?}");
        }
    }
    Ok(c)
}

/// Tests named with `--test`: the head contract that lists the path, or a contract inferred from it.
pub fn explicit_tests(
    repo: &Repository,
    head: Oid,
    paths: &[String],
    all_contracts: &[ReproTest],
) -> Result<Vec<ReproTest>> {
    let mut out: Vec<ReproTest> = Vec::new();
    for raw in paths {
        let p = raw.trim_start_matches("./").to_string();
        if !is_safe_rel_path(&p) {
            bail!("--test {raw:?}: not a relative path inside the repository");
        }
        if read_file(repo, head, &p).is_none() {
            bail!("--test {raw:?}: no such file on head");
        }
        if let Some(t) = all_contracts
            .iter()
            .find(|t| t.contract.test_files.contains(&p))
        {
            if !out.iter().any(|o| o.contract_path == t.contract_path) {
                out.push(t.clone());
            }
            continue;
        }
        if is_contract_path(&p) {
            let c = parse_contract(&read_file(repo, head, &p).unwrap_or_default())
                .with_context(|| format!("--test {p}"))?;
            out.push(ReproTest {
                contract_path: Some(p),
                contract: c,
            });
            continue;
        }
        out.push(ReproTest {
            contract_path: None,
            contract: inferred_contract(&p)?,
        });
    }
    Ok(out)
}

/// All contracts on head under any `repro/` folder (used to match `--test` paths).
pub fn head_contracts(repo: &Repository, head: Oid) -> Vec<ReproTest> {
    let mut out = Vec::new();
    let Ok(tree) = repo.find_commit(head).and_then(|c| c.tree()) else {
        return out;
    };
    let _ = tree.walk(git2::TreeWalkMode::PreOrder, |parent, entry| {
        let name = entry.name().unwrap_or("");
        let path = format!("{parent}{name}");
        if entry.kind() == Some(git2::ObjectType::Blob)
            && parent.split('/').any(|c| c == "repro")
            && is_contract_path(&path)
        {
            if let Some(c) = read_file(repo, head, &path).and_then(|t| parse_contract(&t).ok()) {
                out.push(ReproTest {
                    contract_path: Some(path),
                    contract: c,
                });
            }
        }
        git2::TreeWalkResult::Ok
    });
    out
}

fn inferred_contract(path: &str) -> Result<Contract> {
    let (language, framework) = if path.ends_with(".py") {
        ("python", "pytest")
    } else if [".js", ".mjs", ".cjs", ".ts", ".mts", ".cts", ".jsx", ".tsx"]
        .iter()
        .any(|e| path.ends_with(e))
    {
        ("javascript", "")
    } else if path.ends_with(".rs") {
        ("rust", "cargo")
    } else if path.ends_with("_test.go") {
        ("go", "go")
    } else if path.ends_with(".java") || path.ends_with(".kt") {
        ("java", "")
    } else {
        bail!("--test {path}: cannot tell the language; add a contract or a test_command in .sentry-repro.toml")
    };
    Ok(Contract {
        version: crate::contract::CONTRACT_VERSION,
        issue_id: String::new(),
        short_id: None,
        title: None,
        event_id: None,
        web_url: None,
        language: language.into(),
        framework: framework.into(),
        strategy: Strategy::CallReplay,
        expected: Expected::default(),
        crash: None,
        test_files: vec![path.to_string()],
        test_command: String::new(),
        suite_command: None,
        base_commit: None,
    })
}
