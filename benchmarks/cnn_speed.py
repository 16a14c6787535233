"""How fast does course_lib train a convolutional network, next to PyTorch on the same one?

Two networks of notebook 08, trained in float32 with Adam (lr 0.001) on MNIST in
batches of 50 (the course's):

* the **scaled-down** CNN (5x5 conv 8, pool, 5x5 conv 16, pool, fc 128, dropout 0.5,
  fc 10): one epoch of 55,000 images;
* the **course's** CNN (conv 32, conv 64, fc 1,024: 3,274,634 parameters): the first
  ``--course-steps`` steps (300 by default).

Each is trained by ``course_lib.Trainer`` and by the PyTorch CPU eager loop a student
would write (``nn.Sequential`` of ``Conv2d``/``ReLU``/``MaxPool2d``/``Linear``/``Dropout``,
``F.cross_entropy``, ``loss.backward()``, ``optim.Adam``, ``loss.item()`` and an accuracy
count per step), from the same weights (drawn by course_lib, copied into torch) and the
same batches (the permutation the Trainer's seeded generator draws), each run in a fresh
process, numpy and torch alternating; medians are reported with their ratio. The same
run times the loop convolution of ``course_lib.conv`` (``conv_forward_naive`` +
``conv_backward_naive``) against the fast one on conv2 of the scaled-down network.

Usage (from the repository root)::

    python -m benchmarks.cnn_speed                           # ~5 minutes on a quiet machine
    python -m benchmarks.cnn_speed --wait-quiet 60 --retry-noisy 2   # on a shared machine
    python -m benchmarks.cnn_speed --threads 1 --reps 3      # one BLAS/torch thread each

The dropout masks differ (each framework draws its own), so the losses agree only
roughly; ``--check`` trains both for 20 steps in float64 without dropout and prints
the largest difference of the weights, the equivalence check.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.train_speed import (  # noqa: E402  (shared machinery: CPU accounting, quiet waits, data)
    NOISY_CPU, CpuWatch, cores, median, mnist_train, wait_quiet, worker_env,
)

SEED = 2024
BATCH_SIZE = 50
LR = 1e-3
NETS = {"small": dict(channels=(8, 16), fc=128), "course": dict(channels=(32, 64), fc=1024)}


def load_images(n, dtype):
    images, labels = mnist_train()
    X = images[:n].astype(dtype).reshape(-1, 1, 28, 28)
    X *= X.dtype.type(1.0 / 255.0)
    return X, labels[:n].astype(np.int64)


def course_net(cfg):
    import course_lib as cl

    dropout = cfg.get("dropout", 0.5)
    return cl.cnn(rng=np.random.default_rng(SEED), dropout=dropout, dtype=cfg["dtype"], **NETS[cfg["net"]])


def numpy_run(cfg):
    import course_lib as cl

    X, y = load_images(cfg["n"], cfg["dtype"])
    net = course_net(cfg)
    trainer = cl.Trainer(net, cl.Adam(LR), batch_size=BATCH_SIZE, rng=np.random.default_rng(SEED))
    with CpuWatch() as w:
        h = trainer.fit((X, y))
    return _result(cfg, w, h.loss, {name: p for name, p in net.params.items()})


def torch_run(cfg):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(cfg.get("threads") or cores())
    X, y = load_images(cfg["n"], cfg["dtype"])
    ours = course_net(cfg)
    layers, params = [], list(ours.params.values())
    for layer in ours.layers:
        kind = type(layer).__name__
        if kind == "Conv2D":
            F_, C, k, _ = layer.params["W"].shape
            layers.append(torch.nn.Conv2d(C, F_, k, padding=(k - 1) // 2))
        elif kind == "Linear":
            layers.append(torch.nn.Linear(*layer.shape))
        else:
            layers.append({"Activation": torch.nn.ReLU, "MaxPool2D": lambda: torch.nn.MaxPool2d(2),
                           "Flatten": torch.nn.Flatten,
                           "Dropout": lambda: torch.nn.Dropout(layer.rate)}[kind]())
    net = torch.nn.Sequential(*layers).to(torch.float64 if cfg["dtype"] == "float64" else torch.float32)
    with torch.no_grad():  # the same start: course_lib's weights (nn.Linear stores W as (out, in))
        for p, value in zip(net.parameters(), params):
            p.copy_(torch.from_numpy(value.T.copy() if value.ndim == 2 else value))
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    Xt, yt, losses = torch.from_numpy(X), torch.from_numpy(y), []
    with CpuWatch() as w:
        order = torch.from_numpy(np.random.default_rng(SEED).permutation(len(X)))
        correct = 0
        for start in range(0, len(X), BATCH_SIZE):
            idx = order[start:start + BATCH_SIZE]
            xb, yb = Xt[idx], yt[idx]
            logits = net(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())  # the same bookkeeping as course_lib's History
            correct += int((logits.argmax(dim=1) == yb).sum())
    trained = [p.detach().numpy() for p in net.parameters()]
    out = _result(cfg, w, losses, {name: v.T if v.ndim == 2 else v for name, v in zip(ours.params, trained)})
    out["torch"] = {"version": torch.__version__, "threads": torch.get_num_threads()}
    return out


def _result(cfg, w, losses, params):
    if cfg.get("save_params"):
        np.savez(cfg["save_params"], **params)
    return {"seconds": w.wall, "other_cores": w.other_cores, "own_cores": w.own_cores, "steps": len(losses),
            "first_loss": float(losses[0]), "last_loss": float(np.mean(losses[-20:]))}


def loops_vs_fast(cfg):
    """conv2 of the scaled-down network, forward and backward, on a batch: loops against one product."""
    from course_lib import conv

    rng = np.random.default_rng(SEED)
    x = rng.standard_normal((cfg["loop_batch"], 8, 14, 14)).astype(cfg["dtype"])
    W, b = (rng.standard_normal((16, 8, 5, 5)) * 0.1).astype(x.dtype), np.zeros(16, x.dtype)
    dout = rng.standard_normal((len(x), 16, 14, 14)).astype(x.dtype)

    def both(fwd, bwd):
        return fwd(x, W, b, 1, "same"), bwd(dout, x, W, 1, "same")

    t0 = time.perf_counter()
    slow = both(conv.conv_forward_naive, conv.conv_backward_naive)
    loop_s = time.perf_counter() - t0
    times = []
    for _ in range(20):
        t0 = time.perf_counter()
        fast = both(conv.conv_forward, conv.conv_backward)
        times.append(time.perf_counter() - t0)
    diff = max(float(np.abs(a - c).max()) for a, c in zip([slow[0], *slow[1]], [fast[0], *fast[1]]))
    return {"loop_s": loop_s, "fast_s": float(np.median(times)), "max_diff": diff}


WORKERS = {"numpy": numpy_run, "torch": torch_run, "loops": loops_vs_fast}


def spawn(cfg, env, timeout=3600):
    proc = subprocess.run([sys.executable, "-m", "benchmarks.cnn_speed", "--worker", json.dumps(cfg)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {cfg['job']} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(args, log=print):
    torch_ok = not args.no_torch and importlib.util.find_spec("torch") is not None
    env = worker_env("inherit", args.threads)
    frameworks = ["numpy", "torch"] if torch_ok else ["numpy"]
    results = {"cores": cores(), "threads": args.threads, "torch": torch_ok, "runs": {}}
    for net, n in (("small", args.n), ("course", args.course_steps * BATCH_SIZE)):
        runs = results["runs"][net] = {fw: [] for fw in frameworks}
        for rep in range(args.reps):
            for fw in frameworks if rep % 2 == 0 else frameworks[::-1]:  # alternate: drifts hit both
                cfg = dict(job=fw, net=net, n=n, dtype="float32", threads=args.threads)
                for attempt in range(args.retry_noisy + 1):
                    waited = wait_quiet(args.wait_quiet) if args.wait_quiet else 0.0
                    r = spawn(cfg, env)
                    r.update(waited=waited, attempts=attempt + 1)
                    log(f"  [{net}] {fw:5s} rep {rep + 1}/{args.reps}: {r['seconds']:.2f} s, {r['steps']} steps,"
                        f" loss {r['first_loss']:.3f} -> {r['last_loss']:.3f}, others used {r['other_cores']:.2f} CPU")
                    if r["other_cores"] <= NOISY_CPU:
                        break
                runs[fw].append(r)
    results["loops"] = [spawn(dict(job="loops", dtype="float32", loop_batch=args.loop_batch), env)
                        for _ in range(args.reps)]
    if args.check and torch_ok:
        results["check"] = equivalence(env)
    return results


def equivalence(env, steps=20):
    """Both frameworks, float64, no dropout, 20 steps of the scaled-down net: the largest weight difference."""
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="cnn_speed_"))
    for fw in ("numpy", "torch"):
        spawn(dict(job=fw, net="small", n=steps * BATCH_SIZE, dtype="float64", dropout=0.0,
                   save_params=str(tmp / f"{fw}.npz")), env)
    a, b = np.load(tmp / "numpy.npz"), np.load(tmp / "torch.npz")
    return max(float(np.abs(a[k] - b[k]).max()) for k in a.files)


def report(results, out=print):
    threads = results["threads"] or "default"
    out(f"\n{results['cores']} cores, {threads} threads; float32, batches of {BATCH_SIZE}, Adam")
    for net, label in (("small", "scaled-down CNN, one epoch"), ("course", "course's CNN")):
        runs = results["runs"][net]
        steps = runs["numpy"][0]["steps"]
        num = median([r["seconds"] for r in runs["numpy"]])
        busy = max(r["other_cores"] for fw in runs for r in runs[fw])
        line = f"{label} ({steps} steps): course_lib {num:.2f} s ({num / steps * 1000:.1f} ms/step)"
        if "torch" in runs:
            tor = median([r["seconds"] for r in runs["torch"]])
            line += f", PyTorch {tor:.2f} s ({tor / steps * 1000:.1f} ms/step): ratio {num / tor:.2f} (target <= 2)"
        out(line + f"; other programs used up to {busy:.2f} CPU during a run")
    loops = results["loops"]
    loop_s, fast_s = median([r["loop_s"] for r in loops]), median([r["fast_s"] for r in loops])
    out(f"conv2 forward + backward, loops {loop_s:.2f} s, fast {fast_s * 1000:.2f} ms: {loop_s / fast_s:,.0f} times"
        f" faster (target >= 20); largest difference {max(r['max_diff'] for r in loops):.1e} (float32)")
    if "check" in results:
        out(f"equivalence (float64, no dropout, 20 steps): largest weight difference {results['check']:.1e}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--n", type=int, default=55_000, help="training images of the scaled-down network's epoch")
    ap.add_argument("--course-steps", type=int, default=300)
    ap.add_argument("--loop-batch", type=int, default=8, help="images for the loops-against-fast comparison")
    ap.add_argument("--threads", type=int, default=None, help="BLAS and torch threads (default: as installed)")
    ap.add_argument("--wait-quiet", type=float, default=0.0, help="wait up to this many s for idle CPUs per run")
    ap.add_argument("--retry-noisy", type=int, default=0, help="measure a run again when others were busy")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--check", action="store_true", help="also the float64 equivalence check")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(WORKERS[json.loads(args.worker)["job"]](json.loads(args.worker))))
        return 0
    results = measure(args)
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
