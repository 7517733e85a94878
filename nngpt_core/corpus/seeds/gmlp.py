"""gMLP: token blocks gated by a spatial gating unit that mixes tokens with a learned linear map."""

import torch
import torch.nn as nn
import torch.nn.functional as F

WIDTH = 64
DEPTH = 3
GRID = 4
EXPANSION = 2
ACTIVATION = nn.GELU
NORM = nn.LayerNorm


def supported_hyperparameters():
    return {'lr', 'momentum', 'dropout'}


class SpatialGatingUnit(nn.Module):
    def __init__(self, tokens, channels):
        super().__init__()
        self.norm = NORM(channels)
        self.spatial = nn.Linear(tokens, tokens)
        nn.init.zeros_(self.spatial.weight)
        nn.init.ones_(self.spatial.bias)

    def forward(self, x):
        u, v = x.chunk(2, dim=-1)
        v = self.spatial(self.norm(v).transpose(1, 2)).transpose(1, 2)
        return u * v


class GMLPBlock(nn.Module):
    def __init__(self, tokens, channels):
        super().__init__()
        hidden = channels * EXPANSION
        self.norm = NORM(channels)
        self.expand = nn.Linear(channels, hidden * 2)
        self.act = ACTIVATION()
        self.gate = SpatialGatingUnit(tokens, hidden)
        self.project = nn.Linear(hidden, channels)

    def forward(self, x):
        return x + self.project(self.gate(self.act(self.expand(self.norm(x)))))


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        in_channels = in_shape[1]
        num_classes = out_shape[0]
        patch = max(1, min(in_shape[2], in_shape[3]) // GRID)
        tokens = (in_shape[2] // patch) * (in_shape[3] // patch)
        channels = WIDTH
        self.stem = nn.Conv2d(in_channels, channels, patch, patch)
        self.body = nn.Sequential(*[GMLPBlock(tokens, channels) for index in range(DEPTH)])
        self.norm = NORM(channels)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(prm['dropout']), nn.Linear(tokens * channels, num_classes))

    def forward(self, x):
        x = self.stem(x).flatten(2).transpose(1, 2)
        x = self.norm(self.body(x))
        return self.head(x)

    def train_setup(self, prm):
        self.to(self.device)
        self.criteria = nn.CrossEntropyLoss().to(self.device)
        self.optimizer = torch.optim.SGD(self.parameters(), lr=prm['lr'], momentum=prm['momentum'])

    def learn(self, train_data):
        self.train()
        for inputs, labels in train_data:
            inputs, labels = inputs.to(self.device), labels.to(self.device)
            self.optimizer.zero_grad()
            loss = self.criteria(self(inputs), labels)
            loss.backward()
            nn.utils.clip_grad_norm_(self.parameters(), 3)
            self.optimizer.step()
