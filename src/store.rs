//! The [`StoreActor`]: the one owner of the database. Every operation is a typed request
//! (see [`requests`]); callers in process, the HTTP API, the CLI and the scheduler all
//! send the same requests.

mod answer;
mod archive;
mod checked;
mod context;
mod cursor;
mod editing;
mod export;
mod handlers;
mod history;
pub mod import;
mod operations;
mod reads;
pub mod requests;
pub mod validate;
mod writes;

use actix::prelude::*;

use crate::db::conn::{Access, DbConn};
use crate::db::{Db, DbSettings};
use crate::error::StoreError;
use answer::Answer;
pub use checked::{CheckedCheckpoint, CheckedMessage};
pub use export::{EXPORT_PAGE_BYTES, ExportStream};
pub use history::{MAX_WINDOW_BYTES, MAX_WINDOW_MESSAGES};
pub use reads::DirectReads;
use reads::ReadRequest;
use writes::{WriteQueue, WriteReply, WriteRequest};

/// Messages that may wait in the store's mailbox before senders are held back. Saves
/// wait there while a commit runs; a deep mailbox is what lets them be batched.
const MAILBOX_CAPACITY: usize = 1 << 16;

/// How the store behaves, beyond where its database is. The defaults are the
/// configuration's (`StoreSettings::default()` is `Config::default().store_settings()`).
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// Largest message content (and summary), in bytes.
    pub max_content_bytes: usize,
    /// The history window when a `LoadHistory` names none: this many turns.
    pub max_history_turns: i64,
    /// Folder where a cleanup first writes (and fsyncs) every conversation it is about
    /// to delete, one NDJSON file a day; `None`: no archive.
    pub archive_dir: Option<std::path::PathBuf>,
    /// Largest export document, in bytes (`limits.max_line_bytes`, the largest line an
    /// import reads): an export refuses a larger one, so that every export imports back.
    pub max_document_bytes: usize,
}

/// The conversation store. Start it with [`StoreActor::open`] and send it the requests
/// of [`requests`].
///
/// ```no_run
/// use convstore::config::Config;
/// use convstore::store::requests::{
///     GetOrCreate, HistoryWindow, LoadHistory, NewMessage, SaveMessage,
/// };
/// use convstore::{Role, StoreActor};
///
/// #[actix::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     // SQLite in data/conversations.db; set `db_url` for "postgres://...", "mysql://...".
///     let config = Config::default();
///     let store = StoreActor::open(config.db_settings()?, config.store_settings()).await?;
///     let conversation = store
///         .send(GetOrCreate {
///             user_key: "feishu:group:user123".into(),
///             platform: "feishu".into(),
///             chat_id: Some("chat456".into()),
///         })
///         .await??
///         .conversation;
///     store
///         .send(SaveMessage {
///             conversation_id: conversation.id,
///             message: NewMessage::new(Role::User, "Hello, how are you?").tokens(15),
///         })
///         .await??;
///     let window = HistoryWindow { max_turns: Some(10), ..Default::default() };
///     let history = store
///         .send(LoadHistory { conversation_id: conversation.id, window })
///         .await??;
///     assert_eq!(history.len(), 1);
///     Ok(())
/// }
/// ```
pub struct StoreActor {
    db: Db,
    settings: StoreSettings,
    writes: WriteQueue,
    stop_requested: bool,
}

impl StoreActor {
    /// Opens the database (migrating it) and starts the actor on the current arbiter.
    pub async fn open(
        db: DbSettings,
        settings: StoreSettings,
    ) -> Result<Addr<StoreActor>, StoreError> {
        let db = Db::open(db).await?;
        Ok(StoreActor::new(db, settings).start())
    }

    /// Opens the database like [`StoreActor::open`], and also answers the reads a caller
    /// in this process may run on its own thread (on SQLite; `None` on the servers).
    pub async fn open_in_process(
        db: DbSettings,
        settings: StoreSettings,
    ) -> Result<(Addr<StoreActor>, Option<DirectReads>), StoreError> {
        let db = Db::open(db).await?;
        let reads = DirectReads::of(&db, &settings);
        Ok((StoreActor::new(db, settings).start(), reads))
    }

    /// Opens the database like [`StoreActor::open`], but a server that cannot be reached
    /// now does not fail the call: the store answers `Unavailable` until the connection
    /// and the migrations, retried in the background, succeed (see
    /// [`Db::open_retrying`]). The daemon starts this way.
    pub async fn open_retrying(
        db: DbSettings,
        settings: StoreSettings,
    ) -> Result<Addr<StoreActor>, StoreError> {
        let db = Db::open_retrying(db).await?;
        Ok(StoreActor::new(db, settings).start())
    }

    /// An actor over an already opened database.
    pub fn new(db: Db, settings: StoreSettings) -> StoreActor {
        StoreActor {
            db,
            settings,
            writes: WriteQueue::default(),
            stop_requested: false,
        }
    }

    /// How this store's exports read and what they refuse.
    fn export_limits(&self) -> export::ExportLimits {
        export::ExportLimits::new(
            self.settings.max_content_bytes,
            self.settings.max_document_bytes,
        )
    }

    /// Where and how cleanups archive, if they do.
    fn archive(&self) -> Option<archive::Archive> {
        let dir = self.settings.archive_dir.clone()?;
        Some(archive::Archive {
            dir,
            limits: export::ExportLimits {
                max_document_bytes: usize::MAX,
                ..self.export_limits()
            },
        })
    }

    /// Runs `op` with a connection, as the answer to a message: the thread that runs it
    /// answers the sender (see [`Answer`]).
    fn run<T, F>(&self, access: Access, op: F) -> Answer<T>
    where
        F: AsyncFnOnce(&mut DbConn<'_>) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let db = self.db.clone();
        Answer::started(move |reply| db.run_then(access, op, reply))
    }

    /// Queues checked messages for the next group commit, whose thread hands their
    /// answer to `reply`, and starts one if none runs.
    fn enqueue(&mut self, request: WriteRequest, reply: WriteReply, ctx: &mut Context<Self>) {
        self.writes.push(request, reply);
        self.flush(ctx);
    }

    /// Commits the next batch, if saves wait and no commit runs; when it is done, looks
    /// for the next. The batch is taken one scheduler turn later, so that the senders
    /// the last commit woke up get to queue their next saves into it.
    fn flush(&mut self, ctx: &mut Context<Self>) {
        if !self.writes.begin_flush() {
            return;
        }
        let db = self.db.clone();
        let commit = tokio::task::yield_now()
            .into_actor(self)
            .then(move |(), actor, _| actor.writes.take_batch().commit(db).into_actor(actor))
            .map(|(), actor, ctx| {
                actor.writes.flushed();
                actor.flush(ctx);
                if actor.stop_requested && actor.writes.is_idle() {
                    ctx.stop();
                }
            });
        ctx.spawn(commit);
    }
}

impl Actor for StoreActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
    }

    /// Keeps the actor alive until every queued save is committed and answered.
    fn stopping(&mut self, _ctx: &mut Self::Context) -> Running {
        if self.writes.is_idle() {
            Running::Stop
        } else {
            self.stop_requested = true;
            Running::Continue
        }
    }
}
