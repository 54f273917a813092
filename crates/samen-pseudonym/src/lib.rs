//! samen pseudonymisation: identifier normalisation (BSN 11-test), HMAC-SHA256 keyed pseudonyms
//! with key files, bulk CSV pseudonymisation, jointly keyed ristretto255 pseudonyms.
//!
//! * [`normalise`] — canonical form and validation of identifiers of each [`IdKind`] (`bsn`:
//!   digits, 8→9 padding, 11-test; `text`: trimmed, non-empty), with reasons that never contain
//!   the value.
//! * [`key`] — [`key::PseudonymKey`] (32 bytes from the OS RNG, domain, version, creation time;
//!   zeroized, redacted, constant-time equality) and its TOML key file (mode 0600, never
//!   overwritten, fingerprint checked on load), rotation.
//! * [`pseudonym`] — the public construction
//!   `hex(HMAC-SHA256(K, "samen-pseudonym-v1" || 0x00 || domain || 0x00 || id))` and the fast
//!   [`pseudonym::Pseudonymiser`] (two SHA-256 compressions per identifier).
//! * [`csv_bulk`] — streaming, parallel, order-preserving, atomic pseudonymisation of a CSV column.
//! * [`joint`] — ristretto255 hash-to-group and blinding for the private join.
//! * [`distinct`] — the first repeated identifier among many (sorted fingerprints, exact).
//!
//! ```
//! use samen_pseudonym::{key::PseudonymKey, normalise::{normalise, IdKind}, pseudonym::Pseudonymiser};
//!
//! let key = PseudonymKey::generate("cbs-2026").unwrap();
//! let p = Pseudonymiser::new(&key);
//! let id = normalise(IdKind::Bsn, " 12345672").unwrap(); // "012345672"
//! assert_eq!(p.pseudonymise(&id).len(), 64);
//! ```
//!
//! The construction, key file format and rotation are documented in `docs/pseudonymisation.md`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod csv_bulk;
pub mod distinct;
pub mod joint;
pub mod key;
pub mod normalise;
pub mod pseudonym;

pub use normalise::IdKind;
