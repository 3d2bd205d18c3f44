//! serde tests
