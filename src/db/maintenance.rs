//! The backend's maintenance (VACUUM, ANALYZE, OPTIMIZE), outside any transaction.

use diesel::QueryResult;
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};

use super::conn::{DbConn, with_conn};
use super::dialect;

/// Runs the backend's maintenance statements, one by one.
pub async fn run(conn: &mut DbConn<'_>) -> QueryResult<()> {
    let statements = dialect::maintenance_statements(conn.backend());
    with_conn!(
        conn,
        |c| {
            for statement in statements {
                c.batch_execute(statement).await?;
            }
            Ok(())
        },
        // OPTIMIZE and ANALYZE answer with a result set of their own, so they are read
        // as rows rather than executed blindly.
        mysql: |c| {
            for statement in statements {
                diesel::sql_query(*statement)
                    .load::<ReportRow>(c)
                    .await?;
            }
            Ok(())
        }
    )
}

/// One line of MySQL's OPTIMIZE/ANALYZE report (only read, then dropped).
#[cfg(feature = "mysql")]
#[derive(diesel::QueryableByName)]
struct ReportRow {
    #[diesel(sql_type = diesel::sql_types::Text, column_name = "Msg_text")]
    _message: String,
}
