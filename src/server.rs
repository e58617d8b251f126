//! The HTTP service: `POST /handle-sentry-alert` and `GET /healthz` on actix-web.
//!
//! The request path does only cheap, bounded work and never waits on git or the network, because
//! Sentry gives a webhook one second and unsubscribes receivers that keep timing out. In order:
//! content type (415), declared and actual body size (413), body arrival time (408), the unsigned
//! `Sentry-Hook-Timestamp` window (401), authentication over the RAW bytes — HMAC-SHA256 from
//! `Sentry-Hook-Signature` / `Sentry-App-Signature`, or our own `?token=` for unsigned legacy bodies,
//! both compared in constant time (401) — and only then JSON parsing and shape checks (400 naming the
//! field). The alert is handed to an [`AlertSink`], which answers with a job id (202). Deliveries with
//! nothing to reproduce, and alerts for projects we do not map, get 200 with a body saying why: a 4xx
//! would count against the integration in Sentry.
//!
//! Extra routes (the jobs API) mount through [`build`]'s `extra` hook or [`app_config`].

use std::net::TcpListener;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer, ResponseError};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use crate::alert::percent_decode;
use crate::config::Settings;
use crate::sink::{AlertSink, Delivery};
use crate::webhook::{self, HookError, Outcome};

type HmacSha256 = Hmac<Sha256>;

pub const ALERT_PATH: &str = "/handle-sentry-alert";
pub const HEALTH_PATH: &str = "/healthz";
pub const HEADER_RESOURCE: &str = "sentry-hook-resource";
pub const HEADER_SIGNATURE: &str = "sentry-hook-signature";
pub const HEADER_APP_SIGNATURE: &str = "sentry-app-signature";
pub const HEADER_TIMESTAMP: &str = "sentry-hook-timestamp";
pub const HEADER_REQUEST_ID: &str = "request-id";
/// Shown in the integration's request log in Sentry.
pub const HEADER_HOOK_ERROR: &str = "sentry-hook-error";

/// Shared by every worker.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub sink: Arc<dyn AlertSink>,
}

impl AppState {
    pub fn new(settings: Settings, sink: Arc<dyn AlertSink>) -> Self {
        AppState {
            settings: Arc::new(settings),
            sink,
        }
    }
}

impl ResponseError for HookError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut resp = HttpResponse::build(self.status_code()).json(self.to_json());
        let hv = header_safe(&format!("{}: {}", self.code(), self));
        if let Ok(v) = HeaderValue::from_str(&hv) {
            resp.headers_mut()
                .insert(header::HeaderName::from_static(HEADER_HOOK_ERROR), v);
        }
        resp
    }
}

/// Visible ASCII only, at most 200 characters: a header value built from anything.
fn header_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(200)
        .collect()
}

/// Routes and shared state, for `App::configure`. The lead mounts more with
/// `cfg.configure(jobs::http::configure)` in [`build`]'s `extra`.
pub fn app_config(state: AppState) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
    move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(web::Data::new(state.clone()))
            .service(web::resource(ALERT_PATH).route(web::post().to(handle_alert)))
            .service(web::resource(HEALTH_PATH).route(web::get().to(healthz)));
    }
}

/// No extra routes.
pub fn no_extra(_: &mut web::ServiceConfig) {}

/// Build the server on an already bound listener (tests bind port 0). `extra` mounts more routes.
pub fn build<F>(
    listener: TcpListener,
    state: AppState,
    extra: F,
) -> std::io::Result<actix_web::dev::Server>
where
    F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
{
    let timeout = state.settings.request_timeout;
    let workers = state.settings.workers.clamp(1, 16);
    let routes = app_config(state);
    let server = HttpServer::new(move || {
        App::new()
            .configure(routes.clone())
            .configure(extra.clone())
    })
    // Headers must arrive within the timeout; the body has its own limit in the handler.
    .client_request_timeout(timeout)
    .client_disconnect_timeout(Duration::from_secs(1))
    .shutdown_timeout(5)
    .workers(workers)
    .listen(listener)?
    .run();
    Ok(server)
}

/// Serve until stopped (SIGINT/SIGTERM).
pub async fn run(listener: TcpListener, state: AppState) -> std::io::Result<()> {
    build(listener, state, no_extra)?.await
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}

