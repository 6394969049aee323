//! Group commit: saves that arrive while a commit runs wait in a queue, and the next
//! commit writes all of them in one transaction, with one counter update per
//! conversation. Each sender is answered only after the commit that holds its messages.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tokio::sync::oneshot;

use crate::db::Db;
use crate::db::conn::DbConn;
use crate::db::conversation_table::{self, CounterDelta};
use crate::db::message_table;
use crate::db::rows::{MessageRow, NewMessageRow};
use crate::error::StoreError;
use crate::model::Message;
use crate::store::messages::SavedMessage;

/// Most messages one commit takes from the queue; the rest wait for the next one.
const MAX_MESSAGES_PER_COMMIT: usize = 4_096;

/// One caller's save: its validated rows (all of one conversation, all or nothing).
pub struct WriteRequest {
    /// The conversation the rows go to.
    pub conversation_id: i64,
    /// The rows, in the caller's order.
    pub rows: Vec<NewMessageRow>,
}

/// The answer to one [`WriteRequest`].
pub type WriteResult = Result<Vec<SavedMessage>, StoreError>;

struct Pending {
    request: WriteRequest,
    reply: oneshot::Sender<WriteResult>,
}

/// The saves waiting for a commit, and whether a commit is running.
#[derive(Default)]
pub struct WriteQueue {
    pending: Vec<Pending>,
    flushing: bool,
}

impl WriteQueue {
    /// Queues a request; the receiver gets its answer after its commit.
    pub fn push(&mut self, request: WriteRequest) -> oneshot::Receiver<WriteResult> {
        let (reply, answer) = oneshot::channel();
        self.pending.push(Pending { request, reply });
        answer
    }

    /// Marks a commit as running, if none runs and saves wait; `false` otherwise. The
    /// queue stays marked until [`WriteQueue::flushed`].
    pub fn begin_flush(&mut self) -> bool {
        if self.flushing || self.pending.is_empty() {
            return false;
        }
        self.flushing = true;
        true
    }

    /// The saves of the running commit: those queued now, up to
    /// `MAX_MESSAGES_PER_COMMIT` messages (at least one request).
    pub fn take_batch(&mut self) -> Batch {
        let mut messages = 0;
        let mut take = 0;
        for pending in &self.pending {
            if take > 0 && messages + pending.request.rows.len() > MAX_MESSAGES_PER_COMMIT {
                break;
            }
            messages += pending.request.rows.len();
            take += 1;
        }
        Batch(self.pending.drain(..take).collect())
    }

    /// Records that the running commit finished.
    pub fn flushed(&mut self) {
        self.flushing = false;
    }

    /// Whether saves wait or a commit runs.
    pub fn is_idle(&self) -> bool {
        !self.flushing && self.pending.is_empty()
    }
}

/// Saves taken from the queue for one commit.
pub struct Batch(Vec<Pending>);

impl Batch {
    /// Commits the batch and answers every sender. If the batch as a whole fails for a
    /// reason other than an outage (say, a conversation deleted by another process in
    /// between), each request is retried alone, so one bad request fails only itself.
    pub async fn commit(self, db: Db) {
        let (requests, replies): (Vec<_>, Vec<_>) = self
            .0
            .into_iter()
            .map(|pending| (pending.request, pending.reply))
            .unzip();
        let requests = Arc::new(requests);
        let results = match write_all(&db, requests.clone()).await {
            Ok(results) => results,
            Err(error @ StoreError::Unavailable(_)) => vec![Err(error); requests.len()],
            Err(_) if requests.len() > 1 => write_each(&db, &requests).await,
            Err(error) => vec![Err(error)],
        };
        for (reply, result) in replies.into_iter().zip(results) {
            // A sender that gave up waiting is no reason to fail the others.
            let _ = reply.send(result);
        }
    }
}

async fn write_each(db: &Db, requests: &Arc<Vec<WriteRequest>>) -> Vec<WriteResult> {
    let mut results = Vec::with_capacity(requests.len());
    for index in 0..requests.len() {
        let single = Arc::new(vec![WriteRequest {
            conversation_id: requests[index].conversation_id,
            rows: requests[index].rows.clone(),
        }]);
        let result = match write_all(db, single).await {
            Ok(mut answer) => answer
                .pop()
                .unwrap_or_else(|| Err(StoreError::Internal("a write produced no answer".into()))),
            Err(error) => Err(error),
        };
        results.push(result);
    }
    results
}

