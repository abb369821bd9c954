"""Log a finished run store to MLflow: the resolved config as params, metrics per generation.

What is logged for a run directory (``simulate --mlflow URI``, or each run of a sweep):

- params: the resolved ``config.yaml`` flattened to dotted keys (``policy.kind``,
  ``model.params.estimator``, ...), the same names a sweep uses for its swept keys;
- metrics: for every metric, the median over replicates at each generation, as ``step =
  generation``; with at most :data:`PER_REPLICATE_MAX` replicates, also every replicate's value
  as ``<metric>.rep_<r>`` (not ``<metric>/rep_<r>``: the file store keeps ``<metric>`` as a
  file, so it cannot also be a folder);
- artifacts: ``config.yaml`` and ``summary.json``.

The run is logged from the finished run store (not from inside the loop), so it works the same
for both engines, for resumed runs and for sweep runs computed on other machines.

``URI`` is any MLflow tracking URI; a plain path or a ``file:`` URI is the local file store
(no server needed). MLflow 3 keeps the file store in maintenance mode and refuses it unless
``MLFLOW_ALLOW_FILE_STORE=true``; we set that (only when unset) for ``file:`` URIs, since the
file store is exactly what a laptop user without a tracking server wants.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from modelcollapse.errors import InvalidParameterError, require_extra
from modelcollapse.loop.results import Metrics
from modelcollapse.loop.store import atomic_write_bytes

PER_REPLICATE_MAX = 10
PARAM_VALUE_MAX = 500  # MLflow < 2.x limit; newer servers allow more, older ones reject it
_BATCH_METRICS = 1000  # MLflow's log_batch limits
_BATCH_PARAMS = 100
_KEY_CHARS = re.compile(r"[^A-Za-z0-9_\-. :/]")


def require_mlflow() -> Any:
    """The ``mlflow`` module, or MissingExtraError naming ``pip install 'modelcollapse[mlflow]'``."""
    return require_extra("mlflow", "mlflow")


def tracking_uri(uri: str) -> str:
    """A tracking URI as given (``scheme://...``, ``file:...``, ``databricks``), or a path as a
    ``file://`` URI of its absolute path."""
    if not isinstance(uri, str) or not uri.strip():
        raise InvalidParameterError(f"--mlflow: expected a tracking URI or a path, got {uri!r}")
    if "://" in uri or uri.startswith("file:") or uri == "databricks":
        return uri
    return Path(uri).expanduser().resolve().as_uri()


def client(uri: str) -> Any:
    """An ``MlflowClient`` for ``uri`` (see :func:`tracking_uri`)."""
    require_mlflow()
    uri = tracking_uri(uri)
    if uri.startswith("file:"):
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def flatten_params(config: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested config -> ``{dotted.key: str(value)}``; lists as JSON, long values truncated."""
    out: dict[str, str] = {}
    for key, value in config.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten_params(value, f"{path}."))
            continue
        text = json.dumps(value) if isinstance(value, (list, dict)) else str(value)
        if len(text) > PARAM_VALUE_MAX:
            text = text[: PARAM_VALUE_MAX - 3] + "..."
        out[_KEY_CHARS.sub("_", path)] = text
    return out


def generation_series(metrics: Metrics, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(generations, median over replicates) of one metric; NaN where no value is finite."""
    sel = metrics.metric == name
    gen, val = metrics.generation[sel], metrics.value[sel]
    gens = np.unique(gen)
    medians = np.full(gens.size, np.nan)
    order = np.argsort(gen, kind="stable")
    bounds = [*np.searchsorted(gen[order], gens, side="left").tolist(), order.size]
    for i in range(gens.size):
        v = val[order[bounds[i] : bounds[i + 1]]]
        v = v[np.isfinite(v)]
        if v.size:
            medians[i] = float(np.median(v))
    return gens, medians


def _metric_entries(metrics: Metrics, timestamp: int) -> list[Any]:
    from mlflow.entities import Metric

    entries = []
    replicates = np.unique(metrics.replicate)
    per_replicate = replicates.size <= PER_REPLICATE_MAX
    for name in sorted(metrics.names):
        key = _KEY_CHARS.sub("_", name)
        gens, medians = generation_series(metrics, name)
        entries += [
            Metric(key, float(v), timestamp, int(g)) for g, v in zip(gens, medians, strict=True)
        ]
        if per_replicate and replicates.size > 1:
            sel = metrics.metric == name
            for g, r, v in zip(
                metrics.generation[sel], metrics.replicate[sel], metrics.value[sel], strict=True
            ):
                entries.append(Metric(f"{key}.rep_{int(r)}", float(v), timestamp, int(g)))
    return entries


def log_run(
    uri: str,
    run_dir: str | Path,
    *,
    experiment: str | None = None,
    run_name: str | None = None,
    tags: dict[str, str] | None = None,
) -> str:
    """Log the finished run store ``run_dir`` as one MLflow run; returns the MLflow run id.

    ``experiment`` defaults to the config's ``name``; it is created when missing.
    """
    run_dir = Path(run_dir)
    for needed in ("config.yaml", "metrics.parquet"):
        if not (run_dir / needed).is_file():
            raise InvalidParameterError(
                f"{run_dir}: expected a finished run store to log to MLflow, got no {needed}"
            )
    config = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
    metrics = Metrics.read(run_dir)
    mlflow_client = client(uri)
    from mlflow.entities import Param, RunTag

    name = experiment or str(config.get("name", "modelcollapse"))
    found = mlflow_client.get_experiment_by_name(name)
    exp_id = found.experiment_id if found is not None else mlflow_client.create_experiment(name)
    all_tags = {"modelcollapse.run_dir": str(run_dir.resolve()), **(tags or {})}
    run = mlflow_client.create_run(exp_id, run_name=run_name or run_dir.name, tags=all_tags)
    rid = run.info.run_id
    try:
        params = [Param(k, v) for k, v in flatten_params(config).items()]
        for i in range(0, len(params), _BATCH_PARAMS):
            mlflow_client.log_batch(rid, params=params[i : i + _BATCH_PARAMS])
        entries = _metric_entries(metrics, int(time.time() * 1000))
        for i in range(0, len(entries), _BATCH_METRICS):
            mlflow_client.log_batch(rid, metrics=entries[i : i + _BATCH_METRICS])
        mlflow_client.log_batch(rid, tags=[RunTag("modelcollapse.logged", "complete")])
        for artifact in ("config.yaml", "summary.json"):
            if (run_dir / artifact).is_file():
                mlflow_client.log_artifact(rid, str(run_dir / artifact))
    except BaseException:
        mlflow_client.set_terminated(rid, "FAILED")
        raise
    mlflow_client.set_terminated(rid, "FINISHED")
    return rid


class SweepLogger:
    """Logs each run of a sweep once, recording it in ``DIR/mlflow/<run_id>.json``.

    The record makes logging resumable too: a resumed sweep logs only the runs not logged to the
    same tracking URI yet.
    """

    def __init__(self, uri: str, sweep_name: str, out_dir: str | Path):
        require_mlflow()  # fail before any run starts, not after the first one
        self.uri = tracking_uri(uri)
        self.sweep_name = sweep_name
        self.folder = Path(out_dir) / "mlflow"

    def log(self, run: Any, run_dir: Path) -> str:
        """Log one finished sweep run (``run`` is a :class:`modelcollapse.sweep.expand.Run`)."""
        marker = self.folder / f"{run.run_id}.json"
        if marker.is_file():
            stored = json.loads(marker.read_text(encoding="utf-8"))
            if stored.get("tracking_uri") == self.uri:
                return str(stored["mlflow_run_id"])
        tags = {"modelcollapse.sweep": self.sweep_name, "modelcollapse.sweep_run": run.run_id}
        tags.update({f"sweep.{k}": str(v) for k, v in run.overrides.items()})
        rid = log_run(self.uri, run_dir, experiment=self.sweep_name, run_name=run.run_id, tags=tags)
        record = {"tracking_uri": self.uri, "mlflow_run_id": rid}
        atomic_write_bytes(marker, json.dumps(record).encode("utf-8"))
        return rid
