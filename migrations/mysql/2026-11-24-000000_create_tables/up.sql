-- Conversations and their messages (MySQL / MariaDB, InnoDB, utf8mb4). The unique keys
-- (user_key, idempotency_key) are VARBINARY: compared byte for byte, as on the other
-- backends; a text collation, even utf8mb4_bin, ignores trailing spaces (PAD SPACE).
-- 1020 bytes hold the 255 characters the store allows.
CREATE TABLE conversations (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_key VARBINARY(1020) NOT NULL,
    platform VARCHAR(50) NOT NULL,
    chat_id VARCHAR(255),
    created_at DATETIME(6) NOT NULL,
    last_activity DATETIME(6) NOT NULL,
    summary MEDIUMTEXT,
    total_tokens BIGINT NOT NULL DEFAULT 0,
    message_count BIGINT NOT NULL DEFAULT 0,
    active_persona_id VARCHAR(255),
    UNIQUE KEY ux_conversations_user_key (user_key),
    KEY ix_conversations_chat_id (chat_id),
    KEY ix_conversations_last_activity (last_activity),
    KEY ix_conversations_message_count (message_count)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE messages (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    conversation_id BIGINT NOT NULL,
    role VARCHAR(20) NOT NULL,
    content MEDIUMTEXT NOT NULL,
    timestamp DATETIME(6) NOT NULL,
    tokens INT NOT NULL DEFAULT 0,
    metadata_json MEDIUMTEXT,
    idempotency_key VARBINARY(1020),
    KEY ix_messages_conversation_id_id (conversation_id, id),
    UNIQUE KEY ux_messages_idempotency (conversation_id, idempotency_key),
    CONSTRAINT fk_messages_conversation FOREIGN KEY (conversation_id)
        REFERENCES conversations (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
