//! Properties checked on generated inputs (proptest), on a real SQLite file: any valid
//! document survives export → import → export; every history window is the one a
//! simple reference model picks; the counters always match the stored messages, also
//! through edits, forks and checkpoints, and every context is the reference model's;
//! the statistics always match a full scan of the store;
//! metadata is refused exactly when it holds a NUL or would not read back.
//!
//! Each property starts one actix system and one store, and runs every generated case
//! through the system's `block_on` in a conversation of its own (a fresh database per
//! case would be far too slow). The seed is fixed, so a run is repeatable;
//! `PROPTEST_CASES=1000` and `PROPTEST_RNG_SEED=<n>` explore further.

mod counters;
mod documents;
mod editing;
mod generated;
mod harness;
mod history;
mod metadata;
mod totals;

use generated::*;
use harness::*;
