//! Analysis engine.
