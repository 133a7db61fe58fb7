"""The compose deployment (docker-compose.yml) and the image (Dockerfile), checked against the
application they run: the services come from the app's own declarations (`BY_NAME`) and from
services/*/pyproject.toml, the topics from the contracts, never from a list written here.

Each check is a function returning the problems it finds: the real files must give none, and
copies with one thing broken on purpose must give the problem that names it."""

from __future__ import annotations

import copy
import ipaddress
import re
import shlex
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml  # type: ignore[import-untyped, unused-ignore]  # no types-PyYAML in the lock
from serialtrail.services import BY_NAME
from serialtrail_contracts import topics

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
MAKEFILE = ROOT / "Makefile"

Compose = dict[str, Any]
Service = dict[str, Any]

GATEWAY = "gateway"
JOBS = {"db-setup": ["db", "setup"], "topics": ["topics", "create"]}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
SERVICE_PORT = "8000"
SECRET_WORDS = ("PASSWORD", "KEY", "SECRET", "TOKEN")
SECRET_SETTING = re.compile(r"PASSWORD|SECRET|TOKEN|(^|_)KEY$")
OCI_LABELS = ("revision", "version", "source", "title")
# A reference: $$ (a literal $), ${...} or $NAME.
REFERENCE = re.compile(r"\$\$|\$\{(?P<braced>[^}]*)\}|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)")
BRACED = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:\?|\?|:-|-)(?P<arg>.*))?", re.DOTALL)


# --- reading the files ---------------------------------------------------------------------------


def load_compose(text: str | None = None) -> Compose:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text() if text is None else text)
    assert isinstance(loaded, dict)
    return loaded


def compose_name(service: str) -> str:
    """The compose (and DNS) name of a service: `serial_issuance` -> `serial-issuance`."""
    return service.replace("_", "-")


def services_of(compose: Compose) -> dict[str, Service]:
    found = compose.get("services") or {}
    return {str(name): spec or {} for name, spec in found.items()}


def environment(service: Service) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (str(item).partition("=") for item in env)
        return {name: value for name, _, value in pairs}
    return {str(name): "" if value is None else str(value) for name, value in env.items()}


def command(service: Service) -> list[str]:
    given = service.get("command")
    if given is None:
        return []
    return shlex.split(given) if isinstance(given, str) else [str(part) for part in given]


def shared_image(compose: Compose) -> str | None:
    """The image built from this repository's Dockerfile: the one every Serialtrail container runs."""
    for service in services_of(compose).values():
        build = service.get("build")
        context = build if isinstance(build, str) else (build or {}).get("context")
        dockerfile = "Dockerfile" if isinstance(build, str) else (build or {}).get("dockerfile", "Dockerfile")
        if context in (".", "./") and dockerfile == "Dockerfile" and service.get("image"):
            return str(service["image"])
    return None


def jobs(compose: Compose) -> set[str]:
    """The one-shot services: the setup jobs, and whatever another service waits to complete."""
    waited = {
        target
        for service in services_of(compose).values()
        if isinstance(service.get("depends_on"), dict)
        for target, spec in service["depends_on"].items()
        if (spec or {}).get("condition") == "service_completed_successfully"
    }
    return {*JOBS, *waited} & set(services_of(compose))


def restarted(service: Service) -> bool:
    return str(service.get("restart", "no")) in ("always", "unless-stopped")


def serving(compose: Compose) -> dict[str, str]:
    """compose service name -> the Serialtrail service it serves (`serve <name>`)."""
    return {
        name: command(spec)[1]
        for name, spec in services_of(compose).items()
        if len(command(spec)) == 2 and command(spec)[0] == "serve"
    }


def references(text: str) -> Iterator[tuple[str, str | None, str]]:
    """Each variable reference in `text`: (name, operator or None, argument); a malformed one
    has an empty name and the raw text as argument."""
    for match in REFERENCE.finditer(text):
        if match.group(0) == "$$":
            continue
        if match.group("bare"):
            yield match.group("bare"), None, ""
            continue
        braced = BRACED.fullmatch(match.group("braced") or "")
        if braced is None:
            yield "", None, match.group(0)
        else:
            yield braced.group("name"), braced.group("op"), braced.group("arg") or ""


