//! How the [`StoreActor`] answers each request: check the input, then run the operation
//! on a connection. Each handler reads as those two steps; the helpers here hold what
//! they share. Saves go through the group-commit queue instead of a connection.

mod conversations;
mod maintenance;
mod messages;
mod transfer;

use actix::prelude::*;

use super::StoreActor;
use super::operations;
use crate::db::conn::{Access, DbConn};
use crate::error::StoreError;
use crate::model::Conversation;

/// What a handler answers: a future of the operation's result.
type Answer<T> = ResponseFuture<Result<T, StoreError>>;

/// The answer of a handler: the check's error at once, or what `run` starts with the
/// checked input.
fn checked<C, T: 'static>(
    check: Result<C, StoreError>,
    run: impl FnOnce(C) -> Answer<T>,
) -> Answer<T> {
    match check {
        Ok(input) => run(input),
        Err(error) => Box::pin(std::future::ready(Err(error))),
    }
}

impl StoreActor {
    /// Runs `op`, which only reads, on a connection.
    fn read<T, F>(&self, op: F) -> Answer<T>
    where
        F: AsyncFnOnce(&mut DbConn<'_>) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        self.run(Access::Read, op)
    }

    /// Runs `op` on the writer connection (a transaction, if it needs one, is its own).
    fn write<T, F>(&self, op: F) -> Answer<T>
    where
        F: AsyncFnOnce(&mut DbConn<'_>) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        self.run(Access::Write, op)
    }

    /// Runs `op` on the writer connection, in one transaction.
    fn transaction<T, F>(&self, op: F) -> Answer<T>
    where
        F: AsyncFnOnce(&mut DbConn<'_>) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let db = self.db.clone();
        Box::pin(async move { db.write_tx(op).await })
    }

    /// Runs `update` on conversation `id` in one transaction and answers the
    /// conversation as it is then; `NotFound` when the update touched no row.
    fn update<F>(&self, id: i64, update: F) -> Answer<Conversation>
    where
        F: AsyncFnOnce(&mut DbConn<'_>) -> diesel::QueryResult<usize> + Send + 'static,
    {
        self.transaction(async move |c: &mut DbConn<'_>| {
            let rows = update(c).await?;
            operations::updated(c, id, rows).await
        })
    }
}
