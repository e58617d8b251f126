//! What the repository's `package.json` says: module type, test runner, scripts, dependencies, and
//! from that where the repro test goes and which command runs it from the repository root.
//!
//! Runner: the command of `scripts.test` first (`vitest`, `jest`, `mocha`, `node --test`), then the
//! dependencies; default `node:test`. Module syntax: ESM when `"type": "module"` (or for vitest,
//! which runs tests as ESM), written as `repro/sentry-<id>.test.mjs`; CommonJS otherwise, as
//! `repro/sentry-<id>.test.js`. The test is plain JavaScript even in TypeScript projects: vitest and
//! jest (ts-jest/babel) load `.ts` modules from it; `node:test` needs the project's own loader flags
//! (`--import tsx` …), which are copied from `scripts.test` when present.
//!
//! Discovery: the repro test must run even when the project's runner configuration would never
//! pick up `repro/` (a real project narrows its test files). Jest gets `--roots '<rootDir>'
//! --testMatch <the file>` on the command line, which override `roots`/`testMatch`/ignore patterns
//! from the config while keeping transforms and setup; Vitest has no CLI override for `include`, so
//! a project with a Vitest/Vite config gets `repro/sentry-<id>.vitest.config.mjs` that merges the
//! project's config with an `include` naming the repro test; mocha merges a `.mocharc` `spec` with the
//! files given, so `--grep` keeps the run to the repro test (the suite files are loaded, not run).

use std::collections::BTreeSet;

use serde_json::Value;

use crate::repo::Snapshot;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framework {
    NodeTest,
    Jest,
    Vitest,
    Mocha,
}

impl Framework {
    pub fn name(self) -> &'static str {
        match self {
            Framework::NodeTest => "node:test",
            Framework::Jest => "jest",
            Framework::Vitest => "vitest",
            Framework::Mocha => "mocha",
        }
    }
}

#[derive(Debug, Clone)]
pub struct JsProject {
    pub esm_package: bool,
    pub framework: Framework,
    pub typescript: bool,
    pub test_script: Option<String>,
    pub start_script: Option<String>,
    pub main: Option<String>,
    pub deps: BTreeSet<String>,
    /// Loader flags for `node --test` copied from `scripts.test` (`--import tsx`).
    pub node_flags: Vec<String>,
    /// `NODE_OPTIONS=--experimental-vm-modules` is needed (jest running ESM).
    pub jest_vm_modules: bool,
    /// The Vitest (or Vite) config file at the root, which the repro config extends.
    pub vitest_config: Option<String>,
}

/// Config files Vitest reads at the project root, in its own order of preference.
const VITEST_CONFIGS: &[&str] = &[
    "vitest.config.ts",
    "vitest.config.mts",
    "vitest.config.cts",
    "vitest.config.js",
    "vitest.config.mjs",
    "vitest.config.cjs",
    "vite.config.ts",
    "vite.config.mts",
    "vite.config.cts",
    "vite.config.js",
    "vite.config.mjs",
    "vite.config.cjs",
];

impl JsProject {
    pub fn read(snap: &Snapshot) -> JsProject {
        let pkg: Value = snap
            .read("package.json")
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null);
        let script = |k: &str| {
            pkg.get("scripts")
                .and_then(|s| s.get(k))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let mut deps = BTreeSet::new();
        for section in [
            "dependencies",
            "devDependencies",
            "peerDependencies",
            "optionalDependencies",
        ] {
            if let Some(m) = pkg.get(section).and_then(Value::as_object) {
                deps.extend(m.keys().cloned());
            }
        }
        let test_script = script("test");
        let t = test_script.clone().unwrap_or_default();
        let words: Vec<&str> = t
            .split(|c: char| c.is_whitespace() || c == '&' || c == ';')
            .collect();
        let has_word = |w: &str| {
            words
                .iter()
                .any(|x| *x == w || x.ends_with(&format!("/{w}")))
        };
        let framework = if has_word("vitest") {
            Framework::Vitest
        } else if has_word("jest") {
            Framework::Jest
        } else if has_word("mocha") {
            Framework::Mocha
        } else if t.contains("--test") {
            Framework::NodeTest
        } else if deps.contains("vitest") {
            Framework::Vitest
        } else if deps.contains("jest") || deps.contains("ts-jest") {
            Framework::Jest
        } else if deps.contains("mocha") {
            Framework::Mocha
        } else {
            Framework::NodeTest
        };
        let esm_package = pkg.get("type").and_then(Value::as_str) == Some("module");
        let typescript = snap.is_file("tsconfig.json") || deps.contains("typescript");
        let node_flags = if framework == Framework::NodeTest {
            loader_flags(&t)
        } else {
            Vec::new()
        };
        JsProject {
            esm_package,
            framework,
            typescript,
            start_script: script("start"),
            main: pkg.get("main").and_then(Value::as_str).map(str::to_owned),
            deps,
            jest_vm_modules: framework == Framework::Jest
                && t.contains("--experimental-vm-modules"),
            test_script,
            node_flags,
            vitest_config: if framework == Framework::Vitest {
                VITEST_CONFIGS
                    .iter()
                    .find(|f| snap.is_file(f))
                    .map(|f| f.to_string())
            } else {
                None
            },
        }
    }

