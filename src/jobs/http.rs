//! Visibility routes: `GET /jobs/{id}` (JSON), `GET /` (HTML status page), `GET /metrics`.
//!
//! These routes show event data (titles, errors, repository paths) and carry no access check of
//! their own: `server` mounts them open on the private read address and behind the read token on
//! the webhook address (`server::read_gate`). Mount them nowhere else.
//!
//! Mount with `App::new().app_data(jobs::http::app_data(&jobs)).configure(jobs::http::configure)`
//! (or `.configure(jobs::http::configure_with(jobs))`). Store reads run on actix's blocking pool.
//!
//! The status page shows event text (titles, errors), which is hostile. It is rendered by its own
//! Tera with HTML autoescaping on (the shared `render` Tera has autoescaping off because it renders
//! code), and served with a Content-Security-Policy that allows no script at all, and with
//! `Referrer-Policy: no-referrer`, so following a Sentry link never sends a `?token=` along.
//! Each row links the issue in Sentry (the alert's `web_url`, `http(s)` only) and names the project.

use std::sync::{Arc, LazyLock};

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use anyhow::Context;
use serde::Serialize;
use serde_json::json;
use tera::Tera;

use super::store::JobRecord;
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

/// One row of the status page: the job, its project and its issue's page in Sentry.
#[derive(Serialize)]
struct Row {
    #[serde(flatten)]
    job: JobRecord,
    project: Option<String>,
    sentry_url: Option<String>,
}

/// A job's project name and its issue's web URL, as stored.
type Links = (Option<String>, Option<String>);

/// Project name and Sentry web URL of the most recent jobs, by job id. They live in the stored
/// project and alert JSON, which `JobRecord` leaves out, so they are read here on a read-only
/// connection of their own.
fn links(jobs: &Jobs) -> anyhow::Result<HashMap<String, Links>> {
    let path = jobs.config().db_path();
    let conn = rusqlite::Connection::open_with_flags(
        &path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("opening job store {} read-only", path.display()))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let mut st = conn.prepare(
        "SELECT id,
            COALESCE(json_extract(project_json, '$.slug'), json_extract(alert_json, '$.project_slug'),
                     json_extract(project_json, '$.id'), json_extract(alert_json, '$.project_id')),
            json_extract(alert_json, '$.web_url')
         FROM jobs ORDER BY id DESC LIMIT ?1",
    )?;
    let rows = st.query_map([RECENT as i64], |r| {
        Ok((
            r.get::<_, i64>(0)?.to_string(),
            (
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<String>>(2)?,
            ),
        ))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Only `http(s)` links: the URL comes from the event and could be `javascript:`.
fn web_link(url: Option<String>) -> Option<String> {
    url.filter(|u| {
        let lower = u.trim_start().to_ascii_lowercase();
        lower.starts_with("https://") || lower.starts_with("http://")
    })
}

/// Render the status page for the most recent jobs. `token` (the page was opened with `?token=`)
/// is kept on the links to `/jobs/{id}`.
pub fn render_status(jobs: &Jobs, token: Option<&str>) -> anyhow::Result<String> {
    let mut links = links(jobs)?;
    let recent: Vec<Row> = jobs
        .store
        .recent(RECENT)?
        .into_iter()
        .map(|job| {
            let (project, url) = links.remove(&job.id).unwrap_or_default();
            Row {
                project,
                sentry_url: web_link(url),
                job,
            }
        })
        .collect();
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
    if let Some(t) = token {
        ctx.insert("token_query", &format!("?token={}", query_escape(t)));
    }
    ctx.insert(
        "generated_at",
        &chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    );
    HTML.render(STATUS_NAME, &ctx)
        .map_err(|e| anyhow::anyhow!("rendering the status page: {e:?}"))
}

/// Percent-encoding for a query value (everything but unreserved characters).
fn query_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The `token` query parameter, as the read gate accepted it.
fn query_token(req: &HttpRequest) -> Option<String> {
    req.query_string().split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == "token").then(|| crate::alert::percent_decode(v))
    })
}

async fn status_page(req: HttpRequest, jobs: web::Data<Jobs>) -> HttpResponse {
    let jobs = jobs.into_inner();
    let token = query_token(&req);
    match web::block(move || render_status(&jobs, token.as_deref())).await {
        Ok(Ok(html)) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header((
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'",
            ))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .insert_header((header::REFERRER_POLICY, "no-referrer"))
            .insert_header((header::CACHE_CONTROL, "no-store"))
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

    #[test]
    fn only_web_links_and_escaped_tokens() {
        assert_eq!(super::web_link(Some("javascript:alert(1)".into())), None);
        assert_eq!(
            super::web_link(Some("https://s.io/issues/1/".into())).as_deref(),
            Some("https://s.io/issues/1/")
        );
        assert_eq!(super::query_escape("a b&c=d"), "a%20b%26c%3Dd");
    }
}
