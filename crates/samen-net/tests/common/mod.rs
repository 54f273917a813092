//! Shared helpers for the samen-net integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use samen_net::{NetConfig, TlsChannel};

pub use samen_testkit::free_port;

/// Configs for `names`, each on its own free loopback port.
pub fn configs(names: &[&str], certs: &Path, timeout: Duration) -> Vec<NetConfig> {
    let parties: Vec<(String, String)> = names
        .iter()
        .map(|n| (n.to_string(), format!("127.0.0.1:{}", free_port())))
        .collect();
    names
        .iter()
        .map(|me| NetConfig {
            me: me.to_string(),
            parties: parties.clone(),
            listen: None,
            certs_dir: certs.to_path_buf(),
            auth: samen_net::PeerAuth::StudyCa,
            study_name: "test-study".into(),
            study_hash: [0x5a; 32],
            connect_timeout: timeout,
            io_timeout: timeout,
        })
        .collect()
}

/// Connect all configs from threads; returns each party's channels (in config order).
pub fn connect_threads(
    cfgs: Vec<NetConfig>,
) -> Vec<Result<BTreeMap<String, TlsChannel>, samen_net::NetError>> {
    let handles: Vec<_> = cfgs
        .into_iter()
        .map(|c| std::thread::spawn(move || samen_net::connect_all(&c)))
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

/// A hand-made dialer ("raw peer") for misbehaviour tests: TLS client with the given client
/// identity (or none), trusting `ca_dir/ca.pem`, expecting the server to be `server`.
pub fn raw_client(
    addr: &str,
    ca_dir: &Path,
    client_identity: Option<(&Path, &str)>,
    server: &str,
) -> std::io::Result<rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    use std::sync::Arc;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca_dir.join("ca.pem")).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots);
    let config = match client_identity {
        None => builder.with_no_client_auth(),
        Some((dir, name)) => {
            let chain: Vec<_> = CertificateDer::pem_file_iter(dir.join(format!("{name}.pem")))
                .unwrap()
                .map(|c| c.unwrap())
                .collect();
            let key = PrivateKeyDer::from_pem_file(dir.join(format!("{name}.key"))).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let sock = loop {
        match std::net::TcpStream::connect(addr) {
            Ok(s) => break s,
            Err(e) if std::time::Instant::now() > deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    sock.set_read_timeout(Some(Duration::from_secs(20)))?;
    let conn = rustls::ClientConnection::new(
        Arc::new(config),
        ServerName::try_from(server.to_string()).unwrap(),
    )
    .unwrap();
    Ok(rustls::StreamOwned::new(conn, sock))
}

/// Read one frame from a raw stream.
pub fn read_frame(stream: &mut impl std::io::Read) -> std::io::Result<samen_net::frame::Frame> {
    let mut header = [0u8; 5];
    stream.read_exact(&mut header)?;
    let len = u32::from_le_bytes(header[1..].try_into().unwrap()) as usize;
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload)?;
    Ok(samen_net::frame::Frame {
        kind: samen_net::frame::FrameKind::from_byte(header[0]).unwrap(),
        payload,
    })
}

/// The hello `sender` would send to `receiver` in the test study.
pub fn hello(sender: &str, receiver: &str) -> samen_net::hello::Hello {
    samen_net::hello::Hello {
        version: samen_net::hello::PROTOCOL_VERSION,
        study_name: "test-study".into(),
        study_hash: [0x5a; 32],
        sender: sender.into(),
        receiver: receiver.into(),
    }
}

/// Copy `from_dir/<from>.{pem,key}` to `to_dir/<to>.{pem,key}` and `ca_dir/ca.pem` to `to_dir`.
pub fn identity_dir(ca_dir: &Path, from_dir: &Path, from: &str, to: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::copy(ca_dir.join("ca.pem"), d.path().join("ca.pem")).unwrap();
    std::fs::copy(
        from_dir.join(format!("{from}.pem")),
        d.path().join(format!("{to}.pem")),
    )
    .unwrap();
    std::fs::copy(
        from_dir.join(format!("{from}.key")),
        d.path().join(format!("{to}.key")),
    )
    .unwrap();
    d
}
