//! Human ticket numbers. Record ids are made by the store
//! (`coc_store::new_id`): the domain generates nothing.

/// A human-readable ticket number such as `INC20261122021530123`:
/// `prefix` + UTC date/time of `at_ms` to the second + the last three digits
/// of the milliseconds, plus a 4-digit disambiguator from `seq`.
///
/// Numbers are for people; records are addressed by their ids.
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
}
