"""``motiflens models``, ``train`` and ``evaluate``: architectures, training runs, test metrics."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def cmd_models(args: argparse.Namespace) -> None:
    from motiflens.models import MODEL_NAMES, build_model, count_parameters, model_spec

    print(f"{'name':<14} {'conv layers (filters x width / pool, stride)':<52} "
          f"{'params @200':>12} {'params @1000':>13}")
    for name in MODEL_NAMES:
        spec = model_spec(name, input_length=200)
        layers = "; ".join(
            f"{b.filters}x{b.width}/{b.pool_size},{b.pool_stride or b.pool_size}" for b in spec.conv
        )
        n200 = count_parameters(build_model(spec))
        n1000 = count_parameters(build_model(model_spec(name, input_length=1000)))
        print(f"{name:<14} {layers:<52} {n200:>12,} {n1000:>13,}")


def cmd_train(args: argparse.Namespace) -> None:
    from motiflens.data.dataset import load_dataset
    from motiflens.models import model_spec
    from motiflens.train import TrainConfig, train

    dataset = load_dataset(args.data, in_memory=False)
    size_gb = dataset_size_gb(dataset)
    if args.stream or size_gb > args.memory_budget:
        print(f"streaming batches from {args.data} ({size_gb:.1f} GB as float32; "
              f"memory budget {args.memory_budget:g} GB)", file=sys.stderr)
    else:
        dataset.close()
        dataset = load_dataset(args.data, in_memory=True)
    n_outputs = dataset.train.Y.shape[1]
    length = dataset.train.X.shape[2]
    spec = model_spec(args.model, input_length=length, n_outputs=n_outputs)
    if args.activation:
        from motiflens.models import parse_activations, with_activations

        spec = with_activations(spec, parse_activations(args.activation))
    overrides = {k: v for k, v in dict(
        seed=args.seed, max_epochs=args.epochs, patience=args.patience,
        batch_size=args.batch_size, device=args.device, lr=args.lr,
        precision=args.precision, compile=args.compile or None,
        dropout_masks="fast" if args.fast_dropout else None, num_threads=args.threads,
    ).items() if v is not None}
    config = TrainConfig.for_protocol(args.protocol, **overrides)
    result = train(spec, dataset, config, args.out, resume=not args.no_resume)
    _print_metrics(args.model, result)


def cmd_evaluate(args: argparse.Namespace) -> None:
    from motiflens._io import read_json

    from motiflens.train import unfinished_reason

    for run_dir in args.run_dirs:
        reason = unfinished_reason(run_dir)
        if reason is not None:
            print(f"warning: {run_dir}: {reason}", file=sys.stderr)
        metrics_path = Path(run_dir) / "metrics.json"
        if args.recompute or not metrics_path.exists():
            from motiflens.data.dataset import load_dataset
            from motiflens.train import check_run_dataset, evaluate, load_run, run_dataset

            model, spec, config = load_run(run_dir)
            data_path = run_dataset(run_dir, args.data)
            test = load_dataset(data_path).test
            check_run_dataset(spec, data_path, tuple(test.X.shape), test.Y.shape[1])
            metrics = evaluate(model, test, device=args.device or "cpu")
        else:
            metrics = read_json(metrics_path)
        _print_metrics(str(run_dir), metrics)


# ----------------------------------------------------------------------------- helpers


def dataset_size_gb(dataset) -> float:
    """Size of all splits' sequences as float32 in GB: ``sum(N) * 4 * L * 4`` bytes."""
    rows = sum(len(dataset.split(name)) for name in ("train", "valid", "test"))
    return rows * 4 * dataset.length * 4 / 1e9


def _print_metrics(title: str, metrics: dict) -> None:
    """One line of test means; classes whose labels are constant (no defined AU-ROC/AU-PR,
    NaN in memory, null in metrics.json) are left out of the means and named with the reason."""
    test = metrics if "mean_auroc" in metrics else (metrics.get("test") or {})

    def value(key: str) -> str:
        v = test.get(key)
        return "undefined" if v is None or v != v else f"{v:.4f}"

    per_class = test.get("auroc") or {}
    undefined = list(test.get("undefined_classes")
                     or [k for k, v in per_class.items() if v is None or v != v])
    note = ""
    if undefined:
        reasons = dict(test.get("undefined_reasons") or {})
        positives, n = test.get("positives") or {}, test.get("n")
        for name in undefined:  # metrics.json written before undefined_reasons existed
            if name not in reasons and name in positives and n is not None:
                reasons[name] = "all positive" if positives[name] == n else "all negative"
        total = len(per_class) or len(undefined) + int(test.get("n_defined") or 0)
        names = ", ".join(f"{u} ({reasons[u]})" if u in reasons else str(u) for u in undefined)
        note = f" ({total - len(undefined)} of {total} classes; undefined for: {names})"
    print(f"{title}: test AU-ROC {value('mean_auroc')}{note}  AU-PR {value('mean_aupr')}")
