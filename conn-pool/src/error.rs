//! The crate's error type.

/// What can go wrong when using the pool.
///
/// The pool itself never fails at run time: events for unknown addresses are
/// ignored. The only error is a configuration that makes no sense, reported by
/// [`PoolConfig::validate`](crate::PoolConfig::validate).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration field has a value the pool cannot work with.
    #[error("invalid pool config: {field} {problem}")]
    InvalidConfig {
        /// The field's name, as in [`PoolConfig`](crate::PoolConfig).
        field: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
