#!/usr/bin/python3
"""Write a PyTorch nn.Sequential as the model directory `pothole import` reads:
model.json (the description `pothole export` writes) and one float64 .npy per
parameter tensor (docs/formats.md).

    python3 tools/pothole_from_torch.py MODEL.pt OUT_DIR --input-shape 1,8,8 \\
        --data digits [--data-seed S]
    pothole import OUT_DIR --out model.ckpt

MODEL.pt is a whole module saved with torch.save(model, path). From Python:
write_pothole_model(model, input_shape, data, out_dir).

Supported: the layer sequences pothole's engine builds (model specs
`linear`, `mlp:H-H:ACT`, `cnn:LAYERS:ACT`): Conv2d (square odd kernel,
stride 1, same padding, bias), Linear (bias), MaxPool2d / AvgPool2d (kernel =
stride, no padding), Flatten, and one activation (Tanh, ReLU, GELU, Softplus,
Sigmoid, Identity) after every hidden Conv2d and Linear, none after the last
Linear (its outputs are the logits). Anything else is refused with a message
naming the module; nothing is written then.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
from torch import nn


class Unsupported(ValueError):
    pass


ACTS = {nn.Tanh: "tanh", nn.ReLU: "relu", nn.GELU: "gelu",
        nn.Softplus: "softplus", nn.Sigmoid: "sigmoid", nn.Identity: "identity"}


SUPPORTED = (nn.Linear, nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d, nn.Flatten,
             *ACTS)


def _not_a_layer(m, i):
    return (f"module {i} ({type(m).__name__}) is not a layer pothole's engine "
            "has (Linear, Conv2d, MaxPool2d, AvgPool2d, Flatten, Tanh, ReLU, "
            "GELU, Softplus, Sigmoid, Identity)")


def _act_name(m, i):
    name = ACTS.get(type(m))
    if name == "gelu" and getattr(m, "approximate", "none") != "none":
        raise Unsupported(f"module {i} (GELU approximate='{m.approximate}'): "
                          "pothole's GELU is the exact erf form")
    if name == "softplus" and (m.beta != 1 or m.threshold < 20):
        raise Unsupported(f"module {i} (Softplus beta={m.beta}, threshold="
                          f"{m.threshold}): pothole's softplus is log(1 + e^x)")
    return name


def describe(model, input_shape):
    """(spec, layers, params) for model.json, or raise Unsupported."""
    if not isinstance(model, nn.Sequential):
        raise Unsupported(f"{type(model).__name__} is not an nn.Sequential")
    mods = list(model)
    shape = list(input_shape)  # [C, H, W] or [F]
    layers, params, tokens = [], [], []
    act, n_conv, n_fc, offset = None, 0, 0, 0

    def add_param(name, t):
        nonlocal offset
        params.append({"name": name, "shape": list(t.shape), "offset": offset,
                       "tensor": t})
        offset += t.numel()

    i = 0
    while i < len(mods):
        m = mods[i]
        last = i == len(mods) - 1
        if isinstance(m, nn.Conv2d):
            k = m.kernel_size
            if (len(shape) != 3 or k[0] != k[1] or k[0] % 2 == 0 or m.stride != (1, 1)
                    or m.padding != (k[0] // 2, k[0] // 2) or m.dilation != (1, 1)
                    or m.groups != 1 or m.bias is None or m.padding_mode != "zeros"):
                raise Unsupported(f"module {i} ({m}): pothole's conv layers take "
                                  "[C, H, W] inputs, a square odd kernel, stride 1, "
                                  "same zero padding, no dilation or groups, and a bias")
            w, b = f"conv{n_conv}.weight", f"conv{n_conv}.bias"
            layers.append({"type": "conv2d", "in_channels": m.in_channels,
                           "out_channels": m.out_channels, "kernel": [k[0], k[0]],
                           "stride": 1, "padding": k[0] // 2, "weight": w, "bias": b})
            add_param(w, m.weight)
            add_param(b, m.bias)
            tokens.append(f"c{m.out_channels}k{k[0]}")
            shape = [m.out_channels, shape[1], shape[2]]
            n_conv += 1
        elif isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
            k = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
            st = m.stride if isinstance(m.stride, int) else m.stride[0]
            pad = m.padding if isinstance(m.padding, int) else m.padding[0]
            extra = isinstance(m, nn.MaxPool2d) and (m.dilation not in (1, (1, 1))
                                                     or m.ceil_mode or m.return_indices)
            extra = extra or (isinstance(m, nn.AvgPool2d) and (m.ceil_mode or m.divisor_override))
            if len(shape) != 3 or st != k or pad != 0 or extra:
                raise Unsupported(f"module {i} ({m}): pothole pools [C, H, W] inputs "
                                  "with stride = kernel, no padding, floor mode")
            kind = "maxpool" if isinstance(m, nn.MaxPool2d) else "avgpool"
            layers.append({"type": kind, "size": k, "stride": k})
            tokens.append(("p" if kind == "maxpool" else "a") + str(k))
            shape = [shape[0], shape[1] // k, shape[2] // k]
        elif isinstance(m, nn.Flatten):
            if len(shape) != 3 or m.start_dim != 1 or m.end_dim != -1:
                raise Unsupported(f"module {i} ({m}): Flatten(1, -1) of a [C, H, W] "
                                  "input only, once, before the first Linear")
            layers.append({"type": "flatten"})
            shape = [shape[0] * shape[1] * shape[2]]
        elif isinstance(m, nn.Linear):
            if len(shape) != 1 or m.in_features != shape[0] or m.bias is None:
                raise Unsupported(f"module {i} ({m}): Linear needs a flat input of "
                                  f"{shape} features (Flatten first) and a bias")
            w, b = f"fc{n_fc}.weight", f"fc{n_fc}.bias"
            layers.append({"type": "dense", "in": m.in_features,
                           "out": m.out_features, "weight": w, "bias": b})
            add_param(w, m.weight)
            add_param(b, m.bias)
            if not last:
                tokens.append(f"d{m.out_features}")
            shape = [m.out_features]
            n_fc += 1
        elif type(m) in ACTS:
            raise Unsupported(f"module {i} ({m}): an activation must follow a "
                              "hidden Conv2d or Linear directly")
        else:
            raise Unsupported(_not_a_layer(m, i))
        # one activation after every hidden Conv2d / Linear, the same one
        if isinstance(m, (nn.Conv2d, nn.Linear)) and not last:
            nxt = mods[i + 1]
            if not isinstance(nxt, SUPPORTED):
                raise Unsupported(_not_a_layer(nxt, i + 1))
            if type(nxt) not in ACTS:
                raise Unsupported(f"module {i + 1} ({nxt}): pothole applies an "
                                  f"activation after every hidden layer (after module {i})")
            name = _act_name(nxt, i + 1)
            if act is not None and name != act:
                raise Unsupported(f"module {i + 1} ({nxt}): pothole uses one "
                                  f"activation throughout ({act} before)")
            act = name
            layers.append({"type": name})
            i += 1
        i += 1
    if not mods or not isinstance(mods[-1], nn.Linear):
        raise Unsupported("the last module must be the Linear that gives the logits")
    if n_conv:
        spec = "cnn:" + "-".join(tokens) + ":" + act
    elif tokens:
        spec = "mlp:" + "-".join(t[1:] for t in tokens) + ":" + act
    else:
        spec = "linear"
    return spec, layers, params


def write_pothole_model(model, input_shape, data, out_dir, data_seed=0):
    spec, layers, params = describe(model, input_shape)
    n_classes = layers[-1]["out"]
    desc = {"format": "pothole-model", "version": 1, "spec": spec, "data": data,
            "data_seed": data_seed, "input_shape": list(input_shape),
            "n_classes": n_classes, "loss": "softmax_cross_entropy",
            "reduction": "mean", "layers": layers,
            "params": [{k: p[k] for k in ("name", "shape", "offset")} for p in params]}
    os.makedirs(out_dir, exist_ok=True)
    for p in params:  # float64, C order, exactly the tensor's values
        t = p["tensor"].detach().cpu().to(torch.float64).contiguous().numpy()
        np.save(os.path.join(out_dir, p["name"] + ".npy"), t)
    with open(os.path.join(out_dir, "model.json"), "w") as f:
        json.dump(desc, f, indent=1)
    return spec


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", help="a module saved with torch.save(model, path)")
    ap.add_argument("out_dir")
    ap.add_argument("--input-shape", required=True, help="C,H,W or F (one example)")
    ap.add_argument("--data", required=True, help="pothole data spec, e.g. digits")
    ap.add_argument("--data-seed", type=int, default=0)
    a = ap.parse_args()
    try:
        shape = [int(v) for v in a.input_shape.split(",")]
        model = torch.load(a.model, map_location="cpu")
        spec = write_pothole_model(model, shape, a.data, a.out_dir, a.data_seed)
    except (Unsupported, ValueError, OSError) as e:
        print(f"pothole_from_torch: {a.model}: {e}", file=sys.stderr)
        sys.exit(1)
    print(json.dumps({"out": a.out_dir, "spec": spec}))


if __name__ == "__main__":
    main()
