//! The one integration-test binary (one module per area, to keep link time down).

mod js_cases;
