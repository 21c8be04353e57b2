//! Request threads and their share of the connections.
//!
//! The server runs one single-threaded runtime per request thread (see `server::threads`), and
//! each of those threads gets its own connection pool and GetItem queues: a tokio-postgres
//! connection's task runs on the thread that opened it, so a request served entirely on one
//! thread, from reading its HTTP request to PostgreSQL's answer, wakes no other thread. Handing
//! work between threads costs a context switch each way, which on a small machine was a third of
//! a GetItem's CPU (README, Performance).
//!
//! A thread says which lane it is once, when it starts ([`enter`]); every other thread
//! (the one that starts the server, tests, helpers) uses the first lane.

use std::cell::Cell;

thread_local! {
    /// The lane of the calling thread; 0 unless the thread entered another.
    static LANE: Cell<usize> = const { Cell::new(0) };
}

/// Marks the calling thread as request thread `lane`: its storage calls use that lane's
/// connections from now on.
pub fn enter(lane: usize) {
    LANE.with(|l| l.set(lane));
}

/// The calling thread's lane.
pub(super) fn current() -> usize {
    LANE.with(Cell::get)
}

/// Smallest pool a lane gets: one connection for GetItem's batched reads and one for everything
/// else, so that a lane's writes never wait behind its reads.
const MIN_LANE_POOL: usize = 2;

/// How `pool_size` connections are shared out among up to `threads` request threads: as many
/// lanes as get at least [`MIN_LANE_POOL`] connections each (at least one lane), the remainder
/// going to the first lanes. The sizes add up to `pool_size`, so the setting stays the limit on
/// connections to PostgreSQL.
pub fn pool_sizes(pool_size: usize, threads: usize) -> Vec<usize> {
    let pool_size = pool_size.max(1);
    let lanes = threads.min(pool_size / MIN_LANE_POOL).max(1);
    (0..lanes)
        .map(|i| pool_size / lanes + usize::from(i < pool_size % lanes))
        .collect()
}

/// How many GetItem statements one lane runs at once: the lane's share of the cores (fewer
/// statements mean more keys per statement; one per core keeps PostgreSQL busy without queueing
/// in it), and at most half its pool, so that writes always find connections.
pub(super) fn point_read_statements(lane_pool: usize, lanes: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    (cores / lanes.max(1)).min(lane_pool / 2).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_sizes_add_up_to_the_setting() {
        assert_eq!(pool_sizes(8, 1), vec![8]);
        assert_eq!(pool_sizes(8, 2), vec![4, 4]);
        assert_eq!(pool_sizes(9, 2), vec![5, 4]);
        assert_eq!(pool_sizes(10, 3), vec![4, 3, 3]);
        for (pool, threads) in [(8, 16), (3, 4), (1, 8), (0, 2), (64, 7)] {
            let sizes = pool_sizes(pool, threads);
            assert_eq!(sizes.iter().sum::<usize>(), pool.max(1), "{pool} {threads}");
            assert!(sizes.len() <= threads.max(1));
        }
    }

    #[test]
    fn lanes_get_at_least_two_connections() {
        assert_eq!(pool_sizes(8, 16), vec![2, 2, 2, 2]);
        assert_eq!(pool_sizes(3, 4), vec![3]);
        assert_eq!(pool_sizes(1, 8), vec![1]);
    }

    #[test]
    fn threads_other_than_request_threads_use_the_first_lane() {
        let seen = std::thread::spawn(current).join().unwrap();
        assert_eq!(seen, 0);
        let seen = std::thread::spawn(|| {
            enter(3);
            current()
        })
        .join()
        .unwrap();
        assert_eq!(seen, 3);
    }
}
