//! The thread the store runs on: an actix system holding the `StoreActor`, started by
//! [`StoreThread::start`] and stopped, after every queued write is committed, by
//! [`StoreThread::stop`].

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use actix::{Addr, System};
use convstore::config::Config;
use convstore::store::DirectReads;
use convstore::store::requests::Shutdown;
use convstore::{StoreActor, StoreError};

/// How often a stopping store is asked whether its last writes are committed.
const STOP_POLL: Duration = Duration::from_millis(2);

/// An open store: its actor, and its direct reads where the backend has them.
pub type Store = (Addr<StoreActor>, Option<DirectReads>);

/// The store's thread and its actor system.
pub struct StoreThread {
    system: System,
    thread: JoinHandle<()>,
}

impl StoreThread {
    /// Opens the store `config` describes (migrating its database) on a new thread: its
    /// actor, the reads this process may run on its own threads (SQLite), and the thread.
    pub fn start(config: &Config) -> Result<(Store, StoreThread), StoreError> {
        let db = config
            .db_settings()
            .map_err(|error| config_error(error.to_string()))?;
        let settings = config.store_settings();
        let (opened, answer) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("convstore-store".into())
            .spawn(move || {
                let system = System::new();
                let store = system.block_on(StoreActor::open_in_process(db, settings));
                let failed = store.is_err();
                let _ = opened.send(store.map(|store| (store, System::current())));
                if !failed {
                    system.run().ok();
                }
            })
            .map_err(|error| StoreError::Internal(format!("cannot start the store: {error}")))?;
        match answer.recv() {
            Ok(Ok((store, system))) => Ok((store, StoreThread { system, thread })),
            Ok(Err(error)) => {
                let _ = thread.join();
                Err(error)
            }
            Err(_) => Err(StoreError::Internal(
                "the store's thread ended while opening".into(),
            )),
        }
    }

    /// Commits the queued writes, stops the actor system and waits for the thread.
    pub fn stop(self, store: &Addr<StoreActor>) {
        if futures_executor::block_on(store.send(Shutdown)).is_ok() {
            while store.connected() {
                std::thread::sleep(STOP_POLL);
            }
        }
        self.system.stop();
        let _ = self.thread.join();
    }
}

/// A configuration error (`key: message`) as invalid input naming the key.
pub fn config_error(message: String) -> StoreError {
    match message.split_once(": ") {
        Some((key, rest)) if !key.contains(' ') => StoreError::invalid(key, rest),
        _ => StoreError::invalid("settings", message),
    }
}
