//! Group commit: saves that arrive while a commit runs wait in a queue, and the next
//! commit writes all of them in one transaction, with one counter update per
//! conversation. Each sender is answered only after the commit that holds its messages.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use tokio::sync::oneshot;

use super::answer::Replier;
use super::checked::CheckedMessage;
use super::requests::SavedMessage;
use crate::db::Db;
use crate::db::conn::DbConn;
use crate::db::conversation_table::{self, CounterDelta};
use crate::db::message_table;
use crate::db::rows::{MessageRow, NewMessageRow};
use crate::error::StoreError;
use crate::model::{Role, StoredMessage};

/// Most messages one commit takes from the queue; the rest wait for the next one.
const MAX_MESSAGES_PER_COMMIT: usize = 4_096;

/// The batch size whose sender the committing thread answers itself: a save alone, whose
/// caller waits for nothing else. A larger batch is answered from the actor's thread, so
/// that the database thread is not the one that wakes every sender.
const ANSWERED_BY_THE_COMMIT: usize = 1;

/// One caller's save: its checked messages (all of one conversation, all or nothing).
#[derive(Debug, Clone)]
pub struct WriteRequest {
    /// The conversation the messages go to.
    pub conversation_id: i64,
    /// The messages, in the caller's order.
    pub messages: Vec<CheckedMessage>,
}

/// Hands the answer to one [`WriteRequest`] to its sender.
pub type WriteReply = Replier<Vec<SavedMessage>>;

struct Pending {
    request: WriteRequest,
    reply: WriteReply,
}

/// The saves waiting for a commit, and whether a commit is running.
#[derive(Default)]
pub struct WriteQueue {
    pending: Vec<Pending>,
    flushing: bool,
}

