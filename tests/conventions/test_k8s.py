"""The Kubernetes manifests (deploy/k8s) deploy every service there is, safely, in every rendering (the
base and each overlay, rendered by the pinned kubectl as `make k8s-check` does): each service has its
Deployment running `serve <service>`, its Service and a NetworkPolicy admitting the gateway; the gateway
names each service exactly once at its Service's DNS name; every pod and container runs non-root and
read-only with probes and resources; no Secret and no secret value is in the manifests; the one Ingress
leads to the gateway only. Services come from `serialtrail.services.BY_NAME`, never from a list here.

Each check returns its problems; each is tested on the real rendering (no problem) and on a planted
copy that breaks it (the problem is found)."""

from __future__ import annotations

import copy
import importlib.util
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, cast

import pytest
from serialtrail.services import BY_NAME

ROOT = Path(__file__).resolve().parents[2]
Document = dict[str, Any]

UID = 10001
DATA_DIR = "/var/lib/serialtrail"
HTTP_PORT = 8000
GATEWAY = "gateway"
# Variables whose value is a secret (a file path naming where one is, `..._FILE`, is not).
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|KEY|DATABASE_URL|DB_ADMIN_URL|DSN", re.IGNORECASE)
SECRET_VALUES = {
    "credentials in a URL": re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@", re.IGNORECASE),
    "a private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "a 256-bit hex key": re.compile(r"\b[0-9a-fA-F]{64}\b"),
}


def _script() -> ModuleType:
    """scripts/k8s_check.py (the renderer `make k8s-check` runs), imported from its file."""
    spec = importlib.util.spec_from_file_location("k8s_check", ROOT / "scripts" / "k8s_check.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CHECK = _script()


def k8s_name(service: str) -> str:
    """A service's name as Kubernetes objects (and DNS) spell it: serial_issuance -> serial-issuance."""
    return service.replace("_", "-")


# --- reading the rendered objects ----------------------------------------------------------------------


def of_kind(documents: Sequence[Document], kind: str) -> list[Document]:
    return [d for d in documents if d.get("kind") == kind]


def named(documents: Sequence[Document], kind: str, name: str) -> Document | None:
    return next((d for d in of_kind(documents, kind) if d.get("metadata", {}).get("name") == name), None)


def workloads(documents: Sequence[Document]) -> list[Document]:
    return [d for d in documents if d.get("kind") in ("Deployment", "Job")]


def pod_spec(workload: Document) -> dict[str, Any]:
    return cast(dict[str, Any], workload.get("spec", {}).get("template", {}).get("spec", {}))


def pod_labels(workload: Document) -> dict[str, str]:
    return cast(dict[str, str], workload.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {}))


def containers(workload: Document) -> list[dict[str, Any]]:
    spec = pod_spec(workload)
    return [*spec.get("initContainers", []), *spec.get("containers", [])]


def args_of(workload: Document) -> list[str]:
    found = pod_spec(workload).get("containers", [])
    return list(found[0].get("args", [])) if found else []


def selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Whether a label selector (matchLabels and the In/Exists expressions) selects these labels."""
    if selector is None:
        return False
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator = expression.get("key"), expression.get("operator")
        if operator == "In" and labels.get(key) not in expression.get("values", []):
            return False
        if operator == "Exists" and key not in labels:
            return False
    return True


def deployment_serving(documents: Sequence[Document], service: str) -> Document | None:
    return next((d for d in of_kind(documents, "Deployment") if args_of(d) == ["serve", service]), None)


def gateway_deployment(documents: Sequence[Document]) -> Document | None:
    return next((d for d in of_kind(documents, "Deployment") if args_of(d) == [GATEWAY]), None)


def env_value(container: Mapping[str, Any], name: str) -> str | None:
    found = next((e for e in container.get("env", []) if e.get("name") == name), None)
    return None if found is None else cast(str | None, found.get("value"))


def strings(value: Any) -> Iterator[str]:
    """Every string (keys and values) anywhere in a document."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key)
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


# --- the checks --------------------------------------------------------------------------------------


