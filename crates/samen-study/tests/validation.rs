//! Bad study files and bad inputs are rejected with messages that say what to fix, and never
//! contain an identifier.
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::{output, study_header};
use samen_study::input::{read_csv, InputError};
use samen_study::spec::{SpecError, Study};

fn study() -> Study {
    let head = samen_testkit::study_head("v", None, [("alpha", 1), ("beta", 2)], ("helper", 3));
    let text = head
        + r#"
[tables.ta]
party = "alpha"
id = { column = "bsn", kind = "bsn" }
columns.ca = { kind = "category", levels = ["a0", "a1"] }
columns.va = { kind = "integer", min = -10, max = 10 }
[tables.tb]
party = "beta"
id = { column = "key", kind = "text" }
[[outputs]]
name = "n"
statistic = "count"
by = ["ta.ca"]
"#;
    Study::from_toml_str(&text).unwrap()
}

fn csv_error(body: &str) -> (InputError, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("register.csv");
    std::fs::write(&path, body).unwrap();
    let e = read_csv(&study(), "ta", &path).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("register.csv"), "{msg}");
    (e, msg)
}

const GOOD1: &str = "111222333";
const GOOD2: &str = "123456782";

#[test]
fn a_valid_file_is_encoded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ok.csv");
    std::fs::write(
        &path,
        format!("va,other,bsn,ca\n-10,x,{GOOD1},a1\n10,y, {GOOD2} ,a0\n"),
    )
    .unwrap();
    let t = read_csv(&study(), "ta", &path).unwrap();
    assert_eq!(t.ids, vec![GOOD1.to_string(), GOOD2.to_string()]);
    assert_eq!(
        t.columns["ca"],
        samen_study::input::ColumnData::Category(vec![1, 0])
    );
    assert_eq!(
        t.columns["va"],
        samen_study::input::ColumnData::Integer(vec![-10, 10])
    );
}

#[test]
fn invalid_identifier() {
    let (e, msg) = csv_error(&format!("bsn,ca,va\n{GOOD1},a0,1\n123456789,a0,1\n"));
    assert!(matches!(e, InputError::InvalidId { line: 3, .. }), "{msg}");
    assert!(
        msg.contains("line 3") && msg.contains("'bsn'") && !msg.contains("123456789"),
        "{msg}"
    );
}

#[test]
fn duplicated_identifier_after_normalisation() {
    // 012345672 and 12345672 are the same BSN.
    let (e, msg) = csv_error("bsn,ca,va\n012345672,a0,1\n111222333,a1,2\n12345672,a0,1\n");
    assert!(
        matches!(
            e,
            InputError::DuplicateId {
                line: 4,
                first_line: 2,
                ..
            }
        ),
        "{msg}"
    );
    assert!(!msg.contains("12345672"), "{msg}");
}

#[test]
fn unknown_level() {
    let (e, msg) = csv_error(&format!("bsn,ca,va\n{GOOD1},a2,1\n"));
    assert!(
        matches!(e, InputError::UnknownLevel { line: 2, .. }),
        "{msg}"
    );
    assert!(msg.contains("'ca'") && !msg.contains(GOOD1), "{msg}");
}

#[test]
fn integer_out_of_range_or_not_an_integer() {
    let (e, msg) = csv_error(&format!("bsn,ca,va\n{GOOD1},a0,11\n"));
    assert!(
        matches!(
            e,
            InputError::OutOfRange {
                line: 2,
                min: -10,
                max: 10,
                ..
            }
        ),
        "{msg}"
    );
    assert!(msg.contains("'va'"), "{msg}");
    let (e, msg) = csv_error(&format!("bsn,ca,va\n{GOOD1},a0,-11\n"));
    assert!(matches!(e, InputError::OutOfRange { .. }), "{msg}");
    let (e, msg) = csv_error(&format!("bsn,ca,va\n{GOOD1},a0,1.5\n"));
    assert!(matches!(e, InputError::NotInteger { line: 2, .. }), "{msg}");
    let (e, _) = csv_error(&format!("bsn,ca,va\n{GOOD1},a0,\n"));
    assert!(matches!(e, InputError::NotInteger { .. }));
}

