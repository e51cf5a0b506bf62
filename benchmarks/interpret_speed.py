"""How long `motiflens interpret` takes on a CNN-25 run, layers 1 and 2, logos included.

Issue target: <= 20 s for layers 1 + 2 of CNN-25 (30 first-layer filters 19 wide, 128
second-layer filters whose receptive field is ~140 columns) against JASPAR 2016 (519 motifs),
with a progress display. Prints the CPU, then the wall time of each stage in one fresh process
(imports, filter -> PPM, Tomtom, logos) as `motiflens interpret` runs them.

    python benchmarks/interpret_speed.py RUN_DIR [--data DATASET] [--layers 1 2]

RUN_DIR: a trained CNN-25 run (e.g. a trial of a table1 sweep or its committed records);
without one, a CNN-25 is trained for 2 epochs on 3,000 simulated sequences first (the timing of
interpretation does not depend on how well it is trained, except through the number of live
filters and the width of trimmed PPMs).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from motiflens._machine import describe_machine


def _train_small(root: Path) -> tuple[Path, Path]:
    from motiflens.data.dataset import load_dataset
    from motiflens.models import model_spec
    from motiflens.simulate import SimulationConfig, simulate_to_hdf5
    from motiflens.train import TrainConfig, train

    data = simulate_to_hdf5(SimulationConfig(n_sequences=3000, seed=1), root / "d.h5")
    run = root / "cnn25"
    train(model_spec("CNN-25"), load_dataset(data), TrainConfig.for_protocol("code", max_epochs=2),
          run, progress=False)
    return run, data


STAGES = """
import sys, time
t0 = time.perf_counter()
from motiflens.interpret import pipeline, filters, tomtom, logos
from motiflens.jaspar import load_motif_source
t_import = time.perf_counter() - t0
import motiflens.interpret.pipeline as p
timings = {"filter -> PPM": 0.0, "Tomtom": 0.0, "logos": 0.0}
def timed(name, fn):
    def wrapper(*a, **k):
        t = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            timings[name] += time.perf_counter() - t
    return wrapper
filters.filters_to_motifs = timed("filter -> PPM", filters.filters_to_motifs)
tomtom.run_tomtom = timed("Tomtom", tomtom.run_tomtom)
logos.plot_filter_logos = timed("logos", logos.plot_filter_logos)
t1 = time.perf_counter()
p.interpret_run(sys.argv[1], layers=tuple(int(x) for x in sys.argv[3:]), data=sys.argv[2] or None)
total = time.perf_counter() - t1
print(f"imports {t_import:.1f} s | " + " | ".join(f"{k} {v:.1f} s" for k, v in timings.items())
      + f" | interpret_run total {total:.1f} s | wall incl. imports {time.perf_counter() - t0:.1f} s")
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", nargs="?", type=Path)
    parser.add_argument("--data", help="the run's dataset (default: the recorded one)")
    parser.add_argument("--layers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)
    print(describe_machine(), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        run, data = args.run_dir, args.data
        if run is None:
            print("no run given: training a CNN-25 for 2 epochs on 3,000 sequences first", flush=True)
            run, data = _train_small(Path(tmp))
        copy = Path(tmp) / "run"
        subprocess.run(["cp", "-r", str(run), str(copy)], check=True)
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", STAGES, str(copy), str(data or ""),
                              *map(str, args.layers)], capture_output=True, text=True)
        if out.returncode != 0:
            print(out.stderr[-2000:])
            return out.returncode
        print(f"CNN-25 layers {' + '.join(map(str, args.layers))} ({run}):")
        print(out.stdout.strip())
        print(f"fresh process, end to end: {time.perf_counter() - t0:.1f} s (target <= 20 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
