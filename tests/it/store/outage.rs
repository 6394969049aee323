//! A database outage: a store whose server cannot be reached answers `Unavailable`
//! quickly (no panic, no hang), and works again, without a restart, once it can.
//!
//! The outage is made by a small TCP proxy between the store and the real server, which
//! can be switched off (listener and every live connection closed) and on again on the
//! same port. SQLite has no server to lose, so its run does nothing.

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use convstore::db::{Backend, DbSettings, DbTarget};
use convstore::store::requests::*;
use convstore::{Role, StoreActor, StoreError};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::fixtures::db::TestDb;
use crate::fixtures::store::*;

/// Longest a call may take while the server is away.
const PATIENCE: Duration = Duration::from_secs(6);

/// A TCP forwarder to `upstream` on a fixed local port that can be switched off and on.
struct Proxy {
    addr: SocketAddr,
    upstream: String,
    running: Option<(watch::Sender<()>, JoinHandle<()>)>,
}

impl Proxy {
    /// A proxy to `upstream` (host:port), switched on, on a free port.
    fn start(upstream: String) -> Proxy {
        let mut proxy = Proxy {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            upstream,
            running: None,
        };
        proxy.on();
        proxy
    }

    /// Listens again on the proxy's port and forwards every connection.
    fn on(&mut self) {
        let socket = TcpSocket::new_v4().expect("a socket");
        socket.set_reuseaddr(true).expect("SO_REUSEADDR");
        socket.bind(self.addr).expect("bind the proxy's port");
        let listener = socket.listen(64).expect("listen");
        self.addr = listener.local_addr().expect("the proxy's address");
        let (stop, stopped) = watch::channel(());
        let task = tokio::spawn(serve(listener, self.upstream.clone(), stopped));
        self.running = Some((stop, task));
    }

    /// Closes the listener and every forwarded connection, and waits until they are.
    async fn off(&mut self) {
        if let Some((stop, task)) = self.running.take() {
            drop(stop);
            task.await.expect("the proxy stops cleanly");
        }
    }
}

async fn serve(listener: TcpListener, upstream: String, mut stopped: watch::Receiver<()>) {
    let mut links = JoinSet::new();
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            accepted = listener.accept() => {
                if let Ok((client, _)) = accepted {
                    links.spawn(forward(client, upstream.clone()));
                }
            }
        }
    }
    drop(listener);
    links.shutdown().await;
}

async fn forward(mut client: TcpStream, upstream: String) {
    if let Ok(mut server) = TcpStream::connect(&upstream).await {
        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
    }
}

/// The host:port of a server URL, and a function giving the same URL on another address.
fn split_authority(url: &str, default_port: u16) -> (String, impl Fn(SocketAddr) -> String) {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (credentials, host_port) = match authority.rsplit_once('@') {
        Some((credentials, host_port)) => (format!("{credentials}@"), host_port),
        None => (String::new(), authority),
    };
    let upstream = if host_port.contains(':') {
        host_port.to_string()
    } else {
        format!("{host_port}:{default_port}")
    };
    let (scheme, path) = (scheme.to_string(), path.to_string());
    (upstream, move |addr| {
        format!("{scheme}://{credentials}{addr}{path}")
    })
}

/// Runs `call`, failing the test if it takes longer than [`PATIENCE`].
async fn promptly<T>(what: &str, call: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let answer = tokio::time::timeout(PATIENCE, call)
        .await
        .unwrap_or_else(|_| panic!("{what} hung during the outage"));
    assert!(
        started.elapsed() < PATIENCE,
        "{what} took {:?}",
        started.elapsed()
    );
    answer
}

#[track_caller]
fn assert_unavailable<T: std::fmt::Debug>(what: &str, result: Result<T, StoreError>) {
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{what}: expected Unavailable, got {result:?}"
    );
}

/// Every kind of call a store gets (reads, a group-committed save, a transaction) fails
/// as `Unavailable` while the proxy is off.
async fn assert_all_unavailable(store: &Store, id: i64) {
    let save = SaveMessage {
        conversation_id: id,
        message: NewMessage::new(Role::User, "lost").tokens(1),
    };
    assert_unavailable(
        "SaveMessage",
        promptly("SaveMessage", call(store, save)).await,
    );
    let load = LoadHistory {
        conversation_id: id,
        ..Default::default()
    };
    assert_unavailable(
        "LoadHistory",
        promptly("LoadHistory", call(store, load)).await,
    );
    let create = GetOrCreate {
        user_key: "newcomer".into(),
        platform: "qq".into(),
        chat_id: None,
    };
    assert_unavailable(
        "GetOrCreate",
        promptly("GetOrCreate", call(store, create)).await,
    );
    assert_unavailable(
        "GetStats",
        promptly("GetStats", call(store, GetStats)).await,
    );
    let usage = UpdateConversationStats {
        conversation_id: id,
        tokens_used: 5,
    };
    assert_unavailable(
        "UpdateConversationStats",
        promptly("UpdateConversationStats", call(store, usage)).await,
    );
}

backend_test!(
    an_outage_answers_unavailable_then_heals,
    async |db: &TestDb| {
        let (url, default_port) = match db.target() {
            DbTarget::Sqlite(_) => return,
            DbTarget::Postgres(url) => (url.clone(), 5432),
            // The MySQL driver would otherwise move a local connection to the server's Unix
            // socket, around the proxy.
            DbTarget::Mysql(url) => (format!("{url}?prefer_socket=false"), 3306),
        };
        let (upstream, on_address) = split_authority(&url, default_port);
        let mut proxy = Proxy::start(upstream);
        let target = DbTarget::parse(Some(&on_address(proxy.addr)), "unused".as_ref())
            .expect("the proxy's URL");
        assert_ne!(target.backend(), Backend::Sqlite);
        let mut settings = DbSettings::new(target);
        settings.busy_timeout = Duration::from_secs(2);
        settings.pool_size = 4;
        let store = StoreActor::open(settings, Default::default())
            .await
            .expect("open through the proxy");

        let c = open_conversation(&store, "user").await;
        let mut expected = vec!["before".to_string()];
        save(&store, c.id, Role::User, "before", 1).await;

        for round in 1..=2 {
            proxy.off().await;
            assert_all_unavailable(&store, c.id).await;
            proxy.on();
            // The same store, unrestarted, works at once.
            let content = format!("after {round}");
            save(&store, c.id, Role::Assistant, &content, 1).await;
            expected.push(content);
            assert_eq!(
                contents(&all_messages(&store, c.id).await),
                expected,
                "nothing of the outage was written"
            );
            let now = conversation(&store, c.id).await;
            assert_eq!(
                (now.message_count, now.total_tokens),
                (1 + round, 1 + round)
            );
            assert_eq!(
                ok(
                    &store,
                    GetConversationByUser {
                        user_key: "newcomer".into()
                    }
                )
                .await,
                None
            );
        }
        proxy.off().await;
    }
);
