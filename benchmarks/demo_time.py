"""How long `make demo` (or `make demo-real`) takes end to end on this CPU.

Issue target: the newcomer's main job in <= 10 minutes on the project's AVX2-only host (2-core
AMD EPYC, fp32). Runs ``python -m motiflens.demo`` in a fresh process (dataset generation,
training of CNN-2 and CNN-25 side by side, interpretation, the printed table) and prints the
CPU, the wall time, the peak memory of the largest process and the demo's own table.

``--isa avx2`` runs the same demo restricted to AVX2 instructions on this CPU (PyTorch's own
kernels via ``ATEN_CPU_CAPABILITY``, oneDNN via ``ONEDNN_MAX_CPU_ISA``, MKL via
``MKL_ENABLE_INSTRUCTIONS``, and fp32 via ``MOTIFLENS_NATIVE_BF16=0``): the instruction set of
an AVX2 host, not its clock, cores or caches. The fp32 matmul rate is measured under the same
restriction (2 threads, the demo's two workers), so ``--project-gflops R`` can scale the wall
time to a host whose 2-thread fp32 matmul rate is R GFLOP/s. That is an estimate (it assumes
the demo's speed follows the matmul rate), printed as such, never a measurement.

    python benchmarks/demo_time.py --out /tmp/demo [--real [--real-data real.h5]] [--isa avx2]
        [--project-gflops 58]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from motiflens._machine import describe_machine

AVX2_ENV = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2",
            "MKL_ENABLE_INSTRUCTIONS": "AVX2", "MOTIFLENS_NATIVE_BF16": "0"}

#: train_speed's matmul measurement, in a fresh process so that ``env``'s limits apply to torch.
_MATMUL = """
import sys, torch
sys.path.insert(0, {bench!r})
from train_speed import matmul_flops
torch.set_num_threads(2)
print(matmul_flops(torch.device("cpu")) / 1e9)
"""


def matmul_gflops(env: dict[str, str]) -> float:
    """2-thread fp32 2048² matmul rate (GFLOP/s) in a fresh process under ``env``."""
    code = _MATMUL.format(bench=str(Path(__file__).resolve().parent))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout
    return float(out.strip().splitlines()[-1])


def run_demo(out: Path, flags: list[str], env: dict[str, str], log: Path) -> float:
    """Run the demo into ``out`` (working directory ``out``), its output to ``log``; seconds."""
    cmd = [sys.executable, "-m", "motiflens.demo", "--out", str(out / "demo"), *flags]
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        rc = subprocess.run(cmd, cwd=out, env=env, stdout=fh, stderr=subprocess.STDOUT).returncode
    seconds = time.perf_counter() - t0
    if rc != 0:
        sys.exit(f"demo_time: the demo failed (exit {rc}); its output: {log}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True,
                        help="an empty or new folder (the demo's data cache and results go here)")
    parser.add_argument("--real", action="store_true", help="time `make demo-real` instead")
    parser.add_argument("--quick", action="store_true", help="time `make demo-quick` instead")
    parser.add_argument("--real-data", type=Path, default=None,
                        help="with --real: an already built `motiflens data example` file, "
                             "linked into the demo's data cache (otherwise it is built)")
    parser.add_argument("--isa", choices=("native", "avx2"), default="native",
                        help="restrict this CPU to AVX2 instructions (a proxy of an AVX2 host)")
    parser.add_argument("--project-gflops", type=float, default=None,
                        help="also print the wall time scaled to a host with this 2-thread "
                             "fp32 matmul rate (an estimate)")
    args = parser.parse_args(argv)
    env = dict(os.environ, **(AVX2_ENV if args.isa == "avx2" else {}))
    print(describe_machine())
    name = "make demo-real" if args.real else "make demo-quick" if args.quick else "make demo"
    print(f"demo: {name}; instruction set: {args.isa}"
          + (f" ({' '.join(f'{k}={v}' for k, v in AVX2_ENV.items())})" if args.isa == "avx2"
             else ""), flush=True)
    rate = matmul_gflops(env)
    print(f"fp32 matmul 2048², 2 threads: {rate:.1f} GFLOP/s", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.real and args.real_data:
        link = args.out / "data_cache" / "real.h5"
        link.parent.mkdir(exist_ok=True)
        link.unlink(missing_ok=True)
        link.symlink_to(args.real_data.resolve())
    log = args.out / "demo.log"
    flags = [f for f, on in (("--real", args.real), ("--quick", args.quick)) if on]
    seconds = run_demo(args.out, flags, env, log)
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    table = [line for line in log.read_text().splitlines()
             if not line.startswith("[demo]") and "trial/s" not in line]
    print("\n".join(table[-16:]))
    print(f"wall time: {seconds:.0f} s ({seconds / 60:.1f} min); largest process peak RSS "
          f"{peak_mib:.0f} MiB; full output: {log}")
    if args.project_gflops:
        est = seconds * rate / args.project_gflops
        print(f"estimate for a host with {args.project_gflops:.0f} GFLOP/s (2-thread fp32 matmul): "
              f"{est:.0f} s ({est / 60:.1f} min) = wall time x {rate:.1f} / "
              f"{args.project_gflops:.0f} (assumes speed follows the matmul rate; not measured)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
