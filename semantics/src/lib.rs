//! Kubernetes semantics shared by kpm.
