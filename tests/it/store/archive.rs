//! Retention never loses data silently: with an archive folder set, a cleanup first
//! writes every conversation it deletes to a dated NDJSON file, which imports back.

use convstore::store::requests::*;
use convstore::store::{EXPORT_PAGE_BYTES, StoreSettings};
use convstore::transfer::ExportDocument;

use crate::fixtures::db::TestDb;
use crate::fixtures::store::{document, document_message, export_all, import, ok};

backend_test!(cleanup_archives_what_it_deletes, async |db: &TestDb| {
    let archive = tempfile::tempdir().unwrap();
    let store = db
        .store_with(StoreSettings {
            archive_dir: Some(archive.path().to_path_buf()),
            // One message a page: each document is written in several.
            max_content_bytes: EXPORT_PAGE_BYTES,
            ..Default::default()
        })
        .await;
    let old = "2020-01-01T00:00:00Z";
    for i in 0..3 {
        let messages = vec![
            document_message("user", &format!("question {i}"), old, 3),
            document_message("assistant", &format!("answer {i}"), old, 4),
        ];
        import(&store, document(&format!("old-{i}"), "qq", old, messages)).await;
    }
    let recent = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    import(&store, document("recent", "qq", &recent, vec![])).await;
    let before: Vec<ExportDocument> = export_all(&store).await;

    let deleted = ok(&store, CleanupOldConversations { days: 30 }).await;
    assert_eq!(deleted, 3);

    let files: Vec<_> = std::fs::read_dir(archive.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "one archive file for the day: {files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("cleanup-") && name.ends_with(".ndjson"),
        "{name}"
    );
    let text = std::fs::read_to_string(&files[0]).unwrap();
    let archived: Vec<ExportDocument> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut users: Vec<&str> = archived
        .iter()
        .map(|d| d.conversation.user_key.as_str())
        .collect();
    users.sort_unstable();
    assert_eq!(users, ["old-0", "old-1", "old-2"]);
    for (document, line) in archived.iter().zip(text.lines()) {
        let original = before
            .iter()
            .find(|d| d.conversation.user_key == document.conversation.user_key)
            .unwrap();
        assert_eq!(
            document, original,
            "the archive holds the conversation as it was"
        );
        assert_eq!(
            line,
            serde_json::to_string(original).unwrap(),
            "the export's bytes"
        );
    }

    // The archive imports back.
    for line in text.lines() {
        let obtained = ok(
            &store,
            ImportConversation {
                document: serde_json::from_str(line).unwrap(),
                on_conflict: OnConflict::Skip,
            },
        )
        .await;
        assert!(obtained.created);
        assert_eq!(obtained.conversation.message_count, 2);
        assert_eq!(obtained.conversation.total_tokens, 7);
    }
});
