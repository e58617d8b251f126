//! The template context of the Go tests and the last check before it becomes code.
//!
//! Why one context for the three templates: they share the event header and the package fields,
//! and Tera fails on a missing field. Expressions that enter code unquoted (`router`, `handler`,
//! `callee`, …) are built from checked identifiers; `render_test` checks each whole
//! expression once more.

use crate::lang::EventHeader;
use crate::render;
use anyhow::Result;
use serde::Serialize;

#[derive(Serialize, Clone)]
pub(super) struct Header {
    pub(super) name: String,
    pub(super) value: String,
}

#[derive(Serialize, Default, Clone)]
pub(super) struct Ctx {
    #[serde(flatten)]
    pub(super) event: EventHeader,
    pub(super) sfx: String,
    pub(super) package: String,
    /// Import path of the app package when the test lives in `repro/`.
    pub(super) import_path: String,
    pub(super) import_name: String,
    /// `handleSplit`, `(*Server).total` or `pkg.Func`: referenced so a rename breaks the test.
    pub(super) reference: String,
    // request replay
    pub(super) router: String,
    /// An `http.Handler` expression built from checked identifiers.
    pub(super) handler: String,
    /// A route-setup function to call on a fresh ServeMux (`newServer().routes`).
    pub(super) setup: String,
    /// The handler reads the Sentry hub from the request context (sentryhttp puts one there).
    pub(super) sentry_hub: bool,
    /// Wildcards of the matching ServeMux pattern (`req.SetPathValue`).
    pub(super) path_values: Vec<(String, String)>,
    /// The reported panic value or message: a replayed panic must be this one.
    pub(super) reported: String,
    // call replay
    pub(super) callee: String,
    pub(super) lhs: String,
    pub(super) input: String,
    pub(super) method: String,
    pub(super) path: String,
    pub(super) query: Vec<(String, String)>,
    pub(super) body: String,
    pub(super) headers: Vec<Header>,
}

/// Renders `template` once the expressions that enter code unquoted have been checked again:
/// they are built from identifiers checked earlier, so a failure here is a bug, not bad input.
pub(super) fn render_test(template: &str, ctx: &Ctx) -> Result<String> {
    let expr = regex::Regex::new(r"^[A-Za-z0-9_.()*&{}]*$").expect("static regex");
    if !expr.is_match(&ctx.router)
        || !expr.is_match(&ctx.reference)
        || !expr.is_match(&ctx.handler)
        || !expr.is_match(&ctx.setup)
        || !expr.is_match(&ctx.callee)
        || !ctx
            .lhs
            .chars()
            .all(|c| c == '_' || c == ',' || c == ' ' || c.is_ascii_lowercase())
    {
        anyhow::bail!(
            "refusing unsafe Go expression {:?} / {:?}",
            ctx.router,
            ctx.reference
        );
    }
    render::render(template, ctx)
}
