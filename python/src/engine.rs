//! [`Engine`]: the Python class over one embedded store. Each method sends one request
//! of `convstore::store::requests` to the store's actor, waits for the answer with the
//! GIL released, and returns the answer as the contract's JSON text.

use std::sync::Mutex;

use actix::{Addr, Handler, Message};
use convstore::config::Config;
use convstore::store::requests::{
    CheckTokenBudget, CleanupOldConversations, ClearConversation, ContextBudget, Cut,
    DeleteConversation, DeleteMessage, ExportConversation, ForkConversation, GetActivePersona,
    GetConversation, GetConversationByUser, GetOrCreate, GetStats, HistoryWindow,
    ImportConversation, ListConversations, LoadContext, LoadHistory, NewMessage, OnConflict,
    SaveMessage, SaveMessages, SetActivePersona, SetSummary, Truncate, UpdateConversationStats,
    Vacuum,
};
use convstore::{Role, StoreActor, StoreError};
use pyo3::prelude::*;
use serde::{Deserialize, Serialize};

use crate::errors;
use crate::runtime::StoreThread;

/// One embedded store: its actor and the thread it runs on.
#[pyclass(module = "convstore._native", frozen)]
pub struct Engine {
    store: Addr<StoreActor>,
    thread: Mutex<Option<StoreThread>>,
    cleanup_days: i64,
}

/// A message of `save_messages`, as the Python side passes it (`NewMessage.to_json()`).
#[derive(Deserialize)]
struct MessageInput {
    role: String,
    content: String,
    #[serde(default)]
    tokens: i64,
    #[serde(default)]
    metadata: Option<serde_json::Value>,
    #[serde(default)]
    idempotency_key: Option<String>,
}

/// The answer of `save_messages`, as the HTTP API gives it.
#[derive(Serialize)]
struct Messages<'a> {
    messages: Vec<&'a convstore::StoredMessage>,
}