async fn write_all(
    db: &Db,
    requests: Arc<Vec<WriteRequest>>,
) -> Result<Vec<WriteResult>, StoreError> {
    db.write_tx(async move |conn: &mut DbConn<'_>| apply(conn, &requests).await)
        .await
}

/// Where a row of the batch ends up.
enum Fate {
    /// Its conversation does not exist.
    Missing,
    /// An earlier save with its idempotency key is stored: return that one.
    Stored(Message),
    /// Same key as an earlier row of this batch: return what that row becomes.
    SameAs(usize, usize),
    /// To insert.
    Insert,
}

/// Writes a batch inside the caller's transaction. Conversation rows are updated
/// (locked) before their messages are inserted, in id order, so that concurrent
/// clears, deletes and other daemons' batches see consistent counters and never
/// deadlock.
async fn apply(
    conn: &mut DbConn<'_>,
    requests: &[WriteRequest],
) -> Result<Vec<WriteResult>, StoreError> {
    let mut ids: Vec<i64> = requests.iter().map(|r| r.conversation_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let existing: std::collections::HashSet<i64> = conversation_table::existing_ids(conn, &ids)
        .await?
        .into_iter()
        .collect();
    let stored = stored_by_key(conn, requests, &ids).await?;

    let mut seen: HashMap<(i64, &str), (usize, usize)> = HashMap::new();
    let mut deltas: BTreeMap<i64, CounterDelta> = BTreeMap::new();
    let mut fates: Vec<Vec<Fate>> = Vec::with_capacity(requests.len());
    let mut to_insert: Vec<(usize, usize)> = Vec::new();
    for (r, request) in requests.iter().enumerate() {
        if !existing.contains(&request.conversation_id) {
            fates.push(vec![Fate::Missing]);
            continue;
        }
        let mut request_fates = Vec::with_capacity(request.rows.len());
        for (m, row) in request.rows.iter().enumerate() {
            let fate = match row.idempotency_key.as_deref() {
                Some(key) => {
                    let pair = (row.conversation_id, key);
                    if let Some(message) = stored.get(&(row.conversation_id, key.to_string())) {
                        Fate::Stored(message.clone())
                    } else if let Some(&(r0, m0)) = seen.get(&pair) {
                        Fate::SameAs(r0, m0)
                    } else {
                        seen.insert(pair, (r, m));
                        Fate::Insert
                    }
                }
                None => Fate::Insert,
            };
            if matches!(fate, Fate::Insert) {
                let delta = deltas.entry(row.conversation_id).or_insert(CounterDelta {
                    id: row.conversation_id,
                    messages: 0,
                    tokens: 0,
                    last_activity: row.timestamp,
                });
                delta.messages += 1;
                delta.tokens += i64::from(row.tokens);
                delta.last_activity = delta.last_activity.max(row.timestamp);
                to_insert.push((r, m));
            }
            request_fates.push(fate);
        }
        fates.push(request_fates);
    }

    let deltas: Vec<CounterDelta> = deltas.into_values().collect();
    conversation_table::add_to_counters(conn, &deltas).await?;

    let rows: Vec<NewMessageRow> = to_insert
        .iter()
        .map(|&(r, m)| requests[r].rows[m].clone())
        .collect();
    let ids = message_table::insert_returning_ids(conn, &rows).await?;
    let mut inserted: HashMap<(usize, usize), Message> = HashMap::with_capacity(ids.len());
    for ((position, row), id) in to_insert.into_iter().zip(&rows).zip(ids) {
        inserted.insert(position, row.stored(id)?);
    }

    let results = fates
        .into_iter()
        .enumerate()
        .map(|(r, request_fates)| {
            request_fates
                .into_iter()
                .enumerate()
                .map(|(m, fate)| match fate {
                    Fate::Missing => Err(StoreError::conversation_not_found(
                        requests[r].conversation_id,
                    )),
                    Fate::Stored(message) => Ok(SavedMessage {
                        message,
                        created: false,
                    }),
                    Fate::SameAs(r0, m0) => Ok(SavedMessage {
                        message: inserted[&(r0, m0)].clone(),
                        created: false,
                    }),
                    Fate::Insert => Ok(SavedMessage {
                        message: inserted[&(r, m)].clone(),
                        created: true,
                    }),
                })
                .collect()
        })
        .collect();
    Ok(results)
}

/// The stored messages whose (conversation, idempotency key) a row of the batch repeats.
async fn stored_by_key(
    conn: &mut DbConn<'_>,
    requests: &[WriteRequest],
    ids: &[i64],
) -> Result<HashMap<(i64, String), Message>, StoreError> {
    let mut keys: Vec<String> = requests
        .iter()
        .flat_map(|r| r.rows.iter())
        .filter_map(|row| row.idempotency_key.clone())
        .collect();
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    keys.sort_unstable();
    keys.dedup();
    let rows: Vec<MessageRow> = message_table::with_keys(conn, ids, &keys).await?;
    rows.into_iter()
        .map(|row| {
            let key = (
                row.conversation_id,
                row.idempotency_key.clone().unwrap_or_default(),
            );
            Message::try_from(row).map(|message| (key, message))
        })
        .collect()
}
