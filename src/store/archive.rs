//! The cleanup's archive: before a cleanup deletes conversations, their export documents
//! are appended to the day's NDJSON file in its folder, a page of messages at a time
//! (memory does not follow the size of a conversation), and the file and its folder are
//! fsynced, so that nothing is deleted that is not on disk elsewhere.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::export::{ExportLimits, Sink, write_document};
use crate::db::conn::DbConn;
use crate::db::conversation_table;
use crate::error::StoreError;

/// Where and how a cleanup archives.
#[derive(Debug, Clone)]
pub struct Archive {
    /// The folder of the archive files.
    pub dir: PathBuf,
    /// Pages of the documents (archives refuse no document: a cleanup must not stop at
    /// a large conversation).
    pub limits: ExportLimits,
}

impl Archive {
    /// Appends the documents of the conversations `ids` (those that still exist) to
    /// today's file and waits until they are on disk, the file's entry in the folder
    /// included. On failure the file is cut back to its length before, so that no
    /// partial line is left for the next cleanup to append to.
    pub async fn append(&self, conn: &mut DbConn<'_>, ids: &[i64]) -> Result<(), StoreError> {
        let mut file = ArchiveFile::open(&self.dir)?;
        let written = async {
            for &id in ids {
                if let Some(row) = conversation_table::find(conn, id).await? {
                    write_document(conn, row, self.limits, &mut file).await?;
                    file.pending().push(b'\n');
                }
            }
            file.pass(true).await?;
            file.sync()
        }
        .await;
        if written.is_err() {
            file.restore();
        }
        written
    }
}

/// Today's archive file, opened to append.
struct ArchiveFile {
    dir: PathBuf,
    file: File,
    /// Its length before this cleanup batch.
    start: u64,
    pending: Vec<u8>,
}

impl ArchiveFile {
    fn open(dir: &Path) -> Result<ArchiveFile, StoreError> {
        let fail = |e| io_error(dir, e);
        std::fs::create_dir_all(dir).map_err(fail)?;
        let path = dir.join(format!(
            "cleanup-{}.ndjson",
            chrono::Utc::now().format("%Y-%m-%d")
        ));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(fail)?;
        let start = file.metadata().map_err(fail)?.len();
        Ok(ArchiveFile {
            dir: dir.to_path_buf(),
            file,
            start,
            pending: Vec::new(),
        })
    }

    /// Waits until the file, and its entry in the folder, are on disk.
    fn sync(&self) -> Result<(), StoreError> {
        let fail = |e| io_error(&self.dir, e);
        self.file.sync_all().map_err(fail)?;
        File::open(&self.dir)
            .and_then(|folder| folder.sync_all())
            .map_err(fail)
    }

    /// Cuts the file back to its length before this batch.
    fn restore(&self) {
        if let Err(error) = self.file.set_len(self.start) {
            tracing::error!(%error, dir = %self.dir.display(), "cannot cut back the archive file");
        }
    }
}

impl Sink for ArchiveFile {
    fn pending(&mut self) -> &mut Vec<u8> {
        &mut self.pending
    }

    async fn pass(&mut self, _last: bool) -> Result<(), StoreError> {
        self.file
            .write_all(&self.pending)
            .map_err(|e| io_error(&self.dir, e))?;
        self.pending.clear();
        Ok(())
    }
}

fn io_error(dir: &Path, error: std::io::Error) -> StoreError {
    StoreError::Internal(format!("cannot archive to {}: {error}", dir.display()))
}
