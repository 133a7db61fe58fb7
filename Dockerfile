# syntax=docker/dockerfile:1
# The one Serialtrail image: the `serialtrail` command with every service, for each role of
# distributed mode (`serve <service>`, `gateway`, `db setup`, `topics create`).
#
#   docker build --build-arg SOURCE_COMMIT="g$(git rev-parse --short=8 HEAD)" -t serialtrail:local .
#
# SOURCE_COMMIT is what `serialtrail version`, /health/live and every recorded event name as the
# source commit ("g" + the short commit, "g<commit>.dirty" for a tree with local changes); .git is
# not in the build context, so the image cannot find it out by itself.

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# --- the lock's inputs alone, so that a change to the sources does not reinstall dependencies ----
FROM ${PYTHON_IMAGE} AS manifests
WORKDIR /src
COPY . .
RUN find . -type f ! -name pyproject.toml ! -name uv.lock -delete \
    && find . -depth -type d -empty -delete

# --- build: uv (pinned, from PyPI) installs the locked environment into /opt/serialtrail ----------
FROM ${PYTHON_IMAGE} AS build
ARG UV_VERSION=0.13.8
RUN python -m pip install --no-cache-dir --disable-pip-version-check "uv==${UV_VERSION}"
ENV UV_PROJECT_ENVIRONMENT=/opt/serialtrail \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy
WORKDIR /src
COPY --from=manifests /src ./
# Third-party packages exactly as locked (no development group), then the workspace's own packages,
# installed as wheels (not editable: the final image holds no source tree).
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --all-packages --no-install-workspace
COPY . .
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --all-packages --no-editable

# --- runtime: the slim Python and the environment, nothing else (no uv, pip, compiler or source) --
FROM ${PYTHON_IMAGE} AS runtime
ARG SOURCE_COMMIT=""
ARG VERSION=0.1.0
ARG SOURCE_URL=""
LABEL org.opencontainers.image.title="Serialtrail" \
      org.opencontainers.image.description="Pharmaceutical serialization and track-and-trace: serve one service, the gateway, db setup, topics create" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${SOURCE_COMMIT}" \
      org.opencontainers.image.source="${SOURCE_URL}"
# The base image's installers go too: the runtime installs nothing. A fixed, unprivileged user owns
# the data directory and the mount points of the checkpoint and key volumes (a named volume takes the
# ownership of the directory it is mounted on).
RUN python -m pip uninstall --yes --quiet --disable-pip-version-check pip setuptools wheel \
    && groupadd --system --gid 10001 serialtrail \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/serialtrail --no-create-home \
        --shell /usr/sbin/nologin serialtrail \
    && install --directory --owner 10001 --group 10001 --mode 0750 \
        /var/lib/serialtrail /var/lib/serialtrail/checkpoints /var/lib/serialtrail/keys
COPY --from=build /opt/serialtrail /opt/serialtrail
ENV PATH=/opt/serialtrail/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SERIALTRAIL_SOURCE_COMMIT=${SOURCE_COMMIT} \
    SERIALTRAIL_DATA_DIR=/var/lib/serialtrail \
    SERIALTRAIL_HTTP_HOST=0.0.0.0 \
    SERIALTRAIL_HTTP_PORT=8000
WORKDIR /var/lib/serialtrail
USER 10001:10001
EXPOSE 8000
# Liveness only: readiness (/health/ready) is the orchestrator's to ask (compose and Kubernetes do).
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('SERIALTRAIL_HTTP_PORT', '8000') + '/health/live', timeout=4)"]
ENTRYPOINT ["serialtrail"]
CMD ["--help"]
