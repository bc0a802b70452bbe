//! Identifiers: time-ordered UUIDv7 record ids and human ticket numbers.

/// A new time-ordered record id (UUIDv7, lowercase hyphenated text).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A human-readable ticket number such as `INC20261122021530123`:
/// `prefix` + UTC date/time of `at_ms` to the second + the last three digits
/// of the milliseconds, plus a 4-digit disambiguator from `seq`.
///
/// Numbers are for people; records are addressed by [`new_id`] ids.
pub fn ticket_number(prefix: &str, at_ms: i64, seq: u32) -> String {
    let dt = chrono::DateTime::from_timestamp_millis(at_ms).unwrap_or_default();
    format!(
        "{prefix}{}{:03}{:04}",
        dt.format("%Y%m%d%H%M%S"),
        at_ms.rem_euclid(1000),
        seq % 10_000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_number_shape() {
        // 2026-11-22T00:00:00.123Z
        let n = ticket_number("INC", 1_795_305_600_123, 7);
        assert_eq!(n, "INC202611220000001230007");
    }

    #[test]
    fn ids_are_time_ordered() {
        let a = new_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_id();
        assert!(a < b);
    }
}
