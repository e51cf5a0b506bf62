"""Where trials run: in this process, in N local worker processes, or as Ray tasks.

Every executor runs :func:`motiflens.experiments.trials.run_trial` on each
:class:`~motiflens.experiments.trials.TrialTask` (or :func:`~motiflens.experiments.trials.run_trial_group`
on a :class:`~motiflens.experiments.trials.TrialGroup` of vectorised trials; local executors only)
and calls ``on_done(task, result)`` on the driver as each trial finishes, in completion order;
the worker-process executor also calls ``on_epoch(task, epoch)`` there as each epoch of a running
trial ends (the sequential one shows each trial's own per-epoch progress instead). Trials write
into the sweep directory themselves (``runs/<model>/trial-<k>/``); a trial is complete when its ``result.json`` is in place, so an
executor killed at any point leaves a directory the next sweep resumes from.

A failing trial does not stop the others; the executor raises :class:`SweepError` at the end,
naming every failed trial (their directories stay, and the next run retries them).
"""

from __future__ import annotations

import io
import multiprocessing
import os
import secrets
import shutil
import tarfile
import tempfile
import traceback
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Sequence

from motiflens.errors import ConfigError, MotiflensError
from motiflens.experiments.trials import OnEpoch, item_tasks, run_item, run_trial

OnDone = Callable[[Any, dict], None]

#: Seconds between looks at the workers' epoch messages while trials run.
EPOCH_POLL_S = 0.5

#: In a worker process: where it reports finished epochs, ``(model_id, trial, epoch)``.
_epoch_queue: Any = None

#: Marker file proving a Ray worker sees the driver's sweep directory (shared filesystem).
SWEEP_TOKEN = ".sweep-token"


class SweepError(MotiflensError):
    """One or more trials of a sweep failed (the others completed and are kept)."""


def _failure_message(failures: list[tuple[Any, str]]) -> str:
    first_task, first_error = failures[0]
    names = ", ".join(f"{t.model_id}/trial-{t.trial}" for t, _ in failures)
    return (
        f"{len(failures)} trial(s) failed ({names}); first: {first_task.trial_dir}: "
        f"{first_error.strip().splitlines()[-1] if first_error.strip() else 'unknown error'}. "
        "Completed trials are kept; run the same command again to retry the failed ones."
    )


class LocalExecutor:
    """Run trials one after another in this process.

    Parameters
    ----------
    progress : bool
        Let each trial show its per-epoch progress bar.
    """

    def __init__(self, progress: bool = True) -> None:
        self.progress = progress

    def describe(self) -> str:
        return "local, sequential"

    def run(self, tasks: Sequence[Any], on_done: OnDone, on_epoch: OnEpoch | None = None) -> None:
        """Run every task; raise SweepError at the end if any failed (``on_epoch`` is not
        called: with ``progress`` each trial prints its own per-epoch lines)."""
        failures: list[tuple[Any, str]] = []
        for item in tasks:
            try:
                pairs = run_item(replace(item, progress=self.progress))
            except MotiflensError as exc:
                failures.extend((task, str(exc)) for task in item_tasks(item))
                continue
            except Exception:  # noqa: BLE001 - reported with the trial's name, then re-raised as SweepError
                failures.extend((task, traceback.format_exc()) for task in item_tasks(item))
                continue
            for task, result in pairs:
                on_done(task, result)
        if failures:
            raise SweepError(_failure_message(failures))


def _init_worker(threads: int, epoch_queue: Any = None) -> None:
    """Process-pool initializer: bound torch's intra-op threads so workers share the CPU fairly,
    let malloc keep freed memory for reuse (:mod:`motiflens._malloc`) and keep the queue that
    finished epochs are reported on (None: not reported)."""
    import torch

    from motiflens._malloc import retain_freed_memory

    global _epoch_queue
    _epoch_queue = epoch_queue
    retain_freed_memory()
    torch.set_num_threads(max(1, threads))


def _report_epoch(task: Any, epoch: int) -> None:
    _epoch_queue.put((task.model_id, task.trial, epoch))


def _run_in_worker(task: Any) -> list:
    """Run a trial or a vectorised group in a worker: ``[(task, result), ...]``."""
    try:
        return run_item(task, _report_epoch if _epoch_queue is not None else None)
    except MotiflensError:
        raise
    except Exception as exc:  # keep the worker's traceback: it is lost when pickled across
        raise RuntimeError(traceback.format_exc()) from exc


