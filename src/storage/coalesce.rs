//! Statements shared by concurrent requests of the same shape: GetItems of one table, Queries
//! of one table, index and condition form.
//!
//! A statement costs PostgreSQL far more than the few rows it returns (a wake-up, parse of the
//! protocol messages, executor start and end, a write back), and costs the server a round trip,
//! so with many clients at once the cheapest way to serve them is to run their requests
//! together as one statement (an `unnest` of their parameters joined to the table). The
//! batching adds no waiting of its own:
//!
//! - a request joins its shape's queue; the first to find no one leading becomes the *leader*;
//! - the leader waits for its turn (at most [`Coalescer`]'s limit of statements run at once,
//!   and a pooled connection), then takes everything queued by then and runs it as one
//!   statement: a lone request (the usual case when idle) runs its own plain statement;
//! - everyone gets their own answer (or the error) back.
//!
//! So a lone request runs exactly as before (one statement, no delay), and requests that would
//! have waited for a connection anyway are answered by the statement they waited for. All the
//! requests of a statement are read in one snapshot taken after each arrived and before any is
//! answered, so every read still sees every write acknowledged before it began.
//!
//! A leader that goes away (its client disconnected and the request future was dropped)
//! releases its queue and the requests it held; their owners see their reply channel close and
//! queue again. When more requests wait than one statement takes, the leader hands the lead to
//! one of those left.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::{oneshot, Semaphore};

use crate::error::ApiError;

use super::Storage;

/// Most requests run by one statement; more waiting ones are served by a next statement.
const MAX_BATCH: usize = 100;

/// What a waiting request is told.
enum Reply<A> {
    /// Its answer, or why there is none.
    Done(Result<A, ApiError>),
    /// More requests queued than one statement takes: it leads the rest.
    Lead,
}

/// A request waiting for its answer.
struct Waiting<R, A> {
    request: R,
    reply: oneshot::Sender<Reply<A>>,
}

/// The requests of one shape waiting for a statement.
struct Queue<R, A> {
    waiting: Vec<Waiting<R, A>>,
    /// Someone is leading: it will take `waiting` when its statement can run.
    led: bool,
}

/// The queues of one kind of request (requests `R`, answers `A`), by shape, and the limit on
/// statements run at once.
pub(super) struct Coalescer<R, A> {
    queues: Mutex<HashMap<String, Queue<R, A>>>,
    /// `/metrics`: statements run and requests answered; their ratio is the mean batch size.
    statements: crate::metrics::Counter,
    requests: crate::metrics::Counter,
    /// Statements running at once. Fewer statements mean more requests per statement; a few
    /// per core keep PostgreSQL busy without queueing in it.
    running: Semaphore,
}

/// A batch's statement running: the answers to its requests, in their order. Boxed once per
/// statement (not per request), which keeps the request futures `Send`.
pub(super) type Statement<'c, A> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<A>, ApiError>> + Send + 'c>>;

/// The `/metrics` names and help texts of a [`Coalescer`]'s statement and request counters.
pub(super) type CounterNames = [(&'static str, &'static str); 2];

impl<R: Clone, A> Coalescer<R, A> {
    /// Queues allowing `statements` statements at once, counted under `names`.
    pub(super) fn new(statements: usize, names: CounterNames) -> Self {
        let metrics = crate::metrics::global();
        let [(statements_name, statements_help), (requests_name, requests_help)] = names;
        Coalescer {
            queues: Mutex::new(HashMap::new()),
            statements: metrics.counter(statements_name, statements_help, &[]),
            requests: metrics.counter(requests_name, requests_help, &[]),
            running: Semaphore::new(statements.max(1)),
        }
    }

    /// Answers `request` through a statement shared with the other requests of `shape` queued
    /// at the time: `run` gets a connection and the batch's requests (one or more) and returns
    /// their answers in the same order.
    pub(super) async fn run(
        &self,
        storage: &Storage,
        shape: &str,
        request: &R,
        run: impl for<'c> Fn(&'c deadpool_postgres::Object, &'c [R]) -> Statement<'c, A>,
    ) -> Result<A, ApiError> {
        let mut handed_lead = false;
        loop {
            let (reply, answer) = oneshot::channel();
            let mut answer = Answer {
                reply: answer,
                coalescer: self,
                shape,
            };
            let waiting = Waiting {
                request: request.clone(),
                reply,
            };
            if self.join(shape, waiting, handed_lead) {
                self.lead(storage, shape, &run).await;
            }
            handed_lead = match (&mut answer.reply).await {
                Ok(Reply::Done(result)) => return result,
                Ok(Reply::Lead) => true,
                // The leader went away with our request: queue again.
                Err(_) => false,
            };
        }
    }

