//! Per-party keys pinned in the study: each party holds only its own key; peers are
//! authenticated by the SHA-256 of their public key. Wrong keys are refused before any data
//! moves, with messages naming the party; listen and advertised addresses differ; IPv6 and DNS
//! names work.
// Test code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use samen_core::channel::ChannelExt;
use samen_net::certs::Existing;
use samen_net::pin::{generate_party_key, Fingerprint};
use samen_net::{NetConfig, NetError, PeerAuth, Refusal};

const NAMES: [&str; 3] = ["alpha", "beta", "gamma"];

/// One key directory per party (as three organisations would have), and the pins.
struct Keys {
    _root: tempfile::TempDir,
    dirs: BTreeMap<String, PathBuf>,
    pins: BTreeMap<String, Fingerprint>,
}

fn keys() -> Keys {
    let root = tempfile::tempdir().unwrap();
    let mut dirs = BTreeMap::new();
    let mut pins = BTreeMap::new();
    for n in NAMES {
        let dir = root.path().join(n);
        pins.insert(
            n.to_string(),
            generate_party_key(n, &dir, Existing::Refuse).unwrap(),
        );
        dirs.insert(n.to_string(), dir);
    }
    Keys {
        _root: root,
        dirs,
        pins,
    }
}

fn pinned_configs(keys: &Keys, timeout: Duration) -> Vec<NetConfig> {
    let mut cfgs = common::configs(&NAMES, keys._root.path(), timeout);
    for c in &mut cfgs {
        c.certs_dir = keys.dirs[&c.me].clone();
        c.auth = PeerAuth::Pinned(keys.pins.clone());
    }
    cfgs
}

fn exchange(all: &mut [BTreeMap<String, samen_net::TlsChannel>]) {
    let t = {
        let mut b = all[1].remove("alpha").unwrap();
        std::thread::spawn(move || {
            b.send_u64s(&[4, 5, 6]).unwrap();
            b.recv_u64s(3).unwrap()
        })
    };
    let a = all[0].get_mut("beta").unwrap();
    a.send_u64s(&[1, 2, 3]).unwrap();
    assert_eq!(a.recv_u64s(3).unwrap(), vec![4, 5, 6]);
    assert_eq!(t.join().unwrap(), vec![1, 2, 3]);
}

#[test]
fn parties_holding_only_their_own_keys_connect_by_pin() {
    let keys = keys();
    // No directory holds another party's private key.
    for (name, dir) in &keys.dirs {
        let files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let mut files = files;
        files.sort();
        assert_eq!(files, [format!("{name}.key"), format!("{name}.pem")]);
    }
    let cfgs = pinned_configs(&keys, Duration::from_secs(20));
    let mut all: Vec<_> = common::connect_threads(cfgs)
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    exchange(&mut all);
}

