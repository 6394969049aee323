//! What the tests stand on: a fresh database per test, dropped even when the test
//! panics (`db`, with the `backend_test!` macro); the `convstore` binary started and
//! stopped (`daemon`); the daemon's HTTP API on a loopback socket with a client
//! (`http`); a database server of the test's own, to stop and start (`private_server`);
//! a SQLite file locked by another connection (`sqlite_lock`); shorthands for driving a
//! store (`store`).

#[macro_use]
pub mod db;
pub mod daemon;
pub mod http;
pub mod private_server;
pub mod sqlite_lock;
pub mod store;
