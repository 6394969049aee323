//! The HTTP API of docs/API.md through a real socket (`fixtures::http`): each route,
//! the error shape of every failure, authentication, the contract against the OpenAPI
//! document.

mod accepted;
mod admin;
mod auth;
mod bad_input;
mod console;
mod contract;
mod conversations;
mod editing;
mod errors;
mod messages;
mod stats;
mod transfer;
mod user_key_prefix;
