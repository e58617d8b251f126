//! sentry-repro: turns a Sentry crash alert into a git branch holding a failing regression test.
//!
//! Data flows one way:
//! `server` (routes, signature) → `webhook` (payload shapes → [`alert::Alert`]) → `jobs` (durable
//! queue) → `pipeline`: `plan` (crash frame → repository file, language) → `lang::*` (strategy,
//! templates rendered through `render`'s literal filters) → `git` (tree built in memory, new branch).
//! `verify` stands apart: it reads only the repository and the `repro/sentry-<id>.json` contract.

pub mod alert;
pub mod config;
pub mod confirm;
pub mod contract;
pub mod git;
pub mod jobs;
pub mod lang;
pub mod pin;
pub mod pipeline;
pub mod plan;
pub mod prune;
pub mod render;
pub mod repo;
pub mod server;
pub mod sink;
pub mod verify;
pub mod webhook;
