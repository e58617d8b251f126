//! The games a fixer can play on the branch `verify` judges, each played for real: a generated
//! (pinned) branch per language, a mutated commit per game on a branch of its own, and the real
//! binary's `verify` with the real runner (pytest, jest). Every game must end non-zero with the
//! verdict that names it (`TAMPERED`, with the evidence), and the honest fix must still pass.
//!
//! One generated branch per language keeps the runtime modest: a tampered head is judged from git
//! objects alone (nothing is run), so only the honest fixes pay for runner processes.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{self, verify_in, Gate, Repo};

/// A generated branch and what the generator wrote on it.
struct Generated {
    repo: Repo,
    branch: String,
    issue: String,
    test: String,
    contract: String,
    fix: PathBuf,
}

impl Generated {
    /// Generate on `app` from `event` (in-process `pipeline::generate`, which pins the commit).
    fn new(app: &Path, event: &Path, fix: PathBuf, node_modules: Option<PathBuf>) -> Generated {
        let repo = Repo::of(app);
        if let Some(modules) = node_modules {
            std::os::unix::fs::symlink(modules, repo.dir.join("node_modules")).unwrap();
            std::fs::write(repo.dir.join(".git/info/exclude"), "node_modules\n").unwrap();
        }
        let event: Value = serde_json::from_str(&std::fs::read_to_string(event).unwrap()).unwrap();
        let out = repo.generate_and_checkout(&event);
        assert!(
            matches!(out.strategy.as_str(), "call_replay" | "request_replay"),
            "{out:?}"
        );
        let contract = out.files.iter().find(|f| f.ends_with(".json")).unwrap();
        let c: Value =
            serde_json::from_str(&std::fs::read_to_string(repo.dir.join(contract)).unwrap())
                .unwrap();
        let tag = repo.git(&["tag", "--list", "sentry-repro/*"]);
        let issue = c["issue_id"].as_str().unwrap().to_string();
        assert_eq!(
            tag.trim(),
            format!("sentry-repro/{issue}"),
            "the pin exists"
        );
        Generated {
            branch: out.branch.clone().unwrap(),
            test: c["test_files"][0].as_str().unwrap().to_string(),
            contract: contract.clone(),
            issue,
            fix,
            repo,
        }
    }

    fn write(&self, rel: &str, content: &str) {
        let p = self.repo.dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.repo.dir.join(rel)).unwrap()
    }

    fn edit(&self, rel: &str, f: impl FnOnce(String) -> String) {
        self.write(rel, &f(self.read(rel)));
    }

    /// Edit the contract as JSON.
    fn edit_contract(&self, f: impl FnOnce(&mut Value)) {
        let mut c: Value = serde_json::from_str(&self.read(&self.contract)).unwrap();
        f(&mut c);
        self.write(&self.contract, &serde_json::to_string_pretty(&c).unwrap());
    }

    fn apply_fix(&self) {
        self.repo.git(&["apply", self.fix.to_str().unwrap()]);
    }

    /// A branch `game/<name>` from `from`, changed by `play`, committed; then the gate.
    fn play_from(&self, from: &str, name: &str, args: &[&str], play: impl FnOnce(&Self)) -> Gate {
        let branch = format!("game/{name}");
        self.repo.git(&["checkout", "-q", "-B", &branch, from]);
        play(self);
        self.repo.git(&["add", "-A"]);
        self.repo
            .git(&["commit", "-q", "--allow-empty", "-m", name]);
        let mut all = vec!["--base", "main", "--runs", "1"];
        all.extend_from_slice(args);
        verify_in(&self.repo.dir, &self.repo.home, &all, &[])
    }

    fn play(&self, name: &str, play: impl FnOnce(&Self)) -> Gate {
        let from = self.branch.clone();
        self.play_from(&from, name, &[], play)
    }
}

