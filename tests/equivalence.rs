//! Greedy `TokenBucket` and `Gcra` are the same machine: with the same quota
//! they decide identically, and so do their two independently written models
//! (virtual scheduling and token counting). The models also pass the architecture's
//! invariants on their own, which checks the invariant checks.

use ratecore_testkit::{model, strategy};

use proptest::prelude::*;
use ratecore::{Gcra, RefillMode, TokenBucket};

use model::gcra::Gcra as GcraModel;
use model::harness::{differential, gcra_config};
use model::invariants::invariants;
use model::spec::QuotaSpec;
use model::token_bucket::{Refill, TokenBucket as BucketModel};
use model::trace::{Config, Op};

fn crates_agree<const HZ: u64>(spec: &QuotaSpec, ops: &[Op]) -> Result<(), TestCaseError> {
    let quota = spec.quota();
    let gcra = Gcra::<HZ>::new(quota);
    let bucket = TokenBucket::<HZ>::new(quota, RefillMode::Greedy);
    let (mut gcra, mut bucket) = match (gcra, bucket) {
        (Ok(g), Ok(b)) => (g, b),
        (Err(g), Err(b)) => {
            prop_assert_eq!(g, b, "the two refuse the quota differently");
            return Err(TestCaseError::reject("quota refused"));
        }
        (g, b) => {
            return Err(TestCaseError::fail(format!(
                "one accepts the quota: {:?} / {:?}",
                g.err(),
                b.err()
            )));
        }
    };
    prop_assert_eq!(gcra.horizon(), bucket.horizon());
    prop_assert_eq!(gcra.burst(), bucket.burst());
    let cfg = gcra_config(&gcra);
    differential(
        ops,
        &cfg,
        &mut gcra,
        &mut [("greedy TokenBucket", &mut bucket)],
    );
    Ok(())
}

/// A rate for the models alone: any `T = units / scale`, any burst and horizon.
fn model_config() -> impl Strategy<Value = Config> {
    let units = prop_oneof![1..=1_000u64, 1..=(1u64 << 40), 1..=u64::MAX];
    let scale = prop_oneof![Just(1u64), 1..=1_000u64, 1..=(1u64 << 32)];
    let burst = prop_oneof![1..=20u32, 1..=u32::MAX];
    let horizon = prop_oneof![Just(u64::MAX), any::<u64>(), 0..=1_000_000u64];
    (units, scale, burst, horizon).prop_map(|(units, scale, burst, horizon)| Config {
        burst,
        horizon,
        rate: Refill::Greedy { units, scale },
    })
}

fn interval_config() -> impl Strategy<Value = Config> {
    let period = prop_oneof![1..=1_000u64, 1..=u64::MAX];
    let count = prop_oneof![1..=10u32, 1..=u32::MAX];
    let burst = prop_oneof![1..=20u32, 1..=u32::MAX];
    let horizon = prop_oneof![Just(u64::MAX), any::<u64>()];
    (period, count, burst, horizon).prop_map(|(period, count, burst, horizon)| Config {
        burst,
        horizon,
        rate: Refill::Interval { period, count },
    })
}

fn gcra_model(cfg: &Config) -> GcraModel {
    let Refill::Greedy { units, scale } = cfg.rate else {
        unreachable!()
    };
    GcraModel::new(units, scale, cfg.burst, cfg.horizon)
}

ratecore_testkit::at_three_rates!(
    /// `Gcra` and a greedy `TokenBucket` on one quota answer alike.
    mod gcra_and_greedy_bucket_agree: 64 => crates_agree
);

proptest! {
    #![proptest_config(ratecore_testkit::config(64))]

    #[test]
    fn the_two_models_agree(cfg in model_config(), ops in strategy::ops(80)) {
        let mut bucket = BucketModel::new(cfg.rate, cfg.burst, cfg.horizon);
        differential(&ops, &cfg, &mut gcra_model(&cfg), &mut [("token-count model", &mut bucket)]);
    }

    #[test]
    fn the_gcra_model_keeps_the_invariants(cfg in model_config(), ops in strategy::ops(60)) {
        invariants(&ops, &cfg, gcra_model(&cfg), &mut gcra_model(&cfg));
    }

    #[test]
    fn the_greedy_bucket_model_keeps_the_invariants(cfg in model_config(), ops in strategy::ops(60)) {
        let fresh = || BucketModel::new(cfg.rate, cfg.burst, cfg.horizon);
        invariants(&ops, &cfg, fresh(), &mut fresh());
    }

    #[test]
    fn the_interval_bucket_model_keeps_the_invariants(cfg in interval_config(), ops in strategy::ops(60)) {
        let fresh = || BucketModel::new(cfg.rate, cfg.burst, cfg.horizon);
        invariants(&ops, &cfg, fresh(), &mut fresh());
    }
}
