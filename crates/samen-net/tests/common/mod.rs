//! Shared helpers for the samen-net integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use samen_net::{NetConfig, TlsChannel};

/// A free loopback port (bound then released; the small race is acceptable in tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

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
            certs_dir: certs.to_path_buf(),
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

/// Deterministic test vector generator (splitmix64).
pub fn splitmix(seed: u64, n: usize) -> Vec<u64> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        })
        .collect()
}
