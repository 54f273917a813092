//! The demo's preparation: synthetic data, the study file and the certificates.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::synth::{self, Join, SynthConfig, SynthSummary, PARTIES};
use super::{io, Args, DemoError};
use crate::cmd::CliError;

/// Generate the synthetic data and the study file (on three free loopback ports) into `dir`.
pub(super) fn generate_data(args: &Args, dir: &Path) -> Result<(SynthSummary, [u16; 3]), CliError> {
    let ports = free_ports()?;
    let data = synth::generate(
        &SynthConfig {
            residents: args.residents,
            users: args.users,
            seed: args.seed,
            ports,
            join: if args.two_party {
                Join::TwoParty
            } else {
                Join::Helper
            },
        },
        dir,
    )?;
    println!(
        "data      {} register rows (bureau), {} usage rows (portal), seed {}",
        data.residents, data.users, args.seed
    );
    println!("          in {}", dir.display());
    Ok((data, ports))
}

/// Run this binary's `certs` for the study into `<dir>/certs`; returns that directory.
pub(super) fn make_certs(exe: &Path, dir: &Path, study: &Path) -> Result<PathBuf, DemoError> {
    let certs = dir.join("certs");
    // With --keep on a directory used before: `samen certs` refuses to overwrite, so remove the
    // previous demo's certificates (only those files).
    for party in ["ca"].iter().chain(PARTIES.iter()) {
        for ext in ["pem", "key"] {
            let _ = std::fs::remove_file(certs.join(format!("{party}.{ext}")));
        }
    }
    let out = Command::new(exe)
        .arg("certs")
        .arg("--study")
        .arg(study)
        .arg("--out")
        .arg(&certs)
        .stdin(Stdio::null())
        .output()
        .map_err(io("cannot start `samen certs`"))?;
    if !out.status.success() {
        return Err(DemoError::Child(format!(
            "`samen certs` failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim_end()
        )));
    }
    Ok(certs)
}

/// The study line: file, ports, join method, certificates.
pub(super) fn print_study(study: &Path, ports: [u16; 3], two_party: bool, certs: &Path) {
    println!(
        "study     {} (parties on 127.0.0.1 ports {}, {}, {}; {} join), certificates in {}",
        study.display(),
        ports[0],
        ports[1],
        ports[2],
        if two_party {
            "two-party Diffie–Hellman"
        } else {
            "helper-assisted"
        },
        certs.display()
    );
}

/// Three distinct free loopback ports (bound together, then released).
fn free_ports() -> Result<[u16; 3], DemoError> {
    let bind = || TcpListener::bind("127.0.0.1:0").map_err(io("cannot bind a loopback port"));
    let l = [bind()?, bind()?, bind()?];
    let mut ports = [0u16; 3];
    for (p, l) in ports.iter_mut().zip(&l) {
        *p = l.local_addr().map_err(io("cannot read a port"))?.port();
    }
    Ok(ports)
}
