//! Handlers of export and import: one conversation's document, a page of documents
//! (each read on one snapshot), a streamed export, an import in one transaction.

use actix::prelude::*;

use super::{Answer, checked};
use crate::db::conn::DbConn;
use crate::db::conversation_table;
use crate::error::StoreError;
use crate::model::now;
use crate::store::requests::*;
use crate::store::{ExportStream, StoreActor, export, import, operations, validate};
use crate::transfer::ExportDocument;

impl Handler<ExportConversation> for StoreActor {
    type Result = Answer<ExportDocument>;

    fn handle(&mut self, msg: ExportConversation, _: &mut Self::Context) -> Self::Result {
        checked(validate::conversation_id(msg.conversation_id), |id| {
            self.read(async move |c: &mut DbConn<'_>| {
                c.read_snapshot(async |c: &mut DbConn<'_>| {
                    let row = conversation_table::find(c, id)
                        .await?
                        .ok_or_else(|| StoreError::conversation_not_found(id))?;
                    operations::export(c, row).await
                })
                .await
            })
        })
    }
}

impl Handler<ExportPage> for StoreActor {
    type Result = Answer<Vec<ExportDocument>>;

    fn handle(&mut self, msg: ExportPage, _: &mut Self::Context) -> Self::Result {
        let check = validate::optional_range("limit", Some(msg.limit), validate::MAX_PAGE);
        checked(check, |_| {
            self.read(async move |c: &mut DbConn<'_>| {
                c.read_snapshot(async |c: &mut DbConn<'_>| {
                    let rows = conversation_table::page_by_id(c, msg.after_id, msg.limit).await?;
                    let mut documents = Vec::with_capacity(rows.len());
                    for row in rows {
                        documents.push(operations::export(c, row).await?);
                    }
                    Ok(documents)
                })
                .await
            })
        })
    }
}

impl Handler<StreamExport> for StoreActor {
    type Result = Answer<ExportStream>;

    fn handle(&mut self, msg: StreamExport, _: &mut Self::Context) -> Self::Result {
        let check = match msg.scope {
            ExportScope::Conversation(id) => {
                validate::conversation_id(id).map(ExportScope::Conversation)
            }
            ExportScope::All => Ok(ExportScope::All),
        };
        let (db, limits) = (self.db.clone(), self.export_limits());
        checked(check, |scope| {
            Answer::ready(Ok(export::start(db, scope, limits)))
        })
    }
}

/// Most times an import is tried while it meets unique violations.
const IMPORT_TRIES: usize = 3;

impl Handler<ImportConversation> for StoreActor {
    type Result = Answer<Obtained>;

    fn handle(&mut self, msg: ImportConversation, _: &mut Self::Context) -> Self::Result {
        let max_content_bytes = self.settings.max_content_bytes;
        let check = import::read_document(&msg.document, max_content_bytes, now());
        let db = self.db.clone();
        checked(check, |document| {
            Answer::future(async move {
                // A unique violation: another process created this user's conversation
                // at the same moment; a second try finds it and skips or replaces it.
                let mut tries = 0;
                loop {
                    tries += 1;
                    let document = document.clone();
                    let on_conflict = msg.on_conflict;
                    let imported = db
                        .write_tx(async move |c: &mut DbConn<'_>| {
                            import::import(c, document, on_conflict).await
                        })
                        .await;
                    match imported {
                        Err(StoreError::Conflict(_)) if tries < IMPORT_TRIES => continue,
                        other => return other,
                    }
                }
            })
        })
    }
}
