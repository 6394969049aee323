//! Stable paging: the list's `next_cursor` carries the position a page ended at, so the
//! next page neither repeats nor skips a conversation when the last one shown gets a
//! message (and moves to the top) or is deleted between two pages. `after_id` keeps
//! its documented meaning (the current place of that conversation).

use convstore::store::requests::*;
use convstore::{Role, StoreError};

use crate::fixtures::db::TestDb;
use crate::fixtures::store::*;

fn page(cursor: Option<String>) -> ListConversations {
    ListConversations {
        limit: Some(3),
        cursor,
        ..Default::default()
    }
}

fn users(page: &ConversationPage) -> Vec<&str> {
    page.conversations
        .iter()
        .map(|c| c.user_key.as_str())
        .collect()
}

backend_test!(
    the_cursor_survives_moves_and_deletes_between_pages,
    async |db: &TestDb| {
        let store = db.store().await;
        let mut ids = Vec::new();
        for n in 1..=10 {
            let c = open_conversation(&store, &format!("u{n:02}")).await;
            save(&store, c.id, Role::User, "hello", 1).await;
            ids.push(c.id);
        }
        let first = ok(&store, page(None)).await;
        assert_eq!(users(&first), ["u10", "u09", "u08"]);
        // The last one shown gets a message: it moves to the top.
        save(&store, ids[7], Role::User, "again", 1).await;
        let second = ok(&store, page(first.next_cursor.clone())).await;
        assert_eq!(users(&second), ["u07", "u06", "u05"], "no repeat, no skip");
        // The last one shown is deleted.
        ok(
            &store,
            DeleteConversation {
                conversation_id: ids[4],
            },
        )
        .await;
        let third = ok(&store, page(second.next_cursor.clone())).await;
        assert_eq!(users(&third), ["u04", "u03", "u02"]);
        let last = ok(&store, page(third.next_cursor.clone())).await;
        assert_eq!(users(&last), ["u01"]);
        assert_eq!((last.next_cursor, last.next_after_id), (None, None));

        // after_id still works as documented, and refuses a deleted conversation.
        let by_id = ok(
            &store,
            ListConversations {
                limit: Some(3),
                after_id: Some(ids[6]),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(users(&by_id), ["u06", "u04", "u03"]);
        let gone = ListConversations {
            after_id: Some(ids[4]),
            ..Default::default()
        };
        assert!(matches!(
            call(&store, gone).await,
            Err(StoreError::InvalidInput { .. })
        ));

        // A cursor it did not give, or with after_id, is refused naming it.
        rejects(&store, "cursor", page(Some("not-a-cursor".into()))).await;
        let both = ListConversations {
            after_id: Some(ids[0]),
            ..page(first.next_cursor.clone())
        };
        rejects(&store, "cursor", both).await;
    }
);
