//! Arbitrary bytes as the JSON body of a save (`POST .../messages`) or a batch
//! (`POST .../messages/batch`), read the way the HTTP layer reads bodies (a JSON
//! object, then `serde_path_to_error` into the typed message) and checked the way the
//! store checks a save. Also arbitrary text as a timestamp and a role. Nothing may
//! panic, and an accepted message must be storable and read back.
//!
//! The HTTP layer's own body structs are private to `convstore::api`; the message
//! they turn into, `NewMessage`, and the store's checks are what is reachable.

#![no_main]

use convstore::Role;
use convstore::model::{now, timestamp};
use convstore::store::requests::NewMessage;
use convstore::store::validate;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// A message as `Body<T>` reads a body: a JSON object, then the typed value.
fn body(value: &Value) -> Option<NewMessage> {
    if !value.is_object() {
        return None;
    }
    serde_path_to_error::deserialize(value.clone()).ok()
}

fn check(message: &NewMessage) {
    let Ok(checked) = validate::message("", message.clone(), 1 << 20, now()) else {
        return;
    };
    assert!(checked.tokens >= 0);
    assert!(!checked.content.contains('\0'));
    if let Some(text) = &checked.metadata_json {
        // What is stored reads back as the object the answer shows.
        let metadata: Value = serde_json::from_str(text).expect("stored metadata reads back");
        assert_eq!(metadata, Value::Object(checked.metadata.clone()));
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(t) = timestamp::parse(text) {
            // What is read is written back in the contract's form, which reads again.
            assert_eq!(timestamp::parse(&timestamp::format(&t)), Ok(t));
        }
        let _ = text.parse::<Role>();
    }
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    if let Some(message) = body(&value) {
        check(&message);
    }
    if let Some(Value::Array(items)) = value.get("messages") {
        for item in items {
            if let Some(message) = body(item) {
                check(&message);
            }
        }
    }
});
