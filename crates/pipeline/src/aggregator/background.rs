//! The helper tasks of one aggregator run — the registry tailers, the
//! poller, the lag probe, the write-age ticker — stopped and waited for when
//! the run ends, so none outlives it and talks to a broker that is going
//! away (which librdkafka reports as errors).

use tokio_util::sync::CancellationToken;

/// Tasks and threads of one run, stopped by one token.
#[derive(Debug, Default)]
pub(crate) struct Background {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Background {
    /// Keeps a task to wait for.
    pub(crate) fn task(&mut self, handle: tokio::task::JoinHandle<()>) {
        self.tasks.push(handle);
    }

    /// Keeps a thread to wait for.
    pub(crate) fn thread(&mut self, handle: std::thread::JoinHandle<()>) {
        self.threads.push(handle);
    }

    /// Cancels `stop` and waits until every task and thread has returned.
    pub(crate) async fn stop(self, stop: &CancellationToken) {
        stop.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
        let threads = self.threads;
        let _ = tokio::task::spawn_blocking(move || {
            for thread in threads {
                let _ = thread.join();
            }
        })
        .await;
    }
}
