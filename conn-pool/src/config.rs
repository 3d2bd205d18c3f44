//! Limits and timers of a [`Pool`](crate::Pool).

use std::time::Duration;

use crate::error::{Error, Result};

/// Limits and timers of a [`Pool`](crate::Pool). Every field has a safe default
/// ([`PoolConfig::default`]); change the ones you need:
///
/// ```
/// let mut config = shoal_conn_pool::PoolConfig::default();
/// config.max_connections = 80;
/// config.max_half_open = 20;
/// assert!(config.validate().is_ok());
/// ```
///
/// With `adaptive` on (the default) the `max_*` fields are ceilings and the
/// `min_*` fields are floors: the pool learns the effective limits in between.
/// With `adaptive` off the pool uses the `max_*` limits as fixed limits.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PoolConfig {
    /// Ceiling on open connections plus half-open attempts (outbound and inbound).
    pub max_connections: usize,
    /// Floor under the adaptive connection limit.
    pub min_connections: usize,
    /// Ceiling on outbound attempts that have not connected yet.
    pub max_half_open: usize,
    /// Floor under the adaptive half-open limit; also where it starts.
    pub min_half_open: usize,
    /// New outbound attempts per second (token bucket, bursts of one second).
    pub max_dials_per_sec: u32,
    /// First reconnect delay after a failure; doubles with each consecutive failure.
    pub backoff_base: Duration,
    /// Longest reconnect delay.
    pub backoff_max: Duration,
    /// How long [`Pool::ban`](crate::Pool::ban) keeps an address away.
    pub ban_duration: Duration,
    /// An attempt that has not connected after this long counts as timed out.
    pub connect_timeout: Duration,
    /// Most candidate addresses kept; further new ones are refused.
    pub max_candidates: usize,
    /// Learn the limits from the network (true) or use the `max_*` limits as fixed.
    pub adaptive: bool,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_connections: 200,
            min_connections: 8,
            max_half_open: 64,
            min_half_open: 4,
            max_dials_per_sec: 50,
            backoff_base: Duration::from_secs(5),
            backoff_max: Duration::from_secs(30 * 60),
            ban_duration: Duration::from_secs(60 * 60),
            connect_timeout: Duration::from_secs(10),
            max_candidates: 200_000,
            adaptive: true,
        }
    }
}

/// Longest duration the pool accepts anywhere (about 10 years), so that
/// `now + duration` can never overflow.
pub(crate) const LONGEST: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

impl PoolConfig {
    /// A config with fixed (non-adaptive) limits: `connections` total and
    /// `half_open` attempts. Other fields keep their defaults.
    pub fn fixed(connections: usize, half_open: usize) -> Self {
        Self {
            max_connections: connections,
            min_connections: connections,
            max_half_open: half_open,
            min_half_open: half_open,
            adaptive: false,
            ..Self::default()
        }
    }

    /// Checks that the fields make sense together.
    ///
    /// [`Pool::new`](crate::Pool::new) does not fail: it clamps a bad config
    /// into range. Call this to report a user's mistake instead.
    pub fn validate(&self) -> Result<()> {
        let bad = |field, problem| Err(Error::InvalidConfig { field, problem });
        if self.max_connections == 0 {
            return bad("max_connections", "must be at least 1");
        }
        if self.max_half_open == 0 {
            return bad("max_half_open", "must be at least 1");
        }
        if self.min_half_open == 0 {
            return bad("min_half_open", "must be at least 1");
        }
        if self.min_half_open > self.max_half_open {
            return bad("min_half_open", "must not exceed max_half_open");
        }
        if self.min_connections > self.max_connections {
            return bad("min_connections", "must not exceed max_connections");
        }
        if self.max_dials_per_sec == 0 {
            return bad("max_dials_per_sec", "must be at least 1");
        }
        if self.connect_timeout.is_zero() {
            return bad("connect_timeout", "must be longer than zero");
        }
        if self.backoff_base > self.backoff_max {
            return bad("backoff_base", "must not exceed backoff_max");
        }
        for (field, d) in [
            ("backoff_base", self.backoff_base),
            ("backoff_max", self.backoff_max),
            ("ban_duration", self.ban_duration),
            ("connect_timeout", self.connect_timeout),
        ] {
            if d > LONGEST {
                return bad(field, "must be at most 10 years");
            }
        }
        Ok(())
    }

    /// The same config moved into range, field by field, so the pool can use it.
    pub(crate) fn clamped(&self) -> Self {
        let mut c = self.clone();
        c.max_connections = c.max_connections.max(1);
        c.min_connections = c.min_connections.min(c.max_connections);
        c.max_half_open = c.max_half_open.max(1);
        c.min_half_open = c.min_half_open.clamp(1, c.max_half_open);
        c.max_dials_per_sec = c.max_dials_per_sec.max(1);
        c.connect_timeout = c.connect_timeout.clamp(Duration::from_millis(1), LONGEST);
        c.backoff_max = c.backoff_max.min(LONGEST);
        c.backoff_base = c.backoff_base.min(c.backoff_max);
        c.ban_duration = c.ban_duration.min(LONGEST);
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid() {
        assert_eq!(PoolConfig::default().validate(), Ok(()));
        assert_eq!(PoolConfig::fixed(10, 5).validate(), Ok(()));
    }

    #[test]
    fn validate_names_the_field() {
        let c = PoolConfig {
            min_half_open: 100,
            ..PoolConfig::default()
        };
        assert_eq!(
            c.validate(),
            Err(Error::InvalidConfig {
                field: "min_half_open",
                problem: "must not exceed max_half_open"
            })
        );
        let c = PoolConfig {
            max_dials_per_sec: 0,
            ..PoolConfig::default()
        };
        let e = c.validate().unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid pool config: max_dials_per_sec must be at least 1"
        );
    }

    #[test]
    fn clamped_is_valid() {
        let c = PoolConfig {
            max_connections: 0,
            min_connections: 9,
            max_half_open: 0,
            min_half_open: 0,
            max_dials_per_sec: 0,
            backoff_base: Duration::MAX,
            backoff_max: Duration::ZERO,
            ban_duration: Duration::MAX,
            connect_timeout: Duration::ZERO,
            max_candidates: 0,
            adaptive: true,
        };
        assert_eq!(c.clamped().validate(), Ok(()));
    }
}
