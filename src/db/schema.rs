//! The two tables, in diesel's terms. Hand-written with portable types only, so that
//! one schema serves all three backends.

diesel::table! {
    conversations (id) {
        id -> BigInt,
        user_key -> Text,
        platform -> Text,
        chat_id -> Nullable<Text>,
        created_at -> Timestamp,
        last_activity -> Timestamp,
        summary -> Nullable<Text>,
        total_tokens -> BigInt,
        message_count -> BigInt,
        active_persona_id -> Nullable<Text>,
    }
}

diesel::table! {
    messages (id) {
        id -> BigInt,
        conversation_id -> BigInt,
        role -> Text,
        content -> Text,
        timestamp -> Timestamp,
        tokens -> Integer,
        metadata_json -> Nullable<Text>,
        idempotency_key -> Nullable<Text>,
    }
}

diesel::joinable!(messages -> conversations (conversation_id));
diesel::allow_tables_to_appear_in_same_query!(conversations, messages);
