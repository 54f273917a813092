//! Shared steps of the deployment suites (`deploy.rs` on loopback, `netns.rs` in network
//! namespaces), following docs/deploying.md: each party makes its own key with `samen keys`,
//! the study file pins the three fingerprints, each party reviews the study and runs it with
//! `--keys` and `--approve`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use samen_pseudonym::normalise::bsn_from_index;
use samen_study::input::read_csv;
use samen_study::reference;
use samen_study::spec::Study;

/// The parties, in name order: first data party, second data party, helper.
pub const PARTIES: [&str; 3] = ["bureau", "portal", "trustee"];

/// The `samen` binary under test.
pub fn samen() -> Command {
    samen_testkit::samen(env!("CARGO_BIN_EXE_samen"))
}

/// `samen keys --party NAME --out DIR` (plus `extra`); returns the output.
pub fn keys_cmd(party: &str, dir: &Path, extra: &[&str]) -> Output {
    samen()
        .args(["keys", "--party", party, "--out"])
        .arg(dir)
        .args(extra)
        .output()
        .unwrap()
}

/// Make a party's key with `samen keys`; returns the fingerprint printed on the last line.
pub fn make_key(party: &str, dir: &Path) -> String {
    let out = keys_cmd(party, dir, &[]);
    samen_testkit::assert_success(&out, "samen keys");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let last = stdout.lines().last().unwrap().to_string();
    assert!(is_fingerprint(&last), "{last}");
    last
}

/// `sha256:` and 64 lower-case hex digits.
pub fn is_fingerprint(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// One party's entry in the study file.
pub struct PartyEntry {
    /// Where the others reach it.
    pub address: String,
    /// Where it binds, if not at `address`.
    pub listen: Option<String>,
    /// Its pinned fingerprint.
    pub key: Option<String>,
}

/// A study over the CLI test tables with these party entries (in [`PARTIES`] order).
pub fn study_text(name: &str, entries: &[PartyEntry; 3]) -> String {
    let mut s = format!("[study]\nname = \"{name}\"\n");
    for (party, e) in PARTIES.iter().zip(entries) {
        s += &format!("\n[parties.{party}]\naddress = \"{}\"\n", e.address);
        if let Some(l) = &e.listen {
            s += &format!("listen = \"{l}\"\n");
        }
        if let Some(k) = &e.key {
            s += &format!("key = \"{k}\"\n");
        }
        if *party == "trustee" {
            s += "role = \"helper\"\n";
        }
    }
    s + r#"
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
"#
}

/// Write `register.csv` (`register_rows` rows) and `usage.csv` (`usage_rows` rows, every other
/// one a registered person) into `dir`.
pub fn write_tables(dir: &Path, register_rows: usize, usage_rows: usize) {
    let mut reg = String::from("bsn,region,income\n");
    let regions = ["Groningen", "Friesland", "Drenthe"];
    for i in 0..register_rows {
        let bsn = bsn_from_index(i as u64 * 3 + 1).unwrap();
        let income = (i as i64 * 7919) % 105_000 - 5000;
        reg += &format!("{bsn},{},{income}\n", regions[(i * 5 / 3) % 3]);
    }
    let mut usage = String::from("channel,logins,bsn\n");
    for j in 0..usage_rows {
        let idx = if j % 2 == 0 {
            j / 2 * 3 + 1
        } else {
            10_000_000 + j
        };
        let bsn = bsn_from_index(idx as u64).unwrap();
        usage += &format!("{},{},{bsn}\n", ["app", "web"][j % 3 % 2], (j * 37) % 501);
    }
    std::fs::write(dir.join("register.csv"), reg).unwrap();
    std::fs::write(dir.join("usage.csv"), usage).unwrap();
}

/// The input argument of a party, if it is a data party.
pub fn input_of(party: &str, dir: &Path) -> Option<String> {
    match party {
        "bureau" => Some(format!("register={}", dir.join("register.csv").display())),
        "portal" => Some(format!("usage={}", dir.join("usage.csv").display())),
        _ => None,
    }
}

/// Start `samen run` for `party` with its own key directory, prefixed by `wrap` (e.g.
/// `ip netns exec NS`), writing to `out`.
pub fn spawn_run(
    wrap: &[&str],
    party: &str,
    study: &Path,
    keys: &Path,
    data: &Path,
    out: &Path,
    extra: &[&str],
) -> Child {
    let exe = env!("CARGO_BIN_EXE_samen");
    let mut c = match wrap.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    c.env_remove("RUST_LOG")
        .args(["run", "--quiet", "--party", party, "--study"])
        .arg(study)
        .arg("--keys")
        .arg(keys)
        .arg("--out")
        .arg(out)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(input) = input_of(party, data) {
        c.arg("--input").arg(input);
    }
    c.spawn().unwrap()
}

/// Wait for `child` at most `limit`; kill it and panic with its stderr after that.
pub fn wait(mut child: Child, limit: Duration) -> Output {
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

/// The tables the plaintext reference computes for the study and tables in `data`, as
/// `(file name, text)`.
pub fn expected_tables(study: &Path, data: &Path) -> Vec<(String, String)> {
    let study = Study::load(study).unwrap();
    let a = read_csv(&study, "register", &data.join("register.csv")).unwrap();
    let b = read_csv(&study, "usage", &data.join("usage.csv")).unwrap();
    reference::compute(&study, &[&a, &b])
        .iter()
        .flat_map(|t| t.rendered())
        .collect()
}

/// Assert that both data parties' output directories (`out(party)`) hold exactly `expected`.
pub fn assert_tables(expected: &[(String, String)], out: impl Fn(&str) -> PathBuf) {
    assert!(!expected.is_empty());
    for party in ["bureau", "portal"] {
        for (file, text) in expected {
            let path = out(party).join(file);
            let got = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(&got, text, "{party}: {file}");
        }
    }
}

/// `samen review --study F --party P`: the statement; its last line is the hash to approve.
pub fn review(study: &Path, party: &str) -> String {
    let out = samen()
        .args(["review", "--party", party, "--study"])
        .arg(study)
        .output()
        .unwrap();
    samen_testkit::assert_success(&out, "samen review");
    String::from_utf8(out.stdout).unwrap()
}
