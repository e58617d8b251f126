//! Push a branch to the project's remote with git2 (no `git` process, no shell).
//!
//! The remote is a configured remote name or a URL/path. Credentials: https uses the token from the
//! environment (`SENTRY_REPRO_GIT_TOKEN`, as the password of `git_username`); ssh uses the configured
//! key, else the ssh agent. libgit2 asks again after a rejected credential, so attempts are bounded.
//! Secrets are never logged, and credentials embedded in a remote URL are redacted from every error.
//! Every push failure is [`Transient`]: the worker retries it, then reports it.

use std::cell::RefCell;

use anyhow::Result;
use git2::{Cred, CredentialType, PushOptions, RemoteCallbacks, Repository};

use super::retry::Transient;
use super::JobsConfig;

/// Push `refs/heads/<branch>` (fast-forward only) and its pin tag, when there is one, to `remote`.
pub fn push_branch(repo: &Repository, remote: &str, branch: &str, cfg: &JobsConfig) -> Result<()> {
    push_inner(repo, remote, branch, cfg).map_err(|e| {
        Transient(redact(&format!(
            "push of {branch} to {}: {e}",
            redact(remote)
        )))
        .into()
    })
}

fn push_inner(
    repo: &Repository,
    remote: &str,
    branch: &str,
    cfg: &JobsConfig,
) -> Result<(), String> {
    let mut r = match repo.find_remote(remote) {
        Ok(r) => r,
        Err(_) if looks_like_url(remote) => repo
            .remote_anonymous(remote)
            .map_err(|e| e.message().to_string())?,
        Err(_) => return Err(format!("no remote named {remote:?} in the repository")),
    };
    let tries = RefCell::new(0u32);
    let rejected: RefCell<Option<String>> = RefCell::new(None);
    let mut cb = RemoteCallbacks::new();
    cb.credentials(|_url, user_from_url, allowed| {
        let mut n = tries.borrow_mut();
        *n += 1;
        if *n > 3 {
            return Err(git2::Error::from_str("authentication failed: the remote rejected the credentials"));
        }
        if allowed.contains(CredentialType::SSH_KEY) {
            let user = user_from_url.unwrap_or("git");
            return match &cfg.ssh_key {
                Some(key) => Cred::ssh_key(user, None, key, cfg.ssh_passphrase.as_ref().map(|p| p.expose())),
                None => Cred::ssh_key_from_agent(user),
            };
        }
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
            if let Some(token) = &cfg.git_token {
                let user = user_from_url.unwrap_or(&cfg.git_username);
                return Cred::userpass_plaintext(user, token.expose());
            }
            return Err(git2::Error::from_str(
                "the remote asks for a password: set SENTRY_REPRO_GIT_TOKEN (https) or use an ssh remote",
            ));
        }
        if allowed.contains(CredentialType::DEFAULT) {
            return Cred::default();
        }
        Err(git2::Error::from_str("no usable credential type for this remote"))
    });
    cb.push_update_reference(|refname, status| {
        if let Some(msg) = status {
            *rejected.borrow_mut() = Some(format!("{refname} rejected: {msg}"));
        }
        Ok(())
    });
    let mut opts = PushOptions::new();
    opts.remote_callbacks(cb);
    let mut specs = vec![format!("refs/heads/{branch}:refs/heads/{branch}")];
    // The pin goes with the branch (never forced: a pin on the remote is not moved).
    if let Some(issue) = crate::pin::issue_of_branch(branch) {
        if crate::pin::find(repo, issue).is_some() {
            let tag = crate::pin::tag_ref(issue);
            specs.push(format!("{tag}:{tag}"));
        }
    }
    let specs: Vec<&str> = specs.iter().map(String::as_str).collect();
    r.push(&specs, Some(&mut opts))
        .map_err(|e| e.message().to_string())?;
    drop(opts);
    if let Some(msg) = rejected.into_inner() {
        return Err(msg);
    }
    Ok(())
}

fn looks_like_url(s: &str) -> bool {
    s.contains("://")
        || s.starts_with('/')
        || s.starts_with("./")
        || s.starts_with("../")
        || s.contains('@') && s.contains(':')
}

/// Remove `user:password@` from anything that looks like a URL.
pub fn redact(s: &str) -> String {
    static RE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?i)([a-z][a-z0-9+.-]*://)[^/@\s]+@").expect("valid regex")
    });
    RE.replace_all(s, "${1}***@").into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_userinfo() {
        assert_eq!(
            redact("failed https://x-access-token:ghp_secret@github.com/o/r.git: 403"),
            "failed https://***@github.com/o/r.git: 403"
        );
        assert_eq!(redact("/srv/git/remote.git"), "/srv/git/remote.git");
    }
}
