//! The requests that only read, each as its check and its query ([`ReadRequest`]), so
//! that the actor's handler and [`DirectReads`] answer them alike; and [`DirectReads`]
//! itself: those reads run on the caller's own thread.
//!
//! A caller in the same process (the Python module's embedded store) that sends a read
//! to the actor waits for two thread hops each way: to the actor's thread, then to a
//! blocking thread that runs the query, and back. On SQLite, where a read is one
//! blocking call on a reader connection, [`DirectReads`] runs the same query on the
//! caller's thread instead, on one of the same reader connections (waiting for one of
//! the same `pool_size` slots). The server backends' connections belong to the store's
//! runtime, so there the caller sends the request to the actor as before.
//!
//! A direct read sees every write the store has answered, as the actor's reads do: the
//! store answers a write after its commit, and each read starts a new read transaction.

use super::StoreSettings;
use super::requests::{
    GetActivePersona, GetConversation, GetConversationByUser, LoadContext, LoadHistory, TurnContext,
};
use crate::db::conn::DbConn;
use crate::db::{Backend, Db};
use crate::error::StoreError;
use crate::model::{Conversation, StoredMessage};

/// A query on one connection, answering `T`.
pub(crate) trait Query<T>:
    AsyncFnOnce(&mut DbConn<'_>) -> Result<T, StoreError> + Send + 'static
{
}

impl<T, F> Query<T> for F where
    F: AsyncFnOnce(&mut DbConn<'_>) -> Result<T, StoreError> + Send + 'static
{
}

/// A request that only reads: checked against the store's settings, it becomes the
/// query that answers it.
pub(crate) trait ReadRequest {
    /// What the request answers.
    type Output: Send + 'static;

    /// The query answering the request, or the error naming the field that is wrong.
    fn query(self, settings: &StoreSettings) -> Result<impl Query<Self::Output>, StoreError>;
}

/// The reads of one store on SQLite, run on the calling thread (which they block).
/// Cheap to clone; made by [`StoreActor::open_in_process`](super::StoreActor::open_in_process).
#[derive(Clone)]
pub struct DirectReads {
    db: Db,
    settings: StoreSettings,
}

impl DirectReads {
    /// The direct reads of `db`, if its backend allows them (SQLite).
    pub(crate) fn of(db: &Db, settings: &StoreSettings) -> Option<DirectReads> {
        (db.backend() == Backend::Sqlite).then(|| DirectReads {
            db: db.clone(),
            settings: settings.clone(),
        })
    }

    fn read<R: ReadRequest>(&self, request: R) -> Result<R::Output, StoreError> {
        let query = request.query(&self.settings)?;
        self.db.read_here(query)
    }

    /// Answers [`LoadHistory`] as the store does.
    pub fn load_history(&self, request: LoadHistory) -> Result<Vec<StoredMessage>, StoreError> {
        self.read(request)
    }

    /// Answers [`LoadContext`] as the store does.
    pub fn load_context(&self, request: LoadContext) -> Result<TurnContext, StoreError> {
        self.read(request)
    }

    /// Answers [`GetConversation`] as the store does.
    pub fn get_conversation(&self, request: GetConversation) -> Result<Conversation, StoreError> {
        self.read(request)
    }

    /// Answers [`GetConversationByUser`] as the store does.
    pub fn get_conversation_by_user(
        &self,
        request: GetConversationByUser,
    ) -> Result<Option<Conversation>, StoreError> {
        self.read(request)
    }

    /// Answers [`GetActivePersona`] as the store does.
    pub fn get_active_persona(
        &self,
        request: GetActivePersona,
    ) -> Result<Option<String>, StoreError> {
        self.read(request)
    }
}
