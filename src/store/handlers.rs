//! How the [`StoreActor`] answers each request: check the input, then run the operation
//! on a connection. Each handler reads as those two steps; the helpers here hold what
//! they share. Saves go through the group-commit queue instead of a connection.

mod conversations;
mod editing;
mod maintenance;
mod messages;
mod transfer;

use chrono::NaiveDateTime;

use super::{ReadRequest, StoreActor, operations, validate};
use crate::db::conn::{Access, DbConn};
use crate::error::StoreError;
use crate::model::{Conversation, now};

pub(super) use super::answer::{Answer, PendingReply};

/// The answer of a handler: the check's error at once, or what `run` starts with the
/// checked input.
fn checked<C, T: 'static>(
    check: Result<C, StoreError>,
    run: impl FnOnce(C) -> Answer<T>,
) -> Answer<T> {
    match check {
        Ok(input) => run(input),
        Err(error) => Answer::ready(Err(error)),
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

    /// Answers a request that only reads: the error of its check, or its query run on a
    /// reader connection.
    fn answer_read<R: ReadRequest>(&self, request: R) -> Answer<R::Output> {
        checked(request.query(&self.settings), |query| self.read(query))
    }

    /// Runs `op` on the writer connection, in one transaction.
    fn transaction<T, F>(&self, op: F) -> Answer<T>
    where
        F: AsyncFnOnce(&mut DbConn<'_>) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let db = self.db.clone();
        Answer::future(async move { db.write_tx(op).await })
    }

    /// Checks `conversation_id`, then answers the error of `check` (the new value's) or
    /// runs `update` on the conversation in one transaction, with the time of the change,
    /// and answers the conversation as it is then; `NotFound` when the update touched no
    /// row.
    fn update<F>(
        &self,
        conversation_id: i64,
        check: Result<(), StoreError>,
        update: F,
    ) -> Answer<Conversation>
    where
        F: AsyncFnOnce(&mut DbConn<'_>, i64, NaiveDateTime) -> diesel::QueryResult<usize>
            + Send
            + 'static,
    {
        let check = validate::conversation_id(conversation_id).and_then(|id| check.map(|()| id));
        let now = now().naive_utc();
        checked(check, |id| {
            self.transaction(async move |c: &mut DbConn<'_>| {
                let rows = update(c, id, now).await?;
                operations::updated(c, id, rows).await
            })
        })
    }
}