class ProcessExecutor:
    """Run trials in ``workers`` local processes (``spawn`` context, safe with torch).

    Parameters
    ----------
    workers : int
        Number of worker processes (>= 1).
    threads_per_worker : int or None
        torch intra-op threads per worker; default ``max(1, cpu_count // workers)``.
    """

    def __init__(self, workers: int, threads_per_worker: int | None = None) -> None:
        if workers < 1:
            raise ConfigError(f"workers: expected >= 1, got {workers}")
        self.workers = workers
        self.threads = threads_per_worker or max(1, (os.cpu_count() or 1) // workers)

    def describe(self) -> str:
        return f"local, {self.workers} worker processes x {self.threads} threads"

    def run(self, tasks: Sequence[Any], on_done: OnDone, on_epoch: OnEpoch | None = None) -> None:
        """Run every task in the pool (``on_epoch(task, epoch)`` as epochs end, when given);
        raise SweepError at the end if any failed."""
        failures: list[tuple[Any, str]] = []
        if not tasks:
            return
        context = multiprocessing.get_context("spawn")
        # A SimpleQueue writes each message before put() returns, so a trial's epochs are all
        # readable here before its result is: on_epoch never follows that trial's on_done.
        epochs = context.SimpleQueue() if on_epoch is not None else None
        by_key = {(t.model_id, t.trial): t for item in tasks for t in item_tasks(item)}
        with ProcessPoolExecutor(
            max_workers=min(self.workers, len(tasks)), mp_context=context,
            initializer=_init_worker, initargs=(self.threads, epochs),
        ) as pool:
            pending: dict[Future, Any] = {pool.submit(_run_in_worker, t): t for t in tasks}
            try:
                while pending:
                    done, _ = wait(list(pending), return_when=FIRST_COMPLETED,
                                   timeout=EPOCH_POLL_S if epochs is not None else None)
                    _forward_epochs(epochs, by_key, on_epoch)
                    for future in done:
                        item = pending.pop(future)
                        try:
                            pairs = future.result()
                        except Exception as exc:  # noqa: BLE001 - collected, raised as SweepError
                            failures.extend((task, str(exc)) for task in item_tasks(item))
                            continue
                        for task, result in pairs:
                            on_done(task, result)
            except BaseException:
                for future in pending:
                    future.cancel()
                raise
        if failures:
            raise SweepError(_failure_message(failures))


def _forward_epochs(epochs: Any, by_key: dict[tuple[str, int], Any],
                    on_epoch: OnEpoch | None) -> None:
    """Call ``on_epoch`` for every epoch message the workers have queued so far."""
    if epochs is None or on_epoch is None:
        return
    while not epochs.empty():
        model_id, trial, epoch = epochs.get()
        task = by_key.get((model_id, trial))
        if task is not None:
            on_epoch(task, epoch)


# ----------------------------------------------------------------------------- Ray


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "--ray needs the optional dependency 'ray': pip install 'motiflens[ray]' "
            "(or pip install 'ray[default]')"
        ) from None
    return ray


