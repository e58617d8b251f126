//! The crates of the repository: manifests, library names and the runtime a test can use.
//!
//! Why: the test is placed in the crashing crate's `tests/` folder and calls it by its library
//! name, so every later step starts from the crate list read here (root package and workspace
//! members); an `async fn` is driven by tokio only when the crate already has its runtime.

use crate::repo::Snapshot;

/// One crate of the repository (the root package or a workspace member).
#[derive(Debug, Clone)]
pub(super) struct CrateInfo {
    /// Folder of the crate's manifest, `""` for the root.
    pub(super) dir: String,
    pub(super) package: String,
    /// Library crate name (`[lib] name` or the package name with `-` → `_`), when there is a lib.
    pub(super) lib_name: Option<String>,
    pub(super) lib_path: String,
    /// `src/main.rs` and `[[bin]]` paths.
    pub(super) bin_paths: Vec<String>,
    pub(super) autotests: bool,
    pub(super) workspace_member: bool,
}

impl CrateInfo {
    pub(super) fn join(&self, p: &str) -> String {
        if self.dir.is_empty() {
            p.to_string()
        } else {
            format!("{}/{}", self.dir, p)
        }
    }
}

pub(super) fn crates(snap: &Snapshot) -> Vec<CrateInfo> {
    let mut out = Vec::new();
    let Some(root) = snap.read("Cargo.toml") else {
        return out;
    };
    let Ok(root_toml) = root.parse::<toml::Table>() else {
        return out;
    };
    let members: Vec<String> = root_toml
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(|m| m.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let in_workspace = !members.is_empty();
    if let Some(c) = crate_info(snap, "", &root_toml, in_workspace) {
        out.push(c);
    }
    for m in members {
        let m = m.trim_end_matches('/').to_string();
        let dirs: Vec<String> = match m.strip_suffix("/*") {
            Some(parent) => snap
                .list_dir(parent)
                .into_iter()
                .filter(|(_, d)| *d)
                .map(|(n, _)| format!("{parent}/{n}"))
                .collect(),
            None => vec![m],
        };
        for d in dirs {
            if let Some(t) = snap
                .read(&format!("{d}/Cargo.toml"))
                .and_then(|s| s.parse::<toml::Table>().ok())
            {
                if let Some(c) = crate_info(snap, &d, &t, true) {
                    out.push(c);
                }
            }
        }
    }
    out
}

pub(super) fn crate_info(
    snap: &Snapshot,
    dir: &str,
    t: &toml::Table,
    member: bool,
) -> Option<CrateInfo> {
    let pkg = t.get("package")?;
    let package = pkg.get("name")?.as_str()?.to_string();
    let mut c = CrateInfo {
        dir: dir.to_string(),
        package: package.clone(),
        lib_name: None,
        lib_path: "src/lib.rs".into(),
        bin_paths: vec![],
        autotests: pkg
            .get("autotests")
            .and_then(|v| v.as_bool())
            .unwrap_or(true),
        workspace_member: member,
    };
    let lib = t.get("lib");
    if let Some(p) = lib.and_then(|l| l.get("path")).and_then(|p| p.as_str()) {
        c.lib_path = p.trim_start_matches("./").to_string();
    }
    if lib.is_some() || snap.is_file(&c.join(&c.lib_path)) {
        let name = lib
            .and_then(|l| l.get("name"))
            .and_then(|n| n.as_str())
            .unwrap_or(&package);
        c.lib_name = Some(name.replace('-', "_"));
    }
    if snap.is_file(&c.join("src/main.rs")) {
        c.bin_paths.push("src/main.rs".into());
    }
    if let Some(bins) = t.get("bin").and_then(|b| b.as_array()) {
        for b in bins {
            if let Some(p) = b.get("path").and_then(|p| p.as_str()) {
                c.bin_paths.push(p.trim_start_matches("./").to_string());
            }
        }
    }
    Some(c)
}

/// Whether the crate depends on tokio with a runtime feature (`rt`, `rt-multi-thread`, `full`),
/// in `[dependencies]` or `[dev-dependencies]` (an integration test may use both), its features
/// written there or in the workspace's `[workspace.dependencies]`.
pub(super) fn tokio_runtime(snap: &Snapshot, c: &CrateInfo) -> bool {
    let table = |p: &str| snap.read(p).and_then(|t| t.parse::<toml::Table>().ok());
    let Some(manifest) = table(&c.join("Cargo.toml")) else {
        return false;
    };
    let root = if c.dir.is_empty() {
        None
    } else {
        table("Cargo.toml")
    };
    let ws_tokio = root
        .as_ref()
        .and_then(|r| r.get("workspace"))
        .and_then(|w| w.get("dependencies"))
        .and_then(|d| d.get("tokio"));
    let features = |v: &toml::Value| -> Vec<String> {
        v.get("features")
            .and_then(|f| f.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    ["dependencies", "dev-dependencies"].iter().any(|section| {
        let Some(dep) = manifest.get(*section).and_then(|d| d.get("tokio")) else {
            return false;
        };
        let mut fs = features(dep);
        if dep.get("workspace").and_then(|w| w.as_bool()) == Some(true) {
            fs.extend(ws_tokio.map(features).unwrap_or_default());
        }
        fs.iter()
            .any(|f| matches!(f.as_str(), "rt" | "rt-multi-thread" | "full"))
    })
}
