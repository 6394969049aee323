//! What a handler of the store answers ([`Answer`]): either a future that the actor's
//! thread runs to its end and whose output goes to the sender, or an operation started
//! with the sender's reply channel, which the database thread that runs it answers
//! itself.
//!
//! The second saves a thread hop per call: on SQLite an operation runs whole on a
//! blocking thread, and a future on the actor's thread would only wait for it there to
//! pass its result on, so the blocking thread would wake the actor's thread, which would
//! then wake the sender's (an HTTP worker). The sender gets the same result either way.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use actix::dev::{MessageResponse, OneshotSender};
use actix::{Context, Message, ResponseFuture};

use super::StoreActor;
pub(crate) use crate::db::Replier;
use crate::error::StoreError;

/// What a handler answers: a `Result<T, StoreError>`, one way or the other.
pub struct Answer<T>(Reply<T>);

enum Reply<T> {
    /// A future run on the actor's thread.
    Future(ResponseFuture<Result<T, StoreError>>),
    /// An operation to start with its replier.
    Started(Box<dyn FnOnce(Replier<T>)>),
}

impl<T: 'static> Answer<T> {
    /// The answer `future` gives, on the actor's thread.
    pub fn future(future: impl Future<Output = Result<T, StoreError>> + 'static) -> Answer<T> {
        Answer(Reply::Future(Box::pin(future)))
    }

    /// `result`, at once.
    pub fn ready(result: Result<T, StoreError>) -> Answer<T> {
        Answer::future(std::future::ready(result))
    }

    /// The answer of an operation that `start` starts and that answers its sender
    /// through the [`Replier`] it is given, from whichever thread finishes it.
    pub fn started(start: impl FnOnce(Replier<T>) + 'static) -> Answer<T> {
        Answer(Reply::Started(Box::new(start)))
    }
}

impl<M, T> MessageResponse<StoreActor, M> for Answer<T>
where
    M: Message<Result = Result<T, StoreError>>,
    T: Send + 'static,
{
    fn handle(
        self,
        ctx: &mut Context<StoreActor>,
        sender: Option<OneshotSender<Result<T, StoreError>>>,
    ) {
        match self.0 {
            Reply::Future(future) => {
                <ResponseFuture<_> as MessageResponse<StoreActor, M>>::handle(future, ctx, sender)
            }
            Reply::Started(start) => start(Box::new(move |result| {
                // A sender that gave up waiting (`do_send`, a dropped request) is no
                // error of the operation's.
                if let Some(sender) = sender {
                    let _ = sender.send(result);
                }
            })),
        }
    }
}

/// An answer whose replier is handed out before its sender is known: the group
/// commit's queue takes [`PendingReply::replier`] when a save is queued, and the
/// [`Answer`] of [`PendingReply::answer`] meets it with the sender's replier, whichever
/// of the two comes first. So the thread that commits a save can answer its sender.
pub struct PendingReply<T>(Arc<Mutex<Rendezvous<T>>>);

enum Rendezvous<T> {
    /// Neither the result nor the sender's replier has come.
    Waiting,
    /// The result came first.
    Result(Result<T, StoreError>),
    /// The sender's replier came first.
    Sender(Replier<T>),
    /// They met.
    Met,
}

impl<T> Default for PendingReply<T> {
    /// A reply that neither side has reached yet.
    fn default() -> PendingReply<T> {
        PendingReply(Arc::new(Mutex::new(Rendezvous::Waiting)))
    }
}

impl<T: Send + 'static> PendingReply<T> {
    /// The replier that hands the result on to the sender.
    pub fn replier(&self) -> Replier<T> {
        let slot = self.0.clone();
        Box::new(move |result| {
            let mut state = slot.lock().unwrap_or_else(PoisonError::into_inner);
            match std::mem::replace(&mut *state, Rendezvous::Met) {
                Rendezvous::Sender(reply) => {
                    drop(state);
                    reply(result);
                }
                _ => *state = Rendezvous::Result(result),
            }
        })
    }

    /// The answer to the sender, given as soon as the replier is called.
    pub fn answer(self) -> Answer<T> {
        Answer::started(move |reply| {
            let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            match std::mem::replace(&mut *state, Rendezvous::Met) {
                Rendezvous::Result(result) => {
                    drop(state);
                    reply(result);
                }
                _ => *state = Rendezvous::Sender(reply),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    /// Starts `answer` as the actor would, with a replier that sends into a channel.
    fn start(answer: Answer<u32>) -> mpsc::Receiver<Result<u32, StoreError>> {
        let (send, received) = mpsc::channel();
        match answer.0 {
            Reply::Started(start) => start(Box::new(move |result| send.send(result).unwrap())),
            Reply::Future(_) => panic!("a pending reply is started, not a future"),
        }
        received
    }

    #[test]
    fn the_result_reaches_a_sender_that_came_first() {
        let pending = PendingReply::default();
        let reply = pending.replier();
        let received = start(pending.answer());
        assert!(received.try_recv().is_err(), "no answer before the result");
        reply(Ok(7));
        assert_eq!(received.try_recv().unwrap().unwrap(), 7);
    }

    #[test]
    fn a_result_that_came_first_waits_for_its_sender() {
        let pending = PendingReply::default();
        pending.replier()(Ok(8));
        let received = start(pending.answer());
        assert_eq!(received.try_recv().unwrap().unwrap(), 8);
    }
}
