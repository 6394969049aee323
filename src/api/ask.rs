//! Sending a message to the store from a handler: the answer becomes an [`ApiError`] on
//! failure, and every call is counted in the metrics (operation, result, in flight,
//! database faults).

use actix::{Handler, Message};

use super::error::ApiError;
use super::state::ApiState;
use crate::StoreActor;
use crate::error::StoreError;

/// Sends `message` to the store and waits for its answer.
pub async fn ask<M, T>(state: &ApiState, message: M) -> Result<T, ApiError>
where
    M: Message<Result = Result<T, StoreError>> + Send + 'static,
    T: Send + 'static,
    StoreActor: Handler<M>,
{
    let operation = operation_name::<M>();
    let answer = {
        let _in_flight = state.metrics.store_call();
        state.store.send(message).await
    };
    let result = match answer {
        Ok(result) => result.map_err(|error| {
            let database_fault =
                matches!(error, StoreError::Unavailable(_) | StoreError::Internal(_));
            let error = ApiError::from(error);
            if database_fault {
                state.metrics.record_database_error(error.code());
            }
            error
        }),
        Err(mailbox) => Err(ApiError::from(mailbox)),
    };
    let outcome = result.as_ref().map_or_else(ApiError::code, |_| "ok");
    state.metrics.record_store_call(operation, outcome);
    result
}

/// The message's type name without its module path: `SaveMessage`.
fn operation_name<M>() -> &'static str {
    let name = std::any::type_name::<M>();
    name.rsplit("::").next().unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::requests::SaveMessage;

    #[test]
    fn operation_names_are_short() {
        assert_eq!(operation_name::<SaveMessage>(), "SaveMessage");
    }
}
