//! Per-party keys pinned in the study file: each party makes its own key pair and a
//! self-signed certificate ([`generate_party_key`], `samen keys`), publishes the key's
//! [`Fingerprint`], and the study file lists every party's fingerprint. Peers are then
//! authenticated by comparing the SHA-256 of the public key they present with the pin — no
//! certificate authority, and no party ever holds another party's private key.
//!
//! **What is hashed.** A fingerprint is the SHA-256 of the DER encoding of the certificate's
//! `SubjectPublicKeyInfo` (RFC 5280 §4.1: the algorithm identifier and the public key), written
//! `sha256:` followed by 64 lower-case hex digits. It identifies the key, not the certificate:
//! re-issuing a certificate for the same key keeps the fingerprint. With OpenSSL:
//!
//! ```text
//! openssl x509 -in NAME.pem -pubkey -noout | openssl pkey -pubin -outform der | sha256sum
//! ```
//!
//! **What is checked.** Both sides of every connection run TLS 1.3 with mutual authentication.
//! The dialer's [`PinnedServerVerifier`] accepts the listener's certificate only if the hash of
//! its public key equals the pin of the party it dials; the listener's [`PinnedClientVerifier`]
//! accepts a client certificate only if the hash equals the pin of some peer, and the
//! connection is then attributed to that peer (the name in the certificate plays no part). The
//! comparison runs in constant time. TLS itself proves possession of the private key (the
//! handshake signature is checked against the presented key). Certificate dates, issuers and
//! extensions are not checked: the pin in the study file, which every party approves, is the
//! trust decision.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::ParsedCertificate;
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName as TlsDn, SignatureScheme,
};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::certs::{read_certs, read_private_key, validate_party_name, write_file, Existing};
use crate::error::NetError;

/// The SHA-256 of a public key's DER `SubjectPublicKeyInfo`, written `sha256:<64 hex>`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER `SubjectPublicKeyInfo`.
    pub fn of_spki(spki_der: &[u8]) -> Fingerprint {
        Fingerprint(Sha256::digest(spki_der).into())
    }

    /// The fingerprint of the public key in a DER certificate.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let fp = samen_net::pin::generate_party_key("portal", dir.path(), samen_net::certs::Existing::Refuse).unwrap();
    /// let id = samen_net::pin::load_own_key(dir.path(), "portal").unwrap();
    /// assert_eq!(samen_net::pin::Fingerprint::of_certificate(&id.chain[0]).unwrap(), fp);
    /// ```
    pub fn of_certificate(cert: &CertificateDer<'_>) -> Result<Fingerprint, rustls::Error> {
        let parsed = ParsedCertificate::try_from(cert)?;
        Ok(Fingerprint::of_spki(
            parsed.subject_public_key_info().as_ref(),
        ))
    }

    /// Compare in constant time.
    pub fn ct_eq(&self, other: &Fingerprint) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", hex::encode(self.0))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A fingerprint that is not `sha256:` followed by 64 hex digits.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a key fingerprint: expected sha256: followed by 64 hex digits")]
pub struct BadFingerprint(pub String);

impl FromStr for Fingerprint {
    type Err = BadFingerprint;

    /// Parse `sha256:<64 hex digits>` (hex in either case).
    ///
    /// ```
    /// use samen_net::pin::Fingerprint;
    /// let fp: Fingerprint = format!("sha256:{}", "ab".repeat(32)).parse().unwrap();
    /// assert_eq!(fp.0, [0xab; 32]);
    /// assert!("sha256:abc".parse::<Fingerprint>().is_err());
    /// assert!(format!("md5:{}", "ab".repeat(32)).parse::<Fingerprint>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Fingerprint, BadFingerprint> {
        let bad = || BadFingerprint(s.chars().take(80).collect());
        let digits = s.strip_prefix("sha256:").ok_or_else(bad)?;
        if digits.len() != 64 {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(digits, &mut out).map_err(|_| bad())?;
        Ok(Fingerprint(out))
    }
}

/// Years a self-signed party certificate stays valid (informational: dates are not checked
/// when peers are pinned).
const VALIDITY_YEARS: i32 = 10;

