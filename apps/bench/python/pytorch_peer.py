"""PyTorch peer of the cliffguard bench: the same model, batch and initial weights, one SGD-C
training step (forward, loss, backward, global-norm clip, SGD update) timed like the tfjs rows.

Input: a JSON file (path in argv[1]) written by the bench:
  {"threads": [1], "steps": N, "warmup": W,
   "jobs": [{"config": {...BenchConfig}, "inputs": [...], "input_shape": [B,T,I],
             "targets": [...], "target_shape": [...], "weights": {"W_in": [...], ...}}]}
Output on stdout: one JSON object {"info": {...}, "rows": [...]}.

Model (row-vector convention, as the bench's tfjs stacks): h_t = act(h_{t-1} W_rec + u_t W_in + b).
tanh models run through torch.nn.RNN (what a PyTorch user writes); nn.RNN has no sigmoid, so
sigmoid models run a loop over time with the input projection batched over all steps
(unbound per step: slicing it per step makes the backward quadratic in T).
"""

import json
import os
import sys
import time

import torch
import torch.nn.functional as F


def tensor(values, shape, dtype=torch.float32):
    return torch.tensor(values, dtype=dtype).reshape(shape)


class PaperRnn(torch.nn.Module):
    def __init__(self, cfg, w):
        super().__init__()
        I, H, O = cfg["inputSize"], cfg["hiddenSize"], cfg["outputSize"]
        self.activation = cfg["activation"]
        self.head = cfg["head"]
        self.W_out = torch.nn.Parameter(tensor(w["W_out"], [H, O]))
        self.b_out = torch.nn.Parameter(tensor(w["b_out"], [O]))
        if self.activation == "tanh":
            self.rnn = torch.nn.RNN(I, H, nonlinearity="tanh", batch_first=True)
            with torch.no_grad():
                self.rnn.weight_ih_l0.copy_(tensor(w["W_in"], [I, H]).t())
                self.rnn.weight_hh_l0.copy_(tensor(w["W_rec"], [H, H]).t())
                self.rnn.bias_ih_l0.copy_(tensor(w["b"], [H]))
                self.rnn.bias_hh_l0.zero_()
        else:
            self.W_in = torch.nn.Parameter(tensor(w["W_in"], [I, H]))
            self.W_rec = torch.nn.Parameter(tensor(w["W_rec"], [H, H]))
            self.b = torch.nn.Parameter(tensor(w["b"], [H]))

    def states(self, x):
        if self.activation == "tanh":
            return self.rnn(x)[0]
        B, T, _ = x.shape
        # unbind, not projected[:, t]: each slice's backward would fill a whole [B, T, H] tensor,
        # quadratic in T (13 s instead of 0.5 s per C step here)
        projected = (x @ self.W_in + self.b).unbind(1)
        h = x.new_zeros(B, self.W_rec.shape[0])
        hs = []
        for p_t in projected:
            h = torch.sigmoid(p_t + h @ self.W_rec)
            hs.append(h)
        return torch.stack(hs, 1)

    def loss(self, x, y):
        hs = self.states(x)
        B, T, _ = hs.shape
        if self.head.startswith("last-"):
            out = hs[:, -1] @ self.W_out + self.b_out
            if self.head == "last-softmax":
                return F.cross_entropy(out, y)
            return ((out - y) ** 2).sum(1).mean()
        out = hs @ self.W_out + self.b_out
        if self.head == "softmax":
            return F.cross_entropy(out.reshape(B * T, -1), y.reshape(-1))
        # sigmoid: Bernoulli NLL summed over the units, mean over (batch, time)
        return F.binary_cross_entropy_with_logits(out, y, reduction="sum") / (B * T)


def run_job(job, threads, steps, warmup):
    cfg = job["config"]
    torch.manual_seed(0)
    x = tensor(job["inputs"], job["input_shape"])
    int_targets = cfg["head"] in ("last-softmax", "softmax")
    y = tensor(job["targets"], job["target_shape"], torch.long if int_targets else torch.float32)
    model = PaperRnn(cfg, job["weights"])
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg["learningRate"])

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = model.loss(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["clipNorm"])
        optimizer.step()
        return loss.item()

    losses, times = [], []
    t0 = time.perf_counter()
    losses.append(step())
    ms_first = (time.perf_counter() - t0) * 1e3
    for _ in range(warmup):
        losses.append(step())
    for _ in range(steps):
        t0 = time.perf_counter()
        losses.append(step())
        times.append((time.perf_counter() - t0) * 1e3)
    return {
        "config": cfg["name"],
        "backend": "pytorch",
        "impl": "pytorch",
        "method": "SGD-C",
        "threads": threads,
        "variant": "nn.RNN" if cfg["activation"] == "tanh" else "loop over time",
        "warmup": warmup,
        "ms_first": ms_first,
        "times": times,
        "losses": losses,
    }


def main():
    with open(sys.argv[1]) as f:
        request = json.load(f)
    rows = []
    for threads in request["threads"]:
        torch.set_num_threads(threads)
        for job in request["jobs"]:
            rows.append(run_job(job, threads, request["steps"], request["warmup"]))
    info = {
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "blas": torch.__config__.show().split("BLAS_INFO=")[-1].split(",")[0],
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", ""),
        "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS", ""),
    }
    json.dump({"info": info, "rows": rows}, sys.stdout)


if __name__ == "__main__":
    main()
