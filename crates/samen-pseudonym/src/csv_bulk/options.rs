//! What a bulk run does: the id column, the delimiter, invalid-identifier handling.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use super::DEFAULT_CHUNK_RECORDS;
use crate::normalise::IdKind;

/// What to do with a row whose identifier is invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OnInvalid {
    /// Stop at the first invalid identifier; write nothing. Written `fail`.
    #[default]
    Fail,
    /// Leave the row out (and list it in the rejects file, if any). Written `drop`.
    Drop,
}

impl FromStr for OnInvalid {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fail" => Ok(OnInvalid::Fail),
            "drop" => Ok(OnInvalid::Drop),
            other => Err(format!(
                "unknown --on-invalid value {other:?}: expected \"fail\" or \"drop\""
            )),
        }
    }
}

impl fmt::Display for OnInvalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OnInvalid::Fail => "fail",
            OnInvalid::Drop => "drop",
        })
    }
}

/// Options of [`pseudonymise_csv`](super::pseudonymise_csv).
#[derive(Clone, Debug)]
pub struct BulkOptions {
    /// Name of the identifier column (matched after trimming header names).
    pub id_column: String,
    /// How identifiers are normalised.
    pub id_kind: IdKind,
    /// What to do with invalid identifiers.
    pub on_invalid: OnInvalid,
    /// Where to list dropped rows (`line,code,reason`); only used with [`OnInvalid::Drop`].
    pub rejects: Option<PathBuf>,
    /// Records per chunk (memory is a small multiple of this; at least 1).
    pub chunk_records: usize,
    /// Sync the output to disk before renaming it into place (default `true`).
    pub durable: bool,
    /// Field delimiter of the input and the output (default `b','`): one ASCII byte other than
    /// `"`, CR and LF ([`check_delimiter`]).
    pub delimiter: u8,
}

/// A delimiter as users write it: one printable ASCII character (not `"`), or `tab` (also
/// `\t`, written as a backslash and a `t`, or the tab character itself).
///
/// ```
/// use samen_pseudonym::csv_bulk::parse_delimiter;
/// assert_eq!(parse_delimiter(";"), Ok(b';'));
/// assert_eq!(parse_delimiter("tab"), Ok(b'\t'));
/// assert!(parse_delimiter(";;").is_err() && parse_delimiter("\"").is_err());
/// ```
pub fn parse_delimiter(s: &str) -> Result<u8, String> {
    let d = match s.as_bytes() {
        b"tab" | b"\\t" | b"\t" => b'\t',
        [d] => *d,
        _ => return Err(format!("expected one character or \"tab\", got {s:?}")),
    };
    check_delimiter(d)?;
    Ok(d)
}

/// Check that `d` can separate CSV fields: one printable ASCII byte or tab, not `"`.
///
/// ```
/// use samen_pseudonym::csv_bulk::check_delimiter;
/// assert!(check_delimiter(b';').is_ok() && check_delimiter(b'\t').is_ok());
/// assert!(check_delimiter(b'"').is_err() && check_delimiter(b'\n').is_err());
/// ```
pub fn check_delimiter(d: u8) -> Result<(), String> {
    if d == b'\t' || (d.is_ascii_graphic() && d != b'"') {
        Ok(())
    } else {
        Err(format!(
            "{:?} cannot separate CSV fields: use one printable ASCII character other than '\"', or tab",
            char::from(d)
        ))
    }
}

impl BulkOptions {
    /// Defaults: BSN identifiers, fail on invalid, no rejects file, 65536-record chunks, durable.
    pub fn new(id_column: impl Into<String>) -> Self {
        BulkOptions {
            id_column: id_column.into(),
            id_kind: IdKind::Bsn,
            on_invalid: OnInvalid::Fail,
            rejects: None,
            chunk_records: DEFAULT_CHUNK_RECORDS,
            durable: true,
            delimiter: b',',
        }
    }
}
