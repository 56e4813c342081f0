"""The torch.nn modules of the import side (needs torch; imported lazily by
torch_bridge). Module-level so that torch.jit.script can read their source."""

from typing import List

import torch
from torch import nn


class Cube(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * x * x


class Square(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * x


class Sin(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(x)


class ODEFunc(nn.Module):
    """torchdiffeq's vector field: forward(t, y) on the solved state
    [y; augmentation]; with time_input, t is appended as the last input."""

    def __init__(self, net: nn.Sequential, time_input: bool, state_dim: int, augment_dim: int):
        super().__init__()
        self.net = net
        self.time_input = time_input
        self.state_dim = state_dim
        self.augment_dim = augment_dim

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.time_input:
            tt = torch.ones_like(y[..., :1]) * t
            y = torch.cat([y, tt], dim=-1)
        return self.net(y)


class CDEFunc(nn.Module):
    """torchcde's vector field: forward(t, z) -> the hidden x input matrix."""

    def __init__(self, net: nn.Sequential, hidden: int, channels: int):
        super().__init__()
        self.net = net
        self.hidden = hidden
        self.channels = channels

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        shape: List[int] = list(z.shape[:-1]) + [self.hidden, self.channels]
        return self.net(z).view(shape)


class Diffusion(nn.Module):
    """torchsde's g(t, y): h (+ t) -> the state's noise, or t alone for
    additive noise; with general noise a state x brownian matrix."""

    def __init__(self, net: nn.Sequential, time_input: bool, additive: bool, state_dim: int,
                 brownian_dim: int):
        super().__init__()
        self.net = net
        self.time_input = time_input
        self.additive = additive
        self.state_dim = state_dim
        self.brownian_dim = brownian_dim

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.additive:
            x = torch.ones_like(y[..., :1]) * t
        elif self.time_input:
            x = torch.cat([y, torch.ones_like(y[..., :1]) * t], dim=-1)
        else:
            x = y
        out = self.net(x)
        if self.brownian_dim > 0:
            shape: List[int] = list(y.shape[:-1]) + [self.state_dim, self.brownian_dim]
            out = out.view(shape)
        return out
