"""Generate kto_orpo_cpo_torch.json: KTO, ORPO and CPO losses evaluated by PyTorch.

Run with Debian's PyTorch:  /usr/bin/python3 gen_kto_orpo_cpo.py
Written from the papers and TRL's trainers, independently of the Go code:

KTO (Ethayarajh et al. 2024; trl/trainer/kto_trainer.py, kto_loss): summed
log-probs; kl = mean(policy_KL - reference_KL).detach().clamp(min=0) over
mismatched prompt/completion pairs; desirable rows lose
1 - sigmoid(beta*(r - kl)), undesirable 1 - sigmoid(beta*(kl - r));
apo_zero_unpaired: 1 - sigmoid(beta*r) and sigmoid(beta*r) with no kl;
losses weighted by desirable_weight / undesirable_weight, then the mean over
all rows. Metrics: rewards/logps means over each kind of row, kl.

ORPO (Hong et al. 2024; trl/trainer/orpo_trainer.py, odds_ratio_loss):
per-token mean log-probs a; log_odds = (a_c - a_r) - (log(1-exp(a_c)) -
log(1-exp(a_r))); loss = nll - beta*mean(logsigmoid(log_odds)), nll the
token-mean cross-entropy over all chosen tokens. log(1 - exp(a)) is
computed here as log(-expm1(a)) near 0 and log1p(-exp(a)) below -ln 2, the
same function as TRL's log1p(-exp(a)) but exact for a near 0 (one case has
a = -1e-12, where 1 - exp(a) in float64 is off by ~1e-4 relative).

CPO (Xu et al. 2024; trl/trainer/cpo_trainer.py, cpo_loss): logits =
chosen - rejected (per-token means for ipo and simpo, sums otherwise);
simpo subtracts gamma/beta; sigmoid (label-smoothed), hinge, ipo as DPO;
loss = mean(losses) + cpo_alpha * nll.

Gradients are autograd's with respect to the SUMMED policy log-probs, in float64.
"""
import json
import math

import torch
import torch.nn.functional as F

torch.manual_seed(11)
D = torch.float64


def kto_case(loss_type, beta, wd, wu, labels, kl_shift=0.0, M=None):
    N = len(labels)
    lab = torch.tensor(labels)
    pol = (torch.randn(N, dtype=D) * 5 - 30).requires_grad_()
    ref = torch.randn(N, dtype=D) * 5 - 30
    M = M or N
    pkl = (torch.randn(M, dtype=D) * 3 - 40 + kl_shift).requires_grad_()
    rkl = torch.randn(M, dtype=D) * 3 - 40
    if loss_type == "kto":
        kl = (pkl - rkl).mean().detach().clamp(min=0)
    else:
        kl = torch.zeros((), dtype=D)
    r = pol - ref
    rc, rr = r[lab], r[~lab]
    if loss_type == "kto":
        cl = 1 - torch.sigmoid(beta * (rc - kl))
        rl = 1 - torch.sigmoid(beta * (kl - rr))
    else:
        cl = 1 - torch.sigmoid(beta * rc)
        rl = torch.sigmoid(beta * rr)
    losses = torch.cat((wd * cl, wu * rl), 0)
    loss = losses.mean()
    loss.backward()
    m = {"kl": kl.item(), "count/chosen": float(lab.sum()), "count/rejected": float((~lab).sum())}
    if lab.any():
        m["rewards/chosen"] = (beta * rc).mean().item()
        m["logps/chosen"] = pol[lab].mean().item()
    if (~lab).any():
        m["rewards/rejected"] = (beta * rr).mean().item()
        m["logps/rejected"] = pol[~lab].mean().item()
    return dict(kind="kto", loss_type=loss_type, beta=beta, desirable_weight=wd, undesirable_weight=wu,
                policy=pol.tolist(), ref=ref.tolist(), desirable=labels,
                policy_kl=pkl.tolist(), ref_kl=rkl.tolist(), loss=loss.item(), grad=pol.grad.tolist(),
                kl_grad_is_zero=(pkl.grad is None), metrics=m)


def log1mexp(x):
    return torch.where(x > -math.log(2), torch.log(-torch.expm1(x)), torch.log1p(-torch.exp(x)))


def pairs(B, mean=-1.0):
    nc = torch.randint(2, 20, (B,))
    nr = torch.randint(2, 20, (B,))
    pc = (nc * (torch.rand(B, dtype=D) * 2 * mean)).requires_grad_()
    pr = (nr * (torch.rand(B, dtype=D) * 2 * mean - 0.3)).requires_grad_()
    return pc, pr, nc, nr


