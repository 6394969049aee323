//! The store's calls made in process from a plain thread, timed: what the Python
//! module's embedded engine does for `save_message`, `load_history(20)` and
//! `get_conversation`, without Python. `python/bench/overhead.py` times the same calls
//! through `convstore.Store`; the difference is what the Python layer costs.
//!
//! ```sh
//! cargo run --release --example in_process_calls -- [CALLS]
//! ```
//!
//! The store is SQLite in a fresh temporary folder with `synchronous = off`, as in
//! `overhead.py`, so that the figures are the store's work, not the disk's fsync. A save
//! is sent to the actor and waited for; the reads run on this thread (the direct reads
//! the Python module uses on SQLite). Prints one JSON object: each call's median (µs).

use std::time::Instant;

use convstore::config::{Config, DatabaseConfig};
use convstore::db::SqliteSynchronous;
use convstore::store::requests::{
    GetConversation, GetOrCreate, HistoryWindow, LoadHistory, NewMessage, SaveMessage,
};
use convstore::{Role, StoreActor};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let calls: usize = match std::env::args().nth(1) {
        Some(text) => text.parse()?,
        None => 3000,
    };
    let folder = std::env::temp_dir().join(format!("convstore-calls-{}", std::process::id()));
    let defaults = Config::default();
    let config = Config {
        db_url: folder.join("calls.db").to_string_lossy().into_owned(),
        database: DatabaseConfig {
            sqlite_synchronous: SqliteSynchronous::Off,
            ..defaults.database.clone()
        },
        ..defaults
    };
    let (db, settings) = (config.db_settings()?, config.store_settings());
    // The store runs on a thread of its own, as in the Python module; calls come from here.
    let (opened, answer) = std::sync::mpsc::channel();
    let store_thread = std::thread::spawn(move || {
        let system = actix::System::new();
        let store = system.block_on(StoreActor::open_in_process(db, settings));
        let _ = opened.send(store.map(|store| (store, actix::System::current())));
        system.run()
    });
    let ((store, reads), system) = answer.recv()??;
    let reads = reads.ok_or("SQLite has direct reads")?;
    let ask = |request| futures_executor::block_on(store.send(request));
    let conversation_id = ask(GetOrCreate {
        user_key: "overhead".into(),
        platform: "bench".into(),
        chat_id: None,
    })??
    .conversation
    .id;
    let content = "x".repeat(200);
    let save = || -> Outcome {
        let message = NewMessage::new(Role::User, content.clone()).tokens(30);
        let request = SaveMessage {
            conversation_id,
            message,
        };
        futures_executor::block_on(store.send(request))??;
        Ok(())
    };
    for _ in 0..20 {
        save()?;
    }
    let window = HistoryWindow {
        max_turns: Some(20),
        max_messages: Some(20),
        ..Default::default()
    };
    let load = || -> Outcome {
        let request = LoadHistory {
            conversation_id,
            window,
        };
        reads.load_history(request)?;
        Ok(())
    };
    let get = || -> Outcome {
        reads.get_conversation(GetConversation { conversation_id })?;
        Ok(())
    };
    let save_us = median_us(calls, save)?;
    let load_us = median_us(calls, load)?;
    let get_us = median_us(calls, get)?;
    println!(
        "{{\"calls\": {calls}, \"native_us\": {{\"save_message\": {save_us:.1}, \
         \"load_history(20)\": {load_us:.1}, \"get_conversation\": {get_us:.1}}}}}"
    );
    system.stop();
    let _ = store_thread.join();
    let _ = std::fs::remove_dir_all(&folder);
    Ok(())
}

type Outcome = Result<(), Box<dyn std::error::Error>>;

/// The median time of `calls` runs of `call`, in microseconds.
fn median_us(
    calls: usize,
    mut call: impl FnMut() -> Outcome,
) -> Result<f64, Box<dyn std::error::Error>> {
    let mut times = Vec::with_capacity(calls);
    for _ in 0..calls.max(1) {
        let began = Instant::now();
        call()?;
        times.push(began.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}
