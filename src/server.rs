//! The HTTP service: the webhook (`POST /handle-sentry-alert`), `GET /healthz` and the read side
//! (status page, `/jobs/{id}`, `/metrics`) on actix-web.
//!
//! The webhook path does only cheap, bounded work and never waits on git or the network, because
//! Sentry gives a webhook one second and unsubscribes receivers that keep timing out. What the
//! headers can decide comes first, so a request that cannot be authentic costs no body read:
//!
//! 1. Content type (415).
//! 2. Authentication from the headers alone (401): a signature header (`Sentry-Hook-Signature` /
//!    `Sentry-App-Signature`) when a client secret is set, our own `?token=` for unsigned legacy
//!    bodies (constant time), or `allow_unsigned`.
//! 3. The `Sentry-Hook-Timestamp` window (401) and the declared size (413).
//! 4. A share of the global in-flight budget ([`BodyBudget`]) of the declared size: when it is
//!    spent, 503 with `Retry-After` and nothing allocated. Memory for bodies stays bounded
//!    whatever the number of connections.
//! 5. The body within the request timeout (408), into one buffer of the declared size; then the
//!    HMAC over the raw bytes (401), JSON parsing and shape checks (400 naming the field).
//! 6. The alert goes to an [`AlertSink`], which answers with a job id (202). Deliveries with nothing
//!    to reproduce, and alerts for unmapped projects, get 200 saying why: a 4xx would count against
//!    the integration in Sentry. A signed body without a timestamp that repeats a delivery stored
//!    longer ago than the window is refused (401, see [`DeliveryLog`]).
//!
//! Reads show event data, so strangers get none. On the webhook address every route but the
//! webhook and `/healthz` needs the read token ([`read_gate`]); the read address ([`build_read`])
//! serves them without one and must stay private (loopback by default).

use std::net::TcpListener;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer, ResponseError};
use futures_core::Stream;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use crate::alert::{percent_decode, Alert};
use crate::config::Settings;
use crate::sink::{Accepted, AlertSink, Delivery, DeliveryLog};
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
/// `Retry-After` of a 503 when the in-flight budget is spent: bodies in flight take about that long.
pub const BUSY_RETRY_AFTER_SECS: u64 = 2;

/// Shared by every worker.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub sink: Arc<dyn AlertSink>,
    /// Bytes of bodies being read right now, across all requests.
    pub budget: Arc<BodyBudget>,
    /// The store's memory of deliveries, for timestamp-less replays (`None`: not checked).
    pub log: Option<Arc<dyn DeliveryLog>>,
}

impl AppState {
    pub fn new(settings: Settings, sink: Arc<dyn AlertSink>) -> Self {
        AppState {
            budget: Arc::new(BodyBudget::new(settings.inflight_budget)),
            settings: Arc::new(settings),
            sink,
            log: None,
        }
    }

    /// Refuse signed, timestamp-less replays of deliveries `log` stored longer ago than the window.
    pub fn with_delivery_log(mut self, log: Arc<dyn DeliveryLog>) -> Self {
        self.log = Some(log);
        self
    }
}

/// The global budget for request bodies being read. A request reserves its declared size (the body
/// limit when it declares none) before it reads a byte, and gives it back when its handler ends.
#[derive(Debug)]
pub struct BodyBudget {
    cap: usize,
    used: AtomicUsize,
}

impl BodyBudget {
    pub fn new(cap: usize) -> Self {
        BodyBudget {
            cap,
            used: AtomicUsize::new(0),
        }
    }

    /// Reserve `n` bytes, or `None` when that would pass the cap.
    pub fn try_reserve(self: &Arc<Self>, n: usize) -> Option<BodyPermit> {
        let mut cur = self.used.load(Ordering::Relaxed);
        loop {
            let next = cur.checked_add(n).filter(|&v| v <= self.cap)?;
            match self
                .used
                .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => {
                    return Some(BodyPermit {
                        budget: self.clone(),
                        n,
                    })
                }
                Err(actual) => cur = actual,
            }
        }
    }

    /// Bytes reserved right now.
    pub fn in_use(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }
}

