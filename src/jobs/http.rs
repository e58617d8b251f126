//! Visibility routes: `GET /jobs/{id}` (JSON), `GET /` (HTML status page), `GET /metrics`.
//!
//! Mount with `App::new().app_data(jobs::http::app_data(&jobs)).configure(jobs::http::configure)`
//! (or `.configure(jobs::http::configure_with(jobs))`). Store reads run on actix's blocking pool.
//!
//! The status page shows event text (titles, errors), which is hostile. It is rendered by its own
//! Tera with HTML autoescaping on (the shared `render` Tera has autoescaping off because it renders
//! code), and served with a Content-Security-Policy that allows no script at all.

use std::sync::{Arc, LazyLock};

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::Serialize;
use serde_json::json;
use tera::Tera;

use super::Jobs;

const STATUS_TEMPLATE: &str = include_str!("../../templates/status/index.html.tera");
const STATUS_NAME: &str = "status/index.html";
const RECENT: usize = 200;

static HTML: LazyLock<Tera> = LazyLock::new(|| {
    let mut t = Tera::default();
    t.add_raw_template(STATUS_NAME, STATUS_TEMPLATE)
        .expect("status template compiles");
    t.autoescape_on(vec![".html"]);
    t
});

pub fn app_data(jobs: &Arc<Jobs>) -> web::Data<Jobs> {
    web::Data::from(jobs.clone())
}

/// Routes; needs `web::Data<Jobs>` registered (see [`app_data`]).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(status_page))
        .route("/jobs/{id}", web::get().to(job))
        .route("/metrics", web::get().to(metrics));
}

/// Routes plus their data; usable as `server::build`'s `extra` (called once per HTTP worker).
pub fn configure_with(
    jobs: Arc<Jobs>,
) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
    move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(web::Data::from(jobs.clone()));
        configure(cfg);
    }
}

fn internal(e: impl std::fmt::Display) -> HttpResponse {
    tracing::error!(error = %e, "job store read failed");
    HttpResponse::InternalServerError()
        .json(json!({"error": "internal", "detail": "the job store could not be read"}))
}

async fn job(jobs: web::Data<Jobs>, id: web::Path<String>) -> HttpResponse {
    let id = id.into_inner();
    let jobs = jobs.into_inner();
    match web::block(move || jobs.job(&id)).await {
        Ok(Ok(Some(rec))) => HttpResponse::Ok().json(rec),
        Ok(Ok(None)) => {
            HttpResponse::NotFound().json(json!({"error": "not_found", "detail": "no such job"}))
        }
        Ok(Err(e)) => internal(format!("{e:#}")),
        Err(e) => internal(e),
    }
}

#[derive(Serialize)]
struct Count {
    state: &'static str,
    count: u64,
}

/// Render the status page for the most recent jobs.
pub fn render_status(jobs: &Jobs) -> anyhow::Result<String> {
    let recent = jobs.store.recent(RECENT)?;
    let counts: Vec<Count> = jobs
        .store
        .counts()?
        .into_iter()
        .map(|(s, n)| Count {
            state: s.as_str(),
            count: n,
        })
        .collect();
    let mut ctx = tera::Context::new();
    ctx.insert("jobs", &recent);
    ctx.insert("counts", &counts);
    ctx.insert(
        "generated_at",
        &chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    );
    HTML.render(STATUS_NAME, &ctx)
        .map_err(|e| anyhow::anyhow!("rendering the status page: {e:?}"))
}

async fn status_page(jobs: web::Data<Jobs>) -> HttpResponse {
    let jobs = jobs.into_inner();
    match web::block(move || render_status(&jobs)).await {
        Ok(Ok(html)) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header((
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'",
            ))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .body(html),
        Ok(Err(e)) => internal(format!("{e:#}")),
        Err(e) => internal(e),
    }
}

async fn metrics(jobs: web::Data<Jobs>) -> HttpResponse {
    let jobs = jobs.into_inner();
    match web::block(move || jobs.metrics_text()).await {
        Ok(Ok(text)) => HttpResponse::Ok()
            .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
            .body(text),
        Ok(Err(e)) => internal(format!("{e:#}")),
        Err(e) => internal(e),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn template_escapes() {
        let mut ctx = tera::Context::new();
        let job = serde_json::json!({"id": "1", "state": "failed", "title": "<script>alert(1)</script>",
            "issue_id": "1", "attempts": 1, "created_at": "now", "error": "\"><img src=x onerror=alert(1)>"});
        ctx.insert("jobs", &vec![job]);
        ctx.insert("counts", &Vec::<u8>::new());
        ctx.insert("generated_at", "now");
        let html = super::HTML.render(super::STATUS_NAME, &ctx).unwrap();
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;script&gt;"));
    }
}
