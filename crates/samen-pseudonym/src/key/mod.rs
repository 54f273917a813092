//! Pseudonymisation keys and key files.
//!
//! A [`PseudonymKey`] is 32 random bytes from the operating system's RNG, tied to a *domain*
//! (e.g. `cbs-2026`: who uses the pseudonyms and for which period), with a `version` number
//! that [`PseudonymKey::rotate`] increments and a `created` timestamp (RFC 3339, UTC).
//!
//! # Key file format
//!
//! A key file is TOML with exactly these fields (comments are allowed):
//!
//! ```toml
//! domain = "cbs-2026"
//! version = 1
//! created = "2026-11-29T17:00:00Z"
//! fingerprint = "630dcd2966c43366"
//! key = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
//! ```
//!
//! * `domain`: 1 to 64 characters out of `A–Z a–z 0–9 . _ -`;
//! * `version`: an integer ≥ 1;
//! * `created`: `YYYY-MM-DDTHH:MM:SSZ`;
//! * `fingerprint`: the first 16 lowercase hex characters of SHA-256 of the 32 key bytes; it
//!   identifies the key in logs and reports without revealing it;
//! * `key`: the 32 key bytes as 64 lowercase hex characters.
//!
//! [`PseudonymKey::load`] checks every field and that the fingerprint matches the key, naming the
//! file in every error. [`PseudonymKey::write_new`] writes the file with mode `0600` (on Unix)
//! and refuses to overwrite an existing file.
//!
//! ```
//! use samen_pseudonym::key::PseudonymKey;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("cbs.key");
//! let key = PseudonymKey::generate("cbs-2026").unwrap();
//! key.write_new(&path).unwrap();
//! assert!(key.write_new(&path).is_err()); // never overwrites
//! let loaded = PseudonymKey::load(&path).unwrap();
//! assert_eq!(loaded.fingerprint(), key.fingerprint());
//! let next = loaded.rotate().unwrap();
//! assert_eq!((next.domain(), next.version()), ("cbs-2026", 2));
//! ```

use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use rand_core::{OsRng, TryRngCore};
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

mod perms;
#[cfg(test)]
mod tests;
mod text;

pub use text::rfc3339_now;

use perms::check_owner_only;
use samen_core::atomic::AtomicFile;
use text::{check_domain, fingerprint_of, hex_val, is_lower_hex, is_rfc3339_utc};

/// Length of a key in bytes.
pub const KEY_LEN: usize = 32;
/// Length of a fingerprint in hex characters.
pub const FINGERPRINT_LEN: usize = 16;
/// Maximum length of a domain name.
pub const MAX_DOMAIN_LEN: usize = 64;

