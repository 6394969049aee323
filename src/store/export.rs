//! Streamed export: export documents written a page of messages at a time, byte for
//! byte what serializing the whole [`ExportDocument`](crate::transfer::ExportDocument)
//! writes, so that an export over HTTP, the command line's and a cleanup's archive hold
//! one page of messages at a time, whatever the length of the conversation.
//!
//! A streamed export runs on one connection, outside the store's actor: a task reads the
//! pages and passes the bytes, in chunks, through a channel of [`CHANNEL_CHUNKS`] to the
//! [`ExportStream`] its caller reads; a caller that reads slowly holds the task back
//! (the channel is full), so nothing piles up.

use std::pin::Pin;
use std::task::{Context, Poll};

use serde::Serialize;
use tokio::sync::mpsc;

use super::requests::ExportScope;
use crate::db::conn::{Access, DbConn};
use crate::db::rows::ConversationRow;
use crate::db::{Db, conversation_table, message_table};
use crate::error::StoreError;
use crate::model::{Conversation, StoredMessage};
use crate::transfer::{ExportedMessage, FORMAT};

/// Most content bytes a page of messages may hold at the configured largest content:
/// the page holds `EXPORT_PAGE_BYTES / limits.max_content_bytes` messages (1 to
/// [`MAX_PAGE_MESSAGES`]).
pub const EXPORT_PAGE_BYTES: usize = 64 << 20;
/// Most messages read per page.
const MAX_PAGE_MESSAGES: i64 = 1_000;
/// Conversations read per snapshot by an export of everything (each document is read
/// on one snapshot, and so are its neighbours of the same page).
const CONVERSATIONS_PER_SNAPSHOT: i64 = 50;
/// Bytes gathered before a chunk is passed on through the channel.
const CHUNK_BYTES: usize = 64 << 10;
/// Chunks the channel holds while its reader is slower than the database.
const CHANNEL_CHUNKS: usize = 4;

/// How an export reads and what it refuses.
#[derive(Debug, Clone, Copy)]
pub struct ExportLimits {
    /// Messages read per query.
    pub messages_per_page: i64,
    /// Largest document written (without its line end); a larger one is refused, since
    /// import would not read it back. `usize::MAX`: no limit.
    pub max_document_bytes: usize,
}

impl ExportLimits {
    /// The limits of a store whose contents are at most `max_content_bytes` a message,
    /// refusing documents over `max_document_bytes`.
    pub fn new(max_content_bytes: usize, max_document_bytes: usize) -> Self {
        let per_page = (EXPORT_PAGE_BYTES / max_content_bytes.max(1)) as i64;
        ExportLimits {
            messages_per_page: per_page.clamp(1, MAX_PAGE_MESSAGES),
            max_document_bytes,
        }
    }
}

/// Where the bytes of an export go.
pub(crate) trait Sink {
    /// The bytes written and not yet passed on; a document is appended here.
    fn pending(&mut self) -> &mut Vec<u8>;

    /// Passes on the pending bytes (or, when `last` is false, may keep a small amount
    /// to pass on with what follows).
    async fn pass(&mut self, last: bool) -> Result<(), StoreError>;
}

/// Appends the export document of `row`'s conversation to `sink`, reading its messages
/// a page at a time and passing each page on. Run it inside a snapshot, so that the
/// record and its messages agree. A document larger than the limit is refused (an
/// invalid `limits.max_line_bytes`) before its bytes past the limit are passed on.
pub(crate) async fn write_document(
    conn: &mut DbConn<'_>,
    row: ConversationRow,
    limits: ExportLimits,
    sink: &mut impl Sink,
) -> Result<(), StoreError> {
    let id = row.id;
    let mut size = Size {
        conversation: id,
        bytes: 0,
        limit: limits.max_document_bytes,
    };
    size.append(sink.pending(), |out| {
        out.extend_from_slice(b"{\"format\":");
        encode(out, FORMAT)?;
        out.extend_from_slice(b",\"conversation\":");
        encode(out, &Conversation::from(row))?;
        out.extend_from_slice(b",\"messages\":[");
        Ok(())
    })?;
    let mut after = 0;
    let mut first = true;
    loop {
        let page = message_table::page(conn, id, after, limits.messages_per_page).await?;
        let full = page.len() as i64 == limits.messages_per_page;
        size.append(sink.pending(), |out| {
            for row in page {
                after = row.id;
                if !std::mem::take(&mut first) {
                    out.push(b',');
                }
                encode(out, &ExportedMessage::from(StoredMessage::try_from(row)?))?;
            }
            if !full {
                out.extend_from_slice(b"]}");
            }
            Ok(())
        })?;
        sink.pass(false).await?;
        if !full {
            return Ok(());
        }
    }
}

/// The size of a document being written, against its limit.
struct Size {
    conversation: i64,
    bytes: usize,
    limit: usize,
}

