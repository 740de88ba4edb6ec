//! [`GCRA_SCRIPT`] on a real redis-server against the kernel: for words
//! anywhere around the base (missing, far behind, up to and past 2^52
//! ahead, with carries across the script's 15-digit halves), instants
//! anywhere in the accepted seconds and just outside them, the script
//! decides and stores exactly the kernel's next word and expiry, and
//! refuses exactly where its arithmetic would not be exact.

use proptest::prelude::*;
use proptest::test_runner::{Config as PropConfig, TestRunner};
use ratecore::kernel::{Algorithm, Step};
use ratecore::{Gcra, Instant, Quota};
use ratecore_testkit::redis_server::RedisServer;

use super::{GcraOutcome, GcraParams};
use crate::store::{Read, Store, ns_to_ticks, ttl_ms};
use crate::{RedisStore, StoreError};

const HZ: u64 = 1_000_000_000;
const LIMIT: i128 = 1 << 52;

/// Configurations: a scale of 1 and of 3, and one near 2^52.
fn configs() -> [Gcra<HZ>; 3] {
    let near = ratecore::Duration::<HZ>::from_ticks((1u64 << 52) - 40_000_000_000);
    [
        Gcra::new(Quota::per_second(100).burst(20)).unwrap(),
        Gcra::new(Quota::per_second(3).burst(4)).unwrap(),
        Gcra::new(Quota::with_period(2, near)).unwrap(),
    ]
}

/// The kernel's next word and expiry for checks `ns` on `word` at `ns_at`.
fn kernel(gcra: &Gcra<HZ>, word: Option<u64>, ns: &[u32], at_ns: u64) -> Option<(u64, u64)> {
    let now = Instant::<HZ>::from_ticks(ns_to_ticks::<HZ>(at_ns));
    let start = word.unwrap_or(0);
    let mut state = start;
    for &n in ns {
        if let Step::Store(next, _) = gcra.decide(state, n, now) {
            state = next;
        }
    }
    (state != start).then(|| {
        let idle = gcra.idle_after(state, now).unwrap().as_ticks();
        (state, ttl_ms::<HZ>(idle))
    })
}

#[test]
fn the_script_decides_as_the_kernel_and_refuses_only_outside_exact_range() {
    let server = RedisServer::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = rt.block_on(async { open(&server) });
    let base_secs = 1_700_000_000u64;
    let strategy = (
        0..3usize,
        // The word relative to the base's virtual time (None: missing).
        prop::option::of(prop_oneof![
            -(1i128 << 60)..(1i128 << 60),
            (LIMIT - 100_000_000_000)..(LIMIT + 100_000_000_000),
            -10_000_000_000i128..10_000_000_000,
            // The base's low half is `v0 % 10^15`: words whose sum with it
            // carries into the high half, or just does not.
            (1_000_000_000_000_000i128 - 5_000_000_000)..(1_000_000_000_000_000 + 5_000_000),
        ]),
        // Microseconds past the base second, up to past the range.
        prop_oneof![0u64..3_000_000, 0u64..u64::from(u32::MAX) * 1_000],
        prop::collection::vec(0u32..5, 1..6),
        // Bases: the one above, or one whose low half is near 10^15.
        prop::bool::ANY,
    );
    let mut runner = TestRunner::new(PropConfig {
        cases: 256,
        failure_persistence: None,
        ..PropConfig::default()
    });
    let decided = std::cell::Cell::new(0u32);
    let refused = std::cell::Cell::new(0u32);
    let result = runner.run(&strategy, |(c, rel, micros, ns, other_base)| {
        let gcra = &configs()[c];
        let params = GcraParams::of::<_, HZ>(gcra).unwrap();
        let base = if other_base {
            // 999,999,999.9 ms of virtual time past a multiple of 10^15.
            base_secs + 2_996
        } else {
            base_secs
        };
        let batch = params.batch(base, ns.clone()).unwrap();
        let word = rel.and_then(|r| u64::try_from(i128::from(batch.v0) + r).ok());
        let at_ns = base * 1_000_000_000 + micros * 1_000;
        let key = format!("script:{c}:{rel:?}:{micros}:{other_base}");
        let got = rt.block_on(async {
            store.delete(&key).await?;
            if let Some(w) = word {
                store.compare_and_set(&key, None, w, None).await?;
            }
            let mut batch = batch.clone();
            batch.at_ns = Some(at_ns);
            store.decide_gcra(&key, &batch).await
        });
        let got = got.map_err(|e: StoreError| TestCaseError::fail(e.to_string()))?;
        let old = Read {
            value: word,
            server_now_ns: at_ns,
        };
        let rel_word = word.map(|w| i128::from(w) - i128::from(batch.v0));
        let out_of_range =
            micros / 1_000_000 > batch.max_secs || rel_word.is_some_and(|r| r >= LIMIT);
        match got {
            Some(GcraOutcome::Refused(read)) => {
                prop_assert!(out_of_range, "refused {word:?} at {at_ns}");
                prop_assert_eq!(read, old);
                refused.set(refused.get() + 1);
            }
            Some(GcraOutcome::Decided { old: read, stored }) => {
                prop_assert!(!out_of_range, "decided {word:?} at {at_ns}");
                prop_assert_eq!(read, old);
                prop_assert_eq!(stored, kernel(gcra, word, &ns, at_ns));
                decided.set(decided.get() + 1);
            }
            None => prop_assert!(false, "RedisStore has the script"),
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let (decided, refused) = (decided.get(), refused.get());
    assert!(
        decided > 64 && refused > 16,
        "{decided} decided, {refused} refused"
    );
}

/// A store on `server` (inside a tokio runtime).
fn open(server: &RedisServer) -> RedisStore {
    RedisStore::open(&server.url(), std::time::Duration::from_secs(2)).unwrap()
}

#[tokio::test]
async fn a_word_that_is_not_a_canonical_decimal_is_refused() {
    let server = RedisServer::start();
    {
        let store = open(&server);
        let params = GcraParams::of::<_, HZ>(&configs()[0]).unwrap();
        let mut batch = params.batch(1_700_000_000, vec![1]).unwrap();
        batch.at_ns = Some(1_700_000_000_000_000_000);
        for bad in ["007", "-1", "1e3", "x", "123456789012345678901"] {
            server.command(&["SET", "bad", bad]).unwrap();
            let got = store.decide_gcra("bad", &batch).await;
            assert!(
                matches!(got, Err(StoreError::Corrupt { .. })),
                "{bad}: {got:?}"
            );
            let kept = server.command(&["GET", "bad"]).unwrap();
            assert!(kept.trim_end().ends_with(&format!("\n{bad}")), "{kept:?}");
        }
    }
}
