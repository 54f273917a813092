//! samen pseudonymisation: identifier normalisation (BSN 11-test), HMAC-SHA256 keyed pseudonyms with key files, bulk CSV pseudonymisation, jointly keyed ristretto255 pseudonyms
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod csv_bulk;
pub mod key;
pub mod normalise;
pub mod pseudonym;
pub mod joint;
