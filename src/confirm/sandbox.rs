//! Where a candidate runs: a scrubbed environment and an optional wrapper command (bubblewrap, a
//! container runtime).
//!
//! A candidate test is code rendered from hostile event data and run against the repository before
//! anyone reviewed it, so it gets only what a test runner needs:
//! - the environment is rebuilt with `env -i` from an allow-list (PATH, HOME, LANG, virtualenv and
//!   toolchain variables, the runner settings `verify` adds), and any name that looks like a token,
//!   secret, DSN, password or key is dropped even when allowed;
//! - the configurable `command` template (`[confirm] command`) wraps the run: `{command}` is the
//!   test command as one `sh -c` word, `{root}` the exported base commit. See `docs/confirm.md`
//!   for the bubblewrap and container templates.
//!
//! Time limits and process-group kills come from `verify::runner::run_shell`.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Result};

use crate::verify::runner::{self, RunOutput};

/// The documented bubblewrap template: no network, the whole file system read-only except the
/// exported commit and a private `/tmp`, the run dies with its parent.
pub const BWRAP_TEMPLATE: &str = "bwrap --die-with-parent --unshare-net --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp --bind {root} {root} --chdir {root} {command}";

/// Variables kept by name.
const KEEP: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "LANGUAGE",
    "TERM",
    "TZ",
    "TMPDIR",
    "USER",
    "LOGNAME",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "NODE_PATH",
    "GOPATH",
    "GOROOT",
    "GOCACHE",
    "GOMODCACHE",
    "GOFLAGS",
    "JAVA_HOME",
    "MAVEN_HOME",
    "M2_HOME",
    "GRADLE_USER_HOME",
    "CARGO_HOME",
    "RUSTUP_HOME",
    "RUSTUP_TOOLCHAIN",
    "CARGO_TARGET_DIR",
    "CARGO_TERM_COLOR",
    "SENTRY_REPRO_CARGO_TARGET_DIR",
    "NO_COLOR",
    "FORCE_COLOR",
    "NODE_DISABLE_COLORS",
    "PYTEST_ADDOPTS",
    "CI",
];

/// Variables kept by prefix (`PYTHONPATH`, `PYTHONDONTWRITEBYTECODE`, `LC_ALL`, …).
const KEEP_PREFIXES: &[&str] = &[
    "PYTHON", "LC_", "PYENV_", "CONDA_", "NVM_", "VOLTA_", "ASDF_",
];

/// Set by `verify::runner::run_shell` for every run: always passed through.
const RUNNER_SET: &[&str] = &[
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONPATH",
    "PYTEST_ADDOPTS",
    "PYTHONUNBUFFERED",
    "NO_COLOR",
    "FORCE_COLOR",
    "NODE_DISABLE_COLORS",
    "CARGO_TERM_COLOR",
    "CARGO_TARGET_DIR",
];

/// A name containing one of these is dropped whatever the lists above say.
const SECRET_WORDS: &[&str] = &[
    "TOKEN",
    "SECRET",
    "DSN",
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "KEY",
    "CREDENTIAL",
    "AUTH",
    "COOKIE",
    "SESSION",
    "PRIVATE",
];

/// Whether a variable name looks like it holds a secret.
pub fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_WORDS.iter().any(|w| upper.contains(w))
}

