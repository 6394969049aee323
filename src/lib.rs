//! convstore: a persistent conversation store for AI chat bots.
//!
//! The public API is the [`StoreActor`] and the typed requests in [`store::requests`]:
//! start the actor with [`StoreActor::open`], send it requests, get back
//! `Result<T, StoreError>`. The same store runs on SQLite (the embedded default),
//! PostgreSQL or MySQL/MariaDB, chosen by the database URL.

#[cfg(not(any(feature = "sqlite", feature = "postgres", feature = "mysql")))]
compile_error!("convstore needs at least one backend feature: sqlite, postgres or mysql");

pub mod api;
pub mod app;
pub mod config;
pub mod daemon;
pub mod db;
mod error;
mod metrics;
pub mod model;
pub mod scheduler;
pub mod store;
mod systemd;
pub mod transfer;

pub use error::StoreError;
pub use model::{Conversation, Role, Stats, StoredMessage};
pub use store::StoreActor;
