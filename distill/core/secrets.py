"""Keep secrets (API keys, tokens) out of every file a run writes.

A key given in config or on the command line (``+teacher.client.api_key=...``) would otherwise reach the
run's ``.hydra/`` files, ``summary.json``/``results.json``, the W&B config and folder names made from
overrides. :func:`redact` replaces such values wherever they sit; :class:`RedactSecrets` is a Hydra
callback that rewrites the ``.hydra/`` files (and a sweep's ``multirun.yaml``) once Hydra has written them.
The environment route (``ANTHROPIC_API_KEY``) never reaches a file and is the one to prefer.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

REDACTED = "***redacted***"
SECRET_NAME = re.compile(r"(api_?key|token|secret|password)$", re.IGNORECASE)
# "a.b.api_key=VALUE" in an override string (also with a leading + or ~)
SECRET_OVERRIDE = re.compile(r"((?:^|[.+~/])(?:api_?key|[a-z_]*token|[a-z_]*secret|password)=)[^,\s]+", re.IGNORECASE)


def redact(value: Any) -> Any:
    """A copy of ``value`` (dicts, lists, strings) with secrets replaced by ``***redacted***``."""
    if isinstance(value, dict):
        return {
            k: REDACTED if SECRET_NAME.search(str(k)) and v not in (None, "") else redact(v) for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return SECRET_OVERRIDE.sub(lambda m: m.group(1) + REDACTED, value)
    return value


def redact_yaml_file(path: Path) -> None:
    if path.exists():
        data = yaml.safe_load(path.read_text())
        clean = redact(data)
        if clean != data:
            path.write_text(yaml.safe_dump(clean, sort_keys=False))


class RedactSecrets(Callback):
    """Rewrites the ``.hydra/`` files of a job, and a sweep's ``multirun.yaml``, without secrets."""

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        hydra = config.hydra
        folder = Path(hydra.runtime.output_dir) / hydra.output_subdir if hydra.output_subdir else None
        if folder is not None:
            for name in ("config.yaml", "hydra.yaml", "overrides.yaml"):
                redact_yaml_file(folder / name)
        if hydra.mode is not None and str(hydra.mode).endswith("MULTIRUN"):
            redact_yaml_file(Path(hydra.sweep.dir) / "multirun.yaml")
