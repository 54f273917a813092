//! Three parties in three Linux network namespaces joined by rate-limited veth links, as
//! three organisations on three machines: each party makes its own key with `samen keys`, the
//! study file pins the keys and gives each party an address on its own machine (and `bureau`
//! a `listen` address apart from it), and each party runs `samen run --keys --approve` inside
//! its namespace (docs/deploying.md describes the same steps).
//!
//! Topology: namespace i holds party i with the address 10.200.0.(i+1) on its loopback
//! interface; every pair of namespaces is joined by a veth pair (10.201.k.0/30) with a route
//! to the other party's address, and both ends of every link are rate-limited with a token
//! bucket (`tc qdisc add dev … root tbf rate R burst 256kb latency 50ms`). Addresses exist
//! only inside the namespaces; names carry the process id and a counter so that concurrent
//! runs do not collide; a guard deletes every namespace, also when a test fails.
//!
//! Tests: the tables over 1 Gbit/s and 100 Mbit/s links equal the loopback run's; a link cut
//! mid-run stops all parties within the I/O timeout with the true reason; a peer whose DNS
//! name resolves only after a while is waited for with a clear message (each namespace's
//! `/etc/hosts` is `/etc/netns/<ns>/hosts`, removed with the namespace).
//!
//! Needs root and a kernel that allows network namespaces and `tbf`; otherwise each test
//! prints why it is skipped and passes.
// Test code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod deploy_common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use deploy_common::*;

/// Distinguishes the labs of one test process.
static LABS: AtomicUsize = AtomicUsize::new(0);

/// The links: (namespace i, namespace j).
const LINKS: [(usize, usize); 3] = [(0, 1), (0, 2), (1, 2)];

/// The port of party i.
fn port(i: usize) -> u16 {
    7101 + i as u16
}

/// Three namespaces and their links; deleted on drop.
struct Lab {
    ns: Vec<String>,
    tag: String,
}

fn run(cmd: &[&str]) -> Result<(), String> {
    let out = Command::new(cmd[0])
        .args(&cmd[1..])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{}: {e}", cmd.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{}` failed: {}",
            cmd.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Lab {
    /// Build the lab with every link limited to `rate` (a `tc` rate such as `1gbit`), or say
    /// why it cannot be built here.
    fn new(rate: &str) -> Result<Lab, String> {
        let uid = Command::new("id")
            .arg("-u")
            .output()
            .map_err(|e| format!("cannot run `id -u`: {e}"))?;
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            return Err("not running as root".into());
        }
        let n = LABS.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        let tag = format!("sm{pid}x{n}");
        let mut lab = Lab {
            ns: Vec::new(),
            tag: tag.clone(),
        };
        for party in PARTIES {
            let name = format!("samen-{pid}-{n}-{party}");
            run(&["ip", "netns", "add", &name])?;
            lab.ns.push(name);
        }
        for (i, ns) in lab.ns.clone().iter().enumerate() {
            run(&["ip", "-n", ns, "link", "set", "lo", "up"])?;
            let addr = format!("10.200.0.{}/32", i + 1);
            run(&["ip", "-n", ns, "addr", "add", &addr, "dev", "lo"])?;
        }
        for (k, &(i, j)) in LINKS.iter().enumerate() {
            let (vi, vj) = (lab.veth(i, j), lab.veth(j, i));
            let (ni, nj) = (lab.ns[i].clone(), lab.ns[j].clone());
            run(&[
                "ip", "-n", &ni, "link", "add", &vi, "type", "veth", "peer", "name", &vj, "netns",
                &nj,
            ])?;
            for (ns, dev, host, other, via) in [(&ni, &vi, 1, j, 2), (&nj, &vj, 2, i, 1)] {
                let addr = format!("10.201.{k}.{host}/30");
                run(&["ip", "-n", ns, "addr", "add", &addr, "dev", dev])?;
                run(&["ip", "-n", ns, "link", "set", dev, "up"])?;
                run(&[
                    "ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", dev, "root", "tbf",
                    "rate", rate, "burst", "256kb", "latency", "50ms",
                ])?;
                let to = format!("10.200.0.{}/32", other + 1);
                let gw = format!("10.201.{k}.{via}");
                run(&["ip", "-n", ns, "route", "add", &to, "via", &gw])?;
            }
        }
        Ok(lab)
    }

    /// The interface in namespace `i` towards namespace `j` (at most 15 characters).
    fn veth(&self, i: usize, j: usize) -> String {
        format!("{}{i}{j}", self.tag)
    }

    /// The command prefix that runs a program in party i's namespace.
    fn exec(&self, i: usize) -> Vec<&str> {
        vec!["ip", "netns", "exec", self.ns[i].as_str()]
    }

    /// Cut the link between namespaces i and j (both ends down).
    fn cut(&self, i: usize, j: usize) {
        run(&[
            "ip",
            "-n",
            &self.ns[i],
            "link",
            "set",
            &self.veth(i, j),
            "down",
        ])
        .unwrap();
        run(&[
            "ip",
            "-n",
            &self.ns[j],
            "link",
            "set",
            &self.veth(j, i),
            "down",
        ])
        .unwrap();
    }
}

