-- Conversations and their messages (PostgreSQL).
CREATE TABLE conversations (
    id BIGSERIAL PRIMARY KEY,
    user_key VARCHAR(255) NOT NULL UNIQUE,
    platform VARCHAR(50) NOT NULL,
    chat_id VARCHAR(255),
    created_at TIMESTAMP NOT NULL,
    last_activity TIMESTAMP NOT NULL,
    summary TEXT,
    total_tokens BIGINT NOT NULL DEFAULT 0,
    message_count BIGINT NOT NULL DEFAULT 0,
    active_persona_id VARCHAR(255)
);
CREATE INDEX ix_conversations_chat_id ON conversations (chat_id);
CREATE INDEX ix_conversations_last_activity ON conversations (last_activity);
CREATE INDEX ix_conversations_message_count ON conversations (message_count);

CREATE TABLE messages (
    id BIGSERIAL PRIMARY KEY,
    conversation_id BIGINT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    role VARCHAR(20) NOT NULL,
    content TEXT NOT NULL,
    timestamp TIMESTAMP NOT NULL,
    tokens INTEGER NOT NULL DEFAULT 0,
    metadata_json TEXT,
    idempotency_key VARCHAR(255)
);
CREATE INDEX ix_messages_conversation_id_id ON messages (conversation_id, id);
-- Partial: messages saved without a key (most of them) cost this index nothing.
CREATE UNIQUE INDEX ux_messages_idempotency ON messages (conversation_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
