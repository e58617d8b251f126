//! What head changed that decides how the pinned test runs: the `TAMPERED` verdict's evidence.
//!
//! A fix changes application code. Everything else the repro run reads was settled by the
//! generator (the pinned files, the rest of the repro folder) or by the reviewed base (the runner's
//! configuration), and a branch that changes it can make a red test pass without fixing anything:
//! an early `return`, a `conftest.py` hook that turns failures into passes, `-k`/`--deselect` in
//! `addopts`, jest's `testPathIgnorePatterns`, a Surefire exclude, a `TestMain` or a build tag.
//!
//! - Pinned files are compared with the pin; other repro-folder files and runner configuration
//!   with the merge-base.
//! - Configuration is compared by the part the runner reads (a `pyproject.toml`'s
//!   `[tool.pytest…]` tables, `package.json`'s `scripts.test`/`jest`/`mocha`, a `pom.xml`'s
//!   Surefire plugin and skip properties, a Go file's build constraints and `TestMain`), so a fix
//!   that adds a dependency is not flagged. Configuration counts when it sits in the repository root
//!   or a folder on the way to a test file; `--allow-config-change` (a human's approval) lets it
//!   through.

use std::collections::HashSet;
use std::path::Path;

use anyhow::Result;
use git2::{Delta, Oid, Repository};

use super::pinned::{is_note, Pinned};
use super::tree::read_file;

/// Reasons head is not judged (empty: untouched). `all_pinned` holds the pinned files of every
/// test in this run, so one test's files are not "added" to another's folder.
pub fn tampering(
    repo: &Repository,
    merge_base: Oid,
    head: Oid,
    p: &Pinned,
    all_pinned: &HashSet<String>,
    allow_config: bool,
) -> Result<Vec<String>> {
    let mut why = Vec::new();
    // 1. The generator's files, byte for byte; a manifest it edited outside the repro folder (a
    // Cargo.toml `[[test]]` entry) may take the fix's changes too: without its entry the test is
    // not found, which no verdict counts as green.
    let pin_tree = repo.find_commit(p.commit)?.tree()?;
    let head_tree = repo.find_commit(head)?.tree()?;
    let prefix = format!("{}/", p.repro_dir);
    let owned = |f: &str| {
        f == p.contract_path
            || p.contract.test_files.iter().any(|t| t == f)
            || p.repro_dir.is_empty()
            || f.starts_with(&prefix)
    };
    for f in p.files.iter().filter(|f| owned(f)) {
        let pinned = pin_tree.get_path(Path::new(f)).ok().map(|e| e.id());
        match head_tree.get_path(Path::new(f)).ok().map(|e| e.id()) {
            None => why.push(format!("removed {f}")),
            Some(id) if Some(id) != pinned => why.push(format!("changed {f}")),
            Some(_) => {}
        }
    }
    // 2. Anything else under the repro folder, and 3. the runner's configuration.
    let base_tree = repo.find_commit(merge_base)?.tree()?;
    let diff = repo.diff_tree_to_tree(Some(&base_tree), Some(&head_tree), None)?;
    let test_dirs: Vec<String> = p.contract.test_files.iter().map(|f| dir_of(f)).collect();
    for d in diff.deltas() {
        let Some(path) = d
            .new_file()
            .path()
            .or(d.old_file().path())
            .and_then(Path::to_str)
        else {
            continue;
        };
        let how = match d.status() {
            Delta::Added => "added",
            Delta::Deleted => "removed",
            _ => "changed",
        };
        let in_repro = !p.repro_dir.is_empty() && path.starts_with(&prefix);
        if in_repro && !all_pinned.contains(path) && !is_note(path) {
            why.push(format!("{how} {path} in the repro folder"));
            continue;
        }
        if allow_config || all_pinned.contains(path) {
            continue;
        }
        let Some(kind) = config_kind(path, &test_dirs) else {
            continue;
        };
        let before = read_file(repo, merge_base, path).map(|t| kind.view(&t));
        let after = read_file(repo, head, path).map(|t| kind.view(&t));
        if before != after {
            why.push(format!("{how} runner configuration {path}"));
        }
    }
    why.dedup();
    Ok(why)
}

fn dir_of(path: &str) -> String {
    path.rsplit_once('/')
        .map(|(d, _)| d.to_string())
        .unwrap_or_default()
}

/// Which part of a configuration file the repro run reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConfigKind {
    /// All of it (`conftest.py`, `pytest.ini`, `jest.config.js`, `.mocharc.yml`…).
    Whole,
    /// Sections of an ini/TOML file whose header starts with this (`[tool.pytest`, `[pytest]`).
    Section(&'static str),
    PackageJson,
    Pom,
    /// A Go file in a test's package: build constraints and `TestMain`.
    Go,
}

