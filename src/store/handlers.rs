//! How the [`StoreActor`] answers each message: check the input, then run the operation
//! on a connection. Saves go through the group-commit queue instead.

use std::time::Instant;

use actix::prelude::*;

use super::StoreActor;
use super::history::{self, Window};
use super::messages::*;
use super::operations;
use super::validate;
use super::writes::WriteRequest;
use crate::db::conn::{Access, DbConn};
use crate::db::conversation_table;
use crate::db::maintenance;
use crate::db::rows::NewMessageRow;
use crate::error::StoreError;
use crate::model::{BudgetStatus, Conversation, Message, Stats, now};
use crate::transfer::{self, ExportDocument};

type Answer<T> = ResponseFuture<Result<T, StoreError>>;

fn reject<T: 'static>(error: StoreError) -> Answer<T> {
    Box::pin(std::future::ready(Err(error)))
}

impl Handler<GetOrCreate> for StoreActor {
    type Result = Answer<Obtained>;

    fn handle(&mut self, msg: GetOrCreate, _: &mut Self::Context) -> Self::Result {
        let checked = validate::user_key(&msg.user_key)
            .and_then(|_| validate::platform(&msg.platform))
            .and_then(|_| validate::optional_identifier("chat_id", msg.chat_id.as_deref()));
        if let Err(error) = checked {
            return reject(error);
        }
        let now = now().naive_utc();
        self.run(Access::Write, async move |c: &mut DbConn<'_>| {
            operations::get_or_create(c, &msg.user_key, &msg.platform, msg.chat_id.as_deref(), now)
                .await
        })
    }
}

impl Handler<GetConversation> for StoreActor {
    type Result = Answer<Conversation>;

    fn handle(&mut self, msg: GetConversation, _: &mut Self::Context) -> Self::Result {
        let id = match validate::conversation_id(msg.conversation_id) {
            Ok(id) => id,
            Err(error) => return reject(error),
        };
        self.run(Access::Read, async move |c: &mut DbConn<'_>| {
            operations::conversation(c, id).await
        })
    }
}

impl Handler<GetConversationByUser> for StoreActor {
    type Result = Answer<Option<Conversation>>;

    fn handle(&mut self, msg: GetConversationByUser, _: &mut Self::Context) -> Self::Result {
        if let Err(error) = validate::user_key(&msg.user_key) {
            return reject(error);
        }
        self.run(Access::Read, async move |c: &mut DbConn<'_>| {
            Ok(conversation_table::find_by_user(c, &msg.user_key)
                .await?
                .map(Conversation::from))
        })
    }
}

impl Handler<ListConversations> for StoreActor {
    type Result = Answer<ConversationPage>;

    fn handle(&mut self, msg: ListConversations, _: &mut Self::Context) -> Self::Result {
        let checked =
            validate::optional_range("limit", msg.limit, validate::MAX_PAGE).and_then(|limit| {
                msg.after_id
                    .map(|id| validate::positive("after_id", id))
                    .transpose()?;
                Ok(limit.unwrap_or(50))
            });
        let limit = match checked {
            Ok(limit) => limit,
            Err(error) => return reject(error),
        };
        self.run(Access::Read, async move |c: &mut DbConn<'_>| {
            let after = match msg.after_id {
                Some(id) => {
                    let row = conversation_table::find(c, id).await?.ok_or_else(|| {
                        StoreError::invalid("after_id", format!("conversation {id} does not exist"))
                    })?;
                    Some((row.last_activity, row.id))
                }
                None => None,
            };
            let filter = conversation_table::ListFilter {
                user_key: msg.user_key,
                platform: msg.platform,
                after,
            };
            let rows = conversation_table::list(c, &filter, limit + 1).await?;
            let more = rows.len() as i64 > limit;
            let conversations: Vec<Conversation> = rows
                .into_iter()
                .take(limit as usize)
                .map(Conversation::from)
                .collect();
            let next_after_id = more.then(|| conversations.last().map(|c| c.id)).flatten();
            Ok(ConversationPage {
                conversations,
                next_after_id,
            })
        })
    }
}

