//! `samen run` as three OS processes over mutual TLS on loopback.
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use samen_pseudonym::normalise::bsn_from_index;
use samen_study::input::read_csv;
use samen_study::reference;
use samen_study::spec::Study;

fn samen() -> Command {
    samen_testkit::samen(env!("CARGO_BIN_EXE_samen"))
}

fn study_text() -> String {
    let ports = samen_testkit::free_ports(3);
    let head = samen_testkit::cli_study_head("portal-usage-test", [ports[0], ports[1], ports[2]]);
    head + r#"
[tables.register]
party = "bureau"
id = { column = "bsn", kind = "bsn" }
columns.region = { kind = "category", levels = ["Groningen", "Friesland", "Drenthe"] }
columns.income = { kind = "integer", min = -5000, max = 100000 }

[tables.usage]
party = "portal"
id = { column = "bsn", kind = "bsn" }
columns.channel = { kind = "category", levels = ["app", "web"] }
columns.logins = { kind = "integer", min = 0, max = 500 }

[[outputs]]
name = "users_by_region_channel"
statistic = "count"
by = ["register.region", "usage.channel"]
min_cell = 4

[[outputs]]
name = "mean_logins_by_region"
statistic = "mean"
of = "usage.logins"
by = ["register.region"]

[[outputs]]
name = "income_variance_by_channel"
statistic = "variance"
of = "register.income"
by = ["usage.channel"]
min_cell = 0

[[outputs]]
name = "total_logins"
statistic = "sum"
of = "usage.logins"
"#
}

struct Setup {
    dir: tempfile::TempDir,
    study: PathBuf,
}

