"""Generate pref_torch.json: TRL-formula preference losses evaluated by PyTorch.

Run with Debian's PyTorch:  /usr/bin/python3 gen_pref.py
Each case holds the inputs, the loss, autograd gradients with respect to the
summed policy log-probs (or the rewards, for Bradley-Terry) and TRL's metrics.
The formulas follow trl/trainer/dpo_trainer.py (sigmoid, robust, hinge, ipo;
ipo divides the summed log-probs by the response lengths; rpo_alpha adds the
chosen-token NLL), trl/trainer/cpo_trainer.py (simpo) and
trl/trainer/reward_trainer.py (Bradley-Terry with margin and
center_rewards_coefficient). Computed in float64.
"""
import json

import torch
import torch.nn.functional as F

torch.manual_seed(7)
D = torch.float64


def dpo_case(loss_type, beta, ls=0.0, gamma=0.0, rpo=0.0, B=5):
    pc = (torch.randn(B, dtype=D) * 5 - 30).requires_grad_()
    pr = (torch.randn(B, dtype=D) * 5 - 32).requires_grad_()
    rc = torch.randn(B, dtype=D) * 5 - 31
    rr = torch.randn(B, dtype=D) * 5 - 31
    nc = torch.randint(3, 20, (B,))
    nr = torch.randint(3, 20, (B,))
    lc, lr_, rcn, rrn = pc, pr, rc, rr
    if loss_type in ("ipo", "simpo"):
        lc, lr_ = pc / nc, pr / nr
        rcn, rrn = rc / nc, rr / nr
    if loss_type == "simpo":
        logits = (lc - lr_) - gamma / beta
        losses = -F.logsigmoid(beta * logits) * (1 - ls) - F.logsigmoid(-beta * logits) * ls
        cr, rj = beta * lc.detach(), beta * lr_.detach()
    else:
        logits = (lc - lr_) - (rcn - rrn)
        if loss_type == "sigmoid":
            losses = -F.logsigmoid(beta * logits) * (1 - ls) - F.logsigmoid(-beta * logits) * ls
        elif loss_type == "robust":
            losses = (-F.logsigmoid(beta * logits) * (1 - ls) + F.logsigmoid(-beta * logits) * ls) / (1 - 2 * ls)
        elif loss_type == "hinge":
            losses = torch.relu(1 - beta * logits)
        elif loss_type == "ipo":
            losses = (logits - 1 / (2 * beta)) ** 2
        cr = beta * (lc - rcn).detach()
        rj = beta * (lr_ - rrn).detach()
    loss = losses.mean()
    metrics = {
        "rewards/chosen": cr.mean().item(),
        "rewards/rejected": rj.mean().item(),
        "rewards/accuracies": (cr > rj).double().mean().item(),
        "rewards/margins": (cr - rj).mean().item(),
        "logps/chosen": lc.detach().mean().item(),
        "logps/rejected": lr_.detach().mean().item(),
    }
    if rpo:
        nll = -pc.sum() / nc.sum()  # token-mean cross-entropy over chosen tokens
        loss = loss + rpo * nll
        metrics["nll_loss"] = nll.item()
    loss.backward()
    return dict(
        kind="dpo", loss_type=loss_type, beta=beta, label_smoothing=ls, simpo_gamma=gamma, rpo_alpha=rpo,
        policy_chosen=pc.tolist(), policy_rejected=pr.tolist(), ref_chosen=rc.tolist(), ref_rejected=rr.tolist(),
        chosen_tokens=nc.tolist(), rejected_tokens=nr.tolist(),
        loss=loss.item(), grad_chosen=pc.grad.tolist(), grad_rejected=pr.grad.tolist(), metrics=metrics,
    )


def bt_case(coef, with_margin, B=6):
    c = torch.randn(B, dtype=D).requires_grad_()
    r = torch.randn(B, dtype=D).requires_grad_()
    m = torch.rand(B, dtype=D) if with_margin else None
    d = c - r - (m if m is not None else 0)
    loss = -F.logsigmoid(d).mean()
    if coef:
        loss = loss + coef * torch.mean((c + r) ** 2)
    loss.backward()
    return dict(
        kind="bt", center_coef=coef, chosen=c.tolist(), rejected=r.tolist(),
        margin=(m.tolist() if m is not None else None), loss=loss.item(),
        grad_chosen=c.grad.tolist(), grad_rejected=r.grad.tolist(),
        metrics={"accuracy": (c > r).double().mean().item(), "margin": (c - r).mean().item()},
    )


cases = [
    dpo_case("sigmoid", 0.1),
    dpo_case("sigmoid", 0.5, ls=0.2),
    dpo_case("sigmoid", 0.1, rpo=1.0),
    dpo_case("robust", 0.2, ls=0.1),
    dpo_case("hinge", 0.3),
    dpo_case("ipo", 0.1),
    dpo_case("ipo", 0.5, rpo=0.3),
    dpo_case("simpo", 2.0, gamma=1.0),
    dpo_case("simpo", 2.5, gamma=1.4, ls=0.1),
    bt_case(0.0, False),
    bt_case(0.01, True),
]
with open("pref_torch.json", "w") as f:
    json.dump({"torch_version": torch.__version__, "cases": cases}, f, indent=1)
    f.write("\n")
