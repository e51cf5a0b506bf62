"""Does a training run's result depend on the number of torch threads, on one CPU?

"Same seed, same CPU -> same numbers" is what the committed records promise; this script checks
whether the thread count belongs in that sentence. It trains each model a few epochs from the
same seed with 1 and with 2 torch threads (code protocol, 16-bit dropout masks, on a small
simulation made here) for each precision this CPU runs natively, and prints a digest of the
final weights and the last validation loss. Equal digests: the thread count does not matter.

The records' sweeps train every trial with one thread (``machine.torch_threads`` in each
``result.json``), so giving a running trial a second core when the other worker goes idle would
speed up a sweep's tail only at the price of reproducing no record.

    python benchmarks/thread_reproducibility.py [--models CNN-2 CNN-25] [--epochs 2] [--n 2000]
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
from pathlib import Path

import torch

from motiflens._machine import describe_machine, machine_info


def weights_digest(state: dict[str, torch.Tensor]) -> str:
    """First 16 hex digits of the sha256 of every tensor's bytes, in key order."""
    digest = hashlib.sha256()
    for key in sorted(state):
        if torch.is_tensor(state[key]):
            digest.update(state[key].detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def train_once(name: str, dataset, precision: str, threads: int, epochs: int, out: Path
               ) -> tuple[str, float]:
    """Train ``name`` from seed 0; return (weights digest, last validation loss)."""
    from motiflens.models import model_spec
    from motiflens.train import TrainConfig, load_run, train

    spec = model_spec(name, input_length=dataset.train.X.shape[2],
                      n_outputs=dataset.train.Y.shape[1])
    config = TrainConfig.for_protocol("code", seed=0, max_epochs=epochs, precision=precision,
                                      num_threads=threads, dropout_masks="fast", device="cpu")
    metrics = train(spec, dataset, config, out, resume=False, progress=False)
    model = load_run(out)[0]
    return weights_digest(model.state_dict()), float(metrics["best_valid_loss"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["CNN-2", "CNN-25"])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--n", type=int, default=2000, help="simulated sequences")
    args = parser.parse_args()

    from motiflens.data.dataset import load_dataset
    from motiflens.simulate import SimulationConfig, simulate_to_hdf5

    print(describe_machine(), flush=True)
    precisions = ["fp32"] + (["bf16"] if machine_info().get("native_bf16") else [])
    print(f"torch {torch.__version__}; {args.n} simulated sequences, {args.epochs} epochs, "
          f"code protocol, seed 0, 16-bit dropout masks; precisions native here: {precisions}\n")
    print(f"{'model':<8} {'precision':<9} {'threads':>7}  {'weights digest':<16}  best valid loss")
    with tempfile.TemporaryDirectory() as tmp:
        data = simulate_to_hdf5(SimulationConfig(seed=0, n_sequences=args.n), Path(tmp) / "d.h5")
        dataset = load_dataset(data)
        differing = 0
        for name in args.models:
            for precision in precisions:
                results = {}
                for threads in (1, 2):
                    out = Path(tmp) / f"{name}-{precision}-{threads}"
                    results[threads] = train_once(name, dataset, precision, threads,
                                                  args.epochs, out)
                    digest, loss = results[threads]
                    print(f"{name:<8} {precision:<9} {threads:>7}  {digest:<16}  {loss:.10f}",
                          flush=True)
                differing += results[1][0] != results[2][0]
    print(f"\n{differing} of {len(args.models) * len(precisions)} (model, precision) pairs end "
          "with other weights under 2 threads than under 1")


if __name__ == "__main__":
    main()
