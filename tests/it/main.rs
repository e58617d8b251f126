//! The integration test binary: one module per area (one binary keeps link time down).

mod verify;