    /// Queues a request; true if it must lead (it is the first, or it was handed the lead).
    fn join(&self, shape: &str, waiting: Waiting<R, A>, handed_lead: bool) -> bool {
        let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        let queue = match queues.get_mut(shape) {
            Some(queue) => queue,
            None => queues.entry(shape.to_owned()).or_insert_with(|| Queue {
                waiting: Vec::new(),
                led: false,
            }),
        };
        queue.waiting.push(waiting);
        !std::mem::replace(&mut queue.led, true) || handed_lead
    }

    /// Leads `shape`'s queue: waits for a turn and a connection, then runs what has queued.
    async fn lead(
        &self,
        storage: &Storage,
        shape: &str,
        run: &impl for<'c> Fn(&'c deadpool_postgres::Object, &'c [R]) -> Statement<'c, A>,
    ) {
        let mut leadership = Leadership {
            coalescer: self,
            shape,
            held: true,
        };
        // The semaphore is never closed.
        let _turn = self.running.acquire().await;
        let conn = storage.conn().await;
        // Let the requests that arrived with this one (other connections' tasks ready in the
        // same turn of the scheduler) join before the batch is taken.
        tokio::task::yield_now().await;
        let waiting = leadership.take();
        if waiting.is_empty() {
            return;
        }
        self.statements.inc();
        self.requests.add(waiting.len() as u64);
        let (requests, replies): (Vec<R>, Vec<_>) =
            waiting.into_iter().map(|w| (w.request, w.reply)).unzip();
        let result = match conn {
            Ok(conn) => run(&conn, &requests).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(answers) if answers.len() == replies.len() => {
                for (reply, answer) in replies.into_iter().zip(answers) {
                    let _ = reply.send(Reply::Done(Ok(answer)));
                }
            }
            Ok(_) => {
                let e =
                    ApiError::internal("a batch statement answered the wrong number of requests");
                for reply in replies {
                    let _ = reply.send(Reply::Done(Err(e.clone())));
                }
            }
            Err(e) => {
                for reply in replies {
                    let _ = reply.send(Reply::Done(Err(e.clone())));
                }
            }
        }
    }
}

impl<R, A> Coalescer<R, A> {
    /// Ends a leadership nobody will exercise: the waiting requests' reply senders are dropped,
    /// which tells them to queue again.
    fn abandon(&self, shape: &str) {
        let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        queues.remove(shape);
    }
}

/// The leadership of one queue, released on drop if the leader goes away before it has taken
/// the queue: the requests left waiting then queue again.
struct Leadership<'a, R, A> {
    coalescer: &'a Coalescer<R, A>,
    shape: &'a str,
    held: bool,
}

impl<R, A> Leadership<'_, R, A> {
    /// Takes up to [`MAX_BATCH`] waiting requests. Leadership ends here; if requests remain,
    /// it passes to one of them.
    fn take(&mut self) -> Vec<Waiting<R, A>> {
        self.held = false;
        let mut queues = self
            .coalescer
            .queues
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let Some(queue) = queues.get_mut(self.shape) else {
            return Vec::new();
        };
        let rest = if queue.waiting.len() > MAX_BATCH {
            queue.waiting.split_off(MAX_BATCH)
        } else {
            Vec::new()
        };
        let taken = std::mem::replace(&mut queue.waiting, rest);
        // Hand the lead on to a request still there (one whose future was dropped cannot take
        // it). It queues again as the leader without waiting in between, so the lead is never
        // lost.
        while !queue.waiting.is_empty() {
            let next = queue.waiting.remove(0);
            if next.reply.send(Reply::Lead).is_ok() {
                return taken;
            }
        }
        queues.remove(self.shape);
        taken
    }
}

impl<R, A> Drop for Leadership<'_, R, A> {
    fn drop(&mut self) {
        if self.held {
            self.coalescer.abandon(self.shape);
        }
    }
}

/// A request's end of its reply channel. A request handed the lead whose future is dropped
/// before it reads that message would leave its queue without a leader: its drop abandons the
/// queue instead.
struct Answer<'a, R, A> {
    reply: oneshot::Receiver<Reply<A>>,
    coalescer: &'a Coalescer<R, A>,
    shape: &'a str,
}

impl<R, A> Drop for Answer<'_, R, A> {
    fn drop(&mut self) {
        if let Ok(Reply::Lead) = self.reply.try_recv() {
            self.coalescer.abandon(self.shape);
        }
    }
}