#[test]
fn missing_column() {
    let (e, msg) = csv_error(&format!("bsn,va\n{GOOD1},1\n"));
    assert!(matches!(e, InputError::MissingColumn { .. }), "{msg}");
    assert!(msg.contains("'ca'") && msg.contains("line 1"), "{msg}");
    let (e, msg) = csv_error("id,ca,va\n");
    assert!(
        matches!(e, InputError::MissingColumn { .. }) && msg.contains("'bsn'"),
        "{msg}"
    );
}

#[test]
fn malformed_row_and_physical_lines() {
    let (e, msg) = csv_error(&format!("bsn,ca,va\n{GOOD1},a0,1\n{GOOD2},a0\n"));
    assert!(matches!(e, InputError::Csv { line: 3, .. }), "{msg}");
    // A quoted field spanning two lines: the error on the next record names its physical line.
    let (e, msg) = csv_error(&format!(
        "bsn,ca,va\n{GOOD1},\"a0\",\"1\"\n\"{GOOD2}\",a0,\"x\ny\"\n111222333,a9,1\n"
    ));
    let lines: Vec<(u64, bool)> = e
        .problems()
        .iter()
        .map(|p| {
            (
                p.line().unwrap(),
                matches!(p, InputError::NotInteger { .. }),
            )
        })
        .collect();
    assert_eq!(lines, vec![(3, true), (5, false)], "{msg}");
}

#[test]
fn a_file_with_several_bad_rows_reports_them_all() {
    // Bad rows on lines 3, 5, 6 (two problems) and 8; a repeat on line 9 of line 2.
    let bsn = |i| samen_pseudonym::normalise::bsn_from_index(i).unwrap();
    let (b5, b6, b7, b8) = (bsn(5), bsn(6), bsn(7), bsn(8));
    let body = format!(
        "bsn,ca,va\n{GOOD1},a0,1\n123456789,a0,1\n{GOOD2},a1,2\n{b5},a7,3\n\
         {b6},a9,x\n{b7},a0,4\n{b8},a0,11\n {GOOD1},a1,0\n"
    );
    let (e, msg) = csv_error(&body);
    let InputError::Many { total, errors, .. } = &e else {
        panic!("{msg}");
    };
    assert_eq!(*total, 6, "{msg}");
    let lines: Vec<u64> = errors.iter().map(|p| p.line().unwrap()).collect();
    assert_eq!(lines, vec![3, 5, 6, 6, 8, 9], "{msg}");
    for (line, column) in [
        (3, "bsn"),
        (5, "ca"),
        (6, "ca"),
        (6, "va"),
        (8, "va"),
        (9, "bsn"),
    ] {
        assert!(
            msg.contains(&format!("line {line}, column '{column}'")),
            "line {line} {column}: {msg}"
        );
    }
    assert!(msg.contains("6 problems"), "{msg}");
    // Never an identifier.
    for id in [GOOD1, "123456789", &b5, &b6, &b8] {
        assert!(!msg.contains(id), "{msg}");
    }
}

/// The physical line an error names, for `body` in LF form, CRLF form and CRLF with trailing
/// blank lines (all must agree).
fn error_line_lf_and_crlf(body: &str) -> (InputError, u64) {
    let mut lines = Vec::new();
    let mut first = None;
    let crlf = body.replace('\n', "\r\n");
    for text in [body.to_string(), crlf.clone(), format!("{crlf}\r\n\r\n")] {
        let (e, msg) = csv_error(&text);
        let line = match &e {
            InputError::InvalidId { line, .. }
            | InputError::DuplicateId { line, .. }
            | InputError::UnknownLevel { line, .. }
            | InputError::NotInteger { line, .. }
            | InputError::OutOfRange { line, .. }
            | InputError::Csv { line, .. } => *line,
            other => panic!("unexpected error {other:?}"),
        };
        assert!(msg.contains(&format!("line {line}")), "{msg}");
        lines.push(line);
        first.get_or_insert(e);
    }
    assert!(lines.iter().all(|&l| l == lines[0]), "{lines:?}");
    (first.unwrap(), lines[0])
}

