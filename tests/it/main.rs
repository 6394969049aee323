//! Integration tests: the store driven through its messages, on every backend.

#[macro_use]
mod helpers;
mod smoke;