    /// `repro/sentry-<id>.vitest.config.mjs` beside the test, when the project has a Vitest config
    /// (whose `include` may not cover `repro/`).
    pub fn vitest_config_path(&self, test_path: &str) -> Option<String> {
        self.vitest_config.as_ref()?;
        let stem = test_path
            .strip_suffix(".test.mjs")
            .or_else(|| test_path.strip_suffix(".test.js"))?;
        Some(format!("{stem}.vitest.config.mjs"))
    }

    /// Whether the repro test is written with `import` (else `require`).
    pub fn esm_syntax(&self) -> bool {
        match self.framework {
            Framework::Vitest => true,
            Framework::Jest => self.esm_package,
            _ => self.esm_package,
        }
    }

    /// `repro/sentry-<id>.test.mjs` (ESM) or `.test.js` (CommonJS). Jest without the VM-modules flag
    /// transforms `.js` only, so ESM jest projects get `.test.js`.
    pub fn test_path(&self, repro_dir: &str, ident: &str) -> String {
        let ext =
            if self.esm_syntax() && (self.framework != Framework::Jest || self.jest_vm_modules) {
                "test.mjs"
            } else {
                "test.js"
            };
        format!("{repro_dir}/sentry-{ident}.{ext}")
    }

    /// The command that runs only the repro test at `path` (issue `ident`), from the repository root.
    pub fn test_command(&self, path: &str, ident: &str) -> String {
        match self.framework {
            Framework::NodeTest => {
                let mut parts = vec!["node".to_string()];
                parts.extend(self.node_flags.iter().cloned());
                parts.push("--test".into());
                parts.push(path.into());
                parts.join(" ")
            }
            Framework::Jest => {
                let jest = format!(
                    "npx jest --roots '<rootDir>' --testMatch '<rootDir>/{path}' --testPathIgnorePatterns /node_modules/ --runTestsByPath {path}"
                );
                if self.jest_vm_modules {
                    format!("NODE_OPTIONS=--experimental-vm-modules {jest}")
                } else {
                    jest
                }
            }
            Framework::Vitest => match self.vitest_config_path(path) {
                Some(config) => format!("npx vitest run --config {config} {path}"),
                None => format!("npx vitest run {path}"),
            },
            Framework::Mocha => format!("npx mocha {path} --grep 'sentry {ident}'"),
        }
    }

    /// A limit worth telling the fixer about, for TypeScript projects.
    pub fn typescript_note(&self, crash_file: Option<&str>) -> Option<String> {
        let ts = crash_file.is_some_and(|f| {
            [".ts", ".mts", ".cts", ".tsx"]
                .iter()
                .any(|e| f.ends_with(e))
        });
        (self.typescript && ts && self.framework == Framework::NodeTest && self.node_flags.is_empty()).then(|| {
            "TypeScript with node:test and no loader in scripts.test: the JavaScript test imports .ts sources, which needs Node's type stripping (22.6+) or a loader such as tsx".to_string()
        })
    }

