//! One integration-test binary (link time on 2 cores): one module per area.

mod confirm; // generate --confirm: candidates run on base, only a confirmed one handed over
mod e2e;
mod go_cases;
mod hostile;
mod java_cases;
mod jobs;
mod jobs_e2e;
mod js_cases;
mod js_runners;
mod python_cases;
mod rust_cases;
mod service;
mod support;
mod verify;
