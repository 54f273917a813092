//! `samen demo` at a small size, as separate processes over mutual TLS on loopback: it must
//! succeed, every exact output must equal the study engine's plaintext reference byte for
//! byte, and the differentially private output must have every cell.
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

#[test]
fn demo_tables_match_the_plaintext_computation() {
    let keep = tempfile::tempdir().unwrap();
    let out = samen_testkit::samen(env!("CARGO_BIN_EXE_samen"))
        .args([
            "demo",
            "--residents",
            "3000",
            "--users",
            "1500",
            "--timeout",
            "300",
        ])
        .arg("--keep")
        .arg(keep.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "samen demo failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    let study = samen_study::spec::Study::load(&keep.path().join("study.toml")).unwrap();
    let exact: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("matches plaintext:"))
        .collect();
    let noisy: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("every cell present with its levels:"))
        .collect();
    let private = study
        .outputs()
        .iter()
        .filter(|o| o.privacy.is_some())
        .count();
    assert!(
        private >= 1,
        "the demo study has no differentially private output"
    );
    assert_eq!(
        (exact.len(), noisy.len()),
        (study.outputs().len() - private, private),
        "one verdict per output expected:\n{stdout}"
    );
    for v in &exact {
        assert!(v.trim_end().ends_with("matches plaintext: yes"), "{v}");
    }
    for v in &noisy {
        assert!(
            v.trim_end()
                .ends_with("every cell present with its levels: yes"),
            "{v}"
        );
    }
    // The noise is reported per noisy integer column, with the mechanism's deviation: two
    // draws (one per data party) of discrete Laplace with scale 2/ε, ε = 1.
    let report = stdout
        .lines()
        .find(|l| l.contains("noisy count − exact over"))
        .unwrap_or_else(|| panic!("no noise report:\n{stdout}"));
    assert!(report.contains("mechanism: 3.959"), "{report}");
    // Every file of every output is shown (companion files under their own name).
    for o in study.outputs() {
        assert!(
            stdout.contains(&format!("{} — ", o.name)),
            "{} not shown:\n{stdout}",
            o.name
        );
    }
    // Both data parties wrote the tables; the helper wrote none.
    for name in [
        "users_by_province_channel",
        "matched",
        "covariance_income_logins_by_household",
        "users_by_age_band_household_dp",
        "regression_logins",
        "regression_logins.glance",
        "correlation_income_logins",
        "usage_rate_by_province_household",
        "active_users_by_income_band",
    ] {
        assert!(keep.path().join(format!("out/bureau/{name}.csv")).exists());
        assert!(keep.path().join(format!("out/portal/{name}.csv")).exists());
        assert!(!keep.path().join(format!("out/trustee/{name}.csv")).exists());
    }
    // The headline table: every province × household type with its residents, users and share.
    let rate = std::fs::read_to_string(
        keep.path()
            .join("out/bureau/usage_rate_by_province_household.csv"),
    )
    .unwrap();
    assert!(
        rate.starts_with("register.province,register.household,rows,matched,rate,suppressed\n"),
        "{rate}"
    );
    let bands = std::fs::read_to_string(
        keep.path()
            .join("out/portal/active_users_by_income_band.csv"),
    )
    .unwrap();
    assert!(
        bands.starts_with("register.income,count,suppressed\n\"[0,20000)\","),
        "{bands}"
    );
    // The summary says which population a filtered output counts.
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(keep.path().join("out/bureau/bureau-summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        summary["populations"],
        serde_json::json!([{
            "output": "active_users_by_income_band",
            "where": "register.age_band in [\"18-24\", \"25-44\", \"45-64\"] and usage.logins >= 5"
        }])
    );
    // At this size the rare channel is suppressed somewhere, and the table shows it.
    assert!(stdout.contains('·'), "no suppressed cell shown:\n{stdout}");

    // The kept directory can be used again (certificates and tables are replaced).
    let again = samen_testkit::samen(env!("CARGO_BIN_EXE_samen"))
        .args([
            "demo",
            "--residents",
            "400",
            "--users",
            "200",
            "--seed",
            "9",
        ])
        .arg("--keep")
        .arg(keep.path())
        .output()
        .unwrap();
    assert!(
        again.status.success(),
        "second run in the same directory failed: {}",
        String::from_utf8_lossy(&again.stderr)
    );
    let matched = std::fs::read_to_string(keep.path().join("out/bureau/matched.csv")).unwrap();
    assert_eq!(matched, "count,suppressed\n180,false\n");
}

#[test]
fn demo_reports_a_failing_party() {
    // The portal's input is made invalid after generation is impossible to arrange from the
    // outside, so use an unusable timeout instead: zero seconds stops the parties at once.
    let out = samen_testkit::samen(env!("CARGO_BIN_EXE_samen"))
        .args([
            "demo",
            "--residents",
            "200",
            "--users",
            "100",
            "--timeout",
            "0",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("failed"), "{stderr}");
}
