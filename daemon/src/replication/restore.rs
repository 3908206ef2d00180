//! Disaster recovery: a new data directory from the bucket alone.
