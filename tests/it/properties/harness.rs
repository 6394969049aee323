//! How an async property runs: one actix system and its stores for all the cases of
//! a property, a fixed seed, and sending requests from a case.

use std::fmt::Debug;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

use actix::Handler;
use convstore::db::Backend;
use convstore::store::StoreSettings;
use convstore::store::requests::*;
use convstore::transfer::ExportDocument;
use convstore::{Role, StoreActor, StoreError};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};

use crate::fixtures::db::TestDb;
use crate::fixtures::store::Store;

/// Cases per property unless `PROPTEST_CASES` says otherwise.
pub const CASES: u32 = 64;
/// The seed unless `PROPTEST_RNG_SEED` says otherwise.
pub const SEED: u64 = 0x00c0_5e55_10e5;

/// One actix system for a whole property: stores started on it keep running between
/// the cases, each of which runs in `block_on`.
pub struct Harness {
    system: actix_rt::SystemRunner,
    stores: Vec<(TestDb, Store)>,
}

impl Harness {
    /// A system with `count` stores, each on a SQLite file of its own.
    pub fn new(count: usize) -> Harness {
        let system = actix_rt::System::new();
        let stores = system.block_on(async {
            let mut stores = Vec::with_capacity(count);
            for _ in 0..count {
                let db = TestDb::create(Backend::Sqlite)
                    .await
                    .expect("SQLite needs no server");
                let store = db.store_with(StoreSettings::default()).await;
                stores.push((db, store));
            }
            stores
        });
        Harness { system, stores }
    }

    pub fn store(&self, index: usize) -> &Store {
        &self.stores[index].1
    }

    pub fn db(&self, index: usize) -> &TestDb {
        &self.stores[index].0
    }

    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.system.block_on(future)
    }

    /// Checks `property` on generated values of `strategy`; on a failure, proptest
    /// shrinks the input and the test fails with the smallest one it found.
    pub fn check<S, F, Fut>(&self, strategy: S, property: F)
    where
        S: Strategy,
        S::Value: Debug,
        F: Fn(S::Value) -> Fut,
        Fut: Future<Output = Result<(), TestCaseError>>,
    {
        let mut config = Config {
            cases: std::env::var("PROPTEST_CASES")
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(CASES),
            failure_persistence: None,
            ..Config::default()
        };
        if config.rng_seed == RngSeed::Random {
            config.rng_seed = RngSeed::Fixed(SEED);
        }
        let mut runner = TestRunner::new(config);
        if let Err(error) = runner.run(&strategy, |value| self.block_on(property(value))) {
            panic!("{error}");
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        let stores = std::mem::take(&mut self.stores);
        self.system.block_on(async {
            for (_db, store) in stores {
                let _ = store.send(Shutdown).await;
            }
        });
    }
}

/// Sends `msg`; a store error fails the case (and lets proptest shrink it).
pub async fn req<M, T>(store: &Store, msg: M) -> Result<T, TestCaseError>
where
    M: actix::Message<Result = Result<T, StoreError>> + Send + 'static,
    T: Send + 'static,
    StoreActor: Handler<M>,
{
    let name = std::any::type_name::<M>();
    match store.send(msg).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(error)) => Err(TestCaseError::fail(format!("{name} failed: {error:?}"))),
        Err(error) => Err(TestCaseError::fail(format!("{name}: mailbox: {error}"))),
    }
}

/// A user key no other case uses.
pub fn unique_key(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("{prefix}{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

pub fn any_role() -> impl Strategy<Value = Role> {
    prop::sample::select(vec![Role::User, Role::Assistant, Role::System, Role::Tool])
}

pub async fn export(store: &Store, conversation_id: i64) -> Result<ExportDocument, TestCaseError> {
    req(store, ExportConversation { conversation_id }).await
}
