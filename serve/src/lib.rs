//! Read-only Kubernetes API over a bundle.
