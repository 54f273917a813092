//! Deployment on loopback, as docs/deploying.md describes it: per-party keys (`samen keys`),
//! pins in the study file, `samen review` and `samen run --keys --approve`.
// Test code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod deploy_common;

use std::path::Path;
use std::time::{Duration, Instant};

use deploy_common::*;
use samen_net::pin::{load_own_key, Fingerprint};

fn loopback_entries(keys: [Option<String>; 3]) -> [PartyEntry; 3] {
    let ports = samen_testkit::free_ports(3);
    let [a, b, c] = keys;
    [
        // bureau listens on all interfaces and is reached by name.
        PartyEntry {
            address: format!("localhost:{}", ports[0]),
            listen: Some(format!("0.0.0.0:{}", ports[0])),
            key: a,
        },
        PartyEntry {
            address: format!("127.0.0.1:{}", ports[1]),
            listen: None,
            key: b,
        },
        PartyEntry {
            address: format!("127.0.0.1:{}", ports[2]),
            listen: None,
            key: c,
        },
    ]
}

/// Three key directories, one per party, made separately; returns the pins.
fn three_keys(root: &Path) -> [String; 3] {
    PARTIES.map(|p| make_key(p, &root.join(format!("keys-{p}"))))
}

#[test]
fn samen_keys_writes_a_private_key_prints_its_fingerprint_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("k");
    let out = keys_cmd("portal", &keys, &[]);
    samen_testkit::assert_success(&out, "samen keys");
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let stderr = String::from_utf8(out.stderr.clone()).unwrap();
    let fp = stdout.lines().last().unwrap();
    assert!(is_fingerprint(fp), "{stdout}");
    // The private key is never printed.
    let key_pem = std::fs::read_to_string(keys.join("portal.key")).unwrap();
    assert!(key_pem.contains("PRIVATE KEY"));
    for text in [&stdout, &stderr] {
        assert!(!text.contains("PRIVATE") && !text.contains(key_pem.lines().nth(1).unwrap()));
    }
    // The fingerprint is the SHA-256 of the certificate's SubjectPublicKeyInfo.
    let own = load_own_key(&keys, "portal").unwrap();
    assert_eq!(own.fingerprint.to_string(), fp);
    assert_eq!(fp.parse::<Fingerprint>().unwrap(), own.fingerprint);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(keys.join("portal.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Never overwritten without --force.
    let again = keys_cmd("portal", &keys, &[]);
    assert!(!again.status.success());
    let e = String::from_utf8_lossy(&again.stderr);
    assert!(e.contains("already exists") && e.contains("--force"), "{e}");
    assert_eq!(
        std::fs::read_to_string(keys.join("portal.key")).unwrap(),
        key_pem
    );
    let forced = keys_cmd("portal", &keys, &["--force"]);
    samen_testkit::assert_success(&forced, "samen keys --force");
    let fp2 = String::from_utf8(forced.stdout).unwrap();
    assert_ne!(fp2.lines().last().unwrap(), fp);
}

#[test]
fn three_parties_each_holding_only_its_own_key_get_the_plaintext_tables() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let pins = three_keys(root);
    let study = root.join("study.toml");
    std::fs::write(
        &study,
        study_text("deploy-loopback", &loopback_entries(pins.clone().map(Some))),
    )
    .unwrap();
    write_tables(root, 300, 260);
    // Each party reviews the study; all see the same hash, which each approves.
    let mut hashes = Vec::new();
    for p in PARTIES {
        let text = review(&study, p);
        for (q, pin) in PARTIES.iter().zip(&pins) {
            if *q != p {
                assert!(
                    text.lines()
                        .any(|l| l.contains(q) && l.contains(pin.as_str())),
                    "{p}'s review lacks the pin of {q}"
                );
            }
        }
        hashes.push(text.lines().last().unwrap().to_string());
    }
    assert!(hashes.windows(2).all(|w| w[0] == w[1]));
    let approve = hashes[0].clone();
    let children: Vec<_> = PARTIES
        .iter()
        .map(|p| {
            spawn_run(
                &[],
                p,
                &study,
                &root.join(format!("keys-{p}")),
                root,
                &root.join(format!("out-{p}")),
                &["--approve", &approve, "--connect-timeout", "60"],
            )
        })
        .collect();
    for (p, c) in PARTIES.iter().zip(children) {
        let out = wait(c, Duration::from_secs(180));
        assert!(
            out.status.success(),
            "{p}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let expected = expected_tables(&study, root);
    assert_tables(&expected, |p| root.join(format!("out-{p}")));
}

#[test]
fn a_party_whose_key_is_not_its_pin_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let pins = three_keys(root);
    let entries = loopback_entries(pins.clone().map(Some));
    let study = root.join("study.toml");
    std::fs::write(&study, study_text("deploy-wrong-key", &entries)).unwrap();
    write_tables(root, 20, 20);

    // portal replaces its key after the study was agreed: it refuses to start itself.
    let portal_keys = root.join("keys-portal");
    let out = keys_cmd("portal", &portal_keys, &["--force"]);
    samen_testkit::assert_success(&out, "samen keys --force");
    let new_pin = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .to_string();
    let start = Instant::now();
    let out = wait(
        spawn_run(
            &[],
            "portal",
            &study,
            &portal_keys,
            root,
            &root.join("o"),
            &[],
        ),
        Duration::from_secs(30),
    );
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("'portal'") && e.contains(&new_pin) && e.contains(&pins[1]),
        "{e}"
    );
    assert!(start.elapsed() < Duration::from_secs(10));

    // portal runs with a study file that pins its new key (another file than the others
    // approved): the others refuse it during the TLS handshake, before any data moves, and
    // every party's error names portal.
    let mut edited = loopback_entries([None, None, None]);
    for (e, (orig, pin)) in edited.iter_mut().zip(entries.iter().zip(&pins)) {
        e.address = orig.address.clone();
        e.listen = orig.listen.clone();
        e.key = Some(pin.clone());
    }
    edited[1].key = Some(new_pin.clone());
    let other_study = root.join("portal-study.toml");
    std::fs::write(&other_study, study_text("deploy-wrong-key", &edited)).unwrap();
    let children: Vec<_> = PARTIES
        .iter()
        .map(|p| {
            let (s, k) = if *p == "portal" {
                (other_study.as_path(), portal_keys.clone())
            } else {
                (study.as_path(), root.join(format!("keys-{p}")))
            };
            spawn_run(
                &[],
                p,
                s,
                &k,
                root,
                &root.join(format!("out2-{p}")),
                &["--connect-timeout", "5"],
            )
        })
        .collect();
    for (p, c) in PARTIES.iter().zip(children) {
        let out = wait(c, Duration::from_secs(60));
        assert!(!out.status.success(), "{p} succeeded");
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(e.contains("portal"), "{p}: {e}");
        // Nothing was computed.
        assert!(!root.join(format!("out2-{p}/{p}-summary.json")).exists());
    }
}

