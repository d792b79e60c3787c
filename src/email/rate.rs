//! Send pacing: at most N sends in any 1-second window and at most M in any
//! 3600-second window, each limit optional and changeable at runtime.
//!
//! A sliding-window log rather than GCRA: providers state their limits as
//! "N per second / per hour" over arbitrary windows, and a log honours that
//! exactly, including bursts of N. A send at instant `t` occupies the windows
//! `[t, t + w)`; the (N+1)-th send may therefore go exactly when the N-th most
//! recent one is `w` old.
//!
//! The log keeps only the N most recent sends the current limits need.
//! Beyond it, sends are counted per second for the last hour (a fixed 57 KB),
//! so a limit introduced or raised later still sees the recent past: the
//! sends it only knows by their second count as made at that second's end,
//! which can make it wait up to a second longer than needed, never less.

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::clock::Clock;

const SECOND: TimeDelta = TimeDelta::seconds(1);
const HOUR: TimeDelta = TimeDelta::seconds(3600);
const HOUR_SECONDS: usize = 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimits {
    #[serde(default)]
    pub per_second: Option<NonZeroU32>,
    #[serde(default)]
    pub per_hour: Option<NonZeroU32>,
}

impl RateLimits {
    pub fn new(per_second: Option<u32>, per_hour: Option<u32>) -> Self {
        Self {
            per_second: per_second.and_then(NonZeroU32::new),
            per_hour: per_hour.and_then(NonZeroU32::new),
        }
    }
}

pub struct RateLimiter {
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    /// Wakes sleeping `acquire` calls when the limits change.
    changed: Notify,
}

struct State {
    limits: RateLimits,
    /// The most recent send instants the limits need, ascending.
    sent: VecDeque<DateTime<Utc>>,
    /// (Unix second, sends in it), indexed by the second modulo 3600.
    per_second: Vec<(i64, u32)>,
}

impl RateLimiter {
    pub fn new(limits: RateLimits, clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            state: Mutex::new(State {
                limits,
                sent: VecDeque::new(),
                per_second: vec![(i64::MIN, 0); HOUR_SECONDS],
            }),
            changed: Notify::new(),
        }
    }

    pub fn limits(&self) -> RateLimits {
        self.lock().limits
    }

    /// Applies to the very next `try_acquire`, judged against sends already
    /// made: lowering a limit below what was just sent makes callers wait.
    pub fn set_limits(&self, limits: RateLimits) {
        let now = self.clock.now();
        let mut state = self.lock();
        state.limits = limits;
        if state.needed() > state.sent.len() {
            state.recall(now);
        }
        drop(state);
        self.changed.notify_waiters();
    }

    /// Takes a slot now, or says how long until one frees up.
    pub fn try_acquire(&self) -> Result<(), Duration> {
        let now = self.clock.now();
        let mut state = self.lock();
        let limits = state.limits;
        let wait = [(limits.per_second, SECOND), (limits.per_hour, HOUR)]
            .into_iter()
            .filter_map(|(limit, window)| wait_for(&state.sent, now, limit?, window))
            .max();
        if let Some(wait) = wait {
            return Err(wait.to_std().unwrap_or(Duration::ZERO));
        }
        // The clock may step backwards (NTP); keeping the log sorted keeps
        // the N-th most recent send at a fixed index.
        let at = state.sent.partition_point(|t| *t <= now);
        state.sent.insert(at, now);
        state.count(now);
        state.prune(now);
        Ok(())
    }

    /// Waits (on tokio's timer) until a slot is free and takes it.
    /// Cancel-safe: a slot is only recorded when this returns.
    pub async fn acquire(&self) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            // Registered before checking, so a `set_limits` between the check
            // and the sleep is not missed.
            changed.as_mut().enable();
            match self.try_acquire() {
                Ok(()) => return,
                Err(wait) => {
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = &mut changed => {}
                    }
                }
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl State {
    /// How many recent sends the limits look at.
    fn needed(&self) -> usize {
        [self.limits.per_second, self.limits.per_hour]
            .into_iter()
            .flatten()
            .map(|n| n.get() as usize)
            .max()
            .unwrap_or(0)
    }

    fn count(&mut self, now: DateTime<Utc>) {
        let second = now.timestamp();
        let slot = &mut self.per_second[second.rem_euclid(HOUR_SECONDS as i64) as usize];
        if slot.0 == second {
            slot.1 += 1;
        } else {
            *slot = (second, 1);
        }
    }

    fn prune(&mut self, now: DateTime<Utc>) {
        while self.sent.front().is_some_and(|t| *t <= now - HOUR) {
            self.sent.pop_front();
        }
        let needed = self.needed();
        while self.sent.len() > needed {
            self.sent.pop_front();
        }
    }

    /// Puts back into the log the sends of the last hour that only the
    /// per-second counts remember, each at the latest instant it can have
    /// had: the end of its second, or the oldest logged send if that is
    /// earlier (the log holds the most recent ones).
    fn recall(&mut self, now: DateTime<Utc>) {
        let oldest_logged = self.sent.front().copied();
        let last_second = oldest_logged.map_or(now.timestamp(), |t| t.timestamp());
        let mut seconds: Vec<(i64, u32)> = self
            .per_second
            .iter()
            .copied()
            .filter(|(second, n)| {
                *n > 0 && *second > now.timestamp() - 3600 && *second <= last_second
            })
            .collect();
        seconds.sort_unstable();
        let mut recalled = Vec::new();
        for (second, n) in seconds {
            let logged = self
                .sent
                .iter()
                .take_while(|t| t.timestamp() == second)
                .count();
            let Some(start) = DateTime::from_timestamp(second, 0) else {
                continue;
            };
            let mut at = start + SECOND - TimeDelta::nanoseconds(1);
            if let Some(oldest) = oldest_logged {
                at = at.min(oldest);
            }
            let missing = (n as usize).saturating_sub(logged);
            recalled.extend(std::iter::repeat_n(at, missing));
        }
        for at in recalled.into_iter().rev() {
            self.sent.push_front(at);
        }
        self.prune(now);
    }
}

