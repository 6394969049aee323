-- Summary checkpoints, and the counters that let a context call tell what it left out
-- without reading it: the tokens and user messages (turns) of the stored messages, and
-- of those up to the checkpoint (PostgreSQL).
ALTER TABLE conversations ADD COLUMN summary_covers_through_id BIGINT;
ALTER TABLE conversations ADD COLUMN summary_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN message_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN user_messages BIGINT NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN covered_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN covered_user_messages BIGINT NOT NULL DEFAULT 0;
UPDATE conversations SET
    message_tokens = (SELECT COALESCE(SUM(tokens), 0) FROM messages
                      WHERE messages.conversation_id = conversations.id),
    user_messages = (SELECT COUNT(*) FROM messages
                     WHERE messages.conversation_id = conversations.id AND role = 'user');
