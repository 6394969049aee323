//! The HTTP server of the daemon: [`App::build`] binds the API of a store to its socket
//! (port 0: any free one), [`App::run`] serves it until SIGTERM or SIGINT, when actix-web
//! stops accepting and lets in-flight requests finish. The daemon around it is
//! [`crate::daemon`]; the HTTP tests run the same `App`.

use std::net::SocketAddr;
use std::time::Duration;

use actix_web::HttpServer;
use tracing::info;

use crate::api::{self, ApiState};

/// How long a client may take to close its connection once answered.
const CLIENT_DISCONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How the HTTP server runs; the defaults are the configuration's
/// ([`Config::http_settings`](crate::config::Config::http_settings)).
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Address and port to listen on; port 0 takes any free one.
    pub bind: SocketAddr,
    /// Worker threads.
    pub workers: usize,
    /// How long a client may take to send its request head.
    pub client_request_timeout: Duration,
    /// How long an idle keep-alive connection stays open.
    pub keep_alive: Duration,
    /// How long in-flight requests get to finish on shutdown.
    pub shutdown_timeout: Duration,
}

/// The HTTP API over a store, bound to its socket and not yet serving.
pub struct App {
    server: actix_web::dev::Server,
    addrs: Vec<SocketAddr>,
}

impl App {
    /// Binds the API of `state` to `http.bind` and logs each address it is bound to as
    /// `listening addr=<ip>:<port>` (the port the system chose, for port 0).
    pub fn build(state: ApiState, http: &HttpSettings) -> std::io::Result<App> {
        let server =
            HttpServer::new(move || actix_web::App::new().configure(api::configure(state.clone())))
                .workers(http.workers)
                .client_request_timeout(http.client_request_timeout)
                .client_disconnect_timeout(CLIENT_DISCONNECT_TIMEOUT)
                .keep_alive(http.keep_alive)
                .shutdown_timeout(http.shutdown_timeout.as_secs())
                .bind(http.bind)?;
        let addrs = server.addrs();
        for addr in &addrs {
            info!(addr = %addr, "listening");
        }
        Ok(App {
            server: server.run(),
            addrs,
        })
    }

    /// The addresses the server is bound to.
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// A handle that stops the server (what SIGTERM does), for a caller that runs it
    /// beside other work.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGTERM or SIGINT, then lets in-flight requests finish.
    pub async fn run(self) -> std::io::Result<()> {
        self.server.await
    }
}