/// With N sends allowed per `window`, a new send at `now` is allowed iff the
/// N-th most recent send is at least `window` old.
fn wait_for(
    sent: &VecDeque<DateTime<Utc>>,
    now: DateTime<Utc>,
    limit: NonZeroU32,
    window: TimeDelta,
) -> Option<TimeDelta> {
    let n = limit.get() as usize;
    let nth_most_recent = *sent.get(sent.len().checked_sub(n)?)?;
    let free_at = nth_most_recent + window;
    (free_at > now).then(|| free_at - now)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::clock::ManualClock;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 14, 9, 0, 0).unwrap()
    }

    fn ms(n: i64) -> TimeDelta {
        TimeDelta::milliseconds(n)
    }

    fn limiter(per_second: Option<u32>, per_hour: Option<u32>) -> (Arc<ManualClock>, RateLimiter) {
        let clock = Arc::new(ManualClock::new(t0()));
        let limiter = RateLimiter::new(RateLimits::new(per_second, per_hour), clock.clone());
        (clock, limiter)
    }

    #[test]
    fn exactly_n_in_a_burst_then_wait_for_the_oldest() {
        let (clock, limiter) = limiter(Some(3), None);
        for _ in 0..3 {
            assert_eq!(limiter.try_acquire(), Ok(()));
        }
        assert_eq!(limiter.try_acquire(), Err(Duration::from_secs(1)));
        clock.advance(ms(999));
        assert_eq!(limiter.try_acquire(), Err(Duration::from_millis(1)));
        clock.advance(ms(1));
        // All three left the window together, so three more fit.
        for _ in 0..3 {
            assert_eq!(limiter.try_acquire(), Ok(()));
        }
        assert_eq!(limiter.try_acquire(), Err(Duration::from_secs(1)));
    }

    #[test]
    fn spread_sends_free_one_slot_at_a_time() {
        let (clock, limiter) = limiter(Some(3), None);
        for offset in [0, 500, 900] {
            clock.set(t0() + ms(offset));
            assert_eq!(limiter.try_acquire(), Ok(()));
        }
        clock.set(t0() + ms(950));
        assert_eq!(limiter.try_acquire(), Err(Duration::from_millis(50)));
        clock.set(t0() + ms(1000));
        assert_eq!(limiter.try_acquire(), Ok(()));
        // Now the oldest in the window is the one sent at 500 ms.
        assert_eq!(limiter.try_acquire(), Err(Duration::from_millis(500)));
        clock.set(t0() + ms(1500));
        assert_eq!(limiter.try_acquire(), Ok(()));
    }

    #[test]
    fn both_limits_together_take_the_longest_wait() {
        let (clock, limiter) = limiter(Some(2), Some(5));
        assert_eq!(limiter.try_acquire(), Ok(()));
        assert_eq!(limiter.try_acquire(), Ok(()));
        assert_eq!(limiter.try_acquire(), Err(Duration::from_secs(1)));
        clock.advance(SECOND);
        assert_eq!(limiter.try_acquire(), Ok(()));
        assert_eq!(limiter.try_acquire(), Ok(()));
        clock.advance(SECOND);
        assert_eq!(limiter.try_acquire(), Ok(()));
        // Five sent within the hour; the first two at t0 free up at t0+1h.
        assert_eq!(limiter.try_acquire(), Err(Duration::from_secs(3598)));
        clock.set(t0() + HOUR - ms(1));
        assert_eq!(limiter.try_acquire(), Err(Duration::from_millis(1)));
        clock.set(t0() + HOUR);
        assert_eq!(limiter.try_acquire(), Ok(()));
        assert_eq!(limiter.try_acquire(), Ok(()));
        // Per second is the binding limit again (2 sent at t0+1h).
        assert_eq!(limiter.try_acquire(), Err(Duration::from_secs(1)));
        clock.advance(SECOND);
        // Per hour: the sends at t0+1s are the oldest of the last five.
        assert_eq!(limiter.try_acquire(), Ok(()));
        assert_eq!(limiter.try_acquire(), Ok(()));
        assert_eq!(limiter.try_acquire(), Err(Duration::from_secs(1)));
    }

    #[test]
    fn limits_change_immediately_and_see_past_sends() {
        let (clock, limiter) = limiter(Some(10), None);
        for _ in 0..5 {
            assert_eq!(limiter.try_acquire(), Ok(()));
        }
        limiter.set_limits(RateLimits::new(Some(3), None));
        assert_eq!(limiter.try_acquire(), Err(Duration::from_secs(1)));
        limiter.set_limits(RateLimits::new(Some(6), None));
        assert_eq!(limiter.try_acquire(), Ok(()));
        assert_eq!(limiter.try_acquire(), Err(Duration::from_secs(1)));
        limiter.set_limits(RateLimits::default());
        for _ in 0..100 {
            assert_eq!(limiter.try_acquire(), Ok(()));
        }
        // An hourly limit introduced later still counts those 106 sends,
        // known by their second only: as made at its end.
        clock.advance(TimeDelta::minutes(30));
        limiter.set_limits(RateLimits::new(None, Some(50)));
        assert_eq!(
            limiter.try_acquire(),
            Err(Duration::from_secs(1801) - Duration::from_nanos(1))
        );
        clock.advance(TimeDelta::seconds(1801));
        for _ in 0..50 {
            assert_eq!(limiter.try_acquire(), Ok(()));
        }
        assert!(limiter.try_acquire().is_err());
        assert_eq!(limiter.limits(), RateLimits::new(None, Some(50)));
    }

    #[test]
    fn clock_stepping_back_never_lets_more_through() {
        let (clock, limiter) = limiter(Some(2), None);
        assert_eq!(limiter.try_acquire(), Ok(()));
        clock.advance(ms(-400));
        assert_eq!(limiter.try_acquire(), Ok(()));
        // Log holds t0-400ms and t0; the earlier leaves the window at t0+600ms.
        assert_eq!(limiter.try_acquire(), Err(Duration::from_millis(1000)));
        clock.advance(ms(600));
        assert_eq!(limiter.try_acquire(), Err(Duration::from_millis(400)));
        clock.advance(ms(400));
        assert_eq!(limiter.try_acquire(), Ok(()));
        assert_eq!(limiter.try_acquire(), Err(Duration::from_millis(400)));
    }

    /// Randomised check of both directions of "exactly N": never more than N
    /// sends in any window, and a refusal only when N are already in it, with
    /// the wait ending exactly when one leaves.
    #[test]
    fn sliding_window_invariant_holds_under_random_load() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for (per_second, per_hour) in [(Some(3), None), (Some(5), Some(40)), (None, Some(7))] {
            let (clock, limiter) = limiter(per_second, per_hour);
            let mut sent: Vec<DateTime<Utc>> = Vec::new();
            let mut now = t0();
            for _ in 0..3000 {
                now += ms(rng.random_range(0..400));
                clock.set(now);
                let in_window = |w: TimeDelta| sent.iter().filter(|t| **t > now - w).count();
                let expected_full = [(per_second, SECOND), (per_hour, HOUR)]
                    .iter()
                    .any(|(l, w)| l.is_some_and(|l| in_window(*w) >= l as usize));
                match limiter.try_acquire() {
                    Ok(()) => {
                        assert!(!expected_full, "allowed over the limit at {now}");
                        sent.push(now);
                    }
                    Err(wait) => {
                        assert!(expected_full, "refused below the limit at {now}");
                        let wait = TimeDelta::from_std(wait).unwrap();
                        assert!(wait > TimeDelta::zero());
                        // One tick earlier is still too early, at the wait it fits.
                        clock.set(now + wait - TimeDelta::nanoseconds(1));
                        assert!(limiter.try_acquire().is_err());
                        now += wait;
                        clock.set(now);
                        assert_eq!(limiter.try_acquire(), Ok(()));
                        sent.push(now);
                    }
                }
            }
            for (limit, window) in [(per_second, SECOND), (per_hour, HOUR)] {
                let Some(limit) = limit else { continue };
                for (i, start) in sent.iter().enumerate() {
                    let count = sent[i..]
                        .iter()
                        .take_while(|t| **t < *start + window)
                        .count();
                    assert!(
                        count <= limit as usize,
                        "{count} sends in window from {start}"
                    );
                }
            }
        }
    }

    /// A limit set after unlimited sending counts what was sent before it:
    /// every send allowed afterwards has at most N sends (itself included)
    /// in the hour up to it.
    #[test]
    fn a_limit_introduced_later_never_lets_more_through() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        for _ in 0..30 {
            let (clock, limiter) = limiter(None, None);
            let mut sent = Vec::new();
            let mut now = t0();
            for _ in 0..rng.random_range(0..600) {
                now += ms(rng.random_range(0..3000));
                clock.set(now);
                assert_eq!(limiter.try_acquire(), Ok(()));
                sent.push(now);
            }
            let limit = rng.random_range(1..200);
            limiter.set_limits(RateLimits::new(Some(limit + 5), Some(limit)));
            let before = sent.len();
            for _ in 0..600 {
                now += ms(rng.random_range(0..20_000));
                clock.set(now);
                if limiter.try_acquire().is_ok() {
                    sent.push(now);
                }
            }
            for at in &sent[before..] {
                let in_hour = sent.iter().filter(|t| **t > *at - HOUR && *t <= at).count();
                assert!(in_hour <= limit as usize, "{in_hour} > {limit} at {at}");
            }
        }
    }

    /// Reads tokio's (pausable) clock, so `acquire`'s real sleeps and the
    /// limiter's notion of time advance together without the test sleeping.
    struct TokioClock {
        base: DateTime<Utc>,
        start: tokio::time::Instant,
    }

    impl Clock for TokioClock {
        fn now(&self) -> DateTime<Utc> {
            self.base + TimeDelta::from_std(self.start.elapsed()).unwrap()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn acquire_sleeps_exactly_until_a_slot_frees() {
        let start = tokio::time::Instant::now();
        let clock = Arc::new(TokioClock { base: t0(), start });
        let limiter = RateLimiter::new(RateLimits::new(Some(2), None), clock);
        limiter.acquire().await;
        limiter.acquire().await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        limiter.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        limiter.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        limiter.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test]
    async fn acquire_wakes_when_limits_are_raised() {
        let clock = Arc::new(ManualClock::new(t0()));
        let limiter = Arc::new(RateLimiter::new(RateLimits::new(None, Some(1)), clock));
        limiter.acquire().await;
        let waiting = tokio::spawn({
            let limiter = limiter.clone();
            async move { limiter.acquire().await }
        });
        // Give the task time to register and start its hour-long sleep.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(!waiting.is_finished());
        limiter.set_limits(RateLimits::new(None, Some(2)));
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("woken by set_limits, not by the hour passing")
            .unwrap();
        assert_eq!(limiter.try_acquire(), Err(Duration::from_secs(3600)));
    }
}
