//! Prometheus metrics (`GET /metrics`, OpenMetrics text through the `prometheus-client` crate).
//!
//! * `sentry_repro_alerts_total{outcome}`: alerts by outcome since start: `accepted`, `duplicate`,
//!   `done_created`, `done_occurrence`, `done_adopted`, `ignored`, `retried`, `failed`.
//! * `sentry_repro_jobs{state}`: jobs in the store per state (read from the store at scrape time, so
//!   it survives restarts); `sentry_repro_queue_depth`: jobs queued or running.
//! * `sentry_repro_job_attempt_duration_seconds`: time of one attempt on a worker;
//!   `sentry_repro_job_latency_seconds`: from the alert's arrival to its terminal state.

use std::time::Duration;

use anyhow::Result;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use super::store::{JobState, Store};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: String,
}

pub struct Metrics {
    registry: Registry,
    alerts: Family<OutcomeLabel, Counter>,
    jobs: Family<StateLabel, Gauge>,
    queue_depth: Gauge,
    attempt: Histogram,
    latency: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let alerts = Family::<OutcomeLabel, Counter>::default();
        let jobs = Family::<StateLabel, Gauge>::default();
        let queue_depth = Gauge::default();
        let attempt = Histogram::new(exponential_buckets(0.005, 2.0, 16));
        let latency = Histogram::new(exponential_buckets(0.01, 2.0, 20));
        registry.register(
            "sentry_repro_alerts",
            "Alerts by outcome since start",
            alerts.clone(),
        );
        registry.register(
            "sentry_repro_jobs",
            "Jobs in the store by state",
            jobs.clone(),
        );
        registry.register(
            "sentry_repro_queue_depth",
            "Jobs queued or running",
            queue_depth.clone(),
        );
        registry.register(
            "sentry_repro_job_attempt_duration_seconds",
            "Duration of one job attempt on a worker",
            attempt.clone(),
        );
        registry.register(
            "sentry_repro_job_latency_seconds",
            "Time from an alert's arrival to its job's terminal state",
            latency.clone(),
        );
        for outcome in [
            "accepted",
            "duplicate",
            "done_created",
            "done_occurrence",
            "ignored",
            "retried",
            "failed",
        ] {
            let _ = alerts.get_or_create(&OutcomeLabel {
                outcome: outcome.into(),
            });
        }
        Metrics {
            registry,
            alerts,
            jobs,
            queue_depth,
            attempt,
            latency,
        }
    }

    pub fn alert(&self, outcome: &str) {
        self.alerts
            .get_or_create(&OutcomeLabel {
                outcome: outcome.to_string(),
            })
            .inc();
    }

    pub fn observe_attempt(&self, d: Duration) {
        self.attempt.observe(d.as_secs_f64());
    }

    pub fn observe_latency(&self, d: Duration) {
        self.latency.observe(d.as_secs_f64());
    }

    /// Refresh the store-derived gauges and encode everything.
    pub fn render(&self, store: &Store) -> Result<String> {
        let counts = store.counts()?;
        let mut depth = 0;
        for (state, n) in counts {
            self.jobs
                .get_or_create(&StateLabel {
                    state: state.as_str().into(),
                })
                .set(n as i64);
            if matches!(state, JobState::Queued | JobState::Running) {
                depth += n as i64;
            }
        }
        self.queue_depth.set(depth);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}