#[test]
fn lf_and_crlf_files_report_the_same_physical_lines() {
    // Line 1 header, lines 2-3 a record with a quoted two-line field, line 4 blank, line 5 a good
    // record, line 6 the bad one.
    let head = format!("bsn,ca,va,note\n{GOOD1},a0,1,\"x\ny\"\n\n{GOOD2},a1,2,plain\n");
    let (e, line) = error_line_lf_and_crlf(&format!("{head}123456789,a0,1,z\n"));
    assert!(matches!(e, InputError::InvalidId { .. }), "{e}");
    assert_eq!(line, 6);
    let (e, line) = error_line_lf_and_crlf(&format!("{head}012345672,a9,1,z\n"));
    assert!(matches!(e, InputError::UnknownLevel { .. }), "{e}");
    assert_eq!(line, 6);
    let (e, line) = error_line_lf_and_crlf(&format!("{head}012345672,a0,99,z\n"));
    assert!(matches!(e, InputError::OutOfRange { .. }), "{e}");
    assert_eq!(line, 6);
    let (e, line) = error_line_lf_and_crlf(&format!("{head}012345672,a0\n"));
    assert!(matches!(e, InputError::Csv { .. }), "{e}");
    assert_eq!(line, 6);
    // The bad record itself spans lines: it is reported where it starts.
    let (e, line) = error_line_lf_and_crlf(&format!("{head}\"012\n345\",a0,1,z\n"));
    assert!(matches!(e, InputError::InvalidId { .. }), "{e}");
    assert_eq!(line, 6);
    // A duplicate of the record on line 5 (same BSN after normalisation), one more blank line.
    let (e, line) = error_line_lf_and_crlf(&format!("{head}\n  {GOOD2} ,a0,1,z\n"));
    assert_eq!(line, 7);
    match e {
        InputError::DuplicateId {
            line, first_line, ..
        } => assert_eq!((line, first_line), (7, 5)),
        other => panic!("{other:?}"),
    }
    let (_, msg) = csv_error(&format!("{head}\n  {GOOD2} ,a0,1,z\n").replace('\n', "\r\n"));
    assert!(
        msg.contains("line 7") && msg.contains("on line 5") && !msg.contains(GOOD2),
        "{msg}"
    );
}

#[test]
fn semicolon_and_tab_files_with_a_declared_delimiter() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ok.csv");
    for (decl, d) in [("\";\"", ';'), ("\"tab\"", '\t')] {
        let text = (base() + &output("n", "count", None, &["ta.ca"], 10)).replace(
            "party = \"alpha\"\n",
            &format!("party = \"alpha\"\ndelimiter = {decl}\n"),
        );
        let study = Study::from_toml_str(&text).unwrap();
        // A comma is an ordinary character in a semicolon or tab file.
        std::fs::write(
            &path,
            format!("id{d}ca{d}cb{d}va\nx,1{d}a2{d}b0{d}3\ny{d}a0{d}b1{d}5\n"),
        )
        .unwrap();
        let t = read_csv(&study, "ta", &path).unwrap();
        assert_eq!(t.ids, vec!["x,1".to_string(), "y".to_string()]);
        assert_eq!(
            t.columns["ca"],
            samen_study::input::ColumnData::Category(vec![2, 0])
        );
        // The other table keeps the default comma.
        assert_eq!(study.table_of("beta").unwrap().delimiter, b',');
    }
    // Read with the default delimiter, the same semicolon file lacks the column "bsn".
    std::fs::write(&path, format!("bsn;ca\n{GOOD1};a1\n")).unwrap();
    let e = read_csv(&study(), "ta", &path).unwrap_err().to_string();
    assert!(e.contains("bsn"), "{e}");
}

