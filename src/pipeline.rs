//! One alert to one branch: repository and base → plan → render → commit.
//!
//! `generate` is what both the CLI (`sentry-repro generate`) and the server's jobs call. It reads the
//! repository only through git objects at the base commit and writes only a new commit and refs, so
//! it is safe to run concurrently for many alerts on one repository.

use anyhow::{anyhow, bail, Result};
use git2::{Oid, Repository};
use serde::Serialize;

use crate::alert::Alert;
use crate::config::ProjectConfig;
use crate::contract::{Contract, Expected, CONTRACT_VERSION};
use crate::git::{self, CommitOutcome, CommitRequest, NewFile};
use crate::lang::{self, GenInput, GenOutput};
use crate::plan;
use crate::render;
use crate::repo::{is_safe_rel_path, Snapshot};

#[derive(Debug, Clone, Default)]
pub struct GenerateOptions {
    /// Base ref (branch, tag, sha, or `HEAD` to build on the checkout); default: [`base_name`].
    pub base: Option<String>,
    /// Render only; create no commit or branch.
    pub dry_run: bool,
    /// Timestamp for the branch name (tests pin it); default now.
    pub now: Option<chrono::DateTime<chrono::Utc>>,
}

/// Result of one generation, as printed by `generate --json`.
#[derive(Debug, Clone, Serialize)]
pub struct Generated {
    pub branch: Option<String>,
    pub commit: Option<String>,
    pub files: Vec<String>,
    pub strategy: String,
    pub language: String,
    pub test_command: String,
    /// False when the issue already had a branch and nothing new was created.
    pub created: bool,
    /// The base the branch was (or would be) built on: its name as resolved (`main`, `origin/main`).
    pub base: String,
    pub reasons: Vec<String>,
    /// With `--confirm`: whether base confirmed the handed-over test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed: Option<bool>,
    /// With `--confirm`: every candidate tried, in order, with its outcome.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<crate::confirm::Tried>,
    #[serde(skip)]
    pub rendered: Vec<NewFile>,
}

/// Open repositories of this thread, by path. Opening one reads its config files and sets up the
/// object database, and a fresh handle starts with cold caches (base trees re-inflated from packs):
/// together about a tenth of an alert's cost. Worker threads are long-lived, so each keeps its
/// handles; a handle whose git dir is gone is dropped and the path opened again. Objects are
/// immutable and refs are read from disk on every lookup, so a kept handle sees other writers.
const OPEN_REPOS_PER_THREAD: usize = 16;

pub fn open_repo(path: &std::path::Path) -> Result<std::rc::Rc<Repository>> {
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::rc::Rc;
    thread_local! {
        static OPEN: RefCell<HashMap<std::path::PathBuf, Rc<Repository>>> = RefCell::new(HashMap::new());
    }
    OPEN.with(|open| {
        let mut open = open.borrow_mut();
        if let Some(r) = open.get(path) {
            if r.path().is_dir() {
                return Ok(Rc::clone(r));
            }
            open.remove(path);
        }
        let repo = Rc::new(crate::repo::open(path)?);
        if open.len() >= OPEN_REPOS_PER_THREAD {
            open.clear();
        }
        open.insert(path.to_path_buf(), Rc::clone(&repo));
        Ok(repo)
    })
}

/// Resolve the base: its name ([`base_name`]) and commit.
pub fn resolve_base(
    repo: &Repository,
    project: &ProjectConfig,
    base: Option<&str>,
) -> Result<(String, Oid)> {
    let name = base_name(repo, project, base)?;
    let obj = repo.revparse_single(&name).map_err(|e| {
        anyhow::Error::new(e).context(format!(
            "base ref '{name}' not found in {}",
            project.repo.display()
        ))
    })?;
    let commit = obj.peel_to_commit().map_err(|e| {
        anyhow::Error::new(e).context(format!(
            "base ref '{name}' in {} is not a commit",
            project.repo.display()
        ))
    })?;
    Ok((name, commit.id()))
}

