//! The store's answers as the package's records (the dataclasses of `convstore.model`),
//! built here from the native values, with no JSON text in between.
//!
//! The records read most (conversations, messages, the context of a turn) are made the
//! way `pickle` restores an object: a bare instance of the dataclass whose `__dict__`
//! gets every field by name, which for these frozen dataclasses (no `__post_init__`) is
//! the state their constructor makes, at a fraction of its cost. The others go through
//! the record's own `from_json` on a native dict, as the remote client reads them.

use chrono::{DateTime, Datelike, Timelike, Utc};
use convstore::store::requests::{SavedMessage, TurnContext};
use convstore::{Conversation, Role, StoredMessage};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDateTime, PyDict, PyList, PyString, PyType, PyTzInfo};
use pyo3::{IntoPyObjectExt, intern};
use serde::Serialize;

const MODEL: &str = "convstore.model";

static CONVERSATION: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static MESSAGE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static SAVED_MESSAGE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static CONTEXT: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// A bare instance of `class` and its `__dict__`, for the fields to go in.
fn bare<'py>(class: &Bound<'py, PyType>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyDict>)> {
    let py = class.py();
    let object = class.call_method1(intern!(py, "__new__"), (class,))?;
    let fields = object
        .getattr(intern!(py, "__dict__"))?
        .cast_into::<PyDict>()?;
    Ok((object, fields))
}

/// A timestamp as an aware `datetime` in UTC, as `convstore.model.parse_timestamp` reads it.
fn timestamp<'py>(py: Python<'py>, moment: &DateTime<Utc>) -> PyResult<Bound<'py, PyDateTime>> {
    let utc = PyTzInfo::utc(py)?;
    // A leap second (nanoseconds past 10^9) is the last microsecond of its second.
    let micros = (moment.nanosecond() / 1_000).min(999_999);
    PyDateTime::new(
        py,
        moment.year(),
        narrow(moment.month()),
        narrow(moment.day()),
        narrow(moment.hour()),
        narrow(moment.minute()),
        narrow(moment.second()),
        micros,
        Some(&*utc),
    )
}

/// A calendar or clock field (month, day, hour, minute, second: all below 256).
fn narrow(value: u32) -> u8 {
    u8::try_from(value).unwrap_or(u8::MAX)
}

fn role<'py>(py: Python<'py>, role: Role) -> &'py Bound<'py, PyString> {
    match role {
        Role::User => intern!(py, "user"),
        Role::Assistant => intern!(py, "assistant"),
        Role::System => intern!(py, "system"),
        Role::Tool => intern!(py, "tool"),
    }
}

/// A `Conversation`.
pub fn conversation<'py>(py: Python<'py>, c: &Conversation) -> PyResult<Bound<'py, PyAny>> {
    let (object, fields) = bare(CONVERSATION.import(py, MODEL, "Conversation")?)?;
    fields.set_item(intern!(py, "id"), c.id)?;
    fields.set_item(intern!(py, "user_key"), &c.user_key)?;
    fields.set_item(intern!(py, "platform"), &c.platform)?;
    fields.set_item(intern!(py, "chat_id"), &c.chat_id)?;
    fields.set_item(intern!(py, "created_at"), timestamp(py, &c.created_at)?)?;
    fields.set_item(
        intern!(py, "last_activity"),
        timestamp(py, &c.last_activity)?,
    )?;
    fields.set_item(intern!(py, "summary"), &c.summary)?;
    fields.set_item(intern!(py, "total_tokens"), c.total_tokens)?;
    fields.set_item(intern!(py, "message_count"), c.message_count)?;
    fields.set_item(intern!(py, "active_persona_id"), &c.active_persona_id)?;
    let covers = intern!(py, "summary_covers_through_id");
    fields.set_item(covers, c.summary_covers_through_id)?;
    fields.set_item(intern!(py, "summary_tokens"), c.summary_tokens)?;
    Ok(object)
}

/// A `Conversation`, or `None`.
pub fn maybe_conversation<'py>(
    py: Python<'py>,
    found: Option<&Conversation>,
) -> PyResult<Bound<'py, PyAny>> {
    match found {
        Some(c) => conversation(py, c),
        None => Ok(py.None().into_bound(py)),
    }
}