impl Lab {
    /// Set the `/etc/hosts` that programs in party i's namespace see (`ip netns exec`
    /// bind-mounts `/etc/netns/<ns>/hosts`; rewriting the file in place changes what a running
    /// program resolves, as a DNS record that appears late would).
    fn set_hosts(&self, i: usize, text: &str) {
        let dir = Path::new("/etc/netns").join(&self.ns[i]);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("hosts"), text).unwrap();
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth ends inside it.
        for ns in &self.ns {
            let _ = run(&["ip", "netns", "del", ns]);
            let _ = std::fs::remove_dir_all(Path::new("/etc/netns").join(ns));
        }
        let _ = std::fs::remove_dir(Path::new("/etc/netns"));
    }
}

/// Children killed on drop (declared after the lab, so they go first).
struct Children(Vec<Option<Child>>);

impl Drop for Children {
    fn drop(&mut self) {
        for c in self.0.iter_mut().flatten() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Build a lab or print why the suite is skipped.
fn lab_or_skip(rate: &str, test: &str) -> Option<Lab> {
    match Lab::new(rate) {
        Ok(lab) => Some(lab),
        Err(why) => {
            // Straight to the process's stderr, past the test harness's capture, so that the
            // skip shows in every run.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: cannot build network namespaces with {rate} links here ({why}); \
                 run as root on Linux with `ip netns` and `tc tbf` to include it"
            );
            None
        }
    }
}

/// Keys made separately per party, the study file for the lab, the review hash.
struct Deployment {
    study: std::path::PathBuf,
    approve: String,
}

fn deploy(root: &Path, name: &str) -> Deployment {
    deploy_with(root, name, None)
}

/// [`deploy`], with bureau reached by the DNS name `bureau_name` if given.
fn deploy_with(root: &Path, name: &str, bureau_name: Option<&str>) -> Deployment {
    let pins = PARTIES.map(|p| make_key(p, &root.join(format!("keys-{p}"))));
    let entries = [0, 1, 2].map(|i| PartyEntry {
        address: match (i, bureau_name) {
            (0, Some(host)) => format!("{host}:{}", port(i)),
            _ => format!("10.200.0.{}:{}", i + 1, port(i)),
        },
        listen: (i == 0).then(|| format!("0.0.0.0:{}", port(i))),
        key: Some(pins[i].clone()),
    });
    let study = root.join(format!("{name}.toml"));
    std::fs::write(&study, study_text(name, &entries)).unwrap();
    let approve = review(&study, "bureau").lines().last().unwrap().to_string();
    Deployment { study, approve }
}

/// The tables of the same data on loopback (three processes, pinned keys).
fn loopback_tables(root: &Path) -> std::path::PathBuf {
    let ports = samen_testkit::free_ports(3);
    let keys_root = root.join("loopback");
    let pins = PARTIES.map(|p| make_key(p, &keys_root.join(format!("keys-{p}"))));
    let entries = [0, 1, 2].map(|i| PartyEntry {
        address: format!("127.0.0.1:{}", ports[i]),
        listen: None,
        key: Some(pins[i].clone()),
    });
    let study = keys_root.join("study.toml");
    std::fs::write(&study, study_text("netns-loopback", &entries)).unwrap();
    let children: Vec<_> = PARTIES
        .iter()
        .map(|p| {
            spawn_run(
                &[],
                p,
                &study,
                &keys_root.join(format!("keys-{p}")),
                root,
                &keys_root.join(format!("out-{p}")),
                &[],
            )
        })
        .collect();
    for (p, c) in PARTIES.iter().zip(children) {
        let out = wait(c, Duration::from_secs(300));
        assert!(
            out.status.success(),
            "loopback {p}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    keys_root
}

fn tables_over(rate: &str, test: &str) {
    let Some(lab) = lab_or_skip(rate, test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_tables(root, 20_000, 12_000);
    let d = deploy(root, "netns-study");
    let mut children = Children(Vec::new());
    for (i, p) in PARTIES.iter().enumerate() {
        children.0.push(Some(spawn_run(
            &lab.exec(i),
            p,
            &d.study,
            &root.join(format!("keys-{p}")),
            root,
            &root.join(format!("out-{p}")),
            &["--approve", &d.approve, "--connect-timeout", "60"],
        )));
    }
    for (i, p) in PARTIES.iter().enumerate() {
        let out = wait(children.0[i].take().unwrap(), Duration::from_secs(300));
        assert!(
            out.status.success(),
            "{p} over {rate}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The same tables as on loopback, and as the plaintext reference.
    let loopback = loopback_tables(root);
    let expected = expected_tables(&d.study, root);
    assert_tables(&expected, |p| root.join(format!("out-{p}")));
    assert_tables(&expected, |p| loopback.join(format!("out-{p}")));
}

#[test]
fn three_namespaces_over_1gbit_links_give_the_loopback_tables() {
    tables_over(
        "1gbit",
        "three_namespaces_over_1gbit_links_give_the_loopback_tables",
    );
}

#[test]
fn three_namespaces_over_100mbit_links_give_the_loopback_tables() {
    tables_over(
        "100mbit",
        "three_namespaces_over_100mbit_links_give_the_loopback_tables",
    );
}

/// The I/O timeout of the cut-link test: a party notices a silent peer within this many
/// seconds of waiting for it (docs/deploying.md).
const IO_TIMEOUT_SECS: u64 = 3;

#[test]
fn a_link_cut_mid_run_stops_all_parties_with_the_true_reason() {
    // Slow links (1 Mbit/s) make the helper join last seconds; the link between bureau and
    // the helper is cut as soon as bureau's join starts.
    let test = "a_link_cut_mid_run_stops_all_parties_with_the_true_reason";
    let Some(lab) = lab_or_skip("1mbit", test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_tables(root, 20_000, 12_000);
    let d = deploy(root, "netns-cut");
    let progress = root.join("bureau-progress.jsonl");
    let io = IO_TIMEOUT_SECS.to_string();
    let progress_arg = progress.display().to_string();
    let mut children = Children(Vec::new());
    for (i, p) in PARTIES.iter().enumerate() {
        let mut extra = vec!["--io-timeout", io.as_str(), "--connect-timeout", "60"];
        if *p == "bureau" {
            extra.extend(["--progress-file", progress_arg.as_str()]);
        }
        children.0.push(Some(spawn_run(
            &lab.exec(i),
            p,
            &d.study,
            &root.join(format!("keys-{p}")),
            root,
            &root.join(format!("out-{p}")),
            &extra,
        )));
    }
    // Wait for the join to start at bureau.
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(&progress).unwrap_or_default();
        if text.contains("\"join\"") {
            break;
        }
        for (p, c) in PARTIES.iter().zip(children.0.iter_mut()) {
            if let Some(status) = c.as_mut().unwrap().try_wait().unwrap() {
                panic!("{p} ended before the join started: {status}");
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the join never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    lab.cut(0, 2);
    let cut = Instant::now();
    // Every party stops within the I/O timeout of the moment it waits on the cut link, plus
    // the time to tell the others (two seconds at most per blocked abort) and to exit.
    let limit = Duration::from_secs(IO_TIMEOUT_SECS + 20);
    let mut errors = Vec::new();
    for (i, p) in PARTIES.iter().enumerate() {
        let out = wait(children.0[i].take().unwrap(), limit);
        let e = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(
            !out.status.success(),
            "{p} succeeded although a link was cut"
        );
        errors.push((p, e));
    }
    let elapsed = cut.elapsed();
    assert!(elapsed <= limit, "{elapsed:?}");
    for (p, e) in &errors {
        eprintln!("{p} stopped {elapsed:.1?} after the cut: {}", e.trim());
    }
    // The true reason: bureau and the helper lost each other (each notices the other's
    // silence, or learns from the others that it was reported silent itself, whichever comes
    // first); portal is told which party stopped and why. Nobody blames portal.
    for (p, e) in &errors {
        let names_cut_link = match **p {
            "bureau" => e.contains("party 'trustee'") || e.contains("party 'bureau' stopped"),
            "trustee" => e.contains("party 'bureau'") || e.contains("party 'trustee' stopped"),
            _ => e.contains("party 'bureau'") || e.contains("party 'trustee'"),
        };
        assert!(names_cut_link, "{p}: {e}");
        assert!(
            e.contains("sent nothing")
                || e.contains("connection was lost")
                || e.contains("closed unexpectedly"),
            "{p}: {e}"
        );
        for blame in ["party 'portal' sent nothing", "party 'portal' stopped"] {
            assert!(!e.contains(blame), "{p} blames portal: {e}");
        }
    }
}

#[test]
fn a_peer_whose_name_resolves_late_is_waited_for_with_a_clear_message() {
    // bureau is reached by a DNS name that resolves nowhere for the first twelve seconds (the
    // hosts file the dialers see lacks it, and there is no DNS server), then appears: the
    // dialers wait, say so, and the study completes with the right tables.
    let test = "a_peer_whose_name_resolves_late_is_waited_for_with_a_clear_message";
    let Some(lab) = lab_or_skip("1gbit", test) else {
        return;
    };
    let host = "bureau.samen-netns.test";
    let base = "127.0.0.1 localhost\n";
    for i in 0..3 {
        lab.set_hosts(i, base);
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_tables(root, 2_000, 1_200);
    let d = deploy_with(root, "netns-late-dns", Some(host));
    let mut children = Children(Vec::new());
    for (i, p) in PARTIES.iter().enumerate() {
        children.0.push(Some(spawn_run(
            &lab.exec(i),
            p,
            &d.study,
            &root.join(format!("keys-{p}")),
            root,
            &root.join(format!("out-{p}")),
            &["--approve", &d.approve, "--connect-timeout", "120"],
        )));
    }
    std::thread::sleep(Duration::from_secs(12));
    for (p, c) in PARTIES.iter().zip(children.0.iter_mut()) {
        assert!(
            c.as_mut().unwrap().try_wait().unwrap().is_none(),
            "{p} gave up while the name did not resolve"
        );
    }
    for i in 0..3 {
        lab.set_hosts(i, &format!("{base}10.200.0.1 {host}\n"));
    }
    let mut logs = Vec::new();
    for (i, p) in PARTIES.iter().enumerate() {
        let out = wait(children.0[i].take().unwrap(), Duration::from_secs(300));
        let e = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "{p}: {e}");
        logs.push((p, e));
    }
    // The dialers (portal, trustee) said whom they waited for and why.
    for (p, e) in &logs[1..] {
        assert!(
            e.contains("still waiting for party 'bureau'")
                && e.contains(host)
                && e.contains("cannot resolve"),
            "{p}: {e}"
        );
    }
    let expected = expected_tables(&d.study, root);
    assert_tables(&expected, |p| root.join(format!("out-{p}")));
}
