//! The one integration test binary (one module per area, to keep link time down).

mod python_cases;
