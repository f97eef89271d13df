#!/usr/bin/env python3
"""A minimal Qwen2 (and Llama) causal LM in PyTorch, the peer of tinyzero's model in parity tests
and benchmarks. It reads the same Hugging Face folder (config.json + safetensors, one file or
sharded) with a safetensors reader of its own (numpy + struct), so nothing beyond torch and numpy
is needed (Debian's python3-torch 1.13 on the CPU is enough).

Subcommands print one JSON object on stdout:
  info                                   torch version, threads, the BLAS library and its kernel
  greedy  --model DIR --prompt-ids 1,2,3 --max-new-tokens N
                                         greedy decoding with a KV cache: token ids and log-probs
  decode  --model DIR --batch B --prompt-len P --new-tokens N [--rounds R] [--gemv]
                                         decode tokens/s (prefill included, as tinyzero bench counts)
  decode-loop --model DIR --prompt-len P [--gemv]
                                         loads the model once, then per stdin line "BATCH NEW_TOKENS"
                                         decodes once and prints {seconds, cpuSeconds}: a peer that a
                                         caller times in rounds interleaved with its own
  train   --model DIR --batch B --seq-len L [--rounds R]
                                         one full training step: forward, token log-prob loss,
                                         backward, AdamW; best of R
  rl-step --model DIR --batch FILE [--rows N] [--rounds R]
                                         a recorded RL batch (scripts/record-rl-batch.mjs) through
                                         old log-probs and the PPO policy update, padded as TRL and
                                         HF pad: seconds of each phase, best of R rounds (fresh
                                         weights each round)
Common: --threads T: torch.set_num_threads and OpenBLAS's own thread count (torch 1.13 built on
OpenBLAS does not pass its setting on, and OpenBLAS would otherwise start one thread per core).

Decoding runs in float32 (BF16/F16 files are widened at load), under torch.inference_mode(), with a
KV cache. --gemv runs products of one row as torch.mv (BLAS sgemv): OpenBLAS 0.3.21 runs a 1-row
F.linear as a GEMM that packs the whole weight on every call (later versions forward it to gemv).

OpenBLAS picks its kernels from the CPU it detects; the caller sets OPENBLAS_CORETYPE when the
detection falls short (OpenBLAS 0.3.21 does not know every CPU). `info` names the kernel it runs.
"""
import argparse
import ctypes
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

# --- safetensors ---------------------------------------------------------------------------------

_NP_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16, "I64": np.int64, "I32": np.int32}


def _read_file(path, wanted=None):
    out = {}
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        start = 8 + n
        for name, entry in header.items():
            if name == "__metadata__" or (wanted is not None and name not in wanted):
                continue
            begin, end = entry["data_offsets"]
            f.seek(start + begin)
            raw = np.frombuffer(f.read(end - begin), dtype=_NP_DTYPES[entry["dtype"]])
            if entry["dtype"] == "BF16":  # widen: the 16 bits are the top half of a float32
                arr = (raw.astype(np.uint32) << 16).view(np.float32)
            else:
                arr = raw.astype(np.float32) if entry["dtype"] in ("F16",) else raw
            out[name] = torch.from_numpy(np.array(arr).reshape(entry["shape"]))
    return out


def load_weights(folder):
    single = os.path.join(folder, "model.safetensors")
    if os.path.exists(single):
        return _read_file(single)
    with open(os.path.join(folder, "model.safetensors.index.json")) as f:
        weight_map = json.load(f)["weight_map"]
    out = {}
    for shard in sorted(set(weight_map.values())):
        out.update(_read_file(os.path.join(folder, shard)))
    return out


# --- the model -----------------------------------------------------------------------------------


