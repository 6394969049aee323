//! Store errors as the Python package's exceptions (`convstore.errors`), with the same
//! messages the HTTP API gives them, so that both engines raise alike.

use convstore::StoreError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// The exception of `convstore.errors` for `error`.
pub fn to_py(py: Python<'_>, error: StoreError) -> PyErr {
    let (class, message, field) = match error {
        StoreError::NotFound(what) => ("NotFound", format!("{what} not found"), None),
        StoreError::InvalidInput { field, message } => {
            ("InvalidInput", format!("{field}: {message}"), Some(field))
        }
        StoreError::Conflict(what) => ("Conflict", what, None),
        StoreError::Unavailable(detail) => ("Unavailable", detail, None),
        StoreError::Internal(detail) => ("ConvstoreError", detail, None),
    };
    match exception(py, class, message, field) {
        Ok(raised) => raised,
        Err(failed) => failed,
    }
}

/// `convstore.errors.Unavailable(message)`.
pub fn unavailable(py: Python<'_>, message: impl Into<String>) -> PyErr {
    to_py(py, StoreError::Unavailable(message.into()))
}

/// `convstore.errors.InvalidInput(message, field=field)` for a bad argument.
pub fn invalid(py: Python<'_>, field: &str, message: impl std::fmt::Display) -> PyErr {
    to_py(py, StoreError::invalid(field, message.to_string()))
}

fn exception(
    py: Python<'_>,
    class: &str,
    message: String,
    field: Option<String>,
) -> PyResult<PyErr> {
    let class = py.import("convstore.errors")?.getattr(class)?;
    let kwargs = PyDict::new(py);
    if let Some(field) = field {
        kwargs.set_item("field", field)?;
    }
    let instance = class.call((message,), Some(&kwargs))?;
    Ok(PyErr::from_value(instance))
}
