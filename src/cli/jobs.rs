//! The job runner beside the dispatcher: `pregon dispatch` and `serve` run
//! both, and stop both on SIGTERM.

use crate::clock::SharedClock;
use crate::config::Settings;
use crate::db::Db;
use crate::jobs::{self, Runner};

pub struct Running {
    task: tokio::task::JoinHandle<crate::error::Result<()>>,
    grace: std::time::Duration,
}

/// Starts a runner with the standard handlers, stopping on SIGTERM.
pub fn start(
    settings: &Settings,
    db: Db,
    clock: SharedClock,
    exit_when_idle: bool,
) -> anyhow::Result<Running> {
    let handlers = jobs::standard_handlers(settings, &db, &clock)?;
    let planners = jobs::standard_planners(settings);
    let runner = Runner::with_planners(db, clock, settings.jobs.clone(), handlers, planners)?;
    let shutdown = super::shutdown_signal();
    Ok(Running {
        task: tokio::spawn(runner.run(shutdown, exit_when_idle)),
        grace: std::time::Duration::from_secs(settings.jobs.shutdown_grace_secs),
    })
}

impl Running {
    /// Waits for the runner to stop (SIGTERM, or idle); attempts still
    /// under way after the grace period are left to recovery.
    pub async fn finish(self) -> anyhow::Result<()> {
        let mut task = self.task;
        match tokio::time::timeout(self.grace, &mut task).await {
            Ok(result) => Ok(result??),
            Err(_) => {
                task.abort();
                tracing::warn!("jobs under way did not finish in time; they will be checked again");
                Ok(())
            }
        }
    }
}
