//! Every refusal has its own error: no client certificate, another CA, right CA but wrong
//! party name (both directions), version and study mismatches.
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use samen_net::frame::{encode_frame, FrameKind};
use samen_net::{NetError, Refusal};

/// Captures log output of every thread (global subscriber, installed once per test binary).
fn logs() -> &'static std::sync::Mutex<Vec<u8>> {
    static LOGS: std::sync::OnceLock<&'static std::sync::Mutex<Vec<u8>>> =
        std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let buf: &'static std::sync::Mutex<Vec<u8>> = Box::leak(Box::default());
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .with_writer(move || LogWriter(buf))
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        buf
    })
}

struct LogWriter(&'static std::sync::Mutex<Vec<u8>>);

impl Write for LogWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logged(needle: &str) -> bool {
    String::from_utf8_lossy(&logs().lock().unwrap()).contains(needle)
}

fn certs(names: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    samen_net::generate_certs(&names, dir.path()).unwrap();
    dir
}

type Connecting = std::thread::JoinHandle<
    Result<std::collections::BTreeMap<String, samen_net::TlsChannel>, NetError>,
>;

/// `alpha` listens (with `timeout`) in a thread; returns its address, both configs and the
/// thread.
fn alpha_listening(
    dir: &std::path::Path,
    timeout: Duration,
) -> (String, Vec<samen_net::NetConfig>, Connecting) {
    let cfgs = common::configs(&["alpha", "beta"], dir, timeout);
    let addr = cfgs[0].parties[0].1.clone();
    let alpha = cfgs[0].clone();
    let h = std::thread::spawn(move || samen_net::connect_all(&alpha));
    (addr, cfgs, h)
}

#[test]
fn no_client_certificate() {
    logs();
    let dir = certs(&["alpha", "beta"]);
    let (addr, _, alpha) = alpha_listening(dir.path(), Duration::from_secs(3));
    let mut raw = common::raw_client(&addr, dir.path(), None, "alpha").unwrap();
    let _ = raw.write_all(b"x");
    let mut buf = [0u8; 16];
    let client_side = raw.read(&mut buf).unwrap_err();
    assert!(
        client_side.to_string().contains("CertificateRequired"),
        "{client_side}"
    );
    let err = alpha.join().unwrap().unwrap_err();
    assert!(
        matches!(
            err,
            NetError::Refused {
                refusal: Refusal::NoClientCertificate { .. },
                ..
            }
        ),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("waiting for party 'beta'") && msg.contains("presented no client certificate"),
        "{msg}"
    );
    // The refusing side logged it as a warning.
    assert!(logged("WARN") && logged("presented no client certificate"));
}

#[test]
fn certificate_from_another_ca() {
    logs();
    let dir = certs(&["alpha", "beta"]);
    let other = certs(&["beta"]);
    let (_, cfgs, alpha) = alpha_listening(dir.path(), Duration::from_secs(3));
    // beta trusts the right CA but holds a certificate of another CA.
    let beta_dir = common::identity_dir(dir.path(), other.path(), "beta", "beta");
    let mut beta = cfgs[1].clone();
    beta.certs_dir = beta_dir.path().to_path_buf();
    let beta_err = samen_net::connect_all(&beta).unwrap_err();
    assert!(
        matches!(beta_err, NetError::RefusedByPeer { .. })
            && beta_err
                .to_string()
                .contains("does not accept this party's certificate"),
        "{beta_err}"
    );
    let err = alpha.join().unwrap().unwrap_err();
    assert!(
        matches!(
            err,
            NetError::Refused {
                refusal: Refusal::UntrustedCertificate { .. },
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("not issued by this study's CA"),
        "{err}"
    );
    assert!(logged("its certificate is not issued by this study's CA"));
}

#[test]
fn right_ca_wrong_party_name_as_dialer() {
    logs();
    let dir = certs(&["alpha", "beta", "mallory"]);
    let (_, cfgs, alpha) = alpha_listening(dir.path(), Duration::from_secs(3));
    let beta_dir = common::identity_dir(dir.path(), dir.path(), "mallory", "beta");
    let mut beta = cfgs[1].clone();
    beta.certs_dir = beta_dir.path().to_path_buf();
    let beta_err = samen_net::connect_all(&beta).unwrap_err();
    assert!(
        beta_err
            .to_string()
            .contains("accepts connections only from beta"),
        "{beta_err}"
    );
    let err = alpha.join().unwrap().unwrap_err();
    assert!(
        matches!(
            err,
            NetError::Refused {
                refusal: Refusal::NotAnExpectedParty { .. },
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains(
            "issued by this study's CA but not to any party expected to connect here (beta)"
        ),
        "{err}"
    );
    assert!(logged("not to any party expected to connect here (beta)"));
}

#[test]
fn right_ca_wrong_party_name_as_listener() {
    let dir = certs(&["alpha", "beta", "mallory"]);
    let cfgs = common::configs(&["alpha", "beta"], dir.path(), Duration::from_secs(3));
    let alpha_dir = common::identity_dir(dir.path(), dir.path(), "mallory", "alpha");
    let mut alpha = cfgs[0].clone();
    alpha.certs_dir = alpha_dir.path().to_path_buf();
    let alpha = std::thread::spawn(move || samen_net::connect_all(&alpha));
    let beta_err = samen_net::connect_all(&cfgs[1]).unwrap_err();
    assert!(
        matches!(beta_err, NetError::PeerCertificate { .. }),
        "{beta_err}"
    );
    assert!(
        beta_err
            .to_string()
            .contains("certificate is issued by the study CA but not to party 'alpha'"),
        "{beta_err}"
    );
    // The fake alpha sees beta's rejection and eventually gives up.
    assert!(alpha.join().unwrap().is_err());
}

#[test]
fn protocol_version_mismatch() {
    let dir = certs(&["alpha", "beta"]);
    let (addr, _, alpha) = alpha_listening(dir.path(), Duration::from_secs(10));
    let mut raw =
        common::raw_client(&addr, dir.path(), Some((dir.path(), "beta")), "alpha").unwrap();
    let mut hello = common::hello("beta", "alpha");
    hello.version = 99;
    raw.write_all(&encode_frame(FrameKind::Hello, &hello.encode().unwrap()).unwrap())
        .unwrap();
    let theirs = common::read_frame(&mut raw).unwrap();
    assert_eq!(theirs.kind, FrameKind::Hello);
    let theirs = samen_net::hello::Hello::decode("alpha", &theirs.payload).unwrap();
    assert_eq!(theirs.version, samen_net::hello::PROTOCOL_VERSION);
    // ... followed by an abort that tells the (old or new) peer why.
    let abort = common::read_frame(&mut raw).unwrap();
    assert_eq!(abort.kind, FrameKind::Abort);
    assert!(String::from_utf8_lossy(&abort.payload).contains("party 'alpha' refused the hello"));
    let err = alpha.join().unwrap().unwrap_err();
    assert_eq!(
        err.to_string(),
        "party 'beta' speaks samen protocol version 99 but this party speaks version 4: install \
         the same samen release at every party"
    );
}

#[test]
fn study_hash_and_name_mismatch_stop_both_sides() {
    let dir = certs(&["alpha", "beta"]);
    // A connect timeout far beyond the test: the hello errors below (not a timeout) show that
    // the mismatch stopped both sides, without a wall-clock bound.
    let mut cfgs = common::configs(&["alpha", "beta"], dir.path(), Duration::from_secs(300));
    cfgs[1].study_hash = [0xcd; 32];
    let results = common::connect_threads(cfgs.clone());
    let a = results[0].as_ref().unwrap_err().to_string();
    let b = results[1].as_ref().unwrap_err().to_string();
    assert_eq!(
        a,
        "party 'beta' runs study 'test-study' with configuration hash cdcdcdcdcdcdcdcd.. but \
         this party has 5a5a5a5a5a5a5a5a..: the study files differ"
    );
    assert!(
        b.starts_with("party 'alpha' runs study 'test-study' with configuration hash 5a5a"),
        "{b}"
    );

    let mut cfgs = common::configs(&["alpha", "beta"], dir.path(), Duration::from_secs(10));
    cfgs[0].study_name = "other".into();
    let results = common::connect_threads(cfgs);
    let a = results[0].as_ref().unwrap_err().to_string();
    let b = results[1].as_ref().unwrap_err().to_string();
    assert!(
        a.contains("party 'beta' runs study 'test-study' but this party runs study 'other'"),
        "{a}"
    );
    assert!(b.contains("party 'alpha' runs study 'other'"), "{b}");
}

#[test]
fn missing_peer_times_out_with_its_name() {
    let dir = certs(&["alpha", "beta"]);
    let cfgs = common::configs(&["alpha", "beta"], dir.path(), Duration::from_millis(600));
    let start = Instant::now();
    let err = samen_net::connect_all(&cfgs[1]).unwrap_err();
    // Only a hang guard: a loaded machine may wake the waiting thread late.
    assert!(start.elapsed() < Duration::from_secs(120));
    let msg = err.to_string();
    assert!(
        msg.contains("waiting for a connection with party 'alpha'")
            && msg.contains("cannot connect"),
        "{msg}"
    );
    let err = samen_net::connect_all(&cfgs[0]).unwrap_err();
    assert!(matches!(err, NetError::ConnectTimeout { .. }), "{err}");
}

#[test]
fn bad_configs_are_refused_before_connecting() {
    let dir = certs(&["alpha", "beta"]);
    let cfgs = common::configs(&["alpha", "beta"], dir.path(), Duration::from_secs(1));
    let mut c = cfgs[0].clone();
    c.me = "gamma".into();
    assert!(matches!(
        samen_net::connect_all(&c),
        Err(NetError::NotAParty { .. })
    ));
    let mut c = cfgs[0].clone();
    c.parties.push(("Alpha".into(), "127.0.0.1:1".into()));
    assert!(matches!(
        samen_net::connect_all(&c),
        Err(NetError::DuplicateParty { .. })
    ));
    let mut c = cfgs[0].clone();
    c.certs_dir = dir.path().join("nope");
    let err = samen_net::connect_all(&c).unwrap_err();
    assert!(err.to_string().contains("ca.pem"), "{err}");
}

#[test]
fn second_connection_from_a_connected_party_is_refused() {
    logs();
    let dir = certs(&["alpha", "beta", "gamma"]);
    let cfgs = common::configs(
        &["alpha", "beta", "gamma"],
        dir.path(),
        Duration::from_secs(3),
    );
    let addr = cfgs[0].parties[0].1.clone();
    let alpha_cfg = cfgs[0].clone();
    let alpha = std::thread::spawn(move || samen_net::connect_all(&alpha_cfg));
    let hello = encode_frame(
        FrameKind::Hello,
        &common::hello("beta", "alpha").encode().unwrap(),
    )
    .unwrap();
    let mut first =
        common::raw_client(&addr, dir.path(), Some((dir.path(), "beta")), "alpha").unwrap();
    first.write_all(&hello).unwrap();
    assert_eq!(
        common::read_frame(&mut first).unwrap().kind,
        FrameKind::Hello
    );
    let mut second =
        common::raw_client(&addr, dir.path(), Some((dir.path(), "beta")), "alpha").unwrap();
    second.write_all(&hello).unwrap();
    let answer = common::read_frame(&mut second).unwrap();
    assert_eq!(answer.kind, FrameKind::Abort);
    assert!(String::from_utf8_lossy(&answer.payload).contains("party 'beta' is already connected"));
    let err = alpha.join().unwrap().unwrap_err();
    assert!(
        matches!(err, NetError::Refused { refusal: Refusal::Duplicate { .. }, ref peer, .. } if peer == "gamma"),
        "{err}"
    );
    assert!(logged("party 'beta' is already connected"));
}
