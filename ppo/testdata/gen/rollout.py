#!/usr/bin/env python3
"""Expected values for ppo's TestHandRollout*, written out with plain
Python loops (no Align code): the per-token rewards of a hand-built rollout
under TRL's PPOTrainer rules, GAE and whitening as in TRL/verl.

Rollout (T = 5, pad 0, EOS 1):
  row 0: prompt [2 3],          completion [7 1] (ends in EOS), one pad after
  row 1: prompt [4] left-padded, completion [8 9 6] (truncated, no EOS)
Run: python3 ppo/testdata/gen/rollout.py > ppo/testdata/rollout.txt
"""
import math

T = 5
mask = [[0, 0, 1, 1, 0], [0, 0, 1, 1, 1]]
logp = [[0, 0, -1.0, -0.5, 0], [0, 0, -2.0, -0.2, -1.0]]
ref = [[0, 0, -1.5, -0.25, 0], [0, 0, -1.0, -0.2, -2.0]]
values = [[0, 0, 0.5, 0.4, 0], [0, 0, 0.1, 0.2, 0.3]]
raw_scores = [0.8, 0.6]
ends_eos = [True, False]
missing_eos_penalty = 1.0
beta, gamma, lam = 0.1, 0.9, 0.8


def kl(kind, p, r):
    if kind == "k1":
        return p - r
    x = r - p  # k3: exp(ref - logp) - (ref - logp) - 1
    return math.exp(x) - x - 1


def whiten(x, shift_mean):
    vals = [x[b][t] for b in range(2) for t in range(T) if mask[b][t]]
    n = len(vals)
    mean = sum(vals) / n
    var = sum((v - mean) ** 2 for v in vals) / (n - 1)  # torch.var, unbiased
    out = [[0.0] * T for _ in range(2)]
    for b in range(2):
        for t in range(T):
            if mask[b][t]:
                out[b][t] = (x[b][t] - mean) / math.sqrt(var + 1e-8)
                if not shift_mean:
                    out[b][t] += mean
    return out


def gae(rew):
    adv = [[0.0] * T for _ in range(2)]
    ret = [[0.0] * T for _ in range(2)]
    for b in range(2):
        # Only completion tokens take part; the last one has no successor.
        pos = [t for t in range(T) if mask[b][t]]
        last, nextv = 0.0, 0.0
        for t in reversed(pos):
            delta = rew[b][t] + gamma * nextv - values[b][t]
            last = delta + gamma * lam * last
            nextv = values[b][t]
            adv[b][t] = last
            ret[b][t] = last + values[b][t]
    return adv, ret


scores = [s - (0 if e else missing_eos_penalty) for s, e in zip(raw_scores, ends_eos)]
print("scores", *scores)
for kind in ("k1", "k3"):
    rew = [[0.0] * T for _ in range(2)]
    klsum = 0.0
    for b in range(2):
        for t in range(T):
            if mask[b][t]:
                k = kl(kind, logp[b][t], ref[b][t])
                klsum += k
                rew[b][t] = -beta * k
        eos_pos = max(t for t in range(T) if mask[b][t])  # last completion token
        rew[b][eos_pos] += scores[b]
    print(kind, "objective/kl", klsum / 2)
    print(kind, "rewards", *[v for r in rew for v in r])
    for wr in (False, True):
        r2 = whiten(rew, False) if wr else rew
        adv, ret = gae(r2)
        print(kind, "whiten_rewards" if wr else "raw", "returns", *[v for r in ret for v in r])
        print(kind, "whiten_rewards" if wr else "raw", "advantages", *[v for r in whiten(adv, True) for v in r])
