//! Tasks paced by one limiter, on embassy's host executor and real time.
//!
//! A radio may send 50 packets per second with a burst of 5. Two telemetry
//! tasks each send 20 packets as fast as the limiter lets them: they wait in
//! `until_ready`, on an `embassy_time::Timer`, exactly as long as the limiter
//! says. A third, low-priority task gives each packet 5 ms to get through
//! (`with_timeout`) and otherwise drops it: dropping a waiting
//! `until_ready` future charges nothing, so its give-ups cost the others no
//! capacity.
//!
//! At the end the program checks what the limiter promises, from the instants
//! at which the limiter admitted each packet (recorded by a logging wrapper
//! around it, itself a `Limiter`): no span `[t0, t1]` of sends holds more than
//! `5 + 50 * (t1 - t0)` packets. It exits with status 0 if so, 1 if not.
//!
//! Run: `cargo run --release` in this directory (about a second).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use embassy_executor::Spawner;
use embassy_time::{Duration, Timer, with_timeout};
use ratecore::clock::embassy::{TICK_HZ, until_ready};
use ratecore::{Decision, Gcra, Instant, Limiter, Quota, Status};

const RATE: u32 = 50;
const BURST: u32 = 5;
const PACKETS: u32 = 20;

static RADIO: Gcra<TICK_HZ> =
    ratecore::const_unwrap!(Gcra::new(Quota::per_second(RATE).burst(BURST)));

/// Tasks that have finished.
static DONE: AtomicU32 = AtomicU32::new(0);

/// Admission instants in ticks, and who was admitted.
static SENT: Mutex<Vec<(u64, &'static str)>> = Mutex::new(Vec::new());

/// The radio's limiter as one task sees it: every admitted check is recorded
/// with the exact instant it was decided at. Any `Limiter` can be awaited.
struct Logged {
    who: &'static str,
}

impl Limiter<TICK_HZ> for Logged {
    fn check_n_at(&self, n: u32, now: Instant<TICK_HZ>) -> Decision<TICK_HZ> {
        let decision = RADIO.check_n_at(n, now);
        if let Ok(status) = decision {
            let mut sent = SENT.lock().unwrap();
            let start = sent.first().map_or(now.as_ticks(), |&(t, _)| t);
            println!(
                "t = {:>5.1} ms  {:<9}  packet {:>2}  ({} left)",
                (now.as_ticks() - start) as f64 / 1_000.0,
                self.who,
                sent.len() + 1,
                status.remaining()
            );
            sent.push((now.as_ticks(), self.who));
        }
        decision
    }

    fn snapshot_at(&self, now: Instant<TICK_HZ>) -> Status<TICK_HZ> {
        RADIO.snapshot_at(now)
    }
}

#[embassy_executor::task(pool_size = 2)]
async fn telemetry(who: &'static str) {
    for _ in 0..PACKETS {
        // Never `Err`: one packet is within the burst. (The packet would go
        // out here.)
        let _ = until_ready(&Logged { who }).await;
    }
    DONE.fetch_add(1, Ordering::Relaxed);
}

#[embassy_executor::task]
async fn low_priority() {
    let mut dropped = 0;
    for _ in 0..PACKETS {
        let radio = Logged { who: "debug log" };
        if with_timeout(Duration::from_millis(5), until_ready(&radio))
            .await
            .is_err()
        {
            dropped += 1; // gave up: the dropped wait took nothing
        }
        Timer::after_millis(20).await;
    }
    println!("debug log: dropped {dropped} of {PACKETS} packets");
    DONE.fetch_add(1, Ordering::Relaxed);
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    spawner.spawn(telemetry("sensor A").unwrap());
    spawner.spawn(telemetry("sensor B").unwrap());
    spawner.spawn(low_priority().unwrap());
    // The telemetry tasks need about (2 * 20 - 5) / 50 s = 0.7 s.
    while DONE.load(Ordering::Relaxed) < 3 {
        Timer::after_millis(10).await;
    }
    std::process::exit(match check() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("FAILED: {e}");
            1
        }
    });
}

/// Every run of consecutive sends fits the quota's bound, and everyone got
/// through what they had to send.
fn check() -> Result<(), String> {
    let sent = SENT.lock().unwrap();
    for who in ["sensor A", "sensor B"] {
        let count = sent.iter().filter(|&&(_, w)| w == who).count();
        if count != PACKETS as usize {
            return Err(format!("{who} sent {count} of {PACKETS} packets"));
        }
    }
    for i in 0..sent.len() {
        for j in i..sent.len() {
            let (t0, t1) = (sent[i].0, sent[j].0);
            let allowed = u64::from(BURST) + (t1 - t0) * u64::from(RATE) / TICK_HZ;
            let packets = (j - i + 1) as u64;
            if packets > allowed {
                return Err(format!(
                    "{packets} packets in {} ticks, the quota allows {allowed}",
                    t1 - t0
                ));
            }
        }
    }
    println!(
        "{} packets, never more than {BURST} + {RATE}/s over any span: ok",
        sent.len()
    );
    Ok(())
}
