//! samen private join: two-party Private-ID style outer join on ristretto255 that reveals only set sizes and the union size
#![forbid(unsafe_code)]
#![deny(missing_docs)]
