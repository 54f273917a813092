use super::*;
use crate::pseudonym::pseudonymise;

fn key(b: u8, domain: &str) -> PseudonymKey {
    PseudonymKey::from_parts([b; 32], domain, 1, "2026-11-29T17:00:00Z").unwrap()
}

fn run(
    text: &str,
    opts: &BulkOptions,
    prev: Option<&PseudonymKey>,
) -> (Result<BulkSummary, BulkError>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    std::fs::write(&input, text).unwrap();
    let r = pseudonymise_csv(
        &input,
        &dir.path().join("out.csv"),
        &key(1, "d"),
        prev,
        opts,
        &mut |_| {},
    );
    (r, dir)
}

#[test]
fn semicolon_and_tab_delimiters_are_kept_in_the_output() {
    let k = key(1, "d");
    let (p1, p2) = (pseudonymise(&k, "111222333"), pseudonymise(&k, "012345672"));
    for d in [b';', b'\t'] {
        let c = char::from(d);
        // A comma is an ordinary character here; a field holding the delimiter is quoted.
        let text = format!("naam{c}bsn{c}noot\nx{c}111222333{c}a,b\ny{c}12345672{c}\"p{c}q\"\n");
        let mut opts = BulkOptions::new("bsn");
        opts.delimiter = d;
        let (r, dir) = run(&text, &opts, Some(&key(2, "d")));
        assert_eq!(r.unwrap().written, 2);
        let out = std::fs::read_to_string(dir.path().join("out.csv")).unwrap();
        let (q1, q2) = (
            pseudonymise(&key(2, "d"), "111222333"),
            pseudonymise(&key(2, "d"), "012345672"),
        );
        assert_eq!(
            out,
            format!(
                "naam{c}bsn{c}bsn_previous{c}noot\nx{c}{p1}{c}{q1}{c}a,b\ny{c}{p2}{c}{q2}{c}\"p{c}q\"\n"
            )
        );
    }
    // The same semicolon file read with the default delimiter has no column "bsn".
    let (r, _dir) = run("naam;bsn\nx;111222333\n", &BulkOptions::new("bsn"), None);
    assert!(matches!(r, Err(BulkError::MissingColumn { .. })));
    let mut opts = BulkOptions::new("bsn");
    opts.delimiter = b'"';
    let (r, _dir) = run("bsn\n111222333\n", &opts, None);
    assert!(matches!(r, Err(BulkError::Delimiter(_))));
}

#[test]
fn replaces_ids_in_order_and_keeps_other_fields() {
    let text =
        "name,bsn,note\nx,111222333,\"a,b\"\ny, 12345672 ,\"say \"\"hi\"\"\"\nz,111222333,\n";
    let mut opts = BulkOptions::new("bsn");
    opts.chunk_records = 2; // several chunks
    let (r, dir) = run(text, &opts, None);
    let s = r.unwrap();
    assert_eq!((s.rows, s.written, s.rejected), (3, 3, 0));
    let out = std::fs::read_to_string(dir.path().join("out.csv")).unwrap();
    let k = key(1, "d");
    let p1 = pseudonymise(&k, "111222333");
    let p2 = pseudonymise(&k, "012345672");
    assert_eq!(
        out,
        format!("name,bsn,note\nx,{p1},\"a,b\"\ny,{p2},\"say \"\"hi\"\"\"\nz,{p1},\n")
    );
}

#[test]
fn fail_reports_first_invalid_line_and_leaves_nothing() {
    let mut text = String::from("bsn,v\n");
    for i in 0..5000 {
        text.push_str(if i == 3000 || i == 4000 {
            "123456789,1\n"
        } else {
            "111222333,1\n"
        });
    }
    let mut opts = BulkOptions::new("bsn");
    opts.chunk_records = 1000;
    let (r, dir) = run(&text, &opts, None);
    match r {
        Err(BulkError::Invalid { line, reason }) => {
            assert_eq!(line, 3002);
            assert_eq!(reason, InvalidId::Fails11Test);
        }
        other => panic!("{other:?}"),
    }
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("in.csv")]);
}

