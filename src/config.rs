//! Configuration (placeholder until the loader lands below).
