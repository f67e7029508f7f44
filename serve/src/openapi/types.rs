//! Which generated type describes each served kind.

use std::borrow::Cow;

use k8s_openapi::api::admissionregistration::v1 as admission;
use k8s_openapi::api::apps::v1 as apps;
use k8s_openapi::api::autoscaling::v2 as autoscaling;
use k8s_openapi::api::batch::v1 as batch;
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::discovery::v1 as discovery;
use k8s_openapi::api::networking::v1 as networking;
use k8s_openapi::api::policy::v1 as policy;
use k8s_openapi::api::scheduling::v1 as scheduling;
use k8s_openapi::api::storage::v1 as storage;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;
use k8s_openapi::schemars::{JsonSchema, SchemaGenerator};
use kpm_bundle::layout::ResourceKind;

/// A generated type: its definition name and how to add its schema (and
/// every schema it refers to) to a generator.
#[derive(Clone, Copy)]
pub struct Typed {
    /// Definition name, e.g. `io.k8s.api.core.v1.Pod`.
    pub name: fn() -> Cow<'static, str>,
    /// Adds the definitions.
    pub register: fn(&mut SchemaGenerator),
    group: &'static str,
    version: &'static str,
    kind: &'static str,
}

fn typed<T: JsonSchema + k8s_openapi::Resource>() -> Typed {
    Typed {
        name: T::schema_name,
        register: |g| {
            g.subschema_for::<T>();
        },
        group: T::GROUP,
        version: T::VERSION,
        kind: T::KIND,
    }
}

/// `ListMeta`, which every list schema refers to.
pub fn list_meta() -> Typed {
    Typed {
        name: ListMeta::schema_name,
        register: |g| {
            g.subschema_for::<ListMeta>();
        },
        group: "meta.k8s.io",
        version: "v1",
        kind: "ListMeta",
    }
}

/// Every kind a schema is known for.
fn all() -> [Typed; 29] {
    [
        typed::<core::Node>(),
        typed::<core::Namespace>(),
        typed::<core::PersistentVolume>(),
        typed::<core::Pod>(),
        typed::<core::Event>(),
        typed::<core::Service>(),
        typed::<core::Endpoints>(),
        typed::<core::ConfigMap>(),
        typed::<core::Secret>(),
        typed::<core::PersistentVolumeClaim>(),
        typed::<networking::IngressClass>(),
        typed::<networking::Ingress>(),
        typed::<discovery::EndpointSlice>(),
        typed::<autoscaling::HorizontalPodAutoscaler>(),
        typed::<apps::Deployment>(),
        typed::<apps::ReplicaSet>(),
        typed::<apps::StatefulSet>(),
        typed::<apps::DaemonSet>(),
        typed::<batch::Job>(),
        typed::<batch::CronJob>(),
        typed::<core::ResourceQuota>(),
        typed::<core::LimitRange>(),
        typed::<policy::PodDisruptionBudget>(),
        typed::<networking::NetworkPolicy>(),
        typed::<storage::StorageClass>(),
        typed::<storage::VolumeAttachment>(),
        typed::<scheduling::PriorityClass>(),
        typed::<admission::ValidatingWebhookConfiguration>(),
        typed::<admission::MutatingWebhookConfiguration>(),
    ]
}

/// The generated type of a served kind, matched on group, version and
/// kind; None for a kind without one.
pub fn schema_of(kind: &ResourceKind) -> Option<Typed> {
    all()
        .into_iter()
        .find(|t| t.group == kind.group && t.version == kind.version && t.kind == kind.kind)
}
