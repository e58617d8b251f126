//! The Go module around the crash: `go.mod` lookup, package folders and the test's name.
//!
//! Why: the test is run from the module root (`cd <module> && go test ./<pkg>/`), and Go builds a
//! package from the `.go` files of one folder, so every search below walks folders of the module.
//! A test name ending in a GOOS/GOARCH word (`_linux`, `_test`) would make `go test` skip the file.

use crate::repo::Snapshot;

/// A Go module of the repository.
pub(super) struct GoModule {
    /// Folder of `go.mod` (`""` for the root).
    pub(super) dir: String,
    pub(super) path: String,
}

pub(super) fn go_module_for(snap: &Snapshot, file: &str) -> Option<GoModule> {
    let mut dir = file.rsplit_once('/').map(|x| x.0).unwrap_or("").to_string();
    loop {
        let gomod = if dir.is_empty() {
            "go.mod".to_string()
        } else {
            format!("{dir}/go.mod")
        };
        if let Some(text) = snap.read(&gomod) {
            let path = text
                .lines()
                .find_map(|l| l.trim().strip_prefix("module "))
                .map(|m| m.trim().trim_matches('"').to_string())?;
            return Some(GoModule { dir, path });
        }
        if dir.is_empty() {
            return None;
        }
        dir = dir.rsplit_once('/').map(|x| x.0).unwrap_or("").to_string();
    }
}

pub(super) fn root_module(snap: &Snapshot) -> Option<GoModule> {
    go_module_for(snap, "x.go")
}

/// `.go` files (not tests) of a folder.
pub(super) fn go_files(snap: &Snapshot, dir: &str) -> Vec<String> {
    snap.list_dir(dir)
        .into_iter()
        .filter(|(n, d)| !d && n.ends_with(".go") && !n.ends_with("_test.go"))
        .map(|(n, _)| {
            if dir.is_empty() {
                n
            } else {
                format!("{dir}/{n}")
            }
        })
        .collect()
}

/// Folders of the module, breadth-first, bounded.
pub(super) fn go_dirs(snap: &Snapshot, root: &str) -> Vec<String> {
    let mut out = vec![root.to_string()];
    let mut i = 0;
    while i < out.len() && out.len() < 400 {
        let d = out[i].clone();
        for (n, is_dir) in snap.list_dir(&d) {
            if is_dir
                && !n.starts_with('.')
                && !n.starts_with('_')
                && n != "vendor"
                && n != "testdata"
                && n != "node_modules"
            {
                out.push(if d.is_empty() { n } else { format!("{d}/{n}") });
            }
        }
        i += 1;
    }
    out
}

pub(super) fn goos_suffix(s: &str) -> bool {
    const T: &[&str] = &[
        "aix",
        "android",
        "darwin",
        "dragonfly",
        "freebsd",
        "illumos",
        "ios",
        "js",
        "linux",
        "netbsd",
        "openbsd",
        "plan9",
        "solaris",
        "wasip1",
        "windows",
        "386",
        "amd64",
        "arm",
        "arm64",
        "loong64",
        "mips",
        "mips64",
        "mips64le",
        "mipsle",
        "ppc64",
        "ppc64le",
        "riscv64",
        "s390x",
        "wasm",
        "test",
    ];
    s.rsplit('_').next().is_some_and(|last| T.contains(&last))
}

/// The test's suffix (`sentry_<sfx>_test.go`, `TestSentry_<sfx>`), never a GOOS/GOARCH word.
pub(super) fn test_suffix(ident: &str) -> String {
    let mut sfx = crate::render::ident_suffix(ident);
    if goos_suffix(&sfx) {
        sfx.push_str("_repro");
    }
    sfx
}

/// Where the test goes and how it runs.
pub(super) struct Placement {
    /// `<test_dir>/sentry_<sfx>_test.go`.
    pub(super) path: String,
    /// The test's folder when it is not the repro folder: the one extra prefix the commit writes.
    pub(super) extra_prefixes: Vec<String>,
    pub(super) test_command: String,
    pub(super) suite_command: String,
}

/// Placement of a test in `test_dir`; commands run from the module root.
pub(super) fn placement(
    module: Option<&GoModule>,
    repro_dir: &str,
    test_dir: &str,
    sfx: &str,
) -> Placement {
    let path = if test_dir.is_empty() {
        format!("sentry_{sfx}_test.go")
    } else {
        format!("{test_dir}/sentry_{sfx}_test.go")
    };
    let mut extra_prefixes = vec![];
    if test_dir != repro_dir {
        extra_prefixes.push(if test_dir.is_empty() {
            path.clone()
        } else {
            test_dir.to_string()
        });
    }
    let (cd, pkg_rel) = match module {
        Some(m) if !m.dir.is_empty() => (
            format!("cd {} && ", m.dir),
            test_dir
                .strip_prefix(&m.dir)
                .unwrap_or(test_dir)
                .trim_start_matches('/')
                .to_string(),
        ),
        _ => (String::new(), test_dir.to_string()),
    };
    let pkg_arg = if pkg_rel.is_empty() {
        ".".to_string()
    } else {
        format!("./{pkg_rel}/")
    };
    Placement {
        path,
        extra_prefixes,
        test_command: format!("{cd}go test {pkg_arg} -run '^TestSentry_{sfx}$' -count=1 -v"),
        suite_command: format!("{cd}go test ./... -count=1"),
    }
}
