#!/usr/bin/env python3
"""Train talkie-tiny-1930: pretraining on the corpus, then a short instruction tuning.

Runs on Debian torch 1.13 (CPU: /usr/bin/python3) and torch 2.x on CUDA (bf16 autocast,
float32 master weights, SDPA attention).  Both phases are time-boxed by wall clock.

  python3 tools/train/train.py --data tools/work/data/tokens.npz --out DIR \
      [--pretrain-seconds 300 --it-seconds 90 --batch 128 --seq 512 --long-frac 0.25]

Writes to --out: model.safetensors (bf16, HF names), config.json, train_log.jsonl,
ckpt.safetensors (bf16, refreshed every --ckpt-seconds), summary.json.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import talkie_model as T  # noqa: E402

SRC_WEIGHTS = {"webster": 0.72, "kjv": 0.25, "devil": 0.03}


def log(fh, **kv):
    kv["t"] = round(time.time() - T0, 2)
    line = json.dumps(kv)
    print(line, flush=True)
    fh.write(line + "\n")
    fh.flush()


class Windows:
    def __init__(self, arrays, prefix, weights, gen, dev):
        self.streams = [torch.from_numpy(arrays["%s_%s" % (prefix, s)].astype(np.int64)).to(dev) for s in weights]
        self.p = torch.tensor([weights[s] for s in weights], dtype=torch.float64)
        self.gen, self.dev = gen, dev

    def batch(self, B, S):
        src = torch.multinomial(self.p, B, replacement=True, generator=self.gen)
        ar = torch.arange(S + 1, device=self.dev)
        rows = []
        for j, a in enumerate(self.streams):
            k = int((src == j).sum())
            if k:
                o = torch.randint(0, len(a) - S - 1, (k,), generator=self.gen).to(self.dev)
                rows.append(a[o[:, None] + ar[None, :]])
        x = torch.cat(rows)
        return x[:, :-1], x[:, 1:]


class ITData:
    def __init__(self, arrays, split, pad, gen, L=160):
        self.ids = torch.from_numpy(arrays["it_%s_ids" % split].astype(np.int64))
        self.offs = arrays["it_%s_offs" % split]
        self.plen = arrays["it_%s_plen" % split]
        self.n, self.pad, self.gen, self.L = len(self.plen), pad, gen, L

    def make(self, idx):
        B, L = len(idx), self.L
        x = torch.full((B, L + 1), self.pad, dtype=torch.int64)
        m = torch.zeros((B, L), dtype=torch.bool)
        for r, i in enumerate(idx):
            s, e = int(self.offs[i]), int(self.offs[i + 1])
            n = min(e - s, L + 1)
            x[r, :n] = self.ids[s:s + n]
            m[r, int(self.plen[i]) - 1:n - 1] = True        # predict answer tokens and the final <|end|>
        return x[:, :-1], x[:, 1:], m

    def batch(self, B):
        return self.make(torch.randint(0, self.n, (B,), generator=self.gen).tolist())


def lm_loss(model, x, y, mask=None, amp=None):
    with amp():
        logits = model(x, fast=True)
    l = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="none")
    if mask is None:
        return l.mean()
    m = mask.reshape(-1).float()
    return (l * m).sum() / m.sum().clamp(min=1)


@torch.no_grad()
def evaluate(model, arrays, dev, amp, S, max_windows, it_eval, it_n=512):
    model.eval()
    tot, cnt, per = 0.0, 0, {}
    for s in SRC_WEIGHTS:
        a = torch.from_numpy(arrays["heldout_%s" % s].astype(np.int64))
        nw = min((len(a) - 1) // S, max_windows)
        if nw == 0:
            continue
        xs = torch.stack([a[i * S:i * S + S] for i in range(nw)])
        ys = torch.stack([a[i * S + 1:i * S + S + 1] for i in range(nw)])
        st, sc = 0.0, 0
        for j in range(0, nw, 32):
            x, y = xs[j:j + 32].to(dev), ys[j:j + 32].to(dev)
            with amp():
                lg = model(x, fast=True)
            st += F.cross_entropy(lg.float().reshape(-1, lg.shape[-1]), y.reshape(-1), reduction="sum").item()
            sc += y.numel()
        per[s] = st / sc
        tot += st
        cnt += sc
    idx = list(range(min(it_eval.n, it_n)))
    x, y, m = it_eval.make(idx)
    itl = lm_loss(model, x.to(dev), y.to(dev), m.to(dev), amp).item()
    model.train()
    return tot / cnt, per, itl


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="tools/work/data/tokens.npz")
    ap.add_argument("--out", default="tools/work/run")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--n-embd", type=int, default=256)
    ap.add_argument("--n-layer", type=int, default=6)
    ap.add_argument("--n-head", type=int, default=4)
    ap.add_argument("--head-dim", type=int, default=64)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--long-seq", type=int, default=2048)
    ap.add_argument("--long-frac", type=float, default=0.25, help="last fraction of pretraining time at --long-seq")
    ap.add_argument("--batch", type=int, default=128, help="sequences of --seq per step (long phase keeps tokens/step)")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--pretrain-seconds", type=float, default=300)
    ap.add_argument("--it-seconds", type=float, default=90)
    ap.add_argument("--it-batch", type=int, default=256)
    ap.add_argument("--it-mix-batch", type=int, default=32, help="pretraining windows mixed into each IT step")
    ap.add_argument("--it-lr", type=float, default=1e-3)
    ap.add_argument("--eval-every", type=float, default=30, help="seconds")
    ap.add_argument("--eval-windows", type=int, default=64)
    ap.add_argument("--it-eval-n", type=int, default=512, help="held-out IT examples per eval")
    ap.add_argument("--ckpt-seconds", type=float, default=120)
    ap.add_argument("--max-steps", type=int, default=0, help="debug: cap steps per phase")
    ap.add_argument("--seed", type=int, default=1930)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    global T0
    T0 = time.time()
    torch.manual_seed(args.seed)
    dev = torch.device(args.device)
    if dev.type == "cpu":
        torch.set_num_threads(args.threads)
    else:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    os.makedirs(args.out, exist_ok=True)
    fh = open(os.path.join(args.out, "train_log.jsonl"), "a")
    arrays = dict(np.load(args.data))
    R = int(arrays["meta_ranks"][0])
    V = R + 5
    eot, end = R, R + 1
    gen = torch.Generator().manual_seed(args.seed)
    train = Windows(arrays, "train", SRC_WEIGHTS, gen, dev)
    it_train = ITData(arrays, "train", eot, gen)
    it_eval = ITData(arrays, "heldout", eot, gen)

    model = T.Talkie(V, args.n_embd, args.n_layer, args.n_head, args.head_dim, 2048).to(dev)
    nparam = sum(p.numel() for p in model.parameters())
    cfg = model.hf_config(eos_token_id=eot)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    log(fh, event="start", device=str(dev), torch=torch.__version__, params=nparam, ranks=R, vocab=V,
        gpu=torch.cuda.get_device_name(0) if dev.type == "cuda" else None, args=vars(args))

    if dev.type == "cuda":
        def amp():
            return torch.autocast("cuda", dtype=torch.bfloat16)
    else:
        class _N:
            def __enter__(self):
                return None

            def __exit__(self, *a):
                return False

        def amp():
            return _N()

    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (decay if p.dim() == 2 and "embed" not in n else no_decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.wd},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8)

    def save(name):
        T.save_bf16_model(model, os.path.join(args.out, name))

    # ------------------------------------------------------------------ pretraining
    t_start = time.time()
    last_eval = last_ckpt = t_start
    best = (float("inf"), None, -1)
    step, tokens = 0, 0
    ema = None
    while True:
        el = time.time() - t_start
        if el >= args.pretrain_seconds or (args.max_steps and step >= args.max_steps):
            break
        frac = el / args.pretrain_seconds
        lr = args.lr * min(1.0, (step + 1) / args.warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        if frac >= 1 - args.long_frac and args.long_seq > args.seq:
            S, B = args.long_seq, max(1, args.batch * args.seq // args.long_seq)
        else:
            S, B = args.seq, args.batch
        x, y = train.batch(B, S)
        loss = lm_loss(model, x.to(dev, non_blocking=True), y.to(dev, non_blocking=True), None, amp)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        tokens += B * S
        if step % 50 == 0 or step <= 3:
            lv = loss.item()
            ema = lv if ema is None else 0.9 * ema + 0.1 * lv
            log(fh, phase="pretrain", step=step, loss=round(lv, 4), lr=round(lr, 6), seq=S,
                tokens=tokens, tok_per_s=round(tokens / max(1e-9, time.time() - t_start)))
        now = time.time()
        if now - last_eval >= args.eval_every:
            hl, per, itl = evaluate(model, arrays, dev, amp, args.seq, args.eval_windows, it_eval, args.it_eval_n)
            log(fh, phase="eval", step=step, heldout_loss=round(hl, 4), per_source={k: round(v, 4) for k, v in per.items()},
                it_heldout_loss=round(itl, 4))
            if hl < best[0]:
                best = (hl, {k: v.detach().clone() for k, v in model.state_dict().items()}, step)
            last_eval = time.time()
        if now - last_ckpt >= args.ckpt_seconds:
            save("ckpt.safetensors")
            last_ckpt = time.time()
    hl, per, itl = evaluate(model, arrays, dev, amp, args.seq, args.eval_windows, it_eval, args.it_eval_n)
    log(fh, phase="eval", step=step, heldout_loss=round(hl, 4), per_source={k: round(v, 4) for k, v in per.items()},
        it_heldout_loss=round(itl, 4), note="end of pretraining")
    pre_summary = {"steps": step, "tokens": tokens, "seconds": round(time.time() - t_start, 1),
                   "heldout_loss": hl, "per_source": per, "it_heldout_loss_before_it": itl}
    if best[1] is not None and best[0] < hl - 0.01:
        model.load_state_dict(best[1])
        log(fh, event="restore_best", step=best[2], heldout_loss=best[0])
        pre_summary["restored_best_step"] = best[2]
    save("ckpt.safetensors")

    # ------------------------------------------------------------------ instruction tuning
    t_it = time.time()
    it_step = 0
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.wd},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.it_lr, betas=(0.9, 0.95), eps=1e-8)
    while True:
        el = time.time() - t_it
        if el >= args.it_seconds or (args.max_steps and it_step >= args.max_steps):
            break
        frac = el / args.it_seconds
        lr = args.it_lr * min(1.0, (it_step + 1) / 50) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        xi, yi, mi = it_train.batch(args.it_batch)
        xp, yp = train.batch(args.it_mix_batch, args.seq)
        l_it = lm_loss(model, xi.to(dev), yi.to(dev), mi.to(dev), amp)
        l_pt = lm_loss(model, xp.to(dev), yp.to(dev), None, amp)
        loss = l_it + 0.5 * l_pt
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        it_step += 1
        if it_step % 25 == 0 or it_step <= 3:
            log(fh, phase="it", step=it_step, it_loss=round(l_it.item(), 4), pt_loss=round(l_pt.item(), 4), lr=round(lr, 6))
    hl2, per2, itl2 = evaluate(model, arrays, dev, amp, args.seq, args.eval_windows, it_eval, args.it_eval_n)
    log(fh, phase="eval", step=it_step, heldout_loss=round(hl2, 4), per_source={k: round(v, 4) for k, v in per2.items()},
        it_heldout_loss=round(itl2, 4), note="end of IT")
    save("model.safetensors")
    summary = {"params": nparam, "device": str(dev),
               "gpu": torch.cuda.get_device_name(0) if dev.type == "cuda" else None,
               "torch": torch.__version__, "pretrain": pre_summary,
               "it": {"steps": it_step, "seconds": round(time.time() - t_it, 1), "heldout_loss": hl2,
                      "per_source": per2, "it_heldout_loss": itl2},
               "total_seconds": round(time.time() - T0, 1), "args": vars(args)}
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    log(fh, event="done", total_seconds=summary["total_seconds"])


if __name__ == "__main__":
    main()
