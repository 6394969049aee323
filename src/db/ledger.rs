//! What one write transaction changes in the store-wide counters: the totals (rows of
//! `conversations`, the sums of their message and token counters) and each UTC day's
//! activity. Data only: the counter functions of `conversation_table` record into the
//! connection's ledger as they change rows, and `conversation_table::store_counters`
//! writes it as the transaction's last statements.

use chrono::NaiveDateTime;

/// Seconds in a day.
const DAY_SECONDS: i64 = 86_400;

/// The UTC day of `time`, as days since 1970-01-01 (the `day` of `daily_activity` and
/// the `active_day` of a conversation).
pub fn day_number(time: NaiveDateTime) -> i64 {
    time.and_utc().timestamp().div_euclid(DAY_SECONDS)
}

/// Changes to the store-wide totals.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    /// Conversations added (negative: removed).
    pub conversations: i64,
    /// Messages added to the conversations' counters.
    pub messages: i64,
    /// Tokens added to the conversations' counters.
    pub tokens: i64,
}

impl Totals {
    /// Whether nothing changed.
    pub fn is_zero(&self) -> bool {
        *self == Totals::default()
    }
}

/// One UTC day's activity: what was written that day.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DayActivity {
    /// Messages saved.
    pub messages: i64,
    /// Tokens of those messages, and usage recorded.
    pub tokens: i64,
    /// Conversations that had their first save or usage of the day.
    pub active_conversations: i64,
}

/// The counter changes of one transaction, not yet written.
#[derive(Debug, Default, Clone)]
pub struct Ledger {
    /// Store-wide totals.
    pub totals: Totals,
    /// Activity per day (a transaction that spans midnight has two), by day number.
    pub days: Vec<(i64, DayActivity)>,
}

impl Ledger {
    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.totals.is_zero() && self.days.is_empty()
    }

    /// Adds `activity` to day `day`.
    pub fn add_activity(&mut self, day: i64, activity: DayActivity) {
        let slot = match self.days.iter_mut().find(|(d, _)| *d == day) {
            Some((_, slot)) => slot,
            None => {
                self.days.push((day, DayActivity::default()));
                &mut self.days.last_mut().expect("just pushed").1
            }
        };
        slot.messages += activity.messages;
        slot.tokens += activity.tokens;
        slot.active_conversations += activity.active_conversations;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn days_are_counted_from_the_epoch_in_utc() {
        let at = |d: u32, h: u32| {
            NaiveDate::from_ymd_opt(1970, 1, d)
                .and_then(|day| day.and_hms_opt(h, 0, 0))
                .expect("a valid time")
        };
        assert_eq!(day_number(at(1, 0)), 0);
        assert_eq!(day_number(at(1, 23)), 0);
        assert_eq!(day_number(at(2, 0)), 1);
        let before = NaiveDate::from_ymd_opt(1969, 12, 31)
            .and_then(|day| day.and_hms_opt(23, 0, 0))
            .expect("a valid time");
        assert_eq!(day_number(before), -1);
    }

    #[test]
    fn activity_adds_up_per_day() {
        let mut ledger = Ledger::default();
        assert!(ledger.is_empty());
        let one = DayActivity {
            messages: 2,
            tokens: 30,
            active_conversations: 1,
        };
        ledger.add_activity(7, one);
        ledger.add_activity(8, one);
        ledger.add_activity(7, one);
        assert_eq!(ledger.days.len(), 2);
        assert_eq!(ledger.days[0].1.messages, 4);
        assert_eq!(ledger.days[1].1.active_conversations, 1);
        assert!(!ledger.is_empty());
    }
}