impl StoreActor {
    /// Checks `messages` for `conversation_id` and stamps them with the time of arrival.
    fn rows(
        &self,
        conversation_id: i64,
        messages: &[NewMessage],
        in_batch: bool,
    ) -> Result<Vec<NewMessageRow>, StoreError> {
        validate::conversation_id(conversation_id)?;
        let now = now().naive_utc();
        messages
            .iter()
            .enumerate()
            .map(|(index, message)| {
                let prefix = if in_batch {
                    format!("messages[{index}].")
                } else {
                    String::new()
                };
                validate::new_message(
                    &prefix,
                    conversation_id,
                    message,
                    self.settings.max_content_bytes,
                    now,
                )
            })
            .collect()
    }
}

impl Handler<SaveMessage> for StoreActor {
    type Result = Answer<SavedMessage>;

    fn handle(&mut self, msg: SaveMessage, ctx: &mut Self::Context) -> Self::Result {
        let rows = match self.rows(
            msg.conversation_id,
            std::slice::from_ref(&msg.message),
            false,
        ) {
            Ok(rows) => rows,
            Err(error) => return reject(error),
        };
        let answer = self.enqueue(
            WriteRequest {
                conversation_id: msg.conversation_id,
                rows,
            },
            ctx,
        );
        Box::pin(async move {
            answer
                .await?
                .pop()
                .ok_or_else(|| StoreError::Internal("a save produced no message".into()))
        })
    }
}

impl Handler<SaveMessages> for StoreActor {
    type Result = Answer<Vec<SavedMessage>>;

    fn handle(&mut self, msg: SaveMessages, ctx: &mut Self::Context) -> Self::Result {
        if msg.messages.is_empty() || msg.messages.len() > validate::MAX_BATCH_MESSAGES {
            return reject(StoreError::invalid(
                "messages",
                format!("must hold 1 to {} messages", validate::MAX_BATCH_MESSAGES),
            ));
        }
        let rows = match self.rows(msg.conversation_id, &msg.messages, true) {
            Ok(rows) => rows,
            Err(error) => return reject(error),
        };
        Box::pin(self.enqueue(
            WriteRequest {
                conversation_id: msg.conversation_id,
                rows,
            },
            ctx,
        ))
    }
}

impl Handler<LoadHistory> for StoreActor {
    type Result = Answer<Vec<Message>>;

    fn handle(&mut self, msg: LoadHistory, _: &mut Self::Context) -> Self::Result {
        let checked = (|| {
            let id = validate::conversation_id(msg.conversation_id)?;
            let mut window = Window {
                max_turns: validate::optional_range(
                    "max_turns",
                    msg.max_turns,
                    validate::MAX_TURNS,
                )?,
                max_messages: validate::optional_range(
                    "max_messages",
                    msg.max_messages,
                    validate::MAX_MESSAGES,
                )?,
                max_tokens: validate::optional_range(
                    "max_tokens",
                    msg.max_tokens,
                    validate::MAX_TOKENS_WINDOW,
                )?,
            };
            if window.max_turns.is_none()
                && window.max_messages.is_none()
                && window.max_tokens.is_none()
            {
                window.max_turns = Some(self.settings.max_history_turns);
            }
            let before = msg
                .before_id
                .map(|b| validate::positive("before_id", b))
                .transpose()?;
            Ok((id, window, before))
        })();
        let (id, window, before) = match checked {
            Ok(checked) => checked,
            Err(error) => return reject(error),
        };
        self.run(Access::Read, async move |c: &mut DbConn<'_>| {
            operations::conversation(c, id).await?;
            history::load(c, id, window, before).await
        })
    }
}

impl Handler<UpdateConversationStats> for StoreActor {
    type Result = Answer<Conversation>;

    fn handle(&mut self, msg: UpdateConversationStats, _: &mut Self::Context) -> Self::Result {
        let id = match validate::conversation_id(msg.conversation_id) {
            Ok(id) => id,
            Err(error) => return reject(error),
        };
        if !(0..=validate::MAX_USAGE).contains(&msg.tokens_used) {
            return reject(StoreError::invalid(
                "tokens_used",
                format!("must be between 0 and {}", validate::MAX_USAGE),
            ));
        }
        let now = now().naive_utc();
        let tokens = msg.tokens_used;
        self.run(Access::Write, async move |c: &mut DbConn<'_>| {
            c.transaction(async |c: &mut DbConn<'_>| {
                let rows = conversation_table::add_messages(c, id, 0, tokens, now).await?;
                operations::updated(c, id, rows).await
            })
            .await
        })
    }
}

