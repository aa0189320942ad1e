//! Shared test harness for multi-node scenarios.
