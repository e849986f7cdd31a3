//! A small, deterministic byte mutator for the stable-toolchain smoke test
//! (`tests/smoke.rs`): libFuzzer's basic moves (bit flips, byte
//! insert/delete, interesting values, splices) plus tokens that matter to our
//! formats (JSON, CSV, ESC/POS). No coverage feedback — that is cargo-fuzz's
//! job; this only keeps the targets honest in every `cargo test`.

/// xorshift64*: tiny, seeded, reproducible.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // A zero state would stay zero.
        Rng((seed ^ 0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

/// Tokens spliced into inputs: JSON structure and edge values, CSV and
/// query-string separators, ESC/POS command bytes.
const TOKENS: &[&[u8]] = &[
    b"null",
    b"true",
    b"[]",
    b"{}",
    b"\"\"",
    b"0",
    b"-1",
    b"-0",
    b"1.5",
    b"1e400",
    b"9007199254740991",
    b"9007199254740992",
    b"-9007199254740992",
    b"18446744073709551615",
    b"18446744073709551616",
    b"9223372036854775807",
    b"99999999999999999999999999",
    b"\"\\u0000\"",
    b"\\ud800",
    b"\\u001f",
    b"\xc3\xa9",
    b"\xff",
    b"\x00",
    b",",
    b":",
    b"\"",
    b"\n",
    b"\r",
    b"\r\n",
    b"|",
    b"-",
    b".",
    b"&",
    b"=",
    b"%",
    b"%00",
    b"+",
    b"v1.",
    b"\x1b@",
    b"\x1b",
    b"\x1d",
    b"\x1dV",
    b"\x1bp",
];

/// 1 to 4 random edits of `input`; `others` (the rest of the corpus) feed
/// the splices.
pub fn mutate(rng: &mut Rng, input: &[u8], others: &[Vec<u8>]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        edit(rng, &mut out, others);
    }
    out
}

fn edit(rng: &mut Rng, out: &mut Vec<u8>, others: &[Vec<u8>]) {
    let len = out.len();
    let at = rng.below(len + 1);
    match rng.below(10) {
        // Flip a bit.
        0 if len > 0 => {
            let i = rng.below(len);
            out[i] ^= 1 << rng.below(8);
        }
        // Set a byte to a random or boundary value.
        1 if len > 0 => {
            let i = rng.below(len);
            out[i] = match rng.below(4) {
                0 => 0,
                1 => 0xff,
                2 => 0x7f,
                _ => rng.next_u64() as u8,
            };
        }
        // Insert random bytes.
        2 => {
            let n = 1 + rng.below(8);
            let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
            out.splice(at..at, bytes);
        }
        // Delete a range.
        3 if len > 0 => {
            let n = 1 + rng.below(len.min(32));
            let start = rng.below(len);
            out.drain(start..(start + n).min(len));
        }
        // Duplicate a range (longer strings, repeated entries).
        4 if len > 0 => {
            let start = rng.below(len);
            let n = 1 + rng.below((len - start).min(256));
            let copies = if rng.chance(8) { 1 + rng.below(64) } else { 1 };
            let piece = out[start..start + n].repeat(copies);
            out.splice(at..at, piece);
        }
        // Splice with another corpus input.
        5 if !others.is_empty() => {
            let other = &others[rng.below(others.len())];
            let from = rng.below(other.len() + 1);
            out.truncate(at);
            out.extend_from_slice(&other[from..]);
        }
        // Replace a run of digits with an edge number.
        6 => {
            let digits: Vec<usize> = (0..len).filter(|&i| out[i].is_ascii_digit()).collect();
            if let Some(&start) = digits.get(rng.below(digits.len().max(1))) {
                let end = (start..len)
                    .find(|&i| !out[i].is_ascii_digit())
                    .unwrap_or(len);
                let token = TOKENS[5 + rng.below(12)];
                out.splice(start..end, token.iter().copied());
            }
        }
        // Overwrite with, or insert, a token.
        _ => {
            let token = TOKENS[rng.below(TOKENS.len())];
            if rng.chance(2) && at + token.len() <= len {
                out[at..at + token.len()].copy_from_slice(token);
            } else {
                out.splice(at..at, token.iter().copied());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_mutations() {
        let corpus = vec![b"{\"a\": 12}".to_vec(), b"sku,name\n".to_vec()];
        let run = |seed| {
            let mut rng = Rng::new(seed);
            (0..100)
                .map(|i| mutate(&mut rng, &corpus[i % 2], &corpus))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }
}
