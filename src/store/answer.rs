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

use actix::dev::{MessageResponse, OneshotSender};
use actix::{Context, Message, ResponseFuture};

use super::StoreActor;
use crate::error::StoreError;

/// What a handler answers: a `Result<T, StoreError>`, one way or the other.
pub struct Answer<T>(Reply<T>);

/// Hands the result of an operation to its sender, from any thread.
pub type Replier<T> = Box<dyn FnOnce(Result<T, StoreError>) + Send>;

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
