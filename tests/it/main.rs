//! One integration-test binary (link time on 2 cores): one module per area.

mod hostile;
mod js_cases;
mod polyglot;
mod python_cases;
mod service;
mod verify;