impl Size {
    /// Runs `write` on `out` and counts what it appended; refuses the document when it
    /// passes the limit.
    fn append(
        &mut self,
        out: &mut Vec<u8>,
        write: impl FnOnce(&mut Vec<u8>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let before = out.len();
        write(out)?;
        self.bytes += out.len() - before;
        if self.bytes > self.limit {
            return Err(StoreError::invalid(
                "limits.max_line_bytes",
                format!(
                    "the export document of conversation {} is larger than {} bytes, the \
                     largest document import reads; raise limits.max_line_bytes to export it",
                    self.conversation, self.limit
                ),
            ));
        }
        Ok(())
    }
}

fn encode(out: &mut Vec<u8>, value: &(impl Serialize + ?Sized)) -> Result<(), StoreError> {
    serde_json::to_writer(out, value)
        .map_err(|e| StoreError::Internal(format!("cannot encode an export document: {e}")))
}

/// The bytes of a streamed export, in chunks, and an error in place of the rest if the
/// export fails part way (the first item is the error when it fails before any byte).
#[derive(Debug)]
pub struct ExportStream {
    chunks: mpsc::Receiver<Result<Vec<u8>, StoreError>>,
}

impl ExportStream {
    /// The next chunk; `None` once the export is complete.
    pub async fn next_chunk(&mut self) -> Option<Result<Vec<u8>, StoreError>> {
        self.chunks.recv().await
    }
}

impl futures_util::Stream for ExportStream {
    type Item = Result<Vec<u8>, StoreError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.chunks.poll_recv(cx)
    }
}

/// Starts the export of `scope` on a task of its own (on the current arbiter) and
/// answers the stream of its bytes.
pub fn start(db: Db, scope: ExportScope, limits: ExportLimits) -> ExportStream {
    let (sender, chunks) = mpsc::channel(CHANNEL_CHUNKS);
    actix::spawn(async move {
        let errors = sender.clone();
        let exported = db
            .run(Access::Read, async move |c: &mut DbConn<'_>| {
                let mut sink = ChannelSink {
                    pending: Vec::new(),
                    sender,
                };
                export(c, scope, limits, &mut sink).await?;
                sink.pass(true).await
            })
            .await;
        if let Err(error) = exported {
            // Nobody to tell when the reader is gone.
            let _ = errors.send(Err(error)).await;
        }
    });
    ExportStream { chunks }
}

/// Writes the documents of `scope` to `sink`: one bare document, or every
/// conversation's by id, one a line.
async fn export(
    conn: &mut DbConn<'_>,
    scope: ExportScope,
    limits: ExportLimits,
    sink: &mut impl Sink,
) -> Result<(), StoreError> {
    match scope {
        ExportScope::Conversation(id) => {
            conn.read_snapshot(async |c: &mut DbConn<'_>| {
                let row = conversation_table::find(c, id)
                    .await?
                    .ok_or_else(|| StoreError::conversation_not_found(id))?;
                write_document(c, row, limits, sink).await
            })
            .await
        }
        ExportScope::All => {
            let mut after_id = 0;
            loop {
                let read = conn
                    .read_snapshot(async |c: &mut DbConn<'_>| {
                        let rows =
                            conversation_table::page_by_id(c, after_id, CONVERSATIONS_PER_SNAPSHOT)
                                .await?;
                        let read = rows.len() as i64;
                        for row in rows {
                            after_id = row.id;
                            write_document(c, row, limits, sink).await?;
                            sink.pending().push(b'\n');
                        }
                        Ok(read)
                    })
                    .await?;
                if read < CONVERSATIONS_PER_SNAPSHOT {
                    return Ok(());
                }
            }
        }
    }
}

/// Passes the bytes on through the channel, [`CHUNK_BYTES`] or more at a time.
struct ChannelSink {
    pending: Vec<u8>,
    sender: mpsc::Sender<Result<Vec<u8>, StoreError>>,
}

impl Sink for ChannelSink {
    fn pending(&mut self) -> &mut Vec<u8> {
        &mut self.pending
    }

    async fn pass(&mut self, last: bool) -> Result<(), StoreError> {
        if self.pending.is_empty() || (!last && self.pending.len() < CHUNK_BYTES) {
            return Ok(());
        }
        let chunk = std::mem::take(&mut self.pending);
        self.sender
            .send(Ok(chunk))
            .await
            .map_err(|_| StoreError::Internal("the export's reader went away".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_hold_a_bounded_amount_of_content() {
        assert_eq!(ExportLimits::new(1 << 20, 0).messages_per_page, 64);
        assert_eq!(ExportLimits::new(1, 0).messages_per_page, 1_000);
        assert_eq!(ExportLimits::new(1 << 30, 0).messages_per_page, 1);
        assert_eq!(ExportLimits::new(64 << 10, 0).messages_per_page, 1_000);
    }
}
