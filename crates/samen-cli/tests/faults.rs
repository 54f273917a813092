//! Fault suite: one party of a three-process `samen run` fails (its process ends at a named
//! phase through the test-only `SAMEN_FAULT` hook, its study file differs, or its input is
//! invalid) and the other two must exit non-zero, naming it, without writing a table — told by
//! an abort or a closed connection, never by waiting out a timeout (every timeout is 60 s, and
//! a message that names a timeout fails the test). How long each party took is printed, not
//! asserted: a wall-clock bound would make the suite fail on a loaded machine. Small inputs keep
//! each case to a few seconds.
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::PathBuf;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use samen_pseudonym::normalise::bsn_from_index;

const PARTIES: [&str; 3] = ["bureau", "portal", "trustee"];
/// How long `wait_all` waits before it kills the parties: a hang guard, far beyond the parties'
/// own 60 s timeouts, so that a party that waited out a timeout fails on its message.
const HANG: Duration = Duration::from_secs(300);

fn free_port_in(range: Option<(u16, u16)>) -> u16 {
    match range {
        None => samen_testkit::free_port(),
        Some((lo, hi)) => {
            let seed = std::process::id() as u64 ^ Instant::now().elapsed().as_nanos() as u64;
            let span = u64::from(hi - lo);
            (0..span)
                .map(|i| lo + ((seed.wrapping_mul(2654435761) + i * 7919) % span) as u16)
                .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
                .unwrap()
        }
    }
}

fn study_text(range: Option<(u16, u16)>) -> String {
    let mut ports = Vec::new();
    while ports.len() < 3 {
        let p = free_port_in(range);
        if !ports.contains(&p) {
            ports.push(p);
        }
    }
    let head = samen_testkit::cli_study_head("fault-test", [ports[0], ports[1], ports[2]]);
    head + r#"
[tables.register]
party = "bureau"
id = { column = "bsn", kind = "bsn" }
columns.region = { kind = "category", levels = ["north", "south"] }

[tables.usage]
party = "portal"
id = { column = "bsn", kind = "bsn" }
columns.logins = { kind = "integer", min = 0, max = 500 }

[[outputs]]
name = "logins_by_region"
statistic = "mean"
of = "usage.logins"
by = ["register.region"]
min_cell = 3
"#
}

struct Run {
    dir: tempfile::TempDir,
}

