//! The synthetic register and usage log.
#![expect(
    clippy::indexing_slicing,
    reason = "synthetic data: every index is drawn below the length of the table it indexes \
              (category tables, CDFs, digit buffers), never from input"
)]

use super::*;

/// One resident of the register.
pub(super) struct Resident {
    pub(super) bsn: u32,
    pub(super) province: u8,
    pub(super) household: u8,
    pub(super) age: u8,
    pub(super) income: u32,
}

/// Generate the data set of `cfg` into `dir` (created if missing).
pub fn generate(cfg: &SynthConfig, dir: &Path) -> Result<SynthSummary, SynthError> {
    if cfg.residents > MAX_RESIDENTS {
        return Err(SynthError::Size(format!(
            "--residents {} is too large: at most {MAX_RESIDENTS} are supported",
            cfg.residents
        )));
    }
    let in_register = ((cfg.users as f64) * USERS_IN_REGISTER).round() as usize;
    let in_register = in_register.min(cfg.residents).min(cfg.users);
    let outsiders = cfg.users - in_register;
    if cfg.residents + outsiders > MAX_RESIDENTS {
        return Err(SynthError::Size(format!(
            "--users {} is too large for {} residents: at most {} distinct BSNs are supported",
            cfg.users, cfg.residents, MAX_RESIDENTS
        )));
    }
    std::fs::create_dir_all(dir).map_err(|source| SynthError::Io {
        path: dir.to_path_buf(),
        source,
    })?;

    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let bsns = distinct_bsns(&mut rng, cfg.residents + outsiders);
    let (register_bsns, outsider_bsns) = bsns.split_at(cfg.residents);

    let province_cdf = cdf(&PROVINCES);
    let household_cdf = cdf(&HOUSEHOLDS);
    let age_cdf = cdf(&AGE_BANDS);
    let residents: Vec<Resident> = register_bsns
        .iter()
        .map(|&bsn| {
            let province = pick(&mut rng, &province_cdf);
            let household = pick(&mut rng, &household_cdf);
            let age = pick(&mut rng, &age_cdf);
            let income = income(&mut rng, age);
            Resident {
                bsn,
                province,
                household,
                age,
                income,
            }
        })
        .collect();

    // Usage rows: `in_register` distinct residents (partial Fisher-Yates) and the outsiders,
    // shuffled together. Each row is (bsn, age band, household) — the latter two drive the
    // channel and the login count; outsiders get them at random.
    let mut order: Vec<u32> = (0..cfg.residents as u32).collect();
    for i in 0..in_register {
        let j = rng.random_range(i..order.len());
        order.swap(i, j);
    }
    let mut usage: Vec<(u32, u8, u8)> = Vec::with_capacity(cfg.users);
    for &r in &order[..in_register] {
        let res = &residents[r as usize];
        usage.push((res.bsn, res.age, res.household));
    }
    drop(order);
    for &bsn in outsider_bsns {
        let age = pick(&mut rng, &age_cdf);
        let household = pick(&mut rng, &household_cdf);
        usage.push((bsn, age, household));
    }
    for i in (1..usage.len()).rev() {
        let j = rng.random_range(0..=i);
        usage.swap(i, j);
    }

    // register.csv
    let register_path = dir.join("register.csv");
    let mut eight_digit = 0usize;
    write_file(&register_path, |w, buf| {
        w.write_all(b"bsn,province,household,age_band,income\n")?;
        for r in &residents {
            buf.clear();
            if r.bsn < 100_000_000 {
                eight_digit += 1;
                push_padded(buf, r.bsn, 8);
            } else {
                push_padded(buf, r.bsn, 9);
            }
            buf.push(b',');
            buf.extend_from_slice(PROVINCES[r.province as usize].0.as_bytes());
            buf.push(b',');
            buf.extend_from_slice(HOUSEHOLDS[r.household as usize].0.as_bytes());
            buf.push(b',');
            buf.extend_from_slice(AGE_BANDS[r.age as usize].0.as_bytes());
            buf.push(b',');
            push_padded(buf, r.income, 1);
            buf.push(b'\n');
            w.write_all(buf)?;
        }
        Ok(())
    })?;
    drop(residents);

    // usage.csv
    let usage_path = dir.join("usage.csv");
    write_file(&usage_path, |w, buf| {
        w.write_all(b"bsn,channel,logins\n")?;
        for &(bsn, age, household) in &usage {
            buf.clear();
            let drop_zero = bsn < 100_000_000 && rng.random_bool(0.5);
            push_padded(buf, bsn, if drop_zero { 8 } else { 9 });
            buf.push(b',');
            let channel = channel(&mut rng, age);
            buf.extend_from_slice(CHANNELS[channel as usize].as_bytes());
            buf.push(b',');
            push_padded(buf, logins(&mut rng, age, household, channel), 1);
            buf.push(b'\n');
            w.write_all(buf)?;
        }
        Ok(())
    })?;

    let study_path = dir.join("study.toml");
    std::fs::write(&study_path, study_toml(cfg.ports, cfg.join)).map_err(|source| {
        SynthError::Io {
            path: study_path.clone(),
            source,
        }
    })?;

    Ok(SynthSummary {
        residents: cfg.residents,
        users: cfg.users,
        users_in_register: in_register,
        register_eight_digit: eight_digit,
        register: register_path,
        usage: usage_path,
        study: study_path,
    })
}

