//! JavaScript / TypeScript: `node:test`, jest, vitest or mocha tests under `repro/`.

use anyhow::Result;
use serde::Serialize;

use super::{GenInput, GenOutput, Generator};
use crate::contract::{CrashSite, Strategy};
use crate::git::NewFile;
use crate::plan::mapped_frames;
use crate::render;

pub struct JavaScript;

#[derive(Serialize)]
struct BoilerplateCtx<'a> {
    ident: &'a str,
    title: String,
    exception_type: String,
    exception_value: String,
    web_url: String,
}

impl Generator for JavaScript {
    fn language(&self) -> &'static str {
        "javascript"
    }

    fn generate(&self, input: &GenInput) -> Result<GenOutput> {
        let alert = input.alert;
        let mapped = mapped_frames(alert, input.snap, &["js", "mjs", "cjs", "ts"]);
        let crash = mapped.last().map(|m| CrashSite {
            file: m.path.clone(),
            function: m.frame.function.clone(),
            line: m.frame.lineno,
        });
        let ctx = BoilerplateCtx {
            ident: input.ident,
            title: alert.title.clone().unwrap_or_default(),
            exception_type: alert.exception_type().unwrap_or("Error").to_string(),
            exception_value: alert.exception_value().unwrap_or("").to_string(),
            web_url: alert.web_url.clone().unwrap_or_default(),
        };
        let path = format!("{}/sentry-{}.test.js", input.repro_dir, input.ident);
        let content = render::render("javascript/boilerplate.test.js.tera", &ctx)?;
        Ok(GenOutput {
            language: "javascript",
            framework: "node:test".into(),
            strategy: Strategy::Boilerplate,
            files: vec![NewFile {
                path: path.clone(),
                content,
            }],
            test_command: format!("node --test {path}"),
            test_files: vec![path],
            suite_command: Some("npm test".into()),
            crash,
            reasons: vec!["no JavaScript generator strategy implemented yet".into()],
            extra_prefixes: vec![],
        })
    }
}
