//! One integration-test binary (link time on 2 cores): one module per area.

mod jobs;
mod jobs_e2e;
mod service;