/// `n` distinct valid BSNs: random distinct 8-digit prefixes (not all zeros) whose 11-test check
/// digit is not 10, each completed with its check digit.
pub(super) fn distinct_bsns(rng: &mut ChaCha8Rng, n: usize) -> Vec<u32> {
    const PREFIXES: u32 = 100_000_000;
    let mut seen = vec![0u64; (PREFIXES as usize).div_ceil(64)];
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let p = rng.random_range(1..PREFIXES);
        let Some(check) = check_digit(p) else {
            continue;
        };
        let (word, bit) = ((p / 64) as usize, p % 64);
        if seen[word] >> bit & 1 == 1 {
            continue;
        }
        seen[word] |= 1 << bit;
        out.push(p * 10 + check);
    }
    out
}

/// The 11-test check digit of an 8-digit prefix (below 10^8), `None` when it would be 10
/// ([`samen_pseudonym::normalise::bsn_check_digit`]).
pub fn check_digit(prefix: u32) -> Option<u32> {
    let mut digits = [b'0'; 8];
    let mut p = prefix;
    for d in digits.iter_mut().rev() {
        // p % 10 < 10, so the cast cannot truncate.
        *d = b'0' + (p % 10) as u8;
        p /= 10;
    }
    if p != 0 {
        return None;
    }
    samen_pseudonym::normalise::bsn_check_digit(&digits).map(|d| u32::from(d - b'0'))
}

/// Cumulative thresholds (on a u32 scale) of a weighted list.
pub(super) fn cdf<const N: usize>(weights: &[(&str, f64); N]) -> [u32; N] {
    let total: f64 = weights.iter().map(|w| w.1).sum();
    let mut acc = 0.0;
    let mut out = [u32::MAX; N];
    for (o, w) in out.iter_mut().zip(weights.iter()) {
        acc += w.1;
        *o = ((acc / total) * f64::from(u32::MAX)).min(f64::from(u32::MAX)) as u32;
    }
    out[N - 1] = u32::MAX;
    out
}

/// Draw an index from cumulative thresholds.
pub(super) fn pick<const N: usize>(rng: &mut ChaCha8Rng, cdf: &[u32; N]) -> u8 {
    let u: u32 = rng.random();
    cdf.iter().position(|&c| u <= c).unwrap_or(N - 1) as u8
}

/// A standard normal deviate (Box–Muller).
pub(super) fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Yearly income: none for some, otherwise log-normal by age band, capped.
pub(super) fn income(rng: &mut ChaCha8Rng, age: u8) -> u32 {
    const MU: [f64; 5] = [9.7, 10.5, 10.75, 10.25, 10.05];
    if rng.random_bool(0.04) {
        return 0;
    }
    let mu = MU[age as usize % MU.len()];
    let v = (mu + 0.65 * normal(rng)).exp();
    v.min(f64::from(INCOME_MAX)) as u32
}

/// Channel by age band: the young prefer the app, the old the web; logging in on someone else's
/// behalf (`machtiging`) is rare, mostly for the oldest.
pub(super) fn channel(rng: &mut ChaCha8Rng, age: u8) -> u8 {
    const APP: [f64; 5] = [0.72, 0.6, 0.45, 0.3, 0.15];
    const MACHTIGING: [f64; 5] = [0.0002, 0.0002, 0.0003, 0.0008, 0.003];
    let a = age as usize % APP.len();
    let u: f64 = rng.random();
    if u < MACHTIGING[a] {
        2
    } else if u < MACHTIGING[a] + APP[a] {
        0
    } else {
        1
    }
}

/// Logins in a year: geometric-like with a mean by age band and household, a few heavy users.
pub(super) fn logins(rng: &mut ChaCha8Rng, age: u8, household: u8, channel: u8) -> u32 {
    const MEAN: [f64; 5] = [4.0, 9.0, 11.0, 7.0, 3.0];
    const HOUSEHOLD: [f64; 5] = [0.9, 1.0, 1.15, 1.3, 0.8];
    let mut mean =
        MEAN[age as usize % MEAN.len()] * HOUSEHOLD[household as usize % HOUSEHOLD.len()];
    if channel == 2 {
        mean *= 0.5;
    }
    if rng.random_bool(0.005) {
        mean *= 60.0;
    }
    let u: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
    let v = (-mean * u.ln()).floor();
    v.min(f64::from(LOGINS_MAX)) as u32
}

/// Append `v` in decimal, left-padded with zeros to `width` digits.
pub(super) fn push_padded(buf: &mut Vec<u8>, mut v: u32, width: usize) {
    let mut tmp = [0u8; 10];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let digits = tmp.len() - i;
    for _ in digits..width {
        buf.push(b'0');
    }
    buf.extend_from_slice(&tmp[i..]);
}

/// Write a file through a buffered writer and a reusable line buffer.
pub(super) fn write_file(
    path: &Path,
    body: impl FnOnce(&mut BufWriter<File>, &mut Vec<u8>) -> std::io::Result<()>,
) -> Result<(), SynthError> {
    let io = |source| SynthError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::create(path).map_err(io)?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let mut buf = Vec::with_capacity(128);
    body(&mut w, &mut buf).map_err(io)?;
    w.flush().map_err(io)?;
    Ok(())
}
