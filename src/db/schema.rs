//! The tables, in diesel's terms. Hand-written with portable types only, so that
//! one schema serves all three backends. Public for tools that work on a database
//! directly (the benchmark's raw SQLite ceiling); the store's own queries are in the
//! table modules.

diesel::table! {
    /// One row per user: identity, counters, summary and persona.
    conversations (id) {
        /// Primary key.
        id -> BigInt,
        /// Unique user identifier (up to 255 characters).
        user_key -> Text,
        /// Platform name (up to 50 characters).
        platform -> Text,
        /// Chat or group id.
        chat_id -> Nullable<Text>,
        /// Creation time (UTC).
        created_at -> Timestamp,
        /// Last activity (UTC).
        last_activity -> Timestamp,
        /// Summary of the conversation so far.
        summary -> Nullable<Text>,
        /// Tokens used: the messages' plus usage recorded separately.
        total_tokens -> BigInt,
        /// Messages stored.
        message_count -> BigInt,
        /// The persona the bot plays.
        active_persona_id -> Nullable<Text>,
        /// The newest message the summary stands for (the checkpoint), if one is set.
        summary_covers_through_id -> Nullable<BigInt>,
        /// Tokens of the summary while a checkpoint is set, else 0.
        summary_tokens -> BigInt,
        /// Tokens of the stored messages (`total_tokens` less usage not tied to one).
        message_tokens -> BigInt,
        /// Stored `user` messages: the turns.
        user_messages -> BigInt,
        /// `message_tokens` of the messages up to the checkpoint (0 without one).
        covered_tokens -> BigInt,
        /// `user_messages` up to the checkpoint (0 without one).
        covered_user_messages -> BigInt,
        /// The UTC day (days since 1970-01-01) of its last save or usage, so that a
        /// day's active conversations count each conversation once.
        active_day -> BigInt,
    }
}

diesel::table! {
    /// One row per message; deleted with its conversation.
    messages (id) {
        /// Primary key; grows with the order of saves.
        id -> BigInt,
        /// The conversation it belongs to.
        conversation_id -> BigInt,
        /// `user`, `assistant`, `system` or `tool`.
        role -> Text,
        /// The text.
        content -> Text,
        /// Save time (UTC).
        timestamp -> Timestamp,
        /// Token count.
        tokens -> Integer,
        /// A JSON object as text, or NULL.
        metadata_json -> Nullable<Text>,
        /// The caller's idempotency key, unique per conversation.
        idempotency_key -> Nullable<Text>,
    }
}

diesel::table! {
    /// The store-wide totals, in shards: each write transaction adds what it changed to
    /// one shard, so that writers do not queue on one row; the totals are the sums.
    store_totals (shard) {
        /// Shard number, 0 to 15.
        shard -> Integer,
        /// Conversations.
        conversations -> BigInt,
        /// The sum of their message counters.
        messages -> BigInt,
        /// The sum of their token counters.
        tokens -> BigInt,
    }
}

diesel::table! {
    /// What was written on each UTC day, in shards as `store_totals`.
    daily_activity (day, shard) {
        /// Days since 1970-01-01.
        day -> BigInt,
        /// Shard number.
        shard -> Integer,
        /// Messages saved that day.
        messages -> BigInt,
        /// Their tokens, and usage recorded that day.
        tokens -> BigInt,
        /// Conversations with a save or usage that day.
        active_conversations -> BigInt,
    }
}

diesel::joinable!(messages -> conversations (conversation_id));
diesel::allow_tables_to_appear_in_same_query!(
    conversations,
    messages,
    store_totals,
    daily_activity
);