/// Make a new key pair and self-signed certificate for party `name` in `out_dir` (created if
/// missing): `<name>.key` (PEM private key, mode 0600) and `<name>.pem` (certificate whose
/// subject common name and only DNS name is the party name). Returns the key's fingerprint.
///
/// With [`Existing::Refuse`] neither file may exist: the check happens before anything is
/// written, and each file is committed without replacing, so a file that appears meanwhile
/// is kept and reported ([`NetError::KeyExists`]).
pub fn generate_party_key(
    name: &str,
    out_dir: &Path,
    existing: Existing,
) -> Result<Fingerprint, NetError> {
    validate_party_name(name)?;
    std::fs::create_dir_all(out_dir).map_err(|source| NetError::Write {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let key_path = out_dir.join(format!("{name}.key"));
    let cert_path = out_dir.join(format!("{name}.pem"));
    if existing == Existing::Refuse {
        for path in [&key_path, &cert_path] {
            if std::fs::symlink_metadata(path).is_ok() {
                return Err(NetError::KeyExists { path: path.clone() });
            }
        }
    }
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(vec![name.to_string()])?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    params.distinguished_name = dn;
    params.is_ca = IsCa::NoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let year = crate::certs::this_year();
    params.not_before = rcgen::date_time_ymd(year - 1, 12, 31);
    params.not_after = rcgen::date_time_ymd(year + VALIDITY_YEARS, 1, 1);
    let cert = params.self_signed(&key)?;
    let fingerprint =
        Fingerprint::of_certificate(cert.der()).map_err(|e| NetError::Certificates {
            path: cert_path.clone(),
            detail: format!("the generated certificate does not parse ({e})"),
        })?;
    let key_pem = Zeroizing::new(key.serialize_pem());
    let as_key_error = |e: NetError| match e {
        NetError::CertsExist { path } => NetError::KeyExists { path },
        other => other,
    };
    write_file(&key_path, key_pem.as_bytes(), 0o600, existing).map_err(as_key_error)?;
    write_file(&cert_path, cert.pem().as_bytes(), 0o644, existing).map_err(as_key_error)?;
    Ok(fingerprint)
}

/// This party's own key and certificate, loaded for pinned mode.
pub struct OwnKey {
    /// The certificate (one, self-signed).
    pub chain: Vec<CertificateDer<'static>>,
    /// The private key.
    pub key: PrivateKeyDer<'static>,
    /// The fingerprint of the certificate's public key.
    pub fingerprint: Fingerprint,
}

impl fmt::Debug for OwnKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnKey")
            .field("fingerprint", &self.fingerprint)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// Load `dir/<me>.pem` and `dir/<me>.key` as `samen keys` wrote them. A key file that its
/// group or other users can access is refused ([`NetError::KeyShared`]), and so is a key that
/// does not belong to the certificate.
pub fn load_own_key(dir: &Path, me: &str) -> Result<OwnKey, NetError> {
    let cert_path: PathBuf = dir.join(format!("{me}.pem"));
    let key_path: PathBuf = dir.join(format!("{me}.key"));
    let chain = read_certs(&cert_path)?;
    let key = read_private_key(&key_path)?;
    let leaf = chain.first().ok_or_else(|| NetError::Certificates {
        path: cert_path.clone(),
        detail: "holds no certificate".into(),
    })?;
    let fingerprint = Fingerprint::of_certificate(leaf).map_err(|e| NetError::Certificates {
        path: cert_path.clone(),
        detail: format!("not a usable certificate ({e})"),
    })?;
    // The key must be the certificate's: otherwise every handshake would fail later with an
    // obscure signature error.
    let provider = rustls::crypto::ring::default_provider();
    let signing = provider
        .key_provider
        .load_private_key(key.clone_key())
        .map_err(|e| NetError::Certificates {
            path: key_path.clone(),
            detail: format!("not a usable private key ({e})"),
        })?;
    match signing.public_key() {
        Some(spki) if Fingerprint::of_spki(spki.as_ref()).ct_eq(&fingerprint) => {}
        Some(_) => {
            return Err(NetError::Certificates {
                path: key_path,
                detail: format!(
                    "this private key does not belong to the certificate {}",
                    cert_path.display()
                ),
            })
        }
        None => {}
    }
    Ok(OwnKey {
        chain,
        key,
        fingerprint,
    })
}

/// A peer presented a key that is not its pin (or not any peer's pin).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PinMismatch {
    /// The dialed party's key is not its pin.
    #[error(
        "party '{party}' presented the key {presented}, which is not the key pinned for \
         '{party}' in the study file ({pinned})"
    )]
    Listener {
        /// The dialed party.
        party: String,
        /// Its pin in the study file.
        pinned: Fingerprint,
        /// The fingerprint of the key it presented.
        presented: Fingerprint,
    },
    /// A dialer's key is not the pin of any party.
    #[error(
        "a certificate{} with the key {presented}, which is not pinned for any party in the \
         study file",
        claims.as_ref().map(|c| format!(" naming party '{c}'")).unwrap_or_default()
    )]
    Dialer {
        /// The party the certificate names, if it names one of the study's parties.
        claims: Option<String>,
        /// The fingerprint of the key it presented.
        presented: Fingerprint,
    },
    /// The dialed party has no pin (a configuration error).
    #[error("party '{party}' has no pinned key")]
    NoPin {
        /// The party.
        party: String,
    },
}

