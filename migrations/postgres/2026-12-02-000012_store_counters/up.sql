-- The store-wide totals and each UTC day's activity, kept by every write transaction,
-- so that statistics read a few rows instead of the whole store (PostgreSQL). Days are counted
-- from 1970-01-01. The backfill counts every stored message on the day of its
-- timestamp.
ALTER TABLE conversations ADD COLUMN active_day BIGINT NOT NULL DEFAULT 0;
UPDATE conversations SET active_day = COALESCE(
    (SELECT CAST(messages.timestamp AS DATE) - DATE '1970-01-01' FROM messages
     WHERE messages.conversation_id = conversations.id ORDER BY messages.id DESC LIMIT 1), 0);

CREATE TABLE store_totals (
    shard INTEGER NOT NULL PRIMARY KEY,
    conversations BIGINT NOT NULL DEFAULT 0,
    messages BIGINT NOT NULL DEFAULT 0,
    tokens BIGINT NOT NULL DEFAULT 0
);
INSERT INTO store_totals (shard, conversations, messages, tokens)
    SELECT 0, COUNT(*), COALESCE(SUM(message_count), 0), COALESCE(SUM(total_tokens), 0)
    FROM conversations;
INSERT INTO store_totals (shard) VALUES (1), (2), (3), (4), (5), (6), (7), (8), (9), (10), (11), (12), (13), (14), (15);

CREATE TABLE daily_activity (
    day BIGINT NOT NULL,
    shard INTEGER NOT NULL,
    messages BIGINT NOT NULL DEFAULT 0,
    tokens BIGINT NOT NULL DEFAULT 0,
    active_conversations BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, shard)
);
INSERT INTO daily_activity (day, shard, messages, tokens, active_conversations)
    SELECT day_of, 0, COUNT(*), COALESCE(SUM(tokens), 0), COUNT(DISTINCT conversation_id)
    FROM (SELECT CAST(timestamp AS DATE) - DATE '1970-01-01' AS day_of, tokens, conversation_id FROM messages) AS written
    GROUP BY day_of;
-- The longest conversation is the first of those with the most messages: with the id in
-- the index, that is one index probe however many conversations tie.
DROP INDEX ix_conversations_message_count;
CREATE INDEX ix_conversations_message_count_id ON conversations (message_count, id);