/// The base branch's name: the explicit ref, else the project's `base_branch`, else the remote's
/// default branch (`origin/HEAD`), else `main`/`master` (or their upstream), else the only local
/// branch that is not a `fix/sentry-*` branch.
///
/// Never the checked-out branch by default: with a fix branch checked out, the next alert's branch
/// would be built on that fix and its test could never be red. `HEAD` must be asked for.
pub fn base_name(repo: &Repository, project: &ProjectConfig, base: Option<&str>) -> Result<String> {
    if let Some(s) = base.or(project.base_branch.as_deref()) {
        return Ok(s.to_string());
    }
    if let Ok(name) = crate::verify::discover::default_base(repo) {
        return Ok(name);
    }
    let mut trunks: Vec<String> = repo
        .branches(Some(git2::BranchType::Local))
        .map(|it| {
            it.flatten()
                .filter_map(|(b, _)| b.name().ok().flatten().map(str::to_owned))
                .filter(|n| !n.starts_with("fix/sentry-"))
                .collect()
        })
        .unwrap_or_default();
    if trunks.len() == 1 {
        return Ok(trunks.remove(0));
    }
    bail!(
        "no base branch for {}: it has no origin/HEAD, main or master; set `base_branch` for the \
         project or pass --base REF (--base HEAD builds on the checked-out commit)",
        project.repo.display()
    )
}

pub fn generate(
    alert: &Alert,
    project: &ProjectConfig,
    opts: &GenerateOptions,
) -> Result<Generated> {
    let ident = alert
        .ident()
        .ok_or_else(|| anyhow!("the alert has neither an issue id nor an event id"))?;
    if !git::is_safe_ident(ident) {
        bail!("issue id {ident:?} is not a safe identifier (ASCII letters, digits, - and _, at most 64)");
    }
    let repro_dir = project.repro_dir.trim_end_matches('/');
    if !is_safe_rel_path(repro_dir) {
        bail!("repro_dir {repro_dir:?} must be a relative path inside the repository");
    }
    let repo = open_repo(&project.repo)?;
    let repo: &Repository = &repo;
    let (base_ref, base) = resolve_base(repo, project, opts.base.as_deref())?;
    if !opts.dry_run {
        if let Some((branch, commit)) = git::existing_branch(repo, ident) {
            let language = existing_language(repo, commit, repro_dir, ident).unwrap_or_default();
            return Ok(Generated {
                branch: Some(branch),
                commit: Some(commit.to_string()),
                files: vec![],
                strategy: "existing".into(),
                language,
                test_command: String::new(),
                created: false,
                base: base_ref,
                reasons: vec![format!("issue {ident} already has a branch")],
                confirmed: None,
                candidates: vec![],
                rendered: vec![],
            });
        }
    }
    let snap = Snapshot::at(repo, base)?;
    let language =
        plan::detect_language(alert, &snap, project.language.as_deref()).ok_or_else(|| {
            anyhow!(
                "cannot tell the language of {} (set `language` for the project)",
                project.repo.display()
            )
        })?;
    let generator = lang::generator_for(language)
        .ok_or_else(|| anyhow!("no generator for language {language} yet"))?;
    let input = GenInput {
        alert,
        snap: &snap,
        project,
        ident,
        repro_dir,
    };
    // `[confirm]` / `--confirm`: the candidates are run on base and only a confirmed one is kept.
    let (out, found) = if project.confirm.enabled {
        let found = crate::confirm::search(
            repo,
            base,
            generator.candidates(&input)?,
            &project.confirm,
            |o| contract_for(alert, ident, o, base),
        )?;
        (crate::confirm::with_reasons(&found), Some(found))
    } else {
        (generator.generate(&input)?, None)
    };
    let contract = contract_for(alert, ident, &out, base);
    let confirmation = found.as_ref().map(crate::confirm::confirmation);
    let mut files = out.files.clone();
    files.push(NewFile {
        path: Contract::path_for(repro_dir, ident),
        content: contract.to_json_with(confirmation.as_ref()),
    });
    let tried = found.map(|f| f.tried).unwrap_or_default();
    files.push(NewFile {
        path: format!("{repro_dir}/sentry-{ident}.md"),
        content: render_note(alert, ident, &out, &contract, &base_ref, &tried)?,
    });
    let mut generated = Generated {
        branch: None,
        commit: None,
        files: files.iter().map(|f| f.path.clone()).collect(),
        strategy: out.strategy.as_str().into(),
        language: out.language.into(),
        test_command: out.test_command.clone(),
        created: false,
        base: base_ref,
        reasons: out.reasons.clone(),
        confirmed: confirmation.map(|c| c.confirmed),
        candidates: tried,
        rendered: files.clone(),
    };
    if opts.dry_run {
        return Ok(generated);
    }
    let now = opts.now.unwrap_or_else(chrono::Utc::now);
    let branch = git::branch_name(ident, now)?;
    let mut allowed = vec![repro_dir.to_string()];
    allowed.extend(out.extra_prefixes.iter().cloned());
    let message = commit_message(alert, ident, &out);
    let outcome = git::commit_new_branch(
        repo,
        ident,
        &CommitRequest {
            base,
            files: &files,
            allowed_prefixes: &allowed,
            branch,
            author_name: project.author_name.clone(),
            author_email: project.author_email.clone(),
            message,
        },
    )?;
    match outcome {
        CommitOutcome::Created { branch, commit } => {
            // The pin: what `verify` judges against, out of the fixer's branch (src/pin.rs).
            crate::pin::create(
                repo,
                ident,
                commit,
                &project.author_name,
                &project.author_email,
            )?;
            generated.branch = Some(branch);
            generated.commit = Some(commit.to_string());
            generated.created = true;
        }
        CommitOutcome::Exists { branch, commit } => {
            generated.branch = Some(branch);
            generated.commit = Some(commit.to_string());
            generated.files.clear();
            generated.strategy = "existing".into();
            generated.reasons = vec![format!("issue {ident} already has a branch")];
        }
    }
    Ok(generated)
}

