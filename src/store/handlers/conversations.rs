//! Handlers of the requests on conversation records: get or create, read, list, the
//! fields a bot updates (usage, summary, persona), the token budget.

use actix::prelude::*;

use super::{Answer, checked};
use crate::db::conn::{Access, DbConn};
use crate::db::conversation_table;
use crate::error::StoreError;
use crate::model::{BudgetStatus, Conversation, now};
use crate::store::reads::{Query, ReadRequest};
use crate::store::requests::*;
use crate::store::{StoreActor, StoreSettings, cursor, editing, operations, validate};

impl Handler<GetOrCreate> for StoreActor {
    type Result = Answer<Obtained>;

    fn handle(&mut self, msg: GetOrCreate, _: &mut Self::Context) -> Self::Result {
        let check = validate::user_key(&msg.user_key)
            .and_then(|_| validate::platform(&msg.platform))
            .and_then(|_| validate::optional_identifier("chat_id", msg.chat_id.as_deref()))
            .map(drop);
        let now = now().naive_utc();
        let db = self.db.clone();
        checked(check, |()| {
            Answer::future(async move {
                let GetOrCreate {
                    user_key,
                    platform,
                    chat_id,
                } = msg;
                // A bot asks on every turn: an existing conversation whose identity is
                // unchanged is read, on a reader, and nothing is written.
                let key = user_key.clone();
                let found = db
                    .run(Access::Read, async move |c: &mut DbConn<'_>| {
                        Ok(conversation_table::find_by_user(c, &key).await?)
                    })
                    .await?;
                let touch = async || {
                    let (key, name, chat) = (user_key.clone(), platform.clone(), chat_id.clone());
                    db.run(Access::Write, async move |c: &mut DbConn<'_>| {
                        operations::touch_existing(c, &key, &name, chat.as_deref()).await
                    })
                    .await
                };
                match found {
                    Some(row)
                        if !operations::identity_changes(&row, &platform, chat_id.as_deref()) =>
                    {
                        return Ok(Obtained {
                            conversation: row.into(),
                            created: false,
                        });
                    }
                    // Its identity changes (if it was deleted meanwhile, it is created below).
                    Some(_) => {
                        if let Some(obtained) = touch().await? {
                            return Ok(obtained);
                        }
                    }
                    None => {}
                }
                // Only a new conversation changes the totals: that needs a transaction.
                let (key, name, chat) = (user_key.clone(), platform.clone(), chat_id.clone());
                let created = db
                    .write_tx(async move |c: &mut DbConn<'_>| {
                        operations::create(c, &key, &name, chat.as_deref(), now).await
                    })
                    .await?;
                match created {
                    Some(obtained) => Ok(obtained),
                    // Another process created it meanwhile.
                    None => touch().await?.ok_or_else(|| {
                        StoreError::NotFound(format!("conversation of {user_key:?}"))
                    }),
                }
            })
        })
    }
}

impl ReadRequest for GetConversation {
    type Output = Conversation;

    fn query(self, _: &StoreSettings) -> Result<impl Query<Self::Output>, StoreError> {
        let id = validate::conversation_id(self.conversation_id)?;
        Ok(async move |c: &mut DbConn<'_>| operations::conversation(c, id).await)
    }
}

impl Handler<GetConversation> for StoreActor {
    type Result = Answer<Conversation>;

    fn handle(&mut self, msg: GetConversation, _: &mut Self::Context) -> Self::Result {
        self.answer_read(msg)
    }
}

impl ReadRequest for GetConversationByUser {
    type Output = Option<Conversation>;

    fn query(self, _: &StoreSettings) -> Result<impl Query<Self::Output>, StoreError> {
        validate::user_key(&self.user_key)?;
        Ok(async move |c: &mut DbConn<'_>| {
            let row = conversation_table::find_by_user(c, &self.user_key).await?;
            Ok(row.map(Conversation::from))
        })
    }
}

impl Handler<GetConversationByUser> for StoreActor {
    type Result = Answer<Option<Conversation>>;

    fn handle(&mut self, msg: GetConversationByUser, _: &mut Self::Context) -> Self::Result {
        self.answer_read(msg)
    }
}

impl Handler<ListConversations> for StoreActor {
    type Result = Answer<ConversationPage>;

