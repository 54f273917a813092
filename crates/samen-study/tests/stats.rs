//! Post-opening numerics of `samen_study::stats` against independent computations.
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

#[path = "stats/common.rs"]
mod common;
#[path = "stats/correlation.rs"]
mod correlation;
#[path = "stats/ols.rs"]
mod ols;
#[path = "stats/ols_reference.rs"]
mod ols_reference;
#[path = "stats/tdist.rs"]
mod tdist;
