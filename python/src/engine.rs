//! [`Engine`]: the Python class over one embedded store. Each method takes the arguments
//! of the one API's method of the same name (`convstore.api.ConvstoreAPI`; JSON text
//! where the Python side serializes a mapping), sends one request of
//! `convstore::store::requests` to the store's actor, waits for the answer with the GIL
//! released, and returns it as the package's record (see [`crate::records`]).

use std::sync::{Mutex, PoisonError, RwLock};

use actix::{Addr, Handler, Message};
use convstore::config::Config;
use convstore::store::DirectReads;
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
use pyo3::types::PyBool;
use serde::Deserialize;

use crate::errors;
use crate::records;
use crate::runtime::StoreThread;

/// One embedded store: its actor, the thread it runs on, and (on SQLite) the reads each
/// calling thread runs itself, without a trip through the actor.
#[pyclass(module = "convstore._native", frozen)]
pub struct Engine {
    store: Addr<StoreActor>,
    thread: Mutex<Option<StoreThread>>,
    /// `None` on the server backends, and once the store is closed.
    reads: RwLock<Option<DirectReads>>,
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

    /// Answers a request that only reads on this thread with `direct` where the store
    /// has direct reads, else through the actor; the GIL released while it waits.
    fn read<M, T>(
        &self,
        py: Python<'_>,
        request: M,
        direct: fn(&DirectReads, M) -> Result<T, StoreError>,
    ) -> PyResult<T>
    where
        M: Message<Result = Result<T, StoreError>> + Send + 'static,
        M::Result: Send,
        T: Send + 'static,
        StoreActor: Handler<M>,
    {
        let answered = py.detach(|| {
            let reads = self.reads.read().unwrap_or_else(PoisonError::into_inner);
            match reads.as_ref() {
                Some(reads) => Ok(direct(reads, request)),
                None => Err(request),
            }
        });
        match answered {
            Ok(answer) => answer.map_err(|error| errors::to_py(py, error)),
            Err(request) => self.ask(py, request),
        }
    }
}

