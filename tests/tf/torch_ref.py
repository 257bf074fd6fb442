"""The transformer of docs/autodiff-transformer.md in PyTorch (float64): one
definition of its block, shared by the two references that rebuild it.

  block(x, t, heads, eps, causal)   one pre-norm block, importable
                                    (tests/bench/products_torch.py rebuilds
                                    a `pothole export` model with it)

As a script it is the reference for tests/tf/test_transformer.c: it rebuilds
transformer:dDhHlL from the flat θ and computes loss, gradient and
Hessian-vector product by double backward.

usage: torch_ref.py DIR d heads layers
DIR holds theta.npy, tok.npy (B, T), tgt.npy (B, T, -1 = no target), v.npy;
writes loss.npy, grad.npy, hv.npy there. Exits 77 when torch is missing."""
import sys

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError:
    sys.exit(77)

# the block's tensors by role; pothole names block l's tensors "h{l}." + role
ROLES = ["ln1.g", "ln1.b", "attn.wq", "attn.bq", "attn.wk", "attn.bk",
         "attn.wv", "attn.bv", "attn.wo", "attn.bo", "ln2.g", "ln2.b",
         "mlp.w1", "mlp.b1", "mlp.w2", "mlp.b2"]


def block(x, t, heads, eps=1e-5, causal=True):
    """x + attn(LN1 x), then + MLP(LN2 ·), on x of shape (B, T, d); t maps
    each of ROLES to its tensor (weights [out, in], y = x·Wᵀ + b). Heads
    split d by columns, scores scaled by 1/√(d/heads), GELU in erf form."""
    B, T, d = x.shape
    dh = d // heads
    a = F.layer_norm(x, (d,), t["ln1.g"], t["ln1.b"], eps=eps)
    q, k, v = (a @ t["attn.w" + w].T + t["attn.b" + w] for w in "qkv")
    q, k, v = (u.view(B, T, heads, dh).transpose(1, 2) for u in (q, k, v))
    s = (q @ k.transpose(-1, -2)) / dh ** 0.5
    if causal:  # position i attends to positions j ≤ i
        s = s.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1),
                          float("-inf"))
    o = (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(B, T, d)
    x = x + o @ t["attn.wo"].T + t["attn.bo"]
    c = F.layer_norm(x, (d,), t["ln2.g"], t["ln2.b"], eps=eps)
    u = F.gelu(c @ t["mlp.w1"].T + t["mlp.b1"], approximate="none")
    return x + u @ t["mlp.w2"].T + t["mlp.b2"]


def shapes(V, T, d, L):
    """θ's layout for transformer:dDh·lL (d_ff = 4d): names and shapes in
    order."""
    s = [("wte", (V, d)), ("wpe", (T, d))]
    f = 4 * d
    role_shape = {"ln1.g": (d,), "ln1.b": (d,),
                  "attn.wq": (d, d), "attn.bq": (d,), "attn.wk": (d, d),
                  "attn.bk": (d,), "attn.wv": (d, d), "attn.bv": (d,),
                  "attn.wo": (d, d), "attn.bo": (d,),
                  "ln2.g": (d,), "ln2.b": (d,), "mlp.w1": (f, d),
                  "mlp.b1": (f,), "mlp.w2": (d, f), "mlp.b2": (d,)}
    for l in range(L):
        s += [("h%d.%s" % (l, r), role_shape[r]) for r in ROLES]
    s += [("lnf.g", (d,)), ("lnf.b", (d,)), ("head.w", (V, d)),
          ("head.b", (V,))]
    return s


def main():
    dir_ = sys.argv[1]
    d, H, L = (int(a) for a in sys.argv[2:5])
    torch.set_num_threads(1)
    theta = np.load(dir_ + "/theta.npy")
    tok = torch.tensor(np.load(dir_ + "/tok.npy").astype(np.int64))
    tgt = torch.tensor(np.load(dir_ + "/tgt.npy").astype(np.int64))
    v = torch.tensor(np.load(dir_ + "/v.npy"))
    T = tok.shape[1]

    def count(V):
        return sum(int(np.prod(sh)) for _, sh in shapes(V, T, d, L))

    # n is affine in V: solve for the vocabulary from the parameter count.
    n0, n1 = count(0), count(1)
    V = (theta.size - n0) // (n1 - n0)
    assert count(V) == theta.size

    def loss_fn(th):
        P, off = {}, 0
        for name, sh in shapes(V, T, d, L):
            k = int(np.prod(sh))
            P[name] = th[off:off + k].reshape(sh)
            off += k
        x = P["wte"][tok] + P["wpe"][:T]
        for l in range(L):
            x = block(x, {r: P["h%d.%s" % (l, r)] for r in ROLES}, H)
        f = F.layer_norm(x, (d,), P["lnf.g"], P["lnf.b"], eps=1e-5)
        z = f @ P["head.w"].T + P["head.b"]
        return F.cross_entropy(z.reshape(-1, V), tgt.reshape(-1),
                               ignore_index=-1, reduction="mean")

    th = torch.tensor(theta, requires_grad=True)
    loss = loss_fn(th)
    (g,) = torch.autograd.grad(loss, th, create_graph=True)
    (hv,) = torch.autograd.grad(g @ v, th)
    np.save(dir_ + "/loss.npy", np.array([loss.item()]))
    np.save(dir_ + "/grad.npy", g.detach().numpy())
    np.save(dir_ + "/hv.npy", hv.numpy())


if __name__ == "__main__":
    main()
