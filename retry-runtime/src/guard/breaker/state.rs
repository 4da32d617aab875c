//! The breaker's state word: one `u64` that every transition swaps whole.

// The state word: `kind` (2 bits), `counting` (1 bit: failures were recorded while closed, so
// successes must be counted too), probes in flight (16 bits), probe successes (16 bits) and a
// generation (24 bits) that changes on every transition, so that a stale observer's
// compare-and-swap fails instead of making a transition twice.
pub(super) const KIND_MASK: u64 = 0b11;
pub(super) const CLOSED: u64 = 0;
pub(super) const OPEN: u64 = 1;
pub(super) const HALF_OPEN: u64 = 2;
pub(super) const COUNTING: u64 = 1 << 2;
pub(super) const PROBES_SHIFT: u32 = 8;
pub(super) const SUCCESSES_SHIFT: u32 = 24;
pub(super) const GEN_SHIFT: u32 = 40;
pub(super) const FIELD_MASK: u64 = 0xFFFF;

pub(super) const fn kind(word: u64) -> u64 {
    word & KIND_MASK
}
pub(super) const fn probes(word: u64) -> u32 {
    ((word >> PROBES_SHIFT) & FIELD_MASK) as u32
}
pub(super) const fn successes(word: u64) -> u32 {
    ((word >> SUCCESSES_SHIFT) & FIELD_MASK) as u32
}
pub(super) const fn generation(word: u64) -> u32 {
    (word >> GEN_SHIFT) as u32
}
/// A fresh word of `kind` in the generation after `word`'s.
pub(super) const fn next(word: u64, kind: u64) -> u64 {
    let generation = (generation(word).wrapping_add(1) & 0xFF_FFFF) as u64;
    (generation << GEN_SHIFT) | kind
}
pub(super) const fn with_probes(word: u64, probes: u32, successes: u32) -> u64 {
    (word & !((FIELD_MASK << PROBES_SHIFT) | (FIELD_MASK << SUCCESSES_SHIFT)))
        | ((probes as u64 & FIELD_MASK) << PROBES_SHIFT)
        | ((successes as u64 & FIELD_MASK) << SUCCESSES_SHIFT)
}