    pub fn suite_command(&self) -> String {
        if self.test_script.is_some() {
            return "npm test".into();
        }
        match self.framework {
            Framework::NodeTest => "node --test".into(),
            Framework::Jest => "npx jest".into(),
            Framework::Vitest => "npx vitest run".into(),
            Framework::Mocha => "npx mocha".into(),
        }
    }

    /// The file `scripts.start` runs (`node --import ./instrument.mjs server.js` → `server.js`).
    pub fn start_entry(&self) -> Option<String> {
        let s = self.start_script.as_deref()?;
        let mut words = s
            .split_whitespace()
            .skip_while(|w| !matches!(*w, "node" | "nodemon" | "ts-node" | "tsx" | "ts-node-dev"));
        words.next()?;
        let mut expect_arg = false;
        for w in words {
            if expect_arg {
                expect_arg = false;
                continue;
            }
            if w.starts_with('-') {
                expect_arg = !w.contains('=')
                    && matches!(
                        w,
                        "--import"
                            | "--require"
                            | "-r"
                            | "--loader"
                            | "--experimental-loader"
                            | "--env-file"
                    );
                continue;
            }
            return Some(w.trim_start_matches("./").to_string());
        }
        None
    }
}

/// `--import X`, `--require X`, `-r X`, `--loader X`, `--experimental-*` flags of a `node … --test`
/// script, kept only when made of plain characters (they end up in a shell command).
fn loader_flags(script: &str) -> Vec<String> {
    let words: Vec<&str> = script.split_whitespace().collect();
    let Some(start) = words.iter().position(|w| *w == "node") else {
        return Vec::new();
    };
    let plain = |w: &str| {
        !w.is_empty()
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() || "@._/=:+-".contains(c))
    };
    let mut out = Vec::new();
    let mut i = start + 1;
    while i < words.len() {
        let w = words[i];
        if matches!(
            w,
            "--import" | "--require" | "-r" | "--loader" | "--experimental-loader"
        ) {
            if let Some(arg) = words.get(i + 1) {
                if plain(arg) {
                    out.push(w.to_string());
                    out.push(arg.to_string());
                }
            }
            i += 2;
            continue;
        }
        if (w.starts_with("--import=")
            || w.starts_with("--experimental-")
            || w.starts_with("--require=")
            || w == "--no-warnings")
            && plain(w)
        {
            out.push(w.to_string());
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(framework: Framework, vitest_config: Option<&str>) -> JsProject {
        JsProject {
            esm_package: true,
            framework,
            typescript: false,
            test_script: None,
            start_script: None,
            main: None,
            deps: BTreeSet::new(),
            node_flags: vec![],
            jest_vm_modules: false,
            vitest_config: vitest_config.map(str::to_string),
        }
    }

    #[test]
    fn commands_reach_the_repro_folder() {
        let t = "repro/sentry-7.test.mjs";
        let jest = project(Framework::Jest, None).test_command("repro/sentry-7.test.js", "7");
        assert!(jest.contains("--roots '<rootDir>' --testMatch '<rootDir>/repro/sentry-7.test.js'"));
        let mocha = project(Framework::Mocha, None).test_command(t, "7");
        assert_eq!(mocha, "npx mocha repro/sentry-7.test.mjs --grep 'sentry 7'");
        let vitest = project(Framework::Vitest, Some("vitest.config.ts"));
        assert_eq!(
            vitest.vitest_config_path(t).as_deref(),
            Some("repro/sentry-7.vitest.config.mjs")
        );
        assert_eq!(
            vitest.test_command(t, "7"),
            "npx vitest run --config repro/sentry-7.vitest.config.mjs repro/sentry-7.test.mjs"
        );
        let plain = project(Framework::Vitest, None);
        assert_eq!(plain.vitest_config_path(t), None);
        assert_eq!(
            plain.test_command(t, "7"),
            "npx vitest run repro/sentry-7.test.mjs"
        );
    }

    #[test]
    fn flags() {
        assert_eq!(
            loader_flags("node --import tsx --test"),
            ["--import", "tsx"]
        );
        assert_eq!(loader_flags("node --test"), Vec::<String>::new());
        assert_eq!(
            loader_flags("node --import $(evil) --test"),
            Vec::<String>::new()
        );
    }
}