impl Run {
    fn new(range: Option<(u16, u16)>) -> Run {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("study.toml"), study_text(range)).unwrap();
        let out = samen_testkit::samen(env!("CARGO_BIN_EXE_samen"))
            .args(["certs", "--study"])
            .arg(dir.path().join("study.toml"))
            .arg("--out")
            .arg(dir.path().join("certs"))
            .output()
            .unwrap();
        assert!(out.status.success());
        let mut reg = String::from("bsn,region\n");
        let mut usage = String::from("bsn,logins\n");
        for i in 0..30u64 {
            reg += &format!(
                "{},{}\n",
                bsn_from_index(i + 1).unwrap(),
                ["north", "south"][i as usize % 2]
            );
            usage += &format!("{},{}\n", bsn_from_index(i + 11).unwrap(), i * 3);
        }
        std::fs::write(dir.path().join("register.csv"), reg).unwrap();
        std::fs::write(dir.path().join("usage.csv"), usage).unwrap();
        Run { dir }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn spawn(&self, party: &str, study: &str, fault: Option<&str>) -> Child {
        let mut c = samen_testkit::samen(env!("CARGO_BIN_EXE_samen"));
        c.env_remove("SAMEN_FAULT")
            .args(["run", "--quiet", "--study"])
            .arg(self.path(study))
            .args(["--party", party, "--certs"])
            .arg(self.path("certs"))
            .arg("--out")
            .arg(self.path(&format!("out-{party}")))
            .args(["--connect-timeout", "60", "--io-timeout", "60"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        match party {
            "bureau" => {
                c.arg("--input")
                    .arg(format!("register={}", self.path("register.csv").display()));
            }
            "portal" => {
                c.arg("--input")
                    .arg(format!("usage={}", self.path("usage.csv").display()));
            }
            _ => {}
        }
        if let Some(f) = fault {
            c.env("SAMEN_FAULT", f);
        }
        c.spawn().unwrap()
    }
}

/// Wait for all children; returns each one's output and when it ended (or panics after
/// [`HANG`]).
fn wait_all(children: Vec<(&'static str, Child)>) -> Vec<(&'static str, Output, Instant)> {
    let start = Instant::now();
    let mut running: Vec<Option<(&str, Child)>> = children.into_iter().map(Some).collect();
    let mut done = Vec::new();
    while done.len() < running.len() {
        for slot in running.iter_mut() {
            let finished = match slot {
                Some((_, child)) => child.try_wait().unwrap().is_some(),
                None => false,
            };
            if finished {
                let (name, child) = slot.take().unwrap();
                done.push((name, child.wait_with_output().unwrap(), Instant::now()));
            }
        }
        if start.elapsed() > HANG {
            for (_, mut child) in running.into_iter().flatten() {
                let _ = child.kill();
            }
            panic!("parties still running after {HANG:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done
}

/// All three fail; the others name `culprit`, were told (no timeout in their messages) and
/// write no table. Returns the worst delay after the first (reported, not asserted).
fn assert_all_stop(
    run: &Run,
    ended: &[(&str, Output, Instant)],
    culprit: &str,
    mention: &str,
) -> Duration {
    let first = ended.iter().map(|(_, _, t)| *t).min().unwrap();
    let mut worst = Duration::ZERO;
    for (name, out, t) in ended {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name} succeeded: {err}");
        let delay = t.duration_since(first);
        worst = worst.max(delay);
        eprintln!("  {name} after {delay:?}: {}", err.trim());
        assert_told(name, &err);
        if *name != culprit {
            assert!(
                err.contains(&format!("'{culprit}'")) && err.contains(mention),
                "{name}: {err}"
            );
        }
        assert!(!run
            .path(&format!("out-{name}/logins_by_region.csv"))
            .exists());
    }
    eprintln!("{culprit} failed ({mention}): all parties stopped within {worst:?}");
    worst
}

fn kill_at(culprit: &'static str, fault: &str) {
    let run = Run::new(None);
    let children = PARTIES
        .iter()
        .map(|p| {
            let f = (*p == culprit).then_some(fault);
            (*p, run.spawn(p, "study.toml", f))
        })
        .collect();
    let ended = wait_all(children);
    let killed = ended.iter().find(|(n, _, _)| *n == culprit).unwrap();
    assert_eq!(
        killed.1.status.code(),
        Some(86),
        "{}",
        String::from_utf8_lossy(&killed.1.stderr)
    );
    assert_all_stop(&run, &ended, culprit, "");
}

#[test]
fn helper_dies_after_connecting() {
    kill_at("trustee", "exit:connect");
}

#[test]
fn helper_dies_during_the_join_of_the_data_parties() {
    kill_at("trustee", "exit:join");
}

#[test]
fn first_data_party_dies_during_the_join() {
    kill_at("bureau", "exit:join");
}

#[test]
fn second_data_party_dies_during_the_products() {
    kill_at("portal", "exit:products");
}

#[test]
fn helper_dies_during_the_comparison() {
    kill_at("trustee", "exit:comparison");
}

#[test]
fn first_data_party_dies_while_opening_the_outputs() {
    kill_at("bureau", "exit:open");
}

#[test]
fn a_party_with_another_study_file_stops_all_three() {
    let run = Run::new(None);
    let text = std::fs::read_to_string(run.path("study.toml")).unwrap();
    std::fs::write(run.path("other.toml"), text + "# edited\n").unwrap();
    // Whichever pair meets first, every party learns of the mismatch from a hello or an
    // abort, never by waiting out its connect timeout.
    let portal = run.spawn("portal", "other.toml", None);
    let trustee = run.spawn("trustee", "study.toml", None);
    let bureau = run.spawn("bureau", "study.toml", None);
    let ended = wait_all(vec![
        ("portal", portal),
        ("trustee", trustee),
        ("bureau", bureau),
    ]);
    for (name, out, _) in &ended {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name}: {err}");
        assert!(err.contains("study file"), "{name}: {err}");
        assert_told(name, &err);
    }
}

/// A party's error shows it was told or saw the failure, not that it waited out a timeout.
fn assert_told(name: &str, err: &str) {
    assert!(
        !err.contains("(timeout)") && !err.contains("gave up after"),
        "{name} waited out a timeout: {err}"
    );
}

#[test]
fn invalid_input_is_reported_to_the_peers_without_details() {
    let run = Run::new(None);
    let text = std::fs::read_to_string(run.path("usage.csv")).unwrap();
    std::fs::write(run.path("usage.csv"), text.replacen(",0\n", ",9999\n", 1)).unwrap();
    let children = PARTIES
        .iter()
        .map(|p| (*p, run.spawn(p, "study.toml", None)))
        .collect();
    let ended = wait_all(children);
    assert_all_stop(&run, &ended, "portal", "its input failed validation");
    for (name, out, _) in &ended {
        let err = String::from_utf8_lossy(&out.stderr);
        if *name == "portal" {
            assert!(err.contains("usage.csv") && err.contains("line 2"), "{err}");
        } else {
            assert!(
                !err.contains("usage.csv") && !err.contains("line "),
                "{name}: {err}"
            );
        }
    }
}

#[test]
fn ports_in_the_ephemeral_range_work() {
    let run = Run::new(Some((40000, 60000)));
    let children = PARTIES
        .iter()
        .map(|p| (*p, run.spawn(p, "study.toml", None)))
        .collect();
    for (name, out, _) in wait_all(children) {
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(run.path("out-bureau/logins_by_region.csv").exists());
    // The study runs every phase the fault cases end a party in.
    let summary = std::fs::read_to_string(run.path("out-bureau/bureau-summary.json")).unwrap();
    for phase in ["join", "products", "comparison", "open"] {
        assert!(summary.contains(&format!("\"{phase}\"")), "{summary}");
    }
}