impl Handler<ClearConversation> for StoreActor {
    type Result = Answer<u64>;

    fn handle(&mut self, msg: ClearConversation, _: &mut Self::Context) -> Self::Result {
        let id = match validate::conversation_id(msg.conversation_id) {
            Ok(id) => id,
            Err(error) => return reject(error),
        };
        let now = now().naive_utc();
        self.run(Access::Write, async move |c: &mut DbConn<'_>| {
            c.transaction(async |c: &mut DbConn<'_>| operations::clear(c, id, now).await)
                .await
        })
    }
}

impl Handler<DeleteConversation> for StoreActor {
    type Result = Answer<()>;

    fn handle(&mut self, msg: DeleteConversation, _: &mut Self::Context) -> Self::Result {
        let id = match validate::conversation_id(msg.conversation_id) {
            Ok(id) => id,
            Err(error) => return reject(error),
        };
        self.run(Access::Write, async move |c: &mut DbConn<'_>| {
            operations::delete(c, id).await
        })
    }
}

impl Handler<CleanupOldConversations> for StoreActor {
    type Result = Answer<u64>;

    fn handle(&mut self, msg: CleanupOldConversations, _: &mut Self::Context) -> Self::Result {
        if !(0..=36_500).contains(&msg.days) {
            return reject(StoreError::invalid("days", "must be between 0 and 36500"));
        }
        let cutoff = operations::cleanup_cutoff(now().naive_utc(), msg.days);
        let archive = self.settings.archive_dir.clone();
        let db = self.db.clone();
        // One transaction per batch: saves get the writer between batches.
        Box::pin(async move {
            let mut deleted = 0u64;
            loop {
                let archive = archive.clone();
                let batch = db
                    .write_tx(async move |c: &mut DbConn<'_>| {
                        operations::cleanup_batch(c, cutoff, archive.as_deref()).await
                    })
                    .await?;
                deleted += batch.deleted as u64;
                if (batch.picked as i64) < operations::CLEANUP_BATCH {
                    return Ok(deleted);
                }
            }
        })
    }
}

impl Handler<ExportConversation> for StoreActor {
    type Result = Answer<ExportDocument>;

    fn handle(&mut self, msg: ExportConversation, _: &mut Self::Context) -> Self::Result {
        let id = match validate::conversation_id(msg.conversation_id) {
            Ok(id) => id,
            Err(error) => return reject(error),
        };
        self.run(Access::Read, async move |c: &mut DbConn<'_>| {
            c.read_snapshot(async |c: &mut DbConn<'_>| {
                let row = conversation_table::find(c, id)
                    .await?
                    .ok_or_else(|| StoreError::conversation_not_found(id))?;
                operations::export(c, row).await
            })
            .await
        })
    }
}

impl Handler<ExportPage> for StoreActor {
    type Result = Answer<Vec<ExportDocument>>;

    fn handle(&mut self, msg: ExportPage, _: &mut Self::Context) -> Self::Result {
        if let Err(error) = validate::optional_range("limit", Some(msg.limit), validate::MAX_PAGE) {
            return reject(error);
        }
        self.run(Access::Read, async move |c: &mut DbConn<'_>| {
            c.read_snapshot(async |c: &mut DbConn<'_>| {
                let rows = conversation_table::page_by_id(c, msg.after_id, msg.limit).await?;
                let mut documents = Vec::with_capacity(rows.len());
                for row in rows {
                    documents.push(operations::export(c, row).await?);
                }
                Ok(documents)
            })
            .await
        })
    }
}

impl Handler<ImportConversation> for StoreActor {
    type Result = Answer<Obtained>;

    fn handle(&mut self, msg: ImportConversation, _: &mut Self::Context) -> Self::Result {
        let document = match transfer::read_document(&msg.document, self.settings.max_content_bytes)
        {
            Ok(document) => document,
            Err(error) => return reject(error),
        };
        let now = now().naive_utc();
        let db = self.db.clone();
        Box::pin(async move {
            db.write_tx(async move |c: &mut DbConn<'_>| {
                operations::import(c, document, msg.on_conflict, now).await
            })
            .await
        })
    }
}

