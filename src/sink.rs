//! The seam between the HTTP handler and background processing.
//!
//! The handler verifies and parses, then hands the alert to an [`AlertSink`] and answers with what the
//! sink says. The sink must return quickly (no git, no network): the durable queue (`jobs`) commits
//! the alert to its store and returns a job id; nothing else happens on the request path.

use serde::Serialize;

use crate::alert::Alert;
use crate::config::ProjectConfig;

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
