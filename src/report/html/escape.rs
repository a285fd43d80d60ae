//! Escaping for the two places file contents reach the page: HTML text and attributes
//! ([`html`]), and JSON inside a `<script>` element ([`Json`]).
//!
//! Every string the report takes from a file (scenario and variant names, verdict reasons,
//! column headers and cells) is user input: it goes through [`html`] or into a JSON string
//! whose `<`, `>`, `&` and line separators are written as `\u` escapes, so no byte sequence
//! in the data can close the script element (`</script>`), open a comment (`<!--`) or end a
//! JavaScript string.

use std::fmt::Write;

/// `s` escaped for HTML text and double- or single-quoted attribute values.
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A JSON text built by appending values; safe to embed in `<script type="application/json">`.
#[derive(Default)]
pub struct Json {
    pub buf: String,
}

impl Json {
    pub fn new() -> Json {
        Json::default()
    }

    pub fn raw(&mut self, s: &str) -> &mut Json {
        self.buf.push_str(s);
        self
    }

    /// A JSON string literal for `s`.
    pub fn str(&mut self, s: &str) -> &mut Json {
        self.buf.push('"');
        for c in s.chars() {
            match c {
                '"' => self.buf.push_str("\\\""),
                '\\' => self.buf.push_str("\\\\"),
                '\n' => self.buf.push_str("\\n"),
                '\r' => self.buf.push_str("\\r"),
                '\t' => self.buf.push_str("\\t"),
                // Never a literal `<`, `>` or `&` (no `</script>`, no `<!--`), never a raw
                // control character or line separator.
                '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                    let _ = write!(self.buf, "\\u{:04x}", c as u32);
                }
                c if (c as u32) < 0x20 => {
                    let _ = write!(self.buf, "\\u{:04x}", c as u32);
                }
                c => self.buf.push(c),
            }
        }
        self.buf.push('"');
        self
    }

    /// A number rounded to `sig` significant digits; `null` when not finite.
    pub fn num(&mut self, v: f64, sig: usize) -> &mut Json {
        self.buf.push_str(&number(v, sig));
        self
    }

    pub fn opt(&mut self, v: Option<f64>, sig: usize) -> &mut Json {
        match v {
            Some(v) => self.num(v, sig),
            None => self.raw("null"),
        }
    }

    pub fn key(&mut self, k: &str) -> &mut Json {
        self.str(k).raw(":")
    }
}

/// `v` with at most `sig` significant digits in the shortest decimal form (no exponent, so
/// JavaScript and JSON read it alike); `null` when not finite.
pub fn number(v: f64, sig: usize) -> String {
    if !v.is_finite() {
        return "null".into();
    }
    if v == 0.0 {
        return "0".into();
    }
    if v.fract() == 0.0 && v.abs() < 1e15 && v.abs().log10() < sig as f64 {
        return format!("{}", v as i64);
    }
    let rounded: f64 = format!("{:.*e}", sig.saturating_sub(1), v)
        .parse()
        .unwrap_or(v);
    let s = format!("{rounded}");
    if s.len() > 24 {
        // Very small or very large: JSON takes the exponent form too.
        format!("{rounded:e}")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_every_special_character() {
        assert_eq!(
            html(r#"<script>alert("x" & 'y')</script>"#),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;"
        );
        assert_eq!(html("plain ümlaut · 2×"), "plain ümlaut · 2×");
    }

    #[test]
    fn json_strings_cannot_close_the_script_element() {
        let hostile = "</script><script>alert(1)</script><!-- \"\\\n\u{2028}\u{1}";
        let mut j = Json::new();
        j.str(hostile);
        let s = j.buf;
        assert!(
            !s.contains('<') && !s.contains('>') && !s.contains('&'),
            "{s}"
        );
        assert!(!s.contains('\n') && !s.contains('\u{2028}'), "{s}");
        assert_eq!(
            s,
            "\"\\u003c/script\\u003e\\u003cscript\\u003ealert(1)\\u003c/script\\u003e\\u003c!-- \\\"\\\\\\n\\u2028\\u0001\""
        );
    }

    #[test]
    fn numbers_are_short_and_valid_json() {
        assert_eq!(number(97.90314136478334, 4), "97.9");
        assert_eq!(number(0.4895157068239167, 4), "0.4895");
        assert_eq!(number(36600.0, 6), "36600");
        assert_eq!(number(123456.7, 4), "123500");
        assert_eq!(number(-0.000012345, 3), "-0.0000123");
        assert_eq!(number(f64::NAN, 4), "null");
        assert_eq!(number(f64::INFINITY, 4), "null");
        assert_eq!(number(1e-300, 4), "1e-300");
        assert_eq!(number(0.0, 4), "0");
    }
}