#[test]
fn drop_writes_rejects_without_identifiers() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    std::fs::write(&input, "bsn\n111222333\n\"12345\n678\"\nabc\n12345672\n").unwrap();
    let mut opts = BulkOptions::new("bsn");
    opts.on_invalid = OnInvalid::Drop;
    opts.rejects = Some(dir.path().join("rej.csv"));
    let s = pseudonymise_csv(
        &input,
        &dir.path().join("out.csv"),
        &key(1, "d"),
        None,
        &opts,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!((s.rows, s.written, s.rejected), (4, 2, 2));
    let rej = std::fs::read_to_string(dir.path().join("rej.csv")).unwrap();
    assert_eq!(
        rej,
        "line,code,reason\n3,non-digit,BSN contains a character that is not a digit\n5,non-digit,BSN contains a character that is not a digit\n"
    );
    let out = std::fs::read_to_string(dir.path().join("out.csv")).unwrap();
    assert_eq!(out.lines().count(), 3);
}

fn reject_lines(text: &str) -> Vec<u64> {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    std::fs::write(&input, text).unwrap();
    let mut opts = BulkOptions::new("bsn");
    opts.on_invalid = OnInvalid::Drop;
    opts.rejects = Some(dir.path().join("rej.csv"));
    opts.chunk_records = 2;
    pseudonymise_csv(
        &input,
        &dir.path().join("out.csv"),
        &key(1, "d"),
        None,
        &opts,
        &mut |_| {},
    )
    .unwrap();
    std::fs::read_to_string(dir.path().join("rej.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect()
}

#[test]
fn line_numbers_are_physical_lines() {
    // Blank lines, quoted line breaks, CRLF and a missing final newline.
    let lf = "bsn,x\n\nbad,1\n111222333,\"a\nb\"\n\n\nbad,2\n\"bad\nbad\",3\nbad,4";
    assert_eq!(reject_lines(lf), vec![3, 8, 9, 11]);
    let crlf = lf.replace('\n', "\r\n");
    assert_eq!(reject_lines(&crlf), vec![3, 8, 9, 11]);
    let crlf_end = format!("{crlf}\r\n\r\n");
    assert_eq!(reject_lines(&crlf_end), vec![3, 8, 9, 11]);
    let blank_start = format!("\n\n{lf}");
    assert_eq!(reject_lines(&blank_start), vec![5, 10, 11, 13]);
}

#[test]
fn previous_key_column() {
    let prev = key(2, "d");
    let (r, dir) = run(
        "a,bsn\n1,111222333\n",
        &BulkOptions::new("bsn"),
        Some(&prev),
    );
    let s = r.unwrap();
    assert!(s.previous_fingerprint.is_some());
    let out = std::fs::read_to_string(dir.path().join("out.csv")).unwrap();
    assert_eq!(
        out,
        format!(
            "a,bsn,bsn_previous\n1,{},{}\n",
            pseudonymise(&key(1, "d"), "111222333"),
            pseudonymise(&prev, "111222333")
        )
    );
}

#[test]
fn header_errors() {
    let (r, _d) = run("", &BulkOptions::new("bsn"), None);
    assert!(matches!(r, Err(BulkError::NoHeader { .. })));
    let (r, _d) = run("id,x\n1,2\n", &BulkOptions::new("bsn"), None);
    let e = r.unwrap_err();
    assert!(matches!(e, BulkError::MissingColumn { .. }));
    assert!(e.to_string().contains("id, x"), "{e}");
    let (r, _d) = run("bsn,bsn\n1,2\n", &BulkOptions::new("bsn"), None);
    assert!(matches!(r, Err(BulkError::DuplicateColumn { .. })));
    let prev = key(2, "d");
    let (r, _d) = run(
        "bsn,bsn_previous\n1,2\n",
        &BulkOptions::new("bsn"),
        Some(&prev),
    );
    assert!(matches!(r, Err(BulkError::ColumnExists { .. })));
}

#[test]
fn malformed_rows_name_the_line() {
    let (r, dir) = run(
        "bsn,x\n111222333,1\n111222333\n",
        &BulkOptions::new("bsn"),
        None,
    );
    match r {
        Err(BulkError::Malformed { line, .. }) => assert_eq!(line, 3),
        other => panic!("{other:?}"),
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn bom_and_crlf() {
    let (r, dir) = run(
        "\u{feff}bsn,x\r\n111222333,1\r\n",
        &BulkOptions::new("bsn"),
        None,
    );
    r.unwrap();
    let out = std::fs::read_to_string(dir.path().join("out.csv")).unwrap();
    assert!(out.starts_with("bsn,x\n"), "{out:?}");
    assert!(out.ends_with(",1\n"));
}

#[test]
fn header_only_and_progress() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    let mut text = String::from("bsn\n");
    for _ in 0..10 {
        text.push_str("111222333\n");
    }
    std::fs::write(&input, &text).unwrap();
    let mut opts = BulkOptions::new("bsn");
    opts.chunk_records = 3;
    let mut seen = Vec::new();
    pseudonymise_csv(
        &input,
        &dir.path().join("o.csv"),
        &key(1, "d"),
        None,
        &opts,
        &mut |p| seen.push(p.rows),
    )
    .unwrap();
    assert_eq!(seen, vec![3, 6, 9, 10]);
    std::fs::write(&input, "bsn\n").unwrap();
    let s = pseudonymise_csv(
        &input,
        &dir.path().join("o.csv"),
        &key(1, "d"),
        None,
        &opts,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(s.rows, 0);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("o.csv")).unwrap(),
        "bsn\n"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]
    /// Arbitrary other fields (quotes, commas, line breaks) survive unchanged, the id field
    /// becomes its pseudonym, and the order is kept.
    #[test]
    fn other_fields_round_trip(
        rows in proptest::collection::vec(
            (0u64..1_000_000, "[a-z,\"\n\r ]{0,6}", "[0-9x\" ]{0,4}"),
            0..40,
        ),
        chunk in 1usize..8,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let (input, output) = (dir.path().join("in.csv"), dir.path().join("out.csv"));
        let mut w = csv::WriterBuilder::new().from_path(&input).unwrap();
        w.write_record(["a", "bsn", "b"]).unwrap();
        let mut ids = Vec::new();
        for (i, a, b) in &rows {
            let id = crate::normalise::bsn_from_index(*i).unwrap();
            w.write_record([a.as_str(), id.as_str(), b.as_str()]).unwrap();
            ids.push(id);
        }
        w.flush().unwrap();
        drop(w);
        let mut opts = BulkOptions::new("bsn");
        opts.chunk_records = chunk;
        let k = key(3, "d");
        let s = pseudonymise_csv(&input, &output, &k, None, &opts, &mut |_| {}).unwrap();
        proptest::prop_assert_eq!(s.written, rows.len() as u64);
        let mut r = csv::ReaderBuilder::new().from_path(&output).unwrap();
        let got: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
        proptest::prop_assert_eq!(got.len(), rows.len());
        for ((rec, (_, a, b)), id) in got.iter().zip(&rows).zip(&ids) {
            proptest::prop_assert_eq!(&rec[0], a.as_str());
            let want = pseudonymise(&k, id);
            proptest::prop_assert_eq!(&rec[1], want.as_str());
            proptest::prop_assert_eq!(&rec[2], b.as_str());
        }
    }
}

#[test]
fn refuses_to_overwrite_input() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    std::fs::write(&input, "bsn\n111222333\n").unwrap();
    let r = pseudonymise_csv(
        &input,
        &input,
        &key(1, "d"),
        None,
        &BulkOptions::new("bsn"),
        &mut |_| {},
    );
    assert!(matches!(r, Err(BulkError::SameFile { .. })));
}