#[test]
fn approve_with_another_hash_refuses_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let pins = three_keys(root);
    let study = root.join("study.toml");
    std::fs::write(
        &study,
        study_text("deploy-approve", &loopback_entries(pins.map(Some))),
    )
    .unwrap();
    write_tables(root, 5, 5);
    let reviewed = review(&study, "bureau");
    let hash = reviewed.lines().last().unwrap().to_string();
    // The study file changes by one byte after the review.
    let text = std::fs::read_to_string(&study).unwrap();
    std::fs::write(&study, text.replace("min_cell = 4", "min_cell = 3")).unwrap();
    let out_dir = root.join("o");
    let start = Instant::now();
    let out = wait(
        spawn_run(
            &[],
            "bureau",
            &study,
            &root.join("keys-bureau"),
            root,
            &out_dir,
            &["--approve", &hash, "--connect-timeout", "60"],
        ),
        Duration::from_secs(30),
    );
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("not the approved") && e.contains(&hash), "{e}");
    // Refused at once, before reading inputs or waiting for any peer.
    assert!(start.elapsed() < Duration::from_secs(10));
    assert!(!out_dir.exists());
    // A malformed approval is a usage error.
    let out = samen()
        .args(["run", "--party", "bureau", "--approve", "abc", "--study"])
        .arg(&study)
        .arg("--keys")
        .arg(root.join("keys-bureau"))
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("64 hex digits"));
}

#[test]
fn keys_and_certs_must_fit_the_study_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_tables(root, 5, 5);
    // --keys with a study that pins nothing.
    let unpinned = root.join("unpinned.toml");
    std::fs::write(
        &unpinned,
        study_text("deploy-unpinned", &loopback_entries([None, None, None])),
    )
    .unwrap();
    make_key("bureau", &root.join("keys-bureau"));
    let out = wait(
        spawn_run(
            &[],
            "bureau",
            &unpinned,
            &root.join("keys-bureau"),
            root,
            &root.join("o"),
            &[],
        ),
        Duration::from_secs(30),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--keys needs the study file to pin"));
    // Pins on some parties only: the study file is refused, naming the others.
    let partial = root.join("partial.toml");
    let pin = make_key("portal", &root.join("keys-portal"));
    std::fs::write(
        &partial,
        study_text(
            "deploy-partial",
            &loopback_entries([None, Some(pin.clone()), None]),
        ),
    )
    .unwrap();
    let out = samen()
        .args(["review", "--party", "bureau", "--study"])
        .arg(&partial)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("not for bureau, trustee"), "{e}");
    // --certs with a study that pins every key: refused (the pins would be ignored).
    let pinned = root.join("pinned.toml");
    let pins = [
        make_key("bureau", &root.join("k2-bureau")),
        pin,
        make_key("trustee", &root.join("k2-trustee")),
    ];
    std::fs::write(
        &pinned,
        study_text("deploy-pinned", &loopback_entries(pins.map(Some))),
    )
    .unwrap();
    let out = samen()
        .args(["run", "--party", "bureau", "--study"])
        .arg(&pinned)
        .arg("--certs")
        .arg(root.join("certs"))
        .arg("--out")
        .arg(root.join("o"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("run with --keys DIR"));
    // A key file that its group can read is refused.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = root.join("k2-bureau/bureau.key");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
        let out = wait(
            spawn_run(
                &[],
                "bureau",
                &pinned,
                &root.join("k2-bureau"),
                root,
                &root.join("o"),
                &[],
            ),
            Duration::from_secs(30),
        );
        assert!(!out.status.success());
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(e.contains("chmod 600"), "{e}");
    }
}