def resolve(text: str, env: Mapping[str, str] | None = None) -> str:
    """Interpolate as compose does, with `env` (default: nothing set, so defaults apply)."""
    given = env or {}

    def value(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("bare") or ""
        op, arg = None, ""
        braced = BRACED.fullmatch(match.group("braced") or "")
        if braced is not None:
            name, op, arg = braced.group("name"), braced.group("op"), braced.group("arg") or ""
        if given.get(name):
            return given[name]
        return arg if op in (":-", "-") else f"<{name}>"

    return REFERENCE.sub(value, text)


def strings(node: object) -> Iterator[str]:
    """Every string value in a parsed file (what compose interpolates)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def looks_secret(name: str) -> bool:
    return any(word in name.upper() for word in SECRET_WORDS)


def required_reference(value: str) -> bool:
    """The whole value is one required variable (`${NAME:?message}`)."""
    found = list(references(value))
    return len(found) == 1 and found[0][1] == ":?" and REFERENCE.fullmatch(value) is not None


def secret_settings(service: str) -> list[str]:
    """The environment variables of the secrets a service's settings declare."""
    settings = BY_NAME[service].settings
    return [settings.env_name(name) for name in settings.for_tests().secret_fields()]


def declared_services(root: Path = ROOT) -> list[str]:
    """The services the workspace holds: each services/*/pyproject.toml's entry point names one."""
    names = []
    for pyproject in sorted(root.glob("services/*/pyproject.toml")):
        project = tomllib.loads(pyproject.read_text()).get("project", {})
        names += list(project.get("entry-points", {}).get("serialtrail.services", {}))
    return names


# --- the compose checks --------------------------------------------------------------------------


def check_no_version_key(compose: Compose) -> list[str]:
    return ["the Compose specification has no `version:` key; remove it"] if "version" in compose else []


def check_variables(compose: Compose) -> list[str]:
    """Every ${VAR} is required (`:?`) or has a default (`:-`); a secret never has a default."""
    problems = []
    for text in strings(compose):
        for name, op, arg in references(text):
            if not name:
                problems.append(f"{arg!r}: not a variable reference compose understands")
            elif op is None:
                problems.append(
                    f"${name} is neither required (${{{name}:?message}}) nor defaulted (${{{name}:-value}})"
                )
            elif op == ":-" and looks_secret(name):
                problems.append(f"${{{name}}} looks secret and has a default ({arg!r}): require it with :?")
            elif op not in (":?", ":-"):
                problems.append(f"${{{name}{op}...}}: use :? (required, not empty) or :- (default)")
    return problems


def check_no_literal_secrets(compose: Compose) -> list[str]:
    """A secret setting, and the password of a connection URL, is a required variable, never a value."""
    problems = []
    for name, service in services_of(compose).items():
        build = service.get("build")
        settings = {**environment(service), **(build.get("args") or {} if isinstance(build, dict) else {})}
        for key, value in settings.items():
            if SECRET_SETTING.search(key.upper()) and not required_reference(str(value)):
                problems.append(f"{name}: {key} must be exactly ${{VAR:?message}}, not {value!r}")
            for password in re.findall(r"://[^/@:\s]+:([^@\s]*)@", str(value)):
                if not required_reference(password):
                    problems.append(f"{name}: the password in {key} must be exactly ${{VAR:?message}}")
    return problems


def check_serialtrail_services(compose: Compose, names: list[str]) -> list[str]:
    """Each Serialtrail service runs `serve <name>` on the shared image, under its compose name."""
    services, image, served = services_of(compose), shared_image(compose), serving(compose)
    problems = [] if image else ["no service builds the shared image from this repository's Dockerfile"]
    for name in names:
        spec = services.get(compose_name(name))
        if spec is None:
            problems.append(f"{name} has no compose service {compose_name(name)!r}")
            continue
        if command(spec) != ["serve", name]:
            problems.append(f"{compose_name(name)} must run ['serve', {name!r}], not {command(spec)}")
        if spec.get("image") != image:
            problems.append(f"{compose_name(name)} must run the shared image {image!r}, not {spec.get('image')!r}")
    for compose_service, name in served.items():
        if name not in names:
            problems.append(f"{compose_service} serves {name!r}, which the app does not declare")
        elif compose_service != compose_name(name):
            problems.append(f"{compose_service} serves {name!r}: call it {compose_name(name)!r}")
    return problems


def check_gateway(compose: Compose, names: list[str]) -> list[str]:
    """The gateway is the one published port and routes to every service exactly once."""
    services = services_of(compose)
    problems = [
        f"{name} publishes ports: only the gateway may"
        for name, s in services.items()
        if s.get("ports") and name != GATEWAY
    ]
    gateway = services.get(GATEWAY)
    if gateway is None:
        return [*problems, "there is no gateway service"]
    if command(gateway) != ["gateway"] or gateway.get("image") != shared_image(compose):
        problems.append("the gateway must run ['gateway'] on the shared image")
    if not gateway.get("ports"):
        problems.append("the gateway publishes no port")
    entries = [e.strip() for e in environment(gateway).get("SERIALTRAIL_GATEWAY_UPSTREAMS", "").split(",") if e.strip()]
    seen: list[str] = []
    for entry in entries:
        name, _, url = entry.partition("=")
        seen.append(name)
        parts = urlsplit(url)
        if name not in names:
            problems.append(f"SERIALTRAIL_GATEWAY_UPSTREAMS names {name!r}, which the app does not declare")
        elif parts.hostname != compose_name(name) or serving(compose).get(parts.hostname or "") != name:
            problems.append(f"SERIALTRAIL_GATEWAY_UPSTREAMS: {name} must be at http://{compose_name(name)}:8000")
        elif str(parts.port) != SERVICE_PORT:
            problems.append(f"SERIALTRAIL_GATEWAY_UPSTREAMS: {name} listens on {SERVICE_PORT}, not {parts.port}")
    problems += [f"SERIALTRAIL_GATEWAY_UPSTREAMS names {n} {seen.count(n)} times" for n in names if seen.count(n) > 1]
    problems += [f"SERIALTRAIL_GATEWAY_UPSTREAMS lacks {n}" for n in names if n not in seen]
    return problems


def _healthy(service: Service) -> bool:
    check = service.get("healthcheck") or {}
    return bool(check.get("test")) and not check.get("disable")


def check_healthchecks(compose: Compose) -> list[str]:
    """Every long-running service (all but the jobs) is restarted and has a health check (a
    Serialtrail one on /health/ready or /health/live); another image may go without a health
    check only with the reason written beside it (x-healthcheck-exempt)."""
    problems = []
    image = shared_image(compose)
    for name, service in services_of(compose).items():
        if name in jobs(compose):
            continue
        if not restarted(service):
            problems.append(f"{name} is long-running: give it restart: unless-stopped (or always)")
        ours = service.get("image") == image
        if not _healthy(service):
            if ours or not str(service.get("x-healthcheck-exempt") or "").strip():
                problems.append(f"{name} is long-running and has no health check")
        elif ours and not re.search(r"/health/(ready|live)\b", " ".join(strings(service["healthcheck"]["test"]))):
            problems.append(f"{name}'s health check must ask /health/ready or /health/live")
    return problems


def check_depends_on(compose: Compose) -> list[str]:
    """Every dependency exists and names its condition; health and completion are really there."""
    problems = []
    services = services_of(compose)
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        if isinstance(depends, list):
            problems.append(f"{name}: depends_on must name a condition for each of {depends}")
            continue
        for target, spec in depends.items():
            condition = (spec or {}).get("condition")
            if target not in services:
                problems.append(f"{name} depends on {target!r}, which is no service here")
            elif condition not in CONDITIONS:
                problems.append(f"{name} -> {target}: condition must be one of {sorted(CONDITIONS)}, not {condition!r}")
            elif condition == "service_healthy" and not _healthy(services[target]):
                problems.append(f"{name} waits for {target} to be healthy, which has no health check")
            elif condition == "service_completed_successfully" and restarted(services[target]):
                problems.append(f"{name} waits for {target} to complete, which is restarted (not a job)")
    return problems


def check_jobs(compose: Compose) -> list[str]:
    """db setup and topics create run once, on the shared image, and complete before any service."""
    problems = []
    services, image = services_of(compose), shared_image(compose)
    for job, wanted in JOBS.items():
        spec = services.get(job)
        if spec is None:
            problems.append(f"there is no {job} job")
            continue
        if command(spec) != wanted or spec.get("image") != image or str(spec.get("restart")) != "no":
            problems.append(f"{job} must run {wanted} once (restart: 'no') on the shared image")
        for name in serving(compose):
            condition = ((services[name].get("depends_on") or {}).get(job) or {}).get("condition")
            if condition != "service_completed_successfully":
                problems.append(f"{name} must start after {job} completed successfully")
    return problems


def _named_volumes(service: Service) -> dict[str, str]:
    """target -> named volume, of a service's mounts (bind mounts and tmpfs left out)."""
    found = {}
    for mount in service.get("volumes") or []:
        if isinstance(mount, str):
            source, _, rest = mount.partition(":")
            target = rest.partition(":")[0]
            if rest and not source.startswith(("/", ".", "~", "$")):
                found[target] = source
        elif mount.get("type") == "volume" and mount.get("source"):
            found[str(mount["target"])] = str(mount["source"])
    return found


def check_volumes(compose: Compose) -> list[str]:
    """Every named volume used is declared, and every declared one is used."""
    declared = set(compose.get("volumes") or {})
    used = {v: name for name, s in services_of(compose).items() for v in _named_volumes(s).values()}
    problems = [
        f"{service} mounts volume {v!r}, which is not declared" for v, service in used.items() if v not in declared
    ]
    return problems + [f"volume {v!r} is declared and never mounted" for v in sorted(declared - set(used))]


def check_checkpoints(compose: Compose) -> list[str]:
    """Every service writes its checkpoints, and keeps its signing key, on a named volume."""
    problems = []
    services = services_of(compose)
    for name in serving(compose):
        env, mounts = environment(services[name]), _named_volumes(services[name])
        for setting, path in (
            ("SERIALTRAIL_CHECKPOINT_DIR", env.get("SERIALTRAIL_CHECKPOINT_DIR", "")),
            ("SERIALTRAIL_CHECKPOINT_KEY_FILE", str(Path(env.get("SERIALTRAIL_CHECKPOINT_KEY_FILE", "")).parent)),
        ):
            if not path or path == "." or path not in mounts:
                problems.append(f"{name}: {setting} must lie on a named volume mounted at {path or '<unset>'}")
    return problems


FIXED_SETTINGS = {
    "SERIALTRAIL_ENVIRONMENT": "production",
    "SERIALTRAIL_HTTP_HOST": "0.0.0.0",
    "SERIALTRAIL_HTTP_PORT": SERVICE_PORT,
    "SERIALTRAIL_OTEL_EXPORTER": "otlp",
}


def _service_environment(name: str, env: dict[str, str], services: Mapping[str, Service]) -> Iterator[str]:
    yield from (f"{name}: {k} must be {v!r}" for k, v in FIXED_SETTINGS.items() if env.get(k) != v)
    for setting in ("DATABASE_URL", "SERIALTRAIL_APP_DATABASE_URL", "SERIALTRAIL_OTEL_EXPORTER_OTLP_ENDPOINT"):
        host = urlsplit(resolve(env.get(setting, ""))).hostname
        if host not in services:
            yield f"{name}: {setting} must point at a service of this file, not {host!r}"
    for broker in env.get("KAFKA_BOOTSTRAP_SERVERS", "").split(","):
        if broker.partition(":")[0] not in services:
            yield f"{name}: KAFKA_BOOTSTRAP_SERVERS must name a service of this file, not {broker!r}"
    yield from (
        f"{name}: {s} is not set" for s in ("SERIALTRAIL_DATA_DIR", "SERIALTRAIL_TRUSTED_PROXIES") if not env.get(s)
    )


def check_service_environment(compose: Compose) -> list[str]:
    """What every service process needs (docs/architecture.md, README: Configuration), and each
    secret its own settings declare, from a required variable."""
    problems: list[str] = []
    services = services_of(compose)
    for name, served in serving(compose).items():
        env = environment(services[name])
        problems += _service_environment(name, env, services)
        secrets = secret_settings(served) if served in BY_NAME else []
        problems += [
            f"{name}: its secret {secret} must be set from a required variable"
            for secret in secrets
            if not required_reference(env.get(secret, ""))
        ]
    return problems


def _members(compose: Compose, network: str) -> set[str]:
    return {name for name, s in services_of(compose).items() if network in (s.get("networks") or ["default"])}


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _within(inner: Network, outer: Network) -> bool:
    if isinstance(inner, ipaddress.IPv4Network) and isinstance(outer, ipaddress.IPv4Network):
        return inner.subnet_of(outer)
    if isinstance(inner, ipaddress.IPv6Network) and isinstance(outer, ipaddress.IPv6Network):
        return inner.subnet_of(outer)
    return False


def check_trusted_proxies(compose: Compose) -> list[str]:
    """A service trusts X-Forwarded-For only from a network that holds nothing but the gateway and
    the services (which never call each other), and that the gateway is on."""
    problems = []
    services = services_of(compose)
    allowed = {GATEWAY, *serving(compose)}
    subnets = {
        ipaddress.ip_network(resolve(str(config["subnet"])), strict=False): str(name)
        for name, network in (compose.get("networks") or {}).items()
        for config in ((network or {}).get("ipam") or {}).get("config") or []
        if config.get("subnet")
    }
    for name in serving(compose):
        for entry in filter(
            None,
            (e.strip() for e in resolve(environment(services[name]).get("SERIALTRAIL_TRUSTED_PROXIES", "")).split(",")),
        ):
            try:
                trusted = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                problems.append(f"{name} trusts {entry!r}: name the gateway's network (its subnet), not any address")
                continue
            network = next((n for subnet, n in subnets.items() if _within(trusted, subnet)), None)
            if network is None:
                problems.append(f"{name} trusts {entry}, which lies in no network of this file")
                continue
            members = _members(compose, network)
            if members - allowed:
                problems.append(f"{name} trusts network {network}, which also holds {sorted(members - allowed)}")
            if GATEWAY not in members:
                problems.append(f"{name} trusts network {network}, which the gateway is not on")
    return problems


def check_topics(compose: Compose, names: list[str]) -> list[str]:
    """The topics job creates every topic (topics.ALL); each service's topic is among them; the job
    and the services agree on the brokers and the topic prefix."""
    problems = [
        f"{n} publishes no topic (serialtrail_contracts.topics.BY_SERVICE)" for n in names if n not in topics.BY_SERVICE
    ]
    problems += [
        f"{n}'s topic {topics.BY_SERVICE[n]} is not in topics.ALL: `topics create` would not create it"
        for n in names
        if n in topics.BY_SERVICE and topics.BY_SERVICE[n] not in topics.ALL
    ]
    services = services_of(compose)
    if "topics" not in services:
        return problems
    job = environment(services["topics"])
    for name in serving(compose):
        env = environment(services[name])
        for setting in ("KAFKA_BOOTSTRAP_SERVERS", "SERIALTRAIL_KAFKA_TOPIC_PREFIX"):
            if env.get(setting, "") != job.get(setting, ""):
                problems.append(f"{name} and the topics job disagree on {setting}")
    return problems


def check_shared_environment_written_once(compose: Compose, text: str) -> list[str]:
    """A setting every service has, and no other container, is written once (an anchor) in the file."""
    services = services_of(compose)
    served = list(serving(compose))
    if not served:
        return []
    common = set.intersection(*(set(environment(services[n])) for n in served))
    others = {key for name, s in services.items() if name not in served for key in environment(s)}
    return [
        f"{key} is written {count} times: write the services' shared environment once (x- field, anchor)"
        for key in sorted(common - others)
        if (count := len(re.findall(rf"^\s*{re.escape(key)}:", text, re.MULTILINE))) != 1
    ]


def check_every_declared_service_deployed(declared: list[str], compose: Compose) -> list[str]:
    """Every service under services/ is collected by the app and has its compose service."""
    problems = [
        f"services/ declares {n!r}, which the app does not collect (BY_NAME)" for n in declared if n not in BY_NAME
    ]
    served = set(serving(compose).values())
    return problems + [
        f"services/ declares {n!r}, which no compose service serves" for n in declared if n not in served
    ]


def compose_problems(compose: Compose, names: list[str], text: str = "") -> list[str]:
    return [
        *check_no_version_key(compose),
        *check_variables(compose),
        *check_no_literal_secrets(compose),
        *check_serialtrail_services(compose, names),
        *check_gateway(compose, names),
        *check_healthchecks(compose),
        *check_depends_on(compose),
        *check_jobs(compose),
        *check_volumes(compose),
        *check_checkpoints(compose),
        *check_service_environment(compose),
        *check_trusted_proxies(compose),
        *check_topics(compose, names),
        *(check_shared_environment_written_once(compose, text) if text else []),
    ]


# --- the Dockerfile ------------------------------------------------------------------------------


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def parse_dockerfile(text: str) -> tuple[dict[str, str], list[Stage]]:
    """The global ARG defaults and the stages, each with its instructions (continuations joined)."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        if line.strip().startswith("#") or not line.strip():
            continue
        pending += line.rstrip().removesuffix("\\").strip() + " " if line.rstrip().endswith("\\") else line.strip()
        if not line.rstrip().endswith("\\"):
            keyword, _, args = pending.strip().partition(" ")
            instructions.append((keyword.upper(), args.strip()))
            pending = ""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for keyword, args in instructions:
        if keyword == "FROM":
            parts = args.split()
            base = re.sub(r"\$\{?(\w+)\}?", lambda m: global_args.get(m.group(1), m.group(0)), parts[0])
            stages.append(Stage(base, parts[2] if len(parts) > 2 and parts[1].upper() == "AS" else ""))
        elif stages:
            stages[-1].instructions.append((keyword, args))
        elif keyword == "ARG":
            name, _, default = args.partition("=")
            global_args[name] = default.strip('"')
    return global_args, stages


def _pairs(args: str) -> dict[str, str]:
    return {k: v for k, _, v in (token.partition("=") for token in shlex.split(args))}


BUILD_TOOLS = re.compile(
    r"\b(apt-get|apt|apk|yum|dnf|microdnf)\b[^&;|]*\b(install|add)\b|\bpip3?\s+install\b|\buv\b"
    r"|\b(gcc|g\+\+|clang|make|build-essential|cmake)\b"
)


def _final_base_and_user(final: Stage) -> Iterator[str]:
    if not re.fullmatch(r"python:3\.11(\.\d+)?-slim(-\w+)?(@sha256:[0-9a-f]+)?", final.base):
        yield f"the final stage must start from a slim Python 3.11 image, not {final.base!r}"
    users = final.all("USER")
    if not users or users[-1].partition(":")[0] in ("root", "0"):
        yield "the final stage must switch to a non-root USER (a fixed UID)"
    elif not users[-1].partition(":")[0].isdigit():
        yield "the final stage's USER must be a numeric UID (Kubernetes' runAsNonRoot checks it)"
    yield from (f"the final stage installs or builds: {r!r}" for r in final.all("RUN") if BUILD_TOOLS.search(r))
    yield from (
        f"the final stage copies from the build context ({c!r}): only the environment"
        for c in final.all("COPY")
        if "--from=" not in c
    )


def _final_identity(final: Stage, version: str) -> Iterator[str]:
    labels = {k: v for args in final.all("LABEL") for k, v in _pairs(args).items()}
    defaults = {name: value.strip('"') for name, _, value in (a.partition("=") for a in final.all("ARG"))}
    if resolve(labels.get("org.opencontainers.image.version", ""), defaults) != version:
        yield f"org.opencontainers.image.version must default to the app's version {version}"
    yield from (
        f"label org.opencontainers.image.{n} is missing"
        for n in OCI_LABELS
        if f"org.opencontainers.image.{n}" not in labels
    )
    if "${SOURCE_COMMIT}" not in labels.get("org.opencontainers.image.revision", ""):
        yield "org.opencontainers.image.revision must be the SOURCE_COMMIT build argument"
    if not any(a.partition("=")[0] == "SOURCE_COMMIT" for a in final.all("ARG")):
        yield "the final stage must take ARG SOURCE_COMMIT"
    env = {k: v for args in final.all("ENV") for k, v in _pairs(args).items()}
    if env.get("SERIALTRAIL_SOURCE_COMMIT") != "${SOURCE_COMMIT}":
        yield "ENV SERIALTRAIL_SOURCE_COMMIT must be ${SOURCE_COMMIT} (the build identity)"


def _final_interface(final: Stage) -> Iterator[str]:
    if not any("/health/" in check for check in final.all("HEALTHCHECK")):
        yield "the final stage has no HEALTHCHECK on /health/live"
    if final.all("ENTRYPOINT") != ['["serialtrail"]']:
        yield 'ENTRYPOINT must be ["serialtrail"]'
    if not final.all("CMD"):
        yield "a default CMD (help or version) is missing"
    if SERVICE_PORT not in " ".join(final.all("EXPOSE")).split():
        yield f"the final stage must EXPOSE {SERVICE_PORT}"


def _build_stages(stages: list[Stage], uv_version: str) -> Iterator[str]:
    defaults = {name: value.strip('"') for s in stages for name, _, value in (a.partition("=") for a in s.all("ARG"))}
    runs = [
        re.sub(r"\$\{?(\w+)\}?", lambda m: defaults.get(m.group(1), m.group(0)), run)
        for stage in stages[:-1]
        for run in stage.all("RUN")
    ]
    official = [f for stage in stages[:-1] for f in (stage.base, *stage.all("COPY"))]
    if not any(f"uv=={uv_version}" in r for r in runs) and not any(f"astral-sh/uv:{uv_version}" in f for f in official):
        yield f"the build stage must install uv {uv_version} (the Makefile's UV_VERSION)"
    if not any(re.search(r"\buv sync\b.*--locked\b.*--no-dev\b", r) for r in runs):
        yield "the build stage must install with `uv sync --locked --no-dev` (the lock, no dev tools)"


def check_dockerfile(text: str, uv_version: str, version: str) -> list[str]:
    _, stages = parse_dockerfile(text)
    if len(stages) < 2:
        return ["the Dockerfile must be multi-stage: a build stage with uv, a final stage with the environment only"]
    final = stages[-1]
    return [
        *_final_base_and_user(final),
        *_final_identity(final, version),
        *_final_interface(final),
        *_build_stages(stages, uv_version),
    ]


def app_version() -> str:
    project = tomllib.loads((ROOT / "apps" / "serialtrail" / "pyproject.toml").read_text())["project"]
    return str(project["version"])


def makefile_uv_version() -> str:
    found = re.search(r"^UV_VERSION\s*:?=\s*(\S+)", MAKEFILE.read_text(), re.MULTILINE)
    assert found, "the Makefile pins no UV_VERSION"
    return found.group(1)


# --- the tests -----------------------------------------------------------------------------------

NAMES = sorted(BY_NAME)


@pytest.fixture(scope="module")
def text() -> str:
    return COMPOSE_FILE.read_text()


@pytest.fixture(scope="module")
def compose(text: str) -> Compose:
    return load_compose(text)


def test_the_app_declares_services() -> None:
    assert NAMES, "serialtrail.services.BY_NAME is empty: nothing to deploy"


def test_the_compose_file_is_sound(compose: Compose, text: str) -> None:
    assert compose_problems(compose, NAMES, text) == []


def test_every_service_under_services_is_deployed(compose: Compose) -> None:
    assert check_every_declared_service_deployed(declared_services(), compose) == []


def test_a_service_added_under_services_without_a_compose_service_is_reported(compose: Compose) -> None:
    problems = check_every_declared_service_deployed([*declared_services(), "epcis_capture"], compose)
    assert any("'epcis_capture'" in p and "no compose service" in p for p in problems), problems


def test_a_service_the_app_declares_without_a_compose_service_is_reported(compose: Compose) -> None:
    problems = check_serialtrail_services(compose, [*NAMES, "epcis_capture"])
    assert any("epcis_capture has no compose service 'epcis-capture'" in p for p in problems), problems
    assert any("lacks epcis_capture" in p for p in check_gateway(compose, [*NAMES, "epcis_capture"]))


def test_the_dockerfile_is_sound() -> None:
    assert check_dockerfile(DOCKERFILE.read_text(), makefile_uv_version(), app_version()) == []


def _first_served(compose: Compose) -> str:
    return sorted(serving(compose))[0]


def _drop_healthcheck(compose: Compose) -> None:
    del compose["services"][_first_served(compose)]["healthcheck"]


def _disable_kafka_healthcheck(compose: Compose) -> None:
    compose["services"]["kafka"]["healthcheck"] = {"disable": True}


def _default_a_password(compose: Compose) -> None:
    env = compose["services"]["postgres"]["environment"]
    env["POSTGRES_PASSWORD"] = "${POSTGRES_PASSWORD:-hunter2}"


def _literal_password(compose: Compose) -> None:
    env = compose["services"]["postgres"]["environment"]
    env["POSTGRES_PASSWORD"] = "hunter2hunter2"


def _literal_password_in_a_url(compose: Compose) -> None:
    name = _first_served(compose)
    env = dict(compose["services"][name]["environment"])
    env["DATABASE_URL"] = "postgresql://serialtrail_owner:hunter2@postgres:5432/serialtrail"
    compose["services"][name]["environment"] = env


def _bare_variable(compose: Compose) -> None:
    compose["services"]["kafka"]["environment"]["KAFKA_NODE_ID"] = "${KAFKA_NODE_ID}"


def _serial_key_dropped(compose: Compose) -> None:
    env = dict(compose["services"]["serial-issuance"]["environment"])
    del env["SERIALTRAIL_SERIAL_ISSUANCE_SERIAL_KEY"]
    compose["services"]["serial-issuance"]["environment"] = env


def _publish_a_service_port(compose: Compose) -> None:
    compose["services"][_first_served(compose)]["ports"] = ["8001:8000"]


def _upstream_twice(compose: Compose) -> None:
    env = compose["services"][GATEWAY]["environment"]
    first = env["SERIALTRAIL_GATEWAY_UPSTREAMS"].split(",")[0]
    env["SERIALTRAIL_GATEWAY_UPSTREAMS"] += "," + first


def _upstream_wrong_host(compose: Compose) -> None:
    env = compose["services"][GATEWAY]["environment"]
    env["SERIALTRAIL_GATEWAY_UPSTREAMS"] = env["SERIALTRAIL_GATEWAY_UPSTREAMS"].replace(
        "http://serial-issuance:", "http://serial_issuance:"
    )


def _no_gateway(compose: Compose) -> None:
    del compose["services"][GATEWAY]


def _service_missing(compose: Compose) -> None:
    del compose["services"][_first_served(compose)]


def _wrong_serve_name(compose: Compose) -> None:
    compose["services"]["serial-issuance"]["command"] = ["serve", "serial-issuance"]


def _dependency_without_condition(compose: Compose) -> None:
    compose["services"][GATEWAY]["depends_on"] = sorted(serving(compose))


def _dependency_on_nothing(compose: Compose) -> None:
    compose["services"][GATEWAY]["depends_on"]["nowhere"] = {"condition": "service_healthy"}


def _start_before_the_jobs(compose: Compose) -> None:
    name = _first_served(compose)
    depends = dict(compose["services"][name]["depends_on"])
    del depends["topics"]
    compose["services"][name]["depends_on"] = depends


def _undeclared_volume(compose: Compose) -> None:
    del compose["volumes"]["kafka-data"]


def _checkpoints_not_on_a_volume(compose: Compose) -> None:
    name = _first_served(compose)
    compose["services"][name]["volumes"] = [v for v in compose["services"][name]["volumes"] if "checkpoints" not in v]


def _trust_everyone(compose: Compose) -> None:
    name = _first_served(compose)
    env = dict(compose["services"][name]["environment"])
    env["SERIALTRAIL_TRUSTED_PROXIES"] = "*"
    compose["services"][name]["environment"] = env


def _database_on_the_edge(compose: Compose) -> None:
    compose["services"]["postgres"]["networks"] = ["backend", "edge"]


def _not_production(compose: Compose) -> None:
    name = _first_served(compose)
    env = dict(compose["services"][name]["environment"])
    env["SERIALTRAIL_ENVIRONMENT"] = "development"
    compose["services"][name]["environment"] = env


def _version_key(compose: Compose) -> None:
    compose["version"] = "3.8"


def _another_topic_prefix(compose: Compose) -> None:
    name = _first_served(compose)
    env = dict(compose["services"][name]["environment"])
    env["SERIALTRAIL_KAFKA_TOPIC_PREFIX"] = "staging."
    compose["services"][name]["environment"] = env


def _job_restarted(compose: Compose) -> None:
    compose["services"]["db-setup"]["restart"] = "unless-stopped"


def _kafka_neither_restarted_nor_checked(compose: Compose) -> None:
    del compose["services"]["kafka"]["restart"]
    del compose["services"]["kafka"]["healthcheck"]


PLANTED: dict[str, tuple[Callable[[Compose], None], str]] = {
    "a service without its health check": (_drop_healthcheck, "is long-running and has no health check"),
    "Kafka's health check disabled": (_disable_kafka_healthcheck, "kafka is long-running and has no health check"),
    "a password with a default": (_default_a_password, "POSTGRES_PASSWORD} looks secret and has a default"),
    "a literal password": (_literal_password, "POSTGRES_PASSWORD must be exactly"),
    "a literal password in a URL": (_literal_password_in_a_url, "the password in DATABASE_URL"),
    "a variable neither required nor defaulted": (_bare_variable, "$KAFKA_NODE_ID is neither required"),
    "serial issuance without its serial key": (
        _serial_key_dropped,
        "SERIALTRAIL_SERIAL_ISSUANCE_SERIAL_KEY must be set",
    ),
    "a service publishing a port": (_publish_a_service_port, "publishes ports: only the gateway may"),
    "a service twice in the gateway's upstreams": (_upstream_twice, "2 times"),
    "an upstream at a host that is no service": (
        _upstream_wrong_host,
        "serial_issuance must be at http://serial-issuance",
    ),
    "no gateway": (_no_gateway, "there is no gateway service"),
    "a service without its compose service": (_service_missing, "has no compose service"),
    "serve given the compose name": (_wrong_serve_name, "must run ['serve', 'serial_issuance']"),
    "a dependency without a condition": (_dependency_without_condition, "depends_on must name a condition"),
    "a dependency on no service": (_dependency_on_nothing, "depends on 'nowhere'"),
    "a service not waiting for the topics job": (_start_before_the_jobs, "must start after topics completed"),
    "a volume used and not declared": (_undeclared_volume, "mounts volume 'kafka-data', which is not declared"),
    "checkpoints not on a volume": (
        _checkpoints_not_on_a_volume,
        "SERIALTRAIL_CHECKPOINT_DIR must lie on a named volume",
    ),
    "X-Forwarded-For trusted from anyone": (_trust_everyone, "trusts '*'"),
    "the trusted network shared with the database": (_database_on_the_edge, "which also holds ['postgres']"),
    "a service not in production": (_not_production, "SERIALTRAIL_ENVIRONMENT must be 'production'"),
    "a version key": (_version_key, "no `version:` key"),
    "a service on other topics than the job created": (
        _another_topic_prefix,
        "disagree on SERIALTRAIL_KAFKA_TOPIC_PREFIX",
    ),
    "a job that is restarted": (_job_restarted, "db-setup must run ['db', 'setup'] once"),
    "Kafka neither restarted nor checked": (_kafka_neither_restarted_nor_checked, "kafka is long-running and has no"),
}


@pytest.mark.parametrize("planted", sorted(PLANTED))
def test_each_compose_check_reports_what_is_planted(compose: Compose, planted: str) -> None:
    plant, expected = PLANTED[planted]
    broken = copy.deepcopy(compose)
    plant(broken)
    problems = compose_problems(broken, NAMES)
    assert any(expected in problem for problem in problems), f"{planted}: {expected!r} not in {problems}"


def test_the_shared_environment_written_twice_is_reported(compose: Compose, text: str) -> None:
    doubled = text.replace(
        '    command: ["serve", "aggregation"]\n',
        '    command: ["serve", "aggregation"]\n    environment:\n      <<: *service-env\n'
        "      SERIALTRAIL_CHECKPOINT_DIR: /var/lib/serialtrail/checkpoints\n",
    )
    assert doubled != text
    problems = check_shared_environment_written_once(load_compose(doubled), doubled)
    assert any("SERIALTRAIL_CHECKPOINT_DIR is written 2 times" in p for p in problems), problems


DOCKERFILE_PLANTED: dict[str, tuple[Callable[[str], str], str]] = {
    "running as root": (lambda t: t.replace("USER 10001:10001\n", ""), "non-root USER"),
    "a compiler in the final stage": (
        lambda t: t.replace(
            "COPY --from=build /opt/serialtrail",
            "RUN apt-get update && apt-get install -y gcc\nCOPY --from=build /opt/serialtrail",
        ),
        "the final stage installs or builds",
    ),
    "no health check": (lambda t: re.sub(r"HEALTHCHECK[^\n]*\\\n[^\n]*\n", "", t), "no HEALTHCHECK"),
    "no revision label": (
        lambda t: t.replace("org.opencontainers.image.revision", "org.example.revision"),
        "image.revision is missing",
    ),
    "the sources in the final image": (
        lambda t: t.replace("WORKDIR /var/lib/serialtrail\n", "WORKDIR /var/lib/serialtrail\nCOPY . /src\n"),
        "copies from the build context",
    ),
    "another uv": (lambda t: re.sub(r"ARG UV_VERSION=\S+", "ARG UV_VERSION=0.0.1", t), "must install uv"),
    "a version label that drifted": (
        lambda t: re.sub(r"ARG VERSION=\S+", "ARG VERSION=0.0.0-drifted", t),
        "app's version",
    ),
}


@pytest.mark.parametrize("planted", sorted(DOCKERFILE_PLANTED))
def test_each_dockerfile_check_reports_what_is_planted(planted: str) -> None:
    plant, expected = DOCKERFILE_PLANTED[planted]
    original = DOCKERFILE.read_text()
    broken = plant(original)
    assert broken != original, f"{planted}: the plant changed nothing"
    problems = check_dockerfile(broken, makefile_uv_version(), app_version())
    assert any(expected in problem for problem in problems), f"{planted}: {expected!r} not in {problems}"
