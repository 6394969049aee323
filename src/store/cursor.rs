//! The list cursor: an opaque token of the position a page of `ListConversations` ended
//! at, `(last_activity, id)` in the listing's order, so that the next page starts there
//! whatever became of that conversation meanwhile (a new message moves it to the top, a
//! delete removes it; neither repeats nor skips the others). Written as
//! `<microseconds since 1970 in hex>.<id in hex>`; clients pass it back as they got it.

use chrono::{DateTime, NaiveDateTime};

use crate::error::StoreError;

/// The cursor of the position after conversation `id`, last active at `last_activity`.
pub fn encode(last_activity: NaiveDateTime, id: i64) -> String {
    let micros = last_activity.and_utc().timestamp_micros();
    format!("{micros:x}.{id:x}")
}

/// The position a cursor names; invalid input naming `cursor` when it is not one.
pub fn decode(cursor: &str) -> Result<(NaiveDateTime, i64), StoreError> {
    let invalid = || StoreError::invalid("cursor", "is not a cursor this listing gave");
    let (micros, id) = cursor.split_once('.').ok_or_else(invalid)?;
    let micros = u64::from_str_radix(micros, 16).map_err(|_| invalid())?;
    let id = u64::from_str_radix(id, 16).map_err(|_| invalid())?;
    let at = i64::try_from(micros)
        .ok()
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(invalid)?;
    let id = i64::try_from(id)
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(invalid)?;
    Ok((at.naive_utc(), id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_as_its_position() {
        let at = DateTime::from_timestamp_micros(1_736_330_400_123_456)
            .unwrap()
            .naive_utc();
        assert_eq!(decode(&encode(at, 42)), Ok((at, 42)));
        for bad in [
            "",
            "12",
            "x.1",
            "1.-1",
            "1.0",
            "1.1.1",
            "ffffffffffffffffff.1",
        ] {
            assert!(
                matches!(decode(bad), Err(StoreError::InvalidInput { ref field, .. }) if field == "cursor"),
                "{bad:?}"
            );
        }
    }
}