/// Bytes of the [`BodyBudget`] held by one request; given back on drop.
#[derive(Debug)]
pub struct BodyPermit {
    budget: Arc<BodyBudget>,
    n: usize,
}

impl Drop for BodyPermit {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.n, Ordering::AcqRel);
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
        if let HookError::Busy { retry_after } = self {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
        }
        resp
    }
}

/// A read refused on the webhook address (401). It says what would open it, and nothing else.
#[derive(Debug, thiserror::Error)]
#[error("reads need the read token (`Authorization: Bearer <token>`) or the private read address")]
pub struct ReadDenied;

impl ResponseError for ReadDenied {
    fn status_code(&self) -> StatusCode {
        StatusCode::UNAUTHORIZED
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"sentry-repro\""))
            .json(json!({"error": "unauthorized", "detail": self.to_string()}))
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

/// Build the webhook server on an already bound listener (tests bind port 0). `extra` mounts the
/// read routes, which answer only requests carrying the read token here ([`read_gate`]).
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
            .wrap(from_fn(read_gate))
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

/// The read side on its own listener: `/healthz` and `extra`'s routes, no token asked, no webhook.
/// Whoever reaches this address reads event data, so it must stay private (loopback, or a port
/// published only to the host's loopback). One worker: reads are rare and must not take threads
/// from the webhook.
pub fn build_read<F>(listener: TcpListener, state: AppState, extra: F) -> std::io::Result<Server>
where
    F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
{
    let timeout = state.settings.request_timeout;
    let data = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .service(web::resource(HEALTH_PATH).route(web::get().to(healthz)))
            .configure(extra.clone())
    })
    .client_request_timeout(timeout)
    .client_disconnect_timeout(Duration::from_secs(1))
    .shutdown_timeout(5)
    .workers(1)
    .listen(listener)?
    .run();
    Ok(server)
}

/// The webhook server and, when there is a read address, the read server. Each stops on
/// SIGINT/SIGTERM.
pub struct Servers {
    pub webhook: Server,
    pub read: Option<Server>,
}

impl Servers {
    /// Handles to stop both (tests).
    pub fn handles(&self) -> Vec<ServerHandle> {
        std::iter::once(self.webhook.handle())
            .chain(self.read.as_ref().map(Server::handle))
            .collect()
    }

    /// Serve until both have stopped.
    pub async fn run(self) -> std::io::Result<()> {
        match self.read {
            Some(read) => tokio::try_join!(self.webhook, read).map(|_| ()),
            None => self.webhook.await,
        }
    }
}

/// Both sides on bound listeners; `extra` (the read routes) is mounted on both, token-gated on the
/// webhook address and open on the read address.
pub fn build_service<F>(
    webhook: TcpListener,
    read: Option<TcpListener>,
    state: AppState,
    extra: F,
) -> std::io::Result<Servers>
where
    F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
{
    let read = read
        .map(|l| build_read(l, state.clone(), extra.clone()))
        .transpose()?;
    Ok(Servers {
        webhook: build(webhook, state, extra)?,
        read,
    })
}

/// Give freed request bodies back to the OS at once. glibc raises its mmap threshold after the first
/// large block is freed and then keeps later blocks of that size in its arenas, so after a burst of
/// bodies the process would stay as large as the burst made it, and the next burst would add to it.
/// A fixed threshold keeps every buffer over 256 KiB in its own mapping, unmapped on drop. Call once,
/// before serving (`serve` does).
pub fn return_freed_bodies_to_the_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; it is called before the server threads start.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}

/// Serve until stopped (SIGINT/SIGTERM).
pub async fn run(listener: TcpListener, state: AppState) -> std::io::Result<()> {
    build(listener, state, no_extra)?.await
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}

