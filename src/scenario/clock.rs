//! `[incident] start_clock`: the wall-clock time, in the incident's own time zone, at which the
//! replay's simulated time 0 falls — so figures can label their time axis `23:48 PDT` instead
//! of `1800 s`.
//!
//! The accepted form is RFC 3339 with a numeric offset or `Z` and whole seconds:
//! `YYYY-MM-DDTHH:MM[:SS](Z|±HH:MM)`, e.g. `2025-10-19T23:18:00-07:00`. Anything else is an
//! error naming the field. `time_zone` (optional) names the zone for labels (`PDT`); without
//! it labels say `UTC−07:00`.

/// A validated start clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartClock {
    /// Unix time (s, UTC) of simulated time 0.
    pub unix_s: i64,
    /// The zone's offset from UTC (s), e.g. −25 200 for PDT.
    pub offset_s: i32,
    /// The zone's name for labels, e.g. `PDT`; `UTC−07:00` when the file gives none.
    pub zone: String,
}

/// Longest `time_zone` name.
pub const MAX_ZONE_CHARS: usize = 16;

/// Days from 1970-01-01 to the civil date `y-m-d` (proleptic Gregorian; H. Hinnant's
/// algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date `(y, m, d)` of a day count from 1970-01-01 (inverse of
/// [`days_from_civil`]).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

fn num(s: &str, what: &str, range: std::ops::RangeInclusive<u32>) -> Result<u32, String> {
    let v: u32 = s
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| s.parse().ok())
        .flatten()
        .ok_or_else(|| format!("{what} {s:?} is not a number"))?;
    if range.contains(&v) {
        Ok(v)
    } else {
        Err(format!(
            "{what} {v} is out of range {}..={}",
            range.start(),
            range.end()
        ))
    }
}

/// `±HH:MM` as signed seconds, e.g. `UTC−07:00` for −25 200.
pub fn offset_name(offset_s: i32) -> String {
    let sign = if offset_s < 0 { '−' } else { '+' };
    let a = offset_s.unsigned_abs();
    format!("UTC{sign}{:02}:{:02}", a / 3600, (a % 3600) / 60)
}