def service_problems(documents: Sequence[Document], services: Sequence[str]) -> list[str]:
    """Each service without its Deployment (`serve <service>`), its Service selecting that
    Deployment's pods on port 8000, or a NetworkPolicy admitting the gateway to those pods."""
    problems = []
    gateway = gateway_deployment(documents)
    gateway_labels = pod_labels(gateway) if gateway is not None else {}
    for service in services:
        name = k8s_name(service)
        deployment = deployment_serving(documents, service)
        if deployment is None:
            problems.append(f"{service}: no Deployment runs `serve {service}`")
            continue
        if deployment["metadata"]["name"] != name:
            problems.append(f"{service}: its Deployment is named {deployment['metadata']['name']}, not {name}")
        labels = pod_labels(deployment)
        found = named(documents, "Service", name)
        selector = found["spec"].get("selector") if found is not None else None
        if found is None:
            problems.append(f"{service}: no Service named {name}")
        elif not selector or not selects({"matchLabels": selector}, labels):
            problems.append(f"{service}: Service {name} does not select its Deployment's pods")
        elif HTTP_PORT not in [p.get("port") for p in found["spec"].get("ports", [])]:
            problems.append(f"{service}: Service {name} does not serve port {HTTP_PORT}")
        if not any(_admits(policy, labels, gateway_labels) for policy in of_kind(documents, "NetworkPolicy")):
            problems.append(f"{service}: no NetworkPolicy admits the gateway to its pods on port {HTTP_PORT}")
    return problems


def _admits(policy: Document, labels: Mapping[str, str], source: Mapping[str, str]) -> bool:
    """Whether `policy` selects pods labelled `labels` and lets pods labelled `source` (of the same
    namespace) in on the HTTP port."""
    spec = policy.get("spec", {})
    if not source or not selects(spec.get("podSelector"), labels) or "Ingress" not in spec.get("policyTypes", []):
        return False
    for rule in spec.get("ingress", []):
        peers = rule.get("from", [])
        ports = [p.get("port") for p in rule.get("ports", [])]
        if (not ports or HTTP_PORT in ports) and any(
            "namespaceSelector" not in peer and selects(peer.get("podSelector"), source) for peer in peers
        ):
            return True
    return False


def upstream_problems(documents: Sequence[Document], services: Sequence[str]) -> list[str]:
    """SERIALTRAIL_GATEWAY_UPSTREAMS on the gateway names every service exactly once, nothing else,
    each at http://<its Service's DNS name>:<its Service's port>."""
    gateway = gateway_deployment(documents)
    if gateway is None:
        return ["no Deployment runs `gateway`"]
    value = env_value(pod_spec(gateway)["containers"][0], "SERIALTRAIL_GATEWAY_UPSTREAMS")
    if not value:
        return ["the gateway has no literal SERIALTRAIL_GATEWAY_UPSTREAMS"]
    problems = []
    named_urls: dict[str, list[str]] = {}
    for entry in filter(None, (part.strip() for part in value.split(","))):
        name, _, url = (part.strip() for part in entry.partition("="))
        named_urls.setdefault(name, []).append(url)
    for name, urls in sorted(named_urls.items()):
        if name not in services:
            problems.append(f"upstreams name {name!r}, which is no service")
        if len(urls) > 1:
            problems.append(f"upstreams name {name} {len(urls)} times")
    for service in services:
        urls = named_urls.get(service, [])
        if not urls:
            problems.append(f"upstreams do not name {service}")
            continue
        match = re.fullmatch(r"http://([a-z0-9.-]+):(\d+)/?", urls[0])
        host, port = (match.group(1), int(match.group(2))) if match else ("", 0)
        target = named(documents, "Service", k8s_name(service))
        ports = [p.get("port") for p in target["spec"].get("ports", [])] if target is not None else []
        # <service> in the namespace, or <service>.<namespace>.svc[.cluster.local]
        if host.partition(".")[0] != k8s_name(service) or port not in ports:
            problems.append(f"upstream of {service} is {urls[0]}, not its Service's http://{k8s_name(service)}:<port>")
    return problems