fn reject(e: PinMismatch) -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(Arc::new(e))))
}

fn presented(end_entity: &CertificateDer<'_>) -> Result<Fingerprint, rustls::Error> {
    Fingerprint::of_certificate(end_entity)
        .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))
}

/// Verifies the listener's certificate on the dialing side: its key must be the pin of the
/// dialed party (looked up by the server name the dialer connects to, which is the party name).
#[derive(Debug)]
pub struct PinnedServerVerifier {
    pins: BTreeMap<String, Fingerprint>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl PinnedServerVerifier {
    /// A verifier for these pins (party name → fingerprint).
    pub fn new(pins: BTreeMap<String, Fingerprint>) -> PinnedServerVerifier {
        PinnedServerVerifier {
            pins,
            algorithms: rustls::crypto::ring::default_provider().signature_verification_algorithms,
        }
    }
}

impl ServerCertVerifier for PinnedServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let party = match server_name {
            ServerName::DnsName(d) => d.as_ref().to_string(),
            other => other.to_str().into_owned(),
        };
        let pinned = *self.pins.get(&party).ok_or_else(|| {
            reject(PinMismatch::NoPin {
                party: party.clone(),
            })
        })?;
        let presented = presented(end_entity)?;
        if presented.ct_eq(&pinned) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(reject(PinMismatch::Listener {
                party,
                pinned,
                presented,
            }))
        }
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::PeerIncompatible(
            rustls::PeerIncompatible::Tls12NotOffered,
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Verifies a dialer's client certificate on the listening side: its key must be the pin of
/// one of the peers. [`PinnedClientVerifier::party_of`] then names the peer.
#[derive(Debug)]
pub struct PinnedClientVerifier {
    pins: BTreeMap<String, Fingerprint>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl PinnedClientVerifier {
    /// A verifier that accepts the keys pinned for these peers (party name → fingerprint).
    pub fn new(pins: BTreeMap<String, Fingerprint>) -> PinnedClientVerifier {
        PinnedClientVerifier {
            pins,
            algorithms: rustls::crypto::ring::default_provider().signature_verification_algorithms,
        }
    }

    /// The peer whose pin is the key of `cert`, if any (every pin is compared, in constant
    /// time each).
    pub fn party_of(&self, cert: &CertificateDer<'_>) -> Option<String> {
        let fp = Fingerprint::of_certificate(cert).ok()?;
        let mut found = None;
        for (name, pin) in &self.pins {
            if fp.ct_eq(pin) {
                found = Some(name.clone());
            }
        }
        found
    }
}

impl ClientCertVerifier for PinnedClientVerifier {
    fn root_hint_subjects(&self) -> &[TlsDn] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let fp = presented(end_entity)?;
        if self.party_of(end_entity).is_some() {
            return Ok(ClientCertVerified::assertion());
        }
        // For the refusal message only: which party the certificate claims to be.
        let claims = ParsedCertificate::try_from(end_entity)
            .ok()
            .and_then(|parsed| {
                self.pins
                    .keys()
                    .find(|name| {
                        ServerName::try_from(name.as_str()).ok().is_some_and(|sn| {
                            rustls::client::verify_server_name(&parsed, &sn).is_ok()
                        })
                    })
                    .cloned()
            });
        Err(reject(PinMismatch::Dialer {
            claims,
            presented: fp,
        }))
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::PeerIncompatible(
            rustls::PeerIncompatible::Tls12NotOffered,
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The message of a pin mismatch carried in a rustls certificate error, if it is one.
pub(crate) fn pin_mismatch(e: &CertificateError) -> Option<String> {
    match e {
        CertificateError::Other(o) => o.0.downcast_ref::<PinMismatch>().map(|m| m.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_private_never_replaced_and_fingerprint_the_public_key() {
        let dir = tempfile::tempdir().unwrap();
        let fp = generate_party_key("portal", dir.path(), Existing::Refuse).unwrap();
        let own = load_own_key(dir.path(), "portal").unwrap();
        assert_eq!(own.fingerprint, fp);
        // The fingerprint is the SHA-256 of the SubjectPublicKeyInfo of the key pair.
        let pem = std::fs::read_to_string(dir.path().join("portal.key")).unwrap();
        let kp = KeyPair::from_pem(&pem).unwrap();
        assert_eq!(Fingerprint::of_spki(&kp.public_key_der()), fp);
        assert_eq!(fp.to_string().parse::<Fingerprint>().unwrap(), fp);
        assert!(!format!("{own:?}").contains("BEGIN"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("portal.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
            std::fs::set_permissions(
                dir.path().join("portal.key"),
                std::fs::Permissions::from_mode(0o640),
            )
            .unwrap();
            assert!(matches!(
                load_own_key(dir.path(), "portal"),
                Err(NetError::KeyShared { .. })
            ));
            std::fs::set_permissions(
                dir.path().join("portal.key"),
                std::fs::Permissions::from_mode(0o600),
            )
            .unwrap();
        }
        let before = std::fs::read(dir.path().join("portal.key")).unwrap();
        match generate_party_key("portal", dir.path(), Existing::Refuse) {
            Err(NetError::KeyExists { path }) => assert_eq!(path, dir.path().join("portal.key")),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            std::fs::read(dir.path().join("portal.key")).unwrap(),
            before
        );
        let fp2 = generate_party_key("portal", dir.path(), Existing::Overwrite).unwrap();
        assert_ne!(fp2, fp);
        assert_eq!(load_own_key(dir.path(), "portal").unwrap().fingerprint, fp2);
    }

    #[test]
    fn a_key_that_is_not_the_certificates_is_refused() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        generate_party_key("x", a.path(), Existing::Refuse).unwrap();
        generate_party_key("x", b.path(), Existing::Refuse).unwrap();
        std::fs::copy(b.path().join("x.pem"), a.path().join("x.pem")).unwrap();
        match load_own_key(a.path(), "x") {
            Err(NetError::Certificates { detail, .. }) => {
                assert!(detail.contains("does not belong"), "{detail}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn verifiers_accept_the_pin_and_name_the_party_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let fa = generate_party_key("alpha", dir.path(), Existing::Refuse).unwrap();
        let fb = generate_party_key("beta", dir.path(), Existing::Refuse).unwrap();
        let a = load_own_key(dir.path(), "alpha").unwrap();
        let b = load_own_key(dir.path(), "beta").unwrap();
        let pins: BTreeMap<String, Fingerprint> =
            [("alpha".to_string(), fa), ("beta".to_string(), fb)].into();
        let server = PinnedServerVerifier::new(pins.clone());
        let name = ServerName::try_from("alpha").unwrap();
        let now = UnixTime::now();
        assert!(server
            .verify_server_cert(&a.chain[0], &[], &name, &[], now)
            .is_ok());
        // beta's certificate where alpha is dialed: refused, naming alpha.
        match server.verify_server_cert(&b.chain[0], &[], &name, &[], now) {
            Err(rustls::Error::InvalidCertificate(ce)) => {
                let m = pin_mismatch(&ce).unwrap();
                assert!(m.contains("party 'alpha' presented the key"), "{m}");
            }
            other => panic!("{other:?}"),
        }
        let client = PinnedClientVerifier::new(pins);
        assert!(client.verify_client_cert(&b.chain[0], &[], now).is_ok());
        assert_eq!(client.party_of(&b.chain[0]).as_deref(), Some("beta"));
        // A new key for beta, not pinned: refused, naming the party the certificate claims.
        let other = tempfile::tempdir().unwrap();
        generate_party_key("beta", other.path(), Existing::Refuse).unwrap();
        let rogue = load_own_key(other.path(), "beta").unwrap();
        match client.verify_client_cert(&rogue.chain[0], &[], now) {
            Err(rustls::Error::InvalidCertificate(ce)) => {
                let m = pin_mismatch(&ce).unwrap();
                assert!(m.contains("naming party 'beta'"), "{m}");
                assert!(m.contains(&rogue.fingerprint.to_string()), "{m}");
            }
            other => panic!("{other:?}"),
        }
    }
}
