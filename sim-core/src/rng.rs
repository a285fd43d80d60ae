//! Random streams derived from `(master seed, stable name)`.
//!
//! Every purpose inside every component (`"clients/arrivals"`, `"db/service"`) owns its own
//! stream, seeded from the run's master seed and the purpose's *name*, never from creation order.
//! Adding a component or changing one component's policy therefore leaves every other stream
//! identical, so comparisons of designs are paired (common random numbers).
//!
//! The generator is PCG64 MCG (`rand_pcg::Pcg64Mcg`, 128-bit state, XSL-RR output): named,
//! portable and fixed by `Cargo.lock`, unlike `StdRng`.

use rand::SeedableRng;

/// The simulator's one random generator type.
pub type SimRng = rand_pcg::Pcg64Mcg;

/// FNV-1a, 64 bit: a stable hash of a stream name (std's `Hasher`s are not stable across
/// releases).
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// SplitMix64 step: a bijective 64-bit mixer (Steele, Lea, Flood 2014).
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The 128-bit seed of stream `name` under `master_seed`:
/// two SplitMix64 outputs from the state `master_seed ^ rotl(fnv1a64(name), 17)`.
pub fn stream_seed(master_seed: u64, name: &str) -> [u8; 16] {
    let mut state = master_seed ^ fnv1a64(name.as_bytes()).rotate_left(17);
    let a = splitmix64(&mut state);
    let b = splitmix64(&mut state);
    let mut seed = [0u8; 16];
    seed[..8].copy_from_slice(&a.to_le_bytes());
    seed[8..].copy_from_slice(&b.to_le_bytes());
    seed
}

/// A fresh generator for stream `name` of the run seeded with `master_seed`.
pub fn stream(master_seed: u64, name: &str) -> SimRng {
    SimRng::from_seed(stream_seed(master_seed, name))
}

/// Derives a child seed from a base seed and integer coordinates (e.g. sweep point id and
/// replication), for seeds that must not depend on the machine, thread or shard.
pub fn derive_seed(base: u64, coords: &[u64]) -> u64 {
    let mut state = base;
    let mut out = splitmix64(&mut state);
    for &c in coords {
        state ^= c.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ out;
        out = splitmix64(&mut state);
    }
    out
}

/// Re-seeds `rng` in place from one draw of its current state and `salt`: the generator a
/// clone of a simulation continues with after an importance-splitting branch. Two clones of
/// one state re-seeded with different salts draw independent futures; the same state and salt
/// always give the same generator, so a splitting run stays a pure function of its seed.
pub fn reseed(rng: &mut SimRng, salt: u64) {
    use rand::Rng;
    let here = rng.next_u64();
    *rng = SimRng::from_seed(stream_seed(derive_seed(salt, &[here]), "reseed"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn streams_depend_on_name_and_seed_only() {
        let mut a = stream(42, "svc/service");
        let mut b = stream(42, "svc/service");
        let mut c = stream(42, "svc/arrivals");
        let mut d = stream(43, "svc/service");
        let xa: Vec<u64> = (0..4).map(|_| a.next_u64()).collect();
        let xb: Vec<u64> = (0..4).map(|_| b.next_u64()).collect();
        let xc: Vec<u64> = (0..4).map(|_| c.next_u64()).collect();
        let xd: Vec<u64> = (0..4).map(|_| d.next_u64()).collect();
        assert_eq!(xa, xb);
        assert_ne!(xa, xc);
        assert_ne!(xa, xd);
    }

    /// Pins the generator: if a dependency upgrade changed the stream, every published
    /// result would silently change. This value was produced by this code; a change here
    /// means runs are no longer reproducible across versions.
    #[test]
    fn stream_is_pinned() {
        assert_eq!(stream(1, "pin").next_u64(), 9_443_919_183_315_323_641);
        assert_ne!(derive_seed(7, &[1, 2]), derive_seed(7, &[2, 1]));
    }

    #[test]
    fn reseed_is_deterministic_and_salted() {
        let base = stream(9, "x/y");
        let draw = |salt: u64| {
            let mut r = base.clone();
            reseed(&mut r, salt);
            (0..4).map(|_| r.next_u64()).collect::<Vec<u64>>()
        };
        let mut plain = base.clone();
        let unsalted: Vec<u64> = (0..4).map(|_| plain.next_u64()).collect();
        assert_eq!(draw(1), draw(1));
        assert_ne!(draw(1), draw(2));
        assert_ne!(draw(1), unsalted);
    }
}
