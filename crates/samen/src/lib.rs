//! samen: privacy-preserving secure multiparty computation for official statistics.
//!
//! This facade re-exports the samen crates for library users.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use samen_core as core;
pub use samen_join as join;
pub use samen_net as net;
pub use samen_pseudonym as pseudonym;
pub use samen_study as study;
