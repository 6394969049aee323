ALTER TABLE conversations DROP COLUMN covered_user_messages;
ALTER TABLE conversations DROP COLUMN covered_tokens;
ALTER TABLE conversations DROP COLUMN user_messages;
ALTER TABLE conversations DROP COLUMN message_tokens;
ALTER TABLE conversations DROP COLUMN summary_tokens;
ALTER TABLE conversations DROP COLUMN summary_covers_through_id;
