//! Post-opening numerics of `samen_study::stats` against independent computations.

#[path = "stats/tdist.rs"]
mod tdist;