/// The fields of a `Message` into `fields`.
fn message_fields(py: Python<'_>, fields: &Bound<'_, PyDict>, m: &StoredMessage) -> PyResult<()> {
    fields.set_item(intern!(py, "id"), m.id)?;
    fields.set_item(intern!(py, "conversation_id"), m.conversation_id)?;
    fields.set_item(intern!(py, "role"), role(py, m.role))?;
    fields.set_item(intern!(py, "content"), &m.content)?;
    fields.set_item(intern!(py, "timestamp"), timestamp(py, &m.timestamp)?)?;
    fields.set_item(intern!(py, "tokens"), m.tokens)?;
    fields.set_item(intern!(py, "metadata"), object(py, &m.metadata)?)?;
    fields.set_item(intern!(py, "idempotency_key"), &m.idempotency_key)?;
    Ok(())
}

/// A `Message`.
pub fn message<'py>(py: Python<'py>, m: &StoredMessage) -> PyResult<Bound<'py, PyAny>> {
    let (object, fields) = bare(MESSAGE.import(py, MODEL, "Message")?)?;
    message_fields(py, &fields, m)?;
    Ok(object)
}

/// A list of `Message`s, in order.
pub fn messages<'py, 'a>(
    py: Python<'py>,
    items: impl IntoIterator<Item = &'a StoredMessage>,
) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for m in items {
        list.append(message(py, m)?)?;
    }
    Ok(list)
}

/// A `SavedMessage`: the message and whether this call stored it.
pub fn saved_message<'py>(py: Python<'py>, saved: &SavedMessage) -> PyResult<Bound<'py, PyAny>> {
    let (object, fields) = bare(SAVED_MESSAGE.import(py, MODEL, "SavedMessage")?)?;
    message_fields(py, &fields, &saved.message)?;
    fields.set_item(intern!(py, "created"), saved.created)?;
    Ok(object)
}

/// A `Context`.
pub fn context<'py>(py: Python<'py>, c: &TurnContext) -> PyResult<Bound<'py, PyAny>> {
    let (object, fields) = bare(CONTEXT.import(py, MODEL, "Context")?)?;
    fields.set_item(intern!(py, "conversation_id"), c.conversation_id)?;
    fields.set_item(intern!(py, "persona_id"), &c.persona_id)?;
    fields.set_item(intern!(py, "summary"), &c.summary)?;
    let covers = intern!(py, "summary_covers_through_id");
    fields.set_item(covers, c.summary_covers_through_id)?;
    fields.set_item(intern!(py, "summary_tokens"), c.summary_tokens)?;
    fields.set_item(intern!(py, "messages"), messages(py, &c.messages)?)?;
    fields.set_item(intern!(py, "omitted_turns"), c.omitted_turns)?;
    fields.set_item(intern!(py, "omitted_tokens"), c.omitted_tokens)?;
    fields.set_item(intern!(py, "total_tokens"), c.total_tokens)?;
    Ok(object)
}

/// The record `convstore.model.<class>.from_json` reads from `answer`'s contract JSON.
pub fn from_json<'py, T: Serialize>(
    py: Python<'py>,
    class: &str,
    answer: &T,
) -> PyResult<Bound<'py, PyAny>> {
    let document = json(py, answer)?;
    let class = py.import(MODEL)?.getattr(class)?;
    class.call_method1(intern!(py, "from_json"), (document,))
}

/// `answer`'s contract JSON as Python values (dicts, lists, str, int, float, bool, None).
pub fn json<'py, T: Serialize>(py: Python<'py>, answer: &T) -> PyResult<Bound<'py, PyAny>> {
    let value = serde_json::to_value(answer).map_err(|error| {
        crate::errors::to_py(py, convstore::StoreError::Internal(error.to_string()))
    })?;
    self::value(py, &value)
}

/// A JSON object as a `dict`.
fn object<'py>(
    py: Python<'py>,
    entries: &serde_json::Map<String, serde_json::Value>,
) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (key, item) in entries {
        dict.set_item(key, value(py, item)?)?;
    }
    Ok(dict)
}

/// A JSON value as the Python value `json.loads` makes of it.
fn value<'py>(py: Python<'py>, item: &serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    use serde_json::Value;
    match item {
        Value::Null => Ok(py.None().into_bound(py)),
        Value::Bool(flag) => Ok(PyBool::new(py, *flag).to_owned().into_any()),
        Value::Number(number) => match (number.as_i64(), number.as_u64()) {
            (Some(signed), _) => signed.into_bound_py_any(py),
            (None, Some(unsigned)) => unsigned.into_bound_py_any(py),
            (None, None) => number.as_f64().unwrap_or(f64::NAN).into_bound_py_any(py),
        },
        Value::String(text) => Ok(PyString::new(py, text).into_any()),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for element in items {
                list.append(value(py, element)?)?;
            }
            Ok(list.into_any())
        }
        Value::Object(entries) => Ok(object(py, entries)?.into_any()),
    }
}
