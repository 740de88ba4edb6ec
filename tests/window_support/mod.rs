//! Shared pieces of the window limiters' property tests: operation sequences
//! whose clock moves forwards, backwards, by huge jumps and near `u64::MAX`.

#![allow(dead_code)]

pub mod accuracy;

use proptest::prelude::*;

/// One step of a property test.
#[derive(Clone, Copy, Debug)]
pub enum Step {
    /// Check `n` units now.
    Check(u32),
    /// Look without changing anything.
    Peek,
    /// Give `n` units back (where the limiter supports it).
    Refund(u32),
    /// Move the clock.
    Move(Move),
}

/// How the clock moves.
#[derive(Clone, Copy, Debug)]
pub enum Move {
    Forward(u64),
    Back(u64),
    /// To this instant.
    To(u64),
    /// To the limiter's horizon plus this offset (saturating).
    NearHorizon(i64),
}

impl Move {
    pub fn apply(self, now: u64, horizon: u64) -> u64 {
        match self {
            Move::Forward(d) => now.saturating_add(d),
            Move::Back(d) => now.saturating_sub(d),
            Move::To(t) => t,
            Move::NearHorizon(off) => horizon.saturating_add_signed(off),
        }
    }
}

/// Clock moves: mostly within a few windows, sometimes anywhere.
pub fn moves(width: u64) -> impl Strategy<Value = Move> {
    let w = width.max(1);
    prop_oneof![
        8 => (0..=w.saturating_mul(2)).prop_map(Move::Forward),
        2 => (0..=w / 2 + 1).prop_map(Move::Forward),
        2 => (0..=w.saturating_mul(2)).prop_map(Move::Back),
        1 => any::<u64>().prop_map(Move::Forward),
        1 => any::<u64>().prop_map(Move::To),
        1 => (0..=w.saturating_mul(3)).prop_map(|d| Move::To(u64::MAX - d)),
        1 => (-(w.saturating_mul(3).min(1 << 40) as i64)..=(w.saturating_mul(3).min(1 << 40) as i64))
            .prop_map(Move::NearHorizon),
    ]
}

/// Unit counts around the limit: zero, small, exactly at and above it, huge.
pub fn units(limit: u32) -> impl Strategy<Value = u32> {
    prop_oneof![
        6 => 1..=limit.min(3),
        3 => 0..=limit.saturating_add(1),
        1 => Just(limit),
        1 => any::<u32>(),
    ]
}

pub fn steps(limit: u32, width: u64, refunds: bool) -> impl Strategy<Value = Vec<Step>> {
    let refund_weight = if refunds { 1 } else { 0 };
    let step = prop_oneof![
        8 => units(limit).prop_map(Step::Check),
        2 => Just(Step::Peek),
        refund_weight => units(limit).prop_map(Step::Refund),
        6 => moves(width).prop_map(Step::Move),
    ];
    proptest::collection::vec(step, 1..80)
}

/// Limits: small (saturated quickly), medium, and up to `max`.
pub fn limits(max: u32) -> impl Strategy<Value = u32> {
    prop_oneof![
        4 => 1..=5u32,
        2 => 6..=300u32.min(max),
        1 => (max / 2).max(1)..=max,
        1 => Just(max),
    ]
}

/// Window lengths in ticks: tiny, small, and huge.
pub fn widths() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => 1..=12u64,
        2 => 13..=10_000u64,
        1 => any::<u64>().prop_map(|w| w.max(1)),
        1 => Just(u64::MAX),
    ]
}

/// Epochs: tick 0, or anywhere.
pub fn epochs() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0u64), any::<u64>(), 0..=100u64]
}

/// Proptest settings for the window limiters: moderate case counts, so the
/// whole suite stays fast.
pub fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        // Integration tests have no lib.rs for proptest's default lookup:
        // failures persist beside the test file, to be committed.
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
        )),
        ..ProptestConfig::default()
    }
}
