//! Handlers of the requests on a conversation's messages: save one or a batch (through
//! the group-commit queue), read the history window, clear, delete.

use actix::prelude::*;

use super::{Answer, PendingReply, checked};
use crate::db::conn::DbConn;
use crate::error::StoreError;
use crate::model::{StoredMessage, now};
use crate::store::checked::CheckedMessage;
use crate::store::reads::{Query, ReadRequest};
use crate::store::requests::*;
use crate::store::writes::WriteRequest;
use crate::store::{StoreActor, StoreSettings, history, operations, validate};

impl StoreActor {
    /// The save of `messages` into `conversation_id`, checked and stamped with the time
    /// of arrival. In a batch, the fields an error names start with `messages[i].`.
    fn write_request(
        &self,
        conversation_id: i64,
        messages: Vec<NewMessage>,
        in_batch: bool,
    ) -> Result<WriteRequest, StoreError> {
        validate::conversation_id(conversation_id)?;
        let now = now();
        let messages = messages
            .into_iter()
            .enumerate()
            .map(|(index, message)| {
                let prefix = if in_batch {
                    format!("messages[{index}].")
                } else {
                    String::new()
                };
                validate::message(&prefix, message, self.settings.max_content_bytes, now)
            })
            .collect::<Result<Vec<CheckedMessage>, StoreError>>()?;
        Ok(WriteRequest {
            conversation_id,
            messages,
        })
    }
}

impl Handler<SaveMessage> for StoreActor {
    type Result = Answer<SavedMessage>;

    fn handle(&mut self, msg: SaveMessage, ctx: &mut Self::Context) -> Self::Result {
        let check = self.write_request(msg.conversation_id, vec![msg.message], false);
        checked(check, |request| {
            let answer = PendingReply::default();
            let reply = answer.replier();
            let one = Box::new(move |saved: Result<Vec<SavedMessage>, StoreError>| {
                reply(saved.and_then(|mut saved| {
                    saved
                        .pop()
                        .ok_or_else(|| StoreError::Internal("a save produced no message".into()))
                }))
            });
            self.enqueue(request, one, ctx);
            answer.answer()
        })
    }
}

impl Handler<SaveMessages> for StoreActor {
    type Result = Answer<Vec<SavedMessage>>;

    fn handle(&mut self, msg: SaveMessages, ctx: &mut Self::Context) -> Self::Result {
        let check = if (1..=validate::MAX_BATCH_MESSAGES).contains(&msg.messages.len()) {
            self.write_request(msg.conversation_id, msg.messages, true)
        } else {
            Err(StoreError::invalid(
                "messages",
                format!("must hold 1 to {} messages", validate::MAX_BATCH_MESSAGES),
            ))
        };
        checked(check, |request| {
            let answer = PendingReply::default();
            self.enqueue(request, answer.replier(), ctx);
            answer.answer()
        })
    }
}

impl ReadRequest for LoadHistory {
    type Output = Vec<StoredMessage>;

    fn query(self, settings: &StoreSettings) -> Result<impl Query<Self::Output>, StoreError> {
        let id = validate::conversation_id(self.conversation_id)?;
        let window = validate::history_window(self.window, settings.max_history_turns)?;
        Ok(async move |c: &mut DbConn<'_>| {
            operations::conversation(c, id).await?;
            history::load(c, id, window).await
        })
    }
}

impl Handler<LoadHistory> for StoreActor {
    type Result = Answer<Vec<StoredMessage>>;

    fn handle(&mut self, msg: LoadHistory, _: &mut Self::Context) -> Self::Result {
        self.answer_read(msg)
    }
}

impl Handler<ClearConversation> for StoreActor {
    type Result = Answer<u64>;

    fn handle(&mut self, msg: ClearConversation, _: &mut Self::Context) -> Self::Result {
        let now = now().naive_utc();
        checked(validate::conversation_id(msg.conversation_id), |id| {
            self.transaction(async move |c: &mut DbConn<'_>| operations::clear(c, id, now).await)
        })
    }
}

impl Handler<DeleteConversation> for StoreActor {
    type Result = Answer<()>;

    fn handle(&mut self, msg: DeleteConversation, _: &mut Self::Context) -> Self::Result {
        checked(validate::conversation_id(msg.conversation_id), |id| {
            self.transaction(async move |c: &mut DbConn<'_>| operations::delete(c, id).await)
        })
    }
}
