//! Sign-in throttling (A1; issue 14): repeated wrong passwords slow down
//! and then lock out the user name and the source address they came from,
//! with exponentially growing delays, so that guessing a password takes
//! years instead of minutes while a person who mistyped waits seconds.
//!
//! Each key (a user name in a tenant, a source address) has [`Attempts`].
//! A failure past the policy's free ones locks the key for
//! `base × 2^(n − free)` up to `max`; while it is locked, sign-ins with it
//! are refused without looking at the password (and are not counted). A
//! success forgets the user's failures; the address's failures fade after
//! `forget_ms` without a new one, so one valid account cannot be used to
//! reset an address that guesses others.

use serde::{Deserialize, Serialize};

/// What is known of a key's recent failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Attempts {
    /// Failures in a row (since the last success, within `forget_ms`).
    pub failures: u32,
    /// The last failure, Unix ms.
    pub last_failure_at: i64,
    /// Refused until then, Unix ms.
    pub locked_until: Option<i64>,
}

/// How fast a key locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Failures in a row allowed before the first lock.
    pub free: u32,
    /// First lock, ms.
    pub base_ms: i64,
    /// Longest lock, ms.
    pub max_ms: i64,
    /// Failures are forgotten this long after the last one, ms.
    pub forget_ms: i64,
}

/// A user name: 5 free failures, then 1 s, 2 s, 4 s … up to 15 minutes.
pub const PER_USER: Policy = Policy {
    free: 5,
    base_ms: 1_000,
    max_ms: 15 * 60_000,
    forget_ms: 24 * 3_600_000,
};

/// A source address (guessing many names): 20 free failures, then 1 s,
/// 2 s, 4 s … up to an hour.
pub const PER_SOURCE: Policy = Policy {
    free: 20,
    base_ms: 1_000,
    max_ms: 3_600_000,
    forget_ms: 3_600_000,
};

/// How long a key still waits at `now`, ms; `None` when it may try.
pub fn wait_ms(a: Option<&Attempts>, now: i64) -> Option<i64> {
    a.and_then(|a| a.locked_until)
        .filter(|&until| until > now)
        .map(|until| until - now)
}

/// The attempts after a failure at `now`.
pub fn after_failure(a: Option<&Attempts>, p: &Policy, now: i64) -> Attempts {
    let before = a
        .filter(|a| now - a.last_failure_at < p.forget_ms)
        .map_or(0, |a| a.failures);
    let failures = before.saturating_add(1);
    let locked_until = (failures > p.free).then(|| {
        let doublings = (failures - p.free - 1).min(40);
        now + p.base_ms.saturating_mul(1i64 << doublings).min(p.max_ms)
    });
    Attempts {
        failures,
        last_failure_at: now,
        locked_until,
    }
}

/// Seconds for a `Retry-After` header: `ms` rounded up, at least 1.
pub fn retry_after_s(ms: i64) -> i64 {
    ((ms + 999) / 1000).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_grow_exponentially_and_are_capped() {
        let mut a = None;
        let mut locks = vec![];
        for now in 0..30 {
            let next = after_failure(a.as_ref(), &PER_USER, now);
            locks.push(next.locked_until.map(|u| u - now));
            a = Some(next);
        }
        assert!(locks[..5].iter().all(Option::is_none), "{locks:?}");
        assert_eq!(
            &locks[5..9],
            &[Some(1_000), Some(2_000), Some(4_000), Some(8_000)]
        );
        assert_eq!(locks[29], Some(PER_USER.max_ms));
    }

    #[test]
    fn four_hundred_guesses_take_days_not_seconds() {
        // An attacker who waits out every lock.
        let (mut a, mut now) = (None::<Attempts>, 0i64);
        for _ in 0..400 {
            if let Some(w) = wait_ms(a.as_ref(), now) {
                now += w;
            }
            a = Some(after_failure(a.as_ref(), &PER_USER, now));
        }
        assert!(now > 3 * 86_400_000, "400 guesses in {now} ms");
    }

    #[test]
    fn failures_fade_and_waits_count_down() {
        let a = after_failure(None, &PER_SOURCE, 0);
        let later = after_failure(Some(&a), &PER_SOURCE, PER_SOURCE.forget_ms);
        assert_eq!(later.failures, 1);
        let locked = Attempts {
            failures: 9,
            last_failure_at: 0,
            locked_until: Some(5_000),
        };
        assert_eq!(wait_ms(Some(&locked), 1_000), Some(4_000));
        assert_eq!(wait_ms(Some(&locked), 5_000), None);
        assert_eq!(wait_ms(None, 0), None);
        assert_eq!(retry_after_s(1), 1);
        assert_eq!(retry_after_s(4_001), 5);
    }
}