/// The game must fail the gate as TAMPERED, naming `evidence` among what head changed.
fn assert_tampered(g: &Gate, game: &str, evidence: &str) {
    assert_eq!(g.exit, 1, "{game}: the gate must fail\n{}", g.output);
    assert_eq!(g.verdicts(), ["TAMPERED"], "{game}\n{}", g.output);
    let why: Vec<String> = g.report["tests"][0]["tampered"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert!(
        why.iter().any(|w| w.contains(evidence)),
        "{game}: {evidence:?} not in {why:?}\n{}",
        g.output
    );
    assert!(g.output.contains("TAMPERED"), "{game}: {}", g.output);
}

/// The honest fix passes with the pin, and the JSON names the pin.
fn assert_honest_fix_flips(gen: &Generated) {
    // The server rewrites the handoff note on a new occurrence: that is no tampering.
    let note = gen.contract.replace(".json", ".md");
    let g = gen.play("honest-fix", |g| {
        g.apply_fix();
        g.edit(&note, |n| format!("{n}\nSeen again.\n"));
    });
    assert_eq!(g.exit, 0, "the honest fix passes\n{}", g.output);
    assert_eq!(g.verdicts(), ["FLIPPED"], "{}", g.output);
    let pin = format!("sentry-repro/{}", gen.issue);
    assert_eq!(g.report["tests"][0]["pin"], pin.as_str(), "{}", g.output);
}

/// A stray file in the work tree: verify warns that it judges commits only (on a cheap game).
fn assert_warns_uncommitted(gen: &Generated) {
    gen.repo.git(&["checkout", "-q", "game/renamed"]);
    gen.write("scratch.txt", "not committed\n");
    let g = verify_in(&gen.repo.dir, &gen.repo.home, &["--base", "main"], &[]);
    assert!(g.output.contains("uncommitted changes"), "{}", g.output);
    assert_eq!(g.verdicts(), ["TAMPERED"], "{}", g.output);
    std::fs::remove_file(gen.repo.dir.join("scratch.txt")).unwrap();
}

/// A branch forged from main whose "generator" commit holds a weaker test at the pinned paths.
fn forged(gen: &Generated, weak_test: &str) -> Gate {
    let contract = gen.read(&gen.contract);
    let (test, contract_path) = (gen.test.clone(), gen.contract.clone());
    gen.play_from("main", "forged-generator-commit", &[], |g| {
        g.write(&test, weak_test);
        g.write(&contract_path, &contract);
        g.apply_fix();
    })
}

fn python_case() -> Option<Generated> {
    if !crate::verify::have_pytest() {
        return None;
    }
    let case = support::fixtures("corpus/py-rating-average-empty");
    Some(Generated::new(
        &case.join("app"),
        &case.join("event.json"),
        case.join("fix.patch"),
        None,
    ))
}

#[test]
fn python_games_are_tampered() {
    let Some(gen) = python_case() else {
        return;
    };
    let (test, contract) = (gen.test.clone(), gen.contract.clone());
    let test_fn = gen
        .read(&test)
        .lines()
        .find_map(|l| l.strip_prefix("def test_"))
        .map(|l| format!("test_{}", l.split('(').next().unwrap()))
        .expect("a test function");

    let g = gen.play("test-command-replaced", |g| {
        g.write(".fixed", "");
        g.edit_contract(|c| c["test_command"] = "test -f .fixed && echo '1 passed'".into());
    });
    assert_tampered(&g, "test_command replaced", &format!("changed {contract}"));

    let g = gen.play("early-return-on-marker", |g| {
        g.write(".fixed", "");
        g.edit(&test, |t| {
            t.replace(
                &format!("def {test_fn}():\n"),
                &format!(
                    "def {test_fn}():\n    if __import__('os').path.exists('.fixed'):\n        return\n"
                ),
            )
        });
    });
    assert_tampered(&g, "early return", &format!("changed {test}"));

    let hook = "import pytest\n\n@pytest.hookimpl(hookwrapper=True)\ndef pytest_runtest_makereport(item, call):\n    out = yield\n    r = out.get_result()\n    r.outcome = 'passed'\n";
    let g = gen.play("repro-conftest-hook", |g| {
        g.write("repro/conftest.py", hook)
    });
    assert_tampered(&g, "repro/conftest.py", "added repro/conftest.py");
    let g = gen.play("root-conftest-hook", |g| g.write("conftest.py", hook));
    assert_tampered(&g, "conftest.py", "runner configuration conftest.py");

    // A real fix that breaks a suite test, the suite narrowed to the repro folder.
    let g = gen.play("suite-narrowed", |g| {
        g.apply_fix();
        g.edit("reviewhub/ratings.py", |s| {
            s.replace("len(ratings), 1)", "len(ratings), 2)")
        });
        g.edit_contract(|c| c["suite_command"] = "python -m pytest -q repro".into());
    });
    assert_tampered(&g, "suite_command narrowed", &format!("changed {contract}"));

    let g = forged(&gen, &format!("def {test_fn}():\n    pass\n"));
    assert_tampered(&g, "forged generator commit", &format!("changed {test}"));

    let g = gen.play("test-deleted", |g| {
        std::fs::remove_file(g.repo.dir.join(&test)).unwrap()
    });
    assert_tampered(&g, "deleted test", &format!("removed {test}"));
    let g = gen.play("repro-deleted", |g| {
        std::fs::remove_dir_all(g.repo.dir.join("repro")).unwrap()
    });
    assert_tampered(&g, "deleted repro folder", &format!("removed {contract}"));

    let g = gen.play("skipped", |g| {
        g.edit(&test, |t| {
            format!(
                "import pytest\n{}",
                t.replace(
                    &format!("def {test_fn}("),
                    &format!("@pytest.mark.skip\ndef {test_fn}(")
                )
            )
        })
    });
    assert_tampered(&g, "pytest.mark.skip", &format!("changed {test}"));

    let g = gen.play("deselected-k", |g| {
        g.edit("pyproject.toml", |t| {
            t.replace(
                "[tool.pytest.ini_options]\n",
                "[tool.pytest.ini_options]\naddopts = \"-k 'not sentry'\"\n",
            )
        })
    });
    assert_tampered(&g, "-k in pyproject", "runner configuration pyproject.toml");
    let g = gen.play("deselected-ini", |g| {
        g.write(
            "pytest.ini",
            &format!("[pytest]\naddopts = --deselect {test}::{test_fn}\n"),
        )
    });
    assert_tampered(
        &g,
        "--deselect in pytest.ini",
        "runner configuration pytest.ini",
    );

    let renamed = test.replace("test_sentry_", "check_sentry_");
    let g = gen.play("renamed", |g| {
        g.repo.git(&["mv", &test, &renamed]);
    });
    assert_tampered(&g, "renamed test", &format!("added {renamed}"));
    assert_warns_uncommitted(&gen);

    assert_honest_fix_flips(&gen);

    // A configuration change a human approved: judged by running, not refused.
    let approve = |args: &[&str]| {
        gen.play_from(&gen.branch, "approved-config", args, |g| {
            g.apply_fix();
            g.write("pytest.ini", "[pytest]\naddopts = -p no:cacheprovider\n");
        })
    };
    assert_tampered(&approve(&[]), "config change", "pytest.ini");
    let g = approve(&["--allow-config-change", "--no-suite"]);
    assert_eq!(g.verdicts(), ["FLIPPED"], "{}", g.output);
    assert_eq!(g.exit, 0);

    // Without the pin (not fetched): judged against the branch's first commit, and said so.
    gen.repo
        .git(&["tag", "-d", &format!("sentry-repro/{}", gen.issue)]);
    let g = gen.play("unpinned-fix", |g| g.apply_fix());
    assert_eq!(g.verdicts(), ["FLIPPED"], "{}", g.output);
    assert_eq!(g.report["tests"][0]["pin"], "unpinned");
    assert!(g.output.contains("unpinned"), "{}", g.output);
    let g = gen.play("unpinned-skip", |g| {
        g.edit(&test, |t| {
            format!("import pytest\npytestmark = pytest.mark.skip\n{t}")
        })
    });
    assert_tampered(&g, "skip without a pin", &format!("changed {test}"));
}

fn jest_case() -> Option<Generated> {
    if !crate::js_cases::node_available() || !support::have("npm", "--version") {
        return None;
    }
    let case = support::fixtures("js-runners/jest-app");
    let modules = crate::js_cases::dependencies("runner-jest", &case.join("app"));
    Some(Generated::new(
        &case.join("app"),
        &case.join("event.json"),
        case.join("fix.patch"),
        Some(modules),
    ))
}

#[test]
fn javascript_games_are_tampered() {
    let Some(gen) = jest_case() else {
        return;
    };
    let (test, contract) = (gen.test.clone(), gen.contract.clone());

    let g = gen.play("test-command-replaced", |g| {
        g.edit_contract(|c| {
            c["test_command"] = "node -e \"console.log('Tests: 1 passed, 1 total')\"".into()
        });
    });
    assert_tampered(&g, "test_command replaced", &format!("changed {contract}"));

    let g = gen.play("early-return-on-marker", |g| {
        g.write(".fixed", "");
        g.edit(&test, |t| {
            let at = t.find("test(").expect("a jest test");
            let body = t[at..]
                .find("=> {")
                .map(|b| at + b + 4)
                .expect("an arrow body");
            format!(
                "{}\n  if (require('fs').existsSync('.fixed')) return;{}",
                &t[..body],
                &t[body..]
            )
        });
    });
    assert_tampered(&g, "early return", &format!("changed {test}"));

    let g = gen.play("skipped", |g| {
        g.edit(&test, |t| t.replacen("test(", "test.skip(", 1))
    });
    assert_tampered(&g, "test.skip", &format!("changed {test}"));

    let g = gen.play("deselected-jest", |g| {
        g.edit("package.json", |p| {
            let mut v: Value = serde_json::from_str(&p).unwrap();
            v["jest"]["testPathIgnorePatterns"] = serde_json::json!(["/repro/"]);
            serde_json::to_string_pretty(&v).unwrap()
        })
    });
    assert_tampered(
        &g,
        "testPathIgnorePatterns",
        "runner configuration package.json",
    );

    let g = gen.play("jest-config-setup", |g| {
        g.write(
            "jest.config.js",
            "module.exports = { testEnvironment: 'node', setupFilesAfterEach: [] };\n",
        )
    });
    assert_tampered(&g, "jest.config.js", "runner configuration jest.config.js");

    // A real fix that breaks a suite test, the suite narrowed to the repro folder.
    let regression = support::fixtures("js-runners/jest-app/regression.patch");
    let g = gen.play("suite-narrowed", |g| {
        g.apply_fix();
        g.repo.git(&["apply", regression.to_str().unwrap()]);
        g.edit_contract(|c| c["suite_command"] = "npx jest repro".into());
    });
    assert_tampered(&g, "suite_command narrowed", &format!("changed {contract}"));

    let g = forged(&gen, "test('passes', () => {});\n");
    assert_tampered(&g, "forged generator commit", &format!("changed {test}"));

    let g = gen.play("test-deleted", |g| {
        std::fs::remove_file(g.repo.dir.join(&test)).unwrap()
    });
    assert_tampered(&g, "deleted test", &format!("removed {test}"));

    let renamed = test.replace(".test.", ".check.");
    let g = gen.play("renamed", |g| {
        g.repo.git(&["mv", &test, &renamed]);
    });
    assert_tampered(&g, "renamed test", &format!("added {renamed}"));
    assert_warns_uncommitted(&gen);

    assert_honest_fix_flips(&gen);
}

#[test]
fn the_pin_is_pushed_with_the_branch() {
    let case = support::fixtures("corpus/py-rating-average-empty");
    let gen = Generated::new(
        &case.join("app"),
        &case.join("event.json"),
        case.join("fix.patch"),
        None,
    );
    let bare = gen.repo.tmp.path().join("remote.git");
    git2::Repository::init_bare(&bare).unwrap();
    let repo = git2::Repository::open(&gen.repo.dir).unwrap();
    let cfg = sentry_repro::jobs::JobsConfig::default();
    let remote = bare.to_str().unwrap();
    sentry_repro::jobs::push::push_branch(&repo, remote, &gen.branch, &cfg).unwrap();
    // Again, as after an occurrence's commit: the pin is already there and stays.
    sentry_repro::jobs::push::push_branch(&repo, remote, &gen.branch, &cfg).unwrap();
    let remote = git2::Repository::open_bare(&bare).unwrap();
    let tag = remote
        .find_reference(&format!("refs/tags/sentry-repro/{}", gen.issue))
        .expect("the pin was pushed");
    assert!(tag.peel_to_tag().is_ok(), "an annotated tag");
    let branch = remote
        .find_reference(&format!("refs/heads/{}", gen.branch))
        .unwrap();
    assert_eq!(
        tag.peel_to_commit().unwrap().id(),
        branch.peel_to_commit().unwrap().id()
    );
}
