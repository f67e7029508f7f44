//! Helpers shared by the end-to-end test modules; each module names the
//! part it uses (`use crate::support::analyze::*`).

pub mod analyze;
pub mod collect;
pub mod serve;
pub mod served;
