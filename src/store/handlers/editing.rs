//! Handlers of the edits (truncate, delete one message, fork), each checking its input,
//! then running in one transaction on the writer connection; and of the context of a
//! turn, read on one snapshot.

use actix::prelude::*;

use super::{Answer, checked};
use crate::db::conn::DbConn;
use crate::error::StoreError;
use crate::model::{Conversation, now};
use crate::store::reads::{Query, ReadRequest};
use crate::store::requests::*;
use crate::store::{StoreActor, StoreSettings, context, editing, validate};

impl Handler<Truncate> for StoreActor {
    type Result = Answer<Truncated>;

    fn handle(&mut self, msg: Truncate, _: &mut Self::Context) -> Self::Result {
        let check = validate::conversation_id(msg.conversation_id).and_then(|id| {
            match msg.cut {
                Cut::After(after) => validate::positive("after_id", after).map(drop),
                Cut::Last(n) => {
                    validate::optional_range("last", Some(n), validate::MAX_MESSAGES).map(drop)
                }
            }
            .map(|()| id)
        });
        let now = now().naive_utc();
        checked(check, |id| {
            self.transaction(async move |c: &mut DbConn<'_>| {
                editing::truncate(c, id, msg.cut, now).await
            })
        })
    }
}

impl Handler<DeleteMessage> for StoreActor {
    type Result = Answer<()>;

    fn handle(&mut self, msg: DeleteMessage, _: &mut Self::Context) -> Self::Result {
        let check = validate::conversation_id(msg.conversation_id).and_then(|id| {
            validate::positive("message_id", msg.message_id).map(|message| (id, message))
        });
        let now = now().naive_utc();
        checked(check, |(id, message)| {
            self.transaction(async move |c: &mut DbConn<'_>| {
                editing::delete_message(c, id, message, now).await
            })
        })
    }
}

impl Handler<ForkConversation> for StoreActor {
    type Result = Answer<Conversation>;

    fn handle(&mut self, msg: ForkConversation, _: &mut Self::Context) -> Self::Result {
        let check = validate::conversation_id(msg.conversation_id).and_then(|id| {
            validate::user_key(&msg.user_key)?;
            if let Some(platform) = msg.platform.as_deref() {
                validate::platform(platform)?;
            }
            validate::optional_identifier("chat_id", msg.chat_id.as_deref())?;
            let through_id = msg
                .through_id
                .map(|through| validate::positive("through_id", through))
                .transpose()?;
            let fork = editing::Fork {
                user_key: msg.user_key,
                platform: msg.platform,
                chat_id: msg.chat_id,
                through_id,
            };
            Ok((id, fork))
        });
        let now = now().naive_utc();
        checked(check, |(id, fork)| {
            self.transaction(async move |c: &mut DbConn<'_>| editing::fork(c, id, fork, now).await)
        })
    }
}

impl ReadRequest for LoadContext {
    type Output = TurnContext;

    fn query(self, settings: &StoreSettings) -> Result<impl Query<Self::Output>, StoreError> {
        let default_turns = settings.max_history_turns;
        let id = validate::conversation_id(self.conversation_id)?;
        let budget = ContextBudget {
            max_tokens: validate::optional_range(
                "max_tokens",
                self.budget.max_tokens,
                validate::MAX_TOKENS_WINDOW,
            )?,
            max_turns: validate::optional_range(
                "max_turns",
                self.budget.max_turns,
                validate::MAX_TURNS,
            )?,
        };
        Ok(async move |c: &mut DbConn<'_>| context::load(c, id, budget, default_turns).await)
    }
}

impl Handler<LoadContext> for StoreActor {
    type Result = Answer<TurnContext>;

    fn handle(&mut self, msg: LoadContext, _: &mut Self::Context) -> Self::Result {
        self.answer_read(msg)
    }
}