fn spec_err(text: &str) -> String {
    match Study::from_toml_str(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

fn base() -> String {
    study_header(0, 10, -5, 5)
}

#[test]
fn bad_study_files() {
    let good = base() + &output("n", "count", None, &["ta.ca"], 10);
    assert!(Study::from_toml_str(&good).is_ok());

    let cases: Vec<(String, &str)> = vec![
        (
            good.replace("[study]\n", "[study]\ncolour = \"red\"\n"),
            "colour",
        ),
        (
            good.replace(
                "party = \"alpha\"\n",
                "party = \"alpha\"\ndelimiter = \";;\"\n",
            ),
            "delimiter",
        ),
        (
            good.replace(
                "party = \"alpha\"\n",
                "party = \"alpha\"\ndelimiter = '\"'\n",
            ),
            "delimiter",
        ),
        (good.replace("role = \"helper\"\n", ""), "helper"),
        (
            good.replace(
                "[parties.beta]\naddress = \"127.0.0.1:2\"\n",
                "[parties.beta]\naddress = \"127.0.0.1:2\"\nrole = \"helper\"\n",
            ),
            "helper",
        ),
        (
            good.replace("party = \"beta\"", "party = \"alpha\""),
            "alpha",
        ),
        (
            good.replace("party = \"beta\"", "party = \"helper\""),
            "helper",
        ),
        (
            good.replace("party = \"beta\"", "party = \"gamma\""),
            "gamma",
        ),
        (
            good.replace("levels = [\"c0\", \"c1\"]", "levels = [\"c0\", \"c0\"]"),
            "twice",
        ),
        (
            good.replace("min = -5, max = 5", "min = 5, max = -5"),
            "min",
        ),
        (good.replace("kind = \"text\"", "kind = \"email\""), "email"),
        (
            good.replace("statistic = \"count\"", "statistic = \"median\""),
            "median",
        ),
        (
            base() + &output("n", "count", None, &["ta.nope"], 10),
            "ta.nope",
        ),
        (
            base() + &output("n", "count", None, &["ta.va"], 10),
            "integer",
        ),
        (
            base() + &output("n", "count", None, &["ta.ca", "ta.cb", "tb.cc"], 10),
            "at most 2",
        ),
        (base() + &output("n", "mean", None, &[], 10), "of"),
        (
            base() + &output("n", "mean", Some("ta.ca"), &[], 10),
            "integer",
        ),
        (base() + &output("n", "count", Some("ta.va"), &[], 10), "of"),
        (
            base() + &output("n", "sum", Some("tc.va"), &[], 10),
            "tc.va",
        ),
        (base() + &output("../etc", "count", None, &[], 10), "../etc"),
        (base() + &output("a/b", "count", None, &[], 10), "a/b"),
        (
            base() + &output("x", "count", None, &[], 1) + &output("x", "count", None, &[], 1),
            "same name",
        ),
        (base(), "no outputs"),
        (good.replace("address = \"127.0.0.1:1\"\n", ""), "address"),
        ("not toml at all [".to_string(), "valid"),
    ];
    for (text, needle) in cases {
        let msg = spec_err(&text);
        assert!(msg.contains(needle), "expected '{needle}' in: {msg}");
    }
}

#[test]
fn study_hash_is_sha256_of_the_bytes() {
    use sha2::Digest;
    let text = base() + &output("n", "count", None, &[], 10);
    let s = Study::from_toml_str(&text).unwrap();
    let expected: [u8; 32] = sha2::Sha256::digest(text.as_bytes()).into();
    assert_eq!(s.hash(), expected);
    let s2 = Study::from_toml_str(&(text.clone() + "\n")).unwrap();
    assert_ne!(s.hash(), s2.hash());
    assert!(matches!(
        Study::load(std::path::Path::new("/nonexistent/study.toml")),
        Err(SpecError::Read { .. })
    ));
}

/// A study with a register (household, income) and a usage table (logins), and outputs given
/// as text.
fn study_with_outputs(outputs: &str) -> String {
    samen_testkit::study_head(
        "typos",
        None,
        [("bureau", 1), ("portal", 2)],
        ("trustee", 3),
    ) + r#"
[tables.register]
party = "bureau"
id = { column = "bsn", kind = "bsn" }
columns.household = { kind = "category", levels = ["single", "couple"] }
columns.income = { kind = "integer", min = 0, max = 100000 }

[tables.usage]
party = "portal"
id = { column = "bsn", kind = "bsn" }
columns.logins = { kind = "integer", min = 0, max = 500 }
"# + outputs
}

/// The line of the first occurrence of `needle` in `text` (first line = 1).
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn a_study_file_with_two_typos_reports_both_with_lines_and_suggestions() {
    let text = study_with_outputs(
        r#"
[[outputs]]
name = "mean_logins"
statistic = "mean"
of = "usage.logins"
by = ["register.houshold"]

[[outputs]]
name = "users"
statistic = "count"
by = ["register.household"]
min_cel = 5

[[outputs]]
name = "income"
statistic = "meen"
of = "register.income"
"#,
    );
    let e = Study::from_toml_str(&text).unwrap_err();
    let SpecError::Problems { problems, .. } = &e else {
        panic!("{e}");
    };
    let msg = e.to_string();
    assert_eq!(problems.len(), 3, "{msg}");
    let got: Vec<(usize, Option<&str>)> = problems
        .iter()
        .map(|p| (p.line, p.suggestion.as_deref()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                line_of(&text, "register.houshold"),
                Some("register.household")
            ),
            (line_of(&text, "min_cel"), Some("min_cell")),
            (line_of(&text, "\"meen\""), Some("mean")),
        ],
        "{msg}"
    );
    // Columns point at the misspelt text itself.
    let line = text.lines().nth(problems[0].line - 1).unwrap();
    assert_eq!(
        line.chars()
            .skip(problems[0].column - 1)
            .take(18)
            .collect::<String>(),
        "\"register.houshold"
    );
    assert!(msg.contains("3 problems"), "{msg}");
    assert!(msg.contains("did you mean 'register.household'?"), "{msg}");
    assert!(msg.contains("did you mean 'min_cell'?"), "{msg}");
    assert!(msg.contains("did you mean 'mean'?"), "{msg}");
}

#[test]
fn every_output_with_a_problem_is_reported() {
    // Two outputs the validation refuses (no typo: a value column that is a category, grouping
    // by an integer column), and one with a misspelt column used twice.
    let text = study_with_outputs(
        r#"
[[outputs]]
name = "bad_sum"
statistic = "sum"
of = "register.household"

[[outputs]]
name = "bad_by"
statistic = "count"
by = ["register.income"]

[[outputs]]
name = "fine"
statistic = "count"

[[outputs]]
name = "typo"
statistic = "covariance"
of = ["usage.login", "usage.login"]
"#,
    );
    let e = Study::from_toml_str(&text).unwrap_err();
    let SpecError::Problems { problems, .. } = &e else {
        panic!("{e}");
    };
    let msg = e.to_string();
    let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
    let typo = line_of(&text, "usage.login\"");
    assert_eq!(
        lines,
        vec![
            line_of(&text, "\"bad_sum\""),
            line_of(&text, "\"bad_by\""),
            typo,
            typo
        ],
        "{msg}"
    );
    assert!(problems[0].message.contains("bad_sum"), "{msg}");
    assert!(problems[1].message.contains("bad_by"), "{msg}");
    assert_eq!(
        problems[3].suggestion.as_deref(),
        Some("usage.logins"),
        "{msg}"
    );
}

#[test]
fn study_file_syntax_errors_and_unknown_tables_carry_their_place() {
    let text = study_with_outputs("[[outputs]]\nname = \"n\"\nstatistic = \"count\"\n")
        .replace("party = \"portal\"", "party = \"portl\"")
        .replace("[study]\nname", "[studdy]\nname");
    let e = Study::from_toml_str(&text).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("line 1, column 2: unknown key 'studdy'"),
        "{msg}"
    );
    assert!(msg.contains("did you mean 'study'?"), "{msg}");
    assert!(
        msg.contains("party 'portl' is not declared; did you mean 'portal'?"),
        "{msg}"
    );
    let e = Study::from_toml_str("[study]\nname = \"x\"\nbroken = [\n").unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("line 3") || msg.contains("line 4"), "{msg}");
}