class Qwen2:
    """Qwen2ForCausalLM's forward (q/k/v biases), Llama's when model_type is llama; float32."""

    def __init__(self, folder, requires_grad=False):
        with open(os.path.join(folder, "config.json")) as f:
            c = json.load(f)
        self.c = c
        self.hidden = c["hidden_size"]
        self.heads = c["num_attention_heads"]
        self.kv_heads = c.get("num_key_value_heads") or self.heads
        self.head_dim = c.get("head_dim") or self.hidden // self.heads
        self.layers = c["num_hidden_layers"]
        self.eps = c.get("rms_norm_eps", 1e-6)
        self.theta = c.get("rope_theta", 10000.0)
        w = load_weights(folder)
        if "lm_head.weight" not in w:
            w["lm_head.weight"] = w["model.embed_tokens.weight"]  # tied: the same tensor, as in HF
        for t in w.values():
            t.requires_grad_(requires_grad)
        self.w = w

    def parameters(self):
        seen, out = set(), []
        for t in self.w.values():
            if id(t) not in seen:
                seen.add(id(t))
                out.append(t)
        return out

    def _norm(self, x, weight):
        var = x.pow(2).mean(-1, keepdim=True)
        return weight * (x * torch.rsqrt(var + self.eps))

    gemv = False  # one-row products as torch.mv (see --gemv)

    def _linear(self, x, name, bias=True):
        b = self.w.get(name + ".bias") if bias else None
        w = self.w[name + ".weight"]
        if self.gemv and x.numel() == x.shape[-1]:
            y = torch.mv(w, x.reshape(-1))
            return (y if b is None else y + b).reshape(*x.shape[:-1], w.shape[0])
        return F.linear(x, w, b)

    def _rope(self, x, positions):
        d = self.head_dim
        inv_freq = 1.0 / (self.theta ** (torch.arange(0, d, 2, dtype=torch.int64).float() / d))
        freqs = positions[:, :, None].float() * inv_freq[None, None, :]
        emb = torch.cat([freqs, freqs], dim=-1)
        cos, sin = emb.cos()[:, None], emb.sin()[:, None]  # [B, 1, T, D]
        x1, x2 = x[..., : d // 2], x[..., d // 2 :]
        return x * cos + torch.cat([-x2, x1], dim=-1) * sin

    def forward(self, ids, positions, cache=None, key_bias=None, return_hidden=False):
        """ids, positions [B, T]; cache: list of (k, v) per layer, extended in place; key_bias [B, S] added to the
        scores of padded keys (0 or a large negative value). Returns logits [B, T, V] (or the final hidden states)."""
        B, T = ids.shape
        H, Hkv, D = self.heads, self.kv_heads, self.head_dim
        x = F.embedding(ids, self.w["model.embed_tokens.weight"])
        for l in range(self.layers):
            p = f"model.layers.{l}"
            h = self._norm(x, self.w[p + ".input_layernorm.weight"])
            q = self._linear(h, p + ".self_attn.q_proj").view(B, T, H, D).transpose(1, 2)
            k = self._linear(h, p + ".self_attn.k_proj").view(B, T, Hkv, D).transpose(1, 2)
            v = self._linear(h, p + ".self_attn.v_proj").view(B, T, Hkv, D).transpose(1, 2)
            q, k = self._rope(q, positions), self._rope(k, positions)
            if cache is not None:
                if len(cache) > l:
                    k = torch.cat([cache[l][0], k], dim=2)
                    v = torch.cat([cache[l][1], v], dim=2)
                    cache[l] = (k, v)
                else:
                    cache.append((k, v))
            S = k.shape[2]
            # Each KV head serves H // Hkv query heads: transformers' repeat_kv (expand, then one copy;
            # repeat_interleave gives the same tensor but took a quarter of a decoding step in 1.13).
            k = k[:, :, None].expand(B, Hkv, H // Hkv, S, D).reshape(B, H, S, D)
            v = v[:, :, None].expand(B, Hkv, H // Hkv, S, D).reshape(B, H, S, D)
            scores = (q @ k.transpose(2, 3)) / math.sqrt(D)
            if T > 1:
                # Causal over the whole key range: query t (at S - T + t) sees keys up to its own position
                # (one query, the last, sees them all).
                mask = torch.ones(T, S, dtype=torch.bool).tril(diagonal=S - T)
                scores = scores.masked_fill(~mask, float("-inf"))
            if key_bias is not None:
                scores = scores + key_bias[:, None, None, :]
            att = torch.softmax(scores, dim=-1) @ v
            att = att.transpose(1, 2).reshape(B, T, H * D)
            x = x + self._linear(att, p + ".self_attn.o_proj", bias=self.c.get("model_type") != "qwen2" and self.c.get("attention_bias", False))
            h = self._norm(x, self.w[p + ".post_attention_layernorm.weight"])
            gate = self._linear(h, p + ".mlp.gate_proj", bias=False)
            up = self._linear(h, p + ".mlp.up_proj", bias=False)
            x = x + self._linear(F.silu(gate) * up, p + ".mlp.down_proj", bias=False)
        x = self._norm(x, self.w["model.norm.weight"])
        return x if return_hidden else self._linear(x, "lm_head", bias=False)


def decode(model, prompts, new_tokens, greedy=True, generator=None):
    """Batched decoding with a KV cache (prompts of one length). Returns (tokens [B, N], logprobs [B, N])."""
    ids = torch.tensor(prompts, dtype=torch.int64)
    B, P = ids.shape
    cache = []
    positions = torch.arange(P).expand(B, P)
    # Only the last prompt position's logits are needed (as tinyzero's generate computes them).
    logits = model._linear(model.forward(ids, positions, cache, return_hidden=True)[:, -1], "lm_head", bias=False)
    tokens, logprobs = [], []
    for step in range(new_tokens):
        lp = torch.log_softmax(logits.double() if greedy else logits, dim=-1)
        nxt = lp.argmax(-1) if greedy else torch.multinomial(lp.exp().float(), 1, generator=generator)[:, 0]
        tokens.append(nxt)
        logprobs.append(lp.gather(-1, nxt[:, None])[:, 0])
        if step + 1 == new_tokens:
            break
        logits = model.forward(nxt[:, None], torch.full((B, 1), P + step, dtype=torch.int64), cache)[:, -1]
    return torch.stack(tokens, 1), torch.stack(logprobs, 1)


# --- subcommands ---------------------------------------------------------------------------------


def _blas_path():
    """The BLAS shared library torch loaded (OpenBLAS preferred when several are mapped)."""
    torch.ones(64, 64) @ torch.ones(64, 64)  # make sure the library is loaded
    lib = None
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1] if len(line.split()) >= 6 else ""
            if "blas" in os.path.basename(path) and path.endswith(tuple(f".so{s}" for s in ("", ".0", ".3"))):
                lib = path
                if "openblas" in path:
                    break
    return lib


def _openblas():
    lib = _blas_path()
    if lib and ("openblas" in lib or os.path.realpath(lib).find("openblas") >= 0):
        return ctypes.CDLL(lib)
    return None


def set_blas_threads(n):
    try:
        so = _openblas()
        if so is not None:
            so.openblas_set_num_threads(ctypes.c_int(n))
    except (OSError, AttributeError):
        pass


def blas_info():
    """The BLAS library torch loaded and, for OpenBLAS, the kernel (core) it runs and its threads."""
    lib = _blas_path()
    info = {"library": lib, "openblasCoretype": os.environ.get("OPENBLAS_CORETYPE")}
    if lib and ("openblas" in lib or os.path.realpath(lib).find("openblas") >= 0):
        try:
            so = ctypes.CDLL(lib)
            so.openblas_get_corename.restype = ctypes.c_char_p
            so.openblas_get_config.restype = ctypes.c_char_p
            info["kernel"] = so.openblas_get_corename().decode()
            info["config"] = so.openblas_get_config().decode().strip()
            info["threads"] = so.openblas_get_num_threads()
        except (OSError, AttributeError) as e:
            info["kernel"] = None
            info["error"] = str(e)
    return info


def cmd_info(args):
    return {"torch": torch.__version__, "numpy": np.__version__, "threads": torch.get_num_threads(), "blas": blas_info()}


def cmd_greedy(args):
    model = Qwen2(args.model)
    prompt = [int(s) for s in args.prompt_ids.split(",")]
    with torch.inference_mode():
        tokens, logprobs = decode(model, [prompt], args.max_new_tokens, greedy=True)
    return {"tokens": tokens[0].tolist(), "logprobs": logprobs[0].tolist()}


def best_of(rounds, fn):
    best = math.inf
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _decode_model(args):
    model = Qwen2(args.model)
    model.gemv = args.gemv
    return model


def cmd_decode(args):
    model = _decode_model(args)
    V = model.c["vocab_size"]
    g = torch.Generator().manual_seed(1)
    prompts = torch.randint(4, V, (args.batch, args.prompt_len), generator=g).tolist()

    def run():
        with torch.inference_mode():
            decode(model, prompts, args.new_tokens, greedy=False, generator=g)

    run()  # warm-up
    seconds = best_of(args.rounds, run)
    return {"batch": args.batch, "promptLen": args.prompt_len, "newTokens": args.new_tokens, "seconds": seconds,
            "tokensPerSecond": args.batch * args.new_tokens / seconds}


def cmd_decode_loop(args):
    """Decodes once per stdin line "BATCH NEW_TOKENS" (sampling at temperature 1, random prompts of
    --prompt-len), one JSON line each: wall and process CPU seconds (every thread's)."""
    model = _decode_model(args)
    V = model.c["vocab_size"]
    g = torch.Generator().manual_seed(1)
    print(json.dumps({"ready": True, "threads": torch.get_num_threads(), "blas": blas_info()}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        batch, new_tokens = (int(v) for v in line.split())
        prompts = torch.randint(4, V, (batch, args.prompt_len), generator=g).tolist()
        c0, t0 = time.process_time(), time.perf_counter()
        with torch.inference_mode():
            decode(model, prompts, new_tokens, greedy=False, generator=g)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        print(json.dumps({"batch": batch, "newTokens": new_tokens, "seconds": seconds, "cpuSeconds": cpu,
                          "tokensPerSecond": batch * new_tokens / seconds}), flush=True)
    return {"done": True}


def cmd_train(args):
    model = Qwen2(args.model, requires_grad=True)
    V = model.c["vocab_size"]
    B, L = args.batch, args.seq_len
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, V, (B, L), generator=g)
    targets = torch.randint(0, V, (B, L), generator=g)
    positions = torch.arange(L).expand(B, L)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step():
        logits = model.forward(ids, positions)
        logp = torch.log_softmax(logits, dim=-1).gather(-1, targets[..., None])[..., 0]
        loss = -logp.mean()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=False)
        return loss.item()

    step()  # warm-up: optimizer state
    seconds = best_of(args.rounds, step)
    return {"batch": B, "seqLen": L, "seconds": seconds, "tokensPerSecond": B * L / seconds}


def _rl_batch(path, rows):
    """The recorded batch in the padded layout (prompts left-padded to P, responses right-padded to R), as
    the trainer's assembleBatch builds it: ids, positions, key bias, responses, response mask, advantages."""
    import gzip

    with gzip.open(path, "rt") as f:
        r = json.load(f)
    n = min(rows or r["rows"], r["rows"])
    P, R, pad = r["promptLength"], r["responseLength"], r["padTokenId"]
    ids = torch.full((n, P + R), pad, dtype=torch.int64)
    mask = torch.zeros(n, P + R)
    pos = torch.zeros(n, P + R, dtype=torch.int64)
    responses = torch.full((n, R), pad, dtype=torch.int64)
    rmask = torch.zeros(n, R)
    adv = torch.zeros(n, R)
    for i in range(n):
        p, s = r["promptIds"][i], r["responseIds"][i]
        ids[i, P - len(p) : P] = torch.tensor(p, dtype=torch.int64)
        mask[i, P - len(p) : P] = 1
        pos[i, P - len(p) : P] = torch.arange(len(p))
        pos[i, P:] = torch.arange(len(p), len(p) + R)
        if s:
            ids[i, P : P + len(s)] = torch.tensor(s, dtype=torch.int64)
            responses[i, : len(s)] = torch.tensor(s, dtype=torch.int64)
        mask[i, P : P + len(s)] = 1
        rmask[i, : len(s)] = 1
        adv[i, : len(s)] = r["advantages"][i]
    bias = (1 - mask) * -1e9  # the trainer's MASKED_KEY_BIAS on padded keys
    return r, n, ids, pos, bias, responses, rmask, adv


def _logp_entropy(model, ids, pos, bias, responses, P, temperature):
    """log p and entropy of each response token at the position before it (veRL's [:, -R-1:-1])."""
    h = model.forward(ids, pos, key_bias=bias, return_hidden=True)[:, P - 1 : -1]
    logits = F.linear(h, model.w["lm_head.weight"]) / temperature
    lp_all = torch.log_softmax(logits, dim=-1)
    logp = lp_all.gather(-1, responses[..., None])[..., 0]
    entropy = -(lp_all.exp() * lp_all).sum(-1)
    return logp, entropy


def cmd_rl_step(args):
    r, n, ids, pos, bias, responses, rmask, adv = _rl_batch(args.batch, args.rows)
    P, T, a = r["promptLength"], r["temperature"], r["actor"]
    mini = min(n, a["ppoMiniBatchSize"] * r["n"])
    micro = min(n, (a["ppoMicroBatchSize"] or a["ppoMiniBatchSize"]) * r["n"])  # null: the whole mini-batch
    lp_rows = min(n, r["logProbMicroBatchSize"] or n)
    clip = a["clipRatio"]
    if a["lossAggMode"] != "token-mean" or a["entropyCoeff"] != 0 or a["ppoEpochs"] != 1:
        raise SystemExit("rl-step: only token-mean, entropy_coeff 0 and one PPO epoch are written here")

    def once():
        model = Qwen2(args.model, requires_grad=True)
        opt = torch.optim.AdamW(model.parameters(), lr=a["lr"], betas=tuple(a["betas"]), weight_decay=a["weightDecay"])
        t0 = time.perf_counter()
        with torch.no_grad():
            old = torch.cat([_logp_entropy(model, ids[s : s + lp_rows], pos[s : s + lp_rows], bias[s : s + lp_rows],
                                           responses[s : s + lp_rows], P, T)[0] for s in range(0, n, lp_rows)])
        t1 = time.perf_counter()
        for m0 in range(0, n, mini):
            tokens = rmask[m0 : m0 + mini].sum()
            opt.zero_grad(set_to_none=False)
            for s in range(m0, min(m0 + mini, n), micro):
                e = min(s + micro, m0 + mini, n)
                logp, _ = _logp_entropy(model, ids[s:e], pos[s:e], bias[s:e], responses[s:e], P, T)
                ratio = torch.exp(logp - old[s:e])
                loss1 = -adv[s:e] * ratio
                loss2 = -adv[s:e] * torch.clamp(ratio, 1 - clip, 1 + clip)
                loss = (torch.maximum(loss1, loss2) * rmask[s:e]).sum() / tokens
                loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), a["gradClip"])
            opt.step()
        t2 = time.perf_counter()
        sums = (old * rmask).sum(-1)
        diff = (sums.double() - torch.tensor(r["oldLogProbSums"][:n], dtype=torch.float64)).abs().max().item()
        return t1 - t0, t2 - t1, diff

    # No separate warm-up: a replay takes seconds, and the best of the rounds leaves out a slow first one.
    best_old, best_update, diff = math.inf, math.inf, 0.0
    for _ in range(args.rounds):
        o, u, d = once()
        best_old, best_update, diff = min(best_old, o), min(best_update, u), max(diff, d)
    return {"rows": n, "oldLogProbSeconds": best_old, "updateSeconds": best_update, "oldLogProbMaxAbsDiff": diff}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["info", "greedy", "decode", "decode-loop", "train", "rl-step"])
    ap.add_argument("--model")
    ap.add_argument("--threads", type=int)
    ap.add_argument("--prompt-ids")
    ap.add_argument("--max-new-tokens", type=int, default=8)
    ap.add_argument("--batch", default="1", help="rows (decode, train) or a recorded batch file (rl-step)")
    ap.add_argument("--rows", type=int, default=0)
    ap.add_argument("--prompt-len", type=int, default=16)
    ap.add_argument("--new-tokens", type=int, default=16)
    ap.add_argument("--seq-len", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--gemv", action="store_true", help="one-row products as torch.mv (decode, decode-loop)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
        set_blas_threads(args.threads)
    if args.command != "info" and not args.model:
        ap.error(f"{args.command} needs --model DIR")
    if args.command in ("decode", "train"):
        args.batch = int(args.batch)
    commands = {"info": cmd_info, "greedy": cmd_greedy, "decode": cmd_decode, "decode-loop": cmd_decode_loop, "train": cmd_train,
                "rl-step": cmd_rl_step}
    result = commands[args.command](args)
    result["threads"] = torch.get_num_threads()
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
