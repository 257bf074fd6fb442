#!/usr/bin/python3
"""Rebuild a `pothole export` model in PyTorch (float64) and compute the mean
loss, its gradient, a Hessian-vector product (double backward) and the
Gauss-Newton product Gv on the exported inputs, as an independent reference
for pothole's engine.

usage: products_torch.py EXPORT_DIR V.npy OUT_PREFIX [--time REPS [--cpu]]
writes OUT_PREFIX_loss.npy, OUT_PREFIX_grad.npy, OUT_PREFIX_hvp.npy,
OUT_PREFIX_ggnvp.npy (flat, in model.json parameter order); with --time
prints JSON timings (median of REPS) of the gradient, Hv, Gv and an
evaluation (loss without autograd).
Models: sequential ones (dense, conv2d, pooling, activations; one-hot token
inputs with per-position logits) and transformers (embedding, pre-norm
transformer blocks from tests/tf/torch_ref.py, layer norm, a dense head per
position)."""
import json, os, sys, time
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tf"))
from torch_ref import block  # noqa: E402  (the one transformer block)

torch.set_num_threads(1)
torch.set_default_dtype(torch.float64)


def build(model):
    acts = {"tanh": torch.tanh, "relu": F.relu, "sigmoid": torch.sigmoid,
            "softplus": F.softplus, "identity": lambda x: x,
            "gelu": lambda x: F.gelu(x, approximate="none")}

    # a transformer's layers act on each position of (N, T, d): its dense
    # head maps the last axis, where a sequential model's flattens first
    per_position = model["layers"][0]["type"] == "embedding"

    def forward(params, x):
        h = x
        for l in model["layers"]:
            t = l["type"]
            if t == "dense":
                if not per_position:
                    h = h.reshape(h.shape[0], -1)
                h = h @ params[l["weight"]].T + params[l["bias"]]
            elif t == "conv2d":
                h = F.conv2d(h, params[l["weight"]], params[l["bias"]],
                             stride=l["stride"], padding=l["padding"])
            elif t == "maxpool":
                h = F.max_pool2d(h, l["size"], l["stride"])
            elif t == "avgpool":
                h = F.avg_pool2d(h, l["size"], l["stride"])
            elif t == "flatten":
                h = h.reshape(h.shape[0], -1)
            elif t == "residual_dense":
                h = h + acts[l["activation"]](h @ params[l["weight"]].T + params[l["bias"]])
            elif t == "one_hot":
                h = F.one_hot(h.long(), l["vocab"]).reshape(h.shape[0], -1).double()
            elif t == "reshape":
                h = h.reshape(h.shape[0], *l["shape"])
            elif t == "embedding":  # token ids (N, T) → (N, T, d)
                T = h.shape[1]
                h = params[l["token"]][h.long()] + params[l["position"]][:T]
            elif t == "transformer_block":
                if l["norm"] != "pre" or l["activation"] != "gelu":
                    raise SystemExit(f"products_torch: no {l['norm']}-norm "
                                     f"{l['activation']} block")
                roles = {f"{part}.{r}": params[name]
                         for part in ("ln1", "attn", "ln2", "mlp")
                         for r, name in l[part].items()}
                h = block(h, roles, l["heads"], l["eps"], l["causal"])
            elif t == "layernorm":
                h = F.layer_norm(h, (l["d"],), params[l["g"]], params[l["b"]],
                                 eps=l["eps"])
            else:
                h = acts[t](h)
        return h
    return forward


def main():
    d, vpath, prefix = sys.argv[1], sys.argv[2], sys.argv[3]
    reps = int(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[4] == "--time" else 0
    if "--cpu" in sys.argv[6:]:  # process CPU time instead of wall time
        time.perf_counter = time.process_time
    model = json.load(open(d + "/model.json"))
    names = [p["name"] for p in model["params"]]
    params = {n: torch.tensor(np.load(f"{d}/{n}.npy"), requires_grad=True) for n in names}
    x = torch.tensor(np.load(d + "/inputs.npy"))
    y = torch.tensor(np.load(d + "/labels.npy"))
    v = np.load(vpath)
    vs, off = {}, 0
    for p in model["params"]:
        size = int(np.prod(p["shape"]))
        vs[p["name"]] = torch.tensor(v[off:off + size].reshape(p["shape"]))
        off += size
    fwd = build(model)
    ignore = model.get("ignore_index", -1)  # token targets; classes are ≥ 0

    def loss_fn():
        z = fwd(params, x)
        if model["loss"] == "mse":
            return F.mse_loss(z, y)
        # token models: one softmax per position, mean over targeted ones
        return F.cross_entropy(z.reshape(-1, z.shape[-1]), y.reshape(-1),
                               ignore_index=ignore)

    plist = [params[n] for n in names]
    vlist = [vs[n] for n in names]

    def products():
        L = loss_fn()
        g = torch.autograd.grad(L, plist, create_graph=True)
        gv = sum((gi * vi).sum() for gi, vi in zip(g, vlist))
        hv = torch.autograd.grad(gv, plist)
        return L, g, hv

    def grad():
        return torch.autograd.grad(loss_fn(), plist)

    def ggn():
        """G v = Jᵀ H_z J v, as pothole computes it: J v by the double-vjp
        trick (the vjp's own derivative along v), H_z the Hessian of the
        loss in the logits: 2/(outputs) for MSE; for cross-entropy
        p ⊙ (s − pᵀs) per softmax row, rows without a target (−1) dropped
        and the sum divided by the rows with one (the loss's mean)."""
        z = fwd(params, x)
        u = torch.zeros_like(z, requires_grad=True)
        jt = torch.autograd.grad(z, plist, u, create_graph=True)
        jv = torch.autograd.grad(jt, u, vlist)[0]
        if model["loss"] == "mse":
            hz = 2.0 * jv / jv.numel()
        else:
            zz = z.detach().reshape(-1, z.shape[-1])
            yy = y.reshape(-1)
            keep = (yy != ignore).to(zz.dtype).unsqueeze(1)
            p = torch.softmax(zz, dim=1)
            s = jv.reshape(zz.shape)
            hz = keep * p * (s - (p * s).sum(1, keepdim=True))
            hz = (hz / keep.sum()).reshape(z.shape)
        return torch.autograd.grad(z, plist, hz)

    def flat(ts):
        return np.concatenate([t.detach().numpy().ravel() for t in ts])

    L, g, hv = products()
    np.save(prefix + "_loss.npy", np.array([L.item()]))
    np.save(prefix + "_grad.npy", flat(g))
    np.save(prefix + "_hvp.npy", flat(hv))
    np.save(prefix + "_ggnvp.npy", flat(ggn()))
    if reps:
        def evaluate():
            with torch.no_grad():
                loss_fn()

        # each kind in its own loop after one untimed call, as
        # `pothole bench products` times pothole's products
        def timed(f):
            f()
            ts = []
            for _ in range(reps):
                t0 = time.perf_counter()
                f()
                ts.append(time.perf_counter() - t0)
            return ts

        tg, th, tgv, te = (timed(f) for f in (grad, products, ggn, evaluate))
        print(json.dumps({"torch_grad_s": float(np.median(tg)),
                          "torch_hvp_s": float(np.median(th)),
                          "torch_ggnvp_s": float(np.median(tgv)),
                          "torch_eval_s": float(np.median(te)),
                          "torch_hvp_over_grad": float(np.median(th) / np.median(tg))}))


if __name__ == "__main__":
    main()
