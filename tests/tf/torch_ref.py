"""Reference for tests/tf/test_transformer.c: the transformer of
docs/autodiff-transformer.md rebuilt in PyTorch (float64) from the flat θ,
with loss, gradient and Hessian-vector product by double backward.

usage: torch_ref.py DIR d heads layers
DIR holds theta.npy, tok.npy (B, T), tgt.npy (B, T, -1 = no target), v.npy;
writes loss.npy, grad.npy, hv.npy there. Exits 77 when torch is missing."""
import sys

try:
    import numpy as np
    import torch
except ImportError:
    sys.exit(77)

torch.set_num_threads(1)
dir_ = sys.argv[1]
d, H, L = (int(a) for a in sys.argv[2:5])
theta = np.load(dir_ + "/theta.npy")
tok = torch.tensor(np.load(dir_ + "/tok.npy").astype(np.int64))
tgt = torch.tensor(np.load(dir_ + "/tgt.npy").astype(np.int64))
v = torch.tensor(np.load(dir_ + "/v.npy"))
B, T = tok.shape


def shapes(V):
    s = [("wte", (V, d)), ("wpe", (T, d))]
    for l in range(L):
        p = "h%d." % l
        s += [(p + "ln1.g", (d,)), (p + "ln1.b", (d,))]
        for w in "qkvo":
            s += [(p + "attn.w" + w, (d, d)), (p + "attn.b" + w, (d,))]
        s += [(p + "ln2.g", (d,)), (p + "ln2.b", (d,)),
              (p + "mlp.w1", (4 * d, d)), (p + "mlp.b1", (4 * d,)),
              (p + "mlp.w2", (d, 4 * d)), (p + "mlp.b2", (d,))]
    s += [("lnf.g", (d,)), ("lnf.b", (d,)), ("head.w", (V, d)),
          ("head.b", (V,))]
    return s


def count(V):
    return sum(int(np.prod(sh)) for _, sh in shapes(V))


# n is affine in V: solve for the vocabulary from the parameter count.
n0, n1 = count(0), count(1)
V = (theta.size - n0) // (n1 - n0)
assert count(V) == theta.size


def unpack(th):
    out, off = {}, 0
    for name, sh in shapes(V):
        k = int(np.prod(sh))
        out[name] = th[off:off + k].reshape(sh)
        off += k
    return out


def loss_fn(th):
    P = unpack(th)
    ln = torch.nn.functional.layer_norm
    x = P["wte"][tok] + P["wpe"][:T]
    mask = torch.ones(T, T, dtype=torch.bool).triu(1)
    dh = d // H
    for l in range(L):
        p = "h%d." % l
        a = ln(x, (d,), P[p + "ln1.g"], P[p + "ln1.b"], eps=1e-5)
        q, k, vv = (a @ P[p + "attn.w" + w].T + P[p + "attn.b" + w]
                    for w in "qkv")
        q, k, vv = (t.view(B, T, H, dh).transpose(1, 2) for t in (q, k, vv))
        s = (q @ k.transpose(-1, -2)) / dh ** 0.5
        s = s.masked_fill(mask, float("-inf"))
        o = (torch.softmax(s, -1) @ vv).transpose(1, 2).reshape(B, T, d)
        x = x + o @ P[p + "attn.wo"].T + P[p + "attn.bo"]
        c = ln(x, (d,), P[p + "ln2.g"], P[p + "ln2.b"], eps=1e-5)
        u = torch.nn.functional.gelu(c @ P[p + "mlp.w1"].T + P[p + "mlp.b1"])
        x = x + u @ P[p + "mlp.w2"].T + P[p + "mlp.b2"]
    f = ln(x, (d,), P["lnf.g"], P["lnf.b"], eps=1e-5)
    z = f @ P["head.w"].T + P["head.b"]
    return torch.nn.functional.cross_entropy(
        z.reshape(-1, V), tgt.reshape(-1), ignore_index=-1, reduction="mean")


th = torch.tensor(theta, requires_grad=True)
loss = loss_fn(th)
(g,) = torch.autograd.grad(loss, th, create_graph=True)
(hv,) = torch.autograd.grad(g @ v, th)
np.save(dir_ + "/loss.npy", np.array([loss.item()]))
np.save(dir_ + "/grad.npy", g.detach().numpy())
np.save(dir_ + "/hv.npy", hv.numpy())