    fn handle(&mut self, msg: ListConversations, _: &mut Self::Context) -> Self::Result {
        let check =
            validate::optional_range("limit", msg.limit, validate::MAX_PAGE).and_then(|limit| {
                let after_id = msg.after_id.map(|id| validate::positive("after_id", id));
                let after_id = after_id.transpose()?;
                let prefix = msg.user_key_prefix.as_deref();
                validate::optional_identifier("user_key_prefix", prefix)?;
                let position = msg.cursor.as_deref().map(cursor::decode).transpose()?;
                if position.is_some() && after_id.is_some() {
                    return Err(StoreError::invalid(
                        "cursor",
                        "give either cursor or after_id, not both",
                    ));
                }
                Ok((limit.unwrap_or(validate::DEFAULT_PAGE), after_id, position))
            });
        checked(check, |(limit, after_id, position)| {
            self.read(async move |c: &mut DbConn<'_>| {
                let after = match position {
                    Some(position) => Some(position),
                    None => operations::list_position(c, after_id).await?,
                };
                let filter = conversation_table::ListFilter {
                    user_key: msg.user_key,
                    user_key_prefix: msg.user_key_prefix,
                    platform: msg.platform,
                    after,
                };
                operations::list(c, &filter, limit).await
            })
        })
    }
}

impl Handler<UpdateConversationStats> for StoreActor {
    type Result = Answer<Conversation>;

    fn handle(&mut self, msg: UpdateConversationStats, _: &mut Self::Context) -> Self::Result {
        let tokens = msg.tokens_used;
        let check = if (0..=validate::MAX_USAGE).contains(&tokens) {
            Ok(())
        } else {
            Err(StoreError::invalid(
                "tokens_used",
                format!("must be between 0 and {}", validate::MAX_USAGE),
            ))
        };
        self.update(msg.conversation_id, check, async move |c, id, now| {
            conversation_table::add_usage(c, id, tokens, now).await
        })
    }
}

impl Handler<SetSummary> for StoreActor {
    type Result = Answer<Conversation>;

    fn handle(&mut self, msg: SetSummary, _: &mut Self::Context) -> Self::Result {
        let max = self.settings.max_content_bytes;
        let check = validate::conversation_id(msg.conversation_id).and_then(|id| {
            if let Some(text) = msg.summary.as_deref() {
                validate::text("summary", text, max)?;
            }
            Ok((id, validate::checkpoint(&msg)?))
        });
        let now = now().naive_utc();
        checked(check, |(id, checkpoint)| {
            self.transaction(async move |c: &mut DbConn<'_>| {
                editing::set_summary(c, id, msg.summary.as_deref(), checkpoint, now).await
            })
        })
    }
}

impl Handler<SetActivePersona> for StoreActor {
    type Result = Answer<Conversation>;

    fn handle(&mut self, msg: SetActivePersona, _: &mut Self::Context) -> Self::Result {
        let persona = msg.persona_id;
        let check = validate::optional_identifier("persona_id", persona.as_deref()).map(drop);
        self.update(msg.conversation_id, check, async move |c, id, now| {
            conversation_table::set_persona(c, id, persona.as_deref(), now).await
        })
    }
}

impl ReadRequest for GetActivePersona {
    type Output = Option<String>;

    fn query(self, _: &StoreSettings) -> Result<impl Query<Self::Output>, StoreError> {
        let id = validate::conversation_id(self.conversation_id)?;
        Ok(async move |c: &mut DbConn<'_>| {
            Ok(operations::conversation(c, id).await?.active_persona_id)
        })
    }
}

impl Handler<GetActivePersona> for StoreActor {
    type Result = Answer<Option<String>>;

    fn handle(&mut self, msg: GetActivePersona, _: &mut Self::Context) -> Self::Result {
        self.answer_read(msg)
    }
}

impl Handler<CheckTokenBudget> for StoreActor {
    type Result = Answer<BudgetStatus>;

    fn handle(&mut self, msg: CheckTokenBudget, _: &mut Self::Context) -> Self::Result {
        let check = validate::user_key(&msg.user_key)
            .and_then(|_| validate::exact_count("budget", msg.budget));
        checked(check, |_| {
            self.read(async move |c: &mut DbConn<'_>| {
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
        })
    }
}
