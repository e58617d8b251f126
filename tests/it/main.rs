//! One integration-test binary (link time on 2 cores): one module per area.

mod service;
mod verify;
//! The one integration-test binary (one module per area, to keep link time down).

mod js_cases;
