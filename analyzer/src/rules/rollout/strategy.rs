//! The RollingUpdate arithmetic of the Deployment controller
//! (`pkg/controller/deployment/util/deployment_util.go`, `rolling.go`):
//! `ResolveFenceposts` turns `maxSurge` / `maxUnavailable` (a count or a
//! percentage of `spec.replicas`) into pod counts, surge rounded up and
//! unavailable rounded down, and makes `maxUnavailable` 1 when both come
//! out 0. The controller scales old ReplicaSets down only while
//! `availablePods - newUnavailable > replicas - maxUnavailable`.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// The resolved rolling-update limits of a Deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fenceposts {
    /// Pods allowed above `spec.replicas`.
    pub max_surge: i32,
    /// Pods allowed below `spec.replicas`.
    pub max_unavailable: i32,
}

/// The API server's default for both fields.
const DEFAULT: &str = "25%";

/// `spec.replicas` (defaulted to 1 by the API server).
pub fn replicas(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

/// The limits of a `RollingUpdate` Deployment (`None` for `Recreate`, or a
/// value the controller itself would reject).
pub fn fenceposts(d: &Deployment) -> Option<Fenceposts> {
    let strategy = d.spec.as_ref()?.strategy.as_ref();
    if strategy
        .and_then(|s| s.type_.as_deref())
        .is_some_and(|t| t != "RollingUpdate")
    {
        return None;
    }
    let rolling = strategy.and_then(|s| s.rolling_update.as_ref());
    let default = IntOrString::String(DEFAULT.to_string());
    let surge = rolling
        .and_then(|r| r.max_surge.as_ref())
        .unwrap_or(&default);
    let unavailable = rolling
        .and_then(|r| r.max_unavailable.as_ref())
        .unwrap_or(&default);
    let desired = replicas(d);
    let max_surge = scaled(surge, desired, true)?;
    let mut max_unavailable = scaled(unavailable, desired, false)?;
    if max_surge == 0 && max_unavailable == 0 {
        max_unavailable = 1;
    }
    Some(Fenceposts {
        max_surge,
        max_unavailable,
    })
}

/// `intstr.GetScaledValueFromIntOrPercent`: a count as is, a percentage
/// of `total` rounded up or down.
fn scaled(v: &IntOrString, total: i32, round_up: bool) -> Option<i32> {
    match v {
        IntOrString::Int(n) => Some(*n),
        IntOrString::String(s) => {
            let pct: i64 = s.strip_suffix('%')?.trim().parse().ok()?;
            let num = pct * i64::from(total);
            let v = if round_up {
                (num + 99).div_euclid(100)
            } else {
                num.div_euclid(100)
            };
            i32::try_from(v).ok()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deploy(
        replicas: i32,
        surge: serde_json::Value,
        unavailable: serde_json::Value,
    ) -> Deployment {
        serde_json::from_value(json!({"metadata": {"name": "d"}, "spec": {"replicas": replicas,
            "selector": {}, "template": {},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}}}))
        .unwrap()
    }

    #[test]
    fn percentages_round_surge_up_and_unavailable_down() {
        let f = fenceposts(&deploy(4, json!("25%"), json!("25%"))).unwrap();
        assert_eq!((f.max_surge, f.max_unavailable), (1, 1));
        let f = fenceposts(&deploy(3, json!("25%"), json!("25%"))).unwrap();
        assert_eq!((f.max_surge, f.max_unavailable), (1, 0));
        let f = fenceposts(&deploy(10, json!(2), json!(0))).unwrap();
        assert_eq!((f.max_surge, f.max_unavailable), (2, 0));
    }

    #[test]
    fn both_zero_makes_one_unavailable_and_recreate_has_none() {
        let f = fenceposts(&deploy(1, json!(0), json!("10%"))).unwrap();
        assert_eq!((f.max_surge, f.max_unavailable), (0, 1));
        let recreate: Deployment = serde_json::from_value(json!({"metadata": {"name": "d"},
            "spec": {"selector": {}, "template": {}, "strategy": {"type": "Recreate"}}}))
        .unwrap();
        assert_eq!(fenceposts(&recreate), None);
    }
}