impl Setup {
    fn new(register_rows: usize, usage_rows: usize) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let study = dir.path().join("study.toml");
        std::fs::write(&study, study_text()).unwrap();
        let out = samen()
            .args(["certs", "--study"])
            .arg(&study)
            .arg("--out")
            .arg(dir.path().join("certs"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut reg = String::from("bsn,region,income,unused\n");
        let regions = ["Groningen", "Friesland", "Drenthe"];
        for i in 0..register_rows {
            let bsn = bsn_from_index(i as u64 * 3 + 1).unwrap();
            // Some identifiers with a dropped leading zero and surrounding spaces.
            let shown = if i % 7 == 0 { format!(" {bsn} ") } else { bsn };
            let income = (i as i64 * 7919) % 105_000 - 5000;
            reg += &format!("{shown},{},{income},x\n", regions[(i * 5 / 3) % 3]);
        }
        let mut usage = String::from("channel,logins,bsn\n");
        for j in 0..usage_rows {
            // Every other usage row belongs to a registered person.
            let idx = if j % 2 == 0 {
                j / 2 * 3 + 1
            } else {
                10_000_000 + j
            };
            let bsn = bsn_from_index(idx as u64).unwrap();
            usage += &format!("{},{},{bsn}\n", ["app", "web"][j % 3 % 2], (j * 37) % 501);
        }
        std::fs::write(dir.path().join("register.csv"), reg).unwrap();
        std::fs::write(dir.path().join("usage.csv"), usage).unwrap();
        Setup { dir, study }
    }

    /// `samen run` for `party` with `study` and output directory `o`, without inputs, to
    /// completion (for runs that must fail before connecting).
    fn run_once(&self, party: &str, study: &Path, extra: &[&str]) -> Output {
        samen()
            .args(["run", "--party", party, "--study"])
            .arg(study)
            .arg("--certs")
            .arg(self.path("certs"))
            .arg("--out")
            .arg(self.path("o"))
            .args(extra)
            .output()
            .unwrap()
    }

    /// `samen run` for `party` with its own input, into output folder `out`, to completion.
    fn run_once_into(&self, party: &str, out: &str, extra: &[&str]) -> Output {
        let (table, file) = match party {
            "bureau" => ("register", "register.csv"),
            _ => ("usage", "usage.csv"),
        };
        samen()
            .args(["run", "--party", party, "--study"])
            .arg(&self.study)
            .arg("--certs")
            .arg(self.path("certs"))
            .arg("--out")
            .arg(self.path(out))
            .arg("--input")
            .arg(format!("{table}={}", self.path(file).display()))
            .args(extra)
            .output()
            .unwrap()
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn spawn(&self, party: &str, input: Option<(&str, PathBuf)>, extra: &[&str]) -> Child {
        let mut c = samen();
        c.args(["run", "--study"])
            .arg(&self.study)
            .args(["--party", party, "--certs"])
            .arg(self.path("certs"))
            .arg("--out")
            .arg(self.path(&format!("out-{party}")))
            .args(["--connect-timeout", "60", "--io-timeout", "60"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some((table, file)) = input {
            c.arg("--input").arg(format!("{table}={}", file.display()));
        }
        c.spawn().unwrap()
    }
}

fn wait(mut child: Child, limit: Duration) -> Output {
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "samen run did not finish in {limit:?}; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn three_processes_over_tls_match_plaintext() {
    let s = Setup::new(300, 260);
    let transcript = s.path("bureau-transcript.jsonl");
    let t_arg = transcript.display().to_string();
    let progress = s.path("portal-progress.jsonl");
    let p_arg = progress.display().to_string();
    let helper = s.spawn("trustee", None, &["--quiet"]);
    let portal = s.spawn(
        "portal",
        Some(("usage", s.path("usage.csv"))),
        &["--quiet", "--progress-file", &p_arg],
    );
    let bureau = s.spawn(
        "bureau",
        Some(("register", s.path("register.csv"))),
        &["--transcript", &t_arg],
    );
    let limit = Duration::from_secs(180);
    for (name, out) in [
        ("bureau", wait(bureau, limit)),
        ("portal", wait(portal, limit)),
        ("trustee", wait(helper, limit)),
    ] {
        assert!(
            out.status.success(),
            "{name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // The plaintext answer of the same inner join.
    let study = Study::load(&s.study).unwrap();
    let a = read_csv(&study, "register", &s.path("register.csv")).unwrap();
    let b = read_csv(&study, "usage", &s.path("usage.csv")).unwrap();
    let expected = reference::compute(&study, &[&a, &b]);
    assert!(expected[0].to_csv().contains(",false\n"));
    for party in ["bureau", "portal"] {
        for t in &expected {
            for (file, text) in t.rendered() {
                let got = read(&s.path(&format!("out-{party}/{file}")));
                assert_eq!(got, text, "{party}: {file}");
            }
        }
        let summary: serde_json::Value =
            serde_json::from_str(&read(&s.path(&format!("out-{party}/{party}-summary.json"))))
                .unwrap();
        assert_eq!(summary["sizes"]["first"], 300);
        assert_eq!(summary["sizes"]["second"], 260);
        assert_eq!(summary["sizes"]["union"], 300 + 130);
        assert!(summary["bytes_sent"]["trustee"].as_u64().unwrap() > 0);
    }
    // The helper writes no tables, only its summary (and the folder's manifest).
    let mut helper_files: Vec<String> = std::fs::read_dir(s.path("out-trustee"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    helper_files.sort();
    assert_eq!(helper_files, vec!["run.json", "trustee-summary.json"]);
    for party in ["bureau", "portal", "trustee"] {
        check_manifest(&s.path(&format!("out-{party}")), party);
    }
    // The transcript: JSON lines with step, peer, direction, bytes, sha256.
    let lines = read(&transcript);
    assert!(lines.lines().count() > 5);
    for l in lines.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert!(v["sha256"].as_str().unwrap().len() == 64);
        assert!(["portal", "trustee"].contains(&v["peer"].as_str().unwrap()));
        assert!(["sent", "received"].contains(&v["direction"].as_str().unwrap()));
    }
    // The progress file: a JSON line per phase start (percent null) and per whole percent of
    // the join, in order, ending with the last phase.
    let events: Vec<serde_json::Value> = read(&progress)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let starts: Vec<&str> = events
        .iter()
        .filter(|e| e["percent"].is_null())
        .map(|e| e["phase"].as_str().unwrap())
        .collect();
    assert_eq!(starts.first(), Some(&"join"), "{events:?}");
    assert!(starts.len() >= 3, "{starts:?}");
    let join: Vec<u64> = events
        .iter()
        .filter(|e| e["phase"] == "join" && !e["percent"].is_null())
        .map(|e| e["percent"].as_u64().unwrap())
        .collect();
    assert_eq!(join.last(), Some(&100), "{events:?}");
    assert!(join.windows(2).all(|w| w[0] < w[1]), "{join:?}");
}

#[test]
fn a_party_with_bad_input_stops_everyone() {
    let s = Setup::new(40, 30);
    // Line 5 of the usage file gets an unknown channel.
    let text = read(&s.path("usage.csv"));
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[4] = lines[4].replacen("app", "fax", 1).replacen("web", "fax", 1);
    std::fs::write(s.path("usage.csv"), lines.join("\n") + "\n").unwrap();

    let helper = s.spawn("trustee", None, &["--quiet"]);
    let portal = s.spawn("portal", Some(("usage", s.path("usage.csv"))), &["--quiet"]);
    let bureau = s.spawn(
        "bureau",
        Some(("register", s.path("register.csv"))),
        &["--quiet"],
    );
    let limit = Duration::from_secs(120);
    let (b, p, h) = (
        wait(bureau, limit),
        wait(portal, limit),
        wait(helper, limit),
    );
    let err = |o: &Output| String::from_utf8_lossy(&o.stderr).to_string();
    assert!(!p.status.success());
    let pe = err(&p);
    assert!(
        pe.contains("usage.csv") && pe.contains("line 5") && pe.contains("channel"),
        "{pe}"
    );
    // The peers say what happened, not that a connection failed.
    for o in [&b, &h] {
        assert!(!o.status.success());
        let e = err(o);
        assert!(
            e.contains("party 'portal' stopped: its input failed validation"),
            "{e}"
        );
        assert!(!e.contains("cannot connect"), "{e}");
    }
    // A failed run leaves no folder (and no staging folder) behind.
    for party in ["bureau", "portal", "trustee"] {
        assert!(!s.path(&format!("out-{party}")).exists());
    }
    assert_no_staging(s.dir.path());
}

/// No hidden staging folder of an output folder is left in `dir`.
fn assert_no_staging(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().to_string();
        assert!(!name.contains(".samen-"), "left behind: {name}");
    }
}

/// The manifest of an output folder, after checking that it lists exactly the folder's other
/// files with their SHA-256, and that the summary carries the same run id.
fn check_manifest(dir: &Path, party: &str) -> serde_json::Value {
    use sha2::Digest;
    let m: serde_json::Value = serde_json::from_str(&read(&dir.join("run.json"))).unwrap();
    let mut listed: Vec<String> = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let name = f["name"].as_str().unwrap().to_string();
            let bytes = std::fs::read(dir.join(&name)).unwrap();
            assert_eq!(
                f["sha256"],
                hex::encode(sha2::Sha256::digest(&bytes)),
                "{name}"
            );
            name
        })
        .collect();
    listed.push("run.json".to_string());
    listed.sort();
    let mut present: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    present.sort();
    assert_eq!(listed, present);
    let summary: serde_json::Value =
        serde_json::from_str(&read(&dir.join(format!("{party}-summary.json")))).unwrap();
    assert_eq!(summary["run_id"], m["run_id"]);
    assert_eq!(m["run_id"].as_str().unwrap().len(), 32);
    assert_eq!(m["party"], party);
    m
}

#[test]
fn outputs_appear_as_one_set_and_a_failed_run_leaves_the_earlier_one_untouched() {
    let s = Setup::new(40, 30);
    let all = |s: &Setup, extra: &[&str], usage: &str| {
        let helper = s.spawn("trustee", None, extra);
        let portal = s.spawn("portal", Some(("usage", s.path(usage))), extra);
        let bureau = s.spawn("bureau", Some(("register", s.path("register.csv"))), extra);
        let limit = Duration::from_secs(120);
        [
            wait(bureau, limit),
            wait(portal, limit),
            wait(helper, limit),
        ]
    };
    for o in all(&s, &["--quiet"], "usage.csv") {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let mut first = Vec::new();
    for party in ["bureau", "portal", "trustee"] {
        let m = check_manifest(&s.path(&format!("out-{party}")), party);
        first.push(m);
    }
    // Files of the tables: every output of the study, in both data parties' folders.
    assert!(
        first[0]["files"].as_array().unwrap().len() >= 5,
        "{}",
        first[0]
    );

    // Without --force a second run is refused before connecting: nothing is replaced.
    let out = s.run_once_into("bureau", "out-bureau", &[]);
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("earlier run") && e.contains("--force"), "{e}");

    // With --force, a run that fails (bad input at the portal) leaves the earlier folders as
    // they were: same files, same run id, no file of this run.
    let text = read(&s.path("usage.csv"));
    std::fs::write(s.path("bad-usage.csv"), text.replacen("app", "fax", 1)).unwrap();
    for o in all(&s, &["--quiet", "--force"], "bad-usage.csv") {
        assert!(!o.status.success());
    }
    for (party, before) in ["bureau", "portal", "trustee"].iter().zip(&first) {
        let m = check_manifest(&s.path(&format!("out-{party}")), party);
        assert_eq!(&m, before, "{party}");
    }
    assert_no_staging(s.dir.path());

    // With --force, a successful run replaces each folder as a whole, under a new run id.
    for o in all(&s, &["--quiet", "--force"], "usage.csv") {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    for (party, before) in ["bureau", "portal", "trustee"].iter().zip(&first) {
        let m = check_manifest(&s.path(&format!("out-{party}")), party);
        assert_ne!(m["run_id"], before["run_id"], "{party}");
    }
    assert_no_staging(s.dir.path());
}

#[test]
fn bad_input_is_reported_before_waiting_for_any_peer() {
    use std::io::BufRead;
    let s = Setup::new(40, 30);
    let text = read(&s.path("usage.csv"));
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[4] = "app,3,123456789".to_string(); // an invalid BSN (11-test) on line 5
    lines[7] = lines[7].replacen("app", "fax", 1).replacen("web", "fax", 1);
    std::fs::write(s.path("usage.csv"), lines.join("\n") + "\n").unwrap();
    // The peers are never started: the portal must report its input while it waits for them.
    let mut portal = s.spawn("portal", Some(("usage", s.path("usage.csv"))), &["--quiet"]);
    let stderr = portal.stderr.take().unwrap();
    let mut seen = String::new();
    for line in std::io::BufReader::new(stderr).lines() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("telling the other parties") {
            break;
        }
    }
    let _ = portal.kill();
    let _ = portal.wait();
    assert!(seen.contains("line 5") && seen.contains("bsn"), "{seen}");
    assert!(
        seen.contains("line 8") && seen.contains("channel"),
        "{seen}"
    );
    assert!(!seen.contains("123456789"), "{seen}");
    assert!(!s.path("out-portal").exists());
}

#[test]
fn usage_errors_are_reported_before_connecting() {
    let s = Setup::new(5, 5);
    // A bad study file.
    let bad = s.path("bad.toml");
    std::fs::write(
        &bad,
        study_text().replace("min_cell = 4", "min_cell = 4\ncolour = 1"),
    )
    .unwrap();
    let out = s.run_once("bureau", &bad, &[]);
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("colour"), "{e}");
    // An unknown party.
    let out = s.run_once("nobody", &s.study, &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nobody"));
}

#[test]
fn zero_io_timeout_is_refused() {
    let s = Setup::new(5, 5);
    let out = s.run_once("bureau", &s.study, &["--io-timeout", "0"]);
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("--io-timeout") && e.contains("at least 1 s"),
        "{e}"
    );
    assert!(!s.path("o").exists());
}

/// A privacy-budget ledger: a run reserves its ε before connecting and marks it completed; a
/// second run that would exceed the table's total is refused, naming the table and the totals,
/// and the ledger is unchanged.
#[test]
fn the_budget_ledger_refuses_a_run_past_the_total() {
    let s = Setup::new(200, 160);
    let text = std::fs::read_to_string(&s.study).unwrap();
    let head = text.split("[[outputs]]").next().unwrap().to_string();
    let noisy = head
        + r#"
[[outputs]]
name = "users_by_region_dp"
statistic = "count"
by = ["register.region"]
min_cell = 0
epsilon = 0.3

[[outputs]]
name = "mean_logins_by_channel"
statistic = "mean"
of = "usage.logins"
by = ["usage.channel"]
"#;
    std::fs::write(&s.study, noisy).unwrap();
    let ledger = s.path("bureau-ledger.toml");
    let l_arg = ledger.display().to_string();
    let helper = s.spawn("trustee", None, &["--quiet"]);
    let portal = s.spawn("portal", Some(("usage", s.path("usage.csv"))), &["--quiet"]);
    let bureau = s.spawn(
        "bureau",
        Some(("register", s.path("register.csv"))),
        &["--ledger", &l_arg, "--max-epsilon", "0.5"],
    );
    let limit = Duration::from_secs(180);
    for (name, out) in [
        ("bureau", wait(bureau, limit)),
        ("portal", wait(portal, limit)),
        ("trustee", wait(helper, limit)),
    ] {
        assert!(
            out.status.success(),
            "{name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if name == "bureau" {
            // the summary states the guarantee and the accuracy of the noisy output
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("ε = 0.3 differential privacy under replace-one"),
                "{err}"
            );
            assert!(err.contains("noise on count: standard deviation"), "{err}");
        }
    }
    let after_first = read(&ledger);
    assert!(
        after_first.contains("status = \"completed\""),
        "{after_first}"
    );
    assert!(after_first.contains("epsilon = \"0.3\""), "{after_first}");
    let summary = read(&s.path("out-bureau/bureau-summary.json"));
    assert!(summary.contains("\"ci95_half_width\""), "{summary}");

    // 0.3 + 0.3 > 0.5: refused at once, before the computation, naming the table and totals
    let out = s.run_once(
        "bureau",
        &s.study,
        &[
            "--input",
            &format!("register={}", s.path("register.csv").display()),
            "--ledger",
            &l_arg,
            "--max-epsilon",
            "0.5",
            "--connect-timeout",
            "1",
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("privacy budget of table 'register' would be exceeded")
            && err.contains("spent epsilon = 0.3")
            && err.contains("epsilon = 0.5"),
        "{err}"
    );
    assert_eq!(read(&ledger), after_first);
}
