//! The run rules, apart from HTTP: each function takes only the ports it needs, so the
//! rules get fast tests with in-memory twins besides the over-the-wire ones.

pub mod approvals;
pub mod launch_settings;
pub mod locks;
pub mod pause;
pub mod runs;
pub mod start;
