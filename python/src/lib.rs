//! `convstore._native`: the convstore store embedded in a Python process.
//!
//! [`engine::Engine`] runs the library's `StoreActor` on an actix system of its own thread and
//! answers each operation of the store with the package's records (the dataclasses of
//! `convstore.model`, built from the native values by [`records`]); a failure is raised
//! as the package's exception for it (`convstore.errors`). Every call releases the GIL
//! while it waits, so saves from many Python threads meet in one group commit.
//!
//! [`http::HttpTransport`] carries the remote client's requests to a daemon over a
//! keep-alive pool, also with the GIL released.

mod engine;
mod errors;
mod http;
mod records;
mod runtime;

use pyo3::prelude::*;

/// The module: the [`engine::Engine`] class, the HTTP transport and its exceptions.
#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<engine::Engine>()?;
    http::register(module)
}
