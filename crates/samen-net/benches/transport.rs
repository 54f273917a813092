//! Transport benchmarks: bulk transfer throughput and small-message round trips over
//! mutually authenticated TLS between two processes on loopback, over plain TCP (same framing,
//! no encryption) between two processes, and over the in-process `local_pair`.
//!
//! The peer process is this benchmark binary itself, started with `SAMEN_NET_BENCH_CHILD`.
//! Run: `cargo bench -p samen-net --bench transport -- --warm-up-time 1 --measurement-time 3`
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use samen_core::channel::{local_pair, Channel, ChannelError, ChannelExt, ChannelStats};
use samen_net::frame::{encode_header, FrameKind, HEADER_LEN};

const CMD_QUIT: u64 = 0;
const CMD_SINK: u64 = 1;
const CMD_ECHO: u64 = 2;
const CMD_DUPLEX: u64 = 3;

/// The peer side: obeys commands until told to quit.
fn serve(ch: &mut dyn Channel) -> Result<(), ChannelError> {
    loop {
        let cmd = ch.recv_u64s(3)?;
        let (n, iters) = (cmd[1] as usize, cmd[2]);
        match cmd[0] {
            CMD_SINK => {
                for _ in 0..iters {
                    ch.recv_bulk(n)?;
                }
                ch.send_u64(1)?;
            }
            CMD_ECHO => {
                for _ in 0..iters {
                    let m = ch.recv(64)?;
                    ch.send(&m)?;
                }
            }
            CMD_DUPLEX => {
                let data = vec![0x5au8; n];
                for _ in 0..iters {
                    ch.send_bulk(&data)?;
                    ch.recv_bulk(n)?;
                }
            }
            _ => return Ok(()),
        }
    }
}

/// Plain TCP with the same framing, sequential (not full duplex): the baseline without TLS.
struct PlainTcp {
    sock: TcpStream,
    stats: ChannelStats,
}

impl Channel for PlainTcp {
    fn peer(&self) -> &str {
        "tcp-peer"
    }
    fn send(&mut self, payload: &[u8]) -> Result<(), ChannelError> {
        let t = |e: std::io::Error| ChannelError::Transport {
            peer: "tcp-peer".into(),
            detail: e.to_string(),
        };
        let header =
            encode_header(FrameKind::Data, payload.len()).map_err(|e| ChannelError::Transport {
                peer: "tcp-peer".into(),
                detail: e.to_string(),
            })?;
        self.sock.write_all(&header).map_err(t)?;
        self.sock.write_all(payload).map_err(t)?;
        self.stats.bytes_sent += payload.len() as u64;
        Ok(())
    }
    fn recv(&mut self, max_len: usize) -> Result<Vec<u8>, ChannelError> {
        let t = |e: std::io::Error| ChannelError::Transport {
            peer: "tcp-peer".into(),
            detail: e.to_string(),
        };
        let mut header = [0u8; HEADER_LEN];
        self.sock.read_exact(&mut header).map_err(t)?;
        let len = u32::from_le_bytes([header[1], header[2], header[3], header[4]]) as usize;
        if len > max_len {
            return Err(ChannelError::FrameTooLarge {
                peer: "tcp-peer".into(),
                len,
                max: max_len,
            });
        }
        let mut payload = vec![0u8; len];
        self.sock.read_exact(&mut payload).map_err(t)?;
        self.stats.bytes_received += len as u64;
        Ok(payload)
    }
    fn stats(&self) -> ChannelStats {
        self.stats
    }
}

fn net_config(me: &str, certs: &str, port: u16) -> samen_net::NetConfig {
    samen_net::NetConfig {
        me: me.into(),
        parties: vec![
            ("alpha".into(), format!("127.0.0.1:{port}")),
            ("beta".into(), "127.0.0.1:1".into()),
        ],
        listen: None,
        certs_dir: certs.into(),
        auth: samen_net::PeerAuth::StudyCa,
        study_name: "bench".into(),
        study_hash: [1; 32],
        connect_timeout: Duration::from_secs(30),
        io_timeout: Duration::from_secs(120),
    }
}