/// Parses `text` (see the module header) with an optional zone name.
pub fn parse_start_clock(text: &str, zone: Option<&str>) -> Result<StartClock, String> {
    const FORM: &str = "expected YYYY-MM-DDTHH:MM[:SS] followed by Z or ±HH:MM, e.g. \
                        \"2025-10-19T23:18:00-07:00\"";
    let bad = |why: String| format!("{why}: {FORM}, got {text:?}");
    if !text.is_ascii() || text.len() > 32 {
        return Err(bad("not an RFC 3339 time".into()));
    }
    let (date, rest) = text
        .split_once(['T', 't', ' '])
        .ok_or_else(|| bad("no 'T' between date and time".into()))?;
    let d: Vec<&str> = date.split('-').collect();
    let [y, mo, da] = d[..] else {
        return Err(bad("the date is not YYYY-MM-DD".into()));
    };
    if y.len() != 4 || mo.len() != 2 || da.len() != 2 {
        return Err(bad("the date is not YYYY-MM-DD".into()));
    }
    let y = i64::from(num(y, "year", 1970..=9999).map_err(bad)?);
    let mo = num(mo, "month", 1..=12).map_err(bad)?;
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let da = num(da, "day", 1..=month_days[mo as usize - 1]).map_err(bad)?;
    let (time, offset_s) = if let Some(t) = rest.strip_suffix(['Z', 'z']) {
        (t, 0i32)
    } else {
        let k = rest
            .rfind(['+', '-'])
            .ok_or_else(|| bad("no offset (Z or ±HH:MM)".into()))?;
        let (t, off) = rest.split_at(k);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let Some((oh, om)) = off[1..].split_once(':') else {
            return Err(bad("the offset is not ±HH:MM".into()));
        };
        if oh.len() != 2 || om.len() != 2 {
            return Err(bad("the offset is not ±HH:MM".into()));
        }
        let oh = num(oh, "offset hours", 0..=14).map_err(bad)?;
        let om = num(om, "offset minutes", 0..=59).map_err(bad)?;
        (t, sign * (oh * 3600 + om * 60) as i32)
    };
    let t: Vec<&str> = time.split(':').collect();
    let (h, mi, s) = match t[..] {
        [h, m] => (h, m, "00"),
        [h, m, s] => (h, m, s),
        _ => return Err(bad("the time is not HH:MM[:SS]".into())),
    };
    if h.len() != 2 || mi.len() != 2 || s.len() != 2 {
        return Err(bad("the time is not HH:MM[:SS]".into()));
    }
    let h = num(h, "hour", 0..=23).map_err(bad)?;
    let mi = num(mi, "minute", 0..=59).map_err(bad)?;
    let s = num(s, "second", 0..=59).map_err(bad)?;
    let local = days_from_civil(y, mo, da) * 86_400 + i64::from(h * 3600 + mi * 60 + s);
    let zone = match zone {
        None => offset_name(offset_s),
        Some(z) => {
            let z = z.trim();
            if z.is_empty()
                || z.chars().count() > MAX_ZONE_CHARS
                || !z
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-_/:".contains(c))
            {
                return Err(format!(
                    "time_zone must be 1..={MAX_ZONE_CHARS} letters, digits or +-_/: (e.g. \"PDT\"), got {z:?}"
                ));
            }
            z.to_string()
        }
    };
    Ok(StartClock {
        unix_s: local - i64::from(offset_s),
        offset_s,
        zone,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_with_offsets_and_z() {
        let c = parse_start_clock("2025-10-19T23:18:00-07:00", Some("PDT")).unwrap();
        // 2025-10-20 06:18:00 UTC.
        assert_eq!(c.unix_s, 1_760_941_080);
        assert_eq!(c.offset_s, -25_200);
        assert_eq!(c.zone, "PDT");
        let z = parse_start_clock("2025-11-18T11:05Z", None).unwrap();
        assert_eq!(
            z.unix_s,
            days_from_civil(2025, 11, 18) * 86_400 + 11 * 3600 + 5 * 60
        );
        assert_eq!(z.zone, "UTC+00:00");
        assert_eq!(
            parse_start_clock("2025-06-12T10:39:00+05:30", None)
                .unwrap()
                .zone,
            "UTC+05:30"
        );
    }

    #[test]
    fn civil_dates_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        for z in [-1, 0, 59, 11_016, 20_000, 20_381, 2_932_896] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z, "{z}: {y}-{m}-{d}");
        }
    }

    #[test]
    fn bad_clocks_say_what_is_wrong() {
        for (text, why) in [
            ("2025-10-19 23:18", "no offset"),
            ("2025-10-19", "no 'T'"),
            ("2025-13-19T23:18Z", "month 13"),
            ("2025-02-29T23:18Z", "day 29"),
            ("2025-10-19T24:00Z", "hour 24"),
            ("2025-10-19T23:18+7", "not ±HH:MM"),
            ("2025-10-19T23:18:00-15:00", "offset hours 15"),
            ("19/10/2025T23:18Z", "not YYYY-MM-DD"),
            ("2025-10-19T23h18Z", "not HH:MM"),
            ("2025-10-19T23:18:00.5Z", "not HH:MM"),
            ("2025-10-19T2a:18Z", "not a number"),
        ] {
            let e = parse_start_clock(text, None).unwrap_err();
            assert!(e.contains(why), "{text}: {e}");
        }
        assert!(parse_start_clock("2024-02-29T00:00Z", None).is_ok());
        assert!(
            parse_start_clock("2025-10-19T23:18Z", Some("P D T"))
                .unwrap_err()
                .contains("time_zone")
        );
    }
}
