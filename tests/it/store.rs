//! The store driven through its requests, in process, on every backend.

mod archive;
mod bot_loop;
mod concurrency;
mod conversations;
mod direct_reads;
mod disk_full;
mod editing;
mod history;
mod hung_server;
mod import;
mod lock_waits;
mod locking;
mod maintenance;
mod numbers;
mod outage;
mod paging;
mod races;
mod saving;
mod scheduler;
mod scratch;
mod shape;
mod statistics;
mod transfer;
mod updates;
mod validation;
