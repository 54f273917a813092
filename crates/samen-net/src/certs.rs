//! Demo and test certificates: a local study CA plus one certificate per party (rcgen), and
//! loading them for TLS. Whoever holds the CA key can impersonate every party, so this is for
//! demos and tests; deployments across organisations use per-party keys pinned in the study
//! file ([`crate::pin`]).
//!
//! Each party certificate carries the party name as its only DNS subject-alternative name and
//! as its common name, is signed by the study CA, and may be used both as a TLS server and a
//! TLS client certificate. Private keys are written with mode 0600 from the start (never
//! world-readable, not even briefly).

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use zeroize::Zeroizing;

use crate::error::NetError;

/// Common name of the generated study CA.
pub const CA_COMMON_NAME: &str = "samen study CA";

/// Years a generated certificate stays valid.
const VALIDITY_YEARS: i32 = 3;

/// Check that a party name can serve as a certificate name: 1 to 63 ASCII letters, digits, '-'
/// or '_', not starting or ending with '-', not only digits, not `0x` followed only by hex digits.
///
/// ```
/// use samen_net::certs::validate_party_name;
/// assert!(validate_party_name("portal-2").is_ok());
/// assert!(validate_party_name("a b").is_err());
/// assert!(validate_party_name("1234").is_err());
/// ```
pub fn validate_party_name(name: &str) -> Result<(), NetError> {
    let simple = samen_core::names::is_valid_party_name(name) && ServerName::try_from(name).is_ok();
    if simple {
        Ok(())
    } else {
        Err(NetError::InvalidPartyName {
            name: name.to_string(),
        })
    }
}

pub(crate) fn this_year() -> i32 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    // Mean Gregorian year; off by at most a day around New Year, which only shifts validity.
    1970 + (secs / 31_556_952) as i32
}

/// What certificate generation does with files that already exist in the output directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Existing {
    /// Refuse ([`NetError::CertsExist`] naming the first existing file) before writing anything.
    Refuse,
    /// Replace them (each file is replaced atomically).
    Overwrite,
}

/// Generate a study CA and one certificate per party into `out_dir` (created if missing):
/// `ca.pem`, `ca.key`, `<name>.pem`, `<name>.key`. Keys are written with mode 0600.
///
/// Refuses names that [`validate_party_name`] rejects, duplicate names, and an `out_dir` that
/// already holds any of these files (existing keys are never overwritten; see
/// [`generate_certs_with`]).
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let names = vec!["cbs".to_string(), "portal".to_string()];
/// samen_net::generate_certs(&names, dir.path()).unwrap();
/// assert!(dir.path().join("portal.key").exists());
/// assert!(samen_net::generate_certs(&names, dir.path()).is_err());
/// ```
pub fn generate_certs(party_names: &[String], out_dir: &Path) -> Result<(), NetError> {
    generate_certs_with(party_names, out_dir, Existing::Refuse)
}

/// [`generate_certs`], choosing what happens to files that already exist.
///
/// ```
/// use samen_net::certs::{generate_certs_with, Existing};
/// let dir = tempfile::tempdir().unwrap();
/// let names = vec!["cbs".to_string()];
/// generate_certs_with(&names, dir.path(), Existing::Refuse).unwrap();
/// let old = std::fs::read(dir.path().join("cbs.key")).unwrap();
/// assert!(generate_certs_with(&names, dir.path(), Existing::Refuse).is_err());
/// generate_certs_with(&names, dir.path(), Existing::Overwrite).unwrap();
/// assert_ne!(std::fs::read(dir.path().join("cbs.key")).unwrap(), old);
/// ```
pub fn generate_certs_with(
    party_names: &[String],
    out_dir: &Path,
    existing: Existing,
) -> Result<(), NetError> {
    let mut seen = std::collections::BTreeSet::new();
    for name in party_names {
        validate_party_name(name)?;
        if !seen.insert(name.to_ascii_lowercase()) {
            return Err(NetError::DuplicateParty { name: name.clone() });
        }
    }
    fs::create_dir_all(out_dir).map_err(|source| NetError::Write {
        path: out_dir.to_path_buf(),
        source,
    })?;
    if existing == Existing::Refuse {
        let files = ["ca".to_string()]
            .iter()
            .chain(party_names)
            .flat_map(|n| [format!("{n}.key"), format!("{n}.pem")])
            .collect::<Vec<_>>();
        for file in files {
            let path = out_dir.join(file);
            if fs::symlink_metadata(&path).is_ok() {
                return Err(NetError::CertsExist { path });
            }
        }
    }

    let year = this_year();
    let not_before = rcgen::date_time_ymd(year - 1, 12, 31);
    let not_after = rcgen::date_time_ymd(year + VALIDITY_YEARS, 1, 1);

    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, CA_COMMON_NAME);
    ca_params.distinguished_name = dn;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca_params.not_before = not_before;
    ca_params.not_after = not_after;
    let ca_cert = ca_params.self_signed(&ca_key)?;

    // Write party files first and the CA last, so that a failure leaves no CA behind that
    // would block a retry.
    for name in party_names {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(vec![name.clone()])?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name.as_str());
        params.distinguished_name = dn;
        params.is_ca = IsCa::NoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.not_before = not_before;
        params.not_after = not_after;
        let cert = params.signed_by(&key, &ca_cert, &ca_key)?;
        let key_pem = Zeroizing::new(key.serialize_pem());
        write_file(
            &out_dir.join(format!("{name}.key")),
            key_pem.as_bytes(),
            0o600,
            existing,
        )?;
        write_file(
            &out_dir.join(format!("{name}.pem")),
            cert.pem().as_bytes(),
            0o644,
            existing,
        )?;
    }
    let ca_key_pem = Zeroizing::new(ca_key.serialize_pem());
    write_file(
        &out_dir.join("ca.key"),
        ca_key_pem.as_bytes(),
        0o600,
        existing,
    )?;
    write_file(
        &out_dir.join("ca.pem"),
        ca_cert.pem().as_bytes(),
        0o644,
        existing,
    )?;
    Ok(())
}

