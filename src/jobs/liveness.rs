//! What every long-running worker of Pregón shares, the newsletter
//! dispatcher and the job runner alike: an identity (id, host, pid), a
//! heartbeat written on a timer, the rule that says a peer is dead (silent for
//! three heartbeats, or a process of this host that no longer exists), and a
//! graceful stop that turns a shutdown signal into "claim nothing more".
//!
//! Only the bookkeeping is shared: each worker keeps its own table of peers
//! and its own claiming, so the dispatcher's hot path is unchanged.

use chrono::{DateTime, TimeDelta, Utc};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::watch;

/// Who a worker is: its id (unique per process start), host and pid.
#[derive(Debug, Clone)]
pub struct Identity {
    pub id: String,
    pub host: String,
    pub pid: u32,
}

impl Identity {
    pub fn new() -> Identity {
        Identity {
            id: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
            host: hostname(),
            pid: std::process::id(),
        }
    }

    /// Whether a peer (another worker's row) is dead: silent for longer than
    /// `stale_after`, or a process on this host that no longer exists. This
    /// worker itself is never dead.
    pub fn is_dead(
        &self,
        peer_id: &str,
        peer_host: &str,
        peer_pid: i32,
        heartbeat_at: DateTime<Utc>,
        now: DateTime<Utc>,
        stale_after: TimeDelta,
    ) -> bool {
        peer_id != self.id
            && (heartbeat_at < now - stale_after
                || (peer_host == self.host && !process_alive(peer_pid)))
    }
}

impl Default for Identity {
    fn default() -> Self {
        Identity::new()
    }
}

/// Three heartbeats of silence make a worker dead.
pub fn stale_after(heartbeat_secs: u64) -> TimeDelta {
    TimeDelta::seconds(3 * heartbeat_secs.max(1) as i64)
}

/// Runs `beat` every `heartbeat_secs` until the returned handle is aborted;
/// a failed beat is logged, not fatal.
pub fn spawn_heartbeat<F, Fut>(
    heartbeat_secs: u64,
    what: &'static str,
    beat: F,
) -> tokio::task::JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = crate::error::Result<()>> + Send,
{
    tokio::spawn(async move {
        let period = Duration::from_secs(heartbeat_secs.max(1));
        loop {
            tokio::time::sleep(period).await;
            if let Err(e) = beat().await {
                tracing::error!(error = %e, "{what} heartbeat failed");
            }
        }
    })
}

/// A worker's stop flag: set once, read on every claim.
#[derive(Debug, Default)]
pub struct Stop(AtomicBool);

impl Stop {
    pub fn stop(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_stopping(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Calls `on_stop` when `shutdown` turns true; abort the handle when the
/// step it guards is over.
pub fn on_shutdown(
    mut shutdown: watch::Receiver<bool>,
    on_stop: impl FnOnce() + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if shutdown.wait_for(|stop| *stop).await.is_ok() {
            on_stop();
        }
    })
}

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".into())
}

/// Whether a process of this host is alive. Only Linux answers (through
/// /proc); elsewhere every process is assumed alive and only the heartbeat
/// decides.
pub fn process_alive(pid: i32) -> bool {
    if !std::path::Path::new("/proc/self").exists() {
        return true;
    }
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_peer_is_dead_when_silent_or_gone() {
        let me = Identity::new();
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
        let stale = stale_after(5);
        let alive = std::process::id() as i32;
        // Recent heartbeat, live process on this host: alive.
        assert!(!me.is_dead("other", &me.host, alive, now, now, stale));
        // Silent for more than three heartbeats: dead.
        assert!(me.is_dead(
            "other",
            "elsewhere",
            alive,
            now - TimeDelta::seconds(16),
            now,
            stale
        ));
        // This host, no such process: dead at once.
        assert!(me.is_dead("other", &me.host, i32::MAX - 1, now, now, stale));
        // Never itself.
        assert!(!me.is_dead(
            &me.id,
            &me.host,
            i32::MAX - 1,
            now - TimeDelta::days(1),
            now,
            stale
        ));
    }
}
