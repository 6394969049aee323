DROP TABLE daily_activity;
DROP TABLE store_totals;
ALTER TABLE conversations DROP COLUMN active_day;