def _pod_security_problems(where: str, spec: Mapping[str, Any]) -> list[str]:
    context = spec.get("securityContext", {})
    wanted = {"runAsNonRoot": True, "runAsUser": UID, "runAsGroup": UID}
    problems = [f"{where}: pod securityContext.{k} is not {v}" for k, v in wanted.items() if context.get(k) != v]
    if context.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        problems.append(f"{where}: pod seccompProfile is not RuntimeDefault")
    return problems


def _container_security_problems(where: str, container: Mapping[str, Any]) -> list[str]:
    context = container.get("securityContext", {})
    wanted = {
        "runAsNonRoot": True,
        "runAsUser": UID,
        "runAsGroup": UID,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
    }
    problems = [f"{where}: securityContext.{k} is not {v}" for k, v in wanted.items() if context.get(k) != v]
    if context.get("privileged"):
        problems.append(f"{where}: privileged")
    capabilities = context.get("capabilities", {})
    if "ALL" not in capabilities.get("drop", []) or capabilities.get("add"):
        problems.append(f"{where}: capabilities do not drop ALL (or add some)")
    if context.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        problems.append(f"{where}: seccompProfile is not RuntimeDefault")
    return problems


def _writable_problems(where: str, spec: Mapping[str, Any], container: Mapping[str, Any]) -> list[str]:
    """The root filesystem is read-only: /tmp and the data directory are volumes of the pod."""
    volumes = {v.get("name"): v for v in spec.get("volumes", [])}
    mounted = {m.get("mountPath"): volumes.get(m.get("name"), {}) for m in container.get("volumeMounts", [])}
    return [
        f"{where}: {path} is not a writable volume (emptyDir or PersistentVolumeClaim)"
        for path in ("/tmp", DATA_DIR)
        if not ({"emptyDir", "persistentVolumeClaim"} & set(mounted.get(path, {})))
    ]


def _resource_problems(where: str, container: Mapping[str, Any]) -> list[str]:
    resources = container.get("resources", {})
    return [
        f"{where}: no resources.{bound}.{resource}"
        for bound in ("requests", "limits")
        for resource in ("cpu", "memory")
        if resource not in resources.get(bound, {})
    ]


def _probe_problems(where: str, container: Mapping[str, Any], serves: bool) -> list[str]:
    def path(probe: str) -> str | None:
        return cast(str | None, container.get(probe, {}).get("httpGet", {}).get("path"))

    problems = []
    if path("livenessProbe") != "/health/live":
        problems.append(f"{where}: livenessProbe is not GET /health/live")
    if path("startupProbe") not in ("/health/live", "/health/ready"):
        problems.append(f"{where}: no startupProbe on /health/live")
    # A service is ready when its database, read models and relays are; the gateway when it can route.
    if path("readinessProbe") not in (("/health/ready",) if serves else ("/health/ready", "/health/live")):
        problems.append(f"{where}: readinessProbe is not GET /health/ready")
    return problems


def container_problems(documents: Sequence[Document]) -> list[str]:
    """Every pod and container of every Deployment and Job: non-root (UID/GID 10001), read-only root
    with emptyDirs for /tmp and the data directory, no privilege escalation, no capabilities, the
    runtime's seccomp profile, resource requests and limits; every Deployment's containers have
    liveness, readiness and startup probes."""
    problems = []
    for workload in workloads(documents):
        where = f"{workload['kind']}/{workload['metadata']['name']}"
        spec = pod_spec(workload)
        problems += _pod_security_problems(where, spec)
        if not spec.get("containers"):
            problems.append(f"{where}: no containers")
        for container in containers(workload):
            at = f"{where} container {container.get('name')}"
            problems += _container_security_problems(at, container)
            problems += _writable_problems(at, spec, container)
            problems += _resource_problems(at, container)
            if workload["kind"] == "Deployment":
                problems += _probe_problems(at, container, serves=args_of(workload)[:1] == ["serve"])
    return problems


def is_secret_name(name: str) -> bool:
    return bool(SECRET_NAME.search(name)) and not name.endswith(("_FILE", "_DIR"))


