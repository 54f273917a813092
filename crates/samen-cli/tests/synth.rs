//! `samen synth mijnoverheid` as a process: determinism, valid BSNs, shape of the data.
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::HashSet;
use std::path::Path;

fn synth(dir: &Path, residents: usize, users: usize, seed: u64) {
    let out = samen_testkit::samen(env!("CARGO_BIN_EXE_samen"))
        .args(["synth", "mijnoverheid", "--residents"])
        .arg(residents.to_string())
        .arg("--users")
        .arg(users.to_string())
        .arg("--seed")
        .arg(seed.to_string())
        .arg("--out")
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "samen synth failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The 9-digit form of a BSN as written (8 digits get their leading zero back), if it passes
/// the 11-test; an independent implementation of the rule.
fn normalise_bsn(raw: &str) -> Option<String> {
    let s = match raw.len() {
        8 => format!("0{raw}"),
        9 => raw.to_string(),
        _ => return None,
    };
    let digits: Vec<i64> = s
        .bytes()
        .map(|b| b.is_ascii_digit().then(|| i64::from(b - b'0')))
        .collect::<Option<_>>()?;
    let sum: i64 = digits[..8]
        .iter()
        .zip((2..=9).rev())
        .map(|(d, w)| d * w)
        .sum::<i64>()
        - digits[8];
    (sum % 11 == 0 && digits.iter().any(|&d| d != 0)).then_some(s)
}

fn rows(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

#[test]
fn same_seed_same_files_other_seed_other_files() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let c = tempfile::tempdir().unwrap();
    synth(a.path(), 5000, 2000, 7);
    synth(b.path(), 5000, 2000, 7);
    synth(c.path(), 5000, 2000, 8);
    for f in ["register.csv", "usage.csv", "study.toml"] {
        let fa = std::fs::read(a.path().join(f)).unwrap();
        let fb = std::fs::read(b.path().join(f)).unwrap();
        assert_eq!(fa, fb, "{f} differs between two runs with the same seed");
    }
    for f in ["register.csv", "usage.csv"] {
        let fa = std::fs::read(a.path().join(f)).unwrap();
        let fc = std::fs::read(c.path().join(f)).unwrap();
        assert_ne!(fa, fc, "{f} is the same for two seeds");
    }
}

#[test]
fn register_and_usage_have_the_promised_shape() {
    let dir = tempfile::tempdir().unwrap();
    let (residents, users) = (20_000usize, 8_000usize);
    synth(dir.path(), residents, users, 2026);
    let study: toml::Value =
        toml::from_str(&std::fs::read_to_string(dir.path().join("study.toml")).unwrap()).unwrap();
    let levels = |col: &str| -> HashSet<String> {
        let (table, column) = col.split_once('.').unwrap();
        study["tables"][table]["columns"][column]["levels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    let bound = |col: &str| -> (i64, i64) {
        let (table, column) = col.split_once('.').unwrap();
        let c = &study["tables"][table]["columns"][column];
        (
            c["min"].as_integer().unwrap(),
            c["max"].as_integer().unwrap(),
        )
    };

    // register.csv
    let reg = rows(&dir.path().join("register.csv"));
    assert_eq!(
        reg[0],
        ["bsn", "province", "household", "age_band", "income"]
    );
    assert_eq!(reg.len() - 1, residents);
    let (prov, hh, age) = (
        levels("register.province"),
        levels("register.household"),
        levels("register.age_band"),
    );
    assert_eq!(prov.len(), 12);
    let (imin, imax) = bound("register.income");
    let mut register = HashSet::new();
    let mut eight = 0usize;
    let mut zuid_holland = 0usize;
    for r in &reg[1..] {
        let bsn = normalise_bsn(&r[0]).unwrap_or_else(|| panic!("invalid BSN {}", r[0]));
        if r[0].len() == 8 {
            eight += 1;
        }
        assert!(register.insert(bsn), "duplicated BSN {}", r[0]);
        assert!(prov.contains(&r[1]) && hh.contains(&r[2]) && age.contains(&r[3]));
        if r[1] == "Zuid-Holland" {
            zuid_holland += 1;
        }
        let income: i64 = r[4].parse().unwrap();
        assert!((imin..=imax).contains(&income));
    }
    let frac = eight as f64 / residents as f64;
    assert!((0.08..0.12).contains(&frac), "8-digit share {frac}");
    let frac = zuid_holland as f64 / residents as f64;
    assert!((0.19..0.23).contains(&frac), "Zuid-Holland share {frac}");

    // usage.csv
    let usage = rows(&dir.path().join("usage.csv"));
    assert_eq!(usage[0], ["bsn", "channel", "logins"]);
    assert_eq!(usage.len() - 1, users);
    let channels = levels("usage.channel");
    let (lmin, lmax) = bound("usage.logins");
    let mut seen = HashSet::new();
    let mut matched = 0usize;
    let mut app = 0usize;
    for r in &usage[1..] {
        let bsn = normalise_bsn(&r[0]).unwrap_or_else(|| panic!("invalid BSN {}", r[0]));
        assert!(seen.insert(bsn.clone()), "duplicated BSN {}", r[0]);
        if register.contains(&bsn) {
            matched += 1;
        }
        assert!(channels.contains(&r[1]), "channel {}", r[1]);
        if r[1] == "app" {
            app += 1;
        }
        let logins: i64 = r[2].parse().unwrap();
        assert!((lmin..=lmax).contains(&logins));
    }
    let frac = matched as f64 / users as f64;
    assert!((0.88..0.92).contains(&frac), "overlap {frac}");
    assert!(app > users / 4 && app < users * 3 / 4, "app users {app}");
}

#[test]
fn study_file_declares_parties_tables_and_outputs() {
    let dir = tempfile::tempdir().unwrap();
    synth(dir.path(), 100, 50, 1);
    let text = std::fs::read_to_string(dir.path().join("study.toml")).unwrap();
    let study: toml::Value = toml::from_str(&text).unwrap();
    let parties = study["parties"].as_table().unwrap();
    assert_eq!(parties.len(), 3);
    let helpers: Vec<_> = parties
        .iter()
        .filter(|(_, p)| p.get("role").and_then(|r| r.as_str()) == Some("helper"))
        .collect();
    assert_eq!(helpers.len(), 1);
    for (_, p) in parties {
        assert!(p["address"].as_str().unwrap().starts_with("127.0.0.1:"));
    }
    assert_eq!(
        study["tables"]["register"]["party"].as_str(),
        Some("bureau")
    );
    assert_eq!(study["tables"]["usage"]["party"].as_str(), Some("portal"));
    let outputs = study["outputs"].as_array().unwrap();
    let names: Vec<_> = outputs
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    for want in [
        "users_by_province_channel",
        "mean_logins_by_household",
        "variance_logins_by_age_band",
        "logins_by_province",
        "mean_income_by_channel",
        "matched",
        "covariance_income_logins_by_household",
        "regression_logins",
        "correlation_income_logins",
        "users_by_age_band_household_dp",
    ] {
        assert!(names.contains(&want), "missing output {want}");
    }
    for o in outputs {
        assert_eq!(o["min_cell"].as_integer(), Some(10));
    }
    let covariance = &outputs[names
        .iter()
        .position(|n| *n == "covariance_income_logins_by_household")
        .unwrap()];
    assert_eq!(covariance["statistic"].as_str(), Some("covariance"));
    assert_eq!(
        covariance["of"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect::<Vec<_>>(),
        ["register.income", "usage.logins"]
    );
    // Exactly one differentially private output: the count by province and household with
    // ε = 1 (no exact output releases those cells or finer ones).
    let private: Vec<_> = outputs
        .iter()
        .filter(|o| o.get("epsilon").is_some())
        .collect();
    assert_eq!(private.len(), 1);
    assert_eq!(
        private[0]["name"].as_str(),
        Some("users_by_age_band_household_dp")
    );
    assert_eq!(private[0]["statistic"].as_str(), Some("count"));
    assert_eq!(private[0]["epsilon"].as_float(), Some(1.0));
    // The helper-assisted join unless asked otherwise.
    assert_eq!(study["study"]["join"].as_str(), Some("helper"));

    // The study engine accepts it, and the default sizes cannot overflow.
    let parsed = samen_study::spec::Study::from_toml_str(&text).unwrap();
    assert_eq!(parsed.outputs().len(), outputs.len());
    assert_eq!(parsed.tables().len(), 2);
    parsed.check_overflow(1_000_000 + 400_000).unwrap();
    assert_eq!(parsed.join(), samen_join::JoinMethod::Helper);
    assert!(parsed.outputs().iter().any(|o| o.privacy.is_some()));
}

#[test]
fn join_method_is_written_into_the_study_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = samen_testkit::samen(env!("CARGO_BIN_EXE_samen"))
        .args([
            "synth",
            "mijnoverheid",
            "--residents",
            "100",
            "--users",
            "50",
        ])
        .args(["--join", "two-party", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let study = samen_study::spec::Study::load(&dir.path().join("study.toml")).unwrap();
    assert_eq!(study.join(), samen_join::JoinMethod::TwoParty);
    let bad = samen_testkit::samen(env!("CARGO_BIN_EXE_samen"))
        .args(["synth", "mijnoverheid", "--join", "telepathy", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

#[test]
fn users_beyond_the_register_are_outsiders() {
    // More users than residents: every resident is a user and the rest are not in the register.
    let dir = tempfile::tempdir().unwrap();
    synth(dir.path(), 100, 300, 3);
    assert_eq!(rows(&dir.path().join("usage.csv")).len(), 301);
}

#[test]
fn regression_on_the_synthetic_data_is_not_singular() {
    // 80 000 users: about 36 matched rows use the rare channel, so every dummy has rows.
    let dir = tempfile::tempdir().unwrap();
    synth(dir.path(), 200_000, 80_000, 2026);
    let study = samen_study::spec::Study::load(&dir.path().join("study.toml")).unwrap();
    let read = |table: &str| {
        samen_study::input::read_csv(&study, table, &dir.path().join(format!("{table}.csv")))
            .unwrap()
    };
    let (register, usage) = (read("register"), read("usage"));
    let tables = samen_study::reference::compute(&study, &[&register, &usage]);
    let regression = tables
        .iter()
        .find(|t| t.statistic == samen_study::Statistic::Regression)
        .expect("the synthetic study has a regression");
    assert!(regression.notes.is_empty(), "{:?}", regression.notes);
    let coefficients = &regression.files[0];
    // Intercept, income, four household dummies, two channel dummies.
    assert_eq!(coefficients.rows.len(), 8);
    for row in 0..coefficients.rows.len() {
        for column in ["estimate", "std_error", "p_value"] {
            let v: f64 = coefficients.get(row, column).unwrap().parse().unwrap();
            assert!(v.is_finite(), "row {row} {column}");
        }
    }
    let glance = &regression.files[1];
    assert_eq!(glance.get(0, "suppressed"), Some("false"));
    let r2: f64 = glance.get(0, "r_squared").unwrap().parse().unwrap();
    assert!(r2 > 0.0 && r2 < 1.0, "r² {r2}");

    let correlation = tables
        .iter()
        .find(|t| t.statistic == samen_study::Statistic::Correlation)
        .expect("the synthetic study has a correlation");
    let r: f64 = correlation.get(0, "usage.logins").unwrap().parse().unwrap();
    assert!(r.abs() < 1.0 && r != 0.0, "correlation {r}");
}
