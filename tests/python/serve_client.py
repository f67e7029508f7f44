"""The official Kubernetes Python client against `kpm-analyze serve`.

Run by tests/serve_python.rs as `python3 serve_client.py KUBECONFIG PAGE`.
Lists every served kind in pages of PAGE items (`limit` and `_continue`),
watches pods (the initial state, until `timeoutSeconds` ends the watch),
reads each pod and every container log, and prints one JSON document on
stdout with what it saw. Every page and read is deserialised into the
client's typed models, which check what kubectl does not: required fields,
date-time formats, field types. Any exception other than an API error
answer ends the script with a traceback (the test fails). The one
exception, the API server's own `"endpoints": null` on EndpointSlices
without endpoints, is counted rather than deserialised (see
NULL_AS_SERVED).

events.k8s.io/v1 Events are also read: the client's EventsV1Event requires
`eventTime`, which the API server serves as null for Events recorded
through core/v1 without one; those are counted, the others are
deserialised.
"""

import json
import sys

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException


def main():
    kubeconfig, page = sys.argv[1], int(sys.argv[2])
    config.load_kube_config(config_file=kubeconfig)
    api = client.ApiClient()
    core = client.CoreV1Api(api)
    apps = client.AppsV1Api(api)
    batch = client.BatchV1Api(api)
    net = client.NetworkingV1Api(api)
    disc = client.DiscoveryV1Api(api)
    hpa = client.AutoscalingV2Api(api)
    policy = client.PolicyV1Api(api)
    storage = client.StorageV1Api(api)
    sched = client.SchedulingV1Api(api)
    adm = client.AdmissionregistrationV1Api(api)
    # plural -> (list call, typed model of the list)
    kinds = {
        "nodes": (core.list_node, "V1NodeList"),
        "namespaces": (core.list_namespace, "V1NamespaceList"),
        "persistentvolumes": (core.list_persistent_volume, "V1PersistentVolumeList"),
        "ingressclasses": (net.list_ingress_class, "V1IngressClassList"),
        "pods": (core.list_pod_for_all_namespaces, "V1PodList"),
        "events": (core.list_event_for_all_namespaces, "CoreV1EventList"),
        "services": (core.list_service_for_all_namespaces, "V1ServiceList"),
        "endpoints": (core.list_endpoints_for_all_namespaces, "V1EndpointsList"),
        "endpointslices": (
            disc.list_endpoint_slice_for_all_namespaces,
            "V1EndpointSliceList",
        ),
        "ingresses": (net.list_ingress_for_all_namespaces, "V1IngressList"),
        "horizontalpodautoscalers": (
            hpa.list_horizontal_pod_autoscaler_for_all_namespaces,
            "V2HorizontalPodAutoscalerList",
        ),
        "deployments": (apps.list_deployment_for_all_namespaces, "V1DeploymentList"),
        "replicasets": (apps.list_replica_set_for_all_namespaces, "V1ReplicaSetList"),
        "statefulsets": (apps.list_stateful_set_for_all_namespaces, "V1StatefulSetList"),
        "daemonsets": (apps.list_daemon_set_for_all_namespaces, "V1DaemonSetList"),
        "jobs": (batch.list_job_for_all_namespaces, "V1JobList"),
        "configmaps": (core.list_config_map_for_all_namespaces, "V1ConfigMapList"),
        "secrets": (core.list_secret_for_all_namespaces, "V1SecretList"),
        "persistentvolumeclaims": (
            core.list_persistent_volume_claim_for_all_namespaces,
            "V1PersistentVolumeClaimList",
        ),
        "storageclasses": (storage.list_storage_class, "V1StorageClassList"),
        "volumeattachments": (storage.list_volume_attachment, "V1VolumeAttachmentList"),
        "priorityclasses": (sched.list_priority_class, "V1PriorityClassList"),
        "validatingwebhookconfigurations": (
            adm.list_validating_webhook_configuration,
            "V1ValidatingWebhookConfigurationList",
        ),
        "mutatingwebhookconfigurations": (
            adm.list_mutating_webhook_configuration,
            "V1MutatingWebhookConfigurationList",
        ),
        "cronjobs": (batch.list_cron_job_for_all_namespaces, "V1CronJobList"),
        "resourcequotas": (
            core.list_resource_quota_for_all_namespaces,
            "V1ResourceQuotaList",
        ),
        "limitranges": (core.list_limit_range_for_all_namespaces, "V1LimitRangeList"),
        "poddisruptionbudgets": (
            policy.list_pod_disruption_budget_for_all_namespaces,
            "V1PodDisruptionBudgetList",
        ),
        "networkpolicies": (
            net.list_network_policy_for_all_namespaces,
            "V1NetworkPolicyList",
        ),
    }
    out = {"lists": {}, "pods_read": 0, "logs": {}, "events_k8s_io": {}}
    for plural, (list_fn, model) in kinds.items():
        out["lists"][plural] = paged(api, list_fn, model, page)

    for ns_name in out["lists"]["pods"].get("names", []):
        ns, name = ns_name.split("/", 1)
        pod = core.read_namespaced_pod(name, ns)
        out["pods_read"] += 1
        spec = pod.spec
        containers = [c.name for c in (spec.init_containers or [])] + [
            c.name for c in spec.containers
        ]
        for c in containers:
            key = f"{ns}/{name}/{c}"
            try:
                text = core.read_namespaced_pod_log(name, ns, container=c)
                out["logs"][key] = {"bytes": len(text.encode("utf-8"))}
            except ApiException as e:
                out["logs"][key] = {"status": e.status}

    # A watch: the snapshot's state as ADDED events (typed), then silence
    # until the server ends it after timeoutSeconds.
    added, other = [], []
    for event in watch.Watch().stream(core.list_pod_for_all_namespaces, timeout_seconds=1):
        meta = event["object"].metadata
        entry = f"{meta.namespace}/{meta.name}"
        (added if event["type"] == "ADDED" else other).append(entry)
    out["watch_pods"] = {"added": added, "other": other}

    events = client.EventsV1Api(api)
    try:
        raw = events.list_event_for_all_namespaces(_preload_content=False)
        body = json.loads(raw.data)
        typed, no_event_time = 0, 0
        for item in body["items"]:
            if item.get("eventTime") is None:
                no_event_time += 1
                continue
            api._ApiClient__deserialize(item, "EventsV1Event")
            typed += 1
        out["events_k8s_io"] = {
            "names": [
                f"{i['metadata'].get('namespace', '')}/{i['metadata']['name']}"
                for i in body["items"]
            ],
            "notes": sorted({i.get("note", "") for i in body["items"]}),
            "typed": typed,
            "no_event_time": no_event_time,
        }
    except ApiException as e:
        out["events_k8s_io"] = {"status": e.status}
    json.dump(out, sys.stdout)