/// The language recorded in the contract of an issue's existing branch, if it can be read.
fn existing_language(
    repo: &Repository,
    commit: Oid,
    repro_dir: &str,
    ident: &str,
) -> Option<String> {
    let tree = repo.find_commit(commit).ok()?.tree().ok()?;
    let entry = tree
        .get_path(std::path::Path::new(&Contract::path_for(repro_dir, ident)))
        .ok()?;
    let blob = repo.find_blob(entry.id()).ok()?;
    let value: serde_json::Value = serde_json::from_slice(blob.content()).ok()?;
    value["language"].as_str().map(str::to_owned)
}

fn contract_for(alert: &Alert, ident: &str, out: &GenOutput, base: Oid) -> Contract {
    Contract {
        version: CONTRACT_VERSION,
        issue_id: ident.to_string(),
        short_id: alert.short_id.clone(),
        title: alert.title.clone(),
        event_id: alert.event_id.clone(),
        web_url: alert.web_url.clone(),
        language: out.language.to_string(),
        framework: out.framework.clone(),
        strategy: out.strategy,
        expected: Expected {
            exception_type: alert.exception_type().map(str::to_owned),
            exception_value: alert.exception_value().map(str::to_owned),
            server_error: out.strategy == crate::contract::Strategy::RequestReplay,
        },
        crash: out.crash.clone(),
        test_files: out.test_files.clone(),
        test_command: out.test_command.clone(),
        suite_command: out.suite_command.clone(),
        base_commit: Some(base.to_string()),
    }
}

fn commit_message(alert: &Alert, ident: &str, out: &GenOutput) -> String {
    let short = alert.short_id.as_deref().unwrap_or(ident);
    let title = render::comment(
        alert
            .title
            .as_deref()
            .or(alert.exception_type())
            .unwrap_or("crash"),
    );
    let mut msg = format!(
        "test: reproduce Sentry {} {}\n\nFailing regression test ({}) generated by sentry-repro.\nRun: {}\n\nSentry-Issue: {}\n",
        render::comment(short),
        title,
        out.strategy.as_str(),
        out.test_command,
        ident
    );
    if let Some(ev) = alert.event_id.as_deref() {
        msg.push_str(&format!("Sentry-Event: {}\n", render::comment(ev)));
    }
    msg
}

