//! The soak's HTTP client: it counts every request and notes every failure, so that the
//! test can report them all at the end.

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde_json::Value;

/// What the clients did, and every way a request went wrong.
#[derive(Default)]
pub struct Tally {
    pub requests: RefCell<BTreeMap<&'static str, u64>>,
    pub errors: RefCell<Vec<String>>,
}

impl Tally {
    pub fn error(&self, message: String) {
        self.errors.borrow_mut().push(message);
    }

    pub fn total(&self) -> u64 {
        self.requests.borrow().values().sum()
    }
}

/// An HTTP client of the daemon that counts its requests and notes every failure.
pub struct Client<'a> {
    pub http: awc::Client,
    pub base: String,
    pub tally: &'a Tally,
}

impl Client<'_> {
    /// Sends `method path` (with `body` as JSON, if any); returns the answer's JSON
    /// (`Null` for an empty body) if its status is `expected`, else notes an error.
    pub async fn call(
        &self,
        kind: &'static str,
        method: awc::http::Method,
        path: &str,
        body: Option<&Value>,
        expected: u16,
    ) -> Option<Value> {
        *self.tally.requests.borrow_mut().entry(kind).or_default() += 1;
        let request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        let sent = match body {
            Some(body) => request.send_json(body).await,
            None => request.send().await,
        };
        let mut response = match sent {
            Ok(response) => response,
            Err(error) => {
                self.tally.error(format!("{method} {path}: {error}"));
                return None;
            }
        };
        let status = response.status().as_u16();
        let bytes = match response.body().limit(256 * 1024 * 1024).await {
            Ok(bytes) => bytes,
            Err(error) => {
                self.tally
                    .error(format!("{method} {path}: reading the body: {error}"));
                return None;
            }
        };
        if status != expected {
            self.tally.error(format!(
                "{method} {path}: {status} instead of {expected}: {}",
                String::from_utf8_lossy(&bytes)
            ));
            return None;
        }
        if bytes.is_empty() {
            return Some(Value::Null);
        }
        if kind == "export" {
            // NDJSON: one document a line, handed back as an array.
            let lines: Result<Vec<Value>, _> = bytes
                .split(|b| *b == b'\n')
                .filter(|line| !line.is_empty())
                .map(serde_json::from_slice)
                .collect();
            return match lines {
                Ok(lines) => Some(Value::Array(lines)),
                Err(error) => {
                    self.tally
                        .error(format!("{method} {path}: a line is not JSON: {error}"));
                    None
                }
            };
        }
        match serde_json::from_slice(&bytes) {
            Ok(value) => Some(value),
            Err(error) => {
                self.tally
                    .error(format!("{method} {path}: not JSON: {error}"));
                None
            }
        }
    }

    pub async fn get(&self, kind: &'static str, path: &str) -> Option<Value> {
        self.call(kind, awc::http::Method::GET, path, None, 200)
            .await
    }
}
