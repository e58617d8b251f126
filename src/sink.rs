//! The seam between the HTTP handler and background processing.
//!
//! The handler verifies and parses, then hands the alert to an [`AlertSink`] and answers with what the
//! sink says. The sink must return quickly (no git, no network): the durable queue (`jobs`) commits
//! the alert to its store and returns a job id; nothing else happens on the request path.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use anyhow::Context;
use serde::Serialize;

use crate::alert::Alert;
use crate::config::ProjectConfig;
use crate::pipeline;

/// Identity of one webhook delivery, for deduplication and the job record.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    /// `Sentry-Hook-Resource` (`event_alert`, `error`, `issue`) or `legacy`, `event`.
    pub resource: String,
    pub action: String,
    /// `Request-ID` header (new on every retry: not an identity).
    pub request_id: Option<String>,
    /// Exact raw body as received.
    pub raw_body: Vec<u8>,
}

/// What the sink did with an alert.
#[derive(Debug, Clone, Serialize)]
pub struct Accepted {
    pub job_id: String,
    /// True when this delivery duplicates one already stored (same resource, action, issue, event).
    pub duplicate: bool,
}

pub trait AlertSink: Send + Sync + 'static {
    /// Store or schedule the alert for `project`. Must not block on git or the network.
    fn accept(
        &self,
        alert: Alert,
        project: ProjectConfig,
        delivery: Delivery,
    ) -> anyhow::Result<Accepted>;
}

/// What the store remembers of a delivery: when its job was first stored. The HTTP side asks it
/// about a signed body that came again without `Sentry-Hook-Timestamp`: such a replay is accepted
/// (as the duplicate it is) only within the timestamp window, so a body captured once cannot be
/// replayed for ever.
pub trait DeliveryLog: Send + Sync + 'static {
    /// When the job `job_id` was stored; `None` when the log does not know it.
    fn first_seen(&self, job_id: &str) -> anyhow::Result<Option<SystemTime>>;
}

impl DeliveryLog for crate::jobs::Jobs {
    fn first_seen(&self, job_id: &str) -> anyhow::Result<Option<SystemTime>> {
        let Some(rec) = self.job(job_id)? else {
            return Ok(None);
        };
        let at = chrono::DateTime::parse_from_rfc3339(&rec.created_at)
            .with_context(|| format!("job {job_id}: created_at {:?}", rec.created_at))?;
        Ok(Some(SystemTime::from(at)))
    }
}

/// A sink that runs [`pipeline::generate`] in the background right away (no durability: an alert in
/// flight is lost if the process stops). At most `workers` generations run at once, on tokio's
/// blocking pool; the HTTP answer never waits for them. Deliveries repeating one already seen
/// (same resource, action, issue id and event id) get the first job's id back.
pub struct SpawnSink {
    handle: tokio::runtime::Handle,
    permits: Arc<tokio::sync::Semaphore>,
    seen: Mutex<HashMap<String, String>>,
    counter: AtomicU64,
}

/// Remembered deliveries before the dedup map is reset (bounds memory under a flood).
const SPAWN_SEEN_CAP: usize = 10_000;

impl SpawnSink {
    /// `handle`: the runtime to run on (usually `Handle::current()` in `main`).
    pub fn new(handle: tokio::runtime::Handle, workers: usize) -> Self {
        SpawnSink {
            handle,
            permits: Arc::new(tokio::sync::Semaphore::new(workers.max(1))),
            seen: Mutex::new(HashMap::new()),
            counter: AtomicU64::new(0),
        }
    }
}

impl AlertSink for SpawnSink {
    fn accept(
        &self,
        alert: Alert,
        project: ProjectConfig,
        delivery: Delivery,
    ) -> anyhow::Result<Accepted> {
        let key = format!(
            "{}\u{0}{}\u{0}{}\u{0}{}",
            delivery.resource,
            delivery.action,
            alert.issue_id.as_deref().unwrap_or(""),
            alert.event_id.as_deref().unwrap_or("")
        );
        let job_id = {
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(id) = seen.get(&key) {
                return Ok(Accepted {
                    job_id: id.clone(),
                    duplicate: true,
                });
            }
            if seen.len() >= SPAWN_SEEN_CAP {
                seen.clear();
            }
            let n = self.counter.fetch_add(1, Ordering::Relaxed) + 1;
            let id = format!("spawn-{}-{n}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ"));
            seen.insert(key, id.clone());
            id
        };
        let permits = self.permits.clone();
        let span_job = job_id.clone();
        self.handle.spawn(async move {
            let Ok(_permit) = permits.acquire_owned().await else {
                return;
            };
            let run = tokio::task::spawn_blocking(move || {
                pipeline::generate(&alert, &project, &pipeline::GenerateOptions::default())
            })
            .await;
            match run {
                Ok(Ok(g)) => tracing::info!(
                    job_id = %span_job,
                    branch = g.branch.as_deref().unwrap_or("-"),
                    created = g.created,
                    strategy = %g.strategy,
                    "generated"
                ),
                Ok(Err(e)) => tracing::error!(job_id = %span_job, "generation failed: {e:#}"),
                Err(e) => tracing::error!(job_id = %span_job, "generation task died: {e}"),
            }
        });
        Ok(Accepted {
            job_id,
            duplicate: false,
        })
    }
}
