# One image for every running part: `tronador webhook` (the default), `tronador controller`,
# `tronador certs sync`, and the pipeline's `tronador publish` / `tronador retire`.
# Build: docker build -t tronador:dev .

# --- builder: a virtual environment with the package and its runtime dependencies only ---
FROM python:3.11-slim AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/tronador
WORKDIR /src
COPY pyproject.toml README.md ./
COPY tronador ./tronador
COPY kube ./kube
COPY webhook ./webhook
COPY controller ./controller
COPY certs ./certs
COPY gitops ./gitops
# No extras: the test dependencies stay out of the image. Compile bytecode now, since the
# root filesystem is read-only at run time.
RUN /opt/tronador/bin/pip install --no-compile . \
    && /opt/tronador/bin/python -m compileall -q /opt/tronador/lib

# --- runtime: the venv on a slim Python, as a non-root user ---
FROM python:3.11-slim
LABEL org.opencontainers.image.title="tronador" \
      org.opencontainers.image.description="Per pull request Kubernetes test environments: webhook, controller and certs" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/tronador/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# git and ssh for `tronador publish` / `tronador retire` (the Tekton Tasks run this image).
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends git openssh-client ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=builder /opt/tronador /opt/tronador
RUN groupadd --system --gid 65532 tronador \
    && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin tronador
# Numeric, so the kubelet can check runAsNonRoot without reading /etc/passwd.
USER 65532:65532
EXPOSE 8443
ENTRYPOINT ["tronador"]
CMD ["webhook"]