def secret_problems(documents: Sequence[Document]) -> list[str]:
    """No Secret object; a variable named like a secret takes its value from a Secret (secretKeyRef),
    never a literal or a ConfigMap; no secret-looking value anywhere in the rendered objects."""
    problems = [f"Secret/{d['metadata'].get('name')} is in the manifests" for d in of_kind(documents, "Secret")]
    for workload in workloads(documents):
        for container in containers(workload):
            where = f"{workload['kind']}/{workload['metadata']['name']} container {container.get('name')}"
            problems += [
                f"{where}: {variable.get('name')} does not come from a Secret (secretKeyRef)"
                for variable in container.get("env", [])
                if is_secret_name(str(variable.get("name", ""))) and "secretKeyRef" not in variable.get("valueFrom", {})
            ]
    for config in of_kind(documents, "ConfigMap"):
        problems += [
            f"ConfigMap/{config['metadata']['name']}: holds {key}, a secret"
            for key in config.get("data", {})
            if is_secret_name(key)
        ]
    for document in documents:
        for text in strings(document):
            problems += [
                f"{document.get('kind')}/{document.get('metadata', {}).get('name')}: holds {what}"
                for what, pattern in SECRET_VALUES.items()
                if pattern.search(text)
            ]
    return problems


def ingress_problems(documents: Sequence[Document]) -> list[str]:
    """Exactly one Ingress, and every way through it leads to the gateway's Service."""
    ingresses = of_kind(documents, "Ingress")
    if len(ingresses) != 1:
        return [f"{len(ingresses)} Ingresses, not one"]
    spec = ingresses[0].get("spec", {})
    backends = [spec["defaultBackend"]] if "defaultBackend" in spec else []
    backends += [p.get("backend", {}) for r in spec.get("rules", []) for p in r.get("http", {}).get("paths", [])]
    problems = [
        f"the Ingress leads to {b.get('service', {}).get('name') or b} besides the gateway"
        for b in backends
        if b.get("service", {}).get("name") != GATEWAY
    ]
    if not backends:
        problems.append("the Ingress leads nowhere")
    return problems


def default_deny_problems(documents: Sequence[Document]) -> list[str]:
    """A NetworkPolicy selecting every pod of the namespace denies all ingress not allowed elsewhere."""
    for policy in of_kind(documents, "NetworkPolicy"):
        spec = policy.get("spec", {})
        if spec.get("podSelector") == {} and "Ingress" in spec.get("policyTypes", []) and not spec.get("ingress"):
            return []
    return ["no default-deny NetworkPolicy for ingress"]


# --- on the real renderings --------------------------------------------------------------------------

SERVICES = sorted(BY_NAME)


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[Document]]:
    """Every rendering `make k8s-check` validates: the base and each overlay."""
    found = {name: cast(list[Document], CHECK.render(path)) for name, path in CHECK.renderings().items()}
    assert {"base", "dev", "prod"} <= set(found)
    return found


@pytest.fixture
def prod(rendered: dict[str, list[Document]]) -> list[Document]:
    return copy.deepcopy(rendered["prod"])


def test_every_rendering_deploys_every_service_safely(rendered: dict[str, list[Document]]) -> None:
    assert SERVICES
    for name, documents in rendered.items():
        assert service_problems(documents, SERVICES) == [], name
        assert upstream_problems(documents, SERVICES) == [], name
        assert container_problems(documents) == [], name
        assert secret_problems(documents) == [], name
        assert ingress_problems(documents) == [], name
        assert default_deny_problems(documents) == [], name


def test_the_jobs_set_up_the_database_and_the_topics(rendered: dict[str, list[Document]]) -> None:
    for name, documents in rendered.items():
        jobs = [args_of(j) for j in of_kind(documents, "Job")]
        assert any(a[:2] == ["db", "setup"] for a in jobs), name
        assert any(a[:2] == ["topics", "create"] for a in jobs), name


def test_every_server_has_a_disruption_budget_and_an_autoscaler(rendered: dict[str, list[Document]]) -> None:
    for name, documents in rendered.items():
        servers = {d["metadata"]["name"] for d in of_kind(documents, "Deployment")}
        assert servers == {*map(k8s_name, SERVICES), GATEWAY}, name
        scaled = {h["spec"]["scaleTargetRef"]["name"] for h in of_kind(documents, "HorizontalPodAutoscaler")}
        # The gateway scales; a service runs once (its relay, read models and checkpointer run in
        # every replica, and nothing makes one of them the only active one yet).
        assert scaled == {GATEWAY}, name
        for service in SERVICES:
            deployment = deployment_serving(documents, service)
            assert deployment is not None
            assert deployment["spec"].get("replicas") == 1, (name, service)
        for deployment in of_kind(documents, "Deployment"):
            budgets = [
                b
                for b in of_kind(documents, "PodDisruptionBudget")
                if selects(b["spec"]["selector"], pod_labels(deployment))
            ]
            assert len(budgets) == 1, (name, deployment["metadata"]["name"])