#[test]
fn a_dialer_whose_key_is_not_its_pin_is_refused_naming_it() {
    // gamma dials alpha and beta with a fresh key; alpha and beta pin gamma's old key. gamma's
    // own configuration pins its new key (as a differently edited study file would).
    let keys = keys();
    let mut cfgs = pinned_configs(&keys, Duration::from_secs(3));
    let rogue_dir = keys._root.path().join("rogue");
    let rogue = generate_party_key("gamma", &rogue_dir, Existing::Refuse).unwrap();
    let mut gamma_pins = keys.pins.clone();
    gamma_pins.insert("gamma".into(), rogue);
    cfgs[2].certs_dir = rogue_dir;
    cfgs[2].auth = PeerAuth::Pinned(gamma_pins);
    let results = common::connect_threads(cfgs);
    // The listeners refused gamma's connection: the refusal names the party the certificate
    // claims and the key it presented.
    let mut named = 0;
    for r in &results[..2] {
        match r {
            Err(NetError::Refused {
                peer,
                refusal: Refusal::UnpinnedKey { detail, .. },
                ..
            }) => {
                assert_eq!(peer, "gamma");
                assert!(detail.contains("naming party 'gamma'"), "{detail}");
                assert!(detail.contains(&rogue.to_string()), "{detail}");
                named += 1;
            }
            Err(e) => {
                // The other party may have been stopped by the first refusal instead.
                let m = e.to_string();
                assert!(m.contains("gamma"), "{m}");
            }
            Ok(_) => panic!("a party connected with a wrong key"),
        }
    }
    assert!(named >= 1);
    match &results[2] {
        Err(NetError::RefusedByPeer { reason, .. }) => {
            assert!(
                reason.contains("does not accept this party's certificate"),
                "{reason}"
            )
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("gamma connected"),
    }
}

#[test]
fn a_listener_whose_key_is_not_its_pin_is_refused_naming_it() {
    // alpha listens with a fresh key it pins for itself; beta and gamma pin alpha's old key:
    // the dialers refuse alpha before sending anything.
    let keys = keys();
    let mut cfgs = pinned_configs(&keys, Duration::from_secs(3));
    let rogue_dir = keys._root.path().join("rogue");
    let rogue = generate_party_key("alpha", &rogue_dir, Existing::Refuse).unwrap();
    let mut alpha_pins = keys.pins.clone();
    alpha_pins.insert("alpha".into(), rogue);
    cfgs[0].certs_dir = rogue_dir;
    cfgs[0].auth = PeerAuth::Pinned(alpha_pins);
    let results = common::connect_threads(cfgs);
    assert!(results.iter().all(|r| r.is_err()));
    let mut refused = 0;
    for r in &results[1..] {
        if let Err(NetError::PeerCertificate { peer, detail, .. }) = r {
            assert_eq!(peer, "alpha");
            assert!(
                detail.contains("party 'alpha' presented the key")
                    && detail.contains(&rogue.to_string())
                    && detail.contains(&keys.pins["alpha"].to_string()),
                "{detail}"
            );
            refused += 1;
        }
    }
    assert!(refused >= 1, "{results:?}");
}

#[test]
fn a_party_whose_own_key_is_not_its_pin_stops_before_connecting() {
    let keys = keys();
    let mut cfgs = pinned_configs(&keys, Duration::from_secs(3));
    cfgs[1].certs_dir = keys.dirs["gamma"].clone();
    // beta's directory holds gamma's files, not beta's: missing file.
    assert!(matches!(
        samen_net::connect_all(&cfgs[1]),
        Err(NetError::Certificates { .. })
    ));
    // A key of beta that is not beta's pin.
    let other = keys._root.path().join("other");
    let fresh = generate_party_key("beta", &other, Existing::Refuse).unwrap();
    cfgs[1].certs_dir = other;
    match samen_net::connect_all(&cfgs[1]) {
        Err(e @ NetError::OwnKeyNotPinned { .. }) => {
            let m = e.to_string();
            assert!(
                m.contains(&fresh.to_string()) && m.contains("'beta'"),
                "{m}"
            );
        }
        other => panic!("{other:?}"),
    }
    // Pins on some parties only.
    let mut partial = keys.pins.clone();
    partial.remove("gamma");
    cfgs[0].auth = PeerAuth::Pinned(partial);
    match samen_net::connect_all(&cfgs[0]) {
        Err(NetError::MissingPin { party }) => assert_eq!(party, "gamma"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn listen_address_differs_from_the_advertised_one_and_dns_names_and_ipv6_work() {
    let keys = keys();
    let mut cfgs = pinned_configs(&keys, Duration::from_secs(20));
    let (pa, pb) = (common::free_port(), common::free_port());
    let ipv6 = std::net::TcpListener::bind("[::1]:0").is_ok();
    // alpha listens on all interfaces and is reached by a DNS name; beta listens on IPv6
    // loopback where available.
    let beta_addr = if ipv6 {
        format!("[::1]:{pb}")
    } else {
        format!("127.0.0.1:{pb}")
    };
    let parties = vec![
        ("alpha".to_string(), format!("localhost:{pa}")),
        ("beta".to_string(), beta_addr),
        ("gamma".to_string(), cfgs[2].parties[2].1.clone()),
    ];
    for c in &mut cfgs {
        c.parties = parties.clone();
    }
    cfgs[0].listen = Some(format!("0.0.0.0:{pa}"));
    let mut all: Vec<_> = common::connect_threads(cfgs)
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    exchange(&mut all);
}

#[test]
fn a_pinned_party_that_should_not_dial_here_is_refused_by_its_key() {
    // alpha (which listens for everyone and never dials) connects to beta's listener with its
    // own, correctly pinned key: beta accepts the handshake, names alpha by its key, refuses
    // it (beta waits for gamma only) and keeps waiting.
    use std::sync::Arc;
    let keys = keys();
    let mut cfgs = pinned_configs(&keys, Duration::from_secs(3));
    let mut beta = cfgs.remove(1);
    let beta_addr = beta.parties[1].1.clone();
    // beta knows alpha's pin but does not dial it here, so that its only wait is for gamma.
    beta.parties.retain(|(name, _)| name != "alpha");
    let h = std::thread::spawn(move || samen_net::connect_all(&beta));
    let own = samen_net::pin::load_own_key(&keys.dirs["alpha"], "alpha").unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(samen_net::pin::PinnedServerVerifier::new(
            keys.pins.clone(),
        )))
        .with_client_auth_cert(own.chain, own.key)
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let sock = loop {
        match std::net::TcpStream::connect(&beta_addr) {
            Ok(s) => break s,
            Err(e) if std::time::Instant::now() > deadline => panic!("{e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let conn = rustls::ClientConnection::new(
        Arc::new(config),
        rustls::pki_types::ServerName::try_from("beta").unwrap(),
    )
    .unwrap();
    let mut raw = rustls::StreamOwned::new(conn, sock);
    let frame = common::read_frame(&mut raw).unwrap();
    assert_eq!(frame.kind, samen_net::frame::FrameKind::Abort);
    let text = String::from_utf8_lossy(&frame.payload).to_string();
    assert!(
        text.contains("accepts connections only from gamma (checked by pinned key)"),
        "{text}"
    );
    match h.join().unwrap() {
        Err(NetError::Refused {
            peer,
            refusal: Refusal::UnpinnedKey { detail, .. },
            ..
        }) => {
            assert_eq!(peer, "gamma");
            assert!(
                detail.contains("the key pinned for party 'alpha', which is not expected"),
                "{detail}"
            );
        }
        other => panic!("{other:?}"),
    }
}
