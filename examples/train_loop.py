"""A training loop written directly against the building blocks (no Forecaster).

An LSTM reads 24 months of the (log, window-normalised) airline series and a
linear head on its last hidden state predicts the next 12 months. Every step is
spelled out: forward through the LSTM and the head, the loss and its gradient,
zero_grad, backward through the head and BPTT through the LSTM, global-norm
clipping, an AdamW step; a cosine schedule per epoch; the hold-out year is
scored against seasonal naive at the end.

Run: python examples/train_loop.py
"""

from __future__ import annotations

import time

import numpy as np
from fastlstm.baselines import seasonal_naive
from fastlstm.metrics import mape

from fastlstm.forecast.datasets import load_airpassengers
from fastlstm.forecast.windows import make_windows
from fastlstm.nn import Linear
from fastlstm.nn.losses import MSELoss
from fastlstm.nn.lstm import LSTM
from fastlstm.train.optim import AdamW, clip_grad_norm
from fastlstm.train.schedules import CosineAnnealingLR

LOOKBACK, HORIZON, HIDDEN = 24, 12, 32
EPOCHS, BATCH, SEED = 150, 16, 0


def main() -> None:
    y = load_airpassengers()
    train, test = y[:-HORIZON], y[-HORIZON:]

    # data: log scale, each window relative to its own mean level, one global scale
    z = np.log(train)
    w = make_windows(z, LOOKBACK, HORIZON)  # views, no copies
    past, future = w.past[:, :, 0], w.future[:, :, 0]
    level = past.mean(axis=1, keepdims=True)
    scale = (past - level).std()
    x = ((past - level) / scale)[:, :, None].astype(np.float32)  # [N, T, 1]
    target = ((future - level) / scale).astype(np.float32)  # [N, HORIZON]

    # model: the layer and the head, and one parameter list for the optimiser
    lstm = LSTM(1, HIDDEN, batch_first=True, seed=SEED)
    head = Linear(HIDDEN, HORIZON, seed=SEED + 1)
    params = lstm.parameters() + head.parameters()
    loss_fn = MSELoss()
    opt = AdamW(params, lr=1e-2, weight_decay=0.0)
    sched = CosineAnnealingLR(opt, T_max=EPOCHS, eta_min=1e-4)
    rng = np.random.default_rng(SEED)

    t0 = time.perf_counter()
    for epoch in range(EPOCHS):
        order = rng.permutation(len(x))
        total = 0.0
        for s in range(0, len(x), BATCH):
            idx = order[s : s + BATCH]
            out, (h_n, c_n) = lstm.forward(x[idx])  # forward
            pred = head.forward(h_n[-1])  # last hidden state of the top layer
            loss = loss_fn.forward(pred, target[idx])
            for p in params:  # zero_grad
                p.zero_grad()
            d_h = head.backward(loss_fn.backward())  # backward: head ...
            d_h_n = np.zeros_like(h_n)
            d_h_n[-1] = d_h
            lstm.backward(None, d_h_n)  # ... then BPTT through the LSTM
            clip_grad_norm(params, 1.0)  # clip
            opt.step()  # step
            total += loss * len(idx)
        sched.step()
        if epoch % 30 == 0 or epoch == EPOCHS - 1:
            print(f"epoch {epoch:3d}  loss {total / len(x):.5f}  lr {opt.lr:.2e}")
    print(f"trained in {time.perf_counter() - t0:.1f} s")

    # forecast the hold-out year from the last LOOKBACK months
    lstm.eval()
    head.eval()
    last = z[-LOOKBACK:]
    lev = last.mean()
    _, (h_n, _) = lstm.forward((((last - lev) / scale)[None, :, None]).astype(np.float32))
    forecast = np.exp(head.forward(h_n[-1])[0] * scale + lev)
    print(
        f"hold-out MAPE: LSTM {mape(test, forecast):.2f} %, "
        f"seasonal naive {mape(test, seasonal_naive(train, HORIZON, 12)):.2f} %"
    )


if __name__ == "__main__":
    main()