/// `value` as an id for `field`: a positive `int` (not a `bool`), checked as the remote
/// client checks the ids it puts in a URL, so that both engines refuse alike.
fn id(value: &Bound<'_, PyAny>, field: &str) -> PyResult<i64> {
    let py = value.py();
    let refused = || errors::invalid(py, field, "must be a positive integer");
    if value.is_instance_of::<PyBool>() {
        return Err(refused());
    }
    match value.extract::<i64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(refused()),
    }
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
        let ((store, reads), thread) = py
            .detach(|| StoreThread::start(&config))
            .map_err(|error| errors::to_py(py, error))?;
        Ok(Engine {
            store,
            thread: Mutex::new(Some(thread)),
            reads: RwLock::new(reads),
            cleanup_days: config.cleanup_days,
        })
    }

    /// Commits the queued writes and stops the store; later calls raise `Unavailable`.
    fn close(&self, py: Python<'_>) {
        let thread = self.thread.lock().map(|mut t| t.take()).unwrap_or(None);
        if let Some(thread) = thread {
            py.detach(|| {
                // Waits for the direct reads under way; their connections close with it.
                drop(self.reads.write().map(|mut reads| reads.take()));
                thread.stop(&self.store);
            });
        }
    }

    #[pyo3(signature = (user_key, platform, chat_id=None))]
    fn get_or_create<'py>(
        &self,
        py: Python<'py>,
        user_key: String,
        platform: String,
        chat_id: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let request = GetOrCreate {
            user_key,
            platform,
            chat_id,
        };
        let obtained = self.ask(py, request)?;
        records::conversation(py, &obtained.conversation)
    }

    fn get_conversation<'py>(
        &self,
        py: Python<'py>,
        conversation_id: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let conversation_id = id(conversation_id, "conversation_id")?;
        let request = GetConversation { conversation_id };
        let found = self.read(py, request, DirectReads::get_conversation)?;
        records::conversation(py, &found)
    }

    fn get_conversation_by_user<'py>(
        &self,
        py: Python<'py>,
        user_key: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let request = GetConversationByUser { user_key };
        let found = self.read(py, request, DirectReads::get_conversation_by_user)?;
        records::maybe_conversation(py, found.as_ref())
    }

    #[pyo3(signature = (user_key=None, platform=None, limit=None, after_id=None))]
    fn list_conversations<'py>(
        &self,
        py: Python<'py>,
        user_key: Option<String>,
        platform: Option<String>,
        limit: Option<i64>,
        after_id: Option<i64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let request = ListConversations {
            user_key,
            user_key_prefix: None,
            platform,
            limit,
            after_id,
            cursor: None,
        };
        let page = self.ask(py, request)?;
        records::from_json(py, "ConversationPage", &page)
    }

    fn delete_conversation(
        &self,
        py: Python<'_>,
        conversation_id: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let conversation_id = id(conversation_id, "conversation_id")?;
        self.ask(py, DeleteConversation { conversation_id })
    }

    #[pyo3(signature = (conversation_id, user_key, platform=None, chat_id=None, through_id=None))]
    fn fork<'py>(
        &self,
        py: Python<'py>,
        conversation_id: &Bound<'py, PyAny>,
        user_key: String,
        platform: Option<String>,
        chat_id: Option<String>,
        through_id: Option<i64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let request = ForkConversation {
            conversation_id: id(conversation_id, "conversation_id")?,
            user_key,
            platform,
            chat_id,
            through_id,
        };
        let forked = self.ask(py, request)?;
        records::conversation(py, &forked)
    }

    /// Saves one message; `metadata_json` is a JSON object (the Python side's `json.dumps`).
    // The arguments are those of the Python method, one by one.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (conversation_id, role, content, tokens, metadata_json, idempotency_key))]
    fn save_message<'py>(
        &self,
        py: Python<'py>,
        conversation_id: &Bound<'py, PyAny>,
        role: &str,
        content: String,
        tokens: i64,
        metadata_json: Option<&str>,
        idempotency_key: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let conversation_id = id(conversation_id, "conversation_id")?;
        let metadata = metadata_json
            .map(|text| parse(py, "metadata", text))
            .transpose()?;
        let message = NewMessage {
            role: self::role(py, "role", role)?,
            content,
            tokens,
            metadata,
            idempotency_key,
        };
        let request = SaveMessage {
            conversation_id,
            message,
        };
        let saved = self.ask(py, request)?;
        records::saved_message(py, &saved)
    }

    /// Saves several messages (a JSON list of `NewMessage.to_json()` objects), all or
    /// nothing: the stored messages, in order.
    fn save_messages<'py>(
        &self,
        py: Python<'py>,
        conversation_id: &Bound<'py, PyAny>,
        messages_json: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let conversation_id = id(conversation_id, "conversation_id")?;
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
        let request = SaveMessages {
            conversation_id,
            messages,
        };
        let saved = self.ask(py, request)?;
        Ok(records::messages(py, saved.iter().map(|s| &s.message))?.into_any())
    }

    /// The history window: a list of messages, oldest first.
    #[pyo3(signature = (conversation_id, max_turns=None, max_messages=None, max_tokens=None, before_id=None))]
    fn load_history<'py>(
        &self,
        py: Python<'py>,
        conversation_id: &Bound<'py, PyAny>,
        max_turns: Option<i64>,
        max_messages: Option<i64>,
        max_tokens: Option<i64>,
        before_id: Option<i64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let request = LoadHistory {
            conversation_id: id(conversation_id, "conversation_id")?,
            window: HistoryWindow {
                max_turns,
                max_messages,
                max_tokens,
                before_id,
            },
        };
        let window = self.read(py, request, DirectReads::load_history)?;
        Ok(records::messages(py, &window)?.into_any())
    }

    fn clear_conversation(
        &self,
        py: Python<'_>,
        conversation_id: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let conversation_id = id(conversation_id, "conversation_id")?;
        self.ask(py, ClearConversation { conversation_id })
            .map(drop)
    }

    fn update_conversation_stats<'py>(
        &self,
        py: Python<'py>,
        conversation_id: &Bound<'py, PyAny>,
        tokens_used: i64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let request = UpdateConversationStats {
            conversation_id: id(conversation_id, "conversation_id")?,
            tokens_used,
        };
        let updated = self.ask(py, request)?;
        records::conversation(py, &updated)
    }

    #[pyo3(signature = (conversation_id, summary, covers_through_id=None, tokens=None))]
    fn set_summary<'py>(
        &self,
        py: Python<'py>,
        conversation_id: &Bound<'py, PyAny>,
        summary: Option<String>,
        covers_through_id: Option<i64>,
        tokens: Option<i64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let request = SetSummary {
            conversation_id: id(conversation_id, "conversation_id")?,
            summary,
            covers_through_id,
            tokens,
        };
        let updated = self.ask(py, request)?;
        records::conversation(py, &updated)
    }

    /// The context of a turn (persona, summary, the newest whole turns that fit).
    #[pyo3(signature = (conversation_id, max_tokens=None, max_turns=None))]
    fn load_context<'py>(
        &self,
        py: Python<'py>,
        conversation_id: &Bound<'py, PyAny>,
        max_tokens: Option<i64>,
        max_turns: Option<i64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let request = LoadContext {
            conversation_id: id(conversation_id, "conversation_id")?,
            budget: ContextBudget {
                max_tokens,
                max_turns,
            },
        };
        let context = self.read(py, request, DirectReads::load_context)?;
        records::context(py, &context)
    }

    /// Removes every message after `after_id`, or the newest `last`: exactly one of them.
    #[pyo3(signature = (conversation_id, *, after_id=None, last=None))]
    fn truncate<'py>(
        &self,
        py: Python<'py>,
        conversation_id: &Bound<'py, PyAny>,
        after_id: Option<i64>,
        last: Option<i64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let conversation_id = id(conversation_id, "conversation_id")?;
        let cut = match (after_id, last) {
            (Some(after), None) => Cut::After(after),
            (None, Some(n)) => Cut::Last(n),
            _ => {
                let message = "give exactly one of after_id and last";
                return Err(errors::invalid(py, "after_id", message));
            }
        };
        let truncated = self.ask(
            py,
            Truncate {
                conversation_id,
                cut,
            },
        )?;
        records::from_json(py, "Truncated", &truncated)
    }

    fn delete_message(
        &self,
        py: Python<'_>,
        conversation_id: &Bound<'_, PyAny>,
        message_id: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let request = DeleteMessage {
            conversation_id: id(conversation_id, "conversation_id")?,
            message_id: id(message_id, "message_id")?,
        };
        self.ask(py, request)
    }

    #[pyo3(signature = (conversation_id, persona_id))]
    fn set_active_persona_id<'py>(
        &self,
        py: Python<'py>,
        conversation_id: &Bound<'py, PyAny>,
        persona_id: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let request = SetActivePersona {
            conversation_id: id(conversation_id, "conversation_id")?,
            persona_id,
        };
        let updated = self.ask(py, request)?;
        records::conversation(py, &updated)
    }

    fn get_active_persona_id(
        &self,
        py: Python<'_>,
        conversation_id: &Bound<'_, PyAny>,
    ) -> PyResult<Option<String>> {
        let conversation_id = id(conversation_id, "conversation_id")?;
        let request = GetActivePersona { conversation_id };
        self.read(py, request, DirectReads::get_active_persona)
    }

    /// The export document, as the Python values of its JSON.
    fn export_conversation<'py>(
        &self,
        py: Python<'py>,
        conversation_id: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let conversation_id = id(conversation_id, "conversation_id")?;
        let document = self.ask(py, ExportConversation { conversation_id })?;
        records::json(py, &document)
    }

    /// Imports an export document (JSON text); `on_conflict` is `skip` or `replace`.
    fn import_conversation<'py>(
        &self,
        py: Python<'py>,
        document_json: &str,
        on_conflict: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
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
        records::conversation(py, &obtained.conversation)
    }

    fn get_stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let stats = self.ask(py, GetStats)?;
        records::from_json(py, "Stats", &stats)
    }

    fn check_token_budget<'py>(
        &self,
        py: Python<'py>,
        user_key: String,
        budget: i64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let status = self.ask(py, CheckTokenBudget { user_key, budget })?;
        records::from_json(py, "BudgetStatus", &status)
    }

    /// Deletes conversations idle for `days` (default: the configured `cleanup_days`).
    #[pyo3(signature = (days=None))]
    fn cleanup_old_conversations(&self, py: Python<'_>, days: Option<i64>) -> PyResult<u64> {
        let days = days.unwrap_or(self.cleanup_days);
        self.ask(py, CleanupOldConversations { days })
    }

    fn vacuum<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let report = self.ask(py, Vacuum)?;
        records::from_json(py, "VacuumReport", &report)
    }
}