impl WriteQueue {
    /// Queues a request; `reply` gets its answer after its commit.
    pub fn push(&mut self, request: WriteRequest, reply: WriteReply) {
        self.pending.push(Pending { request, reply });
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
            if take > 0 && messages + pending.request.messages.len() > MAX_MESSAGES_PER_COMMIT {
                break;
            }
            messages += pending.request.messages.len();
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
    /// Commits the batch and answers every sender. When a save alone commits, the thread
    /// that committed it answers it (on SQLite the database thread, so that the sender is
    /// not woken through the actor's thread too). If the batch as a whole fails for a
    /// reason other than an outage (say, a conversation deleted by another process in
    /// between), each request is retried alone, so one bad request fails only itself.
    /// A unique violation (another daemon saved the same idempotency key at the same
    /// moment) is retried too, also for a batch of one: the retry finds that save
    /// committed and answers it as a repeat. A conversation whose row another session
    /// holds does not stall the batch: its saves are written alone afterwards, waiting
    /// at most the lock timeout (then 503).
    pub async fn commit(self, db: Db) {
        let (requests, replies): (Vec<_>, Vec<_>) = self
            .0
            .into_iter()
            .map(|pending| (pending.request, pending.reply))
            .unzip();
        let requests = Arc::new(requests);
        let batch = requests.clone();
        // Dropped unsent once the sender is answered; otherwise it brings the batch back
        // here, to be answered from this thread or written again in parts.
        let (give_back, given_back) = oneshot::channel();
        db.write_tx_then(
            async move |conn: &mut DbConn<'_>| apply(conn, &batch).await,
            Box::new(move |result| match result {
                Ok(Applied { outcomes, deferred })
                    if deferred.is_empty() && replies.len() == ANSWERED_BY_THE_COMMIT =>
                {
                    answer_all(requests, outcomes, replies)
                }
                other => {
                    let _ = give_back.send((requests, replies, other));
                }
            }),
        );
        let Ok((requests, replies, result)) = given_back.await else {
            return;
        };
        let outcomes = match result {
            Ok(Applied {
                mut outcomes,
                deferred,
            }) => {
                // Conversations another session holds: each waits alone, at most the
                // lock timeout, after the rest of the batch committed.
                for r in deferred {
                    outcomes[r] = write_alone(&db, &requests[r]).await.map(|o| alone_at(r, o));
                }
                outcomes
            }
            Err(error @ StoreError::Unavailable(_)) => vec![Err(error); requests.len()],
            // A key another process saved meanwhile: alone, the request finds it stored.
            Err(StoreError::Conflict(_)) => write_each(&db, &requests).await,
            Err(_) if requests.len() > 1 => write_each(&db, &requests).await,
            Err(error) => vec![Err(error)],
        };
        answer_all(requests, outcomes, replies);
    }
}

/// Answers each sender of a batch, once the database is done with its requests: their
/// messages become the answers.
fn answer_all(
    requests: Arc<Vec<WriteRequest>>,
    outcomes: Vec<RequestOutcome>,
    replies: Vec<WriteReply>,
) {
    let requests = Arc::unwrap_or_clone(requests);
    for (reply, result) in replies.into_iter().zip(answers(requests, outcomes)) {
        reply(result);
    }
}

/// What became of one message of a batch.
#[derive(Debug, Clone)]
enum Outcome {
    /// Inserted under this id.
    Inserted(i64),
    /// An earlier save with its idempotency key is stored: that one is the answer.
    Stored(StoredMessage),
    /// Same key as the earlier message (request, position) of this batch: the answer is
    /// what that one became.
    SameAs(usize, usize),
}

/// What became of one request: its messages' outcomes, or why none was written.
type RequestOutcome = Result<Vec<Outcome>, StoreError>;

/// What a batch's transaction did: each request's outcome, and the requests it left
/// out because another session holds their conversation's row (their outcome is a
/// placeholder until they are written alone).
struct Applied {
    outcomes: Vec<RequestOutcome>,
    deferred: Vec<usize>,
}

async fn write_all(db: &Db, requests: Arc<Vec<WriteRequest>>) -> Result<Applied, StoreError> {
    db.write_tx(async move |conn: &mut DbConn<'_>| apply(conn, &requests).await)
        .await
}

async fn write_each(db: &Db, requests: &[WriteRequest]) -> Vec<RequestOutcome> {
    let mut outcomes = Vec::with_capacity(requests.len());
    for (index, request) in requests.iter().enumerate() {
        let outcome = write_alone(db, request).await;
        outcomes.push(outcome.map(|outcomes| alone_at(index, outcomes)));
    }
    outcomes
}

/// The outcomes of a request written alone, as request `index` of its batch: alone, a
/// request can only repeat itself.
fn alone_at(index: usize, outcomes: Vec<Outcome>) -> Vec<Outcome> {
    outcomes
        .into_iter()
        .map(|outcome| match outcome {
            Outcome::SameAs(_, m) => Outcome::SameAs(index, m),
            other => other,
        })
        .collect()
}

/// Most times a request written alone is tried while it meets unique violations (each
/// one means another process committed a key it repeats, which the next try finds).
const CONFLICT_TRIES: usize = 3;

/// Writes one request in a transaction of its own, trying again on a unique violation.
async fn write_alone(db: &Db, request: &WriteRequest) -> RequestOutcome {
    let mut tries = 0;
    loop {
        tries += 1;
        match write_all(db, Arc::new(vec![request.clone()])).await {
            Ok(Applied {
                outcomes: mut answer,
                ..
            }) => {
                return answer.pop().unwrap_or_else(|| {
                    Err(StoreError::Internal("a write produced no answer".into()))
                });
            }
            Err(StoreError::Conflict(_)) if tries < CONFLICT_TRIES => continue,
            Err(error) => return Err(error),
        }
    }
}

/// Turns each request and its outcome into the answer to its sender: the checked
/// messages, given the ids they were stored under, or the stored messages their keys
/// repeat.
fn answers(
    requests: Vec<WriteRequest>,
    outcomes: Vec<RequestOutcome>,
) -> Vec<Result<Vec<SavedMessage>, StoreError>> {
    let repeated: HashSet<(usize, usize)> = outcomes
        .iter()
        .flatten()
        .flatten()
        .filter_map(|outcome| match outcome {
            Outcome::SameAs(r, m) => Some((*r, *m)),
            _ => None,
        })
        .collect();
    let mut kept: HashMap<(usize, usize), StoredMessage> = HashMap::new();
    let mut answers = Vec::with_capacity(requests.len());
    for (r, (request, outcome)) in requests.into_iter().zip(outcomes).enumerate() {
        let answer = outcome.and_then(|outcomes| {
            let messages = request.messages.into_iter().zip(outcomes).enumerate();
            messages
                .map(|(m, (checked, outcome))| match outcome {
                    Outcome::Inserted(id) => {
                        let message = checked.stored(request.conversation_id, id);
                        if repeated.contains(&(r, m)) {
                            kept.insert((r, m), message.clone());
                        }
                        Ok(SavedMessage {
                            message,
                            created: true,
                        })
                    }
                    Outcome::Stored(message) => Ok(SavedMessage {
                        message,
                        created: false,
                    }),
                    Outcome::SameAs(r0, m0) => kept
                        .get(&(r0, m0))
                        .cloned()
                        .map(|message| SavedMessage {
                            message,
                            created: false,
                        })
                        .ok_or_else(|| {
                            StoreError::Internal("a repeated key has no first save".into())
                        }),
                })
                .collect()
        });
        answers.push(answer);
    }
    answers
}

/// Writes a batch inside the caller's transaction. Conversation rows are updated
/// (locked) before their messages are inserted, in id order, so that concurrent
/// clears, deletes and other daemons' batches see consistent counters and never
/// deadlock.
async fn apply(conn: &mut DbConn<'_>, requests: &[WriteRequest]) -> Result<Applied, StoreError> {
    let mut ids: Vec<i64> = requests.iter().map(|r| r.conversation_id).collect();
    ids.sort_unstable();
    ids.dedup();
    // A batch of several skips the rows other sessions hold (and looks again at those
    // it did not get: held, or gone); a request alone waits for its row. Both lock what
    // they get, and learn what the counters need of it.
    let ready: HashMap<i64, (i64, i64)> = if requests.len() > 1 {
        conversation_table::lock_unheld(conn, &ids).await?
    } else {
        conversation_table::lock_for_counters(conn, &ids).await?
    }
    .into_iter()
    .map(|(id, active_day, tokens)| (id, (active_day, tokens)))
    .collect();
    let missing: Vec<i64> = ids
        .iter()
        .copied()
        .filter(|id| !ready.contains_key(id))
        .collect();
    let held: HashSet<i64> = if missing.is_empty() || requests.len() == 1 {
        HashSet::new()
    } else {
        conversation_table::existing_ids(conn, &missing)
            .await?
            .into_iter()
            .collect()
    };
    let mut deferred = Vec::new();
    let stored = stored_by_key(conn, requests, &ids).await?;

    let mut seen: HashMap<(i64, &str), (usize, usize)> = HashMap::new();
    let mut deltas: BTreeMap<i64, CounterDelta> = BTreeMap::new();
    let mut outcomes: Vec<RequestOutcome> = Vec::with_capacity(requests.len());
    let mut rows: Vec<NewMessageRow> = Vec::new();
    let mut inserted_at: Vec<(usize, usize)> = Vec::new();
    for (r, request) in requests.iter().enumerate() {
        let conversation = request.conversation_id;
        if held.contains(&conversation) {
            deferred.push(r);
            outcomes.push(Ok(Vec::new()));
            continue;
        }
        let Some(&(active_day_before, total_tokens_before)) = ready.get(&conversation) else {
            outcomes.push(Err(StoreError::conversation_not_found(conversation)));
            continue;
        };
        let mut request_outcomes = Vec::with_capacity(request.messages.len());
        for (m, message) in request.messages.iter().enumerate() {
            if let Some(key) = message.idempotency_key.as_deref() {
                if let Some(message) = stored.get(&(conversation, key.to_string())) {
                    request_outcomes.push(Outcome::Stored(message.clone()));
                    continue;
                }
                if let Some(&(r0, m0)) = seen.get(&(conversation, key)) {
                    request_outcomes.push(Outcome::SameAs(r0, m0));
                    continue;
                }
                seen.insert((conversation, key), (r, m));
            }
            let row = message.row(conversation);
            let delta = deltas.entry(conversation).or_insert(CounterDelta {
                id: conversation,
                messages: 0,
                tokens: 0,
                user_messages: 0,
                last_activity: row.timestamp,
                active_day_before,
                total_tokens_before,
            });
            delta.messages += 1;
            delta.user_messages += i64::from(row.role == Role::User);
            delta.tokens += i64::from(row.tokens);
            delta.last_activity = delta.last_activity.max(row.timestamp);
            rows.push(row);
            inserted_at.push((r, m));
            // The id is filled in once the rows are inserted.
            request_outcomes.push(Outcome::Inserted(0));
        }
        outcomes.push(Ok(request_outcomes));
    }

    let deltas: Vec<CounterDelta> = deltas.into_values().collect();
    conversation_table::add_to_counters(conn, &deltas).await?;
    let ids = message_table::insert_returning_ids(conn, &rows).await?;
    for ((r, m), id) in inserted_at.into_iter().zip(ids) {
        if let Ok(request_outcomes) = &mut outcomes[r] {
            request_outcomes[m] = Outcome::Inserted(id);
        }
    }
    Ok(Applied { outcomes, deferred })
}

/// The stored messages whose (conversation, idempotency key) a message of the batch
/// repeats.
async fn stored_by_key(
    conn: &mut DbConn<'_>,
    requests: &[WriteRequest],
    ids: &[i64],
) -> Result<HashMap<(i64, String), StoredMessage>, StoreError> {
    let mut keys: Vec<String> = requests
        .iter()
        .flat_map(|r| r.messages.iter())
        .filter_map(|message| message.idempotency_key.clone())
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
            StoredMessage::try_from(row).map(|message| (key, message))
        })
        .collect()
}