/// Write `bytes` to `path` atomically: a new temporary file created with `mode` (Unix) in the
/// same directory, synced, then moved into place. With [`Existing::Refuse`] the move never
/// replaces a file (a file that appeared since the check is reported as
/// [`NetError::CertsExist`] and kept); with [`Existing::Overwrite`] it replaces.
pub(crate) fn write_file(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    existing: Existing,
) -> Result<(), NetError> {
    use std::io::Write;
    let write_err = |source| NetError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut f = samen_core::atomic::AtomicFile::create(path, mode).map_err(write_err)?;
    f.file().write_all(bytes).map_err(write_err)?;
    match existing {
        Existing::Overwrite => f.commit(true).map_err(write_err),
        Existing::Refuse => f.commit_new().map_err(|source| {
            if source.kind() == std::io::ErrorKind::AlreadyExists {
                NetError::CertsExist {
                    path: path.to_path_buf(),
                }
            } else {
                write_err(source)
            }
        }),
    }
}

/// This party's TLS identity and the study's trust anchors, loaded from a certificate
/// directory.
pub struct Identity {
    /// This party's certificate chain (leaf first).
    pub chain: Vec<CertificateDer<'static>>,
    /// This party's private key.
    pub key: PrivateKeyDer<'static>,
    /// The study CA certificates (`ca.pem`).
    pub roots: rustls::RootCertStore,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("chain", &self.chain.len())
            .field("key", &"<redacted>")
            .field("roots", &self.roots.len())
            .finish()
    }
}

fn cert_error(path: &Path, detail: impl std::fmt::Display) -> NetError {
    NetError::Certificates {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    }
}

pub(crate) fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, NetError> {
    let bytes = fs::read(path).map_err(|e| cert_error(path, e))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_error(path, format!("not a PEM certificate file ({e})")))?;
    if certs.is_empty() {
        return Err(cert_error(path, "holds no certificate"));
    }
    Ok(certs)
}

/// Load `dir/ca.pem`, `dir/<me>.pem` and `dir/<me>.key`. On Unix a key file that its group or
/// other users can access (any of the mode bits `0o077`) is refused with
/// [`NetError::KeyShared`].
pub fn load_identity(dir: &Path, me: &str) -> Result<Identity, NetError> {
    let ca_path = dir.join("ca.pem");
    let cert_path = dir.join(format!("{me}.pem"));
    let key_path: PathBuf = dir.join(format!("{me}.key"));
    let mut roots = rustls::RootCertStore::empty();
    for ca in read_certs(&ca_path)? {
        roots
            .add(ca)
            .map_err(|e| cert_error(&ca_path, format!("not a usable CA certificate ({e})")))?;
    }
    let chain = read_certs(&cert_path)?;
    let key = read_private_key(&key_path)?;
    Ok(Identity { chain, key, roots })
}

