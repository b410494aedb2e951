//! Jittered exponential backoff. Jitter spreads retries so that a region's shifts opening at
//! once do not bring every CASHIERS_SHIFT_CLOSED retry due in the same second.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct RetryPolicy {
    /// Delay before the first retry, in milliseconds.
    pub initial_ms: u64,
    /// Growth per attempt, in percent (200 = doubles).
    pub multiplier_pct: u32,
    /// Longest delay between attempts, in milliseconds.
    pub max_delay_ms: u64,
    /// Attempts before a payment goes to needs attention.
    pub max_attempts: u32,
    /// Random spread of each delay, in percent (20 = ±20%).
    pub jitter_pct: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        // Staff need minutes to open a shift or fix a printer: keep trying for about an hour.
        RetryPolicy {
            initial_ms: 2_000,
            multiplier_pct: 200,
            max_delay_ms: 60_000,
            max_attempts: 70,
            jitter_pct: 20,
        }
    }
}

impl RetryPolicy {
    /// The delay after `attempt` failed attempts (1-based), before jitter.
    pub fn base_delay(&self, attempt: u32) -> Duration {
        let mut ms = self.initial_ms.max(1);
        for _ in 1..attempt.max(1) {
            ms = ms.saturating_mul(u64::from(self.multiplier_pct)) / 100;
            if ms >= self.max_delay_ms {
                break;
            }
        }
        Duration::from_millis(ms.min(self.max_delay_ms.max(1)))
    }

    /// The delay after `attempt` failed attempts, with jitter from `unit`, a random number in
    /// `0..=1_000_000` (passed in so the core stays free of I/O and deterministic in tests).
    pub fn delay(&self, attempt: u32, unit: u32) -> Duration {
        // In u128: a cap of centuries (a misconfiguration) must not overflow into a panic.
        let base = self.base_delay(attempt).as_millis();
        let spread = base * u128::from(self.jitter_pct.min(100)) / 100;
        let offset = spread * 2 * u128::from(unit.min(1_000_000)) / 1_000_000;
        let ms = (base - spread + offset).max(1);
        Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
    }

    /// Whether another attempt is allowed after `attempts` attempts.
    pub fn may_retry(&self, attempts: u32) -> bool {
        attempts < self.max_attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_caps() {
        let p = RetryPolicy {
            initial_ms: 1000,
            multiplier_pct: 200,
            max_delay_ms: 5000,
            max_attempts: 5,
            jitter_pct: 0,
        };
        let ms: Vec<u64> = (1..=5).map(|a| p.delay(a, 0).as_millis() as u64).collect();
        assert_eq!(ms, [1000, 2000, 4000, 5000, 5000]);
        assert!(p.may_retry(4));
        assert!(!p.may_retry(5));
    }

    #[test]
    fn jitter_stays_within_bounds() {
        let p = RetryPolicy {
            jitter_pct: 20,
            ..RetryPolicy::default()
        };
        let base = p.base_delay(3).as_millis() as u64;
        let lo = p.delay(3, 0).as_millis() as u64;
        let hi = p.delay(3, 1_000_000).as_millis() as u64;
        assert_eq!(lo, base * 80 / 100);
        assert_eq!(hi, base * 120 / 100);
    }

    #[test]
    fn defaults_keep_trying_for_about_an_hour() {
        assert_eq!(
            RetryPolicy::default(),
            RetryPolicy {
                initial_ms: 2_000,
                multiplier_pct: 200,
                max_delay_ms: 60_000,
                max_attempts: 70,
                jitter_pct: 20,
            }
        );
        // Missing fields take the defaults; given ones win.
        let p: RetryPolicy = serde_json::from_str(r#"{"max_attempts": 5}"#).unwrap();
        assert_eq!(
            p,
            RetryPolicy {
                max_attempts: 5,
                ..RetryPolicy::default()
            }
        );
        let back: RetryPolicy = serde_json::from_value(serde_json::to_value(p).unwrap()).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn base_delay_bounds() {
        let p = RetryPolicy {
            initial_ms: 1000,
            multiplier_pct: 150,
            max_delay_ms: 3000,
            max_attempts: 5,
            jitter_pct: 0,
        };
        let ms = |p: &RetryPolicy, a| p.base_delay(a).as_millis() as u64;
        // Attempt 0 counts as the first.
        assert_eq!(ms(&p, 0), 1000);
        assert_eq!(
            [1, 2, 3, 4, 50].map(|a| ms(&p, a)),
            [1000, 1500, 2250, 3000, 3000]
        );
        // A zero initial delay or cap still waits a millisecond; a cap below the start wins.
        let zero = RetryPolicy {
            initial_ms: 0,
            multiplier_pct: 200,
            ..p
        };
        assert_eq!(ms(&zero, 1), 1);
        assert_eq!(ms(&zero, 3), 4);
        let no_cap = RetryPolicy {
            max_delay_ms: 0,
            ..p
        };
        assert_eq!(ms(&no_cap, 1), 1);
        let low_cap = RetryPolicy {
            max_delay_ms: 500,
            ..p
        };
        assert_eq!(ms(&low_cap, 1), 500);
        // Growth saturates instead of overflowing.
        let huge = RetryPolicy {
            initial_ms: 1000,
            multiplier_pct: 1000,
            max_delay_ms: u64::MAX,
            max_attempts: 100,
            jitter_pct: 100,
        };
        assert_eq!(ms(&huge, 100), u64::MAX / 100);
    }

    #[test]
    fn jitter_bounds() {
        let p = RetryPolicy {
            initial_ms: 1000,
            multiplier_pct: 200,
            max_delay_ms: 60_000,
            max_attempts: 5,
            jitter_pct: 20,
        };
        let ms = |p: &RetryPolicy, unit| p.delay(1, unit).as_millis() as u64;
        assert_eq!(ms(&p, 0), 800);
        assert_eq!(ms(&p, 250_000), 900);
        assert_eq!(ms(&p, 500_000), 1000);
        assert_eq!(ms(&p, 1_000_000), 1200);
        // Out-of-range randomness is clamped, never stretches the spread.
        assert_eq!(ms(&p, u32::MAX), 1200);
        // More than 100% jitter is 100%: never a zero or negative delay.
        let wild = RetryPolicy {
            jitter_pct: 250,
            ..p
        };
        assert_eq!(ms(&wild, 0), 1);
        assert_eq!(ms(&wild, 1_000_000), 2000);
        // Delays of centuries (a misconfigured cap) are computed without overflow.
        let huge = RetryPolicy {
            initial_ms: 1000,
            multiplier_pct: 1000,
            max_delay_ms: u64::MAX,
            max_attempts: 100,
            jitter_pct: 100,
        };
        assert_eq!(
            huge.delay(100, 1_000_000).as_millis(),
            u128::from(u64::MAX / 100 * 2)
        );
        assert_eq!(huge.delay(100, 0).as_millis(), 1);
    }

    #[test]
    fn attempts_are_counted_against_the_maximum() {
        let p = |max_attempts| RetryPolicy {
            max_attempts,
            ..RetryPolicy::default()
        };
        assert!(!p(0).may_retry(0));
        assert!(p(1).may_retry(0));
        assert!(!p(1).may_retry(1));
        assert!(p(70).may_retry(69));
        assert!(!p(70).may_retry(70));
        assert!(!p(70).may_retry(u32::MAX));
    }
}
