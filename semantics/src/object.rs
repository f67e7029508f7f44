//! Accessors every stored object shares, like kube-rs's `ResourceExt`
//! (`kube-core/src/resource.rs`), so a name is read one way everywhere.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// Metadata accessors for any k8s-openapi object with an `ObjectMeta`.
pub trait ObjectExt {
    /// `metadata.name`, or `""` when the object has none. Unlike kube-rs's
    /// `name_any` there is no `generateName` fallback: an object read back
    /// from the API always has its name, and one without stays visibly
    /// nameless in the report.
    fn name_any(&self) -> &str;
}

impl<K: k8s_openapi::Metadata<Ty = ObjectMeta>> ObjectExt for K {
    fn name_any(&self) -> &str {
        self.metadata().name.as_deref().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Service;

    #[test]
    fn name_any_reads_the_name_or_nothing() {
        let mut svc = Service::default();
        assert_eq!(svc.name_any(), "");
        svc.metadata.name = Some("web".into());
        assert_eq!(svc.name_any(), "web");
    }
}