fn kept(name: &str) -> bool {
    (KEEP.contains(&name) || KEEP_PREFIXES.iter().any(|p| name.starts_with(p)))
        && !looks_secret(name)
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The names a candidate run keeps, from the names of the environment `env` (sorted, unique).
pub fn kept_names(env: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut names: Vec<String> = env
        .into_iter()
        .chain(RUNNER_SET.iter().map(|s| s.to_string()))
        .filter(|n| kept(n))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Check a wrapper template before any run: it must place the command.
pub fn check_template(template: &str) -> Result<()> {
    if !template.contains("{command}") {
        bail!(
            "confirm.command {template:?} must contain {{command}} (where the test command goes)"
        );
    }
    Ok(())
}

/// The shell line that runs `command` in `root` with only `names` from the environment, inside the
/// wrapper `template` when there is one.
pub fn wrap(command: &str, root: &Path, template: Option<&str>, names: &[String]) -> String {
    let inner = format!("sh -c {}", runner::sh_quote(command));
    let wrapped = match template {
        Some(t) => t
            .replace("{root}", &runner::sh_quote(&root.display().to_string()))
            .replace("{command}", &inner),
        None => inner,
    };
    // `"$NAME"` reads the value run_shell's shell holds (its parent's environment plus the runner
    // settings); a name that is unset there is not listed, so it stays unset.
    let pass: Vec<String> = names.iter().map(|n| format!("{n}=\"${n}\"")).collect();
    format!("exec env -i {} {wrapped}", pass.join(" "))
}

/// Run `command` in `root` inside the sandbox, killed after `timeout`.
pub fn run(
    command: &str,
    root: &Path,
    template: Option<&str>,
    timeout: Duration,
) -> Result<RunOutput> {
    let names = kept_names(std::env::vars_os().filter_map(|(k, _)| k.into_string().ok()));
    let mut out = runner::run_shell(&wrap(command, root, template, &names), root, timeout)?;
    out.command = command.to_string();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_dropped_and_toolchain_variables_kept() {
        let env = [
            "PATH",
            "HOME",
            "VIRTUAL_ENV",
            "PYTHONHASHSEED",
            "SENTRY_DSN",
            "GITHUB_TOKEN",
            "AWS_SECRET_ACCESS_KEY",
            "PYTHON_KEYRING_PASSWORD",
            "DATABASE_URL",
            "SSH_AUTH_SOCK",
            "LC_ALL",
        ]
        .map(String::from);
        let names = kept_names(env);
        for keep in [
            "PATH",
            "HOME",
            "VIRTUAL_ENV",
            "PYTHONHASHSEED",
            "LC_ALL",
            "PYTHONPATH",
        ] {
            assert!(names.iter().any(|n| n == keep), "{keep} kept: {names:?}");
        }
        for drop in [
            "SENTRY_DSN",
            "GITHUB_TOKEN",
            "AWS_SECRET_ACCESS_KEY",
            "PYTHON_KEYRING_PASSWORD",
            "DATABASE_URL",
            "SSH_AUTH_SOCK",
        ] {
            assert!(
                !names.iter().any(|n| n == drop),
                "{drop} dropped: {names:?}"
            );
        }
    }

    #[test]
    fn the_template_places_root_and_command() {
        let line = wrap(
            "python -m pytest -q 'repro/t.py'",
            Path::new("/tmp/x y"),
            Some("bwrap --bind {root} {root} {command}"),
            &["PATH".into()],
        );
        assert_eq!(
            line,
            "exec env -i PATH=\"$PATH\" bwrap --bind '/tmp/x y' '/tmp/x y' sh -c 'python -m pytest -q '\\''repro/t.py'\\'''"
        );
        assert!(check_template("bwrap --unshare-net").is_err());
    }

    #[test]
    fn a_run_sees_no_secret_of_the_parent() {
        let dir = tempfile::tempdir().unwrap();
        let names = kept_names(["PATH".to_string(), "MY_API_TOKEN".to_string()]);
        let line = format!(
            "export MY_API_TOKEN=leaked; {}",
            wrap("env", dir.path(), None, &names)
        );
        let out = runner::run_shell(&line, dir.path(), Duration::from_secs(10)).unwrap();
        assert!(out.passed(), "{}", out.output);
        assert!(!out.output.contains("leaked"), "{}", out.output);
        assert!(out.output.contains("PATH="), "{}", out.output);
        assert!(
            out.output.contains("PYTHONDONTWRITEBYTECODE=1"),
            "{}",
            out.output
        );
    }
}