/// Whether `path` configures the runner of tests in `test_dirs`, and how.
fn config_kind(path: &str, test_dirs: &[String]) -> Option<ConfigKind> {
    let dir = dir_of(path);
    let name = path.rsplit('/').next().unwrap_or(path);
    let on_path = dir.is_empty()
        || test_dirs
            .iter()
            .any(|t| *t == dir || t.starts_with(&format!("{dir}/")));
    if name.ends_with(".go") {
        return test_dirs.contains(&dir).then_some(ConfigKind::Go);
    }
    if path == ".cargo/config.toml" || path == ".cargo/config" {
        return Some(ConfigKind::Whole);
    }
    if name == "junit-platform.properties" {
        return Some(ConfigKind::Whole);
    }
    if !on_path {
        return None;
    }
    const JS_CONFIGS: &[&str] = &[
        "jest.config.",
        "vitest.config.",
        "vitest.workspace.",
        "vite.config.",
        ".mocharc",
    ];
    match name {
        "conftest.py" | "pytest.ini" | ".pytest.ini" => Some(ConfigKind::Whole),
        "pyproject.toml" => Some(ConfigKind::Section("[tool.pytest")),
        "setup.cfg" => Some(ConfigKind::Section("[tool:pytest")),
        "tox.ini" => Some(ConfigKind::Section("[pytest")),
        "package.json" => Some(ConfigKind::PackageJson),
        "pom.xml" => Some(ConfigKind::Pom),
        _ if JS_CONFIGS.iter().any(|c| name.starts_with(c)) => Some(ConfigKind::Whole),
        _ => None,
    }
}

impl ConfigKind {
    /// The part of `text` that matters to the runner.
    fn view(self, text: &str) -> String {
        match self {
            ConfigKind::Whole => text.to_string(),
            ConfigKind::Section(header) => sections(text, header),
            ConfigKind::PackageJson => package_json_view(text),
            ConfigKind::Pom => pom_view(text),
            ConfigKind::Go => text
                .lines()
                .filter(|l| {
                    let l = l.trim();
                    l.starts_with("//go:build")
                        || l.starts_with("// +build")
                        || l.contains("func TestMain(")
                })
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }
}

/// The lines of every `[header…]` section (up to the next section).
fn sections(text: &str, header: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            inside = t.starts_with(header);
        }
        if inside {
            out.push_str(t);
            out.push('\n');
        }
    }
    out
}

fn package_json_view(text: &str) -> String {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
        return text.to_string();
    };
    let keys = ["/scripts/test", "/jest", "/mocha"];
    let picked: Vec<String> = keys
        .iter()
        .map(|k| v.pointer(k).map(|x| x.to_string()).unwrap_or_default())
        .collect();
    picked.join("\n")
}

/// Surefire plugin blocks and the lines that skip, move or filter tests.
fn pom_view(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("<plugin>") {
        let after = &rest[start..];
        let end = after
            .find("</plugin>")
            .map(|e| e + 9)
            .unwrap_or(after.len());
        let block = &after[..end];
        if block.contains("maven-surefire-plugin") {
            out.push_str(block);
            out.push('\n');
        }
        rest = &after[end..];
    }
    const WORDS: &[&str] = &["skiptests", "test.skip", "testsourcedirectory", "<test>"];
    for line in text.lines() {
        let l = line.trim().to_ascii_lowercase();
        if WORDS.iter().any(|w| l.contains(w)) {
            out.push_str(line.trim());
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_on_the_tests_path() {
        let dirs = vec!["repro".to_string()];
        assert_eq!(config_kind("conftest.py", &dirs), Some(ConfigKind::Whole));
        assert_eq!(
            config_kind("repro/conftest.py", &dirs),
            Some(ConfigKind::Whole)
        );
        assert_eq!(config_kind("tests/conftest.py", &dirs), None);
        assert_eq!(config_kind("app/main.py", &dirs), None);
        assert_eq!(
            config_kind("jest.config.js", &dirs),
            Some(ConfigKind::Whole)
        );
        assert_eq!(
            config_kind("pkg/x.go", &["pkg".into()]),
            Some(ConfigKind::Go)
        );
        assert_eq!(config_kind("other/x.go", &["pkg".into()]), None);
    }

    #[test]
    fn only_the_part_the_runner_reads() {
        let py = ConfigKind::Section("[tool.pytest");
        let a = "[project]\nname='x'\ndependencies=[]\n[tool.pytest.ini_options]\naddopts='-q'\n";
        let b = a.replace("dependencies=[]", "dependencies=['requests']");
        assert_eq!(py.view(a), py.view(&b));
        let c = a.replace("-q", "-q -k 'not sentry'");
        assert_ne!(py.view(a), py.view(&c));
        let pkg = ConfigKind::PackageJson;
        let a = r#"{"scripts":{"test":"jest"},"dependencies":{}}"#;
        let b = r#"{"scripts":{"test":"jest"},"dependencies":{"x":"1"}}"#;
        let c = r#"{"scripts":{"test":"jest"},"jest":{"testPathIgnorePatterns":["repro"]}}"#;
        assert_eq!(pkg.view(a), pkg.view(b));
        assert_ne!(pkg.view(a), pkg.view(c));
        let pom = ConfigKind::Pom;
        let a = "<project><dependencies/><build><plugins><plugin><artifactId>maven-surefire-plugin</artifactId></plugin></plugins></build></project>";
        let b = a.replace(
            "<dependencies/>",
            "<dependencies><dependency/></dependencies>",
        );
        let c = a.replace(
            "</artifactId></plugin>",
            "</artifactId><configuration><excludes><exclude>**/Sentry*</exclude></excludes></configuration></plugin>",
        );
        assert_eq!(pom.view(a), pom.view(&b));
        assert_ne!(pom.view(a), pom.view(&c));
    }
}
