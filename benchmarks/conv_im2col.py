"""Is oneDNN's convolution the ceiling? Forward + backward of the paper's conv shapes, as the
models run them (``conv2d`` on (N, C, 1, L)) against a hand-written im2col + GEMM convolution,
each as a percentage of the fp32 matmul rate measured in the same run.

    python benchmarks/conv_im2col.py [--threads 1]

Run it under ``ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2``
to see an AVX2-only CPU. FLOPs: 3 x the forward (input and weight gradients).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from motiflens._machine import describe_machine

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_speed import matmul_flops  # noqa: E402

#: (batch, in channels, length, filters, width): CNN-1's second layer, CNN-2's second layer,
#: every network's first layer.
SHAPES = ((100, 30, 200, 128, 5), (100, 30, 100, 128, 5), (100, 4, 200, 30, 19))


class Im2colConv(torch.autograd.Function):
    """'Same'-padded 1-d convolution as one GEMM on unfolded windows (forward and backward)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, w: torch.Tensor, pad_l: int, pad_r: int) -> torch.Tensor:
        n, c, length = x.shape
        o, _, width = w.shape
        cols = F.pad(x, (pad_l, pad_r)).unfold(2, width, 1).permute(0, 2, 1, 3)
        cols = cols.reshape(n * length, c * width)
        ctx.save_for_backward(cols, w)
        ctx.dims = (n, c, length, pad_l, pad_r)
        return (cols @ w.reshape(o, c * width).t()).view(n, length, o).permute(0, 2, 1)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        cols, w = ctx.saved_tensors
        n, c, length, pad_l, pad_r = ctx.dims
        o, _, width = w.shape
        g = grad.permute(0, 2, 1).reshape(n * length, o)
        grad_w = (g.t() @ cols).view(o, c, width)
        gcols = (g @ w.reshape(o, c * width)).view(n, length, c, width)
        grad_x = torch.zeros(n, c, length + pad_l + pad_r)
        for k in range(width):
            grad_x[:, :, k:k + length] += gcols[:, :, :, k].permute(0, 2, 1)
        return grad_x[:, :, pad_l:pad_l + length], grad_w, None, None


def seconds(step: Callable[[], None], repeats: int = 10) -> float:
    for _ in range(3):
        step()
    t0 = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - t0) / repeats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(describe_machine())
    peak = matmul_flops(torch.device("cpu"))
    print(f"torch {torch.__version__}, {args.threads} thread(s); fp32 matmul 2048²: "
          f"{peak / 1e9:.1f} GFLOP/s\n")
    print(f"{'shape (N C L O W)':<22}{'conv2d (model)':>18}{'im2col + GEMM':>18}")
    for n, c, length, o, width in SHAPES:
        x = torch.randn(n, c, length, requires_grad=True)
        w = torch.randn(o, c, width, requires_grad=True)
        pad_l, pad_r = (width - 1) // 2, width - 1 - (width - 1) // 2
        flops = 3 * 2 * n * length * o * c * width

        def model_conv() -> None:
            y = F.conv2d(F.pad(x, (pad_l, pad_r)).unsqueeze(2), w.unsqueeze(2)).squeeze(2)
            y.backward(torch.ones_like(y))

        def im2col() -> None:
            y = Im2colConv.apply(x, w, pad_l, pad_r)
            y.backward(torch.ones_like(y))

        t_model, t_mine = seconds(model_conv), seconds(im2col)
        print(f"{f'{n} {c} {length} {o} {width}':<22}"
              f"{f'{t_model * 1e3:.1f} ms {flops / t_model / peak:.0%}':>18}"
              f"{f'{t_mine * 1e3:.1f} ms {flops / t_mine / peak:.0%}':>18}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