fn child_main(mode: &str) {
    let var = |k: &str| std::env::var(k).expect(k);
    let port: u16 = var("SAMEN_NET_BENCH_PORT").parse().expect("port");
    match mode {
        "tls" => {
            let cfg = net_config("beta", &var("SAMEN_NET_BENCH_CERTS"), port);
            let mut chans = samen_net::connect_all(&cfg).expect("connect");
            let mut ch = chans.remove("alpha").expect("alpha");
            serve(&mut ch).expect("serve");
        }
        _ => {
            let sock = TcpStream::connect(("127.0.0.1", port)).expect("connect");
            sock.set_nodelay(true).expect("nodelay");
            serve(&mut PlainTcp {
                sock,
                stats: ChannelStats::default(),
            })
            .expect("serve");
        }
    }
}

fn spawn(mode: &str, port: u16, certs: &str) -> Child {
    Command::new(std::env::current_exe().expect("exe"))
        .env("SAMEN_NET_BENCH_CHILD", mode)
        .env("SAMEN_NET_BENCH_PORT", port.to_string())
        .env("SAMEN_NET_BENCH_CERTS", certs)
        .spawn()
        .expect("spawn peer")
}

const SIZES: [usize; 2] = [1 << 20, 32 << 20];

fn bench_transport(c: &mut Criterion, name: &str, ch: &mut dyn Channel, duplex: bool) {
    let mut group = c.benchmark_group(format!("bulk_one_way/{name}"));
    for &n in &SIZES {
        let data: Vec<u8> = (0..n)
            .map(|i| (i as u64).wrapping_mul(0x9e37_79b9) as u8)
            .collect();
        group.throughput(Throughput::Bytes(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            b.iter_custom(|iters| {
                ch.send_u64s(&[CMD_SINK, n as u64, iters]).expect("cmd");
                let start = Instant::now();
                for _ in 0..iters {
                    ch.send_bulk(&data).expect("send");
                }
                ch.recv_u64().expect("ack");
                start.elapsed()
            })
        });
    }
    group.finish();
    if duplex {
        let mut group = c.benchmark_group(format!("bulk_duplex/{name}"));
        for &n in &SIZES {
            let data = vec![0xa5u8; n];
            // Bytes moved in both directions together.
            group.throughput(Throughput::Bytes(2 * n as u64));
            group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
                b.iter_custom(|iters| {
                    ch.send_u64s(&[CMD_DUPLEX, n as u64, iters]).expect("cmd");
                    let start = Instant::now();
                    for _ in 0..iters {
                        ch.send_bulk(&data).expect("send");
                        ch.recv_bulk(n).expect("recv");
                    }
                    start.elapsed()
                })
            });
        }
        group.finish();
    }
    let mut group = c.benchmark_group("round_trip_8_bytes");
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            ch.send_u64s(&[CMD_ECHO, 8, iters]).expect("cmd");
            let start = Instant::now();
            for i in 0..iters {
                ch.send(&i.to_le_bytes()).expect("send");
                ch.recv(64).expect("recv");
            }
            start.elapsed()
        })
    });
    group.finish();
    ch.send_u64s(&[CMD_QUIT, 0, 0]).expect("quit");
}

fn main() {
    if let Ok(mode) = std::env::var("SAMEN_NET_BENCH_CHILD") {
        child_main(&mode);
        return;
    }
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();

    // In process.
    let (mut a, mut b) = local_pair("alpha", "beta");
    let server = std::thread::spawn(move || serve(&mut b).expect("serve"));
    bench_transport(&mut c, "local_pair", &mut a, true);
    server.join().expect("local server");

    // Plain TCP between two processes.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let mut child = spawn("tcp", port, "");
    let (sock, _) = listener.accept().expect("accept");
    sock.set_nodelay(true).expect("nodelay");
    let mut tcp = PlainTcp {
        sock,
        stats: ChannelStats::default(),
    };
    bench_transport(&mut c, "tcp_2proc", &mut tcp, false);
    child.wait().expect("tcp child");

    // Mutual TLS between two processes.
    let dir = tempfile::tempdir().expect("tempdir");
    samen_net::generate_certs(&["alpha".into(), "beta".into()], dir.path()).expect("certs");
    let certs = dir.path().to_string_lossy().into_owned();
    let port = samen_testkit::free_port();
    let mut child = spawn("tls", port, &certs);
    let mut chans = samen_net::connect_all(&net_config("alpha", &certs, port)).expect("connect");
    let mut tls = chans.remove("beta").expect("beta");
    bench_transport(&mut c, "tls_2proc", &mut tls, true);
    drop(tls);
    child.wait().expect("tls child");

    c.final_summary();
}
