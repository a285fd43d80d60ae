//! Text mutations shared by the mutation tests (`bad_input.rs`, `fuzz.rs`): a tiny
//! deterministic generator and one random edit at a time (delete, duplicate or swap lines,
//! replace a number by an extreme, truncate, insert a character).

#![allow(dead_code)]

/// SplitMix64: tiny, deterministic, good enough for picking mutations.
pub struct Prng(pub u64);

impl Prng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

pub fn floor_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Byte ranges of number-like tokens (`80.0`, `1e-3`, `100`).
pub fn numbers(s: &str) -> Vec<std::ops::Range<usize>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let starts = b[i].is_ascii_digit()
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'));
        if starts {
            let start = if i > 0 && (b[i - 1] == b'-' || b[i - 1] == b'+') {
                i - 1
            } else {
                i
            };
            let mut j = i;
            while j < b.len()
                && (b[j].is_ascii_digit() || matches!(b[j], b'.' | b'e' | b'E' | b'_'))
            {
                j += 1;
            }
            out.push(start..j);
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

/// Applies one random mutation to `text`; returns a description.
pub fn mutate_once(text: &mut String, rng: &mut Prng) -> String {
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    match rng.below(6) {
        0 => {
            let i = rng.below(lines.len());
            let l = lines.remove(i);
            *text = lines.join("\n");
            format!("delete line {} {l:?}", i + 1)
        }
        1 => {
            let i = rng.below(lines.len());
            let l = lines[i].clone();
            lines.insert(i, l.clone());
            *text = lines.join("\n");
            format!("duplicate line {} {l:?}", i + 1)
        }
        2 => {
            let nums = numbers(text);
            if nums.is_empty() {
                return "replace number: none left".into();
            }
            let r = nums[rng.below(nums.len())].clone();
            const REPL: [&str; 12] = [
                "-1",
                "0",
                "1e308",
                "nan",
                "\"x\"",
                "-0.0",
                "inf",
                "-inf",
                "1e-300",
                "99999999999999999999",
                "0.5",
                "3",
            ];
            let with = REPL[rng.below(REPL.len())];
            let old = text[r.clone()].to_string();
            text.replace_range(r.clone(), with);
            format!("replace number {old:?} at byte {} with {with}", r.start)
        }
        3 => {
            let at = floor_boundary(text, rng.below(text.len() + 1));
            text.truncate(at);
            format!("truncate at byte {at}")
        }
        4 => {
            let (i, j) = (rng.below(lines.len()), rng.below(lines.len()));
            lines.swap(i, j);
            *text = lines.join("\n");
            format!("swap lines {} and {}", i + 1, j + 1)
        }
        _ => {
            const EXTRA: &[u8] = b"\n\t\"'[]{}=,.#-+";
            let c = if rng.below(4) == 0 {
                EXTRA[rng.below(EXTRA.len())] as char
            } else {
                (0x20 + rng.below(0x7f - 0x20) as u8) as char
            };
            let at = floor_boundary(text, rng.below(text.len() + 1));
            text.insert(at, c);
            format!("insert {c:?} at byte {at}")
        }
    }
}
