//! End-to-end tests of `samen keygen` and `samen pseudonymise` through the binary.
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::Output;

use samen_pseudonym::key::PseudonymKey;
use samen_pseudonym::pseudonym::pseudonymise;

fn samen(args: &[&str]) -> Output {
    samen_testkit::samen(env!("CARGO_BIN_EXE_samen"))
        .args(args)
        .env("RUST_LOG", "info")
        .output()
        .expect("run samen")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

struct Setup {
    dir: tempfile::TempDir,
    key: PathBuf,
}

fn setup(csv: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k.key");
    let o = samen(&["keygen", "--domain", "cbs-2026", "--out", s(&key)]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::write(dir.path().join("in.csv"), csv).unwrap();
    Setup { dir, key }
}

impl Setup {
    fn p(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    /// The run failed, its message contains every one of `needles`, and it left no file behind.
    fn fails_without_output(&self, o: &Output, needles: &[&str]) {
        assert!(!o.status.success());
        let err = stderr(o);
        assert!(needles.iter().all(|n| err.contains(n)), "{err}");
        assert_eq!(files_in(self.dir.path()), ["in.csv", "k.key"]);
    }

    /// After a successful run: the key, the pseudonyms of 111222333 and 012345672 under it,
    /// and the output file.
    fn succeeded(&self, o: &Output) -> (PseudonymKey, [String; 2], String) {
        assert!(o.status.success(), "{}", stderr(o));
        let key = PseudonymKey::load(&self.key).unwrap();
        let ids = [
            pseudonymise(&key, "111222333"),
            pseudonymise(&key, "012345672"),
        ];
        let out = std::fs::read_to_string(self.p("out.csv")).unwrap();
        (key, ids, out)
    }

    fn pseudonymise(&self, extra: &[&str]) -> Output {
        let (input, output) = (self.p("in.csv"), self.p("out.csv"));
        let mut args = vec![
            "pseudonymise",
            "--key",
            s(&self.key),
            "--input",
            s(&input),
            "--output",
            s(&output),
            "--id-column",
            "bsn",
        ];
        args.extend_from_slice(extra);
        samen(&args)
    }
}

#[test]
fn keygen_writes_0600_refuses_overwrite_and_prints_no_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.key");
    let o = samen(&["keygen", "--domain", "cbs-2026", "--out", s(&path)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let key = PseudonymKey::load(&path).unwrap();
    assert_eq!((key.domain(), key.version()), ("cbs-2026", 1));
    let key_hex = hex::encode(key.secret_bytes());
    let err = stderr(&o);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(err.contains(&key.fingerprint()), "{err}");
    assert!(!err.contains(&key_hex) && !out.contains(&key_hex));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let before = std::fs::read(&path).unwrap();
    let o = samen(&["keygen", "--domain", "other", "--out", s(&path)]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&path).unwrap(), before);
    // Neither or both of --domain / --rotate is a usage error.
    let o = samen(&["keygen", "--out", s(&dir.path().join("x.key"))]);
    assert!(!o.status.success());
}

#[test]
fn pseudonymises_in_order_like_the_library() {
    let t = setup("bsn,region,value\n111222333,north,1\n 12345672,south,2\n111222333,east,3\n");
    let o = t.pseudonymise(&["--quiet"]);
    let (key, [a, b], out) = t.succeeded(&o);
    assert_eq!(
        out,
        format!("bsn,region,value\n{a},north,1\n{b},south,2\n{a},east,3\n")
    );
    let err = stderr(&o);
    assert!(err.contains(&key.fingerprint()), "{err}");
    assert!(
        !err.contains("111222333") && !err.contains("12345672"),
        "{err}"
    );
    assert_eq!(files_in(t.dir.path()), ["in.csv", "k.key", "out.csv"]);
}

#[test]
fn semicolon_files_keep_their_delimiter() {
    let t = setup("bsn;gemeente;bedrag\n111222333;Den Haag;1,5\n12345672;\"A;B\";2\n");
    let o = t.pseudonymise(&["--delimiter", ";", "--quiet"]);
    let (_, [a, b], out) = t.succeeded(&o);
    assert_eq!(
        out,
        format!("bsn;gemeente;bedrag\n{a};Den Haag;1,5\n{b};\"A;B\";2\n")
    );
    for bad in ["\"", ";;", "é"] {
        let o = t.pseudonymise(&["--delimiter", bad]);
        assert!(!o.status.success());
        assert!(stderr(&o).contains("--delimiter"), "{}", stderr(&o));
    }
}

#[test]
fn text_ids() {
    let t = setup("bsn,x\n user-1 ,1\nuser-2,2\n");
    let o = t.pseudonymise(&["--id-kind", "text"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let key = PseudonymKey::load(&t.key).unwrap();
    let out = std::fs::read_to_string(t.p("out.csv")).unwrap();
    assert_eq!(
        out,
        format!(
            "bsn,x\n{},1\n{},2\n",
            pseudonymise(&key, "user-1"),
            pseudonymise(&key, "user-2")
        )
    );
}

#[test]
fn fail_path_names_line_and_reason_and_leaves_nothing() {
    let mut csv = String::from("bsn,v\n");
    for i in 0..1000 {
        csv.push_str(if i == 700 {
            "111222334,1\n"
        } else {
            "111222333,1\n"
        });
    }
    let t = setup(&csv);
    let o = t.pseudonymise(&[]);
    t.fails_without_output(&o, &["line 702", "fails the 11-test"]);
    assert!(!stderr(&o).contains("111222334"), "{}", stderr(&o));
    // An existing output is left untouched on failure.
    std::fs::write(t.p("out.csv"), "old").unwrap();
    let o = t.pseudonymise(&[]);
    assert!(!o.status.success());
    assert_eq!(std::fs::read_to_string(t.p("out.csv")).unwrap(), "old");
    assert_eq!(files_in(t.dir.path()), ["in.csv", "k.key", "out.csv"]);
}

#[test]
fn drop_with_rejects() {
    let t = setup("bsn,v\n111222333,1\n1234567,2\n\n000000000,3\n12345672,4\n,5\n");
    let rej = t.p("rej.csv");
    let o = t.pseudonymise(&["--on-invalid", "drop", "--rejects", s(&rej)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let key = PseudonymKey::load(&t.key).unwrap();
    let out = std::fs::read_to_string(t.p("out.csv")).unwrap();
    assert_eq!(
        out,
        format!(
            "bsn,v\n{},1\n{},4\n",
            pseudonymise(&key, "111222333"),
            pseudonymise(&key, "012345672")
        )
    );
    let rejects = std::fs::read_to_string(&rej).unwrap();
    assert_eq!(
        rejects,
        "line,code,reason\n\
         3,wrong-length,BSN does not have 9 digits (or 8 with a dropped leading zero)\n\
         5,all-zeros,BSN is all zeros\n\
         7,empty,identifier is empty\n"
    );
    assert!(
        stderr(&o).contains("3 dropped as invalid"),
        "{}",
        stderr(&o)
    );
    // --rejects without drop is refused.
    let o = t.pseudonymise(&["--rejects", s(&rej)]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--on-invalid drop"), "{}", stderr(&o));
}

#[test]
fn rotation_adds_previous_column() {
    let t = setup("bsn,v\n111222333,1\n");
    let new_key = t.p("k2.key");
    let o = samen(&["keygen", "--rotate", s(&t.key), "--out", s(&new_key)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let old = PseudonymKey::load(&t.key).unwrap();
    let new = PseudonymKey::load(&new_key).unwrap();
    assert_eq!((new.domain(), new.version()), ("cbs-2026", 2));
    assert_ne!(new.fingerprint(), old.fingerprint());
    let output = t.p("out.csv");
    let o = samen(&[
        "pseudonymise",
        "--key",
        s(&new_key),
        "--previous-key",
        s(&t.key),
        "--input",
        s(&t.p("in.csv")),
        "--output",
        s(&output),
        "--id-column",
        "bsn",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = std::fs::read_to_string(&output).unwrap();
    assert_eq!(
        out,
        format!(
            "bsn,bsn_previous,v\n{},{},1\n",
            pseudonymise(&new, "111222333"),
            pseudonymise(&old, "111222333")
        )
    );
    // Rotating onto an existing file is refused.
    let o = samen(&["keygen", "--rotate", s(&t.key), "--out", s(&new_key)]);
    assert!(!o.status.success());
}

#[test]
fn missing_id_column() {
    let t = setup("id,v\n111222333,1\n");
    t.fails_without_output(
        &t.pseudonymise(&[]),
        &["\"bsn\" is not in the header", "id, v"],
    );
}

#[test]
fn malformed_csv() {
    let t = setup("bsn,v\n111222333,1\n111222333,1,extra\n");
    t.fails_without_output(&t.pseudonymise(&[]), &["malformed CSV", "line 3"]);
}

#[test]
fn unreadable_or_damaged_key_file() {
    let t = setup("bsn,v\n111222333,1\n");
    let missing = t.p("missing.key");
    let o = samen(&[
        "pseudonymise",
        "--key",
        s(&missing),
        "--input",
        s(&t.p("in.csv")),
        "--output",
        s(&t.p("out.csv")),
        "--id-column",
        "bsn",
    ]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("cannot read key file") && err.contains("missing.key"),
        "{err}"
    );

    let text = std::fs::read_to_string(&t.key).unwrap();
    let damaged = t.p("damaged.key");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for l in &mut lines {
        if l.starts_with("key = ") {
            // Flip the last hex digit.
            let last = if l.ends_with("0\"") { "1\"" } else { "0\"" };
            l.truncate(l.len() - 2);
            l.push_str(last);
        }
    }
    std::fs::write(&damaged, lines.join("\n")).unwrap();
    let run_damaged = || {
        samen(&[
            "pseudonymise",
            "--key",
            s(&damaged),
            "--input",
            s(&t.p("in.csv")),
            "--output",
            s(&t.p("out.csv")),
            "--id-column",
            "bsn",
        ])
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Written with the default mode (readable by others): refused before anything else.
        std::fs::set_permissions(&damaged, std::fs::Permissions::from_mode(0o644)).unwrap();
        let o = run_damaged();
        assert!(!o.status.success());
        let err = stderr(&o);
        assert!(
            err.contains(&format!("chmod 600 {}", damaged.display())),
            "{err}"
        );
        std::fs::set_permissions(&damaged, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let o = run_damaged();
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("damaged.key") && err.contains("does not match"),
        "{err}"
    );
    assert!(!t.p("out.csv").exists());
}

#[test]
fn missing_input_file() {
    let t = setup("bsn\n");
    let o = samen(&[
        "pseudonymise",
        "--key",
        s(&t.key),
        "--input",
        s(&t.p("nope.csv")),
        "--output",
        s(&t.p("out.csv")),
        "--id-column",
        "bsn",
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("nope.csv"), "{}", stderr(&o));
}