/// Errors of key generation, loading and writing. Messages name the file and never contain key
/// material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed: {0}")]
    Rng(String),
    /// A part of a key (domain, version, creation time) is not acceptable.
    #[error("invalid key: {0}")]
    Invalid(&'static str),
    /// The version number cannot be incremented any further.
    #[error("key version {0} cannot be rotated any further")]
    VersionOverflow(u32),
    /// The key file could not be read.
    #[error("cannot read key file {}: {source}", path.display())]
    Read {
        /// The key file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The key file is not valid TOML.
    #[error("key file {} is not valid TOML{}: {message}", path.display(), line_suffix(*line))]
    Syntax {
        /// The key file.
        path: PathBuf,
        /// The line of the error, when known.
        line: Option<usize>,
        /// What is wrong (without the file's contents).
        message: String,
    },
    /// A field of the key file is missing or has a bad value.
    #[error("key file {}: field `{field}` {problem}", path.display())]
    Field {
        /// The key file.
        path: PathBuf,
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The key file has a field that is not part of the format.
    #[error("key file {}: unknown field `{field}` (expected domain, version, created, fingerprint, key)", path.display())]
    UnknownField {
        /// The key file.
        path: PathBuf,
        /// The unknown field's name.
        field: String,
    },
    /// The stored fingerprint does not belong to the stored key (the file was edited or damaged).
    #[error("key file {}: fingerprint {stored} does not match the key (whose fingerprint is {computed}); the file is damaged or was edited", path.display())]
    FingerprintMismatch {
        /// The key file.
        path: PathBuf,
        /// The fingerprint written in the file.
        stored: String,
        /// The fingerprint of the key in the file.
        computed: String,
    },
    /// The key file can be read by its group or by other users (Unix mode bits `0o077`).
    #[error("key file {} has mode {mode:03o}: its group or other users can read it; run `chmod 600 {}` (and consider whether the key was exposed)", path.display(), path.display())]
    Shared {
        /// The key file.
        path: PathBuf,
        /// The file's permission bits.
        mode: u32,
    },
    /// The key file to be written already exists.
    #[error("{} already exists; refusing to overwrite a key file (choose another output path)", path.display())]
    AlreadyExists {
        /// The path.
        path: PathBuf,
    },
    /// The key file could not be written.
    #[error("cannot write key file {}: {source}", path.display())]
    Write {
        /// The path.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

fn line_suffix(line: Option<usize>) -> String {
    line.map(|l| format!(" (line {l})")).unwrap_or_default()
}

/// A pseudonymisation key: 32 secret bytes, the domain they belong to, a version and a creation
/// time.
///
/// Zeroized on drop; `Debug` shows only the fingerprint; equality is constant time
/// ([`ConstantTimeEq`]).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct PseudonymKey {
    bytes: [u8; KEY_LEN],
    domain: String,
    version: u32,
    created: String,
}

impl PseudonymKey {
    /// A fresh key (version 1, created now) for `domain`, from the operating system's RNG.
    pub fn generate(domain: &str) -> Result<Self, KeyError> {
        check_domain(domain)?;
        let mut bytes = [0u8; KEY_LEN];
        OsRng
            .try_fill_bytes(&mut bytes)
            .map_err(|e| KeyError::Rng(e.to_string()))?;
        Ok(PseudonymKey {
            bytes,
            domain: domain.to_owned(),
            version: 1,
            created: rfc3339_now(),
        })
    }

    /// A key from known parts (tests, known-answer vectors, other key stores).
    ///
    /// `created` must have the form `YYYY-MM-DDTHH:MM:SSZ`; `version` must be at least 1.
    pub fn from_parts(
        bytes: [u8; KEY_LEN],
        domain: &str,
        version: u32,
        created: &str,
    ) -> Result<Self, KeyError> {
        let mut bytes = Zeroizing::new(bytes);
        check_domain(domain)?;
        if version == 0 {
            return Err(KeyError::Invalid("version must be at least 1"));
        }
        if !is_rfc3339_utc(created) {
            return Err(KeyError::Invalid(
                "created must have the form YYYY-MM-DDTHH:MM:SSZ",
            ));
        }
        let key = PseudonymKey {
            bytes: *bytes,
            domain: domain.to_owned(),
            version,
            created: created.to_owned(),
        };
        bytes.zeroize();
        Ok(key)
    }

    /// The next version of this key: same domain, `version + 1`, fresh random bytes, created now.
    pub fn rotate(&self) -> Result<Self, KeyError> {
        let version = self
            .version
            .checked_add(1)
            .ok_or(KeyError::VersionOverflow(self.version))?;
        let mut next = PseudonymKey::generate(&self.domain)?;
        next.version = version;
        Ok(next)
    }

    /// The domain this key belongs to.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The version number (1 for a new key, incremented by each rotation).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// When the key was created (RFC 3339, UTC, e.g. `2026-11-29T17:00:00Z`).
    pub fn created(&self) -> &str {
        &self.created
    }

    /// The secret key bytes. Do not log or copy them; prefer [`PseudonymKey::fingerprint`].
    pub fn secret_bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }

    /// The first 16 lowercase hex characters of SHA-256 of the key bytes: safe to log.
    pub fn fingerprint(&self) -> String {
        fingerprint_of(&self.bytes)
    }

    /// The key file contents (TOML). The result holds the secret: it is zeroized on drop.
    pub fn to_toml(&self) -> Zeroizing<String> {
        let mut hex = Zeroizing::new([0u8; 2 * KEY_LEN]);
        crate::pseudonym::hex_encode_into(&self.bytes, hex.as_mut_slice());
        let mut out = Zeroizing::new(String::with_capacity(512));
        out.push_str(
            "# samen pseudonymisation key. SECRET: whoever holds this file can compute the\n\
             # pseudonyms of this domain. Keep it at mode 0600; log only the fingerprint.\n",
        );
        out.push_str(&format!("domain = \"{}\"\n", self.domain));
        out.push_str(&format!("version = {}\n", self.version));
        out.push_str(&format!("created = \"{}\"\n", self.created));
        out.push_str(&format!("fingerprint = \"{}\"\n", self.fingerprint()));
        out.push_str("key = \"");
        // The hex digits are ASCII.
        for &b in hex.iter() {
            out.push(char::from(b));
        }
        out.push_str("\"\n");
        out
    }

    /// Parse key file contents; `path` is only used in error messages.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self, KeyError> {
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let line = e.span().map(|s| {
                text.as_bytes()
                    .get(..s.start)
                    .unwrap_or(text.as_bytes())
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count()
                    + 1
            });
            KeyError::Syntax {
                path: path.to_owned(),
                line,
                message: e.message().to_owned(),
            }
        })?;
        let field = |field, problem| KeyError::Field {
            path: path.to_owned(),
            field,
            problem,
        };
        // Take the key out first so that its string is zeroized whatever happens next.
        let key_hex = match table.remove("key") {
            Some(toml::Value::String(s)) => Zeroizing::new(s),
            Some(_) => {
                return Err(field(
                    "key",
                    "must be a string of 64 lowercase hex characters",
                ))
            }
            None => return Err(field("key", "is missing")),
        };
        if let Some(unknown) = table
            .keys()
            .find(|k| !matches!(k.as_str(), "domain" | "version" | "created" | "fingerprint"))
        {
            return Err(KeyError::UnknownField {
                path: path.to_owned(),
                field: unknown.clone(),
            });
        }
        let domain = match table.get("domain") {
            Some(toml::Value::String(s)) => s.as_str(),
            Some(_) => return Err(field("domain", "must be a string")),
            None => return Err(field("domain", "is missing")),
        };
        check_domain(domain).map_err(|e| match e {
            KeyError::Invalid(problem) => field("domain", problem),
            _ => field("domain", "is invalid"),
        })?;
        let version = match table.get("version") {
            Some(toml::Value::Integer(v)) => u32::try_from(*v)
                .ok()
                .filter(|&v| v >= 1)
                .ok_or_else(|| field("version", "must be an integer from 1 to 4294967295"))?,
            Some(_) => return Err(field("version", "must be an integer")),
            None => return Err(field("version", "is missing")),
        };
        let created = match table.get("created") {
            Some(toml::Value::String(s)) if is_rfc3339_utc(s) => s.as_str(),
            Some(_) => {
                return Err(field(
                    "created",
                    "must be a string of the form YYYY-MM-DDTHH:MM:SSZ",
                ))
            }
            None => return Err(field("created", "is missing")),
        };
        let stored_fp = match table.get("fingerprint") {
            Some(toml::Value::String(s))
                if s.len() == FINGERPRINT_LEN && s.bytes().all(is_lower_hex) =>
            {
                s.as_str()
            }
            Some(_) => {
                return Err(field(
                    "fingerprint",
                    "must be a string of 16 lowercase hex characters",
                ))
            }
            None => return Err(field("fingerprint", "is missing")),
        };
        let hex = key_hex.as_bytes();
        if hex.len() != 2 * KEY_LEN {
            return Err(field(
                "key",
                "must be exactly 64 lowercase hex characters (32 bytes)",
            ));
        }
        if !hex.iter().copied().all(is_lower_hex) {
            return Err(field(
                "key",
                "must contain only lowercase hex characters 0-9 a-f",
            ));
        }
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        for (out, pair) in bytes.iter_mut().zip(hex.chunks_exact(2)) {
            if let [hi, lo] = pair {
                *out = (hex_val(*hi) << 4) | hex_val(*lo);
            }
        }
        let computed = fingerprint_of(&bytes);
        if computed != stored_fp {
            return Err(KeyError::FingerprintMismatch {
                path: path.to_owned(),
                stored: stored_fp.to_owned(),
                computed,
            });
        }
        Ok(PseudonymKey {
            bytes: *bytes,
            domain: domain.to_owned(),
            version,
            created: created.to_owned(),
        })
    }

    /// Read and validate a key file. On Unix a file that its group or other users can access
    /// (any of the mode bits `0o077`) is refused with [`KeyError::Shared`].
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let read_err = |source| KeyError::Read {
            path: path.to_owned(),
            source,
        };
        let mut file = std::fs::File::open(path).map_err(read_err)?;
        check_owner_only(path, &file)?;
        // Key files are a few hundred bytes: one allocation, so no unzeroized copy is left behind.
        let mut raw = Zeroizing::new(Vec::with_capacity(4096));
        file.read_to_end(&mut raw).map_err(read_err)?;
        let text = std::str::from_utf8(&raw).map_err(|_| KeyError::Syntax {
            path: path.to_owned(),
            line: None,
            message: "the file is not UTF-8 text".to_owned(),
        })?;
        PseudonymKey::from_toml(text, path)
    }

    /// Write this key to a new file with mode `0600`; fails if `path` exists.
    ///
    /// The file is written to a temporary file in the same directory and linked into place
    /// without replacing anything, so a crash never leaves a partial key file.
    pub fn write_new(&self, path: &Path) -> Result<(), KeyError> {
        let werr = |source| KeyError::Write {
            path: path.to_owned(),
            source,
        };
        if path.exists() {
            return Err(KeyError::AlreadyExists {
                path: path.to_owned(),
            });
        }
        let mut tmp = AtomicFile::create(path, 0o600).map_err(werr)?;
        let text = self.to_toml();
        tmp.file().write_all(text.as_bytes()).map_err(werr)?;
        tmp.commit_new().map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                KeyError::AlreadyExists {
                    path: path.to_owned(),
                }
            } else {
                werr(e)
            }
        })?;
        Ok(())
    }
}

/// The next version of `old`: same domain, version + 1, fresh random bytes, created now.
///
/// Same as [`PseudonymKey::rotate`].
pub fn rotate(old: &PseudonymKey) -> Result<PseudonymKey, KeyError> {
    old.rotate()
}

impl ConstantTimeEq for PseudonymKey {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.bytes.ct_eq(&other.bytes)
            & self.domain.as_bytes().ct_eq(other.domain.as_bytes())
            & self.version.ct_eq(&other.version)
    }
}

impl fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PseudonymKey")
            .field("domain", &self.domain)
            .field("version", &self.version)
            .field("created", &self.created)
            .field("fingerprint", &self.fingerprint())
            .field("key", &"<redacted>")
            .finish()
    }
}