impl Engine {
    /// Sends `request` and waits for its answer, the GIL released meanwhile.
    fn ask<M, T>(&self, py: Python<'_>, request: M) -> PyResult<T>
    where
        M: Message<Result = Result<T, StoreError>> + Send + 'static,
        M::Result: Send,
        T: Send + 'static,
        StoreActor: Handler<M>,
    {
        let store = &self.store;
        match py.detach(|| futures_executor::block_on(store.send(request))) {
            Ok(answer) => answer.map_err(|error| errors::to_py(py, error)),
            Err(_) => Err(errors::unavailable(py, "the store is closed")),
        }
    }

    /// [`Engine::ask`], its answer as JSON text.
    fn ask_json<M, T>(&self, py: Python<'_>, request: M) -> PyResult<String>
    where
        M: Message<Result = Result<T, StoreError>> + Send + 'static,
        M::Result: Send,
        T: Serialize + Send + 'static,
        StoreActor: Handler<M>,
    {
        let answer = self.ask(py, request)?;
        json(py, &answer)
    }
}

fn json<T: Serialize>(py: Python<'_>, value: &T) -> PyResult<String> {
    serde_json::to_string(value)
        .map_err(|error| errors::to_py(py, StoreError::Internal(error.to_string())))
}

/// Parses JSON text the Python side wrote for `field`.
fn parse<'a, T: Deserialize<'a>>(py: Python<'_>, field: &str, text: &'a str) -> PyResult<T> {
    serde_json::from_str(text).map_err(|error| errors::invalid(py, field, error))
}

fn role(py: Python<'_>, field: &str, name: &str) -> PyResult<Role> {
    name.parse().map_err(|error| match error {
        StoreError::InvalidInput { message, .. } => errors::invalid(py, field, message),
        other => errors::to_py(py, other),
    })
}

#[pymethods]
impl Engine {
    /// Opens the store the configuration (the daemon's `Config` as JSON text) describes.
    #[new]
    fn new(py: Python<'_>, config_json: &str) -> PyResult<Engine> {
        let mut reader = serde_json::Deserializer::from_str(config_json);
        let config: Config = serde_path_to_error::deserialize(&mut reader).map_err(|error| {
            let field = error.path().to_string();
            errors::invalid(py, &field, error.into_inner())
        })?;
        let (store, thread) = py
            .detach(|| StoreThread::start(&config))
            .map_err(|error| errors::to_py(py, error))?;
        Ok(Engine {
            store,
            thread: Mutex::new(Some(thread)),
            cleanup_days: config.cleanup_days,
        })
    }

    /// Commits the queued writes and stops the store; later calls raise `Unavailable`.
    fn close(&self, py: Python<'_>) {
        let thread = self.thread.lock().map(|mut t| t.take()).unwrap_or(None);
        if let Some(thread) = thread {
            py.detach(|| thread.stop(&self.store));
        }
    }

    #[pyo3(signature = (user_key, platform, chat_id=None))]
    fn get_or_create(
        &self,
        py: Python<'_>,
        user_key: String,
        platform: String,
        chat_id: Option<String>,
    ) -> PyResult<String> {
        let request = GetOrCreate {
            user_key,
            platform,
            chat_id,
        };
        let obtained = self.ask(py, request)?;
        json(py, &obtained.conversation)
    }

    fn get_conversation(&self, py: Python<'_>, conversation_id: i64) -> PyResult<String> {
        self.ask_json(py, GetConversation { conversation_id })
    }

    fn get_conversation_by_user(&self, py: Python<'_>, user_key: String) -> PyResult<String> {
        self.ask_json(py, GetConversationByUser { user_key })
    }

    #[pyo3(signature = (user_key=None, platform=None, limit=None, after_id=None))]
    fn list_conversations(
        &self,
        py: Python<'_>,
        user_key: Option<String>,
        platform: Option<String>,
        limit: Option<i64>,
        after_id: Option<i64>,
    ) -> PyResult<String> {
        let request = ListConversations {
            user_key,
            user_key_prefix: None,
            platform,
            limit,
            after_id,
            cursor: None,
        };
        self.ask_json(py, request)
    }

    fn delete_conversation(&self, py: Python<'_>, conversation_id: i64) -> PyResult<()> {
        self.ask(py, DeleteConversation { conversation_id })
    }

    /// Saves one message: `(message JSON, created)`. `metadata_json` is a JSON object.
    // The arguments are those of the Python method, one by one.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (conversation_id, role_name, content, tokens, metadata_json, idempotency_key))]
    fn save_message(
        &self,
        py: Python<'_>,
        conversation_id: i64,
        role_name: &str,
        content: String,
        tokens: i64,
        metadata_json: Option<&str>,
        idempotency_key: Option<String>,
    ) -> PyResult<(String, bool)> {
        let metadata = metadata_json
            .map(|text| parse(py, "metadata", text))
            .transpose()?;
        let message = NewMessage {
            role: role(py, "role", role_name)?,
            content,
            tokens,
            metadata,
            idempotency_key,
        };
        let saved = self.ask(
            py,
            SaveMessage {
                conversation_id,
                message,
            },
        )?;
        Ok((json(py, &saved.message)?, saved.created))
    }

    /// Saves several messages (a JSON list of `NewMessage.to_json()` objects), all or
    /// nothing: `{"messages": [...]}`.
    fn save_messages(
        &self,
        py: Python<'_>,
        conversation_id: i64,
        messages_json: &str,
    ) -> PyResult<String> {
        let inputs: Vec<MessageInput> = parse(py, "messages", messages_json)?;
        let mut messages = Vec::with_capacity(inputs.len());
        for (i, input) in inputs.into_iter().enumerate() {
            messages.push(NewMessage {
                role: role(py, &format!("messages[{i}].role"), &input.role)?,
                content: input.content,
                tokens: input.tokens,
                metadata: input.metadata,
                idempotency_key: input.idempotency_key,
            });
        }
        let saved = self.ask(
            py,
            SaveMessages {
                conversation_id,
                messages,
            },
        )?;
        let messages = saved.iter().map(|s| &s.message).collect();
        json(py, &Messages { messages })
    }

    /// The history window: a JSON list of messages, oldest first.
    #[pyo3(signature = (conversation_id, max_turns=None, max_messages=None, max_tokens=None, before_id=None))]
    fn load_history(
        &self,
        py: Python<'_>,
        conversation_id: i64,
        max_turns: Option<i64>,
        max_messages: Option<i64>,
        max_tokens: Option<i64>,
        before_id: Option<i64>,
    ) -> PyResult<String> {
        let window = HistoryWindow {
            max_turns,
            max_messages,
            max_tokens,
            before_id,
        };
        self.ask_json(
            py,
            LoadHistory {
                conversation_id,
                window,
            },
        )
    }

    fn clear_conversation(&self, py: Python<'_>, conversation_id: i64) -> PyResult<u64> {
        self.ask(py, ClearConversation { conversation_id })
    }

    fn update_conversation_stats(
        &self,
        py: Python<'_>,
        conversation_id: i64,
        tokens_used: i64,
    ) -> PyResult<String> {
        let request = UpdateConversationStats {
            conversation_id,
            tokens_used,
        };
        self.ask_json(py, request)
    }

    #[pyo3(signature = (conversation_id, summary, covers_through_id=None, tokens=None))]
    fn set_summary(
        &self,
        py: Python<'_>,
        conversation_id: i64,
        summary: Option<String>,
        covers_through_id: Option<i64>,
        tokens: Option<i64>,
    ) -> PyResult<String> {
        let request = SetSummary {
            conversation_id,
            summary,
            covers_through_id,
            tokens,
        };
        self.ask_json(py, request)
    }

    /// The context of a turn (persona, summary, the newest whole turns that fit).
    #[pyo3(signature = (conversation_id, max_tokens=None, max_turns=None))]
    fn load_context(
        &self,
        py: Python<'_>,
        conversation_id: i64,
        max_tokens: Option<i64>,
        max_turns: Option<i64>,
    ) -> PyResult<String> {
        let budget = ContextBudget {
            max_tokens,
            max_turns,
        };
        self.ask_json(
            py,
            LoadContext {
                conversation_id,
                budget,
            },
        )
    }

    /// Removes every message after `after_id`, or the newest `last`: exactly one of them.
    #[pyo3(signature = (conversation_id, after_id=None, last=None))]
    fn truncate(
        &self,
        py: Python<'_>,
        conversation_id: i64,
        after_id: Option<i64>,
        last: Option<i64>,
    ) -> PyResult<String> {
        let cut = match (after_id, last) {
            (Some(after), None) => Cut::After(after),
            (None, Some(n)) => Cut::Last(n),
            _ => {
                let message = "give exactly one of after_id and last";
                return Err(errors::invalid(py, "after_id", message));
            }
        };
        self.ask_json(
            py,
            Truncate {
                conversation_id,
                cut,
            },
        )
    }

    fn delete_message(
        &self,
        py: Python<'_>,
        conversation_id: i64,
        message_id: i64,
    ) -> PyResult<()> {
        let request = DeleteMessage {
            conversation_id,
            message_id,
        };
        self.ask(py, request)
    }

    /// A new conversation for `user_key` with copies of the messages up to `through_id`.
    #[pyo3(signature = (conversation_id, user_key, platform=None, chat_id=None, through_id=None))]
    fn fork(
        &self,
        py: Python<'_>,
        conversation_id: i64,
        user_key: String,
        platform: Option<String>,
        chat_id: Option<String>,
        through_id: Option<i64>,
    ) -> PyResult<String> {
        let request = ForkConversation {
            conversation_id,
            user_key,
            platform,
            chat_id,
            through_id,
        };
        self.ask_json(py, request)
    }

    #[pyo3(signature = (conversation_id, persona_id))]
    fn set_active_persona_id(
        &self,
        py: Python<'_>,
        conversation_id: i64,
        persona_id: Option<String>,
    ) -> PyResult<String> {
        let request = SetActivePersona {
            conversation_id,
            persona_id,
        };
        self.ask_json(py, request)
    }

    fn get_active_persona_id(
        &self,
        py: Python<'_>,
        conversation_id: i64,
    ) -> PyResult<Option<String>> {
        self.ask(py, GetActivePersona { conversation_id })
    }

    fn export_conversation(&self, py: Python<'_>, conversation_id: i64) -> PyResult<String> {
        self.ask_json(py, ExportConversation { conversation_id })
    }

    /// Imports an export document (JSON text); `on_conflict` is `skip` or `replace`.
    fn import_conversation(
        &self,
        py: Python<'_>,
        document_json: &str,
        on_conflict: &str,
    ) -> PyResult<String> {
        let on_conflict = match on_conflict {
            "skip" => OnConflict::Skip,
            "replace" => OnConflict::Replace,
            other => {
                let message = format!("{other:?} is not one of skip, replace");
                return Err(errors::invalid(py, "on_conflict", message));
            }
        };
        let request = ImportConversation {
            document: parse(py, "body", document_json)?,
            on_conflict,
        };
        let obtained = self.ask(py, request)?;
        json(py, &obtained.conversation)
    }

    fn get_stats(&self, py: Python<'_>) -> PyResult<String> {
        self.ask_json(py, GetStats)
    }

    fn check_token_budget(
        &self,
        py: Python<'_>,
        user_key: String,
        budget: i64,
    ) -> PyResult<String> {
        self.ask_json(py, CheckTokenBudget { user_key, budget })
    }

    /// Deletes conversations idle for `days` (default: the configured `cleanup_days`).
    #[pyo3(signature = (days=None))]
    fn cleanup_old_conversations(&self, py: Python<'_>, days: Option<i64>) -> PyResult<u64> {
        let days = days.unwrap_or(self.cleanup_days);
        self.ask(py, CleanupOldConversations { days })
    }

    fn vacuum(&self, py: Python<'_>) -> PyResult<String> {
        self.ask_json(py, Vacuum)
    }
}
