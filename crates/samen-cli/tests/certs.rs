//! `samen certs`: keys are written owner-only and never overwritten without `--force`.
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::Path;
use std::process::Output;

const STUDY: &str = r#"[study]
name = "certs-test"
[parties.bureau]
address = "127.0.0.1:1"
[parties.portal]
address = "127.0.0.1:2"
[parties.trustee]
address = "127.0.0.1:3"
role = "helper"
[tables.register]
party = "bureau"
id = { column = "bsn", kind = "bsn" }
[tables.usage]
party = "portal"
id = { column = "bsn", kind = "bsn" }
[[outputs]]
name = "n"
statistic = "count"
"#;

fn certs(dir: &Path, force: bool) -> Output {
    let mut c = samen_testkit::samen(env!("CARGO_BIN_EXE_samen"));
    c.arg("certs")
        .arg("--study")
        .arg(dir.join("study.toml"))
        .arg("--out")
        .arg(dir.join("certs"));
    if force {
        c.arg("--force");
    }
    c.output().unwrap()
}

fn read_all(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            (name, std::fs::read(e.path()).unwrap())
        })
        .collect();
    files.sort();
    files
}

#[test]
fn existing_keys_are_kept_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("study.toml"), STUDY).unwrap();
    let out = certs(dir.path(), false);
    assert!(out.status.success(), "{out:?}");
    let certs_dir = dir.path().join("certs");
    let first = read_all(&certs_dir);
    let names: Vec<&str> = first.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "bureau.key",
            "bureau.pem",
            "ca.key",
            "ca.pem",
            "portal.key",
            "portal.pem",
            "trustee.key",
            "trustee.pem"
        ]
    );

    // A second run refuses, names an existing file and --force, and changes nothing.
    let out = certs(dir.path(), false);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("already exists") && err.contains("--force") && err.contains("certs"),
        "{err}"
    );
    assert_eq!(read_all(&certs_dir), first);

    // Only one party key left over (no CA): still refused, naming that key.
    for (name, _) in &first {
        if name != "portal.key" {
            std::fs::remove_file(certs_dir.join(name)).unwrap();
        }
    }
    let out = certs(dir.path(), false);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("portal.key") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(read_all(&certs_dir).len(), 1);

    // --force replaces it and writes everything anew, keys owner-only.
    let out = certs(dir.path(), true);
    assert!(out.status.success(), "{out:?}");
    let forced = read_all(&certs_dir);
    assert_eq!(forced.len(), first.len());
    for ((name, old), (_, new)) in first.iter().zip(&forced) {
        assert_ne!(old, new, "{name} was not replaced");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for key in ["ca.key", "bureau.key", "portal.key", "trustee.key"] {
            let mode = std::fs::metadata(certs_dir.join(key))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{key}");
        }
    }
}
