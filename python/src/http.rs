//! [`HttpTransport`]: the remote client's HTTP/1.1 transport in Rust, for plain `http://`
//! daemons. One keep-alive connection pool (ureq's agent) shared by every Python thread;
//! a request waits for its answer with the GIL released. It only carries bytes: the
//! Python client builds the requests, reads the answers and decides about retries, so
//! those rules are the same whichever transport carries them.

use std::io::Read;
use std::time::Duration;

use pyo3::create_exception;
use pyo3::exceptions::PyConnectionError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

create_exception!(
    _native,
    Unsent,
    PyConnectionError,
    "The request did not leave: no connection could be made (repeating it is always safe)."
);
create_exception!(
    _native,
    MaybeSent,
    PyConnectionError,
    "The connection failed after the request may have reached the daemon."
);

/// A keep-alive pool of connections to one daemon.
#[pyclass(module = "convstore._native", frozen)]
pub struct HttpTransport {
    agent: ureq::Agent,
    base_url: String,
    headers: Vec<(String, String)>,
}

/// What went wrong with a request that got no answer, as the exception to raise.
fn failure(error: ureq::Transport) -> PyErr {
    use ureq::ErrorKind;
    let message = error.to_string();
    match error.kind() {
        ErrorKind::Dns | ErrorKind::ConnectionFailed | ErrorKind::InvalidUrl => {
            Unsent::new_err(message)
        }
        _ => MaybeSent::new_err(message),
    }
}

#[pymethods]
impl HttpTransport {
    /// A pool for the daemon at `base_url` (`http://host:port`), sending `headers` with
    /// every request; `timeout_s` bounds a whole request, `max_connections` the idle
    /// connections kept.
    #[new]
    fn new(
        base_url: String,
        headers: Vec<(String, String)>,
        timeout_s: f64,
        max_connections: usize,
    ) -> HttpTransport {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs_f64(timeout_s))
            .max_idle_connections(max_connections)
            .max_idle_connections_per_host(max_connections)
            .redirects(0)
            .build();
        HttpTransport {
            agent,
            base_url,
            headers,
        }
    }

    /// Sends `method path` (the path with its query) with an optional JSON body, and
    /// answers `(status, body)`. Raises `Unsent` or `MaybeSent` when no answer came.
    #[pyo3(signature = (method, path, body=None))]
    fn request<'py>(
        &self,
        py: Python<'py>,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> PyResult<(u16, Bound<'py, PyBytes>)> {
        let url = format!("{}{path}", self.base_url);
        let (status, content) = py.detach(|| -> PyResult<(u16, Vec<u8>)> {
            let mut request = self.agent.request(method, &url);
            for (name, value) in &self.headers {
                request = request.set(name, value);
            }
            let sent = match &body {
                Some(body) => request
                    .set("Content-Type", "application/json")
                    .send_bytes(body),
                None => request.call(),
            };
            let response = match sent {
                Ok(response) | Err(ureq::Error::Status(_, response)) => response,
                Err(ureq::Error::Transport(error)) => return Err(failure(error)),
            };
            let status = response.status();
            let mut content = Vec::new();
            response
                .into_reader()
                .read_to_end(&mut content)
                .map_err(|error| MaybeSent::new_err(error.to_string()))?;
            Ok((status, content))
        })?;
        Ok((status, PyBytes::new(py, &content)))
    }
}

/// Adds the transport and its exceptions to the module.
pub fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<HttpTransport>()?;
    module.add("Unsent", module.py().get_type::<Unsent>())?;
    module.add("MaybeSent", module.py().get_type::<MaybeSent>())
}
