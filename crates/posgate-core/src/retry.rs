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
        let base = self.base_delay(attempt).as_millis() as u64;
        let spread = base * u64::from(self.jitter_pct.min(100)) / 100;
        let offset = spread * 2 * u64::from(unit.min(1_000_000)) / 1_000_000;
        Duration::from_millis((base - spread + offset).max(1))
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
}
