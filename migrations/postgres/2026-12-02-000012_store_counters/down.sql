DROP INDEX ix_conversations_message_count_id;
CREATE INDEX ix_conversations_message_count ON conversations (message_count);
DROP TABLE daily_activity;
DROP TABLE store_totals;
ALTER TABLE conversations DROP COLUMN active_day;