impl Handler<GetStats> for StoreActor {
    type Result = Answer<Stats>;

    fn handle(&mut self, _: GetStats, _: &mut Self::Context) -> Self::Result {
        self.run(Access::Read, async |c: &mut DbConn<'_>| {
            operations::stats(c).await
        })
    }
}

impl Handler<Vacuum> for StoreActor {
    type Result = Answer<MaintenanceReport>;

    fn handle(&mut self, _: Vacuum, _: &mut Self::Context) -> Self::Result {
        let backend = self.db.backend().name().to_string();
        self.run(Access::Write, async move |c: &mut DbConn<'_>| {
            let started = Instant::now();
            maintenance::run(c).await?;
            Ok(MaintenanceReport {
                backend,
                duration_ms: started.elapsed().as_millis() as u64,
            })
        })
    }
}

impl Handler<SetSummary> for StoreActor {
    type Result = Answer<Conversation>;

    fn handle(&mut self, msg: SetSummary, _: &mut Self::Context) -> Self::Result {
        let checked = validate::conversation_id(msg.conversation_id).and_then(|id| {
            if let Some(summary) = &msg.summary {
                validate::text("summary", summary, self.settings.max_content_bytes)?;
            }
            Ok(id)
        });
        let id = match checked {
            Ok(id) => id,
            Err(error) => return reject(error),
        };
        let now = now().naive_utc();
        self.run(Access::Write, async move |c: &mut DbConn<'_>| {
            c.transaction(async |c: &mut DbConn<'_>| {
                let rows =
                    conversation_table::set_summary(c, id, msg.summary.as_deref(), now).await?;
                operations::updated(c, id, rows).await
            })
            .await
        })
    }
}

impl Handler<SetActivePersona> for StoreActor {
    type Result = Answer<Conversation>;

    fn handle(&mut self, msg: SetActivePersona, _: &mut Self::Context) -> Self::Result {
        let checked = validate::conversation_id(msg.conversation_id).and_then(|id| {
            validate::optional_identifier("persona_id", msg.persona_id.as_deref())?;
            Ok(id)
        });
        let id = match checked {
            Ok(id) => id,
            Err(error) => return reject(error),
        };
        let now = now().naive_utc();
        self.run(Access::Write, async move |c: &mut DbConn<'_>| {
            c.transaction(async |c: &mut DbConn<'_>| {
                let rows =
                    conversation_table::set_persona(c, id, msg.persona_id.as_deref(), now).await?;
                operations::updated(c, id, rows).await
            })
            .await
        })
    }
}

impl Handler<GetActivePersona> for StoreActor {
    type Result = Answer<Option<String>>;

    fn handle(&mut self, msg: GetActivePersona, _: &mut Self::Context) -> Self::Result {
        let id = match validate::conversation_id(msg.conversation_id) {
            Ok(id) => id,
            Err(error) => return reject(error),
        };
        self.run(Access::Read, async move |c: &mut DbConn<'_>| {
            Ok(operations::conversation(c, id).await?.active_persona_id)
        })
    }
}

impl Handler<CheckTokenBudget> for StoreActor {
    type Result = Answer<BudgetStatus>;

    fn handle(&mut self, msg: CheckTokenBudget, _: &mut Self::Context) -> Self::Result {
        if let Err(error) = validate::user_key(&msg.user_key) {
            return reject(error);
        }
        if msg.budget < 0 {
            return reject(StoreError::invalid("budget", "must not be negative"));
        }
        self.run(Access::Read, async move |c: &mut DbConn<'_>| {
            // As the guide has it: a user without a conversation is within any budget.
            let used = conversation_table::find_by_user(c, &msg.user_key)
                .await?
                .map(|row| row.total_tokens);
            Ok(BudgetStatus {
                within_budget: used.is_none_or(|used| used < msg.budget),
                total_tokens: used.unwrap_or(0),
                budget: msg.budget,
                user_key: msg.user_key,
            })
        })
    }
}

impl Handler<Shutdown> for StoreActor {
    type Result = ();

    fn handle(&mut self, _: Shutdown, ctx: &mut Self::Context) {
        // `stopping` keeps the actor alive until the write queue is empty.
        ctx.stop();
    }
}