#[derive(Serialize)]
struct NoteCtx<'a> {
    ident: &'a str,
    short_id: String,
    title: String,
    exception_type: String,
    exception_value: String,
    web_url: String,
    environment: String,
    release: String,
    strategy: &'a str,
    language: &'a str,
    crash_file: String,
    crash_function: String,
    crash_line: String,
    test_files: &'a [String],
    test_command: &'a str,
    reasons: &'a [String],
    stack: Vec<String>,
    request: Option<NoteRequest>,
    breadcrumbs: Vec<String>,
    chain: Vec<String>,
    base: &'a str,
    base_commit: String,
    /// `--base` for the note's verify command: the name when it is plain, else the commit.
    verify_base: String,
    /// `--confirm`: the candidates run on base (empty without it).
    candidates: &'a [crate::confirm::Tried],
}

#[derive(Serialize)]
struct NoteRequest {
    method: String,
    url: String,
    body: String,
}

fn render_note(
    alert: &Alert,
    ident: &str,
    out: &GenOutput,
    contract: &Contract,
    base: &str,
    candidates: &[crate::confirm::Tried],
) -> Result<String> {
    let crash = out.crash.as_ref();
    let ctx = NoteCtx {
        ident,
        short_id: alert.short_id.clone().unwrap_or_else(|| ident.to_string()),
        title: alert.title.clone().unwrap_or_default(),
        exception_type: alert.exception_type().unwrap_or("").into(),
        exception_value: alert.exception_value().unwrap_or("").into(),
        web_url: alert.web_url.clone().unwrap_or_default(),
        environment: alert.environment.clone().unwrap_or_default(),
        release: alert.release.clone().unwrap_or_default(),
        strategy: out.strategy.as_str(),
        language: out.language,
        crash_file: crash.map(|c| c.file.clone()).unwrap_or_default(),
        crash_function: crash.and_then(|c| c.function.clone()).unwrap_or_default(),
        crash_line: crash
            .and_then(|c| c.line)
            .map(|l| l.to_string())
            .unwrap_or_default(),
        test_files: &contract.test_files,
        test_command: &out.test_command,
        reasons: &out.reasons,
        stack: alert.stack_lines(30),
        request: alert
            .request
            .as_ref()
            .map(note_request)
            .filter(|r| !(r.method.is_empty() && r.url.is_empty() && r.body.is_empty())),
        breadcrumbs: alert.breadcrumb_lines(15),
        chain: alert
            .exceptions
            .iter()
            .map(|e| match e.value.as_deref().filter(|v| !v.is_empty()) {
                Some(v) => format!("{}: {v}", e.ty.as_deref().unwrap_or("?")),
                None => e.ty.as_deref().unwrap_or("?").to_string(),
            })
            .collect(),
        base,
        base_commit: contract
            .base_commit
            .as_deref()
            .map(|c| c.chars().take(12).collect())
            .unwrap_or_default(),
        verify_base: verify_base(base, contract.base_commit.as_deref()),
        candidates,
    };
    render::render("common/note.md.tera", &ctx)
}

/// The request part of the note, cut to what a reader needs.
fn note_request(r: &crate::alert::Request) -> NoteRequest {
    NoteRequest {
        method: r.method.clone().unwrap_or_default(),
        url: r.url.clone().unwrap_or_default(),
        body: match &r.data {
            Some(serde_json::Value::String(s)) => s.chars().take(2000).collect(),
            Some(v) => v.to_string().chars().take(2000).collect(),
            None => String::new(),
        },
    }
}