async fn handle_alert(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HookError> {
    let headers = req.headers();
    let peer = req.peer_addr().map(|a| a.to_string()).unwrap_or_default();
    let result = process(&req, payload, &state).await;
    if let Err(e) = &result {
        tracing::warn!(
            peer = %peer,
            status = e.status(),
            error = e.code(),
            detail = %header_safe(&e.to_string()),
            resource = header_str(headers, HEADER_RESOURCE).unwrap_or(""),
            "rejected webhook delivery"
        );
    }
    result
}

async fn process(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<HttpResponse, HookError> {
    let settings = &state.settings;
    let headers = req.headers();

    check_content_type(headers)?;
    let limit = settings.body_limit;
    if let Some(len) =
        header_str(headers, header::CONTENT_LENGTH.as_str()).and_then(|v| v.parse::<u64>().ok())
    {
        if len > limit as u64 {
            return Err(HookError::TooLarge { limit });
        }
    }
    let raw = match tokio::time::timeout(settings.request_timeout, payload.to_bytes_limited(limit))
        .await
    {
        Err(_) => {
            return Err(HookError::BodyTimeout(
                settings.request_timeout.as_millis() as u64
            ))
        }
        Ok(Err(_)) => return Err(HookError::TooLarge { limit }),
        Ok(Ok(Err(e))) => return Err(HookError::BodyRead(e.to_string())),
        Ok(Ok(Ok(b))) => b,
    };

    check_timestamp(headers, settings.timestamp_window)?;
    let resource = header_str(headers, HEADER_RESOURCE)
        .map(str::trim)
        .filter(|r| !r.is_empty());
    authenticate(req, &raw, settings, resource.is_some())?;

    // Only now is the body parsed. The parser does not panic, but a bug must cost one 500, not a worker.
    let parsed =
        std::panic::catch_unwind(AssertUnwindSafe(|| webhook::parse_delivery(resource, &raw)))
            .map_err(|_| HookError::Internal("the webhook parser panicked".into()))??;

    let alert = match parsed.outcome {
        Outcome::Acknowledge(what) => {
            tracing::info!(resource = %parsed.resource, action = %header_safe(&parsed.action), "acknowledged: {what}");
            return Ok(HttpResponse::Ok().json(json!({
                "status": "acknowledged",
                "resource": parsed.resource,
                "action": parsed.action,
                "detail": what,
            })));
        }
        Outcome::Alert(a) => a,
    };
    let project = match settings.project_for(&alert) {
        Ok(p) => p.clone(),
        Err(unmapped) => {
            tracing::info!(
                issue = alert.ident().unwrap_or(""),
                "ignored: {}",
                unmapped.0
            );
            return Ok(HttpResponse::Ok().json(json!({
                "status": "ignored",
                "resource": parsed.resource,
                "action": parsed.action,
                "issue_id": alert.issue_id,
                "reason": unmapped.0,
            })));
        }
    };
    let issue_id = alert.issue_id.clone();
    let event_id = alert.event_id.clone();
    let delivery = Delivery {
        resource: parsed.resource.clone(),
        action: parsed.action.clone(),
        request_id: header_str(headers, HEADER_REQUEST_ID).map(header_safe),
        raw_body: raw.to_vec(),
    };
    // The sink blocks until the alert is durable (a disk sync): on the blocking pool, so the HTTP
    // worker keeps serving, and concurrent alerts share one commit.
    let sink = state.sink.clone();
    let alert_project = project.clone();
    let accepted = web::block(move || sink.accept(*alert, alert_project, delivery))
        .await
        .map_err(|e| HookError::Internal(format!("could not queue the alert: {e}")))?
        .map_err(|e| HookError::Internal(format!("could not queue the alert: {e:#}")))?;
    tracing::info!(
        job_id = %accepted.job_id,
        duplicate = accepted.duplicate,
        resource = %parsed.resource,
        action = %parsed.action,
        issue = issue_id.as_deref().unwrap_or(""),
        repo = %project.repo.display(),
        "accepted alert"
    );
    Ok(HttpResponse::Accepted().json(json!({
        "status": "accepted",
        "job_id": accepted.job_id,
        "duplicate": accepted.duplicate,
        "resource": parsed.resource,
        "action": parsed.action,
        "issue_id": issue_id,
        "event_id": event_id,
        "project": project.slug.or(project.id),
    })))
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn check_content_type(headers: &HeaderMap) -> Result<(), HookError> {
    let ct = header_str(headers, header::CONTENT_TYPE.as_str()).unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim();
    if mime.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(HookError::UnsupportedMediaType(header_safe(ct)))
    }
}

/// `Sentry-Hook-Timestamp` is Unix seconds and not signed; refusing old ones limits replays.
fn check_timestamp(headers: &HeaderMap, window: Option<Duration>) -> Result<(), HookError> {
    let (Some(window), Some(raw)) = (window, header_str(headers, HEADER_TIMESTAMP)) else {
        return Ok(());
    };
    let ts: f64 = raw
        .trim()
        .parse()
        .ok()
        .filter(|t: &f64| t.is_finite())
        .ok_or_else(|| {
            HookError::StaleTimestamp(format!("{:?} is not Unix seconds", header_safe(raw)))
        })?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let skew = (now - ts).abs();
    if skew > window.as_secs_f64() {
        return Err(HookError::StaleTimestamp(format!(
            "is {:.0} s away from now (window {} s)",
            skew,
            window.as_secs()
        )));
    }
    Ok(())
}

/// Signed deliveries verify against the raw bytes; unsigned ones (legacy plugin, bare event) need our
/// `?token=`; `allow_unsigned` lets requests without either through (a wrong signature never passes).
fn authenticate(
    req: &HttpRequest,
    raw: &[u8],
    settings: &Settings,
    has_resource: bool,
) -> Result<(), HookError> {
    let headers = req.headers();
    let sig = header_str(headers, HEADER_SIGNATURE)
        .or_else(|| header_str(headers, HEADER_APP_SIGNATURE))
        .map(str::trim);
    if let Some(sig) = sig {
        return match &settings.client_secret {
            Some(secret) => verify_signature(secret.as_bytes(), raw, sig),
            None if settings.allow_unsigned => Ok(()),
            None => Err(HookError::BadSignature),
        };
    }
    if has_resource {
        return if settings.allow_unsigned {
            Ok(())
        } else {
            Err(HookError::MissingSignature)
        };
    }
    let given = query_param(req.query_string(), "token");
    match (&settings.legacy_token, given) {
        (Some(expected), Some(given)) if constant_time_eq(expected.as_bytes(), given.as_bytes()) => Ok(()),
        (Some(_), Some(_)) => Err(HookError::Unauthorized("the `token` query parameter is wrong".into())),
        (Some(_), None) if settings.allow_unsigned => Ok(()),
        (Some(_), None) => Err(HookError::Unauthorized(
            "unsigned delivery without `Sentry-Hook-Resource`: add `?token=<legacy_token>` to the legacy plugin URL"
                .into(),
        )),
        (None, _) if settings.allow_unsigned => Ok(()),
        (None, _) => Err(HookError::Unauthorized(
            "unsigned legacy plugin deliveries are disabled: configure `legacy_token` and add `?token=` to the plugin URL, \
             or sign the body with `Sentry-Hook-Signature`"
                .into(),
        )),
    }
}

/// Hex HMAC-SHA256 of the raw body, checked with `Mac::verify_slice` (constant time).
pub fn verify_signature(secret: &[u8], raw: &[u8], sig_hex: &str) -> Result<(), HookError> {
    let sig = hex::decode(sig_hex).map_err(|_| HookError::BadSignature)?;
    let mut mac = HmacSha256::new_from_slice(secret).map_err(|_| HookError::BadSignature)?;
    mac.update(raw);
    mac.verify_slice(&sig).map_err(|_| HookError::BadSignature)
}

/// Lowercase hex HMAC-SHA256, as Sentry computes it (tests and clients use this).
pub fn sign(secret: &[u8], raw: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(raw);
    hex::encode(mac.finalize().into_bytes())
}

/// Constant-time equality of two secrets of possibly different lengths: compare their MACs under a
/// fixed key (the MAC comparison is constant time; lengths leak nothing useful).
fn constant_time_eq(expected: &[u8], given: &[u8]) -> bool {
    let tag = |m: &[u8]| {
        let mut mac =
            HmacSha256::new_from_slice(b"sentry-repro token compare").expect("any key length");
        mac.update(m);
        mac
    };
    let expected_tag = tag(expected).finalize().into_bytes();
    tag(given).verify_slice(&expected_tag).is_ok()
}

fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (percent_decode(k) == name).then(|| percent_decode(v))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_roundtrip_and_mismatch() {
        let body = br#"{"a":"\u00e9"}"#;
        let s = sign(b"k", body);
        assert!(verify_signature(b"k", body, &s).is_ok());
        assert!(verify_signature(b"k", body, &s.to_uppercase()).is_ok());
        assert!(verify_signature(b"k2", body, &s).is_err());
        assert!(verify_signature(b"k", body, "zz").is_err());
        assert!(verify_signature(b"k", body, &s[..62]).is_err());
    }

    #[test]
    fn token_compare() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert_eq!(
            query_param("x=1&token=a%20b", "token").as_deref(),
            Some("a b")
        );
        assert_eq!(query_param("tokens=1", "token"), None);
    }

    #[test]
    fn header_values_are_safe() {
        assert_eq!(header_safe("a\nb\u{2028}c"), "a?b?c");
    }
}