def orpo_case(beta, B=5, near_zero=False):
    pc, pr, nc, nr = pairs(B)
    if near_zero:
        with torch.no_grad():
            nc[0] = 3
            pc[0] = -3e-12
    ac, ar = pc / nc, pr / nr
    lo = (ac - ar) - (log1mexp(ac) - log1mexp(ar))
    ratio = F.logsigmoid(lo)
    nll = -pc.sum() / nc.sum()
    loss = nll - (beta * ratio).mean()
    loss.backward()
    cr, rj = beta * ac.detach(), beta * ar.detach()
    m = {"rewards/chosen": cr.mean().item(), "rewards/rejected": rj.mean().item(),
         "rewards/accuracies": (cr > rj).double().mean().item(), "rewards/margins": (cr - rj).mean().item(),
         "logps/chosen": ac.mean().item(), "logps/rejected": ar.mean().item(), "nll_loss": nll.item(),
         "log_odds_ratio": ratio.mean().item(), "log_odds_chosen": lo.mean().item()}
    return dict(kind="orpo", beta=beta, policy_chosen=pc.tolist(), policy_rejected=pr.tolist(),
                chosen_tokens=nc.tolist(), rejected_tokens=nr.tolist(), loss=loss.item(),
                grad_chosen=pc.grad.tolist(), grad_rejected=pr.grad.tolist(), metrics=m)


def cpo_case(loss_type, beta, alpha, ls=0.0, gamma=0.5, B=5):
    pc, pr, nc, nr = pairs(B)
    lc, lr_ = pc, pr
    if loss_type in ("ipo", "simpo"):
        lc, lr_ = pc / nc, pr / nr
    logits = lc - lr_
    if loss_type == "simpo":
        logits = logits - gamma / beta
    if loss_type in ("sigmoid", "simpo"):
        losses = -F.logsigmoid(beta * logits) * (1 - ls) - F.logsigmoid(-beta * logits) * ls
    elif loss_type == "hinge":
        losses = torch.relu(1 - beta * logits)
    elif loss_type == "ipo":
        losses = (logits - 1 / (2 * beta)) ** 2
    nll = -pc.sum() / nc.sum()
    loss = losses.mean() + alpha * nll
    loss.backward()
    cr, rj = beta * lc.detach(), beta * lr_.detach()
    m = {"rewards/chosen": cr.mean().item(), "rewards/rejected": rj.mean().item(),
         "rewards/accuracies": (cr > rj).double().mean().item(), "rewards/margins": (cr - rj).mean().item(),
         "logps/chosen": lc.detach().mean().item(), "logps/rejected": lr_.detach().mean().item()}
    if alpha:
        m["nll_loss"] = nll.item()
    return dict(kind="cpo", loss_type=loss_type, beta=beta, cpo_alpha=alpha, label_smoothing=ls, simpo_gamma=gamma,
                policy_chosen=pc.tolist(), policy_rejected=pr.tolist(),
                chosen_tokens=nc.tolist(), rejected_tokens=nr.tolist(), loss=loss.item(),
                grad_chosen=pc.grad.tolist(), grad_rejected=pr.grad.tolist(), metrics=m)


T, F_ = True, False
cases = [
    kto_case("kto", 0.1, 1.0, 1.0, [T, F_, T, T, F_, F_], kl_shift=4.0),
    kto_case("kto", 0.5, 1.33, 0.7, [T, T, F_, T, F_, T, F_], kl_shift=5.0, M=5),
    # the mismatched pairs score below the reference on average: z0 clamps at 0
    kto_case("kto", 0.2, 1.0, 1.5, [T, F_, F_, T, F_], kl_shift=-6.0),
    kto_case("kto", 1.0, 1.0, 1.0, [T, T, T], kl_shift=3.0),
    kto_case("apo_zero_unpaired", 0.2, 1.0, 1.0, [T, F_, T, F_, F_]),
    kto_case("apo_zero_unpaired", 0.05, 0.8, 1.2, [F_, F_, T, F_]),
    orpo_case(0.1),
    orpo_case(0.5),
    orpo_case(1.0, near_zero=True),
    cpo_case("sigmoid", 0.1, 1.0),
    cpo_case("sigmoid", 0.5, 0.5, ls=0.1),
    cpo_case("hinge", 0.3, 1.0),
    cpo_case("ipo", 0.2, 1.0),
    cpo_case("simpo", 2.0, 0.0, gamma=0.5),
    cpo_case("simpo", 2.5, 1.0, ls=0.1, gamma=1.0),
]
for c in cases:
    if c["kind"] == "kto":
        assert c["kl_grad_is_zero"]
        del c["kl_grad_is_zero"]
with open("kto_orpo_cpo_torch.json", "w") as f:
    json.dump({"torch_version": torch.__version__, "cases": cases}, f, indent=1)
    f.write("\n")
