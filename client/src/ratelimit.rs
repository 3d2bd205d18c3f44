//! Token-bucket rate limiting, shared by a session (global) and each torrent.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A token bucket: `rate` bytes per second with a burst of one second (at least 64 KiB).
/// Pure: the caller passes `now`.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: Option<u64>,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// An unlimited bucket (`rate` = `None`) or one of `rate` bytes/s.
    pub fn new(rate: Option<u64>, now: Instant) -> Self {
        TokenBucket {
            rate,
            tokens: rate.map_or(0.0, Self::burst),
            last: now,
        }
    }

    fn burst(rate: u64) -> f64 {
        (rate.max(64 * 1024)) as f64
    }

    /// Changes the rate (`None` = unlimited).
    pub fn set_rate(&mut self, rate: Option<u64>, now: Instant) {
        self.refill(now);
        self.rate = rate;
        if let Some(r) = rate {
            self.tokens = self.tokens.min(Self::burst(r));
        }
    }

    /// The configured rate.
    pub fn rate(&self) -> Option<u64> {
        self.rate
    }

    fn refill(&mut self, now: Instant) {
        if let Some(r) = self.rate {
            let dt = now.saturating_duration_since(self.last).as_secs_f64();
            self.tokens = (self.tokens + dt * r as f64).min(Self::burst(r));
        }
        self.last = now;
    }

    /// Takes `n` bytes; returns how long the caller must wait before sending them (zero when
    /// tokens were available). The debt is recorded, so concurrent callers queue up fairly.
    pub fn take(&mut self, n: u64, now: Instant) -> Duration {
        self.refill(now);
        let Some(r) = self.rate else {
            return Duration::ZERO;
        };
        self.tokens -= n as f64;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / r.max(1) as f64)
        }
    }
}

/// A bucket shared between tasks.
#[derive(Debug, Clone)]
pub struct SharedLimiter(Arc<Mutex<TokenBucket>>);

impl SharedLimiter {
    /// A shared bucket of `rate` bytes/s (`None` = unlimited).
    pub fn new(rate: Option<u64>) -> Self {
        SharedLimiter(Arc::new(Mutex::new(TokenBucket::new(rate, Instant::now()))))
    }

    /// Changes the rate.
    pub fn set_rate(&self, rate: Option<u64>) {
        if let Ok(mut b) = self.0.lock() {
            b.set_rate(rate, Instant::now());
        }
    }

    /// The configured rate.
    pub fn rate(&self) -> Option<u64> {
        self.0.lock().map(|b| b.rate()).unwrap_or(None)
    }

    /// Wait to take from this bucket.
    pub fn delay(&self, n: u64) -> Duration {
        self.0
            .lock()
            .map(|mut b| b.take(n, Instant::now()))
            .unwrap_or_default()
    }
}

/// Waits until `n` bytes may pass every limiter in `limiters` (global and per torrent).
pub async fn acquire(limiters: &[&SharedLimiter], n: u64) {
    let wait = limiters
        .iter()
        .map(|l| l.delay(n))
        .max()
        .unwrap_or_default();
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlimited_never_waits() {
        let now = Instant::now();
        let mut b = TokenBucket::new(None, now);
        assert_eq!(b.take(1 << 30, now), Duration::ZERO);
    }

    #[test]
    fn limited_bucket_enforces_rate_after_burst() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(Some(100_000), t0);
        assert_eq!(b.take(100_000, t0), Duration::ZERO);
        // Burst used: the next 50 kB must wait half a second.
        let w = b.take(50_000, t0);
        assert!((w.as_secs_f64() - 0.5).abs() < 1e-6, "{w:?}");
        // After one second, 100 kB more have accrued: the 50 kB debt is paid, 50 kB free;
        // 100 kB more then owe a full second.
        let w = b.take(50_000, t0 + Duration::from_secs(1));
        assert_eq!(w, Duration::ZERO);
        let w = b.take(100_000, t0 + Duration::from_secs(1));
        assert!((w.as_secs_f64() - 1.0).abs() < 1e-6, "{w:?}");
    }

    #[test]
    fn rate_change_applies() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(Some(1_000_000), t0);
        b.set_rate(None, t0);
        assert_eq!(b.take(u64::MAX / 2, t0), Duration::ZERO);
        b.set_rate(Some(65_536), t0);
        assert!(b.take(10_000_000, t0) > Duration::from_secs(100));
    }
}
