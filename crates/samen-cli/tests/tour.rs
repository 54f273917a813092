//! The README's five-minute tour, run as written: every `sh` block of the section "A five-minute
//! tour" runs in order with `sh`, in a temporary directory, with the `samen` binary of this
//! build first on `PATH`; then the claims the section makes about the results are checked.
//!
//! Two things differ from a user's run: the `cargo build` line and the `cd "$(mktemp -d)"` line
//! of the first block are not run (the test builds the binary and works in its own temporary
//! directory), and the study file's loopback ports 7101–7103 are replaced by free ports right
//! after `samen synth` writes it, so that the test never collides with another process.
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `sh` blocks of the README's tour section, in order.
fn tour_blocks() -> Vec<String> {
    let readme = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
    let text = std::fs::read_to_string(readme).unwrap();
    let section = text
        .split("\n## A five-minute tour\n")
        .nth(1)
        .expect("a section '## A five-minute tour'");
    let section = section.split("\n## ").next().unwrap();
    let mut blocks = Vec::new();
    let mut rest = section;
    while let Some(start) = rest.find("```sh\n") {
        let body = &rest[start + 6..];
        let end = body.find("\n```").expect("a closed code block");
        blocks.push(body[..end].to_string());
        rest = &body[end + 4..];
    }
    blocks
}

/// Run `script` with `sh` in `dir`, the binary's directory first on `PATH`; returns stdout and
/// stderr.
fn sh(dir: &Path, script: &str) -> (String, String) {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_samen"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .env("PATH", path)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    );
    assert!(
        out.status.success(),
        "block failed ({}):\n{script}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    (stdout, stderr)
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    v.sort();
    v
}

/// The TOML study snippet of the tour: its `[study]` and `[[outputs]]` must be those of the
/// study file `samen synth` writes.
fn check_study_snippet(study: &Path) {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let section = readme.split("\n## A five-minute tour\n").nth(1).unwrap();
    let snippet = section
        .split("```toml\n")
        .nth(1)
        .unwrap()
        .split("\n```")
        .next()
        .unwrap();
    let snippet: toml::Table = toml::from_str(snippet).unwrap();
    let written: toml::Table = toml::from_str(&std::fs::read_to_string(study).unwrap()).unwrap();
    assert_eq!(snippet["study"]["name"], written["study"]["name"]);
    assert_eq!(snippet["study"]["join"], written["study"]["join"]);
    let outputs = written["outputs"].as_array().unwrap();
    for o in snippet["outputs"].as_array().unwrap() {
        let o = o.as_table().unwrap();
        let w = outputs
            .iter()
            .find(|w| w["name"] == o["name"])
            .unwrap_or_else(|| panic!("output {} is not in the study file", o["name"]))
            .as_table()
            .unwrap();
        for (key, value) in o {
            assert_eq!(Some(value), w.get(key), "output {}: {key}", o["name"]);
        }
    }
}

#[test]
fn the_readme_tour_runs_as_written() {
    let blocks = tour_blocks();
    assert_eq!(blocks.len(), 6, "{blocks:#?}");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // 0: set-up, outside the repository.
    assert!(blocks[0].contains("cargo build --release -p samen-cli"));
    assert!(blocks[0].contains("cd \"$(mktemp -d)\""));

    // 1: synthetic data, a key, two pseudonymised files.
    let (out, _) = sh(d, &blocks[1]);
    let key = std::fs::read_to_string(d.join("cbs-2026.key")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.join("cbs-2026.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the key is written with mode 0600");
    }
    let secret = key
        .lines()
        .find_map(|l| l.strip_prefix("key = \""))
        .unwrap()
        .trim_end_matches('"');
    assert!(!out.contains(secret), "the key is never printed");
    // `head -3` shows the header and two pseudonymised rows: no BSN left, only pseudonyms.
    let head: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("bsn,"))
        .take(3)
        .collect();
    assert_eq!(head[0], "bsn,province,household,age_band,income");
    for row in &head[1..] {
        let pseudonym = row.split(',').next().unwrap();
        assert_eq!(pseudonym.len(), 64, "{row}");
        assert!(pseudonym.bytes().all(|b| b.is_ascii_hexdigit()), "{row}");
    }
    // The study file: the README's snippet, and the ports the README names.
    let study = d.join("data/study.toml");
    check_study_snippet(&study);
    let text = std::fs::read_to_string(&study).unwrap();
    let ports = samen_testkit::free_ports(3);
    let mut moved = text.clone();
    for (from, to) in [7101, 7102, 7103].iter().zip(&ports) {
        let from = format!("127.0.0.1:{from}");
        assert!(text.contains(&from), "the study file uses {from}");
        moved = moved.replace(&from, &format!("127.0.0.1:{to}"));
    }
    std::fs::write(&study, moved).unwrap();

    // 2: certificates and the three parties.
    sh(d, &blocks[2]);
    let tables = files(&d.join("out/bureau"));
    assert!(
        tables.contains(&"users_by_province_channel.csv".to_string()),
        "{tables:?}"
    );
    assert!(tables.contains(&"run.json".to_string()), "{tables:?}");
    assert_eq!(files(&d.join("out/portal")).len(), tables.len());
    // The helper gets no table: its summary and the folder's manifest.
    assert_eq!(
        files(&d.join("out/trustee")),
        vec!["run.json", "trustee-summary.json"]
    );

    // The same study on the pseudonymised files gives the same tables.
    let (out, _) = sh(d, &blocks[3]);
    assert!(
        out.contains("the pseudonymised inputs gave the same tables"),
        "{out}"
    );

    // 3: the tables; bureau and portal got the same ones.
    let (out, _) = sh(d, &blocks[4]);
    assert!(
        out.contains("bureau and portal got the same tables"),
        "{out}"
    );
    // The first seven lines of the table show a `machtiging` cell suppressed as primary and a
    // partner suppressed as secondary, with empty statistic fields.
    let shown: Vec<&str> = out.lines().take(7).collect();
    assert!(shown[0].contains("register.province"), "{shown:#?}");
    assert!(
        shown
            .iter()
            .any(|l| l.contains("machtiging") && l.trim_end().ends_with("primary")),
        "{shown:#?}"
    );
    let csv = std::fs::read_to_string(d.join("out/bureau/users_by_province_channel.csv")).unwrap();
    assert!(
        shown.iter().any(|l| l.trim_end().ends_with("secondary")),
        "{shown:#?}"
    );
    let suppressed: Vec<&str> = csv
        .lines()
        .filter(|l| l.ends_with(",primary") || l.ends_with(",secondary"))
        .collect();
    assert!(!suppressed.is_empty());
    for row in suppressed {
        let fields: Vec<&str> = row.split(',').collect();
        assert_eq!(
            fields[2], "",
            "a suppressed cell has empty statistic fields: {row}"
        );
    }
    // A regression and its glance file.
    let (out, _) = sh(d, &blocks[5]);
    assert!(
        out.contains("estimate") && out.contains("r_squared"),
        "{out}"
    );
}