/// Read a PEM private key file that only its owner can access.
pub(crate) fn read_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, NetError> {
    let mut file = fs::File::open(path).map_err(|e| cert_error(path, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file
            .metadata()
            .map_err(|e| cert_error(path, e))?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            return Err(NetError::KeyShared {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    // Key files are a few hundred bytes: one allocation, so no unzeroized copy is left behind.
    let mut bytes = Zeroizing::new(Vec::with_capacity(16 * 1024));
    file.read_to_end(&mut bytes)
        .map_err(|e| cert_error(path, e))?;
    PrivateKeyDer::from_pem_slice(&bytes)
        .map_err(|e| cert_error(path, format!("not a PEM private key ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "cbs", "portal_2", "Helper-1", "x1"] {
            assert!(validate_party_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a.b",
            "a b",
            "-a",
            "a-",
            "123",
            "é",
            "0x1f",
            &"a".repeat(64),
        ] {
            assert!(validate_party_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn generated_files_load_and_keys_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let names = vec!["cbs".to_string(), "portal".to_string()];
        generate_certs(&names, dir.path()).unwrap();
        let id = load_identity(dir.path(), "portal").unwrap();
        assert_eq!(id.chain.len(), 1);
        assert_eq!(id.roots.len(), 1);
        assert!(!format!("{id:?}").contains("BEGIN"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for f in ["ca.key", "cbs.key", "portal.key"] {
                let mode = fs::metadata(dir.path().join(f))
                    .unwrap()
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o777, 0o600, "{f}");
            }
        }
        match generate_certs(&names, dir.path()) {
            Err(e @ NetError::CertsExist { .. }) => assert!(e.to_string().contains("--force")),
            other => panic!("{other:?}"),
        }
        let other = tempfile::tempdir().unwrap();
        assert!(matches!(
            generate_certs(&["a".into(), "A".into()], other.path()),
            Err(NetError::DuplicateParty { .. })
        ));
        assert!(matches!(
            generate_certs(&["../x".into()], other.path()),
            Err(NetError::InvalidPartyName { .. })
        ));
        assert!(matches!(
            load_identity(other.path(), "a"),
            Err(NetError::Certificates { .. })
        ));
    }

    #[test]
    fn existing_party_keys_are_not_overwritten_without_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("portal.key");
        fs::write(&key, "old").unwrap();
        let names = vec!["cbs".to_string(), "portal".to_string()];
        match generate_certs(&names, dir.path()) {
            Err(NetError::CertsExist { path }) => assert_eq!(path, key),
            other => panic!("{other:?}"),
        }
        // Nothing was written.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        assert_eq!(fs::read(&key).unwrap(), b"old");
        generate_certs_with(&names, dir.path(), Existing::Overwrite).unwrap();
        assert_ne!(fs::read(&key).unwrap(), b"old");
        assert!(load_identity(dir.path(), "portal").is_ok());
    }

    #[test]
    fn a_file_that_appears_after_the_check_is_not_replaced() {
        // The commit itself refuses to replace: a file created between the existence check
        // and the write (here: before the write, with no check) is kept and reported.
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("cbs.key");
        fs::write(&key, "someone else's").unwrap();
        match write_file(&key, b"new", 0o600, Existing::Refuse) {
            Err(NetError::CertsExist { path }) => assert_eq!(path, key),
            other => panic!("{other:?}"),
        }
        assert_eq!(fs::read(&key).unwrap(), b"someone else's");
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        write_file(&key, b"new", 0o600, Existing::Overwrite).unwrap();
        assert_eq!(fs::read(&key).unwrap(), b"new");
    }

    #[cfg(unix)]
    #[test]
    fn private_keys_readable_by_group_or_others_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        generate_certs(&["cbs".to_string()], dir.path()).unwrap();
        let key = dir.path().join("cbs.key");
        for mode in [0o644, 0o640, 0o604] {
            fs::set_permissions(&key, fs::Permissions::from_mode(mode)).unwrap();
            let e = load_identity(dir.path(), "cbs").unwrap_err();
            match &e {
                NetError::KeyShared { path, mode: m } => assert_eq!((path, *m), (&key, mode)),
                other => panic!("{other:?}"),
            }
            let msg = e.to_string();
            assert!(
                msg.contains(&format!("chmod 600 {}", key.display())),
                "{msg}"
            );
        }
        fs::set_permissions(&key, fs::Permissions::from_mode(0o400)).unwrap();
        assert!(load_identity(dir.path(), "cbs").is_ok());
    }
}

#[cfg(test)]
mod party_name_tests {
    use proptest::prelude::*;

    proptest! {
        /// The study file's check (samen-core, no TLS) accepts exactly the names that serve as
        /// certificate names here.
        #[test]
        fn core_and_certificate_checks_agree(name in "[a-z0-9_-]{0,66}|[A-Za-z0-9 ._-]{1,8}") {
            prop_assert_eq!(
                samen_core::names::is_valid_party_name(&name),
                super::validate_party_name(&name).is_ok()
            );
        }
    }
}