/// On the webhook address, every route but the webhook and `/healthz` needs the read token: with no
/// token configured, reads are served on the read address only.
pub async fn read_gate(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if req.path() == ALERT_PATH || req.path() == HEALTH_PATH {
        return next.call(req).await;
    }
    let token = req
        .app_data::<web::Data<AppState>>()
        .and_then(|s| s.settings.read_token.clone());
    match token {
        Some(t) if read_token_given(req.headers(), req.query_string(), &t) => next.call(req).await,
        _ => Err(ReadDenied.into()),
    }
}

/// `Authorization: Bearer <token>`, or `?token=<token>` (a browser cannot send the header);
/// compared in constant time.
pub fn read_token_given(headers: &HeaderMap, query: &str, token: &str) -> bool {
    let bearer = header_str(headers, header::AUTHORIZATION.as_str())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_string());
    bearer
        .or_else(|| query_param(query, "token"))
        .is_some_and(|given| constant_time_eq(token.as_bytes(), given.as_bytes()))
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

/// How a delivery proves itself, decided from its headers before the body is read.
#[derive(Debug, PartialEq)]
enum Proof {
    /// An HMAC to check over the raw body once it is read.
    Signature(String),
    /// The legacy `?token=` matched, or unsigned requests are allowed.
    Admitted,
}

/// A delivery that passed every check up to the body: its raw bytes, its proof, and the budget it
/// holds until the handler ends.
struct Received {
    raw: Vec<u8>,
    proof: Proof,
    /// Signed and without `Sentry-Hook-Timestamp`: a replay is checked against the delivery log.
    untimed: bool,
    _permit: BodyPermit,
}

