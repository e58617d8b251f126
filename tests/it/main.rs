//! One integration-test binary (link time on 2 cores): one module per area.

mod confirm; // generate --confirm: candidates run on base, only a confirmed one handed over
mod e2e;
// The games a fixer can play on the branch verify judges: each must be TAMPERED, the fix FLIPPED.
mod games;
mod go_cases;
mod hostile;
mod java_cases;
mod jobs;
mod jobs_e2e;
mod js_cases;
mod js_runners;
mod python_cases;
// Real BugsInPy crashes (sentry-sdk events) through scripts/realworld.py: verdicts guarded.
mod realworld;
mod rust_cases;
mod service;
mod support;
mod verify;
