//! The review statement (`samen review`) against golden files: every output of the study is
//! listed with its statistic, columns, grouping, `min_cell` and budget; the pinned peers and
//! the study hash are those of the file. Set `SAMEN_BLESS=1` to rewrite the golden files after
//! a deliberate change of wording, and read the diff.
// Test code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::PathBuf;

use samen_study::review::{statement, ReviewError};
use samen_study::spec::{Privacy, Study};

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn study() -> Study {
    Study::load(&golden_dir().join("review-study.toml")).unwrap()
}

fn check_golden(party: &str) -> String {
    let text = statement(&study(), party).unwrap();
    let path = golden_dir().join(format!("review-{party}.txt"));
    if std::env::var_os("SAMEN_BLESS").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        text,
        want,
        "review for {party} differs from {}",
        path.display()
    );
    text
}

#[test]
fn the_review_of_each_party_matches_its_golden_file() {
    for party in ["bureau", "portal", "trustee"] {
        check_golden(party);
    }
}

#[test]
fn the_review_lists_every_output_and_ends_with_the_study_hash() {
    let study = study();
    let text = check_golden("portal");
    // The last line is the SHA-256 of the file's bytes, as the hello compares it.
    let bytes = std::fs::read(golden_dir().join("review-study.toml")).unwrap();
    let hash = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&bytes))
    };
    assert_eq!(text.lines().last().unwrap(), format!("sha256:{hash}"));
    for o in study.outputs() {
        let head = text
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{}: ", o.name)))
            .unwrap_or_else(|| panic!("output {} missing", o.name));
        for c in o.of.iter().chain(&o.x).chain(&o.by) {
            assert!(head.contains(&c.to_string()), "{head} lacks {c}");
        }
        assert!(text.contains(&format!("min_cell = {}", o.min_cell)));
        match o.privacy {
            Some(Privacy::Epsilon(e)) => assert!(text.contains(&format!("epsilon = {e}"))),
            Some(Privacy::Rho(r)) => assert!(text.contains(&format!("rho = {r}"))),
            None => assert!(text.contains("privacy budget: none")),
        }
    }
    // Pinned peers: name, address and fingerprint; the party's own listen address.
    for p in study.parties().iter().filter(|p| p.name != "portal") {
        let key = format!("sha256:{}", hex::encode(p.key.unwrap()));
        assert!(
            text.lines()
                .any(|l| l.contains(&p.name) && l.contains(&p.address) && l.contains(&key)),
            "peer {} missing",
            p.name
        );
    }
}

#[test]
fn a_party_not_in_the_study_is_refused() {
    assert_eq!(
        statement(&study(), "nobody"),
        Err(ReviewError::NotAParty {
            party: "nobody".into(),
            parties: "bureau, portal, trustee".into()
        })
    );
}
