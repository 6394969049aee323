//! The HTTP API of docs/API.md through a real socket: the daemon's `App` bound to
//! 127.0.0.1:0 over a fresh SQLite store, driven with `awc` as any client would.

mod admin;
mod auth;
mod contract;
mod conversations;
mod errors;
mod messages;
mod transfer;

use std::time::Duration;

use actix::{Addr, Recipient};
use actix_web::http::header::HeaderMap;
use actix_web::http::{Method, StatusCode};
use actix_web::web::Bytes;
use awc::error::PayloadError;
use convstore::StoreActor;
use convstore::api::{ApiSettings, ApiState};
use convstore::app::{App, HttpSettings};
use convstore::config::Config;
use convstore::db::Backend;
use convstore::scheduler::GetSchedule;
use futures_util::Stream;
use serde_json::{Value, json};

use crate::helpers::TestDb;

/// A running API server and a client for it.
pub struct Server {
    base: String,
    token: Option<String>,
    client: awc::Client,
    /// The store behind the server, to set up or check data directly.
    pub store: Addr<StoreActor>,
    _db: Option<TestDb>,
}

impl Server {
    /// A server with the default settings (no token) over a fresh store.
    pub async fn start() -> Server {
        Server::start_with(ApiSettings::default(), None).await
    }

    /// A server with `settings` and `scheduler` over a fresh store.
    pub async fn start_with(
        settings: ApiSettings,
        scheduler: Option<Recipient<GetSchedule>>,
    ) -> Server {
        let db = TestDb::create(Backend::Sqlite)
            .await
            .expect("SQLite needs no server");
        let store = db.store().await;
        Server::serve(store, Some(db), settings, scheduler)
    }

    /// A server over `store` (whose database `db` holds, if the test does not): the
    /// daemon's [`App`] on a free loopback port, with one worker.
    pub fn serve(
        store: Addr<StoreActor>,
        db: Option<TestDb>,
        settings: ApiSettings,
        scheduler: Option<Recipient<GetSchedule>>,
    ) -> Server {
        let token = settings.token.clone();
        let state = ApiState::new(store.clone(), scheduler, settings);
        let http = HttpSettings {
            bind: "127.0.0.1:0".parse().expect("a loopback address"),
            workers: 1,
            shutdown_timeout: Duration::from_secs(1),
            ..Config::default()
                .http_settings()
                .expect("the default HTTP settings")
        };
        let app = App::build(state, &http).expect("bind a loopback port");
        let address = app.addrs()[0];
        // Dropped with the test's runtime, which stops the workers.
        actix_rt::spawn(app.run());
        Server {
            base: format!("http://{address}"),
            token,
            client: awc::Client::builder()
                .timeout(Duration::from_secs(120))
                .finish(),
            store,
            _db: db,
        }
    }

    /// A request to `path`, with the server's token when it has one.
    pub fn request(&self, method: Method, path: &str) -> awc::ClientRequest {
        let request = self.client.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Reply {
        Reply::of(self.request(Method::GET, path).send()).await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> Reply {
        Reply::of(self.request(Method::DELETE, path).send()).await
    }

    /// `POST path` without a body.
    pub async fn post_empty(&self, path: &str) -> Reply {
        Reply::of(self.request(Method::POST, path).send()).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        Reply::of(self.request(Method::POST, path).send_json(body)).await
    }

    /// `PUT path` with a JSON body.
    pub async fn put(&self, path: &str, body: &Value) -> Reply {
        Reply::of(self.request(Method::PUT, path).send_json(body)).await
    }

    /// `POST path` with `body` as it is, sent as `content_type`.
    pub async fn post_raw(&self, path: &str, content_type: &str, body: impl Into<Bytes>) -> Reply {
        let request = self
            .request(Method::POST, path)
            .insert_header(("content-type", content_type));
        Reply::of(request.send_body(body.into())).await
    }

    /// Creates the conversation of `user_key` and returns its id.
    pub async fn conversation(&self, user_key: &str) -> i64 {
        let reply = self
            .post(
                "/v1/conversations",
                &json!({"user_key": user_key, "platform": "feishu"}),
            )
            .await
            .expect(StatusCode::CREATED);
        reply.json()["id"].as_i64().expect("an id")
    }
}

/// An answer, read whole.
#[derive(Debug)]
pub struct Reply {
    /// Its status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body.
    pub body: Bytes,
}

impl Reply {
    async fn of<S>(
        sent: impl Future<Output = Result<awc::ClientResponse<S>, awc::error::SendRequestError>>,
    ) -> Reply
    where
        S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
    {
        let mut response = sent.await.expect("the server answers");
        let body = response
            .body()
            .limit(256 * 1024 * 1024)
            .await
            .expect("a readable body");
        Reply {
            status: response.status(),
            headers: response.headers().clone(),
            body,
        }
    }

    /// Fails unless the status is `status`; returns the reply for more checks.
    #[track_caller]
    pub fn expect(self, status: StatusCode) -> Reply {
        assert_eq!(self.status, status, "body: {}", self.text());
        self
    }

    /// The body as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `Content-Type` header.
    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Checks that this is the contract's error answer with `status` and `code`;
    /// returns its message.
    #[track_caller]
    pub fn error(&self, status: StatusCode, code: &str) -> String {
        assert_eq!(self.status, status, "body: {}", self.text());
        assert_eq!(self.content_type(), "application/json", "{}", self.text());
        let body = self.json();
        let error = body["error"].as_object().expect("an error object");
        assert_eq!(error["code"], code, "{body}");
        assert_eq!(error.len(), 2, "only code and message: {body}");
        error["message"].as_str().expect("a message").to_string()
    }
}

/// The 400 `invalid_input` answer's message, checked to name `field`.
#[track_caller]
pub fn invalid(reply: &Reply, field: &str) -> String {
    let message = reply.error(StatusCode::BAD_REQUEST, "invalid_input");
    assert!(message.contains(field), "{message:?} does not name {field}");
    message
}
