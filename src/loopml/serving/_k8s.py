"""Kubernetes manifests for an endpoint: a Deployment of stateless replicas and a Service.

Replicas share the store (PostgreSQL + object storage), so the manifest carries no model
files: each pod runs ``loopml serve NAME``, reads the endpoint from the store and loads its
models. The store's URLs come from a Secret (``loopml-store`` by default) rather than being
written into the manifest, since a database URL holds a password.
"""

from __future__ import annotations

from typing import Any

import yaml

from loopml.serving._endpoints import StoredEndpoint

__all__ = ["k8s_manifests"]

_PORT = 8080


def k8s_manifests(
    endpoint: StoredEndpoint,
    *,
    image: str = "loopml:latest",
    replicas: int = 2,
    workers: int = 1,
    secret: str = "loopml-store",
    cpu: str = "1",
    memory: str = "1Gi",
) -> str:
    """A Deployment and a Service for ``endpoint``, as one multi-document YAML text."""
    name = f"loopml-{endpoint.name}".lower().replace("_", "-").replace(".", "-")[:63]
    labels = {"app.kubernetes.io/name": "loopml-serve", "loopml.dev/endpoint": endpoint.name}
    probe = {"httpGet": {"path": "/v2/health/ready", "port": _PORT}, "periodSeconds": 5}
    container: dict[str, Any] = {
        "name": "serve",
        "image": image,
        "args": [
            "loopml",
            "serve",
            endpoint.name,
            "--host",
            "0.0.0.0",
            "--port",
            str(_PORT),
            "--workers",
            str(workers),
        ],
        "ports": [{"name": "http", "containerPort": _PORT}],
        "envFrom": [{"secretRef": {"name": secret}}],  # LOOPML_DB_URL, LOOPML_ARTIFACTS, ...
        "readinessProbe": probe,
        "livenessProbe": {
            "httpGet": {"path": "/v2/health/live", "port": _PORT},
            "periodSeconds": 10,
        },
        "resources": {
            "requests": {"cpu": cpu, "memory": memory},
            "limits": {"memory": memory},
        },
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {"loopml.dev/generation": str(endpoint.generation)},
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            # A new pod must be ready before an old one goes: no request finds no replica.
            "strategy": {"rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(_PORT),
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": {"containers": [container], "terminationGracePeriodSeconds": 30},
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": labels},
        "spec": {"selector": labels, "ports": [{"name": "http", "port": 80, "targetPort": _PORT}]},
    }
    return yaml.safe_dump_all([deployment, service], sort_keys=False)