# Fields the API server serves as null although the client's models
# require them (kubernetes-client/python#2423): such items are counted and
# left out of the typed deserialisation, every other item goes through it.
NULL_AS_SERVED = {"V1EndpointSliceList": "endpoints"}


def paged(api, list_fn, model, page):
    """Every item of a list, page by page, deserialised into `model`."""
    names, pages, token, null_as_served = [], 0, None, 0
    while True:
        try:
            kwargs = {"limit": page, "_preload_content": False}
            if token:
                kwargs["_continue"] = token
            raw = list_fn(**kwargs)
        except ApiException as e:
            return {"status": e.status, "reason": e.reason}
        body = json.loads(raw.data)
        pages += 1
        for item in body.get("items") or []:
            meta = item.get("metadata", {})
            names.append(f"{meta.get('namespace', '')}/{meta.get('name')}")
        field = NULL_AS_SERVED.get(model)
        if field:
            kept = [i for i in body["items"] if i.get(field) is not None]
            null_as_served += len(body["items"]) - len(kept)
            body["items"] = kept
        typed = api._ApiClient__deserialize(body, model)
        assert len(typed.items) == len(body["items"])
        token = typed.metadata._continue
        if not token:
            return {"names": names, "pages": pages, "null_as_served": null_as_served}


if __name__ == "__main__":
    main()
