//! The clients of the crash tests: each saves to a conversation of its own, one message
//! after the other, keeps what was acknowledged, and sends again a save that got no
//! answer; and the tally of what they saw.

use std::cell::Cell;
use std::ops::AddAssign;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use awc::error::SendRequestError;
use serde_json::{Value, json};

use super::CLIENTS;

/// One client: saves to its conversation one message after the other.
pub struct Writer {
    pub conversation: i64,
    pub name: String,
    pub sent: u64,
    /// The saves answered 201 (or 200 on a resend), with the id they were given.
    pub acknowledged: Vec<(Save, i64)>,
    /// The save that got no answer, to send again.
    pub unanswered: Option<Save>,
}

/// One message to save, with its own content and idempotency key.
#[derive(Debug, Clone)]
pub struct Save {
    pub key: String,
    pub content: String,
    pub role: &'static str,
    pub tokens: i64,
}

impl Writer {
    /// The next new save.
    pub fn next_save(&mut self) -> Save {
        self.sent += 1;
        let n = self.sent;
        Save {
            key: format!("{}-{n}", self.name),
            content: format!("{} says {n}", self.name),
            role: if n.is_multiple_of(2) {
                "assistant"
            } else {
                "user"
            },
            tokens: ((n * 7 + self.conversation as u64) % 41) as i64,
        }
    }

    /// Saves (first the unanswered save, if any) until `stopped` or the daemon stops
    /// answering; counts each acknowledged save in `acknowledged`.
    pub async fn write_until(
        &mut self,
        client: &awc::Client,
        base: &str,
        stopped: &Cell<bool>,
        acknowledged: &Cell<u64>,
    ) -> Tally {
        let mut tally = Tally::default();
        while !stopped.get() {
            let (save, resent) = match self.unanswered.take() {
                Some(save) => (save, true),
                None => (self.next_save(), false),
            };
            match post_save(client, base, self.conversation, &save).await {
                Some(answer) => {
                    tally += self.record(save, answer, resent);
                    acknowledged.set(acknowledged.get() + 1);
                }
                None => {
                    self.unanswered = Some(save);
                    tally.unanswered += 1;
                    break;
                }
            }
        }
        tally
    }

    /// Keeps an acknowledged save; a 200 (already stored) is only right for a resend.
    pub fn record(&mut self, save: Save, (id, created): (i64, bool), resent: bool) -> Tally {
        assert!(
            created || resent,
            "{:?} was sent once, yet answered as already stored",
            save.key
        );
        let tally = Tally {
            acknowledged: 1,
            resent_committed: u64::from(resent && !created),
            resent_new: u64::from(resent && created),
            unanswered: 0,
        };
        self.acknowledged.push((save, id));
        tally
    }
}

/// Creates the writers' conversations.
pub async fn open_writers(base: &str, label: &str) -> Vec<Writer> {
    let client = client();
    let mut writers = Vec::with_capacity(CLIENTS);
    for i in 0..CLIENTS {
        let name = format!("{label}{i}");
        let mut response = client
            .post(format!("{base}/v1/conversations"))
            .send_json(&json!({"user_key": format!("crash:{name}"), "platform": "slack"}))
            .await
            .expect("the daemon answers");
        assert_eq!(response.status().as_u16(), 201);
        let conversation: Value = response.json().await.expect("a conversation");
        writers.push(Writer {
            conversation: conversation["id"].as_i64().expect("an id"),
            name,
            sent: 0,
            acknowledged: Vec::new(),
            unanswered: None,
        });
    }
    writers
}

/// Posts `save`; `Some((id, created))` when answered, `None` when the daemon went away
/// first. Any answer other than 201 or 200 fails the test.
pub async fn post_save(
    client: &awc::Client,
    base: &str,
    conversation: i64,
    save: &Save,
) -> Option<(i64, bool)> {
    let sent = client
        .post(format!("{base}/v1/conversations/{conversation}/messages"))
        .send_json(&json!({
            "role": save.role,
            "content": save.content,
            "tokens": save.tokens,
            "idempotency_key": save.key,
        }))
        .await;
    let mut response = match sent {
        Ok(response) => response,
        Err(SendRequestError::Timeout) => panic!("{:?} hung", save.key),
        Err(_) => return None,
    };
    let status = response.status().as_u16();
    let body = response.body().await.ok()?;
    assert!(
        status == 201 || status == 200,
        "{:?}: {status} {}",
        save.key,
        String::from_utf8_lossy(&body)
    );
    let message: Value = serde_json::from_slice(&body).expect("a message");
    assert_eq!(message["conversation_id"], conversation, "{message}");
    assert_eq!(message["content"], save.content.as_str(), "{message}");
    assert_eq!(message["role"], save.role, "{message}");
    assert_eq!(message["tokens"], save.tokens, "{message}");
    Some((message["id"].as_i64().expect("an id"), status == 201))
}

pub async fn get_json(client: &awc::Client, url: &str) -> Value {
    let mut response = client.get(url).send().await.expect("the daemon answers");
    let body = response.body().limit(1 << 30).await.expect("a body");
    assert_eq!(
        response.status().as_u16(),
        200,
        "{url}: {}",
        String::from_utf8_lossy(&body)
    );
    serde_json::from_slice(&body).expect("JSON")
}

/// A client of its own per run, so that no connection outlives its daemon (idle
/// keep-alive connections would hold a graceful stop back).
pub fn client() -> awc::Client {
    awc::Client::builder()
        .timeout(Duration::from_secs(20))
        .finish()
}

/// What the clients saw.
#[derive(Debug, Default)]
pub struct Tally {
    /// Saves answered 201, or 200 on a resend.
    pub acknowledged: u64,
    /// Saves that got no answer (sent again later).
    pub unanswered: u64,
    /// Resends answered 200: the unanswered save had been committed.
    pub resent_committed: u64,
    /// Resends answered 201: the unanswered save had not been committed.
    pub resent_new: u64,
}

impl AddAssign for Tally {
    fn add_assign(&mut self, other: Tally) {
        self.acknowledged += other.acknowledged;
        self.unanswered += other.unanswered;
        self.resent_committed += other.resent_committed;
        self.resent_new += other.resent_new;
    }
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} acknowledged, {} unanswered (resent: {} had been committed, {} had not)",
            self.acknowledged, self.unanswered, self.resent_committed, self.resent_new
        )
    }
}

/// Random-ish delays (xorshift), seeded from the clock; the seed is printed.
pub struct Jitter {
    pub seed: u64,
    pub state: u64,
}

impl Jitter {
    pub fn seeded() -> Jitter {
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1;
        Jitter { seed, state: seed }
    }

    /// A duration in `0..max`.
    pub fn below(&mut self, max: Duration) -> Duration {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        let max = max.as_micros().max(1) as u64;
        Duration::from_micros(self.state % max)
    }
}
