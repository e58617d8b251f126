//! Python: pytest tests under `repro/`.

use anyhow::Result;
use serde::Serialize;

use super::{GenInput, GenOutput, Generator};
use crate::contract::{CrashSite, Strategy};
use crate::git::NewFile;
use crate::plan::mapped_frames;
use crate::render;

pub struct Python;

#[derive(Serialize)]
struct BoilerplateCtx<'a> {
    ident: &'a str,
    title: String,
    exception_type: String,
    exception_value: String,
    web_url: String,
    stack: Vec<String>,
}

impl Generator for Python {
    fn language(&self) -> &'static str {
        "python"
    }

    fn generate(&self, input: &GenInput) -> Result<GenOutput> {
        let alert = input.alert;
        let mapped = mapped_frames(alert, input.snap, &["py"]);
        let crash = mapped.last().map(|m| CrashSite {
            file: m.path.clone(),
            function: m.frame.function.clone(),
            line: m.frame.lineno,
        });
        let ctx = BoilerplateCtx {
            ident: input.ident,
            title: alert.title.clone().unwrap_or_default(),
            exception_type: alert.exception_type().unwrap_or("Exception").to_string(),
            exception_value: alert.exception_value().unwrap_or("").to_string(),
            web_url: alert.web_url.clone().unwrap_or_default(),
            stack: alert
                .primary_frames()
                .iter()
                .map(|f| {
                    format!(
                        "{}:{} in {}",
                        f.filename
                            .as_deref()
                            .or(f.abs_path.as_deref())
                            .unwrap_or("?"),
                        f.lineno.unwrap_or(0),
                        f.function.as_deref().unwrap_or("?")
                    )
                })
                .collect(),
        };
        let path = format!("{}/test_sentry_{}.py", input.repro_dir, input.ident);
        let content = render::render("python/boilerplate.py.tera", &ctx)?;
        Ok(GenOutput {
            language: "python",
            framework: "pytest".into(),
            strategy: Strategy::Boilerplate,
            files: vec![NewFile {
                path: path.clone(),
                content,
            }],
            test_command: format!("python -m pytest -q {path}"),
            test_files: vec![path],
            suite_command: Some("python -m pytest -q".into()),
            crash,
            reasons: vec!["no Python generator strategy implemented yet".into()],
            extra_prefixes: vec![],
        })
    }
}