def test_prod_runs_in_production_with_persistent_checkpoints_and_more_replicas(
    rendered: dict[str, list[Document]],
) -> None:
    prod = rendered["prod"]
    config = next(c for c in of_kind(prod, "ConfigMap") if c["metadata"]["name"].startswith("serialtrail-config"))
    assert config["data"]["SERIALTRAIL_ENVIRONMENT"] == "production"
    claims = {c["metadata"]["name"] for c in of_kind(prod, "PersistentVolumeClaim")}
    for service in SERVICES:
        deployment = deployment_serving(prod, service)
        assert deployment is not None
        checkpoints = next(v for v in pod_spec(deployment)["volumes"] if v["name"] == "checkpoints")
        assert checkpoints.get("persistentVolumeClaim", {}).get("claimName") in claims, service
        image = pod_spec(deployment)["containers"][0]["image"]
        assert re.search(r":[\w.-]+$|@sha256:", image), image
        assert not image.endswith(":latest"), image
    assert all(h["spec"]["minReplicas"] >= 2 for h in of_kind(prod, "HorizontalPodAutoscaler"))
    gateway_budgets = [b for b in of_kind(prod, "PodDisruptionBudget") if b["metadata"]["name"] == GATEWAY]
    assert [b["spec"].get("minAvailable") for b in gateway_budgets] == [2]
    dev = rendered["dev"]
    assert all(d["spec"].get("replicas") == 1 for d in of_kind(dev, "Deployment"))
    assert all(pod_spec(d)["containers"][0]["image"].endswith(":dev") for d in workloads(dev))


# --- on planted copies: each check finds what it is for ----------------------------------------------


def _deployment(documents: Sequence[Document], name: str) -> Document:
    found = named(documents, "Deployment", name)
    assert found is not None
    return found


def test_a_service_without_its_network_policy_is_found(prod: list[Document]) -> None:
    service = SERVICES[0]
    labels = pod_labels(_deployment(prod, k8s_name(service)))
    planted = [
        d
        for d in prod
        if not (
            d["kind"] == "NetworkPolicy" and selects(d["spec"].get("podSelector"), labels) and d["spec"]["podSelector"]
        )
    ]
    assert len(planted) < len(prod)
    assert service_problems(planted, SERVICES) == [
        f"{service}: no NetworkPolicy admits the gateway to its pods on port {HTTP_PORT}"
    ]


def test_a_service_that_is_not_deployed_is_found(prod: list[Document]) -> None:
    expected = [*SERVICES, "line_exceptions_planted"]
    assert service_problems(prod, expected) == [
        "line_exceptions_planted: no Deployment runs `serve line_exceptions_planted`"
    ]
    assert upstream_problems(prod, expected) == ["upstreams do not name line_exceptions_planted"]
    without_service = [
        d for d in prod if not (d["kind"] == "Service" and d["metadata"]["name"] == k8s_name(SERVICES[-1]))
    ]
    assert any("no Service named" in p for p in service_problems(without_service, SERVICES))


def test_wrong_gateway_upstreams_are_found(prod: list[Document]) -> None:
    container = pod_spec(_deployment(prod, GATEWAY))["containers"][0]
    variable = next(e for e in container["env"] if e["name"] == "SERIALTRAIL_GATEWAY_UPSTREAMS")
    first = SERVICES[0]
    variable["value"] += f",{first}=http://{k8s_name(first)}:8000,nobody=http://nobody:8000"
    found = upstream_problems(prod, SERVICES)
    assert f"upstreams name {first} 2 times" in found
    assert "upstreams name 'nobody', which is no service" in found
    variable["value"] = ",".join(f"{s}=http://elsewhere:8000" for s in SERVICES)
    assert len(upstream_problems(prod, SERVICES)) == len(SERVICES)


