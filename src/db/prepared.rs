//! [`Prepared`]: a statement the connection keeps prepared, although diesel would
//! prepare it again for every call.
//!
//! Diesel never caches an `UPDATE`, an upsert or `sql_query`: their SQL may change with
//! their values (a changeset skips a `None` field), so it parses them again each time.
//! On SQLite, whose parser runs in process, that was a quarter of the writer thread's
//! time in a group commit: the counter `UPDATE` ran, and was parsed, once per
//! conversation of every batch. Wrapping a statement whose text never depends on its
//! values lets the connection's statement cache (keyed by the SQL text) keep it.

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::result::QueryResult;

/// `statement`, marked safe to keep prepared. Only for statements whose SQL text is the
/// same whatever their values: no `Option` in a changeset, no `IN` list, no literal.
#[derive(Debug, Clone, Copy)]
pub struct Prepared<Q>(pub Q);

impl<Q, DB> QueryFragment<DB> for Prepared<Q>
where
    DB: Backend,
    Q: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &DB) -> QueryResult<bool> {
        Ok(true)
    }
}

/// No static id: the statement cache keys it by its SQL text and bind types.
impl<Q> QueryId for Prepared<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}
