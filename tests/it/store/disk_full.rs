//! SQLite on a full disk: the store lives on a small tmpfs (mounted by the test, which
//! needs root; CI runs as root) that also holds a ballast file. Saves until the disk is
//! full answer `Unavailable` naming the cause (no panic), reads keep working, every
//! acknowledged save is there, and once the ballast is removed writes succeed again.

use std::path::Path;
use std::process::Command;

use convstore::db::{DbSettings, DbTarget};
use convstore::store::requests::*;
use convstore::{Role, StoreActor, StoreError};

use crate::fixtures::db::REQUIRE_VAR;
use crate::fixtures::store::*;

/// Size of the filesystem.
const DISK: &str = "size=6m";
/// The ballast that, removed, frees room again.
const BALLAST_BYTES: usize = 2 << 20;
/// Each save's content.
const CONTENT_BYTES: usize = 16 << 10;

/// A tmpfs mounted on a temporary folder, unmounted when dropped.
struct SmallDisk(tempfile::TempDir);

impl SmallDisk {
    fn mount() -> Option<SmallDisk> {
        let dir = tempfile::tempdir().expect("a mount point");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", DISK, "tmpfs"])
            .arg(dir.path())
            .output()
            .is_ok_and(|out| out.status.success());
        mounted.then_some(SmallDisk(dir))
    }

    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

#[actix_rt::test]
async fn a_full_disk_answers_unavailable_and_heals_when_space_returns() {
    let Some(disk) = SmallDisk::mount() else {
        assert!(
            std::env::var(REQUIRE_VAR).as_deref() != Ok("1"),
            "{REQUIRE_VAR}=1 and no tmpfs could be mounted (the test needs root)"
        );
        eprintln!("skipping the full-disk test: cannot mount a tmpfs (needs root)");
        return;
    };
    let ballast = disk.path().join("ballast");
    std::fs::write(&ballast, vec![7u8; BALLAST_BYTES]).unwrap();
    let target = DbTarget::Sqlite(disk.path().join("conversations.db"));
    let store = StoreActor::open(DbSettings::new(target), Default::default())
        .await
        .expect("open the store on the small disk");
    let c = open_conversation(&store, "full").await;

    let mut acknowledged = Vec::new();
    let full = loop {
        let content = format!("{}{}", acknowledged.len(), "x".repeat(CONTENT_BYTES));
        let saved = call(
            &store,
            SaveMessage {
                conversation_id: c.id,
                message: NewMessage::new(Role::User, content.clone()).tokens(1),
            },
        )
        .await;
        match saved {
            Ok(_) => acknowledged.push(content),
            Err(error) => break error,
        }
        assert!(acknowledged.len() < 10_000, "the disk never filled");
    };
    assert!(
        matches!(&full, StoreError::Unavailable(m) if m.contains("full")),
        "{full:?}"
    );
    assert!(!acknowledged.is_empty());
    // Reads keep working, and hold every acknowledged save.
    let stored = all_messages(&store, c.id).await;
    assert_eq!(contents(&stored), acknowledged);
    assert_eq!(
        conversation(&store, c.id).await.message_count,
        acknowledged.len() as i64
    );

    std::fs::remove_file(&ballast).unwrap();
    let content = "after the space came back".to_string();
    save(&store, c.id, Role::User, &content, 1).await;
    acknowledged.push(content);
    assert_eq!(contents(&all_messages(&store, c.id).await), acknowledged);
}