async fn process(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<HttpResponse, HookError> {
    let resource = header_str(req.headers(), HEADER_RESOURCE)
        .map(str::trim)
        .filter(|r| !r.is_empty());
    let received = receive(req, payload, state, resource.is_some()).await?;
    if let Proof::Signature(sig) = &received.proof {
        let secret = state.settings.client_secret.as_deref().unwrap_or_default();
        verify_signature(secret.as_bytes(), &received.raw, sig)?;
    }

    // Only now is the body parsed. The parser does not panic, but a bug must cost one 500, not a worker.
    let parsed = std::panic::catch_unwind(AssertUnwindSafe(|| {
        webhook::parse_delivery(resource, &received.raw)
    }))
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
    queue(
        req,
        state,
        *alert,
        (&parsed.resource, &parsed.action),
        received,
    )
    .await
}

/// Steps 1 to 5 of the module doc: headers, budget, body. No body byte is read before the headers
/// passed, and none without a share of the budget.
async fn receive(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    has_resource: bool,
) -> Result<Received, HookError> {
    let settings = &state.settings;
    let headers = req.headers();
    check_content_type(headers)?;
    let proof = admit(req, settings, has_resource)?;
    check_timestamp(headers, settings.timestamp_window)?;
    let declared = declared_length(headers, settings.body_limit)?;
    let permit = state
        .budget
        .try_reserve(declared.unwrap_or(settings.body_limit))
        .ok_or(HookError::Busy {
            retry_after: BUSY_RETRY_AFTER_SECS,
        })?;
    let raw = match tokio::time::timeout(
        settings.request_timeout,
        read_body(payload, declared, settings.body_limit),
    )
    .await
    {
        Err(_) => {
            return Err(HookError::BodyTimeout(
                settings.request_timeout.as_millis() as u64
            ))
        }
        Ok(r) => r?,
    };
    let untimed =
        matches!(proof, Proof::Signature(_)) && header_str(headers, HEADER_TIMESTAMP).is_none();
    Ok(Received {
        raw,
        proof,
        untimed,
        _permit: permit,
    })
}

/// Hand the alert to the sink (202), or answer 200 "ignored" for an unmapped project.
async fn queue(
    req: &HttpRequest,
    state: &AppState,
    alert: Alert,
    (resource, action): (&str, &str),
    received: Received,
) -> Result<HttpResponse, HookError> {
    let project = match state.settings.project_for(&alert) {
        Ok(p) => p.clone(),
        Err(unmapped) => {
            tracing::info!(
                issue = alert.ident().unwrap_or(""),
                "ignored: {}",
                unmapped.0
            );
            return Ok(HttpResponse::Ok().json(json!({
                "status": "ignored",
                "resource": resource,
                "action": action,
                "issue_id": alert.issue_id,
                "reason": unmapped.0,
            })));
        }
    };
    let issue_id = alert.issue_id.clone();
    let event_id = alert.event_id.clone();
    let delivery = Delivery {
        resource: resource.to_string(),
        action: action.to_string(),
        request_id: header_str(req.headers(), HEADER_REQUEST_ID).map(header_safe),
        raw_body: received.raw,
    };
    // The sink blocks until the alert is durable (a disk sync): on the blocking pool, so the HTTP
    // worker keeps serving, and concurrent alerts share one commit.
    let sink = state.sink.clone();
    let alert_project = project.clone();
    let accepted = web::block(move || sink.accept(alert, alert_project, delivery))
        .await
        .map_err(|e| HookError::Internal(format!("could not queue the alert: {e}")))?
        .map_err(|e| HookError::Internal(format!("could not queue the alert: {e:#}")))?;
    if received.untimed {
        check_replay(state, &accepted).await?;
    }
    tracing::info!(
        job_id = %accepted.job_id,
        duplicate = accepted.duplicate,
        resource = %resource,
        action = %action,
        issue = issue_id.as_deref().unwrap_or(""),
        repo = %project.repo.display(),
        "accepted alert"
    );
    Ok(HttpResponse::Accepted().json(json!({
        "status": "accepted",
        "job_id": accepted.job_id,
        "duplicate": accepted.duplicate,
        "resource": resource,
        "action": action,
        "issue_id": issue_id,
        "event_id": event_id,
        "project": project.slug.or(project.id),
    })))
}

/// A signed body without `Sentry-Hook-Timestamp` that repeats a stored delivery is accepted (as a
/// duplicate) only within the timestamp window since the store first saw it. Sentry's own retries
/// carry the header; a body captured and replayed later does not get through.
async fn check_replay(state: &AppState, accepted: &Accepted) -> Result<(), HookError> {
    let (Some(log), Some(window)) = (state.log.clone(), state.settings.timestamp_window) else {
        return Ok(());
    };
    if !accepted.duplicate {
        return Ok(());
    }
    let job_id = accepted.job_id.clone();
    let first = web::block(move || log.first_seen(&job_id))
        .await
        .map_err(|e| HookError::Internal(format!("reading the delivery log: {e}")))?
        .map_err(|e| HookError::Internal(format!("reading the delivery log: {e:#}")))?;
    let Some(first) = first else {
        return Ok(());
    };
    let age = SystemTime::now().duration_since(first).unwrap_or_default();
    if age > window {
        return Err(HookError::StaleReplay(format!(
            "this delivery was first received {} s ago, outside the {} s window",
            age.as_secs(),
            window.as_secs()
        )));
    }
    Ok(())
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

/// The declared `Content-Length`, refused over the limit (413) before anything is read.
fn declared_length(headers: &HeaderMap, limit: usize) -> Result<Option<usize>, HookError> {
    let Some(v) = header_str(headers, header::CONTENT_LENGTH.as_str()) else {
        return Ok(None);
    };
    let len: u64 = v.trim().parse().map_err(|_| {
        HookError::BodyRead(format!(
            "Content-Length {:?} is not a number",
            header_safe(v)
        ))
    })?;
    if len > limit as u64 {
        return Err(HookError::TooLarge { limit });
    }
    Ok(Some(len as usize))
}

/// Read the body into one buffer: allocated once at the declared size when there is one, else grown
/// (at most to `limit`) as chunks arrive. Never more than `limit` bytes.
async fn read_body(
    payload: web::Payload,
    declared: Option<usize>,
    limit: usize,
) -> Result<Vec<u8>, HookError> {
    let mut payload = std::pin::pin!(payload);
    let mut buf = Vec::with_capacity(declared.unwrap_or(0).min(limit));
    while let Some(chunk) = std::future::poll_fn(|cx| payload.as_mut().poll_next(cx)).await {
        let chunk = chunk.map_err(|e| HookError::BodyRead(e.to_string()))?;
        let need = buf.len() + chunk.len();
        if need > limit {
            return Err(HookError::TooLarge { limit });
        }
        if buf.capacity() < need {
            let want = (buf.capacity() * 2).max(need).min(limit);
            buf.reserve_exact(want - buf.len());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
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

/// Decide from the headers how the delivery proves itself. Signed deliveries are checked over the
/// raw bytes once read (a signature that is not 32 bytes of hex fails here already); unsigned ones
/// (legacy plugin, bare event) need our `?token=`; `allow_unsigned` lets requests without either
/// through (a wrong signature never passes).
fn admit(req: &HttpRequest, settings: &Settings, has_resource: bool) -> Result<Proof, HookError> {
    let headers = req.headers();
    let sig = header_str(headers, HEADER_SIGNATURE)
        .or_else(|| header_str(headers, HEADER_APP_SIGNATURE))
        .map(str::trim);
    if let Some(sig) = sig {
        return match &settings.client_secret {
            Some(_) if sig.len() == 64 && sig.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Ok(Proof::Signature(sig.to_string()))
            }
            None if settings.allow_unsigned => Ok(Proof::Admitted),
            _ => Err(HookError::BadSignature),
        };
    }
    if has_resource {
        return if settings.allow_unsigned {
            Ok(Proof::Admitted)
        } else {
            Err(HookError::MissingSignature)
        };
    }
    let given = query_param(req.query_string(), "token");
    match (&settings.legacy_token, given) {
        (Some(expected), Some(given)) if constant_time_eq(expected.as_bytes(), given.as_bytes()) => Ok(Proof::Admitted),
        (Some(_), Some(_)) => Err(HookError::Unauthorized("the `token` query parameter is wrong".into())),
        (Some(_), None) if settings.allow_unsigned => Ok(Proof::Admitted),
        (Some(_), None) => Err(HookError::Unauthorized(
            "unsigned delivery without `Sentry-Hook-Resource`: add `?token=<legacy_token>` to the legacy plugin URL"
                .into(),
        )),
        (None, _) if settings.allow_unsigned => Ok(Proof::Admitted),
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
    fn budget_caps_reservations_and_gets_them_back_on_drop() {
        let b = Arc::new(BodyBudget::new(100));
        let first = b.try_reserve(60).expect("fits");
        assert!(b.try_reserve(41).is_none(), "60 + 41 is over 100");
        let second = b.try_reserve(40).expect("60 + 40 fits exactly");
        assert_eq!(b.in_use(), 100);
        assert!(b.try_reserve(1).is_none());
        assert!(b.try_reserve(usize::MAX).is_none(), "no overflow");
        drop(first);
        assert_eq!(b.in_use(), 40);
        assert!(b.try_reserve(60).is_some());
        drop(second);
        assert_eq!(b.in_use(), 0);
    }

    #[test]
    fn read_token_from_bearer_header_or_query() {
        let t = "read-token-0123456789";
        let with = |auth: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, HeaderValue::from_str(auth).unwrap());
            h
        };
        assert!(read_token_given(&with(&format!("Bearer {t}")), "", t));
        assert!(read_token_given(&with(&format!("bearer  {t} ")), "", t));
        assert!(!read_token_given(&with(&format!("Basic {t}")), "", t));
        assert!(!read_token_given(&with("Bearer wrong"), "", t));
        assert!(!read_token_given(&with(t), "", t), "no scheme");
        assert!(read_token_given(
            &HeaderMap::new(),
            &format!("x=1&token={t}"),
            t
        ));
        assert!(!read_token_given(&HeaderMap::new(), "token=", t));
        assert!(!read_token_given(&HeaderMap::new(), "", t));
    }

    #[test]
    fn header_values_are_safe() {
        assert_eq!(header_safe("a\nb\u{2028}c"), "a?b?c");
    }
}
