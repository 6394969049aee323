//! Integration tests, in layers: `fixtures` (a database per test, the daemon as a
//! process, the HTTP API on a socket, shorthands for a store), then the tests by the
//! level they drive: the store through its requests (`store`), the HTTP API (`api`),
//! the `convstore` binary (`daemon`), and properties on generated inputs
//! (`properties`). Every store-level test runs on every backend.

#[macro_use]
mod fixtures;

mod api;
mod daemon;
mod properties;
mod store;
