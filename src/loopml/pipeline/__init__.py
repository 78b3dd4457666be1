"""Pipelines: ``@step`` functions wired into a DAG by parameter names, cached, run anywhere.

A step's cache key is sha256(step name, code fingerprint, the params it takes, its inputs'
content hashes); a step whose key is in the cache is skipped and its stored output reused.
Each pipeline run is a parent run (experiment = pipeline name) with a child run per step.
Executors: ``local`` (threads), ``process`` (a process pool), ``dask-local`` and
``dask://host:port``. :func:`delete_cache_entries` (``loopml pipeline gc``) expires cache
entries that no run has used for a while.
"""

from loopml.pipeline._cache import CacheIndex, OutputManifest, cache_key
from loopml.pipeline._executors import (
    DaskExecutor,
    Executor,
    LocalExecutor,
    ProcessExecutor,
    TaskResult,
    make_executor,
)
from loopml.pipeline._gc import CacheEntry, CacheGcResult, delete_cache_entries
from loopml.pipeline._outputs import EncodedOutput, decode_output, encode_output
from loopml.pipeline._pipeline import Pipeline
from loopml.pipeline._records import PipelineRun, get_pipeline_run, list_pipeline_runs
from loopml.pipeline._results import (
    PIPELINE_TAG,
    PipelineResult,
    StepEvent,
    StepFailed,
    StepResult,
)
from loopml.pipeline._step import Step, step

__all__ = [
    "PIPELINE_TAG",
    "CacheEntry",
    "CacheGcResult",
    "CacheIndex",
    "DaskExecutor",
    "EncodedOutput",
    "Executor",
    "LocalExecutor",
    "OutputManifest",
    "Pipeline",
    "PipelineResult",
    "PipelineRun",
    "ProcessExecutor",
    "Step",
    "StepEvent",
    "StepFailed",
    "StepResult",
    "TaskResult",
    "cache_key",
    "decode_output",
    "delete_cache_entries",
    "encode_output",
    "get_pipeline_run",
    "list_pipeline_runs",
    "make_executor",
    "step",
]