def _pack_dir(path: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for item in sorted(path.rglob("*")):
            if item.is_file() and not item.name.startswith(".tmp-"):
                tar.add(item, arcname=str(item.relative_to(path)))
    return buffer.getvalue()


def unpack_trial(archive: bytes, trial_dir: Path) -> None:
    """Unpack a trial directory shipped back by a remote worker into ``trial_dir``.

    The completion marker ``result.json`` is moved into place last, so an interrupted unpack
    leaves an incomplete trial that the next run redoes.
    """
    trial_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tmp-unpack-", dir=trial_dir))
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(staging, filter="data")
            else:  # Python without extraction filters: the archive comes from our own worker
                tar.extractall(staging)
        files = sorted(p for p in staging.rglob("*") if p.is_file())
        files.sort(key=lambda p: p.name == "result.json")
        for item in files:
            target = trial_dir / item.relative_to(staging)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(item, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _ray_trial(task: Any, data_box: list, token: str) -> tuple[dict, bytes | None]:
    """Body of the Ray task: run the trial in place when the sweep directory is shared,
    otherwise in a scratch directory whose files are shipped back to the driver."""
    import ray

    sweep_dir = Path(task.trial_dir).parents[2]
    marker = sweep_dir / SWEEP_TOKEN
    shared = marker.is_file() and marker.read_text().strip() == token
    if shared and Path(task.dataset_path).is_file():
        return run_trial(task), None
    scratch = Path(tempfile.mkdtemp(prefix="motiflens-trial-"))
    try:
        data_path = Path(task.dataset_path)
        if not data_path.is_file():
            if data_box[0] is None:
                raise ConfigError(f"{data_path}: dataset not visible on this Ray worker")
            data_path = scratch / "dataset.h5"
            data_path.write_bytes(ray.get(data_box[0]))
        trial_dir = scratch / "trial"
        result = run_trial(replace(task, trial_dir=str(trial_dir), dataset_path=str(data_path)))
        return result, _pack_dir(trial_dir)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


class RayExecutor:
    """Run each trial as a Ray task; results are gathered on the driver into the same layout.

    Parameters
    ----------
    address : str or None
        ``"auto"`` (a running cluster), ``"local"`` (start a local instance) or a cluster address
        (``"ray://host:10001"``, ``"host:6379"``). Ignored when Ray is already initialised in
        this process.
    num_cpus : float
        CPUs requested per trial.
    num_gpus : float or None
        GPUs per trial; None = 1 if the cluster has GPUs, else 0.
    """

    def __init__(self, address: str | None = "auto", num_cpus: float = 1,
                 num_gpus: float | None = None) -> None:
        self.address = address
        self.num_cpus = num_cpus
        self.num_gpus = num_gpus

    def describe(self) -> str:
        return f"ray ({self.address or 'current'}), {self.num_cpus} CPU / {self.num_gpus} GPU per trial"

    def _connect(self) -> Any:
        ray = _import_ray()
        if not ray.is_initialized():
            address = None if self.address in (None, "", "local") else self.address
            try:
                ray.init(address=address, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise ConfigError(
                    f"--ray {self.address}: cannot connect to a Ray cluster ({exc}); start one with "
                    "`ray start --head`, pass its address, or use --ray local"
                ) from None
        return ray

    def run(self, tasks: Sequence[Any], on_done: OnDone, on_epoch: OnEpoch | None = None) -> None:
        """Submit every task; gather results as they finish; SweepError at the end on failures
        (``on_epoch`` is not called: Ray tasks report only when they finish)."""
        if not tasks:
            return
        ray = self._connect()
        gpus = self.num_gpus
        if gpus is None:
            gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
        self.num_gpus = gpus
        sweep_dir = Path(tasks[0].trial_dir).parents[2]
        token = secrets.token_hex(16)
        from motiflens._io import atomic_open

        with atomic_open(sweep_dir / SWEEP_TOKEN) as handle:
            handle.write(token)
        # A single-node cluster shares this filesystem; only a multi-node one needs the data shipped.
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        data_ref = ray.put(Path(tasks[0].dataset_path).read_bytes()) if len(nodes) > 1 else None
        remote = ray.remote(num_cpus=self.num_cpus, num_gpus=gpus, max_retries=0)(_ray_trial)
        threads = max(1, int(self.num_cpus))
        refs = {
            remote.remote(replace(task, threads=threads, progress=False), [data_ref], token): task
            for task in tasks
        }
        failures: list[tuple[Any, str]] = []
        try:
            while refs:
                done, _ = ray.wait(list(refs), num_returns=1)
                for ref in done:
                    task = refs.pop(ref)
                    try:
                        result, archive = ray.get(ref)
                    except Exception as exc:  # noqa: BLE001 - RayTaskError wraps the worker's error
                        cause = getattr(exc, "cause", None)
                        failures.append((task, str(cause) if cause is not None else str(exc)))
                        continue
                    if archive is not None:
                        unpack_trial(archive, Path(task.trial_dir))
                    on_done(task, result)
        except BaseException:
            for ref in refs:
                ray.cancel(ref, force=True)
            raise
        if failures:
            raise SweepError(_failure_message(failures))


def make_executor(workers: int = 1, ray: str | None = None, progress: bool = True,
                  cpus_per_trial: float = 1, gpus_per_trial: float | None = None) -> Any:
    """The executor for the CLI's ``--workers N`` / ``--ray auto|ADDRESS`` options."""
    if ray:
        return RayExecutor(ray, num_cpus=cpus_per_trial, num_gpus=gpus_per_trial)
    if workers is None or workers <= 1:
        if workers is not None and workers < 1:
            raise ConfigError(f"--workers: expected >= 1, got {workers}")
        return LocalExecutor(progress=progress)
    return ProcessExecutor(workers)
