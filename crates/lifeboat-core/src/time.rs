//! Time as Lifeboat records it: Unix seconds in the catalog and manifests, UTC stamps in
//! ids and file names, calendar buckets for retention. All calendar arithmetic is chrono's.

use chrono::{DateTime, Datelike, Utc};

/// Now, in Unix seconds.
pub fn unix_now() -> i64 {
    Utc::now().timestamp()
}

/// `unix` (seconds) as a UTC date and time; times outside chrono's range are the epoch.
pub fn utc(unix: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(unix, 0).unwrap_or_default()
}

/// `at` as a UTC date and time, to the nanosecond.
pub fn utc_of(at: std::time::SystemTime) -> DateTime<Utc> {
    DateTime::<Utc>::from(at)
}

/// `20261123T014501Z`: a second, sortable as text and valid in any file name.
pub fn stamp(unix: i64) -> String {
    utc(unix).format("%Y%m%dT%H%M%SZ").to_string()
}

/// `20261123T014501.123Z`: [`stamp`] to the millisecond.
pub fn stamp_millis(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%S%.3fZ").to_string()
}

/// `2026-11-23`: the UTC date.
pub fn date(unix: i64) -> String {
    utc(unix).format("%Y-%m-%d").to_string()
}

/// `2026-11-23 01:45 UTC`: a time for people, to the minute.
pub fn minute(unix: i64) -> String {
    utc(unix).format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The UTC month of `unix`, counted from year 0 (consecutive months differ by one).
pub fn month_number(unix: i64) -> i64 {
    let t = utc(unix);
    i64::from(t.year()) * 12 + i64::from(t.month())
}

/// The UTC year of `unix`.
pub fn year(unix: i64) -> i64 {
    i64::from(utc(unix).year())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_and_calendar() {
        assert_eq!(stamp(0), "19700101T000000Z");
        assert_eq!(date(951_782_400), "2000-02-29");
        assert_eq!(minute(1_795_389_296), "2026-11-22 23:14 UTC");
        let at = std::time::UNIX_EPOCH + std::time::Duration::new(1_795_389_296, 123_456_789);
        assert_eq!(stamp_millis(utc_of(at)), "20261122T231456.123Z");
        assert_eq!(month_number(951_782_400) - month_number(946_684_800), 1);
        assert_eq!(year(-1), 1969);
    }
}
