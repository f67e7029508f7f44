//! The failures a generated cluster carries, as the findings a correct
//! analysis must report: `(rule, object)` pairs written next to the bundle
//! (`<bundle stem>.injected.json`, see [`injected_path`]) so a benchmark can
//! check that every injected failure is found.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::scale::{Fleet, NodeTrouble};
use crate::scale_apps::{pod_name, AppDesc, NsDesc};
use crate::scale_plan::Failure;

/// One injected failure: the rule that must fire and the object it is
/// about, `Kind/namespace/name` or `Kind/name` (the object conventions of
/// `testdata/README.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Injected {
    /// Rule id from the registry.
    pub rule: String,
    /// The object the finding is about.
    pub object: String,
}

/// The file written next to a bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InjectedFile {
    /// File name of the bundle it describes.
    pub bundle: String,
    /// Every injected failure, in generation order.
    pub injected: Vec<Injected>,
}

/// Where the list of a bundle's injected failures is written:
/// `scale-small.zip` → `scale-small.injected.json`.
pub fn injected_path(bundle: &Path) -> PathBuf {
    bundle.with_extension("injected.json")
}

fn entry(rule: &str, object: String) -> Injected {
    Injected {
        rule: rule.to_string(),
        object,
    }
}

/// The findings an app's failure must produce: per pod for pod-level
/// failures, else on the Service, Ingress, HPA, ConfigMap, Secret or
/// Deployment the failure is in.
pub fn of_app(ns: &NsDesc, app: &AppDesc) -> Vec<Injected> {
    let Some(f) = app.failure else {
        return vec![];
    };
    let n = &ns.name;
    let a = &app.name;
    let one = |object: String| vec![entry(f.name(), object)];
    match f {
        Failure::ImageNotFound
        | Failure::ImagePullAuth
        | Failure::CrashLoop
        | Failure::OomKilled
        | Failure::Unschedulable
        | Failure::MountFailed
        | Failure::ConfigError
        | Failure::NotReady
        | Failure::ProbePortMismatch => (0..app.replicas)
            .map(|r| entry(f.name(), format!("Pod/{n}/{}", pod_name(ns, app, r).0)))
            .collect(),
        Failure::SelectorMismatch | Failure::TargetPortMismatch => one(format!("Service/{n}/{a}")),
        Failure::IngressServiceMissing | Failure::IngressPortMissing => {
            one(format!("Ingress/{n}/{a}"))
        }
        Failure::HpaMissingRequests => one(format!("HorizontalPodAutoscaler/{n}/{a}")),
        Failure::StaleConfigMap => one(format!("ConfigMap/{n}/{a}-config")),
        Failure::StaleSecret => one(format!("Secret/{n}/{a}-db")),
        Failure::NoLimits => one(format!("Deployment/{n}/{a}")),
    }
}

/// The findings the fleet's broken nodes must produce.
pub fn of_fleet(fleet: &Fleet) -> Vec<Injected> {
    (0..fleet.count())
        .filter_map(|i| {
            let rule = match fleet.trouble(i) {
                NodeTrouble::None => return None,
                NodeTrouble::NotReady => "node-not-ready",
                NodeTrouble::MemoryPressure => "node-pressure",
            };
            Some(entry(rule, format!("Node/{}", fleet.id(i).name)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scale::{self, ScaleOptions};
    use crate::scale_apps::plan;

    #[test]
    fn every_failure_kind_names_its_rule_and_object() {
        let o = ScaleOptions {
            nodes: 40,
            pods: 700,
            seed: 11,
            failure_rate: 1.0,
            perturb: 0.0,
        };
        let p = plan(&o);
        let ns = p.namespaces.first().unwrap();
        let mut app = ns.apps.first().unwrap().clone();
        for f in Failure::ALL {
            app.failure = Some(f);
            let got = of_app(ns, &app);
            assert!(!got.is_empty(), "{f:?}");
            assert!(got.iter().all(|i| i.rule == f.name()), "{got:?}");
            assert!(got.iter().all(|i| i.object.contains(&ns.name)), "{got:?}");
        }
        app.failure = Some(Failure::CrashLoop);
        assert_eq!(of_app(ns, &app).len() as u64, app.replicas);
        app.failure = None;
        assert!(of_app(ns, &app).is_empty());
        // At rate 1.0 a tenth of the nodes break.
        let nodes = of_fleet(&scale::fleet(&o));
        assert!(!nodes.is_empty() && nodes.len() < 40, "{}", nodes.len());
        assert!(nodes.iter().all(|i| i.object.starts_with("Node/ip-")));
        assert_eq!(
            injected_path(Path::new("/d/scale-small-seed1-fail0.05.zip")),
            Path::new("/d/scale-small-seed1-fail0.05.injected.json")
        );
    }
}