def test_a_literal_password_or_a_secret_object_is_found(prod: list[Document]) -> None:
    container = pod_spec(_deployment(prod, k8s_name(SERVICES[0])))["containers"][0]
    container["env"].append({"name": "DATABASE_URL", "value": "postgresql://owner:hunter2@db:5432/serialtrail"})
    container["env"].append({"name": "SERIALTRAIL_SMTP_PASSWORD", "value": "hunter2"})
    prod.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "serialtrail-db"}, "stringData": {}})
    found = secret_problems(prod)
    assert any("DATABASE_URL does not come from a Secret" in p for p in found)
    assert any("SERIALTRAIL_SMTP_PASSWORD does not come from a Secret" in p for p in found)
    assert any("holds credentials in a URL" in p for p in found)
    assert "Secret/serialtrail-db is in the manifests" in found


def test_a_secret_in_a_config_map_is_found(prod: list[Document]) -> None:
    config = of_kind(prod, "ConfigMap")[0]
    config["data"]["SERIALTRAIL_SERIAL_ISSUANCE_SERIAL_KEY"] = "ab" * 32
    found = secret_problems(prod)
    assert any("holds SERIALTRAIL_SERIAL_ISSUANCE_SERIAL_KEY, a secret" in p for p in found)
    assert any("holds a 256-bit hex key" in p for p in found)


def test_a_container_or_pod_that_may_run_as_root_is_found(prod: list[Document]) -> None:
    deployment = _deployment(prod, k8s_name(SERVICES[0]))
    del pod_spec(deployment)["containers"][0]["securityContext"]["runAsNonRoot"]
    job = of_kind(prod, "Job")[0]
    del pod_spec(job)["securityContext"]["runAsNonRoot"]
    found = container_problems(prod)
    assert (
        f"Deployment/{k8s_name(SERVICES[0])} container serialtrail: securityContext.runAsNonRoot is not True" in found
    )
    assert f"Job/{job['metadata']['name']}: pod securityContext.runAsNonRoot is not True" in found
    assert len(found) == 2


def test_missing_probes_resources_or_writable_dirs_are_found(prod: list[Document]) -> None:
    deployment = _deployment(prod, GATEWAY)
    container = pod_spec(deployment)["containers"][0]
    del container["startupProbe"], container["resources"]["limits"]
    container["securityContext"]["readOnlyRootFilesystem"] = False
    container["volumeMounts"] = [m for m in container["volumeMounts"] if m["mountPath"] != "/tmp"]
    service = pod_spec(_deployment(prod, k8s_name(SERVICES[0])))["containers"][0]
    service["readinessProbe"]["httpGet"]["path"] = "/health/live"
    found = container_problems(prod)
    assert len(found) == 6, found
    assert any("readinessProbe is not GET /health/ready" in p for p in found)


def test_an_ingress_to_anything_but_the_gateway_is_found(prod: list[Document]) -> None:
    ingress = of_kind(prod, "Ingress")[0]
    paths = ingress["spec"]["rules"][0]["http"]["paths"]
    paths.append({"path": "/v1/api-keys", "pathType": "Prefix", "backend": {"service": {"name": "identity"}}})
    assert ingress_problems(prod) == ["the Ingress leads to identity besides the gateway"]
    assert ingress_problems([*prod, copy.deepcopy(ingress)]) == ["2 Ingresses, not one"]


def test_without_default_deny_it_is_found(prod: list[Document]) -> None:
    planted = [d for d in prod if not (d["kind"] == "NetworkPolicy" and d["spec"]["podSelector"] == {})]
    assert default_deny_problems(planted) == ["no default-deny NetworkPolicy for ingress"]


def test_validation_is_strict(prod: list[Document]) -> None:
    """make k8s-check refuses a field the API does not have (a typo is not silently dropped)."""
    deployment = _deployment(prod, GATEWAY)
    pod_spec(deployment)["containers"][0]["readinesProbe"] = {}
    found = cast(list[str], CHECK.invalid([deployment]))
    assert len(found) == 1, found
    assert "readinesProbe" in found[0], found
