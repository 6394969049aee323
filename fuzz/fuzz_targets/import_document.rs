//! Arbitrary bytes as an import document: reading one must never panic, and what it
//! accepts must be what an import can store and read back.

#![no_main]

use convstore::model::now;
use convstore::store::import::read_document;
use convstore::store::validate;
use convstore::transfer::ExportDocument;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(document) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    // The typed form of an export (what `convstore import` and clients read).
    let _ = serde_json::from_value::<ExportDocument>(document.clone());

    let Ok(read) = read_document(&document, 1 << 20, now()) else {
        return;
    };
    assert!(validate::user_key(&read.user_key).is_ok());
    assert!(validate::platform(&read.platform).is_ok());
    assert!(read.total_tokens >= 0);
    for message in &read.messages {
        assert!(message.tokens >= 0);
        assert!(!message.content.contains('\0'));
        if let Some(text) = &message.metadata_json {
            // Stored metadata must read back as an object, or every later read of
            // the conversation fails.
            let metadata: Value = serde_json::from_str(text).expect("stored metadata reads back");
            assert!(metadata.is_object());
        }
    }
});