/// The base to name in the note's `sentry-repro verify --base`: a plain branch name as is; `HEAD`
/// (which on the fix branch is the fix) or a name with shell-unsafe characters as its commit.
fn verify_base(name: &str, commit: Option<&str>) -> String {
    let plain = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._/-".contains(&b));
    match commit {
        Some(c) if !plain || name.eq_ignore_ascii_case("HEAD") => c.to_string(),
        _ => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_handle_is_reused_and_a_vanished_repository_is_opened_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r");
        Repository::init(&path).unwrap();
        let a = open_repo(&path).unwrap();
        let b = open_repo(&path).unwrap();
        assert!(
            std::rc::Rc::ptr_eq(&a, &b),
            "same thread, same path: one handle"
        );
        drop((a, b));
        // The repository is replaced by another one at the same path: the old handle is not used.
        std::fs::remove_dir_all(&path).unwrap();
        assert!(
            open_repo(&path).is_err(),
            "a removed repository is an error"
        );
        Repository::init(&path).unwrap();
        let c = open_repo(&path).unwrap();
        assert!(c.path().is_dir());
    }

    /// A repository with one commit on each of `branches`, the last one checked out.
    fn repo_with(branches: &[&str]) -> (tempfile::TempDir, Repository) {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let sig = git2::Signature::now("t", "t@t").unwrap();
        let tree = repo.treebuilder(None).unwrap().write().unwrap();
        let tree = repo.find_tree(tree).unwrap();
        let mut parent: Vec<git2::Commit> = vec![];
        for b in branches {
            let refname = format!("refs/heads/{b}");
            let parents: Vec<&git2::Commit> = parent.iter().collect();
            let oid = repo
                .commit(Some(&refname), &sig, &sig, b, &tree, &parents)
                .unwrap();
            repo.set_head(&refname).unwrap();
            parent = vec![repo.find_commit(oid).unwrap()];
        }
        drop(parent);
        drop(tree);
        (dir, repo)
    }

    #[test]
    fn the_base_is_never_the_checked_out_topic_branch() {
        let (dir, repo) = repo_with(&["main", "fix/sentry-1-20240101T000000Z", "topic"]);
        let project = ProjectConfig::for_repo(dir.path());
        assert_eq!(repo.head().unwrap().shorthand(), Some("topic"));
        let (name, oid) = resolve_base(&repo, &project, None).unwrap();
        assert_eq!(name, "main");
        assert_eq!(oid, repo.revparse_single("main").unwrap().id());
        // Asked for: the checkout.
        let (name, oid) = resolve_base(&repo, &project, Some("HEAD")).unwrap();
        assert_eq!(
            (name.as_str(), oid),
            ("HEAD", repo.head().unwrap().target().unwrap())
        );
        // The project's base branch wins over the default.
        let mut configured = project.clone();
        configured.base_branch = Some("topic".into());
        assert_eq!(resolve_base(&repo, &configured, None).unwrap().0, "topic");
        // The remote's default branch wins over main.
        let main = repo.revparse_single("main").unwrap().id();
        repo.reference("refs/remotes/origin/trunk", main, true, "t")
            .unwrap();
        repo.reference_symbolic(
            "refs/remotes/origin/HEAD",
            "refs/remotes/origin/trunk",
            true,
            "t",
        )
        .unwrap();
        assert_eq!(base_name(&repo, &project, None).unwrap(), "origin/trunk");
    }

    #[test]
    fn without_main_the_only_trunk_is_the_base_and_two_are_an_error_in_words() {
        let (dir, repo) = repo_with(&["trunk", "fix/sentry-1-20240101T000000Z"]);
        let project = ProjectConfig::for_repo(dir.path());
        assert_eq!(base_name(&repo, &project, None).unwrap(), "trunk");
        let (dir, repo) = repo_with(&["trunk", "topic"]);
        let e = base_name(&repo, &ProjectConfig::for_repo(dir.path()), None).unwrap_err();
        let e = e.to_string();
        assert!(e.contains("no base branch") && e.contains("--base"), "{e}");
        let e = resolve_base(&repo, &ProjectConfig::for_repo(dir.path()), Some("nope"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("base ref 'nope' not found in "), "{e}");
    }
}
