//! The template context of the Rust tests.
//!
//! Why one context for both templates: they share the event header, the function under test and
//! its path; Tera fails on a missing field.

use super::call::*;
use super::source::*;
use crate::lang::EventHeader;
use serde::Serialize;

#[derive(Serialize)]
pub(super) struct Ctx {
    #[serde(flatten)]
    pub(super) event: EventHeader,
    pub(super) fn_name: String,
    /// Segments of the `use` path (validated identifiers), empty when nothing is public.
    pub(super) use_path: Vec<String>,
    pub(super) extern_crate: String,
    pub(super) callee: String,
    /// `Type` of an associated function `Type::callee`, else empty.
    pub(super) callee_type: String,
    pub(super) args: Vec<Arg>,
    /// Candidate values (rendered through `rust_str`; integers as decimal text).
    pub(super) strs: Vec<String>,
    pub(super) ints: Vec<String>,
    pub(super) lists: Vec<Vec<String>>,
    pub(super) int_lists: Vec<Vec<String>>,
    /// Basenames of the crate's files on the stack: the panic must be raised in one of them.
    pub(super) crash_files: Vec<String>,
    /// The string a slicing panic names (wording differs between rustc versions).
    pub(super) subject: String,
    pub(super) calls: usize,
    /// Every searched argument: the receiver's constructor's, then the callee's.
    pub(super) all_args: Vec<Arg>,
    /// How a method's receiver is built (`None` for functions).
    pub(super) recv: Option<Receiver>,
    /// The callee is `callee_type`'s conversion from a string, called with this trait named
    /// (`std::str::FromStr`, `From<&str>`, `TryFrom<String>`…: fixed code from a closed set);
    /// empty otherwise.
    pub(super) conv_trait: String,
    /// A binary's module compiled into the test (`#[path = …] mod …;`): its path from `tests/`;
    /// empty when the test imports the library.
    pub(super) mod_include: String,
    /// The callee is an `async fn`: the test runs its future with `block_on`.
    pub(super) is_async: bool,
    /// `block_on` is a current-thread tokio runtime (else a std thread-parking executor).
    pub(super) tokio: bool,
}
