use super::text::rfc3339_from_unix;
use super::*;

fn sample() -> PseudonymKey {
    let mut b = [0u8; 32];
    for (i, x) in b.iter_mut().enumerate() {
        *x = i as u8;
    }
    PseudonymKey::from_parts(b, "cbs-2026", 1, "2026-11-29T17:00:00Z").unwrap()
}

#[test]
fn fingerprint_matches_python() {
    // python3 -c 'import hashlib; print(hashlib.sha256(bytes(range(32))).hexdigest()[:16])'
    assert_eq!(sample().fingerprint(), "630dcd2966c43366");
}

#[test]
fn toml_round_trip() {
    let k = sample();
    let text = k.to_toml();
    assert!(
        text.contains("key = \"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\"")
    );
    let back = PseudonymKey::from_toml(&text, Path::new("k.toml")).unwrap();
    assert!(bool::from(back.ct_eq(&k)));
    assert_eq!(back.created(), k.created());
}

#[test]
fn debug_is_redacted() {
    let d = format!("{:?}", sample());
    assert!(!d.contains("000102"), "{d}");
    assert!(d.contains("630dcd2966c43366"));
}

#[test]
fn generated_keys_differ() {
    let a = PseudonymKey::generate("d").unwrap();
    let b = PseudonymKey::generate("d").unwrap();
    assert!(!bool::from(a.ct_eq(&b)));
    assert_eq!(a.version(), 1);
    assert!(is_rfc3339_utc(a.created()), "{}", a.created());
}

#[test]
fn rotation() {
    let k = sample();
    let r = k.rotate().unwrap();
    assert_eq!(r.domain(), "cbs-2026");
    assert_eq!(r.version(), 2);
    assert_ne!(r.secret_bytes(), k.secret_bytes());
    let top = PseudonymKey::from_parts([1; 32], "d", u32::MAX, "2026-01-01T00:00:00Z").unwrap();
    assert!(matches!(top.rotate(), Err(KeyError::VersionOverflow(_))));
}

#[test]
fn bad_domains() {
    for d in ["", "a b", "a\0b", "ü", &"x".repeat(65)] {
        assert!(PseudonymKey::generate(d).is_err(), "{d:?}");
    }
    assert!(PseudonymKey::generate(&"x".repeat(64)).is_ok());
}

fn load_err(text: &str) -> String {
    PseudonymKey::from_toml(text, Path::new("/keys/x.key"))
        .unwrap_err()
        .to_string()
}

#[test]
fn load_rejects_damaged_files() {
    let good = sample().to_toml().to_string();
    let key_hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    // Upper-case hex.
    let e = load_err(&good.replace(key_hex, &key_hex.to_uppercase()));
    assert!(
        e.contains("/keys/x.key") && e.contains("lowercase hex"),
        "{e}"
    );
    // Wrong length.
    let e = load_err(&good.replace(key_hex, &key_hex[..62]));
    assert!(e.contains("64 lowercase hex"), "{e}");
    // Not hex.
    let e = load_err(&good.replace(key_hex, &key_hex.replace('0', "g")));
    assert!(e.contains("only lowercase hex"), "{e}");
    // One key byte changed: fingerprint mismatch.
    let e = load_err(&good.replace("1f\"", "1e\""));
    assert!(
        e.contains("fingerprint 630dcd2966c43366 does not match"),
        "{e}"
    );
    assert!(!e.contains(&key_hex[..20]), "{e}");
    // Missing field, unknown field, bad version, bad created, syntax.
    let e = load_err(&good.replace("domain = \"cbs-2026\"\n", ""));
    assert!(e.contains("`domain` is missing"), "{e}");
    let e = load_err(&format!("{good}kye = 1\n"));
    assert!(e.contains("unknown field `kye`"), "{e}");
    let e = load_err(&good.replace("version = 1", "version = 0"));
    assert!(e.contains("`version`"), "{e}");
    let e = load_err(&good.replace("2026-11-29T17:00:00Z", "yesterday"));
    assert!(e.contains("`created`"), "{e}");
    let e = load_err(&good.replace("key = \"", "key = "));
    assert!(e.contains("not valid TOML") && e.contains("line 7"), "{e}");
    assert!(!e.contains(&key_hex[..20]), "{e}");
    let e = load_err(&good.replace(&format!("\"{key_hex}\""), "12345"));
    assert!(e.contains("`key` must be a string"), "{e}");
    assert!(!e.contains("12345"), "{e}");
}

#[test]
fn write_mode_and_no_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("k.key");
    let k = sample();
    k.write_new(&p).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let before = std::fs::read(&p).unwrap();
    let other = PseudonymKey::generate("cbs-2026").unwrap();
    assert!(matches!(
        other.write_new(&p),
        Err(KeyError::AlreadyExists { .. })
    ));
    assert_eq!(std::fs::read(&p).unwrap(), before);
    // No temporary files left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    let back = PseudonymKey::load(&p).unwrap();
    assert!(bool::from(back.ct_eq(&k)));
    let e = PseudonymKey::load(&dir.path().join("missing.key")).unwrap_err();
    assert!(e.to_string().contains("missing.key"));
}

#[cfg(unix)]
#[test]
fn key_files_readable_by_group_or_others_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("k.key");
    sample().write_new(&p).unwrap();
    for mode in [0o644, 0o640, 0o604, 0o660, 0o601] {
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        let e = PseudonymKey::load(&p).unwrap_err();
        match &e {
            KeyError::Shared { path, mode: m } => {
                assert_eq!((path.as_path(), *m), (p.as_path(), mode));
            }
            other => panic!("{other:?}"),
        }
        let msg = e.to_string();
        assert!(
            msg.contains(&format!("chmod 600 {}", p.display()))
                && msg.contains(&format!("{mode:o}")),
            "{msg}"
        );
    }
    for mode in [0o600, 0o400] {
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        assert!(PseudonymKey::load(&p).is_ok(), "{mode:o}");
    }
}

#[test]
fn time_formatting() {
    assert_eq!(rfc3339_from_unix(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339_from_unix(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(rfc3339_from_unix(1_798_761_599), "2026-12-31T23:59:59Z");
}
